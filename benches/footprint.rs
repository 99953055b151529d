//! The cache footprint of an order's path on a cold thread, for cachegrind (issue 20, point 10).
//!
//! `Client::place` from `block_on` runs the engine's work on a thread that other code has run
//! over since its last order; there, what the path costs is mostly how many distinct cache lines
//! of code and data it touches. Timing that on a shared VM swings by ±10 µs from run to run;
//! cachegrind counts it exactly. Each round writes a 4 MiB buffer (evicting the simulated last
//! level cache, 512 KiB here like this VM's L2), then runs one of three paths:
//!
//! - `engine`: `Engine::submit` to the signed request, the resting order's acknowledgement read
//!   (`HttpResult::read_order`) and applied, its events taken: the engine's part of
//!   `Client::place`;
//! - `bare`: validate, build and sign (`Rest::new_order`), the same answer decoded: what the bare
//!   REST call does besides the transport;
//! - `none`: only the answer's bytes made (both paths make them): the baseline to subtract.
//!
//! ```text
//! cargo bench --no-default-features --bench footprint --no-run
//! for m in none bare engine; do
//!   valgrind --tool=cachegrind --cache-sim=yes --I1=32768,8,64 --D1=32768,8,64 --LL=524288,8,64 \
//!     --cachegrind-out-file=cg.$m target/release/deps/footprint-* $m 1000
//! done
//! cg_annotate --show=Ir,ILmr,DLmr --sort=ILmr cg.engine
//! ```
//!
//! A path's `LLi misses` (code lines) and `LLd misses` (data lines) less the `none` run's, divided
//! by the rounds, are its footprint per order. Under valgrind `sha2` takes its portable SHA-256
//! (valgrind does not report the SHA extensions), about 164 code lines a signature that the
//! hardware path does not have: it is in both paths and cancels out of their difference.

use std::hint::black_box;

use aegis_exchange::rest::{Environment, OrderResponse, Rest};
use aegis_exchange::{HttpResult, Intent, MarketContext, OrderRequest, Output, Side};
use rust_decimal_macros::dec;

mod common;
use common::{ANSWER_ID, NOW, ack, credentials, engine, info};

/// Rounds per engine (a fresh one before the open orders reach the tracker's bound).
const ROUNDS_PER_ENGINE: u64 = 900;

fn main() {
    // `cargo bench` passes `--bench`; the mode and the rounds are the other arguments.
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let mode = args.first().map_or("engine", String::as_str).to_owned();
    let rounds: u64 = args.get(1).and_then(|v| v.parse().ok()).unwrap_or(1000);
    if !matches!(mode.as_str(), "engine" | "bare" | "none") {
        panic!("unknown mode {mode:?}: engine, bare or none");
    }
    let mut thrash = vec![0u8; 4 << 20];
    let mut spill = |round: u64| {
        for (i, byte) in thrash.iter_mut().enumerate().step_by(64) {
            *byte = byte.wrapping_add((i as u64 ^ round) as u8);
        }
        black_box(&thrash);
    };
    let info = info();
    let rest = Rest::new(Environment::Production).with_credentials(credentials());
    let mut engine = engine();
    for round in 0..rounds {
        if round % ROUNDS_PER_ENGINE == 0 {
            engine = common::engine();
        }
        spill(round);
        match mode.as_str() {
            "engine" => {
                let intent = Intent::new(OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.001), dec!(60000)));
                let id = engine.submit(NOW, intent).unwrap_or_else(|e| panic!("{e}"));
                let Output::Http { id: request_id, request } = engine.poll_output() else {
                    panic!("expected the order")
                };
                black_box(&request);
                let answer = HttpResult::Response(ack(id.as_str())).read_order();
                engine.handle_http_response(NOW, request_id, answer);
                while let Some(event) = engine.poll_event() {
                    black_box(event);
                }
                while !matches!(engine.poll_output(), Output::Timeout(_)) {}
            }
            "bare" => {
                let rules = info.symbol("BTCUSDT").unwrap_or_else(|| panic!("no BTCUSDT"));
                let order = OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.001), dec!(60000));
                let valid = rules
                    .validate(&order, &MarketContext::default().with_reference_price(dec!(65000)))
                    .unwrap_or_else(|e| panic!("{e}"));
                let built = rest.new_order(&valid, NOW).unwrap_or_else(|e| panic!("{e}"));
                black_box(&built.request);
                let response = ack(ANSWER_ID);
                let order: OrderResponse =
                    aegis_exchange::rest::decode(response.status().as_u16(), response.body(), None, 0)
                        .unwrap_or_else(|e| panic!("{e}"));
                black_box(order);
            }
            _ => {
                black_box(ack(ANSWER_ID));
            }
        }
    }
    println!("footprint: {rounds} rounds of `{mode}` (run it under cachegrind: see the file's header)");
}
