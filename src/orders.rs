use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::sync::Arc;

use rust_decimal::{Decimal, RoundingStrategy};

use crate::clock::ServerMs;
use crate::fast_hash::FastHash;
use crate::ledger::{AssetId, Execution, Ledger, LedgerError, Reservation};
use crate::model::{ClientOrderId, ListRequest, OcoRequest, OrderRequest, OrderStatus, OrderType, PendingLegs, Side};
use crate::rest::{ApiError, Outcome, Rejection};

/// Where an order is, as this side knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderState {
    /// Funds reserved, the request sent or about to be; no answer yet.
    PendingNew,
    /// Accepted as a pending order of an OTO family list (Binance's `PENDING_NEW`): not on the
    /// book and locking nothing until its working order has filled.
    AwaitingTrigger,
    /// On the book.
    New,
    /// Partly filled, still working.
    PartiallyFilled,
    /// Completely filled.
    Filled,
    /// Canceled.
    Canceled,
    /// Refused by the exchange (or by its API before it reached the matching engine).
    Rejected,
    /// Expired (IOC / FOK remainder, a market order out of liquidity, an exchange cancel).
    Expired,
    /// Expired by self-trade prevention.
    ExpiredInMatch,
    /// A cancel was sent; no answer yet.
    PendingCancel,
    /// The send's outcome is not known: it may be working on the exchange. Funds stay reserved
    /// until a query or an event settles it.
    Unknown,
    /// Proven never to have reached the exchange (never sent, or an unknown send that the exchange
    /// does not know once it could no longer accept it).
    NotPlaced,
}

impl OrderState {
    /// No further change will come: filled, canceled, rejected, expired or not placed.
    #[must_use]
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Filled | Self::Canceled | Self::Rejected | Self::Expired | Self::ExpiredInMatch | Self::NotPlaced
        )
    }

    /// Sent with no known outcome yet: `PendingNew` or `Unknown`.
    #[must_use]
    pub fn is_in_flight(self) -> bool {
        matches!(self, Self::PendingNew | Self::Unknown)
    }

    /// The state an exchange status means; `None` for a status this crate does not know.
    #[must_use]
    pub fn from_status(status: &OrderStatus) -> Option<Self> {
        Some(match status {
            OrderStatus::New => Self::New,
            OrderStatus::PendingNew => Self::AwaitingTrigger,
            OrderStatus::PartiallyFilled => Self::PartiallyFilled,
            OrderStatus::Filled => Self::Filled,
            OrderStatus::Canceled => Self::Canceled,
            OrderStatus::PendingCancel => Self::PendingCancel,
            OrderStatus::Rejected => Self::Rejected,
            OrderStatus::Expired => Self::Expired,
            OrderStatus::ExpiredInMatch => Self::ExpiredInMatch,
            OrderStatus::Unknown(_) => return None,
        })
    }

    /// How far along the order is: states only move to a higher rank.
    fn rank(self) -> u8 {
        match self {
            Self::PendingNew | Self::Unknown => 0,
            Self::AwaitingTrigger => 1,
            Self::New | Self::PendingCancel => 2,
            Self::PartiallyFilled => 3,
            _ => 4,
        }
    }
}

impl fmt::Display for OrderState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// How many orders a symbol may have at once, beyond Binance's own limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SymbolPolicy {
    /// No limit.
    #[default]
    Any,
    /// At most one order per symbol whose send has no known outcome (`PendingNew` / `Unknown`):
    /// two signals 10 ms apart give one order.
    OneInFlight,
    /// At most one order per symbol that has not ended.
    OneOpen,
}

/// Settings of the tracker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrdersConfig {
    /// The per-symbol policy.
    pub symbol_policy: SymbolPolicy,
    /// The clock skew allowed between this side and the exchange (ms): an unknown order is only
    /// declared not placed once `timestamp + recvWindow + max_clock_skew_ms` has passed.
    pub max_clock_skew_ms: i64,
    /// The first delay before querying an unknown order (ms); it doubles after each inconclusive
    /// answer.
    pub query_backoff_ms: i64,
    /// The longest delay between two queries (ms).
    pub max_query_backoff_ms: i64,
    /// How long a sent order may stay `PendingNew` without an answer before it is `Unknown` (ms).
    /// Binance's API gives up on the matching engine after 10 s.
    pub reply_timeout_ms: i64,
    /// How long to wait for the trades of an ended order reported with more executed than its
    /// trades so far, before asking for them (`GET /api/v3/myTrades`) (ms).
    pub trade_grace_ms: i64,
    /// The most orders that have not ended (a submit beyond is refused).
    pub max_open: usize,
    /// How many ended orders are remembered (for duplicate events and reuse of ids).
    pub retain_done: usize,
}

impl Default for OrdersConfig {
    fn default() -> Self {
        Self {
            symbol_policy: SymbolPolicy::Any,
            max_clock_skew_ms: 1_000,
            query_backoff_ms: 1_000,
            max_query_backoff_ms: 30_000,
            reply_timeout_ms: 15_000,
            trade_grace_ms: 2_000,
            max_open: 10_000,
            retain_done: 10_000,
        }
    }
}

/// Why the tracker refused a request. Nothing changed.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrdersError {
    /// The order has no `newClientOrderId`: without one, an unknown outcome cannot be resolved.
    #[error("the order has no client order id")]
    MissingClientOrderId,
    /// The client order id is already tracked.
    #[error("client order id {0} is already in use")]
    DuplicateClientOrderId(ClientOrderId),
    /// The symbol already has an order the [`SymbolPolicy`] counts.
    #[error("{symbol} already has order {busy} in flight")]
    SymbolBusy {
        /// The symbol.
        symbol: String,
        /// The order occupying it.
        busy: ClientOrderId,
    },
    /// The amount to lock cannot be known without a price bound (a market buy by quantity, a
    /// market sell by quote amount, a stop or take-profit market order).
    #[error("a price bound is needed to know how much to lock")]
    NeedsPriceBound,
    /// A pegged stop-limit buy: its lock changes when it triggers (to the price it takes from
    /// the book then) and no event says so (a trigger sends no `executionReport`), so the
    /// ledger could not follow the exchange. A pegged stop-limit sell (it locks its quantity)
    /// is taken.
    #[error("a pegged stop-limit buy would change its lock at the trigger, unseen")]
    PeggedStopBuy,
    /// An order list with a pegged buy leg: the list's lock is the price the exchange picks
    /// from its book (for a pending or stop leg, later, unseen), which the list's one
    /// reservation could not follow. Pegged sell legs (they lock their quantity) are taken.
    #[error("an order list's buy leg cannot be pegged: its lock would follow a price the list's reservation cannot")]
    PeggedListBuy,
    /// Too many orders have not ended.
    #[error("too many open orders")]
    TooManyOpen,
    /// No tracked order has this client order id.
    #[error("no tracked order {0}")]
    UnknownOrder(ClientOrderId),
    /// A cancel is only sent for an order that may be working.
    #[error("an order in state {0} cannot be canceled")]
    NotCancelable(OrderState),
    /// An amend is only sent for an order working on the book (`New`, `PartiallyFilled`) with no
    /// other amend or cancel on its way.
    #[error("an order in state {0} cannot be amended now")]
    NotAmendable(OrderState),
    /// A keep-priority amend only reduces the quantity: the new one must be above zero and below
    /// the order's current quantity (Binance: `-2038` "Order amend (quantity increase) is not
    /// supported." / "The requested action would change no state; rejecting").
    #[error("an amend must reduce the quantity: {new_qty} is not between 0 and {qty}")]
    AmendNotReducing {
        /// The order's quantity now.
        qty: Decimal,
        /// The quantity asked for.
        new_qty: Decimal,
    },
    /// The order was amended as often as the symbol allows (`MAX_NUM_ORDER_AMENDS`).
    #[error("order amended {0} times already: the most the symbol allows")]
    TooManyAmends(u32),
    /// The ledger refused the reservation.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// An order to start tracking.
#[derive(Debug, Clone, Copy)]
pub struct Submit<'a> {
    /// The order; it must carry a client order id.
    pub order: &'a OrderRequest,
    /// Its base asset in the ledger.
    pub base: AssetId,
    /// Its quote asset in the ledger.
    pub quote: AssetId,
    /// The worst price it can fill at (highest for a buy, lowest for a sell), needed when the
    /// order has no limit price and the amount to lock depends on the price.
    pub price_bound: Option<Decimal>,
}

impl<'a> Submit<'a> {
    /// An order with no price bound. Its request's `timestamp` and `recvWindow` are given to
    /// [`Orders::on_sent`] when it is signed and handed out, not before.
    #[must_use]
    pub fn new(order: &'a OrderRequest, base: AssetId, quote: AssetId) -> Self {
        Self { order, base, quote, price_bound: None }
    }

    /// With the worst price the order can fill at.
    #[must_use]
    pub fn with_price_bound(mut self, price: Decimal) -> Self {
        self.price_bound = Some(price);
        self
    }
}

/// The amount an order must lock: the quote amount for a buy, the base quantity for a sell, or
/// `None` when it depends on a price that neither the order nor `price_bound` gives. Quote amounts
/// are rounded up to 8 decimals.
///
/// ```
/// use aegis_exchange::lock_amount;
/// use aegis_exchange::{OrderRequest, Side};
/// use rust_decimal_macros::dec;
/// let buy = OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.015), dec!(60000.01));
/// assert_eq!(lock_amount(&buy, None), Some(dec!(900.00015)));
/// let market = OrderRequest::market("BTCUSDT", Side::Buy, dec!(0.01));
/// assert_eq!(lock_amount(&market, None), None);
/// assert_eq!(lock_amount(&market, Some(dec!(61000))), Some(dec!(610)));
/// ```
#[must_use]
pub fn lock_amount(order: &OrderRequest, price_bound: Option<Decimal>) -> Option<Decimal> {
    let limit_price = match order.order_type() {
        OrderType::Limit | OrderType::LimitMaker | OrderType::StopLossLimit | OrderType::TakeProfitLimit => {
            order.price()
        }
        _ => None,
    };
    let up = |d: Decimal| d.round_dp_with_strategy(8, RoundingStrategy::AwayFromZero);
    match order.side() {
        Side::Buy => match (order.quantity(), order.quote_order_qty()) {
            (_, Some(quote)) => Some(quote),
            (Some(qty), None) => qty.checked_mul(limit_price.or(price_bound)?).map(up),
            (None, None) => None,
        },
        Side::Sell => match (order.quantity(), order.quote_order_qty()) {
            (Some(qty), _) => Some(qty),
            (None, Some(quote)) => {
                let bound = price_bound.filter(|p| *p > Decimal::ZERO)?;
                quote.checked_div(bound).map(up)
            }
            (None, None) => None,
        },
        Side::Unknown(_) => None,
    }
}

/// What a buy's reservation holds per unit of base, when it follows the quantity: the limit
/// price of a limit buy by quantity.
/// What `qty` of a prevented order held: the quantity for a sell, the limit price's worth for
/// a buy (`None` without a price, or for nothing).
fn hold_worth(sell: bool, unit_lock: Option<Decimal>, qty: Decimal) -> Option<Decimal> {
    let worth = if sell {
        qty
    } else {
        unit_lock?.checked_mul(qty).map(|d| d.round_dp_with_strategy(8, RoundingStrategy::ToZero))?
    };
    (worth > Decimal::ZERO).then_some(worth)
}

fn unit_lock(order: &OrderRequest) -> Option<Decimal> {
    if order.side() != &Side::Buy || order.quote_order_qty().is_some() {
        return None;
    }
    match order.order_type() {
        OrderType::Limit | OrderType::LimitMaker | OrderType::StopLossLimit | OrderType::TakeProfitLimit => {
            order.price()
        }
        _ => None,
    }
}

/// What the caller should send next for an order.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderAction {
    /// `GET /api/v3/order` (or `order.status`) by `origClientOrderId`: the order's outcome is not
    /// known. Tell [`Orders::on_query_sent`] when it leaves; answer with [`Orders::on_report`] /
    /// [`Orders::on_query_error`].
    Query {
        /// The symbol.
        symbol: String,
        /// The order.
        client_order_id: ClientOrderId,
    },
    /// `GET /api/v3/orderList` by `origClientOrderId`: an order list whose placement outcome is
    /// not known (every leg `Unknown`), asked for as a whole. Tell
    /// [`Orders::on_list_query_sent`]; answer with the list's members (`NEW` when it is
    /// executing), [`Orders::resolve_list_by_legs`] (it ended: each leg is asked for) or
    /// [`Orders::on_list_query_error`].
    QueryList {
        /// The symbol.
        symbol: String,
        /// The list's client order id.
        list: ClientOrderId,
    },
    /// `GET /api/v3/myTrades?orderId=`: the order ended with more executed than the trades seen;
    /// answer with [`Orders::on_trades`].
    FetchTrades {
        /// The symbol.
        symbol: String,
        /// The order.
        client_order_id: ClientOrderId,
        /// The exchange's order id.
        order_id: u64,
        /// Ask `GET /api/v3/myAllocations?orderId=` instead: an order placed through SOR fills
        /// by allocations too (its fetches alternate between the two).
        allocations: bool,
    },
}

impl OrderAction {
    /// The order the action is for.
    #[must_use]
    pub fn client_order_id(&self) -> &ClientOrderId {
        match self {
            Self::Query { client_order_id, .. } | Self::FetchTrades { client_order_id, .. } => client_order_id,
            Self::QueryList { list, .. } => list,
        }
    }
}

/// What applying an answer or event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderApplied {
    /// The order changed.
    Changed(OrderUpdate),
    /// Nothing new: a duplicate, or older than what is known.
    Duplicate,
    /// Not an order this tracker knows (placed elsewhere, or forgotten).
    Untracked,
}

/// How an order changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderUpdate {
    /// The order.
    pub client_order_id: ClientOrderId,
    /// Its state now.
    pub state: OrderState,
    /// Base quantity of new trades applied to the ledger by this input.
    pub traded: Decimal,
    /// The reservation's remainder released by this input, if it was.
    pub released: Option<Decimal>,
    /// The ledger refused a trade the exchange reports (a price bound that was too low, a missing
    /// third-asset balance for the commission): the ledger needs reconciling.
    pub ledger_error: Option<LedgerError>,
}

/// What the tracker knows of an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderView {
    /// The symbol.
    pub symbol: String,
    /// The side.
    pub side: Side,
    /// The state.
    pub state: OrderState,
    /// The exchange's order id, once known.
    pub order_id: Option<u64>,
    /// Cumulative executed base quantity (only grows).
    pub executed_qty: Decimal,
    /// Cumulative executed quote quantity (only grows).
    pub cumulative_quote_qty: Decimal,
    /// Base quantity of the trades applied to the ledger.
    pub traded_qty: Decimal,
    /// The reservation while it is open.
    pub reservation: Option<Reservation>,
    /// The exchange's reason when it refused the order.
    pub reject_reason: Option<String>,
    /// Whether the ledger refused a trade of this order (see [`OrderUpdate::ledger_error`]).
    pub ledger_mismatch: bool,
    /// The order's quantity (base), reduced by keep-priority amends; `None` for an order by
    /// quote amount.
    pub qty: Option<Decimal>,
    /// How often its quantity was reduced (each amend the exchange confirmed).
    pub amends: u32,
    /// The quantity self-trade prevention took from it (it no longer trades; released).
    pub prevented_qty: Decimal,
    /// The quantity an amend on its way asks for.
    pub amending: Option<Decimal>,
}

/// An order list the tracker follows. An OCO's legs share one reservation, released when the
/// last leg holding it has ended and settled. An OTO's working order has its own; its pending
/// orders lock nothing until the exchange places them, and then share one (`pending`), which an
/// OPO's working order fills as it receives what the pending orders will sell.
#[derive(Debug)]
struct TrackedList {
    legs: Vec<ClientOrderId>,
    /// The working order of an OTO family list.
    working: Option<ClientOrderId>,
    /// An OPO / OPOCO: the pending orders sell what the working order receives.
    pays: bool,
    /// The reservation the pending orders share, once made.
    pending: Option<Reservation>,
    /// Its legs' outcomes are asked for one by one (the list query found it ended).
    by_legs: bool,
}

/// What an answer or event can move of an order: whether applying it changed anything.
fn progress(v: &OrderView) -> (OrderState, Decimal, Decimal, Decimal, Option<Decimal>, Decimal) {
    (v.state, v.executed_qty, v.cumulative_quote_qty, v.traded_qty, v.qty, v.prevented_qty)
}

/// What a pending order of an OTO family list will lock once the exchange places it.
#[derive(Debug, Clone, Copy)]
struct Dormant {
    base: AssetId,
    quote: AssetId,
    buy: bool,
    /// What it locks (a pending pair's one lock), when known before it is placed (not for an
    /// OPO's: its quantity is what the working order received).
    amount: Option<Decimal>,
}

/// An order list to start tracking ([`Orders::submit_list`]).
#[derive(Debug, Clone, Copy)]
pub struct SubmitList<'a> {
    /// The list; it and its legs must carry client order ids.
    pub list: &'a ListRequest,
    /// Its base asset in the ledger.
    pub base: AssetId,
    /// Its quote asset in the ledger.
    pub quote: AssetId,
}

/// What an OCO locks, once for both legs: the quantity for a SELL; for a BUY the most either leg
/// could spend (its limit price, or a market stop's stop price, times the quantity, rounded up to
/// 8 decimals), as Binance locks it.
///
/// ```
/// use aegis_exchange::{ListLeg, OcoRequest, Side, TimeInForce, oco_lock_amount};
/// use rust_decimal_macros::dec;
/// let buy = OcoRequest::new("BTCUSDT", Side::Buy, dec!(0.1),
///     ListLeg::stop_loss_limit(dec!(70010), dec!(70000), TimeInForce::Gtc), ListLeg::limit_maker(dec!(60000)));
/// assert_eq!(oco_lock_amount(&buy), Some(dec!(7001)));
/// ```
#[must_use]
pub fn oco_lock_amount(oco: &OcoRequest) -> Option<Decimal> {
    let qty = oco.quantity();
    match oco.side() {
        Side::Sell => Some(qty),
        Side::Buy => oco
            .legs()
            .iter()
            .map(|l| l.price().or(l.stop_price()).and_then(|p| p.checked_mul(qty)))
            .collect::<Option<Vec<_>>>()?
            .into_iter()
            .max()
            .map(|d| d.round_dp_with_strategy(8, RoundingStrategy::AwayFromZero)),
        Side::Unknown(_) => None,
    }
}

/// How many tracked orders have a timer, and a bound on when the first is due.
#[derive(Debug)]
struct Timers {
    /// At or before every timer set (exact after `poll_action` scans, and `i64::MAX` whenever no
    /// order has a timer): lets `poll_action` and `next_timeout` skip the scan of every tracked
    /// order when nothing can be due.
    hint: i64,
    /// The tracked orders with a timer.
    armed: usize,
}

impl Default for Timers {
    fn default() -> Self {
        Self { hint: i64::MAX, armed: 0 }
    }
}

impl Timers {
    /// Sets (or clears) order `t`'s timer. With the last one cleared the bound is exact again
    /// (no timer at all): an order answered at once leaves no early wake-up behind.
    fn set(&mut self, t: &mut Tracked, timer: Option<(i64, Timer)>) {
        match (t.timer.is_some(), timer.is_some()) {
            (false, true) => self.armed = self.armed.saturating_add(1),
            (true, false) => self.armed = self.armed.saturating_sub(1),
            _ => {}
        }
        t.timer = timer;
        match timer {
            Some((at, _)) => self.hint = self.hint.min(at),
            None if self.armed == 0 => self.hint = i64::MAX,
            None => {}
        }
    }

    /// Order `t` is no longer tracked.
    fn forget(&mut self, t: &Tracked) {
        if t.timer.is_some() {
            self.armed = self.armed.saturating_sub(1);
            if self.armed == 0 {
                self.hint = i64::MAX;
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Timer {
    /// No answer to the send yet: becomes Unknown when it fires.
    Reply,
    /// Query the order.
    Query,
    /// Fetch the order's trades.
    Trades,
}

#[derive(Debug)]
struct Tracked {
    view: OrderView,
    /// The state before a cancel was sent.
    before_cancel: Option<OrderState>,
    /// When the request stops being acceptable (timestamp + recvWindow + skew); `i64::MAX`
    /// until it is sent.
    deadline_ms: i64,
    /// Whether its request was handed out ([`Orders::on_sent`]); an order is sent once.
    sent: bool,
    /// The order list it belongs to (its `listClientOrderId`).
    list: Option<ClientOrderId>,
    /// A pending order of an OTO family list not placed yet: what it will lock.
    dormant: Option<Dormant>,
    /// The price its buy reservation was computed at (the limit price), per unit of base: what
    /// a reduction of its quantity releases. `None` for a sell (it locks base) or a buy whose
    /// lock does not follow its quantity (by quote amount, market).
    unit_lock: Option<Decimal>,
    /// Placed through SOR: it may fill by allocations (asked for by `myAllocations`), and the
    /// next fetch of missing fills asks for them when `alloc_next`.
    sor: bool,
    alloc_next: bool,
    /// A pegged buy reserved by a price the exchange does not use (the caller's bound, or its
    /// `price`): its lock follows the pegged price once the exchange reports it.
    peg_bound: bool,
    /// Its self-trade prevention mode is `TRANSFER`: what prevention takes from it may move to
    /// another account of the trade group, so its funds are held, not freed, until the
    /// `TRADE_PREVENTION` event says (see [`Orders::release_hold`]).
    transfer: bool,
    /// A `TRANSFER` order's assets (base, quote): what a transfer moves.
    assets: Option<(AssetId, AssetId)>,
    /// The tracker's count of user-data gaps when it was submitted (a `TRANSFER` order that
    /// ends after a gap may have lost its `TRADE_PREVENTION` events: its matches are asked).
    gaps_at_submit: u64,
    timer: Option<(i64, Timer)>,
    backoff_ms: i64,
    /// When the last query of it left ([`Orders::on_query_sent`]): a `-2013` answer is
    /// conclusive only for a query sent after the order's deadline.
    last_query_ms: Option<i64>,
    trades: HashSet<u64, FastHash>,
    done: bool,
}

/// The order tracker. Single-threaded (the engine owns it); the [`Ledger`] it moves funds in is
/// shared.
///
/// The order state machine: every order from the moment its funds are reserved until they are
/// settled, with duplicate-proof application of exchange answers and events, a double-order
/// guard, and the resolution of orders whose send had an unknown outcome.
///
/// [`Orders`] tracks orders by [`ClientOrderId`] and moves their funds in a shared [`Ledger`]:
///
/// - [`Orders::submit`] reserves the funds and records the order as [`OrderState::PendingNew`];
///   the caller then sends it (REST or WebSocket API) with that `newClientOrderId`. The same id
///   cannot be submitted twice while the tracker remembers it, and an optional
///   [`SymbolPolicy`] refuses a second order on a symbol that already has one in flight.
/// - Answers and events are applied with the `on_*` methods. Money moves only on trades, and each
///   trade id moves it once: a duplicate or reordered event never double counts, cumulative
///   quantities only grow, and the state only moves forward (`New → PartiallyFilled → Filled`,
///   never back). When an order ends (filled, canceled, rejected, expired) and its trades are all
///   applied, what is left of its reservation is released, exactly once.
/// - A send whose outcome is unknown (a timeout, a 5xx, `-1006`, `-1007`, a connection reset after
///   the request was written, an unreadable body after `200`) leaves the order
///   [`OrderState::Unknown`] with its funds reserved. [`Orders::poll_action`] then asks for a query
///   by `origClientOrderId` (never a second POST), with back-off. `-2013 Order does not exist.`
///   proves nothing until the request can no longer be accepted (its `timestamp + recvWindow`,
///   plus the allowed clock skew): before that the order stays `Unknown` and is queried again;
///   after it, the order is [`OrderState::NotPlaced`] and its funds are released. Any answer or
///   user-data event for the order resolves it without a query.
///
/// The tracker is sans-IO: time comes in as `now_ms` (on the same clock as the request
/// timestamps, i.e. corrected by the server-time offset), and it never sends anything itself.
///
/// ```
/// use std::sync::Arc;
/// use aegis_exchange::Ledger;
/// use aegis_exchange::{Orders, OrdersConfig, OrderState, Submit};
/// use aegis_exchange::{ClientOrderId, OrderRequest, Side};
/// use rust_decimal_macros::dec;
///
/// let ledger = Arc::new(Ledger::new());
/// let (btc, usdt) = (ledger.asset("BTC").unwrap(), ledger.asset("USDT").unwrap());
/// ledger.credit(usdt, dec!(10000)).unwrap();
/// let mut orders = Orders::new(Arc::clone(&ledger), OrdersConfig::default());
///
/// let id = ClientOrderId::new("signal-1").unwrap();
/// let order = OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.1), dec!(60000)).with_client_order_id(id);
/// orders.submit(Submit::new(&order, btc, usdt)).unwrap();
/// assert_eq!(ledger.balance(usdt).unwrap().locked, dec!(6000));
/// assert!(orders.submit(Submit::new(&order, btc, usdt)).is_err()); // same id: refused
/// // Signed and handed out at 20 with timestamp 20 and recvWindow 5000: the reply timer starts.
/// assert!(orders.on_sent(20, &id, 20, 5000));
/// assert!(!orders.on_sent(30, &id, 30, 5000)); // never sent twice
///
/// // The POST timed out: the order is Unknown, its funds stay locked, and the next step is a query.
/// orders.on_place_unanswered(5_000, &id);
/// assert_eq!(orders.get(&id).unwrap().state, OrderState::Unknown);
/// let action = orders.poll_action(5_000 + 1_000).unwrap();
/// assert_eq!(action.client_order_id(), &id);
/// ```
pub struct Orders {
    ledger: Arc<Ledger>,
    config: OrdersConfig,
    orders: HashMap<ClientOrderId, Tracked, FastHash>,
    /// Ended and settled orders, oldest first (forgotten beyond `retain_done`).
    done: VecDeque<ClientOrderId>,
    /// The order occupying each symbol under the policy.
    busy: HashMap<String, ClientOrderId, FastHash>,
    /// Order lists by their `listClientOrderId`: the legs, and the one reservation they share.
    lists: HashMap<ClientOrderId, TrackedList, FastHash>,
    /// The orders' timers, counted, with a lower bound of when the next one is due.
    timers: Timers,
    /// Funds of `TRANSFER` orders that self-trade prevention took, held until the event says
    /// whether they may have moved to another account of the trade group.
    holds: HashMap<ClientOrderId, Hold, FastHash>,
    /// Prevented matches already accounted for, per side: (symbol, match id, this account's
    /// order id), the last `PREVENTIONS_KEPT`.
    preventions: VecDeque<(String, u64, u64)>,
    /// User-data gaps seen ([`Orders::note_stream_gap`]).
    gaps: u64,
    /// Every report through [`Orders::apply_full`] (the plain path's equivalence test).
    #[cfg(test)]
    full_only: bool,
}

/// Prevented matches remembered as accounted for.
const PREVENTIONS_KEPT: usize = 4096;

/// What a `TRANSFER` order's prevented quantity held, kept locked until its prevented matches
/// say whether it moved.
#[derive(Debug, Clone, Copy)]
struct Hold {
    /// What is locked (`None`: nothing could be, the free balance being short; the matches
    /// are still asked for, so what moved is booked).
    reservation: Option<Reservation>,
    base: AssetId,
    quote: AssetId,
    /// The order sells (gives base when its prevented quantity moves).
    sell: bool,
    /// The order's limit price for a buy (what one unit of its quantity locks).
    unit_lock: Option<Decimal>,
    /// The prevented quantity held for.
    qty: Decimal,
    /// When its prevented matches are to be asked for (`None`: asked, not answered yet).
    due: Option<i64>,
    /// Answers that did not account for all of it yet.
    tries: u32,
    /// Held after a user-data gap, before any prevention is known: what the order released
    /// when it ended, all of it, until its matches are known.
    marker: bool,
}

/// Answers to `myPreventedMatches` that may leave a hold unaccounted for (the exchange's
/// records come from its database, a little after the match) before what is left is freed.
const HOLD_TRIES: u32 = 5;

/// One match self-trade prevention stopped, as the order tracker takes it
/// ([`PreventedMatch::prevention`](crate::rest::PreventedMatch::prevention) makes one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prevention<'a> {
    /// The prevented match's id (booked once).
    pub id: u64,
    /// The taker order's symbol.
    pub symbol: &'a str,
    /// The taker order.
    pub taker_order_id: u64,
    /// The maker order's symbol.
    pub maker_symbol: &'a str,
    /// The maker order.
    pub maker_order_id: u64,
    /// The trade group (`-1`: none).
    pub trade_group_id: i64,
    /// The mode that acted was `TRANSFER` (both orders said it).
    pub transfer: bool,
    /// The price of the match.
    pub price: Decimal,
    /// What it took from the taker.
    pub taker_qty: Option<Decimal>,
    /// What it took from the maker.
    pub maker_qty: Option<Decimal>,
}

impl fmt::Debug for Orders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Orders")
            .field("config", &self.config)
            .field("tracked", &self.orders.len())
            .field("done", &self.done.len())
            .finish()
    }
}

/// One trade of an order, as the tracker moves it in the ledger. The exchange's wire types make
/// one: [`Fill::trade`](crate::rest::Fill::trade), [`MyTrade::trade`](crate::rest::MyTrade::trade),
/// [`ExecutionReport::trade`](crate::ws_api::ExecutionReport::trade).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderTrade<'a> {
    /// The trade id: money moves once per id.
    pub id: u64,
    /// The order it belongs to, when the source names it (a `myTrades` row); `None`: the order
    /// of the report it comes with.
    pub order_id: Option<u64>,
    /// Base quantity.
    pub base_qty: Decimal,
    /// Quote quantity.
    pub quote_qty: Decimal,
    /// Commission charged.
    pub commission: Decimal,
    /// The asset the commission was charged in.
    pub commission_asset: Option<&'a str>,
}

/// The high bit of a fill key: set for an allocation's id, clear for a trade's.
const ALLOCATION_KEY: u64 = 1 << 63;

/// The key a fill's money moves once under ([`OrderTrade::id`]): a trade's id, or, for a fill by
/// allocation (SOR: `tradeId` -1), its allocation id in a range of its own (the two are separate
/// sequences). `None` when neither id is usable.
///
/// ```
/// use aegis_exchange::fill_key;
/// assert_eq!(fill_key(42, None), Some(42));
/// assert_eq!(fill_key(-1, Some(0)), Some(1 << 63));
/// assert_ne!(fill_key(-1, Some(7)), fill_key(7, None));
/// assert_eq!(fill_key(-1, None), None);
/// ```
#[must_use]
pub fn fill_key(trade_id: i64, alloc_id: Option<i64>) -> Option<u64> {
    match u64::try_from(trade_id) {
        Ok(id) => Some(id),
        Err(_) => alloc_id.and_then(|a| u64::try_from(a).ok()).map(|a| a | ALLOCATION_KEY),
    }
}

/// The exchange's report of one order's state: the answer to its placement, a query, a cancel,
/// or a user-data event. The exchange's wire types make one:
/// [`OrderResponse::report`](crate::rest::OrderResponse::report),
/// [`OrderInfo::report`](crate::rest::OrderInfo::report),
/// [`ExecutionReport::report`](crate::ws_api::ExecutionReport::report).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderReport<'a> {
    /// The client order id it carries (a cancel's own id for a cancel).
    pub client_order_id: &'a str,
    /// The id of the order a cancel canceled.
    pub orig_client_order_id: Option<&'a str>,
    /// The exchange's order id.
    pub order_id: u64,
    /// Its status, if the report says.
    pub status: Option<&'a OrderStatus>,
    /// Cumulative executed base quantity, if the report says.
    pub executed_qty: Option<Decimal>,
    /// Cumulative executed quote quantity, if the report says (and it is available).
    pub cumulative_quote_qty: Option<Decimal>,
    /// Why it was rejected, if it was.
    pub reject_reason: Option<&'a str>,
    /// The order's quantity as the exchange has it now, if the report says: below the tracked
    /// one, the order was reduced (a keep-priority amend) and the difference is released.
    pub qty: Option<Decimal>,
    /// The quantity self-trade prevention took from the order so far (`A` of an
    /// `executionReport`, `preventedQuantity` of an answer), if the report says: what it adds
    /// to the tracked one can no longer trade and is released (`DECREMENT`, `TRANSFER`).
    pub prevented_qty: Option<Decimal>,
    /// The price a pegged order took from the book (`peggedPrice` of an answer, `gp` of an
    /// `executionReport`), once the exchange says: a buy's reservation follows it (it was made
    /// by the caller's price bound).
    pub pegged_price: Option<Decimal>,
}

/// An order open on the exchange, to be tracked ([`Orders::adopt`]); made by
/// [`OrderInfo::open_order`](crate::rest::OrderInfo::open_order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenOrder<'a> {
    /// Its client order id.
    pub client_order_id: &'a str,
    /// The symbol.
    pub symbol: &'a str,
    /// The side.
    pub side: &'a Side,
    /// The exchange's order id.
    pub order_id: u64,
    /// Its status.
    pub status: &'a OrderStatus,
    /// Its limit price (zero for none).
    pub price: Decimal,
    /// Its quantity.
    pub orig_qty: Decimal,
    /// Executed so far.
    pub executed_qty: Decimal,
    /// Executed quote quantity so far.
    pub cumulative_quote_qty: Decimal,
    /// Its stop price (zero for none): what a stop-market buy of a list locks by.
    pub stop_price: Decimal,
    /// The quantity self-trade prevention took from it (it no longer trades).
    pub prevented_qty: Decimal,
}

impl Orders {
    /// A tracker moving funds in `ledger`.
    #[must_use]
    pub fn new(ledger: Arc<Ledger>, config: OrdersConfig) -> Self {
        Self {
            ledger,
            config,
            orders: HashMap::default(),
            done: VecDeque::new(),
            busy: HashMap::default(),
            lists: HashMap::default(),
            timers: Timers::default(),
            holds: HashMap::default(),
            preventions: VecDeque::new(),
            gaps: 0,
            #[cfg(test)]
            full_only: false,
        }
    }

    /// The ledger.
    #[must_use]
    pub fn ledger(&self) -> &Arc<Ledger> {
        &self.ledger
    }

    /// What is known of an order.
    #[must_use]
    pub fn get(&self, id: &ClientOrderId) -> Option<&OrderView> {
        self.orders.get(id).map(|t| &t.view)
    }

    /// Whether the exchange's order `order_id` on `symbol` is one this tracker knows (open or
    /// kept after it ended).
    #[must_use]
    pub fn is_ours(&self, symbol: &str, order_id: u64) -> bool {
        self.orders.values().any(|t| t.view.order_id == Some(order_id) && t.view.symbol == symbol)
    }

    /// Holds what `taken` of order `id` (a `TRANSFER` order of `base` against `quote`, selling
    /// when `sell`) is worth, out of the free balance (where prevention just released it, or
    /// where a list's transfer would come from). Returns the amount locked.
    #[cold]
    #[inline(never)]
    fn hold(
        &mut self,
        now_ms: i64,
        id: &ClientOrderId,
        taken: Decimal,
        ((base, quote), sell): ((AssetId, AssetId), bool),
        unit_lock: Option<Decimal>,
    ) -> Decimal {
        let worth = hold_worth(sell, unit_lock, taken);
        let h = self.holds.entry(*id).or_insert(Hold {
            reservation: None,
            base,
            quote,
            sell,
            unit_lock,
            qty: Decimal::ZERO,
            due: None,
            tries: 0,
            marker: false,
        });
        h.qty = h.qty.saturating_add(taken);
        h.due.get_or_insert(now_ms);
        h.tries = 0;
        let Some(worth) = worth else { return Decimal::ZERO };
        match h.reservation {
            Some(held) => {
                let before = self.ledger.remaining(&held).unwrap_or_default();
                self.ledger.extend(&held, worth).map_or(Decimal::ZERO, |after| after.saturating_sub(before))
            }
            None => {
                let made = if sell {
                    self.ledger.reserve_sell(base, quote, worth)
                } else {
                    self.ledger.reserve_buy(base, quote, worth)
                };
                let Ok(made) = made else { return Decimal::ZERO };
                h.reservation = Some(made);
                self.ledger.remaining(&made).unwrap_or(worth)
            }
        }
    }

    /// Frees what `qty` of order `id`'s prevented quantity holds: the `TRADE_PREVENTION` event
    /// says nothing moved (the other order was the account's own, or the account is in no trade
    /// group). Returns the amount freed.
    ///
    /// # Errors
    /// The ledger's refusal (a hold already released).
    pub fn release_hold(&mut self, id: &ClientOrderId, qty: Decimal) -> Result<Decimal, LedgerError> {
        let Some(h) = self.holds.get_mut(id) else { return Ok(Decimal::ZERO) };
        let qty = qty.min(h.qty);
        h.qty -= qty;
        let (reservation, sell, unit_lock, left) = (h.reservation, h.sell, h.unit_lock, h.qty);
        if left <= Decimal::ZERO {
            self.holds.remove(id);
        }
        let Some(reservation) = reservation else { return Ok(Decimal::ZERO) };
        if left <= Decimal::ZERO {
            return self.ledger.release(&reservation);
        }
        match hold_worth(sell, unit_lock, qty) {
            Some(worth) => self.ledger.reduce(&reservation, worth),
            None => Ok(Decimal::ZERO),
        }
    }

    /// The orders whose held prevented funds are to be explained now (`myPreventedMatches` by
    /// order): each is asked once until [`on_prevented_matches`](Self::on_prevented_matches)
    /// or [`on_prevented_matches_failed`](Self::on_prevented_matches_failed).
    pub fn hold_queries(&mut self, now_ms: i64) -> Vec<ClientOrderId> {
        let mut due = Vec::new();
        for (id, h) in &mut self.holds {
            let known = self.orders.get(id).is_some_and(|t| t.view.order_id.is_some());
            if known && h.due.is_some_and(|at| at <= now_ms) {
                h.due = None;
                due.push(*id);
            }
        }
        due.sort_unstable_by(|a, b| a.as_str().cmp(b.as_str()));
        due
    }

    /// Order `id`'s prevented matches (`myPreventedMatches?orderId=`): each one not accounted
    /// for yet frees what it took from the hold; one whose acting mode was `TRANSFER`, in a
    /// trade group, against another account's order (not one this tracker knows) moved that
    /// quantity and its notional at the match's price between the accounts, booked here:
    /// returns the assets and amounts booked (positive: received). A hold the answer does
    /// not account for is asked again (the records come a little after the match), then freed.
    pub fn on_prevented_matches(
        &mut self,
        now_ms: i64,
        id: &ClientOrderId,
        matches: &[Prevention<'_>],
    ) -> Vec<Result<(String, Decimal), LedgerError>> {
        let mut booked = Vec::new();
        let Some((symbol, order_id, sell)) = self
            .orders
            .get(id)
            .and_then(|t| Some((t.view.symbol.clone(), t.view.order_id?, t.view.side == Side::Sell)))
        else {
            return booked;
        };
        let Some((base, quote)) = self.holds.get(id).map(|h| (h.base, h.quote)) else { return booked };
        // A hold made after a gap held all the order released: freed now, what moved is booked
        // below from the matches.
        if let Some(h) = self.holds.get_mut(id).filter(|h| h.marker)
            && let Some(r) = h.reservation.take()
            && let Err(e) = self.ledger.release(&r)
        {
            booked.push(Err(e));
        }
        for m in matches {
            let (qty, counter_symbol, counter) = if m.symbol == symbol && m.taker_order_id == order_id {
                (m.taker_qty, m.maker_symbol, m.maker_order_id)
            } else if m.maker_symbol == symbol && m.maker_order_id == order_id {
                (m.maker_qty, m.symbol, m.taker_order_id)
            } else {
                continue;
            };
            let key = (symbol.clone(), m.id, order_id);
            let Some(qty) = qty.filter(|q| *q > Decimal::ZERO) else { continue };
            if self.preventions.contains(&key) || !self.holds.contains_key(id) {
                continue;
            }
            if self.preventions.len() >= PREVENTIONS_KEPT {
                self.preventions.pop_front();
            }
            self.preventions.push_back(key);
            let moved = m.transfer && m.trade_group_id >= 0 && !self.is_ours(counter_symbol, counter);
            if let Err(e) = self.release_hold(id, qty) {
                booked.push(Err(e));
                continue;
            }
            if !moved {
                continue;
            }
            let notional = m.price.checked_mul(qty).map(|d| d.round_dp_with_strategy(8, RoundingStrategy::ToZero));
            let Some(notional) = notional else { continue };
            // The seller gives the quantity and gets its notional; the buyer the other way.
            let (given, got) = if sell { ((base, qty), (quote, notional)) } else { ((quote, notional), (base, qty)) };
            for (asset, amount, out) in [(given.0, given.1, true), (got.0, got.1, false)] {
                let name = self.ledger.asset_name(asset).unwrap_or_default();
                let applied = if out { self.ledger.debit(asset, amount) } else { self.ledger.credit(asset, amount) };
                booked.push(applied.map(|_| (name, if out { -amount } else { amount })));
            }
        }
        if let Some(e) = self.hold_unaccounted(now_ms, id, true) {
            booked.push(Err(e));
        }
        booked
    }

    /// The prevented matches of order `id` could not be asked for: asked again after a
    /// back-off (after five failures what is held is freed: the ledger's refusal,
    /// if it has one, is returned).
    pub fn on_prevented_matches_failed(&mut self, now_ms: i64, id: &ClientOrderId) -> Option<LedgerError> {
        self.hold_unaccounted(now_ms, id, false)
    }

    /// What is left of order `id`'s hold after an answer: asked again later, freed after
    /// [`HOLD_TRIES`] answers (nothing known moved).
    fn hold_unaccounted(&mut self, now_ms: i64, id: &ClientOrderId, answered: bool) -> Option<LedgerError> {
        let h = self.holds.get_mut(id)?;
        h.tries = h.tries.saturating_add(1);
        // Everything held is accounted for (or nothing was: a check after a gap, answered).
        let settled = answered && h.qty <= Decimal::ZERO && h.due.is_none();
        if h.tries < HOLD_TRIES && !settled {
            let backoff = 500_i64.saturating_mul(1 << h.tries.min(8));
            h.due = Some(now_ms.saturating_add(backoff));
            return None;
        }
        let r = h.reservation;
        self.holds.remove(id);
        r.and_then(|r| self.ledger.release(&r).err())
    }

    /// The user-data stream was interrupted: events may have been lost. A `TRANSFER` order that
    /// ends after it has its prevented matches asked for.
    pub fn note_stream_gap(&mut self) {
        self.gaps = self.gaps.wrapping_add(1);
    }

    /// Whether any `TRANSFER` order's prevented funds are held.
    #[must_use]
    pub fn has_holds(&self) -> bool {
        !self.holds.is_empty()
    }

    /// The orders that have not ended.
    pub fn open(&self) -> impl Iterator<Item = (&ClientOrderId, &OrderView)> {
        self.orders.iter().filter(|(_, t)| !t.view.state.is_terminal()).map(|(id, t)| (id, &t.view))
    }

    /// Orders that have ended but still hold their reservation: their last trades are awaited
    /// (the ledger does not have them yet).
    pub fn settling(&self) -> impl Iterator<Item = (&ClientOrderId, &OrderView)> {
        self.orders
            .iter()
            .filter(|(_, t)| t.view.state.is_terminal() && t.view.reservation.is_some())
            .map(|(id, t)| (id, &t.view))
    }

    /// Reserves the order's funds and starts tracking it as `PendingNew` (not sent: it waits for
    /// its turn without a reply timer). Sign and hand out its request when it is admitted, then
    /// call [`Orders::on_sent`]. Returns the reservation.
    ///
    /// # Errors
    /// [`OrdersError`]: no client order id, an id already tracked, a busy symbol, an unknown lock
    /// amount, too many open orders, or the ledger's refusal (insufficient funds). Nothing changes.
    pub fn submit(&mut self, submit: Submit<'_>) -> Result<Reservation, OrdersError> {
        let order = submit.order;
        let id = *order.client_order_id().ok_or(OrdersError::MissingClientOrderId)?;
        if self.orders.contains_key(&id) {
            return Err(OrdersError::DuplicateClientOrderId(id));
        }
        if self.config.symbol_policy != SymbolPolicy::Any
            && let Some(busy) = self.busy.get(order.symbol())
        {
            return Err(OrdersError::SymbolBusy { symbol: order.symbol().to_owned(), busy: *busy });
        }
        if self.orders.len().saturating_sub(self.done.len()) >= self.config.max_open {
            return Err(OrdersError::TooManyOpen);
        }
        if order.peg_price_type().is_some() && order.order_type().is_algo() && *order.side() == Side::Buy {
            return Err(OrdersError::PeggedStopBuy);
        }
        let amount = lock_amount(order, submit.price_bound).ok_or(OrdersError::NeedsPriceBound)?;
        let side = order.side().clone();
        let reservation = match side {
            Side::Buy => self.ledger.reserve_buy(submit.base, submit.quote, amount)?,
            Side::Sell => self.ledger.reserve_sell(submit.base, submit.quote, amount)?,
            Side::Unknown(_) => return Err(OrdersError::NeedsPriceBound),
        };
        let mut tracked = self.pending(OrderView {
            symbol: order.symbol().to_owned(),
            side,
            state: OrderState::PendingNew,
            order_id: None,
            executed_qty: Decimal::ZERO,
            cumulative_quote_qty: Decimal::ZERO,
            traded_qty: Decimal::ZERO,
            reservation: Some(reservation),
            reject_reason: None,
            ledger_mismatch: false,
            qty: order.quantity().filter(|_| order.quote_order_qty().is_none()),
            amends: 0,
            prevented_qty: Decimal::ZERO,
            amending: None,
        });
        tracked.unit_lock = unit_lock(order);
        tracked.transfer = order.self_trade_prevention_mode() == Some(&crate::model::SelfTradePreventionMode::Transfer);
        tracked.assets = tracked.transfer.then_some((submit.base, submit.quote));
        if order.peg_price_type().is_some() && *order.side() == Side::Buy {
            tracked.unit_lock = order.price().or(submit.price_bound);
            tracked.peg_bound = true;
        }
        self.track(id, tracked);
        Ok(reservation)
    }

    /// Starts tracking an order that is already open on the exchange (found at start-up by
    /// `GET /api/v3/openOrders`): what it still needs is reserved in the ledger (a buy's price
    /// times its remaining quantity, a sell's remaining quantity), and what it already executed
    /// counts as settled (the account's balances include it).
    ///
    /// # Errors
    /// [`OrdersError::MissingClientOrderId`] for an id outside Binance's pattern,
    /// [`OrdersError::DuplicateClientOrderId`], [`OrdersError::NeedsPriceBound`] (a stop-market
    /// buy: no price to lock by), [`OrdersError::Ledger`].
    pub fn adopt(&mut self, info: &OpenOrder<'_>, base: AssetId, quote: AssetId) -> Result<Reservation, OrdersError> {
        let id = ClientOrderId::new(info.client_order_id).map_err(|_| OrdersError::MissingClientOrderId)?;
        if self.orders.contains_key(&id) {
            return Err(OrdersError::DuplicateClientOrderId(id));
        }
        let remaining = (info.orig_qty - info.executed_qty - info.prevented_qty).max(Decimal::ZERO);
        let reservation = match info.side {
            Side::Buy => {
                let price = Some(info.price).filter(|p| !p.is_zero()).ok_or(OrdersError::NeedsPriceBound)?;
                let amount = remaining
                    .checked_mul(price)
                    .map(|d| d.round_dp_with_strategy(8, RoundingStrategy::AwayFromZero))
                    .ok_or(OrdersError::NeedsPriceBound)?;
                self.ledger.reserve_buy(base, quote, amount)?
            }
            Side::Sell => self.ledger.reserve_sell(base, quote, remaining)?,
            Side::Unknown(_) => return Err(OrdersError::NeedsPriceBound),
        };
        let state = OrderState::from_status(info.status).unwrap_or(OrderState::New);
        let mut tracked = self.pending(OrderView {
            symbol: info.symbol.to_owned(),
            side: info.side.clone(),
            state,
            order_id: Some(info.order_id),
            executed_qty: info.executed_qty,
            cumulative_quote_qty: info.cumulative_quote_qty,
            traded_qty: info.executed_qty,
            reservation: Some(reservation),
            reject_reason: None,
            ledger_mismatch: false,
            qty: Some(info.orig_qty),
            amends: 0,
            prevented_qty: info.prevented_qty,
            amending: None,
        });
        // Already on the exchange: sent, and no deadline left to wait for.
        tracked.sent = true;
        tracked.deadline_ms = 0;
        tracked.unit_lock = (*info.side == Side::Buy).then_some(info.price);
        self.track(id, tracked);
        Ok(reservation)
    }

    /// Starts tracking the open orders of one order list found at start-up (the
    /// `GET /api/v3/openOrders` entries with its `orderListId`) as a list under `key`, with
    /// what Binance locks for it: an OCO (or the placed pair of an OTOCO) once for its legs (the
    /// base quantity left of a SELL; for a BUY the most any leg could spend at its limit or stop
    /// price); an OTO's working order its own, its pending orders (`PENDING_NEW`) nothing until
    /// they are placed, and for an OPO what the working order already received.
    ///
    /// # Errors
    /// As [`adopt`](Self::adopt); nothing changes then.
    pub fn adopt_list(
        &mut self,
        key: ClientOrderId,
        legs: &[OpenOrder<'_>],
        base: AssetId,
        quote: AssetId,
    ) -> Result<(), OrdersError> {
        let mut ids = Vec::new();
        for leg in legs {
            let id = ClientOrderId::new(leg.client_order_id).map_err(|_| OrdersError::MissingClientOrderId)?;
            if self.orders.contains_key(&id) || ids.contains(&id) {
                return Err(OrdersError::DuplicateClientOrderId(id));
            }
            ids.push(id);
        }
        if self.lists.contains_key(&key) {
            return Err(OrdersError::DuplicateClientOrderId(key));
        }
        let remaining = |l: &OpenOrder<'_>| (l.orig_qty - l.executed_qty - l.prevented_qty).max(Decimal::ZERO);
        let limit = |l: &OpenOrder<'_>| if l.price.is_zero() { l.stop_price } else { l.price };
        let up = |d: Decimal| d.round_dp_with_strategy(8, RoundingStrategy::AwayFromZero);
        let one_lock = |of: &[&OpenOrder<'_>]| -> Option<(bool, Decimal)> {
            let buy = *of.first()?.side == Side::Buy;
            let amount = if buy {
                of.iter()
                    .map(|l| limit(l).checked_mul(remaining(l)).map(up))
                    .collect::<Option<Vec<_>>>()?
                    .into_iter()
                    .max()?
            } else {
                of.iter().map(|l| remaining(l)).max()?
            };
            Some((buy, amount))
        };
        let pending: Vec<&OpenOrder<'_>> = legs.iter().filter(|l| *l.status == OrderStatus::PendingNew).collect();
        let live: Vec<&OpenOrder<'_>> = legs.iter().filter(|l| *l.status != OrderStatus::PendingNew).collect();
        let reserve = |ledger: &Ledger, buy: bool, amount: Decimal| {
            if buy { ledger.reserve_buy(base, quote, amount) } else { ledger.reserve_sell(base, quote, amount) }
        };
        // (leg index, its reservation, its dormant lock)
        let mut plan: Vec<(usize, Option<Reservation>, Option<Dormant>)> = Vec::new();
        let mut made: Vec<Reservation> = Vec::new();
        let mut list_pending = None;
        let mut working = None;
        let mut pays = false;
        let result = (|| -> Result<(), OrdersError> {
            if pending.is_empty() {
                let (buy, amount) = one_lock(&live).ok_or(OrdersError::NeedsPriceBound)?;
                let r = reserve(&self.ledger, buy, amount)?;
                made.push(r);
                plan.extend((0..legs.len()).map(|k| (k, Some(r), None)));
                return Ok(());
            }
            // An OTO: the working order (the live one) locks its own.
            for (k, leg) in legs.iter().enumerate() {
                if *leg.status == OrderStatus::PendingNew {
                    continue;
                }
                let (buy, amount) = one_lock(&[leg]).ok_or(OrdersError::NeedsPriceBound)?;
                let r = reserve(&self.ledger, buy, amount)?;
                made.push(r);
                plan.push((k, Some(r), None));
                working = ids.get(k).copied();
                // An OPO's working order already received this much, locked for the pending ones.
                pays = pending.iter().all(|p| p.orig_qty.is_zero());
                if pays && !buy {
                    return Err(OrdersError::NeedsPriceBound);
                }
                if pays && leg.executed_qty > Decimal::ZERO {
                    let r = self.ledger.reserve_sell(base, quote, leg.executed_qty)?;
                    made.push(r);
                    list_pending = Some(r);
                }
            }
            let dormant = one_lock(&pending).filter(|_| !pays);
            for (k, leg) in legs.iter().enumerate() {
                if *leg.status == OrderStatus::PendingNew {
                    let buy = *leg.side == Side::Buy;
                    let amount = dormant.map(|(_, a)| a);
                    plan.push((k, None, Some(Dormant { base, quote, buy, amount })));
                }
            }
            Ok(())
        })();
        if let Err(e) = result {
            for r in made {
                // Only just made: releasing it cannot fail but for a bug; nothing else to do.
                if self.ledger.release(&r).is_err() {
                    debug_assert!(false, "a reservation just made could not be released");
                }
            }
            return Err(e);
        }
        for (k, reservation, dormant) in plan {
            let (Some(leg), Some(id)) = (legs.get(k), ids.get(k)) else { continue };
            let mut tracked = self.pending(OrderView {
                symbol: leg.symbol.to_owned(),
                side: leg.side.clone(),
                state: OrderState::from_status(leg.status).unwrap_or(OrderState::New),
                order_id: Some(leg.order_id),
                executed_qty: leg.executed_qty,
                cumulative_quote_qty: leg.cumulative_quote_qty,
                traded_qty: leg.executed_qty,
                reservation,
                reject_reason: None,
                ledger_mismatch: false,
                qty: Some(leg.orig_qty).filter(|q| !q.is_zero()),
                amends: 0,
                prevented_qty: Decimal::ZERO,
                amending: None,
            });
            tracked.sent = true;
            tracked.deadline_ms = 0;
            tracked.list = Some(key);
            tracked.dormant = dormant;
            tracked.unit_lock = (*leg.side == Side::Buy && !leg.price.is_zero()).then_some(leg.price);
            self.track(*id, tracked);
        }
        self.lists.insert(key, TrackedList { legs: ids, working, pays, pending: list_pending, by_legs: false });
        Ok(())
    }

    /// Reserves an order list's funds and starts tracking its legs as `PendingNew`. An OCO's two
    /// legs share one reservation (released when both have ended and settled); an OTO family
    /// list reserves its working order's funds only: its pending orders lock theirs when the
    /// exchange places them (an OPO's: what the working order received, as it receives it).
    /// Call [`on_list_sent`](Self::on_list_sent) when its request leaves. Returns the
    /// reservation made now.
    ///
    /// # Errors
    /// As [`submit`](Self::submit): missing client order ids (the list's or a leg's), an id
    /// already tracked or used twice, a busy symbol, too many open orders, an amount that needs
    /// a price (a pending MARKET buy), the ledger's refusal. Nothing changes then.
    pub fn submit_list(&mut self, submit: SubmitList<'_>) -> Result<Reservation, OrdersError> {
        let request = submit.list;
        let list = *request.list_client_order_id().ok_or(OrdersError::MissingClientOrderId)?;
        let legs = request.leg_requests();
        if legs.iter().any(|l| l.peg_price_type().is_some() && *l.side() == Side::Buy) {
            return Err(OrdersError::PeggedListBuy);
        }
        let ids = legs
            .iter()
            .map(|l| l.client_order_id().copied().ok_or(OrdersError::MissingClientOrderId))
            .collect::<Result<Vec<_>, _>>()?;
        for (k, id) in ids.iter().chain([&list]).enumerate() {
            if self.orders.contains_key(id) || self.lists.contains_key(id) || ids.iter().skip(k + 1).any(|o| o == id) {
                return Err(OrdersError::DuplicateClientOrderId(*id));
            }
        }
        if self.config.symbol_policy != SymbolPolicy::Any
            && let Some(busy) = self.busy.get(request.symbol())
        {
            return Err(OrdersError::SymbolBusy { symbol: request.symbol().to_owned(), busy: *busy });
        }
        if self.orders.len().saturating_sub(self.done.len()).saturating_add(ids.len()) > self.config.max_open {
            return Err(OrdersError::TooManyOpen);
        }
        let (base, quote) = (submit.base, submit.quote);
        let reserve = |ledger: &Ledger, side: &Side, amount: Decimal| match side {
            Side::Buy => ledger.reserve_buy(base, quote, amount).map_err(OrdersError::from),
            Side::Sell => ledger.reserve_sell(base, quote, amount).map_err(OrdersError::from),
            Side::Unknown(_) => Err(OrdersError::NeedsPriceBound),
        };
        let view = |order: &OrderRequest, reservation: Option<Reservation>| OrderView {
            symbol: order.symbol().to_owned(),
            side: order.side().clone(),
            state: OrderState::PendingNew,
            order_id: None,
            executed_qty: Decimal::ZERO,
            cumulative_quote_qty: Decimal::ZERO,
            traded_qty: Decimal::ZERO,
            reservation,
            reject_reason: None,
            ledger_mismatch: false,
            qty: order.quantity(),
            amends: 0,
            prevented_qty: Decimal::ZERO,
            amending: None,
        };
        let mut tracked = Vec::new();
        let (reservation, working, pays) = match request {
            ListRequest::Oco(oco) => {
                let amount = oco_lock_amount(oco).ok_or(OrdersError::NeedsPriceBound)?;
                let reservation = reserve(&self.ledger, oco.side(), amount)?;
                for (id, leg) in ids.iter().zip(&legs) {
                    tracked.push((*id, self.pending(view(leg, Some(reservation)))));
                }
                (reservation, None, false)
            }
            ListRequest::Oto(oto) => {
                let pays = oto.kind().pays();
                // What the pending orders will lock: an OPO's is what the working order
                // receives; otherwise one order's lock, or an OCO pair's one lock.
                let buy = oto.pending_side() == &Side::Buy;
                let amount = match (pays, oto.pending(), oto.pending_quantity()) {
                    (true, _, _) | (_, _, None) => None,
                    (false, PendingLegs::One(_), Some(_)) => Some(
                        legs.get(1).and_then(|l| lock_amount(l, l.stop_price())).ok_or(OrdersError::NeedsPriceBound)?,
                    ),
                    (false, PendingLegs::Pair { above, below }, Some(qty)) => Some(
                        oco_lock_amount(&OcoRequest::new(
                            oto.symbol(),
                            oto.pending_side().clone(),
                            qty,
                            above.clone(),
                            below.clone(),
                        ))
                        .ok_or(OrdersError::NeedsPriceBound)?,
                    ),
                };
                let working_order = legs.first().ok_or(OrdersError::MissingClientOrderId)?;
                let working_amount = lock_amount(working_order, None).ok_or(OrdersError::NeedsPriceBound)?;
                let reservation = reserve(&self.ledger, working_order.side(), working_amount)?;
                for (k, (id, leg)) in ids.iter().zip(&legs).enumerate() {
                    let mut t = if k == 0 {
                        let mut t = self.pending(view(leg, Some(reservation)));
                        t.unit_lock = unit_lock(leg);
                        t
                    } else {
                        let mut t = self.pending(view(leg, None));
                        t.dormant = Some(Dormant { base, quote, buy, amount });
                        if pays {
                            t.view.qty = None;
                        }
                        t
                    };
                    t.list = Some(list);
                    tracked.push((*id, t));
                }
                (reservation, ids.first().copied(), pays)
            }
        };
        for (id, mut t) in tracked {
            t.list = Some(list);
            t.transfer = ids.iter().zip(&legs).any(|(leg_id, leg)| {
                *leg_id == id
                    && leg.self_trade_prevention_mode() == Some(&crate::model::SelfTradePreventionMode::Transfer)
            });
            t.assets = t.transfer.then_some((base, quote));
            self.track(id, t);
        }
        self.lists.insert(list, TrackedList { legs: ids, working, pays, pending: None, by_legs: false });
        Ok(reservation)
    }

    /// Whether order `id` is a pending order of an OTO family list the exchange has not placed
    /// yet (it locks nothing until then).
    #[must_use]
    pub fn awaits_trigger(&self, id: &ClientOrderId) -> bool {
        self.orders.get(id).is_some_and(|t| t.dormant.is_some() && t.view.reservation.is_none())
    }

    /// A new tracked order around `view`: not sent, no deadline yet, no timer, no trades.
    fn pending(&self, view: OrderView) -> Tracked {
        Tracked {
            view,
            before_cancel: None,
            // Not sent: no request exists whose deadline could pass.
            deadline_ms: i64::MAX,
            sent: false,
            list: None,
            dormant: None,
            unit_lock: None,
            peg_bound: false,
            transfer: false,
            assets: None,
            gaps_at_submit: self.gaps,
            sor: false,
            alloc_next: false,
            timer: None,
            backoff_ms: self.config.query_backoff_ms.max(1),
            last_query_ms: None,
            trades: HashSet::default(),
            done: false,
        }
    }

    /// Starts tracking `tracked` as order `id`.
    fn track(&mut self, id: ClientOrderId, tracked: Tracked) {
        if let Some(replaced) = self.orders.insert(id, tracked) {
            self.timers.forget(&replaced);
        }
        self.refresh_busy(&id);
    }

    /// The legs of list `list` (its `listClientOrderId`), if tracked.
    #[must_use]
    pub fn legs(&self, list: &ClientOrderId) -> Option<&[ClientOrderId]> {
        self.lists.get(list).map(|l| l.legs.as_slice())
    }

    /// The list order `id` belongs to, if any.
    #[must_use]
    pub fn list_of(&self, id: &ClientOrderId) -> Option<ClientOrderId> {
        self.orders.get(id).and_then(|t| t.list)
    }

    /// The orders an id names: a list's legs, or the order itself.
    #[must_use]
    pub fn legs_or_self(&self, id: &ClientOrderId) -> Vec<ClientOrderId> {
        self.lists.get(id).map_or_else(|| vec![*id], |l| l.legs.clone())
    }

    /// Whether list `list` may still be sent: every leg `PendingNew`, unsent, reserved.
    #[must_use]
    pub fn list_awaits_send(&self, list: &ClientOrderId) -> bool {
        self.lists.get(list).is_some_and(|l| l.legs.iter().all(|leg| self.awaits_send(leg)))
    }

    /// The list's request is being handed out now: each leg is sent (its reply timer starts; an
    /// unknown outcome has each leg queried by its client order id: a list is placed whole or not
    /// at all). Returns `false`, changing nothing, unless every leg awaits its send.
    #[must_use = "a list this refuses must not be sent"]
    pub fn on_list_sent(
        &mut self,
        now_ms: i64,
        list: &ClientOrderId,
        timestamp: impl Into<ServerMs>,
        recv_window_ms: i64,
    ) -> bool {
        let timestamp = timestamp.into();
        if !self.list_awaits_send(list) {
            return false;
        }
        let legs = self.legs_or_self(list);
        legs.iter().all(|leg| self.on_sent(now_ms, leg, timestamp, recv_window_ms))
    }

    /// The order's request, signed with `timestamp` (server time) and `recv_window_ms`, is being
    /// handed out
    /// now: its reply timer starts, and `-2013` proves nothing until that request's
    /// `timestamp + recvWindow` (+ the allowed skew) has passed.
    ///
    /// Returns `false`, and changes nothing, unless the order is `PendingNew` and not sent yet:
    /// an order whose funds were released (canceled while queued, not sent, concluded) or that was
    /// already sent must not leave. Call it before handing the request out and drop the request
    /// on `false`.
    #[must_use = "an order this refuses must not be sent"]
    pub fn on_sent(
        &mut self,
        now_ms: i64,
        id: &ClientOrderId,
        timestamp: impl Into<ServerMs>,
        recv_window_ms: i64,
    ) -> bool {
        let timestamp_ms = timestamp.into().millis();
        if !self.awaits_send(id) {
            return false;
        }
        let Some(t) = self.orders.get_mut(id) else { return false };
        t.sent = true;
        t.deadline_ms =
            timestamp_ms.saturating_add(recv_window_ms.max(0)).saturating_add(self.config.max_clock_skew_ms.max(0));
        let at = now_ms.saturating_add(self.config.reply_timeout_ms);
        self.timers.set(t, Some((at, Timer::Reply)));
        true
    }

    /// A query of the order (an [`OrderAction::Query`]) is being handed out now. Its `-2013` answer
    /// proves the order was never placed only if it left after the order's request could no
    /// longer be accepted: the time recorded here decides, not when the query was asked for (it
    /// may have waited for the rate limiter, or been absorbed by one already in flight).
    pub fn on_query_sent(&mut self, now_ms: i64, id: &ClientOrderId) {
        if let Some(t) = self.orders.get_mut(id) {
            t.last_query_ms = Some(now_ms);
        }
    }

    /// Whether the order may still be sent: `PendingNew`, unsent, its funds reserved (what
    /// [`Orders::on_sent`] checks).
    #[must_use]
    pub fn awaits_send(&self, id: &ClientOrderId) -> bool {
        self.orders.get(id).is_some_and(|t| {
            !t.sent && t.view.state == OrderState::PendingNew && (t.view.reservation.is_some() || t.dormant.is_some())
        })
    }

    /// Whether the order's request was handed out (see [`Orders::on_sent`]).
    #[must_use]
    pub fn is_sent(&self, id: &ClientOrderId) -> bool {
        self.orders.get(id).is_some_and(|t| t.sent)
    }

    /// The order was never sent (the rate limiter refused it, the connection could not be
    /// opened): it is `NotPlaced` and its funds are released.
    pub fn on_not_sent(&mut self, id: &ClientOrderId) -> OrderApplied {
        self.conclude(id, OrderState::NotPlaced, None, |s| s == OrderState::PendingNew)
    }

    /// The order's send got no answer after the request may have been written (a timeout, a
    /// connection reset, the connection closed): the order is `Unknown` and will be queried.
    pub fn on_place_unanswered(&mut self, now_ms: i64, id: &ClientOrderId) -> OrderApplied {
        let Some(t) = self.orders.get_mut(id) else { return OrderApplied::Untracked };
        if !to_unknown(t) {
            return OrderApplied::Duplicate;
        }
        self.timers.set(t, Some((now_ms.saturating_add(t.backoff_ms), Timer::Query)));
        let update = OrderUpdate {
            client_order_id: *id,
            state: t.view.state,
            traded: Decimal::ZERO,
            released: None,
            ledger_error: None,
        };
        self.refresh_busy(id);
        OrderApplied::Changed(update)
    }

    /// An error answer to the order's POST (REST or WebSocket API). An unknown outcome (5xx,
    /// `-1006`, `-1007`, an unreadable body) leaves the order `Unknown`; every other error means
    /// the request did nothing: the order is `Rejected` and its funds are released.
    pub fn on_place_error(&mut self, now_ms: i64, id: &ClientOrderId, error: &ApiError) -> OrderApplied {
        match error.outcome() {
            Outcome::Unknown => self.on_place_unanswered(now_ms, id),
            _ => {
                let reason = if error.msg.is_empty() { error.to_string() } else { error.msg.clone() };
                self.conclude(id, OrderState::Rejected, Some(reason), OrderState::is_in_flight)
            }
        }
    }

    /// The exchange's report of an order (the answer to its placement in any response type, a
    /// query, a cancel, a user-data event) with the trades it carries: trades move money once
    /// per trade id, and the order's state and cumulative quantities only move forward.
    pub fn on_report<'a>(
        &mut self,
        now_ms: i64,
        report: &OrderReport<'_>,
        trades: impl IntoIterator<Item = OrderTrade<'a>>,
    ) -> OrderApplied {
        let Some(id) = Self::key(report.client_order_id, report.orig_client_order_id) else {
            return OrderApplied::Untracked;
        };
        self.apply(now_ms, &id, report, &mut trades.into_iter())
    }

    /// An error answer to a query of an unknown order. `-2013 Order does not exist.` to a query
    /// sent ([`Orders::on_query_sent`]) once the request could no longer be accepted makes the order `NotPlaced` (funds
    /// released); before that, and for any other error, the order is queried again after a
    /// back-off.
    pub fn on_query_error(&mut self, now_ms: i64, id: &ClientOrderId, error: &ApiError) -> OrderApplied {
        self.query_failed(now_ms, id, &error.outcome())
    }

    /// [`on_query_error`](Self::on_query_error) with the error's outcome.
    fn query_failed(&mut self, now_ms: i64, id: &ClientOrderId, outcome: &Outcome) -> OrderApplied {
        let outcome = outcome.clone();
        let Some(t) = self.orders.get_mut(id) else { return OrderApplied::Untracked };
        if t.view.state != OrderState::Unknown {
            return OrderApplied::Duplicate;
        }
        if outcome == Outcome::Rejected(Rejection::NoSuchOrder)
            && t.last_query_ms.is_some_and(|asked| asked >= t.deadline_ms)
        {
            return self.conclude(id, OrderState::NotPlaced, None, |s| s == OrderState::Unknown);
        }
        let mut at = now_ms.saturating_add(t.backoff_ms);
        if let Outcome::RateLimited { retry_after_ms: Some(r) } | Outcome::Banned { until_ms: Some(r) } = outcome {
            at = at.max(r);
        }
        if outcome == Outcome::Rejected(Rejection::NoSuchOrder) {
            // Ask again no earlier than the deadline, when the answer becomes conclusive.
            at = at.max(t.deadline_ms);
        }
        self.timers.set(t, Some((at, Timer::Query)));
        t.backoff_ms = t.backoff_ms.saturating_mul(2).min(self.config.max_query_backoff_ms.max(1));
        OrderApplied::Duplicate
    }

    /// Order `id` goes through SOR: its missing fills are asked for from `myAllocations` too
    /// (first), not only `myTrades`.
    pub fn mark_sor(&mut self, id: &ClientOrderId) {
        if let Some(t) = self.orders.get_mut(id) {
            t.sor = true;
            t.alloc_next = true;
        }
    }

    /// Marks a keep-priority amend as sent: order `id`'s quantity is to become `new_qty`. The
    /// order must be working on the book (`New`, `PartiallyFilled`) with no amend or cancel on
    /// its way, and `new_qty` must reduce it; `max_amends` is the symbol's
    /// `MAX_NUM_ORDER_AMENDS`, if it has one. Nothing is released yet: the funds follow the
    /// quantity the exchange reports (the amend's answer, its `executionReport`, a query), once.
    /// Returns the symbol and the exchange's order id.
    ///
    /// # Errors
    /// [`OrdersError::UnknownOrder`], [`OrdersError::NotAmendable`],
    /// [`OrdersError::AmendNotReducing`], [`OrdersError::TooManyAmends`]. Nothing changes.
    pub fn amend(
        &mut self,
        id: &ClientOrderId,
        new_qty: Decimal,
        max_amends: Option<u32>,
    ) -> Result<(String, Option<u64>), OrdersError> {
        let t = self.orders.get_mut(id).ok_or(OrdersError::UnknownOrder(*id))?;
        let state = t.view.state;
        let working = matches!(state, OrderState::New | OrderState::PartiallyFilled);
        // A buy whose lock does not follow its quantity could not be released exactly.
        let follows = t.view.side == Side::Sell || t.unit_lock.is_some();
        // A list's legs share one lock (an OCO's quantity is both legs'): not amended here.
        if !working || t.view.amending.is_some() || t.before_cancel.is_some() || !follows || t.list.is_some() {
            return Err(OrdersError::NotAmendable(state));
        }
        let qty = t.view.qty.ok_or(OrdersError::NotAmendable(state))?;
        if new_qty <= Decimal::ZERO || new_qty >= qty {
            return Err(OrdersError::AmendNotReducing { qty, new_qty });
        }
        if let Some(max) = max_amends
            && t.view.amends >= max
        {
            return Err(OrdersError::TooManyAmends(t.view.amends));
        }
        t.view.amending = Some(new_qty);
        Ok((t.view.symbol.clone(), t.view.order_id))
    }

    /// An error answer to an amend. A refusal changes nothing; an unknown outcome (5xx,
    /// `-1006`, `-1007`) has the order queried: its quantity tells whether the amend happened.
    pub fn on_amend_error(&mut self, now_ms: i64, id: &ClientOrderId, error: &ApiError) -> OrderApplied {
        let unknown = error.outcome() == Outcome::Unknown;
        self.end_amend(now_ms, id, unknown)
    }

    /// An amend sent without an answer (a timeout, a reset, an unreadable body): whether it
    /// happened is not known. The order is queried; its quantity tells.
    pub fn on_amend_unanswered(&mut self, now_ms: i64, id: &ClientOrderId) -> OrderApplied {
        self.end_amend(now_ms, id, true)
    }

    /// An amend that was not sent (the limiter found it too heavy, it could not be built):
    /// nothing changed on the exchange.
    pub fn on_amend_not_sent(&mut self, id: &ClientOrderId) -> OrderApplied {
        self.end_amend(0, id, false)
    }

    /// The amend's answer: the amended order (its new quantity, status and executed quantity)
    /// applied like any report of it. Should it not show the quantity asked for, the order is
    /// queried.
    pub fn on_amend_answer(&mut self, now_ms: i64, id: &ClientOrderId, report: &OrderReport<'_>) -> OrderApplied {
        let applied = self.on_report(now_ms, report, []);
        match self.end_amend(now_ms, id, true) {
            OrderApplied::Duplicate => applied,
            other if applied == OrderApplied::Duplicate => other,
            _ => applied,
        }
    }

    fn end_amend(&mut self, now_ms: i64, id: &ClientOrderId, query: bool) -> OrderApplied {
        let Some(t) = self.orders.get_mut(id) else { return OrderApplied::Untracked };
        if t.view.amending.take().is_none() {
            return OrderApplied::Duplicate;
        }
        if query && !t.view.state.is_terminal() {
            self.timers.set(t, Some((now_ms, Timer::Query)));
        }
        let update = OrderUpdate {
            client_order_id: *id,
            state: t.view.state,
            traded: Decimal::ZERO,
            released: None,
            ledger_error: None,
        };
        OrderApplied::Changed(update)
    }

    /// Marks a cancel as sent for an order that may be working (`PendingNew`, `New`,
    /// `PartiallyFilled`, `Unknown`): the order is `PendingCancel` until the answer or event.
    /// Returns the symbol and the exchange's order id when known (cancel by `orderId` is fastest,
    /// by `origClientOrderId` otherwise).
    ///
    /// # Errors
    /// [`OrdersError::UnknownOrder`], [`OrdersError::NotCancelable`] (ended or already canceling).
    pub fn cancel(&mut self, id: &ClientOrderId) -> Result<(String, Option<u64>), OrdersError> {
        let t = self.orders.get_mut(id).ok_or(OrdersError::UnknownOrder(*id))?;
        let state = t.view.state;
        if state.is_terminal() || state == OrderState::PendingCancel {
            return Err(OrdersError::NotCancelable(state));
        }
        t.before_cancel = Some(state);
        t.view.state = OrderState::PendingCancel;
        Ok((t.view.symbol.clone(), t.view.order_id))
    }

    /// An error answer to a cancel. The order returns to its state before the cancel and, when the
    /// cancel's outcome is unknown or the exchange did not find the order (`-2011`), it is
    /// queried to learn what happened.
    pub fn on_cancel_error(&mut self, now_ms: i64, id: &ClientOrderId, error: &ApiError) -> OrderApplied {
        let query = matches!(error.outcome(), Outcome::Unknown | Outcome::Rejected(Rejection::CancelRejected(_)));
        self.revert_cancel(now_ms, id, query)
    }

    /// A cancel that never left (a cancel-replace dropped before it was sent): the order goes
    /// back to its state before, with nothing to ask.
    pub fn on_cancel_not_sent(&mut self, id: &ClientOrderId) -> OrderApplied {
        self.revert_cancel(0, id, false)
    }

    /// A cancel sent without an answer (a timeout, a reset, an unreadable body): whether it
    /// happened is not known. The order goes back to its state before the cancel and is queried.
    pub fn on_cancel_unanswered(&mut self, now_ms: i64, id: &ClientOrderId) -> OrderApplied {
        self.revert_cancel(now_ms, id, true)
    }

    /// Asks for a query of order `id` now (through [`poll_action`](Self::poll_action)): the
    /// exchange no longer lists it as open, say. Returns whether it is tracked.
    pub fn request_query(&mut self, now_ms: i64, id: &ClientOrderId) -> bool {
        let Some(t) = self.orders.get_mut(id) else { return false };
        self.timers.set(t, Some((now_ms, Timer::Query)));
        true
    }

    fn revert_cancel(&mut self, now_ms: i64, id: &ClientOrderId, query: bool) -> OrderApplied {
        let Some(t) = self.orders.get_mut(id) else { return OrderApplied::Untracked };
        let Some(before) = t.before_cancel.take() else { return OrderApplied::Duplicate };
        if t.view.state != OrderState::PendingCancel {
            return OrderApplied::Duplicate;
        }
        t.view.state = before;
        // A send still without answer gets its own reply (or time-out) first.
        if query && before != OrderState::PendingNew {
            self.timers.set(t, Some((now_ms, Timer::Query)));
        }
        let update = OrderUpdate {
            client_order_id: *id,
            state: before,
            traded: Decimal::ZERO,
            released: None,
            ledger_error: None,
        };
        OrderApplied::Changed(update)
    }

    /// The order's trades (`GET /api/v3/myTrades?orderId=`), after an [`OrderAction::FetchTrades`].
    /// Trades of other orders and trades already applied are skipped.
    pub fn on_trades<'a>(
        &mut self,
        now_ms: i64,
        id: &ClientOrderId,
        trades: impl IntoIterator<Item = OrderTrade<'a>>,
    ) -> OrderApplied {
        let Some(order_id) = self.orders.get(id).and_then(|t| t.view.order_id) else {
            return OrderApplied::Untracked;
        };
        let report = OrderReport {
            client_order_id: id.as_str(),
            orig_client_order_id: None,
            order_id,
            status: None,
            executed_qty: None,
            cumulative_quote_qty: None,
            reject_reason: None,
            qty: None,
            prevented_qty: None,
            pegged_price: None,
        };
        let mut trades = trades.into_iter().filter(|t| t.order_id.is_none_or(|o| o == order_id));
        self.apply(now_ms, id, &report, &mut trades)
    }

    /// The next thing to send, if one is due at `now_ms`: a query of an unknown order (a
    /// `PendingNew` order without answer after `reply_timeout_ms` becomes `Unknown` first), or a
    /// fetch of an ended order's missing trades. Call until it returns `None`; then wait until
    /// [`Orders::next_timeout`].
    pub fn poll_action(&mut self, now_ms: i64) -> Option<OrderAction> {
        // No timer can be due before the hint (a lower bound of every timer): no scan.
        if self.timers.hint > now_ms {
            return None;
        }
        self.timers.hint = self.orders.values().filter_map(|t| t.timer.map(|(at, _)| at)).min().unwrap_or(i64::MAX);
        let (id, timer) = self
            .orders
            .iter()
            .filter_map(|(id, t)| t.timer.filter(|(at, _)| *at <= now_ms).map(|(at, timer)| (at, *id, timer)))
            .min_by_key(|(at, id, _)| (*at, *id))
            .map(|(_, id, timer)| (id, timer))?;
        let backoff_cap = self.config.max_query_backoff_ms.max(1);
        let grace = self.config.trade_grace_ms.max(1);
        if timer == Timer::Query
            && let Some(list) = self.unknown_list(&id)
        {
            return self.query_list(now_ms, &list);
        }
        let t = self.orders.get_mut(&id)?;
        match timer {
            Timer::Reply => {
                to_unknown(t);
                self.timers.set(t, Some((now_ms, Timer::Query)));
                self.refresh_busy(&id);
                self.poll_action(now_ms)
            }
            Timer::Query => {
                // Asked again if no answer comes (the caller does not send a second query while
                // one is in flight; `on_query_sent` records when one leaves).
                self.timers.set(t, Some((now_ms.saturating_add(t.backoff_ms), Timer::Query)));
                t.backoff_ms = t.backoff_ms.saturating_mul(2).min(backoff_cap);
                Some(OrderAction::Query { symbol: t.view.symbol.clone(), client_order_id: id })
            }
            Timer::Trades => {
                self.timers.set(t, Some((now_ms.saturating_add(grace.saturating_mul(4)), Timer::Trades)));
                let order_id = t.view.order_id?;
                // A SOR order's fills may be allocations, trades, or both: asked in turn.
                let allocations = t.sor && t.alloc_next;
                t.alloc_next = t.sor && !t.alloc_next;
                Some(OrderAction::FetchTrades {
                    symbol: t.view.symbol.clone(),
                    client_order_id: id,
                    order_id,
                    allocations,
                })
            }
        }
    }

    /// The list order `id` belongs to, if its placement outcome is unknown (every leg
    /// `Unknown`) and it is asked for as a whole.
    fn unknown_list(&self, id: &ClientOrderId) -> Option<ClientOrderId> {
        let list = self.orders.get(id)?.list?;
        let l = self.lists.get(&list)?;
        let unknown =
            l.legs.iter().all(|leg| self.orders.get(leg).is_some_and(|t| t.view.state == OrderState::Unknown));
        (!l.by_legs && unknown).then_some(list)
    }

    /// One query of list `list` for all its legs: each leg's query timer waits for its answer.
    fn query_list(&mut self, now_ms: i64, list: &ClientOrderId) -> Option<OrderAction> {
        let legs = self.lists.get(list)?.legs.clone();
        let cap = self.config.max_query_backoff_ms.max(1);
        let mut symbol = None;
        for leg in &legs {
            if let Some(t) = self.orders.get_mut(leg) {
                self.timers.set(t, Some((now_ms.saturating_add(t.backoff_ms), Timer::Query)));
                t.backoff_ms = t.backoff_ms.saturating_mul(2).min(cap);
                symbol.get_or_insert_with(|| t.view.symbol.clone());
            }
        }
        Some(OrderAction::QueryList { symbol: symbol?, list: *list })
    }

    /// List `list`'s query is leaving: each leg counts as asked now (the -2013 rule reads it).
    pub fn on_list_query_sent(&mut self, now_ms: i64, list: &ClientOrderId) {
        for leg in self.legs_or_self(list) {
            self.on_query_sent(now_ms, &leg);
        }
    }

    /// List `list` exists but is no longer executing (all done, or rejected): its legs'
    /// outcomes are asked for one by one, now.
    pub fn resolve_list_by_legs(&mut self, now_ms: i64, list: &ClientOrderId) {
        let Some(l) = self.lists.get_mut(list) else { return };
        l.by_legs = true;
        for leg in l.legs.clone() {
            if let Some(t) = self.orders.get_mut(&leg).filter(|t| t.view.state == OrderState::Unknown) {
                self.timers.set(t, Some((now_ms, Timer::Query)));
            }
        }
    }

    /// List `list`'s query failed: "does not exist" (`-2011`) reads as each leg's "no such
    /// order" (not placed, once the request's deadline has passed; asked again at the deadline
    /// before); anything else is asked again after the back-off.
    pub fn on_list_query_error(&mut self, now_ms: i64, list: &ClientOrderId, error: &ApiError) -> Vec<OrderApplied> {
        let outcome =
            if error.code == Some(-2011) { Outcome::Rejected(Rejection::NoSuchOrder) } else { error.outcome() };
        self.legs_or_self(list).iter().map(|leg| self.query_failed(now_ms, leg, &outcome)).collect()
    }

    /// When [`Orders::poll_action`] next has something to do (ms), if ever.
    #[must_use]
    pub fn next_timeout(&self) -> Option<i64> {
        // A lower bound: a timer cleared since leaves it early, and the call it asks for is a
        // harmless no-op that recomputes it.
        let holds = self.holds.values().filter_map(|h| h.due).min().unwrap_or(i64::MAX);
        let next = self.timers.hint.min(holds);
        (next != i64::MAX).then_some(next)
    }

    /// The id an answer or event is about: the original id of a cancel, else its own (`None` for
    /// an id no order of ours could have; `apply` answers `Untracked` for one it does not know).
    fn key(client_order_id: &str, orig: Option<&str>) -> Option<ClientOrderId> {
        ClientOrderId::new(orig.unwrap_or(client_order_id)).ok()
    }

    /// Ends an in-flight order without the exchange's report (rejected, not sent, not placed).
    fn conclude(
        &mut self,
        id: &ClientOrderId,
        state: OrderState,
        reason: Option<String>,
        allowed: impl Fn(OrderState) -> bool,
    ) -> OrderApplied {
        let Some(t) = self.orders.get_mut(id) else { return OrderApplied::Untracked };
        let current = if t.view.state == OrderState::PendingCancel { t.before_cancel } else { Some(t.view.state) };
        if !current.is_some_and(&allowed) {
            return OrderApplied::Duplicate;
        }
        t.before_cancel = None;
        t.view.state = state;
        t.view.reject_reason = reason;
        self.timers.set(t, None);
        let claim = t.view.reservation.take().map(|r| (t.list, r));
        let mut ledger_error = None;
        let mut released = match claim.map(|(list, r)| self.release_claim(list.as_ref(), &r)) {
            Some(Ok(amount)) => amount,
            Some(Err(e)) => {
                ledger_error = Some(e);
                None
            }
            None => None,
        };
        match self.release_list_leftover(id) {
            Ok(Some(amount)) => released = Some(released.unwrap_or_default().saturating_add(amount)),
            Ok(None) => {}
            Err(e) => ledger_error = Some(e),
        }
        let update = OrderUpdate { client_order_id: *id, state, traded: Decimal::ZERO, released, ledger_error };
        self.finish(id);
        OrderApplied::Changed(update)
    }

    /// Applies a report and its trades to order `id`. One copy for every caller (a `dyn`
    /// iterator, not a generic one): an order's acknowledgement and its user-data events run the
    /// same code. A report that moves no money takes [`Orders::apply_plain`]; the rest, and the
    /// rare cases within it (lists, pegged orders, self-trade prevention, reductions) out of
    /// line, take [`Orders::apply_full`] (issue 20, point 10: an order's path touches fewer cache
    /// lines; `benches/footprint.rs` counts them).
    fn apply<'a>(
        &mut self,
        now_ms: i64,
        id: &ClientOrderId,
        report: &OrderReport<'_>,
        trades: &mut dyn Iterator<Item = OrderTrade<'a>>,
    ) -> OrderApplied {
        match trades.next() {
            None => match self.apply_plain(id, report) {
                Some(applied) => applied,
                None => self.apply_full(now_ms, id, report, &mut std::iter::empty()),
            },
            Some(first) => self.apply_full(now_ms, id, report, &mut std::iter::once(first).chain(trades)),
        }
    }

    /// A report without trades that moves no money, applied exactly as [`Orders::apply_full`]
    /// would (the acknowledgement of a resting order, a working order's own events): an order of
    /// no list, not being amended, not ended, neither ending nor executing beyond its trades,
    /// neither reduced nor prevented nor re-pegged. `None` for any other report (nothing
    /// changed): the full path takes it.
    fn apply_plain(&mut self, id: &ClientOrderId, report: &OrderReport<'_>) -> Option<OrderApplied> {
        #[cfg(test)]
        if self.full_only {
            return None;
        }
        let t = self.orders.get_mut(id)?;
        let next = report.status.and_then(OrderState::from_status);
        let executed = report.executed_qty.map_or(t.view.executed_qty, |q| t.view.executed_qty.max(q));
        let plain = t.list.is_none()
            && t.dormant.is_none()
            && t.view.amending.is_none()
            && !t.view.state.is_terminal()
            && t.view.order_id.is_none_or(|known| known == report.order_id)
            && !(t.peg_bound && report.pegged_price.is_some())
            && report.qty.is_none_or(|q| t.view.qty.is_none_or(|tracked| q >= tracked))
            && report.prevented_qty.is_none_or(|p| p <= t.view.prevented_qty)
            && !next.is_some_and(OrderState::is_terminal)
            && executed <= t.view.traded_qty;
        if !plain {
            return None;
        }
        let before = (t.view.state, t.view.executed_qty, t.view.cumulative_quote_qty);
        t.view.order_id = Some(report.order_id);
        t.view.executed_qty = executed.max(t.view.traded_qty);
        if let Some(q) = report.cumulative_quote_qty {
            t.view.cumulative_quote_qty = t.view.cumulative_quote_qty.max(q);
        }
        if let Some(next) = next {
            // PENDING_CANCEL is unused by Binance; read it as still working.
            let next = if next == OrderState::PendingCancel { OrderState::New } else { next };
            advance(t, next, report.reject_reason);
        }
        // An answer or event settles the question the timers were asking.
        if t.view.state.rank() > 0 {
            self.timers.set(t, None);
        }
        let state = t.view.state;
        if before == (state, t.view.executed_qty, t.view.cumulative_quote_qty) {
            return Some(OrderApplied::Duplicate);
        }
        self.refresh_busy(id);
        let update =
            OrderUpdate { client_order_id: *id, state, traded: Decimal::ZERO, released: None, ledger_error: None };
        Some(OrderApplied::Changed(update))
    }

    /// Applies a report and its trades to order `id`: every case (see [`Orders::apply`]).
    #[inline(never)]
    fn apply_full(
        &mut self,
        now_ms: i64,
        id: &ClientOrderId,
        report: &OrderReport<'_>,
        trades: &mut dyn Iterator<Item = OrderTrade<'_>>,
    ) -> OrderApplied {
        let Some(t) = self.orders.get(id) else { return OrderApplied::Untracked };
        if t.view.order_id.is_some_and(|known| known != report.order_id) {
            // The same client id on another order (placed elsewhere): not this one.
            return OrderApplied::Untracked;
        }
        let (dormant, list) = (t.dormant.filter(|_| t.view.reservation.is_none()), t.list);
        let (pays_for, pays_target) = match list {
            Some(list) => self.pays_for(id, list),
            None => (None, None),
        };
        let mut trades = trades.peekable();
        let mut ledger_error = None;
        let mut released = None;
        // A pending order the exchange has placed (or that trades): it locks its funds now.
        if let Some(dormant) = dormant
            && (trades.peek().is_some()
                || report.executed_qty.is_some_and(|q| q > Decimal::ZERO)
                || matches!(
                    report.status.and_then(OrderState::from_status),
                    Some(OrderState::New | OrderState::PartiallyFilled | OrderState::Filled)
                ))
        {
            match self.activate(id, dormant, report.qty) {
                Ok(freed) => released = freed,
                Err(e) => ledger_error = Some(e),
            }
        }
        let Some(t) = self.orders.get_mut(id) else { return OrderApplied::Untracked };
        let before = progress(&t.view);
        t.view.order_id = Some(report.order_id);
        // A pegged buy: what has not traded yet is locked at the price the exchange pegged it
        // at (before this report's trades, which pay at that price), not at the bound it was
        // reserved by.
        if let Some(pegged) = report.pegged_price
            && t.peg_bound
            && let Some(e) = repeg(&self.ledger, t, pegged)
        {
            ledger_error = Some(e);
        }
        // A smaller quantity than the tracked one: the order was reduced (quantities only shrink).
        let mut reduced = None;
        if let (Some(now_qty), Some(tracked)) = (report.qty, t.view.qty)
            && now_qty < tracked
            && !now_qty.is_sign_negative()
        {
            t.view.qty = Some(now_qty);
            t.view.amends = t.view.amends.saturating_add(1);
            reduced = Some(tracked - now_qty);
        }
        // Self-trade prevention took more of it (cumulative, only grows): that much less trades,
        // and is released, unless the order is a list's leg (the reservation is the list's: the
        // other legs may still trade all of it; the exchange keeps its lock too).
        // A `TRANSFER` order's prevented part is held instead (below).
        let mut hold = None;
        if let Some(prevented) = report.prevented_qty
            && prevented > t.view.prevented_qty
        {
            let taken = prevented - t.view.prevented_qty;
            if t.list.is_none() {
                reduced = Some(reduced.unwrap_or_default().saturating_add(taken));
            }
            // A list's leg keeps its funds in the list's reservation: a transfer would come out
            // of the free balance, which is held instead.
            if let Some(assets) = t.assets {
                hold = Some((taken, assets, t.view.side == Side::Sell, t.unit_lock));
            }
            t.view.prevented_qty = prevented;
        }
        if t.view.amending.is_some_and(|asked| t.view.qty.is_some_and(|q| q <= asked)) {
            t.view.amending = None;
        }
        let mut traded = Decimal::ZERO;
        for trade in trades {
            if !t.trades.insert(trade.id) {
                continue;
            }
            // Exchange-supplied: saturate rather than panic on an absurd sum.
            traded = traded.saturating_add(trade.base_qty);
            t.view.traded_qty = t.view.traded_qty.saturating_add(trade.base_qty);
            if let Err(e) = settle_trade(&self.ledger, t.view.reservation.as_ref(), &trade) {
                t.view.ledger_mismatch = true;
                ledger_error = Some(e);
            } else if let (Some(list), Some(r)) = (pays_for, t.view.reservation)
                && let Some(l) = self.lists.get_mut(&list)
                && let Err(e) = lock_received(&self.ledger, &mut l.pending, &r, &trade, pays_target)
            {
                t.view.ledger_mismatch = true;
                ledger_error = Some(e);
            }
        }
        // Cumulative quantities only grow; what the trades applied counts too.
        if let Some(q) = report.executed_qty {
            t.view.executed_qty = t.view.executed_qty.max(q);
        }
        t.view.executed_qty = t.view.executed_qty.max(t.view.traded_qty);
        if let Some(q) = report.cumulative_quote_qty {
            t.view.cumulative_quote_qty = t.view.cumulative_quote_qty.max(q);
        }
        if let Some(next) = report.status.and_then(OrderState::from_status) {
            // PENDING_CANCEL is unused by Binance; read it as still working.
            let next = if next == OrderState::PendingCancel { OrderState::New } else { next };
            advance(t, next, report.reject_reason);
        }
        // An answer or event settles the question the timers were asking.
        if t.view.state.rank() > 0 || t.view.state.is_terminal() {
            self.timers.set(t, None);
        }
        if let Some(by) = reduced
            && !t.view.state.is_terminal()
            && let Some(r) = t.view.reservation
        {
            match unlock_reduced(&self.ledger, &r, t.unit_lock, by) {
                Ok(Some(amount)) => released = Some(amount),
                Ok(None) => {}
                Err(e) => ledger_error = Some(e),
            }
        }
        let mut claim = None;
        if t.view.state.is_terminal() {
            if t.view.traded_qty >= t.view.executed_qty {
                claim = t.view.reservation.take().map(|r| (t.list, r));
            } else if t.view.reservation.is_some() {
                self.timers.set(t, Some((now_ms.saturating_add(self.config.trade_grace_ms.max(0)), Timer::Trades)));
            }
        } else if t.view.traded_qty < t.view.executed_qty && t.timer.is_none() && t.view.state.rank() > 0 {
            // A working order the exchange reports executed beyond the trades applied (their
            // events lost, say, while the user-data stream was away): its trades are asked for
            // if they do not come within the grace.
            self.timers.set(t, Some((now_ms.saturating_add(self.config.trade_grace_ms.max(0)), Timer::Trades)));
        }
        let after = progress(&t.view);
        let (state, settled) = (t.view.state, t.view.reservation.is_none());
        if let Some((list, r)) = claim {
            match self.release_claim(list.as_ref(), &r) {
                Ok(amount) => released = amount.or(released),
                Err(e) => ledger_error = Some(e),
            }
        }
        // Best effort: funds the order still holds (its trades not all applied) are not free to
        // hold again; they stay with the order.
        if let Some((taken, assets, sell, unit_lock)) = hold {
            let held = self.hold(now_ms, id, taken, (assets, sell), unit_lock);
            released = released.map(|a| a.saturating_sub(held).max(Decimal::ZERO));
        }
        // A `TRANSFER` order that ended after a user-data gap may have lost a prevention's
        // event (and the answers do not always show it): its matches are asked for.
        if state.is_terminal()
            && let Some(t) = self.orders.get(id)
            && let Some(assets) = t.assets
            && t.gaps_at_submit != self.gaps
            && !self.holds.contains_key(id)
        {
            released = self.hold_unseen(now_ms, id, assets, released);
        }
        if before == after && released.is_none() && ledger_error.is_none() {
            return OrderApplied::Duplicate;
        }
        if let Some(list) = list {
            self.leg_applied(id, list, state, report.qty, &mut released, &mut ledger_error);
        }
        if state.is_terminal() && settled {
            match self.release_list_leftover(id) {
                Ok(Some(amount)) => released = Some(released.unwrap_or_default().saturating_add(amount)),
                Ok(None) => {}
                Err(e) => ledger_error = Some(e),
            }
        }
        let update = OrderUpdate { client_order_id: *id, state, traded, released, ledger_error };
        if state.is_terminal() && settled {
            self.finish(id);
        } else {
            self.refresh_busy(id);
        }
        OrderApplied::Changed(update)
    }

    /// What a list's leg's report moves of the list: a working order filled places the pending
    /// orders (they lock now, not when their events arrive: the exchange locks at once); an
    /// OPO's pending order placed with the quantity the exchange made of what was received (to
    /// the step) gives the rest of the lock back to free.
    #[cold]
    #[inline(never)]
    fn leg_applied(
        &mut self,
        id: &ClientOrderId,
        list: ClientOrderId,
        state: OrderState,
        qty: Option<Decimal>,
        released: &mut Option<Decimal>,
        ledger_error: &mut Option<LedgerError>,
    ) {
        if state == OrderState::Filled
            && self.lists.get(&list).is_some_and(|l| l.working.as_ref() == Some(id))
            && let Err(e) = self.activate_pending(&list)
        {
            *ledger_error = Some(e);
        }
        if self.lists.get(&list).is_some_and(|l| l.pays && l.working.as_ref() != Some(id)) {
            match self.settle_pending_qty(id, &list, qty) {
                Ok(Some(amount)) => *released = Some(released.unwrap_or_default().saturating_add(amount)),
                Ok(None) => {}
                Err(e) => *ledger_error = Some(e),
            }
        }
    }

    /// A `TRANSFER` order that ended after a user-data gap: what it released (`released`) is held
    /// until its matches are known; what is left released.
    #[cold]
    #[inline(never)]
    fn hold_unseen(
        &mut self,
        now_ms: i64,
        id: &ClientOrderId,
        (base, quote): (AssetId, AssetId),
        mut released: Option<Decimal>,
    ) -> Option<Decimal> {
        let Some(t) = self.orders.get(id) else { return released };
        // What it released is held until its matches are known.
        let sell = t.view.side == Side::Sell;
        let reservation = released.filter(|a| *a > Decimal::ZERO).and_then(|amount| {
            let made = if sell {
                self.ledger.reserve_sell(base, quote, amount)
            } else {
                self.ledger.reserve_buy(base, quote, amount)
            };
            made.ok()
        });
        if reservation.is_some() {
            released = Some(Decimal::ZERO);
        }
        let hold = Hold {
            reservation,
            base,
            quote,
            sell,
            unit_lock: t.unit_lock,
            qty: Decimal::ZERO,
            due: Some(now_ms),
            tries: 0,
            marker: true,
        };
        self.holds.insert(*id, hold);
        released
    }

    /// An OPO's working order: what it receives is locked for the pending orders (the list and
    /// the most its trades lock), else nothing.
    #[cold]
    #[inline(never)]
    fn pays_for(&self, id: &ClientOrderId, list: ClientOrderId) -> (Option<ClientOrderId>, Option<Decimal>) {
        // An OPO's working order: what it receives is locked for the pending orders.
        let pays_for =
            Some(list).filter(|l| self.lists.get(l).is_some_and(|l| l.pays && l.working.as_ref() == Some(id)));
        // Once a pending order holds the received funds with its quantity known (its event came
        // before the working order's last trades), they lock only up to that quantity.
        // What the pending orders already sold came out of that lock: it is not locked again.
        let pays_target = pays_for.and_then(|l| {
            let list = self.lists.get(&l)?;
            let pending_traded: Decimal = list
                .legs
                .iter()
                .filter(|leg| list.working.as_ref() != Some(*leg))
                .filter_map(|leg| self.orders.get(leg))
                .map(|o| o.view.traded_qty)
                .fold(Decimal::ZERO, Decimal::saturating_add);
            let r = list.pending?;
            let target = list
                .legs
                .iter()
                .filter_map(|leg| self.orders.get(leg))
                .find(|o| o.view.reservation == Some(r))?
                .view
                .qty?;
            Some(target.saturating_sub(pending_traded).max(Decimal::ZERO))
        });
        (pays_for, pays_target)
    }

    /// List `list`'s working order filled: each pending order not placed yet locks its funds
    /// (an OPO's: what the working order received, once that is known).
    fn activate_pending(&mut self, list: &ClientOrderId) -> Result<(), LedgerError> {
        let Some(l) = self.lists.get(list) else { return Ok(()) };
        if l.pays && l.pending.is_none() {
            // Nothing received yet (the trades come later): placed on their own events.
            return Ok(());
        }
        let dormant: Vec<(ClientOrderId, Dormant)> = l
            .legs
            .iter()
            .filter_map(|leg| {
                let t = self.orders.get(leg)?;
                let d = t.dormant.filter(|_| t.view.reservation.is_none() && !t.view.state.is_terminal())?;
                Some((*leg, d))
            })
            .collect();
        for (leg, d) in dormant {
            self.activate(&leg, d, None)?;
        }
        Ok(())
    }

    /// An OPO's pending order `id` reported with quantity `qty`: its quantity is known now, and
    /// what the list holds beyond it goes back to free (once for a pair: both sell `qty`).
    fn settle_pending_qty(
        &mut self,
        id: &ClientOrderId,
        list: &ClientOrderId,
        qty: Option<Decimal>,
    ) -> Result<Option<Decimal>, LedgerError> {
        let Some(qty) = qty.filter(|q| *q > Decimal::ZERO) else { return Ok(None) };
        let Some(t) = self.orders.get_mut(id) else { return Ok(None) };
        if t.view.qty.is_some() {
            return Ok(None);
        }
        t.view.qty = Some(qty);
        let Some(r) = t.view.reservation.filter(|r| r.side() == Side::Sell) else { return Ok(None) };
        if self.lists.get(list).and_then(|l| l.pending) != Some(r) {
            return Ok(None);
        }
        match self.ledger.remaining(&r) {
            Some(held) if held > qty => self.ledger.reduce(&r, held - qty).map(Some),
            _ => Ok(None),
        }
    }

    /// Pending order `id` was placed by the exchange (its working order filled): it takes its
    /// list's pending reservation (a pair's sibling made it, or an OPO's working order filled
    /// it: what the quantity `qty` does not need goes back to free), or reserves its own.
    /// Returns what went back to free.
    #[cold]
    #[inline(never)]
    fn activate(
        &mut self,
        id: &ClientOrderId,
        dormant: Dormant,
        qty: Option<Decimal>,
    ) -> Result<Option<Decimal>, LedgerError> {
        let Some(t) = self.orders.get(id) else { return Ok(None) };
        let qty = qty.filter(|q| *q > Decimal::ZERO).or(t.view.qty);
        let list = t.list;
        let shared = list
            .and_then(|l| self.lists.get(&l))
            .and_then(|l| l.pending)
            .filter(|r| self.ledger.remaining(r).is_some());
        let mut freed = None;
        let reservation = match shared {
            Some(r) => {
                let first = list.and_then(|l| self.lists.get(&l)).is_some_and(|l| {
                    !l.legs.iter().any(|leg| self.orders.get(leg).is_some_and(|o| o.view.reservation == Some(r)))
                });
                // An OPO's first pending order placed: its quantity is what it sells; the rest
                // of what the working order received is unlocked.
                if first
                    && !dormant.buy
                    && let (Some(q), Some(held)) = (qty, self.ledger.remaining(&r))
                    && held > q
                {
                    freed = Some(self.ledger.reduce(&r, held - q)?);
                }
                // The pending orders lock what they need when the exchange places them: what
                // the working order received is held already, the rest comes from free (as the
                // exchange takes it; the working order's last trades may come after).
                let needed = dormant.amount.or(qty.filter(|_| !dormant.buy));
                if first
                    && let (Some(needed), Some(held)) = (needed, self.ledger.remaining(&r))
                    && held < needed
                {
                    self.ledger.extend(&r, needed - held)?;
                }
                r
            }
            None => {
                let amount = match (dormant.amount, qty) {
                    (Some(a), _) => a,
                    (None, Some(q)) if !dormant.buy => q,
                    _ => return Err(LedgerError::InvalidAmount(Decimal::ZERO)),
                };
                if dormant.buy {
                    self.ledger.reserve_buy(dormant.base, dormant.quote, amount)?
                } else {
                    self.ledger.reserve_sell(dormant.base, dormant.quote, amount)?
                }
            }
        };
        if let Some(l) = list.and_then(|l| self.lists.get_mut(&l)) {
            l.pending = Some(reservation);
        }
        if let Some(t) = self.orders.get_mut(id) {
            t.view.reservation = Some(reservation);
            t.dormant = None;
            if t.view.qty.is_none() {
                t.view.qty = qty;
            }
        }
        Ok(freed)
    }

    /// Order `id` has ended and settled: when every order of its list has ended, what the list
    /// still holds for pending orders never placed (an OPO's received funds) goes back to free.
    fn release_list_leftover(&mut self, id: &ClientOrderId) -> Result<Option<Decimal>, LedgerError> {
        let Some(list) = self.orders.get(id).and_then(|t| t.list) else { return Ok(None) };
        let Some(l) = self.lists.get(&list) else { return Ok(None) };
        let Some(r) = l.pending else { return Ok(None) };
        let all_ended = l.legs.iter().all(|leg| {
            self.orders.get(leg).is_none_or(|o| o.view.state.is_terminal() && o.view.reservation != Some(r))
        });
        if !all_ended {
            return Ok(None);
        }
        if let Some(l) = self.lists.get_mut(&list) {
            l.pending = None;
        }
        match self.ledger.release(&r) {
            Ok(amount) => Ok(Some(amount)),
            // Released already (the last order holding it ended).
            Err(LedgerError::NotOpen(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// An order gave up its claim on reservation `r` (it ended and settled): a single order's is
    /// released now; a list's once every leg has given up its own. The amount released, if any.
    fn release_claim(&mut self, list: Option<&ClientOrderId>, r: &Reservation) -> Result<Option<Decimal>, LedgerError> {
        let Some(list) = list else { return self.ledger.release(r).map(Some) };
        let Some(l) = self.lists.get(list) else { return self.ledger.release(r).map(Some) };
        if l.legs.iter().any(|leg| self.orders.get(leg).is_some_and(|t| t.view.reservation == Some(*r))) {
            return Ok(None);
        }
        if let Some(l) = self.lists.get_mut(list)
            && l.pending == Some(*r)
        {
            l.pending = None;
        }
        self.ledger.release(r).map(Some)
    }

    /// Whether an order in `state` occupies its symbol under the policy.
    fn occupies(&self, state: OrderState) -> bool {
        match self.config.symbol_policy {
            SymbolPolicy::Any => false,
            SymbolPolicy::OneInFlight => state.is_in_flight(),
            SymbolPolicy::OneOpen => !state.is_terminal(),
        }
    }

    fn refresh_busy(&mut self, id: &ClientOrderId) {
        if self.config.symbol_policy == SymbolPolicy::Any {
            return;
        }
        let Some(t) = self.orders.get(id) else { return };
        if self.occupies(t.view.state) {
            if !self.busy.contains_key(&t.view.symbol) {
                self.busy.insert(t.view.symbol.clone(), *id);
            }
        } else if self.busy.get(&t.view.symbol) == Some(id) {
            self.busy.remove(&t.view.symbol);
        }
    }

    /// An order has ended and settled: remember it for a while, then forget it.
    fn finish(&mut self, id: &ClientOrderId) {
        self.refresh_busy(id);
        let Some(t) = self.orders.get_mut(id) else { return };
        if t.done {
            return;
        }
        t.done = true;
        // Its trade ids stay: a late copy of a trade must still be recognised.
        t.trades.shrink_to_fit();
        self.done.push_back(*id);
        while self.done.len() > self.config.retain_done {
            if let Some(old) = self.done.pop_front()
                && let Some(gone) = self.orders.remove(&old)
            {
                self.timers.forget(&gone);
                // The list goes with its last order.
                if let Some(list) = gone.list
                    && self.lists.get(&list).is_some_and(|l| l.legs.iter().all(|leg| !self.orders.contains_key(leg)))
                {
                    self.lists.remove(&list);
                }
            }
        }
    }
}

/// A send without answer: `PendingNew` becomes `Unknown` (also under a pending cancel), if it was
/// sent. Returns whether it changed.
fn to_unknown(t: &mut Tracked) -> bool {
    // An order that never left cannot have an unknown outcome.
    if !t.sent {
        return false;
    }
    if t.view.state == OrderState::PendingNew {
        t.view.state = OrderState::Unknown;
        true
    } else if t.view.state == OrderState::PendingCancel
        && let Some(before) = t.before_cancel.as_mut()
        && *before == OrderState::PendingNew
    {
        *before = OrderState::Unknown;
        true
    } else {
        false
    }
}

/// Moves an order to the state a report gives, forward only.
fn advance(t: &mut Tracked, next: OrderState, reason: Option<&str>) {
    let current = t.view.state;
    if current == OrderState::PendingCancel {
        if next.is_terminal() {
            t.before_cancel = None;
            t.view.state = next;
        } else if let Some(before) = t.before_cancel.as_mut()
            && next.rank() > before.rank()
        {
            *before = next;
        }
    } else if current == OrderState::NotPlaced && next != OrderState::PendingNew {
        // The exchange knows it after all: its funds were released, so its trades cannot be
        // settled against them.
        t.view.state = next;
        t.view.ledger_mismatch = true;
    } else if !current.is_terminal() && next.rank() > current.rank() {
        t.view.state = next;
    }
    if t.view.state == OrderState::Rejected && t.view.reject_reason.is_none() {
        t.view.reject_reason = reason.map(str::to_owned);
    }
}

/// A pegged buy's lock moved from the bound it was reserved by to the price the exchange pegged
/// it at (for what has not traded yet); the ledger's error, if it refused.
#[cold]
#[inline(never)]
fn repeg(ledger: &Ledger, t: &mut Tracked, pegged: Decimal) -> Option<LedgerError> {
    let (Some(r), Some(bound)) = (t.view.reservation, t.unit_lock) else { return None };
    if pegged <= Decimal::ZERO {
        return None;
    }
    t.peg_bound = false;
    t.unit_lock = Some(pegged);
    // Exchange-supplied quantities: saturating, never a panic.
    let left = t.view.qty.unwrap_or_default().saturating_sub(t.view.traded_qty).saturating_sub(t.view.prevented_qty);
    let lock_at =
        |price: Decimal| left.checked_mul(price).map(|d| d.round_dp_with_strategy(8, RoundingStrategy::AwayFromZero));
    let moved = match (lock_at(bound), lock_at(pegged)) {
        (Some(held), Some(needed)) if needed < held => Some((held - needed, true)),
        (Some(held), Some(needed)) if needed > held => Some((needed - held, false)),
        _ => None,
    };
    if let Some((amount, down)) = moved.filter(|_| left > Decimal::ZERO) {
        let result = if down { ledger.reduce(&r, amount).map(|_| ()) } else { ledger.grow(&r, amount).map(|_| ()) };
        if let Err(e) = result {
            t.view.ledger_mismatch = true;
            return Some(e);
        }
    }
    None
}

/// What the exchange unlocks when an order is reduced by `by`: the limit price times the
/// quantity for a buy, the quantity for a sell (the rest of an order that ends is released
/// apart); what the ledger released.
#[cold]
#[inline(never)]
fn unlock_reduced(
    ledger: &Ledger,
    r: &Reservation,
    unit_lock: Option<Decimal>,
    by: Decimal,
) -> Result<Option<Decimal>, LedgerError> {
    let amount = match (r.side(), unit_lock) {
        (Side::Sell, _) => Some(by),
        (_, Some(price)) => price.checked_mul(by).map(|d| d.round_dp_with_strategy(8, RoundingStrategy::ToZero)),
        _ => None,
    };
    match amount.filter(|a| *a > Decimal::ZERO) {
        Some(amount) => ledger.reduce(r, amount).map(Some),
        None => Ok(None),
    }
}

/// Moves a trade's money: the reservation pays, the other asset is credited, less the commission.
fn settle_trade(ledger: &Ledger, reservation: Option<&Reservation>, trade: &OrderTrade<'_>) -> Result<(), LedgerError> {
    let reservation = reservation.ok_or(LedgerError::NotOpen(0))?;
    let commission_asset = match trade.commission_asset {
        Some(name) if !trade.commission.is_zero() => ledger.asset(name)?,
        _ => reservation.credited_asset(),
    };
    ledger.fill(
        reservation,
        Execution {
            base_qty: trade.base_qty,
            quote_qty: trade.quote_qty,
            commission: trade.commission,
            commission_asset,
        },
    )
}

/// An OPO's working order received `trade`: what it received is locked for the pending orders
/// (added to the list's `pending` reservation, made on the first trade), as Binance locks it: the
/// whole quantity when the free balance can pay the commission, else the quantity less it.
fn lock_received(
    ledger: &Ledger,
    pending: &mut Option<Reservation>,
    working: &Reservation,
    trade: &OrderTrade<'_>,
    target: Option<Decimal>,
) -> Result<(), LedgerError> {
    let received = working.credited_asset();
    let fee_in_received = match trade.commission_asset {
        Some(name) if !trade.commission.is_zero() && ledger.asset_id(name) == Some(received) => trade.commission,
        _ => Decimal::ZERO,
    };
    let free = ledger.balance(received)?.free;
    let mut amount = if free >= trade.base_qty { trade.base_qty } else { trade.base_qty - fee_in_received };
    // A pending order already placed holds what its quantity needs, no more.
    if let Some(target) = target {
        let held = pending.as_ref().and_then(|r| ledger.remaining(r)).unwrap_or_default();
        amount = amount.min(target - held);
    }
    if amount <= Decimal::ZERO {
        return Ok(());
    }
    match pending {
        Some(r) if ledger.remaining(r).is_some() => ledger.extend(r, amount).map(|_| ()),
        _ => {
            *pending = Some(ledger.reserve_sell(working.credited_asset(), working.locked_asset(), amount)?);
            Ok(())
        }
    }
}

#[cfg(test)]
mod plain_path {
    //! The plain path ([`Orders::apply_plain`]) against the full one: the same reports and
    //! trades, in any order, to two trackers on two ledgers, one of them taking every report
    //! through [`Orders::apply_full`]: every answer, every order's view and every balance equal.

    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    use super::*;
    use crate::model::OrderStatus;

    const IDS: [&str; 3] = ["plain-a", "plain-b", "plain-c"];

    #[derive(Debug, Clone)]
    enum Step {
        Report {
            order: usize,
            other_order_id: bool,
            status: Option<u8>,
            executed: Option<u8>,
            quote: Option<u8>,
            qty: Option<u8>,
            prevented: Option<u8>,
            pegged: bool,
            trade: Option<(u64, u8)>,
        },
        Cancel(usize),
        CancelFailed(usize),
        Unanswered(usize),
    }

    fn step() -> impl Strategy<Value = Step> {
        let report = (
            0..IDS.len(),
            proptest::bool::weighted(0.05),
            proptest::option::of(0u8..8),
            proptest::option::of(0u8..5),
            proptest::option::of(0u8..5),
            proptest::option::of(0u8..5),
            proptest::option::weighted(0.1, 0u8..3),
            proptest::bool::weighted(0.1),
            proptest::option::weighted(0.3, (0u64..6, 1u8..3)),
        )
            .prop_map(|(order, other_order_id, status, executed, quote, qty, prevented, pegged, trade)| Step::Report {
                order,
                other_order_id,
                status,
                executed,
                quote,
                qty,
                prevented,
                pegged,
                trade,
            });
        prop_oneof![
            8 => report,
            1 => (0..IDS.len()).prop_map(Step::Cancel),
            1 => (0..IDS.len()).prop_map(Step::CancelFailed),
            1 => (0..IDS.len()).prop_map(Step::Unanswered),
        ]
    }

    const STATUSES: [OrderStatus; 8] = [
        OrderStatus::New,
        OrderStatus::PartiallyFilled,
        OrderStatus::Filled,
        OrderStatus::Canceled,
        OrderStatus::PendingCancel,
        OrderStatus::Expired,
        OrderStatus::PendingNew,
        OrderStatus::Rejected,
    ];

    /// A tracker on its own ledger with three orders sent: a limit buy, a limit sell, a pegged
    /// buy (0.4 BTC each).
    fn desk(full_only: bool) -> (Arc<Ledger>, Orders, [AssetId; 2]) {
        let ledger = Arc::new(Ledger::new());
        let assets = [ledger.asset("BTC"), ledger.asset("USDT")];
        let [Ok(btc), Ok(usdt)] = assets else { panic!("assets: {assets:?}") };
        for (asset, amount) in [(btc, dec!(10)), (usdt, dec!(100000))] {
            if let Err(e) = ledger.credit(asset, amount) {
                panic!("credit: {e}");
            }
        }
        let mut orders = Orders::new(Arc::clone(&ledger), OrdersConfig::default());
        orders.full_only = full_only;
        let requests = [
            OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.4), dec!(60000)),
            OrderRequest::limit("BTCUSDT", Side::Sell, dec!(0.4), dec!(61000)),
            OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.4), dec!(60000))
                .with_peg(crate::model::PegPriceType::PrimaryPeg),
        ];
        for (request, id) in requests.into_iter().zip(IDS) {
            let Ok(cid) = ClientOrderId::new(id) else { panic!("{id}") };
            let request = request.with_client_order_id(cid);
            if let Err(e) = orders.submit(Submit::new(&request, btc, usdt)) {
                panic!("submit {id}: {e}");
            }
            assert!(orders.on_sent(0, &cid, 0i64, 5_000), "{id} sent");
        }
        (ledger, orders, [btc, usdt])
    }

    fn run(orders: &mut Orders, now: i64, step: &Step) -> OrderApplied {
        let cid = |i: usize| IDS.get(i).and_then(|id| ClientOrderId::new(id).ok());
        match step {
            Step::Report { order, other_order_id, status, executed, quote, qty, prevented, pegged, trade } => {
                let Some(id) = IDS.get(*order) else { return OrderApplied::Untracked };
                let tenth = |n: &u8| Decimal::new(i64::from(*n), 1);
                let report = OrderReport {
                    client_order_id: id,
                    orig_client_order_id: None,
                    order_id: if *other_order_id { 99 } else { 40 + *order as u64 },
                    status: status.and_then(|s| STATUSES.get(usize::from(s))),
                    executed_qty: executed.as_ref().map(tenth),
                    cumulative_quote_qty: quote.as_ref().map(|q| tenth(q) * dec!(60000)),
                    reject_reason: None,
                    qty: qty.as_ref().map(tenth),
                    prevented_qty: prevented.as_ref().map(tenth),
                    pegged_price: pegged.then_some(dec!(59000)),
                };
                let trades: Vec<OrderTrade<'_>> = trade
                    .iter()
                    .map(|(tid, q)| OrderTrade {
                        id: *tid,
                        order_id: None,
                        base_qty: tenth(q),
                        quote_qty: tenth(q) * dec!(60000),
                        commission: Decimal::ZERO,
                        commission_asset: None,
                    })
                    .collect();
                orders.on_report(now, &report, trades)
            }
            Step::Cancel(i) => match cid(*i).map(|id| orders.cancel(&id)) {
                Some(Ok(_)) => OrderApplied::Duplicate,
                _ => OrderApplied::Untracked,
            },
            Step::CancelFailed(i) => {
                cid(*i).map_or(OrderApplied::Untracked, |id| orders.on_cancel_unanswered(now, &id))
            }
            Step::Unanswered(i) => cid(*i).map_or(OrderApplied::Untracked, |id| orders.on_place_unanswered(now, &id)),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        #[test]
        fn plain_path_applies_as_the_full_one(steps in proptest::collection::vec(step(), 1..40)) {
            let (plain_ledger, mut plain, assets) = desk(false);
            let (full_ledger, mut full, _) = desk(true);
            for (n, step) in steps.iter().enumerate() {
                let now = 1_000 * (n as i64 + 1);
                let (a, b) = (run(&mut plain, now, step), run(&mut full, now, step));
                prop_assert_eq!(&a, &b, "step {} {:?}", n, step);
                for id in IDS {
                    let Ok(id) = ClientOrderId::new(id) else { panic!("{id}") };
                    prop_assert_eq!(plain.get(&id), full.get(&id), "step {} {:?}", n, step);
                }
                for asset in assets {
                    prop_assert_eq!(plain_ledger.balance(asset).ok(), full_ledger.balance(asset).ok());
                }
                prop_assert_eq!(plain.next_timeout(), full.next_timeout());
                prop_assert_eq!(plain.poll_action(now), full.poll_action(now));
            }
        }
    }
}
