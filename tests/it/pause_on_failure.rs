//! `--pause-on-failure`: the prompt opens on the machines a failed step left
//! running, when stdin is a terminal (given here by util-linux `script`, whose
//! `-e` passes end of input on as Ctrl-D); end of input goes on to clean up and
//! the failure's exit status.

use crate::fake_vm::write_start_script;
use crate::support::{HARD_LIMIT, Test, processes_under};
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `vmtest-min run --color never ARGS -- test.cmds` on one
/// fake machine in `dir`, with `script` as test.cmds, its stdin, stdout and stderr
/// a pseudo-terminal fed `input` then end of input; returns the exit status and
/// everything it printed.
pub(crate) fn run_on_terminal(dir: &Path, args: &str, script: &str, input: &str) -> (i32, String) {
    fs::create_dir_all(dir.join("tmp")).unwrap();
    fs::create_dir_all(dir.join("bin")).unwrap();
    let start = write_start_script(&dir.join("bin"), "machine", &[]);
    fs::write(dir.join("test.cmds"), script).unwrap();
    let command = format!(
        "exec '{}' run --color never {args} --start-scripts '{}' -- test.cmds",
        env!("CARGO_BIN_EXE_vmtest-min"),
        start.display()
    );
    let mut child = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("TMPDIR", dir.join("tmp"))
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("util-linux `script`");
    let mut stdin = child.stdin.take().unwrap();
    std::io::Write::write_all(&mut stdin, input.as_bytes()).unwrap();
    drop(stdin);
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut text);
        text
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > HARD_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("script outlived {HARD_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let text = reader.join().unwrap().replace("\r\n", "\n");
    assert!(processes_under(dir).is_empty(), "processes left: {text}");
    (status.code().unwrap_or(-1), text)
}

#[test]
fn a_failure_opens_the_prompt_on_the_running_machines() {
    let scratch = Test::new();
    let (code, text) = run_on_terminal(
        scratch.dir(),
        "--pause-on-failure",
        "machine.succeed \"echo made\"\nmachine.succeed \"exit 5\"\nmachine.succeed \"echo never\"\n",
        "machine.succeed \"echo still-$((40 + 2))\"\n",
    );
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("command `exit 5` failed (exit status 5)"),
        "{text}"
    );
    assert!(text.contains(
        "paused after the failure: the machines keep running; Ctrl-D cleans up and exits with status 1"
    ));
    // The statement typed at the prompt ran on the same machine, after the failure
    // and before the cleanup; the rest of the script did not run.
    assert!(text.contains("still-42\n"), "{text}");
    assert!(!text.contains("never"), "{text}");
    let paused = text.find("paused after the failure").unwrap();
    let typed = text.find("must succeed: echo still-").unwrap();
    let cleanup = text.rfind("cleanup").unwrap();
    assert!(paused < typed && typed < cleanup, "{text}");
}

#[test]
fn the_global_timeout_does_not_pause() {
    let scratch = Test::new();
    let (code, text) = run_on_terminal(
        scratch.dir(),
        "--pause-on-failure --global-timeout 3",
        "machine.succeed \"sleep 60\"\n",
        "machine.succeed \"echo typed-$((1 + 1))\"\n",
    );
    assert_eq!(code, 4, "{text}");
    assert!(!text.contains("paused after the failure"), "{text}");
    assert!(!text.contains("typed-2"), "{text}");
}

#[test]
fn without_a_terminal_the_option_or_a_failure_no_prompt_opens() {
    let out = Test::new()
        .fake("machine", &[])
        .arg("--pause-on-failure")
        .script("machine.succeed \"exit 5\"\n")
        .input("machine.succeed \"echo typed\"\n")
        .run();
    out.code(1)
        .stderr_has("not pausing: stdin is not a terminal")
        .stderr_lacks("paused after the failure")
        .clean();
    assert!(!out.stdout.contains("typed"));
    let out = Test::new()
        .fake("machine", &[])
        .arg("--pause-on-failure")
        .script("machine.succeed \"true\"\n")
        .input("machine.succeed \"echo typed\"\n")
        .run();
    out.code(0).stderr_lacks("paused after the failure").clean();
    assert!(!out.stdout.contains("typed"));
    let out = Test::new()
        .fake("machine", &[])
        .script("machine.succeed \"exit 5\"\n")
        .input("machine.succeed \"echo typed\"\n")
        .run();
    out.code(1).stderr_lacks("paused after the failure").clean();
    assert!(!out.stdout.contains("typed"));
}
