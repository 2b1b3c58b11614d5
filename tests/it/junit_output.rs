//! `--junit-xml` on the fake VM: the report is written whole at the end or not at
//! all, an earlier one survives a run that stops before, a log that is not a
//! regular file still gets written, and a report that cannot be written fails the
//! run.

use crate::support::Test;
use std::fs;

#[test]
fn a_run_stopped_in_setup_leaves_the_previous_report_alone() {
    let test = Test::new().fake("machine", &[]);
    fs::write(test.dir().join("j.xml"), "previous").unwrap();
    let out = test
        .without_log_xml()
        .env("LOGFILE", "/proc/nope/log.xml")
        .arg("--junit-xml")
        .arg("j.xml")
        .script("machine.succeed \"true\"\n")
        .run();
    out.code(2).stderr_has("/proc/nope/log.xml").clean();
    assert_eq!(
        fs::read_to_string(out.dir().join("j.xml")).unwrap(),
        "previous"
    );
}

#[test]
fn a_log_on_stdout_is_written_there_and_read_back_for_the_report() {
    let out = Test::new()
        .fake("machine", &[])
        .without_log_xml()
        .env("LOGFILE", "/dev/stdout")
        .arg("--junit-xml")
        .arg("rep/j.xml")
        .script("machine.succeed \"echo hi\"\n")
        .run();
    out.code(0).clean();
    assert!(out.stdout.contains("<logfile>"), "{}", out.stdout);
    assert!(
        out.stdout.contains("must succeed: echo hi"),
        "{}",
        out.stdout
    );
    let report = fs::read_to_string(out.dir().join("rep/j.xml")).unwrap();
    assert!(report.contains("<testcase name=\"main\""), "{report}");
    // Only the report in its directory: the file it was made in was renamed.
    let files: Vec<_> = fs::read_dir(out.dir().join("rep"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(files, ["j.xml"]);
}

#[test]
fn a_report_that_cannot_be_written_fails_a_passed_run() {
    let test = Test::new().fake("machine", &[]);
    fs::create_dir(test.dir().join("rep")).unwrap();
    let rep = test.dir().join("rep");
    // The fake VM's shell runs on the host: the script takes the report's
    // directory away while the run goes.
    let script = format!(
        "machine.succeed \"rm -r {0} && touch {0}\"\n",
        rep.display()
    );
    let out = test
        .arg("--junit-xml")
        .arg("rep/j.xml")
        .script(&script)
        .run();
    out.code(3)
        .stderr_has("vmtest-min: passed")
        .stderr_has("error: cannot write the JUnit report")
        .clean();
    // A directory in the report's place is refused before anything boots.
    let test = Test::new().fake("machine", &[]);
    fs::create_dir(test.dir().join("j.xml")).unwrap();
    let out = test
        .arg("--junit-xml")
        .arg("j.xml")
        .script("machine.succeed \"true\"\n")
        .run();
    out.code(2)
        .stderr_has("cannot write the JUnit report")
        .stderr_lacks("must succeed")
        .clean();
}

#[test]
fn the_suite_of_a_store_script_has_no_hash() {
    let test = Test::new();
    let bin = test.dir().join("bin");
    fs::create_dir_all(&bin).unwrap();
    let start = crate::fake_vm::write_start_script(&bin, "machine", &[]);
    let script = test
        .dir()
        .join("0c9gr4ksxy8hp0bn1yrf2ajmvz1wdi5z-test-script");
    fs::write(&script, "start_all()\nmachine.succeed(\"true\")\n").unwrap();
    let config = test.dir().join("config.json");
    fs::write(
        &config,
        format!(
            "{{\"containers\": {{}}, \"enable_ssh_backdoor\": false, \"global_timeout\": 60, \
             \"test_script\": \"{}\", \"vlans\": [], \"vms\": {{\"machine\": \
             {{\"name\": \"machine\", \"start_script\": \"{}\"}}}}}}",
            script.display(),
            start.display()
        ),
    )
    .unwrap();
    let out = test
        .arg("--config")
        .arg(&config)
        .arg("--junit-xml")
        .arg("j.xml")
        .run();
    out.code(0).clean();
    let report = fs::read_to_string(out.dir().join("j.xml")).unwrap();
    assert!(
        report.contains("<testsuite name=\"test-script\"")
            && report.contains("classname=\"test-script\""),
        "{report}"
    );
}

#[test]
fn logfile_dev_null_mutes_the_log_but_not_the_report() {
    let out = Test::new()
        .fake("machine", &[])
        .without_log_xml()
        .env("LOGFILE", "/dev/null")
        .arg("-o")
        .arg("out")
        .arg("--junit-xml")
        .arg("j.xml")
        .script("machine.succeed \"true\"\n")
        .run();
    out.code(0).clean();
    let kept: Vec<_> = fs::read_dir(out.dir().join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(kept, ["j.xml"]);
    let report = fs::read_to_string(out.dir().join("out/j.xml")).unwrap();
    assert!(report.contains("tests=\"1\" failures=\"0\""), "{report}");
}
