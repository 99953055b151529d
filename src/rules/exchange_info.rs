//! `ExchangeInfo` and `SymbolRules`: the whole shape of `GET /api/v3/exchangeInfo` (SPEC §4).

use std::collections::HashMap;
use std::sync::Arc;

use rust_decimal::Decimal;
use serde_json::{Map, Value};

use super::fast::FastPlan;
use super::filter::Filter;
use crate::decode::DecodeError;
use crate::model::{OrderType, RateLimitInterval, RateLimitType, SelfTradePreventionMode, SymbolStatus};
use crate::num::Step;

/// One entry of `rateLimits`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimit {
    /// `rateLimitType`
    pub rate_limit_type: RateLimitType,
    /// `interval`
    pub interval: RateLimitInterval,
    /// `intervalNum`
    pub interval_num: u64,
    /// `limit`
    pub limit: u64,
}

impl RateLimit {
    /// The window length in milliseconds (`intervalNum` times the unit), `None` for an unknown
    /// unit or an overflow.
    #[must_use]
    pub fn window_millis(&self) -> Option<u64> {
        self.interval.millis()?.checked_mul(self.interval_num)
    }
}

/// One entry of `sors` (smart order routing groups).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sor {
    /// `baseAsset`
    pub base_asset: String,
    /// `symbols`
    pub symbols: Vec<String>,
}

/// A symbol entry that could not be decoded; the rest of the document still is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MalformedSymbol {
    /// Position in `symbols`.
    pub index: usize,
    /// The symbol's name, if it could be read.
    pub symbol: Option<String>,
    /// What was wrong.
    pub reason: String,
}

/// The trading rules of one symbol: its status, assets, precisions, allowed order types and
/// features, and its filters (in the order exchangeInfo lists them).
///
/// Get one from [`ExchangeInfo::symbol`]; build one by hand with [`SymbolRules::new`] and the
/// `with_*` methods (tests, simulations). Its [`validate`](SymbolRules::validate) and
/// [`normalize`](SymbolRules::normalize) are the only way to a
/// [`ValidatedOrder`](crate::ValidatedOrder).
#[derive(Debug, Clone, PartialEq)]
pub struct SymbolRules {
    pub(crate) symbol: String,
    pub(crate) status: SymbolStatus,
    pub(crate) base_asset: String,
    pub(crate) base_asset_precision: u32,
    pub(crate) quote_asset: String,
    pub(crate) quote_precision: u32,
    pub(crate) quote_asset_precision: u32,
    pub(crate) base_commission_precision: u32,
    pub(crate) quote_commission_precision: u32,
    pub(crate) order_types: Vec<OrderType>,
    pub(crate) iceberg_allowed: bool,
    pub(crate) oco_allowed: bool,
    pub(crate) oto_allowed: bool,
    pub(crate) opo_allowed: bool,
    pub(crate) quote_order_qty_market_allowed: bool,
    pub(crate) allow_trailing_stop: bool,
    pub(crate) cancel_replace_allowed: bool,
    pub(crate) amend_allowed: bool,
    pub(crate) peg_instructions_allowed: bool,
    pub(crate) is_spot_trading_allowed: bool,
    pub(crate) is_margin_trading_allowed: bool,
    pub(crate) permissions: Vec<String>,
    pub(crate) permission_sets: Vec<Vec<String>>,
    pub(crate) default_self_trade_prevention_mode: Option<SelfTradePreventionMode>,
    pub(crate) allowed_self_trade_prevention_modes: Vec<SelfTradePreventionMode>,
    pub(crate) filters: Vec<Filter>,
    pub(crate) exchange_filters: Arc<[Filter]>,
    pub(crate) asset_filters: Vec<Filter>,
    pub(crate) unknown_fields: Vec<String>,
    // Derived from the fields above for the hot path; rebuilt by `refresh_cache`.
    pub(crate) cache: RulesCache,
}

/// min / max / step of a PRICE_FILTER, LOT_SIZE or MARKET_LOT_SIZE, with the step prepared.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct Limits {
    pub(crate) min: Decimal,
    pub(crate) max: Decimal,
    pub(crate) step: Step,
}

/// What validation and rounding need without scanning the filters or re-deriving steps.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct RulesCache {
    /// One prepared step per entry of `filters` (disabled for filters without a step).
    pub(crate) filter_steps: Vec<Step>,
    pub(crate) price_filter: Option<Limits>,
    pub(crate) lot_size: Option<Limits>,
    pub(crate) market_lot_size: Option<Limits>,
    /// 10^-baseAssetPrecision and 10^-quoteAssetPrecision.
    pub(crate) base_step: Step,
    pub(crate) quote_step: Step,
    /// The fixed-point accelerator, when every value fits it.
    pub(crate) fast: Option<FastPlan>,
}

/// The members of an exchangeInfo symbol that Binance documents (rest-api.md "Exchange
/// information"), in the order Binance writes them. A symbol with other members still decodes
/// (they are reported in [`SymbolRules::unknown_fields`]).
///
/// ```
/// assert_eq!(aegis_exchange::SYMBOL_FIELDS.first(), Some(&"symbol"));
/// ```
pub const SYMBOL_FIELDS: &[&str] = &[
    "symbol",
    "status",
    "baseAsset",
    "baseAssetPrecision",
    "quoteAsset",
    "quotePrecision",
    "quoteAssetPrecision",
    "baseCommissionPrecision",
    "quoteCommissionPrecision",
    "orderTypes",
    "icebergAllowed",
    "ocoAllowed",
    "otoAllowed",
    "opoAllowed",
    "quoteOrderQtyMarketAllowed",
    "allowTrailingStop",
    "cancelReplaceAllowed",
    "amendAllowed",
    "pegInstructionsAllowed",
    "isSpotTradingAllowed",
    "isMarginTradingAllowed",
    "filters",
    "permissions",
    "permissionSets",
    "defaultSelfTradePreventionMode",
    "allowedSelfTradePreventionModes",
];

/// The largest precision (decimal places) a [`Decimal`] can hold.
const MAX_PRECISION: u64 = 28;

impl SymbolRules {
    /// A TRADING symbol with every order type and feature allowed, precisions of 8, and no
    /// filters: add them with [`with_filter`](Self::with_filter).
    ///
    /// ```
    /// use aegis_exchange::{Filter, SymbolRules};
    /// use rust_decimal_macros::dec;
    /// let rules = SymbolRules::new("BTCUSDT", "BTC", "USDT").with_filter(Filter::LotSize {
    ///     min_qty: dec!(0.00001), max_qty: dec!(9000), step_size: dec!(0.00001),
    /// });
    /// assert_eq!(rules.filters().len(), 1);
    /// ```
    #[must_use]
    pub fn new(symbol: impl Into<String>, base_asset: impl Into<String>, quote_asset: impl Into<String>) -> Self {
        Self {
            symbol: symbol.into(),
            status: SymbolStatus::Trading,
            base_asset: base_asset.into(),
            base_asset_precision: 8,
            quote_asset: quote_asset.into(),
            quote_precision: 8,
            quote_asset_precision: 8,
            base_commission_precision: 8,
            quote_commission_precision: 8,
            order_types: OrderType::ALL.to_vec(),
            iceberg_allowed: true,
            oco_allowed: true,
            oto_allowed: true,
            opo_allowed: true,
            quote_order_qty_market_allowed: true,
            allow_trailing_stop: true,
            cancel_replace_allowed: true,
            amend_allowed: true,
            peg_instructions_allowed: true,
            is_spot_trading_allowed: true,
            is_margin_trading_allowed: false,
            permissions: Vec::new(),
            permission_sets: vec![vec!["SPOT".to_owned()]],
            default_self_trade_prevention_mode: Some(SelfTradePreventionMode::None),
            allowed_self_trade_prevention_modes: SelfTradePreventionMode::ALL.to_vec(),
            filters: Vec::new(),
            exchange_filters: Arc::from(Vec::new()),
            asset_filters: Vec::new(),
            unknown_fields: Vec::new(),
            cache: RulesCache::default(),
        }
        .refreshed()
    }

    fn refreshed(mut self) -> Self {
        self.refresh_cache();
        self
    }

    /// Appends a symbol filter (applied in the order added).
    #[must_use]
    pub fn with_filter(mut self, filter: Filter) -> Self {
        self.filters.push(filter);
        self.refresh_cache();
        self
    }

    /// Appends an exchange filter (EXCHANGE_MAX_NUM_*).
    #[must_use]
    pub fn with_exchange_filter(mut self, filter: Filter) -> Self {
        let mut all = self.exchange_filters.to_vec();
        all.push(filter);
        self.exchange_filters = Arc::from(all);
        self.refresh_cache();
        self
    }

    /// Appends an asset filter (MAX_ASSET, from `GET /api/v3/myFilters`).
    #[must_use]
    pub fn with_asset_filter(mut self, filter: Filter) -> Self {
        self.asset_filters.push(filter);
        self.refresh_cache();
        self
    }

    /// Sets the trading status.
    #[must_use]
    pub fn with_status(mut self, status: SymbolStatus) -> Self {
        self.status = status;
        self.refresh_cache();
        self
    }

    /// Sets the allowed order types.
    #[must_use]
    pub fn with_order_types(mut self, order_types: Vec<OrderType>) -> Self {
        self.order_types = order_types;
        self.refresh_cache();
        self
    }

    /// Sets `baseAssetPrecision` and `quoteAssetPrecision` (decimal places).
    #[must_use]
    pub fn with_precisions(mut self, base: u32, quote: u32) -> Self {
        self.base_asset_precision = base.min(MAX_PRECISION as u32);
        self.quote_asset_precision = quote.min(MAX_PRECISION as u32);
        self.quote_precision = self.quote_asset_precision;
        self.refresh_cache();
        self
    }

    /// Sets the feature flags `icebergAllowed`, `quoteOrderQtyMarketAllowed`, `allowTrailingStop`.
    #[must_use]
    pub fn with_features(mut self, iceberg: bool, quote_order_qty_market: bool, trailing_stop: bool) -> Self {
        self.iceberg_allowed = iceberg;
        self.quote_order_qty_market_allowed = quote_order_qty_market;
        self.allow_trailing_stop = trailing_stop;
        self.refresh_cache();
        self
    }

    pub(crate) fn refresh_cache(&mut self) {
        let mut cache = RulesCache {
            filter_steps: Vec::with_capacity(self.filters.len()),
            base_step: Step::new(Decimal::new(1, self.base_asset_precision)),
            quote_step: Step::new(Decimal::new(1, self.quote_asset_precision)),
            ..RulesCache::default()
        };
        for f in &self.filters {
            let limits = match *f {
                Filter::PriceFilter { min_price, max_price, tick_size } => {
                    let l = Limits { min: min_price, max: max_price, step: Step::new(tick_size) };
                    cache.price_filter.get_or_insert(l);
                    l
                }
                Filter::LotSize { min_qty, max_qty, step_size } => {
                    let l = Limits { min: min_qty, max: max_qty, step: Step::new(step_size) };
                    cache.lot_size.get_or_insert(l);
                    l
                }
                Filter::MarketLotSize { min_qty, max_qty, step_size } => {
                    let l = Limits { min: min_qty, max: max_qty, step: Step::new(step_size) };
                    cache.market_lot_size.get_or_insert(l);
                    l
                }
                _ => Limits::default(),
            };
            cache.filter_steps.push(limits.step);
        }
        self.cache = cache;
        self.cache.fast = FastPlan::build(self);
    }

    /// `symbol`
    #[must_use]
    pub fn symbol(&self) -> &str {
        &self.symbol
    }
    /// `status`
    #[must_use]
    pub fn status(&self) -> &SymbolStatus {
        &self.status
    }
    /// `baseAsset`
    #[must_use]
    pub fn base_asset(&self) -> &str {
        &self.base_asset
    }
    /// `quoteAsset`
    #[must_use]
    pub fn quote_asset(&self) -> &str {
        &self.quote_asset
    }
    /// `baseAssetPrecision`: decimals allowed on base-asset amounts.
    #[must_use]
    pub fn base_asset_precision(&self) -> u32 {
        self.base_asset_precision
    }
    /// `quoteAssetPrecision`: decimals allowed on quote-asset amounts.
    #[must_use]
    pub fn quote_asset_precision(&self) -> u32 {
        self.quote_asset_precision
    }
    /// `quotePrecision` (deprecated by Binance in favour of `quoteAssetPrecision`).
    #[must_use]
    pub fn quote_precision(&self) -> u32 {
        self.quote_precision
    }
    /// `baseCommissionPrecision`
    #[must_use]
    pub fn base_commission_precision(&self) -> u32 {
        self.base_commission_precision
    }
    /// `quoteCommissionPrecision`
    #[must_use]
    pub fn quote_commission_precision(&self) -> u32 {
        self.quote_commission_precision
    }
    /// `orderTypes`
    #[must_use]
    pub fn order_types(&self) -> &[OrderType] {
        &self.order_types
    }
    /// `icebergAllowed` (false when absent).
    #[must_use]
    pub fn iceberg_allowed(&self) -> bool {
        self.iceberg_allowed
    }
    /// `ocoAllowed` (false when absent).
    #[must_use]
    pub fn oco_allowed(&self) -> bool {
        self.oco_allowed
    }
    /// `otoAllowed` (false when absent).
    #[must_use]
    pub fn oto_allowed(&self) -> bool {
        self.oto_allowed
    }
    /// `opoAllowed` (false when absent).
    #[must_use]
    pub fn opo_allowed(&self) -> bool {
        self.opo_allowed
    }
    /// `quoteOrderQtyMarketAllowed` (false when absent).
    #[must_use]
    pub fn quote_order_qty_market_allowed(&self) -> bool {
        self.quote_order_qty_market_allowed
    }
    /// `allowTrailingStop` (false when absent).
    #[must_use]
    pub fn allow_trailing_stop(&self) -> bool {
        self.allow_trailing_stop
    }
    /// `cancelReplaceAllowed` (false when absent).
    #[must_use]
    pub fn cancel_replace_allowed(&self) -> bool {
        self.cancel_replace_allowed
    }
    /// `amendAllowed` (false when absent).
    #[must_use]
    pub fn amend_allowed(&self) -> bool {
        self.amend_allowed
    }
    /// `pegInstructionsAllowed` (false when absent).
    #[must_use]
    pub fn peg_instructions_allowed(&self) -> bool {
        self.peg_instructions_allowed
    }
    /// `isSpotTradingAllowed` (false when absent).
    #[must_use]
    pub fn is_spot_trading_allowed(&self) -> bool {
        self.is_spot_trading_allowed
    }
    /// `isMarginTradingAllowed` (false when absent).
    #[must_use]
    pub fn is_margin_trading_allowed(&self) -> bool {
        self.is_margin_trading_allowed
    }
    /// `permissions` (always empty since 2024-04; see `permission_sets`).
    #[must_use]
    pub fn permissions(&self) -> &[String] {
        &self.permissions
    }
    /// `permissionSets`: an AND of ORs.
    #[must_use]
    pub fn permission_sets(&self) -> &[Vec<String>] {
        &self.permission_sets
    }
    /// `defaultSelfTradePreventionMode`
    #[must_use]
    pub fn default_self_trade_prevention_mode(&self) -> Option<&SelfTradePreventionMode> {
        self.default_self_trade_prevention_mode.as_ref()
    }
    /// `allowedSelfTradePreventionModes`
    #[must_use]
    pub fn allowed_self_trade_prevention_modes(&self) -> &[SelfTradePreventionMode] {
        &self.allowed_self_trade_prevention_modes
    }
    /// The symbol's filters, in exchangeInfo order.
    #[must_use]
    pub fn filters(&self) -> &[Filter] {
        &self.filters
    }
    /// The exchange-wide filters that apply to this symbol too.
    #[must_use]
    pub fn exchange_filters(&self) -> &[Filter] {
        &self.exchange_filters
    }
    /// The MAX_ASSET filters that apply to this symbol's assets.
    #[must_use]
    pub fn asset_filters(&self) -> &[Filter] {
        &self.asset_filters
    }
    /// Filter types this crate does not know, in order: a strict caller refuses to trade them.
    pub fn unknown_filters(&self) -> impl Iterator<Item = &str> {
        self.filters.iter().filter(|f| matches!(f, Filter::Unknown { .. })).map(Filter::filter_type)
    }
    /// Known filters whose fields could not be read: validation always refuses these symbols.
    pub fn malformed_filters(&self) -> impl Iterator<Item = &Filter> {
        self.filters.iter().filter(|f| matches!(f, Filter::Malformed { .. }))
    }
    /// Fields this crate does not know, on the symbol (`newFlag`) or in a filter
    /// (`LOT_SIZE.newField`).
    #[must_use]
    pub fn unknown_fields(&self) -> &[String] {
        &self.unknown_fields
    }
    /// Whether every filter and field is known and readable: what a strict caller requires.
    #[must_use]
    pub fn is_fully_understood(&self) -> bool {
        self.unknown_fields.is_empty()
            && self.filters.iter().chain(self.exchange_filters.iter()).all(|f| f.kind().is_some())
    }

    /// Decodes one symbol object of exchangeInfo. Unknown fields and filters are kept and
    /// listed; only the essentials (name, status, assets, precisions, order types, filters)
    /// are required.
    ///
    /// # Errors
    /// [`DecodeError::Shape`] when an essential field is missing or of the wrong type.
    pub fn from_json_value(value: &Value, exchange_filters: Arc<[Filter]>) -> Result<Self, DecodeError> {
        let obj = value.as_object().ok_or_else(|| shape("symbols[]", "an object"))?;
        let text = |k: &'static str| -> Result<String, DecodeError> {
            obj.get(k).and_then(Value::as_str).map(str::to_owned).ok_or_else(|| shape(k, "a string"))
        };
        let precision = |k: &'static str| -> Result<u32, DecodeError> {
            obj.get(k)
                .and_then(Value::as_u64)
                .filter(|p| *p <= MAX_PRECISION)
                .and_then(|p| u32::try_from(p).ok())
                .ok_or_else(|| shape(k, "an integer from 0 to 28"))
        };
        let optional_precision = |k: &'static str, default: u32| -> Result<u32, DecodeError> {
            if obj.contains_key(k) { precision(k) } else { Ok(default) }
        };
        let flag = |k: &'static str| obj.get(k).and_then(Value::as_bool).unwrap_or(false);
        let strings = |v: &Value| -> Option<Vec<String>> {
            v.as_array()?.iter().map(|s| s.as_str().map(str::to_owned)).collect()
        };

        let symbol = text("symbol")?;
        let status = SymbolStatus::from_wire(&text("status")?);
        let base_asset = text("baseAsset")?;
        let quote_asset = text("quoteAsset")?;
        let base_asset_precision = precision("baseAssetPrecision")?;
        let quote_asset_precision = match obj.get("quoteAssetPrecision") {
            Some(_) => precision("quoteAssetPrecision")?,
            None => precision("quotePrecision")?,
        };
        let order_types = obj
            .get("orderTypes")
            .and_then(strings)
            .ok_or_else(|| shape("orderTypes", "an array of strings"))?
            .iter()
            .map(|s| OrderType::from_wire(s))
            .collect();
        let raw_filters = obj.get("filters").and_then(Value::as_array).ok_or_else(|| shape("filters", "an array"))?;

        let mut unknown_fields: Vec<String> =
            obj.keys().filter(|k| !SYMBOL_FIELDS.contains(&k.as_str())).cloned().collect();
        let mut filters = Vec::with_capacity(raw_filters.len());
        for raw in raw_filters {
            let (filter, extra) = Filter::from_json_value(raw);
            unknown_fields.extend(extra);
            filters.push(filter);
        }
        let permission_sets = match obj.get("permissionSets") {
            Some(v) => v
                .as_array()
                .and_then(|sets| sets.iter().map(strings).collect::<Option<Vec<_>>>())
                .ok_or_else(|| shape("permissionSets", "an array of arrays of strings"))?,
            None => Vec::new(),
        };
        let mut rules = Self {
            symbol,
            status,
            base_asset,
            base_asset_precision,
            quote_asset,
            quote_precision: optional_precision("quotePrecision", quote_asset_precision)?,
            quote_asset_precision,
            base_commission_precision: optional_precision("baseCommissionPrecision", base_asset_precision)?,
            quote_commission_precision: optional_precision("quoteCommissionPrecision", quote_asset_precision)?,
            order_types,
            iceberg_allowed: flag("icebergAllowed"),
            oco_allowed: flag("ocoAllowed"),
            oto_allowed: flag("otoAllowed"),
            opo_allowed: flag("opoAllowed"),
            quote_order_qty_market_allowed: flag("quoteOrderQtyMarketAllowed"),
            allow_trailing_stop: flag("allowTrailingStop"),
            cancel_replace_allowed: flag("cancelReplaceAllowed"),
            amend_allowed: flag("amendAllowed"),
            peg_instructions_allowed: flag("pegInstructionsAllowed"),
            is_spot_trading_allowed: flag("isSpotTradingAllowed"),
            is_margin_trading_allowed: flag("isMarginTradingAllowed"),
            permissions: obj.get("permissions").and_then(strings).unwrap_or_default(),
            permission_sets,
            default_self_trade_prevention_mode: obj
                .get("defaultSelfTradePreventionMode")
                .and_then(Value::as_str)
                .map(SelfTradePreventionMode::from_wire),
            allowed_self_trade_prevention_modes: obj
                .get("allowedSelfTradePreventionModes")
                .and_then(strings)
                .unwrap_or_default()
                .iter()
                .map(|s| SelfTradePreventionMode::from_wire(s))
                .collect(),
            filters,
            exchange_filters,
            asset_filters: Vec::new(),
            unknown_fields,
            cache: RulesCache::default(),
        };
        rules.refresh_cache();
        Ok(rules)
    }
}

fn shape(path: &str, expected: &'static str) -> DecodeError {
    DecodeError::Shape { path: path.to_owned(), expected }
}

/// The response of `GET /api/v3/exchangeInfo`: rate limits, exchange filters and every
/// symbol's rules.
///
/// Decoding never fails on an unknown filter type, an unknown field or a new enum value; those
/// are kept and listed so a strict caller can refuse to trade what it cannot check. A symbol
/// entry whose essentials cannot be read is set aside in
/// [`malformed_symbols`](Self::malformed_symbols) without failing the others.
///
/// ```
/// use aegis_exchange::ExchangeInfo;
/// let info = ExchangeInfo::from_json(aegis_exchange::BUNDLED_EXCHANGE_INFO).unwrap();
/// let btc = info.symbol("BTCUSDT").unwrap();
/// assert_eq!(btc.base_asset(), "BTC");
/// assert!(info.symbol("NOPE").is_none());
/// ```
///
/// `ExchangeInfo::default()` is an empty one: no symbols, no rate limits.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExchangeInfo {
    timezone: Option<String>,
    server_time: Option<i64>,
    rate_limits: Vec<RateLimit>,
    exchange_filters: Arc<[Filter]>,
    symbols: Vec<SymbolRules>,
    index: HashMap<String, usize>,
    sors: Vec<Sor>,
    malformed_symbols: Vec<MalformedSymbol>,
    unknown_fields: Vec<String>,
    warnings: Vec<String>,
}

const TOP_FIELDS: &[&str] = &["timezone", "serverTime", "rateLimits", "exchangeFilters", "symbols", "sors"];

impl ExchangeInfo {
    /// Decodes an exchangeInfo response body. A WebSocket-API envelope
    /// (`{"id","status","result":{...}}`) is accepted too and unwrapped.
    ///
    /// # Errors
    /// [`DecodeError::Json`] for bytes that are not JSON; [`DecodeError::Shape`] when the
    /// document is not an object or has no `symbols` array.
    pub fn from_json(bytes: &[u8]) -> Result<Self, DecodeError> {
        let root: Value = serde_json::from_slice(bytes)?;
        let mut obj = root.as_object().ok_or_else(|| shape("$", "an object"))?;
        if !obj.contains_key("symbols")
            && let Some(result) = obj.get("result").and_then(Value::as_object)
        {
            obj = result;
        }
        Self::from_object(obj)
    }

    fn from_object(obj: &Map<String, Value>) -> Result<Self, DecodeError> {
        let mut warnings = Vec::new();
        let raw_symbols = obj.get("symbols").and_then(Value::as_array).ok_or_else(|| shape("symbols", "an array"))?;

        let mut rate_limits = Vec::new();
        if let Some(raw) = obj.get("rateLimits") {
            match raw.as_array() {
                Some(entries) => {
                    for (i, e) in entries.iter().enumerate() {
                        match decode_rate_limit(e) {
                            Some(rl) => rate_limits.push(rl),
                            None => warnings.push(format!("rateLimits[{i}] could not be read and was skipped")),
                        }
                    }
                }
                None => warnings.push("rateLimits is not an array and was ignored".to_owned()),
            }
        }

        let mut unknown_fields: Vec<String> =
            obj.keys().filter(|k| !TOP_FIELDS.contains(&k.as_str())).cloned().collect();
        let mut exchange_filters = Vec::new();
        if let Some(raw) = obj.get("exchangeFilters") {
            match raw.as_array() {
                Some(entries) => {
                    for e in entries {
                        let (f, extra) = Filter::from_json_value(e);
                        unknown_fields.extend(extra.into_iter().map(|x| format!("exchangeFilters.{x}")));
                        exchange_filters.push(f);
                    }
                }
                None => warnings.push("exchangeFilters is not an array and was ignored".to_owned()),
            }
        }
        let exchange_filters: Arc<[Filter]> = Arc::from(exchange_filters);

        let mut symbols = Vec::with_capacity(raw_symbols.len());
        let mut index = HashMap::with_capacity(raw_symbols.len());
        let mut malformed_symbols = Vec::new();
        for (i, raw) in raw_symbols.iter().enumerate() {
            let name = raw.get("symbol").and_then(Value::as_str).map(str::to_owned);
            match SymbolRules::from_json_value(raw, Arc::clone(&exchange_filters)) {
                Ok(rules) => {
                    if index.contains_key(&rules.symbol) {
                        warnings.push(format!("symbols[{i}]: duplicate symbol {} ignored", rules.symbol));
                        continue;
                    }
                    index.insert(rules.symbol.clone(), symbols.len());
                    symbols.push(rules);
                }
                Err(e) => malformed_symbols.push(MalformedSymbol { index: i, symbol: name, reason: e.to_string() }),
            }
        }

        let sors = obj
            .get("sors")
            .and_then(Value::as_array)
            .map(|entries| {
                entries
                    .iter()
                    .filter_map(|e| {
                        Some(Sor {
                            base_asset: e.get("baseAsset")?.as_str()?.to_owned(),
                            symbols: e
                                .get("symbols")?
                                .as_array()?
                                .iter()
                                .map(|s| s.as_str().map(str::to_owned))
                                .collect::<Option<_>>()?,
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();

        Ok(Self {
            timezone: obj.get("timezone").and_then(Value::as_str).map(str::to_owned),
            server_time: obj.get("serverTime").and_then(Value::as_i64),
            rate_limits,
            exchange_filters,
            symbols,
            index,
            sors,
            malformed_symbols,
            unknown_fields,
            warnings,
        })
    }

    /// The rules of `symbol`, if listed.
    #[must_use]
    pub fn symbol(&self, symbol: &str) -> Option<&SymbolRules> {
        self.index.get(symbol).and_then(|&i| self.symbols.get(i))
    }
    /// The rules of `symbol` with their position in [`symbols`](Self::symbols) (a key for
    /// per-symbol caches), if listed.
    #[must_use]
    pub fn symbol_entry(&self, symbol: &str) -> Option<(usize, &SymbolRules)> {
        self.index.get(symbol).and_then(|&i| self.symbols.get(i).map(|rules| (i, rules)))
    }
    /// Every decoded symbol, in document order.
    #[must_use]
    pub fn symbols(&self) -> &[SymbolRules] {
        &self.symbols
    }
    /// `timezone`
    #[must_use]
    pub fn timezone(&self) -> Option<&str> {
        self.timezone.as_deref()
    }
    /// `serverTime` (ms).
    #[must_use]
    pub fn server_time(&self) -> Option<i64> {
        self.server_time
    }
    /// `rateLimits`
    #[must_use]
    pub fn rate_limits(&self) -> &[RateLimit] {
        &self.rate_limits
    }
    /// `exchangeFilters`
    #[must_use]
    pub fn exchange_filters(&self) -> &[Filter] {
        &self.exchange_filters
    }
    /// `sors`
    #[must_use]
    pub fn sors(&self) -> &[Sor] {
        &self.sors
    }
    /// Symbol entries that could not be decoded.
    #[must_use]
    pub fn malformed_symbols(&self) -> &[MalformedSymbol] {
        &self.malformed_symbols
    }
    /// Top-level fields (and exchange-filter fields) this crate does not know.
    #[must_use]
    pub fn unknown_fields(&self) -> &[String] {
        &self.unknown_fields
    }
    /// Parts of the document that were skipped (unreadable rate limits, duplicate symbols).
    #[must_use]
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Attaches the MAX_ASSET filters of a `GET /api/v3/myFilters` response (or any list of
    /// filters; others are ignored) to every symbol whose base or quote asset they name.
    pub fn apply_asset_filters(&mut self, filters: &[Filter]) {
        for rules in &mut self.symbols {
            rules.asset_filters = filters
                .iter()
                .filter(|f| match f {
                    Filter::MaxAsset { asset, .. } => *asset == rules.base_asset || *asset == rules.quote_asset,
                    _ => false,
                })
                .cloned()
                .collect();
            rules.refresh_cache();
        }
    }
}

fn decode_rate_limit(v: &Value) -> Option<RateLimit> {
    Some(RateLimit {
        rate_limit_type: RateLimitType::from_wire(v.get("rateLimitType")?.as_str()?),
        interval: RateLimitInterval::from_wire(v.get("interval")?.as_str()?),
        interval_num: v.get("intervalNum")?.as_u64()?,
        limit: v.get("limit")?.as_u64()?,
    })
}
