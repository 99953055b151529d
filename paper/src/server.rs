//! The paper exchange on real sockets (feature `server`): an HTTP/1.1 server (hyper) and a
//! WebSocket server (tokio-tungstenite) on 127.0.0.1, on ephemeral ports or the ones given
//! ([`ServerConfig`]), in front of one shared
//! [`PaperExchange`], so real HTTP and WebSocket clients (the crate's backends included) can be
//! tested against Binance's behaviour offline.
//!
//! Requests go through [`PaperExchange::deliver`], so the configured and injected faults happen
//! on the wire: a dropped request or a lost answer closes the connection without a response, a
//! latency delays the answer. WebSocket connections are served by
//! [`ws_connect`](PaperExchange::ws_connect) / [`ws_send`](PaperExchange::ws_send) /
//! [`ws_poll`](PaperExchange::ws_poll); a server-side close ends the socket.
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! use aegis_paper::{PaperConfig, PaperExchange, server::PaperServer};
//! let exchange = PaperExchange::new(PaperConfig::default(), 1_760_000_000_000);
//! let server = PaperServer::start(exchange).await?;
//! println!("REST at {}, streams at {}/ws", server.http_url(), server.ws_url());
//! server.shutdown().await;
//! # Ok(()) }
//! ```

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use super::{Delivery, PaperExchange, WsOut, lock};
use crate::latency::{LatencyProfile, LatencySampler};
use aegis_exchange::{Clock, SystemClock};

/// The largest request head and body the server reads (a larger head gets hyper's 431, a
/// larger body a 413).
const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 1024 * 1024;
/// A request head that takes longer ends the connection (an idle keep-alive connection too).
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// How often a WebSocket connection looks for frames (and lets the market walk).
const POLL: Duration = Duration::from_millis(5);
/// How long shutdown lets connections close cleanly before it aborts what is left (a peer that
/// never reads, a handshake that never ends).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// A WebSocket handshake that takes longer is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Where a [`PaperServer`] listens and how its market data is delayed.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// The HTTP (REST) address; port 0: an ephemeral one (default `127.0.0.1:0`).
    pub http: SocketAddr,
    /// The WebSocket address (streams and the WebSocket API); port 0: an ephemeral one.
    pub ws: SocketAddr,
    /// How late market-stream frames leave, after the market event (`None`: as soon as the
    /// connection's next poll, within 5 ms). Frames of one connection keep their order, as
    /// on a TCP connection. WebSocket-API answers and user data are not delayed by it (the
    /// exchange's own [`FaultConfig`](crate::FaultConfig) latency delays answers).
    pub market_latency: Option<LatencyProfile>,
    /// The seed of the latency draws.
    pub seed: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        let loopback = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        Self { http: loopback, ws: loopback, market_latency: None, seed: 1 }
    }
}

/// A running loopback server. Dropping it stops it too, without waiting.
#[derive(Debug)]
pub struct PaperServer {
    exchange: Arc<Mutex<PaperExchange>>,
    http: SocketAddr,
    ws: SocketAddr,
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

impl PaperServer {
    /// Starts serving `exchange` on two ephemeral ports of 127.0.0.1, with the system clock.
    ///
    /// # Errors
    /// The `bind` error, if any.
    pub async fn start(exchange: PaperExchange) -> std::io::Result<Self> {
        Self::start_with_clock(exchange, Arc::new(SystemClock)).await
    }

    /// Starts serving `exchange`, reading the time from `clock`.
    ///
    /// # Errors
    /// The `bind` error, if any.
    pub async fn start_with_clock(exchange: PaperExchange, clock: Arc<dyn Clock>) -> std::io::Result<Self> {
        Self::start_with(exchange, ServerConfig::default(), clock).await
    }

    /// Starts serving `exchange` where `config` says, reading the time from `clock`.
    ///
    /// # Errors
    /// The `bind` error, if any (an address in use, a port that needs privileges).
    pub async fn start_with(
        exchange: PaperExchange,
        config: ServerConfig,
        clock: Arc<dyn Clock>,
    ) -> std::io::Result<Self> {
        let http_listener = TcpListener::bind(config.http).await?;
        let ws_listener = TcpListener::bind(config.ws).await?;
        let (http, ws) = (http_listener.local_addr()?, ws_listener.local_addr()?);
        let exchange = Arc::new(Mutex::new(exchange));
        let (stop, stopped) = watch::channel(false);
        let mut tasks = JoinSet::new();
        let latency = config.market_latency.map(|profile| (profile, config.seed));
        tasks.spawn(accept(http_listener, Arc::clone(&exchange), Arc::clone(&clock), stopped.clone(), None));
        tasks.spawn(accept(ws_listener, Arc::clone(&exchange), clock, stopped, Some(latency)));
        tracing::info!(%http, %ws, "paper exchange listening");
        Ok(Self { exchange, http, ws, stop, tasks })
    }

    /// The REST base URL (`http://127.0.0.1:<port>`).
    #[must_use]
    pub fn http_url(&self) -> String {
        format!("http://{}", self.http)
    }

    /// The WebSocket base URL (`ws://127.0.0.1:<port>`): streams at `/ws` and `/stream`, the
    /// WebSocket API at `/ws-api/v3`.
    #[must_use]
    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.ws)
    }

    /// The HTTP server's address.
    #[must_use]
    pub fn http_addr(&self) -> SocketAddr {
        self.http
    }

    /// The WebSocket server's address.
    #[must_use]
    pub fn ws_addr(&self) -> SocketAddr {
        self.ws
    }

    /// The exchange behind the server (to deposit, move prices, inject faults).
    #[must_use]
    pub fn exchange(&self) -> Arc<Mutex<PaperExchange>> {
        Arc::clone(&self.exchange)
    }

    /// Stops accepting, closes every connection and waits until all of them are gone, for
    /// 2 seconds at most: whatever is still open then (an idle or half-open socket, a
    /// handshake that never completes, a peer that never reads) is aborted. Returns within
    /// that bound whatever the connections do.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        let drained = async { while self.tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(SHUTDOWN_GRACE, drained).await.is_err() {
            // Dropping the accept tasks drops their connection sets, which aborts every
            // connection task.
            self.tasks.abort_all();
            while self.tasks.join_next().await.is_some() {}
        }
    }
}

/// Accepts connections until the stop; `websocket`: `Some(market latency and its seed)` on
/// the WebSocket port, `None` on the HTTP port.
async fn accept(
    listener: TcpListener,
    exchange: Arc<Mutex<PaperExchange>>,
    clock: Arc<dyn Clock>,
    mut stopped: watch::Receiver<bool>,
    websocket: Option<Option<(LatencyProfile, u64)>>,
) {
    let mut connections = JoinSet::new();
    let mut accepted_count: u64 = 0;
    loop {
        tokio::select! {
            _ = stopped.changed() => break,
            accepted = listener.accept() => {
                let Ok((stream, peer)) = accepted else { continue };
                accepted_count += 1;
                tracing::debug!(%peer, websocket = websocket.is_some(), "connection accepted");
                let (exchange, clock, stopped) = (Arc::clone(&exchange), Arc::clone(&clock), stopped.clone());
                if let Some(latency) = websocket {
                    // Each connection draws its own latencies (seed and connection number).
                    let sampler = latency.map(|(profile, seed)| LatencySampler::new(profile, seed ^ accepted_count));
                    connections.spawn(serve_ws(stream, exchange, clock, stopped, sampler));
                } else {
                    connections.spawn(serve_http(stream, exchange, clock, stopped));
                }
            }
            // Reap finished connections so the set stays small.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
}

/// Why a request got no answer: the fault said so (the connection ends without a response,
/// as a lost request or a lost answer looks from the client).
#[derive(Debug)]
struct NoAnswer;

impl std::fmt::Display for NoAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("no answer (a fault)")
    }
}

impl std::error::Error for NoAnswer {}

/// One request through the exchange's faults; `Err` closes the connection without an answer.
async fn answer(
    request: http::Request<Incoming>,
    exchange: Arc<Mutex<PaperExchange>>,
    clock: Arc<dyn Clock>,
) -> Result<http::Response<Full<Bytes>>, NoAnswer> {
    let (parts, body) = request.into_parts();
    // hyper reads the framing (Content-Length, chunked); the body is capped.
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => {
            let reply = r#"{"code":-1000,"msg":"Request body too large."}"#;
            let mut response = http::Response::new(Full::new(Bytes::from_static(reply.as_bytes())));
            *response.status_mut() = http::StatusCode::PAYLOAD_TOO_LARGE;
            return Ok(response);
        }
        // The client went away mid-body.
        Err(_) => return Err(NoAnswer),
    };
    let (method, path) = (parts.method.clone(), parts.uri.path().to_owned());
    let delivery = lock(&exchange).deliver(clock.now_millis(), http::Request::from_parts(parts, body));
    match delivery {
        // Nothing arrived, or the answer was lost: the client sees the connection end.
        Delivery::Dropped | Delivery::Lost => {
            tracing::debug!(%method, path, "request dropped or its answer lost (fault)");
            Err(NoAnswer)
        }
        Delivery::Answer { response, latency_ms } => {
            tracing::debug!(%method, path, status = response.status().as_u16(), latency_ms, "request");
            if latency_ms > 0 {
                tokio::time::sleep(Duration::from_millis(latency_ms)).await;
            }
            Ok(response.map(Full::new))
        }
    }
}

/// One HTTP/1.1 connection, served by hyper (framing, keep-alive, pipelining; a malformed
/// request gets hyper's 400 and the connection ends) until the client leaves or the server stops.
async fn serve_http(
    stream: TcpStream,
    exchange: Arc<Mutex<PaperExchange>>,
    clock: Arc<dyn Clock>,
    mut stopped: watch::Receiver<bool>,
) {
    let service = service_fn(move |request| answer(request, Arc::clone(&exchange), Arc::clone(&clock)));
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .max_header_size(MAX_HEAD)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    tokio::select! {
        _ = connection.as_mut() => {}
        _ = stopped.changed() => {
            // Answers in progress finish; the connection closes after them (bounded).
            connection.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(SHUTDOWN_GRACE / 2, connection).await;
        }
    }
}

async fn serve_ws(
    stream: TcpStream,
    exchange: Arc<Mutex<PaperExchange>>,
    clock: Arc<dyn Clock>,
    mut stopped: watch::Receiver<bool>,
    mut latency: Option<LatencySampler>,
) {
    // The path decides what the connection is; an unknown one is refused in the handshake.
    let mut conn = None;
    let mut market = false;
    // tungstenite's callback signature returns its own (large) `ErrorResponse`.
    #[allow(clippy::result_large_err)]
    let check = |request: &Request, response: Response| -> Result<Response, ErrorResponse> {
        let path = request.uri().path_and_query().map_or("/", |p| p.as_str());
        match lock(&exchange).ws_connect(clock.now_millis(), path) {
            Ok(id) => {
                tracing::debug!(path, "websocket opened");
                conn = Some(id);
                market = !request.uri().path().starts_with("/ws-api");
                Ok(response)
            }
            Err(e) => {
                tracing::debug!(path, error = %e, "websocket refused");
                let mut refusal = ErrorResponse::new(Some(e.to_string()));
                *refusal.status_mut() = http::StatusCode::NOT_FOUND;
                Err(refusal)
            }
        }
    };
    // An idle or half-open socket never finishes its handshake: it must not outlive a shutdown.
    let handshake = tokio::select! {
        _ = stopped.changed() => return,
        handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, tokio_tungstenite::accept_hdr_async(stream, check)) => handshake,
    };
    let (Ok(Ok(mut socket)), Some(conn)) = (handshake, conn) else {
        if let Some(conn) = conn {
            lock(&exchange).ws_close(conn);
        }
        return;
    };
    // Only market streams are delayed; their frames wait here until due, in order.
    if !market {
        latency = None;
    }
    let mut delayed: Delayed = VecDeque::new();
    let mut ticker = tokio::time::interval(POLL);
    loop {
        let next_due = delayed.front().map(|(due, _)| *due);
        tokio::select! {
            _ = stopped.changed() => {
                // A peer that does not read cannot hold the shutdown up.
                let close = socket.close(Some(CloseFrame { code: CloseCode::Away, reason: "server shutting down".into() }));
                let _ = tokio::time::timeout(SHUTDOWN_GRACE / 2, close).await;
                break;
            }
            incoming = socket.next() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    // The answer (and whatever else is due) leaves now, not at the next tick.
                    let frames = {
                        let mut ex = lock(&exchange);
                        let now = clock.now_millis();
                        ex.ws_send(now, conn, text.as_str());
                        ex.ws_drain(now, conn)
                    };
                    if !pass_on(&mut socket, &exchange, conn, frames, latency.as_mut(), &mut delayed).await {
                        return;
                    }
                }
                Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
            () = sleep_until(next_due) => {
                let now = tokio::time::Instant::now();
                let mut due = Vec::new();
                while delayed.front().is_some_and(|(at, _)| *at <= now) {
                    let Some((_, frame)) = delayed.pop_front() else { break };
                    due.push(frame);
                }
                if !send_frames(&mut socket, &exchange, conn, due).await {
                    return;
                }
            }
            _ = ticker.tick() => {
                let frames = lock(&exchange).ws_drain(clock.now_millis(), conn);
                if !pass_on(&mut socket, &exchange, conn, frames, latency.as_mut(), &mut delayed).await {
                    return;
                }
            }
        }
    }
    lock(&exchange).ws_close(conn);
}

/// Frames of connection `conn` waiting for their market-data latency, in order.
type Delayed = VecDeque<(tokio::time::Instant, WsOut)>;

/// Hands `frames` on: after their latency when the connection has one (market streams), else
/// at once. `false` when the connection is over.
async fn pass_on(
    socket: &mut tokio_tungstenite::WebSocketStream<TcpStream>,
    exchange: &Mutex<PaperExchange>,
    conn: super::ConnId,
    frames: Vec<WsOut>,
    latency: Option<&mut LatencySampler>,
    delayed: &mut Delayed,
) -> bool {
    match latency {
        Some(sampler) => {
            let now = tokio::time::Instant::now();
            for frame in frames {
                let due = (now + sampler.sample()).max(delayed.back().map_or(now, |(due, _)| *due));
                delayed.push_back((due, frame));
            }
            true
        }
        None => send_frames(socket, exchange, conn, frames).await,
    }
}

/// Sends frames of connection `conn`, written together (one flush); `false` when the
/// connection is over (a close sent, or the socket failed), the exchange told.
async fn send_frames(
    socket: &mut tokio_tungstenite::WebSocketStream<TcpStream>,
    exchange: &Mutex<PaperExchange>,
    conn: super::ConnId,
    frames: Vec<WsOut>,
) -> bool {
    if frames.is_empty() {
        return true;
    }
    for frame in frames {
        match frame {
            WsOut::Text(text) => {
                if socket.feed(Message::text(text)).await.is_err() {
                    lock(exchange).ws_close(conn);
                    return false;
                }
            }
            WsOut::Close { code, reason } => {
                let _ = socket.flush().await;
                // 1006 (abnormal) cannot be sent: drop the socket without a close frame.
                if code != 1006 {
                    let frame = CloseFrame { code: CloseCode::from(code), reason: reason.into() };
                    let _ = socket.close(Some(frame)).await;
                }
                lock(exchange).ws_close(conn);
                return false;
            }
        }
    }
    if socket.flush().await.is_err() {
        lock(exchange).ws_close(conn);
        return false;
    }
    true
}

/// Sleeps until `due`; forever when there is nothing due.
async fn sleep_until(due: Option<tokio::time::Instant>) {
    match due {
        Some(due) => tokio::time::sleep_until(due).await,
        None => std::future::pending().await,
    }
}
