//! `fake-vm`: a stand-in for `qemu-system-x86_64` that boots in milliseconds.
//!
//! A NixOS-style start script (`run-<name>-vm`) can `exec` this program instead of QEMU. It
//! speaks to the test driver the way QEMU and a NixOS guest do:
//!
//! * it parses QEMU's argv and, like QEMU, *connects* as a client first to the HMP monitor
//!   (`-monitor unix:PATH`) and then to the backdoor console
//!   (`-chardev socket,id=shell,path=PATH`), exiting 1 with QEMU's error text if it cannot;
//! * its stdout is the serial console (`-serial stdio`): kernel-like boot lines, the backdoor
//!   shell's stderr, and `reboot: Power down` at the end;
//! * like QEMU it *listens* on the QMP socket (`-qmp unix:PATH,server=on,wait=off`) before it
//!   connects anywhere: greeting, `qmp_capabilities`, `query-status`, `stop`, `cont` (other
//!   commands: `CommandNotFound`), and the events `STOP` and `RESUME` when HMP or QMP pause
//!   or resume the guest;
//! * the monitor answers like QEMU 7.2's human monitor over a unix socket, byte for byte
//!   (greeting, readline echo with `ESC[K`/`ESC[D`, `\r\n` line ends, `(qemu) ` prompts);
//! * after a simulated boot it writes the backdoor handshake on the shell socket and runs a
//!   real `bash --norc` whose stdin and stdout are that socket (stderr goes to the serial
//!   console), exactly like NixOS's `backdoor.service`.
//!
//! Guest power-off: the bash `PATH` starts with a per-VM bin dir holding `poweroff` and `reboot`
//! scripts that drop a flag file the fake polls every 10 ms. `system_powerdown` and
//! `sendkey ctrl-alt-delete` on the monitor do the same. With `-no-reboot` every reboot is a
//! power-off, as with QEMU; without it the fake "reboots" (boot lines and a new handshake on the
//! same shell socket). `quit` exits at once.
//!
//! Processes: the fake never installs signal handlers (std only). Its bash child stays in the
//! fake's process group, so a driver that starts the fake in a new process group and kills that
//! group kills the whole "VM". On every exit path the fake controls, it SIGKILLs its descendants
//! (processes started from the backdoor, found through the process tree, the `FAKE_VM_DIR`
//! variable in their environment, and, if the fake leads its process group, the group), reaps
//! bash and waits until they are gone.
//!
//! Environment (all optional):
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `FAKE_VM_MODE` | `normal` | `normal`, `exit`, `panic`, `no-backdoor`, `flood`, `garbage`, `noise`, `hang-term` |
//! | `FAKE_VM_HANDSHAKE` | `new` | `new`: `Spawning backdoor root shell...\n`; `old`: `\n` (2021 guests) |
//! | `FAKE_VM_BOOT_MS` | `50` | simulated boot time before the handshake (or before `exit`) |
//! | `FAKE_VM_STDERR` | MSR error | `exit` mode: message printed on stderr |
//! | `FAKE_VM_EXIT_CODE` | `1` | `exit` mode: exit status |
//! | `FAKE_VM_EXIT_SIGNAL` | unset | `exit` mode: `abort` dies by SIGABRT instead |
//! | `FAKE_VM_FLOOD_LINES` | `100000` | `flood` mode: serial lines written after the handshake |
//! | `FAKE_VM_SERIAL_EXTRA` | unset | comma-separated lines printed on serial after the handshake |
//! | `FAKE_VM_SERIAL_EXTRA_INTERVAL_MS` | `0` | pause before each of those lines |
//! | `FAKE_VM_CONSOLE` | `direct` | `lossy`: drop 2 KiB buffers of long console bursts, as QEMU does |
//! | `FAKE_VM_CONSOLE_SAFE` | `98304` | `lossy`: bytes at the start of a burst that are never dropped |
//! | `FAKE_VM_SHARED` | `1` | `0`: the backdoor is not told where the shared directory is |
//! | `FAKE_VM_SHELL_EXIT` | `quit` | when the backdoor bash ends: `quit` (QEMU exits 0), `respawn` (handshake and a new bash, as systemd restarts `backdoor.service`), `idle` (the guest runs on without a shell) |
//!
//! Modes: `exit` prints `FAKE_VM_STDERR` and exits after the boot time without a handshake
//! (QEMU aborting at start); `panic` prints a kernel panic on serial and hangs; `no-backdoor`
//! boots but never sends the handshake; `flood` floods the serial console from a thread while the
//! shell keeps working; `garbage` prints invalid UTF-8, NULs, escape sequences and XML-hostile
//! text on serial before the handshake; `noise` writes EDK2-like firmware output on the shell
//! socket before the handshake; `hang-term` re-executes the fake through
//! `bash -c 'trap "" TERM INT HUP; exec ...'` so the fake itself (same pid) and all its children
//! ignore SIGTERM/SIGINT/SIGHUP: only SIGKILL stops it.
//!
//! Monitor loss: a `close-monitor` file created in `FAKE_VM_DIR` (from the guest:
//! `touch "$FAKE_VM_DIR/close-monitor"`) makes the fake shut its monitor connection down
//! while the guest and its shell run on.
//!
//! The backdoor bash also sees `FAKE_VM_DIR` (the per-VM dir; `set_link` writes
//! `link.<name>` files with `on`/`off` there), the inherited `SHARED_DIR`, and
//! `VMTEST_SHARED_DIR` (where a guest that does not mount the shared directory at
//! `/tmp/shared` has it), set to `SHARED_DIR` unless `FAKE_VM_SHARED=0`.
//!
//! Build: `rustc --edition 2021 -O tests/fake_vm/main.rs -o fake-vm` (std only).

use std::collections::{HashMap, HashSet};
use std::env;
use std::fs;
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{self, Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// The program name QEMU prefixes its error messages with.
const QEMU: &str = "qemu-system-x86_64";
/// How often the main loop checks flag files and the bash child.
const POLL: Duration = Duration::from_millis(10);
/// The new (2023+) backdoor handshake.
const HANDSHAKE_NEW: &[u8] = b"Spawning backdoor root shell...\n";
/// What EDK2 prints on hvc0 before the guest kernel runs.
const FIRMWARE_NOISE: &[u8] = b"\x1b[2J\x1b[01;01H\x1b[=3h\x1b[2J\x1b[01;01HBdsDxe: loading \
Boot0001 \"UEFI QEMU HARDDISK QM00001 \" from PciRoot(0x0)/Pci(0x1F,0x2)/Sata(0x0,0xFFFF,0x0)\r\n\
BdsDxe: starting Boot0001 \"UEFI QEMU HARDDISK QM00001 \" from PciRoot(0x0)/Pci(0x1F,0x2)\r\n";
/// Serial output for `garbage` mode: bytes that break naive UTF-8 / XML / terminal handling.
const GARBAGE: &[u8] = b"garbage: invalid utf-8 \xff\xfe\xc3\x28 \xe2\x82 end\r\n\
garbage: nul \x00 bytes \x00\x00 here\r\n\
garbage: \x1b[1;31mcolour\x1b[0m \x1b]0;title\x07 \x1b[2J\x1b[H cursor\r\n\
garbage: control \x01\x02\x0b\x0c\x1b\x1f\x7f chars\r\n\
garbage: xml ]]> <&> </line> &amp; \"'\r\n";
/// A 2x2 black PPM image, what `screendump` writes.
const PPM: &[u8] = b"P6\n2 2\n255\n\0\0\0\0\0\0\0\0\0\0\0\0";
/// A 2x2 black PNG image, what `screendump FILE -f png` writes.
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\0\0\0\x02\0\0\0\x02\x08\x02\0\0\0\xfd\xd4\x9a\
\x73\0\0\0\x0bIDATx\xdac`@\x06\0\0\x0e\0\x01:5\x04V\0\0\0\0IEND\xaeB`\x82";
/// Key names QEMU 7.2's HMP `sendkey` accepts (checked against the real binary).
const KEYS: &str = "unmapped shift shift_r alt alt_r ctrl ctrl_r menu esc 1 2 3 4 5 6 7 8 9 0 \
minus equal backspace tab q w e r t y u i o p bracket_left bracket_right ret a s d f g h j k l \
semicolon apostrophe grave_accent backslash z x c v b n m comma dot slash asterisk spc caps_lock \
f1 f2 f3 f4 f5 f6 f7 f8 f9 f10 num_lock scroll_lock kp_divide kp_multiply kp_subtract kp_add \
kp_enter kp_decimal sysrq kp_0 kp_1 kp_2 kp_3 kp_4 kp_5 kp_6 kp_7 kp_8 kp_9 less f11 f12 print \
home pgup pgdn end left up down right insert delete stop again props undo front copy open paste \
find cut lf help meta_l meta_r compose pause ro hiragana henkan yen muhenkan katakanahiragana \
kp_comma kp_equals power sleep wake audionext audioprev audiostop audioplay audiomute volumeup \
volumedown mediaselect mail calculator computer ac_home ac_back ac_forward ac_refresh \
ac_bookmarks lang1 lang2";

/// What the parts of QEMU's command line that matter say.
#[derive(Debug, Default)]
struct Args {
    /// `-monitor` argument as given and the socket path in it.
    monitor: Option<(String, PathBuf)>,
    /// The socket path of `-qmp unix:PATH,...`.
    qmp: Option<PathBuf>,
    /// `-chardev` argument as given and the socket path of the `shell` chardev.
    shell: Option<(String, PathBuf)>,
    /// `-name` (guest name), for `info name`.
    name: Option<String>,
    /// `-no-reboot`: a guest reboot ends QEMU.
    no_reboot: bool,
    /// Network clients `set_link` knows: NIC names and netdev ids.
    links: Vec<String>,
}

impl Args {
    /// Parses QEMU-style arguments, ignoring everything that does not matter here.
    fn parse(argv: &[String]) -> Args {
        let mut args = Args::default();
        let mut nics = 0;
        let mut it = argv.iter();
        while let Some(word) = it.next() {
            // QEMU accepts `-flag` and `--flag`; other words are positional (a disk image).
            let Some(flag) = word.strip_prefix('-') else {
                continue;
            };
            let flag = flag.strip_prefix('-').unwrap_or(flag);
            match flag {
                "no-reboot" => args.no_reboot = true,
                "monitor" | "qmp" | "chardev" | "name" | "device" | "netdev" | "net" => {
                    let Some(value) = it.next() else { break };
                    args.option(flag, value, &mut nics);
                }
                _ => {
                    // Other flags: skip the value, if the next word is not itself a flag.
                    if it.as_slice().first().is_some_and(|v| !v.starts_with('-')) {
                        it.next();
                    }
                }
            }
        }
        for i in nics..2 {
            args.links.push(format!("virtio-net-pci.{i}"));
        }
        args
    }

    /// Records one option that takes a value.
    fn option(&mut self, flag: &str, value: &str, nics: &mut usize) {
        let kv = |key: &str| {
            value
                .split(',')
                .find_map(|p| p.strip_prefix(key)?.strip_prefix('='))
        };
        match flag {
            "monitor" => {
                if let Some(path) = value.strip_prefix("unix:") {
                    let path = path.split(',').next().unwrap_or(path);
                    self.monitor = Some((value.to_string(), PathBuf::from(path)));
                }
            }
            "qmp" => {
                if let Some(path) = value.strip_prefix("unix:") {
                    self.qmp = Some(PathBuf::from(path.split(',').next().unwrap_or(path)));
                }
            }
            "chardev" if value.starts_with("socket,") && kv("id") == Some("shell") => {
                if let Some(path) = kv("path") {
                    self.shell = Some((value.to_string(), PathBuf::from(path)));
                }
            }
            "name" => {
                let first = value.split(',').next().unwrap_or(value);
                self.name = Some(first.strip_prefix("guest=").unwrap_or(first).to_string());
            }
            "device" if value.starts_with("virtio-net-pci") => self.add_nic(kv("id"), nics),
            "net" if value.starts_with("nic") && kv("model") == Some("virtio") => {
                self.add_nic(kv("name"), nics);
            }
            "netdev" => self.links.extend(kv("id").map(str::to_string)),
            _ => {}
        }
    }

    /// Adds a NIC: QEMU names it by its id, or `virtio-net-pci.N` when it has none.
    fn add_nic(&mut self, id: Option<&str>, nics: &mut usize) {
        match id {
            Some(id) => self.links.push(id.to_string()),
            None => {
                self.links.push(format!("virtio-net-pci.{nics}"));
                *nics += 1;
            }
        }
    }
}

/// Failure modes (`FAKE_VM_MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Normal,
    Exit,
    Panic,
    NoBackdoor,
    Flood,
    Garbage,
    Noise,
    HangTerm,
}

/// Settings read from `FAKE_VM_*` environment variables.
#[derive(Debug)]
struct Config {
    mode: Mode,
    old_handshake: bool,
    boot: Duration,
    stderr: String,
    exit_code: i32,
    abort: bool,
    flood_lines: u64,
    extra: Vec<String>,
    extra_interval: Duration,
    console: Console,
    shared: bool,
    shell_exit: ShellExit,
}

/// What the guest does when its backdoor bash ends (`FAKE_VM_SHELL_EXIT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ShellExit {
    /// QEMU exits with status 0.
    Quit,
    /// The handshake again and a new bash on the same socket.
    Respawn,
    /// The guest runs on, answering only the monitor.
    Idle,
}

/// How the backdoor's stdout reaches the shell socket (`FAKE_VM_CONSOLE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Console {
    /// bash writes to the socket itself: nothing is lost.
    Direct,
    /// Through a relay that, like QEMU's virtconsole when the host does not drain the
    /// socket, drops whole 2 KiB buffers: in every burst of console output (bytes with
    /// no pause of [`BURST_GAP`]), each [`DROP_EVERY`]th full buffer after the first
    /// `FAKE_VM_CONSOLE_SAFE` bytes (96 KiB: QEMU queues about that much).
    Lossy(u64),
}

/// A pause in console output that ends a burst.
const BURST_GAP: Duration = Duration::from_millis(100);
/// In a lossy burst, one full buffer in this many is dropped.
const DROP_EVERY: u64 = 8;
/// QEMU's virtio-console buffer size.
const CONSOLE_BUFFER: usize = 2048;

impl Config {
    /// Reads the configuration, exiting with status 2 on invalid values.
    fn from_env() -> Config {
        let mode = match env_str("FAKE_VM_MODE", "normal").as_str() {
            "normal" => Mode::Normal,
            "exit" => Mode::Exit,
            "panic" => Mode::Panic,
            "no-backdoor" => Mode::NoBackdoor,
            "flood" => Mode::Flood,
            "garbage" => Mode::Garbage,
            "noise" => Mode::Noise,
            "hang-term" => Mode::HangTerm,
            other => die_config("FAKE_VM_MODE", other),
        };
        let old_handshake = match env_str("FAKE_VM_HANDSHAKE", "new").as_str() {
            "new" => false,
            "old" => true,
            other => die_config("FAKE_VM_HANDSHAKE", other),
        };
        let extra = env_str("FAKE_VM_SERIAL_EXTRA", "");
        Config {
            mode,
            old_handshake,
            boot: Duration::from_millis(env_num("FAKE_VM_BOOT_MS", 50)),
            stderr: env_str(
                "FAKE_VM_STDERR",
                "qemu-system-x86_64: failed to set MSR 0x10a to 0x0",
            ),
            exit_code: env_num("FAKE_VM_EXIT_CODE", 1),
            abort: match env_str("FAKE_VM_EXIT_SIGNAL", "").as_str() {
                "" => false,
                "abort" => true,
                other => die_config("FAKE_VM_EXIT_SIGNAL", other),
            },
            flood_lines: env_num("FAKE_VM_FLOOD_LINES", 100_000),
            extra: extra
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            extra_interval: Duration::from_millis(env_num("FAKE_VM_SERIAL_EXTRA_INTERVAL_MS", 0)),
            console: match env_str("FAKE_VM_CONSOLE", "direct").as_str() {
                "direct" => Console::Direct,
                "lossy" => Console::Lossy(env_num("FAKE_VM_CONSOLE_SAFE", 96 * 1024)),
                other => die_config("FAKE_VM_CONSOLE", other),
            },
            shared: match env_str("FAKE_VM_SHARED", "1").as_str() {
                "1" => true,
                "0" => false,
                other => die_config("FAKE_VM_SHARED", other),
            },
            shell_exit: match env_str("FAKE_VM_SHELL_EXIT", "quit").as_str() {
                "quit" => ShellExit::Quit,
                "respawn" => ShellExit::Respawn,
                "idle" => ShellExit::Idle,
                other => die_config("FAKE_VM_SHELL_EXIT", other),
            },
        }
    }
}

/// An environment variable, or `default` when unset.
fn env_str(name: &str, default: &str) -> String {
    env::var(name).unwrap_or_else(|_| default.to_string())
}

/// A numeric environment variable, or `default` when unset or empty.
fn env_num<T: std::str::FromStr>(name: &str, default: T) -> T {
    match env::var(name) {
        Ok(v) if !v.is_empty() => v.parse().unwrap_or_else(|_| die_config(name, &v)),
        _ => default,
    }
}

/// Reports an invalid `FAKE_VM_*` value and exits 2.
fn die_config(name: &str, value: &str) -> ! {
    eprintln!("fake-vm: invalid {name}={value:?}");
    process::exit(2);
}

/// Writes raw bytes to the serial console (stdout) and flushes. Errors are ignored: a console
/// reader that went away must not take the VM down.
fn serial_bytes(bytes: &[u8]) {
    let mut out = io::stdout().lock();
    let _ = out.write_all(bytes).and_then(|()| out.flush());
}

/// Writes one line to the serial console.
fn serial(line: &str) {
    serial_bytes(format!("{line}\n").as_bytes());
}

/// An I/O error as QEMU (`strerror`) spells it, without Rust's ` (os error N)` suffix.
fn strerror(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Connects to a unix socket the driver listens on, retrying briefly if it is not ready;
/// on failure prints QEMU's message and exits 1.
fn connect_or_die(flag: &str, arg: &str, path: &Path) -> UnixStream {
    let mut attempt = 0;
    loop {
        match UnixStream::connect(path) {
            Ok(stream) => return stream,
            Err(e)
                if attempt < 5
                    && matches!(
                        e.kind(),
                        io::ErrorKind::ConnectionRefused | io::ErrorKind::NotFound
                    ) =>
            {
                attempt += 1;
                thread::sleep(POLL);
            }
            Err(e) => {
                let path = path.display();
                eprintln!(
                    "{QEMU}: {flag} {arg}: Failed to connect to '{path}': {}",
                    strerror(&e)
                );
                process::exit(1);
            }
        }
    }
}

/// Something the monitor asks the main loop to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Event {
    /// `quit`: stop at once.
    Quit,
    /// `system_powerdown`: the guest powers off.
    PowerDown,
    /// `sendkey ctrl-alt-delete`: the guest reboots.
    Reset,
}

/// How a boot of the guest ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// QEMU exits with this status.
    Exit(i32),
    /// The guest rebooted (QEMU exits 0 under `-no-reboot`).
    Reboot,
}

/// QEMU's human monitor on one connection.
struct Monitor {
    stream: UnixStream,
    events: Sender<Event>,
    name: Option<String>,
    links: HashMap<String, bool>,
    /// Where `set_link` records link states for the guest to see.
    dir: PathBuf,
    /// The QMP side, told when the guest is paused or resumed.
    qmp: Arc<QmpHub>,
}

/// QEMU's QMP server: the connected clients (each gets every event) and the run state.
struct QmpHub {
    clients: Mutex<Vec<UnixStream>>,
    running: AtomicBool,
}

impl QmpHub {
    /// Records a pause or resume and, if it changed anything, sends `STOP` or `RESUME`.
    fn set_running(&self, running: bool) {
        if self.running.swap(running, Ordering::SeqCst) != running {
            self.event(if running { "RESUME" } else { "STOP" });
        }
    }

    /// Sends an event to every client, as QEMU formats it.
    fn event(&self, name: &str) {
        let line = format!(
            "{{\"timestamp\": {{\"seconds\": 1700000000, \"microseconds\": 1}}, \"event\": \"{name}\"}}\r\n"
        );
        let mut clients = self.clients.lock().unwrap();
        clients.retain_mut(|client| client.write_all(line.as_bytes()).is_ok());
    }

    /// Accepts clients until the listener fails.
    fn serve(self: Arc<Self>, listener: UnixListener) {
        for stream in listener.incoming().flatten() {
            let hub = Arc::clone(&self);
            thread::spawn(move || hub.session(stream));
        }
    }

    /// One client: greeting, then one answer per command line, with the command's `id`.
    fn session(&self, stream: UnixStream) {
        let Ok(mut writer) = stream.try_clone() else {
            return;
        };
        let greeting =
            "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 22, \"minor\": 2, \"major\": 7}, \
                        \"package\": \"\"}, \"capabilities\": [\"oob\"]}}\r\n";
        if writer.write_all(greeting.as_bytes()).is_err() {
            return;
        }
        if let Ok(events) = stream.try_clone() {
            self.clients.lock().unwrap().push(events);
        }
        let mut reader = io::BufReader::new(stream);
        let mut line = String::new();
        while io::BufRead::read_line(&mut reader, &mut line).is_ok_and(|n| n > 0) {
            let field = |name: &str| {
                let start = line.find(&format!("\"{name}\""))? + name.len() + 2;
                let rest = line[start..].trim_start().strip_prefix(':')?.trim_start();
                let end = rest.find([',', '}']).unwrap_or(rest.len());
                Some(rest[..end].trim().to_string())
            };
            let id = field("id").map_or(String::new(), |id| format!(", \"id\": {id}"));
            let command = field("execute").unwrap_or_default();
            let reply = match command.trim_matches('"') {
                "qmp_capabilities" => "\"return\": {}".to_string(),
                "query-status" => {
                    let running = self.running.load(Ordering::SeqCst);
                    let status = if running { "running" } else { "paused" };
                    format!("\"return\": {{\"status\": \"{status}\", \"singlestep\": false, \"running\": {running}}}")
                }
                "stop" | "cont" => {
                    self.set_running(command.trim_matches('"') == "cont");
                    "\"return\": {}".to_string()
                }
                other => format!(
                    "\"error\": {{\"class\": \"CommandNotFound\", \"desc\": \"The command {other} has not been found\"}}"
                ),
            };
            if writer
                .write_all(format!("{{{reply}{id}}}\r\n").as_bytes())
                .is_err()
            {
                return;
            }
            line.clear();
        }
    }
}

impl Monitor {
    /// Serves the monitor until `quit` or until the driver closes it.
    fn run(mut self) {
        let mut editor = LineEditor::default();
        if self
            .send("QEMU 7.2.22 monitor - type 'help' for more information\n(qemu) ")
            .is_err()
        {
            return;
        }
        let mut buf = [0u8; 4096];
        loop {
            let n = match self.stream.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            for &byte in &buf[..n] {
                let mut echo = Vec::new();
                let line = editor.feed(byte, &mut echo);
                if self.stream.write_all(&echo).is_err() {
                    return;
                }
                let Some(line) = line else { continue };
                if !self.command(&line) {
                    return;
                }
            }
        }
    }

    /// Writes monitor output, turning `\n` into `\r\n` as QEMU does.
    fn send(&mut self, text: &str) -> io::Result<()> {
        self.stream.write_all(text.replace('\n', "\r\n").as_bytes())
    }

    /// Runs one command line and prints its reply and the prompt; false after `quit`.
    fn command(&mut self, line: &str) -> bool {
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some((&cmd, args)) = words.split_first() else {
            return self.send("(qemu) ").is_ok();
        };
        let mut event = None;
        let reply = match cmd {
            "quit" | "q" if args.is_empty() => {
                let _ = self.events.send(Event::Quit);
                return false;
            }
            "info" => self.info(args),
            "stop" | "s" | "cont" | "c" | "system_powerdown" | "quit" | "q" if !args.is_empty() => {
                let name = match cmd {
                    "stop" | "s" => "stop|s",
                    "cont" | "c" => "cont|c",
                    "quit" | "q" => "quit|q",
                    _ => "system_powerdown",
                };
                extraneous(name, cmd)
            }
            "stop" | "s" | "cont" | "c" => {
                self.qmp.set_running(matches!(cmd, "cont" | "c"));
                String::new()
            }
            "system_powerdown" => {
                event = Some(Event::PowerDown);
                String::new()
            }
            "set_link" => self.set_link(args),
            "sendkey" => sendkey(args, &mut event),
            "screendump" => screendump(args),
            "hostfwd_add" | "hostfwd_remove" => String::new(),
            _ => format!("unknown command: '{cmd}'\n"),
        };
        if self.send(&format!("{reply}(qemu) ")).is_err() {
            return false;
        }
        if let Some(event) = event {
            let _ = self.events.send(event);
        }
        true
    }

    /// `info status`, `info name`.
    fn info(&self, args: &[&str]) -> String {
        match args {
            [] => "info name  -- show the current VM name\n\
                   info status  -- show the current VM status (running|paused)\n"
                .to_string(),
            ["status"] => {
                format!(
                    "VM status: {}\n",
                    if self.qmp.running.load(Ordering::SeqCst) {
                        "running"
                    } else {
                        "paused"
                    }
                )
            }
            ["name"] => self
                .name
                .as_ref()
                .map_or(String::new(), |n| format!("{n}\n")),
            [sub @ ("status" | "name"), ..] => extraneous(sub, &format!("info {sub}")),
            [sub, ..] => format!("unknown command: 'info {sub}'\n"),
        }
    }

    /// `set_link NAME on|off`.
    fn set_link(&mut self, args: &[&str]) -> String {
        let (name, up) = match args {
            [] => {
                return "set_link: string expected\nTry \"help set_link\" for more information\n"
                    .into();
            }
            [name, "on", ..] => (*name, true),
            [name, "off", ..] => (*name, false),
            _ => {
                return "Expected 'on' or 'off'\nTry \"help set_link\" for more information\n"
                    .into();
            }
        };
        let Some(state) = self.links.get_mut(name) else {
            return format!("Error: Device '{name}' not found\n");
        };
        *state = up;
        let file = self.dir.join(format!("link.{name}"));
        let _ = fs::write(file, if up { "on\n" } else { "off\n" });
        String::new()
    }
}

/// QEMU's "extraneous characters" error for a command given arguments it does not take.
fn extraneous(name: &str, help: &str) -> String {
    format!(
        "{name}: extraneous characters at the end of line\n\
         Try \"help {help}\" for more information\n"
    )
}

/// `sendkey KEYS [HOLD_MS]`: validates key names like QEMU; ctrl-alt-delete resets the guest.
fn sendkey(args: &[&str], event: &mut Option<Event>) -> String {
    let Some(keys) = args.first() else {
        return "sendkey: string expected\nTry \"help sendkey\" for more information\n".into();
    };
    for key in keys.split('-') {
        let hex = key
            .strip_prefix("0x")
            .is_some_and(|h| u32::from_str_radix(h, 16).is_ok());
        if !hex && !KEYS.split_whitespace().any(|k| k == key) {
            return format!("invalid parameter: {key}\n");
        }
    }
    if let Some(hold) = args.get(1) {
        if hold.parse::<u32>().is_err() {
            return format!(
                "invalid char '{hold}' in expression\nTry \"help sendkey\" for more information\n"
            );
        }
    }
    if *keys == "ctrl-alt-delete" {
        *event = Some(Event::Reset);
    }
    String::new()
}

/// `screendump FILE [-f ppm|png]`: writes a tiny valid image.
fn screendump(args: &[&str]) -> String {
    let Some(file) = args.first() else {
        return "screendump: filename expected\nTry \"help screendump\" for more information\n"
            .into();
    };
    let png = args.windows(2).any(|w| w == ["-f", "png"]);
    match fs::write(file, if png { PNG } else { PPM }) {
        Ok(()) => String::new(),
        Err(e) => format!("Error: failed to open file '{file}': {}\n", strerror(&e)),
    }
}

/// The part of QEMU's readline that shapes the echo: after every edit it moves the cursor back
/// over the previously shown line (`ESC[D` each), reprints the line and clears to the end of
/// the line (`ESC[K`). Enter (CR or LF) prints a newline and yields the line.
#[derive(Debug, Default)]
struct LineEditor {
    line: Vec<u8>,
    shown: usize,
    /// 0: normal, 1: after ESC, 2: inside an escape sequence.
    esc: u8,
}

impl LineEditor {
    /// Feeds one input byte, appending the echo to `out`; returns a completed line.
    fn feed(&mut self, byte: u8, out: &mut Vec<u8>) -> Option<String> {
        match (self.esc, byte) {
            (1, b'[' | b'O') => self.esc = 2,
            (1, _) => self.esc = 0,
            (2, 0x40..=0x7e) => self.esc = 0,
            (2, _) => {}
            (_, 0x1b) => self.esc = 1,
            (_, b'\r' | b'\n') => {
                out.extend_from_slice(b"\r\n");
                self.shown = 0;
                let line = std::mem::take(&mut self.line);
                return Some(String::from_utf8_lossy(&line).into_owned());
            }
            (_, 8 | 127) => self.backspace(out),
            (_, 32..) => {
                self.line.push(byte);
                self.redraw(out);
            }
            _ => {}
        }
        None
    }

    /// Deletes the last character, if any.
    fn backspace(&mut self, out: &mut Vec<u8>) {
        if self.line.pop().is_some() {
            self.redraw(out);
        }
    }

    /// Reprints the line the way QEMU's `readline_update` does.
    fn redraw(&mut self, out: &mut Vec<u8>) {
        out.extend(b"\x1b[D".repeat(self.shown));
        out.extend_from_slice(&self.line);
        out.extend_from_slice(b"\x1b[K");
        self.shown = self.line.len();
    }
}

/// The per-VM directory (`$TMPDIR/fake-vm-<pid>`): guest bin dir, home and flag files.
struct VmDir {
    root: PathBuf,
}

impl VmDir {
    /// The per-VM directory; if `create`, creates it or exits 1.
    fn new(create: bool) -> VmDir {
        let dir = VmDir {
            root: env::temp_dir().join(format!("fake-vm-{}", process::id())),
        };
        if let Err(e) = if create { dir.create() } else { Ok(()) } {
            eprintln!("fake-vm: cannot create {}: {e}", dir.root.display());
            process::exit(1);
        }
        dir
    }

    /// Creates the directory with the `poweroff`, `reboot` and `halt` scripts.
    fn create(&self) -> io::Result<()> {
        let dir = self;
        fs::create_dir_all(dir.bin())?;
        fs::create_dir_all(dir.root.join("home"))?;
        for (name, flag) in [
            ("poweroff", "poweroff"),
            ("reboot", "reboot"),
            ("halt", "poweroff"),
        ] {
            let script = dir.bin().join(name);
            let flag = dir
                .root
                .join(flag)
                .display()
                .to_string()
                .replace('\'', r"'\''");
            fs::write(&script, format!("#!/bin/sh\n: > '{flag}'\n"))?;
            fs::set_permissions(&script, fs::Permissions::from_mode(0o755))?;
        }
        Ok(())
    }

    /// The directory put first on the guest's `PATH`.
    fn bin(&self) -> PathBuf {
        self.root.join("bin")
    }

    /// Takes a pending `poweroff`/`reboot` request made from inside the guest.
    fn take_request(&self) -> Option<Event> {
        [("poweroff", Event::PowerDown), ("reboot", Event::Reset)]
            .into_iter()
            .find(|(flag, _)| fs::remove_file(self.root.join(flag)).is_ok())
            .map(|(_, event)| event)
    }
}

impl Drop for VmDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.root);
    }
}

/// The running fake VM.
struct Vm {
    cfg: Config,
    args: Args,
    shell: Option<UnixStream>,
    /// The monitor connection, to shut down on a `close-monitor` request.
    monitor: Option<UnixStream>,
    events: Receiver<Event>,
    dir: VmDir,
}

impl Vm {
    /// Boots the guest (again after each reboot) until QEMU would exit; returns the status.
    fn run(&self) -> i32 {
        if self.cfg.mode == Mode::Exit {
            return self.exit_early();
        }
        loop {
            let outcome = self.boot_once();
            match outcome {
                Outcome::Exit(code) => return code,
                Outcome::Reboot if self.args.no_reboot => return 0,
                Outcome::Reboot => serial("[    0.000000] fake-vm: rebooting"),
            }
        }
    }

    /// `exit` mode: QEMU fails after `FAKE_VM_BOOT_MS` (unless `quit` comes first).
    fn exit_early(&self) -> i32 {
        if self.wait(Some(self.cfg.boot)) == Some(Event::Quit) {
            return 0;
        }
        eprintln!("{}", self.cfg.stderr);
        if self.cfg.abort {
            process::abort();
        }
        self.cfg.exit_code
    }

    /// One guest boot: firmware noise (`noise` mode), boot lines, boot delay, then the backdoor
    /// until power-off or reboot.
    fn boot_once(&self) -> Outcome {
        if self.cfg.mode == Mode::Noise {
            self.shell_write(FIRMWARE_NOISE);
        }
        print_boot_lines();
        if self.cfg.mode == Mode::Garbage {
            serial_bytes(GARBAGE);
        }
        if self.cfg.mode == Mode::Panic {
            print_panic();
            return self.idle(false);
        }
        if let Some(event) = self.wait(Some(self.cfg.boot)) {
            return guest_down(event);
        }
        serial("[    0.400000] systemd[1]: Reached target multi-user.target.");
        match &self.shell {
            Some(shell) if self.cfg.mode != Mode::NoBackdoor => self.backdoor(shell),
            _ => self.idle(true),
        }
    }

    /// Waits for a monitor event for up to `timeout` (forever if `None`).
    fn wait(&self, timeout: Option<Duration>) -> Option<Event> {
        match timeout {
            Some(t) => match self.events.recv_timeout(t) {
                Ok(event) => Some(event),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => {
                    thread::sleep(t);
                    None
                }
            },
            None => self.events.recv().ok(),
        }
    }

    /// A guest without backdoor: it reacts only to the monitor (and only to `quit` if it is not
    /// `alive`, e.g. after a kernel panic).
    fn idle(&self, alive: bool) -> Outcome {
        loop {
            match self.wait(None) {
                Some(Event::Quit) => return Outcome::Exit(0),
                Some(event) if alive => return guest_down(event),
                Some(_) => {}
                None => thread::park(),
            }
        }
    }

    /// Writes to the shell socket; a driver that went away is not an error for QEMU.
    fn shell_write(&self, bytes: &[u8]) {
        if let Some(mut shell) = self.shell.as_ref() {
            let _ = shell.write_all(bytes);
        }
    }

    /// Sends the handshake, runs bash on the shell socket and waits for the guest to go down;
    /// when bash ends, does what `FAKE_VM_SHELL_EXIT` says.
    fn backdoor(&self, shell: &UnixStream) -> Outcome {
        serial("connecting to host...");
        let mut first = true;
        loop {
            self.shell_write(if self.cfg.old_handshake {
                b"\n"
            } else {
                HANDSHAKE_NEW
            });
            let mut bash = match self.spawn_bash(shell) {
                Ok(bash) => bash,
                Err(e) => {
                    serial(&format!("fake-vm: cannot start bash: {e}"));
                    return self.idle(true);
                }
            };
            if first {
                self.start_serial_threads();
                first = false;
            }
            let outcome = self.supervise(&mut bash);
            kill_guest(&mut bash, &self.dir.root);
            match (outcome, self.cfg.shell_exit) {
                (Some(outcome), _) => return outcome,
                (None, ShellExit::Quit) => return Outcome::Exit(0),
                (None, ShellExit::Idle) => {
                    serial("fake-vm: the backdoor shell ended; it is not restarted");
                    return self.idle(true);
                }
                (None, ShellExit::Respawn) => serial("fake-vm: the backdoor shell ended; restarting it"),
            }
        }
    }

    /// Starts the `flood` and `FAKE_VM_SERIAL_EXTRA` writers, once a boot.
    fn start_serial_threads(&self) {
        if self.cfg.mode == Mode::Flood {
            let lines = self.cfg.flood_lines;
            thread::spawn(move || flood(lines));
        }
        if !self.cfg.extra.is_empty() {
            let (lines, pause) = (self.cfg.extra.clone(), self.cfg.extra_interval);
            thread::spawn(move || print_extra(&lines, pause));
        }
    }

    /// Polls for monitor events, guest power-off requests, `close-monitor` requests and bash
    /// exiting; `None` when bash ended.
    fn supervise(&self, bash: &mut Child) -> Option<Outcome> {
        loop {
            if let Some(event) = self.wait(Some(POLL)).or_else(|| self.dir.take_request()) {
                return Some(guest_down(event));
            }
            if fs::remove_file(self.dir.root.join("close-monitor")).is_ok() {
                if let Some(monitor) = &self.monitor {
                    let _ = monitor.shutdown(std::net::Shutdown::Both);
                }
                serial("fake-vm: monitor connection closed");
            }
            match bash.try_wait() {
                Ok(None) => {}
                Ok(Some(_)) | Err(_) => return None,
            }
        }
    }

    /// Starts `bash --norc` with stdin and stdout on the shell socket, stderr on serial.
    fn spawn_bash(&self, shell: &UnixStream) -> io::Result<Child> {
        let path = match env::var_os("PATH") {
            Some(p) => env::join_paths([self.dir.bin()].into_iter().chain(env::split_paths(&p)))
                .map_err(io::Error::other)?,
            None => self.dir.bin().into_os_string(),
        };
        let mut command = Command::new("bash");
        command
            .arg("--norc")
            .stdin(OwnedFd::from(shell.try_clone()?))
            .stderr(Stdio::from(io::stdout()))
            .current_dir(env::temp_dir())
            .env("HOME", self.dir.root.join("home"))
            .env("USER", "root")
            .env("PS1", "")
            .env("PATH", path)
            .env("FAKE_VM_DIR", &self.dir.root)
            // Command output stays in the per-VM dir, not the host's /dev/shm.
            .env("VMTEST_OUTPUT_DIR", &self.dir.root)
            .env_remove("VMTEST_SHARED_DIR");
        // A NixOS guest mounts SHARED_DIR at /tmp/shared; this "guest" runs on the
        // host, so it tells the backdoor where the directory is instead.
        if let Some(shared) = env::var_os("SHARED_DIR").filter(|_| self.cfg.shared) {
            command.env("VMTEST_SHARED_DIR", shared);
        }
        match self.cfg.console {
            Console::Direct => {
                command.stdout(OwnedFd::from(shell.try_clone()?));
                command.spawn()
            }
            Console::Lossy(safe) => {
                command.stdout(Stdio::piped());
                let mut child = command.spawn()?;
                let output = child.stdout.take().expect("stdout is piped");
                let socket = shell.try_clone()?;
                thread::spawn(move || relay_lossy(output, socket, safe));
                Ok(child)
            }
        }
    }
}

/// Copies the backdoor's stdout to the shell socket in 2 KiB buffers, dropping some
/// of the buffers of long bursts the way QEMU's virtconsole does (see [`Console`]).
fn relay_lossy(mut output: process::ChildStdout, mut socket: UnixStream, safe: u64) {
    let mut buffer = [0u8; CONSOLE_BUFFER];
    let mut burst = 0u64;
    let mut full_buffers = 0u64;
    let mut last = std::time::Instant::now();
    loop {
        let count = match output.read(&mut buffer) {
            Ok(0) | Err(_) => return,
            Ok(count) => count,
        };
        if last.elapsed() >= BURST_GAP {
            burst = 0;
            full_buffers = 0;
        }
        last = std::time::Instant::now();
        burst += count as u64;
        if count == CONSOLE_BUFFER && burst > safe {
            full_buffers += 1;
            if full_buffers % DROP_EVERY == 0 {
                continue;
            }
        }
        if socket.write_all(&buffer[..count]).is_err() {
            return;
        }
    }
}

/// What happens to the guest (and so to QEMU) on a monitor event or power request.
fn guest_down(event: Event) -> Outcome {
    match event {
        Event::Quit => Outcome::Exit(0),
        Event::PowerDown => {
            serial("[    9.000000] reboot: Power down");
            Outcome::Exit(0)
        }
        Event::Reset => {
            serial("[    9.000000] reboot: Restarting system");
            Outcome::Reboot
        }
    }
}

/// Kernel-like boot messages.
fn print_boot_lines() {
    for line in [
        "[    0.000000] Linux version 6.1.0-fake (fake-vm@localhost) (rustc) #1 SMP PREEMPT_DYNAMIC",
        "[    0.000000] Command line: console=ttyS0 panic=1 boot.panic_on_fail",
        "[    0.100000] virtio_console virtio0: hvc0 ready",
        "[    0.200000] Run /init as init process",
        "<<< NixOS Stage 2 >>>",
    ] {
        serial(line);
    }
}

/// A kernel panic on serial.
fn print_panic() {
    let msg = "Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000100";
    for line in [
        format!("[    1.234567] {msg}"),
        "[    1.234568] CPU: 0 PID: 1 Comm: init Not tainted 6.1.0-fake #1".to_string(),
        "[    1.234569] Call Trace:".to_string(),
        "[    1.234570]  <TASK>".to_string(),
        "[    1.234571]  panic+0x10c/0x2d4".to_string(),
        "[    1.234572]  do_exit.cold+0x15/0x15".to_string(),
        "[    1.234573]  </TASK>".to_string(),
        format!("[    1.234574] ---[ end {msg} ]---"),
    ] {
        serial(&line);
    }
}

/// Writes `lines` serial lines of 80 bytes, in big writes.
fn flood(lines: u64) {
    let mut batch = Vec::with_capacity(1 << 16);
    for n in 0..lines {
        let _ = writeln!(batch, "[ {:>10}] fake-vm flood line {n:>12} {:.<35}", n, "");
        if batch.len() > 60_000 {
            serial_bytes(&batch);
            batch.clear();
        }
    }
    serial_bytes(&batch);
}

/// Prints `FAKE_VM_SERIAL_EXTRA` lines, pausing before each.
fn print_extra(lines: &[String], pause: Duration) {
    for line in lines {
        thread::sleep(pause);
        serial(line);
    }
}

/// The parent pid and process group of a process, from `/proc/PID/stat`.
fn proc_stat(pid: u32) -> Option<(u32, u32)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut fields = stat[stat.rfind(')')? + 1..].split_whitespace();
    let state = fields.next()?;
    if state == "Z" {
        return None;
    }
    Some((fields.next()?.parse().ok()?, fields.next()?.parse().ok()?))
}

/// Live processes of the guest: descendants of this process, processes whose environment
/// holds `marker` (`FAKE_VM_DIR=...`: daemons that left the process tree and the session) and,
/// if this process leads its process group, the other members of the group.
fn guest_processes(marker: &[u8]) -> Vec<u32> {
    let me = process::id();
    let marked = |pid: u32| {
        fs::read(format!("/proc/{pid}/environ"))
            .is_ok_and(|env| env.split(|&b| b == 0).any(|var| var == marker))
    };
    let procs: Vec<(u32, u32, u32)> = fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .filter_map(|pid| proc_stat(pid).map(|(ppid, pgid)| (pid, ppid, pgid)))
        .collect();
    let leader = procs.iter().any(|&(pid, _, pgid)| pid == me && pgid == me);
    let mut found: HashSet<u32> = HashSet::from([me]);
    loop {
        let before = found.len();
        for &(pid, ppid, pgid) in &procs {
            if found.contains(&ppid) || (leader && pgid == me) || marked(pid) {
                found.insert(pid);
            }
        }
        if found.len() == before {
            break;
        }
    }
    found.remove(&me);
    found.into_iter().collect()
}

/// Kills everything running in the guest, reaps bash and waits (up to 200 ms) until the other
/// killed processes are gone, so that the guest is dead when QEMU exits.
fn kill_guest(bash: &mut Child, dir: &Path) {
    let marker = format!("FAKE_VM_DIR={}", dir.display()).into_bytes();
    let pids = guest_processes(&marker);
    if !pids.is_empty() {
        let _ = Command::new("bash")
            .args(["-c", r#"kill -KILL "$@" 2>/dev/null"#, "fake-vm-kill"])
            .args(pids.iter().map(u32::to_string))
            .status();
    }
    let _ = bash.kill();
    let _ = bash.wait();
    for _ in 0..100 {
        if pids.iter().all(|&pid| proc_stat(pid).is_none()) {
            break;
        }
        thread::sleep(Duration::from_millis(2));
    }
}

/// `hang-term` mode: re-executes this program (same pid) with SIGTERM, SIGINT and SIGHUP
/// ignored, which std cannot do itself; ignored signals stay ignored across `exec`.
fn reexec_ignoring_term(argv: &[String]) -> ! {
    let exe = match env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            eprintln!("fake-vm: hang-term: cannot find my own executable: {e}");
            process::exit(2);
        }
    };
    let err = Command::new("bash")
        .args(["-c", r#"trap "" TERM INT HUP; exec "$0" "$@""#])
        .arg(exe)
        .args(argv)
        .env("FAKE_VM_TERM_IGNORED", "1")
        .exec();
    eprintln!("fake-vm: cannot re-exec for hang-term: {err}");
    process::exit(2);
}

fn main() {
    let argv: Vec<String> = env::args().skip(1).collect();
    let cfg = Config::from_env();
    if cfg.mode == Mode::HangTerm && env::var_os("FAKE_VM_TERM_IGNORED").is_none() {
        reexec_ignoring_term(&argv);
    }
    let args = Args::parse(&argv);
    serial(&format!("fake-vm: pid {}", process::id()));
    let qmp = Arc::new(QmpHub {
        clients: Mutex::new(Vec::new()),
        running: AtomicBool::new(true),
    });
    if let Some(path) = &args.qmp {
        let _ = fs::remove_file(path);
        match UnixListener::bind(path) {
            Ok(listener) => {
                let hub = Arc::clone(&qmp);
                thread::spawn(move || hub.serve(listener));
            }
            Err(e) => {
                eprintln!(
                    "{QEMU}: -qmp: Failed to bind socket to {}: {}",
                    path.display(),
                    strerror(&e)
                );
                process::exit(1);
            }
        }
    }
    let monitor = args
        .monitor
        .as_ref()
        .map(|(a, p)| connect_or_die("-monitor", a, p));
    let shell = args
        .shell
        .as_ref()
        .map(|(a, p)| connect_or_die("-chardev", a, p));
    let dir = VmDir::new(cfg.mode != Mode::Exit);
    let (events_tx, events) = mpsc::channel();
    let monitor_handle = monitor.as_ref().and_then(|m| m.try_clone().ok());
    if let Some(stream) = monitor {
        let monitor = Monitor {
            stream,
            events: events_tx,
            name: args.name.clone(),
            links: args.links.iter().map(|l| (l.clone(), true)).collect(),
            dir: dir.root.clone(),
            qmp,
        };
        thread::spawn(move || monitor.run());
    }
    let vm = Vm {
        cfg,
        args,
        shell,
        monitor: monitor_handle,
        events,
        dir,
    };
    let code = vm.run();
    drop(vm);
    process::exit(code);
}
