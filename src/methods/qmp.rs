//! QMP: waiting for QEMU's events and sending raw QMP commands.
//!
//! The NixOS driver's `wait_for_qmp_event` takes a Python predicate over the
//! event; a script here names the event instead, by a regex that must match the
//! whole event name (`"STOP"`, `"DEVICE_DELETED|SHUTDOWN"`), and gets the event
//! back as a JSON object to inspect further (`e["data"]["reason"]`). Events that
//! come before the awaited one are dropped, as there. Unlike there, the wait has
//! a deadline and ends at once when QEMU exits.

use super::{Invocation, Method, MethodResult, OptionSpec, TIMEOUT, command};
use crate::cancel::Deadline;
use crate::error::Error;
use crate::json::{self, Json};
use crate::script::signature::{Signature, ValueKind};
use crate::script::value::{Kind, Value};
use std::time::Duration;

/// The default timeout of `wait_for_qmp_event`, in seconds (as in the NixOS driver).
const EVENT_TIMEOUT: f64 = 600.0;

/// How long `wait_for_qmp_event` waits between checks of the polling conditions.
const BETWEEN_ROUNDS: Duration = Duration::from_secs(1);

/// `arguments='{"id": "disk1"}'`: a QMP command's arguments, a JSON object.
const ARGUMENTS: OptionSpec = OptionSpec {
    name: "arguments",
    kind: ValueKind::Text,
};

/// Gives `json` to the script as a value, its compact text for output checks.
fn give(call: &mut Invocation<'_>, json: Json) -> MethodResult {
    let text = json.to_string();
    call.value = Some(Value::from(json));
    Ok(Some(text))
}

/// `wait_for_qmp_event FILTER`: the first event whose name matches. With
/// polling conditions active, the wait goes in slices of [`BETWEEN_ROUNDS`] and
/// checks them between slices.
pub(super) fn wait_for_qmp_event(call: &mut Invocation<'_>) -> MethodResult {
    let pattern = call.text(0).to_string();
    let timeout = call.seconds(&TIMEOUT, EVENT_TIMEOUT);
    let event = call.nested(&format!("waiting for the QMP event `{pattern}`"), |call| {
        let deadline = Deadline::after(timeout);
        loop {
            let slice = match call.between {
                Some(_) => BETWEEN_ROUNDS.min(deadline.remaining()),
                None => deadline.remaining(),
            };
            match call.vm()?.wait_for_qmp_event(&pattern, slice) {
                Err(Error::Timeout { .. }) if !deadline.passed() => call.between_rounds()?,
                Err(Error::Timeout {
                    machine,
                    what,
                    last,
                    ..
                }) => {
                    return Err(Error::Timeout {
                        machine,
                        what,
                        seconds: timeout.as_secs_f64(),
                        last,
                    });
                }
                other => return other,
            }
        }
    })?;
    give(call, event)
}

pub(super) fn send_qmp_command(call: &mut Invocation<'_>) -> MethodResult {
    let command = call.text(0).to_string();
    let arguments = match call.text_option(&ARGUMENTS) {
        None => None,
        Some(text) => match json::parse(text) {
            Ok(object @ Json::Object(_)) => Some(object),
            Ok(_) => {
                return Err(Error::InvalidValue {
                    message: format!(
                        "the arguments of QMP command `{command}` must be a JSON object, found `{text}`"
                    ),
                });
            }
            Err(e) => {
                return Err(Error::InvalidValue {
                    message: format!("the arguments of QMP command `{command}`: {e}"),
                });
            }
        },
    };
    call.backend
        .logger()
        .log(call.machine, &format!("sending QMP command: {command}"));
    let result = call.vm()?.qmp_command(&command, arguments)?;
    give(call, result)
}

/// The methods this module runs, with their signatures.
pub(super) static TABLE: &[Method] = &[
    Method {
        signature: Signature {
            param_kind: ValueKind::Regex,
            positional_options: true,
            returns: Some(Kind::Dict),
            ..command(
                "wait_for_qmp_event",
                &["event"],
                "wait for a QMP event whose name matches a regex (timeout=600); returns it",
            )
        },
        run: wait_for_qmp_event,
    },
    Method {
        signature: Signature {
            options: &[ARGUMENTS],
            positional_options: true,
            returns: Some(Kind::Any),
            ..command(
                "send_qmp_command",
                &["command"],
                "send a QMP command (arguments='{json}'); returns its result",
            )
        },
        run: send_qmp_command,
    },
];
