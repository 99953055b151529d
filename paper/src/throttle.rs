//! The paper exchange's rate limits: fixed windows aligned to the clock (SPEC §5.1), the
//! `X-MBX-USED-WEIGHT-*` / `X-MBX-ORDER-COUNT-*` headers, 429 with `Retry-After` when a limit is
//! crossed, and a 418 ban, escalating from 2 minutes to 3 days, when 429s are ignored.

use aegis_exchange::RateLimit;
use aegis_exchange::{RateLimitInterval, RateLimitType};

use super::reply::Reply;

/// The shortest and the longest ban (SPEC §5.2).
const FIRST_BAN_MS: i64 = 2 * 60_000;
const LONGEST_BAN_MS: i64 = 3 * 86_400_000;

#[derive(Debug, Clone)]
struct Window {
    kind: RateLimitType,
    interval_ms: i64,
    /// `1M`, `10S`, `1D`: the header suffix.
    suffix: String,
    /// `MINUTE`, `SECOND`, ... and the number, for messages and `rateLimit/order`.
    interval: RateLimitInterval,
    interval_num: u64,
    limit: u64,
    start: i64,
    used: u64,
}

impl Window {
    fn roll(&mut self, now: i64) {
        let start = now - now.rem_euclid(self.interval_ms.max(1));
        if start != self.start {
            self.start = start;
            self.used = 0;
        }
    }

    fn ends(&self) -> i64 {
        self.start.saturating_add(self.interval_ms)
    }
}

/// Why a request was refused before it ran.
#[derive(Debug)]
pub(crate) struct Refused(pub(crate) Reply);

/// The counters of one IP and one account.
#[derive(Debug, Clone)]
pub(crate) struct Throttle {
    windows: Vec<Window>,
    /// 429s answered in a row that the client ignored.
    ignored: u32,
    /// Until when a 429 has been answered (a request before then ignores it).
    told_until: i64,
    banned_until: i64,
    bans: u32,
    ban_after: u32,
    /// Requests that arrived during a ban, and before a 429's `Retry-After`.
    violations: super::ThrottleViolations,
}

impl Throttle {
    pub(crate) fn new(limits: &[RateLimit], ban_after: u32) -> Self {
        let windows = limits
            .iter()
            .filter_map(|l| {
                let interval_ms = i64::try_from(l.window_millis()?).ok()?;
                let letter = l.interval.header_letter()?;
                Some(Window {
                    kind: l.rate_limit_type.clone(),
                    interval_ms,
                    suffix: format!("{}{letter}", l.interval_num),
                    interval: l.interval.clone(),
                    interval_num: l.interval_num,
                    limit: l.limit,
                    start: i64::MIN,
                    used: 0,
                })
            })
            .collect();
        Self {
            windows,
            ignored: 0,
            told_until: i64::MIN,
            banned_until: i64::MIN,
            bans: 0,
            ban_after: ban_after.max(1),
            violations: super::ThrottleViolations::default(),
        }
    }

    /// Admits a request of `weight` (and one raw request) or refuses it with 429 / 418.
    pub(crate) fn admit(&mut self, now: i64, weight: u64) -> Result<(), Refused> {
        if now < self.banned_until {
            self.violations.in_ban += 1;
            return Err(Refused(self.banned(now)));
        }
        if now < self.told_until {
            self.violations.before_retry_after += 1;
        }
        for w in &mut self.windows {
            w.roll(now);
        }
        let over = self.windows.iter().find(|w| {
            let cost = match w.kind {
                RateLimitType::RequestWeight => weight,
                RateLimitType::RawRequests => 1,
                _ => 0,
            };
            cost > 0 && w.used.saturating_add(cost) > w.limit
        });
        let Some(over) = over.cloned() else {
            self.ignored = 0;
            for w in &mut self.windows {
                if w.kind == RateLimitType::RawRequests {
                    w.used += 1;
                }
            }
            return Ok(());
        };
        if now < self.told_until {
            self.ignored += 1;
            if self.ignored >= self.ban_after {
                let length = FIRST_BAN_MS.saturating_mul(1_i64 << self.bans.min(20)).min(LONGEST_BAN_MS);
                self.bans += 1;
                self.ignored = 0;
                self.banned_until = now.saturating_add(length);
                return Err(Refused(self.banned(now)));
            }
        }
        self.told_until = over.ends();
        let msg = match over.kind {
            RateLimitType::RawRequests => "Too many requests queued.".to_owned(),
            _ => format!(
                "Too much request weight used; current limit is {} request weight per {} {}. Please use WebSocket Streams for live updates to avoid polling the API.",
                over.limit,
                over.interval_num,
                over.interval.as_str()
            ),
        };
        Err(Refused(Reply::error(429, -1003, &msg).with_retry_after(seconds_until(now, over.ends()))))
    }

    fn banned(&self, now: i64) -> Reply {
        let msg = format!(
            "Way too much request weight used; IP banned until {}. Please use WebSocket Streams for live updates to avoid bans.",
            self.banned_until
        );
        Reply::error(418, -1003, &msg).with_retry_after(seconds_until(now, self.banned_until))
    }

    /// Charges `weight` to every REQUEST_WEIGHT window.
    pub(crate) fn charge(&mut self, now: i64, weight: u64) {
        for w in &mut self.windows {
            w.roll(now);
            if w.kind == RateLimitType::RequestWeight {
                w.used = w.used.saturating_add(weight);
            }
        }
    }

    /// Whether one more order fits every ORDERS window; the refusal is Binance's -1015.
    pub(crate) fn admit_order(&mut self, now: i64) -> Result<(), Refused> {
        for w in &mut self.windows {
            w.roll(now);
            if w.kind == RateLimitType::Orders && w.used >= w.limit {
                let msg = format!(
                    "Too many new orders; current limit is {} orders per {} {}.",
                    w.limit,
                    w.interval_num,
                    w.interval.as_str()
                );
                let retry = seconds_until(now, w.ends());
                return Err(Refused(Reply::error(429, -1015, &msg).with_retry_after(retry)));
            }
        }
        Ok(())
    }

    /// Counts one new order in every ORDERS window.
    pub(crate) fn count_order(&mut self, now: i64) {
        for w in &mut self.windows {
            w.roll(now);
            if w.kind == RateLimitType::Orders {
                w.used += 1;
            }
        }
    }

    /// An order that traded leaves the unfilled order count (SPEC §5.1).
    pub(crate) fn order_traded(&mut self, now: i64) {
        for w in &mut self.windows {
            w.roll(now);
            if w.kind == RateLimitType::Orders {
                w.used = w.used.saturating_sub(1);
            }
        }
    }

    /// `X-MBX-USED-WEIGHT-*` headers (every response) and, for orders, `X-MBX-ORDER-COUNT-*`.
    pub(crate) fn headers(&mut self, now: i64, orders: bool) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for w in &mut self.windows {
            w.roll(now);
            match w.kind {
                RateLimitType::RequestWeight => {
                    out.push((format!("X-MBX-USED-WEIGHT-{}", w.suffix), w.used.to_string()))
                }
                RateLimitType::Orders if orders => {
                    out.push((format!("X-MBX-ORDER-COUNT-{}", w.suffix), w.used.to_string()));
                }
                _ => {}
            }
        }
        out
    }

    /// The ORDERS windows as `GET /api/v3/rateLimit/order` lists them.
    pub(crate) fn order_counts(&mut self, now: i64) -> Vec<(RateLimitInterval, u64, u64, u64)> {
        self.windows
            .iter_mut()
            .filter(|w| w.kind == RateLimitType::Orders)
            .map(|w| {
                w.roll(now);
                (w.interval.clone(), w.interval_num, w.limit, w.used)
            })
            .collect()
    }

    /// Every window as the WebSocket API's `rateLimits` lists it: (type, interval, number,
    /// limit, count).
    pub(crate) fn counts(&mut self, now: i64) -> Vec<(RateLimitType, RateLimitInterval, u64, u64, u64)> {
        self.windows
            .iter_mut()
            .filter(|w| w.kind != RateLimitType::RawRequests)
            .map(|w| {
                w.roll(now);
                (w.kind.clone(), w.interval.clone(), w.interval_num, w.limit, w.used)
            })
            .collect()
    }

    /// The requests that ignored a ban or a `Retry-After` so far.
    pub(crate) fn violations(&self) -> super::ThrottleViolations {
        self.violations
    }

    /// Until when the IP is banned, if it is.
    pub(crate) fn banned_until(&self, now: i64) -> Option<i64> {
        (now < self.banned_until).then_some(self.banned_until)
    }

    /// Bans the IP now for `ms` (fault injection).
    pub(crate) fn ban_for(&mut self, now: i64, ms: i64) {
        self.banned_until = now.saturating_add(ms.max(0));
    }
}

fn seconds_until(now: i64, until: i64) -> u64 {
    let ms = until.saturating_sub(now).max(0);
    u64::try_from((ms + 999) / 1000).unwrap_or(0)
}
