use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};

use rust_decimal::Decimal;

/// Milliseconds since the epoch on this machine's clock: what [`Clock::now_millis`] reads and
/// what the engine's and the tracker's `now` inputs are. Not interchangeable with [`ServerMs`]:
/// neither converts into the other (a raw `i64` converts into either).
///
/// A local time where a request's server `timestamp` belongs does not compile:
///
/// ```compile_fail
/// use aegis_exchange::LocalMs;
/// use aegis_exchange::rest::{Environment, Rest};
/// let rest = Rest::new(Environment::Testnet);
/// let _ = rest.account(false, LocalMs(1_700_000_000_000));
/// ```
///
/// nor does a server time where the engine's local `now` belongs:
///
/// ```compile_fail
/// use aegis_exchange::ServerMs;
/// use aegis_exchange::{Engine, EngineConfig};
/// use aegis_exchange::rest::Environment;
/// use aegis_exchange::sign::{Credentials, HmacSha256};
/// let creds = Credentials::new("k", HmacSha256::new("s")).unwrap();
/// let mut engine = Engine::new(EngineConfig::new(Environment::Testnet, creds), Default::default());
/// engine.handle_timeout(ServerMs(1_700_000_000_000));
/// ```
///
/// while the right ones do:
///
/// ```
/// use aegis_exchange::{LocalMs, ServerMs};
/// use aegis_exchange::{Engine, EngineConfig};
/// use aegis_exchange::rest::{Environment, Rest};
/// use aegis_exchange::sign::{Credentials, HmacSha256};
/// let creds = Credentials::new("k", HmacSha256::new("s")).unwrap();
/// let rest = Rest::new(Environment::Testnet).with_credentials(creds.clone());
/// assert!(rest.account(false, ServerMs(1_700_000_000_000)).is_ok());
/// let mut engine = Engine::new(EngineConfig::new(Environment::Testnet, creds), Default::default());
/// engine.handle_timeout(LocalMs(1_700_000_000_000));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct LocalMs(pub i64);

/// Milliseconds since the epoch on Binance's clock: a request's `timestamp`, `serverTime`,
/// event times. [`TimeSync::server_now`] turns a [`LocalMs`] into one.
///
/// ```
/// use aegis_exchange::{LocalMs, ServerMs, TimeSync, TimeSyncConfig};
/// let sync = TimeSync::new(TimeSyncConfig::default());
/// let server: ServerMs = sync.server_now(LocalMs(1_700_000_000_000));
/// assert_eq!(server.millis(), 1_700_000_000_000); // no sample yet: no offset
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ServerMs(pub i64);

impl LocalMs {
    /// The milliseconds.
    #[must_use]
    pub const fn millis(self) -> i64 {
        self.0
    }
}

impl ServerMs {
    /// The milliseconds.
    #[must_use]
    pub const fn millis(self) -> i64 {
        self.0
    }
}

impl From<i64> for LocalMs {
    fn from(ms: i64) -> Self {
        Self(ms)
    }
}

impl From<i64> for ServerMs {
    fn from(ms: i64) -> Self {
        Self(ms)
    }
}

/// A source of the current time, in milliseconds since the Unix epoch.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Milliseconds since 1970-01-01T00:00:00Z.
    fn now_millis(&self) -> i64;
}

/// The operating system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    // The one sanctioned read of the wall clock in the crate.
    #[allow(clippy::disallowed_methods)]
    fn now_millis(&self) -> i64 {
        match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
            Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
        }
    }
}

/// A clock that moves only when told: for tests and simulations. Shareable across threads.
///
/// ```
/// use aegis_exchange::{Clock, ManualClock};
/// let clock = ManualClock::new(1_700_000_000_000);
/// clock.advance(250);
/// assert_eq!(clock.now_millis(), 1_700_000_000_250);
/// ```
#[derive(Debug, Default)]
pub struct ManualClock {
    now: AtomicI64,
}

impl ManualClock {
    /// A clock reading `now_millis`.
    #[must_use]
    pub fn new(now_millis: i64) -> Self {
        Self { now: AtomicI64::new(now_millis) }
    }

    /// Sets the time.
    pub fn set(&self, now_millis: i64) {
        self.now.store(now_millis, Ordering::SeqCst);
    }

    /// Moves the time forward (or back, with a negative `millis`).
    pub fn advance(&self, millis: i64) {
        self.now.fetch_add(millis, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_millis(&self) -> i64 {
        self.now.load(Ordering::SeqCst)
    }
}

/// One `GET /api/v3/time` exchange: when it left, what the server said, when the answer came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeSample {
    /// Local time the request was sent (ms).
    pub sent_at: i64,
    /// `serverTime` from the response (ms).
    pub server_time: i64,
    /// Local time the response arrived (ms).
    pub received_at: i64,
}

impl TimeSample {
    /// The round trip (ms); a sample whose clock went backwards has none.
    #[must_use]
    pub fn round_trip(&self) -> Option<i64> {
        self.received_at.checked_sub(self.sent_at).filter(|rtt| *rtt >= 0)
    }

    /// Server time minus the local midpoint of the round trip (ms): what to add to the local
    /// clock to read the server's.
    #[must_use]
    pub fn offset(&self) -> i64 {
        let midpoint = self.sent_at / 2 + self.received_at / 2 + (self.sent_at % 2 + self.received_at % 2) / 2;
        self.server_time.saturating_sub(midpoint)
    }
}

/// How the server-time offset is estimated and refreshed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeSyncConfig {
    /// How many recent samples are kept; the one with the lowest round trip wins.
    pub samples: usize,
    /// Re-sync after this long without a fresh estimate (ms).
    pub resync_interval_ms: i64,
    /// Samples whose round trip exceeds this are ignored (ms): their midpoint is too uncertain.
    pub max_round_trip_ms: i64,
}

impl Default for TimeSyncConfig {
    fn default() -> Self {
        Self { samples: 5, resync_interval_ms: 5 * 60_000, max_round_trip_ms: 5_000 }
    }
}

/// Estimates the offset between the local clock and Binance's from `/api/v3/time` samples:
/// each sample's offset is taken from the midpoint of its round trip, and the estimate is the
/// sample with the lowest round trip among the last N (the least uncertain one). It asks for a
/// re-sync periodically, and at once after a `-1021`.
///
/// ```
/// use aegis_exchange::{TimeSample, TimeSync};
/// let mut sync = TimeSync::default();
/// sync.add_sample(TimeSample { sent_at: 1_000, server_time: 1_600, received_at: 1_200 }); // rtt 200
/// sync.add_sample(TimeSample { sent_at: 2_000, server_time: 2_530, received_at: 2_040 }); // rtt 40
/// assert_eq!(sync.offset(), Some(510));
/// assert_eq!(sync.server_now(10_000).millis(), 10_510);
/// ```
///
/// Time: the `Clock` trait (system and manual clocks), the server-time offset estimator, and
/// `recvWindow`.
///
/// The core never reads the wall clock itself: `SystemClock` is the one place that does, and
/// everything else takes `now` as an argument or a `&dyn Clock`, so tests replay any timing
/// exactly with a `ManualClock`. Binance checks `timestamp` against its own clock (SPEC §2.7):
/// a request is refused with -1021 when `timestamp >= serverTime + 1000` or
/// `serverTime - timestamp > recvWindow`, so timestamps are stamped with the local clock plus
/// the estimated offset to the server's.
#[derive(Debug, Clone, Default)]
pub struct TimeSync {
    config: TimeSyncConfig,
    samples: Vec<(TimeSample, i64)>,
    best: Option<(i64, i64)>,
    synced_at: Option<i64>,
    stale: bool,
}

impl TimeSync {
    /// An estimator with `config`.
    #[must_use]
    pub fn new(config: TimeSyncConfig) -> Self {
        Self { config, samples: Vec::with_capacity(config.samples), best: None, synced_at: None, stale: false }
    }

    /// Adds a sample; returns whether it was used (a sample with a negative or too long round
    /// trip is ignored).
    pub fn add_sample(&mut self, sample: TimeSample) -> bool {
        let Some(rtt) = sample.round_trip().filter(|rtt| *rtt <= self.config.max_round_trip_ms) else {
            return false;
        };
        if self.samples.len() >= self.config.samples.max(1) {
            self.samples.remove(0);
        }
        self.samples.push((sample, rtt));
        self.best = self.samples.iter().min_by_key(|(_, rtt)| *rtt).map(|(s, rtt)| (s.offset(), *rtt));
        self.synced_at = Some(sample.received_at);
        self.stale = false;
        true
    }

    /// The estimated offset (server minus local, ms), once a sample was accepted.
    #[must_use]
    pub fn offset(&self) -> Option<i64> {
        self.best.map(|(offset, _)| offset)
    }

    /// The round trip of the sample the estimate comes from (its uncertainty is half of it).
    #[must_use]
    pub fn uncertainty_ms(&self) -> Option<i64> {
        self.best.map(|(_, rtt)| rtt / 2)
    }

    /// The server's time now, given the local time (the local time itself before any sample).
    #[must_use]
    pub fn server_now(&self, local_now: impl Into<LocalMs>) -> ServerMs {
        ServerMs(local_now.into().0.saturating_add(self.offset().unwrap_or(0)))
    }

    /// Marks the estimate stale: call it when a request was refused with -1021.
    pub fn mark_stale(&mut self) {
        self.stale = true;
    }

    /// Whether a new `/api/v3/time` round should be made now: never synced, marked stale, or
    /// older than the re-sync interval.
    #[must_use]
    pub fn needs_resync(&self, local_now: i64) -> bool {
        match self.synced_at {
            None => true,
            Some(at) => self.stale || local_now.saturating_sub(at) >= self.config.resync_interval_ms,
        }
    }
}

/// Why a `recvWindow` was refused.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RecvWindowError {
    /// Binance's maximum is 60000 ms.
    #[error("recvWindow must be at most 60000 ms, got {0}")]
    TooLarge(Decimal),
    /// Zero or negative.
    #[error("recvWindow must be positive, got {0}")]
    NotPositive(Decimal),
    /// More than 3 decimals (microsecond precision is the finest Binance takes).
    #[error("recvWindow takes at most 3 decimals, got {0}")]
    TooPrecise(Decimal),
}

/// `recvWindow` in milliseconds: positive, at most 60000, at most 3 decimals. Default 5000.
///
/// ```
/// use aegis_exchange::RecvWindow;
/// use rust_decimal_macros::dec;
/// assert_eq!(RecvWindow::default().to_string(), "5000");
/// assert_eq!(RecvWindow::new(dec!(6000.346)).unwrap().to_string(), "6000.346");
/// assert!(RecvWindow::new(dec!(60000.001)).is_err());
/// assert!(RecvWindow::new(dec!(1.0001)).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecvWindow {
    micros: u64,
}

impl RecvWindow {
    /// The largest window Binance accepts.
    pub const MAX_MILLIS: u64 = 60_000;

    /// A window of `millis` (up to 3 decimals).
    ///
    /// # Errors
    /// A [`RecvWindowError`] naming the broken rule.
    pub fn new(millis: Decimal) -> Result<Self, RecvWindowError> {
        if millis.is_sign_negative() || millis.is_zero() {
            return Err(RecvWindowError::NotPositive(millis));
        }
        if millis > Decimal::from(Self::MAX_MILLIS) {
            return Err(RecvWindowError::TooLarge(millis));
        }
        let micros = millis.checked_mul(Decimal::from(1000)).ok_or(RecvWindowError::TooLarge(millis))?;
        if !micros.fract().is_zero() {
            return Err(RecvWindowError::TooPrecise(millis));
        }
        use rust_decimal::prelude::ToPrimitive as _;
        let micros = micros.to_u64().ok_or(RecvWindowError::TooLarge(millis))?;
        Ok(Self { micros })
    }

    /// A window of whole milliseconds.
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn from_millis(millis: u32) -> Result<Self, RecvWindowError> {
        Self::new(Decimal::from(millis))
    }

    /// The window in microseconds.
    #[must_use]
    pub fn as_micros(&self) -> u64 {
        self.micros
    }

    /// The window in whole milliseconds, rounded down.
    #[must_use]
    pub fn as_millis(&self) -> u64 {
        self.micros / 1000
    }
}

impl Default for RecvWindow {
    fn default() -> Self {
        Self { micros: 5_000_000 }
    }
}

impl fmt::Display for RecvWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (ms, frac) = (self.micros / 1000, self.micros % 1000);
        if frac == 0 {
            write!(f, "{ms}")
        } else {
            let digits = format!("{frac:03}");
            write!(f, "{ms}.{}", digits.trim_end_matches('0'))
        }
    }
}

/// The unit of `timestamp` (and of time fields in responses): milliseconds by default,
/// microseconds when asked for with `X-MBX-TIME-UNIT` / `timeUnit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TimeUnit {
    /// Milliseconds (Binance's default).
    #[default]
    Millisecond,
    /// Microseconds.
    Microsecond,
}

impl TimeUnit {
    /// The value of the `X-MBX-TIME-UNIT` header / `timeUnit` parameter.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            TimeUnit::Millisecond => "MILLISECOND",
            TimeUnit::Microsecond => "MICROSECOND",
        }
    }

    /// A `timestamp` parameter for server time `server_now_ms` in this unit.
    #[must_use]
    pub fn timestamp(self, server_now_ms: i64) -> i64 {
        match self {
            TimeUnit::Millisecond => server_now_ms,
            TimeUnit::Microsecond => server_now_ms.saturating_mul(1000),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn offset_comes_from_the_lowest_round_trip_among_recent_samples() {
        let mut sync = TimeSync::new(TimeSyncConfig { samples: 3, ..TimeSyncConfig::default() });
        assert!(sync.needs_resync(0));
        assert_eq!(sync.offset(), None);
        assert!(sync.add_sample(TimeSample { sent_at: 0, server_time: 1_100, received_at: 100 })); // rtt 100, off 1050
        assert!(sync.add_sample(TimeSample { sent_at: 1_000, server_time: 2_015, received_at: 1_010 })); // rtt 10, off 1010
        assert!(sync.add_sample(TimeSample { sent_at: 2_000, server_time: 3_060, received_at: 2_050 })); // rtt 50
        assert_eq!(sync.offset(), Some(1_010));
        assert_eq!(sync.uncertainty_ms(), Some(5));
        // The best sample ages out of the window of 3.
        assert!(sync.add_sample(TimeSample { sent_at: 3_000, server_time: 4_030, received_at: 3_040 })); // rtt 40, off 1010
        assert!(sync.add_sample(TimeSample { sent_at: 4_000, server_time: 5_000, received_at: 4_060 })); // rtt 60, off 970
        assert_eq!(sync.offset(), Some(1_010));
        assert!(sync.add_sample(TimeSample { sent_at: 5_000, server_time: 6_000, received_at: 5_070 })); // rtt 70
        assert_eq!(sync.offset(), Some(1_010)); // the rtt-40 sample is still among the last 3
        assert!(sync.add_sample(TimeSample { sent_at: 6_000, server_time: 7_000, received_at: 6_080 })); // rtt 80
        assert_eq!(sync.offset(), Some(970)); // now the rtt-60 sample is the best
        // Backwards or too slow samples are ignored.
        assert!(!sync.add_sample(TimeSample { sent_at: 10, server_time: 0, received_at: 5 }));
        assert!(!sync.add_sample(TimeSample { sent_at: 0, server_time: 0, received_at: 9_999 }));
        assert_eq!(sync.server_now(100_000), ServerMs(100_970));
    }

    #[test]
    fn resync_is_due_periodically_and_after_a_timestamp_error() {
        let mut sync = TimeSync::default();
        sync.add_sample(TimeSample { sent_at: 0, server_time: 10, received_at: 20 });
        assert!(!sync.needs_resync(20 + 299_999));
        assert!(sync.needs_resync(20 + 300_000));
        sync.mark_stale();
        assert!(sync.needs_resync(21));
        sync.add_sample(TimeSample { sent_at: 30, server_time: 40, received_at: 50 });
        assert!(!sync.needs_resync(51));
    }

    #[test]
    fn recv_window_rules() {
        assert_eq!(RecvWindow::new(dec!(60000)).map(|w| w.as_millis()), Ok(60_000));
        assert_eq!(RecvWindow::new(dec!(60000.001)), Err(RecvWindowError::TooLarge(dec!(60000.001))));
        assert_eq!(RecvWindow::new(dec!(0)), Err(RecvWindowError::NotPositive(dec!(0))));
        assert_eq!(RecvWindow::new(dec!(-5)), Err(RecvWindowError::NotPositive(dec!(-5))));
        assert_eq!(RecvWindow::new(dec!(100.0005)), Err(RecvWindowError::TooPrecise(dec!(100.0005))));
        assert_eq!(RecvWindow::new(dec!(0.001)).map(|w| (w.as_micros(), w.to_string())), Ok((1, "0.001".into())));
        assert_eq!(RecvWindow::new(dec!(6000.340)).map(|w| w.to_string()), Ok("6000.34".into()));
        assert_eq!(RecvWindow::from_millis(5000), Ok(RecvWindow::default()));
    }

    #[test]
    fn clocks() {
        let c = ManualClock::new(5);
        c.advance(-10);
        assert_eq!(c.now_millis(), -5);
        c.set(1_483_228_800_000);
        assert_eq!(c.now_millis(), 1_483_228_800_000);
        // The system clock is past 2017 (Binance's lower bound for timestamps).
        assert!(SystemClock.now_millis() > 1_483_228_800_000);
        assert_eq!(TimeUnit::Microsecond.timestamp(1_000), 1_000_000);
        assert_eq!(TimeUnit::default().as_str(), "MILLISECOND");
    }

    #[test]
    fn midpoint_offset_is_exact_for_odd_times() {
        let s = TimeSample { sent_at: 1, server_time: 100, received_at: 4 };
        assert_eq!((s.round_trip(), s.offset()), (Some(3), 98));
        let extreme = TimeSample { sent_at: i64::MAX - 1, server_time: 0, received_at: i64::MAX };
        assert_eq!(extreme.round_trip(), Some(1));
        let _ = extreme.offset();
    }
}
