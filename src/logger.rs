//! The run's log: the terminal (stderr) and, when asked for, the XML file.
//!
//! One [`Logger`] is shared (behind an `Arc`) by the main thread and the serial reader
//! threads; a mutex keeps each event whole on both outputs. Everything else takes it
//! by reference. Serial lines land inside whatever nest is open when they arrive, as
//! in the NixOS driver.
//!
//! A nest (a header, the lines of a step, a closing line with the time taken) is
//! opened and closed in one way: [`Logger::nest`] runs a step inside one and closes
//! it as finished or failed however the step ends, a panic included.

use crate::color::Palette;
use crate::sanitize::terminal_safe;
use crate::xml_log::{Attrs, XmlLog};
use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Instant;

/// The shared log of one run.
pub(crate) struct Logger {
    inner: Mutex<Inner>,
    palette: Palette,
    /// Whether stderr is a terminal, where a live status line can be kept.
    live: bool,
}

struct Inner {
    xml: Option<XmlLog>,
    print_serial: bool,
    nests: Vec<Nest>,
    /// The live status line on the terminal, if one is shown.
    status: Option<String>,
}

struct Nest {
    machine: Option<String>,
    message: String,
    started: Instant,
}

/// How a nest ended, for its closing line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NestEnd {
    /// The step finished normally.
    Finished,
    /// The step failed; the closing line says so.
    Failed,
}

impl Logger {
    /// A logger writing to stderr (coloured by `palette`) and to `xml` if given.
    pub(crate) fn new(palette: Palette, xml: Option<XmlLog>, print_serial: bool) -> Logger {
        Logger {
            inner: Mutex::new(Inner {
                xml,
                print_serial,
                nests: Vec::new(),
                status: None,
            }),
            palette,
            live: std::io::stderr().is_terminal(),
        }
    }

    /// The palette used for the terminal.
    pub(crate) fn palette(&self) -> Palette {
        self.palette
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while logging must not take the log down with it.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Logs `message`, prefixed with `machine: ` when it concerns one machine.
    pub(crate) fn log(&self, machine: Option<&str>, message: &str) {
        let mut inner = self.lock();
        self.print(&inner, &prefixed(machine, &terminal_safe(message)));
        if let Some(xml) = inner.xml.as_mut() {
            xml.line(attrs(machine), message);
        }
    }

    /// Logs a failure: red `!!! ` on the terminal, `error="1"` in the XML.
    pub(crate) fn error(&self, machine: Option<&str>, message: &str) {
        let mut inner = self.lock();
        let text = prefixed(machine, &terminal_safe(message));
        for line in text.lines() {
            self.print(&inner, &self.palette.red(&format!("!!! {line}")));
        }
        if let Some(xml) = inner.xml.as_mut() {
            xml.line(
                Attrs {
                    error: true,
                    ..attrs(machine)
                },
                message,
            );
        }
    }

    /// Logs one line the guest printed on its serial console.
    pub(crate) fn serial(&self, machine: &str, line: &str) {
        let mut inner = self.lock();
        if inner.print_serial {
            self.print(
                &inner,
                &self
                    .palette
                    .dim(&format!("{machine} # {}", terminal_safe(line))),
            );
        }
        if let Some(xml) = inner.xml.as_mut() {
            xml.line(
                Attrs {
                    machine: Some(machine),
                    kind: Some("serial"),
                    error: false,
                    image: None,
                },
                line,
            );
        }
    }

    /// Turns the terminal copy of serial lines on or off (the XML keeps them all).
    pub(crate) fn set_print_serial(&self, on: bool) {
        self.lock().print_serial = on;
    }

    /// Runs `step` inside a nest headed `head`, and closes the nest with
    /// `(finished: head, in X seconds)` if the step succeeds, `(failed: …)` if it fails
    /// or panics.
    pub(crate) fn nest<T, E>(
        &self,
        machine: Option<&str>,
        head: &str,
        step: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, E> {
        self.nest_with_image(machine, head, None, step)
    }

    /// [`Logger::nest`] for a step that makes the screenshot `image` (a file
    /// name): the XML head carries `image="…"`.
    pub(crate) fn nest_with_image<T, E>(
        &self,
        machine: Option<&str>,
        head: &str,
        image: Option<&str>,
        step: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, E> {
        /// Closes the nest when dropped, also while a panic unwinds.
        struct Open<'a> {
            logger: &'a Logger,
            end: NestEnd,
        }
        impl Drop for Open<'_> {
            fn drop(&mut self) {
                self.logger.close_nest(self.end);
            }
        }
        self.open_nest_attrs(
            Attrs {
                image,
                ..attrs(machine)
            },
            head,
        );
        let mut open = Open {
            logger: self,
            end: NestEnd::Failed,
        };
        let result = step();
        if result.is_ok() {
            open.end = NestEnd::Finished;
        }
        drop(open);
        result
    }

    /// Opens a nest: a header now, a closing line with the time taken at
    /// [`Logger::close_nest`]. Use [`Logger::nest`]; this stays public only until
    /// `machine.rs` uses it too.
    pub(crate) fn open_nest(&self, machine: Option<&str>, message: &str) {
        self.open_nest_attrs(attrs(machine), message);
    }

    /// Opens a nest whose XML head has `attrs`.
    fn open_nest_attrs(&self, attrs: Attrs<'_>, message: &str) {
        let machine = attrs.machine;
        let mut inner = self.lock();
        let header = self.palette.green(&terminal_safe(message));
        self.print(&inner, &prefixed(machine, &header));
        if let Some(xml) = inner.xml.as_mut() {
            xml.open_nest(attrs, message);
        }
        inner.nests.push(Nest {
            machine: machine.map(str::to_string),
            message: message.to_string(),
            started: Instant::now(),
        });
    }

    /// Closes the innermost nest with `(finished: msg, in X seconds)` or `(failed: …)`.
    /// Use [`Logger::nest`]; this stays public only until `machine.rs` uses it too.
    pub(crate) fn close_nest(&self, end: NestEnd) {
        let mut inner = self.lock();
        let Some(nest) = inner.nests.pop() else {
            return;
        };
        let word = match end {
            NestEnd::Finished => "finished",
            NestEnd::Failed => "failed",
        };
        let line = format!(
            "({word}: {}, in {:.2} seconds)",
            nest.message,
            nest.started.elapsed().as_secs_f64()
        );
        let machine = nest.machine.as_deref();
        // A status line belongs to a step inside the nest: it ends with it.
        self.show_status(&mut inner, None);
        self.print(&inner, &prefixed(machine, &terminal_safe(&line)));
        if let Some(xml) = inner.xml.as_mut() {
            xml.line(attrs(machine), &line);
            xml.close_nest();
        }
    }

    // Progress of long waits (`crate::progress`).
    /// Shows `text` (about `machine`) as the live status line on a terminal, or
    /// clears it with `None`; does nothing when stderr is not a terminal.
    pub(crate) fn set_status(&self, machine: Option<&str>, text: Option<&str>) {
        let mut inner = self.lock();
        let text = text.map(|text| prefixed(machine, text));
        self.show_status(&mut inner, text);
    }

    /// Logs a plain progress line: in the XML log, and on stderr unless stderr is
    /// a terminal (where the live status line shows it).
    pub(crate) fn progress_line(&self, machine: Option<&str>, message: &str) {
        let mut inner = self.lock();
        if !self.live {
            eprint_line(&prefixed(machine, &terminal_safe(message)));
        }
        if let Some(xml) = inner.xml.as_mut() {
            xml.line(attrs(machine), message);
        }
    }

    /// Replaces the live status line with `text` (cut to the terminal's width).
    fn show_status(&self, inner: &mut Inner, text: Option<String>) {
        if !self.live || (text.is_none() && inner.status.is_none()) {
            return;
        }
        let text = text.map(|text| {
            let width = terminal_width().saturating_sub(1);
            match text.chars().count() > width {
                true => {
                    text.chars()
                        .take(width.saturating_sub(1))
                        .collect::<String>()
                        + "…"
                }
                false => text,
            }
        });
        let _stdout = std::io::stdout().lock();
        let mut stderr = std::io::stderr().lock();
        let _ = write!(stderr, "\r\x1b[K{}", text.as_deref().unwrap_or(""));
        let _ = stderr.flush();
        inner.status = text;
    }

    /// Prints `line` on stderr, under the live status line when one is shown.
    fn print(&self, inner: &Inner, line: &str) {
        match &inner.status {
            Some(status) => {
                let _stdout = std::io::stdout().lock();
                let mut stderr = std::io::stderr().lock();
                let _ = write!(stderr, "\r\x1b[K{line}\n{status}");
                let _ = stderr.flush();
            }
            None => eprint_line(line),
        }
    }

    /// Closes every open nest as failed and closes the XML document.
    pub(crate) fn close(&self) {
        let open = self.lock().nests.len();
        for _ in 0..open {
            self.close_nest(NestEnd::Failed);
        }
        if let Some(mut xml) = self.lock().xml.take() {
            xml.close();
        }
    }
}

impl Drop for Logger {
    fn drop(&mut self) {
        self.close();
    }
}

fn attrs(machine: Option<&str>) -> Attrs<'_> {
    Attrs {
        machine,
        kind: None,
        error: false,
        image: None,
    }
}

fn prefixed(machine: Option<&str>, message: &str) -> String {
    match machine {
        Some(machine) => format!("{machine}: {message}"),
        None => message.to_string(),
    }
}

/// The width of the terminal on stderr, in columns (80 when it does not say).
fn terminal_width() -> usize {
    // SAFETY: `winsize` is plain data; TIOCGWINSZ fills it or fails, and a failure
    // leaves it zeroed.
    let size = unsafe {
        let mut size: libc::winsize = std::mem::zeroed();
        libc::ioctl(2, libc::TIOCGWINSZ, &mut size);
        size
    };
    match size.ws_col {
        0 => 80,
        columns => usize::from(columns),
    }
}

/// Writes one line to stderr while holding stdout's lock, so that lines never
/// interleave with anything printed on stdout; a closed stderr is ignored.
pub(crate) fn eprint_line(line: &str) {
    let _stdout = std::io::stdout().lock();
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "{line}");
}
