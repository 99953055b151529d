//! Loom model of the SPSC ring: every interleaving of pushes racing pops at capacity 2.
//! Run with `RUSTFLAGS="--cfg aegis_loom" cargo test --release --test loom_ring` (`.ci/run` does).
#![cfg(aegis_loom)]

use aegis_exchange::ring;
use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering};

#[test]
fn pushes_racing_pops_stay_in_order_at_capacity_two() {
    loom::model(|| {
        let (mut tx, mut rx) = ring::channel::<u32>(2);
        let producer = loom::thread::spawn(move || {
            for i in 0..3 {
                let mut item = i;
                while let Err(back) = tx.push(item) {
                    item = back;
                    loom::thread::yield_now();
                }
            }
        });
        let mut got = Vec::new();
        while got.len() < 3 {
            match rx.pop() {
                Some(v) => got.push(v),
                None => loom::thread::yield_now(),
            }
        }
        producer.join().unwrap();
        assert_eq!(got, vec![0, 1, 2]);
        assert_eq!(rx.pop(), None);
    });
}

struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn items_left_in_the_ring_are_dropped_once_whichever_end_goes_last() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let (mut tx, mut rx) = ring::channel::<Counted>(2);
        let counter = drops.clone();
        let producer = loom::thread::spawn(move || {
            let _ = tx.push(Counted(counter.clone()));
            let _ = tx.push(Counted(counter.clone()));
            // A third push fails or succeeds depending on the pop; either way the item is
            // dropped once (here, or with the ring).
            let _ = tx.push(Counted(counter));
        });
        drop(rx.pop());
        drop(rx);
        producer.join().unwrap();
        let n = drops.load(Ordering::SeqCst);
        assert_eq!(n, 3);
    });
}
