//! One symbol's simulated market: a seeded random walk of the mid price and a synthetic book of
//! liquidity around it, regenerated at every step. Deterministic: the same seed and the same
//! sequence of calls give the same book, trades and prices.

use std::collections::VecDeque;

use rust_decimal::Decimal;

use aegis_exchange::num::{Rounding, round_to_step};
use aegis_exchange::{Filter, SymbolRules};

/// The crate's SplitMix64 stream: small, seedable, good enough for a simulation.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// SplitMix64 (Steele, Lea and Flood): one add and two multiply-xorshifts per draw; seeded
    /// runs repeat exactly.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// One price level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Level {
    pub(crate) price: Decimal,
    pub(crate) qty: Decimal,
}

/// A public trade of the simulated market.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PublicTrade {
    pub(crate) id: u64,
    pub(crate) price: Decimal,
    pub(crate) qty: Decimal,
    pub(crate) time: i64,
    pub(crate) buyer_is_maker: bool,
}

/// The trades of one second or one minute, for klines and tickers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Candle {
    pub(crate) open_time: i64,
    pub(crate) open: Decimal,
    pub(crate) high: Decimal,
    pub(crate) low: Decimal,
    pub(crate) close: Decimal,
    pub(crate) volume: Decimal,
    pub(crate) quote_volume: Decimal,
    pub(crate) trades: u64,
    pub(crate) taker_buy_volume: Decimal,
    pub(crate) taker_buy_quote_volume: Decimal,
    pub(crate) first_id: u64,
    pub(crate) last_id: u64,
}

impl Candle {
    fn of_trade(open_time: i64, t: &PublicTrade) -> Self {
        let quote = t.price.saturating_mul(t.qty);
        let taker_buys = !t.buyer_is_maker;
        Self {
            open_time,
            open: t.price,
            high: t.price,
            low: t.price,
            close: t.price,
            volume: t.qty,
            quote_volume: quote,
            trades: 1,
            taker_buy_volume: if taker_buys { t.qty } else { Decimal::ZERO },
            taker_buy_quote_volume: if taker_buys { quote } else { Decimal::ZERO },
            first_id: t.id,
            last_id: t.id,
        }
    }

    /// Adds a later candle (or trade) to this one.
    pub(crate) fn merge(&mut self, later: &Candle) {
        self.high = self.high.max(later.high);
        self.low = self.low.min(later.low);
        self.close = later.close;
        self.volume = self.volume.saturating_add(later.volume);
        self.quote_volume = self.quote_volume.saturating_add(later.quote_volume);
        self.trades = self.trades.saturating_add(later.trades);
        self.taker_buy_volume = self.taker_buy_volume.saturating_add(later.taker_buy_volume);
        self.taker_buy_quote_volume = self.taker_buy_quote_volume.saturating_add(later.taker_buy_quote_volume);
        self.last_id = later.last_id;
    }
}

/// At most this many one-second candles (an hour) and one-minute candles (a week) are kept per
/// symbol.
const KEPT_SECONDS: usize = 3_600;
const KEPT_MINUTES: usize = 10_080;

/// Adds `t` to the series of `width_ms` candles.
fn add_to(series: &mut VecDeque<Candle>, kept: usize, width_ms: i64, t: &PublicTrade) {
    let open_time = t.time - t.time.rem_euclid(width_ms);
    match series.back_mut() {
        Some(c) if c.open_time == open_time => c.merge(&Candle::of_trade(open_time, t)),
        _ => {
            if series.len() >= kept {
                series.pop_front();
            }
            series.push_back(Candle::of_trade(open_time, t));
        }
    }
}

/// An aggregate trade's fields (`a` to `M`) for trade `t`, after `r`: each of the paper
/// exchange's trades is one price, so its own aggregate.
pub(crate) fn agg_trade_fields(r: super::wire::Obj, t: &PublicTrade) -> super::wire::Obj {
    let id = i64::try_from(t.id).unwrap_or(i64::MAX);
    r.int("a", id)
        .dec("p", t.price)
        .dec("q", t.qty)
        .int("f", id)
        .int("l", id)
        .int("T", t.time)
        .bool("m", t.buyer_is_maker)
        .bool("M", true)
}

/// How the synthetic market moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalkConfig {
    /// A step of the random walk every this many milliseconds (0: the price only moves when
    /// told to, with [`PaperExchange::set_price`](super::PaperExchange::set_price)).
    pub step_ms: u64,
    /// The largest move of one step, in ticks (each step moves by a uniform amount in
    /// `-max_ticks..=max_ticks`).
    pub max_ticks: u64,
    /// Price levels on each side of the book.
    pub levels: usize,
    /// Ticks between the mid price and the first level on each side, and between levels.
    pub level_gap_ticks: u64,
    /// The quote value of each level, on average (each level gets 50 %–150 % of it).
    pub level_notional: Decimal,
}

impl Default for WalkConfig {
    fn default() -> Self {
        Self { step_ms: 1000, max_ticks: 5, levels: 20, level_gap_ticks: 1, level_notional: Decimal::from(20_000) }
    }
}

/// At most this many public trades and average-price samples are kept per symbol.
const KEPT: usize = 1000;
/// At most this many walk steps are taken by one call (a long pause does not stall the caller).
const MAX_STEPS_PER_CALL: u64 = 10_000;

/// One symbol's market.
#[derive(Debug, Clone)]
pub(crate) struct Market {
    pub(crate) tick: Decimal,
    pub(crate) step: Decimal,
    pub(crate) mid: Option<Decimal>,
    pub(crate) bids: Vec<Level>,
    pub(crate) asks: Vec<Level>,
    pub(crate) update_id: u64,
    pub(crate) trades: VecDeque<PublicTrade>,
    next_trade_id: u64,
    /// (time, price) of every step and trade, for `avgPrice`.
    samples: VecDeque<(i64, Decimal)>,
    last_step_ms: Option<i64>,
    rng: Rng,
    /// Fed from recorded events ([`Market::install`], [`Market::apply_levels`]): no walk.
    pub(crate) replay: bool,
    /// The trades by second and by minute (klines, tickers).
    pub(crate) seconds: VecDeque<Candle>,
    pub(crate) minutes: VecDeque<Candle>,
}

impl Market {
    pub(crate) fn new(rules: &SymbolRules, seed: u64) -> Self {
        let mut tick = Decimal::new(1, 8);
        let mut step = Decimal::new(1, 8);
        for f in rules.filters() {
            match f {
                Filter::PriceFilter { tick_size, .. } if !tick_size.is_zero() => tick = *tick_size,
                Filter::LotSize { step_size, .. } if !step_size.is_zero() => step = *step_size,
                _ => {}
            }
        }
        Self {
            tick,
            step,
            mid: None,
            bids: Vec::new(),
            asks: Vec::new(),
            update_id: 1,
            trades: VecDeque::new(),
            next_trade_id: 1,
            samples: VecDeque::new(),
            last_step_ms: None,
            rng: Rng::new(seed),
            replay: false,
            seconds: VecDeque::new(),
            minutes: VecDeque::new(),
        }
    }

    /// Moves the mid price to `price` (rounded to the tick) and rebuilds the book (leaving
    /// replay mode).
    pub(crate) fn set_mid(&mut self, now: i64, price: Decimal, walk: &WalkConfig) {
        self.replay = false;
        let price = round_to_step(price, self.tick, Rounding::Nearest).unwrap_or(price).max(self.tick);
        self.mid = Some(price);
        self.last_step_ms.get_or_insert(now);
        self.sample(now, price);
        self.rebuild(walk);
    }

    /// Replaces the book with a recorded snapshot; from now on the market only moves with
    /// recorded events.
    pub(crate) fn install(&mut self, now: i64, bids: &[Level], asks: &[Level], update_id: u64) {
        self.replay = true;
        self.bids = bids.iter().filter(|l| l.qty > Decimal::ZERO).copied().collect();
        self.asks = asks.iter().filter(|l| l.qty > Decimal::ZERO).copied().collect();
        self.bids.sort_by_key(|l| std::cmp::Reverse(l.price));
        self.asks.sort_by_key(|l| l.price);
        self.update_id = update_id;
        self.refresh_mid(now);
    }

    /// Applies a recorded depth diff: absolute quantities, zero removes the level. Diffs at or
    /// below the current update id are stale and ignored; returns whether it applied.
    pub(crate) fn apply_levels(&mut self, now: i64, bids: &[Level], asks: &[Level], final_update_id: u64) -> bool {
        if !self.replay || final_update_id <= self.update_id {
            return false;
        }
        for (side, updates, descending) in [(&mut self.bids, bids, true), (&mut self.asks, asks, false)] {
            for u in updates {
                let at =
                    side.binary_search_by(|l| if descending { u.price.cmp(&l.price) } else { l.price.cmp(&u.price) });
                match (at, u.qty > Decimal::ZERO) {
                    (Ok(i), true) => {
                        if let Some(l) = side.get_mut(i) {
                            l.qty = u.qty;
                        }
                    }
                    (Ok(i), false) => {
                        side.remove(i);
                    }
                    (Err(i), true) => side.insert(i, *u),
                    (Err(_), false) => {}
                }
            }
        }
        self.update_id = final_update_id;
        self.refresh_mid(now);
        true
    }

    fn refresh_mid(&mut self, now: i64) {
        let mid = match (self.bids.first(), self.asks.first()) {
            (Some(b), Some(a)) => (b.price + a.price).checked_div(Decimal::TWO),
            (Some(l), None) | (None, Some(l)) => Some(l.price),
            (None, None) => None,
        };
        if let Some(mid) = mid {
            self.mid = Some(mid);
            self.sample(now, mid);
        }
    }

    /// Walks the price up to `now`: one step (and one public trade) per `step_ms` elapsed.
    /// Returns whether it moved.
    pub(crate) fn advance(&mut self, now: i64, walk: &WalkConfig) -> bool {
        if self.replay {
            return false;
        }
        let (Some(mid), Some(last)) = (self.mid, self.last_step_ms) else { return false };
        if walk.step_ms == 0 || now <= last {
            return false;
        }
        let step_ms = i64::try_from(walk.step_ms).unwrap_or(i64::MAX);
        let steps = u64::try_from((now - last) / step_ms).unwrap_or(0);
        if steps == 0 {
            return false;
        }
        let mut price = mid;
        let span = walk.max_ticks.saturating_mul(2).saturating_add(1);
        let floor = self.tick.checked_mul(Decimal::from(100)).unwrap_or(self.tick);
        for i in 0..steps.min(MAX_STEPS_PER_CALL) {
            let ticks = i128::from(self.rng.below(span)) - i128::from(walk.max_ticks);
            let moved = self.tick.checked_mul(Decimal::from(ticks)).and_then(|d| price.checked_add(d)).unwrap_or(price);
            price = if moved < floor { floor.max(price) } else { moved };
            let at = last + step_ms.saturating_mul(i64::try_from(i + 1).unwrap_or(i64::MAX));
            // The market's own participants trade the step's price (one lot), so trade streams
            // move with the walk.
            let step = self.step;
            self.record_trade(at, price, step, ticks < 0);
        }
        self.last_step_ms = Some(last.saturating_add(step_ms.saturating_mul(i64::try_from(steps).unwrap_or(i64::MAX))));
        self.mid = Some(price);
        self.rebuild(walk);
        true
    }

    fn rebuild(&mut self, walk: &WalkConfig) {
        let Some(mid) = self.mid else { return };
        let gap = self.tick.checked_mul(Decimal::from(walk.level_gap_ticks.max(1))).unwrap_or(self.tick);
        self.bids.clear();
        self.asks.clear();
        for i in 1..=walk.levels {
            let Some(offset) = gap.checked_mul(Decimal::from(i as u64)) else { break };
            let Some(ask) = mid.checked_add(offset) else { break };
            let qty = self.level_qty(ask, walk);
            self.asks.push(Level { price: ask, qty });
            let bid = mid - offset;
            if bid > Decimal::ZERO {
                let qty = self.level_qty(bid, walk);
                self.bids.push(Level { price: bid, qty });
            }
        }
        self.update_id = self.update_id.saturating_add(1);
    }

    fn level_qty(&mut self, price: Decimal, walk: &WalkConfig) -> Decimal {
        let factor = Decimal::new(50 + self.rng.below(101) as i64, 2);
        let raw = walk.level_notional.checked_mul(factor).and_then(|n| n.checked_div(price)).unwrap_or_default();
        // A step of 10^-k (every bundled symbol's): rounding down is cutting to k decimals, the
        // same value without a division.
        let down = if self.step.mantissa() == 1 && !raw.is_sign_negative() {
            raw.round_dp_with_strategy(self.step.scale(), rust_decimal::RoundingStrategy::ToZero)
        } else {
            round_to_step(raw, self.step, Rounding::Down).unwrap_or_default()
        };
        down.max(self.step)
    }

    fn sample(&mut self, at: i64, price: Decimal) {
        if self.samples.len() >= KEPT {
            self.samples.pop_front();
        }
        self.samples.push_back((at, price));
    }

    /// Records a trade of the market (the book's own or one of ours).
    pub(crate) fn record_trade(&mut self, now: i64, price: Decimal, qty: Decimal, buyer_is_maker: bool) -> u64 {
        let id = self.next_trade_id;
        self.next_trade_id += 1;
        if self.trades.len() >= KEPT {
            self.trades.pop_front();
        }
        let trade = PublicTrade { id, price, qty, time: now, buyer_is_maker };
        add_to(&mut self.seconds, KEPT_SECONDS, 1_000, &trade);
        add_to(&mut self.minutes, KEPT_MINUTES, 60_000, &trade);
        self.trades.push_back(trade);
        self.sample(now, price);
        id
    }

    /// The last price: the last trade's, or the mid.
    pub(crate) fn last_price(&self) -> Option<Decimal> {
        self.trades.back().map(|t| t.price).or(self.mid)
    }

    /// The mean price over the last `mins` minutes (the last price when none was sampled),
    /// rounded to the tick.
    /// The arithmetic mean of the last price at the end of each of `buckets` buckets of
    /// `width_ms` ending now, rounded to the tick; `None` before any price.
    pub(crate) fn reference_price(&self, now: i64, buckets: i64, width_ms: i64) -> Option<Decimal> {
        let mut sum = Decimal::ZERO;
        let mut n = 0u32;
        for k in 0..buckets {
            let end = now.saturating_sub(k.saturating_mul(width_ms));
            let price = self.samples.iter().rev().find(|(at, _)| *at <= end).map(|(_, p)| *p);
            if let Some(p) = price {
                sum = sum.checked_add(p)?;
                n += 1;
            }
        }
        if n == 0 {
            return self.last_price();
        }
        round_to_step(sum.checked_div(Decimal::from(n))?, self.tick, Rounding::Nearest).ok()
    }

    pub(crate) fn average_price(&self, now: i64, mins: u64) -> Option<Decimal> {
        let since = now.saturating_sub(i64::try_from(mins.saturating_mul(60_000)).unwrap_or(i64::MAX));
        let mut sum = Decimal::ZERO;
        let mut n = 0u32;
        for (at, p) in self.samples.iter().rev() {
            if *at < since {
                break;
            }
            sum = sum.checked_add(*p)?;
            n += 1;
        }
        if n == 0 {
            return self.last_price();
        }
        let mean = sum.checked_div(Decimal::from(n))?;
        round_to_step(mean, self.tick, Rounding::Nearest).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aegis_exchange::{BUNDLED_EXCHANGE_INFO, ExchangeInfo};

    fn market(seed: u64) -> Market {
        let info = ExchangeInfo::from_json(BUNDLED_EXCHANGE_INFO).unwrap();
        Market::new(info.symbol("BTCUSDT").unwrap(), seed)
    }

    /// The book's quantities are `round_to_step(.., Down)` of the level's notional over its
    /// price, whatever the step (the cut for a power-of-ten step is the same value).
    #[test]
    fn level_quantities_are_rounded_down_to_the_step() {
        let walk = WalkConfig::default();
        for step in [Decimal::new(1, 5), Decimal::new(5, 3), Decimal::ONE, Decimal::new(25, 1)] {
            let mut m = market(3);
            m.step = step;
            let mut mirror = market(3);
            for price in [Decimal::new(650_001_234, 4), Decimal::new(3, 2), Decimal::from(7)] {
                let got = m.level_qty(price, &walk);
                let factor = Decimal::new(50 + mirror.rng.below(101) as i64, 2);
                let raw = walk.level_notional * factor / price;
                let want = round_to_step(raw, step, Rounding::Down).unwrap().max(step);
                assert_eq!(got, want, "step {step}, price {price}");
                assert!(aegis_exchange::num::is_multiple_of(got, step));
            }
        }
    }

    #[test]
    fn the_walk_is_deterministic_and_stays_on_the_tick() {
        let walk = WalkConfig::default();
        let (mut a, mut b, mut c) = (market(7), market(7), market(8));
        for m in [&mut a, &mut b, &mut c] {
            m.set_mid(0, Decimal::from(65_000), &walk);
            assert!(m.advance(60_000, &walk));
        }
        assert_eq!(a.mid, b.mid);
        assert_eq!(a.asks, b.asks);
        assert_ne!((a.mid, a.asks.clone()), (c.mid, c.asks.clone()), "another seed, another path");
        let mid = a.mid.unwrap();
        assert_eq!(mid % a.tick, Decimal::ZERO);
        assert!(a.asks.windows(2).all(|w| w[0].price < w[1].price));
        assert!(a.bids.windows(2).all(|w| w[0].price > w[1].price));
        assert!(a.bids[0].price < mid && mid < a.asks[0].price);
        assert!(a.asks.iter().all(|l| l.qty > Decimal::ZERO && l.qty % a.step == Decimal::ZERO));
        // 60 steps of at most 5 ticks.
        assert!((mid - Decimal::from(65_000)).abs() <= a.tick * Decimal::from(300));
    }

    #[test]
    fn a_long_pause_is_bounded_and_a_still_market_does_not_move() {
        let walk = WalkConfig::default();
        let mut m = market(1);
        assert!(!m.advance(1000, &walk), "no price yet");
        m.set_mid(0, Decimal::from(100), &walk);
        assert!(m.advance(i64::MAX, &walk));
        let still = WalkConfig { step_ms: 0, ..walk };
        let mid = m.mid;
        assert!(!m.advance(i64::MAX, &still));
        assert_eq!(m.mid, mid);
    }

    #[test]
    fn average_price_over_the_window() {
        let walk = WalkConfig { step_ms: 0, ..WalkConfig::default() };
        let mut m = market(1);
        m.set_mid(0, Decimal::from(100), &walk);
        m.record_trade(60_000, Decimal::from(110), Decimal::ONE, false);
        assert_eq!(m.average_price(60_000, 5), Some(Decimal::from(105)));
        assert_eq!(m.average_price(400_000, 1), Some(Decimal::from(110)), "nothing in the window: the last price");
    }
}
