//! Fixes from the Machine API review on the fake VM: the exchange directory the
//! guest can write to never lets it steer host-side writes or reads, host-side
//! copies stop on request, and the smaller API corrections (`review-api` A-D).

use crate::support::Test;
use std::fs;

/// Source files of the planting test: enough that the host is still writing
/// while a guest that watches the shared directory plants its links.
const PLANTED_FILES: usize = 3000;

#[test]
fn copy_from_host_never_writes_through_links_the_guest_plants() {
    let test = Test::new().fake("machine", &[]);
    let source = test.dir().join("src/tree");
    fs::create_dir_all(&source).unwrap();
    let victim = test.dir().join("victim");
    fs::create_dir(&victim).unwrap();
    let mut names = String::new();
    for i in 0..PLANTED_FILES {
        fs::write(source.join(format!("f{i:04}")), format!("{i}\n")).unwrap();
        names.push_str(&format!("{}/f{i:04}\n", victim.display()));
    }
    let list = test.dir().join("links");
    fs::write(&list, names).unwrap();
    let guest = test.dir().join("guest");
    // The guest waits for any `copy.*/tree` to appear in the shared directory and
    // at once plants a link for every name the host has not written yet.
    let plant = format!(
        "(timeout 120 bash -c 'while :; do for d in \"$SHARED_DIR\"/copy.*/tree; do \
         if [ -d \"$d\" ]; then xargs -a {list} ln -s -t \"$d\" 2>/dev/null; touch {done}; exit; fi; \
         done; done') >/dev/null 2>&1 &",
        list = list.display(),
        done = test.dir().join("planted").display()
    );
    let script = format!(
        "machine.succeed {plant:?}\n\
         machine.copy_from_host \"{src}\" \"{guest}\"\n\
         machine.wait_until_succeeds \"test -e {planted}\" timeout=60\n",
        src = source.display(),
        guest = guest.display(),
        planted = test.dir().join("planted").display(),
    );
    let out = test.script(&script).run();
    out.code(0).clean();
    let written: Vec<_> = fs::read_dir(&victim).unwrap().collect();
    assert!(
        written.is_empty(),
        "the host wrote {} files through the guest's links",
        written.len()
    );
    for i in [0, PLANTED_FILES - 1] {
        let copied = guest.join(format!("f{i:04}"));
        assert!(!copied.is_symlink(), "{} is a link", copied.display());
        assert_eq!(fs::read_to_string(copied).unwrap(), format!("{i}\n"));
    }
}

/// A `cp` for the fake guest that copies, then runs `extra` with `$last` set to
/// the copy's destination (what a hostile guest could do in the shared directory).
fn hostile_cp(extra: &str) -> String {
    format!("for a; do last=$a; done\n/bin/cp \"$@\" || exit\n{extra}")
}

#[test]
fn copy_from_vm_skips_links_and_special_files_the_guest_leaves() {
    let test = Test::new().fake("machine", &[]);
    let secret = test.dir().join("secret");
    fs::write(&secret, b"host secret").unwrap();
    let extra = format!(
        "ln -s {s} \"$last/link\"; ln -s {d} \"$last/dirlink\"; mkfifo \"$last/fifo\"",
        s = secret.display(),
        d = test.dir().display()
    );
    let tree = test.dir().join("guest-tree");
    fs::create_dir(&tree).unwrap();
    fs::write(tree.join("file"), b"guest data").unwrap();
    let out = test
        .fake_program("cp", &hostile_cp(&extra))
        .arg("-o")
        .arg("out")
        .script(&format!("machine.copy_from_vm \"{}\"\n", tree.display()))
        .run();
    out.code(0)
        .stderr_has("machine: skipped `guest-tree/link`: not a regular file or directory")
        .stderr_has("skipped `guest-tree/dirlink`")
        .stderr_has("skipped `guest-tree/fifo`")
        .clean();
    let copied = out.dir().join("out/guest-tree");
    assert_eq!(fs::read(copied.join("file")).unwrap(), b"guest data");
    let names: Vec<_> = fs::read_dir(&copied)
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(names, ["file"]);
}

#[test]
fn a_guest_that_replaces_the_exchange_directory_gets_nothing_from_the_host() {
    let test = Test::new().fake("machine", &[]);
    let secret = test.dir().join("secret");
    fs::create_dir(&secret).unwrap();
    fs::write(secret.join("f"), b"host secret").unwrap();
    let extra = format!(
        "x=$(dirname \"$last\"); rm -rf \"$x\"; ln -s {} \"$x\"",
        secret.display()
    );
    let file = test.dir().join("f");
    fs::write(&file, b"guest data").unwrap();
    let out = test
        .fake_program("cp", &hostile_cp(&extra))
        .arg("-o")
        .arg("out")
        .script(&format!("machine.copy_from_vm \"{}\"\n", file.display()))
        .run();
    out.code(1)
        .stderr_has("machine: copy_from_vm `")
        .stderr_has("failed: the guest replaced the exchange directory `")
        .clean();
    assert!(!out.dir().join("out/f").exists());
    assert_eq!(fs::read(secret.join("f")).unwrap(), b"host secret");
}

#[test]
fn a_linked_answer_in_the_shared_directory_is_not_read_as_output() {
    const SIZE: usize = 300_000;
    let test = Test::new().fake("machine", &[]);
    let secret = test.dir().join("secret");
    fs::write(&secret, "S".repeat(SIZE)).unwrap();
    // The guest's `dd` leaves a link to a host file where the answer belongs.
    let hostile_dd = format!(
        "for a; do case $a in of=*.vmtest-out.*) exec ln -s {} \"${{a#of=}}\";; esac; done\nexec /bin/dd \"$@\"",
        secret.display()
    );
    let test = test.fake_program("dd", &hostile_dd);
    let script = format!(
        "out = machine.succeed(\"head -c {SIZE} /dev/zero | tr '\\\\0' a\")\n\
         assert len(out) == {SIZE}, len(out)\n\
         assert \"S\" not in out\n"
    );
    fs::write(test.dir().join("test.py"), script).unwrap();
    let out = test.arg("--").arg("test.py").run();
    out.code(0).clean();
    assert_eq!(fs::read(&secret).unwrap().len(), SIZE);
}

#[test]
fn systemctl_gives_its_status_and_unit_errors_say_what_systemctl_said() {
    let systemctl = "case \"$*\" in \
        *is-active*) echo inactive; exit 3 ;; \
        *--property=Weird*) echo 'no such property line' ;; \
        *show*) echo 'Failed to connect to bus: No medium found' >&2; exit 1 ;; \
        esac";
    let script = r#"rc, out = machine.systemctl("is-active x.service")
assert rc == 3, rc
assert out.strip() == "inactive", out
rc, out = machine.systemctl("is-active x.service", "alice")
assert rc == 3, rc
machine.succeed("true")
machine.get_unit_property("x.service", "Weird")
"#;
    let test = Test::new()
        .fake("machine", &[])
        .fake_program("systemctl", systemctl)
        .fake_program("su", "exec /bin/sh -c \"$6\"");
    fs::write(test.dir().join("test.py"), script).unwrap();
    let out = test.arg("--").arg("test.py").run();
    out.code(1)
        .stderr_has("running: systemctl --user is-active x.service (as alice)")
        .stderr_has(
            "`systemctl show x.service --property=Weird` gave `no such property line`, not `Weird=…`",
        )
        .clean();
    let out = Test::new()
        .fake("machine", &[])
        .fake_program("systemctl", systemctl)
        .script("machine.wait_for_unit \"x.service\" timeout=2\n")
        .run();
    out.code(1)
        .stderr_has("Failed to connect to bus: No medium found")
        .clean();
}

#[test]
fn send_chars_refuses_untypable_text_before_sending_and_ttys_are_1_to_63() {
    let out = Test::new()
        .fake("machine", &[])
        .script("machine.send_chars \"a\\rb\"\nmachine.get_tty_text 0\nmachine.dump_tty_contents 64\nmachine.get_tty_text 63\nmachine.get_tty_text \"2\"\nmachine.get_tty_text \"x\"\nmachine.send_chars \"Hi!\\n\"\n")
        .check();
    out.code(2)
        .stderr_has("'\\r' in `a\\rb`")
        .stderr_has("text a US keyboard types")
        .stderr_has("a tty number from 1 to 63, found `0`")
        .stderr_has("found `64`")
        .stderr_has("found `x`");
    out.stderr_lacks("found `63`")
        .stderr_lacks("found `2`")
        .stderr_lacks("Hi!");
    let test = Test::new().fake("machine", &[]);
    fs::write(
        test.dir().join("test.py"),
        "text = machine.succeed(\"printf 'ab\\\\033c'\")\nmachine.send_chars(text)\n",
    )
    .unwrap();
    let out = test.arg("--").arg("test.py").run();
    out.code(1)
        .stderr_has("send_chars: '\\u{1b}' in `ab\\u{1b}c` is not typed by any key of a US keyboard (nothing was sent")
        .stderr_lacks("sending keys")
        .clean();
}

#[test]
fn get_screen_text_variants_gives_a_list() {
    let test = Test::new()
        .fake("machine", &[])
        .fake_program("tesseract", "printf 'READ %s\\n' \"$#\" > \"$2.txt\"");
    fs::write(
        test.dir().join("test.py"),
        "machine.start()\ntexts = machine.get_screen_text_variants()\nassert len(texts) == 3, texts\nassert texts[2] == \"READ 6\", texts\n",
    )
    .unwrap();
    test.arg("--").arg("test.py").run().code(0).clean();
}

#[test]
fn wait_for_text_ends_on_time_even_when_tesseract_is_slow() {
    let out = Test::new()
        .fake("machine", &[])
        .fake_program("tesseract", "exec sleep 100")
        .script("machine.start\nmachine.wait_for_text \"never\" timeout=3\n")
        .run();
    out.code(1)
        .within(std::time::Duration::from_secs(40))
        .stderr_has("machine: timed out after 3 s waiting for `never` to appear on the screen")
        .clean();
}

/// A polling condition that stops holding a second into the block, whose
/// `WAIT` never ends by itself.
const POLLED_WAIT: &str = r#"polling_condition alive interval=0 description="the marker file exists" {
    machine.succeed "test -e MARKER"
}
machine.succeed "touch MARKER"
with alive {
    machine.succeed "(sleep 1; rm MARKER) >/dev/null 2>&1 &"
    WAIT
}
"#;

#[test]
fn text_and_qmp_event_waits_check_the_polling_conditions() {
    for wait in [
        "machine.wait_for_text \"never\" timeout=120",
        "machine.wait_for_qmp_event \"NEVER\" timeout=120",
    ] {
        let test = Test::new()
            .fake("machine", &[])
            .fake_program("tesseract", "echo something else > \"$2.txt\"");
        let marker = test.dir().join("alive");
        let script = POLLED_WAIT
            .replace("MARKER", &marker.to_string_lossy())
            .replace("WAIT", wait);
        let out = test.script(&script).run();
        out.code(1)
            .within(std::time::Duration::from_secs(60))
            .stderr_has("error: polling condition `alive` (the marker file exists) failed")
            .clean();
    }
}

#[test]
fn an_event_timeout_counts_the_events_that_did_not_match() {
    let out = Test::new()
        .fake("machine", &[])
        .script(
            "machine.start\n\
             machine.send_monitor_command \"stop\"\n\
             machine.send_monitor_command \"cont\"\n\
             machine.send_monitor_command \"stop\"\n\
             machine.send_monitor_command \"cont\"\n\
             machine.wait_for_qmp_event \"NEVER\" timeout=3\n",
        )
        .run();
    out.code(1)
        .stderr_has("timed out after 3 s waiting for a QMP event matching `NEVER`")
        .stderr_has("events that did not match: STOP (2), RESUME (2)")
        .clean();
}

#[test]
fn screenshot_names_with_a_dot_get_no_png_suffix() {
    let test = Test::new().fake("machine", &[]);
    let out = test
        .arg("-o")
        .arg("out")
        .script(
            "machine.start\nmachine.screenshot \"shot.ppm-like\"\nmachine.screenshot \"plain\"\n",
        )
        .run();
    out.code(0).clean();
    assert!(out.dir().join("out/shot.ppm-like").is_file());
    assert!(out.dir().join("out/plain.png").is_file());
}
