//! Fuzz target `stream_frame`: see `harness::stream_frame` for the invariants.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../harness.rs"]
mod harness;

fuzz_target!(|data: &[u8]| harness::stream_frame(data));
