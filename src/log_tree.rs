//! Reads an XML log (the NixOS format that [`crate::xml_log`] writes) back into a
//! tree of nests and lines, for the reports made from it: the JUnit file
//! ([`crate::junit`]) and the HTML page of `vmtest-min report`.
//!
//! A log cut short (the run was killed) is read up to the damage: what was read is
//! kept and every nest still open is closed, so a report of a broken run still
//! shows how far it got.

use xml::reader::{EventReader, XmlEvent};

/// A `<line>` or the `<head>` of a nest.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Entry {
    /// `machine="…"`.
    pub(crate) machine: Option<String>,
    /// `type="serial"`: a line the guest printed on its console.
    pub(crate) serial: bool,
    /// `error="1"`: the line reports a failure.
    pub(crate) error: bool,
    /// `image="…"`: a screenshot file, relative to the log's directory.
    pub(crate) image: Option<String>,
    /// The text.
    pub(crate) text: String,
}

/// A step of the log and what happened inside it.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Nest {
    /// Its header.
    pub(crate) head: Entry,
    /// Its lines and inner nests, in order.
    pub(crate) children: Vec<Node>,
}

/// One element of a log: a line or a nest.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    /// `<line>`.
    Line(Entry),
    /// `<nest>`.
    Nest(Nest),
}

/// How a nest ended, from its closing line `(finished: …, in X seconds)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Outcome {
    /// It finished, in this many seconds.
    Finished(f64),
    /// It failed, after this many seconds.
    Failed(f64),
    /// No closing line: the run stopped inside it.
    Unfinished,
}

impl Nest {
    /// How the nest ended.
    pub(crate) fn outcome(&self) -> Outcome {
        let closing = self.children.iter().rev().find_map(|node| match node {
            Node::Line(line) if !line.serial => Some(line.text.as_str()),
            _ => None,
        });
        let Some(text) = closing else {
            return Outcome::Unfinished;
        };
        let seconds = || {
            text.rsplit_once(", in ")
                .and_then(|(_, rest)| rest.strip_suffix(" seconds)"))
                .and_then(|number| number.parse::<f64>().ok())
        };
        match (
            text.starts_with("(finished: "),
            text.starts_with("(failed: "),
        ) {
            (true, _) => seconds().map_or(Outcome::Unfinished, Outcome::Finished),
            (_, true) => seconds().map_or(Outcome::Unfinished, Outcome::Failed),
            _ => Outcome::Unfinished,
        }
    }

    /// Whether the nest failed or never finished.
    pub(crate) fn failed(&self) -> bool {
        !matches!(self.outcome(), Outcome::Finished(_))
    }

    /// The subtest's title, if the nest is a subtest.
    pub(crate) fn subtest(&self) -> Option<&str> {
        self.head.text.strip_prefix("subtest: ")
    }
}

/// How deep nests may go; a log nested deeper is read down to this depth and
/// counts as cut short (the reports walk the tree recursively).
pub(crate) const MAX_DEPTH: usize = 200;

/// A log read back.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Log {
    /// Its lines and nests, in order.
    pub(crate) nodes: Vec<Node>,
    /// Whether the document ended as a log ends.
    pub(crate) ending: Ending,
}

/// How the document of a log ended.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Ending {
    /// `</logfile>` closed it, with nothing wrong before.
    Complete,
    /// It stopped early (the run was killed) or was damaged: why.
    Cut(String),
}

/// Why a document is not a log at all.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NotALog(pub(crate) String);

impl std::fmt::Display for NotALog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Reads a log from its text: its root must be `<logfile>`. Damage after the root
/// started ends the reading there, with what was read kept and the reason in
/// [`Log::ending`].
pub(crate) fn parse(xml: &[u8]) -> Result<Log, NotALog> {
    // The root's children at the bottom, the open nests above it.
    let mut stack: Vec<Nest> = vec![Nest::default()];
    let mut entry: Option<Entry> = None;
    let mut root = false;
    let mut ending = Ending::Cut("the log ends before `</logfile>`".to_string());
    for event in EventReader::new(xml) {
        let event = match event {
            Ok(event) => event,
            Err(error) if root => {
                ending = Ending::Cut(format!("damaged: {error}"));
                break;
            }
            Err(error) => return Err(NotALog(format!("not XML: {error}"))),
        };
        match event {
            XmlEvent::StartElement { name, .. } if !root => match name.local_name.as_str() {
                "logfile" => root = true,
                other => {
                    return Err(NotALog(format!(
                        "its root element is `<{other}>`, not `<logfile>`"
                    )));
                }
            },
            XmlEvent::StartElement {
                name, attributes, ..
            } => {
                let attr = |key: &str| {
                    attributes
                        .iter()
                        .find(|a| a.name.local_name == key)
                        .map(|a| a.value.clone())
                };
                match name.local_name.as_str() {
                    "nest" if stack.len() > MAX_DEPTH => {
                        ending = Ending::Cut(format!("nested deeper than {MAX_DEPTH} steps"));
                        break;
                    }
                    "nest" => stack.push(Nest::default()),
                    "line" | "head" => {
                        entry = Some(Entry {
                            machine: attr("machine"),
                            serial: attr("type").is_some_and(|t| t == "serial"),
                            error: attr("error").is_some_and(|e| e == "1"),
                            image: attr("image"),
                            text: String::new(),
                        });
                    }
                    _ => {}
                }
            }
            XmlEvent::Characters(text) | XmlEvent::CData(text) => {
                if let Some(entry) = entry.as_mut() {
                    entry.text.push_str(&text);
                }
            }
            XmlEvent::EndElement { name } => match name.local_name.as_str() {
                "line" => {
                    if let (Some(line), Some(nest)) = (entry.take(), stack.last_mut()) {
                        nest.children.push(Node::Line(line));
                    }
                }
                "head" => {
                    if let (Some(head), Some(nest)) = (entry.take(), stack.last_mut()) {
                        nest.head = head;
                    }
                }
                "nest" => close(&mut stack),
                "logfile" if stack.len() == 1 => ending = Ending::Complete,
                _ => {}
            },
            _ => {}
        }
    }
    if !root {
        return Err(NotALog("it has no `<logfile>` element".to_string()));
    }
    while stack.len() > 1 {
        close(&mut stack);
    }
    let nodes = stack.pop().map(|root| root.children).unwrap_or_default();
    Ok(Log { nodes, ending })
}

/// Moves the innermost open nest into its parent.
fn close(stack: &mut Vec<Nest>) {
    if stack.len() > 1
        && let Some(nest) = stack.pop()
        && let Some(parent) = stack.last_mut()
    {
        parent.children.push(Node::Nest(nest));
    }
}

/// Every line under `nodes`, nests included, in order.
pub(crate) fn lines(nodes: &[Node]) -> Vec<&Entry> {
    let mut out = Vec::new();
    for node in nodes {
        match node {
            Node::Line(line) => out.push(line),
            Node::Nest(nest) => out.extend(lines(&nest.children)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_nests_lines_and_outcomes() {
        let log = parse(
            br#"<?xml version="1.0" encoding="utf-8"?>
<logfile>
<line>start</line>
<nest><head machine="m" image="s.png">subtest: a &amp; b</head>
<line machine="m" type="serial">boot</line>
<line error="1">bad</line>
<line>(failed: subtest: a &amp; b, in 1.50 seconds)</line>
</nest>
<nest><head>cut short</head>
<line>half"#,
        )
        .unwrap();
        assert!(matches!(log.ending, Ending::Cut(_)), "{log:?}");
        let nodes = log.nodes;
        assert_eq!(nodes.len(), 3);
        let Node::Nest(subtest) = &nodes[1] else {
            panic!("{nodes:?}")
        };
        assert_eq!(subtest.subtest(), Some("a & b"));
        assert_eq!(subtest.head.image.as_deref(), Some("s.png"));
        assert_eq!(subtest.outcome(), Outcome::Failed(1.5));
        let all = lines(&subtest.children);
        assert!(all[0].serial && all[1].error);
        let Node::Nest(cut) = &nodes[2] else {
            panic!("{nodes:?}")
        };
        assert_eq!(cut.outcome(), Outcome::Unfinished);
        assert!(cut.failed());
    }

    #[test]
    fn only_a_logfile_is_a_log_and_only_its_end_completes_it() {
        for text in ["", "junk", "<testsuites/>", "<!DOCTYPE x><x/>"] {
            assert!(parse(text.as_bytes()).is_err(), "{text:?}");
        }
        let whole = parse(b"<logfile><line>a</line></logfile>").unwrap();
        assert_eq!(whole.ending, Ending::Complete);
        let cut = parse(b"<logfile><nest><head>a</head></nest>").unwrap();
        assert!(matches!(cut.ending, Ending::Cut(_)));
        let damaged = parse(b"<logfile><line>a</line><line>").unwrap();
        assert!(matches!(damaged.ending, Ending::Cut(_)));
    }

    #[test]
    fn a_log_nested_past_the_cap_is_read_to_the_cap() {
        let n = 100_000;
        let xml = format!(
            "<logfile>{}{}</logfile>",
            "<nest><head>x</head>".repeat(n),
            "</nest>".repeat(n)
        );
        let log = parse(xml.as_bytes()).unwrap();
        assert!(matches!(log.ending, Ending::Cut(ref why) if why.contains("deeper")));
        let mut depth = 0;
        let mut level = &log.nodes;
        while let Some(Node::Nest(nest)) = level.first() {
            depth += 1;
            level = &nest.children;
        }
        assert_eq!(depth, MAX_DEPTH);
        assert!(lines(&log.nodes).is_empty());
    }
}
