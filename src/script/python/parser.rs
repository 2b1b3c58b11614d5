//! The Python parser: tokens of a NixOS `testScript` to the shared syntax tree.
//!
//! Recursive descent over the grammar of the Python language reference, cut down
//! to what test scripts write. Each construct maps to the node the `.cmds` form
//! uses (see [`crate::script::ast`]); everything else stops the parse with one
//! diagnostic at the construct, naming it and, where there is one, the `.cmds` way
//! to say it ([`super::unsupported`]).
//!
//! Conventions: `parse_*` methods read a construct that must be there, `eat_*`
//! methods read a token if it is next, `expect_*` methods read a token or fail
//! with "expected …, found …". The mappings that are not one-to-one:
//!
//! - `import json|re|time|os|shlex|typing|datetime` produce no statement; other
//!   imports are host-side Python and refused;
//! - `datetime.timedelta(seconds=30, minutes=1)` is its length in seconds;
//! - `json.loads(s)` is `json(s)`, `json.dumps(v)` is `to_json(v)`, `time.sleep(n)`
//!   is `sleep(n)`, `time.time()` and `time.monotonic()` are `time()`, `print(x)` is
//!   `log(x)` (`m.log(x)` is the machine's own log line);
//! - `re.search(r, s[, flags])` is `s =~ r`; followed by `.group(n)` it is
//!   `match(r, s)[n]`; `re.match` anchors the regex; `re.DOTALL`, `re.MULTILINE`
//!   and `re.IGNORECASE` become inline flags; `re.compile(r)` is the regex string,
//!   whose `.search(s)` and `.match(s)` are read as above; assigned to a name, a
//!   search is `match(r, s)` (`None`, or the groups: `m.group(n)` is `m[n]`,
//!   and a named group of a regex written in the script is read by number);
//! - `shlex.quote(s)` is `"'" + s.replace("'", "'\"'\"'") + "'"`;
//!   `os.path.basename(p)` is `p.split("/")[-1]`; `m.name` is `str(m)`, which
//!   for a machine is its name;
//! - `"…".format(a, k=b)` and `"…" % (a, b)` on a literal are strings with holes;
//! - `x += e` is `x = x + e`; `x is None` is `x == None`; `x[k] = e` changes an
//!   item in place, and `x.append(e)` and `x.extend(l)` are `x = x + [e]` and
//!   `x = x + l` (also on an item, see `crate::script::place`);
//! - `x = a if c else b` is an `if` statement assigning `x` in both branches;
//!   `x = [e for v in items if c]` is `x = []` and a `for` loop appending `[e]`;
//! - `raise Exception(msg)` is `assert False, msg`;
//! - `with subtest(t):` and `with m.nested(t):` are subtests;
//! - `@polling_condition[(seconds_interval=s, description=d)]` on a `def` without
//!   parameters is a `polling_condition` (its docstring the default description),
//!   `with c1, c2:` activates conditions, and `c.wait(timeout=t)` waits for one;
//! - a call of a procedure defined earlier gets its arguments in parameter order,
//!   defaults filled in;
//! - `for a, b in pairs:` loops over `_a_b` and unpacks it into `a` and `b`;
//! - `retry(f)` (`f` defined by `def` earlier, ending with `return e`) and
//!   `retry(lambda _: e)` are `retry` blocks whose last statement asserts `e`;
//! - type annotations are dropped; docstrings and `pass` produce nothing.

use super::lexer::{self, Comment, Piece, Pos, Token, TokenKind};
use super::unsupported;
use crate::script::ast::{
    BinaryOp, Call, CallOption, Condition, Expr, ExprKind, Ident, Procedure, Script, Statement,
    StatementKind, Text, TextPart, UnaryOp,
};
use crate::script::diag::{DiagKind, Diagnostic};
use crate::script::place;
use crate::script::span::Span;
use std::collections::HashMap;

/// How deeply expressions may nest before the parser gives up.
const NESTING_LIMIT: usize = 64;

/// Python's keywords, which never name a variable.
const KEYWORDS: &[&str] = &[
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield",
];

/// The modules a script may import, and what they are for.
const MODULES: &[&str] = &["json", "re", "time", "os", "shlex", "typing", "datetime"];

/// A parsed script and its comments.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Parsed {
    /// The syntax tree.
    pub(crate) script: Script,
    /// The comments, in source order, for `convert`.
    pub(crate) comments: Vec<Comment>,
}

/// Parses a whole script.
pub(crate) fn parse(src: &str) -> Result<Parsed, Diagnostic> {
    let lexed = lexer::lex(src)?;
    let mut parser = Parser::new(src, lexed.tokens);
    let mut statements = Vec::new();
    while !parser.at(TokenKind::Eof) {
        if parser.eat(TokenKind::Newline).is_none() {
            parser.parse_statement(&mut statements)?;
        }
    }
    if let Some(&span) = parser.pairs.first() {
        return Err(unsupported(
            span,
            "`execute(…)` as a value (Python's is a `(status, output)` pair)",
            "write `rc, out = m.execute(…)`, or `m.execute(…)[1]` for the output",
        ));
    }
    Ok(Parsed {
        script: Script { statements },
        comments: lexed.comments,
    })
}

/// An argument of a call, before it becomes part of the tree.
enum Arg {
    /// A positional argument.
    Positional(Expr),
    /// `name=value`.
    Keyword(Ident, Expr),
}

/// The parser's state.
struct Parser<'s> {
    src: &'s str,
    tokens: Vec<Token>,
    pos: usize,
    /// The span of the last token read (not a newline or indentation token).
    last: Span,
    /// Names bound by `import … as …`, to the module they stand for.
    modules: HashMap<String, &'static str>,
    /// Procedures defined so far, with their parameters' default values, for
    /// `retry(f)` and for calls that leave out or name arguments.
    procedures: HashMap<String, (Procedure, Vec<Option<Expr>>)>,
    /// Current expression nesting.
    depth: usize,
    /// The first bare string of the block being read, for a polling condition's
    /// description.
    docstring: Option<Expr>,
    /// Whether a lambda may stand here: only as the argument of `retry`.
    lambda_allowed: bool,
    /// Whether the expression being read is the whole value of an assignment to
    /// one name, which may be a conditional expression or a comprehension.
    whole_value: bool,
    /// A conditional expression or comprehension read as that value, for the
    /// assignment to turn into statements.
    deferred: Option<Deferred>,
    /// The named groups of the regexes and matches bound to names, by group
    /// number, so that `m.group("name")` can be `m[n]`.
    groups: HashMap<String, Vec<Option<String>>>,
    /// The `m.execute(…)` calls read as values that nothing has unpacked yet:
    /// Python's value is a `(status, output)` pair, which only
    /// `rc, out = m.execute(…)` and a statement standing alone may take.
    pairs: Vec<Span>,
}

/// An expression the tree has no node for, which an assignment turns into
/// statements.
// At most one exists at a time, briefly; boxing the larger variant buys nothing.
#[allow(clippy::large_enum_variant)]
enum Deferred {
    /// `value if condition else otherwise`; the value read is `value`.
    Conditional {
        /// Where `value` is written.
        span: Span,
        /// The test.
        condition: Expr,
        /// The value when the test fails.
        otherwise: Expr,
    },
    /// `[element for var in iterable if filter]`; the value read is `[]`.
    Comprehension {
        /// Where the whole comprehension is written.
        span: Span,
        /// Each item of the list.
        element: Expr,
        /// The loop variable.
        var: Ident,
        /// What is looped over.
        iterable: Expr,
        /// The `if` part, if any.
        filter: Option<Expr>,
    },
}

impl<'s> Parser<'s> {
    fn new(src: &'s str, tokens: Vec<Token>) -> Parser<'s> {
        let modules = MODULES.iter().map(|m| (m.to_string(), *m)).collect();
        Parser {
            src,
            tokens,
            pos: 0,
            last: Span::default(),
            modules,
            procedures: HashMap::new(),
            depth: 0,
            lambda_allowed: false,
            whole_value: false,
            deferred: None,
            groups: HashMap::new(),
            pairs: Vec::new(),
            docstring: None,
        }
    }

    // Token access.

    fn peek(&self) -> Token {
        self.tokens[self.pos.min(self.tokens.len() - 1)]
    }

    fn peek_nth(&self, n: usize) -> Token {
        self.tokens[(self.pos + n).min(self.tokens.len() - 1)]
    }

    fn text(&self, token: Token) -> &'s str {
        token.text(self.src)
    }

    fn at(&self, kind: TokenKind) -> bool {
        self.peek().kind == kind
    }

    /// Whether the next token is the operator or keyword `word`.
    fn at_word(&self, word: &str) -> bool {
        let token = self.peek();
        matches!(token.kind, TokenKind::Op | TokenKind::Name) && self.text(token) == word
    }

    fn bump(&mut self) -> Token {
        let token = self.peek();
        if self.pos < self.tokens.len() - 1 {
            self.pos += 1;
        }
        if !matches!(
            token.kind,
            TokenKind::Newline | TokenKind::Indent | TokenKind::Dedent | TokenKind::Eof
        ) {
            self.last = token.span;
        }
        token
    }

    fn eat(&mut self, kind: TokenKind) -> Option<Token> {
        self.at(kind).then(|| self.bump())
    }

    fn eat_word(&mut self, word: &str) -> Option<Token> {
        self.at_word(word).then(|| self.bump())
    }

    fn expect_word(&mut self, word: &str) -> Result<Token, Diagnostic> {
        self.eat_word(word)
            .ok_or_else(|| self.expected(&[&format!("`{word}`")]))
    }

    fn expect(&mut self, kind: TokenKind, what: &str) -> Result<Token, Diagnostic> {
        self.eat(kind).ok_or_else(|| self.expected(&[what]))
    }

    fn expect_name(&mut self) -> Result<Ident, Diagnostic> {
        let token = self.peek();
        self.refuse_cmds_word(token)?;
        if token.kind == TokenKind::Name && !KEYWORDS.contains(&self.text(token)) {
            self.bump();
            Ok(self.ident(token))
        } else {
            Err(self.expected(&["a name"]))
        }
    }

    /// Refuses `token` when it is a name in Python but a word of the `.cmds`
    /// language (`retry`, `subtest`, `true`, …), which `convert` could not print.
    fn refuse_cmds_word(&self, token: Token) -> Result<(), Diagnostic> {
        let text = self.text(token);
        if token.kind != TokenKind::Name
            || KEYWORDS.contains(&text)
            || !crate::script::parser::KEYWORDS.contains(&text)
        {
            return Ok(());
        }
        Err(unsupported(
            token.span,
            &format!("the name `{text}`, a word of the `.cmds` language"),
            "rename it",
        ))
    }

    fn ident(&self, token: Token) -> Ident {
        Ident {
            name: self.text(token).to_string(),
            span: token.span,
        }
    }

    /// "expected …, found" and the next token.
    fn expected(&self, what: &[&str]) -> Diagnostic {
        let token = self.peek();
        let text = self.text(token);
        let found = match token.kind {
            TokenKind::Name if KEYWORDS.contains(&text) => format!("keyword `{text}`"),
            TokenKind::Name => format!("name `{text}`"),
            TokenKind::Number => format!("number `{text}`"),
            TokenKind::String => "a string".to_string(),
            TokenKind::Op => format!("`{text}`"),
            TokenKind::Newline => "the end of the line".to_string(),
            TokenKind::Indent => "an indented block".to_string(),
            TokenKind::Dedent => "the end of the block".to_string(),
            TokenKind::Eof => "the end of the script".to_string(),
        };
        Diagnostic::new(
            token.span,
            DiagKind::UnexpectedToken {
                expected: what.iter().map(|w| w.to_string()).collect(),
                found,
            },
        )
    }

    /// The span from `start` to the last token read.
    fn since(&self, start: Span) -> Span {
        start.to(self.last)
    }

    /// A diagnostic for the construct starting at the next token, spanning that
    /// token.
    fn refuse(&self, construct: &str, instead: &str) -> Diagnostic {
        unsupported(self.peek().span, construct, instead)
    }

    // Statements.

    /// Parses one statement (a line of simple statements, or a compound one) into
    /// `out`; some produce nothing (`import`, `pass`, docstrings).
    fn parse_statement(&mut self, out: &mut Vec<Statement>) -> Result<(), Diagnostic> {
        let token = self.peek();
        let word = if token.kind == TokenKind::Name || token.kind == TokenKind::Op {
            self.text(token)
        } else {
            ""
        };
        match word {
            "if" => out.push(self.parse_if()?),
            "for" => out.push(self.parse_for()?),
            "while" => {
                let start = self.bump().span;
                let condition = self.parse_test()?;
                let body = self.parse_block()?;
                if self.at_word("else") {
                    return Err(
                        self.refuse("`else` after a loop", "test a variable after the loop")
                    );
                }
                out.push(Statement {
                    kind: StatementKind::While { condition, body },
                    span: self.since(start),
                });
            }
            "def" => out.push(self.parse_def()?),
            "with" => out.push(self.parse_with()?),
            "class" => return Err(self.refuse("class definition", "write `def` procedures")),
            "try" => {
                return Err(self.refuse(
                    "`try`",
                    "a failing step ends the test; to retry a block, write `retry { … }`",
                ));
            }
            "async" => return Err(self.refuse("`async`", "statements run one after another")),
            "@" => out.push(self.parse_polling_condition()?),
            _ => {
                loop {
                    self.parse_simple(out)?;
                    if self.eat_word(";").is_none() || self.at(TokenKind::Newline) {
                        break;
                    }
                }
                if !self.at(TokenKind::Eof) {
                    self.expect(TokenKind::Newline, "the end of the line")?;
                }
            }
        }
        Ok(())
    }

    /// `: NEWLINE INDENT statement+ DEDENT`, or `: simple_statements` on the line.
    fn parse_block(&mut self) -> Result<Vec<Statement>, Diagnostic> {
        self.expect_word(":")?;
        let mut body = Vec::new();
        if self.eat(TokenKind::Newline).is_some() {
            self.expect(TokenKind::Indent, "an indented block")?;
            while self.eat(TokenKind::Dedent).is_none() && !self.at(TokenKind::Eof) {
                self.parse_statement(&mut body)?;
            }
        } else {
            self.parse_statement(&mut body)?;
        }
        Ok(body)
    }

    fn parse_if(&mut self) -> Result<Statement, Diagnostic> {
        let start = self.bump().span;
        let mut branches = vec![(self.parse_test()?, self.parse_block()?)];
        let mut otherwise = None;
        loop {
            if self.eat_word("elif").is_some() {
                branches.push((self.parse_test()?, self.parse_block()?));
            } else if self.eat_word("else").is_some() {
                otherwise = Some(self.parse_block()?);
                break;
            } else {
                break;
            }
        }
        Ok(Statement {
            kind: StatementKind::If {
                branches,
                otherwise,
            },
            span: self.since(start),
        })
    }

    /// `for v in e:`; `for a, b in e:` loops over `_a_b` and binds `a = _a_b[0]`
    /// and `b = _a_b[1]` first thing in the body.
    fn parse_for(&mut self) -> Result<Statement, Diagnostic> {
        let start = self.bump().span;
        let mut names = vec![self.expect_name()?];
        while self.eat_word(",").is_some() && !self.at_word("in") {
            names.push(self.expect_name()?);
        }
        let targets = self.since(names[0].span);
        self.expect_word("in")?;
        let iterable = self.parse_testlist()?;
        let mut body = self.parse_block()?;
        if self.at_word("else") {
            return Err(self.refuse("`else` after a loop", "test a variable after the loop"));
        }
        let var = if names.len() == 1 {
            names.remove(0)
        } else {
            let tuple: Vec<&str> = names.iter().map(|n| n.name.as_str()).collect();
            let var = Ident {
                name: format!("_{}", tuple.join("_")),
                span: targets,
            };
            let unpack = names.into_iter().enumerate().map(|(i, name)| {
                let index = Expr {
                    kind: ExprKind::Index {
                        base: Box::new(Expr {
                            kind: ExprKind::Name(var.clone()),
                            span: targets,
                        }),
                        index: Box::new(Expr {
                            kind: ExprKind::Int(i as i64),
                            span: targets,
                        }),
                    },
                    span: targets,
                };
                Statement {
                    kind: StatementKind::Assign {
                        targets: vec![name],
                        value: index,
                    },
                    span: targets,
                }
            });
            body.splice(0..0, unpack);
            var
        };
        Ok(Statement {
            kind: StatementKind::For {
                var,
                iterable,
                body,
            },
            span: self.since(start),
        })
    }

    fn parse_def(&mut self) -> Result<Statement, Diagnostic> {
        let start = self.bump().span;
        let name = self.expect_name()?;
        self.expect_word("(")?;
        let mut params = Vec::new();
        let mut defaults = Vec::new();
        while self.eat_word(")").is_none() {
            if self.at_word("*") || self.at_word("**") || self.at_word("/") {
                return Err(self.refuse(
                    "special parameter (`*`, `**` or `/`)",
                    "name each parameter",
                ));
            }
            params.push(self.expect_name()?);
            if self.eat_word(":").is_some() {
                self.parse_test()?;
            }
            if self.eat_word("=").is_some() {
                defaults.push(Some(self.parse_test()?));
            } else if defaults.iter().any(Option::is_some) {
                return Err(self.expected(&["`=` and a default value"]));
            } else {
                defaults.push(None);
            }
            if self.eat_word(",").is_none() {
                self.expect_word(")")?;
                break;
            }
        }
        if self.eat_word("->").is_some() {
            self.parse_test()?;
        }
        let body = self.parse_block()?;
        let procedure = Procedure { name, params, body };
        self.procedures
            .insert(procedure.name.name.clone(), (procedure.clone(), defaults));
        Ok(Statement {
            kind: StatementKind::Def(procedure),
            span: self.since(start),
        })
    }

    /// `with subtest(t):` and `with m.nested(t):` (subtests), or `with c1, c2:`
    /// (polling conditions).
    fn parse_with(&mut self) -> Result<Statement, Diagnostic> {
        let start = self.bump().span;
        let item = self.parse_test()?;
        if let ExprKind::Name(_) = item.kind {
            let mut conditions = vec![item];
            while self.eat_word(",").is_some() {
                let name = self.expect_name()?;
                conditions.push(Expr {
                    span: name.span,
                    kind: ExprKind::Name(name),
                });
            }
            let body = self.parse_block()?;
            return Ok(Statement {
                kind: StatementKind::With { conditions, body },
                span: self.since(start),
            });
        }
        let name = match item.kind {
            ExprKind::Call(Call {
                target,
                name,
                mut args,
                options,
                ..
            }) if (name.name == "subtest" && target.is_none()
                || name.name == "nested" && target.is_some())
                && args.len() == 1
                && options.is_empty() =>
            {
                args.remove(0)
            }
            _ => {
                return Err(unsupported(
                    item.span,
                    "`with` statement other than `with subtest(…)` or polling conditions",
                    "write `subtest \"name\" { … }`",
                ));
            }
        };
        if self.at_word("as") || self.at_word(",") {
            return Err(self.refuse(
                "`as` or several items in `with`",
                "write `with subtest(\"name\"):`",
            ));
        }
        let body = self.parse_block()?;
        Ok(Statement {
            kind: StatementKind::Subtest { name, body },
            span: self.since(start),
        })
    }

    /// `@polling_condition[(options)]` and the `def` it decorates, which takes
    /// no parameters; the options are `seconds_interval` (or `interval`) and
    /// `description`, which defaults to the function's docstring.
    fn parse_polling_condition(&mut self) -> Result<Statement, Diagnostic> {
        let start = self.bump().span;
        if !self.at_word("polling_condition") {
            return Err(self.refuse(
                "decorator other than `@polling_condition`",
                "write a plain `def` procedure",
            ));
        }
        self.bump();
        let (mut interval, mut description) = (None, None);
        if self.at_word("(") {
            for arg in self.parse_args()? {
                match arg {
                    Arg::Keyword(name, value) if name.name == "seconds_interval" => {
                        interval = Some(value)
                    }
                    Arg::Keyword(name, value) if name.name == "description" => {
                        description = Some(value)
                    }
                    Arg::Keyword(name, _) => {
                        return Err(unsupported(
                            name.span,
                            &format!("`polling_condition` option `{}`", name.name),
                            "give `seconds_interval` and `description`",
                        ));
                    }
                    Arg::Positional(value) => {
                        return Err(unsupported(
                            value.span,
                            "positional argument of `polling_condition`",
                            "name it: `seconds_interval=…` or `description=…`",
                        ));
                    }
                }
            }
        }
        self.expect(TokenKind::Newline, "the end of the line")?;
        self.expect_word("def")?;
        let name = self.expect_name()?;
        self.expect_word("(")?;
        if !self.at_word(")") {
            return Err(self.refuse(
                "polling condition with parameters",
                "read the values it needs from variables",
            ));
        }
        self.bump();
        if self.eat_word("->").is_some() {
            self.parse_test()?;
        }
        let outer = self.docstring.take();
        let body = self.parse_block()?;
        let docstring = std::mem::replace(&mut self.docstring, outer).filter(|doc| {
            body.first()
                .is_none_or(|first| doc.span.offset < first.span.offset)
        });
        Ok(Statement {
            kind: StatementKind::PollingCondition(Condition {
                name,
                interval,
                description: description.or(docstring),
                body,
            }),
            span: self.since(start),
        })
    }

    /// One simple statement: an expression, an assignment, `assert`, `return`, …
    fn parse_simple(&mut self, out: &mut Vec<Statement>) -> Result<(), Diagnostic> {
        let start = self.peek().span;
        let word = self.text(self.peek());
        let kind = match word {
            "pass" => {
                self.bump();
                return Ok(());
            }
            "break" => {
                self.bump();
                StatementKind::Break
            }
            "continue" => {
                self.bump();
                StatementKind::Continue
            }
            "return" => {
                self.bump();
                let value = if self.at(TokenKind::Newline) || self.at_word(";") {
                    None
                } else {
                    Some(self.parse_testlist()?)
                };
                StatementKind::Return(value)
            }
            "import" | "from" => return self.parse_import(),
            "assert" => {
                self.bump();
                let condition = self.parse_test()?;
                let message = match self.eat_word(",") {
                    Some(_) => Some(self.parse_test()?),
                    None => None,
                };
                StatementKind::Assert { condition, message }
            }
            "raise" => {
                self.bump();
                let value = self.parse_test()?;
                match value.kind {
                    ExprKind::Call(call)
                        if call.target.is_none()
                            && call.args.len() == 1
                            && call.options.is_empty() =>
                    {
                        let span = self.since(start);
                        StatementKind::Assert {
                            condition: Expr {
                                kind: ExprKind::Bool(false),
                                span,
                            },
                            message: call.args.into_iter().next(),
                        }
                    }
                    _ => {
                        return Err(unsupported(
                            self.since(start),
                            "`raise` of anything but `Exception(message)`",
                            "write `assert false, \"message\"`",
                        ));
                    }
                }
            }
            "global" | "nonlocal" => {
                return Err(self.refuse(
                    "`global` or `nonlocal` declaration",
                    "variables are shared by the whole script; assign the variable directly",
                ));
            }
            "del" | "yield" => {
                return Err(self.refuse(&format!("`{word}`"), "assign a new value instead"));
            }
            _ => return self.parse_expression_statement(out),
        };
        out.push(Statement {
            kind,
            span: self.since(start),
        });
        Ok(())
    }

    /// `import m[ as n], …` or `from m import …`.
    fn parse_import(&mut self) -> Result<(), Diagnostic> {
        let start = self.peek().span;
        if self.at_word("from") {
            self.bump();
            let module = self.parse_dotted()?;
            return Err(unsupported(
                self.since(start),
                &format!("`from {module} import …`"),
                "use the builtins: `json(s)`, `match(r, s)`, `sleep(n)`, `time()`",
            ));
        }
        self.bump();
        loop {
            let name_start = self.peek().span;
            let module = self.parse_dotted()?;
            let Some(known) = MODULES.iter().find(|m| **m == module) else {
                return Err(unsupported(
                    self.since(name_start),
                    &format!("`import {module}`"),
                    "host-side Python cannot run here; the modules read are json, re, time, os, shlex, \
                     typing and datetime",
                ));
            };
            if self.eat_word("as").is_some() {
                let alias = self.expect_name()?;
                self.modules.insert(alias.name, known);
            }
            if self.eat_word(",").is_none() {
                return Ok(());
            }
        }
    }

    fn parse_dotted(&mut self) -> Result<String, Diagnostic> {
        let mut name = self.expect_name()?.name;
        while self.eat_word(".").is_some() {
            name.push('.');
            name.push_str(&self.expect_name()?.name);
        }
        Ok(name)
    }

    /// An expression statement or an assignment.
    fn parse_expression_statement(&mut self, out: &mut Vec<Statement>) -> Result<(), Diagnostic> {
        let start = self.peek().span;
        let first = self.parse_testlist()?;
        let item = matches!(first.kind, ExprKind::Index { .. });
        let kind = if item && self.eat_word("=").is_some() {
            let value = regex_value(self.parse_testlist()?);
            if self.at_word("=") {
                return Err(self.refuse("chained assignment", "assign each name on its own line"));
            }
            place::assign(&first, value).ok_or_else(|| self.not_a_place(first.span))?
        } else if self.eat_word("=").is_some() {
            let targets = self.targets(first)?;
            self.whole_value = targets.len() == 1;
            let value = self.parse_testlist();
            self.whole_value = false;
            let value = value?;
            if self.at_word("=") {
                return Err(self.refuse("chained assignment", "assign each name on its own line"));
            }
            let value = regex_value(value);
            if targets.len() == 2 {
                self.pairs.retain(|&span| span != value.span);
            }
            if let [target] = targets.as_slice() {
                let groups = match &value.kind {
                    ExprKind::Call(call) if call.name.name == "match" && call.target.is_none() => {
                        call.args
                            .first()
                            .map(|r| self.groups_of(r))
                            .unwrap_or_default()
                    }
                    _ => self.groups_of(&value),
                };
                self.groups.insert(target.name.clone(), groups);
            }
            if let Some(deferred) = self.deferred.take() {
                let span = self.since(start);
                out.extend(assign_deferred(deferred, &targets[0], value, span)?);
                return Ok(());
            }
            StatementKind::Assign { targets, value }
        } else if let Some(op) = self.augmented_op() {
            let op_token = self.bump();
            let Some(op) = op else {
                return Err(unsupported(
                    op_token.span,
                    &format!("operator `{}`", self.text(op_token)),
                    "use `+=`, `-=`, `*=` or `/=`",
                ));
            };
            let right = self.parse_testlist()?;
            let span = self.since(start);
            let value = Expr {
                kind: ExprKind::Binary {
                    op,
                    left: Box::new(first.clone()),
                    right: Box::new(right),
                },
                span: first.span.to(span),
            };
            place::assign(&first, value).ok_or_else(|| self.not_a_place(first.span))?
        } else {
            match first.kind {
                // A docstring, or any bare literal: no effect (the first is kept
                // for a polling condition's description).
                ExprKind::Str(ref text) if text.as_literal().is_some() => {
                    self.docstring.get_or_insert(first);
                    return Ok(());
                }
                ExprKind::Call(call) if is_condition_wait(&call) => {
                    let mut call = call;
                    let condition = *call.target.take().expect("a wait has a target");
                    let timeout = call.args.pop().or(call.options.pop().map(|o| o.value));
                    StatementKind::WaitCondition { condition, timeout }
                }
                ExprKind::Call(call) if call.target.is_none() && call.name.name == "retry" => {
                    self.retry(call, first.span)?
                }
                ExprKind::Call(ref call) if call.name.name == "execute" => {
                    self.pairs.retain(|&span| span != first.span);
                    StatementKind::Expr(first)
                }
                ExprKind::Call(ref call) => match place::in_place(call, first.span) {
                    Some(assignment) => assignment,
                    None => StatementKind::Expr(first),
                },
                _ => StatementKind::Expr(first),
            }
        };
        out.push(Statement {
            kind,
            span: self.since(start),
        });
        Ok(())
    }

    /// If the next token is an augmented assignment: `Some(Some(op))` for those
    /// the tree can say, `Some(None)` for the others.
    fn augmented_op(&self) -> Option<Option<BinaryOp>> {
        let token = self.peek();
        if token.kind != TokenKind::Op {
            return None;
        }
        match self.text(token) {
            "+=" => Some(Some(BinaryOp::Add)),
            "-=" => Some(Some(BinaryOp::Sub)),
            "*=" => Some(Some(BinaryOp::Mul)),
            "/=" => Some(Some(BinaryOp::Div)),
            "%=" | "//=" | "**=" | "&=" | "|=" | "^=" | ">>=" | "<<=" | "@=" => Some(None),
            _ => None,
        }
    }

    /// The names an assignment binds: `x`, or `a, b` / `(a, b)` / `[a, b]`.
    /// The error for an assignment to something that is not a place.
    fn not_a_place(&self, span: Span) -> Diagnostic {
        unsupported(
            span,
            "assignment to an attribute or to an item of anything but a variable",
            "assign to a name, or to `name[index]`",
        )
    }

    fn targets(&self, expr: Expr) -> Result<Vec<Ident>, Diagnostic> {
        let refuse = |span| self.not_a_place(span);
        match expr.kind {
            ExprKind::Name(ident) => Ok(vec![ident]),
            ExprKind::List(items) => items
                .into_iter()
                .map(|item| match item.kind {
                    ExprKind::Name(ident) => Ok(ident),
                    _ => Err(refuse(item.span)),
                })
                .collect(),
            _ => Err(refuse(expr.span)),
        }
    }

    /// `retry(f[, timeout=n])` or `retry(lambda _: e[, …])` as a `retry` block.
    fn retry(&self, call: Call, span: Span) -> Result<StatementKind, Diagnostic> {
        let mut timeout = None;
        for option in call.options {
            if matches!(option.name.name.as_str(), "timeout" | "timeout_seconds") {
                timeout = Some(option.value);
            } else {
                return Err(unsupported(
                    option.name.span,
                    &format!("`retry` option `{}`", option.name.name),
                    "write `retry(f, timeout=seconds)`",
                ));
            }
        }
        let refuse = |span| {
            unsupported(
                span,
                "`retry` of anything but a procedure defined earlier or a lambda",
                "define the check with `def check(_): … return condition`, then `retry(check)`",
            )
        };
        let mut args = call.args.into_iter();
        let (Some(function), None) = (args.next(), args.next()) else {
            return Err(refuse(span));
        };
        let mut body = match function.kind {
            ExprKind::Name(name) if self.procedures.contains_key(&name.name) => {
                return Ok(StatementKind::RetryCall {
                    timeout,
                    function: name,
                });
            }
            // A lambda's body, kept as a return by `parse_lambda`.
            ExprKind::Call(ref lambda) if lambda.name.name == LAMBDA => vec![Statement {
                kind: StatementKind::Return(lambda.args.first().cloned()),
                span: function.span,
            }],
            _ => return Err(refuse(function.span)),
        };
        match body.pop() {
            Some(Statement {
                kind: StatementKind::Return(Some(condition)),
                span,
            }) => body.push(Statement {
                kind: StatementKind::Assert {
                    condition,
                    message: None,
                },
                span,
            }),
            _ => return Err(refuse(function.span)),
        }
        Ok(StatementKind::Retry { timeout, body })
    }

    // Expressions.

    /// `test (, test)*`: a bare tuple is a list.
    fn parse_testlist(&mut self) -> Result<Expr, Diagnostic> {
        let first = self.parse_test()?;
        if !self.at_word(",") {
            return Ok(first);
        }
        let start = first.span;
        let mut items = vec![first];
        while self.eat_word(",").is_some() {
            if self.ends_testlist() {
                break;
            }
            items.push(self.parse_test()?);
        }
        Ok(Expr {
            kind: ExprKind::List(items),
            span: self.since(start),
        })
    }

    /// Whether the next token ends a list of expressions (after a trailing comma).
    fn ends_testlist(&self) -> bool {
        matches!(self.peek().kind, TokenKind::Newline | TokenKind::Eof)
            || [")", "]", "}", "=", ":", ";"]
                .iter()
                .any(|w| self.at_word(w))
    }

    /// Runs `parse` one expression level deeper, refusing to go past
    /// [`NESTING_LIMIT`], so that no input can overflow the stack.
    fn deeper(
        &mut self,
        parse: impl FnOnce(&mut Self) -> Result<Expr, Diagnostic>,
    ) -> Result<Expr, Diagnostic> {
        self.depth += 1;
        if self.depth > NESTING_LIMIT {
            return Err(Diagnostic::new(
                self.peek().span,
                DiagKind::NestingTooDeep {
                    what: "expressions",
                    limit: NESTING_LIMIT,
                },
            ));
        }
        let result = parse(self);
        self.depth -= 1;
        result
    }

    /// A full expression: `or_test`, refusing conditional expressions and lambdas.
    fn parse_test(&mut self) -> Result<Expr, Diagnostic> {
        if self.at_word("lambda") {
            return self.parse_lambda();
        }
        let result = self.deeper(Self::parse_or);
        let expr = result?;
        if self.at_word("if") {
            if !(self.whole_value && self.depth == 0 && self.deferred.is_none()) {
                return Err(self.refuse(
                    "conditional expression (`a if c else b`) other than a whole value assigned",
                    "write an `if` statement that assigns a variable",
                ));
            }
            self.bump();
            let condition = self.parse_or()?;
            self.expect_word("else")?;
            let otherwise = self.parse_test()?;
            self.deferred = Some(Deferred::Conditional {
                span: expr.span,
                condition,
                otherwise,
            });
        }
        Ok(expr)
    }

    /// `lambda params: e`, read only to be refused or used by `retry`; it is kept
    /// as a call of [`LAMBDA`] whose one argument is the body.
    fn parse_lambda(&mut self) -> Result<Expr, Diagnostic> {
        if !self.lambda_allowed {
            return Err(self.refuse("lambda", "write a `def` procedure"));
        }
        self.lambda_allowed = false;
        let start = self.bump().span;
        while !self.at_word(":") && !self.at(TokenKind::Eof) && !self.at(TokenKind::Newline) {
            self.bump();
        }
        self.expect_word(":")?;
        let body = self.parse_test()?;
        let span = self.since(start);
        Ok(Expr {
            kind: ExprKind::Call(Call {
                target: None,
                name: Ident {
                    name: LAMBDA.to_string(),
                    span: start,
                },
                args: vec![body],
                options: Vec::new(),
                check: None,
            }),
            span,
        })
    }

    fn binary(op: BinaryOp, left: Expr, right: Expr) -> Expr {
        let span = left.span.to(right.span);
        Expr {
            kind: ExprKind::Binary {
                op,
                left: Box::new(left),
                right: Box::new(right),
            },
            span,
        }
    }

    fn parse_or(&mut self) -> Result<Expr, Diagnostic> {
        let mut left = self.parse_and()?;
        while self.eat_word("or").is_some() {
            let right = self.parse_and()?;
            left = Self::binary(BinaryOp::Or, left, right);
        }
        Ok(left)
    }

    fn parse_and(&mut self) -> Result<Expr, Diagnostic> {
        let mut left = self.parse_not()?;
        while self.eat_word("and").is_some() {
            let right = self.parse_not()?;
            left = Self::binary(BinaryOp::And, left, right);
        }
        Ok(left)
    }

    fn parse_not(&mut self) -> Result<Expr, Diagnostic> {
        if let Some(token) = self.eat_word("not") {
            let operand = self.deeper(Self::parse_not)?;
            return Ok(Expr {
                span: token.span.to(operand.span),
                kind: ExprKind::Unary {
                    op: UnaryOp::Not,
                    operand: Box::new(operand),
                },
            });
        }
        self.parse_comparison()
    }

    /// The comparison operator next, if any: its tree operator and token count;
    /// `is` and `is not` need a `None` on the right.
    fn comparison_op(&self) -> Option<(BinaryOp, usize)> {
        let token = self.peek();
        let next = self.peek_nth(1);
        let text = self.text(token);
        let op = match text {
            "==" => BinaryOp::Eq,
            "!=" => BinaryOp::Ne,
            "<" => BinaryOp::Lt,
            "<=" => BinaryOp::Le,
            ">" => BinaryOp::Gt,
            ">=" => BinaryOp::Ge,
            "in" => BinaryOp::In,
            "not" if self.text(next) == "in" => return Some((BinaryOp::NotIn, 2)),
            "is" if self.text(next) == "not" => return Some((BinaryOp::Ne, 2)),
            "is" => BinaryOp::Eq,
            _ => return None,
        };
        Some((op, 1))
    }

    fn parse_comparison(&mut self) -> Result<Expr, Diagnostic> {
        let left = self.parse_arith()?;
        let Some((op, count)) = self.comparison_op() else {
            return Ok(left);
        };
        let identity = self.text(self.peek()) == "is";
        for _ in 0..count {
            self.bump();
        }
        let right = self.parse_arith()?;
        if identity && !matches!(right.kind, ExprKind::None) {
            return Err(unsupported(
                right.span,
                "`is` with anything but `None`",
                "compare with `==`",
            ));
        }
        if self.comparison_op().is_some() {
            return Err(self.refuse("chained comparison", "join the comparisons with `and`"));
        }
        Ok(none_test(op, left, right))
    }

    fn parse_arith(&mut self) -> Result<Expr, Diagnostic> {
        let mut left = self.parse_term()?;
        loop {
            let op = if self.eat_word("+").is_some() {
                BinaryOp::Add
            } else if self.eat_word("-").is_some() {
                BinaryOp::Sub
            } else {
                return Ok(left);
            };
            let right = self.parse_term()?;
            left = Self::binary(op, left, right);
        }
    }

    fn parse_term(&mut self) -> Result<Expr, Diagnostic> {
        let mut left = self.parse_factor()?;
        loop {
            let op = if self.eat_word("*").is_some() {
                BinaryOp::Mul
            } else if self.eat_word("/").is_some() {
                BinaryOp::Div
            } else if self.at_word("%") {
                let operator = self.bump().span;
                let right = self.parse_factor()?;
                left = self.percent_format(left, right, operator)?;
                continue;
            } else if self.at_word("//") || self.at_word("@") {
                return Err(self.refuse(
                    &format!("operator `{}`", self.text(self.peek())),
                    "for values that are not negative, `int(a / b)` (it rounds toward zero)",
                ));
            } else {
                return Ok(left);
            };
            let right = self.parse_factor()?;
            left = Self::binary(op, left, right);
        }
    }

    fn parse_factor(&mut self) -> Result<Expr, Diagnostic> {
        if let Some(token) = self.eat_word("-") {
            let operand = self.deeper(Self::parse_factor)?;
            // A negative literal is a literal, as in `.cmds`.
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
            return Ok(Expr {
                span: token.span.to(operand.span),
                kind,
            });
        }
        if self.eat_word("+").is_some() {
            return self.deeper(Self::parse_factor);
        }
        if self.at_word("~") {
            return Err(self.refuse("operator `~`", "compute the value in the guest"));
        }
        let expr = self.parse_primary()?;
        if self.at_word("**") {
            return Err(self.refuse("operator `**`", "multiply with `*`"));
        }
        Ok(expr)
    }

    /// An atom and its trailers: `.name(…)`, `(…)`, `[…]`.
    fn parse_primary(&mut self) -> Result<Expr, Diagnostic> {
        let mut expr = self.parse_atom()?;
        loop {
            if self.at_word("(") {
                let name = match expr.kind {
                    ExprKind::Name(name) => name,
                    _ => {
                        return Err(self.refuse(
                            "call of something that is not a name",
                            "call a procedure, a builtin or a method by name",
                        ));
                    }
                };
                expr = self.parse_call(None, name, expr.span)?;
            } else if self.at_word("[") {
                expr = self.parse_subscript(expr)?;
            } else if self.at_word(".") {
                self.bump();
                let name = self.expect_name()?;
                // A machine's `name`: `str(m)` is the machine's name.
                if name.name == "name" && !self.at_word("(") && !self.is_module(&expr) {
                    let span = expr.span.to(name.span);
                    expr = Expr {
                        kind: ExprKind::Call(Call {
                            target: None,
                            name: Ident {
                                name: "str".into(),
                                span: name.span,
                            },
                            args: vec![expr],
                            options: Vec::new(),
                            check: None,
                        }),
                        span,
                    };
                    continue;
                }
                // `os.path.basename(p)`: the part after the last `/`.
                if name.name == "path" && self.is_module(&expr) && self.at_word(".") {
                    return self.parse_basename(expr.span);
                }
                if !self.at_word("(") {
                    let span = expr.span.to(name.span);
                    let text = &self.src[span.range()];
                    // Standing alone, a method without `()` does nothing in Python.
                    if matches!(self.peek().kind, TokenKind::Newline | TokenKind::Eof) {
                        let text = text.to_string();
                        return Err(Diagnostic::new(span, DiagKind::MethodNotCalled { text }));
                    }
                    let instead = "attributes are not values; call a method, e.g. \
                                   `m.succeed(\"hostname\")`";
                    return Err(unsupported(span, &format!("attribute `{text}`"), instead));
                }
                expr = self.parse_method(expr, name)?;
            } else {
                return Ok(expr);
            }
        }
    }

    /// Whether `expr` names the module `os` (the only one with a dotted path the
    /// front-end reads, `os.path`).
    fn is_module(&self, expr: &Expr) -> bool {
        matches!(&expr.kind, ExprKind::Name(ident) if self.modules.get(&ident.name) == Some(&"os"))
    }

    /// `os.path.basename(p)`, from the `.` after `os.path`: `p.split("/")[-1]`.
    fn parse_basename(&mut self, start: Span) -> Result<Expr, Diagnostic> {
        self.bump();
        let function = self.expect_name()?;
        if function.name != "basename" {
            return Err(unsupported(
                self.since(start),
                &format!("`os.path.{}`", function.name),
                "work with paths in the guest's shell",
            ));
        }
        self.expect_word("(")?;
        let path = self.parse_test()?;
        self.eat_word(",");
        self.expect_word(")")?;
        let span = self.since(start);
        let split = Expr {
            kind: ExprKind::Call(Call {
                target: Some(Box::new(path)),
                name: Ident {
                    name: "split".into(),
                    span: function.span,
                },
                args: vec![Expr {
                    kind: ExprKind::Str(Text {
                        parts: vec![TextPart::Literal("/".into())],
                    }),
                    span,
                }],
                options: Vec::new(),
                check: None,
            }),
            span,
        };
        let last = Expr {
            kind: ExprKind::Unary {
                op: UnaryOp::Neg,
                operand: Box::new(Expr {
                    kind: ExprKind::Int(1),
                    span,
                }),
            },
            span,
        };
        Ok(Expr {
            kind: ExprKind::Index {
                base: Box::new(split),
                index: Box::new(last),
            },
            span,
        })
    }

    /// `target.execute(…)`: with `[1]` after it, the output (the call's value);
    /// `[0]` is refused; otherwise the call is noted in `pairs` until a statement
    /// takes it whole.
    fn parse_execute(
        &mut self,
        target: Expr,
        name: Ident,
        start: Span,
    ) -> Result<Expr, Diagnostic> {
        let call = self.parse_call(Some(target), name, start)?;
        let index = self.peek_nth(1);
        if !(self.at_word("[")
            && index.kind == TokenKind::Number
            && self.text(self.peek_nth(2)) == "]")
        {
            self.pairs.push(call.span);
            return Ok(call);
        }
        if self.text(index) != "1" {
            return Err(unsupported(
                index.span,
                "the exit status of `execute(…)` as a value",
                "write `rc, out = m.execute(…)` and use `rc`",
            ));
        }
        for _ in 0..3 {
            self.bump();
        }
        Ok(respan(call, self.since(start)))
    }

    /// `target.name(…)`, with the module functions and string formatting mapped.
    fn parse_method(&mut self, target: Expr, name: Ident) -> Result<Expr, Diagnostic> {
        let start = target.span;
        let module = match &target.kind {
            ExprKind::Name(ident) => self.modules.get(&ident.name).copied(),
            _ => None,
        };
        let Some(module) = module else {
            if name.name == "format"
                && let ExprKind::Str(text) = &target.kind
                && let Some(format) = text.as_literal()
            {
                let args = self.parse_args()?;
                return self.brace_format(&format, args, target.span);
            }
            // A regex compiled with `re.compile` (a string here) searches a text.
            if matches!(name.name.as_str(), "search" | "match") {
                self.expect_word("(")?;
                let text = self.parse_test()?;
                self.eat_word(",");
                self.expect_word(")")?;
                return self.regex_use(start, name, target, text);
            }
            // The groups of a match (see `regex_value`): `m.group(n)` is `m[n]`.
            if name.name == "group" {
                let groups = self.groups_of(&target);
                let index = self.parse_group_index(&name, &groups)?;
                return Ok(Expr {
                    kind: ExprKind::Index {
                        base: Box::new(target),
                        index: Box::new(index),
                    },
                    span: self.since(start),
                });
            }
            if name.name == "execute" {
                return self.parse_execute(target, name, start);
            }
            return self.parse_call(Some(target), name, start);
        };
        let qualified = format!("{module}.{}", name.name);
        let function = |text: &str| Ident {
            name: text.to_string(),
            span: name.span,
        };
        match qualified.as_str() {
            "json.loads" => self.parse_call(None, function("json"), start),
            "json.dumps" => self.parse_call(None, function("to_json"), start),
            "time.sleep" => self.parse_call(None, function("sleep"), start),
            "time.time" | "time.monotonic" => self.parse_call(None, function("time"), start),
            "re.search" | "re.match" => self.parse_regex(start, name),
            "re.compile" => self.parse_compile(),
            "datetime.timedelta" => self.parse_timedelta(start),
            "shlex.quote" => self.parse_quote(start),
            _ => Err(unsupported(
                start.to(name.span),
                &format!("`{qualified}`"),
                match module {
                    "re" => "use `text =~ regex`, or `match(regex, text)[n]` for a group",
                    "json" => "read JSON with `json(text)`, write it with `to_json(value)`",
                    "time" => "use `sleep(n)` and `time()`",
                    "shlex" => "quote in the shell command itself, e.g. `'${x}'`",
                    _ => "run the command in the guest with `succeed`",
                },
            )),
        }
    }

    /// `re.search(r, s[, flags])` or `re.match(…)`, and a `.group(n)` after it.
    fn parse_regex(&mut self, start: Span, function: Ident) -> Result<Expr, Diagnostic> {
        self.expect_word("(")?;
        let regex = self.parse_test()?;
        self.expect_word(",")?;
        let text = self.parse_test()?;
        let flags = self.parse_flags()?;
        let regex = with_flags(regex, &flags);
        self.regex_use(start, function, regex, text)
    }

    /// `re.compile(r[, flags])`: the regex, as a string with its flags inline.
    fn parse_compile(&mut self) -> Result<Expr, Diagnostic> {
        self.expect_word("(")?;
        let regex = self.parse_test()?;
        let flags = self.parse_flags()?;
        Ok(with_flags(regex, &flags))
    }

    /// The optional flags argument and the closing parenthesis of a `re` call.
    fn parse_flags(&mut self) -> Result<String, Diagnostic> {
        let mut flags = String::new();
        if self.eat_word(",").is_some() && !self.at_word(")") {
            if self.at_word("flags") {
                self.bump();
                self.expect_word("=")?;
            }
            loop {
                flags.push(self.parse_flag()?);
                if self.eat_word("|").is_none() {
                    break;
                }
            }
            self.eat_word(",");
        }
        self.expect_word(")")?;
        Ok(flags)
    }

    /// A regex `search` (or, for `function` `match`, an anchored one) of `text`,
    /// just read: `text =~ regex`, or `match(regex, text)[n]` when `.group(n)`
    /// follows.
    fn regex_use(
        &mut self,
        start: Span,
        function: Ident,
        mut regex: Expr,
        text: Expr,
    ) -> Result<Expr, Diagnostic> {
        let span = self.since(start);
        if function.name == "match" {
            let mut parts = vec![TextPart::Literal("^(?:".into())];
            match regex.kind {
                ExprKind::Str(text) => parts.extend(text.parts),
                _ => parts.push(TextPart::Expr(regex.clone())),
            }
            parts.push(TextPart::Literal(")".into()));
            regex = Expr {
                kind: ExprKind::Str(Text { parts }),
                span: regex.span,
            };
        }
        if !(self.at_word(".") && self.text(self.peek_nth(1)) == "group") {
            return Ok(respan(Self::binary(BinaryOp::Matches, text, regex), span));
        }
        self.bump();
        let group = self.expect_name()?;
        let groups = self.groups_of(&regex);
        let index = self.parse_group_index(&group, &groups)?;
        let call = Expr {
            kind: ExprKind::Call(Call {
                target: None,
                name: Ident {
                    name: "match".into(),
                    span: function.span,
                },
                args: vec![regex, text],
                options: Vec::new(),
                check: None,
            }),
            span,
        };
        Ok(Expr {
            kind: ExprKind::Index {
                base: Box::new(call),
                index: Box::new(index),
            },
            span: self.since(start),
        })
    }

    /// The `(n)` of `.group(n)` (`group` is the name read): `n`, or 0 for `()`; a
    /// group name becomes its number among `groups`, the groups of the regex.
    fn parse_group_index(
        &mut self,
        group: &Ident,
        groups: &[Option<String>],
    ) -> Result<Expr, Diagnostic> {
        self.expect_word("(")?;
        if self.eat_word(")").is_some() {
            return Ok(Expr {
                kind: ExprKind::Int(0),
                span: group.span,
            });
        }
        let mut index = self.parse_test()?;
        if let ExprKind::Str(text) = &index.kind {
            let name = text.as_literal();
            let Some(number) = groups.iter().position(|g| g.is_some() && *g == name) else {
                return Err(unsupported(
                    index.span,
                    "name of a group of a regex not written in this script",
                    "number the group: `.group(1)`",
                ));
            };
            index.kind = ExprKind::Int(number as i64 + 1);
        }
        self.expect_word(")")?;
        Ok(index)
    }

    /// The groups of `regex`, a literal or a name bound to a regex or a match.
    fn groups_of(&self, regex: &Expr) -> Vec<Option<String>> {
        match &regex.kind {
            ExprKind::Name(name) => self.groups.get(&name.name).cloned().unwrap_or_default(),
            ExprKind::Str(text) => text
                .as_literal()
                .map(|r| named_groups(&r))
                .unwrap_or_default(),
            _ => Vec::new(),
        }
    }

    /// `datetime.timedelta(days, seconds=…, minutes=…, …)`: its length in seconds,
    /// as durations are given in `.cmds`.
    fn parse_timedelta(&mut self, start: Span) -> Result<Expr, Diagnostic> {
        const UNITS: &[(&str, f64)] = &[
            ("days", 86400.0),
            ("seconds", 1.0),
            ("microseconds", 1e-6),
            ("milliseconds", 1e-3),
            ("minutes", 60.0),
            ("hours", 3600.0),
            ("weeks", 604800.0),
        ];
        let args = self.parse_args()?;
        let span = self.since(start);
        let mut total: Option<Expr> = None;
        for (i, arg) in args.into_iter().enumerate() {
            let (unit, value) = match arg {
                Arg::Positional(value) => (UNITS.get(i), value),
                Arg::Keyword(name, value) => (UNITS.iter().find(|u| u.0 == name.name), value),
            };
            let Some(&(_, factor)) = unit else {
                return Err(unsupported(
                    span,
                    "`timedelta` argument other than days, seconds, minutes, …",
                    "give the duration in seconds",
                ));
            };
            let term = if factor == 1.0 {
                value
            } else {
                let factor = Expr {
                    kind: match factor.fract() == 0.0 {
                        true => ExprKind::Int(factor as i64),
                        false => ExprKind::Float(factor),
                    },
                    span,
                };
                Self::binary(BinaryOp::Mul, value, factor)
            };
            total = Some(match total {
                None => term,
                Some(sum) => Self::binary(BinaryOp::Add, sum, term),
            });
        }
        let zero = Expr {
            kind: ExprKind::Int(0),
            span,
        };
        Ok(respan(total.unwrap_or(zero), span))
    }

    /// `shlex.quote(s)`: `s` in single quotes, each `'` in it written `'"'"'`; the
    /// shell reads it as `shlex.quote` would have it read.
    fn parse_quote(&mut self, start: Span) -> Result<Expr, Diagnostic> {
        self.expect_word("(")?;
        let value = self.parse_test()?;
        self.eat_word(",");
        self.expect_word(")")?;
        let span = self.since(start);
        let string = |text: &str| Expr {
            kind: ExprKind::Str(Text {
                parts: vec![TextPart::Literal(text.into())],
            }),
            span,
        };
        let escaped = Expr {
            kind: ExprKind::Call(Call {
                target: Some(Box::new(value)),
                name: Ident {
                    name: "replace".into(),
                    span,
                },
                args: vec![string("'"), string("'\"'\"'")],
                options: Vec::new(),
                check: None,
            }),
            span,
        };
        let quoted = Self::binary(BinaryOp::Add, string("'"), escaped);
        Ok(respan(
            Self::binary(BinaryOp::Add, quoted, string("'")),
            span,
        ))
    }

    /// `re.DOTALL`, `re.MULTILINE` or `re.IGNORECASE` (or their one-letter names):
    /// the inline flag letter.
    fn parse_flag(&mut self) -> Result<char, Diagnostic> {
        let start = self.peek().span;
        let module = self.expect_name()?;
        self.expect_word(".")?;
        let flag = self.expect_name()?;
        let letter = match (self.modules.get(&module.name), flag.name.as_str()) {
            (Some(&"re"), "DOTALL" | "S") => 's',
            (Some(&"re"), "MULTILINE" | "M") => 'm',
            (Some(&"re"), "IGNORECASE" | "I") => 'i',
            _ => {
                return Err(unsupported(
                    self.since(start),
                    "this regex flag",
                    "write the flag inside the regex, e.g. `(?s)`",
                ));
            }
        };
        Ok(letter)
    }

    /// The arguments of a call, from `(` to `)`.
    fn parse_args(&mut self) -> Result<Vec<Arg>, Diagnostic> {
        self.expect_word("(")?;
        let mut args = Vec::new();
        while self.eat_word(")").is_none() {
            if self.at_word("*") || self.at_word("**") {
                return Err(self.refuse("argument unpacking", "pass each argument"));
            }
            let is_keyword =
                self.peek().kind == TokenKind::Name && self.text(self.peek_nth(1)) == "=";
            if is_keyword {
                let name = self.expect_name()?;
                self.bump();
                args.push(Arg::Keyword(name, self.parse_test()?));
            } else {
                args.push(Arg::Positional(self.parse_test()?));
                if self.at_word("for") {
                    return Err(self.refuse_comprehension());
                }
            }
            self.lambda_allowed = false;
            if self.eat_word(",").is_none() {
                self.expect_word(")")?;
                break;
            }
        }
        Ok(args)
    }

    /// A call of `name` (on `target`), its arguments next; `start` is where the
    /// whole expression starts.
    fn parse_call(
        &mut self,
        target: Option<Expr>,
        mut name: Ident,
        start: Span,
    ) -> Result<Expr, Diagnostic> {
        let outer = self.lambda_allowed;
        let event_filter = target.is_some() && name.name == "wait_for_qmp_event";
        self.lambda_allowed = target.is_none() && name.name == "retry" || event_filter;
        let args = self.parse_args();
        self.lambda_allowed = outer;
        let mut args = args?;
        if event_filter && let Some(Arg::Positional(filter)) = args.first_mut() {
            qmp_event_filter(filter)?;
        }
        if target.is_none() && name.name == "print" {
            name.name = "log".into();
        }
        let mut positional = Vec::new();
        let mut options = Vec::new();
        for arg in args {
            match arg {
                Arg::Positional(expr) => positional.push(expr),
                Arg::Keyword(name, value) => options.push(CallOption { name, value }),
            }
        }
        if target.is_none()
            && let Some((procedure, defaults)) = self.procedures.get(&name.name)
        {
            (positional, options) = bind_arguments(procedure, defaults, positional, options);
        }
        Ok(Expr {
            kind: ExprKind::Call(Call {
                target: target.map(Box::new),
                name,
                args: positional,
                options,
                check: None,
            }),
            span: self.since(start),
        })
    }

    /// `base[index]` or `base[start:end]`.
    fn parse_subscript(&mut self, base: Expr) -> Result<Expr, Diagnostic> {
        self.bump();
        let start = (!self.at_word(":"))
            .then(|| self.parse_test())
            .transpose()?;
        let kind = if self.eat_word(":").is_some() {
            let end = (!self.at_word("]") && !self.at_word(":"))
                .then(|| self.parse_test())
                .transpose()?;
            if self.at_word(":") {
                return Err(self.refuse("slice step", "slice without a step"));
            }
            ExprKind::Slice {
                base: Box::new(base.clone()),
                start: start.map(Box::new),
                end: end.map(Box::new),
            }
        } else {
            let Some(index) = start else {
                return Err(self.expected(&["an index"]));
            };
            if self.at_word(",") {
                return Err(self.refuse("tuple index", "index with one value"));
            }
            ExprKind::Index {
                base: Box::new(base.clone()),
                index: Box::new(index),
            }
        };
        self.expect_word("]")?;
        Ok(Expr {
            kind,
            span: self.since(base.span),
        })
    }

    fn parse_atom(&mut self) -> Result<Expr, Diagnostic> {
        let token = self.peek();
        let text = self.text(token);
        let kind = match token.kind {
            TokenKind::Name => match text {
                "True" => ExprKind::Bool(true),
                "False" => ExprKind::Bool(false),
                "None" => ExprKind::None,
                "yield" | "await" => {
                    return Err(
                        self.refuse(&format!("`{text}`"), "statements run one after another")
                    );
                }
                _ if KEYWORDS.contains(&text) => return Err(self.expected(&["an expression"])),
                _ if self.text(self.peek_nth(1)) == "(" => ExprKind::Name(self.ident(token)),
                _ => {
                    self.refuse_cmds_word(token)?;
                    ExprKind::Name(self.ident(token))
                }
            },
            TokenKind::Number => self.number(token)?,
            TokenKind::String => return self.parse_strings(),
            TokenKind::Op => match text {
                "(" => return self.parse_parenthesized(),
                "[" => return self.parse_list(),
                "{" => return self.parse_dict(),
                _ => return Err(self.expected(&["an expression"])),
            },
            _ => return Err(self.expected(&["an expression"])),
        };
        self.bump();
        Ok(Expr {
            kind,
            span: token.span,
        })
    }

    fn number(&self, token: Token) -> Result<ExprKind, Diagnostic> {
        let text = self.text(token).replace('_', "");
        let lower = text.to_ascii_lowercase();
        let invalid = || {
            Diagnostic::new(
                token.span,
                DiagKind::InvalidNumber {
                    text: self.text(token).to_string(),
                },
            )
        };
        let radix = match lower.get(..2) {
            Some("0x") => Some(16),
            Some("0o") => Some(8),
            Some("0b") => Some(2),
            _ => None,
        };
        if let Some(radix) = radix {
            return i64::from_str_radix(&lower[2..], radix)
                .map(ExprKind::Int)
                .map_err(|_| invalid());
        }
        if lower.ends_with('j') {
            return Err(unsupported(
                token.span,
                "complex number",
                "use a real number",
            ));
        }
        if lower.contains(['.', 'e']) {
            return lower.parse().map(ExprKind::Float).map_err(|_| invalid());
        }
        lower.parse().map(ExprKind::Int).map_err(|_| invalid())
    }

    /// One or more adjacent string literals, concatenated as Python does.
    fn parse_strings(&mut self) -> Result<Expr, Diagnostic> {
        let start = self.peek().span;
        let mut parts: Vec<TextPart> = Vec::new();
        while self.at(TokenKind::String) {
            let token = self.bump();
            let decoded = lexer::decode(self.src, token.span)?;
            if decoded.prefix.bytes {
                return Err(unsupported(token.span, "bytes literal", "use a string"));
            }
            for piece in decoded.pieces {
                let part = match piece {
                    Piece::Literal(text) => TextPart::Literal(text),
                    Piece::Hole { start, end } => TextPart::Expr(self.hole(start, end)?),
                };
                push_part(&mut parts, part);
            }
        }
        Ok(Expr {
            kind: ExprKind::Str(Text { parts }),
            span: self.since(start),
        })
    }

    /// Parses the expression of an f-string hole, `src[start.offset..end]`.
    fn hole(&mut self, start: Pos, end: usize) -> Result<Expr, Diagnostic> {
        let tokens = lexer::lex_expression(self.src, start, end)?;
        if tokens.len() == 1 {
            return Err(Diagnostic::new(
                start.to(start),
                DiagKind::UnexpectedToken {
                    expected: vec!["an expression".into()],
                    found: "`}`".into(),
                },
            ));
        }
        // Parse the hole's tokens in place of the script's, then go back.
        let outer = (
            std::mem::replace(&mut self.tokens, tokens),
            self.pos,
            self.last,
        );
        self.pos = 0;
        self.last = start.to(start);
        let result = self
            .parse_testlist()
            .and_then(|expr| match self.at(TokenKind::Eof) {
                true => Ok(expr),
                false => Err(self.expected(&["`}`"])),
            });
        (self.tokens, self.pos, self.last) = outer;
        result
    }

    /// `(…)`: a parenthesized expression, or a tuple (a list in the tree).
    fn parse_parenthesized(&mut self) -> Result<Expr, Diagnostic> {
        let start = self.bump().span;
        if self.eat_word(")").is_some() {
            return Ok(Expr {
                kind: ExprKind::List(Vec::new()),
                span: self.since(start),
            });
        }
        let first = self.parse_test()?;
        if self.eat_word(")").is_some() {
            return Ok(first);
        }
        if self.at_word("for") {
            return Err(self.refuse_comprehension());
        }
        let mut items = vec![first];
        while self.eat_word(",").is_some() {
            if self.at_word(")") {
                break;
            }
            items.push(self.parse_test()?);
        }
        self.expect_word(")")?;
        Ok(Expr {
            kind: ExprKind::List(items),
            span: self.since(start),
        })
    }

    fn parse_list(&mut self) -> Result<Expr, Diagnostic> {
        let start = self.bump().span;
        let whole = self.whole_value && self.depth == 1 && self.deferred.is_none();
        let mut items = Vec::new();
        while self.eat_word("]").is_none() {
            items.push(self.parse_test()?);
            if items.len() == 1 && self.at_word("for") {
                if !whole {
                    return Err(self.refuse_comprehension());
                }
                return self.parse_comprehension(start, items.remove(0));
            }
            if self.eat_word(",").is_none() {
                self.expect_word("]")?;
                break;
            }
        }
        Ok(Expr {
            kind: ExprKind::List(items),
            span: self.since(start),
        })
    }

    /// `{key: value, …}`, a JSON object (sets and comprehensions are refused).
    fn parse_dict(&mut self) -> Result<Expr, Diagnostic> {
        let start = self.bump().span;
        let mut entries = Vec::new();
        while self.eat_word("}").is_none() {
            let key = self.parse_test()?;
            if entries.is_empty() && (self.at_word(",") || self.at_word("}")) {
                return Err(unsupported(
                    self.since(start),
                    "set literal",
                    "use a list: `[a, b]`",
                ));
            }
            self.expect_word(":")?;
            let value = self.parse_test()?;
            if self.at_word("for") {
                return Err(unsupported(
                    self.since(start),
                    "dict comprehension",
                    "write a `for` loop",
                ));
            }
            entries.push((key, value));
            if self.eat_word(",").is_none() {
                self.expect_word("}")?;
                break;
            }
        }
        Ok(Expr {
            kind: ExprKind::Dict(entries),
            span: self.since(start),
        })
    }

    /// The rest of `[element for var in iterable if filter]`, from `for`: read
    /// into [`Parser::deferred`]; the list read is empty.
    fn parse_comprehension(&mut self, start: Span, element: Expr) -> Result<Expr, Diagnostic> {
        self.bump();
        let var = self.expect_name()?;
        self.expect_word("in")?;
        let iterable = self.parse_or()?;
        let filter = match self.eat_word("if") {
            Some(_) => Some(self.parse_or()?),
            None => None,
        };
        if !self.at_word("]") {
            return Err(self.refuse_comprehension());
        }
        self.bump();
        let span = self.since(start);
        self.deferred = Some(Deferred::Comprehension {
            span,
            element,
            var,
            iterable,
            filter,
        });
        Ok(Expr {
            kind: ExprKind::List(Vec::new()),
            span,
        })
    }

    /// The diagnostic for a comprehension that is not the whole value assigned to
    /// a name, or has several `for` or `if` parts, at its `for`.
    fn refuse_comprehension(&self) -> Diagnostic {
        self.refuse(
            "comprehension other than `x = [e for v in items if c]`",
            "write a `for` loop that appends: `x = x + [e]`",
        )
    }

    /// `"…{}…{name}…".format(args)` on a literal: a string with holes.
    fn brace_format(&self, format: &str, args: Vec<Arg>, start: Span) -> Result<Expr, Diagnostic> {
        let span = self.since(start);
        let refuse =
            |construct: &str| unsupported(span, construct, "write an f-string: `f\"… {x} …\"`");
        let mut positional = Vec::new();
        let mut named = HashMap::new();
        for arg in args {
            match arg {
                Arg::Positional(expr) => positional.push(expr),
                Arg::Keyword(name, expr) => {
                    named.insert(name.name, expr);
                }
            }
        }
        let mut parts = Vec::new();
        let mut next = 0;
        let mut chars = format.chars().peekable();
        let mut literal = String::new();
        while let Some(c) = chars.next() {
            match c {
                '{' | '}' if chars.peek() == Some(&c) => {
                    chars.next();
                    literal.push(c);
                }
                '{' => {
                    let field: String = chars.by_ref().take_while(|c| *c != '}').collect();
                    let value = if field.is_empty() {
                        next += 1;
                        positional.get(next - 1)
                    } else if let Ok(index) = field.parse::<usize>() {
                        positional.get(index)
                    } else if field.chars().all(lexer::is_name_continue) {
                        named.get(&field)
                    } else {
                        return Err(refuse("`format` field with a conversion or spec"));
                    };
                    let Some(value) = value else {
                        return Err(refuse("`format` field without an argument"));
                    };
                    push_part(&mut parts, TextPart::Literal(std::mem::take(&mut literal)));
                    parts.push(TextPart::Expr(value.clone()));
                }
                _ => literal.push(c),
            }
        }
        push_part(&mut parts, TextPart::Literal(literal));
        Ok(Expr {
            kind: ExprKind::Str(Text { parts }),
            span,
        })
    }

    /// `"…%s…" % value` or `% (a, b)` on a literal: a string with holes.
    fn percent_format(&self, left: Expr, right: Expr, operator: Span) -> Result<Expr, Diagnostic> {
        let span = left.span.to(right.span);
        let refuse =
            |construct: &str| unsupported(span, construct, "write an f-string: `f\"… {x} …\"`");
        let format = match &left.kind {
            ExprKind::Str(text) => text.as_literal(),
            _ => None,
        };
        let Some(format) = format else {
            return Err(unsupported(
                operator,
                "operator `%` on anything but a literal format string",
                "compute the remainder in the guest",
            ));
        };
        let values = match right.kind {
            ExprKind::List(items) if self.src[right.span.range()].starts_with('(') => items,
            _ => vec![right],
        };
        let mut values = values.into_iter();
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = format.chars();
        while let Some(c) = chars.next() {
            if c != '%' {
                literal.push(c);
                continue;
            }
            match chars.next() {
                Some('%') => literal.push('%'),
                Some(conversion @ ('s' | 'd' | 'i')) => {
                    let Some(mut value) = values.next() else {
                        return Err(refuse("`%` format with too few values"));
                    };
                    // `%d` prints a number's whole part.
                    if conversion != 's' && !matches!(value.kind, ExprKind::Int(_)) {
                        let span = value.span;
                        value = Expr {
                            kind: ExprKind::Call(Call {
                                target: None,
                                name: Ident {
                                    name: "int".into(),
                                    span,
                                },
                                args: vec![value],
                                options: Vec::new(),
                                check: None,
                            }),
                            span,
                        };
                    }
                    push_part(&mut parts, TextPart::Literal(std::mem::take(&mut literal)));
                    parts.push(TextPart::Expr(value));
                }
                _ => return Err(refuse("`%` conversion other than `%s` and `%d`")),
            }
        }
        if values.next().is_some() {
            return Err(refuse("`%` format with too many values"));
        }
        push_part(&mut parts, TextPart::Literal(literal));
        Ok(Expr {
            kind: ExprKind::Str(Text { parts }),
            span,
        })
    }
}

/// Whether `call` is `name.wait()`, `name.wait(t)` or `name.wait(timeout=t)`: a
/// polling condition's wait (no machine has a method `wait`).
fn is_condition_wait(call: &Call) -> bool {
    call.name.name == "wait"
        && matches!(
            call.target.as_deref(),
            Some(Expr {
                kind: ExprKind::Name(_),
                ..
            })
        )
        && call.args.len() + call.options.len() <= 1
        && call
            .options
            .iter()
            .all(|option| option.name.name == "timeout")
}

/// The name a lambda is kept under until `retry` takes it (not an identifier, so no
/// script can call it).
const LAMBDA: &str = "<lambda>";

/// `wait_for_qmp_event(lambda e: e["event"] == "STOP")`: a predicate on the event's
/// name (`==`, `in [...]`, `or` of those) becomes the regex of the names it
/// accepts, which is what `wait_for_qmp_event` takes. Other predicates are refused.
fn qmp_event_filter(filter: &mut Expr) -> Result<(), Diagnostic> {
    let ExprKind::Call(lambda) = &filter.kind else {
        return Ok(());
    };
    if lambda.name.name != LAMBDA {
        return Ok(());
    }
    let names = lambda.args.first().and_then(event_names).ok_or_else(|| {
        unsupported(
            filter.span,
            "a `wait_for_qmp_event` predicate other than `lambda e: e[\"event\"] == \"NAME\"`",
            "name the events: `m.wait_for_qmp_event(\"STOP|RESUME\")`, and inspect the event it returns",
        )
    })?;
    let escaped: Vec<String> = names.iter().map(|name| regex_escape(name)).collect();
    filter.kind = ExprKind::Str(Text {
        parts: vec![TextPart::Literal(escaped.join("|"))],
    });
    Ok(())
}

/// The event names a lambda body accepts: `e["event"] == "N"` (either way round),
/// `e["event"] in ["A", "B"]`, and `or` of those.
fn event_names(body: &Expr) -> Option<Vec<String>> {
    let is_event = |expr: &Expr| match &expr.kind {
        ExprKind::Index { base, index } => {
            matches!(base.kind, ExprKind::Name(_)) && literal(index).as_deref() == Some("event")
        }
        _ => false,
    };
    match &body.kind {
        ExprKind::Binary {
            op: BinaryOp::Or,
            left,
            right,
        } => {
            let mut names = event_names(left)?;
            names.extend(event_names(right)?);
            Some(names)
        }
        ExprKind::Binary {
            op: BinaryOp::Eq,
            left,
            right,
        } if is_event(left) => Some(vec![literal(right)?]),
        ExprKind::Binary {
            op: BinaryOp::Eq,
            left,
            right,
        } if is_event(right) => Some(vec![literal(left)?]),
        ExprKind::Binary {
            op: BinaryOp::In,
            left,
            right,
        } if is_event(left) => match &right.kind {
            ExprKind::List(items) => items.iter().map(literal).collect(),
            _ => None,
        },
        _ => None,
    }
}

/// A string literal's text.
fn literal(expr: &Expr) -> Option<String> {
    match &expr.kind {
        ExprKind::Str(text) => text.as_literal(),
        _ => None,
    }
}

/// `text` as a regex that matches it literally.
fn regex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The statements an assignment of a [`Deferred`] value to `target` stands for:
/// `if c { x = a } else { x = b }`, or `x = []` and a loop appending to `x`.
/// `value` is what was read for the whole value; it must be the deferred
/// expression itself, not a part of a larger one.
fn assign_deferred(
    deferred: Deferred,
    target: &Ident,
    value: Expr,
    span: Span,
) -> Result<Vec<Statement>, Diagnostic> {
    let assign = |value: Expr| Statement {
        span: value.span,
        kind: StatementKind::Assign {
            targets: vec![target.clone()],
            value,
        },
    };
    let name = Expr {
        kind: ExprKind::Name(target.clone()),
        span: target.span,
    };
    match deferred {
        Deferred::Conditional {
            span: read,
            condition,
            otherwise,
        } if read == value.span => Ok(vec![Statement {
            kind: StatementKind::If {
                branches: vec![(condition, vec![assign(value)])],
                otherwise: Some(vec![assign(otherwise)]),
            },
            span,
        }]),
        Deferred::Comprehension {
            span: read,
            element,
            var,
            iterable,
            filter,
        } if read == value.span => {
            let element_span = element.span;
            let item = Expr {
                kind: ExprKind::List(vec![element]),
                span: element_span,
            };
            let mut body = vec![assign(respan(
                Parser::binary(BinaryOp::Add, name, item),
                element_span,
            ))];
            if let Some(filter) = filter {
                body = vec![Statement {
                    span: filter.span,
                    kind: StatementKind::If {
                        branches: vec![(filter, body)],
                        otherwise: None,
                    },
                }];
            }
            Ok(vec![
                assign(value),
                Statement {
                    kind: StatementKind::For {
                        var,
                        iterable,
                        body,
                    },
                    span,
                },
            ])
        }
        Deferred::Conditional { span, .. } | Deferred::Comprehension { span, .. } => {
            Err(unsupported(
                span,
                "conditional expression or comprehension inside a larger value",
                "assign it to a name on its own line first",
            ))
        }
    }
}

/// The arguments of a call of `procedure`, in parameter order: keyword arguments
/// move to their parameter's place and left-out parameters take their defaults.
/// If that leaves a parameter without a value, the call is kept as written, for
/// the checker to report.
fn bind_arguments(
    procedure: &Procedure,
    defaults: &[Option<Expr>],
    positional: Vec<Expr>,
    options: Vec<CallOption>,
) -> (Vec<Expr>, Vec<CallOption>) {
    let mut slots: Vec<Option<Expr>> = positional.iter().cloned().map(Some).collect();
    slots.resize(slots.len().max(procedure.params.len()), None);
    for option in &options {
        match procedure
            .params
            .iter()
            .position(|p| p.name == option.name.name)
        {
            Some(i) if slots[i].is_none() => slots[i] = Some(option.value.clone()),
            _ => return (positional, options),
        }
    }
    for (slot, default) in slots.iter_mut().zip(defaults) {
        if slot.is_none() {
            slot.clone_from(default);
        }
    }
    match slots.into_iter().collect::<Option<Vec<Expr>>>() {
        Some(args) => (args, Vec::new()),
        None => (positional, options),
    }
}

/// `left op right`, where a regex search (`text =~ regex`, which only
/// `re.search` and `re.match` give) compared with `None` (by `is`, `is not`, `==`
/// or `!=`) becomes `match(regex, text)` compared with `None`, which is what
/// Python compares.
fn none_test(op: BinaryOp, left: Expr, right: Expr) -> Expr {
    if !matches!(op, BinaryOp::Eq | BinaryOp::Ne) {
        return Parser::binary(op, left, right);
    }
    match (&left.kind, &right.kind) {
        (_, ExprKind::None) => Parser::binary(op, regex_value(left), right),
        (ExprKind::None, _) => Parser::binary(op, left, regex_value(right)),
        _ => Parser::binary(op, left, right),
    }
}

/// A value assigned: a regex search (`text =~ regex`, which only `re.search` and
/// its kin produce from Python) becomes `match(regex, text)`, which, like
/// Python's match object, is `None` or holds the groups (`m.group(n)` is
/// `m[n]`); any other value is kept.
fn regex_value(value: Expr) -> Expr {
    match value.kind {
        ExprKind::Binary {
            op: BinaryOp::Matches,
            left,
            right,
        } => Expr {
            kind: ExprKind::Call(Call {
                target: None,
                name: Ident {
                    name: "match".into(),
                    span: value.span,
                },
                args: vec![*right, *left],
                options: Vec::new(),
                check: None,
            }),
            span: value.span,
        },
        _ => value,
    }
}

/// The capturing groups of the regex `regex` in order, each with its name if it
/// has one (`(?P<name>…)` or `(?<name>…)`).
fn named_groups(regex: &str) -> Vec<Option<String>> {
    let mut groups = Vec::new();
    let mut chars = regex.chars().peekable();
    let mut class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '[' => class = true,
            ']' => class = false,
            '(' if !class => {
                if chars.peek() != Some(&'?') {
                    groups.push(None);
                    continue;
                }
                chars.next();
                if chars.peek() == Some(&'P') {
                    chars.next();
                }
                if chars.peek() == Some(&'<') {
                    chars.next();
                    let name: String = chars.by_ref().take_while(|c| *c != '>').collect();
                    if !name.starts_with(['=', '!']) {
                        groups.push(Some(name));
                    }
                }
            }
            _ => {}
        }
    }
    groups
}

/// `regex` with the inline `flags` (such as `s` for `re.DOTALL`) in front.
fn with_flags(regex: Expr, flags: &str) -> Expr {
    if flags.is_empty() {
        return regex;
    }
    let mut parts = vec![TextPart::Literal(format!("(?{flags})"))];
    match regex.kind {
        ExprKind::Str(text) => parts.extend(text.parts),
        _ => parts.push(TextPart::Expr(regex.clone())),
    }
    Expr {
        kind: ExprKind::Str(Text { parts }),
        span: regex.span,
    }
}

/// `expr`, spanning `span`.
fn respan(expr: Expr, span: Span) -> Expr {
    Expr { span, ..expr }
}

/// Appends `part`, merging adjacent literals and dropping empty ones.
fn push_part(parts: &mut Vec<TextPart>, part: TextPart) {
    match (parts.last_mut(), part) {
        (_, TextPart::Literal(text)) if text.is_empty() => {}
        (Some(TextPart::Literal(last)), TextPart::Literal(text)) => last.push_str(&text),
        (_, part) => parts.push(part),
    }
}
