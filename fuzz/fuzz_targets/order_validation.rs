//! Fuzz target `order_validation`: see `harness::order_validation` for the invariants.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../harness.rs"]
mod harness;

fuzz_target!(|data: &[u8]| harness::order_validation(data));
