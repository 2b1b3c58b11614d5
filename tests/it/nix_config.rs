//! The Nix test framework's way of running the driver: `--config FILE` (the JSON
//! that nixpkgs' driver-configuration.nix writes), no command word, `-o $out`,
//! `LOGFILE=/dev/null`, on the real busybox guest; and the JUnit report.

use crate::real::start_script;
use crate::support::{HARD_LIMIT, processes_under};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What one run of the binary left: exit status and stderr.
pub(crate) struct Ran {
    pub(crate) code: i32,
    pub(crate) stderr: String,
}

/// Runs `vmtest-min ARGS` as the framework's wrapper does (no command word, a
/// scrubbed environment plus `env`, `TMPDIR` inside `dir`), killed after
/// [`HARD_LIMIT`].
pub(crate) fn run_like_nix(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Ran {
    let tmp = dir.join("tmp");
    fs::create_dir_all(&tmp).expect("tmp dir");
    let stderr_path = dir.join("stderr.txt");
    let mut command = Command::new(env!("CARGO_BIN_EXE_vmtest-min"));
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("TMPDIR", &tmp)
        .envs(env.iter().copied())
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(fs::File::create(&stderr_path).expect("stderr file"));
    let mut child = command.spawn().expect("spawn vmtest-min");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > HARD_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("vmtest-min outlived {HARD_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stderr = fs::read_to_string(&stderr_path).expect("read stderr");
    let left: Vec<_> = fs::read_dir(&tmp).expect("tmp").collect();
    assert!(left.is_empty(), "left in TMPDIR: {left:?}\n{stderr}");
    assert!(processes_under(dir).is_empty(), "processes left running");
    Ran {
        code: status.code().unwrap_or(-1),
        stderr,
    }
}

/// Writes `config.json` as driver-configuration.nix does (`builtins.toJSON` pretty
/// printed: keys sorted, two-space indent) for `vms` named after the guest's
/// start scripts, vlan 1 and `test-script` in `dir`.
pub(crate) fn write_config(dir: &Path, vms: &[&str], script: &str) -> PathBuf {
    let test_script = dir.join("test-script");
    fs::write(&test_script, script).expect("write test script");
    let vms: Vec<String> = vms
        .iter()
        .map(|name| {
            format!(
                "    \"{name}\": {{\n      \"name\": \"{name}\",\n      \"start_script\": \"{}\"\n    }}",
                start_script(name).display()
            )
        })
        .collect();
    let text = format!(
        "{{\n  \"containers\": {{}},\n  \"enable_ssh_backdoor\": false,\n  \"global_timeout\": 600,\n  \
         \"test_script\": \"{}\",\n  \"vlans\": [\n    1\n  ],\n  \"vms\": {{\n{}\n  }}\n}}\n",
        test_script.display(),
        vms.join(",\n")
    );
    let path = dir.join("config.json");
    fs::write(&path, text).expect("write config");
    path
}

#[test]
fn a_framework_configuration_runs_a_python_script_on_two_machines() {
    let scratch = tempfile::Builder::new().prefix("vmt-").tempdir().unwrap();
    let dir = scratch.path();
    let config = write_config(
        dir,
        &["client", "server"],
        r#"start_all()

with subtest("the vlan joins both machines"):
    client.wait_until_succeeds("ping -c 1 -W 2 server", timeout=120)
    server.succeed("hostname") == "server"

with subtest("the output directory is kept"):
    assert "client" in client.succeed("hostname")
"#,
    );
    let out = dir.join("out");
    fs::create_dir(&out).unwrap();
    let config = config.to_str().unwrap();
    let ran = run_like_nix(
        dir,
        // The command line of nix/test-driver.nix's wrapper, then run.nix's `-o`.
        &[
            "--config",
            config,
            "--log-level",
            "info",
            "--language",
            "python",
            "-o",
            "out",
            "--junit-xml",
            "junit.xml",
        ],
        // The framework sets LOGFILE=/dev/null; here the log goes beside `$out`, for
        // the HTML report of this run below.
        &[("LOGFILE", "log.xml")],
    );
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(ran.stderr.contains("subtest: the vlan joins both machines"));
    assert!(ran.stderr.contains("vmtest-min: passed"), "{}", ran.stderr);
    // Only the JUnit report lands in $out.
    let kept: Vec<_> = fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(kept, ["junit.xml"]);
    let report = Junit::read(&out.join("junit.xml"));
    report.totals(3, 0, 0);
    let vlan = report.case("the vlan joins both machines");
    assert!(vlan.attr("classname") == "test-script" && vlan.seconds() > 0.0);
    assert!(vlan.failure.is_none() && vlan.error.is_none());
    report.case("the output directory is kept");
    let main = report.case("main");
    assert!(main.seconds() >= vlan.seconds());
    // The machines boot in the background: their console lines land in the case
    // that was running when they came.
    let consoles = format!("{}{}", vlan.system_out, main.system_out);
    assert!(consoles.contains("client # "), "{consoles}");
    check_html_report(dir);
}

/// Makes the HTML page of the two-machine run's `log.xml` in `dir` and checks it
/// with the parser and, when Chromium is installed, in the browser.
fn check_html_report(dir: &Path) {
    use crate::html_report::{chromium, elements, run_chromium};
    let ran = run_like_nix(dir, &["report", "log.xml", "-o", "report.html"], &[]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let text = fs::read_to_string(dir.join("report.html")).unwrap();
    let page = elements(&text);
    let verdict = page.iter().find(|e| e.attr("id") == Some("verdict"));
    assert_eq!(verdict.unwrap().text, "passed");
    assert!(page.iter().all(|e| e.attr("id") != Some("failure")));
    for subtest in [
        "the vlan joins both machines",
        "the output directory is kept",
    ] {
        let title = format!("subtest: {subtest}");
        assert!(
            page.iter()
                .any(|e| e.name == "summary" && e.text.contains(&title)),
            "no nest `{title}`"
        );
    }
    let boxes: Vec<_> = page
        .iter()
        .filter(|e| e.name == "input")
        .filter_map(|e| e.attr("data-machine"))
        .collect();
    assert!(
        boxes.contains(&"client") && boxes.contains(&"server"),
        "{boxes:?}"
    );
    let Some(chromium) = chromium() else {
        eprintln!("browser check skipped: chromium is not installed");
        return;
    };
    let profile = tempfile::tempdir().unwrap();
    let url = format!("file://{}#hide=server", dir.join("report.html").display());
    let dom = run_chromium(&chromium, profile.path(), &["--dump-dom"], &url);
    assert!(dom.contains("data-ready=\"yes\""), "{dom}");
    let server = dom
        .matches("class=\"line serial\" data-machine=\"server\"")
        .count();
    let hidden = dom
        .matches("class=\"line serial\" data-machine=\"server\" hidden=\"\"")
        .count();
    assert!(server > 0 && hidden == server, "{server} {hidden}");
    assert!(dom.contains("class=\"line serial\" data-machine=\"client\">"));
}

#[test]
fn a_failing_subtest_is_one_failed_testcase_with_the_console_tail() {
    let scratch = tempfile::Builder::new().prefix("vmt-").tempdir().unwrap();
    let dir = scratch.path();
    let config = write_config(
        dir,
        &["machine"],
        r#"machine.start()

with subtest("passes"):
    machine.succeed("true")

with subtest("fails"):
    machine.succeed("echo console-marker > /dev/ttyS0")
    machine.wait_for_console_text("console-marker")
    machine.succeed("echo partial; exit 3")

with subtest("never runs"):
    machine.succeed("true")
"#,
    );
    let ran = run_like_nix(
        dir,
        &[
            "-c",
            config.to_str().unwrap(),
            "--junit-xml",
            "report/j.xml",
        ],
        &[],
    );
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    let report = Junit::read(&dir.join("report/j.xml"));
    report.totals(3, 1, 0);
    report.case("passes");
    assert!(report.cases.iter().all(|c| c.attr("name") != "never runs"));
    let fails = report.case("fails");
    let failure = fails.failure.as_ref().expect("a <failure>");
    assert!(
        failure
            .0
            .contains("command `echo partial; exit 3` failed (exit status 3)"),
        "{failure:?}"
    );
    // The body has the summary too: the script line and the command's output.
    assert!(
        failure.1.contains("partial") && failure.1.contains("test-script:9:"),
        "{failure:?}"
    );
    assert!(
        fails.system_out.contains("machine # console-marker"),
        "{}",
        fails.system_out
    );
    assert!(report.case("main").failure.is_none());
}

/// A JUnit file as a CI consumer reads it.
struct Junit {
    root: Vec<(String, String)>,
    suite: Vec<(String, String)>,
    cases: Vec<Case>,
}

/// One `<testcase>`.
#[derive(Debug, Default)]
struct Case {
    attrs: Vec<(String, String)>,
    /// `<failure>`'s message and text.
    failure: Option<(String, String)>,
    /// `<error>`'s message and text.
    error: Option<(String, String)>,
    system_out: String,
}

fn attr<'a>(attrs: &'a [(String, String)], key: &str) -> &'a str {
    attrs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no attribute {key} in {attrs:?}"))
}

impl Case {
    fn attr(&self, key: &str) -> &str {
        attr(&self.attrs, key)
    }

    fn seconds(&self) -> f64 {
        self.attr("time").parse().expect("time is a number")
    }
}

impl Junit {
    /// Parses `path` with xml-rs: `<testsuites>` holding one `<testsuite>` of
    /// `<testcase>`s.
    #[track_caller]
    fn read(path: &Path) -> Junit {
        use xml::reader::{EventReader, XmlEvent};
        let text = fs::read_to_string(path).expect("read JUnit file");
        let mut report = Junit {
            root: Vec::new(),
            suite: Vec::new(),
            cases: Vec::new(),
        };
        let mut open: Vec<String> = Vec::new();
        let mut message = String::new();
        for event in EventReader::new(text.as_bytes()) {
            match event.unwrap_or_else(|e| panic!("malformed JUnit XML: {e}\n{text}")) {
                XmlEvent::StartElement {
                    name, attributes, ..
                } => {
                    let attrs: Vec<_> = attributes
                        .into_iter()
                        .map(|a| (a.name.local_name, a.value))
                        .collect();
                    let parent = open.last().map(String::as_str);
                    match (parent, name.local_name.as_str()) {
                        (None, "testsuites") => report.root = attrs,
                        (Some("testsuites"), "testsuite") => report.suite = attrs,
                        (Some("testsuite"), "testcase") => report.cases.push(Case {
                            attrs,
                            ..Case::default()
                        }),
                        (Some("testcase"), "failure" | "error" | "system-out") => {
                            message = attrs
                                .iter()
                                .find(|(k, _)| k == "message")
                                .map(|(_, v)| v.clone())
                                .unwrap_or_default();
                        }
                        (parent, element) => panic!("unexpected <{element}> in {parent:?}"),
                    }
                    open.push(name.local_name);
                }
                XmlEvent::Characters(chars) => {
                    let case = report.cases.last_mut().expect("text inside a testcase");
                    let body = (message.clone(), chars.clone());
                    match open.last().map(String::as_str) {
                        Some("failure") => case.failure = Some(body),
                        Some("error") => case.error = Some(body),
                        Some("system-out") => case.system_out = chars,
                        _ => {}
                    }
                }
                XmlEvent::EndElement { name } => {
                    let element = name.local_name;
                    let empty = report
                        .cases
                        .last_mut()
                        .filter(|_| matches!(element.as_str(), "failure" | "error"));
                    if let Some(case) = empty {
                        let body = Some((message.clone(), String::new()));
                        match element.as_str() {
                            "failure" if case.failure.is_none() => case.failure = body,
                            "error" if case.error.is_none() => case.error = body,
                            _ => {}
                        }
                    }
                    open.pop();
                }
                _ => {}
            }
        }
        report
    }

    /// Checks the counts on `<testsuites>` and `<testsuite>` and against the cases.
    #[track_caller]
    fn totals(&self, tests: usize, failures: usize, errors: usize) {
        for attrs in [&self.root, &self.suite] {
            assert_eq!(attr(attrs, "tests"), tests.to_string(), "{attrs:?}");
            assert_eq!(attr(attrs, "failures"), failures.to_string(), "{attrs:?}");
            assert_eq!(attr(attrs, "errors"), errors.to_string(), "{attrs:?}");
            let time: f64 = attr(attrs, "time").parse().expect("time");
            assert!(time > 0.0);
        }
        assert!(!attr(&self.suite, "name").is_empty());
        // The Ant schema's required attributes: start time (UTC, no zone) and host.
        let timestamp = attr(&self.suite, "timestamp");
        assert!(
            timestamp.len() == 19 && timestamp.as_bytes()[10] == b'T',
            "{timestamp}"
        );
        assert!(!attr(&self.suite, "hostname").is_empty());
        assert_eq!(self.cases.len(), tests);
        let failed = self.cases.iter().filter(|c| c.failure.is_some()).count();
        let errored = self.cases.iter().filter(|c| c.error.is_some()).count();
        assert_eq!((failed, errored), (failures, errors));
    }

    /// The case named `name`; every case has a name, a classname and a time.
    #[track_caller]
    fn case(&self, name: &str) -> &Case {
        for case in &self.cases {
            case.attr("classname");
            case.seconds();
        }
        self.cases
            .iter()
            .find(|c| c.attr("name") == name)
            .unwrap_or_else(|| panic!("no testcase `{name}`: {:?}", self.cases))
    }
}

#[test]
fn containers_and_the_ssh_backdoor_are_refused_before_anything_boots() {
    let scratch = tempfile::Builder::new().prefix("vmt-").tempdir().unwrap();
    let dir = scratch.path();
    let config = write_config(dir, &["machine"], "start_all()\n");
    let text = fs::read_to_string(&config).unwrap();
    // The configuration with `from` replaced by `to` is refused with `expected`.
    let refused = |from: &str, to: &str, expected: &str| {
        let changed = dir.join("changed.json");
        fs::write(&changed, text.replace(from, to)).unwrap();
        let ran = run_like_nix(dir, &["--config", changed.to_str().unwrap()], &[]);
        assert_eq!(ran.code, 2, "{}", ran.stderr);
        assert!(ran.stderr.contains(expected), "{}", ran.stderr);
    };
    refused(
        "\"enable_ssh_backdoor\": false",
        "\"enable_ssh_backdoor\": true",
        "`enable_ssh_backdoor` asks for the SSH backdoor over vsock",
    );
    refused(
        "\"containers\": {}",
        "\"containers\": {\"c\": {\"name\": \"c\", \"start_script\": \"/bin/true\"}}",
        "systemd-nspawn containers",
    );
    let ran = run_like_nix(
        dir,
        &["-c", config.to_str().unwrap(), "--dump-vsocks", "3"],
        &[],
    );
    assert_eq!(ran.code, 2);
    assert!(ran.stderr.contains("--dump-vsocks is not supported"));
    // `check` reads the same file; the script is Python by its content.
    let ran = run_like_nix(dir, &["check", "-c", config.to_str().unwrap()], &[]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(ran.stderr.contains("machines: machine"), "{}", ran.stderr);
}

#[test]
fn the_language_of_an_undecided_script_comes_from_the_option() {
    let scratch = tempfile::Builder::new().prefix("vmt-").tempdir().unwrap();
    let dir = scratch.path();
    // A conditional expression: Python only, but nothing in it tells the content
    // check which language it is, and the file has no extension.
    let config = write_config(dir, &["machine"], "x = None if True else 1\n");
    let config = config.to_str().unwrap();
    let ran = run_like_nix(dir, &["check", "-c", config, "--language", "python"], &[]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    for cmds in [
        &["check", "-c", config, "--language", "cmds"][..],
        &["check", "-c", config],
    ] {
        let ran = run_like_nix(dir, cmds, &[]);
        assert_eq!(ran.code, 2, "{cmds:?}: {}", ran.stderr);
        assert!(
            ran.stderr.contains("found identifier `if`"),
            "{}",
            ran.stderr
        );
    }
    let ran = run_like_nix(dir, &["check", "-c", config, "--language", "perl"], &[]);
    assert_eq!(ran.code, 2);
    assert!(ran.stderr.contains("expected python or cmds"));
}

#[test]
fn an_explicit_language_beats_what_the_content_suggests() {
    let scratch = tempfile::Builder::new().prefix("vmt-").tempdir().unwrap();
    let dir = scratch.path();
    // Python whose here-document and f-string braces read like `.cmds` forms.
    let config = write_config(
        dir,
        &["machine"],
        "out = machine.succeed(\"cat <<EOF\\nhi\\nEOF\")\nassert \"hi\" in out, f\"bad {out}\"\n",
    );
    let config = config.to_str().unwrap();
    let ran = run_like_nix(dir, &["check", "-c", config, "--language", "python"], &[]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    // Without the option, the content decides (and here it guesses wrong).
    let ran = run_like_nix(dir, &["check", "-c", config], &[]);
    assert_eq!(ran.code, 2, "{}", ran.stderr);
}
