//! Self-tests of the fake VM: each test plays the driver's part with std's `UnixListener`s,
//! starts `run-<name>-vm` the way the driver does and checks one behaviour.

use crate::fake_vm::{fake_vm_binary, write_start_script};
use std::fs;
use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Upper bound for anything the fake VM should do "at once".
const TIMEOUT: Duration = Duration::from_secs(5);
/// The new backdoor handshake.
const HANDSHAKE: &[u8] = b"Spawning backdoor root shell...\n";
/// What real QEMU 7.2.22 sends on a unix-socket HMP monitor when it starts.
const QEMU_GREETING: &[u8] = b"QEMU 7.2.22 monitor - type 'help' for more information\r\n(qemu) ";
/// What real QEMU 7.2.22 sends back for `info status\n` (readline echo, reply, prompt).
const QEMU_INFO_STATUS: &[u8] = b"i\x1b[K\x1b[Din\x1b[K\x1b[D\x1b[Dinf\x1b[K\x1b[D\x1b[D\x1b[Dinfo\
\x1b[K\x1b[D\x1b[D\x1b[D\x1b[Dinfo \x1b[K\x1b[D\x1b[D\x1b[D\x1b[D\x1b[Dinfo s\x1b[K\x1b[D\x1b[D\
\x1b[D\x1b[D\x1b[D\x1b[Dinfo st\x1b[K\x1b[D\x1b[D\x1b[D\x1b[D\x1b[D\x1b[D\x1b[Dinfo sta\x1b[K\x1b[D\
\x1b[D\x1b[D\x1b[D\x1b[D\x1b[D\x1b[D\x1b[Dinfo stat\x1b[K\x1b[D\x1b[D\x1b[D\x1b[D\x1b[D\x1b[D\x1b[D\
\x1b[D\x1b[Dinfo statu\x1b[K\x1b[D\x1b[D\x1b[D\x1b[D\x1b[D\x1b[D\x1b[D\x1b[D\x1b[D\x1b[Dinfo status\
\x1b[K\r\nVM status: running\r\n(qemu) ";

/// Bytes read from a pipe by a background thread.
#[derive(Default)]
struct Captured {
    /// The bytes so far and whether the pipe reached EOF.
    state: Mutex<(Vec<u8>, bool)>,
    changed: Condvar,
}

impl Captured {
    /// Starts a thread that collects everything `reader` produces.
    fn spawn(mut reader: impl Read + Send + 'static) -> Arc<Captured> {
        let captured = Arc::new(Captured::default());
        let sink = Arc::clone(&captured);
        thread::spawn(move || {
            let mut buf = [0u8; 65536];
            loop {
                let n = reader.read(&mut buf).unwrap_or(0);
                let mut state = sink.state.lock().unwrap();
                state.0.extend_from_slice(&buf[..n]);
                state.1 = n == 0;
                sink.changed.notify_all();
                if n == 0 {
                    return;
                }
            }
        });
        captured
    }

    /// Waits until `done` holds for the bytes and EOF flag, or panics after [`TIMEOUT`].
    fn wait_until(&self, what: &str, done: impl Fn(&[u8], bool) -> bool) -> Vec<u8> {
        let deadline = Instant::now() + TIMEOUT;
        let mut state = self.state.lock().unwrap();
        while !done(&state.0, state.1) {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "timed out waiting for {what}; got:\n{}",
                lossy(&state.0)
            );
            state = self.changed.wait_timeout(state, left).unwrap().0;
        }
        state.0.clone()
    }

    /// Waits for `needle` to appear.
    fn wait_for(&self, needle: &str) -> Vec<u8> {
        self.wait_until(&format!("{needle:?}"), |b, _| {
            contains(b, needle.as_bytes())
        })
    }

    /// Waits for EOF and returns everything.
    fn wait_eof(&self) -> Vec<u8> {
        self.wait_until("EOF", |_, eof| eof)
    }
}

/// Whether `haystack` contains `needle`.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Bytes as text for messages.
fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The QEMU arguments the driver appends to the start script's command line.
const DRIVER_ARGS: &[&str] = &[
    "-device",
    "virtio-serial",
    "-device",
    "virtconsole,chardev=shell",
    "-device",
    "virtio-rng-pci",
    "-serial",
    "stdio",
    "-no-reboot",
    "-nographic",
];

/// One fake VM started the way the driver starts QEMU, with the driver's ends of its sockets.
struct Vm {
    dir: tempfile::TempDir,
    child: Child,
    serial: Arc<Captured>,
    stderr: Arc<Captured>,
    monitor: Option<UnixStream>,
    shell: Option<UnixStream>,
}

/// How to start a fake VM.
#[derive(Clone, Copy)]
struct Setup<'a> {
    env: &'a [(&'a str, &'a str)],
    /// Extra QEMU arguments, before the driver's.
    args: &'a [&'a str],
    /// Listen on the monitor / shell sockets (the driver always does).
    listen: (bool, bool),
    /// Pass `-no-reboot`.
    no_reboot: bool,
}

impl Default for Setup<'_> {
    fn default() -> Self {
        Setup {
            env: &[],
            args: &[],
            listen: (true, true),
            no_reboot: true,
        }
    }
}

impl Vm {
    /// Starts a normal fake VM with `env` and accepts its connections.
    fn start(env: &[(&str, &str)]) -> Vm {
        Vm::start_with(Setup {
            env,
            ..Setup::default()
        })
    }

    /// Starts a fake VM and accepts the connections it makes.
    fn start_with(setup: Setup<'_>) -> Vm {
        let dir = tempfile::tempdir().expect("tempdir");
        let bind = |on: bool, name: &str| on.then(|| listen(&dir.path().join(name)));
        let monitor = bind(setup.listen.0, "monitor");
        let shell = bind(setup.listen.1, "shell");
        let script = write_start_script(dir.path(), "machine", setup.env);
        let state = dir.path().display().to_string();
        let mut args: Vec<String> = setup.args.iter().map(|a| a.to_string()).collect();
        args.extend(["-monitor".into(), format!("unix:{state}/monitor")]);
        args.extend([
            "-chardev".into(),
            format!("socket,id=shell,path={state}/shell"),
        ]);
        let driver_args = DRIVER_ARGS
            .iter()
            .filter(|a| setup.no_reboot || **a != "-no-reboot");
        args.extend(driver_args.map(|a| a.to_string()));
        let mut child = spawn_retrying(
            Command::new(&script)
                .args(&args)
                .env("TMPDIR", dir.path())
                .env("USE_TMPDIR", "1")
                .env("SHARED_DIR", dir.path().join("shared"))
                .current_dir(dir.path())
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .process_group(0),
        );
        let serial = Captured::spawn(child.stdout.take().unwrap());
        let stderr = Captured::spawn(child.stderr.take().unwrap());
        let mut vm = Vm {
            dir,
            child,
            serial,
            stderr,
            monitor: None,
            shell: None,
        };
        vm.monitor = monitor.map(|l| vm.accept(&l));
        vm.shell = shell.map(|l| vm.accept(&l));
        vm
    }

    /// Accepts the fake VM's connection on `listener`, failing if the VM exits first.
    fn accept(&mut self, listener: &UnixListener) -> UnixStream {
        listener.set_nonblocking(true).unwrap();
        let deadline = Instant::now() + TIMEOUT;
        loop {
            match listener.accept() {
                Ok((stream, _)) => {
                    stream.set_nonblocking(false).unwrap();
                    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
                    return stream;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => panic!("accept: {e}"),
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "fake VM exited ({status}) before connecting: {}",
                    lossy(&self.stderr.wait_eof())
                );
            }
            assert!(Instant::now() < deadline, "fake VM did not connect");
            thread::sleep(Duration::from_millis(2));
        }
    }

    /// The driver's end of the shell socket.
    fn shell(&mut self) -> &mut UnixStream {
        self.shell.as_mut().expect("no shell socket")
    }

    /// Reads the shell socket until `marker` has been seen; returns everything read.
    fn read_shell_until(&mut self, marker: &[u8]) -> Vec<u8> {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while !contains(&got, marker) {
            match self.shell().read(&mut buf) {
                Ok(0) => panic!("shell closed; got {:?}", lossy(&got)),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                // A read with a timeout is not restarted after a stopped and
                // continued process (a loaded CI runner): just read again.
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => panic!("reading shell: {e}; got {:?}", lossy(&got)),
            }
        }
        got
    }

    /// Waits for the new handshake and checks nothing came before it.
    fn handshake(&mut self) {
        let got = self.read_shell_until(HANDSHAKE);
        assert_eq!(got, HANDSHAKE);
    }

    /// Runs `cmd` in the backdoor bash; returns its stdout and status.
    fn run(&mut self, cmd: &str) -> (String, i32) {
        self.shell()
            .write_all(format!("{cmd}\necho \"@@rc=$?@@\"\n").as_bytes())
            .unwrap();
        let got = lossy(&self.read_shell_until(b"@@\n"));
        let (out, rc) = got.rsplit_once("@@rc=").unwrap();
        (
            out.to_string(),
            rc.trim_end().trim_end_matches("@@").parse().unwrap(),
        )
    }

    /// Sends one HMP command line and returns everything up to and including the next prompt.
    fn hmp_raw(&mut self, line: &[u8]) -> Vec<u8> {
        let monitor = self.monitor.as_mut().expect("no monitor socket");
        monitor.write_all(line).unwrap();
        read_until_prompt(monitor)
    }

    /// Sends an HMP command; returns the reply without the echo and the prompt.
    fn hmp(&mut self, cmd: &str) -> String {
        let raw = lossy(&self.hmp_raw(format!("{cmd}\n").as_bytes()));
        let reply = raw
            .rsplit_once("\x1b[K\r\n")
            .map_or(raw.as_str(), |(_, r)| r);
        reply.strip_suffix("(qemu) ").expect("prompt").to_string()
    }

    /// Reads the monitor greeting.
    fn greeting(&mut self) -> Vec<u8> {
        read_until_prompt(self.monitor.as_mut().expect("no monitor socket"))
    }

    /// Waits for the fake VM to exit on its own; returns its status and how long it took.
    fn wait_exit(&mut self) -> (ExitStatus, Duration) {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status, start.elapsed());
            }
            assert!(start.elapsed() < TIMEOUT, "fake VM did not exit");
            thread::sleep(Duration::from_millis(2));
        }
    }

    /// Kills the fake VM's process group, reaps it and checks that nothing of it is left.
    fn finish(mut self) {
        self.kill_group();
        let _ = self.child.wait();
        let pgid = self.child.id();
        let deadline = Instant::now() + TIMEOUT;
        while !group_members(pgid).is_empty() {
            assert!(
                Instant::now() < deadline,
                "leftover processes: {:?}",
                group_members(pgid)
            );
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Sends SIGKILL to the fake VM's process group.
    fn kill_group(&self) {
        signal_group(self.child.id(), "KILL");
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        self.kill_group();
        let _ = self.child.wait();
    }
}

/// Binds a listening unix socket.
fn listen(path: &Path) -> UnixListener {
    UnixListener::bind(path).unwrap_or_else(|e| panic!("bind {}: {e}", path.display()))
}

/// Spawns `cmd`, retrying while the freshly written script is "busy" (ETXTBSY: another test
/// thread forked while the script was open for writing).
fn spawn_retrying(cmd: &mut Command) -> Child {
    for _ in 0..100 {
        match cmd.spawn() {
            Err(e) if e.raw_os_error() == Some(26) => thread::sleep(Duration::from_millis(5)),
            other => return other.expect("spawn start script"),
        }
    }
    panic!("start script stayed busy");
}

/// Reads until the buffer ends with the HMP prompt.
fn read_until_prompt(monitor: &mut UnixStream) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.ends_with(b"(qemu) ") {
        match monitor.read(&mut buf) {
            Ok(0) => panic!("monitor closed; got {:?}", lossy(&got)),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => panic!("reading monitor: {e}; got {:?}", lossy(&got)),
        }
    }
    got
}

/// Sends `SIG<signal>` to process group `pgid`.
fn signal_group(pgid: u32, signal: &str) {
    let _ = Command::new("kill")
        .args([format!("-{signal}"), "--".into(), format!("-{pgid}")])
        .stderr(Stdio::null())
        .status();
}

/// Live (non-zombie) processes in process group `pgid`.
fn group_members(pgid: u32) -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            let Some(i) = stat.rfind(')') else {
                return false;
            };
            let fields: Vec<&str> = stat[i + 1..].split_whitespace().collect();
            fields.len() > 2 && fields[0] != "Z" && fields[2] == pgid.to_string()
        })
        .collect()
}

/// Whether process `pid` is gone (or a zombie).
fn is_dead(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => true,
    }
}

#[test]
fn boots_runs_bash_and_powers_off() {
    let mut vm = Vm::start(&[]);
    assert_eq!(vm.greeting(), QEMU_GREETING);
    vm.handshake();
    vm.serial
        .wait_for(&format!("fake-vm: pid {}\n", vm.child.id()));
    vm.serial
        .wait_for("[    0.000000] Linux version 6.1.0-fake");
    vm.serial.wait_for("connecting to host...\n");

    let state = vm.dir.path().display().to_string();
    let (out, rc) = vm.run("echo \"$USER\"; pwd; test -w \"$HOME\"; echo to-serial >&2");
    assert_eq!((out.as_str(), rc), (format!("root\n{state}\n").as_str(), 0));
    vm.serial.wait_for("to-serial\n");
    assert_eq!(vm.run("false"), (String::new(), 1));

    // The current NixOS driver's framing.
    let cmd = "timeout 900 bash -c 'set -euo pipefail; echo hi; exit 3' | (base64 -w 0; echo)\n";
    vm.shell().write_all(cmd.as_bytes()).unwrap();
    assert_eq!(vm.read_shell_until(b"\n"), b"aGkK\n");
    vm.shell().write_all(b"echo ${PIPESTATUS[0]}\n").unwrap();
    assert_eq!(vm.read_shell_until(b"\n"), b"3\n");

    let vm_dir = vm.run("echo -n \"$FAKE_VM_DIR\"").0;
    vm.shell().write_all(b"poweroff\n").unwrap();
    let (status, took) = vm.wait_exit();
    assert!(status.success(), "{status}");
    assert!(took < Duration::from_millis(500), "poweroff took {took:?}");
    vm.serial.wait_for("reboot: Power down\n");
    assert!(!Path::new(&vm_dir).exists(), "{vm_dir} left behind");
    assert_eq!(vm.stderr.wait_eof(), b"");
    vm.finish();
}

#[test]
fn monitor_speaks_like_qemu() {
    let mut vm = Vm::start_with(Setup {
        args: &[
            "-name",
            "probe",
            "-device",
            "virtio-net-pci,netdev=vlan1",
            "-netdev",
            "vde,id=vlan1",
        ],
        ..Setup::default()
    });
    assert_eq!(vm.greeting(), QEMU_GREETING);
    assert_eq!(vm.hmp_raw(b"info status\n"), QEMU_INFO_STATUS);
    assert_eq!(vm.hmp("stop"), "");
    assert_eq!(vm.hmp("info status"), "VM status: paused\r\n");
    assert_eq!(vm.hmp("cont"), "");
    assert_eq!(vm.hmp("info status"), "VM status: running\r\n");
    assert_eq!(vm.hmp("info name"), "probe\r\n");
    assert_eq!(vm.hmp("info bogus"), "unknown command: 'info bogus'\r\n");
    assert_eq!(vm.hmp("bogus cmd"), "unknown command: 'bogus'\r\n");
    assert_eq!(vm.hmp_raw(b"\n"), b"\r\n(qemu) ");

    assert_eq!(vm.hmp("set_link virtio-net-pci.1 off"), "");
    assert_eq!(vm.hmp("set_link vlan1 on"), "");
    assert_eq!(
        vm.hmp("set_link foo off"),
        "Error: Device 'foo' not found\r\n"
    );
    assert_eq!(
        vm.hmp("set_link virtio-net-pci.0 maybe"),
        "Expected 'on' or 'off'\r\nTry \"help set_link\" for more information\r\n"
    );
    assert_eq!(vm.hmp("sendkey shift-a"), "");
    assert_eq!(vm.hmp("sendkey 0x1e 100"), "");
    assert_eq!(vm.hmp("sendkey A"), "invalid parameter: A\r\n");

    let ppm = vm.dir.path().join("screen.ppm");
    assert_eq!(vm.hmp(&format!("screendump {}", ppm.display())), "");
    assert!(fs::read(&ppm).unwrap().starts_with(b"P6\n2 2\n255\n"));
    let png = vm.dir.path().join("screen.png");
    assert_eq!(vm.hmp(&format!("screendump {} -f png", png.display())), "");
    assert!(fs::read(&png).unwrap().starts_with(b"\x89PNG\r\n\x1a\n"));

    // A CR LF line end is two lines for QEMU's readline: a second, empty command.
    let mut raw = vm.hmp_raw(b"info status\r\n");
    if !raw.ends_with(b"(qemu) \r\n(qemu) ") {
        raw.extend(read_until_prompt(vm.monitor.as_mut().unwrap()));
    }
    assert!(
        raw.ends_with(b"running\r\n(qemu) \r\n(qemu) "),
        "{}",
        lossy(&raw)
    );

    vm.handshake();
    assert_eq!(
        vm.run("cat \"$FAKE_VM_DIR/link.virtio-net-pci.1\"").0,
        "off\n"
    );

    let monitor = vm.monitor.as_mut().unwrap();
    monitor.write_all(b"quit\n").unwrap();
    let mut rest = Vec::new();
    monitor.read_to_end(&mut rest).unwrap();
    assert_eq!(
        rest,
        b"q\x1b[K\x1b[Dqu\x1b[K\x1b[D\x1b[Dqui\x1b[K\x1b[D\x1b[D\x1b[Dquit\x1b[K\r\n"
    );
    let (status, took) = vm.wait_exit();
    assert!(
        status.success() && took < Duration::from_millis(500),
        "{status} after {took:?}"
    );
    vm.finish();
}

#[test]
fn old_handshake_and_old_framing() {
    let mut vm = Vm::start(&[("FAKE_VM_HANDSHAKE", "old")]);
    assert_eq!(vm.read_shell_until(b"\n"), b"\n");
    vm.shell()
        .write_all(b"( set -euo pipefail; echo hi ); echo '|!=EOF' $?\n")
        .unwrap();
    assert_eq!(vm.read_shell_until(b"EOF 0\n"), b"hi\n|!=EOF 0\n");
    vm.finish();
}

#[test]
fn ctrl_alt_delete_and_system_powerdown_end_qemu() {
    for (cmd, line) in [
        ("sendkey ctrl-alt-delete", "reboot: Restarting system\n"),
        ("system_powerdown", "reboot: Power down\n"),
    ] {
        let mut vm = Vm::start(&[]);
        vm.greeting();
        vm.handshake();
        vm.run("sleep 1000 & echo started");
        assert_eq!(vm.hmp(cmd), "");
        let (status, _) = vm.wait_exit();
        assert!(status.success(), "{cmd}: {status}");
        vm.serial.wait_for(line);
        vm.finish();
    }
}

#[test]
fn reboots_without_no_reboot() {
    let mut vm = Vm::start_with(Setup {
        no_reboot: false,
        ..Setup::default()
    });
    vm.greeting();
    vm.handshake();
    assert_eq!(vm.run("echo one").0, "one\n");
    vm.shell().write_all(b"reboot\n").unwrap();
    vm.handshake();
    assert_eq!(vm.run("echo two").0, "two\n");
    assert_eq!(vm.hmp("sendkey ctrl-alt-delete"), "");
    vm.handshake();
    assert!(vm.child.try_wait().unwrap().is_none());
    vm.serial.wait_for("reboot: Restarting system\n");
    vm.finish();
}

#[test]
fn guest_processes_die_with_the_guest() {
    let mut vm = Vm::start(&[]);
    vm.handshake();
    let (pid, _) = vm.run("sleep 1000 & echo $!");
    let pid: u32 = pid.trim().parse().unwrap();
    // A daemon: it leaves the process tree, the process group and the session.
    let (grandchild, _) = vm.run("(setsid sleep 60 & echo $!)");
    let grandchild: u32 = grandchild.trim().parse().unwrap();
    vm.shell().write_all(b"poweroff\n").unwrap();
    assert!(vm.wait_exit().0.success());
    assert!(is_dead(pid), "guest process {pid} survived poweroff");
    assert!(
        is_dead(grandchild),
        "guest process {grandchild} survived poweroff"
    );
    // Nothing holds the serial console any more.
    vm.serial.wait_eof();
    vm.finish();
}

#[test]
fn shell_closed_or_exited_ends_vm() {
    let mut vm = Vm::start(&[]);
    vm.handshake();
    vm.shell = None;
    assert!(vm.wait_exit().0.success());
    vm.finish();

    let mut vm = Vm::start(&[]);
    vm.handshake();
    vm.shell().write_all(b"exit 7\n").unwrap();
    assert!(vm.wait_exit().0.success());
    vm.finish();
}

#[test]
fn connect_failures_look_like_qemu() {
    let vm = Vm::start_with(Setup {
        listen: (false, false),
        ..Setup::default()
    });
    let dir = vm.dir.path().display().to_string();
    let err = lossy(&vm.stderr.wait_eof());
    assert_eq!(
        err,
        format!(
            "qemu-system-x86_64: -monitor unix:{dir}/monitor: Failed to connect to \
             '{dir}/monitor': No such file or directory\n"
        )
    );
    let mut vm = vm;
    assert_eq!(vm.wait_exit().0.code(), Some(1));
    vm.finish();

    let mut vm = Vm::start_with(Setup {
        listen: (true, false),
        ..Setup::default()
    });
    let dir = vm.dir.path().display().to_string();
    assert_eq!(vm.wait_exit().0.code(), Some(1));
    assert_eq!(
        lossy(&vm.stderr.wait_eof()),
        format!(
            "qemu-system-x86_64: -chardev socket,id=shell,path={dir}/shell: Failed to connect \
             to '{dir}/shell': No such file or directory\n"
        )
    );
    vm.finish();
}

#[test]
fn exit_mode() {
    let mut vm = Vm::start(&[("FAKE_VM_MODE", "exit")]);
    assert_eq!(vm.wait_exit().0.code(), Some(1));
    assert_eq!(
        vm.stderr.wait_eof(),
        b"qemu-system-x86_64: failed to set MSR 0x10a to 0x0\n"
    );
    vm.finish();

    let mut vm = Vm::start(&[
        ("FAKE_VM_MODE", "exit"),
        ("FAKE_VM_STDERR", "qemu: gtk initialization failed"),
        ("FAKE_VM_EXIT_CODE", "3"),
        ("FAKE_VM_BOOT_MS", "0"),
    ]);
    assert_eq!(vm.wait_exit().0.code(), Some(3));
    assert_eq!(vm.stderr.wait_eof(), b"qemu: gtk initialization failed\n");
    vm.finish();

    let mut vm = Vm::start(&[("FAKE_VM_MODE", "exit"), ("FAKE_VM_EXIT_SIGNAL", "abort")]);
    assert_eq!(vm.wait_exit().0.signal(), Some(6));
    vm.finish();
}

/// Checks that nothing arrives on the shell for `quiet` while the VM keeps running.
fn assert_no_handshake(vm: &mut Vm, quiet: Duration) {
    vm.shell().set_read_timeout(Some(quiet)).unwrap();
    let mut buf = [0u8; 64];
    let until = std::time::Instant::now() + quiet;
    loop {
        match vm.shell().read(&mut buf) {
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
            // Not restarted after a stop and continue: keep listening.
            Err(e) if e.kind() == ErrorKind::Interrupted && std::time::Instant::now() < until => {}
            other => panic!("expected silence on the shell, got {other:?}"),
        }
    }
    assert!(vm.child.try_wait().unwrap().is_none(), "the VM exited");
}

#[test]
fn panic_mode_hangs_without_handshake() {
    let mut vm = Vm::start(&[("FAKE_VM_MODE", "panic"), ("FAKE_VM_BOOT_MS", "0")]);
    vm.greeting();
    vm.serial
        .wait_for("Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000100\n");
    vm.serial.wait_for("---[ end Kernel panic");
    assert_no_handshake(&mut vm, Duration::from_millis(200));
    assert_eq!(vm.hmp("system_powerdown"), "");
    assert_eq!(vm.hmp("info status"), "VM status: running\r\n");
    vm.finish();
}

#[test]
fn no_backdoor_mode() {
    let mut vm = Vm::start(&[("FAKE_VM_MODE", "no-backdoor"), ("FAKE_VM_BOOT_MS", "0")]);
    vm.greeting();
    vm.serial.wait_for("Reached target multi-user.target");
    assert_no_handshake(&mut vm, Duration::from_millis(200));
    assert_eq!(vm.hmp("system_powerdown"), "");
    assert!(vm.wait_exit().0.success());
    vm.finish();
}

#[test]
fn flood_mode_keeps_the_shell_working() {
    let lines = 20_000;
    let lines_env = lines.to_string();
    let mut vm = Vm::start(&[
        ("FAKE_VM_MODE", "flood"),
        ("FAKE_VM_FLOOD_LINES", &lines_env),
    ]);
    vm.handshake();
    assert_eq!(vm.run("echo still here").0, "still here\n");
    let serial = vm
        .serial
        .wait_for(&format!("flood line {:>12} ", lines - 1));
    let flood: Vec<&[u8]> = serial
        .split(|&b| b == b'\n')
        .filter(|l| contains(l, b"fake-vm flood line"))
        .collect();
    assert_eq!(flood.len(), lines);
    assert!(
        flood.iter().all(|l| (70..=90).contains(&l.len())),
        "line length"
    );
    vm.finish();
}

#[test]
fn garbage_mode() {
    let mut vm = Vm::start(&[("FAKE_VM_MODE", "garbage")]);
    vm.handshake();
    let serial = vm.serial.wait_for("<&>");
    for needle in [
        &b"\0"[..],
        b"\xff\xfe",
        b"\x1b[",
        b"\x01",
        b"\x0b",
        b"\x1f",
        b"\r\n",
        b"]]>",
    ] {
        assert!(contains(&serial, needle), "{needle:?} missing");
    }
    assert!(std::str::from_utf8(&serial).is_err());
    assert_eq!(vm.run("echo ok").0, "ok\n");
    vm.finish();
}

#[test]
fn noise_mode_precedes_handshake_with_firmware_output() {
    let mut vm = Vm::start(&[("FAKE_VM_MODE", "noise")]);
    let got = vm.read_shell_until(HANDSHAKE);
    assert!(got.starts_with(b"\x1b[2J"), "{}", lossy(&got));
    assert!(contains(&got, b"BdsDxe: loading Boot0001"));
    assert!(got.ends_with(HANDSHAKE));
    assert_eq!(vm.run("echo ok").0, "ok\n");
    vm.finish();
}

#[test]
fn hang_term_mode_needs_sigkill() {
    let mut vm = Vm::start(&[("FAKE_VM_MODE", "hang-term")]);
    vm.handshake();
    // The fake VM runs under its original pid (it re-executed itself).
    vm.serial
        .wait_for(&format!("fake-vm: pid {}\n", vm.child.id()));
    signal_group(vm.child.id(), "TERM");
    assert_eq!(vm.run("echo survived").0, "survived\n");
    assert!(
        vm.child.try_wait().unwrap().is_none(),
        "SIGTERM stopped the fake VM"
    );
    vm.finish();
}

#[test]
fn serial_extra_lines_follow_the_handshake() {
    let mut vm = Vm::start(&[
        ("FAKE_VM_SERIAL_EXTRA", "ready-1,ready-2"),
        ("FAKE_VM_SERIAL_EXTRA_INTERVAL_MS", "10"),
    ]);
    vm.handshake();
    let serial = lossy(&vm.serial.wait_for("ready-2\n"));
    let (one, two) = (
        serial.find("ready-1\n").unwrap(),
        serial.find("ready-2\n").unwrap(),
    );
    assert!(serial.find("connecting to host...").unwrap() < one && one < two);
    vm.finish();
}

#[test]
fn ignores_the_rest_of_a_nixos_command_line() {
    let mut vm = Vm::start_with(Setup {
        args: &[
            "-machine",
            "type=q35,accel=kvm:tcg",
            "-cpu",
            "max",
            "-name",
            "machine",
            "-m",
            "1024",
            "-smp",
            "1",
            "-net",
            "nic,netdev=user.0,model=virtio",
            "-netdev",
            "user,id=user.0,",
            "-virtfs",
            "local,path=/nix/store,security_model=none,mount_tag=nix-store",
            "-device",
            "virtio-net-pci,netdev=vlan1,mac=52:54:00:12:01:01",
            "-netdev",
            "vde,id=vlan1,sock=/nonexistent",
            "-device",
            "virtio-keyboard",
            "-usb",
            "-device",
            "usb-tablet,bus=usb-bus.0",
            "-kernel",
            "/nonexistent/kernel",
            "-append",
            "console=ttyS0 panic=1",
        ],
        ..Setup::default()
    });
    vm.greeting();
    assert_eq!(vm.hmp("info name"), "machine\r\n");
    assert_eq!(vm.hmp("set_link virtio-net-pci.1 off"), "");
    assert_eq!(vm.hmp("set_link user.0 off"), "");
    assert_eq!(
        vm.hmp("set_link virtio-net-pci.2 off"),
        "Error: Device 'virtio-net-pci.2' not found\r\n"
    );
    vm.handshake();
    vm.finish();
}

#[test]
fn start_script_exports_env_and_binary_is_cached() {
    let dir = tempfile::tempdir().unwrap();
    let script = write_start_script(
        dir.path(),
        "x",
        &[("FAKE_VM_STDERR", "it's \"quoted\" $HOME")],
    );
    assert_eq!(script, dir.path().join("run-x-vm"));
    let text = fs::read_to_string(&script).unwrap();
    assert!(
        text.contains("export FAKE_VM_STDERR='it'\\''s \"quoted\" $HOME'\n"),
        "{text}"
    );
    assert!(text.ends_with(&format!("exec '{}' \"$@\"\n", fake_vm_binary().display())));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        fs::metadata(&script).unwrap().permissions().mode() & 0o777,
        0o755
    );
    assert!(std::ptr::eq(fake_vm_binary(), fake_vm_binary()));
}
