//! Order lists at the wire and the rules: the docs' OCO, list-cancel and list-query answers and
//! the `listStatus` event decode; an OCO is validated as Binance validates it (leg types, each leg
//! through the filters with MAX_NUM_ORDERS counting both, the price relation to the last price,
//! `ocoAllowed`) and built with every parameter in Binance's names.

use aegis_exchange::rest::{Environment, OrderList, Rest, decode};
use aegis_exchange::sign::{Credentials, HmacSha256};
use aegis_exchange::ws_api::{UserDataEvent, WsFrame};
use aegis_exchange::{
    BUNDLED_EXCHANGE_INFO, ClientOrderId, ExchangeInfo, FilterError, ListLeg, MarketContext, OcoRequest,
};
use aegis_exchange::{OrderStatus, OrderType, Side, TimeInForce};
use rust_decimal_macros::dec;

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
