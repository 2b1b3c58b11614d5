//! Reading text off a screen image with `tesseract`.
//!
//! Each [`Variant`] prepares the screen differently (see `image.rs`) and is read
//! by one run of `tesseract` (an argv, never a shell), on a PGM file in a
//! temporary directory that is removed afterwards, with a time limit. Like the
//! NixOS driver, tesseract reads in "sparse text" mode (`--psm 11`), which finds
//! text scattered over a screen; unlike it, one variant is read at a time, so a
//! wait can stop at the first that matches.

use crate::cancel::Cancel;
use crate::error::Error;
use crate::image::{Gray, Rgb};
use crate::process::{Group, Waited};
use std::fs;
use std::io::ErrorKind;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// How long one run of tesseract may take (a wait gives it less when less is left).
pub(crate) const TESSERACT_TIMEOUT: Duration = Duration::from_secs(120);

/// A way of preparing the screen for OCR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Variant {
    /// Gray, dark text on light, enlarged three times: what a console font needs.
    Enlarged,
    /// As [`Variant::Enlarged`], then black and white.
    BlackAndWhite,
    /// Gray, at the screen's own size, as it is.
    AsIs,
}

/// Every variant, in the order waits try them: the one that reads a console
/// best first.
pub(crate) const VARIANTS: [Variant; 3] =
    [Variant::Enlarged, Variant::BlackAndWhite, Variant::AsIs];

impl Variant {
    /// The variant's name, for logs.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Variant::Enlarged => "enlarged",
            Variant::BlackAndWhite => "black and white",
            Variant::AsIs => "as is",
        }
    }

    fn prepare(self, screen: &Rgb) -> Gray {
        match self {
            Variant::Enlarged => screen.gray().dark_on_light().enlarged(3),
            Variant::BlackAndWhite => screen.gray().dark_on_light().enlarged(3).thresholded(),
            Variant::AsIs => screen.gray(),
        }
    }
}

/// Reads the text of `screen`, prepared as `variant`, with tesseract, which may
/// take `limit`; the temporary files live in a fresh directory under `work`.
///
/// # Errors
///
/// [`Error::MissingProgram`] when tesseract is not on `PATH`; [`Error::Machine`]
/// (naming `machine`) when it fails or takes too long; a cancellation as itself.
pub(crate) fn read(
    machine: &str,
    screen: &Rgb,
    variant: Variant,
    work: &Path,
    limit: Duration,
    cancel: &Cancel,
) -> Result<String, Error> {
    let dir = tempfile::Builder::new()
        .prefix("ocr.")
        .tempdir_in(work)
        .map_err(|e| Error::io(format!("creating a temp dir in `{}`", work.display()), e))?;
    let input = dir.path().join("screen.pgm");
    fs::write(&input, variant.prepare(screen).to_pgm())
        .map_err(|e| Error::io(format!("writing `{}`", input.display()), e))?;
    let stderr_path = dir.path().join("stderr");
    let stderr = fs::File::create(&stderr_path)
        .map_err(|e| Error::io(format!("creating `{}`", stderr_path.display()), e))?;
    let mut command = Command::new("tesseract");
    command
        .arg(&input)
        .arg(dir.path().join("text"))
        .args(["--psm", "11", "-c", "debug_file=/dev/null"])
        // One thread: measured faster on a host busy with QEMU (0.4-0.7 s
        // against 0.7-1.2 s for a 1920x1200 console screen).
        .env("OMP_THREAD_LIMIT", "1")
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr);
    let mut group = Group::spawn(&mut command).map_err(|e| match e.kind() {
        ErrorKind::NotFound => Error::MissingProgram {
            machine: machine.to_string(),
            program: "tesseract".to_string(),
            package: "tesseract-ocr".to_string(),
            purpose: "reading text on the screen (OCR)".to_string(),
        },
        _ => Error::io("running `tesseract`", e),
    })?;
    let failed = |message: String| Error::Machine {
        machine: machine.to_string(),
        message: format!("OCR of the screen ({} variant): {message}", variant.name()),
    };
    match group.wait_until(limit, cancel, || false)? {
        Waited::Exited(status) if status.success() => {}
        Waited::Exited(status) => {
            let said = fs::read_to_string(&stderr_path).unwrap_or_default();
            return Err(failed(format!(
                "`tesseract` failed ({}): {}",
                crate::process::describe(&status),
                said.trim()
            )));
        }
        Waited::TimedOut | Waited::Ready => {
            return Err(failed(format!(
                "`tesseract` took longer than {} s",
                limit.as_secs_f64()
            )));
        }
    }
    let text_path = dir.path().join("text.txt");
    let text = fs::read(&text_path)
        .map_err(|e| Error::io(format!("reading `{}`", text_path.display()), e))?;
    Ok(String::from_utf8_lossy(&text).into_owned())
}
