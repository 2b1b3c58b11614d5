//! One virtual machine: its start script, QEMU process, sockets and serial console.
//!
//! Lifecycle, following the NixOS start-script contract: the driver creates the state
//! directory, listens on `<state>/monitor` and `<state>/shell`, runs the start script
//! (as an argv, never through `sh -c`) with QEMU's extra arguments appended, accepts
//! QEMU's two connections, drains the monitor greeting, connects to the QMP socket
//! QEMU listens on (`<state>/qmp`, removed once connected) and returns: the guest
//! boots on its own. The first step that needs the guest's shell waits for the backdoor
//! handshake. Every wait also watches for QEMU exiting and for a guest kernel panic,
//! and fails at once with QEMU's status, its stderr and the last serial lines.
//!
//! A [`Machine`] owns its QEMU process group: dropping it (or [`Machine::kill`]) ends
//! the group, joins the serial reader and removes the sockets.

use crate::backend::{OnReboot, Vm};
use crate::cancel::{Cancel, Deadline};
use crate::command::{Outcome, Request};
use crate::error::{Error, one_line};
use crate::json::Json;
use crate::logger::Logger;
use crate::monitor::Monitor;
use crate::process;
use crate::qemu::{Qemu, TAIL_LINES};
use crate::qmp::{Answer, Qmp};
use crate::serial::{Console, WaitEnd};
use crate::shell::Shell;
use crate::shell::handshake;
use crate::socket::{Stop, Watch};
use regex_lite::Regex;
use std::fs::{self, File};
use std::io::ErrorKind;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a monitor command may take.
pub(crate) const MONITOR_TIMEOUT: Duration = Duration::from_secs(60);
/// How long `shutdown` and `crash` wait for QEMU to exit.
pub(crate) const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(300);
/// Longest unix socket path (sun_path is 108 bytes with the final NUL).
const MAX_SOCKET_PATH: usize = 107;

/// Everything needed to start a machine.
#[derive(Debug, Clone)]
pub(crate) struct MachineConfig {
    /// The machine's name (from `run-<name>-vm`).
    pub name: String,
    /// The start script.
    pub start_script: PathBuf,
    /// Arguments before the driver's (a plain QEMU command's options, for
    /// machines `create_machine` adds).
    pub start_args: Vec<String>,
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
    /// Whether QEMU may open a window (`DISPLAY` or `WAYLAND_DISPLAY` is set).
    pub display: bool,
    /// `--timeout-scale` (1 without it): multiplies [`SHUTDOWN_TIMEOUT`].
    pub timeout_scale: f64,
}

/// A machine of the test, running or not.
pub(crate) struct Machine {
    config: MachineConfig,
    logger: Arc<Logger>,
    cancel: Cancel,
    power: Power,
    state_prepared: bool,
}

/// Whether QEMU runs.
enum Power {
    /// Not running; the console of the last run, if any, is kept for console waits.
    Off(Option<Console>),
    /// QEMU runs.
    On(Box<Running>),
}

/// A running QEMU and the driver's connections to it.
struct Running {
    qemu: Qemu,
    monitor: Monitor,
    guest: Guest,
    /// QMP, past negotiation; events queue there until a wait takes them.
    qmp: Qmp,
    /// What a guest reboot does to this QEMU.
    on_reboot: OnReboot,
}

/// The guest's root shell, as far as the driver knows.
enum Guest {
    /// QEMU connected the shell socket; the guest has not said it is ready yet.
    Booting(UnixStream),
    /// The guest's shell said it is ready (again, after a restart): it needs
    /// setting up.
    Ready(UnixStream),
    /// The handshake is done: commands can run.
    Connected(Shell),
    /// The shell cannot be used again in this run of QEMU, for this reason.
    Lost(String),
}

impl Machine {
    /// A stopped machine.
    pub(crate) fn new(config: MachineConfig, logger: Arc<Logger>, cancel: Cancel) -> Machine {
        Machine {
            config,
            logger,
            cancel,
            power: Power::Off(None),
            state_prepared: false,
        }
    }

    /// The machine's name.
    pub(crate) fn name(&self) -> &str {
        &self.config.name
    }

    /// Whether QEMU is running.
    pub(crate) fn is_running(&self) -> bool {
        matches!(self.power, Power::On(_))
    }

    fn running(&mut self) -> Option<&mut Running> {
        match &mut self.power {
            Power::On(running) => Some(running),
            Power::Off(_) => None,
        }
    }

    fn log(&self, message: &str) {
        self.logger.log(Some(&self.config.name), message);
    }

    fn prepare_state_dir(&mut self) -> Result<(), Error> {
        let state = &self.config.state_dir;
        if !self.state_prepared && !self.config.keep_state && state.exists() {
            self.log(&format!("deleting VM state directory {}", state.display()));
            fs::remove_dir_all(state)
                .map_err(|e| Error::io(format!("removing `{}`", state.display()), e))?;
        }
        crate::private_dir::ensure(state, crate::private_dir::Place::Inside)?;
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

    /// Waits until the guest's root shell is connected; fails at once, saying why,
    /// if it was lost.
    pub(crate) fn connect(&mut self) -> Result<(), Error> {
        self.start()?;
        let name = self.config.name.clone();
        let Some(running) = self.running() else {
            return Err(Error::NotRunning {
                machine: name,
                what: "reach the guest's root shell".to_string(),
            });
        };
        match &running.guest {
            Guest::Connected(_) => return Ok(()),
            Guest::Lost(reason) => {
                return Err(Error::ShellUnusable {
                    machine: name,
                    reason: reason.clone(),
                });
            }
            Guest::Booting(_) | Guest::Ready(_) => {}
        }
        let logger = Arc::clone(&self.logger);
        logger.nest(Some(&name), "waiting for the VM to finish booting", || {
            self.handshake()
        })
    }

    /// Waits for the handshake and sets the shell up. An interrupted wait leaves
    /// the machine booting, to be waited for again; any other failure loses the
    /// shell for this run of QEMU, with the reason kept for the next step.
    fn handshake(&mut self) -> Result<(), Error> {
        let started = Instant::now();
        let connect_timeout = self.config.connect_timeout;
        let shared_dir = self.config.shared_dir.clone();
        let Power::On(running) = &mut self.power else {
            return Ok(());
        };
        let during = "waiting for the guest's root shell";
        let deadline = Deadline::after(connect_timeout);
        let Running { qemu, guest, .. } = &mut **running;
        let stream = match std::mem::replace(guest, Guest::Lost(String::new())) {
            Guest::Booting(stream) => {
                let ready =
                    handshake::await_ready(&stream, deadline, &mut || qemu.watch(true, during));
                if let Err(stop) = ready {
                    if let Stop::Watch(error) = stop {
                        // Interrupted (or QEMU is gone): a later step may wait again.
                        *guest = Guest::Booting(stream);
                        return Err(*error);
                    }
                    return Err(self.lose_shell(stop));
                }
                stream
            }
            Guest::Ready(stream) => stream,
            other => {
                *guest = other;
                return Ok(());
            }
        };
        let result = Shell::set_up(stream, &shared_dir, deadline, &mut || {
            qemu.watch(true, during)
        });
        match result {
            Ok(shell) => {
                let shared = shell.uses_shared_dir();
                *guest = Guest::Connected(shell);
                self.log(&format!(
                    "connected to guest root shell (after {:.2} seconds{})",
                    started.elapsed().as_secs_f64(),
                    if shared {
                        ""
                    } else {
                        "; no shared directory: large outputs come in segments"
                    }
                ));
                Ok(())
            }
            Err(stop) => Err(self.lose_shell(stop)),
        }
    }

    /// Marks the guest's shell lost after a failed handshake or set-up, keeping
    /// the reason for the next step; returns the error to report now.
    fn lose_shell(&mut self, stop: Stop) -> Error {
        let name = self.config.name.clone();
        let connect_timeout = self.config.connect_timeout;
        let Power::On(running) = &mut self.power else {
            return Error::NotRunning {
                machine: name,
                what: "reach the guest's root shell".to_string(),
            };
        };
        let Running { qemu, guest, .. } = &mut **running;
        let error = match stop {
            Stop::TimedOut => Error::NoBackdoor {
                machine: name,
                seconds: connect_timeout.as_secs_f64(),
                stderr: qemu.stderr(),
                serial_tail: qemu.console().tail(TAIL_LINES),
            },
            stop => qemu.stop_error(stop, "waiting for the guest's root shell"),
        };
        let reason = match &error {
            Error::NoBackdoor { seconds, .. } => {
                format!("the guest's root shell did not connect within {seconds} s")
            }
            other => {
                let text = other.to_string();
                let prefix = format!("{}: ", self.config.name);
                text.strip_prefix(&prefix)
                    .map_or(text.clone(), str::to_string)
            }
        };
        *guest = Guest::Lost(format!("the guest's root shell is unusable: {reason}"));
        error
    }

    /// Runs one monitor operation under the machine's watch.
    fn on_monitor(
        &mut self,
        what: &str,
        operation: impl FnOnce(&mut Monitor, Deadline, Watch<'_>) -> Result<String, Stop>,
    ) -> Result<String, Error> {
        self.on_monitor_within(what, MONITOR_TIMEOUT, operation)
    }

    /// [`Machine::on_monitor`], waiting at most `timeout` for the answer.
    fn on_monitor_within(
        &mut self,
        what: &str,
        timeout: Duration,
        operation: impl FnOnce(&mut Monitor, Deadline, Watch<'_>) -> Result<String, Stop>,
    ) -> Result<String, Error> {
        let name = self.config.name.clone();
        let Some(running) = self.running() else {
            return Err(Error::NotRunning {
                machine: name,
                what: format!("send {what}"),
            });
        };
        let during = format!("sending {what}");
        let deadline = Deadline::after(timeout);
        let Running { qemu, monitor, .. } = running;
        match operation(monitor, deadline, &mut || qemu.watch(false, &during)) {
            Ok(answer) => Ok(answer),
            Err(Stop::TimedOut) => Err(Error::Timeout {
                machine: name,
                what: format!("an answer to {what}"),
                seconds: timeout.as_secs_f64(),
                last: None,
            }),
            Err(stop) => Err(qemu.stop_error(stop, &during)),
        }
    }

    /// Runs one QMP operation on the running QEMU; `what` names it for the
    /// error when QEMU does not run ("cannot `what`").
    fn on_qmp<T>(
        &mut self,
        what: &str,
        operation: impl FnOnce(&mut Qmp, &mut Qemu) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let name = self.config.name.clone();
        let Some(Running { qemu, qmp, .. }) = self.running() else {
            return Err(Error::NotRunning {
                machine: name,
                what: what.to_string(),
            });
        };
        operation(qmp, qemu)
    }

    /// Sends `command` to the QEMU monitor and returns the answer, waiting at most
    /// `timeout`: the driver's own queries use a short one, so that a QEMU that
    /// stopped answering does not hold a step up for the whole monitor timeout.
    pub(crate) fn ask_monitor(
        &mut self,
        command: &str,
        timeout: Duration,
    ) -> Result<String, Error> {
        let text = command.to_string();
        self.on_monitor_within(
            &format!("monitor command `{command}`"),
            timeout,
            |monitor, deadline, watch| monitor.command(&text, deadline, watch),
        )
    }

    /// Fails with what the monitor answered to `what`, unless it answered nothing
    /// (QEMU's monitor is silent when a command succeeds).
    fn monitor_said_nothing(&self, what: &str, answer: &str) -> Result<(), Error> {
        match answer.trim() {
            "" => Ok(()),
            said => Err(Error::Machine {
                machine: self.config.name.clone(),
                message: format!("{what} failed: the monitor answered `{said}`"),
            }),
        }
    }

    /// Ends QEMU's process group now (SIGTERM, then SIGKILL), if it runs.
    pub(crate) fn kill(&mut self) {
        if let Some(running) = self.running() {
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
        let Power::On(running) = std::mem::replace(&mut self.power, Power::Off(None)) else {
            return;
        };
        let (stderr, console) = running.qemu.end();
        let ours = |line: &str| line.contains("terminating on signal");
        for line in stderr.lines().filter(|l| !l.trim().is_empty() && !ours(l)) {
            self.logger
                .log(Some(&self.config.name), &format!("qemu: {line}"));
        }
        self.power = Power::Off(Some(console));
    }

    /// How long `shutdown`, `crash` and a reboot wait for QEMU to exit:
    /// [`SHUTDOWN_TIMEOUT`], scaled.
    fn shutdown_timeout(&self) -> Duration {
        crate::cancel::seconds(SHUTDOWN_TIMEOUT.as_secs_f64() * self.config.timeout_scale)
    }
}

impl Drop for Machine {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Why a guest did not answer, when QMP's `query-status` says it is not
/// running (paused by the monitor's `stop`, or stopped on an error): the note a
/// timeout carries. HMP's `info status` text varies between QEMU versions; QMP's
/// `running` field does not.
fn not_running(qmp: &mut Qmp, qemu: &mut Qemu) -> Option<String> {
    let deadline = Deadline::after(Duration::from_secs(5));
    let during = "asking QMP whether the guest runs";
    let answer = qmp.execute("query-status", None, deadline, &mut || {
        qemu.watch(false, during)
    });
    let Ok(Answer::Return(status)) = answer else {
        return None;
    };
    if status.get("running") != Some(&Json::Bool(false)) {
        return None;
    }
    let state = status
        .get("status")
        .and_then(Json::as_str)
        .unwrap_or("unknown");
    Some(format!(
        "QMP says the guest is not running (status `{state}`): paused by the monitor's `stop`, \
         or stopped on an error"
    ))
}

/// The arguments the driver appends to every start script. QMP comes first, as
/// in the NixOS driver: QEMU listens on it before it connects to the monitor.
pub(crate) fn qemu_args(
    qmp: &Path,
    monitor: &Path,
    shell: &Path,
    display: bool,
    on_reboot: OnReboot,
) -> Vec<String> {
    let mut args = vec![
        "-qmp".to_string(),
        format!("unix:{},server=on,wait=off", qmp.display()),
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
    ];
    if on_reboot == OnReboot::Exit {
        args.push("-no-reboot".to_string());
    }
    if !display {
        args.push("-nographic".to_string());
    }
    args
}

/// The machine as the methods see it: [`crate::backend::Vm`] is implemented here
/// directly, with no forwarding layer.
impl Vm for Machine {
    /// Starts QEMU and returns once it runs; the guest boots in the background.
    fn start(&mut self) -> Result<(), Error> {
        self.start_with(OnReboot::Exit)
    }

    /// Starts QEMU (see [`Vm::start`]); `on_reboot` says what a guest reboot does.
    fn start_with(&mut self, on_reboot: OnReboot) -> Result<(), Error> {
        if self.is_running() {
            return Ok(());
        }
        self.log("starting vm");
        self.prepare_state_dir()?;
        let state = &self.config.state_dir;
        let monitor_path = state.join("monitor");
        let shell_path = state.join("shell");
        let qmp_path = state.join("qmp");
        let monitor_listener = self.listen(&monitor_path)?;
        let shell_listener = self.listen(&shell_path)?;
        let stderr_path = state.join("qemu-stderr.log");
        let stderr = File::create(&stderr_path)
            .map_err(|e| Error::io(format!("creating `{}`", stderr_path.display()), e))?;
        let mut command = Command::new(&self.config.start_script);
        command
            .args(&self.config.start_args)
            .args(qemu_args(
                &qmp_path,
                &monitor_path,
                &shell_path,
                self.config.display,
                on_reboot,
            ))
            .current_dir(state)
            .env("TMPDIR", state)
            .env("USE_TMPDIR", "1")
            .env("SHARED_DIR", &self.config.shared_dir)
            .envs(self.config.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
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
            qemu.watch_start("starting")
        });
        let monitor = match greeted {
            Ok(monitor) => monitor,
            Err(stop) => {
                let error = qemu.stop_error(stop, "waiting for the monitor greeting");
                qemu.end();
                return Err(error);
            }
        };
        let negotiated = Qmp::connect(&qmp_path, deadline, &mut || {
            qemu.watch(false, "connecting to QMP")
        });
        let _ = fs::remove_file(&qmp_path);
        let qmp = match negotiated {
            Ok(qmp) => qmp,
            Err(stop) => {
                let error = qemu.stop_error(stop, "connecting to QMP");
                qemu.end();
                return Err(error);
            }
        };
        let pid = qemu.pid();
        self.power = Power::On(Box::new(Running {
            qemu,
            monitor,
            guest: Guest::Booting(shell_stream),
            qmp,
            on_reboot,
        }));
        self.log(&format!("QEMU running (pid {pid})"));
        Ok(())
    }

    /// Runs `request` in the guest, waiting at most `timeout` for its answer.
    fn run(&mut self, request: Request<'_>, timeout: Duration) -> Result<Outcome, Error> {
        self.connect()?;
        let name = self.config.name.clone();
        let Power::On(running) = &mut self.power else {
            return Err(Error::NotRunning {
                machine: name,
                what: format!("run `{}`", one_line(request.command())),
            });
        };
        let Running {
            qemu, guest, qmp, ..
        } = &mut **running;
        let Guest::Connected(shell) = guest else {
            return Err(Error::ShellUnusable {
                machine: name,
                reason: "the guest's root shell is not connected".to_string(),
            });
        };
        if let Some(reason) = shell.unusable() {
            return Err(Error::ShellUnusable {
                machine: name,
                reason: reason.to_string(),
            });
        }
        let deadline = Deadline::after(timeout);
        let during = format!("running `{}`", one_line(request.command()));
        let console_before = qemu.console().total();
        let result = shell.run(request, deadline, &mut || qemu.watch(true, &during));
        match result {
            Ok(reply) => {
                if let Some(note) = &reply.note {
                    self.logger.log(Some(&name), note);
                }
                // stderr reaches the console a moment after stdout reaches us.
                if reply.status != 0 {
                    std::thread::sleep(Duration::from_millis(20));
                }
                let output = match String::from_utf8(reply.output) {
                    Ok(text) => text,
                    Err(error) => String::from_utf8_lossy(error.as_bytes()).into_owned(),
                };
                Ok(Outcome {
                    status: reply.status,
                    output,
                    console: qemu.console().since(console_before, TAIL_LINES),
                })
            }
            Err(Stop::TimedOut) => Err(Error::Timeout {
                machine: name,
                what: format!("command `{}` to finish", one_line(request.command())),
                seconds: timeout.as_secs_f64(),
                last: not_running(qmp, qemu),
            }),
            Err(Stop::Damaged(message)) => Err(Error::OutputLost {
                machine: name,
                command: request.command().to_string(),
                message,
            }),
            Err(Stop::Restarted) => {
                // Set the new shell up at the next step.
                if let Guest::Connected(shell) =
                    std::mem::replace(guest, Guest::Lost(String::new()))
                {
                    *guest = Guest::Ready(shell.into_stream());
                }
                // The shell went away: an environment failure (exit status 3).
                Err(Error::Machine {
                    machine: name,
                    message: format!(
                        "the guest's root shell restarted while running `{}`; its answer is lost \
                         (the next step sets the new shell up)",
                        one_line(request.command())
                    ),
                })
            }
            Err(stop) => {
                let closed = matches!(stop, Stop::Closed);
                let error = qemu.stop_error(stop, &during);
                if closed {
                    *guest = Guest::Lost(format!("the guest's root shell went away: {error}"));
                }
                Err(error)
            }
        }
    }

    /// Sends a command to the QEMU monitor and returns the answer.
    fn send_monitor_command(&mut self, command: &str) -> Result<String, Error> {
        self.ask_monitor(command, MONITOR_TIMEOUT)
    }

    /// Connects (`up`) or disconnects the guest's first vlan interface.
    fn set_link(&mut self, up: bool) -> Result<(), Error> {
        let what = format!("setting the vlan link {}", if up { "up" } else { "down" });
        let answer = self.on_monitor(&what, |monitor, deadline, watch| {
            monitor.set_link(up, deadline, watch)
        })?;
        self.monitor_said_nothing(&what, &answer)
    }

    /// Powers the guest off through its root shell and waits for QEMU to exit.
    fn shutdown(&mut self) -> Result<(), Error> {
        let Some(running) = self.running() else {
            return Ok(());
        };
        if let Some(status) = running.qemu.exited() {
            let message = format!("QEMU had already exited ({})", process::describe(&status));
            self.finish_run();
            self.log(&message);
            return Ok(());
        }
        // A shell that cannot be reached is no reason not to power off.
        let _ = self.connect();
        let Some(Running { qemu, guest, .. }) = self.running() else {
            return Ok(());
        };
        let sent = match guest {
            Guest::Connected(shell) if shell.unusable().is_none() => {
                let during = "sending `poweroff`";
                let deadline = Deadline::after(MONITOR_TIMEOUT);
                Some(
                    shell
                        .send_poweroff(deadline, &mut || qemu.watch(false, during))
                        .map_err(|stop| qemu.stop_error(stop, during)),
                )
            }
            _ => None,
        };
        match sent {
            Some(Ok(())) => {}
            Some(Err(error @ (Error::Interrupted { .. } | Error::GlobalTimeout { .. }))) => {
                return Err(error);
            }
            Some(Err(_)) | None => {
                self.log("the guest shell is busy or gone: asking for an ACPI power-off instead");
                self.on_monitor("an ACPI power-off", |monitor, deadline, watch| {
                    monitor.power_down(deadline, watch)
                })?;
            }
        }
        self.wait_for_shutdown(self.shutdown_timeout())
    }

    /// Makes QEMU quit at once (the monitor's `quit`) and waits for it to exit.
    fn crash(&mut self) -> Result<(), Error> {
        let Some(running) = self.running() else {
            return Ok(());
        };
        let _ = running.monitor.quit();
        self.logger.log(Some(&self.config.name), "forced crash");
        self.wait_for_shutdown(self.shutdown_timeout())
    }

    /// Waits until QEMU exits on its own.
    fn wait_for_shutdown(&mut self, timeout: Duration) -> Result<(), Error> {
        let deadline = Deadline::after(timeout);
        loop {
            let Some(running) = self.running() else {
                return Ok(());
            };
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
    fn wait_for_console_text(&mut self, regex: &Regex, timeout: Duration) -> Result<String, Error> {
        let console = match &self.power {
            Power::On(running) => running.qemu.console().clone(),
            Power::Off(Some(console)) => console.clone(),
            Power::Off(None) => {
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
    fn shell_interact(&mut self) -> Result<(), Error> {
        // One framed command first: it waits out (and drops) the late answer of
        // an interrupted command, which would otherwise reach the terminal.
        let check = Request::Once {
            command: "true",
            limit: None,
        };
        self.run(check, MONITOR_TIMEOUT)?;
        self.log("terminal is ready (there is no prompt); end with Ctrl-D");
        let cancel = self.cancel;
        if let Some(Running {
            guest: Guest::Connected(shell),
            ..
        }) = self.running()
        {
            crate::interact::shell_session(shell.stream(), &cancel)?;
        }
        // Whatever the session left unread is read and dropped before this answer.
        self.run(check, MONITOR_TIMEOUT)?;
        self.log("shell session ended");
        Ok(())
    }

    // QMP.

    /// Takes QMP events in arrival order, dropping those whose name the regex
    /// `pattern` does not match whole, until one does or `timeout` passes; fails
    /// at once if QEMU exits.
    fn wait_for_qmp_event(&mut self, pattern: &str, timeout: Duration) -> Result<Json, Error> {
        let name = self.config.name.clone();
        let filter = Regex::new(&format!("^(?:{pattern})$"))
            .map_err(|e| Error::invalid_regex(pattern, &e))?;
        let during = format!("waiting for the QMP event `{pattern}`");
        let what = format!("wait for the QMP event `{pattern}`");
        self.on_qmp(&what, |qmp, qemu| {
            let deadline = Deadline::after(timeout);
            // Names of the events that did not match, each with its count.
            let mut seen: Vec<(String, u64)> = Vec::new();
            loop {
                let event = match qmp.next_event(deadline, &mut || qemu.watch(false, &during)) {
                    Ok(event) => event,
                    Err(Stop::TimedOut) => {
                        let counted: Vec<String> = seen
                            .iter()
                            .map(|(name, count)| format!("{name} ({count})"))
                            .collect();
                        let mut last = match counted.is_empty() {
                            true => "no QMP events came".to_string(),
                            false => format!("events that did not match: {}", counted.join(", ")),
                        };
                        if qmp.dropped() > 0 {
                            last.push_str(&format!(
                                "; {} older events were dropped unread (the queue keeps the newest)",
                                qmp.dropped()
                            ));
                        }
                        return Err(Error::Timeout {
                            machine: name,
                            what: format!("a QMP event matching `{pattern}`"),
                            seconds: timeout.as_secs_f64(),
                            last: Some(last),
                        });
                    }
                    Err(stop) => return Err(qemu.stop_error(stop, &during)),
                };
                let event_name = event.get("event").and_then(Json::as_str);
                let event_name = event_name.unwrap_or_default();
                if filter.is_match(event_name) {
                    return Ok(event);
                }
                match seen.iter_mut().find(|(seen, _)| seen == event_name) {
                    Some((_, count)) => *count += 1,
                    None => seen.push((event_name.to_string(), 1)),
                }
            }
        })
    }

    /// Sends a QMP command and returns its result; a QMP error fails the step.
    fn qmp_command(&mut self, command: &str, arguments: Option<Json>) -> Result<Json, Error> {
        let name = self.config.name.clone();
        let during = format!("sending the QMP command `{command}`");
        let what = format!("send the QMP command `{command}`");
        self.on_qmp(&what, |qmp, qemu| {
            let deadline = Deadline::after(MONITOR_TIMEOUT);
            let watch = &mut || qemu.watch(false, &during);
            match qmp.execute(command, arguments, deadline, watch) {
                Ok(Answer::Return(result)) => Ok(result),
                // The script's request was wrong, not the machine: the step fails.
                Ok(Answer::Error { class, desc }) => Err(Error::InvalidValue {
                    message: format!("{name}: the QMP command `{command}` failed: {class}: {desc}"),
                }),
                Err(Stop::TimedOut) => Err(Error::Timeout {
                    machine: name,
                    what: format!("an answer to the QMP command `{command}`"),
                    seconds: MONITOR_TIMEOUT.as_secs_f64(),
                    last: None,
                }),
                Err(stop) => Err(qemu.stop_error(stop, &during)),
            }
        })
    }

    // Screen, keyboard and serial console input.

    /// Has QEMU write the screen to a file in the state directory, reads it and
    /// removes it.
    fn screendump(&mut self) -> Result<Vec<u8>, Error> {
        let path = self.config.state_dir.join("screendump.ppm");
        let answer = self.on_monitor("a screendump", |monitor, deadline, watch| {
            monitor.screendump(&path, deadline, watch)
        });
        let read = answer.and_then(|answer| match answer.trim() {
            "" => {
                fs::read(&path).map_err(|e| Error::io(format!("reading `{}`", path.display()), e))
            }
            refused => Err(Error::Machine {
                machine: self.config.name.clone(),
                message: format!("QEMU refused the screendump: {refused}"),
            }),
        });
        let _ = fs::remove_file(&path);
        read
    }

    /// Presses and releases `key` (a `sendkey` name) through the monitor.
    fn send_key(&mut self, key: &str) -> Result<(), Error> {
        let answer = self.on_monitor(&format!("key `{key}`"), |monitor, deadline, watch| {
            monitor.send_key(key, deadline, watch)
        })?;
        match answer.trim() {
            "" => Ok(()),
            refused => Err(Error::InvalidValue {
                message: format!("{}: QEMU refused key `{key}`: {refused}", self.config.name),
            }),
        }
    }

    /// Writes `bytes` to QEMU's stdin, the serial console's input.
    fn send_console(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let name = self.config.name.clone();
        let Some(running) = self.running() else {
            return Err(Error::NotRunning {
                machine: name,
                what: "write to the serial console".to_string(),
            });
        };
        running.qemu.send_console(bytes, MONITOR_TIMEOUT)
    }

    /// The state directory.
    fn scratch_dir(&self) -> &Path {
        &self.config.state_dir
    }

    // Files, power, network and the console log.

    fn shared_dir(&self) -> &Path {
        &self.config.shared_dir
    }

    /// Presses ctrl-alt-delete. QEMU started with `allow_reboot` resets the guest,
    /// and the next step waits for the new handshake on the same shell socket;
    /// otherwise (`-no-reboot`) QEMU exits once the guest has shut down, and it
    /// is started again, keeping the machine's state directory.
    fn reboot(&mut self) -> Result<(), Error> {
        let Some(running) = self.running() else {
            return Err(Error::NotRunning {
                machine: self.config.name.clone(),
                what: "reboot".to_string(),
            });
        };
        let on_reboot = running.on_reboot;
        let answer = self.on_monitor("ctrl-alt-delete", |monitor, deadline, watch| {
            monitor.ctrl_alt_delete(deadline, watch)
        })?;
        self.monitor_said_nothing("pressing ctrl-alt-delete", &answer)?;
        match on_reboot {
            OnReboot::Reset => {
                if let Some(running) = self.running() {
                    let guest = std::mem::replace(&mut running.guest, Guest::Lost(String::new()));
                    running.guest = match guest {
                        Guest::Connected(shell) => Guest::Booting(shell.into_stream()),
                        Guest::Ready(stream) | Guest::Booting(stream) => Guest::Booting(stream),
                        lost @ Guest::Lost(_) => lost,
                    };
                }
                self.log("rebooting: the next step waits for the guest's root shell");
                Ok(())
            }
            OnReboot::Exit => {
                self.log(
                    "rebooting: QEMU runs with -no-reboot, so it is started again once it exits",
                );
                self.wait_for_shutdown(self.shutdown_timeout())?;
                self.start_with(OnReboot::Exit)
            }
        }
    }

    fn forward_port(&mut self, host_port: u16, guest_port: u16) -> Result<(), Error> {
        let what = format!("forwarding host port {host_port} to guest port {guest_port}");
        let answer = self.on_monitor(&what, |monitor, deadline, watch| {
            monitor.forward_port(host_port, guest_port, deadline, watch)
        })?;
        self.monitor_said_nothing(&what, &answer)
    }

    fn console_log(&self) -> Vec<String> {
        let console = match &self.power {
            Power::On(running) => running.qemu.console(),
            Power::Off(Some(console)) => console,
            Power::Off(None) => return Vec::new(),
        };
        console.tail(crate::serial::MAX_LINES)
    }
}
