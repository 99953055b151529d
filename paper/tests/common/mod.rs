//! Helpers shared by the paper exchange's integration tests.

#![allow(dead_code)]

use aegis_exchange::sign::{HmacSha256, SignedQuery};
use aegis_paper::{PaperConfig, PaperExchange, PaperKey, WalkConfig};
use bytes::Bytes;
use rust_decimal_macros::dec;

#[path = "../../../tests/common/info.rs"]
pub mod info;

/// The clock of [`doc_world`].
pub const NOW: i64 = 1_760_000_000_000;
/// The HMAC key of [`doc_world`]'s account.
pub const KEY: &str = "paperKey";
/// Its secret.
pub const SECRET: &str = "paperSecret";

/// A LIMIT GTC BUY of BTCUSDT (add quantity and price).
pub const SOR_BUY: [(&str, &str); 4] =
    [("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "LIMIT"), ("timeInForce", "GTC")];
/// The same, for a resting order.
pub const RESTING_BUY: [(&str, &str); 4] = SOR_BUY;
/// A MARKET BUY of 0.01 BTCUSDT.
pub const MARKET_BUY: [(&str, &str); 4] =
    [("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "MARKET"), ("quantity", "0.01")];
/// An OCO SELL of 0.01 BTCUSDT: LIMIT_MAKER above at 32,000, STOP_LOSS_LIMIT below (28,000 / 27,900).
pub const OCO_SELL: [(&str, &str); 9] = [
    ("symbol", "BTCUSDT"),
    ("side", "SELL"),
    ("quantity", "0.01"),
    ("aboveType", "LIMIT_MAKER"),
    ("abovePrice", "32000"),
    ("belowType", "STOP_LOSS_LIMIT"),
    ("belowStopPrice", "28000"),
    ("belowPrice", "27900"),
    ("belowTimeInForce", "GTC"),
];

/// A request signed with [`KEY`] carrying exactly these parameters.
pub fn signed(method: &str, path: &str, params: &[(&str, &str)], timestamp: i64) -> http::Request<Bytes> {
    let mut q = SignedQuery::new();
    for (k, v) in params {
        q.push(k, v);
    }
    q.push_display("timestamp", timestamp);
    let wire = q.sign_with(&HmacSha256::new(SECRET));
    http::Request::builder()
        .method(method)
        .uri(format!("https://paper.local{path}?{wire}"))
        .header("X-MBX-APIKEY", KEY)
        .body(Bytes::new())
        .unwrap()
}

/// The documented response examples of `kind` (`rest`, `ws-api`) in `tests/doc-fixtures/`, by
/// name (the file's stem), and that folder.
pub fn doc_examples(kind: &str) -> (String, std::collections::BTreeMap<String, Vec<u8>>) {
    let dir = format!("{}/tests/doc-fixtures/{kind}", env!("CARGO_MANIFEST_DIR"));
    let files = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| (p.file_stem().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
        .collect();
    (dir, files)
}

/// Every member name of the documented filters (`tests/doc-fixtures/filters`) but
/// `filterType`: the members a list of filters of different types may have at any place (each
/// filter's own shape is compared by `every_documented_filter_is_served_in_its_shape`).
pub fn filter_members() -> Vec<String> {
    let (_, docs) = doc_examples("filters");
    let mut names: Vec<String> = docs
        .values()
        .filter_map(|b| serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(b).ok())
        .flat_map(|m| m.into_iter().map(|(k, _)| k))
        .filter(|k| k != "filterType")
        .collect();
    names.sort();
    names.dedup();
    assert!(names.len() >= 20, "{names:?}");
    names
}

/// The account the documented examples are compared from, and the ids its history made.
pub struct DocWorld {
    pub paper: PaperExchange,
    /// Its exchangeInfo.
    pub info_json: Vec<u8>,
    /// A resting LIMIT BUY at 29,000, amended once (its client id changed).
    pub rest1_id: String,
    /// The stop leg of the resting OCO `oco1`.
    pub leg_id: String,
    /// The taker of a prevented match.
    pub taker_id: String,
}

/// BTCUSDT in an SOR group with BTCUSDC (the SOR FAQ's books), OPO and pegs allowed, every STP
/// mode (the bundled 2025 capture predates `opoAllowed` and `pegInstructionsAllowed`); 300,000
/// USDT and 9 BTC, and a history: an SOR allocation, a trade, a resting order amended, a resting
/// OCO, a prevented match. The user-data events of all that are drained.
pub fn doc_world() -> DocWorld {
    let mut doc: serde_json::Value = serde_json::from_slice(&info::with_sor()).unwrap();
    for symbol in doc["symbols"].as_array_mut().unwrap() {
        symbol["opoAllowed"] = serde_json::json!(true);
        symbol["pegInstructionsAllowed"] = serde_json::json!(true);
        symbol["allowedSelfTradePreventionModes"] =
            serde_json::json!(["NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH", "DECREMENT", "TRANSFER"]);
    }
    let info_json = serde_json::to_vec(&doc).unwrap();
    let config = PaperConfig::default()
        .with_walk(WalkConfig { step_ms: 0, ..WalkConfig::default() })
        .with_exchange_info(info_json.clone())
        .unwrap()
        .with_price("BTCUSDT", dec!(65000));
    let mut paper = PaperExchange::new(config, NOW);
    paper.add_api_key(KEY, PaperKey::hmac(SECRET));
    paper.deposit(NOW, "USDT", dec!(300000));
    paper.deposit(NOW, "BTC", dec!(9));
    let level = |p, q| aegis_exchange::rest::Level { price: p, qty: q };
    for (symbol, asks, bids) in [
        ("BTCUSDT", vec![level(dec!(30500), dec!(3)), level(dec!(30800), dec!(3))], vec![level(dec!(29500), dec!(5))]),
        ("BTCUSDC", vec![level(dec!(28000), dec!(1))], vec![level(dec!(27000), dec!(5))]),
    ] {
        let book = aegis_exchange::rest::DepthSnapshot { last_update_id: 1, bids, asks };
        assert!(paper.replay_snapshot(NOW, symbol, &book));
    }
    let mut ok = |method: &str, path: &str, params: &[(&str, &str)]| -> serde_json::Value {
        let a = paper.handle_http(NOW, signed(method, path, params, NOW));
        assert_eq!(a.status(), 200, "{path}: {}", String::from_utf8_lossy(a.body()));
        serde_json::from_slice(a.body()).unwrap()
    };
    ok("POST", "/api/v3/sor/order", &[&SOR_BUY[..], &[("quantity", "0.5"), ("price", "31000")]].concat());
    ok("POST", "/api/v3/order", &MARKET_BUY);
    let rest1 = [&RESTING_BUY[..], &[("quantity", "0.02"), ("price", "29000"), ("newClientOrderId", "rest1")]].concat();
    let rest1_id = ok("POST", "/api/v3/order", &rest1)["orderId"].to_string();
    ok("PUT", "/api/v3/order/amend/keepPriority", &[("symbol", "BTCUSDT"), ("orderId", &rest1_id), ("newQty", "0.01")]);
    let oco1 = ok("POST", "/api/v3/orderList/oco", &[&OCO_SELL[..], &[("listClientOrderId", "oco1")]].concat());
    let leg_id = oco1["orders"][0]["orderId"].to_string();
    let maker = [("symbol", "BTCUSDT"), ("side", "SELL"), ("type", "LIMIT"), ("timeInForce", "GTC")];
    ok(
        "POST",
        "/api/v3/order",
        &[&maker[..], &[("quantity", "0.01"), ("price", "30400"), ("selfTradePreventionMode", "NONE")]].concat(),
    );
    let taker =
        [&RESTING_BUY[..], &[("quantity", "0.01"), ("price", "30400"), ("selfTradePreventionMode", "EXPIRE_MAKER")]]
            .concat();
    let taker_id = ok("POST", "/api/v3/order", &taker)["orderId"].to_string();
    while paper.poll_user_event().is_some() {}
    DocWorld { paper, info_json, rest1_id, leg_id, taker_id }
}

/// `us` is `ms` with every member named in `keys` (at any depth, when a non-negative integer)
/// times 1000, and nothing else changed: the same members with the same values.
pub fn in_microseconds_of(ms: &serde_json::Value, us: &serde_json::Value, keys: &[&str], at: &str) {
    use serde_json::Value;
    match (ms, us) {
        (Value::Object(a), Value::Object(b)) => {
            let (ka, kb): (Vec<&String>, Vec<&String>) = (a.keys().collect(), b.keys().collect());
            assert_eq!(ka, kb, "{at}: members");
            for (k, v) in a {
                let w = &b[k];
                match v.as_i64() {
                    Some(t) if keys.contains(&k.as_str()) && t >= 0 => {
                        assert_eq!(w.as_i64(), Some(t * 1000), "{at}.{k}");
                    }
                    _ => in_microseconds_of(v, w, keys, &format!("{at}.{k}")),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            assert_eq!(a.len(), b.len(), "{at}: length");
            for (i, (v, w)) in a.iter().zip(b).enumerate() {
                in_microseconds_of(v, w, keys, &format!("{at}[{i}]"));
            }
        }
        _ => assert_eq!(ms, us, "{at}"),
    }
}

/// A JSON document's shape with its keys in document order (`serde_json::Value` sorts them).
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    Object(Vec<(String, Shape)>),
    Array(Option<Box<Shape>>),
    Str,
    Num,
    Bool,
    Null,
}

impl<'de> serde::Deserialize<'de> for Shape {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Shape;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("JSON")
            }
            fn visit_str<E>(self, _: &str) -> Result<Shape, E> {
                Ok(Shape::Str)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Shape, E> {
                Ok(Shape::Num)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Shape, E> {
                Ok(Shape::Num)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Shape, E> {
                Ok(Shape::Num)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Shape, E> {
                Ok(Shape::Bool)
            }
            fn visit_unit<E>(self) -> Result<Shape, E> {
                Ok(Shape::Null)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<Shape, A::Error> {
                let first: Option<Shape> = a.next_element()?;
                while a.next_element::<Shape>()?.is_some() {}
                Ok(Shape::Array(first.map(Box::new)))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<Shape, A::Error> {
                let mut fields = Vec::new();
                while let Some((k, v)) = a.next_entry::<String, Shape>()? {
                    fields.push((k, v));
                }
                Ok(Shape::Object(fields))
            }
        }
        d.deserialize_any(V)
    }
}

/// `ours` has the documented shape of `doc`: the same keys in the same order at every level
/// (arrays compared by their first element), apart from the `conditional` keys either may carry
/// and the list items the docs leave empty.
pub fn same_shape(ours: &Shape, doc: &Shape, conditional: &[&str], at: &str) {
    match (ours, doc) {
        // A list item the docs leave empty (`[{ // defined in another section }]`).
        (Shape::Object(_), Shape::Object(b)) if b.is_empty() && at.ends_with(']') => {}
        (Shape::Object(a), Shape::Object(b)) => {
            let keys = |m: &[(String, Shape)]| -> Vec<String> {
                m.iter().map(|(k, _)| k.clone()).filter(|k| !conditional.contains(&k.as_str())).collect()
            };
            assert_eq!(keys(a), keys(b), "keys at {at}");
            for (k, v) in a {
                if let Some((_, d)) = b.iter().find(|(n, _)| n == k) {
                    same_shape(v, d, conditional, &format!("{at}.{k}"));
                }
            }
        }
        (Shape::Array(Some(a)), Shape::Array(Some(b))) => same_shape(a, b, conditional, &format!("{at}[0]")),
        (Shape::Array(_), Shape::Array(_)) | (Shape::Null, _) | (_, Shape::Null) => {}
        (a, b) => assert_eq!(std::mem::discriminant(a), std::mem::discriminant(b), "type at {at}: {a:?} vs {b:?}"),
    }
}

pub fn shape_of(bytes: &[u8]) -> Shape {
    serde_json::from_slice(bytes).unwrap()
}
