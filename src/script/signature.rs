//! What a method or command accepts: the data the checker validates calls against.
//!
//! The runtime table (`crate::methods`) pairs each signature with the function that
//! runs it; the checker only needs this half, so it never depends on the runtime.

use crate::script::value::Kind;

/// Whether a method is called on a machine or on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Receiver {
    /// `start_all`, `log "…"`: no `machine.` in front.
    Global,
    /// `machine.succeed …`: needs a machine in front.
    Machine,
}

/// The highest virtual console number Linux has (`ValueKind::Tty`).
pub(crate) const MAX_TTY: i64 = 63;

/// The kind of value a positional argument or an option takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ValueKind {
    /// Any text (a shell command, a message, a monitor command).
    Text,
    /// A regular expression (checked with regex-lite before anything boots).
    Regex,
    /// A non-negative number of seconds.
    Seconds,
    /// A TCP port: a whole number from 1 to 65535.
    Port,
    /// `True` or `False` (`true`/`false` in `.cmds`).
    Bool,
    /// Text typed on the keyboard: every character one a US keyboard types
    /// (see `keys::typed_key`).
    Keys,
    /// A virtual console number: a whole number from 1 to 63.
    Tty,
}

/// An option a method accepts, such as `timeout=60`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OptionSpec {
    /// Its name.
    pub name: &'static str,
    /// The kind of value it takes.
    pub kind: ValueKind,
}

/// The shape of a method's call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Signature {
    /// The method's name as written in scripts.
    pub name: &'static str,
    /// Global command or machine method.
    pub receiver: Receiver,
    /// The positional arguments' names (for messages and help), in order.
    pub params: &'static [&'static str],
    /// The kind of every positional argument.
    pub param_kind: ValueKind,
    /// Whether the last parameter repeats (`succeed "a" "b" …`); then at least one is needed.
    pub variadic: bool,
    /// The options it accepts.
    pub options: &'static [OptionSpec],
    /// Whether the options may also be given positionally, after the parameters and
    /// in their order, as the NixOS driver's keyword parameters can
    /// (`m.wait_for_unit("x", "alice")` is `user="alice"`).
    pub positional_options: bool,
    /// Whether it returns text, so that it can be captured and checked.
    pub returns_text: bool,
    /// Whether it runs one command whose exit status `rc, out = …` can capture.
    pub returns_status: bool,
    /// The kind of value it gives instead of its text (a list, a JSON object, a
    /// machine), for methods that return text; output checks still see the text.
    pub returns: Option<Kind>,
    /// One line for `help` and the man page.
    pub summary: &'static str,
    /// The kinds of the first positional arguments, where they differ from
    /// `param_kind` (`wait_until_tty_matches 1 "login:"`: a number, then a regex);
    /// empty for most methods.
    pub param_kinds: &'static [ValueKind],
}

impl Signature {
    /// The same signature with other positional parameters.
    pub(crate) const fn with_params(self, params: &'static [&'static str]) -> Signature {
        Signature { params, ..self }
    }

    /// The kind of positional argument `index`.
    pub(crate) fn kind_of(&self, index: usize) -> ValueKind {
        self.param_kinds
            .get(index)
            .copied()
            .unwrap_or(self.param_kind)
    }

    /// The smallest number of positional arguments a call needs.
    pub(crate) fn min_args(&self) -> usize {
        self.params.len()
    }

    /// The largest number of positional arguments a call takes (`None`: no limit).
    pub(crate) fn max_args(&self) -> Option<usize> {
        if self.variadic {
            None
        } else if self.positional_options {
            Some(self.params.len() + self.options.len())
        } else {
            Some(self.params.len())
        }
    }

    /// The option positional argument `index` gives, if it is past the parameters
    /// of a method that takes options positionally.
    pub(crate) fn positional_option(&self, index: usize) -> Option<&OptionSpec> {
        match self.positional_options {
            true => self.options.get(index.checked_sub(self.params.len())?),
            false => None,
        }
    }

    /// The option named `name`, if the method takes it.
    pub(crate) fn option(&self, name: &str) -> Option<&OptionSpec> {
        self.options.iter().find(|option| option.name == name)
    }
}

/// The entry of `items` (method-table rows, or bare signatures) a call of `name`
/// means on `receiver`: the one for that receiver, else any of that name, so that
/// callers can say "must be called on a machine". The checker and the interpreter
/// both look methods up here, so they cannot disagree (`sleep` exists both ways).
pub(crate) fn lookup<'t, T: 't>(
    items: impl IntoIterator<Item = &'t T> + Clone,
    signature: impl Fn(&T) -> &Signature,
    name: &str,
    receiver: Receiver,
) -> Option<&'t T> {
    let named = || {
        items
            .clone()
            .into_iter()
            .filter(|item| signature(item).name == name)
    };
    named()
        .find(|item| signature(item).receiver == receiver)
        .or_else(|| named().next())
}
