//! Order lists at the wire and the rules: the docs' OCO, list-cancel and list-query answers and
//! the `listStatus` event decode; an OCO is validated as Binance validates it (leg types, each leg
//! through the filters with MAX_NUM_ORDERS counting both, the price relation to the last price,
//! `ocoAllowed`) and built with every parameter in Binance's names. The OTO family (OTO,
//! OTOCO, OPO, OPOCO): the docs' answers decode, the lists are validated and built as Binance
//! takes them, and the tracker reserves exactly what Binance locks: the working order's funds on
//! placement, a pending order's when the exchange places it, an OPO's received funds as they
//! arrive (and what was never placed released when the list ends).

use aegis_exchange::rest::{Environment, OrderList, Rest, decode};
use aegis_exchange::sign::{Credentials, HmacSha256};
use aegis_exchange::ws_api::{UserDataEvent, WsFrame};
use aegis_exchange::{
    BUNDLED_EXCHANGE_INFO, ClientOrderId, ExchangeInfo, FilterError, ListLeg, MarketContext, OcoRequest,
};
use aegis_exchange::{Ledger, OrderReport, OrderState, OrderTrade, Orders, OrdersConfig, OtoRequest, SubmitList};
use aegis_exchange::{OrderStatus, OrderType, Side, TimeInForce};
use proptest::prelude::*;
use rust_decimal_macros::dec;
use std::sync::Arc;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/");

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{FIXTURES}{name}")).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn info() -> ExchangeInfo {
    ExchangeInfo::from_json(BUNDLED_EXCHANGE_INFO).unwrap()
}

fn sell_oco(qty: rust_decimal::Decimal) -> OcoRequest {
    OcoRequest::new(
        "BTCUSDT",
        Side::Sell,
        qty,
        ListLeg::limit_maker(dec!(70000)),
        ListLeg::stop_loss_limit(dec!(59990), dec!(60000), TimeInForce::Gtc),
    )
}

fn at(last: rust_decimal::Decimal) -> MarketContext {
    MarketContext::default().with_last_price(last).with_reference_price(last)
}

#[test]
fn the_docs_list_answers_and_event_decode() {
    let placed: OrderList = decode(200, &fixture("rest_order_list_oco_response.json"), None, 0).unwrap();
    assert_eq!((placed.contingency_type.as_str(), placed.list_order_status.as_str()), ("OCO", "EXECUTING"));
    assert_eq!(placed.orders.len(), 2);
    let [stop, maker] = [&placed.order_reports[0], &placed.order_reports[1]];
    assert_eq!((stop.order_type.clone(), stop.order_list_id), (Some(OrderType::StopLossLimit), placed.order_list_id));
    assert_eq!(maker.order_type, Some(OrderType::LimitMaker));
    assert!(!placed.is_done());
    let canceled: OrderList = decode(200, &fixture("rest_cancel_order_list_response.json"), None, 0).unwrap();
    assert!(canceled.is_done());
    // A cancel report names the canceled order by `origClientOrderId`: the report is about it.
    let r = &canceled.order_reports[0];
    assert_eq!(r.status, Some(OrderStatus::Canceled));
    assert_eq!(r.report().orig_client_order_id, Some("pO9ufTiFGg3nw2fOdgeOXa"));
    let queried: OrderList = decode(200, &fixture("rest_query_order_list_response.json"), None, 0).unwrap();
    assert!(queried.order_reports.is_empty());
    let WsFrame::Event { event, .. } = WsFrame::decode(&fixture("uds_list_status.json")).unwrap() else {
        panic!("not an event")
    };
    let UserDataEvent::ListStatus {
        contingency_type,
        list_client_order_id,
        list_status_type,
        orders,
        reject_reason,
        ..
    } = event
    else {
        panic!("not a listStatus")
    };
    assert_eq!(
        (contingency_type.as_str(), list_client_order_id.as_str(), list_status_type.as_str(), reject_reason.as_str()),
        ("OCO", "F4QN4G8DlFATFlIUQ0cjdD", "EXEC_STARTED", "NONE")
    );
    assert_eq!(orders.len(), 2);
}

#[test]
fn an_oco_is_validated_as_binance_validates_it() {
    let info = info();
    let rules = info.symbol("BTCUSDT").unwrap();
    let ok = rules.validate_oco(&sell_oco(dec!(0.01)), &at(dec!(65000))).unwrap();
    assert!(ok.relation_checked());
    // Without the last price the relation is left unchecked (refused in strict mode).
    assert!(!rules.validate_oco(&sell_oco(dec!(0.01)), &MarketContext::default()).unwrap().relation_checked());
    let strict = MarketContext::default()
        .with_reference_price(dec!(65000))
        .with_average_price(dec!(65000))
        .with_open_orders(0)
        .with_open_algo_orders(0)
        .with_open_iceberg_orders(0)
        .with_account_open_orders(0, 0, 0)
        .with_base_position(dec!(0))
        .strict();
    assert_eq!(rules.validate_oco(&sell_oco(dec!(0.01)), &strict).unwrap_err(), FilterError::MissingLastPrice);
    assert!(rules.validate_oco(&sell_oco(dec!(0.01)), &strict.with_last_price(dec!(65000))).is_ok());
    // The relation: SELL above > last > below.
    for last in [dec!(70000), dec!(60000), dec!(75000), dec!(50000)] {
        let e = rules.validate_oco(&sell_oco(dec!(0.01)), &at(last)).unwrap_err();
        assert!(matches!(e, FilterError::ListPriceRelation { .. } | FilterError::Filter { .. }), "{last}: {e:?}");
    }
    let e =
        rules.validate_oco(&sell_oco(dec!(0.01)), &MarketContext::default().with_last_price(dec!(60000))).unwrap_err();
    assert_eq!(
        (e.code(), e.to_string().as_str()),
        (-2010, "The relationship of the prices for the orders is not correct.")
    );
    // Leg types: a SELL's above leg is the profit side, a BUY's the stop.
    let swapped = OcoRequest::new(
        "BTCUSDT",
        Side::Buy,
        dec!(0.01),
        ListLeg::limit_maker(dec!(70000)),
        ListLeg::stop_loss(dec!(60000)),
    );
    let e = rules.validate_oco(&swapped, &at(dec!(65000))).unwrap_err();
    assert_eq!((e.code(), e.to_string().as_str()), (-2010, "Unsupported order combination"));
    // Each leg through the filters: LOT_SIZE on the shared quantity, PRICE_FILTER on a leg.
    let e = rules.validate_oco(&sell_oco(dec!(0.000001)), &at(dec!(65000))).unwrap_err();
    assert_eq!(e.to_string(), "Filter failure: LOT_SIZE");
    let odd = OcoRequest::new(
        "BTCUSDT",
        Side::Sell,
        dec!(0.01),
        ListLeg::limit_maker(dec!(70000.001)),
        ListLeg::stop_loss(dec!(60000)),
    );
    assert_eq!(rules.validate_oco(&odd, &at(dec!(65000))).unwrap_err().to_string(), "Filter failure: PRICE_FILTER");
    // MAX_NUM_ORDERS counts both legs: one slot left is not enough.
    let max = rules
        .filters()
        .iter()
        .find_map(|f| match f {
            aegis_exchange::Filter::MaxNumOrders { max_num_orders } => Some(*max_num_orders),
            _ => None,
        })
        .unwrap();
    let full = at(dec!(65000)).with_open_orders(max - 1);
    assert_eq!(
        rules.validate_oco(&sell_oco(dec!(0.01)), &full).unwrap_err().to_string(),
        "Filter failure: MAX_NUM_ORDERS"
    );
    assert!(rules.validate_oco(&sell_oco(dec!(0.01)), &at(dec!(65000)).with_open_orders(max - 2)).is_ok());
    // ocoAllowed false on the symbol.
    let mut json: serde_json::Value = serde_json::from_slice(BUNDLED_EXCHANGE_INFO).unwrap();
    for s in json["symbols"].as_array_mut().unwrap() {
        s["ocoAllowed"] = serde_json::json!(false);
    }
    let no_oco = ExchangeInfo::from_json(json.to_string().as_bytes()).unwrap();
    let e = no_oco.symbol("BTCUSDT").unwrap().validate_oco(&sell_oco(dec!(0.01)), &at(dec!(65000))).unwrap_err();
    assert_eq!((e.code(), e.to_string().as_str()), (-2010, "OCO orders are not supported for this symbol"));
}

#[test]
fn an_oco_is_built_with_every_parameter() {
    let info = info();
    let oco = sell_oco(dec!(0.01))
        .with_list_client_order_id(ClientOrderId::new("exit-1").unwrap())
        .with_response_type(aegis_exchange::OrderResponseType::Full);
    let mut oco = oco;
    oco.set_leg_client_order_ids(ClientOrderId::new("exit-1-tp").unwrap(), ClientOrderId::new("exit-1-sl").unwrap());
    let valid = info.symbol("BTCUSDT").unwrap().validate_oco(&oco, &at(dec!(65000))).unwrap();
    let rest = Rest::new(Environment::Testnet).with_credentials(Credentials::new("k", HmacSha256::new("s")).unwrap());
    let built = rest.order_list_oco(&valid, 1_760_000_000_000_i64).unwrap();
    assert_eq!((built.request.method().as_str(), built.request.uri().path()), ("POST", "/api/v3/orderList/oco"));
    let body = std::str::from_utf8(built.request.body()).unwrap();
    assert!(
        body.starts_with(
            "recvWindow=5000&symbol=BTCUSDT&listClientOrderId=exit-1&side=SELL&quantity=0.01&aboveType=LIMIT_MAKER&aboveClientOrderId=exit-1-tp&abovePrice=70000&belowType=STOP_LOSS_LIMIT&belowClientOrderId=exit-1-sl&belowPrice=59990&belowStopPrice=60000&belowTimeInForce=GTC&newOrderRespType=FULL&timestamp=1760000000000&signature="
        ),
        "{body}"
    );
    assert_eq!((built.cost.weight, built.cost.weight_on_success, built.cost.orders), (1, 0, 2));
}

fn id(text: &str) -> ClientOrderId {
    ClientOrderId::new(text).unwrap()
}

/// The symbols as Binance has them since OPO: `opoAllowed` on where `otoAllowed` is; with
/// MAX_NUM_ORDER_LISTS 20 per symbol and EXCHANGE_MAX_NUM_ORDER_LISTS 40 (the capture has
/// neither).
fn info_with_opo() -> ExchangeInfo {
    let json = String::from_utf8_lossy(BUNDLED_EXCHANGE_INFO)
        .replace("\"otoAllowed\":true", "\"otoAllowed\":true,\"opoAllowed\":true")
        .replace(
            "{\"filterType\":\"MAX_NUM_ALGO_ORDERS\",",
            "{\"filterType\":\"MAX_NUM_ORDER_LISTS\",\"maxNumOrderLists\":20},{\"filterType\":\"MAX_NUM_ALGO_ORDERS\",",
        )
        .replace(
            "\"exchangeFilters\":[]",
            "\"exchangeFilters\":[{\"filterType\":\"EXCHANGE_MAX_NUM_ORDER_LISTS\",\"maxNumOrderLists\":40}]",
        );
    ExchangeInfo::from_json(json.as_bytes()).unwrap()
}

#[test]
fn the_docs_oto_family_answers_decode() {
    for (name, orders) in [("oto", 2), ("otoco", 3), ("opo", 2), ("opoco", 3)] {
        let placed: OrderList =
            decode(200, &fixture(&format!("rest_order_list_{name}_response.json")), None, 0).unwrap();
        assert_eq!(placed.contingency_type, "OTO", "{name}");
        assert_eq!((placed.orders.len(), placed.order_reports.len()), (orders, orders), "{name}");
        let working = &placed.order_reports[0];
        assert_eq!(working.status, Some(OrderStatus::New), "{name}");
        for pending in &placed.order_reports[1..] {
            // Pending orders are not on the book: PENDING_NEW, no working time yet.
            assert_eq!((pending.status.clone(), pending.working_time), (Some(OrderStatus::PendingNew), Some(-1)));
            assert_eq!(OrderState::from_status(&OrderStatus::PendingNew), Some(OrderState::AwaitingTrigger));
        }
        if name.starts_with("opo") {
            // An OPO's pending orders have no quantity until the working order fills.
            assert!(placed.order_reports[1..].iter().all(|r| r.orig_qty.is_none()), "{name}");
        }
    }
}

fn otoco_buy_then_exit() -> OtoRequest {
    OtoRequest::otoco(
        "BTCUSDT",
        Side::Buy,
        dec!(0.01),
        ListLeg::limit(dec!(64000), TimeInForce::Gtc),
        Side::Sell,
        dec!(0.01),
        ListLeg::limit_maker(dec!(70000)),
        ListLeg::stop_loss_limit(dec!(59990), dec!(60000), TimeInForce::Gtc),
    )
}

#[test]
fn oto_family_lists_are_validated_as_binance_validates_them() {
    let info = info_with_opo();
    let rules = info.symbol("BTCUSDT").unwrap();
    let ctx = at(dec!(65000));
    assert_eq!(rules.validate_list(&otoco_buy_then_exit().into(), &ctx).unwrap().legs().len(), 3);
    // The working order: LIMIT or LIMIT_MAKER only.
    let stop_working = OtoRequest::oto(
        "BTCUSDT",
        Side::Buy,
        dec!(0.01),
        ListLeg::stop_loss(dec!(66000)),
        Side::Sell,
        dec!(0.01),
        ListLeg::market(),
    );
    let e = rules.validate_list(&stop_working.into(), &ctx).unwrap_err();
    assert_eq!((e.code(), e.to_string().as_str()), (-2010, "Unsupported order combination"));
    // OPO: a BUY working order, SELL pending ones (-1222, -1223).
    let working = || ListLeg::limit(dec!(64000), TimeInForce::Gtc);
    let sell_first = OtoRequest::from_parts(
        "BTCUSDT",
        Side::Sell,
        dec!(0.01),
        working(),
        Side::Sell,
        None,
        aegis_exchange::PendingLegs::One(ListLeg::market()),
    );
    assert_eq!(rules.validate_list(&sell_first.into(), &ctx).unwrap_err().code(), -1222);
    let buy_pending = OtoRequest::from_parts(
        "BTCUSDT",
        Side::Buy,
        dec!(0.01),
        working(),
        Side::Buy,
        None,
        aegis_exchange::PendingLegs::One(ListLeg::market()),
    );
    let e = rules.validate_list(&buy_pending.into(), &ctx).unwrap_err();
    assert_eq!((e.code(), e.to_string().as_str()), (-1223, "Pending orders in an OPO list must be asks."));
    // A pending pair follows an OCO's rules: a SELL pair has the profit leg above.
    let swapped = OtoRequest::otoco(
        "BTCUSDT",
        Side::Buy,
        dec!(0.01),
        working(),
        Side::Sell,
        dec!(0.01),
        ListLeg::stop_loss_limit(dec!(59990), dec!(60000), TimeInForce::Gtc),
        ListLeg::limit_maker(dec!(70000)),
    );
    assert!(matches!(
        rules.validate_list(&swapped.into(), &ctx).unwrap_err(),
        FilterError::UnsupportedListCombination { .. }
    ));
    // Each order through the filters: a pending quantity off the step is LOT_SIZE.
    let odd = OtoRequest::oto(
        "BTCUSDT",
        Side::Buy,
        dec!(0.01),
        working(),
        Side::Sell,
        dec!(0.0100001),
        ListLeg::limit_maker(dec!(70000)),
    );
    assert_eq!(rules.validate_list(&odd.into(), &ctx).unwrap_err().to_string(), "Filter failure: LOT_SIZE");
    // MAX_NUM_ORDER_LISTS (BTCUSDT: 20), from the open lists in the context.
    let max = rules
        .filters()
        .iter()
        .find_map(|f| match f {
            aegis_exchange::Filter::MaxNumOrderLists { max_num_order_lists } => Some(*max_num_order_lists),
            _ => None,
        })
        .unwrap();
    assert_eq!(max, 20);
    let full = ctx.clone().with_open_order_lists(max, max);
    let e = rules.validate_list(&otoco_buy_then_exit().into(), &full).unwrap_err();
    assert_eq!((e.code(), e.to_string().as_str()), (-1013, "Filter failure: MAX_NUM_ORDER_LISTS"));
    assert!(rules.validate_list(&otoco_buy_then_exit().into(), &ctx.clone().with_open_order_lists(max - 1, 0)).is_ok());
    let account_full = ctx.clone().with_open_order_lists(0, 40);
    assert_eq!(
        rules.validate_list(&otoco_buy_then_exit().into(), &account_full).unwrap_err().to_string(),
        "Filter failure: EXCHANGE_MAX_NUM_ORDER_LISTS"
    );
    // Strict mode refuses to guess the count.
    assert!(matches!(
        rules.validate_list(&otoco_buy_then_exit().into(), &ctx.clone().strict()).unwrap_err(),
        FilterError::MissingContext { .. }
    ));
    assert!(rules.validate_oco(&sell_oco(dec!(0.01)), &full).is_err(), "an OCO counts too");
    // Flags: otoAllowed, opoAllowed.
    let bundled = self::info();
    let opo = OtoRequest::opo("BTCUSDT", dec!(0.01), working(), ListLeg::limit_maker(dec!(70000)));
    let e = bundled.symbol("BTCUSDT").unwrap().validate_list(&opo.into(), &ctx).unwrap_err();
    assert_eq!((e.code(), e.to_string().as_str()), (-2010, "OPO orders are not supported for this symbol."));
}

#[test]
fn oto_family_lists_are_built_with_every_parameter() {
    let info = info_with_opo();
    let rest = Rest::new(Environment::Testnet).with_credentials(Credentials::new("k", HmacSha256::new("s")).unwrap());
    let oto = OtoRequest::oto(
        "BTCUSDT",
        Side::Sell,
        dec!(0.01),
        ListLeg::limit_maker(dec!(70000)).with_client_order_id(id("w-1")).with_iceberg_qty(dec!(0.002)),
        Side::Buy,
        dec!(0.01),
        ListLeg::stop_loss_limit(dec!(66010), dec!(66000), TimeInForce::Gtc).with_client_order_id(id("p-1")),
    )
    .with_list_client_order_id(id("l-1"))
    .with_response_type(aegis_exchange::OrderResponseType::Result)
    .with_self_trade_prevention_mode(aegis_exchange::SelfTradePreventionMode::ExpireMaker);
    let valid = info.symbol("BTCUSDT").unwrap().validate_list(&oto.into(), &at(dec!(65000))).unwrap();
    let built = rest.order_list(&valid, 1_760_000_000_000_i64).unwrap();
    assert_eq!((built.request.method().as_str(), built.request.uri().path()), ("POST", "/api/v3/orderList/oto"));
    let body = std::str::from_utf8(built.request.body()).unwrap();
    assert!(
        body.starts_with(
            "recvWindow=5000&symbol=BTCUSDT&listClientOrderId=l-1&workingType=LIMIT_MAKER&workingSide=SELL&workingClientOrderId=w-1&workingPrice=70000&workingQuantity=0.01&workingIcebergQty=0.002&pendingType=STOP_LOSS_LIMIT&pendingSide=BUY&pendingClientOrderId=p-1&pendingPrice=66010&pendingStopPrice=66000&pendingQuantity=0.01&pendingTimeInForce=GTC&newOrderRespType=RESULT&selfTradePreventionMode=EXPIRE_MAKER&timestamp=1760000000000&signature="
        ),
        "{body}"
    );
    assert_eq!((built.cost.weight, built.cost.weight_on_success, built.cost.orders), (1, 0, 2));
    let valid = info.symbol("BTCUSDT").unwrap().validate_list(&otoco_buy_then_exit().into(), &at(dec!(65000))).unwrap();
    let built = rest.order_list(&valid, 1_760_000_000_000_i64).unwrap();
    assert_eq!(built.request.uri().path(), "/api/v3/orderList/otoco");
    let body = std::str::from_utf8(built.request.body()).unwrap();
    assert!(body.contains("&pendingSide=SELL&pendingQuantity=0.01&pendingAboveType=LIMIT_MAKER&pendingAbovePrice=70000&pendingBelowType=STOP_LOSS_LIMIT&pendingBelowPrice=59990&pendingBelowStopPrice=60000&pendingBelowTimeInForce=GTC&"), "{body}");
    assert_eq!(built.cost.orders, 3);
}

/// A ledger with 100000 USDT and 1 BTC, and a tracker on it.
fn tracker() -> (Arc<Ledger>, Orders) {
    let ledger = Arc::new(Ledger::new());
    let (btc, usdt) = (ledger.asset("BTC").unwrap(), ledger.asset("USDT").unwrap());
    ledger.credit(usdt, dec!(100000)).unwrap();
    ledger.credit(btc, dec!(1)).unwrap();
    let orders = Orders::new(Arc::clone(&ledger), OrdersConfig::default());
    (ledger, orders)
}

fn report<'a>(
    client_order_id: &'a str,
    order_id: u64,
    status: &'a OrderStatus,
    executed: rust_decimal::Decimal,
    qty: Option<rust_decimal::Decimal>,
) -> OrderReport<'a> {
    OrderReport {
        client_order_id,
        orig_client_order_id: None,
        order_id,
        status: Some(status),
        executed_qty: Some(executed),
        cumulative_quote_qty: None,
        reject_reason: None,
        qty,
        prevented_qty: None,
        pegged_price: None,
    }
}

fn trade(
    trade_id: u64,
    qty: rust_decimal::Decimal,
    price: rust_decimal::Decimal,
    fee: rust_decimal::Decimal,
) -> OrderTrade<'static> {
    OrderTrade {
        id: trade_id,
        order_id: None,
        base_qty: qty,
        quote_qty: qty * price,
        commission: fee,
        commission_asset: Some("BTC"),
    }
}

fn balance(ledger: &Ledger, asset: &str) -> aegis_exchange::Balance {
    ledger.asset_id(asset).and_then(|a| ledger.balance(a).ok()).unwrap_or_default()
}

fn locked(ledger: &Ledger, asset: &str) -> rust_decimal::Decimal {
    balance(ledger, asset).locked
}

#[test]
fn an_otoco_reserves_the_working_order_then_the_pair_once() {
    let (ledger, mut orders) = tracker();
    let (btc, usdt) = (ledger.asset("BTC").unwrap(), ledger.asset("USDT").unwrap());
    let mut list: aegis_exchange::ListRequest = otoco_buy_then_exit().with_list_client_order_id(id("l")).into();
    let mut n = 0;
    list.fill_leg_client_order_ids(|| {
        n += 1;
        id(&format!("leg-{n}"))
    });
    orders.submit_list(SubmitList { list: &list, base: btc, quote: usdt }).unwrap();
    assert_eq!((locked(&ledger, "USDT"), locked(&ledger, "BTC")), (dec!(640), dec!(0)));
    let legs: Vec<ClientOrderId> = orders.legs(&id("l")).unwrap().to_vec();
    assert!(legs[1..].iter().all(|l| orders.awaits_trigger(l)));
    assert!(orders.on_list_sent(10, &id("l"), 10_i64, 5000));
    let (new, pending, filled) = (OrderStatus::New, OrderStatus::PendingNew, OrderStatus::Filled);
    orders.on_report(11, &report("leg-1", 1, &new, dec!(0), Some(dec!(0.01))), []);
    for (k, leg) in ["leg-2", "leg-3"].into_iter().enumerate() {
        orders.on_report(11, &report(leg, 2 + k as u64, &pending, dec!(0), Some(dec!(0.01))), []);
        assert_eq!(orders.get(&id(leg)).unwrap().state, OrderState::AwaitingTrigger);
    }
    // No reply timer left behind: every order was answered.
    assert_eq!(orders.next_timeout(), None);
    // The working order fills: its funds settle; the pair is placed and locks 0.01 BTC once.
    orders.on_report(20, &report("leg-1", 1, &filled, dec!(0.01), None), [trade(1, dec!(0.01), dec!(64000), dec!(0))]);
    assert_eq!(locked(&ledger, "USDT"), dec!(0));
    // Locked as the working order's fill is applied: the exchange placed the pair at that moment,
    // before its events can arrive.
    assert_eq!(locked(&ledger, "BTC"), dec!(0.01));
    assert!(!orders.awaits_trigger(&id("leg-2")) && !orders.awaits_trigger(&id("leg-3")));
    for (k, leg) in ["leg-2", "leg-3"].into_iter().enumerate() {
        orders.on_report(21, &report(leg, 2 + k as u64, &new, dec!(0), Some(dec!(0.01))), []);
    }
    assert_eq!(locked(&ledger, "BTC"), dec!(0.01), "one lock for the pair");
    // The stop fills, the take-profit expires: everything released, exactly.
    orders.on_report(30, &report("leg-3", 3, &filled, dec!(0.01), None), [trade(2, dec!(0.01), dec!(59990), dec!(0))]);
    orders.on_report(30, &report("leg-2", 2, &OrderStatus::Expired, dec!(0), None), []);
    assert_eq!((locked(&ledger, "USDT"), locked(&ledger, "BTC")), (dec!(0), dec!(0)));
    assert_eq!(balance(&ledger, "BTC").free, dec!(1));
    assert_eq!(balance(&ledger, "USDT").free, dec!(100000) - dec!(640) + dec!(599.9));
}

proptest! {
    /// An OPO's working BUY fills in parts: each part is locked for the pending SELL as it
    /// arrives (the whole part when the free balance can pay the commission); then either the
    /// list is canceled (everything unlocked) or the pending order is placed with what was
    /// received, to the step (the rest unlocked), and then ends. Nothing stays locked and no
    /// funds appear or vanish.
    #[test]
    fn an_opo_locks_what_it_receives_and_releases_exactly(
        parts in proptest::collection::vec(1u32..400, 1..5),
        fee_bips in 0u32..20,
        complete in any::<bool>(),
        free_btc in prop_oneof![Just(0u32), Just(100_000u32)],
    ) {
        let ledger = Arc::new(Ledger::new());
        let (btc, usdt) = (ledger.asset("BTC").unwrap(), ledger.asset("USDT").unwrap());
        ledger.credit(usdt, dec!(100000)).unwrap();
        if free_btc > 0 {
            ledger.credit(btc, rust_decimal::Decimal::new(i64::from(free_btc), 5)).unwrap();
        }
        let mut orders = Orders::new(Arc::clone(&ledger), OrdersConfig::default());
        let qty = rust_decimal::Decimal::new(i64::from(parts.iter().sum::<u32>()), 5);
        let opo = OtoRequest::opo("BTCUSDT", qty, ListLeg::limit(dec!(60000), TimeInForce::Gtc).with_client_order_id(id("w")),
            ListLeg::limit_maker(dec!(70000)).with_client_order_id(id("p")))
            .with_list_client_order_id(id("l"));
        orders.submit_list(SubmitList { list: &opo.into(), base: btc, quote: usdt }).unwrap();
        prop_assert!(orders.on_list_sent(1, &id("l"), 1_i64, 5000));
        let (new, pending, partial, filled) = (OrderStatus::New, OrderStatus::PendingNew, OrderStatus::PartiallyFilled, OrderStatus::Filled);
        orders.on_report(2, &report("w", 1, &new, dec!(0), Some(qty)), []);
        orders.on_report(2, &report("p", 2, &pending, dec!(0), None), []);
        let before_btc = balance(&ledger, "BTC").total();
        let mut executed = rust_decimal::Decimal::ZERO;
        let mut fees = rust_decimal::Decimal::ZERO;
        let mut expected_lock = rust_decimal::Decimal::ZERO;
        let last = if complete { parts.len() } else { parts.len() - 1 };
        for (k, part) in parts.iter().take(last).enumerate() {
            let q = rust_decimal::Decimal::new(i64::from(*part), 5);
            let fee = (q * rust_decimal::Decimal::new(i64::from(fee_bips), 4)).round_dp(8);
            let free_before = balance(&ledger, "BTC").free;
            executed += q;
            fees += fee;
            // Binance's rule: the whole quantity locked when free pays the commission.
            expected_lock += if free_before + q - fee >= q { q } else { q - fee };
            let status = if executed == qty { &filled } else { &partial };
            orders.on_report(3 + k as i64, &report("w", 1, status, executed, None), [trade(k as u64 + 1, q, dec!(60000), fee)]);
            prop_assert_eq!(locked(&ledger, "BTC"), expected_lock);
        }
        if complete {
            // Placed with what it received, floored to the step (0.00001); nothing left to sell
            // after the step: the exchange expires it.
            let sell = expected_lock.round_dp_with_strategy(5, rust_decimal::RoundingStrategy::ToZero);
            if sell > rust_decimal::Decimal::ZERO {
                orders.on_report(50, &report("p", 2, &new, dec!(0), Some(sell)), []);
                prop_assert_eq!(locked(&ledger, "BTC"), sell);
                orders.on_report(60, &report("p", 2, &OrderStatus::Canceled, dec!(0), None), []);
            } else {
                orders.on_report(50, &report("p", 2, &OrderStatus::Expired, dec!(0), None), []);
            }
        } else {
            orders.on_report(50, &report("w", 1, &OrderStatus::Canceled, executed, None), []);
            orders.on_report(50, &report("p", 2, &OrderStatus::Canceled, dec!(0), None), []);
        }
        prop_assert_eq!(locked(&ledger, "BTC"), dec!(0));
        prop_assert_eq!(locked(&ledger, "USDT"), dec!(0));
        prop_assert_eq!(balance(&ledger, "BTC").total(), before_btc + executed - fees);
        prop_assert_eq!(balance(&ledger, "USDT").total(), dec!(100000) - executed * dec!(60000));
        prop_assert!(orders.get(&id("p")).unwrap().state.is_terminal());
    }
}

/// The docs' `myPreventedMatches`, `myAllocations` and `allOrderList` answers decode; the
/// requests carry Binance's names and weights; the paper exchange lists every list it has.
#[test]
fn prevented_matches_allocations_and_all_lists() {
    use aegis_exchange::rest::{Allocation, HistoryQuery, PreventedMatch, PreventedMatches};
    let prevented: Vec<PreventedMatch> =
        decode(200, &fixture("rest_my_prevented_matches_response.json"), None, 0).unwrap();
    assert_eq!(
        (prevented[0].prevented_match_id, prevented[0].maker_order_id, prevented[0].maker_prevented_quantity),
        (1, 3, Some(dec!(1.3)))
    );
    assert_eq!(prevented[0].self_trade_prevention_mode, aegis_exchange::SelfTradePreventionMode::ExpireMaker);
    let allocations: Vec<Allocation> = decode(200, &fixture("rest_my_allocations_response.json"), None, 0).unwrap();
    assert_eq!((allocations[0].allocation_type.as_str(), allocations[0].qty), ("SOR", dec!(5)));
    let lists: Vec<OrderList> = decode(200, &fixture("rest_all_order_lists_response.json"), None, 0).unwrap();
    assert_eq!(lists.len(), 2);
    assert!(lists.iter().all(|l| l.order_reports.is_empty() && l.orders.len() == 2));
    let rest = Rest::new(Environment::Testnet).with_credentials(Credentials::new("k", HmacSha256::new("s")).unwrap());
    let by_id = rest.my_prevented_matches("BTCUSDT", PreventedMatches::ById(7), 1_i64).unwrap();
    assert_eq!((by_id.request.uri().path(), by_id.cost.weight), ("/api/v3/myPreventedMatches", 2));
    let query = HistoryQuery { from_id: Some(3), limit: Some(50), order_id: Some(9), ..HistoryQuery::default() };
    let alloc = rest.my_allocations("BTCUSDT", &query, 1_i64).unwrap();
    assert!(
        alloc
            .request
            .uri()
            .query()
            .unwrap()
            .starts_with("recvWindow=5000&symbol=BTCUSDT&fromAllocationId=3&limit=50&orderId=9&")
    );
    let all = rest.all_order_lists(&query, 1_i64).unwrap();
    let q = all.request.uri().query().unwrap();
    assert!(q.contains("fromId=3&limit=50&") && !q.contains("orderId"), "{q}");
    assert_eq!(all.cost.weight, 20);
}

/// [`tracker`] with an OPO sent: working `w` (LIMIT BUY 0.01 at 60,000), pending `p` (LIMIT_MAKER
/// sell at 70,000), list `l`.
fn opo_sent() -> (Arc<Ledger>, Orders) {
    let (ledger, mut orders) = tracker();
    let (btc, usdt) = (ledger.asset("BTC").unwrap(), ledger.asset("USDT").unwrap());
    let opo = OtoRequest::opo(
        "BTCUSDT",
        dec!(0.01),
        ListLeg::limit(dec!(60000), TimeInForce::Gtc).with_client_order_id(id("w")),
        ListLeg::limit_maker(dec!(70000)).with_client_order_id(id("p")),
    )
    .with_list_client_order_id(id("l"));
    orders.submit_list(SubmitList { list: &opo.into(), base: btc, quote: usdt }).unwrap();
    assert!(orders.on_list_sent(1, &id("l"), 1_i64, 5000));
    (ledger, orders)
}

/// An OPO's pending order placed and sold in full before the working order's last trades
/// arrive (the events reordered, or lost and fetched later): what it sold was held at its
/// placement, and the working order's late trades lock nothing for it (found by the fault
/// simulation with partial fills: the pending fill exceeded what it held, then the late trades
/// locked funds no order would ever release).
#[test]
fn an_opo_pending_order_that_sells_before_the_working_orders_last_trades_never_overdraws() {
    let (ledger, mut orders) = opo_sent();
    let (new, partial, filled) = (OrderStatus::New, OrderStatus::PartiallyFilled, OrderStatus::Filled);
    orders.on_report(2, &report("w", 1, &new, dec!(0), Some(dec!(0.01))), []);
    orders.on_report(3, &report("w", 1, &partial, dec!(0.004), None), [trade(1, dec!(0.004), dec!(60000), dec!(0))]);
    orders.on_report(4, &report("p", 2, &new, dec!(0), Some(dec!(0.01))), []);
    assert_eq!(locked(&ledger, "BTC"), dec!(0.01));
    // The pending order sells all of it.
    let sold =
        orders.on_report(5, &report("p", 2, &filled, dec!(0.01), None), [trade(7, dec!(0.01), dec!(70000), dec!(0))]);
    let aegis_exchange::OrderApplied::Changed(update) = sold else { panic!("{sold:?}") };
    assert_eq!(update.ledger_error, None);
    // Then the working order's last trades.
    let last =
        orders.on_report(6, &report("w", 1, &filled, dec!(0.01), None), [trade(2, dec!(0.006), dec!(60000), dec!(0))]);
    let aegis_exchange::OrderApplied::Changed(update) = last else { panic!("{last:?}") };
    assert_eq!(update.ledger_error, None);
    assert_eq!((locked(&ledger, "BTC"), locked(&ledger, "USDT")), (dec!(0), dec!(0)));
    assert_eq!(balance(&ledger, "BTC").total(), dec!(1));
    assert_eq!(balance(&ledger, "USDT").total(), dec!(100000) - dec!(600) + dec!(700));
}

/// An OPO's pending order reported placed before the working order's last trades arrive
/// (reordered events): it holds what its quantity needs at once, as the exchange does, and the
/// trades that arrive after lock nothing more (found by the fault simulation: the received
/// funds were locked twice; and, when the pending order sold before those trades came, what
/// it sold was more than it held).
#[test]
fn an_opo_placed_before_its_trades_arrive_locks_once() {
    for early in [0, 1] {
        let (ledger, mut orders) = opo_sent();
        let (new, partial, filled) = (OrderStatus::New, OrderStatus::PartiallyFilled, OrderStatus::Filled);
        orders.on_report(2, &report("w", 1, &new, dec!(0), Some(dec!(0.01))), []);
        if early == 1 {
            // One part received first.
            orders.on_report(
                3,
                &report("w", 1, &partial, dec!(0.004), None),
                [trade(1, dec!(0.004), dec!(60000), dec!(0))],
            );
            assert_eq!(locked(&ledger, "BTC"), dec!(0.004));
        }
        // The pending order's placement arrives before the working order's (last) trades.
        orders.on_report(4, &report("p", 2, &new, dec!(0), Some(dec!(0.01))), []);
        // What it holds: its quantity, as the exchange locks it when it places it: what was
        // received so far and the rest out of the free balance (the working order's last trades
        // come after); never more than the quantity.
        assert_eq!(locked(&ledger, "BTC"), dec!(0.01), "early {early}");
        if early == 0 {
            orders.on_report(
                5,
                &report("w", 1, &partial, dec!(0.004), None),
                [trade(1, dec!(0.004), dec!(60000), dec!(0))],
            );
        }
        orders.on_report(6, &report("w", 1, &filled, dec!(0.01), None), [trade(2, dec!(0.006), dec!(60000), dec!(0))]);
        assert_eq!(locked(&ledger, "BTC"), dec!(0.01), "early {early}: locked once");
        orders.on_report(7, &report("p", 2, &OrderStatus::Canceled, dec!(0), None), []);
        assert_eq!((locked(&ledger, "BTC"), locked(&ledger, "USDT")), (dec!(0), dec!(0)), "early {early}");
        assert_eq!(balance(&ledger, "BTC").total(), dec!(1.01));
    }
}
