use std::collections::{BTreeMap, VecDeque};

use rust_decimal::Decimal;

use crate::rest::{DepthSnapshot, Level};

use crate::stream::DepthUpdate;

/// Why the book cannot continue.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BookError {
    /// Events were missed (`U > local id + 1`): discard the book, take a new snapshot.
    #[error("gap in the diff stream: expected update {expected}, got an event starting at {got}")]
    Gap {
        /// The next id the book needed.
        expected: u64,
        /// The event's first id.
        got: u64,
    },
    /// The snapshot predates the first buffered event: fetch another.
    #[error("snapshot {snapshot} is older than the first buffered event {first_buffered}")]
    SnapshotTooOld {
        /// The snapshot's `lastUpdateId`.
        snapshot: u64,
        /// The first buffered event's `U`.
        first_buffered: u64,
    },
    /// More events arrived before the snapshot than the buffer holds: start over.
    #[error("diff buffer full before the snapshot arrived")]
    BufferFull,
}

/// What applying one event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BookApplied {
    /// The event moved the book forward.
    Updated,
    /// The event was older than the book (`u <= local id`) and was ignored.
    Stale,
}

/// A price-level book with a bounded depth per side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderBook {
    bids: BTreeMap<Decimal, Decimal>,
    asks: BTreeMap<Decimal, Decimal>,
    last_update_id: u64,
    max_depth: usize,
}

impl OrderBook {
    /// A book from a REST snapshot, keeping at most `max_depth` levels a side.
    #[must_use]
    pub fn from_snapshot(snapshot: &DepthSnapshot, max_depth: usize) -> Self {
        let mut book = Self {
            bids: BTreeMap::new(),
            asks: BTreeMap::new(),
            last_update_id: snapshot.last_update_id,
            max_depth: max_depth.max(1),
        };
        set_levels(&mut book.bids, &snapshot.bids);
        set_levels(&mut book.asks, &snapshot.asks);
        book.trim();
        book
    }

    /// Applies one diff event (SPEC §8.3 update procedure).
    ///
    /// # Errors
    /// [`BookError::Gap`] when the event does not follow the book; the book is unchanged.
    pub fn apply(&mut self, event: &DepthUpdate) -> Result<BookApplied, BookError> {
        if event.final_update_id <= self.last_update_id {
            return Ok(BookApplied::Stale);
        }
        let expected = self.last_update_id.saturating_add(1);
        if event.first_update_id > expected {
            return Err(BookError::Gap { expected, got: event.first_update_id });
        }
        set_levels(&mut self.bids, &event.bids);
        set_levels(&mut self.asks, &event.asks);
        self.last_update_id = event.final_update_id;
        self.trim();
        Ok(BookApplied::Updated)
    }

    fn trim(&mut self) {
        while self.bids.len() > self.max_depth {
            // Worst bid: the lowest price.
            let Some(worst) = self.bids.keys().next().copied() else { break };
            self.bids.remove(&worst);
        }
        while self.asks.len() > self.max_depth {
            let Some(worst) = self.asks.keys().next_back().copied() else { break };
            self.asks.remove(&worst);
        }
    }

    /// The update id the book reflects.
    #[must_use]
    pub fn last_update_id(&self) -> u64 {
        self.last_update_id
    }

    /// The best bid.
    #[must_use]
    pub fn best_bid(&self) -> Option<Level> {
        self.bids.iter().next_back().map(|(p, q)| Level { price: *p, qty: *q })
    }

    /// The best ask.
    #[must_use]
    pub fn best_ask(&self) -> Option<Level> {
        self.asks.iter().next().map(|(p, q)| Level { price: *p, qty: *q })
    }

    /// Best ask minus best bid.
    #[must_use]
    pub fn spread(&self) -> Option<Decimal> {
        Some(self.best_ask()?.price - self.best_bid()?.price)
    }

    /// Whether the best bid reaches the best ask (never true of a book in sync).
    #[must_use]
    pub fn is_crossed(&self) -> bool {
        matches!((self.best_bid(), self.best_ask()), (Some(b), Some(a)) if b.price >= a.price)
    }

    /// Bids, best first.
    pub fn bids(&self) -> impl Iterator<Item = Level> + '_ {
        self.bids.iter().rev().map(|(p, q)| Level { price: *p, qty: *q })
    }

    /// Asks, best first.
    pub fn asks(&self) -> impl Iterator<Item = Level> + '_ {
        self.asks.iter().map(|(p, q)| Level { price: *p, qty: *q })
    }
}

fn set_levels(side: &mut BTreeMap<Decimal, Decimal>, levels: &[Level]) {
    for l in levels {
        if l.qty.is_zero() {
            side.remove(&l.price);
        } else {
            side.insert(l.price, l.qty);
        }
    }
}

/// The sync procedure around an [`OrderBook`] (SPEC §8.3).
///
/// ```
/// use aegis_exchange::{BookSync, stream::DepthUpdate};
/// use aegis_exchange::stream::Symbol;
/// use aegis_exchange::rest::{DepthSnapshot, Level};
/// use rust_decimal_macros::dec;
/// let mut sync = BookSync::new(1000, 10_000);
/// let diff = |from, to, bid: Level| DepthUpdate { event_time: 0, symbol: Symbol::new("X").unwrap(), first_update_id: from, final_update_id: to, bids: vec![bid], asks: vec![] };
/// sync.on_diff(diff(157, 160, Level { price: dec!(1), qty: dec!(5) })).unwrap(); // buffered
/// sync.on_diff(diff(161, 161, Level { price: dec!(2), qty: dec!(1) })).unwrap(); // buffered
/// let snapshot = DepthSnapshot { last_update_id: 160, bids: vec![Level { price: dec!(1), qty: dec!(3) }], asks: vec![Level { price: dec!(3), qty: dec!(1) }] };
/// sync.on_snapshot(&snapshot).unwrap();
/// let book = sync.book().unwrap();
/// assert_eq!((book.last_update_id(), book.best_bid().map(|l| l.price)), (161, Some(dec!(2))));
/// ```
///
/// The local order book, kept in sync with Binance's diff stream by the procedure of SPEC §8.3.
///
/// [`BookSync`] owns the procedure: buffer `depthUpdate` events from the moment the stream
/// connects, take a REST snapshot, refuse a snapshot older than the first buffered event, drop
/// buffered events with `u <= lastUpdateId`, then apply the rest and every new event. An event
/// with `U > local id + 1` means events were missed: the book is discarded and a resync is
/// signalled. Quantities are absolute; a quantity of 0 removes the level. Memory is bounded: the
/// buffer and the depth kept per side are capped.
///
/// This module does not open sockets or fetch snapshots; it consumes decoded values.
#[derive(Debug, Clone)]
pub struct BookSync {
    buffer: VecDeque<DepthUpdate>,
    max_buffer: usize,
    max_depth: usize,
    book: Option<OrderBook>,
}

impl BookSync {
    /// A sync keeping `max_depth` levels a side and buffering at most `max_buffer` events while
    /// waiting for a snapshot.
    #[must_use]
    pub fn new(max_depth: usize, max_buffer: usize) -> Self {
        Self { buffer: VecDeque::new(), max_buffer: max_buffer.max(1), max_depth, book: None }
    }

    /// The synced book, once a snapshot was applied.
    #[must_use]
    pub fn book(&self) -> Option<&OrderBook> {
        self.book.as_ref()
    }

    /// Whether a snapshot is needed (at the start and after a gap).
    #[must_use]
    pub fn needs_snapshot(&self) -> bool {
        self.book.is_none()
    }

    /// Handles a diff event: buffered before the snapshot, applied after it.
    ///
    /// # Errors
    /// [`BookError::Gap`] (the book is discarded: take a new snapshot) or
    /// [`BookError::BufferFull`] (the buffer is cleared: start over).
    pub fn on_diff(&mut self, event: DepthUpdate) -> Result<Option<BookApplied>, BookError> {
        match &mut self.book {
            Some(book) => match book.apply(&event) {
                Ok(a) => Ok(Some(a)),
                Err(e) => {
                    self.book = None;
                    self.buffer.clear();
                    // Keep this event: it may be the first of the next sync.
                    self.buffer.push_back(event);
                    Err(e)
                }
            },
            None => {
                if self.buffer.len() >= self.max_buffer {
                    self.buffer.clear();
                    return Err(BookError::BufferFull);
                }
                self.buffer.push_back(event);
                Ok(None)
            }
        }
    }

    /// Handles a REST snapshot: builds the book and applies the buffered events after it;
    /// returns how many buffered events moved the book forward.
    ///
    /// The docs say to fetch again when `lastUpdateId` is below the first buffered `U`; this
    /// refuses only a real gap (`lastUpdateId + 1 < U`): a snapshot at `U - 1` is followed
    /// exactly by the buffered events, which the update procedure's own check confirms.
    ///
    /// # Errors
    /// [`BookError::SnapshotTooOld`] (fetch another; the buffer is kept) or
    /// [`BookError::Gap`] (the buffered events do not follow the snapshot).
    pub fn on_snapshot(&mut self, snapshot: &DepthSnapshot) -> Result<usize, BookError> {
        if let Some(first) = self.buffer.front()
            && snapshot.last_update_id.saturating_add(1) < first.first_update_id
        {
            return Err(BookError::SnapshotTooOld {
                snapshot: snapshot.last_update_id,
                first_buffered: first.first_update_id,
            });
        }
        let mut book = OrderBook::from_snapshot(snapshot, self.max_depth);
        let mut applied = 0;
        while let Some(event) = self.buffer.pop_front() {
            match book.apply(&event) {
                Ok(BookApplied::Updated) => applied += 1,
                Ok(BookApplied::Stale) => {}
                Err(e) => {
                    self.buffer.clear();
                    return Err(e);
                }
            }
        }
        self.book = Some(book);
        Ok(applied)
    }
}
