//! The progress of a long wait, shown while it runs.
//!
//! Once a wait has run [`QUIET`], each of its tries updates one status line: what
//! is awaited, the time waited of its timeout, and what the last try gave. On a
//! terminal it is a live line at the bottom of stderr, redrawn under every line
//! logged meanwhile and cleared when the wait ends ([`Logger::set_status`]);
//! otherwise (and always in the XML log) it is a plain line, the first at
//! [`QUIET`] and then one every [`LINE_EVERY`].

use crate::logger::Logger;
use crate::sanitize::terminal_safe;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a wait runs before its progress is shown.
pub(crate) const QUIET: Duration = Duration::from_secs(3);
/// How often a plain progress line is logged.
pub(crate) const LINE_EVERY: Duration = Duration::from_secs(30);
/// How much of the last try's output the line shows, in characters.
const LAST_CHARS: usize = 60;

/// The progress of one wait; dropping it clears the live line.
pub(crate) struct Progress {
    logger: Arc<Logger>,
    machine: Option<String>,
    what: String,
    timeout: Duration,
    started: Instant,
    next_line: Duration,
}

impl Progress {
    /// Starts timing the wait for `what` on `machine`, bounded by `timeout`.
    pub(crate) fn start(
        logger: Arc<Logger>,
        machine: Option<&str>,
        what: &str,
        timeout: Duration,
    ) -> Progress {
        Progress {
            logger,
            machine: machine.map(str::to_string),
            what: what.to_string(),
            timeout,
            started: Instant::now(),
            next_line: QUIET,
        }
    }

    /// Records a try that ended with `status` and printed `output`.
    pub(crate) fn tried(&mut self, status: i32, output: &str) {
        let elapsed = self.started.elapsed();
        if elapsed < QUIET {
            return;
        }
        let last = output
            .lines()
            .rev()
            .find(|line| !line.trim().is_empty())
            .map(|line| {
                let line = terminal_safe(line.trim());
                match line.chars().count() > LAST_CHARS {
                    true => format!("{}…", line.chars().take(LAST_CHARS).collect::<String>()),
                    false => line,
                }
            });
        let text = format!(
            "still waiting for {}: {:.0} s of {:.0} s; last try: exit status {status}{}",
            terminal_safe(&self.what),
            elapsed.as_secs_f64(),
            self.timeout.as_secs_f64(),
            last.map_or_else(String::new, |line| format!(", {line}"))
        );
        let machine = self.machine.as_deref();
        self.logger.set_status(machine, Some(&text));
        if elapsed >= self.next_line {
            self.logger.progress_line(machine, &text);
            self.next_line = elapsed + LINE_EVERY;
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.logger.set_status(None, None);
    }
}
