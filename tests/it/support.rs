//! Running the real `vmtest-min` binary in a scratch directory, and checking what it
//! left behind.
//!
//! [`Test`] is a builder: a script, start scripts (fake or real), arguments; then
//! [`Test::run`] (wait for the exit) or [`Test::spawn`] (watch stderr line by line,
//! send signals). Every run gets its own `TMPDIR` inside the scratch directory and a
//! scrubbed environment, writes its XML log there, and is killed if it outlives
//! [`HARD_LIMIT`]. [`Output::assert_clean`] checks that no process and no file of the
//! run survived it.

use std::ffi::OsString;
use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::fake_vm::write_start_script;

/// An XML element of a log: name, attributes, text.
pub type Element = (String, Vec<(String, String)>, String);

/// No test run may take longer than this.
pub const HARD_LIMIT: Duration = Duration::from_secs(300);

/// A run of the binary being prepared.
pub struct Test {
    dir: tempfile::TempDir,
    script: Option<String>,
    start_scripts: Vec<PathBuf>,
    args: Vec<OsString>,
    env: Vec<(String, String)>,
    stdin: Option<Stdio>,
    log_xml: bool,
}

impl Default for Test {
    fn default() -> Test {
        Test::new()
    }
}

impl Test {
    /// A fresh scratch directory with an empty `tmp/` for `TMPDIR`.
    pub fn new() -> Test {
        let dir = tempfile::Builder::new()
            .prefix("vmt-")
            .tempdir()
            .expect("scratch dir");
        fs::create_dir(dir.path().join("tmp")).expect("tmp dir");
        Test {
            dir,
            script: None,
            start_scripts: Vec::new(),
            args: Vec::new(),
            env: Vec::new(),
            stdin: None,
            log_xml: true,
        }
    }

    /// The scratch directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The test script (written to `test.cmds`).
    pub fn script(mut self, text: &str) -> Test {
        self.script = Some(text.to_string());
        self
    }

    /// Adds a fake machine `name` whose fake VM gets `env`.
    pub fn fake(mut self, name: &str, env: &[(&str, &str)]) -> Test {
        let scripts = self.dir.path().join("bin");
        fs::create_dir_all(&scripts).expect("bin dir");
        let path = write_start_script(&scripts, name, env);
        self.start_scripts.push(path);
        self
    }

    /// Adds a start script by path.
    pub fn start_script(mut self, path: &Path) -> Test {
        self.start_scripts.push(path.to_path_buf());
        self
    }

    /// Adds a command-line argument (after `run`).
    pub fn arg(mut self, arg: impl Into<OsString>) -> Test {
        self.args.push(arg.into());
        self
    }

    /// Sets an environment variable for the run.
    pub fn env(mut self, key: &str, value: &str) -> Test {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// Passes no `--log-xml` (by default the log goes to `log.xml` in the scratch
    /// directory).
    pub fn without_log_xml(mut self) -> Test {
        self.log_xml = false;
        self
    }

    /// Writes an executable `fake-bin/<name>` running the shell `script`, and puts
    /// `fake-bin` first on `PATH`, so the run finds it instead of the real program.
    pub fn fake_program(mut self, name: &str, script: &str) -> Test {
        let dir = self.dir.path().join("fake-bin");
        fs::create_dir_all(&dir).expect("fake-bin dir");
        let path = dir.join(name);
        fs::write(&path, format!("#!/bin/sh\n{script}\n")).expect("write fake program");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).expect("chmod");
        let path_var = std::env::var("PATH").unwrap_or_default();
        self.env
            .push(("PATH".to_string(), format!("{}:{path_var}", dir.display())));
        self
    }

    /// Gives the run this stdin (default: `/dev/null`).
    pub fn stdin(mut self, stdin: impl Into<Stdio>) -> Test {
        self.stdin = Some(stdin.into());
        self
    }

    /// Gives the run `text` on stdin, then end of input (as typed at the prompt
    /// and ended with Ctrl-D). `text` must fit a pipe's buffer.
    pub fn input(self, text: &str) -> Test {
        use std::io::Write;
        let (reader, mut writer) = std::io::pipe().expect("pipe");
        writer.write_all(text.as_bytes()).expect("write input");
        drop(writer);
        self.stdin(reader)
    }

    fn command(&self, subcommand: &str) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_vmtest-min"));
        command.env_clear();
        if let Some(path) = std::env::var_os("PATH") {
            command.env("PATH", path);
        }
        // The fake VM's shell runs on the host: its `~` is the scratch directory.
        command
            .env("HOME", self.dir.path())
            .env("TMPDIR", self.dir.path().join("tmp"))
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir(self.dir.path())
            .arg(subcommand)
            .args(["--color", "never"]);
        if self.log_xml {
            command
                .arg("--log-xml")
                .arg(self.dir.path().join("log.xml"));
        }
        if !self.start_scripts.is_empty() {
            command.arg("--start-scripts").args(&self.start_scripts);
        }
        command.args(&self.args);
        if let Some(script) = &self.script {
            let path = self.dir.path().join("test.cmds");
            fs::write(&path, script).expect("write script");
            command.arg("--").arg("test.cmds");
        }
        command
    }

    /// Runs `vmtest-min run …` to the end.
    pub fn run(self) -> Output {
        self.spawn().finish()
    }

    /// Runs `vmtest-min check …` to the end.
    pub fn check(self) -> Output {
        let mut command = self.command("check");
        Running::start(&mut command, self).finish()
    }

    /// Starts `vmtest-min run …` and returns at once.
    pub fn spawn(self) -> Running {
        let mut command = self.command("run");
        Running::start(&mut command, self)
    }
}

/// A running `vmtest-min`.
pub struct Running {
    test: Test,
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
    reader: Option<JoinHandle<()>>,
    stdout_reader: Option<JoinHandle<()>>,
    stdout: Arc<Mutex<String>>,
    started: Instant,
}

impl Running {
    fn start(command: &mut Command, mut test: Test) -> Running {
        command
            .stdin(test.stdin.take().unwrap_or_else(Stdio::null))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let mut child = command.spawn().expect("run vmtest-min");
        let stderr = child.stderr.take().expect("stderr");
        let mut stdout = child.stdout.take().expect("stdout");
        let collected = Arc::new(Mutex::new(String::new()));
        let sink = collected.clone();
        let stdout_reader = std::thread::spawn(move || {
            let mut block = [0u8; 4096];
            while let Ok(count @ 1..) = std::io::Read::read(&mut stdout, &mut block) {
                let text = String::from_utf8_lossy(&block[..count]).into_owned();
                sink.lock().expect("stdout").push_str(&text);
            }
        });
        let (sender, lines) = channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Running {
            test,
            child,
            lines,
            seen: Vec::new(),
            reader: Some(reader),
            stdout_reader: Some(stdout_reader),
            stdout: collected,
            started: Instant::now(),
        }
    }

    /// The scratch directory.
    pub fn dir(&self) -> &Path {
        self.test.dir()
    }

    /// Waits until a stderr line contains `text`; panics after `timeout`.
    pub fn wait_for_line(&mut self, text: &str, timeout: Duration) -> String {
        let until = Instant::now() + timeout;
        loop {
            if let Some(line) = self.seen.iter().find(|line| line.contains(text)) {
                return line.clone();
            }
            let left = until.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => panic!(
                    "no stderr line containing {text:?} within {timeout:?}; stderr so far:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Waits until stdout contains `text`; panics after `timeout`.
    pub fn wait_for_stdout(&self, text: &str, timeout: Duration) {
        let until = Instant::now() + timeout;
        while !self.stdout.lock().expect("stdout").contains(text) {
            assert!(
                Instant::now() < until,
                "no {text:?} on stdout within {timeout:?}; stdout so far:\n{}",
                self.stdout.lock().expect("stdout")
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Sends `signal` to the driver (not to its machines).
    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) only sends a signal to our own child.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, signal);
        }
    }

    /// Waits for the exit (killing the run after [`HARD_LIMIT`]).
    pub fn finish(mut self) -> Output {
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status;
            }
            if self.started.elapsed() > HARD_LIMIT {
                // SAFETY: kill(2) on our own child's process group.
                unsafe {
                    libc::kill(-(self.child.id() as libc::pid_t), libc::SIGKILL);
                }
                let _ = self.child.wait();
                self.seen.extend(self.lines.try_iter());
                let skip = self.seen.len().saturating_sub(80);
                panic!(
                    "vmtest-min ran longer than {HARD_LIMIT:?}; the last lines of its stderr:\n{}",
                    self.seen[skip..].join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        if let Some(reader) = self.reader.take() {
            reader.join().expect("stderr reader");
        }
        self.seen.extend(self.lines.try_iter());
        if let Some(reader) = self.stdout_reader.take() {
            reader.join().expect("stdout reader");
        }
        let stdout = self.stdout.lock().expect("stdout").clone();
        use std::os::unix::process::ExitStatusExt;
        let code = status
            .code()
            .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
        let xml = fs::read_to_string(self.test.dir.path().join("log.xml")).unwrap_or_default();
        Output {
            code,
            stdout,
            stderr: self.seen.join("\n"),
            xml,
            elapsed: self.started.elapsed(),
            test: self.test,
        }
    }
}

/// What a finished run left.
pub struct Output {
    /// The exit code (128+N when killed by signal N).
    pub code: i32,
    /// Everything it printed on stdout.
    pub stdout: String,
    /// Everything it printed on stderr.
    pub stderr: String,
    /// The XML log (empty if none was written).
    pub xml: String,
    /// How long it ran.
    pub elapsed: Duration,
    test: Test,
}

impl Output {
    /// The scratch directory.
    pub fn dir(&self) -> &Path {
        self.test.dir.path()
    }

    /// Asserts the exit code, showing stderr when it differs.
    #[track_caller]
    pub fn code(&self, expected: i32) -> &Output {
        assert_eq!(
            self.code, expected,
            "exit code {} (expected {expected}); stderr:\n{}",
            self.code, self.stderr
        );
        self
    }

    /// Asserts that the run took less than `limit`.
    #[track_caller]
    pub fn within(&self, limit: Duration) -> &Output {
        assert!(
            self.elapsed < limit,
            "took {:?}, over {limit:?}",
            self.elapsed
        );
        self
    }

    /// Asserts that stderr contains `text`.
    #[track_caller]
    pub fn stderr_has(&self, text: &str) -> &Output {
        assert!(
            self.stderr.contains(text),
            "stderr lacks {text:?}; stderr:\n{}",
            self.stderr
        );
        self
    }

    /// Asserts that stderr does not contain `text`.
    #[track_caller]
    pub fn stderr_lacks(&self, text: &str) -> &Output {
        assert!(
            !self.stderr.contains(text),
            "stderr has {text:?}; stderr:\n{}",
            self.stderr
        );
        self
    }

    /// Parses the XML log with xml-rs, asserting it is well-formed and closed, and
    /// returns its elements as `(name, attributes, text)`.
    #[track_caller]
    pub fn xml_elements(&self) -> Vec<Element> {
        xml_elements(&self.xml)
    }

    /// Asserts that the run left no process and no file in its `TMPDIR`, and that
    /// its XML log, if it wrote one, is well-formed and closed.
    #[track_caller]
    pub fn clean(&self) -> &Output {
        if !self.xml.is_empty() {
            self.xml_elements();
        }
        let tmp = self.dir().join("tmp");
        let left: Vec<_> = fs::read_dir(&tmp)
            .expect("tmp dir")
            .map(|entry| entry.expect("entry").path())
            .collect();
        assert!(left.is_empty(), "left in TMPDIR: {left:?}");
        let processes = processes_under(self.dir());
        assert!(
            processes.is_empty(),
            "processes left running: {processes:?}"
        );
        self
    }
}

/// Parses `xml` with xml-rs; panics unless it is a well-formed, closed `<logfile>`.
#[track_caller]
pub fn xml_elements(xml: &str) -> Vec<Element> {
    use xml::reader::{EventReader, XmlEvent};
    let mut elements = Vec::new();
    let mut open: Vec<usize> = Vec::new();
    for event in EventReader::new(xml.as_bytes()) {
        match event.unwrap_or_else(|e| panic!("malformed XML log: {e}\n{xml}")) {
            XmlEvent::StartElement {
                name, attributes, ..
            } => {
                open.push(elements.len());
                let attributes = attributes
                    .into_iter()
                    .map(|a| (a.name.local_name, a.value))
                    .collect();
                elements.push((name.local_name, attributes, String::new()));
            }
            XmlEvent::Characters(text) => {
                if let Some(&index) = open.last() {
                    elements[index].2.push_str(&text);
                }
            }
            XmlEvent::EndElement { .. } => {
                open.pop();
            }
            _ => {}
        }
    }
    assert_eq!(
        elements.first().map(|e| e.0.as_str()),
        Some("logfile"),
        "{xml}"
    );
    elements
}

/// Processes whose working directory or command line mentions `dir`.
pub fn processes_under(dir: &Path) -> Vec<String> {
    let needle = dir.to_string_lossy().into_owned();
    let mut found = Vec::new();
    let Ok(entries) = fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.chars().all(|c| c.is_ascii_digit()))
        else {
            continue;
        };
        let cwd = fs::read_link(entry.path().join("cwd"))
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        let cmdline = fs::read(entry.path().join("cmdline"))
            .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
            .unwrap_or_default();
        let state = fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let zombie = state
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'));
        if !zombie && (cwd.starts_with(&needle) || cmdline.contains(&needle)) {
            found.push(format!("{pid}: {cmdline}"));
        }
    }
    found
}

impl Running {
    /// The driver's process id, for looking at it in `/proc` while it runs.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// Builds (or finds cached) the test guest `dir` under the repository with the
/// builder script `builder`, failing with its output; returns the directory.
pub fn build_guest(dir: &str, builder: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join(dir);
    let output = Command::new(root.join(builder))
        .arg(&dir)
        .output()
        .unwrap_or_else(|e| panic!("run {builder}: {e}"));
    assert!(
        output.status.success(),
        "building the guest with {builder} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    dir
}
