//! The XML log against a golden file (`tests/data/log.golden.xml`).
//!
//! Serial lines are left out of the comparison (their interleaving with the
//! driver's own lines depends on timing), and times, pids and paths are
//! normalised. Set `UPDATE_GOLDEN=1` to rewrite the golden file.

use crate::support::Test;
use regex_lite::Regex;
use std::fs;
use std::path::Path;

const SCRIPT: &str = r#"start_all
log "a <message> & \"quotes\""
subtest "passing" {
    machine.succeed "echo hi" == "hi"
}
subtest "failing" {
    machine.succeed "echo partial; exit 3"
}
"#;

fn normalize(xml: &str, dir: &Path) -> String {
    let rules = [
        (r"\d+\.\d+ seconds", "X seconds"),
        (r"\d+\.\d+s\b", "Xs"),
        (r"pid \d+", "pid N"),
    ];
    let mut text: String = xml
        .lines()
        .filter(|line| !line.contains(r#"type="serial""#))
        .map(|line| format!("{line}\n"))
        .collect();
    text = text.replace(&dir.display().to_string(), "<DIR>");
    for (pattern, replacement) in rules {
        text = Regex::new(pattern)
            .expect("regex")
            .replace_all(&text, replacement)
            .into_owned();
    }
    text
}

#[test]
fn the_xml_log_matches_the_golden_file() {
    let out = Test::new().fake("machine", &[]).script(SCRIPT).run();
    out.code(1).clean();
    out.xml_elements();
    assert!(
        out.xml.contains(r#"type="serial""#),
        "no serial lines logged"
    );
    let actual = normalize(&out.xml, out.dir());
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/log.golden.xml");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        fs::write(&golden, &actual).expect("write golden file");
    }
    let expected = fs::read_to_string(&golden).expect("golden file (UPDATE_GOLDEN=1 writes it)");
    assert_eq!(
        actual,
        expected,
        "XML log differs from {}",
        golden.display()
    );
}
