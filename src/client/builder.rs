//! [`ClientBuilder`]: a client in one line for production, the testnet, Demo Mode or any
//! other base URLs, from keys or key files, on the real backends unless told otherwise.

use std::sync::Arc;

use super::{Client, ClientConfig, ClientError};
use crate::clock::{Clock, SystemClock};
use crate::engine::EngineConfig;
use crate::rest::Environment;
use crate::sign::{Credentials, Ed25519, HmacSha256};
use crate::transport::{HttpTransport, WsTransport};

/// Where the builder's credentials come from when read from the process environment.
pub const ENV_API_KEY: &str = "BINANCE_API_KEY";
/// The HMAC secret's variable.
pub const ENV_API_SECRET: &str = "BINANCE_API_SECRET";
/// The variable naming an Ed25519 private key file (PKCS#8 PEM), used when no secret is set.
pub const ENV_ED25519_KEY_FILE: &str = "BINANCE_ED25519_KEY_FILE";

/// A change of the configuration, applied at `connect`.
type Configure = Box<dyn FnOnce(&mut ClientConfig) + Send>;

/// Builds and connects a [`Client`]. The environment picks the URLs
/// ([`Environment::Production`], [`Environment::Testnet`], [`Environment::Demo`], or
/// [`Environment::Custom`]); credentials come from keys, a key file or the process environment;
/// the transports default to [`HyperTransport`](crate::transport::HyperTransport) and
/// [`TungsteniteTransport`](crate::transport::TungsteniteTransport) (features `hyper` and
/// `tungstenite`, on by default), the clock to the system's.
///
/// ```no_run
/// # async fn run() -> Result<(), aegis_exchange::client::ClientError> {
/// use aegis_exchange::client::Client;
/// use aegis_exchange::rest::Environment;
/// // BINANCE_API_KEY and BINANCE_API_SECRET (or BINANCE_ED25519_KEY_FILE) from the environment.
/// let client = Client::builder(Environment::Testnet).credentials_from_env().connect().await?;
/// # let _ = client; Ok(()) }
/// ```
///
/// Errors in what was given (a missing variable, an unreadable key file, a malformed key) are
/// reported by [`connect`](Self::connect), as [`ClientError::Setup`].
#[must_use = "a builder does nothing until `connect`"]
pub struct ClientBuilder {
    env: Environment,
    credentials: Option<Result<Credentials, String>>,
    configure: Vec<Configure>,
    http: Option<Arc<dyn HttpTransport>>,
    ws: Option<Arc<dyn WsTransport>>,
    clock: Option<Arc<dyn Clock>>,
}

impl std::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("env", &self.env)
            .field("credentials", &self.credentials.as_ref().map(|c| c.as_ref().map(|_| "set")))
            .field("custom_transports", &(self.http.is_some(), self.ws.is_some()))
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    pub(super) fn new(env: Environment) -> Self {
        Self { env, credentials: None, configure: Vec::new(), http: None, ws: None, clock: None }
    }

    /// An HMAC-SHA256 key.
    pub fn hmac(mut self, api_key: &str, secret: &str) -> Self {
        self.credentials = Some(Credentials::new(api_key, HmacSha256::new(secret)).map_err(|e| e.to_string()));
        self
    }

    /// An Ed25519 key from its private key in PKCS#8 PEM (the file Binance's key generator writes).
    pub fn ed25519_pem(mut self, api_key: &str, pem: &str) -> Self {
        self.credentials = Some(
            Ed25519::from_pkcs8_pem(pem)
                .map_err(|e| e.to_string())
                .and_then(|signer| Credentials::new(api_key, signer).map_err(|e| e.to_string())),
        );
        self
    }

    /// An Ed25519 key from a PKCS#8 PEM file.
    pub fn ed25519_pem_file(self, api_key: &str, path: impl AsRef<std::path::Path>) -> Self {
        let path = path.as_ref();
        match std::fs::read_to_string(path) {
            Ok(pem) => self.ed25519_pem(api_key, &pem),
            Err(e) => self.failed(format!("{}: {e}", path.display())),
        }
    }

    /// Credentials built by the caller.
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(Ok(credentials));
        self
    }

    /// Credentials from the process environment: `BINANCE_API_KEY` with `BINANCE_API_SECRET`
    /// (HMAC), or with `BINANCE_ED25519_KEY_FILE` (an Ed25519 PEM file) when no secret is set.
    pub fn credentials_from_env(self) -> Self {
        self.credentials_from(|name| std::env::var(name).ok())
    }

    /// [`credentials_from_env`](Self::credentials_from_env) with the variables read through
    /// `lookup` (a configuration file, a secret store, a test).
    pub fn credentials_from(self, lookup: impl Fn(&str) -> Option<String>) -> Self {
        let Some(key) = lookup(ENV_API_KEY).filter(|k| !k.is_empty()) else {
            return self.failed(format!("{ENV_API_KEY} is not set"));
        };
        if let Some(secret) = lookup(ENV_API_SECRET).filter(|s| !s.is_empty()) {
            return self.hmac(&key, &secret);
        }
        match lookup(ENV_ED25519_KEY_FILE).filter(|p| !p.is_empty()) {
            Some(path) => self.ed25519_pem_file(&key, path),
            None => self.failed(format!("neither {ENV_API_SECRET} nor {ENV_ED25519_KEY_FILE} is set")),
        }
    }

    /// Changes the configuration (limits, timeouts, the shutdown policy, ...) before connecting.
    pub fn configure(mut self, f: impl FnOnce(&mut ClientConfig) + Send + 'static) -> Self {
        self.configure.push(Box::new(f));
        self
    }

    /// Other transports (a proxy's, the in-process paper exchange's, a recorder).
    pub fn transports(mut self, http: Arc<dyn HttpTransport>, ws: Arc<dyn WsTransport>) -> Self {
        self.http = Some(http);
        self.ws = Some(ws);
        self
    }

    /// Another clock (a simulation's).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    fn failed(mut self, why: String) -> Self {
        self.credentials = Some(Err(why));
        self
    }

    /// Connects: start-up as [`Client::connect`] does it (time, rules, balances, open orders,
    /// the user-data stream).
    ///
    /// # Errors
    /// [`ClientError::Setup`] for missing or unusable credentials, or no transport (the default
    /// backends' features are off and none was given); then as [`Client::connect`].
    pub async fn connect(self) -> Result<Client, ClientError> {
        let credentials = match self.credentials {
            Some(Ok(c)) => c,
            Some(Err(why)) => return Err(ClientError::Setup(why)),
            None => {
                return Err(ClientError::Setup(
                    "no credentials: hmac, ed25519_pem(_file) or credentials_from_env".into(),
                ));
            }
        };
        let mut config = ClientConfig::new(EngineConfig::new(self.env, credentials));
        for f in self.configure {
            f(&mut config);
        }
        let http = match self.http {
            Some(h) => h,
            None => default_http()?,
        };
        let ws = match self.ws {
            Some(w) => w,
            None => default_ws()?,
        };
        let clock = self.clock.unwrap_or_else(|| Arc::new(SystemClock));
        Client::connect(config, http, ws, clock).await
    }
}

#[cfg(feature = "hyper")]
fn default_http() -> Result<Arc<dyn HttpTransport>, ClientError> {
    Ok(Arc::new(crate::transport::HyperTransport::new()?))
}

#[cfg(all(not(feature = "hyper"), feature = "reqwest"))]
fn default_http() -> Result<Arc<dyn HttpTransport>, ClientError> {
    Ok(Arc::new(crate::transport::ReqwestTransport::new()?))
}

#[cfg(not(any(feature = "hyper", feature = "reqwest")))]
fn default_http() -> Result<Arc<dyn HttpTransport>, ClientError> {
    Err(ClientError::Setup("no HTTP transport: enable the `hyper` or `reqwest` feature, or pass transports".into()))
}

#[cfg(feature = "tungstenite")]
fn default_ws() -> Result<Arc<dyn WsTransport>, ClientError> {
    Ok(Arc::new(crate::transport::TungsteniteTransport::new()?))
}

#[cfg(not(feature = "tungstenite"))]
fn default_ws() -> Result<Arc<dyn WsTransport>, ClientError> {
    Err(ClientError::Setup("no WebSocket transport: enable the `tungstenite` feature, or pass transports".into()))
}
