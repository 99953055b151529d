//! `validate` and `normalize`: every filter's exact rule, and the rounding that makes an order
//! pass them without ever enlarging it.

use rust_decimal::Decimal;

use super::context::{MarketContext, NormalizeOptions};
use super::exchange_info::{Limits, SymbolRules};
use super::filter::{Filter, FilterKind};
use crate::model::{
    ListLeg, ListRequest, OcoRequest, OrderError, OrderRequest, OrderType, PendingLegs, SelfTradePreventionMode, Side,
    SymbolStatus, within_wire_range,
};
use std::cmp::Ordering;

use crate::num::{Rounding, Step, cmp, cmp_product, is_positive};

#[inline]
fn lt(a: Decimal, b: Decimal) -> bool {
    cmp(a, b).is_lt()
}

#[inline]
fn gt(a: Decimal, b: Decimal) -> bool {
    cmp(a, b).is_gt()
}

/// `a × b`, compared exactly without being computed; computed only to report a failure.
#[derive(Clone, Copy)]
struct Product(Decimal, Decimal);

impl Product {
    fn cmp(self, c: Decimal) -> Ordering {
        cmp_product(self.0, self.1, c).unwrap_or_else(|| match self.0.checked_mul(self.1) {
            Some(p) => cmp(p, c),
            // Beyond Decimal's range: larger than any bound.
            None => Ordering::Greater,
        })
    }

    /// A failure of `filter` with this product as the offending value.
    fn fail(self, filter: FilterKind, parameter: &'static str, violation: Violation, bound: Decimal) -> FilterError {
        match self.0.checked_mul(self.1) {
            Some(value) => fail(filter, parameter, violation, value, bound),
            None => fail(filter, parameter, Violation::Overflow, self.0, self.1),
        }
    }
}

/// Which rule of a filter an order broke.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Violation {
    /// The value is below the filter's minimum (`bound` is the minimum).
    BelowMinimum,
    /// The value is above the filter's maximum (`bound` is the maximum).
    AboveMaximum,
    /// The value is not a multiple of the filter's step (`bound` is the step).
    NotAMultipleOfStep,
    /// Computing the checked quantity (a notional, a position) left the range of `Decimal`.
    Overflow,
}

/// Why an order was refused before it could leave the process.
///
/// A filter failure displays exactly as Binance's `-1013` message (`Filter failure: LOT_SIZE`)
/// and [`filter_type`](Self::filter_type) returns Binance's filter name; the other refusals
/// display as the exchange's own message for that case, with its [`code`](Self::code). Every
/// variant carries what a log or a test needs: the parameter, the offending value, the bound.
///
/// ```
/// use aegis_exchange::{FilterError, FilterKind, Violation};
/// use rust_decimal_macros::dec;
/// let e = FilterError::Filter {
///     filter: FilterKind::LotSize, parameter: "quantity",
///     violation: Violation::BelowMinimum, value: dec!(0.000001), bound: dec!(0.00001),
/// };
/// assert_eq!(e.to_string(), "Filter failure: LOT_SIZE");
/// assert_eq!(e.filter_type(), "LOT_SIZE");
/// assert_eq!(e.code(), -1013);
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// The order is malformed for its type before any symbol rule applies.
    #[error(transparent)]
    Parameter(#[from] OrderError),
    /// The order names another symbol than these rules (-1121).
    #[error("Invalid symbol.")]
    SymbolMismatch {
        /// The rules' symbol.
        expected: String,
        /// The order's symbol.
        got: String,
    },
    /// The symbol's status does not accept new orders (BREAK, HALT, CANCEL_ONLY, ...) (-2010).
    #[error("This order type is not possible in this trading phase.")]
    SymbolNotTrading {
        /// The symbol's status.
        status: SymbolStatus,
    },
    /// `isSpotTradingAllowed` is false (-2010).
    #[error("This symbol is not permitted for this account.")]
    SpotTradingNotAllowed,
    /// The order type is not in the symbol's `orderTypes` (-2010).
    #[error("{}", order_type_not_supported(order_type))]
    OrderTypeNotAllowed {
        /// The refused type.
        order_type: OrderType,
    },
    /// `icebergQty` on a symbol without `icebergAllowed` (-2010).
    #[error("Iceberg orders are not supported for this symbol.")]
    IcebergNotAllowed,
    /// `quoteOrderQty` on a symbol without `quoteOrderQtyMarketAllowed` (-2010).
    #[error("Quote order qty market orders are not support for this symbol.")]
    QuoteOrderQtyNotAllowed,
    /// `trailingDelta` on a symbol without `allowTrailingStop` (-2010).
    #[error("Trailing stop orders are not supported for this symbol.")]
    TrailingStopNotAllowed,
    /// `pegPriceType` on a symbol without `pegInstructionsAllowed` (-2010).
    #[error("Pegged orders are not supported for this symbol.")]
    PegNotAllowed,
    /// An OCO on a symbol without `ocoAllowed` (-2010).
    #[error("OCO orders are not supported for this symbol")]
    OcoNotAllowed,
    /// An OCO whose legs are not one `LIMIT_MAKER` / `TAKE_PROFIT` / `TAKE_PROFIT_LIMIT` and one
    /// `STOP_LOSS` / `STOP_LOSS_LIMIT`, or whose above leg is not the profit leg of a SELL (the
    /// stop of a BUY) (-2010).
    #[error("Unsupported order combination")]
    UnsupportedListCombination {
        /// The above leg's type.
        above: OrderType,
        /// The below leg's type.
        below: OrderType,
    },
    /// An OCO's prices are not on their sides of the last price: SELL `above > last > below`,
    /// BUY the same with the stop above (-2010).
    #[error("The relationship of the prices for the orders is not correct.")]
    ListPriceRelation {
        /// The above leg's price (its limit price, or its stop price).
        above: Decimal,
        /// The last price.
        last: Decimal,
        /// The below leg's price.
        below: Decimal,
    },
    /// An OTO / OTOCO on a symbol without `otoAllowed` (-2010).
    #[error("OTO orders are not supported for this symbol.")]
    OtoNotAllowed,
    /// An OPO / OPOCO on a symbol without `opoAllowed` (-2010).
    #[error("OPO orders are not supported for this symbol.")]
    OpoNotAllowed,
    /// An OPO's working order is not a BUY (-1222).
    #[error("Working order in an OPO list must be a bid.")]
    OpoWorkingMustBeBuy,
    /// An OPO's pending orders are not SELLs (-1223).
    #[error("Pending orders in an OPO list must be asks.")]
    OpoPendingMustBeSell,
    /// An OTO's working order is neither `LIMIT` nor `LIMIT_MAKER` (-2010).
    #[error("Unsupported order combination")]
    UnsupportedWorkingType {
        /// The working order's type.
        order_type: OrderType,
    },
    /// Too many open order lists on the symbol (MAX_NUM_ORDER_LISTS) or the account
    /// (EXCHANGE_MAX_NUM_ORDER_LISTS) (-1013).
    #[error("Filter failure: {}", filter.as_str())]
    TooManyOrderLists {
        /// `MAX_NUM_ORDER_LISTS` or `EXCHANGE_MAX_NUM_ORDER_LISTS`.
        filter: FilterKind,
        /// Open lists, this one included.
        open: u64,
        /// The most allowed.
        max: u64,
    },
    /// Strict mode: an OCO's price relation needs the last price, which was not given.
    #[error("The relationship of the prices for the orders is not correct. (market context missing: the last price)")]
    MissingLastPrice,
    /// A self-trade prevention mode outside `allowedSelfTradePreventionModes` (-1013).
    #[error("Invalid selfTradePreventionMode.")]
    SelfTradePreventionModeNotAllowed {
        /// The refused mode.
        mode: SelfTradePreventionMode,
    },
    /// More decimals than the asset allows (-1111).
    #[error("Parameter '{parameter}' has too much precision.")]
    TooMuchPrecision {
        /// The parameter's wire name.
        parameter: &'static str,
        /// The offending value.
        value: Decimal,
        /// The decimals allowed.
        max_decimals: u32,
    },
    /// A filter's rule failed (-1013).
    #[error("Filter failure: {}", filter.as_str())]
    Filter {
        /// The filter.
        filter: FilterKind,
        /// The parameter checked (`quantity`, `price`, `notional`, `openOrders`, ...).
        parameter: &'static str,
        /// Which rule.
        violation: Violation,
        /// The offending value.
        value: Decimal,
        /// The bound it broke.
        bound: Decimal,
    },
    /// The symbol carries a known filter that exchangeInfo did not let us read: never traded.
    #[error("Filter failure: {filter_type} (unreadable in exchangeInfo: {reason})")]
    MalformedFilter {
        /// The filter's name.
        filter_type: String,
        /// Why it could not be read.
        reason: String,
    },
    /// Strict mode: the symbol carries a filter type this crate does not know.
    #[error("Filter failure: {filter_type} (unknown filter type, refused in strict mode)")]
    UnknownFilter {
        /// The filter's name as sent.
        filter_type: String,
    },
    /// Strict mode: the market context a filter needs was not given.
    #[error("Filter failure: {} (market context missing, refused in strict mode)", filter.as_str())]
    MissingContext {
        /// The filter that could not be checked.
        filter: FilterKind,
    },
}

fn order_type_not_supported(t: &OrderType) -> &'static str {
    match t {
        OrderType::Market => "Market orders are not supported for this symbol.",
        OrderType::StopLoss => "Stop loss orders are not supported for this symbol.",
        OrderType::StopLossLimit => "Stop loss limit orders are not supported for this symbol.",
        OrderType::TakeProfit => "Take profit orders are not supported for this symbol.",
        OrderType::TakeProfitLimit => "Take profit limit orders are not supported for this symbol.",
        _ => "Unsupported order combination",
    }
}

impl FilterError {
    /// Binance's filter name for a filter failure (`"LOT_SIZE"`); for the other refusals,
    /// Binance's name of the error code (`"BAD_PRECISION"`, `"NEW_ORDER_REJECTED"`, ...).
    #[must_use]
    pub fn filter_type(&self) -> &str {
        match self {
            FilterError::Filter { filter, .. }
            | FilterError::MissingContext { filter }
            | FilterError::TooManyOrderLists { filter, .. } => filter.as_str(),
            FilterError::OpoWorkingMustBeBuy => "OPO_WORKING_MUST_BE_BUY",
            FilterError::OpoPendingMustBeSell => "OPO_PENDING_MUST_BE_SELL",
            FilterError::MalformedFilter { filter_type, .. } | FilterError::UnknownFilter { filter_type } => {
                filter_type
            }
            FilterError::Parameter(e) => e.code_name(),
            FilterError::SymbolMismatch { .. } => "BAD_SYMBOL",
            FilterError::TooMuchPrecision { .. } => "BAD_PRECISION",
            FilterError::SelfTradePreventionModeNotAllowed { .. } => "INVALID_MESSAGE",
            FilterError::SymbolNotTrading { .. }
            | FilterError::SpotTradingNotAllowed
            | FilterError::OrderTypeNotAllowed { .. }
            | FilterError::IcebergNotAllowed
            | FilterError::QuoteOrderQtyNotAllowed
            | FilterError::TrailingStopNotAllowed
            | FilterError::PegNotAllowed
            | FilterError::OcoNotAllowed
            | FilterError::OtoNotAllowed
            | FilterError::OpoNotAllowed
            | FilterError::UnsupportedWorkingType { .. }
            | FilterError::UnsupportedListCombination { .. }
            | FilterError::ListPriceRelation { .. }
            | FilterError::MissingLastPrice => "NEW_ORDER_REJECTED",
        }
    }

    /// The error code Binance answers the same order with.
    #[must_use]
    pub fn code(&self) -> i32 {
        match self {
            FilterError::Parameter(e) => e.code(),
            FilterError::SymbolMismatch { .. } => -1121,
            FilterError::TooMuchPrecision { .. } => -1111,
            FilterError::SymbolNotTrading { .. }
            | FilterError::SpotTradingNotAllowed
            | FilterError::OrderTypeNotAllowed { .. }
            | FilterError::IcebergNotAllowed
            | FilterError::QuoteOrderQtyNotAllowed
            | FilterError::TrailingStopNotAllowed
            | FilterError::PegNotAllowed
            | FilterError::OcoNotAllowed
            | FilterError::OtoNotAllowed
            | FilterError::OpoNotAllowed
            | FilterError::UnsupportedWorkingType { .. }
            | FilterError::UnsupportedListCombination { .. }
            | FilterError::ListPriceRelation { .. }
            | FilterError::MissingLastPrice => -2010,
            FilterError::OpoWorkingMustBeBuy => -1222,
            FilterError::OpoPendingMustBeSell => -1223,
            FilterError::TooManyOrderLists { .. }
            | FilterError::SelfTradePreventionModeNotAllowed { .. }
            | FilterError::Filter { .. }
            | FilterError::MalformedFilter { .. }
            | FilterError::UnknownFilter { .. }
            | FilterError::MissingContext { .. } => -1013,
        }
    }

    /// Whether this is a filter failure (`Filter failure: <TYPE>`), as opposed to a parameter
    /// or symbol-level refusal.
    #[must_use]
    pub fn is_filter_failure(&self) -> bool {
        matches!(
            self,
            FilterError::Filter { .. }
                | FilterError::MalformedFilter { .. }
                | FilterError::UnknownFilter { .. }
                | FilterError::MissingContext { .. }
                | FilterError::TooManyOrderLists { .. }
        )
    }
}

/// An order that passed every filter of its symbol: the only kind the crate will sign and send.
///
/// It comes only out of [`SymbolRules::validate`] and [`SymbolRules::normalize`]. Filters that
/// could not be checked for lack of market context are listed in
/// [`unchecked`](Self::unchecked) (never silently passed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedOrder {
    request: OrderRequest,
    unchecked: u32,
    unknown_filters: bool,
}

impl ValidatedOrder {
    /// The validated request.
    #[must_use]
    pub fn request(&self) -> &OrderRequest {
        &self.request
    }

    /// The validated request, by value.
    #[must_use]
    pub fn into_request(self) -> OrderRequest {
        self.request
    }

    /// Filters that apply to this order but could not be checked for lack of market context.
    pub fn unchecked(&self) -> impl Iterator<Item = FilterKind> + '_ {
        FilterKind::ALL.into_iter().filter(|k| self.unchecked & k.bit() != 0)
    }

    /// Whether the symbol carries filter types this crate does not know (allowed only outside
    /// strict mode).
    #[must_use]
    pub fn has_unknown_filters(&self) -> bool {
        self.unknown_filters
    }

    /// Every applicable filter was checked, and none is unknown.
    #[must_use]
    pub fn is_fully_checked(&self) -> bool {
        self.unchecked == 0 && !self.unknown_filters
    }
}

/// An OCO that passed its symbol's rules: each leg through every filter (the second counted as
/// one more open order), the leg types, and the price relation to the last price when it was
/// given. The only kind of OCO the crate will sign and send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedOco {
    request: OcoRequest,
    legs: [ValidatedOrder; 2],
    relation_checked: bool,
}

impl ValidatedOco {
    /// The validated request.
    #[must_use]
    pub fn request(&self) -> &OcoRequest {
        &self.request
    }

    /// Each leg as validated, above first (its unchecked filters included).
    #[must_use]
    pub fn legs(&self) -> &[ValidatedOrder; 2] {
        &self.legs
    }

    /// Whether the price relation was checked (the last price was given).
    #[must_use]
    pub fn relation_checked(&self) -> bool {
        self.relation_checked
    }
}

/// An order list (any kind) that passed its symbol's rules: the only kind of list the crate
/// will sign and send. Made by [`SymbolRules::validate_list`] (or from a [`ValidatedOco`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedList {
    request: ListRequest,
    legs: Vec<ValidatedOrder>,
}

impl ValidatedList {
    /// The validated request.
    #[must_use]
    pub fn request(&self) -> &ListRequest {
        &self.request
    }

    /// Each leg as validated, in the list's order.
    #[must_use]
    pub fn legs(&self) -> &[ValidatedOrder] {
        &self.legs
    }
}

impl From<ValidatedOco> for ValidatedList {
    fn from(v: ValidatedOco) -> Self {
        Self { request: ListRequest::from(v.request), legs: v.legs.to_vec() }
    }
}

/// The state of one check pass: which filters went unchecked.
struct Pass<'a> {
    ctx: &'a MarketContext,
    unchecked: u32,
}

impl Pass<'_> {
    /// A filter needs context that is missing: refuse in strict mode, else note it.
    fn missing(&mut self, filter: FilterKind) -> Result<(), FilterError> {
        if self.ctx.is_strict() {
            return Err(FilterError::MissingContext { filter });
        }
        self.unchecked |= filter.bit();
        Ok(())
    }
}

fn fail(
    filter: FilterKind,
    parameter: &'static str,
    violation: Violation,
    value: Decimal,
    bound: Decimal,
) -> FilterError {
    FilterError::Filter { filter, parameter, violation, value, bound }
}

/// min / max / step, each disabled at 0 (SPEC §3).
fn range(
    filter: FilterKind,
    parameter: &'static str,
    value: Decimal,
    min: Decimal,
    max: Decimal,
    step: Step,
) -> Result<(), FilterError> {
    if is_positive(min) && lt(value, min) {
        return Err(fail(filter, parameter, Violation::BelowMinimum, value, min));
    }
    if is_positive(max) && gt(value, max) {
        return Err(fail(filter, parameter, Violation::AboveMaximum, value, max));
    }
    if !step.is_multiple(value) {
        return Err(fail(filter, parameter, Violation::NotAMultipleOfStep, value, step.value()));
    }
    Ok(())
}

fn count_check(filter: FilterKind, parameter: &'static str, open: u64, max: u64) -> Result<(), FilterError> {
    if max > 0 && open.saturating_add(1) > max {
        return Err(fail(
            filter,
            parameter,
            Violation::AboveMaximum,
            Decimal::from(open.saturating_add(1)),
            Decimal::from(max),
        ));
    }
    Ok(())
}

fn decimals(value: Decimal) -> u32 {
    value.normalize().scale()
}

fn passive(side: &Side) -> Rounding {
    if *side == Side::Sell { Rounding::Up } else { Rounding::Down }
}

impl SymbolRules {
    /// Validates an OCO as Binance does before it reaches the matching engine: `ocoAllowed`,
    /// the legs' types (one `LIMIT_MAKER` / `TAKE_PROFIT` / `TAKE_PROFIT_LIMIT`, one `STOP_LOSS` /
    /// `STOP_LOSS_LIMIT`; the profit leg above for a SELL, the stop above for a BUY), each leg
    /// through every filter (the second with one more open order, MAX_NUM_ORDERS and
    /// MAX_NUM_ALGO_ORDERS counting both), and the prices on their sides of the last price
    /// (`ctx`'s; without it the relation is left unchecked, or refused in strict mode).
    ///
    /// ```
    /// use aegis_exchange::{BUNDLED_EXCHANGE_INFO, ExchangeInfo, ListLeg, MarketContext, OcoRequest, Side, TimeInForce};
    /// use rust_decimal_macros::dec;
    /// let info = ExchangeInfo::from_json(BUNDLED_EXCHANGE_INFO).unwrap();
    /// let rules = info.symbol("BTCUSDT").unwrap();
    /// let oco = OcoRequest::new(
    ///     "BTCUSDT", Side::Sell, dec!(0.01),
    ///     ListLeg::limit_maker(dec!(70000)),
    ///     ListLeg::stop_loss_limit(dec!(59990), dec!(60000), TimeInForce::Gtc),
    /// );
    /// let ctx = MarketContext::default().with_last_price(dec!(65000)).with_reference_price(dec!(65000));
    /// assert!(rules.validate_oco(&oco, &ctx).is_ok());
    /// // The market is already above the take-profit: refused as Binance would.
    /// let late = MarketContext::default().with_last_price(dec!(71000)).with_reference_price(dec!(71000));
    /// assert_eq!(rules.validate_oco(&oco, &late).unwrap_err().code(), -2010);
    /// ```
    ///
    /// # Errors
    /// A [`FilterError`]: the first rule broken.
    pub fn validate_oco(&self, oco: &OcoRequest, ctx: &MarketContext) -> Result<ValidatedOco, FilterError> {
        if !self.oco_allowed() {
            return Err(FilterError::OcoNotAllowed);
        }
        self.check_list_count(ctx)?;
        let (above, below) = (oco.above(), oco.below());
        let stop = |l: &ListLeg| matches!(l.order_type(), OrderType::StopLoss | OrderType::StopLossLimit);
        let sides_right = match oco.side() {
            Side::Sell => above.is_profit_side() && stop(below),
            Side::Buy => stop(above) && below.is_profit_side(),
            Side::Unknown(_) => false,
        };
        if !sides_right {
            return Err(FilterError::UnsupportedListCombination {
                above: above.order_type().clone(),
                below: below.order_type().clone(),
            });
        }
        let [first, second] = oco.leg_requests();
        let first = self.validate(&first, ctx)?;
        let is_algo = |l: &ListLeg| l.order_type() != &OrderType::LimitMaker;
        let second = self.validate(&second, &ctx.with_one_more(is_algo(above), above.iceberg_qty().is_some()))?;
        // A pegged leg without a price of its own takes it from the book when placed (a stop-limit
        // when it triggers): Binance judges its place then.
        let unpriced_peg = |l: &ListLeg| l.peg_price_type().is_some() && l.relation_price().is_none();
        let relation_checked = match ctx.last_price() {
            Some(_) if unpriced_peg(above) || unpriced_peg(below) => false,
            Some(last) => {
                let (Some(a), Some(b)) = (above.relation_price(), below.relation_price()) else {
                    return Err(FilterError::UnsupportedListCombination {
                        above: above.order_type().clone(),
                        below: below.order_type().clone(),
                    });
                };
                if !(a > last && last > b) {
                    return Err(FilterError::ListPriceRelation { above: a, last, below: b });
                }
                true
            }
            None if ctx.is_strict() => return Err(FilterError::MissingLastPrice),
            None => false,
        };
        Ok(ValidatedOco { request: oco.clone(), legs: [first, second], relation_checked })
    }

    /// Validates any order list ([`validate_oco`](Self::validate_oco) for an OCO). An OTO family
    /// list: `otoAllowed` (and `opoAllowed` for OPO / OPOCO, `ocoAllowed` for a pending pair),
    /// MAX_NUM_ORDER_LISTS / EXCHANGE_MAX_NUM_ORDER_LISTS (from `ctx`'s open list counts), a
    /// `LIMIT` / `LIMIT_MAKER` working order (a BUY for OPO, with SELL pending orders:
    /// `-1222` / `-1223`), every order through the symbol's filters as one more open order
    /// (an OPO's pending orders with the working quantity, the most they can sell), and a
    /// pending pair's leg types and sides as an OCO's (its relation to the last price is
    /// Binance's to judge when the pair is placed: only `above > below` is checked here).
    ///
    /// ```
    /// use aegis_exchange::{BUNDLED_EXCHANGE_INFO, ExchangeInfo, ListLeg, MarketContext, OtoRequest, Side, TimeInForce};
    /// use rust_decimal_macros::dec;
    /// let info = ExchangeInfo::from_json(BUNDLED_EXCHANGE_INFO).unwrap();
    /// let rules = info.symbol("BTCUSDT").unwrap();
    /// let ctx = MarketContext::default().with_last_price(dec!(65000)).with_reference_price(dec!(65000));
    /// let oto = OtoRequest::oto("BTCUSDT", Side::Buy, dec!(0.01), ListLeg::limit(dec!(64000), TimeInForce::Gtc),
    ///     Side::Sell, dec!(0.01), ListLeg::limit_maker(dec!(66000)));
    /// assert!(rules.validate_list(&oto.clone().into(), &ctx).is_ok());
    /// // A working order must be LIMIT or LIMIT_MAKER.
    /// let market = OtoRequest::oto("BTCUSDT", Side::Buy, dec!(0.01), ListLeg::market(),
    ///     Side::Sell, dec!(0.01), ListLeg::limit_maker(dec!(66000)));
    /// assert_eq!(rules.validate_list(&market.into(), &ctx).unwrap_err().code(), -2010);
    /// ```
    ///
    /// # Errors
    /// A [`FilterError`]: the first rule broken.
    pub fn validate_list(&self, list: &ListRequest, ctx: &MarketContext) -> Result<ValidatedList, FilterError> {
        let oto = match list {
            ListRequest::Oco(oco) => return self.validate_oco(oco, ctx).map(ValidatedList::from),
            ListRequest::Oto(oto) => oto,
        };
        let kind = oto.kind();
        if !self.oto_allowed() {
            return Err(FilterError::OtoNotAllowed);
        }
        if kind.pays() && !self.opo_allowed() {
            return Err(FilterError::OpoNotAllowed);
        }
        if matches!(oto.pending(), PendingLegs::Pair { .. }) && !self.oco_allowed() {
            return Err(FilterError::OcoNotAllowed);
        }
        self.check_list_count(ctx)?;
        if !matches!(oto.working().order_type(), OrderType::Limit | OrderType::LimitMaker) {
            return Err(FilterError::UnsupportedWorkingType { order_type: oto.working().order_type().clone() });
        }
        if kind.pays() {
            if oto.working_side() != &Side::Buy {
                return Err(FilterError::OpoWorkingMustBeBuy);
            }
            if oto.pending_side() != &Side::Sell {
                return Err(FilterError::OpoPendingMustBeSell);
            }
        }
        if let PendingLegs::Pair { above, below } = oto.pending() {
            let stop = |l: &ListLeg| matches!(l.order_type(), OrderType::StopLoss | OrderType::StopLossLimit);
            let sides_right = match oto.pending_side() {
                Side::Sell => above.is_profit_side() && stop(below),
                Side::Buy => stop(above) && below.is_profit_side(),
                Side::Unknown(_) => false,
            };
            let relation = match (above.relation_price(), below.relation_price()) {
                (Some(a), Some(b)) => a > b,
                // A trailing stop without a stop price follows the market.
                _ => true,
            };
            if !sides_right {
                return Err(FilterError::UnsupportedListCombination {
                    above: above.order_type().clone(),
                    below: below.order_type().clone(),
                });
            }
            if !relation {
                return Err(FilterError::ListPriceRelation {
                    above: above.relation_price().unwrap_or_default(),
                    last: ctx.last_price().unwrap_or_default(),
                    below: below.relation_price().unwrap_or_default(),
                });
            }
        }
        // Each order counts as one more open order for the next (MAX_NUM_ORDERS and the algo
        // and iceberg counts).
        let mut legs = Vec::new();
        let mut ctx = ctx.clone();
        for (leg, request) in oto.legs().into_iter().zip(oto.leg_requests()) {
            legs.push(self.validate(&request, &ctx)?);
            ctx = ctx.with_one_more(leg.order_type().is_algo(), leg.iceberg_qty().is_some());
        }
        Ok(ValidatedList { request: list.clone(), legs })
    }

    /// MAX_NUM_ORDER_LISTS and EXCHANGE_MAX_NUM_ORDER_LISTS for one more list.
    fn check_list_count(&self, ctx: &MarketContext) -> Result<(), FilterError> {
        for f in self.filters.iter().chain(self.exchange_filters.iter()) {
            let (kind, max, open) = match f {
                Filter::MaxNumOrderLists { max_num_order_lists } => {
                    (FilterKind::MaxNumOrderLists, *max_num_order_lists, ctx.open_order_lists())
                }
                Filter::ExchangeMaxNumOrderLists { max_num_order_lists } => {
                    (FilterKind::ExchangeMaxNumOrderLists, *max_num_order_lists, ctx.account_open_order_lists())
                }
                _ => continue,
            };
            match open {
                Some(n) if max > 0 && n.saturating_add(1) > max => {
                    return Err(FilterError::TooManyOrderLists { filter: kind, open: n.saturating_add(1), max });
                }
                None if max > 0 && ctx.is_strict() => return Err(FilterError::MissingContext { filter: kind }),
                _ => {}
            }
        }
        Ok(())
    }

    /// Checks `order` against this symbol exactly as Binance would: the type's parameters, the
    /// symbol's status and features, the asset precisions, then every filter in the order
    /// exchangeInfo lists them, then the exchange and asset filters. Nothing is rounded.
    ///
    /// # Errors
    /// The first refusal, as a [`FilterError`] naming Binance's filter or error.
    ///
    /// # Examples
    /// ```
    /// use aegis_exchange::{ExchangeInfo, MarketContext, OrderRequest, Side};
    /// use rust_decimal_macros::dec;
    /// let info = ExchangeInfo::from_json(aegis_exchange::BUNDLED_EXCHANGE_INFO).unwrap();
    /// let rules = info.symbol("BTCUSDT").unwrap();
    /// let ctx = MarketContext::default().with_reference_price(dec!(65000));
    /// let bad = OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.000015), dec!(65000));
    /// assert_eq!(rules.validate(&bad, &ctx).unwrap_err().filter_type(), "LOT_SIZE");
    /// ```
    pub fn validate(&self, order: &OrderRequest, ctx: &MarketContext) -> Result<ValidatedOrder, FilterError> {
        if let Some(out) = self.cache.fast.as_ref().and_then(|plan| plan.run(self, order, ctx, None)) {
            return Ok(ValidatedOrder {
                request: order.clone(),
                unchecked: out.unchecked,
                unknown_filters: out.unknown,
            });
        }
        self.validate_reference(order, ctx)
    }

    /// [`validate`](Self::validate) without the fixed-point accelerator: the reference the
    /// accelerator is tested against. Same results, slower.
    #[doc(hidden)]
    pub fn validate_reference(&self, order: &OrderRequest, ctx: &MarketContext) -> Result<ValidatedOrder, FilterError> {
        let (unchecked, unknown_filters) = self.check(order, ctx)?;
        Ok(ValidatedOrder { request: order.clone(), unchecked, unknown_filters })
    }

    /// Rounds `order` safely, then validates it: quantities down to the step (never up), prices
    /// to the tick toward the passive side (BUY down, SELL up), amounts to the asset precision.
    /// An order that cannot be made valid this way is refused with the filter's name.
    ///
    /// # Errors
    /// As [`validate`](Self::validate), after rounding.
    ///
    /// # Examples
    /// ```
    /// use aegis_exchange::{ExchangeInfo, MarketContext, OrderRequest, Side};
    /// use rust_decimal_macros::dec;
    /// let info = ExchangeInfo::from_json(aegis_exchange::BUNDLED_EXCHANGE_INFO).unwrap();
    /// let rules = info.symbol("BTCUSDT").unwrap();
    /// let ctx = MarketContext::default().with_reference_price(dec!(65430));
    /// let order = OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.14977266648836587), dec!(65432.517));
    /// let valid = rules.normalize(order, &ctx).unwrap();
    /// assert_eq!(valid.request().quantity(), Some(dec!(0.14977)));
    /// assert_eq!(valid.request().price(), Some(dec!(65432.51)));
    /// ```
    #[inline]
    pub fn normalize(&self, order: OrderRequest, ctx: &MarketContext) -> Result<ValidatedOrder, FilterError> {
        self.normalize_with(order, ctx, NormalizeOptions::default())
    }

    /// [`normalize`](Self::normalize) with explicit price rounding.
    ///
    /// # Errors
    /// As [`validate`](Self::validate), after rounding.
    #[inline]
    pub fn normalize_with(
        &self,
        mut order: OrderRequest,
        ctx: &MarketContext,
        options: NormalizeOptions,
    ) -> Result<ValidatedOrder, FilterError> {
        // The accelerator answers only "valid"; anything else is decided by the reference path.
        if let Some((unchecked, unknown_filters)) = self.accelerate(&mut order, ctx, options) {
            return Ok(ValidatedOrder { request: order, unchecked, unknown_filters });
        }
        self.normalize_reference(order, ctx, options)
    }

    /// Runs the accelerator; on success rounds `order` in place and returns the unchecked set.
    #[inline]
    fn accelerate(
        &self,
        order: &mut OrderRequest,
        ctx: &MarketContext,
        options: NormalizeOptions,
    ) -> Option<(u32, bool)> {
        let out = self.cache.fast.as_ref()?.run(self, order, ctx, Some(options))?;
        order.set_quantity(Some(out.quantity));
        if out.price.is_some() {
            order.set_price(out.price);
        }
        Some((out.unchecked, out.unknown))
    }

    /// The fixed-point accelerator alone: `Some` when it proves the order valid (after
    /// rounding), `None` when the reference path must decide. For tests and benchmarks.
    #[doc(hidden)]
    pub fn normalize_accelerated(
        &self,
        mut order: OrderRequest,
        ctx: &MarketContext,
        options: NormalizeOptions,
    ) -> Option<ValidatedOrder> {
        let (unchecked, unknown_filters) = self.accelerate(&mut order, ctx, options)?;
        Some(ValidatedOrder { request: order, unchecked, unknown_filters })
    }

    /// [`normalize_with`](Self::normalize_with) without the fixed-point accelerator: the
    /// reference the accelerator is tested against. Same results, slower.
    #[doc(hidden)]
    pub fn normalize_reference(
        &self,
        mut order: OrderRequest,
        ctx: &MarketContext,
        options: NormalizeOptions,
    ) -> Result<ValidatedOrder, FilterError> {
        // A malformed order is refused as it is: rounding cannot fix a missing parameter.
        order.check_parameters()?;
        let c = &self.cache;
        let is_market = *order.order_type() == OrderType::Market;
        let lot = c.lot_size.unwrap_or_default();
        let market_lot = if is_market { c.market_lot_size.unwrap_or_default() } else { Limits::default() };
        let qty_filter =
            if is_market && !market_lot.step.is_disabled() { FilterKind::MarketLotSize } else { FilterKind::LotSize };

        // Quantities: down to every step that applies, then to the base asset's precision.
        let round_qty = |value: Decimal, filter: FilterKind, parameter: &'static str| -> Result<Decimal, FilterError> {
            let overflow = |_| fail(filter, parameter, Violation::Overflow, value, lot.step.value());
            let v = lot.step.round(value, Rounding::Down).map_err(overflow)?;
            let v = market_lot.step.round(v, Rounding::Down).map_err(overflow)?;
            let v = c.base_step.round(v, Rounding::Down).map_err(overflow)?;
            if v.is_zero() {
                // Rounding down left nothing: the order is below the smallest tradable lot.
                let min = [lot.min, market_lot.min, lot.step.value(), market_lot.step.value(), c.base_step.value()]
                    .into_iter()
                    .fold(Decimal::ZERO, Decimal::max);
                return Err(fail(filter, parameter, Violation::BelowMinimum, v, min));
            }
            Ok(v)
        };
        if let Some(q) = order.quantity() {
            order.set_quantity(Some(round_qty(q, qty_filter, "quantity")?));
        }
        if let Some(q) = order.iceberg_qty() {
            order.set_iceberg_qty(Some(round_qty(q, FilterKind::LotSize, "icebergQty")?));
        }

        // Prices: to the tick (passive side unless told), then to the quote asset's precision.
        let tick = c.price_filter.map_or(Step::DISABLED, |p| p.step);
        let round_price = |value: Decimal, mode: Rounding, parameter: &'static str| -> Result<Decimal, FilterError> {
            let overflow = |_| fail(FilterKind::PriceFilter, parameter, Violation::Overflow, value, tick.value());
            let v = tick.round(value, mode).map_err(overflow)?;
            let v = c.quote_step.round(v, mode).map_err(overflow)?;
            // Rounding up can carry a price past the 20 integer digits Binance accepts.
            if !within_wire_range(v) {
                return Err(FilterError::Parameter(OrderError::OutOfRange { parameter, value: v }));
            }
            if v.is_zero() {
                let bound = tick.value().max(c.quote_step.value());
                return Err(fail(FilterKind::PriceFilter, parameter, Violation::BelowMinimum, v, bound));
            }
            Ok(v)
        };
        let side_rounding = passive(order.side());
        if let Some(p) = order.price() {
            order.set_price(Some(round_price(p, options.price.unwrap_or(side_rounding), "price")?));
        }
        if let Some(p) = order.stop_price() {
            order.set_stop_price(Some(round_price(p, options.stop_price.unwrap_or(side_rounding), "stopPrice")?));
        }
        if let Some(q) = order.quote_order_qty() {
            let v = c
                .quote_step
                .round(q, Rounding::Down)
                .map_err(|_| FilterError::Parameter(OrderError::OutOfRange { parameter: "quoteOrderQty", value: q }))?;
            if v.is_zero() {
                return Err(FilterError::Parameter(OrderError::Zero { parameter: "quoteOrderQty" }));
            }
            order.set_quote_order_qty(Some(v));
        }

        // Rounding can break a relation between parameters (an iceberg quantity rounded down to
        // the quantity), so the rounded order is checked from the start.
        let (unchecked, unknown_filters) = self.check(&order, ctx)?;
        Ok(ValidatedOrder { request: order, unchecked, unknown_filters })
    }

    /// Checks a keep-priority amendment against MAX_NUM_ORDER_AMENDS, given how many times the
    /// order was already amended.
    ///
    /// # Errors
    /// `Filter failure: MAX_NUM_ORDER_AMENDS` (Binance answers it with -2038).
    pub fn check_amend(&self, amendments_so_far: u64) -> Result<(), FilterError> {
        for f in &self.filters {
            if let Filter::MaxNumOrderAmends { max_num_order_amends } = *f {
                count_check(FilterKind::MaxNumOrderAmends, "amendments", amendments_so_far, max_num_order_amends)?;
            }
        }
        Ok(())
    }

    /// Checks a new order list against MAX_NUM_ORDER_LISTS (open lists on the symbol) and
    /// EXCHANGE_MAX_NUM_ORDER_LISTS (open lists on the account).
    ///
    /// # Errors
    /// `Filter failure: MAX_NUM_ORDER_LISTS` or `EXCHANGE_MAX_NUM_ORDER_LISTS`.
    pub fn check_new_order_list(&self, open_on_symbol: u64, open_on_account: u64) -> Result<(), FilterError> {
        for f in self.filters.iter().chain(self.exchange_filters.iter()) {
            match *f {
                Filter::MaxNumOrderLists { max_num_order_lists } => {
                    count_check(FilterKind::MaxNumOrderLists, "openOrderLists", open_on_symbol, max_num_order_lists)?;
                }
                Filter::ExchangeMaxNumOrderLists { max_num_order_lists } => count_check(
                    FilterKind::ExchangeMaxNumOrderLists,
                    "openOrderLists",
                    open_on_account,
                    max_num_order_lists,
                )?,
                _ => {}
            }
        }
        Ok(())
    }

    /// The whole check; returns the unchecked-filter set and whether unknown filters exist.
    fn check(&self, o: &OrderRequest, ctx: &MarketContext) -> Result<(u32, bool), FilterError> {
        o.check_parameters()?;
        if o.symbol() != self.symbol {
            return Err(FilterError::SymbolMismatch { expected: self.symbol.clone(), got: o.symbol().to_owned() });
        }
        self.check_symbol_features(o)?;
        self.check_precision(o)?;

        let mut pass = Pass { ctx, unchecked: 0 };
        let mut unknown = false;
        for (i, f) in self.filters.iter().enumerate() {
            let step = self.cache.filter_steps.get(i).copied().unwrap_or(Step::DISABLED);
            self.apply_any(f, step, o, &mut pass, &mut unknown)?;
        }
        for f in self.exchange_filters.iter().chain(&self.asset_filters) {
            self.apply_any(f, Step::DISABLED, o, &mut pass, &mut unknown)?;
        }
        Ok((pass.unchecked, unknown))
    }

    /// One filter of any kind: malformed ones refuse, unknown ones refuse in strict mode.
    #[inline]
    fn apply_any(
        &self,
        f: &Filter,
        step: Step,
        o: &OrderRequest,
        pass: &mut Pass<'_>,
        unknown: &mut bool,
    ) -> Result<(), FilterError> {
        match f {
            Filter::Malformed { filter_type, reason } => {
                Err(FilterError::MalformedFilter { filter_type: filter_type.clone(), reason: reason.clone() })
            }
            Filter::Unknown { filter_type, .. } => {
                if pass.ctx.is_strict() {
                    return Err(FilterError::UnknownFilter { filter_type: filter_type.clone() });
                }
                *unknown = true;
                Ok(())
            }
            known => self.apply(known, step, o, pass),
        }
    }

    fn check_symbol_features(&self, o: &OrderRequest) -> Result<(), FilterError> {
        if self.status != SymbolStatus::Trading {
            return Err(FilterError::SymbolNotTrading { status: self.status.clone() });
        }
        if !self.is_spot_trading_allowed {
            return Err(FilterError::SpotTradingNotAllowed);
        }
        if !self.order_types.contains(o.order_type()) {
            return Err(FilterError::OrderTypeNotAllowed { order_type: o.order_type().clone() });
        }
        if o.iceberg_qty().is_some() && !self.iceberg_allowed {
            return Err(FilterError::IcebergNotAllowed);
        }
        if o.quote_order_qty().is_some() && !self.quote_order_qty_market_allowed {
            return Err(FilterError::QuoteOrderQtyNotAllowed);
        }
        if o.trailing_delta().is_some() && !self.allow_trailing_stop {
            return Err(FilterError::TrailingStopNotAllowed);
        }
        if o.peg_price_type().is_some() && !self.peg_instructions_allowed {
            return Err(FilterError::PegNotAllowed);
        }
        if let Some(mode) = o.self_trade_prevention_mode()
            && !self.allowed_self_trade_prevention_modes.contains(mode)
        {
            return Err(FilterError::SelfTradePreventionModeNotAllowed { mode: mode.clone() });
        }
        Ok(())
    }

    fn check_precision(&self, o: &OrderRequest) -> Result<(), FilterError> {
        let base = self.base_asset_precision;
        let quote = self.quote_asset_precision;
        for (parameter, value, max) in [
            ("quantity", o.quantity(), base),
            ("icebergQty", o.iceberg_qty(), base),
            ("price", o.price(), quote),
            ("stopPrice", o.stop_price(), quote),
            ("quoteOrderQty", o.quote_order_qty(), quote),
        ] {
            if let Some(value) = value {
                // Fast path: a scale within the limit needs no normalization.
                if value.scale() > max && decimals(value) > max {
                    return Err(FilterError::TooMuchPrecision { parameter, value, max_decimals: max });
                }
            }
        }
        Ok(())
    }

    /// The notional a notional filter compares (as an unevaluated product), or `None` when it
    /// does not apply; an error in strict mode when the price it needs is missing.
    fn notional(
        &self,
        filter: FilterKind,
        o: &OrderRequest,
        pass: &mut Pass<'_>,
        applies_to_market: bool,
        avg_price_mins: u64,
    ) -> Result<Option<Product>, FilterError> {
        if o.order_type().is_market_like() {
            if !applies_to_market {
                return Ok(None);
            }
            if let Some(quote) = o.quote_order_qty() {
                return Ok(Some(Product(quote, Decimal::ONE)));
            }
            let (Some(qty), Some(price)) = (o.quantity(), pass.ctx.price_proxy(avg_price_mins)) else {
                pass.missing(filter)?;
                return Ok(None);
            };
            return Ok(Some(Product(qty, price)));
        }
        Ok(match (o.quantity(), o.price()) {
            (Some(qty), Some(price)) => Some(Product(qty, price)),
            _ => None,
        })
    }

    /// The base quantity the order may add to a position, estimated through the price proxy
    /// for quoteOrderQty orders.
    fn base_quantity(o: &OrderRequest, pass: &Pass<'_>) -> Option<Decimal> {
        o.quantity().or_else(|| {
            let quote = o.quote_order_qty()?;
            let price = pass.ctx.price_proxy(0).or(pass.ctx.average_price())?;
            if price.is_zero() { None } else { quote.checked_div(price) }
        })
    }

    fn apply(&self, f: &Filter, step: Step, o: &OrderRequest, pass: &mut Pass<'_>) -> Result<(), FilterError> {
        let is_market = *o.order_type() == OrderType::Market;
        match *f {
            Filter::PriceFilter { min_price, max_price, .. } => {
                for (parameter, value) in [("price", o.price()), ("stopPrice", o.stop_price())] {
                    if let Some(v) = value {
                        range(FilterKind::PriceFilter, parameter, v, min_price, max_price, step)?;
                    }
                }
            }
            Filter::PercentPrice { multiplier_up, multiplier_down, avg_price_mins } => {
                self.percent_price(FilterKind::PercentPrice, o, pass, multiplier_up, multiplier_down, avg_price_mins)?;
            }
            Filter::PercentPriceBySide {
                bid_multiplier_up,
                bid_multiplier_down,
                ask_multiplier_up,
                ask_multiplier_down,
                avg_price_mins,
            } => {
                let (up, down) = if *o.side() == Side::Sell {
                    (ask_multiplier_up, ask_multiplier_down)
                } else {
                    (bid_multiplier_up, bid_multiplier_down)
                };
                self.percent_price(FilterKind::PercentPriceBySide, o, pass, up, down, avg_price_mins)?;
            }
            Filter::LotSize { min_qty, max_qty, .. } => {
                for (parameter, value) in [("quantity", o.quantity()), ("icebergQty", o.iceberg_qty())] {
                    if let Some(v) = value {
                        range(FilterKind::LotSize, parameter, v, min_qty, max_qty, step)?;
                    }
                }
            }
            Filter::MarketLotSize { min_qty, max_qty, .. } => {
                if let (true, Some(v)) = (is_market, o.quantity()) {
                    range(FilterKind::MarketLotSize, "quantity", v, min_qty, max_qty, step)?;
                }
            }
            Filter::MinNotional { min_notional, apply_to_market, avg_price_mins } => {
                if let Some(n) = self.notional(FilterKind::MinNotional, o, pass, apply_to_market, avg_price_mins)?
                    && is_positive(min_notional)
                    && n.cmp(min_notional).is_lt()
                {
                    return Err(n.fail(FilterKind::MinNotional, "notional", Violation::BelowMinimum, min_notional));
                }
            }
            Filter::Notional {
                min_notional,
                apply_min_to_market,
                max_notional,
                apply_max_to_market,
                avg_price_mins,
            } => {
                let market_like = o.order_type().is_market_like();
                let check_min = !market_like || apply_min_to_market;
                let check_max = !market_like || apply_max_to_market;
                if (check_min || check_max)
                    && let Some(n) = self.notional(FilterKind::Notional, o, pass, true, avg_price_mins)?
                {
                    if check_min && is_positive(min_notional) && n.cmp(min_notional).is_lt() {
                        return Err(n.fail(FilterKind::Notional, "notional", Violation::BelowMinimum, min_notional));
                    }
                    if check_max && is_positive(max_notional) && n.cmp(max_notional).is_gt() {
                        return Err(n.fail(FilterKind::Notional, "notional", Violation::AboveMaximum, max_notional));
                    }
                }
            }
            Filter::IcebergParts { limit } => {
                if let (Some(qty), Some(iceberg), true) = (o.quantity(), o.iceberg_qty(), limit > 0) {
                    // ceil(qty / iceberg) computed exactly: whole parts plus one for a remainder.
                    let parts = qty
                        .checked_rem(iceberg)
                        .and_then(|rem| {
                            let whole = (qty - rem).checked_div(iceberg)?;
                            if rem.is_zero() { Some(whole) } else { whole.checked_add(Decimal::ONE) }
                        })
                        .ok_or_else(|| {
                            fail(FilterKind::IcebergParts, "icebergQty", Violation::Overflow, qty, iceberg)
                        })?;
                    if parts > Decimal::from(limit) {
                        return Err(fail(
                            FilterKind::IcebergParts,
                            "icebergQty",
                            Violation::AboveMaximum,
                            parts,
                            Decimal::from(limit),
                        ));
                    }
                }
            }
            Filter::MaxNumOrders { max_num_orders } => {
                if max_num_orders > 0 {
                    match pass.ctx.open_orders() {
                        Some(n) => count_check(FilterKind::MaxNumOrders, "openOrders", n, max_num_orders)?,
                        None => pass.missing(FilterKind::MaxNumOrders)?,
                    }
                }
            }
            Filter::MaxNumAlgoOrders { max_num_algo_orders } => {
                if max_num_algo_orders > 0 && o.order_type().is_algo() {
                    match pass.ctx.open_algo_orders() {
                        Some(n) => count_check(FilterKind::MaxNumAlgoOrders, "openAlgoOrders", n, max_num_algo_orders)?,
                        None => pass.missing(FilterKind::MaxNumAlgoOrders)?,
                    }
                }
            }
            Filter::MaxNumIcebergOrders { max_num_iceberg_orders } => {
                if max_num_iceberg_orders > 0 && o.iceberg_qty().is_some() {
                    match pass.ctx.open_iceberg_orders() {
                        Some(n) => {
                            count_check(
                                FilterKind::MaxNumIcebergOrders,
                                "openIcebergOrders",
                                n,
                                max_num_iceberg_orders,
                            )?;
                        }
                        None => pass.missing(FilterKind::MaxNumIcebergOrders)?,
                    }
                }
            }
            Filter::MaxPosition { max_position } => {
                if is_positive(max_position) && *o.side() == Side::Buy {
                    match (pass.ctx.base_position(), Self::base_quantity(o, pass)) {
                        (Some(position), Some(qty)) => {
                            let after = position.checked_add(qty).ok_or_else(|| {
                                fail(FilterKind::MaxPosition, "position", Violation::Overflow, position, qty)
                            })?;
                            if after > max_position {
                                return Err(fail(
                                    FilterKind::MaxPosition,
                                    "position",
                                    Violation::AboveMaximum,
                                    after,
                                    max_position,
                                ));
                            }
                        }
                        _ => pass.missing(FilterKind::MaxPosition)?,
                    }
                }
            }
            Filter::TrailingDelta {
                min_trailing_above_delta,
                max_trailing_above_delta,
                min_trailing_below_delta,
                max_trailing_below_delta,
            } => {
                if let Some(delta) = o.trailing_delta() {
                    let above = matches!(
                        (o.order_type(), o.side()),
                        (OrderType::StopLoss | OrderType::StopLossLimit, Side::Buy)
                            | (OrderType::TakeProfit | OrderType::TakeProfitLimit, Side::Sell)
                    );
                    let (min, max) = if above {
                        (min_trailing_above_delta, max_trailing_above_delta)
                    } else {
                        (min_trailing_below_delta, max_trailing_below_delta)
                    };
                    if min > 0 && delta < min {
                        return Err(fail(
                            FilterKind::TrailingDelta,
                            "trailingDelta",
                            Violation::BelowMinimum,
                            delta.into(),
                            min.into(),
                        ));
                    }
                    if max > 0 && delta > max {
                        return Err(fail(
                            FilterKind::TrailingDelta,
                            "trailingDelta",
                            Violation::AboveMaximum,
                            delta.into(),
                            max.into(),
                        ));
                    }
                }
            }
            Filter::ExchangeMaxNumOrders { max_num_orders } => {
                if max_num_orders > 0 {
                    match pass.ctx.account_open_orders() {
                        Some(n) => count_check(FilterKind::ExchangeMaxNumOrders, "openOrders", n, max_num_orders)?,
                        None => pass.missing(FilterKind::ExchangeMaxNumOrders)?,
                    }
                }
            }
            Filter::ExchangeMaxNumAlgoOrders { max_num_algo_orders } => {
                if max_num_algo_orders > 0 && o.order_type().is_algo() {
                    match pass.ctx.account_open_algo_orders() {
                        Some(n) => {
                            count_check(
                                FilterKind::ExchangeMaxNumAlgoOrders,
                                "openAlgoOrders",
                                n,
                                max_num_algo_orders,
                            )?;
                        }
                        None => pass.missing(FilterKind::ExchangeMaxNumAlgoOrders)?,
                    }
                }
            }
            Filter::ExchangeMaxNumIcebergOrders { max_num_iceberg_orders } => {
                if max_num_iceberg_orders > 0 && o.iceberg_qty().is_some() {
                    match pass.ctx.account_open_iceberg_orders() {
                        Some(n) => count_check(
                            FilterKind::ExchangeMaxNumIcebergOrders,
                            "openIcebergOrders",
                            n,
                            max_num_iceberg_orders,
                        )?,
                        None => pass.missing(FilterKind::ExchangeMaxNumIcebergOrders)?,
                    }
                }
            }
            Filter::MaxAsset { ref asset, limit } => {
                if is_positive(limit) {
                    if *asset == self.base_asset {
                        match Self::base_quantity(o, pass) {
                            Some(qty) if qty > limit => {
                                return Err(fail(
                                    FilterKind::MaxAsset,
                                    "quantity",
                                    Violation::AboveMaximum,
                                    qty,
                                    limit,
                                ));
                            }
                            Some(_) => {}
                            None => pass.missing(FilterKind::MaxAsset)?,
                        }
                    }
                    if *asset == self.quote_asset {
                        match self.notional(FilterKind::MaxAsset, o, pass, true, 0)? {
                            Some(n) if n.cmp(limit).is_gt() => {
                                return Err(n.fail(FilterKind::MaxAsset, "notional", Violation::AboveMaximum, limit));
                            }
                            _ => {}
                        }
                    }
                }
            }
            // Amendments and order lists are checked by `check_amend` / `check_new_order_list`;
            // they do not apply to a single new order.
            Filter::MaxNumOrderAmends { .. }
            | Filter::MaxNumOrderLists { .. }
            | Filter::ExchangeMaxNumOrderLists { .. }
            | Filter::Unknown { .. }
            | Filter::Malformed { .. } => {}
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn percent_price(
        &self,
        filter: FilterKind,
        o: &OrderRequest,
        pass: &mut Pass<'_>,
        up: Decimal,
        down: Decimal,
        avg_price_mins: u64,
    ) -> Result<(), FilterError> {
        let Some(price) = o.price() else { return Ok(()) };
        if !is_positive(up) && !is_positive(down) {
            return Ok(());
        }
        let Some(reference) = pass.ctx.price_proxy(avg_price_mins) else {
            return pass.missing(filter);
        };
        // The band's ends are compared exactly, and computed only to report a failure.
        let bound = |m: Decimal| {
            reference.checked_mul(m).ok_or_else(|| fail(filter, "price", Violation::Overflow, reference, m))
        };
        if is_positive(up) && Product(reference, up).cmp(price).is_lt() {
            return Err(fail(filter, "price", Violation::AboveMaximum, price, bound(up)?));
        }
        if is_positive(down) && Product(reference, down).cmp(price).is_gt() {
            return Err(fail(filter, "price", Violation::BelowMinimum, price, bound(down)?));
        }
        Ok(())
    }
}
