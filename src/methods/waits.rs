//! The waits: methods that retry a guest command, or watch the console, until a
//! condition holds or their timeout passes.
//!
//! A wait loops inside the guest ([`Request::Until`]): the guest retries the
//! command, every 50 ms at first and less often as the wait goes on, until its
//! exit status is the one awaited, each try bounded by the time left, and answers
//! once; so a condition is noticed within one short pause and costs one round
//! trip, not one per try. The guest answers at least every few seconds, so an
//! interrupted wait stops trying soon; the host still owns the deadline, watches
//! QEMU meanwhile, and asks again. When the status is right but the output check
//! is not, it asks again after a pause that grows from [`RETRY_PAUSE`] to
//! [`MAX_RETRY_PAUSE`]. Before each new round it runs the checks due between
//! rounds (`Invocation::between_rounds`: the script's polling conditions).

use super::{ADDR, GUEST_GRACE, Invocation, Method, MethodResult, PORT_OPTIONS, command};
use crate::cancel::Deadline;
use crate::command::{Outcome, Request, Status, quote as shell_quote};
use crate::error::{Error, one_line};
use crate::progress::Progress;
use crate::script::signature::{Signature, ValueKind};
use regex_lite::Regex;
use std::time::Duration;

/// The first pause before asking again when a wait's status held but its check
/// did not.
const RETRY_PAUSE: Duration = Duration::from_millis(50);
/// The longest such pause.
const MAX_RETRY_PAUSE: Duration = Duration::from_secs(1);

/// Runs `command` until `done` holds for its outcome or `timeout` passes; the
/// guest retries by itself until the command's status passes `stop`.
///
/// Returns the outcome that satisfied `done`, or a timeout error quoting the last
/// one and naming `what` was awaited. `done` may also fail the wait at once.
pub(super) fn poll(
    call: &mut Invocation<'_>,
    command: &str,
    what: &str,
    stop: Status,
    done: &dyn Fn(&Invocation<'_>, &Outcome) -> Result<bool, Error>,
) -> Result<Outcome, Error> {
    let timeout = call.timeout();
    let deadline = Deadline::after(timeout);
    let mut pause = RETRY_PAUSE;
    let mut progress = Progress::start(call.backend.logger(), call.machine, what, timeout);
    let last = loop {
        let left = deadline.remaining().max(Duration::from_secs(1));
        let request = Request::Until {
            command,
            stop,
            limit: left,
            waited: timeout.saturating_sub(deadline.remaining()),
        };
        let outcome = call.vm()?.run(request, left + GUEST_GRACE)?;
        if done(call, &outcome)? {
            return Ok(outcome);
        }
        progress.tried(outcome.status, &outcome.output);
        if deadline.passed() {
            break outcome;
        }
        call.between_rounds()?;
        // The guest paused between its own tries; it only stopped early when the
        // status was right but the output not.
        if stop.holds(outcome.status) {
            call.backend
                .cancel()
                .sleep(pause.min(deadline.remaining()))?;
            pause = (pause * 2).min(MAX_RETRY_PAUSE);
        }
    };
    Err(Error::Timeout {
        machine: call.machine_name(),
        what: what.to_string(),
        seconds: timeout.as_secs_f64(),
        last: Some(format!("exit status {}\n{}", last.status, last.output)),
    })
}

pub(super) fn wait_until_succeeds(call: &mut Invocation<'_>) -> MethodResult {
    wait_until(call, true)
}

pub(super) fn wait_until_fails(call: &mut Invocation<'_>) -> MethodResult {
    wait_until(call, false)
}

/// Retries a command until its status is as wanted and its output passes the check.
fn wait_until(call: &mut Invocation<'_>, want_success: bool) -> MethodResult {
    let command = call.text(0).to_string();
    let (header, what) = if want_success {
        ("waiting for success", "success")
    } else {
        ("waiting for failure", "failure")
    };
    let awaited = format!("{what} of `{}`", one_line(&command));
    let stop = if want_success {
        Status::SUCCESS
    } else {
        Status::FAILURE
    };
    let outcome = call.nested(&format!("{header}: {}", one_line(&command)), |call| {
        poll(call, &command, &awaited, stop, &|call, outcome| {
            Ok((outcome.status == 0) == want_success && call.satisfies(&outcome.output)?)
        })
    })?;
    Ok(Some(outcome.output))
}

pub(super) fn wait_for_console_text(call: &mut Invocation<'_>) -> MethodResult {
    let pattern = call.text(0).to_string();
    let regex = Regex::new(&pattern).map_err(|e| Error::invalid_regex(&pattern, &e))?;
    let timeout = call.timeout();
    call.nested(
        &format!("waiting for `{pattern}` to appear on the console"),
        |call| {
            let deadline = Deadline::after(timeout);
            loop {
                let waited = call
                    .vm()?
                    .wait_for_console_text(&regex, deadline.remaining());
                let line = match waited {
                    Ok(line) => line,
                    Err(Error::Timeout { machine, last, .. }) => {
                        let with_check = match call.condition {
                            Some(_) => " with a line that passes the check",
                            None => "",
                        };
                        return Err(Error::Timeout {
                            machine,
                            what: format!("`{pattern}` to appear on the console{with_check}"),
                            seconds: timeout.as_secs_f64(),
                            last,
                        });
                    }
                    Err(error) => return Err(error),
                };
                if call.satisfies(&line)? {
                    return Ok(Some(line));
                }
            }
        },
    )
}

pub(super) fn wait_for_file(call: &mut Invocation<'_>) -> MethodResult {
    let path = call.text(0).to_string();
    let command = format!("test -e {}", shell_quote(&path));
    call.nested(&format!("waiting for file `{path}`"), |call| {
        poll(
            call,
            &command,
            &format!("file `{path}`"),
            Status::SUCCESS,
            &|call, outcome| Ok(outcome.status == 0 && call.satisfies(&outcome.output)?),
        )
    })?;
    Ok(None)
}

pub(super) fn wait_for_open_port(call: &mut Invocation<'_>) -> MethodResult {
    wait_for_port(call, true)
}

pub(super) fn wait_for_closed_port(call: &mut Invocation<'_>) -> MethodResult {
    wait_for_port(call, false)
}

/// Polls `nc -z ADDR PORT` in the guest (ADDR: the `addr` option, `localhost`).
fn wait_for_port(call: &mut Invocation<'_>, open: bool) -> MethodResult {
    let port = call.number(0);
    let addr = call.text_option(&ADDR).unwrap_or("localhost").to_string();
    let command = format!("nc -z {} {port}", shell_quote(&addr));
    let state = if open { "open" } else { "closed" };
    let what = format!("TCP port {port} on {addr} to be {state}");
    call.nested(&format!("waiting for {what}"), |call| {
        let stop = if open {
            Status::SUCCESS
        } else {
            Status::FAILURE
        };
        poll(call, &command, &what, stop, &|_, outcome| {
            Ok((outcome.status == 0) == open)
        })
    })?;
    Ok(None)
}

/// The methods this module runs, with their signatures.
pub(super) static TABLE: &[Method] = &[
    Method {
        signature: command(
            "wait_until_succeeds",
            &["command"],
            "retry a command until it exits 0 (and its output passes the check)",
        ),
        run: wait_until_succeeds,
    },
    Method {
        signature: command(
            "wait_until_fails",
            &["command"],
            "retry a command until it exits non-zero (and its output passes the check)",
        ),
        run: wait_until_fails,
    },
    Method {
        signature: Signature {
            param_kind: ValueKind::Regex,
            ..command(
                "wait_for_console_text",
                &["regex"],
                "wait for a serial console line matching a regex; returns the line",
            )
        },
        run: wait_for_console_text,
    },
    Method {
        signature: Signature {
            returns_text: false,
            ..command("wait_for_file", &["path"], "wait until a file exists")
        },
        run: wait_for_file,
    },
    Method {
        signature: Signature {
            param_kind: ValueKind::Port,
            options: PORT_OPTIONS,
            returns_text: false,
            ..command(
                "wait_for_open_port",
                &["port"],
                "wait until a TCP port accepts connections (addr=localhost)",
            )
        },
        run: wait_for_open_port,
    },
    Method {
        signature: Signature {
            param_kind: ValueKind::Port,
            options: PORT_OPTIONS,
            returns_text: false,
            ..command(
                "wait_for_closed_port",
                &["port"],
                "wait until a TCP port refuses connections (addr=localhost)",
            )
        },
        run: wait_for_closed_port,
    },
];
