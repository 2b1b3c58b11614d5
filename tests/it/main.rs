//! Integration tests of vmtest-min.

mod driver;
pub mod fake_vm;
mod fake_vm_selftest;
mod interactive;
mod language;
mod python;
pub(crate) mod real;
pub mod support;
mod tidy;
mod xml_log;
