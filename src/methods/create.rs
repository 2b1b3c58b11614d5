//! `create_machine`: a machine the script adds while it runs, as the NixOS
//! driver's `create_machine(start_command, name=…)` does.
//!
//! The start command is a program and its arguments: a NixOS start script
//! (`…/bin/run-foo-vm`) or a plain QEMU command line
//! (`qemu-system-x86_64 -m 384 -kernel …`). It is split into words as a shell
//! would split it (blanks, single and double quotes, backslashes), with nothing
//! expanded, and run as an argv, never through `sh -c`; the driver's arguments
//! (QMP, monitor, shell, serial) follow. The machine is named by `name=`, else
//! as a start script names it (`run-<name>-vm`), else `machine`. The dictionary
//! form of 2021 (`{"qemuFlags": …, "hda": …}`) is gone from the NixOS driver and
//! is not taken here either.

use super::{Invocation, Method, MethodResult, OptionSpec, global};
use crate::error::Error;
use crate::script::signature::{Signature, ValueKind};
use crate::script::value::{Kind, Value};

/// `name=…`: the created machine's name.
const NAME: OptionSpec = OptionSpec {
    name: "name",
    kind: ValueKind::Text,
};

pub(super) fn create_machine(call: &mut Invocation<'_>) -> MethodResult {
    let command = call.text(0).to_string();
    let words = split_words(&command).map_err(|problem| Error::InvalidValue {
        message: format!("`create_machine`: cannot split `{command}` into words: {problem}"),
    })?;
    let Some(program) = words.first() else {
        return Err(Error::InvalidValue {
            message: "`create_machine`: the start command is empty".to_string(),
        });
    };
    let name = match call.text_option(&NAME) {
        Some(name) => name.to_string(),
        None => script_name(program).unwrap_or("machine").to_string(),
    };
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
    if !valid {
        return Err(Error::InvalidValue {
            message: format!(
                "`create_machine`: machine name `{name}` must be letters, digits, `_`, `-` or `.`"
            ),
        });
    }
    let name = call.backend.create_machine(words, &name)?;
    call.value = Some(Value::Machine(name.clone()));
    Ok(Some(name))
}

/// The machine name a start script's file name gives (`run-<name>-vm`).
fn script_name(program: &str) -> Option<&str> {
    let file = program.rsplit('/').next()?;
    file.strip_prefix("run-")?
        .strip_suffix("-vm")
        .filter(|name| !name.is_empty())
}

/// Splits `text` into words as a POSIX shell does, expanding nothing.
fn split_words(text: &str) -> Result<Vec<String>, &'static str> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => words.extend(word.take()),
            '\'' => {
                let current = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => current.push(c),
                        None => return Err("a single quote is not closed"),
                    }
                }
            }
            '"' => {
                let current = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => current.push(c),
                            Some('\n') => {}
                            Some(c) => current.extend(['\\', c]),
                            None => return Err("a double quote is not closed"),
                        },
                        Some(c) => current.push(c),
                        None => return Err("a double quote is not closed"),
                    }
                }
            }
            '\\' => match chars.next() {
                Some('\n') => {}
                Some(c) => word.get_or_insert_with(String::new).push(c),
                None => return Err("it ends with a backslash"),
            },
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    Ok(words)
}

/// The methods this module runs, with their signatures.
pub(super) static TABLE: &[Method] = &[Method {
    signature: Signature {
        options: &[NAME],
        returns_text: true,
        returns: Some(Kind::Machine),
        ..global(
            "create_machine",
            &["start_command"],
            "add a machine started by a start script or QEMU command (name=); returns it",
        )
    },
    run: create_machine,
}];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_a_shell_without_expanding() {
        let split = |text: &str| split_words(text).unwrap();
        assert_eq!(split("  a  b\tc "), ["a", "b", "c"]);
        assert_eq!(
            split(r#"x -append "console=ttyS0 a=\"b\"" 'it''s' \ y"#),
            ["x", "-append", "console=ttyS0 a=\"b\"", "its", " y"]
        );
        assert_eq!(split("$HOME ''"), ["$HOME", ""]);
        assert_eq!(split_words("'open"), Err("a single quote is not closed"));
        assert_eq!(split_words("a\\"), Err("it ends with a backslash"));
    }

    #[test]
    fn names_from_start_scripts() {
        assert_eq!(
            script_name("/nix/store/x/bin/run-server-vm"),
            Some("server")
        );
        assert_eq!(script_name("qemu-system-x86_64"), None);
        assert_eq!(script_name("run--vm"), None);
    }
}
