//! The syntax tree of a test script: plain data with spans, no I/O.
//!
//! Two front-ends build it: the `.cmds` parser ([`crate::script::parser`]) and the
//! Python front-end (`crate::script::python`). The checker, the interpreter and the
//! log never learn which one a node came from, so every construct below is written
//! once, with the `.cmds` form and the Python form it stands for:
//!
//! | node | `.cmds` | Python |
//! |---|---|---|
//! | [`StatementKind::Expr`] | `m.succeed "x"`, `start_all`, `check(m, 80)` | `m.succeed("x")`, `start_all()` |
//! | [`StatementKind::Assign`] (one target) | `x = m.succeed "c"` | `x = m.succeed("c")` |
//! | [`StatementKind::Assign`] (two targets) | `rc, out = m.execute "c"` | `rc, out = m.execute("c")` |
//! | [`StatementKind::SetItem`] | `j["k"][0] = v`, `l.append(x)` (`l = l + [x]`) | the same |
//! | [`StatementKind::Assert`] | `assert e`, `assert e, "msg"`, `out contains "x"` | `assert e`, `assert e, "msg"` |
//! | [`StatementKind::If`] | `if c { … } else if d { … } else { … }` | `if c: … elif d: … else: …` |
//! | [`StatementKind::For`] | `for m in [a, b] { … }` | `for m in [a, b]: …` |
//! | [`StatementKind::While`] | `while c { … }` | `while c: …` |
//! | [`StatementKind::Break`], [`StatementKind::Continue`] | `break`, `continue` | `break`, `continue` |
//! | [`StatementKind::Def`] | `def check(m, port) { … }` | `def check(m, port): …` |
//! | [`StatementKind::Return`] | `return e` | `return e` |
//! | [`StatementKind::Subtest`] | `subtest "name" { … }` | `with subtest("name"): …` |
//! | [`StatementKind::Retry`] | `retry timeout=60 { … }` | `retry(lambda _: …, timeout_seconds=60)` |
//! | [`StatementKind::RetryCall`] | `retry timeout=60 ready` | `retry(ready, timeout_seconds=60)` |
//! | [`StatementKind::PollingCondition`] | `polling_condition up interval=5 { … }` | `@polling_condition(seconds_interval=5)` on `def up(): …` |
//! | [`StatementKind::With`] | `with up, other { … }` | `with up, other: …` |
//! | [`StatementKind::WaitCondition`] | `up.wait timeout=60` | `up.wait(timeout=60)` |
//! | [`ExprKind::Str`] | `"a ${x + 1}"`, `'raw'`, heredocs | `"a"`, `f"a {x + 1}"` |
//! | [`ExprKind::Int`], [`ExprKind::Float`] | `5`, `0.5` | `5`, `0.5` |
//! | [`ExprKind::Bool`], [`ExprKind::None`] | `true`, `false`, `True`, `None` | `True`, `False`, `None` |
//! | [`ExprKind::List`] | `[a, b]` | `[a, b]`, `(a, b)` |
//! | [`ExprKind::Dict`] | `{"k": v}` | `{"k": v}` |
//! | [`ExprKind::Name`] | `x`, `server`, `machines` | `x`, `server`, `machines` |
//! | [`ExprKind::Index`] | `x[0]`, `x[-1]`, `j["key"]` | the same |
//! | [`ExprKind::Slice`] | `x[1:]`, `x[:2]` | the same |
//! | [`ExprKind::Unary`] | `not x`, `-x` | the same |
//! | [`ExprKind::Binary`] | `a + b`, `a == b`, `a in b`, `a =~ re`, `a and b` | the same; `re.search(r, a)` as a condition is `a =~ r` |
//! | [`ExprKind::Call`] | `m.succeed "c"`, `m.succeed("c")`, `out.strip()`, `len(x)`, `check(m, 1)` | the same |
//!
//! Calls cover machine methods (`m.wait_for_unit`), global commands (`start_all`,
//! `log`, `sleep`), builtin functions (`len int float str json to_json match time
//! range`), value methods (`strip split …`) and procedures (`def`); the checker
//! tells them apart by name and by the kind of the target. Python's
//! `json.loads(s)` maps to `json(s)`, `json.dumps(v)` to `to_json(v)`,
//! `re.search(r, s)` (when its groups are used) to `match(r, s)`,
//! `time.sleep(n)` to `sleep(n)`, `time.time()` to `time()`, `print(x)` to `log(x)`,
//! keyword arguments to [`Call::options`], f-strings to [`ExprKind::Str`] with
//! [`TextPart::Expr`] holes.
//!
//! [`Call::check`] is the one `.cmds`-only refinement: `m.succeed "c" =~ "re"` as a
//! statement checks the call's output (a wait retries until the check holds). The
//! Python front-end leaves it `None` and writes `assert` instead.
//!
//! Every node carries the span of its source text, which errors point at.

use crate::script::span::Span;

/// A whole parsed script.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Script {
    /// The statements, in source order.
    pub statements: Vec<Statement>,
}

/// One statement and where it is written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Statement {
    /// What it is.
    pub kind: StatementKind,
    /// From its first token to its last (for a block: the closing brace).
    pub span: Span,
}

/// The kinds of statement.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum StatementKind {
    /// An expression run for its effect: a call, usually.
    Expr(Expr),
    /// `name = value`, or `a, b = value` (unpacking a list, or a call's exit status
    /// and output for methods that have one, such as `execute`).
    Assign {
        /// The names being bound, at least one.
        targets: Vec<Ident>,
        /// The value.
        value: Expr,
    },
    /// `name[index]… = value`: changes an item of a list or JSON object held by a
    /// variable, in place (an object gains a missing key).
    SetItem {
        /// The variable.
        target: Ident,
        /// The indexes, outermost first (at least one).
        path: Vec<Expr>,
        /// The new value.
        value: Expr,
    },
    /// `assert condition[, message]`: fails the test when the condition is false.
    /// In `.cmds`, a comparison standing as a statement (`out contains "x"`) is one.
    Assert {
        /// What must hold.
        condition: Expr,
        /// Shown when it does not.
        message: Option<Expr>,
    },
    /// `if c { … } else if d { … } else { … }`.
    If {
        /// Each condition with its body, in order (at least one).
        branches: Vec<(Expr, Vec<Statement>)>,
        /// The `else` body, if any.
        otherwise: Option<Vec<Statement>>,
    },
    /// `for name in iterable { … }` over a list, a string's characters or a JSON
    /// object's keys.
    For {
        /// The loop variable.
        var: Ident,
        /// What is iterated.
        iterable: Expr,
        /// The body.
        body: Vec<Statement>,
    },
    /// `while condition { … }`, bounded by the global timeout.
    While {
        /// Checked before each round.
        condition: Expr,
        /// The body.
        body: Vec<Statement>,
    },
    /// `break`: leaves the innermost loop.
    Break,
    /// `continue`: starts the innermost loop's next round.
    Continue,
    /// `def name(params) { … }`: a procedure, callable from anywhere in the script
    /// (definitions are hoisted); top level only, never recursive.
    Def(Procedure),
    /// `return [value]`, inside a procedure.
    Return(Option<Expr>),
    /// `subtest "name" { … }`: a named, logged group of statements.
    Subtest {
        /// The subtest's title.
        name: Expr,
        /// The body.
        body: Vec<Statement>,
    },
    /// `retry [timeout=seconds] { … }`: runs the body again while it fails the test,
    /// for at most the timeout (default 900 s).
    Retry {
        /// The `timeout` option, if given.
        timeout: Option<Expr>,
        /// The body.
        body: Vec<Statement>,
    },
    /// `retry [timeout=seconds] name`: calls the procedure `name` with `false`
    /// until it gives a true value, and once more with `true` when the time is up
    /// (NixOS's `retry(fn)`); a failure inside the procedure ends it at once.
    RetryCall {
        /// The `timeout` option, if given.
        timeout: Option<Expr>,
        /// The procedure, which takes one argument: whether this is the last try.
        function: Ident,
    },
    /// `polling_condition name [interval=s] [description=text] { … }`: binds `name`
    /// to a check that `with name { … }` runs before the machine methods of its body.
    PollingCondition(Condition),
    /// `with name[, name…] { … }`: runs the body with the polling conditions active.
    With {
        /// The conditions (each a name bound by `polling_condition`).
        conditions: Vec<Expr>,
        /// The body.
        body: Vec<Statement>,
    },
    /// `name.wait [timeout=s]`: checks the polling condition until it holds.
    WaitCondition {
        /// The condition.
        condition: Expr,
        /// The `timeout` option, if given (default 900 s).
        timeout: Option<Expr>,
    },
}

/// A polling condition defined with `polling_condition`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Condition {
    /// The name it is bound to.
    pub name: Ident,
    /// At most how often it is checked, in seconds (default 2).
    pub interval: Option<Expr>,
    /// What it checks, for the log and errors (default: its name).
    pub description: Option<Expr>,
    /// The check: it fails when a step fails, or when it returns a false value
    /// other than `None`.
    pub body: Vec<Statement>,
}

/// A procedure defined with `def`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Procedure {
    /// Its name.
    pub name: Ident,
    /// Its parameters, in order.
    pub params: Vec<Ident>,
    /// Its body.
    pub body: Vec<Statement>,
}

/// An expression and where it is written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Its source text.
    pub span: Span,
}

/// The kinds of expression.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ExprKind {
    /// A string literal, possibly with `${expr}` holes.
    Str(Text),
    /// A whole number.
    Int(i64),
    /// A number with a fraction.
    Float(f64),
    /// `true`/`false` (or `True`/`False`).
    Bool(bool),
    /// `None`.
    None,
    /// `[a, b, …]`.
    List(Vec<Expr>),
    /// `{k: v, …}`: a JSON object; each key must be a string.
    Dict(Vec<(Expr, Expr)>),
    /// A variable, a machine, or the builtin list `machines`.
    Name(Ident),
    /// `base[index]`: a list or string position (negative counts from the end), or a
    /// JSON object's key.
    Index {
        /// What is indexed.
        base: Box<Expr>,
        /// The position or key.
        index: Box<Expr>,
    },
    /// `base[start:end]`, either bound optional.
    Slice {
        /// What is sliced.
        base: Box<Expr>,
        /// The first position.
        start: Option<Box<Expr>>,
        /// The position after the last.
        end: Option<Box<Expr>>,
    },
    /// `not x`, `-x`.
    Unary {
        /// Which operator.
        op: UnaryOp,
        /// Its operand.
        operand: Box<Expr>,
    },
    /// `a op b`.
    Binary {
        /// Which operator.
        op: BinaryOp,
        /// The left operand.
        left: Box<Expr>,
        /// The right operand.
        right: Box<Expr>,
    },
    /// A call of anything callable.
    Call(Call),
}

/// A call: `[target.]name(args, options)` or, in `.cmds`, `[target.]name args…`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Call {
    /// What the method is called on (a machine, a string, …); `None` for a function,
    /// a global command or a procedure.
    pub target: Option<Box<Expr>>,
    /// The method, function, command or procedure.
    pub name: Ident,
    /// Positional arguments, in order.
    pub args: Vec<Expr>,
    /// `name=value` options (Python's keyword arguments), in order.
    pub options: Vec<CallOption>,
    /// A `.cmds` output check (`=~ "re"`); see the module doc.
    pub check: Option<Box<Check>>,
}

impl Call {
    /// The call `retry function` makes: `function(last_try)`.
    pub(crate) fn retry_try(function: &Ident, last_try: bool) -> Call {
        Call {
            target: None,
            name: function.clone(),
            args: vec![Expr {
                kind: ExprKind::Bool(last_try),
                span: function.span,
            }],
            options: Vec::new(),
            check: None,
        }
    }
}

/// A name in the source: a machine, a method, a variable or an option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ident {
    /// The name as written.
    pub name: String,
    /// Where it is written.
    pub span: Span,
}

/// `name=value`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CallOption {
    /// The option's name.
    pub name: Ident,
    /// Its value.
    pub value: Expr,
}

/// A string literal, split into literal pieces and `${expr}` holes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Text {
    /// The pieces, in order; a raw string (`'…'`, `<<'EOF'`) is one `Literal`.
    pub parts: Vec<TextPart>,
}

impl Text {
    /// The text's value when it has no `${…}` holes, `None` otherwise.
    pub(crate) fn as_literal(&self) -> Option<String> {
        let mut value = String::new();
        for part in &self.parts {
            match part {
                TextPart::Literal(literal) => value.push_str(literal),
                TextPart::Expr(_) => return None,
            }
        }
        Some(value)
    }
}

/// A piece of a [`Text`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TextPart {
    /// Literal text, escapes already resolved.
    Literal(String),
    /// `${expr}`: the value of an expression, as `str()` gives it.
    Expr(Expr),
}

/// An output check after a call: `=~ | !~ | == | != | contains | !contains` and an
/// operand.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Check {
    /// Which comparison (one of the six above).
    pub op: BinaryOp,
    /// The right-hand side: a regex for `=~`/`!~`, text otherwise.
    pub operand: Expr,
    /// From the operator to the end of the operand.
    pub span: Span,
}

/// A prefix operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UnaryOp {
    /// `not`.
    Not,
    /// `-`.
    Neg,
}

/// An infix operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinaryOp {
    /// `+`: numbers add, strings and lists concatenate.
    Add,
    /// `-`.
    Sub,
    /// `*`.
    Mul,
    /// `/`: always a float, as in Python 3.
    Div,
    /// `==`.
    Eq,
    /// `!=`.
    Ne,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
    /// `in`: a substring, a list element or a JSON object's key.
    In,
    /// `not in`.
    NotIn,
    /// `contains`: `a contains b` is `b in a`.
    Contains,
    /// `!contains`.
    NotContains,
    /// `=~`: the text matches the regex somewhere (Python's `re.search`).
    Matches,
    /// `!~`.
    NotMatches,
    /// `and`, short-circuit.
    And,
    /// `or`, short-circuit.
    Or,
}

impl BinaryOp {
    /// The operator as written in `.cmds`.
    pub(crate) fn as_str(self) -> &'static str {
        use BinaryOp::*;
        match self {
            Add => "+",
            Sub => "-",
            Mul => "*",
            Div => "/",
            Eq => "==",
            Ne => "!=",
            Lt => "<",
            Le => "<=",
            Gt => ">",
            Ge => ">=",
            In => "in",
            NotIn => "not in",
            Contains => "contains",
            NotContains => "!contains",
            Matches => "=~",
            NotMatches => "!~",
            And => "and",
            Or => "or",
        }
    }

    /// Whether it compares two values to a boolean (the operators whose failure an
    /// `assert` explains by showing both sides).
    pub(crate) fn is_comparison(self) -> bool {
        !matches!(
            self,
            BinaryOp::Add
                | BinaryOp::Sub
                | BinaryOp::Mul
                | BinaryOp::Div
                | BinaryOp::And
                | BinaryOp::Or
        )
    }

    /// Whether it may follow a call as an output check.
    pub(crate) fn is_check(self) -> bool {
        use BinaryOp::*;
        matches!(
            self,
            Eq | Ne | Contains | NotContains | Matches | NotMatches
        )
    }
}
