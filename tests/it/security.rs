//! What a run keeps private on the host: its directories are the user's own and
//! closed to others, and a kept state directory someone else placed is refused.

use crate::support::Test;
use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};

const SCRIPT: &str = "machine.succeed \"true\"\nmachine.shutdown\n";

fn mode(path: &std::path::Path) -> u32 {
    fs::metadata(path).expect("metadata").permissions().mode() & 0o777
}

#[test]
fn kept_state_directories_are_private() {
    let test = Test::new().fake("machine", &[]).arg("-K").script(SCRIPT);
    // A kept directory left open to others by an earlier run is closed again.
    let kept = test.dir().join("tmp/vmtest-min-state");
    fs::create_dir(&kept).expect("kept dir");
    fs::set_permissions(&kept, fs::Permissions::from_mode(0o777)).expect("chmod");
    let out = test.run();
    out.code(0);
    for dir in ["", "vm-state-machine", "shared-xchg"] {
        assert_eq!(mode(&kept.join(dir)), 0o700, "mode of `{dir}`");
    }
}

#[test]
fn a_kept_state_directory_that_is_a_symlink_is_refused_before_booting() {
    let test = Test::new().fake("machine", &[]).arg("-K").script(SCRIPT);
    let elsewhere = test.dir().join("elsewhere");
    fs::create_dir(&elsewhere).expect("target dir");
    symlink(&elsewhere, test.dir().join("tmp/vmtest-min-state")).expect("symlink");
    let out = test.run();
    out.stderr_has("vmtest-min-state")
        .stderr_has("exists as a symlink")
        .stderr_lacks("must succeed");
    assert_ne!(out.code, 0);
    assert!(
        fs::read_dir(&elsewhere)
            .expect("target dir")
            .next()
            .is_none(),
        "the run wrote through the symlink"
    );
}
