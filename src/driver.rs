//! The driver: the run's temp root, its vlans and machines, and their cleanup.
//!
//! Layout under the run root (a fresh `vmtest-min.XXXXXX` in `TMPDIR`, mode 0700,
//! removed at the end; with `--keep-vm-state`, the fixed `TMPDIR/vmtest-min-state`,
//! kept so the next run finds the same machine state):
//!
//! ```text
//! <root>/shared-xchg/          shared by every machine (guest: /tmp/shared)
//! <root>/vm-state-<name>/      QEMU's cwd and TMPDIR; monitor, shell and QMP sockets
//! <root>/vde<n>.ctl/           vlan n's switch
//! ```
//!
//! Machines `create_machine` adds join the list and get their state directory there
//! too, with the same shared settings ([`Driver`]'s `template`).
//!
//! Dropping the driver ends every machine, then every switch, then removes the root
//! (fields drop in declaration order), whatever way the run ends.

use crate::backend::{Backend, Vm};
use crate::cancel::Cancel;
use crate::error::Error;
use crate::logger::Logger;
use crate::machine::{Machine, MachineConfig};
use crate::private_dir::Place;
use crate::setup::Machines;
use crate::vlan::Vlan;
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// How long the driver's own `info kvm` question may wait for QEMU's answer.
const ACCELERATION_QUERY_TIMEOUT: Duration = Duration::from_secs(10);

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
    /// `--timeout-scale`, if set (the connect timeout is already scaled).
    pub(crate) timeout_scale: Option<f64>,
    /// Where screenshots go: `-o` (`out`), else the current directory.
    pub(crate) output_dir: PathBuf,
}

/// The machines and switches of one run.
pub(crate) struct Driver {
    machines: Vec<Machine>,
    /// What every machine shares (name, script and state dir are each one's own),
    /// for machines `create_machine` adds.
    template: MachineConfig,
    vlans: Vec<Vlan>,
    logger: Arc<Logger>,
    cancel: Cancel,
    output_dir: PathBuf,
    root: Root,
    timeout_scale: Option<f64>,
    acceleration: Acceleration,
}

/// Whether the run has told that QEMU runs without KVM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Acceleration {
    /// Not asked yet: no machine has run, or a scale was set (never asked then).
    Unknown,
    /// QEMU was asked (`info kvm`) and, if KVM was off, the notice was logged.
    Asked,
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
        crate::private_dir::ensure(&shared_dir, Place::Inside)?;
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
        let template = MachineConfig {
            name: String::new(),
            start_script: PathBuf::new(),
            start_args: Vec::new(),
            state_dir: root.path().to_path_buf(),
            shared_dir: shared_dir.clone(),
            env: env.clone(),
            keep_state: config.keep_vm_state,
            connect_timeout: config.connect_timeout,
            display: config.display,
            timeout_scale: config.timeout_scale.unwrap_or(1.0),
        };
        let machines = config
            .machines
            .iter()
            .map(|(name, script)| {
                let config = machine_config(&template, name, script.clone(), Vec::new());
                Machine::new(config, logger.clone(), cancel)
            })
            .collect();
        Ok(Driver {
            machines,
            template,
            vlans,
            logger,
            cancel,
            output_dir: config.output_dir.clone(),
            root,
            timeout_scale: config.timeout_scale,
            acceleration: Acceleration::Unknown,
        })
    }

    /// Once per run, when no timeout scale is set, asks the first running QEMU
    /// whether it uses KVM (`info kvm`), and says so when it does not: timeouts
    /// written for KVM may then be too short, and `--timeout-scale` stretches them.
    fn note_acceleration(&mut self) {
        if self.acceleration == Acceleration::Asked || self.timeout_scale.is_some() {
            return;
        }
        let Some(machine) = self.machines.iter_mut().find(|m| m.is_running()) else {
            return;
        };
        self.acceleration = Acceleration::Asked;
        // A monitor that does not answer is the next step's problem, not this one's:
        // the question gets a short timeout of its own.
        let Ok(answer) = machine.ask_monitor("info kvm", ACCELERATION_QUERY_TIMEOUT) else {
            return;
        };
        if without_kvm(&answer) {
            self.logger.log(
                None,
                &format!(
                    "QEMU runs without KVM (info kvm: {}): steps take several times \
                     longer than with it; if timeouts run out, stretch them all with \
                     --timeout-scale 4 (or VMTEST_TIMEOUT_SCALE=4)",
                    answer.trim()
                ),
            );
        }
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
        self.note_acceleration();
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
        self.note_acceleration();
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

    fn timeout_scale(&self) -> f64 {
        self.timeout_scale.unwrap_or(1.0)
    }

    fn machine_names(&self) -> Vec<String> {
        self.machines.iter().map(|m| m.name().to_string()).collect()
    }

    fn vlans(&self) -> Vec<u32> {
        self.vlans.iter().map(Vlan::number).collect()
    }

    fn create_machine(&mut self, command: Vec<String>, name: &str) -> Result<String, Error> {
        if self.machines.iter().any(|machine| machine.name() == name) {
            return Err(Error::InvalidValue {
                message: format!(
                    "`create_machine`: a machine named `{name}` exists already (pass `name=`)"
                ),
            });
        }
        let mut words = command.into_iter();
        let program = PathBuf::from(words.next().unwrap_or_default());
        let config = machine_config(&self.template, name, program, words.collect());
        self.logger.log(
            Some(name),
            &format!("created machine from `{}`", config.start_script.display()),
        );
        let machine = Machine::new(config, self.logger.clone(), self.cancel);
        self.machines.push(machine);
        Ok(name.to_string())
    }
}

/// The configuration of machine `name`, started by `script` with `args`: the
/// run's shared settings from `template`, its own state directory under the root.
fn machine_config(
    template: &MachineConfig,
    name: &str,
    script: PathBuf,
    args: Vec<String>,
) -> MachineConfig {
    MachineConfig {
        name: name.to_string(),
        start_script: script,
        start_args: args,
        state_dir: template.state_dir.join(format!("vm-state-{name}")),
        ..template.clone()
    }
}

fn make_root(base: &Path, keep: bool) -> Result<Root, Error> {
    if keep {
        let path = base.join("vmtest-min-state");
        crate::private_dir::ensure(&path, Place::Reachable)?;
        Ok(Root::Kept(path))
    } else {
        tempfile::Builder::new()
            .prefix("vmtest-min.")
            .tempdir_in(base)
            .map(Root::Temporary)
            .map_err(|e| Error::io(format!("creating a temp dir in `{}`", base.display()), e))
    }
}

/// Whether QEMU's answer to `info kvm` says it runs without KVM: `disabled`, or
/// `not compiled` into this QEMU.
fn without_kvm(answer: &str) -> bool {
    answer.contains("kvm support:") && !answer.contains("kvm support: enabled")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kvm_is_missing_when_disabled_or_not_compiled() {
        assert!(without_kvm("kvm support: disabled\r\n"));
        assert!(without_kvm("kvm support: not compiled\r\n"));
        assert!(!without_kvm("kvm support: enabled\r\n"));
        assert!(!without_kvm("unknown command: 'info kvm'"));
    }
}
