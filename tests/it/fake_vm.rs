//! Test support for the fake VM (`tests/fake_vm/main.rs`).
//!
//! The fake VM is a stand-in for `qemu-system-x86_64` that a NixOS-style start script can
//! `exec`: it connects to the driver's monitor and shell sockets, prints boot lines on its
//! stdout (the serial console), sends the backdoor handshake and runs a real `bash` on the
//! shell socket. Its behaviour is chosen with `FAKE_VM_*` environment variables (see the
//! module documentation of `tests/fake_vm/main.rs`).
//!
//! [`fake_vm_binary`] compiles it once per test process; [`write_start_script`] writes a
//! `run-<name>-vm` script that runs it.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The compiled fake VM, built on first use (once per test process) into
/// `CARGO_TARGET_TMPDIR`. It is not rebuilt when the binary is newer than its source.
///
/// # Panics
///
/// If `rustc` (or `$RUSTC`) cannot be run or fails; the panic message holds its output.
pub fn fake_vm_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(build_fake_vm)
}

/// Compiles `tests/fake_vm/main.rs` unless an up-to-date binary exists.
fn build_fake_vm() -> PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fake_vm/main.rs");
    let binary = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fake-vm");
    if is_newer(&binary, &source) {
        return binary;
    }
    // Test runners may run several test processes at once: build under a private name and
    // rename, so that nobody ever executes a half-written binary.
    let partial = binary.with_file_name(format!("fake-vm.{}.partial", std::process::id()));
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let output = Command::new(&rustc)
        .args(["--edition", "2021", "-O", "--crate-name", "fake_vm", "-o"])
        .arg(&partial)
        .arg(&source)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", rustc.to_string_lossy()));
    if !output.status.success() {
        let _ = fs::remove_file(&partial);
        panic!(
            "compiling {} failed ({}):\n{}{}",
            source.display(),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
        );
    }
    fs::rename(&partial, &binary)
        .unwrap_or_else(|e| panic!("cannot move the fake VM to {}: {e}", binary.display()));
    binary
}

/// Whether `path` exists and was modified after `than`.
fn is_newer(path: &Path, than: &Path) -> bool {
    let modified = |p: &Path| fs::metadata(p).and_then(|m| m.modified()).ok();
    match (modified(path), modified(than)) {
        (Some(a), Some(b)) => a > b,
        _ => false,
    }
}

/// Writes an executable `dir/run-<name>-vm` that exports `env` (meant for the `FAKE_VM_*`
/// variables) and `exec`s the fake VM with the script's arguments, like a NixOS start script
/// `exec`s QEMU. Returns the script's path.
///
/// The script is written under a temporary name and renamed into place, so it is never
/// executed half-written.
///
/// # Panics
///
/// If a variable name is not a shell identifier or the file cannot be written.
pub fn write_start_script(dir: &Path, name: &str, env: &[(&str, &str)]) -> PathBuf {
    let mut script = String::from("#!/usr/bin/env bash\n");
    for (key, value) in env {
        let valid = key
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        assert!(valid, "not an environment variable name: {key:?}");
        script.push_str(&format!("export {key}={}\n", shell_quote(value)));
    }
    let binary = fake_vm_binary().to_string_lossy().into_owned();
    script.push_str(&format!("exec {} \"$@\"\n", shell_quote(&binary)));

    let path = dir.join(format!("run-{name}-vm"));
    let partial = dir.join(format!(".run-{name}-vm.partial"));
    let write = || -> std::io::Result<()> {
        let mut file = fs::File::create(&partial)?;
        file.write_all(script.as_bytes())?;
        file.set_permissions(fs::Permissions::from_mode(0o755))?;
        drop(file);
        fs::rename(&partial, &path)
    };
    write().unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    path
}

/// Quotes `s` for the shell with single quotes.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}
