//! The checker: validates a parsed script against the machines and methods of a
//! test, before any VM boots.
//!
//! It reports every problem it finds, not just the first, in source order: unknown
//! names (variables, machines, methods, functions, options; with the nearest name as
//! a suggestion), calls on the wrong receiver, argument counts and kinds, duplicate
//! options, literal regexes that regex-lite rejects, kind errors where the kind is
//! known before the run (`.strip()` on a machine, a loop over a number, `"a" + 1`),
//! `break`/`continue` outside a loop, `return` outside a procedure, procedures
//! defined inside blocks or twice, recursion (direct or through other procedures),
//! a `while` whose condition nothing can change, and captures or checks of methods
//! that return no text. After a clean check the interpreter may rely on all of
//! this; what only the run can tell (an index out of range, `int("x")`) fails the
//! step that computes it.
//!
//! Names: top-level variables are one flat, textual-order namespace: a block sees
//! what was defined before it, and what it defines stays visible afterwards.
//! Procedures are hoisted: a call may come before the `def`. A procedure sees its
//! parameters, its own assignments, the machines, and every top-level variable of
//! the script (its body is checked after the top level); one not set yet when the
//! procedure runs fails that step. A statement's own targets are defined after its value
//! is checked (`x = "${x}"` is an error when `x` is new), and even when the
//! statement has other errors, so one mistake does not cascade into "undefined
//! variable" reports. The [`Checker`] keeps names and procedures across
//! [`Checker::check`] calls, so an interactive prompt can check one statement at a
//! time.
//!
//! Kinds (`Kind`) are what is known for sure: a literal's, a builtin's result, a
//! method's text; `Any` otherwise, which is never an error. Method lookup (which
//! signature a name means on which receiver) is `signature::lookup`,
//! shared with the interpreter. Every lookup is a hash or tree lookup or a scan of
//! one call's options, so checking is linear in the script's size; suggestions are
//! computed only for errors.

use crate::script::ast::{
    BinaryOp, Call, Condition, Expr, ExprKind, Ident, Procedure, Script, Statement, StatementKind,
    TextPart, UnaryOp,
};
use crate::script::builtins::{self, FUNCTIONS, Takes, VALUE_METHODS};
use crate::script::diag::{DiagKind, Diagnostic};
use crate::script::lexer::{is_ident_continue, is_ident_start};
use crate::script::signature::{MAX_TTY, Receiver, Signature, ValueKind, lookup};
use crate::script::span::Span;
use crate::script::suggest::nearest;
use crate::script::value::Kind;
use std::collections::{BTreeMap, BTreeSet};

/// The name of the builtin list of every machine.
pub(crate) const MACHINES: &str = "machines";
/// The name of the builtin list of the vlan numbers.
pub(crate) const VLANS: &str = "vlans";

/// What a script is checked against.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CheckContext<'a> {
    /// The test's machine names, as configured (not Python-ized).
    pub machines: &'a [String],
    /// Every method a script may call.
    pub signatures: &'a [Signature],
}

/// What the checker knows of a procedure.
#[derive(Debug, Clone)]
struct ProcedureInfo {
    /// How many parameters it takes.
    params: usize,
    /// The procedures its body calls, with the span of each call.
    calls: Vec<(String, Span)>,
}

/// Validates scripts statement by statement, remembering names and procedures.
#[derive(Debug, Clone)]
pub(crate) struct Checker<'a> {
    machines: &'a [String],
    signatures: &'a [Signature],
    /// Top-level variables and their kinds.
    globals: BTreeMap<String, Kind>,
    /// Every procedure defined so far.
    procedures: BTreeMap<String, ProcedureInfo>,
    /// While checking a procedure's body: its name and its variables.
    procedure: Option<(String, BTreeMap<String, Kind>)>,
    /// How many loops enclose the statement being checked (within its procedure
    /// or `retry` body).
    loops: usize,
    /// How many blocks enclose the statement being checked.
    blocks: usize,
    /// The top-level polling conditions whose bodies are still to check.
    top_conditions: Vec<Condition>,
    /// The problems found so far.
    out: Vec<Diagnostic>,
}

/// Where a value sits in a call, for messages.
#[derive(Clone, Copy)]
enum Slot<'x> {
    Param(&'x str),
    Option(&'x str),
}

/// What a call's name turned out to mean.
enum Callee<'s> {
    /// A method of the table (on a machine or global).
    Method(&'s Signature),
    /// Anything else: a builtin, a value method, a procedure, or an unknown name.
    Other,
}

impl<'a> Checker<'a> {
    /// A checker for `ctx`, with no variables defined yet.
    pub(crate) fn new(ctx: &CheckContext<'a>) -> Checker<'a> {
        Checker {
            machines: ctx.machines,
            signatures: ctx.signatures,
            globals: BTreeMap::new(),
            procedures: BTreeMap::new(),
            procedure: None,
            loops: 0,
            blocks: 0,
            top_conditions: Vec::new(),
            out: Vec::new(),
        }
    }

    /// Checks `script` and returns every problem found, in source order. Names
    /// and procedures the script defines stay defined for later calls.
    pub(crate) fn check(&mut self, script: &Script) -> Vec<Diagnostic> {
        let mut defined = Vec::new();
        for statement in &script.statements {
            if let StatementKind::Def(procedure) = &statement.kind {
                self.declare(procedure);
                defined.push(procedure.name.name.clone());
            }
        }
        for statement in &script.statements {
            self.statement(statement);
        }
        // Bodies last, so that they see every top-level variable, as Python
        // functions read globals when they run.
        for statement in &script.statements {
            if let StatementKind::Def(procedure) = &statement.kind {
                self.definition(procedure);
            }
        }
        for condition in std::mem::take(&mut self.top_conditions) {
            self.condition_body(&condition, BTreeMap::new());
        }
        self.recursion(&defined);
        let mut out = std::mem::take(&mut self.out);
        out.sort_by_key(|diagnostic| diagnostic.span.offset);
        out.dedup();
        out
    }

    fn error(&mut self, span: Span, kind: DiagKind) {
        self.out.push(Diagnostic::new(span, kind));
    }

    // Names.

    /// The kind of the variable `name`, if one is visible here.
    fn variable(&self, name: &str) -> Option<Kind> {
        if let Some((_, locals)) = &self.procedure
            && let Some(kind) = locals.get(name)
        {
            return Some(*kind);
        }
        self.globals.get(name).copied()
    }

    /// Defines (or redefines) the variable `name` in the current scope; a variable
    /// assigned values of different kinds is `Any`.
    fn bind(&mut self, name: &str, kind: Kind) {
        let scope = match &mut self.procedure {
            Some((_, locals)) => locals,
            None => &mut self.globals,
        };
        let kind = scope.get(name).map_or(kind, |old| old.join(kind));
        scope.insert(name.to_string(), kind);
    }

    /// Binds a name a statement assigns, unless it names a machine or `machines`.
    fn assign(&mut self, target: &Ident, kind: Kind) {
        let name = &target.name;
        let what = if resolve_machine(name, self.machines).is_some() {
            Some("a machine")
        } else if name == MACHINES {
            Some("the list of machines")
        } else if name == VLANS {
            Some("the list of vlans")
        } else {
            None
        };
        match what {
            Some(what) => self.error(
                target.span,
                DiagKind::ReservedName {
                    name: name.clone(),
                    what,
                },
            ),
            None => self.bind(name, kind),
        }
    }

    /// Every name a `Name` expression may refer to here, for suggestions.
    fn visible_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.globals.keys().cloned().collect();
        if let Some((_, locals)) = &self.procedure {
            names.extend(locals.keys().cloned());
        }
        names.extend(self.machine_names().into_iter().map(str::to_string));
        names.push(MACHINES.to_string());
        names.push(VLANS.to_string());
        names
    }

    /// The machines as scripts may write them (with `machine` for a single one).
    fn machine_names(&self) -> Vec<&str> {
        let single = (self.machines.len() == 1).then_some("machine");
        self.machines
            .iter()
            .map(String::as_str)
            .chain(single)
            .collect()
    }

    fn name(&mut self, ident: &Ident) -> Kind {
        if let Some(kind) = self.variable(&ident.name) {
            return kind;
        }
        if resolve_machine(&ident.name, self.machines).is_some() {
            return Kind::Machine;
        }
        if ident.name == MACHINES || ident.name == VLANS {
            return Kind::List;
        }
        let names = self.visible_names();
        let suggestion = nearest(&ident.name, names.iter().map(String::as_str)).map(str::to_string);
        self.error(
            ident.span,
            DiagKind::UndefinedVariable {
                name: ident.name.clone(),
                suggestion,
            },
        );
        Kind::Any
    }

    // Statements.

    fn block(&mut self, body: &[Statement]) {
        self.blocks += 1;
        for statement in body {
            self.statement(statement);
        }
        self.blocks -= 1;
    }

    /// The `timeout` option of a `retry`, if given: a number of seconds.
    fn retry_timeout(&mut self, timeout: &Option<Expr>) {
        if let Some(timeout) = timeout {
            let kind = self.expr(timeout);
            self.value(
                "retry",
                Slot::Option("timeout"),
                timeout,
                kind,
                ValueKind::Seconds,
            );
        }
    }

    /// A body that `break` and `continue` cannot leave: a procedure's or `retry`'s.
    fn fenced_block(&mut self, body: &[Statement]) {
        let loops = std::mem::replace(&mut self.loops, 0);
        self.block(body);
        self.loops = loops;
    }

    fn loop_body(&mut self, body: &[Statement]) {
        self.loops += 1;
        self.block(body);
        self.loops -= 1;
    }

    fn statement(&mut self, statement: &Statement) {
        match &statement.kind {
            StatementKind::Expr(expr) => {
                self.expr(expr);
            }
            StatementKind::Assign { targets, value } => self.assignment(targets, value),
            StatementKind::SetItem {
                target,
                path,
                value,
            } => {
                let kind = self.name(target);
                if !matches!(kind, Kind::Any | Kind::List | Kind::Dict) {
                    let kind = kind.describe();
                    self.error(target.span, DiagKind::NotChangeable { kind });
                }
                for index in path {
                    self.expr(index);
                }
                self.expr(value);
            }
            StatementKind::Assert { condition, message } => {
                self.expr(condition);
                if let Some(message) = message {
                    self.expr(message);
                }
            }
            StatementKind::If {
                branches,
                otherwise,
            } => {
                for (condition, body) in branches {
                    self.expr(condition);
                    self.block(body);
                }
                if let Some(body) = otherwise {
                    self.block(body);
                }
            }
            StatementKind::For {
                var,
                iterable,
                body,
            } => {
                let kind = self.expr(iterable);
                if !matches!(kind, Kind::Any | Kind::List | Kind::Str | Kind::Dict) {
                    self.error(
                        iterable.span,
                        DiagKind::NotIterable {
                            kind: kind.describe(),
                        },
                    );
                }
                let element = match (kind, &iterable.kind) {
                    (Kind::Str, _) => Kind::Str,
                    (_, ExprKind::Name(name)) if name.name == MACHINES => Kind::Machine,
                    (_, ExprKind::List(items)) => self.element_kind(items),
                    _ => Kind::Any,
                };
                self.assign(var, element);
                self.loop_body(body);
            }
            StatementKind::While { condition, body } => {
                self.expr(condition);
                if never_changes(condition, body) {
                    self.error(condition.span, DiagKind::ConditionNeverChanges);
                }
                self.loop_body(body);
            }
            StatementKind::Break | StatementKind::Continue => {
                if self.loops == 0 {
                    let keyword = match statement.kind {
                        StatementKind::Break => "break",
                        _ => "continue",
                    };
                    self.error(statement.span, DiagKind::OutsideLoop { keyword });
                }
            }
            StatementKind::Def(_) => {
                if self.blocks > 0 || self.procedure.is_some() {
                    self.error(statement.span, DiagKind::NestedProcedure);
                }
            }
            StatementKind::Return(value) => {
                if self.procedure.is_none() {
                    self.error(statement.span, DiagKind::ReturnOutsideProcedure);
                }
                if let Some(value) = value {
                    self.expr(value);
                }
            }
            StatementKind::Subtest { name, body } => {
                self.expr(name);
                self.block(body);
            }
            StatementKind::Retry { timeout, body } => {
                self.retry_timeout(timeout);
                self.fenced_block(body);
            }
            StatementKind::RetryCall { timeout, function } => {
                self.retry_timeout(timeout);
                self.expr(&Expr {
                    kind: ExprKind::Call(Call::retry_try(function, false)),
                    span: function.span,
                });
            }
            StatementKind::PollingCondition(condition) => self.condition(condition),
            StatementKind::With { conditions, body } => {
                for condition in conditions {
                    self.is_condition(condition);
                }
                self.block(body);
            }
            StatementKind::WaitCondition { condition, timeout } => {
                self.is_condition(condition);
                if let Some(timeout) = timeout {
                    let kind = self.expr(timeout);
                    let slot = Slot::Option("timeout");
                    self.value("wait", slot, timeout, kind, ValueKind::Seconds);
                }
            }
        }
    }

    /// `polling_condition name … { … }`: the options, then the body in a scope of
    /// its own that starts with the procedure's variables (in a procedure) or, at
    /// the top level, after the top-level statements (as a procedure's body);
    /// `name` is bound after.
    fn condition(&mut self, condition: &Condition) {
        if let Some(interval) = &condition.interval {
            let kind = self.expr(interval);
            let slot = Slot::Option("interval");
            self.value(
                "polling_condition",
                slot,
                interval,
                kind,
                ValueKind::Seconds,
            );
        }
        if let Some(description) = &condition.description {
            self.expr(description);
        }
        match &self.procedure {
            Some((_, locals)) => {
                let locals = locals.clone();
                self.condition_body(condition, locals);
            }
            // Checked with the procedures' bodies, when every top-level variable
            // is known: a check reads them when it runs.
            None => self.top_conditions.push(condition.clone()),
        }
        self.assign(&condition.name, Kind::Condition);
    }

    /// A condition's body, in a scope that starts with `locals`.
    fn condition_body(&mut self, condition: &Condition, locals: BTreeMap<String, Kind>) {
        let scope = (format!("polling_condition {}", condition.name.name), locals);
        let outer = self.procedure.replace(scope);
        let blocks = std::mem::replace(&mut self.blocks, 0);
        self.fenced_block(&condition.body);
        self.blocks = blocks;
        self.procedure = outer;
    }

    /// Checks that `expr` is a polling condition (or may be one).
    fn is_condition(&mut self, expr: &Expr) {
        let kind = self.expr(expr);
        if !matches!(kind, Kind::Condition | Kind::Any) {
            let kind = kind.describe();
            self.error(expr.span, DiagKind::NotACondition { kind });
        }
    }

    /// The kind of a list literal's items (for `for m in [a, b]`), already checked.
    fn element_kind(&self, items: &[Expr]) -> Kind {
        let kinds = items.iter().map(|item| match &item.kind {
            ExprKind::Name(name) => match self.variable(&name.name) {
                Some(kind) => kind,
                None if resolve_machine(&name.name, self.machines).is_some() => Kind::Machine,
                None => Kind::Any,
            },
            ExprKind::Str(_) => Kind::Str,
            ExprKind::Int(_) => Kind::Int,
            _ => Kind::Any,
        });
        kinds.reduce(Kind::join).unwrap_or(Kind::Any)
    }

    fn assignment(&mut self, targets: &[Ident], value: &Expr) {
        let kind = self.expr(value);
        let method = match &value.kind {
            ExprKind::Call(call) => self.method_of(call),
            _ => None,
        };
        if let [target] = targets {
            if let Some(signature) = method.filter(|s| !s.returns_text) {
                self.error(
                    target.span,
                    DiagKind::CaptureWithoutText {
                        method: signature.name.to_string(),
                    },
                );
            }
            self.assign(target, kind);
            return;
        }
        let kinds = match method {
            Some(signature) if signature.returns_status => vec![Kind::Int, Kind::Str],
            Some(signature) => {
                self.error(
                    value.span,
                    DiagKind::NoStatus {
                        method: signature.name.to_string(),
                    },
                );
                vec![]
            }
            None if matches!(kind, Kind::Any | Kind::List) => vec![],
            None => {
                self.error(
                    value.span,
                    DiagKind::CannotUnpack {
                        kind: kind.describe(),
                    },
                );
                vec![]
            }
        };
        for (i, target) in targets.iter().enumerate() {
            self.assign(target, kinds.get(i).copied().unwrap_or(Kind::Any));
        }
    }

    /// Registers a top-level procedure before its script is checked (hoisting).
    fn declare(&mut self, procedure: &Procedure) {
        let name = &procedure.name;
        let taken = self.procedures.contains_key(&name.name)
            || builtins::function(&name.name).is_some()
            || self.signatures.iter().any(|s| s.name == name.name);
        if taken {
            self.error(
                name.span,
                DiagKind::DuplicateProcedure {
                    name: name.name.clone(),
                },
            );
            return;
        }
        self.procedures.insert(
            name.name.clone(),
            ProcedureInfo {
                params: procedure.params.len(),
                calls: Vec::new(),
            },
        );
    }

    /// Checks a top-level `def`'s body in the procedure's own scope.
    fn definition(&mut self, procedure: &Procedure) {
        let mut locals = BTreeMap::new();
        for param in &procedure.params {
            if locals.insert(param.name.clone(), Kind::Any).is_some() {
                self.error(
                    param.span,
                    DiagKind::DuplicateProcedure {
                        name: param.name.clone(),
                    },
                );
            }
        }
        self.procedure = Some((procedure.name.name.clone(), locals));
        self.fenced_block(&procedure.body);
        self.procedure = None;
    }

    /// Reports each cycle of calls among `names` (and what they call) once, at the
    /// call that closes it.
    fn recursion(&mut self, names: &[String]) {
        let mut done = BTreeSet::new();
        let mut reported = BTreeSet::new();
        for name in names {
            let mut path = Vec::new();
            self.visit(name, &mut path, &mut done, &mut reported);
        }
    }

    fn visit(
        &mut self,
        name: &str,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
        reported: &mut BTreeSet<usize>,
    ) {
        if done.contains(name) {
            return;
        }
        path.push(name.to_string());
        let calls = self
            .procedures
            .get(name)
            .map(|info| info.calls.clone())
            .unwrap_or_default();
        for (callee, span) in calls {
            if let Some(start) = path.iter().position(|p| *p == callee) {
                if reported.insert(span.offset) {
                    let mut cycle = path[start..].to_vec();
                    cycle.push(callee);
                    self.error(span, DiagKind::Recursion { cycle });
                }
            } else {
                self.visit(&callee, path, done, reported);
            }
        }
        path.pop();
        done.insert(name.to_string());
    }

    // Expressions.

    /// Checks `expr` and returns its kind.
    fn expr(&mut self, expr: &Expr) -> Kind {
        match &expr.kind {
            ExprKind::Str(text) => {
                for part in &text.parts {
                    if let TextPart::Expr(hole) = part {
                        self.expr(hole);
                    }
                }
                Kind::Str
            }
            ExprKind::Int(_) => Kind::Int,
            ExprKind::Float(_) => Kind::Float,
            ExprKind::Bool(_) => Kind::Bool,
            ExprKind::None => Kind::None,
            ExprKind::List(items) => {
                for item in items {
                    self.expr(item);
                }
                Kind::List
            }
            ExprKind::Dict(entries) => {
                for (key, value) in entries {
                    let kind = self.expr(key);
                    if !matches!(kind, Kind::Any | Kind::Str) {
                        self.error(
                            key.span,
                            DiagKind::DictKey {
                                found: kind.describe(),
                            },
                        );
                    }
                    self.expr(value);
                }
                Kind::Dict
            }
            ExprKind::Name(ident) => self.name(ident),
            ExprKind::Index { base, index } => {
                let kind = self.expr(base);
                self.expr(index);
                self.indexable(base, kind);
                match kind {
                    Kind::Str => Kind::Str,
                    _ => Kind::Any,
                }
            }
            ExprKind::Slice { base, start, end } => {
                let kind = self.expr(base);
                for bound in [start, end].into_iter().flatten() {
                    self.expr(bound);
                }
                if !matches!(kind, Kind::Any | Kind::Str | Kind::List) {
                    self.error(
                        base.span,
                        DiagKind::NotIndexable {
                            kind: kind.describe(),
                        },
                    );
                    return Kind::Any;
                }
                kind
            }
            ExprKind::Unary { op, operand } => {
                let kind = self.expr(operand);
                match op {
                    UnaryOp::Not => Kind::Bool,
                    UnaryOp::Neg if kind.is_number() || kind == Kind::Any => kind,
                    UnaryOp::Neg => {
                        self.error(
                            expr.span,
                            DiagKind::WrongOperandKinds {
                                op: "-",
                                kinds: vec![kind.describe()],
                            },
                        );
                        Kind::Any
                    }
                }
            }
            ExprKind::Binary { op, left, right } => self.binary(expr, *op, left, right),
            ExprKind::Call(call) => self.call(call, expr.span),
        }
    }

    fn indexable(&mut self, base: &Expr, kind: Kind) {
        if !matches!(kind, Kind::Any | Kind::Str | Kind::List | Kind::Dict) {
            self.error(
                base.span,
                DiagKind::NotIndexable {
                    kind: kind.describe(),
                },
            );
        }
    }

    fn binary(&mut self, expr: &Expr, op: BinaryOp, left: &Expr, right: &Expr) -> Kind {
        use BinaryOp::*;
        let (l, r) = (self.expr(left), self.expr(right));
        if matches!(op, Matches | NotMatches) {
            self.regex(right);
        }
        let any = l == Kind::Any || r == Kind::Any;
        let numbers = l.is_number() && r.is_number();
        let result = match op {
            And | Or => return l.join(r),
            Eq | Ne => return Kind::Bool,
            Add if l == r && matches!(l, Kind::Str | Kind::List) => return l,
            Add | Sub | Mul if numbers => return if l == r { l } else { Kind::Float },
            Div if numbers => return Kind::Float,
            Add | Sub | Mul | Div if any => return if numbers { Kind::Float } else { Kind::Any },
            Add | Sub | Mul | Div => None,
            Lt | Le | Gt | Ge => (any || numbers || l == r && matches!(l, Kind::Str | Kind::List))
                .then_some(Kind::Bool),
            In | NotIn => container(r, l),
            Contains | NotContains => container(l, r),
            Matches | NotMatches => (matches!(l, Kind::Any | Kind::Str)
                && matches!(r, Kind::Any | Kind::Str))
            .then_some(Kind::Bool),
        };
        match result {
            Some(kind) => kind,
            None => {
                self.error(
                    expr.span,
                    DiagKind::WrongOperandKinds {
                        op: op.as_str(),
                        kinds: vec![l.describe(), r.describe()],
                    },
                );
                Kind::Any
            }
        }
    }

    /// A regex given as a literal must compile; one with holes is checked when it runs.
    fn regex(&mut self, expr: &Expr) {
        let ExprKind::Str(text) = &expr.kind else {
            return;
        };
        let Some(regex) = text.as_literal() else {
            return;
        };
        if let Err(e) = regex_lite::Regex::new(&regex) {
            self.error(
                expr.span,
                DiagKind::InvalidRegex {
                    regex,
                    message: e.to_string(),
                },
            );
        }
    }

    /// The method of the table a call means, if it means one (no diagnostics).
    fn method_of(&self, call: &Call) -> Option<&'a Signature> {
        let receiver = match &call.target {
            None => {
                if self.procedures.contains_key(&call.name.name)
                    || builtins::function(&call.name.name).is_some()
                {
                    return None;
                }
                Receiver::Global
            }
            Some(target) => {
                let machine = match &target.kind {
                    ExprKind::Name(name) => self
                        .variable(&name.name)
                        .is_none_or(|kind| matches!(kind, Kind::Machine | Kind::Any)),
                    _ => true,
                };
                if !machine {
                    return None;
                }
                Receiver::Machine
            }
        };
        lookup(self.signatures, |s| s, &call.name.name, receiver)
    }

    /// Checks a call and returns the kind of its value.
    fn call(&mut self, call: &Call, span: Span) -> Kind {
        let kinds: Vec<Kind> = call.args.iter().map(|arg| self.expr(arg)).collect();
        let (callee, kind) = match &call.target {
            None => self.plain_call(call, span, &kinds),
            Some(target) => self.method_call(call, target, span, &kinds),
        };
        if let Some(check) = &call.check {
            self.expr(&check.operand);
            if matches!(check.op, BinaryOp::Matches | BinaryOp::NotMatches) {
                self.regex(&check.operand);
            }
            if let Callee::Method(signature) = callee
                && !signature.returns_text
            {
                self.error(
                    check.span,
                    DiagKind::CheckWithoutText {
                        method: signature.name.to_string(),
                    },
                );
            }
        }
        kind
    }

    /// `name(args)`: a procedure, a builtin function or a global command.
    fn plain_call(&mut self, call: &Call, span: Span, kinds: &[Kind]) -> (Callee<'a>, Kind) {
        let name = &call.name.name;
        if let Some(info) = self.procedures.get(name) {
            let params = info.params;
            if let Some((caller, _)) = &self.procedure
                && let Some(caller) = self.procedures.get_mut(caller)
            {
                caller.calls.push((name.clone(), call.name.span));
            }
            self.count(call, span, params, Some(params));
            self.no_options(call);
            return (Callee::Other, Kind::Any);
        }
        if let Some(function) = builtins::function(name) {
            self.count(call, span, function.required, Some(function.params.len()));
            self.takes(name, function.params, call, kinds);
            self.no_options(call);
            return (Callee::Other, function.returns);
        }
        match lookup(self.signatures, |s| s, name, Receiver::Global) {
            Some(signature) => {
                if signature.receiver == Receiver::Machine {
                    self.error(
                        call.name.span,
                        DiagKind::NeedsMachine {
                            method: name.clone(),
                            example: self.machines.first().map(|machine| example(machine)),
                        },
                    );
                }
                self.signature(call, span, signature, kinds);
                (Callee::Method(signature), text_kind(signature))
            }
            None if call.args.is_empty() && call.options.is_empty() => match self.variable(name) {
                // A variable alone as a statement (`x` at the prompt shows it).
                Some(kind) => (Callee::Other, kind),
                None => self.unknown_function(call),
            },
            None => self.unknown_function(call),
        }
    }

    /// Reports a call of a name that is nothing callable.
    fn unknown_function(&mut self, call: &Call) -> (Callee<'a>, Kind) {
        let name = &call.name.name;
        let names = self
            .procedures
            .keys()
            .map(String::as_str)
            .chain(FUNCTIONS.iter().map(|f| f.name))
            .chain(self.signatures.iter().map(|s| s.name));
        let suggestion = nearest(name, names).map(str::to_string);
        self.error(
            call.name.span,
            DiagKind::UnknownFunction {
                name: name.clone(),
                suggestion,
            },
        );
        (Callee::Other, Kind::Any)
    }

    /// `target.name(args)`: a machine method or a value method.
    fn method_call(
        &mut self,
        call: &Call,
        target: &Expr,
        span: Span,
        kinds: &[Kind],
    ) -> (Callee<'a>, Kind) {
        let name = &call.name.name;
        let target_kind = match &target.kind {
            ExprKind::Name(ident)
                if self.variable(&ident.name).is_none()
                    && resolve_machine(&ident.name, self.machines).is_none()
                    && ident.name != MACHINES
                    && builtins::value_method(Kind::Any, name).is_none() =>
            {
                let names = self.machine_names();
                let suggestion = nearest(&ident.name, names).map(str::to_string);
                self.error(
                    ident.span,
                    DiagKind::UnknownMachine {
                        machine: ident.name.clone(),
                        suggestion,
                    },
                );
                Kind::Any
            }
            _ => self.expr(target),
        };
        let machine_method = lookup(self.signatures, |s| s, name, Receiver::Machine);
        let value_method = builtins::value_method(target_kind, name);
        match (target_kind, machine_method, value_method) {
            (Kind::Machine | Kind::Any, Some(signature), _) => {
                if signature.receiver == Receiver::Global {
                    self.error(
                        target.span,
                        DiagKind::TakesNoMachine {
                            method: name.clone(),
                            machine: source_name(target),
                        },
                    );
                }
                self.signature(call, span, signature, kinds);
                (Callee::Method(signature), text_kind(signature))
            }
            (_, _, Some(method)) => {
                self.count(call, span, method.required, Some(method.params.len()));
                self.takes(name, method.params, call, kinds);
                self.no_options(call);
                (Callee::Other, method.returns)
            }
            (Kind::Any, None, None) => {
                let names = self
                    .signatures
                    .iter()
                    .map(|s| s.name)
                    .chain(VALUE_METHODS.iter().map(|m| m.name));
                let suggestion = nearest(name, names).map(str::to_string);
                self.error(
                    call.name.span,
                    DiagKind::UnknownMethod {
                        method: name.clone(),
                        suggestion,
                    },
                );
                (Callee::Other, Kind::Any)
            }
            (Kind::Machine, None, None) if builtins::value_method(Kind::Any, name).is_none() => {
                let names = self
                    .signatures
                    .iter()
                    .filter(|s| s.receiver == Receiver::Machine);
                let suggestion = nearest(name, names.map(|s| s.name)).map(str::to_string);
                self.error(
                    call.name.span,
                    DiagKind::UnknownMethod {
                        method: name.clone(),
                        suggestion,
                    },
                );
                (Callee::Other, Kind::Any)
            }
            (kind, _, None) => {
                let methods = VALUE_METHODS.iter().filter(|m| m.receiver == kind);
                let suggestion = nearest(name, methods.map(|m| m.name));
                self.error(
                    call.name.span,
                    DiagKind::NoSuchMethod {
                        kind: kind.describe(),
                        method: name.clone(),
                        suggestion: suggestion.map(str::to_string),
                    },
                );
                (Callee::Other, Kind::Any)
            }
        }
    }

    /// The number of positional arguments.
    fn count(&mut self, call: &Call, span: Span, min: usize, max: Option<usize>) {
        let args = &call.args;
        if args.len() >= min && max.is_none_or(|max| args.len() <= max) {
            return;
        }
        let span = match (max, args.last()) {
            (Some(max), Some(last)) if args.len() > max => args[max].span.to(last.span),
            _ => span,
        };
        self.error(
            span,
            DiagKind::WrongArgumentCount {
                method: call.name.name.clone(),
                min,
                max,
                found: args.len(),
            },
        );
    }

    /// Builtins and value methods take no options.
    fn no_options(&mut self, call: &Call) {
        for option in &call.options {
            self.expr(&option.value);
            self.error(
                option.name.span,
                DiagKind::UnknownOption {
                    method: call.name.name.clone(),
                    option: option.name.name.clone(),
                    suggestion: None,
                },
            );
        }
    }

    /// The kinds of a builtin's arguments, where known; literal regexes compile.
    fn takes(&mut self, name: &str, params: &[Takes], call: &Call, kinds: &[Kind]) {
        for ((arg, kind), takes) in call.args.iter().zip(kinds).zip(params) {
            if !takes.accepts(*kind) {
                self.error(
                    arg.span,
                    DiagKind::WrongArgument {
                        function: name.to_string(),
                        expected: match takes {
                            Takes::Str | Takes::Regex => "a string",
                            Takes::Int => "a whole number",
                            Takes::List => "a list",
                            Takes::Any => "a value",
                        },
                        found: kind.describe(),
                    },
                );
            } else if *takes == Takes::Regex {
                self.regex(arg);
            }
        }
    }

    /// A call of a method of the table: arguments and options.
    fn signature(&mut self, call: &Call, span: Span, signature: &Signature, kinds: &[Kind]) {
        let (min, max) = (signature.min_args(), signature.max_args());
        self.count(call, span, min, max);
        let checked = max.map_or(call.args.len(), |max| max.min(call.args.len()));
        for (i, (arg, kind)) in call.args[..checked].iter().zip(kinds).enumerate() {
            if let Some(spec) = signature.positional_option(i) {
                let slot = Slot::Option(spec.name);
                self.value(signature.name, slot, arg, *kind, spec.kind);
                continue;
            }
            let param = signature
                .params
                .get(i)
                .or(signature.params.last())
                .copied()
                .unwrap_or("argument");
            self.value(
                signature.name,
                Slot::Param(param),
                arg,
                *kind,
                signature.kind_of(i),
            );
        }
        for (i, option) in call.options.iter().enumerate() {
            let kind = self.expr(&option.value);
            let name = &option.name.name;
            let positional = (signature.params.len()..checked).any(|j| {
                signature
                    .positional_option(j)
                    .is_some_and(|spec| spec.name == *name)
            });
            if positional
                || call.options[..i]
                    .iter()
                    .any(|earlier| earlier.name.name == *name)
            {
                self.error(
                    option.name.span,
                    DiagKind::DuplicateOption {
                        option: name.clone(),
                    },
                );
                continue;
            }
            match signature.option(name) {
                Some(spec) => self.value(
                    signature.name,
                    Slot::Option(name),
                    &option.value,
                    kind,
                    spec.kind,
                ),
                None => {
                    let names = signature.options.iter().map(|spec| spec.name);
                    let suggestion = nearest(name, names).map(str::to_string);
                    self.error(
                        option.name.span,
                        DiagKind::UnknownOption {
                            method: signature.name.to_string(),
                            option: name.clone(),
                            suggestion,
                        },
                    );
                }
            }
        }
    }

    /// A method argument or option against the kind of value its slot takes:
    /// literals are checked in full (a regex compiles, seconds are non-negative, a
    /// port is 1 to 65535, as a number or a string), other expressions by kind.
    fn value(&mut self, method: &str, slot: Slot, arg: &Expr, kind: Kind, expected: ValueKind) {
        let found = match (expected, &arg.kind) {
            // `user=None`: the option is not given, as in Python.
            (_, ExprKind::None) if matches!(slot, Slot::Option(_)) => return,
            (ValueKind::Regex, ExprKind::Str(_)) => return self.regex(arg),
            (ValueKind::Seconds, ExprKind::Int(n)) if *n >= 0 => return,
            (ValueKind::Seconds, ExprKind::Float(f)) if *f >= 0.0 && f.is_finite() => return,
            (ValueKind::Port, ExprKind::Int(n)) if port(*n) => return,
            (ValueKind::Tty, ExprKind::Int(n)) if (1..=MAX_TTY).contains(n) => return,
            (ValueKind::Tty, ExprKind::Str(text)) => match text.as_literal() {
                Some(literal) if literal.parse().is_ok_and(|n| (1..=MAX_TTY).contains(&n)) => {
                    return;
                }
                Some(literal) => format!("`{literal}`"),
                None => return,
            },
            (ValueKind::Keys, ExprKind::Str(text)) => match text.as_literal() {
                Some(literal) => match crate::keys::untypable(&literal) {
                    Some(c) => format!("{c:?} in `{}`", literal.escape_debug()),
                    None => return,
                },
                None => return,
            },
            (ValueKind::Bool, ExprKind::Bool(_)) => return,
            (ValueKind::Port, ExprKind::Str(text)) => match text.as_literal() {
                Some(literal) if literal.parse::<i64>().is_ok_and(port) => return,
                Some(literal) => format!("`{}`", literal),
                None => return,
            },
            (ValueKind::Seconds | ValueKind::Port | ValueKind::Tty, ExprKind::Int(n)) => {
                format!("`{n}`")
            }
            (ValueKind::Seconds | ValueKind::Port, ExprKind::Float(f)) => format!("`{f}`"),
            _ => {
                let fits = match expected {
                    ValueKind::Text | ValueKind::Regex | ValueKind::Keys => {
                        matches!(kind, Kind::Any | Kind::Str)
                    }
                    ValueKind::Tty => matches!(kind, Kind::Any | Kind::Int | Kind::Str),
                    ValueKind::Seconds => kind == Kind::Any || kind.is_number(),
                    ValueKind::Port => matches!(kind, Kind::Any | Kind::Int | Kind::Str),
                    ValueKind::Bool => matches!(kind, Kind::Any | Kind::Bool),
                };
                if fits {
                    return;
                }
                kind.describe().to_string()
            }
        };
        let method = method.to_string();
        let kind = match slot {
            Slot::Param(param) => DiagKind::WrongArgumentKind {
                method,
                param: param.to_string(),
                expected,
                found,
            },
            Slot::Option(option) => DiagKind::WrongOptionKind {
                method,
                option: option.to_string(),
                expected,
                found,
            },
        };
        self.error(arg.span, kind);
    }
}

/// Whether `n` is a TCP port number.
fn port(n: i64) -> bool {
    (1..=65535).contains(&n)
}

/// The kind of what a method of the table returns.
fn text_kind(signature: &Signature) -> Kind {
    if let Some(kind) = signature.returns {
        kind
    } else if signature.returns_text {
        Kind::Str
    } else {
        Kind::None
    }
}

/// The kind `op` gives when its container is of kind `container` and its item of
/// kind `item`, or `None` when they cannot go together.
fn container(container: Kind, item: Kind) -> Option<Kind> {
    match (container, item) {
        (Kind::Any, _) | (Kind::List, _) => Some(Kind::Bool),
        (Kind::Str | Kind::Dict, Kind::Str | Kind::Any) => Some(Kind::Bool),
        _ => None,
    }
}

/// A target as written, for messages (`server`, or `…` for an expression).
fn source_name(target: &Expr) -> String {
    match &target.kind {
        ExprKind::Name(name) => name.name.clone(),
        _ => "…".to_string(),
    }
}

/// A machine as a script can write it, for "write `server.start`" hints.
fn example(name: &str) -> String {
    let valid = name.starts_with(is_ident_start) && name.chars().all(is_ident_continue);
    if valid {
        name.to_string()
    } else {
        python_name(name)
    }
}

/// Whether nothing can change `condition` while `body` runs: it calls nothing, and
/// the body assigns none of its names and has no `break` or `return`.
fn never_changes(condition: &Expr, body: &[Statement]) -> bool {
    let mut names = BTreeSet::new();
    if !pure_names(condition, &mut names) {
        return false;
    }
    !body
        .iter()
        .any(|statement| escapes_or_assigns(statement, &names))
}

/// Collects the names `expr` reads; false if it calls anything.
fn pure_names(expr: &Expr, names: &mut BTreeSet<String>) -> bool {
    match &expr.kind {
        ExprKind::Call(_) => false,
        ExprKind::Name(name) => {
            names.insert(name.name.clone());
            true
        }
        ExprKind::Str(text) => text.parts.iter().all(|part| match part {
            TextPart::Expr(hole) => pure_names(hole, names),
            TextPart::Literal(_) => true,
        }),
        ExprKind::Int(_) | ExprKind::Float(_) | ExprKind::Bool(_) | ExprKind::None => true,
        ExprKind::List(items) => items.iter().all(|item| pure_names(item, names)),
        ExprKind::Dict(entries) => entries
            .iter()
            .all(|(key, value)| pure_names(key, names) && pure_names(value, names)),
        ExprKind::Index { base, index } => pure_names(base, names) && pure_names(index, names),
        ExprKind::Slice { base, start, end } => {
            pure_names(base, names)
                && [start, end]
                    .into_iter()
                    .flatten()
                    .all(|bound| pure_names(bound, names))
        }
        ExprKind::Unary { operand, .. } => pure_names(operand, names),
        ExprKind::Binary { left, right, .. } => pure_names(left, names) && pure_names(right, names),
    }
}

/// Whether `statement` may leave the loop or assign one of `names`.
fn escapes_or_assigns(statement: &Statement, names: &BTreeSet<String>) -> bool {
    let any = |body: &[Statement]| body.iter().any(|s| escapes_or_assigns(s, names));
    match &statement.kind {
        StatementKind::Break | StatementKind::Return(_) => true,
        StatementKind::Assign { targets, .. } => targets.iter().any(|t| names.contains(&t.name)),
        StatementKind::SetItem { target, .. } => names.contains(&target.name),
        StatementKind::For { var, body, .. } => names.contains(&var.name) || any(body),
        StatementKind::If {
            branches,
            otherwise,
        } => branches.iter().any(|(_, body)| any(body)) || otherwise.as_deref().is_some_and(any),
        StatementKind::While { body, .. }
        | StatementKind::Subtest { body, .. }
        | StatementKind::Retry { body, .. }
        | StatementKind::With { body, .. } => any(body),
        StatementKind::PollingCondition(condition) => names.contains(&condition.name.name),
        StatementKind::WaitCondition { .. }
        | StatementKind::RetryCall { .. }
        | StatementKind::Expr(_)
        | StatementKind::Assert { .. }
        | StatementKind::Continue
        | StatementKind::Def(_) => false,
    }
}

/// The machine a script means by `written`: the machine of that name, else the one
/// whose [`python_name`] it is, else the only machine when `written` is `machine`.
pub(crate) fn resolve_machine<'a>(written: &str, machines: &'a [String]) -> Option<&'a str> {
    let found = machines
        .iter()
        .find(|name| *name == written)
        .or_else(|| machines.iter().find(|name| python_name_is(name, written)))
        .or_else(|| (written == "machine" && machines.len() == 1).then(|| &machines[0]));
    found.map(String::as_str)
}

/// A machine name as the NixOS driver exposes it to Python:
/// `re.sub(r"^[^A-Za-z_]|[^A-Za-z0-9_]", "_", name)`.
pub(crate) fn python_name(name: &str) -> String {
    name.chars()
        .enumerate()
        .map(|(i, c)| python_char(i, c))
        .collect()
}

fn python_char(i: usize, c: char) -> char {
    let keep = c.is_ascii_alphabetic() || c == '_' || (i > 0 && c.is_ascii_digit());
    if keep { c } else { '_' }
}

/// `python_name(name) == written`, without allocating.
fn python_name_is(name: &str, written: &str) -> bool {
    let mut written = written.chars();
    name.chars()
        .enumerate()
        .all(|(i, c)| written.next() == Some(python_char(i, c)))
        && written.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::parser::parse;

    fn machines(names: &[&str]) -> Vec<String> {
        names.iter().map(|name| name.to_string()).collect()
    }

    /// Parses and checks `src` against `machines`; returns all rendered diagnostics.
    fn run_with(machine_names: &[&str], src: &str) -> String {
        let machines = machines(machine_names);
        let signatures = crate::methods::signatures();
        let ctx = CheckContext {
            machines: &machines,
            signatures: &signatures,
        };
        let script = match parse(src) {
            Ok(script) => script,
            Err(e) => panic!("parsing failed:\n{}", e.render("test.cmds", src, false)),
        };
        Checker::new(&ctx)
            .check(&script)
            .iter()
            .map(|d| d.render("test.cmds", src, false))
            .collect::<Vec<_>>()
            .join("")
    }

    /// Checks `src` with machines `server` and `client`; compares every diagnostic.
    #[track_caller]
    fn check(src: &str, expected: &str) {
        assert_eq!(run_with(&["server", "client"], src), expected);
    }

    #[track_caller]
    fn ok(src: &str) {
        check(src, "");
    }

    #[test]
    fn valid_scripts() {
        ok("start_all");
        ok("start_all()");
        ok("join_all\nserial_stdout_on\nserial_stdout_off");
        ok("log \"hi\"");
        ok("sleep 5\nsleep 0.5\nsleep 0");
        ok("server.start\nserver.shutdown\nserver.crash\nserver.wait_for_shutdown");
        ok("server.succeed \"a\"\nserver.succeed \"a\" \"b\" 'c'");
        ok("server.succeed(\"a\", \"b\", timeout=5)");
        ok("server.fail \"false\" timeout=1");
        ok("x = server.execute \"a\"");
        ok("server.wait_until_succeeds \"test -e /x\" timeout=60");
        ok("server.wait_until_fails \"x\" == \"y\"");
        ok("server.wait_for_console_text \"login: +$\" timeout=30");
        ok("server.send_monitor_command \"info status\" contains \"running\"");
        ok("server.succeed \"echo hello\" =~ \"hel+o\"");
        ok("server.succeed \"x\" !~ \"(a|b)*\"");
        ok("server.succeed \"x\" == \"(\"");
        ok("server.succeed \"$HOME\"");
    }

    #[test]
    fn the_example_checks() {
        let src = crate::script::EXAMPLE;
        assert_eq!(run_with(&["machine", "client"], src), "");
    }

    #[test]
    fn variables() {
        ok("x = server.succeed \"a\"\nserver.succeed \"${x}\"");
        ok("x = \"a\"\ny = \"${x}\"\nserver.succeed \"${y}\" timeout=1 == \"${x}\"");
        ok("subtest \"s\" {\n  x = \"a\"\n}\nlog \"${x}\"");
        ok("x = \"a\"\nsubtest \"${x}\" {\n  log \"${x}\"\n}");
        ok("x = server.succeed \"a\"\nserver.succeed <<EOF\n${x}\nEOF");
        ok("server.succeed <<'EOF'\n${x}\nEOF");
        ok("server.succeed '${x}'");
        check(
            "log \"${name}\"",
            "\
error: undefined variable `name`
 --> test.cmds:1:8
  |
1 | log \"${name}\"
  |        ^^^^ define it earlier with `name = …`, or write `$name` to leave it to the shell
",
        );
        check(
            "name = \"a\"\nlog \"${nmae}\"",
            "\
error: undefined variable `nmae`
 --> test.cmds:2:8
  |
2 | log \"${nmae}\"
  |        ^^^^ did you mean `name`?
",
        );
        check(
            "x = server.succeed \"${x}\"",
            "\
error: undefined variable `x`
 --> test.cmds:1:23
  |
1 | x = server.succeed \"${x}\"
  |                       ^ define it earlier with `x = …`, or write `$x` to leave it to the shell
",
        );
        check(
            "log \"${later}\"\nlater = \"x\"",
            "\
error: undefined variable `later`
 --> test.cmds:1:8
  |
1 | log \"${later}\"
  |        ^^^^^ define it earlier with `later = …`, or write `$later` to leave it to the shell
",
        );
        check(
            "server.succeed <<EOF\n  echo ${HOME}\nEOF\n",
            "\
error: undefined variable `HOME`
 --> test.cmds:2:10
  |
2 |   echo ${HOME}
  |          ^^^^ define it earlier with `HOME = …`, or write `$HOME` to leave it to the shell
",
        );
        check(
            "x = server.foo \"${y}\"\nlog \"${x}\"",
            "\
error: unknown method `foo`
 --> test.cmds:1:12
  |
1 | x = server.foo \"${y}\"
  |            ^^^
error: undefined variable `y`
 --> test.cmds:1:19
  |
1 | x = server.foo \"${y}\"
  |                   ^ define it earlier with `y = …`, or write `$y` to leave it to the shell
",
        );
    }

    #[test]
    fn unknown_methods() {
        assert_eq!(
            run_with(&["machine"], "machine.succed \"echo hi\""),
            "\
error: unknown method `succed`
 --> test.cmds:1:9
  |
1 | machine.succed \"echo hi\"
  |         ^^^^^^ did you mean `succeed`?
"
        );
        check(
            "strat_all",
            "\
error: unknown function `strat_all`
 --> test.cmds:1:1
  |
1 | strat_all
  | ^^^^^^^^^ did you mean `start_all`?
",
        );
        check(
            "server.take_photo \"x\"",
            "\
error: unknown method `take_photo`
 --> test.cmds:1:8
  |
1 | server.take_photo \"x\"
  |        ^^^^^^^^^^
",
        );
        check(
            "srver.teleport",
            "\
error: unknown machine `srver`
 --> test.cmds:1:1
  |
1 | srver.teleport
  | ^^^^^ did you mean `server`?
error: unknown method `teleport`
 --> test.cmds:1:7
  |
1 | srver.teleport
  |       ^^^^^^^^
",
        );
    }

    #[test]
    fn machines_resolve() {
        assert_eq!(
            run_with(&["my-vm"], "my-vm.start\nmy_vm.start\nmachine.start"),
            ""
        );
        assert_eq!(run_with(&["1st"], "_st.start\nmachine.start"), "");
        assert_eq!(run_with(&["a", "b"], "a.start\nb.start"), "");
        assert_eq!(
            run_with(&["a", "b"], "machine.start"),
            "\
error: unknown machine `machine`
 --> test.cmds:1:1
  |
1 | machine.start
  | ^^^^^^^
"
        );
        assert_eq!(
            run_with(&["server"], "machin.start"),
            "\
error: unknown machine `machin`
 --> test.cmds:1:1
  |
1 | machin.start
  | ^^^^^^ did you mean `machine`?
"
        );
        check(
            "clinet.start",
            "\
error: unknown machine `clinet`
 --> test.cmds:1:1
  |
1 | clinet.start
  | ^^^^^^ did you mean `client`?
",
        );
    }

    #[test]
    fn resolve_machine_rules() {
        let names = machines(&["server", "my-vm", "2nd", "my_vm"]);
        assert_eq!(resolve_machine("server", &names), Some("server"));
        assert_eq!(resolve_machine("my-vm", &names), Some("my-vm"));
        assert_eq!(resolve_machine("my_vm", &names), Some("my_vm"));
        assert_eq!(resolve_machine("_nd", &names), Some("2nd"));
        assert_eq!(resolve_machine("2nd", &names), Some("2nd"));
        assert_eq!(resolve_machine("machine", &names), None);
        assert_eq!(resolve_machine("serve", &names), None);
        assert_eq!(resolve_machine("server_", &names), None);
        let one = machines(&["web.example"]);
        assert_eq!(resolve_machine("web_example", &one), Some("web.example"));
        assert_eq!(resolve_machine("machine", &one), Some("web.example"));
        assert_eq!(resolve_machine("machine", &[]), None);
        let exact = machines(&["machine", "other"]);
        assert_eq!(resolve_machine("machine", &exact), Some("machine"));
    }

    #[test]
    fn python_names() {
        assert_eq!(python_name("server"), "server");
        assert_eq!(python_name("my-vm"), "my_vm");
        assert_eq!(python_name("1st"), "_st");
        assert_eq!(python_name("a1"), "a1");
        assert_eq!(python_name("-x"), "_x");
        assert_eq!(python_name("é"), "_");
        assert_eq!(python_name(""), "");
        assert!(python_name_is("1st", "_st"));
        assert!(!python_name_is("1st", "_s"));
        assert!(!python_name_is("1st", "_stx"));
    }

    #[test]
    fn ports_and_sleep_on_both_receivers() {
        ok("server.wait_for_open_port 80");
        ok("server.wait_for_open_port(80, addr=\"client\", timeout=5)");
        ok("sleep 1");
        ok("server.sleep(1)");
        check(
            "server.wait_for_open_port 0",
            "\
error: argument `port` of `wait_for_open_port` must be a port number from 1 to 65535, found `0`
 --> test.cmds:1:27
  |
1 | server.wait_for_open_port 0
  |                           ^
",
        );
        ok("server.wait_for_open_port \"80\"");
        check(
            "server.wait_for_open_port \"http\"",
            "\
error: argument `port` of `wait_for_open_port` must be a port number from 1 to 65535, found `http`
 --> test.cmds:1:27
  |
1 | server.wait_for_open_port \"http\"
  |                           ^^^^^^
",
        );
    }

    #[test]
    fn receivers() {
        check(
            "succeed \"x\"",
            "\
error: `succeed` must be called on a machine
 --> test.cmds:1:1
  |
1 | succeed \"x\"
  | ^^^^^^^ write `server.succeed`
",
        );
        assert_eq!(
            run_with(&[], "start"),
            "\
error: `start` must be called on a machine
 --> test.cmds:1:1
  |
1 | start
  | ^^^^^
"
        );
        assert_eq!(
            run_with(&["web-1", "2x"], "start"),
            "\
error: `start` must be called on a machine
 --> test.cmds:1:1
  |
1 | start
  | ^^^^^ write `web-1.start`
"
        );
        assert_eq!(
            run_with(&["2x"], "start"),
            "\
error: `start` must be called on a machine
 --> test.cmds:1:1
  |
1 | start
  | ^^^^^ write `_x.start`
"
        );
        check(
            "server.start_all",
            "\
error: `start_all` is not called on a machine
 --> test.cmds:1:1
  |
1 | server.start_all
  | ^^^^^^ write `start_all` without `server.`
",
        );
    }

    #[test]
    fn argument_counts() {
        check(
            "server.succeed",
            "\
error: `succeed` takes at least 1 argument, found 0
 --> test.cmds:1:1
  |
1 | server.succeed
  | ^^^^^^^^^^^^^^
",
        );
        check(
            "server.succeed()",
            "\
error: `succeed` takes at least 1 argument, found 0
 --> test.cmds:1:1
  |
1 | server.succeed()
  | ^^^^^^^^^^^^^^^^
",
        );
        check(
            "server.execute \"a\" \"b\" \"c\"",
            "\
error: `execute` takes 1 argument, found 3
 --> test.cmds:1:20
  |
1 | server.execute \"a\" \"b\" \"c\"
  |                    ^^^^^^^
",
        );
        check(
            "start_all \"now\"",
            "\
error: `start_all` takes no arguments, found 1
 --> test.cmds:1:11
  |
1 | start_all \"now\"
  |           ^^^^^
",
        );
        check(
            "sleep",
            "\
error: `sleep` takes 1 argument, found 0
 --> test.cmds:1:1
  |
1 | sleep
  | ^^^^^
",
        );
    }

    #[test]
    fn argument_kinds() {
        check(
            "sleep \"5\"",
            "\
error: argument `seconds` of `sleep` must be a non-negative number of seconds, found a string
 --> test.cmds:1:7
  |
1 | sleep \"5\"
  |       ^^^ write the number without quotes
",
        );
        check(
            "sleep -1",
            "\
error: argument `seconds` of `sleep` must be a non-negative number of seconds, found `-1`
 --> test.cmds:1:7
  |
1 | sleep -1
  |       ^^
",
        );
        check(
            "log 5",
            "\
error: argument `message` of `log` must be a string, found a number
 --> test.cmds:1:5
  |
1 | log 5
  |     ^ put it in quotes
",
        );
        check(
            "server.succeed \"a\" 5",
            "\
error: argument `command` of `succeed` must be a string, found a number
 --> test.cmds:1:20
  |
1 | server.succeed \"a\" 5
  |                    ^ put it in quotes
",
        );
        check(
            "server.wait_for_console_text 1",
            "\
error: argument `regex` of `wait_for_console_text` must be a regex string, found a number
 --> test.cmds:1:30
  |
1 | server.wait_for_console_text 1
  |                              ^ put it in quotes
",
        );
    }

    #[test]
    fn options() {
        check(
            "server.succeed \"a\" timout=5",
            "\
error: unknown option `timout` for `succeed`
 --> test.cmds:1:20
  |
1 | server.succeed \"a\" timout=5
  |                    ^^^^^^ did you mean `timeout`?
",
        );
        check(
            "server.start retries=5",
            "\
error: unknown option `retries` for `start`
 --> test.cmds:1:14
  |
1 | server.start retries=5
  |              ^^^^^^^
",
        );
        check(
            "server.succeed(\"a\", timeout=1, timeout=2)",
            "\
error: option `timeout` is given twice
 --> test.cmds:1:32
  |
1 | server.succeed(\"a\", timeout=1, timeout=2)
  |                                ^^^^^^^
",
        );
        check(
            "server.succeed \"a\" timeout=\"60\"",
            "\
error: option `timeout` of `succeed` must be a non-negative number of seconds, found a string
 --> test.cmds:1:28
  |
1 | server.succeed \"a\" timeout=\"60\"
  |                            ^^^^ write the number without quotes
",
        );
        check(
            "server.succeed \"a\" timeout=-5",
            "\
error: option `timeout` of `succeed` must be a non-negative number of seconds, found `-5`
 --> test.cmds:1:28
  |
1 | server.succeed \"a\" timeout=-5
  |                            ^^
",
        );
    }

    #[test]
    fn regexes() {
        check(
            "server.succeed \"a\" =~ \"(unclosed\"",
            "\
error: invalid regex `(unclosed`: found open group without closing ')'
 --> test.cmds:1:23
  |
1 | server.succeed \"a\" =~ \"(unclosed\"
  |                       ^^^^^^^^^^^
",
        );
        check(
            "server.succeed \"a\" !~ '*'",
            "\
error: invalid regex `*`: uncounted repetition operator must be applied to a sub-expression
 --> test.cmds:1:23
  |
1 | server.succeed \"a\" !~ '*'
  |                       ^^^
",
        );
        check(
            "server.wait_for_console_text \"[a-\"",
            "\
error: invalid regex `[a-`: non-empty character class has no closing bracket after dash
 --> test.cmds:1:30
  |
1 | server.wait_for_console_text \"[a-\"
  |                              ^^^^^
",
        );
        ok("x = \"(\"\nserver.succeed \"a\" =~ \"${x}\"");
        ok("server.succeed \"a\" contains \"(\"");
    }

    #[test]
    fn captures_and_checks_need_text() {
        check(
            "x = server.start",
            "\
error: `start` returns no text to capture
 --> test.cmds:1:1
  |
1 | x = server.start
  | ^
",
        );
        check(
            "start_all() == \"\"",
            "\
error: `start_all` returns no text to check
 --> test.cmds:1:13
  |
1 | start_all() == \"\"
  |             ^^^^^
",
        );
    }

    #[test]
    fn reports_every_problem_in_source_order() {
        check(
            "server.succed \"a\"\nsubtest \"s\" {\n  sleep \"x\" 2\n  clinet.fail(\"${v}\", timeout=1, timeout=2) =~ \"(\"\n}\nx = server.start",
            "\
error: unknown method `succed`
 --> test.cmds:1:8
  |
1 | server.succed \"a\"
  |        ^^^^^^ did you mean `succeed`?
error: argument `seconds` of `sleep` must be a non-negative number of seconds, found a string
 --> test.cmds:3:9
  |
3 |   sleep \"x\" 2
  |         ^^^ write the number without quotes
error: `sleep` takes 1 argument, found 2
 --> test.cmds:3:13
  |
3 |   sleep \"x\" 2
  |             ^
error: unknown machine `clinet`
 --> test.cmds:4:3
  |
4 |   clinet.fail(\"${v}\", timeout=1, timeout=2) =~ \"(\"
  |   ^^^^^^ did you mean `client`?
error: undefined variable `v`
 --> test.cmds:4:18
  |
4 |   clinet.fail(\"${v}\", timeout=1, timeout=2) =~ \"(\"
  |                  ^ define it earlier with `v = …`, or write `$v` to leave it to the shell
error: option `timeout` is given twice
 --> test.cmds:4:34
  |
4 |   clinet.fail(\"${v}\", timeout=1, timeout=2) =~ \"(\"
  |                                  ^^^^^^^
error: invalid regex `(`: found open group without closing ')'
 --> test.cmds:4:48
  |
4 |   clinet.fail(\"${v}\", timeout=1, timeout=2) =~ \"(\"
  |                                                ^^^
error: `start` returns no text to capture
 --> test.cmds:6:1
  |
6 | x = server.start
  | ^
",
        );
    }

    #[test]
    fn variables_persist_across_calls() {
        let machines = machines(&["server"]);
        let signatures = crate::methods::signatures();
        let ctx = CheckContext {
            machines: &machines,
            signatures: &signatures,
        };
        let mut checker = Checker::new(&ctx);
        let first = parse("x = server.succeed \"hostname\"").unwrap();
        assert!(checker.check(&first).is_empty());
        let second = parse("log \"${x} ${y}\"").unwrap();
        let diagnostics = checker.check(&second);
        assert_eq!(diagnostics.len(), 1);
        assert_eq!(diagnostics[0].to_string(), "undefined variable `y`");
        assert!(checker.check(&parse("y = \"1\"").unwrap()).is_empty());
        assert!(checker.check(&second).is_empty());
    }

    #[test]
    fn thousand_line_script() {
        let mut src = String::from("start_all\n");
        for i in 0..200 {
            src.push_str(&format!("v{i} = server.succeed \"echo {i}\" timeout=5\n"));
            src.push_str(&format!(
                "client.succeed(\"ping ${{v{i}}}\") =~ \"^[0-9]+ ok$\"\n"
            ));
            src.push_str(&format!("subtest \"step {i}\" {{\n    server.wait_for_console_text \"login.*\" == \"${{v{i}}}\"\n"));
            src.push_str("}\n");
        }
        assert_eq!(src.lines().count(), 1001);
        assert_eq!(run_with(&["server", "client"], &src), "");
        let broken = src.replace("client.succeed(", "clinet.succed(");
        let machines = machines(&["server", "client"]);
        let signatures = crate::methods::signatures();
        let ctx = CheckContext {
            machines: &machines,
            signatures: &signatures,
        };
        let diagnostics = Checker::new(&ctx).check(&parse(&broken).unwrap());
        assert_eq!(diagnostics.len(), 400);
    }

    /// Lexes, parses, checks and renders many random scripts built from fragments
    /// of the language: nothing may panic, and lexemes must tile the source.
    #[test]
    fn random_inputs_never_panic() {
        const FRAGMENTS: &[&str] = &[
            "server", "machine", ".", "succeed", "start", "sleep", "x", " ", "\t", "\n", "\r",
            "\"", "'", "\"\"\"", "\\", "$", "${", "${x}", "{", "}", "(", ")", ",", ";", "=", "=~",
            "!", "~", "contains", "#", "5", "-", "0.5", ".5", "<<", "EOF", "'EOF'", "\nEOF\n",
            "  EOF", "subtest", "timeout", "é", "\\x", "\\u{", "41", "[", "]", ":", "+", "*", "/",
            "<", ">=", "if", "else", "for", "in", "while", "def", "return", "break", "assert",
            "retry", "not", "and", "${x + 1}", "len", "json", "(", ",", "machines", ".strip()",
            "[0]", "true", "None",
        ];
        let machines = machines(&["server"]);
        let signatures = crate::methods::signatures();
        let ctx = CheckContext {
            machines: &machines,
            signatures: &signatures,
        };
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut checker = Checker::new(&ctx);
        for _ in 0..20_000 {
            let len = next() % 24;
            let src: String = (0..len)
                .map(|_| FRAGMENTS[(next() % FRAGMENTS.len() as u64) as usize])
                .collect();
            if let Ok(tokens) = crate::script::lexer::lex(&src) {
                let joined: String = tokens.iter().map(|t| t.lexeme(&src)).collect();
                assert_eq!(joined, src);
            }
            match parse(&src) {
                Ok(script) => {
                    for diagnostic in checker.check(&script) {
                        diagnostic.render("fuzz", &src, true);
                    }
                }
                Err(diagnostic) => {
                    diagnostic.render("fuzz", &src, false);
                }
            }
        }
    }

    #[test]
    fn kinds_of_method_targets() {
        check(
            "x = server.succeed(\"a\").strip()\nserver.strip()\nx.wait_for_unit(\"a\")\nx.strp()",
            "\
error: a machine has no method `strip`
 --> test.cmds:2:8
  |
2 | server.strip()
  |        ^^^^^
error: a string has no method `wait_for_unit`
 --> test.cmds:3:3
  |
3 | x.wait_for_unit(\"a\")
  |   ^^^^^^^^^^^^^
error: a string has no method `strp`
 --> test.cmds:4:3
  |
4 | x.strp()
  |   ^^^^ did you mean `strip`?
",
        );
    }

    #[test]
    fn loops_need_lists() {
        check(
            "for x in 5 {\n}\nfor m in machines {\n  m.upper()\n}",
            "\
error: cannot loop over a number
 --> test.cmds:1:10
  |
1 | for x in 5 {
  |          ^
error: a machine has no method `upper`
 --> test.cmds:4:5
  |
4 |   m.upper()
  |     ^^^^^
",
        );
    }

    #[test]
    fn operators_need_fitting_kinds() {
        check(
            "x = \"a\" + 1\ny = -\"a\"\nz = 1 < \"a\"\nw = server[0]\nv = 5 in 6",
            "\
error: `+` cannot take a string and a number
 --> test.cmds:1:5
  |
1 | x = \"a\" + 1
  |     ^^^^^^^
error: `-` cannot take a string
 --> test.cmds:2:5
  |
2 | y = -\"a\"
  |     ^^^^
error: `<` cannot take a number and a string
 --> test.cmds:3:5
  |
3 | z = 1 < \"a\"
  |     ^^^^^^^
error: cannot index a machine
 --> test.cmds:4:5
  |
4 | w = server[0]
  |     ^^^^^^
error: `in` cannot take a number and a number
 --> test.cmds:5:5
  |
5 | v = 5 in 6
  |     ^^^^^^
",
        );
    }

    #[test]
    fn builtin_functions() {
        check(
            "len(1, 2)\nlne(\"x\")\nint(\"1\", base=2)\nx = \"a\".startswith(5)",
            "\
error: `len` takes 1 argument, found 2
 --> test.cmds:1:8
  |
1 | len(1, 2)
  |        ^
error: unknown function `lne`
 --> test.cmds:2:1
  |
2 | lne(\"x\")
  | ^^^ did you mean `len`?
error: unknown option `base` for `int`
 --> test.cmds:3:10
  |
3 | int(\"1\", base=2)
  |          ^^^^
error: `startswith` takes a string, found a number
 --> test.cmds:4:20
  |
4 | x = \"a\".startswith(5)
  |                    ^
",
        );
    }

    #[test]
    fn literal_regexes_in_expressions() {
        check(
            "match(\"(\", \"x\")\nx = \"a\" =~ \"[\"",
            "\
error: invalid regex `(`: found open group without closing ')'
 --> test.cmds:1:7
  |
1 | match(\"(\", \"x\")
  |       ^^^
error: invalid regex `[`: found unclosed character class
 --> test.cmds:2:12
  |
2 | x = \"a\" =~ \"[\"
  |            ^^^
",
        );
    }

    #[test]
    fn control_flow_in_its_place() {
        check(
            "break\nwhile true {\n  continue\n}\nreturn 5",
            "\
error: `break` outside a loop
 --> test.cmds:1:1
  |
1 | break
  | ^^^^^
error: the condition of this `while` never changes
 --> test.cmds:2:7
  |
2 | while true {
  |       ^^^^ assign one of its variables in the body, call a method in the condition, or `break`
error: `return` outside a procedure
 --> test.cmds:5:1
  |
5 | return 5
  | ^^^^^^^^
",
        );
    }

    #[test]
    fn procedures_at_the_top_level_once() {
        check(
            "if true {\n  def f() {\n  }\n}\ndef g(a, a) {\n}\ndef len() {\n}",
            "\
error: procedures are defined at the top level only
 --> test.cmds:2:3
  |
2 |   def f() {
  |   ^^^^^^^^^
error: `a` is already defined
 --> test.cmds:5:10
  |
5 | def g(a, a) {
  |          ^
error: `len` is already defined
 --> test.cmds:7:5
  |
7 | def len() {
  |     ^^^
",
        );
    }

    #[test]
    fn recursion_is_refused() {
        check(
            "def a() {\n  b()\n}\ndef b() {\n  a()\n}\ndef c() {\n  c()\n}",
            "\
error: recursive call: `a` calls `b` calls `a`
 --> test.cmds:5:3
  |
5 |   a()
  |   ^ recursion is not allowed: write a loop
error: recursive call: `c` calls `c`
 --> test.cmds:8:3
  |
8 |   c()
  |   ^ recursion is not allowed: write a loop
",
        );
    }

    #[test]
    fn procedure_arity() {
        check(
            "def f(m, port) {\n  m.wait_for_open_port(port)\n}\nf(server)\nf(server, 80, 1)\nf(server, 80, timeout=5)",
            "\
error: `f` takes 2 arguments, found 1
 --> test.cmds:4:1
  |
4 | f(server)
  | ^^^^^^^^^
error: `f` takes 2 arguments, found 3
 --> test.cmds:5:15
  |
5 | f(server, 80, 1)
  |               ^
error: unknown option `timeout` for `f`
 --> test.cmds:6:15
  |
6 | f(server, 80, timeout=5)
  |               ^^^^^^^
",
        );
    }

    #[test]
    fn while_conditions_that_never_change() {
        check(
            "n = 0\nwhile n < 3 {\n  log \"x\"\n}\nwhile n < 3 {\n  n = n + 1\n}",
            "\
error: the condition of this `while` never changes
 --> test.cmds:2:7
  |
2 | while n < 3 {
  |       ^^^^^ assign one of its variables in the body, call a method in the condition, or `break`
",
        );
    }

    #[test]
    fn systemd_options_given_positionally() {
        ok(
            "server.wait_for_unit \"a\" \"alice\" 30\nserver.systemctl(\"x\", None)\nserver.get_unit_property \"a\" \"B\" \"alice\"\nserver.require_unit_state \"a\" \"inactive\"",
        );
        check(
            "server.wait_for_unit \"a\" \"alice\" 30 4\nserver.wait_for_unit \"a\" 5\nserver.start_job \"a\" \"alice\" user=\"bob\"",
            "\
error: `wait_for_unit` takes 1 to 3 arguments, found 4
 --> test.cmds:1:37
  |
1 | server.wait_for_unit \"a\" \"alice\" 30 4
  |                                     ^
error: option `user` of `wait_for_unit` must be a string, found a number
 --> test.cmds:2:26
  |
2 | server.wait_for_unit \"a\" 5
  |                          ^ put it in quotes
error: option `user` is given twice
 --> test.cmds:3:30
  |
3 | server.start_job \"a\" \"alice\" user=\"bob\"
  |                              ^^^^
",
        );
    }

    #[test]
    fn dict_literals() {
        check(
            "d = {\"a\": 1, \"b\": [1, 2]}\ne = {\n  \"x\": d[\"a\"],\n  \"y\": {}\n}\nassert d.get(\"a\") == e[\"x\"]\nf = {1: 2, \"k\": 3}",
            "\
error: a JSON object's key must be a string, found a number
 --> test.cmds:7:6
  |
7 | f = {1: 2, \"k\": 3}
  |      ^ JSON objects have string keys: quote it
",
        );
    }

    #[test]
    fn unpacking_and_reserved_names() {
        check(
            "rc, out = server.succeed \"x\"\na, b = \"xy\"\nrc, out = server.execute \"x\"\nserver = 1\nmachines = []",
            "\
error: `succeed` gives no exit status to unpack
 --> test.cmds:1:11
  |
1 | rc, out = server.succeed \"x\"
  |           ^^^^^^^^^^^^^^^^^^ `rc, out = m.execute(…)` gives both
error: cannot unpack a string into several names
 --> test.cmds:2:8
  |
2 | a, b = \"xy\"
  |        ^^^^
error: cannot assign to `server`, which is a machine
 --> test.cmds:4:1
  |
4 | server = 1
  | ^^^^^^ choose another name
error: cannot assign to `machines`, which is the list of machines
 --> test.cmds:5:1
  |
5 | machines = []
  | ^^^^^^^^ choose another name
",
        );
    }

    #[test]
    fn machine_methods_on_values_of_unknown_kind() {
        ok("def f(m) {\n  rc, out = m.execute(\"x\")\n  return out\n}\nf(server)");
        ok("rc, out = machines[0].execute(\"x\")");
        check(
            "def f(m) {\n  x = m.start()\n}",
            "\
error: `start` returns no text to capture
 --> test.cmds:2:3
  |
2 |   x = m.start()
  |   ^
",
        );
    }

    #[test]
    fn retry_timeouts() {
        check(
            "retry timeout=\"5\" {\n}\nretry timeout=-1 {\n}",
            "\
error: option `timeout` of `retry` must be a non-negative number of seconds, found a string
 --> test.cmds:1:15
  |
1 | retry timeout=\"5\" {
  |               ^^^ write the number without quotes
error: option `timeout` of `retry` must be a non-negative number of seconds, found `-1`
 --> test.cmds:3:15
  |
3 | retry timeout=-1 {
  |               ^^
",
        );
    }

    #[test]
    fn procedure_scopes() {
        check(
            "def f(x) {\n  y = x\n}\nlog(y)\nlog \"${ot}\"\nout = \"a\"\nlog \"${ot}\"",
            "\
error: undefined variable `y`
 --> test.cmds:4:5
  |
4 | log(y)
  |     ^ define it earlier with `y = …`, or write `$y` to leave it to the shell
error: undefined variable `ot`
 --> test.cmds:5:8
  |
5 | log \"${ot}\"
  |        ^^ define it earlier with `ot = …`, or write `$ot` to leave it to the shell
error: undefined variable `ot`
 --> test.cmds:7:8
  |
7 | log \"${ot}\"
  |        ^^ did you mean `out`?
",
        );
    }

    #[test]
    fn polling_conditions() {
        ok(
            "polling_condition up interval=5 {\n  server.succeed \"pgrep foo\"\n}\nup.wait timeout=10\nwith up {\n  client.succeed \"x\"\n}",
        );
        ok(
            "polling_condition up {\n  return server.succeed(\"cat /x\") == \"1\"\n}\nwith up { up.wait }",
        );
        // A condition defined in a procedure reads its parameters.
        ok(
            "def f(unit) {\n  polling_condition active {\n    server.succeed \"systemctl is-active ${unit}\"\n  }\n  with active { server.succeed \"true\" }\n}\nf(\"x\")",
        );
        check(
            "x = 1\nwith x, nope { }\nx.wait\npolling_condition c interval=\"often\" {\n  break\n  def g() { }\n}\nwith c { }",
            "\
error: expected a polling condition, found a number
 --> test.cmds:2:6
  |
2 | with x, nope { }
  |      ^ define it first with `polling_condition name { … }`
error: undefined variable `nope`
 --> test.cmds:2:9
  |
2 | with x, nope { }
  |         ^^^^ define it earlier with `nope = …`, or write `$nope` to leave it to the shell
error: expected a polling condition, found a number
 --> test.cmds:3:1
  |
3 | x.wait
  | ^ define it first with `polling_condition name { … }`
error: option `interval` of `polling_condition` must be a non-negative number of seconds, found a string
 --> test.cmds:4:30
  |
4 | polling_condition c interval=\"often\" {
  |                              ^^^^^^^ write the number without quotes
error: `break` outside a loop
 --> test.cmds:5:3
  |
5 |   break
  |   ^^^^^
error: procedures are defined at the top level only
 --> test.cmds:6:3
  |
6 |   def g() { }
  |   ^^^^^^^^^^^
",
        );
    }

    #[test]
    fn items_change_in_place() {
        ok("l = [1]\nl[0] = 2\nl.append(3)\nj = json(\"{}\")\nj[\"k\"] = l");
        check(
            "s = \"ab\"\ns[0] = \"x\"\nnope[0] = 1",
            "\
error: cannot change an item of a string in place
 --> test.cmds:2:1
  |
2 | s[0] = \"x\"
  | ^ build a new value and assign it: `x = …`
error: undefined variable `nope`
 --> test.cmds:3:1
  |
3 | nope[0] = 1
  | ^^^^ define it earlier with `nope = …`, or write `$nope` to leave it to the shell
",
        );
    }
}
