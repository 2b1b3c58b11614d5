//! The real guest's output under a loaded host: every byte arrives, through the
//! shared directory and over the console alike (issue 7). The host is loaded with
//! two busy loops that the test starts and stops.

use crate::real::start_script;
use crate::support::Test;
use std::process::{Child, Command};

/// Busy loops on the host, ended when dropped.
struct Load(Vec<Child>);

impl Load {
    fn start(loops: usize) -> Load {
        Load(
            (0..loops)
                .map(|_| {
                    Command::new("sh")
                        .args(["-c", "while :; do :; done"])
                        .spawn()
                        .expect("start a busy loop")
                })
                .collect(),
        )
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn megabytes_of_output_arrive_exactly_on_a_loaded_host() {
    let _load = Load::start(2);
    // 3.5 MB a command: 7-byte lines, so any lost 2 KiB buffer breaks the rhythm.
    // The second half of the script unmounts the shared directory, so the same
    // output comes over the console in checked segments.
    let out = Test::new()
        .start_script(&start_script("machine"))
        .script(
            r#"
machine.succeed "seq -w 1 500000" =~ '^([0-9]{6}\n)+$'
machine.succeed "seq -w 1 500000" =~ '(?s)^000001\n.*\n250000\n.*\n500000\n$'
machine.succeed "seq -w 1 9000" =~ '(?s)^0001\n.*\n9000\n$'
machine.succeed "umount /tmp/shared"
machine.succeed "seq -w 1 500000" =~ '^([0-9]{6}\n)+$'
machine.succeed "seq -w 1 500000" =~ '(?s)^000001\n.*\n250000\n.*\n500000\n$'
machine.shutdown
"#,
        )
        .run();
    out.code(0)
        .stderr_has("fetched over the console instead, complete")
        .clean();
}

#[test]
fn a_restarted_guest_shell_is_set_up_again() {
    // The guest's init starts a new backdoor shell when the old one dies; the
    // step that killed it fails, the next one runs on the new shell.
    let out = Test::new()
        .start_script(&start_script("machine"))
        .arg("-I")
        .input("machine.succeed \"true\"\nmachine.execute \"kill -9 $$\"\nmachine.succeed \"echo back\"\n")
        .run();
    out.code(0)
        .stderr_has("the guest's root shell restarted while running `kill -9 $$`")
        .clean();
    assert!(out.stdout.contains("back\n"), "stdout: {}", out.stdout);
}
