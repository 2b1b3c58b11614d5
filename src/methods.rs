//! The method table: every command a script can call, with its signature and the
//! function that runs it.
//!
//! Adding a method is one [`Method`] entry in [`METHODS`] plus one function here. The
//! checker reads only the signatures (see [`signatures`]); the interpreter evaluates
//! the arguments and calls `run` with an [`Invocation`].

use crate::backend::{Backend, Vm};
use crate::cancel::Deadline;
use crate::error::{Error, one_line};
use crate::logger::Outcome as LogOutcome;
use crate::script::signature::{OptionSpec, Receiver, Signature, ValueKind};
use crate::shell::Outcome;
use regex_lite::Regex;
use std::time::Duration;

/// The default timeout of commands and waits, in seconds (as in the NixOS driver).
pub const DEFAULT_TIMEOUT: f64 = 900.0;
/// First pause between two tries of a wait; it doubles up to [`MAX_POLL`].
pub const FIRST_POLL: Duration = Duration::from_millis(100);
/// Longest pause between two tries of a wait.
pub const MAX_POLL: Duration = Duration::from_secs(1);
/// Extra host-side time given to a command bounded in the guest, so that the
/// guest's own timeout fires first and the shell stays usable.
const GUEST_GRACE: Duration = Duration::from_secs(10);

/// An evaluated argument or option value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A string, variables already substituted.
    Text(String),
    /// A number.
    Number(f64),
}

/// A statement's output check, as a predicate on the output.
pub type Condition<'a> = &'a dyn Fn(&str) -> Result<bool, Error>;

/// One call being run.
pub struct Invocation<'a> {
    /// The machines and services.
    pub backend: &'a mut dyn Backend,
    /// The machine the method is called on (resolved), for machine methods.
    pub machine: Option<&'a str>,
    /// Positional arguments, evaluated.
    pub args: Vec<Value>,
    /// Options, evaluated.
    pub options: Vec<(String, Value)>,
    /// The statement's output check, which waits fold into their condition.
    pub condition: Option<Condition<'a>>,
}

impl Invocation<'_> {
    fn vm(&mut self) -> Result<&mut dyn Vm, Error> {
        let name = self
            .machine
            .expect("the checker ensures machine methods have a machine");
        self.backend.vm(name)
    }

    fn text(&self, index: usize) -> &str {
        match &self.args[index] {
            Value::Text(text) => text,
            Value::Number(_) => unreachable!("the checker ensures text arguments"),
        }
    }

    fn texts(&self) -> Vec<String> {
        (0..self.args.len())
            .map(|i| self.text(i).to_string())
            .collect()
    }

    fn seconds(&self, name: &str, default: f64) -> Duration {
        let value = self
            .options
            .iter()
            .find(|(option, _)| option == name)
            .map(|(_, value)| value);
        let seconds = match value {
            Some(Value::Number(seconds)) => *seconds,
            _ => default,
        };
        Duration::from_secs_f64(seconds.max(0.0))
    }

    fn timeout(&self) -> Duration {
        self.seconds("timeout", DEFAULT_TIMEOUT)
    }

    fn satisfies(&self, output: &str) -> Result<bool, Error> {
        match self.condition {
            Some(condition) => condition(output),
            None => Ok(true),
        }
    }

    /// Runs `body` inside a log nest headed `message`.
    fn nested<T>(
        &mut self,
        message: &str,
        body: impl FnOnce(&mut Self) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let logger = self.backend.logger();
        logger.open_nest(self.machine, message);
        let result = body(self);
        logger.close_nest(match result {
            Ok(_) => LogOutcome::Finished,
            Err(_) => LogOutcome::Failed,
        });
        result
    }
}

/// What running a method gives back: text for methods that return it.
pub type MethodResult = Result<Option<String>, Error>;

/// A method: its signature and the function that runs it.
pub struct Method {
    /// What the checker validates calls against.
    pub signature: Signature,
    /// Runs the method.
    pub run: fn(&mut Invocation<'_>) -> MethodResult,
}

const TIMEOUT: &[OptionSpec] = &[OptionSpec {
    name: "timeout",
    kind: ValueKind::Seconds,
}];

const fn global(
    name: &'static str,
    params: &'static [&'static str],
    summary: &'static str,
) -> Signature {
    Signature {
        name,
        receiver: Receiver::Global,
        params,
        param_kind: ValueKind::Text,
        variadic: false,
        options: &[],
        returns_text: false,
        summary,
    }
}

const fn on_machine(name: &'static str, summary: &'static str) -> Signature {
    Signature {
        receiver: Receiver::Machine,
        ..global(name, &[], summary)
    }
}

const fn command(
    name: &'static str,
    params: &'static [&'static str],
    summary: &'static str,
) -> Signature {
    Signature {
        receiver: Receiver::Machine,
        options: TIMEOUT,
        returns_text: true,
        ..global(name, params, summary)
    }
}

/// Every method a script can call.
pub static METHODS: &[Method] = &[
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
        signature: on_machine("start", "start the machine; it boots in the background"),
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
            options: TIMEOUT,
            ..on_machine("wait_for_shutdown", "wait until QEMU exits on its own")
        },
        run: wait_for_shutdown,
    },
    Method {
        signature: command(
            "execute",
            &["command"],
            "run a command; its status does not matter",
        ),
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
            options: &[],
            ..command(
                "send_monitor_command",
                &["command"],
                "send a QEMU monitor command; returns the answer",
            )
        },
        run: send_monitor_command,
    },
];

/// The signatures of [`METHODS`], for the checker.
pub fn signatures() -> Vec<Signature> {
    METHODS.iter().map(|method| method.signature).collect()
}

/// The method named `name`.
pub fn find(name: &str) -> Option<&'static Method> {
    METHODS.iter().find(|method| method.signature.name == name)
}

fn start_all(call: &mut Invocation<'_>) -> MethodResult {
    call.nested("start all VMs", |call| call.backend.start_all())?;
    Ok(None)
}

fn join_all(call: &mut Invocation<'_>) -> MethodResult {
    call.nested("wait for all VMs to finish", |call| call.backend.join_all())?;
    Ok(None)
}

fn log(call: &mut Invocation<'_>) -> MethodResult {
    call.backend.logger().log(None, call.text(0));
    Ok(None)
}

fn sleep(call: &mut Invocation<'_>) -> MethodResult {
    let Value::Number(seconds) = call.args[0] else {
        unreachable!("the checker ensures a number")
    };
    call.backend
        .cancel()
        .sleep(Duration::from_secs_f64(seconds.max(0.0)))?;
    Ok(None)
}

fn serial_stdout_on(call: &mut Invocation<'_>) -> MethodResult {
    call.backend.logger().set_print_serial(true);
    Ok(None)
}

fn serial_stdout_off(call: &mut Invocation<'_>) -> MethodResult {
    call.backend.logger().set_print_serial(false);
    Ok(None)
}

fn start(call: &mut Invocation<'_>) -> MethodResult {
    call.vm()?.start()?;
    Ok(None)
}

fn shutdown(call: &mut Invocation<'_>) -> MethodResult {
    call.nested("shutting down", |call| call.vm()?.shutdown())?;
    Ok(None)
}

fn crash(call: &mut Invocation<'_>) -> MethodResult {
    call.vm()?.crash()?;
    Ok(None)
}

fn shell_interact(call: &mut Invocation<'_>) -> MethodResult {
    call.vm()?.shell_interact()?;
    Ok(None)
}

fn wait_for_shutdown(call: &mut Invocation<'_>) -> MethodResult {
    let timeout = call.timeout();
    call.nested("waiting for the VM to power off", |call| {
        call.vm()?.wait_for_shutdown(timeout)
    })?;
    Ok(None)
}

fn execute(call: &mut Invocation<'_>) -> MethodResult {
    let command = call.text(0).to_string();
    let timeout = call.timeout();
    let outcome = call.nested(&format!("executing: {}", one_line(&command)), |call| {
        call.vm()?.execute(&command, timeout, None)
    })?;
    call.backend
        .logger()
        .log(call.machine, &format!("(exit status {})", outcome.status));
    Ok(Some(outcome.output))
}

fn succeed(call: &mut Invocation<'_>) -> MethodResult {
    run_each(call, true)
}

fn fail(call: &mut Invocation<'_>) -> MethodResult {
    run_each(call, false)
}

/// `succeed` and `fail`: runs every command, requiring status 0 (or non-zero).
fn run_each(call: &mut Invocation<'_>, want_success: bool) -> MethodResult {
    let timeout = call.timeout();
    let mut all = String::new();
    for command in call.texts() {
        let verb = if want_success {
            "must succeed"
        } else {
            "must fail"
        };
        let machine = call.machine.unwrap_or_default().to_string();
        let output = call.nested(&format!("{verb}: {}", one_line(&command)), |call| {
            let Outcome {
                status,
                output,
                console,
            } = call.vm()?.execute(&command, timeout, None)?;
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

fn wait_until_succeeds(call: &mut Invocation<'_>) -> MethodResult {
    wait_until(call, true)
}

fn wait_until_fails(call: &mut Invocation<'_>) -> MethodResult {
    wait_until(call, false)
}

/// Retries a command until its status is as wanted and its output passes the check.
///
/// Tries come fast at first ([`FIRST_POLL`]) and back off to [`MAX_POLL`], so a
/// condition that is already true costs one round trip and one that becomes true
/// soon is noticed soon. Each try is bounded inside the guest by the time left.
fn wait_until(call: &mut Invocation<'_>, want_success: bool) -> MethodResult {
    let command = call.text(0).to_string();
    let timeout = call.timeout();
    let (header, what) = if want_success {
        ("waiting for success", "success")
    } else {
        ("waiting for failure", "failure")
    };
    call.nested(&format!("{header}: {}", one_line(&command)), |call| {
        let deadline = Deadline::after(timeout);
        let mut pause = FIRST_POLL;
        let last = loop {
            let left = deadline.remaining().max(Duration::from_secs(1));
            let outcome = call
                .vm()?
                .execute(&command, left + GUEST_GRACE, Some(left))?;
            if (outcome.status == 0) == want_success && call.satisfies(&outcome.output)? {
                return Ok(Some(outcome.output));
            }
            if deadline.passed() {
                break outcome;
            }
            call.backend
                .cancel()
                .sleep(pause.min(deadline.remaining()))?;
            pause = (pause * 2).min(MAX_POLL);
        };
        let last = Some(format!("exit status {}\n{}", last.status, last.output));
        Err(Error::Timeout {
            machine: call.machine.unwrap_or_default().to_string(),
            what: format!("{what} of `{}`", one_line(&command)),
            seconds: timeout.as_secs_f64(),
            last,
        })
    })
}

fn wait_for_console_text(call: &mut Invocation<'_>) -> MethodResult {
    let pattern = call.text(0).to_string();
    let regex = Regex::new(&pattern).map_err(|e| Error::InvalidValue {
        message: format!("invalid regex `{pattern}`: {e}"),
    })?;
    let timeout = call.timeout();
    call.nested(
        &format!("waiting for `{pattern}` to appear on the console"),
        |call| {
            let deadline = Deadline::after(timeout);
            loop {
                let line = call
                    .vm()?
                    .wait_for_console_text(&regex, deadline.remaining())?;
                if call.satisfies(&line)? {
                    return Ok(Some(line));
                }
            }
        },
    )
}

fn send_monitor_command(call: &mut Invocation<'_>) -> MethodResult {
    let command = call.text(0).to_string();
    call.backend
        .logger()
        .log(call.machine, &format!("sending monitor command: {command}"));
    let answer = call.vm()?.send_monitor_command(&command)?;
    Ok(Some(answer))
}
