//! The async client (feature `client`): one tokio task pumps the sans-IO
//! [`Engine`] through an [`HttpTransport`] and a [`WsTransport`], and a
//! [`Client`] handle talks to it. [`MarketStream`] does the same for market streams.
//!
//! The handle and the task share the engine behind a mutex that each holds for one step, never
//! across an `.await`. [`Client::place`] sends its order from the caller's own task and reads
//! the answer there (no hand-over to another task, each a wake-up across threads on a
//! multi-thread runtime); from a task of the runtime, a resting order's acknowledgement is
//! returned as soon as it is read, and whoever locks the engine next applies it first. The task
//! publishes the events, runs the timers, the user-data connection and every other request. An
//! answer never waits for more than one user-data frame's handling (a few microseconds), however
//! fast frames arrive.
//!
//! What the driver does for you:
//! - requests run concurrently, polled by the task itself; an answer, a failure or the engine's
//!   own deadline settles each; a request that may have reached the server is reported as
//!   unanswered, never retried blindly (the order goes `Unknown` and is queried); an order
//!   whose caller stopped waiting is finished by the task;
//! - the user-data connection (WebSocket API) reconnects after a drop with capped exponential
//!   back-off and jitter; the engine re-subscribes and reconciles on every new connection;
//! - before the 24 h cut (`max_connection_age`) and on `serverShutdown` a new connection is
//!   opened *before* the old one is closed, so no event is missed;
//! - pings are answered by the backend; a connection silent for `idle_timeout` (Binance pings
//!   every 20 s) is taken for dead and replaced;
//! - [`Client::shutdown`] cancels the open orders or keeps them ([`OnShutdown`]), waits for the
//!   answers within `shutdown_timeout`, and closes the connection.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use aegis_exchange::client::{Client, ClientConfig};
//! use aegis_exchange::SystemClock;
//! use aegis_exchange::{EngineConfig, Intent};
//! use aegis_exchange::rest::Environment;
//! use aegis_exchange::sign::{Credentials, HmacSha256};
//! use aegis_exchange::transport::{ReqwestTransport, TungsteniteTransport};
//! use aegis_exchange::{OrderRequest, Side};
//! use rust_decimal_macros::dec;
//!
//! let creds = Credentials::new("api key", HmacSha256::new("secret"))?;
//! let config = ClientConfig::new(EngineConfig::new(Environment::Testnet, creds));
//! let client = Client::connect(
//!     config,
//!     Arc::new(ReqwestTransport::new()?),
//!     Arc::new(TungsteniteTransport::new()?),
//!     Arc::new(SystemClock),
//! )
//! .await?;
//! let mut events = client.events();
//! let placed = client.place(Intent::new(OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.001), dec!(30000)))).await?;
//! println!("{:?} is {:?}", placed.id, placed.state);
//! while let Some(event) = events.next().await {
//!     println!("{event:?}");
//! }
//! client.cancel(&placed.id).await?;
//! client.shutdown().await?;
//! # Ok(()) }
//! ```

mod builder;
mod driver;
mod market;

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, broadcast, mpsc, oneshot};
use tokio::task::JoinHandle;

pub use builder::{ClientBuilder, ENV_API_KEY, ENV_API_SECRET, ENV_ED25519_KEY_FILE};
pub use market::{MarketConfig, MarketItem, MarketStats, MarketStream};

use crate::clock::Clock;
use crate::engine::{
    AmendError, Engine, EngineConfig, Event, HttpResult, Intent, KillReason, Purpose, RequestId, SubmitError,
};
use crate::ledger::LedgerView;
use crate::model::ClientOrderId;
use crate::orders::{OrderState, OrderView, OrdersError};
use crate::transport::{BoxFuture, HttpTransport, TransportError, WsTransport};

pub use crate::conn::Backoff;

/// What [`Client::shutdown`] does with the orders still open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnShutdown {
    /// Cancel them (a cancel-all per symbol) and wait for the answers.
    #[default]
    CancelAll,
    /// Leave them on the book (the next start adopts them).
    KeepOrders,
}

/// How the client runs.
#[derive(Debug)]
pub struct ClientConfig {
    /// The engine's configuration (environment, credentials, limits, timeouts).
    pub engine: EngineConfig,
    /// Reconnect back-off of the user-data connection.
    pub reconnect: Backoff,
    /// A connection older than this is replaced (Binance cuts at 24 h). Default 23 h 30 min.
    pub max_connection_age: Duration,
    /// A connection with no frame (not even a ping) for this long is taken for dead. Default
    /// 60 s (Binance pings every 20 s).
    pub idle_timeout: Duration,
    /// What shutdown does with open orders.
    pub on_shutdown: OnShutdown,
    /// How long [`Client::connect`] waits for the start-up (time, rules, balances, open orders,
    /// the user-data connection). Default 30 s.
    pub start_timeout: Duration,
    /// How long shutdown waits for cancels and in-flight requests. Default 10 s.
    pub shutdown_timeout: Duration,
    /// Events kept for a slow reader before the oldest are dropped (and counted). Default 4096.
    pub event_capacity: usize,
}

impl ClientConfig {
    /// Defaults around `engine`.
    #[must_use]
    pub fn new(engine: EngineConfig) -> Self {
        Self {
            engine,
            reconnect: Backoff::default(),
            max_connection_age: Duration::from_secs(23 * 3600 + 1800),
            idle_timeout: Duration::from_secs(60),
            on_shutdown: OnShutdown::CancelAll,
            start_timeout: Duration::from_secs(30),
            shutdown_timeout: Duration::from_secs(10),
            event_capacity: 4096,
        }
    }
}

/// What the client tells its readers.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    /// From the engine: orders, kill switch, mismatches, time.
    Engine(Event),
    /// The user-data connection is (re)open and subscribed.
    Connected {
        /// Connections opened before this one.
        reconnects: u64,
    },
    /// The user-data connection is down; a new one is on its way.
    Disconnected {
        /// Why.
        reason: String,
    },
}

/// Why a client call failed.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// The engine refused the order (kill switch, filters, funds, backlog, start-up).
    #[error(transparent)]
    Submit(#[from] SubmitError),
    /// The order tracker refused (an unknown id, a cancel already sent).
    #[error(transparent)]
    Orders(#[from] OrdersError),
    /// The engine refused an amend before sending it.
    #[error(transparent)]
    Amend(#[from] AmendError),
    /// Start-up did not finish within `start_timeout`.
    #[error("start-up did not finish within {0:?}: {1}")]
    StartTimeout(Duration, String),
    /// The exchange refused the credentials at start-up (-2014, -2015, -1022, -1002: a wrong
    /// key or secret, an IP or a permission not allowed): connecting stops at once.
    #[error("the exchange refused the credentials: {0}")]
    Credentials(crate::rest::ApiError),
    /// A transport failed where the client cannot go on without it.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The client has stopped.
    #[error("the client has stopped")]
    Stopped,
    /// [`ClientBuilder::connect`] was given unusable settings (no or malformed credentials, an
    /// unreadable key file, no transport).
    #[error("client setup: {0}")]
    Setup(String),
}

/// Counters of a running client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// User-data connections opened after the first.
    pub reconnects: u64,
    /// Whether the user-data connection is open now.
    pub connected: bool,
    /// HTTP requests sent.
    pub requests: u64,
    /// HTTP requests that failed in transport (not sent or unanswered).
    pub transport_failures: u64,
    /// Frames received on the user-data connection.
    pub frames: u64,
    /// Orders whose acknowledgement [`Client::place`] returned before applying it (a resting
    /// order's `NEW`, which moves no balance): the engine's next step applied each first.
    pub read_ahead: u64,
    /// Requests awaiting an answer now.
    pub in_flight: usize,
    /// Orders open or in flight now.
    pub open_orders: usize,
    /// The kill switch, when tripped.
    pub kill_switch: Option<KillReason>,
}

/// What shutdown did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Symbols a cancel-all was sent for.
    pub canceled_symbols: Vec<String>,
    /// Orders still open (or of unknown outcome) when the client stopped.
    pub left_open: Vec<(ClientOrderId, OrderView)>,
}

type Reply<T> = oneshot::Sender<T>;

#[derive(Debug)]
enum Command {
    Cancel(ClientOrderId, Reply<Result<(), OrdersError>>),
    CancelAll(String, Reply<()>),
    Order(ClientOrderId, Reply<Option<OrderView>>),
    OpenOrders(Reply<Vec<(ClientOrderId, OrderView)>>),
    Kill(String, Reply<()>),
    ResetKill(Reply<()>),
    Reconcile(Reply<()>),
    Stats(Reply<ClientStats>),
    /// Drops the user-data connection as a network failure would (tests, war games).
    DropConnection(Reply<()>),
    Shutdown(Reply<ShutdownReport>),
}

/// A request on its way whose caller stopped waiting: the client's task reads its answer.
type Orphan = (RequestId, BoxFuture<'static, Result<http::Response<bytes::Bytes>, TransportError>>);

/// Counters of the requests sent from the handles' own tasks.
#[derive(Debug, Default)]
struct Direct {
    in_flight: AtomicUsize,
    requests: AtomicU64,
    failures: AtomicU64,
    read_ahead: AtomicU64,
}

/// What the handle and the client's task share: the engine (each locks it for one step, never
/// across an `.await`, through [`Shared::engine`]; a user-data frame's handling is the longest
/// any answer waits for it).
struct Shared {
    /// Locked only through [`Shared::engine`], which applies the answers read ahead first.
    engine: Mutex<Engine>,
    /// Answers a caller of `place` read and returned with before they were applied (a resting
    /// order's acknowledgement: it moves no balance), in the order they were read; the next
    /// holder of the engine's lock applies them before anything else, and the task is woken to
    /// publish their events. `read_ahead_len` says whether there are any without a lock.
    read_ahead: Mutex<std::collections::VecDeque<(i64, RequestId, HttpResult)>>,
    read_ahead_len: AtomicUsize,
    /// Wakes the task after a handle changed the engine in a way only the task can act on:
    /// something to send, or a timer earlier than the one it waits for.
    wake: Notify,
    /// The engine's next timeout when the task last drained it (written under the engine's
    /// lock): a handle that leaves the engine with an earlier one wakes the task.
    armed: AtomicI64,
    /// Where the engine's events are published, in order: whoever takes them out of the
    /// engine (the task, or a handle after its order) publishes them under the engine's lock.
    events: broadcast::Sender<ClientEvent>,
    /// The `tracing` span of each order placed through a handle, until its final state.
    spans: Mutex<std::collections::HashMap<ClientOrderId, tracing::Span>>,
    orphans: mpsc::UnboundedSender<Orphan>,
    /// Callers of `place` whose order went over the WebSocket API, each told when its answer
    /// (or the verdict that none will come) is applied; `answer_waiters` counts them, so the
    /// task looks only when there are some.
    answers: Mutex<Vec<(ClientOrderId, oneshot::Sender<()>)>>,
    answer_waiters: AtomicUsize,
    /// False once shutdown began: orders are refused.
    accepting: AtomicBool,
    direct: Direct,
    http: Arc<dyn HttpTransport>,
    clock: Arc<dyn Clock>,
    request_timeout: Duration,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").field("direct", &self.direct).finish_non_exhaustive()
    }
}

impl Shared {
    fn new(
        engine: Engine,
        http: Arc<dyn HttpTransport>,
        clock: Arc<dyn Clock>,
        request_timeout: Duration,
        orphans: mpsc::UnboundedSender<Orphan>,
        events: broadcast::Sender<ClientEvent>,
    ) -> Self {
        Self {
            engine: Mutex::new(engine),
            read_ahead: Mutex::new(std::collections::VecDeque::new()),
            read_ahead_len: AtomicUsize::new(0),
            wake: Notify::new(),
            armed: AtomicI64::new(i64::MIN),
            events,
            spans: Mutex::new(std::collections::HashMap::new()),
            orphans,
            answers: Mutex::new(Vec::new()),
            answer_waiters: AtomicUsize::new(0),
            accepting: AtomicBool::new(true),
            direct: Direct::default(),
            http,
            clock,
            request_timeout,
        }
    }
}

impl Shared {
    /// The engine, locked, with every answer read ahead applied: no step and no reader sees it
    /// without an acknowledgement `place` already returned.
    fn engine(&self) -> std::sync::MutexGuard<'_, Engine> {
        let mut engine = lock(&self.engine);
        while self.read_ahead_len.load(Ordering::Acquire) > 0 {
            // One at a time, the queue's lock not held while applying (its capacity is kept: no
            // allocation per order).
            let next = {
                let mut read = self.read_ahead.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                let next = read.pop_front();
                self.read_ahead_len.store(read.len(), Ordering::Release);
                next
            };
            let Some((now, id, answer)) = next else { break };
            engine.handle_http_response(now, id, answer);
        }
        engine
    }

    /// Hands a read acknowledgement to the engine's next step and wakes the task, which applies
    /// it (if nobody did before) and publishes its events.
    fn read_ahead(&self, now: i64, id: RequestId, answer: HttpResult) {
        {
            let mut read = self.read_ahead.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            read.push_back((now, id, answer));
            self.read_ahead_len.store(read.len(), Ordering::Release);
        }
        self.direct.read_ahead.fetch_add(1, Ordering::Relaxed);
        self.wake.notify_one();
    }

    /// After a handle's step, under the engine's lock: publishes the events the step left and
    /// says whether the task must be woken (something else to perform, or a timer earlier than
    /// the one it sleeps until). An order answered at once needs neither: no wake-up of another
    /// thread on the way back to its caller.
    fn settle(&self, engine: &mut Engine) -> bool {
        self.settle_seeing(engine, |_| {})
    }

    /// [`settle`](Self::settle), showing each event to `see` before it is published.
    fn settle_seeing(&self, engine: &mut Engine, mut see: impl FnMut(&Event)) -> bool {
        while let Some(event) = engine.poll_event() {
            see(&event);
            self.publish_event(event);
        }
        engine.has_output() || engine.poll_timeout() < self.armed.load(Ordering::Acquire)
    }

    /// Sends a request the engine handed to this handle and reads its answer here. The returned
    /// guard hands the request to the client's task if dropped before the answer was read (the
    /// caller's future canceled); drop it once the answer is applied.
    async fn send_direct(
        self: &Arc<Self>,
        id: RequestId,
        request: http::Request<bytes::Bytes>,
    ) -> (Sending, HttpResult) {
        self.direct.in_flight.fetch_add(1, Ordering::AcqRel);
        self.direct.requests.fetch_add(1, Ordering::Relaxed);
        let mut sending =
            Sending { shared: Arc::clone(self), id, future: Some(self.http.send(request, self.request_timeout)) };
        let answer = sending.answer().await;
        if answer.is_err() {
            self.direct.failures.fetch_add(1, Ordering::Relaxed);
        }
        (sending, http_result(answer))
    }

    /// Sends a request the engine handed to this handle, applies its answer under the engine's
    /// lock (each event shown to `see`, then published), wakes the task only if the engine has
    /// something for it, and returns what `view` reads of the engine then.
    async fn perform_direct<T>(
        self: &Arc<Self>,
        id: RequestId,
        request: http::Request<bytes::Bytes>,
        see: impl FnMut(&Event),
        view: impl FnOnce(&Engine) -> T,
    ) -> T {
        let (sending, answer) = self.send_direct(id, request).await;
        self.apply_direct(sending, id, answer, see, view)
    }

    /// The second half of [`perform_direct`](Self::perform_direct): applies the answer read.
    fn apply_direct<T>(
        &self,
        sending: Sending,
        id: RequestId,
        answer: HttpResult,
        see: impl FnMut(&Event),
        view: impl FnOnce(&Engine) -> T,
    ) -> T {
        let now = self.clock.now_millis();
        let (out, poke) = {
            let mut engine = self.engine();
            engine.handle_http_response(now, id, answer);
            let poke = self.settle_seeing(&mut engine, see);
            (view(&engine), poke)
        };
        // Handed to the task only if this future was dropped before the answer: read now.
        drop(sending);
        if poke {
            self.wake.notify_one();
        }
        out
    }
}

impl Shared {
    /// Registers a caller waiting for the answer of order `id`, sent over the WebSocket API
    /// (called under the engine's lock, so the answer cannot be applied before).
    fn await_answer(&self, id: ClientOrderId) -> oneshot::Receiver<()> {
        let (tell, told) = oneshot::channel();
        if !self.accepting.load(Ordering::Acquire) {
            // The task is ending (it tells the waiters under the same lock): no answer will be
            // applied; the caller returns what the engine knows.
            let _ = tell.send(());
            return told;
        }
        self.answers.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push((id, tell));
        self.answer_waiters.fetch_add(1, Ordering::AcqRel);
        told
    }

    /// After an engine step, under its lock: tells each caller whose order's answer is in (or
    /// will not come: the engine then resolves the order by query), and each whose caller left.
    fn tell_answered(&self, engine: &Engine) {
        if self.answer_waiters.load(Ordering::Acquire) == 0 {
            return;
        }
        let mut answers = self.answers.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for (id, tell) in std::mem::take(&mut *answers) {
            if engine.is_in_flight(&Purpose::Place(id)) && !tell.is_closed() {
                answers.push((id, tell));
            } else {
                let _ = tell.send(());
            }
        }
        self.answer_waiters.store(answers.len(), Ordering::Release);
    }

    /// At the task's end, under the engine's lock: every caller still waiting for an answer
    /// returns with what the engine knows of its order.
    fn tell_all_answered(&self, _engine: &Engine) {
        let mut answers = self.answers.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for (_, tell) in answers.drain(..) {
            let _ = tell.send(());
        }
        self.answer_waiters.store(0, Ordering::Release);
    }

    /// Publishes one of the engine's events (logged by kind; an order's update inside the
    /// order's span); nobody listening is fine, and a lagging reader counts its own losses
    /// ([`Events::missed`]).
    fn publish_event(&self, event: Event) {
        if let Event::Order(u) = &event {
            self.order_span_event(u);
        }
        publish_event(&self.events, event);
    }

    /// Opens the span of order `id` (`order`, with its client order id, symbol and side): the
    /// order's steps are logged in it until its final state.
    fn open_order_span(&self, id: ClientOrderId, view: Option<&OrderView>) -> tracing::Span {
        let span = match view {
            Some(v) => tracing::info_span!("order", client_order_id = %id, symbol = %v.symbol, side = %v.side),
            None => tracing::info_span!("order", client_order_id = %id),
        };
        if span.is_disabled() {
            // No subscriber wants it: nothing to keep.
            return span;
        }
        span.in_scope(|| tracing::debug!("intent accepted: funds reserved"));
        let mut spans = self.spans.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        spans.insert(id, span.clone());
        span
    }

    /// An order's update, logged in its span; the span is closed at the order's final state.
    fn order_span_event(&self, u: &crate::orders::OrderUpdate) {
        let mut spans = self.spans.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(span) = spans.get(&u.client_order_id) else { return };
        span.in_scope(|| tracing::info!(state = %u.state, traded = %u.traded, released = ?u.released, "order update"));
        if u.state.is_terminal() {
            spans.remove(&u.client_order_id);
        }
    }
}

/// Publishes one of the engine's events (logged by kind); nobody listening is fine, and a
/// lagging reader counts its own losses ([`Events::missed`]).
fn publish_event(events: &broadcast::Sender<ClientEvent>, event: Event) {
    match &event {
        Event::ServerShutdown { .. } => {
            tracing::info!("serverShutdown: the engine renews the user-data connection");
        }
        Event::KillSwitch(reason) => tracing::error!(?reason, "kill switch tripped"),
        Event::BalanceMismatch(d) => tracing::warn!(differences = d.len(), "balance mismatch"),
        Event::Transferred { asset, amount } => {
            tracing::info!(%asset, %amount, "self-trade prevention TRANSFER with the trade group booked");
        }
        _ => tracing::debug!(?event, "engine event"),
    }
    let _ = events.send(ClientEvent::Engine(event));
}

/// The engine, locked (a panic elsewhere does not make it unusable: every engine step leaves
/// it consistent).
fn lock(engine: &Mutex<Engine>) -> std::sync::MutexGuard<'_, Engine> {
    engine.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What a transport's result means for the engine: only a failure that proves nothing was
/// written is "not sent".
fn http_result(result: Result<http::Response<bytes::Bytes>, TransportError>) -> HttpResult {
    match result {
        Ok(response) => HttpResult::Response(response),
        Err(e) => {
            tracing::warn!(error = %e, "request failed in transport");
            if e.may_have_arrived() { HttpResult::Unanswered } else { HttpResult::NotSent }
        }
    }
}

/// An order request performed by the task that placed it. Dropped before its answer (the
/// caller's future canceled), it is handed to the client's task, which reads the answer: an
/// order on its way is never forgotten.
struct Sending {
    shared: Arc<Shared>,
    id: RequestId,
    future: Option<BoxFuture<'static, Result<http::Response<bytes::Bytes>, TransportError>>>,
}

impl Sending {
    async fn answer(&mut self) -> Result<http::Response<bytes::Bytes>, TransportError> {
        let result = match self.future.as_mut() {
            Some(future) => future.await,
            None => Err(TransportError::Unanswered("answer already taken".to_owned())),
        };
        self.future = None;
        result
    }
}

impl Drop for Sending {
    fn drop(&mut self) {
        if let Some(future) = self.future.take() {
            // The task gone too means the client stopped; nothing waits for the answer then.
            let _ = self.shared.orphans.send((self.id, future));
            self.shared.wake.notify_one();
        }
        self.shared.direct.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// What `place` returns for the answer `order` to its order `id` without applying it first: a
/// single order the exchange acknowledged as `NEW` with nothing executed and no pegged price
/// (applying it moves no balance and changes nothing but the order's own state). `None` for
/// anything else.
fn acknowledged(id: ClientOrderId, order: &crate::rest::OrderResponse) -> Option<Placed> {
    let resting = order.client_order_id == id.as_str()
        && order.order_list_id == -1
        && order.status == Some(crate::model::OrderStatus::New)
        && order.executed_qty.is_none_or(|q| q.is_zero())
        && order.fills.is_empty()
        && order.pegged_price.is_none_or(|p| p.is_zero());
    resting.then_some(Placed { id, state: OrderState::New, order_id: Some(order.order_id) })
}

/// The tracker's view of order `id` as [`Client::place`] returns it.
fn placed(engine: &Engine, id: ClientOrderId) -> Placed {
    let view = engine.orders().get(&id);
    Placed { id, state: view.map_or(OrderState::PendingNew, |v| v.state), order_id: view.and_then(|v| v.order_id) }
}

/// What became of [`Client::amend`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Amended {
    /// The exchange reduced the order: its view with the new quantity, the difference released
    /// (or the order ended, the amend leaving nothing to fill).
    Done(OrderView),
    /// The exchange refused it (`-2038`, a filter, ...): nothing changed.
    Refused(crate::rest::ApiError),
    /// No answer: the client queries the order, and its quantity will tell (an
    /// [`ClientEvent::Engine`] order update follows).
    Unknown(OrderView),
    /// The rate limiter holds it back (a 429's back-off, a ban): the client's task sends it
    /// when allowed.
    Held(OrderView),
}

/// What [`Client::place_list`] knows when it returns: the list's client order id and each leg
/// (in the list's order: an OCO's above first, an OTO's working first), the exchange's answer applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacedList {
    /// The list's client order id (`listClientOrderId`).
    pub list: ClientOrderId,
    /// The legs, in the list's order.
    pub legs: Vec<Placed>,
}

fn placed_list(engine: &Engine, list: ClientOrderId) -> PlacedList {
    let legs = engine.orders().legs(&list).unwrap_or_default().iter().map(|id| placed(engine, *id)).collect();
    PlacedList { list, legs }
}

/// What [`Client::place`] knows when it returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placed {
    /// The order's client order id.
    pub id: ClientOrderId,
    /// Its state then: the exchange's answer (`New` for a resting order's acknowledgement, as
    /// the answer says; `PartiallyFilled`, `Filled`, `Rejected`, `Expired`, ... as applied),
    /// `PendingNew` for an order the rate limiter holds back (the client sends it when
    /// allowed), `Unknown` when the answer was lost (the client queries it).
    pub state: OrderState,
    /// The exchange's order id, once known.
    pub order_id: Option<u64>,
}

/// A handle on the running client. See the [module docs](self).
#[derive(Debug)]
pub struct Client {
    shared: Arc<Shared>,
    commands: mpsc::Sender<Command>,
    events: broadcast::Sender<ClientEvent>,
    first_reader: Mutex<Option<broadcast::Receiver<ClientEvent>>>,
    ledger: LedgerView,
    task: JoinHandle<()>,
}

/// The events of a client, in order. Readers that fall more than `event_capacity` behind lose
/// the oldest ([`missed`](Self::missed) counts them).
#[derive(Debug)]
pub struct Events {
    receiver: broadcast::Receiver<ClientEvent>,
    missed: u64,
}

impl Events {
    /// The next event; `None` once the client has stopped.
    pub async fn next(&mut self) -> Option<ClientEvent> {
        loop {
            match self.receiver.recv().await {
                Ok(event) => return Some(event),
                Err(broadcast::error::RecvError::Lagged(n)) => self.missed = self.missed.saturating_add(n),
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }

    /// The next event if one is waiting.
    pub fn try_next(&mut self) -> Option<ClientEvent> {
        loop {
            match self.receiver.try_recv() {
                Ok(event) => return Some(event),
                Err(broadcast::error::TryRecvError::Lagged(n)) => self.missed = self.missed.saturating_add(n),
                Err(_) => return None,
            }
        }
    }

    /// Events this reader lost by falling behind.
    #[must_use]
    pub fn missed(&self) -> u64 {
        self.missed
    }
}

impl Client {
    /// A client in one line: `Client::builder(Environment::Testnet).credentials_from_env()
    /// .connect().await?` (see [`ClientBuilder`]).
    pub fn builder(env: crate::rest::Environment) -> ClientBuilder {
        ClientBuilder::new(env)
    }

    /// Starts the client: syncs the time, loads the rules, the balances and the open orders,
    /// opens and subscribes the user-data connection; returns once all of that is done.
    ///
    /// # Errors
    /// [`ClientError::StartTimeout`] when start-up does not finish within `start_timeout` (the
    /// background task is stopped).
    pub async fn connect(
        config: ClientConfig,
        http: Arc<dyn HttpTransport>,
        ws: Arc<dyn WsTransport>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ClientError> {
        let (commands, inbox) = mpsc::channel(1024);
        let (events, first) = broadcast::channel(config.event_capacity.max(1));
        let (started, on_started) = oneshot::channel();
        let driver = driver::Driver::new(config, http, ws, clock, events.clone());
        let shared = driver.shared();
        let ledger = shared.engine().ledger();
        let task = tokio::spawn(driver.run(inbox, started));
        match on_started.await {
            Ok(Ok(())) => Ok(Self { shared, commands, events, first_reader: Mutex::new(Some(first)), ledger, task }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(ClientError::Stopped),
        }
    }

    /// The client's events. The first call gets every event since start-up; later calls get
    /// the events from then on.
    pub fn events(&self) -> Events {
        let first = self.first_reader.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        Events { receiver: first.unwrap_or_else(|| self.events.subscribe()), missed: 0 }
    }

    /// The account ledger (free / locked per asset), updated as orders trade.
    #[must_use]
    pub fn ledger(&self) -> &LedgerView {
        &self.ledger
    }

    async fn ask<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Result<T, ClientError> {
        let (reply, answer) = oneshot::channel();
        self.commands.send(make(reply)).await.map_err(|_| ClientError::Stopped)?;
        answer.await.map_err(|_| ClientError::Stopped)
    }

    /// Validates, reserves and sends an order, and returns once the exchange has answered (the
    /// answer applied to the order and the ledger); an order the rate limiter holds back
    /// returns at once as `PendingNew` and leaves when allowed. Later changes arrive as
    /// [`ClientEvent::Engine`] order updates (the acknowledgement among them).
    ///
    /// Called from a task of the runtime, `place` returns a resting order's acknowledgement
    /// (`NEW`, nothing executed: it moves no balance) as soon as it is read, and the engine's
    /// next step applies it first, whoever takes it (the client's task is woken for it):
    /// [`order`](Self::order), [`amend`](Self::amend), the ledger and every later step see it
    /// applied; its [`ClientEvent::Engine`] update is published by the client's task a moment
    /// later ([`ClientStats::read_ahead`] counts these). Any other answer (a fill, an expiry, an
    /// error, none), and every answer outside a task (`block_on`), is applied before `place`
    /// returns.
    ///
    /// Over REST the request leaves from the calling task and its answer is read there: no
    /// hand-over to the client's task on the way out or back. Dropping the returned future after
    /// the request left hands it to the client's task, which reads the answer. Over the
    /// WebSocket API ([`OrderChannel::WsApi`](crate::OrderChannel)) the client's task writes the
    /// frame and applies the answer, and `place` returns once it is applied (or once the order's
    /// outcome is known to be unknown: the connection lost, no answer in time; the client then
    /// queries it).
    ///
    /// # Errors
    /// [`ClientError::Submit`] when the engine refuses it (nothing was sent, nothing reserved);
    /// [`ClientError::Stopped`] once shutdown has begun.
    pub async fn place(&self, intent: Intent) -> Result<Placed, ClientError> {
        self.place_via(intent, false).await
    }

    /// [`place`](Self::place) through smart order routing
    /// ([`Engine::submit_sor`](crate::Engine::submit_sor): `POST /api/v3/sor/order` or
    /// `sor.order.place`): the order may fill by allocations from the other books of its
    /// symbol's SOR group, paid and received in its own assets.
    ///
    /// # Errors
    /// As [`place`](Self::place); [`ClientError::Submit`] with
    /// [`SubmitError::NotRoutable`] for an order SOR does not
    /// take.
    pub async fn place_sor(&self, intent: Intent) -> Result<Placed, ClientError> {
        self.place_via(intent, true).await
    }

    /// [`place`](Self::place), through SOR when `sor`.
    async fn place_via(&self, intent: Intent, sor: bool) -> Result<Placed, ClientError> {
        let shared = &self.shared;
        if !shared.accepting.load(Ordering::Acquire) {
            return Err(ClientError::Stopped);
        }
        let now = shared.clock.now_millis();
        let (id, request, held, over_ws) = {
            let mut engine = shared.engine();
            let submitted = if sor { engine.submit_sor(now, intent) } else { engine.submit(now, intent) };
            let id = match submitted {
                Ok(id) => id,
                Err(e) => {
                    let poke = shared.settle(&mut engine);
                    drop(engine);
                    if poke {
                        shared.wake.notify_one();
                    }
                    return Err(e.into());
                }
            };
            let span = shared.open_order_span(id, engine.orders().get(&id));
            let request = engine.take_request(&Purpose::Place(id));
            if request.is_some() {
                span.in_scope(|| tracing::debug!("sent from the caller's task"));
            }
            // The submit's events wait for the answer's (published together, in order), unless
            // the order is held back.
            // Sent over the WebSocket API (a frame the task writes): the task says when its answer
            // is applied (registered before the lock is released, so it cannot be missed).
            let over_ws =
                (request.is_none() && engine.is_in_flight(&Purpose::Place(id))).then(|| shared.await_answer(id));
            let held = match request {
                Some(_) => None,
                None => Some((placed(&engine, id), shared.settle(&mut engine))),
            };
            (id, request, held, over_ws)
        };
        let Some((request_id, request)) = request else {
            // Held back by the limiter: the task sends it when allowed (woken if its timer is
            // later than the order's turn). A frame for the WebSocket API: the task writes it.
            let (queued, poke) = held.unwrap_or((Placed { id, state: OrderState::PendingNew, order_id: None }, true));
            if poke {
                shared.wake.notify_one();
            }
            let Some(answered) = over_ws else { return Ok(queued) };
            // The task's channel closes only when the client stops.
            answered.await.map_err(|_| ClientError::Stopped)?;
            return Ok(placed(&shared.engine(), id));
        };
        let (sending, answer) = shared.send_direct(request_id, request).await;
        // Read here, before the engine's lock. A resting order's acknowledgement moves no
        // balance: the caller has it at once, and the engine's next step (whoever takes it; the
        // task is woken for it) applies it before anything else, so nothing reads the engine
        // without it. Only from a task of the runtime, where waking the client's task puts it
        // on a run queue: from `block_on` or another thread the wake-up is a system call that
        // can hand the core to the woken thread, which costs more than applying the answer
        // here (BENCHMARKS.md, session 20).
        let answer = answer.read_order();
        if let Some(acknowledged) = answer.order().and_then(|order| acknowledged(id, order))
            && tokio::task::try_id().is_some()
            && shared.accepting.load(Ordering::Acquire)
        {
            let now = shared.clock.now_millis();
            shared.read_ahead(now, request_id, answer);
            drop(sending);
            return Ok(acknowledged);
        }
        // Anything else (a fill, an error, no answer) is applied before `place` returns. The
        // order's events (its submit's, then its answer's) are published with the answer; the
        // task is woken only if the answer left it something to do (an unknown outcome's query,
        // a resync after -1021, ...).
        Ok(shared.apply_direct(sending, request_id, answer, |_| {}, |engine| placed(engine, id)))
    }

    /// Cancels order `cancel` and places `intent` in one request (Binance's cancel-replace;
    /// [`Engine::cancel_replace`](crate::Engine::cancel_replace) says how each answer is
    /// settled), from the calling task like [`place`](Self::place); returns the new order once
    /// the answer is applied (the old order's fate is in [`order`](Self::order) and the
    /// events). The new order's funds are reserved before the old order's come back.
    ///
    /// ```no_run
    /// # async fn run(client: &aegis_exchange::client::Client, old: aegis_exchange::ClientOrderId) -> Result<(), aegis_exchange::client::ClientError> {
    /// use aegis_exchange::rest::{CancelReplaceMode, CancelReplaceOptions};
    /// use aegis_exchange::{Intent, OrderRequest, Side};
    /// use rust_decimal_macros::dec;
    /// let better = Intent::new(OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.01), dec!(64100)));
    /// let placed = client.cancel_replace(&old, better, CancelReplaceOptions::new(CancelReplaceMode::StopOnFailure)).await?;
    /// println!("{} is {}", placed.id, placed.state);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`place`](Self::place); the old order unknown or not cancelable.
    pub async fn cancel_replace(
        &self,
        cancel: &ClientOrderId,
        intent: Intent,
        options: crate::rest::CancelReplaceOptions,
    ) -> Result<Placed, ClientError> {
        // An old order still queued was dropped: the new one went as a plain order.
        self.submit_direct(
            |engine, now| engine.cancel_replace(now, cancel, intent, options),
            |id| [Purpose::Replace(id), Purpose::Place(id)],
            placed,
        )
        .await
    }

    /// Reduces a working order's quantity to `new_qty` keeping its place in the queue
    /// (Binance's keep-priority amend), and returns once the exchange has answered, the answer
    /// applied: the difference of the funds is released. The request leaves from the calling
    /// task, like [`place`](Self::place)'s.
    ///
    /// ```no_run
    /// # async fn run(client: &aegis_exchange::client::Client, id: aegis_exchange::ClientOrderId) {
    /// use aegis_exchange::client::Amended;
    /// use rust_decimal_macros::dec;
    /// match client.amend(&id, dec!(0.005)).await {
    ///     Ok(Amended::Done(view)) => println!("now {} left", view.qty.unwrap_or_default()),
    ///     Ok(Amended::Refused(e)) => println!("refused: {e}"),
    ///     Ok(other) => println!("{other:?}"),
    ///     Err(e) => println!("not sent: {e}"),
    /// }
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`ClientError::Amend`] when the engine refuses it before sending (the symbol does not
    /// allow amends, `LOT_SIZE`, the order is not working or already being amended or canceled,
    /// not a reduction, too many amends); [`ClientError::Stopped`] once shutdown has begun.
    pub async fn amend(&self, id: &ClientOrderId, new_qty: rust_decimal::Decimal) -> Result<Amended, ClientError> {
        let shared = &self.shared;
        if !shared.accepting.load(Ordering::Acquire) {
            return Err(ClientError::Stopped);
        }
        let now = shared.clock.now_millis();
        let (request, held) = {
            let mut engine = shared.engine();
            let amended = engine.amend(now, id, new_qty);
            let request = amended.as_ref().ok().and_then(|()| engine.take_request(&Purpose::Amend(*id)));
            let poke = request.is_none() && shared.settle(&mut engine);
            let view = engine.orders().get(id).cloned();
            drop(engine);
            if poke {
                shared.wake.notify_one();
            }
            amended?;
            (request, view)
        };
        let Some((request_id, request)) = request else {
            // Held back by the limiter (a 429's back-off, a ban): the task sends it when allowed.
            return Ok(Amended::Held(held.ok_or(OrdersError::UnknownOrder(*id))?));
        };
        let mut refused = None;
        let see = |event: &Event| {
            if let Event::RequestFailed { purpose: Purpose::Amend(of), error } = event
                && of == id
            {
                refused = Some(error.clone());
            }
        };
        let view = shared.perform_direct(request_id, request, see, |engine| engine.orders().get(id).cloned()).await;
        let view = view.ok_or(OrdersError::UnknownOrder(*id))?;
        Ok(match refused {
            Some(error) if error.outcome() != crate::rest::Outcome::Unknown => Amended::Refused(error),
            _ if view.qty.is_some_and(|q| q <= new_qty) || view.state.is_terminal() => Amended::Done(view),
            _ => Amended::Unknown(view),
        })
    }

    /// Places an OCO: see [`place_list`](Self::place_list).
    ///
    /// # Errors
    /// As [`place`](Self::place).
    pub async fn place_oco(
        &self,
        oco: crate::model::OcoRequest,
        context: &crate::rules::MarketContext,
    ) -> Result<PlacedList, ClientError> {
        self.place_list(oco, context).await
    }

    /// Places an order list (an [`OcoRequest`](crate::OcoRequest) or an
    /// [`OtoRequest`](crate::OtoRequest): OTO, OTOCO, OPO, OPOCO): validated against the
    /// symbol's rules (`context`: the last price for an OCO's price relation, open orders and
    /// lists for the count filters), what Binance locks reserved (an OCO's legs once, an OTO's
    /// working order only), sent from the calling task like [`place`](Self::place)'s order;
    /// returns with the exchange's answer applied to each leg. The legs are orders of the client
    /// from then on ([`order`](Self::order), events, a [`cancel`](Self::cancel) of any cancels the
    /// list on the exchange); an OTO's pending orders are
    /// [`AwaitingTrigger`](crate::OrderState::AwaitingTrigger) until the exchange places them.
    ///
    /// ```no_run
    /// # async fn run(client: &aegis_exchange::client::Client) -> Result<(), aegis_exchange::client::ClientError> {
    /// use aegis_exchange::{ListLeg, MarketContext, OtoRequest, Side, TimeInForce};
    /// use rust_decimal_macros::dec;
    /// // Buy at 60000; once bought, take profit at 66000 or stop out at 57000.
    /// let entry = OtoRequest::otoco("BTCUSDT", Side::Buy, dec!(0.01), ListLeg::limit(dec!(60000), TimeInForce::Gtc),
    ///     Side::Sell, dec!(0.01), ListLeg::limit_maker(dec!(66000)), ListLeg::stop_loss(dec!(57000)));
    /// let placed = client.place_list(entry, &MarketContext::default().with_last_price(dec!(61000))).await?;
    /// println!("list {} with {} orders", placed.list, placed.legs.len());
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`place`](Self::place).
    pub async fn place_list(
        &self,
        list: impl Into<crate::model::ListRequest>,
        context: &crate::rules::MarketContext,
    ) -> Result<PlacedList, ClientError> {
        self.submit_direct(
            |engine, now| engine.submit_list(now, list, context),
            |id| [Purpose::PlaceList(id), Purpose::PlaceList(id)],
            placed_list,
        )
        .await
    }

    /// Submits through `submit` under the engine's lock, opens the span of each order it made,
    /// and sends the request (the first of `purposes` queued) from the calling task, returning
    /// `view` of the engine once its answer is applied; a request held back by the limiter
    /// returns at once and leaves from the client's task.
    async fn submit_direct<T>(
        &self,
        submit: impl FnOnce(&mut Engine, i64) -> Result<ClientOrderId, crate::SubmitError>,
        purposes: impl Fn(ClientOrderId) -> [Purpose; 2],
        view: impl Fn(&Engine, ClientOrderId) -> T,
    ) -> Result<T, ClientError> {
        let shared = &self.shared;
        if !shared.accepting.load(Ordering::Acquire) {
            return Err(ClientError::Stopped);
        }
        let now = shared.clock.now_millis();
        let (id, request, poke) = {
            let mut engine = shared.engine();
            let id = match submit(&mut engine, now) {
                Ok(id) => id,
                Err(e) => {
                    let poke = shared.settle(&mut engine);
                    drop(engine);
                    if poke {
                        shared.wake.notify_one();
                    }
                    return Err(e.into());
                }
            };
            for order in engine.orders().legs_or_self(&id) {
                shared.open_order_span(order, engine.orders().get(&order));
            }
            let request = purposes(id).iter().find_map(|p| engine.take_request(p));
            let poke = request.is_none() && shared.settle(&mut engine);
            (id, request, poke)
        };
        let Some((request_id, request)) = request else {
            if poke {
                shared.wake.notify_one();
            }
            return Ok(view(&shared.engine(), id));
        };
        Ok(shared.perform_direct(request_id, request, |_| {}, |engine| view(engine, id)).await)
    }

    /// Asks the exchange whether it would accept an order, without placing it
    /// (`POST /api/v3/order/test`; with `compute_commission_rates`, the rates it would pay):
    /// validated against the symbol's rules first, nothing reserved, through the client's gate
    /// (held like any request during a back-off or ban), sent from the calling task when it may
    /// leave at once.
    ///
    /// ```no_run
    /// # async fn run(client: &aegis_exchange::client::Client) -> Result<(), aegis_exchange::client::ClientError> {
    /// use aegis_exchange::{Intent, OrderRequest, Side, TestOutcome};
    /// use rust_decimal_macros::dec;
    /// let order = Intent::new(OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.01), dec!(60000)));
    /// if let TestOutcome::Accepted(Some(rates)) = client.test_order(order, true).await? {
    ///     println!("taker rate {}", rates.standard_commission_for_order.taker);
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`ClientError::Submit`] when the order fails the rules (nothing sent);
    /// [`ClientError::Stopped`].
    pub async fn test_order(
        &self,
        intent: Intent,
        compute_commission_rates: bool,
    ) -> Result<crate::engine::TestOutcome, ClientError> {
        use crate::engine::TestOutcome;
        let shared = &self.shared;
        if !shared.accepting.load(Ordering::Acquire) {
            return Err(ClientError::Stopped);
        }
        let now = shared.clock.now_millis();
        let (test, request, events, poke) = {
            let mut engine = shared.engine();
            let test = match engine.test_order(now, intent, compute_commission_rates) {
                Ok(test) => test,
                Err(e) => return Err(e.into()),
            };
            let request = engine.take_request(&Purpose::TestOrder(test));
            // Held back: its answer comes with the task's events, listened to from now on.
            let events = request.is_none().then(|| shared.events.subscribe());
            let poke = request.is_none() && shared.settle(&mut engine);
            (test, request, events, poke)
        };
        if poke {
            shared.wake.notify_one();
        }
        let is_ours = |e: &Event| match e {
            Event::OrderTested { test: t, outcome } if *t == test => Some(outcome.clone()),
            // Dropped before it left (heavier than a whole window): it will not be answered.
            Event::NotSent { purpose: Purpose::TestOrder(t), .. } if *t == test => Some(TestOutcome::NoAnswer),
            _ => None,
        };
        if let Some((request_id, request)) = request {
            let mut outcome = None;
            shared
                .perform_direct(request_id, request, |e| outcome = outcome.take().or_else(|| is_ours(e)), |_| ())
                .await;
            return Ok(outcome.unwrap_or(TestOutcome::NoAnswer));
        }
        let Some(mut events) = events else { return Ok(TestOutcome::NoAnswer) };
        loop {
            match events.recv().await {
                Ok(ClientEvent::Engine(e)) => {
                    if let Some(outcome) = is_ours(&e) {
                        return Ok(outcome);
                    }
                }
                Ok(_) => {}
                // So far behind that the answer was missed.
                Err(broadcast::error::RecvError::Lagged(_)) => return Ok(TestOutcome::NoAnswer),
                Err(broadcast::error::RecvError::Closed) => return Err(ClientError::Stopped),
            }
        }
    }

    /// Cancels an order.
    ///
    /// # Errors
    /// [`ClientError::Orders`] for an order the client does not track or one already ended.
    pub async fn cancel(&self, id: &ClientOrderId) -> Result<(), ClientError> {
        Ok(self.ask(|r| Command::Cancel(*id, r)).await??)
    }

    /// Cancels every open order on `symbol` (one request).
    ///
    /// # Errors
    /// [`ClientError::Stopped`].
    pub async fn cancel_all(&self, symbol: &str) -> Result<(), ClientError> {
        self.ask(|r| Command::CancelAll(symbol.to_owned(), r)).await
    }

    /// What the client knows of an order (`None`: not tracked).
    ///
    /// # Errors
    /// [`ClientError::Stopped`].
    pub async fn order(&self, id: &ClientOrderId) -> Result<Option<OrderView>, ClientError> {
        self.ask(|r| Command::Order(*id, r)).await
    }

    /// The orders open or in flight.
    ///
    /// # Errors
    /// [`ClientError::Stopped`].
    pub async fn open_orders(&self) -> Result<Vec<(ClientOrderId, OrderView)>, ClientError> {
        self.ask(Command::OpenOrders).await
    }

    /// Waits until the order has ended (filled, canceled, rejected, expired) or `timeout` passes;
    /// returns what the client knows of it then.
    ///
    /// # Errors
    /// [`ClientError::Stopped`].
    pub async fn wait_until_done(
        &self,
        id: &ClientOrderId,
        timeout: Duration,
    ) -> Result<Option<OrderView>, ClientError> {
        let mut events = self.events.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let view = self.order(id).await?;
            if view.as_ref().is_none_or(|v| v.state.is_terminal()) {
                return Ok(view);
            }
            match tokio::time::timeout_at(deadline, events.recv()).await {
                Err(_) => return Ok(view),
                Ok(Err(broadcast::error::RecvError::Closed)) => return Err(ClientError::Stopped),
                Ok(_) => {}
            }
        }
    }

    /// Trips the kill switch: nothing new is sent and every symbol with open orders is
    /// canceled.
    ///
    /// # Errors
    /// [`ClientError::Stopped`].
    pub async fn kill(&self, reason: &str) -> Result<(), ClientError> {
        self.ask(|r| Command::Kill(reason.to_owned(), r)).await
    }

    /// Resets the kill switch.
    ///
    /// # Errors
    /// [`ClientError::Stopped`].
    pub async fn reset_kill_switch(&self) -> Result<(), ClientError> {
        self.ask(Command::ResetKill).await
    }

    /// Checks the orders and the ledger against the exchange now.
    ///
    /// # Errors
    /// [`ClientError::Stopped`].
    pub async fn reconcile(&self) -> Result<(), ClientError> {
        self.ask(Command::Reconcile).await
    }

    /// Counters.
    ///
    /// # Errors
    /// [`ClientError::Stopped`].
    pub async fn stats(&self) -> Result<ClientStats, ClientError> {
        self.ask(Command::Stats).await
    }

    /// Drops the user-data connection as a network failure would; the client reconnects. For
    /// tests and drills.
    ///
    /// # Errors
    /// [`ClientError::Stopped`].
    pub async fn drop_connection(&self) -> Result<(), ClientError> {
        self.ask(Command::DropConnection).await
    }

    /// Stops the client: cancels or keeps the open orders ([`OnShutdown`]), waits for the
    /// answers (at most `shutdown_timeout`), closes the connection and ends the task.
    ///
    /// # Errors
    /// [`ClientError::Stopped`] if the task had already ended.
    pub async fn shutdown(self) -> Result<ShutdownReport, ClientError> {
        let report = self.ask(Command::Shutdown).await;
        let _ = self.task.await;
        report
    }
}

#[cfg(test)]
mod tests {
    use super::Backoff;
    use std::time::Duration;

    #[test]
    fn backoff_doubles_within_half_to_full_and_stops_at_the_cap() {
        let b = Backoff { initial: Duration::from_millis(100), max: Duration::from_secs(2), seed: 1 };
        for (attempt, full) in [(0u32, 100u64), (1, 200), (2, 400), (3, 800), (4, 1600), (5, 2000), (40, 2000)] {
            let delays: Vec<u64> = (0..64u64)
                .map(|r| u64::try_from(b.delay(attempt, r.wrapping_mul(0x9e37_79b9_7f4a_7c15)).as_millis()).unwrap())
                .collect();
            assert!(delays.iter().all(|d| (full / 2..=full).contains(d)), "attempt {attempt}: {delays:?}");
            // Jitter: not all the same.
            assert!(delays.iter().any(|d| *d != delays[0]), "attempt {attempt}: no jitter");
        }
    }
}
