//! `ApiError`: an error answer from Binance, and what it means for the request (SPEC §7).

use std::fmt;

use serde::Deserialize;

/// What an error answer means for the request that caused it. Every send failure falls in one
/// of these; in particular an order whose outcome is [`Outcome::Unknown`] must be looked up by
/// its client order id, never sent again.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Definitively refused: the request did nothing, and sending it again unchanged fails again.
    Rejected(Rejection),
    /// Over a rate limit: back off until `retry_after_ms` (epoch ms) when known.
    RateLimited {
        /// When requests may resume (epoch ms), from `Retry-After` or the error's data.
        retry_after_ms: Option<i64>,
    },
    /// The IP is banned until `until_ms` (epoch ms) when known: send nothing before it.
    Banned {
        /// When the ban ends (epoch ms).
        until_ms: Option<i64>,
    },
    /// The request may or may not have been executed (5xx, -1006, -1007, an unreadable body):
    /// query before acting.
    Unknown,
    /// The key, its permissions or the signature were refused (-2014, -2015, -1022, -1002).
    Auth,
    /// The timestamp was outside the receive window (-1021): re-sync the clock.
    Timestamp,
}

/// Why a request was definitively refused.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// `-1013 Filter failure: <TYPE>`: the filter's name.
    Filter(String),
    /// `-2010`: the matching engine's reason (`Account has insufficient balance ...`).
    NewOrderRejected(String),
    /// `-2011`: a cancel refused (`Unknown order sent.`, cancel restrictions).
    CancelRejected(String),
    /// `-2013 Order does not exist.`
    NoSuchOrder,
    /// Any other definitive request error (`-11xx` parameter errors, `-1013` non-filter
    /// messages, `-2xxx`), with its code.
    Request(i64),
}

/// An error answer from Binance: HTTP status, code, message, and when to retry if it says.
///
/// ```
/// use aegis_exchange::rest::{ApiError, Outcome, Rejection};
/// let e = ApiError::from_parts(400, br#"{"code":-1013,"msg":"Filter failure: LOT_SIZE"}"#, None, 0);
/// assert_eq!(e.outcome(), Outcome::Rejected(Rejection::Filter("LOT_SIZE".into())));
/// let ban = ApiError::from_parts(418, br#"{"code":-1003,"msg":"Way too much request weight used; IP banned until 1659761931230. Please use the websocket for live updates to avoid bans."}"#, None, 0);
/// assert_eq!(ban.outcome(), Outcome::Banned { until_ms: Some(1659761931230) });
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status (or the WebSocket API's `status`).
    pub status: u16,
    /// Binance's error code, when the body had one.
    pub code: Option<i64>,
    /// Binance's message, or a description of the unreadable body.
    pub msg: String,
    /// When to retry (epoch ms), from `Retry-After` or the error's `data.retryAfter`.
    pub retry_after_ms: Option<i64>,
}

#[derive(Deserialize)]
struct Body {
    code: i64,
    #[serde(default)]
    msg: String,
    #[serde(default)]
    data: Option<Data>,
}

#[derive(Deserialize)]
struct Data {
    #[serde(default, rename = "retryAfter")]
    retry_after: Option<i64>,
}

/// The longest message kept from an unreadable body (bounded memory for hostile input).
const MAX_MSG: usize = 256;

impl ApiError {
    /// Reads an error answer: `status`, the body, the `Retry-After` header's value (seconds) if
    /// any, and the local time it arrived (epoch ms) to turn `Retry-After` into an instant.
    /// A body that is not Binance's `{"code","msg"}` is kept as text (bounded), with no code.
    #[must_use]
    pub fn from_parts(status: u16, body: &[u8], retry_after_header: Option<&str>, now_ms: i64) -> Self {
        let header_ms = retry_after_header.and_then(|v| retry_after_at(v, now_ms));
        match serde_json::from_slice::<Body>(body) {
            Ok(b) => Self {
                status,
                code: Some(b.code),
                msg: b.msg,
                retry_after_ms: b.data.and_then(|d| d.retry_after).or(header_ms),
            },
            Err(_) => {
                let text = String::from_utf8_lossy(body);
                let msg: String = text.chars().take(MAX_MSG).collect();
                Self { status, code: None, msg, retry_after_ms: header_ms }
            }
        }
    }

    /// What the error means for the request (SPEC §7).
    #[must_use]
    pub fn outcome(&self) -> Outcome {
        if self.status == 418 {
            return Outcome::Banned { until_ms: self.retry_after_ms.or_else(|| banned_until(&self.msg)) };
        }
        if self.status == 429 || matches!(self.code, Some(-1003 | -1015)) {
            if let Some(until) = banned_until(&self.msg) {
                return Outcome::Banned { until_ms: Some(until) };
            }
            return Outcome::RateLimited { retry_after_ms: self.retry_after_ms };
        }
        if self.status >= 500 {
            return Outcome::Unknown;
        }
        match self.code {
            None => Outcome::Unknown,
            Some(-1006 | -1007) => Outcome::Unknown,
            Some(-1021) => Outcome::Timestamp,
            Some(-1002 | -1022 | -2014 | -2015) => Outcome::Auth,
            Some(-1013) => match self.msg.strip_prefix("Filter failure: ") {
                Some(name) => Outcome::Rejected(Rejection::Filter(name.trim_end_matches('.').trim().to_owned())),
                None => Outcome::Rejected(Rejection::Request(-1013)),
            },
            Some(-2010) => Outcome::Rejected(Rejection::NewOrderRejected(self.msg.clone())),
            Some(-2011) => Outcome::Rejected(Rejection::CancelRejected(self.msg.clone())),
            Some(-2013) => Outcome::Rejected(Rejection::NoSuchOrder),
            // -1000 UNKNOWN, -1001 DISCONNECTED, -1008 SERVER_BUSY: nothing says it did not run.
            Some(-1000 | -1001 | -1008) => Outcome::Unknown,
            Some(code) => Outcome::Rejected(Rejection::Request(code)),
        }
    }
}

/// The instant a `Retry-After` header (whole seconds) points to, from `now_ms`; `None` for a
/// value that is not a non-negative integer (also used by the rate limiter).
pub(crate) fn retry_after_at(value: &str, now_ms: i64) -> Option<i64> {
    let secs = i64::try_from(value.trim().parse::<u64>().ok()?).ok()?;
    Some(now_ms.saturating_add(secs.checked_mul(1000)?))
}

/// The instant in `... IP banned until 1659761931230. ...` (also used by the rate limiter).
pub(crate) fn banned_until(msg: &str) -> Option<i64> {
    let rest = msg.split("banned until ").nth(1)?;
    let end = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
    rest.get(..end)?.parse().ok()
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.code {
            Some(code) => write!(f, "HTTP {} code {code}: {}", self.status, self.msg),
            None => write!(f, "HTTP {}: {}", self.status, self.msg),
        }
    }
}

impl std::error::Error for ApiError {}
