//! A small JSON reader: text to a [`Json`] tree, or an error with its line and
//! column; and its writer, [`to_json`] (also [`Json`]'s `Display`), a tree back to
//! text as Python's `json.dumps` writes it, which scripts and QMP commands use.
//!
//! It follows RFC 8259: one value with optional whitespace around it; objects keep
//! their keys in order (a repeated key keeps its last value, as Python's `json`
//! does); numbers without a fraction or exponent that fit an `i64` stay integers.
//! It is written by hand, one character at a time, because the project takes no
//! JSON crate: scripts read command output with it (`json(out)`), and QMP and the
//! config-file reader are meant to reuse it. Nesting is capped at [`MAX_DEPTH`], so
//! hostile input cannot overflow the stack.

use std::fmt;

/// How deeply arrays and objects may nest.
pub(crate) const MAX_DEPTH: usize = 128;

/// A JSON value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Json {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number without fraction or exponent that fits an `i64`.
    Int(i64),
    /// Any other number.
    Float(f64),
    /// A string, escapes resolved.
    Str(String),
    /// An array.
    Array(Vec<Json>),
    /// An object, keys in the order written (each key once).
    Object(Vec<(String, Json)>),
}

/// Why a text is not JSON, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JsonError {
    /// What is wrong, such as "expected `,` or `}`".
    pub(crate) message: String,
    /// 1-based line of the offending character.
    pub(crate) line: usize,
    /// 1-based column (in characters) of the offending character.
    pub(crate) column: usize,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid JSON at line {} column {}: {}",
            self.line, self.column, self.message
        )
    }
}

impl std::error::Error for JsonError {}

/// Parses `text`, which must hold exactly one JSON value.
pub(crate) fn parse(text: &str) -> Result<Json, JsonError> {
    let mut reader = Reader {
        chars: text.chars().collect(),
        pos: 0,
    };
    reader.whitespace();
    let value = reader.value(0)?;
    reader.whitespace();
    if reader.pos < reader.chars.len() {
        return Err(reader.error("unexpected text after the value"));
    }
    Ok(value)
}

struct Reader {
    chars: Vec<char>,
    pos: usize,
}

impl Reader {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn error(&self, message: &str) -> JsonError {
        let before = &self.chars[..self.pos.min(self.chars.len())];
        let line = before.iter().filter(|c| **c == '\n').count() + 1;
        let column = before.iter().rev().take_while(|c| **c != '\n').count() + 1;
        let found = match self.peek() {
            Some(c) => format!(", found `{}`", c.escape_default()),
            None => ", found the end".to_string(),
        };
        JsonError {
            message: format!("{message}{found}"),
            line,
            column,
        }
    }

    fn whitespace(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t' | '\n' | '\r')) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, c: char) -> bool {
        let found = self.peek() == Some(c);
        if found {
            self.pos += 1;
        }
        found
    }

    fn value(&mut self, depth: usize) -> Result<Json, JsonError> {
        match self.peek() {
            Some('{') => self.object(depth + 1),
            Some('[') => self.array(depth + 1),
            Some('"') => self.string().map(Json::Str),
            Some('-' | '0'..='9') => self.number(),
            Some('t') => self.word("true", Json::Bool(true)),
            Some('f') => self.word("false", Json::Bool(false)),
            Some('n') => self.word("null", Json::Null),
            _ => Err(self.error("expected a value")),
        }
    }

    fn word(&mut self, word: &str, value: Json) -> Result<Json, JsonError> {
        for expected in word.chars() {
            if !self.eat(expected) {
                return Err(self.error(&format!("expected `{word}`")));
            }
        }
        Ok(value)
    }

    fn nest(&self, depth: usize) -> Result<(), JsonError> {
        if depth > MAX_DEPTH {
            return Err(self.error(&format!("nested more than {MAX_DEPTH} deep")));
        }
        Ok(())
    }

    fn array(&mut self, depth: usize) -> Result<Json, JsonError> {
        self.nest(depth)?;
        self.pos += 1;
        let mut items = Vec::new();
        self.whitespace();
        if self.eat(']') {
            return Ok(Json::Array(items));
        }
        loop {
            self.whitespace();
            items.push(self.value(depth)?);
            self.whitespace();
            if self.eat(']') {
                return Ok(Json::Array(items));
            }
            if !self.eat(',') {
                return Err(self.error("expected `,` or `]`"));
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<Json, JsonError> {
        self.nest(depth)?;
        self.pos += 1;
        let mut members: Vec<(String, Json)> = Vec::new();
        self.whitespace();
        if self.eat('}') {
            return Ok(Json::Object(members));
        }
        loop {
            self.whitespace();
            if self.peek() != Some('"') {
                return Err(self.error("expected a string key"));
            }
            let key = self.string()?;
            self.whitespace();
            if !self.eat(':') {
                return Err(self.error("expected `:`"));
            }
            self.whitespace();
            let value = self.value(depth)?;
            match members.iter_mut().find(|(k, _)| *k == key) {
                Some(member) => member.1 = value,
                None => members.push((key, value)),
            }
            self.whitespace();
            if self.eat('}') {
                return Ok(Json::Object(members));
            }
            if !self.eat(',') {
                return Err(self.error("expected `,` or `}`"));
            }
        }
    }

    /// A string at the opening quote; returns its value.
    fn string(&mut self) -> Result<String, JsonError> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(self.error("unterminated string"));
            };
            match c {
                '"' => {
                    self.pos += 1;
                    return Ok(out);
                }
                '\\' => {
                    self.pos += 1;
                    let escaped = match self.peek() {
                        Some('"') => '"',
                        Some('\\') => '\\',
                        Some('/') => '/',
                        Some('b') => '\u{8}',
                        Some('f') => '\u{c}',
                        Some('n') => '\n',
                        Some('r') => '\r',
                        Some('t') => '\t',
                        Some('u') => {
                            self.pos += 1;
                            out.push(self.unicode_escape()?);
                            continue;
                        }
                        _ => return Err(self.error("invalid escape")),
                    };
                    self.pos += 1;
                    out.push(escaped);
                }
                c if u32::from(c) < 0x20 => {
                    return Err(self.error("control character in string"));
                }
                c => {
                    self.pos += 1;
                    out.push(c);
                }
            }
        }
    }

    /// Four hex digits after `\u` (the cursor is after the `u`), and the low half
    /// of a surrogate pair when they are a high half. A lone half becomes U+FFFD,
    /// as lossy UTF-8 decoding does.
    fn unicode_escape(&mut self) -> Result<char, JsonError> {
        let high = self.hex4()?;
        if !(0xD800..0xDC00).contains(&high) {
            return Ok(char::from_u32(high).unwrap_or('\u{FFFD}'));
        }
        let pair = self.chars.get(self.pos..self.pos + 2) == Some(&['\\', 'u'][..]);
        if !pair {
            return Ok('\u{FFFD}');
        }
        self.pos += 2;
        let low = self.hex4()?;
        if !(0xDC00..0xE000).contains(&low) {
            return Ok('\u{FFFD}');
        }
        let code = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
        Ok(char::from_u32(code).unwrap_or('\u{FFFD}'))
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let mut value = 0;
        for _ in 0..4 {
            let Some(digit) = self.peek().and_then(|c| c.to_digit(16)) else {
                return Err(self.error("expected 4 hex digits after `\\u`"));
            };
            value = value * 16 + digit;
            self.pos += 1;
        }
        Ok(value)
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Result<Json, JsonError> {
        let start = self.pos;
        self.eat('-');
        let int_start = self.pos;
        let int_digits = self.digits();
        if int_digits == 0 {
            return Err(self.error("expected a digit"));
        }
        if int_digits > 1 && self.chars[int_start] == '0' {
            self.pos = int_start + 1;
            return Err(self.error("expected no digit after a leading 0"));
        }
        let mut integral = true;
        if self.eat('.') {
            integral = false;
            if self.digits() == 0 {
                return Err(self.error("expected a digit after `.`"));
            }
        }
        if self.eat('e') || self.eat('E') {
            integral = false;
            if !self.eat('+') {
                self.eat('-');
            }
            if self.digits() == 0 {
                return Err(self.error("expected a digit in the exponent"));
            }
        }
        let text: String = self.chars[start..self.pos].iter().collect();
        if integral && let Ok(value) = text.parse::<i64>() {
            return Ok(Json::Int(value));
        }
        text.parse::<f64>()
            .map(Json::Float)
            .map_err(|_| self.error("invalid number"))
    }
}

impl Json {
    /// The member `key` of an object, if this is one and has it.
    pub(crate) fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The text of a string value.
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Json::Str(text) => Some(text),
            _ => None,
        }
    }
}

/// Writes `json` as text, as Python's `json.dumps` does by default: `", "`
/// between items, `": "` after keys, non-ASCII characters as `\uXXXX` escapes
/// (UTF-16 surrogate pairs beyond the BMP), floats as Python's `repr` writes them
/// (`NaN` and `Infinity` for the values JSON lacks, as Python does), keys in the
/// tree's order. Scripts reach it through `to_json(value)` (Python's
/// `json.dumps`); any other writer of JSON (QMP commands) can use it as it is.
pub(crate) fn to_json(json: &Json) -> String {
    let mut out = String::new();
    write(&mut out, json);
    out
}

fn write(out: &mut String, json: &Json) {
    match json {
        Json::Null => out.push_str("null"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Int(i) => out.push_str(&i.to_string()),
        Json::Float(f) if f.is_nan() => out.push_str("NaN"),
        Json::Float(f) if f.is_infinite() => {
            out.push_str(if *f > 0.0 { "Infinity" } else { "-Infinity" })
        }
        Json::Float(f) => out.push_str(&float_repr(*f)),
        Json::Str(s) => write_string(out, s),
        Json::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write(out, item);
            }
            out.push(']');
        }
        Json::Object(members) => {
            out.push('{');
            for (i, (key, value)) in members.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_string(out, key);
                out.push_str(": ");
                write(out, value);
            }
            out.push('}');
        }
    }
}

/// The text [`to_json`] writes.
impl fmt::Display for Json {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&to_json(self))
    }
}

/// A finite float as Python's `repr` writes it: the shortest text that reads
/// back the same, with `.0` on whole numbers and exponents from `1e+16` and below
/// `1e-04`.
pub(crate) fn float_repr(f: f64) -> String {
    if f != 0.0 && (f.abs() >= 1e16 || f.abs() < 1e-4) {
        let text = format!("{f:e}");
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        let exponent: i32 = exponent.parse().unwrap_or(0);
        let sign = if exponent < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exponent.abs());
    }
    format!("{f:?}")
}

/// `s` in double quotes, escaped as Python's `json.dumps` escapes it.
fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn ok(text: &str, expected: Json) {
        assert_eq!(parse(text), Ok(expected));
    }

    #[track_caller]
    fn error(text: &str, expected: &str) {
        match parse(text) {
            Ok(value) => panic!("parsing {text:?} succeeded: {value:?}"),
            Err(e) => assert_eq!(e.to_string(), expected),
        }
    }

    fn s(text: &str) -> Json {
        Json::Str(text.to_string())
    }

    #[test]
    fn scalars() {
        ok("null", Json::Null);
        ok(" true ", Json::Bool(true));
        ok("\nfalse\r\n", Json::Bool(false));
        ok("0", Json::Int(0));
        ok("-12", Json::Int(-12));
        ok("1.5", Json::Float(1.5));
        ok("-0.25e2", Json::Float(-25.0));
        ok("1E3", Json::Float(1000.0));
        ok("9223372036854775807", Json::Int(i64::MAX));
        ok("9223372036854775808", Json::Float(9223372036854775808.0));
    }

    #[test]
    fn strings() {
        ok(r#""""#, s(""));
        ok(r#""a\"b\\c\/d\n\t\r\b\f""#, s("a\"b\\c/d\n\t\r\u{8}\u{c}"));
        ok(r#""\u00e9\u20AC""#, s("é€"));
        ok(r#""\ud83d\ude00""#, s("😀"));
        ok(r#""\ud83d x""#, s("\u{FFFD} x"));
        ok(r#""\ud83d\u0041""#, s("\u{FFFD}"));
        ok("\"é ü\"", s("é ü"));
    }

    #[test]
    fn arrays_and_objects() {
        ok("[]", Json::Array(vec![]));
        ok("{}", Json::Object(vec![]));
        ok(
            r#"[1, "a", [true], {"k": null}]"#,
            Json::Array(vec![
                Json::Int(1),
                s("a"),
                Json::Array(vec![Json::Bool(true)]),
                Json::Object(vec![("k".into(), Json::Null)]),
            ]),
        );
        ok(
            "{\"b\": 1,\n \"a\": 2, \"b\": 3}",
            Json::Object(vec![("b".into(), Json::Int(3)), ("a".into(), Json::Int(2))]),
        );
    }

    #[test]
    fn errors() {
        error(
            "",
            "invalid JSON at line 1 column 1: expected a value, found the end",
        );
        error(
            "[1,]",
            "invalid JSON at line 1 column 4: expected a value, found `]`",
        );
        error(
            "[1 2]",
            "invalid JSON at line 1 column 4: expected `,` or `]`, found `2`",
        );
        error(
            "{\n  \"a\" 1}",
            "invalid JSON at line 2 column 7: expected `:`, found `1`",
        );
        error(
            "{1: 2}",
            "invalid JSON at line 1 column 2: expected a string key, found `1`",
        );
        error(
            "\"abc",
            "invalid JSON at line 1 column 5: unterminated string, found the end",
        );
        error(
            r#""\x""#,
            "invalid JSON at line 1 column 3: invalid escape, found `x`",
        );
        error(
            "\"a\nb\"",
            "invalid JSON at line 1 column 3: control character in string, found `\\n`",
        );
        error(
            "01",
            "invalid JSON at line 1 column 2: expected no digit after a leading 0, found `1`",
        );
        error(
            "1.",
            "invalid JSON at line 1 column 3: expected a digit after `.`, found the end",
        );
        error(
            "-",
            "invalid JSON at line 1 column 2: expected a digit, found the end",
        );
        error(
            "tru",
            "invalid JSON at line 1 column 4: expected `true`, found the end",
        );
        error(
            "1 2",
            "invalid JSON at line 1 column 3: unexpected text after the value, found `2`",
        );
        error(
            r#""\u12""#,
            "invalid JSON at line 1 column 6: expected 4 hex digits after `\\u`, found `\\\"`",
        );
    }

    #[test]
    fn depth_is_capped() {
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(&deep).is_ok());
        let deeper = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert_eq!(
            parse(&deeper).unwrap_err().message,
            "nested more than 128 deep, found `[`"
        );
    }

    #[test]
    fn written_as_python_writes_it() {
        let tree = parse(r#"{"a": [1, 2.5, true, null], "k\u00e9y": "q\"\\\n\u0001\ud83d\ude00", "e": 1e20, "f": 0.0001, "g": 1e-05}"#)
            .unwrap();
        assert_eq!(
            to_json(&tree),
            r#"{"a": [1, 2.5, true, null], "k\u00e9y": "q\"\\\n\u0001\ud83d\ude00", "e": 1e+20, "f": 0.0001, "g": 1e-05}"#
        );
        assert_eq!(to_json(&Json::Float(3.0)), "3.0");
        assert_eq!(to_json(&Json::Float(f64::NAN)), "NaN");
        assert_eq!(to_json(&Json::Array(vec![])), "[]");
        assert_eq!(to_json(&Json::Object(vec![])), "{}");
        // What is written reads back the same.
        assert_eq!(parse(&to_json(&tree)).unwrap(), tree);
        assert_eq!(tree.to_string(), to_json(&tree));
    }
}
