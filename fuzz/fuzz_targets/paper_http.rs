//! Fuzz target `paper_http`: see `harness::paper_http` for the invariants.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../harness.rs"]
mod harness;

fuzz_target!(|data: &[u8]| harness::paper_http(data));
