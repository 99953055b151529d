//! Market streams with reconnects: one connection (combined streams), decoded and sanitised,
//! resubscribed after every reconnect.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::Backoff;
use crate::clock::Clock;
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
/// use aegis_exchange::clock::SystemClock;
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

async fn connect_timed(ws: &Arc<dyn WsTransport>, url: &str) -> Result<WsConnection, TransportError> {
    match tokio::time::timeout(Duration::from_secs(15), ws.connect(url)).await {
        Ok(result) => result,
        Err(_) => Err(TransportError::NotSent("connect timed out".to_owned())),
    }
}

/// Reads one connection until it ends or must be replaced. `Ok(true)`: replace it now (age,
/// `serverShutdown`); `Ok(false)`: it ended; `Err`: the reader is gone.
async fn read(
    conn: &mut WsConnection,
    config: &MarketConfig,
    clock: &Arc<dyn Clock>,
    decoder: &mut StreamDecoder,
    sender: &mpsc::Sender<MarketItem>,
    stats: &tokio::sync::watch::Sender<MarketStats>,
) -> Result<(bool, String), ()> {
    let opened = tokio::time::Instant::now();
    let mut unpublished = 0u32;
    loop {
        let age_left = config.max_connection_age.saturating_sub(opened.elapsed());
        if age_left.is_zero() {
            return Ok((true, "connection age limit".to_owned()));
        }
        let next = tokio::time::timeout(config.idle_timeout.min(age_left), conn.stream.next()).await;
        let message = match next {
            Err(_) if opened.elapsed() >= config.max_connection_age => {
                return Ok((true, "connection age limit".to_owned()));
            }
            Err(_) => return Ok((false, "no frame within the idle timeout".to_owned())),
            Ok(None) => return Ok((false, "connection ended".to_owned())),
            Ok(Some(Err(e))) => return Ok((false, e.to_string())),
            Ok(Some(Ok(message))) => message,
        };
        let text = match message {
            WsMessage::Text(text) => text,
            WsMessage::Close(frame) => return Ok((false, format!("closed by the server: {frame:?}"))),
            WsMessage::Ping(_) | WsMessage::Pong(_) => continue,
        };
        let item = match decoder.decode(clock.now_millis(), &text) {
            Ok(message) => {
                let shutdown = matches!(message.event, MarketEvent::ServerShutdown { .. });
                if shutdown {
                    return Ok((true, "serverShutdown".to_owned()));
                }
                MarketItem::Message(message)
            }
            Err(e) => MarketItem::Rejected(e),
        };
        // Not on every frame: a refused one, then every 256th (and at the end of a connection).
        unpublished += 1;
        if matches!(item, MarketItem::Rejected(_)) || unpublished >= 256 {
            unpublished = 0;
            stats.send_modify(|s| s.decoder = decoder.stats().clone());
        }
        sender.send(item).await.map_err(|_| ())?;
    }
}

async fn run(
    ws: Arc<dyn WsTransport>,
    url: String,
    config: MarketConfig,
    clock: Arc<dyn Clock>,
    sender: mpsc::Sender<MarketItem>,
    stats: tokio::sync::watch::Sender<MarketStats>,
) {
    let mut decoder = StreamDecoder::new(config.sanitize);
    let (mut retry, mut opened) = (super::Retry::new(config.reconnect), 0u64);
    let mut live: Option<WsConnection> = None;
    loop {
        let mut conn = match live.take() {
            Some(conn) => conn,
            None => match connect_timed(&ws, &url).await {
                Ok(conn) => conn,
                Err(e) => {
                    if sender.send(MarketItem::Disconnected { reason: e.to_string() }).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(retry.next_delay()).await;
                    continue;
                }
            },
        };
        retry.reset();
        if opened > 0 {
            stats.send_modify(|s| s.reconnects = s.reconnects.saturating_add(1));
        }
        tracing::info!(%url, reconnects = opened, "market stream open");
        if sender.send(MarketItem::Connected { reconnects: opened }).await.is_err() {
            return;
        }
        opened = opened.saturating_add(1);
        let read = read(&mut conn, &config, &clock, &mut decoder, &sender, &stats).await;
        stats.send_modify(|s| s.decoder = decoder.stats().clone());
        let Ok((renew, reason)) = read else {
            let _ = conn.sink.send(WsMessage::Close(None)).await;
            return;
        };
        if renew {
            // Make before break: the new connection opens before the old one closes.
            if let Ok(next) = connect_timed(&ws, &url).await {
                live = Some(next);
            }
        }
        let _ = tokio::time::timeout(Duration::from_secs(1), conn.sink.send(WsMessage::Close(None))).await;
        tracing::warn!(%reason, "market stream connection replaced");
        if sender.send(MarketItem::Disconnected { reason }).await.is_err() {
            return;
        }
        if live.is_none() && !renew {
            tokio::time::sleep(retry.next_delay()).await;
        }
    }
}
