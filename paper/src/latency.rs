//! How late messages arrive: a log-normal distribution fitted to a mean and a 99th percentile
//! (network latency has a long right tail; a log-normal matches both numbers exactly).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

#[cfg(any(feature = "server", test))]
use crate::market::Rng;

/// The standard normal's 99th percentile.
#[cfg(any(feature = "server", test))]
const Z99: f64 = 2.326_347_874_040_841;
/// No draw is longer than this (a log-normal's tail is unbounded).
#[cfg(any(feature = "server", test))]
const MAX_DRAW: Duration = Duration::from_secs(10);

/// A latency distribution: its mean and its 99th percentile.
///
/// ```
/// use aegis_paper::LatencyProfile;
/// use std::time::Duration;
/// let tokyo: LatencyProfile = "tokyo".parse().unwrap();
/// assert_eq!(tokyo, LatencyProfile::TOKYO);
/// assert_eq!(tokyo.p99(), Duration::from_millis(13));
/// let custom: LatencyProfile = "2.5/9".parse().unwrap();
/// assert_eq!(custom.mean(), Duration::from_micros(2500));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LatencyProfile {
    mean: Duration,
    p99: Duration,
}

/// Why a [`LatencyProfile`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LatencyError {
    /// The mean is zero, or the 99th percentile is below the mean.
    #[error("a latency profile needs 0 < mean <= p99 (got mean {mean:?}, p99 {p99:?})")]
    Order {
        /// The mean given.
        mean: Duration,
        /// The 99th percentile given.
        p99: Duration,
    },
    /// A 99th percentile more than [`MAX_TAIL`](LatencyProfile::MAX_TAIL) times the mean: no
    /// log-normal has it.
    #[error("a log-normal's 99th percentile is at most {max}x its mean (got mean {mean:?}, p99 {p99:?})", max = LatencyProfile::MAX_TAIL)]
    Tail {
        /// The mean given.
        mean: Duration,
        /// The 99th percentile given.
        p99: Duration,
    },
    /// Not `tokyo` nor `MEAN_MS/P99_MS`.
    #[error("a latency profile is `tokyo` or `MEAN_MS/P99_MS` (like `4/13`), not {0:?}")]
    Syntax(String),
}

impl LatencyProfile {
    /// Binance Spot market data as received in AWS Tokyo (ap-northeast-1): 4 ms on average,
    /// 13 ms at the 99th percentile.
    pub const TOKYO: Self = Self { mean: Duration::from_millis(4), p99: Duration::from_millis(13) };

    /// The longest tail a profile may have: its 99th percentile over its mean (a log-normal's
    /// ratio is `exp(sigma * 2.326 - sigma^2 / 2)`, at most `exp(2.326^2 / 2)` = 14.9).
    pub const MAX_TAIL: u32 = 14;

    /// A profile with this mean and 99th percentile.
    ///
    /// # Errors
    /// [`LatencyError::Order`] unless `0 < mean <= p99`; [`LatencyError::Tail`] when
    /// `p99 > MAX_TAIL * mean`.
    pub fn new(mean: Duration, p99: Duration) -> Result<Self, LatencyError> {
        if mean.is_zero() || p99 < mean {
            return Err(LatencyError::Order { mean, p99 });
        }
        if p99 > mean.saturating_mul(Self::MAX_TAIL) {
            return Err(LatencyError::Tail { mean, p99 });
        }
        Ok(Self { mean, p99 })
    }

    /// The mean.
    #[must_use]
    pub fn mean(&self) -> Duration {
        self.mean
    }

    /// The 99th percentile.
    #[must_use]
    pub fn p99(&self) -> Duration {
        self.p99
    }
}

impl FromStr for LatencyProfile {
    type Err = LatencyError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.eq_ignore_ascii_case("tokyo") {
            return Ok(Self::TOKYO);
        }
        let syntax = || LatencyError::Syntax(text.to_owned());
        let (mean, p99) = text.split_once('/').ok_or_else(syntax)?;
        let ms = |s: &str| -> Result<Duration, LatencyError> {
            let v: f64 = s.trim().parse().map_err(|_| syntax())?;
            if !(0.0..=60_000.0).contains(&v) {
                return Err(syntax());
            }
            Ok(Duration::from_secs_f64(v / 1000.0))
        };
        Self::new(ms(mean)?, ms(p99)?)
    }
}

impl fmt::Display for LatencyProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        write!(f, "{}/{}", ms(self.mean), ms(self.p99))
    }
}

/// Draws latencies of a profile from a seeded generator (the server delays market frames by
/// them).
#[cfg(any(feature = "server", test))]
#[derive(Debug, Clone)]
pub(crate) struct LatencySampler {
    /// The log-normal's parameters, in ln(seconds).
    mu: f64,
    sigma: f64,
    rng: Rng,
}

#[cfg(any(feature = "server", test))]
impl LatencySampler {
    pub(crate) fn new(profile: LatencyProfile, seed: u64) -> Self {
        let (mean, p99) = (profile.mean.as_secs_f64(), profile.p99.as_secs_f64());
        // mean = exp(mu + sigma^2 / 2) and p99 = exp(mu + Z99 sigma): sigma solves
        // sigma^2 / 2 - Z99 sigma + ln(p99 / mean) = 0 (the smaller root); a tail longer than a
        // log-normal can have takes the widest one.
        let spread = (p99 / mean).ln();
        // `new` keeps `2 spread <= Z99^2`.
        let sigma = Z99 - (Z99 * Z99 - 2.0 * spread).max(0.0).sqrt();
        let mu = mean.ln() - sigma * sigma / 2.0;
        Self { mu, sigma, rng: Rng::new(seed) }
    }

    /// One draw.
    pub(crate) fn sample(&mut self) -> Duration {
        // Box-Muller: a standard normal from two uniforms, the first in (0, 1].
        let unit = |rng: &mut Rng| ((rng.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
        let (u1, u2) = (unit(&mut self.rng), unit(&mut self.rng));
        let normal = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        let seconds = (self.mu + self.sigma * normal).exp();
        Duration::try_from_secs_f64(seconds).unwrap_or(MAX_DRAW).min(MAX_DRAW)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draws(profile: LatencyProfile, n: usize) -> Vec<Duration> {
        let mut sampler = LatencySampler::new(profile, 7);
        let mut all: Vec<Duration> = (0..n).map(|_| sampler.sample()).collect();
        all.sort();
        all
    }

    fn close(got: Duration, want: Duration, tolerance: f64) -> bool {
        (got.as_secs_f64() / want.as_secs_f64() - 1.0).abs() <= tolerance
    }

    #[test]
    fn draws_have_the_profiles_mean_and_99th_percentile() {
        for profile in [LatencyProfile::TOKYO, "1/2".parse().unwrap(), "20/250".parse().unwrap()] {
            let all = draws(profile, 200_000);
            let mean = all.iter().sum::<Duration>() / u32::try_from(all.len()).unwrap();
            let p99 = all[all.len() * 99 / 100];
            assert!(close(mean, profile.mean(), 0.03), "{profile}: mean {mean:?}");
            assert!(close(p99, profile.p99(), 0.05), "{profile}: p99 {p99:?}");
        }
    }

    #[test]
    fn a_profile_with_p99_equal_to_the_mean_is_constant() {
        let all = draws("5/5".parse().unwrap(), 1000);
        assert!(all.iter().all(|d| close(*d, Duration::from_millis(5), 1e-9)));
    }

    #[test]
    fn malformed_profiles_are_refused() {
        for text in ["", "4", "4/", "/13", "13/4", "0/1", "-1/3", "x/y", "4/13/5", "NaN/13", "1/inf", "1/15"] {
            assert!(text.parse::<LatencyProfile>().is_err(), "{text}");
        }
    }
}
