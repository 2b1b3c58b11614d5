//! The parser: tokens to a [`Script`], by recursive descent.
//!
//! Conventions, as in just's parser:
//! - `parse_*` functions parse one grammar rule and return its node.
//! - `accept(kind)` consumes the next token if it is `kind` and returns it.
//! - `expect(kind)` is `accept` that turns "not there" into a user error.
//! - `next_is(kind)` looks at the next token without consuming it.
//! - `presume(kind)` is for tokens the caller has already looked at: a mismatch is a
//!   bug, reported as [`DiagKind::Internal`], never as the user's fault.
//! - `skip(kind)` consumes a token without recording it as expected (newlines inside
//!   parentheses, blank lines).
//!
//! Every `next_is`/`accept`/`expect` records what it looked for in `expected`, and
//! consuming a token clears it. So when nothing fits, `Parser::unexpected` reads
//! "expected X, Y or Z, found W" with no bookkeeping at the call sites. When the
//! input ends inside `(…)` or `{…}`, the error is instead an
//! [`DiagKind::UnclosedDelimiter`] at the opening delimiter, which is what an
//! interactive prompt needs to know to ask for more lines.
//!
//! Trivia (whitespace, comments and heredoc bodies) is dropped before parsing; the
//! n-th heredoc marker takes the n-th body. Recursion happens only for nested
//! subtests, capped at [`MAX_NESTING`].

use crate::script::ast::legacy::{
    Arg, Call, CallOption, CallStatement, Check, CheckOp, Ident, Number, Script, Statement, Text,
    TextPart,
};
use crate::script::diag::{DiagKind, Diagnostic};
use crate::script::lexer::{Pos, Token, TokenKind, cook_heredoc, cook_raw, cook_string, lex};
use crate::script::span::Span;
use std::fmt::Write as _;

/// How deeply subtests may nest.
pub const MAX_NESTING: usize = 32;

/// Parses a whole script.
pub fn parse(src: &str) -> Result<Script, Diagnostic> {
    let tokens = lex(src)?;
    let mut bodies = Vec::new();
    let mut significant = Vec::with_capacity(tokens.len());
    for token in tokens {
        if token.kind == TokenKind::HeredocBody {
            bodies.push(token.span);
        } else if !token.kind.is_trivia() {
            significant.push(token);
        }
    }
    let mut parser = Parser {
        src,
        tokens: significant,
        next: 0,
        expected: Vec::new(),
        open: Vec::new(),
        bodies,
        next_body: 0,
        last: Span::default(),
    };
    parser.parse_script()
}

struct Parser<'s> {
    src: &'s str,
    /// The tokens without trivia; the last is `Eof`.
    tokens: Vec<Token>,
    /// Index of the next token.
    next: usize,
    /// What the parser looked for since the last consumed token.
    expected: Vec<&'static str>,
    /// The open `(` and `{`, innermost last.
    open: Vec<(char, Span)>,
    /// Heredoc body spans, in order.
    bodies: Vec<Span>,
    /// The body the next heredoc marker takes.
    next_body: usize,
    /// The span of the last consumed token.
    last: Span,
}

impl Parser<'_> {
    // Token-level helpers.

    fn peek(&self) -> Token {
        self.peek_nth(0)
    }

    fn peek_nth(&self, n: usize) -> Token {
        let index = (self.next + n).min(self.tokens.len() - 1);
        self.tokens[index]
    }

    fn note(&mut self, what: &'static str) {
        if !self.expected.contains(&what) {
            self.expected.push(what);
        }
    }

    fn next_is(&mut self, kind: TokenKind) -> bool {
        self.note(kind.describe());
        self.peek().kind == kind
    }

    fn next_is_string(&mut self) -> bool {
        self.note("string");
        self.peek().kind.is_string()
    }

    fn advance(&mut self) -> Token {
        let token = self.peek();
        self.expected.clear();
        if self.next < self.tokens.len() - 1 {
            self.next += 1;
        }
        self.last = token.span;
        token
    }

    fn accept(&mut self, kind: TokenKind) -> Option<Token> {
        self.next_is(kind).then(|| self.advance())
    }

    fn expect(&mut self, kind: TokenKind) -> Result<Token, Diagnostic> {
        self.accept(kind).ok_or_else(|| self.unexpected())
    }

    fn presume(&mut self, kind: TokenKind) -> Result<Token, Diagnostic> {
        let token = self.peek();
        if token.kind == kind {
            Ok(self.advance())
        } else {
            Err(Diagnostic::new(
                token.span,
                DiagKind::Internal {
                    message: format!("presumed {kind:?}, found {:?}", token.kind),
                },
            ))
        }
    }

    fn skip(&mut self, kind: TokenKind) -> bool {
        let found = self.peek().kind == kind;
        if found {
            self.advance();
        }
        found
    }

    /// The error for a next token that fits nothing in `expected`.
    fn unexpected(&self) -> Diagnostic {
        let token = self.peek();
        if token.kind == TokenKind::Eof {
            if let Some(&(open, span)) = self.open.last() {
                return Diagnostic::new(span, DiagKind::UnclosedDelimiter { open });
            }
        }
        Diagnostic::new(
            token.span,
            DiagKind::UnexpectedToken {
                expected: self.expected.iter().map(|s| s.to_string()).collect(),
                found: token.describe(self.src),
            },
        )
    }

    fn ident(&self, token: Token) -> Ident {
        Ident {
            name: token.lexeme(self.src).to_string(),
            span: token.span,
        }
    }

    fn adjacent(a: Token, b: Token) -> bool {
        a.span.end() == b.span.offset
    }

    // Grammar rules.

    fn parse_script(&mut self) -> Result<Script, Diagnostic> {
        let statements = self.parse_statements()?;
        self.presume(TokenKind::Eof)?;
        Ok(Script { statements })
    }

    /// Statements up to the end of the input, or up to the `}` of the open subtest.
    fn parse_statements(&mut self) -> Result<Vec<Statement>, Diagnostic> {
        let mut statements = Vec::new();
        loop {
            while self.skip(TokenKind::Newline) || self.skip(TokenKind::Semicolon) {}
            let end = if self.open.is_empty() {
                TokenKind::Eof
            } else {
                TokenKind::RBrace
            };
            if self.next_is(end) {
                return Ok(statements);
            }
            statements.push(self.parse_statement()?);
            self.expect_terminator()?;
        }
    }

    /// A newline or `;`; or nothing before the closing `}` or the end of input.
    fn expect_terminator(&mut self) -> Result<(), Diagnostic> {
        if self.accept(TokenKind::Newline).is_some() || self.accept(TokenKind::Semicolon).is_some()
        {
            return Ok(());
        }
        let end = if self.open.is_empty() {
            TokenKind::Eof
        } else {
            TokenKind::RBrace
        };
        if self.next_is(end) {
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    fn parse_statement(&mut self) -> Result<Statement, Diagnostic> {
        self.note("statement");
        let first = self.peek();
        if first.kind != TokenKind::Identifier {
            return Err(self.unexpected());
        }
        if first.lexeme(self.src) == "subtest" {
            return self.parse_subtest();
        }
        if self.peek_nth(1).kind != TokenKind::Equals {
            let (call, check) = self.parse_call_with_check()?;
            return Ok(Statement::Call(CallStatement {
                capture: None,
                call,
                check,
                span: first.span.to(self.last),
            }));
        }
        let name = self.advance();
        let name = self.ident(name);
        self.presume(TokenKind::Equals)?;
        if self.next_is_string() {
            let value = self.parse_text()?;
            return Ok(Statement::Assign {
                name,
                value,
                span: first.span.to(self.last),
            });
        }
        if !self.next_is(TokenKind::Identifier) {
            return Err(self.unexpected());
        }
        let (call, check) = self.parse_call_with_check()?;
        Ok(Statement::Call(CallStatement {
            capture: Some(name),
            call,
            check,
            span: first.span.to(self.last),
        }))
    }

    /// `subtest STRING "{" NEWLINE statements "}"`.
    fn parse_subtest(&mut self) -> Result<Statement, Diagnostic> {
        let keyword = self.presume(TokenKind::Identifier)?;
        if self.open.iter().filter(|(c, _)| *c == '{').count() >= MAX_NESTING {
            return Err(Diagnostic::new(
                keyword.span,
                DiagKind::NestingTooDeep { limit: MAX_NESTING },
            ));
        }
        if !self.next_is_string() {
            return Err(self.unexpected());
        }
        let name = self.parse_text()?;
        let open = self.expect(TokenKind::LBrace)?;
        self.open.push(('{', open.span));
        self.expect(TokenKind::Newline)?;
        let body = self.parse_statements()?;
        let close = self.expect(TokenKind::RBrace)?;
        self.open.pop();
        Ok(Statement::Subtest {
            name,
            body,
            span: keyword.span.to(close.span),
        })
    }

    /// A call, its check, and options written after the check
    /// (`m.wait_until_succeeds "c" =~ "x" timeout=5`).
    fn parse_call_with_check(&mut self) -> Result<(Call, Option<Check>), Diagnostic> {
        let mut call = self.parse_call()?;
        let check = self.parse_check()?;
        if check.is_some() {
            while self.next_is(TokenKind::Identifier) && self.peek_nth(1).kind == TokenKind::Equals
            {
                call.options.push(self.parse_option(false)?);
            }
        }
        Ok((call, check))
    }

    /// `[target "."] method` followed by `( … )` or by shell-style arguments.
    fn parse_call(&mut self) -> Result<Call, Diagnostic> {
        let first = self.expect(TokenKind::Identifier)?;
        let (target, method) = if self.accept(TokenKind::Dot).is_some() {
            let method = self.expect(TokenKind::Identifier)?;
            (Some(self.ident(first)), self.ident(method))
        } else {
            (None, self.ident(first))
        };
        let mut args = Vec::new();
        let mut options = Vec::new();
        if self.next_is(TokenKind::LParen) {
            self.parse_parenthesized(&mut args, &mut options)?;
        } else {
            self.parse_shell_arguments(&mut args, &mut options)?;
        }
        Ok(Call {
            target,
            method,
            args,
            options,
            span: first.span.to(self.last),
        })
    }

    /// `{arg | option}` up to a check or the end of the statement.
    fn parse_shell_arguments(
        &mut self,
        args: &mut Vec<Arg>,
        options: &mut Vec<CallOption>,
    ) -> Result<(), Diagnostic> {
        loop {
            if self.next_is_string() {
                args.push(Arg::Text(self.parse_text()?));
            } else if self.next_is(TokenKind::Number) {
                args.push(Arg::Number(self.parse_number()?));
            } else {
                self.note("option");
                let token = self.peek();
                if token.kind != TokenKind::Identifier {
                    return Ok(());
                }
                let is_option = self.peek_nth(1).kind == TokenKind::Equals;
                if !is_option && token.lexeme(self.src) == "contains" {
                    return Ok(());
                }
                if !is_option {
                    return Err(self.unquoted(token));
                }
                options.push(self.parse_option(false)?);
            }
        }
    }

    /// `"(" [item {"," item} [","]] ")"`, newlines allowed inside.
    fn parse_parenthesized(
        &mut self,
        args: &mut Vec<Arg>,
        options: &mut Vec<CallOption>,
    ) -> Result<(), Diagnostic> {
        let open = self.presume(TokenKind::LParen)?;
        self.open.push(('(', open.span));
        loop {
            while self.skip(TokenKind::Newline) {}
            if self.accept(TokenKind::RParen).is_some() {
                break;
            }
            if self.next_is_string() {
                args.push(Arg::Text(self.parse_text()?));
            } else if self.next_is(TokenKind::Number) {
                args.push(Arg::Number(self.parse_number()?));
            } else {
                self.note("option");
                let token = self.peek();
                if token.kind != TokenKind::Identifier {
                    return Err(self.unexpected());
                }
                if self.peek_nth(1).kind != TokenKind::Equals {
                    return Err(self.unquoted(token));
                }
                options.push(self.parse_option(true)?);
            }
            while self.skip(TokenKind::Newline) {}
            if self.accept(TokenKind::Comma).is_none() {
                self.expect(TokenKind::RParen)?;
                break;
            }
        }
        self.open.pop();
        Ok(())
    }

    fn unquoted(&self, token: Token) -> Diagnostic {
        Diagnostic::new(
            token.span,
            DiagKind::UnquotedArgument {
                word: token.lexeme(self.src).to_string(),
            },
        )
    }

    /// `name=value`; with `spaced`, spaces around `=` are allowed.
    fn parse_option(&mut self, spaced: bool) -> Result<CallOption, Diagnostic> {
        let name_token = self.presume(TokenKind::Identifier)?;
        let equals = self.presume(TokenKind::Equals)?;
        let name = self.ident(name_token);
        let tight = Self::adjacent(name_token, equals) && Self::adjacent(equals, self.peek());
        if !spaced && !tight {
            return Err(Diagnostic::new(
                name_token.span.to(equals.span),
                DiagKind::SpaceAroundOptionEquals { option: name.name },
            ));
        }
        if spaced {
            while self.skip(TokenKind::Newline) {}
        }
        let value = if self.next_is_string() {
            Arg::Text(self.parse_text()?)
        } else if self.next_is(TokenKind::Number) {
            Arg::Number(self.parse_number()?)
        } else {
            return Err(self.unexpected());
        };
        Ok(CallOption { name, value })
    }

    /// An output check: `=~ | !~ | == | != | contains | !contains` and a string.
    fn parse_check(&mut self) -> Result<Option<Check>, Diagnostic> {
        self.note("output check");
        let token = self.peek();
        let op = match token.kind {
            TokenKind::Match => CheckOp::Matches,
            TokenKind::NotMatch => CheckOp::NotMatches,
            TokenKind::EqualsEquals => CheckOp::Equals,
            TokenKind::BangEquals => CheckOp::NotEquals,
            TokenKind::NotContains => CheckOp::NotContains,
            TokenKind::Identifier if token.lexeme(self.src) == "contains" => CheckOp::Contains,
            _ => return Ok(None),
        };
        self.advance();
        if !self.next_is_string() {
            return Err(self.unexpected());
        }
        let operand = self.parse_text()?;
        Ok(Some(Check {
            op,
            operand,
            span: token.span.to(self.last),
        }))
    }

    fn parse_number(&mut self) -> Result<Number, Diagnostic> {
        let token = self.presume(TokenKind::Number)?;
        match token.lexeme(self.src).parse::<f64>() {
            Ok(value) => Ok(Number {
                value,
                span: token.span,
            }),
            Err(e) => Err(Diagnostic::new(
                token.span,
                DiagKind::Internal {
                    message: format!(
                        "the lexer accepted the number `{}`: {e}",
                        token.lexeme(self.src)
                    ),
                },
            )),
        }
    }

    /// Any string literal: `"…"`, `'…'`, `"""…"""` or a heredoc.
    fn parse_text(&mut self) -> Result<Text, Diagnostic> {
        let token = self.advance();
        let start = Pos::start_of(token.span);
        match token.kind {
            TokenKind::String | TokenKind::TripleString => Ok(Text {
                parts: cook_string(self.src, start)?.0,
                span: token.span,
            }),
            TokenKind::RawString => Ok(Text {
                parts: cook_raw(self.src, start)?.0,
                span: token.span,
            }),
            TokenKind::HeredocStart => {
                let Some(&body) = self.bodies.get(self.next_body) else {
                    return Err(Diagnostic::new(
                        token.span,
                        DiagKind::Internal {
                            message: "heredoc marker without a body".into(),
                        },
                    ));
                };
                self.next_body += 1;
                let marker = token.lexeme(self.src);
                let raw = marker.contains('\'');
                let delimiter = marker.trim_start_matches('<').trim_matches('\'');
                let parts = cook_heredoc(self.src, body, raw, delimiter)?;
                let lexeme = &self.src[body.range()];
                let ending = lexeme.len() - lexeme.trim_end_matches(['\r', '\n']).len();
                let end = Span {
                    len: body.len - ending.min(2),
                    ..body
                };
                Ok(Text {
                    parts,
                    span: token.span.to(end),
                })
            }
            kind => Err(Diagnostic::new(
                token.span,
                DiagKind::Internal {
                    message: format!("presumed a string, found {kind:?}"),
                },
            )),
        }
    }
}

/// The script as compact S-expressions, one top-level statement a line, for tests
/// and debugging: `(capture x (call machine.succeed "echo ${y}" timeout=5 (=~ "re")))`.
pub fn tree(script: &Script) -> String {
    let mut out = String::new();
    for statement in &script.statements {
        write_statement(&mut out, statement);
        out.push('\n');
    }
    out
}

fn write_statement(out: &mut String, statement: &Statement) {
    match statement {
        Statement::Call(call) => {
            if let Some(capture) = &call.capture {
                let _ = write!(out, "(capture {} ", capture.name);
            }
            out.push_str("(call ");
            if let Some(target) = &call.call.target {
                let _ = write!(out, "{}.", target.name);
            }
            out.push_str(&call.call.method.name);
            for arg in &call.call.args {
                out.push(' ');
                write_arg(out, arg);
            }
            for option in &call.call.options {
                let _ = write!(out, " {}=", option.name.name);
                write_arg(out, &option.value);
            }
            if let Some(check) = &call.check {
                let _ = write!(out, " ({} ", check.op.as_str());
                write_text(out, &check.operand);
                out.push(')');
            }
            out.push(')');
            if call.capture.is_some() {
                out.push(')');
            }
        }
        Statement::Assign { name, value, .. } => {
            let _ = write!(out, "(assign {} ", name.name);
            write_text(out, value);
            out.push(')');
        }
        Statement::Subtest { name, body, .. } => {
            out.push_str("(subtest ");
            write_text(out, name);
            for statement in body {
                out.push(' ');
                write_statement(out, statement);
            }
            out.push(')');
        }
    }
}

fn write_arg(out: &mut String, arg: &Arg) {
    match arg {
        Arg::Text(text) => write_text(out, text),
        Arg::Number(number) => {
            let _ = write!(out, "{}", number.value);
        }
    }
}

/// A text as a double-quoted string: escapes for `\`, `"`, control characters and a
/// literal `${`; `${name}` for variables.
fn write_text(out: &mut String, text: &Text) {
    out.push('"');
    for part in &text.parts {
        match part {
            TextPart::Literal(literal) => {
                let mut chars = literal.chars().peekable();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => out.push_str("\\\\"),
                        '"' => out.push_str("\\\""),
                        '\n' => out.push_str("\\n"),
                        '\t' => out.push_str("\\t"),
                        '\r' => out.push_str("\\r"),
                        '$' if chars.peek() == Some(&'{') => out.push_str("\\$"),
                        c if c.is_control() => {
                            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
                        }
                        c => out.push(c),
                    }
                }
            }
            TextPart::Var(ident) => {
                let _ = write!(out, "${{{}}}", ident.name);
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses `src` and compares the printed tree (one statement a line, without the
    /// final newline).
    #[track_caller]
    fn check(src: &str, expected: &str) {
        match parse(src) {
            Ok(script) => assert_eq!(tree(&script).trim_end(), expected),
            Err(e) => panic!(
                "parsing {src:?} failed:\n{}",
                e.render("test.cmds", src, false)
            ),
        }
    }

    /// Parses `src`, which must fail, and compares the rendered error.
    #[track_caller]
    fn error(src: &str, expected: &str) {
        match parse(src) {
            Ok(script) => panic!("parsing {src:?} succeeded:\n{}", tree(&script)),
            Err(e) => assert_eq!(e.render("test.cmds", src, false), expected),
        }
    }

    #[track_caller]
    fn incomplete(src: &str) {
        let e = parse(src).unwrap_err();
        assert!(e.is_incomplete(), "{}", e.render("test.cmds", src, false));
    }

    #[track_caller]
    fn complete_error(src: &str) {
        let e = parse(src).unwrap_err();
        assert!(!e.is_incomplete(), "{}", e.render("test.cmds", src, false));
    }

    #[test]
    fn empty_and_comments() {
        check("", "");
        check("\n\n", "");
        check("# a comment\n  # another\n", "");
        check(";;\n;", "");
    }

    #[test]
    fn the_example() {
        let src = crate::script::EXAMPLE;
        check(
            src,
            r#"(call start_all)
(call machine.succeed "echo hello")
(call machine.succeed "echo hello" (=~ "hel+o"))
(call machine.succeed "printf \"%s\" x" (== "x"))
(call machine.succeed "cat /etc/hostname" (contains "machine"))
(call machine.fail "false")
(call machine.wait_until_succeeds "test -e /tmp/ready" timeout=60)
(capture name (call machine.succeed "hostname"))
(subtest "network" (call client.succeed "ping -c 1 ${name}"))
(call machine.succeed "echo a multi-line\necho shell script\n")
(call machine.shutdown)"#,
        );
    }

    #[test]
    fn calls() {
        check("start_all", "(call start_all)");
        check("log \"hi\"", r#"(call log "hi")"#);
        check("sleep 5", "(call sleep 5)");
        check("sleep 0.5", "(call sleep 0.5)");
        check("sleep -1", "(call sleep -1)");
        check("my-vm.start", "(call my-vm.start)");
        check(
            "m.succeed \"a\" \"b\" 'c'",
            r#"(call m.succeed "a" "b" "c")"#,
        );
        check("m.succeed\"a\"", r#"(call m.succeed "a")"#);
        check("m . succeed \"a\"", r#"(call m.succeed "a")"#);
        check(
            "m.succeed \"a\" timeout=5 \"b\"",
            r#"(call m.succeed "a" "b" timeout=5)"#,
        );
        check("m.succeed timeout=\"x\"", r#"(call m.succeed timeout="x")"#);
        check("m.succeed \"$HOME\"", r#"(call m.succeed "$HOME")"#);
        check("m.succeed \"\\${HOME}\"", r#"(call m.succeed "\${HOME}")"#);
        check("contains = \"x\"", r#"(assign contains "x")"#);
        check("m.succeed contains=1", "(call m.succeed contains=1)");
    }

    #[test]
    fn checks() {
        check(
            "m.succeed \"a\" =~ \"b\"",
            r#"(call m.succeed "a" (=~ "b"))"#,
        );
        check(
            "m.succeed \"a\" !~ \"b\"",
            r#"(call m.succeed "a" (!~ "b"))"#,
        );
        check(
            "m.succeed \"a\" == \"b\"",
            r#"(call m.succeed "a" (== "b"))"#,
        );
        check(
            "m.succeed \"a\" != \"b\"",
            r#"(call m.succeed "a" (!= "b"))"#,
        );
        check(
            "m.succeed \"a\" contains \"b\"",
            r#"(call m.succeed "a" (contains "b"))"#,
        );
        check(
            "m.succeed \"a\" !contains \"b\"",
            r#"(call m.succeed "a" (!contains "b"))"#,
        );
        check(
            "m.succeed \"a\" timeout=1 == 'b'",
            r#"(call m.succeed "a" timeout=1 (== "b"))"#,
        );
        check("m.start == \"\"", r#"(call m.start (== ""))"#);
        check(
            "m.succeed \"a\" contains <<EOF\nx\nEOF",
            r#"(call m.succeed "a" (contains "x\n"))"#,
        );
    }

    #[test]
    fn captures_and_assignments() {
        check("x = m.succeed \"a\"", r#"(capture x (call m.succeed "a"))"#);
        check(
            "x=m.succeed \"a\" == \"b\"",
            r#"(capture x (call m.succeed "a" (== "b")))"#,
        );
        check("x = \"text\"", r#"(assign x "text")"#);
        check("x = 'raw ${y}'", r#"(assign x "raw \${y}")"#);
        check(
            "x = \"a\"\ny = \"${x}b\"",
            "(assign x \"a\")\n(assign y \"${x}b\")",
        );
        check("x = start_all", "(capture x (call start_all))");
        check("x = <<EOF\nhi\nEOF\n", r#"(assign x "hi\n")"#);
    }

    #[test]
    fn python_style() {
        check(
            "machine.succeed(\"echo hi\")",
            r#"(call machine.succeed "echo hi")"#,
        );
        check(
            "machine.wait_until_succeeds(\"test -e /x\", timeout=60)",
            r#"(call machine.wait_until_succeeds "test -e /x" timeout=60)"#,
        );
        check("start_all()", "(call start_all)");
        check(
            "machine.succeed(\"a\", \"b\")",
            r#"(call machine.succeed "a" "b")"#,
        );
        check(
            "x = machine.succeed(\"hostname\")",
            r#"(capture x (call machine.succeed "hostname"))"#,
        );
        check(
            "machine.succeed(\"echo hi\") == \"hi\"",
            r#"(call machine.succeed "echo hi" (== "hi"))"#,
        );
        check("m.succeed(\"a\",)", r#"(call m.succeed "a")"#);
        check("m.succeed ( 'a' )", r#"(call m.succeed "a")"#);
        check(
            "m.succeed(\n    \"a\",  # first\n    \"b\"\n    , timeout = 5\n)\nm.start()",
            "(call m.succeed \"a\" \"b\" timeout=5)\n(call m.start)",
        );
        check(
            "m.succeed(timeout =5, 'a')",
            r#"(call m.succeed "a" timeout=5)"#,
        );
        check(
            "m.succeed(\"\"\"\n  echo \"hi\"\n\"\"\")",
            r#"(call m.succeed "\n  echo \"hi\"\n")"#,
        );
        check(
            "m.succeed(<<A, <<B)\none\nA\ntwo\nB\nm.start",
            "(call m.succeed \"one\\n\" \"two\\n\")\n(call m.start)",
        );
        check("m.succeed(\n<<A)\none\nA\n", r#"(call m.succeed "one\n")"#);
    }

    #[test]
    fn separators() {
        check("start_all; m.start", "(call start_all)\n(call m.start)");
        check("start_all;", "(call start_all)");
        check(
            "start_all # c\r\nm.start\r\n",
            "(call start_all)\n(call m.start)",
        );
        check("\n\n  start_all  \n\n", "(call start_all)");
    }

    #[test]
    fn subtests() {
        check("subtest \"a\" {\n}", r#"(subtest "a")"#);
        check("subtest 'a' { # c\n\n}\n", r#"(subtest "a")"#);
        check(
            "subtest \"a\" {\n  start_all\n  subtest \"b ${x}\" {\n    m.start\n  }\n  m.shutdown\n}\nm.crash",
            "(subtest \"a\" (call start_all) (subtest \"b ${x}\" (call m.start)) (call m.shutdown))\n(call m.crash)",
        );
        check(
            "subtest \"a\" {\n  m.start }",
            r#"(subtest "a" (call m.start))"#,
        );
        check(
            "subtest \"a\" {\n  m.start; }; m.crash",
            "(subtest \"a\" (call m.start))\n(call m.crash)",
        );
    }

    #[test]
    fn heredocs() {
        check(
            "m.succeed <<EOF\necho a\necho b\nEOF\n",
            r#"(call m.succeed "echo a\necho b\n")"#,
        );
        check(
            "subtest \"s\" {\n    m.succeed <<EOF\n      indented\n    plain\n    EOF\n}",
            r#"(subtest "s" (call m.succeed "  indented\nplain\n"))"#,
        );
        check(
            "m.succeed <<'EOF'\n${x} \\n\nEOF\n",
            r#"(call m.succeed "\${x} \\n\n")"#,
        );
        check(
            "m.succeed <<EOF\n${x} \\n $y\nEOF\n",
            r#"(call m.succeed "${x} \\n $y\n")"#,
        );
        check(
            "m.succeed <<EOF contains \"x\"\nbody\nEOF\nm.start",
            "(call m.succeed \"body\\n\" (contains \"x\"))\n(call m.start)",
        );
        check(
            "m.succeed <<A <<B\n1\nA\n2\nB\nm.succeed <<C\n3\nC",
            "(call m.succeed \"1\\n\" \"2\\n\")\n(call m.succeed \"3\\n\")",
        );
        check("m.succeed <<EOF\n\nEOF", r#"(call m.succeed "\n")"#);
        check("m.succeed <<EOF\nEOF", r#"(call m.succeed "")"#);
    }

    #[test]
    fn escapes_in_strings() {
        check(
            r#"m.succeed "\\ \" \n \t \r \0 \$ \x41 \u{e9}""#,
            r#"(call m.succeed "\\ \" \n \t \r \u{0} $ A é")"#,
        );
        check(r#"m.succeed 'a\nb'"#, r#"(call m.succeed "a\\nb")"#);
        check("m.succeed \"a\\\n  b\"", r#"(call m.succeed "a  b")"#);
    }

    #[test]
    fn spans() {
        let src = "x = m.succeed \"a\" timeout=5 == \"b\"\nsubtest \"s\" {\n  m.succeed <<EOF\n  hi\n  EOF\n}\n";
        let script = parse(src).unwrap();
        let text = |span: Span| &src[span.range()];
        let Statement::Call(call) = &script.statements[0] else {
            panic!()
        };
        assert_eq!(text(call.span), "x = m.succeed \"a\" timeout=5 == \"b\"");
        assert_eq!(text(call.call.span), "m.succeed \"a\" timeout=5");
        assert_eq!(text(call.check.as_ref().unwrap().span), "== \"b\"");
        assert_eq!(text(call.call.args[0].span()), "\"a\"");
        assert_eq!(text(call.call.options[0].value.span()), "5");
        let Statement::Subtest { span, body, .. } = &script.statements[1] else {
            panic!()
        };
        assert_eq!(span.line, 1);
        assert!(text(*span).starts_with("subtest") && text(*span).ends_with('}'));
        let Statement::Call(inner) = &body[0] else {
            panic!()
        };
        assert_eq!(text(inner.span), "m.succeed <<EOF");
        assert_eq!(text(inner.call.args[0].span()), "<<EOF\n  hi\n  EOF");
        assert_eq!((inner.span.line, inner.span.column), (2, 2));
    }

    #[test]
    fn unexpected_tokens() {
        error(
            "machine.succeed \"x\" )",
            "\
error: expected string, number, option, output check, newline, `;` or end of input, found `)`
 --> test.cmds:1:21
  |
1 | machine.succeed \"x\" )
  |                     ^
",
        );
        error(
            "machine.succeed(\"x\") \"y\"",
            "\
error: expected output check, newline, `;` or end of input, found string
 --> test.cmds:1:22
  |
1 | machine.succeed(\"x\") \"y\"
  |                      ^^^
",
        );
        error(
            "machine.",
            "\
error: expected identifier, found end of input
 --> test.cmds:1:9
  |
1 | machine.
  |         ^
",
        );
        error(
            "\"hello\"",
            "\
error: expected end of input or statement, found string
 --> test.cmds:1:1
  |
1 | \"hello\"
  | ^^^^^^^
",
        );
        error(
            "x = 5",
            "\
error: expected string or identifier, found number `5`
 --> test.cmds:1:5
  |
1 | x = 5
  |     ^
",
        );
        error(
            "m.succeed \"a\" ==\n",
            "\
error: expected string, found newline
 --> test.cmds:1:17
  |
1 | m.succeed \"a\" ==
  |                 ^
",
        );
        error(
            "m.succeed \"a\" == 5",
            "\
error: expected string, found number `5`
 --> test.cmds:1:18
  |
1 | m.succeed \"a\" == 5
  |                  ^
",
        );
        error(
            "x = \"a\" == \"b\"",
            "\
error: expected newline, `;` or end of input, found `==`
 --> test.cmds:1:9
  |
1 | x = \"a\" == \"b\"
  |         ^^
",
        );
        error(
            "m.succeed(\"a\" \"b\")",
            "\
error: expected `,` or `)`, found string
 --> test.cmds:1:15
  |
1 | m.succeed(\"a\" \"b\")
  |               ^^^
",
        );
        error(
            "m.succeed(;)",
            "\
error: expected `)`, string, number or option, found `;`
 --> test.cmds:1:11
  |
1 | m.succeed(;)
  |           ^
",
        );
        error(
            "m.succeed timeout=)",
            "\
error: expected string or number, found `)`
 --> test.cmds:1:19
  |
1 | m.succeed timeout=)
  |                   ^
",
        );
        error(
            "m.succeed \"a\", \"b\"",
            "\
error: expected string, number, option, output check, newline, `;` or end of input, found `,`
 --> test.cmds:1:14
  |
1 | m.succeed \"a\", \"b\"
  |              ^
",
        );
        error(
            "start_all start_all",
            "\
error: arguments must be quoted strings or numbers, found `start_all`
 --> test.cmds:1:11
  |
1 | start_all start_all
  |           ^^^^^^^^^ quote it: `\"start_all\"`; to use a variable, write `\"${start_all}\"`
",
        );
    }

    #[test]
    fn unquoted_arguments() {
        error(
            "machine.succeed echo hello",
            "\
error: arguments must be quoted strings or numbers, found `echo`
 --> test.cmds:1:17
  |
1 | machine.succeed echo hello
  |                 ^^^^ quote it: `\"echo\"`; to use a variable, write `\"${echo}\"`
",
        );
        error(
            "client.succeed(cmd)",
            "\
error: arguments must be quoted strings or numbers, found `cmd`
 --> test.cmds:1:16
  |
1 | client.succeed(cmd)
  |                ^^^ quote it: `\"cmd\"`; to use a variable, write `\"${cmd}\"`
",
        );
    }

    #[test]
    fn space_around_option_equals() {
        error(
            "m.succeed \"x\" timeout = 60",
            "\
error: spaces around `=` in option `timeout`
 --> test.cmds:1:15
  |
1 | m.succeed \"x\" timeout = 60
  |               ^^^^^^^^^ write `timeout=…` without spaces
",
        );
        error(
            "m.succeed \"x\" timeout= 60",
            "\
error: spaces around `=` in option `timeout`
 --> test.cmds:1:15
  |
1 | m.succeed \"x\" timeout= 60
  |               ^^^^^^^^ write `timeout=…` without spaces
",
        );
    }

    #[test]
    fn subtest_errors() {
        error(
            "subtest = \"x\"",
            "\
error: expected string, found `=`
 --> test.cmds:1:9
  |
1 | subtest = \"x\"
  |         ^
",
        );
        error(
            "subtest {\n}",
            "\
error: expected string, found `{`
 --> test.cmds:1:9
  |
1 | subtest {
  |         ^
",
        );
        error(
            "subtest \"a\" { m.start }",
            "\
error: expected newline, found identifier `m`
 --> test.cmds:1:15
  |
1 | subtest \"a\" { m.start }
  |               ^
",
        );
        error(
            "subtest \"a\"\n{\n}",
            "\
error: expected `{`, found newline
 --> test.cmds:1:12
  |
1 | subtest \"a\"
  |            ^
",
        );
        error(
            "subtest \"a\" {\n}}",
            "\
error: expected newline, `;` or end of input, found `}`
 --> test.cmds:2:2
  |
2 | }}
  |  ^
",
        );
        error(
            "}",
            "\
error: expected end of input or statement, found `}`
 --> test.cmds:1:1
  |
1 | }
  | ^
",
        );
        error(
            "subtest \"a\" {\n  m.start m.crash\n}",
            "\
error: arguments must be quoted strings or numbers, found `m`
 --> test.cmds:2:11
  |
2 |   m.start m.crash
  |           ^ quote it: `\"m\"`; to use a variable, write `\"${m}\"`
",
        );
    }

    #[test]
    fn unclosed() {
        error(
            "start_all\nsubtest \"network\" {\n  m.start\n",
            "\
error: unclosed `{`
 --> test.cmds:2:19
  |
2 | subtest \"network\" {
  |                   ^ the input ends before the matching `}`
",
        );
        error(
            "m.succeed(\n  \"a\",\n",
            "\
error: unclosed `(`
 --> test.cmds:1:10
  |
1 | m.succeed(
  |          ^ the input ends before the matching `)`
",
        );
        incomplete("subtest \"a\" {\n");
        incomplete("subtest \"a\" {\n  subtest \"b\" {\n    m.start\n  }\n");
        incomplete("m.succeed(");
        incomplete("m.succeed(\"a\"\n");
        incomplete("m.succeed(timeout=\n");
        incomplete("m.succeed \"abc\n");
        incomplete("m.succeed <<EOF\nline\n");
        incomplete("x = m.succeed(\"a\",\n  \"b\"");
        complete_error("m.succeed \"a\" ==\n");
        complete_error("subtest \"a\"\n");
        complete_error("m.succeed(\"a\"))\n");
        complete_error("subtest \"a\" {\n  m.succeed \"a\" ==\n");
    }

    #[test]
    fn nesting_limit() {
        let nest = |depth: usize| {
            let mut src = String::new();
            for level in 0..depth {
                src.push_str(&format!("{}subtest \"{level}\" {{\n", " ".repeat(level)));
            }
            src.push_str("start_all\n");
            for level in (0..depth).rev() {
                src.push_str(&format!("{}}}\n", " ".repeat(level)));
            }
            src
        };
        assert!(parse(&nest(MAX_NESTING)).is_ok());
        let src = nest(MAX_NESTING + 1);
        let e = parse(&src).unwrap_err();
        assert_eq!(
            e.render("test.cmds", &src, false),
            format!(
                "\
error: subtests nested more than 32 deep
  --> test.cmds:33:33
   |
33 | {}subtest \"32\" {{
   | {}^^^^^^^
",
                " ".repeat(32),
                " ".repeat(32)
            )
        );
    }

    #[test]
    fn lexer_errors_pass_through() {
        error(
            "m.succeed \"a\\q\"",
            "\
error: invalid escape `\\q`
 --> test.cmds:1:13
  |
1 | m.succeed \"a\\q\"
  |             ^^ write `\\\\` for a backslash or use a raw `'…'` string; escapes: `\\n` `\\t` `\\r` `\\0` `\\\"` `\\$` `\\xHH` `\\u{HHHH}`
",
        );
    }

    #[test]
    fn tree_escapes() {
        check(
            "x = \"tab\\there \\u{1} \\${a} ${b}\"",
            r#"(assign x "tab\there \u{1} \${a} ${b}")"#,
        );
    }
}
