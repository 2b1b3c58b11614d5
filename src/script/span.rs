//! Source positions: where a token, a statement or an error sits in a script.

/// A region of a script's source text.
///
/// `offset` and `len` are byte counts; `line` and `column` are 0-based (column counts
/// characters), and are printed 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Span {
    /// Byte offset of the first byte.
    pub offset: usize,
    /// Length in bytes (0 for a point, e.g. "end of input").
    pub len: usize,
    /// 0-based line of the first byte.
    pub line: usize,
    /// 0-based column (in characters) of the first byte.
    pub column: usize,
}

impl Span {
    /// The byte range this span covers.
    pub(crate) fn range(&self) -> std::ops::Range<usize> {
        self.offset..self.offset + self.len
    }

    /// The byte offset just past the last byte.
    pub(crate) fn end(&self) -> usize {
        self.offset + self.len
    }

    /// The span from the start of `self` to the end of `last` (which must not start
    /// before `self`).
    pub(crate) fn to(self, last: Span) -> Span {
        Span {
            len: last.end().saturating_sub(self.offset),
            ..self
        }
    }
}
