//! The checks of the arguments that touch the system, before anything starts: the
//! driver configuration file (`--config`), the machines the start scripts define
//! (named after `run-<name>-vm`, or as the configuration names them), the test
//! script, the output files.
//!
//! Each failure is a [`SetupError`] naming the path involved; all of them end the
//! program with the usage status (2), since nothing has booted yet.

use crate::cli::Args;
use crate::driver_config::{self, ConfigProblem};
use crate::xml_log::XmlLog;
use std::fmt;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The machines of a run: names and (absolute) start scripts, in command-line order.
pub(crate) type Machines = Vec<(String, PathBuf)>;

/// Why the start scripts, the test script or an output file cannot be used.
#[derive(Debug)]
pub enum SetupError {
    /// A `.cmds` file among the start scripts: `--start-scripts` took the script.
    ScriptAmongStartScripts {
        /// The test script.
        path: PathBuf,
    },
    /// Two start scripts define the same machine.
    DuplicateMachine {
        /// The machine's name.
        name: String,
        /// The first script.
        first: PathBuf,
        /// The second script.
        second: PathBuf,
    },
    /// A start script cannot be read or resolved.
    StartScript {
        /// The start script.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A start script is a directory or some other non-file.
    NotAFile {
        /// The start script.
        path: PathBuf,
    },
    /// A start script lacks execute permission.
    NotExecutable {
        /// The start script.
        path: PathBuf,
    },
    /// The test script cannot be read.
    ReadScript {
        /// The test script.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The XML log cannot be created.
    CreateLog {
        /// The log file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The JUnit report could not be written where `--junit-xml` says.
    Junit {
        /// The report.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The output directory cannot be created.
    CreateOutputDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The driver configuration file cannot be read.
    ReadConfig {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The driver configuration file asks for something wrong or unsupported.
    Config {
        /// The file.
        path: PathBuf,
        /// What.
        problem: ConfigProblem,
    },
}

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetupError::ScriptAmongStartScripts { path } => write!(
                f,
                "`{}` was read as a start script: --start-scripts takes every value that \
                 follows it; put SCRIPT first or end the list with `--`",
                path.display()
            ),
            SetupError::DuplicateMachine {
                name,
                first,
                second,
            } => write!(
                f,
                "two start scripts define machine `{name}`: `{}` and `{}`",
                first.display(),
                second.display()
            ),
            SetupError::StartScript { path, source } => {
                write!(f, "start script `{}`: {source}", path.display())
            }
            SetupError::NotAFile { path } => {
                write!(f, "start script `{}` is not a file", path.display())
            }
            SetupError::NotExecutable { path } => {
                write!(f, "start script `{}` is not executable", path.display())
            }
            SetupError::ReadScript { path, source } => {
                write!(f, "cannot read script `{}`: {source}", path.display())
            }
            SetupError::CreateLog { path, source } => {
                write!(f, "cannot create log file `{}`: {source}", path.display())
            }
            SetupError::Junit { path, source } => write!(
                f,
                "cannot write the JUnit report `{}`: {source}",
                path.display()
            ),
            SetupError::CreateOutputDir { path, source } => write!(
                f,
                "cannot create output directory `{}`: {source}",
                path.display()
            ),
            SetupError::ReadConfig { path, source } => write!(
                f,
                "cannot read driver configuration `{}`: {source}",
                path.display()
            ),
            SetupError::Config { path, problem } => {
                write!(f, "driver configuration `{}`: {problem}", path.display())
            }
        }
    }
}

impl std::error::Error for SetupError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SetupError::StartScript { source, .. }
            | SetupError::ReadScript { source, .. }
            | SetupError::CreateLog { source, .. }
            | SetupError::Junit { source, .. }
            | SetupError::CreateOutputDir { source, .. }
            | SetupError::ReadConfig { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// The arguments of a run with the driver configuration file (if any) applied,
/// and its machines: from the file's `vms`, else from the start scripts. With
/// `must_run`, every start script must be an executable file.
pub(crate) fn resolve(args: &Args, must_run: bool) -> Result<(Args, Machines), SetupError> {
    let Some(path) = &args.config else {
        return Ok((args.clone(), machines(&args.start_scripts, must_run)?));
    };
    let text = std::fs::read_to_string(path).map_err(|source| SetupError::ReadConfig {
        path: path.clone(),
        source,
    })?;
    let config = driver_config::parse(&text).map_err(|problem| SetupError::Config {
        path: path.clone(),
        problem,
    })?;
    let mut args = args.clone();
    args.vlans = config.vlans;
    args.script = Some(config.test_script);
    if !args.global_timeout_given {
        args.global_timeout = config.global_timeout;
    }
    args.start_scripts = config.machines.iter().map(|(_, s)| s.clone()).collect();
    Ok((args, named_machines(config.machines, must_run)?))
}

/// Names the machines of `scripts` and checks that no two share a name; with
/// `must_run`, also that every script is an executable file.
pub(crate) fn machines(scripts: &[PathBuf], must_run: bool) -> Result<Machines, SetupError> {
    if let Some(script) = scripts
        .iter()
        .find(|s| s.extension().is_some_and(|e| e == "cmds"))
    {
        return Err(SetupError::ScriptAmongStartScripts {
            path: script.clone(),
        });
    }
    let named = scripts
        .iter()
        .map(|s| (machine_name(s), s.clone()))
        .collect();
    named_machines(named, must_run)
}

/// Checks named start scripts: no two names alike; with `must_run`, each an
/// executable file. Makes each path absolute.
fn named_machines(named: Machines, must_run: bool) -> Result<Machines, SetupError> {
    let mut machines: Machines = Vec::new();
    for (name, script) in named {
        let script = &script;
        if let Some((_, first)) = machines.iter().find(|(existing, _)| *existing == name) {
            return Err(SetupError::DuplicateMachine {
                name,
                first: first.clone(),
                second: script.clone(),
            });
        }
        if must_run {
            check_executable(script)?;
        }
        // The start script runs in the machine's state directory: a relative path
        // must not change meaning there.
        let script = std::path::absolute(script).map_err(|source| SetupError::StartScript {
            path: script.clone(),
            source,
        })?;
        machines.push((name, script));
    }
    Ok(machines)
}

fn check_executable(script: &Path) -> Result<(), SetupError> {
    let path = || script.to_path_buf();
    let metadata = std::fs::metadata(script).map_err(|source| SetupError::StartScript {
        path: path(),
        source,
    })?;
    if !metadata.is_file() {
        return Err(SetupError::NotAFile { path: path() });
    }
    if metadata.permissions().mode() & 0o111 == 0 {
        return Err(SetupError::NotExecutable { path: path() });
    }
    Ok(())
}

/// Reads the test script.
pub(crate) fn read_script(path: &Path) -> Result<String, SetupError> {
    std::fs::read_to_string(path).map_err(|source| SetupError::ReadScript {
        path: path.to_path_buf(),
        source,
    })
}

/// Creates the output directory (and its parents) if there is one, and the XML log
/// in each of `logs`.
pub(crate) fn outputs(
    output_dir: Option<&Path>,
    logs: &[PathBuf],
) -> Result<Option<XmlLog>, SetupError> {
    if let Some(dir) = output_dir {
        std::fs::create_dir_all(dir).map_err(|source| SetupError::CreateOutputDir {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    if logs.is_empty() {
        return Ok(None);
    }
    XmlLog::create_all(logs)
        .map(Some)
        .map_err(|(path, source)| SetupError::CreateLog { path, source })
}

/// Where a run writes its XML log, and where the JUnit report reads it back.
pub(crate) struct LogTargets {
    /// The files the log is written to.
    pub(crate) files: Vec<PathBuf>,
    /// The copy the JUnit report reads, with `--junit-xml`.
    pub(crate) junit_source: Option<PathBuf>,
    /// The temporary copy, removed when this is dropped.
    _scratch: Option<tempfile::NamedTempFile>,
}

/// The files of the run's XML log. With `--junit-xml`, the report must read the
/// log back: a log asked for in a regular file (or a missing path) serves; any
/// other (none, `LOGFILE=/dev/null` as the Nix framework sets, `/dev/stdout`, a
/// FIFO) is written as asked and also to a temporary file read back. Also checks,
/// without touching an existing report, that the JUnit file can be written.
pub(crate) fn log_targets(args: &Args) -> Result<LogTargets, SetupError> {
    let asked: Vec<PathBuf> = args.log_xml.iter().cloned().collect();
    let Some(junit) = &args.junit_xml else {
        return Ok(LogTargets {
            files: asked,
            junit_source: None,
            _scratch: None,
        });
    };
    check_writable(junit)?;
    let regular = |path: &PathBuf| std::fs::metadata(path).map_or(true, |m| m.is_file());
    if let Some(path) = args.log_xml.as_ref().filter(|path| regular(path)) {
        return Ok(LogTargets {
            files: asked,
            junit_source: Some(path.clone()),
            _scratch: None,
        });
    }
    let scratch = tempfile::Builder::new()
        .prefix("vmtest-min-log.")
        .suffix(".xml")
        .tempfile_in(&args.tmp_dir)
        .map_err(|source| SetupError::CreateLog {
            path: args.tmp_dir.join("vmtest-min-log.*.xml"),
            source,
        })?;
    let copy = scratch.path().to_path_buf();
    Ok(LogTargets {
        files: asked.into_iter().chain([copy.clone()]).collect(),
        junit_source: Some(copy),
        _scratch: Some(scratch),
    })
}

/// Checks that the JUnit report `path` can be written when the run ends: its
/// directory exists (made if missing) and takes a new file, and `path` is not a
/// directory. An existing report is left as it is until then.
fn check_writable(path: &Path) -> Result<(), SetupError> {
    let error = |source| SetupError::Junit {
        path: path.to_path_buf(),
        source,
    };
    let dir = path
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(error)?;
    if path.is_dir() {
        return Err(error(io::Error::new(
            io::ErrorKind::IsADirectory,
            "it is a directory",
        )));
    }
    tempfile::Builder::new()
        .prefix(".vmtest-min-junit.")
        .tempfile_in(dir)
        .map(drop)
        .map_err(error)
}

/// The machine name of a start script: `run-<name>-vm`, else `machine`.
pub(crate) fn machine_name(script: &Path) -> String {
    let file = script
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    file.strip_prefix("run-")
        .and_then(|rest| rest.strip_suffix("-vm"))
        .filter(|name| !name.is_empty())
        .unwrap_or("machine")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_script_file_name() {
        assert_eq!(
            machine_name(Path::new("/nix/store/x-run-foo/bin/run-server-vm")),
            "server"
        );
        assert_eq!(machine_name(Path::new("run-my-vm-vm")), "my-vm");
        assert_eq!(machine_name(Path::new("/bin/start")), "machine");
        assert_eq!(machine_name(Path::new("run--vm")), "machine");
    }
}
