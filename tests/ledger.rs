//! The ledger under races: the seed's five deductions, 8 threads × 100k random operations with
//! exact per-asset accounting, snapshots that are never torn, and a reference-model property test.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use aegis_exchange::{AssetId, Balance, Execution, Ledger, LedgerConfig, LedgerError, Reservation};
use proptest::prelude::*;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

use common::Rng;

#[test]
fn the_seeds_race_five_threads_deduct_100_from_1000() {
    for _ in 0..200 {
        let ledger = Arc::new(Ledger::new());
        let usdt = ledger.asset("USDT").unwrap();
        ledger.credit(usdt, dec!(1000)).unwrap();
        let threads: Vec<_> = (0..5)
            .map(|_| {
                let ledger = Arc::clone(&ledger);
                std::thread::spawn(move || ledger.debit(usdt, dec!(100)).is_ok())
            })
            .collect();
        assert!(threads.into_iter().all(|t| t.join().unwrap_or(false)));
        assert_eq!(ledger.balance(usdt).unwrap(), Balance { free: dec!(500), locked: dec!(0) });
    }
}

#[test]
fn racing_reserves_never_overdraw() {
    for _ in 0..200 {
        let ledger = Arc::new(Ledger::new());
        let (btc, usdt) = (ledger.asset("BTC").unwrap(), ledger.asset("USDT").unwrap());
        ledger.credit(usdt, dec!(1000)).unwrap();
        let threads: Vec<_> = (0..5)
            .map(|_| {
                let ledger = Arc::clone(&ledger);
                std::thread::spawn(move || ledger.reserve_buy(btc, usdt, dec!(300)).is_ok())
            })
            .collect();
        let ok = threads.into_iter().filter_map(|t| t.join().ok()).filter(|ok| *ok).count();
        assert_eq!(ok, 3);
        assert_eq!(ledger.balance(usdt).unwrap(), Balance { free: dec!(100), locked: dec!(900) });
    }
}

#[test]
fn failures_change_nothing_and_reservations_resolve_once() {
    let ledger = Ledger::with_config(LedgerConfig { buy_fee_headroom: dec!(0.001), ..LedgerConfig::default() });
    let (btc, usdt, bnb) = (ledger.asset("BTC").unwrap(), ledger.asset("USDT").unwrap(), ledger.asset("BNB").unwrap());
    ledger.credit(usdt, dec!(1000)).unwrap();
    let before = ledger.snapshot();
    assert!(matches!(ledger.debit(usdt, dec!(1000.01)), Err(LedgerError::InsufficientFunds { .. })));
    assert!(
        matches!(ledger.reserve_buy(btc, usdt, dec!(999.5)), Err(LedgerError::InsufficientFunds { .. })),
        "headroom counts"
    );
    assert_eq!(ledger.credit(usdt, dec!(0)), Err(LedgerError::InvalidAmount(dec!(0))));
    assert_eq!(ledger.debit(usdt, dec!(-1)), Err(LedgerError::InvalidAmount(dec!(-1))));
    // At most 8 decimals and below 10^20: every sum stays exact.
    assert_eq!(ledger.credit(usdt, dec!(0.000000001)), Err(LedgerError::InvalidAmount(dec!(0.000000001))));
    let big = Ledger::new();
    let x = big.asset("X").unwrap();
    assert!(big.credit(x, dec!(99999999999999999999.99999999)).is_ok());
    assert_eq!(big.credit(x, dec!(0.00000001)), Err(LedgerError::InvalidAmount(dec!(0.00000001))));
    // A pair of one asset with itself is refused (a fill would lock one slot twice).
    assert_eq!(ledger.reserve_buy(usdt, usdt, dec!(1)), Err(LedgerError::SameAsset));
    assert_eq!(ledger.reserve_sell(usdt, usdt, dec!(1)), Err(LedgerError::SameAsset));
    assert_eq!(ledger.snapshot(), before);

    let r = ledger.reserve_buy(btc, usdt, dec!(500)).unwrap();
    assert_eq!(ledger.balance(usdt).unwrap(), Balance { free: dec!(499.5), locked: dec!(500.5) });
    // A fill beyond the remainder, or with a BNB commission that is not there: refused, nothing changed.
    let snap = ledger.snapshot();
    let over = Execution { base_qty: dec!(0.01), quote_qty: dec!(600), commission: dec!(0), commission_asset: btc };
    assert!(matches!(ledger.fill(&r, over), Err(LedgerError::FillExceedsReservation { .. })));
    let bnb_fee =
        Execution { base_qty: dec!(0.001), quote_qty: dec!(65), commission: dec!(0.01), commission_asset: bnb };
    assert!(matches!(ledger.fill(&r, bnb_fee), Err(LedgerError::InsufficientFunds { .. })));
    let fee_too_big =
        Execution { base_qty: dec!(0.001), quote_qty: dec!(65), commission: dec!(0.002), commission_asset: btc };
    assert!(matches!(ledger.fill(&r, fee_too_big), Err(LedgerError::CommissionExceedsCredit { .. })));
    assert_eq!(ledger.snapshot(), snap);
    // A partial fill (commission in quote), then the cancel releases exactly the remainder.
    let fill =
        Execution { base_qty: dec!(0.002), quote_qty: dec!(130.5), commission: dec!(0.1305), commission_asset: usdt };
    ledger.fill(&r, fill).unwrap();
    assert_eq!(ledger.remaining(&r), Some(dec!(500.5) - dec!(130.6305)));
    assert_eq!(ledger.release(&r), Ok(dec!(369.8695)));
    assert_eq!(ledger.release(&r), Err(LedgerError::NotOpen(r.id())));
    assert_eq!(ledger.fill(&r, fill), Err(LedgerError::NotOpen(r.id())));
    assert_eq!(ledger.balance(usdt).unwrap(), Balance { free: dec!(1000) - dec!(130.6305), locked: dec!(0) });
    assert_eq!(ledger.balance(btc).unwrap(), Balance { free: dec!(0.002), locked: dec!(0) });
    // A sell with the commission in BNB.
    ledger.credit(bnb, dec!(1)).unwrap();
    let s = ledger.reserve_sell(btc, usdt, dec!(0.002)).unwrap();
    ledger
        .fill(
            &s,
            Execution { base_qty: dec!(0.002), quote_qty: dec!(131), commission: dec!(0.0001), commission_asset: bnb },
        )
        .unwrap();
    assert_eq!(ledger.release(&s), Ok(dec!(0)));
    assert_eq!(ledger.balance(bnb).unwrap().free, dec!(0.9999));
    assert_eq!(ledger.balance(btc).unwrap(), Balance::default());
    // The journal holds every change in order; reconcile finds what differs.
    let entries = ledger.journal_entries();
    assert!(entries.windows(2).all(|w| w[0].seq <= w[1].seq));
    // Per asset, the sequence strictly increases and the deltas add up to the balance.
    for asset in [usdt, btc, bnb] {
        let touching: Vec<_> = entries
            .iter()
            .filter_map(|e| e.changes.iter().flatten().find(|c| c.0 == asset).map(|c| (e.seq, c.1, c.2)))
            .collect();
        assert!(touching.windows(2).all(|w| w[0].0 < w[1].0), "{touching:?}");
        let free: Decimal = touching.iter().map(|c| c.1).sum();
        let locked: Decimal = touching.iter().map(|c| c.2).sum();
        assert_eq!(Balance { free, locked }, ledger.balance(asset).unwrap());
    }
    assert_eq!(entries.len(), 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1);
    let exchange = vec![
        ("USDT".to_owned(), ledger.balance(usdt).unwrap()),
        ("BTC".to_owned(), Balance::default()),
        ("BNB".to_owned(), Balance { free: dec!(0.9998), locked: dec!(0) }),
        ("ETH".to_owned(), Balance { free: dec!(1), locked: dec!(0) }),
    ];
    let diffs = ledger.reconcile(&exchange);
    assert_eq!(diffs.iter().map(|d| d.asset.as_str()).collect::<Vec<_>>(), vec!["BNB", "ETH"]);
}

#[test]
fn eight_threads_one_hundred_thousand_operations_account_exactly() {
    const THREADS: u64 = 8;
    const OPS: u64 = 100_000;
    let ledger = Arc::new(Ledger::new());
    let assets: Vec<AssetId> = ["BTC", "ETH", "BNB", "USDT"].iter().map(|a| ledger.asset(a).unwrap()).collect();
    let initial = dec!(1000000);
    for a in &assets {
        ledger.credit(*a, initial).unwrap();
    }
    let done = Arc::new(AtomicBool::new(false));
    // A reader: every balance it ever sees is non-negative.
    let reader = {
        let (ledger, done) = (Arc::clone(&ledger), Arc::clone(&done));
        std::thread::spawn(move || {
            let mut reads = 0u64;
            while !done.load(Ordering::Relaxed) {
                for (_, b) in ledger.snapshot() {
                    assert!(!b.free.is_sign_negative() && !b.locked.is_sign_negative(), "{b:?}");
                }
                reads += 1;
            }
            reads
        })
    };
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (ledger, assets) = (Arc::clone(&ledger), assets.clone());
            std::thread::spawn(move || {
                let mut rng = Rng(t + 1);
                let mut net: HashMap<AssetId, Decimal> = HashMap::new();
                let mut open: Vec<Reservation> = Vec::new();
                for _ in 0..OPS {
                    let a = assets[rng.below(4) as usize];
                    let b = assets[(rng.below(3) as usize + 1 + assets.iter().position(|x| *x == a).unwrap_or(0)) % 4];
                    let amount = Decimal::new(rng.below(10_000) as i64 + 1, 2);
                    match rng.below(6) {
                        0 if ledger.credit(a, amount).is_ok() => *net.entry(a).or_default() += amount,
                        1 if ledger.debit(a, amount).is_ok() => *net.entry(a).or_default() -= amount,
                        2 => {
                            let r = if rng.below(2) == 0 {
                                ledger.reserve_buy(a, b, amount)
                            } else {
                                ledger.reserve_sell(a, b, amount)
                            };
                            if let Ok(r) = r {
                                open.push(r);
                            }
                        }
                        3 | 4 if !open.is_empty() => {
                            let r = open[rng.below(open.len() as u64) as usize];
                            let remaining = ledger.remaining(&r).unwrap_or_default();
                            let paid = (remaining * Decimal::new(rng.below(100) as i64 + 1, 2)).round_dp(8);
                            if paid.is_zero() {
                                continue;
                            }
                            let credited = (paid * Decimal::new(rng.below(50_000) as i64 + 1, 3)).round_dp(8);
                            let fee = (credited * dec!(0.001)).round_dp(8);
                            let (base_qty, quote_qty) =
                                if r.side() == aegis_exchange::Side::Buy { (credited, paid) } else { (paid, credited) };
                            let exec = Execution {
                                base_qty,
                                quote_qty,
                                commission: fee,
                                commission_asset: r.credited_asset(),
                            };
                            if ledger.fill(&r, exec).is_ok() {
                                *net.entry(r.locked_asset()).or_default() -= paid;
                                *net.entry(r.credited_asset()).or_default() += credited - fee;
                            }
                        }
                        _ if !open.is_empty() => {
                            let r = open.swap_remove(rng.below(open.len() as u64) as usize);
                            assert!(ledger.release(&r).is_ok());
                            assert_eq!(ledger.release(&r), Err(LedgerError::NotOpen(r.id())));
                        }
                        _ => {}
                    }
                }
                for r in open {
                    assert!(ledger.release(&r).is_ok());
                }
                net
            })
        })
        .collect();
    let mut net: HashMap<AssetId, Decimal> = HashMap::new();
    for w in workers {
        for (a, d) in w.join().unwrap_or_default() {
            *net.entry(a).or_default() += d;
        }
    }
    done.store(true, Ordering::Relaxed);
    let reads = reader.join().unwrap_or(0);
    for a in &assets {
        let b = ledger.balance(*a).unwrap();
        assert_eq!(b.locked, Decimal::ZERO, "every reservation released");
        assert_eq!(b.total(), initial + net.get(a).copied().unwrap_or_default(), "asset {a:?}");
    }
    eprintln!("8 x 100k operations; {reads} concurrent snapshots read");
}

#[test]
fn concurrent_snapshots_are_never_torn() {
    // Fills at price 1 without commission move value between assets without changing the total,
    // so every consistent cut sums to the same total; a torn read would not.
    let ledger = Arc::new(Ledger::new());
    let assets: Vec<AssetId> = ["A", "B", "C", "D"].iter().map(|a| ledger.asset(a).unwrap()).collect();
    for a in &assets {
        ledger.credit(*a, dec!(1000)).unwrap();
    }
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (ledger, done) = (Arc::clone(&ledger), Arc::clone(&done));
        std::thread::spawn(move || {
            let mut reads = 0;
            while !done.load(Ordering::Relaxed) {
                let total: Decimal = ledger.snapshot().iter().map(|(_, b)| b.total()).sum();
                assert_eq!(total, dec!(4000));
                reads += 1;
            }
            reads
        })
    };
    let workers: Vec<_> = (0..4u64)
        .map(|t| {
            let (ledger, assets) = (Arc::clone(&ledger), assets.clone());
            std::thread::spawn(move || {
                let mut rng = Rng(t + 100);
                for _ in 0..20_000 {
                    let a = assets[rng.below(4) as usize];
                    let b = assets[(assets.iter().position(|x| *x == a).unwrap_or(0) + 1 + rng.below(3) as usize) % 4];
                    let qty = Decimal::new(rng.below(500) as i64 + 1, 1);
                    let Ok(r) = ledger.reserve_sell(a, b, qty) else { continue };
                    let part = (qty / dec!(2)).round_dp(1);
                    if !part.is_zero() {
                        let exec =
                            Execution { base_qty: part, quote_qty: part, commission: dec!(0), commission_asset: b };
                        assert!(ledger.fill(&r, exec).is_ok());
                    }
                    assert!(ledger.release(&r).is_ok());
                }
            })
        })
        .collect();
    for w in workers {
        assert!(w.join().is_ok());
    }
    done.store(true, Ordering::Relaxed);
    assert!(reader.join().unwrap_or(0) > 0);
}

/// The reference model: plain maps, one operation at a time.
#[derive(Default, Clone, Debug)]
struct Model {
    free: [Decimal; 3],
    locked: [Decimal; 3],
    open: Vec<(usize, Decimal, bool, usize)>, // (locked asset, remaining, open, credited asset)
}

#[derive(Debug, Clone)]
enum Op {
    Credit(usize, u32),
    Debit(usize, u32),
    Reserve(bool, usize, usize, u32),
    Fill(usize, u32, u32),
    Release(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..3usize, 1..500u32).prop_map(|(a, x)| Op::Credit(a, x)),
        (0..3usize, 1..500u32).prop_map(|(a, x)| Op::Debit(a, x)),
        (any::<bool>(), 0..3usize, 1..3usize, 1..500u32).prop_map(|(b, a, o, x)| Op::Reserve(b, a, (a + o) % 3, x)),
        (0..20usize, 0..600u32, 0..600u32).prop_map(|(i, p, c)| Op::Fill(i, p, c)),
        (0..20usize).prop_map(Op::Release),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn the_ledger_behaves_like_the_reference_model(ops in proptest::collection::vec(op(), 1..80)) {
        let ledger = Ledger::new();
        let ids: Vec<AssetId> = ["X", "Y", "Z"].iter().map(|a| ledger.asset(a).unwrap()).collect();
        let mut m = Model::default();
        let mut handles: Vec<Reservation> = Vec::new();
        for op in ops {
            match op {
                Op::Credit(a, x) => {
                    let amt = Decimal::new(x.into(), 1);
                    prop_assert!(ledger.credit(ids[a], amt).is_ok());
                    m.free[a] += amt;
                }
                Op::Debit(a, x) => {
                    let amt = Decimal::new(x.into(), 1);
                    let ok = ledger.debit(ids[a], amt).is_ok();
                    prop_assert_eq!(ok, m.free[a] >= amt);
                    if ok { m.free[a] -= amt; }
                }
                Op::Reserve(buy, base, quote, x) => {
                    let amt = Decimal::new(x.into(), 1);
                    let (lock, credit) = if buy { (quote, base) } else { (base, quote) };
                    let r = if buy { ledger.reserve_buy(ids[base], ids[quote], amt) } else { ledger.reserve_sell(ids[base], ids[quote], amt) };
                    prop_assert_eq!(r.is_ok(), m.free[lock] >= amt);
                    if let Ok(r) = r {
                        m.free[lock] -= amt;
                        m.locked[lock] += amt;
                        m.open.push((lock, amt, true, credit));
                        handles.push(r);
                    }
                }
                Op::Fill(i, p, c) if !handles.is_empty() => {
                    let i = i % handles.len();
                    let (lock, remaining, is_open, credit) = m.open[i];
                    let paid = Decimal::new(p.into(), 1);
                    let credited = Decimal::new(c.into(), 1);
                    let r = handles[i];
                    let (base_qty, quote_qty) = if r.side() == aegis_exchange::Side::Buy { (credited, paid) } else { (paid, credited) };
                    let exec = Execution { base_qty, quote_qty, commission: Decimal::ZERO, commission_asset: ids[credit] };
                    let ok = ledger.fill(&r, exec).is_ok();
                    prop_assert_eq!(ok, is_open && paid <= remaining);
                    if ok {
                        m.locked[lock] -= paid;
                        m.open[i].1 -= paid;
                        m.free[credit] += credited;
                    }
                }
                Op::Release(i) if !handles.is_empty() => {
                    let i = i % handles.len();
                    let (lock, remaining, is_open, _) = m.open[i];
                    let got = ledger.release(&handles[i]);
                    prop_assert_eq!(got.is_ok(), is_open);
                    if is_open {
                        prop_assert_eq!(got.ok(), Some(remaining));
                        m.locked[lock] -= remaining;
                        m.free[lock] += remaining;
                        m.open[i].2 = false;
                    }
                }
                _ => {}
            }
            for (k, id) in ids.iter().enumerate() {
                let b = ledger.balance(*id).unwrap();
                prop_assert_eq!((b.free, b.locked), (m.free[k], m.locked[k]));
                prop_assert!(!b.free.is_sign_negative() && !b.locked.is_sign_negative());
            }
        }
    }
}
