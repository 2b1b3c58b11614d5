//! Terminal colours, decided once per run and passed down.
//!
//! The environment's say (`NO_COLOR`, `TERM=dumb`) is taken in `cli.rs`, which turns
//! `auto` into `never`; what is left here is whether stderr is a terminal.

use std::io::IsTerminal;

/// The `--color` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ColorChoice {
    /// Colour when stderr is a terminal (and, as `cli.rs` sees to, `NO_COLOR` is
    /// unset or empty and `TERM` is not `dumb`).
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

impl ColorChoice {
    /// Parses `auto`, `always` or `never`.
    pub(crate) fn parse(value: &str) -> Option<ColorChoice> {
        match value {
            "auto" => Some(ColorChoice::Auto),
            "always" => Some(ColorChoice::Always),
            "never" => Some(ColorChoice::Never),
            _ => None,
        }
    }

    /// Whether to colour stderr.
    pub(crate) fn resolve(self) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => std::io::stderr().is_terminal(),
        }
    }
}

/// ANSI styles, or nothing when colour is off.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Palette {
    on: bool,
}

impl Palette {
    /// A palette that colours only when `on`.
    pub(crate) fn new(on: bool) -> Palette {
        Palette { on }
    }

    fn wrap(&self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    /// Dim text (serial lines).
    pub(crate) fn dim(&self, text: &str) -> String {
        self.wrap("2", text)
    }

    /// Bold green text (nest headers, success).
    pub(crate) fn green(&self, text: &str) -> String {
        self.wrap("1;32", text)
    }

    /// Bold red text (errors, and the carets under a script location).
    pub(crate) fn red(&self, text: &str) -> String {
        self.wrap("1;31", text)
    }

    /// Bold blue text (`-->`, the gutter and line numbers of a script location).
    pub(crate) fn blue(&self, text: &str) -> String {
        self.wrap("1;34", text)
    }

    /// Bold text.
    pub(crate) fn bold(&self, text: &str) -> String {
        self.wrap("1", text)
    }

    /// Whether colour is on.
    pub(crate) fn enabled(&self) -> bool {
        self.on
    }
}
