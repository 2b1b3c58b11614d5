//! The interactive prompt (`run -I`): the script language, one statement at a time.
//!
//! Statements are read from stdin (continuation lines while a string, heredoc,
//! parenthesis or subtest is open), checked against the machines and the variables
//! defined so far, and run; machines start on demand. An error is shown and the
//! session goes on; Ctrl-C stops the current statement; Ctrl-D (end of input), `exit`
//! or SIGTERM ends the session. `help` lists the methods.

use crate::backend::Backend;
use crate::error::Error;
use crate::input;
use crate::interp::Interpreter;
use crate::logger::{Logger, eprint_line};
use crate::methods;
use crate::report;
use crate::script::builtins;
use crate::script::check::{CheckContext, Checker};
use crate::script::parser;
use crate::script::signature::Receiver;
use crate::signals;
use std::io::Write;

const FILE: &str = "<stdin>";

/// Runs the prompt until end of input; returns the error that ended it, if any.
pub(crate) fn session(
    backend: &mut dyn Backend,
    machines: Vec<String>,
    context: &CheckContext<'_>,
    logger: &Logger,
) -> Result<(), Error> {
    let palette = logger.palette();
    let cancel = *backend.cancel();
    let mut checker = Checker::new(context);
    let mut interpreter = Interpreter::new(backend, machines.clone());
    eprint_line(&format!(
        "vmtest-min interactive; machines: {}. Type `help` for the methods, Ctrl-D to leave.",
        if machines.is_empty() {
            "none".to_string()
        } else {
            machines.join(", ")
        }
    ));
    let mut pending = String::new();
    loop {
        prompt(if pending.is_empty() {
            "vmtest-min> "
        } else {
            "...> "
        });
        let line = match input::read_line(&cancel) {
            Ok(Some(line)) => line,
            Ok(None) => return Ok(()),
            Err(Error::Interrupted { signal }) if signal == libc::SIGINT => {
                signals::clear();
                eprint_line("^C");
                pending.clear();
                continue;
            }
            Err(error) => return Err(error),
        };
        if pending.is_empty() {
            match line.trim() {
                "" => continue,
                "exit" | "quit" => return Ok(()),
                "help" => {
                    print_help(&machines);
                    continue;
                }
                _ => {}
            }
        }
        pending.push_str(&line);
        pending.push('\n');
        let script = match parser::parse(&pending) {
            Ok(script) => script,
            Err(diagnostic) if diagnostic.is_incomplete() => continue,
            Err(diagnostic) => {
                eprint!("{}", diagnostic.render(FILE, &pending, palette.enabled()));
                pending.clear();
                continue;
            }
        };
        // A rejected chunk defines nothing: its names and procedures are forgotten.
        let before = checker.clone();
        let diagnostics = checker.check(&script);
        if !diagnostics.is_empty() {
            checker = before;
            for diagnostic in &diagnostics {
                eprint!("{}", diagnostic.render(FILE, &pending, palette.enabled()));
            }
            pending.clear();
            continue;
        }
        match interpreter.run(&script.statements) {
            Ok(()) => {
                if let Some(output) = interpreter.take_output() {
                    let mut stdout = std::io::stdout().lock();
                    let _ = stdout.write_all(output.as_bytes());
                    if !output.is_empty() && !output.ends_with('\n') {
                        let _ = stdout.write_all(b"\n");
                    }
                    let _ = stdout.flush();
                }
            }
            Err(failure) => {
                let fatal = match *failure.error {
                    Error::Interrupted { signal } => signal != libc::SIGINT,
                    Error::GlobalTimeout { .. } => true,
                    _ => false,
                };
                report::step_failure(logger, FILE, &pending, &failure);
                if fatal {
                    return Err(*failure.error);
                }
                signals::clear();
            }
        }
        pending.clear();
    }
}

fn prompt(text: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = stderr.write_all(text.as_bytes());
    let _ = stderr.flush();
}

fn print_help(machines: &[String]) {
    let example = machines.first().map_or("machine", String::as_str);
    let mut lines =
        vec!["methods (a machine's methods are called as `machine.method …`):".to_string()];
    for method in methods::all() {
        let signature = &method.signature;
        let mut usage = match signature.receiver {
            Receiver::Global => signature.name.to_string(),
            Receiver::Machine => format!("{example}.{}", signature.name),
        };
        for param in signature.params {
            usage.push_str(&format!(" <{param}>"));
        }
        if signature.variadic {
            usage.push_str(" …");
        }
        for option in signature.options {
            usage.push_str(&format!(" [{}=…]", option.name));
        }
        lines.push(format!("  {usage:<48} {}", signature.summary));
    }
    lines.push(
        "checks: =~ !~ == != contains !contains; capture: name = call; subtest \"t\" { … }"
            .to_string(),
    );
    lines.push(
        "also: assert, if/else, for, while, def, retry { … }; see `man vmtest-min`".to_string(),
    );
    let functions: Vec<&str> = builtins::FUNCTIONS.iter().map(|f| f.name).collect();
    lines.push(format!("functions: {}", functions.join(" ")));
    let methods: Vec<&str> = builtins::VALUE_METHODS.iter().map(|m| m.name).collect();
    lines.push(format!(
        "methods of strings and JSON objects: {}",
        methods.join(" ")
    ));
    lines.push("exit, quit or Ctrl-D leaves; Ctrl-C stops the current statement".to_string());
    for line in lines {
        eprint_line(&line);
    }
}
