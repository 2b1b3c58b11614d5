//! QMP, the X11 methods, `machines`/`vlans` and `create_machine` on the real
//! busybox guest under QEMU (TCG). One run covers them all, to boot few guests.
//!
//! The guest has no X server: the X11 methods run against stand-ins the script
//! writes into the guest's `/usr/local/bin` (first on its `PATH`, empty) over the
//! root shell: an `xwininfo` that prints exactly what the real `xwininfo -root
//! -tree` prints for a server with an xterm and a Firefox window (and, after a
//! moment, a gvim window too), and a `journalctl` that prints the systemd line the
//! NixOS driver looks for. The X socket appears a moment after the script starts
//! waiting, so the waits really wait.

use crate::qmp::XWININFO;
use crate::real::start_script;
use crate::support::Test;

/// The same tree after a gvim window opened.
fn with_gvim() -> String {
    XWININFO.replace(
        "     3 children:\n",
        "     4 children:\n     0x1400001 \"gvim - notes.txt\": (\"gvim\" \"Gvim\")  800x600+10+10  +10+10\n",
    )
}

#[test]
fn qmp_events_x11_machines_vlans_and_create_machine_on_real_guests() {
    let gvim = with_gvim();
    let script = format!(
        r#"
start_all
assert vlans == [1]
names = []
for m in machines {{
    names = names + [m.succeed("hostname").strip()]
}}
assert names == ["client", "server"]

subtest "qmp" {{
    client.succeed "true"
    client.send_monitor_command "stop"
    e = client.wait_for_qmp_event "STOP" timeout=60
    assert e["event"] == "STOP"
    status = client.send_qmp_command "query-status"
    assert status["status"] == "paused" and status["running"] == false
    client.send_monitor_command "cont"
    client.wait_for_qmp_event "RESUME" timeout=60
    client.succeed "echo back" == "back"
    client.send_qmp_command "query-status" contains "running"
}}

subtest "x11" {{
    server.succeed <<'SH'
cat > /tmp/xwininfo.out <<'EOF'{XWININFO}EOF
cat > /tmp/xwininfo.next <<'EOF'{gvim}EOF
printf '#!/bin/sh\ncat /tmp/xwininfo.out\n' > /usr/local/bin/xwininfo
printf '#!/bin/sh\necho "Dec 02 10:00:00 server systemd[1]: Reached target Current graphical interface."\n' > /usr/local/bin/journalctl
chmod +x /usr/local/bin/xwininfo /usr/local/bin/journalctl
SH
    server.succeed "(sleep 2; mkdir -p /tmp/.X11-unix; touch /tmp/.X11-unix/X0) >/dev/null 2>&1 &"
    server.wait_for_x timeout=60
    assert server.get_window_names() == ["xterm", "Mozilla Firefox"]
    server.succeed "(sleep 2; mv /tmp/xwininfo.next /tmp/xwininfo.out) >/dev/null 2>&1 &"
    server.wait_for_window "^gvim - notes" timeout=60
    assert "gvim - notes.txt" in server.get_window_names()
}}

subtest "create_machine" {{
    client.shutdown
    extra = create_machine "{extra}" name="extra"
    assert len(machines) == 3
    extra.succeed "hostname" == "machine"
    assert machines[2].succeed("echo created") == "created"
    extra.shutdown
}}
"#,
        extra = start_script("machine").display(),
    );
    let out = Test::new()
        .start_script(&start_script("client"))
        .start_script(&start_script("server"))
        .arg("--vlans")
        .arg("1")
        .script(&script)
        .run();
    out.code(0)
        .stderr_has("client: waiting for the QMP event `STOP`")
        .stderr_has("extra: created machine from")
        .stderr_has("extra: QEMU running")
        .clean();
}

#[test]
fn a_plain_qemu_command_makes_a_machine_and_a_paused_guest_is_named_in_timeouts() {
    let guest = start_script("machine");
    let guest = guest.parent().expect("guest dir");
    let kernel = ["vmlinux", "bzImage"]
        .map(|file| guest.join("kernel").join(file))
        .into_iter()
        .find(|path| path.exists())
        .expect("a guest kernel");
    let script = format!(
        r#"
start_all
plain = create_machine "qemu-system-x86_64 -machine pc,accel=tcg -m 384 -kernel {kernel} -initrd {initrd} -append 'console=ttyS0 panic=1 acpi=noirq no_timer_check vmtest.name=plain vmtest.node=4'" name="plain"
plain.succeed "cat /proc/cmdline" contains "vmtest.name=plain"
plain.shutdown
machine.succeed "true"
machine.send_monitor_command "stop"
machine.execute "true" timeout=2
"#,
        kernel = kernel.display(),
        initrd = guest.join("initrd").display(),
    );
    let out = Test::new()
        .start_script(&start_script("machine"))
        .script(&script)
        .run();
    out.code(1)
        .stderr_has("plain: QEMU running")
        .stderr_has("plain: QEMU exited")
        .stderr_has("QMP says the guest is not running (status `paused`)")
        .clean();
}
