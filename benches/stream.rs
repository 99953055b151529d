//! Stream decoding (trade, bookTicker, a 20x20 depthUpdate), each decoded and sanitised into
//! `Decimal` fields, next to a baseline: serde_json into a struct of borrowed `&str` fields
//! (the JSON work alone, no number parsing, no checks). And one depth diff applied to a
//! 1000-level local book.

use std::hint::black_box;

use aegis_exchange::OrderBook;
use aegis_exchange::rest::{DepthSnapshot, Level};
use aegis_exchange::stream::{MarketEvent, SanitizeConfig, decode};
use criterion::{Criterion, criterion_group, criterion_main};
use rust_decimal::Decimal;
use serde::Deserialize;

const NOW: i64 = 1_723_161_255_400;
const TRADE: &str = r#"{"e":"trade","E":1723161255343,"s":"BTCUSDT","t":3735683259,"p":"61837.63000000","q":"0.02000000","T":1723161255342,"m":true,"M":true}"#;
const BOOK_TICKER: &str =
    r#"{"u":50093239212,"s":"BTCUSDT","b":"61837.63000000","B":"3.78826000","a":"61837.64000000","A":"1.54698000"}"#;

fn depth_20x20() -> String {
    let side = |base: u32, sign: i32| {
        (0..20)
            .map(|i| {
                let cents = i64::from(base) * 100 + i64::from(sign) * i64::from(i) * 7;
                format!(r#"["{}.{:02}000000","{}.{:08}"]"#, cents / 100, cents % 100, i % 3, 12_345 * (i + 1))
            })
            .collect::<Vec<_>>()
            .join(",")
    };
    format!(
        r#"{{"e":"depthUpdate","E":1723161255208,"s":"BTCUSDT","U":50093239189,"u":50093239202,"b":[{}],"a":[{}]}}"#,
        side(61_837, -1),
        side(61_838, 1)
    )
}

#[allow(dead_code)]
#[derive(Deserialize)]
struct BaselineTrade<'a> {
    e: &'a str,
    #[serde(rename = "E")]
    event_time: i64,
    s: &'a str,
    t: u64,
    p: &'a str,
    q: &'a str,
    #[serde(rename = "T")]
    trade_time: i64,
    m: bool,
}

#[allow(dead_code)]
#[derive(Deserialize)]
struct BaselineBookTicker<'a> {
    u: u64,
    s: &'a str,
    b: &'a str,
    #[serde(rename = "B")]
    bid_qty: &'a str,
    a: &'a str,
    #[serde(rename = "A")]
    ask_qty: &'a str,
}

#[allow(dead_code)]
#[derive(Deserialize)]
struct BaselineDepth<'a> {
    e: &'a str,
    #[serde(rename = "E")]
    event_time: i64,
    s: &'a str,
    #[serde(rename = "U")]
    first: u64,
    u: u64,
    #[serde(borrow)]
    b: Vec<[&'a str; 2]>,
    #[serde(borrow)]
    a: Vec<[&'a str; 2]>,
}

fn decoding(c: &mut Criterion) {
    let config = SanitizeConfig::default();
    let depth = depth_20x20();
    let mut g = c.benchmark_group("stream_decode");
    g.bench_function("trade", |b| b.iter(|| decode(&config, NOW, black_box(TRADE.as_bytes()))));
    g.bench_function("trade_baseline_serde_str", |b| {
        b.iter(|| serde_json::from_slice::<BaselineTrade<'_>>(black_box(TRADE.as_bytes())).is_ok())
    });
    g.bench_function("trade_ignored_any", |b| {
        b.iter(|| serde_json::from_slice::<serde::de::IgnoredAny>(black_box(TRADE.as_bytes())).is_ok())
    });
    g.bench_function("parse_decimal_x2", |b| {
        b.iter(|| {
            (
                aegis_exchange::num::parse_decimal(black_box("61837.63000000")),
                aegis_exchange::num::parse_decimal(black_box("0.02000000")),
            )
        })
    });
    g.bench_function("book_ticker", |b| b.iter(|| decode(&config, NOW, black_box(BOOK_TICKER.as_bytes()))));
    g.bench_function("book_ticker_baseline_serde_str", |b| {
        b.iter(|| serde_json::from_slice::<BaselineBookTicker<'_>>(black_box(BOOK_TICKER.as_bytes())).is_ok())
    });
    g.bench_function("depth_20x20", |b| b.iter(|| decode(&config, NOW, black_box(depth.as_bytes()))));
    g.bench_function("depth_20x20_baseline_serde_str", |b| {
        b.iter(|| serde_json::from_slice::<BaselineDepth<'_>>(black_box(depth.as_bytes())).is_ok())
    });
    g.finish();
}

fn book_apply(c: &mut Criterion) {
    let level = |p: i64, q: i64| Level { price: Decimal::new(p, 2), qty: Decimal::new(q, 5) };
    let snapshot = DepthSnapshot {
        last_update_id: 1,
        bids: (0..1000).map(|i| level(6_183_763 - i, 1000 + i)).collect(),
        asks: (0..1000).map(|i| level(6_183_764 + i, 1000 + i)).collect(),
    };
    let mut book = OrderBook::from_snapshot(&snapshot, 5000);
    let frame = depth_20x20();
    let Ok(message) = decode(&SanitizeConfig::default(), NOW, frame.as_bytes()) else { panic!("depth decodes") };
    let MarketEvent::DepthUpdate(mut event) = message.event else { panic!("a depthUpdate") };
    let mut id = 1u64;
    c.bench_function("book_apply_20x20_on_1000_levels", |b| {
        b.iter(|| {
            id += 1;
            event.first_update_id = id;
            event.final_update_id = id;
            book.apply(black_box(&event))
        })
    });
}

criterion_group!(benches, decoding, book_apply);
criterion_main!(benches);
