//! Fuzz target: the script properties of `vmtest_min::fuzzing::script`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| vmtest_min::fuzzing::script(data));
