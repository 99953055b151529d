//! Fuzz target `rest_response`: see `harness::rest_response` for the invariants.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../harness.rs"]
mod harness;

fuzz_target!(|data: &[u8]| harness::rest_response(data));
