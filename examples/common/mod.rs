//! What the examples share: readable `tracing` logs, and the venue: the built-in paper exchange
//! by default, the Binance Spot testnet with `AEGIS_ENV=testnet` and keys
//! (`BINANCE_API_KEY` with `BINANCE_API_SECRET` for HMAC, or `BINANCE_ED25519_KEY_FILE`).

#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aegis_exchange::rest::{DepthSnapshot, Environment, Rest};
use aegis_exchange::sign::{Credentials, Ed25519, HmacSha256};
use aegis_exchange::transport::{HttpTransport, ReqwestTransport, TungsteniteTransport, WsTransport};
use aegis_exchange::{Clock, SystemClock};
use aegis_paper::{PaperConfig, PaperExchange, PaperKey, PaperTransport, WalkConfig};
use rust_decimal_macros::dec;

pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// Logs to stderr, compact; the level from `AEGIS_LOG` (`info` by default).
pub fn init_tracing() {
    let level =
        std::env::var("AEGIS_LOG").ok().and_then(|l| l.parse::<tracing::Level>().ok()).unwrap_or(tracing::Level::INFO);
    let _ = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_target(false)
        .with_writer(std::io::stderr)
        .compact()
        .try_init();
}

/// Where an example runs.
pub struct Venue {
    pub env: Environment,
    pub credentials: Credentials,
    pub http: Arc<dyn HttpTransport>,
    pub ws: Arc<dyn WsTransport>,
    pub clock: Arc<dyn Clock>,
    /// The paper exchange behind the transports (offline runs only).
    pub paper: Option<Arc<Mutex<PaperExchange>>>,
}

impl Venue {
    pub fn is_paper(&self) -> bool {
        self.paper.is_some()
    }

    /// The exchange's order book top (`limit` levels), over REST.
    pub async fn depth(&self, symbol: &str, limit: u32) -> Result<DepthSnapshot, Error> {
        let request = Rest::new(self.env.clone()).depth(symbol, Some(limit))?.request;
        let response = self.http.send(request, Duration::from_secs(10)).await?;
        let now = self.clock.now_millis();
        Ok(aegis_exchange::rest::decode::<DepthSnapshot>(response.status().as_u16(), response.body(), None, now)?)
    }
}

/// The paper exchange every offline example starts from: BTCUSDT at 65,000 and ETHUSDT at 3,200
/// on a still market, 50,000 USDT, 0.1 BTC and 2 ETH in the account.
pub fn paper_exchange(clock: &dyn Clock) -> PaperExchange {
    let config = PaperConfig::default()
        .with_walk(WalkConfig { step_ms: 0, ..WalkConfig::default() })
        .with_price("BTCUSDT", dec!(65000))
        .with_price("ETHUSDT", dec!(3200));
    let now = clock.now_millis();
    let mut paper = PaperExchange::new(config, now);
    paper.add_api_key("paperKey", PaperKey::hmac("paperSecret"));
    paper.deposit(now, "USDT", dec!(50000));
    paper.deposit(now, "BTC", dec!(0.1));
    paper.deposit(now, "ETH", dec!(2));
    paper
}

/// The venue from the environment: testnet when `AEGIS_ENV=testnet`, else `paper` (built by the
/// caller, so each example can shape its market).
pub fn venue(paper: impl FnOnce(&dyn Clock) -> PaperExchange) -> Result<Venue, Error> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    match std::env::var("AEGIS_ENV").as_deref() {
        Ok("testnet") => {
            let key = std::env::var("BINANCE_API_KEY").map_err(|_| "AEGIS_ENV=testnet needs BINANCE_API_KEY")?;
            let credentials = if let Ok(secret) = std::env::var("BINANCE_API_SECRET") {
                Credentials::new(key, HmacSha256::new(secret))?
            } else if let Ok(path) = std::env::var("BINANCE_ED25519_KEY_FILE") {
                let pem = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
                Credentials::new(key, Ed25519::from_pkcs8_pem(&pem)?)?
            } else {
                return Err("AEGIS_ENV=testnet needs BINANCE_API_SECRET or BINANCE_ED25519_KEY_FILE".into());
            };
            tracing::info!("venue: Binance Spot testnet");
            Ok(Venue {
                env: Environment::Testnet,
                credentials,
                http: Arc::new(ReqwestTransport::new()?),
                ws: Arc::new(TungsteniteTransport::new()?),
                clock,
                paper: None,
            })
        }
        Ok(other) if !other.is_empty() && other != "paper" => {
            Err(format!("AEGIS_ENV={other}: use `testnet`, or leave it unset for the paper exchange").into())
        }
        _ => {
            let transport = PaperTransport::new(paper(clock.as_ref()), Arc::clone(&clock));
            tracing::info!("venue: the built-in paper exchange (offline); AEGIS_ENV=testnet for the Spot testnet");
            Ok(Venue {
                env: PaperTransport::environment(),
                credentials: Credentials::new("paperKey", HmacSha256::new("paperSecret"))?,
                http: Arc::new(transport.clone()),
                ws: Arc::new(transport.clone()),
                clock,
                paper: Some(transport.exchange()),
            })
        }
    }
}

/// Locks the paper exchange (a poisoned lock is still usable: the exchange keeps no invariant
/// across a panic in an example).
pub fn lock(exchange: &Mutex<PaperExchange>) -> std::sync::MutexGuard<'_, PaperExchange> {
    exchange.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
