//! Hermetic tests of the driver against the fake VM: framing, checks, captures,
//! failures, timeouts, signals, cleanup and logs.

use crate::support::Test;
use std::time::Duration;

#[test]
fn a_passing_script_exits_zero_and_leaves_nothing() {
    let out = Test::new()
        .fake("machine", &[])
        .script(
            r#"
start_all
machine.succeed "echo hello" =~ "hel+o"
machine.succeed 'printf "%s" x' == "x"
machine.succeed "echo x" == "x"
machine.succeed "hostname" !contains "no-such-host"
machine.fail "false"
name = machine.succeed "printf '  spaced  \n\n'"
machine.succeed "printf '%s' '${name}'" == "  spaced  "
subtest "heredoc" {
    machine.succeed <<EOF == "two"
    echo one > "$TMPDIR/file"
    echo two
    EOF
    machine.succeed 'cat "$TMPDIR/file"' == "one"
}
machine.succeed "echo a" "echo b" == "a\nb"
machine.execute "exit 3" == ""
machine.shutdown
"#,
        )
        .run();
    out.code(0).stderr_has("passed").clean();
    let elements = out.xml_elements();
    assert!(
        elements
            .iter()
            .any(|(name, _, text)| name == "head" && text == "subtest: heredoc")
    );
    assert!(elements.iter().any(|(name, attrs, _)| name == "line"
        && attrs.contains(&("type".to_string(), "serial".to_string()))));
}

#[test]
fn a_failing_command_names_line_machine_command_status_and_output() {
    let out = Test::new()
        .fake("server", &[])
        .script(
            "start_all\nserver.succeed \"echo 'about to fail'; echo oops >&2; exit 7\"\nserver.succeed \"true\"\n",
        )
        .run();
    out.code(1)
        .stderr_has(
            "server: command `echo 'about to fail'; echo oops >&2; exit 7` failed (exit status 7)",
        )
        .stderr_has("test.cmds:2:1")
        .stderr_has("output:\n!!!   about to fail\n!!! console while it ran (stderr goes there):")
        .stderr_has("!!!   oops")
        .stderr_lacks("must succeed: true")
        .clean();
    out.xml_elements();
}

#[test]
fn a_failed_check_shows_the_output_it_saw() {
    let out = Test::new()
        .fake("machine", &[])
        .script("machine.succeed \"echo actual\" == \"expected\"\n")
        .run();
    out.code(1)
        .stderr_has(r#"output of succeed `echo actual` does not satisfy == "expected""#)
        .stderr_has("actual")
        .clean();
}

#[test]
fn background_processes_holding_stdout_do_not_hang_commands() {
    let out = Test::new()
        .fake("machine", &[])
        .script(
            r#"
machine.succeed "sleep 60 &"
machine.succeed "(while true; do echo noise; sleep 0.05; done) &"
machine.succeed "echo next" == "next"
machine.succeed "sleep 0.2; echo again" == "again"
"#,
        )
        .run();
    out.code(0).clean();
    out.within(Duration::from_secs(20));
}

#[test]
fn output_that_looks_like_framing_is_kept_whole() {
    let out = Test::new()
        .fake("machine", &[])
        .script(
            r#"
machine.succeed "printf 'a\n|!=EOF 0\nvmtest-0 0\n'" == "a\n|!=EOF 0\nvmtest-0 0"
machine.succeed "printf 'no newline at end'" == "no newline at end"
machine.succeed "printf '\n\n'" == ""
machine.succeed "cat" == ""
machine.succeed "printf '%s' \"it's\"" == "it's"
machine.fail "echo '# not a comment' ) ( \""
machine.succeed "echo still # framed" == "still"
"#,
        )
        .run();
    out.code(0).clean();
}

#[test]
fn bulk_output_arrives_whole() {
    let out = Test::new()
        .fake("machine", &[])
        .script(
            r#"
lines = machine.succeed "seq 1 300000"
machine.succeed "echo '${lines}' | wc -l" == "300000"
machine.succeed "seq 1 300000 | tail -n 1" == "300000"
"#,
        )
        .arg("--no-serial")
        .run();
    out.code(0).clean();
}

#[test]
fn a_command_that_outlives_its_timeout_fails_the_step() {
    let out = Test::new()
        .fake("machine", &[])
        .script("machine.succeed \"sleep 30\" timeout=1\n")
        .run();
    out.code(1)
        .stderr_has("machine: timed out after 1 s waiting for command `sleep 30` to finish")
        .clean();
    out.within(Duration::from_secs(15));
}

#[test]
fn waits_retry_until_the_condition_holds() {
    let out = Test::new()
        .fake("machine", &[])
        .script(
            r#"
machine.succeed '(sleep 1; touch "$TMPDIR/ready") >/dev/null 2>&1 &'
machine.wait_until_succeeds 'test -e "$TMPDIR/ready"' timeout=20
machine.succeed '(sleep 1; echo 2 > "$TMPDIR/n") >/dev/null 2>&1 &'
machine.wait_until_succeeds 'cat "$TMPDIR/n" 2>/dev/null || echo 1' =~ "^2" timeout=20
machine.wait_until_fails 'test -e "$TMPDIR/ready" && rm "$TMPDIR/ready"' timeout=20
"#,
        )
        .run();
    out.code(0).clean();
}

#[test]
fn a_wait_that_never_holds_times_out_with_the_last_output() {
    let out = Test::new()
        .fake("machine", &[])
        .script("machine.wait_until_succeeds \"echo not yet; false\" timeout=2\n")
        .run();
    out.code(1)
        .stderr_has("timed out after 2 s waiting for success of `echo not yet; false`")
        .stderr_has("not yet")
        .clean();
}

#[test]
fn wait_tries_are_bounded_in_the_guest() {
    let out = Test::new()
        .fake("machine", &[])
        .script("machine.wait_until_succeeds \"sleep 100\" timeout=2\nmachine.succeed \"echo usable\" == \"usable\"\n")
        .run();
    out.code(1)
        .stderr_has("waiting for success of `sleep 100`")
        .clean();
    out.within(Duration::from_secs(20));
}

#[test]
fn console_text_and_monitor_commands() {
    let out = Test::new()
        .fake(
            "machine",
            &[
                ("FAKE_VM_SERIAL_EXTRA", "ready-1,ready-2"),
                ("FAKE_VM_SERIAL_EXTRA_INTERVAL_MS", "200"),
            ],
        )
        .script(
            r#"
start_all
line = machine.wait_for_console_text "ready-[0-9]"
machine.wait_for_console_text "ready-[0-9]" == "ready-2"
machine.send_monitor_command "info status" contains "running"
machine.send_monitor_command "set_link virtio-net-pci.1 off" == ""
log "first console line: ${line}"
"#,
        )
        .run();
    out.code(0)
        .stderr_has("first console line: ready-1")
        .clean();
}

#[test]
fn both_handshakes_and_firmware_noise_are_accepted() {
    for env in [[("FAKE_VM_HANDSHAKE", "old")], [("FAKE_VM_MODE", "noise")]] {
        let out = Test::new()
            .fake("machine", &env)
            .script("machine.succeed \"echo hi\" == \"hi\"\nmachine.succeed \"echo again\" == \"again\"\n")
            .run();
        out.code(0).clean();
    }
}

#[test]
fn shutdown_start_again_and_crash() {
    let out = Test::new()
        .fake("machine", &[])
        .script(
            r#"
machine.succeed 'echo kept > "$TMPDIR/state-file"'
machine.shutdown
machine.start
machine.succeed 'cat "$TMPDIR/state-file"' == "kept"
machine.crash
machine.start
machine.succeed "echo back" == "back"
"#,
        )
        .run();
    out.code(0)
        .stderr_has("QEMU exited (exit status 0)")
        .clean();
}

#[test]
fn qemu_that_dies_at_start_fails_fast_with_its_message() {
    let out = Test::new()
        .fake(
            "machine",
            &[("FAKE_VM_MODE", "exit"), ("FAKE_VM_EXIT_SIGNAL", "abort")],
        )
        .script("start_all\nmachine.succeed \"true\"\n")
        .run();
    out.code(3)
        .stderr_has("machine: QEMU exited (killed by SIGABRT)")
        .stderr_has("failed to set MSR")
        .clean();
    out.within(Duration::from_secs(10));
}

#[test]
fn a_guest_panic_fails_fast_with_the_serial_tail() {
    let out = Test::new()
        .fake("machine", &[("FAKE_VM_MODE", "panic")])
        .script("machine.succeed \"true\"\n")
        .run();
    out.code(3)
        .stderr_has("machine: the guest kernel panicked while waiting for the guest's root shell")
        .stderr_has("last ")
        .stderr_has("Attempted to kill init")
        .clean();
    out.within(Duration::from_secs(10));
}

#[test]
fn a_guest_without_backdoor_fails_at_the_connect_timeout() {
    let out = Test::new()
        .fake("machine", &[("FAKE_VM_MODE", "no-backdoor")])
        .arg("--connect-timeout")
        .arg("2")
        .script("machine.succeed \"true\"\n")
        .run();
    out.code(3)
        .stderr_has("machine: the guest's root shell did not connect within 2 s")
        .stderr_has("Linux version")
        .clean();
}

#[test]
fn serial_floods_and_garbage_keep_the_log_well_formed() {
    let out = Test::new()
        .fake("flood", &[("FAKE_VM_MODE", "flood"), ("FAKE_VM_FLOOD_LINES", "20000")])
        .fake("junk", &[("FAKE_VM_MODE", "garbage")])
        .arg("--no-serial")
        .script("start_all\nflood.succeed \"echo ok\" == \"ok\"\njunk.succeed \"echo ok\" == \"ok\"\nflood.shutdown\njunk.shutdown\n")
        .run();
    out.code(0).clean();
    let elements = out.xml_elements();
    assert!(elements.len() > 1000, "{} elements", elements.len());
    assert!(!out.xml.contains('\u{1}') && !out.xml.contains('\u{1b}'));
}

#[test]
fn sigterm_ends_the_run_cleanly() {
    for (signal, code) in [(libc::SIGTERM, 143), (libc::SIGINT, 130)] {
        let mut run = Test::new()
            .fake("machine", &[])
            .script("machine.succeed \"echo started\"\nmachine.succeed \"sleep 60\"\n")
            .spawn();
        run.wait_for_line("must succeed: sleep 60", Duration::from_secs(30));
        run.signal(signal);
        let out = run.finish();
        out.code(code).stderr_has("interrupted by").clean();
        assert!(out.xml.trim_end().ends_with("</logfile>"));
        out.xml_elements();
    }
}

#[test]
fn a_qemu_that_ignores_sigterm_is_killed() {
    let mut run = Test::new()
        .fake("machine", &[("FAKE_VM_MODE", "hang-term")])
        .script("machine.succeed \"sleep 60\"\n")
        .spawn();
    run.wait_for_line("must succeed: sleep 60", Duration::from_secs(30));
    run.signal(libc::SIGTERM);
    run.finish().code(143).clean();
}

#[test]
fn the_global_timeout_stops_everything() {
    let out = Test::new()
        .fake("machine", &[])
        .arg("--global-timeout")
        .arg("2")
        .script("machine.succeed \"sleep 60\"\n")
        .run();
    out.code(4)
        .stderr_has("global timeout of 2 s reached")
        .clean();
}

#[test]
fn script_errors_stop_before_anything_boots() {
    let out = Test::new()
        .fake("machine", &[])
        .script("start_all\nmachine.succed \"true\"\nclient.succeed \"true\"\n")
        .run();
    out.code(2)
        .stderr_has("test.cmds:2:9")
        .stderr_has("did you mean `succeed`")
        .stderr_has("test.cmds:3:1")
        .stderr_lacks("starting vm")
        .clean();
}

#[test]
fn two_start_scripts_for_one_machine_are_an_error() {
    let test = Test::new().fake("machine", &[]);
    let other = test.dir().join("other");
    std::fs::create_dir(&other).unwrap();
    let script = crate::fake_vm::write_start_script(&other, "machine", &[]);
    test.start_script(&script)
        .script("start_all\n")
        .run()
        .code(2)
        .stderr_has("two start scripts define machine `machine`");
}

#[test]
fn vlans_start_a_switch_whose_socket_reaches_the_machines() {
    let out = Test::new()
        .fake("machine", &[])
        .arg("--vlans")
        .arg("1")
        .arg("1")
        .script("machine.succeed 'test -S \"$QEMU_VDE_SOCKET_1/ctl\" && echo yes' == \"yes\"\n")
        .run();
    out.code(0).stderr_has("running vlan 1").clean();
}

#[test]
fn a_missing_vde_switch_is_an_environment_failure() {
    let out = Test::new()
        .fake("machine", &[])
        .env("PATH", "/nonexistent")
        .arg("--vlans")
        .arg("1")
        .script("machine.succeed \"true\"\n")
        .run();
    out.code(3)
        .stderr_has("vlan 1: `vde_switch` was not found on PATH")
        .clean();
}

#[test]
fn check_validates_without_booting() {
    Test::new()
        .fake("machine", &[])
        .script("start_all\nmachine.succeed \"true\" =~ \"(\"\n")
        .check()
        .code(2)
        .stderr_has("test.cmds:2:");
    Test::new()
        .fake("machine", &[])
        .script("start_all\nmachine.succeed \"true\"\n")
        .check()
        .code(0)
        .stderr_has("ok");
}

#[test]
fn relative_start_script_paths_work() {
    let test = Test::new();
    let bin = test.dir().join("bin");
    std::fs::create_dir(&bin).unwrap();
    crate::fake_vm::write_start_script(&bin, "rel", &[]);
    test.start_script(std::path::Path::new("bin/run-rel-vm"))
        .script("rel.succeed \"true\"\n")
        .run()
        .code(0)
        .clean();
}

#[test]
fn a_killed_driver_leaves_no_qemu_behind() {
    // Without a backdoor the fake VM waits forever: only the kernel's parent-death
    // signal can end it once the driver is gone.
    let mut run = Test::new()
        .fake("machine", &[("FAKE_VM_MODE", "no-backdoor")])
        .script("machine.succeed \"true\"\n")
        .spawn();
    run.wait_for_line(
        "waiting for the VM to finish booting",
        Duration::from_secs(30),
    );
    run.signal(libc::SIGKILL);
    let out = run.finish();
    out.code(128 + libc::SIGKILL);
    let until = std::time::Instant::now() + Duration::from_secs(10);
    let mut left = crate::support::processes_under(out.dir());
    while !left.is_empty() && std::time::Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
        left = crate::support::processes_under(out.dir());
    }
    assert!(left.is_empty(), "left running: {left:?}");
}

#[test]
fn a_guest_that_stops_reading_cannot_block_the_driver() {
    // The backdoor bash stops itself; the next (large) command cannot be written.
    let big = "x".repeat(3_000_000);
    let out = Test::new()
        .fake("machine", &[])
        .arg("--global-timeout")
        .arg("5")
        .script(&format!(
            "machine.succeed \"(sleep 0.5; kill -STOP $$) >/dev/null 2>&1 &\"\n\
             sleep 1\n\
             machine.succeed ': {big}'\n"
        ))
        .run();
    out.code(4)
        .stderr_has("global timeout of 5 s reached")
        .clean();
    out.within(Duration::from_secs(20));
    assert!(out.xml.trim_end().ends_with("</logfile>"));
}

#[test]
fn timeouts_on_commands_and_waits_read_as_nixos_users_expect() {
    let out = Test::new()
        .fake(
            "machine",
            &[
                ("FAKE_VM_SERIAL_EXTRA", "tick"),
                ("FAKE_VM_SERIAL_EXTRA_INTERVAL_MS", "100"),
            ],
        )
        .script(
            r#"
machine.succeed "echo hello" =~ "hello$"
machine.fail "sleep 30" timeout=1
machine.succeed "echo still usable" == "still usable"
machine.succeed "true" timeout=10000000000000000000
machine.wait_for_console_text "tick" timeout=2 =~ "never"
"#,
        )
        .run();
    out.code(1)
        .stderr_has("timed out after 2 s waiting for `tick` to appear on the console with a line that passes the check")
        .clean();
}

#[test]
fn monitor_commands_are_one_line() {
    Test::new()
        .fake("machine", &[])
        .script("machine.send_monitor_command \"info status\\ninfo name\"\n")
        .run()
        .code(1)
        .stderr_has("spans several lines: send one command per call")
        .clean();
}

#[test]
fn a_detached_process_holding_the_serial_pipe_does_not_stall_cleanup() {
    let test = Test::new();
    let bin = test.dir().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let script = bin.join("run-machine-vm");
    std::fs::write(
        &script,
        format!(
            "#!/usr/bin/env bash\nsetsid sleep 41.5 &\nexec '{}' \"$@\"\n",
            crate::fake_vm::fake_vm_binary().display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = test
        .start_script(&script)
        .script("machine.succeed \"true\"\n")
        .run();
    let _ = std::process::Command::new("pkill")
        .args(["-f", "sleep 41.5"])
        .status();
    out.code(0).within(Duration::from_secs(20));
}

/// A run with vlan 1 whose `vde_switch` starts but never creates its control socket.
fn run_with_a_silent_switch() -> Test {
    Test::new()
        .fake_program("vde_switch", "exec sleep 600")
        .fake("machine", &[])
        .arg("--vlans")
        .arg("1")
        .script("machine.succeed \"true\"\n")
}

/// Issue 6: Ctrl-C while a switch starts was reported as a vlan failure (exit 3).
#[test]
fn a_signal_while_a_vlan_switch_starts_is_an_interruption() {
    for (signal, code, name) in [
        (libc::SIGINT, 130, "SIGINT"),
        (libc::SIGTERM, 143, "SIGTERM"),
    ] {
        let mut run = run_with_a_silent_switch().spawn();
        run.wait_for_line("start all VLans", Duration::from_secs(30));
        run.signal(signal);
        let out = run.finish();
        out.code(code)
            .stderr_has(&format!("interrupted by {name}"))
            .stderr_lacks("vlan 1:")
            .within(Duration::from_secs(8))
            .clean();
    }
}

/// Issue 6: the global timeout while a switch starts was reported as a vlan failure.
#[test]
fn the_global_timeout_while_a_vlan_switch_starts_is_a_global_timeout() {
    let out = run_with_a_silent_switch()
        .arg("--global-timeout")
        .arg("1")
        .run();
    out.code(4)
        .stderr_has("global timeout of 1 s reached")
        .stderr_lacks("vlan 1:")
        .clean();
}

/// Issue 6: `--output-dir` was created and never used; it now holds the XML log
/// unless `--log-xml` puts it elsewhere.
#[test]
fn the_output_directory_is_created_and_holds_the_xml_log() {
    let run = |test: Test, dir: &str| {
        let out = test
            .fake("machine", &[])
            .arg("-o")
            .arg(dir)
            .script("machine.succeed \"true\"\n")
            .run();
        out.code(0).clean();
        assert!(out.dir().join(dir).is_dir());
        out
    };
    let out = run(Test::new().without_log_xml(), "out/nested");
    let log = out.dir().join("out/nested/log.xml");
    let xml = std::fs::read_to_string(&log).expect("the XML log in the output directory");
    let elements = crate::support::xml_elements(&xml);
    assert!(
        elements
            .iter()
            .any(|(_, _, text)| text.contains("must succeed: true"))
    );
    // --log-xml wins.
    let out = run(Test::new(), "out");
    assert!(!out.dir().join("out/log.xml").exists());
    assert!(out.xml.contains("must succeed: true"));
}
