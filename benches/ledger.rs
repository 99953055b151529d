//! The ledger: a reserve + fill + release cycle on one thread (target >= 5 M cycles/s), on two
//! threads working on different assets (target >= 1.5x the single-thread rate) and on the same
//! asset (reported), next to a baseline: a `Mutex<HashMap<String, Decimal>>` doing a simple
//! reserve / settle pair.

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use aegis_exchange::ledger::{AssetId, Execution, Ledger};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

fn cycle(ledger: &Ledger, base: AssetId, quote: AssetId) {
    let Ok(r) = ledger.reserve_buy(base, quote, dec!(650.25)) else { return };
    let exec = Execution {
        base_qty: dec!(0.005),
        quote_qty: dec!(325.125),
        commission: dec!(0.000005),
        commission_asset: base,
    };
    let _ = ledger.fill(&r, exec);
    let _ = ledger.release(&r);
}

fn setup() -> (Arc<Ledger>, Vec<AssetId>) {
    let ledger = Ledger::new();
    let ids: Vec<AssetId> = ["BTC", "USDT", "ETH", "FDUSD"].iter().filter_map(|a| ledger.asset(a).ok()).collect();
    for id in &ids {
        let _ = ledger.credit(*id, dec!(10000000000));
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

criterion_group!(benches, ledger);
criterion_main!(benches);
