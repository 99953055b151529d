//! The transports the async [`Client`](crate::client::Client) talks through (feature `client`):
//! two small traits over plain values, so the engine never knows what carries its requests.
//!
//! - [`HttpTransport`]: send an `http::Request<Bytes>`, get an `http::Response<Bytes>` within a
//!   timeout, or a [`TransportError`] that says whether the request can have reached the server.
//! - [`WsTransport`]: connect to a URL, get a [`WsConnection`]: a sink and a stream of
//!   [`WsMessage`]s (text frames, ping / pong, close).
//!
//! Backends: [`ReqwestTransport`] (feature `reqwest`) and [`TungsteniteTransport`] (feature
//! `tungstenite`), both on rustls with the `ring` provider and the webpki roots (no OpenSSL, no
//! process-wide crypto provider needed); `aegis_paper::PaperTransport` serves
//! both traits from an in-process `aegis_paper::PaperExchange`.
//!
//! Writing a backend of your own (a proxy, a recorder) means implementing one method per trait:
//!
//! ```
//! use std::time::Duration;
//! use aegis_exchange::transport::{BoxFuture, HttpTransport, TransportError};
//! use bytes::Bytes;
//!
//! /// Answers every request with Binance's -1003 body, for a test of the 429 path.
//! struct AlwaysLimited;
//!
//! impl HttpTransport for AlwaysLimited {
//!     fn send(
//!         &self,
//!         _request: http::Request<Bytes>,
//!         _timeout: Duration,
//!     ) -> BoxFuture<'static, Result<http::Response<Bytes>, TransportError>> {
//!         Box::pin(async {
//!             http::Response::builder()
//!                 .status(429)
//!                 .header("Retry-After", "7")
//!                 .body(Bytes::from_static(br#"{"code":-1003,"msg":"Too many requests."}"#))
//!                 .map_err(|e| TransportError::Invalid(e.to_string()))
//!         })
//!     }
//! }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Sink, Stream};

#[cfg(feature = "hyper")]
mod hyper_backend;
#[cfg(feature = "reqwest")]
mod reqwest_backend;
#[cfg(feature = "tungstenite")]
mod tungstenite_backend;

#[cfg(feature = "hyper")]
pub use hyper_backend::HyperTransport;
#[cfg(feature = "reqwest")]
pub use reqwest_backend::ReqwestTransport;
#[cfg(feature = "tungstenite")]
pub use tungstenite_backend::TungsteniteTransport;

/// A boxed, sendable future (what the transport traits return, so they stay object safe).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why a send or a connection failed, and so whether the request can have reached the server.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// Nothing reached the server (connect refused, DNS, TLS handshake): safe to send again.
    #[error("not sent: {0}")]
    NotSent(String),
    /// The request was (or may have been) written and no answer came (timeout, reset after the
    /// write, a body cut short): its outcome is unknown.
    #[error("sent without an answer: {0}")]
    Unanswered(String),
    /// The connection is closed.
    #[error("connection closed")]
    Closed,
    /// The request could not be expressed (a bad URL, a header the backend refuses): nothing
    /// was sent.
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The answer was larger than the backend accepts.
    #[error("response larger than {0} bytes")]
    TooLarge(usize),
}

impl TransportError {
    /// Whether the request can have reached the server (and so its outcome is unknown).
    #[must_use]
    pub fn may_have_arrived(&self) -> bool {
        matches!(self, TransportError::Unanswered(_) | TransportError::Closed | TransportError::TooLarge(_))
    }
}

/// Carries HTTP requests. Implementations are shared between tasks (`Arc<dyn HttpTransport>`).
pub trait HttpTransport: Send + Sync + 'static {
    /// Sends `request` and waits at most `timeout` for the whole answer (head and body).
    ///
    /// A timeout after the request may have been written is [`TransportError::Unanswered`],
    /// never [`TransportError::NotSent`]: an order must not be sent twice.
    fn send(
        &self,
        request: http::Request<Bytes>,
        timeout: Duration,
    ) -> BoxFuture<'static, Result<http::Response<Bytes>, TransportError>>;
}

/// A WebSocket message, as the client sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsMessage {
    /// A text frame's payload (Binance sends JSON, one message per frame). Held as `Bytes` so a
    /// received frame reaches the decoder without a copy; a payload that is not UTF-8 is sent as a
    /// binary frame.
    Text(Bytes),
    /// A ping; backends answer it themselves with a pong copying the payload (Binance pings
    /// every 20 s and disconnects without a pong within a minute).
    Ping(Bytes),
    /// A pong.
    Pong(Bytes),
    /// A close frame: the code and the reason, when given.
    Close(Option<(u16, String)>),
}

/// The sending half of a connection.
pub type WsSink = Pin<Box<dyn Sink<WsMessage, Error = TransportError> + Send>>;
/// The receiving half of a connection; it ends when the connection does.
pub type WsStream = Pin<Box<dyn Stream<Item = Result<WsMessage, TransportError>> + Send>>;

/// An open WebSocket connection, split.
pub struct WsConnection {
    /// Where frames go.
    pub sink: WsSink,
    /// Where frames come from.
    pub stream: WsStream,
}

impl std::fmt::Debug for WsConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsConnection").finish_non_exhaustive()
    }
}

/// Opens WebSocket connections. Shared between tasks (`Arc<dyn WsTransport>`).
pub trait WsTransport: Send + Sync + 'static {
    /// Connects to `url` (`wss://…/ws-api/v3`, `wss://…/stream?streams=…`).
    fn connect(&self, url: &str) -> BoxFuture<'static, Result<WsConnection, TransportError>>;
}

/// `exchange` bounded by `timeout`: past it the request may have arrived, so it is
/// [`TransportError::Unanswered`]. What every real backend's `send` returns.
#[cfg(any(feature = "reqwest", feature = "hyper"))]
fn bounded(
    timeout: Duration,
    exchange: impl Future<Output = Result<http::Response<Bytes>, TransportError>> + Send + 'static,
) -> BoxFuture<'static, Result<http::Response<Bytes>, TransportError>> {
    Box::pin(async move {
        match tokio::time::timeout(timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(TransportError::Unanswered(format!("no answer within {} ms", timeout.as_millis()))),
        }
    })
}

/// The TLS set-up both real backends share: rustls with the `ring` provider chosen explicitly
/// (so a second provider elsewhere in the program cannot make rustls panic) and the webpki roots.
#[cfg(any(feature = "reqwest", feature = "hyper", feature = "tungstenite"))]
fn tls_config() -> Result<rustls::ClientConfig, TransportError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    // rustls 0.23.48 deprecates the ring provider (it has no post-quantum key exchange); the
    // alternative, aws-lc-rs, needs a C toolchain and CMake to build. Binance does not require a
    // post-quantum group, so ring stays, on purpose.
    #[allow(deprecated)]
    let provider = rustls::crypto::ring::default_provider();
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| TransportError::Invalid(format!("TLS set-up: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}
