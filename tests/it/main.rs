//! Integration tests of vmtest-min.

mod driver;
pub mod fake_vm;
mod fake_vm_selftest;
mod files;
mod interactive;
mod language;
mod machine_state;
mod python;
pub(crate) mod real;
pub(crate) mod real_debian;
mod real_files;
mod real_transport;
pub mod support;
mod tidy;
mod transport;
mod xml_log;
