//! The method table: every command a script can call, with its signature and the
//! function that runs it.
//!
//! Adding a method is one [`Method`] entry in [`METHODS`] plus one function in the
//! submodule it belongs to: `basic` (lifecycle, commands, monitor), `waits`
//! (retrying and console waits) or `units` (systemd). The checker reads only the
//! signatures (see [`signatures`]); the interpreter evaluates the arguments and
//! calls `run` with an [`Invocation`].

mod basic;
mod units;
mod waits;

use crate::backend::{Backend, Vm};
use crate::error::Error;
use crate::script::signature::{OptionSpec, Receiver, Signature, ValueKind, lookup};
use basic::*;
use std::time::Duration;
use units::*;
use waits::*;

/// The default timeout of commands and waits, in seconds (as in the NixOS driver).
pub(crate) const DEFAULT_TIMEOUT: f64 = 900.0;
/// Extra host-side time given to a command bounded in the guest, so that the
/// guest's own timeout fires first and the shell stays usable.
const GUEST_GRACE: Duration = Duration::from_secs(10);

/// An evaluated argument or option value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    /// A string, variables already substituted.
    Text(String),
    /// A number.
    Number(f64),
}

/// A statement's output check, as a predicate on the output.
pub(crate) type Condition<'a> = &'a dyn Fn(&str) -> Result<bool, Error>;

/// One call being run.
pub(crate) struct Invocation<'a> {
    /// The machines and services.
    pub backend: &'a mut dyn Backend,
    /// The machine the method is called on (resolved), for machine methods.
    pub machine: Option<&'a str>,
    /// Positional arguments, evaluated.
    pub args: Vec<Value>,
    /// Options, evaluated, each with the spec it was given for.
    pub options: Vec<(&'static OptionSpec, Value)>,
    /// The statement's output check, which waits fold into their condition.
    pub condition: Option<Condition<'a>>,
    /// The exit status of the one command a method ran, for methods whose
    /// signature has `returns_status` (`rc, out = m.execute …`); they set it.
    pub status: Option<i32>,
}

impl Invocation<'_> {
    pub(crate) fn vm(&mut self) -> Result<&mut dyn Vm, Error> {
        let name = self
            .machine
            .expect("the checker ensures machine methods have a machine");
        self.backend.vm(name)
    }

    pub(crate) fn text(&self, index: usize) -> &str {
        match &self.args[index] {
            Value::Text(text) => text,
            Value::Number(_) => unreachable!("the checker ensures text arguments"),
        }
    }

    pub(crate) fn texts(&self) -> Vec<String> {
        (0..self.args.len())
            .map(|i| self.text(i).to_string())
            .collect()
    }

    /// Positional argument `index`, a number (the checker ensures it).
    pub(crate) fn number(&self, index: usize) -> f64 {
        match self.args[index] {
            Value::Number(number) => number,
            Value::Text(_) => unreachable!("the checker ensures number arguments"),
        }
    }

    /// The value of the option `spec`, if given.
    fn option(&self, spec: &OptionSpec) -> Option<&Value> {
        self.options
            .iter()
            .find(|(given, _)| given.name == spec.name)
            .map(|(_, value)| value)
    }

    /// The text option `spec`, if given.
    pub(crate) fn text_option(&self, spec: &OptionSpec) -> Option<&str> {
        match self.option(spec) {
            Some(Value::Text(text)) => Some(text),
            _ => None,
        }
    }

    /// The seconds option `spec`, or `default`.
    fn seconds(&self, spec: &OptionSpec, default: f64) -> Duration {
        let seconds = match self.option(spec) {
            Some(Value::Number(seconds)) => *seconds,
            _ => default,
        };
        crate::cancel::seconds(seconds)
    }

    /// The host and guest limits of a plain command: with `timeout=` the command
    /// is also bounded inside the guest (it is killed there, the shell stays
    /// usable, and `fail` sees a non-zero status, as in the NixOS driver); without,
    /// only the host waits at most [`DEFAULT_TIMEOUT`].
    pub(crate) fn command_limits(&self) -> (Duration, Option<Duration>) {
        let given = self.option(&TIMEOUT).is_some();
        let timeout = self.timeout();
        match given {
            true => (timeout.saturating_add(GUEST_GRACE), Some(timeout)),
            false => (timeout, None),
        }
    }

    pub(crate) fn timeout(&self) -> Duration {
        self.seconds(&TIMEOUT, DEFAULT_TIMEOUT)
    }

    pub(crate) fn satisfies(&self, output: &str) -> Result<bool, Error> {
        match self.condition {
            Some(condition) => condition(output),
            None => Ok(true),
        }
    }

    /// Runs `body` inside a log nest headed `message`.
    pub(crate) fn nested<T>(
        &mut self,
        message: &str,
        body: impl FnOnce(&mut Self) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let logger = self.backend.logger();
        logger.nest(self.machine, message, || body(self))
    }
}

/// What running a method gives back: text for methods that return it.
pub(crate) type MethodResult = Result<Option<String>, Error>;

/// A method: its signature and the function that runs it.
pub(crate) struct Method {
    /// What the checker validates calls against.
    pub signature: Signature,
    /// Runs the method.
    pub run: fn(&mut Invocation<'_>) -> MethodResult,
}

/// `timeout=seconds`: how long a command or wait may take.
pub(crate) const TIMEOUT: OptionSpec = OptionSpec {
    name: "timeout",
    kind: ValueKind::Seconds,
};

/// `addr=host`: where a port wait connects (default `localhost`).
pub(crate) const ADDR: OptionSpec = OptionSpec {
    name: "addr",
    kind: ValueKind::Text,
};

/// `state=…`: the unit state `require_unit_state` wants (default `active`).
pub(crate) const STATE: OptionSpec = OptionSpec {
    name: "state",
    kind: ValueKind::Text,
};

/// `user=name`: run `systemctl --user` as that user, as the NixOS driver does.
pub(crate) const USER: OptionSpec = OptionSpec {
    name: "user",
    kind: ValueKind::Text,
};

const TIMEOUT_ONLY: &[OptionSpec] = &[TIMEOUT];
/// The systemd methods' options, in the NixOS driver's parameter order.
const UNIT_OPTIONS: &[OptionSpec] = &[USER, TIMEOUT];
const PORT_OPTIONS: &[OptionSpec] = &[ADDR, TIMEOUT];
const STATE_OPTIONS: &[OptionSpec] = &[STATE, USER, TIMEOUT];

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
        positional_options: false,
        returns_text: false,
        returns_status: false,
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
        options: TIMEOUT_ONLY,
        returns_text: true,
        ..on_machine(name, summary)
    }
    .with_params(params)
}

/// Every method a script can call.
pub(crate) static METHODS: &[Method] = &[
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
    Method {
        signature: Signature {
            options: UNIT_OPTIONS,
            positional_options: true,
            returns_text: false,
            ..command(
                "wait_for_unit",
                &["unit"],
                "wait until a systemd unit is active; fail at once if it failed",
            )
        },
        run: wait_for_unit,
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
    Method {
        signature: Signature {
            options: UNIT_OPTIONS,
            positional_options: true,
            ..command(
                "systemctl",
                &["arguments"],
                "run `systemctl ARGUMENTS`, whatever its status; returns its output",
            )
        },
        run: systemctl,
    },
    Method {
        signature: Signature {
            options: UNIT_OPTIONS,
            positional_options: true,
            ..command(
                "start_job",
                &["unit"],
                "`systemctl start UNIT`, which must succeed",
            )
        },
        run: start_job,
    },
    Method {
        signature: Signature {
            options: UNIT_OPTIONS,
            positional_options: true,
            ..command(
                "stop_job",
                &["unit"],
                "`systemctl stop UNIT`, which must succeed",
            )
        },
        run: stop_job,
    },
    Method {
        signature: Signature {
            options: UNIT_OPTIONS,
            positional_options: true,
            ..command(
                "get_unit_property",
                &["unit", "property"],
                "the value of one property of a unit",
            )
        },
        run: get_unit_property,
    },
    Method {
        signature: Signature {
            options: STATE_OPTIONS,
            positional_options: true,
            returns_text: false,
            ..command(
                "require_unit_state",
                &["unit"],
                "fail unless a unit is in a state (state=active)",
            )
        },
        run: require_unit_state,
    },
];

/// The signatures of [`METHODS`], for the checker.
pub(crate) fn signatures() -> Vec<Signature> {
    METHODS.iter().map(|method| method.signature).collect()
}

/// The method a call of `name` on `receiver` means (see `signature::lookup`).
pub(crate) fn find(name: &str, receiver: Receiver) -> Option<&'static Method> {
    lookup(METHODS, |method| &method.signature, name, receiver)
}
