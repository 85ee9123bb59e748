#![no_main]
//! See `ferrotel_fuzz_check::config_load` for the properties checked.

libfuzzer_sys::fuzz_target!(|data: &[u8]| ferrotel_fuzz_check::config_load(data));
