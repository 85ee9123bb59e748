#![no_main]
//! See `ferrotel_fuzz_check::otlp_protobuf` for the properties checked.

libfuzzer_sys::fuzz_target!(|data: &[u8]| ferrotel_fuzz_check::otlp_protobuf(data));
