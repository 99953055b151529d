//! The SPSC ring: push + pop of a u64 on one thread (target <= 5 ns), and throughput across two
//! threads next to `rtrb`, `std::sync::mpsc::sync_channel` and a `Mutex<VecDeque>`, all with
//! capacity 4096 and measured in the same run (cross-thread figures swing widely on a shared VM:
//! compare them, do not gate on them). Also `History::push` at the seed's 5000 capacity.

use std::collections::VecDeque;
use std::hint::black_box;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aegis_exchange::ring::{self, History};
use criterion::{Criterion, criterion_group, criterion_main};

const CAPACITY: usize = 4096;

fn single_thread(c: &mut Criterion) {
    let mut g = c.benchmark_group("ring_single_thread");
    let (mut tx, mut rx) = ring::channel::<u64>(CAPACITY);
    g.bench_function("aegis_push_pop_u64", |b| {
        b.iter(|| {
            let _ = tx.push(black_box(7));
            rx.pop()
        })
    });
    let (mut rtx, mut rrx) = rtrb::RingBuffer::<u64>::new(CAPACITY);
    g.bench_function("rtrb_push_pop_u64", |b| {
        b.iter(|| {
            let _ = rtx.push(black_box(7));
            rrx.pop().ok()
        })
    });
    let mut history = History::<u64>::default();
    g.bench_function("history_push_5000", |b| b.iter(|| history.push(black_box(7))));
    g.finish();
}

/// Moves `iters` items from a producer (this thread) to a consumer thread; returns the time.
#[allow(clippy::disallowed_methods)] // a bench measures wall time; the crate itself never does
fn transfer(iters: u64, mut push: impl FnMut(u64) -> bool, pop: impl FnOnce(u64) + Send + 'static) -> Duration {
    let consumer = std::thread::spawn(move || pop(iters));
    let start = Instant::now();
    for i in 0..iters {
        while !push(i) {
            std::hint::spin_loop();
        }
    }
    let _ = consumer.join();
    start.elapsed()
}

fn two_threads(c: &mut Criterion) {
    let mut g = c.benchmark_group("ring_two_threads");
    g.sample_size(20);
    g.bench_function("aegis", |b| {
        b.iter_custom(|iters| {
            let (mut tx, mut rx) = ring::channel::<u64>(CAPACITY);
            transfer(
                iters,
                move |v| tx.push(v).is_ok(),
                move |n| {
                    let mut got = 0;
                    while got < n {
                        if rx.pop().is_some() {
                            got += 1;
                        } else {
                            std::hint::spin_loop();
                        }
                    }
                },
            )
        })
    });
    g.bench_function("rtrb", |b| {
        b.iter_custom(|iters| {
            let (mut tx, mut rx) = rtrb::RingBuffer::<u64>::new(CAPACITY);
            transfer(
                iters,
                move |v| tx.push(v).is_ok(),
                move |n| {
                    let mut got = 0;
                    while got < n {
                        if rx.pop().is_ok() {
                            got += 1;
                        } else {
                            std::hint::spin_loop();
                        }
                    }
                },
            )
        })
    });
    g.bench_function("std_mpsc_sync_channel", |b| {
        b.iter_custom(|iters| {
            let (tx, rx) = std::sync::mpsc::sync_channel::<u64>(CAPACITY);
            transfer(
                iters,
                move |v| tx.try_send(v).is_ok(),
                move |n| {
                    for _ in 0..n {
                        let _ = rx.recv();
                    }
                },
            )
        })
    });
    g.bench_function("mutex_vecdeque", |b| {
        b.iter_custom(|iters| {
            let queue = Arc::new(Mutex::new(VecDeque::<u64>::with_capacity(CAPACITY)));
            let producer_side = Arc::clone(&queue);
            transfer(
                iters,
                move |v| {
                    let Ok(mut q) = producer_side.lock() else { return false };
                    if q.len() >= CAPACITY {
                        return false;
                    }
                    q.push_back(v);
                    true
                },
                move |n| {
                    let mut got = 0;
                    while got < n {
                        let popped = queue.lock().ok().and_then(|mut q| q.pop_front());
                        if popped.is_some() {
                            got += 1;
                        } else {
                            std::hint::spin_loop();
                        }
                    }
                },
            )
        })
    });
    g.finish();
}

criterion_group!(benches, single_thread, two_threads);
criterion_main!(benches);
