//! `vmtest-min report`: one self-contained HTML page made from an XML log.
//!
//! The page needs nothing but itself: the CSS is inline, the script is a few lines
//! (the serial-line filter), screenshots are embedded as `data:` URIs, and nothing
//! is fetched. At the top it names the failing step (the chain of failed nests,
//! outermost first) with its error; below, every nest is a `<details>` element,
//! open when it failed; serial lines are dimmed and can be hidden machine by
//! machine. The markup is also well-formed XML, so tests can read it with xml-rs.

use crate::log_tree::{self, Ending, Entry, Log, Nest, Node, Outcome};
use crate::sanitize::xml_escape;
use std::fmt::{self, Write};
use std::io;
use std::path::{Path, PathBuf};

const STYLE: &str = "
body { font: 14px/1.4 sans-serif; margin: 1em 2em; color: #222; }
h1 { font-size: 1.3em; }
.verdict { font-weight: bold; padding: 0.2em 0.6em; border-radius: 4px; }
.verdict.passed { background: #d7f5dd; color: #135c23; }
.verdict.failed { background: #fbe0e0; color: #8a1414; }
.verdict.unknown, .verdict.incomplete { background: #eee; color: #444; }
#incomplete { border: 2px solid #999; padding: 0.3em 1em; margin: 1em 0; }
#failure { border: 2px solid #c62828; background: #fff5f5; padding: 0.5em 1em; margin: 1em 0; }
#failure h2 { font-size: 1.1em; margin: 0.2em 0; color: #8a1414; }
pre, .line { font-family: monospace; white-space: pre-wrap; margin: 0; }
details { margin-left: 1.2em; border-left: 1px solid #ddd; padding-left: 0.5em; }
summary { cursor: pointer; }
details.failed > summary { color: #b71c1c; font-weight: bold; }
.time { color: #777; font-size: 0.9em; margin-left: 0.5em; }
.machine { color: #1565c0; margin-right: 0.4em; }
.line { margin-left: 1.2em; }
.line.serial { opacity: 0.5; }
.line.error { color: #b71c1c; font-weight: bold; }
#filters { margin: 0.5em 0; }
#filters label { margin-right: 1em; }
img.screen { max-width: 640px; border: 1px solid #999; display: block; margin: 0.3em 1.2em; }
";

/// Hides or shows each machine's serial lines when its box is ticked (a link
/// ending in `#hide=NAME` starts with NAME's unticked; a malformed escape in it is
/// taken as written); marks the page ready once wired, for tests that run it in a
/// browser. Machines are matched by comparing names, never by building a
/// selector from one. Kept free of `<` and `&` so that the page stays
/// well-formed XML.
const SCRIPT: &str = "
var hidden = null;
if (location.hash.indexOf('#hide=') === 0) {
  try {
    hidden = decodeURIComponent(location.hash.slice(6));
  } catch (e) {
    hidden = location.hash.slice(6);
  }
}
var serial = document.querySelectorAll('.serial[data-machine]');
document.querySelectorAll('#filters input').forEach(function (box) {
  box.addEventListener('change', function () {
    serial.forEach(function (line) {
      if (line.dataset.machine === box.dataset.machine) {
        line.hidden = !box.checked;
      }
    });
  });
  if (box.dataset.machine === hidden) {
    box.checked = false;
    box.dispatchEvent(new Event('change'));
  }
});
document.body.dataset.ready = 'yes';
";

/// The verdict a page shows.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Verdict {
    /// A step failed or an error was logged.
    Failed,
    /// The run's own closing line (`test script finished in …`) is there, in a
    /// complete log, and nothing failed.
    Passed,
    /// The log was cut short before anything failed.
    Incomplete,
    /// A complete log without a failure and without the closing line (the prompt,
    /// or a log not written by a run).
    Unknown,
}

impl Verdict {
    /// The word shown, also the CSS class.
    fn word(self) -> &'static str {
        match self {
            Verdict::Failed => "failed",
            Verdict::Passed => "passed",
            Verdict::Incomplete => "incomplete",
            Verdict::Unknown => "unknown",
        }
    }
}

/// Why `vmtest-min report` made no page.
#[derive(Debug)]
pub enum ReportError {
    /// The log cannot be read.
    Read {
        /// The log.
        log: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The file is not an XML log.
    NotALog {
        /// The file.
        log: PathBuf,
        /// Why not.
        why: String,
    },
    /// The page would replace the log it is made from.
    SameFile {
        /// The log.
        log: PathBuf,
    },
    /// The page cannot be written.
    Write {
        /// The page.
        html: PathBuf,
        /// Why.
        source: io::Error,
    },
}

impl fmt::Display for ReportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReportError::Read { log, source } => {
                write!(f, "cannot read log `{}`: {source}", log.display())
            }
            ReportError::NotALog { log, why } => {
                write!(f, "`{}` is not an XML log: {why}", log.display())
            }
            ReportError::SameFile { log } => write!(
                f,
                "the page would overwrite its log `{}`: name another with -o",
                log.display()
            ),
            ReportError::Write { html, source } => {
                write!(f, "cannot write page `{}`: {source}", html.display())
            }
        }
    }
}

impl std::error::Error for ReportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReportError::Read { source, .. } | ReportError::Write { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Renders `log`, read from the file named `title`; screenshots are looked for
/// under `base`, the log's directory.
fn render(log: &Log, title: &str, base: &Path) -> String {
    let nodes = &log.nodes;
    let failing = failing_chain(nodes);
    let errors = log_tree::lines(nodes)
        .into_iter()
        .filter(|e| e.error)
        .collect::<Vec<_>>();
    // A nest left open is a failure only in a log that ended: in one cut short,
    // the run was stopped inside it.
    let failed = !errors.is_empty()
        || has_failed_nest(nodes)
        || (!failing.is_empty() && log.ending == Ending::Complete);
    let verdict = match (failed, &log.ending) {
        (true, _) => Verdict::Failed,
        (false, Ending::Cut(_)) => Verdict::Incomplete,
        (false, Ending::Complete) if finished(nodes) => Verdict::Passed,
        (false, Ending::Complete) => Verdict::Unknown,
    };
    let mut out = String::from("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n");
    out.push_str("<meta charset=\"utf-8\"/>\n");
    let _ = writeln!(out, "<title>vmtest-min: {}</title>", xml_escape(title));
    let _ = writeln!(out, "<style>{STYLE}</style>\n</head>\n<body>");
    let verdict = verdict.word();
    let _ = writeln!(
        out,
        "<h1>{} <span class=\"verdict {verdict}\" id=\"verdict\">{verdict}</span></h1>",
        xml_escape(title)
    );
    if let Ending::Cut(why) = &log.ending {
        let _ = writeln!(
            out,
            "<p id=\"incomplete\">Incomplete log: {}; shown as far as it goes.</p>",
            xml_escape(why)
        );
    }
    if failed {
        out.push_str("<section id=\"failure\">\n");
        let step = failing
            .last()
            .map_or("the run", |nest| nest.head.text.as_str());
        let _ = writeln!(
            out,
            "<h2><a href=\"#failing-step\">Failed step</a>: {}</h2>",
            xml_escape(step)
        );
        if failing.len() > 1 {
            let chain: Vec<String> = failing.iter().map(|n| xml_escape(&n.head.text)).collect();
            let _ = writeln!(out, "<p class=\"path\">{}</p>", chain.join(" › "));
        }
        // The run's summary (logged outside every nest, with the script line and
        // what was seen), else the failing step's own error, else the first one.
        let top = nodes.iter().find_map(|node| match node {
            Node::Line(line) if line.error => Some(line),
            _ => None,
        });
        let inner = || {
            failing.last().and_then(|nest| {
                log_tree::lines(&nest.children)
                    .into_iter()
                    .find(|e| e.error)
            })
        };
        if let Some(error) = top.or_else(inner).or(errors.first().copied()) {
            let _ = writeln!(
                out,
                "<pre class=\"error\">{}</pre>",
                xml_escape(&error.text)
            );
        }
        out.push_str("</section>\n");
    }
    let machines = serial_machines(nodes);
    if !machines.is_empty() {
        out.push_str("<nav id=\"filters\">Serial lines:\n");
        for machine in machines {
            let machine = xml_escape(machine);
            let _ = writeln!(
                out,
                "<label><input type=\"checkbox\" checked=\"checked\" data-machine=\"{machine}\"/> {machine}</label>"
            );
        }
        out.push_str("</nav>\n");
    }
    out.push_str("<main id=\"log\">\n");
    for node in nodes {
        render_node(&mut out, node, base, failing.last().copied());
    }
    out.push_str("</main>\n");
    let _ = writeln!(out, "<script>//<![CDATA[{SCRIPT}//]]></script>");
    out.push_str("</body>\n</html>\n");
    out
}

/// Reads the log at `log` and writes the page to `html`; returns how the log
/// ended.
pub(crate) fn write(log: &Path, html: &Path) -> Result<Ending, ReportError> {
    let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if same(log, html) {
        return Err(ReportError::SameFile {
            log: log.to_path_buf(),
        });
    }
    let bytes = std::fs::read(log).map_err(|source| ReportError::Read {
        log: log.to_path_buf(),
        source,
    })?;
    let parsed = log_tree::parse(&bytes).map_err(|why| ReportError::NotALog {
        log: log.to_path_buf(),
        why: why.to_string(),
    })?;
    let title = log.file_name().map_or_else(
        || log.display().to_string(),
        |name| name.to_string_lossy().into_owned(),
    );
    let base = log
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::write(html, render(&parsed, &title, base)).map_err(|source| ReportError::Write {
        html: html.to_path_buf(),
        source,
    })?;
    Ok(parsed.ending)
}

/// Whether a nest under `nodes` closed with `(failed: …)`.
fn has_failed_nest(nodes: &[Node]) -> bool {
    nodes.iter().any(|node| match node {
        Node::Nest(nest) => {
            matches!(nest.outcome(), Outcome::Failed(_)) || has_failed_nest(&nest.children)
        }
        Node::Line(_) => false,
    })
}

/// Whether the run's closing line, logged outside every nest when the script
/// passed, is among `nodes`.
fn finished(nodes: &[Node]) -> bool {
    nodes.iter().any(|node| {
        matches!(node, Node::Line(line)
            if !line.serial && !line.error && line.text.starts_with(crate::run::PASSED_LINE))
    })
}

fn render_node(out: &mut String, node: &Node, base: &Path, failing: Option<&Nest>) {
    match node {
        Node::Line(line) if is_closing(line) => {}
        Node::Line(line) => {
            let mut class = String::from("line");
            if line.serial {
                class.push_str(" serial");
            }
            if line.error {
                class.push_str(" error");
            }
            let _ = write!(out, "<div class=\"{class}\"");
            if let Some(machine) = &line.machine {
                let _ = write!(out, " data-machine=\"{}\"", xml_escape(machine));
            }
            out.push('>');
            push_machine(out, line);
            let _ = writeln!(out, "{}</div>", xml_escape(&line.text));
        }
        Node::Nest(nest) => {
            let failed = nest.failed();
            let _ = write!(
                out,
                "<details class=\"nest{}\"",
                if failed { " failed" } else { "" }
            );
            if failing.is_some_and(|step| std::ptr::eq(step, nest)) {
                out.push_str(" id=\"failing-step\"");
            }
            if failed {
                out.push_str(" open=\"open\"");
            }
            out.push_str("><summary>");
            push_machine(out, &nest.head);
            out.push_str(&xml_escape(&nest.head.text));
            let time = match nest.outcome() {
                Outcome::Finished(s) => format!("{s:.2} s"),
                Outcome::Failed(s) => format!("failed after {s:.2} s"),
                Outcome::Unfinished => "did not finish".to_string(),
            };
            let _ = writeln!(out, "<span class=\"time\">{time}</span></summary>");
            if let Some(image) = &nest.head.image {
                push_image(out, base, image);
            }
            for child in &nest.children {
                render_node(out, child, base, failing);
            }
            out.push_str("</details>\n");
        }
    }
}

fn push_machine(out: &mut String, entry: &Entry) {
    if let Some(machine) = &entry.machine {
        let _ = write!(
            out,
            "<span class=\"machine\">{}</span>",
            xml_escape(machine)
        );
    }
}

/// The MIME type of a PNG or JPEG, told by its first bytes.
fn image_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("image/jpeg")
    } else {
        None
    }
}

/// The largest screenshot the page embeds, in bytes.
const MAX_IMAGE_BYTES: u64 = 16 << 20;

/// An `<img>` of the screenshot `image`, embedded; a line of text saying why when
/// it cannot be (the page never refers to a file outside itself).
fn push_image(out: &mut String, base: &Path, image: &str) {
    let alt = xml_escape(image);
    // Only what starts as an image is embedded: a log naming any other file under
    // its directory (a key, a config) must not copy it into the page.
    let read = read_image(base, image).and_then(|bytes| match image_type(&bytes) {
        Some(mime) => Ok((mime, bytes)),
        None => Err("it is not a PNG or JPEG image"),
    });
    match read {
        Ok((mime, bytes)) => {
            let _ = writeln!(
                out,
                "<img class=\"screen\" alt=\"{alt}\" src=\"data:{mime};base64,{}\"/>",
                crate::base64::encode(&bytes)
            );
        }
        Err(why) => {
            let _ = writeln!(
                out,
                "<p class=\"screen missing\">screenshot <code>{alt}</code> not shown: {why}</p>"
            );
        }
    }
}

/// The bytes of the screenshot `image`: a relative path of plain components (no
/// `..`, no root) naming a regular file of at most [`MAX_IMAGE_BYTES`] that lies,
/// symbolic links resolved, under `base` (the log's directory).
fn read_image(base: &Path, image: &str) -> Result<Vec<u8>, &'static str> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    use std::path::Component;
    let relative = Path::new(image);
    let plain = relative
        .components()
        .all(|part| matches!(part, Component::Normal(_)));
    if image.is_empty() || !plain {
        return Err("not a plain relative path");
    }
    let root = base
        .canonicalize()
        .map_err(|_| "the log's directory is unreadable")?;
    let path = root
        .join(relative)
        .canonicalize()
        .map_err(|_| "not found")?;
    if !path.starts_with(&root) {
        return Err("outside the log's directory");
    }
    // Non-blocking, so that a FIFO planted under the name cannot stall the report.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&path)
        .map_err(|_| "not readable")?;
    let metadata = file.metadata().map_err(|_| "not readable")?;
    if !metadata.is_file() {
        return Err("not a regular file");
    }
    if metadata.len() > MAX_IMAGE_BYTES {
        return Err("larger than 16 MiB");
    }
    let mut bytes = Vec::new();
    file.take(MAX_IMAGE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|_| "not readable")?;
    match bytes.len() as u64 > MAX_IMAGE_BYTES {
        true => Err("larger than 16 MiB"),
        false => Ok(bytes),
    }
}

/// Whether `line` is a nest's closing line, which the summary's time replaces.
fn is_closing(line: &Entry) -> bool {
    !line.serial
        && (line.text.starts_with("(finished: ") || line.text.starts_with("(failed: "))
        && line.text.ends_with(" seconds)")
}

/// The failed nests from the outermost down to the innermost failed step.
fn failing_chain(nodes: &[Node]) -> Vec<&Nest> {
    let mut chain = Vec::new();
    let mut level = nodes;
    while let Some(nest) = level.iter().find_map(|node| match node {
        Node::Nest(nest) if nest.failed() => Some(nest),
        _ => None,
    }) {
        chain.push(nest);
        level = &nest.children;
    }
    chain
}

/// The machines that printed serial lines, in order of first appearance.
fn serial_machines(nodes: &[Node]) -> Vec<&str> {
    let mut machines = Vec::new();
    for line in log_tree::lines(nodes) {
        if let (true, Some(machine)) = (line.serial, line.machine.as_deref())
            && !machines.contains(&machine)
        {
            machines.push(machine);
        }
    }
    machines
}
