//! [`HttpTransport`] on hyper's HTTP/1.1 client connection, driven inside the caller's own future.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::Full;
use hyper::body::Body;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::{BoxFuture, HttpTransport, TransportError};

/// The largest response body read (a full `exchangeInfo` is a few megabytes).
const MAX_BODY: usize = 64 * 1024 * 1024;
/// Idle connections kept per host.
const MAX_IDLE: usize = 8;

/// A byte stream: plain TCP or TLS over it.
trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

type Connection = http1::Connection<TokioIo<Box<dyn Io>>, Full<Bytes>>;

/// A kept-alive connection: the request half and the connection's own future, which nobody
/// polls while it sits in the pool.
struct Conn {
    sender: http1::SendRequest<Full<Bytes>>,
    driver: Pin<Box<Connection>>,
    /// The connection future has ended (closed by either side).
    ended: bool,
}

impl Conn {
    /// Drives the connection once; records its end.
    fn poll_driver(&mut self, cx: &mut Context<'_>) {
        if !self.ended && self.driver.as_mut().poll(cx).is_ready() {
            self.ended = true;
        }
    }

    /// Still usable: not ended, not closed by the server while it sat idle, ready for a request.
    fn usable(&mut self) -> bool {
        // A look without a waker: a close the server sent while the connection was idle is read
        // now.
        self.poll_driver(&mut Context::from_waker(Waker::noop()));
        !self.ended && !self.sender.is_closed() && self.sender.is_ready()
    }
}

struct Inner {
    tls: tokio_rustls::TlsConnector,
    pool: Mutex<HashMap<String, Vec<Conn>>>,
    connect_timeout: Duration,
    max_body: usize,
    opened: AtomicU64,
}

/// HTTP/1.1 over hyper's client connection and rustls (feature `hyper`), with keep-alive.
///
/// Unlike a pooled client that runs each connection in a task of its own (reqwest), the
/// connection is driven inside the future of the request that uses it: on a multi-thread
/// runtime the answer is read by the task that awaits it, with no wake-up of another task on
/// the way out or back. Idle connections (at most 8 per host) wait in a pool, unpolled; one
/// the server closed meanwhile is noticed when taken and replaced.
///
/// ```no_run
/// use std::sync::Arc;
/// use aegis_exchange::transport::{HttpTransport, HyperTransport};
/// let http: Arc<dyn HttpTransport> = Arc::new(HyperTransport::new()?);
/// # Ok::<(), aegis_exchange::transport::TransportError>(())
/// ```
#[derive(Clone)]
pub struct HyperTransport {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for HyperTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HyperTransport")
            .field("connect_timeout", &self.inner.connect_timeout)
            .field("max_body", &self.inner.max_body)
            .field("connections_opened", &self.connections_opened())
            .finish_non_exhaustive()
    }
}

impl HyperTransport {
    /// A transport with a 5 s connect (TCP, TLS, handshake) timeout and a 64 MiB body cap.
    ///
    /// # Errors
    /// [`TransportError::Invalid`] if the TLS set-up fails.
    pub fn new() -> Result<Self, TransportError> {
        let mut tls = super::tls_config()?;
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self {
            inner: Arc::new(Inner {
                tls: tokio_rustls::TlsConnector::from(Arc::new(tls)),
                pool: Mutex::new(HashMap::new()),
                connect_timeout: Duration::from_secs(5),
                max_body: MAX_BODY,
                opened: AtomicU64::new(0),
            }),
        })
    }

    /// Caps the response body (default 64 MiB); a larger one is [`TransportError::TooLarge`].
    /// Call before sharing the transport (clones made earlier keep the old cap).
    #[must_use]
    pub fn with_max_body(self, bytes: usize) -> Self {
        let inner = Inner {
            tls: self.inner.tls.clone(),
            pool: Mutex::new(HashMap::new()),
            connect_timeout: self.inner.connect_timeout,
            max_body: bytes,
            opened: AtomicU64::new(self.connections_opened()),
        };
        Self { inner: Arc::new(inner) }
    }

    /// Connections opened so far (a kept-alive transport opens one per concurrent request).
    #[must_use]
    pub fn connections_opened(&self) -> u64 {
        self.inner.opened.load(Ordering::Relaxed)
    }
}

/// `scheme://authority`, the pool's key.
fn origin(uri: &http::Uri) -> Result<(String, bool, String, u16), TransportError> {
    let tls = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        other => return Err(TransportError::Invalid(format!("scheme {other:?}"))),
    };
    let host = uri.host().ok_or_else(|| TransportError::Invalid("no host".to_owned()))?;
    let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
    let host = host.trim_start_matches('[').trim_end_matches(']').to_owned();
    Ok((format!("{}://{host}:{port}", if tls { "https" } else { "http" }), tls, host, port))
}

fn lock(pool: &Mutex<HashMap<String, Vec<Conn>>>) -> std::sync::MutexGuard<'_, HashMap<String, Vec<Conn>>> {
    pool.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Inner {
    fn take_idle(&self, key: &str) -> Option<Conn> {
        let mut pool = lock(&self.pool);
        let idle = pool.get_mut(key)?;
        while let Some(mut conn) = idle.pop() {
            if conn.usable() {
                return Some(conn);
            }
        }
        None
    }

    fn put_idle(&self, key: String, conn: Conn) {
        let mut pool = lock(&self.pool);
        let idle = pool.entry(key).or_default();
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
    }

    async fn connect(&self, tls: bool, host: &str, port: u16) -> Result<Conn, TransportError> {
        let not_sent = |e: &dyn std::fmt::Display| TransportError::NotSent(format!("connect {host}:{port}: {e}"));
        let tcp = TcpStream::connect((host, port)).await.map_err(|e| not_sent(&e))?;
        tcp.set_nodelay(true).map_err(|e| not_sent(&e))?;
        let io: Box<dyn Io> = if tls {
            let name = rustls::pki_types::ServerName::try_from(host.to_owned()).map_err(|e| not_sent(&e))?;
            Box::new(self.tls.connect(name, tcp).await.map_err(|e| not_sent(&e))?)
        } else {
            Box::new(tcp)
        };
        let (sender, driver) = http1::handshake(TokioIo::new(io)).await.map_err(|e| not_sent(&e))?;
        self.opened.fetch_add(1, Ordering::Relaxed);
        Ok(Conn { sender, driver: Box::pin(driver), ended: false })
    }

    async fn exchange(&self, request: http::Request<Bytes>) -> Result<http::Response<Bytes>, TransportError> {
        let (key, tls, host, port) = origin(request.uri())?;
        let (mut parts, body) = request.into_parts();
        // HTTP/1.1 to an origin server: the target in origin form, the authority in `Host`.
        if !parts.headers.contains_key(http::header::HOST) {
            let authority = parts.uri.authority().map(|a| a.as_str().to_owned()).unwrap_or_default();
            let value = http::HeaderValue::from_str(&authority).map_err(|e| TransportError::Invalid(e.to_string()))?;
            parts.headers.insert(http::header::HOST, value);
        }
        let target = parts.uri.path_and_query().map_or("/", http::uri::PathAndQuery::as_str);
        parts.uri = http::Uri::try_from(target).map_err(|e| TransportError::Invalid(e.to_string()))?;
        let request = http::Request::from_parts(parts, Full::new(body));

        let mut conn = match self.take_idle(&key) {
            Some(conn) => conn,
            None => tokio::time::timeout(self.connect_timeout, self.connect(tls, &host, port))
                .await
                .map_err(|_| TransportError::NotSent(format!("connect {host}:{port}: timed out")))??,
        };
        let response = {
            let mut sending = std::pin::pin!(conn.sender.try_send_request(request));
            std::future::poll_fn(|cx| {
                if let Poll::Ready(result) = sending.as_mut().poll(cx) {
                    return Poll::Ready(result);
                }
                let was_open = !conn.ended;
                conn.poll_driver(cx);
                if was_open && conn.ended {
                    // The connection ended: the request's own future now has its answer (an
                    // error); one more turn to read it.
                    cx.waker().wake_by_ref();
                }
                Poll::Pending
            })
            .await
        };
        let response = response.map_err(|mut e| match e.take_message() {
            // Never written: the connection was closed before it.
            Some(_) => TransportError::NotSent(e.into_error().to_string()),
            None => TransportError::Unanswered(e.into_error().to_string()),
        })?;
        let (parts, mut body) = response.into_parts();
        let mut collected = BytesMut::new();
        let max_body = self.max_body;
        std::future::poll_fn(|cx| {
            loop {
                match Pin::new(&mut body).poll_frame(cx) {
                    Poll::Ready(Some(Ok(frame))) => {
                        if let Ok(data) = frame.into_data() {
                            if collected.len() + data.len() > max_body {
                                return Poll::Ready(Err(TransportError::TooLarge(max_body)));
                            }
                            collected.extend_from_slice(&data);
                        }
                    }
                    Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(TransportError::Unanswered(e.to_string()))),
                    Poll::Ready(None) => {
                        // Let the connection see the end of the message (it goes idle).
                        conn.poll_driver(cx);
                        return Poll::Ready(Ok(()));
                    }
                    Poll::Pending => {
                        let was_open = !conn.ended;
                        conn.poll_driver(cx);
                        if was_open && conn.ended {
                            cx.waker().wake_by_ref();
                        }
                        return Poll::Pending;
                    }
                }
            }
        })
        .await?;
        if conn.usable() {
            self.put_idle(key, conn);
        }
        Ok(http::Response::from_parts(parts, collected.freeze()))
    }
}

impl HttpTransport for HyperTransport {
    fn send(
        &self,
        request: http::Request<Bytes>,
        timeout: Duration,
    ) -> BoxFuture<'static, Result<http::Response<Bytes>, TransportError>> {
        let inner = Arc::clone(&self.inner);
        super::bounded(timeout, async move { inner.exchange(request).await })
    }
}
