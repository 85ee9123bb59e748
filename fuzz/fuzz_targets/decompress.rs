#![no_main]
//! See `ferrotel_fuzz_check::decompress` for the properties checked.

libfuzzer_sys::fuzz_target!(|data: &[u8]| ferrotel_fuzz_check::decompress(data));
