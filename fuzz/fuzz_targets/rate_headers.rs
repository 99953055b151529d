//! Fuzz target `rate_headers`: see `harness::rate_headers` for the invariants.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../harness.rs"]
mod harness;

fuzz_target!(|data: &[u8]| harness::rate_headers(data));
