//! Integration tests of vmtest-min.

mod driver;
pub mod fake_vm;
mod fake_vm_selftest;
mod hostile;
mod interactive;
mod language;
mod machine_state;
mod python;
pub(crate) mod real;
mod real_debian;
mod real_transport;
mod security;
pub mod support;
mod tidy;
mod transport;
mod xml_log;
