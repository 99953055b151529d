//! The ledger: a reserve + fill + release cycle on one thread (target >= 5 M cycles/s), on two
//! threads working on different assets (target >= 1.5x the single-thread rate) and on the same
//! asset (reported), next to a baseline: a `Mutex<HashMap<String, Decimal>>` doing a simple
//! reserve / settle pair. Then the order tracker applying executionReports (`orders` group).

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use aegis_exchange::ws_api::{ExecutionReport, WsFrame};
use aegis_exchange::{AssetId, Execution, Ledger};
use aegis_exchange::{ClientOrderIdGenerator, OrderRequest, Side};
use aegis_exchange::{OrderApplied, Orders, OrdersConfig, Submit};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

fn cycle(ledger: &Ledger, base: AssetId, quote: AssetId) {
    // A refused reserve would make the cycle cheap and the number meaningless: stop instead.
    let r = ledger.reserve_buy(base, quote, dec!(650.25)).unwrap_or_else(|e| panic!("the bench ran dry: {e}"));
    let exec = Execution {
        base_qty: dec!(0.005),
        quote_qty: dec!(325.125),
        commission: dec!(0.000005),
        commission_asset: base,
    };
    ledger.fill(&r, exec).unwrap_or_else(|e| panic!("{e}"));
    ledger.release(&r).unwrap_or_else(|e| panic!("{e}"));
}

fn setup() -> (Arc<Ledger>, Vec<AssetId>) {
    let ledger = Ledger::new();
    let ids: Vec<AssetId> = ["BTC", "USDT", "ETH", "FDUSD"].iter().filter_map(|a| ledger.asset(a).ok()).collect();
    for id in &ids {
        // 10^19: each cycle spends 325.125, so no run comes near the end of it.
        let _ = ledger.credit(*id, dec!(10000000000000000000));
    }
    (Arc::new(ledger), ids)
}

/// Runs `per_thread` cycles on each of `pairs.len()` threads; returns the wall time.
#[allow(clippy::disallowed_methods)] // a bench measures wall time; the crate itself never does
fn threaded(ledger: &Arc<Ledger>, pairs: &[(AssetId, AssetId)], per_thread: u64) -> Duration {
    let barrier = Arc::new(Barrier::new(pairs.len() + 1));
    let handles: Vec<_> = pairs
        .iter()
        .map(|&(base, quote)| {
            let (ledger, barrier) = (Arc::clone(ledger), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                for _ in 0..per_thread {
                    cycle(&ledger, base, quote);
                }
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    for h in handles {
        let _ = h.join();
    }
    start.elapsed()
}

fn ledger(c: &mut Criterion) {
    let (ledger, ids) = setup();
    let (btc, usdt, eth, fdusd) = (ids[0], ids[1], ids[2], ids[3]);
    let mut g = c.benchmark_group("ledger");
    g.throughput(Throughput::Elements(1));
    g.bench_function("reserve_fill_release_1_thread", |b| b.iter(|| cycle(&ledger, black_box(btc), black_box(usdt))));
    g.bench_function("reserve_fill_release_2_threads_different_assets", |b| {
        b.iter_custom(|iters| threaded(&ledger, &[(btc, usdt), (eth, fdusd)], iters.div_ceil(2)))
    });
    g.bench_function("reserve_fill_release_2_threads_same_assets", |b| {
        b.iter_custom(|iters| threaded(&ledger, &[(btc, usdt), (btc, usdt)], iters.div_ceil(2)))
    });
    let baseline: Mutex<HashMap<String, Decimal>> = Mutex::new(HashMap::from([("USDT".to_owned(), dec!(1000000))]));
    g.bench_function("baseline_mutex_hashmap_reserve_settle", |b| {
        b.iter(|| {
            if let Ok(mut m) = baseline.lock()
                && let Some(v) = m.get_mut(black_box("USDT"))
            {
                *v -= dec!(650.25);
                *v += dec!(650.25);
            }
        })
    });
    g.finish();
}

/// An executionReport for order 42 of `id`, from the docs' field set.
fn report(id: &str, x: &str, status: &str, t: i64, l: &str, z: &str) -> ExecutionReport {
    let text = format!(
        r#"{{"e":"executionReport","E":1499405658658,"s":"BTCUSDT","c":"{id}","S":"BUY","o":"LIMIT","f":"GTC",
        "q":"0.10000000","p":"60000.00000000","P":"0.00000000","F":"0.00000000","g":-1,"C":"","x":"{x}",
        "X":"{status}","r":"NONE","i":42,"l":"{l}","z":"{z}","L":"60000.00000000","n":"0.00000500","N":"BTC",
        "T":1499405658657,"t":{t},"I":8641984,"w":true,"m":false,"M":false,"O":1499405658657,
        "Z":"0.00000000","Y":"3000.00000000","Q":"0.00000000","W":1499405658657,"V":"NONE"}}"#
    );
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"))
}

/// The order tracker: a whole order (submit, NEW, a partial trade, the filling trade, release)
/// from decoded executionReports; a duplicate trade report (the reconnect replay case); and the
/// decoding of one executionReport frame.
fn orders(c: &mut Criterion) {
    const N: usize = 4096;
    let ledger = Arc::new(Ledger::new());
    let (btc, usdt) =
        (ledger.asset("BTC").unwrap_or_else(|e| panic!("{e}")), ledger.asset("USDT").unwrap_or_else(|e| panic!("{e}")));
    let _ = ledger.credit(usdt, dec!(10000000000000000000));
    let mut tracker = Orders::new(Arc::clone(&ledger), OrdersConfig { retain_done: N / 4, ..OrdersConfig::default() });
    let mut generator = ClientOrderIdGenerator::new("bench", 7).unwrap_or_else(|e| panic!("{e}"));
    let cases: Vec<(OrderRequest, [ExecutionReport; 3])> = (0..N)
        .map(|_| {
            let id = generator.next_id();
            let order = OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.1), dec!(60000)).with_client_order_id(id);
            let s = id.as_str();
            let reports = [
                report(s, "NEW", "NEW", -1, "0.00000000", "0.00000000"),
                report(s, "TRADE", "PARTIALLY_FILLED", 1, "0.05000000", "0.05000000"),
                report(s, "TRADE", "FILLED", 2, "0.05000000", "0.10000000"),
            ];
            (order, reports)
        })
        .collect();
    let mut g = c.benchmark_group("orders");
    g.throughput(Throughput::Elements(1));
    let mut i = 0;
    g.bench_function("order_lifecycle_submit_new_2_trades_release", |b| {
        b.iter(|| {
            let (order, reports) = &cases[i % N];
            i += 1;
            tracker.submit(Submit::new(order, btc, usdt)).unwrap_or_else(|e| panic!("{e}"));
            for r in reports {
                if !matches!(tracker.on_report(1, &black_box(r).report(), r.trade()), OrderApplied::Changed(_)) {
                    panic!("not applied");
                }
            }
        })
    });
    // A trade report already applied (the last order's filling trade).
    let last = &cases[(i + N - 1) % N].1[2];
    g.bench_function("execution_report_duplicate_trade", |b| {
        b.iter(|| assert_eq!(tracker.on_report(2, &black_box(last).report(), last.trade()), OrderApplied::Duplicate))
    });
    let frame = br#"{"subscriptionId":0,"event":{"e":"executionReport","E":1499405658658,"s":"ETHBTC","c":"mUvoqJxFIILMdfAW5iGSOW","S":"BUY","o":"LIMIT","f":"GTC","q":"1.00000000","p":"0.10264410","P":"0.00000000","F":"0.00000000","g":-1,"C":"","x":"NEW","X":"NEW","r":"NONE","i":4293153,"l":"0.00000000","z":"0.00000000","L":"0.00000000","n":"0","N":null,"T":1499405658657,"t":-1,"I":8641984,"w":true,"m":false,"M":false,"O":1499405658657,"Z":"0.00000000","Y":"0.00000000","Q":"0.00000000","W":1499405658657,"V":"NONE"}}"#;
    g.bench_function("execution_report_decode_frame", |b| {
        b.iter(|| WsFrame::decode(black_box(frame)).unwrap_or_else(|e| panic!("{e}")))
    });
    g.finish();
}

criterion_group!(benches, ledger, orders);
criterion_main!(benches);
