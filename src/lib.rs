//! vmtest-min: boots NixOS-style QEMU virtual machines and runs test scripts on them.
//!
//! See `ARCHITECTURE.md` for the map of modules.

pub mod backend;
pub mod cancel;
pub mod cli;
pub mod color;
pub mod config;
pub mod driver;
pub mod error;
pub mod exit;
pub mod input;
pub mod interact;
pub mod interp;
pub(crate) mod json;
pub mod logger;
pub mod machine;
pub mod methods;
pub mod monitor;
pub mod process;
pub mod qemu;
pub mod repl;
pub mod report;
pub mod run;
pub mod sanitize;
pub mod script;
pub mod serial;
pub mod shell;
pub mod signals;
pub mod vlan;
pub mod xml_log;
