//! The engine: tick to order, and intent to frame over REST and over the WebSocket API session.
//! From the raw bytes of a bookTicker frame, decoded and sanitised,
//! handed to a strategy callback that decides to buy at the bid, through `Engine::submit`
//! (normalize, ledger reservation, order tracking, rate-limit admission, request built and
//! HMAC-signed) to the signed request leaving `poll_output`. Target: median ≤ 1.5 µs.
//!
//! Only that path is timed (per iteration, with `Instant`); answering the request (here: "never
//! sent", which releases the reservation) happens outside the timed part so every iteration
//! starts from the same state. The parts are measured alone too, for the breakdown.

use std::hint::black_box;
use std::time::{Duration, Instant};

use aegis_exchange::Ledger;
use aegis_exchange::rest::Environment;
use aegis_exchange::sign::Credentials;
use aegis_exchange::stream::{MarketEvent, SanitizeConfig, decode};
use aegis_exchange::{Engine, EngineConfig, HttpResult, Intent, Output};
use aegis_exchange::{MarketContext, OrderRequest, Side};
use criterion::{Criterion, criterion_group, criterion_main};
use rust_decimal_macros::dec;

mod common;
use common::{ANSWER, ANSWER_ID, API_KEY, NOW, ack, credentials, engine, info};

const BOOK_TICKER: &[u8] =
    br#"{"u":50093239212,"s":"BTCUSDT","b":"61837.63000000","B":"3.78826000","a":"61837.64000000","A":"1.54698000"}"#;

/// The strategy: buy 0.001 at the bid.
fn strategy(event: &MarketEvent) -> Option<Intent> {
    match event {
        MarketEvent::BookTicker(t) => {
            Some(Intent::new(OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.001), t.bid.price)))
        }
        _ => None,
    }
}

#[allow(clippy::disallowed_methods)] // a bench measures wall time; the crate itself never does
fn tick_to_order(c: &mut Criterion) {
    let mut engine = engine();
    let config = SanitizeConfig::default();
    let mut g = c.benchmark_group("engine");
    g.bench_function("tick_to_order_bookticker_to_signed_request", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                let message = decode(&config, NOW, black_box(BOOK_TICKER)).unwrap_or_else(|e| panic!("{e}"));
                let intent = strategy(&message.event).unwrap_or_else(|| panic!("no intent"));
                let id = engine.submit(NOW, intent).unwrap_or_else(|e| panic!("{e}"));
                let request = match engine.poll_output() {
                    Output::Http { id, request } => (id, request),
                    other => panic!("expected the order, got {other:?}"),
                };
                total += start.elapsed();
                black_box(&request.1);
                // Untimed: the request "never left", which frees the reservation.
                engine.handle_http_response(NOW, request.0, HttpResult::NotSent);
                while !matches!(engine.poll_output(), Output::Timeout(_)) {}
                black_box(id);
            }
            total
        })
    });
    // The parts, alone.
    g.bench_function("part_decode_bookticker", |b| {
        b.iter(|| decode(&config, NOW, black_box(BOOK_TICKER)).unwrap_or_else(|e| panic!("{e}")))
    });
    // An executionReport in its WebSocket-API wrapper (compact, as Binance sends it), decoded
    // as the engine decodes every user-data frame. Target: ≤ 500 ns.
    let report = compact(include_str!("../tests/fixtures/uds_execution_report.json"));
    assert!(report.contains(r#""event":{"e":"executionReport","#), "field order kept");
    g.bench_function("part_decode_execution_report", |b| {
        b.iter(|| {
            aegis_exchange::ws_api::WsFrame::decode(black_box(report.as_bytes())).unwrap_or_else(|e| panic!("{e}"))
        })
    });
    let rules = info().symbol("BTCUSDT").cloned().unwrap_or_else(|| panic!("BTCUSDT"));
    let order = OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.001), dec!(61837.63));
    g.bench_function("part_normalize", |b| {
        b.iter(|| {
            rules.normalize(black_box(order.clone()), &MarketContext::default()).unwrap_or_else(|e| panic!("{e}"))
        })
    });
    g.finish();
}

/// An engine whose orders go over a logged-on WebSocket API session (Ed25519 key), its logon and
/// subscription answered.
fn ws_engine() -> Engine {
    let seed = [7u8; 32];
    let signer = aegis_exchange::sign::Ed25519::from_seed(&seed).unwrap_or_else(|e| panic!("{e}"));
    let creds = Credentials::new(API_KEY, signer).unwrap_or_else(|e| panic!("{e}"));
    let mut config = EngineConfig::new(Environment::Production, creds);
    config.orders.retain_done = 1024;
    config.order_channel = aegis_exchange::OrderChannel::WsApi;
    let ledger = Ledger::new();
    let usdt = ledger.asset("USDT").unwrap_or_else(|e| panic!("{e}"));
    ledger.credit(usdt, dec!(10000000000)).unwrap_or_else(|e| panic!("{e}"));
    let mut engine = Engine::with_ledger(config, info(), ledger);
    engine.sync_time(NOW);
    engine.handle_ws_open(NOW);
    loop {
        match engine.poll_output() {
            Output::Http { id, .. } => {
                let body = format!(r#"{{"serverTime":{NOW}}}"#);
                let response = http::Response::builder()
                    .status(200)
                    .body(bytes::Bytes::from(body))
                    .unwrap_or_else(|e| panic!("{e}"));
                engine.handle_http_response(NOW, id, HttpResult::Response(response));
            }
            Output::Ws { text } => {
                let frame: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
                let id = frame["id"].as_str().unwrap_or_default().to_owned();
                let answer = serde_json::json!({"id": id, "status": 200, "result": {"subscriptionId": 0}});
                engine.handle_ws_frame(NOW, answer.to_string().as_bytes());
            }
            Output::Timeout(_) => break,
            _ => {}
        }
    }
    engine
}

/// Intent to what leaves, over REST (built and HMAC-signed) and over the WebSocket API session
/// (no signature of its own): `Engine::submit` (normalize, reservation, tracking, admission,
/// the request or frame built) to `poll_output`. Target for the session: median ≤ 1 µs.
#[allow(clippy::disallowed_methods)] // a bench measures wall time; the crate itself never does
fn intent_to_frame(c: &mut Criterion) {
    let mut g = c.benchmark_group("engine");
    let intent = || Intent::new(OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.001), dec!(61837.63)));
    let mut rest = engine();
    g.bench_function("intent_to_signed_rest_request", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                rest.submit(NOW, intent()).unwrap_or_else(|e| panic!("{e}"));
                let Output::Http { id, request } = rest.poll_output() else { panic!("expected the order") };
                total += start.elapsed();
                black_box(&request);
                rest.handle_http_response(NOW, id, HttpResult::NotSent);
                while !matches!(rest.poll_output(), Output::Timeout(_)) {}
            }
            total
        })
    });
    let mut ws = ws_engine();
    g.bench_function("intent_to_ws_api_session_frame", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                ws.submit(NOW, intent()).unwrap_or_else(|e| panic!("{e}"));
                let Output::Ws { text } = ws.poll_output() else { panic!("expected the order's frame") };
                total += start.elapsed();
                assert!(!text.contains("signature"), "a session frame carries no signature");
                // Untimed: refused, which frees the reservation.
                let id = text.split('"').nth(3).unwrap_or_default().to_owned();
                let refusal = format!(r#"{{"id":"{id}","status":400,"error":{{"code":-2010,"msg":"refused"}}}}"#);
                ws.handle_ws_frame(NOW, refusal.as_bytes());
                while !matches!(ws.poll_output(), Output::Timeout(_)) {}
            }
            total
        })
    });
    g.finish();
}

/// A placed order's answer (the paper exchange's RESULT-shaped FULL answer of a resting LIMIT
/// order, as Binance writes it): read in one pass (`OrderResponse::from_json`, what the engine
/// applies) and through serde, for the comparison.
fn order_answer(c: &mut Criterion) {
    let mut g = c.benchmark_group("engine");
    g.bench_function("order_answer_one_pass", |b| {
        b.iter(|| aegis_exchange::rest::OrderResponse::from_json(black_box(ANSWER)).unwrap_or_else(|e| panic!("{e}")))
    });
    g.bench_function("order_answer_serde", |b| {
        b.iter(|| {
            serde_json::from_slice::<aegis_exchange::rest::OrderResponse>(black_box(ANSWER))
                .unwrap_or_else(|e| panic!("{e}"))
        })
    });
    g.finish();
}

/// What the client does on the caller's thread from `block_on` (issue 20, point 10), against
/// what a bare REST call does there, both with the caches cold: a buffer written between
/// iterations (untimed), as on a thread that other threads' work has run over since its last
/// call. `AEGIS_COLD_MIB` sets its size (default 4 MiB: twice this VM's L2, well inside its
/// shared 32 MiB L3; 16 and more reach the L3, whose share this VM gets varies from run to run):
///
/// ```text
/// AEGIS_COLD_MIB=8 cargo bench --bench engine -- cold_
/// ```
///
/// - `cold_engine_submit_and_ack`: `Engine::submit` to the signed request, then the resting
///   order's acknowledgement read (`HttpResult::read_order`) and applied, its events taken.
/// - `cold_bare_validate_sign_decode`: validate, build and sign (`Rest::new_order`), then the
///   same answer decoded (`rest::decode`, serde).
///
/// The difference is the engine's own work in the client's `place`, cold.
#[allow(clippy::disallowed_methods)] // a bench measures wall time; the crate itself never does
fn cold_place(c: &mut Criterion) {
    use aegis_exchange::rest::{OrderResponse, Rest};
    const ROUNDS_PER_ENGINE: u64 = 2_000;
    let mut g = c.benchmark_group("engine");
    g.sample_size(20);
    let mib: usize = std::env::var("AEGIS_COLD_MIB").ok().and_then(|v| v.parse().ok()).unwrap_or(4);
    let mut thrash = vec![0u8; mib << 20];
    let mut spill = |round: u64| {
        for (i, byte) in thrash.iter_mut().enumerate().step_by(64) {
            *byte = byte.wrapping_add((i as u64 ^ round) as u8);
        }
        black_box(&thrash);
    };
    let mut engine = engine();
    let mut placed = 0_u64;
    g.bench_function("cold_engine_submit_and_ack", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for round in 0..iters {
                if placed == ROUNDS_PER_ENGINE {
                    // Untimed: a fresh engine before the open orders reach the tracker's bound.
                    engine = self::engine();
                    placed = 0;
                }
                placed += 1;
                spill(round);
                let intent = Intent::new(OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.001), dec!(60000)));
                let start = Instant::now();
                let id = engine.submit(NOW, intent).unwrap_or_else(|e| panic!("{e}"));
                let Output::Http { id: request_id, request } = engine.poll_output() else {
                    panic!("expected the order")
                };
                black_box(&request);
                let sent = start.elapsed();
                let answer = HttpResult::Response(ack(id.as_str()));
                // The answer's bytes are made outside the timing; reading and applying them is timed.
                let start = Instant::now();
                let answer = answer.read_order();
                engine.handle_http_response(NOW, request_id, answer);
                while let Some(event) = engine.poll_event() {
                    black_box(event);
                }
                total += sent + start.elapsed();
                while !matches!(engine.poll_output(), Output::Timeout(_)) {}
            }
            total
        })
    });
    let info = info();
    let rest = Rest::new(Environment::Production).with_credentials(credentials());
    g.bench_function("cold_bare_validate_sign_decode", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for round in 0..iters {
                spill(round);
                let start = Instant::now();
                let rules = info.symbol("BTCUSDT").unwrap_or_else(|| panic!("no BTCUSDT"));
                let order = OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.001), dec!(60000));
                let valid = rules
                    .validate(&order, &MarketContext::default().with_reference_price(dec!(65000)))
                    .unwrap_or_else(|e| panic!("{e}"));
                let built = rest.new_order(&valid, NOW).unwrap_or_else(|e| panic!("{e}"));
                black_box(&built.request);
                let sent = start.elapsed();
                let response = ack(ANSWER_ID);
                let start = Instant::now();
                let status = response.status().as_u16();
                let order: OrderResponse =
                    aegis_exchange::rest::decode(status, response.body(), None, 0).unwrap_or_else(|e| panic!("{e}"));
                black_box(order);
                total += sent + start.elapsed();
            }
            total
        })
    });
    g.finish();
}

criterion_group!(benches, tick_to_order, intent_to_frame, order_answer, cold_place);
criterion_main!(benches);

/// JSON without the whitespace between tokens, field order kept (as Binance sends it).
fn compact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in text.chars() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_whitespace() {
            out.push(c);
        }
    }
    out
}
