//! The seed's precision cases: the float trap `10000 * 0.98 / 65432.5`, the dust order below the
//! minimum notional, and zero or negative quantities refused before any filter.

use aegis_exchange::num::{Wire, is_multiple_of, parse_decimal};
use aegis_exchange::{
    ExchangeInfo, FilterError, FilterKind, MarketContext, OrderError, OrderRequest, Side, SymbolRules, Violation,
};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

fn btcusdt() -> SymbolRules {
    let info = ExchangeInfo::from_json(aegis_exchange::BUNDLED_EXCHANGE_INFO).unwrap_or_else(|e| panic!("{e}"));
    info.symbol("BTCUSDT").cloned().unwrap_or_else(|| panic!("BTCUSDT"))
}

fn ctx() -> MarketContext {
    MarketContext::default().with_reference_price(dec!(65430)).with_open_orders(0)
}

#[test]
fn float_trap_quantity_normalizes_to_the_step() {
    let rules = btcusdt();
    // The seed's literal (the f64 rendering) and the exact Decimal computation both land on 0.14977.
    let literal = parse_decimal("0.14977266648836587").unwrap_or_else(|e| panic!("{e}"));
    let computed = dec!(10000) * dec!(0.98) / dec!(65432.5);
    assert!(computed.to_string().starts_with("0.14977266648836587322"));
    for raw in [literal, computed] {
        let order = OrderRequest::limit("BTCUSDT", Side::Buy, raw, dec!(65432.5));
        let valid = rules.normalize(order, &ctx()).unwrap_or_else(|e| panic!("{e}"));
        let qty = valid.request().quantity().unwrap_or_default();
        assert_eq!(qty, dec!(0.14977));
        assert!(qty <= raw, "never above the raw value");
        assert!(is_multiple_of(qty, dec!(0.00001000)));
        assert_eq!(Wire(qty).to_string(), "0.14977");
        assert!(valid.is_fully_checked(), "{:?}", valid.unchecked().collect::<Vec<_>>());
    }
    // validate alone refuses the raw value, naming LOT_SIZE (too many decimals for the step).
    let raw = OrderRequest::limit("BTCUSDT", Side::Buy, literal, dec!(65432.5));
    let err = rules.validate(&raw, &ctx()).unwrap_err();
    assert_eq!(err, FilterError::TooMuchPrecision { parameter: "quantity", value: literal, max_decimals: 8 });
    let eight = OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.14977266), dec!(65432.5));
    let err = rules.validate(&eight, &ctx()).unwrap_err();
    assert_eq!(err.filter_type(), "LOT_SIZE");
    assert_eq!(err.to_string(), "Filter failure: LOT_SIZE");
    assert_eq!(
        err,
        FilterError::Filter {
            filter: FilterKind::LotSize,
            parameter: "quantity",
            violation: Violation::NotAMultipleOfStep,
            value: dec!(0.14977266),
            bound: dec!(0.00001),
        }
    );
}

#[test]
fn dust_order_is_refused_by_the_notional_filter() {
    // 0.00001 BTC at 65000 = 0.65 USDT, under the live 5 USDT NOTIONAL minimum.
    let rules = btcusdt();
    let dust = OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.00001), dec!(65000));
    let err = rules.validate(&dust, &ctx()).unwrap_err();
    assert_eq!(
        err,
        FilterError::Filter {
            filter: FilterKind::Notional,
            parameter: "notional",
            violation: Violation::BelowMinimum,
            value: dec!(0.65),
            bound: dec!(5),
        }
    );
    assert_eq!(err.code(), -1013);
    // normalize cannot fix it (it never raises a quantity) and refuses with the same name.
    assert_eq!(rules.normalize(dust, &ctx()).unwrap_err().filter_type(), "NOTIONAL");
    // The legacy MIN_NOTIONAL (2021 capture) refuses it the same way.
    let info =
        ExchangeInfo::from_json(include_bytes!("fixtures/recorded/exchangeInfo_slice_2021-10-12_cryptofeed.json"))
            .unwrap_or_else(|e| panic!("{e}"));
    let legacy = info.symbol("BTCUSDT").unwrap_or_else(|| panic!("BTCUSDT"));
    let dust = OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.00001), dec!(65000));
    let err = legacy.validate(&dust, &MarketContext::default().with_average_price(dec!(65000))).unwrap_err();
    assert_eq!(err.filter_type(), "MIN_NOTIONAL");
}

#[test]
fn zero_and_negative_quantities_are_refused_before_any_filter() {
    let rules = btcusdt();
    for (qty, expected) in [
        (Decimal::ZERO, OrderError::Zero { parameter: "quantity" }),
        (dec!(-0.5), OrderError::OutOfRange { parameter: "quantity", value: dec!(-0.5) }),
    ] {
        let order = OrderRequest::limit("BTCUSDT", Side::Buy, qty, dec!(65000));
        assert_eq!(rules.validate(&order, &ctx()), Err(FilterError::Parameter(expected.clone())));
        assert_eq!(rules.normalize(order, &ctx()), Err(FilterError::Parameter(expected.clone())));
        let market = OrderRequest::market("BTCUSDT", Side::Sell, qty);
        assert_eq!(rules.normalize(market, &ctx()), Err(FilterError::Parameter(expected)));
    }
    assert_eq!(OrderError::Zero { parameter: "quantity" }.to_string(), "Invalid quantity.");
    assert_eq!(
        OrderError::OutOfRange { parameter: "quantity", value: dec!(-1) }.to_string(),
        "Illegal characters found in parameter 'quantity'; legal range is '^([0-9]{1,20})(\\.[0-9]{1,20})?$'."
    );
    // A positive quantity that rounds down to nothing is a LOT_SIZE refusal, not a zero order.
    let tiny = OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.000009), dec!(65000));
    assert_eq!(
        rules.normalize(tiny, &ctx()),
        Err(FilterError::Filter {
            filter: FilterKind::LotSize,
            parameter: "quantity",
            violation: Violation::BelowMinimum,
            value: Decimal::ZERO,
            bound: dec!(0.00001),
        })
    );
}

#[test]
fn prices_round_toward_the_passive_side_unless_told_otherwise() {
    use aegis_exchange::{NormalizeOptions, Rounding};
    let rules = btcusdt();
    let price = |side, opts| {
        rules
            .normalize_with(OrderRequest::limit("BTCUSDT", side, dec!(0.001), dec!(65432.517)), &ctx(), opts)
            .map(|v| v.request().price())
    };
    assert_eq!(price(Side::Buy, NormalizeOptions::default()), Ok(Some(dec!(65432.51))));
    assert_eq!(price(Side::Sell, NormalizeOptions::default()), Ok(Some(dec!(65432.52))));
    let nearest = NormalizeOptions { price: Some(Rounding::Nearest), stop_price: None };
    assert_eq!(price(Side::Buy, nearest), Ok(Some(dec!(65432.52))));
    let up = NormalizeOptions { price: Some(Rounding::Up), stop_price: None };
    assert_eq!(price(Side::Buy, up), Ok(Some(dec!(65432.52))));
    // A SELL rounded up past PERCENT_PRICE_BY_SIDE's band is refused by name, not clamped.
    let far = rules.normalize(OrderRequest::limit("BTCUSDT", Side::Sell, dec!(0.001), dec!(327150.001)), &ctx());
    assert_eq!(far.unwrap_err().filter_type(), "PERCENT_PRICE_BY_SIDE");
}

#[test]
fn rounding_up_never_leaves_the_wire_range() {
    // Found by the order_validation fuzz target: a SELL price rounded up to a huge tick.
    use aegis_exchange::Filter;
    let rules = SymbolRules::new("FUZZUSDT", "FUZZ", "USDT").with_filter(Filter::PriceFilter {
        min_price: Decimal::ZERO,
        max_price: Decimal::ZERO,
        tick_size: Decimal::MAX,
    });
    let order = OrderRequest::limit("FUZZUSDT", Side::Sell, dec!(1), dec!(0.5));
    assert_eq!(
        rules.normalize(order, &MarketContext::default()),
        Err(FilterError::Parameter(OrderError::OutOfRange { parameter: "price", value: Decimal::MAX }))
    );
}

#[test]
fn an_iceberg_rounded_onto_its_quantity_is_refused() {
    // Found by the order_validation fuzz target: both round down to the same step.
    use aegis_exchange::Filter;
    let rules = SymbolRules::new("FUZZUSDT", "FUZZ", "USDT").with_filter(Filter::LotSize {
        min_qty: Decimal::ZERO,
        max_qty: Decimal::ZERO,
        step_size: dec!(0.1),
    });
    let order = OrderRequest::limit("FUZZUSDT", Side::Buy, dec!(1.05), dec!(1)).with_iceberg_qty(dec!(1.01));
    assert_eq!(
        rules.normalize(order, &MarketContext::default()),
        Err(FilterError::Parameter(OrderError::IcebergQtyExceedsQty))
    );
}
