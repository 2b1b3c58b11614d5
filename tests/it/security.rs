//! What a run keeps private on the host: its directories are the user's own and
//! closed to others, and a kept state directory someone else could have placed or
//! filled is refused before anything starts.

use crate::support::Test;
use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};

const SCRIPT: &str = "machine.succeed \"true\"\nmachine.shutdown\n";

fn mode(path: &Path) -> u32 {
    fs::metadata(path).expect("metadata").permissions().mode() & 0o777
}

/// A test with `-K` and the kept directory's path (not yet created).
fn kept_test() -> (Test, PathBuf) {
    let test = Test::new().fake("machine", &[]).arg("-K").script(SCRIPT);
    let kept = test.dir().join("tmp/vmtest-min-state");
    (test, kept)
}

#[test]
fn kept_state_directories_are_private() {
    let (test, kept) = kept_test();
    // A kept directory others could read (an earlier run's umask) is closed again.
    fs::create_dir(&kept).expect("kept dir");
    fs::set_permissions(&kept, fs::Permissions::from_mode(0o755)).expect("chmod");
    // A guest may open the shared directory (9p passes its chmod through).
    fs::create_dir(kept.join("shared-xchg")).expect("shared dir");
    fs::set_permissions(kept.join("shared-xchg"), fs::Permissions::from_mode(0o777))
        .expect("chmod");
    let out = test.run();
    out.code(0);
    for dir in ["", "vm-state-machine", "shared-xchg"] {
        assert_eq!(mode(&kept.join(dir)), 0o700, "mode of `{dir}`");
    }
}

/// Runs `test`, which must stop before its machine starts with exit status 3
/// naming `what` and `why`, and must not have written into `untouched`.
fn refused(test: Test, what: &str, why: &str, untouched: &Path) {
    let out = test.run();
    out.code(3)
        .stderr_has(what)
        .stderr_has(why)
        .stderr_lacks("QEMU running");
    let entries: Vec<_> = fs::read_dir(untouched).expect("dir").collect();
    assert!(entries.is_empty(), "the run wrote into {untouched:?}");
}

#[test]
fn a_kept_state_directory_that_is_a_symlink_is_refused_before_booting() {
    let (test, kept) = kept_test();
    let elsewhere = test.dir().join("elsewhere");
    fs::create_dir(&elsewhere).expect("target dir");
    symlink(&elsewhere, &kept).expect("symlink");
    refused(test, "vmtest-min-state", "it is a symlink", &elsewhere);
}

#[test]
fn a_kept_state_directory_others_could_write_is_refused() {
    let (test, kept) = kept_test();
    fs::create_dir(&kept).expect("kept dir");
    fs::set_permissions(&kept, fs::Permissions::from_mode(0o777)).expect("chmod");
    refused(test, "vmtest-min-state", "others may write to it", &kept);
}

#[test]
fn a_machine_state_directory_planted_as_a_symlink_is_refused() {
    let (test, kept) = kept_test();
    let elsewhere = test.dir().join("elsewhere");
    fs::create_dir(&elsewhere).expect("target dir");
    fs::create_dir(&kept).expect("kept dir");
    fs::set_permissions(&kept, fs::Permissions::from_mode(0o700)).expect("chmod");
    symlink(&elsewhere, kept.join("vm-state-machine")).expect("symlink");
    refused(test, "vm-state-machine", "it is a symlink", &elsewhere);
}

#[test]
fn a_kept_state_directory_of_another_user_is_refused() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: giving a directory to another user needs root");
        return;
    }
    let (test, kept) = kept_test();
    fs::create_dir(&kept).expect("kept dir");
    std::os::unix::fs::chown(&kept, Some(65534), Some(65534)).expect("chown");
    refused(test, "vmtest-min-state", "belongs to uid 65534", &kept);
}
