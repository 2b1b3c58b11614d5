//! vmtest-min: boots NixOS-style QEMU virtual machines and runs test scripts on them.
//!
//! See `ARCHITECTURE.md` for the map of modules.

pub mod backend;
pub mod cancel;
pub mod cli;
pub mod color;
pub mod command;
pub mod config;
pub mod driver;
pub mod error;
pub mod exit;
pub mod input;
pub mod interact;
pub mod interp;
pub mod logger;
pub mod machine;
pub mod methods;
pub(crate) mod monitor;
pub mod process;
pub(crate) mod qemu;
pub mod repl;
pub mod report;
pub mod run;
pub mod sanitize;
pub mod script;
pub mod serial;
pub(crate) mod shell;
pub mod signals;
pub(crate) mod socket;
pub mod vlan;
pub mod xml_log;
