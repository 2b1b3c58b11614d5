//! Fuzz target: the xml properties of `vmtest_min::fuzzing::xml`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| vmtest_min::fuzzing::xml(data));
