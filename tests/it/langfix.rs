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
