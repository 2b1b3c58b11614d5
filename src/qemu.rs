//! One QEMU process as the driver sees it: the child (its process group), the
//! serial reader on its stdout, the file its stderr goes to, and the checks that
//! every wait on a machine makes between slices.
//!
//! QEMU's stdin is a pipe the driver keeps: with `-serial stdio` it is the
//! serial console's input (`send_console`), written without blocking so that a
//! guest that does not read cannot stall the driver.
//!
//! The checks, in [`Qemu::watch`]: a signal or the global timeout, QEMU having
//! exited (quoting its status, its stderr and the last serial lines), and, where a
//! guest is expected to answer, a kernel panic on the console. A dead or panicked
//! machine thus fails the step at once instead of waiting out a timeout.

use crate::cancel::{Cancel, Deadline};
use crate::error::Error;
use crate::logger::Logger;
use crate::process::{self, Group};
use crate::serial::{Console, SerialReader};
use crate::socket::Stop;
use std::fs;
use std::io::{ErrorKind, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::process::{ChildStdin, Command, ExitStatus};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long QEMU may take to connect to the monitor and shell sockets.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(120);
/// Serial lines quoted in error messages.
pub(crate) const TAIL_LINES: usize = 20;
/// Lines of QEMU's stderr quoted in error messages.
const STDERR_LINES: usize = 40;

/// `input` set to non-blocking writes (left blocking if that fails: writes then
/// block while QEMU does not read, as a plain pipe does).
fn non_blocking(input: ChildStdin) -> ChildStdin {
    let fd = input.as_raw_fd();
    // SAFETY: `fd` is the open descriptor `input` owns for as long as this runs;
    // F_GETFL and F_SETFL only read and set its status flags.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags >= 0 {
            libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK);
        }
    }
    input
}

/// A running QEMU (or whatever the start script runs).
pub(crate) struct Qemu {
    name: String,
    group: Group,
    serial: SerialReader,
    /// The serial console's input, if the start script's stdin is a pipe.
    console_input: Option<ChildStdin>,
    stderr_path: PathBuf,
    cancel: Cancel,
}

impl Qemu {
    /// Spawns `command` (stdout piped, stderr to `stderr_path`) in its own process
    /// group and starts reading its serial console.
    pub(crate) fn spawn(
        name: &str,
        command: &mut Command,
        stderr_path: PathBuf,
        logger: Arc<Logger>,
        cancel: Cancel,
    ) -> Result<Qemu, Error> {
        let mut group = Group::spawn(command).map_err(|e| Error::Machine {
            machine: name.to_string(),
            message: format!(
                "cannot run start script `{}`: {e}",
                command.get_program().to_string_lossy()
            ),
        })?;
        let Some(stdout) = group.take_stdout() else {
            return Err(Error::Machine {
                machine: name.to_string(),
                message: "the start script's stdout (the serial console) is not a pipe".to_string(),
            });
        };
        let console_input = group.take_stdin().map(non_blocking);
        match SerialReader::spawn(name, stdout, logger) {
            Ok(serial) => Ok(Qemu {
                name: name.to_string(),
                group,
                serial,
                console_input,
                stderr_path,
                cancel,
            }),
            Err(error) => {
                drop(group);
                let _ = fs::remove_file(&stderr_path);
                Err(error)
            }
        }
    }

    /// The process id (and process group id).
    pub(crate) fn pid(&self) -> u32 {
        self.group.id()
    }

    /// The serial console.
    pub(crate) fn console(&self) -> &Console {
        self.serial.console()
    }

    /// QEMU's exit status, if it has exited.
    pub(crate) fn exited(&mut self) -> Option<ExitStatus> {
        self.group.exited()
    }

    /// The last lines QEMU (or the start script) wrote on stderr.
    pub(crate) fn stderr(&self) -> String {
        let text = fs::read(&self.stderr_path).unwrap_or_default();
        let text = String::from_utf8_lossy(&text);
        let lines: Vec<&str> = text.lines().collect();
        let skip = lines.len().saturating_sub(STDERR_LINES);
        lines[skip..].join("\n")
    }

    /// Fails if a signal arrived, QEMU exited, or (when `panics`) the guest panicked.
    pub(crate) fn watch(&mut self, panics: bool, during: &str) -> Result<(), Error> {
        self.cancel.check()?;
        if let Some(status) = self.exited() {
            // Let the reader drain QEMU's last words before quoting them.
            let until = Instant::now() + Duration::from_millis(500);
            while !self.console().closed() && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(5));
            }
            return Err(Error::MachineDied {
                machine: self.name.clone(),
                during: during.to_string(),
                status: process::describe(&status),
                stderr: self.stderr(),
                serial_tail: self.console().tail(TAIL_LINES),
            });
        }
        if panics && let Some(line) = self.console().panic_line() {
            // Give the kernel a moment to print the rest of its panic message.
            std::thread::sleep(Duration::from_millis(200));
            return Err(Error::GuestPanic {
                machine: self.name.clone(),
                during: during.to_string(),
                line,
                serial_tail: self.console().tail(TAIL_LINES),
            });
        }
        Ok(())
    }

    /// [`Qemu::watch`] while QEMU starts: a start script that returned with
    /// status 0 and left QEMU running in the background is told so.
    pub(crate) fn watch_start(&mut self, during: &str) -> Result<(), Error> {
        let forked = self.exited().is_some_and(|status| status.success())
            && self.group.leader_gone_others_running();
        if forked {
            return self.watch(
                false,
                &format!(
                    "{during}; the start script returned and left QEMU in the background: \
                     it must run QEMU in the foreground (`exec qemu-system-x86_64 ... \"$@\"`)"
                ),
            );
        }
        self.watch(false, during)
    }

    /// Turns a socket operation that stopped early into the error to report: the
    /// one place where a [`Stop`] becomes an [`Error`].
    pub(crate) fn stop_error(&mut self, stop: Stop, during: &str) -> Error {
        match stop {
            Stop::Watch(error) => *error,
            Stop::TimedOut => Error::Machine {
                machine: self.name.clone(),
                message: format!("timed out {during}"),
            },
            Stop::Damaged(message) => Error::Machine {
                machine: self.name.clone(),
                message: format!("{message} while {during}"),
            },
            Stop::Restarted => Error::Machine {
                machine: self.name.clone(),
                message: format!("the guest's root shell restarted while {during}"),
            },
            Stop::Closed => {
                // A socket usually closes because QEMU is exiting: give it a moment.
                let until = Instant::now() + Duration::from_secs(2);
                while Instant::now() < until {
                    if let Err(error) = self.watch(true, during) {
                        return error;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                Error::Machine {
                    machine: self.name.clone(),
                    message: format!("the connection to QEMU closed while {during}"),
                }
            }
        }
    }

    /// Writes `bytes` to the serial console's input (QEMU's stdin), waiting at
    /// most `timeout` for QEMU to take them.
    pub(crate) fn send_console(&mut self, bytes: &[u8], timeout: Duration) -> Result<(), Error> {
        let deadline = Deadline::after(timeout);
        let mut rest = bytes;
        while !rest.is_empty() {
            let Some(input) = self.console_input.as_mut() else {
                return Err(Error::Machine {
                    machine: self.name.clone(),
                    message: "the serial console's input (QEMU's stdin) is closed".to_string(),
                });
            };
            match input.write(rest) {
                Ok(count) => rest = &rest[count..],
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    self.watch(false, "writing to the serial console")?;
                    if deadline.passed() {
                        return Err(Error::Timeout {
                            machine: self.name.clone(),
                            what: format!(
                                "QEMU to take {} more bytes of serial console input \
                                 (is the guest reading its serial port?)",
                                rest.len()
                            ),
                            seconds: timeout.as_secs_f64(),
                            last: None,
                        });
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    self.watch(false, "writing to the serial console")?;
                    self.console_input = None;
                    return Err(Error::io(
                        format!("{}: writing to the serial console", self.name),
                        e,
                    ));
                }
            }
        }
        Ok(())
    }

    /// Accepts QEMU's connections to the monitor and shell sockets.
    pub(crate) fn accept(
        &mut self,
        monitor: &UnixListener,
        shell: &UnixListener,
    ) -> Result<(UnixStream, UnixStream), Error> {
        let deadline = Deadline::after(CONNECT_TIMEOUT);
        let accept_one = |listener: &UnixListener| listener.accept().ok().map(|(s, _)| s);
        let mut monitor_stream = None;
        let mut shell_stream = None;
        loop {
            if monitor_stream.is_none() {
                monitor_stream = accept_one(monitor);
            }
            if shell_stream.is_none() {
                shell_stream = accept_one(shell);
            }
            match (monitor_stream.take(), shell_stream.take()) {
                (Some(monitor), Some(shell)) => {
                    for stream in [&monitor, &shell] {
                        stream
                            .set_nonblocking(false)
                            .map_err(|e| Error::io(format!("{}: socket setup", self.name), e))?;
                    }
                    return Ok((monitor, shell));
                }
                (monitor, shell) => (monitor_stream, shell_stream) = (monitor, shell),
            }
            self.watch_start("waiting for QEMU to connect to its sockets")?;
            if deadline.passed() {
                return Err(Error::Machine {
                    machine: self.name.clone(),
                    message: format!(
                        "QEMU did not connect to the {} socket within {} s (does the start \
                         script pass its arguments on to QEMU with \"$@\"?)",
                        if monitor_stream.is_none() {
                            "monitor"
                        } else {
                            "shell"
                        },
                        CONNECT_TIMEOUT.as_secs()
                    ),
                });
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Ends the process group (SIGTERM, then SIGKILL), joins the serial reader and
    /// removes the stderr file; returns what QEMU wrote on stderr and its console.
    pub(crate) fn end(mut self) -> (String, Console) {
        self.group.terminate();
        self.serial.join();
        let stderr = self.stderr();
        let _ = fs::remove_file(&self.stderr_path);
        (stderr, self.serial.console().clone())
    }
}
