//! A bounded lock-free single-producer single-consumer ring buffer, and [`History`], a
//! fixed-capacity overwrite-oldest buffer.
//!
//! [`channel`] hands market events from the thread that reads the socket to the thread that
//! uses them without a lock and without allocating after construction. The capacity is a power
//! of two; [`Producer::push`] hands the item back when the ring is full (the caller decides:
//! drop, count, or back off), and [`Consumer::pop`] returns `None` when it is empty. Items left
//! in the ring are dropped with it, exactly once.
//!
//! This is the only module of the crate with `unsafe` code. Its argument: slot `i` is written
//! only by the producer, and only while `tail - head < capacity` (so the consumer is not reading
//! it); it is read only by the consumer, and only while `head < tail` (so the producer has
//! finished writing it). The producer publishes a slot with a `Release` store of `tail` that the
//! consumer reads with `Acquire`; the consumer frees a slot with a `Release` store of `head` that
//! the producer reads with `Acquire`. A loom model (`RUSTFLAGS="--cfg aegis_loom"`, `tests/loom_ring.rs`)
//! checks every interleaving of pushes racing pops at capacity 2, and the tests run under
//! AddressSanitizer in CI.
//!
//! ```
//! use aegis_exchange::ring;
//!
//! let (mut tx, mut rx) = ring::channel::<u64>(4);
//! let consumer = std::thread::spawn(move || {
//!     let mut sum = 0;
//!     let mut seen = 0;
//!     while seen < 100 {
//!         if let Some(v) = rx.pop() { sum += v; seen += 1 } else { std::thread::yield_now() }
//!     }
//!     sum
//! });
//! for mut v in 0..100u64 {
//!     while let Err(back) = tx.push(v) { v = back; std::thread::yield_now() }
//! }
//! assert_eq!(consumer.join().unwrap(), 4950);
//! ```
#![allow(unsafe_code)]

use std::collections::VecDeque;
use std::fmt;
use std::mem::MaybeUninit;

#[cfg(aegis_loom)]
use loom::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};
#[cfg(not(aegis_loom))]
use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

#[cfg(aegis_loom)]
use loom::cell::UnsafeCell;

/// `std::cell::UnsafeCell` with loom's closure API, so the same code runs under both.
#[cfg(not(aegis_loom))]
#[derive(Debug)]
struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(aegis_loom))]
impl<T> UnsafeCell<T> {
    fn new(v: T) -> Self {
        Self(std::cell::UnsafeCell::new(v))
    }
    fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }
    fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

/// Keeps the producer's and the consumer's index on separate cache lines (128 bytes covers the
/// adjacent-line prefetcher of x86 and the 128-byte lines of Apple silicon).
#[repr(align(128))]
struct CachePadded<T>(T);

struct Shared<T> {
    /// The next slot the consumer reads (written by the consumer only).
    head: CachePadded<AtomicUsize>,
    /// The next slot the producer writes (written by the producer only).
    tail: CachePadded<AtomicUsize>,
    slots: Box<[UnsafeCell<MaybeUninit<T>>]>,
    mask: usize,
}

// SAFETY: the slots are accessed by at most one thread at a time, as the module documentation
// argues; the items move between threads, so `T: Send` is required and sufficient.
unsafe impl<T: Send> Send for Shared<T> {}
// SAFETY: as above; `&Shared` only gives access through the protocol of `Producer` / `Consumer`.
unsafe impl<T: Send> Sync for Shared<T> {}

impl<T> Shared<T> {
    fn slot(&self, index: usize) -> &UnsafeCell<MaybeUninit<T>> {
        // `mask` is `slots.len() - 1` and `slots.len()` a power of two: always in bounds.
        let i = index & self.mask;
        match self.slots.get(i) {
            Some(slot) => slot,
            None => unreachable!("index masked to the capacity"),
        }
    }
}

impl<T> Drop for Shared<T> {
    fn drop(&mut self) {
        // Both ends are gone: the items between head and tail are initialised and owned here.
        let head = self.head.0.load(Ordering::Acquire);
        let tail = self.tail.0.load(Ordering::Acquire);
        let mut i = head;
        while i != tail {
            // SAFETY: slots in [head, tail) were written by the producer and not yet read.
            self.slot(i).with_mut(|p| unsafe { (*p).assume_init_drop() });
            i = i.wrapping_add(1);
        }
    }
}

/// The sending half of a [`channel`]. `Send`, not `Clone`: one producer.
pub struct Producer<T> {
    shared: Arc<Shared<T>>,
    /// Local copy of `tail` (only this side writes it).
    tail: usize,
    /// The last `head` seen; refreshed only when the ring looks full.
    cached_head: usize,
}

/// The receiving half of a [`channel`]. `Send`, not `Clone`: one consumer.
pub struct Consumer<T> {
    shared: Arc<Shared<T>>,
    /// Local copy of `head` (only this side writes it).
    head: usize,
    /// The last `tail` seen; refreshed only when the ring looks empty.
    cached_tail: usize,
}

/// A bounded SPSC channel holding `capacity` items, rounded up to a power of two (at least 1).
/// All memory is allocated here; `push` and `pop` never allocate.
///
/// # Panics
/// When `capacity` rounded up to a power of two overflows `usize` (a capacity no machine can
/// allocate anyway).
#[must_use]
pub fn channel<T>(capacity: usize) -> (Producer<T>, Consumer<T>) {
    channel_starting_at(capacity, 0)
}

/// [`channel`] with both indices starting at `start`, to test index wraparound without pushing
/// 2^64 items.
#[doc(hidden)]
#[must_use]
pub fn channel_starting_at<T>(capacity: usize, start: usize) -> (Producer<T>, Consumer<T>) {
    let capacity = capacity.max(1).checked_next_power_of_two().unwrap_or_else(|| unreachable!("capacity overflow"));
    let slots: Box<[UnsafeCell<MaybeUninit<T>>]> =
        (0..capacity).map(|_| UnsafeCell::new(MaybeUninit::uninit())).collect();
    let shared = Arc::new(Shared {
        head: CachePadded(AtomicUsize::new(start)),
        tail: CachePadded(AtomicUsize::new(start)),
        slots,
        mask: capacity - 1,
    });
    (
        Producer { shared: Arc::clone(&shared), tail: start, cached_head: start },
        Consumer { shared, head: start, cached_tail: start },
    )
}

impl<T> Producer<T> {
    /// Appends `item`, or hands it back when the ring is full.
    ///
    /// # Errors
    /// `Err(item)` when full: nothing was written.
    pub fn push(&mut self, item: T) -> Result<(), T> {
        let capacity = self.shared.mask + 1;
        if self.tail.wrapping_sub(self.cached_head) >= capacity {
            self.cached_head = self.shared.head.0.load(Ordering::Acquire);
            if self.tail.wrapping_sub(self.cached_head) >= capacity {
                return Err(item);
            }
        }
        // SAFETY: `tail - head < capacity`, so the consumer has released this slot (the Acquire
        // load of `head` above, or an earlier one, orders its read before our write) and will not
        // touch it until we publish `tail + 1`.
        self.shared.slot(self.tail).with_mut(|p| unsafe { (*p).write(item) });
        self.tail = self.tail.wrapping_add(1);
        self.shared.tail.0.store(self.tail, Ordering::Release);
        Ok(())
    }

    /// How many items the ring holds (a snapshot: the consumer may be popping).
    #[must_use]
    pub fn len(&self) -> usize {
        self.tail.wrapping_sub(self.shared.head.0.load(Ordering::Acquire))
    }

    /// Whether the ring is empty (a snapshot).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The capacity (a power of two).
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.shared.mask + 1
    }

    /// Whether the consumer has been dropped (pushes still succeed until full, and are dropped
    /// with the ring).
    #[must_use]
    pub fn is_abandoned(&self) -> bool {
        Arc::strong_count(&self.shared) < 2
    }
}

impl<T> Consumer<T> {
    /// Takes the oldest item, or `None` when the ring is empty.
    pub fn pop(&mut self) -> Option<T> {
        if self.head == self.cached_tail {
            self.cached_tail = self.shared.tail.0.load(Ordering::Acquire);
            if self.head == self.cached_tail {
                return None;
            }
        }
        // SAFETY: `head < tail`: the producer wrote this slot before its Release store of `tail`,
        // which our Acquire load observed; it will not write it again until we publish `head + 1`.
        let item = self.shared.slot(self.head).with(|p| unsafe { (*p).assume_init_read() });
        self.head = self.head.wrapping_add(1);
        self.shared.head.0.store(self.head, Ordering::Release);
        Some(item)
    }

    /// How many items are waiting (a snapshot: the producer may be pushing).
    #[must_use]
    pub fn len(&self) -> usize {
        self.shared.tail.0.load(Ordering::Acquire).wrapping_sub(self.head)
    }

    /// Whether nothing is waiting (a snapshot).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The capacity (a power of two).
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.shared.mask + 1
    }

    /// Whether the producer has been dropped: once the ring is empty, nothing more will come.
    #[must_use]
    pub fn is_abandoned(&self) -> bool {
        Arc::strong_count(&self.shared) < 2
    }
}

impl<T> fmt::Debug for Producer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Producer").field("capacity", &self.capacity()).field("len", &self.len()).finish()
    }
}

impl<T> fmt::Debug for Consumer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Consumer").field("capacity", &self.capacity()).field("len", &self.len()).finish()
    }
}

/// The seed's candle history length.
pub const DEFAULT_HISTORY: usize = 5000;

/// A fixed-capacity history: pushing into a full one drops the oldest item. Memory is allocated
/// once, at construction, and never grows.
///
/// ```
/// use aegis_exchange::ring::History;
/// let mut h = History::with_capacity(3);
/// for i in 1..=5 { h.push(i); }
/// assert_eq!(h.iter().copied().collect::<Vec<_>>(), vec![3, 4, 5]);
/// assert_eq!(h.latest(), Some(&5));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct History<T> {
    items: VecDeque<T>,
    capacity: usize,
}

impl<T> Default for History<T> {
    /// [`DEFAULT_HISTORY`] (5000) items.
    fn default() -> Self {
        Self::with_capacity(DEFAULT_HISTORY)
    }
}

impl<T> History<T> {
    /// A history keeping the last `capacity` items (at least 1).
    #[must_use]
    pub fn with_capacity(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self { items: VecDeque::with_capacity(capacity), capacity }
    }

    /// Appends `item`; returns the oldest item when it had to make room.
    pub fn push(&mut self, item: T) -> Option<T> {
        let evicted = if self.items.len() >= self.capacity { self.items.pop_front() } else { None };
        self.items.push_back(item);
        evicted
    }

    /// Oldest to newest.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &T> + ExactSizeIterator + '_ {
        self.items.iter()
    }

    /// The newest item.
    #[must_use]
    pub fn latest(&self) -> Option<&T> {
        self.items.back()
    }

    /// The oldest item kept.
    #[must_use]
    pub fn oldest(&self) -> Option<&T> {
        self.items.front()
    }

    /// The item `n` places before the newest (`0` is the newest).
    #[must_use]
    pub fn back(&self, n: usize) -> Option<&T> {
        self.items.len().checked_sub(n)?.checked_sub(1).and_then(|i| self.items.get(i))
    }

    /// How many items are kept.
    #[must_use]
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether nothing is kept.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The fixed capacity.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Drops every item; the memory stays allocated.
    pub fn clear(&mut self) {
        self.items.clear();
    }
}

impl<'a, T> IntoIterator for &'a History<T> {
    type Item = &'a T;
    type IntoIter = std::collections::vec_deque::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}
