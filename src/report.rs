//! The failure summary: what failed, where in the script, and what was seen.

use crate::interp::StepError;
use crate::logger::Logger;
use crate::script::span::Span;

/// Logs a failed step: the error, the script location with its source line, and the
/// error's details (output, QEMU's stderr, serial tail), in red on the terminal.
pub fn step_failure(logger: &Logger, file: &str, source: &str, failure: &StepError) {
    let mut lines = vec![format!("error: {}", failure.error)];
    lines.extend(location(file, source, failure.span));
    lines.extend(failure.error.details());
    logger.error(None, &lines.join("\n"));
}

/// ` --> file:line:col` and the source line, for a span.
fn location(file: &str, source: &str, span: Span) -> Vec<String> {
    let text = source.lines().nth(span.line).unwrap_or_default();
    vec![
        format!("  --> {file}:{}:{}", span.line + 1, span.column + 1),
        format!("   | {}", crate::sanitize::terminal_safe(text)),
    ]
}
