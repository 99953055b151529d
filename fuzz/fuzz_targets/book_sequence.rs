//! Fuzz target `book_sequence`: see `harness::book_sequence` for the invariants.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../harness.rs"]
mod harness;

fuzz_target!(|data: &[u8]| harness::book_sequence(data));
