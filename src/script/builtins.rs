//! The builtin functions (`len`, `int`, `json`, `match`, …) and the methods of
//! values (`strip`, `split`, …): one table each, read by the checker (names,
//! arity, kinds) and run by the interpreter, so the two cannot disagree.
//!
//! They are pure, apart from `time()` reading the host clock; machines are reached
//! only through the method table (`crate::methods`).

use crate::script::value::{Kind, Value};
use regex_lite::Regex;

/// What a builtin parameter accepts, as far as the checker can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Takes {
    /// Anything.
    Any,
    /// A string.
    Str,
    /// A string holding a regex; a literal one is compiled before the run.
    Regex,
    /// A whole number.
    Int,
    /// A list.
    List,
}

impl Takes {
    /// Whether a value of `kind` may be passed (`Any` always may).
    pub(crate) fn accepts(self, kind: Kind) -> bool {
        matches!(
            (self, kind),
            (Takes::Any, _)
                | (_, Kind::Any)
                | (Takes::Str | Takes::Regex, Kind::Str)
                | (Takes::Int, Kind::Int | Kind::Bool)
                | (Takes::List, Kind::List)
        )
    }
}

/// A builtin function such as `len(x)`.
pub(crate) struct Function {
    /// Its name.
    pub(crate) name: &'static str,
    /// What each parameter takes, in order.
    pub(crate) params: &'static [Takes],
    /// How many parameters it needs; the rest may be left out.
    pub(crate) required: usize,
    /// The kind it returns.
    pub(crate) returns: Kind,
    /// Computes it.
    pub(crate) run: fn(&[Value]) -> Result<Value, String>,
}

/// A method of strings or JSON objects, such as `out.strip()`.
pub(crate) struct ValueMethod {
    /// Its name.
    pub(crate) name: &'static str,
    /// The kind of value it is called on.
    pub(crate) receiver: Kind,
    /// What each parameter takes, in order.
    pub(crate) params: &'static [Takes],
    /// How many parameters it needs; the rest may be left out.
    pub(crate) required: usize,
    /// The kind it returns.
    pub(crate) returns: Kind,
    /// Computes it on the receiver.
    pub(crate) run: fn(&Value, &[Value]) -> Result<Value, String>,
}

/// Every builtin function.
pub(crate) static FUNCTIONS: &[Function] = &[
    Function {
        name: "len",
        params: &[Takes::Any],
        required: 1,
        returns: Kind::Int,
        run: len,
    },
    Function {
        name: "int",
        params: &[Takes::Any],
        required: 1,
        returns: Kind::Int,
        run: int,
    },
    Function {
        name: "float",
        params: &[Takes::Any],
        required: 1,
        returns: Kind::Float,
        run: float,
    },
    Function {
        name: "str",
        params: &[Takes::Any],
        required: 1,
        returns: Kind::Str,
        run: |args| Ok(Value::Str(args[0].to_text())),
    },
    Function {
        name: "json",
        params: &[Takes::Str],
        required: 1,
        returns: Kind::Any,
        run: |args| {
            crate::json::parse(&text(&args[0])?)
                .map(Value::from)
                .map_err(|e| e.to_string())
        },
    },
    Function {
        name: "to_json",
        params: &[Takes::Any],
        required: 1,
        returns: Kind::Str,
        run: |args| Ok(Value::Str(crate::json::to_json(&args[0].to_json()?))),
    },
    Function {
        name: "match",
        params: &[Takes::Regex, Takes::Str],
        required: 2,
        returns: Kind::Any,
        run: regex_match,
    },
    Function {
        name: "range",
        params: &[Takes::Int, Takes::Int],
        required: 1,
        returns: Kind::List,
        run: range,
    },
    Function {
        name: "time",
        params: &[],
        required: 0,
        returns: Kind::Float,
        run: |_| {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_err(|e| format!("the clock is before 1970: {e}"))?;
            Ok(Value::Float(now.as_secs_f64()))
        },
    },
];

/// A string method with `params` parameters, all strings.
const fn on_str(
    name: &'static str,
    params: &'static [Takes],
    required: usize,
    returns: Kind,
    run: fn(&Value, &[Value]) -> Result<Value, String>,
) -> ValueMethod {
    ValueMethod {
        name,
        receiver: Kind::Str,
        params,
        required,
        returns,
        run,
    }
}

/// A method of JSON objects.
const fn on_dict(
    name: &'static str,
    params: &'static [Takes],
    required: usize,
    returns: Kind,
    run: fn(&Value, &[Value]) -> Result<Value, String>,
) -> ValueMethod {
    ValueMethod {
        receiver: Kind::Dict,
        ..on_str(name, params, required, returns, run)
    }
}

const STR: &[Takes] = &[Takes::Str];
const STR2: &[Takes] = &[Takes::Str, Takes::Str];

/// Every value method.
pub(crate) static VALUE_METHODS: &[ValueMethod] = &[
    on_str("strip", STR, 0, Kind::Str, |s, a| {
        trim(s, a, |s, p| s.trim_matches(p))
    }),
    on_str("lstrip", STR, 0, Kind::Str, |s, a| {
        trim(s, a, |s, p| s.trim_start_matches(p))
    }),
    on_str("rstrip", STR, 0, Kind::Str, |s, a| {
        trim(s, a, |s, p| s.trim_end_matches(p))
    }),
    on_str("split", STR, 0, Kind::List, split),
    on_str("splitlines", &[], 0, Kind::List, lines),
    on_str("lines", &[], 0, Kind::List, lines),
    on_str("startswith", STR, 1, Kind::Bool, |s, a| {
        Ok(Value::Bool(text(s)?.starts_with(text(&a[0])?.as_str())))
    }),
    on_str("endswith", STR, 1, Kind::Bool, |s, a| {
        Ok(Value::Bool(text(s)?.ends_with(text(&a[0])?.as_str())))
    }),
    on_str("replace", STR2, 2, Kind::Str, |s, a| {
        Ok(Value::Str(
            text(s)?.replace(text(&a[0])?.as_str(), text(&a[1])?.as_str()),
        ))
    }),
    on_str("lower", &[], 0, Kind::Str, |s, _| {
        Ok(Value::Str(text(s)?.to_lowercase()))
    }),
    on_str("upper", &[], 0, Kind::Str, |s, _| {
        Ok(Value::Str(text(s)?.to_uppercase()))
    }),
    on_str("count", STR, 1, Kind::Int, |s, a| {
        let needle = text(&a[0])?;
        let haystack = text(s)?;
        let count = match needle.is_empty() {
            true => haystack.chars().count() + 1,
            false => haystack.matches(needle.as_str()).count(),
        };
        Ok(Value::Int(count as i64))
    }),
    on_str("find", STR, 1, Kind::Int, |s, a| {
        let haystack = text(s)?;
        let found = haystack
            .find(text(&a[0])?.as_str())
            .map_or(-1, |at| haystack[..at].chars().count() as i64);
        Ok(Value::Int(found))
    }),
    on_str("join", &[Takes::List], 1, Kind::Str, |s, a| {
        let Value::List(items) = &a[0] else {
            return Err(format!(
                "`join` takes a list, found {}",
                a[0].kind().describe()
            ));
        };
        let parts = items.iter().map(text).collect::<Result<Vec<_>, _>>()?;
        Ok(Value::Str(parts.join(text(s)?.as_str())))
    }),
    on_dict("keys", &[], 0, Kind::List, |d, _| {
        Ok(Value::List(
            members(d)?
                .iter()
                .map(|(k, _)| Value::Str(k.clone()))
                .collect(),
        ))
    }),
    on_dict("values", &[], 0, Kind::List, |d, _| {
        Ok(Value::List(
            members(d)?.iter().map(|(_, v)| v.clone()).collect(),
        ))
    }),
    on_dict("get", &[Takes::Str, Takes::Any], 1, Kind::Any, |d, a| {
        let key = text(&a[0])?;
        let found = members(d)?.iter().find(|(k, _)| *k == key);
        Ok(found.map_or_else(
            || a.get(1).cloned().unwrap_or(Value::None),
            |(_, v)| v.clone(),
        ))
    }),
];

/// The builtin function `name`.
pub(crate) fn function(name: &str) -> Option<&'static Function> {
    FUNCTIONS.iter().find(|f| f.name == name)
}

/// The method `name` of values of `kind` (`Any`: of any kind).
pub(crate) fn value_method(kind: Kind, name: &str) -> Option<&'static ValueMethod> {
    VALUE_METHODS
        .iter()
        .find(|m| m.name == name && (kind == Kind::Any || m.receiver == kind))
}

/// The members of a JSON object; an error naming the kind otherwise.
fn members(value: &Value) -> Result<&[(String, Value)], String> {
    match value {
        Value::Dict(members) => Ok(members),
        other => Err(format!("expected a JSON object, found {}", other.repr())),
    }
}

/// The text of a string value; an error naming the kind otherwise.
fn text(value: &Value) -> Result<String, String> {
    match value {
        Value::Str(s) => Ok(s.clone()),
        other => Err(format!("expected a string, found {}", other.repr())),
    }
}

fn len(args: &[Value]) -> Result<Value, String> {
    let len = match &args[0] {
        Value::Str(s) => s.chars().count(),
        Value::List(items) => items.len(),
        Value::Dict(members) => members.len(),
        other => return Err(format!("`len` cannot take {}", other.kind().describe())),
    };
    Ok(Value::Int(len as i64))
}

fn int(args: &[Value]) -> Result<Value, String> {
    match &args[0] {
        Value::Int(i) => Ok(Value::Int(*i)),
        Value::Bool(b) => Ok(Value::Int(i64::from(*b))),
        Value::Float(f) if f.is_finite() && f.abs() < 9.2e18 => Ok(Value::Int(f.trunc() as i64)),
        Value::Str(s) => s
            .trim()
            .replace('_', "")
            .parse::<i64>()
            .map(Value::Int)
            .map_err(|_| format!("`int` cannot read {} as a whole number", args[0].repr())),
        other => Err(format!("`int` cannot take {}", other.repr())),
    }
}

fn float(args: &[Value]) -> Result<Value, String> {
    match &args[0] {
        Value::Int(i) => Ok(Value::Float(*i as f64)),
        Value::Float(f) => Ok(Value::Float(*f)),
        Value::Bool(b) => Ok(Value::Float(f64::from(u8::from(*b)))),
        Value::Str(s) => s
            .trim()
            .parse::<f64>()
            .map(Value::Float)
            .map_err(|_| format!("`float` cannot read {} as a number", args[0].repr())),
        other => Err(format!("`float` cannot take {}", other.repr())),
    }
}

/// `match(re, text)`: `None`, or the whole match followed by each group (`None`
/// for a group that took no part), so `match(r, s)[1]` is Python's `.group(1)`.
fn regex_match(args: &[Value]) -> Result<Value, String> {
    let pattern = text(&args[0])?;
    let regex = Regex::new(&pattern).map_err(|e| format!("invalid regex `{pattern}`: {e}"))?;
    let haystack = text(&args[1])?;
    Ok(match regex.captures(&haystack) {
        None => Value::None,
        Some(captures) => Value::List(
            captures
                .iter()
                .map(|group| group.map_or(Value::None, |g| Value::Str(g.as_str().to_string())))
                .collect(),
        ),
    })
}

fn range(args: &[Value]) -> Result<Value, String> {
    let bound = |value: &Value| match value {
        Value::Int(i) => Ok(*i),
        other => Err(format!(
            "`range` takes whole numbers, found {}",
            other.repr()
        )),
    };
    let (start, end) = match args {
        [end] => (0, bound(end)?),
        [start, end, ..] => (bound(start)?, bound(end)?),
        [] => return Err("`range` needs an end".to_string()),
    };
    if end.saturating_sub(start) > 1_000_000 {
        return Err(format!(
            "`range` of more than a million numbers ({start} to {end})"
        ));
    }
    Ok(Value::List((start..end).map(Value::Int).collect()))
}

/// `strip`/`lstrip`/`rstrip`: whitespace, or any of the given characters.
fn trim(
    s: &Value,
    args: &[Value],
    f: for<'s> fn(&'s str, &dyn Fn(char) -> bool) -> &'s str,
) -> Result<Value, String> {
    let s = text(s)?;
    let trimmed = match args.first() {
        None | Some(Value::None) => f(&s, &char::is_whitespace),
        Some(chars) => {
            let chars = text(chars)?;
            f(&s, &|c| chars.contains(c))
        }
    };
    Ok(Value::Str(trimmed.to_string()))
}

fn strings(parts: impl Iterator<Item = impl Into<String>>) -> Value {
    Value::List(parts.map(|part| Value::Str(part.into())).collect())
}

/// `split()` on runs of whitespace, `split(sep)` on each `sep`.
fn split(s: &Value, args: &[Value]) -> Result<Value, String> {
    let s = text(s)?;
    match args.first() {
        None | Some(Value::None) => Ok(strings(s.split_whitespace())),
        Some(sep) => {
            let sep = text(sep)?;
            if sep.is_empty() {
                return Err("`split` cannot split on an empty separator".to_string());
            }
            Ok(strings(s.split(sep.as_str())))
        }
    }
}

fn lines(s: &Value, _: &[Value]) -> Result<Value, String> {
    Ok(strings(text(s)?.lines()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> Value {
        Value::Str(text.to_string())
    }

    fn call(name: &str, args: &[Value]) -> Result<Value, String> {
        (function(name).unwrap().run)(args)
    }

    fn method(receiver: &str, name: &str, args: &[Value]) -> Result<Value, String> {
        (value_method(Kind::Str, name).unwrap().run)(&s(receiver), args)
    }

    #[test]
    fn object_methods() {
        let object = Value::Dict(vec![("a".into(), Value::Int(1)), ("b".into(), s("x"))]);
        let run = |name: &str, args: &[Value]| {
            (value_method(Kind::Dict, name).unwrap().run)(&object, args)
        };
        assert_eq!(run("keys", &[]), Ok(Value::List(vec![s("a"), s("b")])));
        assert_eq!(
            run("values", &[]),
            Ok(Value::List(vec![Value::Int(1), s("x")]))
        );
        assert_eq!(run("get", &[s("b")]), Ok(s("x")));
        assert_eq!(run("get", &[s("z")]), Ok(Value::None));
        assert_eq!(run("get", &[s("z"), Value::Int(0)]), Ok(Value::Int(0)));
    }

    #[test]
    fn functions() {
        assert_eq!(call("len", &[s("héllo")]), Ok(Value::Int(5)));
        assert_eq!(call("int", &[s(" 42\n")]), Ok(Value::Int(42)));
        assert_eq!(call("int", &[Value::Float(-2.7)]), Ok(Value::Int(-2)));
        assert_eq!(
            call("int", &[s("x")]),
            Err("`int` cannot read 'x' as a whole number".to_string())
        );
        assert_eq!(call("float", &[s("2.5")]), Ok(Value::Float(2.5)));
        assert_eq!(call("str", &[Value::Int(3)]), Ok(s("3")));
        assert_eq!(
            call("json", &[s(r#"{"a": [1, "x"]}"#)]),
            Ok(Value::Dict(vec![(
                "a".into(),
                Value::List(vec![Value::Int(1), s("x")])
            )]))
        );
        assert!(
            call("json", &[s("{")])
                .unwrap_err()
                .starts_with("invalid JSON")
        );
        let object = Value::Dict(vec![("a".into(), Value::List(vec![Value::None, s("é")]))]);
        assert_eq!(
            call("to_json", &[object]),
            Ok(s(r#"{"a": [null, "\u00e9"]}"#))
        );
        assert_eq!(
            call("to_json", &[Value::Machine("server".into())]),
            Err("<machine server> is not JSON serializable".to_string())
        );
        assert_eq!(
            call("match", &[s(r"v(\d+)(x)?"), s("at v12")]),
            Ok(Value::List(vec![s("v12"), s("12"), Value::None]))
        );
        assert_eq!(call("match", &[s("z"), s("abc")]), Ok(Value::None));
        assert_eq!(
            call("range", &[Value::Int(1), Value::Int(3)]),
            Ok(Value::List(vec![Value::Int(1), Value::Int(2)]))
        );
        assert!(matches!(call("time", &[]), Ok(Value::Float(t)) if t > 1e9));
    }

    #[test]
    fn string_methods() {
        assert_eq!(method("  a b \n", "strip", &[]), Ok(s("a b")));
        assert_eq!(method("xxaxx", "lstrip", &[s("x")]), Ok(s("axx")));
        assert_eq!(method("a\n\n", "rstrip", &[]), Ok(s("a")));
        assert_eq!(
            method(" a  b ", "split", &[]),
            Ok(Value::List(vec![s("a"), s("b")]))
        );
        assert_eq!(
            method("a,,b", "split", &[s(",")]),
            Ok(Value::List(vec![s("a"), s(""), s("b")]))
        );
        assert_eq!(
            method("a\r\nb\n", "splitlines", &[]),
            Ok(Value::List(vec![s("a"), s("b")]))
        );
        assert_eq!(
            method("abc", "startswith", &[s("ab")]),
            Ok(Value::Bool(true))
        );
        assert_eq!(method("abc", "endswith", &[s("b")]), Ok(Value::Bool(false)));
        assert_eq!(
            method("a-b-c", "replace", &[s("-"), s("+")]),
            Ok(s("a+b+c"))
        );
        assert_eq!(method("Ab", "lower", &[]), Ok(s("ab")));
        assert_eq!(method("Ab", "upper", &[]), Ok(s("AB")));
        assert_eq!(method("aaa", "count", &[s("a")]), Ok(Value::Int(3)));
        assert_eq!(method("héllo", "find", &[s("l")]), Ok(Value::Int(2)));
        assert_eq!(method("abc", "find", &[s("z")]), Ok(Value::Int(-1)));
        assert_eq!(
            method(", ", "join", &[Value::List(vec![s("a"), s("b")])]),
            Ok(s("a, b"))
        );
        assert!(method(",", "join", &[Value::List(vec![Value::Int(1)])]).is_err());
    }
}
