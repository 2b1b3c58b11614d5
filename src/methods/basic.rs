//! Lifecycle, plain commands and the monitor: the methods that do one thing once.

use super::{Invocation, Method, MethodResult, TIMEOUT_ONLY, command, global, on_machine};
use crate::command::Outcome;
use crate::error::{Error, one_line};
use crate::script::signature::{Signature, ValueKind};
use std::time::{Duration, Instant};

pub(super) fn start_all(call: &mut Invocation<'_>) -> MethodResult {
    call.nested("start all VMs", |call| call.backend.start_all())?;
    Ok(None)
}

pub(super) fn join_all(call: &mut Invocation<'_>) -> MethodResult {
    call.nested("wait for all VMs to finish", |call| call.backend.join_all())?;
    Ok(None)
}

pub(super) fn log(call: &mut Invocation<'_>) -> MethodResult {
    call.backend.logger().log(None, call.text(0));
    Ok(None)
}

pub(super) fn sleep(call: &mut Invocation<'_>) -> MethodResult {
    let seconds = call.number(0);
    call.backend
        .cancel()
        .sleep(crate::cancel::seconds(seconds))?;
    Ok(None)
}

pub(super) fn serial_stdout_on(call: &mut Invocation<'_>) -> MethodResult {
    call.backend.logger().set_print_serial(true);
    Ok(None)
}

pub(super) fn serial_stdout_off(call: &mut Invocation<'_>) -> MethodResult {
    call.backend.logger().set_print_serial(false);
    Ok(None)
}

pub(super) fn start(call: &mut Invocation<'_>) -> MethodResult {
    let on_reboot = super::power::on_reboot(call);
    call.vm()?.start_with(on_reboot)?;
    Ok(None)
}

pub(super) fn shutdown(call: &mut Invocation<'_>) -> MethodResult {
    call.nested("shutting down", |call| call.vm()?.shutdown())?;
    Ok(None)
}

pub(super) fn crash(call: &mut Invocation<'_>) -> MethodResult {
    call.vm()?.crash()?;
    Ok(None)
}

pub(super) fn shell_interact(call: &mut Invocation<'_>) -> MethodResult {
    call.vm()?.shell_interact()?;
    Ok(None)
}

pub(super) fn wait_for_shutdown(call: &mut Invocation<'_>) -> MethodResult {
    let timeout = call.timeout();
    call.nested("waiting for the VM to power off", |call| {
        call.vm()?.wait_for_shutdown(timeout)
    })?;
    Ok(None)
}

pub(super) fn execute(call: &mut Invocation<'_>) -> MethodResult {
    let command = call.text(0).to_string();
    let (timeout, guest) = call.command_limits();
    let outcome = call.nested(&format!("executing: {}", one_line(&command)), |call| {
        call.vm()?.execute(&command, timeout, guest)
    })?;
    call.backend
        .logger()
        .log(call.machine, &format!("(exit status {})", outcome.status));
    call.status = Some(outcome.status);
    Ok(Some(outcome.output))
}

pub(super) fn succeed(call: &mut Invocation<'_>) -> MethodResult {
    run_each(call, true)
}

pub(super) fn fail(call: &mut Invocation<'_>) -> MethodResult {
    run_each(call, false)
}

/// `succeed` and `fail`: runs every command, requiring status 0 (or non-zero).
fn run_each(call: &mut Invocation<'_>, want_success: bool) -> MethodResult {
    let (timeout, guest) = call.command_limits();
    let mut all = String::new();
    for command in call.texts() {
        let verb = if want_success {
            "must succeed"
        } else {
            "must fail"
        };
        let machine = call.machine_name();
        let output = call.nested(&format!("{verb}: {}", one_line(&command)), |call| {
            let started = Instant::now();
            let Outcome {
                status,
                output,
                console,
            } = call.vm()?.execute(&command, timeout, guest)?;
            // Killed by the guest-side timeout: say so rather than "status 137".
            let timed_out = guest
                .is_some_and(|limit| status == 128 + libc::SIGKILL && started.elapsed() >= limit);
            if timed_out && want_success {
                return Err(Error::Timeout {
                    machine,
                    what: format!("command `{}` to finish", one_line(&command)),
                    seconds: call.timeout().as_secs_f64(),
                    last: Some(output),
                });
            }
            match (want_success, status == 0) {
                (true, false) => Err(Error::CommandFailed {
                    machine,
                    command: command.clone(),
                    status,
                    output,
                    console,
                }),
                (false, true) => Err(Error::CommandSucceeded {
                    machine,
                    command: command.clone(),
                    output,
                }),
                _ => Ok(output),
            }
        })?;
        if all.is_empty() {
            all = output;
        } else {
            all.push_str(&output);
        }
    }
    Ok(Some(all))
}

pub(super) fn send_monitor_command(call: &mut Invocation<'_>) -> MethodResult {
    let command = call.text(0).to_string();
    if command.trim_end_matches('\n').contains('\n') {
        return Err(Error::InvalidValue {
            message: format!(
                "monitor command `{}` spans several lines: send one command per call",
                one_line(&command)
            ),
        });
    }
    call.backend
        .logger()
        .log(call.machine, &format!("sending monitor command: {command}"));
    call.vm()?.send_monitor_command(&command).map(Some)
}

pub(super) fn block(call: &mut Invocation<'_>) -> MethodResult {
    set_link(call, false)
}

pub(super) fn unblock(call: &mut Invocation<'_>) -> MethodResult {
    set_link(call, true)
}

/// `block`/`unblock`: the first vlan NIC (`eth1`; `eth0` is user-mode networking).
fn set_link(call: &mut Invocation<'_>, up: bool) -> MethodResult {
    let state = if up { "up" } else { "down" };
    call.backend
        .logger()
        .log(call.machine, &format!("setting the vlan link {state}"));
    call.vm()?.set_link(up)?;
    Ok(None)
}

/// `machine.sleep N`: sleeps in the guest, as the NixOS driver's `machine.sleep` does.
pub(super) fn guest_sleep(call: &mut Invocation<'_>) -> MethodResult {
    let seconds = call.number(0);
    let timeout = crate::cancel::seconds(seconds).saturating_add(Duration::from_secs(60));
    let command = format!("sleep {seconds}");
    call.nested(&format!("sleeping {seconds} s in the guest"), |call| {
        call.vm()?.execute(&command, timeout, None)
    })?;
    Ok(None)
}

/// The methods this module runs, with their signatures.
pub(super) static TABLE: &[Method] = &[
    Method {
        signature: global(
            "start_all",
            &[],
            "start every machine (they boot in parallel)",
        ),
        run: start_all,
    },
    Method {
        signature: global("join_all", &[], "wait until every machine has shut down"),
        run: join_all,
    },
    Method {
        signature: global("log", &["message"], "write a message to the log"),
        run: log,
    },
    Method {
        signature: Signature {
            param_kind: ValueKind::Seconds,
            ..global("sleep", &["seconds"], "pause the script (host time)")
        },
        run: sleep,
    },
    Method {
        signature: global(
            "serial_stdout_on",
            &[],
            "show serial lines on the terminal (default)",
        ),
        run: serial_stdout_on,
    },
    Method {
        signature: global(
            "serial_stdout_off",
            &[],
            "show serial lines only in the XML log",
        ),
        run: serial_stdout_off,
    },
    Method {
        signature: Signature {
            options: &[super::power::ALLOW_REBOOT],
            positional_options: true,
            ..on_machine(
                "start",
                "start the machine; it boots in the background (allow_reboot=True: see reboot)",
            )
        },
        run: start,
    },
    Method {
        signature: on_machine("shutdown", "power the guest off and wait for QEMU to exit"),
        run: shutdown,
    },
    Method {
        signature: on_machine("crash", "quit QEMU at once, like pulling the plug"),
        run: crash,
    },
    Method {
        signature: on_machine(
            "shell_interact",
            "the guest's root shell on the terminal until Ctrl-D",
        ),
        run: shell_interact,
    },
    Method {
        signature: Signature {
            options: TIMEOUT_ONLY,
            ..on_machine("wait_for_shutdown", "wait until QEMU exits on its own")
        },
        run: wait_for_shutdown,
    },
    Method {
        signature: Signature {
            returns_status: true,
            ..command(
                "execute",
                &["command"],
                "run a command; its status does not matter (`rc, out = …` takes both)",
            )
        },
        run: execute,
    },
    Method {
        signature: Signature {
            variadic: true,
            ..command(
                "succeed",
                &["command"],
                "run commands that must exit 0; returns their output",
            )
        },
        run: succeed,
    },
    Method {
        signature: Signature {
            variadic: true,
            ..command("fail", &["command"], "run commands that must exit non-zero")
        },
        run: fail,
    },
    Method {
        signature: Signature {
            options: &[],
            ..command(
                "send_monitor_command",
                &["command"],
                "send a QEMU monitor command; returns the answer",
            )
        },
        run: send_monitor_command,
    },
    Method {
        signature: on_machine("block", "cut the link of the first vlan NIC (eth1)"),
        run: block,
    },
    Method {
        signature: on_machine("unblock", "restore the link of the first vlan NIC"),
        run: unblock,
    },
    Method {
        signature: Signature {
            param_kind: ValueKind::Seconds,
            ..on_machine("sleep", "sleep in the guest (guest time)")
        }
        .with_params(&["seconds"]),
        run: guest_sleep,
    },
];
