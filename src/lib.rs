//! vmtest-min: boots NixOS-style QEMU virtual machines and runs test scripts on them.
//!
//! The binary calls [`main`] and turns its result into the exit status; see
//! `ARCHITECTURE.md` for the map of modules.

mod backend;
mod base64;
mod cancel;
mod cli;
mod color;
mod command;
mod driver;
mod driver_config;
mod error;
mod exit;
/// Properties checked on arbitrary input, for the fuzz targets in `fuzz/` (built
/// with `--cfg fuzzing`, which cargo-fuzz sets) and the corpus replay test; not in
/// the program.
#[cfg(any(test, fuzzing))]
#[doc(hidden)]
pub mod fuzzing;
mod html_report;
mod image;
mod input;
mod interact;
mod interp;
mod json;
mod junit;
mod keys;
mod log_tree;
mod logger;
mod machine;
mod methods;
mod monitor;
mod ocr;
mod png;
mod private_dir;
mod process;
mod progress;
mod qemu;
mod qmp;
mod repl;
mod report;
mod run;
mod sanitize;
mod script;
mod serial;
mod setup;
mod shell;
mod signals;
mod socket;
#[cfg(test)]
mod tidy;
mod tree_copy;
mod vlan;
mod xml_log;

pub use error::Error;
pub use exit::Status;
pub use run::main;
