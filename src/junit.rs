//! The JUnit XML report (`--junit-xml`), made from the run's XML log when the run
//! ends.
//!
//! One `<testcase>` per subtest, named by its title, and one named `main` for the
//! script outside subtests (its time is the whole run's), as the NixOS driver's
//! report has. A failed case carries `<failure>` when the test failed and `<error>`
//! when the environment failed (QEMU died, the global timeout ran out, a signal
//! stopped the run), with the error's first line as `message` and its full text
//! as the body; every case carries the last console lines of each machine seen in
//! it as `<system-out>`. A failure inside a subtest counts against that subtest
//! only; `main` fails when the run failed outside every subtest.
//!
//! Building it from the log (instead of from a second set of hooks in the
//! interpreter) keeps one record of the run; with no log kept, `run.rs` writes one
//! to a temporary file for this.

use crate::exit::Status;
use crate::log_tree::{self, Entry, Nest, Node, Outcome};
use crate::sanitize::{xml_attr_escape, xml_escape};
use std::fmt::Write;

/// How many console lines of each machine a case keeps.
const CONSOLE_TAIL: usize = 20;

/// One `<testcase>`.
struct Case<'a> {
    name: String,
    seconds: f64,
    /// The error lines that explain a failure; `None` when the case passed.
    failure: Option<Vec<&'a Entry>>,
    serial: Vec<&'a Entry>,
}

/// When and where a suite ran, for `<testsuite timestamp="…" hostname="…">`
/// (the attributes the Ant JUnit schema requires).
pub(crate) struct Origin {
    /// The start, UTC, as `YYYY-MM-DDThh:mm:ss`.
    pub(crate) timestamp: String,
    /// The host's name.
    pub(crate) hostname: String,
}

impl Origin {
    /// A run on this host that started `seconds` ago.
    fn here(seconds: f64) -> Origin {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |since| since.as_secs_f64());
        let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|name| name.trim().to_string())
            .ok()
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| "localhost".to_string());
        Origin {
            timestamp: utc_timestamp((now - seconds).max(0.0) as u64),
            hostname,
        }
    }
}

/// `unix` seconds since the epoch as `YYYY-MM-DDThh:mm:ss`, UTC (the civil date
/// from a day count, proleptic Gregorian calendar).
fn utc_timestamp(unix: u64) -> String {
    let (days, second) = (unix / 86_400, unix % 86_400);
    // Days since 0000-03-01, in 400-year eras of 146097 days.
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        second / 3600,
        second / 60 % 60,
        second % 60
    )
}

/// The JUnit document for a run whose log is `nodes`, whose script is `suite`, that
/// took `seconds`, ended with `status` and ran as `origin` says.
pub(crate) fn render(
    nodes: &[Node],
    suite: &str,
    seconds: f64,
    status: Status,
    origin: &Origin,
) -> String {
    let mut cases = Vec::new();
    let mut outside = Vec::new();
    collect(nodes, &mut cases, &mut outside);
    let outside_errors: Vec<&Entry> = outside.iter().copied().filter(|e| e.error).collect();
    // The run's failure summary (source line, output, console) is logged outside
    // every subtest: it belongs to the subtest that failed last.
    let failed_subtest = cases
        .iter_mut()
        .rev()
        .find_map(|case| case.failure.as_mut());
    let subtest_failed = failed_subtest.is_some();
    if let Some(failure) = failed_subtest {
        failure.extend(outside_errors.iter().copied());
    }
    let main_failed = status != Status::Passed && !subtest_failed;
    cases.push(Case {
        name: "main".to_string(),
        seconds,
        failure: main_failed.then_some(outside_errors),
        serial: outside.iter().copied().filter(|e| e.serial).collect(),
    });
    let element = match status {
        Status::Environment | Status::GlobalTimeout | Status::Signal(_) => "error",
        _ => "failure",
    };
    let failed = cases.iter().filter(|case| case.failure.is_some()).count();
    let (failures, errors) = match element {
        "error" => (0, failed),
        _ => (failed, 0),
    };
    let totals = format!(
        "tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{seconds:.3}\"",
        cases.len()
    );
    let suite = xml_attr_escape(suite);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    let _ = writeln!(out, "<testsuites name=\"vmtest-min\" {totals}>");
    let _ = writeln!(
        out,
        "  <testsuite name=\"{suite}\" {totals} skipped=\"0\" timestamp=\"{}\" hostname=\"{}\">",
        origin.timestamp,
        xml_attr_escape(&origin.hostname)
    );
    for case in &cases {
        let _ = write!(
            out,
            "    <testcase name=\"{}\" classname=\"{suite}\" time=\"{:.3}\"",
            xml_attr_escape(&case.name),
            case.seconds
        );
        if case.failure.is_none() && case.serial.is_empty() {
            out.push_str("/>\n");
            continue;
        }
        out.push_str(">\n");
        if let Some(errors) = &case.failure {
            let text = match errors.is_empty() {
                true => format!("{} (exit status {})", stop_reason(status), status.code()),
                false => errors
                    .iter()
                    .map(|e| e.text.as_str())
                    .collect::<Vec<_>>()
                    .join("\n"),
            };
            let message = text.lines().next().unwrap_or_default();
            let _ = writeln!(
                out,
                "      <{element} message=\"{}\">{}</{element}>",
                xml_attr_escape(message),
                xml_escape(&text)
            );
        }
        if !case.serial.is_empty() {
            let _ = writeln!(
                out,
                "      <system-out>{}</system-out>",
                xml_escape(&console_tail(&case.serial))
            );
        }
        out.push_str("    </testcase>\n");
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

/// The suite's name (also each case's `classname`) for the script at `script`:
/// its file name without a leading Nix store hash (`/nix/store/<hash>-test-script`
/// is `test-script`), so that it stays the same from build to build;
/// `interactive` for the prompt.
pub(crate) fn suite_name(script: Option<&std::path::Path>) -> String {
    let Some(name) = script.and_then(|path| path.file_name()) else {
        return "interactive".to_string();
    };
    let name = name.to_string_lossy();
    let hashed = name.len() > 33
        && name.as_bytes()[32] == b'-'
        && name.as_bytes()[..32]
            .iter()
            .all(|&b| b.is_ascii_digit() || (b.is_ascii_lowercase() && !b"eotu".contains(&b)));
    match hashed {
        true => name[33..].to_string(),
        false => name.into_owned(),
    }
}

/// Reads the log at `log` and writes the report to `path`, whole or not at all:
/// into a new file beside it, renamed over it when complete.
pub(crate) fn write(
    log: &std::path::Path,
    path: &std::path::Path,
    suite: &str,
    seconds: f64,
    status: Status,
) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::PermissionsExt;
    let parsed = log_tree::parse(&std::fs::read(log)?)
        .map_err(|why| std::io::Error::new(std::io::ErrorKind::InvalidData, why.to_string()))?;
    let dir = path
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let mut file = tempfile::Builder::new()
        .prefix(".vmtest-min-junit.")
        .tempfile_in(dir)?;
    let origin = Origin::here(seconds);
    file.write_all(render(&parsed.nodes, suite, seconds, status, &origin).as_bytes())?;
    file.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    file.persist(path).map_err(|error| error.error)?;
    Ok(())
}

/// Adds a case for each subtest under `nodes` (nested ones too) to `cases`, and the
/// lines outside every subtest to `outside`.
fn collect<'a>(nodes: &'a [Node], cases: &mut Vec<Case<'a>>, outside: &mut Vec<&'a Entry>) {
    for node in nodes {
        match node {
            Node::Line(line) => outside.push(line),
            Node::Nest(nest) => match nest.subtest() {
                Some(title) => {
                    cases.push(case(nest, title));
                    let mut inner = Vec::new();
                    collect(&nest.children, cases, &mut inner);
                }
                None => collect(&nest.children, cases, outside),
            },
        }
    }
}

fn case<'a>(nest: &'a Nest, title: &str) -> Case<'a> {
    let lines = log_tree::lines(&nest.children);
    let seconds = match nest.outcome() {
        Outcome::Finished(s) | Outcome::Failed(s) => s,
        Outcome::Unfinished => 0.0,
    };
    Case {
        name: title.to_string(),
        seconds,
        failure: nest
            .failed()
            .then(|| lines.iter().copied().filter(|e| e.error).collect()),
        serial: lines.into_iter().filter(|e| e.serial).collect(),
    }
}

/// The last [`CONSOLE_TAIL`] lines of each machine, machine by machine, as
/// `name # line`.
fn console_tail(serial: &[&Entry]) -> String {
    let mut machines: Vec<&str> = Vec::new();
    for line in serial {
        let name = line.machine.as_deref().unwrap_or("?");
        if !machines.contains(&name) {
            machines.push(name);
        }
    }
    let mut out = Vec::new();
    for machine in machines {
        let mine: Vec<_> = serial
            .iter()
            .filter(|e| e.machine.as_deref().unwrap_or("?") == machine)
            .collect();
        let skip = mine.len().saturating_sub(CONSOLE_TAIL);
        out.extend(
            mine[skip..]
                .iter()
                .map(|e| format!("{machine} # {}", e.text)),
        );
    }
    out.join("\n")
}

fn stop_reason(status: Status) -> &'static str {
    match status {
        Status::GlobalTimeout => "the global timeout ran out",
        Status::Signal(_) => "stopped by a signal",
        Status::Environment => "the environment failed",
        _ => "the test failed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_utc_civil_dates() {
        let cases = [
            (0, "1970-01-01T00:00:00"),
            (951_782_400, "2000-02-29T00:00:00"),
            (1_764_647_400, "2025-12-02T03:50:00"),
            (4_102_444_799, "2099-12-31T23:59:59"),
        ];
        for (unix, text) in cases {
            assert_eq!(utc_timestamp(unix), text);
        }
    }

    #[test]
    fn the_suite_is_named_without_the_store_hash() {
        let name = |path: &str| suite_name(Some(std::path::Path::new(path)));
        assert_eq!(
            name("/nix/store/0c9gr4ksxy8hp0bn1yrf2ajmvz1wdi5z-test-script"),
            "test-script"
        );
        assert_eq!(name("/tmp/t.cmds"), "t.cmds");
        // Not a store hash: an `e` is outside Nix's base-32 alphabet.
        let plain = "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee-test";
        assert_eq!(name(plain), plain);
        assert_eq!(suite_name(None), "interactive");
    }

    #[test]
    fn a_failing_subtest_is_a_failure_with_its_console() {
        let nodes = log_tree::parse(
            br#"<logfile>
<nest><head>subtest: ok</head><line>(finished: subtest: ok, in 0.25 seconds)</line></nest>
<nest><head>subtest: bad</head>
<line machine="m" type="serial">console 1</line>
<line error="1">subtest "bad" failed: m: command `x` failed
output: y</line>
<line>(failed: subtest: bad, in 2.00 seconds)</line></nest>
<line error="1">error: summary</line>
</logfile>"#,
        )
        .unwrap()
        .nodes;
        let origin = Origin {
            timestamp: utc_timestamp(1_764_647_400),
            hostname: "h&h".to_string(),
        };
        let xml = render(&nodes, "t.cmds", 3.0, Status::TestFailed, &origin);
        assert!(
            xml.contains("timestamp=\"2025-12-02T03:50:00\" hostname=\"h&amp;h\">"),
            "{xml}"
        );
        assert!(
            xml.contains("tests=\"3\" failures=\"1\" errors=\"0\""),
            "{xml}"
        );
        assert!(xml.contains("<testcase name=\"ok\" classname=\"t.cmds\" time=\"0.250\"/>"));
        assert!(xml.contains(
            "<failure message=\"subtest &quot;bad&quot; failed: m: command `x` failed\">"
        ));
        assert!(xml.contains("<system-out>m # console 1</system-out>"));
        assert!(xml.contains("output: y\nerror: summary</failure>"), "{xml}");
        assert!(xml.contains("<testcase name=\"main\" classname=\"t.cmds\" time=\"3.000\"/>"));
        let timeout = render(&nodes[..1], "t.cmds", 3.0, Status::GlobalTimeout, &origin);
        assert!(timeout.contains("failures=\"0\" errors=\"1\""), "{timeout}");
        assert!(timeout.contains("<error message=\"the global timeout ran out (exit status 4)\">"));
    }
}
