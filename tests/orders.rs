//! The order state machine: lifecycles on the docs' payloads, duplicate and reordered events,
//! the double-order guard, and the resolution of unknown outcomes for every ambiguous cause.

use std::sync::Arc;

use aegis_exchange::rest::{ApiError, MyTrade, OrderInfo, OrderResponse};
use aegis_exchange::ws_api::ExecutionReport;
use aegis_exchange::{AssetId, Balance, Ledger, LedgerError};
use aegis_exchange::{ClientOrderId, OrderRequest, Side};
use aegis_exchange::{OrderAction, OrderApplied, OrderState, Orders, OrdersConfig, OrdersError, Submit, SymbolPolicy};
use proptest::prelude::*;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde_json::{Value, json};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/");

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{FIXTURES}{name}")).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn cid(s: &str) -> ClientOrderId {
    ClientOrderId::new(s).unwrap()
}

/// A ledger with BTC 0, USDT 10000, BNB 1 and a tracker on it.
struct Desk {
    ledger: Arc<Ledger>,
    orders: Orders,
    btc: AssetId,
    usdt: AssetId,
}

fn desk(config: OrdersConfig) -> Desk {
    let ledger = Arc::new(Ledger::new());
    let (btc, usdt, bnb) = (ledger.asset("BTC").unwrap(), ledger.asset("USDT").unwrap(), ledger.asset("BNB").unwrap());
    ledger.credit(usdt, dec!(10000)).unwrap();
    ledger.credit(bnb, dec!(1)).unwrap();
    let orders = Orders::new(Arc::clone(&ledger), config);
    Desk { ledger, orders, btc, usdt }
}

impl Desk {
    fn bal(&self, asset: AssetId) -> Balance {
        self.ledger.balance(asset).unwrap()
    }

    /// A limit buy of `qty` BTC at `price`, sent at `ts` with recvWindow 5000.
    fn buy(&mut self, id: &str, qty: Decimal, price: Decimal, ts: i64) -> Result<(), OrdersError> {
        let order = OrderRequest::limit("BTCUSDT", Side::Buy, qty, price).with_client_order_id(cid(id));
        self.orders.submit(Submit::new(&order, self.btc, self.usdt))?;
        assert!(self.orders.on_sent(ts, &cid(id), ts, 5000), "a fresh order is sent once");
        Ok(())
    }

    fn state(&self, id: &str) -> OrderState {
        self.orders.get(&cid(id)).unwrap().state
    }

    fn report(&mut self, now: i64, r: &ExecutionReport) -> OrderApplied {
        self.orders.on_report(now, &r.report(), r.trade())
    }
}

/// An executionReport for BTCUSDT order 42 (`id`), built from the docs' template with `changes`.
fn report(id: &str, changes: Value) -> ExecutionReport {
    let mut doc: Value = serde_json::from_slice(&fixture("uds_execution_report.json")).unwrap();
    let mut v = doc["event"].take();
    let base = json!({"s": "BTCUSDT", "c": id, "C": "", "S": "BUY", "o": "LIMIT", "i": 42, "q": "0.10000000",
        "p": "60000.00000000", "x": "NEW", "X": "NEW", "l": "0", "z": "0", "L": "0", "n": "0", "N": null,
        "t": -1, "Y": "0", "Z": "0"});
    for (k, val) in base.as_object().unwrap().iter().chain(changes.as_object().unwrap()) {
        v[k] = val.clone();
    }
    serde_json::from_value(v).unwrap_or_else(|e| panic!("{e}"))
}

/// A trade of `l` at `price` with cumulative `z` / `zq`, commission in BTC.
fn trade(id: &str, t: i64, l: Decimal, price: Decimal, z: Decimal, zq: Decimal, status: &str) -> ExecutionReport {
    report(
        id,
        json!({"x": "TRADE", "X": status, "t": t, "l": l.to_string(), "L": price.to_string(),
            "Y": (l * price).to_string(), "z": z.to_string(), "Z": zq.to_string(),
            "n": (l / dec!(1000)).to_string(), "N": "BTC"}),
    )
}

#[test]
fn a_partial_fill_then_a_cancel_releases_exactly_the_remainder() {
    let mut d = desk(OrdersConfig::default());
    d.buy("o1", dec!(0.1), dec!(60000), 0).unwrap();
    assert_eq!(d.bal(d.usdt), Balance { free: dec!(4000), locked: dec!(6000) });
    assert!(matches!(d.report(1, &report("o1", json!({}))), OrderApplied::Changed(u) if u.state == OrderState::New));
    let fill = trade("o1", 7, dec!(0.04), dec!(59990), dec!(0.04), dec!(2399.6), "PARTIALLY_FILLED");
    let OrderApplied::Changed(u) = d.report(2, &fill) else { panic!("trade not applied") };
    assert_eq!((u.state, u.traded, u.released), (OrderState::PartiallyFilled, dec!(0.04), None));
    // The same trade again (a reconnect replay): nothing moves.
    assert_eq!(d.report(3, &fill), OrderApplied::Duplicate);
    assert_eq!(d.bal(d.usdt), Balance { free: dec!(4000), locked: dec!(3600.4) });
    assert_eq!(d.bal(d.btc), Balance { free: dec!(0.03996), locked: dec!(0) });
    // A late NEW changes nothing: states only move forward.
    assert_eq!(d.report(4, &report("o1", json!({}))), OrderApplied::Duplicate);
    assert_eq!(d.state("o1"), OrderState::PartiallyFilled);

    let (symbol, order_id) = d.orders.cancel(&cid("o1")).unwrap();
    assert_eq!((symbol.as_str(), order_id), ("BTCUSDT", Some(42)));
    assert_eq!(d.state("o1"), OrderState::PendingCancel);
    let canceled = report(
        "cancel-1",
        json!({"C": "o1", "x": "CANCELED", "X": "CANCELED", "z": "0.04000000", "Z": "2399.60000000"}),
    );
    let OrderApplied::Changed(u) = d.report(5, &canceled) else { panic!("cancel not applied") };
    assert_eq!((u.state, u.released), (OrderState::Canceled, Some(dec!(3600.4))));
    assert_eq!(d.report(6, &canceled), OrderApplied::Duplicate);
    assert_eq!(d.report(6, &fill), OrderApplied::Duplicate);
    assert_eq!(d.bal(d.usdt), Balance { free: dec!(7600.4), locked: dec!(0) });
    let view = d.orders.get(&cid("o1")).unwrap();
    assert_eq!((view.executed_qty, view.cumulative_quote_qty, view.reservation), (dec!(0.04), dec!(2399.6), None));
    assert_eq!(d.orders.poll_action(1_000_000), None);
}

#[test]
fn reordered_trades_count_once_and_cumulative_only_grows() {
    let mut d = desk(OrdersConfig::default());
    d.buy("o2", dec!(0.1), dec!(60000), 0).unwrap();
    let t7 = trade("o2", 7, dec!(0.02), dec!(60000), dec!(0.02), dec!(1200), "PARTIALLY_FILLED");
    let t8 = trade("o2", 8, dec!(0.03), dec!(59000), dec!(0.05), dec!(2970), "PARTIALLY_FILLED");
    let t9 = trade("o2", 9, dec!(0.05), dec!(58000), dec!(0.1), dec!(5870), "FILLED");
    // The fill of the whole order arrives first; the earlier trades after it, twice each.
    for r in [&t9, &t8, &t7, &t8, &t7, &t9] {
        d.report(1, r);
        let v = d.orders.get(&cid("o2")).unwrap();
        assert_eq!((v.executed_qty, v.cumulative_quote_qty), (dec!(0.1), dec!(5870)), "cumulative went back");
    }
    assert_eq!(d.state("o2"), OrderState::Filled);
    assert_eq!(d.bal(d.usdt), Balance { free: dec!(4130), locked: dec!(0) });
    assert_eq!(d.bal(d.btc), Balance { free: dec!(0.0999), locked: dec!(0) });
}

#[test]
fn a_filled_report_before_its_trades_waits_for_them_then_releases_once() {
    let mut d = desk(OrdersConfig::default());
    d.buy("o3", dec!(0.1), dec!(60000), 0).unwrap();
    // A RESULT answer says FILLED (at a better price) before any trade event arrived.
    let mut body: Value = serde_json::from_slice(&fixture("rest_order_response_result.json")).unwrap();
    for (k, v) in [("symbol", "BTCUSDT"), ("clientOrderId", "o3"), ("status", "FILLED"), ("side", "BUY")] {
        body[k] = json!(v);
    }
    body["orderId"] = json!(42);
    body["executedQty"] = json!("0.10000000");
    body["cummulativeQuoteQty"] = json!("5900.00000000");
    let response: OrderResponse = serde_json::from_value(body).unwrap();
    let OrderApplied::Changed(u) = d.orders.on_report(1, &response.report(), response.trades()) else { panic!() };
    assert_eq!((u.state, u.released), (OrderState::Filled, None), "released before the trades were applied");
    assert_eq!(d.bal(d.usdt).locked, dec!(6000));
    // Without trades, the tracker asks for them after the grace period.
    assert_eq!(d.orders.poll_action(1_000), None);
    let action = d.orders.poll_action(2_001).unwrap();
    assert_eq!(
        action,
        OrderAction::FetchTrades {
            symbol: "BTCUSDT".into(),
            client_order_id: cid("o3"),
            order_id: 42,
            allocations: false
        }
    );
    let trades: Vec<MyTrade> = serde_json::from_value(json!([
        {"symbol": "BTCUSDT", "id": 11, "orderId": 42, "orderListId": -1, "price": "59000", "qty": "0.06",
         "quoteQty": "3540", "commission": "0.00006", "commissionAsset": "BTC", "time": 1, "isBuyer": true,
         "isMaker": false, "isBestMatch": true},
        {"symbol": "BTCUSDT", "id": 12, "orderId": 42, "orderListId": -1, "price": "59000", "qty": "0.04",
         "quoteQty": "2360", "commission": "0.00004", "commissionAsset": "BTC", "time": 1, "isBuyer": true,
         "isMaker": false, "isBestMatch": true},
        {"symbol": "BTCUSDT", "id": 13, "orderId": 7, "orderListId": -1, "price": "1", "qty": "1",
         "quoteQty": "1", "commission": "0", "commissionAsset": "BTC", "time": 1, "isBuyer": true,
         "isMaker": false, "isBestMatch": true}
    ]))
    .unwrap();
    let OrderApplied::Changed(u) = d.orders.on_trades(2_100, &cid("o3"), trades.iter().map(MyTrade::trade)) else {
        panic!()
    };
    assert_eq!((u.traded, u.released), (dec!(0.1), Some(dec!(100))));
    // The stream's copies of the same trades come late: nothing moves.
    let late = trade("o3", 11, dec!(0.06), dec!(59000), dec!(0.06), dec!(3540), "PARTIALLY_FILLED");
    assert_eq!(d.report(2_200, &late), OrderApplied::Duplicate);
    assert_eq!(d.bal(d.usdt), Balance { free: dec!(4100), locked: dec!(0) });
    assert_eq!(d.bal(d.btc).free, dec!(0.0999));
    assert_eq!(d.orders.poll_action(100_000), None);
}

#[test]
fn full_response_fills_and_their_events_count_once() {
    // The docs' FULL answer: a MARKET SELL of 10 in five fills, commission in USDT.
    let ledger = Arc::new(Ledger::new());
    let (btc, usdt) = (ledger.asset("BTC").unwrap(), ledger.asset("USDT").unwrap());
    ledger.credit(btc, dec!(12)).unwrap();
    let mut orders = Orders::new(Arc::clone(&ledger), OrdersConfig::default());
    let response: OrderResponse = serde_json::from_slice(&fixture("rest_order_response_full.json")).unwrap();
    let id = cid(&response.client_order_id);
    let order = OrderRequest::market("BTCUSDT", Side::Sell, dec!(10)).with_client_order_id(id);
    orders.submit(Submit::new(&order, btc, usdt)).unwrap();
    assert!(orders.on_sent(0, &id, 0, 5000));
    let OrderApplied::Changed(u) = orders.on_report(1, &response.report(), response.trades()) else { panic!() };
    assert_eq!((u.state, u.traded, u.released), (OrderState::Filled, dec!(10), Some(dec!(0))));
    let proceeds: Decimal = response.fills.iter().map(|f| f.price * f.qty - f.commission).sum();
    assert_eq!(ledger.balance(usdt).unwrap(), Balance { free: proceeds, locked: dec!(0) });
    assert_eq!(ledger.balance(btc).unwrap(), Balance { free: dec!(2), locked: dec!(0) });
    // The same answer again (a retry of the read) and each fill's executionReport: no change.
    assert_eq!(orders.on_report(2, &response.report(), response.trades()), OrderApplied::Duplicate);
    for f in &response.fills {
        let mut r = report(
            &response.client_order_id,
            json!({"S": "SELL", "x": "TRADE", "X": "FILLED", "i": 28, "q": "10.00000000",
            "t": f.trade_id, "l": f.qty.to_string(), "L": f.price.to_string(), "Y": (f.qty * f.price).to_string(),
            "z": "10", "Z": response.cumulative_quote_qty.unwrap().to_string(), "n": f.commission.to_string(), "N": "USDT"}),
        );
        r.symbol = "BTCUSDT".into();
        assert_eq!(orders.on_report(3, &r.report(), r.trade()), OrderApplied::Duplicate);
    }
    assert_eq!(ledger.balance(usdt).unwrap().free, proceeds);
}

#[test]
fn the_docs_market_buy_out_of_liquidity_expires_and_releases_the_rest() {
    // faqs/market_orders_faq.md: MARKET BUY 6 LTC on LTCBNB, two fills of 2 at 1 BNB (fee 0.001 BNB
    // each), then EXPIRED. The funds locked come from a price bound of 1.1 BNB.
    let ledger = Arc::new(Ledger::new());
    let (ltc, bnb) = (ledger.asset("LTC").unwrap(), ledger.asset("BNB").unwrap());
    ledger.credit(bnb, dec!(10)).unwrap();
    let mut orders = Orders::new(Arc::clone(&ledger), OrdersConfig::default());
    let events: Vec<Value> =
        serde_json::from_slice(&fixture("uds_market_order_partial_fill_then_expired_sequence.json")).unwrap();
    let reports: Vec<ExecutionReport> = events
        .into_iter()
        .filter(|e| e["e"] == "executionReport")
        .map(|e| serde_json::from_value(e).unwrap())
        .collect();
    assert_eq!(reports.len(), 4);
    let id = cid(&reports[0].client_order_id);
    let order = OrderRequest::market("LTCBNB", Side::Buy, dec!(6)).with_client_order_id(id);
    assert_eq!(orders.submit(Submit::new(&order, ltc, bnb)), Err(OrdersError::NeedsPriceBound));
    orders.submit(Submit::new(&order, ltc, bnb).with_price_bound(dec!(1.1))).unwrap();
    assert!(orders.on_sent(0, &id, 0, 5000));
    assert_eq!(ledger.balance(bnb).unwrap(), Balance { free: dec!(3.4), locked: dec!(6.6) });
    let mut released = Vec::new();
    for r in reports.iter().chain(reports.iter()) {
        if let OrderApplied::Changed(u) = orders.on_report(1, &r.report(), r.trade()) {
            released.extend(u.released);
        }
    }
    assert_eq!(released, vec![dec!(2.598)]);
    assert_eq!(orders.get(&id).unwrap().state, OrderState::Expired);
    assert_eq!(ledger.balance(bnb).unwrap(), Balance { free: dec!(5.998), locked: dec!(0) });
    assert_eq!(ledger.balance(ltc).unwrap(), Balance { free: dec!(4), locked: dec!(0) });
}

#[test]
fn one_client_order_id_is_never_in_flight_twice() {
    let mut d = desk(OrdersConfig::default());
    d.buy("dup", dec!(0.01), dec!(60000), 0).unwrap();
    assert_eq!(d.buy("dup", dec!(0.01), dec!(60000), 1), Err(OrdersError::DuplicateClientOrderId(cid("dup"))));
    // Still refused once the first has ended: a late event must not land on a new order.
    d.orders.on_not_sent(&cid("dup"));
    assert_eq!(d.state("dup"), OrderState::NotPlaced);
    assert!(d.buy("dup", dec!(0.01), dec!(60000), 2).is_err());
    assert_eq!(d.bal(d.usdt), Balance { free: dec!(10000), locked: dec!(0) });
    let anonymous = OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.01), dec!(60000));
    assert_eq!(d.orders.submit(Submit::new(&anonymous, d.btc, d.usdt)), Err(OrdersError::MissingClientOrderId));
}

#[test]
fn the_seeds_two_btcusdt_signals_10ms_apart_give_one_order() {
    let mut d = desk(OrdersConfig { symbol_policy: SymbolPolicy::OneInFlight, ..OrdersConfig::default() });
    d.buy("signal-1", dec!(0.01), dec!(60000), 1_000).unwrap();
    let second = d.buy("signal-2", dec!(0.01), dec!(60000), 1_010);
    assert_eq!(second, Err(OrdersError::SymbolBusy { symbol: "BTCUSDT".into(), busy: cid("signal-1") }));
    assert_eq!(d.bal(d.usdt).locked, dec!(600), "the refused signal locked funds");
    // Another symbol is not held up.
    let eth = d.ledger.asset("ETH").unwrap();
    let other = OrderRequest::limit("ETHUSDT", Side::Buy, dec!(0.1), dec!(3000)).with_client_order_id(cid("e-1"));
    d.orders.submit(Submit::new(&other, eth, d.usdt)).unwrap();
    assert!(d.orders.on_sent(1_010, &cid("e-1"), 1_010, 5000));
    // An unknown outcome keeps the symbol in flight; the exchange's NEW frees it.
    d.orders.on_place_unanswered(1_100, &cid("signal-1"));
    assert!(d.buy("signal-3", dec!(0.01), dec!(60000), 1_200).is_err());
    d.report(1_300, &report("signal-1", json!({})));
    d.buy("signal-3", dec!(0.01), dec!(60000), 1_400).unwrap();

    // One open order per symbol: the next waits until the first has ended.
    let mut d = desk(OrdersConfig { symbol_policy: SymbolPolicy::OneOpen, ..OrdersConfig::default() });
    d.buy("a", dec!(0.01), dec!(60000), 0).unwrap();
    d.report(1, &report("a", json!({})));
    assert!(matches!(d.buy("b", dec!(0.01), dec!(60000), 2), Err(OrdersError::SymbolBusy { .. })));
    d.report(3, &report("a", json!({"x": "CANCELED", "X": "CANCELED"})));
    d.buy("b", dec!(0.01), dec!(60000), 4).unwrap();
}

/// How a send can end without a known outcome.
#[derive(Debug, Clone, Copy)]
enum Cause {
    Timeout,
    ResetAfterWrite,
    Http5xx,
    Code1006,
    Code1007,
    BadJsonAfter200,
}

const CAUSES: [Cause; 6] =
    [Cause::Timeout, Cause::ResetAfterWrite, Cause::Http5xx, Cause::Code1006, Cause::Code1007, Cause::BadJsonAfter200];

fn fail(d: &mut Desk, now: i64, id: &ClientOrderId, cause: Cause) -> OrderApplied {
    match cause {
        Cause::Timeout | Cause::ResetAfterWrite => d.orders.on_place_unanswered(now, id),
        Cause::Http5xx => d.orders.on_place_error(now, id, &error(502, b"<html>502 Bad Gateway</html>")),
        Cause::Code1006 => d.orders.on_place_error(
            now,
            id,
            &error(
                500,
                br#"{"code":-1006,"msg":"An unexpected response was received from the message bus. Execution status unknown."}"#,
            ),
        ),
        Cause::Code1007 => {
            d.orders.on_place_error(now, id, &error(408, &fixture("error_timeout_unknown_status_constructed.json")))
        }
        // A 200 whose body does not read as an order: the engine takes it for unanswered.
        Cause::BadJsonAfter200 => {
            assert!(serde_json::from_slice::<OrderResponse>(br#"{"symbol":"BTCUSDT","orderId":4"#).is_err());
            d.orders.on_place_unanswered(now, id)
        }
    }
}

fn error(status: u16, body: &[u8]) -> ApiError {
    ApiError::from_parts(status, body, None, 0)
}

fn no_such_order() -> ApiError {
    ApiError::from_parts(400, &fixture("error_order_does_not_exist_constructed.json"), None, 0)
}

/// Sends "u" at t=10_000 (recvWindow 5000, skew 1000: the deadline is 16_000) and fails it.
fn unknown_order(cause: Cause) -> (Desk, ClientOrderId) {
    let mut d = desk(OrdersConfig::default());
    d.buy("u", dec!(0.1), dec!(60000), 10_000).unwrap();
    let id = cid("u");
    let OrderApplied::Changed(u) = fail(&mut d, 10_100, &id, cause) else { panic!("{cause:?}: not applied") };
    assert_eq!(u.state, OrderState::Unknown, "{cause:?}");
    assert_eq!(d.bal(d.usdt).locked, dec!(6000), "{cause:?}: funds of an unknown order must stay locked");
    (d, id)
}

#[test]
fn every_ambiguous_cause_leaves_the_order_unknown_and_queries_it_never_resends() {
    for cause in CAUSES {
        let (mut d, id) = unknown_order(cause);
        // Nothing is due before the back-off; then a query by client order id, not a POST.
        assert_eq!(d.orders.poll_action(10_200), None, "{cause:?}");
        assert_eq!(d.orders.next_timeout(), Some(11_100), "{cause:?}");
        let query = d.orders.poll_action(11_100);
        assert_eq!(query, Some(OrderAction::Query { symbol: "BTCUSDT".into(), client_order_id: id }), "{cause:?}");
        assert_eq!(d.orders.poll_action(11_100), None, "{cause:?}: asked twice at once");
        d.orders.on_query_sent(11_100, &id);
        // -2013 before the deadline proves nothing: still Unknown, funds locked, asked again later.
        assert_eq!(d.orders.on_query_error(11_200, &id, &no_such_order()), OrderApplied::Duplicate);
        assert_eq!(d.state("u"), OrderState::Unknown, "{cause:?}");
        assert_eq!(d.bal(d.usdt).locked, dec!(6000), "{cause:?}");
        assert_eq!(d.orders.poll_action(15_999), None, "{cause:?}: re-asked before the deadline");
        assert!(matches!(d.orders.poll_action(16_000), Some(OrderAction::Query { .. })), "{cause:?}");
        // A -2013 that answers the query sent before the deadline still proves nothing, however
        // late it arrives (a re-ask that never left changes nothing).
        assert_eq!(d.orders.on_query_error(16_050, &id, &no_such_order()), OrderApplied::Duplicate, "{cause:?}");
        let again = (16_050..60_000)
            .step_by(50)
            .find(|t| matches!(d.orders.poll_action(*t), Some(OrderAction::Query { .. })))
            .expect("asked again");
        d.orders.on_query_sent(again, &id);
        // -2013 to a query sent after the deadline: never placed, funds back.
        let OrderApplied::Changed(u) = d.orders.on_query_error(again + 100, &id, &no_such_order()) else { panic!() };
        assert_eq!((u.state, u.released), (OrderState::NotPlaced, Some(dec!(6000))), "{cause:?}");
        assert_eq!(d.bal(d.usdt), Balance { free: dec!(10000), locked: dec!(0) }, "{cause:?}");
        assert_eq!(d.orders.poll_action(1_000_000), None, "{cause:?}");
        // A second conclusive answer releases nothing more.
        assert_eq!(d.orders.on_query_error(again + 200, &id, &no_such_order()), OrderApplied::Duplicate);
        assert_eq!(d.bal(d.usdt).free, dec!(10000));
    }
}

#[test]
fn a_query_answer_resolves_an_unknown_order() {
    let info: Value = serde_json::from_slice(&fixture("rest_query_order_response.json")).unwrap();
    for cause in CAUSES {
        let (mut d, _) = unknown_order(cause);
        assert!(d.orders.poll_action(11_100).is_some());
        let mut found = info.clone();
        for (k, v) in [("symbol", "BTCUSDT"), ("clientOrderId", "u"), ("status", "NEW"), ("side", "BUY")] {
            found[k] = json!(v);
        }
        found["executedQty"] = json!("0.00000000");
        found["cummulativeQuoteQty"] = json!("0.00000000");
        let found: OrderInfo = serde_json::from_value(found).unwrap();
        let OrderApplied::Changed(u) = d.orders.on_report(11_200, &found.report(), []) else { panic!("{cause:?}") };
        assert_eq!(u.state, OrderState::New, "{cause:?}");
        assert_eq!(d.bal(d.usdt).locked, dec!(6000), "{cause:?}");
        assert_eq!(d.orders.poll_action(1_000_000), None, "{cause:?}: still querying a known order");
    }
}

#[test]
fn a_user_data_event_resolves_an_unknown_order_without_a_query() {
    for cause in CAUSES {
        let (mut d, _id) = unknown_order(cause);
        let fill = trade("u", 5, dec!(0.1), dec!(59000), dec!(0.1), dec!(5900), "FILLED");
        let OrderApplied::Changed(u) = d.report(10_500, &fill) else { panic!("{cause:?}") };
        assert_eq!((u.state, u.released), (OrderState::Filled, Some(dec!(100))), "{cause:?}");
        assert_eq!(d.orders.poll_action(1_000_000), None, "{cause:?}");
        assert_eq!(d.bal(d.usdt), Balance { free: dec!(4100), locked: dec!(0) }, "{cause:?}");
        assert_eq!(d.bal(d.btc).free, dec!(0.0999), "{cause:?}");
    }
}

#[test]
fn definite_refusals_release_at_once() {
    let cases: [(u16, &str, &str); 4] = [
        (400, "error_insufficient_balance_constructed.json", "Account has insufficient balance for requested action."),
        (400, "error_filter_failure_lot_size_live.json", "Filter failure: LOT_SIZE"),
        (400, "error_timestamp_outside_recv_window_constructed.json", ""),
        (429, "error_too_much_weight_constructed.json", ""),
    ];
    for (status, file, reason) in cases {
        let mut d = desk(OrdersConfig::default());
        d.buy("r", dec!(0.1), dec!(60000), 0).unwrap();
        let OrderApplied::Changed(u) = d.orders.on_place_error(1, &cid("r"), &error(status, &fixture(file))) else {
            panic!()
        };
        assert_eq!((u.state, u.released), (OrderState::Rejected, Some(dec!(6000))), "{file}");
        if !reason.is_empty() {
            assert_eq!(d.orders.get(&cid("r")).unwrap().reject_reason.as_deref(), Some(reason));
        }
        assert_eq!(d.bal(d.usdt), Balance { free: dec!(10000), locked: dec!(0) });
        assert_eq!(d.orders.poll_action(1_000_000), None);
    }
    // The engine's REJECTED event (x=REJECTED) too.
    let mut d = desk(OrdersConfig::default());
    d.buy("r", dec!(0.1), dec!(60000), 0).unwrap();
    let rejected = report("r", json!({"x": "REJECTED", "X": "REJECTED", "r": "INSUFFICIENT_BALANCES"}));
    let OrderApplied::Changed(u) = d.report(1, &rejected) else { panic!() };
    assert_eq!((u.state, u.released), (OrderState::Rejected, Some(dec!(6000))));
    assert_eq!(d.orders.get(&cid("r")).unwrap().reject_reason.as_deref(), Some("INSUFFICIENT_BALANCES"));
}

#[test]
fn a_send_without_answer_becomes_unknown_after_the_reply_timeout() {
    let mut d = desk(OrdersConfig::default());
    d.buy("slow", dec!(0.1), dec!(60000), 0).unwrap();
    assert_eq!(d.orders.poll_action(14_999), None);
    assert_eq!(d.state("slow"), OrderState::PendingNew);
    assert!(matches!(d.orders.poll_action(15_000), Some(OrderAction::Query { .. })));
    assert_eq!(d.state("slow"), OrderState::Unknown);
    // The late answer (ACK) still resolves it.
    let ack: OrderResponse = serde_json::from_value(json!({"symbol": "BTCUSDT", "orderId": 42, "orderListId": -1,
        "clientOrderId": "slow", "transactTime": 1}))
    .unwrap();
    assert!(
        matches!(d.orders.on_report(15_100, &ack.report(), ack.trades()), OrderApplied::Changed(u) if u.state == OrderState::New)
    );
    assert_eq!(d.orders.poll_action(1_000_000), None);
}

#[test]
fn cancel_answers_and_cancel_errors() {
    let mut d = desk(OrdersConfig::default());
    d.buy("myOrder1", dec!(1), dec!(2), 0).unwrap();
    d.report(1, &report("myOrder1", json!({"i": 4, "q": "1.00000000"})));
    assert_eq!(d.orders.cancel(&cid("nope")), Err(OrdersError::UnknownOrder(cid("nope"))));
    d.orders.cancel(&cid("myOrder1")).unwrap();
    assert_eq!(d.orders.cancel(&cid("myOrder1")), Err(OrdersError::NotCancelable(OrderState::PendingCancel)));
    // -2011: the cancel failed; the order is back to New and gets queried.
    let unknown = ApiError::from_parts(400, &fixture("error_cancel_unknown_order_constructed.json"), None, 0);
    assert!(
        matches!(d.orders.on_cancel_error(2, &cid("myOrder1"), &unknown), OrderApplied::Changed(u) if u.state == OrderState::New)
    );
    assert!(matches!(d.orders.poll_action(2), Some(OrderAction::Query { .. })));
    // The docs' DELETE answer (clientOrderId is the cancel's id, origClientOrderId ours).
    d.orders.cancel(&cid("myOrder1")).unwrap();
    let info: OrderInfo = serde_json::from_slice(&fixture("rest_cancel_order_response.json")).unwrap();
    let OrderApplied::Changed(u) = d.orders.on_report(3, &info.report(), []) else { panic!() };
    assert_eq!((u.state, u.released), (OrderState::Canceled, Some(dec!(2))));
    assert_eq!(d.orders.cancel(&cid("myOrder1")), Err(OrdersError::NotCancelable(OrderState::Canceled)));
    assert_eq!(d.bal(d.usdt), Balance { free: dec!(10000), locked: dec!(0) });
}

#[test]
fn events_of_other_orders_are_untracked() {
    let mut d = desk(OrdersConfig::default());
    assert_eq!(d.report(0, &report("elsewhere", json!({}))), OrderApplied::Untracked);
    d.buy("mine", dec!(0.1), dec!(60000), 0).unwrap();
    d.report(1, &report("mine", json!({"i": 42})));
    // Same client id, another exchange order id: not this order.
    assert_eq!(
        d.report(2, &report("mine", json!({"i": 43, "x": "CANCELED", "X": "CANCELED"}))),
        OrderApplied::Untracked
    );
    assert_eq!(d.state("mine"), OrderState::New);
}

#[test]
fn memory_stays_bounded() {
    let mut d = desk(OrdersConfig { retain_done: 3, max_open: 2, ..OrdersConfig::default() });
    d.buy("a", dec!(0.001), dec!(60000), 0).unwrap();
    d.buy("b", dec!(0.001), dec!(60000), 0).unwrap();
    assert_eq!(d.buy("c", dec!(0.001), dec!(60000), 0), Err(OrdersError::TooManyOpen));
    for i in 0..10 {
        let id = format!("n{i}");
        if i == 0 {
            d.orders.on_not_sent(&cid("a"));
        }
        d.buy(&id, dec!(0.001), dec!(60000), 0).unwrap();
        d.orders.on_not_sent(&cid(&id));
    }
    assert!(d.orders.get(&cid("n9")).is_some());
    assert!(d.orders.get(&cid("n6")).is_none(), "ended orders beyond retain_done are kept");
    assert_eq!(d.orders.open().count(), 1);
}

#[test]
fn a_ledger_refusal_is_reported_not_hidden() {
    // A market buy locked with a price bound the market then exceeded.
    let mut d = desk(OrdersConfig::default());
    let order = OrderRequest::market("BTCUSDT", Side::Buy, dec!(0.1)).with_client_order_id(cid("m"));
    d.orders.submit(Submit::new(&order, d.btc, d.usdt).with_price_bound(dec!(60000))).unwrap();
    assert!(d.orders.on_sent(0, &cid("m"), 0, 5000));
    let fill = trade("m", 1, dec!(0.1), dec!(61000), dec!(0.1), dec!(6100), "FILLED");
    let OrderApplied::Changed(u) = d.report(1, &fill) else { panic!() };
    assert!(matches!(u.ledger_error, Some(LedgerError::FillExceedsReservation { .. })), "{u:?}");
    let view = d.orders.get(&cid("m")).unwrap();
    assert!(view.ledger_mismatch);
    assert_eq!(view.state, OrderState::Filled);
    // The trade could not move the funds; the reservation still went back (reconcile fixes the rest).
    assert_eq!(d.bal(d.usdt), Balance { free: dec!(10000), locked: dec!(0) });
}

/// Builds the event sequence of one order: NEW, trades (qty, price), then FILLED or CANCELED.
fn sequence(id: &str, fills: &[(Decimal, Decimal)], cancel: bool) -> Vec<ExecutionReport> {
    let mut out = vec![report(id, json!({}))];
    let (mut z, mut zq) = (Decimal::ZERO, Decimal::ZERO);
    let total: Decimal = fills.iter().map(|f| f.0).sum();
    for (i, (qty, price)) in fills.iter().enumerate() {
        z += qty;
        zq += qty * price;
        let status = if !cancel && z == total { "FILLED" } else { "PARTIALLY_FILLED" };
        out.push(trade(id, 100 + i as i64, *qty, *price, z, zq, status));
    }
    if cancel || fills.is_empty() {
        out.push(report(id, json!({"x": "CANCELED", "X": "CANCELED", "z": z.to_string(), "Z": zq.to_string()})));
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// Any order, duplication and reordering of an order's events settles the ledger exactly as
    /// applying each trade once: the remainder is released once and nothing stays locked.
    #[test]
    fn any_delivery_order_settles_the_same(
        fills in proptest::collection::vec((1u32..=200, 59_000u32..=60_000), 0..6),
        cancel in any::<bool>(),
        order in proptest::collection::vec(0usize..64, 1..40),
    ) {
        let fills: Vec<(Decimal, Decimal)> =
            fills.iter().map(|(q, p)| (Decimal::new(i64::from(*q), 4), Decimal::from(*p))).collect();
        let total: Decimal = fills.iter().map(|f| f.0).sum();
        prop_assume!(total <= dec!(0.1));
        let mut d = desk(OrdersConfig::default());
        d.buy("p", dec!(0.1), dec!(60000), 0).unwrap();
        let events = sequence("p", &fills, cancel);
        // A random delivery (with repeats), then everything once more so the whole story arrived.
        let mut releases = 0;
        for r in order.iter().map(|i| &events[i % events.len()]).chain(events.iter()) {
            if let OrderApplied::Changed(u) = d.report(1, r) {
                releases += usize::from(u.released.is_some());
                prop_assert!(u.ledger_error.is_none());
            }
        }
        prop_assert_eq!(releases, 1);
        let spent: Decimal = fills.iter().map(|(q, p)| q * p).sum();
        let fees: Decimal = fills.iter().map(|(q, _)| q / dec!(1000)).sum();
        prop_assert_eq!(d.bal(d.usdt), Balance { free: dec!(10000) - spent, locked: dec!(0) });
        prop_assert_eq!(d.bal(d.btc), Balance { free: total - fees, locked: dec!(0) });
        let v = d.orders.get(&cid("p")).unwrap();
        prop_assert_eq!((v.executed_qty, v.traded_qty), (total, total));
        let expected = if cancel || fills.is_empty() { OrderState::Canceled } else { OrderState::Filled };
        prop_assert_eq!(v.state, expected);
    }
}

fn recorded_lines(relative: &str) -> Option<Vec<Value>> {
    let Some(dir) = std::env::var_os("AEGIS_RECORDED_DIR") else {
        assert!(std::env::var("CI").is_err(), "CI must set AEGIS_RECORDED_DIR to ../shared/binance/recorded");
        return None;
    };
    let path = std::path::PathBuf::from(dir).join(relative);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Some(text.lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).unwrap()).collect())
}

fn position(event: &Value) -> Vec<(String, Balance)> {
    event["B"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            let dec = |k: &str| b[k].as_str().unwrap().parse::<Decimal>().unwrap();
            (b["a"].as_str().unwrap().to_owned(), Balance { free: dec("f"), locked: dec("l") })
        })
        .collect()
}

/// A live testnet session (binance_power_toys, read from ../shared): a LIMIT BUY 0.01 BTC at 9000
/// placed, then canceled. After each step the ledger equals the exchange's own
/// `outboundAccountPosition` for BTC and USDT, to the satoshi.
#[test]
fn recorded_testnet_place_and_cancel_matches_the_exchanges_balances() {
    let Some(lines) = recorded_lines("user_data/testnet_user_stream_NEW_CANCELED_2020-11-19_binance_power_toys.jsonl")
    else {
        return;
    };
    let Some(responses) =
        recorded_lines("order_responses/testnet_order_FULL_NEW_BTCUSDT_339230_2020-11-19_binance_power_toys.json")
    else {
        return;
    };
    let Some(cancels) =
        recorded_lines("order_responses/testnet_cancel_order_BTCUSDT_339230_2020-11-19_binance_power_toys.json")
    else {
        return;
    };
    let placed: OrderResponse = serde_json::from_value(responses[0].clone()).unwrap();
    let canceled: OrderInfo = serde_json::from_value(cancels[0].clone()).unwrap();
    let ledger = Arc::new(Ledger::new());
    let (btc, usdt) = (ledger.asset("BTC").unwrap(), ledger.asset("USDT").unwrap());
    // The account before the order (the balances after the cancel).
    ledger.credit(btc, dec!(1.01)).unwrap();
    ledger.credit(usdt, dec!(9870)).unwrap();
    let mut orders = Orders::new(Arc::clone(&ledger), OrdersConfig::default());
    let id = cid(&placed.client_order_id);
    let order = OrderRequest::limit("BTCUSDT", Side::Buy, placed.orig_qty.unwrap(), placed.price.unwrap())
        .with_client_order_id(id);
    orders.submit(Submit::new(&order, btc, usdt)).unwrap();
    assert!(orders.on_sent(placed.transact_time, &id, placed.transact_time, 5000));
    assert!(
        matches!(orders.on_report(placed.transact_time, &placed.report(), placed.trades()), OrderApplied::Changed(u) if u.state == OrderState::New)
    );
    let mut positions = 0;
    let mut cancel_event = None;
    for event in &lines {
        match event["e"].as_str() {
            Some("executionReport") => {
                let r: ExecutionReport = serde_json::from_value(event.clone()).unwrap();
                cancel_event = Some(orders.on_report(r.event_time, &r.report(), r.trade()));
            }
            Some("outboundAccountPosition") => {
                positions += 1;
                assert_eq!(ledger.reconcile(&position(event)), vec![], "after event {}", event["E"]);
                if positions == 1 {
                    // The REST answer to the cancel wins the race against the CANCELED event.
                    let applied = orders.on_report(canceled.transact_time.unwrap_or(0), &canceled.report(), []);
                    assert!(
                        matches!(&applied, OrderApplied::Changed(u) if u.released == Some(dec!(90))),
                        "{applied:?}"
                    );
                }
            }
            _ => {}
        }
    }
    assert_eq!(cancel_event, Some(OrderApplied::Duplicate), "the CANCELED event after the answer");
    assert_eq!(positions, 2);
    assert_eq!(orders.get(&id).unwrap().state, OrderState::Canceled);
    assert_eq!(orders.on_report(0, &canceled.report(), []), OrderApplied::Duplicate);
}

/// A live mainnet MARKET BUY of 0.5 BNB with the commission in BNB (bbgo, read from ../shared):
/// NEW then TRADE/FILLED; the ledger pays `Z` USDT and credits `z - n` BNB, the rest of the
/// reservation returns.
#[test]
fn recorded_market_buy_settles_with_the_commission_in_the_bought_asset() {
    let Some(lines) =
        recorded_lines("user_data/mainnet_margin_executionReport_NEW_FILLED_BNBUSDT_2020-12-21_bbgo.jsonl")
    else {
        return;
    };
    let reports: Vec<ExecutionReport> = lines
        .iter()
        .filter(|e| e["e"] == "executionReport")
        .map(|e| serde_json::from_value(e.clone()).unwrap())
        .collect();
    assert_eq!(reports.len(), 2);
    let fill = &reports[1];
    let ledger = Arc::new(Ledger::new());
    let (bnb, usdt) = (ledger.asset("BNB").unwrap(), ledger.asset("USDT").unwrap());
    ledger.credit(usdt, dec!(100)).unwrap();
    let mut orders = Orders::new(Arc::clone(&ledger), OrdersConfig::default());
    let id = cid(&fill.client_order_id);
    let order = OrderRequest::market("BNBUSDT", Side::Buy, fill.quantity).with_client_order_id(id);
    let bound = fill.last_price * dec!(1.01);
    orders.submit(Submit::new(&order, bnb, usdt).with_price_bound(bound)).unwrap();
    assert!(orders.on_sent(0, &id, 0, 5000));
    for r in reports.iter().chain(reports.iter()) {
        orders.on_report(r.event_time, &r.report(), r.trade());
    }
    assert_eq!(orders.get(&id).unwrap().state, OrderState::Filled);
    assert_eq!(fill.commission_asset.as_deref(), Some("BNB"));
    assert_eq!(ledger.balance(usdt).unwrap(), Balance { free: dec!(100) - fill.cumulative_quote_qty, locked: dec!(0) });
    assert_eq!(ledger.balance(bnb).unwrap(), Balance { free: fill.cumulative_qty - fill.commission, locked: dec!(0) });
}

#[test]
fn an_unanswered_cancel_reverts_and_queries_and_a_query_can_be_asked_for() {
    let mut d = desk(OrdersConfig::default());
    d.buy("u1", dec!(0.1), dec!(60000), 0).unwrap();
    assert!(matches!(d.report(1, &report("u1", json!({}))), OrderApplied::Changed(_)));
    assert_eq!(d.orders.poll_action(10), None, "a working order is not queried");
    d.orders.cancel(&cid("u1")).unwrap();
    let OrderApplied::Changed(u) = d.orders.on_cancel_unanswered(20, &cid("u1")) else { panic!("not reverted") };
    assert_eq!(u.state, OrderState::New);
    assert!(
        matches!(d.orders.poll_action(20), Some(OrderAction::Query { client_order_id, .. }) if client_order_id == cid("u1"))
    );
    // Answered: the order is known again and the timer stops.
    assert!(matches!(d.report(30, &report("u1", json!({}))), OrderApplied::Duplicate | OrderApplied::Changed(_)));
    // A query asked for explicitly (the exchange no longer lists it as open).
    assert!(d.orders.request_query(40, &cid("u1")));
    assert!(matches!(d.orders.poll_action(40), Some(OrderAction::Query { .. })));
    assert!(!d.orders.request_query(40, &cid("nobody")));
}

/// The tracker's next timeout is a bound the async client compares against to decide whether its
/// task must be woken after an order: an order answered at once leaves no timer behind, and one
/// still waiting keeps its own.
#[test]
fn answered_orders_leave_no_timer_and_waiting_ones_keep_theirs() {
    let mut d = desk(OrdersConfig::default());
    assert_eq!(d.orders.next_timeout(), None);
    d.buy("a", dec!(0.01), dec!(60000), 10_000).unwrap();
    let reply_at = d.orders.next_timeout().expect("a sent order waits for its reply");
    assert!(reply_at > 10_000);
    assert!(matches!(d.report(10_050, &report("a", json!({}))), OrderApplied::Changed(_)));
    assert_eq!(d.state("a"), OrderState::New);
    assert_eq!(d.orders.next_timeout(), None, "the answered order's reply timer is gone");

    // Two in flight: answering the later one leaves the earlier one's timer (a bound at or before it).
    d.buy("b", dec!(0.01), dec!(60000), 20_000).unwrap();
    let b_at = d.orders.next_timeout().unwrap();
    d.buy("c", dec!(0.01), dec!(60000), 20_500).unwrap();
    let mut c = report("c", json!({}));
    c.order_id = 43;
    assert!(matches!(d.report(20_600, &c), OrderApplied::Changed(_)));
    assert_eq!(d.orders.next_timeout(), Some(b_at));
    // Then b is answered too: nothing is left to wake for.
    let mut b = report("b", json!({}));
    b.order_id = 44;
    assert!(matches!(d.report(20_700, &b), OrderApplied::Changed(_)));
    assert_eq!(d.orders.next_timeout(), None);
    // A reply that never comes still fires: b's timer would have, had it not been answered.
    d.buy("e", dec!(0.01), dec!(60000), 30_000).unwrap();
    let e_at = d.orders.next_timeout().unwrap();
    assert_eq!(d.orders.poll_action(e_at.saturating_sub(1)), None);
    assert!(matches!(d.orders.poll_action(e_at), Some(OrderAction::Query { .. })));
    assert_eq!(d.state("e"), OrderState::Unknown);
}

/// A keep-priority amend in the tracker: nothing moves when it is sent; the first report of the
/// smaller quantity (the answer, the `REPLACED` event, a query) releases exactly the difference,
/// and later reports of it release nothing.
#[test]
fn an_amend_releases_the_difference_once_whichever_report_tells() {
    let mut d = desk(OrdersConfig::default());
    d.buy("am", dec!(0.1), dec!(60000), 10_000).unwrap();
    assert!(matches!(d.report(10_050, &report("am", json!({}))), OrderApplied::Changed(_)));
    assert_eq!(d.bal(d.usdt).locked, dec!(6000));
    let id = cid("am");
    // Refused locally: not a reduction, too many amends.
    assert_eq!(
        d.orders.amend(&id, dec!(0.1), None),
        Err(OrdersError::AmendNotReducing { qty: dec!(0.1), new_qty: dec!(0.1) })
    );
    assert!(matches!(d.orders.amend(&id, dec!(0), None), Err(OrdersError::AmendNotReducing { .. })));
    assert_eq!(d.orders.amend(&id, dec!(0.04), Some(0)), Err(OrdersError::TooManyAmends(0)));
    d.orders.amend(&id, dec!(0.04), Some(10)).unwrap();
    assert_eq!(d.orders.get(&id).unwrap().amending, Some(dec!(0.04)));
    assert_eq!(d.bal(d.usdt).locked, dec!(6000), "nothing released before the exchange says");
    // One amend at a time.
    assert!(matches!(d.orders.amend(&id, dec!(0.03), None), Err(OrdersError::NotAmendable(OrderState::New))));
    // The REPLACED event first: 0.06 x 60000 released.
    let replaced = report("am", json!({"x": "REPLACED", "q": "0.04000000"}));
    let OrderApplied::Changed(u) = d.report(10_100, &replaced) else { panic!("not applied") };
    assert_eq!((u.state, u.released), (OrderState::New, Some(dec!(3600))));
    assert_eq!(d.bal(d.usdt), Balance { free: dec!(7600), locked: dec!(2400) });
    let view = d.orders.get(&id).unwrap();
    assert_eq!((view.qty, view.amends, view.amending), (Some(dec!(0.04)), 1, None));
    // Then the answer and the event again: nothing more.
    let amended = aegis_exchange::rest::AmendedOrder {
        symbol: "BTCUSDT".into(),
        order_id: 42,
        client_order_id: "am".into(),
        qty: dec!(0.04),
        executed_qty: dec!(0),
        cumulative_quote_qty: dec!(0),
        status: aegis_exchange::OrderStatus::New,
    };
    assert_eq!(d.orders.on_report(10_150, &amended.report(), []), OrderApplied::Duplicate);
    assert_eq!(d.report(10_200, &replaced), OrderApplied::Duplicate);
    assert_eq!(d.bal(d.usdt), Balance { free: dec!(7600), locked: dec!(2400) });
    // A fill of the rest, then the end: everything settles to zero locked.
    let fill = trade("am", 7, dec!(0.04), dec!(60000), dec!(0.04), dec!(2400), "FILLED");
    assert!(matches!(d.report(10_300, &fill), OrderApplied::Changed(_)));
    assert_eq!(d.bal(d.usdt).locked, dec!(0));
    assert_eq!(d.bal(d.usdt).free, dec!(7600));
}

/// An amend's outcomes: refused (nothing changes, no query), unknown (the order is queried and
/// the query's quantity settles it), and an amend at or below the executed quantity that ends the
/// order (all of the rest released).
#[test]
fn amend_refused_unknown_and_expiring() {
    let mut d = desk(OrdersConfig::default());
    d.buy("x", dec!(0.1), dec!(60000), 10_000).unwrap();
    d.report(10_050, &report("x", json!({})));
    let id = cid("x");
    d.orders.amend(&id, dec!(0.05), None).unwrap();
    let refused = error(400, br#"{"code":-2038,"msg":"Order amend (quantity increase) is not supported."}"#);
    assert!(matches!(d.orders.on_amend_error(10_100, &id, &refused), OrderApplied::Changed(_)));
    assert_eq!(d.orders.get(&id).unwrap().amending, None);
    assert_eq!(d.orders.poll_action(20_000), None, "a refusal needs no query");
    assert_eq!(d.bal(d.usdt).locked, dec!(6000));
    // Unknown: queried at once; the query shows the new quantity.
    d.orders.amend(&id, dec!(0.05), None).unwrap();
    assert!(matches!(d.orders.on_amend_unanswered(20_100, &id), OrderApplied::Changed(_)));
    assert_eq!(
        d.orders.poll_action(20_100),
        Some(OrderAction::Query { symbol: "BTCUSDT".into(), client_order_id: id })
    );
    let mut info: serde_json::Value = serde_json::from_slice(&fixture("rest_query_order_response.json")).unwrap();
    for (k, v) in [("symbol", "BTCUSDT"), ("clientOrderId", "x"), ("status", "PARTIALLY_FILLED"), ("side", "BUY")] {
        info[k] = json!(v);
    }
    info["orderId"] = json!(42);
    info["origQty"] = json!("0.05000000");
    info["executedQty"] = json!("0.00000000");
    info["cummulativeQuoteQty"] = json!("0.00000000");
    info["price"] = json!("60000.00000000");
    let info: OrderInfo = serde_json::from_value(info).unwrap();
    let OrderApplied::Changed(u) = d.orders.on_report(20_200, &info.report(), []) else { panic!("not applied") };
    assert_eq!(u.released, Some(dec!(3000)));
    assert_eq!(d.bal(d.usdt).locked, dec!(3000));
    // A fill of 0.02, then an amend to 0.02: nothing left to fill, the order expires, the rest
    // (0.03 x 60000) comes back.
    let fill = trade("x", 8, dec!(0.02), dec!(60000), dec!(0.02), dec!(1200), "PARTIALLY_FILLED");
    d.report(20_300, &fill);
    assert_eq!(d.bal(d.usdt).locked, dec!(1800));
    d.orders.amend(&id, dec!(0.02), None).unwrap();
    let expired =
        report("x", json!({"x": "REPLACED", "X": "EXPIRED", "q": "0.02000000", "z": "0.02000000", "Z": "1200"}));
    let OrderApplied::Changed(u) = d.report(20_400, &expired) else { panic!("not applied") };
    assert_eq!((u.state, u.released), (OrderState::Expired, Some(dec!(1800))));
    assert_eq!(d.bal(d.usdt).locked, dec!(0));
    assert!(matches!(d.orders.amend(&id, dec!(0.01), None), Err(OrdersError::NotAmendable(OrderState::Expired))));
}

/// What self-trade prevention takes from a `TRANSFER` order is held, not freed, until its
/// prevented matches say whether it moved to another account of the trade group: moved (the
/// mode that acted was `TRANSFER`, against an order this tracker does not know), the quantity
/// and its notional at the match's price are booked; not moved (the account's own order, or a
/// plain `DECREMENT`), the hold is freed. Each match counts once; a hold no answer accounts for
/// is asked again, then freed.
#[test]
fn a_transfer_orders_prevented_funds_are_held_until_its_matches_say_what_moved() {
    use aegis_exchange::Prevention;
    use aegis_exchange::SelfTradePreventionMode as Stp;
    let prevention = |id: u64, maker: u64, transfer: bool, qty: Decimal| Prevention {
        id,
        symbol: "BTCUSDT",
        taker_order_id: 99,
        maker_symbol: "BTCUSDT",
        maker_order_id: maker,
        trade_group_id: 7,
        transfer,
        price: dec!(59000),
        taker_qty: Some(qty),
        maker_qty: Some(qty),
    };
    let mut d = desk(OrdersConfig::default());
    let order = OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.1), dec!(60000))
        .with_client_order_id(cid("t"))
        .with_self_trade_prevention_mode(Stp::Transfer);
    d.orders.submit(Submit::new(&order, d.btc, d.usdt)).unwrap();
    assert!(d.orders.on_sent(1, &cid("t"), 1, 5000));
    // Resting (order 42); prevention takes 0.03 of it (DECREMENT-like): 1,800 USDT no longer
    // needed by the order, but held.
    d.report(2, &report("t", json!({})));
    let prevented = report("t", json!({"x": "TRADE_PREVENTION", "A": "0.03000000", "B": "0.03000000"}));
    d.report(3, &prevented);
    assert_eq!(d.bal(d.usdt), Balance { free: dec!(4000), locked: dec!(6000) }, "0.07 for the order, 0.03 held");
    assert!(d.orders.has_holds());
    // Asked once (the order's id is known), not again while the question is open.
    assert_eq!(d.orders.hold_queries(3), vec![cid("t")]);
    assert!(d.orders.hold_queries(4).is_empty());
    // The answer: 0.02 moved (TRANSFER against order 500, not ours) at 59,000; 0.01 against
    // a DECREMENT (nothing moved).
    let matches = [prevention(1, 500, true, dec!(0.02)), prevention(2, 501, false, dec!(0.01))];
    let mut taker = matches;
    for m in &mut taker {
        m.maker_order_id = 42;
        m.taker_order_id = m.id + 600;
    }
    let booked: Vec<_> = d.orders.on_prevented_matches(5, &cid("t"), &taker).into_iter().map(Result::unwrap).collect();
    assert_eq!(booked, vec![("USDT".to_owned(), dec!(-1180)), ("BTC".to_owned(), dec!(0.02))]);
    assert!(!d.orders.has_holds(), "everything held is accounted for");
    assert_eq!(d.bal(d.usdt), Balance { free: dec!(5800) - dec!(1180), locked: dec!(4200) });
    assert_eq!(d.bal(d.btc).free, dec!(0.02));
    // The same matches again (a duplicate answer): nothing more.
    let again = d.orders.on_prevented_matches(6, &cid("t"), &taker);
    assert!(again.is_empty(), "{again:?}");
    assert_eq!(d.bal(d.usdt).free, dec!(4620));

    // Another prevention, against the account's own order: freed once the answer says so.
    let own = OrderRequest::limit("BTCUSDT", Side::Sell, dec!(0.01), dec!(60000)).with_client_order_id(cid("own"));
    d.ledger.credit(d.btc, dec!(0.01)).unwrap();
    d.orders.submit(Submit::new(&own, d.btc, d.usdt)).unwrap();
    assert!(d.orders.on_sent(7, &cid("own"), 7, 5000));
    let mut own_new = report("own", json!({"S": "SELL", "q": "0.01000000"}));
    own_new.order_id = 43;
    d.report(8, &own_new);
    d.report(9, &report("t", json!({"x": "TRADE_PREVENTION", "A": "0.04000000", "B": "0.01000000"})));
    assert_eq!(d.bal(d.usdt).locked, dec!(4200), "0.06 for the order (3,600) and 0.01 held (600)");
    let own_match = Prevention { id: 3, taker_order_id: 43, maker_order_id: 42, ..prevention(3, 42, true, dec!(0.01)) };
    assert_eq!(d.orders.hold_queries(9), vec![cid("t")]);
    let booked = d.orders.on_prevented_matches(10, &cid("t"), &[own_match]);
    assert!(booked.is_empty(), "nothing moved: {booked:?}");
    assert_eq!(d.bal(d.usdt).locked, dec!(3600));

    // A hold no answer accounts for: asked again after a back-off, then freed.
    d.report(11, &report("t", json!({"x": "TRADE_PREVENTION", "A": "0.05000000", "B": "0.01000000"})));
    assert_eq!(d.bal(d.usdt).locked, dec!(3600));
    let mut now = 11;
    let mut asked = 0;
    while d.orders.has_holds() && now < 600_000 {
        if !d.orders.hold_queries(now).is_empty() {
            asked += 1;
            d.orders.on_prevented_matches(now, &cid("t"), &[]);
        }
        now += 100;
    }
    assert_eq!(asked, 5, "asked five times");
    assert!(!d.orders.has_holds());
    assert_eq!(d.bal(d.usdt).locked, dec!(3000), "0.05 left for the order; the hold freed");
}
