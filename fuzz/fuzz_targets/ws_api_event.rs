//! Fuzz target `ws_api_event`: see `harness::ws_api_event` for the invariants.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../harness.rs"]
mod harness;

fuzz_target!(|data: &[u8]| harness::ws_api_event(data));
