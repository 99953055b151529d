//! Shared test harness: a seeded RNG, random orders against real symbols, and the fuzz
//! harness (the same file the cargo-fuzz targets use).
#![allow(dead_code)]

#[path = "../../fuzz/harness.rs"]
pub mod harness;

pub mod info;

use aegis_exchange::{Decimal, Filter, MarketContext, OrderRequest, OrderType, Side, SymbolRules, TimeInForce};

/// SplitMix64: deterministic, seedable, good enough for test inputs.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }

    /// A positive decimal around `anchor`: anchor × (0.01 .. 20), with 0 to 12 extra decimals.
    pub fn around(&mut self, anchor: Decimal) -> Decimal {
        let factor = Decimal::new(i64::try_from(self.below(2_000) + 1).unwrap_or(1), 2);
        let noise = Decimal::new(
            i64::try_from(self.below(1_000_000)).unwrap_or(0),
            6 + u32::try_from(self.below(7)).unwrap_or(0),
        );
        let v = anchor.checked_mul(factor).unwrap_or(anchor) + noise * anchor;
        if v.is_zero() { Decimal::new(1, 8) } else { v }
    }
}

fn anchor_qty(rules: &SymbolRules) -> Decimal {
    for f in rules.filters() {
        if let Filter::LotSize { min_qty, .. } = *f
            && min_qty > Decimal::ZERO
        {
            return min_qty * Decimal::from(37);
        }
    }
    Decimal::ONE
}

fn anchor_price(rules: &SymbolRules) -> Decimal {
    for f in rules.filters() {
        if let Filter::PriceFilter { min_price, max_price, .. } = *f
            && min_price > Decimal::ZERO
            && max_price > Decimal::ZERO
        {
            // A price well inside the band.
            return (min_price * Decimal::from(1000)).min(max_price / Decimal::from(10)).max(min_price);
        }
    }
    Decimal::ONE
}

/// A well-formed random order for `rules` (any allowed type), and a context around it.
pub fn random_order(rng: &mut Rng, rules: &SymbolRules) -> (OrderRequest, MarketContext) {
    let types = rules.order_types();
    let t = types.get(usize::try_from(rng.below(types.len() as u64)).unwrap_or(0)).cloned().unwrap_or(OrderType::Limit);
    let side = if rng.below(2) == 0 { Side::Buy } else { Side::Sell };
    let s = rules.symbol();
    let qty = rng.around(anchor_qty(rules));
    let price = rng.around(anchor_price(rules));
    let stop = rng.around(anchor_price(rules));
    let o = match t {
        OrderType::Limit => {
            let o = OrderRequest::limit(s, side, qty, price);
            if rng.below(5) == 0 { o.with_time_in_force(TimeInForce::Ioc) } else { o }
        }
        OrderType::Market if rng.below(3) == 0 && rules.quote_order_qty_market_allowed() => {
            OrderRequest::market_quote(s, side, rng.around(qty * price))
        }
        OrderType::Market => OrderRequest::market(s, side, qty),
        OrderType::StopLoss => OrderRequest::stop_loss(s, side, qty, stop),
        OrderType::StopLossLimit => OrderRequest::stop_loss_limit(s, side, qty, price, stop),
        OrderType::TakeProfit => OrderRequest::take_profit(s, side, qty, stop),
        OrderType::TakeProfitLimit => OrderRequest::take_profit_limit(s, side, qty, price, stop),
        _ => OrderRequest::limit_maker(s, side, qty, price),
    };
    let ctx = MarketContext::default()
        .with_reference_price(rng.around(anchor_price(rules)))
        .with_open_orders(rng.below(10))
        .with_open_algo_orders(rng.below(3))
        .with_base_position(rng.around(anchor_qty(rules)));
    (o, ctx)
}
