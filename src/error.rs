//! The program's one error type: everything that can stop it, from a bad option to a
//! dead QEMU.
//!
//! Errors before anything boots come typed from their layer ([`UsageError`] from the
//! command line, [`SetupError`] from the checks that touch the system) and are printed
//! by `main.rs`; errors while a run goes are logged (terminal and XML) by `run.rs` and
//! `report.rs`. [`Error::status`] is the one place that maps an error to the exit
//! status, keeping "the test failed" apart from "the environment failed".
//!
//! Each runtime variant names the machine and the command involved and carries what
//! was seen (output, exit status, QEMU's own message, the last serial lines), so that
//! a failure can be understood from the message alone.

use crate::cli::UsageError;
use crate::exit::Status;
use crate::sanitize::terminal_safe;
use crate::setup::SetupError;
use std::fmt;
use std::io;

/// A failure while running a script.
#[derive(Debug)]
pub enum Error {
    /// An operating-system call failed.
    Io {
        /// What was being done, e.g. "creating `/tmp/x`".
        context: String,
        /// The underlying error.
        source: io::Error,
    },
    /// Bad command-line usage.
    Usage(UsageError),
    /// The start scripts, the test script or an output file cannot be used.
    Setup(SetupError),
    /// The test script has errors (already rendered with their source lines).
    ScriptRejected {
        /// The script file.
        file: String,
        /// How many errors were found.
        count: usize,
    },
    /// `convert` found a construct it cannot say in `.cmds` (already shown).
    NotConverted {
        /// The script file.
        file: String,
    },
    /// A `succeed` command exited non-zero.
    CommandFailed {
        /// The machine.
        machine: String,
        /// The shell command.
        command: String,
        /// Its exit status.
        status: i32,
        /// Its standard output.
        output: String,
        /// Serial console lines printed while it ran (its stderr).
        console: Vec<String>,
    },
    /// A `fail` command exited zero.
    CommandSucceeded {
        /// The machine.
        machine: String,
        /// The shell command.
        command: String,
        /// Its standard output.
        output: String,
    },
    /// An output check (`=~`, `==`, `contains`, …) did not hold.
    CheckFailed {
        /// The machine, if the call had one.
        machine: Option<String>,
        /// The call, e.g. "succeed `echo hi`".
        call: String,
        /// The check as written, e.g. `=~ "hel+o"`.
        check: String,
        /// The output that was checked.
        output: String,
    },
    /// A command's output was damaged on the console and could not be fetched again.
    OutputLost {
        /// The machine.
        machine: String,
        /// The shell command.
        command: String,
        /// What was lost, and what was tried.
        message: String,
    },
    /// A wait ran out of time.
    Timeout {
        /// The machine.
        machine: String,
        /// What was awaited, e.g. "success of `test -e /x`".
        what: String,
        /// The timeout, in seconds.
        seconds: f64,
        /// What the last attempt saw, if anything.
        last: Option<String>,
    },
    /// QEMU exited when it should be running.
    MachineDied {
        /// The machine.
        machine: String,
        /// What the driver was doing.
        during: String,
        /// QEMU's exit status, as text.
        status: String,
        /// What QEMU (or the start script) wrote on stderr.
        stderr: String,
        /// The last serial lines.
        serial_tail: Vec<String>,
    },
    /// The guest kernel panicked.
    GuestPanic {
        /// The machine.
        machine: String,
        /// What the driver was doing.
        during: String,
        /// The panic line.
        line: String,
        /// The last serial lines.
        serial_tail: Vec<String>,
    },
    /// The guest's root shell never answered.
    NoBackdoor {
        /// The machine.
        machine: String,
        /// How long the driver waited, in seconds.
        seconds: f64,
        /// What QEMU wrote on stderr so far (warnings often explain a hang).
        stderr: String,
        /// The last serial lines.
        serial_tail: Vec<String>,
    },
    /// The machine's shell cannot be used any more (an earlier command timed out and
    /// may still be running in the guest).
    ShellUnusable {
        /// The machine.
        machine: String,
        /// Why.
        reason: String,
    },
    /// A machine or its QEMU could not be started or talked to.
    Machine {
        /// The machine.
        machine: String,
        /// What went wrong.
        message: String,
    },
    /// A step that needs a running machine found it stopped.
    NotRunning {
        /// The machine.
        machine: String,
        /// The step.
        what: String,
    },
    /// A vlan switch could not be started.
    Vlan {
        /// The vlan number.
        vlan: u32,
        /// What went wrong.
        message: String,
    },
    /// Something the test asserted about the guest does not hold (a unit failed,
    /// a unit is in the wrong state).
    Assertion {
        /// The machine.
        machine: String,
        /// What does not hold.
        message: String,
    },
    /// A script's `assert` (or a check of a value) does not hold.
    AssertFailed {
        /// The assert's message, if it has one.
        message: Option<String>,
        /// For a comparison: the operator and both sides, as Python's `repr` shows them.
        comparison: Option<(String, String, String)>,
    },
    /// A `retry` block still failed when its time ran out.
    RetryGaveUp {
        /// Its timeout, in seconds.
        seconds: f64,
        /// How many times the block ran.
        attempts: usize,
        /// The last failure.
        last: Box<Error>,
    },
    /// A polling condition did not hold: checked before a machine method inside
    /// `with`, or through the whole of a `.wait`.
    PollingConditionFailed {
        /// Its name.
        name: String,
        /// What it checks (shown when it differs from the name).
        description: String,
        /// For `.wait`: how long it waited, in seconds.
        waited: Option<f64>,
        /// The step of its check that failed; `None` when the check returned a
        /// false value.
        failure: Option<Box<Error>>,
    },
    /// A value built at run time (an interpolated regex) is invalid.
    InvalidValue {
        /// What is wrong.
        message: String,
    },
    /// A file could not be copied between the host and a guest (the shared
    /// directory is not mounted in the guest, a source is missing, a copy failed).
    Copy {
        /// The machine.
        machine: String,
        /// The copy, e.g. "copy_from_host `a` to `/b`".
        what: String,
        /// Why it failed.
        message: String,
    },
    /// A signal stopped the run.
    Interrupted {
        /// The signal number.
        signal: i32,
    },
    /// The global timeout ran out.
    GlobalTimeout {
        /// The global timeout, in seconds.
        seconds: f64,
    },
    // Screen, keyboard and OCR.
    /// A program a method needs on the host is not on `PATH`.
    MissingProgram {
        /// The machine the method was called on.
        machine: String,
        /// The program, e.g. `tesseract`.
        program: String,
        /// The Debian package that installs it.
        package: String,
        /// What it is needed for.
        purpose: String,
    },
    // Reports made from the log.
    /// `vmtest-min report` made no page.
    Report(crate::html_report::ReportError),
    /// The JUnit report (`--junit-xml`) could not be written when the run ended.
    Junit {
        /// The report.
        path: std::path::PathBuf,
        /// Why.
        source: io::Error,
    },
}

impl Error {
    /// An [`Error::Io`] with context.
    pub fn io(context: impl Into<String>, source: io::Error) -> Error {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// The exit status this error ends the program with.
    pub fn status(&self) -> Status {
        match self {
            Error::Usage(_)
            | Error::Setup(_)
            | Error::ScriptRejected { .. }
            | Error::NotConverted { .. }
            | Error::Report(_) => Status::Usage,
            Error::CommandFailed { .. }
            | Error::CommandSucceeded { .. }
            | Error::CheckFailed { .. }
            | Error::Timeout { .. }
            | Error::NotRunning { .. }
            | Error::ShellUnusable { .. }
            | Error::Assertion { .. }
            | Error::AssertFailed { .. }
            | Error::RetryGaveUp { .. }
            | Error::Copy { .. }
            | Error::InvalidValue { .. } => Status::TestFailed,
            Error::Io { .. }
            | Error::MachineDied { .. }
            | Error::GuestPanic { .. }
            | Error::NoBackdoor { .. }
            | Error::Machine { .. }
            | Error::OutputLost { .. }
            | Error::Vlan { .. }
            | Error::MissingProgram { .. }
            | Error::Junit { .. } => Status::Environment,
            Error::PollingConditionFailed { failure, .. } => failure
                .as_ref()
                .map_or(Status::TestFailed, |failure| failure.status()),
            Error::Interrupted { signal } => Status::Signal(*signal),
            Error::GlobalTimeout { .. } => Status::GlobalTimeout,
        }
    }

    /// The machine the error concerns, if one.
    pub fn machine(&self) -> Option<&str> {
        match self {
            Error::CommandFailed { machine, .. }
            | Error::CommandSucceeded { machine, .. }
            | Error::Timeout { machine, .. }
            | Error::MachineDied { machine, .. }
            | Error::GuestPanic { machine, .. }
            | Error::NoBackdoor { machine, .. }
            | Error::ShellUnusable { machine, .. }
            | Error::Assertion { machine, .. }
            | Error::Machine { machine, .. }
            | Error::OutputLost { machine, .. }
            | Error::Copy { machine, .. }
            | Error::NotRunning { machine, .. }
            | Error::MissingProgram { machine, .. } => Some(machine),
            Error::CheckFailed { machine, .. } => machine.as_deref(),
            Error::RetryGaveUp { last, .. } => last.machine(),
            Error::PollingConditionFailed {
                failure: Some(failure),
                ..
            } => failure.machine(),
            _ => None,
        }
    }

    /// The lines that follow the headline: output, stderr, serial tail.
    pub fn details(&self) -> Vec<String> {
        let mut lines = Vec::new();
        match self {
            Error::CommandFailed {
                output, console, ..
            } => {
                push_block(&mut lines, "output", output);
                if !console.is_empty() {
                    lines.push("console while it ran (stderr goes there):".to_string());
                    lines.extend(console.iter().map(|l| format!("  {}", terminal_safe(l))));
                }
            }
            Error::CommandSucceeded { output, .. } | Error::CheckFailed { output, .. } => {
                push_block(&mut lines, "output", output)
            }
            Error::Timeout {
                last: Some(last), ..
            } => push_block(&mut lines, "last output", last),
            Error::MachineDied {
                stderr,
                serial_tail,
                ..
            } => {
                push_block(&mut lines, "qemu stderr", stderr);
                push_tail(&mut lines, serial_tail);
            }
            Error::NoBackdoor {
                stderr,
                serial_tail,
                ..
            } => {
                if !stderr.is_empty() {
                    push_block(&mut lines, "qemu stderr", stderr);
                }
                push_tail(&mut lines, serial_tail);
            }
            Error::GuestPanic { serial_tail, .. } => push_tail(&mut lines, serial_tail),
            Error::AssertFailed {
                comparison: Some((_, left, right)),
                ..
            } => {
                lines.push(format!("left:  {}", terminal_safe(left)));
                lines.push(format!("right: {}", terminal_safe(right)));
            }
            Error::RetryGaveUp { last, .. } => lines.extend(last.details()),
            Error::PollingConditionFailed {
                failure: Some(failure),
                ..
            } => lines.extend(failure.details()),
            _ => {}
        }
        lines
    }
}

const MAX_DETAIL_LINES: usize = 40;

fn push_block(lines: &mut Vec<String>, title: &str, text: &str) {
    if text.is_empty() {
        lines.push(format!("{title}: (empty)"));
        return;
    }
    let all: Vec<&str> = text.lines().collect();
    let skipped = all.len().saturating_sub(MAX_DETAIL_LINES);
    lines.push(format!("{title}:"));
    if skipped > 0 {
        lines.push(format!("  … ({skipped} earlier lines)"));
    }
    for line in &all[skipped..] {
        lines.push(format!("  {}", terminal_safe(line)));
    }
}

fn push_tail(lines: &mut Vec<String>, tail: &[String]) {
    if tail.is_empty() {
        lines.push("serial console: (nothing printed)".to_string());
        return;
    }
    lines.push(format!("last {} serial lines:", tail.len()));
    for line in tail {
        lines.push(format!("  {}", terminal_safe(line)));
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { context, source } => write!(f, "{context}: {source}"),
            Error::Usage(error) => write!(f, "{error}"),
            Error::Setup(error) => write!(f, "{error}"),
            Error::Report(error) => write!(f, "{error}"),
            Error::Junit { path, source } => write!(
                f,
                "cannot write the JUnit report `{}`: {source}",
                path.display()
            ),
            Error::NotConverted { file } => write!(f, "`{file}` was not converted"),
            Error::ScriptRejected { file, count } => write!(
                f,
                "{count} error{} in `{file}`; nothing was started",
                if *count == 1 { "" } else { "s" }
            ),
            Error::CommandFailed {
                machine,
                command,
                status,
                ..
            } => write!(
                f,
                "{machine}: command `{}` failed (exit status {status})",
                one_line(command)
            ),
            Error::CommandSucceeded {
                machine, command, ..
            } => write!(
                f,
                "{machine}: command `{}` unexpectedly succeeded",
                one_line(command)
            ),
            Error::CheckFailed {
                machine,
                call,
                check,
                ..
            } => match machine {
                Some(machine) => write!(f, "{machine}: output of {call} does not satisfy {check}"),
                None => write!(f, "output of {call} does not satisfy {check}"),
            },
            Error::Timeout {
                machine,
                what,
                seconds,
                ..
            } => write!(
                f,
                "{machine}: timed out after {seconds} s waiting for {what}"
            ),
            Error::MachineDied {
                machine,
                during,
                status,
                ..
            } => write!(f, "{machine}: QEMU exited ({status}) while {during}"),
            Error::GuestPanic {
                machine,
                during,
                line,
                ..
            } => write!(
                f,
                "{machine}: the guest kernel panicked while {during}: {}",
                terminal_safe(line.trim())
            ),
            Error::NoBackdoor {
                machine, seconds, ..
            } => write!(
                f,
                "{machine}: the guest's root shell did not connect within {seconds} s \
                 (is the backdoor service running in the guest?)"
            ),
            Error::ShellUnusable { machine, reason } => write!(f, "{machine}: {reason}"),
            Error::OutputLost {
                machine,
                command,
                message,
            } => write!(
                f,
                "{machine}: the output of command `{}` was damaged in transit: {message}",
                one_line(command)
            ),
            Error::Assertion { machine, message } => write!(f, "{machine}: {message}"),
            Error::Machine { machine, message } => write!(f, "{machine}: {message}"),
            Error::Copy {
                machine,
                what,
                message,
            } => write!(f, "{machine}: {what} failed: {message}"),
            Error::NotRunning { machine, what } => {
                write!(f, "{machine}: cannot {what}: the machine is not running")
            }
            Error::Vlan { vlan, message } => write!(f, "vlan {vlan}: {message}"),
            Error::InvalidValue { message } => write!(f, "{message}"),
            Error::AssertFailed {
                message,
                comparison,
            } => match (message, comparison) {
                (Some(message), _) => write!(f, "assertion failed: {}", terminal_safe(message)),
                (None, Some((op, _, _))) => write!(f, "assertion failed: `{op}` does not hold"),
                (None, None) => write!(f, "assertion failed"),
            },
            Error::RetryGaveUp {
                seconds,
                attempts,
                last,
            } => write!(
                f,
                "retry gave up after {seconds} s ({attempts} attempts); last failure: {last}"
            ),
            Error::PollingConditionFailed {
                name,
                description,
                waited,
                failure,
            } => {
                write!(f, "polling condition `{name}`")?;
                if description != name {
                    write!(f, " ({})", terminal_safe(description))?;
                }
                match waited {
                    Some(seconds) => write!(f, " did not hold within {seconds} s")?,
                    None => write!(f, " failed")?,
                }
                match failure {
                    Some(failure) => write!(f, ": {failure}"),
                    None => write!(f, ": its check returned a false value"),
                }
            }
            Error::Interrupted { signal } => write!(f, "interrupted by {}", signal_name(*signal)),
            Error::GlobalTimeout { seconds } => {
                write!(f, "global timeout of {seconds} s reached; test terminating")
            }
            Error::MissingProgram {
                machine,
                program,
                package,
                purpose,
            } => write!(
                f,
                "{machine}: `{program}` is not on PATH; {purpose} needs it \
                 (Debian package `{package}`)"
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } | Error::Junit { source, .. } => Some(source),
            // Transparent: their message is this error's message.
            Error::Usage(error) => error.source(),
            Error::Setup(error) => error.source(),
            Error::Report(error) => error.source(),
            _ => None,
        }
    }
}

impl From<UsageError> for Error {
    fn from(error: UsageError) -> Error {
        Error::Usage(error)
    }
}

impl From<SetupError> for Error {
    fn from(error: SetupError) -> Error {
        Error::Setup(error)
    }
}

/// A command shown on one line: the first line, with `…` if there are more.
pub(crate) fn one_line(command: &str) -> String {
    let trimmed = command.trim_end_matches('\n');
    match trimmed.split_once('\n') {
        Some((first, _)) => format!("{}…", terminal_safe(first)),
        None => terminal_safe(trimmed),
    }
}

/// The usual name of a signal number.
pub(crate) fn signal_name(signal: i32) -> String {
    match signal {
        libc::SIGINT => "SIGINT".to_string(),
        libc::SIGTERM => "SIGTERM".to_string(),
        libc::SIGHUP => "SIGHUP".to_string(),
        libc::SIGKILL => "SIGKILL".to_string(),
        libc::SIGABRT => "SIGABRT".to_string(),
        libc::SIGSEGV => "SIGSEGV".to_string(),
        other => format!("signal {other}"),
    }
}

// Machine API review: one constructor for a bad regex given at run time.
impl Error {
    /// `pattern`, given at run time, is not a regex (the checker reports
    /// literal ones before anything boots).
    pub(crate) fn invalid_regex(pattern: &str, error: &regex_lite::Error) -> Error {
        Error::InvalidValue {
            message: format!("invalid regex `{pattern}`: {error}"),
        }
    }
}
