//! Child processes in their own process groups, and how they are ended.
//!
//! QEMU (through its start script) and `vde_switch` each run in a new process group,
//! so that a terminal's Ctrl-C reaches only the driver, and so that ending a machine
//! ends everything its start script started. Ending is always the same: SIGTERM to
//! the group, a grace period, then SIGKILL to the group, then reaping the leader.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

/// How long a process group gets between SIGTERM and SIGKILL.
pub const GRACE: Duration = Duration::from_secs(3);

/// Starts `command` in a new process group, and makes the kernel send SIGTERM to
/// it if the driver dies without cleaning up (SIGKILL, a crash), so that not even
/// then is a QEMU left running. Start scripts `exec` QEMU, which keeps the setting.
pub fn own_group_dying_with_us(command: &mut Command) {
    // SAFETY: getpid is async-signal-safe and called before the fork.
    let parent = unsafe { libc::getpid() };
    command.process_group(0);
    // SAFETY: the closure runs in the child between fork and exec and only calls
    // prctl, getppid and _exit, which are async-signal-safe; it allocates nothing.
    unsafe {
        command.pre_exec(move || {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            // The parent may have died before prctl took effect.
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
}

/// Sends `signal` to the process group led by `pgid`; true if anything received it.
pub fn signal_group(pgid: u32, signal: i32) -> bool {
    let Ok(pgid) = libc::pid_t::try_from(pgid) else {
        return false;
    };
    // SAFETY: kill(2) with a negative pid only sends a signal; it has no memory
    // effects on this process. pgid > 0 here because it comes from a child's pid.
    unsafe { libc::kill(-pgid, signal) == 0 }
}

/// Whether any process of group `pgid` is still alive.
pub fn group_alive(pgid: u32) -> bool {
    signal_group(pgid, 0)
}

/// Ends `child` and every process in its group: SIGTERM, up to [`GRACE`], SIGKILL.
///
/// Returns the leader's exit status if it could be reaped.
pub fn terminate_group(child: &mut Child) -> Option<ExitStatus> {
    let pgid = child.id();
    let mut status = child.try_wait().ok().flatten();
    if status.is_none() || group_alive(pgid) {
        signal_group(pgid, libc::SIGTERM);
        let until = Instant::now() + GRACE;
        while Instant::now() < until {
            if status.is_none() {
                status = child.try_wait().ok().flatten();
            }
            if status.is_some() && !group_alive(pgid) {
                return status;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        signal_group(pgid, libc::SIGKILL);
    }
    if status.is_none() {
        status = child.wait().ok();
    }
    // Members other than the leader are reaped by init once they die; give SIGKILL
    // a moment to land so that callers checking for leftovers see none.
    let until = Instant::now() + Duration::from_secs(1);
    while group_alive(pgid) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(5));
    }
    status
}

/// Describes an exit status: `exit status 1`, `killed by SIGABRT`.
pub fn describe(status: &ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(signal)) => format!("killed by {}", crate::error::signal_name(signal)),
        _ => "unknown status".to_string(),
    }
}
