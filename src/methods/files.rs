//! Files between the host and a guest: `copy_from_host`, `copy_from_vm` (and its
//! newer name `copy_from_machine`) and `copy_from_host_via_shell`.
//!
//! The first two go through the directory every machine shares with the host
//! (`shared-xchg` on the host, `/tmp/shared` in the guest, or `$VMTEST_SHARED_DIR`
//! where a guest mounts it elsewhere), as in the NixOS driver, but the guest can
//! write there, so the host never works inside it: it fills or reads a fresh
//! [`Exchange`] directory in a private place beside it and renames it into the
//! shared directory only while the guest copies into or out of it (`cp -r` in,
//! `cp -RL` out: links are resolved in the guest, where they mean something).
//! The host copies with [`tree_copy`]: a guest's tree gives only files and
//! directories, links and special files are skipped and logged. The guest first
//! checks that it sees the directory, so a guest without the share fails with an
//! error naming the machine and both paths instead of a `cp` message. The third
//! sends the file's bytes over the root shell, base64 in chunks of [`CHUNK`]
//! bytes, one command each, and checks the size at the end: it needs no shared
//! directory.
//!
//! Paths are quoted for the guest's shell, so any name (spaces, quotes) works;
//! bytes are copied as they are. Paths the script gives (the source on the host,
//! `target_dir=`) are trusted, as in the NixOS driver.

use super::{Invocation, Method, MethodResult, on_machine};
use crate::command::quote;
use crate::error::{Error, one_line};
use crate::script::signature::{OptionSpec, Signature, ValueKind};
use crate::tree_copy::{self, Failure, Origin};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Bytes of the file sent in one command by `copy_from_host_via_shell` (43 KiB
/// of base64: one request line well under what the console takes in a burst).
const CHUNK: usize = 32 * 1024;
/// How long one copy command may take in the guest.
const COPY_TIMEOUT: Duration = Duration::from_secs(900);
/// The exit status of a copy script whose guest does not see the shared directory;
/// it prints where it looked.
const NO_SHARE: i32 = 100;

/// `target_dir=`: where under the output directory `copy_from_vm` puts the copy.
const TARGET_DIR: OptionSpec = OptionSpec {
    name: "target_dir",
    kind: ValueKind::Text,
};

/// A fresh exchange directory. It is built and read in a private place beside
/// the shared directory (same file system, not exported to the guest), and is
/// renamed into the shared directory only while the guest works in it: the host
/// never writes into, or reads from, a directory the guest can change under it.
struct Exchange {
    /// The directory while the guest cannot see it (removed when dropped).
    private: tempfile::TempDir,
    /// Its place in the shared directory while the guest works in it.
    shared: PathBuf,
    /// `"${VMTEST_SHARED_DIR:-/tmp/shared}"/NAME`, for the guest's shell.
    guest: String,
}

impl Exchange {
    fn new(call: &mut Invocation<'_>, what: &str) -> Result<Exchange, Error> {
        let shared_dir = call.vm()?.shared_dir().to_path_buf();
        let beside = shared_dir.parent().unwrap_or(&shared_dir);
        let private = tempfile::Builder::new()
            .prefix("copy.")
            .tempdir_in(beside)
            .map_err(|e| {
                copy_error(
                    call,
                    what,
                    format!("cannot use `{}`: {e}", beside.display()),
                )
            })?;
        let name = private.path().file_name().unwrap_or_default().to_owned();
        let guest = format!(
            "\"${{VMTEST_SHARED_DIR:-/tmp/shared}}\"/{}",
            quote(&name.to_string_lossy())
        );
        Ok(Exchange {
            shared: shared_dir.join(name),
            private,
            guest,
        })
    }

    /// Where the host fills or reads the directory: `NAME` inside it.
    fn host(&self, name: &str) -> PathBuf {
        self.private.path().join(name)
    }

    /// Runs `script` in the guest once it has checked that it sees this
    /// directory; fails naming both sides of the share when it does not. The
    /// directory is in the shared directory only while the script runs.
    fn run(&self, call: &mut Invocation<'_>, what: &str, script: &str) -> Result<(), Error> {
        let moving = |e: std::io::Error| {
            format!(
                "moving `{}` to `{}`: {e}",
                self.private.path().display(),
                self.shared.display()
            )
        };
        fs::rename(self.private.path(), &self.shared)
            .map_err(|e| copy_error(call, what, moving(e)))?;
        let ran = self.run_shared(call, what, script);
        // Whatever the guest left at that name (a link even) is moved back,
        // never followed; `tree_copy` judges what is inside.
        let back = fs::rename(&self.shared, self.private.path());
        ran?;
        back.map_err(|e| copy_error(call, what, moving(e)))?;
        match fs::symlink_metadata(self.private.path()) {
            Ok(metadata) if metadata.is_dir() => Ok(()),
            _ => Err(copy_error(
                call,
                what,
                format!(
                    "the guest replaced the exchange directory `{}`",
                    self.shared.display()
                ),
            )),
        }
    }

    fn run_shared(&self, call: &mut Invocation<'_>, what: &str, script: &str) -> Result<(), Error> {
        let command = format!(
            "if [ ! -d {guest} ]; then printf %s \"${{VMTEST_SHARED_DIR:-/tmp/shared}}\"; exit {NO_SHARE}; fi\n{script}",
            guest = self.guest
        );
        let outcome = call.vm()?.execute(&command, COPY_TIMEOUT, None)?;
        match outcome.status {
            0 => Ok(()),
            NO_SHARE => Err(copy_error(
                call,
                what,
                format!(
                    "the host's shared directory `{}` is not mounted in the guest at `{}` \
                     (the guest mounts the 9p tag `shared` there, or sets VMTEST_SHARED_DIR \
                     for its root shell; copy_from_host_via_shell needs no share)",
                    self.shared.parent().unwrap_or(&self.shared).display(),
                    outcome.output.trim()
                ),
            )),
            status => Err(copy_error(
                call,
                what,
                format!(
                    "the guest's copy failed with exit status {status}: {}",
                    one_line(outcome.output.trim())
                ),
            )),
        }
    }
}

impl Drop for Exchange {
    /// Removes the shared name too if a failure left something there (a link
    /// is removed, not followed).
    fn drop(&mut self) {
        match fs::symlink_metadata(&self.shared) {
            Ok(metadata) if metadata.is_dir() => {
                let _ = fs::remove_dir_all(&self.shared);
            }
            Ok(_) => {
                let _ = fs::remove_file(&self.shared);
            }
            Err(_) => {}
        }
    }
}

fn copy_error(call: &Invocation<'_>, what: &str, message: String) -> Error {
    Error::Copy {
        machine: call.machine_name(),
        what: what.to_string(),
        message,
    }
}

/// The last component of `path`, trailing slashes ignored (`/var/log/` → `log`).
fn base_name(path: &str) -> Option<&str> {
    let name = path.trim_end_matches('/').rsplit('/').next()?;
    (!name.is_empty() && name != "." && name != "..").then_some(name)
}

/// Copies a tree on the host (see [`tree_copy`]), turning its failures into
/// this call's errors; returns what was skipped.
fn copy_tree(
    call: &Invocation<'_>,
    what: &str,
    from: &Path,
    to: &Path,
    origin: Origin,
) -> Result<Vec<String>, Error> {
    let mut skipped = Vec::new();
    let cancel = *call.backend.cancel();
    match tree_copy::copy(from, to, origin, &cancel, &mut skipped) {
        Ok(()) => Ok(skipped),
        Err(Failure::Stopped(error)) => Err(error),
        Err(Failure::Copy(message)) => Err(copy_error(call, what, message)),
    }
}

/// `copy_from_host SOURCE TARGET`: a host file or directory to `TARGET` in the guest.
pub(super) fn copy_from_host(call: &mut Invocation<'_>) -> MethodResult {
    let source = PathBuf::from(call.text(0));
    let target = call.text(1).to_string();
    let what = format!(
        "copy_from_host `{}` to `{}`",
        source.display(),
        one_line(&target)
    );
    call.nested(
        &format!("copying {} to {target}", source.display()),
        |call| {
            let Some(name) = base_name(&source.to_string_lossy()).map(str::to_string) else {
                return Err(copy_error(
                    call,
                    &what,
                    "the source names no file".to_string(),
                ));
            };
            let exchange = Exchange::new(call, &what)?;
            copy_tree(call, &what, &source, &exchange.host(&name), Origin::Host)?;
            let script = format!(
                "mkdir -p -- \"$(dirname -- {target})\"\ncp -r -- {guest}/{name} {target}",
                guest = exchange.guest,
                name = quote(&name),
                target = quote(&target)
            );
            exchange.run(call, &what, &script)
        },
    )?;
    Ok(None)
}

/// `copy_from_vm SOURCE [TARGET_DIR]`: a guest file or directory to
/// `OUTPUT_DIR/TARGET_DIR/NAME` on the host. The guest resolves links (`cp -RL`,
/// where they mean something); the host copies only files and directories and
/// logs what it skipped.
pub(super) fn copy_from_vm(call: &mut Invocation<'_>) -> MethodResult {
    let source = call.text(0).to_string();
    let target_dir = call
        .text_option(&TARGET_DIR)
        .unwrap_or_default()
        .to_string();
    let what = format!("copy_from_vm `{}`", one_line(&source));
    let output_dir = call.backend.output_dir().to_path_buf();
    call.nested(&format!("copying {source} out of the machine"), |call| {
        let Some(name) = base_name(&source).map(str::to_string) else {
            return Err(copy_error(
                call,
                &what,
                "the source names no file".to_string(),
            ));
        };
        let exchange = Exchange::new(call, &what)?;
        let script = format!(
            "cp -RH -- {} {}/{}",
            quote(&source),
            exchange.guest,
            quote(&name)
        );
        exchange.run(call, &what, &script)?;
        let target = output_dir.join(&target_dir).join(&name);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent).map_err(|e| {
                copy_error(call, &what, format!("creating `{}`: {e}", parent.display()))
            })?;
        }
        let skipped = copy_tree(call, &what, &exchange.host(&name), &target, Origin::Guest)?;
        let logger = call.backend.logger();
        for path in skipped {
            let inside = Path::new(&path)
                .strip_prefix(exchange.private.path())
                .map_or(path.clone(), |inside| inside.display().to_string());
            logger.log(
                call.machine,
                &format!("skipped `{inside}`: not a regular file or directory"),
            );
        }
        logger.log(
            call.machine,
            &format!("copied {source} to {}", target.display()),
        );
        Ok(())
    })?;
    Ok(None)
}

/// `copy_from_host_via_shell SOURCE TARGET`: a host file to `TARGET` in the guest
/// over the root shell, for guests without the shared directory.
pub(super) fn copy_from_host_via_shell(call: &mut Invocation<'_>) -> MethodResult {
    let source = PathBuf::from(call.text(0));
    let target = quote(call.text(1));
    let what = format!(
        "copy_from_host_via_shell `{}` to `{}`",
        source.display(),
        one_line(call.text(1))
    );
    let header = format!(
        "copying {} to {} over the shell",
        source.display(),
        call.text(1)
    );
    call.nested(&header, |call| {
        let mut file = fs::File::open(&source)
            .map_err(|e| copy_error(call, &what, format!("`{}`: {e}", source.display())))?;
        let mut commands = vec![format!(
            "mkdir -p -- \"$(dirname -- {target})\"\n: > {target}"
        )];
        let mut size: u64 = 0;
        let mut chunk = vec![0u8; CHUNK];
        loop {
            let count = read_full(&mut file, &mut chunk)
                .map_err(|e| copy_error(call, &what, format!("`{}`: {e}", source.display())))?;
            if count == 0 {
                break;
            }
            size += count as u64;
            commands.push(format!(
                "printf %s '{}' | base64 -d >> {target}",
                crate::base64::encode(&chunk[..count])
            ));
        }
        commands.push(format!("[ \"$(wc -c < {target})\" -eq {size} ]"));
        for command in commands {
            call.succeed_command(&command, COPY_TIMEOUT, None)?;
        }
        Ok(())
    })?;
    Ok(None)
}

/// Reads until `buffer` is full or the file ends; returns how much was read.
fn read_full(file: &mut fs::File, buffer: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match file.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(count) => filled += count,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// The methods this module runs, with their signatures.
pub(super) static TABLE: &[Method] = &[
    Method {
        signature: on_machine(
            "copy_from_host",
            "copy a host file or directory into the guest (through the shared directory)",
        )
        .with_params(&["source", "target"]),
        run: copy_from_host,
    },
    Method {
        signature: Signature {
            options: &[TARGET_DIR],
            positional_options: true,
            ..on_machine(
                "copy_from_vm",
                "copy a guest file or directory to the output directory (target_dir= below it)",
            )
        }
        .with_params(&["source"]),
        run: copy_from_vm,
    },
    Method {
        signature: Signature {
            options: &[TARGET_DIR],
            positional_options: true,
            ..on_machine("copy_from_machine", "the newer name of copy_from_vm")
        }
        .with_params(&["source"]),
        run: copy_from_vm,
    },
    Method {
        signature: on_machine(
            "copy_from_host_via_shell",
            "copy a host file into the guest over the root shell (no shared directory needed)",
        )
        .with_params(&["source", "target"]),
        run: copy_from_host_via_shell,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_names_ignore_trailing_slashes() {
        assert_eq!(base_name("/var/log/"), Some("log"));
        assert_eq!(base_name("a b"), Some("a b"));
        assert_eq!(base_name("/"), None);
        assert_eq!(base_name("x/.."), None);
    }
}
