//! The paper exchange on real sockets (feature `server`): an HTTP/1.1 server and a
//! WebSocket server on 127.0.0.1, each on an ephemeral port, in front of one shared
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
use tokio::io::{AsyncReadExt, AsyncWriteExt};
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

/// The largest request head and body the server reads.
const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 1024 * 1024;
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

/// Reads one HTTP/1.1 request (head and `Content-Length` body). `None` at the end of the
/// stream or on a malformed request.
async fn read_request(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<(http::Request<Bytes>, bool)> {
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut parsed = httparse::Request::new(&mut headers);
        match parsed.parse(buffer) {
            Ok(httparse::Status::Complete(head_len)) => {
                let length = parsed
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                    .and_then(|h| std::str::from_utf8(h.value).ok()?.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                if length > MAX_BODY {
                    return None;
                }
                let close = parsed
                    .headers
                    .iter()
                    .any(|h| h.name.eq_ignore_ascii_case("connection") && h.value.eq_ignore_ascii_case(b"close"));
                let mut builder = http::Request::builder().method(parsed.method?).uri(parsed.path?);
                for h in parsed.headers.iter() {
                    builder = builder.header(h.name, h.value);
                }
                while buffer.len() < head_len + length {
                    let mut chunk = [0u8; 8192];
                    let n = stream.read(&mut chunk).await.ok()?;
                    if n == 0 {
                        return None;
                    }
                    buffer.extend_from_slice(chunk.get(..n)?);
                }
                let body = Bytes::copy_from_slice(buffer.get(head_len..head_len + length)?);
                buffer.drain(..head_len + length);
                return builder.body(body).ok().map(|r| (r, close));
            }
            Ok(httparse::Status::Partial) if buffer.len() < MAX_HEAD => {
                let mut chunk = [0u8; 8192];
                let n = stream.read(&mut chunk).await.ok()?;
                if n == 0 {
                    return None;
                }
                buffer.extend_from_slice(chunk.get(..n)?);
            }
            _ => return None,
        }
    }
}

fn write_response(response: &http::Response<Bytes>) -> Vec<u8> {
    let status = response.status();
    let mut out = format!("HTTP/1.1 {} {}\r\n", status.as_u16(), status.canonical_reason().unwrap_or(""));
    for (name, value) in response.headers() {
        out.push_str(name.as_str());
        out.push_str(": ");
        out.push_str(value.to_str().unwrap_or(""));
        out.push_str("\r\n");
    }
    out.push_str(&format!("Content-Length: {}\r\n\r\n", response.body().len()));
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(response.body());
    bytes
}

async fn serve_http(
    mut stream: TcpStream,
    exchange: Arc<Mutex<PaperExchange>>,
    clock: Arc<dyn Clock>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut buffer = Vec::new();
    loop {
        let next = tokio::select! {
            _ = stopped.changed() => return,
            next = read_request(&mut stream, &mut buffer) => next,
        };
        let Some((request, close)) = next else { return };
        let (method, path) = (request.method().clone(), request.uri().path().to_owned());
        let delivery = lock(&exchange).deliver(clock.now_millis(), request);
        match delivery {
            // Nothing arrived, or the answer was lost: the client sees the connection end.
            Delivery::Dropped | Delivery::Lost => {
                tracing::debug!(%method, path, "request dropped or its answer lost (fault)");
                return;
            }
            Delivery::Answer { response, latency_ms } => {
                tracing::debug!(%method, path, status = response.status().as_u16(), latency_ms, "request");
                if latency_ms > 0 {
                    tokio::select! {
                        _ = stopped.changed() => return,
                        () = tokio::time::sleep(Duration::from_millis(latency_ms)) => {}
                    }
                }
                if stream.write_all(&write_response(&response)).await.is_err() || close {
                    return;
                }
            }
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
    let mut delayed: VecDeque<(tokio::time::Instant, WsOut)> = VecDeque::new();
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
                Some(Ok(Message::Text(text))) => lock(&exchange).ws_send(clock.now_millis(), conn, text.as_str()),
                Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
            () = sleep_until(next_due) => {
                let now = tokio::time::Instant::now();
                while delayed.front().is_some_and(|(due, _)| *due <= now) {
                    let Some((_, frame)) = delayed.pop_front() else { break };
                    if !send_frame(&mut socket, &exchange, conn, frame).await {
                        return;
                    }
                }
            }
            _ = ticker.tick() => {
                let frames = lock(&exchange).ws_drain(clock.now_millis(), conn);
                if let Some(sampler) = latency.as_mut() {
                    let now = tokio::time::Instant::now();
                    for frame in frames {
                        let due = (now + sampler.sample()).max(delayed.back().map_or(now, |(due, _)| *due));
                        delayed.push_back((due, frame));
                    }
                    continue;
                }
                for frame in frames {
                    if !send_frame(&mut socket, &exchange, conn, frame).await {
                        return;
                    }
                }
            }
        }
    }
    lock(&exchange).ws_close(conn);
}

/// Sends one frame of connection `conn`; `false` when the connection is over (a close sent, or
/// the socket failed), the exchange told.
async fn send_frame(
    socket: &mut tokio_tungstenite::WebSocketStream<TcpStream>,
    exchange: &Mutex<PaperExchange>,
    conn: super::ConnId,
    frame: WsOut,
) -> bool {
    match frame {
        WsOut::Text(text) => {
            if socket.send(Message::text(text)).await.is_ok() {
                return true;
            }
        }
        WsOut::Close { code, reason } => {
            // 1006 (abnormal) cannot be sent: drop the socket without a close frame.
            if code != 1006 {
                let frame = CloseFrame { code: CloseCode::from(code), reason: reason.into() };
                let _ = socket.close(Some(frame)).await;
            }
        }
    }
    lock(exchange).ws_close(conn);
    false
}

/// Sleeps until `due`; forever when there is nothing due.
async fn sleep_until(due: Option<tokio::time::Instant>) {
    match due {
        Some(due) => tokio::time::sleep_until(due).await,
        None => std::future::pending().await,
    }
}
