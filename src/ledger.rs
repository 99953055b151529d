//! An account ledger that no interleaving of threads can corrupt: per-asset `free` / `locked`
//! balances in [`Decimal`], reservations that resolve exactly once, and a bounded journal.
//!
//! Amounts are at most 8 decimals (Binance's balance precision) and below 10^20, which keeps
//! every sum exact in `Decimal` (it would otherwise round silently past 28 digits); an amount
//! outside that is [`LedgerError::InvalidAmount`].
//!
//! Every operation is atomic (all or nothing): it takes the locks of the assets it touches in
//! ascending [`AssetId`] order (so two operations never deadlock), checks everything, then
//! applies. An operation that fails changes nothing. Balances never go negative. Each asset has
//! its own lock, so threads working on different assets do not contend.
//!
//! A [`Reservation`] is made for an order before it is sent (a buy locks the quote amount plus a
//! configurable fee headroom, a sell locks the base quantity); fills consume it and credit the
//! other asset, and a release (cancel, reject, expiry) returns what is left. A reservation that
//! has been released is gone: a second release, or a fill beyond what remains, is a typed error.
//!
//! ```
//! use aegis_exchange::ledger::{Execution, Ledger};
//! use rust_decimal_macros::dec;
//!
//! let ledger = Ledger::new();
//! let (btc, usdt) = (ledger.asset("BTC").unwrap(), ledger.asset("USDT").unwrap());
//! ledger.credit(usdt, dec!(1000)).unwrap();
//! let r = ledger.reserve_buy(btc, usdt, dec!(650)).unwrap();   // 650 USDT locked
//! ledger.fill(&r, Execution { base_qty: dec!(0.005), quote_qty: dec!(325), commission: dec!(0.000005), commission_asset: btc }).unwrap();
//! assert_eq!(ledger.release(&r).unwrap(), dec!(325));          // cancel the rest
//! assert!(ledger.release(&r).is_err());                        // exactly once
//! let b = ledger.balance(usdt).unwrap();
//! assert_eq!((b.free, b.locked), (dec!(675), dec!(0)));
//! assert_eq!(ledger.balance(btc).unwrap().free, dec!(0.004995));
//! ```

use std::collections::{HashMap, VecDeque};
use std::fmt;

#[cfg(loom)]
use loom::sync::{
    Mutex, MutexGuard, RwLock,
    atomic::{AtomicU64, AtomicUsize, Ordering},
};
use rust_decimal::Decimal;
#[cfg(not(loom))]
use std::sync::{
    Mutex, MutexGuard, RwLock,
    atomic::{AtomicU64, AtomicUsize, Ordering},
};

use crate::model::Side;

/// An asset's index in its ledger (assets are registered once, by name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AssetId(u16);

impl AssetId {
    /// The index.
    #[must_use]
    pub fn index(self) -> usize {
        usize::from(self.0)
    }
}

/// One asset's balance, as Binance keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Balance {
    /// Available.
    pub free: Decimal,
    /// Held by open orders.
    pub locked: Decimal,
}

impl Balance {
    /// `free + locked`.
    #[must_use]
    pub fn total(&self) -> Decimal {
        self.free + self.locked
    }
}

/// Why a ledger operation was refused. Nothing changed.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    /// Not enough free balance.
    #[error("insufficient {asset}: need {needed}, free {available}")]
    InsufficientFunds {
        /// The asset's name.
        asset: String,
        /// What the operation needed.
        needed: Decimal,
        /// What was free.
        available: Decimal,
    },
    /// A zero or negative amount, more than 8 decimals, or a balance that would reach 10^20.
    #[error("invalid amount {0}")]
    InvalidAmount(Decimal),
    /// The reservation was already released (or never made by this ledger).
    #[error("reservation {0} is not open (already released?)")]
    NotOpen(u64),
    /// A fill would consume more than the reservation holds.
    #[error("fill needs {needed} but reservation {id} holds {remaining}")]
    FillExceedsReservation {
        /// The reservation.
        id: u64,
        /// What the fill consumes from it.
        needed: Decimal,
        /// What it holds.
        remaining: Decimal,
    },
    /// The commission is larger than what the fill credits in that asset.
    #[error("commission {commission} exceeds the credited {credited}")]
    CommissionExceedsCredit {
        /// The commission.
        commission: Decimal,
        /// The amount credited in the commission's asset.
        credited: Decimal,
    },
    /// No such asset id, or no room for another asset.
    #[error("unknown asset or asset table full")]
    UnknownAsset,
}

/// Funds locked for one order. `Copy`: the order tracker keeps it; the ledger knows whether it is
/// still open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Reservation {
    id: u64,
    buy: bool,
    base: AssetId,
    quote: AssetId,
}

impl Reservation {
    /// Its id (unique within the ledger).
    #[must_use]
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The order's side.
    #[must_use]
    pub fn side(&self) -> Side {
        if self.buy { Side::Buy } else { Side::Sell }
    }

    /// The asset it locks: quote for a buy, base for a sell.
    #[must_use]
    pub fn locked_asset(&self) -> AssetId {
        if self.buy { self.quote } else { self.base }
    }

    /// The asset fills credit.
    #[must_use]
    pub fn credited_asset(&self) -> AssetId {
        if self.buy { self.base } else { self.quote }
    }
}

/// One execution against a reservation (from a fill or an `executionReport` trade).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Execution {
    /// Base quantity executed.
    pub base_qty: Decimal,
    /// Quote amount executed (price × quantity).
    pub quote_qty: Decimal,
    /// Commission charged.
    pub commission: Decimal,
    /// The commission's asset (base, quote, or a third asset such as BNB).
    pub commission_asset: AssetId,
}

/// What an operation did, in the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JournalOp {
    /// Free balance added (deposit, transfer in).
    Credit,
    /// Free balance removed (withdrawal, transfer out).
    Debit,
    /// Free moved to locked for a reservation.
    Reserve(u64),
    /// A fill consumed locked funds and credited the other asset.
    Fill(u64),
    /// What was left of a reservation went back to free.
    Release(u64),
}

/// One journal entry: an operation and the balance change per asset (up to three assets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JournalEntry {
    /// Global sequence number (the order in which operations took effect per asset).
    pub seq: u64,
    /// The operation.
    pub op: JournalOp,
    /// `(asset, free delta, locked delta)` for each asset touched.
    pub changes: [Option<(AssetId, Decimal, Decimal)>; 3],
}

/// Called with every journal entry while the touched assets are still locked: keep it fast.
pub type JournalHook = Box<dyn Fn(&JournalEntry) + Send + Sync>;

/// Settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LedgerConfig {
    /// Extra quote locked by a buy for commission paid in quote (0.001 = 0.1 %).
    pub buy_fee_headroom: Decimal,
    /// Journal entries kept per asset.
    pub journal_per_asset: usize,
    /// The most assets the ledger holds.
    pub max_assets: usize,
}

impl Default for LedgerConfig {
    fn default() -> Self {
        Self { buy_fee_headroom: Decimal::ZERO, journal_per_asset: 1024, max_assets: 1024 }
    }
}

/// A reservation still open: what remains locked.
#[derive(Debug, Clone, Copy)]
struct Open {
    remaining: Decimal,
}

#[derive(Debug, Default)]
struct Slot {
    balance: Balance,
    /// Open reservations locking this asset.
    open: HashMap<u64, Open>,
    journal: VecDeque<JournalEntry>,
}

/// A difference found by [`Ledger::reconcile`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// The asset's name.
    pub asset: String,
    /// What the ledger holds.
    pub ledger: Balance,
    /// What the exchange reports.
    pub exchange: Balance,
}

/// The account ledger. `Sync`: share it with `Arc`.
pub struct Ledger {
    config: LedgerConfig,
    names: RwLock<(HashMap<String, AssetId>, Vec<String>)>,
    slots: Box<[Mutex<Slot>]>,
    /// How many assets are registered (slots below it are in use); read on every operation
    /// without touching the name table.
    registered: AtomicUsize,
    next_reservation: AtomicU64,
    seq: AtomicU64,
    hook: Option<JournalHook>,
}

impl fmt::Debug for Ledger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ledger").field("config", &self.config).field("assets", &self.assets().len()).finish()
    }
}

impl Default for Ledger {
    fn default() -> Self {
        Self::new()
    }
}

fn lock(m: &Mutex<Slot>) -> MutexGuard<'_, Slot> {
    // No code panics while a lock is held, except a user's journal hook; the slot is consistent
    // then (the hook runs after the change), so a poisoned lock is still usable.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Up to three slots locked in ascending id order.
struct Locked<'a> {
    ids: [Option<AssetId>; 3],
    guards: [Option<MutexGuard<'a, Slot>>; 3],
}

impl Locked<'_> {
    fn slot(&mut self, id: AssetId) -> Option<&mut Slot> {
        let i = self.ids.iter().position(|x| *x == Some(id))?;
        self.guards.get_mut(i)?.as_deref_mut()
    }
}

impl Ledger {
    /// An empty ledger with the default settings.
    #[must_use]
    pub fn new() -> Self {
        Self::with_config(LedgerConfig::default())
    }

    /// An empty ledger.
    #[must_use]
    pub fn with_config(config: LedgerConfig) -> Self {
        let max = config.max_assets.clamp(1, usize::from(u16::MAX));
        Self {
            config,
            names: RwLock::new((HashMap::new(), Vec::new())),
            slots: (0..max).map(|_| Mutex::new(Slot::default())).collect(),
            registered: AtomicUsize::new(0),
            next_reservation: AtomicU64::new(1),
            seq: AtomicU64::new(1),
            hook: None,
        }
    }

    /// Calls `hook` with every journal entry (for persistence).
    #[must_use]
    pub fn with_journal_hook(mut self, hook: JournalHook) -> Self {
        self.hook = Some(hook);
        self
    }

    /// The id of asset `name`, registering it on first use.
    ///
    /// # Errors
    /// [`LedgerError::UnknownAsset`] when the table is full.
    pub fn asset(&self, name: &str) -> Result<AssetId, LedgerError> {
        if let Some(id) = self.asset_id(name) {
            return Ok(id);
        }
        let mut names = self.names.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(id) = names.0.get(name) {
            return Ok(*id);
        }
        if names.1.len() >= self.slots.len() {
            return Err(LedgerError::UnknownAsset);
        }
        let id = AssetId(u16::try_from(names.1.len()).map_err(|_| LedgerError::UnknownAsset)?);
        names.0.insert(name.to_owned(), id);
        names.1.push(name.to_owned());
        self.registered.store(names.1.len(), Ordering::Release);
        Ok(id)
    }

    /// The id of a registered asset.
    #[must_use]
    pub fn asset_id(&self, name: &str) -> Option<AssetId> {
        self.names.read().unwrap_or_else(std::sync::PoisonError::into_inner).0.get(name).copied()
    }

    /// The name of a registered asset.
    #[must_use]
    pub fn asset_name(&self, id: AssetId) -> Option<String> {
        self.names.read().unwrap_or_else(std::sync::PoisonError::into_inner).1.get(id.index()).cloned()
    }

    /// Every registered asset, by id.
    #[must_use]
    pub fn assets(&self) -> Vec<String> {
        self.names.read().unwrap_or_else(std::sync::PoisonError::into_inner).1.clone()
    }

    fn registered(&self, id: AssetId) -> Result<&Mutex<Slot>, LedgerError> {
        if id.index() >= self.registered.load(Ordering::Acquire) {
            return Err(LedgerError::UnknownAsset);
        }
        self.slots.get(id.index()).ok_or(LedgerError::UnknownAsset)
    }

    fn lock_all(&self, ids: [Option<AssetId>; 3]) -> Result<Locked<'_>, LedgerError> {
        let mut sorted = ids;
        sorted.sort_unstable_by_key(|x| x.map_or(usize::MAX, AssetId::index));
        let mut out = Locked { ids: [None; 3], guards: [None, None, None] };
        let mut n = 0;
        for id in sorted.into_iter().flatten() {
            if out.ids.contains(&Some(id)) {
                continue;
            }
            let slot = self.registered(id)?;
            if let (Some(dst_id), Some(dst)) = (out.ids.get_mut(n), out.guards.get_mut(n)) {
                *dst_id = Some(id);
                *dst = Some(lock(slot));
            }
            n += 1;
        }
        Ok(out)
    }

    fn insufficient(&self, asset: AssetId, needed: Decimal, available: Decimal) -> LedgerError {
        LedgerError::InsufficientFunds { asset: self.asset_name(asset).unwrap_or_default(), needed, available }
    }

    fn journal(&self, locked: &mut Locked<'_>, op: JournalOp, changes: [Option<(AssetId, Decimal, Decimal)>; 3]) {
        let entry = JournalEntry { seq: self.seq.fetch_add(1, Ordering::Relaxed), op, changes };
        let cap = self.config.journal_per_asset.max(1);
        if let Some((first, _, _)) = changes.iter().flatten().next()
            && let Some(slot) = locked.slot(*first)
        {
            if slot.journal.len() >= cap {
                slot.journal.pop_front();
            }
            slot.journal.push_back(entry);
        }
        if let Some(hook) = &self.hook {
            hook(&entry);
        }
    }

    /// The balance of `asset`.
    ///
    /// # Errors
    /// [`LedgerError::UnknownAsset`].
    pub fn balance(&self, asset: AssetId) -> Result<Balance, LedgerError> {
        Ok(lock(self.registered(asset)?).balance)
    }

    /// Every asset's balance, read under all the locks at once: a consistent cut.
    #[must_use]
    pub fn snapshot(&self) -> Vec<(String, Balance)> {
        let names = self.assets();
        let guards: Vec<_> = self.slots.iter().take(names.len()).map(lock).collect();
        names.into_iter().zip(guards.iter().map(|g| g.balance)).collect()
    }

    /// Adds `amount` to the free balance (deposit, transfer in).
    ///
    /// # Errors
    /// [`LedgerError::InvalidAmount`] unless `amount > 0`; [`LedgerError::UnknownAsset`].
    pub fn credit(&self, asset: AssetId, amount: Decimal) -> Result<Balance, LedgerError> {
        positive(amount)?;
        let mut locked = self.lock_all([Some(asset), None, None])?;
        let slot = locked.slot(asset).ok_or(LedgerError::UnknownAsset)?;
        // free + locked stays representable, so moving funds between them never overflows.
        fits(slot.balance, amount)?;
        slot.balance.free += amount;
        let balance = slot.balance;
        self.journal(&mut locked, JournalOp::Credit, [Some((asset, amount, Decimal::ZERO)), None, None]);
        Ok(balance)
    }

    /// Removes `amount` from the free balance (withdrawal, transfer out).
    ///
    /// # Errors
    /// [`LedgerError::InsufficientFunds`] when less is free; [`LedgerError::InvalidAmount`].
    pub fn debit(&self, asset: AssetId, amount: Decimal) -> Result<Balance, LedgerError> {
        positive(amount)?;
        let mut locked = self.lock_all([Some(asset), None, None])?;
        let slot = locked.slot(asset).ok_or(LedgerError::UnknownAsset)?;
        if slot.balance.free < amount {
            let free = slot.balance.free;
            return Err(self.insufficient(asset, amount, free));
        }
        slot.balance.free -= amount;
        let balance = slot.balance;
        self.journal(&mut locked, JournalOp::Debit, [Some((asset, -amount, Decimal::ZERO)), None, None]);
        Ok(balance)
    }

    /// Locks `quote_amount` (plus the buy fee headroom) of `quote` for a buy of `base`.
    ///
    /// # Errors
    /// [`LedgerError::InsufficientFunds`], [`LedgerError::InvalidAmount`].
    pub fn reserve_buy(
        &self,
        base: AssetId,
        quote: AssetId,
        quote_amount: Decimal,
    ) -> Result<Reservation, LedgerError> {
        positive(quote_amount)?;
        // The headroom is rounded up to the ledger's 8 decimals.
        let with_fee = quote_amount
            .checked_mul(
                Decimal::ONE
                    .checked_add(self.config.buy_fee_headroom)
                    .ok_or(LedgerError::InvalidAmount(quote_amount))?,
            )
            .map(|d| d.round_dp_with_strategy(MAX_DECIMALS, rust_decimal::RoundingStrategy::AwayFromZero))
            .ok_or(LedgerError::InvalidAmount(quote_amount))?;
        valid(with_fee)?;
        self.reserve(Side::Buy, base, quote, with_fee)
    }

    /// Locks `base_qty` of `base` for a sell against `quote`.
    ///
    /// # Errors
    /// [`LedgerError::InsufficientFunds`], [`LedgerError::InvalidAmount`].
    pub fn reserve_sell(&self, base: AssetId, quote: AssetId, base_qty: Decimal) -> Result<Reservation, LedgerError> {
        positive(base_qty)?;
        self.reserve(Side::Sell, base, quote, base_qty)
    }

    fn reserve(&self, side: Side, base: AssetId, quote: AssetId, amount: Decimal) -> Result<Reservation, LedgerError> {
        // Both assets must exist; only the locked one is locked (and checked by `lock_all`).
        let (asset, other) = if side == Side::Buy { (quote, base) } else { (base, quote) };
        self.registered(other)?;
        let mut locked = self.lock_all([Some(asset), None, None])?;
        let slot = locked.slot(asset).ok_or(LedgerError::UnknownAsset)?;
        if slot.balance.free < amount {
            let free = slot.balance.free;
            return Err(self.insufficient(asset, amount, free));
        }
        let id = self.next_reservation.fetch_add(1, Ordering::Relaxed);
        slot.balance.free -= amount;
        slot.balance.locked += amount;
        slot.open.insert(id, Open { remaining: amount });
        self.journal(&mut locked, JournalOp::Reserve(id), [Some((asset, -amount, amount)), None, None]);
        Ok(Reservation { id, buy: side == Side::Buy, base, quote })
    }

    /// What a reservation still holds, or `None` once released.
    #[must_use]
    pub fn remaining(&self, reservation: &Reservation) -> Option<Decimal> {
        let slot = self.registered(reservation.locked_asset()).ok()?;
        lock(slot).open.get(&reservation.id).map(|o| o.remaining)
    }

    /// Applies one execution: the locked asset pays (`quote_qty` for a buy, `base_qty` for a sell,
    /// plus the commission when it is charged in that asset), the other asset is credited (less
    /// the commission when it is charged in that one), and a commission in a third asset is taken
    /// from that asset's free balance.
    ///
    /// # Errors
    /// [`LedgerError::NotOpen`], [`LedgerError::FillExceedsReservation`],
    /// [`LedgerError::CommissionExceedsCredit`], [`LedgerError::InsufficientFunds`] (a third-asset
    /// commission), [`LedgerError::InvalidAmount`]. Nothing changes on error.
    pub fn fill(&self, reservation: &Reservation, execution: Execution) -> Result<(), LedgerError> {
        let Execution { base_qty, quote_qty, commission, commission_asset } = execution;
        for amount in [base_qty, quote_qty, commission] {
            valid(amount)?;
        }
        let (pay_asset, credit_asset) = (reservation.locked_asset(), reservation.credited_asset());
        let (paid, credited) = if reservation.buy { (quote_qty, base_qty) } else { (base_qty, quote_qty) };
        let mut locked = self.lock_all([Some(pay_asset), Some(credit_asset), Some(commission_asset)])?;
        // Check everything first.
        let mut needed = paid;
        let mut credit = credited;
        let mut third = Decimal::ZERO;
        if commission_asset == pay_asset {
            needed = needed.checked_add(commission).ok_or(LedgerError::InvalidAmount(commission))?;
        } else if commission_asset == credit_asset {
            if commission > credited {
                return Err(LedgerError::CommissionExceedsCredit { commission, credited });
            }
            credit -= commission;
        } else {
            third = commission;
        }
        let pay = locked.slot(pay_asset).ok_or(LedgerError::UnknownAsset)?;
        let open = pay.open.get(&reservation.id).copied().ok_or(LedgerError::NotOpen(reservation.id))?;
        if needed > open.remaining {
            return Err(LedgerError::FillExceedsReservation { id: reservation.id, needed, remaining: open.remaining });
        }
        if !third.is_zero() {
            let fee_slot = locked.slot(commission_asset).ok_or(LedgerError::UnknownAsset)?;
            if fee_slot.balance.free < third {
                let free = fee_slot.balance.free;
                return Err(self.insufficient(commission_asset, third, free));
            }
        }
        let credit_slot = locked.slot(credit_asset).ok_or(LedgerError::UnknownAsset)?;
        fits(credit_slot.balance, credit)?;
        // Apply: nothing below can fail.
        credit_slot.balance.free += credit;
        let pay = locked.slot(pay_asset).ok_or(LedgerError::UnknownAsset)?;
        pay.balance.locked -= needed;
        if let Some(o) = pay.open.get_mut(&reservation.id) {
            o.remaining -= needed;
        }
        let mut changes =
            [Some((pay_asset, Decimal::ZERO, -needed)), Some((credit_asset, credit, Decimal::ZERO)), None];
        if !third.is_zero()
            && let Some(fee_slot) = locked.slot(commission_asset)
        {
            fee_slot.balance.free -= third;
            changes[2] = Some((commission_asset, -third, Decimal::ZERO));
        }
        self.journal(&mut locked, JournalOp::Fill(reservation.id), changes);
        Ok(())
    }

    /// Returns what is left of a reservation to the free balance and closes it. Returns the
    /// amount released.
    ///
    /// # Errors
    /// [`LedgerError::NotOpen`] when it was already released.
    pub fn release(&self, reservation: &Reservation) -> Result<Decimal, LedgerError> {
        let asset = reservation.locked_asset();
        let mut locked = self.lock_all([Some(asset), None, None])?;
        let slot = locked.slot(asset).ok_or(LedgerError::UnknownAsset)?;
        let open = slot.open.remove(&reservation.id).ok_or(LedgerError::NotOpen(reservation.id))?;
        slot.balance.locked -= open.remaining;
        slot.balance.free += open.remaining;
        self.journal(
            &mut locked,
            JournalOp::Release(reservation.id),
            [Some((asset, open.remaining, -open.remaining)), None, None],
        );
        Ok(open.remaining)
    }

    /// Compares the ledger with the exchange's balances (`GET /api/v3/account` or
    /// `outboundAccountPosition`): every asset that differs, either way. Assets the exchange does
    /// not list count as zero there. Nothing is changed.
    #[must_use]
    pub fn reconcile(&self, exchange: &[(String, Balance)]) -> Vec<Difference> {
        let ours = self.snapshot();
        let mut diffs = Vec::new();
        let theirs: HashMap<&str, Balance> = exchange.iter().map(|(a, b)| (a.as_str(), *b)).collect();
        for (asset, ledger) in &ours {
            let exchange = theirs.get(asset.as_str()).copied().unwrap_or_default();
            if exchange != *ledger {
                diffs.push(Difference { asset: asset.clone(), ledger: *ledger, exchange });
            }
        }
        for (asset, exchange) in exchange {
            if !ours.iter().any(|(a, _)| a == asset) && *exchange != Balance::default() {
                diffs.push(Difference { asset: asset.clone(), ledger: Balance::default(), exchange: *exchange });
            }
        }
        diffs
    }

    /// The journal entries still kept, in sequence order.
    #[must_use]
    pub fn journal_entries(&self) -> Vec<JournalEntry> {
        let count = self.registered.load(Ordering::Acquire);
        let mut all: Vec<JournalEntry> =
            self.slots.iter().take(count).flat_map(|s| lock(s).journal.iter().copied().collect::<Vec<_>>()).collect();
        all.sort_unstable_by_key(|e| e.seq);
        all
    }
}

/// The largest balance the ledger holds, exclusive: 10^20 (Binance's 20 integer digits).
const LIMIT: Decimal = Decimal::from_parts(1_661_992_960, 1_808_227_885, 5, false, 0);

/// The most decimals an amount may carry (Binance keeps balances to 8 decimals).
const MAX_DECIMALS: u32 = 8;

/// Whether `amount` can be added to `balance` with `free + locked` below [`LIMIT`]. With every
/// amount below 10^20 and at most 8 decimals, every sum and difference the ledger computes has at
/// most 28 significant digits, so `Decimal` arithmetic is exact (it would round silently beyond).
fn fits(balance: Balance, amount: Decimal) -> Result<(), LedgerError> {
    if balance.total() + amount < LIMIT { Ok(()) } else { Err(LedgerError::InvalidAmount(amount)) }
}

/// Not negative, below 10^20, at most 8 decimals.
fn valid(amount: Decimal) -> Result<(), LedgerError> {
    if amount.is_sign_negative() || amount >= LIMIT || amount.round_dp(MAX_DECIMALS) != amount {
        Err(LedgerError::InvalidAmount(amount))
    } else {
        Ok(())
    }
}

fn positive(amount: Decimal) -> Result<(), LedgerError> {
    valid(amount)?;
    if amount > Decimal::ZERO { Ok(()) } else { Err(LedgerError::InvalidAmount(amount)) }
}
