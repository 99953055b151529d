//! The rate limiter against a simulated Binance counter, 429 / 418 handling, the cancel
//! reserve, the seed's scenario, hostile headers, and the retry policy.

use aegis_exchange::RateLimit;
use aegis_exchange::limits::{Admit, Cost, Failure, LimiterConfig, RateLimiter, Refusal, RetryDecision, RetryPolicy};
use aegis_exchange::{RateLimitInterval, RateLimitType};
use http::{HeaderMap, HeaderName, HeaderValue};
use proptest::prelude::*;

const T0: i64 = 1_763_942_400_000; // 2025-11-24T00:00:00Z, a day boundary

fn live_limits() -> Vec<RateLimit> {
    vec![
        RateLimit {
            rate_limit_type: RateLimitType::RequestWeight,
            interval: RateLimitInterval::Minute,
            interval_num: 1,
            limit: 6000,
        },
        RateLimit {
            rate_limit_type: RateLimitType::Orders,
            interval: RateLimitInterval::Second,
            interval_num: 10,
            limit: 100,
        },
        RateLimit {
            rate_limit_type: RateLimitType::Orders,
            interval: RateLimitInterval::Day,
            interval_num: 1,
            limit: 200_000,
        },
        RateLimit {
            rate_limit_type: RateLimitType::RawRequests,
            interval: RateLimitInterval::Minute,
            interval_num: 5,
            limit: 61_000,
        },
    ]
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        if let (Ok(k), Ok(v)) = (HeaderName::from_bytes(k.as_bytes()), HeaderValue::from_str(v)) {
            h.append(k, v);
        }
    }
    h
}

fn weight(w: u32) -> Cost {
    Cost { weight: w, orders: 0, cancel: false }
}

/// Binance's side: fixed windows aligned to the epoch, counting what was actually sent.
struct Server {
    windows: Vec<(RateLimitType, i64, u64, i64, u64)>, // kind, interval, limit, start, used
}

impl Server {
    fn new(limits: &[RateLimit]) -> Self {
        let windows = limits
            .iter()
            .map(|l| {
                (
                    l.rate_limit_type.clone(),
                    l.window_millis().and_then(|m| i64::try_from(m).ok()).unwrap_or(1),
                    l.limit,
                    i64::MIN,
                    0,
                )
            })
            .collect();
        Self { windows }
    }

    /// Counts a request; returns the headers Binance would answer with.
    fn receive(&mut self, cost: Cost, now: i64) -> HeaderMap {
        let mut out = Vec::new();
        for (kind, interval, limit, start, used) in &mut self.windows {
            let s = now.div_euclid(*interval) * *interval;
            if s != *start {
                *start = s;
                *used = 0;
            }
            *used += match kind {
                RateLimitType::RequestWeight => u64::from(cost.weight),
                RateLimitType::Orders => u64::from(cost.orders),
                _ => 1,
            };
            assert!(*used <= *limit, "server-side {kind} count {used} exceeds {limit} in window starting {start}");
            let suffix = match *interval {
                60_000 => "1M",
                10_000 => "10S",
                86_400_000 => "1D",
                _ => continue,
            };
            let name = if *kind == RateLimitType::RequestWeight { "X-MBX-USED-WEIGHT-" } else { "X-MBX-ORDER-COUNT-" };
            out.push((format!("{name}{suffix}"), used.to_string()));
        }
        let pairs: Vec<(&str, &str)> = out.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        headers(&pairs)
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Whatever the mix, a client that obeys the limiter never pushes Binance's count past any
    /// limit in any window (the server-side assertion is inside `Server::receive`).
    #[test]
    fn server_count_never_exceeds_a_limit(
        requests in proptest::collection::vec((1u32..=300, 0u32..=1, any::<bool>(), 0i64..400), 200..1500),
        other_traffic in proptest::collection::vec(0u64..300, 0..20),
    ) {
        let limits = live_limits();
        let limiter = RateLimiter::new(&limits, LimiterConfig::default());
        let mut server = Server::new(&limits);
        let mut now = T0 + 123;
        for (i, (w, orders, cancel, step)) in requests.into_iter().enumerate() {
            now += step;
            let cost = Cost { weight: w, orders, cancel };
            loop {
                match limiter.admit(cost, now) {
                    Admit::Proceed => {
                        let h = server.receive(cost, now);
                        limiter.observe(200, &h, b"", now);
                        break;
                    }
                    Admit::Wait { until_ms } => {
                        prop_assert!(until_ms > now);
                        now = until_ms;
                    }
                    Admit::Refused(r) => return Err(TestCaseError::fail(format!("refused {r:?}"))),
                }
            }
            // Another process on the same IP: the next answer's headers carry its weight too.
            // Every 97th request, another process sends some weight first.
            if i % 97 == 0
                && let Some(&extra) = other_traffic.get((i / 97) % other_traffic.len().max(1))
                && extra > 0
            {
                let h = server.receive(weight(u32::try_from(extra).unwrap_or(0)), now);
                limiter.observe(200, &h, b"", now);
            }
        }
        let m = limiter.metrics(now);
        prop_assert!(m.proceeded >= 200);
    }
}

#[test]
fn after_a_429_nothing_goes_out_before_retry_after() {
    let limiter = RateLimiter::new(&live_limits(), LimiterConfig::default());
    let now = T0 + 5_000;
    limiter.observe(429, &headers(&[("Retry-After", "7")]), br#"{"code":-1003,"msg":"Too many requests."}"#, now);
    for t in [now, now + 1, now + 6_999] {
        assert_eq!(limiter.admit(weight(1), t), Admit::Wait { until_ms: now + 7_000 });
        assert_eq!(
            limiter.admit(Cost { weight: 1, orders: 0, cancel: true }, t),
            Admit::Wait { until_ms: now + 7_000 }
        );
    }
    assert_eq!(limiter.admit(weight(1), now + 7_000), Admit::Proceed);
    // A repeated 429 holds longer (escalation), up to the configured maximum.
    limiter.observe(429, &headers(&[("Retry-After", "7")]), b"", now + 7_000);
    assert_eq!(limiter.admit(weight(1), now + 7_000 + 13_999), Admit::Wait { until_ms: now + 7_000 + 14_000 });
    // Without Retry-After the hold lasts at least to the weight window's end.
    let fresh = RateLimiter::new(&live_limits(), LimiterConfig::default());
    fresh.observe(429, &HeaderMap::new(), b"", T0 + 30_000);
    assert_eq!(fresh.admit(weight(1), T0 + 30_000), Admit::Wait { until_ms: T0 + 60_000 });
    assert_eq!(fresh.metrics(T0 + 30_000).throttled_429, 1);
}

#[test]
fn after_a_418_nothing_goes_out_until_the_ban_ends() {
    use aegis_exchange::{Clock, ManualClock};
    let clock = ManualClock::new(T0 + 1_000);
    let limiter = RateLimiter::new(&live_limits(), LimiterConfig::default());
    let banned_at = clock.now_millis();
    limiter.observe(418, &headers(&[("retry-after", "120")]), b"", banned_at);
    for step in [0, 60_000, 59_999] {
        clock.advance(step);
        let cancel = Cost { weight: 0, orders: 0, cancel: true };
        assert_eq!(
            limiter.admit(cancel, clock.now_millis()),
            Admit::Refused(Refusal::Banned { until_ms: banned_at + 120_000 })
        );
    }
    clock.advance(1);
    assert_eq!(limiter.admit(weight(1), clock.now_millis()), Admit::Proceed);
    // The ban's end only in the message (the live 2022 / 2024 wording).
    let by_message = RateLimiter::new(&live_limits(), LimiterConfig::default());
    let body = br#"{"code":-1003,"msg":"Way too much request weight used; IP banned until 1763942700000. Please use WebSocket Streams for live updates to avoid bans."}"#;
    by_message.observe(418, &HeaderMap::new(), body, T0);
    assert_eq!(
        by_message.admit(weight(1), 1_763_942_699_999),
        Admit::Refused(Refusal::Banned { until_ms: 1_763_942_700_000 })
    );
    assert_eq!(by_message.admit(weight(1), 1_763_942_700_000), Admit::Proceed);
    let m = by_message.metrics(T0);
    assert_eq!((m.bans_418, m.blocked_until_ms, m.held_ms), (1, Some(1_763_942_700_000), 300_000));
}

#[test]
fn near_the_limit_cancels_pass_while_new_orders_wait() {
    let limiter = RateLimiter::new(&live_limits(), LimiterConfig::default());
    let now = T0 + 1_000;
    // The server says 5400 of 6000 are used: exactly the 90% threshold.
    limiter.observe(200, &headers(&[("x-mbx-used-weight-1m", "5400")]), b"", now);
    let order = Cost { weight: 1, orders: 1, cancel: false };
    let cancel = Cost { weight: 1, orders: 0, cancel: true };
    assert_eq!(limiter.admit(order, now), Admit::Wait { until_ms: T0 + 60_000 });
    for _ in 0..300 {
        assert_eq!(limiter.admit(cancel, now), Admit::Proceed);
    }
    // The reserve (5%) is used up at 95%: cancels wait too, never past the limit.
    assert_eq!(limiter.admit(cancel, now), Admit::Wait { until_ms: T0 + 60_000 });
    // A new minute: everything flows again.
    assert_eq!(limiter.admit(order, T0 + 60_000), Admit::Proceed);
}

#[test]
fn the_seed_scenario_and_hostile_headers() {
    let limiter = RateLimiter::new(&live_limits(), LimiterConfig::default());
    let now = T0 + 10_000;
    // 1500 of 6000 used: no throttle.
    limiter.observe(200, &headers(&[("X-MBX-USED-WEIGHT-1M", "1500")]), b"", now);
    assert_eq!(limiter.admit(weight(20), now), Admit::Proceed);
    // Past the threshold: wait for the window to roll.
    limiter.observe(200, &headers(&[("x-Mbx-Used-Weight-1m", "5390")]), b"", now);
    assert_eq!(limiter.admit(weight(20), now), Admit::Wait { until_ms: T0 + 60_000 });
    // At the limit: nothing goes, even a cancel.
    limiter.observe(200, &headers(&[("X-MBX-USED-WEIGHT-1M", "6000")]), b"", now);
    assert_eq!(limiter.admit(Cost { weight: 1, orders: 0, cancel: true }, now), Admit::Wait { until_ms: T0 + 60_000 });
    // A lower count never lowers the estimate within the window.
    limiter.observe(200, &headers(&[("X-MBX-USED-WEIGHT-1M", "10")]), b"", now);
    assert_eq!(limiter.metrics(now).windows.first().map(|w| w.used), Some(6000));
    // Garbage is ignored and counted, never a panic.
    let before = limiter.metrics(now).ignored_headers;
    limiter.observe(
        200,
        &headers(&[
            ("X-MBX-USED-WEIGHT-1M", "-5"),
            ("X-MBX-USED-WEIGHT-1M", "12.5"),
            ("X-MBX-USED-WEIGHT-1M", "99999999999999999999999"),
            ("X-MBX-USED-WEIGHT-7X", "10"),
            ("X-MBX-ORDER-COUNT-", "1"),
            ("x-mbx-order-count-10s", "abc"),
            ("Retry-After", "soon"),
        ]),
        b"\xff\xfe",
        now,
    );
    assert_eq!(limiter.metrics(now).ignored_headers - before, 6);
    // Order counts from headers and from the WebSocket API's rateLimits array.
    limiter.observe(200, &headers(&[("X-MBX-ORDER-COUNT-10S", "99")]), b"", T0 + 70_000);
    assert_eq!(
        limiter.admit(Cost { weight: 1, orders: 1, cancel: false }, T0 + 70_000),
        Admit::Wait { until_ms: T0 + 80_000 }
    );
    let ws: aegis_exchange::ws_api::WsFrame =
        aegis_exchange::ws_api::WsFrame::decode(include_bytes!("fixtures/ws_api_order_place_response_ack.json"))
            .unwrap_or_else(|e| panic!("{e}"));
    let aegis_exchange::ws_api::WsFrame::Response(r) = ws else { panic!() };
    let fresh = RateLimiter::new(&live_limits(), LimiterConfig::default());
    fresh.observe_counts(&r.rate_limits, T0 + 1);
    assert!(fresh.metrics(T0 + 1).windows.iter().any(|w| w.kind == RateLimitType::Orders && w.used > 0));
}

#[test]
fn heavy_requests_and_defaults() {
    let limiter = RateLimiter::with_defaults();
    // Conservative defaults before exchangeInfo: 1200 weight a minute, 90% of it usable.
    assert_eq!(limiter.admit(weight(1081), T0), Admit::Refused(Refusal::TooHeavy));
    assert_eq!(limiter.admit(weight(1080), T0), Admit::Proceed);
    assert_eq!(limiter.admit(weight(1), T0), Admit::Wait { until_ms: T0 + 60_000 });
}

#[test]
fn retries_are_bounded_budgeted_and_never_for_orders() {
    let policy = RetryPolicy::new(4, 100, 2_000, 7);
    let now = T0;
    assert_eq!(
        policy.decide(false, Failure::ServerError, 1, now),
        RetryDecision::GiveUp,
        "an order POST is never retried"
    );
    assert_eq!(policy.decide(true, Failure::Definitive, 1, now), RetryDecision::GiveUp);
    for attempt in 1..4 {
        let RetryDecision::RetryAt(at) = policy.decide(true, Failure::Transport, attempt, now) else {
            panic!("attempt {attempt}")
        };
        let exp = (100i64 << (attempt - 1)).min(2_000);
        assert!(at >= now + exp / 2 && at <= now + exp, "attempt {attempt}: {}", at - now);
    }
    assert_eq!(policy.decide(true, Failure::ServerError, 4, now), RetryDecision::GiveUp, "attempts are bounded");
    // The budget: 10 retries up front, then only what successes earn.
    let storm = RetryPolicy::new(100, 1, 1, 1);
    let granted = (0..100)
        .filter(|_| matches!(storm.decide(true, Failure::ServerError, 1, now), RetryDecision::RetryAt(_)))
        .count();
    assert_eq!(granted, 10);
    for _ in 0..10 {
        storm.on_success();
    }
    assert!(matches!(storm.decide(true, Failure::ServerError, 1, now), RetryDecision::RetryAt(_)));
    assert_eq!(storm.decide(true, Failure::ServerError, 1, now), RetryDecision::GiveUp);
    // Seeded jitter is reproducible.
    let a = RetryPolicy::new(5, 1000, 10_000, 42);
    let b = RetryPolicy::new(5, 1000, 10_000, 42);
    assert_eq!(a.decide(true, Failure::Transport, 2, now), b.decide(true, Failure::Transport, 2, now));
}

#[test]
fn extreme_retry_after_and_clock_values_do_not_overflow() {
    let limiter = RateLimiter::new(&live_limits(), LimiterConfig::default());
    limiter.observe(418, &headers(&[("Retry-After", "9223372036854775")]), b"", i64::MIN + 5);
    limiter.observe(429, &headers(&[("Retry-After", "9223372036854775")]), b"", i64::MIN + 5);
    limiter.observe(429, &HeaderMap::new(), b"IP banned until 99999999999999999999999", i64::MAX - 5);
    let m = limiter.metrics(0);
    assert!(m.held_ms > 0 && m.bans_418 == 1 && m.throttled_429 == 2);
    // The ban computed from i64::MIN ends before 0; the later 429 hold still covers 0.
    assert!(matches!(limiter.admit(weight(1), 0), Admit::Wait { .. }));
}

#[test]
fn a_misconfigured_delay_never_schedules_a_retry_in_the_past() {
    let policy = RetryPolicy::new(5, 500, -10, 3);
    for attempt in 1..5 {
        match policy.decide(true, Failure::Transport, attempt, T0) {
            RetryDecision::RetryAt(at) => assert!(at >= T0 + 250, "attempt {attempt}: {}", at - T0),
            RetryDecision::GiveUp => panic!("attempt {attempt} should retry"),
        }
    }
}
