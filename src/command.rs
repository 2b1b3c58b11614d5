//! Guest commands as the layers above the shell see them: what to run, what came
//! back, and how to quote text for the guest's shell.

use std::time::Duration;

/// One command for the guest's root shell.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Request<'a> {
    /// Run `command` once; `limit` bounds it inside the guest too.
    Once {
        /// The shell command.
        command: &'a str,
        /// A guest-side time limit.
        limit: Option<Duration>,
    },
    /// Retry `command` in the guest every 50 ms until its status passes `stop` or
    /// `limit` runs out; one round trip for the whole wait.
    Until {
        /// The shell command.
        command: &'a str,
        /// The status that ends the tries.
        stop: Status,
        /// How long the guest keeps trying.
        limit: Duration,
        /// How long the wait has run already (later tries pause longer).
        waited: Duration,
    },
}

/// A test of an exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    /// The status is this one.
    Is(i32),
    /// The status is anything but this one.
    IsNot(i32),
}

impl Status {
    /// Success: status 0.
    pub(crate) const SUCCESS: Status = Status::Is(0);
    /// Failure: any status but 0.
    pub(crate) const FAILURE: Status = Status::IsNot(0);

    /// Whether `status` passes the test.
    pub(crate) fn holds(self, status: i32) -> bool {
        match self {
            Status::Is(wanted) => status == wanted,
            Status::IsNot(unwanted) => status != unwanted,
        }
    }
}

impl Request<'_> {
    /// The shell command.
    pub(crate) fn command(&self) -> &str {
        match self {
            Request::Once { command, .. } | Request::Until { command, .. } => command,
        }
    }
}

/// The result of one command in the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Outcome {
    /// The exit status (128+N when killed by signal N, as bash reports it).
    pub status: i32,
    /// Everything the command wrote on stdout (invalid UTF-8 replaced).
    pub output: String,
    /// Serial console lines printed while it ran (its stderr goes there), the last
    /// [`crate::qemu::TAIL_LINES`] at most.
    pub console: Vec<String>,
}

/// Quotes `text` as one single-quoted shell word.
pub(crate) fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn quote_handles_single_quotes() {
        assert_eq!(super::quote("it's"), r"'it'\''s'");
    }
}
