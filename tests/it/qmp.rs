//! QMP, the X11 methods, `machines`/`vlans` and `create_machine` against the fake
//! VM (driver logic: event queueing, timeouts, a QEMU that dies mid-wait, errors);
//! `real_qmp.rs` has the same features on the real guest.

use crate::fake_vm::write_start_script;
use crate::support::Test;
use std::fs;
use std::time::Duration;

#[test]
fn events_are_queued_status_comes_from_qmp_and_errors_name_the_command() {
    let out = Test::new()
        .fake("machine", &[])
        .script(
            r#"
start_all
machine.succeed "true"
machine.send_monitor_command "stop"
machine.send_monitor_command "cont"
e = machine.wait_for_qmp_event "STOP" timeout=30
assert e["event"] == "STOP" and e["timestamp"]["seconds"] > 0
e = machine.wait_for_qmp_event "RESUME|SHUTDOWN" timeout=30
assert e["event"] == "RESUME"
machine.send_monitor_command "stop"
s = machine.send_qmp_command "query-status"
assert s["status"] == "paused" and s["running"] == false
machine.send_qmp_command "cont" =~ "^[{][}]$"
machine.wait_for_qmp_event "STOP|RESUME" timeout=30 contains "STOP"
machine.wait_for_qmp_event "RESUME" timeout=30
machine.send_qmp_command "query-status" contains "running"
machine.wait_for_qmp_event "NEVER" timeout=1
"#,
        )
        .run();
    out.code(1)
        .stderr_has("timed out")
        .stderr_has("a QMP event matching `NEVER`")
        .stderr_has("no QMP events came")
        .clean();
}

#[test]
fn a_qmp_error_fails_the_step_with_its_class() {
    let out = Test::new()
        .fake("machine", &[])
        .script("start_all\nmachine.send_qmp_command \"no-such-command\" arguments='{\"a\": 1}'\n")
        .run();
    out.code(1)
        .stderr_has("the QMP command `no-such-command` failed: CommandNotFound")
        .clean();
}

#[test]
fn a_wait_for_an_event_fails_at_once_when_qemu_is_killed() {
    let mut running = Test::new()
        .fake("machine", &[])
        .script(
            r#"
start_all
machine.send_monitor_command "stop"
machine.send_monitor_command "cont"
machine.succeed "(sleep 2; kill -9 $PPID) >/dev/null 2>&1 &"
machine.wait_for_qmp_event "NEVER" timeout=600
"#,
        )
        .spawn();
    running.wait_for_line("waiting for the QMP event `NEVER`", Duration::from_secs(60));
    let out = running.finish();
    out.code(3)
        .within(Duration::from_secs(60))
        .stderr_has("QEMU exited")
        .stderr_has("while waiting for the QMP event `NEVER`")
        .clean();
}

/// The stand-in: prints what a real `xwininfo -root -tree` prints for an X
/// server with an xterm (with a nameless child), a Firefox window and a nameless
/// override-redirect window. The guest has no X server.
pub(crate) const XWININFO: &str = r#"
xwininfo: Window id: 0x1e6 (the root window) (has no name)

  Root window id: 0x1e6 (the root window) (has no name)
  Parent window id: 0x0 (none)
     3 children:
     0x1000001 "xterm": ("xterm" "XTerm")  499x316+0+0  +0+0
        1 child:
        0x100000e (has no name): ()  499x316+0+0  +0+0
     0x800001 "Mozilla Firefox": ("Navigator" "firefox")  1024x768+0+0  +0+0
     0x400001 (has no name): ()  1x1+-1+-1  +-1+-1

"#;

#[test]
fn window_names_come_as_a_list_and_a_missing_window_times_out_with_them() {
    let out = Test::new()
        .fake("machine", &[])
        .fake_program("xwininfo", &format!("cat <<'EOF'{XWININFO}EOF"))
        .script(
            r#"
start_all
names = machine.get_window_names()
assert names == ["xterm", "Mozilla Firefox"]
for name in machine.get_window_names() {
    log("window: ${name}")
}
machine.wait_for_window "^Mozilla" timeout=30
machine.wait_for_window "^gvim" timeout=2
"#,
        )
        .run();
    out.code(1)
        .stderr_has("window: Mozilla Firefox")
        .stderr_has("a window matching `^gvim`")
        .stderr_has("Mozilla Firefox")
        .clean();
}

#[test]
fn machines_vlans_create_machine_qmp_and_x11_from_python() {
    let test = Test::new()
        .fake("alpha", &[])
        .fake("beta", &[])
        .fake_program("xwininfo", &format!("cat <<'EOF'{XWININFO}EOF"));
    let extra = write_start_script(&test.dir().join("bin"), "gamma", &[]);
    let extra = extra.display();
    let src = format!(
        r#"start_all()
count = 0
for m in machines:
    m.succeed("true")
    count = count + 1
assert count == 2
assert vlans == []
g = create_machine("{extra}")
assert len(machines) == 3
g.succeed("true")
other = create_machine("{extra} -name 'x y'", name="delta")
other.start()
other.send_monitor_command("stop")
ev = other.wait_for_qmp_event(lambda e: e["event"] in ["STOP", "SHUTDOWN"], timeout=30)
assert ev["event"] == "STOP"
assert other.send_qmp_command("query-status")["status"] == "paused"
assert other.get_window_names() == ["xterm", "Mozilla Firefox"]
other.wait_for_window("Firefox$", timeout=30)
create_machine("{extra}")
"#
    );
    fs::write(test.dir().join("test.py"), src).unwrap();
    let out = test.arg("--").arg("test.py").run();
    out.code(1)
        .stderr_has("gamma: created machine from")
        .stderr_has("a machine named `gamma` exists already")
        .clean();
}

#[test]
fn a_python_event_predicate_other_than_the_event_name_is_refused_before_boot() {
    let test = Test::new().fake("machine", &[]);
    fs::write(
        test.dir().join("test.py"),
        "machine.wait_for_qmp_event(lambda e: e[\"data\"][\"reason\"] == \"x\")\n",
    )
    .unwrap();
    let out = test.arg("--").arg("test.py").check();
    out.code(2)
        .stderr_has("a `wait_for_qmp_event` predicate other than")
        .stderr_has("--> test.py:1:28");
}
