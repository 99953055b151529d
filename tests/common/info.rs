//! Exchange information for tests of features the bundled capture (2025-08-07) predates.
#![allow(dead_code)]

use aegis_exchange::BUNDLED_EXCHANGE_INFO;

/// The bundled exchange information with pegged orders allowed on every symbol (Binance allows
/// them on Spot since 2025; the bundled capture predates `pegInstructionsAllowed`).
pub fn with_pegs() -> Vec<u8> {
    let mut doc: serde_json::Value = serde_json::from_slice(BUNDLED_EXCHANGE_INFO).unwrap();
    for symbol in doc["symbols"].as_array_mut().unwrap() {
        symbol["pegInstructionsAllowed"] = serde_json::json!(true);
    }
    serde_json::to_vec(&doc).unwrap()
}

/// The bundled exchange information with every STP mode allowed on every symbol, `TRANSFER`
/// included (allowed on all symbols since 2026-04-02; the bundled capture predates it).
pub fn with_stp_transfer() -> Vec<u8> {
    let mut doc: serde_json::Value = serde_json::from_slice(BUNDLED_EXCHANGE_INFO).unwrap();
    for symbol in doc["symbols"].as_array_mut().unwrap() {
        symbol["allowedSelfTradePreventionModes"] =
            serde_json::json!(["NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH", "DECREMENT", "TRANSFER"]);
    }
    serde_json::to_vec(&doc).unwrap()
}

/// The bundled exchange information with Binance's SOR FAQ configuration: BTCUSDC and BTCUSDP
/// beside BTCUSDT (BTCUSDT's rules, other quote assets), one SOR group of the three.
pub fn with_sor() -> Vec<u8> {
    let mut doc: serde_json::Value = serde_json::from_slice(BUNDLED_EXCHANGE_INFO).unwrap();
    let symbols = doc["symbols"].as_array_mut().unwrap();
    let btcusdt = symbols.iter().find(|s| s["symbol"] == "BTCUSDT").unwrap().clone();
    for quote in ["USDC", "USDP"] {
        let mut s = btcusdt.clone();
        s["symbol"] = serde_json::json!(format!("BTC{quote}"));
        s["quoteAsset"] = serde_json::json!(quote);
        symbols.push(s);
    }
    doc["sors"] = serde_json::json!([{ "baseAsset": "BTC", "symbols": ["BTCUSDT", "BTCUSDC", "BTCUSDP"] }]);
    serde_json::to_vec(&doc).unwrap()
}
