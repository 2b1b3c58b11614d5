//! Guest output arrives whole or not at all: the fake VM's lossy console drops
//! 2 KiB buffers of long bursts the way QEMU's virtconsole does when the driver
//! does not drain its socket, and the driver must notice, fetch again, or fail
//! saying so. Issue 7.

use crate::support::Test;
use std::time::Duration;

/// A 6-digit number a line: any lost 2 KiB buffer breaks the 7-byte rhythm.
const NUMBERS: &str = r#"'^([0-9]{6}\n)+$'"#;

#[test]
fn large_output_crosses_a_lossy_console_complete_in_segments() {
    // 1.4 MB, no shared directory: fetched over the console in checked segments.
    let script = format!(
        "machine.succeed \"seq -w 1 200000\" =~ {NUMBERS}\n\
         machine.succeed \"seq -w 1 200000\" =~ '(?s)^000001\\n.*\\n200000\\n$'\n"
    );
    Test::new()
        .fake(
            "machine",
            &[("FAKE_VM_CONSOLE", "lossy"), ("FAKE_VM_SHARED", "0")],
        )
        .script(&script)
        .run()
        .code(0)
        .stderr_has("no shared directory: large outputs come in segments")
        .stderr_has("arrived damaged on the console and came again; complete")
        .clean();
}

#[test]
fn large_output_travels_through_the_shared_directory() {
    let script = format!(
        "machine.succeed \"seq -w 1 400000\" =~ {NUMBERS}\n\
         machine.succeed \"seq -w 1 700000\" contains \"699999\\n700000\\n\"\n"
    );
    Test::new()
        .fake("machine", &[("FAKE_VM_CONSOLE", "lossy")])
        .script(&script)
        .run()
        .code(0)
        .stderr_lacks("no shared directory")
        .clean();
}

#[test]
fn a_damaged_small_answer_is_fetched_again_and_logged() {
    // Bursts lose buffers after 16 KiB: a 60 KB inline answer arrives damaged.
    let script = format!("machine.succeed \"seq 100001 108000\" =~ {NUMBERS}\n");
    Test::new()
        .fake(
            "machine",
            &[
                ("FAKE_VM_CONSOLE", "lossy"),
                ("FAKE_VM_CONSOLE_SAFE", "16384"),
            ],
        )
        .script(&script)
        .run()
        .code(0)
        .stderr_has("the console lost")
        .stderr_has("of 56000 bytes of this output; fetched again, complete")
        .clean();
}

#[test]
fn output_that_cannot_be_fetched_whole_fails_the_step_and_never_passes_a_check() {
    // No shared directory, and every segment loses bytes: the step must fail.
    let script = "out = machine.succeed \"seq 100001 108000\"\nlog \"captured\"\n";
    Test::new()
        .fake(
            "machine",
            &[
                ("FAKE_VM_CONSOLE", "lossy"),
                ("FAKE_VM_CONSOLE_SAFE", "16384"),
                ("FAKE_VM_SHARED", "0"),
            ],
        )
        .script(script)
        .run()
        .code(3)
        .stderr_has("machine: the output of command `seq 100001 108000` was damaged in transit")
        .stderr_has("bytes were lost in transit")
        .stderr_lacks("captured")
        .clean();
}

#[test]
fn exact_bytes_survive_the_framing() {
    // No trailing newline, NUL bytes, marker-like text, invalid UTF-8 replaced.
    let script = r#"
machine.succeed 'printf "a\0b"' == "a\0b"
machine.succeed "printf 'no newline'" == "no newline"
machine.succeed "printf '__vm_e 1 x 0\nend\n'" == "__vm_e 1 x 0\nend"
machine.execute "printf 'x'; exit 4" == "x"
rc = machine.succeed 'printf "\377ok"'

log "${rc}"
"#;
    Test::new()
        .fake("machine", &[])
        .script(script)
        .run()
        .code(0)
        .stderr_has("\u{fffd}ok")
        .clean();
}

#[test]
fn output_written_through_a_reopened_stdout_is_counted() {
    // `> /dev/stdout` opens the output file anew (and truncates it): the byte
    // count must come from the file, not from the shell's descriptor.
    let script = r#"
machine.succeed "echo hi > /dev/stdout" == "hi"
machine.succeed "echo first; echo second > /dev/stdout" == "second"
machine.succeed "echo 12345678901234567890; echo x > /dev/stdout" == "x"
machine.succeed "seq 1 20000 > /dev/stdout" =~ '(?s)^1\n2\n.*\n20000\n$'
"#;
    Test::new()
        .fake("machine", &[])
        .script(script)
        .run()
        .code(0)
        .clean();
}

#[test]
fn a_background_writer_from_an_earlier_try_does_not_reach_a_later_one() {
    // Try 1 leaves a writer that prints 0.5 s later, while try 2 is running.
    let script = r#"
machine.wait_until_succeeds 'if test -e "$FAKE_VM_DIR/flag"; then sleep 1; echo hello; else (sleep 0.5; echo XX) & touch "$FAKE_VM_DIR/flag"; false; fi' == "hello"
"#;
    Test::new()
        .fake("machine", &[])
        .script(script)
        .run()
        .code(0)
        .clean();
}

#[test]
fn a_reserved_word_as_a_command_fails_without_killing_the_shell() {
    let script = r#"
rc, out = machine.execute "done"
assert rc == 2
machine.succeed "echo alive" == "alive"
"#;
    Test::new()
        .fake("machine", &[])
        .script(script)
        .run()
        .code(0)
        .clean();
}

#[test]
fn after_an_interrupted_wait_the_next_command_runs_promptly() {
    // At the prompt, Ctrl-C stops a wait; the guest stops trying within seconds,
    // so the next command does not wait behind the rest of the wait's timeout.
    let mut run = Test::new()
        .fake("machine", &[])
        .arg("-I")
        .input(
            "machine.wait_until_succeeds \"test -e /nonexistent\" timeout=120\n\
             machine.succeed \"echo after\"\n",
        )
        .spawn();
    run.wait_for_line("waiting for success", Duration::from_secs(60));
    std::thread::sleep(Duration::from_secs(1));
    run.signal(libc::SIGINT);
    let out = run.finish();
    out.code(0).stderr_has("interrupted by SIGINT").clean();
    assert!(out.stdout.contains("after\n"), "stdout: {}", out.stdout);
    out.within(Duration::from_secs(60));
}

#[test]
fn large_outputs_back_to_back_do_not_pile_up_in_the_guest() {
    // Each command empties the last one's output file: a guest's /dev/shm (half
    // its memory) must not fill up over a run of large outputs.
    let script = r#"
for i in range(6) {
    machine.succeed "seq -w 1 300000" =~ '^([0-9]{6}\n)+$'
}
kept = machine.succeed 'du -sk "$FAKE_VM_DIR"/.vmtest-min.* | cut -f1'
assert int(kept) < 3000, "the guest keeps ${kept} KiB of old outputs"
"#;
    Test::new()
        .fake("machine", &[])
        .script(script)
        .run()
        .code(0)
        .clean();
}

#[test]
fn a_wait_that_runs_out_shows_its_last_output_and_builtins_work_in_waits() {
    let script = r#"
machine.wait_until_succeeds "command -v bash" timeout=30
machine.wait_until_succeeds "echo visible-output; false" timeout=2
"#;
    Test::new()
        .fake("machine", &[])
        .script(script)
        .run()
        .code(1)
        .stderr_has("timed out after 2 s waiting for success of `echo visible-output; false`")
        .stderr_has("visible-output")
        .clean();
}

#[test]
fn output_the_command_itself_removed_is_an_error_not_an_empty_success() {
    let script = r#"
machine.succeed 'echo important; rm -rf "$FAKE_VM_DIR"/.vmtest-min.*'
"#;
    Test::new()
        .fake("machine", &[])
        .script(script)
        .run()
        .code(3)
        .stderr_has("the guest could not write the command's output to its file")
        .clean();
}
