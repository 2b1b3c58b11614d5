//! One invocation of the program: `run`, `check`, help or version, to an exit code.

use crate::cancel::Cancel;
use crate::cli::{self, Args, Command};
use crate::color::Palette;
use crate::config;
use crate::driver::{Driver, DriverConfig};
use crate::exit::ExitCode;
use crate::interp::Interpreter;
use crate::logger::{Logger, Outcome, eprint_line};
use crate::methods;
use crate::report;
use crate::script::ast::Script;
use crate::script::check::CheckContext;
use crate::signals;
use crate::xml_log::XmlLog;
use std::ffi::OsString;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Runs the program with `argv` (without the program name) and the process
/// environment; returns the exit code.
pub fn main(argv: Vec<OsString>) -> ExitCode {
    let env = |name: &str| std::env::var_os(name);
    match cli::parse(argv, &env) {
        Ok(Command::Help) => {
            print!("{}", cli::HELP);
            ExitCode::Passed
        }
        Ok(Command::Version) => {
            println!("vmtest-min {}", env!("CARGO_PKG_VERSION"));
            ExitCode::Passed
        }
        Ok(Command::Check(args)) => check(&args),
        Ok(Command::Run(args)) => run(&args),
        Err(message) => usage_error(&message),
    }
}

fn usage_error(message: &str) -> ExitCode {
    eprint_line(&format!("vmtest-min: error: {message}"));
    ExitCode::Usage
}

/// A script, read and checked against the machines of `args`.
struct Loaded {
    file: String,
    source: String,
    script: Script,
    machines: Vec<(String, std::path::PathBuf)>,
}

fn load(args: &Args, must_run: bool, palette: Palette) -> Result<Loaded, ExitCode> {
    let machines = config::machines(&args.start_scripts, must_run).map_err(|m| usage_error(&m))?;
    let Some(path) = args.script.as_ref() else {
        return Err(usage_error(
            "no test script: pass SCRIPT, set testScript, or use --interactive",
        ));
    };
    let source = config::read_script(path).map_err(|m| usage_error(&m))?;
    let file = path.display().to_string();
    let names: Vec<String> = machines.iter().map(|(name, _)| name.clone()).collect();
    let signatures = methods::signatures();
    let context = CheckContext {
        machines: &names,
        signatures: &signatures,
    };
    match crate::script::load(&file, &source, &context) {
        Ok(script) => Ok(Loaded {
            file,
            source,
            script,
            machines,
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

fn check(args: &Args) -> ExitCode {
    let palette = Palette::new(args.color.resolve());
    match load(args, false, palette) {
        Ok(loaded) => {
            eprint_line(&format!(
                "{}: ok ({} statements; machines: {})",
                loaded.file,
                loaded.script.statements.len(),
                if loaded.machines.is_empty() {
                    "none".to_string()
                } else {
                    loaded
                        .machines
                        .iter()
                        .map(|(n, _)| n.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            ));
            ExitCode::Passed
        }
        Err(code) => code,
    }
}

fn run(args: &Args) -> ExitCode {
    let palette = Palette::new(args.color.resolve());
    let loaded = match load(args, true, palette) {
        Ok(loaded) => loaded,
        Err(code) => return code,
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
    let cancel = Cancel::new(Duration::from_secs_f64(args.global_timeout));
    let started = Instant::now();
    let code = run_loaded(args, &loaded, &logger, cancel);
    let elapsed = started.elapsed().as_secs_f64();
    match code {
        ExitCode::Passed => {
            logger.log(None, &format!("test script finished in {elapsed:.2}s"));
            eprint_line(&palette.green(&format!("vmtest-min: passed: {}", loaded.file)));
        }
        code => logger.log(
            None,
            &format!(
                "test script stopped after {elapsed:.2}s (exit status {})",
                code.code()
            ),
        ),
    }
    logger.close();
    code
}

fn run_loaded(args: &Args, loaded: &Loaded, logger: &Arc<Logger>, cancel: Cancel) -> ExitCode {
    let config = DriverConfig {
        machines: loaded.machines.clone(),
        vlans: args.vlans.clone(),
        keep_vm_state: args.keep_vm_state,
        connect_timeout: Duration::from_secs_f64(args.connect_timeout),
        tmp_base: config::tmp_base(),
    };
    logger.log(
        None,
        &format!(
            "test will time out and terminate in {} seconds",
            args.global_timeout
        ),
    );
    let mut driver = match Driver::new(&config, logger.clone(), cancel) {
        Ok(driver) => driver,
        Err(error) => {
            logger.error(None, &error.to_string());
            return error.exit_code();
        }
    };
    let names = loaded
        .machines
        .iter()
        .map(|(name, _)| name.clone())
        .collect();
    logger.open_nest(None, "run the VM test script");
    let result = Interpreter::new(&mut driver, names).run(&loaded.script.statements);
    logger.close_nest(if result.is_ok() {
        Outcome::Finished
    } else {
        Outcome::Failed
    });
    let code = match &result {
        Ok(()) => ExitCode::Passed,
        Err(failure) => {
            report::step_failure(logger, &loaded.file, &loaded.source, failure);
            failure.error.exit_code()
        }
    };
    driver.clean_up();
    code
}
