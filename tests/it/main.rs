//! Integration tests of vmtest-min.

mod driver;
pub mod fake_vm;
mod fake_vm_selftest;
mod interactive;
mod real;
mod real_debian;
pub mod support;
mod tidy;
mod xml_log;
