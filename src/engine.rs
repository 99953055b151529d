//! The engine: rules, ledger, rate limits, signing and the order state machine wired into one
//! sans-IO state machine (str0m / quinn-proto style).
//!
//! Inputs go in ([`Engine::submit`], [`Engine::cancel`], [`Engine::cancel_all`],
//! [`Engine::handle_http_response`], [`Engine::handle_ws_frame`], [`Engine::handle_timeout`]);
//! outputs are drained with [`Engine::poll_output`] until it yields [`Output::Timeout`]: HTTP
//! requests to send (each with a [`RequestId`] to answer with), events for the user, and the
//! next instant the engine wants [`handle_timeout`](Engine::handle_timeout) called. The engine
//! never reads a clock or touches a socket; a spurious timeout is a no-op.
//!
//! The order path: intent → [`SymbolRules::normalize`](crate::SymbolRules::normalize) → ledger
//! reserve ([`Orders::submit`]) → rate-limit admission → request built and signed → in flight →
//! the answer (or the user-data event) → the order state machine → ledger fill / release.
//! Every send failure has an outcome: refused before sending (`NotSent`, funds released),
//! refused by the exchange (`Rejected`, released), or not known (`Unknown`, funds kept, and the
//! next request for that order is a query by `origClientOrderId`, never a second POST).
//!
//! ```
//! use aegis_exchange::engine::{Engine, EngineConfig, Intent, Output};
//! use aegis_exchange::rest::Environment;
//! use aegis_exchange::sign::{Credentials, HmacSha256};
//! use aegis_exchange::{ExchangeInfo, OrderRequest, Side, rules::BUNDLED_EXCHANGE_INFO};
//! use rust_decimal_macros::dec;
//!
//! let info = ExchangeInfo::from_json(BUNDLED_EXCHANGE_INFO).unwrap();
//! let creds = Credentials::new("key", HmacSha256::new("secret")).unwrap();
//! let mut engine = Engine::new(EngineConfig::new(Environment::Testnet, creds), info);
//! let usdt = engine.ledger().asset("USDT").unwrap();
//! engine.ledger().credit(usdt, dec!(1000)).unwrap();
//! let order = OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.001), dec!(65000));
//! let id = engine.submit(1_760_000_000_000, Intent::new(order)).unwrap();
//! // The signed order goes out first, then a time sync (the engine has none yet).
//! let mut paths = Vec::new();
//! while let Output::Http { request, .. } = engine.poll_output() {
//!     paths.push(request.uri().path().to_owned());
//! }
//! assert_eq!(paths, ["/api/v3/order", "/api/v3/time"]);
//! assert_eq!(engine.ledger().balance(usdt).unwrap().locked, dec!(65));
//! # let _ = id;
//! ```

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use bytes::Bytes;
use rust_decimal::Decimal;

use crate::clock::{RecvWindow, TimeSample, TimeSync, TimeSyncConfig};
use crate::ledger::{AssetId, Ledger};
use crate::limits::{Admit, Cost, LimiterConfig, RateLimiter};
use crate::model::{ClientOrderId, ClientOrderIdGenerator, OrderRequest};
use crate::orders::{Action, Applied, OrderState, Orders, OrdersConfig, OrdersError, Submit, Update};
use crate::rest::{ApiError, Environment, MyTrade, OrderInfo, OrderRef, ResponseError, Rest, RestRequest, ServerTime};
use crate::rules::{ExchangeInfo, FilterError, MarketContext, ValidatedOrder};
use crate::sign::Credentials;
use crate::ws_api::{UserDataEvent, WsFrame};

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
    /// A request with no answer after this long is treated as unanswered (ms). Binance gives
    /// up on the matching engine after 10 s.
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
    /// [`Engine::start`] has not loaded the balances and open orders yet: an order now would be
    /// counted again when the account snapshot arrives.
    #[error("the engine is still starting")]
    Starting,
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

/// Something the user should know.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// An order changed (state, trades, funds released).
    Order(Update),
    /// An order was refused before it was sent (rate limiter refusal, kill switch); its funds
    /// are released.
    NotSent {
        /// The order.
        client_order_id: ClientOrderId,
        /// Why.
        reason: String,
    },
    /// A request failed in a way the user may want to see (a cancel refused, a query error).
    RequestFailed {
        /// What the request was for.
        what: String,
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
    /// Reconciliation found the ledger and the exchange's balances apart (while orders may
    /// still be in flight this can be timing; at rest it is a real difference, and one within
    /// `mismatch_tolerance` with the same amount locked is corrected: the ledger takes the
    /// exchange's free balance).
    BalanceMismatch(Vec<crate::ledger::Difference>),
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
}

/// What the engine wants done.
#[derive(Debug)]
pub enum Output {
    /// Send this HTTP request; answer with [`Engine::handle_http_response`] and `id`.
    Http {
        /// The request's id.
        id: RequestId,
        /// The request.
        request: http::Request<Bytes>,
    },
    /// Send this text frame on the user-data (WebSocket API) connection.
    Ws {
        /// The frame.
        text: String,
    },
    /// Tell the user.
    Event(Event),
    /// Nothing more to do now: call [`Engine::handle_timeout`] at this instant (local ms), or
    /// earlier with any new input.
    Timeout(i64),
}

/// What happened to a request on the way.
#[derive(Debug)]
pub enum HttpResult {
    /// The exchange answered.
    Response(http::Response<Bytes>),
    /// It was never written (connect refused, DNS): nothing reached the exchange.
    NotSent,
    /// It was written and no answer came (timeout, reset after the write): the outcome is
    /// unknown.
    Unanswered,
}

#[derive(Debug, Clone)]
enum Purpose {
    Time {
        sent_at: i64,
    },
    Place(ClientOrderId),
    Query(ClientOrderId),
    Trades(ClientOrderId),
    Cancel(ClientOrderId),
    CancelAll(String),
    OpenOrders(String),
    Account,
    /// Start-up: the symbols' current rules.
    ExchangeInfo,
    /// Start-up: the account's balances become the ledger's.
    Snapshot,
    /// Start-up: the exchange's open orders become tracked.
    Adopt,
}

#[derive(Debug)]
struct InFlight {
    purpose: Purpose,
    deadline: i64,
}

/// An order waiting for the rate limiter.
#[derive(Debug)]
struct Waiting {
    client_order_id: ClientOrderId,
    /// Normalized and validated once, at `submit`.
    valid: ValidatedOrder,
    until: i64,
}

/// The sans-IO trading engine. See the [module docs](self).
#[derive(Debug)]
pub struct Engine {
    config: EngineConfig,
    rest: Rest,
    info: ExchangeInfo,
    /// The ledger ids of each symbol's base and quote asset, by the symbol's position in `info`
    /// (filled on a symbol's first order, cleared when `info` is replaced).
    asset_ids: Vec<Option<(AssetId, AssetId)>>,
    ledger: Arc<Ledger>,
    orders: Orders,
    limiter: RateLimiter,
    time: TimeSync,
    ids: ClientOrderIdGenerator,
    in_flight: BTreeMap<RequestId, InFlight>,
    /// Orders whose query (or trades fetch) is in flight: not asked twice.
    querying: Vec<ClientOrderId>,
    waiting: VecDeque<Waiting>,
    outputs: VecDeque<Output>,
    next_request: RequestId,
    killed: Option<KillReason>,
    /// The user data stream: `None` while up, `Some(since)` while down.
    stream_down_since: Option<i64>,
    next_reconcile: i64,
    /// A start-up request to repeat at this instant (its answer could not be used).
    startup_retry: Option<(i64, Purpose)>,
    /// Between [`Engine::start`] and the adoption of the open orders: no orders, no
    /// reconciliation verdicts.
    starting: bool,
    /// Start-up's exchangeInfo fetch has not answered yet (open orders are adopted after it,
    /// with the rules it brings).
    info_pending: bool,
    /// The balances are in; adoption waits for the rules.
    adopt_after_info: bool,
    /// The loss-limit asset's total when first checked.
    loss_baseline: Option<Decimal>,
    /// A reconciliation waits to compare the balances until no order request is in flight.
    account_check_pending: bool,
    /// The differences the last balance comparison at rest found: only a difference seen twice
    /// in a row is acted on (a trade can land between the two snapshots).
    last_diffs: Vec<crate::ledger::Difference>,
    now: i64,
}

impl Engine {
    /// An engine trading the symbols of `info` with a fresh ledger.
    #[must_use]
    pub fn new(config: EngineConfig, info: ExchangeInfo) -> Self {
        Self::with_ledger(config, info, Arc::new(Ledger::new()))
    }

    /// An engine over an existing (shared) ledger.
    #[must_use]
    pub fn with_ledger(mut config: EngineConfig, info: ExchangeInfo, ledger: Arc<Ledger>) -> Self {
        let rest = Rest::new(config.env.clone())
            .with_credentials(config.credentials.clone())
            .with_recv_window(config.recv_window);
        let limiter = RateLimiter::new(info.rate_limits(), config.limiter);
        let orders = Orders::new(Arc::clone(&ledger), config.orders);
        // The engine owns the generator from here on.
        let ids = std::mem::take(&mut config.ids);
        Self {
            rest,
            asset_ids: Vec::new(),
            info,
            ledger,
            orders,
            limiter,
            time: TimeSync::new(TimeSyncConfig::default()),
            ids,
            in_flight: BTreeMap::new(),
            querying: Vec::new(),
            waiting: VecDeque::new(),
            outputs: VecDeque::new(),
            next_request: 1,
            killed: None,
            stream_down_since: None,
            next_reconcile: i64::MIN,
            startup_retry: None,
            starting: false,
            info_pending: false,
            adopt_after_info: false,
            loss_baseline: None,
            account_check_pending: false,
            last_diffs: Vec::new(),
            now: i64::MIN,
            config,
        }
    }

    /// The ledger (share it; it is `Sync`).
    #[must_use]
    pub fn ledger(&self) -> &Arc<Ledger> {
        &self.ledger
    }

    /// The order tracker.
    #[must_use]
    pub fn orders(&self) -> &Orders {
        &self.orders
    }

    /// The server time at local `now` (the local time before the first sync).
    #[must_use]
    pub fn server_now(&self, now: i64) -> i64 {
        self.time.server_now(now)
    }

    /// Asks for the server time (`GET /api/v3/time`); the engine also does so on its own when
    /// the estimate is old or a request failed with -1021.
    pub fn sync_time(&mut self, now: i64) {
        self.observe_now(now);
        if let Ok(request) = self.rest.time() {
            self.send(now, request, Purpose::Time { sent_at: now });
        }
    }

    /// Starts an order: normalizes it, reserves its funds and sends it (or queues it for the
    /// rate limiter). Returns its client order id.
    ///
    /// # Errors
    /// [`SubmitError`]; nothing was reserved or sent.
    pub fn submit(&mut self, now: i64, intent: Intent) -> Result<ClientOrderId, SubmitError> {
        self.observe_now(now);
        if let Some(reason) = &self.killed {
            return Err(SubmitError::Killed(reason.clone()));
        }
        if self.is_starting() {
            return Err(SubmitError::Starting);
        }
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
        if self.waiting.len() >= self.config.max_waiting {
            return Err(SubmitError::Backlog);
        }
        let timestamp = self.time.server_now(now);
        let recv_window = i64::try_from(self.config.recv_window.as_millis()).unwrap_or(i64::MAX);
        let mut submit = Submit::new(valid.request(), base, quote, timestamp, recv_window);
        if let Some(bound) = price_bound {
            submit = submit.with_price_bound(bound);
        }
        self.orders.submit(now, submit)?;
        // Nothing queued ahead of it: straight out (or into the queue if the limiter says wait).
        let until = if self.waiting.is_empty() { self.dispatch(now, id, &valid) } else { Some(now) };
        if let Some(until) = until {
            self.waiting.push_back(Waiting { client_order_id: id, valid, until });
        }
        self.pump(now);
        Ok(id)
    }

    /// Cancels an order (`DELETE /api/v3/order`).
    ///
    /// # Errors
    /// [`OrdersError::UnknownOrder`], [`OrdersError::NotCancelable`].
    pub fn cancel(&mut self, now: i64, id: &ClientOrderId) -> Result<(), OrdersError> {
        self.observe_now(now);
        // Not sent yet: it never leaves.
        if let Some(pos) = self.waiting.iter().position(|w| w.client_order_id == *id) {
            self.waiting.remove(pos);
            let applied = self.orders.on_not_sent(id);
            self.emit_applied(applied);
            return Ok(());
        }
        let (symbol, _) = self.orders.cancel(id)?;
        let request = self.rest.cancel_order(&symbol, OrderRef::ClientOrderId(*id), self.time.server_now(now));
        if let Ok(request) = request {
            self.send(now, request, Purpose::Cancel(*id));
        }
        Ok(())
    }

    /// Cancels every open order of `symbol` (`DELETE /api/v3/openOrders`).
    pub fn cancel_all(&mut self, now: i64, symbol: &str) {
        self.observe_now(now);
        let queued: Vec<ClientOrderId> =
            self.waiting.iter().filter(|w| w.valid.request().symbol() == symbol).map(|w| w.client_order_id).collect();
        for id in queued {
            let _ = self.cancel(now, &id);
        }
        if let Ok(request) = self.rest.cancel_all_open_orders(symbol, self.time.server_now(now)) {
            self.send(now, request, Purpose::CancelAll(symbol.to_owned()));
        }
    }

    /// Starts the engine against an account it knows nothing of: syncs the time, fetches the
    /// current exchangeInfo (replacing the one given to [`new`](Self::new), which stays in use if
    /// the fetch fails), loads the account's balances into the (empty) ledger, then starts
    /// tracking the exchange's open orders with their reservations. Open the user-data
    /// connection alongside ([`handle_ws_open`](Self::handle_ws_open)).
    pub fn start(&mut self, now: i64) {
        self.observe_now(now);
        self.starting = true;
        self.sync_time(now);
        if let Ok(request) = self.rest.exchange_info(&[]) {
            self.info_pending = true;
            self.send(now, request, Purpose::ExchangeInfo);
        }
        if let Ok(request) = self.rest.account(false, self.time.server_now(now)) {
            self.send(now, request, Purpose::Snapshot);
        }
    }

    /// The user-data connection (WebSocket API) is open: the engine subscribes on it
    /// (`userDataStream.subscribe.signature`) and reconciles, since events may have been
    /// missed while it was down.
    pub fn handle_ws_open(&mut self, now: i64) {
        self.observe_now(now);
        self.stream_down_since = None;
        let api = crate::ws_api::WsApi::new().with_credentials(self.config.credentials.clone());
        let id = format!("uds-{}", self.next_request);
        if let Ok(frame) = api.user_data_stream_subscribe_signature(&id, self.time.server_now(now)) {
            self.outputs.push_back(Output::Ws { text: frame.text });
        }
        self.reconcile(now);
    }

    /// The user-data connection closed: events may be missed until it is back (and the kill
    /// switch trips if it stays down longer than `max_user_stream_gap_ms`).
    pub fn handle_ws_closed(&mut self, now: i64) {
        self.observe_now(now);
        self.stream_down_since.get_or_insert(now);
    }

    /// Checks the tracker and the ledger against the exchange now: the open orders of every
    /// symbol with a tracked order (an order the exchange no longer lists is queried), and the
    /// account's balances (differences are reported as [`Event::BalanceMismatch`]).
    pub fn reconcile(&mut self, now: i64) {
        self.observe_now(now);
        self.next_reconcile = now.saturating_add(self.config.reconcile_every_ms);
        let mut symbols: Vec<String> = self.orders.open().map(|(_, v)| v.symbol.clone()).collect();
        symbols.sort();
        symbols.dedup();
        let server_now = self.time.server_now(now);
        for symbol in symbols {
            if let Ok(request) = self.rest.open_orders(Some(&symbol), server_now) {
                self.send(now, request, Purpose::OpenOrders(symbol));
            }
        }
        // The balances are compared once the orders are settled (see `pump`).
        self.account_check_pending = true;
        self.pump(now);
    }

    /// Trips the kill switch: nothing new is sent, every symbol with an open or unknown order
    /// gets a cancel-all, and it stays tripped until [`reset_kill_switch`](Self::reset_kill_switch).
    pub fn kill(&mut self, now: i64, reason: KillReason) {
        self.observe_now(now);
        if self.killed.is_some() {
            return;
        }
        self.killed = Some(reason.clone());
        self.outputs.push_back(Output::Event(Event::KillSwitch(reason)));
        // Queued intents fail instead of firing later.
        while let Some(w) = self.waiting.pop_front() {
            let applied = self.orders.on_not_sent(&w.client_order_id);
            self.outputs.push_back(Output::Event(Event::NotSent {
                client_order_id: w.client_order_id,
                reason: "kill switch".to_owned(),
            }));
            self.emit_applied(applied);
        }
        let mut symbols: Vec<String> = self.orders.open().map(|(_, v)| v.symbol.clone()).collect();
        symbols.sort();
        symbols.dedup();
        for symbol in symbols {
            if let Ok(request) = self.rest.cancel_all_open_orders(&symbol, self.time.server_now(now)) {
                self.send(now, request, Purpose::CancelAll(symbol));
            }
        }
    }

    /// Whether [`start`](Self::start) is still loading the rules or the account (orders are
    /// refused meanwhile).
    #[must_use]
    pub fn is_starting(&self) -> bool {
        self.starting || self.info_pending
    }

    /// Start-up: the exchange's open orders, to be tracked.
    fn send_adopt(&mut self, now: i64) {
        if let Ok(request) = self.rest.open_orders(None, self.time.server_now(now)) {
            self.send(now, request, Purpose::Adopt);
        }
    }

    /// Whether the kill switch is tripped, and why.
    #[must_use]
    pub fn kill_switch(&self) -> Option<&KillReason> {
        self.killed.as_ref()
    }

    /// Re-arms the kill switch.
    pub fn reset_kill_switch(&mut self) {
        self.killed = None;
    }

    /// The answer to request `id`.
    pub fn handle_http_response(&mut self, now: i64, id: RequestId, result: HttpResult) {
        self.observe_now(now);
        let Some(flight) = self.in_flight.remove(&id) else { return };
        if let HttpResult::Response(response) = &result {
            let status = response.status().as_u16();
            self.limiter.observe(status, response.headers(), response.body(), now);
            if !response.status().is_success() {
                let error = ApiError::from_parts(status, response.body(), retry_after(response), now);
                if status == 418 && self.killed.is_none() {
                    self.kill(now, KillReason::Banned { until_ms: error.retry_after_ms.unwrap_or(now) });
                }
                if error.code == Some(-1021) {
                    self.time.mark_stale();
                }
            }
        }
        match flight.purpose {
            Purpose::Time { sent_at } => {
                if let Some(Ok(t)) = decoded::<ServerTime>(&result, now) {
                    let sample = TimeSample { sent_at, server_time: t.server_time, received_at: now };
                    if self.time.add_sample(sample)
                        && let Some(offset_ms) = self.time.offset()
                    {
                        self.outputs.push_back(Output::Event(Event::TimeSynced { offset_ms }));
                    }
                }
            }
            Purpose::Place(cid) => {
                let applied = match &result {
                    HttpResult::Response(r) => {
                        self.orders.on_place_http(now, &cid, r.status().as_u16(), r.body(), retry_after(r))
                    }
                    HttpResult::NotSent => self.orders.on_not_sent(&cid),
                    HttpResult::Unanswered => self.orders.on_place_unanswered(now, &cid),
                };
                self.emit_applied(applied);
            }
            Purpose::Query(cid) => {
                self.querying.retain(|q| *q != cid);
                // No answer, or an unreadable one: the tracker asks again on its own timer.
                let applied = match decoded::<OrderInfo>(&result, now) {
                    Some(Ok(info)) => self.orders.on_query_response(now, &info),
                    Some(Err(ResponseError::Api(e))) => self.orders.on_query_error(now, &cid, &e),
                    Some(Err(ResponseError::Decode(_))) | None => Applied::Duplicate,
                };
                self.emit_applied(applied);
            }
            Purpose::Trades(cid) => {
                self.querying.retain(|q| *q != cid);
                if let Some(Ok(trades)) = decoded::<Vec<MyTrade>>(&result, now) {
                    let applied = self.orders.on_trades(now, &cid, &trades);
                    self.emit_applied(applied);
                }
            }
            Purpose::Cancel(cid) => {
                let applied = match decoded::<OrderInfo>(&result, now) {
                    Some(Ok(info)) => self.orders.on_query_response(now, &info),
                    Some(Err(ResponseError::Api(e))) => {
                        let applied = self.orders.on_cancel_error(now, &cid, &e);
                        self.outputs
                            .push_back(Output::Event(Event::RequestFailed { what: format!("cancel {cid}"), error: e }));
                        applied
                    }
                    // Whether it was canceled is not known: back to the state before, and a query.
                    Some(Err(ResponseError::Decode(_))) | None => self.orders.on_cancel_unanswered(now, &cid),
                };
                self.emit_applied(applied);
            }
            Purpose::OpenOrders(symbol) => {
                if let Some(Ok(list)) = decoded::<Vec<OrderInfo>>(&result, now) {
                    for info in &list {
                        let applied = self.orders.on_query_response(now, info);
                        self.emit_applied(applied);
                    }
                    // Tracked as open here, no longer open there: ask what became of it.
                    let gone: Vec<ClientOrderId> = self
                        .orders
                        .open()
                        .filter(|(id, v)| {
                            v.symbol == symbol
                                && v.state != OrderState::PendingNew
                                && !list.iter().any(|o| o.client_order_id == id.as_str())
                        })
                        .map(|(id, _)| *id)
                        .collect();
                    for cid in gone {
                        self.orders.request_query(now, &cid);
                    }
                }
            }
            Purpose::Account => {
                if let Some(Ok(account)) = decoded::<crate::rest::Account>(&result, now) {
                    let theirs: Vec<(String, crate::ledger::Balance)> = account
                        .balances
                        .iter()
                        .map(|b| (b.asset.clone(), crate::ledger::Balance { free: b.free, locked: b.locked }))
                        .collect();
                    let diffs = self.ledger.reconcile(&theirs);
                    let at_rest = self.at_rest();
                    // Acted on only when the same difference was there last time too.
                    let persistent: Vec<crate::ledger::Difference> =
                        diffs.iter().filter(|d| at_rest && self.last_diffs.contains(d)).cloned().collect();
                    self.last_diffs = if at_rest { diffs.clone() } else { Vec::new() };
                    let beyond = self.config.mismatch_tolerance.and_then(|tolerance| {
                        persistent.iter().find(|d| {
                            let gap = (d.ledger.free + d.ledger.locked) - (d.exchange.free + d.exchange.locked);
                            gap.abs() > tolerance
                        })
                    });
                    if at_rest && let Some(d) = beyond {
                        let asset = d.asset.clone();
                        self.kill(now, KillReason::LedgerMismatch { asset });
                    } else if at_rest {
                        // Within the tolerance, with the same amount locked: a deposit, a
                        // withdrawal, a fee the stream did not show. The ledger takes the
                        // exchange's free balance.
                        for d in persistent.iter().filter(|d| d.ledger.locked == d.exchange.locked) {
                            let Ok(asset) = self.ledger.asset(&d.asset) else { continue };
                            let gap = d.exchange.free - d.ledger.free;
                            let _ = if gap > Decimal::ZERO {
                                self.ledger.credit(asset, gap)
                            } else {
                                self.ledger.debit(asset, -gap)
                            };
                        }
                    }
                    if !diffs.is_empty() {
                        self.outputs.push_back(Output::Event(Event::BalanceMismatch(diffs)));
                    }
                }
            }
            Purpose::ExchangeInfo => {
                if let HttpResult::Response(r) = &result
                    && r.status().is_success()
                    && let Ok(info) = ExchangeInfo::from_json(r.body())
                    && !info.symbols().is_empty()
                {
                    self.limiter = RateLimiter::new(info.rate_limits(), self.config.limiter);
                    self.info = info;
                    self.asset_ids.clear();
                }
                // Answered or failed (the rules given at construction stay): adoption may go on.
                self.info_pending = false;
                if std::mem::take(&mut self.adopt_after_info) {
                    self.send_adopt(now);
                }
            }
            Purpose::Snapshot => {
                match decoded::<crate::rest::Account>(&result, now).and_then(Result::ok) {
                    Some(account) => {
                        for b in &account.balances {
                            let total = b.free.saturating_add(b.locked);
                            if total.is_zero() {
                                continue;
                            }
                            if let Ok(asset) = self.ledger.asset(&b.asset) {
                                let _ = self.ledger.credit(asset, total);
                            }
                        }
                        self.reset_loss_baseline();
                        if self.info_pending {
                            self.adopt_after_info = true;
                        } else {
                            self.send_adopt(now);
                        }
                    }
                    // Again in a second: nothing can be traded before the balances are known.
                    None => self.startup_retry = Some((now.saturating_add(1000), Purpose::Snapshot)),
                }
            }
            Purpose::Adopt => match decoded::<Vec<OrderInfo>>(&result, now).and_then(Result::ok) {
                Some(list) => {
                    for info in &list {
                        let Some(rules) = self.info.symbol(&info.symbol) else { continue };
                        let (Ok(base), Ok(quote)) =
                            (self.ledger.asset(rules.base_asset()), self.ledger.asset(rules.quote_asset()))
                        else {
                            continue;
                        };
                        if let Err(error) = self.orders.adopt(info, base, quote) {
                            let client_order_id = info.client_order_id.clone();
                            self.outputs.push_back(Output::Event(Event::AdoptFailed { client_order_id, error }));
                        }
                    }
                    self.next_reconcile = now.saturating_add(self.config.reconcile_every_ms);
                    self.starting = false;
                }
                None => self.startup_retry = Some((now.saturating_add(1000), Purpose::Adopt)),
            },
            Purpose::CancelAll(symbol) => match decoded::<Vec<crate::rest::CancelledEntry>>(&result, now) {
                Some(Ok(list)) => {
                    for entry in list {
                        if let crate::rest::CancelledEntry::Order(info) = entry {
                            let applied = self.orders.on_query_response(now, &info);
                            self.emit_applied(applied);
                        }
                    }
                }
                // -2011 "Unknown order sent.": nothing was open.
                Some(Err(ResponseError::Api(e))) if e.code != Some(-2011) => {
                    self.outputs.push_back(Output::Event(Event::RequestFailed {
                        what: format!("cancel all {symbol}"),
                        error: e,
                    }));
                }
                _ => {}
            },
        }
        self.pump(now);
    }

    /// A text frame from the user-data connection (WebSocket API, events in their wrapper).
    pub fn handle_ws_frame(&mut self, now: i64, text: &[u8]) {
        self.observe_now(now);
        match WsFrame::decode(text) {
            Ok(WsFrame::Event { event: UserDataEvent::ExecutionReport(report), .. }) => {
                let applied = self.orders.on_execution_report(now, &report);
                self.emit_applied(applied);
            }
            Ok(WsFrame::Event { event: UserDataEvent::ServerShutdown { event_time }, .. }) => {
                self.outputs.push_back(Output::Event(Event::ServerShutdown { event_time }));
            }
            _ => {}
        }
        self.pump(now);
    }

    /// Time has passed: requests past their deadline become unanswered, orders whose outcome is
    /// unknown are queried, queued intents go out when the limiter allows. A call before the
    /// next deadline changes nothing.
    pub fn handle_timeout(&mut self, now: i64) {
        self.observe_now(now);
        let expired: Vec<RequestId> =
            self.in_flight.iter().filter(|(_, f)| f.deadline <= now).map(|(id, _)| *id).collect();
        for id in expired {
            self.handle_http_response(now, id, HttpResult::Unanswered);
        }
        if let Some(since) = self.stream_down_since
            && now.saturating_sub(since) >= self.config.max_user_stream_gap_ms
        {
            self.kill(now, KillReason::UserStreamGap { since_ms: since });
        }
        if now >= self.next_reconcile && self.next_reconcile != i64::MIN {
            self.reconcile(now);
        }
        if let Some((at, purpose)) = self.startup_retry.take() {
            let server_now = self.time.server_now(now);
            let request = match (&purpose, at <= now) {
                (_, false) => None,
                (Purpose::Adopt, true) => self.rest.open_orders(None, server_now).ok(),
                (_, true) => self.rest.account(false, server_now).ok(),
            };
            match request {
                Some(request) => self.send(now, request, purpose),
                None => self.startup_retry = Some((at, purpose)),
            }
        }
        self.pump(now);
    }

    /// The next thing to do. After the queue empties it yields [`Output::Timeout`] (once per
    /// drain): stop draining there.
    pub fn poll_output(&mut self) -> Output {
        if let Some(o) = self.outputs.pop_front() {
            return o;
        }
        Output::Timeout(self.next_timeout())
    }

    fn next_timeout(&self) -> i64 {
        let mut next = i64::MAX;
        for f in self.in_flight.values() {
            next = next.min(f.deadline);
        }
        for w in &self.waiting {
            next = next.min(w.until);
        }
        if let Some(t) = self.orders.next_timeout() {
            next = next.min(t);
        }
        if self.next_reconcile != i64::MIN {
            next = next.min(self.next_reconcile);
        }
        if let Some((at, _)) = &self.startup_retry {
            next = next.min(*at);
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

    fn send(&mut self, now: i64, request: RestRequest, purpose: Purpose) {
        let id = self.next_request;
        self.next_request += 1;
        let deadline = now.saturating_add(self.config.request_timeout_ms);
        self.in_flight.insert(id, InFlight { purpose, deadline });
        self.outputs.push_back(Output::Http { id, request: request.request });
    }

    /// Sends an order whose turn has come, if the limiter allows. `Some(until)`: it must wait
    /// until then (the caller queues it); `None`: sent, or ended as never sent.
    fn dispatch(&mut self, now: i64, id: ClientOrderId, valid: &ValidatedOrder) -> Option<i64> {
        let Ok(request) = self.rest.new_order(valid, self.time.server_now(now)) else {
            let applied = self.orders.on_not_sent(&id);
            self.emit_applied(applied);
            return None;
        };
        match self.limiter.admit(Cost::from(request.cost), now) {
            Admit::Proceed => self.send(now, request, Purpose::Place(id)),
            Admit::Wait { until_ms } => return Some(until_ms),
            Admit::Refused(refusal) => {
                let applied = self.orders.on_not_sent(&id);
                self.outputs
                    .push_back(Output::Event(Event::NotSent { client_order_id: id, reason: format!("{refusal:?}") }));
                self.emit_applied(applied);
            }
        }
        None
    }

    /// Sends what can go now: queued orders the limiter admits, queries the tracker asks for,
    /// a time re-sync when due.
    fn pump(&mut self, now: i64) {
        if self.account_check_pending
            && self.querying.is_empty()
            && !self.in_flight.values().any(|f| matches!(f.purpose, Purpose::OpenOrders(_) | Purpose::Query(_)))
            && let Ok(request) = self.rest.account(false, self.time.server_now(now))
        {
            self.account_check_pending = false;
            self.send(now, request, Purpose::Account);
        }
        if self.time.needs_resync(now)
            && !self.in_flight.values().any(|f| matches!(f.purpose, Purpose::Time { .. }))
            && let Ok(request) = self.rest.time()
        {
            self.send(now, request, Purpose::Time { sent_at: now });
        }
        while let Some(w) = self.waiting.front() {
            if w.until > now {
                break;
            }
            let Some(w) = self.waiting.pop_front() else { break };
            if let Some(until) = self.dispatch(now, w.client_order_id, &w.valid) {
                self.waiting.push_front(Waiting { until, ..w });
                break;
            }
        }
        while let Some(action) = self.orders.poll_action(now) {
            let cid = *action.client_order_id();
            if self.querying.contains(&cid) {
                continue;
            }
            let server_now = self.time.server_now(now);
            let (request, purpose) = match &action {
                Action::Query { symbol, .. } => {
                    (self.rest.query_order(symbol, OrderRef::ClientOrderId(cid), server_now), Purpose::Query(cid))
                }
                Action::FetchTrades { symbol, order_id, .. } => {
                    (self.rest.my_trades(symbol, Some(*order_id), None, server_now), Purpose::Trades(cid))
                }
            };
            if let Ok(request) = request {
                self.querying.push(cid);
                self.send(now, request, purpose);
            }
        }
    }

    /// Nothing that could still move the balances is pending: no order request in flight or
    /// queued, no order in an unsettled state, the user stream up.
    fn at_rest(&self) -> bool {
        !self.is_starting()
            && self.waiting.is_empty()
            && self.stream_down_since.is_none()
            && self.querying.is_empty()
            && !self.in_flight.values().any(|f| {
                matches!(
                    f.purpose,
                    Purpose::Place(_)
                        | Purpose::Cancel(_)
                        | Purpose::CancelAll(_)
                        | Purpose::OpenOrders(_)
                        | Purpose::Query(_)
                        | Purpose::Trades(_)
                )
            })
            && !self.orders.open().any(|(_, v)| {
                matches!(v.state, OrderState::Unknown | OrderState::PendingNew | OrderState::PendingCancel)
            })
            && self.orders.settling().next().is_none()
    }

    fn emit_applied(&mut self, applied: Applied) {
        if let Applied::Changed(update) = applied {
            let traded = !update.traded.is_zero();
            self.outputs.push_back(Output::Event(Event::Order(update)));
            if traded {
                self.check_loss();
            }
        }
    }

    /// Trips the kill switch when the loss limit is reached.
    fn check_loss(&mut self) {
        let Some((asset, limit)) = self.config.loss_limit.clone() else { return };
        let Some(balance) = self.ledger.asset_id(&asset).and_then(|id| self.ledger.balance(id).ok()) else { return };
        let total = balance.free + balance.locked;
        let baseline = *self.loss_baseline.get_or_insert(total);
        let loss = baseline - total;
        if loss > limit && self.killed.is_none() {
            self.kill(self.now, KillReason::LossLimit { asset, loss });
        }
    }

    /// Sets where the loss limit counts from: the loss-limit asset's total now.
    pub fn reset_loss_baseline(&mut self) {
        self.loss_baseline = None;
        if let Some((asset, _)) = &self.config.loss_limit
            && let Some(b) = self.ledger.asset_id(asset).and_then(|id| self.ledger.balance(id).ok())
        {
            self.loss_baseline = Some(b.free + b.locked);
        }
    }

    /// An order's state, if tracked.
    #[must_use]
    pub fn order_state(&self, id: &ClientOrderId) -> Option<OrderState> {
        self.orders.get(id).map(|v| v.state)
    }
}

/// The `Retry-After` header, if any.
fn retry_after(response: &http::Response<Bytes>) -> Option<&str> {
    response.headers().get(http::header::RETRY_AFTER).and_then(|v| v.to_str().ok())
}

/// The answer decoded as `T`; `None` when no answer came.
fn decoded<T: serde::de::DeserializeOwned>(result: &HttpResult, now: i64) -> Option<Result<T, ResponseError>> {
    let HttpResult::Response(r) = result else { return None };
    Some(crate::rest::decode(r.status().as_u16(), r.body(), retry_after(r), now))
}
