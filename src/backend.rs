//! The narrow interface between the interpreter and the machines.
//!
//! The interpreter and the method table reach QEMU only through these traits, so
//! that script semantics can be tested against a fake, and so that nothing in the
//! script layer touches a socket or a process.

use crate::cancel::Cancel;
use crate::command::{Outcome, Request};
use crate::error::Error;
use crate::json::Json;
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

    // QMP.
    /// Waits for a QMP event whose name the regex `pattern` matches whole (events
    /// before it are dropped) and returns it.
    fn wait_for_qmp_event(&mut self, pattern: &str, timeout: Duration) -> Result<Json, Error>;
    /// Sends a QMP command (`arguments`: an object) and returns its result.
    fn qmp_command(&mut self, command: &str, arguments: Option<Json>) -> Result<Json, Error>;
    // Screen, keyboard and serial console input.
    /// The screen as QEMU's `screendump` writes it: a binary PPM.
    fn screendump(&mut self) -> Result<Vec<u8>, Error>;
    /// Presses and releases one key, by its QEMU `sendkey` name.
    fn send_key(&mut self, key: &str) -> Result<(), Error>;
    /// Writes `bytes` to the guest's serial console input.
    fn send_console(&mut self, bytes: &[u8]) -> Result<(), Error>;
    /// A private directory for the machine's temporary files (its state
    /// directory, removed with the run unless `-K` keeps it).
    fn scratch_dir(&self) -> &Path;

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

    // Machines and vlans as values; machines created by the script.
    /// Every machine's name, in order, those `create_machine` added last.
    fn machine_names(&self) -> Vec<String>;
    /// The vlan numbers.
    fn vlans(&self) -> Vec<u32>;
    /// Adds a stopped machine that `command` (a program and its arguments)
    /// starts, named `name`; returns the name.
    fn create_machine(&mut self, command: Vec<String>, name: &str) -> Result<String, Error>;

    // Timeout scale (`--timeout-scale`).
    /// The factor every command, wait and `retry` timeout is multiplied by.
    fn timeout_scale(&self) -> f64 {
        1.0
    }
    /// Where the run's kept files go (screenshots): `-o`, else the current
    /// directory.
    fn output_dir(&self) -> &Path;
}
