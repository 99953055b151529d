//! Order lists: an OCO pair (one-cancels-the-other), as `POST /api/v3/orderList/oco` takes it.

use std::fmt;

use rust_decimal::Decimal;

use super::{ClientOrderId, OrderRequest, OrderResponseType, OrderType, SelfTradePreventionMode, Side, TimeInForce};

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
    client_order_id: Option<ClientOrderId>,
}

impl ListLeg {
    fn new(order_type: OrderType) -> Self {
        Self {
            order_type,
            price: None,
            stop_price: None,
            time_in_force: None,
            iceberg_qty: None,
            client_order_id: None,
        }
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
    /// The leg's client order id, if set.
    #[must_use]
    pub fn client_order_id(&self) -> Option<&ClientOrderId> {
        self.client_order_id.as_ref()
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
        let mut order = OrderRequest::new(self.symbol.clone(), self.side.clone(), leg.order_type.clone())
            .with_quantity(self.quantity);
        if let Some(p) = leg.price {
            order = order.with_price(p);
        }
        if let Some(p) = leg.stop_price {
            order = order.with_stop_price(p);
        }
        if let Some(t) = &leg.time_in_force {
            order = order.with_time_in_force(t.clone());
        }
        if let Some(q) = leg.iceberg_qty {
            order = order.with_iceberg_qty(q);
        }
        if let Some(id) = leg.client_order_id {
            order = order.with_client_order_id(id);
        }
        if let Some(m) = &self.self_trade_prevention_mode {
            order = order.with_self_trade_prevention_mode(m.clone());
        }
        order
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
