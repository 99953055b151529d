//! Every refusal the crate can produce, with the exact code, name and message Binance uses for
//! it: the table a support engineer reads when an order is refused before it leaves.

use aegis_exchange::{
    ExchangeInfo, FilterError, FilterKind, MarketContext, OrderError, OrderRequest, OrderType, SelfTradePreventionMode,
    Side, SymbolRules, SymbolStatus, Violation,
};
use rust_decimal_macros::dec;

#[test]
fn order_errors_read_like_binance() {
    let table: Vec<(OrderError, i32, &str, &str)> = vec![
        (
            OrderError::MissingParameter("price"),
            -1102,
            "MANDATORY_PARAM_EMPTY_OR_MALFORMED",
            "Mandatory parameter 'price' was not sent, was empty/null, or malformed.",
        ),
        (
            OrderError::MissingEither("quantity", "quoteOrderQty"),
            -1102,
            "MANDATORY_PARAM_EMPTY_OR_MALFORMED",
            "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!",
        ),
        (
            OrderError::UnexpectedParameter("stopPrice"),
            -1106,
            "PARAM_NOT_REQUIRED",
            "Parameter 'stopPrice' sent when not required.",
        ),
        (
            OrderError::TimeInForceNotRequired,
            -1114,
            "TIF_NOT_REQUIRED",
            "TimeInForce parameter sent when not required.",
        ),
        (OrderError::InvalidSide, -1117, "INVALID_SIDE", "Invalid side."),
        (OrderError::InvalidOrderType, -1116, "INVALID_ORDER_TYPE", "Invalid orderType."),
        (OrderError::InvalidTimeInForce, -1115, "INVALID_TIF", "Invalid timeInForce."),
        (OrderError::Zero { parameter: "quantity" }, -1013, "INVALID_MESSAGE", "Invalid quantity."),
        (
            OrderError::OutOfRange { parameter: "price", value: dec!(-1) },
            -1100,
            "ILLEGAL_CHARS",
            "Illegal characters found in parameter 'price'; legal range is '^([0-9]{1,20})(\\.[0-9]{1,20})?$'.",
        ),
        (OrderError::IcebergQtyExceedsQty, -2010, "NEW_ORDER_REJECTED", "IcebergQty exceeds QTY."),
        (OrderError::IcebergRequiresGtc, -1013, "INVALID_MESSAGE", "Iceberg orders require timeInForce GTC."),
    ];
    for (e, code, name, msg) in table {
        assert_eq!((e.code(), e.code_name(), e.to_string().as_str()), (code, name, msg), "{e:?}");
        let wrapped = FilterError::Parameter(e.clone());
        assert_eq!((wrapped.code(), wrapped.filter_type(), wrapped.to_string()), (code, name, e.to_string()));
        assert!(!wrapped.is_filter_failure());
    }
}

#[test]
fn filter_errors_read_like_binance() {
    let filter = FilterError::Filter {
        filter: FilterKind::PercentPriceBySide,
        parameter: "price",
        violation: Violation::AboveMaximum,
        value: dec!(2),
        bound: dec!(1),
    };
    let table: Vec<(FilterError, i32, &str, &str, bool)> = vec![
        (filter, -1013, "PERCENT_PRICE_BY_SIDE", "Filter failure: PERCENT_PRICE_BY_SIDE", true),
        (
            FilterError::MissingContext { filter: FilterKind::Notional },
            -1013,
            "NOTIONAL",
            "Filter failure: NOTIONAL (market context missing, refused in strict mode)",
            true,
        ),
        (
            FilterError::UnknownFilter { filter_type: "NEW_ONE".into() },
            -1013,
            "NEW_ONE",
            "Filter failure: NEW_ONE (unknown filter type, refused in strict mode)",
            true,
        ),
        (
            FilterError::MalformedFilter { filter_type: "LOT_SIZE".into(), reason: "minQty: missing".into() },
            -1013,
            "LOT_SIZE",
            "Filter failure: LOT_SIZE (unreadable in exchangeInfo: minQty: missing)",
            true,
        ),
        (
            FilterError::SymbolMismatch { expected: "A".into(), got: "B".into() },
            -1121,
            "BAD_SYMBOL",
            "Invalid symbol.",
            false,
        ),
        (
            FilterError::SymbolNotTrading { status: SymbolStatus::Halt },
            -2010,
            "NEW_ORDER_REJECTED",
            "This order type is not possible in this trading phase.",
            false,
        ),
        (
            FilterError::SpotTradingNotAllowed,
            -2010,
            "NEW_ORDER_REJECTED",
            "This symbol is not permitted for this account.",
            false,
        ),
        (
            FilterError::OrderTypeNotAllowed { order_type: OrderType::StopLossLimit },
            -2010,
            "NEW_ORDER_REJECTED",
            "Stop loss limit orders are not supported for this symbol.",
            false,
        ),
        (
            FilterError::OrderTypeNotAllowed { order_type: OrderType::TakeProfit },
            -2010,
            "NEW_ORDER_REJECTED",
            "Take profit orders are not supported for this symbol.",
            false,
        ),
        (
            FilterError::IcebergNotAllowed,
            -2010,
            "NEW_ORDER_REJECTED",
            "Iceberg orders are not supported for this symbol.",
            false,
        ),
        (
            FilterError::QuoteOrderQtyNotAllowed,
            -2010,
            "NEW_ORDER_REJECTED",
            "Quote order qty market orders are not support for this symbol.",
            false,
        ),
        (
            FilterError::TrailingStopNotAllowed,
            -2010,
            "NEW_ORDER_REJECTED",
            "Trailing stop orders are not supported for this symbol.",
            false,
        ),
        (
            FilterError::SelfTradePreventionModeNotAllowed { mode: SelfTradePreventionMode::Transfer },
            -1013,
            "INVALID_MESSAGE",
            "Invalid selfTradePreventionMode.",
            false,
        ),
        (
            FilterError::TooMuchPrecision { parameter: "quantity", value: dec!(0.123456789), max_decimals: 8 },
            -1111,
            "BAD_PRECISION",
            "Parameter 'quantity' has too much precision.",
            false,
        ),
    ];
    for (e, code, name, msg, is_filter) in table {
        assert_eq!(
            (e.code(), e.filter_type(), e.to_string().as_str(), e.is_filter_failure()),
            (code, name, msg, is_filter)
        );
    }
}

#[test]
fn spot_trading_disabled_is_refused() {
    let doc = br#"{"symbols":[{"symbol":"MARGINONLY","status":"TRADING","baseAsset":"M","quoteAsset":"USDT",
        "baseAssetPrecision":8,"quoteAssetPrecision":8,"orderTypes":["LIMIT"],"isSpotTradingAllowed":false,
        "isMarginTradingAllowed":true,"filters":[]}]}"#;
    let info = ExchangeInfo::from_json(doc).unwrap_or_else(|e| panic!("{e}"));
    let rules = info.symbol("MARGINONLY").unwrap_or_else(|| panic!("symbol"));
    let order = OrderRequest::limit("MARGINONLY", Side::Buy, dec!(1), dec!(1));
    assert_eq!(rules.validate(&order, &MarketContext::default()), Err(FilterError::SpotTradingNotAllowed));
}

#[test]
fn a_notional_beyond_decimal_range_is_an_overflow_refusal() {
    // 10^19 × 10^19 = 10^38 cannot be a Decimal: refused as an overflow of NOTIONAL, not a panic.
    let rules = SymbolRules::new("BIGUSDT", "BIG", "USDT").with_precisions(0, 0).with_filter(
        aegis_exchange::Filter::Notional {
            min_notional: dec!(0),
            apply_min_to_market: false,
            max_notional: dec!(1000),
            apply_max_to_market: false,
            avg_price_mins: 0,
        },
    );
    let big = dec!(10000000000000000000);
    let order = OrderRequest::limit("BIGUSDT", Side::Buy, big, big);
    assert_eq!(
        rules.validate(&order, &MarketContext::default()),
        Err(FilterError::Filter {
            filter: FilterKind::Notional,
            parameter: "notional",
            violation: Violation::Overflow,
            value: big,
            bound: big,
        })
    );
    assert_eq!(
        rules.normalize(order, &MarketContext::default()).map_err(|e| e.filter_type().to_owned()),
        Err("NOTIONAL".into())
    );
}
