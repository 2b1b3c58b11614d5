//! Integration tests of vmtest-min.

mod driver;
pub mod fake_vm;
mod fake_vm_selftest;
mod files;
mod html_report;
mod interactive;
mod lang;
mod langfix;
mod language;
mod machine_state;
mod nix_config;
mod pause_on_failure;
mod polling;
mod python;
pub(crate) mod qmp;
pub(crate) mod real;
pub(crate) mod real_debian;
mod real_files;
mod real_qmp;
mod real_screen;
mod real_transport;
mod security;
pub mod support;
mod tidy;
mod timeout_scale;
mod transport;
mod xml_log;
