#![no_main]
//! See `ferrotel_fuzz_check::file_log_parsers` for the properties checked.

libfuzzer_sys::fuzz_target!(|data: &[u8]| ferrotel_fuzz_check::file_log_parsers(data));
