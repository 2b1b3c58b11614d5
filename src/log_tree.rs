//! Reads an XML log (the NixOS format that [`crate::xml_log`] writes) back into a
//! tree of nests and lines, for the reports made from it: the JUnit file
//! ([`crate::junit`]) and the HTML page of `vmtest-min report`.
//!
//! A log cut short (the run was killed) is read up to the damage: what was read is
//! kept and every nest still open is closed, so a report of a broken run still
//! shows how far it got.

use std::path::Path;
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

/// Reads the log at `path`.
pub(crate) fn read(path: &Path) -> std::io::Result<Vec<Node>> {
    Ok(parse(&std::fs::read(path)?))
}

/// Reads a log from its text; stops quietly at the first damage.
pub(crate) fn parse(xml: &[u8]) -> Vec<Node> {
    // The root's children at the bottom, the open nests above it.
    let mut stack: Vec<Nest> = vec![Nest::default()];
    let mut entry: Option<Entry> = None;
    for event in EventReader::new(xml) {
        let Ok(event) = event else { break };
        match event {
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
                _ => {}
            },
            _ => {}
        }
    }
    while stack.len() > 1 {
        close(&mut stack);
    }
    stack.pop().map(|root| root.children).unwrap_or_default()
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
        let nodes = parse(
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
        );
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
}
