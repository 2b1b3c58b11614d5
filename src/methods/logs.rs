//! A machine's own log lines and its console: `machine.log "…"` and
//! `get_console_log`.

use super::{Invocation, Method, MethodResult, on_machine};
use crate::script::signature::Signature;

/// `machine.log "…"`: a log line attributed to the machine (the NixOS driver's
/// `Machine.log`), where the global `log` writes one of the run's own.
pub(super) fn machine_log(call: &mut Invocation<'_>) -> MethodResult {
    call.backend.logger().log(call.machine, call.text(0));
    Ok(None)
}

/// `get_console_log`: the serial console lines of the machine's running QEMU (or
/// the last one), one per line, as the NixOS driver joins them.
pub(super) fn get_console_log(call: &mut Invocation<'_>) -> MethodResult {
    Ok(Some(call.vm()?.console_log().join("\n")))
}

/// The methods this module runs, with their signatures.
pub(super) static TABLE: &[Method] = &[
    Method {
        signature: on_machine(
            "log",
            "write a message to the log, attributed to the machine",
        )
        .with_params(&["message"]),
        run: machine_log,
    },
    Method {
        signature: Signature {
            returns_text: true,
            ..on_machine(
                "get_console_log",
                "the serial console output since the machine's QEMU started",
            )
        },
        run: get_console_log,
    },
];
