//! The process exit statuses, in one place (listed under EXIT STATUS in the man page).
//!
//! [`Status`] is how a run ended; `main.rs` turns it into the standard library's
//! `ExitCode`, which it returns. Nothing else exits the process.

/// How the program ended, as the shell sees it: one variant per exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The test script passed (or help, version or `check` succeeded).
    Passed,
    /// A test step failed: a command's status or output was not what the script asked.
    TestFailed,
    /// Bad usage, a bad script or a bad setup (start scripts, log file): nothing was
    /// booted.
    Usage,
    /// The environment failed, not the test: QEMU could not start or died, a guest
    /// panicked or never connected, `vde_switch` is missing.
    Environment,
    /// The global timeout (`--global-timeout`) ran out.
    GlobalTimeout,
    /// The run was stopped by signal N (SIGINT, SIGTERM, SIGHUP).
    Signal(i32),
}

impl Status {
    /// The number handed to the operating system: 0 to 4, or 128+N for signal N.
    pub fn code(self) -> u8 {
        match self {
            Status::Passed => 0,
            Status::TestFailed => 1,
            Status::Usage => 2,
            Status::Environment => 3,
            Status::GlobalTimeout => 4,
            // Signals the driver handles are small numbers; anything else still reads
            // as "killed by a signal".
            Status::Signal(signal) => u8::try_from(128 + signal).unwrap_or(u8::MAX),
        }
    }
}

impl From<Status> for std::process::ExitCode {
    fn from(status: Status) -> std::process::ExitCode {
        std::process::ExitCode::from(status.code())
    }
}

#[cfg(test)]
mod tests {
    use super::Status;

    #[test]
    fn exit_codes_are_the_documented_ones() {
        let codes = [
            Status::Passed,
            Status::TestFailed,
            Status::Usage,
            Status::Environment,
            Status::GlobalTimeout,
            Status::Signal(libc::SIGINT),
            Status::Signal(libc::SIGTERM),
        ]
        .map(Status::code);
        assert_eq!(codes, [0, 1, 2, 3, 4, 130, 143]);
    }
}
