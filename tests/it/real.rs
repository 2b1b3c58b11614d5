//! Tests that boot the project's real test guest under QEMU (TCG).
//!
//! The guest is built (or found cached) in `guest/` by `tests/guest/build.sh` on first
//! use. Related checks share one boot to keep the suite's time sane.

use crate::support::Test;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

/// The guest directory with its `run-<name>-vm` scripts, built on first use.
fn guest() -> &'static Path {
    static GUEST: OnceLock<PathBuf> = OnceLock::new();
    GUEST.get_or_init(|| crate::support::build_guest("guest", "tests/guest/build.sh"))
}

pub(crate) fn start_script(name: &str) -> PathBuf {
    guest().join(format!("run-{name}-vm"))
}

/// Machines `client` and `server`, both on vlan 1.
fn client_and_server_on_vlan_1() -> Test {
    Test::new()
        .start_script(&start_script("client"))
        .start_script(&start_script("server"))
        .arg("--vlans")
        .arg("1")
}

#[test]
fn one_machine_commands_checks_waits_console_monitor_and_power() {
    let out = Test::new()
        .start_script(&start_script("machine"))
        .script(
            r#"
start_all
machine.succeed "echo hello" =~ "hel+o"
machine.succeed 'printf "%s" x' == "x"
machine.succeed "cat /etc/hostname" contains "machine"
machine.fail "false"
name = machine.succeed "hostname"
machine.succeed "echo ${name}" == "machine"
machine.succeed "sleep 60 >/dev/null 2>&1 &"
machine.succeed "(sleep 2; touch /tmp/ready) >/dev/null 2>&1 &"
machine.wait_until_succeeds "test -e /tmp/ready" timeout=60
machine.succeed "echo marker-from-guest > /dev/ttyS0"
machine.wait_for_console_text "marker-from-guest"
machine.send_monitor_command "info status" contains "running"
lines = machine.succeed "seq 1 100000 | tail -n 1"
machine.succeed "echo ${lines}" == "100000"
machine.succeed "systemctl start sleeper"
machine.wait_until_succeeds "systemctl show sleeper" =~ "ActiveState=active"
machine.succeed "touch /tmp/shared/from-guest"
machine.shutdown
machine.start
machine.succeed "test -e /tmp/shared/from-guest"
machine.crash
machine.start
machine.succeed "echo back" == "back"
machine.shutdown
"#,
        )
        .run();
    out.code(0)
        .stderr_has("connected to guest root shell")
        .clean();
    out.xml_elements();
}

#[test]
fn keep_vm_state_keeps_the_state_directory() {
    let out = Test::new()
        .start_script(&start_script("machine"))
        .arg("-K")
        .script(
            "machine.succeed \"touch /tmp/shared/kept\"\nmachine.shutdown\n\
             machine.start\nmachine.succeed \"test -e /tmp/shared/kept\"\nmachine.shutdown\n",
        )
        .run();
    out.code(0).stderr_has("machine state kept in");
    let kept = out.dir().join("tmp/vmtest-min-state");
    assert!(kept.join("vm-state-machine").is_dir(), "state dir missing");
    assert!(
        kept.join("shared-xchg/kept").is_file(),
        "shared file missing"
    );
    assert!(crate::support::processes_under(out.dir()).is_empty());
}

#[test]
fn two_machines_on_a_vlan_and_a_cut_link() {
    let out = client_and_server_on_vlan_1()
        .script(
            r#"
start_all
client.wait_until_succeeds "ping -c 1 -W 2 server" timeout=60
server.send_monitor_command "set_link virtio-net-pci.1 off"
client.fail "ping -c 1 -W 2 server"
server.send_monitor_command "set_link virtio-net-pci.1 on"
client.wait_until_succeeds "ping -c 1 -W 2 server" timeout=60
client.shutdown
server.shutdown
"#,
        )
        .run();
    out.code(0).clean();
}

#[test]
fn a_guest_that_panics_at_boot_fails_fast() {
    let out = Test::new()
        .start_script(&start_script("machine"))
        .env("QEMU_KERNEL_PARAMS", "vmtest.panic=1")
        .script("machine.succeed \"true\"\n")
        .run();
    out.code(3)
        .stderr_has("machine: ")
        .stderr_has("Kernel panic")
        .clean();
    out.within(Duration::from_secs(120));
}

#[test]
fn a_guest_whose_backdoor_never_starts_fails_with_its_serial_tail() {
    let out = Test::new()
        .start_script(&start_script("machine"))
        .env("QEMU_KERNEL_PARAMS", "vmtest.nobackdoor=1")
        .arg("--connect-timeout")
        .arg("40")
        .script("machine.succeed \"true\"\n")
        .run();
    out.code(3)
        .stderr_has("the guest's root shell did not connect within 40 s")
        .stderr_has("serial lines")
        .clean();
}

#[test]
fn the_2021_handshake_works_on_a_real_guest() {
    let out = Test::new()
        .start_script(&start_script("machine"))
        .env("QEMU_KERNEL_PARAMS", "vmtest.handshake=old")
        .script("machine.succeed \"echo old\" == \"old\"\nmachine.shutdown\n")
        .run();
    out.code(0).clean();
}

#[test]
fn qemu_refusing_its_options_is_shown_to_the_user() {
    let out = Test::new()
        .start_script(&start_script("machine"))
        .env("QEMU_OPTS", "-no-such-option")
        .script("machine.succeed \"true\"\n")
        .run();
    out.code(3)
        .stderr_has("machine: QEMU exited (exit status 1)")
        .stderr_has("-no-such-option")
        .clean();
}

#[test]
fn units_ports_files_and_links_as_nixos_tests_use_them() {
    let out = client_and_server_on_vlan_1()
        .script(
            r#"
start_all
server.wait_for_unit("multi-user.target")
server.start_job("hello-web")
server.wait_for_unit("hello-web.service")
server.wait_for_open_port(80)
client.wait_for_open_port(80, addr="server", timeout=60)
server.require_unit_state("hello-web", state="active")
server.get_unit_property("hello-web", "ActiveState") == "active"
server.systemctl("is-active hello-web") == "active"
server.stop_job("hello-web")
server.wait_for_closed_port(80)
server.succeed("(sleep 1; touch /tmp/later) >/dev/null 2>&1 &")
server.wait_for_file("/tmp/later")
server.block()
client.fail("ping -c 1 -W 1 server")
server.unblock()
client.wait_until_succeeds("ping -c 1 -W 1 server", timeout=30)
server.systemctl("start failing")
server.sleep(1)
server.wait_for_unit("failing", timeout=30)
"#,
        )
        .run();
    out.code(1)
        .stderr_has("server: unit `failing` reached state `failed`")
        .stderr_has("test.cmds:21:1")
        .clean();
}

/// Issue 8: machines are values a script can loop over, on real guests too.
#[test]
fn a_loop_over_two_real_machines() {
    let out = client_and_server_on_vlan_1()
        .script(
            r#"
start_all
for m in machines {
    assert m.succeed("hostname") == "${m}"
    rc, out = m.execute("cat /etc/hostname; exit 3")
    assert rc == 3 and str(m) in out
}
for m in [client, server] { m.shutdown }
"#,
        )
        .run();
    out.code(0).stderr_has("must succeed: hostname").clean();
}
