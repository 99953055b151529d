//! The paper exchange as a transport (feature `client`): both traits served in process, no
//! sockets, so the async client runs offline exactly as it runs against Binance.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::{Delivery, PaperExchange, WsOut, lock};
use aegis_exchange::Clock;
use aegis_exchange::rest::Environment;
use aegis_exchange::transport::{BoxFuture, HttpTransport, TransportError, WsConnection, WsMessage, WsTransport};

/// How often a connection looks for frames (and lets the market move).
const POLL: Duration = Duration::from_millis(5);
/// Binance pings every 20 s; so does the paper exchange.
const PING_EVERY_MS: i64 = 20_000;
/// Frames waiting for the reader, per connection.
const INBOX: usize = 4096;

/// Serves [`HttpTransport`] and [`WsTransport`] from a shared [`PaperExchange`].
///
/// Requests go through [`PaperExchange::deliver`], so configured and injected faults happen:
/// a dropped or lost request is [`TransportError::Unanswered`] (the client cannot tell which),
/// latency delays the answer. A connection pings every 20 s like Binance's.
///
/// ```
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use aegis_exchange::SystemClock;
/// use aegis_paper::{PaperConfig, PaperExchange, PaperTransport};
/// let exchange = PaperExchange::new(PaperConfig::default(), 1_760_000_000_000);
/// let paper = PaperTransport::new(exchange, Arc::new(SystemClock));
/// let env = PaperTransport::environment(); // URLs the transport serves
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct PaperTransport {
    exchange: Arc<Mutex<PaperExchange>>,
    clock: Arc<dyn Clock>,
}

/// The path (and query) of a URL: what the paper exchange routes on.
fn path_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.find('/').and_then(|i| rest.get(i..)).unwrap_or("/")
}

impl PaperTransport {
    /// Serves `exchange`, reading the time from `clock`.
    pub fn new(exchange: PaperExchange, clock: Arc<dyn Clock>) -> Self {
        Self::shared(Arc::new(Mutex::new(exchange)), clock)
    }

    /// Serves an exchange shared with the caller (to deposit, move prices, inject faults).
    pub fn shared(exchange: Arc<Mutex<PaperExchange>>, clock: Arc<dyn Clock>) -> Self {
        Self { exchange, clock }
    }

    /// The exchange behind the transport.
    #[must_use]
    pub fn exchange(&self) -> Arc<Mutex<PaperExchange>> {
        Arc::clone(&self.exchange)
    }

    /// The environment whose URLs this transport serves (`paper://local/...`).
    #[must_use]
    pub fn environment() -> Environment {
        Environment::Custom {
            rest: "paper://local".to_owned(),
            ws_api: "paper://local/ws-api/v3".to_owned(),
            streams: "paper://local".to_owned(),
        }
    }
}

impl HttpTransport for PaperTransport {
    fn send(
        &self,
        request: http::Request<Bytes>,
        timeout: Duration,
    ) -> BoxFuture<'static, Result<http::Response<Bytes>, TransportError>> {
        let delivery = lock(&self.exchange).deliver(self.clock.now_millis(), request);
        Box::pin(async move {
            match delivery {
                Delivery::Answer { response, latency_ms } => {
                    let latency = Duration::from_millis(latency_ms);
                    if latency >= timeout {
                        tokio::time::sleep(timeout).await;
                        return Err(TransportError::Unanswered("timed out".to_owned()));
                    }
                    tokio::time::sleep(latency).await;
                    Ok(response)
                }
                Delivery::Dropped | Delivery::Lost => Err(TransportError::Unanswered("connection reset".to_owned())),
            }
        })
    }
}

/// Moves frames from the exchange to the reader until either side closes.
async fn pump(
    exchange: Arc<Mutex<PaperExchange>>,
    clock: Arc<dyn Clock>,
    conn: super::ConnId,
    inbox: mpsc::Sender<Result<WsMessage, TransportError>>,
) {
    let mut ticker = tokio::time::interval(POLL);
    let mut last_ping = clock.now_millis();
    loop {
        tokio::select! {
            () = inbox.closed() => break,
            _ = ticker.tick() => {}
        }
        let now = clock.now_millis();
        let (frames, open) = {
            let mut ex = lock(&exchange);
            let frames = ex.ws_drain(now, conn);
            (frames, ex.ws_is_open(conn))
        };
        if now.saturating_sub(last_ping) >= PING_EVERY_MS {
            last_ping = now;
            if inbox.send(Ok(WsMessage::Ping(Bytes::from(now.to_string())))).await.is_err() {
                break;
            }
        }
        for frame in frames {
            let message = match frame {
                WsOut::Text(text) => WsMessage::Text(Bytes::from(text)),
                WsOut::Close { code, reason } => {
                    // 1006 (abnormal) never travels as a frame: the stream just ends.
                    if code != 1006 {
                        let _ = inbox.send(Ok(WsMessage::Close(Some((code, reason))))).await;
                    }
                    lock(&exchange).ws_close(conn);
                    return;
                }
            };
            if inbox.send(Ok(message)).await.is_err() {
                lock(&exchange).ws_close(conn);
                return;
            }
        }
        if !open {
            return;
        }
    }
    lock(&exchange).ws_close(conn);
}

impl WsTransport for PaperTransport {
    fn connect(&self, url: &str) -> BoxFuture<'static, Result<WsConnection, TransportError>> {
        let connected = lock(&self.exchange).ws_connect(self.clock.now_millis(), path_of(url));
        let (exchange, clock) = (Arc::clone(&self.exchange), Arc::clone(&self.clock));
        Box::pin(async move {
            let conn = connected.map_err(|e| TransportError::NotSent(e.to_string()))?;
            let (inbox, outbox) = mpsc::channel(INBOX);
            tokio::spawn(pump(Arc::clone(&exchange), Arc::clone(&clock), conn, inbox));
            let sink = futures_util::sink::unfold(
                (exchange, clock),
                move |(exchange, clock), message: WsMessage| async move {
                    let mut ex = lock(&exchange);
                    if !ex.ws_is_open(conn) {
                        return Err(TransportError::Closed);
                    }
                    match message {
                        // The exchange reads JSON text; anything else is not a message it could parse.
                        WsMessage::Text(text) => {
                            if let Ok(text) = std::str::from_utf8(&text) {
                                ex.ws_send(clock.now_millis(), conn, text);
                            }
                        }
                        WsMessage::Close(_) => ex.ws_close(conn),
                        WsMessage::Ping(_) | WsMessage::Pong(_) => {}
                    }
                    drop(ex);
                    Ok((exchange, clock))
                },
            );
            let stream = futures_util::stream::unfold(outbox, |mut outbox| async move {
                outbox.recv().await.map(|message| (message, outbox))
            });
            Ok(WsConnection { sink: Box::pin(sink), stream: Box::pin(stream.fuse()) })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::path_of;

    #[test]
    fn paths_of_urls() {
        assert_eq!(path_of("paper://local/ws-api/v3"), "/ws-api/v3");
        assert_eq!(path_of("wss://stream.binance.com:9443/stream?streams=a/b"), "/stream?streams=a/b");
        assert_eq!(path_of("ws://127.0.0.1:1"), "/");
        assert_eq!(path_of("/ws"), "/ws");
    }
}
