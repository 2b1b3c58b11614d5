//! Script values and what operators do with them, with Python's semantics.
//!
//! NixOS tests are Python, and the Python front-end builds the same tree as
//! `.cmds`, so values behave as in Python wherever the two could differ: `/` gives a
//! float, `1 == 1.0`, negative indexes count from the end, slices clamp, `str()` of
//! a float keeps its `.0`, of a boolean reads `True`. Every operation returns a
//! plain `String` message on failure; the interpreter adds the statement's place.
//!
//! [`Kind`] is what the checker knows of a value before the run.

use crate::json::Json;
use crate::script::ast::Statement;
use crate::script::span::Span;
use std::cell::Cell;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// A value computed while a script runs.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    /// `None`: what a method that returns nothing gives.
    None,
    /// `true` or `false`.
    Bool(bool),
    /// A whole number.
    Int(i64),
    /// A number with a fraction.
    Float(f64),
    /// Text.
    Str(String),
    /// A list.
    List(Vec<Value>),
    /// A JSON object: keys in order, each once.
    Dict(Vec<(String, Value)>),
    /// A machine, by its configured name.
    Machine(String),
    /// A polling condition (`polling_condition`), shared by every name bound to it.
    Condition(Rc<Polling>),
}

/// A polling condition as defined when its `polling_condition` statement ran.
///
/// Two conditions are equal only when they are the same one.
#[derive(Debug)]
pub(crate) struct Polling {
    /// The name it was defined with.
    pub name: String,
    /// Where that name is written (a check that returns a false value fails there).
    pub span: Span,
    /// What it checks, for the log and errors.
    pub description: String,
    /// It is checked at most this often.
    pub interval: Duration,
    /// The check.
    pub body: Rc<Vec<Statement>>,
    /// The variables of the procedure that defined it, as they were then (empty
    /// at the top level): the check reads them, as a Python closure would.
    pub captured: HashMap<String, Value>,
    /// When a check last ended, if one has run.
    pub last_checked: Cell<Option<Instant>>,
    /// Whether its check is running: the methods it calls check the other
    /// active conditions, never this one again.
    pub checking: Cell<bool>,
}

impl Polling {
    /// Whether the condition is due: never checked, or last checked at least one
    /// interval ago.
    pub(crate) fn due(&self) -> bool {
        !self.checking.get()
            && self
                .last_checked
                .get()
                .is_none_or(|last| last.elapsed() >= self.interval)
    }
}

impl PartialEq for Polling {
    fn eq(&self, other: &Polling) -> bool {
        std::ptr::eq(self, other)
    }
}

/// What the checker knows about a value's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Not known before the run.
    Any,
    /// `None`.
    None,
    /// A boolean.
    Bool,
    /// A whole number.
    Int,
    /// A float.
    Float,
    /// A string.
    Str,
    /// A list.
    List,
    /// A JSON object.
    Dict,
    /// A machine.
    Machine,
    /// A polling condition.
    Condition,
}

impl Kind {
    /// How the kind reads in messages: "a string", "a machine".
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Kind::Any => "a value",
            Kind::None => "None",
            Kind::Bool => "a boolean",
            Kind::Int | Kind::Float => "a number",
            Kind::Str => "a string",
            Kind::List => "a list",
            Kind::Dict => "a JSON object",
            Kind::Machine => "a machine",
            Kind::Condition => "a polling condition",
        }
    }

    /// Whether the kind is a number (or may be one).
    pub(crate) fn is_number(self) -> bool {
        matches!(self, Kind::Int | Kind::Float)
    }

    /// The kind of either of two values: itself when they agree, `Any` otherwise.
    pub(crate) fn join(self, other: Kind) -> Kind {
        if self == other { self } else { Kind::Any }
    }
}

impl From<Json> for Value {
    fn from(json: Json) -> Value {
        match json {
            Json::Null => Value::None,
            Json::Bool(b) => Value::Bool(b),
            Json::Int(i) => Value::Int(i),
            Json::Float(f) => Value::Float(f),
            Json::Str(s) => Value::Str(s),
            Json::Array(items) => Value::List(items.into_iter().map(Value::from).collect()),
            Json::Object(members) => Value::Dict(
                members
                    .into_iter()
                    .map(|(key, value)| (key, Value::from(value)))
                    .collect(),
            ),
        }
    }
}

impl Value {
    /// The value as a JSON tree (for `to_json`, Python's `json.dumps`); machines
    /// and polling conditions have none.
    pub(crate) fn to_json(&self) -> Result<Json, String> {
        Ok(match self {
            Value::None => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Int(i) => Json::Int(*i),
            Value::Float(f) => Json::Float(*f),
            Value::Str(s) => Json::Str(s.clone()),
            Value::List(items) => {
                Json::Array(items.iter().map(Value::to_json).collect::<Result<_, _>>()?)
            }
            Value::Dict(members) => Json::Object(
                members
                    .iter()
                    .map(|(key, value)| Ok((key.clone(), value.to_json()?)))
                    .collect::<Result<_, String>>()?,
            ),
            Value::Machine(_) | Value::Condition(_) => {
                return Err(format!("{} is not JSON serializable", self.repr()));
            }
        })
    }

    /// The value's kind.
    pub(crate) fn kind(&self) -> Kind {
        match self {
            Value::None => Kind::None,
            Value::Bool(_) => Kind::Bool,
            Value::Int(_) => Kind::Int,
            Value::Float(_) => Kind::Float,
            Value::Str(_) => Kind::Str,
            Value::List(_) => Kind::List,
            Value::Dict(_) => Kind::Dict,
            Value::Machine(_) => Kind::Machine,
            Value::Condition(_) => Kind::Condition,
        }
    }

    /// Python's truth: false for `None`, `false`, zero and empty strings, lists
    /// and objects.
    pub(crate) fn truthy(&self) -> bool {
        match self {
            Value::None => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::List(items) => !items.is_empty(),
            Value::Dict(members) => !members.is_empty(),
            Value::Machine(_) | Value::Condition(_) => true,
        }
    }

    /// Python's `str()`: strings as they are, everything else as [`Value::repr`]
    /// (a machine as its name).
    pub(crate) fn to_text(&self) -> String {
        match self {
            Value::Str(s) => s.clone(),
            Value::Machine(name) => name.clone(),
            other => other.repr(),
        }
    }

    /// Python's `repr()`: strings quoted, as messages show values.
    pub(crate) fn repr(&self) -> String {
        let mut out = String::new();
        self.write_repr(&mut out);
        out
    }

    fn write_repr(&self, out: &mut String) {
        match self {
            Value::None => out.push_str("None"),
            Value::Bool(true) => out.push_str("True"),
            Value::Bool(false) => out.push_str("False"),
            Value::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Value::Float(f) => out.push_str(&float_text(*f)),
            Value::Str(s) => quote(out, s),
            Value::List(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    item.write_repr(out);
                }
                out.push(']');
            }
            Value::Dict(members) => {
                out.push('{');
                for (i, (key, value)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    quote(out, key);
                    out.push_str(": ");
                    value.write_repr(out);
                }
                out.push('}');
            }
            Value::Machine(name) => {
                let _ = write!(out, "<machine {name}>");
            }
            Value::Condition(condition) => {
                let _ = write!(out, "<polling condition {}>", condition.name);
            }
        }
    }

    /// The value as a number, if it is one (booleans count, as in Python).
    fn number(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            Value::Bool(b) => Some(f64::from(u8::from(*b))),
            _ => None,
        }
    }

    /// `==`.
    pub(crate) fn equals(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::List(a), Value::List(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.equals(y))
            }
            (Value::Dict(a), Value::Dict(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .all(|(key, x)| b.iter().any(|(other, y)| key == other && x.equals(y)))
            }
            (a, b) => match (a.number(), b.number()) {
                (Some(x), Some(y)) => x == y,
                _ => a == b,
            },
        }
    }

    /// `<`, `<=`, `>`, `>=`: numbers, strings and lists (element by element).
    pub(crate) fn compare(&self, other: &Value, op: &str) -> Result<Ordering, String> {
        match (self, other) {
            (Value::Int(a), Value::Int(b)) => Ok(a.cmp(b)),
            (Value::Str(a), Value::Str(b)) => Ok(a.cmp(b)),
            (Value::List(a), Value::List(b)) => {
                for (x, y) in a.iter().zip(b) {
                    if !x.equals(y) {
                        return x.compare(y, op);
                    }
                }
                Ok(a.len().cmp(&b.len()))
            }
            (a, b) => match (a.number(), b.number()) {
                (Some(x), Some(y)) => x
                    .partial_cmp(&y)
                    .ok_or_else(|| format!("`{op}` cannot order NaN")),
                _ => Err(operand_error(op, a, b)),
            },
        }
    }

    /// `+`: numbers add, strings and lists concatenate.
    pub(crate) fn add(&self, other: &Value) -> Result<Value, String> {
        match (self, other) {
            (Value::Str(a), Value::Str(b)) => Ok(Value::Str(format!("{a}{b}"))),
            (Value::List(a), Value::List(b)) => Ok(Value::List([a.clone(), b.clone()].concat())),
            _ => self.arithmetic(other, "+", i64::checked_add, |x, y| x + y),
        }
    }

    /// `-`, `*` and `/` (`/` always gives a float).
    pub(crate) fn arithmetic(
        &self,
        other: &Value,
        op: &str,
        on_ints: fn(i64, i64) -> Option<i64>,
        on_floats: fn(f64, f64) -> f64,
    ) -> Result<Value, String> {
        match (self, other) {
            (Value::Int(a), Value::Int(b)) if op != "/" => on_ints(*a, *b)
                .map(Value::Int)
                .ok_or_else(|| format!("`{op}` overflows on {a} and {b}")),
            (a, b) => match (a.number(), b.number()) {
                (Some(_), Some(y)) if op == "/" && y == 0.0 => Err("division by zero".to_string()),
                (Some(x), Some(y)) => Ok(Value::Float(on_floats(x, y))),
                _ => Err(operand_error(op, a, b)),
            },
        }
    }

    /// `item in self`: a substring, a list element or an object's key.
    pub(crate) fn contains(&self, item: &Value, op: &str) -> Result<bool, String> {
        match (self, item) {
            (Value::Str(haystack), Value::Str(needle)) => Ok(haystack.contains(needle.as_str())),
            (Value::List(items), item) => Ok(items.iter().any(|x| x.equals(item))),
            (Value::Dict(members), Value::Str(key)) => Ok(members.iter().any(|(k, _)| k == key)),
            (container, item) => Err(operand_error(op, item, container)),
        }
    }

    /// `self[index]`.
    pub(crate) fn index(&self, index: &Value) -> Result<Value, String> {
        match (self, index) {
            (Value::List(items), Value::Int(i)) => position(*i, items.len())
                .map(|i| items[i].clone())
                .ok_or_else(|| format!("index {i} is out of range for a list of {}", items.len())),
            (Value::Str(s), Value::Int(i)) => {
                let chars: Vec<char> = s.chars().collect();
                position(*i, chars.len())
                    .map(|i| Value::Str(chars[i].to_string()))
                    .ok_or_else(|| {
                        format!("index {i} is out of range for a string of {}", chars.len())
                    })
            }
            (Value::Dict(members), Value::Str(key)) => members
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, value)| value.clone())
                .ok_or_else(|| {
                    let keys: Vec<String> = members.iter().map(|(k, _)| format!("`{k}`")).collect();
                    match keys.is_empty() {
                        true => format!("key `{key}` not found: the object is empty"),
                        false => format!("key `{key}` not found; keys: {}", keys.join(", ")),
                    }
                }),
            (Value::List(_) | Value::Str(_), other) => Err(format!(
                "positions are whole numbers, found {}",
                other.kind().describe()
            )),
            (Value::Dict(_), other) => Err(format!(
                "JSON object keys are strings, found {}",
                other.kind().describe()
            )),
            (other, _) => Err(format!("cannot index {}", other.kind().describe())),
        }
    }

    /// `self[index]` as a place to assign to; with `insert`, a missing key of an
    /// object is added (holding `None`), as `j["k"] = v` adds it. Strings cannot
    /// change in place.
    pub(crate) fn item_mut(&mut self, index: &Value, insert: bool) -> Result<&mut Value, String> {
        let at = match (&*self, index) {
            (Value::List(items), Value::Int(i)) => position(*i, items.len()),
            (Value::Dict(members), Value::Str(key)) => members
                .iter()
                .position(|(k, _)| k == key)
                .or_else(|| insert.then_some(members.len())),
            (Value::Str(_), _) => return Err("a string cannot be changed in place".to_string()),
            _ => None,
        };
        let Some(at) = at else {
            return Err(self.index(index).err().unwrap_or_default());
        };
        match (self, index) {
            (Value::List(items), _) => Ok(&mut items[at]),
            (Value::Dict(members), Value::Str(key)) => {
                if at == members.len() {
                    members.push((key.clone(), Value::None));
                }
                Ok(&mut members[at].1)
            }
            _ => unreachable!("only lists and objects have places"),
        }
    }

    /// `self[start:end]`, bounds clamped as in Python.
    pub(crate) fn slice(
        &self,
        start: Option<&Value>,
        end: Option<&Value>,
    ) -> Result<Value, String> {
        let bound = |value: Option<&Value>, len: usize, default: usize| match value {
            None | Some(Value::None) => Ok(default),
            Some(Value::Int(i)) => Ok(clamp(*i, len)),
            Some(other) => Err(format!(
                "slice bounds are whole numbers, found {}",
                other.kind().describe()
            )),
        };
        match self {
            Value::List(items) => {
                let (from, to) = (
                    bound(start, items.len(), 0)?,
                    bound(end, items.len(), items.len())?,
                );
                Ok(Value::List(
                    items.get(from..to.max(from)).unwrap_or(&[]).to_vec(),
                ))
            }
            Value::Str(s) => {
                let chars: Vec<char> = s.chars().collect();
                let (from, to) = (
                    bound(start, chars.len(), 0)?,
                    bound(end, chars.len(), chars.len())?,
                );
                Ok(Value::Str(
                    chars
                        .get(from..to.max(from))
                        .unwrap_or(&[])
                        .iter()
                        .collect(),
                ))
            }
            other => Err(format!("cannot slice {}", other.kind().describe())),
        }
    }

    /// What `for` walks: a list's items, a string's characters, an object's keys.
    pub(crate) fn items(&self) -> Result<Vec<Value>, String> {
        match self {
            Value::List(items) => Ok(items.clone()),
            Value::Str(s) => Ok(s.chars().map(|c| Value::Str(c.to_string())).collect()),
            Value::Dict(members) => {
                Ok(members.iter().map(|(k, _)| Value::Str(k.clone())).collect())
            }
            other => Err(format!("cannot loop over {}", other.kind().describe())),
        }
    }
}

/// The list position `i` means (negative from the end), if in range.
fn position(i: i64, len: usize) -> Option<usize> {
    let len = i64::try_from(len).ok()?;
    let i = if i < 0 { i + len } else { i };
    (0..len).contains(&i).then_some(i as usize)
}

/// A slice bound: negative from the end, clamped to `0..=len`.
fn clamp(i: i64, len: usize) -> usize {
    let signed = i64::try_from(len).unwrap_or(i64::MAX);
    let i = if i < 0 { i.saturating_add(signed) } else { i };
    i.clamp(0, signed) as usize
}

/// "`+` cannot take a string and a number".
fn operand_error(op: &str, a: &Value, b: &Value) -> String {
    format!(
        "`{op}` cannot take {} and {}",
        a.kind().describe(),
        b.kind().describe()
    )
}

/// A float as Python prints it: `1.0`, `0.5`, `1e+20`, `inf`, `nan`.
fn float_text(f: f64) -> String {
    if f.is_nan() {
        return "nan".to_string();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    crate::json::float_repr(f)
}

/// A string in Python's quotes: single quotes unless it holds one and no double.
fn quote(out: &mut String, s: &str) {
    let q = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(q);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == q => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push(q);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> Value {
        Value::Str(text.to_string())
    }

    #[test]
    fn text_and_repr_follow_python() {
        assert_eq!(s("a'b").repr(), "\"a'b\"");
        assert_eq!(s("a\n").repr(), "'a\\n'");
        assert_eq!(Value::Float(1.0).to_text(), "1.0");
        assert_eq!(Value::Float(0.5).to_text(), "0.5");
        assert_eq!(Value::Float(1e20).to_text(), "1e+20");
        assert_eq!(Value::Bool(true).to_text(), "True");
        assert_eq!(Value::None.to_text(), "None");
        assert_eq!(
            Value::List(vec![Value::Int(1), s("x")]).to_text(),
            "[1, 'x']"
        );
        assert_eq!(
            Value::Dict(vec![("k".into(), Value::List(vec![]))]).repr(),
            "{'k': []}"
        );
        assert_eq!(Value::Machine("server".into()).to_text(), "server");
    }

    #[test]
    fn arithmetic_and_comparison() {
        assert_eq!(Value::Int(2).add(&Value::Int(3)), Ok(Value::Int(5)));
        assert_eq!(Value::Int(2).add(&Value::Float(0.5)), Ok(Value::Float(2.5)));
        assert_eq!(s("a").add(&s("b")), Ok(s("ab")));
        assert_eq!(
            s("a").add(&Value::Int(1)),
            Err("`+` cannot take a string and a number".to_string())
        );
        let div = Value::Int(7).arithmetic(&Value::Int(2), "/", |_, _| None, |x, y| x / y);
        assert_eq!(div, Ok(Value::Float(3.5)));
        let zero = Value::Int(7).arithmetic(&Value::Int(0), "/", |_, _| None, |x, y| x / y);
        assert_eq!(zero, Err("division by zero".to_string()));
        let overflow = Value::Int(i64::MAX).add(&Value::Int(1));
        assert!(overflow.unwrap_err().contains("overflows"));
        assert!(Value::Int(1).equals(&Value::Float(1.0)));
        assert!(!s("1").equals(&Value::Int(1)));
        assert_eq!(s("a").compare(&s("b"), "<"), Ok(Ordering::Less));
        assert!(s("a").compare(&Value::Int(1), "<").is_err());
    }

    #[test]
    fn indexing_slicing_and_membership() {
        let list = Value::List(vec![Value::Int(1), Value::Int(2), Value::Int(3)]);
        assert_eq!(list.index(&Value::Int(-1)), Ok(Value::Int(3)));
        assert_eq!(
            list.index(&Value::Int(3)),
            Err("index 3 is out of range for a list of 3".to_string())
        );
        assert_eq!(
            list.slice(Some(&Value::Int(1)), None),
            Ok(Value::List(vec![Value::Int(2), Value::Int(3)]))
        );
        assert_eq!(s("hello").slice(None, Some(&Value::Int(-3))), Ok(s("he")));
        assert_eq!(s("hello").slice(Some(&Value::Int(9)), None), Ok(s("")));
        assert_eq!(s("héllo").index(&Value::Int(1)), Ok(s("é")));
        let dict = Value::Dict(vec![("a".into(), Value::Int(1))]);
        assert_eq!(dict.index(&s("a")), Ok(Value::Int(1)));
        assert_eq!(
            dict.index(&s("b")),
            Err("key `b` not found; keys: `a`".to_string())
        );
        assert_eq!(dict.contains(&s("a"), "in"), Ok(true));
        assert_eq!(list.contains(&Value::Float(2.0), "in"), Ok(true));
        assert_eq!(s("abc").contains(&s("bc"), "in"), Ok(true));
        assert!(Value::Int(1).items().is_err());
    }
}
