//! Fuzz target: the monitor properties of `vmtest_min::fuzzing::monitor`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| vmtest_min::fuzzing::monitor(data));
