//! One virtual machine: its start script, QEMU process, sockets and serial console.
//!
//! Lifecycle, following the NixOS start-script contract: the driver creates the state
//! directory, listens on `<state>/monitor` and `<state>/shell`, runs the start script
//! (as an argv, never through `sh -c`) with QEMU's extra arguments appended, accepts
//! QEMU's two connections, drains the monitor greeting and returns: the guest boots
//! on its own. The first step that needs the guest's shell waits for the backdoor
//! handshake. Every wait also watches for QEMU exiting and for a guest kernel panic,
//! and fails at once with QEMU's status, its stderr and the last serial lines.
//!
//! A [`Machine`] owns its QEMU process group: dropping it (or [`Machine::kill`]) ends
//! the group, joins the serial reader and removes the sockets.

use crate::cancel::{Cancel, Deadline};
use crate::error::Error;
use crate::logger::{Logger, Outcome as LogOutcome};
use crate::monitor::Monitor;
use crate::process;
use crate::qemu::{Qemu, TAIL_LINES};
use crate::serial::{Console, WaitEnd};
use crate::shell::{Outcome, ReadEnd, Shell};
use regex_lite::Regex;
use std::fs::{self, File};
use std::io::ErrorKind;
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a monitor command may take.
pub const MONITOR_TIMEOUT: Duration = Duration::from_secs(60);
/// How long `shutdown` and `crash` wait for QEMU to exit.
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(300);
/// Longest unix socket path (sun_path is 108 bytes with the final NUL).
const MAX_SOCKET_PATH: usize = 107;

/// Everything needed to start a machine.
#[derive(Debug, Clone)]
pub struct MachineConfig {
    /// The machine's name (from `run-<name>-vm`).
    pub name: String,
    /// The start script.
    pub start_script: PathBuf,
    /// `vm-state-<name>`: QEMU's cwd and TMPDIR, home of the sockets.
    pub state_dir: PathBuf,
    /// `shared-xchg`, shared by all machines (`/tmp/shared` in the guest).
    pub shared_dir: PathBuf,
    /// Extra environment for the start script (`QEMU_VDE_SOCKET_<n>`).
    pub env: Vec<(String, String)>,
    /// Keep the state directory from earlier runs (`--keep-vm-state`).
    pub keep_state: bool,
    /// How long the guest may take to boot to its root shell.
    pub connect_timeout: Duration,
}

/// A machine of the test, running or not.
pub struct Machine {
    config: MachineConfig,
    logger: Arc<Logger>,
    cancel: Cancel,
    running: Option<Running>,
    /// The console of the last run, kept after QEMU exits for console waits.
    last_console: Option<Console>,
    state_prepared: bool,
}

struct Running {
    qemu: Qemu,
    monitor: Monitor,
    /// The shell socket, until the handshake turns it into `shell`.
    pending_shell: Option<UnixStream>,
    shell: Option<Shell>,
}

impl Machine {
    /// A stopped machine.
    pub fn new(config: MachineConfig, logger: Arc<Logger>, cancel: Cancel) -> Machine {
        Machine {
            config,
            logger,
            cancel,
            running: None,
            last_console: None,
            state_prepared: false,
        }
    }

    /// The machine's name.
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// Whether QEMU is running.
    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    /// Whether the guest's root shell is connected.
    pub fn is_connected(&self) -> bool {
        self.running.as_ref().is_some_and(|r| r.shell.is_some())
    }

    fn log(&self, message: &str) {
        self.logger.log(Some(&self.config.name), message);
    }

    /// Starts QEMU and returns once it runs; the guest boots in the background.
    pub fn start(&mut self) -> Result<(), Error> {
        if self.running.is_some() {
            return Ok(());
        }
        self.log("starting vm");
        self.prepare_state_dir()?;
        let state = &self.config.state_dir;
        let monitor_path = state.join("monitor");
        let shell_path = state.join("shell");
        let monitor_listener = self.listen(&monitor_path)?;
        let shell_listener = self.listen(&shell_path)?;
        let stderr_path = state.join("qemu-stderr.log");
        let stderr = File::create(&stderr_path)
            .map_err(|e| Error::io(format!("creating `{}`", stderr_path.display()), e))?;
        let mut command = Command::new(&self.config.start_script);
        command
            .args(qemu_args(&monitor_path, &shell_path, display_available()))
            .current_dir(state)
            .env("TMPDIR", state)
            .env("USE_TMPDIR", "1")
            .env("SHARED_DIR", &self.config.shared_dir)
            .envs(self.config.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr);
        let mut qemu = Qemu::spawn(
            &self.config.name,
            &mut command,
            stderr_path,
            self.logger.clone(),
            self.cancel,
        )?;
        let connected = qemu.accept(&monitor_listener, &shell_listener);
        let _ = fs::remove_file(&monitor_path);
        let _ = fs::remove_file(&shell_path);
        let (monitor_stream, shell_stream) = match connected {
            Ok(streams) => streams,
            Err(error) => {
                qemu.end();
                return Err(error);
            }
        };
        let deadline = Deadline::after(MONITOR_TIMEOUT);
        let greeted = Monitor::connect(monitor_stream, deadline, &mut || {
            qemu.watch(false, "starting")
        });
        let monitor = match greeted {
            Ok(monitor) => monitor,
            Err(end) => {
                let error = qemu.read_end_error(end, "waiting for the monitor greeting");
                qemu.end();
                return Err(error);
            }
        };
        let pid = qemu.pid();
        self.running = Some(Running {
            qemu,
            monitor,
            pending_shell: Some(shell_stream),
            shell: None,
        });
        self.last_console = None;
        self.log(&format!("QEMU running (pid {pid})"));
        Ok(())
    }

    fn prepare_state_dir(&mut self) -> Result<(), Error> {
        let state = &self.config.state_dir;
        if !self.state_prepared && !self.config.keep_state && state.exists() {
            self.log(&format!("deleting VM state directory {}", state.display()));
            fs::remove_dir_all(state)
                .map_err(|e| Error::io(format!("removing `{}`", state.display()), e))?;
        }
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(state)
            .map_err(|e| Error::io(format!("creating `{}`", state.display()), e))?;
        self.state_prepared = true;
        Ok(())
    }

    fn listen(&self, path: &Path) -> Result<UnixListener, Error> {
        let length = path.as_os_str().len();
        if length > MAX_SOCKET_PATH {
            return Err(Error::Machine {
                machine: self.config.name.clone(),
                message: format!(
                    "socket path `{}` is {length} bytes, over the {MAX_SOCKET_PATH}-byte limit \
                     of unix sockets; set TMPDIR to a shorter directory",
                    path.display()
                ),
            });
        }
        match fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(format!("removing `{}`", path.display()), e)),
        }
        let listener = UnixListener::bind(path)
            .map_err(|e| Error::io(format!("listening on `{}`", path.display()), e))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| Error::io(format!("setting up `{}`", path.display()), e))?;
        Ok(listener)
    }

    /// Waits until the guest's root shell is connected.
    pub fn connect(&mut self) -> Result<(), Error> {
        if self.is_connected() {
            return Ok(());
        }
        self.start()?;
        self.logger.open_nest(
            Some(&self.config.name),
            "waiting for the VM to finish booting",
        );
        let result = self.handshake();
        self.logger.close_nest(match result {
            Ok(()) => LogOutcome::Finished,
            Err(_) => LogOutcome::Failed,
        });
        result
    }

    fn handshake(&mut self) -> Result<(), Error> {
        let started = Instant::now();
        let name = self.config.name.as_str();
        let running = self.running.as_mut().expect("started above");
        let stream = running
            .pending_shell
            .take()
            .expect("a started machine has a shell socket");
        let during = "waiting for the guest's root shell";
        let connect_timeout = self.config.connect_timeout;
        let qemu = &mut running.qemu;
        let result = Shell::handshake(stream, Deadline::after(connect_timeout), &mut || {
            qemu.watch(true, during)
        });
        match result {
            Ok(shell) => {
                running.shell = Some(shell);
                self.log(&format!(
                    "connected to guest root shell (after {:.2} seconds)",
                    started.elapsed().as_secs_f64()
                ));
                Ok(())
            }
            Err(ReadEnd::TimedOut) => Err(Error::NoBackdoor {
                machine: name.to_string(),
                seconds: connect_timeout.as_secs_f64(),
                stderr: running.qemu.stderr(),
                serial_tail: running.qemu.console().tail(TAIL_LINES),
            }),
            Err(end) => Err(running.qemu.read_end_error(end, during)),
        }
    }

    /// Runs `command` in the guest, waiting at most `timeout` for its answer;
    /// `guest_timeout` also bounds it inside the guest.
    pub fn execute(
        &mut self,
        command: &str,
        timeout: Duration,
        guest_timeout: Option<Duration>,
    ) -> Result<Outcome, Error> {
        self.connect()?;
        let running = self.running.as_mut().expect("connected");
        if let Some(reason) = running.shell.as_ref().and_then(Shell::unusable) {
            return Err(Error::ShellUnusable {
                machine: self.config.name.clone(),
                reason: reason.to_string(),
            });
        }
        let deadline = Deadline::after(timeout);
        let during = format!("running `{}`", crate::error::one_line(command));
        let name = self.config.name.as_str();
        let console_before = running.qemu.console().total();
        let result = running.on_shell(true, &during, |shell, watch| {
            shell.run(command, guest_timeout, deadline, watch)
        });
        match result {
            Ok(mut outcome) => {
                // stderr reaches the console a moment after stdout reaches us.
                std::thread::sleep(Duration::from_millis(if outcome.status == 0 {
                    0
                } else {
                    20
                }));
                outcome.console = running.qemu.console().since(console_before, TAIL_LINES);
                Ok(outcome)
            }
            Err(ReadEnd::TimedOut) => Err(Error::Timeout {
                machine: name.to_string(),
                what: format!("command `{}` to finish", crate::error::one_line(command)),
                seconds: timeout.as_secs_f64(),
                last: None,
            }),
            Err(end) => Err(running.qemu.read_end_error(end, &during)),
        }
    }

    /// Sends a command to the QEMU monitor and returns the answer.
    pub fn send_monitor_command(&mut self, command: &str) -> Result<String, Error> {
        let name = self.config.name.clone();
        let Some(running) = self.running.as_mut() else {
            return Err(Error::NotRunning {
                machine: name,
                what: format!("send monitor command `{command}`"),
            });
        };
        let during = format!("sending monitor command `{command}`");
        let deadline = Deadline::after(MONITOR_TIMEOUT);
        let Running { qemu, monitor, .. } = &mut *running;
        let result = monitor.command(command, deadline, &mut || qemu.watch(false, &during));
        match result {
            Ok(answer) => Ok(answer),
            Err(ReadEnd::TimedOut) => Err(Error::Timeout {
                machine: name,
                what: format!("an answer to monitor command `{command}`"),
                seconds: MONITOR_TIMEOUT.as_secs_f64(),
                last: None,
            }),
            Err(end) => Err(running.qemu.read_end_error(end, &during)),
        }
    }

    /// Powers the guest off through its root shell and waits for QEMU to exit.
    pub fn shutdown(&mut self) -> Result<(), Error> {
        let Some(running) = self.running.as_mut() else {
            return Ok(());
        };
        if let Some(status) = running.qemu.exited() {
            let message = format!("QEMU had already exited ({})", process::describe(&status));
            self.finish_run();
            self.log(&message);
            return Ok(());
        }
        self.connect()?;
        let running = self.running.as_mut().expect("connected");
        if running.shell.as_ref().and_then(Shell::unusable).is_some() {
            self.log("the guest shell is busy: asking for an ACPI power-off instead");
            self.send_monitor_command("system_powerdown")?;
            return self.wait_for_shutdown(SHUTDOWN_TIMEOUT);
        }
        let during = "sending `poweroff`";
        let result = running.on_shell(false, during, |shell, watch| {
            shell.send_poweroff(Deadline::after(MONITOR_TIMEOUT), watch)
        });
        if let Err(end) = result {
            return Err(running.qemu.read_end_error(end, during));
        }
        self.wait_for_shutdown(SHUTDOWN_TIMEOUT)
    }

    /// Makes QEMU quit at once (the monitor's `quit`) and waits for it to exit.
    pub fn crash(&mut self) -> Result<(), Error> {
        let Some(running) = self.running.as_mut() else {
            return Ok(());
        };
        self.logger.log(Some(&self.config.name), "forced crash");
        let _ = running.monitor.quit();
        self.wait_for_shutdown(SHUTDOWN_TIMEOUT)
    }

    /// Waits until QEMU exits on its own.
    pub fn wait_for_shutdown(&mut self, timeout: Duration) -> Result<(), Error> {
        let Some(running) = self.running.as_mut() else {
            return Ok(());
        };
        let deadline = Deadline::after(timeout);
        loop {
            if let Some(status) = running.qemu.exited() {
                let message = format!("QEMU exited ({})", process::describe(&status));
                self.finish_run();
                self.log(&message);
                return Ok(());
            }
            self.cancel.check()?;
            if deadline.passed() {
                return Err(Error::Timeout {
                    machine: self.config.name.clone(),
                    what: "the machine to power off".to_string(),
                    seconds: timeout.as_secs_f64(),
                    last: None,
                });
            }
            std::thread::sleep(Duration::from_millis(10).min(deadline.slice()));
        }
    }

    /// Waits for a serial line matching `regex` and returns it.
    pub fn wait_for_console_text(
        &mut self,
        regex: &Regex,
        timeout: Duration,
    ) -> Result<String, Error> {
        let console = match (&self.running, &self.last_console) {
            (Some(running), _) => running.qemu.console().clone(),
            (None, Some(console)) => console.clone(),
            (None, None) => {
                return Err(Error::NotRunning {
                    machine: self.config.name.clone(),
                    what: format!("wait for console text `{regex}`"),
                });
            }
        };
        match console.wait_for(regex, Deadline::after(timeout), &self.cancel)? {
            Ok(line) => Ok(line),
            Err(WaitEnd::TimedOut) => Err(Error::Timeout {
                machine: self.config.name.clone(),
                what: format!("`{regex}` to appear on the console"),
                seconds: timeout.as_secs_f64(),
                last: Some(console.tail(TAIL_LINES).join("\n")),
            }),
            Err(WaitEnd::Closed) => Err(Error::Machine {
                machine: self.config.name.clone(),
                message: format!("QEMU exited before `{regex}` appeared on the console"),
            }),
        }
    }

    /// Puts the guest's root shell on the terminal until end of input, then checks
    /// that the shell still answers framed commands.
    pub fn shell_interact(&mut self) -> Result<(), Error> {
        self.connect()?;
        self.log("terminal is ready (there is no prompt); end with Ctrl-D");
        {
            let running = self.running.as_ref().expect("connected");
            let stream = running.shell.as_ref().expect("connected").stream();
            crate::interact::shell_session(stream, &self.cancel)?;
        }
        // Whatever the session left unread is read and dropped with this command's output.
        self.execute("true", MONITOR_TIMEOUT, None)?;
        self.log("shell session ended");
        Ok(())
    }

    /// Ends QEMU's process group now (SIGTERM, then SIGKILL), if it runs.
    pub fn kill(&mut self) {
        if let Some(running) = self.running.as_ref() {
            let pid = running.qemu.pid();
            self.logger.log(
                Some(&self.config.name),
                &format!("kill machine (pid {pid})"),
            );
            self.finish_run();
        }
    }

    /// Ends what is left of QEMU's group, joins the reader and logs QEMU's stderr
    /// (but its own note that we terminated it).
    fn finish_run(&mut self) {
        let Some(running) = self.running.take() else {
            return;
        };
        let (stderr, console) = running.qemu.end();
        let ours = |line: &str| line.contains("terminating on signal");
        for line in stderr.lines().filter(|l| !l.trim().is_empty() && !ours(l)) {
            self.logger
                .log(Some(&self.config.name), &format!("qemu: {line}"));
        }
        self.last_console = Some(console);
    }
}

impl Drop for Machine {
    fn drop(&mut self) {
        self.kill();
    }
}

impl Running {
    /// Runs `f` on the connected shell, with a watch over this machine (QEMU
    /// exiting, a signal, and, when `panics`, a guest kernel panic).
    fn on_shell<T>(
        &mut self,
        panics: bool,
        during: &str,
        f: impl FnOnce(&mut Shell, &mut dyn FnMut() -> Result<(), Error>) -> Result<T, ReadEnd>,
    ) -> Result<T, ReadEnd> {
        let Running { qemu, shell, .. } = self;
        let shell = shell.as_mut().expect("connected");
        f(shell, &mut || qemu.watch(panics, during))
    }
}

/// The arguments the driver appends to every start script.
pub fn qemu_args(monitor: &Path, shell: &Path, display: bool) -> Vec<String> {
    let mut args = vec![
        "-monitor".to_string(),
        format!("unix:{}", monitor.display()),
        "-chardev".to_string(),
        format!("socket,id=shell,path={}", shell.display()),
        "-device".to_string(),
        "virtio-serial".to_string(),
        "-device".to_string(),
        "virtconsole,chardev=shell".to_string(),
        "-device".to_string(),
        "virtio-rng-pci".to_string(),
        "-serial".to_string(),
        "stdio".to_string(),
        "-no-reboot".to_string(),
    ];
    if !display {
        args.push("-nographic".to_string());
    }
    args
}

fn display_available() -> bool {
    ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|var| std::env::var_os(var).is_some_and(|v| !v.is_empty()))
}

impl crate::backend::Vm for Machine {
    fn name(&self) -> &str {
        Machine::name(self)
    }

    fn start(&mut self) -> Result<(), Error> {
        Machine::start(self)
    }

    fn execute(
        &mut self,
        command: &str,
        timeout: Duration,
        guest_timeout: Option<Duration>,
    ) -> Result<Outcome, Error> {
        Machine::execute(self, command, timeout, guest_timeout)
    }

    fn shutdown(&mut self) -> Result<(), Error> {
        Machine::shutdown(self)
    }

    fn crash(&mut self) -> Result<(), Error> {
        Machine::crash(self)
    }

    fn wait_for_shutdown(&mut self, timeout: Duration) -> Result<(), Error> {
        Machine::wait_for_shutdown(self, timeout)
    }

    fn wait_for_console_text(&mut self, regex: &Regex, timeout: Duration) -> Result<String, Error> {
        Machine::wait_for_console_text(self, regex, timeout)
    }

    fn send_monitor_command(&mut self, command: &str) -> Result<String, Error> {
        Machine::send_monitor_command(self, command)
    }

    fn shell_interact(&mut self) -> Result<(), Error> {
        Machine::shell_interact(self)
    }
}
