//! The interactive prompt, driven through a pipe and through a pseudo-terminal.

use crate::support::Test;
use std::fs::File;
use std::io::Write;
use std::os::fd::{FromRawFd, OwnedFd};
use std::time::Duration;

#[test]
fn the_prompt_runs_statements_and_survives_errors() {
    let input = r#"machine.succeed "echo hi"
bogus.succeed "true"
x = machine.succeed "echo captured"
machine.succeed "echo ${x} again"
machine.succeed <<END
echo multi
END
help
machine.succeed "exit 4"
machine.succeed "echo after the error"
"#;
    let out = Test::new()
        .fake("machine", &[])
        .arg("-I")
        .input(input)
        .run();
    out.code(0)
        .stderr_has("unknown machine `bogus`")
        .stderr_has("command `exit 4` failed (exit status 4)")
        .stderr_has("wait_until_succeeds")
        .clean();
    for text in ["hi\n", "captured again\n", "multi\n", "after the error\n"] {
        assert!(
            out.stdout.contains(text),
            "stdout lacks {text:?}:\n{}",
            out.stdout
        );
    }
}

/// A pseudo-terminal pair: the driver's stdin is the terminal.
fn pty() -> (File, OwnedFd) {
    let mut master = 0;
    let mut slave = 0;
    // SAFETY: openpty writes two fds into the given ints; the name, termios and
    // winsize pointers may be null.
    let result = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(result, 0, "openpty failed");
    // SAFETY: both fds were just opened by openpty and are owned by nobody else.
    unsafe { (File::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) }
}

#[test]
fn shell_interact_hands_over_the_terminal_until_ctrl_d() {
    let (mut terminal, slave) = pty();
    let mut run = Test::new().fake("machine", &[]).stdin(slave).spawn();
    run.wait_for_line("vmtest-min interactive", Duration::from_secs(30));
    terminal.write_all(b"machine.shell_interact\n").unwrap();
    run.wait_for_line("terminal is ready", Duration::from_secs(30));
    terminal.write_all(b"echo inside-$((40 + 2))\n").unwrap();
    run.wait_for_stdout("inside-42", Duration::from_secs(30));
    terminal.write_all(b"\x04").unwrap();
    run.wait_for_line("shell session ended", Duration::from_secs(30));
    terminal
        .write_all(b"machine.succeed \"echo still here\"\n")
        .unwrap();
    run.wait_for_stdout("still here", Duration::from_secs(30));
    terminal.write_all(b"\x04").unwrap();
    let out = run.finish();
    out.code(0).clean();
    assert!(out.stdout.contains("inside-42"), "stdout:\n{}", out.stdout);
    assert!(out.stdout.contains("still here"), "stdout:\n{}", out.stdout);
}
