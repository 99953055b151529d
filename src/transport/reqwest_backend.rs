//! [`HttpTransport`] on reqwest (hyper, HTTP/1.1 keep-alive pool) over rustls.

use std::time::Duration;

use bytes::{Bytes, BytesMut};

use super::{BoxFuture, HttpTransport, TransportError};

/// The largest response body read (a full `exchangeInfo` is a few megabytes).
const MAX_BODY: usize = 64 * 1024 * 1024;

/// HTTP over reqwest and rustls (feature `reqwest`). Cheap to clone; clones share the pool.
///
/// ```no_run
/// use std::sync::Arc;
/// use aegis_exchange::transport::{HttpTransport, ReqwestTransport};
/// let http: Arc<dyn HttpTransport> = Arc::new(ReqwestTransport::new()?);
/// # Ok::<(), aegis_exchange::transport::TransportError>(())
/// ```
#[derive(Debug, Clone)]
pub struct ReqwestTransport {
    client: reqwest::Client,
    max_body: usize,
}

impl ReqwestTransport {
    /// A transport with a keep-alive pool (at most 8 idle connections per host, closed after
    /// 50 s idle), Nagle off and a 5 s connect timeout.
    ///
    /// # Errors
    /// [`TransportError::Invalid`] if the TLS set-up fails.
    pub fn new() -> Result<Self, TransportError> {
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(super::tls_config()?)
            .tcp_nodelay(true)
            .connect_timeout(Duration::from_secs(5))
            .pool_idle_timeout(Duration::from_secs(50))
            // A burst (a reconciliation querying many orders) must not leave dozens of idle
            // sockets behind.
            .pool_max_idle_per_host(8)
            .user_agent(concat!("aegis-exchange/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| TransportError::Invalid(e.to_string()))?;
        Ok(Self { client, max_body: MAX_BODY })
    }

    /// Wraps a reqwest client you configured (proxy, local address, …).
    #[must_use]
    pub fn from_client(client: reqwest::Client) -> Self {
        Self { client, max_body: MAX_BODY }
    }

    /// Caps the response body (default 64 MiB); a larger one is [`TransportError::TooLarge`].
    #[must_use]
    pub fn with_max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }
}

/// What a reqwest error means for the request's fate: only a failed connect proves nothing
/// was written.
fn classify(error: &reqwest::Error) -> TransportError {
    if error.is_connect() {
        TransportError::NotSent(error.to_string())
    } else if error.is_builder() {
        TransportError::Invalid(error.to_string())
    } else {
        TransportError::Unanswered(error.to_string())
    }
}

async fn exchange(
    client: reqwest::Client,
    request: http::Request<Bytes>,
    max_body: usize,
) -> Result<http::Response<Bytes>, TransportError> {
    let request = reqwest::Request::try_from(request).map_err(|e| TransportError::Invalid(e.to_string()))?;
    let mut response = client.execute(request).await.map_err(|e| classify(&e))?;
    let mut builder = http::Response::builder().status(response.status()).version(response.version());
    if let Some(headers) = builder.headers_mut() {
        *headers = std::mem::take(response.headers_mut());
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| classify(&e))? {
        if body.len() + chunk.len() > max_body {
            return Err(TransportError::TooLarge(max_body));
        }
        body.extend_from_slice(&chunk);
    }
    builder.body(body.freeze()).map_err(|e| TransportError::Unanswered(e.to_string()))
}

impl HttpTransport for ReqwestTransport {
    fn send(
        &self,
        request: http::Request<Bytes>,
        timeout: Duration,
    ) -> BoxFuture<'static, Result<http::Response<Bytes>, TransportError>> {
        let (client, max_body) = (self.client.clone(), self.max_body);
        super::bounded(timeout, async move { exchange(client, request, max_body).await })
    }
}
