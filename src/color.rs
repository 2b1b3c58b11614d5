//! Terminal colours, decided once per run and passed down.

use std::io::IsTerminal;

/// The `--color` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorChoice {
    /// Colour when stderr is a terminal, `NO_COLOR` is unset or empty and `TERM` is not `dumb`.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

impl ColorChoice {
    /// Parses `auto`, `always` or `never`.
    pub fn parse(value: &str) -> Option<ColorChoice> {
        match value {
            "auto" => Some(ColorChoice::Auto),
            "always" => Some(ColorChoice::Always),
            "never" => Some(ColorChoice::Never),
            _ => None,
        }
    }

    /// Whether to colour stderr, given the environment.
    pub fn resolve(self) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
                let dumb = std::env::var_os("TERM").is_some_and(|t| t == "dumb");
                !no_color && !dumb && std::io::stderr().is_terminal()
            }
        }
    }
}

/// ANSI styles, or nothing when colour is off.
#[derive(Debug, Clone, Copy)]
pub struct Palette {
    on: bool,
}

impl Palette {
    /// A palette that colours only when `on`.
    pub fn new(on: bool) -> Palette {
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
    pub fn dim(&self, text: &str) -> String {
        self.wrap("2", text)
    }

    /// Bold green text (nest headers, success).
    pub fn green(&self, text: &str) -> String {
        self.wrap("1;32", text)
    }

    /// Bold red text (errors, and the carets under a script location).
    pub fn red(&self, text: &str) -> String {
        self.wrap("1;31", text)
    }

    /// Bold blue text (`-->`, the gutter and line numbers of a script location).
    pub fn blue(&self, text: &str) -> String {
        self.wrap("1;34", text)
    }

    /// Bold text.
    pub fn bold(&self, text: &str) -> String {
        self.wrap("1", text)
    }

    /// Whether colour is on.
    pub fn enabled(&self) -> bool {
        self.on
    }
}
