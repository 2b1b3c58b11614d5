//! A machine whose guest shell was lost says why at the next step, instead of
//! failing obscurely (issue 6: the prompt panicked with "a started machine has a
//! shell socket" on the statement after a failed handshake).

use crate::support::Test;
use std::io::Write;

#[test]
fn after_a_failed_handshake_the_prompt_says_why_the_machine_is_unusable() {
    let input = "machine.succeed \"true\"\nmachine.succeed \"true\"\nmachine.succeed \"true\"\n";
    let (reader, mut writer) = std::io::pipe().expect("pipe");
    writer.write_all(input.as_bytes()).expect("write input");
    drop(writer);
    let out = Test::new()
        .fake("machine", &[("FAKE_VM_MODE", "no-backdoor")])
        .arg("-I")
        .arg("--connect-timeout")
        .arg("1")
        .stdin(reader)
        .run();
    out.code(0)
        .stderr_has("the guest's root shell did not connect within 1 s")
        .stderr_has(
            "machine: the guest's root shell is unusable: machine: the guest's root shell did not connect",
        )
        .stderr_lacks("panicked")
        .clean();
}

#[test]
fn after_the_guest_shell_goes_away_the_next_step_says_so() {
    // The backdoor shell exits; QEMU keeps running.
    let script =
        "machine.succeed \"true\"\nmachine.execute \"kill -9 $$\"\nmachine.succeed \"true\"\n";
    Test::new()
        .fake("machine", &[])
        .script(script)
        .run()
        .code(3)
        .stderr_lacks("panicked")
        .clean();
}
