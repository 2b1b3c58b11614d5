//! `vmtest-min report LOG.xml`: the HTML page of a fake-VM run's log, read back
//! with xml-rs, and rendered by headless Chromium when it is installed.

use crate::support::{HARD_LIMIT, Test};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A 24×24 red PNG, standing in for a screenshot.
const PNG: [u8; 88] = [
    137, 80, 78, 71, 13, 10, 26, 10, 0, 0, 0, 13, 73, 72, 68, 82, 0, 0, 0, 24, 0, 0, 0, 24, 8, 2,
    0, 0, 0, 111, 21, 170, 175, 0, 0, 0, 31, 73, 68, 65, 84, 120, 218, 99, 56, 33, 39, 71, 21, 196,
    48, 106, 208, 168, 65, 163, 6, 141, 26, 52, 106, 208, 168, 65, 3, 111, 16, 0, 198, 181, 73, 31,
    44, 62, 118, 6, 0, 0, 0, 0, 73, 69, 78, 68, 174, 66, 96, 130,
];

/// An element of the page: name, attributes, text directly inside it, and the
/// names of the elements it sits in.
#[derive(Debug)]
pub(crate) struct Element {
    pub(crate) name: String,
    attrs: Vec<(String, String)>,
    pub(crate) text: String,
    parents: Vec<String>,
}

impl Element {
    pub(crate) fn attr(&self, key: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn has_class(&self, class: &str) -> bool {
        self.attr("class")
            .is_some_and(|c| c.split(' ').any(|x| x == class))
    }
}

/// Parses the page with xml-rs (it is written as well-formed XML).
#[track_caller]
pub(crate) fn elements(html: &str) -> Vec<Element> {
    use xml::reader::{EventReader, XmlEvent};
    let mut out: Vec<Element> = Vec::new();
    let mut open: Vec<usize> = Vec::new();
    for event in EventReader::new(html.as_bytes()) {
        match event.unwrap_or_else(|e| panic!("page is not well-formed: {e}")) {
            XmlEvent::StartElement {
                name, attributes, ..
            } => {
                let parents = open.iter().map(|&i| out[i].name.clone()).collect();
                open.push(out.len());
                out.push(Element {
                    name: name.local_name,
                    attrs: attributes
                        .into_iter()
                        .map(|a| (a.name.local_name, a.value))
                        .collect(),
                    text: String::new(),
                    parents,
                });
            }
            XmlEvent::Characters(text) | XmlEvent::CData(text) => {
                if let Some(&i) = open.last() {
                    out[i].text.push_str(&text);
                }
            }
            XmlEvent::EndElement { .. } => {
                open.pop();
            }
            _ => {}
        }
    }
    out
}

/// A fake-VM run with a passing and a failing subtest, its log given a screenshot
/// on the passing subtest's head (as the screenshot method logs it), and its page.
fn failing_run_report() -> (Test, PathBuf) {
    let test = Test::new();
    let out = Test::new()
        .fake("machine", &[])
        .script(
            r#"
subtest "passing" {
    machine.succeed "echo hi"
}
subtest "failing" {
    machine.succeed "echo partial; exit 3"
}
"#,
        )
        .run();
    out.code(1);
    let log = test.dir().join("log.xml");
    let text = out.xml.replace(
        "<head>subtest: passing</head>",
        "<head image=\"shot.png\">subtest: passing</head>",
    );
    assert_ne!(text, out.xml, "no passing subtest in the log");
    fs::write(&log, text).unwrap();
    fs::write(test.dir().join("shot.png"), PNG).unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_vmtest-min"))
        .args(["report", "log.xml", "-o", "report.html"])
        .current_dir(test.dir())
        .status()
        .unwrap();
    assert!(status.success());
    let html = test.dir().join("report.html");
    (test, html)
}

#[test]
fn the_page_puts_the_failure_first_and_nests_the_log() {
    let (_test, html) = failing_run_report();
    let text = fs::read_to_string(&html).unwrap();
    assert!(text.starts_with("<!DOCTYPE html>"));
    // Self-contained: nothing to fetch.
    for outside in ["http:", "https:", "<link", "src=\"/"] {
        assert!(
            !text.contains(outside),
            "page refers outside itself: {outside}"
        );
    }
    let page = elements(&text);
    let find =
        |pred: &dyn Fn(&Element) -> bool| page.iter().filter(|e| pred(e)).collect::<Vec<_>>();
    let verdict = find(&|e| e.attr("id") == Some("verdict"));
    assert_eq!(verdict[0].text, "failed");
    // The failing step and its error, at the top, before the log.
    let failure = page
        .iter()
        .position(|e| e.attr("id") == Some("failure"))
        .unwrap();
    let log = page
        .iter()
        .position(|e| e.attr("id") == Some("log"))
        .unwrap();
    assert!(failure < log);
    let heading = &page[failure + 1];
    assert_eq!(heading.name, "h2");
    let step = page[failure..log]
        .iter()
        .map(|e| e.text.as_str())
        .collect::<String>();
    assert!(
        step.contains("must succeed: echo partial; exit 3"),
        "{step}"
    );
    assert!(step.contains("failed (exit status 3)"), "{step}");
    // Nests: failed ones open, passed ones closed; the failing step is the target.
    let nests = find(&|e| e.name == "details");
    assert!(nests.len() >= 4, "{nests:?}");
    for nest in &nests {
        assert_eq!(
            nest.has_class("failed"),
            nest.attr("open") == Some("open"),
            "{nest:?}"
        );
    }
    let target = find(&|e| e.attr("id") == Some("failing-step"));
    assert!(target[0].has_class("failed"));
    let summaries: Vec<_> = find(&|e| e.name == "summary" && e.text.contains("subtest: "));
    assert_eq!(summaries.len(), 2);
    // Serial lines: dimmed by class, filterable by machine.
    let serial = find(&|e| e.has_class("serial"));
    assert!(!serial.is_empty());
    assert!(
        serial
            .iter()
            .all(|e| e.attr("data-machine") == Some("machine"))
    );
    assert!(
        serial
            .iter()
            .all(|e| e.parents.contains(&"details".to_string()))
    );
    let boxes = find(&|e| e.name == "input");
    assert_eq!(boxes.len(), 1);
    assert_eq!(boxes[0].attr("data-machine"), Some("machine"));
    // The screenshot, embedded, inside the passing subtest.
    let images = find(&|e| e.name == "img");
    assert_eq!(images.len(), 1);
    let src = images[0].attr("src").unwrap();
    assert!(
        src.starts_with("data:image/png;base64,iVBORw0KGgo"),
        "{src}"
    );
    assert!(images[0].parents.iter().filter(|p| *p == "details").count() >= 2);
    assert_eq!(find(&|e| e.name == "script").len(), 1);
    assert_eq!(find(&|e| e.name == "style").len(), 1);
}

#[test]
fn a_passing_log_has_no_failure_section_and_bad_arguments_are_refused() {
    let out = Test::new()
        .fake("machine", &[])
        .script("machine.succeed \"echo hi\"\n")
        .run();
    out.code(0);
    let status = Command::new(env!("CARGO_BIN_EXE_vmtest-min"))
        .args(["report", "log.xml"])
        .current_dir(out.dir())
        .status()
        .unwrap();
    assert!(status.success());
    let page = elements(&fs::read_to_string(out.dir().join("log.html")).unwrap());
    assert!(page.iter().all(|e| e.attr("id") != Some("failure")));
    assert!(
        page.iter()
            .any(|e| e.attr("id") == Some("verdict") && e.text == "passed")
    );
    assert!(page.iter().all(|e| e.attr("open").is_none()));
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_vmtest-min"))
            .args(args)
            .current_dir(out.dir())
            .output()
            .unwrap()
    };
    let missing = run(&["report", "no-such.xml"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no-such.xml"));
    let none = run(&["report"]);
    assert_eq!(none.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&none.stderr).contains("`report` needs a LOG.xml"));
}

/// The path of `chromium`, if installed.
pub(crate) fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("chromium"))
        .find(|candidate| candidate.is_file())
}

/// Runs headless Chromium with `args` on `url`; returns its stdout.
pub(crate) fn run_chromium(chromium: &Path, profile: &Path, args: &[&str], url: &str) -> String {
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium");
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut text).unwrap();
        text
    });
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > HARD_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium outlived {HARD_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    reader.join().unwrap()
}

#[test]
fn chromium_renders_the_page_and_runs_its_filter() {
    let Some(chromium) = chromium() else {
        eprintln!("skipped: chromium is not installed (apt-get install chromium)");
        return;
    };
    let (test, html) = failing_run_report();
    let profile = tempfile::tempdir().unwrap();
    let url = format!("file://{}", html.display());
    let dom = run_chromium(&chromium, profile.path(), &["--dump-dom"], &url);
    // The script ran; the failed nests are open; the screenshot is an image.
    assert!(dom.contains("data-ready=\"yes\""), "{dom}");
    assert!(dom.contains("id=\"failing-step\""));
    assert!(dom.contains("<img class=\"screen\""));
    assert!(
        !dom.contains("hidden=\"\""),
        "nothing hidden before a filter"
    );
    // `#hide=machine` unticks the machine's box: its serial lines are hidden.
    let filtered = run_chromium(
        &chromium,
        profile.path(),
        &["--dump-dom"],
        &format!("{url}#hide=machine"),
    );
    let hidden = filtered.matches("class=\"line serial\" data-machine=\"machine\" hidden=\"\"");
    let serial = filtered.matches("class=\"line serial\"");
    assert_eq!(hidden.count(), serial.count(), "{filtered}");
    let shot = test.dir().join("report.png");
    run_chromium(
        &chromium,
        profile.path(),
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1100,900",
        ],
        &url,
    );
    let png = fs::read(&shot).expect("chromium wrote a screenshot");
    assert!(png.starts_with(&PNG[..8]) && png.len() > 10_000);
    if let Some(keep) = std::env::var_os("VMTEST_REPORT_SCREENSHOT") {
        fs::copy(&shot, keep).unwrap();
    }
}

/// Runs `vmtest-min report` with `args` in `dir`.
fn report(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_vmtest-min"))
        .arg("report")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

#[test]
fn a_hostile_log_embeds_only_its_own_screenshots() {
    let test = Test::new();
    let outside = test.dir().join("secret.txt");
    fs::write(&outside, "SECRET").unwrap();
    let dir = test.dir().join("logs");
    fs::create_dir_all(dir.join("sub")).unwrap();
    fs::write(dir.join("sub/good.png"), PNG).unwrap();
    // A file beside the log that is not an image (a key, a config) stays out.
    fs::write(dir.join("id_rsa"), "PRIVATE KEY").unwrap();
    std::os::unix::fs::symlink(&outside, dir.join("link.png")).unwrap();
    let fifo = Command::new("mkfifo").arg(dir.join("fifo.png")).status();
    assert!(fifo.unwrap().success());
    let images = [
        "../secret.txt",
        "/etc/hostname",
        "https://evil.example/t.png",
        "link.png",
        "fifo.png",
        "sub/../../secret.txt",
        "missing.png",
        "id_rsa",
        "sub/good.png",
    ];
    let nests: String = images
        .iter()
        .map(|image| format!("<nest><head image=\"{image}\">shot</head></nest>"))
        .collect();
    fs::write(dir.join("e.xml"), format!("<logfile>{nests}</logfile>")).unwrap();
    let out = report(&dir, &["e.xml"]);
    assert!(out.status.code().is_some(), "{out:?}");
    let text = fs::read_to_string(dir.join("e.html")).unwrap();
    assert!(!text.contains("evil.example/t.png\"/>"), "{text}");
    let page = elements(&text);
    let imgs: Vec<_> = page.iter().filter(|e| e.name == "img").collect();
    assert_eq!(imgs.len(), 1, "{imgs:?}");
    assert_eq!(imgs[0].attr("alt"), Some("sub/good.png"));
    assert!(
        imgs[0]
            .attr("src")
            .unwrap()
            .starts_with("data:image/png;base64,iVBORw0KGgo")
    );
    assert!(
        page.iter()
            .all(|e| e.attr("src").is_none_or(|s| s.starts_with("data:"))
                && e.attr("href").is_none_or(|h| h.starts_with('#'))),
        "the page refers outside itself"
    );
    // No secret in any encoding: the only base64 is the good PNG's.
    assert_eq!(text.matches("base64,").count(), 1);
    assert!(!text.contains("SECRET"));
    let missing: Vec<_> = page.iter().filter(|e| e.has_class("missing")).collect();
    assert_eq!(missing.len(), images.len() - 1, "{missing:?}");
}

/// The verdict on the page `report` made of `log` in `dir`.
fn verdict(dir: &Path, html: &str) -> String {
    let page = elements(&fs::read_to_string(dir.join(html)).unwrap());
    let verdict = page.iter().find(|e| e.attr("id") == Some("verdict"));
    verdict.unwrap().text.clone()
}

#[test]
fn only_a_whole_log_of_a_passed_run_is_passed() {
    let out = Test::new()
        .fake("machine", &[])
        .script("machine.succeed \"echo hi\"\n")
        .run();
    out.code(0);
    let dir = out.dir();
    // Not logs: exit 2, no page.
    fs::write(dir.join("empty.xml"), "").unwrap();
    fs::write(dir.join("junk.xml"), "junk").unwrap();
    fs::write(
        dir.join("junit.xml"),
        "<testsuites><testsuite/></testsuites>",
    )
    .unwrap();
    fs::write(dir.join("dtd.xml"), "<!DOCTYPE x [<!ENTITY a \"b\">]><x/>").unwrap();
    for name in ["empty", "junk", "junit", "dtd"] {
        let ran = report(dir, &[&format!("{name}.xml")]);
        let stderr = String::from_utf8_lossy(&ran.stderr);
        assert_eq!(ran.status.code(), Some(2), "{name}: {stderr}");
        assert!(stderr.contains("is not an XML log"), "{name}: {stderr}");
        assert!(!dir.join(format!("{name}.html")).exists());
    }
    // The log cut after its first finished step: incomplete, not passed.
    let whole = fs::read_to_string(dir.join("log.xml")).unwrap();
    let first = whole.find("</nest>").unwrap() + "</nest>".len();
    fs::write(dir.join("cut.xml"), &whole[..first]).unwrap();
    let ran = report(dir, &["cut.xml"]);
    assert_eq!(ran.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&ran.stderr).contains("incomplete log"));
    assert_eq!(verdict(dir, "cut.html"), "incomplete");
    // Whole but without the run's closing line: unknown.
    let unclosed = whole.replace("test script finished in", "something else in");
    fs::write(dir.join("unclosed.xml"), unclosed).unwrap();
    assert_eq!(report(dir, &["unclosed.xml"]).status.code(), Some(0));
    assert_eq!(verdict(dir, "unclosed.html"), "unknown");
    assert_eq!(report(dir, &["log.xml"]).status.code(), Some(0));
    assert_eq!(verdict(dir, "log.html"), "passed");
    // The page never replaces its log.
    let same = report(dir, &["log.xml", "-o", "./log.xml"]);
    assert_eq!(same.status.code(), Some(2));
    assert_eq!(fs::read_to_string(dir.join("log.xml")).unwrap(), whole);
}

#[test]
fn a_log_nested_100000_deep_is_reported_without_overflowing() {
    let test = Test::new();
    let n = 100_000;
    let xml = format!(
        "<logfile>{}{}</logfile>",
        "<nest><head>x</head>".repeat(n),
        "</nest>".repeat(n)
    );
    fs::write(test.dir().join("deep.xml"), xml).unwrap();
    let ran = report(test.dir(), &["deep.xml"]);
    assert_eq!(ran.status.code(), Some(0), "{ran:?}");
    assert_eq!(verdict(test.dir(), "deep.html"), "incomplete");
    assert!(
        fs::read_to_string(test.dir().join("deep.html"))
            .unwrap()
            .contains("nested deeper than")
    );
}

#[test]
fn odd_machine_names_and_a_malformed_link_keep_the_filter_working() {
    let Some(chromium) = chromium() else {
        eprintln!("skipped: chromium is not installed (apt-get install chromium)");
        return;
    };
    let test = Test::new();
    let odd = "we&quot;ird\\name";
    let log = format!(
        "<logfile><nest><head>boot</head>\
         <line machine=\"{odd}\" type=\"serial\">one</line>\
         <line machine=\"plain\" type=\"serial\">two</line>\
         <line>(finished: boot, in 1.00 seconds)</line></nest>\
         <line>test script finished in 1.00s</line></logfile>"
    );
    fs::write(test.dir().join("odd.xml"), log).unwrap();
    assert_eq!(report(test.dir(), &["odd.xml"]).status.code(), Some(0));
    let profile = tempfile::tempdir().unwrap();
    let url = format!("file://{}", test.dir().join("odd.html").display());
    // A malformed escape does not stop the script.
    let dom = run_chromium(
        &chromium,
        profile.path(),
        &["--dump-dom"],
        &format!("{url}#hide=%E0%A4%A"),
    );
    assert!(dom.contains("data-ready=\"yes\""), "{dom}");
    assert!(!dom.contains("hidden=\"\""), "{dom}");
    // `we"ird\name`, escaped in the link, hides only its own line.
    let dom = run_chromium(
        &chromium,
        profile.path(),
        &["--dump-dom"],
        &format!("{url}#hide=we%22ird%5Cname"),
    );
    assert!(dom.contains("data-ready=\"yes\""), "{dom}");
    assert_eq!(dom.matches("hidden=\"\"").count(), 1, "{dom}");
    assert!(dom.contains("data-machine=\"plain\">"), "{dom}");
}
