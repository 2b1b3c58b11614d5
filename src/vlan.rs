//! Virtual networks: one `vde_switch` per vlan number.
//!
//! Each switch listens on `<root>/vde<n>.ctl`; machines find it through
//! `QEMU_VDE_SOCKET_<n>`, which the driver passes to every start script (the
//! driver's own environment is never changed). The switch's stdin stays open for its
//! lifetime, because `vde_switch` ends when its console reaches EOF.

use crate::cancel::Cancel;
use crate::error::Error;
use crate::logger::Logger;
use crate::process::{self, Group, Waited};
use std::fs::{self, File};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::time::Duration;

/// How long a switch may take to create its control socket.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// A running vlan switch.
pub(crate) struct Vlan {
    number: u32,
    socket_dir: PathBuf,
    log_path: PathBuf,
    switch: Group,
    _console: ChildStdin,
}

impl Vlan {
    /// Starts the switch for vlan `number` under `root` and waits until it listens.
    ///
    /// # Errors
    ///
    /// [`Error::Vlan`] if the switch cannot start, exits or never listens;
    /// [`Error::Interrupted`] or [`Error::GlobalTimeout`] if the run is cancelled
    /// meanwhile.
    pub(crate) fn start(
        number: u32,
        root: &Path,
        logger: &Logger,
        cancel: &Cancel,
    ) -> Result<Vlan, Error> {
        let socket_dir = root.join(format!("vde{number}.ctl"));
        let log_path = root.join(format!("vde{number}.log"));
        let vlan_error = |message: String| Error::Vlan {
            vlan: number,
            message,
        };
        if socket_dir.exists() {
            fs::remove_dir_all(&socket_dir)
                .map_err(|e| Error::io(format!("removing `{}`", socket_dir.display()), e))?;
        }
        let log = File::create(&log_path)
            .map_err(|e| Error::io(format!("creating `{}`", log_path.display()), e))?;
        let log_err = log
            .try_clone()
            .map_err(|e| Error::io(format!("opening `{}`", log_path.display()), e))?;
        let mut command = Command::new("vde_switch");
        command
            .arg("--sock")
            .arg(&socket_dir)
            .args(["--dirmode", "0700", "--hub"])
            .stdin(Stdio::piped())
            .stdout(log)
            .stderr(log_err);
        let mut switch = Group::spawn(&mut command).map_err(|e| {
            vlan_error(if e.kind() == ErrorKind::NotFound {
                "`vde_switch` was not found on PATH (Debian: apt-get install vde2)".to_string()
            } else {
                format!("cannot run `vde_switch`: {e}")
            })
        })?;
        let console = switch.take_stdin().ok_or_else(|| {
            Error::io(
                "keeping `vde_switch`'s console open",
                ErrorKind::BrokenPipe.into(),
            )
        })?;
        let ctl = socket_dir.join("ctl");
        // On any early return, dropping `switch` ends its process group.
        match switch.wait_until(START_TIMEOUT, cancel, || ctl.exists())? {
            Waited::Ready => {}
            Waited::Exited(status) => {
                return Err(vlan_error(format!(
                    "`vde_switch` exited ({}): {}",
                    process::describe(&status),
                    fs::read_to_string(&log_path).unwrap_or_default().trim()
                )));
            }
            Waited::TimedOut => {
                return Err(vlan_error(format!(
                    "`vde_switch` did not create `{}` within {} s",
                    ctl.display(),
                    START_TIMEOUT.as_secs()
                )));
            }
        }
        logger.log(
            None,
            &format!(
                "running vlan {number} (pid {}; ctl {})",
                switch.id(),
                socket_dir.display()
            ),
        );
        Ok(Vlan {
            number,
            socket_dir,
            log_path,
            switch,
            _console: console,
        })
    }

    /// The vlan number.
    pub(crate) fn number(&self) -> u32 {
        self.number
    }

    /// The switch's socket directory, for `QEMU_VDE_SOCKET_<n>`.
    pub(crate) fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }
}

impl Drop for Vlan {
    fn drop(&mut self) {
        self.switch.terminate();
        let _ = fs::remove_dir_all(&self.socket_dir);
        let _ = fs::remove_file(&self.log_path);
    }
}
