//! `--pause-on-failure`: the prompt opens on the machines a failed step left
//! running; end of input goes on to clean up and the failure's exit status.

use crate::support::Test;

#[test]
fn a_failure_opens_the_prompt_on_the_running_machines() {
    let out = Test::new()
        .fake("machine", &[])
        .arg("--pause-on-failure")
        .script("machine.succeed \"touch /tmp/vmtest-pause-marker; echo made\"\nmachine.succeed \"exit 5\"\nmachine.succeed \"echo never\"\n")
        .input("machine.succeed \"echo still-$((40 + 2))\"\n")
        .run();
    out.code(1)
        .stderr_has("command `exit 5` failed (exit status 5)")
        .stderr_has("paused after the failure: the machines keep running; Ctrl-D cleans up and exits with status 1")
        .clean();
    // The statement typed at the prompt ran on the same machine, after the failure
    // and before the cleanup; the rest of the script did not run.
    assert!(out.stdout.contains("still-42\n"), "stdout:\n{}", out.stdout);
    assert!(!out.stdout.contains("never"), "stdout:\n{}", out.stdout);
    let paused = out.stderr.find("paused after the failure").unwrap();
    let typed = out.stderr.find("must succeed: echo still-").unwrap();
    let cleanup = out.stderr.rfind("cleanup\n").unwrap();
    assert!(paused < typed && typed < cleanup, "{}", out.stderr);
}

#[test]
fn without_the_option_or_a_failure_no_prompt_opens() {
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
