//! Command-line parsing (lexopt) into plain [`Args`]; syntax checks only.
//!
//! Checks that touch the system (files exist, names unique) are in
//! [`crate::config`]. Every `run` option has the environment default the Nix wrapper
//! uses, shown in `--help`.

use crate::color::ColorChoice;
use lexopt::prelude::*;
use std::ffi::OsString;
use std::path::PathBuf;

/// The program's help text.
pub const HELP: &str = "\
vmtest-min: run NixOS-style QEMU VM tests from a small command language

Usage:
  vmtest-min run [OPTIONS] [SCRIPT]     run a test script (default: $testScript)
  vmtest-min check [OPTIONS] SCRIPT     parse and check a script; boots nothing
  vmtest-min convert SCRIPT.py          print a Python test script as .cmds
  vmtest-min -h | --help                show this help
  vmtest-min -V | --version             show the version

Options (run and check):
      --start-scripts PATH...   QEMU start scripts, one per machine; the machine is
                                named after run-<name>-vm [env: startScripts]
      --vlans N...              vlans to create with vde_switch [env: vlans]
  -K, --keep-vm-state           keep machine state in $TMPDIR/vmtest-min-state
      --global-timeout SECS     stop the whole run after SECS seconds
                                [env: globalTimeout; default: 3600]
      --connect-timeout SECS    how long a guest may take to boot to its root
                                shell [default: 600]
      --log-xml PATH            write the XML log to PATH [env: LOGFILE]
  -o, --output-dir DIR          where outputs go [env: out; default: .]
      --no-serial               show serial console lines only in the XML log
      --color WHEN              auto, always or never [default: auto; NO_COLOR]
  -I, --interactive             read statements from a prompt instead of a script

Exit status: 0 passed, 1 a test step failed, 2 usage or script error (nothing
booted), 3 the environment failed (QEMU could not start or died, the guest
panicked or never connected, vde_switch missing), 4 the global timeout ran out,
128+N stopped by signal N.
";

/// What to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Run a script (or the interactive prompt).
    Run(Args),
    /// Check a script only.
    Check(Args),
    /// Print a Python script as `.cmds`.
    Convert(PathBuf),
    /// Print help.
    Help,
    /// Print the version.
    Version,
}

/// The options of `run` and `check`, environment defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Args {
    /// The test script.
    pub script: Option<PathBuf>,
    /// Start scripts.
    pub start_scripts: Vec<PathBuf>,
    /// Vlan numbers, duplicates removed, in first-seen order.
    pub vlans: Vec<u32>,
    /// `-K`.
    pub keep_vm_state: bool,
    /// Seconds.
    pub global_timeout: f64,
    /// Seconds a guest may take to boot to its root shell.
    pub connect_timeout: f64,
    /// The XML log path.
    pub log_xml: Option<PathBuf>,
    /// The output directory.
    pub output_dir: PathBuf,
    /// `--no-serial`.
    pub no_serial: bool,
    /// `--color`.
    pub color: ColorChoice,
    /// `-I`.
    pub interactive: bool,
}

/// Reads one variable of the environment, as `lookup` gives it.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<OsString>;

/// Parses `argv` (without the program name), taking defaults from `env`.
pub fn parse(argv: Vec<OsString>, env: EnvLookup<'_>) -> Result<Command, String> {
    let mut parser = lexopt::Parser::from_args(argv);
    let subcommand = match parser.next().map_err(|e| e.to_string())? {
        Some(Short('h') | Long("help")) => return Ok(Command::Help),
        Some(Short('V') | Long("version")) => return Ok(Command::Version),
        Some(Value(value)) => value.string().map_err(|e| e.to_string())?,
        Some(other) => return Err(other.unexpected().to_string()),
        None => {
            return Err("missing command: `run`, `check` or `convert` (see --help)".to_string());
        }
    };
    let is_run = match subcommand.as_str() {
        "run" => true,
        "check" => false,
        "convert" => return parse_convert(parser),
        other => {
            let hint = match crate::script::suggest::nearest(other, ["run", "check", "convert"]) {
                Some(near) => format!("; did you mean `{near}`?"),
                None => String::new(),
            };
            return Err(format!("unknown command `{other}`{hint}"));
        }
    };
    let mut args = defaults(env)?;
    let mut start_scripts: Option<Vec<PathBuf>> = None;
    let mut vlans: Option<Vec<u32>> = None;
    let mut argv_script: Option<PathBuf> = None;
    while let Some(arg) = parser.next().map_err(|e| e.to_string())? {
        match arg {
            Short('h') | Long("help") => return Ok(Command::Help),
            Short('V') | Long("version") => return Ok(Command::Version),
            Long("start-scripts") => {
                let values: Vec<PathBuf> = parser
                    .values()
                    .map_err(|e| e.to_string())?
                    .map(PathBuf::from)
                    .collect();
                start_scripts.get_or_insert_with(Vec::new).extend(values);
            }
            Long("vlans") => {
                let mut parsed = Vec::new();
                for value in parser.values().map_err(|e| e.to_string())? {
                    parsed.push(parse_vlan(&value.string().map_err(|e| e.to_string())?)?);
                }
                vlans.get_or_insert_with(Vec::new).extend(parsed);
            }
            Short('K') | Long("keep-vm-state") => args.keep_vm_state = true,
            Long("global-timeout") => {
                let value = parser.value().map_err(|e| e.to_string())?;
                args.global_timeout = parse_seconds(
                    "--global-timeout",
                    &value.string().map_err(|e| e.to_string())?,
                )?;
            }
            Long("connect-timeout") => {
                let value = parser.value().map_err(|e| e.to_string())?;
                args.connect_timeout = parse_seconds(
                    "--connect-timeout",
                    &value.string().map_err(|e| e.to_string())?,
                )?;
            }
            Long("log-xml") => {
                args.log_xml = Some(parser.value().map_err(|e| e.to_string())?.into())
            }
            Short('o') | Long("output-dir") => {
                args.output_dir = parser.value().map_err(|e| e.to_string())?.into()
            }
            Long("no-serial") => args.no_serial = true,
            Long("color") => {
                let value = parser
                    .value()
                    .map_err(|e| e.to_string())?
                    .string()
                    .map_err(|e| e.to_string())?;
                args.color = ColorChoice::parse(&value).ok_or_else(|| {
                    format!("invalid value `{value}` for --color: expected auto, always or never")
                })?;
            }
            Short('I') | Long("interactive") => args.interactive = true,
            Value(value) if argv_script.is_none() => argv_script = Some(PathBuf::from(value)),
            other => return Err(other.unexpected().to_string()),
        }
    }
    if let Some(scripts) = start_scripts {
        args.start_scripts = scripts;
    }
    if let Some(numbers) = vlans {
        args.vlans = dedup(numbers);
    }
    if argv_script.is_some() {
        args.script = argv_script;
    }
    if is_run {
        Ok(Command::Run(args))
    } else {
        if args.script.is_none() {
            return Err("`check` needs a SCRIPT".to_string());
        }
        Ok(Command::Check(args))
    }
}

/// The rest of `convert`'s command line: exactly one script.
fn parse_convert(mut parser: lexopt::Parser) -> Result<Command, String> {
    let mut script = None;
    while let Some(arg) = parser.next().map_err(|e| e.to_string())? {
        match arg {
            Short('h') | Long("help") => return Ok(Command::Help),
            Value(value) if script.is_none() => script = Some(PathBuf::from(value)),
            other => return Err(other.unexpected().to_string()),
        }
    }
    script
        .map(Command::Convert)
        .ok_or_else(|| "`convert` needs a SCRIPT".to_string())
}

/// The arguments before the command line is read: environment defaults.
fn defaults(env: EnvLookup<'_>) -> Result<Args, String> {
    let text = |name: &str| env(name).map(|v| v.to_string_lossy().into_owned());
    let start_scripts = text("startScripts")
        .map(|v| v.split_whitespace().map(PathBuf::from).collect())
        .unwrap_or_default();
    let vlans = match text("vlans") {
        Some(value) => dedup(
            value
                .split_whitespace()
                .map(parse_vlan)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("{e} (from the environment variable `vlans`)"))?,
        ),
        None => Vec::new(),
    };
    let global_timeout = match text("globalTimeout").filter(|v| !v.trim().is_empty()) {
        Some(value) => parse_seconds("globalTimeout", value.trim())?,
        None => 3600.0,
    };
    Ok(Args {
        script: env("testScript")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from),
        start_scripts,
        vlans,
        keep_vm_state: false,
        global_timeout,
        connect_timeout: 600.0,
        log_xml: env("LOGFILE").filter(|v| !v.is_empty()).map(PathBuf::from),
        output_dir: env("out")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(".")),
        no_serial: false,
        color: ColorChoice::Auto,
        interactive: false,
    })
}

fn parse_vlan(value: &str) -> Result<u32, String> {
    value
        .parse::<u32>()
        .ok()
        .filter(|&n| n > 0 && n < 256)
        .ok_or_else(|| format!("invalid vlan `{value}`: expected a number from 1 to 255"))
}

fn parse_seconds(option: &str, value: &str) -> Result<f64, String> {
    value
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s > 0.0)
        .ok_or_else(|| {
            format!("invalid value `{value}` for {option}: expected a positive number of seconds")
        })
}

fn dedup(numbers: Vec<u32>) -> Vec<u32> {
    let mut seen = Vec::new();
    for number in numbers {
        if !seen.contains(&number) {
            seen.push(number);
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_with(argv: &[&str], env: &[(&str, &str)]) -> Result<Command, String> {
        let lookup = |name: &str| {
            env.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| OsString::from(value))
        };
        parse(argv.iter().map(OsString::from).collect(), &lookup)
    }

    fn run_args(argv: &[&str], env: &[(&str, &str)]) -> Args {
        match parse_with(argv, env) {
            Ok(Command::Run(args)) => args,
            other => panic!("expected run, got {other:?}"),
        }
    }

    #[test]
    fn environment_gives_the_defaults() {
        let env = [
            ("startScripts", "/a/run-x-vm  /b/run-y-vm"),
            ("vlans", "2 1 2"),
            ("testScript", "/t.cmds"),
            ("globalTimeout", "120"),
            ("LOGFILE", "/l.xml"),
            ("out", "/o"),
        ];
        let args = run_args(&["run"], &env);
        assert_eq!(
            args.start_scripts,
            [PathBuf::from("/a/run-x-vm"), PathBuf::from("/b/run-y-vm")]
        );
        assert_eq!(args.vlans, [2, 1]);
        assert_eq!(args.script, Some(PathBuf::from("/t.cmds")));
        assert_eq!(args.global_timeout, 120.0);
        assert_eq!(args.log_xml, Some(PathBuf::from("/l.xml")));
        assert_eq!(args.output_dir, PathBuf::from("/o"));
    }

    #[test]
    fn options_override_the_environment() {
        let env = [("startScripts", "/env-vm"), ("testScript", "/env.cmds")];
        let args = run_args(
            &[
                "run",
                "t.cmds",
                "--start-scripts",
                "a",
                "b",
                "--vlans",
                "3",
                "3",
                "-K",
                "--no-serial",
            ],
            &env,
        );
        assert_eq!(args.script, Some(PathBuf::from("t.cmds")));
        assert_eq!(args.start_scripts, [PathBuf::from("a"), PathBuf::from("b")]);
        assert_eq!(args.vlans, [3]);
        assert!(args.keep_vm_state && args.no_serial);
        assert_eq!(args.global_timeout, 3600.0);
        assert_eq!(args.connect_timeout, 600.0);
    }

    #[test]
    fn usage_errors_are_clear() {
        let error = |argv: &[&str]| parse_with(argv, &[]).unwrap_err();
        assert_eq!(
            error(&[]),
            "missing command: `run`, `check` or `convert` (see --help)"
        );
        assert_eq!(
            error(&["rnu"]),
            "unknown command `rnu`; did you mean `run`?"
        );
        assert_eq!(
            error(&["run", "--vlans", "0"]),
            "invalid vlan `0`: expected a number from 1 to 255"
        );
        assert_eq!(
            error(&["run", "--color", "blue"]),
            "invalid value `blue` for --color: expected auto, always or never"
        );
        assert_eq!(
            error(&["run", "--global-timeout", "-1"]),
            "invalid value `-1` for --global-timeout: expected a positive number of seconds"
        );
        assert_eq!(error(&["check"]), "`check` needs a SCRIPT");
        assert_eq!(error(&["convert"]), "`convert` needs a SCRIPT");
        assert!(error(&["convert", "a.py", "b.py"]).contains("b.py"));
        assert_eq!(
            parse_with(&["convert", "t.py"], &[]),
            Ok(Command::Convert(PathBuf::from("t.py")))
        );
        assert!(error(&["run", "a.cmds", "b.cmds"]).contains("b.cmds"));
    }

    #[test]
    fn help_and_version_win() {
        assert_eq!(parse_with(&["--help"], &[]), Ok(Command::Help));
        assert_eq!(parse_with(&["run", "-h"], &[]), Ok(Command::Help));
        assert_eq!(parse_with(&["-V"], &[]), Ok(Command::Version));
    }
}
