use std::collections::VecDeque;
use std::time::Duration;

/// Capped exponential back-off with jitter: the `n`-th retry waits a random time in
/// `[d/2, d]` where `d = min(max, initial · 2ⁿ)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first delay.
    pub initial: Duration,
    /// The cap.
    pub max: Duration,
    /// Seed of the jitter (runs replay exactly with the same seed).
    pub seed: u64,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { initial: Duration::from_millis(250), max: Duration::from_secs(30), seed: 0x5eed }
    }
}

impl Backoff {
    /// The delay before retry number `attempt` (0-based), with `random` the jitter source.
    #[must_use]
    pub fn delay(&self, attempt: u32, random: u64) -> Duration {
        let initial = u64::try_from(self.initial.as_millis()).unwrap_or(u64::MAX);
        let max = u64::try_from(self.max.as_millis()).unwrap_or(u64::MAX);
        let full = initial.saturating_mul(1u64 << attempt.min(32)).min(max);
        let half = full / 2;
        let jitter = if full > half { random % (full - half + 1) } else { 0 };
        Duration::from_millis(half + jitter)
    }
}

/// Settings of a [`Connection`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionConfig {
    /// Between failed attempts.
    pub backoff: Backoff,
    /// A connection with no frame for this long is dead (ms); `None`: never.
    pub idle_timeout_ms: Option<i64>,
    /// A connection older than this is renewed (ms); `None`: never.
    pub max_age_ms: Option<i64>,
}

impl Default for ConnectionConfig {
    /// Back-off from 250 ms to 30 s; no idle detection and no renewal (a sans-IO harness that
    /// sends no pings would take its connection for dead): the async client sets both.
    fn default() -> Self {
        Self { backoff: Backoff::default(), idle_timeout_ms: None, max_age_ms: None }
    }
}

/// What to do with the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnAction {
    /// Open a new connection (while one is live: make before break), then report it with
    /// [`Connection::handle_connected`] or [`Connection::handle_connect_failed`].
    Connect,
    /// Close a connection: the one just replaced ([`CloseReason::Replaced`]), or the live one,
    /// which is dead ([`CloseReason::Idle`]). Do not report its close back.
    Close(CloseReason),
}

/// Why a connection is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// A new connection opened to replace it (age, `serverShutdown`): close the old one.
    Replaced,
    /// No frame within the idle timeout: close the live one.
    Idle,
}

/// Counts of what the policy did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConnStats {
    /// Connections opened.
    pub opened: u64,
    /// Connect attempts that failed.
    pub failed: u64,
    /// Connections lost (closed by the peer or the transport).
    pub lost: u64,
    /// Connections taken for dead (idle).
    pub idle: u64,
    /// Connections renewed (age, `serverShutdown`).
    pub renewed: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Timer {
    /// The next connect attempt after a back-off.
    Reconnect = 0,
    /// The live connection is dead without a frame by then.
    Idle = 1,
    /// The live connection is renewed then.
    Age = 2,
}

/// One timer table: each slot a deadline or nothing.
#[derive(Debug, Clone, Copy, Default)]
struct Timers([Option<i64>; 3]);

impl Timers {
    fn set(&mut self, timer: Timer, at: Option<i64>) {
        if let Some(slot) = self.0.get_mut(timer as usize) {
            *slot = at;
        }
    }

    fn get(&self, timer: Timer) -> Option<i64> {
        self.0.get(timer as usize).copied().flatten()
    }

    fn next(&self) -> Option<i64> {
        self.0.iter().flatten().min().copied()
    }
}

/// The policy of one kept-open connection.
///
/// Connection policy for a WebSocket kept open (the user-data connection, a market stream): when
/// to connect, when a connection is dead, when it must be renewed, how long to back off. Sans-IO,
/// like the engine: time is an input, one timer table holds every deadline, and the async client
/// only performs the [`ConnAction`]s it is handed.
///
/// - **Back-off.** A failed connect or a lost connection is retried after a capped, jittered,
///   exponential [`Backoff`] (seeded: a run replays exactly); a connection that opens resets it.
/// - **Idle.** A connection with no frame (pings included) for `idle_timeout_ms` is taken for
///   dead: it is closed and replaced at once, without a back-off.
/// - **Renewal.** A connection older than `max_age_ms` (Binance cuts at 24 h), or one whose
///   server announced `serverShutdown`, is replaced make-before-break: a new connection opens
///   first, and only then is the old one closed.
///
/// ```
/// use aegis_exchange::{ConnAction, Connection, ConnectionConfig};
/// let config = ConnectionConfig { idle_timeout_ms: Some(60_000), max_age_ms: Some(86_000_000), ..ConnectionConfig::default() };
/// let mut conn = Connection::new(config);
/// conn.open();
/// assert_eq!(conn.poll_action(), Some(ConnAction::Connect));
/// conn.handle_connected(100);
/// // Silence for a minute: the connection is dead and replaced at once.
/// conn.handle_timeout(60_100);
/// assert_eq!(conn.poll_action(), Some(ConnAction::Close(aegis_exchange::CloseReason::Idle)));
/// assert_eq!(conn.poll_action(), Some(ConnAction::Connect));
/// ```
#[derive(Debug, Clone)]
pub struct Connection {
    config: ConnectionConfig,
    timers: Timers,
    /// A connection is live.
    live: bool,
    /// A connect is under way.
    connecting: bool,
    /// Stopped: nothing more is opened.
    stopped: bool,
    attempt: u32,
    jitter: u64,
    actions: VecDeque<ConnAction>,
    stats: ConnStats,
}

impl Connection {
    /// A policy with nothing open yet; [`open`](Self::open) starts it.
    #[must_use]
    pub fn new(config: ConnectionConfig) -> Self {
        Self {
            config,
            timers: Timers::default(),
            live: false,
            connecting: false,
            stopped: false,
            attempt: 0,
            jitter: config.backoff.seed,
            actions: VecDeque::new(),
            stats: ConnStats::default(),
        }
    }

    /// Whether a connection is live.
    #[must_use]
    pub fn is_live(&self) -> bool {
        self.live
    }

    /// What the policy did so far.
    #[must_use]
    pub fn stats(&self) -> ConnStats {
        self.stats
    }

    /// A connection is wanted: one is opened now (unless one is live or on its way).
    pub fn open(&mut self) {
        self.stopped = false;
        if !self.live {
            self.connect();
        }
    }

    /// No connection is wanted any more: nothing is opened again, every timer is cleared.
    pub fn stop(&mut self) {
        self.stopped = true;
        self.timers = Timers::default();
        self.actions.retain(|a| *a != ConnAction::Connect);
    }

    /// The connection asked for is open. If another was live, it is to be closed now (make
    /// before break).
    pub fn handle_connected(&mut self, now: i64) {
        self.connecting = false;
        if self.live {
            self.actions.push_back(ConnAction::Close(CloseReason::Replaced));
        }
        self.live = true;
        self.attempt = 0;
        self.stats.opened = self.stats.opened.saturating_add(1);
        self.timers.set(Timer::Reconnect, None);
        self.timers.set(Timer::Idle, self.config.idle_timeout_ms.map(|ms| now.saturating_add(ms)));
        self.timers.set(Timer::Age, self.config.max_age_ms.map(|ms| now.saturating_add(ms)));
    }

    /// The connect failed: tried again after the back-off (a live connection, if any, stays).
    pub fn handle_connect_failed(&mut self, now: i64) {
        self.connecting = false;
        self.stats.failed = self.stats.failed.saturating_add(1);
        self.retry_later(now);
    }

    /// A frame arrived (text, ping or pong): the connection is alive.
    pub fn handle_frame(&mut self, now: i64) {
        if self.live {
            self.timers.set(Timer::Idle, self.config.idle_timeout_ms.map(|ms| now.saturating_add(ms)));
        }
    }

    /// The live connection closed (the peer, the transport): a new one after the back-off,
    /// unless one is already on its way.
    pub fn handle_closed(&mut self, now: i64) {
        if !self.live {
            return;
        }
        self.live = false;
        self.stats.lost = self.stats.lost.saturating_add(1);
        self.timers.set(Timer::Idle, None);
        self.timers.set(Timer::Age, None);
        if !self.connecting {
            self.retry_later(now);
        }
    }

    /// The server announced `serverShutdown`: the connection is renewed now.
    pub fn handle_server_shutdown(&mut self) {
        self.renew();
    }

    /// Time has passed: a dead connection is closed and replaced at once, an old one renewed, a
    /// back-off that ended gives a new attempt. A call before any deadline changes nothing.
    pub fn handle_timeout(&mut self, now: i64) {
        if self.timers.get(Timer::Idle).is_some_and(|at| at <= now) {
            self.timers.set(Timer::Idle, None);
            self.timers.set(Timer::Age, None);
            self.live = false;
            self.stats.idle = self.stats.idle.saturating_add(1);
            self.actions.push_back(ConnAction::Close(CloseReason::Idle));
            self.connect();
        }
        if self.timers.get(Timer::Age).is_some_and(|at| at <= now) {
            self.timers.set(Timer::Age, None);
            self.renew();
        }
        if self.timers.get(Timer::Reconnect).is_some_and(|at| at <= now) {
            self.timers.set(Timer::Reconnect, None);
            self.connect();
        }
    }

    /// The next thing to do, if any.
    pub fn poll_action(&mut self) -> Option<ConnAction> {
        self.actions.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) next has something to do.
    #[must_use]
    pub fn next_timeout(&self) -> Option<i64> {
        self.timers.next()
    }

    fn renew(&mut self) {
        if self.live && !self.connecting && !self.stopped {
            self.stats.renewed = self.stats.renewed.saturating_add(1);
            self.connect();
        }
    }

    fn connect(&mut self) {
        if self.connecting || self.stopped {
            return;
        }
        self.connecting = true;
        self.timers.set(Timer::Reconnect, None);
        self.actions.push_back(ConnAction::Connect);
    }

    fn retry_later(&mut self, now: i64) {
        if self.stopped {
            return;
        }
        let delay = self.config.backoff.delay(self.attempt, crate::model::splitmix64(&mut self.jitter));
        self.attempt = self.attempt.saturating_add(1);
        let delay_ms = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
        self.timers.set(Timer::Reconnect, Some(now.saturating_add(delay_ms)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Connection {
        Connection::new(ConnectionConfig {
            backoff: Backoff { initial: Duration::from_millis(100), max: Duration::from_millis(800), seed: 7 },
            idle_timeout_ms: Some(60_000),
            max_age_ms: Some(3_600_000),
        })
    }

    fn drain(c: &mut Connection) -> Vec<ConnAction> {
        std::iter::from_fn(|| c.poll_action()).collect()
    }

    #[test]
    fn failures_back_off_with_jitter_up_to_the_cap_and_a_success_resets() {
        let mut c = policy();
        c.open();
        assert_eq!(drain(&mut c), [ConnAction::Connect]);
        let mut now = 0;
        let mut waits = Vec::new();
        for _ in 0..6 {
            c.handle_connect_failed(now);
            assert!(drain(&mut c).is_empty(), "no attempt before the back-off");
            let at = c.next_timeout().unwrap();
            waits.push(at - now);
            c.handle_timeout(at - 1);
            assert!(drain(&mut c).is_empty(), "a spurious timeout is a no-op");
            c.handle_timeout(at);
            assert_eq!(drain(&mut c), [ConnAction::Connect]);
            now = at;
        }
        // [d/2, d] with d = 100, 200, 400, 800, 800, 800.
        for (wait, full) in waits.iter().zip([100, 200, 400, 800, 800, 800]) {
            assert!((full / 2..=full).contains(wait), "{waits:?}");
        }
        c.handle_connected(now);
        c.handle_closed(now + 10);
        let at = c.next_timeout().unwrap();
        assert!((50..=100).contains(&(at - now - 10)), "reset after a success: {}", at - now - 10);
        assert_eq!(c.stats().failed, 6);
    }

    #[test]
    fn a_silent_connection_is_closed_and_replaced_at_once() {
        let mut c = policy();
        c.open();
        drain(&mut c);
        c.handle_connected(0);
        c.handle_frame(30_000);
        c.handle_timeout(60_000);
        assert!(drain(&mut c).is_empty(), "a frame at 30 s keeps it alive until 90 s");
        c.handle_timeout(90_000);
        assert_eq!(drain(&mut c), [ConnAction::Close(CloseReason::Idle), ConnAction::Connect]);
        assert!(!c.is_live());
        assert_eq!(c.stats().idle, 1);
    }

    #[test]
    fn renewal_by_age_and_server_shutdown_is_make_before_break() {
        let mut c = policy();
        c.open();
        drain(&mut c);
        c.handle_connected(0);
        c.handle_frame(3_599_000);
        c.handle_timeout(3_600_000);
        assert_eq!(drain(&mut c), [ConnAction::Connect], "the new one first; the old one stays");
        assert!(c.is_live());
        c.handle_connected(3_600_200);
        assert_eq!(drain(&mut c), [ConnAction::Close(CloseReason::Replaced)]);
        c.handle_frame(3_700_000);
        c.handle_server_shutdown();
        assert_eq!(drain(&mut c), [ConnAction::Connect]);
        c.handle_server_shutdown();
        assert!(drain(&mut c).is_empty(), "one renewal at a time");
        // The renewal fails: the live connection stays, another attempt after the back-off.
        c.handle_connect_failed(3_700_100);
        assert!(c.is_live());
        let at = c.next_timeout().unwrap();
        c.handle_timeout(at);
        assert_eq!(drain(&mut c), [ConnAction::Connect]);
        assert_eq!(c.stats().renewed, 2);
    }

    #[test]
    fn a_lost_connection_comes_back_after_the_back_off_and_stop_ends_it_all() {
        let mut c = policy();
        c.open();
        drain(&mut c);
        c.handle_connected(0);
        c.handle_closed(500);
        assert!(drain(&mut c).is_empty());
        let at = c.next_timeout().unwrap();
        assert!(at > 500);
        c.stop();
        c.handle_timeout(at);
        assert!(drain(&mut c).is_empty(), "stopped: nothing reopens");
        assert_eq!(c.next_timeout(), None);
    }
}
