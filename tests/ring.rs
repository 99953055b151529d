//! The SPSC ring: FIFO across two threads (1M items, sequence checked), capacities 1 and 2,
//! drop accounting (no leak, no double drop), index wraparound; and `History`. `.ci/run` also
//! runs this file under AddressSanitizer.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aegis_exchange::ring::{self, DEFAULT_HISTORY, History};

#[test]
fn fifo_across_two_threads_one_million_items() {
    const N: u64 = 1_000_000;
    let (mut tx, mut rx) = ring::channel::<u64>(1024);
    let consumer = std::thread::spawn(move || {
        let mut expected = 0u64;
        while expected < N {
            match rx.pop() {
                Some(v) => {
                    assert_eq!(v, expected, "out of order");
                    expected += 1;
                }
                None => std::hint::spin_loop(),
            }
        }
        assert_eq!(rx.pop(), None);
        expected
    });
    let mut full = 0u64;
    for i in 0..N {
        let mut item = i;
        while let Err(back) = tx.push(item) {
            item = back;
            full += 1;
            std::thread::yield_now();
        }
    }
    assert_eq!(consumer.join().ok(), Some(N));
    eprintln!("1M items in order; the producer found the ring full {full} times");
}

#[test]
fn capacities_one_and_two_and_rounding() {
    for (asked, cap) in [(0, 1), (1, 1), (2, 2), (3, 4), (1000, 1024)] {
        let (tx, rx) = ring::channel::<u8>(asked);
        assert_eq!((tx.capacity(), rx.capacity()), (cap, cap), "asked {asked}");
    }
    let (mut tx, mut rx) = ring::channel::<u32>(1);
    assert_eq!(tx.push(1), Ok(()));
    assert_eq!(tx.push(2), Err(2), "full at one");
    assert_eq!((tx.len(), rx.len()), (1, 1));
    assert_eq!(rx.pop(), Some(1));
    assert_eq!(rx.pop(), None);
    assert!(rx.is_empty() && tx.is_empty());
    assert_eq!(tx.push(3), Ok(()));
    assert_eq!(rx.pop(), Some(3));

    let (mut tx, mut rx) = ring::channel::<u32>(2);
    assert_eq!((tx.push(1), tx.push(2), tx.push(3)), (Ok(()), Ok(()), Err(3)));
    assert_eq!(rx.pop(), Some(1));
    assert_eq!(tx.push(3), Ok(()));
    assert_eq!((rx.pop(), rx.pop(), rx.pop()), (Some(2), Some(3), None));
}

#[test]
fn indices_wrap_around_usize() {
    // Start both indices 3 short of usize::MAX: the next pushes cross the wrap.
    let (mut tx, mut rx) = ring::channel_starting_at::<u64>(4, usize::MAX - 3);
    for round in 0..5u64 {
        for i in 0..4 {
            assert_eq!(tx.push(round * 10 + i), Ok(()));
        }
        assert_eq!(tx.push(99), Err(99), "full at the wrap, round {round}");
        assert_eq!(rx.len(), 4);
        for i in 0..4 {
            assert_eq!(rx.pop(), Some(round * 10 + i));
        }
        assert_eq!(rx.pop(), None);
    }
}

/// Counts its drops in a shared counter.
#[derive(Debug)]
struct Counted(Arc<AtomicUsize>, u32);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn every_item_is_dropped_exactly_once() {
    let drops = Arc::new(AtomicUsize::new(0));
    let (mut tx, mut rx) = ring::channel::<Counted>(4);
    for i in 0..4 {
        assert!(tx.push(Counted(Arc::clone(&drops), i)).is_ok());
    }
    // A rejected push hands the item back; dropping it is the caller's one drop.
    let back = tx.push(Counted(Arc::clone(&drops), 9));
    assert!(back.is_err());
    drop(back);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    // Popped items are dropped by their new owner.
    let first = rx.pop();
    assert_eq!(first.as_ref().map(|c| c.1), Some(0));
    drop(first);
    assert_eq!(drops.load(Ordering::SeqCst), 2);
    // Three remain in the ring; after a wrap, dropping both ends drops them once each.
    assert!(tx.push(Counted(Arc::clone(&drops), 4)).is_ok());
    drop(rx.pop());
    assert_eq!(drops.load(Ordering::SeqCst), 3);
    drop(tx);
    assert!(rx.is_abandoned());
    drop(rx);
    assert_eq!(drops.load(Ordering::SeqCst), 6, "three left in the ring, three dropped earlier");
    assert_eq!(Arc::strong_count(&drops), 1, "no item leaked its counter");
}

#[test]
fn drops_hold_across_threads() {
    // The consumer walks away half way; the producer stops when it sees that. Every item ever
    // created is dropped exactly once: popped, handed back, or left in the ring.
    let drops = Arc::new(AtomicUsize::new(0));
    let (mut tx, mut rx) = ring::channel::<Counted>(8);
    let counter = Arc::clone(&drops);
    let producer = std::thread::spawn(move || {
        let mut created = 0usize;
        for i in 0..10_000 {
            let mut item = Counted(Arc::clone(&counter), i);
            created += 1;
            loop {
                match tx.push(item) {
                    Ok(()) => break,
                    Err(_) if tx.is_abandoned() => return created,
                    Err(back) => {
                        item = back;
                        std::thread::yield_now();
                    }
                }
            }
        }
        created
    });
    let mut popped = 0;
    while popped < 5_000 {
        if let Some(item) = rx.pop() {
            assert_eq!(item.1, popped);
            popped += 1;
        }
    }
    drop(rx);
    let created = producer.join().unwrap_or(0);
    assert!(created > 5_000);
    assert_eq!(drops.load(Ordering::SeqCst), created);
    assert_eq!(Arc::strong_count(&drops), 1);
}

#[test]
fn history_keeps_the_last_n_oldest_first() {
    let mut h = History::with_capacity(3);
    assert!(h.is_empty() && h.latest().is_none());
    assert_eq!((h.push(1), h.push(2), h.push(3)), (None, None, None));
    assert_eq!(h.push(4), Some(1));
    assert_eq!(h.iter().copied().collect::<Vec<_>>(), vec![2, 3, 4]);
    assert_eq!(
        (h.oldest(), h.latest(), h.back(0), h.back(2), h.back(3), h.back(usize::MAX)),
        (Some(&2), Some(&4), Some(&4), Some(&2), None, None)
    );
    assert_eq!(h.iter().rev().copied().collect::<Vec<_>>(), vec![4, 3, 2]);
    h.clear();
    assert_eq!((h.len(), h.capacity()), (0, 3));
    assert_eq!(History::<u8>::default().capacity(), DEFAULT_HISTORY);
    assert_eq!(History::<u8>::with_capacity(0).capacity(), 1);
}

#[test]
fn history_memory_is_bounded_for_ever() {
    // The seed's 5000 candles: a million pushes later, still 5000 items and the same buffer.
    let mut h: History<u64> = History::default();
    for i in 0..1_000_000u64 {
        h.push(i);
    }
    assert_eq!(h.len(), 5000);
    assert_eq!(h.oldest(), Some(&995_000));
    assert!(h.iter().copied().eq(995_000..1_000_000));
}
