//! Fuzz target `paper_ws_api`: see `harness::paper_ws_api` for the invariants.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../harness.rs"]
mod harness;

fuzz_target!(|data: &[u8]| harness::paper_ws_api(data));
