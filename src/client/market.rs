//! Market streams with reconnects: one connection (combined streams), decoded and sanitised,
//! resubscribed after every reconnect.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::Backoff;
use crate::clock::Clock;
use crate::conn::{CloseReason, ConnAction, Connection, ConnectionConfig};
use crate::stream::{MarketEvent, Message, SanitizeConfig, StreamDecoder, StreamError, StreamStats};
use crate::transport::{TransportError, WsConnection, WsMessage, WsTransport};

/// How a [`MarketStream`] runs.
#[derive(Debug, Clone)]
pub struct MarketConfig {
    /// Reconnect back-off.
    pub reconnect: Backoff,
    /// A connection older than this is replaced (Binance cuts at 24 h). Default 23 h 30 min.
    pub max_connection_age: Duration,
    /// A connection with no frame for this long is taken for dead. Default 60 s.
    pub idle_timeout: Duration,
    /// What the sanitiser accepts.
    pub sanitize: SanitizeConfig,
    /// Items waiting for the reader; a full queue slows the reading (and Binance then drops a
    /// consumer that stays behind). Default 8192 (a few megabytes at most).
    pub capacity: usize,
}

impl Default for MarketConfig {
    fn default() -> Self {
        Self {
            reconnect: Backoff::default(),
            max_connection_age: Duration::from_secs(23 * 3600 + 1800),
            idle_timeout: Duration::from_secs(60),
            sanitize: SanitizeConfig::default(),
            capacity: 8192,
        }
    }
}

/// What a [`MarketStream`] yields.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
// Nearly every item is a `Message`: boxing it would cost an allocation per frame.
#[allow(clippy::large_enum_variant)]
pub enum MarketItem {
    /// A decoded, sanitised message.
    Message(Message),
    /// A frame refused (malformed or poisoned); counted, never passed on as data.
    Rejected(StreamError),
    /// The connection is (re)open with every stream subscribed. After a reconnect, order books
    /// must be re-synchronised (diffs were missed).
    Connected {
        /// Connections opened before this one.
        reconnects: u64,
    },
    /// The connection is down; a new one is on its way.
    Disconnected {
        /// Why.
        reason: String,
    },
}

/// Market streams over one combined connection, reconnecting by itself.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use aegis_exchange::client::{MarketConfig, MarketItem, MarketStream};
/// use aegis_exchange::SystemClock;
/// use aegis_exchange::rest::Environment;
/// use aegis_exchange::transport::TungsteniteTransport;
/// let ws = Arc::new(TungsteniteTransport::new()?);
/// let streams = vec!["btcusdt@trade".to_owned(), "btcusdt@bookTicker".to_owned()];
/// let mut market = MarketStream::connect(ws, &Environment::Testnet, streams, MarketConfig::default(), Arc::new(SystemClock));
/// while let Some(item) = market.next().await {
///     if let MarketItem::Message(m) = item { println!("{:?}", m.event); }
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct MarketStream {
    items: mpsc::Receiver<MarketItem>,
    stats: tokio::sync::watch::Receiver<MarketStats>,
    task: JoinHandle<()>,
}

/// Counters of a [`MarketStream`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MarketStats {
    /// Connections opened after the first.
    pub reconnects: u64,
    /// The decoder's counts (accepted, malformed, poisoned by reason).
    pub decoder: StreamStats,
}

impl MarketStream {
    /// Starts streaming `streams` (`btcusdt@trade`, `ethusdt@depth@100ms`, …) from `env`'s
    /// stream endpoint, as one combined connection. Returns at once; the first item is
    /// [`MarketItem::Connected`] (or `Disconnected` while it cannot connect).
    pub fn connect(
        ws: Arc<dyn WsTransport>,
        env: &crate::rest::Environment,
        streams: Vec<String>,
        config: MarketConfig,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let url = format!("{}/stream?streams={}", env.streams_base(), streams.join("/"));
        let (sender, items) = mpsc::channel(config.capacity.max(1));
        let (stats_sender, stats) = tokio::sync::watch::channel(MarketStats::default());
        let task = tokio::spawn(run(ws, url, config, clock, sender, stats_sender));
        Self { items, stats, task }
    }

    /// The next item; `None` once the stream is closed.
    pub async fn next(&mut self) -> Option<MarketItem> {
        self.items.recv().await
    }

    /// Counters (the decoder's are refreshed on every refused frame, every 256 frames and when a
    /// connection ends).
    #[must_use]
    pub fn stats(&self) -> MarketStats {
        self.stats.borrow().clone()
    }

    /// Closes the connection and stops the task; the final counters. (The task ends at its
    /// next frame, which finds nobody reading, or is stopped after a second.)
    pub async fn close(mut self) -> MarketStats {
        drop(self.items);
        if tokio::time::timeout(Duration::from_secs(1), &mut self.task).await.is_err() {
            self.task.abort();
            let _ = (&mut self.task).await;
        }
        self.stats.borrow().clone()
    }
}

async fn connect_timed(ws: Arc<dyn WsTransport>, url: String) -> Result<WsConnection, TransportError> {
    match tokio::time::timeout(Duration::from_secs(15), ws.connect(&url)).await {
        Ok(result) => result,
        Err(_) => Err(TransportError::NotSent("connect timed out".to_owned())),
    }
}

type Connecting = std::pin::Pin<Box<dyn std::future::Future<Output = Result<WsConnection, TransportError>> + Send>>;

async fn next_frame(live: &mut Option<WsConnection>) -> Option<Result<WsMessage, TransportError>> {
    match live {
        Some(conn) => conn.stream.next().await,
        None => std::future::pending().await,
    }
}

async fn connected(connecting: &mut Option<Connecting>) -> Result<WsConnection, TransportError> {
    match connecting {
        Some(fut) => fut.await,
        None => std::future::pending().await,
    }
}

async fn close(mut conn: WsConnection) {
    let _ = tokio::time::timeout(Duration::from_secs(1), conn.sink.send(WsMessage::Close(None))).await;
}

/// The connection's life is the core's [`Connection`] policy (back-off, idle, renewal by age
/// and on `serverShutdown`, make before break); this task performs what it asks and decodes.
async fn run(
    ws: Arc<dyn WsTransport>,
    url: String,
    config: MarketConfig,
    clock: Arc<dyn Clock>,
    sender: mpsc::Sender<MarketItem>,
    stats: tokio::sync::watch::Sender<MarketStats>,
) {
    let mut decoder = StreamDecoder::new(config.sanitize);
    let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
    let mut policy = Connection::new(ConnectionConfig {
        backoff: config.reconnect,
        idle_timeout_ms: Some(ms(config.idle_timeout)),
        max_age_ms: Some(ms(config.max_connection_age)),
    });
    policy.open();
    let (mut live, mut retiring): (Option<WsConnection>, Option<WsConnection>) = (None, None);
    let mut connecting: Option<Connecting> = None;
    let (mut opened, mut unpublished) = (0u64, 0u32);
    loop {
        while let Some(action) = policy.poll_action() {
            match action {
                ConnAction::Connect => {
                    if connecting.is_none() {
                        connecting = Some(Box::pin(connect_timed(Arc::clone(&ws), url.clone())));
                    }
                }
                ConnAction::Close(CloseReason::Replaced) => {
                    if let Some(old) = retiring.take() {
                        close(old).await;
                        tracing::info!(%url, "market stream connection replaced");
                    }
                }
                ConnAction::Close(CloseReason::Idle) => {
                    if let Some(dead) = live.take() {
                        close(dead).await;
                    }
                    stats.send_modify(|s| s.decoder = decoder.stats().clone());
                    let reason = "no frame within the idle timeout".to_owned();
                    tracing::warn!(%reason, "market stream connection lost");
                    if sender.send(MarketItem::Disconnected { reason }).await.is_err() {
                        return;
                    }
                }
            }
        }
        let now = clock.now_millis();
        let wait = policy.next_timeout().map_or(3_600_000, |at| at.saturating_sub(now).max(0));
        let sleep = tokio::time::sleep(Duration::from_millis(u64::try_from(wait).unwrap_or(0)));
        tokio::select! {
            result = connected(&mut connecting) => {
                connecting = None;
                let now = clock.now_millis();
                match result {
                    Ok(conn) => {
                        if let Some(old) = live.replace(conn)
                            && let Some(older) = retiring.replace(old)
                        {
                            close(older).await;
                        }
                        policy.handle_connected(now);
                        if opened > 0 {
                            stats.send_modify(|s| s.reconnects = s.reconnects.saturating_add(1));
                        }
                        tracing::info!(%url, reconnects = opened, "market stream open");
                        if sender.send(MarketItem::Connected { reconnects: opened }).await.is_err() {
                            break;
                        }
                        opened = opened.saturating_add(1);
                    }
                    Err(e) => {
                        policy.handle_connect_failed(now);
                        if live.is_none() && sender.send(MarketItem::Disconnected { reason: e.to_string() }).await.is_err() {
                            break;
                        }
                    }
                }
            }
            frame = next_frame(&mut live) => {
                let now = clock.now_millis();
                let reason = match frame {
                    Some(Ok(WsMessage::Text(text))) => {
                        policy.handle_frame(now);
                        let item = match decoder.decode(now, &text) {
                            Ok(message) if matches!(message.event, MarketEvent::ServerShutdown { .. }) => {
                                policy.handle_server_shutdown();
                                continue;
                            }
                            Ok(message) => MarketItem::Message(message),
                            Err(e) => MarketItem::Rejected(e),
                        };
                        // Not on every frame: a refused one, then every 256th (and when a
                        // connection ends).
                        unpublished += 1;
                        if matches!(item, MarketItem::Rejected(_)) || unpublished >= 256 {
                            unpublished = 0;
                            stats.send_modify(|s| s.decoder = decoder.stats().clone());
                        }
                        if sender.send(item).await.is_err() {
                            break;
                        }
                        continue;
                    }
                    Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => {
                        policy.handle_frame(now);
                        continue;
                    }
                    Some(Ok(WsMessage::Close(frame))) => format!("closed by the server: {frame:?}"),
                    Some(Err(e)) => e.to_string(),
                    None => "connection ended".to_owned(),
                };
                live = None;
                policy.handle_closed(now);
                stats.send_modify(|s| s.decoder = decoder.stats().clone());
                tracing::warn!(%reason, "market stream connection lost");
                if sender.send(MarketItem::Disconnected { reason }).await.is_err() {
                    break;
                }
            }
            () = sleep => policy.handle_timeout(clock.now_millis()),
        }
    }
    // The reader is gone: close what is open.
    stats.send_modify(|s| s.decoder = decoder.stats().clone());
    for conn in [live, retiring].into_iter().flatten() {
        close(conn).await;
    }
}
