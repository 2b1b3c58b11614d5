//! Files, reboots, the console log, unit info and a machine's log lines on the
//! fake VM: the driver's side of `methods/files.rs`, `power.rs`, `logs.rs`,
//! `network.rs` and `get_unit_info` (the real guests: `real_files.rs`).

use crate::support::Test;
use std::fs;
use std::path::Path;

/// Bytes no text transport passes unharmed: every byte value, NULs, CR LF, a
/// lone trailing newline.
fn binary(size: usize) -> Vec<u8> {
    (0..size)
        .map(|i| (i * 7 + i / 256) as u8)
        .chain(*b"\r\n\0\n")
        .collect()
}

/// Writes the files a copy test sends: `dir/in/it's a file` (binary) and
/// `dir/in/tree/` (a directory with an empty file and a nested binary one).
fn sources(dir: &Path) -> Vec<u8> {
    let data = binary(200_000);
    fs::create_dir_all(dir.join("in/tree/sub dir")).unwrap();
    fs::write(dir.join("in/it's a file"), &data).unwrap();
    fs::write(dir.join("in/tree/empty"), b"").unwrap();
    fs::write(dir.join("in/tree/sub dir/data"), &data).unwrap();
    data
}

#[test]
fn files_go_both_ways_byte_for_byte_through_the_shared_directory() {
    let test = Test::new().fake("machine", &[]);
    let data = sources(test.dir());
    let guest = test.dir().join("guest");
    let g = guest.display();
    let input = test.dir().join("in");
    let i = input.display();
    let out = test
        .arg("-o")
        .arg("out")
        .script(&format!(
            r#"
machine.copy_from_host "{i}/it's a file" "{g}/a dir/it's here"
machine.succeed "cmp \"{i}/it's a file\" \"{g}/a dir/it's here\""
machine.copy_from_host "{i}/tree" "{g}/tree"
machine.succeed "diff -r \"{i}/tree\" \"{g}/tree\""
machine.copy_from_vm "{g}/a dir/it's here"
machine.copy_from_vm "{g}/tree/" "nested/dir"
machine.copy_from_machine("{g}/a dir/it's here", target_dir="again")
machine.copy_from_host_via_shell "{i}/it's a file" "{g}/via shell/it's sent"
machine.succeed "cmp \"{i}/it's a file\" \"{g}/via shell/it's sent\""
machine.copy_from_host_via_shell "{i}/tree/empty" "{g}/via shell/empty"
machine.succeed "test -f '{g}/via shell/empty' && ! test -s '{g}/via shell/empty'"
"#
        ))
        .run();
    out.code(0).clean();
    let copied = out.dir().join("out");
    assert_eq!(fs::read(copied.join("it's here")).unwrap(), data);
    assert_eq!(fs::read(copied.join("again/it's here")).unwrap(), data);
    assert_eq!(
        fs::read(copied.join("nested/dir/tree/sub dir/data")).unwrap(),
        data
    );
    assert!(copied.join("nested/dir/tree/empty").is_file());
    let shared: Vec<_> = fs::read_dir(out.dir().join("tmp")).unwrap().collect();
    assert!(shared.is_empty(), "the run left {shared:?}");
}

#[test]
fn without_an_output_directory_copies_land_in_the_current_directory() {
    let test = Test::new().fake("machine", &[]);
    let file = test.dir().join("from-guest");
    fs::write(&file, b"x\0y").unwrap();
    let out = test
        .without_log_xml()
        .script(&format!(
            "machine.copy_from_vm \"{}\" \"here\"\n",
            file.display()
        ))
        .run();
    out.code(0).clean();
    assert_eq!(
        fs::read(out.dir().join("here/from-guest")).unwrap(),
        b"x\0y"
    );
}

#[test]
fn a_guest_without_the_shared_directory_says_so_and_names_both_sides() {
    let test = Test::new().fake("machine", &[("FAKE_VM_SHARED", "0")]);
    fs::write(test.dir().join("f"), b"data").unwrap();
    // The fake guest's files are the host's: they go into the scratch directory.
    let guest = test.dir().join("guest");
    let g = guest.display();
    let out = test
        .script(&format!(
            "machine.copy_from_host_via_shell \"f\" \"{g}/new dir/../f2\"\n\
             machine.copy_from_host \"f\" \"{g}/never\"\n",
        ))
        .run();
    assert_eq!(fs::read(guest.join("f2")).unwrap(), b"data");
    assert!(!guest.join("never").exists());
    out.code(1)
        .stderr_has(&format!(
            "machine: copy_from_host `f` to `{g}/never` failed: the host's shared directory `"
        ))
        .stderr_has("shared-xchg` is not mounted in the guest at `/tmp/shared`")
        .stderr_has("test.cmds:2:1")
        .clean();
}

#[test]
fn copy_errors_name_the_machine_and_what_was_missing() {
    let out = Test::new()
        .fake("machine", &[])
        .script("machine.copy_from_host \"no such file\" \"/tmp/x\"\n")
        .run();
    out.code(1)
        .stderr_has("machine: copy_from_host `no such file` to `/tmp/x` failed: `no such file`: No such file")
        .clean();
    let out = Test::new()
        .fake("machine", &[])
        .script("machine.copy_from_vm \"/no/such/file\"\n")
        .run();
    out.code(1)
        .stderr_has("machine: copy_from_vm `/no/such/file` failed: the guest's copy failed with exit status 1: ")
        .stderr_has("No such file or directory")
        .stderr_lacks("if [ ! -d")
        .clean();
}

#[test]
fn reboot_waits_for_the_new_shell_with_or_without_allow_reboot() {
    let out = Test::new()
        .fake("machine", &[])
        .fake("other", &[])
        .script(
            r#"
machine.start(allow_reboot=True)
machine.succeed "echo before > $FAKE_VM_DIR/../../marker"
machine.reboot
machine.succeed "echo after" == "after"
other.start
other.succeed "true"
other.reboot
other.succeed "echo again" == "again"
machine.log "all rebooted"
"#,
        )
        .run();
    out.code(0)
        .stderr_has("machine: rebooting: the next step waits for the guest's root shell")
        .stderr_has("other: rebooting: QEMU runs with -no-reboot")
        .stderr_has("machine: all rebooted")
        .clean();
    let started = out.stderr.matches("other: QEMU running").count();
    assert_eq!(started, 2, "{}", out.stderr);
    let started = out.stderr.matches("machine: QEMU running").count();
    assert_eq!(started, 1, "{}", out.stderr);
    let lines = out.xml_elements();
    assert!(
        lines.iter().any(|(name, attributes, text)| name == "line"
            && text == "all rebooted"
            && attributes.contains(&("machine".to_string(), "machine".to_string()))),
        "{lines:?}"
    );
}

#[test]
fn the_console_log_and_unit_info_are_values_in_both_front_ends() {
    let systemctl = "case \"$*\" in *--property=ActiveState*) echo ActiveState=active ;; *show*) for a; do last=$a; done; printf 'Id=%s\\nActiveState=active\\nDescription=a = b\\nnot a property\\n' \"$last\" ;; esac";
    let script = r#"start_all()
machine.succeed("echo marker-on-console >&2")
machine.wait_for_console_text("marker-on-console")
log = machine.get_console_log()
assert "marker-on-console" in log, log
info = machine.get_unit_info("it's.service")
assert info["Id"] == "it's.service", info
assert info["ActiveState"] == "active"
assert info["Description"] == "a = b"
assert len(info) == 3
assert machine.get_unit_info("x", user="alice")["ActiveState"] == "active"
machine.wait_for_job("x.service")
machine.forward_port(host_port=18080, guest_port=80)
machine.log("done with " + info["Id"])
"#;
    for (name, text) in [
        ("test.py", script.to_string()),
        ("test.cmds", script.to_string()),
    ] {
        let test = Test::new()
            .fake("machine", &[])
            .fake_program("systemctl", systemctl)
            .fake_program("su", "exec /bin/sh -c \"$6\"");
        fs::write(test.dir().join(name), &text).unwrap();
        let out = test.arg("--").arg(name).run();
        out.code(0)
            .stderr_has("machine: forwarding host port 18080 (127.0.0.1) to guest port 80")
            .stderr_has("machine: done with it's.service")
            .clean();
    }
}

#[test]
fn the_checker_knows_the_new_methods_options_and_kinds() {
    let out = Test::new()
        .fake("machine", &[])
        .script(
            r#"
machine.forward_port 8080 80
machine.forward_port(host_port=2222, guest_port=22)
machine.wait_for_open_unix_socket("/run/x", is_datagram=True, timeout=5)
machine.start(allow_reboot=False)
info = machine.get_unit_info("x")
x = info["ActiveState"]
"#,
        )
        .check();
    out.code(0);
    let out = Test::new()
        .fake("machine", &[])
        .script(
            "machine.forward_port 0\nmachine.wait_for_open_unix_socket \"/x\" is_datagram=\"yes\"\n",
        )
        .check();
    out.code(2)
        .stderr_has("a port number from 1 to 65535")
        .stderr_has("True or False");
}
