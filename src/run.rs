//! One invocation of the program: help, version, `check` or `run`, to an exit status.
//!
//! [`main`] returns `Ok(status)` once the program has done its work, whatever the
//! test's verdict (a failed step is reported in the run's log, terminal and XML, and
//! becomes [`Status::TestFailed`]); it returns `Err` for an error before anything
//! boots, which `main.rs` prints. The word "run" means the `run` command: boot the
//! machines and execute a script or the prompt.

use crate::cancel::{self, Cancel};
use crate::cli::{self, Args, Command, EnvLookup, Language, UsageError};
use crate::color::Palette;
use crate::driver::{Driver, DriverConfig};
use crate::error::Error;
use crate::exit::Status;
use crate::interp::Interpreter;
use crate::logger::{Logger, eprint_line};
use crate::methods;
use crate::repl;
use crate::report;
use crate::script::ast::Script;
use crate::script::check::CheckContext;
use crate::script::signature::Signature;
use crate::setup::{self, Machines};
use crate::signals;
use std::ffi::OsString;
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Instant;

/// Runs the program with `argv` (without the program name), reading the
/// environment through `env` only.
///
/// # Errors
///
/// A usage, setup or script error: nothing was booted; the error is for the caller
/// to print.
pub fn main(argv: Vec<OsString>, env: EnvLookup<'_>) -> Result<Status, Error> {
    match cli::parse(argv, env)? {
        Command::Help => Ok(print_quietly(cli::HELP)),
        Command::Version => Ok(print_quietly(&format!(
            "vmtest-min {}\n",
            env!("CARGO_PKG_VERSION")
        ))),
        Command::Check(args) => check_command(&args),
        Command::Run(args) => run_command(&args),
        Command::Convert(path) => convert_command(&path),
        Command::Report { log, html } => report_command(&log, &html),
    }
}

/// How the log of a passed script ends: this, then the time it took.
pub(crate) const PASSED_LINE: &str = "test script finished in ";

/// `vmtest-min report`: writes the HTML page of the log `log` to `html`.
fn report_command(log: &std::path::Path, html: &std::path::Path) -> Result<Status, Error> {
    let ending = crate::html_report::write(log, html).map_err(Error::Report)?;
    let note = match ending {
        crate::log_tree::Ending::Complete => String::new(),
        crate::log_tree::Ending::Cut(why) => format!(" (incomplete log: {why})"),
    };
    eprint_line(&format!("vmtest-min: wrote {}{note}", html.display()));
    Ok(Status::Passed)
}

/// Prints `text` on stdout; a closed stdout (`vmtest-min --help | head -1`) is not
/// an error.
fn print_quietly(text: &str) -> Status {
    use std::io::Write;
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    Status::Passed
}

fn names(machines: &Machines) -> Vec<String> {
    machines.iter().map(|(name, _)| name.clone()).collect()
}

/// A script, read and checked.
struct Loaded {
    file: String,
    source: String,
    script: Script,
}

/// Reads and checks the script of `args`; on failure, prints every problem with its
/// source line and returns [`Error::ScriptRejected`].
fn load(args: &Args, machines: &Machines, palette: Palette) -> Result<Loaded, Error> {
    let path = args.script.as_ref().ok_or(UsageError::NoScript)?;
    let source = setup::read_script(path)?;
    let file = path.display().to_string();
    let names = names(machines);
    let signatures = methods::signatures();
    let python = is_python(path, &source, args.language);
    match crate::script::load_as(&source, &context(&names, &signatures), python) {
        Ok(script) => Ok(Loaded {
            file,
            source,
            script,
        }),
        Err(diagnostics) => {
            for diagnostic in &diagnostics {
                eprint!("{}", diagnostic.render(&file, &source, palette.enabled()));
            }
            Err(Error::ScriptRejected {
                file,
                count: diagnostics.len(),
            })
        }
    }
}

/// Whether the script at `path` is Python: as `--language` says, and only without
/// it as its extension or content tells ([`crate::script::python::is_python`]).
fn is_python(path: &std::path::Path, source: &str, language: Option<Language>) -> bool {
    match language {
        Some(language) => language == Language::Python,
        None => crate::script::python::is_python(path, source),
    }
}

fn context<'a>(names: &'a [String], signatures: &'a [Signature]) -> CheckContext<'a> {
    CheckContext {
        machines: names,
        signatures,
    }
}

/// `vmtest-min check`: reads and checks the script; boots nothing.
fn check_command(args: &Args) -> Result<Status, Error> {
    let palette = Palette::new(args.color.resolve());
    let (args, machines) = setup::resolve(args, false)?;
    let loaded = load(&args, &machines, palette)?;
    let names = names(&machines);
    eprint_line(&format!(
        "{}: ok ({} statements; machines: {})",
        loaded.file,
        loaded.script.statements.len(),
        if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        }
    ));
    Ok(Status::Passed)
}

/// `vmtest-min convert`: prints the Python script at `path` as `.cmds` on stdout.
fn convert_command(path: &std::path::Path) -> Result<Status, Error> {
    let source = setup::read_script(path)?;
    let file = path.display().to_string();
    if !crate::script::python::is_python(path, &source) {
        return Err(UsageError::NotPython { file }.into());
    }
    match crate::script::python::convert(&source) {
        Ok(cmds) => Ok(print_quietly(&cmds)),
        Err(diagnostic) => {
            let color = Palette::new(crate::color::ColorChoice::Auto.resolve()).enabled();
            eprint!("{}", diagnostic.render(&file, &source, color));
            Err(Error::NotConverted { file })
        }
    }
}

/// `vmtest-min run`: checks everything, boots on demand, executes the script (or
/// the prompt), cleans up.
fn run_command(args: &Args) -> Result<Status, Error> {
    let palette = Palette::new(args.color.resolve());
    let (args, machines) = setup::resolve(args, true)?;
    let args = &args;
    let interactive = args.interactive || (args.script.is_none() && std::io::stdin().is_terminal());
    let loaded = match interactive {
        true => None,
        false => Some(load(args, &machines, palette)?),
    };
    let logs = setup::log_targets(args)?;
    let xml = setup::outputs(args.output_dir.as_deref(), &logs.files)?;
    let logger = Arc::new(Logger::new(palette, xml, !args.no_serial));
    signals::install();
    let scale = args.timeout_scale.unwrap_or(1.0);
    let global_seconds = args.global_timeout * scale;
    let global_timeout = match interactive {
        true => cancel::FOREVER,
        false => cancel::seconds(global_seconds),
    };
    let started = Instant::now();
    let config = DriverConfig {
        machines: machines.clone(),
        vlans: args.vlans.clone(),
        keep_vm_state: args.keep_vm_state,
        connect_timeout: cancel::seconds(args.connect_timeout * scale),
        tmp_dir: args.tmp_dir.clone(),
        display: args.display,
        timeout_scale: args.timeout_scale,
        output_dir: args.output_dir.clone().unwrap_or_else(|| ".".into()),
    };
    if let Some(scale) = args.timeout_scale {
        logger.log(None, &format!("every timeout is scaled by {scale}"));
    }
    if !interactive {
        logger.log(
            None,
            &format!(
                "test will time out and terminate in {} seconds",
                (global_seconds * 1000.0).round() / 1000.0
            ),
        );
    }
    let status = match Driver::new(&config, logger.clone(), Cancel::new(global_timeout)) {
        Ok(mut driver) => {
            let status = match &loaded {
                Some(loaded) => {
                    let status = execute_script(&mut driver, names(&machines), loaded, &logger);
                    if args.pause_on_failure && pauses(status) {
                        pause(&mut driver, names(&machines), &logger, status);
                    }
                    status
                }
                None => prompt_session(&mut driver, names(&machines), &logger),
            };
            driver.clean_up();
            status
        }
        Err(error) => {
            logger.error(None, &error.to_string());
            error.status()
        }
    };
    let elapsed = started.elapsed().as_secs_f64();
    match (status, &loaded) {
        (Status::Passed, Some(loaded)) => {
            logger.log(None, &format!("{PASSED_LINE}{elapsed:.2}s"));
            eprint_line(&palette.green(&format!("vmtest-min: passed: {}", loaded.file)));
        }
        (Status::Passed, None) => {}
        (status, _) => logger.log(
            None,
            &format!(
                "stopped after {elapsed:.2}s (exit status {})",
                status.code()
            ),
        ),
    }
    logger.close();
    let status = match (&args.junit_xml, &logs.junit_source) {
        (Some(junit), Some(log)) => write_junit(args, log, junit, elapsed, status),
        _ => status,
    };
    Ok(status)
}

/// Writes the JUnit report `junit` of a run that took `elapsed` seconds and ended
/// with `status`, from its log `log`; returns the run's exit status, which a
/// failed write turns from passed into that error's.
fn write_junit(
    args: &Args,
    log: &std::path::Path,
    junit: &std::path::Path,
    elapsed: f64,
    status: Status,
) -> Status {
    let suite = crate::junit::suite_name(args.script.as_deref());
    let Err(source) = crate::junit::write(log, junit, &suite, elapsed, status) else {
        return status;
    };
    let error = Error::Junit {
        path: junit.to_path_buf(),
        source,
    };
    eprint_line(&format!("vmtest-min: error: {error}"));
    match status {
        Status::Passed => error.status(),
        failed => failed,
    }
}

/// Executes a checked script on the driver's machines; a failed step is reported in
/// the log.
fn execute_script(
    driver: &mut Driver,
    names: Vec<String>,
    loaded: &Loaded,
    logger: &Logger,
) -> Status {
    let result = logger.nest(None, "run the VM test script", || {
        Interpreter::new(driver, names).run(&loaded.script.statements)
    });
    match result {
        Ok(()) => Status::Passed,
        Err(failure) => {
            report::step_failure(logger, &loaded.file, &loaded.source, &failure);
            failure.error.status()
        }
    }
}

/// Whether `--pause-on-failure` pauses a run that ended with `status`: after a
/// failed step or a failed environment, never after a signal or the global timeout.
fn pauses(status: Status) -> bool {
    matches!(status, Status::TestFailed | Status::Environment)
}

/// `--pause-on-failure`: after the failure of a run that will end with `status`,
/// opens the prompt on the machines as the failure left them, when stdin is a
/// terminal; when it ends (Ctrl-D, or an error of its own), the run goes on to
/// clean up.
fn pause(driver: &mut Driver, names: Vec<String>, logger: &Logger, status: Status) {
    if !std::io::stdin().is_terminal() {
        logger.log(None, "not pausing: stdin is not a terminal");
        return;
    }
    logger.log(
        None,
        &format!(
            "paused after the failure: the machines keep running; Ctrl-D cleans up \
             and exits with status {}",
            status.code()
        ),
    );
    prompt_session(driver, names, logger);
}

/// Runs the interactive prompt on the driver's machines until it ends.
fn prompt_session(driver: &mut Driver, names: Vec<String>, logger: &Logger) -> Status {
    let signatures = methods::signatures();
    let context = context(&names, &signatures);
    match repl::session(driver, names.clone(), &context, logger) {
        Ok(()) => Status::Passed,
        Err(error) => {
            if !matches!(error, Error::Interrupted { .. }) {
                logger.error(None, &error.to_string());
            }
            error.status()
        }
    }
}
