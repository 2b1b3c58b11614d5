//! Properties of the input-facing parts, checked on arbitrary bytes: the entry
//! points of the fuzz targets in `fuzz/`, and of the regression test that replays
//! the corpus kept there (so a plain `cargo test` needs no nightly toolchain).
//!
//! Each function panics when a property fails; a return means the input passed.
//! The properties go beyond "no crash":
//! - scripts: every diagnostic's span lies inside the input, on character
//!   boundaries, with the line and column its offset has; rendering never fails;
//!   a Python script the checker accepts converts to `.cmds` the checker accepts;
//! - JSON: what the reader accepts holds no more nesting than it allows, and an
//!   error's line and column lie inside the input;
//! - the guest's answers: an answer called whole is exactly the announced bytes,
//!   followed by the trailer, after the header line;
//! - the monitor: reading a greeting and an answer ends, whatever QEMU sends;
//! - the XML log: whatever text is logged, the file parses and gives that text back
//!   (less the characters XML cannot hold).

use crate::cancel::Deadline;
use crate::json::{self, Json};
use crate::monitor::Monitor;
use crate::script::ast::Script;
use crate::script::check::{CheckContext, Checker};
use crate::script::diag::Diagnostic;
use crate::script::span::Span;
use crate::script::{parser, python};
use crate::shell::answer::Reader;
use crate::xml_log::{Attrs, XmlLog};
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

/// The machines scripts are checked against.
const MACHINES: [&str; 3] = ["machine", "server", "client"];
/// How long a socket property may take; input ends with end-of-file long before.
const SOCKET_TIMEOUT: Duration = Duration::from_secs(10);

/// Both front-ends on `data`, with the span, rendering and conversion properties.
pub fn script(data: &[u8]) {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let machines: Vec<String> = MACHINES.iter().map(|m| m.to_string()).collect();
    let signatures = crate::methods::signatures();
    let ctx = CheckContext {
        machines: &machines,
        signatures: &signatures,
    };
    let check = |script: &Script| Checker::new(&ctx).check(script);
    let cmds = parser::parse(src).map(|script| check(&script));
    assert_diagnostics(src, &cmds);
    let python = python::parse(src).map(|parsed| check(&parsed.script));
    assert_diagnostics(src, &python);
    if matches!(&python, Ok(problems) if problems.is_empty()) {
        let converted = python::convert(src).expect("an accepted script converts");
        let again = parser::parse(&converted).map(|script| check(&script));
        assert!(
            matches!(&again, Ok(problems) if problems.is_empty()),
            "the conversion of an accepted Python script is refused:\n{converted}\n{again:?}"
        );
    }
}

/// Checks the spans and rendering of what parsing and checking `src` gave.
fn assert_diagnostics(src: &str, outcome: &Result<Vec<Diagnostic>, Diagnostic>) {
    let found: Vec<&Diagnostic> = match outcome {
        Ok(problems) => problems.iter().collect(),
        Err(problem) => vec![problem],
    };
    for diagnostic in found {
        assert_span(src, diagnostic.span);
        let _ = diagnostic.render("fuzz", src, false);
        let _ = diagnostic.render("fuzz", src, true);
    }
}

/// A span lies inside `src`, on character boundaries, where its line and column say.
fn assert_span(src: &str, span: Span) {
    let end = span.offset + span.len;
    assert!(end <= src.len(), "span {span:?} past the input's end");
    assert!(src.is_char_boundary(span.offset) && src.is_char_boundary(end));
    let before = &src[..span.offset];
    let line = before.matches('\n').count();
    let column = before[before.rfind('\n').map_or(0, |at| at + 1)..]
        .chars()
        .count();
    assert_eq!((span.line, span.column), (line, column), "span {span:?}");
}

/// The JSON reader on `data`.
pub fn json(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match json::parse(text) {
        Ok(value) => {
            assert!(depth(&value) <= json::MAX_DEPTH);
            // What the writer writes reads back the same (NaN aside: it equals
            // nothing, itself included).
            let again = json::parse(&json::to_json(&value)).expect("written JSON reads back");
            assert!(again == value || json::to_json(&again) == json::to_json(&value));
        }
        Err(error) => {
            let lines = text.split('\n').count();
            assert!(error.line >= 1 && error.line <= lines, "{error}");
            let line = text.split('\n').nth(error.line - 1).unwrap_or("");
            assert!(error.column >= 1 && error.column <= line.chars().count() + 1);
        }
    }
}

/// How deeply `value` nests.
fn depth(value: &Json) -> usize {
    match value {
        Json::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Json::Object(members) => 1 + members.iter().map(|(_, v)| depth(v)).max().unwrap_or(0),
        _ => 0,
    }
}

/// `data` as the console stream of a shell, read as the answer to tag `T7`.
pub fn answer(data: &[u8]) {
    const TAG: &str = "T7";
    let (ours, writer) = feed(data);
    let started = Instant::now();
    let expect = |words: &[String]| match words {
        [_, length, ..] => length.parse::<u64>().ok().filter(|&n| n <= 65536),
        _ => None,
    };
    let deadline = Deadline::after(SOCKET_TIMEOUT);
    let result = Reader::new().answer(&ours, TAG, &expect, true, deadline, &mut || Ok(()));
    assert_prompt(started);
    drop(ours);
    writer.join().expect("the writer ends");
    let Ok(answer) = result else {
        return;
    };
    if answer.whole {
        let body = [answer.data.as_slice(), format!("{TAG} end\n").as_bytes()].concat();
        assert!(
            follows_header(data, &body, TAG, &answer.header),
            "a whole answer that the input does not hold after its header line"
        );
        let announced = expect(&answer.header).unwrap_or(0);
        assert_eq!(answer.data.len() as u64, announced);
    }
}

/// Whether `body` stands in `data` right after a line holding `TAG ` and then
/// the words `header`.
fn follows_header(data: &[u8], body: &[u8], tag: &str, header: &[String]) -> bool {
    (0..data.len()).any(|at| {
        if !data[at..].starts_with(body) || at == 0 || data[at - 1] != b'\n' {
            return false;
        }
        let line_start = data[..at - 1]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1);
        let line = String::from_utf8_lossy(&data[line_start..at - 1]);
        line.find(&format!("{tag} ")).is_some_and(|tag_at| {
            let words: Vec<&str> = line[tag_at + tag.len() + 1..].split_whitespace().collect();
            words == header.iter().map(String::as_str).collect::<Vec<_>>()
        })
    })
}

/// Writes `data` into one end of a socket pair from a thread, then end-of-file,
/// keeping that end open (probes are written to it) until the reader hangs up.
fn feed(data: &[u8]) -> (UnixStream, std::thread::JoinHandle<()>) {
    let (ours, mut theirs) = UnixStream::pair().expect("a socket pair");
    let input = data.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = theirs.write_all(&input);
        let _ = theirs.shutdown(std::net::Shutdown::Write);
        let _ = std::io::Read::read_to_end(&mut theirs, &mut Vec::new());
    });
    (ours, writer)
}

/// Reading input that ends must end with it, not at the deadline.
fn assert_prompt(started: Instant) {
    assert!(
        started.elapsed() < SOCKET_TIMEOUT / 2,
        "reading ended only at the deadline"
    );
}

/// `data` as everything QEMU's monitor sends: the greeting, then one answer.
pub fn monitor(data: &[u8]) {
    let (ours, writer) = feed(data);
    let started = Instant::now();
    let deadline = Deadline::after(SOCKET_TIMEOUT);
    let watch = &mut || Ok(());
    if let Ok(mut monitor) = Monitor::connect(ours, deadline, watch) {
        let _ = monitor.command("info status", deadline, watch);
    }
    assert_prompt(started);
    writer.join().expect("the writer ends");
}

/// An element read back: its name, attributes and text.
type Element = (String, Vec<(String, String)>, String);

/// `data` logged as heads and lines (NUL bytes split it into pieces; every third
/// piece closes a nest instead), then the file parsed back: every head and line
/// holds exactly its piece, in its text and its attributes, less the characters
/// XML cannot hold.
pub fn xml(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("log.xml");
    let mut log = XmlLog::create_all(std::slice::from_ref(&path)).expect("the log is created");
    let pieces: Vec<&str> = text.split('\0').collect();
    let mut expected = Vec::new();
    for (index, piece) in pieces.iter().enumerate() {
        let head = index % 3 == 0;
        let attrs = Attrs {
            machine: Some(piece),
            kind: Some("serial"),
            error: index % 2 == 1,
            image: head.then_some(*piece),
        };
        let kept: String = piece
            .chars()
            .filter(|&c| crate::sanitize::is_xml_char(c))
            .collect();
        match index % 3 {
            0 => log.open_nest(attrs, piece),
            1 => log.line(attrs, piece),
            _ => {
                log.close_nest();
                continue;
            }
        }
        expected.push((if head { "head" } else { "line" }, kept));
    }
    log.close();
    let file = std::fs::File::open(&path).expect("the log exists");
    let mut found: Vec<Element> = Vec::new();
    let mut open: Option<Element> = None;
    for event in xml::reader::EventReader::new(std::io::BufReader::new(file)) {
        match event.expect("the log parses") {
            xml::reader::XmlEvent::StartElement {
                name, attributes, ..
            } if name.local_name == "head" || name.local_name == "line" => {
                let attributes = attributes
                    .into_iter()
                    .map(|a| (a.name.local_name, a.value))
                    .collect();
                open = Some((name.local_name, attributes, String::new()));
            }
            xml::reader::XmlEvent::Characters(text) | xml::reader::XmlEvent::Whitespace(text) => {
                if let Some((_, _, body)) = open.as_mut() {
                    body.push_str(&text);
                }
            }
            xml::reader::XmlEvent::EndElement { .. } => found.extend(open.take()),
            _ => {}
        }
    }
    assert_eq!(found.len(), expected.len(), "elements lost or added");
    for ((name, attributes, body), (want_name, kept)) in found.iter().zip(&expected) {
        assert_eq!(name, want_name);
        assert_eq!(body, kept, "the text of a {name}");
        let attribute = |key: &str| attributes.iter().find(|(k, _)| k == key).map(|(_, v)| v);
        assert_eq!(attribute("machine"), Some(kept), "the machine of a {name}");
        if name == "head" {
            assert_eq!(attribute("image"), Some(kept), "the image of a head");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// A target's property check.
    type Property = fn(&[u8]);

    /// Every input kept in `fuzz/corpus/TARGET/` passes its target's properties:
    /// the fuzzers' findings stay fixed without a nightly toolchain.
    #[test]
    fn the_kept_corpus_passes() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
        let targets: [(&str, Property); 5] = [
            ("script", super::script),
            ("json", super::json),
            ("answer", super::answer),
            ("monitor", super::monitor),
            ("xml", super::xml),
        ];
        for (target, check) in targets {
            let dir = root.join(target);
            let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{dir:?}: {e}"));
            let mut count = 0;
            for entry in entries {
                let path = entry.expect("a corpus entry").path();
                check(&std::fs::read(&path).expect("a corpus file"));
                count += 1;
            }
            assert!(count > 0, "no corpus for {target}");
        }
    }
}
