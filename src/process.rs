//! Child processes in their own process groups: starting them, waiting on them with a
//! deadline and cancellation, and ending them.
//!
//! QEMU (through its start script) and `vde_switch` each run in a new process group,
//! so that a terminal's Ctrl-C reaches only the driver, and so that ending a machine
//! ends everything its start script started. Ending is always the same: SIGTERM to
//! the group, a grace period, then SIGKILL to the group, then reaping the leader.
//!
//! [`Group`] is the one way to run an external program: [`Group::spawn`] starts it,
//! [`Group::wait_until`] waits for a condition (a socket appearing) or for its exit,
//! under a deadline and the run's cancellation, and dropping it ends the group. A
//! signal to a group goes through [`ProcessGroup`], which only a spawned child's pid
//! can make, so the driver can never signal its own group (`kill(0, …)`) or every
//! process it may signal (`kill(-1, …)`).

use crate::cancel::{Cancel, Deadline};
use crate::error::Error;
use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus};
use std::time::{Duration, Instant};

/// How long a process group gets between SIGTERM and SIGKILL.
pub(crate) const GRACE: Duration = Duration::from_secs(3);

/// The longest pause between two looks at a waited-on child.
const MAX_PAUSE: Duration = Duration::from_millis(20);

/// Starts `command` in a new process group, and makes the kernel send SIGTERM to
/// it if the driver dies without cleaning up (SIGKILL, a crash), so that not even
/// then is a QEMU left running. Start scripts `exec` QEMU, which keeps the setting.
fn own_group_dying_with_us(command: &mut Command) {
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

/// The process group a spawned child leads: a pid above 1, so that signalling it
/// can only reach that group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ProcessGroup(libc::pid_t);

impl ProcessGroup {
    /// The group `child` leads; `child` must have been spawned after
    /// [`own_group_dying_with_us`]. `None` only for a pid no child can have.
    fn led_by(child: &Child) -> Option<ProcessGroup> {
        libc::pid_t::try_from(child.id())
            .ok()
            .filter(|&pid| pid > 1)
            .map(ProcessGroup)
    }

    /// Sends `signal` to every process of the group; true if any received it.
    fn signal(self, signal: i32) -> bool {
        // SAFETY: kill(2) only sends a signal; it has no memory effects on this
        // process. The negated pid is below -1, so it names exactly this group.
        unsafe { libc::kill(-self.0, signal) == 0 }
    }

    /// Whether any process of the group is still alive.
    fn alive(self) -> bool {
        self.signal(0)
    }
}

/// Ends `child` and every process in its group: SIGTERM, up to [`GRACE`], SIGKILL.
/// `child` must have been spawned after [`own_group_dying_with_us`].
///
/// Returns the leader's exit status if it could be reaped.
fn terminate_group(child: &mut Child) -> Option<ExitStatus> {
    let mut status = child.try_wait().ok().flatten();
    let Some(group) = ProcessGroup::led_by(child) else {
        // No child has such a pid; end it alone rather than signal a wrong group.
        let _ = child.kill();
        return status.or_else(|| child.wait().ok());
    };
    if status.is_none() || group.alive() {
        group.signal(libc::SIGTERM);
        // A stopped process (SIGSTOP) only acts on the SIGTERM once continued.
        group.signal(libc::SIGCONT);
        let until = Instant::now() + GRACE;
        while Instant::now() < until {
            if status.is_none() {
                status = child.try_wait().ok().flatten();
            }
            if status.is_some() && !group.alive() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        group.signal(libc::SIGKILL);
    }
    if status.is_none() {
        status = child.wait().ok();
    }
    // Members other than the leader are reaped by init once they die; give SIGKILL
    // a moment to land so that callers checking for leftovers see none.
    let until = Instant::now() + Duration::from_secs(1);
    while group.alive() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(5));
    }
    status
}

/// Describes an exit status: `exit status 1`, `killed by SIGABRT`.
pub(crate) fn describe(status: &ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(signal)) => format!("killed by {}", crate::error::signal_name(signal)),
        _ => "unknown status".to_string(),
    }
}

/// An external program running in its own process group; dropping it ends the
/// group (see [`terminate_group`]).
pub(crate) struct Group {
    child: Child,
    /// The leader's status once the group has been ended: it is ended only once,
    /// since a reaped leader's pid may name someone else's group later.
    ended: Option<Option<ExitStatus>>,
}

/// How [`Group::wait_until`] ended, short of cancellation.
#[derive(Debug)]
pub(crate) enum Waited {
    /// The condition holds.
    Ready,
    /// The program exited first.
    Exited(ExitStatus),
    /// The timeout passed first.
    TimedOut,
}

impl Group {
    /// Starts `command` in a new process group that dies with the driver.
    ///
    /// A program written just before (by a build step or a test) can still be open
    /// for writing in a process that forked meanwhile, until that process execs: the
    /// resulting ETXTBSY is retried for a moment.
    pub(crate) fn spawn(command: &mut Command) -> io::Result<Group> {
        own_group_dying_with_us(command);
        let mut tries = 0;
        loop {
            match command.spawn() {
                Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && tries < 20 => {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => return Err(e),
                Ok(child) => return Ok(Group { child, ended: None }),
            }
        }
    }

    /// Whether the leader has exited while other processes of its group still
    /// run (a start script that put QEMU in the background and returned).
    pub(crate) fn leader_gone_others_running(&mut self) -> bool {
        self.ended.is_none()
            && self.exited().is_some()
            && ProcessGroup::led_by(&self.child).is_some_and(ProcessGroup::alive)
    }

    /// The leader's process id.
    pub(crate) fn id(&self) -> u32 {
        self.child.id()
    }

    /// The writing end of the program's stdin, if it was piped and not taken yet.
    pub(crate) fn take_stdin(&mut self) -> Option<ChildStdin> {
        self.child.stdin.take()
    }

    /// The reading end of the program's stdout, if it was piped and not taken yet.
    pub(crate) fn take_stdout(&mut self) -> Option<ChildStdout> {
        self.child.stdout.take()
    }

    /// The leader's exit status, if it has exited (or the group was ended).
    pub(crate) fn exited(&mut self) -> Option<ExitStatus> {
        self.ended
            .flatten()
            .or_else(|| self.child.try_wait().ok().flatten())
    }

    /// Waits until `ready()` holds, the program exits, or `timeout` passes, looking
    /// at least every [`MAX_PAUSE`]; `ready` is asked first, so a condition that
    /// holds wins over an exit.
    ///
    /// # Errors
    ///
    /// [`Error::Interrupted`] or [`Error::GlobalTimeout`] when the run is cancelled
    /// meanwhile: cancellation is never turned into another kind of failure.
    pub(crate) fn wait_until(
        &mut self,
        timeout: Duration,
        cancel: &Cancel,
        mut ready: impl FnMut() -> bool,
    ) -> Result<Waited, Error> {
        let deadline = Deadline::after(timeout);
        let mut pause = Duration::from_millis(1);
        loop {
            if ready() {
                return Ok(Waited::Ready);
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Ok(Waited::Exited(status));
            }
            cancel.check()?;
            if deadline.passed() {
                return Ok(Waited::TimedOut);
            }
            std::thread::sleep(pause.min(deadline.slice()));
            pause = (pause * 2).min(MAX_PAUSE);
        }
    }

    /// Ends the group (SIGTERM, grace, SIGKILL) unless already ended; returns the
    /// leader's exit status if it could be reaped.
    pub(crate) fn terminate(&mut self) -> Option<ExitStatus> {
        *self
            .ended
            .get_or_insert_with(|| terminate_group(&mut self.child))
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.terminate();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cancel::FOREVER;

    fn group(program: &str, args: &[&str]) -> Group {
        Group::spawn(Command::new(program).args(args)).expect("spawn")
    }

    #[test]
    fn waits_end_ready_exited_or_timed_out() {
        let cancel = Cancel::new(FOREVER);
        let mut sleeper = group("sleep", &["60"]);
        let waited = sleeper.wait_until(Duration::from_secs(5), &cancel, || true);
        assert!(matches!(waited, Ok(Waited::Ready)), "{waited:?}");
        let waited = sleeper.wait_until(Duration::from_millis(50), &cancel, || false);
        assert!(matches!(waited, Ok(Waited::TimedOut)), "{waited:?}");
        let waited = group("sh", &["-c", "exit 3"]).wait_until(FOREVER, &cancel, || false);
        match waited {
            Ok(Waited::Exited(status)) => assert_eq!(describe(&status), "exit status 3"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_cancelled_wait_is_reported_as_the_cancellation() {
        let cancel = Cancel::new(Duration::ZERO);
        let waited = group("sleep", &["60"]).wait_until(FOREVER, &cancel, || false);
        assert!(
            matches!(waited, Err(Error::GlobalTimeout { .. })),
            "{waited:?}"
        );
    }

    #[test]
    fn dropping_a_group_ends_every_process_in_it() {
        let mut shell = group("sh", &["-c", "sleep 60 & sleep 60"]);
        let pgid = ProcessGroup::led_by(&shell.child).expect("a child's group");
        assert!(pgid.0 > 1 && pgid.alive());
        drop(shell.take_stdin());
        drop(shell);
        assert!(!pgid.alive());
    }
}
