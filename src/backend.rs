//! The narrow interface between the interpreter and the machines.
//!
//! The interpreter and the method table reach QEMU only through these traits, so
//! that script semantics can be tested against a fake, and so that nothing in the
//! script layer touches a socket or a process.

use crate::cancel::Cancel;
use crate::command::{Outcome, Request};
use crate::error::Error;
use crate::logger::Logger;
use regex_lite::Regex;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// One machine, as the methods see it.
pub(crate) trait Vm {
    /// Starts QEMU (no-op if running).
    fn start(&mut self) -> Result<(), Error>;
    /// Runs a request in the guest (waits for the backdoor first), waiting at most
    /// `timeout` for its answer.
    fn run(&mut self, request: Request<'_>, timeout: Duration) -> Result<Outcome, Error>;
    /// Runs `command` once in the guest; `limit` also bounds it inside the guest.
    fn execute(
        &mut self,
        command: &str,
        timeout: Duration,
        limit: Option<Duration>,
    ) -> Result<Outcome, Error> {
        self.run(Request::Once { command, limit }, timeout)
    }
    /// Powers the guest off and waits for QEMU to exit.
    fn shutdown(&mut self) -> Result<(), Error>;
    /// Quits QEMU at once and waits for it to exit.
    fn crash(&mut self) -> Result<(), Error>;
    /// Waits for QEMU to exit on its own.
    fn wait_for_shutdown(&mut self, timeout: Duration) -> Result<(), Error>;
    /// Waits for a serial line matching `regex`.
    fn wait_for_console_text(&mut self, regex: &Regex, timeout: Duration) -> Result<String, Error>;
    /// Sends a QEMU monitor command and returns the answer.
    fn send_monitor_command(&mut self, command: &str) -> Result<String, Error>;
    /// Connects (`up`) or disconnects the guest's first vlan interface.
    fn set_link(&mut self, up: bool) -> Result<(), Error>;
    /// Puts the guest's root shell on the terminal until end of input.
    fn shell_interact(&mut self) -> Result<(), Error>;

    // Files, power, network and the console log (methods/files.rs, power.rs,
    // network.rs, logs.rs).
    /// The host side of the directory shared with the guest (`/tmp/shared` there).
    fn shared_dir(&self) -> &Path;
    /// Starts QEMU (no-op if running); `reboot` says what a guest reboot does.
    fn start_with(&mut self, reboot: OnReboot) -> Result<(), Error>;
    /// Presses ctrl-alt-delete; the next step waits for the rebooted guest's shell.
    fn reboot(&mut self) -> Result<(), Error>;
    /// Forwards TCP port `host_port` on the host's loopback to `guest_port` of
    /// the guest's user-mode network.
    fn forward_port(&mut self, host_port: u16, guest_port: u16) -> Result<(), Error>;
    /// The serial console lines of the running QEMU, or of the last one (the last
    /// `serial::MAX_LINES`); none before the first start.
    fn console_log(&self) -> Vec<String>;
}

/// What a guest reboot does to QEMU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnReboot {
    /// QEMU exits (`-no-reboot`, the NixOS driver's default): a guest that
    /// reboots by mistake ends the run's view of it at once.
    Exit,
    /// QEMU resets the guest, which boots again (`start(allow_reboot=True)`).
    Reset,
}

/// All machines plus the run-wide services the methods need.
pub(crate) trait Backend {
    /// The machine named `name` (already resolved by the checker).
    fn vm(&mut self, name: &str) -> Result<&mut dyn Vm, Error>;
    /// Starts every machine.
    fn start_all(&mut self) -> Result<(), Error>;
    /// Waits for every machine to shut down.
    fn join_all(&mut self) -> Result<(), Error>;
    /// The run's log.
    fn logger(&self) -> Arc<Logger>;
    /// The run's cancellation state.
    fn cancel(&self) -> &Cancel;
    /// Where the run keeps what it copies out of guests (`-o`, else the
    /// current directory, as the NixOS driver).
    fn output_dir(&self) -> &Path;
}
