//! A trade group (Binance's STP FAQ): a second account of the same `tradeGroupId`, the
//! *sibling*, whose resting orders meet this account's orders with self-trade prevention
//! instead of trading when the taker's mode says so. `TRANSFER` between the two accounts, when
//! both orders say it, moves the prevented quantity and its notional between them ("in addition
//! to the behavior of `DECREMENT`, the last prevented quantity and its notional are transferred
//! between the two accounts"); otherwise it is `DECREMENT`.
//!
//! The sibling is driven through [`PaperExchange::sibling_place`] and friends, not over the
//! API (the paper exchange serves one account's keys). Its orders meet only this account's
//! orders: they do not take or rest in the market's synthetic liquidity, and they send no
//! user-data events (they are another account's).

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use super::{AfterOwn, FillRecord, PaperExchange, PreventedMatch, round8};
use aegis_exchange::Balance;
use aegis_exchange::{SelfTradePreventionMode, Side};

/// The other account of the trade group.
#[derive(Debug, Clone, Default)]
pub(super) struct Sibling {
    /// The group's id (`tradeGroupId`).
    pub(super) group: i64,
    balances: BTreeMap<String, Balance>,
    orders: BTreeMap<u64, SiblingOrder>,
}

/// A resting LIMIT GTC order of the sibling account.
#[derive(Debug, Clone)]
pub(super) struct SiblingOrder {
    symbol: String,
    base: String,
    quote: String,
    side: Side,
    price: Decimal,
    /// What is left of it.
    left: Decimal,
    /// What it holds locked (quote for a buy, base for a sell).
    lock: Decimal,
    stp: SelfTradePreventionMode,
    time: i64,
}

impl Sibling {
    pub(super) fn new(group: i64) -> Self {
        Self { group, ..Self::default() }
    }
}

/// Who rests on the book at the best price a taker meets.
pub(super) enum Maker {
    /// An order of this account.
    Own(u64),
    /// An order of the sibling account.
    Sibling(u64),
}

/// The mode that decides when `taker` meets `maker`: `TRANSFER` only when both say it (else
/// `DECREMENT`); otherwise the taker's.
pub(super) fn mode(taker: &SelfTradePreventionMode, maker: &SelfTradePreventionMode) -> SelfTradePreventionMode {
    match (taker, maker) {
        (SelfTradePreventionMode::Transfer, SelfTradePreventionMode::Transfer) => SelfTradePreventionMode::Transfer,
        (SelfTradePreventionMode::Transfer, _) => SelfTradePreventionMode::Decrement,
        (mode, _) => mode.clone(),
    }
}

/// What self-trade prevention in `mode` takes when a taker with `taker_left` meets a maker with
/// `maker_left`: `None` when they trade (`NONE`); else what it takes from the taker and from the
/// maker (`EXPIRE_*`: the whole remaining quantity of that side; `DECREMENT` / `TRANSFER`: the
/// smaller quantity from both).
pub(super) fn prevented(
    mode: &SelfTradePreventionMode,
    taker_left: Decimal,
    maker_left: Decimal,
) -> Option<(Option<Decimal>, Option<Decimal>)> {
    let both = taker_left.min(maker_left);
    match mode {
        SelfTradePreventionMode::Decrement | SelfTradePreventionMode::Transfer => Some((Some(both), Some(both))),
        SelfTradePreventionMode::ExpireTaker => Some((Some(taker_left), None)),
        SelfTradePreventionMode::ExpireMaker => Some((None, Some(maker_left))),
        SelfTradePreventionMode::ExpireBoth => Some((Some(taker_left), Some(maker_left))),
        // NONE, and modes this version does not know (they trade).
        _ => None,
    }
}

/// Why the sibling could not place an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SiblingError {
    /// The exchange has no trade group ([`PaperConfig::with_trade_group`](super::PaperConfig::with_trade_group)).
    NoTradeGroup,
    /// The symbol has no market here.
    UnknownSymbol(String),
    /// A quantity or price that is not positive.
    BadOrder,
    /// The sibling's free balance does not cover the order.
    InsufficientBalance,
}

impl std::fmt::Display for SiblingError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoTradeGroup => f.write_str("the paper exchange has no trade group"),
            Self::UnknownSymbol(s) => write!(f, "no market for {s}"),
            Self::BadOrder => f.write_str("quantity and price must be positive"),
            Self::InsufficientBalance => f.write_str("the sibling account's balance is insufficient"),
        }
    }
}

impl std::error::Error for SiblingError {}

impl PaperExchange {
    /// The trade group's id: `-1` when the account is in none (Binance's value then).
    #[must_use]
    pub fn trade_group(&self) -> i64 {
        self.sibling.as_ref().map_or(-1, |s| s.group)
    }

    /// Credits `amount` of `asset` to the trade group's other account.
    ///
    /// # Errors
    /// [`SiblingError::NoTradeGroup`].
    pub fn sibling_deposit(&mut self, asset: &str, amount: Decimal) -> Result<(), SiblingError> {
        let sibling = self.sibling.as_mut().ok_or(SiblingError::NoTradeGroup)?;
        let b = sibling.balances.entry(asset.to_owned()).or_default();
        b.free = b.free.saturating_add(amount);
        Ok(())
    }

    /// The other account's balance of `asset` (zero when it has none or there is no group).
    #[must_use]
    pub fn sibling_balance(&self, asset: &str) -> Balance {
        self.sibling.as_ref().and_then(|s| s.balances.get(asset)).copied().unwrap_or_default()
    }

    /// What is left of the other account's order `id` (`None`: it is no longer on the book).
    #[must_use]
    pub fn sibling_order_left(&self, id: u64) -> Option<Decimal> {
        self.sibling.as_ref().and_then(|s| s.orders.get(&id)).map(|o| o.left)
    }

    /// The trade group's other account places a LIMIT GTC order: it first meets this account's
    /// resting orders its price crosses (best price first, then the oldest), self-trade
    /// prevention deciding by its own mode as the taker, then what is left rests on the book,
    /// where this account's takers meet it. Returns its order id (`None` when nothing rests).
    ///
    /// # Errors
    /// [`SiblingError`]: no group, no market, a non-positive quantity or price, or a balance
    /// that does not cover it.
    pub fn sibling_place(
        &mut self,
        now: i64,
        symbol: &str,
        side: Side,
        qty: Decimal,
        price: Decimal,
        stp: SelfTradePreventionMode,
    ) -> Result<Option<u64>, SiblingError> {
        let now = self.server_time(now);
        self.tick(now);
        if self.sibling.is_none() {
            return Err(SiblingError::NoTradeGroup);
        }
        if qty <= Decimal::ZERO || price <= Decimal::ZERO {
            return Err(SiblingError::BadOrder);
        }
        let rules = self.config.exchange_info.symbol(symbol).filter(|_| self.markets.contains_key(symbol));
        let Some(rules) = rules else { return Err(SiblingError::UnknownSymbol(symbol.to_owned())) };
        let (base, quote) = (rules.base_asset().to_owned(), rules.quote_asset().to_owned());
        let lock = if side == Side::Buy { round8(price.saturating_mul(qty)) } else { qty };
        let locked_asset = if side == Side::Buy { &quote } else { &base };
        let sibling = self.sibling.as_mut().ok_or(SiblingError::NoTradeGroup)?;
        let b = sibling.balances.entry(locked_asset.clone()).or_default();
        if b.free < lock {
            return Err(SiblingError::InsufficientBalance);
        }
        b.free -= lock;
        b.locked += lock;
        let id = self.next_order_id;
        self.next_order_id += 1;
        let order =
            SiblingOrder { symbol: symbol.to_owned(), base, quote, side, price, left: qty, lock, stp, time: now };
        if let Some(s) = self.sibling.as_mut() {
            s.orders.insert(id, order);
        }
        let touched = self.sibling_takes(now, id);
        if touched && let Some((base, quote)) = self.sibling_assets(id) {
            self.account_position(now, &[base.as_str(), quote.as_str()]);
        }
        self.publish(now);
        if self.sibling_order_left(id).is_some_and(|left| left > Decimal::ZERO) {
            return Ok(Some(id));
        }
        self.sibling_close(id);
        Ok(None)
    }

    /// Cancels the other account's order `id`; whether it was on the book.
    pub fn sibling_cancel(&mut self, id: u64) -> bool {
        let on_book = self.sibling_order_left(id).is_some();
        self.sibling_close(id);
        on_book
    }

    fn sibling_assets(&self, id: u64) -> Option<(String, String)> {
        self.sibling.as_ref().and_then(|s| s.orders.get(&id)).map(|o| (o.base.clone(), o.quote.clone()))
    }

    /// Takes the sibling's order off the book, its lock back to free.
    fn sibling_close(&mut self, id: u64) {
        let Some(s) = self.sibling.as_mut() else { return };
        let Some(o) = s.orders.remove(&id) else { return };
        let asset = if o.side == Side::Buy { o.quote } else { o.base };
        let b = s.balances.entry(asset).or_default();
        b.locked -= o.lock;
        b.free += o.lock;
    }

    /// `qty` of the sibling's order no longer trades (prevention): its share of the lock goes
    /// back to free.
    fn sibling_reduce(&mut self, id: u64, qty: Decimal) {
        let Some(s) = self.sibling.as_mut() else { return };
        let Some(o) = s.orders.get_mut(&id) else { return };
        let release = if o.side == Side::Buy { round8(o.price.saturating_mul(qty)) } else { qty }.min(o.lock);
        o.left = (o.left - qty).max(Decimal::ZERO);
        o.lock -= release;
        let asset = if o.side == Side::Buy { o.quote.clone() } else { o.base.clone() };
        let b = s.balances.entry(asset).or_default();
        b.locked -= release;
        b.free += release;
    }

    /// The sibling's order trades `qty` at `price` with an order of this account (no
    /// commission: the other account's fees are not modelled).
    fn sibling_trade(&mut self, id: u64, price: Decimal, qty: Decimal) {
        let Some(s) = self.sibling.as_mut() else { return };
        let Some(o) = s.orders.get_mut(&id) else { return };
        let notional = round8(price.saturating_mul(qty));
        let (base, quote) = (o.base.clone(), o.quote.clone());
        o.left = (o.left - qty).max(Decimal::ZERO);
        if o.side == Side::Buy {
            let from_lock = round8(o.price.saturating_mul(qty)).min(o.lock);
            o.lock -= from_lock;
            let q = s.balances.entry(quote).or_default();
            q.locked -= from_lock;
            q.free += from_lock - notional;
            s.balances.entry(base).or_default().free += qty;
        } else {
            let from_lock = qty.min(o.lock);
            o.lock -= from_lock;
            s.balances.entry(base).or_default().locked -= from_lock;
            s.balances.entry(quote).or_default().free += notional;
        }
    }

    /// `TRANSFER` between the accounts: `qty` of the base and its notional at `price` move from
    /// the seller to the buyer and back (`ours`: this account's side), out of free balances
    /// (prevention returned the locks first).
    fn transfer(&mut self, base: &str, quote: &str, ours: &Side, qty: Decimal, price: Decimal) {
        eprintln!(
            "DEBUG transfer ours={ours:?} qty={qty} price={price} last_prev={:?}",
            self.prevented.back().map(|p| (p.taker, p.maker, p.mode.clone()))
        );
        let notional = round8(price.saturating_mul(qty));
        let (base_in, quote_in) = if *ours == Side::Buy { (qty, -notional) } else { (-qty, notional) };
        let mine = self.balances.entry(base.to_owned()).or_default();
        mine.free += base_in;
        let mine = self.balances.entry(quote.to_owned()).or_default();
        mine.free += quote_in;
        if let Some(s) = self.sibling.as_mut() {
            s.balances.entry(base.to_owned()).or_default().free -= base_in;
            s.balances.entry(quote.to_owned()).or_default().free -= quote_in;
        }
    }

    /// The sibling's best resting order taker `id` of this account would meet, as
    /// `(order id, price, time)`.
    pub(super) fn sibling_maker(&self, id: u64) -> Option<(u64, Decimal, i64)> {
        let t = self.orders.get(&id)?;
        let limit = (!t.price.is_zero()).then_some(t.price);
        self.sibling
            .as_ref()?
            .orders
            .iter()
            .filter(|(_, m)| {
                m.symbol == t.symbol
                    && m.side != t.side
                    && m.left > Decimal::ZERO
                    && match (limit, &t.side) {
                        (None, _) => true,
                        (Some(l), Side::Buy) => m.price <= l,
                        (Some(l), _) => m.price >= l,
                    }
            })
            .min_by(|(a_id, a), (b_id, b)| {
                let by_price = if t.side == Side::Buy { a.price.cmp(&b.price) } else { b.price.cmp(&a.price) };
                by_price.then(a.time.cmp(&b.time)).then(a_id.cmp(b_id))
            })
            .map(|(id, m)| (*id, m.price, m.time))
    }

    /// Records a prevented match for `myPreventedMatches`; returns its id.
    #[allow(clippy::too_many_arguments, reason = "one prevented match's facts")]
    pub(super) fn record_prevention(
        &mut self,
        now: i64,
        symbol: String,
        taker: u64,
        maker: u64,
        mode: SelfTradePreventionMode,
        price: Decimal,
        taker_qty: Option<Decimal>,
        maker_qty: Option<Decimal>,
    ) -> u64 {
        let match_id = self.next_prevented_match;
        self.next_prevented_match = self.next_prevented_match.saturating_add(1);
        super::keep_last(
            &mut self.prevented,
            PreventedMatch { symbol, id: match_id, taker, maker, mode, price, taker_qty, maker_qty, time: now },
        );
        match_id
    }

    /// Taker `taker` of this account meets the sibling's resting order `maker` at `price`:
    /// as [`meet_own`](PaperExchange::meet_own), across the two accounts (`NONE` trades
    /// between them; `TRANSFER` when both say it moves the prevented quantity's worth).
    pub(super) fn meet_sibling(
        &mut self,
        now: i64,
        taker: u64,
        maker: u64,
        price: Decimal,
        fills: &mut Vec<FillRecord>,
    ) -> AfterOwn {
        let Some(t) = self.orders.get(&taker) else { return AfterOwn::Done { satisfied: false } };
        let Some(m) = self.sibling.as_ref().and_then(|s| s.orders.get(&maker)) else {
            return AfterOwn::Done { satisfied: false };
        };
        let mode = mode(&t.stp, &m.stp);
        let (by_quote, taker_left) = self.taker_left(taker, price);
        let maker_left = m.left;
        let (symbol, side, base, quote) = (t.symbol.clone(), t.side.clone(), t.base.clone(), t.quote.clone());
        if taker_left.is_zero() {
            return AfterOwn::Done { satisfied: by_quote };
        }
        let both = taker_left.min(maker_left);
        let Some((taker_qty, maker_qty)) = prevented(&mode, taker_left, maker_left) else {
            // A trade between the two accounts.
            let done = both == taker_left;
            if let Some(f) = self.fill(now, taker, price, both, false, done && by_quote, None) {
                fills.push(f);
            }
            self.sibling_trade(maker, price, both);
            if self.sibling_order_left(maker).is_some_and(|l| l.is_zero()) {
                self.sibling_close(maker);
            }
            return if done { AfterOwn::Done { satisfied: true } } else { AfterOwn::Continue };
        };
        let match_id = self.record_prevention(now, symbol, taker, maker, mode.clone(), price, taker_qty, maker_qty);
        if let Some(q) = maker_qty {
            self.sibling_reduce(maker, q);
            if self.sibling_order_left(maker).is_some_and(|l| l.is_zero()) {
                self.sibling_close(maker);
            }
        }
        if let Some(q) = taker_qty {
            self.prevent(now, taker, maker, match_id, price, q, q == taker_left);
        }
        if mode == SelfTradePreventionMode::Transfer {
            self.transfer(&base, &quote, &side, both, price);
        }
        match self.orders.get(&taker) {
            Some(o) if o.is_open() => AfterOwn::Continue,
            _ => AfterOwn::Done { satisfied: false },
        }
    }

    /// The sibling's new order `sib` as a taker against this account's resting orders; whether
    /// any was met.
    fn sibling_takes(&mut self, now: i64, sib: u64) -> bool {
        let mut touched = false;
        loop {
            let Some(t) = self.sibling.as_ref().and_then(|s| s.orders.get(&sib)).cloned() else { return touched };
            if t.left.is_zero() {
                return touched;
            }
            let maker = self
                .open
                .iter()
                .filter_map(|m| self.orders.get(m))
                .filter(|m| {
                    m.symbol == t.symbol
                        && m.side != t.side
                        && m.is_open()
                        && m.working.is_some()
                        && !m.price.is_zero()
                        && m.remaining() > Decimal::ZERO
                        && if t.side == Side::Buy { m.price <= t.price } else { m.price >= t.price }
                })
                .min_by(|a, b| {
                    let by_price = if t.side == Side::Buy { a.price.cmp(&b.price) } else { b.price.cmp(&a.price) };
                    by_price.then(a.time.cmp(&b.time)).then(a.id.cmp(&b.id))
                })
                .map(|m| (m.id, m.price, m.remaining(), m.stp.clone(), m.side.clone()));
            let Some((maker, price, maker_left, maker_stp, maker_side)) = maker else { return touched };
            touched = true;
            let mode = mode(&t.stp, &maker_stp);
            let both = t.left.min(maker_left);
            let Some((taker_qty, maker_qty)) = prevented(&mode, t.left, maker_left) else {
                // A trade between the two accounts, at this account's price.
                self.sibling_trade(sib, price, both);
                self.fill(now, maker, price, both, true, false, None);
                if self.orders.get(&maker).is_some_and(|o| o.status == aegis_exchange::OrderStatus::Filled) {
                    self.close(maker);
                }
                continue;
            };
            let match_id =
                self.record_prevention(now, t.symbol.clone(), sib, maker, mode.clone(), price, taker_qty, maker_qty);
            if let Some(q) = taker_qty {
                self.sibling_reduce(sib, q);
            }
            if let Some(q) = maker_qty {
                self.prevent(now, maker, sib, match_id, price, q, q == maker_left);
            }
            if mode == SelfTradePreventionMode::Transfer {
                self.transfer(&t.base, &t.quote, &maker_side, both, price);
            }
        }
    }
}
