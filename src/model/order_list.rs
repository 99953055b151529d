//! Order lists: an OCO pair (one-cancels-the-other), as `POST /api/v3/orderList/oco` takes it;
//! an OTO / OTOCO (a working order that, once filled, places one pending order or an OCO pair)
//! and their "one pays the other" forms OPO / OPOCO (`POST /api/v3/orderList/{oto,otoco,opo,opoco}`).

use std::fmt;

use rust_decimal::Decimal;

use super::{
    ClientOrderId, OrderRequest, OrderResponseType, OrderType, PegPriceType, SelfTradePreventionMode, Side, TimeInForce,
};

/// One order of an order list: its type and prices (the list gives the symbol, side and
/// quantity).
///
/// ```
/// use aegis_exchange::{ListLeg, OrderType, TimeInForce};
/// use rust_decimal_macros::dec;
/// let take_profit = ListLeg::limit_maker(dec!(70000));
/// let stop = ListLeg::stop_loss_limit(dec!(59990), dec!(60000), TimeInForce::Gtc);
/// assert_eq!(stop.order_type(), &OrderType::StopLossLimit);
/// assert_eq!((stop.price(), stop.stop_price()), (Some(dec!(59990)), Some(dec!(60000))));
/// assert_eq!(take_profit.price(), Some(dec!(70000)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListLeg {
    order_type: OrderType,
    price: Option<Decimal>,
    stop_price: Option<Decimal>,
    time_in_force: Option<TimeInForce>,
    iceberg_qty: Option<Decimal>,
    trailing_delta: Option<u64>,
    client_order_id: Option<ClientOrderId>,
    /// What few legs carry (a peg, strategy labels), boxed so that a leg stays small.
    extra: Option<Box<LegExtra>>,
}

/// A leg's rarely given parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct LegExtra {
    peg_price_type: Option<PegPriceType>,
    peg_offset_levels: Option<u8>,
    strategy_id: Option<u64>,
    strategy_type: Option<u32>,
}

impl ListLeg {
    fn new(order_type: OrderType) -> Self {
        Self {
            order_type,
            price: None,
            stop_price: None,
            time_in_force: None,
            iceberg_qty: None,
            trailing_delta: None,
            client_order_id: None,
            extra: None,
        }
    }

    /// A pegged `LIMIT_MAKER` (no price of its own: the best price of the book on its side when
    /// it is placed, see [`OrderRequest::pegged`]); other leg types peg with
    /// [`with_peg`](Self::with_peg).
    #[must_use]
    pub fn pegged_maker() -> Self {
        Self::new(OrderType::LimitMaker).with_peg(PegPriceType::PrimaryPeg)
    }

    /// Pegs the leg's price (`abovePegPriceType`, `workingPegPriceType`, ...): Binance's rules
    /// for pegged orders apply to the leg; a pegged stop-limit takes its price when it
    /// triggers, a pending leg when it is placed.
    #[must_use]
    pub fn with_peg(mut self, peg: PegPriceType) -> Self {
        self.extra_mut().peg_price_type = Some(peg);
        self
    }

    fn extra_mut(&mut self) -> &mut LegExtra {
        self.extra.get_or_insert_with(Box::default)
    }

    /// Pegs `levels` price levels deeper than the best (`...PegOffsetType=PRICE_LEVEL`,
    /// `...PegOffsetValue`).
    #[must_use]
    pub fn with_peg_offset(mut self, levels: u8) -> Self {
        self.extra_mut().peg_offset_levels = Some(levels);
        self
    }

    /// The leg's `strategyId`.
    #[must_use]
    pub fn with_strategy_id(mut self, id: u64) -> Self {
        self.extra_mut().strategy_id = Some(id);
        self
    }

    /// The leg's `strategyType` (at least 1,000,000).
    #[must_use]
    pub fn with_strategy_type(mut self, kind: u32) -> Self {
        self.extra_mut().strategy_type = Some(kind);
        self
    }

    /// The leg without a price of its own: a pegged leg takes it from the book (Binance makes
    /// `price` optional on pegged orders).
    ///
    /// ```
    /// use aegis_exchange::{ListLeg, PegPriceType, TimeInForce};
    /// use rust_decimal_macros::dec;
    /// let stop = ListLeg::stop_loss_limit(dec!(1), dec!(60000), TimeInForce::Gtc)
    ///     .with_peg(PegPriceType::PrimaryPeg)
    ///     .without_price();
    /// assert_eq!((stop.price(), stop.stop_price()), (None, Some(dec!(60000))));
    /// ```
    #[must_use]
    pub fn without_price(mut self) -> Self {
        self.price = None;
        self
    }

    /// The leg's peg, if pegged.
    #[must_use]
    pub fn peg_price_type(&self) -> Option<&PegPriceType> {
        self.extra.as_deref().and_then(|e| e.peg_price_type.as_ref())
    }

    /// The leg's peg offset (price levels), if any.
    #[must_use]
    pub fn peg_offset_levels(&self) -> Option<u8> {
        self.extra.as_deref().and_then(|e| e.peg_offset_levels)
    }

    /// The leg's `strategyId`, if any.
    #[must_use]
    pub fn strategy_id(&self) -> Option<u64> {
        self.extra.as_deref().and_then(|e| e.strategy_id)
    }

    /// The leg's `strategyType`, if any.
    #[must_use]
    pub fn strategy_type(&self) -> Option<u32> {
        self.extra.as_deref().and_then(|e| e.strategy_type)
    }

    /// A `LIMIT` at `price` (an OTO's working order, or its pending one).
    #[must_use]
    pub fn limit(price: Decimal, time_in_force: TimeInForce) -> Self {
        Self { price: Some(price), time_in_force: Some(time_in_force), ..Self::new(OrderType::Limit) }
    }

    /// A `MARKET` order (only as an OTO's pending order: it executes when the working order has
    /// filled).
    #[must_use]
    pub fn market() -> Self {
        Self::new(OrderType::Market)
    }

    /// A trailing stop: `trailingDelta` in basis points (with or without a stop price).
    #[must_use]
    pub fn with_trailing_delta(mut self, bips: u64) -> Self {
        self.trailing_delta = Some(bips);
        self
    }

    /// A `LIMIT_MAKER` at `price` (a take-profit that rests on the book).
    #[must_use]
    pub fn limit_maker(price: Decimal) -> Self {
        Self { price: Some(price), ..Self::new(OrderType::LimitMaker) }
    }

    /// A `STOP_LOSS` (market once `stop_price` trades).
    #[must_use]
    pub fn stop_loss(stop_price: Decimal) -> Self {
        Self { stop_price: Some(stop_price), ..Self::new(OrderType::StopLoss) }
    }

    /// A `STOP_LOSS_LIMIT`: a limit order at `price` once `stop_price` trades.
    #[must_use]
    pub fn stop_loss_limit(price: Decimal, stop_price: Decimal, time_in_force: TimeInForce) -> Self {
        Self {
            price: Some(price),
            stop_price: Some(stop_price),
            time_in_force: Some(time_in_force),
            ..Self::new(OrderType::StopLossLimit)
        }
    }

    /// A `TAKE_PROFIT` (market once `stop_price` trades).
    #[must_use]
    pub fn take_profit(stop_price: Decimal) -> Self {
        Self { stop_price: Some(stop_price), ..Self::new(OrderType::TakeProfit) }
    }

    /// A `TAKE_PROFIT_LIMIT`: a limit order at `price` once `stop_price` trades.
    #[must_use]
    pub fn take_profit_limit(price: Decimal, stop_price: Decimal, time_in_force: TimeInForce) -> Self {
        Self {
            price: Some(price),
            stop_price: Some(stop_price),
            time_in_force: Some(time_in_force),
            ..Self::new(OrderType::TakeProfitLimit)
        }
    }

    /// The leg's own client order id (`aboveClientOrderId` / `belowClientOrderId`).
    #[must_use]
    pub fn with_client_order_id(mut self, id: ClientOrderId) -> Self {
        self.client_order_id = Some(id);
        self
    }

    /// An iceberg leg (`GTC` only).
    #[must_use]
    pub fn with_iceberg_qty(mut self, qty: Decimal) -> Self {
        self.iceberg_qty = Some(qty);
        self
    }

    /// The type.
    #[must_use]
    pub fn order_type(&self) -> &OrderType {
        &self.order_type
    }
    /// The limit price, if any.
    #[must_use]
    pub fn price(&self) -> Option<Decimal> {
        self.price
    }
    /// The stop price, if any.
    #[must_use]
    pub fn stop_price(&self) -> Option<Decimal> {
        self.stop_price
    }
    /// The time in force, if any.
    #[must_use]
    pub fn time_in_force(&self) -> Option<&TimeInForce> {
        self.time_in_force.as_ref()
    }
    /// The iceberg quantity, if any.
    #[must_use]
    pub fn iceberg_qty(&self) -> Option<Decimal> {
        self.iceberg_qty
    }
    /// The trailing delta (basis points), if any.
    #[must_use]
    pub fn trailing_delta(&self) -> Option<u64> {
        self.trailing_delta
    }
    /// The leg's client order id, if set.
    #[must_use]
    pub fn client_order_id(&self) -> Option<&ClientOrderId> {
        self.client_order_id.as_ref()
    }

    /// The leg as a single order of `quantity` (when known) on `symbol`.
    fn request(
        &self,
        symbol: &str,
        side: &Side,
        quantity: Option<Decimal>,
        stp: Option<&SelfTradePreventionMode>,
    ) -> OrderRequest {
        let mut order = OrderRequest::new(symbol.to_owned(), side.clone(), self.order_type.clone());
        if let Some(q) = quantity {
            order = order.with_quantity(q);
        }
        if let Some(p) = self.price {
            order = order.with_price(p);
        }
        if let Some(p) = self.stop_price {
            order = order.with_stop_price(p);
        }
        if let Some(t) = &self.time_in_force {
            order = order.with_time_in_force(t.clone());
        }
        if let Some(q) = self.iceberg_qty {
            order = order.with_iceberg_qty(q);
        }
        if let Some(d) = self.trailing_delta {
            order = order.with_trailing_delta(d);
        }
        if let Some(id) = self.client_order_id {
            order = order.with_client_order_id(id);
        }
        if let Some(m) = stp {
            order = order.with_self_trade_prevention_mode(m.clone());
        }
        if let Some(peg) = self.peg_price_type() {
            order = order.with_peg(peg.clone());
        }
        if let Some(levels) = self.peg_offset_levels() {
            order = order.with_peg_offset(levels);
        }
        if let Some(id) = self.strategy_id() {
            order = order.with_strategy_id(id);
        }
        if let Some(kind) = self.strategy_type() {
            order = order.with_strategy_type(kind);
        }
        order
    }

    /// Whether the leg is the list's "profit" side: `LIMIT_MAKER`, `TAKE_PROFIT` or
    /// `TAKE_PROFIT_LIMIT` (the other leg of an OCO is a `STOP_LOSS` or `STOP_LOSS_LIMIT`).
    #[must_use]
    pub fn is_profit_side(&self) -> bool {
        matches!(self.order_type, OrderType::LimitMaker | OrderType::TakeProfit | OrderType::TakeProfitLimit)
    }

    /// The price the leg's place in an OCO's price relation is judged by: a limit leg's
    /// `price` (LIMIT_MAKER, TAKE_PROFIT_LIMIT), a stop's `stopPrice` otherwise.
    #[must_use]
    pub fn relation_price(&self) -> Option<Decimal> {
        match self.order_type {
            OrderType::LimitMaker | OrderType::TakeProfitLimit => self.price,
            _ => self.stop_price,
        }
    }
}

/// An OCO (`POST /api/v3/orderList/oco`): two orders for one `quantity`, the `above` one priced
/// above the market and the `below` one under it; when one trades or triggers, the exchange
/// cancels the other. One of them is a `LIMIT_MAKER` / `TAKE_PROFIT` / `TAKE_PROFIT_LIMIT`, the
/// other a `STOP_LOSS` / `STOP_LOSS_LIMIT`. Both lock the same funds, once.
///
/// ```
/// use aegis_exchange::{ClientOrderId, ListLeg, OcoRequest, Side, TimeInForce};
/// use rust_decimal_macros::dec;
/// // Sell 0.01 BTC at 70000 (take profit) or, if 60000 trades, at 59990 (stop loss).
/// let oco = OcoRequest::new(
///     "BTCUSDT",
///     Side::Sell,
///     dec!(0.01),
///     ListLeg::limit_maker(dec!(70000)),
///     ListLeg::stop_loss_limit(dec!(59990), dec!(60000), TimeInForce::Gtc),
/// )
/// .with_list_client_order_id(ClientOrderId::new("exit-1").unwrap());
/// assert_eq!(oco.legs().len(), 2);
/// assert_eq!(oco.leg_requests()[1].to_string(), "STOP_LOSS_LIMIT SELL BTCUSDT quantity=0.01 price=59990 stopPrice=60000 timeInForce=GTC");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OcoRequest {
    symbol: String,
    side: Side,
    quantity: Decimal,
    above: ListLeg,
    below: ListLeg,
    list_client_order_id: Option<ClientOrderId>,
    response_type: Option<OrderResponseType>,
    self_trade_prevention_mode: Option<SelfTradePreventionMode>,
}

impl OcoRequest {
    /// An OCO of `quantity` on `symbol`: `above` is the leg priced above the market, `below` the
    /// one under it.
    #[must_use]
    pub fn new(symbol: impl Into<String>, side: Side, quantity: Decimal, above: ListLeg, below: ListLeg) -> Self {
        Self {
            symbol: symbol.into(),
            side,
            quantity,
            above,
            below,
            list_client_order_id: None,
            response_type: None,
            self_trade_prevention_mode: None,
        }
    }

    /// The list's client order id (`listClientOrderId`).
    #[must_use]
    pub fn with_list_client_order_id(mut self, id: ClientOrderId) -> Self {
        self.list_client_order_id = Some(id);
        self
    }

    /// Sets the list's client order id.
    pub fn set_list_client_order_id(&mut self, id: ClientOrderId) {
        self.list_client_order_id = Some(id);
    }

    /// Sets the legs' client order ids (`above`, `below`).
    pub fn set_leg_client_order_ids(&mut self, above: ClientOrderId, below: ClientOrderId) {
        self.above.client_order_id = Some(above);
        self.below.client_order_id = Some(below);
    }

    /// The answer's shape (`newOrderRespType`).
    #[must_use]
    pub fn with_response_type(mut self, response_type: OrderResponseType) -> Self {
        self.response_type = Some(response_type);
        self
    }

    /// The self-trade prevention mode of both legs.
    #[must_use]
    pub fn with_self_trade_prevention_mode(mut self, mode: SelfTradePreventionMode) -> Self {
        self.self_trade_prevention_mode = Some(mode);
        self
    }

    /// The symbol.
    #[must_use]
    pub fn symbol(&self) -> &str {
        &self.symbol
    }
    /// The side of both legs.
    #[must_use]
    pub fn side(&self) -> &Side {
        &self.side
    }
    /// The quantity of both legs.
    #[must_use]
    pub fn quantity(&self) -> Decimal {
        self.quantity
    }
    /// The leg priced above the market.
    #[must_use]
    pub fn above(&self) -> &ListLeg {
        &self.above
    }
    /// The leg priced below the market.
    #[must_use]
    pub fn below(&self) -> &ListLeg {
        &self.below
    }
    /// The legs, above first.
    #[must_use]
    pub fn legs(&self) -> [&ListLeg; 2] {
        [&self.above, &self.below]
    }
    /// The list's client order id, if set.
    #[must_use]
    pub fn list_client_order_id(&self) -> Option<&ClientOrderId> {
        self.list_client_order_id.as_ref()
    }
    /// The answer's shape, if set.
    #[must_use]
    pub fn response_type(&self) -> Option<&OrderResponseType> {
        self.response_type.as_ref()
    }
    /// The self-trade prevention mode, if set.
    #[must_use]
    pub fn self_trade_prevention_mode(&self) -> Option<&SelfTradePreventionMode> {
        self.self_trade_prevention_mode.as_ref()
    }

    /// Each leg as the single order it is (symbol, side, quantity and the leg's own fields), above
    /// first: what the symbol's filters check.
    #[must_use]
    pub fn leg_requests(&self) -> [OrderRequest; 2] {
        [self.leg_request(&self.above), self.leg_request(&self.below)]
    }

    fn leg_request(&self, leg: &ListLeg) -> OrderRequest {
        leg.request(&self.symbol, &self.side, Some(self.quantity), self.self_trade_prevention_mode.as_ref())
    }
}

impl fmt::Display for OcoRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [above, below] = self.leg_requests();
        write!(
            f,
            "OCO {} {} quantity={} [above: {above}] [below: {below}]",
            self.side.as_str(),
            self.symbol,
            self.quantity
        )
    }
}

/// What an OTO's working order places once it has filled: one order, or an OCO pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PendingLegs {
    /// One pending order (OTO, OPO).
    One(ListLeg),
    /// An OCO pair (OTOCO, OPOCO): the leg above the market and the one below it.
    Pair {
        /// The leg priced above the market.
        above: ListLeg,
        /// The leg priced below it.
        below: ListLeg,
    },
}

/// Which list an [`OtoRequest`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OtoKind {
    /// One-triggers-the-other: a working order and one pending order.
    Oto,
    /// One-triggers-an-OCO: a working order and a pending OCO pair.
    Otoco,
    /// One-pays-the-other: an OTO whose pending SELL sells what the working BUY bought.
    Opo,
    /// One-pays-an-OCO: an OTOCO whose pending pair sells what the working BUY bought.
    Opoco,
}

impl OtoKind {
    /// The endpoint's last path segment, lower case (`oto`, `otoco`, `opo`, `opoco`); the
    /// WebSocket API's method is `orderList.place.<this>`.
    #[must_use]
    pub fn as_path(self) -> &'static str {
        match self {
            Self::Oto => "oto",
            Self::Otoco => "otoco",
            Self::Opo => "opo",
            Self::Opoco => "opoco",
        }
    }

    /// How many orders it adds to the unfilled order count (2 or 3).
    #[must_use]
    pub fn order_count(self) -> u32 {
        match self {
            Self::Oto | Self::Opo => 2,
            Self::Otoco | Self::Opoco => 3,
        }
    }

    /// Whether the pending orders sell what the working order bought (OPO, OPOCO).
    #[must_use]
    pub fn pays(self) -> bool {
        matches!(self, Self::Opo | Self::Opoco)
    }
}

/// An OTO family list: a **working** order (`LIMIT` or `LIMIT_MAKER`) on the book, and **pending**
/// orders the exchange places only once the working order has **fully** filled: one order (OTO)
/// or an OCO pair (OTOCO). In the "one pays the other" forms (OPO, OPOCO) the pending orders
/// have no quantity of their own: they sell what the working BUY received, and the exchange
/// locks what it receives for them as it fills.
///
/// Only the working order locks funds when the list is placed; a pending order locks its own
/// when it goes on the book.
///
/// ```
/// use aegis_exchange::{ListLeg, OtoKind, OtoRequest, Side, TimeInForce};
/// use rust_decimal_macros::dec;
/// // Buy 0.01 BTC at 60000; once bought, sell it at 66000 or, if 57000 trades, at market.
/// let otoco = OtoRequest::otoco(
///     "BTCUSDT",
///     Side::Buy,
///     dec!(0.01),
///     ListLeg::limit(dec!(60000), TimeInForce::Gtc),
///     Side::Sell,
///     dec!(0.01),
///     ListLeg::limit_maker(dec!(66000)),
///     ListLeg::stop_loss(dec!(57000)),
/// );
/// assert_eq!(otoco.kind(), OtoKind::Otoco);
/// assert_eq!(otoco.legs().len(), 3);
/// assert_eq!(otoco.leg_requests()[2].to_string(), "STOP_LOSS SELL BTCUSDT quantity=0.01 stopPrice=57000");
/// let opo = OtoRequest::opo("BTCUSDT", dec!(0.01), ListLeg::limit(dec!(60000), TimeInForce::Gtc), ListLeg::limit_maker(dec!(66000)));
/// assert_eq!(opo.pending_quantity(), None); // what the working order receives
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtoRequest {
    symbol: String,
    working_side: Side,
    working_quantity: Decimal,
    working: ListLeg,
    pending_side: Side,
    pending_quantity: Option<Decimal>,
    pending: PendingLegs,
    list_client_order_id: Option<ClientOrderId>,
    response_type: Option<OrderResponseType>,
    self_trade_prevention_mode: Option<SelfTradePreventionMode>,
}

impl OtoRequest {
    /// A list from its parts, the sides as given (an OPO's are checked by the symbol's rules,
    /// `-1222` / `-1223`); `pending_quantity` `None` makes it an OPO / OPOCO.
    #[must_use]
    #[allow(clippy::too_many_arguments)]
    pub fn from_parts(
        symbol: impl Into<String>,
        working_side: Side,
        working_quantity: Decimal,
        working: ListLeg,
        pending_side: Side,
        pending_quantity: Option<Decimal>,
        pending: PendingLegs,
    ) -> Self {
        Self {
            symbol: symbol.into(),
            working_side,
            working_quantity,
            working,
            pending_side,
            pending_quantity,
            pending,
            list_client_order_id: None,
            response_type: None,
            self_trade_prevention_mode: None,
        }
    }

    /// An OTO: `working` (`LIMIT` / `LIMIT_MAKER`) of `working_quantity`, then, once it has
    /// filled, `pending` of `pending_quantity` on `pending_side`.
    #[must_use]
    pub fn oto(
        symbol: impl Into<String>,
        working_side: Side,
        working_quantity: Decimal,
        working: ListLeg,
        pending_side: Side,
        pending_quantity: Decimal,
        pending: ListLeg,
    ) -> Self {
        Self::from_parts(
            symbol,
            working_side,
            working_quantity,
            working,
            pending_side,
            Some(pending_quantity),
            PendingLegs::One(pending),
        )
    }

    /// An OTOCO: as [`oto`](Self::oto), the pending order an OCO pair (`above` / `below`, as in
    /// an [`OcoRequest`]).
    #[must_use]
    #[allow(clippy::too_many_arguments)]
    pub fn otoco(
        symbol: impl Into<String>,
        working_side: Side,
        working_quantity: Decimal,
        working: ListLeg,
        pending_side: Side,
        pending_quantity: Decimal,
        above: ListLeg,
        below: ListLeg,
    ) -> Self {
        Self::from_parts(
            symbol,
            working_side,
            working_quantity,
            working,
            pending_side,
            Some(pending_quantity),
            PendingLegs::Pair { above, below },
        )
    }

    /// An OPO: a working BUY of `working_quantity`; once filled, `pending` SELLs what it received.
    #[must_use]
    pub fn opo(symbol: impl Into<String>, working_quantity: Decimal, working: ListLeg, pending: ListLeg) -> Self {
        Self::from_parts(symbol, Side::Buy, working_quantity, working, Side::Sell, None, PendingLegs::One(pending))
    }

    /// An OPOCO: a working BUY; once filled, an OCO pair SELLs what it received.
    #[must_use]
    pub fn opoco(
        symbol: impl Into<String>,
        working_quantity: Decimal,
        working: ListLeg,
        above: ListLeg,
        below: ListLeg,
    ) -> Self {
        Self::from_parts(
            symbol,
            Side::Buy,
            working_quantity,
            working,
            Side::Sell,
            None,
            PendingLegs::Pair { above, below },
        )
    }

    /// The list's client order id (`listClientOrderId`).
    #[must_use]
    pub fn with_list_client_order_id(mut self, id: ClientOrderId) -> Self {
        self.list_client_order_id = Some(id);
        self
    }

    /// The answer's shape (`newOrderRespType`).
    #[must_use]
    pub fn with_response_type(mut self, response_type: OrderResponseType) -> Self {
        self.response_type = Some(response_type);
        self
    }

    /// The self-trade prevention mode of every order of the list.
    #[must_use]
    pub fn with_self_trade_prevention_mode(mut self, mode: SelfTradePreventionMode) -> Self {
        self.self_trade_prevention_mode = Some(mode);
        self
    }

    /// Which list it is.
    #[must_use]
    pub fn kind(&self) -> OtoKind {
        match (&self.pending, self.pending_quantity.is_some()) {
            (PendingLegs::One(_), true) => OtoKind::Oto,
            (PendingLegs::Pair { .. }, true) => OtoKind::Otoco,
            (PendingLegs::One(_), false) => OtoKind::Opo,
            (PendingLegs::Pair { .. }, false) => OtoKind::Opoco,
        }
    }
    /// The symbol.
    #[must_use]
    pub fn symbol(&self) -> &str {
        &self.symbol
    }
    /// The working order's side.
    #[must_use]
    pub fn working_side(&self) -> &Side {
        &self.working_side
    }
    /// The working order's quantity.
    #[must_use]
    pub fn working_quantity(&self) -> Decimal {
        self.working_quantity
    }
    /// The working order.
    #[must_use]
    pub fn working(&self) -> &ListLeg {
        &self.working
    }
    /// The pending orders' side.
    #[must_use]
    pub fn pending_side(&self) -> &Side {
        &self.pending_side
    }
    /// The pending orders' quantity (`None` for OPO / OPOCO: what the working order receives).
    #[must_use]
    pub fn pending_quantity(&self) -> Option<Decimal> {
        self.pending_quantity
    }
    /// The pending order(s).
    #[must_use]
    pub fn pending(&self) -> &PendingLegs {
        &self.pending
    }
    /// The list's client order id, if set.
    #[must_use]
    pub fn list_client_order_id(&self) -> Option<&ClientOrderId> {
        self.list_client_order_id.as_ref()
    }
    /// The answer's shape, if set.
    #[must_use]
    pub fn response_type(&self) -> Option<&OrderResponseType> {
        self.response_type.as_ref()
    }
    /// The self-trade prevention mode, if set.
    #[must_use]
    pub fn self_trade_prevention_mode(&self) -> Option<&SelfTradePreventionMode> {
        self.self_trade_prevention_mode.as_ref()
    }

    /// Every order of the list: the working one first, then the pending one (or the pending
    /// pair, above first).
    #[must_use]
    pub fn legs(&self) -> Vec<&ListLeg> {
        match &self.pending {
            PendingLegs::One(p) => vec![&self.working, p],
            PendingLegs::Pair { above, below } => vec![&self.working, above, below],
        }
    }

    fn legs_mut(&mut self) -> Vec<&mut ListLeg> {
        match &mut self.pending {
            PendingLegs::One(p) => vec![&mut self.working, p],
            PendingLegs::Pair { above, below } => vec![&mut self.working, above, below],
        }
    }

    /// Each order as the single order it is, in [`legs`](Self::legs)' order: what the symbol's
    /// filters check. An OPO's pending orders carry the working quantity (the most they can sell).
    #[must_use]
    pub fn leg_requests(&self) -> Vec<OrderRequest> {
        let stp = self.self_trade_prevention_mode.as_ref();
        let pending_qty = self.pending_quantity.unwrap_or(self.working_quantity);
        let mut out = vec![self.working.request(&self.symbol, &self.working_side, Some(self.working_quantity), stp)];
        out.extend(
            self.legs()
                .into_iter()
                .skip(1)
                .map(|l| l.request(&self.symbol, &self.pending_side, Some(pending_qty), stp)),
        );
        out
    }
}

impl fmt::Display for OtoRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let requests = self.leg_requests();
        write!(f, "{} {}", self.kind().as_path().to_ascii_uppercase(), self.symbol)?;
        for (k, r) in requests.iter().enumerate() {
            let role = match (k, requests.len()) {
                (0, _) => "working",
                (1, 2) => "pending",
                (1, _) => "pending above",
                _ => "pending below",
            };
            write!(f, " [{role}: {r}]")?;
        }
        Ok(())
    }
}

/// Any order list: what [`Engine::submit_list`](crate::Engine::submit_list) and
/// `client::Client::place_list` take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListRequest {
    /// An OCO.
    Oco(Box<OcoRequest>),
    /// An OTO, OTOCO, OPO or OPOCO.
    Oto(Box<OtoRequest>),
}

impl From<OcoRequest> for ListRequest {
    fn from(oco: OcoRequest) -> Self {
        Self::Oco(Box::new(oco))
    }
}

impl From<OtoRequest> for ListRequest {
    fn from(oto: OtoRequest) -> Self {
        Self::Oto(Box::new(oto))
    }
}

impl ListRequest {
    /// The symbol.
    #[must_use]
    pub fn symbol(&self) -> &str {
        match self {
            Self::Oco(o) => o.symbol(),
            Self::Oto(o) => o.symbol(),
        }
    }
    /// The list's client order id, if set.
    #[must_use]
    pub fn list_client_order_id(&self) -> Option<&ClientOrderId> {
        match self {
            Self::Oco(o) => o.list_client_order_id(),
            Self::Oto(o) => o.list_client_order_id(),
        }
    }
    /// Sets the list's client order id.
    pub fn set_list_client_order_id(&mut self, id: ClientOrderId) {
        match self {
            Self::Oco(o) => o.list_client_order_id = Some(id),
            Self::Oto(o) => o.list_client_order_id = Some(id),
        }
    }
    /// Every order of the list, in the order the exchange reports them (an OCO: above, below;
    /// an OTO: working, then pending).
    #[must_use]
    pub fn legs(&self) -> Vec<&ListLeg> {
        match self {
            Self::Oco(o) => o.legs().to_vec(),
            Self::Oto(o) => o.legs(),
        }
    }
    /// Gives every leg without a client order id one from `next`.
    pub fn fill_leg_client_order_ids(&mut self, mut next: impl FnMut() -> ClientOrderId) {
        let legs = match self {
            Self::Oco(o) => vec![&mut o.above, &mut o.below],
            Self::Oto(o) => o.legs_mut(),
        };
        for leg in legs {
            if leg.client_order_id.is_none() {
                leg.client_order_id = Some(next());
            }
        }
    }
    /// Each leg as a single order, in [`legs`](Self::legs)' order.
    #[must_use]
    pub fn leg_requests(&self) -> Vec<OrderRequest> {
        match self {
            Self::Oco(o) => o.leg_requests().to_vec(),
            Self::Oto(o) => o.leg_requests(),
        }
    }
    /// How many orders it adds to the unfilled order count.
    #[must_use]
    pub fn order_count(&self) -> u32 {
        match self {
            Self::Oco(_) => 2,
            Self::Oto(o) => o.kind().order_count(),
        }
    }
}

impl fmt::Display for ListRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Oco(o) => o.fmt(f),
            Self::Oto(o) => o.fmt(f),
        }
    }
}

/// The parameter names of one leg, by its place in the list (Binance's names:
/// `aboveType`, `workingPrice`, `pendingBelowStopPrice`, ...).
struct LegNames {
    kind: &'static str,
    client_order_id: &'static str,
    iceberg_qty: &'static str,
    price: &'static str,
    stop_price: &'static str,
    trailing_delta: &'static str,
    quantity: &'static str,
    time_in_force: &'static str,
    strategy_id: &'static str,
    strategy_type: &'static str,
    peg_price_type: &'static str,
    peg_offset_type: &'static str,
    peg_offset_value: &'static str,
}

macro_rules! leg_names {
    ($prefix:literal) => {
        LegNames {
            strategy_id: concat!($prefix, "StrategyId"),
            strategy_type: concat!($prefix, "StrategyType"),
            peg_price_type: concat!($prefix, "PegPriceType"),
            peg_offset_type: concat!($prefix, "PegOffsetType"),
            peg_offset_value: concat!($prefix, "PegOffsetValue"),
            kind: concat!($prefix, "Type"),
            client_order_id: concat!($prefix, "ClientOrderId"),
            iceberg_qty: concat!($prefix, "IcebergQty"),
            price: concat!($prefix, "Price"),
            stop_price: concat!($prefix, "StopPrice"),
            trailing_delta: concat!($prefix, "TrailingDelta"),
            quantity: concat!($prefix, "Quantity"),
            time_in_force: concat!($prefix, "TimeInForce"),
        }
    };
}

const ABOVE: LegNames = leg_names!("above");
const BELOW: LegNames = leg_names!("below");
const WORKING: LegNames = leg_names!("working");
const PENDING: LegNames = leg_names!("pending");
const PENDING_ABOVE: LegNames = leg_names!("pendingAbove");
const PENDING_BELOW: LegNames = leg_names!("pendingBelow");

/// One leg's parameters: its type first when `with_type`, then Binance's order of fields.
/// `quantity`: the leg's own quantity parameter, when it has one.
fn push_leg(
    out: &mut Vec<(&'static str, String)>,
    names: &LegNames,
    leg: &ListLeg,
    with_type: bool,
    quantity: Option<Decimal>,
) {
    use crate::num::Wire;
    if with_type {
        out.push((names.kind, leg.order_type.as_str().to_owned()));
    }
    if let Some(id) = &leg.client_order_id {
        out.push((names.client_order_id, id.as_str().to_owned()));
    }
    if let Some(v) = leg.iceberg_qty {
        out.push((names.iceberg_qty, Wire(v).to_string()));
    }
    if let Some(v) = leg.price {
        out.push((names.price, Wire(v).to_string()));
    }
    if let Some(v) = leg.stop_price {
        out.push((names.stop_price, Wire(v).to_string()));
    }
    if let Some(v) = leg.trailing_delta {
        out.push((names.trailing_delta, v.to_string()));
    }
    if let Some(v) = quantity {
        out.push((names.quantity, Wire(v).to_string()));
    }
    if let Some(t) = &leg.time_in_force {
        out.push((names.time_in_force, t.as_str().to_owned()));
    }
    push_leg_extras(out, names, leg);
}

/// A leg's strategy labels and peg, after its other parameters.
fn push_leg_extras(out: &mut Vec<(&'static str, String)>, names: &LegNames, leg: &ListLeg) {
    if let Some(v) = leg.strategy_id() {
        out.push((names.strategy_id, v.to_string()));
    }
    if let Some(v) = leg.strategy_type() {
        out.push((names.strategy_type, v.to_string()));
    }
    if let Some(peg) = leg.peg_price_type() {
        out.push((names.peg_price_type, peg.as_str().to_owned()));
    }
    if let Some(levels) = leg.peg_offset_levels() {
        out.push((names.peg_offset_type, "PRICE_LEVEL".to_owned()));
        out.push((names.peg_offset_value, levels.to_string()));
    }
}

impl ListRequest {
    /// The list's request parameters in Binance's names and order, the same for
    /// `POST /api/v3/orderList/*` and the WebSocket API's `orderList.place.*` (without
    /// `timestamp`, `recvWindow` and the signature).
    ///
    /// ```
    /// use aegis_exchange::{ListLeg, ListRequest, OtoRequest, Side, TimeInForce};
    /// use rust_decimal_macros::dec;
    /// let oto: ListRequest = OtoRequest::oto("BTCUSDT", Side::Buy, dec!(0.01), ListLeg::limit(dec!(60000), TimeInForce::Gtc),
    ///     Side::Sell, dec!(0.01), ListLeg::market()).into();
    /// let names: Vec<&str> = oto.params().iter().map(|(k, _)| *k).collect();
    /// assert_eq!(names, ["symbol", "workingType", "workingSide", "workingPrice", "workingQuantity",
    ///     "workingTimeInForce", "pendingType", "pendingSide", "pendingQuantity"]);
    /// ```
    #[must_use]
    pub fn params(&self) -> Vec<(&'static str, String)> {
        use crate::num::Wire;
        let mut out: Vec<(&'static str, String)> = vec![("symbol", self.symbol().to_owned())];
        if let Some(id) = self.list_client_order_id() {
            out.push(("listClientOrderId", id.as_str().to_owned()));
        }
        let (response_type, stp) = match self {
            Self::Oco(o) => {
                out.push(("side", o.side.as_str().to_owned()));
                out.push(("quantity", Wire(o.quantity).to_string()));
                push_leg(&mut out, &ABOVE, &o.above, true, None);
                push_leg(&mut out, &BELOW, &o.below, true, None);
                (&o.response_type, &o.self_trade_prevention_mode)
            }
            Self::Oto(o) => {
                out.push((WORKING.kind, o.working.order_type.as_str().to_owned()));
                out.push(("workingSide", o.working_side.as_str().to_owned()));
                let w = &o.working;
                if let Some(id) = &w.client_order_id {
                    out.push((WORKING.client_order_id, id.as_str().to_owned()));
                }
                if let Some(v) = w.price {
                    out.push((WORKING.price, Wire(v).to_string()));
                }
                out.push((WORKING.quantity, Wire(o.working_quantity).to_string()));
                if let Some(v) = w.iceberg_qty {
                    out.push((WORKING.iceberg_qty, Wire(v).to_string()));
                }
                if let Some(t) = &w.time_in_force {
                    out.push((WORKING.time_in_force, t.as_str().to_owned()));
                }
                push_leg_extras(&mut out, &WORKING, w);
                match &o.pending {
                    PendingLegs::One(leg) => {
                        out.push((PENDING.kind, leg.order_type.as_str().to_owned()));
                        out.push(("pendingSide", o.pending_side.as_str().to_owned()));
                        push_leg(&mut out, &PENDING, leg, false, o.pending_quantity);
                    }
                    PendingLegs::Pair { above, below } => {
                        out.push(("pendingSide", o.pending_side.as_str().to_owned()));
                        if let Some(q) = o.pending_quantity {
                            out.push((PENDING.quantity, Wire(q).to_string()));
                        }
                        push_leg(&mut out, &PENDING_ABOVE, above, true, None);
                        push_leg(&mut out, &PENDING_BELOW, below, true, None);
                    }
                }
                (&o.response_type, &o.self_trade_prevention_mode)
            }
        };
        if let Some(r) = response_type {
            out.push(("newOrderRespType", r.as_str().to_owned()));
        }
        if let Some(m) = stp {
            out.push(("selfTradePreventionMode", m.as_str().to_owned()));
        }
        out
    }

    /// Its endpoint: `/api/v3/orderList/oco`, `.../oto`, `.../otoco`, `.../opo`, `.../opoco`.
    #[must_use]
    pub fn path(&self) -> &'static str {
        match self {
            Self::Oco(_) => "/api/v3/orderList/oco",
            Self::Oto(o) => match o.kind() {
                OtoKind::Oto => "/api/v3/orderList/oto",
                OtoKind::Otoco => "/api/v3/orderList/otoco",
                OtoKind::Opo => "/api/v3/orderList/opo",
                OtoKind::Opoco => "/api/v3/orderList/opoco",
            },
        }
    }

    /// Its WebSocket API method: `orderList.place.oco`, `orderList.place.oto`, ...
    #[must_use]
    pub fn ws_method(&self) -> &'static str {
        match self {
            Self::Oco(_) => "orderList.place.oco",
            Self::Oto(o) => match o.kind() {
                OtoKind::Oto => "orderList.place.oto",
                OtoKind::Otoco => "orderList.place.otoco",
                OtoKind::Opo => "orderList.place.opo",
                OtoKind::Opoco => "orderList.place.opoco",
            },
        }
    }
}
