//! Loom models of the ledger: two reserves of 60 from 100 (exactly one succeeds, in every
//! interleaving), a reserve racing a release, and two fills locking the same assets from opposite
//! ends (no deadlock). Run with
//! `RUSTFLAGS="--cfg aegis_loom" cargo test --release --test loom_ledger` (`.ci/run` does).
#![cfg(aegis_loom)]

use aegis_exchange::{Balance, Execution, Ledger, LedgerConfig};
use loom::sync::Arc;
use rust_decimal::Decimal;

fn ledger_with(usdt: i64) -> (Arc<Ledger>, aegis_exchange::AssetId, aegis_exchange::AssetId) {
    let ledger = Ledger::with_config(LedgerConfig { max_assets: 2, journal_per_asset: 4, ..LedgerConfig::default() });
    let btc = ledger.asset("BTC").unwrap();
    let usdt_id = ledger.asset("USDT").unwrap();
    ledger.credit(usdt_id, Decimal::from(usdt)).unwrap();
    (Arc::new(ledger), btc, usdt_id)
}

#[test]
fn two_reserves_of_60_from_100_exactly_one_succeeds() {
    loom::model(|| {
        let (ledger, btc, usdt) = ledger_with(100);
        let other = ledger.clone();
        let t = loom::thread::spawn(move || other.reserve_buy(btc, usdt, Decimal::from(60)).is_ok());
        let here = ledger.reserve_buy(btc, usdt, Decimal::from(60)).is_ok();
        let there = t.join().unwrap();
        assert!(here ^ there, "exactly one: {here} {there}");
        assert_eq!(ledger.balance(usdt).unwrap(), Balance { free: Decimal::from(40), locked: Decimal::from(60) });
    });
}

#[test]
fn a_reserve_racing_a_release() {
    loom::model(|| {
        let (ledger, btc, usdt) = ledger_with(100);
        let first = ledger.reserve_buy(btc, usdt, Decimal::from(70)).unwrap();
        let other = ledger.clone();
        // The second reserve succeeds only if it runs after the release.
        let t = loom::thread::spawn(move || other.reserve_buy(btc, usdt, Decimal::from(70)).is_ok());
        assert_eq!(ledger.release(&first).unwrap(), Decimal::from(70));
        let second = t.join().unwrap();
        let b = ledger.balance(usdt).unwrap();
        assert_eq!(b.free + b.locked, Decimal::from(100));
        assert_eq!(b.locked, if second { Decimal::from(70) } else { Decimal::ZERO });
        assert!(ledger.release(&first).is_err());
    });
}

/// A buy fill and a sell fill lock the same two assets from opposite ends (the buy pays USDT and
/// is credited BTC, the sell the other way round): the one lock order means no interleaving
/// deadlocks (loom reports a deadlock as a failure), and both land exactly.
#[test]
fn crossing_fills_never_deadlock() {
    loom::model(|| {
        let (ledger, btc, usdt) = ledger_with(100);
        ledger.credit(btc, Decimal::from(1)).unwrap();
        let buy = ledger.reserve_buy(btc, usdt, Decimal::from(50)).unwrap();
        let sell = ledger.reserve_sell(btc, usdt, Decimal::from(1)).unwrap();
        let other = ledger.clone();
        let t = loom::thread::spawn(move || {
            let exec = Execution {
                base_qty: Decimal::from(1),
                quote_qty: Decimal::from(40),
                commission: Decimal::ZERO,
                commission_asset: usdt,
            };
            other.fill(&sell, exec).is_ok()
        });
        let exec = Execution {
            base_qty: Decimal::from(1),
            quote_qty: Decimal::from(50),
            commission: Decimal::ZERO,
            commission_asset: btc,
        };
        let here = ledger.fill(&buy, exec).is_ok();
        assert!(here && t.join().unwrap());
        // USDT: 100 - 50 paid + 40 received; BTC: 1 - 1 sold + 1 bought.
        assert_eq!(ledger.balance(usdt).unwrap(), Balance { free: Decimal::from(90), locked: Decimal::ZERO });
        assert_eq!(ledger.balance(btc).unwrap(), Balance { free: Decimal::from(1), locked: Decimal::ZERO });
    });
}
