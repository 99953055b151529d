use std::collections::{HashMap, VecDeque};
use std::fmt;

#[cfg(aegis_loom)]
use loom::sync::{
    Mutex, MutexGuard, RwLock,
    atomic::{AtomicUsize, Ordering},
};
use rust_decimal::Decimal;
#[cfg(not(aegis_loom))]
use std::sync::{
    Mutex, MutexGuard, RwLock,
    atomic::{AtomicUsize, Ordering},
};

use crate::fast_hash::FastHash;
use crate::model::Side;

/// `Arc` for the read-only view (never loom's: the view only shares the ledger).
type ViewArc<T> = std::sync::Arc<T>;

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
    /// A reservation's base and quote are the same asset.
    #[error("base and quote are the same asset")]
    SameAsset,
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
    /// Part of a reservation went back to free (its order's quantity was reduced); the
    /// reservation stays open.
    Reduce(u64),
}

/// One journal entry: an operation and the balance change per asset (up to three assets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JournalEntry {
    /// A logical timestamp: strictly increasing per asset, and an operation that touches an
    /// asset after another has the higher one (a Lamport clock, kept without a global counter that
    /// threads on different assets would contend on). Sorting by it gives an order in which every
    /// asset's changes replay as they happened.
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

/// Amounts inside the ledger: integer units of 10^-8 (Binance's balance precision). Every amount
/// is below 10^20, i.e. below 10^28 units, so sums of a few of them never overflow an `i128`.
type Units = i128;

/// The largest balance the ledger holds, exclusive, in units: 10^20 (Binance's 20 integer digits).
const LIMIT_UNITS: Units = 10_000_000_000_000_000_000_000_000_000;

/// One asset's balance in units.
#[derive(Debug, Clone, Copy, Default)]
struct Held {
    free: Units,
    locked: Units,
}

impl Held {
    fn to_balance(self) -> Balance {
        Balance { free: dec(self.free), locked: dec(self.locked) }
    }
}

#[derive(Debug, Default)]
struct Slot {
    held: Held,
    /// Open reservations locking this asset: what each still holds.
    open: HashMap<u64, Units, FastHash>,
    /// The next reservation number of this asset.
    next_reservation: u64,
    /// The asset's Lamport clock (the `seq` of its last journal entry).
    clock: u64,
    journal: VecDeque<RawEntry>,
}

/// A journal entry as kept (96 bytes): the assets and the amounts moved, in units; the per-asset
/// deltas follow from the operation and are built only when read.
#[derive(Debug, Clone, Copy)]
struct RawEntry {
    seq: u64,
    op: JournalOp,
    /// Credit / Debit / Reserve / Release: the asset. Fill: the paying, credited and
    /// third (commission) asset.
    assets: [Option<AssetId>; 3],
    /// The amount per asset (Fill: paid from locked, credited to free, commission from free).
    amounts: [Units; 3],
}

impl RawEntry {
    fn entry(&self) -> JournalEntry {
        let [a0, a1, a2] = self.assets;
        let [x0, x1, x2] = self.amounts;
        let d = |a: Option<AssetId>, free: Units, locked: Units| a.map(|a| (a, dec(free), dec(locked)));
        let changes = match self.op {
            JournalOp::Credit => [d(a0, x0, 0), None, None],
            JournalOp::Debit => [d(a0, -x0, 0), None, None],
            JournalOp::Reserve(_) => [d(a0, -x0, x0), None, None],
            JournalOp::Release(_) | JournalOp::Reduce(_) => [d(a0, x0, -x0), None, None],
            JournalOp::Fill(_) => [d(a0, 0, -x0), d(a1, x1, 0), d(a2, -x2, 0)],
        };
        JournalEntry { seq: self.seq, op: self.op, changes }
    }
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
///
/// An account ledger that no interleaving of threads can corrupt: per-asset `free` / `locked`
/// balances in [`Decimal`], reservations that resolve exactly once, and a bounded journal.
///
/// Amounts are at most 8 decimals (Binance's balance precision) and below 10^20, which keeps
/// every sum exact in `Decimal` (it would otherwise round silently past 28 digits); an amount
/// outside that is [`LedgerError::InvalidAmount`].
///
/// Every operation is atomic (all or nothing): it takes the locks of the assets it touches in
/// ascending [`AssetId`] order (so two operations never deadlock), checks everything, then
/// applies. An operation that fails changes nothing. Balances never go negative. Each asset has
/// its own lock, so threads working on different assets do not contend.
///
/// A [`Reservation`] is made for an order before it is sent (a buy locks the quote amount plus a
/// configurable fee headroom, a sell locks the base quantity); fills consume it and credit the
/// other asset, and a release (cancel, reject, expiry) returns what is left. A reservation that
/// has been released is gone: a second release, or a fill beyond what remains, is a typed error.
///
/// ```
/// use aegis_exchange::{Execution, Ledger};
/// use rust_decimal_macros::dec;
///
/// let ledger = Ledger::new();
/// let (btc, usdt) = (ledger.asset("BTC").unwrap(), ledger.asset("USDT").unwrap());
/// ledger.credit(usdt, dec!(1000)).unwrap();
/// let r = ledger.reserve_buy(btc, usdt, dec!(650)).unwrap();   // 650 USDT locked
/// ledger.fill(&r, Execution { base_qty: dec!(0.005), quote_qty: dec!(325), commission: dec!(0.000005), commission_asset: btc }).unwrap();
/// assert_eq!(ledger.release(&r).unwrap(), dec!(325));          // cancel the rest
/// assert!(ledger.release(&r).is_err());                        // exactly once
/// let b = ledger.balance(usdt).unwrap();
/// assert_eq!((b.free, b.locked), (dec!(675), dec!(0)));
/// assert_eq!(ledger.balance(btc).unwrap().free, dec!(0.004995));
/// ```
pub struct Ledger {
    config: LedgerConfig,
    names: RwLock<(HashMap<String, AssetId>, Vec<String>)>,
    slots: Box<[Padded]>,
    /// How many assets are registered (slots below it are in use); read on every operation
    /// without touching the name table.
    registered: AtomicUsize,
    hook: Option<JournalHook>,
}

impl fmt::Debug for Ledger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ledger").field("config", &self.config).field("assets", &self.assets().len()).finish()
    }
}

/// A read-only handle on a [`Ledger`], what [`Engine::ledger`](crate::engine::Engine::ledger) and
/// the client hand out: balances, reservations and the journal can be read, nothing can be
/// changed (the order tracker and the engine's reconciliation are the ledger's only writers).
/// Cheap to clone; `Send + Sync`.
///
/// ```
/// use std::sync::Arc;
/// use aegis_exchange::{Balance, Ledger, LedgerView};
/// use rust_decimal_macros::dec;
/// let ledger = Arc::new(Ledger::new());
/// let usdt = ledger.asset("USDT").unwrap();
/// ledger.credit(usdt, dec!(100)).unwrap();
/// let view = LedgerView::new(Arc::clone(&ledger));
/// assert_eq!(view.balance_of("USDT"), Some(Balance { free: dec!(100), locked: dec!(0) }));
/// ```
#[derive(Clone)]
pub struct LedgerView(ViewArc<Ledger>);

impl LedgerView {
    /// A read-only view of `ledger`.
    #[must_use]
    pub fn new(ledger: ViewArc<Ledger>) -> Self {
        Self(ledger)
    }

    /// The id of an asset, if the ledger knows it.
    #[must_use]
    pub fn asset_id(&self, name: &str) -> Option<AssetId> {
        self.0.asset_id(name)
    }

    /// The name of an asset id.
    #[must_use]
    pub fn asset_name(&self, id: AssetId) -> Option<String> {
        self.0.asset_name(id)
    }

    /// Every asset's name.
    #[must_use]
    pub fn assets(&self) -> Vec<String> {
        self.0.assets()
    }

    /// An asset's balance.
    ///
    /// # Errors
    /// [`LedgerError::UnknownAsset`] for an id this ledger did not give.
    pub fn balance(&self, asset: AssetId) -> Result<Balance, LedgerError> {
        self.0.balance(asset)
    }

    /// An asset's balance by name (`None` for an asset the ledger never saw).
    #[must_use]
    pub fn balance_of(&self, name: &str) -> Option<Balance> {
        self.0.asset_id(name).and_then(|id| self.0.balance(id).ok())
    }

    /// Every asset's balance.
    #[must_use]
    pub fn snapshot(&self) -> Vec<(String, Balance)> {
        self.0.snapshot()
    }

    /// What is left of a reservation, while it is open.
    #[must_use]
    pub fn remaining(&self, reservation: &Reservation) -> Option<Decimal> {
        self.0.remaining(reservation)
    }

    /// The differences between the ledger and balances the exchange reports (nothing changes).
    #[must_use]
    pub fn reconcile(&self, exchange: &[(String, Balance)]) -> Vec<Difference> {
        self.0.reconcile(exchange)
    }

    /// The journal of every change (bounded by the ledger's config).
    #[must_use]
    pub fn journal_entries(&self) -> Vec<JournalEntry> {
        self.0.journal_entries()
    }
}

impl fmt::Debug for LedgerView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("LedgerView").field(&self.0).finish()
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

/// A slot on cache lines of its own, so threads on different assets do not share one.
#[derive(Debug)]
#[repr(align(128))]
struct Padded(Mutex<Slot>);

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
            slots: (0..max).map(|_| Padded(Mutex::new(Slot::default()))).collect(),
            registered: AtomicUsize::new(0),
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
        self.slots.get(id.index()).map(|p| &p.0).ok_or(LedgerError::UnknownAsset)
    }

    fn insufficient(&self, asset: AssetId, needed: Units, available: Units) -> LedgerError {
        LedgerError::InsufficientFunds {
            asset: self.asset_name(asset).unwrap_or_default(),
            needed: dec(needed),
            available: dec(available),
        }
    }

    /// Records a fill in the paying asset's journal: one Lamport sequence number past the
    /// clocks of every slot it touched (all locked), which all move to it.
    #[inline(always)]
    fn journal_fill(&self, slots: [Option<&mut Slot>; 3], id: u64, assets: [Option<AssetId>; 3], amounts: [Units; 3]) {
        let [pay, credit, third] = slots;
        let Some(pay) = pay else { return };
        let mut seq = pay.clock;
        for s in [&credit, &third].into_iter().flatten() {
            seq = seq.max(s.clock);
        }
        seq += 1;
        for s in [credit, third].into_iter().flatten() {
            s.clock = seq;
        }
        pay.clock = seq;
        self.push(pay, RawEntry { seq, op: JournalOp::Fill(id), assets, amounts });
    }

    /// Records an operation on one asset (locked) that moved `amount`.
    #[inline(always)]
    fn journal_one(&self, slot: &mut Slot, op: JournalOp, asset: AssetId, amount: Units) {
        slot.clock += 1;
        let raw = RawEntry { seq: slot.clock, op, assets: [Some(asset), None, None], amounts: [amount, 0, 0] };
        self.push(slot, raw);
    }

    /// Keeps an entry in its first asset's bounded journal and hands it to the hook.
    #[inline(always)]
    fn push(&self, slot: &mut Slot, raw: RawEntry) {
        if slot.journal.len() >= self.config.journal_per_asset.max(1) {
            slot.journal.pop_front();
        }
        slot.journal.push_back(raw);
        if let Some(hook) = &self.hook {
            hook(&raw.entry());
        }
    }

    /// The balance of `asset`.
    ///
    /// # Errors
    /// [`LedgerError::UnknownAsset`].
    pub fn balance(&self, asset: AssetId) -> Result<Balance, LedgerError> {
        Ok(lock(self.registered(asset)?).held.to_balance())
    }

    /// Every asset's balance, read under all the locks at once: a consistent cut.
    #[must_use]
    pub fn snapshot(&self) -> Vec<(String, Balance)> {
        let names = self.assets();
        let guards: Vec<_> = self.slots.iter().take(names.len()).map(|p| lock(&p.0)).collect();
        names.into_iter().zip(guards.iter().map(|g| g.held.to_balance())).collect()
    }

    /// Adds `amount` to the free balance (deposit, transfer in).
    ///
    /// # Errors
    /// [`LedgerError::InvalidAmount`] unless `amount > 0`; [`LedgerError::UnknownAsset`].
    pub fn credit(&self, asset: AssetId, amount: Decimal) -> Result<Balance, LedgerError> {
        let units = positive(amount)?;
        let mut slot = lock(self.registered(asset)?);
        // free + locked stays below the limit.
        fits(slot.held, units).ok_or(LedgerError::InvalidAmount(amount))?;
        slot.held.free += units;
        let balance = slot.held.to_balance();
        self.journal_one(&mut slot, JournalOp::Credit, asset, units);
        Ok(balance)
    }

    /// Removes `amount` from the free balance (withdrawal, transfer out).
    ///
    /// # Errors
    /// [`LedgerError::InsufficientFunds`] when less is free; [`LedgerError::InvalidAmount`].
    pub fn debit(&self, asset: AssetId, amount: Decimal) -> Result<Balance, LedgerError> {
        let units = positive(amount)?;
        let mut slot = lock(self.registered(asset)?);
        if slot.held.free < units {
            let free = slot.held.free;
            drop(slot);
            return Err(self.insufficient(asset, units, free));
        }
        slot.held.free -= units;
        let balance = slot.held.to_balance();
        self.journal_one(&mut slot, JournalOp::Debit, asset, units);
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
        let units = positive(quote_amount)?;
        if self.config.buy_fee_headroom.is_zero() {
            return self.reserve(Side::Buy, base, quote, units);
        }
        // The headroom is rounded up to the ledger's 8 decimals.
        let with_fee = quote_amount
            .checked_mul(
                Decimal::ONE
                    .checked_add(self.config.buy_fee_headroom)
                    .ok_or(LedgerError::InvalidAmount(quote_amount))?,
            )
            .map(|d| d.round_dp_with_strategy(MAX_DECIMALS, rust_decimal::RoundingStrategy::AwayFromZero))
            .ok_or(LedgerError::InvalidAmount(quote_amount))?;
        self.reserve(Side::Buy, base, quote, units_of(with_fee)?)
    }

    /// Locks `base_qty` of `base` for a sell against `quote`.
    ///
    /// # Errors
    /// [`LedgerError::InsufficientFunds`], [`LedgerError::InvalidAmount`].
    pub fn reserve_sell(&self, base: AssetId, quote: AssetId, base_qty: Decimal) -> Result<Reservation, LedgerError> {
        let units = positive(base_qty)?;
        self.reserve(Side::Sell, base, quote, units)
    }

    fn reserve(&self, side: Side, base: AssetId, quote: AssetId, amount: Units) -> Result<Reservation, LedgerError> {
        // Both assets must exist; only the locked one is locked.
        let (asset, other) = if side == Side::Buy { (quote, base) } else { (base, quote) };
        if asset == other {
            return Err(LedgerError::SameAsset);
        }
        self.registered(other)?;
        let mut guard = lock(self.registered(asset)?);
        let slot = &mut *guard;
        if slot.held.free < amount {
            let free = slot.held.free;
            drop(guard);
            return Err(self.insufficient(asset, amount, free));
        }
        // Unique in the ledger: the asset's index, then the asset's own counter (which skips a
        // number still open should it ever wrap).
        let id = loop {
            slot.next_reservation = (slot.next_reservation + 1) & RESERVATION_MASK;
            let id = (u64::from(asset.0) << RESERVATION_BITS) | slot.next_reservation;
            if slot.next_reservation != 0 && !slot.open.contains_key(&id) {
                break id;
            }
        };
        slot.held.free -= amount;
        slot.held.locked += amount;
        slot.open.insert(id, amount);
        self.journal_one(slot, JournalOp::Reserve(id), asset, amount);
        Ok(Reservation { id, buy: side == Side::Buy, base, quote })
    }

    /// What a reservation still holds, or `None` once released.
    #[must_use]
    pub fn remaining(&self, reservation: &Reservation) -> Option<Decimal> {
        let slot = self.registered(reservation.locked_asset()).ok()?;
        lock(slot).open.get(&reservation.id).map(|units| dec(*units))
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
        let (base_units, quote_units, fee) = (units_of(base_qty)?, units_of(quote_qty)?, units_of(commission)?);
        let (pay_asset, credit_asset) = (reservation.locked_asset(), reservation.credited_asset());
        let (paid, credited) = if reservation.buy { (quote_units, base_units) } else { (base_units, quote_units) };
        if pay_asset == credit_asset {
            // `reserve` refuses such a reservation; locking one slot twice would deadlock.
            return Err(LedgerError::SameAsset);
        }
        // What each slot gives: the commission comes out of the payment, out of the credit, or
        // (a third asset, e.g. BNB) out of that asset's free balance.
        let mut needed = paid;
        let mut credit = credited;
        let mut third = None;
        if commission_asset == pay_asset {
            needed += fee;
        } else if commission_asset == credit_asset {
            if fee > credited {
                return Err(LedgerError::CommissionExceedsCredit { commission, credited: dec(credited) });
            }
            credit -= fee;
        } else if fee != 0 {
            third = Some(commission_asset);
        }
        // Lock only the slots touched, in ascending id order (the one lock order of the ledger).
        let mutexes = [
            Some(self.registered(pay_asset)?),
            Some(self.registered(credit_asset)?),
            match third {
                Some(asset) => Some(self.registered(asset)?),
                None => None,
            },
        ];
        let key = |a: Option<AssetId>| a.map_or(usize::MAX, AssetId::index);
        let (p, c, t) = (pay_asset.index(), credit_asset.index(), key(third));
        // Three distinct keys (an absent third sorts last): the order by comparisons.
        let order = match (p < c, c < t, p < t) {
            (true, true, _) => [0, 1, 2],
            (true, false, true) => [0, 2, 1],
            (true, false, false) => [2, 0, 1],
            (false, true, true) => [1, 0, 2],
            (false, true, false) => [1, 2, 0],
            (false, false, _) => [2, 1, 0],
        };
        let mut guards: [Option<MutexGuard<'_, Slot>>; 3] = [None, None, None];
        for k in order {
            if let (Some(Some(mutex)), Some(guard)) = (mutexes.get(k), guards.get_mut(k)) {
                *guard = Some(lock(mutex));
            }
        }
        let [pay_guard, credit_guard, third_guard] = &mut guards;
        let (Some(pay), Some(credit_slot)) = (pay_guard.as_deref_mut(), credit_guard.as_deref_mut()) else {
            return Err(LedgerError::UnknownAsset);
        };
        let mut fee_slot = third_guard.as_deref_mut();
        // Check everything first.
        let remaining = pay.open.get_mut(&reservation.id).ok_or(LedgerError::NotOpen(reservation.id))?;
        if needed > *remaining {
            return Err(LedgerError::FillExceedsReservation {
                id: reservation.id,
                needed: dec(needed),
                remaining: dec(*remaining),
            });
        }
        let third_fee = if let Some(slot) = fee_slot.as_deref_mut() {
            if slot.held.free < fee {
                let free = slot.held.free;
                drop(guards);
                return Err(self.insufficient(commission_asset, fee, free));
            }
            fee
        } else {
            0
        };
        fits(credit_slot.held, credit).ok_or(LedgerError::InvalidAmount(dec(credit)))?;
        // Apply: nothing below can fail.
        *remaining -= needed;
        pay.held.locked -= needed;
        credit_slot.held.free += credit;
        if let Some(slot) = fee_slot.as_deref_mut() {
            slot.held.free -= third_fee;
        }
        let assets = [Some(pay_asset), Some(credit_asset), third];
        self.journal_fill(
            [Some(pay), Some(credit_slot), fee_slot],
            reservation.id,
            assets,
            [needed, credit, third_fee],
        );
        Ok(())
    }

    /// Returns what is left of a reservation to the free balance and closes it. Returns the
    /// amount released.
    ///
    /// # Errors
    /// [`LedgerError::NotOpen`] when it was already released.
    pub fn release(&self, reservation: &Reservation) -> Result<Decimal, LedgerError> {
        let asset = reservation.locked_asset();
        let mut slot = lock(self.registered(asset)?);
        let remaining = slot.open.remove(&reservation.id).ok_or(LedgerError::NotOpen(reservation.id))?;
        slot.held.locked -= remaining;
        slot.held.free += remaining;
        self.journal_one(&mut slot, JournalOp::Release(reservation.id), asset, remaining);
        Ok(dec(remaining))
    }

    /// Returns part of a reservation to the free balance and keeps it open: its order's quantity
    /// was reduced (a keep-priority amend). `amount` is what the order no longer needs, as
    /// [`reserve_buy`](Self::reserve_buy) / [`reserve_sell`](Self::reserve_sell) took it (for a
    /// buy, the fee headroom on top is returned with it). Never more than the reservation still
    /// holds: returns the amount released.
    ///
    /// ```
    /// use aegis_exchange::Ledger;
    /// use rust_decimal_macros::dec;
    /// let ledger = Ledger::new();
    /// let (btc, usdt) = (ledger.asset("BTC").unwrap(), ledger.asset("USDT").unwrap());
    /// ledger.credit(usdt, dec!(1000)).unwrap();
    /// let r = ledger.reserve_buy(btc, usdt, dec!(600)).unwrap();
    /// assert_eq!(ledger.reduce(&r, dec!(200)).unwrap(), dec!(200));
    /// assert_eq!(ledger.balance(usdt).unwrap().locked, dec!(400));
    /// assert_eq!(ledger.remaining(&r), Some(dec!(400)));
    /// ```
    ///
    /// # Errors
    /// [`LedgerError::NotOpen`] when it was already released, [`LedgerError::InvalidAmount`].
    pub fn reduce(&self, reservation: &Reservation, amount: Decimal) -> Result<Decimal, LedgerError> {
        let amount = self.with_headroom(reservation, amount, rust_decimal::RoundingStrategy::ToZero)?;
        let units = positive(amount)?;
        let asset = reservation.locked_asset();
        let mut slot = lock(self.registered(asset)?);
        let remaining = slot.open.get_mut(&reservation.id).ok_or(LedgerError::NotOpen(reservation.id))?;
        let released = units.min(*remaining);
        *remaining -= released;
        slot.held.locked -= released;
        slot.held.free += released;
        if released != 0 {
            self.journal_one(&mut slot, JournalOp::Reduce(reservation.id), asset, released);
        }
        Ok(dec(released))
    }

    /// `amount` as [`reserve_buy`](Self::reserve_buy) takes it for a buy (with the fee
    /// headroom on top, rounded by `rounding`); a sell's as it is.
    fn with_headroom(
        &self,
        reservation: &Reservation,
        amount: Decimal,
        rounding: rust_decimal::RoundingStrategy,
    ) -> Result<Decimal, LedgerError> {
        if !reservation.buy || self.config.buy_fee_headroom.is_zero() {
            return Ok(amount);
        }
        Decimal::ONE
            .checked_add(self.config.buy_fee_headroom)
            .and_then(|f| amount.checked_mul(f))
            .map(|d| d.round_dp_with_strategy(MAX_DECIMALS, rounding))
            .ok_or(LedgerError::InvalidAmount(amount))
    }

    /// The opposite of [`reduce`](Self::reduce): the order needs `amount` more (as
    /// [`reserve_buy`](Self::reserve_buy) / [`reserve_sell`](Self::reserve_sell) take it, with a
    /// buy's fee headroom on top), moved from free into the reservation: a pegged buy whose
    /// price, known from the exchange's answer, is above the bound it was reserved by. Returns
    /// what the reservation holds now.
    ///
    /// # Errors
    /// As [`extend`](Self::extend). Nothing changes on error.
    pub fn grow(&self, reservation: &Reservation, amount: Decimal) -> Result<Decimal, LedgerError> {
        let amount = self.with_headroom(reservation, amount, rust_decimal::RoundingStrategy::AwayFromZero)?;
        self.extend(reservation, amount)
    }

    /// Moves `amount` more of the locked asset from free into an open reservation (journaled as
    /// a [`JournalOp::Reserve`] of it): what an OPO's working order receives is locked for its
    /// pending orders as it arrives. Returns what the reservation holds now.
    ///
    /// ```
    /// use aegis_exchange::Ledger;
    /// use rust_decimal_macros::dec;
    /// let ledger = Ledger::new();
    /// let (btc, usdt) = (ledger.asset("BTC").unwrap(), ledger.asset("USDT").unwrap());
    /// ledger.credit(btc, dec!(1)).unwrap();
    /// let r = ledger.reserve_sell(btc, usdt, dec!(0.25)).unwrap();
    /// assert_eq!(ledger.extend(&r, dec!(0.5)).unwrap(), dec!(0.75));
    /// assert_eq!(ledger.balance(btc).unwrap().free, dec!(0.25));
    /// assert!(ledger.extend(&r, dec!(0.5)).is_err()); // only 0.25 free
    /// ```
    ///
    /// # Errors
    /// [`LedgerError::NotOpen`], [`LedgerError::InsufficientFunds`],
    /// [`LedgerError::InvalidAmount`]. Nothing changes on error.
    pub fn extend(&self, reservation: &Reservation, amount: Decimal) -> Result<Decimal, LedgerError> {
        let units = positive(amount)?;
        let asset = reservation.locked_asset();
        let mut guard = lock(self.registered(asset)?);
        let slot = &mut *guard;
        if !slot.open.contains_key(&reservation.id) {
            return Err(LedgerError::NotOpen(reservation.id));
        }
        if slot.held.free < units {
            let free = slot.held.free;
            drop(guard);
            return Err(self.insufficient(asset, units, free));
        }
        let total = match slot.open.get_mut(&reservation.id) {
            Some(held) => {
                *held += units;
                *held
            }
            None => return Err(LedgerError::NotOpen(reservation.id)),
        };
        slot.held.free -= units;
        slot.held.locked += units;
        self.journal_one(slot, JournalOp::Reserve(reservation.id), asset, units);
        Ok(dec(total))
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
        let mut all: Vec<JournalEntry> = self
            .slots
            .iter()
            .take(count)
            .flat_map(|s| lock(&s.0).journal.iter().map(RawEntry::entry).collect::<Vec<_>>())
            .collect();
        all.sort_unstable_by_key(|e| e.seq);
        all
    }
}

/// The most decimals an amount may carry (Binance keeps balances to 8 decimals).
const MAX_DECIMALS: u32 = 8;

/// Reservation ids: the asset's index above this many bits, the asset's counter below.
const RESERVATION_BITS: u32 = 48;
const RESERVATION_MASK: u64 = (1 << RESERVATION_BITS) - 1;

/// 10^0 ..= 10^8.
const POW10: [Units; 9] = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000];

/// Units as a `Decimal` with 8 decimals (always representable: |units| < 10^28 < 2^96).
fn dec(units: Units) -> Decimal {
    Decimal::try_from_i128_with_scale(units, MAX_DECIMALS).unwrap_or(Decimal::MAX)
}

/// Whether `amount` units can be added to `held` with `free + locked` staying below the limit.
fn fits(held: Held, amount: Units) -> Option<()> {
    (held.free + held.locked + amount < LIMIT_UNITS).then_some(())
}

/// An amount in units: not negative, below 10^20, at most 8 decimals.
#[inline]
fn units_of(amount: Decimal) -> Result<Units, LedgerError> {
    let invalid = LedgerError::InvalidAmount(amount);
    if amount.is_sign_negative() && !amount.is_zero() {
        return Err(invalid);
    }
    let (mantissa, scale) = (amount.mantissa(), amount.scale());
    let units = if let Some(factor) = POW10.get((MAX_DECIMALS.saturating_sub(scale)) as usize)
        && scale <= MAX_DECIMALS
    {
        // |mantissa| < 2^96 and factor <= 10^8 < 2^27: no overflow.
        Some(mantissa * factor)
    } else {
        // More decimals are fine only when they are trailing zeros.
        let divisor = 10_i128.checked_pow(scale - MAX_DECIMALS).ok_or(invalid.clone())?;
        (mantissa % divisor == 0).then(|| mantissa / divisor)
    };
    match units {
        Some(u) if (0..LIMIT_UNITS).contains(&u) => Ok(u),
        _ => Err(invalid),
    }
}

/// A valid amount above zero, in units.
fn positive(amount: Decimal) -> Result<Units, LedgerError> {
    match units_of(amount)? {
        0 => Err(LedgerError::InvalidAmount(amount)),
        units => Ok(units),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_round_trip_and_refuse_what_does_not_fit() {
        use rust_decimal_macros::dec as d;
        assert_eq!(units_of(d!(1.5)), Ok(150_000_000));
        assert_eq!(units_of(d!(0.00000001)), Ok(1));
        assert_eq!(units_of(d!(1.0000000000)), Ok(100_000_000), "trailing zeros beyond 8 decimals are fine");
        assert!(units_of(d!(0.000000001)).is_err());
        assert!(units_of(d!(-1)).is_err());
        assert!(units_of(d!(100000000000000000000)).is_err());
        assert_eq!(units_of(d!(99999999999999999999.99999999)), Ok(LIMIT_UNITS - 1));
        assert_eq!(dec(150_000_000), d!(1.5));
        assert_eq!(dec(-(LIMIT_UNITS - 1)), d!(-99999999999999999999.99999999));
    }
}
