//! The script language end to end, against fake machines: asserts, loops,
//! conditions, procedures, `retry`, exit-status capture and JSON (issue 8).

use crate::support::Test;

#[test]
fn asserts_pass_and_a_failed_one_shows_both_sides() {
    Test::new()
        .fake("machine", &[])
        .script(
            r#"
out = machine.succeed("echo ok; echo 3")
assert "ok" in out
assert out.splitlines()[-1] == "3"
assert len(out) > 0, "no output"
assert int(out.split()[1]) + 1 == 4
out contains "ok"
"#,
        )
        .run()
        .code(0)
        .clean();
    let out = Test::new()
        .fake("machine", &[])
        .script("out = machine.succeed \"echo 4\"\nassert out.strip() == \"3\"\n")
        .run();
    out.code(1)
        .stderr_has("error: assertion failed: `==` does not hold")
        .stderr_has("test.cmds:2:1")
        .stderr_has("left:  '4'")
        .stderr_has("right: '3'")
        .clean();
    Test::new()
        .fake("machine", &[])
        .script("n = 2\nassert n > 5, \"n is only ${n}\"\n")
        .run()
        .code(1)
        .stderr_has("error: assertion failed: n is only 2")
        .stderr_has("left:  2")
        .clean();
}

#[test]
fn loops_over_machines_and_conditions() {
    let out = Test::new()
        .fake("server", &[])
        .fake("client", &[])
        .script(
            r#"
for m in [server, client] {
    m.succeed "echo ${m} > ~/name"
}
names = []
for m in machines {
    name = m.succeed("cat ~/name")
    if name == "server" {
        log "found the server"
    } else if name == "client" {
        log "found the client"
    } else {
        assert false, "unexpected ${name}"
    }
    names = names + [name]
}
assert names == ["client", "server"] or names == ["server", "client"]
n = 0
while n < 3 {
    n = n + 1
    if n == 2 { continue }
    client.succeed "echo round ${n}"
}
assert n == 3
"#,
        )
        .run();
    out.code(0)
        .stderr_has("found the server")
        .stderr_has("found the client")
        .stderr_has("must succeed: echo round 3")
        .stderr_lacks("must succeed: echo round 2")
        .clean();
}

#[test]
fn an_error_inside_a_procedure_points_at_the_call_and_the_line() {
    let out = Test::new()
        .fake("server", &[])
        .script(
            r#"def check(m, port) {
    m.succeed("echo checking ${port}")
    m.succeed("exit 3")
}

def both() {
    return check(server, 80)
}

both()
"#,
        )
        .run();
    out.code(1)
        .stderr_has("server: command `exit 3` failed (exit status 3)")
        .stderr_has("--> test.cmds:3:5")
        .stderr_has("3 |     m.succeed(\"exit 3\")")
        .stderr_has("--> test.cmds:7:12")
        .stderr_has("^^^^^ called from here")
        .stderr_has("--> test.cmds:10:1")
        .clean();
}

#[test]
fn procedures_return_values() {
    Test::new()
        .fake("machine", &[])
        .script(
            r#"
x = twice(machine.succeed("echo 21"))
assert x == 42
def twice(text) {
    return int(text) * 2
}
"#,
        )
        .run()
        .code(0)
        .clean();
}

#[test]
fn retry_runs_the_block_again_until_it_passes() {
    let out = Test::new()
        .fake("machine", &[])
        .script(
            r#"
retry timeout=30 {
    n = int(machine.succeed("n=$(( $(cat ~/n 2>/dev/null || echo 0) + 1 )); echo $n > ~/n; echo $n"))
    assert n >= 3
}
assert n == 3
"#,
        )
        .run();
    out.code(0)
        .stderr_has("retry: attempt 1 failed: assertion failed")
        .stderr_has("retry: attempt 2 failed")
        .stderr_lacks("attempt 3 failed")
        .clean();
    Test::new()
        .fake("machine", &[])
        .script("retry timeout=1 {\n    machine.succeed \"false\"\n}\n")
        .run()
        .code(1)
        .stderr_has("error: retry gave up after 1 s (")
        .stderr_has("last failure: machine: command `false` failed (exit status 1)")
        .stderr_has("test.cmds:2:5")
        .clean();
}

#[test]
fn exit_status_and_output_are_captured_together() {
    Test::new()
        .fake("machine", &[])
        .script(
            r#"
rc, out = machine.execute "echo partial; exit 4"
assert rc == 4
assert out == "partial"
out = machine.execute("echo alone; exit 1")
assert out == "alone"
def status(m, command) {
    rc, out = m.execute(command)
    return rc
}
assert status(machine, "exit 5") == 5
"#,
        )
        .run()
        .code(0)
        .clean();
}

#[test]
fn json_output_can_be_indexed() {
    let out = Test::new()
        .fake("machine", &[])
        .script(
            r#"
j = json(machine.succeed("echo '{\"ports\": [8080, 9090], \"name\": \"web\"}'"))
assert j["name"] == "web"
assert j["ports"][-1] == 9090
port = j["ports"][0]
machine.succeed "echo http://localhost:${port + 1}/" == "http://localhost:8081/"
groups = match("v(\\d+)\\.(\\d+)", machine.succeed("echo version v1.25"))
assert groups[1] == "1" and int(groups[2]) == 25
assert "name" in j
x = j["missing"]
"#,
        )
        .run();
    out.code(1)
        .stderr_has("error: key `missing` not found; keys: `ports`, `name`")
        .stderr_has("test.cmds:10:5")
        .clean();
}

#[test]
fn kind_errors_and_recursion_stop_before_anything_boots() {
    let out = Test::new()
        .fake("server", &[])
        .script(
            r#"server.strip()
for x in 5 {
}
def a() { b() }
def b() { a() }
break
"#,
        )
        .run();
    out.code(2)
        .stderr_has("error: a machine has no method `strip`")
        .stderr_has("error: cannot loop over a number")
        .stderr_has("error: recursive call: `a` calls `b` calls `a`")
        .stderr_has("error: `break` outside a loop")
        .stderr_has("nothing was started")
        .clean();
}

#[test]
fn the_prompt_takes_blocks_and_forgets_rejected_procedures() {
    let input = r#"def f() {
    srver.start
}
f()
def g(m) { return m.succeed("echo from ${m}") }
for m in machines {
    log(g(m))
}
n = 2
n * 21
answer = "forty-two"
answer
"#;
    let out = Test::new()
        .fake("machine", &[])
        .arg("-I")
        .input(input)
        .run();
    out.code(0)
        .stderr_has("unknown machine `srver`")
        .stderr_has("unknown function `f`")
        .stderr_has("from machine")
        .clean();
    assert!(
        out.stdout.contains("42\nforty-two\n"),
        "stdout: {}",
        out.stdout
    );
}

#[test]
fn a_loop_that_never_ends_stops_at_the_global_timeout() {
    let out = Test::new()
        .fake("machine", &[])
        .arg("--global-timeout")
        .arg("3")
        .script("n = 0\nwhile machine.succeed(\"echo go\") == \"go\" {\n    n = n + 1\n}\n")
        .run();
    out.code(4)
        .stderr_has("global timeout of 3 s reached")
        .stderr_has("test.cmds:2:1")
        .clean();
    out.within(std::time::Duration::from_secs(30));
}

#[test]
fn dict_literals_build_json_objects() {
    Test::new()
        .fake("machine", &[])
        .script(
            r#"
port = 8080
d = {"ports": [port, port + 1],
  "name": machine.succeed("echo web").strip(),
}
assert d["ports"][1] == 8081 and d.get("name") == "web"
assert d == json("{\"ports\": [8080, 8081], \"name\": \"web\"}")
assert {} == json("{}")
if d != {} {
  assert "ports" in d
}
"#,
        )
        .run()
        .code(0)
        .clean();
}
