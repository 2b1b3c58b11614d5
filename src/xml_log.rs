//! The XML log file, in the NixOS test-driver format.
//!
//! ```text
//! <?xml version="1.0" encoding="utf-8"?>
//! <logfile>
//!   <nest><head machine="m">must succeed: true</head>
//!     <line machine="m" type="serial">…</line>
//!     <line>(finished: must succeed: true, in 0.01 seconds)</line>
//!   </nest>
//! </logfile>
//! ```
//!
//! Every event is flushed as it is written, so a log cut short by SIGKILL still holds
//! everything up to that point; [`XmlLog::close`] closes open nests and the root
//! element, and `Drop` calls it, so the file is well-formed on every other exit path.

use crate::sanitize::{xml_attr_escape, xml_escape};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

/// An open XML log, written to one or more files.
pub(crate) struct XmlLog {
    outs: Vec<BufWriter<File>>,
    open_nests: usize,
}

/// The attributes of a `<line>` or `<head>`.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Attrs<'a> {
    /// `machine="…"`.
    pub(crate) machine: Option<&'a str>,
    /// `type="…"` (`serial` for console lines).
    pub(crate) kind: Option<&'a str>,
    /// `error="1"`: the line reports a failure.
    pub(crate) error: bool,
    /// `image="…"`: the screenshot a step made (a file name in the output
    /// directory), which Hydra's `log2html` links to.
    pub(crate) image: Option<&'a str>,
}

impl XmlLog {
    /// Creates (truncates) the log in each of `paths`, the same text in each, and
    /// writes the document header; on failure, the path that failed and why.
    pub(crate) fn create_all(paths: &[PathBuf]) -> Result<XmlLog, (PathBuf, io::Error)> {
        let mut outs = Vec::new();
        for path in paths {
            let start = || -> io::Result<BufWriter<File>> {
                let mut out = BufWriter::new(File::create(path)?);
                out.write_all(b"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<logfile>\n")?;
                out.flush()?;
                Ok(out)
            };
            outs.push(start().map_err(|error| (path.clone(), error))?);
        }
        Ok(XmlLog {
            outs,
            open_nests: 0,
        })
    }

    /// Writes `<line …>text</line>`.
    pub(crate) fn line(&mut self, attrs: Attrs<'_>, text: &str) {
        let element = format!("<line{}>{}</line>\n", render_attrs(attrs), xml_escape(text));
        self.write(&element);
    }

    /// Opens `<nest><head …>text</head>`.
    pub(crate) fn open_nest(&mut self, attrs: Attrs<'_>, text: &str) {
        let element = format!(
            "<nest><head{}>{}</head>\n",
            render_attrs(attrs),
            xml_escape(text)
        );
        self.write(&element);
        self.open_nests += 1;
    }

    /// Closes the innermost nest.
    pub(crate) fn close_nest(&mut self) {
        if self.open_nests > 0 {
            self.open_nests -= 1;
            self.write("</nest>\n");
        }
    }

    /// Closes every open nest and the document; later writes are ignored.
    pub(crate) fn close(&mut self) {
        while self.open_nests > 0 {
            self.close_nest();
        }
        self.write("</logfile>\n");
        self.outs.clear();
    }

    fn write(&mut self, text: &str) {
        // A log that can no longer be written (disk full, file removed) must not stop
        // the test; the terminal still shows everything.
        self.outs
            .retain_mut(|out| out.write_all(text.as_bytes()).is_ok() && out.flush().is_ok());
    }
}

impl Drop for XmlLog {
    fn drop(&mut self) {
        if !self.outs.is_empty() {
            self.close();
        }
    }
}

fn render_attrs(attrs: Attrs<'_>) -> String {
    let mut out = String::new();
    if let Some(machine) = attrs.machine {
        out.push_str(&format!(" machine=\"{}\"", xml_attr_escape(machine)));
    }
    if let Some(kind) = attrs.kind {
        out.push_str(&format!(" type=\"{}\"", xml_attr_escape(kind)));
    }
    if attrs.error {
        out.push_str(" error=\"1\"");
    }
    if let Some(image) = attrs.image {
        out.push_str(&format!(" image=\"{}\"", xml_attr_escape(image)));
    }
    out
}
