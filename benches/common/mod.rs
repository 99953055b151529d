//! What the engine benches share (`benches/engine.rs`, `benches/footprint.rs`): the bundled
//! exchange information with limits a bench cannot reach, an engine ready to place, and a resting
//! order's acknowledgement as Binance sends it.
#![allow(dead_code)]

use aegis_exchange::Ledger;
use aegis_exchange::rest::Environment;
use aegis_exchange::sign::{Credentials, HmacSha256};
use aegis_exchange::{BUNDLED_EXCHANGE_INFO, ExchangeInfo};
use aegis_exchange::{Engine, EngineConfig, HttpResult, Output};
use rust_decimal_macros::dec;

/// The benches' clock (ms).
pub const NOW: i64 = 1_723_161_255_400;
/// The API key of Binance's signing examples.
pub const API_KEY: &str = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";
/// The secret of Binance's signing examples.
pub const SECRET: &str = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
/// A resting LIMIT order's acknowledgement (`FULL`, a LIMIT order's default, with no fills).
pub const ANSWER: &[u8] = br#"{"symbol":"BTCUSDT","orderId":101,"orderListId":-1,"clientOrderId":"aegis2S-bG9DCgBs6B","transactTime":1764979200001,"price":"60000.00000000","origQty":"0.00100000","executedQty":"0.00000000","origQuoteOrderQty":"0.00000000","cummulativeQuoteQty":"0.00000000","status":"NEW","timeInForce":"GTC","type":"LIMIT","side":"BUY","workingTime":1764979200001,"selfTradePreventionMode":"EXPIRE_MAKER","fills":[]}"#;
/// The client order id in [`ANSWER`].
pub const ANSWER_ID: &str = "aegis2S-bG9DCgBs6B";

/// The bundled exchangeInfo with rate limits a bench cannot reach (the limiter still runs).
pub fn info() -> ExchangeInfo {
    let mut doc: serde_json::Value = serde_json::from_slice(BUNDLED_EXCHANGE_INFO).unwrap_or_else(|e| panic!("{e}"));
    if let Some(limits) = doc["rateLimits"].as_array_mut() {
        for l in limits {
            l["limit"] = serde_json::json!(4_000_000_000u64);
        }
    }
    let bytes = serde_json::to_vec(&doc).unwrap_or_else(|e| panic!("{e}"));
    ExchangeInfo::from_json(&bytes).unwrap_or_else(|e| panic!("{e}"))
}

/// HMAC credentials ([`API_KEY`], [`SECRET`]).
pub fn credentials() -> Credentials {
    Credentials::new(API_KEY, HmacSha256::new(SECRET)).unwrap_or_else(|e| panic!("{e}"))
}

/// An engine over REST with 10 billion USDT, its clock set (the time sync answered).
pub fn engine() -> Engine {
    let mut config = EngineConfig::new(Environment::Production, credentials());
    config.orders.retain_done = 1024;
    let ledger = Ledger::new();
    let usdt = ledger.asset("USDT").unwrap_or_else(|e| panic!("{e}"));
    ledger.credit(usdt, dec!(10000000000)).unwrap_or_else(|e| panic!("{e}"));
    let mut engine = Engine::with_ledger(config, info(), ledger);
    // The first request is a time sync; answer it so the clock is set.
    engine.sync_time(NOW);
    while let Output::Http { id, .. } = engine.poll_output() {
        let body = format!(r#"{{"serverTime":{NOW}}}"#);
        let response =
            http::Response::builder().status(200).body(bytes::Bytes::from(body)).unwrap_or_else(|e| panic!("{e}"));
        engine.handle_http_response(NOW, id, HttpResult::Response(response));
    }
    engine
}

/// [`ANSWER`] for order `id`, with Binance's headers.
pub fn ack(id: &str) -> http::Response<bytes::Bytes> {
    let body = String::from_utf8_lossy(ANSWER).replace(ANSWER_ID, id);
    http::Response::builder()
        .status(200)
        .header("x-mbx-used-weight", "3")
        .header("x-mbx-used-weight-1m", "3")
        .header("x-mbx-order-count-10s", "1")
        .header("x-mbx-order-count-1d", "1")
        .header("content-type", "application/json;charset=UTF-8")
        .body(bytes::Bytes::from(body))
        .unwrap_or_else(|e| panic!("{e}"))
}
