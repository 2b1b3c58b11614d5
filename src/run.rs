//! One invocation of the program: `run`, `check`, help or version, to an exit code.

use crate::cancel::Cancel;
use crate::cli::{self, Args, Command};
use crate::color::Palette;
use crate::config;
use crate::driver::{Driver, DriverConfig};
use crate::error::Error;
use crate::exit::ExitCode;
use crate::interp::Interpreter;
use crate::logger::{Logger, Outcome, eprint_line};
use crate::methods;
use crate::repl;
use crate::report;
use crate::script::ast::Script;
use crate::script::check::CheckContext;
use crate::script::signature::Signature;
use crate::signals;
use crate::xml_log::XmlLog;
use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// Runs the program with `argv` (without the program name) and the process
/// environment; returns the exit code.
pub fn main(argv: Vec<OsString>) -> ExitCode {
    let env = |name: &str| std::env::var_os(name);
    match cli::parse(argv, &env) {
        Ok(Command::Help) => print_quietly(cli::HELP),
        Ok(Command::Version) => {
            print_quietly(&format!("vmtest-min {}\n", env!("CARGO_PKG_VERSION")))
        }
        Ok(Command::Check(args)) => check(&args),
        Ok(Command::Run(args)) => run(&args),
        Ok(Command::Convert(path)) => convert(&path),
        Err(message) => usage_error(&message),
    }
}

/// Prints `text` on stdout; a closed stdout (`vmtest-min --help | head -1`) is not
/// an error.
fn print_quietly(text: &str) -> ExitCode {
    use std::io::Write;
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    ExitCode::Passed
}

fn usage_error(message: &str) -> ExitCode {
    eprint_line(&format!("vmtest-min: error: {message}"));
    ExitCode::Usage
}

/// The machines of a run: names and start scripts.
type Machines = Vec<(String, PathBuf)>;

fn names(machines: &Machines) -> Vec<String> {
    machines.iter().map(|(name, _)| name.clone()).collect()
}

/// A script, read and checked.
struct Loaded {
    file: String,
    source: String,
    script: Script,
}

/// Reads and checks the script of `args`; renders every problem on failure.
fn load(args: &Args, machines: &Machines, palette: Palette) -> Result<Loaded, ExitCode> {
    let Some(path) = args.script.as_ref() else {
        return Err(usage_error(
            "no test script: pass SCRIPT, set testScript, or use --interactive",
        ));
    };
    let source = config::read_script(path).map_err(|m| usage_error(&m))?;
    let file = path.display().to_string();
    let names = names(machines);
    let signatures = methods::signatures();
    match crate::script::load(&file, &source, &context(&names, &signatures)) {
        Ok(script) => Ok(Loaded {
            file,
            source,
            script,
        }),
        Err(diagnostics) => {
            for diagnostic in &diagnostics {
                eprint!("{}", diagnostic.render(&file, &source, palette.enabled()));
            }
            let count = diagnostics.len();
            eprint_line(&format!(
                "vmtest-min: {count} error{} in `{file}`; nothing was started",
                if count == 1 { "" } else { "s" }
            ));
            Err(ExitCode::Usage)
        }
    }
}

fn context<'a>(names: &'a [String], signatures: &'a [Signature]) -> CheckContext<'a> {
    CheckContext {
        machines: names,
        signatures,
    }
}

fn check(args: &Args) -> ExitCode {
    let palette = Palette::new(args.color.resolve());
    let machines = match config::machines(&args.start_scripts, false) {
        Ok(machines) => machines,
        Err(message) => return usage_error(&message),
    };
    match load(args, &machines, palette) {
        Ok(loaded) => {
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
            ExitCode::Passed
        }
        Err(code) => code,
    }
}

/// `vmtest-min convert`: prints the Python script at `path` as `.cmds` on stdout.
fn convert(path: &std::path::Path) -> ExitCode {
    let source = match config::read_script(path) {
        Ok(source) => source,
        Err(message) => return usage_error(&message),
    };
    let file = path.display().to_string();
    if !crate::script::python::is_python(path, &source) {
        return usage_error(&format!(
            "`{file}` does not look like a Python test script; name it `*.py` to convert it"
        ));
    }
    match crate::script::python::convert(&source) {
        Ok(cmds) => print_quietly(&cmds),
        Err(diagnostic) => {
            let color = Palette::new(crate::color::ColorChoice::Auto.resolve()).enabled();
            eprint!("{}", diagnostic.render(&file, &source, color));
            eprint_line(&format!("vmtest-min: `{file}` was not converted"));
            ExitCode::Usage
        }
    }
}

fn run(args: &Args) -> ExitCode {
    let palette = Palette::new(args.color.resolve());
    let machines = match config::machines(&args.start_scripts, true) {
        Ok(machines) => machines,
        Err(message) => return usage_error(&message),
    };
    let interactive = args.interactive || (args.script.is_none() && std::io::stdin().is_terminal());
    let loaded = if interactive {
        None
    } else {
        match load(args, &machines, palette) {
            Ok(loaded) => Some(loaded),
            Err(code) => return code,
        }
    };
    let xml = match &args.log_xml {
        Some(path) => match XmlLog::create(path) {
            Ok(xml) => Some(xml),
            Err(e) => {
                return usage_error(&format!("cannot create log file `{}`: {e}", path.display()));
            }
        },
        None => None,
    };
    if let Err(e) = std::fs::create_dir_all(&args.output_dir) {
        return usage_error(&format!(
            "cannot create output directory `{}`: {e}",
            args.output_dir.display()
        ));
    }
    let logger = Arc::new(Logger::new(palette, xml, !args.no_serial));
    signals::install();
    let global_timeout = match interactive {
        true => crate::cancel::FOREVER,
        false => crate::cancel::seconds(args.global_timeout),
    };
    let started = Instant::now();
    let config = DriverConfig {
        machines: machines.clone(),
        vlans: args.vlans.clone(),
        keep_vm_state: args.keep_vm_state,
        connect_timeout: crate::cancel::seconds(args.connect_timeout),
        tmp_base: config::tmp_base(),
    };
    if !interactive {
        logger.log(
            None,
            &format!(
                "test will time out and terminate in {} seconds",
                args.global_timeout
            ),
        );
    }
    let code = match Driver::new(&config, logger.clone(), Cancel::new(global_timeout)) {
        Ok(mut driver) => {
            let code = match &loaded {
                Some(loaded) => run_script(&mut driver, names(&machines), loaded, &logger),
                None => run_prompt(&mut driver, names(&machines), &logger),
            };
            driver.clean_up();
            code
        }
        Err(error) => {
            logger.error(None, &error.to_string());
            error.exit_code()
        }
    };
    let elapsed = started.elapsed().as_secs_f64();
    match (code, &loaded) {
        (ExitCode::Passed, Some(loaded)) => {
            logger.log(None, &format!("test script finished in {elapsed:.2}s"));
            eprint_line(&palette.green(&format!("vmtest-min: passed: {}", loaded.file)));
        }
        (ExitCode::Passed, None) => {}
        (code, _) => logger.log(
            None,
            &format!("stopped after {elapsed:.2}s (exit status {})", code.code()),
        ),
    }
    logger.close();
    code
}

fn run_script(
    driver: &mut Driver,
    names: Vec<String>,
    loaded: &Loaded,
    logger: &Logger,
) -> ExitCode {
    logger.open_nest(None, "run the VM test script");
    let result = Interpreter::new(driver, names).run(&loaded.script.statements);
    logger.close_nest(if result.is_ok() {
        Outcome::Finished
    } else {
        Outcome::Failed
    });
    match result {
        Ok(()) => ExitCode::Passed,
        Err(failure) => {
            report::step_failure(logger, &loaded.file, &loaded.source, &failure);
            failure.error.exit_code()
        }
    }
}

fn run_prompt(driver: &mut Driver, names: Vec<String>, logger: &Logger) -> ExitCode {
    let signatures = methods::signatures();
    let context = context(&names, &signatures);
    match repl::run(driver, names.clone(), &context, logger) {
        Ok(()) => ExitCode::Passed,
        Err(error) => {
            let code = error.exit_code();
            if !matches!(error, Error::Interrupted { .. }) {
                logger.error(None, &error.to_string());
            }
            code
        }
    }
}
