//! Fuzz target: the answer properties of `vmtest_min::fuzzing::answer`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| vmtest_min::fuzzing::answer(data));
