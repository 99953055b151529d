//! Replays the committed cargo-fuzz corpus on stable, so CI checks the fuzz targets' invariants
//! on every input the fuzzer kept, without nightly.

mod common;

use std::path::Path;

fn replay(target: &str, run: fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(target);
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
        let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        run(&data);
        count += 1;
    }
    count
}

#[test]
fn order_validation_corpus() {
    assert!(replay("order_validation", common::harness::order_validation) >= 10);
}

#[test]
fn exchange_info_corpus() {
    assert!(replay("exchange_info", common::harness::exchange_info) >= 5);
}

#[test]
fn rest_response_corpus() {
    assert!(replay("rest_response", common::harness::rest_response) >= 30);
}

#[test]
fn ws_api_event_corpus() {
    assert!(replay("ws_api_event", common::harness::ws_api_event) >= 25);
}

#[test]
fn rate_headers_corpus() {
    assert!(replay("rate_headers", common::harness::rate_headers) >= 20);
}

#[test]
fn stream_frame_corpus() {
    assert!(replay("stream_frame", common::harness::stream_frame) >= 20);
}

#[test]
fn book_sequence_corpus() {
    assert!(replay("book_sequence", common::harness::book_sequence) >= 5);
}

#[test]
fn ledger_ops_corpus() {
    assert!(replay("ledger_ops", common::harness::ledger_ops) >= 5);
}

#[test]
fn list_events_corpus() {
    assert!(replay("list_events", common::harness::list_events) >= 20);
}

#[test]
fn order_events_corpus() {
    assert!(replay("order_events", common::harness::order_events) >= 5);
}

#[test]
fn paper_http_corpus() {
    assert!(replay("paper_http", common::harness::paper_http) >= 10);
}

#[test]
fn paper_ws_api_corpus() {
    assert!(replay("paper_ws_api", common::harness::paper_ws_api) >= 10);
}

#[test]
fn paper_stream_control_corpus() {
    assert!(replay("paper_stream_control", common::harness::paper_stream_control) >= 10);
}
