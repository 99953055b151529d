//! The REST layer: every builder's method, path, parameters and cost against a written
//! expectation, with the signature recomputed independently from the wire bytes; every response
//! fixture decoded; every error body classified as SPEC §7 says.

use std::path::PathBuf;

use aegis_exchange::rest::{
    Account, ApiError, AvgPrice, BuildError, DepthSnapshot, Environment, OrderInfo, OrderRef, OrderResponse, Outcome,
    PublicTrade, RateLimitCount, Rejection, RequestCost, ResponseError, Rest, RestRequest, ServerTime, decode,
};
use aegis_exchange::sign::{Credentials, Ed25519, HmacSha256};
use aegis_exchange::{ClientOrderId, ExchangeInfo, MarketContext, OrderRequest, OrderStatus, Side};
use aegis_exchange::{RecvWindow, TimeUnit};
use hmac::{KeyInit, Mac};
use rust_decimal_macros::dec;

const SECRET: &str = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
const API_KEY: &str = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";
const TS: i64 = 1_499_827_319_559;

fn signed_rest() -> Rest {
    let creds = Credentials::new(API_KEY, HmacSha256::new(SECRET)).unwrap_or_else(|e| panic!("{e}"));
    Rest::new(Environment::Production).with_credentials(creds)
}

/// Splits a signed request's query into (payload, signature), checks the signature against an
/// independent HMAC of exactly the payload bytes, and returns the payload.
fn verified_payload(req: &RestRequest) -> String {
    // An order sends its parameters in a form body, everything else in the query.
    let query = match req.request.uri().query() {
        Some(query) => {
            assert!(req.request.body().is_empty(), "query and body");
            query.to_owned()
        }
        None => {
            let form = req.request.headers().get("Content-Type").and_then(|v| v.to_str().ok());
            assert_eq!(form, Some("application/x-www-form-urlencoded"));
            String::from_utf8(req.request.body().to_vec()).unwrap_or_else(|e| panic!("{e}"))
        }
    };
    let (payload, signature) = query.rsplit_once("&signature=").unwrap_or_else(|| panic!("unsigned: {query}"));
    let mut mac =
        <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(SECRET.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    mac.update(payload.as_bytes());
    assert_eq!(signature, hex::encode(mac.finalize().into_bytes()), "signature does not match the wire bytes");
    assert_eq!(req.request.headers().get("X-MBX-APIKEY").and_then(|v| v.to_str().ok()), Some(API_KEY));
    assert!(req.signed);
    payload.to_owned()
}

fn expect(req: &RestRequest, method: &str, path: &str) {
    assert_eq!(req.request.method().as_str(), method);
    assert_eq!(req.request.uri().scheme_str(), Some("https"));
    assert_eq!(req.request.uri().host(), Some("api.binance.com"));
    assert_eq!(req.request.uri().path(), path);
    // Orders (and test orders) carry a form body; nothing else has one.
    let form = method == "POST" && matches!(path, "/api/v3/order" | "/api/v3/order/test");
    assert_eq!(req.request.body().is_empty(), !form, "{path}");
}

fn ok<T>(r: Result<T, BuildError>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn public_endpoints() {
    let rest = Rest::new(Environment::Production);
    let cases: Vec<(RestRequest, &str, Option<&str>, u32)> = vec![
        (ok(rest.ping()), "/api/v3/ping", None, 1),
        (ok(rest.time()), "/api/v3/time", None, 1),
        (ok(rest.exchange_info(&[])), "/api/v3/exchangeInfo", None, 20),
        (ok(rest.exchange_info(&["BTCUSDT"])), "/api/v3/exchangeInfo", Some("symbol=BTCUSDT"), 20),
        (
            ok(rest.exchange_info(&["BTCUSDT", "BNBBTC"])),
            "/api/v3/exchangeInfo",
            Some("symbols=%5B%22BTCUSDT%22%2C%22BNBBTC%22%5D"),
            20,
        ),
        (ok(rest.depth("BTCUSDT", None)), "/api/v3/depth", Some("symbol=BTCUSDT"), 5),
        (ok(rest.depth("BTCUSDT", Some(100))), "/api/v3/depth", Some("symbol=BTCUSDT&limit=100"), 5),
        (ok(rest.depth("BTCUSDT", Some(101))), "/api/v3/depth", Some("symbol=BTCUSDT&limit=101"), 25),
        (ok(rest.depth("BTCUSDT", Some(1000))), "/api/v3/depth", Some("symbol=BTCUSDT&limit=1000"), 50),
        (ok(rest.depth("BTCUSDT", Some(5000))), "/api/v3/depth", Some("symbol=BTCUSDT&limit=5000"), 250),
        (ok(rest.trades("BTCUSDT", Some(500))), "/api/v3/trades", Some("symbol=BTCUSDT&limit=500"), 25),
        (ok(rest.agg_trades("BTCUSDT", Some(7), None)), "/api/v3/aggTrades", Some("symbol=BTCUSDT&fromId=7"), 4),
        (
            ok(rest.klines("BTCUSDT", "1m", Some(1), Some(2), Some(3))),
            "/api/v3/klines",
            Some("symbol=BTCUSDT&interval=1m&startTime=1&endTime=2&limit=3"),
            2,
        ),
        (ok(rest.avg_price("BTCUSDT")), "/api/v3/avgPrice", Some("symbol=BTCUSDT"), 2),
        (ok(rest.book_ticker(Some("BTCUSDT"))), "/api/v3/ticker/bookTicker", Some("symbol=BTCUSDT"), 2),
        (ok(rest.book_ticker(None)), "/api/v3/ticker/bookTicker", None, 4),
        (ok(rest.ticker_price(Some("ETHBTC"))), "/api/v3/ticker/price", Some("symbol=ETHBTC"), 2),
        (ok(rest.ticker_price(None)), "/api/v3/ticker/price", None, 4),
        (ok(rest.reference_price("BTCUSDT")), "/api/v3/referencePrice", Some("symbol=BTCUSDT"), 2),
        // A non-ASCII symbol is percent-encoded.
        (
            ok(rest.avg_price("这是测试币456")),
            "/api/v3/avgPrice",
            Some("symbol=%E8%BF%99%E6%98%AF%E6%B5%8B%E8%AF%95%E5%B8%81456"),
            2,
        ),
    ];
    for (req, path, query, weight) in cases {
        expect(&req, "GET", path);
        assert_eq!(req.request.uri().query(), query, "{path}");
        assert_eq!(req.cost, RequestCost { weight, weight_on_success: weight, orders: 0 }, "{path}");
        assert!(!req.signed && req.request.headers().get("X-MBX-APIKEY").is_none());
    }
    assert_eq!(
        rest.depth("BTCUSDT", Some(5001)).err(),
        Some(BuildError::Parameter { name: "limit", reason: "must be 1 to 5000" })
    );
    assert_eq!(
        rest.depth("BTCUSDT", Some(0)).err(),
        Some(BuildError::Parameter { name: "limit", reason: "must be 1 to 5000" })
    );
    assert_eq!(rest.account(false, TS).err(), Some(BuildError::NoCredentials));
}

#[test]
fn order_endpoints_sign_exactly_what_they_send() {
    let info = ExchangeInfo::from_json(aegis_exchange::BUNDLED_EXCHANGE_INFO).unwrap_or_else(|e| panic!("{e}"));
    let rules = info.symbol("BTCUSDT").unwrap_or_else(|| panic!("BTCUSDT"));
    let id = ClientOrderId::new("ae0-x1").unwrap_or_else(|e| panic!("{e}"));
    let order = OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.1497726664883658732281358652), dec!(65432.517))
        .with_client_order_id(id);
    let valid = rules
        .normalize(order, &MarketContext::default().with_reference_price(dec!(65430)).with_open_orders(0))
        .unwrap_or_else(|e| panic!("{e}"));
    let rest = signed_rest();

    let req = ok(rest.new_order(&valid, TS));
    expect(&req, "POST", "/api/v3/order");
    assert_eq!(
        verified_payload(&req),
        "recvWindow=5000&symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.14977&price=65432.51&newClientOrderId=ae0-x1&timestamp=1499827319559"
    );
    assert_eq!(req.cost, RequestCost { weight: 1, weight_on_success: 0, orders: 1 });

    let req = ok(rest.test_order(&valid, true, TS));
    expect(&req, "POST", "/api/v3/order/test");
    let payload = verified_payload(&req);
    assert!(payload.starts_with("recvWindow=5000&symbol=BTCUSDT&"), "{payload}");
    assert!(payload.contains("&computeCommissionRates=true&timestamp=1499827319559"), "{payload}");
    assert_eq!(req.cost, RequestCost { weight: 20, weight_on_success: 20, orders: 0 });
    assert_eq!(ok(rest.test_order(&valid, false, TS)).cost.weight, 1);

    let req = ok(rest.cancel_order("BTCUSDT", OrderRef::ClientOrderId(id), TS));
    expect(&req, "DELETE", "/api/v3/order");
    assert_eq!(
        verified_payload(&req),
        "recvWindow=5000&symbol=BTCUSDT&origClientOrderId=ae0-x1&timestamp=1499827319559"
    );
    assert_eq!(req.cost, RequestCost { weight: 1, weight_on_success: 0, orders: 0 });

    let req = ok(rest.cancel_all_open_orders("BTCUSDT", TS));
    expect(&req, "DELETE", "/api/v3/openOrders");
    assert_eq!(verified_payload(&req), "recvWindow=5000&symbol=BTCUSDT&timestamp=1499827319559");

    let req = ok(rest.cancel_replace(&valid, OrderRef::OrderId(42), false, TS));
    expect(&req, "POST", "/api/v3/order/cancelReplace");
    let payload = verified_payload(&req);
    assert!(payload.starts_with("recvWindow=5000&symbol=BTCUSDT&"), "{payload}");
    assert!(
        payload.ends_with(
            "&newClientOrderId=ae0-x1&cancelReplaceMode=STOP_ON_FAILURE&cancelOrderId=42&timestamp=1499827319559"
        ),
        "{payload}"
    );
    assert_eq!(req.cost, RequestCost { weight: 1, weight_on_success: 0, orders: 1 });

    let req = ok(rest.amend_keep_priority("BTCUSDT", OrderRef::OrderId(42), dec!(0.10000), None, TS));
    expect(&req, "PUT", "/api/v3/order/amend/keepPriority");
    assert_eq!(verified_payload(&req), "recvWindow=5000&symbol=BTCUSDT&orderId=42&newQty=0.1&timestamp=1499827319559");
    assert_eq!(req.cost, RequestCost { weight: 4, weight_on_success: 4, orders: 0 });
    // Keeping the client order id: sent as `newClientOrderId`.
    let id = aegis_exchange::ClientOrderId::new("keep-me").unwrap();
    let req = ok(rest.amend_keep_priority("BTCUSDT", OrderRef::ClientOrderId(id), dec!(0.5), Some(&id), TS));
    assert_eq!(
        verified_payload(&req),
        "recvWindow=5000&symbol=BTCUSDT&origClientOrderId=keep-me&newClientOrderId=keep-me&newQty=0.5&timestamp=1499827319559"
    );
}

#[test]
fn account_endpoints() {
    let rest = signed_rest().with_recv_window(RecvWindow::new(dec!(6000.5)).unwrap_or_else(|e| panic!("{e}")));
    let id = ClientOrderId::new("myOrder1").unwrap_or_else(|e| panic!("{e}"));
    let cases: Vec<(RestRequest, &str, &str, u32)> = vec![
        (
            ok(rest.query_order("LTCBTC", OrderRef::ClientOrderId(id), TS)),
            "/api/v3/order",
            "symbol=LTCBTC&origClientOrderId=myOrder1&",
            4,
        ),
        (ok(rest.query_order("LTCBTC", OrderRef::OrderId(1), TS)), "/api/v3/order", "symbol=LTCBTC&orderId=1&", 4),
        (ok(rest.open_orders(Some("LTCBTC"), TS)), "/api/v3/openOrders", "symbol=LTCBTC&", 6),
        (ok(rest.open_orders(None, TS)), "/api/v3/openOrders", "", 80),
        (
            ok(rest.all_orders("LTCBTC", Some(5), Some(10), TS)),
            "/api/v3/allOrders",
            "symbol=LTCBTC&orderId=5&limit=10&",
            20,
        ),
        (ok(rest.account(true, TS)), "/api/v3/account", "omitZeroBalances=true&", 20),
        (ok(rest.account(false, TS)), "/api/v3/account", "", 20),
        (ok(rest.my_trades("LTCBTC", None, None, TS)), "/api/v3/myTrades", "symbol=LTCBTC&", 20),
        (ok(rest.my_trades("LTCBTC", Some(9), None, TS)), "/api/v3/myTrades", "symbol=LTCBTC&orderId=9&", 5),
        (ok(rest.order_rate_limits(TS)), "/api/v3/rateLimit/order", "", 40),
        (ok(rest.account_commission("LTCBTC", TS)), "/api/v3/account/commission", "symbol=LTCBTC&", 20),
        (ok(rest.my_filters("LTCBTC", TS)), "/api/v3/myFilters", "symbol=LTCBTC&", 40),
    ];
    for (req, path, params, weight) in cases {
        expect(&req, "GET", path);
        // recvWindow first, timestamp last, the endpoint's parameters between.
        assert_eq!(verified_payload(&req), format!("recvWindow=6000.5&{params}timestamp=1499827319559"), "{path}");
        assert_eq!(req.cost.weight, weight, "{path}");
    }
}

#[test]
fn environments_and_time_units() {
    let creds = Credentials::new(API_KEY, Ed25519::from_seed(&[7u8; 32]).unwrap_or_else(|e| panic!("{e}")))
        .unwrap_or_else(|e| panic!("{e}"));
    let rest = Rest::new(Environment::Testnet).with_credentials(creds).with_time_unit(TimeUnit::Microsecond);
    let req = ok(rest.account(false, TS));
    assert_eq!(req.request.uri().host(), Some("testnet.binance.vision"));
    assert_eq!(req.request.headers().get("X-MBX-TIME-UNIT").and_then(|v| v.to_str().ok()), Some("MICROSECOND"));
    let query = req.request.uri().query().unwrap_or_default();
    assert!(query.contains("timestamp=1499827319559000&signature="), "{query}");
    // An Ed25519 signature is base64 with `+ / =` percent-encoded: 88 characters, '==' → '%3D%3D'.
    let sig = query.rsplit_once("signature=").map(|(_, s)| s).unwrap_or_default();
    assert!(sig.ends_with("%3D%3D") && !sig.contains('+') && !sig.contains('/'), "{sig}");
    let custom = Rest::new(Environment::Custom {
        rest: "http://127.0.0.1:8099".into(),
        ws_api: String::new(),
        streams: String::new(),
    });
    assert_eq!(ok(custom.ping()).request.uri(), "http://127.0.0.1:8099/api/v3/ping");
    let bad =
        Rest::new(Environment::Custom { rest: "not a url".into(), ws_api: String::new(), streams: String::new() });
    assert!(matches!(bad.ping(), Err(BuildError::Url(_))));
}

#[test]
fn response_fixtures_decode() {
    macro_rules! fixture {
        ($t:ty, $f:literal) => {
            decode::<$t>(200, include_bytes!(concat!("fixtures/", $f)), None, 0)
                .unwrap_or_else(|e| panic!("{}: {e}", $f))
        };
    }
    let ack = fixture!(OrderResponse, "rest_order_response_ack.json");
    assert_eq!((ack.order_list_id, ack.status.clone(), ack.fills.len()), (-1, None, 0));
    let result = fixture!(OrderResponse, "rest_order_response_result.json");
    assert!(result.status.is_some() && result.executed_qty.is_some());
    let full = fixture!(OrderResponse, "rest_order_response_full.json");
    assert_eq!(full.fills.len(), 5);
    assert_eq!(full.fills.iter().map(|f| f.qty).sum::<rust_decimal::Decimal>(), dec!(10));
    let expired = fixture!(OrderResponse, "rest_order_response_full_market_expired_low_liquidity.json");
    assert_eq!(expired.status, Some(OrderStatus::Expired));
    let cancel = fixture!(OrderInfo, "rest_cancel_order_response.json");
    assert_eq!((cancel.status, cancel.orig_client_order_id.as_deref()), (OrderStatus::Canceled, Some("myOrder1")));
    let query = fixture!(OrderInfo, "rest_query_order_response.json");
    assert_eq!((query.order_id, query.price), (1, dec!(0.1)));
    let open = fixture!(Vec<OrderInfo>, "rest_open_orders_response.json");
    assert!(!open.is_empty());
    let account = fixture!(Account, "rest_account_response.json");
    assert_eq!(account.balances.first().map(|b| b.free), Some(dec!(4723846.89208129)));
    let depth = fixture!(DepthSnapshot, "rest_depth_snapshot_response.json");
    assert_eq!(
        (depth.last_update_id, depth.bids.len(), depth.asks.first().map(|l| l.price)),
        (1027024, 1, Some(dec!(4.00000200)))
    );
    assert_eq!(fixture!(ServerTime, "rest_time_response.json").server_time, 1499827319559);
    assert_eq!(fixture!(AvgPrice, "rest_avg_price_response.json").price, dec!(9.35751834));
    assert_eq!(fixture!(Vec<PublicTrade>, "rest_trades_response.json").len(), 1);
    assert_eq!(fixture!(Vec<RateLimitCount>, "rest_rate_limit_order_response.json").len(), 2);
}

#[test]
fn success_bodies_are_strict_about_money() {
    // A JSON number where Binance sends a decimal string is refused, not rounded through f64.
    let body = br#"{"mins":5,"price":9.35751834,"closeTime":1}"#;
    assert!(matches!(decode::<AvgPrice>(200, body, None, 0), Err(ResponseError::Decode(_))));
    // Unknown fields and new enum values are fine.
    let body =
        br#"{"symbol":"X","orderId":1,"clientOrderId":"c","transactTime":1,"status":"PENDING_MOON","brandNew":[1]}"#;
    let r = decode::<OrderResponse>(200, body, None, 0).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status, Some(OrderStatus::Unknown("PENDING_MOON".into())));
    // A 200 with a broken body is a decode error (the order's outcome is then unknown).
    assert!(matches!(decode::<OrderResponse>(200, b"{\"symbol\":", None, 0), Err(ResponseError::Decode(_))));
    // A non-2xx is an ApiError even with a success-shaped body.
    assert!(matches!(
        decode::<ServerTime>(503, b"<html>Service Unavailable</html>", None, 0),
        Err(ResponseError::Api(_))
    ));
}

fn outcome_of(status: u16, body: &[u8]) -> Outcome {
    ApiError::from_parts(status, body, None, 1_000).outcome()
}

#[test]
fn error_fixtures_are_classified() {
    macro_rules! body {
        ($f:literal) => {
            include_bytes!(concat!("fixtures/", $f)).as_slice()
        };
    }
    let rejected = |r| Outcome::Rejected(r);
    let table: Vec<(u16, &[u8], Outcome)> = vec![
        (400, body!("error_filter_failure_lot_size_live.json"), rejected(Rejection::Filter("LOT_SIZE".into()))),
        (
            400,
            body!("error_filter_failure_percent_price_by_side_live.json"),
            rejected(Rejection::Filter("PERCENT_PRICE_BY_SIDE".into())),
        ),
        (400, body!("error_illegal_new_client_order_id_live.json"), rejected(Rejection::Request(-1100))),
        (400, body!("error_illegal_quantity_chars_live.json"), rejected(Rejection::Request(-1100))),
        (
            400,
            body!("error_insufficient_balance_constructed.json"),
            rejected(Rejection::NewOrderRejected("Account has insufficient balance for requested action.".into())),
        ),
        (
            400,
            body!("error_cancel_unknown_order_constructed.json"),
            rejected(Rejection::CancelRejected("Unknown order sent.".into())),
        ),
        (
            400,
            body!("rest_error_cancel_restrictions_not_met.json"),
            rejected(Rejection::CancelRejected("Order was not canceled due to cancel restrictions.".into())),
        ),
        (400, body!("error_order_does_not_exist_constructed.json"), rejected(Rejection::NoSuchOrder)),
        (400, body!("error_order_archived_changelog.json"), rejected(Rejection::Request(-2026))),
        (400, body!("rest_error_invalid_cancel_restrictions.json"), rejected(Rejection::Request(-1145))),
        (400, body!("rest_error_invalid_symbol.json"), rejected(Rejection::Request(-1121))),
        (401, body!("error_api_key_format_constructed.json"), Outcome::Auth),
        (401, body!("error_invalid_api_key_constructed.json"), Outcome::Auth),
        (400, body!("error_invalid_signature_constructed.json"), Outcome::Auth),
        (400, body!("error_timestamp_ahead_constructed.json"), Outcome::Timestamp),
        (400, body!("error_timestamp_outside_recv_window_constructed.json"), Outcome::Timestamp),
        (503, body!("error_timeout_unknown_status_constructed.json"), Outcome::Unknown),
        (400, body!("error_timeout_unknown_status_constructed.json"), Outcome::Unknown),
        (429, body!("error_too_much_weight_constructed.json"), Outcome::RateLimited { retry_after_ms: None }),
        (429, body!("rest_error_too_many_new_orders.json"), Outcome::RateLimited { retry_after_ms: None }),
        (502, b"<html>Bad Gateway</html>", Outcome::Unknown),
        (200, b"garbage", Outcome::Unknown),
    ];
    for (status, body, expected) in table {
        assert_eq!(outcome_of(status, body), expected, "{}", String::from_utf8_lossy(body));
    }
    // Retry-After (seconds) becomes an instant; the WS API's data.retryAfter (epoch ms) wins.
    let e = ApiError::from_parts(429, br#"{"code":-1003,"msg":"Too many requests queued."}"#, Some("7"), 1_000);
    assert_eq!(e.outcome(), Outcome::RateLimited { retry_after_ms: Some(8_000) });
    let e = ApiError::from_parts(418, br#"{"code":-1003,"msg":"Way too much request weight used; IP banned until 1659146400000. Please use WebSocket Streams for live updates to avoid bans.","data":{"serverTime":1659142907531,"retryAfter":1659146400000}}"#, Some("120"), 1_000);
    assert_eq!(e.outcome(), Outcome::Banned { until_ms: Some(1659146400000) });
    assert_eq!(
        ApiError::from_parts(418, b"{}", Some("120"), 1_000).outcome(),
        Outcome::Banned { until_ms: Some(121_000) }
    );
    assert_eq!(ApiError::from_parts(418, b"", None, 1_000).outcome(), Outcome::Banned { until_ms: None });
    // Garbage Retry-After values are ignored, never a panic.
    for junk in ["", "-5", "1e3", "99999999999999999999999", "soon"] {
        assert_eq!(
            ApiError::from_parts(429, b"", Some(junk), 0).outcome(),
            Outcome::RateLimited { retry_after_ms: None },
            "{junk}"
        );
    }
    // Bounded memory for a hostile body.
    assert!(ApiError::from_parts(500, &vec![b'x'; 1 << 20], None, 0).msg.len() <= 256);
}

/// The live error bodies pasted in public issues (unlicensed: read from ../shared, not shipped).
#[test]
fn recorded_live_error_bodies_are_classified() {
    let Some(dir) = std::env::var_os("AEGIS_RECORDED_DIR") else {
        assert!(std::env::var("CI").is_err(), "CI must set AEGIS_RECORDED_DIR");
        return;
    };
    let path = PathBuf::from(dir).join("errors/binance_error_bodies_from_github_issues.json");
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
            .unwrap_or_else(|e| panic!("{e}"));
    let entries = doc.get("entries").and_then(|e| e.as_array()).cloned().unwrap_or_default();
    let mut checked = 0;
    for entry in entries {
        let Some(body) = entry.get("body_text").and_then(|b| b.as_str()).filter(|b| !b.is_empty()) else { continue };
        let status =
            entry.get("http_status").and_then(|s| s.as_u64()).and_then(|s| u16::try_from(s).ok()).unwrap_or(400);
        let e = ApiError::from_parts(status, body.as_bytes(), None, 0);
        let expected_kind = match e.code {
            Some(-1013) => matches!(e.outcome(), Outcome::Rejected(Rejection::Filter(_))),
            Some(-1021) => e.outcome() == Outcome::Timestamp,
            Some(-1022) => e.outcome() == Outcome::Auth,
            Some(-2010) => matches!(e.outcome(), Outcome::Rejected(Rejection::NewOrderRejected(_))),
            Some(-2011) => matches!(e.outcome(), Outcome::Rejected(Rejection::CancelRejected(_))),
            Some(-1003) if body.contains("banned until") => {
                matches!(e.outcome(), Outcome::Banned { until_ms: Some(t) } if t > 1_500_000_000_000)
            }
            Some(-1003) => matches!(e.outcome(), Outcome::RateLimited { .. }),
            other => panic!("unexpected code {other:?} in {body}"),
        };
        assert!(expected_kind, "{body} -> {:?}", e.outcome());
        checked += 1;
    }
    assert!(checked >= 17, "{checked}");
}

#[test]
fn remaining_response_fixtures_decode() {
    use aegis_exchange::rest::{
        AggTrade, CancelReplace, CancelledEntry, Kline, MyFilters, MyTrade, OrderCommissionRates,
    };
    macro_rules! fixture {
        ($t:ty, $f:literal) => {
            decode::<$t>(200, include_bytes!(concat!("fixtures/", $f)), None, 0)
                .unwrap_or_else(|e| panic!("{}: {e}", $f))
        };
    }
    let klines = fixture!(Vec<Kline>, "rest_klines_response.json");
    assert_eq!(
        klines.first().map(|k| (k.open_time, k.high, k.trades, k.taker_buy_quote_volume)),
        Some((1499040000000, dec!(0.8), 308, dec!(28.46694368)))
    );
    let agg = fixture!(Vec<AggTrade>, "rest_agg_trades_response.json");
    assert_eq!(agg.first().map(|a| (a.id, a.first_trade_id, a.last_trade_id)), Some((26129, 27781, 27781)));
    let mine = fixture!(Vec<MyTrade>, "rest_my_trades_response.json");
    assert_eq!(
        mine.first().map(|t| (t.order_id, t.commission, t.commission_asset.as_str())),
        Some((100234, dec!(10.1), "BNB"))
    );
    let rates = fixture!(OrderCommissionRates, "rest_order_test_response_with_commission_rates.json");
    assert_eq!((rates.standard_commission_for_order.taker, rates.discount.discount), (dec!(0.00000114), dec!(0.25)));
    let cr = fixture!(CancelReplace, "rest_cancel_replace_success.json");
    assert_eq!(cr.cancelled().map(|o| (o.order_id, o.status)), Some((9, OrderStatus::Canceled)));
    assert_eq!(cr.new_order().map(|o| (o.order_id, o.status)), Some((10, Some(OrderStatus::New))));
    for f in [
        include_bytes!("fixtures/rest_cancel_replace_error_cancel_ok_new_order_failed.json").as_slice(),
        include_bytes!("fixtures/rest_cancel_replace_error_both_failed.json"),
        include_bytes!("fixtures/rest_cancel_replace_error_stop_on_failure_cancel_failed.json"),
        include_bytes!("fixtures/rest_cancel_replace_error_allow_failure_cancel_failed_new_ok.json"),
    ] {
        let data = CancelReplace::from_error_body(f).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(data.cancelled().is_some(), data.cancel_result == "SUCCESS", "{data:?}");
        assert_eq!(data.new_order().is_some(), data.new_order_result == "SUCCESS", "{data:?}");
    }
    let all = fixture!(Vec<CancelledEntry>, "rest_cancel_open_orders_response.json");
    let (orders, lists) = all.iter().fold((0, 0), |(o, l), e| match e {
        CancelledEntry::Order(_) => (o + 1, l),
        _ => (o, l + 1),
    });
    assert_eq!((orders, lists), (2, 1));
    assert!(
        matches!(all.last(), Some(CancelledEntry::OrderList { contingency_type, order_reports, .. }) if contingency_type == "OCO" && order_reports.len() == 2)
    );
    let filters = fixture!(MyFilters, "rest_my_filters_response.json");
    assert_eq!(
        filters.asset_filters,
        vec![aegis_exchange::Filter::MaxAsset { asset: "JPY".into(), limit: dec!(1000000) }]
    );
    assert_eq!((filters.exchange_filters.len(), filters.symbol_filters.len()), (1, 1));
}

#[test]
fn small_responses_and_permissions() {
    use aegis_exchange::rest::{AmendResponse, ReferencePrice, TestOrderAccepted};
    assert_eq!(
        decode::<TestOrderAccepted>(200, include_bytes!("fixtures/rest_order_test_response_empty.json"), None, 0),
        Ok(TestOrderAccepted {})
    );
    let r: ReferencePrice = decode(200, br#"{"symbol":"BTCUSDT","referencePrice":"65432.10","timestamp":1}"#, None, 0)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.reference_price, Some(dec!(65432.1)));
    let none: ReferencePrice = decode(200, br#"{"symbol":"BTCUSDT","referencePrice":null,"timestamp":1}"#, None, 0)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(none.reference_price, None);
    let amend: AmendResponse = decode(
        200,
        br#"{"transactTime":1741926410255,"executionId":75,"amendedOrder":{"symbol":"BTCUSDT","orderId":33,"orderListId":-1,"origClientOrderId":"5xrgbMyg6z36NzBn2pbT8H","clientOrderId":"PFaq6hIHxqFENGfdtn4J6Q","price":"6.00000000","qty":"5.00000000","executedQty":"0.00000000","preventedQty":"0.00000000","quoteOrderQty":"0.00000000","cumulativeQuoteQty":"0.00000000","status":"NEW","timeInForce":"GTC","type":"LIMIT","side":"SELL","workingTime":1741926410242,"selfTradePreventionMode":"NONE"}}"#,
        None,
        0,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((amend.amended_order.qty, amend.amended_order.status), (dec!(5), OrderStatus::New));
    let cancel_only = aegis_exchange::rest::CancelReplace::from_error_body(include_bytes!(
        "fixtures/rest_cancel_replace_error_rate_limit_cancel_only.json"
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((cancel_only.cancelled().map(|o| o.order_id), cancel_only.new_order()), (Some(64), None));
    let req = ok(Rest::new(Environment::Production).exchange_info_by_permissions(&["SPOT", "MARGIN"]));
    assert_eq!(req.request.uri().query(), Some("permissions=%5B%22SPOT%22%2C%22MARGIN%22%5D"));
    assert_eq!(req.cost.weight, 20);
}

/// Binance's published WebSocket-API HMAC request examples: their signature is reproduced from
/// their own parameters by the crate's payload rule.
#[test]
fn official_ws_api_signed_requests_reproduce() {
    for bytes in [
        include_bytes!("fixtures/ws_api_hmac_signed_request_ascii.json").as_slice(),
        include_bytes!("fixtures/ws_api_hmac_signed_request_non_ascii.json"),
    ] {
        let v: serde_json::Value = serde_json::from_slice(bytes).unwrap_or_else(|e| panic!("{e}"));
        let params = v.get("params").and_then(|p| p.as_object()).cloned().unwrap_or_default();
        let texts: Vec<(String, String)> = params
            .iter()
            .filter(|(k, _)| k.as_str() != "signature")
            .map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
            .collect();
        let refs: Vec<(&str, &str)> = texts.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let payload = aegis_exchange::sign::ws_api_payload(&refs);
        let expected = params.get("signature").and_then(|s| s.as_str()).unwrap_or_default();
        use aegis_exchange::sign::Signer as _;
        assert_eq!(HmacSha256::new(SECRET).sign(payload.as_bytes()).as_str(), expected, "{payload}");
    }
}
