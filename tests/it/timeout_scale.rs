//! `--timeout-scale` / `VMTEST_TIMEOUT_SCALE`, on the fake VM, and the notice that
//! QEMU runs without KVM, on the real guest (QEMU runs under TCG here).

use crate::real::start_script;
use crate::support::Test;
use std::time::Duration;

#[test]
fn the_scale_multiplies_explicit_and_default_timeouts() {
    // 100 s scaled by 0.02 is 2 s; the default 900 s of a wait is 18 s.
    let out = Test::new()
        .fake("machine", &[])
        .arg("--timeout-scale")
        .arg("0.02")
        .script("machine.wait_until_succeeds \"false\" timeout=100\n")
        .run();
    out.code(1)
        .within(Duration::from_secs(30))
        .stderr_has("every timeout is scaled by 0.02")
        .stderr_has("timed out after 2 s waiting for")
        .clean();
    let out = Test::new()
        .fake("machine", &[])
        .env("VMTEST_TIMEOUT_SCALE", "0.002")
        .script("machine.wait_until_succeeds \"false\"\n")
        .run();
    out.code(1)
        .within(Duration::from_secs(30))
        .stderr_has("timed out after 1.8 s waiting for")
        .clean();
    let out = Test::new()
        .fake("machine", &[])
        .env("VMTEST_TIMEOUT_SCALE", "0.01")
        .script("retry timeout=100 {\n    machine.succeed \"false\"\n}\n")
        .run();
    out.code(1)
        .within(Duration::from_secs(30))
        .stderr_has("retry gave up after 1 s")
        .clean();
    // The global timeout too: 1 s by 3 is 3 s (and the command's default 2700 s).
    let out = Test::new()
        .fake("machine", &[])
        .arg("--timeout-scale")
        .arg("3")
        .arg("--global-timeout")
        .arg("1")
        .script("machine.succeed \"sleep 30\"\n")
        .run();
    out.code(4)
        .within(Duration::from_secs(30))
        .stderr_has("test will time out and terminate in 3 seconds")
        .clean();
    let out = Test::new()
        .arg("--timeout-scale")
        .arg("0")
        .script("start_all\n")
        .run();
    out.code(2)
        .stderr_has("invalid value `0` for --timeout-scale: expected a number from 0.001 to 1000");
}

#[test]
fn a_run_without_kvm_says_so_once_unless_a_scale_is_set() {
    let script = "start_all\nmachine.succeed \"true\"\nmachine.succeed \"true\"\n";
    let out = Test::new()
        .start_script(&start_script("machine"))
        .script(script)
        .run();
    out.code(0).clean();
    let notices = out.stderr.matches("QEMU runs without KVM").count();
    assert_eq!(notices, 1, "{}", out.stderr);
    out.stderr_has("kvm support: disabled")
        .stderr_has("--timeout-scale 4 (or VMTEST_TIMEOUT_SCALE=4)");
    let out = Test::new()
        .start_script(&start_script("machine"))
        .arg("--timeout-scale")
        .arg("1")
        .script(script)
        .run();
    out.code(0).stderr_lacks("QEMU runs without KVM").clean();
}

#[test]
fn polling_waits_and_window_names_are_scaled_too() {
    // `.wait timeout=100` scaled by 0.02 gives up after 2 s, not 100.
    let out = Test::new()
        .fake("machine", &[])
        .arg("--timeout-scale")
        .arg("0.02")
        .script(
            "polling_condition never interval=1 {\n    machine.succeed \"false\"\n}\nnever.wait timeout=100\n",
        )
        .run();
    out.code(1)
        .within(Duration::from_secs(40))
        .stderr_has("did not hold within 2 s")
        .clean();
    // get_window_names waits its default 900 s, scaled: 1.8 s for an `xwininfo`
    // that hangs (the fake VM's shell runs the host's PATH).
    let out = Test::new()
        .fake("machine", &[])
        .fake_program("xwininfo", "exec sleep 60")
        .arg("--timeout-scale")
        .arg("0.002")
        .script("machine.get_window_names\n")
        .run();
    out.code(1)
        .within(Duration::from_secs(40))
        .stderr_has("timed out after 1.8 s")
        .clean();
}
