//! A machine whose guest shell was lost says why at the next step, instead of
//! failing obscurely (issue 6: the prompt panicked with "a started machine has a
//! shell socket" on the statement after a failed handshake).

use crate::support::Test;

#[test]
fn after_a_failed_handshake_the_prompt_says_why_the_machine_is_unusable() {
    let input = "machine.succeed \"true\"\nmachine.succeed \"true\"\nmachine.succeed \"true\"\n";
    let out = Test::new()
        .fake("machine", &[("FAKE_VM_MODE", "no-backdoor")])
        .arg("-I")
        .arg("--connect-timeout")
        .arg("1")
        .input(input)
        .run();
    out.code(0)
        .stderr_has("the guest's root shell did not connect within 1 s")
        .stderr_has(
            "machine: the guest's root shell is unusable: the guest's root shell did not connect within 1 s\n",
        )
        .stderr_lacks("panicked")
        .clean();
}

#[test]
fn a_guest_whose_shell_dies_with_qemu_fails_the_step_saying_so() {
    // In the fake VM, QEMU ends when the backdoor shell ends.
    let script =
        "machine.succeed \"true\"\nmachine.execute \"kill -9 $$\"\nmachine.succeed \"true\"\n";
    Test::new()
        .fake("machine", &[])
        .script(script)
        .run()
        .code(3)
        .stderr_has("machine: QEMU exited (exit status 0) while running `kill -9 $$`")
        .stderr_lacks("must succeed: true\nmachine: must succeed: true")
        .stderr_lacks("panicked")
        .clean();
}
