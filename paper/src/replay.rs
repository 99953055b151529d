//! Replaying a recorded Binance session ([`Replay`]).

use aegis_exchange::rest::DepthSnapshot;
use aegis_exchange::stream::{DepthUpdate, MarketEvent, SanitizeConfig, StreamDecoder, Trade};

use crate::PaperExchange;

/// One replayed frame.
#[derive(Debug, Clone)]
enum Row {
    Snapshot(String, DepthSnapshot),
    Depth(DepthUpdate),
    Trade(Trade),
}

/// Replaying a recorded Binance session: a capture's depth snapshot, depth diffs and trades
/// become a market of the paper exchange, at the capture's own pace.
///
/// The capture is JSON lines in hftbacktest's collector format, one frame a line:
/// `{"local_ts_ns": <receive time>, "source": "ws" | "rest", "msg": <the frame as received>}`,
/// where `ws` frames are combined-stream frames (`{"stream": ..., "data": ...}`) and `rest`
/// frames are `GET /api/v3/depth` answers. Other stream events (bookTicker, tickers) are read
/// and skipped: the paper exchange derives them from its book and trades.
///
/// ```
/// use aegis_paper::{PaperConfig, PaperExchange, Replay};
/// let capture = std::fs::read_to_string(concat!(
///     env!("CARGO_MANIFEST_DIR"),
///     "/../tests/fixtures/recorded/hftbacktest_ethusdt_2024-08-08_slice.jsonl"
/// )).unwrap();
/// let mut replay = Replay::from_jsonl(&capture).unwrap();
/// assert_eq!(replay.symbol(), "ETHUSDT");
/// let mut exchange = PaperExchange::new(PaperConfig::default(), 1_760_000_000_000);
/// // Everything the capture holds, as if its whole duration had passed.
/// let applied = replay.apply_due(&mut exchange, replay.duration_ms(), 1_760_000_000_000);
/// assert!(applied > 0 && replay.is_done());
/// assert!(exchange.price("ETHUSDT").is_some());
/// ```
#[derive(Debug, Clone)]
pub struct Replay {
    symbol: String,
    /// (ms since the first frame, frame).
    rows: Vec<(i64, Row)>,
    next: usize,
    skipped: usize,
}

/// Why a capture could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// A line is not a frame of the format.
    #[error("line {line}: {reason}")]
    Line {
        /// The line number (from 1).
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// No depth snapshot, diff or trade in the capture (or no symbol for its snapshots).
    #[error("the capture has no depth snapshot, depth diff or trade of a symbol")]
    Empty,
}

impl Replay {
    /// Reads a capture (see [`Replay`] for the format).
    ///
    /// # Errors
    /// [`ReplayError`] on the first line that is not a frame, or when nothing in it can be
    /// replayed.
    pub fn from_jsonl(text: &str) -> Result<Self, ReplayError> {
        let mut decoder = StreamDecoder::new(SanitizeConfig::default());
        let mut first_ns = None;
        let mut symbol: Option<String> = None;
        // Snapshots before any event name their symbol later.
        let mut orphans = Vec::new();
        let mut rows = Vec::new();
        let mut skipped = 0;
        for (index, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let bad = |reason: String| ReplayError::Line { line: index + 1, reason };
            let frame: serde_json::Value = serde_json::from_str(line).map_err(|e| bad(e.to_string()))?;
            let ns = frame
                .get("local_ts_ns")
                .and_then(serde_json::Value::as_u64)
                .ok_or_else(|| bad("no local_ts_ns".into()))?;
            let first = *first_ns.get_or_insert(ns);
            let at = i64::try_from(ns.saturating_sub(first) / 1_000_000).map_err(|e| bad(e.to_string()))?;
            let msg = frame.get("msg").ok_or_else(|| bad("no msg".into()))?;
            let now = i64::try_from(ns / 1_000_000).map_err(|e| bad(e.to_string()))?;
            match frame.get("source").and_then(serde_json::Value::as_str) {
                Some("rest") => {
                    let snapshot: DepthSnapshot =
                        serde_json::from_value(msg.clone()).map_err(|e| bad(e.to_string()))?;
                    match &symbol {
                        Some(s) => rows.push((at, Row::Snapshot(s.clone(), snapshot))),
                        None => orphans.push((at, snapshot)),
                    }
                }
                Some("ws") => {
                    let decoded = decoder.decode(now, msg.to_string().as_bytes()).map_err(|e| bad(format!("{e:?}")))?;
                    match decoded.event {
                        MarketEvent::DepthUpdate(d) => {
                            symbol.get_or_insert_with(|| d.symbol.as_str().to_owned());
                            rows.push((at, Row::Depth(d)));
                        }
                        MarketEvent::Trade(t) => {
                            symbol.get_or_insert_with(|| t.symbol.as_str().to_owned());
                            rows.push((at, Row::Trade(t)));
                        }
                        _ => skipped += 1,
                    }
                }
                other => return Err(bad(format!("source {other:?} (want \"ws\" or \"rest\")"))),
            }
        }
        let symbol = symbol.ok_or(ReplayError::Empty)?;
        rows.extend(orphans.into_iter().map(|(at, s)| (at, Row::Snapshot(symbol.clone(), s))));
        // Stable: frames received at the same instant keep their order.
        rows.sort_by_key(|(at, _)| *at);
        Ok(Self { symbol, rows, next: 0, skipped })
    }

    /// The capture's (first) symbol.
    #[must_use]
    pub fn symbol(&self) -> &str {
        &self.symbol
    }

    /// How many frames it replays.
    #[must_use]
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether it replays nothing.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Frames read and not replayed (events the paper exchange derives itself).
    #[must_use]
    pub fn skipped(&self) -> usize {
        self.skipped
    }

    /// Milliseconds from the first frame to the last.
    #[must_use]
    pub fn duration_ms(&self) -> i64 {
        self.rows.last().map_or(0, |(at, _)| *at)
    }

    /// When the next frame is due (ms since the start); `None` when all are replayed.
    #[must_use]
    pub fn next_due(&self) -> Option<i64> {
        self.rows.get(self.next).map(|(at, _)| *at)
    }

    /// Whether every frame has been replayed.
    #[must_use]
    pub fn is_done(&self) -> bool {
        self.next >= self.rows.len()
    }

    /// Starts over (to replay in a loop).
    pub fn rewind(&mut self) {
        self.next = 0;
    }

    /// Replays every frame due `elapsed_ms` after the start into `exchange`, at exchange time
    /// `now`; returns how many it applied (a stale diff is not applied, as a local book would
    /// not apply it).
    pub fn apply_due(&mut self, exchange: &mut PaperExchange, elapsed_ms: i64, now: i64) -> usize {
        let mut applied = 0;
        while let Some((at, row)) = self.rows.get(self.next) {
            if *at > elapsed_ms {
                break;
            }
            self.next += 1;
            let done = match row {
                Row::Snapshot(symbol, snapshot) => exchange.replay_snapshot(now, symbol, snapshot),
                Row::Depth(diff) => exchange.replay_diff(now, diff),
                Row::Trade(trade) => {
                    exchange.replay_trade(now, trade);
                    true
                }
            };
            applied += usize::from(done);
        }
        applied
    }
}
