//! Host-side copies of file trees, for `copy_from_host` and `copy_from_vm`.
//!
//! Every entry is opened with `O_NONBLOCK` (a FIFO or device never blocks the
//! copy) and judged by `fstat` on the open file, and [`Cancel::check`] runs
//! before each entry, so a signal or the global timeout ends even a huge copy.
//! A tree the script names on the host ([`Origin::Host`]) is trusted: links in it
//! are followed, as the NixOS driver's copies do, and anything but a regular file
//! or a directory is an error. A tree a guest wrote ([`Origin::Guest`]) is not:
//! links and special files are never followed or opened (`symlink_metadata`,
//! `O_NOFOLLOW`) but skipped, and the caller logs what was skipped; set-id bits
//! are dropped.

use crate::cancel::Cancel;
use crate::error::Error;
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Who wrote the tree being copied, and so how far it is trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// A path the script gave on the host: links are followed.
    Host,
    /// What a guest left in the exchange directory: links and special files
    /// are skipped.
    Guest,
}

/// Why a tree copy stopped.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The run was cancelled (signal or global timeout).
    Stopped(Error),
    /// A file could not be read or written; the message names it.
    Copy(String),
}

impl From<Error> for Failure {
    fn from(error: Error) -> Failure {
        Failure::Stopped(error)
    }
}

/// What one entry of a tree is, judged on the open file.
enum Entry {
    File(fs::File, fs::Metadata),
    Dir(fs::Metadata),
    /// A link or special file of a guest tree: skipped.
    Skipped,
}

/// Copies `from` to `to`: a file with its permission bits, a directory with all
/// it holds; an existing directory is merged into, an existing file replaced.
/// Guest entries that are neither files nor directories go into `skipped`.
pub(crate) fn copy(
    from: &Path,
    to: &Path,
    origin: Origin,
    cancel: &Cancel,
    skipped: &mut Vec<String>,
) -> Result<(), Failure> {
    cancel.check()?;
    let fail = |what: &str, path: &Path, e: io::Error| {
        Failure::Copy(format!("{what}`{}`: {e}", path.display()))
    };
    match open(from, origin).map_err(|e| fail("", from, e))? {
        Entry::Skipped => {
            skipped.push(from.display().to_string());
            Ok(())
        }
        Entry::File(mut file, metadata) => {
            let mut out = fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .custom_flags(libc::O_NOFOLLOW)
                .open(to)
                .map_err(|e| fail("creating ", to, e))?;
            copy_contents(&mut file, &mut out, cancel).map_err(|failure| match failure {
                Failure::Copy(e) => Failure::Copy(format!(
                    "copying `{}` to `{}`: {e}",
                    from.display(),
                    to.display()
                )),
                other => other,
            })?;
            out.set_permissions(permissions(&metadata, origin))
                .map_err(|e| fail("", to, e))
        }
        Entry::Dir(metadata) => {
            fs::create_dir_all(to).map_err(|e| fail("creating ", to, e))?;
            let entries = fs::read_dir(from).map_err(|e| fail("", from, e))?;
            for entry in entries {
                let entry = entry.map_err(|e| fail("", from, e))?;
                copy(
                    &entry.path(),
                    &to.join(entry.file_name()),
                    origin,
                    cancel,
                    skipped,
                )?;
            }
            fs::set_permissions(to, permissions(&metadata, origin)).map_err(|e| fail("", to, e))
        }
    }
}

/// Opens `path` without blocking and says what it is; a guest's links and
/// special files are not opened at all.
fn open(path: &Path, origin: Origin) -> io::Result<Entry> {
    let mut flags = libc::O_NONBLOCK;
    if origin == Origin::Guest {
        let kind = fs::symlink_metadata(path)?.file_type();
        if !kind.is_file() && !kind.is_dir() {
            return Ok(Entry::Skipped);
        }
        flags |= libc::O_NOFOLLOW;
    }
    let file = match fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags)
        .open(path)
    {
        // Replaced by a link since `symlink_metadata`.
        Err(e) if origin == Origin::Guest && e.raw_os_error() == Some(libc::ELOOP) => {
            return Ok(Entry::Skipped);
        }
        opened => opened?,
    };
    let metadata = file.metadata()?;
    if metadata.is_file() {
        Ok(Entry::File(file, metadata))
    } else if metadata.is_dir() {
        Ok(Entry::Dir(metadata))
    } else if origin == Origin::Guest {
        Ok(Entry::Skipped)
    } else {
        Err(io::Error::other("neither a file nor a directory"))
    }
}

/// Copies `file` into `out` a block at a time, stopping when the run is cancelled:
/// a guest file can be huge (sparse on the guest, written out whole here).
fn copy_contents(file: &mut fs::File, out: &mut fs::File, cancel: &Cancel) -> Result<(), Failure> {
    let mut block = vec![0u8; 1 << 20];
    loop {
        cancel.check()?;
        let count = match file.read(&mut block) {
            Ok(0) => return Ok(()),
            Ok(count) => count,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Failure::Copy(e.to_string())),
        };
        out.write_all(&block[..count])
            .map_err(|e| Failure::Copy(e.to_string()))?;
    }
}

/// The permission bits a copy gets: a guest's set-id and sticky bits dropped, and
/// its files and directories never writable by others on the host.
fn permissions(metadata: &fs::Metadata, origin: Origin) -> fs::Permissions {
    let mask = match origin {
        Origin::Host => 0o7777,
        Origin::Guest => 0o755,
    };
    fs::Permissions::from_mode(metadata.permissions().mode() & mask)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;
    use std::time::Duration;

    #[test]
    fn a_guest_tree_skips_links_and_fifos_and_a_host_tree_follows_links() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::write(root.join("secret"), b"host data").unwrap();
        fs::create_dir_all(root.join("tree/sub")).unwrap();
        fs::write(root.join("tree/sub/file"), b"guest data").unwrap();
        symlink(root.join("secret"), root.join("tree/link")).unwrap();
        symlink(root, root.join("tree/dirlink")).unwrap();
        let fifo = std::ffi::CString::new(root.join("tree/fifo").to_str().unwrap()).unwrap();
        // SAFETY: `fifo` is a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        let cancel = Cancel::new(Duration::from_secs(60));
        let mut skipped = Vec::new();
        let out = root.join("out");
        copy(
            &root.join("tree"),
            &out,
            Origin::Guest,
            &cancel,
            &mut skipped,
        )
        .unwrap();
        assert_eq!(fs::read(out.join("sub/file")).unwrap(), b"guest data");
        assert!(!out.join("link").exists() && !out.join("dirlink").exists());
        assert!(!out.join("fifo").exists());
        skipped.sort();
        assert_eq!(skipped.len(), 3, "{skipped:?}");
        let mut skipped = Vec::new();
        let error = copy(
            &root.join("tree/link"),
            &root.join("x"),
            Origin::Guest,
            &cancel,
            &mut skipped,
        );
        assert!(error.is_ok() && skipped.len() == 1 && !root.join("x").exists());
        fs::remove_file(root.join("tree/fifo")).unwrap();
        fs::remove_file(root.join("tree/dirlink")).unwrap();
        let host = root.join("host");
        copy(
            &root.join("tree"),
            &host,
            Origin::Host,
            &cancel,
            &mut Vec::new(),
        )
        .unwrap();
        assert_eq!(fs::read(host.join("link")).unwrap(), b"host data");
    }

    #[test]
    fn a_host_fifo_is_an_error_not_a_hang() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: `path` is a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0);
        let cancel = Cancel::new(Duration::from_secs(60));
        match copy(
            &fifo,
            &dir.path().join("x"),
            Origin::Host,
            &cancel,
            &mut Vec::new(),
        ) {
            Err(Failure::Copy(message)) => assert!(message.contains("neither a file"), "{message}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_cancelled_run_stops_the_copy() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("f"), b"x").unwrap();
        let cancel = Cancel::new(Duration::ZERO);
        let result = copy(
            &dir.path().join("f"),
            &dir.path().join("g"),
            Origin::Host,
            &cancel,
            &mut Vec::new(),
        );
        assert!(matches!(
            result,
            Err(Failure::Stopped(Error::GlobalTimeout { .. }))
        ));
        assert!(!dir.path().join("g").exists());
    }
}
