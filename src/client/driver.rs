//! The task behind [`Client`](super::Client): owns the engine, awaits everything, never blocks.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::stream::FuturesUnordered;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::task::JoinHandle;

use super::{ClientConfig, ClientError, ClientEvent, ClientStats, Command, OnShutdown, Orphan, Shared, ShutdownReport};
use crate::clock::Clock;
use crate::conn::CloseReason;
use crate::engine::{Engine, Event, KillReason, Output, Purpose, RequestId};
use crate::rules::ExchangeInfo;
use crate::transport::{BoxFuture, HttpTransport, TransportError, WsConnection, WsMessage, WsTransport};

type HttpDone = (RequestId, Result<http::Response<bytes::Bytes>, TransportError>);

/// An open user-data connection.
struct Live {
    conn: WsConnection,
}

/// What woke the driver.
enum Wake {
    Command(Option<Command>),
    Http(HttpDone),
    /// A request whose caller went away before its answer: this task finishes it.
    Orphan(Orphan),
    /// A handle changed the engine (an order sent from its own task): drain the outputs.
    Poked,
    Frame(Option<Result<WsMessage, TransportError>>),
    Connected(Result<Result<WsConnection, TransportError>, tokio::task::JoinError>),
    Tick,
}

struct Stopping {
    deadline: i64,
    reply: Option<oneshot::Sender<ShutdownReport>>,
    canceled_symbols: Vec<String>,
}

/// The client's settings without the engine's (which the engine owns, the user-data connection's
/// policy included).
struct Settings {
    on_shutdown: OnShutdown,
    start_timeout: Duration,
    shutdown_timeout: Duration,
    ws_url: String,
}

pub(super) struct Driver {
    shared: Arc<Shared>,
    orphans: mpsc::UnboundedReceiver<Orphan>,
    config: Settings,
    ws: Arc<dyn WsTransport>,
    events: broadcast::Sender<ClientEvent>,
    live: Option<Live>,
    /// The connection a new one replaced, until the engine says to close it.
    retiring: Option<Live>,
    connecting: Option<JoinHandle<Result<WsConnection, TransportError>>>,
    opened: u64,
    /// The requests on their way, polled by this task itself: an answer is read and handled
    /// where it lands, with no hand-over to another task (each one a wake-up across threads on a
    /// multi-thread runtime).
    in_flight: FuturesUnordered<BoxFuture<'static, HttpDone>>,
    /// The buffer `drain` moves the engine's outputs through.
    outputs: Vec<Output>,
    next_timeout: i64,
    stats: ClientStats,
    stopping: Option<Stopping>,
    /// Start-up's reads were refused for the credentials.
    refused: Option<crate::rest::ApiError>,
}

/// Far enough to mean "no deadline" without overflowing a `Duration`.
const IDLE_WAKE_MS: i64 = 3_600_000;
/// A connect that takes longer fails (and the engine's policy backs off).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

impl Driver {
    pub(super) fn new(
        mut config: ClientConfig,
        http: Arc<dyn HttpTransport>,
        ws: Arc<dyn WsTransport>,
        clock: Arc<dyn Clock>,
        events: broadcast::Sender<ClientEvent>,
    ) -> Self {
        // The connection policy is the engine's (sans-IO timers); the driver only performs it.
        config.engine.connection = crate::conn::ConnectionConfig {
            backoff: config.reconnect,
            idle_timeout_ms: Some(ms(config.idle_timeout)),
            max_age_ms: Some(ms(config.max_connection_age)),
        };
        let settings = Settings {
            on_shutdown: config.on_shutdown,
            start_timeout: config.start_timeout,
            shutdown_timeout: config.shutdown_timeout,
            ws_url: config.engine.env.ws_api_url().to_owned(),
        };
        let request_timeout = Duration::from_millis(u64::try_from(config.engine.request_timeout_ms).unwrap_or(12_000));
        let engine = Engine::new(config.engine, ExchangeInfo::default());
        let (orphaned, orphans) = mpsc::unbounded_channel();
        // The transport and the clock live in `Shared` only: the handle's `place` uses them too.
        let shared = Arc::new(Shared::new(engine, http, clock, request_timeout, orphaned, events.clone()));
        let config = settings;
        Self {
            shared,
            orphans,
            config,
            ws,
            events,
            live: None,
            retiring: None,
            connecting: None,
            opened: 0,
            in_flight: FuturesUnordered::new(),
            outputs: Vec::new(),
            next_timeout: i64::MAX,
            stats: ClientStats::default(),
            stopping: None,
            refused: None,
        }
    }

    pub(super) fn shared(&self) -> Arc<Shared> {
        Arc::clone(&self.shared)
    }

    /// The engine, locked for one step (never across an `.await`).
    fn engine(&self) -> std::sync::MutexGuard<'_, Engine> {
        self.shared.engine()
    }

    fn now(&self) -> i64 {
        self.shared.clock.now_millis()
    }

    fn publish(&mut self, event: ClientEvent) {
        // Nobody listening is fine; a lagging reader counts its own losses (`Events::missed`).
        let _ = self.events.send(event);
    }

    fn start_connect(&mut self) {
        if self.connecting.is_some() || self.stopping.is_some() {
            return;
        }
        let url = self.config.ws_url.clone();
        tracing::debug!(%url, "connecting the user-data stream");
        let connect = self.ws.connect(&url);
        self.connecting = Some(tokio::spawn(async move {
            match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
                Ok(result) => result,
                Err(_) => Err(TransportError::NotSent("connect timed out".to_owned())),
            }
        }));
    }

    fn disconnected(&mut self, now: i64, reason: String) {
        if self.live.take().is_none() {
            return;
        }
        tracing::warn!(%reason, "user-data stream lost");
        // The engine's policy asks for the next connection after its back-off.
        self.engine().handle_ws_closed(now);
        self.publish(ClientEvent::Disconnected { reason });
    }

    async fn on_connected(&mut self, now: i64, result: Result<WsConnection, TransportError>) {
        match result {
            Ok(conn) => {
                // Make before break: the old connection (if any) is closed when the engine says.
                if let Some(old) = self.live.replace(Live { conn })
                    && let Some(mut older) = self.retiring.replace(old)
                {
                    let _ = older.conn.sink.send(WsMessage::Close(None)).await;
                }
                if self.opened > 0 {
                    self.stats.reconnects = self.stats.reconnects.saturating_add(1);
                }
                let reconnects = self.opened;
                self.opened = self.opened.saturating_add(1);
                tracing::info!(reconnects, "user-data stream open");
                self.engine().handle_ws_open(now);
                self.publish(ClientEvent::Connected { reconnects });
            }
            Err(e) => {
                tracing::warn!(error = %e, "user-data stream connect failed");
                self.stats.transport_failures = self.stats.transport_failures.saturating_add(1);
                self.engine().handle_ws_connect_failed(now);
            }
        }
    }

    /// Moves the engine's outputs up to its next timer into `outputs` and publishes its events
    /// (the lock held for that step only: events are published under it, so in the engine's
    /// order whoever takes them out).
    fn take_outputs(&mut self, outputs: &mut Vec<Output>) {
        let mut engine = self.shared.engine();
        loop {
            match engine.poll_output() {
                Output::Timeout(at) => {
                    self.next_timeout = at;
                    self.shared.armed.store(at, Ordering::Release);
                    self.shared.tell_answered(&engine);
                    return;
                }
                Output::Event(event) => {
                    if let Event::RequestFailed { purpose: Purpose::Snapshot | Purpose::Adopt, error } = &event
                        && engine.is_starting()
                        && error.outcome() == crate::rest::Outcome::Auth
                    {
                        self.refused.get_or_insert_with(|| error.clone());
                    }
                    self.shared.publish_event(event);
                }
                output => outputs.push(output),
            }
        }
    }

    /// Drains the engine's outputs: requests go out, frames are written, events published.
    async fn drain(&mut self) {
        let timeout = self.shared.request_timeout;
        // One buffer for the task's life: no allocation per wake-up.
        let mut outputs = std::mem::take(&mut self.outputs);
        loop {
            self.take_outputs(&mut outputs);
            if outputs.is_empty() {
                break;
            }
            for output in outputs.drain(..) {
                self.perform(output, timeout).await;
            }
        }
        self.outputs = outputs;
    }

    async fn perform(&mut self, output: Output, timeout: Duration) {
        match output {
            Output::Http { id, request } => {
                self.stats.requests = self.stats.requests.saturating_add(1);
                tracing::trace!(method = %request.method(), path = request.uri().path(), "request");
                let sending = self.shared.http.send(request, timeout);
                self.in_flight.push(Box::pin(async move { (id, sending.await) }));
            }
            Output::Ws { text } => {
                let Some(live) = self.live.as_mut() else {
                    // The engine subscribes again when a connection opens.
                    return;
                };
                if let Err(e) = live.conn.sink.send(WsMessage::Text(text.into())).await {
                    let now = self.now();
                    self.disconnected(now, format!("write failed: {e}"));
                }
            }
            Output::WsConnect => self.start_connect(),
            Output::WsClose(reason) => {
                let closing = match reason {
                    CloseReason::Replaced => self.retiring.take(),
                    CloseReason::Idle => self.live.take(),
                };
                if let Some(mut closing) = closing {
                    let close = closing.conn.sink.send(WsMessage::Close(None));
                    let _ = tokio::time::timeout(Duration::from_secs(1), close).await;
                }
                if reason == CloseReason::Idle {
                    let reason = "no frame within the idle timeout".to_owned();
                    tracing::warn!(%reason, "user-data stream lost");
                    self.publish(ClientEvent::Disconnected { reason });
                }
            }
            // Published by `take_outputs`, under the engine's lock.
            Output::Event(event) => self.shared.publish_event(event),
            // Taken by `take_outputs`.
            Output::Timeout(at) => self.next_timeout = at,
        }
    }

    fn wake_at(&self, now: i64) -> i64 {
        let mut at = self.next_timeout.min(now.saturating_add(IDLE_WAKE_MS));
        if let Some(s) = &self.stopping {
            at = at.min(s.deadline);
        }
        at
    }

    fn on_tick(&mut self, now: i64) {
        if now >= self.next_timeout {
            self.engine().handle_timeout(now);
        }
    }

    fn on_frame(&mut self, now: i64, frame: Option<Result<WsMessage, TransportError>>) {
        match frame {
            Some(Ok(message)) => match message {
                WsMessage::Text(text) => {
                    self.stats.frames = self.stats.frames.saturating_add(1);
                    // Decoded before the engine is locked: the lock covers only applying it.
                    let decoded = crate::ws_api::WsFrame::decode(&text);
                    self.engine().handle_ws_decoded(now, decoded, text.len());
                }
                WsMessage::Close(frame) => self.disconnected(now, format!("closed by the server: {frame:?}")),
                WsMessage::Ping(_) | WsMessage::Pong(_) => self.engine().handle_ws_ping(now),
            },
            Some(Err(e)) => self.disconnected(now, e.to_string()),
            None => self.disconnected(now, "connection ended".to_owned()),
        }
    }

    fn on_http(&mut self, now: i64, (id, result): HttpDone) {
        if result.is_err() {
            self.stats.transport_failures = self.stats.transport_failures.saturating_add(1);
        }
        let result = super::http_result(result);
        self.engine().handle_http_response(now, id, result);
    }

    fn open_orders(&self) -> Vec<(crate::model::ClientOrderId, crate::orders::OrderView)> {
        let mut open: Vec<_> = self.engine().orders().open().map(|(id, v)| (*id, v.clone())).collect();
        open.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
        open
    }

    fn on_command(&mut self, now: i64, command: Command) {
        match command {
            Command::Cancel(id, reply) => {
                let _ = reply.send(self.engine().cancel(now, &id));
            }
            Command::CancelAll(symbol, reply) => {
                self.engine().cancel_all(now, &symbol);
                let _ = reply.send(());
            }
            Command::Order(id, reply) => {
                let view = self.engine().orders().get(&id).cloned();
                let _ = reply.send(view);
            }
            Command::OpenOrders(reply) => {
                let _ = reply.send(self.open_orders());
            }
            Command::Kill(reason, reply) => {
                self.engine().kill(now, KillReason::Manual(reason));
                let _ = reply.send(());
            }
            Command::ResetKill(reply) => {
                self.engine().reset_kill_switch();
                let _ = reply.send(());
            }
            Command::Reconcile(reply) => {
                self.engine().reconcile(now);
                let _ = reply.send(());
            }
            Command::Stats(reply) => {
                let mut stats = self.stats.clone();
                let direct = &self.shared.direct;
                stats.requests = stats.requests.saturating_add(direct.requests.load(Ordering::Relaxed));
                stats.transport_failures =
                    stats.transport_failures.saturating_add(direct.failures.load(Ordering::Relaxed));
                stats.read_ahead = direct.read_ahead.load(Ordering::Relaxed);
                stats.connected = self.live.is_some();
                stats.in_flight = self.in_flight.len();
                stats.open_orders = self.engine().orders().open().count();
                stats.kill_switch = self.engine().kill_switch().cloned();
                let _ = reply.send(stats);
            }
            Command::DropConnection(reply) => {
                self.disconnected(now, "dropped on request".to_owned());
                let _ = reply.send(());
            }
            Command::Shutdown(reply) => self.begin_shutdown(now, Some(reply)),
        }
    }

    fn begin_shutdown(&mut self, now: i64, reply: Option<oneshot::Sender<ShutdownReport>>) {
        if self.stopping.is_some() {
            return;
        }
        let mut canceled_symbols = Vec::new();
        if self.config.on_shutdown == OnShutdown::CancelAll {
            canceled_symbols = self.open_orders().into_iter().map(|(_, v)| v.symbol).collect();
            canceled_symbols.sort();
            canceled_symbols.dedup();
            for symbol in &canceled_symbols {
                self.engine().cancel_all(now, symbol);
            }
        }
        tracing::info!(?canceled_symbols, "shutting down");
        self.shared.accepting.store(false, Ordering::Release);
        self.engine().stop_connecting();
        let deadline = now.saturating_add(ms(self.config.shutdown_timeout));
        self.stopping = Some(Stopping { deadline, reply, canceled_symbols });
    }

    /// Whether shutdown is complete (answers in, orders settled, or the deadline passed).
    fn shutdown_done(&self, now: i64) -> bool {
        let Some(s) = &self.stopping else { return false };
        let settled = self.config.on_shutdown == OnShutdown::KeepOrders
            || self.engine().orders().open().all(|(_, v)| !s.canceled_symbols.contains(&v.symbol));
        // Nothing in flight and nothing the engine means to do before the deadline (a cancel the
        // limiter refused during a ban, say): waiting longer changes nothing.
        let stalled = self.next_timeout > s.deadline;
        let idle = self.in_flight.is_empty() && self.shared.direct.in_flight.load(Ordering::Acquire) == 0;
        now >= s.deadline || ((settled || stalled) && idle)
    }

    async fn finish(&mut self) {
        self.shared.accepting.store(false, Ordering::Release);
        let left_open = self.open_orders();
        for mut open in [self.live.take(), self.retiring.take()].into_iter().flatten() {
            let close = open.conn.sink.send(WsMessage::Close(Some((1000, "client shutting down".to_owned()))));
            let _ = tokio::time::timeout(Duration::from_secs(1), close).await;
        }
        if let Some(connecting) = self.connecting.take() {
            connecting.abort();
        }
        // Dropping a request on its way is what a shutdown does (its outcome no longer matters).
        self.in_flight.clear();
        self.shared.tell_all_answered(&self.shared.engine());
        if let Some(stopping) = self.stopping.take() {
            let report = ShutdownReport { canceled_symbols: stopping.canceled_symbols, left_open };
            if let Some(reply) = stopping.reply {
                let _ = reply.send(report);
            }
        }
    }

    pub(super) async fn run(
        mut self,
        mut commands: mpsc::Receiver<Command>,
        started: oneshot::Sender<Result<(), ClientError>>,
    ) {
        let mut started = Some(started);
        let start_deadline = self.now().saturating_add(ms(self.config.start_timeout));
        let now = self.now();
        // Start-up and the first user-data connection (Output::WsConnect).
        self.engine().start(now);
        loop {
            self.drain().await;
            let now = self.now();
            if let Some(reply) = started.take_if(|_| !self.engine().is_starting() && self.live.is_some()) {
                let _ = reply.send(Ok(()));
            } else if let Some(error) = self.refused.take().filter(|_| started.is_some()) {
                if let Some(reply) = started.take() {
                    let _ = reply.send(Err(ClientError::Credentials(error)));
                }
                self.begin_shutdown(now, None);
                self.finish().await;
                return;
            } else if started.is_some() && now >= start_deadline {
                let why = if self.engine().is_starting() {
                    "the account snapshot is not in"
                } else {
                    "no user-data connection"
                };
                if let Some(reply) = started.take() {
                    let _ = reply.send(Err(ClientError::StartTimeout(self.config.start_timeout, why.to_owned())));
                }
                self.begin_shutdown(now, None);
                self.finish().await;
                return;
            }
            if self.shutdown_done(now) {
                self.finish().await;
                return;
            }
            let mut wake = self.wake_at(now);
            if started.is_some() {
                wake = wake.min(start_deadline);
            }
            let sleep = tokio::time::sleep(Duration::from_millis(u64::try_from(wake.saturating_sub(now)).unwrap_or(0)));
            // In this order: an answer (or a user's command) never waits behind more than the one
            // user-data frame being handled, however fast frames arrive.
            let woke = tokio::select! {
                biased;
                Some(done) = self.in_flight.next(), if !self.in_flight.is_empty() => Wake::Http(done),
                // Before commands: a command sees a request its caller dropped as in flight.
                Some(orphan) = self.orphans.recv() => Wake::Orphan(orphan),
                command = commands.recv(), if self.stopping.is_none() => Wake::Command(command),
                () = self.shared.wake.notified() => Wake::Poked,
                frame = next_frame(&mut self.live) => Wake::Frame(frame),
                connected = connected(&mut self.connecting) => Wake::Connected(connected),
                () = sleep => Wake::Tick,
            };
            let now = self.now();
            match woke {
                Wake::Command(Some(command)) => self.on_command(now, command),
                // Every handle is gone: stop as configured.
                Wake::Command(None) => self.begin_shutdown(now, None),
                Wake::Http(done) => self.on_http(now, done),
                Wake::Orphan((id, sending)) => {
                    self.in_flight.push(Box::pin(async move { (id, sending.await) }));
                }
                // The engine's outputs are drained at the top of the loop.
                Wake::Poked => {}
                Wake::Frame(frame) => {
                    self.on_frame(now, frame);
                    // Frames come in bursts, each ready at once, so nothing here would yield
                    // before tokio's budget runs out (a hundred frames or more). A task of the
                    // user's woken on this worker (an order's answer just read) runs now, after
                    // one frame, not after the burst.
                    tokio::task::yield_now().await;
                }
                Wake::Connected(result) => {
                    self.connecting = None;
                    let result = result.unwrap_or_else(|e| Err(TransportError::NotSent(e.to_string())));
                    self.on_connected(now, result).await;
                }
                Wake::Tick => self.on_tick(now),
            }
        }
    }
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

async fn next_frame(live: &mut Option<Live>) -> Option<Result<WsMessage, TransportError>> {
    match live {
        Some(live) => live.conn.stream.next().await,
        None => std::future::pending().await,
    }
}

async fn connected(
    connecting: &mut Option<JoinHandle<Result<WsConnection, TransportError>>>,
) -> Result<Result<WsConnection, TransportError>, tokio::task::JoinError> {
    match connecting {
        Some(handle) => handle.await,
        None => std::future::pending().await,
    }
}
