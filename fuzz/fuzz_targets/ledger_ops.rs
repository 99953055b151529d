//! Fuzz target `ledger_ops`: see `harness::ledger_ops` for the invariants.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../harness.rs"]
mod harness;

fuzz_target!(|data: &[u8]| harness::ledger_ops(data));
