//! [`WsTransport`] on tokio-tungstenite over rustls.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::{Connector, tungstenite};

use super::{BoxFuture, TransportError, WsConnection, WsMessage, WsTransport};

/// The largest frame accepted (Binance's largest, a full-depth snapshot over the WebSocket API,
/// is well under this).
const MAX_MESSAGE: usize = 16 * 1024 * 1024;

/// WebSockets over tokio-tungstenite and rustls (feature `tungstenite`). Pings are answered
/// with a pong copying the payload as they are read, so keep reading the stream.
///
/// ```no_run
/// use std::sync::Arc;
/// use aegis_exchange::transport::{TungsteniteTransport, WsTransport};
/// let ws: Arc<dyn WsTransport> = Arc::new(TungsteniteTransport::new()?);
/// # Ok::<(), aegis_exchange::transport::TransportError>(())
/// ```
#[derive(Clone)]
pub struct TungsteniteTransport {
    tls: Arc<rustls::ClientConfig>,
    connect_timeout: Duration,
}

impl std::fmt::Debug for TungsteniteTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TungsteniteTransport").field("connect_timeout", &self.connect_timeout).finish_non_exhaustive()
    }
}

impl TungsteniteTransport {
    /// A transport with a 10 s connect (TCP, TLS and WebSocket handshake) timeout.
    ///
    /// # Errors
    /// [`TransportError::Invalid`] if the TLS set-up fails.
    pub fn new() -> Result<Self, TransportError> {
        Ok(Self { tls: Arc::new(super::tls_config()?), connect_timeout: Duration::from_secs(10) })
    }

    /// Sets the connect timeout.
    #[must_use]
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }
}

fn from_tungstenite(message: Message) -> Option<WsMessage> {
    match message {
        // Zero-copy: the frame's buffer is handed on as it is.
        Message::Text(text) => Some(WsMessage::Text(text.into())),
        // Binance sends binary only for SBE sessions, which this crate does not open.
        Message::Binary(_) | Message::Frame(_) => None,
        Message::Ping(payload) => Some(WsMessage::Ping(payload)),
        Message::Pong(payload) => Some(WsMessage::Pong(payload)),
        Message::Close(frame) => {
            Some(WsMessage::Close(frame.map(|f| (u16::from(f.code), f.reason.as_str().to_owned()))))
        }
    }
}

fn to_tungstenite(message: WsMessage) -> Message {
    match message {
        // `Bytes::clone` is a reference count, not a copy.
        WsMessage::Text(text) => match tungstenite::Utf8Bytes::try_from(text.clone()) {
            Ok(utf8) => Message::Text(utf8),
            Err(_) => Message::Binary(text),
        },
        WsMessage::Ping(payload) => Message::Ping(payload),
        WsMessage::Pong(payload) => Message::Pong(payload),
        WsMessage::Close(frame) => Message::Close(
            frame.map(|(code, reason)| CloseFrame { code: CloseCode::from(code), reason: reason.into() }),
        ),
    }
}

fn classify(error: tungstenite::Error) -> TransportError {
    match error {
        tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed => TransportError::Closed,
        tungstenite::Error::Url(e) => TransportError::Invalid(e.to_string()),
        other => TransportError::Unanswered(other.to_string()),
    }
}

impl WsTransport for TungsteniteTransport {
    fn connect(&self, url: &str) -> BoxFuture<'static, Result<WsConnection, TransportError>> {
        let (url, tls, timeout) = (url.to_owned(), Arc::clone(&self.tls), self.connect_timeout);
        Box::pin(async move {
            let config =
                WebSocketConfig::default().max_message_size(Some(MAX_MESSAGE)).max_frame_size(Some(MAX_MESSAGE));
            let connecting =
                tokio_tungstenite::connect_async_tls_with_config(url, Some(config), true, Some(Connector::Rustls(tls)));
            let (socket, _) = match tokio::time::timeout(timeout, connecting).await {
                Ok(Ok(connected)) => connected,
                // Nothing is sent on a connection that never opened.
                Ok(Err(e)) => return Err(TransportError::NotSent(e.to_string())),
                Err(_) => {
                    return Err(TransportError::NotSent(format!("no connection within {} ms", timeout.as_millis())));
                }
            };
            let (sink, stream) = socket.split();
            let sink = sink
                .with(|m: WsMessage| async move { Ok::<_, tungstenite::Error>(to_tungstenite(m)) })
                .sink_map_err(classify);
            let stream = stream.filter_map(|item| async move {
                match item {
                    Ok(message) => from_tungstenite(message).map(Ok),
                    Err(e) => Some(Err(classify(e))),
                }
            });
            Ok(WsConnection { sink: Box::pin(sink), stream: Box::pin(stream) })
        })
    }
}
