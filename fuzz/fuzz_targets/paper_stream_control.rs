//! Fuzz target `paper_stream_control`: see `harness::paper_stream_control` for the invariants.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../harness.rs"]
mod harness;

fuzz_target!(|data: &[u8]| harness::paper_stream_control(data));
