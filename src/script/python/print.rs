//! The `.cmds` printer: a syntax tree back to `.cmds` text, for `vmtest-min convert`.
//!
//! It writes every node in the `.cmds` form listed in [`crate::script::ast`]: blocks
//! in braces, calls in the Python-like `name(args, option=value)` form (which
//! `.cmds` accepts too), strings in double quotes with `${…}` holes (multi-line
//! ones in `"""…"""`), four spaces a level. Operands get parentheses only where
//! precedence needs them. A `${…}` hole may hold only `'…'` strings without line
//! breaks or quotes; a string whose holes need more is written as a concatenation,
//! `"a " + str(x) + " b"`, which has the same value.
//!
//! Comments come from the source: each is printed before the first statement that
//! ends after it, at that statement's indentation, and a comment that ended a
//! one-line statement's line stays at the end of that line. One blank line of the
//! source between statements is kept.

use super::lexer::Comment;
use crate::script::ast::{
    BinaryOp, Call, Expr, ExprKind, Script, Statement, StatementKind, Text, TextPart, UnaryOp,
};
use std::fmt::Write as _;

/// Prints `script`, parsed from `src` with `comments`, as `.cmds` text.
pub(crate) fn to_cmds(script: &Script, src: &str, comments: &[Comment]) -> String {
    let mut printer = Printer {
        src,
        comments,
        next_comment: 0,
        out: String::new(),
        last_line: None,
        in_hole: false,
    };
    printer.block(&script.statements, 0, usize::MAX);
    printer.comments_before(usize::MAX, 0);
    printer.out
}

/// The printer's state.
struct Printer<'s> {
    src: &'s str,
    comments: &'s [Comment],
    /// The first comment not printed yet.
    next_comment: usize,
    out: String,
    /// The source line where the last printed item ended, for blank lines.
    last_line: Option<usize>,
    /// Whether a `${…}` hole is being printed (its strings are `'…'`).
    in_hole: bool,
}

impl Printer<'_> {
    /// Starts an output line at `indent` for an item that starts on source line
    /// `line` and ends on `end_line`, after a blank line if the source had one.
    fn line(&mut self, indent: usize, line: usize, end_line: usize) {
        if self.last_line.is_some_and(|last| line > last + 1) && !self.out.ends_with("{\n") {
            self.out.push('\n');
        }
        self.last_line = Some(end_line);
        self.out.push_str(&"    ".repeat(indent));
    }

    /// Prints the comments that start before byte `offset`.
    fn comments_before(&mut self, offset: usize, indent: usize) {
        while let Some(comment) = self.comments.get(self.next_comment) {
            if comment.span.offset >= offset {
                break;
            }
            self.next_comment += 1;
            self.line(indent, comment.span.line, comment.span.line);
            self.out.push_str(&self.src[comment.span.range()]);
            self.out.push('\n');
        }
    }

    /// Prints `statements` at `indent`; `end` is where the code after the block
    /// starts.
    fn block(&mut self, statements: &[Statement], indent: usize, end: usize) {
        for (i, statement) in statements.iter().enumerate() {
            let next = statements.get(i + 1).map_or(end, |s| s.span.offset);
            self.statement(statement, indent, next);
        }
    }

    /// `{`, the body, the comments left inside it, and `}` at `indent`. The
    /// comments after the body's last statement that are indented deeper than the
    /// block's header (at `column`) and start before `end` belong to the body.
    fn body(&mut self, statements: &[Statement], indent: usize, column: usize, end: usize) {
        self.out.push_str(" {\n");
        self.block(statements, indent + 1, end);
        while let Some(comment) = self.comments.get(self.next_comment) {
            if !comment.own_line || comment.span.column <= column || comment.span.offset >= end {
                break;
            }
            self.comments_before(comment.span.end(), indent + 1);
        }
        self.out.push_str(&"    ".repeat(indent));
        self.out.push('}');
    }

    /// Prints `statement` at `indent`; `next` is where the code after it starts.
    fn statement(&mut self, statement: &Statement, indent: usize, next: usize) {
        let span = statement.span;
        // Comments inside a simple statement come before it; those in a compound
        // statement's header, inside its body.
        let compound = is_compound(statement);
        self.comments_before(if compound { span.offset } else { span.end() }, indent);
        let end_line = span.line + self.src[span.range()].matches('\n').count();
        self.line(indent, span.line, end_line);
        let (column, end) = (span.column, next);
        match &statement.kind {
            StatementKind::Expr(expr) => {
                // `.cmds` statements start with a call; any other expression Python
                // evaluates for nothing is kept as an assignment to `_`.
                if !matches!(expr.kind, ExprKind::Call(_)) {
                    self.out.push_str("_ = ");
                }
                self.expr(expr, 0)
            }
            StatementKind::Assign { targets, value } => {
                let names: Vec<&str> = targets.iter().map(|t| t.name.as_str()).collect();
                let _ = write!(self.out, "{} = ", names.join(", "));
                self.expr(value, 0);
            }
            StatementKind::SetItem {
                target,
                path,
                value,
            } => {
                self.out.push_str(&target.name);
                for index in path {
                    self.out.push('[');
                    self.expr(index, 0);
                    self.out.push(']');
                }
                self.out.push_str(" = ");
                self.expr(value, 0);
            }
            StatementKind::Assert { condition, message } => {
                self.out.push_str("assert ");
                self.expr(condition, 0);
                if let Some(message) = message {
                    self.out.push_str(", ");
                    self.expr(message, 0);
                }
            }
            StatementKind::If {
                branches,
                otherwise,
            } => {
                for (i, (condition, body)) in branches.iter().enumerate() {
                    self.out.push_str(if i == 0 { "if " } else { " else if " });
                    self.expr(condition, 0);
                    let next = branches.get(i + 1).map_or(end, |(c, _)| c.span.offset);
                    self.body(body, indent, column, next);
                }
                if let Some(body) = otherwise {
                    self.out.push_str(" else");
                    self.body(body, indent, column, end);
                }
            }
            StatementKind::For {
                var,
                iterable,
                body,
            } => {
                let _ = write!(self.out, "for {} in ", var.name);
                self.expr(iterable, 0);
                self.body(body, indent, column, end);
            }
            StatementKind::While { condition, body } => {
                self.out.push_str("while ");
                self.expr(condition, 0);
                self.body(body, indent, column, end);
            }
            StatementKind::Break => self.out.push_str("break"),
            StatementKind::Continue => self.out.push_str("continue"),
            StatementKind::Def(procedure) => {
                let params: Vec<&str> = procedure.params.iter().map(|p| p.name.as_str()).collect();
                let _ = write!(
                    self.out,
                    "def {}({})",
                    procedure.name.name,
                    params.join(", ")
                );
                self.body(&procedure.body, indent, column, end);
            }
            StatementKind::Return(value) => {
                self.out.push_str("return");
                if let Some(value) = value {
                    self.out.push(' ');
                    self.expr(value, 0);
                }
            }
            StatementKind::Subtest { name, body } => {
                self.out.push_str("subtest ");
                self.expr(name, 0);
                self.body(body, indent, column, end);
            }
            StatementKind::Retry { timeout, body } => {
                self.out.push_str("retry");
                self.option("timeout", timeout);
                self.body(body, indent, column, end);
            }
            StatementKind::RetryCall { timeout, function } => {
                self.out.push_str("retry");
                self.option("timeout", timeout);
                let _ = write!(self.out, " {}", function.name);
            }
            StatementKind::PollingCondition(condition) => {
                let _ = write!(self.out, "polling_condition {}", condition.name.name);
                self.option("interval", &condition.interval);
                self.option("description", &condition.description);
                self.body(&condition.body, indent, column, end);
            }
            StatementKind::With { conditions, body } => {
                self.out.push_str("with ");
                for (i, condition) in conditions.iter().enumerate() {
                    if i > 0 {
                        self.out.push_str(", ");
                    }
                    self.expr(condition, 0);
                }
                self.body(body, indent, column, end);
            }
            StatementKind::WaitCondition { condition, timeout } => {
                self.expr(condition, PRIMARY);
                self.out.push_str(".wait");
                self.option("timeout", timeout);
            }
        }
        // A comment at the end of the statement's last line stays there.
        if let Some(comment) = self.comments.get(self.next_comment)
            && !comment.own_line
            && comment.span.line == end_line
            && !compound
        {
            self.next_comment += 1;
            let _ = write!(self.out, "  {}", &self.src[comment.span.range()]);
        }
        self.out.push('\n');
        self.last_line = self.last_line.max(Some(end_line));
    }

    /// Prints ` name=value` for a statement's option, if it is given.
    fn option(&mut self, name: &str, value: &Option<Expr>) {
        if let Some(value) = value {
            let _ = write!(self.out, " {name}=");
            // A `.cmds` option written tight takes a literal or `(expression)`.
            let literal = match &value.kind {
                ExprKind::Int(_) | ExprKind::Float(_) => true,
                ExprKind::Str(text) => text.as_literal().is_some(),
                _ => false,
            };
            if literal {
                self.expr(value, PRIMARY);
            } else {
                self.out.push('(');
                self.expr(value, 0);
                self.out.push(')');
            }
        }
    }

    /// Prints `expr`, in parentheses if it binds less tightly than `context`.
    fn expr(&mut self, expr: &Expr, context: u8) {
        let own = precedence(expr);
        if own < context {
            self.out.push('(');
        }
        match &expr.kind {
            ExprKind::Str(text) => self.text(text),
            ExprKind::Int(value) => {
                let _ = write!(self.out, "{value}");
            }
            // Too large a literal is infinite in both languages; `1e999` says so.
            ExprKind::Float(value) if value.is_infinite() => self.out.push_str("1e999"),
            ExprKind::Float(value) => {
                let _ = write!(self.out, "{value:?}");
            }
            ExprKind::Bool(value) => self.out.push_str(if *value { "true" } else { "false" }),
            ExprKind::None => self.out.push_str("None"),
            ExprKind::List(items) => {
                self.out.push('[');
                self.list(items);
                self.out.push(']');
            }
            ExprKind::Dict(entries) => {
                self.out.push('{');
                for (i, (key, value)) in entries.iter().enumerate() {
                    if i > 0 {
                        self.out.push_str(", ");
                    }
                    self.expr(key, 0);
                    self.out.push_str(": ");
                    self.expr(value, 0);
                }
                self.out.push('}');
            }
            ExprKind::Name(ident) => self.out.push_str(&ident.name),
            ExprKind::Index { base, index } => {
                self.expr(base, PRIMARY);
                self.out.push('[');
                self.expr(index, 0);
                self.out.push(']');
            }
            ExprKind::Slice { base, start, end } => {
                self.expr(base, PRIMARY);
                self.out.push('[');
                if let Some(start) = start {
                    self.expr(start, 0);
                }
                self.out.push(':');
                if let Some(end) = end {
                    self.expr(end, 0);
                }
                self.out.push(']');
            }
            ExprKind::Unary { op, operand } => {
                self.out.push_str(match op {
                    UnaryOp::Not => "not ",
                    UnaryOp::Neg => "-",
                });
                self.expr(operand, own);
            }
            ExprKind::Binary { op, left, right } => {
                // Comparisons do not chain: one on the left needs parentheses too.
                self.expr(left, if op.is_comparison() { own + 1 } else { own });
                let _ = write!(self.out, " {} ", op.as_str());
                // Left-associative: an equal operator on the right needs parentheses.
                self.expr(right, own + 1);
            }
            ExprKind::Call(call) => self.call(call),
        }
        if own < context {
            self.out.push(')');
        }
    }

    fn list(&mut self, items: &[Expr]) {
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.out.push_str(", ");
            }
            self.expr(item, 0);
        }
    }

    fn call(&mut self, call: &Call) {
        if let Some(target) = &call.target {
            self.expr(target, PRIMARY);
            self.out.push('.');
        }
        self.out.push_str(&call.name.name);
        self.out.push('(');
        self.list(&call.args);
        for (i, option) in call.options.iter().enumerate() {
            if i > 0 || !call.args.is_empty() {
                self.out.push_str(", ");
            }
            let _ = write!(self.out, "{}=", option.name.name);
            self.expr(&option.value, 0);
        }
        self.out.push(')');
        if let Some(check) = &call.check {
            let _ = write!(self.out, " {} ", check.op.as_str());
            self.expr(&check.operand, PRIMARY);
        }
    }

    /// A string: `"…"`, or `"""…"""` when it spans lines; `'…'` inside a hole; a
    /// concatenation when its holes cannot be written as holes.
    fn text(&mut self, text: &Text) {
        if self.in_hole {
            // `hole_safe` made sure that this is one literal without `'`.
            let literal = text.as_literal().unwrap_or_default();
            let _ = write!(self.out, "'{literal}'");
            return;
        }
        if !writes_as_holes(text) {
            for (i, part) in text.parts.iter().enumerate() {
                if i > 0 {
                    self.out.push_str(" + ");
                }
                match part {
                    TextPart::Literal(literal) => self.text(&Text {
                        parts: vec![TextPart::Literal(literal.clone())],
                    }),
                    TextPart::Expr(expr) => {
                        self.out.push_str("str(");
                        self.expr(expr, 0);
                        self.out.push(')');
                    }
                }
            }
            return;
        }
        // A shell script over several lines reads best as it was written.
        let multiline = text.parts.iter().any(|part| match part {
            TextPart::Literal(literal) => literal.trim_end_matches('\n').contains('\n'),
            TextPart::Expr(_) => false,
        });
        let quote = if multiline { "\"\"\"" } else { "\"" };
        self.out.push_str(quote);
        for part in &text.parts {
            match part {
                TextPart::Literal(literal) => escape(&mut self.out, literal, multiline),
                TextPart::Expr(expr) => {
                    self.out.push_str("${");
                    self.in_hole = true;
                    self.expr(expr, 0);
                    self.in_hole = false;
                    self.out.push('}');
                }
            }
        }
        self.out.push_str(quote);
    }
}

/// The precedence of atoms, calls, indexes and slices.
const PRIMARY: u8 = 8;

/// How tightly `expr` binds: higher binds tighter.
fn precedence(expr: &Expr) -> u8 {
    match &expr.kind {
        ExprKind::Str(text) if !writes_as_holes(text) && text.parts.len() > 1 => 5,
        ExprKind::Binary { op, .. } => match op {
            BinaryOp::Or => 1,
            BinaryOp::And => 2,
            BinaryOp::Add | BinaryOp::Sub => 5,
            BinaryOp::Mul | BinaryOp::Div => 6,
            _ => 4,
        },
        ExprKind::Unary {
            op: UnaryOp::Not, ..
        } => 3,
        ExprKind::Unary {
            op: UnaryOp::Neg, ..
        } => 7,
        _ => PRIMARY,
    }
}

/// Whether every hole of `text` can be written `${…}`: its strings are one-line
/// literals without `'`, which `'…'` can hold.
fn writes_as_holes(text: &Text) -> bool {
    text.parts.iter().all(|part| match part {
        TextPart::Literal(_) => true,
        TextPart::Expr(expr) => hole_safe(expr),
    })
}

/// Whether `expr` can stand in a `${…}` hole (see [`writes_as_holes`]).
fn hole_safe(expr: &Expr) -> bool {
    let all = |items: &[Expr]| items.iter().all(hole_safe);
    match &expr.kind {
        ExprKind::Str(text) => text
            .as_literal()
            .is_some_and(|s| !s.contains('\'') && !s.contains(char::is_control)),
        ExprKind::Int(_) | ExprKind::Float(_) | ExprKind::Bool(_) | ExprKind::None => true,
        ExprKind::Name(_) => true,
        ExprKind::List(items) => all(items),
        ExprKind::Dict(_) => false,
        ExprKind::Index { base, index } => hole_safe(base) && hole_safe(index),
        ExprKind::Slice { base, start, end } => {
            hole_safe(base)
                && start.as_deref().is_none_or(hole_safe)
                && end.as_deref().is_none_or(hole_safe)
        }
        ExprKind::Unary { operand, .. } => hole_safe(operand),
        ExprKind::Binary { left, right, .. } => hole_safe(left) && hole_safe(right),
        ExprKind::Call(call) => {
            call.target.as_deref().is_none_or(hole_safe)
                && all(&call.args)
                && call.options.iter().all(|o| hole_safe(&o.value))
        }
    }
}

/// Whether `statement` has a body in braces.
fn is_compound(statement: &Statement) -> bool {
    matches!(
        statement.kind,
        StatementKind::If { .. }
            | StatementKind::For { .. }
            | StatementKind::While { .. }
            | StatementKind::Def(_)
            | StatementKind::Subtest { .. }
            | StatementKind::Retry { .. }
            | StatementKind::PollingCondition(_)
            | StatementKind::With { .. }
    )
}

/// Appends `literal` escaped for a `.cmds` double-quoted string (`multiline`: a
/// triple-quoted one, where newlines and lone quotes stand as they are).
fn escape(out: &mut String, literal: &str, multiline: bool) {
    let mut chars = literal.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' if !multiline => out.push_str("\\\""),
            '"' if matches!(chars.peek(), Some('"') | None) => out.push_str("\\\""),
            '$' if chars.peek() == Some(&'{') => out.push_str("\\$"),
            '\n' if multiline => out.push('\n'),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
}
