//! The driver: the run's temp root, its vlans and machines, and their cleanup.
//!
//! Layout under the run root (a fresh `vmtest-min.XXXXXX` in `TMPDIR`, mode 0700,
//! removed at the end; with `--keep-vm-state`, the fixed `TMPDIR/vmtest-min-state`,
//! kept so the next run finds the same machine state):
//!
//! ```text
//! <root>/shared-xchg/          shared by every machine (guest: /tmp/shared)
//! <root>/vm-state-<name>/      QEMU's cwd and TMPDIR; monitor and shell sockets
//! <root>/vde<n>.ctl/           vlan n's switch
//! ```
//!
//! Dropping the driver ends every machine, then every switch, then removes the root
//! (fields drop in declaration order), whatever way the run ends.

use crate::backend::{Backend, Vm};
use crate::cancel::Cancel;
use crate::error::Error;
use crate::logger::Logger;
use crate::machine::{Machine, MachineConfig};
use crate::setup::Machines;
use crate::vlan::Vlan;
use std::convert::Infallible;
use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Where the run keeps its files.
enum Root {
    /// A fresh directory, removed when dropped.
    Temporary(tempfile::TempDir),
    /// The fixed directory of `--keep-vm-state`, kept.
    Kept(PathBuf),
}

impl Root {
    fn path(&self) -> &Path {
        match self {
            Root::Temporary(dir) => dir.path(),
            Root::Kept(path) => path,
        }
    }
}

/// What the driver needs to set up a run.
#[derive(Debug, Clone)]
pub(crate) struct DriverConfig {
    /// One start script per machine, with the machine's name.
    pub(crate) machines: Machines,
    /// Vlan numbers (distinct).
    pub(crate) vlans: Vec<u32>,
    /// Keep machine state across runs.
    pub(crate) keep_vm_state: bool,
    /// How long a guest may take to boot to its root shell.
    pub(crate) connect_timeout: Duration,
    /// The directory that holds the run root (`TMPDIR`).
    pub(crate) tmp_dir: PathBuf,
    /// Whether QEMU may open a window (`DISPLAY` or `WAYLAND_DISPLAY` is set).
    pub(crate) display: bool,
    /// Where files copied out of guests go (`-o`, else the current directory).
    pub(crate) output_dir: PathBuf,
}

/// The machines and switches of one run.
pub(crate) struct Driver {
    output_dir: PathBuf,
    machines: Vec<Machine>,
    vlans: Vec<Vlan>,
    logger: Arc<Logger>,
    cancel: Cancel,
    root: Root,
}

impl Driver {
    /// Creates the run root and starts the vlan switches; machines stay stopped.
    pub(crate) fn new(
        config: &DriverConfig,
        logger: Arc<Logger>,
        cancel: Cancel,
    ) -> Result<Driver, Error> {
        let root = make_root(&config.tmp_dir, config.keep_vm_state)?;
        let shared_dir = root.path().join("shared-xchg");
        mkdir_private(&shared_dir)?;
        let vlans = match config.vlans.is_empty() {
            true => Vec::new(),
            false => logger.nest(None, "start all VLans", || {
                config
                    .vlans
                    .iter()
                    .map(|&number| Vlan::start(number, root.path(), &logger, &cancel))
                    .collect::<Result<Vec<Vlan>, Error>>()
            })?,
        };
        let env: Vec<(String, String)> = vlans
            .iter()
            .map(|vlan| {
                (
                    format!("QEMU_VDE_SOCKET_{}", vlan.number()),
                    vlan.socket_dir().display().to_string(),
                )
            })
            .collect();
        let machines = config
            .machines
            .iter()
            .map(|(name, script)| {
                let config = MachineConfig {
                    name: name.clone(),
                    start_script: script.clone(),
                    state_dir: root.path().join(format!("vm-state-{name}")),
                    shared_dir: shared_dir.clone(),
                    env: env.clone(),
                    keep_state: config.keep_vm_state,
                    connect_timeout: config.connect_timeout,
                    display: config.display,
                };
                Machine::new(config, logger.clone(), cancel)
            })
            .collect();
        Ok(Driver {
            output_dir: config.output_dir.clone(),
            machines,
            vlans,
            logger,
            cancel,
            root,
        })
    }

    /// Ends every machine that still runs and every switch, logging it.
    pub(crate) fn clean_up(&mut self) {
        if self.machines.iter().any(Machine::is_running) || !self.vlans.is_empty() {
            let Ok(()) = self.logger.nest(None, "cleanup", || {
                for machine in &mut self.machines {
                    machine.kill();
                }
                for vlan in self.vlans.drain(..) {
                    self.logger
                        .log(None, &format!("stopping vlan {}", vlan.number()));
                    drop(vlan);
                }
                Ok::<(), Infallible>(())
            });
        }
        if let Root::Kept(path) = &self.root {
            self.logger
                .log(None, &format!("machine state kept in {}", path.display()));
        }
    }
}

impl Backend for Driver {
    fn vm(&mut self, name: &str) -> Result<&mut dyn Vm, Error> {
        self.machines
            .iter_mut()
            .find(|machine| machine.name() == name)
            .map(|machine| machine as &mut dyn Vm)
            .ok_or_else(|| Error::InvalidValue {
                message: format!("no machine named `{name}`"),
            })
    }

    fn start_all(&mut self) -> Result<(), Error> {
        for machine in &mut self.machines {
            machine.start()?;
        }
        Ok(())
    }

    fn join_all(&mut self) -> Result<(), Error> {
        for machine in &mut self.machines {
            machine.wait_for_shutdown(Duration::from_secs(24 * 3600))?;
        }
        Ok(())
    }

    fn logger(&self) -> Arc<Logger> {
        self.logger.clone()
    }

    fn cancel(&self) -> &Cancel {
        &self.cancel
    }

    fn output_dir(&self) -> &Path {
        &self.output_dir
    }
}

fn make_root(base: &Path, keep: bool) -> Result<Root, Error> {
    if keep {
        let path = base.join("vmtest-min-state");
        mkdir_private(&path)?;
        Ok(Root::Kept(path))
    } else {
        tempfile::Builder::new()
            .prefix("vmtest-min.")
            .tempdir_in(base)
            .map(Root::Temporary)
            .map_err(|e| Error::io(format!("creating a temp dir in `{}`", base.display()), e))
    }
}

fn mkdir_private(path: &Path) -> Result<(), Error> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(|e| Error::io(format!("creating `{}`", path.display()), e))
}
