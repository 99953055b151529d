//! Stream names, connection URLs and the JSON control requests (SPEC §8.1).

use std::fmt::Write as _;

use serde_json::json;

use crate::clock::TimeUnit;

/// Binance closes a connection subscribed to more streams than this.
pub const MAX_STREAMS_PER_CONNECTION: usize = 1024;

/// How often a depth stream pushes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum UpdateSpeed {
    /// Every 1000 ms (the default stream name).
    #[default]
    Ms1000,
    /// Every 100 ms (`@100ms`).
    Ms100,
}

/// The levels of a partial depth stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DepthLevels {
    /// `@depth5`.
    Five,
    /// `@depth10`.
    Ten,
    /// `@depth20`.
    Twenty,
}

/// Why a connection URL could not be built.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StreamUrlError {
    /// No stream given.
    #[error("no stream to connect to")]
    Empty,
    /// More than [`MAX_STREAMS_PER_CONNECTION`] streams.
    #[error("{0} streams on one connection; Binance allows at most 1024")]
    TooMany(usize),
}

/// Stream names (lowercase symbols, as Binance requires).
///
/// ```
/// use aegis_exchange::stream::{names, DepthLevels, UpdateSpeed};
/// assert_eq!(names::trade("BTCUSDT"), "btcusdt@trade");
/// assert_eq!(names::partial_depth("BNBBTC", DepthLevels::Twenty, UpdateSpeed::Ms100), "bnbbtc@depth20@100ms");
/// assert_eq!(names::kline("ETHBTC", "1m"), "ethbtc@kline_1m");
/// ```
pub mod names {
    use super::{DepthLevels, UpdateSpeed};

    fn name(symbol: &str, suffix: &str) -> String {
        let mut s = symbol.to_lowercase();
        s.push('@');
        s.push_str(suffix);
        s
    }

    fn speed(s: UpdateSpeed) -> &'static str {
        match s {
            UpdateSpeed::Ms1000 => "",
            UpdateSpeed::Ms100 => "@100ms",
        }
    }

    /// `<symbol>@trade`.
    #[must_use]
    pub fn trade(symbol: &str) -> String {
        name(symbol, "trade")
    }

    /// `<symbol>@aggTrade`.
    #[must_use]
    pub fn agg_trade(symbol: &str) -> String {
        name(symbol, "aggTrade")
    }

    /// `<symbol>@kline_<interval>` (`1s`, `1m`, `3m`, `5m`, `15m`, `30m`, `1h`, `2h`, `4h`, `6h`,
    /// `8h`, `12h`, `1d`, `3d`, `1w`, `1M`).
    #[must_use]
    pub fn kline(symbol: &str, interval: &str) -> String {
        name(symbol, &format!("kline_{interval}"))
    }

    /// `<symbol>@bookTicker`.
    #[must_use]
    pub fn book_ticker(symbol: &str) -> String {
        name(symbol, "bookTicker")
    }

    /// `<symbol>@depth[@100ms]`: the diff stream the local book follows.
    #[must_use]
    pub fn depth(symbol: &str, update: UpdateSpeed) -> String {
        name(symbol, &format!("depth{}", speed(update)))
    }

    /// `<symbol>@depth<levels>[@100ms]`.
    #[must_use]
    pub fn partial_depth(symbol: &str, levels: DepthLevels, update: UpdateSpeed) -> String {
        let n = match levels {
            DepthLevels::Five => 5,
            DepthLevels::Ten => 10,
            DepthLevels::Twenty => 20,
        };
        name(symbol, &format!("depth{n}{}", speed(update)))
    }

    /// `<symbol>@ticker`.
    #[must_use]
    pub fn ticker(symbol: &str) -> String {
        name(symbol, "ticker")
    }

    /// `<symbol>@miniTicker`.
    #[must_use]
    pub fn mini_ticker(symbol: &str) -> String {
        name(symbol, "miniTicker")
    }

    /// `<symbol>@avgPrice`.
    #[must_use]
    pub fn avg_price(symbol: &str) -> String {
        name(symbol, "avgPrice")
    }

    /// `<symbol>@referencePrice`.
    #[must_use]
    pub fn reference_price(symbol: &str) -> String {
        name(symbol, "referencePrice")
    }
}

/// The URL of a combined-stream connection (`<base>/stream?streams=a/b/c`), whose frames are
/// wrapped in `{"stream":..,"data":..}`. Microsecond time fields are asked for with
/// `timeUnit=MICROSECOND`.
///
/// # Errors
/// [`StreamUrlError`] for no stream or more than 1024.
///
/// ```
/// use aegis_exchange::TimeUnit;
/// use aegis_exchange::stream::{combined_url, names};
/// let url = combined_url("wss://stream.binance.com:9443", &[names::trade("BTCUSDT"), names::book_ticker("BTCUSDT")], TimeUnit::Millisecond).unwrap();
/// assert_eq!(url, "wss://stream.binance.com:9443/stream?streams=btcusdt@trade/btcusdt@bookTicker");
/// ```
pub fn combined_url<S: AsRef<str>>(base: &str, streams: &[S], unit: TimeUnit) -> Result<String, StreamUrlError> {
    if streams.is_empty() {
        return Err(StreamUrlError::Empty);
    }
    if streams.len() > MAX_STREAMS_PER_CONNECTION {
        return Err(StreamUrlError::TooMany(streams.len()));
    }
    let mut url = format!("{}/stream?streams=", base.trim_end_matches('/'));
    for (i, s) in streams.iter().enumerate() {
        if i > 0 {
            url.push('/');
        }
        url.push_str(s.as_ref());
    }
    if unit == TimeUnit::Microsecond {
        let _ = write!(url, "&timeUnit={}", unit.as_str());
    }
    Ok(url)
}

/// A control message sent on a market-stream connection. Each one counts against the limit of 5
/// incoming messages per second per connection.
///
/// ```
/// use aegis_exchange::stream::{names, ControlRequest};
/// let req = ControlRequest::Subscribe { streams: vec![names::agg_trade("BTCUSDT")], id: 1 };
/// assert_eq!(req.to_json(), r#"{"id":1,"method":"SUBSCRIBE","params":["btcusdt@aggTrade"]}"#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlRequest {
    /// `SUBSCRIBE`.
    Subscribe {
        /// Stream names.
        streams: Vec<String>,
        /// Request id, echoed in the response.
        id: i64,
    },
    /// `UNSUBSCRIBE`.
    Unsubscribe {
        /// Stream names.
        streams: Vec<String>,
        /// Request id.
        id: i64,
    },
    /// `LIST_SUBSCRIPTIONS`.
    ListSubscriptions {
        /// Request id.
        id: i64,
    },
    /// `SET_PROPERTY ["combined", value]`.
    SetCombined {
        /// Wrap payloads as combined frames.
        combined: bool,
        /// Request id.
        id: i64,
    },
    /// `GET_PROPERTY ["combined"]`.
    GetCombined {
        /// Request id.
        id: i64,
    },
}

impl ControlRequest {
    /// The request's id.
    #[must_use]
    pub fn id(&self) -> i64 {
        match self {
            ControlRequest::Subscribe { id, .. }
            | ControlRequest::Unsubscribe { id, .. }
            | ControlRequest::ListSubscriptions { id }
            | ControlRequest::SetCombined { id, .. }
            | ControlRequest::GetCombined { id } => *id,
        }
    }

    /// The JSON text to send.
    #[must_use]
    pub fn to_json(&self) -> String {
        let id = self.id();
        let value = match self {
            ControlRequest::Subscribe { streams, .. } => json!({"method": "SUBSCRIBE", "params": streams, "id": id}),
            ControlRequest::Unsubscribe { streams, .. } => {
                json!({"method": "UNSUBSCRIBE", "params": streams, "id": id})
            }
            ControlRequest::ListSubscriptions { .. } => json!({"method": "LIST_SUBSCRIPTIONS", "id": id}),
            ControlRequest::SetCombined { combined, .. } => {
                json!({"method": "SET_PROPERTY", "params": ["combined", combined], "id": id})
            }
            ControlRequest::GetCombined { .. } => json!({"method": "GET_PROPERTY", "params": ["combined"], "id": id}),
        };
        value.to_string()
    }
}
