//! Places a statement can change: a variable, or an item inside one
//! (`j["k"][0]`), and the in-place list methods as the assignments they amount
//! to. Both front-ends use it, so `l.append(x)` means the same in `.cmds` and
//! Python.
//!
//! `l.append(x)` is `l = l + [x]` and `l.extend(items)` is `l = l + items`,
//! also for an item (`j["k"].append(x)` is `j["k"] = j["k"] + [x]`). The
//! difference from Python: another name bound to the same list does not see the
//! change, since values are not shared.

use crate::script::ast::{BinaryOp, Call, Expr, ExprKind, Ident, StatementKind};

/// `expr` as a place: a name and the indexes into it (none for the name itself),
/// or `None` when it is no place.
pub(crate) fn place(expr: &Expr) -> Option<(Ident, Vec<Expr>)> {
    match &expr.kind {
        ExprKind::Name(name) => Some((name.clone(), Vec::new())),
        ExprKind::Index { base, index } => {
            let (name, mut path) = place(base)?;
            path.push((**index).clone());
            Some((name, path))
        }
        _ => None,
    }
}

/// The statement assigning `value` to the place `target`, if it is one.
pub(crate) fn assign(target: &Expr, value: Expr) -> Option<StatementKind> {
    let (name, path) = place(target)?;
    Some(if path.is_empty() {
        StatementKind::Assign {
            targets: vec![name],
            value,
        }
    } else {
        StatementKind::SetItem {
            target: name,
            path,
            value,
        }
    })
}

/// `place.append(x)` or `place.extend(items)` standing as a statement, as the
/// assignment it amounts to; `None` for any other call.
pub(crate) fn in_place(call: &Call, span: crate::script::span::Span) -> Option<StatementKind> {
    let target = call.target.as_deref()?;
    let ([arg], true) = (call.args.as_slice(), call.options.is_empty()) else {
        return None;
    };
    let added = match call.name.name.as_str() {
        "append" => Expr {
            kind: ExprKind::List(vec![arg.clone()]),
            span: arg.span,
        },
        "extend" => arg.clone(),
        _ => return None,
    };
    let value = Expr {
        kind: ExprKind::Binary {
            op: BinaryOp::Add,
            left: Box::new(target.clone()),
            right: Box::new(added),
        },
        span,
    };
    assign(target, value)
}
