//! The local order book: SPEC §8.3 cases one by one, a property test against a simulated true
//! book, and the live hftbacktest captures replayed through the sync, checked against every
//! bookTicker that carries the book's update id.

use std::collections::BTreeMap;
use std::path::PathBuf;

use aegis_exchange::rest::{DepthSnapshot, Level};
use aegis_exchange::stream::DepthUpdate;
use aegis_exchange::stream::{MarketEvent, StreamDecoder, Symbol};
use aegis_exchange::{BookApplied, BookError, BookSync, OrderBook};
use proptest::prelude::*;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde_json::Value;

fn lvl(p: Decimal, q: Decimal) -> Level {
    Level { price: p, qty: q }
}

fn diff(from: u64, to: u64, bids: Vec<Level>, asks: Vec<Level>) -> DepthUpdate {
    DepthUpdate {
        event_time: 0,
        symbol: Symbol::new("BNBBTC").unwrap(),
        first_update_id: from,
        final_update_id: to,
        bids,
        asks,
    }
}

fn snapshot(id: u64) -> DepthSnapshot {
    DepthSnapshot {
        last_update_id: id,
        bids: vec![lvl(dec!(10), dec!(1)), lvl(dec!(9), dec!(2))],
        asks: vec![lvl(dec!(11), dec!(1))],
    }
}

#[test]
fn the_procedure_case_by_case() {
    let mut sync = BookSync::new(100, 100);
    assert!(sync.needs_snapshot());
    // Buffered from connect; the one ending at the snapshot id is dropped, the next applies.
    assert_eq!(sync.on_diff(diff(157, 160, vec![lvl(dec!(10), dec!(7))], vec![])), Ok(None));
    assert_eq!(sync.on_diff(diff(161, 163, vec![lvl(dec!(9), dec!(0))], vec![])), Ok(None));
    // A snapshot older than the first buffered event is refused (fetch another).
    assert_eq!(sync.on_snapshot(&snapshot(150)), Err(BookError::SnapshotTooOld { snapshot: 150, first_buffered: 157 }));
    // One event short of the buffer is a gap too; exactly U - 1 would be consistent.
    assert_eq!(sync.on_snapshot(&snapshot(155)), Err(BookError::SnapshotTooOld { snapshot: 155, first_buffered: 157 }));
    assert_eq!(sync.on_snapshot(&snapshot(160)), Ok(1));
    let book = sync.book().cloned().unwrap_or_else(|| panic!("synced"));
    assert_eq!(book.last_update_id(), 163);
    // 160's event was discarded (u <= lastUpdateId): the bid at 10 keeps the snapshot's 1; 9 was removed by a 0.
    assert_eq!(book.bids().collect::<Vec<_>>(), vec![lvl(dec!(10), dec!(1))]);
    // Duplicates and out-of-order events are ignored.
    assert_eq!(sync.on_diff(diff(161, 163, vec![lvl(dec!(10), dec!(99))], vec![])), Ok(Some(BookApplied::Stale)));
    assert_eq!(sync.on_diff(diff(150, 155, vec![], vec![])), Ok(Some(BookApplied::Stale)));
    // Overlapping events apply (U <= id + 1 <= u).
    assert_eq!(sync.on_diff(diff(162, 165, vec![lvl(dec!(10.5), dec!(3))], vec![])), Ok(Some(BookApplied::Updated)));
    assert_eq!(sync.book().and_then(OrderBook::best_bid), Some(lvl(dec!(10.5), dec!(3))));
    // A gap discards the book and asks for a resync.
    assert_eq!(sync.on_diff(diff(167, 170, vec![], vec![])), Err(BookError::Gap { expected: 166, got: 167 }));
    assert!(sync.needs_snapshot() && sync.book().is_none());
    // The event that revealed the gap is kept for the next sync.
    assert_eq!(sync.on_snapshot(&snapshot(168)), Ok(1));
    assert_eq!(sync.book().map(OrderBook::last_update_id), Some(170));
    // A full buffer before the snapshot starts over.
    let mut tiny = BookSync::new(10, 2);
    assert_eq!(tiny.on_diff(diff(1, 1, vec![], vec![])), Ok(None));
    assert_eq!(tiny.on_diff(diff(2, 2, vec![], vec![])), Ok(None));
    assert_eq!(tiny.on_diff(diff(3, 3, vec![], vec![])), Err(BookError::BufferFull));
}

#[test]
fn depth_is_bounded_and_the_worst_levels_go() {
    let snap = DepthSnapshot {
        last_update_id: 1,
        bids: (1..=10).map(|p| lvl(Decimal::from(p), dec!(1))).collect(),
        asks: (11..=20).map(|p| lvl(Decimal::from(p), dec!(1))).collect(),
    };
    let book = OrderBook::from_snapshot(&snap, 3);
    assert_eq!(book.bids().map(|l| l.price).collect::<Vec<_>>(), vec![dec!(10), dec!(9), dec!(8)]);
    assert_eq!(book.asks().map(|l| l.price).collect::<Vec<_>>(), vec![dec!(11), dec!(12), dec!(13)]);
    assert_eq!(book.spread(), Some(dec!(1)));
    assert!(!book.is_crossed());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// A true book evolves by random level changes, published as consecutive diff events; the
    /// client connects, buffers, takes a snapshot at a random point, and must end equal to the
    /// true book, sorted and never crossed after every event.
    #[test]
    fn the_synced_book_equals_the_true_book(
        changes in proptest::collection::vec((any::<bool>(), 1u32..40, 0u32..5), 1..300),
        snapshot_at in 0usize..300,
        per_event in 1usize..4,
    ) {
        // Bids at prices 1..=40, asks at 41..=80: a valid book is never crossed.
        let mut truth_bids: BTreeMap<Decimal, Decimal> = BTreeMap::new();
        let mut truth_asks: BTreeMap<Decimal, Decimal> = BTreeMap::new();
        let mut events = Vec::new();
        let mut snapshots = Vec::new();
        let mut id = 1000u64;
        for chunk in changes.chunks(per_event) {
            snapshots.push(DepthSnapshot {
                last_update_id: id,
                bids: truth_bids.iter().rev().map(|(p, q)| lvl(*p, *q)).collect(),
                asks: truth_asks.iter().map(|(p, q)| lvl(*p, *q)).collect(),
            });
            let (mut bids, mut asks) = (Vec::new(), Vec::new());
            for &(bid, p, q) in chunk {
                let price = Decimal::from(if bid { p } else { p + 40 });
                let qty = Decimal::from(q);
                let side = if bid { &mut truth_bids } else { &mut truth_asks };
                if qty.is_zero() { side.remove(&price); } else { side.insert(price, qty); }
                if bid { bids.push(lvl(price, qty)) } else { asks.push(lvl(price, qty)) }
            }
            let first = id + 1;
            id += u64::try_from(chunk.len()).unwrap_or(1);
            events.push(diff(first, id, bids, asks));
        }
        let snap_index = snapshot_at % snapshots.len();
        let mut sync = BookSync::new(1000, 10_000);
        // Connect before the snapshot's moment: every event is received, the snapshot arrives after `snap_index` events.
        for (i, e) in events.iter().enumerate() {
            if i == snap_index + 1 {
                sync.on_snapshot(&snapshots[snap_index]).map_err(|e| TestCaseError::fail(e.to_string()))?;
            }
            sync.on_diff(e.clone()).map_err(|e| TestCaseError::fail(e.to_string()))?;
            if let Some(book) = sync.book() {
                prop_assert!(!book.is_crossed());
                let bids: Vec<Decimal> = book.bids().map(|l| l.price).collect();
                prop_assert!(bids.windows(2).all(|w| w[0] > w[1]));
                let asks: Vec<Decimal> = book.asks().map(|l| l.price).collect();
                prop_assert!(asks.windows(2).all(|w| w[0] < w[1]));
            }
        }
        if sync.needs_snapshot() {
            sync.on_snapshot(&snapshots[snap_index]).map_err(|e| TestCaseError::fail(e.to_string()))?;
        }
        let book = sync.book().ok_or_else(|| TestCaseError::fail("not synced"))?;
        prop_assert_eq!(book.last_update_id(), id);
        prop_assert_eq!(book.bids().collect::<Vec<_>>(), truth_bids.iter().rev().map(|(p, q)| lvl(*p, *q)).collect::<Vec<_>>());
        prop_assert_eq!(book.asks().collect::<Vec<_>>(), truth_asks.iter().map(|(p, q)| lvl(*p, *q)).collect::<Vec<_>>());
    }
}

/// Replays a hftbacktest capture: connect, buffer, snapshot, diffs; wherever the book's update id
/// equals a bookTicker's `u`, the best bid / ask and their quantities must match it.
fn replay(path: &PathBuf) -> (usize, usize, u64) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut sync = BookSync::new(5000, 100_000);
    let mut decoder = StreamDecoder::default();
    let (mut applied, mut matched) = (0, 0);
    // bookTicker is real time, diffs come every 100 ms: the ticker for update X usually arrives
    // before the diff that ends at X. Keep the tickers by `u` and compare when the book gets there.
    let mut tickers: BTreeMap<u64, (Level, Level)> = BTreeMap::new();
    let check = |book: &OrderBook, tickers: &mut BTreeMap<u64, (Level, Level)>, matched: &mut usize| {
        if let Some((bid, ask)) = tickers.remove(&book.last_update_id()) {
            assert_eq!(book.best_bid(), Some(bid), "best bid at {}", book.last_update_id());
            assert_eq!(book.best_ask(), Some(ask), "best ask at {}", book.last_update_id());
            *matched += 1;
        }
        // Tickers older than the book can no longer match: bounded memory.
        tickers.retain(|u, _| *u > book.last_update_id());
    };
    for line in text.lines() {
        let row: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}"));
        let msg = row.get("msg").cloned().unwrap_or(Value::Null);
        if row.get("source").and_then(Value::as_str) == Some("rest") {
            let snap: DepthSnapshot = serde_json::from_value(msg).unwrap_or_else(|e| panic!("snapshot: {e}"));
            applied += sync.on_snapshot(&snap).unwrap_or_else(|e| panic!("{e}"));
        } else {
            // Through the stream decoder, as the client would: the combined frame's bytes.
            let frame = serde_json::to_vec(&msg).unwrap_or_else(|e| panic!("{e}"));
            let local_ns = row.get("local_ts_ns").and_then(Value::as_i64).unwrap_or(0);
            let decoded = decoder.decode(local_ns / 1_000_000, &frame).unwrap_or_else(|e| panic!("{e}: {line}"));
            match decoded.event {
                MarketEvent::DepthUpdate(event) => {
                    if let Some(BookApplied::Updated) = sync.on_diff(event).unwrap_or_else(|e| panic!("{e}")) {
                        applied += 1;
                    }
                }
                MarketEvent::BookTicker(t) => {
                    tickers.insert(t.update_id, (t.bid, t.ask));
                }
                MarketEvent::Trade(_) => continue,
                other => panic!("unexpected event {other:?}"),
            }
        }
        if let Some(book) = sync.book() {
            assert!(!book.is_crossed(), "crossed at {}", book.last_update_id());
            check(book, &mut tickers, &mut matched);
        }
    }
    // Every frame of the capture is clean: nothing was refused.
    assert_eq!(decoder.stats().poisoned_total() + decoder.stats().malformed(), 0);
    (applied, matched, decoder.stats().accepted())
}

#[test]
fn live_captures_replay_and_match_every_book_ticker() {
    let Some(dir) = std::env::var_os("AEGIS_RECORDED_DIR") else {
        assert!(std::env::var("CI").is_err(), "CI must set AEGIS_RECORDED_DIR");
        return;
    };
    let dir = PathBuf::from(dir).join("market_data");
    let (applied, matched, frames) =
        replay(&dir.join("hftbacktest_spot_btcusdt_2024-08-08_snapshot_plus_2000_diffs.jsonl"));
    assert_eq!(applied, 2000, "the capture holds 2000 applicable diffs");
    assert!(matched > 100, "{matched} bookTicker checkpoints");
    eprintln!("BTCUSDT: {frames} frames decoded, {applied} diffs applied, {matched} bookTicker checkpoints matched");
    let (applied, matched, frames) =
        replay(&dir.join("hftbacktest_spot_ethusdt_2024-08-08_snapshot_plus_500_diffs.jsonl"));
    assert_eq!(applied, 500);
    assert!(matched > 10, "{matched}");
    eprintln!("ETHUSDT: {frames} frames decoded, {applied} diffs applied, {matched} bookTicker checkpoints matched");
    eprintln!("BTCUSDT and ETHUSDT replays matched every bookTicker at the book's update id");
}
