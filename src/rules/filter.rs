//! Every Binance filter type (SPEC §3) as data, and its decoding from exchangeInfo JSON.

use rust_decimal::Decimal;
use serde_json::{Map, Value};

use crate::num::parse_decimal;

/// The name of a filter type, as Binance spells it in exchangeInfo and in `-1013` messages.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FilterKind {
    /// `PRICE_FILTER`
    PriceFilter,
    /// `PERCENT_PRICE`
    PercentPrice,
    /// `PERCENT_PRICE_BY_SIDE`
    PercentPriceBySide,
    /// `LOT_SIZE`
    LotSize,
    /// `MIN_NOTIONAL`
    MinNotional,
    /// `NOTIONAL`
    Notional,
    /// `ICEBERG_PARTS`
    IcebergParts,
    /// `MARKET_LOT_SIZE`
    MarketLotSize,
    /// `MAX_NUM_ORDERS`
    MaxNumOrders,
    /// `MAX_NUM_ALGO_ORDERS`
    MaxNumAlgoOrders,
    /// `MAX_NUM_ICEBERG_ORDERS`
    MaxNumIcebergOrders,
    /// `MAX_POSITION`
    MaxPosition,
    /// `TRAILING_DELTA`
    TrailingDelta,
    /// `MAX_NUM_ORDER_AMENDS`
    MaxNumOrderAmends,
    /// `MAX_NUM_ORDER_LISTS`
    MaxNumOrderLists,
    /// `EXCHANGE_MAX_NUM_ORDERS`
    ExchangeMaxNumOrders,
    /// `EXCHANGE_MAX_NUM_ALGO_ORDERS`
    ExchangeMaxNumAlgoOrders,
    /// `EXCHANGE_MAX_NUM_ICEBERG_ORDERS`
    ExchangeMaxNumIcebergOrders,
    /// `EXCHANGE_MAX_NUM_ORDER_LISTS`
    ExchangeMaxNumOrderLists,
    /// `MAX_ASSET` (from `GET /api/v3/myFilters`)
    MaxAsset,
}

impl FilterKind {
    /// Every filter kind, in the order of Binance's `filters.md`.
    pub const ALL: [FilterKind; 20] = [
        FilterKind::PriceFilter,
        FilterKind::PercentPrice,
        FilterKind::PercentPriceBySide,
        FilterKind::LotSize,
        FilterKind::MinNotional,
        FilterKind::Notional,
        FilterKind::IcebergParts,
        FilterKind::MarketLotSize,
        FilterKind::MaxNumOrders,
        FilterKind::MaxNumAlgoOrders,
        FilterKind::MaxNumIcebergOrders,
        FilterKind::MaxPosition,
        FilterKind::TrailingDelta,
        FilterKind::MaxNumOrderAmends,
        FilterKind::MaxNumOrderLists,
        FilterKind::ExchangeMaxNumOrders,
        FilterKind::ExchangeMaxNumAlgoOrders,
        FilterKind::ExchangeMaxNumIcebergOrders,
        FilterKind::ExchangeMaxNumOrderLists,
        FilterKind::MaxAsset,
    ];

    /// Binance's name (`"LOT_SIZE"`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            FilterKind::PriceFilter => "PRICE_FILTER",
            FilterKind::PercentPrice => "PERCENT_PRICE",
            FilterKind::PercentPriceBySide => "PERCENT_PRICE_BY_SIDE",
            FilterKind::LotSize => "LOT_SIZE",
            FilterKind::MinNotional => "MIN_NOTIONAL",
            FilterKind::Notional => "NOTIONAL",
            FilterKind::IcebergParts => "ICEBERG_PARTS",
            FilterKind::MarketLotSize => "MARKET_LOT_SIZE",
            FilterKind::MaxNumOrders => "MAX_NUM_ORDERS",
            FilterKind::MaxNumAlgoOrders => "MAX_NUM_ALGO_ORDERS",
            FilterKind::MaxNumIcebergOrders => "MAX_NUM_ICEBERG_ORDERS",
            FilterKind::MaxPosition => "MAX_POSITION",
            FilterKind::TrailingDelta => "TRAILING_DELTA",
            FilterKind::MaxNumOrderAmends => "MAX_NUM_ORDER_AMENDS",
            FilterKind::MaxNumOrderLists => "MAX_NUM_ORDER_LISTS",
            FilterKind::ExchangeMaxNumOrders => "EXCHANGE_MAX_NUM_ORDERS",
            FilterKind::ExchangeMaxNumAlgoOrders => "EXCHANGE_MAX_NUM_ALGO_ORDERS",
            FilterKind::ExchangeMaxNumIcebergOrders => "EXCHANGE_MAX_NUM_ICEBERG_ORDERS",
            FilterKind::ExchangeMaxNumOrderLists => "EXCHANGE_MAX_NUM_ORDER_LISTS",
            FilterKind::MaxAsset => "MAX_ASSET",
        }
    }

    /// The kind named `name`, if Binance's name is known.
    #[must_use]
    pub fn from_name(name: &str) -> Option<FilterKind> {
        FilterKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    pub(crate) fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

impl std::fmt::Display for FilterKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The name given to a filter entry whose `filterType` cannot be read, so that the refusal it
/// causes still names something.
pub const UNNAMED_FILTER: &str = "<no filterType>";

/// One filter from exchangeInfo (`symbols[].filters`, `exchangeFilters`) or myFilters.
///
/// Field names follow Binance's, in snake case. For every min, max and step a value of 0 means
/// the rule is disabled. A filter type this crate does not know is kept as [`Filter::Unknown`]; a
/// known one whose fields cannot be read is kept as [`Filter::Malformed`]: neither fails the
/// parse of the whole document, and both make validation refuse in strict mode (malformed ones
/// always), so a symbol whose rules cannot be checked is not traded blindly.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `PRICE_FILTER`: applies to `price` and `stopPrice`.
    PriceFilter {
        /// `minPrice`
        min_price: Decimal,
        /// `maxPrice`
        max_price: Decimal,
        /// `tickSize`
        tick_size: Decimal,
    },
    /// `PERCENT_PRICE`: the price within multipliers of the reference / average price.
    PercentPrice {
        /// `multiplierUp`
        multiplier_up: Decimal,
        /// `multiplierDown`
        multiplier_down: Decimal,
        /// `avgPriceMins` (0: the last price is the reference).
        avg_price_mins: u64,
    },
    /// `PERCENT_PRICE_BY_SIDE`: as PERCENT_PRICE with one pair of multipliers per side.
    PercentPriceBySide {
        /// `bidMultiplierUp`
        bid_multiplier_up: Decimal,
        /// `bidMultiplierDown`
        bid_multiplier_down: Decimal,
        /// `askMultiplierUp`
        ask_multiplier_up: Decimal,
        /// `askMultiplierDown`
        ask_multiplier_down: Decimal,
        /// `avgPriceMins`
        avg_price_mins: u64,
    },
    /// `LOT_SIZE`: applies to `quantity` and `icebergQty`.
    LotSize {
        /// `minQty`
        min_qty: Decimal,
        /// `maxQty`
        max_qty: Decimal,
        /// `stepSize`
        step_size: Decimal,
    },
    /// `MIN_NOTIONAL` (legacy): `price * quantity >= minNotional`.
    MinNotional {
        /// `minNotional`
        min_notional: Decimal,
        /// `applyToMarket`
        apply_to_market: bool,
        /// `avgPriceMins`
        avg_price_mins: u64,
    },
    /// `NOTIONAL`: `minNotional <= price * quantity <= maxNotional`.
    Notional {
        /// `minNotional`
        min_notional: Decimal,
        /// `applyMinToMarket`
        apply_min_to_market: bool,
        /// `maxNotional`
        max_notional: Decimal,
        /// `applyMaxToMarket`
        apply_max_to_market: bool,
        /// `avgPriceMins`
        avg_price_mins: u64,
    },
    /// `ICEBERG_PARTS`: `ceil(quantity / icebergQty) <= limit`.
    IcebergParts {
        /// `limit`
        limit: u64,
    },
    /// `MARKET_LOT_SIZE`: LOT_SIZE for MARKET orders.
    MarketLotSize {
        /// `minQty`
        min_qty: Decimal,
        /// `maxQty`
        max_qty: Decimal,
        /// `stepSize`
        step_size: Decimal,
    },
    /// `MAX_NUM_ORDERS`: open orders on the symbol.
    MaxNumOrders {
        /// `maxNumOrders`
        max_num_orders: u64,
    },
    /// `MAX_NUM_ALGO_ORDERS`: open stop / take-profit orders on the symbol.
    MaxNumAlgoOrders {
        /// `maxNumAlgoOrders`
        max_num_algo_orders: u64,
    },
    /// `MAX_NUM_ICEBERG_ORDERS`: open iceberg orders on the symbol.
    MaxNumIcebergOrders {
        /// `maxNumIcebergOrders`
        max_num_iceberg_orders: u64,
    },
    /// `MAX_POSITION`: base balance plus open BUY quantity.
    MaxPosition {
        /// `maxPosition`
        max_position: Decimal,
    },
    /// `TRAILING_DELTA`: bounds on `trailingDelta` (BIPS).
    TrailingDelta {
        /// `minTrailingAboveDelta`
        min_trailing_above_delta: u64,
        /// `maxTrailingAboveDelta`
        max_trailing_above_delta: u64,
        /// `minTrailingBelowDelta`
        min_trailing_below_delta: u64,
        /// `maxTrailingBelowDelta`
        max_trailing_below_delta: u64,
    },
    /// `MAX_NUM_ORDER_AMENDS`: keep-priority amendments per order.
    MaxNumOrderAmends {
        /// `maxNumOrderAmends`
        max_num_order_amends: u64,
    },
    /// `MAX_NUM_ORDER_LISTS`: open order lists on the symbol.
    MaxNumOrderLists {
        /// `maxNumOrderLists`
        max_num_order_lists: u64,
    },
    /// `EXCHANGE_MAX_NUM_ORDERS`: open orders account-wide.
    ExchangeMaxNumOrders {
        /// `maxNumOrders`
        max_num_orders: u64,
    },
    /// `EXCHANGE_MAX_NUM_ALGO_ORDERS`: open algo orders account-wide.
    ExchangeMaxNumAlgoOrders {
        /// `maxNumAlgoOrders`
        max_num_algo_orders: u64,
    },
    /// `EXCHANGE_MAX_NUM_ICEBERG_ORDERS`: open iceberg orders account-wide.
    ExchangeMaxNumIcebergOrders {
        /// `maxNumIcebergOrders`
        max_num_iceberg_orders: u64,
    },
    /// `EXCHANGE_MAX_NUM_ORDER_LISTS`: open order lists account-wide.
    ExchangeMaxNumOrderLists {
        /// `maxNumOrderLists`
        max_num_order_lists: u64,
    },
    /// `MAX_ASSET`: caps the quantity (base) or notional (quote) of one order.
    MaxAsset {
        /// `asset`
        asset: String,
        /// `limit`
        limit: Decimal,
    },
    /// A filter type this crate does not know, kept with all its fields.
    Unknown {
        /// `filterType` as sent.
        filter_type: String,
        /// Every field as sent.
        fields: Map<String, Value>,
    },
    /// A known filter type whose fields could not be read.
    Malformed {
        /// `filterType` as sent.
        filter_type: String,
        /// What was wrong.
        reason: String,
    },
}

impl Filter {
    /// The filter's kind; `None` for [`Filter::Unknown`] and [`Filter::Malformed`].
    #[must_use]
    pub fn kind(&self) -> Option<FilterKind> {
        Some(match self {
            Filter::PriceFilter { .. } => FilterKind::PriceFilter,
            Filter::PercentPrice { .. } => FilterKind::PercentPrice,
            Filter::PercentPriceBySide { .. } => FilterKind::PercentPriceBySide,
            Filter::LotSize { .. } => FilterKind::LotSize,
            Filter::MinNotional { .. } => FilterKind::MinNotional,
            Filter::Notional { .. } => FilterKind::Notional,
            Filter::IcebergParts { .. } => FilterKind::IcebergParts,
            Filter::MarketLotSize { .. } => FilterKind::MarketLotSize,
            Filter::MaxNumOrders { .. } => FilterKind::MaxNumOrders,
            Filter::MaxNumAlgoOrders { .. } => FilterKind::MaxNumAlgoOrders,
            Filter::MaxNumIcebergOrders { .. } => FilterKind::MaxNumIcebergOrders,
            Filter::MaxPosition { .. } => FilterKind::MaxPosition,
            Filter::TrailingDelta { .. } => FilterKind::TrailingDelta,
            Filter::MaxNumOrderAmends { .. } => FilterKind::MaxNumOrderAmends,
            Filter::MaxNumOrderLists { .. } => FilterKind::MaxNumOrderLists,
            Filter::ExchangeMaxNumOrders { .. } => FilterKind::ExchangeMaxNumOrders,
            Filter::ExchangeMaxNumAlgoOrders { .. } => FilterKind::ExchangeMaxNumAlgoOrders,
            Filter::ExchangeMaxNumIcebergOrders { .. } => FilterKind::ExchangeMaxNumIcebergOrders,
            Filter::ExchangeMaxNumOrderLists { .. } => FilterKind::ExchangeMaxNumOrderLists,
            Filter::MaxAsset { .. } => FilterKind::MaxAsset,
            Filter::Unknown { .. } | Filter::Malformed { .. } => return None,
        })
    }

    /// The `filterType` text: Binance's name for known kinds, the sent text otherwise.
    #[must_use]
    pub fn filter_type(&self) -> &str {
        match self {
            Filter::Unknown { filter_type, .. } | Filter::Malformed { filter_type, .. } => filter_type,
            known => known.kind().map_or("", FilterKind::as_str),
        }
    }

    /// Decodes one filter object. Never fails: an unknown type becomes [`Filter::Unknown`], a
    /// known type with unreadable fields becomes [`Filter::Malformed`]. Fields that a known type
    /// does not define are returned in the second element, so they can be listed.
    #[must_use]
    pub fn from_json_value(value: &Value) -> (Filter, Vec<String>) {
        let Some(obj) = value.as_object() else {
            return (
                Filter::Malformed {
                    filter_type: UNNAMED_FILTER.to_owned(),
                    reason: "filter is not a JSON object".into(),
                },
                Vec::new(),
            );
        };
        let Some(filter_type) = obj.get("filterType").and_then(Value::as_str) else {
            return (
                Filter::Malformed {
                    filter_type: UNNAMED_FILTER.to_owned(),
                    reason: "filterType is missing or not a string".into(),
                },
                Vec::new(),
            );
        };
        let Some(kind) = FilterKind::from_name(filter_type) else {
            return (Filter::Unknown { filter_type: filter_type.to_owned(), fields: obj.clone() }, Vec::new());
        };
        let r = FieldReader { obj };
        match decode_known(kind, &r) {
            Ok(filter) => {
                let known = known_fields(kind);
                let unknown = obj
                    .keys()
                    .filter(|k| k.as_str() != "filterType" && !known.contains(&k.as_str()))
                    .map(|k| format!("{filter_type}.{k}"))
                    .collect();
                (filter, unknown)
            }
            Err(reason) => (Filter::Malformed { filter_type: filter_type.to_owned(), reason }, Vec::new()),
        }
    }
}

struct FieldReader<'a> {
    obj: &'a Map<String, Value>,
}

impl FieldReader<'_> {
    fn dec(&self, key: &str) -> Result<Decimal, String> {
        match self.obj.get(key) {
            Some(Value::String(s)) => parse_decimal(s).map_err(|e| format!("{key}: {e}")),
            Some(_) => Err(format!("{key}: expected a decimal string")),
            None => Err(format!("{key}: missing")),
        }
    }

    fn count(&self, key: &str) -> Result<u64, String> {
        match self.obj.get(key) {
            Some(v) => v.as_u64().ok_or_else(|| format!("{key}: expected a non-negative integer")),
            None => Err(format!("{key}: missing")),
        }
    }

    fn flag(&self, key: &str) -> Result<bool, String> {
        match self.obj.get(key) {
            Some(v) => v.as_bool().ok_or_else(|| format!("{key}: expected a boolean")),
            None => Err(format!("{key}: missing")),
        }
    }

    fn text(&self, key: &str) -> Result<String, String> {
        match self.obj.get(key) {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(_) => Err(format!("{key}: expected a string")),
            None => Err(format!("{key}: missing")),
        }
    }
}

fn known_fields(kind: FilterKind) -> &'static [&'static str] {
    match kind {
        FilterKind::PriceFilter => &["minPrice", "maxPrice", "tickSize"],
        FilterKind::PercentPrice => &["multiplierUp", "multiplierDown", "avgPriceMins"],
        FilterKind::PercentPriceBySide => {
            &["bidMultiplierUp", "bidMultiplierDown", "askMultiplierUp", "askMultiplierDown", "avgPriceMins"]
        }
        FilterKind::LotSize | FilterKind::MarketLotSize => &["minQty", "maxQty", "stepSize"],
        FilterKind::MinNotional => &["minNotional", "applyToMarket", "avgPriceMins"],
        FilterKind::Notional => &["minNotional", "applyMinToMarket", "maxNotional", "applyMaxToMarket", "avgPriceMins"],
        FilterKind::IcebergParts => &["limit"],
        FilterKind::MaxNumOrders | FilterKind::ExchangeMaxNumOrders => &["maxNumOrders"],
        FilterKind::MaxNumAlgoOrders | FilterKind::ExchangeMaxNumAlgoOrders => &["maxNumAlgoOrders"],
        FilterKind::MaxNumIcebergOrders | FilterKind::ExchangeMaxNumIcebergOrders => &["maxNumIcebergOrders"],
        FilterKind::MaxPosition => &["maxPosition"],
        FilterKind::TrailingDelta => {
            &["minTrailingAboveDelta", "maxTrailingAboveDelta", "minTrailingBelowDelta", "maxTrailingBelowDelta"]
        }
        FilterKind::MaxNumOrderAmends => &["maxNumOrderAmends"],
        FilterKind::MaxNumOrderLists | FilterKind::ExchangeMaxNumOrderLists => &["maxNumOrderLists"],
        FilterKind::MaxAsset => &["asset", "limit"],
    }
}

fn decode_known(kind: FilterKind, r: &FieldReader<'_>) -> Result<Filter, String> {
    Ok(match kind {
        FilterKind::PriceFilter => Filter::PriceFilter {
            min_price: r.dec("minPrice")?,
            max_price: r.dec("maxPrice")?,
            tick_size: r.dec("tickSize")?,
        },
        FilterKind::PercentPrice => Filter::PercentPrice {
            multiplier_up: r.dec("multiplierUp")?,
            multiplier_down: r.dec("multiplierDown")?,
            avg_price_mins: r.count("avgPriceMins")?,
        },
        FilterKind::PercentPriceBySide => Filter::PercentPriceBySide {
            bid_multiplier_up: r.dec("bidMultiplierUp")?,
            bid_multiplier_down: r.dec("bidMultiplierDown")?,
            ask_multiplier_up: r.dec("askMultiplierUp")?,
            ask_multiplier_down: r.dec("askMultiplierDown")?,
            avg_price_mins: r.count("avgPriceMins")?,
        },
        FilterKind::LotSize => {
            Filter::LotSize { min_qty: r.dec("minQty")?, max_qty: r.dec("maxQty")?, step_size: r.dec("stepSize")? }
        }
        FilterKind::MarketLotSize => Filter::MarketLotSize {
            min_qty: r.dec("minQty")?,
            max_qty: r.dec("maxQty")?,
            step_size: r.dec("stepSize")?,
        },
        FilterKind::MinNotional => Filter::MinNotional {
            min_notional: r.dec("minNotional")?,
            apply_to_market: r.flag("applyToMarket")?,
            avg_price_mins: r.count("avgPriceMins")?,
        },
        FilterKind::Notional => Filter::Notional {
            min_notional: r.dec("minNotional")?,
            apply_min_to_market: r.flag("applyMinToMarket")?,
            max_notional: r.dec("maxNotional")?,
            apply_max_to_market: r.flag("applyMaxToMarket")?,
            avg_price_mins: r.count("avgPriceMins")?,
        },
        FilterKind::IcebergParts => Filter::IcebergParts { limit: r.count("limit")? },
        FilterKind::MaxNumOrders => Filter::MaxNumOrders { max_num_orders: r.count("maxNumOrders")? },
        FilterKind::MaxNumAlgoOrders => Filter::MaxNumAlgoOrders { max_num_algo_orders: r.count("maxNumAlgoOrders")? },
        FilterKind::MaxNumIcebergOrders => {
            Filter::MaxNumIcebergOrders { max_num_iceberg_orders: r.count("maxNumIcebergOrders")? }
        }
        FilterKind::MaxPosition => Filter::MaxPosition { max_position: r.dec("maxPosition")? },
        FilterKind::TrailingDelta => Filter::TrailingDelta {
            min_trailing_above_delta: r.count("minTrailingAboveDelta")?,
            max_trailing_above_delta: r.count("maxTrailingAboveDelta")?,
            min_trailing_below_delta: r.count("minTrailingBelowDelta")?,
            max_trailing_below_delta: r.count("maxTrailingBelowDelta")?,
        },
        FilterKind::MaxNumOrderAmends => {
            Filter::MaxNumOrderAmends { max_num_order_amends: r.count("maxNumOrderAmends")? }
        }
        FilterKind::MaxNumOrderLists => Filter::MaxNumOrderLists { max_num_order_lists: r.count("maxNumOrderLists")? },
        FilterKind::ExchangeMaxNumOrders => Filter::ExchangeMaxNumOrders { max_num_orders: r.count("maxNumOrders")? },
        FilterKind::ExchangeMaxNumAlgoOrders => {
            Filter::ExchangeMaxNumAlgoOrders { max_num_algo_orders: r.count("maxNumAlgoOrders")? }
        }
        FilterKind::ExchangeMaxNumIcebergOrders => {
            Filter::ExchangeMaxNumIcebergOrders { max_num_iceberg_orders: r.count("maxNumIcebergOrders")? }
        }
        FilterKind::ExchangeMaxNumOrderLists => {
            Filter::ExchangeMaxNumOrderLists { max_num_order_lists: r.count("maxNumOrderLists")? }
        }
        FilterKind::MaxAsset => Filter::MaxAsset { asset: r.text("asset")?, limit: r.dec("limit")? },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(json: &str) -> (Filter, Vec<String>) {
        let v: Value = serde_json::from_str(json).unwrap_or(Value::Null);
        Filter::from_json_value(&v)
    }

    #[test]
    fn unknown_types_and_fields_are_kept() {
        let (f, extra) = decode(r#"{"filterType":"NEW_THING","x":1}"#);
        assert_eq!(f.filter_type(), "NEW_THING");
        assert!(matches!(f, Filter::Unknown { .. }));
        assert!(extra.is_empty());
        let (f, extra) = decode(r#"{"filterType":"ICEBERG_PARTS","limit":10,"newField":"1"}"#);
        assert_eq!(f, Filter::IcebergParts { limit: 10 });
        assert_eq!(extra, vec!["ICEBERG_PARTS.newField".to_string()]);
    }

    #[test]
    fn malformed_known_filters_are_kept_with_a_reason() {
        let (f, _) = decode(r#"{"filterType":"LOT_SIZE","minQty":0.001,"maxQty":"1","stepSize":"0.001"}"#);
        assert_eq!(
            f,
            Filter::Malformed { filter_type: "LOT_SIZE".into(), reason: "minQty: expected a decimal string".into() }
        );
        let (f, _) = decode(r#"{"filterType":"ICEBERG_PARTS","limit":-1}"#);
        assert!(matches!(f, Filter::Malformed { .. }));
        let (f, _) = decode(r#"{"filterType":"PRICE_FILTER","minPrice":"1e-8","maxPrice":"1","tickSize":"1"}"#);
        assert!(matches!(f, Filter::Malformed { .. }));
        let (f, _) = decode(r#"[1]"#);
        assert_eq!(f.filter_type(), UNNAMED_FILTER);
        let (f, _) = decode(r#"{"filturType":"LOT_SIZE"}"#);
        assert_eq!(
            f,
            Filter::Malformed {
                filter_type: UNNAMED_FILTER.into(),
                reason: "filterType is missing or not a string".into()
            }
        );
    }

    #[test]
    fn names_round_trip() {
        for k in FilterKind::ALL {
            assert_eq!(FilterKind::from_name(k.as_str()), Some(k));
        }
        assert_eq!(FilterKind::from_name("lot_size"), None);
    }
}
