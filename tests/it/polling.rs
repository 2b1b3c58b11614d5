//! Polling conditions end to end, against a fake machine: a condition checked
//! before the machine methods of a `with` block, at most once an interval, that
//! fails the run when it stops holding, in `.cmds` and in Python.

use crate::support::{Output, Test};
use std::fs;
use std::time::Duration;

/// The `.cmds` script: a marker file must exist while the block runs, and the
/// block's second command removes it.
const CMDS: &str = r#"polling_condition alive interval=0 description="the marker file exists" {
    machine.succeed "echo looking for MARKER; test -e MARKER"
}
machine.succeed "touch MARKER"
with alive {
    machine.succeed "echo one"
    machine.succeed "rm MARKER"
    machine.succeed "echo never runs"
}
"#;

/// The same test in Python, the description in the docstring.
const PY: &str = r#"@polling_condition(seconds_interval=0)
def alive():
    "the marker file exists"
    machine.succeed("echo looking for MARKER; test -e MARKER")

machine.succeed("touch MARKER")
with alive:
    machine.succeed("echo one")
    machine.succeed("rm MARKER")
    machine.succeed("echo never runs")
"#;

/// Runs `src` (`CMDS` or `PY`, with `MARKER` made a path in the test's
/// directory) as the script `name` on a fake machine.
fn run(name: &str, src: &str) -> Output {
    let test = Test::new().fake("machine", &[]);
    let marker = test.dir().join("alive");
    let src = src.replace("MARKER", &marker.to_string_lossy());
    fs::write(test.dir().join(name), src).expect("write script");
    test.arg("--").arg(name).run()
}

/// What both front-ends must show: the failure, both places, the command and
/// its output; and the log of each check.
fn fails_when_the_marker_goes(out: &Output, name: &str, inside: &str, trigger: &str) {
    out.code(1)
        .stderr_has(
            "error: polling condition `alive` (the marker file exists) failed: machine: command `echo looking for",
        )
        .stderr_has(&format!("--> {name}:{inside}"))
        .stderr_has(&format!("{name}:{trigger}"))
        .stderr_has("called from here")
        .stderr_has("must succeed: echo one")
        .stderr_lacks("must succeed: echo never runs")
        .clean();
    // The detail lines show what the check printed.
    out.stderr_has("!!! output:\n!!!   looking for ");
    let elements = out.xml_elements();
    let texts: Vec<&str> = elements.iter().map(|(_, _, text)| text.as_str()).collect();
    let checks = texts
        .iter()
        .filter(|t| **t == "checking polling condition 'the marker file exists'")
        .count();
    // Before `echo one`, before `rm`, before `echo never runs`.
    assert_eq!(checks, 3, "{texts:#?}");
    assert!(texts.contains(&"polling condition succeeded: the marker file exists"));
    assert!(texts.contains(&"polling condition failed: the marker file exists"));
}

#[test]
fn a_condition_that_stops_holding_fails_the_cmds_run() {
    let out = run("test.cmds", CMDS);
    fails_when_the_marker_goes(&out, "test.cmds", "2:5", "8:5");
}

#[test]
fn a_condition_that_stops_holding_fails_the_python_run() {
    let out = run("test.py", PY);
    fails_when_the_marker_goes(&out, "test.py", "4:5", "10:5");
}

#[test]
fn a_condition_is_checked_at_most_once_an_interval() {
    let out = Test::new()
        .fake("machine", &[])
        .script(
            r#"polling_condition up interval=3600 {
    machine.succeed "true"
}
with up {
    machine.succeed "echo a"
    machine.succeed "echo b"
    machine.succeed "echo c"
}
machine.succeed "echo after"
up.wait timeout=5
"#,
        )
        .run();
    out.code(0).clean();
    let elements = out.xml_elements();
    let checks = elements
        .iter()
        .filter(|(_, _, text)| text == "checking polling condition 'up'")
        .count();
    // Once in the block (the interval is an hour), once for `.wait`.
    assert_eq!(checks, 2, "{}", out.stderr);
    assert!(out.stderr.contains("waiting for up"), "{}", out.stderr);
}

#[test]
fn a_wait_checks_the_conditions_between_its_rounds() {
    let test = Test::new().fake("machine", &[]);
    let marker = test.dir().join("alive");
    let src = r#"polling_condition alive interval=1 description="the marker file exists" {
    machine.succeed "test -e MARKER"
}
machine.succeed "touch MARKER"
with alive {
    machine.succeed "(sleep 1; rm MARKER) >/dev/null 2>&1 &"
    machine.wait_until_succeeds "test -e MARKER.never" timeout=120
}
"#
    .replace("MARKER", &marker.to_string_lossy());
    let out = test.script(&src).run();
    // The wait would take 120 s; the condition ends it after a round (at most 5 s).
    out.code(1)
        .within(Duration::from_secs(60))
        .stderr_has("error: polling condition `alive` (the marker file exists) failed")
        .stderr_has("--> test.cmds:2:5")
        .stderr_has("--> test.cmds:7:5")
        .stderr_has("called from here")
        .clean();
}
