//! The failure summary: what failed, where in the script, and what was seen.

use crate::interp::StepError;
use crate::logger::Logger;
use crate::script::diag::snippet;

/// Logs a failed step: the error, the script location with its source line, and the
/// error's details (output, QEMU's stderr, serial tail), in red on the terminal.
pub(crate) fn step_failure(logger: &Logger, file: &str, source: &str, failure: &StepError) {
    let mut lines = vec![format!("error: {}", failure.error)];
    let location = snippet(file, source, failure.span, None, false);
    lines.extend(location.lines().map(crate::sanitize::terminal_safe));
    lines.extend(failure.error.details());
    logger.error(None, &lines.join("\n"));
}
