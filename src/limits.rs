//! Rate-limit accounting that cannot get the IP banned: a sans-IO `RateLimiter` seeded from
//! `exchangeInfo.rateLimits`, pre-charging every request before it leaves, correcting itself
//! upward from Binance's headers, holding after a 429 and halting after a 418; and a retry
//! policy that never retries an order POST.
//!
//! Windows are fixed and aligned to the clock as Binance aligns them (SPEC §5.1): a 1-minute
//! window resets at every minute start, a 10-second one at :00, :10, ..., a day at 00:00 UTC,
//! i.e. at multiples of the window length since the Unix epoch. Time is always an argument.

use std::sync::Mutex;

use http::HeaderMap;

use crate::model::{RateLimitInterval, RateLimitType};
use crate::rest::RateLimitCount;
use crate::rules::RateLimit;

/// What a request costs, as the limiter charges it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cost {
    /// REQUEST_WEIGHT (charge the failure weight: success may cost less, never more).
    pub weight: u32,
    /// Unfilled order count (ORDERS).
    pub orders: u32,
    /// Whether this is a cancel: cancels may use the reserved headroom.
    pub cancel: bool,
}

impl From<crate::rest::RequestCost> for Cost {
    fn from(c: crate::rest::RequestCost) -> Self {
        Cost { weight: c.weight, orders: c.orders, cancel: false }
    }
}

/// The limiter's answer to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Send it now (its cost has been charged).
    Proceed,
    /// Do not send before `until_ms` (epoch ms); ask again then.
    Wait {
        /// When to ask again.
        until_ms: i64,
    },
    /// Do not send it at all.
    Refused(Refusal),
}

/// Why a request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The IP is banned (418) until this instant.
    Banned {
        /// When the ban ends (epoch ms).
        until_ms: i64,
    },
    /// The request alone is heavier than the allowed share of a limit: it would never fit.
    TooHeavy,
}

/// A hold in force: nothing may leave before `until_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    /// When requests may leave again (epoch ms).
    pub until_ms: i64,
    /// A 418 ban (else a 429's hold).
    pub banned: bool,
}

/// Thresholds, in per-mille of each limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimiterConfig {
    /// Requests wait once they would take a window past this share (default 900 = 90%).
    pub threshold_permille: u32,
    /// Extra share only cancels may use above the threshold (default 50 = 5%), so cancels and
    /// the kill switch get through when ordinary traffic waits.
    pub cancel_reserve_permille: u32,
    /// The first hold after a 429 without `Retry-After` ends with the window; 429s after a hold
    /// has ended double the next hold, up to this (ms). 429s arriving during a hold (answers to
    /// requests that were in flight together) do not escalate it.
    pub max_hold_ms: i64,
}

impl Default for LimiterConfig {
    fn default() -> Self {
        Self { threshold_permille: 900, cancel_reserve_permille: 50, max_hold_ms: 5 * 60_000 }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Window {
    kind: RateLimitType,
    interval_ms: i64,
    /// The header suffix (`1M`, `10S`, `1D`) this window answers to.
    suffix: String,
    limit: u64,
    start_ms: i64,
    used: u64,
}

impl Window {
    fn roll(&mut self, now_ms: i64) {
        // Still inside the current window: the common case, no division needed.
        if now_ms >= self.start_ms && now_ms < self.end_ms() {
            return;
        }
        let start = now_ms.div_euclid(self.interval_ms) * self.interval_ms;
        if start != self.start_ms {
            self.start_ms = start;
            self.used = 0;
        }
    }

    fn end_ms(&self) -> i64 {
        self.start_ms.saturating_add(self.interval_ms)
    }
}

#[derive(Debug, Default)]
struct State {
    windows: Vec<Window>,
    hold_until_ms: i64,
    banned_until_ms: i64,
    strikes: u32,
    metrics: Counters,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Counters {
    proceeded: u64,
    waits: u64,
    refusals: u64,
    throttled_429: u64,
    bans_418: u64,
    ignored_headers: u64,
    held_ms: i64,
}

/// Usage of one limiter window, for logs and reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowUsage {
    /// The limiter.
    pub kind: RateLimitType,
    /// Its window length (ms).
    pub interval_ms: i64,
    /// Used in the current window (local estimate, corrected upward by the server).
    pub used: u64,
    /// The limit.
    pub limit: u64,
}

/// A snapshot of the limiter's state and history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimiterMetrics {
    /// Per window usage.
    pub windows: Vec<WindowUsage>,
    /// Requests admitted.
    pub proceeded: u64,
    /// Requests told to wait.
    pub waits: u64,
    /// Requests refused (banned, too heavy).
    pub refusals: u64,
    /// 429 answers seen.
    pub throttled_429: u64,
    /// 418 answers seen.
    pub bans_418: u64,
    /// Rate-limit headers that could not be read and were ignored.
    pub ignored_headers: u64,
    /// Total time held by 429s and 418s (ms).
    pub held_ms: i64,
    /// Whether requests are held or banned right now, until when (epoch ms).
    pub blocked_until_ms: Option<i64>,
}

/// The rate limiter: `Sync`, cheap to consult from many tasks (one short lock per call).
///
/// ```
/// use aegis_exchange::limits::{Admit, Cost, RateLimiter};
/// let limiter = RateLimiter::with_defaults();
/// assert_eq!(limiter.admit(Cost { weight: 20, orders: 0, cancel: false }, 1_700_000_000_000), Admit::Proceed);
/// // After a 418 nothing goes out until the ban ends.
/// limiter.observe(418, &http::HeaderMap::new(), br#"{"code":-1003,"msg":"Way too much request weight used; IP banned until 1700000100000."}"#, 1_700_000_000_500);
/// assert!(matches!(limiter.admit(Cost::default(), 1_700_000_050_000), Admit::Refused(_)));
/// assert_eq!(limiter.admit(Cost::default(), 1_700_000_100_000), Admit::Proceed);
/// ```
#[derive(Debug)]
pub struct RateLimiter {
    config: LimiterConfig,
    state: Mutex<State>,
}

/// Conservative limits for before exchangeInfo is loaded: the lowest values Binance has used.
pub fn default_rate_limits() -> Vec<RateLimit> {
    vec![
        RateLimit {
            rate_limit_type: RateLimitType::RequestWeight,
            interval: RateLimitInterval::Minute,
            interval_num: 1,
            limit: 1200,
        },
        RateLimit {
            rate_limit_type: RateLimitType::Orders,
            interval: RateLimitInterval::Second,
            interval_num: 10,
            limit: 50,
        },
        RateLimit {
            rate_limit_type: RateLimitType::Orders,
            interval: RateLimitInterval::Day,
            interval_num: 1,
            limit: 160_000,
        },
        RateLimit {
            rate_limit_type: RateLimitType::RawRequests,
            interval: RateLimitInterval::Minute,
            interval_num: 5,
            limit: 6100,
        },
    ]
}

impl RateLimiter {
    /// A limiter for `limits` (from `exchangeInfo.rateLimits`); entries of unknown type or
    /// interval are ignored.
    #[must_use]
    pub fn new(limits: &[RateLimit], config: LimiterConfig) -> Self {
        let windows = limits
            .iter()
            .filter(|l| {
                matches!(
                    l.rate_limit_type,
                    RateLimitType::RequestWeight | RateLimitType::Orders | RateLimitType::RawRequests
                )
            })
            .filter_map(|l| {
                let interval_ms = i64::try_from(l.window_millis()?).ok().filter(|ms| *ms > 0)?;
                let letter = l.interval.header_letter()?;
                Some(Window {
                    kind: l.rate_limit_type.clone(),
                    interval_ms,
                    suffix: format!("{}{letter}", l.interval_num),
                    limit: l.limit,
                    start_ms: i64::MIN,
                    used: 0,
                })
            })
            .collect();
        Self { config, state: Mutex::new(State { windows, ..State::default() }) }
    }

    /// Takes new limits (a fresh `exchangeInfo.rateLimits`) while keeping what was counted in
    /// the windows both sets have, and any hold or ban.
    pub fn set_limits(&self, limits: &[RateLimit]) {
        let fresh = Self::new(limits, self.config);
        let mut windows = fresh.lock().windows.clone();
        let mut s = self.lock();
        for w in &mut windows {
            if let Some(old) = s.windows.iter().find(|o| o.kind == w.kind && o.interval_ms == w.interval_ms) {
                w.start_ms = old.start_ms;
                w.used = old.used;
            }
        }
        s.windows = windows;
    }

    /// The ban or hold in force at `now_ms`, if any.
    #[must_use]
    pub fn blocked(&self, now_ms: i64) -> Option<Block> {
        let s = self.lock();
        if now_ms < s.banned_until_ms {
            Some(Block { until_ms: s.banned_until_ms, banned: true })
        } else if now_ms < s.hold_until_ms {
            Some(Block { until_ms: s.hold_until_ms, banned: false })
        } else {
            None
        }
    }

    /// A limiter with [`default_rate_limits`] and the default thresholds.
    #[must_use]
    pub fn with_defaults() -> Self {
        Self::new(&default_rate_limits(), LimiterConfig::default())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the counters inconsistent in a way that
        // matters more than stopping: keep using them.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn cap(&self, limit: u64, cancel: bool) -> u64 {
        let permille = u64::from(self.config.threshold_permille)
            + if cancel { u64::from(self.config.cancel_reserve_permille) } else { 0 };
        limit.saturating_mul(permille.min(1000)) / 1000
    }

    /// Asks to send a request of `cost` at `now_ms`; on [`Admit::Proceed`] its cost is charged.
    pub fn admit(&self, cost: Cost, now_ms: i64) -> Admit {
        let mut s = self.lock();
        if now_ms < s.banned_until_ms {
            s.metrics.refusals += 1;
            return Admit::Refused(Refusal::Banned { until_ms: s.banned_until_ms });
        }
        if now_ms < s.hold_until_ms {
            s.metrics.waits += 1;
            return Admit::Wait { until_ms: s.hold_until_ms };
        }
        let mut wait_until: Option<i64> = None;
        for w in &mut s.windows {
            w.roll(now_ms);
            let charge = charge_for(&w.kind, cost);
            if charge == 0 {
                continue;
            }
            let cap = self.cap(w.limit, cost.cancel);
            if charge > cap {
                s.metrics.refusals += 1;
                return Admit::Refused(Refusal::TooHeavy);
            }
            if w.used.saturating_add(charge) > cap {
                wait_until = Some(wait_until.map_or(w.end_ms(), |t| t.max(w.end_ms())));
            }
        }
        if let Some(until_ms) = wait_until {
            s.metrics.waits += 1;
            return Admit::Wait { until_ms };
        }
        for w in &mut s.windows {
            let charge = charge_for(&w.kind, cost);
            w.used = w.used.saturating_add(charge);
        }
        s.metrics.proceeded += 1;
        Admit::Proceed
    }

    /// Reads an answer: `X-MBX-USED-WEIGHT-*` / `X-MBX-ORDER-COUNT-*` headers (any case) raise
    /// the local counts, never lower them; a 429 holds every request until `Retry-After` (or
    /// the window's end), longer on repeats; a 418 bans until `Retry-After` or the time in
    /// `IP banned until <ms>`. Unreadable headers are counted and ignored.
    pub fn observe(&self, status: u16, headers: &HeaderMap, body: &[u8], now_ms: i64) {
        let mut s = self.lock();
        for (name, value) in headers {
            // A `HeaderName` is lower case: the prefixes compare byte for byte.
            let Some(name) = name.as_str().strip_prefix("x-mbx-") else { continue };
            let (kind, suffix) = if let Some(rest) = name.strip_prefix("used-weight-") {
                (RateLimitType::RequestWeight, rest)
            } else if let Some(rest) = name.strip_prefix("order-count-") {
                (RateLimitType::Orders, rest)
            } else {
                continue;
            };
            let parsed = std::str::from_utf8(value.as_bytes().trim_ascii()).ok().and_then(|v| v.parse::<u64>().ok());
            let window = s.windows.iter_mut().find(|w| w.kind == kind && w.suffix.eq_ignore_ascii_case(suffix));
            match (parsed, window) {
                (Some(used), Some(w)) => {
                    w.roll(now_ms);
                    w.used = w.used.max(used);
                }
                _ => s.metrics.ignored_headers += 1,
            }
        }
        match status {
            200..=299 => s.strikes = 0,
            418 | 429 => self.throttled(&mut s, status, headers, body, now_ms),
            _ => {}
        }
    }

    /// A 418 (banned) or a 429 (too many requests): the ban or the hold it starts (out of line:
    /// an answer's common path is the loop over its headers above).
    #[cold]
    #[inline(never)]
    fn throttled(&self, s: &mut State, status: u16, headers: &HeaderMap, body: &[u8], now_ms: i64) {
        let retry_after_until = headers
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| crate::rest::retry_after_at(v, now_ms));
        match status {
            418 => {
                let until = retry_after_until
                    .or_else(|| banned_until(body))
                    // A ban of unknown length: Binance's shortest is 2 minutes.
                    .unwrap_or_else(|| now_ms.saturating_add(120_000));
                s.metrics.bans_418 += 1;
                if until > s.banned_until_ms {
                    s.metrics.held_ms =
                        s.metrics.held_ms.saturating_add(until.saturating_sub(now_ms.max(s.banned_until_ms)));
                    s.banned_until_ms = until;
                }
            }
            429 => {
                // A 429 during a hold answers a request sent before the hold was known (in flight
                // together with the first one): it is no new strike.
                if now_ms >= s.hold_until_ms {
                    s.strikes = s.strikes.saturating_add(1);
                }
                s.metrics.throttled_429 += 1;
                // Windows not consulted yet still carry their initial start: roll them first.
                for w in &mut s.windows {
                    w.roll(now_ms);
                }
                let window_end =
                    s.windows.iter().filter(|w| w.kind == RateLimitType::RequestWeight).map(Window::end_ms).min();
                let base = retry_after_until
                    .map(|at| at.saturating_sub(now_ms))
                    .unwrap_or_else(|| window_end.map_or(60_000, |end| end.saturating_sub(now_ms).max(1_000)));
                let escalated = base
                    .saturating_mul(1i64 << s.strikes.saturating_sub(1).min(16))
                    .min(self.config.max_hold_ms.max(base));
                let until = now_ms.saturating_add(escalated);
                if let Some(until_banned) = banned_until(body) {
                    s.banned_until_ms = s.banned_until_ms.max(until_banned);
                }
                if until > s.hold_until_ms {
                    s.metrics.held_ms =
                        s.metrics.held_ms.saturating_add(until.saturating_sub(now_ms.max(s.hold_until_ms)));
                    s.hold_until_ms = until;
                }
            }
            _ => {}
        }
    }

    /// Feeds the WebSocket API's `rateLimits` array: counts raise the local ones, never lower.
    pub fn observe_counts(&self, counts: &[RateLimitCount], now_ms: i64) {
        let mut s = self.lock();
        for c in counts {
            let Some(ms) =
                c.interval.millis().and_then(|m| m.checked_mul(c.interval_num)).and_then(|m| i64::try_from(m).ok())
            else {
                s.metrics.ignored_headers += 1;
                continue;
            };
            if let Some(w) = s.windows.iter_mut().find(|w| w.kind == c.rate_limit_type && w.interval_ms == ms) {
                w.roll(now_ms);
                w.used = w.used.max(c.count);
            }
        }
    }

    /// The current state and history.
    #[must_use]
    pub fn metrics(&self, now_ms: i64) -> LimiterMetrics {
        let s = self.lock();
        let blocked = s.banned_until_ms.max(s.hold_until_ms);
        LimiterMetrics {
            windows: s
                .windows
                .iter()
                .map(|w| WindowUsage {
                    kind: w.kind.clone(),
                    interval_ms: w.interval_ms,
                    used: if now_ms >= w.end_ms() { 0 } else { w.used },
                    limit: w.limit,
                })
                .collect(),
            proceeded: s.metrics.proceeded,
            waits: s.metrics.waits,
            refusals: s.metrics.refusals,
            throttled_429: s.metrics.throttled_429,
            bans_418: s.metrics.bans_418,
            ignored_headers: s.metrics.ignored_headers,
            held_ms: s.metrics.held_ms,
            blocked_until_ms: (blocked > now_ms).then_some(blocked),
        }
    }
}

fn charge_for(kind: &RateLimitType, cost: Cost) -> u64 {
    match kind {
        RateLimitType::RequestWeight => u64::from(cost.weight),
        RateLimitType::Orders => u64::from(cost.orders),
        RateLimitType::RawRequests => 1,
        _ => 0,
    }
}

/// The ban's end in a 418 / -1003 body (`... IP banned until <ms>. ...`).
fn banned_until(body: &[u8]) -> Option<i64> {
    crate::rest::banned_until(std::str::from_utf8(body).ok()?)
}

/// What failed, for the retry policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// A 5xx answer.
    ServerError,
    /// No answer: connect error, reset, timeout.
    Transport,
    /// Anything else (4xx): definitive, never retried.
    Definitive,
}

/// Whether to try again, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryDecision {
    /// Retry at this instant (epoch ms).
    RetryAt(i64),
    /// Do not retry. For an order POST this means: its outcome is unknown, reconcile it.
    GiveUp,
}

/// Retries for idempotent requests only: exponential back-off with seeded jitter, a bound on
/// attempts, and a budget (retries earn tokens only through successes), so failures cannot
/// turn into a storm. Order POSTs are never retried.
#[derive(Debug)]
pub struct RetryPolicy {
    max_attempts: u32,
    base_delay_ms: i64,
    max_delay_ms: i64,
    budget: Mutex<Budget>,
}

/// The retry budget: tokens in tenths of a retry, and the jitter's random state.
#[derive(Debug)]
struct Budget {
    tenths: u64,
    rng: u64,
}

impl RetryPolicy {
    /// At most `max_attempts` tries per request (the first included), delays from
    /// `base_delay_ms` doubling up to `max_delay_ms`, jitter seeded by `seed`.
    #[must_use]
    pub fn new(max_attempts: u32, base_delay_ms: i64, max_delay_ms: i64, seed: u64) -> Self {
        // Start with room for 10 retries; each success adds a tenth of one.
        let base_delay_ms = base_delay_ms.max(1);
        Self {
            max_attempts,
            base_delay_ms,
            max_delay_ms: max_delay_ms.max(base_delay_ms),
            budget: Mutex::new(Budget { tenths: 100, rng: seed }),
        }
    }

    /// The longest delay between two tries (ms).
    #[must_use]
    pub fn max_delay_ms(&self) -> i64 {
        self.max_delay_ms
    }

    /// Records a success (earns a tenth of a retry, up to 100 retries' worth).
    pub fn on_success(&self) {
        let mut b = self.budget.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        b.tenths = (b.tenths + 1).min(1000);
    }

    /// Decides about retrying `attempt` (1 = the first try failed) of a request.
    pub fn decide(&self, idempotent: bool, failure: Failure, attempt: u32, now_ms: i64) -> RetryDecision {
        if !idempotent || failure == Failure::Definitive || attempt >= self.max_attempts {
            return RetryDecision::GiveUp;
        }
        let mut b = self.budget.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if b.tenths < 10 {
            return RetryDecision::GiveUp;
        }
        b.tenths -= 10;
        let exp = self.base_delay_ms.saturating_mul(1i64 << attempt.saturating_sub(1).min(20)).min(self.max_delay_ms);
        // Full jitter in [exp/2, exp].
        let r = crate::model::splitmix64(&mut b.rng);
        let half = exp / 2;
        let jitter = if half > 0 { i64::try_from(r % u64::try_from(half + 1).unwrap_or(1)).unwrap_or(0) } else { 0 };
        RetryDecision::RetryAt(now_ms.saturating_add(half + jitter))
    }
}
