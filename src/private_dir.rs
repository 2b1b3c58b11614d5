//! Directories only this user may enter: the run's root, the shared directory and
//! each machine's state directory, where the monitor, shell and QMP sockets live.
//!
//! A fresh run root comes from `tempfile` and is private by construction. A kept
//! one (`-K`) has a fixed name in `TMPDIR`, and so do the directories inside it,
//! so each may already exist: made by an earlier run (fine), or by someone else,
//! or as a symlink to somewhere else (refused). A kept root that others could
//! write to is refused too, because they may have left entries in it (a symlink
//! where a log file or a socket will go); any other open one is closed again
//! (inside a private root nobody else could reach it, and a guest may chmod the
//! shared directory).
//!
//! The checks work by path. That is sound when `TMPDIR` is private or, like
//! `/tmp`, sticky: nobody else can then rename or replace this user's entries
//! after the check.

use crate::error::Error;
use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::Path;

/// Where a directory stands, and so what an open one means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    /// In `TMPDIR`, where others can reach it: open to writing, it is refused.
    Reachable,
    /// Inside a directory already made private: nobody else could have reached
    /// it, so an open one (a guest can chmod the shared directory) is closed.
    Inside,
}

/// Creates the directory `path` (mode 0700, parents as needed) unless it exists,
/// then makes sure it is this user's own, not a symlink, and closed to others.
pub(crate) fn ensure(path: &Path, place: Place) -> Result<(), Error> {
    let context = || format!("creating `{}`", path.display());
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(|e| Error::io(context(), e))?;
    let metadata = fs::symlink_metadata(path).map_err(|e| Error::io(context(), e))?;
    let refuse = |why: String| {
        Err(Error::io(
            context(),
            io::Error::new(io::ErrorKind::PermissionDenied, why),
        ))
    };
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if metadata.is_symlink() {
        return refuse("it is a symlink; remove it, or give another TMPDIR".to_string());
    }
    if !metadata.is_dir() {
        return refuse("it exists and is not a directory".to_string());
    }
    if metadata.uid() != me {
        return refuse(format!(
            "it belongs to uid {}, not to this user (uid {me})",
            metadata.uid()
        ));
    }
    if place == Place::Reachable && metadata.mode() & 0o022 != 0 {
        return refuse(format!(
            "others may write to it (mode {:o}); check what it holds, then remove it",
            metadata.mode() & 0o777
        ));
    }
    if metadata.mode() & 0o077 != 0 {
        fs::set_permissions(path, fs::Permissions::from_mode(0o700))
            .map_err(|e| Error::io(context(), e))?;
    }
    Ok(())
}
