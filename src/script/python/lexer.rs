//! The Python tokenizer: a NixOS `testScript` to tokens, as CPython's tokenizer
//! splits it.
//!
//! It follows the language reference's lexical rules for the subset test scripts
//! use: logical lines end at a newline outside brackets and not after a
//! backslash; indentation opens [`TokenKind::Indent`] and closes
//! [`TokenKind::Dedent`] tokens (tabs advance to the next multiple of eight);
//! blank and comment-only lines produce nothing. Comments are not tokens but are
//! kept in [`Lexed::comments`], so that `convert` can carry them over.
//!
//! A string token covers its prefix, quotes and body; [`decode`] later turns it
//! into literal pieces and f-string holes, with Python's rules: unknown escapes keep
//! their backslash (`"\?"` is two characters), raw strings keep every backslash,
//! `{{` and `}}` are braces in f-strings. Every span is exact (byte offset, 0-based
//! line, column in characters), so errors point at the Python source.

use crate::script::diag::{DiagKind, Diagnostic};
use crate::script::span::Span;

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenKind {
    /// An identifier or a keyword (`def`, `with`, `True`, …).
    Name,
    /// A numeric literal, as written.
    Number,
    /// A string literal with its prefix and quotes; one token per literal, so
    /// `"a" "b"` is two.
    String,
    /// An operator or delimiter: `(`, `==`, `+=`, `:`, …
    Op,
    /// The end of a logical line.
    Newline,
    /// A line indented deeper than the one before.
    Indent,
    /// One indentation level closed.
    Dedent,
    /// The end of the input (always last, zero length).
    Eof,
}

/// A token and where it is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Token {
    /// What it is.
    pub(crate) kind: TokenKind,
    /// Its source text.
    pub(crate) span: Span,
}

impl Token {
    /// The token's source text.
    pub(crate) fn text<'s>(&self, src: &'s str) -> &'s str {
        &src[self.span.range()]
    }
}

/// A `# …` comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Comment {
    /// From `#` to the end of the line (line ending excluded).
    pub(crate) span: Span,
    /// Whether nothing but indentation precedes it on its line.
    pub(crate) own_line: bool,
}

/// A tokenized script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Lexed {
    /// The tokens, ending with [`TokenKind::Eof`].
    pub(crate) tokens: Vec<Token>,
    /// The comments, in source order.
    pub(crate) comments: Vec<Comment>,
}

/// A position in the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Pos {
    /// Byte offset.
    pub(crate) offset: usize,
    /// 0-based line.
    pub(crate) line: usize,
    /// 0-based column, in characters.
    pub(crate) column: usize,
}

impl Pos {
    /// The span from here to `end`.
    pub(crate) fn to(self, end: Pos) -> Span {
        Span {
            offset: self.offset,
            len: end.offset - self.offset,
            line: self.line,
            column: self.column,
        }
    }

    /// Where `span` starts.
    pub(crate) fn start_of(span: Span) -> Pos {
        Pos {
            offset: span.offset,
            line: span.line,
            column: span.column,
        }
    }
}

/// Reads the characters of `src` from a position up to a limit.
struct Cursor<'s> {
    src: &'s str,
    pos: Pos,
    end: usize,
}

impl<'s> Cursor<'s> {
    fn new(src: &'s str, pos: Pos, end: usize) -> Cursor<'s> {
        Cursor { src, pos, end }
    }

    fn rest(&self) -> &'s str {
        &self.src[self.pos.offset..self.end]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn peek_nth(&self, n: usize) -> Option<char> {
        self.rest().chars().nth(n)
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos.offset += c.len_utf8();
        if c == '\n' {
            self.pos.line += 1;
            self.pos.column = 0;
        } else {
            self.pos.column += 1;
        }
        Some(c)
    }

    fn bump_n(&mut self, n: usize) {
        for _ in 0..n {
            self.bump();
        }
    }

    fn bump_while(&mut self, pred: impl Fn(char) -> bool) {
        while self.peek().is_some_and(&pred) {
            self.bump();
        }
    }

    fn since(&self, start: Pos) -> &'s str {
        &self.src[start.offset..self.pos.offset]
    }
}

/// Operators and delimiters, longest first so that the first match is the token.
const OPERATORS: &[&str] = &[
    "**=", "//=", ">>=", "<<=", "...", "==", "!=", "<=", ">=", "->", "+=", "-=", "*=", "/=", "%=",
    "&=", "|=", "^=", "@=", "**", "//", ":=", "<<", ">>", "(", ")", "[", "]", "{", "}", ":", ",",
    ".", ";", "@", "=", "+", "-", "*", "/", "%", "<", ">", "&", "|", "^", "~",
];

/// Whether `c` may start an identifier.
pub(crate) fn is_name_start(c: char) -> bool {
    c == '_' || c.is_alphabetic()
}

/// Whether `c` may continue an identifier.
pub(crate) fn is_name_continue(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// Tokenizes a whole script.
pub(crate) fn lex(src: &str) -> Result<Lexed, Diagnostic> {
    Lexer::new(src, Pos::default(), src.len(), false).run()
}

/// Tokenizes the expression of an f-string hole, `src[start.offset..end]`, as if it
/// stood inside brackets: no newlines, indentation or comments; ends with `Eof`.
pub(crate) fn lex_expression(src: &str, start: Pos, end: usize) -> Result<Vec<Token>, Diagnostic> {
    Lexer::new(src, start, end, true)
        .run()
        .map(|lexed| lexed.tokens)
}

/// The tokenizer's state.
struct Lexer<'s> {
    cursor: Cursor<'s>,
    /// Open brackets: no newlines or indentation inside them.
    depth: usize,
    /// Widths of the open indentation levels, starting with 0.
    indents: Vec<usize>,
    /// Whether the next character starts a logical line.
    line_start: bool,
    /// Whether this is an f-string hole (always inside brackets).
    inline: bool,
    out: Lexed,
}

impl<'s> Lexer<'s> {
    fn new(src: &'s str, start: Pos, end: usize, inline: bool) -> Lexer<'s> {
        Lexer {
            cursor: Cursor::new(src, start, end),
            depth: 0,
            indents: vec![0],
            line_start: !inline,
            inline,
            out: Lexed {
                tokens: Vec::new(),
                comments: Vec::new(),
            },
        }
    }

    fn push(&mut self, kind: TokenKind, start: Pos) {
        self.out.tokens.push(Token {
            kind,
            span: start.to(self.cursor.pos),
        });
    }

    fn run(mut self) -> Result<Lexed, Diagnostic> {
        loop {
            if self.line_start && self.depth == 0 && !self.indentation()? {
                continue;
            }
            let start = self.cursor.pos;
            let Some(c) = self.cursor.peek() else { break };
            match c {
                ' ' | '\t' | '\x0c' => {
                    self.cursor.bump();
                }
                '#' if !self.inline => self.comment(false),
                '\\' if matches!(self.cursor.peek_nth(1), Some('\n' | '\r')) => {
                    self.cursor.bump();
                    self.line_ending();
                }
                '\n' | '\r' if !self.inline => {
                    self.line_ending();
                    if self.depth == 0 {
                        self.out.tokens.push(Token {
                            kind: TokenKind::Newline,
                            span: start.to(self.cursor.pos),
                        });
                        self.line_start = true;
                    }
                }
                _ if string_start(self.cursor.rest()).is_some() => {
                    self.string()?;
                    self.push(TokenKind::String, start);
                }
                _ if is_name_start(c) => {
                    self.cursor.bump_while(is_name_continue);
                    self.push(TokenKind::Name, start);
                }
                _ if c.is_ascii_digit()
                    || (c == '.'
                        && self.cursor.peek_nth(1).is_some_and(|d| d.is_ascii_digit())) =>
                {
                    self.number()?;
                    self.push(TokenKind::Number, start);
                }
                _ => {
                    let rest = self.cursor.rest();
                    let Some(op) = OPERATORS.iter().find(|op| rest.starts_with(**op)) else {
                        self.cursor.bump();
                        return Err(Diagnostic::new(
                            start.to(self.cursor.pos),
                            DiagKind::UnexpectedCharacter { character: c },
                        ));
                    };
                    match *op {
                        "(" | "[" | "{" => self.depth += 1,
                        ")" | "]" | "}" => self.depth = self.depth.saturating_sub(1),
                        _ => {}
                    }
                    self.cursor.bump_n(op.chars().count());
                    self.push(TokenKind::Op, start);
                }
            }
        }
        let end = self.cursor.pos;
        if !self.inline {
            let last = self.out.tokens.last().map(|t| t.kind);
            if !matches!(last, None | Some(TokenKind::Newline)) {
                self.push(TokenKind::Newline, end);
            }
            while self.indents.len() > 1 {
                self.indents.pop();
                self.push(TokenKind::Dedent, end);
            }
        }
        self.push(TokenKind::Eof, end);
        Ok(self.out)
    }

    /// Reads a line's indentation. Returns false if the line was blank or held only
    /// a comment (it is consumed), true once the indentation tokens are out.
    fn indentation(&mut self) -> Result<bool, Diagnostic> {
        let start = self.cursor.pos;
        let mut width = 0;
        while let Some(c) = self.cursor.peek() {
            match c {
                ' ' => width += 1,
                '\t' => width = (width / 8 + 1) * 8,
                '\x0c' => width = 0,
                _ => break,
            }
            self.cursor.bump();
        }
        match self.cursor.peek() {
            None => return Ok(true),
            Some('#') => {
                self.comment(true);
                self.line_ending();
                return Ok(false);
            }
            Some('\n' | '\r') => {
                self.line_ending();
                return Ok(false);
            }
            Some(_) => {}
        }
        self.line_start = false;
        let current = *self.indents.last().unwrap_or(&0);
        if width > current {
            self.indents.push(width);
            self.push(TokenKind::Indent, start);
        } else {
            while width < *self.indents.last().unwrap_or(&0) {
                self.indents.pop();
                self.push(TokenKind::Dedent, self.cursor.pos);
            }
            if width != *self.indents.last().unwrap_or(&0) {
                return Err(Diagnostic::new(
                    start.to(self.cursor.pos),
                    DiagKind::UnexpectedToken {
                        expected: Vec::new(),
                        found: "indentation: it matches no outer indentation level".into(),
                    },
                ));
            }
        }
        Ok(true)
    }

    /// Reads `\n`, `\r\n` or `\r` if one is next.
    fn line_ending(&mut self) {
        if self.cursor.peek() == Some('\r') {
            self.cursor.bump();
        }
        if self.cursor.peek() == Some('\n') {
            self.cursor.bump();
        }
    }

    fn comment(&mut self, own_line: bool) {
        let start = self.cursor.pos;
        self.cursor.bump_while(|c| c != '\n' && c != '\r');
        self.out.comments.push(Comment {
            span: start.to(self.cursor.pos),
            own_line,
        });
    }

    /// Reads a numeric literal: decimal, hex, octal or binary integers, floats with
    /// fraction or exponent, `_` separators, a `j` suffix.
    fn number(&mut self) -> Result<(), Diagnostic> {
        let start = self.cursor.pos;
        let radix = self.cursor.rest().starts_with('0')
            && self
                .cursor
                .peek_nth(1)
                .is_some_and(|c| matches!(c, 'x' | 'X' | 'o' | 'O' | 'b' | 'B'));
        if radix {
            self.cursor.bump_n(2);
            self.cursor
                .bump_while(|c| c.is_ascii_hexdigit() || c == '_');
        } else {
            self.cursor.bump_while(|c| c.is_ascii_digit() || c == '_');
            if self.cursor.peek() == Some('.') {
                self.cursor.bump();
                self.cursor.bump_while(|c| c.is_ascii_digit() || c == '_');
            }
            if matches!(self.cursor.peek(), Some('e' | 'E')) {
                let sign = matches!(self.cursor.peek_nth(1), Some('+' | '-'));
                let digit = self.cursor.peek_nth(if sign { 2 } else { 1 });
                if digit.is_some_and(|c| c.is_ascii_digit()) {
                    self.cursor.bump_n(if sign { 2 } else { 1 });
                    self.cursor.bump_while(|c| c.is_ascii_digit());
                }
            }
            if matches!(self.cursor.peek(), Some('j' | 'J')) {
                self.cursor.bump();
            }
        }
        if self.cursor.peek().is_some_and(is_name_continue) {
            self.cursor.bump_while(is_name_continue);
            return Err(Diagnostic::new(
                start.to(self.cursor.pos),
                DiagKind::InvalidNumber {
                    text: self.cursor.since(start).to_string(),
                },
            ));
        }
        Ok(())
    }

    /// Reads a string literal, prefix and quotes included.
    fn string(&mut self) -> Result<(), Diagnostic> {
        let start = self.cursor.pos;
        let (prefix, quote, triple) = string_start(self.cursor.rest()).unwrap_or((0, '"', false));
        self.cursor.bump_n(prefix + if triple { 3 } else { 1 });
        let opening = start.to(self.cursor.pos);
        let delimiter: &'static str = match (quote, triple) {
            ('"', true) => "\"\"\"",
            ('\'', true) => "'''",
            ('"', false) => "\"",
            _ => "'",
        };
        let unterminated = || Diagnostic::new(opening, DiagKind::UnterminatedString { delimiter });
        let format = self.cursor.since(start)[..prefix]
            .chars()
            .any(|c| c.eq_ignore_ascii_case(&'f'));
        loop {
            match self.cursor.peek() {
                None => return Err(unterminated()),
                Some('{') if format && self.cursor.peek_nth(1) == Some('{') => {
                    self.cursor.bump_n(2);
                }
                Some('{') if format => {
                    self.cursor.bump();
                    self.hole()?;
                }
                Some('\\') => {
                    self.cursor.bump();
                    if self.cursor.bump().is_none() {
                        return Err(unterminated());
                    }
                }
                Some('\n' | '\r') if !triple => return Err(unterminated()),
                Some(c) if c == quote && (!triple || self.cursor.rest().starts_with(delimiter)) => {
                    self.cursor.bump_n(delimiter.len());
                    return Ok(());
                }
                Some(_) => {
                    self.cursor.bump();
                }
            }
        }
    }
}

impl Lexer<'_> {
    /// Reads an f-string hole after its `{`, through its `}`. As in Python 3.12,
    /// strings inside may use the f-string's own quotes: `f"{d["k"]}"`.
    fn hole(&mut self) -> Result<(), Diagnostic> {
        let mut depth = 0usize;
        loop {
            match self.cursor.peek() {
                // The caller reports the unterminated f-string.
                None => return Ok(()),
                Some('}') if depth == 0 => {
                    self.cursor.bump();
                    return Ok(());
                }
                Some('(' | '[' | '{') => {
                    depth += 1;
                    self.cursor.bump();
                }
                Some(')' | ']' | '}') => {
                    depth = depth.saturating_sub(1);
                    self.cursor.bump();
                }
                _ if string_start(self.cursor.rest()).is_some_and(|(prefix, ..)| prefix == 0) => {
                    self.string()?
                }
                Some(_) => {
                    self.cursor.bump();
                }
            }
        }
    }
}

/// If `rest` starts a string literal: the prefix length, the quote character and
/// whether it is triple-quoted.
fn string_start(rest: &str) -> Option<(usize, char, bool)> {
    let prefix = rest
        .chars()
        .take_while(|c| matches!(c, 'r' | 'R' | 'b' | 'B' | 'u' | 'U' | 'f' | 'F'))
        .count();
    if prefix > 2 {
        return None;
    }
    let body = &rest[prefix..];
    let quote = body.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let triple = body.starts_with(&quote.to_string().repeat(3));
    Some((prefix, quote, triple))
}

/// The flags of a string literal's prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Prefix {
    /// `r`: backslashes are kept.
    pub(crate) raw: bool,
    /// `f`: `{expr}` holes.
    pub(crate) format: bool,
    /// `b`: a bytes literal.
    pub(crate) bytes: bool,
}

/// A piece of a decoded string literal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    /// Literal text, escapes resolved.
    Literal(String),
    /// An f-string hole: the expression's source is `src[start.offset..end]`.
    Hole {
        /// Where the expression starts.
        start: Pos,
        /// The byte offset just past it.
        end: usize,
    },
}

/// A decoded string literal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Decoded {
    /// Its prefix.
    pub(crate) prefix: Prefix,
    /// Its pieces; adjacent literal text is one piece.
    pub(crate) pieces: Vec<Piece>,
}

/// Decodes the string token at `span` (which [`lex`] produced, so it is well
/// formed up to escapes and f-string holes).
pub(crate) fn decode(src: &str, span: Span) -> Result<Decoded, Diagnostic> {
    let text = &src[span.range()];
    let (prefix_len, _, triple) = string_start(text).unwrap_or((0, '"', false));
    let mut prefix = Prefix::default();
    for c in text[..prefix_len].chars() {
        match c.to_ascii_lowercase() {
            'r' => prefix.raw = true,
            'f' => prefix.format = true,
            'b' => prefix.bytes = true,
            _ => {}
        }
    }
    let quotes = if triple { 3 } else { 1 };
    let mut cursor = Cursor::new(src, Pos::start_of(span), span.end() - quotes);
    cursor.bump_n(prefix_len + quotes);
    let mut pieces: Vec<Piece> = Vec::new();
    let mut literal = String::new();
    while let Some(c) = cursor.peek() {
        let start = cursor.pos;
        match c {
            '{' | '}' if prefix.format && cursor.peek_nth(1) == Some(c) => {
                cursor.bump_n(2);
                literal.push(c);
            }
            '{' if prefix.format => {
                cursor.bump();
                let (hole_start, hole_end) = hole(&mut cursor, start)?;
                if !literal.is_empty() {
                    pieces.push(Piece::Literal(std::mem::take(&mut literal)));
                }
                pieces.push(Piece::Hole {
                    start: hole_start,
                    end: hole_end,
                });
            }
            '}' if prefix.format => {
                cursor.bump();
                return Err(Diagnostic::new(
                    start.to(cursor.pos),
                    DiagKind::UnexpectedToken {
                        expected: vec!["`}}`".into()],
                        found: "a single `}` in an f-string".into(),
                    },
                ));
            }
            '\\' => {
                cursor.bump();
                let Some(next) = cursor.bump() else { break };
                if prefix.raw {
                    literal.push('\\');
                    literal.push(next);
                } else {
                    escape(&mut cursor, start, next, &mut literal)?;
                }
            }
            _ => {
                cursor.bump();
                literal.push(c);
            }
        }
    }
    if !literal.is_empty() || pieces.is_empty() {
        pieces.push(Piece::Literal(literal));
    }
    Ok(Decoded { prefix, pieces })
}

/// Reads the rest of an f-string hole whose `{` is at `open`; returns where its
/// expression starts and ends. Conversions (`!r`) and format specs (`:>8`) are
/// refused here, where they are written.
fn hole(cursor: &mut Cursor, open: Pos) -> Result<(Pos, usize), Diagnostic> {
    let start = cursor.pos;
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    loop {
        let Some(c) = cursor.peek() else {
            return Err(Diagnostic::new(
                open.to(cursor.pos),
                DiagKind::UnexpectedToken {
                    expected: vec!["`}`".into()],
                    found: "the end of the f-string".into(),
                },
            ));
        };
        match (quote, c) {
            (Some(q), _) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '(' | '[' | '{') => depth += 1,
            (None, ')' | ']') => depth = depth.saturating_sub(1),
            (None, '}') if depth > 0 => depth -= 1,
            (None, '}') => {
                let end = cursor.pos.offset;
                cursor.bump();
                return Ok((start, end));
            }
            (None, '!' | ':' | '=') if depth == 0 && cursor.peek_nth(1) != Some('=') => {
                let spec = cursor.pos;
                cursor.bump_while(|c| c != '}');
                return Err(super::unsupported(
                    spec.to(cursor.pos),
                    "f-string conversion or format spec",
                    "format the value in the guest, e.g. with `printf`",
                ));
            }
            _ => {}
        }
        cursor.bump();
    }
}

/// Resolves the escape `\` + `c` (already read, starting at `start`) into `out`.
fn escape(cursor: &mut Cursor, start: Pos, c: char, out: &mut String) -> Result<(), Diagnostic> {
    let simple = match c {
        '\n' => Some(None),
        '\r' => {
            if cursor.peek() == Some('\n') {
                cursor.bump();
            }
            Some(None)
        }
        '\\' | '\'' | '"' => Some(Some(c)),
        'a' => Some(Some('\x07')),
        'b' => Some(Some('\x08')),
        'f' => Some(Some('\x0c')),
        'n' => Some(Some('\n')),
        'r' => Some(Some('\r')),
        't' => Some(Some('\t')),
        'v' => Some(Some('\x0b')),
        _ => None,
    };
    if let Some(cooked) = simple {
        out.extend(cooked);
        return Ok(());
    }
    let digits = |cursor: &mut Cursor, count: usize, radix: u32| {
        let from = cursor.pos;
        for _ in 0..count {
            if cursor.peek().is_some_and(|d| d.is_digit(radix)) {
                cursor.bump();
            }
        }
        cursor.since(from).to_string()
    };
    let value = match c {
        '0'..='7' => {
            let more = digits(cursor, 2, 8);
            u32::from_str_radix(&format!("{c}{more}"), 8).ok()
        }
        'x' | 'u' | 'U' => {
            let count = match c {
                'x' => 2,
                'u' => 4,
                _ => 8,
            };
            let hex = digits(cursor, count, 16);
            Some(
                u32::from_str_radix(&hex, 16)
                    .ok()
                    .filter(|_| hex.len() == count),
            )
            .flatten()
        }
        'N' => {
            return Err(super::unsupported(
                start.to(cursor.pos),
                "`\\N{…}` escape",
                "write the character itself or `\\u` and its code",
            ));
        }
        _ => {
            // Python keeps unknown escapes as written.
            out.push('\\');
            out.push(c);
            return Ok(());
        }
    };
    match value.and_then(char::from_u32) {
        Some(ch) => {
            out.push(ch);
            Ok(())
        }
        None => Err(Diagnostic::new(
            start.to(cursor.pos),
            DiagKind::InvalidEscape {
                escape: cursor.since(start).to_string(),
            },
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tokens of `src` as `kind:text` words, Newline as `NL`, Indent `IN`,
    /// Dedent `DE`; lexemes concatenate back to the source between tokens.
    #[track_caller]
    fn check(src: &str, expected: &str) {
        let lexed = lex(src).unwrap_or_else(|e| panic!("{e}"));
        let words: Vec<String> = lexed
            .tokens
            .iter()
            .map(|t| match t.kind {
                TokenKind::Newline => "NL".to_string(),
                TokenKind::Indent => "IN".to_string(),
                TokenKind::Dedent => "DE".to_string(),
                TokenKind::Eof => "EOF".to_string(),
                _ => t.text(src).to_string(),
            })
            .collect();
        assert_eq!(words.join(" "), expected);
    }

    #[track_caller]
    fn error(src: &str, expected: &str) {
        let error = lex(src).unwrap_err();
        assert_eq!(
            format!("{}:{}: {error}", error.span.line + 1, error.span.column + 1),
            expected
        );
    }

    /// The decoded value of the single string token in `src`, holes as `{…}`.
    #[track_caller]
    fn value(src: &str, expected: &str) {
        let lexed = lex(src).unwrap();
        let token = lexed.tokens[0];
        assert_eq!(token.kind, TokenKind::String, "{src}");
        let decoded = decode(src, token.span).unwrap_or_else(|e| panic!("{e}"));
        let text: String = decoded
            .pieces
            .iter()
            .map(|p| match p {
                Piece::Literal(s) => s.clone(),
                Piece::Hole { start, end } => format!("{{{}}}", &src[start.offset..*end]),
            })
            .collect();
        assert_eq!(text, expected, "{src}");
    }

    #[test]
    fn lines_and_indentation() {
        check("a\n", "a NL EOF");
        check("if x:\n    y()\nz\n", "if x : NL IN y ( ) NL DE z NL EOF");
        check(
            "def f():\n    if a:\n        b\n\n    # c\n    d\ne",
            "def f ( ) : NL IN if a : NL IN b NL DE d NL DE e NL EOF",
        );
        check("f(1,\n  2)\n", "f ( 1 , 2 ) NL EOF");
        check("x = 1 + \\\n  2\n", "x = 1 + 2 NL EOF");
        check("a\tb", "a b NL EOF");
        check("if x:\n\ty\n        z\n", "if x : NL IN y NL z NL DE EOF");
    }

    #[test]
    fn operators_and_numbers() {
        check("a<=b!=c**2//3", "a <= b != c ** 2 // 3 NL EOF");
        check("x += 0.5e3 - .5 + 0x1f", "x += 0.5e3 - .5 + 0x1f NL EOF");
        check("f(a=1)[-1:]", "f ( a = 1 ) [ - 1 : ] NL EOF");
    }

    #[test]
    fn comments_are_kept_apart() {
        let src = "# head\nx = 1  # tail\n  # indented\ny\n";
        let lexed = lex(src).unwrap();
        let comments: Vec<(&str, bool)> = lexed
            .comments
            .iter()
            .map(|c| (&src[c.span.range()], c.own_line))
            .collect();
        assert_eq!(
            comments,
            [("# head", true), ("# tail", false), ("# indented", true)]
        );
    }

    #[test]
    fn strings_are_single_tokens() {
        check(
            r#"f("a" 'b' r"\"" """x""" f'{y}')"#,
            r#"f ( "a" 'b' r"\"" """x""" f'{y}' ) NL EOF"#,
        );
        check("'''a\n'b'\n'''", "'''a\n'b'\n''' NL EOF");
        check(r#"s = "a\"b""#, r#"s = "a\"b" NL EOF"#);
    }

    #[test]
    fn string_values_follow_python() {
        value(r#""a\nb""#, "a\nb");
        value(r#""\?""#, "\\?");
        value(r#""\d+""#, "\\d+");
        value(r"'\''", "'");
        value(r#"r"\n\"""#, "\\n\\\"");
        value(r#""\x41\101\u00e9""#, "AAé");
        value("\"a\\\nb\"", "ab");
        value("'''a\n  b'''", "a\n  b");
        value(r#"f"{x} and {y.strip()}""#, "{x} and {y.strip()}");
        value(r#"f"{{literal}} {d['k']}""#, "{literal} {d['k']}");
        value(r#"f"{d["k"]} {f(")")}""#, r#"{d["k"]} {f(")")}"#);
        value(r#"f"%{{http_code}}""#, "%{http_code}");
        value(r#"rf"\d{n}""#, "\\d{n}");
        value(r#""""#, "");
    }

    #[test]
    fn errors_point_at_the_python_source() {
        error("x = \"abc\ny", "1:5: unterminated string");
        error("x = '''abc", "1:5: unterminated string");
        error(
            "if a:\n    b\n  c\n",
            "3:1: unexpected indentation: it matches no outer indentation level",
        );
        error("x = 5s", "1:5: invalid number `5s`");
        error("a ? b", "1:3: unexpected character `?`");
    }

    #[test]
    fn decoding_errors_point_into_the_string() {
        let src = r#"x = f"{a!r}""#;
        let token = lex(src).unwrap().tokens[2];
        let error = decode(src, token.span).unwrap_err();
        assert_eq!((error.span.line, error.span.column), (0, 8));
        let src = "x = \"\\x4\"";
        let token = lex(src).unwrap().tokens[2];
        let error = decode(src, token.span).unwrap_err();
        assert_eq!(error.to_string(), "invalid escape `\\x4`");
    }
}
