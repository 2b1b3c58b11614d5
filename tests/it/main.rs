//! Integration tests of vmtest-min.

mod driver;
pub mod fake_vm;
mod fake_vm_selftest;
mod html_report;
mod interactive;
mod language;
mod machine_state;
mod nix_config;
mod pause_on_failure;
mod python;
pub(crate) mod real;
mod real_debian;
mod real_transport;
pub mod support;
mod tidy;
mod timeout_scale;
mod transport;
mod xml_log;
