//! `RateLimiter::admit` and `observe` (two headers), uncontended and with two threads, against
//! a baseline of the bare uncontended `Mutex` lock/unlock the limiter takes per call.

use std::hint::black_box;
use std::sync::{Arc, Mutex};

use aegis_exchange::RateLimit;
use aegis_exchange::limits::{Cost, LimiterConfig, RateLimiter};
use aegis_exchange::{RateLimitInterval, RateLimitType};
use criterion::{Criterion, criterion_group, criterion_main};
use http::{HeaderMap, HeaderValue};

fn limits() -> Vec<RateLimit> {
    vec![
        RateLimit {
            rate_limit_type: RateLimitType::RequestWeight,
            interval: RateLimitInterval::Minute,
            interval_num: 1,
            limit: u64::MAX / 4,
        },
        RateLimit {
            rate_limit_type: RateLimitType::Orders,
            interval: RateLimitInterval::Second,
            interval_num: 10,
            limit: u64::MAX / 4,
        },
        RateLimit {
            rate_limit_type: RateLimitType::Orders,
            interval: RateLimitInterval::Day,
            interval_num: 1,
            limit: u64::MAX / 4,
        },
        RateLimit {
            rate_limit_type: RateLimitType::RawRequests,
            interval: RateLimitInterval::Minute,
            interval_num: 5,
            limit: u64::MAX / 4,
        },
    ]
}

fn bench_limits(c: &mut Criterion) {
    // Limits too high to ever wait, so every call does the full accounting.
    let limiter = Arc::new(RateLimiter::new(&limits(), LimiterConfig::default()));
    let now = 1_763_942_400_000i64;
    let cost = Cost { weight: 1, orders: 1, cancel: false };
    let mut headers = HeaderMap::new();
    headers.insert("x-mbx-used-weight-1m", HeaderValue::from_static("1500"));
    headers.insert("x-mbx-order-count-10s", HeaderValue::from_static("3"));
    let bare = Mutex::new(0u64);

    let mut g = c.benchmark_group("limits");
    g.bench_function("baseline_mutex_lock_unlock", |b| {
        b.iter(|| {
            let mut v = bare.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            *v += 1;
            black_box(*v)
        })
    });
    g.bench_function("admit", |b| b.iter(|| black_box(limiter.admit(black_box(cost), now))));
    g.bench_function("observe_two_headers", |b| b.iter(|| limiter.observe(200, black_box(&headers), b"", now)));
    g.bench_function("admit_contended_2_threads", |b| {
        let other = Arc::clone(&limiter);
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stop2 = Arc::clone(&stop);
        let t = std::thread::spawn(move || {
            while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
                black_box(other.admit(cost, now));
            }
        });
        b.iter(|| black_box(limiter.admit(black_box(cost), now)));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = t.join();
    });
    g.finish();
}

criterion_group!(benches, bench_limits);
criterion_main!(benches);
