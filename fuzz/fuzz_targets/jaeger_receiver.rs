#![no_main]
//! See `ferrotel_fuzz_check::jaeger_receiver` for the properties checked.

libfuzzer_sys::fuzz_target!(|data: &[u8]| ferrotel_fuzz_check::jaeger_receiver(data));
