//! Integration tests of vmtest-min.

mod driver;
pub mod fake_vm;
mod fake_vm_selftest;
mod interactive;
mod lang;
mod language;
mod machine_state;
mod polling;
mod python;
pub(crate) mod qmp;
pub(crate) mod real;
mod real_debian;
mod real_qmp;
mod real_transport;
mod security;
pub mod support;
mod tidy;
mod transport;
mod xml_log;
