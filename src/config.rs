//! Checks of the arguments that touch the system, before anything starts.

use crate::driver::machine_name;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Names the machines of `scripts` and checks that no two share a name; with
/// `must_run`, also that every script is an executable file.
pub fn machines(scripts: &[PathBuf], must_run: bool) -> Result<Vec<(String, PathBuf)>, String> {
    let mut machines: Vec<(String, PathBuf)> = Vec::new();
    for script in scripts {
        if script.extension().is_some_and(|e| e == "cmds") {
            return Err(format!(
                "`{}` was read as a start script: --start-scripts takes every value that \
                 follows it; put SCRIPT first or end the list with `--`",
                script.display()
            ));
        }
        let name = machine_name(script);
        if let Some((_, other)) = machines.iter().find(|(existing, _)| *existing == name) {
            return Err(format!(
                "two start scripts define machine `{name}`: `{}` and `{}`",
                other.display(),
                script.display()
            ));
        }
        if must_run {
            check_executable(script)?;
        }
        // The start script runs in the machine's state directory: a relative path
        // must not change meaning there.
        let script = std::path::absolute(script)
            .map_err(|e| format!("start script `{}`: {e}", script.display()))?;
        machines.push((name, script));
    }
    Ok(machines)
}

fn check_executable(script: &Path) -> Result<(), String> {
    let metadata = std::fs::metadata(script)
        .map_err(|e| format!("start script `{}`: {e}", script.display()))?;
    if !metadata.is_file() {
        return Err(format!("start script `{}` is not a file", script.display()));
    }
    if metadata.permissions().mode() & 0o111 == 0 {
        return Err(format!(
            "start script `{}` is not executable",
            script.display()
        ));
    }
    Ok(())
}

/// Reads the test script.
pub fn read_script(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read script `{}`: {e}", path.display()))
}

/// The directory for temporary files: `TMPDIR`, else `/tmp`.
pub fn tmp_base() -> PathBuf {
    std::env::var_os("TMPDIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
}
