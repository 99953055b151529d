//! Fuzz target `exchange_info`: see `harness::exchange_info` for the invariants.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../harness.rs"]
mod harness;

fuzz_target!(|data: &[u8]| harness::exchange_info(data));
