//! `OrderRequest`: the parameters of `POST /api/v3/order`, with the per-type rules of SPEC §6.1.

use rust_decimal::Decimal;

use super::{
    ClientOrderId, Coded, OrderResponseType, OrderType, PegPriceType, SelfTradePreventionMode, Side, TimeInForce,
};

/// A parameter-level refusal: the order is malformed before any filter is looked at.
///
/// Each variant's `Display` is the message Binance answers with, and [`OrderError::code`] its
/// error code, so a refusal here reads exactly like the exchange's own.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderError {
    /// A parameter the order type requires is absent (-1102).
    #[error("Mandatory parameter '{0}' was not sent, was empty/null, or malformed.")]
    MissingParameter(&'static str),
    /// Neither of two alternatives was given (-1102), e.g. MARKET without quantity or quoteOrderQty.
    #[error("Param '{0}' or '{1}' must be sent, but both were empty/null!")]
    MissingEither(&'static str, &'static str),
    /// A parameter the order type does not take was given (-1106).
    #[error("Parameter '{0}' sent when not required.")]
    UnexpectedParameter(&'static str),
    /// `timeInForce` on a type that does not take it (-1114).
    #[error("TimeInForce parameter sent when not required.")]
    TimeInForceNotRequired,
    /// An unknown side (-1117).
    #[error("Invalid side.")]
    InvalidSide,
    /// An unknown order type (-1116).
    #[error("Invalid orderType.")]
    InvalidOrderType,
    /// An unknown time in force (-1115).
    #[error("Invalid timeInForce.")]
    InvalidTimeInForce,
    /// A zero amount (-1013 `Invalid quantity.` and its siblings).
    #[error("Invalid {parameter}.")]
    Zero {
        /// The parameter's wire name.
        parameter: &'static str,
    },
    /// A negative amount, or one outside `^([0-9]{1,20})(\.[0-9]{1,20})?$` (-1100).
    #[error(
        "Illegal characters found in parameter '{parameter}'; legal range is '^([0-9]{{1,20}})(\\.[0-9]{{1,20}})?$'."
    )]
    OutOfRange {
        /// The parameter's wire name.
        parameter: &'static str,
        /// The offending value.
        value: Decimal,
    },
    /// `icebergQty` is not below `quantity` (-2010).
    #[error("IcebergQty exceeds QTY.")]
    IcebergQtyExceedsQty,
    /// An iceberg order whose time in force is not GTC (-1013).
    #[error("Iceberg orders require timeInForce GTC.")]
    IcebergRequiresGtc,
    /// An unknown `pegPriceType` (-1210).
    #[error("Invalid pegPriceType.")]
    InvalidPegPriceType,
    /// `pegPriceType` on a type that cannot be pegged (`MARKET`, `STOP_LOSS`, `TAKE_PROFIT`)
    /// (-2010).
    #[error("This order type may not use pegged price.")]
    PegNotAllowedForType,
    /// `MARKET_PEG` on a `LIMIT_MAKER` (-2010).
    #[error("This price peg cannot be used with this order type.")]
    PegNotAllowedWithType,
    /// A `PRIMARY_PEG` `LIMIT` order whose time in force is not GTC (-2010; Binance's FAQ states
    /// the rule, not its message).
    #[error("This price peg cannot be used with this time in force.")]
    PegRequiresGtc,
    /// `pegOffsetValue` above 100 (-1130).
    #[error("Data sent for parameter 'pegOffsetValue' is not valid.")]
    PegOffsetOutOfRange {
        /// The levels asked for.
        levels: u8,
    },
    /// `strategyType` below 1,000,000 (-1134).
    #[error("`strategyType` was less than 1000000.")]
    BadStrategyType {
        /// The value given.
        strategy_type: u32,
    },
}

/// The deepest price level a pegged order may follow (`pegOffsetValue`).
pub const MAX_PEG_OFFSET_LEVELS: u8 = 100;

/// The smallest `strategyType` Binance takes.
pub const MIN_STRATEGY_TYPE: u32 = 1_000_000;

impl OrderError {
    /// The Binance error code the exchange would answer with.
    #[must_use]
    pub fn code(&self) -> i32 {
        match self {
            OrderError::MissingParameter(_) | OrderError::MissingEither(..) => -1102,
            OrderError::UnexpectedParameter(_) => -1106,
            OrderError::TimeInForceNotRequired => -1114,
            OrderError::InvalidSide => -1117,
            OrderError::InvalidOrderType => -1116,
            OrderError::InvalidTimeInForce => -1115,
            OrderError::Zero { .. } | OrderError::IcebergRequiresGtc => -1013,
            OrderError::OutOfRange { .. } => -1100,
            OrderError::IcebergQtyExceedsQty
            | OrderError::PegNotAllowedForType
            | OrderError::PegNotAllowedWithType
            | OrderError::PegRequiresGtc => -2010,
            OrderError::InvalidPegPriceType => -1210,
            OrderError::PegOffsetOutOfRange { .. } => -1130,
            OrderError::BadStrategyType { .. } => -1134,
        }
    }

    /// Binance's name for the error code (`"MANDATORY_PARAM_EMPTY_OR_MALFORMED"`, ...).
    #[must_use]
    pub fn code_name(&self) -> &'static str {
        match self.code() {
            -1102 => "MANDATORY_PARAM_EMPTY_OR_MALFORMED",
            -1106 => "PARAM_NOT_REQUIRED",
            -1114 => "TIF_NOT_REQUIRED",
            -1117 => "INVALID_SIDE",
            -1116 => "INVALID_ORDER_TYPE",
            -1115 => "INVALID_TIF",
            -1100 => "ILLEGAL_CHARS",
            -2010 => "NEW_ORDER_REJECTED",
            -1210 => "INVALID_PEG_PRICE_TYPE",
            -1130 => "INVALID_PARAMETER",
            -1134 => "BAD_STRATEGY_TYPE",
            _ => "INVALID_MESSAGE",
        }
    }
}

/// One new order: the parameters of `POST /api/v3/order` (SPEC §6.1).
///
/// Build it with the constructor for its type, then add optional parameters with the `with_*`
/// methods. Nothing here rounds or checks against a symbol: that is
/// [`SymbolRules::normalize`](crate::SymbolRules::normalize) /
/// [`SymbolRules::validate`](crate::SymbolRules::validate), the only way to a
/// [`ValidatedOrder`](crate::ValidatedOrder). [`OrderRequest::check_parameters`] applies the
/// type's mandatory and forbidden parameters on its own.
///
/// ```
/// use aegis_exchange::{OrderRequest, OrderType, Side, TimeInForce};
/// use rust_decimal_macros::dec;
///
/// let o = OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.001), dec!(65000))
///     .with_time_in_force(TimeInForce::Ioc);
/// assert_eq!(o.order_type(), &OrderType::Limit);
/// assert!(o.check_parameters().is_ok());
///
/// let bad = OrderRequest::market("BTCUSDT", Side::Sell, dec!(1)).with_price(dec!(10));
/// assert_eq!(bad.check_parameters().unwrap_err().to_string(),
///            "Parameter 'price' sent when not required.");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct OrderRequest {
    symbol: String,
    quantity: Option<Decimal>,
    price: Option<Decimal>,
    new_client_order_id: Option<ClientOrderId>,
    /// Side, type and time in force as one byte each: a known value's position in its enum's
    /// `ALL`, [`ABSENT`], or [`IN_EXTRA`] (an `Unknown` value, kept in `extra`).
    side: u8,
    order_type: u8,
    time_in_force: u8,
    /// What most orders never carry, boxed, so that an order moves in 120 bytes (it was 304
    /// with every field inline). `None` exactly when all of it is absent (so `==` stays
    /// structural).
    extra: Option<Box<Extra>>,
}

/// The code of an absent value (only `timeInForce` can be absent).
const ABSENT: u8 = u8::MAX - 1;
/// The code of an `Unknown` value, which is kept in [`Extra`].
const IN_EXTRA: u8 = u8::MAX;

/// The rarely given parameters of an [`OrderRequest`], and values of its enums this crate does
/// not know.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Extra {
    quote_order_qty: Option<Decimal>,
    stop_price: Option<Decimal>,
    trailing_delta: Option<u64>,
    iceberg_qty: Option<Decimal>,
    self_trade_prevention_mode: Option<SelfTradePreventionMode>,
    new_order_resp_type: Option<OrderResponseType>,
    unknown_side: Option<Side>,
    unknown_order_type: Option<OrderType>,
    unknown_time_in_force: Option<TimeInForce>,
    peg_price_type: Option<PegPriceType>,
    /// `pegOffsetValue` (with `pegOffsetType=PRICE_LEVEL`).
    peg_offset_levels: Option<u8>,
    strategy_id: Option<u64>,
    strategy_type: Option<u32>,
}

impl Extra {
    fn is_empty(&self) -> bool {
        *self == Extra::default()
    }
}

impl std::fmt::Debug for OrderRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrderRequest")
            .field("symbol", &self.symbol)
            .field("side", self.side())
            .field("order_type", self.order_type())
            .field("time_in_force", &self.time_in_force())
            .field("quantity", &self.quantity)
            .field("quote_order_qty", &self.quote_order_qty())
            .field("price", &self.price)
            .field("stop_price", &self.stop_price())
            .field("trailing_delta", &self.trailing_delta())
            .field("iceberg_qty", &self.iceberg_qty())
            .field("new_client_order_id", &self.new_client_order_id)
            .field("self_trade_prevention_mode", &self.self_trade_prevention_mode())
            .field("new_order_resp_type", &self.response_type())
            .field("peg_price_type", &self.peg_price_type())
            .field("peg_offset_levels", &self.peg_offset_levels())
            .field("strategy_id", &self.strategy_id())
            .field("strategy_type", &self.strategy_type())
            .finish()
    }
}

/// Whether `v` has at most 20 integer digits (below 10^20), Binance's legal range, without a
/// rescaling comparison: `|mantissa| < 10^(20 + scale)`, always true from scale 9 on since a
/// mantissa is below 2^96 < 10^29.
pub(crate) fn within_wire_range(v: Decimal) -> bool {
    mantissa_within_wire_range(v.mantissa().unsigned_abs(), v.scale())
}

/// [`within_wire_range`] on a decimal's parts (absolute mantissa, scale).
#[inline]
pub(crate) fn mantissa_within_wire_range(mantissa: u128, scale: u32) -> bool {
    // Evaluated at compile time: an out-of-bounds index would fail the build, not panic.
    #[allow(clippy::indexing_slicing)]
    const LIMITS: [u128; 9] = {
        let mut t = [0u128; 9];
        let mut i = 0;
        while i < 9 {
            t[i] = 10u128.pow(20 + i as u32);
            i += 1;
        }
        t
    };
    match LIMITS.get(scale as usize) {
        Some(limit) => mantissa < *limit,
        None => true,
    }
}

impl OrderRequest {
    /// A bare order of any type with no amounts: add them with the `with_*` methods.
    #[must_use]
    pub fn new(symbol: impl Into<String>, side: Side, order_type: OrderType) -> Self {
        let mut order = Self {
            symbol: symbol.into(),
            side: ABSENT,
            order_type: ABSENT,
            time_in_force: ABSENT,
            quantity: None,
            price: None,
            new_client_order_id: None,
            extra: None,
        };
        order.side = order.store(Some(side), |e| &mut e.unknown_side);
        order.order_type = order.store(Some(order_type), |e| &mut e.unknown_order_type);
        order
    }

    /// `LIMIT`, good till canceled.
    #[must_use]
    pub fn limit(symbol: impl Into<String>, side: Side, quantity: Decimal, price: Decimal) -> Self {
        Self::new(symbol, side, OrderType::Limit)
            .with_quantity(quantity)
            .with_price(price)
            .with_time_in_force(TimeInForce::Gtc)
    }

    /// `MARKET` for a base-asset quantity.
    #[must_use]
    pub fn market(symbol: impl Into<String>, side: Side, quantity: Decimal) -> Self {
        Self::new(symbol, side, OrderType::Market).with_quantity(quantity)
    }

    /// `MARKET` for a quote-asset amount (`quoteOrderQty`): spend (BUY) or receive (SELL) it.
    #[must_use]
    pub fn market_quote(symbol: impl Into<String>, side: Side, quote_order_qty: Decimal) -> Self {
        Self::new(symbol, side, OrderType::Market).with_quote_order_qty(quote_order_qty)
    }

    /// `STOP_LOSS`: a MARKET order once `stop_price` is reached.
    #[must_use]
    pub fn stop_loss(symbol: impl Into<String>, side: Side, quantity: Decimal, stop_price: Decimal) -> Self {
        Self::new(symbol, side, OrderType::StopLoss).with_quantity(quantity).with_stop_price(stop_price)
    }

    /// `STOP_LOSS_LIMIT`, good till canceled: a LIMIT order at `price` once `stop_price` is reached.
    #[must_use]
    pub fn stop_loss_limit(
        symbol: impl Into<String>,
        side: Side,
        quantity: Decimal,
        price: Decimal,
        stop_price: Decimal,
    ) -> Self {
        Self::new(symbol, side, OrderType::StopLossLimit)
            .with_quantity(quantity)
            .with_price(price)
            .with_stop_price(stop_price)
            .with_time_in_force(TimeInForce::Gtc)
    }

    /// `TAKE_PROFIT`: a MARKET order once `stop_price` is reached.
    #[must_use]
    pub fn take_profit(symbol: impl Into<String>, side: Side, quantity: Decimal, stop_price: Decimal) -> Self {
        Self::new(symbol, side, OrderType::TakeProfit).with_quantity(quantity).with_stop_price(stop_price)
    }

    /// `TAKE_PROFIT_LIMIT`, good till canceled.
    #[must_use]
    pub fn take_profit_limit(
        symbol: impl Into<String>,
        side: Side,
        quantity: Decimal,
        price: Decimal,
        stop_price: Decimal,
    ) -> Self {
        Self::new(symbol, side, OrderType::TakeProfitLimit)
            .with_quantity(quantity)
            .with_price(price)
            .with_stop_price(stop_price)
            .with_time_in_force(TimeInForce::Gtc)
    }

    /// A pegged `LIMIT` order, good till canceled: its price is the best price of the book on
    /// its own side (`PRIMARY_PEG`: the best bid for a buy) or on the other side (`MARKET_PEG`)
    /// when it reaches the exchange (Binance's pegged-orders FAQ). The price is only known from
    /// the exchange's answer (`peggedPrice`); a buy needs a price bound to reserve its funds
    /// by (see [`Intent::with_price_bound`](crate::Intent::with_price_bound)).
    ///
    /// ```
    /// use aegis_exchange::{OrderRequest, PegPriceType, Side};
    /// use rust_decimal_macros::dec;
    /// let o = OrderRequest::pegged("BTCUSDT", Side::Sell, dec!(0.5), PegPriceType::PrimaryPeg).with_peg_offset(2);
    /// assert_eq!(o.check_parameters(), Ok(()));
    /// assert_eq!(o.to_string(), "LIMIT SELL BTCUSDT quantity=0.5 pegPriceType=PRIMARY_PEG pegOffsetValue=2 timeInForce=GTC");
    /// ```
    #[must_use]
    pub fn pegged(symbol: impl Into<String>, side: Side, quantity: Decimal, peg: PegPriceType) -> Self {
        Self::new(symbol, side, OrderType::Limit)
            .with_quantity(quantity)
            .with_time_in_force(TimeInForce::Gtc)
            .with_peg(peg)
    }

    /// `LIMIT_MAKER`: post-only; the exchange rejects it if it would take.
    #[must_use]
    pub fn limit_maker(symbol: impl Into<String>, side: Side, quantity: Decimal, price: Decimal) -> Self {
        Self::new(symbol, side, OrderType::LimitMaker).with_quantity(quantity).with_price(price)
    }

    /// Sets `quantity` (base asset).
    #[must_use]
    pub fn with_quantity(mut self, quantity: Decimal) -> Self {
        self.quantity = Some(quantity);
        self
    }

    /// Sets `quoteOrderQty` (MARKET only).
    #[must_use]
    pub fn with_quote_order_qty(mut self, quote_order_qty: Decimal) -> Self {
        self.extra_mut().quote_order_qty = Some(quote_order_qty);
        self
    }

    /// Sets `price`.
    #[must_use]
    pub fn with_price(mut self, price: Decimal) -> Self {
        self.price = Some(price);
        self
    }

    /// Sets `stopPrice`.
    #[must_use]
    pub fn with_stop_price(mut self, stop_price: Decimal) -> Self {
        self.extra_mut().stop_price = Some(stop_price);
        self
    }

    /// Sets `trailingDelta` in basis points (1 = 0.01%).
    #[must_use]
    pub fn with_trailing_delta(mut self, bips: u64) -> Self {
        self.extra_mut().trailing_delta = Some(bips);
        self
    }

    /// Sets `icebergQty`: the visible part of an iceberg order.
    #[must_use]
    pub fn with_iceberg_qty(mut self, iceberg_qty: Decimal) -> Self {
        self.extra_mut().iceberg_qty = Some(iceberg_qty);
        self
    }

    /// Sets `timeInForce`.
    #[must_use]
    pub fn with_time_in_force(mut self, tif: TimeInForce) -> Self {
        self.time_in_force = self.store(Some(tif), |e| &mut e.unknown_time_in_force);
        self
    }

    /// Removes `timeInForce`.
    #[must_use]
    pub fn without_time_in_force(mut self) -> Self {
        self.time_in_force = self.store(None, |e| &mut e.unknown_time_in_force);
        self
    }

    /// Sets `newClientOrderId`, the idempotency key; the engine always sets one.
    #[must_use]
    pub fn with_client_order_id(mut self, id: ClientOrderId) -> Self {
        self.new_client_order_id = Some(id);
        self
    }

    /// Sets `selfTradePreventionMode`.
    #[must_use]
    pub fn with_self_trade_prevention_mode(mut self, mode: SelfTradePreventionMode) -> Self {
        self.extra_mut().self_trade_prevention_mode = Some(mode);
        self
    }

    /// Sets `newOrderRespType`.
    #[must_use]
    pub fn with_response_type(mut self, resp: OrderResponseType) -> Self {
        self.extra_mut().new_order_resp_type = Some(resp);
        self
    }

    /// Pegs the price (`pegPriceType`): allowed on `LIMIT`, `LIMIT_MAKER` (`PRIMARY_PEG` only),
    /// `STOP_LOSS_LIMIT` and `TAKE_PROFIT_LIMIT`; `price` becomes optional.
    #[must_use]
    pub fn with_peg(mut self, peg: PegPriceType) -> Self {
        self.set_extra(false, |e| e.peg_price_type = Some(peg));
        self
    }

    /// Pegs `levels` price levels deeper into the book than the best one (`pegOffsetType=
    /// PRICE_LEVEL`, `pegOffsetValue`; at most 100).
    #[must_use]
    pub fn with_peg_offset(mut self, levels: u8) -> Self {
        self.set_extra(false, |e| e.peg_offset_levels = Some(levels));
        self
    }

    /// Labels the order as part of a strategy (`strategyId`).
    #[must_use]
    pub fn with_strategy_id(mut self, id: u64) -> Self {
        self.set_extra(false, |e| e.strategy_id = Some(id));
        self
    }

    /// Labels the order's strategy type (`strategyType`, at least 1,000,000).
    #[must_use]
    pub fn with_strategy_type(mut self, kind: u32) -> Self {
        self.set_extra(false, |e| e.strategy_type = Some(kind));
        self
    }

    /// Whether it carries a parameter only the full check knows (a peg, a strategy type).
    pub(crate) fn has_rules_of_its_own(&self) -> bool {
        self.extra
            .as_deref()
            .is_some_and(|e| e.peg_price_type.is_some() || e.peg_offset_levels.is_some() || e.strategy_type.is_some())
    }

    /// `pegPriceType`, for a pegged order.
    #[must_use]
    pub fn peg_price_type(&self) -> Option<&PegPriceType> {
        self.extra.as_deref().and_then(|e| e.peg_price_type.as_ref())
    }

    /// `pegOffsetValue` (price levels), for a pegged order with an offset.
    #[must_use]
    pub fn peg_offset_levels(&self) -> Option<u8> {
        self.extra.as_deref().and_then(|e| e.peg_offset_levels)
    }

    /// `strategyId`.
    #[must_use]
    pub fn strategy_id(&self) -> Option<u64> {
        self.extra.as_deref().and_then(|e| e.strategy_id)
    }

    /// `strategyType`.
    #[must_use]
    pub fn strategy_type(&self) -> Option<u32> {
        self.extra.as_deref().and_then(|e| e.strategy_type)
    }

    /// `symbol`.
    #[must_use]
    pub fn symbol(&self) -> &str {
        &self.symbol
    }
    /// `side`.
    #[must_use]
    pub fn side(&self) -> &Side {
        self.load(self.side, |e| &e.unknown_side).unwrap_or(Side::UNKNOWN)
    }
    /// `type`.
    #[must_use]
    pub fn order_type(&self) -> &OrderType {
        self.load(self.order_type, |e| &e.unknown_order_type).unwrap_or(OrderType::UNKNOWN)
    }
    /// `timeInForce`.
    #[must_use]
    pub fn time_in_force(&self) -> Option<&TimeInForce> {
        self.load(self.time_in_force, |e| &e.unknown_time_in_force)
    }
    /// `quantity`.
    #[must_use]
    pub fn quantity(&self) -> Option<Decimal> {
        self.quantity
    }
    /// `quoteOrderQty`.
    #[must_use]
    pub fn quote_order_qty(&self) -> Option<Decimal> {
        self.extra.as_ref().and_then(|e| e.quote_order_qty)
    }
    /// `price`.
    #[must_use]
    pub fn price(&self) -> Option<Decimal> {
        self.price
    }
    /// `stopPrice`.
    #[must_use]
    pub fn stop_price(&self) -> Option<Decimal> {
        self.extra.as_ref().and_then(|e| e.stop_price)
    }
    /// `trailingDelta` (BIPS).
    #[must_use]
    pub fn trailing_delta(&self) -> Option<u64> {
        self.extra.as_ref().and_then(|e| e.trailing_delta)
    }
    /// `icebergQty`.
    #[must_use]
    pub fn iceberg_qty(&self) -> Option<Decimal> {
        self.extra.as_ref().and_then(|e| e.iceberg_qty)
    }
    /// `newClientOrderId`.
    #[must_use]
    pub fn client_order_id(&self) -> Option<&ClientOrderId> {
        self.new_client_order_id.as_ref()
    }
    /// `selfTradePreventionMode`.
    #[must_use]
    pub fn self_trade_prevention_mode(&self) -> Option<&SelfTradePreventionMode> {
        self.extra.as_ref().and_then(|e| e.self_trade_prevention_mode.as_ref())
    }
    /// `newOrderRespType`.
    #[must_use]
    pub fn response_type(&self) -> Option<&OrderResponseType> {
        self.extra.as_ref().and_then(|e| e.new_order_resp_type.as_ref())
    }

    pub(crate) fn set_quantity(&mut self, v: Option<Decimal>) {
        self.quantity = v;
    }
    pub(crate) fn set_quote_order_qty(&mut self, v: Option<Decimal>) {
        self.set_extra(v.is_none(), |e| e.quote_order_qty = v);
    }
    pub(crate) fn set_client_order_id(&mut self, id: ClientOrderId) {
        self.new_client_order_id = Some(id);
    }
    pub(crate) fn set_price(&mut self, v: Option<Decimal>) {
        self.price = v;
    }
    pub(crate) fn set_stop_price(&mut self, v: Option<Decimal>) {
        self.set_extra(v.is_none(), |e| e.stop_price = v);
    }
    pub(crate) fn set_iceberg_qty(&mut self, v: Option<Decimal>) {
        self.set_extra(v.is_none(), |e| e.iceberg_qty = v);
    }

    /// The code of an enum value (see the struct's fields); an `Unknown` value goes into
    /// `extra`'s slot, which is emptied otherwise.
    fn store<T: Coded>(&mut self, value: Option<T>, slot: fn(&mut Extra) -> &mut Option<T>) -> u8 {
        let (code, unknown) = match value {
            None => (ABSENT, None),
            Some(v) => match v.known_index() {
                Some(index) => (index, None),
                None => (IN_EXTRA, Some(v)),
            },
        };
        let clearing = unknown.is_none();
        self.set_extra(clearing, |e| *slot(e) = unknown);
        code
    }

    /// The enum value behind a code.
    fn load<T: Coded>(&self, code: u8, slot: fn(&Extra) -> &Option<T>) -> Option<&T> {
        if code == ABSENT {
            return None;
        }
        match T::KNOWN.get(usize::from(code)) {
            Some(known) => Some(known),
            None => Some(self.extra.as_deref().and_then(|e| slot(e).as_ref()).unwrap_or(T::UNKNOWN)),
        }
    }

    /// The boxed parameters, created on first use.
    fn extra_mut(&mut self) -> &mut Extra {
        self.extra.get_or_insert_with(Box::default)
    }

    /// Changes a boxed parameter (`clearing` it: nothing to do without a box), dropping the box
    /// again once it holds nothing.
    fn set_extra(&mut self, clearing: bool, change: impl FnOnce(&mut Extra)) {
        if clearing && self.extra.is_none() {
            return;
        }
        change(self.extra_mut());
        if self.extra.as_deref().is_some_and(Extra::is_empty) {
            self.extra = None;
        }
    }

    /// Applies the order type's mandatory and forbidden parameters (SPEC §6.1) and the value
    /// rules that hold on every symbol (amounts positive and within the wire range, iceberg
    /// below quantity and GTC).
    ///
    /// # Errors
    /// The first [`OrderError`] found, naming the parameter.
    pub fn check_parameters(&self) -> Result<(), OrderError> {
        use OrderType as T;
        if self.symbol.is_empty() {
            return Err(OrderError::MissingParameter("symbol"));
        }
        if !self.side().is_known() {
            return Err(OrderError::InvalidSide);
        }
        if !self.order_type().is_known() {
            return Err(OrderError::InvalidOrderType);
        }
        if self.time_in_force().is_some_and(|t| !t.is_known()) {
            return Err(OrderError::InvalidTimeInForce);
        }
        let t = self.order_type();
        let limit_priced = matches!(t, T::Limit | T::StopLossLimit | T::TakeProfitLimit | T::LimitMaker);
        let needs_tif = matches!(t, T::Limit | T::StopLossLimit | T::TakeProfitLimit);
        let triggered = t.is_algo();

        // Mandatory parameters.
        if needs_tif && self.time_in_force().is_none() {
            return Err(OrderError::MissingParameter("timeInForce"));
        }
        if *t == T::Market {
            match (self.quantity, self.quote_order_qty()) {
                (None, None) => return Err(OrderError::MissingEither("quantity", "quoteOrderQty")),
                (Some(_), Some(_)) => return Err(OrderError::UnexpectedParameter("quoteOrderQty")),
                _ => {}
            }
        } else if self.quantity.is_none() {
            return Err(OrderError::MissingParameter("quantity"));
        }
        let peg = self.peg_price_type();
        if limit_priced && self.price.is_none() && peg.is_none() {
            return Err(OrderError::MissingParameter("price"));
        }
        if triggered && self.stop_price().is_none() && self.trailing_delta().is_none() {
            return Err(OrderError::MissingEither("stopPrice", "trailingDelta"));
        }

        // Forbidden parameters.
        if !needs_tif && self.time_in_force().is_some() {
            return Err(OrderError::TimeInForceNotRequired);
        }
        if *t != T::Market && self.quote_order_qty().is_some() {
            return Err(OrderError::UnexpectedParameter("quoteOrderQty"));
        }
        if !limit_priced && self.price.is_some() {
            return Err(OrderError::UnexpectedParameter("price"));
        }
        if !triggered && self.stop_price().is_some() {
            return Err(OrderError::UnexpectedParameter("stopPrice"));
        }
        if !triggered && self.trailing_delta().is_some() {
            return Err(OrderError::UnexpectedParameter("trailingDelta"));
        }
        if !limit_priced && self.iceberg_qty().is_some() {
            return Err(OrderError::UnexpectedParameter("icebergQty"));
        }

        // Values.
        for (parameter, value) in [
            ("quantity", self.quantity),
            ("quoteOrderQty", self.quote_order_qty()),
            ("price", self.price),
            ("stopPrice", self.stop_price()),
            ("icebergQty", self.iceberg_qty()),
        ] {
            if let Some(value) = value {
                if (value.is_sign_negative() && !value.is_zero()) || !within_wire_range(value) {
                    return Err(OrderError::OutOfRange { parameter, value });
                }
                if value.is_zero() {
                    return Err(OrderError::Zero { parameter });
                }
            }
        }
        if let Some(peg) = peg {
            if !peg.is_known() {
                return Err(OrderError::InvalidPegPriceType);
            }
            if !limit_priced {
                return Err(OrderError::PegNotAllowedForType);
            }
            if *t == T::LimitMaker && *peg == PegPriceType::MarketPeg {
                return Err(OrderError::PegNotAllowedWithType);
            }
            if *t == T::Limit
                && *peg == PegPriceType::PrimaryPeg
                && self.time_in_force().is_some_and(|tif| *tif != TimeInForce::Gtc)
            {
                return Err(OrderError::PegRequiresGtc);
            }
        }
        match self.peg_offset_levels() {
            Some(_) if peg.is_none() => return Err(OrderError::UnexpectedParameter("pegOffsetValue")),
            Some(levels) if levels > MAX_PEG_OFFSET_LEVELS => return Err(OrderError::PegOffsetOutOfRange { levels }),
            _ => {}
        }
        if let Some(strategy_type) = self.strategy_type()
            && strategy_type < MIN_STRATEGY_TYPE
        {
            return Err(OrderError::BadStrategyType { strategy_type });
        }
        if self.trailing_delta() == Some(0) {
            return Err(OrderError::Zero { parameter: "trailingDelta" });
        }
        if let (Some(iceberg), Some(qty)) = (self.iceberg_qty(), self.quantity) {
            if self.time_in_force().is_some_and(|t| *t != TimeInForce::Gtc) {
                return Err(OrderError::IcebergRequiresGtc);
            }
            if iceberg >= qty {
                return Err(OrderError::IcebergQtyExceedsQty);
            }
        }
        Ok(())
    }
}

impl std::fmt::Display for OrderRequest {
    /// A compact, log-friendly line: `LIMIT BUY BTCUSDT quantity=0.14977 price=65432.51 timeInForce=GTC`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::num::Wire;
        write!(f, "{} {} {}", self.order_type(), self.side(), self.symbol)?;
        for (name, value) in [
            ("quantity", self.quantity),
            ("quoteOrderQty", self.quote_order_qty()),
            ("price", self.price),
            ("stopPrice", self.stop_price()),
            ("icebergQty", self.iceberg_qty()),
        ] {
            if let Some(v) = value {
                write!(f, " {name}={}", Wire(v))?;
            }
        }
        if let Some(d) = self.trailing_delta() {
            write!(f, " trailingDelta={d}")?;
        }
        if let Some(peg) = self.peg_price_type() {
            write!(f, " pegPriceType={peg}")?;
        }
        if let Some(levels) = self.peg_offset_levels() {
            write!(f, " pegOffsetValue={levels}")?;
        }
        if let Some(t) = self.time_in_force() {
            write!(f, " timeInForce={t}")?;
        }
        if let Some(id) = &self.new_client_order_id {
            write!(f, " newClientOrderId={id}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn display_is_compact() {
        let o = OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.14977000), dec!(65432.51));
        assert_eq!(o.to_string(), "LIMIT BUY BTCUSDT quantity=0.14977 price=65432.51 timeInForce=GTC");
    }

    #[test]
    fn rare_parameters_are_boxed_and_equality_stays_structural() {
        // The common shape moves in 120 bytes; the rare parameters live behind one pointer.
        assert!(std::mem::size_of::<OrderRequest>() <= 120, "{}", std::mem::size_of::<OrderRequest>());
        let plain = OrderRequest::stop_loss_limit("BTCUSDT", Side::Sell, dec!(1), dec!(60000), dec!(61000));
        assert_eq!(plain.stop_price(), Some(dec!(61000)));
        // Clearing the last boxed parameter gives back an order equal to one that never had it.
        let mut cleared = plain.clone();
        cleared.set_stop_price(None);
        let never = OrderRequest::new("BTCUSDT", Side::Sell, OrderType::StopLossLimit)
            .with_quantity(dec!(1))
            .with_price(dec!(60000))
            .with_time_in_force(TimeInForce::Gtc);
        assert_eq!(cleared, never);
        assert!(cleared.extra.is_none());
        // Clearing what was never set allocates nothing.
        let mut limit = OrderRequest::limit("BTCUSDT", Side::Buy, dec!(1), dec!(2));
        limit.set_iceberg_qty(None);
        assert!(limit.extra.is_none());
        // One of several cleared: the others stay.
        let mut both = plain.with_self_trade_prevention_mode(SelfTradePreventionMode::ExpireMaker);
        both.set_stop_price(None);
        assert_eq!(both.self_trade_prevention_mode(), Some(&SelfTradePreventionMode::ExpireMaker));
        assert_eq!(both.stop_price(), None);
        // Unknown enum values are kept as sent, and replacing one by a known value empties the box.
        let odd = OrderRequest::new("BTCUSDT", Side::Unknown("SHORT".into()), OrderType::Unknown("OCO".into()));
        assert_eq!(odd.side(), &Side::Unknown("SHORT".into()));
        assert_eq!(odd.order_type(), &OrderType::Unknown("OCO".into()));
        assert_eq!(odd.time_in_force(), None);
        let gtd = OrderRequest::limit("BTCUSDT", Side::Buy, dec!(1), dec!(2))
            .with_time_in_force(TimeInForce::Unknown("GTD".into()));
        assert_eq!(gtd.time_in_force(), Some(&TimeInForce::Unknown("GTD".into())));
        assert_eq!(gtd.check_parameters(), Err(OrderError::InvalidTimeInForce));
        let back = gtd.with_time_in_force(TimeInForce::Ioc);
        assert_eq!(back.time_in_force(), Some(&TimeInForce::Ioc));
        assert!(back.extra.is_none());
        assert_eq!(back.without_time_in_force().time_in_force(), None);
        // Every known value survives its one-byte code.
        for side in Side::ALL {
            for kind in OrderType::ALL {
                for tif in TimeInForce::ALL {
                    let o = OrderRequest::new("X", side.clone(), kind.clone()).with_time_in_force(tif.clone());
                    assert_eq!((o.side(), o.order_type(), o.time_in_force()), (side, kind, Some(tif)));
                    assert!(o.extra.is_none());
                }
            }
        }
        // Debug still lists every parameter by its own name.
        let shown = format!("{both:?}");
        assert!(shown.contains("self_trade_prevention_mode: Some(ExpireMaker)") && shown.contains("stop_price: None"));
    }

    #[test]
    fn wire_range_boundary() {
        assert!(within_wire_range(dec!(99999999999999999999)));
        assert!(!within_wire_range(dec!(100000000000000000000)));
        assert!(within_wire_range(dec!(99999999999999999999.99999999)));
        assert!(!within_wire_range(dec!(100000000000000000000.00000001)));
        assert!(within_wire_range(dec!(0.1234567890123456789)));
    }

    fn check(o: OrderRequest) -> Result<(), OrderError> {
        o.check_parameters()
    }

    #[test]
    fn every_constructor_yields_a_well_formed_order() {
        let s = "BTCUSDT";
        for o in [
            OrderRequest::limit(s, Side::Buy, dec!(1), dec!(2)),
            OrderRequest::market(s, Side::Buy, dec!(1)),
            OrderRequest::market_quote(s, Side::Buy, dec!(100)),
            OrderRequest::stop_loss(s, Side::Sell, dec!(1), dec!(2)),
            OrderRequest::stop_loss_limit(s, Side::Sell, dec!(1), dec!(2), dec!(3)),
            OrderRequest::take_profit(s, Side::Sell, dec!(1), dec!(2)),
            OrderRequest::take_profit_limit(s, Side::Sell, dec!(1), dec!(2), dec!(3)),
            OrderRequest::limit_maker(s, Side::Sell, dec!(1), dec!(2)),
        ] {
            assert_eq!(check(o.clone()), Ok(()), "{o:?}");
        }
    }

    #[test]
    fn mandatory_parameters_are_named() {
        let s = "BTCUSDT";
        assert_eq!(
            check(OrderRequest::new("", Side::Buy, OrderType::Market)),
            Err(OrderError::MissingParameter("symbol"))
        );
        assert_eq!(
            check(OrderRequest::new(s, Side::Buy, OrderType::Market)),
            Err(OrderError::MissingEither("quantity", "quoteOrderQty"))
        );
        assert_eq!(
            check(OrderRequest::limit(s, Side::Buy, dec!(1), dec!(1)).without_time_in_force()),
            Err(OrderError::MissingParameter("timeInForce"))
        );
        assert_eq!(
            check(OrderRequest::new(s, Side::Buy, OrderType::LimitMaker).with_quantity(dec!(1))),
            Err(OrderError::MissingParameter("price"))
        );
        assert_eq!(
            check(OrderRequest::new(s, Side::Buy, OrderType::StopLoss).with_price(dec!(1))),
            Err(OrderError::MissingParameter("quantity"))
        );
        assert_eq!(
            check(OrderRequest::new(s, Side::Buy, OrderType::TakeProfit).with_quantity(dec!(1))),
            Err(OrderError::MissingEither("stopPrice", "trailingDelta"))
        );
        // trailingDelta alone satisfies the trigger.
        assert_eq!(
            check(
                OrderRequest::new(s, Side::Buy, OrderType::TakeProfit).with_quantity(dec!(1)).with_trailing_delta(100)
            ),
            Ok(())
        );
    }

    #[test]
    fn forbidden_parameters_are_named() {
        let s = "BTCUSDT";
        assert_eq!(
            check(OrderRequest::market(s, Side::Buy, dec!(1)).with_quote_order_qty(dec!(5))),
            Err(OrderError::UnexpectedParameter("quoteOrderQty"))
        );
        assert_eq!(
            check(OrderRequest::market(s, Side::Buy, dec!(1)).with_time_in_force(TimeInForce::Gtc)),
            Err(OrderError::TimeInForceNotRequired)
        );
        assert_eq!(
            check(OrderRequest::limit_maker(s, Side::Buy, dec!(1), dec!(1)).with_time_in_force(TimeInForce::Gtc)),
            Err(OrderError::TimeInForceNotRequired)
        );
        assert_eq!(
            check(OrderRequest::limit(s, Side::Buy, dec!(1), dec!(1)).with_quote_order_qty(dec!(1))),
            Err(OrderError::UnexpectedParameter("quoteOrderQty"))
        );
        assert_eq!(
            check(OrderRequest::stop_loss(s, Side::Buy, dec!(1), dec!(1)).with_price(dec!(1))),
            Err(OrderError::UnexpectedParameter("price"))
        );
        assert_eq!(
            check(OrderRequest::limit(s, Side::Buy, dec!(1), dec!(1)).with_stop_price(dec!(1))),
            Err(OrderError::UnexpectedParameter("stopPrice"))
        );
        assert_eq!(
            check(OrderRequest::limit(s, Side::Buy, dec!(1), dec!(1)).with_trailing_delta(5)),
            Err(OrderError::UnexpectedParameter("trailingDelta"))
        );
        assert_eq!(
            check(OrderRequest::market(s, Side::Buy, dec!(1)).with_iceberg_qty(dec!(0.1))),
            Err(OrderError::UnexpectedParameter("icebergQty"))
        );
    }

    #[test]
    fn pegs_and_strategies_follow_binances_rules() {
        use PegPriceType::{MarketPeg, PrimaryPeg};
        let s = "BTCUSDT";
        let pegged = |kind: OrderType, peg: PegPriceType| {
            OrderRequest::new(s, Side::Buy, kind).with_quantity(dec!(1)).with_peg(peg)
        };
        // Price becomes optional on the peggable types.
        assert_eq!(check(pegged(OrderType::Limit, PrimaryPeg).with_time_in_force(TimeInForce::Gtc)), Ok(()));
        assert_eq!(check(pegged(OrderType::Limit, MarketPeg).with_time_in_force(TimeInForce::Ioc)), Ok(()));
        assert_eq!(check(pegged(OrderType::LimitMaker, PrimaryPeg)), Ok(()));
        let stop =
            pegged(OrderType::StopLossLimit, PrimaryPeg).with_stop_price(dec!(2)).with_time_in_force(TimeInForce::Gtc);
        assert_eq!(check(stop.clone()), Ok(()));
        // ... and still mandatory without a peg.
        assert_eq!(
            check(OrderRequest::new(s, Side::Buy, OrderType::LimitMaker).with_quantity(dec!(1))),
            Err(OrderError::MissingParameter("price"))
        );
        // Binance's refusals.
        assert_eq!(check(pegged(OrderType::Market, PrimaryPeg)), Err(OrderError::PegNotAllowedForType));
        assert_eq!(
            check(pegged(OrderType::StopLoss, PrimaryPeg).with_stop_price(dec!(2))),
            Err(OrderError::PegNotAllowedForType)
        );
        assert_eq!(check(pegged(OrderType::LimitMaker, MarketPeg)), Err(OrderError::PegNotAllowedWithType));
        assert_eq!(
            check(pegged(OrderType::Limit, PrimaryPeg).with_time_in_force(TimeInForce::Ioc)),
            Err(OrderError::PegRequiresGtc)
        );
        assert_eq!(
            check(
                pegged(OrderType::Limit, PegPriceType::Unknown("MID_PEG".into())).with_time_in_force(TimeInForce::Gtc)
            ),
            Err(OrderError::InvalidPegPriceType)
        );
        let deep = pegged(OrderType::LimitMaker, PrimaryPeg);
        assert_eq!(check(deep.clone().with_peg_offset(MAX_PEG_OFFSET_LEVELS)), Ok(()));
        assert_eq!(check(deep.with_peg_offset(101)), Err(OrderError::PegOffsetOutOfRange { levels: 101 }));
        assert_eq!(
            check(OrderRequest::limit(s, Side::Buy, dec!(1), dec!(1)).with_peg_offset(1)),
            Err(OrderError::UnexpectedParameter("pegOffsetValue"))
        );
        let labelled = OrderRequest::limit(s, Side::Buy, dec!(1), dec!(1)).with_strategy_id(u64::MAX);
        assert_eq!(check(labelled.clone().with_strategy_type(MIN_STRATEGY_TYPE)), Ok(()));
        assert_eq!(
            check(labelled.with_strategy_type(999_999)),
            Err(OrderError::BadStrategyType { strategy_type: 999_999 })
        );
        // Codes as Binance answers them.
        assert_eq!(OrderError::PegNotAllowedForType.code(), -2010);
        assert_eq!(OrderError::InvalidPegPriceType.code_name(), "INVALID_PEG_PRICE_TYPE");
        assert_eq!(OrderError::BadStrategyType { strategy_type: 1 }.code(), -1134);
        assert_eq!(OrderError::PegOffsetOutOfRange { levels: 101 }.code(), -1130);
        // Shown and printed.
        assert!(format!("{stop:?}").contains("peg_price_type: Some(PrimaryPeg)"));
        assert!(stop.to_string().contains("pegPriceType=PRIMARY_PEG"));
    }

    #[test]
    fn values_are_checked() {
        let s = "BTCUSDT";
        assert_eq!(check(OrderRequest::market(s, Side::Buy, dec!(0))), Err(OrderError::Zero { parameter: "quantity" }));
        assert_eq!(
            check(OrderRequest::market(s, Side::Buy, dec!(-1))),
            Err(OrderError::OutOfRange { parameter: "quantity", value: dec!(-1) })
        );
        assert_eq!(
            check(OrderRequest::limit(s, Side::Buy, dec!(1), dec!(100000000000000000000))),
            Err(OrderError::OutOfRange { parameter: "price", value: dec!(100000000000000000000) })
        );
        assert_eq!(
            check(OrderRequest::limit(s, Side::Buy, dec!(1), dec!(1)).with_iceberg_qty(dec!(1))),
            Err(OrderError::IcebergQtyExceedsQty)
        );
        assert_eq!(
            check(
                OrderRequest::limit(s, Side::Buy, dec!(1), dec!(1))
                    .with_iceberg_qty(dec!(0.5))
                    .with_time_in_force(TimeInForce::Ioc)
            ),
            Err(OrderError::IcebergRequiresGtc)
        );
        assert_eq!(
            check(OrderRequest::new(s, Side::Buy, OrderType::StopLoss).with_quantity(dec!(1)).with_trailing_delta(0)),
            Err(OrderError::Zero { parameter: "trailingDelta" })
        );
        assert_eq!(check(OrderRequest::market(s, Side::Unknown("HOLD".into()), dec!(1))), Err(OrderError::InvalidSide));
        assert_eq!(OrderError::Zero { parameter: "quantity" }.to_string(), "Invalid quantity.");
        assert_eq!(OrderError::Zero { parameter: "quantity" }.code(), -1013);
    }
}
