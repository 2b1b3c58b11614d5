//! Tests that boot the project's Debian test guest, with real systemd as PID 1,
//! under QEMU (TCG).
//!
//! The guest is built (or found cached) in `guest-debian/` by
//! `tests/guest/debian/build.sh` on first use. A boot costs about 8 s of one host
//! core, so related checks share one boot.

use crate::support::Test;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The guest directory with its `run-<name>-vm` scripts, built on first use.
fn guest() -> &'static Path {
    static GUEST: OnceLock<PathBuf> = OnceLock::new();
    GUEST.get_or_init(|| crate::support::build_guest("guest-debian", "tests/guest/debian/build.sh"))
}

pub(crate) fn start_script(name: &str) -> PathBuf {
    guest().join(format!("run-{name}-vm"))
}

#[test]
fn systemd_units_ports_user_units_share_disk_and_power_on_debian() {
    let out = Test::new()
        .start_script(&start_script("machine"))
        .script(
            r#"
start_all
machine.wait_for_unit "multi-user.target"
# failing.service fails at every boot, so the system is degraded.
machine.succeed "systemctl is-system-running --wait || true" == "degraded"
machine.succeed "cat /proc/1/comm" == "systemd"
machine.succeed "hostname" == "machine"
machine.succeed "cat /etc/hostname" == "machine"
machine.succeed "cat /etc/machine-id" =~ "^[0-9a-f]{32}$"
machine.succeed "ip -4 -br addr show eth0" contains "10.0.2.15/24"
machine.succeed "getent hosts machine" contains "192.168.1.2"

subtest "a unit changes state" {
    machine.succeed "systemctl is-active sleeper || true" == "inactive"
    machine.start_job "sleeper"
    machine.wait_for_unit "sleeper.service"
    machine.succeed "systemctl is-active sleeper" == "active"
    machine.stop_job "sleeper"
    machine.succeed "systemctl is-active sleeper || true" == "inactive"
}

subtest "the failing unit" {
    machine.succeed "systemctl is-failed failing.service" == "failed"
    machine.fail "systemctl start failing"
    machine.get_unit_property "failing" "Result" == "exit-code"
    machine.require_unit_state "failing" state="failed"
}

subtest "a port" {
    machine.wait_for_open_port 80
    machine.succeed "busybox wget -qO- http://localhost/" == "hello"
    machine.stop_job "hello-web"
    machine.wait_for_closed_port 80
}

subtest "a user unit of alice" {
    machine.wait_until_succeeds "su -l alice -c 'XDG_RUNTIME_DIR=/run/user/$(id -u alice) systemctl --user is-active hello-user'" timeout=120
    machine.succeed "cat /run/user/1000/hello-user" == "hello from alice"
}

subtest "the shared directory and the journal on the console" {
    machine.succeed "findmnt -n -o FSTYPE /tmp/shared" == "9p"
    machine.succeed "echo from-guest > /tmp/shared/f"
    machine.succeed "logger -t vmtest hello-journal"
    machine.wait_for_console_text 'vmtest\[[0-9]+\]: hello-journal'
}

subtest "the getty on tty1, on an 80x25 framebuffer console, and a keyboard login" {
    machine.wait_for_unit "getty@tty1.service"
    machine.wait_until_succeeds "cat /sys/class/graphics/fb0/name" == "bochs-drmdrmfb" timeout=60
    machine.succeed "stty -F /dev/tty1 size" == "25 80"
    machine.wait_until_succeeds "fold -w 80 /dev/vcs1" contains "machine login:" timeout=60
    machine.send_monitor_command "sendkey r"
    machine.send_monitor_command "sendkey o"
    machine.send_monitor_command "sendkey o"
    machine.send_monitor_command "sendkey t"
    machine.send_monitor_command "sendkey ret"
    machine.wait_until_succeeds "fold -w 80 /dev/vcs1" contains "root@machine:~#" timeout=60
}

subtest "shutdown keeps the disk, ctrl-alt-delete reboots" {
    machine.succeed "echo kept > /var/tmp/kept"
    machine.shutdown
    machine.start
    machine.succeed "cat /var/tmp/kept" == "kept"
    machine.succeed "cat /tmp/shared/f" == "from-guest"
    machine.send_monitor_command "sendkey ctrl-alt-delete"
    machine.wait_for_shutdown
}
"#,
        )
        .run();
    out.code(0)
        .stderr_has("connected to guest root shell")
        .stderr_has("Activating special unit reboot.target")
        .clean();
    out.xml_elements();
}

#[test]
fn two_debian_machines_on_a_vlan() {
    let out = Test::new()
        .start_script(&start_script("client"))
        .start_script(&start_script("server"))
        .arg("--vlans")
        .arg("1")
        .script(
            r#"
start_all
server.wait_for_open_port(80)
client.succeed("ip -4 -br addr show eth1") contains "192.168.1.1/24"
server.succeed("cat /sys/class/net/eth1/address") == "52:54:00:12:01:03"
client.succeed("ping -c 1 -W 5 server")
client.succeed("busybox wget -qO- http://server/") == "hello"
id = client.succeed("cat /etc/machine-id")
server.succeed("cat /etc/machine-id") != "${id}"
server.block()
client.fail("ping -c 1 -W 1 server")
server.unblock()
client.wait_until_succeeds("ping -c 1 -W 1 server", timeout=60)
client.shutdown()
server.shutdown()
"#,
        )
        .run();
    out.code(0).clean();
}

#[test]
fn the_2021_handshake_works_on_the_debian_guest() {
    let out = Test::new()
        .start_script(&start_script("machine"))
        .env("QEMU_KERNEL_PARAMS", "vmtest.handshake=old")
        .script(
            "machine.succeed \"cat /proc/cmdline\" contains \"vmtest.handshake=old\"\n\
             machine.succeed \"echo old\" == \"old\"\nmachine.shutdown\n",
        )
        .run();
    out.code(0).clean();
}
