//! X11: the NixOS driver's checks of a guest's X server and its windows, all
//! through guest commands: the systemd journal and the X socket for the server,
//! `xwininfo -root -tree` for the window names.

use super::waits::poll;
use super::{Invocation, Method, MethodResult, command};
use crate::command::{Outcome, Status};
use crate::error::Error;
use crate::script::signature::{Signature, ValueKind};
use crate::script::value::{Kind, Value};
use regex_lite::Regex;

/// Succeeds once systemd reached the graphical target and display `:0` has its
/// socket (the socket alone can come before the server accepts clients).
const X_READY: &str = "journalctl -b SYSLOG_IDENTIFIER=systemd | grep 'Reached target Current graphical' \
                       && [ -e /tmp/.X11-unix/X0 ]";

/// Prints the name of every named window, one a line: the quoted names of
/// `xwininfo -root -tree`'s window lines.
const WINDOW_NAMES: &str =
    r#"xwininfo -root -tree | sed 's/.*0x[0-9a-f]* "\([^"]*\)".*/\1/; t; d'"#;

/// The window names in `output`, one a line.
fn names(output: &str) -> Vec<String> {
    output.lines().map(str::to_string).collect()
}

pub(super) fn wait_for_x(call: &mut Invocation<'_>) -> MethodResult {
    call.nested("waiting for the X11 server", |call| {
        poll(
            call,
            X_READY,
            "the X11 server",
            Status::SUCCESS,
            &|_, outcome| Ok(outcome.status == 0),
        )
    })?;
    Ok(None)
}

pub(super) fn get_window_names(call: &mut Invocation<'_>) -> MethodResult {
    let timeout = call.scaled(super::DEFAULT_TIMEOUT);
    let Outcome {
        status,
        output,
        console,
    } = call.vm()?.execute(WINDOW_NAMES, timeout, None)?;
    if status != 0 {
        return Err(Error::CommandFailed {
            machine: call.machine.unwrap_or_default().to_string(),
            command: WINDOW_NAMES.to_string(),
            status,
            output,
            console,
        });
    }
    call.value = Some(Value::List(
        names(&output).into_iter().map(Value::Str).collect(),
    ));
    Ok(Some(output))
}

pub(super) fn wait_for_window(call: &mut Invocation<'_>) -> MethodResult {
    let pattern = call.text(0).to_string();
    let regex = Regex::new(&pattern).map_err(|e| Error::invalid_regex(&pattern, &e))?;
    let what = format!("a window matching `{pattern}` (the last list of window names follows)");
    call.nested("waiting for a window to appear", |call| {
        poll(call, WINDOW_NAMES, &what, Status::SUCCESS, &|_, outcome| {
            Ok(outcome.status == 0 && names(&outcome.output).iter().any(|n| regex.is_match(n)))
        })
    })?;
    Ok(None)
}

/// The methods this module runs, with their signatures.
pub(super) static TABLE: &[Method] = &[
    Method {
        signature: Signature {
            returns_text: false,
            ..command(
                "wait_for_x",
                &[],
                "wait until the guest's X server accepts clients",
            )
        },
        run: wait_for_x,
    },
    Method {
        signature: Signature {
            options: &[],
            returns: Some(Kind::List),
            ..command(
                "get_window_names",
                &[],
                "the names of the X windows (`xwininfo -root -tree`), as a list",
            )
        },
        run: get_window_names,
    },
    Method {
        signature: Signature {
            param_kind: ValueKind::Regex,
            returns_text: false,
            ..command(
                "wait_for_window",
                &["regex"],
                "wait until an X window's name matches a regex",
            )
        },
        run: wait_for_window,
    },
];
