mod answers;
mod gate;
mod startup;
mod supervision;

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::Arc;

use rust_decimal::Decimal;

use crate::clock::{LocalMs, RecvWindow, ServerMs, TimeSync, TimeSyncConfig};
use crate::conn::{CloseReason, ConnAction, Connection, ConnectionConfig};
use crate::ledger::{AssetId, Difference, Ledger, LedgerView};
use crate::limits::{LimiterConfig, RateLimiter, RetryPolicy};
use crate::model::{ClientOrderId, ClientOrderIdGenerator, OrderRequest, OrderType};
use crate::orders::{OrderState, Orders, OrdersConfig, OrdersError, Submit};
use crate::rest::{ApiError, BuildError, Environment, Rest};
use crate::rules::{ExchangeInfo, FilterError, MarketContext};
use crate::rules::{FilterKind, Violation};
use crate::sign::Credentials;
use crate::ws_api::WsApi;

use gate::Gate;
use startup::Startup;

/// The id of one request the engine asked to send; hand it back with the answer.
pub type RequestId = u64;

/// Settings of an [`Engine`].
#[derive(Debug)]
pub struct EngineConfig {
    /// Where to send (production, testnet, a loopback paper exchange).
    pub env: Environment,
    /// The API key and its signer.
    pub credentials: Credentials,
    /// `recvWindow` of signed requests.
    pub recv_window: RecvWindow,
    /// The order tracker's settings.
    pub orders: OrdersConfig,
    /// The rate limiter's thresholds.
    pub limiter: LimiterConfig,
    /// A request with no answer this long after it was handed out is treated as unanswered
    /// (ms). Binance gives up on the matching engine after 10 s.
    pub request_timeout_ms: i64,
    /// The client order ids the engine gives intents that have none (prefix and seed).
    pub ids: ClientOrderIdGenerator,
    /// At most this many intents wait for the rate limiter; more are refused.
    pub max_waiting: usize,
    /// Reconcile (open orders, account) this often (ms), and after every reconnect.
    pub reconcile_every_ms: i64,
    /// The kill switch trips when the user data stream has been down this long (ms).
    pub max_user_stream_gap_ms: i64,
    /// The kill switch trips when a reconciliation at rest (nothing in flight, nothing
    /// unknown) finds an asset's ledger total and the exchange's apart by more than this.
    /// `None`: mismatches are only reported.
    pub mismatch_tolerance: Option<Decimal>,
    /// The kill switch trips when this asset's total (free + locked) falls this far below its
    /// baseline (set at start-up, by [`Engine::reset_loss_baseline`], or at the first trade).
    /// It counts one asset, not a valuation: buying the base asset with it counts as spending,
    /// so set it on the asset a strategy must end up holding.
    pub loss_limit: Option<(String, Decimal)>,
    /// Spaces the retries of start-up's reads (exponential back-off with seeded jitter, within a
    /// retry budget).
    pub retry: RetryPolicy,
    /// The user-data connection's policy: back-off, idle detection, renewal (the engine asks
    /// for connections with [`Output::WsConnect`] and closes them with [`Output::WsClose`]).
    pub connection: ConnectionConfig,
    /// Which channel new orders leave by: REST (the default), or the WebSocket API connection
    /// the user-data stream runs on (see [`OrderChannel::WsApi`]).
    pub order_channel: OrderChannel,
}

/// Which channel new orders leave by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OrderChannel {
    /// `POST /api/v3/order`, each request signed.
    #[default]
    Rest,
    /// `order.place` on the WebSocket API connection that carries the user-data stream, while
    /// its subscription stands (REST otherwise). With an Ed25519 key the connection logs on
    /// once (`session.logon`) and orders go without a signature of their own; with another key
    /// each order is signed. The same gate admits them; an answer lost with the connection (or
    /// late) leaves the order `Unknown`, queried over REST, never sent again.
    WsApi,
}

impl EngineConfig {
    /// Defaults for `env` and `credentials`.
    #[must_use]
    pub fn new(env: Environment, credentials: Credentials) -> Self {
        Self {
            env,
            credentials,
            recv_window: RecvWindow::default(),
            orders: OrdersConfig::default(),
            limiter: LimiterConfig::default(),
            request_timeout_ms: 12_000,
            ids: ClientOrderIdGenerator::default(),
            max_waiting: 1024,
            reconcile_every_ms: 60_000,
            max_user_stream_gap_ms: 60_000,
            mismatch_tolerance: None,
            loss_limit: None,
            retry: RetryPolicy::new(u32::MAX, 500, 30_000, 0x5EED),
            connection: ConnectionConfig::default(),
            order_channel: OrderChannel::Rest,
        }
    }
}

/// What the user wants done.
#[derive(Debug, Clone)]
pub struct Intent {
    /// The order (a client order id is generated when it has none).
    pub order: OrderRequest,
    /// The worst price it may fill at, for orders without a limit price (a market buy by
    /// quantity needs one to know what to lock).
    pub price_bound: Option<Decimal>,
    /// The market context its filters need (reference, average, last price).
    pub context: MarketContext,
}

impl Intent {
    /// An intent for `order`, no price bound, an empty context.
    #[must_use]
    pub fn new(order: OrderRequest) -> Self {
        Self { order, price_bound: None, context: MarketContext::default() }
    }

    /// The worst acceptable price.
    #[must_use]
    pub fn with_price_bound(mut self, price: Decimal) -> Self {
        self.price_bound = Some(price);
        self
    }

    /// The market context.
    #[must_use]
    pub fn with_context(mut self, context: MarketContext) -> Self {
        self.context = context;
        self
    }
}

/// Why [`Engine::submit_sor`] refused an order (Binance's SOR takes `LIMIT` and `MARKET`
/// orders by quantity, not pegged, on symbols of a SOR group).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SorRefusal {
    /// The symbol is in no `sors` group of the exchange information.
    #[error("the symbol is in no SOR group")]
    NoSorGroup,
    /// SOR takes `LIMIT` and `MARKET` orders only.
    #[error("SOR takes LIMIT and MARKET orders, not {0}")]
    OrderType(OrderType),
    /// SOR does not take `quoteOrderQty`.
    #[error("SOR does not take quoteOrderQty")]
    QuoteOrderQty,
    /// SOR does not take pegged orders.
    #[error("SOR does not take pegged orders")]
    Pegged,
}

/// Why an intent was refused before anything was sent.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// The kill switch is tripped.
    #[error("the kill switch is tripped ({0:?})")]
    Killed(KillReason),
    /// No such symbol in the exchangeInfo.
    #[error("unknown symbol {0}")]
    UnknownSymbol(String),
    /// The order cannot be made valid (the filter's name is Binance's).
    #[error(transparent)]
    Filter(#[from] FilterError),
    /// The tracker or the ledger refused it (duplicate id, busy symbol, insufficient funds).
    #[error(transparent)]
    Orders(#[from] OrdersError),
    /// Too many intents wait for the rate limiter.
    #[error("too many intents wait for the rate limiter")]
    Backlog,
    /// [`Engine::submit_sor`]: the order cannot go through smart order routing.
    #[error("not routable through SOR: {0}")]
    NotRoutable(SorRefusal),
    /// [`Engine::start`] has not loaded the balances and open orders yet: an order now would be
    /// counted again when the account snapshot arrives.
    #[error("the engine is still starting")]
    Starting,
    /// A cancel-replace's new order is on another symbol than the order it cancels.
    #[error("a cancel-replace stays on the symbol: {cancel} is on {order_symbol}, the new order on {new_symbol}")]
    ReplaceSymbol {
        /// The order to cancel.
        cancel: ClientOrderId,
        /// Its symbol.
        order_symbol: String,
        /// The new order's symbol.
        new_symbol: String,
    },
}

/// Why an amend was refused before anything was sent.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmendError {
    /// The kill switch is tripped (its cancels are on their way).
    #[error("the kill switch is tripped ({0:?})")]
    Killed(KillReason),
    /// [`Engine::start`] has not finished.
    #[error("the engine is still starting")]
    Starting,
    /// The order's symbol is not in the exchangeInfo.
    #[error("unknown symbol {0}")]
    UnknownSymbol(String),
    /// The symbol does not allow keep-priority amends (`amendAllowed` is false; Binance:
    /// `-2038` "Order amend is not supported for this symbol.").
    #[error("Order amend is not supported for this symbol.")]
    NotAllowed,
    /// The new quantity breaks the symbol's `LOT_SIZE` (Binance: `-1013`).
    #[error(transparent)]
    Filter(#[from] FilterError),
    /// The tracker refused it: unknown order, not amendable now, not a reduction, too many
    /// amends (`MAX_NUM_ORDER_AMENDS`).
    #[error(transparent)]
    Orders(#[from] OrdersError),
}

/// `LOT_SIZE` for an amend's new quantity (Binance checks it as it checks an order's).
fn check_lot(qty: Decimal, min: Decimal, max: Decimal, step: Decimal) -> Result<(), FilterError> {
    let fail = |violation, bound| FilterError::Filter {
        filter: FilterKind::LotSize,
        parameter: "newQty",
        violation,
        value: qty,
        bound,
    };
    if !min.is_zero() && qty < min {
        return Err(fail(Violation::BelowMinimum, min));
    }
    if !max.is_zero() && qty > max {
        return Err(fail(Violation::AboveMaximum, max));
    }
    if !step.is_zero() && !qty.checked_sub(min).and_then(|d| d.checked_rem(step)).is_some_and(|r| r.is_zero()) {
        return Err(fail(Violation::NotAMultipleOfStep, step));
    }
    Ok(())
}

/// Why the kill switch tripped.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KillReason {
    /// [`Engine::kill`].
    Manual(String),
    /// The IP was banned (418) until this instant.
    Banned {
        /// When the ban ends (epoch ms).
        until_ms: i64,
    },
    /// The user data stream was down longer than `max_user_stream_gap_ms`.
    UserStreamGap {
        /// Down since (local ms).
        since_ms: i64,
    },
    /// The ledger and the exchange disagree beyond `mismatch_tolerance`.
    LedgerMismatch {
        /// The asset.
        asset: String,
    },
    /// The loss limit was reached.
    LossLimit {
        /// The asset.
        asset: String,
        /// How far its total fell.
        loss: Decimal,
    },
}

/// What a request the engine sends is for.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Purpose {
    /// `GET /api/v3/time`.
    Time,
    /// Start-up: `GET /api/v3/exchangeInfo`, the symbols' current rules.
    ExchangeInfo,
    /// Start-up: `GET /api/v3/account`, whose balances become the ledger's.
    Snapshot,
    /// Start-up: `GET /api/v3/openOrders` for every symbol, to be tracked.
    Adopt,
    /// Reconciliation: `GET /api/v3/account`, compared with the ledger.
    Account,
    /// Reconciliation: `GET /api/v3/openOrders` of one symbol.
    OpenOrders(String),
    /// `POST /api/v3/order`.
    Place(ClientOrderId),
    /// `POST /api/v3/orderList/oco`, by the list's `listClientOrderId`.
    PlaceList(ClientOrderId),
    /// `DELETE /api/v3/order`.
    Cancel(ClientOrderId),
    /// `POST /api/v3/order/cancelReplace`, by the new order's client order id (the order it
    /// cancels is in [`Engine::replacing`]).
    Replace(ClientOrderId),
    /// `PUT /api/v3/order/amend/keepPriority`: the order's quantity reduced to what
    /// [`OrderView::amending`](crate::OrderView::amending) says.
    Amend(ClientOrderId),
    /// `DELETE /api/v3/openOrders` of one symbol (a user's cancel-all or the kill switch's).
    CancelAll(String),
    /// `GET /api/v3/order` by `origClientOrderId`: an order whose outcome is not known.
    Query(ClientOrderId),
    /// `GET /api/v3/myTrades?orderId=`: an ended order's missing trades.
    Trades(ClientOrderId),
    /// `GET /api/v3/myAllocations?orderId=`: a SOR order's missing fills by allocation.
    Allocations(ClientOrderId),
    /// `GET /api/v3/myPreventedMatches?orderId=`: what self-trade prevention took from a
    /// `TRANSFER` order, and whether it moved to another account of the trade group.
    PreventedMatches(ClientOrderId),
    /// `GET /api/v3/orderList` by `origClientOrderId`: an order list whose placement outcome is
    /// not known, asked for as a whole.
    QueryList(ClientOrderId),
    /// `POST /api/v3/order/test`: an order validated by the exchange, not placed
    /// ([`Engine::test_order`]; its answer is [`Event::OrderTested`]).
    TestOrder(u64),
    /// `userDataStream.subscribe.signature` on the user-data (WebSocket API) connection.
    Subscribe,
}

impl Purpose {
    /// Cancels go ahead of everything else and may use the limiter's cancel reserve (an amend
    /// too: it only lowers exposure).
    fn is_cancel(&self) -> bool {
        matches!(self, Self::Cancel(_) | Self::CancelAll(_) | Self::Amend(_))
    }

    /// Requests after which the exchange's balances may move: orders placed, replaced,
    /// canceled or amended.
    fn moves_balances(&self) -> bool {
        matches!(
            self,
            Self::Place(_)
                | Self::PlaceList(_)
                | Self::Replace(_)
                | Self::Cancel(_)
                | Self::CancelAll(_)
                | Self::Amend(_)
        )
    }

    /// The requests about orders that go over the WebSocket API with the orders when that is the
    /// order channel (a query, a cancel, a cancel-all, an amend).
    fn is_order_request(&self) -> bool {
        matches!(self, Self::Cancel(_) | Self::CancelAll(_) | Self::Amend(_) | Self::Query(_))
    }

    /// Whether a request in flight answers for a new identical one (a query of an order's
    /// outcome, a time sync, the subscription, start-up's reads).
    fn absorbed_by_in_flight(&self) -> bool {
        matches!(
            self,
            Self::Query(_)
                | Self::QueryList(_)
                | Self::Trades(_)
                | Self::Allocations(_)
                | Self::PreventedMatches(_)
                | Self::Time
                | Self::Subscribe
                | Self::ExchangeInfo
                | Self::Snapshot
                | Self::Adopt
        )
    }
}

/// Why a request was not sent.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotSentReason {
    /// The kill switch tripped while it waited (orders only).
    KillSwitch,
    /// It is heavier than the allowed share of a rate limit: it would never fit.
    TooHeavy,
    /// It could not be built (no credentials, a parameter the wire refuses).
    Build(BuildError),
    /// A WebSocket-API frame could not be built.
    WsBuild(crate::ws_api::WsBuildError),
}

/// Why requests are held.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldReason {
    /// The IP is banned (418): nothing is sent, the kill switch's cancels included.
    Banned,
    /// A 429 asked to back off (its `Retry-After`, longer on repeats).
    Throttled,
}

/// Something the user should know.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// An order changed (state, trades, funds released).
    Order(crate::orders::OrderUpdate),
    /// A request was dropped before it was sent; an order's funds are released (its
    /// [`Event::Order`] follows).
    NotSent {
        /// What it was for.
        purpose: Purpose,
        /// Why.
        reason: NotSentReason,
    },
    /// Requests wait: nothing leaves before `until_ms` (epoch ms). Reported once per ban or
    /// hold.
    Held {
        /// Why.
        reason: HoldReason,
        /// When requests may leave again.
        until_ms: i64,
        /// How many requests (orders included) wait.
        waiting: usize,
    },
    /// A request failed in a way the user may want to see (a cancel refused, a query error).
    RequestFailed {
        /// What the request was for.
        purpose: Purpose,
        /// The exchange's error.
        error: ApiError,
    },
    /// An order the exchange lists as open could not be tracked at start-up (an id outside
    /// Binance's pattern, a stop-market buy with no price to reserve by, funds the ledger does not
    /// show).
    AdoptFailed {
        /// The exchange's client order id of it.
        client_order_id: String,
        /// Why.
        error: OrdersError,
    },
    /// The kill switch tripped: no new order leaves until [`Engine::reset_kill_switch`].
    KillSwitch(KillReason),
    /// The ledger refused a change start-up or reconciliation asked of it (the balances the
    /// exchange reports could not be taken over): the ledger needs attention.
    LedgerRefused {
        /// The asset.
        asset: String,
        /// The ledger's refusal.
        error: crate::ledger::LedgerError,
    },
    /// Reconciliation at rest (nothing in flight, nothing unknown, the user stream up) found the
    /// ledger and the exchange's balances apart. A difference seen twice in a row within
    /// `mismatch_tolerance`, with the same amount locked, is corrected (the ledger takes the
    /// exchange's free balance); beyond it the kill switch trips.
    BalanceMismatch(Vec<Difference>),
    /// Self-trade prevention in `TRANSFER` mode met an order of another account of the trade
    /// group with `TRANSFER` too: the prevented quantity and its notional moved between the two
    /// accounts (STP FAQ), and the ledger booked `amount` of `asset` (positive: received).
    /// No user-data field says a transfer happened (the other order's mode is not shown), so
    /// the prevented funds of a `TRANSFER` order are held and its prevented matches asked for
    /// (`myPreventedMatches`: the mode that acted, the other order, the price).
    Transferred {
        /// The asset.
        asset: String,
        /// What the account received (negative: gave).
        amount: Decimal,
    },
    /// The user-data connection announced `serverShutdown`: open a new one as soon as possible
    /// (the async client does so before closing the old one).
    ServerShutdown {
        /// `E`, the event's time.
        event_time: i64,
    },
    /// The server time offset was (re)estimated (server minus local, ms).
    TimeSynced {
        /// The offset.
        offset_ms: i64,
    },
    /// The user-data subscription changed: subscribed, refused, or ended by the exchange (a
    /// refused or ended one is asked again after a back-off; meanwhile the stream counts as
    /// down).
    UserStream(UserStreamStatus),
    /// A user-data frame nothing here can use (counted in [`Engine::frame_counts`]).
    FrameIgnored(FrameIgnored),
    /// The answer to [`Engine::test_order`] `test`.
    OrderTested {
        /// The test's number, as [`Engine::test_order`] returned it.
        test: u64,
        /// What the exchange said.
        outcome: TestOutcome,
    },
}

/// What the exchange said of an order it was asked to test ([`Engine::test_order`]).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestOutcome {
    /// It would be accepted; with the commission rates it would pay, when asked for.
    Accepted(Option<Box<crate::rest::OrderCommissionRates>>),
    /// It would be refused: the exchange's error.
    Refused(ApiError),
    /// No readable answer (the request failed in transport, or its answer did not decode; for
    /// `Client::test_order`, also an answer its events fell so far behind that it was missed).
    NoAnswer,
}

/// The user-data subscription's state, as reported by [`Event::UserStream`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserStreamStatus {
    /// `userDataStream.subscribe.signature` was accepted.
    Subscribed {
        /// The subscription's id, if the answer gave one.
        subscription_id: Option<u64>,
    },
    /// The subscription was refused.
    Refused(ApiError),
    /// `eventStreamTerminated`: the exchange ended the subscription.
    Terminated {
        /// `E`, the event's time.
        event_time: i64,
    },
}

/// A user-data frame the engine reports instead of using.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameIgnored {
    /// Neither an answer nor an event.
    Undecodable {
        /// Its length in bytes.
        len: usize,
    },
    /// An event type this crate does not know.
    UnknownEvent {
        /// Its `e`.
        event_type: String,
    },
    /// An answer to no request of the engine's (or an unsolicited status message).
    Unsolicited {
        /// Its status.
        status: u16,
    },
}

/// Counts of the user-data frames the engine received, by what became of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FrameCounts {
    /// Every frame.
    pub received: u64,
    /// Frames that did not decode.
    pub undecodable: u64,
    /// Events of a type this crate does not know.
    pub unknown_events: u64,
    /// Answers to no request of the engine's.
    pub unsolicited: u64,
    /// Subscriptions refused.
    pub refused: u64,
    /// `eventStreamTerminated` events.
    pub terminated: u64,
    /// `outboundAccountPosition`, `balanceUpdate` and `externalLockUpdate` events.
    pub balance_events: u64,
    /// `listStatus` events.
    pub list_events: u64,
}

/// Where the user-data subscription is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum UserStream {
    /// No connection, or the subscription refused or ended.
    Down,
    /// Asked for, no answer yet.
    Subscribing,
    /// Events flow.
    Subscribed,
}

/// What the engine wants done.
pub enum Output {
    /// Send this HTTP request; answer with [`Engine::handle_http_response`] and `id`.
    Http {
        /// The request's id.
        id: RequestId,
        /// The request.
        request: http::Request<bytes::Bytes>,
    },
    /// Send this text frame on the user-data (WebSocket API) connection.
    Ws {
        /// The frame (it carries the API key: its `Debug` shows it redacted).
        text: String,
    },
    /// Open a user-data connection (to `env.ws_api_url()`); report it with
    /// [`Engine::handle_ws_open`] or [`Engine::handle_ws_connect_failed`]. While one is live this
    /// is its replacement (make before break).
    WsConnect,
    /// Close a user-data connection: the one just replaced ([`CloseReason::Replaced`]) or the
    /// live one, taken for dead ([`CloseReason::Idle`]; the engine already counts it closed).
    WsClose(CloseReason),
    /// Tell the user.
    Event(Event),
    /// Nothing more to do now: call [`Engine::handle_timeout`] at this instant (local ms), or
    /// earlier with any new input.
    Timeout(i64),
}

impl fmt::Debug for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // http's sensitive header values (the API key) print as `Sensitive`.
            Self::Http { id, request } => f.debug_struct("Http").field("id", id).field("request", request).finish(),
            Self::Ws { text } => f.debug_struct("Ws").field("text", &crate::ws_api::redacted(text)).finish(),
            Self::WsConnect => f.write_str("WsConnect"),
            Self::WsClose(reason) => f.debug_tuple("WsClose").field(reason).finish(),
            Self::Event(e) => f.debug_tuple("Event").field(e).finish(),
            Self::Timeout(at) => f.debug_tuple("Timeout").field(at).finish(),
        }
    }
}

/// What happened to a request on the way.
#[derive(Debug)]
pub enum HttpResult {
    /// The exchange answered.
    Response(http::Response<bytes::Bytes>),
    /// It was never written (connect refused, DNS): nothing reached the exchange.
    NotSent,
    /// It was written and no answer came (timeout, reset after the write): the outcome is
    /// unknown.
    Unanswered,
    /// The exchange's 2xx answer to a placed order, its body already read as the order's
    /// [`OrderResponse`](crate::rest::OrderResponse) ([`HttpResult::read_order`], which a
    /// caller can run before taking the engine's lock): applied as
    /// [`Response`](Self::Response) would be, without reading the body again.
    Order(http::Response<bytes::Bytes>, Box<crate::rest::OrderResponse>),
}

impl HttpResult {
    /// Reads a 2xx answer's body as a placed order's answer (Binance's one-object form, any
    /// `newOrderRespType`), so that the engine does not read it again: an
    /// [`HttpResult::Order`] when it reads as one, `self` unchanged otherwise (an error, no
    /// answer, another body).
    ///
    /// ```
    /// use aegis_exchange::HttpResult;
    /// let body = r#"{"symbol":"BTCUSDT","orderId":28,"orderListId":-1,"clientOrderId":"my-1","transactTime":1507725176595}"#;
    /// let response = http::Response::builder().status(200).body(bytes::Bytes::from(body))?;
    /// let read = HttpResult::Response(response).read_order();
    /// assert_eq!(read.order().map(|o| o.order_id), Some(28));
    /// # Ok::<(), http::Error>(())
    /// ```
    #[must_use]
    pub fn read_order(self) -> Self {
        match self {
            Self::Response(response) if response.status().is_success() => {
                match crate::rest::OrderResponse::from_json(response.body()) {
                    Ok(order) => Self::Order(response, Box::new(order)),
                    Err(_) => Self::Response(response),
                }
            }
            other => other,
        }
    }

    /// The placed order's answer, when [`read_order`](Self::read_order) read one.
    #[must_use]
    pub fn order(&self) -> Option<&crate::rest::OrderResponse> {
        match self {
            Self::Order(_, order) => Some(order),
            _ => None,
        }
    }
}

/// The sans-IO trading engine.
///
/// The engine: rules, ledger, rate limits, signing and the order state machine wired into one
/// sans-IO state machine (str0m / quinn-proto style).
///
/// Inputs go in ([`Engine::submit`], [`Engine::cancel`], [`Engine::cancel_all`],
/// [`Engine::handle_http_response`], [`Engine::handle_ws_frame`], [`Engine::handle_timeout`]);
/// outputs are drained with [`Engine::poll_output`] until it yields [`Output::Timeout`]: HTTP
/// requests to send (each with a [`RequestId`] to answer with), WebSocket-API frames, events for
/// the user, and the next instant the engine wants [`handle_timeout`](Engine::handle_timeout)
/// called. The engine never reads a clock or touches a socket; a spurious timeout is a no-op.
///
/// # The order path: one owner per step
///
/// ```text
/// submit ─► normalize (rules) ─► reserve (orders → ledger) ─► queue ─┐
/// cancel, queries, reconcile, time, start-up, subscribe ─► queue ───┤
///                                                                    ▼
///            the gate (gate.rs): the limiter charges the request's documented cost;
///            during a 418 ban or a 429's Retry-After nothing passes, cancels included
///                                                                    ▼
///            built and signed now (rest / ws_api), timestamp = server time now;
///            an order tells the tracker its timestamp and recvWindow (Orders::on_sent)
///                                                                    ▼
///                                   Output::Http / Output::Ws (the reply timer starts)
/// answer ─► decoded once (answers.rs) ─► limiter, clock (-1021), kill switch (418)
///                                    ─► orders (state machine) ─► ledger
/// ```
///
/// - **One exit.** Every request the engine emits (orders, cancels, cancel-all, queries,
///   myTrades, myAllocations, openOrders, account, exchangeInfo, time, the user-data subscription) leaves
///   through one admission point, [`Engine::poll_output`]'s queue, after the [`RateLimiter`]
///   charged its cost. Cancels go first and may use the limiter's cancel reserve; queries,
///   reconciliations and time syncs wait and are coalesced with an identical one already queued
///   or in flight; orders wait their turn in submission order.
/// - **Signed when it leaves.** Nothing is built or signed before it is admitted, so the
///   `timestamp` the exchange checks is the one the tracker uses for the `-2013` rule, and an
///   order's reply timer starts when its request is handed out. A queued order is
///   [`OrderState::PendingNew`], never `Unknown`, and a cancel removes it without any request.
/// - **Never after release.** An order leaves only if the tracker still holds it `PendingNew`,
///   unsent, with its funds reserved ([`Orders::on_sent`]).
/// - **Typed refusals.** A request that cannot leave is reported with a [`NotSentReason`];
///   held requests with [`Event::Held`].
///
/// ```
/// use aegis_exchange::{Engine, EngineConfig, Intent, Output};
/// use aegis_exchange::Ledger;
/// use aegis_exchange::rest::Environment;
/// use aegis_exchange::sign::{Credentials, HmacSha256};
/// use aegis_exchange::{ExchangeInfo, OrderRequest, Side, BUNDLED_EXCHANGE_INFO};
/// use rust_decimal_macros::dec;
///
/// let info = ExchangeInfo::from_json(BUNDLED_EXCHANGE_INFO).unwrap();
/// let creds = Credentials::new("key", HmacSha256::new("secret")).unwrap();
/// // Without `start` (which loads the account), the caller's ledger is the starting point.
/// let ledger = Ledger::new();
/// ledger.credit(ledger.asset("USDT").unwrap(), dec!(1000)).unwrap();
/// let mut engine = Engine::with_ledger(EngineConfig::new(Environment::Testnet, creds), info, ledger);
/// let order = OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.001), dec!(65000));
/// let id = engine.submit(1_760_000_000_000, Intent::new(order)).unwrap();
/// // The signed order goes out first, then a time sync (the engine has none yet).
/// let mut paths = Vec::new();
/// while let Output::Http { request, .. } = engine.poll_output() {
///     paths.push(request.uri().path().to_owned());
/// }
/// assert_eq!(paths, ["/api/v3/order", "/api/v3/time"]);
/// assert_eq!(engine.ledger().balance_of("USDT").unwrap().locked, dec!(65));
/// # let _ = id;
/// ```
#[derive(Debug)]
pub struct Engine {
    config: EngineConfig,
    rest: Rest,
    ws_api: WsApi,
    /// `recvWindow` in whole ms, as the tracker's `-2013` deadline counts it.
    recv_window_ms: i64,
    info: ExchangeInfo,
    /// The ledger ids of each symbol's base and quote asset, by the symbol's position in `info`
    /// (filled on a symbol's first order, cleared when `info` is replaced).
    asset_ids: Vec<Option<(AssetId, AssetId)>>,
    ledger: Arc<Ledger>,
    orders: Orders,
    limiter: RateLimiter,
    time: TimeSync,
    ids: ClientOrderIdGenerator,
    /// The one exit: queued requests, requests in flight.
    gate: Gate,
    outputs: VecDeque<Output>,
    killed: Option<KillReason>,
    /// Cancel-replaces queued or in flight: the new order's id → the order it cancels.
    replacing: HashMap<ClientOrderId, ClientOrderId>,
    /// Orders to test (`order/test`) waiting at the gate: the order and whether the commission
    /// rates are asked for; the last test's number.
    tests: HashMap<u64, (crate::rules::ValidatedOrder, bool)>,
    last_test: u64,
    /// When to open, renew and give up on the user-data connection (its `is_live` is whether a
    /// subscription may be sent).
    user_conn: Connection,
    /// The subscription on it.
    user_stream: UserStream,
    /// The id of the subscription request awaiting its answer.
    subscribe_id: Option<String>,
    /// The WebSocket API connection is logged on (`session.logon` with an Ed25519 key, asked for
    /// with the subscription when orders go over it).
    ws_session: bool,
    /// What became of the user-data frames.
    frames: FrameCounts,
    /// The user data stream: `None` while up, `Some(since)` while down.
    stream_down_since: Option<i64>,
    next_reconcile: Option<i64>,
    startup: Startup,
    /// The loss-limit asset's total when first checked.
    loss_baseline: Option<Decimal>,
    /// A reconciliation waits to compare the balances until its open-orders checks and queries
    /// are answered.
    account_check_pending: bool,
    /// The differences the last balance comparison at rest found: only a difference seen twice
    /// in a row is acted on (a trade can land between the two snapshots).
    last_diffs: Vec<Difference>,
    /// The last request id handed out when those were seen: a second sighting counts only from a
    /// snapshot asked for after that (two snapshots in flight together are one look).
    last_diffs_seen_by: RequestId,
    /// Counts everything that may move balances (an order request handed out, an order change
    /// applied, a ledger entry): a balance snapshot asked for under one count and answered under
    /// another raced it and proves nothing.
    activity: u64,
    now: i64,
}

impl Engine {
    /// An engine trading the symbols of `info` with a fresh (empty) ledger: [`start`](Self::start)
    /// loads the account into it.
    #[must_use]
    pub fn new(config: EngineConfig, info: ExchangeInfo) -> Self {
        Self::with_ledger(config, info, Ledger::new())
    }

    /// An engine over `ledger`, which it owns from here on: only the order tracker and the
    /// engine's reconciliation change it; everyone else reads it through [`ledger`](Self::ledger).
    #[must_use]
    pub fn with_ledger(mut config: EngineConfig, info: ExchangeInfo, ledger: Ledger) -> Self {
        let ledger = Arc::new(ledger);
        let rest = Rest::new(config.env.clone())
            .with_credentials(config.credentials.clone())
            .with_recv_window(config.recv_window);
        let ws_api = WsApi::new().with_credentials(config.credentials.clone());
        let limiter = RateLimiter::new(info.rate_limits(), config.limiter);
        let orders = Orders::new(Arc::clone(&ledger), config.orders);
        // The engine owns the generator from here on.
        let ids = std::mem::take(&mut config.ids);
        let recv_window_ms = i64::try_from(config.recv_window.as_millis()).unwrap_or(i64::MAX);
        Self {
            rest,
            ws_api,
            recv_window_ms,
            asset_ids: Vec::new(),
            info,
            ledger,
            orders,
            limiter,
            time: TimeSync::new(TimeSyncConfig::default()),
            ids,
            gate: Gate::default(),
            outputs: VecDeque::new(),
            killed: None,
            replacing: HashMap::new(),
            tests: HashMap::new(),
            last_test: 0,
            user_conn: Connection::new(config.connection),
            user_stream: UserStream::Down,
            subscribe_id: None,
            ws_session: false,
            frames: FrameCounts::default(),
            stream_down_since: None,
            next_reconcile: None,
            startup: Startup::Ready,
            loss_baseline: None,
            account_check_pending: false,
            last_diffs: Vec::new(),
            last_diffs_seen_by: 0,
            activity: 0,
            now: i64::MIN,
            config,
        }
    }

    // ----- getters -----

    /// The ledger, read-only (clone the view to share it across threads).
    #[must_use]
    pub fn ledger(&self) -> LedgerView {
        LedgerView::new(Arc::clone(&self.ledger))
    }

    /// The order tracker.
    #[must_use]
    pub fn orders(&self) -> &Orders {
        &self.orders
    }

    /// An order's state, if tracked.
    #[must_use]
    pub fn order_state(&self, id: &ClientOrderId) -> Option<OrderState> {
        self.orders.get(id).map(|v| v.state)
    }

    /// The server time at local `now` (the local time before the first sync).
    #[must_use]
    pub fn server_now(&self, now: impl Into<LocalMs>) -> ServerMs {
        self.time.server_now(now)
    }

    /// The rate limiter every request passes (its usage, holds and counters).
    #[must_use]
    pub fn limiter(&self) -> &RateLimiter {
        &self.limiter
    }

    /// What became of the user-data frames received so far.
    #[must_use]
    pub fn frame_counts(&self) -> FrameCounts {
        self.frames
    }

    /// Whether the user-data subscription is confirmed (events flow).
    #[must_use]
    pub fn is_subscribed(&self) -> bool {
        self.user_stream == UserStream::Subscribed
    }

    /// How many requests wait for the gate (orders included).
    #[must_use]
    pub fn waiting(&self) -> usize {
        self.gate.waiting()
    }

    // ----- inputs from the user -----

    /// Starts an order: normalizes it, reserves its funds and queues it for the gate (it leaves
    /// at once when nothing waits ahead of it and the limiter admits it). Returns its client
    /// order id.
    ///
    /// # Errors
    /// [`SubmitError`]; nothing was reserved or sent.
    pub fn submit(&mut self, now: impl Into<LocalMs>, intent: Intent) -> Result<ClientOrderId, SubmitError> {
        let now = now.into().millis();
        self.observe_now(now);
        self.taking_orders()?;
        let (id, valid) = self.accept(intent)?;
        self.offer_order(now, id, gate::Pending::Order(valid));
        self.pump(now);
        Ok(id)
    }

    /// Places an order through smart order routing (`POST /api/v3/sor/order`, or
    /// `sor.order.place` over the WebSocket API): its taker part may fill from the other books
    /// of the symbol's SOR group (same base asset, interchangeable quote assets), by
    /// allocations paid and received in the order's own assets (Binance's SOR FAQ); the rest of
    /// a `LIMIT GTC` order rests on the symbol's own book. Everything else is as
    /// [`submit`](Self::submit): the same gate, reservation, tracking and resolution of an
    /// unknown outcome (`GET /api/v3/order` finds a SOR order as any other).
    ///
    /// # Errors
    /// As [`submit`](Self::submit), and [`SubmitError::NotRoutable`]: the symbol is in no SOR
    /// group of the exchange information, or the order is not one SOR takes (`LIMIT` or
    /// `MARKET` by quantity, not pegged).
    pub fn submit_sor(&mut self, now: impl Into<LocalMs>, intent: Intent) -> Result<ClientOrderId, SubmitError> {
        let now = now.into().millis();
        self.observe_now(now);
        self.taking_orders()?;
        let o = &intent.order;
        let refusal = if !self.info.sors().iter().any(|g| g.symbols.iter().any(|s| s == o.symbol())) {
            Some(SorRefusal::NoSorGroup)
        } else if !matches!(o.order_type(), OrderType::Limit | OrderType::Market) {
            Some(SorRefusal::OrderType(o.order_type().clone()))
        } else if o.quote_order_qty().is_some() {
            Some(SorRefusal::QuoteOrderQty)
        } else if o.peg_price_type().is_some() {
            Some(SorRefusal::Pegged)
        } else {
            None
        };
        if let Some(refusal) = refusal {
            return Err(SubmitError::NotRoutable(refusal));
        }
        let (id, valid) = self.accept(intent)?;
        self.orders.mark_sor(&id);
        self.offer_order(now, id, gate::Pending::Sor(valid));
        self.pump(now);
        Ok(id)
    }

    /// Whether new orders are taken now: not while the kill switch is tripped or start-up runs.
    fn taking_orders(&self) -> Result<(), SubmitError> {
        if let Some(reason) = &self.killed {
            return Err(SubmitError::Killed(reason.clone()));
        }
        if self.is_starting() {
            return Err(SubmitError::Starting);
        }
        Ok(())
    }

    /// Validates `intent` and reserves its funds (what [`submit`](Self::submit) does before
    /// queueing it).
    fn accept(&mut self, intent: Intent) -> Result<(ClientOrderId, crate::rules::ValidatedOrder), SubmitError> {
        let Intent { mut order, price_bound, context } = intent;
        let (index, rules) = self
            .info
            .symbol_entry(order.symbol())
            .ok_or_else(|| SubmitError::UnknownSymbol(order.symbol().to_owned()))?;
        if order.client_order_id().is_none() {
            order.set_client_order_id(self.ids.next_id());
        }
        let valid = rules.normalize(order, &context)?;
        let id =
            valid.request().client_order_id().copied().ok_or(SubmitError::Orders(OrdersError::MissingClientOrderId))?;
        let (base, quote) = match self.asset_ids.get(index).copied().flatten() {
            Some(ids) => ids,
            None => {
                let ids = (
                    self.ledger.asset(rules.base_asset()).map_err(OrdersError::from)?,
                    self.ledger.asset(rules.quote_asset()).map_err(OrdersError::from)?,
                );
                if self.asset_ids.len() <= index {
                    self.asset_ids.resize(index + 1, None);
                }
                if let Some(slot) = self.asset_ids.get_mut(index) {
                    *slot = Some(ids);
                }
                ids
            }
        };
        if self.gate.orders_waiting() >= self.config.max_waiting {
            return Err(SubmitError::Backlog);
        }
        let mut submit = Submit::new(valid.request(), base, quote);
        if let Some(bound) = price_bound {
            submit = submit.with_price_bound(bound);
        }
        self.orders.submit(submit)?;
        Ok((id, valid))
    }

    /// Cancels order `cancel` and places `intent` in one request
    /// (`POST /api/v3/order/cancelReplace`, counted as an order by the gate). The new order is
    /// validated and its funds reserved now, before the old order's are released (those come
    /// back when the exchange confirms the cancel): a replace that needs the old order's funds
    /// is refused here with insufficient funds (cancel, then place). The old order is
    /// `PendingCancel` until the answer. Every answer shape is settled: both done; the cancel
    /// refused (`-2022` / `-2021`: the old order back to its state and queried when the
    /// exchange did not find it; under `STOP_ON_FAILURE` the new order `NotPlaced`, its funds
    /// released); the new order refused (`Rejected`, released); a plain error before anything
    /// (both untouched but the new order `Rejected`); no answer (the old order queried, the new
    /// one `Unknown` and queried, never resent). An old order still queued is dropped and the
    /// new one placed as by [`submit`](Self::submit). Returns the new order's client order id.
    ///
    /// # Errors
    /// As [`submit`](Self::submit); [`OrdersError::UnknownOrder`] /
    /// [`OrdersError::NotCancelable`] for the old order, [`SubmitError::ReplaceSymbol`].
    pub fn cancel_replace(
        &mut self,
        now: impl Into<LocalMs>,
        cancel: &ClientOrderId,
        intent: Intent,
        options: crate::rest::CancelReplaceOptions,
    ) -> Result<ClientOrderId, SubmitError> {
        let now = now.into().millis();
        self.observe_now(now);
        self.taking_orders()?;
        let old = self.orders.get(cancel).ok_or(OrdersError::UnknownOrder(*cancel))?;
        if old.symbol != intent.order.symbol() {
            return Err(SubmitError::ReplaceSymbol {
                cancel: *cancel,
                order_symbol: old.symbol.clone(),
                new_symbol: intent.order.symbol().to_owned(),
            });
        }
        if old.state.is_terminal() || old.state == OrderState::PendingCancel {
            return Err(OrdersError::NotCancelable(old.state).into());
        }
        // Still queued (or the list it is a leg of): dropped without a request, and the new
        // order placed as any.
        let queued = self.orders.list_of(cancel).unwrap_or(*cancel);
        if self.gate.remove_order(&queued) {
            self.not_sent_ids(&queued);
            return self.submit(now, intent);
        }
        let (id, valid) = self.accept(intent)?;
        if let Err(e) = self.orders.cancel(cancel) {
            let applied = self.orders.on_not_sent(&id);
            self.emit_applied(applied);
            return Err(e.into());
        }
        self.replacing.insert(id, *cancel);
        let job = gate::ReplaceJob { valid, cancel: *cancel, options };
        self.offer_order(now, id, gate::Pending::Replace(Box::new(job)));
        self.pump(now);
        Ok(id)
    }

    /// The order a queued or in-flight cancel-replace (by its new order's id) cancels.
    #[must_use]
    pub fn replacing(&self, new_order: &ClientOrderId) -> Option<&ClientOrderId> {
        self.replacing.get(new_order)
    }

    /// Asks the exchange to test an order (`POST /api/v3/order/test`, weight 1; 20 with
    /// `compute_commission_rates`): validated against the symbol's rules here first, nothing
    /// reserved, nothing tracked, through the gate like every request. Returns the test's
    /// number; its answer arrives as [`Event::OrderTested`].
    ///
    /// # Errors
    /// [`SubmitError::UnknownSymbol`], the rules' refusal, [`SubmitError::Killed`],
    /// [`SubmitError::Starting`]. Nothing is sent.
    pub fn test_order(
        &mut self,
        now: impl Into<LocalMs>,
        intent: Intent,
        compute_commission_rates: bool,
    ) -> Result<u64, SubmitError> {
        let now = now.into().millis();
        self.observe_now(now);
        self.taking_orders()?;
        let Intent { order, context, .. } = intent;
        let rules =
            self.info.symbol(order.symbol()).ok_or_else(|| SubmitError::UnknownSymbol(order.symbol().to_owned()))?;
        let valid = rules.normalize(order, &context)?;
        self.last_test = self.last_test.saturating_add(1);
        let test = self.last_test;
        self.tests.insert(test, (valid, compute_commission_rates));
        self.enqueue(now, Purpose::TestOrder(test));
        self.pump(now);
        Ok(test)
    }

    /// Validates an OCO against its symbol's rules and queues it: see
    /// [`submit_list`](Self::submit_list).
    ///
    /// # Errors
    /// As [`submit`](Self::submit), the list's rules included.
    pub fn submit_oco(
        &mut self,
        now: impl Into<LocalMs>,
        oco: crate::model::OcoRequest,
        context: &crate::rules::MarketContext,
    ) -> Result<ClientOrderId, SubmitError> {
        self.submit_list(now, oco, context)
    }

    /// Validates an order list (OCO, OTO, OTOCO, OPO, OPOCO) against its symbol's rules
    /// (`context`: the last price for an OCO's price relation, open orders for MAX_NUM_ORDERS,
    /// open lists for MAX_NUM_ORDER_LISTS), gives it and its legs client order ids when they
    /// have none, reserves what Binance locks (an OCO's legs once; an OTO's working order only:
    /// its pending orders lock theirs when the exchange places them), and queues it like an
    /// order (it counts its orders in the ORDERS window). Returns the list's client order id;
    /// the legs' are in [`Orders::legs`](crate::Orders::legs). The legs are tracked as orders:
    /// their answers and events, an unknown outcome (each leg queried by its client order id: a
    /// list is placed whole or not at all), a cancel (of one leg: the exchange cancels the list).
    ///
    /// # Errors
    /// As [`submit`](Self::submit), the list's rules included.
    pub fn submit_list(
        &mut self,
        now: impl Into<LocalMs>,
        list: impl Into<crate::model::ListRequest>,
        context: &crate::rules::MarketContext,
    ) -> Result<ClientOrderId, SubmitError> {
        let mut list = list.into();
        let now = now.into().millis();
        self.observe_now(now);
        self.taking_orders()?;
        let rules =
            self.info.symbol(list.symbol()).ok_or_else(|| SubmitError::UnknownSymbol(list.symbol().to_owned()))?;
        if list.list_client_order_id().is_none() {
            list.set_list_client_order_id(self.ids.next_id());
        }
        list.fill_leg_client_order_ids(|| self.ids.next_id());
        let valid = rules.validate_list(&list, context)?;
        let id =
            *valid.request().list_client_order_id().ok_or(SubmitError::Orders(OrdersError::MissingClientOrderId))?;
        let base = self.ledger.asset(rules.base_asset()).map_err(OrdersError::from)?;
        let quote = self.ledger.asset(rules.quote_asset()).map_err(OrdersError::from)?;
        if self.gate.orders_waiting() >= self.config.max_waiting {
            return Err(SubmitError::Backlog);
        }
        self.orders.submit_list(crate::orders::SubmitList { list: valid.request(), base, quote })?;
        self.offer_order(now, id, gate::Pending::List(Box::new(valid)));
        self.pump(now);
        Ok(id)
    }

    /// Cancels an order. One still queued is dropped without any request (`NotPlaced`, funds
    /// released); otherwise a `DELETE /api/v3/order` is queued for the gate.
    ///
    /// # Errors
    /// [`OrdersError::UnknownOrder`], [`OrdersError::NotCancelable`].
    pub fn cancel(&mut self, now: impl Into<LocalMs>, id: &ClientOrderId) -> Result<(), OrdersError> {
        let now = now.into().millis();
        self.observe_now(now);
        // A queued order, or the queued list it is a leg of: dropped, never sent.
        let queued = self.orders.list_of(id).unwrap_or(*id);
        if self.gate.remove_order(&queued) {
            self.not_sent_ids(&queued);
            return Ok(());
        }
        self.orders.cancel(id)?;
        self.enqueue(now, Purpose::Cancel(*id));
        self.pump(now);
        Ok(())
    }

    /// Reduces a working order's quantity to `new_qty` keeping its place in the queue
    /// (`PUT /api/v3/order/amend/keepPriority`, weight 4, through the gate like a cancel: it
    /// only lowers exposure). The request keeps the order's client order id. The funds follow
    /// the quantity the exchange reports, once, whichever report tells first (the answer, the
    /// `executionReport` with `x=REPLACED`, a query): the difference is released, or, when the
    /// amend leaves nothing to fill (`new_qty` at or below what has executed), the order ends
    /// and all of it is. An answer lost or unknown has the order queried.
    ///
    /// # Errors
    /// [`AmendError`]: the symbol does not allow amends, `new_qty` breaks `LOT_SIZE`, the order
    /// is unknown, not working, already being amended or canceled, the new quantity is not a
    /// reduction, or the order was amended `MAX_NUM_ORDER_AMENDS` times. Nothing is sent then.
    pub fn amend(&mut self, now: impl Into<LocalMs>, id: &ClientOrderId, new_qty: Decimal) -> Result<(), AmendError> {
        let now = now.into().millis();
        self.observe_now(now);
        if let Some(reason) = &self.killed {
            return Err(AmendError::Killed(reason.clone()));
        }
        if self.is_starting() {
            return Err(AmendError::Starting);
        }
        let symbol = self.orders.get(id).map(|v| v.symbol.clone()).ok_or(OrdersError::UnknownOrder(*id))?;
        let rules = self.info.symbol(&symbol).ok_or_else(|| AmendError::UnknownSymbol(symbol.clone()))?;
        if !rules.amend_allowed() {
            return Err(AmendError::NotAllowed);
        }
        let mut max_amends = None;
        for filter in rules.filters() {
            match filter {
                crate::rules::Filter::LotSize { min_qty, max_qty, step_size } => {
                    check_lot(new_qty, *min_qty, *max_qty, *step_size)?;
                }
                crate::rules::Filter::MaxNumOrderAmends { max_num_order_amends } => {
                    max_amends = Some(u32::try_from(*max_num_order_amends).unwrap_or(u32::MAX));
                }
                _ => {}
            }
        }
        self.orders.amend(id, new_qty, max_amends)?;
        self.enqueue(now, Purpose::Amend(*id));
        self.pump(now);
        Ok(())
    }

    /// Cancels every open order of `symbol`: queued ones locally, the rest with one
    /// `DELETE /api/v3/openOrders`.
    pub fn cancel_all(&mut self, now: impl Into<LocalMs>, symbol: &str) {
        let now = now.into().millis();
        self.observe_now(now);
        for id in self.gate.remove_orders_of(symbol) {
            self.not_sent_ids(&id);
        }
        self.enqueue(now, Purpose::CancelAll(symbol.to_owned()));
        self.pump(now);
    }

    /// Asks for the server time (`GET /api/v3/time`); the engine also does so on its own when
    /// the estimate is old or a request failed with -1021.
    pub fn sync_time(&mut self, now: impl Into<LocalMs>) {
        let now = now.into().millis();
        self.observe_now(now);
        self.enqueue(now, Purpose::Time);
        self.pump(now);
    }

    // ----- inputs from the transports -----

    /// The user-data connection (WebSocket API) is open: the engine subscribes on it
    /// (`userDataStream.subscribe.signature`, through the gate) and reconciles, since events may
    /// have been missed while it was down (start-up loads everything anyway).
    pub fn handle_ws_open(&mut self, now: impl Into<LocalMs>) {
        let now = now.into().millis();
        self.observe_now(now);
        self.user_conn.handle_connected(now);
        self.stream_down_since = None;
        self.enqueue(now, Purpose::Subscribe);
        if self.is_starting() {
            self.pump(now);
        } else {
            self.reconcile(now);
        }
    }

    /// The user-data connection closed: events may be missed until it is back (and the kill
    /// switch trips if it stays down longer than `max_user_stream_gap_ms`).
    pub fn handle_ws_closed(&mut self, now: impl Into<LocalMs>) {
        let now = now.into().millis();
        self.observe_now(now);
        self.user_conn.handle_closed(now);
        self.stream_closed(now);
        self.pump(now);
    }

    /// A user-data connection asked for with [`Output::WsConnect`] could not be opened: another
    /// attempt follows after the back-off.
    pub fn handle_ws_connect_failed(&mut self, now: impl Into<LocalMs>) {
        let now = now.into().millis();
        self.observe_now(now);
        self.user_conn.handle_connect_failed(now);
        if !self.user_conn.is_live() {
            self.stream_down(now);
        }
        self.pump(now);
    }

    /// A ping or pong on the user-data connection: it is alive.
    pub fn handle_ws_ping(&mut self, now: impl Into<LocalMs>) {
        let now = now.into().millis();
        self.observe_now(now);
        self.user_conn.handle_frame(now);
    }

    /// No more user-data connections are wanted (shutting down): none is opened again.
    pub fn stop_connecting(&mut self) {
        self.user_conn.stop();
    }

    /// The user-data connection's policy counters (opened, failed, lost, idle, renewed).
    #[must_use]
    pub fn connection_stats(&self) -> crate::conn::ConnStats {
        self.user_conn.stats()
    }

    /// The stream is down: no subscription, events may be missed.
    fn stream_closed(&mut self, now: i64) {
        self.user_stream = UserStream::Down;
        self.subscribe_id = None;
        self.ws_session = false;
        // Requests in flight on the connection lost their answer: orders become Unknown and are
        // queried over REST.
        for (id, flight) in self.gate.take_ws_in_flight() {
            self.apply_answer(now, id, flight, &answers::Answer::Unanswered, None);
        }
        self.gate.remove(&Purpose::Subscribe);
        self.stream_down(now);
    }

    /// What the connection policy asks for becomes outputs.
    fn connection_actions(&mut self, now: i64) {
        while let Some(action) = self.user_conn.poll_action() {
            match action {
                ConnAction::Connect => self.outputs.push_back(Output::WsConnect),
                ConnAction::Close(reason) => {
                    if reason == CloseReason::Idle {
                        self.stream_closed(now);
                    }
                    self.outputs.push_back(Output::WsClose(reason));
                }
            }
        }
    }

    /// Time has passed: requests past their deadline become unanswered, orders whose outcome is
    /// unknown are queried, queued requests leave when the gate allows. A call before the next
    /// deadline changes nothing.
    pub fn handle_timeout(&mut self, now: impl Into<LocalMs>) {
        let now = now.into().millis();
        self.observe_now(now);
        for id in self.gate.expired(now) {
            self.handle_http_response(now, id, HttpResult::Unanswered);
        }
        self.user_conn.handle_timeout(now);
        self.supervise(now);
        self.pump(now);
    }

    // ----- outputs -----

    /// The next thing to do. After the queue empties it yields [`Output::Timeout`] (once per
    /// drain): stop draining there.
    pub fn poll_output(&mut self) -> Output {
        if let Some(o) = self.outputs.pop_front() {
            return o;
        }
        Output::Timeout(self.next_timeout())
    }

    /// Whether a request for `purpose` was handed out and its answer (or the verdict that none
    /// will come) is not applied yet: a caller that waits for an order's answer sent over the
    /// WebSocket API asks this after each step.
    ///
    /// ```
    /// # use aegis_exchange::{Engine, EngineConfig, ExchangeInfo, Credentials, HmacSha256, HttpResult, Purpose};
    /// # use aegis_exchange::rest::Environment;
    /// # let creds = Credentials::new("key", HmacSha256::new("secret")).unwrap();
    /// let mut engine = Engine::new(EngineConfig::new(Environment::Testnet, creds), ExchangeInfo::default());
    /// let now = 1_760_000_000_000_i64;
    /// engine.start(now);
    /// // Start-up asks for the server time: handed out, in flight until its answer.
    /// let (id, _request) = engine.take_request(&Purpose::Time).unwrap();
    /// assert!(engine.is_in_flight(&Purpose::Time));
    /// let body = format!(r#"{{"serverTime":{now}}}"#);
    /// let answer = http::Response::builder().status(200).body(bytes::Bytes::from(body)).unwrap();
    /// engine.handle_http_response(now, id, HttpResult::Response(answer));
    /// assert!(!engine.is_in_flight(&Purpose::Time));
    /// ```
    #[must_use]
    pub fn is_in_flight(&self, purpose: &Purpose) -> bool {
        self.gate.is_in_flight(purpose)
    }

    /// Takes the request for `purpose` out of the outputs, if it is waiting there, for the
    /// caller to perform itself; the other outputs stay queued, in order. It was admitted,
    /// charged and signed like any other: its answer goes to
    /// [`handle_http_response`](Self::handle_http_response) with the id returned here, and its
    /// reply deadline runs from now. The async client sends an order from the task that placed
    /// it this way (no hand-over to another task on the way out or back).
    ///
    /// ```
    /// # use aegis_exchange::{Engine, EngineConfig, Purpose};
    /// # use aegis_exchange::rest::Environment;
    /// # use aegis_exchange::sign::{Credentials, HmacSha256};
    /// # use aegis_exchange::ExchangeInfo;
    /// let creds = Credentials::new("key", HmacSha256::new("secret")).unwrap();
    /// let mut engine = Engine::new(EngineConfig::new(Environment::Testnet, creds), ExchangeInfo::default());
    /// engine.start(1_760_000_000_000_i64);
    /// // Start-up asks for the server time first; nothing for an order is waiting.
    /// assert!(engine.take_request(&Purpose::Time).is_some());
    /// assert!(engine.take_request(&Purpose::Time).is_none());
    /// ```
    pub fn take_request(&mut self, purpose: &Purpose) -> Option<(RequestId, http::Request<bytes::Bytes>)> {
        let at = self.outputs.iter().position(|o| match o {
            Output::Http { id, .. } => self.gate.purpose_of(*id) == Some(purpose),
            _ => false,
        })?;
        match self.outputs.remove(at)? {
            Output::Http { id, request } => Some((id, request)),
            other => {
                // Not reached (the position is an HTTP output's); put it back where it was.
                self.outputs.insert(at, other);
                None
            }
        }
    }

    /// The next output if it is an [`Event`], taken from the queue; `None` when the queue is
    /// empty or starts with something to perform (the events behind it keep their place). A
    /// caller that only publishes events drains them this way and leaves the rest to
    /// [`poll_output`](Self::poll_output).
    pub fn poll_event(&mut self) -> Option<Event> {
        match self.outputs.front() {
            Some(Output::Event(_)) => match self.outputs.pop_front() {
                Some(Output::Event(event)) => Some(event),
                _ => None,
            },
            _ => None,
        }
    }

    /// Whether an output waits in the queue (a request, a frame, an event, ...).
    #[must_use]
    pub fn has_output(&self) -> bool {
        !self.outputs.is_empty()
    }

    /// When [`handle_timeout`](Self::handle_timeout) is next due (what the
    /// [`Output::Timeout`] at the end of a drain carries). It can be early (a call then changes
    /// nothing), never late; with nothing to wait for it is `i64::MAX`.
    ///
    /// ```
    /// # use aegis_exchange::{Engine, EngineConfig};
    /// # use aegis_exchange::rest::Environment;
    /// # use aegis_exchange::sign::{Credentials, HmacSha256};
    /// # use aegis_exchange::ExchangeInfo;
    /// let creds = Credentials::new("key", HmacSha256::new("secret")).unwrap();
    /// let engine = Engine::new(EngineConfig::new(Environment::Testnet, creds), ExchangeInfo::default());
    /// assert_eq!(engine.poll_timeout(), i64::MAX);
    /// ```
    #[must_use]
    pub fn poll_timeout(&self) -> i64 {
        self.next_timeout()
    }

    fn next_timeout(&self) -> i64 {
        let mut next = self.gate.next_timeout(self.now);
        if let Some(t) = self.user_conn.next_timeout() {
            next = next.min(t);
        }
        if let Some(t) = self.orders.next_timeout() {
            next = next.min(t);
        }
        if let Some(t) = self.next_reconcile {
            next = next.min(t);
        }
        if let Some(since) = self.stream_down_since
            && self.killed.is_none()
        {
            next = next.min(since.saturating_add(self.config.max_user_stream_gap_ms));
        }
        next
    }

    fn observe_now(&mut self, now: i64) {
        self.now = self.now.max(now);
    }

    fn emit(&mut self, event: Event) {
        self.outputs.push_back(Output::Event(event));
    }

    /// The user-data stream is down from `now` (if not already): events may be lost, which the
    /// tracker notes (a `TRANSFER` order ending after it has its prevented matches asked for).
    fn stream_down(&mut self, now: i64) {
        self.stream_down_since.get_or_insert(now);
        self.orders.note_stream_gap();
    }

    fn emit_applied(&mut self, applied: crate::orders::OrderApplied) {
        if let crate::orders::OrderApplied::Changed(update) = applied {
            self.activity = self.activity.wrapping_add(1);
            let traded = !update.traded.is_zero();
            self.emit(Event::Order(update));
            if traded {
                self.check_loss();
            }
        }
    }
}
