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
//!   brackets, blank lines).
//!
//! Every `next_is`/`accept`/`expect` records what it looked for in `expected`, and
//! consuming a token clears it. So when nothing fits, `Parser::unexpected` reads
//! "expected X, Y or Z, found W" with no bookkeeping at the call sites. When the
//! input ends inside `(…)`, `[…]` or `{…}`, the error is instead an
//! [`DiagKind::UnclosedDelimiter`] at the opening delimiter, which is what an
//! interactive prompt needs to know to ask for more lines.
//!
//! Statements start with a keyword (`if`, `for`, `while`, `def`, `return`, `break`,
//! `continue`, `assert`, `subtest`, `retry`, `polling_condition`, `with`), with
//! `name =` or `a, b =`, with `name.wait` (a polling condition's wait), or are an
//! expression. Expressions climb the usual precedence ladder: `or`, `and`, `not`,
//! comparisons (`== != < <= > >= in`, `not in`, `contains`, `!contains`, `=~`,
//! `!~`), `+ -`, `* /`, unary `-`, then postfix (`.name`, calls, `[…]`). A callee
//! name followed by a literal or a tight `name=value` takes shell-style arguments
//! (`m.succeed "a" timeout=5`); with `(` it takes Python-style ones. An expression
//! statement whose top operator is a comparison is an assert, except that a
//! check after a call (`m.succeed "c" =~ "re"`, also as an assignment's value)
//! becomes the call's [`Check`], with options allowed after it.
//!
//! Newlines end statements except inside `(…)` and `[…]`. Trivia (whitespace,
//! comments and heredoc bodies) is dropped before parsing; the n-th heredoc marker
//! takes the n-th body. The `${…}` holes of strings are lexed and parsed on their
//! own, with spans in the script. Blocks nest at most [`MAX_NESTING`] deep and
//! expressions at most [`MAX_EXPRESSION_DEPTH`], so recursion is bounded.

use crate::script::ast::{
    BinaryOp, Call, CallOption, Check, Condition, Expr, ExprKind, Ident, Procedure, Script,
    Statement, StatementKind, Text, TextPart, UnaryOp,
};
use crate::script::diag::{DiagKind, Diagnostic, or_list};
use crate::script::lexer::{
    Piece, Pos, Token, TokenKind, cook_heredoc, cook_raw, cook_string, lex, lex_span,
};
use crate::script::place;
use crate::script::span::Span;
#[cfg(test)]
use std::fmt::Write as _;

/// How deeply blocks (`{ … }`) may nest.
pub(crate) const MAX_NESTING: usize = 32;

/// How deeply expressions may nest (brackets, operators, calls).
pub(crate) const MAX_EXPRESSION_DEPTH: usize = 64;

/// The words that start statements or act as operators or constants, and so cannot
/// name a variable.
pub(crate) const KEYWORDS: &[&str] = &[
    "if",
    "else",
    "elif",
    "for",
    "in",
    "while",
    "def",
    "return",
    "break",
    "continue",
    "assert",
    "subtest",
    "retry",
    "not",
    "and",
    "or",
    "true",
    "false",
    "True",
    "False",
    "None",
    "polling_condition",
    "with",
];

/// Parses a whole script.
pub(crate) fn parse(src: &str) -> Result<Script, Diagnostic> {
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
    let mut parser = Parser::new(src, significant, bodies);
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
    /// The open `(`, `[` and `{`, innermost last.
    open: Vec<(char, Span)>,
    /// Heredoc body spans, in order.
    bodies: Vec<Span>,
    /// The body the next heredoc marker takes.
    next_body: usize,
    /// The span of the last consumed token.
    last: Span,
    /// How deeply the expression being parsed nests.
    depth: usize,
    /// Whether this parser reads the hole of a string (for its error messages).
    hole: Option<bool>,
    /// Where the last call with shell-style arguments starts and ends.
    last_shell_call: Option<Span>,
}

/// Whether `kind` starts a shell-style argument after a callee name.
fn starts_shell_argument(kind: TokenKind) -> bool {
    kind.is_string() || kind == TokenKind::Number
}

impl<'s> Parser<'s> {
    fn new(src: &'s str, tokens: Vec<Token>, bodies: Vec<Span>) -> Parser<'s> {
        Parser {
            src,
            tokens,
            next: 0,
            expected: Vec::new(),
            open: Vec::new(),
            bodies,
            next_body: 0,
            last: Span::default(),
            depth: 0,
            hole: None,
            last_shell_call: None,
        }
    }

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

    /// Whether the next token is the keyword (or word operator) `word`.
    fn next_is_word(&mut self, word: &'static str) -> bool {
        self.note(word);
        let token = self.peek();
        token.kind == TokenKind::Identifier && token.lexeme(self.src) == word
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

    fn accept_word(&mut self, word: &'static str) -> Option<Token> {
        self.next_is_word(word).then(|| self.advance())
    }

    /// `accept` for operators, which the "expected" list sums up as "operator".
    fn accept_operator(&mut self, kind: TokenKind) -> bool {
        self.note("operator");
        let found = self.peek().kind == kind;
        if found {
            self.advance();
        }
        found
    }

    /// `accept_operator` for the word operators `and` and `or`.
    fn accept_word_operator(&mut self, word: &str) -> bool {
        self.note("operator");
        let token = self.peek();
        let found = token.kind == TokenKind::Identifier && token.lexeme(self.src) == word;
        if found {
            self.advance();
        }
        found
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

    /// Inside `(…)` or `[…]`, newlines are not statement ends: skips them.
    fn skip_bracketed_newlines(&mut self) {
        if matches!(self.open.last(), Some(('(' | '[', _))) {
            while self.skip(TokenKind::Newline) {}
        }
    }

    /// The expression before a block (`subtest`, `if`, `for`, `while`): a `{` there
    /// opens the block, so the expression is missing (not an empty JSON object).
    fn parse_head(&mut self) -> Result<Expr, Diagnostic> {
        if self.peek().kind == TokenKind::LBrace {
            self.note("expression");
            return Err(self.unexpected());
        }
        self.parse_expr()
    }

    /// `{key: value, …}`, a JSON object; newlines may separate the entries.
    fn parse_dict(&mut self) -> Result<Expr, Diagnostic> {
        let open = self.advance();
        self.open.push(('{', open.span));
        let mut entries = Vec::new();
        loop {
            while self.skip(TokenKind::Newline) {}
            if self.accept(TokenKind::RBrace).is_some() {
                break;
            }
            let key = self.parse_expr()?;
            self.expect(TokenKind::Colon)?;
            while self.skip(TokenKind::Newline) {}
            let value = self.parse_expr()?;
            entries.push((key, value));
            while self.skip(TokenKind::Newline) {}
            if self.accept(TokenKind::Comma).is_none() {
                self.expect(TokenKind::RBrace)?;
                break;
            }
        }
        self.open.pop();
        Ok(Expr {
            kind: ExprKind::Dict(entries),
            span: open.span.to(self.last),
        })
    }

    /// The error for a next token that fits nothing in `expected`.
    fn unexpected(&self) -> Diagnostic {
        let token = self.peek();
        if token.kind == TokenKind::Eof
            && self.hole.is_none()
            && let Some(&(open, span)) = self.open.last()
        {
            return Diagnostic::new(span, DiagKind::UnclosedDelimiter { open });
        }
        let expected: Vec<String> = self.expected.iter().map(|s| s.to_string()).collect();
        let found = token.describe(self.src);
        if let Some(heredoc) = self.hole {
            let expected: Vec<String> = expected
                .into_iter()
                .map(|e| match e.as_str() {
                    "end of input" => "`}`".to_string(),
                    _ => e,
                })
                .collect();
            return Diagnostic::new(
                token.span,
                DiagKind::InvalidInterpolation {
                    heredoc,
                    detail: Some(format!("expected {}, found {found}", or_list(&expected))),
                },
            );
        }
        Diagnostic::new(token.span, DiagKind::UnexpectedToken { expected, found })
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

    /// Whether the next token is an identifier that names no keyword.
    fn next_is_name(&mut self) -> bool {
        self.note("identifier");
        let token = self.peek();
        token.kind == TokenKind::Identifier && !KEYWORDS.contains(&token.lexeme(self.src))
    }

    /// Whether the next two tokens are `name=` written without spaces.
    fn next_is_tight_option(&self) -> bool {
        let (name, equals) = (self.peek(), self.peek_nth(1));
        name.kind == TokenKind::Identifier
            && equals.kind == TokenKind::Equals
            && Self::adjacent(name, equals)
            && Self::adjacent(equals, self.peek_nth(2))
    }

    // Statements.

    fn parse_script(&mut self) -> Result<Script, Diagnostic> {
        let statements = self.parse_statements()?;
        self.presume(TokenKind::Eof)?;
        Ok(Script { statements })
    }

    /// Statements up to the end of the input, or up to the `}` of the open block.
    fn parse_statements(&mut self) -> Result<Vec<Statement>, Diagnostic> {
        let mut statements = Vec::new();
        loop {
            while self.skip(TokenKind::Newline) || self.skip(TokenKind::Semicolon) {}
            if self.next_is(self.end_kind()) {
                return Ok(statements);
            }
            statements.push(self.parse_statement()?);
            self.expect_terminator()?;
        }
    }

    /// What ends the statements being read: `}` in a block, the input otherwise.
    fn end_kind(&self) -> TokenKind {
        if self.open.is_empty() {
            TokenKind::Eof
        } else {
            TokenKind::RBrace
        }
    }

    /// A newline or `;`; or nothing before the closing `}` or the end of input.
    fn expect_terminator(&mut self) -> Result<(), Diagnostic> {
        if self.accept(TokenKind::Newline).is_some() || self.accept(TokenKind::Semicolon).is_some()
        {
            return Ok(());
        }
        if self.next_is(self.end_kind()) {
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    fn parse_statement(&mut self) -> Result<Statement, Diagnostic> {
        self.note("statement");
        let first = self.peek();
        let word = match first.kind {
            TokenKind::Identifier => first.lexeme(self.src),
            _ => "",
        };
        let kind = match word {
            "subtest" => {
                self.advance();
                let name = self.parse_head()?;
                let body = self.parse_block(first.span)?;
                StatementKind::Subtest { name, body }
            }
            "if" => self.parse_if()?,
            "for" => {
                self.advance();
                if !self.next_is_name() {
                    return Err(self.unexpected());
                }
                let var = self.advance();
                let var = self.ident(var);
                if self.accept_word("in").is_none() {
                    return Err(self.unexpected());
                }
                let iterable = self.parse_head()?;
                let body = self.parse_block(first.span)?;
                StatementKind::For {
                    var,
                    iterable,
                    body,
                }
            }
            "while" => {
                self.advance();
                let condition = self.parse_head()?;
                let body = self.parse_block(first.span)?;
                StatementKind::While { condition, body }
            }
            "def" => self.parse_def()?,
            "return" => {
                self.advance();
                let ends = [
                    TokenKind::Newline,
                    TokenKind::Semicolon,
                    TokenKind::RBrace,
                    TokenKind::Eof,
                ];
                if ends.contains(&self.peek().kind) {
                    StatementKind::Return(None)
                } else {
                    StatementKind::Return(Some(self.parse_expr()?))
                }
            }
            "break" => {
                self.advance();
                StatementKind::Break
            }
            "continue" => {
                self.advance();
                StatementKind::Continue
            }
            "assert" => {
                self.advance();
                let condition = self.parse_expr()?;
                let message = match self.accept(TokenKind::Comma) {
                    Some(_) => Some(self.parse_expr()?),
                    None => None,
                };
                StatementKind::Assert { condition, message }
            }
            "retry" => self.parse_retry()?,
            "polling_condition" => self.parse_polling_condition()?,
            "with" => self.parse_with()?,
            _ if self.starts_wait() => self.parse_wait()?,
            _ if self.starts_assignment() => self.parse_assignment()?,
            _ => {
                if first.kind != TokenKind::Identifier {
                    return Err(self.unexpected());
                }
                let expr = self.parse_expr()?;
                if matches!(expr.kind, ExprKind::Index { .. })
                    && self.accept(TokenKind::Equals).is_some()
                {
                    let value = self.parse_expr()?;
                    place::assign(&expr, value)
                        .ok_or_else(|| Diagnostic::new(expr.span, DiagKind::NotAPlace))?
                } else {
                    self.expression_statement(expr)?
                }
            }
        };
        Ok(Statement {
            kind,
            span: first.span.to(self.last),
        })
    }

    /// Whether the next tokens are `name.wait` and then the end of the statement
    /// or an option: a polling condition's wait (no machine has a method `wait`).
    fn starts_wait(&self) -> bool {
        let [name, dot, wait, after] = [0, 1, 2, 3].map(|n| self.peek_nth(n));
        name.kind == TokenKind::Identifier
            && !KEYWORDS.contains(&name.lexeme(self.src))
            && dot.kind == TokenKind::Dot
            && wait.kind == TokenKind::Identifier
            && wait.lexeme(self.src) == "wait"
            && Self::adjacent(name, dot)
            && Self::adjacent(dot, wait)
            && matches!(
                after.kind,
                TokenKind::Newline
                    | TokenKind::Semicolon
                    | TokenKind::RBrace
                    | TokenKind::Eof
                    | TokenKind::Identifier
            )
    }

    /// Whether the next tokens are `name =` or `name ,`.
    fn starts_assignment(&self) -> bool {
        let first = self.peek();
        first.kind == TokenKind::Identifier
            && !KEYWORDS.contains(&first.lexeme(self.src))
            && matches!(self.peek_nth(1).kind, TokenKind::Equals | TokenKind::Comma)
    }

    /// `name {"," name} "=" expr [options after a check]`.
    fn parse_assignment(&mut self) -> Result<StatementKind, Diagnostic> {
        let mut targets = Vec::new();
        loop {
            if !self.next_is_name() {
                return Err(self.unexpected());
            }
            let name = self.advance();
            targets.push(self.ident(name));
            if self.accept(TokenKind::Comma).is_none() {
                break;
            }
        }
        self.expect(TokenKind::Equals)?;
        let value = self.parse_expr()?;
        let value = self.attach_check(value, true)?;
        Ok(StatementKind::Assign { targets, value })
    }

    /// An expression standing as a statement: a checked call, an assert (a
    /// comparison), a bare command name (`start_all`), or the expression itself.
    fn expression_statement(&mut self, expr: Expr) -> Result<StatementKind, Diagnostic> {
        let expr = self.attach_check(expr, false)?;
        Ok(match expr.kind {
            ExprKind::Binary { op, .. } if op.is_comparison() => StatementKind::Assert {
                condition: expr,
                message: None,
            },
            ExprKind::Name(name) => StatementKind::Expr(Expr {
                span: expr.span,
                kind: ExprKind::Call(Call {
                    target: None,
                    name,
                    args: Vec::new(),
                    options: Vec::new(),
                    check: None,
                }),
            }),
            ExprKind::Call(ref call) => match place::in_place(call, expr.span) {
                Some(assignment) => assignment,
                None => StatementKind::Expr(expr),
            },
            _ => StatementKind::Expr(expr),
        })
    }

    /// Turns `call CHECK operand` into the call with that check, and reads the
    /// options that may follow the check. In an assignment (`shell_only`), only a
    /// call with shell-style arguments takes a check (`x = m.succeed "a" == "b"`),
    /// so that `ok = len(x) == 3` stays a comparison.
    fn attach_check(&mut self, expr: Expr, shell_only: bool) -> Result<Expr, Diagnostic> {
        let ExprKind::Binary { op, left, right } = expr.kind else {
            return Ok(expr);
        };
        let ExprKind::Call(mut call) = left.kind else {
            return Ok(Expr {
                kind: ExprKind::Binary { op, left, right },
                span: expr.span,
            });
        };
        let shell = self.last_shell_call == Some(left.span);
        if !op.is_check() || call.check.is_some() || (shell_only && !shell) {
            let left = Box::new(Expr {
                kind: ExprKind::Call(call),
                span: left.span,
            });
            return Ok(Expr {
                kind: ExprKind::Binary { op, left, right },
                span: expr.span,
            });
        }
        let operator = Span {
            offset: left.span.end(),
            ..left.span
        };
        let check_start = self.operator_span(operator, right.span);
        call.check = Some(Box::new(Check {
            op,
            span: check_start.to(right.span),
            operand: *right,
        }));
        while self.next_is_tight_option() {
            call.options.push(self.parse_option(false)?);
        }
        Ok(Expr {
            kind: ExprKind::Call(call),
            span: left.span.to(self.last),
        })
    }

    /// The span of the operator token between `after` and `before`.
    fn operator_span(&self, after: Span, before: Span) -> Span {
        self.tokens
            .iter()
            .find(|token| token.span.offset >= after.offset && token.span.end() <= before.offset)
            .map_or(before, |token| token.span)
    }

    /// `"{" statements "}"`, the statements on the same line or on their own lines;
    /// `keyword` is the block's, which a too deep nesting is reported at.
    fn parse_block(&mut self, keyword: Span) -> Result<Vec<Statement>, Diagnostic> {
        let braces = self.open.iter().filter(|(c, _)| *c == '{').count();
        if braces >= MAX_NESTING {
            return Err(Diagnostic::new(
                keyword,
                DiagKind::NestingTooDeep {
                    what: "blocks",
                    limit: MAX_NESTING,
                },
            ));
        }
        let open = self.expect(TokenKind::LBrace)?;
        self.open.push(('{', open.span));
        let body = self.parse_statements()?;
        self.expect(TokenKind::RBrace)?;
        self.open.pop();
        Ok(body)
    }

    /// `if expr block { else if expr block } [ else block ]`; `elif` is `else if`,
    /// and `else` may start the line after the `}`.
    fn parse_if(&mut self) -> Result<StatementKind, Diagnostic> {
        let keyword = self.advance().span;
        let mut branches = vec![(self.parse_head()?, self.parse_block(keyword)?)];
        let mut otherwise = None;
        loop {
            let mut ahead = 0;
            while self.peek_nth(ahead).kind == TokenKind::Newline {
                ahead += 1;
            }
            let word = self.peek_nth(ahead);
            let word = match word.kind {
                TokenKind::Identifier => word.lexeme(self.src),
                _ => "",
            };
            if word != "else" && word != "elif" {
                self.note("else");
                break;
            }
            for _ in 0..ahead {
                self.advance();
            }
            self.advance();
            if word == "elif" || self.accept_word("if").is_some() {
                branches.push((self.parse_head()?, self.parse_block(keyword)?));
            } else {
                otherwise = Some(self.parse_block(keyword)?);
                break;
            }
        }
        Ok(StatementKind::If {
            branches,
            otherwise,
        })
    }

    /// `def name "(" [name {"," name}] ")" block`.
    fn parse_def(&mut self) -> Result<StatementKind, Diagnostic> {
        let keyword = self.advance().span;
        if !self.next_is_name() {
            return Err(self.unexpected());
        }
        let name = self.advance();
        let name = self.ident(name);
        let open = self.expect(TokenKind::LParen)?;
        self.open.push(('(', open.span));
        let mut params = Vec::new();
        loop {
            self.skip_bracketed_newlines();
            if self.accept(TokenKind::RParen).is_some() {
                break;
            }
            if !self.next_is_name() {
                return Err(self.unexpected());
            }
            let param = self.advance();
            params.push(self.ident(param));
            self.skip_bracketed_newlines();
            if self.accept(TokenKind::Comma).is_none() {
                self.expect(TokenKind::RParen)?;
                break;
            }
        }
        self.open.pop();
        let body = self.parse_block(keyword)?;
        Ok(StatementKind::Def(Procedure { name, params, body }))
    }

    /// `retry {option} block`.
    fn parse_retry(&mut self) -> Result<StatementKind, Diagnostic> {
        let keyword = self.advance();
        let [timeout] = self.parse_keyword_options(keyword, ["timeout"])?;
        if self.next_is_name() {
            let function = self.advance();
            let function = self.ident(function);
            return Ok(StatementKind::RetryCall { timeout, function });
        }
        let body = self.parse_block(keyword.span)?;
        Ok(StatementKind::Retry { timeout, body })
    }

    /// `polling_condition name {option} block`, the options `interval` and
    /// `description`.
    fn parse_polling_condition(&mut self) -> Result<StatementKind, Diagnostic> {
        let keyword = self.advance();
        if !self.next_is_name() {
            return Err(self.unexpected());
        }
        let name = self.advance();
        let name = self.ident(name);
        let [interval, description] =
            self.parse_keyword_options(keyword, ["interval", "description"])?;
        let body = self.parse_block(keyword.span)?;
        Ok(StatementKind::PollingCondition(Condition {
            name,
            interval,
            description,
            body,
        }))
    }

    /// `with name {"," name} block`.
    fn parse_with(&mut self) -> Result<StatementKind, Diagnostic> {
        let keyword = self.advance();
        let mut conditions = Vec::new();
        loop {
            if !self.next_is_name() {
                return Err(self.unexpected());
            }
            let name = self.advance();
            let name = self.ident(name);
            conditions.push(Expr {
                span: name.span,
                kind: ExprKind::Name(name),
            });
            if self.accept(TokenKind::Comma).is_none() {
                break;
            }
        }
        let body = self.parse_block(keyword.span)?;
        Ok(StatementKind::With { conditions, body })
    }

    /// `name.wait {option}`, the option `timeout`.
    fn parse_wait(&mut self) -> Result<StatementKind, Diagnostic> {
        let name = self.advance();
        let name = self.ident(name);
        self.presume(TokenKind::Dot)?;
        let wait = self.advance();
        let [timeout] = self.parse_keyword_options(wait, ["timeout"])?;
        let condition = Expr {
            span: name.span,
            kind: ExprKind::Name(name),
        };
        Ok(StatementKind::WaitCondition { condition, timeout })
    }

    /// The tight `name=value` options after `keyword`, each of `names` at most
    /// once, as their values in the order of `names`.
    fn parse_keyword_options<const N: usize>(
        &mut self,
        keyword: Token,
        names: [&str; N],
    ) -> Result<[Option<Expr>; N], Diagnostic> {
        let mut values = [const { None }; N];
        while self.next_is_tight_option() {
            let option = self.parse_option(false)?;
            let slot = names.iter().position(|name| *name == option.name.name);
            match slot {
                Some(slot) if values[slot].is_none() => values[slot] = Some(option.value),
                _ => {
                    return Err(Diagnostic::new(
                        option.name.span,
                        DiagKind::UnknownOption {
                            method: self.ident(keyword).name,
                            option: option.name.name,
                            suggestion: None,
                        },
                    ));
                }
            }
        }
        Ok(values)
    }

    // Expressions.

    /// Any expression.
    fn parse_expr(&mut self) -> Result<Expr, Diagnostic> {
        self.nested(Self::parse_or)
    }

    /// The error for an expression nested deeper than [`MAX_EXPRESSION_DEPTH`].
    fn too_deep(span: Span) -> Diagnostic {
        Diagnostic::new(
            span,
            DiagKind::NestingTooDeep {
                what: "expressions",
                limit: MAX_EXPRESSION_DEPTH,
            },
        )
    }

    fn binary(op: BinaryOp, left: Expr, right: Expr) -> Expr {
        Expr {
            span: left.span.to(right.span),
            kind: ExprKind::Binary {
                op,
                left: Box::new(left),
                right: Box::new(right),
            },
        }
    }

    fn parse_or(&mut self) -> Result<Expr, Diagnostic> {
        let mut left = self.parse_and()?;
        let mut links = 0;
        loop {
            self.skip_bracketed_newlines();
            if !self.accept_word_operator("or") {
                self.depth -= links;
                return Ok(left);
            }
            self.link(&mut links)?;
            self.skip_bracketed_newlines();
            let right = self.parse_and()?;
            left = Self::binary(BinaryOp::Or, left, right);
        }
    }

    fn parse_and(&mut self) -> Result<Expr, Diagnostic> {
        let mut left = self.parse_not()?;
        let mut links = 0;
        loop {
            self.skip_bracketed_newlines();
            if !self.accept_word_operator("and") {
                self.depth -= links;
                return Ok(left);
            }
            self.link(&mut links)?;
            self.skip_bracketed_newlines();
            let right = self.parse_not()?;
            left = Self::binary(BinaryOp::And, left, right);
        }
    }

    fn parse_not(&mut self) -> Result<Expr, Diagnostic> {
        let token = self.peek();
        if token.kind == TokenKind::Identifier && token.lexeme(self.src) == "not" {
            let not = self.advance();
            let operand = self.nested(Self::parse_not)?;
            return Ok(Expr {
                span: not.span.to(operand.span),
                kind: ExprKind::Unary {
                    op: UnaryOp::Not,
                    operand: Box::new(operand),
                },
            });
        }
        self.parse_comparison()
    }

    /// Counts one more link of an operator or postfix chain (`a + b + c`,
    /// `x.a().b()`), which deepens the tree as nesting does; `links` is undone by
    /// the caller when the chain ends.
    fn link(&mut self, links: &mut usize) -> Result<(), Diagnostic> {
        *links += 1;
        self.depth += 1;
        if self.depth > MAX_EXPRESSION_DEPTH {
            return Err(Self::too_deep(self.last));
        }
        Ok(())
    }

    /// Runs `f` one expression level deeper (for the depth cap).
    fn nested(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<Expr, Diagnostic>,
    ) -> Result<Expr, Diagnostic> {
        self.depth += 1;
        if self.depth > MAX_EXPRESSION_DEPTH {
            return Err(Self::too_deep(self.peek().span));
        }
        let result = f(self);
        self.depth -= 1;
        result
    }

    /// The comparison operator next, if any (consumed).
    fn accept_comparison(&mut self) -> Option<BinaryOp> {
        self.skip_bracketed_newlines();
        self.note("operator");
        let token = self.peek();
        let op = match token.kind {
            TokenKind::EqualsEquals => BinaryOp::Eq,
            TokenKind::BangEquals => BinaryOp::Ne,
            TokenKind::Less => BinaryOp::Lt,
            TokenKind::LessEquals => BinaryOp::Le,
            TokenKind::Greater => BinaryOp::Gt,
            TokenKind::GreaterEquals => BinaryOp::Ge,
            TokenKind::Match => BinaryOp::Matches,
            TokenKind::NotMatch => BinaryOp::NotMatches,
            TokenKind::NotContains => BinaryOp::NotContains,
            TokenKind::Identifier => match token.lexeme(self.src) {
                "contains" => BinaryOp::Contains,
                "in" => BinaryOp::In,
                "not" if self.peek_nth(1).lexeme(self.src) == "in" => {
                    self.advance();
                    BinaryOp::NotIn
                }
                _ => return None,
            },
            _ => return None,
        };
        self.advance();
        Some(op)
    }

    /// `sum [comparison sum]`: comparisons do not chain.
    fn parse_comparison(&mut self) -> Result<Expr, Diagnostic> {
        let left = self.parse_sum()?;
        let Some(op) = self.accept_comparison() else {
            return Ok(left);
        };
        self.skip_bracketed_newlines();
        let right = self.parse_sum()?;
        let expr = Self::binary(op, left, right);
        let next = self.next;
        if let Some(second) = self.accept_comparison() {
            let operator = self.tokens[next..self.next]
                .iter()
                .fold(None, |span: Option<Span>, token| {
                    Some(span.map_or(token.span, |span| span.to(token.span)))
                })
                .unwrap_or(self.last);
            return Err(Diagnostic::new(
                operator,
                DiagKind::ChainedComparison {
                    first: op.as_str(),
                    second: second.as_str(),
                },
            ));
        }
        Ok(expr)
    }

    fn parse_sum(&mut self) -> Result<Expr, Diagnostic> {
        let mut left = self.parse_product()?;
        let mut links = 0;
        loop {
            self.skip_bracketed_newlines();
            let op = if self.accept_operator(TokenKind::Plus) {
                BinaryOp::Add
            } else if self.accept_operator(TokenKind::Minus) {
                BinaryOp::Sub
            } else {
                self.depth -= links;
                return Ok(left);
            };
            self.link(&mut links)?;
            self.skip_bracketed_newlines();
            let right = self.parse_product()?;
            left = Self::binary(op, left, right);
        }
    }

    fn parse_product(&mut self) -> Result<Expr, Diagnostic> {
        let mut left = self.parse_unary()?;
        let mut links = 0;
        loop {
            self.skip_bracketed_newlines();
            let op = if self.accept_operator(TokenKind::Star) {
                BinaryOp::Mul
            } else if self.accept_operator(TokenKind::Slash) {
                BinaryOp::Div
            } else {
                self.depth -= links;
                return Ok(left);
            };
            self.link(&mut links)?;
            self.skip_bracketed_newlines();
            let right = self.parse_unary()?;
            left = Self::binary(op, left, right);
        }
    }

    /// `-unary | postfix`; `-` before a number literal makes a negative literal.
    fn parse_unary(&mut self) -> Result<Expr, Diagnostic> {
        if self.peek().kind != TokenKind::Minus {
            return self.parse_postfix();
        }
        let minus = self.advance();
        let operand = self.nested(Self::parse_unary)?;
        let span = minus.span.to(operand.span);
        let kind = match operand.kind {
            ExprKind::Int(value) => ExprKind::Int(-value),
            ExprKind::Float(value) => ExprKind::Float(-value),
            kind => ExprKind::Unary {
                op: UnaryOp::Neg,
                operand: Box::new(Expr {
                    kind,
                    span: operand.span,
                }),
            },
        };
        Ok(Expr { kind, span })
    }

    /// A primary followed by `.name[args]`, `(args)` (after a name) and `[…]`.
    fn parse_postfix(&mut self) -> Result<Expr, Diagnostic> {
        let mut expr = self.parse_primary()?;
        let mut links = 0;
        loop {
            let next = self.peek().kind;
            let shell = if next == TokenKind::Dot {
                self.advance();
                if !self.next_is(TokenKind::Identifier) {
                    return Err(self.unexpected());
                }
                let name = self.advance();
                let name = self.ident(name);
                let (call, shell) = self.parse_call(Some(expr), name)?;
                expr = call;
                shell
            } else if let ExprKind::Name(name) = &expr.kind
                && (next == TokenKind::LParen || self.starts_shell_arguments())
            {
                let (call, shell) = self.parse_call(None, name.clone())?;
                expr = call;
                shell
            } else if next == TokenKind::LBracket {
                expr = self.parse_index(expr)?;
                false
            } else {
                match &expr.kind {
                    ExprKind::Call(call) => self.refuse_bare_word(&call.name.name)?,
                    ExprKind::Name(name) => self.refuse_bare_word(&name.name)?,
                    _ => {}
                }
                true
            };
            if shell {
                self.refuse_operator_after_shell_arguments(&expr)?;
                self.depth -= links;
                return Ok(expr);
            }
            self.link(&mut links)?;
        }
    }

    /// Whether shell-style arguments follow a callee name.
    fn starts_shell_arguments(&mut self) -> bool {
        self.note("string");
        self.note("number");
        let token = self.peek();
        starts_shell_argument(token.kind) || self.next_is_tight_option() || self.next_is_negative()
    }

    /// Whether a `-` glued to a number, but not to what precedes it, comes next:
    /// `sleep -1` (an argument) rather than `n - 1` or `n-1`.
    fn next_is_negative(&self) -> bool {
        let (minus, number) = (self.peek(), self.peek_nth(1));
        minus.kind == TokenKind::Minus
            && number.kind == TokenKind::Number
            && Self::adjacent(minus, number)
            && self.last.end() != minus.span.offset
    }

    /// `log "a" + x` would log `a` alone: shell-style arguments are literals, so
    /// arithmetic right after them is refused.
    fn refuse_operator_after_shell_arguments(&self, expr: &Expr) -> Result<(), Diagnostic> {
        let (ExprKind::Call(call), Some(shell)) = (&expr.kind, self.last_shell_call) else {
            return Ok(());
        };
        let token = self.peek();
        let arithmetic = matches!(
            token.kind,
            TokenKind::Plus | TokenKind::Minus | TokenKind::Star | TokenKind::Slash
        );
        if shell != expr.span || !arithmetic || call.args.is_empty() {
            return Ok(());
        }
        Err(Diagnostic::new(
            token.span,
            DiagKind::OperatorAfterShellArguments {
                op: token.lexeme(self.src).to_string(),
                callee: call.name.name.clone(),
            },
        ))
    }

    /// A word after a callee is a forgotten pair of quotes: `m.succeed echo hi`.
    fn refuse_bare_word(&mut self, callee: &str) -> Result<(), Diagnostic> {
        let token = self.peek();
        let word = token.lexeme(self.src);
        if token.kind == TokenKind::Identifier && !KEYWORDS.contains(&word) && word != "contains" {
            return Err(Diagnostic::new(
                token.span,
                DiagKind::UnquotedArgument {
                    word: word.to_string(),
                    callee: callee.to_string(),
                },
            ));
        }
        Ok(())
    }

    /// The arguments of the callee `name` (on `target`): `(…)`, shell-style, or none.
    /// Also returns whether they were shell-style (which ends the postfix chain).
    fn parse_call(
        &mut self,
        target: Option<Expr>,
        name: Ident,
    ) -> Result<(Expr, bool), Diagnostic> {
        let start = target.as_ref().map_or(name.span, |target| target.span);
        let mut call = Call {
            target: target.map(Box::new),
            name,
            args: Vec::new(),
            options: Vec::new(),
            check: None,
        };
        let shell = if self.next_is(TokenKind::LParen) {
            self.parse_parenthesized(&mut call)?;
            false
        } else if self.starts_shell_arguments() {
            self.parse_shell_arguments(&mut call)?;
            true
        } else {
            false
        };
        let span = start.to(self.last);
        if shell {
            self.last_shell_call = Some(span);
        }
        Ok((
            Expr {
                kind: ExprKind::Call(call),
                span,
            },
            shell,
        ))
    }

    /// `{literal | option}`: strings, numbers (`-5` written tight) and tight options.
    fn parse_shell_arguments(&mut self, call: &mut Call) -> Result<(), Diagnostic> {
        loop {
            let token = self.peek();
            if token.kind == TokenKind::Identifier && self.peek_nth(1).kind == TokenKind::Equals {
                call.options.push(self.parse_option(false)?);
            } else if starts_shell_argument(token.kind) {
                call.args.push(self.parse_primary()?);
            } else if self.next_is_negative() {
                call.args.push(self.parse_unary()?);
            } else {
                self.note("string");
                self.note("number");
                self.note("option");
                return self.refuse_bare_word(&call.name.name);
            }
        }
    }

    /// `"(" [item {"," item} [","]] ")"`, where an item is an expression or
    /// `name=expr`; newlines allowed inside.
    fn parse_parenthesized(&mut self, call: &mut Call) -> Result<(), Diagnostic> {
        let open = self.presume(TokenKind::LParen)?;
        self.open.push(('(', open.span));
        loop {
            self.skip_bracketed_newlines();
            if self.accept(TokenKind::RParen).is_some() {
                break;
            }
            let token = self.peek();
            if token.kind == TokenKind::Identifier && self.peek_nth(1).kind == TokenKind::Equals {
                call.options.push(self.parse_option(true)?);
            } else {
                self.note("option");
                call.args.push(self.parse_expr()?);
            }
            self.skip_bracketed_newlines();
            if self.accept(TokenKind::Comma).is_none() {
                self.expect(TokenKind::RParen)?;
                break;
            }
        }
        self.open.pop();
        Ok(())
    }

    /// `name=value`; with `spaced` (inside parentheses), spaces around `=` are allowed
    /// and the value is any expression; otherwise the value is a literal.
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
        let value = if spaced {
            self.skip_bracketed_newlines();
            self.parse_expr()?
        } else if self.peek().kind == TokenKind::Minus {
            self.parse_unary()?
        } else if self.peek().kind == TokenKind::LParen {
            // `timeout=(5 * 60)`: any expression, in parentheses.
            self.parse_primary()?
        } else {
            self.note("string");
            if !self.next_is(TokenKind::Number) && !self.peek().kind.is_string() {
                return Err(self.unexpected());
            }
            self.parse_primary()?
        };
        Ok(CallOption { name, value })
    }

    /// `"[" expr "]"` or `"[" [expr] ":" [expr] "]"`.
    fn parse_index(&mut self, base: Expr) -> Result<Expr, Diagnostic> {
        let open = self.presume(TokenKind::LBracket)?;
        self.open.push(('[', open.span));
        self.skip_bracketed_newlines();
        let start = if self.next_is(TokenKind::Colon) {
            None
        } else {
            Some(Box::new(self.parse_expr()?))
        };
        self.skip_bracketed_newlines();
        let kind = if self.accept(TokenKind::Colon).is_some() {
            self.skip_bracketed_newlines();
            let end = if self.next_is(TokenKind::RBracket) {
                None
            } else {
                Some(Box::new(self.parse_expr()?))
            };
            self.skip_bracketed_newlines();
            ExprKind::Slice {
                base: Box::new(base.clone()),
                start,
                end,
            }
        } else {
            match start {
                Some(index) => ExprKind::Index {
                    base: Box::new(base.clone()),
                    index,
                },
                None => return Err(self.unexpected()),
            }
        };
        let close = self.expect(TokenKind::RBracket)?;
        self.open.pop();
        Ok(Expr {
            kind,
            span: base.span.to(close.span),
        })
    }

    /// A literal, a name, `[list]` or `(expr)`.
    fn parse_primary(&mut self) -> Result<Expr, Diagnostic> {
        self.note("expression");
        let token = self.peek();
        if token.kind.is_string() {
            return self.parse_string();
        }
        match token.kind {
            TokenKind::Number => self.parse_number(),
            TokenKind::LBracket => {
                let open = self.advance();
                self.open.push(('[', open.span));
                let mut items = Vec::new();
                loop {
                    self.skip_bracketed_newlines();
                    if self.accept(TokenKind::RBracket).is_some() {
                        break;
                    }
                    items.push(self.parse_expr()?);
                    self.skip_bracketed_newlines();
                    if self.accept(TokenKind::Comma).is_none() {
                        self.expect(TokenKind::RBracket)?;
                        break;
                    }
                }
                self.open.pop();
                Ok(Expr {
                    kind: ExprKind::List(items),
                    span: open.span.to(self.last),
                })
            }
            TokenKind::LBrace => self.parse_dict(),
            TokenKind::LParen => {
                let open = self.advance();
                self.open.push(('(', open.span));
                self.skip_bracketed_newlines();
                let mut inner = self.parse_expr()?;
                self.skip_bracketed_newlines();
                let close = self.expect(TokenKind::RParen)?;
                self.open.pop();
                inner.span = open.span.to(close.span);
                Ok(inner)
            }
            TokenKind::Identifier => {
                let word = token.lexeme(self.src);
                let kind = match word {
                    "true" | "True" => ExprKind::Bool(true),
                    "false" | "False" => ExprKind::Bool(false),
                    "None" => ExprKind::None,
                    _ if KEYWORDS.contains(&word) => return Err(self.unexpected()),
                    _ => ExprKind::Name(self.ident(token)),
                };
                self.advance();
                Ok(Expr {
                    kind,
                    span: token.span,
                })
            }
            _ => Err(self.unexpected()),
        }
    }

    fn parse_number(&mut self) -> Result<Expr, Diagnostic> {
        let token = self.presume(TokenKind::Number)?;
        let lexeme = token.lexeme(self.src);
        // A whole number too large for an i64 stays a number, as a float.
        let kind = match lexeme.parse::<i64>() {
            Ok(value) if !lexeme.contains('.') => Some(ExprKind::Int(value)),
            _ => lexeme.parse::<f64>().map(ExprKind::Float).ok(),
        };
        match kind {
            Some(kind) => Ok(Expr {
                kind,
                span: token.span,
            }),
            None => Err(Diagnostic::new(
                token.span,
                DiagKind::InvalidNumber {
                    text: lexeme.to_string(),
                },
            )),
        }
    }

    /// Any string literal: `"…"`, `'…'`, `"""…"""` or a heredoc.
    fn parse_string(&mut self) -> Result<Expr, Diagnostic> {
        let token = self.advance();
        let start = Pos::start_of(token.span);
        let (pieces, span, heredoc) = match token.kind {
            TokenKind::String | TokenKind::TripleString => {
                (cook_string(self.src, start)?.0, token.span, false)
            }
            TokenKind::RawString => (cook_raw(self.src, start)?.0, token.span, false),
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
                let pieces = cook_heredoc(self.src, body, raw, delimiter)?;
                let lexeme = &self.src[body.range()];
                let ending = lexeme.len() - lexeme.trim_end_matches(['\r', '\n']).len();
                let end = Span {
                    len: body.len - ending.min(2),
                    ..body
                };
                (pieces, token.span.to(end), true)
            }
            kind => {
                return Err(Diagnostic::new(
                    token.span,
                    DiagKind::Internal {
                        message: format!("presumed a string, found {kind:?}"),
                    },
                ));
            }
        };
        let mut parts = Vec::with_capacity(pieces.len());
        for piece in pieces {
            parts.push(match piece {
                Piece::Literal(literal) => TextPart::Literal(literal),
                Piece::Hole(hole) => TextPart::Expr(self.parse_hole(hole, heredoc)?),
            });
        }
        Ok(Expr {
            kind: ExprKind::Str(Text { parts }),
            span,
        })
    }

    /// The expression in the hole `${…}` whose inside is `span`.
    fn parse_hole(&mut self, span: Span, heredoc: bool) -> Result<Expr, Diagnostic> {
        let tokens: Vec<Token> = lex_span(self.src, span)?
            .into_iter()
            .filter(|token| !token.kind.is_trivia())
            .collect();
        let mut parser = Parser::new(self.src, tokens, Vec::new());
        parser.hole = Some(heredoc);
        parser.depth = self.depth;
        let expr = parser.parse_expr()?;
        parser.expect(TokenKind::Eof)?;
        Ok(expr)
    }
}

/// The script as compact S-expressions, one top-level statement a line, for tests
/// and debugging: `(assign (x) (call m.succeed "echo ${y}" timeout=5 (=~ "re")))`.
#[cfg(test)]
pub(crate) fn tree(script: &Script) -> String {
    let mut out = String::new();
    for statement in &script.statements {
        write_statement(&mut out, statement);
        out.push('\n');
    }
    out
}

#[cfg(test)]
fn write_block(out: &mut String, body: &[Statement]) {
    for statement in body {
        out.push(' ');
        write_statement(out, statement);
    }
}

#[cfg(test)]
fn write_statement(out: &mut String, statement: &Statement) {
    match &statement.kind {
        StatementKind::Expr(expr) => write_expr(out, expr),
        StatementKind::Assign { targets, value } => {
            let names: Vec<&str> = targets.iter().map(|t| t.name.as_str()).collect();
            let _ = write!(out, "(assign {} ", names.join(","));
            write_expr(out, value);
            out.push(')');
        }
        StatementKind::SetItem {
            target,
            path,
            value,
        } => {
            let _ = write!(out, "(setitem {}", target.name);
            for index in path {
                out.push_str(" [");
                write_expr(out, index);
                out.push(']');
            }
            out.push(' ');
            write_expr(out, value);
            out.push(')');
        }
        StatementKind::Assert { condition, message } => {
            out.push_str("(assert ");
            write_expr(out, condition);
            if let Some(message) = message {
                out.push(' ');
                write_expr(out, message);
            }
            out.push(')');
        }
        StatementKind::If {
            branches,
            otherwise,
        } => {
            out.push_str("(if");
            for (condition, body) in branches {
                out.push_str(" (");
                write_expr(out, condition);
                write_block(out, body);
                out.push(')');
            }
            if let Some(body) = otherwise {
                out.push_str(" (else");
                write_block(out, body);
                out.push(')');
            }
            out.push(')');
        }
        StatementKind::For {
            var,
            iterable,
            body,
        } => {
            let _ = write!(out, "(for {} ", var.name);
            write_expr(out, iterable);
            write_block(out, body);
            out.push(')');
        }
        StatementKind::While { condition, body } => {
            out.push_str("(while ");
            write_expr(out, condition);
            write_block(out, body);
            out.push(')');
        }
        StatementKind::Break => out.push_str("(break)"),
        StatementKind::Continue => out.push_str("(continue)"),
        StatementKind::Def(procedure) => {
            let params: Vec<&str> = procedure.params.iter().map(|p| p.name.as_str()).collect();
            let _ = write!(out, "(def {} ({})", procedure.name.name, params.join(" "));
            write_block(out, &procedure.body);
            out.push(')');
        }
        StatementKind::Return(value) => {
            out.push_str("(return");
            if let Some(value) = value {
                out.push(' ');
                write_expr(out, value);
            }
            out.push(')');
        }
        StatementKind::Subtest { name, body } => {
            out.push_str("(subtest ");
            write_expr(out, name);
            write_block(out, body);
            out.push(')');
        }
        StatementKind::Retry { timeout, body } => {
            out.push_str("(retry");
            write_option(out, "timeout", timeout);
            write_block(out, body);
            out.push(')');
        }
        StatementKind::RetryCall { timeout, function } => {
            out.push_str("(retry");
            write_option(out, "timeout", timeout);
            let _ = write!(out, " {})", function.name);
        }
        StatementKind::PollingCondition(condition) => {
            let _ = write!(out, "(polling_condition {}", condition.name.name);
            write_option(out, "interval", &condition.interval);
            write_option(out, "description", &condition.description);
            write_block(out, &condition.body);
            out.push(')');
        }
        StatementKind::With { conditions, body } => {
            out.push_str("(with");
            for condition in conditions {
                out.push(' ');
                write_expr(out, condition);
            }
            write_block(out, body);
            out.push(')');
        }
        StatementKind::WaitCondition { condition, timeout } => {
            out.push_str("(wait ");
            write_expr(out, condition);
            write_option(out, "timeout", timeout);
            out.push(')');
        }
    }
}

#[cfg(test)]
fn write_option(out: &mut String, name: &str, value: &Option<Expr>) {
    if let Some(value) = value {
        let _ = write!(out, " {name}=");
        write_expr(out, value);
    }
}

#[cfg(test)]
fn write_expr(out: &mut String, expr: &Expr) {
    match &expr.kind {
        ExprKind::Str(text) => write_text(out, text),
        ExprKind::Int(value) => {
            let _ = write!(out, "{value}");
        }
        ExprKind::Float(value) => {
            let _ = write!(out, "{value:?}");
        }
        ExprKind::Bool(value) => {
            let _ = write!(out, "{value}");
        }
        ExprKind::None => out.push_str("None"),
        ExprKind::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_expr(out, item);
            }
            out.push(']');
        }
        ExprKind::Dict(entries) => {
            out.push('{');
            for (i, (key, value)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_expr(out, key);
                out.push_str(": ");
                write_expr(out, value);
            }
            out.push('}');
        }
        ExprKind::Name(name) => out.push_str(&name.name),
        ExprKind::Index { base, index } => {
            out.push_str("(index ");
            write_expr(out, base);
            out.push(' ');
            write_expr(out, index);
            out.push(')');
        }
        ExprKind::Slice { base, start, end } => {
            out.push_str("(slice ");
            write_expr(out, base);
            for bound in [start, end] {
                out.push(' ');
                match bound {
                    Some(bound) => write_expr(out, bound),
                    None => out.push('_'),
                }
            }
            out.push(')');
        }
        ExprKind::Unary { op, operand } => {
            out.push_str(match op {
                UnaryOp::Not => "(not ",
                UnaryOp::Neg => "(- ",
            });
            write_expr(out, operand);
            out.push(')');
        }
        ExprKind::Binary { op, left, right } => {
            let _ = write!(out, "({} ", op.as_str());
            write_expr(out, left);
            out.push(' ');
            write_expr(out, right);
            out.push(')');
        }
        ExprKind::Call(call) => {
            out.push_str("(call ");
            if let Some(target) = &call.target {
                write_expr(out, target);
                out.push('.');
            }
            out.push_str(&call.name.name);
            for arg in &call.args {
                out.push(' ');
                write_expr(out, arg);
            }
            for option in &call.options {
                let _ = write!(out, " {}=", option.name.name);
                write_expr(out, &option.value);
            }
            if let Some(check) = &call.check {
                let _ = write!(out, " ({} ", check.op.as_str());
                write_expr(out, &check.operand);
                out.push(')');
            }
            out.push(')');
        }
    }
}

/// A text as a double-quoted string: escapes for `\`, `"`, control characters and a
/// literal `${`; `${…}` around holes.
#[cfg(test)]
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
            TextPart::Expr(expr) => {
                out.push_str("${");
                write_expr(out, expr);
                out.push('}');
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
(assign name (call machine.succeed "hostname"))
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
        check("x = m.succeed \"a\"", r#"(assign x (call m.succeed "a"))"#);
        check(
            "x=m.succeed \"a\" == \"b\"",
            r#"(assign x (call m.succeed "a" (== "b")))"#,
        );
        check("x = \"text\"", r#"(assign x "text")"#);
        check("x = 'raw ${y}'", r#"(assign x "raw \${y}")"#);
        check(
            "x = \"a\"\ny = \"${x}b\"",
            "(assign x \"a\")\n(assign y \"${x}b\")",
        );
        check("x = start_all", "(assign x start_all)");
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
            r#"(assign x (call machine.succeed "hostname"))"#,
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
        let src = "x = m.succeed \"a\" timeout=5 == \"b\"\nsubtest \"s\" {\n  m.succeed <<EOF\n  hi\n  EOF\n}\nassert len(\"${y + 1}\") > 2\n";
        let script = parse(src).unwrap();
        let text = |span: Span| &src[span.range()];
        let StatementKind::Assign { value, .. } = &script.statements[0].kind else {
            panic!()
        };
        assert_eq!(
            text(script.statements[0].span),
            "x = m.succeed \"a\" timeout=5 == \"b\""
        );
        assert_eq!(text(value.span), "m.succeed \"a\" timeout=5 == \"b\"");
        let ExprKind::Call(call) = &value.kind else {
            panic!()
        };
        assert_eq!(text(call.check.as_ref().unwrap().span), "== \"b\"");
        assert_eq!(text(call.args[0].span), "\"a\"");
        assert_eq!(text(call.options[0].value.span), "5");
        let statement = &script.statements[1];
        let StatementKind::Subtest { body, .. } = &statement.kind else {
            panic!()
        };
        assert_eq!(statement.span.line, 1);
        assert!(text(statement.span).starts_with("subtest") && text(statement.span).ends_with('}'));
        let inner = &body[0];
        assert_eq!(text(inner.span), "m.succeed <<EOF");
        let StatementKind::Expr(Expr {
            kind: ExprKind::Call(call),
            ..
        }) = &inner.kind
        else {
            panic!()
        };
        assert_eq!(text(call.args[0].span), "<<EOF\n  hi\n  EOF");
        assert_eq!((inner.span.line, inner.span.column), (2, 2));
        let StatementKind::Assert { condition, .. } = &script.statements[2].kind else {
            panic!()
        };
        let ExprKind::Binary { left, .. } = &condition.kind else {
            panic!()
        };
        let ExprKind::Call(len) = &left.kind else {
            panic!()
        };
        let ExprKind::Str(string) = &len.args[0].kind else {
            panic!()
        };
        let TextPart::Expr(hole) = &string.parts[0] else {
            panic!()
        };
        assert_eq!(text(hole.span), "y + 1");
        assert_eq!((hole.span.line, hole.span.column), (6, 14));
    }

    #[test]
    fn unexpected_tokens() {
        error(
            "machine.succeed \"x\" )",
            "\
error: expected string, number, option, operator, newline, `;` or end of input, found `)`
 --> test.cmds:1:21
  |
1 | machine.succeed \"x\" )
  |                     ^
",
        );
        error(
            "machine.succeed(\"x\") \"y\"",
            "\
error: expected operator, newline, `;` or end of input, found string
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
            "m.succeed \"a\" ==\n",
            "\
error: expected expression, found newline
 --> test.cmds:1:17
  |
1 | m.succeed \"a\" ==
  |                 ^
",
        );
        error(
            "m.succeed(\"a\" \"b\")",
            "\
error: expected operator, `,` or `)`, found string
 --> test.cmds:1:15
  |
1 | m.succeed(\"a\" \"b\")
  |               ^^^
",
        );
        error(
            "m.succeed(;)",
            "\
error: expected `)`, option or expression, found `;`
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
error: expected string, number, option, operator, newline, `;` or end of input, found `,`
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
  |           ^^^^^^^^^ quote it: `\"start_all\"`; to pass a value, use parentheses: `start_all(start_all)`
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
  |                 ^^^^ quote it: `\"echo\"`; to pass a value, use parentheses: `succeed(echo)`
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
error: expected expression, found `=`
 --> test.cmds:1:9
  |
1 | subtest = \"x\"
  |         ^
",
        );
        error(
            "subtest {\n}",
            "\
error: expected expression, found `{`
 --> test.cmds:1:9
  |
1 | subtest {
  |         ^
",
        );
        error(
            "subtest \"a\"\n{\n}",
            "\
error: expected operator or `{`, found newline
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
  |           ^ quote it: `\"m\"`; to pass a value, use parentheses: `start(m)`
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
error: blocks nested more than 32 deep
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
    fn expressions() {
        check("x = 1 + 2 * 3", "(assign x (+ 1 (* 2 3)))");
        check("x = (1 + 2) * 3", "(assign x (* (+ 1 2) 3))");
        check("x = 7 / 2 - -1", "(assign x (- (/ 7 2) -1))");
        check("x = n - 1", "(assign x (- n 1))");
        check("x = n-1", "(assign x n-1)");
        check("x = -n", "(assign x (- n))");
        check("x = 0.5", "(assign x 0.5)");
        check(
            "x = true and not False or None",
            "(assign x (or (and true (not false)) None))",
        );
        check(
            "x = a == b and c != d",
            "(assign x (and (== a b) (!= c d)))",
        );
        check(
            "x = \"a\" in out and \"b\" not in out",
            "(assign x (and (in \"a\" out) (not in \"b\" out)))",
        );
        check(
            "x = 1 < 2 or 2 <= 3 or 3 > 2 or 3 >= 2",
            "(assign x (or (or (or (< 1 2) (<= 2 3)) (> 3 2)) (>= 3 2)))",
        );
        check("x = out =~ \"a+\"", "(assign x (=~ out \"a+\"))");
        check("x = [1, \"a\", [b]]", "(assign x [1 \"a\" [b]])");
        check("x = []", "(assign x [])");
        check("x = [\n  1,\n  2,\n]", "(assign x [1 2])");
        check("x = (1\n + 2)", "(assign x (+ 1 2))");
        check("x = y[0][-1]", "(assign x (index (index y 0) -1))");
        check(
            "x = y[1:] + y[:2] + y[1:-1] + y[:]",
            "(assign x (+ (+ (+ (slice y 1 _) (slice y _ 2)) (slice y 1 -1)) (slice y _ _)))",
        );
    }

    #[test]
    fn calls_as_expressions() {
        check(
            "x = machine.succeed(\"cat f\").strip()",
            "(assign x (call (call machine.succeed \"cat f\").strip))",
        );
        check(
            "n = int(json(out)[\"key\"][0])",
            "(assign n (call int (index (index (call json out) \"key\") 0)))",
        );
        check(
            "x = out.split(\",\")[-1].strip()",
            "(assign x (call (index (call out.split \",\") -1).strip))",
        );
        check(
            "x = machine.succeed \"a\" timeout=5",
            "(assign x (call machine.succeed \"a\" timeout=5))",
        );
        check("check(server, 80)", "(call check server 80)");
        check("x = len(machines)", "(assign x (call len machines))");
        check(
            "server.wait_for_open_port(port + 1, addr=host)",
            "(call server.wait_for_open_port (+ port 1) addr=host)",
        );
        check("log(str(1.5))", "(call log (call str 1.5))");
        check("x = time()", "(assign x (call time))");
    }

    #[test]
    fn interpolation() {
        check(
            "x = \"http://${host}:${port + 1}/\"",
            "(assign x \"http://${host}:${(+ port 1)}/\")",
        );
        check(
            "x = \"${j['a'][0]} ${ m.succeed('x').strip() }\"",
            "(assign x \"${(index (index j \"a\") 0)} ${(call (call m.succeed \"x\").strip)}\")",
        );
        check(
            "m.succeed <<EOF\necho ${len(x)} $HOME\nEOF\n",
            "(call m.succeed \"echo ${(call len x)} $HOME\\n\")",
        );
        check("x = \"{${a}}\"", "(assign x \"{${a}}\")");
    }

    #[test]
    fn asserts_and_checks() {
        check("assert x", "(assert x)");
        check(
            "assert out.strip() == \"3\", \"wrong: ${out}\"",
            "(assert (== (call out.strip) \"3\") \"wrong: ${out}\")",
        );
        check("assert len(x) > 0", "(assert (> (call len x) 0))");
        check("out contains \"ok\"", "(assert (contains out \"ok\"))");
        check("x == \"a\"", "(assert (== x \"a\"))");
        check(
            "m.wait_until_succeeds \"c\" =~ \"x\" timeout=5",
            "(call m.wait_until_succeeds \"c\" timeout=5 (=~ \"x\"))",
        );
        check(
            "m.succeed(\"a\").strip() == \"b\"",
            "(call (call m.succeed \"a\").strip (== \"b\"))",
        );
        check("x = a == \"b\"", "(assign x (== a \"b\"))");
        check("ok = len(x) == 3", "(assign ok (== (call len x) 3))");
        check(
            "ok = m.succeed(\"a\") == \"b\"",
            "(assign ok (== (call m.succeed \"a\") \"b\"))",
        );
        check(
            "assert m.succeed(\"a\") == \"b\"",
            "(assert (== (call m.succeed \"a\") \"b\"))",
        );
    }

    #[test]
    fn control_flow() {
        check(
            "for m in [server, client] { m.wait_for_unit \"x\" }",
            "(for m [server client] (call m.wait_for_unit \"x\"))",
        );
        check(
            "for m in machines {\n  m.start\n  if x { break } else { continue }\n}",
            "(for m machines (call m.start) (if (x (break)) (else (continue))))",
        );
        check(
            "if a {\n  log \"a\"\n} else if b {\n  log \"b\"\n}\nelse {\n  log \"c\"\n}",
            "(if (a (call log \"a\")) (b (call log \"b\")) (else (call log \"c\")))",
        );
        check(
            "if a { } elif b { }\nlog \"x\"",
            "(if (a) (b))\n(call log \"x\")",
        );
        check(
            "while n < 3 { n = n + 1 }",
            "(while (< n 3) (assign n (+ n 1)))",
        );
        check(
            "def check(m, port) {\n  m.wait_for_open_port(port)\n  return m.succeed(\"x\")\n}",
            "(def check (m port) (call m.wait_for_open_port port) (return (call m.succeed \"x\")))",
        );
        check("def f() { return }", "(def f () (return))");
        check(
            "retry timeout=60 { m.succeed \"x\" }",
            "(retry timeout=60 (call m.succeed \"x\"))",
        );
        check("retry {\n}", "(retry)");
        check(
            "rc, out = m.execute \"x\"",
            "(assign rc,out (call m.execute \"x\"))",
        );
        check(
            "subtest \"a ${n}\" { log \"x\" }",
            "(subtest \"a ${n}\" (call log \"x\"))",
        );
    }

    #[test]
    fn new_syntax_errors() {
        error(
            "x = \"${1:-x}\"",
            "\
error: invalid interpolation: expected operator or `}`, found `:`
 --> test.cmds:1:9
  |
1 | x = \"${1:-x}\"
  |         ^ write `\\${` for a literal `${`; inside `${…}`, quote with `'…'`
",
        );
        error(
            "for 5 in x {\n}",
            "\
error: expected identifier, found number `5`
 --> test.cmds:1:5
  |
1 | for 5 in x {
  |     ^
",
        );
        error(
            "retry tries=3 {\n}",
            "\
error: unknown option `tries` for `retry`
 --> test.cmds:1:7
  |
1 | retry tries=3 {
  |       ^^^^^
",
        );
        error(
            "x = [1, 2",
            "\
error: unclosed `[`
 --> test.cmds:1:5
  |
1 | x = [1, 2
  |     ^ the input ends before the matching `]`
",
        );
        error(
            "x = y[]",
            "\
error: expected `:` or expression, found `]`
 --> test.cmds:1:7
  |
1 | x = y[]
  |       ^
",
        );
        error(
            "if x\n{\n}",
            "\
error: expected string, number, operator or `{`, found newline
 --> test.cmds:1:5
  |
1 | if x
  |     ^
",
        );
        error(
            "a <<EOF\necho ${HOME:-/}\nEOF\n",
            "\
error: invalid interpolation: expected string, number, operator or `}`, found `:`
 --> test.cmds:2:12
  |
2 | echo ${HOME:-/}
  |            ^ to keep `${` as written, use a raw heredoc: `<<'EOF'`
",
        );
        error(
            "assert 1 < x < 3",
            "\
error: comparisons do not chain: `<` then `<`
 --> test.cmds:1:14
  |
1 | assert 1 < x < 3
  |              ^ write `a < b and b < c`
",
        );
        error(
            "assert a == b not in c",
            "\
error: comparisons do not chain: `==` then `not in`
 --> test.cmds:1:15
  |
1 | assert a == b not in c
  |               ^^^^^^ write `a == b and b not in c`
",
        );
        error(
            "log \"a\" + x",
            "\
error: `+` after shell-style arguments, which are literals
 --> test.cmds:1:9
  |
1 | log \"a\" + x
  |         ^ to compute an argument, use parentheses: `log(… + …)`
",
        );
        incomplete("for m in machines {\n");
        incomplete("x = [1,\n");
        for deep in [
            format!("x = {}1{}", "(".repeat(70), ")".repeat(70)),
            format!("x = 1{}", " + 1".repeat(70)),
            format!("x = y{}", ".strip()".repeat(70)),
            format!("x = y{}", "[0]".repeat(70)),
            format!("x = {}y", "not ".repeat(70)),
            format!("x = \"${{{}1{}}}\"", "(".repeat(70), ")".repeat(70)),
        ] {
            let e = parse(&deep).unwrap_err();
            assert_eq!(
                e.to_string(),
                "expressions nested more than 64 deep",
                "{deep}"
            );
        }
        check(
            &format!("x = 1{}", " + 1".repeat(60)),
            &format!("(assign x {}1{})", "(+ ".repeat(60), " 1)".repeat(60)),
        );
    }

    #[test]
    fn tree_escapes() {
        check(
            "x = \"tab\\there \\u{1} \\${a} ${b}\"",
            r#"(assign x "tab\there \u{1} \${a} ${b}")"#,
        );
    }

    #[test]
    fn polling_conditions() {
        check(
            "polling_condition up interval=5 description=\"foo runs\" {\n  m.succeed \"pgrep foo\"\n}",
            "(polling_condition up interval=5 description=\"foo runs\" (call m.succeed \"pgrep foo\"))",
        );
        check(
            "polling_condition up {\n  return false\n}",
            "(polling_condition up (return false))",
        );
        check(
            "with up, down { log \"x\" }",
            "(with up down (call log \"x\"))",
        );
        check(
            "up.wait timeout=30; up.wait",
            "(wait up timeout=30)\n(wait up)",
        );
        check(
            "up.wait timeout=(n * 60)\nm.succeed \"x\" timeout=(n)",
            "(wait up timeout=(* n 60))\n(call m.succeed \"x\" timeout=n)",
        );
        check("x = up.wait", "(assign x (call up.wait))");
        error(
            "polling_condition up every=5 {\n}",
            "\
error: unknown option `every` for `polling_condition`
 --> test.cmds:1:22
  |
1 | polling_condition up every=5 {
  |                      ^^^^^
",
        );
        error(
            "with up down {\n}",
            "\
error: expected `,` or `{`, found identifier `down`
 --> test.cmds:1:9
  |
1 | with up down {
  |         ^^^^
",
        );
    }

    #[test]
    fn items_change_in_place() {
        check(
            "j[\"k\"][0] = 1 + 2\nl.append(x)\nj[\"k\"].extend([1])",
            "(setitem j [\"k\"] [0] (+ 1 2))\n(assign l (+ l [x]))\n(setitem j [\"k\"] (+ (index j \"k\") [1]))",
        );
        error(
            "f()[0] = 1",
            "\
error: cannot assign to this expression
 --> test.cmds:1:1
  |
1 | f()[0] = 1
  | ^^^^^^ assign to a variable, or to `name[index]`
",
        );
    }
}
