//! The Nix test framework's driver configuration file (`--config`): the JSON that
//! nixpkgs' `nixos/lib/testing/driver-configuration.nix` writes and passes to the
//! driver through its wrapper.
//!
//! ```json
//! {"vms": {"server": {"name": "server", "start_script": "/nix/store/…/bin/run-server-vm"}},
//!  "containers": {}, "vlans": [1], "global_timeout": 3600,
//!  "enable_ssh_backdoor": false, "test_script": "/nix/store/…-test-script"}
//! ```
//!
//! Each `vms` entry becomes a machine under its key, spelled as the framework
//! names it for the test script (`pythonizeName` in nixpkgs' `driver.nix`: a
//! character outside `[A-Za-z0-9_]`, or a leading digit, becomes `_`, so node
//! `web-1` is `web_1`). Containers (systemd-nspawn) and
//! the SSH backdoor are not implemented, so a file that asks for them is refused
//! rather than half-run; keys this module does not know are ignored, as new
//! framework versions add some. It reads the file with the project's own JSON
//! reader ([`crate::json`]).

use crate::json::{self, Json};
use std::fmt;
use std::path::PathBuf;

/// What a configuration file asks for.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DriverConfiguration {
    /// Machine names and start scripts, in the file's order.
    pub(crate) machines: Vec<(String, PathBuf)>,
    /// Vlan numbers.
    pub(crate) vlans: Vec<u32>,
    /// The global timeout, in seconds.
    pub(crate) global_timeout: f64,
    /// The test script's path.
    pub(crate) test_script: PathBuf,
}

/// Why a configuration file cannot be used.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigProblem {
    /// The text is not JSON.
    Json(String),
    /// A key the file must have is missing.
    Missing {
        /// Where, as a dotted path such as `vms.server.start_script`.
        key: String,
    },
    /// A value has the wrong type or is out of range.
    Invalid {
        /// Where.
        key: String,
        /// What was expected.
        expected: &'static str,
    },
    /// Two nodes have the same name in the test script (`web-1` and `web_1`).
    SameScriptName {
        /// The first node, as the file names it.
        first: String,
        /// The second node.
        second: String,
        /// The name both have in the script.
        name: String,
    },
    /// The file asks for something vmtest-min does not implement.
    Unsupported {
        /// The key.
        key: &'static str,
        /// What it asked for.
        what: &'static str,
    },
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigProblem::Json(message) => write!(f, "{message}"),
            ConfigProblem::Missing { key } => write!(f, "missing key `{key}`"),
            ConfigProblem::Invalid { key, expected } => {
                write!(f, "`{key}` must be {expected}")
            }
            ConfigProblem::SameScriptName {
                first,
                second,
                name,
            } => write!(
                f,
                "nodes `{first}` and `{second}` are both `{name}` in the test script"
            ),
            ConfigProblem::Unsupported { key, what } => write!(
                f,
                "`{key}` asks for {what}, which vmtest-min does not support"
            ),
        }
    }
}

/// Reads a configuration from the text of its file.
pub(crate) fn parse(text: &str) -> Result<DriverConfiguration, ConfigProblem> {
    let root = json::parse(text).map_err(|error| ConfigProblem::Json(error.to_string()))?;
    let top = Path::root();
    let fields = top.object(&root)?;
    let vms = top.key("vms");
    let mut machines: Vec<(String, PathBuf)> = Vec::new();
    let mut nodes: Vec<&str> = Vec::new();
    for (name, vm) in vms.object(vms.get(fields)?)? {
        if name.is_empty() {
            return Err(vms.invalid("nodes with non-empty names"));
        }
        let at = vms.key(name);
        let script = at.key("start_script");
        let start_script = PathBuf::from(script.string(script.get(at.object(vm)?)?)?);
        let seen = script_name(name);
        if let Some(index) = machines.iter().position(|(other, _)| *other == seen) {
            return Err(ConfigProblem::SameScriptName {
                first: nodes[index].to_string(),
                second: name.clone(),
                name: seen,
            });
        }
        machines.push((seen, start_script));
        nodes.push(name);
    }
    let containers = top.key("containers");
    if let Some(value) = containers.find(fields)
        && !containers.object(value)?.is_empty()
    {
        return Err(ConfigProblem::Unsupported {
            key: "containers",
            what: "systemd-nspawn containers",
        });
    }
    let backdoor = top.key("enable_ssh_backdoor");
    if let Some(value) = backdoor.find(fields)
        && backdoor.bool(value)?
    {
        return Err(ConfigProblem::Unsupported {
            key: "enable_ssh_backdoor",
            what: "the SSH backdoor over vsock",
        });
    }
    let vlans_key = top.key("vlans");
    let mut vlans = Vec::new();
    for (index, vlan) in vlans_key.array(vlans_key.get(fields)?)?.iter().enumerate() {
        let at = vlans_key.key(&index.to_string());
        match vlan {
            Json::Int(n) if (1..256).contains(n) => vlans.push(*n as u32),
            _ => return Err(at.invalid("a number from 1 to 255")),
        }
    }
    let timeout = top.key("global_timeout");
    let global_timeout = match timeout.get(fields)? {
        Json::Int(n) if *n > 0 => *n as f64,
        Json::Float(x) if x.is_finite() && *x > 0.0 => *x,
        _ => return Err(timeout.invalid("a positive number of seconds")),
    };
    let script = top.key("test_script");
    let test_script = PathBuf::from(script.string(script.get(fields)?)?);
    Ok(DriverConfiguration {
        machines,
        vlans,
        global_timeout,
        test_script,
    })
}

/// A node's name as the test script sees it: characters outside `[A-Za-z0-9_]`,
/// and a leading digit, become `_`.
fn script_name(node: &str) -> String {
    node.chars()
        .enumerate()
        .map(
            |(i, c)| match c.is_ascii_alphabetic() || c == '_' || (i > 0 && c.is_ascii_digit()) {
                true => c,
                false => '_',
            },
        )
        .collect()
}

/// A place in the document, for messages: the dotted path of keys to it.
struct Path(String);

impl Path {
    fn root() -> Path {
        Path(String::new())
    }

    fn key(&self, key: &str) -> Path {
        match self.0.is_empty() {
            true => Path(key.to_string()),
            false => Path(format!("{}.{key}", self.0)),
        }
    }

    fn invalid(&self, expected: &'static str) -> ConfigProblem {
        ConfigProblem::Invalid {
            key: self.shown(),
            expected,
        }
    }

    fn shown(&self) -> String {
        match self.0.is_empty() {
            true => "(the document)".to_string(),
            false => self.0.clone(),
        }
    }

    /// This place's value in `fields` (the members of its parent object), if there.
    fn find<'a>(&self, fields: &'a [(String, Json)]) -> Option<&'a Json> {
        let last = self.0.rsplit('.').next().unwrap_or("");
        fields.iter().find(|(k, _)| k == last).map(|(_, v)| v)
    }

    fn get<'a>(&self, fields: &'a [(String, Json)]) -> Result<&'a Json, ConfigProblem> {
        self.find(fields)
            .ok_or_else(|| ConfigProblem::Missing { key: self.shown() })
    }

    fn object<'a>(&self, value: &'a Json) -> Result<&'a [(String, Json)], ConfigProblem> {
        match value {
            Json::Object(fields) => Ok(fields),
            _ => Err(self.invalid("an object")),
        }
    }

    fn array<'a>(&self, value: &'a Json) -> Result<&'a [Json], ConfigProblem> {
        match value {
            Json::Array(items) => Ok(items),
            _ => Err(self.invalid("a list")),
        }
    }

    fn string<'a>(&self, value: &'a Json) -> Result<&'a str, ConfigProblem> {
        match value {
            Json::Str(text) if !text.is_empty() => Ok(text),
            _ => Err(self.invalid("a non-empty string")),
        }
    }

    fn bool(&self, value: &Json) -> Result<bool, ConfigProblem> {
        match value {
            Json::Bool(b) => Ok(*b),
            _ => Err(self.invalid("true or false")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file as `driver-configuration.nix` writes it (`writers.writeJSON`).
    const WRITTEN: &str = r#"{
  "containers": {},
  "enable_ssh_backdoor": false,
  "global_timeout": 1800,
  "test_script": "/nix/store/aaaa-test-script",
  "vlans": [
    1
  ],
  "vms": {
    "client": {
      "name": "client",
      "start_script": "/nix/store/bbbb-nixos-vm/bin/run-client-vm"
    },
    "server": {
      "name": "server",
      "start_script": "/nix/store/cccc-nixos-vm/bin/run-server-vm"
    }
  }
}"#;

    #[test]
    fn reads_what_the_framework_writes() {
        let config = parse(WRITTEN).unwrap();
        assert_eq!(
            config.machines,
            [
                (
                    "client".to_string(),
                    PathBuf::from("/nix/store/bbbb-nixos-vm/bin/run-client-vm")
                ),
                (
                    "server".to_string(),
                    PathBuf::from("/nix/store/cccc-nixos-vm/bin/run-server-vm")
                ),
            ]
        );
        assert_eq!(config.vlans, [1]);
        assert_eq!(config.global_timeout, 1800.0);
        assert_eq!(
            config.test_script,
            PathBuf::from("/nix/store/aaaa-test-script")
        );
    }

    #[test]
    fn machines_are_named_as_the_script_sees_them() {
        assert_eq!(script_name("web-1"), "web_1");
        assert_eq!(script_name("1st.node"), "_st_node");
        assert_eq!(script_name("client"), "client");
        let config = parse(&WRITTEN.replacen("\"server\": {", "\"my-server\": {", 1)).unwrap();
        assert_eq!(config.machines[1].0, "my_server");
    }

    #[track_caller]
    fn problem(from: &str, to: &str, expected: &str) {
        let text = WRITTEN.replacen(from, to, 1);
        assert_ne!(text, WRITTEN, "`{from}` not in the sample");
        assert_eq!(parse(&text).unwrap_err().to_string(), expected);
    }

    #[test]
    fn problems_name_the_key() {
        problem(
            r#""containers": {}"#,
            r#""containers": {"c": {"name": "c", "start_script": "/x"}}"#,
            "`containers` asks for systemd-nspawn containers, which vmtest-min does not support",
        );
        problem(
            r#""enable_ssh_backdoor": false"#,
            r#""enable_ssh_backdoor": true"#,
            "`enable_ssh_backdoor` asks for the SSH backdoor over vsock, which vmtest-min \
             does not support",
        );
        problem(
            r#""start_script": "/nix/store/cccc-nixos-vm/bin/run-server-vm""#,
            r#""start": "/x""#,
            "missing key `vms.server.start_script`",
        );
        problem(
            "1800",
            "-5",
            "`global_timeout` must be a positive number of seconds",
        );
        problem(
            "    1\n",
            "    300\n",
            "`vlans.0` must be a number from 1 to 255",
        );
        problem(r#""vms""#, r#""machines""#, "missing key `vms`");
        problem(
            r#""server": {"#,
            r#""": {"#,
            "`vms` must be nodes with non-empty names",
        );
        problem(
            r#""server": {"#,
            r#""client-": {"name": "x", "start_script": "/x"}, "client_": {"#,
            "nodes `client-` and `client_` are both `client_` in the test script",
        );
        assert_eq!(
            parse("[]").unwrap_err().to_string(),
            "`(the document)` must be an object"
        );
        assert!(
            parse("{")
                .unwrap_err()
                .to_string()
                .starts_with("invalid JSON at line 1")
        );
    }
}
