//! The Python front-end through the binary: `vmtest-min convert`, and `.py`
//! scripts accepted by `check` and `run` (issue 8, parts 2 and 3).

use std::fs;
use std::process::Command;

/// Runs `vmtest-min convert` on `src` written to `name` in a scratch directory;
/// returns the exit code, stdout and stderr.
fn convert(name: &str, src: &str) -> (i32, String, String) {
    let dir = tempfile::tempdir().expect("scratch dir");
    fs::write(dir.path().join(name), src).expect("write script");
    let output = Command::new(env!("CARGO_BIN_EXE_vmtest-min"))
        .env_clear()
        .env("NO_COLOR", "1")
        .current_dir(dir.path())
        .args(["convert", name])
        .output()
        .expect("run vmtest-min");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn convert_prints_the_script_as_cmds_with_its_comments() {
    let (code, stdout, stderr) = convert(
        "test.py",
        r#"import json

# Boot and wait.
start_all()
server.wait_for_unit("nginx.service")  # the web server


def fetch(path):
    return json.loads(client.succeed(f"curl -s http://server{path}"))


with subtest("status page"):
    status = fetch("/status")
    assert status["ok"], f"server says {status}"
"#,
    );
    assert_eq!((code, stderr.as_str()), (0, ""));
    assert_eq!(
        stdout,
        r#"# Boot and wait.
start_all()
server.wait_for_unit("nginx.service")  # the web server

def fetch(path) {
    return json(client.succeed("curl -s http://server${path}"))
}

subtest "status page" {
    status = fetch("/status")
    assert status["ok"], "server says ${status}"
}
"#
    );
}

#[test]
fn convert_refuses_a_construct_at_its_python_line_and_column() {
    let (code, stdout, stderr) = convert(
        "test.py",
        "start_all()\nwith subtest(\"x\"):\n    names = [m.name for m in machines]\n",
    );
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert_eq!(
        stderr,
        "error: unexpected attribute `m.name` (outside the Python that vmtest-min reads); \
attributes are not values; call a method, e.g. `m.succeed(\"hostname\")`
 --> test.py:3:14
  |
3 |     names = [m.name for m in machines]
  |              ^^^^^^
vmtest-min: `test.py` was not converted
"
    );
}

#[test]
fn convert_takes_python_only() {
    let (code, _, stderr) = convert("test.cmds", "start_all\n");
    assert_eq!(code, 2);
    assert!(
        stderr.contains("does not look like a Python test script"),
        "{stderr}"
    );
}
