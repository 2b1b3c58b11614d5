//! The script language: everything between a script's text (`.cmds` or Python)
//! and a checked syntax tree the interpreter can run.
//!
//! This subsystem owns:
//! - [`span`]: source positions ([`span::Span`]);
//! - [`lexer`]: characters to tokens, strings and heredocs included;
//! - [`parser`]: tokens to the [`ast`], by recursive descent;
//! - `python`: the Python front-end, NixOS `testScript`s to the same [`ast`];
//! - [`ast`]: the syntax tree, plain data with spans;
//! - `place`: what an assignment can change, and `append`/`extend` as assignments;
//! - [`signature`]: what each method accepts, as the checker needs it, and the one
//!   lookup rule for methods;
//! - `value`: run-time values, with Python's semantics, and their static kinds;
//! - `builtins`: the builtin functions and the methods of values, one table each;
//! - [`check`]: validation against the test's machines and methods, before any VM boots;
//! - [`suggest`]: "did you mean …?" for misspelt names;
//! - [`diag`]: script errors ([`diag::Diagnostic`]) and their rustc-style rendering.
//!
//! It does no I/O and knows nothing of QEMU: the runtime's method table supplies
//! the signatures, and the interpreter walks the tree this module returns.

pub(crate) mod ast;
pub(crate) mod builtins;
pub(crate) mod check;
pub(crate) mod diag;
pub(crate) mod lexer;
pub(crate) mod parser;
pub(crate) mod place;
pub(crate) mod python;
pub(crate) mod signature;
pub(crate) mod span;
pub(crate) mod suggest;
pub(crate) mod value;

use crate::script::ast::Script;
use crate::script::check::{CheckContext, Checker};
use crate::script::diag::Diagnostic;

/// Parses and checks the script `src`, read from `file`.
///
/// `file` chooses the front-end: Python for `*.py` and for extensionless files
/// that read as Python (`python::is_python`), `.cmds` otherwise. Both give the
/// same tree, whose spans point into `src`. On failure returns the parse error
/// alone, or every problem the checker found, in source order. Diagnostics do not
/// carry the file name: render them with `diagnostic.render(file, src, color)`.
///
/// The program itself decides the front-end with `--language` in mind and calls
/// [`load_as`]; this form is for tests.
#[cfg(test)]
pub(crate) fn load(file: &str, src: &str, ctx: &CheckContext) -> Result<Script, Vec<Diagnostic>> {
    load_as(src, ctx, python::is_python(std::path::Path::new(file), src))
}

/// [`load`] with the front-end chosen by the caller: Python if `python`.
pub(crate) fn load_as(
    src: &str,
    ctx: &CheckContext,
    python: bool,
) -> Result<Script, Vec<Diagnostic>> {
    let script = if python {
        python::parse(src).map(|parsed| parsed.script)
    } else {
        parser::parse(src)
    }
    .map_err(|diagnostic| vec![diagnostic])?;
    let diagnostics = Checker::new(ctx).check(&script);
    if diagnostics.is_empty() {
        Ok(script)
    } else {
        Err(diagnostics)
    }
}

/// The example script of the language's specification, for tests.
#[cfg(test)]
pub(crate) const EXAMPLE: &str = r#"# a comment
start_all
machine.succeed "echo hello"
machine.succeed "echo hello" =~ "hel+o"          # output must match a regex
machine.succeed 'printf "%s" x' == "x"           # output must equal
machine.succeed "cat /etc/hostname" contains "machine"
machine.fail "false"
machine.wait_until_succeeds "test -e /tmp/ready" timeout=60
name = machine.succeed "hostname"                # capture; use as ${name} in later strings
subtest "network" {
    client.succeed "ping -c 1 ${name}"
}
machine.succeed <<EOF
echo a multi-line
echo shell script
EOF
machine.shutdown
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::signature::{Receiver, Signature, ValueKind};

    const SIGNATURES: &[Signature] = &[Signature {
        name: "succeed",
        receiver: Receiver::Machine,
        params: &["command"],
        param_kind: ValueKind::Text,
        variadic: true,
        options: &[],
        returns_text: true,
        positional_options: false,
        returns_status: false,
        returns: None,
        summary: "",
        param_kinds: &[],
    }];

    fn load_with(src: &str) -> Result<Script, Vec<Diagnostic>> {
        let machines = vec!["server".to_string()];
        let ctx = CheckContext {
            machines: &machines,
            signatures: SIGNATURES,
        };
        load("test.cmds", src, &ctx)
    }

    #[test]
    fn load_parses_and_checks() {
        let script =
            load_with("x = machine.succeed \"hostname\"\nserver.succeed \"${x}\"").unwrap();
        assert_eq!(script.statements.len(), 2);
    }

    #[test]
    fn load_returns_the_parse_error() {
        let errors = load_with("server.succeed \"x").unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].to_string(), "unterminated string");
    }

    #[test]
    fn load_returns_every_check_error() {
        let errors = load_with("server.succed \"x\"\nclient.succeed \"${y}\"").unwrap_err();
        let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            messages,
            [
                "unknown method `succed`",
                "unknown machine `client`",
                "undefined variable `y`"
            ]
        );
    }
}
