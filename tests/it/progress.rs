//! The progress of a long wait: plain lines on stderr and in the log when stderr
//! is not a terminal, one live status line when it is (under util-linux `script`).

use crate::pause_on_failure::run_on_terminal;
use crate::support::Test;

/// A script whose wait runs about 7 s: its tries print `tried` and fail until 7 s
/// after the first step (the fake VM's shell runs on the host, `~` is the scratch
/// directory).
const SLOW_WAIT: &str = "machine.succeed \"date +%s > ~/t0\"\n\
machine.wait_until_succeeds \"echo tried; test $(( $(date +%s) - $(cat ~/t0) )) -ge 7\" timeout=60\n\
machine.succeed \"echo after\"\n";

#[test]
fn a_long_wait_logs_plain_progress_lines_without_a_terminal() {
    let out = Test::new().fake("machine", &[]).script(SLOW_WAIT).run();
    out.code(0).clean();
    let line = "machine: still waiting for success of `echo tried; test";
    out.stderr_has(line)
        .stderr_has("s of 60 s; last try: exit status 1, tried")
        .stderr_lacks("\x1b[K");
    // One line (the first comes after 3 s, the next 30 s later), in the log too.
    assert_eq!(out.stderr.matches(line).count(), 1, "{}", out.stderr);
    assert!(
        out.xml.contains("still waiting for success of"),
        "{}",
        out.xml
    );
}

#[test]
fn a_long_wait_keeps_one_live_line_on_a_terminal() {
    let scratch = Test::new();
    let (code, text) = run_on_terminal(scratch.dir(), "", SLOW_WAIT, "");
    assert_eq!(code, 0, "{text}");
    let status = "\r\x1b[Kmachine: still waiting for success of";
    let shown = text.find(status).unwrap_or_else(|| panic!("{text:?}"));
    // Drawn without a newline, and cleared before the wait's closing line.
    let rest = &text[shown + status.len()..];
    let cleared = rest.find("\r\x1b[K(finished: waiting for success");
    let cleared = cleared.or_else(|| rest.find("\r\x1b[Kmachine: (finished: waiting for success"));
    assert!(cleared.is_some(), "{text:?}");
    // On a terminal the progress is not a plain line.
    assert!(
        !text.contains("last try: exit status 1, tried\n"),
        "{text:?}"
    );
    assert!(text.contains("echo after"));
}
