//! Guest output arrives whole or not at all: the fake VM's lossy console drops
//! 2 KiB buffers of long bursts the way QEMU's virtconsole does when the driver
//! does not drain its socket, and the driver must notice, fetch again, or fail
//! saying so. Issue 7.

use crate::support::Test;

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
