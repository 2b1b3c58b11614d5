//! Files, reboots, forwarded ports, the console log, unix sockets and unit info
//! on the real guests under QEMU (TCG): the busybox guest (9p share, busybox init
//! that reboots on ctrl-alt-delete, httpd) and the Debian guest (systemd, a user
//! unit of alice, OpenBSD `nc` with `-U`).

use crate::support::Test;
use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Every byte value, NULs, CR LF and a trailing newline, over several of
/// `copy_from_host_via_shell`'s chunks.
fn binary() -> Vec<u8> {
    (0..100_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .chain(*b"\r\n\0\n")
        .collect()
}

/// A TCP port nobody on the host listens on now.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("address").port()
}

/// `GET /` on the host's `127.0.0.1:port`; the whole answer.
fn http_get(port: u16) -> String {
    let mut stream =
        TcpStream::connect(("127.0.0.1", port)).expect("connect to the forwarded port");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("read timeout");
    stream
        .write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .expect("send the request");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read the answer");
    answer
}

/// The run's shared directory (`TMPDIR/vmtest-min.*/shared-xchg`).
fn shared_dir(scratch: &Path) -> PathBuf {
    let root = fs::read_dir(scratch.join("tmp"))
        .expect("TMPDIR")
        .map(|entry| entry.expect("entry").path())
        .find(|path| {
            path.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("vmtest-min."))
        })
        .expect("the run root");
    root.join("shared-xchg")
}

#[test]
fn busybox_guest_copies_forwards_a_port_reboots_and_keeps_its_console() {
    let test = Test::new().start_script(&crate::real::start_script("machine"));
    let data = binary();
    fs::create_dir_all(test.dir().join("in/tree/sub dir")).unwrap();
    fs::write(test.dir().join("in/it's a file"), &data).unwrap();
    fs::write(test.dir().join("in/tree/sub dir/data"), &data).unwrap();
    fs::write(test.dir().join("in/tree/empty"), b"").unwrap();
    let input = test.dir().join("in");
    let i = input.display();
    let port = free_port();
    let mut running = test
        .arg("-o")
        .arg("out")
        .script(&format!(
            r#"
machine.start(allow_reboot=True)
machine.copy_from_host "{i}/it's a file" "/root/a dir/it's here"
machine.copy_from_host "{i}/tree" "/root/tree"
machine.copy_from_host_via_shell "{i}/it's a file" "/root/via shell/it's sent"
machine.succeed "cmp \"/root/a dir/it's here\" \"/root/via shell/it's sent\""
machine.copy_from_vm "/root/a dir/it's here" "back"
machine.copy_from_vm "/root/via shell/it's sent" "back"
machine.copy_from_vm "/root/tree"
machine.succeed "systemctl start hello-web"
machine.wait_for_open_port 80
machine.forward_port {port} 80
machine.log "port forwarded"
machine.wait_until_succeeds "test -e /tmp/shared/fetched" timeout=120
machine.succeed "touch /tmp/before-reboot"
machine.reboot
machine.fail "test -e /tmp/before-reboot"
machine.succeed "hostname" == "machine"
machine.get_console_log() =~ "(?s)Linux version.*Linux version.*vmtest-guest: backdoor starting"
machine.shutdown
machine.start
machine.succeed "touch /tmp/before-reboot"
machine.reboot
machine.fail "test -e /tmp/before-reboot"
machine.get_console_log() =~ "Linux version"
machine.get_console_log() !~ "(?s)Linux version.*Linux version"
machine.shutdown
"#
        ))
        .spawn();
    running.wait_for_line("machine: port forwarded", Duration::from_secs(240));
    let answer = http_get(port);
    assert!(answer.ends_with("\r\n\r\nhello\n"), "{answer:?}");
    fs::write(shared_dir(running.dir()).join("fetched"), b"").unwrap();
    let out = running.finish();
    out.code(0)
        .stderr_has("machine: rebooting: the next step waits for the guest's root shell")
        .stderr_has("machine: rebooting: QEMU runs with -no-reboot")
        .clean();
    let back = out.dir().join("out");
    assert_eq!(fs::read(back.join("back/it's here")).unwrap(), data);
    assert_eq!(fs::read(back.join("back/it's sent")).unwrap(), data);
    assert_eq!(fs::read(back.join("tree/sub dir/data")).unwrap(), data);
    assert_eq!(fs::read(back.join("tree/empty")).unwrap(), b"");
}

#[test]
fn debian_guest_unit_info_user_units_unix_sockets_and_a_reboot_from_python() {
    let test = Test::new().start_script(&crate::real_debian::start_script("machine"));
    let data = binary();
    fs::write(test.dir().join("data.bin"), &data).unwrap();
    let src = r#"
machine.start(allow_reboot=True)
machine.wait_for_unit("multi-user.target")
info = machine.get_unit_info("hello-web.service")
assert info["Id"] == "hello-web.service", info
assert info["ActiveState"] == "active"
assert info["MainPID"] != "0"
machine.wait_for_unit("hello-user.service", "alice", timeout=120)
mine = machine.get_unit_info("hello-user.service", user="alice")
assert mine["ActiveState"] == "active", mine
assert mine["ControlGroup"].startswith("/user.slice/"), mine["ControlGroup"]
machine.fail("nc -z -U '/tmp/a stream'", "nc -z -uU /tmp/datagram")
machine.succeed("nc -lkU '/tmp/a stream' >/dev/null 2>&1 &")
machine.wait_for_open_unix_socket("/tmp/a stream", timeout=60)
machine.succeed("nc -luU /tmp/datagram >/dev/null 2>&1 &")
machine.wait_for_open_unix_socket("/tmp/datagram", is_datagram=True, timeout=60)
machine.copy_from_host_via_shell("data.bin", "/root/data.bin")
machine.copy_from_host("data.bin", "/root/shared/data.bin")
machine.succeed("cmp /root/data.bin /root/shared/data.bin")
machine.copy_from_machine("/root/data.bin", target_dir="out")
machine.succeed("touch /run/before-reboot")
machine.reboot()
machine.fail("test -e /run/before-reboot")
machine.wait_for_unit("multi-user.target")
assert "reboot.target" in machine.get_console_log()
machine.shutdown()
"#;
    fs::write(test.dir().join("test.py"), src).unwrap();
    let out = test.arg("--").arg("test.py").run();
    out.code(0).clean();
    assert_eq!(fs::read(out.dir().join("out/data.bin")).unwrap(), data);
}

#[test]
fn a_port_forwarded_twice_fails_with_the_monitors_answer() {
    let port = free_port();
    let out = Test::new()
        .start_script(&crate::real::start_script("machine"))
        .script(&format!(
            "machine.start\nmachine.forward_port {port} 80\nmachine.forward_port {port} 22\n"
        ))
        .run();
    out.code(3)
        .stderr_has(&format!(
            "machine: forwarding host port {port} to guest port 22 failed: the monitor answered"
        ))
        .stderr_has("test.cmds:3:1")
        .clean();
}
