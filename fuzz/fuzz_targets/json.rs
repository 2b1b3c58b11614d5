//! Fuzz target: the json properties of `vmtest_min::fuzzing::json`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| vmtest_min::fuzzing::json(data));
