//! Normalize + validate a LIMIT order against BTCUSDT's full live filter set (the bundled 2025
//! capture: PRICE_FILTER, LOT_SIZE, ICEBERG_PARTS, MARKET_LOT_SIZE, TRAILING_DELTA,
//! PERCENT_PRICE_BY_SIDE, NOTIONAL, MAX_NUM_ORDERS, MAX_NUM_ALGO_ORDERS), against a baseline
//! that does the same checks through `f64` (fast, and wrong on values like 0.1 + 0.2).

use std::hint::black_box;
use std::time::{Duration, Instant};

use aegis_exchange::{ExchangeInfo, MarketContext, OrderRequest, Side};
use criterion::{Criterion, criterion_group, criterion_main};
use rust_decimal_macros::dec;

/// The naive f64 version of the same LIMIT-order checks: round down to step and tick, then
/// min/max/step for price and quantity, the percent band and the notional.
#[inline(never)]
fn f64_normalize_and_check(qty: f64, price: f64, reference: f64) -> Result<(f64, f64), &'static str> {
    let (tick, min_p, max_p) = (0.01, 0.01, 1_000_000.0);
    let (step, min_q, max_q) = (0.00001, 0.00001, 9000.0);
    let q = (qty / step).floor() * step;
    let p = (price / tick).floor() * tick;
    if p < min_p || p > max_p || ((p / tick).round() * tick - p).abs() > 1e-9 {
        return Err("PRICE_FILTER");
    }
    if q < min_q || q > max_q || ((q / step).round() * step - q).abs() > 1e-12 {
        return Err("LOT_SIZE");
    }
    if p > reference * 5.0 || p < reference * 0.2 {
        return Err("PERCENT_PRICE_BY_SIDE");
    }
    let notional = p * q;
    if !(5.0..=9_000_000.0).contains(&notional) {
        return Err("NOTIONAL");
    }
    Ok((q, p))
}

/// Times `routine` on `iters` owned clones of `input`. The clones are made, and the outputs
/// dropped, outside the timed loop; the outputs land in a buffer whose pages are already
/// touched. (`iter_batched` collects them into a fresh buffer inside its timed loop: on a
/// 330-byte output that measured page faults and copies, not the routine.)
#[allow(clippy::disallowed_methods)] // a bench measures wall time; the crate itself never does
fn time_owned<I: Clone, O>(input: &I, iters: u64, mut routine: impl FnMut(I) -> O) -> Duration {
    const CHUNK: usize = 256;
    let mut outputs: Vec<O> = Vec::with_capacity(CHUNK);
    // Touch the output buffer once, untimed.
    outputs.extend((0..CHUNK).map(|_| routine(input.clone())));
    let mut total = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let n = usize::try_from(left).unwrap_or(CHUNK).min(CHUNK);
        let inputs: Vec<I> = (0..n).map(|_| input.clone()).collect();
        outputs.clear();
        let start = Instant::now();
        for i in inputs {
            outputs.push(routine(i));
        }
        total += start.elapsed();
        black_box(&outputs);
        left -= n as u64;
    }
    total
}

fn bench_rules(c: &mut Criterion) {
    let info = match ExchangeInfo::from_json(aegis_exchange::BUNDLED_EXCHANGE_INFO) {
        Ok(info) => info,
        Err(e) => panic!("bundled exchangeInfo: {e}"),
    };
    let Some(rules) = info.symbol("BTCUSDT") else { panic!("BTCUSDT") };
    let ctx = MarketContext::default().with_reference_price(dec!(65430)).with_open_orders(3);
    let raw = OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.1497726664883658732281358652), dec!(65432.517));
    let valid = match rules.normalize(raw.clone(), &ctx) {
        Ok(v) => v.into_request(),
        Err(e) => panic!("{e}"),
    };

    let mut g = c.benchmark_group("rules");
    g.bench_function("normalize_validate_limit_btcusdt", |b| {
        b.iter_custom(|iters| time_owned(&raw, iters, |o| rules.normalize(o, black_box(&ctx))))
    });
    let typical = OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.14977266), dec!(65432.517));
    g.bench_function("normalize_validate_limit_btcusdt_8dp_input", |b| {
        b.iter_custom(|iters| time_owned(&typical, iters, |o| rules.normalize(o, black_box(&ctx))))
    });
    g.bench_function("reference_path_normalize_validate_limit_btcusdt", |b| {
        b.iter_custom(|iters| {
            time_owned(&raw, iters, |o| rules.normalize_reference(o, black_box(&ctx), Default::default()))
        })
    });
    g.bench_function("validate_limit_btcusdt", |b| b.iter(|| black_box(rules.validate(black_box(&valid), &ctx))));
    g.bench_function("baseline_f64_normalize_check", |b| {
        b.iter(|| f64_normalize_and_check(black_box(0.14977266648836587), black_box(65432.517), black_box(65430.0)))
    });
    g.bench_function("exchange_info_from_json_bundled_25_symbols", |b| {
        b.iter(|| black_box(ExchangeInfo::from_json(black_box(aegis_exchange::BUNDLED_EXCHANGE_INFO))))
    });
    g.finish();
}

criterion_group!(benches, bench_rules);
criterion_main!(benches);
