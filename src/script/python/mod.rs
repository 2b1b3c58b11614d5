//! The Python front-end: NixOS `testScript`s read as they are, into the same
//! syntax tree as `.cmds` scripts.
//!
//! This subsystem owns:
//! - [`lexer`]: Python's tokens, indentation and string literals (f-strings too);
//! - [`parser`]: the subset of Python test scripts use, mapped to
//!   [`crate::script::ast`] nodes;
//! - [`print`](mod@print): the tree back to `.cmds` text, for `vmtest-min convert`.
//!
//! The checker, the interpreter and the log never learn that a statement came from
//! Python; they see the nodes and the spans, which point into the Python source,
//! so every error shows the Python line and column. What falls outside the subset
//! (classes, lambdas outside `retry`, comprehensions, `subprocess`, …) stops the
//! parse with one diagnostic naming the construct and the `.cmds` way to say it.
//!
//! [`is_python`] decides which front-end reads a script: by the file's extension,
//! and for files without one (the Nix wrapper's `test-script`) by its content.

pub(crate) mod lexer;
pub(crate) mod parser;
pub(crate) mod print;

use crate::script::diag::{DiagKind, Diagnostic};
use crate::script::span::Span;
use std::path::Path;

pub(crate) use parser::parse;

/// The diagnostic for a Python construct the front-end does not read: it names the
/// construct (without an article: "unexpected lambda") and says what to write
/// instead.
pub(crate) fn unsupported(span: Span, construct: &str, instead: &str) -> Diagnostic {
    Diagnostic::new(
        span,
        DiagKind::UnexpectedToken {
            expected: Vec::new(),
            found: format!("{construct} (outside the Python that vmtest-min reads); {instead}"),
        },
    )
}

/// Parses the Python script `src` and prints it as `.cmds` text, comments kept.
pub(crate) fn convert(src: &str) -> Result<String, Diagnostic> {
    let parsed = parse(src)?;
    Ok(print::to_cmds(&parsed.script, src, &parsed.comments))
}

/// Whether the script at `path` with text `src` is Python: `.py` files are, `.cmds`
/// files are not; any other file is Python when its statements look like Python
/// more often than like `.cmds`.
pub(crate) fn is_python(path: &Path, src: &str) -> bool {
    match path.extension().and_then(|e| e.to_str()) {
        Some("py") => return true,
        Some("cmds") => return false,
        _ => {}
    }
    content_score(src) > 0
}

/// How Python-like `src` reads, line by line: above zero Python, below zero `.cmds`,
/// zero when its content does not tell.
pub(crate) fn content_score(src: &str) -> i32 {
    let mut score = 0i32;
    for line in src.lines().map(str::trim) {
        let word = line.split([' ', '(', ':']).next().unwrap_or("");
        let python = line.ends_with(':')
            && matches!(
                word,
                "def" | "if" | "elif" | "else" | "for" | "while" | "with"
            )
            || matches!(word, "import" | "from")
            || line.starts_with("start_all()")
            || line.starts_with("with subtest(");
        let cmds = line.ends_with('{')
            || line == "}"
            || line == "start_all"
            || line.starts_with("subtest \"")
            || ["<<", "=~", "!~", " contains \"", " !contains \""]
                .iter()
                .any(|form| line.contains(form))
            || bare_call(line);
        score += i32::from(python) - i32::from(cmds);
    }
    score
}

/// Whether `line` calls a method `.cmds`-style, without parentheses:
/// `[x = ]m.method "arg"` or `m.method 'arg'`.
fn bare_call(line: &str) -> bool {
    let call = line.split_once(" = ").map_or(line, |(_, value)| value);
    let Some((callee, rest)) = call.split_once(' ') else {
        return false;
    };
    callee.contains('.')
        && callee
            .chars()
            .all(|c| c == '.' || lexer::is_name_continue(c))
        && rest.starts_with(['"', '\''])
}

#[cfg(test)]
mod tests;
