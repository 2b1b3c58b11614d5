//! The lexer: script source to tokens, one character at a time.
//!
//! [`lex`] returns every token, trivia included (whitespace, comments, heredoc
//! bodies), so the lexemes concatenate back to the source; the parser skips the
//! trivia. It reads characters with a cursor rather than regexes, so each error
//! points at the exact character that broke the token, and it never panics: every
//! slice is taken at a position the cursor reached by whole characters.
//!
//! Strings are checked here, so that bad escapes and unclosed `${…}` show up as
//! lexical errors. The same functions (`cook_string`, `cook_raw`, `cook_heredoc`)
//! turn a string token into `Piece`s for the parser; running them twice is cheaper
//! than storing decoded strings in every token. A `${…}` hole is only delimited here
//! (up to the first `}` outside brackets and `'…'`; no `"` or line break inside); the
//! parser lexes and parses its inside with `lex_span`, so spans stay exact.
//!
//! Heredocs work as in the shell. `<<EOF` (or `<<'EOF'`) is a [`TokenKind::HeredocStart`]
//! token and queues a body; after the next newline token, each queued body is read as
//! one [`TokenKind::HeredocBody`] token, from the next line through its terminator line
//! (a line holding only the word, optionally indented) and that line's line ending.
//! The n-th body belongs to the n-th marker.

use crate::script::diag::{DiagKind, Diagnostic};
use crate::script::span::Span;

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum TokenKind {
    /// Spaces, tabs and lone carriage returns.
    Whitespace,
    /// `#` up to (not including) the end of the line.
    Comment,
    /// `\n` or `\r\n`.
    Newline,
    /// `;`, which ends a statement like a newline.
    Semicolon,
    /// `[A-Za-z_][A-Za-z0-9_-]*`: a name, a keyword, or a word operator (`and`, `in`,
    /// `contains`, …).
    Identifier,
    /// `5`, `0.5` (a minus sign is its own token).
    Number,
    /// `"…"`, with escapes and `${…}`.
    String,
    /// `'…'`: raw, no escapes or `${…}`.
    RawString,
    /// `"""…"""`: like `"…"`, over several lines.
    TripleString,
    /// `<<WORD` or `<<'WORD'`.
    HeredocStart,
    /// A heredoc's lines, through its terminator line and that line's line ending.
    HeredocBody,
    /// `.`
    Dot,
    /// `=`
    Equals,
    /// `,`
    Comma,
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `{`
    LBrace,
    /// `}`
    RBrace,
    /// `=~`
    Match,
    /// `!~`
    NotMatch,
    /// `==`
    EqualsEquals,
    /// `!=`
    BangEquals,
    /// `!contains` (`contains` itself is an identifier).
    NotContains,
    /// `[`
    LBracket,
    /// `]`
    RBracket,
    /// `:`
    Colon,
    /// `+`
    Plus,
    /// `-`
    Minus,
    /// `*`
    Star,
    /// `/`
    Slash,
    /// `<`
    Less,
    /// `<=`
    LessEquals,
    /// `>`
    Greater,
    /// `>=`
    GreaterEquals,
    /// The end of the source (always the last token, zero length).
    Eof,
}

impl TokenKind {
    /// Whether the parser skips this token.
    pub(crate) fn is_trivia(self) -> bool {
        matches!(
            self,
            TokenKind::Whitespace | TokenKind::Comment | TokenKind::HeredocBody
        )
    }

    /// Whether the token is a string literal of any form.
    pub(crate) fn is_string(self) -> bool {
        matches!(
            self,
            TokenKind::String
                | TokenKind::RawString
                | TokenKind::TripleString
                | TokenKind::HeredocStart
        )
    }

    /// How the kind reads in "expected …" messages.
    pub(crate) fn describe(self) -> &'static str {
        use TokenKind::*;
        match self {
            Whitespace => "whitespace",
            Comment => "comment",
            Newline => "newline",
            Semicolon => "`;`",
            Identifier => "identifier",
            Number => "number",
            String | RawString | TripleString | HeredocStart => "string",
            HeredocBody => "heredoc body",
            Dot => "`.`",
            Equals => "`=`",
            Comma => "`,`",
            LParen => "`(`",
            RParen => "`)`",
            LBrace => "`{`",
            RBrace => "`}`",
            Match => "`=~`",
            NotMatch => "`!~`",
            EqualsEquals => "`==`",
            BangEquals => "`!=`",
            NotContains => "`!contains`",
            LBracket => "`[`",
            RBracket => "`]`",
            Colon => "`:`",
            Plus => "`+`",
            Minus => "`-`",
            Star => "`*`",
            Slash => "`/`",
            Less => "`<`",
            LessEquals => "`<=`",
            Greater => "`>`",
            GreaterEquals => "`>=`",
            Eof => "end of input",
        }
    }
}

/// A token: its kind and where it is; the text is `span` of the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Token {
    /// What it is.
    pub kind: TokenKind,
    /// Where it is.
    pub span: Span,
}

impl Token {
    /// The token's text in `src`.
    pub(crate) fn lexeme<'s>(&self, src: &'s str) -> &'s str {
        src.get(self.span.range()).unwrap_or("")
    }

    /// How the token reads in "found …" messages, such as "identifier `foo`".
    pub(crate) fn describe(&self, src: &str) -> String {
        match self.kind {
            TokenKind::Identifier => format!("identifier `{}`", self.lexeme(src)),
            TokenKind::Number => format!("number `{}`", self.lexeme(src)),
            TokenKind::HeredocStart => format!("heredoc `{}`", self.lexeme(src)),
            kind => kind.describe().to_string(),
        }
    }
}

/// Splits `src` into tokens, ending with [`TokenKind::Eof`].
pub(crate) fn lex(src: &str) -> Result<Vec<Token>, Diagnostic> {
    Lexer {
        src,
        cursor: Cursor::new(src, Pos::default()),
        tokens: Vec::new(),
        pending: Vec::new(),
    }
    .run()
}

/// Splits the part `span` of `src` into tokens, ending with [`TokenKind::Eof`] at
/// the span's end; spans stay positions in `src`. For the holes of strings.
pub(crate) fn lex_span(src: &str, span: Span) -> Result<Vec<Token>, Diagnostic> {
    let mut cursor = Cursor::new(src, Pos::start_of(span));
    cursor.limit = span.end().min(src.len());
    Lexer {
        src,
        cursor,
        tokens: Vec::new(),
        pending: Vec::new(),
    }
    .run()
}

/// Whether `c` can start an identifier.
pub(crate) fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

/// Whether `c` can continue an identifier.
pub(crate) fn is_ident_continue(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-'
}

/// A position in the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Pos {
    offset: usize,
    line: usize,
    column: usize,
}

impl Pos {
    /// Where `span` starts.
    pub(crate) fn start_of(span: Span) -> Pos {
        Pos {
            offset: span.offset,
            line: span.line,
            column: span.column,
        }
    }

    /// The position after `c`.
    fn advance(&mut self, c: char) {
        self.offset += c.len_utf8();
        if c == '\n' {
            self.line += 1;
            self.column = 0;
        } else {
            self.column += 1;
        }
    }

    /// The span from here to `end`.
    fn to(self, end: Pos) -> Span {
        Span {
            offset: self.offset,
            len: end.offset - self.offset,
            line: self.line,
            column: self.column,
        }
    }
}

/// Reads characters of `src` from a position up to a limit.
struct Cursor<'s> {
    src: &'s str,
    pos: Pos,
    limit: usize,
}

impl<'s> Cursor<'s> {
    fn new(src: &'s str, pos: Pos) -> Cursor<'s> {
        Cursor {
            src,
            pos,
            limit: src.len(),
        }
    }

    /// The text not read yet.
    fn rest(&self) -> &'s str {
        self.src.get(self.pos.offset..self.limit).unwrap_or("")
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn peek_nth(&self, n: usize) -> Option<char> {
        self.rest().chars().nth(n)
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos.advance(c);
        Some(c)
    }

    fn bump_n(&mut self, n: usize) {
        for _ in 0..n {
            self.bump();
        }
    }

    /// Reads characters while `f` holds.
    fn bump_while(&mut self, f: impl Fn(char) -> bool) {
        while self.peek().is_some_and(&f) {
            self.bump();
        }
    }

    /// The text from `start` to here.
    fn since(&self, start: Pos) -> &'s str {
        self.src.get(start.offset..self.pos.offset).unwrap_or("")
    }
}

/// A `<<WORD` whose body has not been read yet.
struct PendingHeredoc {
    delimiter: String,
    raw: bool,
    marker: Span,
}

struct Lexer<'s> {
    src: &'s str,
    cursor: Cursor<'s>,
    tokens: Vec<Token>,
    pending: Vec<PendingHeredoc>,
}

impl<'s> Lexer<'s> {
    fn run(mut self) -> Result<Vec<Token>, Diagnostic> {
        while let Some(c) = self.cursor.peek() {
            let start = self.cursor.pos;
            let kind = self.token(c)?;
            self.tokens.push(Token {
                kind,
                span: start.to(self.cursor.pos),
            });
            if kind == TokenKind::Newline && !self.pending.is_empty() {
                self.heredoc_bodies()?;
            }
        }
        if let Some(pending) = self.pending.first() {
            return Err(Diagnostic::new(
                pending.marker,
                DiagKind::UnterminatedHeredoc {
                    delimiter: pending.delimiter.clone(),
                },
            ));
        }
        self.tokens.push(Token {
            kind: TokenKind::Eof,
            span: self.cursor.pos.to(self.cursor.pos),
        });
        Ok(self.tokens)
    }

    /// Reads one token starting with `c`.
    fn token(&mut self, c: char) -> Result<TokenKind, Diagnostic> {
        use TokenKind::*;
        let cursor = &mut self.cursor;
        let start = cursor.pos;
        let next = cursor.peek_nth(1);
        let kind = match c {
            '\n' => {
                cursor.bump();
                Newline
            }
            '\r' if next == Some('\n') => {
                cursor.bump_n(2);
                Newline
            }
            ' ' | '\t' | '\r' => {
                while let Some(c) = cursor.peek() {
                    let lone_cr = c == '\r' && cursor.peek_nth(1) != Some('\n');
                    if c == ' ' || c == '\t' || lone_cr {
                        cursor.bump();
                    } else {
                        break;
                    }
                }
                Whitespace
            }
            '#' => {
                while let Some(c) = cursor.peek() {
                    if c == '\n' || (c == '\r' && cursor.peek_nth(1) == Some('\n')) {
                        break;
                    }
                    cursor.bump();
                }
                Comment
            }
            '"' => {
                let triple = cursor.rest().starts_with("\"\"\"");
                let (_, end) = cook_string(self.src, start)?;
                self.cursor.pos = end;
                if triple { TripleString } else { String }
            }
            '\'' => {
                let (_, end) = cook_raw(self.src, start)?;
                self.cursor.pos = end;
                RawString
            }
            '<' if next == Some('<') => return self.heredoc_marker(),
            '.' | ',' | ';' | '(' | ')' | '{' | '}' | '[' | ']' | ':' | '+' | '-' | '*' | '/' => {
                cursor.bump();
                match c {
                    '.' => Dot,
                    ',' => Comma,
                    ';' => Semicolon,
                    '(' => LParen,
                    ')' => RParen,
                    '{' => LBrace,
                    '}' => RBrace,
                    '[' => LBracket,
                    ']' => RBracket,
                    ':' => Colon,
                    '+' => Plus,
                    '-' => Minus,
                    '*' => Star,
                    _ => Slash,
                }
            }
            '<' | '>' => {
                cursor.bump();
                let equals = cursor.peek() == Some('=');
                if equals {
                    cursor.bump();
                }
                match (c, equals) {
                    ('<', false) => Less,
                    ('<', true) => LessEquals,
                    (_, false) => Greater,
                    (_, true) => GreaterEquals,
                }
            }
            '=' => match next {
                Some('~') => {
                    cursor.bump_n(2);
                    Match
                }
                Some('=') => {
                    cursor.bump_n(2);
                    EqualsEquals
                }
                _ => {
                    cursor.bump();
                    Equals
                }
            },
            '!' if next == Some('~') => {
                cursor.bump_n(2);
                NotMatch
            }
            '!' if next == Some('=') => {
                cursor.bump_n(2);
                BangEquals
            }
            '!' if cursor.rest().starts_with("!contains")
                && !cursor.peek_nth(9).is_some_and(is_ident_continue) =>
            {
                cursor.bump_n(9);
                NotContains
            }
            '0'..='9' => return self.number(),
            c if is_ident_start(c) => {
                cursor.bump_while(is_ident_continue);
                Identifier
            }
            character => {
                let mut end = start;
                end.advance(character);
                return Err(Diagnostic::new(
                    start.to(end),
                    DiagKind::UnexpectedCharacter { character },
                ));
            }
        };
        Ok(kind)
    }

    /// `[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?`, not glued to letters, digits or dots.
    fn number(&mut self) -> Result<TokenKind, Diagnostic> {
        let cursor = &mut self.cursor;
        let start = cursor.pos;
        cursor.bump_while(|c| c.is_ascii_digit());
        if cursor.peek() == Some('.') && cursor.peek_nth(1).is_some_and(|c| c.is_ascii_digit()) {
            cursor.bump();
            cursor.bump_while(|c| c.is_ascii_digit());
        }
        let sign = usize::from(matches!(cursor.peek_nth(1), Some('+' | '-')));
        if matches!(cursor.peek(), Some('e' | 'E'))
            && cursor
                .peek_nth(1 + sign)
                .is_some_and(|c| c.is_ascii_digit())
        {
            cursor.bump_n(1 + sign);
            cursor.bump_while(|c| c.is_ascii_digit());
        }
        if cursor
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        {
            cursor.bump_while(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
            return Err(Diagnostic::new(
                start.to(cursor.pos),
                DiagKind::InvalidNumber {
                    text: cursor.since(start).to_string(),
                },
            ));
        }
        Ok(TokenKind::Number)
    }

    /// `<<WORD` or `<<'WORD'`; queues the body.
    fn heredoc_marker(&mut self) -> Result<TokenKind, Diagnostic> {
        let cursor = &mut self.cursor;
        let start = cursor.pos;
        cursor.bump_n(2);
        let raw = cursor.peek() == Some('\'');
        if raw {
            cursor.bump();
        }
        let word_start = cursor.pos;
        let invalid = |cursor: &Cursor| {
            let mut end = cursor.pos;
            if let Some(c) = cursor.peek().filter(|c| *c != '\n' && *c != '\r') {
                end.advance(c);
            }
            Diagnostic::new(start.to(end), DiagKind::InvalidHeredocMarker)
        };
        if !cursor.peek().is_some_and(is_ident_start) {
            return Err(invalid(cursor));
        }
        cursor.bump_while(is_ident_continue);
        let delimiter = cursor.since(word_start).to_string();
        if raw {
            if cursor.peek() != Some('\'') {
                return Err(invalid(cursor));
            }
            cursor.bump();
        }
        self.pending.push(PendingHeredoc {
            delimiter,
            raw,
            marker: start.to(cursor.pos),
        });
        Ok(TokenKind::HeredocStart)
    }

    /// Reads the bodies of the queued heredocs, in order, after a newline.
    fn heredoc_bodies(&mut self) -> Result<(), Diagnostic> {
        for pending in std::mem::take(&mut self.pending) {
            let start = self.cursor.pos;
            loop {
                if self.cursor.peek().is_none() {
                    return Err(Diagnostic::new(
                        pending.marker,
                        DiagKind::UnterminatedHeredoc {
                            delimiter: pending.delimiter,
                        },
                    ));
                }
                let line_start = self.cursor.pos;
                while let Some(c) = self.cursor.bump() {
                    if c == '\n' {
                        break;
                    }
                }
                let line = self.cursor.since(line_start);
                if is_terminator(line, &pending.delimiter) {
                    break;
                }
            }
            let span = start.to(self.cursor.pos);
            cook_heredoc(self.src, span, pending.raw, &pending.delimiter)?;
            self.tokens.push(Token {
                kind: TokenKind::HeredocBody,
                span,
            });
        }
        Ok(())
    }
}

/// Whether `line` (with its line ending, if any) holds only `delimiter`, optionally
/// indented and followed by spaces or tabs.
fn is_terminator(line: &str, delimiter: &str) -> bool {
    line.trim_start_matches([' ', '\t'])
        .trim_end_matches([' ', '\t', '\r', '\n'])
        == delimiter
}

/// A piece of a decoded string: literal text, or the source of a `${…}` hole,
/// which the parser parses as an expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    /// Literal text, escapes resolved.
    Literal(String),
    /// The text between `${` and `}`.
    Hole(Span),
}

/// Collects text into [`Piece`]s, merging neighbouring literal pieces and
/// dropping empty ones.
#[derive(Default)]
struct Parts {
    parts: Vec<Piece>,
    literal: String,
}

impl Parts {
    fn push(&mut self, c: char) {
        self.literal.push(c);
    }

    fn push_str(&mut self, s: &str) {
        self.literal.push_str(s);
    }

    fn hole(&mut self, span: Span) {
        self.flush();
        self.parts.push(Piece::Hole(span));
    }

    fn flush(&mut self) {
        if !self.literal.is_empty() {
            self.parts
                .push(Piece::Literal(std::mem::take(&mut self.literal)));
        }
    }

    fn finish(mut self) -> Vec<Piece> {
        self.flush();
        self.parts
    }
}

/// Reads `${expr}` at the cursor (which is at the `$`) and returns the span of
/// `expr`. The hole ends at the first `}` outside brackets and `'…'` strings; it may
/// not hold a `"` (use `'…'` inside) or a line break, nor be blank. `None` means the
/// text ended inside it; the caller decides what that means.
fn interpolation(cursor: &mut Cursor, heredoc: bool) -> Result<Option<Span>, Diagnostic> {
    let dollar = cursor.pos;
    cursor.bump_n(2);
    let inner = cursor.pos;
    let mut depth = 0usize;
    let invalid = |cursor: &Cursor| {
        Diagnostic::new(
            dollar.to(cursor.pos),
            DiagKind::InvalidInterpolation {
                heredoc,
                detail: None,
            },
        )
    };
    loop {
        match cursor.peek() {
            None => return Ok(None),
            Some('}') if depth == 0 => {
                let span = inner.to(cursor.pos);
                if cursor.since(inner).trim().is_empty() {
                    return Err(invalid(cursor));
                }
                cursor.bump();
                return Ok(Some(span));
            }
            Some('"' | '\n' | '\r') => return Err(invalid(cursor)),
            Some('\'') => {
                cursor.bump();
                cursor.bump_while(|c| c != '\'' && c != '\n');
                if cursor.peek() != Some('\'') {
                    return Err(invalid(cursor));
                }
                cursor.bump();
            }
            Some(c) => {
                match c {
                    '{' | '[' | '(' => depth += 1,
                    '}' | ']' | ')' => depth = depth.saturating_sub(1),
                    _ => {}
                }
                cursor.bump();
            }
        }
    }
}

/// Decodes the `"…"` or `"""…"""` string starting at `start`; returns its parts and
/// the position after the closing quote(s).
pub(crate) fn cook_string(src: &str, start: Pos) -> Result<(Vec<Piece>, Pos), Diagnostic> {
    let mut cursor = Cursor::new(src, start);
    let triple = cursor.rest().starts_with("\"\"\"");
    let (quote, delimiter) = if triple { (3, "\"\"\"") } else { (1, "\"") };
    cursor.bump_n(quote);
    let opening = start.to(cursor.pos);
    let unterminated = || Diagnostic::new(opening, DiagKind::UnterminatedString { delimiter });
    let mut parts = Parts::default();
    loop {
        match cursor.peek() {
            None => return Err(unterminated()),
            Some('"') if !triple || cursor.rest().starts_with(delimiter) => {
                cursor.bump_n(quote);
                return Ok((parts.finish(), cursor.pos));
            }
            Some('\\') => {
                let escape_start = cursor.pos;
                cursor.bump();
                let Some(c) = cursor.bump() else {
                    return Err(unterminated());
                };
                let simple = match c {
                    '\\' => Some('\\'),
                    '"' => Some('"'),
                    'n' => Some('\n'),
                    't' => Some('\t'),
                    'r' => Some('\r'),
                    '0' => Some('\0'),
                    '$' => Some('$'),
                    _ => None,
                };
                let cooked = match c {
                    _ if simple.is_some() => simple,
                    // A backslash before a line ending continues the line, as in
                    // Python and the shell.
                    '\n' => continue,
                    '\r' if cursor.peek() == Some('\n') => {
                        cursor.bump();
                        continue;
                    }
                    'x' => {
                        let digits = cursor.pos;
                        for _ in 0..2 {
                            if cursor.peek().is_some_and(|c| c.is_ascii_hexdigit()) {
                                cursor.bump();
                            }
                        }
                        u32::from_str_radix(cursor.since(digits), 16)
                            .ok()
                            .filter(|value| cursor.since(digits).len() == 2 && *value <= 0x7f)
                            .and_then(char::from_u32)
                    }
                    'u' if cursor.peek() == Some('{') => {
                        cursor.bump();
                        let digits = cursor.pos;
                        cursor.bump_while(|c| c.is_ascii_hexdigit());
                        let hex = cursor.since(digits);
                        let closed = cursor.peek() == Some('}');
                        if closed {
                            cursor.bump();
                        }
                        u32::from_str_radix(hex, 16)
                            .ok()
                            .filter(|_| closed && (1..=6).contains(&hex.len()))
                            .and_then(char::from_u32)
                    }
                    _ => None,
                };
                match cooked {
                    Some(c) => parts.push(c),
                    None => {
                        return Err(Diagnostic::new(
                            escape_start.to(cursor.pos),
                            DiagKind::InvalidEscape {
                                escape: cursor.since(escape_start).to_string(),
                            },
                        ));
                    }
                }
            }
            Some('$') if cursor.peek_nth(1) == Some('{') => {
                match interpolation(&mut cursor, false)? {
                    Some(span) => parts.hole(span),
                    None => return Err(unterminated()),
                }
            }
            Some(c) => {
                cursor.bump();
                parts.push(c);
            }
        }
    }
}

/// Reads the raw `'…'` string starting at `start`; returns its one literal part and
/// the position after the closing quote.
pub(crate) fn cook_raw(src: &str, start: Pos) -> Result<(Vec<Piece>, Pos), Diagnostic> {
    let mut cursor = Cursor::new(src, start);
    cursor.bump();
    let content = cursor.pos;
    cursor.bump_while(|c| c != '\'');
    let text = cursor.since(content).to_string();
    if cursor.bump().is_none() {
        return Err(Diagnostic::new(
            start.to(content),
            DiagKind::UnterminatedString { delimiter: "'" },
        ));
    }
    Ok((vec![Piece::Literal(text)], cursor.pos))
}

/// Decodes a heredoc body token (`body`: its lines, the terminator line and that
/// line's ending). Each line loses the terminator line's indentation; lines that are
/// blank may have less. `${name}` is interpolated unless `raw`; nothing else is.
pub(crate) fn cook_heredoc(
    src: &str,
    body: Span,
    raw: bool,
    delimiter: &str,
) -> Result<Vec<Piece>, Diagnostic> {
    let lexeme = src.get(body.range()).unwrap_or("");
    let without_ending = lexeme.strip_suffix('\n').unwrap_or(lexeme);
    let terminator_start = without_ending.rfind('\n').map_or(0, |i| i + 1);
    let terminator = &without_ending[terminator_start..];
    let indent = &terminator[..terminator.len() - terminator.trim_start_matches([' ', '\t']).len()];
    let text = &lexeme[..terminator_start];

    let mut parts = Parts::default();
    let mut line_start = Pos::start_of(body);
    for line in text.split_inclusive('\n') {
        let mut cursor = Cursor::new(src, line_start);
        cursor.limit = line_start.offset + line.len();
        if line.starts_with(indent) {
            cursor.bump_n(indent.chars().count());
        } else if line.trim_start_matches([' ', '\t', '\r', '\n']).is_empty() {
            cursor.bump_while(|c| c == ' ' || c == '\t');
        } else {
            let content = line.trim_end_matches(['\r', '\n']);
            let mut end = line_start;
            content.chars().for_each(|c| end.advance(c));
            return Err(Diagnostic::new(
                line_start.to(end),
                DiagKind::HeredocIndentation {
                    delimiter: delimiter.to_string(),
                },
            ));
        }
        if raw {
            parts.push_str(cursor.rest());
            cursor.bump_n(cursor.rest().chars().count());
        }
        while let Some(c) = cursor.peek() {
            if c == '$' && cursor.peek_nth(1) == Some('{') {
                let dollar = cursor.pos;
                match interpolation(&mut cursor, true)? {
                    Some(span) => parts.hole(span),
                    None => {
                        return Err(Diagnostic::new(
                            dollar.to(cursor.pos),
                            DiagKind::InvalidInterpolation {
                                heredoc: true,
                                detail: None,
                            },
                        ));
                    }
                }
            } else {
                cursor.bump();
                parts.push(c);
            }
        }
        line_start = cursor.pos;
    }
    Ok(parts.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lexes `src`, checks that the lexemes tile the source, and compares the kinds
    /// (without the final `Eof`) with `expected`, space-separated.
    #[track_caller]
    fn check(src: &str, expected: &str) {
        let tokens = match lex(src) {
            Ok(tokens) => tokens,
            Err(e) => panic!(
                "lexing {src:?} failed:\n{}",
                e.render("test.cmds", src, false)
            ),
        };
        let joined: String = tokens.iter().map(|t| t.lexeme(src)).collect();
        assert_eq!(joined, src, "lexemes do not concatenate back to the source");
        let mut pos = Pos::default();
        for token in &tokens {
            assert_eq!(
                token.span,
                pos.to(Pos {
                    offset: token.span.end(),
                    ..pos
                })
            );
            token.lexeme(src).chars().for_each(|c| pos.advance(c));
        }
        assert_eq!(tokens.last().map(|t| t.kind), Some(TokenKind::Eof));
        let kinds: Vec<String> = tokens[..tokens.len() - 1]
            .iter()
            .map(|t| format!("{:?}", t.kind))
            .collect();
        assert_eq!(kinds.join(" "), expected);
    }

    /// Lexes `src`, which must fail, and compares the rendered error.
    #[track_caller]
    fn error(src: &str, expected: &str) {
        match lex(src) {
            Ok(tokens) => panic!("lexing {src:?} succeeded: {tokens:?}"),
            Err(e) => assert_eq!(e.render("test.cmds", src, false), expected),
        }
    }

    /// The lexemes of `src`'s tokens of `kind`.
    fn lexemes(src: &str, kind: TokenKind) -> Vec<&str> {
        lex(src)
            .unwrap()
            .iter()
            .filter(|t| t.kind == kind)
            .map(|t| t.lexeme(src))
            .collect()
    }

    /// The parts of the one string in `src`, printed compactly.
    fn cooked(src: &str) -> String {
        let tokens = lex(src).unwrap();
        let token = tokens.iter().find(|t| t.kind.is_string()).unwrap();
        let parts = match token.kind {
            TokenKind::String | TokenKind::TripleString => {
                cook_string(src, Pos::start_of(token.span)).unwrap().0
            }
            TokenKind::RawString => cook_raw(src, Pos::start_of(token.span)).unwrap().0,
            _ => {
                let body = tokens
                    .iter()
                    .find(|t| t.kind == TokenKind::HeredocBody)
                    .unwrap();
                cook_heredoc(src, body.span, token.lexeme(src).contains('\''), "EOF").unwrap()
            }
        };
        parts
            .iter()
            .map(|part| match part {
                Piece::Literal(text) => format!("{text:?}"),
                Piece::Hole(span) => format!(
                    "${}@{}:{}+{}",
                    &src[span.range()],
                    span.line,
                    span.column,
                    span.len
                ),
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn empty() {
        check("", "");
    }

    #[test]
    fn trivia() {
        check(" \t", "Whitespace");
        check("\n", "Newline");
        check("\r\n", "Newline");
        check("\r", "Whitespace");
        check("a \r b", "Identifier Whitespace Identifier");
        check("# hi\n", "Comment Newline");
        check("# hi\r\n#", "Comment Newline Comment");
        check(
            "x # \"not a string\n",
            "Identifier Whitespace Comment Newline",
        );
        check(";;", "Semicolon Semicolon");
    }

    #[test]
    fn identifiers() {
        check("start_all", "Identifier");
        check("my-vm.succeed", "Identifier Dot Identifier");
        check("_x9", "Identifier");
        check("contains", "Identifier");
        check("a-", "Identifier");
    }

    #[test]
    fn punctuation() {
        check("(),{}.", "LParen RParen Comma LBrace RBrace Dot");
        check(
            "= == =~ != !~ !contains",
            "Equals Whitespace EqualsEquals Whitespace Match Whitespace BangEquals Whitespace NotMatch Whitespace NotContains",
        );
        check("!contains\"x\"", "NotContains String");
        check("a=b", "Identifier Equals Identifier");
        check("===", "EqualsEquals Equals");
    }

    #[test]
    fn numbers() {
        check("5", "Number");
        check("0.5", "Number");
        check("-1", "Minus Number");
        check("5-3", "Number Minus Number");
        check("timeout=60", "Identifier Equals Number");
        check("5)", "Number RParen");
        check("5,6", "Number Comma Number");
        assert_eq!(lexemes("x 12.25 -3", TokenKind::Number), ["12.25", "3"]);
    }

    #[test]
    fn strings() {
        check("\"\"", "String");
        check("\"a\" 'b'", "String Whitespace RawString");
        check("\"\"\"a\"\"\"", "TripleString");
        check("\"\" \"\"", "String Whitespace String");
        check("\"a\nb\"", "String");
        check("'a\nb'", "RawString");
        check("\"#\" # c", "String Whitespace Comment");
        assert_eq!(lexemes("\"a\\\"b\" 'c'", TokenKind::String), ["\"a\\\"b\""]);
    }

    #[test]
    fn escapes() {
        assert_eq!(
            cooked(r#""a\\b\"c\nd\te\rf\0g\$h""#),
            r#""a\\b\"c\nd\te\rf\0g$h""#
        );
        assert_eq!(cooked(r#""\x41\x7f\u{e9}\u{1F600}""#), "\"A\\u{7f}é😀\"");
        assert_eq!(cooked("\"a\\\nb\""), "\"ab\"");
        assert_eq!(cooked("\"a\\\r\nb\""), "\"ab\"");
        assert_eq!(cooked(r#""""a "quoted" \n""""#), r#""a \"quoted\" \n""#);
        assert_eq!(cooked(r#""""#), "");
        assert_eq!(cooked(r"'a\n${x}'"), r#""a\\n${x}""#);
        assert_eq!(cooked("''"), "\"\"");
    }

    #[test]
    fn interpolation_parts() {
        assert_eq!(cooked(r#""${a}""#), "$a@0:3+1");
        assert_eq!(cooked(r#""x ${my-var}y""#), "\"x \" $my-var@0:5+6 \"y\"");
        assert_eq!(cooked(r#""$HOME $ $""#), r#""$HOME $ $""#);
        assert_eq!(cooked(r#""\${a}""#), r#""${a}""#);
        assert_eq!(cooked("\"\n ${b}\""), "\"\\n \" $b@1:3+1");
        assert_eq!(cooked(r#""${a}${b}""#), "$a@0:3+1 $b@0:7+1");
    }

    #[test]
    fn heredocs() {
        check(
            "m.succeed <<EOF\nhi\nEOF\n",
            "Identifier Dot Identifier Whitespace HeredocStart Newline HeredocBody",
        );
        check(
            "m.succeed <<EOF\nhi\nEOF",
            "Identifier Dot Identifier Whitespace HeredocStart Newline HeredocBody",
        );
        check(
            "a <<'A' <<B # c\none\nA\n  two\n  B\nnext",
            "Identifier Whitespace HeredocStart Whitespace HeredocStart Whitespace Comment Newline HeredocBody HeredocBody Identifier",
        );
        check(
            "a <<EOF contains \"x\"\nEOF\n",
            "Identifier Whitespace HeredocStart Whitespace Identifier Whitespace String Newline HeredocBody",
        );
        assert_eq!(
            lexemes("a <<A <<B\n1\nA\n 2\n B \nc", TokenKind::HeredocBody),
            ["1\nA\n", " 2\n B \n"]
        );
        assert_eq!(lexemes("a <<'X'\nX\n", TokenKind::HeredocStart), ["<<'X'"]);
    }

    #[test]
    fn heredoc_text() {
        assert_eq!(cooked("a <<EOF\nx\ny\nEOF\n"), r#""x\ny\n""#);
        assert_eq!(cooked("a <<EOF\nEOF\n"), "");
        assert_eq!(
            cooked("a <<EOF\n    x\n      y\n\n  \n    EOF\n"),
            r#""x\n  y\n\n\n""#
        );
        assert_eq!(cooked("a <<EOF\n\tx\n\tEOF\n"), r#""x\n""#);
        assert_eq!(cooked("a <<EOF\nx\r\nEOF\r\n"), r#""x\r\n""#);
        assert_eq!(
            cooked("a <<EOF\n\\n $HOME ${v}!\nEOF\n"),
            "\"\\\\n $HOME \" $v@1:11+1 \"!\\n\""
        );
        assert_eq!(cooked("a <<'EOF'\n  ${v} \\n\n  EOF\n"), r#""${v} \\n\n""#);
        assert_eq!(
            cooked("a <<EOF\nEOFX\n EOF x\nEOF\n"),
            r#""EOFX\n EOF x\n""#
        );
    }

    #[test]
    fn lexing_never_panics_on_prefixes() {
        let src = "x = m.succeed \"a\\x41${v}\\u{e9}\" timeout=1.5 # c\n\
                   m.succeed <<EOF =~ 'r'\n  é ${x}\n  EOF\nsubtest \"s\" {\n\t\"\"\"t\"\"\"; y != z\n}\n";
        for (i, _) in src.char_indices() {
            let _ = lex(&src[..i]);
        }
        check(
            src,
            "Identifier Whitespace Equals Whitespace Identifier Dot Identifier Whitespace String Whitespace Identifier Equals Number Whitespace Comment Newline Identifier Dot Identifier Whitespace HeredocStart Whitespace Match Whitespace RawString Newline HeredocBody Identifier Whitespace String Whitespace LBrace Newline Whitespace TripleString Semicolon Whitespace Identifier Whitespace BangEquals Whitespace Identifier Newline RBrace Newline",
        );
    }

    #[test]
    fn unexpected_character() {
        error(
            "machine.succeed \"x\" @",
            "\
error: unexpected character `@`
 --> test.cmds:1:21
  |
1 | machine.succeed \"x\" @
  |                     ^
",
        );
        error(
            "m.succeed \"x\" !contain \"y\"",
            "\
error: unexpected character `!`
 --> test.cmds:1:15
  |
1 | m.succeed \"x\" !contain \"y\"
  |               ^ checks are written `!~`, `!=` or `!contains`
",
        );
        error(
            "m.succeed ${cmd}",
            "\
error: unexpected character `$`
 --> test.cmds:1:11
  |
1 | m.succeed ${cmd}
  |           ^ write a variable alone, `name`, or inside a string, `\"${name}\"`
",
        );
        error(
            "a % b",
            "\
error: unexpected character `%`
 --> test.cmds:1:3
  |
1 | a % b
  |   ^
",
        );
        error(
            "€",
            "\
error: unexpected character `€`
 --> test.cmds:1:1
  |
1 | €
  | ^
",
        );
    }

    #[test]
    fn unterminated_strings() {
        error(
            "a\nm.succeed \"echo hi\nb",
            "\
error: unterminated string
 --> test.cmds:2:11
  |
2 | m.succeed \"echo hi
  |           ^ add a closing `\"`
",
        );
        error(
            "m.succeed 'echo",
            "\
error: unterminated string
 --> test.cmds:1:11
  |
1 | m.succeed 'echo
  |           ^ add a closing `'`
",
        );
        error(
            "m.succeed \"\"\"echo\"\"",
            "\
error: unterminated string
 --> test.cmds:1:11
  |
1 | m.succeed \"\"\"echo\"\"
  |           ^^^ add a closing `\"\"\"`
",
        );
        error(
            "\"a\\",
            "\
error: unterminated string
 --> test.cmds:1:1
  |
1 | \"a\\
  | ^ add a closing `\"`
",
        );
        error(
            "\"${a",
            "\
error: unterminated string
 --> test.cmds:1:1
  |
1 | \"${a
  | ^ add a closing `\"`
",
        );
        assert!(lex("m.succeed \"abc\n").unwrap_err().is_incomplete());
    }

    #[test]
    fn invalid_escapes() {
        error(
            r#"m.succeed "a\qb""#,
            r#"error: invalid escape `\q`
 --> test.cmds:1:13
  |
1 | m.succeed "a\qb"
  |             ^^ write `\\` for a backslash or use a raw `'…'` string; escapes: `\n` `\t` `\r` `\0` `\"` `\$` `\xHH` `\u{HHHH}`
"#,
        );
        error(
            r#""\xff""#,
            r#"error: invalid escape `\xff`
 --> test.cmds:1:2
  |
1 | "\xff"
  |  ^^^^ `\x` escapes stop at `\x7f`; write `\u{ff}`
"#,
        );
        error(
            r#""\x4g""#,
            r#"error: invalid escape `\x4`
 --> test.cmds:1:2
  |
1 | "\x4g"
  |  ^^^ write `\xHH` with two hex digits
"#,
        );
        error(
            r#""\u{d800}""#,
            r#"error: invalid escape `\u{d800}`
 --> test.cmds:1:2
  |
1 | "\u{d800}"
  |  ^^^^^^^^ write `\u{HHHH}` with 1 to 6 hex digits naming a unicode character
"#,
        );
        error(
            r#""\u{1234567}""#,
            r#"error: invalid escape `\u{1234567}`
 --> test.cmds:1:2
  |
1 | "\u{1234567}"
  |  ^^^^^^^^^^^ write `\u{HHHH}` with 1 to 6 hex digits naming a unicode character
"#,
        );
        error(
            r#""\u41""#,
            r#"error: invalid escape `\u`
 --> test.cmds:1:2
  |
1 | "\u41"
  |  ^^ write `\u{HHHH}` with 1 to 6 hex digits naming a unicode character
"#,
        );
        error(
            r#""\u{}""#,
            r#"error: invalid escape `\u{}`
 --> test.cmds:1:2
  |
1 | "\u{}"
  |  ^^^^ write `\u{HHHH}` with 1 to 6 hex digits naming a unicode character
"#,
        );
        error(
            "\"\\\t\"",
            "error: invalid escape `\\\\t`
 --> test.cmds:1:2
  |
1 | \"\\    \"
  |  ^^^^^ write `\\\\` for a backslash or use a raw `'…'` string; escapes: `\\n` `\\t` `\\r` `\\0` `\\\"` `\\$` `\\xHH` `\\u{HHHH}`
",
        );
    }

    #[test]
    fn invalid_interpolations() {
        error(
            r#""${}""#,
            r#"error: invalid interpolation, expected `${expression}`
 --> test.cmds:1:2
  |
1 | "${}"
  |  ^^ write `\${` for a literal `${`; inside `${…}`, quote with `'…'`
"#,
        );
        error(
            r#""${f("a")}""#,
            r#"error: invalid interpolation, expected `${expression}`
 --> test.cmds:1:2
  |
1 | "${f("a")}"
  |  ^^^^ write `\${` for a literal `${`; inside `${…}`, quote with `'…'`
"#,
        );
        error(
            r#""${x['a}""#,
            r#"error: invalid interpolation, expected `${expression}`
 --> test.cmds:1:2
  |
1 | "${x['a}"
  |  ^^^^^^^^ write `\${` for a literal `${`; inside `${…}`, quote with `'…'`
"#,
        );
        error(
            "a <<EOF\necho ${x\nEOF\n",
            "error: invalid interpolation, expected `${expression}`
 --> test.cmds:2:6
  |
2 | echo ${x
  |      ^^^ to keep `${` as written, use a raw heredoc: `<<'EOF'`
",
        );
    }

    #[test]
    fn invalid_numbers() {
        error(
            "m.succeed \"x\" timeout=60s",
            "\
error: invalid number `60s`
 --> test.cmds:1:23
  |
1 | m.succeed \"x\" timeout=60s
  |                       ^^^ numbers are written like `5` or `0.5`
",
        );
        error(
            "sleep 5.",
            "\
error: invalid number `5.`
 --> test.cmds:1:7
  |
1 | sleep 5.
  |       ^^ numbers are written like `5` or `0.5`
",
        );
        error(
            "sleep 1.2.3",
            "\
error: invalid number `1.2.3`
 --> test.cmds:1:7
  |
1 | sleep 1.2.3
  |       ^^^^^ numbers are written like `5` or `0.5`
",
        );
    }

    #[test]
    fn heredoc_errors() {
        error(
            "m.succeed <<EOF\necho\n",
            "\
error: unterminated heredoc, no line `EOF` ends it
 --> test.cmds:1:11
  |
1 | m.succeed <<EOF
  |           ^^^^^ end the heredoc with a line holding only `EOF`
",
        );
        error(
            "m.succeed <<EOF",
            "\
error: unterminated heredoc, no line `EOF` ends it
 --> test.cmds:1:11
  |
1 | m.succeed <<EOF
  |           ^^^^^ end the heredoc with a line holding only `EOF`
",
        );
        assert!(lex("m.succeed <<EOF\n").unwrap_err().is_incomplete());
        error(
            "m.succeed <<-EOF\n",
            "\
error: invalid heredoc marker
 --> test.cmds:1:11
  |
1 | m.succeed <<-EOF
  |           ^^^ write `<<WORD` or `<<'WORD'`, where WORD is a name
",
        );
        error(
            "m.succeed <<'EOF\n",
            "\
error: invalid heredoc marker
 --> test.cmds:1:11
  |
1 | m.succeed <<'EOF
  |           ^^^^^^ write `<<WORD` or `<<'WORD'`, where WORD is a name
",
        );
        error(
            "m.succeed <<\n",
            "\
error: invalid heredoc marker
 --> test.cmds:1:11
  |
1 | m.succeed <<
  |           ^^ write `<<WORD` or `<<'WORD'`, where WORD is a name
",
        );
        error(
            "subtest \"x\" {\n    m.succeed <<EOF\n    ok\n  bad\n    EOF\n}\n",
            "\
error: heredoc line is indented less than its terminator `EOF`
 --> test.cmds:4:1
  |
4 |   bad
  | ^^^^^ indent every line at least as far as the line `EOF`
",
        );
    }
}
