#![no_main]
//! See `ferrotel_fuzz_check::ottl_statements` for the properties checked.

libfuzzer_sys::fuzz_target!(|data: &[u8]| ferrotel_fuzz_check::ottl_statements(data));
