//! The process exit codes, in one place (listed under EXIT STATUS in the man page).

/// How a run ended, as the shell sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// The test script passed.
    Passed,
    /// A test step failed: a command's status or output was not what the script asked.
    TestFailed,
    /// Bad usage or a bad script: nothing was booted.
    Usage,
    /// The environment failed, not the test: QEMU could not start or died, a guest
    /// panicked or never connected, `vde_switch` is missing.
    Environment,
    /// The global timeout (`--global-timeout`) ran out.
    GlobalTimeout,
    /// The run was stopped by signal N (SIGINT, SIGTERM, SIGHUP).
    Signal(i32),
}

impl ExitCode {
    /// The number handed to the operating system.
    pub fn code(self) -> i32 {
        match self {
            ExitCode::Passed => 0,
            ExitCode::TestFailed => 1,
            ExitCode::Usage => 2,
            ExitCode::Environment => 3,
            ExitCode::GlobalTimeout => 4,
            ExitCode::Signal(signal) => 128 + signal,
        }
    }
}
