//! The Python front-end through the binary: `vmtest-min convert`, and `.py`
//! scripts accepted by `check` and `run` (issue 8, parts 2 and 3).

use crate::real::start_script;
use crate::support::Test;
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
        "start_all()\nwith subtest(\"x\"):\n    check = lambda: 1\n",
    );
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert_eq!(
        stderr,
        "error: unexpected lambda (outside the Python that vmtest-min reads); write a `def` procedure
 --> test.py:3:13
  |
3 |     check = lambda: 1
  |             ^^^^^^
vmtest-min: error: `test.py` was not converted
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

/// `test` with its script `name` holding `src`, passed on the command line
/// (after `--`, which ends the start scripts).
fn with_script(test: Test, name: &str, src: &str) -> Test {
    fs::write(test.dir().join(name), src).expect("write script");
    test.arg("--").arg(name)
}

#[test]
fn check_reads_a_py_file_and_points_at_python_positions() {
    let out = with_script(
        Test::new().fake("server", &[]),
        "test.py",
        "start_all()\nwith subtest(\"web\"):\n    server.succed(\"true\")\n",
    )
    .check();
    out.code(2)
        .stderr_has("unknown method `succed`")
        .stderr_has("--> test.py:3:12");
}

#[test]
fn the_nix_wrappers_test_script_is_read_as_python_by_its_content() {
    let test = Test::new()
        .fake("machine", &[])
        .env("testScript", "test-script");
    fs::write(
        test.dir().join("test-script"),
        "import json\nstart_all()\nwith subtest(\"a\"):\n    out = machine.succeed(\"echo {}\")\n    assert json.loads(out) == json.loads(\"{}\")\n",
    )
    .expect("write script");
    test.check().code(0).stderr_has("test-script: ok");
}

#[test]
fn a_converted_script_passes_check() {
    let src = "start_all()\nfor port in [80, 443]:\n    server.wait_for_open_port(port)\nrc, out = server.execute(\"true\")\nassert rc == 0, f\"status {rc}\"\n";
    let (code, cmds, stderr) = convert("test.py", src);
    assert_eq!((code, stderr.as_str()), (0, ""));
    with_script(Test::new().fake("server", &[]), "test.cmds", &cmds)
        .check()
        .code(0);
}

/// A Python script exercising the mapped constructs on the real guest; every
/// assertion holds under the NixOS driver too.
const PASSING: &str = r#"import json
import re

start_all()


def hostname(m):
    return m.succeed("hostname").strip()


with subtest("commands, strings and values"):
    name = hostname(machine)
    assert name == "machine", f"hostname is {name}"
    out = machine.succeed('printf "%s\n" a "b c"')
    assert out.splitlines() == ["a", "b c"]
    assert "\?" == "\\?" and r"\d" == "\\d"
    rc, out = machine.execute("echo err; exit 3")
    assert rc == 3 and out.strip() == "err"
    data = json.loads(machine.succeed("echo '{\"ports\": [80, 443]}'"))
    assert data["ports"][1] == 443
    assert re.search(r"^b c$", "a\nb c", re.MULTILINE)
    version = re.search(r"v(\d+)", "release v12").group(1)
    assert int(version) + 1 == 13
    assert "x={}".format(1) + " %s" % "y" == "x=1 y"

for i in range(3):
    machine.succeed(f"touch /tmp/f{i}")
files = [f for f in machine.succeed("ls /tmp").split() if f.startswith("f")]
assert len(files) == 3, f"files: {files}"

machine.succeed("(sleep 2; touch /tmp/ready) >/dev/null 2>&1 &")


def ready(_):
    status, _ = machine.execute("test -e /tmp/ready")
    return status == 0


retry(ready, timeout=60)
machine.shutdown()
"#;

/// Runs the Python script `src` on the real guest twice: as `test.py`, and as
/// the `.cmds` that `convert` makes of it; returns both runs.
fn on_the_guest(src: &str) -> [crate::support::Output; 2] {
    let (code, cmds, stderr) = convert("test.py", src);
    assert_eq!((code, stderr.as_str()), (0, ""));
    let run = |name: &str, text: &str| {
        with_script(
            Test::new().start_script(&start_script("machine")),
            name,
            text,
        )
        .run()
    };
    [run("test.py", src), run("test.cmds", &cmds)]
}

#[test]
fn a_python_script_and_its_conversion_pass_on_the_real_guest() {
    for out in on_the_guest(PASSING) {
        out.code(0)
            .stderr_has("subtest: commands, strings and values")
            .clean();
        out.xml_elements();
    }
}

#[test]
fn a_failing_python_assert_fails_both_runs_at_its_line() {
    let [py, cmds] = on_the_guest(
        "start_all()\nout = machine.succeed(\"echo hello\")\n# the greeting\nassert \"bye\" in out, f\"got {out.strip()}\"\nmachine.succeed(\"touch /tmp/never\")\n",
    );
    py.stderr_has("test.py:4:1");
    cmds.stderr_has("test.cmds:4:1");
    for out in [py, cmds] {
        out.code(1)
            .stderr_has("got hello")
            .stderr_lacks("touch /tmp/never")
            .clean();
    }
}

#[test]
fn systemd_methods_run_systemctl_as_the_user_given() {
    let test = Test::new().fake("machine", &[]);
    let log = test.dir().join("calls.log");
    let log = log.display();
    let test = test
        .fake_program(
            "su",
            &format!("echo \"su $1 $2 $3 $4 $5\" >> {log}\nexec /bin/sh -c \"$6\""),
        )
        .fake_program(
            "systemctl",
            &format!(
                "echo \"systemctl $* (XDG_RUNTIME_DIR=${{XDG_RUNTIME_DIR:-unset}})\" >> {log}\n\
                 case \"$*\" in *ActiveState*) echo ActiveState=active ;; *) echo \"ran $*\" ;; esac"
            ),
        );
    let out = with_script(
        test,
        "test.py",
        r#"start_all()
machine.wait_for_unit("default.target", "alice")
machine.wait_for_unit("b.service", user="bob", timeout=30)
machine.wait_for_unit("c.service", None)
assert machine.systemctl("is-active 'x y'", user="carol") == "ran --user is-active x y"
machine.start_job("d.service", "dave")
machine.stop_job("e.service")
assert machine.get_unit_property("f.service", "ActiveState", "it's") == "active"
"#,
    )
    .run();
    out.code(0);
    let uid = String::from_utf8(Command::new("id").arg("-u").output().unwrap().stdout).unwrap();
    let calls = fs::read_to_string(out.dir().join("calls.log"))
        .expect("calls log")
        .replace(&format!("/run/user/{}", uid.trim()), "/run/user/UID");
    assert_eq!(
        calls,
        "\
su -l alice --shell /bin/sh -c
systemctl --user --no-pager show default.target --property=ActiveState (XDG_RUNTIME_DIR=/run/user/UID)
su -l bob --shell /bin/sh -c
systemctl --user --no-pager show b.service --property=ActiveState (XDG_RUNTIME_DIR=/run/user/UID)
systemctl --no-pager show c.service --property=ActiveState (XDG_RUNTIME_DIR=unset)
su -l carol --shell /bin/sh -c
systemctl --user is-active x y (XDG_RUNTIME_DIR=/run/user/UID)
su -l dave --shell /bin/sh -c
systemctl --user start d.service (XDG_RUNTIME_DIR=/run/user/UID)
systemctl stop e.service (XDG_RUNTIME_DIR=unset)
su -l it's --shell /bin/sh -c
systemctl --user --no-pager show f.service --property=ActiveState (XDG_RUNTIME_DIR=/run/user/UID)
"
    );
}

#[test]
fn dict_literals_are_json_objects_when_run() {
    let test = Test::new().fake("machine", &[]);
    let out = with_script(
        test,
        "test.py",
        r#"import json

start_all()
name = machine.succeed("echo web").strip()
d = {
    "name": name,
    "ports": [8080, 9090],
    "nested": {"on": True},
}
text = machine.succeed("""echo '{"name": "web", "ports": [8080, 9090], "nested": {"on": true}}'""")
assert d == json.loads(text)
assert d["nested"]["on"] and d.get("ports")[1] == 9090
twice = {"a": 1, "b": 2, "a": 3}
assert twice.keys() == ["a", "b"] and twice["a"] == 3
n = json.loads(machine.succeed("echo 5"))
bad = {n: 1}
"#,
    )
    .run();
    out.code(1)
        .stderr_has("error: a JSON object's key must be a string, found 5")
        .stderr_has("--> test.py:16:8");
}

#[test]
fn a_method_named_without_parentheses_is_an_error_that_says_so() {
    let out = with_script(
        Test::new().fake("machine", &[]),
        "test.py",
        "machine.start\nmachine.wait_for_unit(\"x\")\n",
    )
    .check();
    out.code(2);
    assert_eq!(
        out.stderr,
        "\
error: `machine.start` without `()` does nothing in Python; did you mean `machine.start()`?
 --> test.py:1:1
  |
1 | machine.start
  | ^^^^^^^^^^^^^
vmtest-min: error: 1 error in `test.py`; nothing was started"
    );
}

#[test]
fn a_procedure_unpacks_execute_on_its_machine_parameter() {
    with_script(
        Test::new().fake("serverALSA", &[]),
        "test.py",
        "def play(server):\n    server.wait_for_unit(\"mpd.service\")\n    _, tracks = server.execute(\"ls\")\n    for track in tracks.splitlines():\n        server.succeed(f\"echo {track}\")\n\n\nplay(serverALSA)\n",
    )
    .check()
    .code(0)
    .stderr_has("test.py: ok");
}
