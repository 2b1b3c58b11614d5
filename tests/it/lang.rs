//! Python test scripts end to end on a fake machine: JSON written back with
//! `json.dumps` after in-place changes, and an error inside a procedure shown at
//! its line and at each call.

use crate::support::{Output, Test};
use std::fs;

/// Runs the Python script `src` as `test.py` on a fake machine `machine`.
fn run_py(src: &str) -> Output {
    let test = Test::new().fake("machine", &[]);
    fs::write(test.dir().join("test.py"), src).expect("write script");
    test.arg("--").arg("test.py").run()
}

#[test]
fn json_read_changed_in_place_and_written_back() {
    let out = run_py(
        r#"import json
import shlex

def add_device(name):
    conf = json.loads(machine.succeed("echo '{\"devices\": [], \"n\": 1}'"))
    conf["devices"].append({"id": name, "ok": True})
    conf["devices"].extend([None])
    conf["n"] += 1
    conf["new"] = "é"
    text = machine.succeed("echo %s" % shlex.quote(json.dumps(conf)))
    return text

text = add_device("b")
assert text == '{"devices": [{"id": "b", "ok": true}, null], "n": 2, "new": "\\u00e9"}', text
assert json.loads(text)["devices"][0]["id"] == "b"
"#,
    );
    out.code(0).clean();
}

#[test]
fn an_error_inside_a_python_procedure_points_at_the_call_and_the_line() {
    let out = run_py(
        r#"def check(expected):
    out = machine.succeed("echo 4")
    assert out == expected


def both():
    check("3")


with subtest("numbers"):
    both()
"#,
    );
    out.code(1)
        .stderr_has("error: assertion failed: `==` does not hold")
        .stderr_has("--> test.py:3:5")
        .stderr_has("--> test.py:7:5")
        .stderr_has("--> test.py:11:5")
        .stderr_has("called from here")
        .stderr_has("left:  '4'")
        .stderr_has("right: '3'")
        .clean();
}
