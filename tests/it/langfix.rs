//! The language's agreement with Python end to end on a fake machine: polling
//! conditions that wait on each other, `re.search` compared with `None`,
//! `execute` as a pair, `retry` over a function, and output kept exact.

use crate::support::{Output, Test};
use std::fs;

/// Runs the script `src` as `name` on a fake machine `machine`.
fn run(name: &str, src: &str) -> Output {
    let test = Test::new().fake("machine", &[]);
    fs::write(test.dir().join(name), src).expect("write script");
    test.arg("--").arg(name).run()
}

#[test]
fn a_condition_that_waits_on_another_runs_without_recursing() {
    let out = run(
        "test.cmds",
        r#"polling_condition b interval=0 {
    machine.succeed "true"
}
polling_condition a interval=0 {
    b.wait timeout=5
    machine.succeed "echo in-a"
}
with a, a {
    machine.succeed "echo body"
}
"#,
    );
    out.code(0).clean();
}

#[test]
fn a_regex_search_compared_with_none_depends_on_the_match() {
    let out = run(
        "test.py",
        r#"import re
out = machine.succeed("echo version 1")
missing = False
if re.search("error", out) is None:
    missing = True
assert missing
assert re.search(r"version 2", out) is None
assert re.search(r"version 1", out) is not None
assert None != re.search(r"version", out)
"#,
    );
    out.code(0).clean();
    let out = run(
        "test.py",
        "import re\nassert re.search(r\"version 2\", machine.succeed(\"echo version 1\")) is not None\n",
    );
    out.code(1).stderr_has("assertion failed").clean();
}

#[test]
fn execute_indexed_by_one_is_the_output_and_its_status_is_refused_before_boot() {
    let out = run(
        "test.py",
        "out = machine.execute(\"echo hi; exit 3\")[1]\nassert out.strip() == \"hi\", out\nmachine.execute(\"true\")\n",
    );
    out.code(0).clean();
    let out = run(
        "test.py",
        "if machine.execute(\"exit 1\")[0] != 0:\n    pass\n",
    );
    out.code(2)
        .stderr_has("test.py:1:30")
        .stderr_has("write `rc, out = m.execute(…)` and use `rc`")
        .stderr_lacks("machine: ")
        .clean();
}

#[test]
fn retry_calls_the_function_and_its_return_stays_inside_it() {
    let out = run(
        "test.py",
        r#"def ready(last_try):
    if last_try:
        machine.succeed("echo last try")
    if "yes" in machine.succeed("echo yes"):
        return True
    return False

def main():
    retry(ready)
    machine.fail("true")

main()
"#,
    );
    out.code(1)
        .stderr_has("must fail: true")
        .stderr_has("--> test.py:10:5")
        .clean();
    let out = run(
        "test.py",
        r#"import os
def ready(last_try):
    if last_try:
        return True
    return False

retry(ready, timeout=1)
"#,
    );
    out.code(0).clean();
}

#[test]
fn a_bare_f_string_runs_its_calls() {
    let out = run("test.py", "\"doc\"\nf\"{machine.fail('true')}\"\n");
    out.code(1).stderr_has("must fail: true").clean();
}

#[test]
fn a_negative_timeout_is_refused_before_boot() {
    let out = run(
        "test.py",
        "import time\nmachine.succeed(\"true\", timeout=-5)\ntime.sleep(-1)\n",
    );
    out.code(2)
        .stderr_has("test.py:2:")
        .stderr_has("test.py:3:")
        .stderr_lacks("must succeed")
        .clean();
}

#[test]
fn a_condition_wait_is_scaled_by_the_timeout_scale() {
    // 100 s scaled by 0.02 is 2 s.
    let test = Test::new().fake("machine", &[]);
    fs::write(
        test.dir().join("test.cmds"),
        "polling_condition never {\n    return false\n}\nnever.wait timeout=100\n",
    )
    .expect("write script");
    let out = test
        .arg("--timeout-scale")
        .arg("0.02")
        .arg("--")
        .arg("test.cmds")
        .run();
    out.code(1)
        .stderr_has("did not hold within 2 s")
        .within(std::time::Duration::from_secs(30))
        .clean();
}
