//! Command-line parsing (lexopt) into plain [`Args`]; syntax checks only.
//!
//! This is the one place that reads the environment: every `run` option has the
//! default the Nix wrapper uses (shown in `--help`), and `TMPDIR`, `NO_COLOR`, `TERM`,
//! `DISPLAY` and `WAYLAND_DISPLAY` are resolved here into fields of [`Args`], so that
//! nothing below depends on the process environment. Checks that touch the system
//! (files exist, names unique) are in [`crate::setup`].

use crate::color::ColorChoice;
use lexopt::prelude::*;
use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;

/// The program's help text.
pub(crate) const HELP: &str = "\
vmtest-min: run NixOS-style QEMU VM tests from a small command language

Usage:
  vmtest-min run [OPTIONS] [SCRIPT]     run a test script (default: $testScript)
  vmtest-min check [OPTIONS] SCRIPT     parse and check a script; boots nothing
  vmtest-min convert SCRIPT.py          print a Python test script as .cmds
  vmtest-min report LOG.xml [-o FILE]   make one HTML page of an XML log
                                        [default FILE: LOG with .html]
  vmtest-min --config FILE [OPTIONS]    run, as the Nix test framework calls its driver
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
      --timeout-scale X         multiply every timeout (global, connect, command,
                                wait, retry) by X [env: VMTEST_TIMEOUT_SCALE]
      --log-xml PATH            write the XML log to PATH [env: LOGFILE;
                                default: log.xml in the output directory]
  -o, --output-dir DIR          keep the run's files in DIR, created if missing:
                                the XML log, unless --log-xml says otherwise
                                [env: out; default: none]
      --no-serial               show serial console lines only in the XML log
      --color WHEN              auto, always or never [default: auto; NO_COLOR]
  -I, --interactive             read statements from a prompt instead of a script
      --pause-on-failure        at a failed step, keep the machines running and open
                                the prompt; Ctrl-D cleans up and exits as failed
      --no-interactive          run the script (the default)

The Nix test framework's options (nixos-test-driver compatible):
  -c, --config FILE             the driver configuration JSON the framework writes
                                (vms, vlans, global_timeout, test_script)
      --language LANG           python or cmds: the script's language (without it,
                                its extension tells, else its content)
      --junit-xml FILE          write a JUnit XML report; a relative FILE is in DIR
      --log-level LEVEL         debug, info, warning or error [env: logLevel];
                                accepted and checked, the output does not change
      --keep-machine-state      the same as -K
      --output_directory DIR    the same as -o
      --dump-vsocks N, --debug-hook-attach PATH
                                refused: vmtest-min has no SSH backdoor

Exit status: 0 passed, 1 a test step failed, 2 usage or script error (nothing
booted), 3 the environment failed (QEMU could not start or died, the guest
panicked or never connected, vde_switch missing), 4 the global timeout ran out,
128+N stopped by signal N.
";

/// What to do.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Command {
    /// Run a script (or the interactive prompt).
    Run(Args),
    /// Check a script only.
    Check(Args),
    /// Print a Python script as `.cmds`.
    Convert(PathBuf),
    /// Make an HTML page of an XML log.
    Report {
        /// The XML log.
        log: PathBuf,
        /// The page to write.
        html: PathBuf,
    },
    /// Print help.
    Help,
    /// Print the version.
    Version,
}

/// The options of `run` and `check`, with the environment's defaults and settings
/// applied.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Args {
    /// The test script.
    pub(crate) script: Option<PathBuf>,
    /// Start scripts.
    pub(crate) start_scripts: Vec<PathBuf>,
    /// Vlan numbers, duplicates removed, in first-seen order.
    pub(crate) vlans: Vec<u32>,
    /// `-K`.
    pub(crate) keep_vm_state: bool,
    /// Seconds.
    pub(crate) global_timeout: f64,
    /// Seconds a guest may take to boot to its root shell.
    pub(crate) connect_timeout: f64,
    /// The XML log path: `--log-xml`, `LOGFILE`, else `log.xml` in the output
    /// directory if there is one.
    pub(crate) log_xml: Option<PathBuf>,
    /// The output directory (`-o`, `out`), if any: created before the run; what a
    /// run writes to keep (the XML log by default; later screenshots and copied
    /// files) goes there.
    pub(crate) output_dir: Option<PathBuf>,
    /// `--no-serial`.
    pub(crate) no_serial: bool,
    /// `--color`, already [`ColorChoice::Never`] for `auto` when `NO_COLOR` is set
    /// or `TERM` is `dumb`.
    pub(crate) color: ColorChoice,
    /// `-I`.
    pub(crate) interactive: bool,
    /// The directory for the run's temporary files: `TMPDIR`, else `/tmp`.
    pub(crate) tmp_dir: PathBuf,
    /// Whether a graphical display is available (`DISPLAY` or `WAYLAND_DISPLAY`
    /// set); without one, QEMU runs with `-nographic`.
    pub(crate) display: bool,
    /// `--config`: the Nix test framework's driver configuration file, which
    /// replaces the start scripts, vlans, script and (unless given on the command
    /// line) the global timeout.
    pub(crate) config: Option<PathBuf>,
    /// Whether `--global-timeout` was on the command line (it then wins over the
    /// configuration file).
    pub(crate) global_timeout_given: bool,
    /// `--language`: the script's language; without it, the extension tells, else
    /// the content.
    pub(crate) language: Option<Language>,
    /// `--junit-xml`, already joined to the output directory when relative.
    pub(crate) junit_xml: Option<PathBuf>,
    /// `--timeout-scale` or `VMTEST_TIMEOUT_SCALE`, if set.
    pub(crate) timeout_scale: Option<f64>,
    /// `--pause-on-failure`.
    pub(crate) pause_on_failure: bool,
}

/// A test script's language, as `--language` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Language {
    /// A NixOS Python test script.
    Python,
    /// The native `.cmds` language.
    Cmds,
}

/// A mistake on the command line or in the environment variables that stand in for
/// options.
#[derive(Debug)]
pub enum UsageError {
    /// lexopt's own errors: an unknown option, a missing or non-UTF-8 value.
    Parse(lexopt::Error),
    /// No `run`, `check` or `convert`.
    MissingCommand,
    /// A command other than `run`, `check` or `convert`.
    UnknownCommand {
        /// What was given.
        name: String,
        /// The nearest real command, if one is close.
        suggestion: Option<&'static str>,
    },
    /// A vlan number out of range.
    InvalidVlan {
        /// What was given.
        value: String,
        /// Whether it came from the `vlans` environment variable.
        from_env: bool,
    },
    /// A timeout that is not a positive number of seconds.
    InvalidSeconds {
        /// The option or environment variable.
        option: &'static str,
        /// What was given.
        value: String,
    },
    /// A `--color` value other than auto, always or never.
    InvalidColor {
        /// What was given.
        value: String,
    },
    /// `check` without a script.
    CheckWithoutScript,
    /// `convert` without a script.
    ConvertWithoutScript,
    /// `report` without a log.
    ReportWithoutLog,
    /// `convert` of a file that is not a Python test script.
    NotPython {
        /// The file.
        file: String,
    },
    /// `run` without a script, not interactive.
    NoScript,
    /// A value outside an option's fixed set of choices.
    InvalidChoice {
        /// The option or environment variable.
        option: &'static str,
        /// What was given.
        value: String,
        /// The accepted values, as the message lists them.
        choices: &'static str,
    },
    /// An option of the NixOS driver that vmtest-min does not implement.
    Unsupported {
        /// The option.
        option: &'static str,
        /// Why, and what to do instead.
        reason: &'static str,
    },
    /// `--config` together with an option that the configuration file replaces.
    ConflictsWithConfig {
        /// The option.
        option: &'static str,
    },
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UsageError::Parse(error) => write!(f, "{error}"),
            UsageError::MissingCommand => {
                write!(
                    f,
                    "missing command: `run`, `check`, `convert` or `report` (see --help)"
                )
            }
            UsageError::UnknownCommand { name, suggestion } => {
                write!(f, "unknown command `{name}`")?;
                match suggestion {
                    Some(near) => write!(f, "; did you mean `{near}`?"),
                    None => Ok(()),
                }
            }
            UsageError::InvalidVlan { value, from_env } => {
                write!(f, "invalid vlan `{value}`: expected a number from 1 to 255")?;
                match from_env {
                    true => write!(f, " (from the environment variable `vlans`)"),
                    false => Ok(()),
                }
            }
            UsageError::InvalidSeconds { option, value } => write!(
                f,
                "invalid value `{value}` for {option}: expected a positive number of seconds"
            ),
            UsageError::InvalidColor { value } => write!(
                f,
                "invalid value `{value}` for --color: expected auto, always or never"
            ),
            UsageError::CheckWithoutScript => write!(f, "`check` needs a SCRIPT"),
            UsageError::ConvertWithoutScript => write!(f, "`convert` needs a SCRIPT"),
            UsageError::ReportWithoutLog => write!(f, "`report` needs a LOG.xml"),
            UsageError::NotPython { file } => write!(
                f,
                "`{file}` does not look like a Python test script; name it `*.py` to convert it"
            ),
            UsageError::NoScript => write!(
                f,
                "no test script: pass SCRIPT, set testScript, or use --interactive"
            ),
            UsageError::InvalidChoice {
                option,
                value,
                choices,
            } => write!(
                f,
                "invalid value `{value}` for {option}: expected {choices}"
            ),
            UsageError::Unsupported { option, reason } => {
                write!(f, "{option} is not supported: {reason}")
            }
            UsageError::ConflictsWithConfig { option } => write!(
                f,
                "{option} cannot be combined with --config: the configuration file \
                 names the machines, vlans and test script"
            ),
        }
    }
}

impl std::error::Error for UsageError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            UsageError::Parse(error) => Some(error),
            _ => None,
        }
    }
}

impl From<lexopt::Error> for UsageError {
    fn from(error: lexopt::Error) -> UsageError {
        UsageError::Parse(error)
    }
}

/// Reads one variable of the environment, as `lookup` gives it.
pub(crate) type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<OsString>;

/// Parses `argv` (without the program name), taking defaults from `env`.
pub(crate) fn parse(mut argv: Vec<OsString>, env: EnvLookup<'_>) -> Result<Command, UsageError> {
    if implies_run(&argv) {
        argv.insert(0, "run".into());
    }
    let mut parser = lexopt::Parser::from_args(argv);
    let subcommand = match parser.next()? {
        Some(Short('h') | Long("help")) => return Ok(Command::Help),
        Some(Short('V') | Long("version")) => return Ok(Command::Version),
        Some(Value(value)) => value.string()?,
        Some(other) => return Err(other.unexpected().into()),
        None => return Err(UsageError::MissingCommand),
    };
    let is_run = match subcommand.as_str() {
        "run" => true,
        "check" => false,
        "convert" => return parse_convert(parser),
        "report" => return parse_report(parser),
        other => {
            return Err(UsageError::UnknownCommand {
                name: other.to_string(),
                suggestion: crate::script::suggest::nearest(
                    other,
                    ["run", "check", "convert", "report"],
                ),
            });
        }
    };
    let mut args = defaults(env)?;
    let color_allowed = args.color == ColorChoice::Auto;
    let mut start_scripts: Option<Vec<PathBuf>> = None;
    let mut vlans: Option<Vec<u32>> = None;
    let mut argv_script: Option<PathBuf> = None;
    let mut junit_xml: Option<PathBuf> = None;
    while let Some(arg) = parser.next()? {
        match arg {
            Short('h') | Long("help") => return Ok(Command::Help),
            Short('V') | Long("version") => return Ok(Command::Version),
            Long("start-scripts") => {
                let values = parser.values()?.map(PathBuf::from);
                start_scripts.get_or_insert_with(Vec::new).extend(values);
            }
            Long("vlans") => {
                let mut parsed = Vec::new();
                for value in parser.values()? {
                    parsed.push(parse_vlan(&value.string()?, false)?);
                }
                vlans.get_or_insert_with(Vec::new).extend(parsed);
            }
            Short('K') | Long("keep-vm-state" | "keep-machine-state") => {
                args.keep_vm_state = true;
            }
            Long("global-timeout") => {
                args.global_timeout =
                    parse_seconds("--global-timeout", &parser.value()?.string()?)?;
                args.global_timeout_given = true;
            }
            Short('c') | Long("config") => args.config = Some(parser.value()?.into()),
            Long("language") => args.language = Some(parse_language(&parser.value()?.string()?)?),
            Long("junit-xml") => junit_xml = Some(parser.value()?.into()),
            Long("timeout-scale") => {
                let value = parser.value()?.string()?;
                args.timeout_scale = Some(parse_scale("--timeout-scale", &value)?);
            }
            Long("log-level") => parse_log_level("--log-level", &parser.value()?.string()?)?,
            Long("dump-vsocks") => return Err(unsupported("--dump-vsocks")),
            Long("debug-hook-attach" | "debug-hook") => {
                return Err(unsupported("--debug-hook-attach"));
            }
            Long("no-interactive") => args.interactive = false,
            Long("pause-on-failure") => args.pause_on_failure = true,
            Long("connect-timeout") => {
                args.connect_timeout =
                    parse_seconds("--connect-timeout", &parser.value()?.string()?)?;
            }
            Long("log-xml") => args.log_xml = Some(parser.value()?.into()),
            Short('o') | Long("output-dir" | "output_directory") => {
                args.output_dir = Some(parser.value()?.into())
            }
            Long("no-serial") => args.no_serial = true,
            Long("color") => {
                let value = parser.value()?.string()?;
                args.color = match ColorChoice::parse(&value) {
                    Some(ColorChoice::Auto) if !color_allowed => ColorChoice::Never,
                    Some(choice) => choice,
                    None => return Err(UsageError::InvalidColor { value }),
                };
            }
            Short('I') | Long("interactive") => args.interactive = true,
            Value(value) if argv_script.is_none() => argv_script = Some(PathBuf::from(value)),
            other => return Err(other.unexpected().into()),
        }
    }
    if args.config.is_some() {
        let given = [
            ("--start-scripts", start_scripts.is_some()),
            ("--vlans", vlans.is_some()),
            ("SCRIPT", argv_script.is_some()),
        ];
        if let Some((option, _)) = given.iter().find(|(_, given)| *given) {
            return Err(UsageError::ConflictsWithConfig { option });
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
    if args.log_xml.is_none() {
        args.log_xml = args.output_dir.as_ref().map(|dir| dir.join("log.xml"));
    }
    // As in the NixOS driver, a relative report path is inside the output directory.
    args.junit_xml = junit_xml.map(|path| match &args.output_dir {
        Some(dir) => dir.join(path),
        None => path,
    });
    if is_run {
        Ok(Command::Run(args))
    } else {
        if args.script.is_none() && args.config.is_none() {
            return Err(UsageError::CheckWithoutScript);
        }
        Ok(Command::Check(args))
    }
}

/// Whether `argv` is a NixOS driver command line (options only, `--config` among
/// them), which the Nix test framework's wrapper runs without a command: it then
/// means `run`.
fn implies_run(argv: &[OsString]) -> bool {
    let starts_with_option = argv.first().is_some_and(|first| {
        let first = first.to_string_lossy();
        first.starts_with('-') && !matches!(&*first, "-h" | "--help" | "-V" | "--version")
    });
    starts_with_option
        && argv.iter().any(|arg| {
            let arg = arg.to_string_lossy();
            arg == "-c" || arg == "--config" || arg.starts_with("--config=")
        })
}

/// The rest of `report`'s command line: the log and, with `-o`, the page.
fn parse_report(mut parser: lexopt::Parser) -> Result<Command, UsageError> {
    let mut log: Option<PathBuf> = None;
    let mut html: Option<PathBuf> = None;
    while let Some(arg) = parser.next()? {
        match arg {
            Short('h') | Long("help") => return Ok(Command::Help),
            Short('o') | Long("output") => html = Some(parser.value()?.into()),
            Value(value) if log.is_none() => log = Some(PathBuf::from(value)),
            other => return Err(other.unexpected().into()),
        }
    }
    let log = log.ok_or(UsageError::ReportWithoutLog)?;
    let html = html.unwrap_or_else(|| log.with_extension("html"));
    Ok(Command::Report { log, html })
}

/// The rest of `convert`'s command line: exactly one script.
fn parse_convert(mut parser: lexopt::Parser) -> Result<Command, UsageError> {
    let mut script = None;
    while let Some(arg) = parser.next()? {
        match arg {
            Short('h') | Long("help") => return Ok(Command::Help),
            Value(value) if script.is_none() => script = Some(PathBuf::from(value)),
            other => return Err(other.unexpected().into()),
        }
    }
    script
        .map(Command::Convert)
        .ok_or(UsageError::ConvertWithoutScript)
}

/// The arguments before the command line is read: environment defaults and
/// settings.
fn defaults(env: EnvLookup<'_>) -> Result<Args, UsageError> {
    let text = |name: &str| env(name).map(|v| v.to_string_lossy().into_owned());
    let set = |name: &str| env(name).filter(|v| !v.is_empty());
    let start_scripts = text("startScripts")
        .map(|v| v.split_whitespace().map(PathBuf::from).collect())
        .unwrap_or_default();
    let vlans = match text("vlans") {
        Some(value) => dedup(
            value
                .split_whitespace()
                .map(|vlan| parse_vlan(vlan, true))
                .collect::<Result<Vec<_>, _>>()?,
        ),
        None => Vec::new(),
    };
    let global_timeout = match text("globalTimeout").filter(|v| !v.trim().is_empty()) {
        Some(value) => parse_seconds("globalTimeout", value.trim())?,
        None => 3600.0,
    };
    if let Some(level) = text("logLevel").filter(|v| !v.trim().is_empty()) {
        parse_log_level("logLevel", &level)?;
    }
    let color_allowed = set("NO_COLOR").is_none() && env("TERM").is_none_or(|t| t != "dumb");
    Ok(Args {
        script: set("testScript").map(PathBuf::from),
        start_scripts,
        vlans,
        keep_vm_state: false,
        global_timeout,
        connect_timeout: 600.0,
        log_xml: set("LOGFILE").map(PathBuf::from),
        output_dir: set("out").map(PathBuf::from),
        no_serial: false,
        color: match color_allowed {
            true => ColorChoice::Auto,
            false => ColorChoice::Never,
        },
        interactive: false,
        tmp_dir: set("TMPDIR").map_or_else(|| PathBuf::from("/tmp"), PathBuf::from),
        display: set("DISPLAY").is_some() || set("WAYLAND_DISPLAY").is_some(),
        config: None,
        global_timeout_given: false,
        language: None,
        junit_xml: None,
        pause_on_failure: false,
        timeout_scale: match text("VMTEST_TIMEOUT_SCALE").filter(|v| !v.trim().is_empty()) {
            Some(value) => Some(parse_scale("VMTEST_TIMEOUT_SCALE", value.trim())?),
            None => None,
        },
    })
}

/// The range `--timeout-scale` accepts: beyond it, timeouts are meaningless
/// (microseconds, or centuries).
const SCALE_RANGE: std::ops::RangeInclusive<f64> = 0.001..=1000.0;

fn parse_scale(option: &'static str, value: &str) -> Result<f64, UsageError> {
    positive(value)
        .filter(|scale| SCALE_RANGE.contains(scale))
        .ok_or_else(|| UsageError::InvalidChoice {
            option,
            value: value.to_string(),
            choices: "a number from 0.001 to 1000",
        })
}

fn parse_language(value: &str) -> Result<Language, UsageError> {
    match value {
        "python" => Ok(Language::Python),
        "cmds" => Ok(Language::Cmds),
        _ => Err(UsageError::InvalidChoice {
            option: "--language",
            value: value.to_string(),
            choices: "python or cmds",
        }),
    }
}

/// Checks a log level of the NixOS driver; vmtest-min's output has one level.
fn parse_log_level(option: &'static str, value: &str) -> Result<(), UsageError> {
    match value {
        "debug" | "info" | "warning" | "error" => Ok(()),
        _ => Err(UsageError::InvalidChoice {
            option,
            value: value.to_string(),
            choices: "debug, info, warning or error",
        }),
    }
}

fn unsupported(option: &'static str) -> UsageError {
    UsageError::Unsupported {
        option,
        reason: "vmtest-min has no SSH backdoor or debug hook; \
                 use `vmtest-min run -I` for an interactive session",
    }
}

fn parse_vlan(value: &str, from_env: bool) -> Result<u32, UsageError> {
    value
        .parse::<u32>()
        .ok()
        .filter(|&n| n > 0 && n < 256)
        .ok_or_else(|| UsageError::InvalidVlan {
            value: value.to_string(),
            from_env,
        })
}

/// `value` as a finite number above zero.
fn positive(value: &str) -> Option<f64> {
    value
        .parse::<f64>()
        .ok()
        .filter(|x| x.is_finite() && *x > 0.0)
}

fn parse_seconds(option: &'static str, value: &str) -> Result<f64, UsageError> {
    positive(value).ok_or_else(|| UsageError::InvalidSeconds {
        option,
        value: value.to_string(),
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
        parse(argv.iter().map(OsString::from).collect(), &lookup).map_err(|e| e.to_string())
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
        assert_eq!(args.output_dir, Some(PathBuf::from("/o")));
    }

    #[test]
    fn environment_settings_are_resolved_here() {
        let args = run_args(&["run"], &[]);
        assert_eq!(args.color, ColorChoice::Auto);
        assert_eq!(args.tmp_dir, PathBuf::from("/tmp"));
        assert!(!args.display);
        let env = [
            ("NO_COLOR", "1"),
            ("TMPDIR", "/t"),
            ("WAYLAND_DISPLAY", "w"),
        ];
        let args = run_args(&["run", "--color", "auto"], &env);
        assert_eq!(args.color, ColorChoice::Never);
        assert_eq!(args.tmp_dir, PathBuf::from("/t"));
        assert!(args.display);
        let env = [("TERM", "dumb"), ("NO_COLOR", ""), ("DISPLAY", ":0")];
        assert_eq!(run_args(&["run"], &env).color, ColorChoice::Never);
        assert_eq!(
            run_args(&["run", "--color", "always"], &env).color,
            ColorChoice::Always
        );
        assert!(run_args(&["run"], &env).display);
    }

    #[test]
    fn the_xml_log_defaults_to_the_output_directory() {
        assert_eq!(run_args(&["run"], &[]).log_xml, None);
        let args = run_args(&["run", "-o", "/o"], &[]);
        assert_eq!(args.log_xml, Some(PathBuf::from("/o/log.xml")));
        let args = run_args(&["run", "-o", "/o", "--log-xml", "/l.xml"], &[]);
        assert_eq!(args.log_xml, Some(PathBuf::from("/l.xml")));
        let args = run_args(&["run"], &[("out", "/o"), ("LOGFILE", "/l.xml")]);
        assert_eq!(args.log_xml, Some(PathBuf::from("/l.xml")));
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
            "missing command: `run`, `check`, `convert` or `report` (see --help)"
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
        assert_eq!(
            parse_with(&["run"], &[("vlans", "1 x")]).unwrap_err(),
            "invalid vlan `x`: expected a number from 1 to 255 \
             (from the environment variable `vlans`)"
        );
        assert_eq!(error(&["convert"]), "`convert` needs a SCRIPT");
        assert!(error(&["convert", "a.py", "b.py"]).contains("b.py"));
        assert_eq!(
            parse_with(&["convert", "t.py"], &[]),
            Ok(Command::Convert(PathBuf::from("t.py")))
        );
        assert!(error(&["run", "a.cmds", "b.cmds"]).contains("b.cmds"));
    }

    #[test]
    fn the_nix_wrapper_command_line_runs() {
        let argv = ["--config", "/c.json", "--log-level", "info", "-o", "/out"];
        let args = run_args(&argv, &[("LOGFILE", "/dev/null")]);
        assert_eq!(args.config, Some(PathBuf::from("/c.json")));
        assert_eq!(args.output_dir, Some(PathBuf::from("/out")));
        assert_eq!(args.log_xml, Some(PathBuf::from("/dev/null")));
        let args = run_args(
            &[
                "-c",
                "/c.json",
                "--keep-machine-state",
                "--output_directory",
                "/o",
                "--junit-xml",
                "j.xml",
                "--no-interactive",
            ],
            &[],
        );
        assert!(args.keep_vm_state && !args.interactive);
        assert_eq!(args.junit_xml, Some(PathBuf::from("/o/j.xml")));
        let error = |argv: &[&str]| parse_with(argv, &[]).unwrap_err();
        assert_eq!(
            error(&["--config", "c", "--log-level", "loud"]),
            "invalid value `loud` for --log-level: expected debug, info, warning or error"
        );
        assert!(error(&["-c", "c", "--dump-vsocks", "3"]).starts_with("--dump-vsocks is not"));
        assert!(error(&["-c", "c", "--debug-hook=x"]).starts_with("--debug-hook-attach is not"));
        assert_eq!(
            error(&["run", "-c", "c", "--start-scripts", "a"]),
            "--start-scripts cannot be combined with --config: the configuration file \
             names the machines, vlans and test script"
        );
        assert_eq!(error(&["--vlans", "1"]), "invalid option '--vlans'");
        assert_eq!(
            parse_with(&["run"], &[("logLevel", "x")]).unwrap_err(),
            "invalid value `x` for logLevel: expected debug, info, warning or error"
        );
    }

    #[test]
    fn an_empty_log_level_is_ignored_and_the_scale_is_bounded() {
        assert!(parse_with(&["run"], &[("logLevel", "")]).is_ok());
        for bad in ["1e-300", "0.0009", "1e308", "1001"] {
            assert_eq!(
                parse_with(&["run", "--timeout-scale", bad], &[]).unwrap_err(),
                format!(
                    "invalid value `{bad}` for --timeout-scale: expected a number from 0.001 to 1000"
                )
            );
        }
        for good in ["0.001", "3", "1000"] {
            assert!(parse_with(&["run", "--timeout-scale", good], &[]).is_ok());
        }
    }

    #[test]
    fn help_and_version_win() {
        assert_eq!(parse_with(&["--help"], &[]), Ok(Command::Help));
        assert_eq!(parse_with(&["run", "-h"], &[]), Ok(Command::Help));
        assert_eq!(parse_with(&["-V"], &[]), Ok(Command::Version));
    }
}
