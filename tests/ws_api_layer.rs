//! The WebSocket-API layer: every response and user-data fixture decodes; request frames carry
//! a signature over exactly their own parameters (sorted, raw UTF-8); envelopes map to outcomes;
//! the real user-data captures decode event by event.

use std::path::PathBuf;

use aegis_exchange::rest::{OrderRef, OrderResponse, Outcome, Rejection};
use aegis_exchange::sign::{Credentials, Ed25519, HmacSha256, ws_api_payload};
use aegis_exchange::ws_api::{UserDataEvent, WsApi, WsAuth, WsBuildError, WsFrame};
use aegis_exchange::{ClientOrderId, ExchangeInfo, ExecutionType, MarketContext, OrderRequest, OrderStatus, Side};
use ed25519_dalek::Verifier;
use hmac::{KeyInit, Mac};
use rust_decimal_macros::dec;
use serde_json::Value;

const SECRET: &str = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
const API_KEY: &str = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";

fn frame(bytes: &[u8]) -> WsFrame {
    WsFrame::decode(bytes).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(bytes)))
}

/// The `params` of a request frame as (name, text) pairs, and its signature.
fn params_of(text: &str) -> (Vec<(String, String)>, Option<String>) {
    let v: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"));
    let mut pairs = Vec::new();
    let mut signature = None;
    for (k, v) in v.get("params").and_then(Value::as_object).cloned().unwrap_or_default() {
        let text = match v {
            Value::String(s) => s,
            other => other.to_string(),
        };
        if k == "signature" { signature = Some(text) } else { pairs.push((k, text)) }
    }
    (pairs, signature)
}

fn payload_of(pairs: &[(String, String)]) -> String {
    let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    ws_api_payload(&refs)
}

#[test]
fn user_data_fixtures_decode() {
    let report = frame(include_bytes!("fixtures/uds_execution_report.json"));
    let WsFrame::Event { subscription_id: Some(0), event: UserDataEvent::ExecutionReport(r) } = report else {
        panic!("{report:?}")
    };
    assert_eq!(
        (r.symbol.as_str(), r.order_id, r.execution_type.clone(), r.status.clone()),
        ("ETHBTC", 4293153, ExecutionType::New, OrderStatus::New)
    );
    assert_eq!((r.price, r.commission_asset.clone(), r.trade_id), (dec!(0.10264410), None, -1));

    let pos = frame(include_bytes!("fixtures/ws_api_event_envelope_outbound_account_position.json"));
    let WsFrame::Event { event: UserDataEvent::OutboundAccountPosition { balances, .. }, .. } = pos else {
        panic!("{pos:?}")
    };
    assert_eq!(
        balances.iter().map(|b| (b.asset.as_str(), b.free, b.locked)).collect::<Vec<_>>(),
        vec![("BTC", dec!(11818), dec!(182)), ("USDT", dec!(10580), dec!(70))]
    );

    assert_eq!(
        frame(include_bytes!("fixtures/uds_balance_update.json")),
        WsFrame::Event {
            subscription_id: Some(0),
            event: UserDataEvent::BalanceUpdate {
                event_time: 1573200697110,
                asset: "BTC".into(),
                delta: dec!(100),
                clear_time: 1573200697068
            }
        }
    );
    assert!(matches!(
        frame(include_bytes!("fixtures/uds_external_lock_update.json")),
        WsFrame::Event { event: UserDataEvent::ExternalLockUpdate { .. }, .. }
    ));
    let list = frame(include_bytes!("fixtures/uds_list_status.json"));
    assert!(
        matches!(&list, WsFrame::Event { event: UserDataEvent::ListStatus { orders, .. }, .. } if orders.len() == 2),
        "{list:?}"
    );
    assert!(matches!(
        frame(include_bytes!("fixtures/uds_event_stream_terminated.json")),
        WsFrame::Event { event: UserDataEvent::EventStreamTerminated { .. }, .. }
    ));
    assert_eq!(
        frame(include_bytes!("fixtures/ws_api_server_shutdown_event.json")),
        WsFrame::Event { subscription_id: None, event: UserDataEvent::ServerShutdown { event_time: 1770123456789 } }
    );
    // The legacy bare event and the FAQ's MARKET partial-fill-then-expired sequence.
    let bare: Value =
        serde_json::from_slice(include_bytes!("fixtures/uds_legacy_listen_key_execution_report_unwrapped.json"))
            .unwrap_or(Value::Null);
    assert!(matches!(UserDataEvent::from_value(bare), Ok(UserDataEvent::ExecutionReport(_))));
    let seq: Vec<Value> =
        serde_json::from_slice(include_bytes!("fixtures/uds_market_order_partial_fill_then_expired_sequence.json"))
            .unwrap_or_default();
    let statuses: Vec<OrderStatus> = seq
        .into_iter()
        .filter_map(|e| match UserDataEvent::from_value(e) {
            Ok(UserDataEvent::ExecutionReport(r)) => Some(r.status),
            _ => None,
        })
        .collect();
    assert_eq!(
        statuses,
        vec![OrderStatus::New, OrderStatus::PartiallyFilled, OrderStatus::PartiallyFilled, OrderStatus::Expired]
    );
    // Unknown event types are kept by name; a known type with a bad field is an error.
    assert!(matches!(
        WsFrame::decode(br#"{"subscriptionId":1,"event":{"e":"futureEvent","E":1}}"#),
        Ok(WsFrame::Event { event: UserDataEvent::Unknown { .. }, .. })
    ));
    assert!(
        WsFrame::decode(br#"{"subscriptionId":1,"event":{"e":"balanceUpdate","E":1,"a":"BTC","d":100,"T":1}}"#)
            .is_err()
    );
    assert!(WsFrame::decode(b"[1,2]").is_err());
}

#[test]
fn response_envelopes() {
    let ok = frame(include_bytes!("fixtures/ws_api_response_envelope_success.json"));
    let WsFrame::Response(r) = ok else { panic!() };
    assert_eq!(r.api_error(), None);
    let order: OrderResponse = r.result_as().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(order.status, Some(OrderStatus::New));
    for f in [
        include_bytes!("fixtures/ws_api_order_place_response_ack.json").as_slice(),
        include_bytes!("fixtures/ws_api_order_place_response_result.json"),
        include_bytes!("fixtures/ws_api_order_place_response_full.json"),
    ] {
        let WsFrame::Response(r) = frame(f) else { panic!() };
        assert!(r.result_as::<OrderResponse>().is_ok());
        assert!(!r.rate_limits.is_empty());
    }
    for f in [
        include_bytes!("fixtures/ws_api_session_logon_response.json").as_slice(),
        include_bytes!("fixtures/ws_api_user_data_stream_subscribe_response.json"),
        include_bytes!("fixtures/ws_api_user_data_stream_subscribe_signature_response.json"),
        include_bytes!("fixtures/ws_api_exchange_info_response.json"),
    ] {
        let WsFrame::Response(r) = frame(f) else { panic!() };
        assert_eq!((r.status, r.api_error()), (200, None));
    }
    let WsFrame::Response(e) =
        frame(include_bytes!("fixtures/ws_api_response_envelope_error_insufficient_balance.json"))
    else {
        panic!()
    };
    assert_eq!(
        e.api_error().map(|e| e.outcome()),
        Some(Outcome::Rejected(Rejection::NewOrderRejected(
            "Account has insufficient balance for requested action.".into()
        )))
    );
    let WsFrame::Response(ban) = frame(include_bytes!("fixtures/ws_api_error_418_ip_banned.json")) else { panic!() };
    assert_eq!(ban.api_error().map(|e| e.outcome()), Some(Outcome::Banned { until_ms: Some(1659146400000) }));
    let WsFrame::Response(revoked) = frame(include_bytes!("fixtures/ws_api_error_401_session_revoked.json")) else {
        panic!()
    };
    assert_eq!((revoked.id.clone(), revoked.api_error().map(|e| e.outcome())), (None, Some(Outcome::Auth)));
}

#[test]
fn request_frames_sign_their_own_parameters() {
    let info = ExchangeInfo::from_json(aegis_exchange::BUNDLED_EXCHANGE_INFO).unwrap_or_else(|e| panic!("{e}"));
    let rules = info.symbol("BTCUSDT").unwrap_or_else(|| panic!("BTCUSDT"));
    let id = ClientOrderId::new("ae-1").unwrap_or_else(|e| panic!("{e}"));
    let valid = rules
        .normalize(
            OrderRequest::limit("BTCUSDT", Side::Sell, dec!(0.01), dec!(65000.123)).with_client_order_id(id),
            &MarketContext::default().with_reference_price(dec!(65000)).with_open_orders(0),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let api = WsApi::new()
        .with_credentials(Credentials::new(API_KEY, HmacSha256::new(SECRET)).unwrap_or_else(|e| panic!("{e}")));
    let req = api
        .order_place("56374a46-3061-486b-a311-99ee972eb648", &valid, WsAuth::Signed, 1660801715431)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((req.method, req.cost.orders, req.cost.weight_on_success), ("order.place", 1, 0));
    let (pairs, signature) = params_of(&req.text);
    let payload = payload_of(&pairs);
    assert_eq!(
        payload,
        format!(
            "apiKey={API_KEY}&newClientOrderId=ae-1&price=65000.13&quantity=0.01&side=SELL&symbol=BTCUSDT&timeInForce=GTC&timestamp=1660801715431&type=LIMIT"
        )
    );
    let mut mac =
        <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(SECRET.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    mac.update(payload.as_bytes());
    assert_eq!(signature, Some(hex::encode(mac.finalize().into_bytes())));

    // A logged-on session sends only the timestamp.
    let req = api
        .order_status("q1", "BTCUSDT", OrderRef::ClientOrderId(id), WsAuth::Session, 7)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        req.text,
        r#"{"id":"q1","method":"order.status","params":{"symbol":"BTCUSDT","origClientOrderId":"ae-1","timestamp":7}}"#
    );
    let req =
        api.order_cancel("c1", "BTCUSDT", OrderRef::OrderId(9), WsAuth::Session, 7).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        req.text,
        r#"{"id":"c1","method":"order.cancel","params":{"symbol":"BTCUSDT","orderId":9,"timestamp":7}}"#
    );
    let req = api.open_orders_cancel_all("x", "BTCUSDT", WsAuth::Session, 7).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(req.method, "openOrders.cancelAll");
    assert_eq!(api.ping("p").map(|r| r.text), Ok(r#"{"id":"p","method":"ping"}"#.to_owned()));
    assert_eq!(
        api.user_data_stream_subscribe("s").map(|r| r.text),
        Ok(r#"{"id":"s","method":"userDataStream.subscribe"}"#.to_owned())
    );
    assert_eq!(api.ping("bad id!").err(), Some(WsBuildError::InvalidId));
    assert_eq!(api.session_logon("l", 1).err(), Some(WsBuildError::NotEd25519));
    assert_eq!(WsApi::new().order_place("o", &valid, WsAuth::Signed, 1).err(), Some(WsBuildError::NoCredentials));
}

#[test]
fn session_logon_and_signature_subscription_verify() {
    let seed = hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60").unwrap_or_default();
    let key = Ed25519::from_seed(&seed).unwrap_or_else(|e| panic!("{e}"));
    let verifying = ed25519_dalek::VerifyingKey::from_bytes(&key.public_key()).unwrap_or_else(|e| panic!("{e}"));
    let api = WsApi::new().with_credentials(
        Credentials::new("4yNzx3yWC5bS6YTwEkSRaC0nRmSQIIStAUOh1b6kqaBrTLIhjCpI5lJH8q8R8WNO", key)
            .unwrap_or_else(|e| panic!("{e}")),
    );
    for req in [
        api.session_logon("c174a2b1-3f51-4580-b200-8528bd237cb7", 1649729878532),
        api.user_data_stream_subscribe_signature("d3df8a22-98ea-4fe0-9f4e-0fcea5d418b7", 1747385641636),
    ] {
        let req = req.unwrap_or_else(|e| panic!("{e}"));
        let (pairs, signature) = params_of(&req.text);
        let payload = payload_of(&pairs);
        assert!(
            payload.starts_with("apiKey=4yNzx3yWC5bS6YTwEkSRaC0nRmSQIIStAUOh1b6kqaBrTLIhjCpI5lJH8q8R8WNO&timestamp="),
            "{payload}"
        );
        let raw = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, signature.unwrap_or_default())
            .unwrap_or_default();
        let sig = ed25519_dalek::Signature::from_slice(&raw).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            verifying.verify(payload.as_bytes(), &sig).is_ok(),
            "signature must verify over the sorted raw payload"
        );
        assert_eq!(req.cost.weight, 2);
    }
}

/// Real user-data captures (gocryptotrader MIT, bbgo, power_toys), read from ../shared.
#[test]
fn recorded_user_data_decodes() {
    let Some(dir) = std::env::var_os("AEGIS_RECORDED_DIR") else {
        assert!(std::env::var("CI").is_err(), "CI must set AEGIS_RECORDED_DIR");
        return;
    };
    let dir = PathBuf::from(dir).join("user_data");
    let mut reports = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
        let docs: Vec<Value> = if path.extension().is_some_and(|x| x == "jsonl") {
            text.lines().filter(|l| !l.trim().is_empty()).filter_map(|l| serde_json::from_str(l).ok()).collect()
        } else {
            serde_json::from_str(&text).into_iter().collect()
        };
        for doc in docs {
            // Legacy captures: bare events or `{"stream": <listenKey>, "data": event}`.
            let event = doc.get("data").cloned().unwrap_or(doc);
            if event.get("e").is_none() {
                continue; // a SUBSCRIBE request or its answer
            }
            match UserDataEvent::from_value(event.clone()) {
                Ok(UserDataEvent::ExecutionReport(r)) => {
                    assert!(r.cumulative_qty <= r.quantity, "{}: {r:?}", path.display());
                    reports += 1;
                }
                Ok(_) => {}
                Err(e) => panic!("{}: {e}: {event}", path.display()),
            }
        }
    }
    // bbgo margin NEW + FILLED, gocryptotrader NEW + FILLED, bbgo PR 238 FILLED, power_toys NEW + CANCELED.
    assert_eq!(reports, 7);
}

/// Every executionReport at hand (the docs' and, when `AEGIS_RECORDED_DIR` is set, real ones
/// from mainnet and testnet), as the WebSocket API wraps it: the fast path (compact frames) and
/// the general path (the same event through a `Value`) read it identically.
#[test]
fn execution_reports_read_the_same_on_the_fast_and_the_general_path() {
    let mut events: Vec<Value> = Vec::new();
    let doc: Value = serde_json::from_slice(include_bytes!("fixtures/uds_execution_report.json")).unwrap();
    events.push(doc["event"].clone());
    events.push(
        serde_json::from_slice(include_bytes!("fixtures/uds_legacy_listen_key_execution_report_unwrapped.json"))
            .unwrap(),
    );
    match std::env::var_os("AEGIS_RECORDED_DIR") {
        Some(dir) => {
            let dir = PathBuf::from(dir).join("user_data");
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                let text = std::fs::read_to_string(&path).unwrap();
                let values: Vec<Value> = if path.extension().is_some_and(|e| e == "jsonl") {
                    text.lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).unwrap()).collect()
                } else {
                    match serde_json::from_str::<Value>(&text).unwrap() {
                        Value::Array(items) => items,
                        one => vec![one],
                    }
                };
                for v in values {
                    let event = if v.get("data").is_some() { v["data"].clone() } else { v };
                    if event["e"] == "executionReport" {
                        events.push(event);
                    }
                }
            }
        }
        None => assert!(std::env::var("CI").is_err(), "CI must set AEGIS_RECORDED_DIR"),
    }
    let recorded = std::env::var_os("AEGIS_RECORDED_DIR").is_some();
    assert!(events.len() >= if recorded { 9 } else { 2 }, "{} reports", events.len());
    for (i, event) in events.iter().enumerate() {
        let general = UserDataEvent::from_value(event.clone()).unwrap();
        // Compact, "e" first: what Binance sends, and what the fast path takes.
        let mut compact = String::from(r#"{"subscriptionId":3,"event":{"e":"executionReport","#);
        let body = event.to_string();
        compact.push_str(body.trim_start_matches('{').replace(r#""e":"executionReport","#, "").as_str());
        compact.push('}');
        let fast = WsFrame::decode(compact.as_bytes()).unwrap_or_else(|e| panic!("#{i}: {e}: {compact}"));
        assert_eq!(fast, WsFrame::Event { subscription_id: Some(3), event: general.clone() }, "#{i}");
        // Pretty-printed (not the fast path's shape): the same answer through the general path.
        let pretty = serde_json::to_string_pretty(&serde_json::json!({"subscriptionId": 3, "event": event})).unwrap();
        assert_eq!(WsFrame::decode(pretty.as_bytes()).unwrap(), fast, "#{i}");
    }
    // A frame that looks like one but is not (a missing field) is refused, as the general path
    // refuses it.
    let broken = r#"{"subscriptionId":0,"event":{"e":"executionReport","E":1}}"#;
    assert!(WsFrame::decode(broken.as_bytes()).is_err());
}
