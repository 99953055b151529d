//! Every filter of Binance's `filters.md`, taken from the doc fixture, passes exactly at its
//! bounds and fails one unit past them with the exact error; every symbol-level refusal has its
//! exact error too.

use aegis_exchange::{
    ExchangeInfo, Filter, FilterError, FilterKind, MarketContext, OrderError, OrderRequest, OrderType,
    SelfTradePreventionMode, Side, SymbolRules, SymbolStatus, TimeInForce, Violation,
};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde_json::Value;

const DOC_FILTERS: &str = include_str!("fixtures/filters_all_doc_examples.json");
const ASSEMBLED: &[u8] = include_bytes!("fixtures/exchange_info_assembled_all_filters.json");

/// The doc example of `filter_type` from the fixture.
fn doc_filter(filter_type: &str) -> Filter {
    let all: Vec<Value> = serde_json::from_str(DOC_FILTERS).unwrap_or_default();
    let raw = all
        .iter()
        .find(|f| f.get("filterType").and_then(Value::as_str) == Some(filter_type))
        .unwrap_or_else(|| panic!("{filter_type} missing from fixture"));
    let (filter, unknown_fields) = Filter::from_json_value(raw);
    assert!(unknown_fields.is_empty(), "{unknown_fields:?}");
    assert_eq!(filter.filter_type(), filter_type);
    filter
}

fn rules_with(filter_type: &str) -> SymbolRules {
    SymbolRules::new("ETHBTC", "ETH", "BTC").with_filter(doc_filter(filter_type))
}

fn filter_err(
    filter: FilterKind,
    parameter: &'static str,
    violation: Violation,
    value: Decimal,
    bound: Decimal,
) -> FilterError {
    FilterError::Filter { filter, parameter, violation, value, bound }
}

fn limit(side: Side, qty: Decimal, price: Decimal) -> OrderRequest {
    OrderRequest::limit("ETHBTC", side, qty, price)
}

fn ctx() -> MarketContext {
    MarketContext::default()
}

#[test]
fn doc_fixtures_parse_completely() {
    let all: Vec<Value> = serde_json::from_str(DOC_FILTERS).unwrap_or_default();
    assert_eq!(all.len(), 20);
    for raw in &all {
        let (f, extra) = Filter::from_json_value(raw);
        assert!(f.kind().is_some(), "{raw} did not decode to a known filter: {f:?}");
        assert!(extra.is_empty());
    }
    let info = ExchangeInfo::from_json(ASSEMBLED).unwrap_or_else(|e| panic!("{e}"));
    let s = info.symbol("ETHBTC").unwrap_or_else(|| panic!("ETHBTC"));
    assert_eq!(s.filters().len(), 15);
    assert!(s.filters().iter().all(|f| f.kind().is_some()));
    assert_eq!(info.exchange_filters().len(), 4);
    assert_eq!(info.rate_limits().len(), 4);
    assert_eq!(info.rate_limits()[3].window_millis(), Some(300_000));
    assert_eq!(info.sors().len(), 1);
    assert!(s.is_fully_understood());
    assert!(s.opo_allowed() && s.peg_instructions_allowed() && !s.amend_allowed());
    assert_eq!(s.permission_sets(), &[vec!["SPOT".to_string(), "MARGIN".to_string()]]);
    assert_eq!(s.allowed_self_trade_prevention_modes(), &[SelfTradePreventionMode::None]);
    // The doc template, with empty filters and rateLimits, parses too.
    let template = ExchangeInfo::from_json(include_bytes!("fixtures/rest_exchange_info_doc_template.json"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(template.rate_limits().is_empty());
    // The WebSocket-API envelope is unwrapped.
    let ws = ExchangeInfo::from_json(include_bytes!("fixtures/ws_api_exchange_info_response.json"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!ws.symbols().is_empty());
}

#[test]
fn price_filter_bounds_apply_to_price_and_stop_price() {
    let r = rules_with("PRICE_FILTER"); // min 0.000001, max 100000, tick 0.000001
    let q = dec!(1);
    assert!(r.validate(&limit(Side::Buy, q, dec!(0.000001)), &ctx()).is_ok());
    assert!(r.validate(&limit(Side::Buy, q, dec!(100000)), &ctx()).is_ok());
    assert_eq!(
        r.validate(&limit(Side::Buy, q, dec!(0.0000009)), &ctx()),
        Err(filter_err(FilterKind::PriceFilter, "price", Violation::BelowMinimum, dec!(0.0000009), dec!(0.000001)))
    );
    assert_eq!(
        r.validate(&limit(Side::Buy, q, dec!(100000.000001)), &ctx()),
        Err(filter_err(FilterKind::PriceFilter, "price", Violation::AboveMaximum, dec!(100000.000001), dec!(100000)))
    );
    assert_eq!(
        r.validate(&limit(Side::Buy, q, dec!(1.0000015)), &ctx()),
        Err(filter_err(
            FilterKind::PriceFilter,
            "price",
            Violation::NotAMultipleOfStep,
            dec!(1.0000015),
            dec!(0.000001)
        ))
    );
    let stop = OrderRequest::stop_loss("ETHBTC", Side::Sell, q, dec!(0.0000005));
    assert_eq!(
        r.validate(&stop, &ctx()),
        Err(filter_err(FilterKind::PriceFilter, "stopPrice", Violation::BelowMinimum, dec!(0.0000005), dec!(0.000001)))
    );
}

#[test]
fn percent_price_bounds_against_the_average_price() {
    let r = rules_with("PERCENT_PRICE"); // up 1.3, down 0.7, avgPriceMins 5
    let c = ctx().with_average_price(dec!(100));
    assert!(r.validate(&limit(Side::Buy, dec!(1), dec!(130)), &c).is_ok());
    assert!(r.validate(&limit(Side::Sell, dec!(1), dec!(70)), &c).is_ok());
    assert_eq!(
        r.validate(&limit(Side::Buy, dec!(1), dec!(130.000001)), &c),
        Err(filter_err(FilterKind::PercentPrice, "price", Violation::AboveMaximum, dec!(130.000001), dec!(130)))
    );
    assert_eq!(
        r.validate(&limit(Side::Buy, dec!(1), dec!(69.999999)), &c),
        Err(filter_err(FilterKind::PercentPrice, "price", Violation::BelowMinimum, dec!(69.999999), dec!(70)))
    );
    // The reference price wins over the average price when known.
    let with_ref = c.clone().with_reference_price(dec!(200));
    assert!(r.validate(&limit(Side::Buy, dec!(1), dec!(260)), &with_ref).is_ok());
    // avgPriceMins > 0 needs the average price: the last price does not stand in for it.
    let last_only = ctx().with_last_price(dec!(100));
    let v = r.validate(&limit(Side::Buy, dec!(1), dec!(1000)), &last_only).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(v.unchecked().collect::<Vec<_>>(), vec![FilterKind::PercentPrice]);
    assert!(!v.is_fully_checked());
    assert_eq!(
        r.validate(&limit(Side::Buy, dec!(1), dec!(1000)), &last_only.strict()),
        Err(FilterError::MissingContext { filter: FilterKind::PercentPrice })
    );
}

#[test]
fn percent_price_by_side_uses_the_side_pair() {
    let r = rules_with("PERCENT_PRICE_BY_SIDE"); // bid 0.2..1.2, ask 0.8..5, avgPriceMins 1
    let c = ctx().with_average_price(dec!(100));
    let ok = |side, p| r.validate(&limit(side, dec!(1), p), &c).map(|_| ());
    assert_eq!(ok(Side::Buy, dec!(120)), Ok(()));
    assert_eq!(ok(Side::Buy, dec!(20)), Ok(()));
    assert_eq!(ok(Side::Sell, dec!(500)), Ok(()));
    assert_eq!(ok(Side::Sell, dec!(80)), Ok(()));
    let k = FilterKind::PercentPriceBySide;
    assert_eq!(
        ok(Side::Buy, dec!(120.000001)),
        Err(filter_err(k, "price", Violation::AboveMaximum, dec!(120.000001), dec!(120)))
    );
    assert_eq!(
        ok(Side::Buy, dec!(19.999999)),
        Err(filter_err(k, "price", Violation::BelowMinimum, dec!(19.999999), dec!(20)))
    );
    assert_eq!(
        ok(Side::Sell, dec!(500.000001)),
        Err(filter_err(k, "price", Violation::AboveMaximum, dec!(500.000001), dec!(500)))
    );
    assert_eq!(
        ok(Side::Sell, dec!(79.999999)),
        Err(filter_err(k, "price", Violation::BelowMinimum, dec!(79.999999), dec!(80)))
    );
    // A SELL at 121 passes (ask pair) where a BUY fails (bid pair).
    assert_eq!(ok(Side::Sell, dec!(121)), Ok(()));
}

#[test]
fn lot_size_bounds_apply_to_quantity_and_iceberg_qty() {
    let r = rules_with("LOT_SIZE"); // 0.001 .. 100000 step 0.001
    let p = dec!(1);
    let k = FilterKind::LotSize;
    assert!(r.validate(&limit(Side::Buy, dec!(0.001), p), &ctx()).is_ok());
    assert!(r.validate(&limit(Side::Buy, dec!(100000), p), &ctx()).is_ok());
    assert_eq!(
        r.validate(&limit(Side::Buy, dec!(0.0009), p), &ctx()),
        Err(filter_err(k, "quantity", Violation::BelowMinimum, dec!(0.0009), dec!(0.001)))
    );
    assert_eq!(
        r.validate(&limit(Side::Buy, dec!(100000.001), p), &ctx()),
        Err(filter_err(k, "quantity", Violation::AboveMaximum, dec!(100000.001), dec!(100000)))
    );
    assert_eq!(
        r.validate(&limit(Side::Buy, dec!(1.0005), p), &ctx()),
        Err(filter_err(k, "quantity", Violation::NotAMultipleOfStep, dec!(1.0005), dec!(0.001)))
    );
    let iceberg = limit(Side::Buy, dec!(1), p).with_iceberg_qty(dec!(0.0005));
    assert_eq!(
        r.validate(&iceberg, &ctx()),
        Err(filter_err(k, "icebergQty", Violation::BelowMinimum, dec!(0.0005), dec!(0.001)))
    );
    // LOT_SIZE applies to MARKET orders as well.
    assert_eq!(
        r.validate(&OrderRequest::market("ETHBTC", Side::Buy, dec!(1.0005)), &ctx()),
        Err(filter_err(k, "quantity", Violation::NotAMultipleOfStep, dec!(1.0005), dec!(0.001)))
    );
}

#[test]
fn min_notional_on_limit_and_market_orders() {
    let r = rules_with("MIN_NOTIONAL"); // 0.001, applyToMarket, avgPriceMins 5
    let k = FilterKind::MinNotional;
    assert!(r.validate(&limit(Side::Buy, dec!(0.001), dec!(1)), &ctx()).is_ok());
    assert_eq!(
        r.validate(&limit(Side::Buy, dec!(0.001), dec!(0.999)), &ctx()),
        Err(filter_err(k, "notional", Violation::BelowMinimum, dec!(0.000999), dec!(0.001)))
    );
    let market = OrderRequest::market("ETHBTC", Side::Buy, dec!(1));
    assert!(r.validate(&market, &ctx().with_average_price(dec!(0.001))).is_ok());
    assert_eq!(
        r.validate(&market, &ctx().with_average_price(dec!(0.000999))),
        Err(filter_err(k, "notional", Violation::BelowMinimum, dec!(0.000999), dec!(0.001)))
    );
    // quoteOrderQty is the notional itself.
    let quote = OrderRequest::market_quote("ETHBTC", Side::Buy, dec!(0.0009));
    assert_eq!(
        r.validate(&quote, &ctx()),
        Err(filter_err(k, "notional", Violation::BelowMinimum, dec!(0.0009), dec!(0.001)))
    );
    // Without a price proxy the MARKET check is reported, not skipped.
    let v = r.validate(&market, &ctx()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(v.unchecked().collect::<Vec<_>>(), vec![FilterKind::MinNotional]);
    // applyToMarket = false exempts MARKET orders entirely.
    let exempt = SymbolRules::new("ETHBTC", "ETH", "BTC").with_filter(Filter::MinNotional {
        min_notional: dec!(0.001),
        apply_to_market: false,
        avg_price_mins: 5,
    });
    assert!(exempt.validate(&market, &ctx()).is_ok_and(|v| v.is_fully_checked()));
}

#[test]
fn notional_min_and_max_with_market_flags() {
    let r = rules_with("NOTIONAL"); // 10 .. 10000, neither applies to MARKET
    let k = FilterKind::Notional;
    assert!(r.validate(&limit(Side::Buy, dec!(10), dec!(1)), &ctx()).is_ok());
    assert!(r.validate(&limit(Side::Buy, dec!(10000), dec!(1)), &ctx()).is_ok());
    assert_eq!(
        r.validate(&limit(Side::Buy, dec!(9.99), dec!(1)), &ctx()),
        Err(filter_err(k, "notional", Violation::BelowMinimum, dec!(9.99), dec!(10)))
    );
    assert_eq!(
        r.validate(&limit(Side::Buy, dec!(10000.01), dec!(1)), &ctx()),
        Err(filter_err(k, "notional", Violation::AboveMaximum, dec!(10000.01), dec!(10000)))
    );
    // MARKET orders are exempt here, and nothing is reported missing.
    let market = OrderRequest::market("ETHBTC", Side::Buy, dec!(0.000001));
    assert!(r.validate(&market, &ctx()).is_ok_and(|v| v.is_fully_checked()));
    // applyMinToMarket on: checked against the proxy.
    let applied = SymbolRules::new("ETHBTC", "ETH", "BTC").with_filter(Filter::Notional {
        min_notional: dec!(5),
        apply_min_to_market: true,
        max_notional: dec!(0),
        apply_max_to_market: false,
        avg_price_mins: 5,
    });
    assert_eq!(
        applied.validate(&OrderRequest::market("ETHBTC", Side::Buy, dec!(1)), &ctx().with_reference_price(dec!(4.99))),
        Err(filter_err(k, "notional", Violation::BelowMinimum, dec!(4.99), dec!(5)))
    );
    // maxNotional 0 is disabled.
    assert!(applied.validate(&limit(Side::Buy, dec!(99999999), dec!(99999)), &ctx()).is_ok());
}

#[test]
fn iceberg_parts_counts_exactly() {
    let r = rules_with("ICEBERG_PARTS"); // limit 10
    assert!(r.validate(&limit(Side::Buy, dec!(1), dec!(1)).with_iceberg_qty(dec!(0.1)), &ctx()).is_ok());
    assert_eq!(
        r.validate(&limit(Side::Buy, dec!(1), dec!(1)).with_iceberg_qty(dec!(0.099)), &ctx()),
        Err(filter_err(FilterKind::IcebergParts, "icebergQty", Violation::AboveMaximum, dec!(11), dec!(10)))
    );
    // 1 / 0.0999999999 is 10.000000001: eleven parts, not ten.
    assert!(r.validate(&limit(Side::Buy, dec!(1), dec!(1)).with_iceberg_qty(dec!(0.0999999999)), &ctx()).is_err());
}

#[test]
fn market_lot_size_applies_to_market_orders_only() {
    let r = rules_with("MARKET_LOT_SIZE"); // 0.001 .. 100000 step 0.001
    let k = FilterKind::MarketLotSize;
    assert!(r.validate(&OrderRequest::market("ETHBTC", Side::Sell, dec!(0.001)), &ctx()).is_ok());
    assert_eq!(
        r.validate(&OrderRequest::market("ETHBTC", Side::Sell, dec!(0.0009)), &ctx()),
        Err(filter_err(k, "quantity", Violation::BelowMinimum, dec!(0.0009), dec!(0.001)))
    );
    assert_eq!(
        r.validate(&OrderRequest::market("ETHBTC", Side::Sell, dec!(100000.001)), &ctx()),
        Err(filter_err(k, "quantity", Violation::AboveMaximum, dec!(100000.001), dec!(100000)))
    );
    assert!(r.validate(&limit(Side::Sell, dec!(0.0009), dec!(1)), &ctx()).is_ok());
    // The live shape: zero min and step, only a max.
    let live = SymbolRules::new("ETHBTC", "ETH", "BTC").with_filter(Filter::MarketLotSize {
        min_qty: dec!(0),
        max_qty: dec!(97.09521512),
        step_size: dec!(0),
    });
    assert!(live.validate(&OrderRequest::market("ETHBTC", Side::Sell, dec!(0.00000001)), &ctx()).is_ok());
    assert!(live.validate(&OrderRequest::market("ETHBTC", Side::Sell, dec!(97.09521513)), &ctx()).is_err());
}

#[test]
fn open_order_count_filters() {
    let stop = || OrderRequest::stop_loss("ETHBTC", Side::Sell, dec!(1), dec!(1));
    let iceberg = || limit(Side::Buy, dec!(1), dec!(1)).with_iceberg_qty(dec!(0.5));

    let r = rules_with("MAX_NUM_ORDERS"); // 25
    assert!(r.validate(&limit(Side::Buy, dec!(1), dec!(1)), &ctx().with_open_orders(24)).is_ok());
    assert_eq!(
        r.validate(&limit(Side::Buy, dec!(1), dec!(1)), &ctx().with_open_orders(25)),
        Err(filter_err(FilterKind::MaxNumOrders, "openOrders", Violation::AboveMaximum, dec!(26), dec!(25)))
    );
    assert_eq!(
        r.validate(&limit(Side::Buy, dec!(1), dec!(1)), &ctx()).map(|v| v.unchecked().collect::<Vec<_>>()),
        Ok(vec![FilterKind::MaxNumOrders])
    );

    let r = rules_with("MAX_NUM_ALGO_ORDERS"); // 5
    assert!(r.validate(&stop(), &ctx().with_open_algo_orders(4)).is_ok());
    assert_eq!(
        r.validate(&stop(), &ctx().with_open_algo_orders(5)),
        Err(filter_err(FilterKind::MaxNumAlgoOrders, "openAlgoOrders", Violation::AboveMaximum, dec!(6), dec!(5)))
    );
    assert!(r.validate(&limit(Side::Buy, dec!(1), dec!(1)), &ctx().with_open_algo_orders(5)).is_ok());

    let r = rules_with("MAX_NUM_ICEBERG_ORDERS"); // 5
    assert!(r.validate(&iceberg(), &ctx().with_open_iceberg_orders(4)).is_ok());
    assert_eq!(
        r.validate(&iceberg(), &ctx().with_open_iceberg_orders(5)),
        Err(filter_err(
            FilterKind::MaxNumIcebergOrders,
            "openIcebergOrders",
            Violation::AboveMaximum,
            dec!(6),
            dec!(5)
        ))
    );

    let r = SymbolRules::new("ETHBTC", "ETH", "BTC")
        .with_exchange_filter(doc_filter("EXCHANGE_MAX_NUM_ORDERS"))
        .with_exchange_filter(doc_filter("EXCHANGE_MAX_NUM_ALGO_ORDERS"))
        .with_exchange_filter(doc_filter("EXCHANGE_MAX_NUM_ICEBERG_ORDERS"));
    assert!(r.validate(&stop(), &ctx().with_account_open_orders(999, 199, 0)).is_ok());
    assert_eq!(
        r.validate(&stop(), &ctx().with_account_open_orders(1000, 0, 0)),
        Err(filter_err(
            FilterKind::ExchangeMaxNumOrders,
            "openOrders",
            Violation::AboveMaximum,
            dec!(1001),
            dec!(1000)
        ))
    );
    assert_eq!(
        r.validate(&stop(), &ctx().with_account_open_orders(0, 200, 0)),
        Err(filter_err(
            FilterKind::ExchangeMaxNumAlgoOrders,
            "openAlgoOrders",
            Violation::AboveMaximum,
            dec!(201),
            dec!(200)
        ))
    );
    assert!(r.validate(&iceberg(), &ctx().with_account_open_orders(0, 0, 9999)).is_ok());
    assert_eq!(
        r.validate(&iceberg(), &ctx().with_account_open_orders(0, 0, 10000)),
        Err(filter_err(
            FilterKind::ExchangeMaxNumIcebergOrders,
            "openIcebergOrders",
            Violation::AboveMaximum,
            dec!(10001),
            dec!(10000)
        ))
    );
}

#[test]
fn max_position_counts_buys_only() {
    let r = rules_with("MAX_POSITION"); // 10
    let buy = limit(Side::Buy, dec!(1), dec!(1));
    assert!(r.validate(&buy, &ctx().with_base_position(dec!(9))).is_ok());
    assert_eq!(
        r.validate(&buy, &ctx().with_base_position(dec!(9.00000001))),
        Err(filter_err(FilterKind::MaxPosition, "position", Violation::AboveMaximum, dec!(10.00000001), dec!(10)))
    );
    assert!(r.validate(&limit(Side::Sell, dec!(1), dec!(1)), &ctx().with_base_position(dec!(50))).is_ok());
    assert_eq!(r.validate(&buy, &ctx()).map(|v| v.unchecked().collect::<Vec<_>>()), Ok(vec![FilterKind::MaxPosition]));
}

#[test]
fn trailing_delta_uses_above_or_below_by_type_and_side() {
    let r = rules_with("TRAILING_DELTA"); // 10..2000 both ways
    let trail = |t: OrderType, side: Side, d: u64| {
        let limit_type = matches!(t, OrderType::StopLossLimit | OrderType::TakeProfitLimit);
        let mut o = OrderRequest::new("ETHBTC", side, t).with_quantity(dec!(1)).with_trailing_delta(d);
        if limit_type {
            o = o.with_price(dec!(1)).with_time_in_force(TimeInForce::Gtc);
        }
        o
    };
    let k = FilterKind::TrailingDelta;
    assert!(r.validate(&trail(OrderType::StopLoss, Side::Buy, 10), &ctx()).is_ok());
    assert!(r.validate(&trail(OrderType::StopLoss, Side::Buy, 2000), &ctx()).is_ok());
    assert_eq!(
        r.validate(&trail(OrderType::StopLoss, Side::Buy, 9), &ctx()),
        Err(filter_err(k, "trailingDelta", Violation::BelowMinimum, dec!(9), dec!(10)))
    );
    assert_eq!(
        r.validate(&trail(OrderType::TakeProfitLimit, Side::Sell, 2001), &ctx()),
        Err(filter_err(k, "trailingDelta", Violation::AboveMaximum, dec!(2001), dec!(2000)))
    );
    // Distinct pairs show which one applies: above for STOP_LOSS BUY / TAKE_PROFIT SELL.
    let split = SymbolRules::new("ETHBTC", "ETH", "BTC").with_filter(Filter::TrailingDelta {
        min_trailing_above_delta: 100,
        max_trailing_above_delta: 200,
        min_trailing_below_delta: 300,
        max_trailing_below_delta: 400,
    });
    assert!(split.validate(&trail(OrderType::StopLoss, Side::Buy, 150), &ctx()).is_ok());
    assert!(split.validate(&trail(OrderType::TakeProfit, Side::Sell, 150), &ctx()).is_ok());
    assert!(split.validate(&trail(OrderType::StopLossLimit, Side::Sell, 350), &ctx()).is_ok());
    assert!(split.validate(&trail(OrderType::TakeProfit, Side::Buy, 350), &ctx()).is_ok());
    assert!(split.validate(&trail(OrderType::StopLoss, Side::Sell, 150), &ctx()).is_err());
    assert!(split.validate(&trail(OrderType::TakeProfitLimit, Side::Sell, 350), &ctx()).is_err());
}

#[test]
fn amend_and_order_list_filters() {
    let r = rules_with("MAX_NUM_ORDER_AMENDS"); // 10
    assert_eq!(r.check_amend(9), Ok(()));
    assert_eq!(
        r.check_amend(10),
        Err(filter_err(FilterKind::MaxNumOrderAmends, "amendments", Violation::AboveMaximum, dec!(11), dec!(10)))
    );
    let r = rules_with("MAX_NUM_ORDER_LISTS").with_exchange_filter(doc_filter("EXCHANGE_MAX_NUM_ORDER_LISTS")); // 20, 20
    assert_eq!(r.check_new_order_list(19, 19), Ok(()));
    assert_eq!(
        r.check_new_order_list(20, 0),
        Err(filter_err(FilterKind::MaxNumOrderLists, "openOrderLists", Violation::AboveMaximum, dec!(21), dec!(20)))
    );
    assert_eq!(
        r.check_new_order_list(0, 20),
        Err(filter_err(
            FilterKind::ExchangeMaxNumOrderLists,
            "openOrderLists",
            Violation::AboveMaximum,
            dec!(21),
            dec!(20)
        ))
    );
    // Neither applies to a single new order.
    assert!(r.validate(&limit(Side::Buy, dec!(1), dec!(1)), &ctx()).is_ok_and(|v| v.is_fully_checked()));
}

#[test]
fn max_asset_caps_base_quantity_and_quote_notional() {
    let base = SymbolRules::new("USDCUSDT", "USDC", "USDT").with_asset_filter(doc_filter("MAX_ASSET")); // USDC 42
    let o = |q| OrderRequest::limit("USDCUSDT", Side::Buy, q, dec!(1));
    assert!(base.validate(&o(dec!(42)), &ctx()).is_ok());
    assert_eq!(
        base.validate(&o(dec!(42.00000001)), &ctx()),
        Err(filter_err(FilterKind::MaxAsset, "quantity", Violation::AboveMaximum, dec!(42.00000001), dec!(42)))
    );
    let quote = SymbolRules::new("BTCUSDC", "BTC", "USDC").with_asset_filter(doc_filter("MAX_ASSET"));
    let o = |p| OrderRequest::limit("BTCUSDC", Side::Buy, dec!(1), p);
    assert!(quote.validate(&o(dec!(42)), &ctx()).is_ok());
    assert_eq!(
        quote.validate(&o(dec!(42.01)), &ctx()),
        Err(filter_err(FilterKind::MaxAsset, "notional", Violation::AboveMaximum, dec!(42.01), dec!(42)))
    );
    // Attached from myFilters by asset.
    let mut info = ExchangeInfo::from_json(aegis_exchange::BUNDLED_EXCHANGE_INFO).unwrap_or_else(|e| panic!("{e}"));
    info.apply_asset_filters(&[Filter::MaxAsset { asset: "BTC".into(), limit: dec!(1) }]);
    assert_eq!(info.symbol("BTCUSDT").map(|s| s.asset_filters().len()), Some(1));
    assert_eq!(info.symbol("ETHUSDT").map(|s| s.asset_filters().len()), Some(0));
    assert_eq!(info.symbol("ETHBTC").map(|s| s.asset_filters().len()), Some(1));
}

#[test]
fn zero_disables_every_min_max_and_step() {
    let r = SymbolRules::new("ETHBTC", "ETH", "BTC")
        .with_filter(Filter::PriceFilter { min_price: dec!(0), max_price: dec!(0), tick_size: dec!(0) })
        .with_filter(Filter::LotSize { min_qty: dec!(0), max_qty: dec!(0), step_size: dec!(0) })
        .with_filter(Filter::MarketLotSize { min_qty: dec!(0), max_qty: dec!(0), step_size: dec!(0) })
        .with_filter(Filter::Notional {
            min_notional: dec!(0),
            apply_min_to_market: true,
            max_notional: dec!(0),
            apply_max_to_market: true,
            avg_price_mins: 0,
        })
        .with_filter(Filter::PercentPrice { multiplier_up: dec!(0), multiplier_down: dec!(0), avg_price_mins: 0 })
        .with_filter(Filter::IcebergParts { limit: 0 })
        .with_filter(Filter::MaxNumOrders { max_num_orders: 0 })
        .with_filter(Filter::MaxPosition { max_position: dec!(0) });
    let v = r
        .validate(&limit(Side::Buy, dec!(12345.12345678), dec!(0.00000001)).with_iceberg_qty(dec!(0.00000001)), &ctx())
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(v.is_fully_checked());
    assert!(r.validate(&OrderRequest::market("ETHBTC", Side::Sell, dec!(0.00000001)), &ctx()).is_ok());
    // normalize with every step disabled only rounds to the asset precision.
    let n =
        r.normalize(limit(Side::Buy, dec!(1.123456789), dec!(2.123456789)), &ctx()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(n.request().quantity(), Some(dec!(1.12345678)));
    assert_eq!(n.request().price(), Some(dec!(2.12345678)));
}

#[test]
fn symbol_level_refusals_have_exact_errors() {
    let base = || SymbolRules::new("ETHBTC", "ETH", "BTC");
    let o = limit(Side::Buy, dec!(1), dec!(1));
    assert_eq!(
        base().with_status(SymbolStatus::Break).validate(&o, &ctx()),
        Err(FilterError::SymbolNotTrading { status: SymbolStatus::Break })
    );
    assert_eq!(
        base().with_status(SymbolStatus::CancelOnly).validate(&o, &ctx()),
        Err(FilterError::SymbolNotTrading { status: SymbolStatus::CancelOnly })
    );
    let e = base()
        .with_order_types(vec![OrderType::Limit])
        .validate(&OrderRequest::market("ETHBTC", Side::Buy, dec!(1)), &ctx());
    assert_eq!(e, Err(FilterError::OrderTypeNotAllowed { order_type: OrderType::Market }));
    assert_eq!(
        e.map_err(|e| (e.to_string(), e.code())),
        Err(("Market orders are not supported for this symbol.".into(), -2010))
    );
    assert_eq!(
        base().with_features(false, true, true).validate(&o.clone().with_iceberg_qty(dec!(0.5)), &ctx()),
        Err(FilterError::IcebergNotAllowed)
    );
    assert_eq!(
        base()
            .with_features(true, false, true)
            .validate(&OrderRequest::market_quote("ETHBTC", Side::Buy, dec!(1)), &ctx()),
        Err(FilterError::QuoteOrderQtyNotAllowed)
    );
    let trailing =
        OrderRequest::new("ETHBTC", Side::Buy, OrderType::StopLoss).with_quantity(dec!(1)).with_trailing_delta(50);
    assert_eq!(
        base().with_features(true, true, false).validate(&trailing, &ctx()),
        Err(FilterError::TrailingStopNotAllowed)
    );
    assert_eq!(OrderRequest::limit("BTCUSDT", Side::Buy, dec!(1), dec!(1)).symbol(), "BTCUSDT",);
    assert_eq!(
        base().validate(&OrderRequest::limit("BTCUSDT", Side::Buy, dec!(1), dec!(1)), &ctx()),
        Err(FilterError::SymbolMismatch { expected: "ETHBTC".into(), got: "BTCUSDT".into() })
    );
    assert_eq!(
        base().with_precisions(3, 2).validate(&limit(Side::Buy, dec!(1.0001), dec!(1)), &ctx()),
        Err(FilterError::TooMuchPrecision { parameter: "quantity", value: dec!(1.0001), max_decimals: 3 })
    );
    assert_eq!(
        base().with_precisions(3, 2).validate(&limit(Side::Buy, dec!(1), dec!(1.001)), &ctx()),
        Err(FilterError::TooMuchPrecision { parameter: "price", value: dec!(1.001), max_decimals: 2 })
    );
    // Trailing zeros are not precision.
    assert!(base().with_precisions(3, 2).validate(&limit(Side::Buy, dec!(1.00000), dec!(1.000000)), &ctx()).is_ok());
    let info = ExchangeInfo::from_json(aegis_exchange::BUNDLED_EXCHANGE_INFO).unwrap_or_else(|e| panic!("{e}"));
    let btc = info.symbol("BTCUSDT").unwrap_or_else(|| panic!("BTCUSDT"));
    assert_eq!(
        btc.validate(
            &OrderRequest::limit("BTCUSDT", Side::Buy, dec!(1), dec!(65000))
                .with_self_trade_prevention_mode(SelfTradePreventionMode::Transfer),
            &ctx()
        ),
        Err(FilterError::SelfTradePreventionModeNotAllowed { mode: SelfTradePreventionMode::Transfer })
    );
    assert_eq!(
        base().validate(&OrderRequest::market("ETHBTC", Side::Buy, dec!(0)), &ctx()),
        Err(FilterError::Parameter(OrderError::Zero { parameter: "quantity" }))
    );
}

#[test]
fn unknown_and_malformed_filters_are_reported_or_refused() {
    let doc = r#"{"symbols":[{"symbol":"NEWCOIN","status":"TRADING","baseAsset":"NEW","quoteAsset":"USDT",
        "baseAssetPrecision":8,"quoteAssetPrecision":8,"orderTypes":["LIMIT","LIMIT_MAKER","FUTURE_TYPE"],
        "isSpotTradingAllowed":true,"brandNewFlag":true,
        "filters":[{"filterType":"PRICE_FILTER","minPrice":"0.01","maxPrice":"1000","tickSize":"0.01","extra":"x"},
                   {"filterType":"SHINY_NEW_FILTER","foo":"1"}]},
      {"symbol":"BADCOIN","status":"TRADING","baseAsset":"BAD","quoteAsset":"USDT",
        "baseAssetPrecision":8,"quoteAssetPrecision":8,"orderTypes":["LIMIT"],"isSpotTradingAllowed":true,
        "filters":[{"filterType":"LOT_SIZE","minQty":"abc","maxQty":"1","stepSize":"1"}]},
      {"symbol":"BROKEN","status":"TRADING"}],
      "futureTopLevel":1}"#;
    let info = ExchangeInfo::from_json(doc.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(info.unknown_fields(), &["futureTopLevel".to_string()]);
    assert_eq!(info.malformed_symbols().len(), 1);
    assert_eq!(info.malformed_symbols()[0].symbol.as_deref(), Some("BROKEN"));
    let new = info.symbol("NEWCOIN").unwrap_or_else(|| panic!("NEWCOIN"));
    assert_eq!(new.unknown_filters().collect::<Vec<_>>(), vec!["SHINY_NEW_FILTER"]);
    assert_eq!(new.unknown_fields(), &["brandNewFlag".to_string(), "PRICE_FILTER.extra".to_string()]);
    assert!(new.order_types().contains(&OrderType::Unknown("FUTURE_TYPE".into())));
    assert!(!new.is_fully_understood());
    let o = OrderRequest::limit("NEWCOIN", Side::Buy, dec!(1), dec!(1));
    let v = new.validate(&o, &ctx()).unwrap_or_else(|e| panic!("{e}"));
    assert!(v.has_unknown_filters() && !v.is_fully_checked());
    assert_eq!(
        new.validate(&o, &ctx().strict()),
        Err(FilterError::UnknownFilter { filter_type: "SHINY_NEW_FILTER".into() })
    );
    let bad = info.symbol("BADCOIN").unwrap_or_else(|| panic!("BADCOIN"));
    let e = bad.validate(&OrderRequest::limit("BADCOIN", Side::Buy, dec!(1), dec!(1)), &ctx());
    assert!(matches!(&e, Err(FilterError::MalformedFilter { filter_type, .. }) if filter_type == "LOT_SIZE"));
    assert_eq!(e.map_err(|e| e.filter_type().to_owned()), Err("LOT_SIZE".to_string()));
}

#[test]
fn decode_errors_are_typed() {
    use aegis_exchange::DecodeError;
    assert!(matches!(ExchangeInfo::from_json(b"not json"), Err(DecodeError::Json { line: 1, column: 2, .. })));
    assert_eq!(ExchangeInfo::from_json(b"[]"), Err(DecodeError::Shape { path: "$".into(), expected: "an object" }));
    assert_eq!(
        ExchangeInfo::from_json(b"{\"symbols\":{}}"),
        Err(DecodeError::Shape { path: "symbols".into(), expected: "an array" })
    );
    assert!(ExchangeInfo::from_json(&[b'['; 10_000]).is_err());
}
