//! The method table: every command a script can call, with its signature and the
//! function that runs it.
//!
//! Every submodule owns a `TABLE` of [`Method`] entries beside the functions that
//! run them: `basic` (lifecycle, commands, monitor), `waits` (retrying and console
//! waits) and `units` (systemd). Adding a method is one entry and one function
//! there; adding a module is one more line in [`TABLES`]. The checker reads only the
//! signatures (see [`signatures`]); the interpreter evaluates the arguments and
//! calls `run` with an [`Invocation`].

mod basic;
mod files;
mod logs;
mod network;
mod power;
mod screen;
mod units;
mod waits;
// QMP, X11 and machines added by the script.
mod create;
mod qmp;
mod x11;

use crate::backend::{Backend, Vm};
use crate::error::Error;
use crate::script::signature::{OptionSpec, Receiver, Signature, ValueKind, lookup};
use std::time::Duration;

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
    /// `True` or `False`.
    Bool(bool),
}

/// A statement's output check, as a predicate on the output.
pub(crate) type Condition<'a> = &'a dyn Fn(&str) -> Result<bool, Error>;

/// Checks a wait runs between its rounds (the script's active polling
/// conditions); an error ends the wait with it.
pub(crate) type Between<'a> = &'a mut dyn FnMut(&mut dyn Backend) -> Result<(), Error>;

/// How much of a failed command an error shows (a file chunk sent as a command
/// is tens of kilobytes).
const SHOWN_COMMAND: usize = 1000;

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
    /// The value a method whose signature has `returns` gives instead of its
    /// text (which output checks still see); it sets it.
    pub value: Option<crate::script::value::Value>,
    /// Run between the rounds of a wait, if given (see [`Invocation::between_rounds`]).
    pub between: Option<Between<'a>>,
}

impl Invocation<'_> {
    /// Runs the checks due between two rounds of a wait (the polling conditions
    /// of the script's `with` blocks); a wait that loops on the host calls it
    /// before each new round.
    pub(crate) fn between_rounds(&mut self) -> Result<(), Error> {
        match &mut self.between {
            Some(check) => check(&mut *self.backend),
            None => Ok(()),
        }
    }

    pub(crate) fn vm(&mut self) -> Result<&mut dyn Vm, Error> {
        let name = self
            .machine
            .expect("the checker ensures machine methods have a machine");
        self.backend.vm(name)
    }

    pub(crate) fn text(&self, index: usize) -> &str {
        match &self.args[index] {
            Value::Text(text) => text,
            Value::Number(_) | Value::Bool(_) => {
                unreachable!("the checker ensures text arguments")
            }
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
            Value::Text(_) | Value::Bool(_) => unreachable!("the checker ensures number arguments"),
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

    /// The boolean option `spec`, or `false` when not given.
    pub(crate) fn flag(&self, spec: &OptionSpec) -> bool {
        matches!(self.option(spec), Some(Value::Bool(true)))
    }

    /// The number option `spec`, if given.
    pub(crate) fn number_option(&self, spec: &OptionSpec) -> Option<f64> {
        match self.option(spec) {
            Some(Value::Number(number)) => Some(*number),
            _ => None,
        }
    }

    /// The seconds option `spec`, or `default`.
    fn seconds(&self, spec: &OptionSpec, default: f64) -> Duration {
        let seconds = match self.option(spec) {
            Some(Value::Number(seconds)) => *seconds,
            _ => default,
        };
        self.scaled(seconds)
    }

    /// `seconds`, multiplied by `--timeout-scale`: every timeout a method waits
    /// goes through here.
    pub(crate) fn scaled(&self, seconds: f64) -> Duration {
        crate::cancel::seconds(seconds * self.backend.timeout_scale())
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

    /// The name of the machine the method is called on (empty for global
    /// methods), for errors.
    pub(crate) fn machine_name(&self) -> String {
        self.machine.unwrap_or_default().to_string()
    }

    /// Runs `command` on the machine (host and guest limits as for
    /// `execute`); a non-zero exit status fails the step, showing the command
    /// (its first [`SHOWN_COMMAND`] characters).
    pub(crate) fn succeed_command(
        &mut self,
        command: &str,
        timeout: Duration,
        limit: Option<Duration>,
    ) -> Result<crate::command::Outcome, Error> {
        let outcome = self.vm()?.execute(command, timeout, limit)?;
        if outcome.status == 0 {
            return Ok(outcome);
        }
        let shown = match command.char_indices().nth(SHOWN_COMMAND) {
            Some((end, _)) => format!("{}…", &command[..end]),
            None => command.to_string(),
        };
        Err(Error::CommandFailed {
            machine: self.machine_name(),
            command: shown,
            status: outcome.status,
            output: outcome.output,
            console: outcome.console,
        })
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

pub(super) const TIMEOUT_ONLY: &[OptionSpec] = &[TIMEOUT];
/// The systemd methods' options, in the NixOS driver's parameter order.
pub(super) const UNIT_OPTIONS: &[OptionSpec] = &[USER, TIMEOUT];
pub(super) const PORT_OPTIONS: &[OptionSpec] = &[ADDR, TIMEOUT];
pub(super) const STATE_OPTIONS: &[OptionSpec] = &[STATE, USER, TIMEOUT];

pub(super) const fn global(
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
        returns: None,
        summary,
        param_kinds: &[],
    }
}

pub(super) const fn on_machine(name: &'static str, summary: &'static str) -> Signature {
    Signature {
        receiver: Receiver::Machine,
        ..global(name, &[], summary)
    }
}

pub(super) const fn command(
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

/// The tables of every submodule, in the order `help` lists them.
static TABLES: &[&[Method]] = &[
    basic::TABLE,
    waits::TABLE,
    units::TABLE,
    qmp::TABLE,
    x11::TABLE,
    create::TABLE,
    screen::TABLE,
    files::TABLE,
    power::TABLE,
    network::TABLE,
    logs::TABLE,
];

/// Every method a script can call.
pub(crate) fn all() -> impl Iterator<Item = &'static Method> + Clone {
    TABLES.iter().flat_map(|table| table.iter())
}

/// The signatures of [`METHODS`], for the checker.
pub(crate) fn signatures() -> Vec<Signature> {
    all().map(|method| method.signature).collect()
}

/// The method a call of `name` on `receiver` means (see `signature::lookup`).
pub(crate) fn find(name: &str, receiver: Receiver) -> Option<&'static Method> {
    lookup(all(), |method| &method.signature, name, receiver)
}
