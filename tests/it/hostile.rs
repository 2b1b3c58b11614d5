//! Hostile cases: a guest that kills or replaces its own root shell, a QEMU that is
//! killed or stopped, a monitor connection that goes away, start scripts that do not
//! `exec` QEMU, huge and binary output, and directories the run cannot write.
//!
//! Each case checks that the run ends in time with the exit status the man page
//! documents and a message naming the machine, the command and what was seen; that
//! the terminal shows no raw control bytes; that the XML log parses and holds every
//! line printed before the failure; and that no process or temp file of the run is
//! left. Every case runs twice: on an idle host (`idle_host`) and beside two busy
//! loops (`busy_host`), as on a loaded builder.
//!
//! The tests run as root (here and in CI), and root ignores directory permissions:
//! an unwritable directory is made as a path under a regular file (`ENOTDIR`) or
//! under `/proc`, where not even root can create anything.

use crate::fake_vm::fake_vm_binary;
use crate::support::{Output, Test, xml_elements};
use std::collections::HashSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Busy loops on the host, ended when dropped (also when the test panics).
struct BusyHost(Vec<Child>);

impl BusyHost {
    /// Starts `loops` shell busy loops.
    fn start(loops: usize) -> BusyHost {
        let spawn = |_| {
            Command::new("sh")
                .args(["-c", "while :; do :; done"])
                .stdin(Stdio::null())
                .spawn()
                .expect("start a busy loop")
        };
        BusyHost((0..loops).map(spawn).collect())
    }
}

impl Drop for BusyHost {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Runs each case as two tests, `CASE::idle_host` and `CASE::busy_host`.
macro_rules! on_idle_and_busy_host {
    ($($case:ident),* $(,)?) => {$(
        mod $case {
            #[test]
            fn idle_host() {
                super::$case();
            }

            #[test]
            fn busy_host() {
                let _busy = super::BusyHost::start(2);
                super::$case();
            }
        }
    )*};
}

on_idle_and_busy_host!(
    shell_killed_and_restarted,
    shell_killed_and_not_restarted,
    command_execs_another_program,
    command_closes_its_console,
    qemu_killed_mid_command,
    qemu_stopped,
    monitor_connection_closed,
    start_script_prints_before_exec,
    start_script_forks_qemu_and_exits,
    start_script_starts_nothing,
    serial_line_of_ten_megabytes,
    output_of_a_hundred_megabytes,
    binary_output_on_both_streams,
    tmpdir_unusable,
    log_directory_unusable,
    output_directory_unusable,
    real_qemu_killed_mid_command,
);

/// Asserts how a run ended: its exit `code`, within `limit`, each of `messages` on
/// stderr, a terminal free of raw control bytes, an XML log (if one was written)
/// that parses and holds what was printed before the failure, and nothing left.
#[track_caller]
fn ended(out: &Output, code: i32, limit: Duration, messages: &[&str]) {
    out.code(code).within(limit);
    for message in messages {
        out.stderr_has(message);
    }
    terminal_is_clean(out);
    if !out.xml.is_empty() {
        log_holds_the_terminal(out);
    }
    out.clean();
}

/// No raw control character (an escape sequence, a carriage return, …) reached
/// the terminal.
#[track_caller]
fn terminal_is_clean(out: &Output) {
    for (name, text) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        let raw = text
            .chars()
            .find(|&c| c.is_control() && c != '\n' && c != '\t');
        assert!(raw.is_none(), "{name} holds the raw character {raw:?}");
    }
}

/// Every line printed on stderr, but the error report and the program's own notes
/// (`vmtest-min…`), is a line of the XML log, less its `machine: ` or `machine # `
/// prefix. Serial lines the terminal shows with escapes are left out: the log drops
/// those characters instead.
#[track_caller]
fn log_holds_the_terminal(out: &Output) {
    let elements = xml_elements(&out.xml);
    let logged: HashSet<&str> = elements
        .iter()
        .flat_map(|(_, _, text)| text.lines())
        .collect();
    let printed = out.stderr.lines().filter(|line| {
        !line.starts_with("!!! ") && !line.starts_with("vmtest-min") && !line.contains('\\')
    });
    for line in printed {
        let bare = ["machine: ", "machine # "]
            .iter()
            .find_map(|prefix| line.strip_prefix(prefix));
        // An empty serial line is an element with no text.
        let found = |text: &str| text.trim().is_empty() || logged.contains(text);
        assert!(
            found(line) || bare.is_some_and(found),
            "printed but not in the XML log: {line:?}\n{}",
            out.xml
        );
    }
}

/// The same input at the interactive prompt (`-I`), where a failed step does not
/// end the run: for checking that the step after a failure works.
fn at_the_prompt(env: &[(&str, &str)], input: &str) -> Output {
    Test::new()
        .fake("machine", env)
        .arg("-I")
        .input(input)
        .run()
}

/// The fake guest's backdoor shell is killed mid-command and restarted (as systemd
/// restarts `backdoor.service`): the step fails saying so, the next step runs on the
/// new shell.
fn shell_killed_and_restarted() {
    let env = [("FAKE_VM_SHELL_EXIT", "respawn")];
    let steps = "machine.succeed \"echo step-one\"\nmachine.succeed \"kill -9 $$\"\n";
    let out = Test::new()
        .fake("machine", &env)
        .script(&format!("{steps}machine.succeed \"echo never\"\n"))
        .run();
    ended(
        &out,
        3,
        Duration::from_secs(30),
        &["machine: the guest's root shell restarted while running `kill -9 $$`"],
    );
    out.stderr_lacks("must succeed: echo never");
    let out = at_the_prompt(&env, &format!("{steps}machine.succeed \"echo back\"\n"));
    ended(
        &out,
        0,
        Duration::from_secs(30),
        &["the guest's root shell restarted while running `kill -9 $$`"],
    );
    assert!(out.stdout.contains("back\n"), "stdout: {}", out.stdout);
}

/// The backdoor shell is killed and nothing restarts it: the guest runs on, and
/// the step can only time out; the next step says the shell is still taken.
fn shell_killed_and_not_restarted() {
    let env = [("FAKE_VM_SHELL_EXIT", "idle")];
    // Under `timeout=`, the command's parent is `timeout`, whose parent is the shell.
    let steps = "machine.succeed \"echo step-one\"\n\
                 machine.succeed 'kill -9 \"$(awk \"{print \\$4}\" /proc/$PPID/stat)\"; sleep 5' timeout=2\n";
    let out = Test::new().fake("machine", &env).script(steps).run();
    ended(
        &out,
        1,
        Duration::from_secs(30),
        &["machine: timed out after 12 s waiting for command `kill -9"],
    );
    let out = at_the_prompt(&env, &format!("{steps}machine.succeed \"echo next\"\n"));
    ended(
        &out,
        0,
        Duration::from_secs(30),
        &["machine: the guest shell is still busy with command `kill -9"],
    );
}

/// A command `exec`s another program: it replaces only the command's own shell, so
/// the step times out like any long command, and the guest's shell is then free again.
fn command_execs_another_program() {
    let steps =
        "machine.succeed \"echo step-one\"\nmachine.succeed \"exec sleep 1000\" timeout=2\n";
    let out = Test::new().fake("machine", &[]).script(steps).run();
    ended(
        &out,
        1,
        Duration::from_secs(30),
        &["machine: timed out after 2 s waiting for command `exec sleep 1000` to finish"],
    );
    let out = at_the_prompt(&[], &format!("{steps}machine.succeed \"echo next\"\n"));
    ended(&out, 0, Duration::from_secs(30), &["exec sleep 1000"]);
    assert!(out.stdout.contains("next\n"), "stdout: {}", out.stdout);
}

/// A command closes its standard streams (the guest's console, as far as it can
/// reach it): the frame runs it in a subshell, so the shell keeps its console and
/// both steps pass.
fn command_closes_its_console() {
    let out = Test::new()
        .fake("machine", &[("FAKE_VM_SHELL_EXIT", "respawn")])
        .script(
            "machine.succeed \"exec 0<&- 1>&- 2>&-; sleep 0.2\"\n\
             machine.succeed \"echo still-here\" == \"still-here\"\n",
        )
        .run();
    ended(&out, 0, Duration::from_secs(30), &["passed"]);
}

/// The pid in the driver's `QEMU running (pid N)` line.
fn qemu_pid(line: &str) -> i32 {
    let digits: String = line
        .rsplit("(pid ")
        .next()
        .unwrap_or_default()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("no pid in {line:?}"))
}

/// Kills QEMU with SIGKILL while `sleep 30` runs in the guest of `test`.
fn kill_qemu_mid_command(test: Test, limit: Duration) {
    let mut run = test
        .script("machine.succeed \"echo step-one\"\nmachine.succeed \"sleep 30\"\n")
        .spawn();
    let pid = qemu_pid(&run.wait_for_line("QEMU running (pid ", limit));
    run.wait_for_line("must succeed: sleep 30", limit);
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: kill(2) on the QEMU this test's run started.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
    }
    let out = run.finish();
    ended(
        &out,
        3,
        limit,
        &["machine: QEMU exited (killed by SIGKILL) while running `sleep 30`"],
    );
}

/// QEMU killed with SIGKILL mid-command (the fake VM).
fn qemu_killed_mid_command() {
    kill_qemu_mid_command(Test::new().fake("machine", &[]), Duration::from_secs(30));
}

/// QEMU killed with SIGKILL mid-command (the real busybox guest under TCG).
fn real_qemu_killed_mid_command() {
    let test = Test::new().start_script(&crate::real::start_script("machine"));
    kill_qemu_mid_command(test, Duration::from_secs(240));
}

/// QEMU (its whole process group) stopped with SIGSTOP: the monitor never answers,
/// so the monitor command times out after its 60 s (the driver's own `info kvm`
/// question before it gives up after 10 s); the run then ends promptly and the
/// stopped processes are gone.
fn qemu_stopped() {
    let mut run = Test::new()
        .fake("machine", &[])
        .script(
            "machine.succeed \"(sleep 0.5; kill -STOP 0) >/dev/null 2>&1 &\"\n\
             sleep 2\n\
             machine.send_monitor_command \"info status\"\n",
        )
        .spawn();
    let message =
        "machine: timed out after 60 s waiting for an answer to monitor command `info status`";
    run.wait_for_line(message, Duration::from_secs(120));
    let reported = Instant::now();
    let out = run.finish();
    // SIGTERM alone would wait for a continue that never comes: the group gets
    // SIGCONT too, so it ends without waiting out the grace period for SIGKILL.
    let cleanup = reported.elapsed();
    assert!(
        cleanup < Duration::from_millis(2500),
        "cleanup took {cleanup:?}"
    );
    ended(&out, 1, Duration::from_secs(120), &[message]);
}

/// The monitor connection closes while the guest's shell keeps working: shell steps
/// pass, the monitor step fails saying the connection closed.
fn monitor_connection_closed() {
    let out = Test::new()
        .fake("machine", &[])
        .script(
            "machine.succeed 'touch \"$FAKE_VM_DIR/close-monitor\"; sleep 0.3'\n\
             machine.succeed \"echo shell-still-works\" == \"shell-still-works\"\n\
             machine.send_monitor_command \"info status\"\n",
        )
        .run();
    ended(
        &out,
        3,
        Duration::from_secs(30),
        &["machine: the connection to QEMU closed while sending monitor command `info status`"],
    );
}

/// Writes an executable `bin/run-machine-vm` with `body` after the shebang; `FAKE`
/// in it stands for the fake VM's path.
fn start_script(test: &Test, body: &str) -> PathBuf {
    let bin = test.dir().join("bin");
    std::fs::create_dir_all(&bin).expect("bin dir");
    let path = bin.join("run-machine-vm");
    let fake = fake_vm_binary().display().to_string();
    let text = format!("#!/bin/sh\n{}\n", body.replace("FAKE", &fake));
    std::fs::write(&path, text).expect("write the start script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

/// A start script that prints on stdout (the serial console) and stderr before it
/// `exec`s QEMU: its lines are the console's first and QEMU's stderr.
fn start_script_prints_before_exec() {
    let test = Test::new();
    let script = start_script(
        &test,
        "echo 'hello from the start script'\necho 'start script stderr' >&2\nexec 'FAKE' \"$@\"",
    );
    let out = test
        .start_script(&script)
        .script("machine.succeed \"echo ok\" == \"ok\"\n")
        .run();
    ended(
        &out,
        0,
        Duration::from_secs(30),
        &[
            "machine # hello from the start script",
            "machine: qemu: start script stderr",
        ],
    );
}

/// A start script that starts QEMU in the background and returns: the run fails
/// before any step runs, saying the script must run QEMU in the foreground, and the
/// background QEMU is ended.
fn start_script_forks_qemu_and_exits() {
    let test = Test::new();
    let script = start_script(&test, "(sleep 0.3; exec 'FAKE' \"$@\") &\nexit 0");
    let out = test
        .start_script(&script)
        .script("machine.succeed \"echo never\"\n")
        .run();
    ended(
        &out,
        3,
        Duration::from_secs(30),
        &[
            "machine: QEMU exited (exit status 0) while waiting for QEMU to connect to its sockets; \
             the start script returned and left QEMU in the background",
        ],
    );
}

/// A start script that exits 0 without starting anything.
fn start_script_starts_nothing() {
    let test = Test::new();
    let script = start_script(&test, "exit 0");
    let out = test
        .start_script(&script)
        .script("machine.succeed \"echo never\"\n")
        .run();
    ended(
        &out,
        3,
        Duration::from_secs(30),
        &[
            "machine: QEMU exited (exit status 0) while waiting for QEMU to connect to its sockets",
            "serial console: (nothing printed)",
        ],
    );
    out.stderr_lacks("in the background");
}

/// 10 MB on the serial console with no newline: cut into lines, all of it logged,
/// and the guest's shell keeps working.
fn serial_line_of_ten_megabytes() {
    let out = Test::new()
        .fake("machine", &[])
        .script(
            "machine.succeed \"head -c 10000000 /dev/zero | tr '\\\\0' x >&2\"\n\
             machine.succeed \"echo after\" == \"after\"\n\
             machine.wait_for_console_text \"xxxxxxxx\" timeout=10\n",
        )
        .run();
    ended(&out, 0, Duration::from_secs(60), &["passed"]);
    let logged: usize = out
        .xml_elements()
        .iter()
        .filter(|(_, attributes, _)| attributes.iter().any(|(_, value)| value == "serial"))
        .filter(|(_, _, text)| !text.is_empty() && text.bytes().all(|b| b == b'x'))
        .map(|(_, _, text)| text.len())
        .sum();
    assert_eq!(logged, 10_000_000, "serial bytes in the XML log");
}

/// The highest `VmHWM` of process `pid` seen until it exits, in kB.
fn peak_rss_until_exit(pid: u32) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let mut peak = 0;
        while let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
            let hwm = status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|value| value.trim().trim_end_matches(" kB").trim().parse().ok());
            match hwm {
                Some(kb) => peak = peak.max(kb),
                None => break,
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        peak
    })
}

/// 100 MB of output through `succeed`: it arrives whole, and the driver holds it
/// once. Its peak RSS is bounded by the output itself (read into one buffer of the
/// announced size, handed on without copies) plus the driver's own few MB.
fn output_of_a_hundred_megabytes() {
    let run = Test::new()
        .fake("machine", &[])
        .script(
            "machine.succeed \"head -c 100000000 /dev/zero | tr '\\\\0' y\" contains \"yyyyyyyy\"\n\
             machine.succeed \"echo after\" == \"after\"\n",
        )
        .spawn();
    let peak = peak_rss_until_exit(run.pid());
    let out = run.finish();
    let peak_kb = peak.join().expect("the RSS watcher");
    ended(&out, 0, Duration::from_secs(120), &["passed"]);
    eprintln!("peak RSS of the driver for 100 MB of output: {peak_kb} kB");
    assert!(
        peak_kb < 100_000_000 / 1024 + 48 * 1024,
        "the driver's peak RSS was {peak_kb} kB for 100 MB of output"
    );
}

/// Every byte value, invalid UTF-8, escape sequences and C1 controls on the command's
/// output and on the serial console: the terminal shows them escaped, the log parses.
fn binary_output_on_both_streams() {
    let test = Test::new();
    let bytes = test.dir().join("bytes");
    let mut content: Vec<u8> = (0..=255).collect();
    content.extend_from_slice(
        b"\xff\xfe\xc3\x28\xe2\x82 \xc2\x9b2J \x1b[2J\x1b]0;title\x07 ]]> </line>\n",
    );
    std::fs::write(&bytes, content).expect("write the bytes");
    let cat = format!("cat '{}'", bytes.display());
    let out = test
        .fake("machine", &[])
        .script(&format!(
            "machine.succeed \"{cat}; {cat} >&2; echo\" contains \"title\"\n\
             machine.succeed \"{cat}; {cat} >&2; exit 3\"\n"
        ))
        .run();
    ended(
        &out,
        1,
        Duration::from_secs(30),
        &[
            "machine: command `cat '",
            "failed (exit status 3)",
            "\\x1b[2J",
        ],
    );
}

/// TMPDIR names something where no directory can be made: a regular file, and a
/// directory of `/proc`. The run stops before anything boots, naming the directory.
fn tmpdir_unusable() {
    let test = Test::new();
    let file = test.dir().join("a-file");
    std::fs::write(&file, "").expect("write a file");
    for (tmpdir, error) in [
        (file.display().to_string(), "Not a directory"),
        ("/proc".to_string(), "No such file or directory"),
    ] {
        let out = Test::new()
            .fake("machine", &[])
            .env("TMPDIR", &tmpdir)
            .script("machine.succeed \"echo never\"\n")
            .run();
        ended(
            &out,
            3,
            Duration::from_secs(30),
            &[&format!("creating a temp dir in `{tmpdir}`: {error}")],
        );
        out.stderr_lacks("starting vm");
    }
}

/// The XML log's directory cannot hold it: a usage error before anything boots.
fn log_directory_unusable() {
    let test = Test::new();
    let file = test.dir().join("a-file");
    std::fs::write(&file, "").expect("write a file");
    for log in [
        file.join("log.xml"),
        Path::new("/proc/vmtest-log.xml").into(),
    ] {
        let out = Test::new()
            .fake("machine", &[])
            .without_log_xml()
            .arg("--log-xml")
            .arg(&log)
            .script("machine.succeed \"echo never\"\n")
            .run();
        ended(
            &out,
            2,
            Duration::from_secs(30),
            &[&format!("cannot create log file `{}`", log.display())],
        );
        out.stderr_lacks("starting vm");
    }
}

/// The output directory's parent is a regular file, or in `/proc`: a usage error
/// before anything boots. (A missing parent is created: `driver.rs` tests that.)
fn output_directory_unusable() {
    let test = Test::new();
    let file = test.dir().join("a-file");
    std::fs::write(&file, "").expect("write a file");
    for dir in [file.join("out"), Path::new("/proc/vmtest-out/out").into()] {
        let out = Test::new()
            .fake("machine", &[])
            .without_log_xml()
            .arg("-o")
            .arg(&dir)
            .script("machine.succeed \"echo never\"\n")
            .run();
        ended(
            &out,
            2,
            Duration::from_secs(30),
            &[&format!(
                "cannot create output directory `{}`",
                dir.display()
            )],
        );
        out.stderr_lacks("starting vm");
    }
}
