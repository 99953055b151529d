//! A fixed-point accelerator for `validate` / `normalize` on the common order shapes.
//!
//! A symbol's rules are compiled once into integer units of its asset precisions (a BTCUSDT
//! price in units of 10^-8 USDT, a quantity in units of 10^-8 BTC). For a LIMIT, LIMIT_MAKER or
//! MARKET-by-quantity order without stop, trailing, iceberg or STP parameters, rounding and every
//! filter check become exact integer arithmetic on those units.
//!
//! The accelerator can only say "valid": on any failure, any doubt (a value that does not fit,
//! a missing context in strict mode, a shape it does not cover) it returns `None` and the
//! reference path in `validate.rs` runs, which produces the exact error. Its results equal the
//! reference path's on every input: `tests/normalize_properties.rs`, the real-capture test and
//! the `order_validation` fuzz target assert it.

use std::cmp::Ordering;

use rust_decimal::Decimal;

use super::context::{MarketContext, NormalizeOptions};
use super::exchange_info::SymbolRules;
use super::filter::{Filter, FilterKind};
use crate::model::{OrderRequest, OrderType, Side, SymbolStatus, mantissa_within_wire_range};
use crate::num::{Rounding, cmp_scaled, mul_pow10, mul_u128, pow10_u128};

/// A non-negative decimal as (mantissa, scale).
type Fixed = (u128, u32);

/// `v` as [`Fixed`], `None` when negative (such a symbol takes the reference path).
fn fixed(v: Decimal) -> Option<Fixed> {
    if v.is_sign_negative() && !v.is_zero() { None } else { Some((v.mantissa().unsigned_abs(), v.scale())) }
}

/// A price band filter (PERCENT_PRICE / PERCENT_PRICE_BY_SIDE): [up, down] multipliers for
/// BUY and for SELL; a zero mantissa is a disabled side.
#[derive(Debug, Clone, PartialEq)]
struct Band {
    kind: FilterKind,
    bid: [Fixed; 2],
    ask: [Fixed; 2],
    avg_price_mins: u64,
}

/// A notional filter (MIN_NOTIONAL: no max, equal market flags); bounds pre-scaled to the
/// scale of quantity units × price units where exact; zero = disabled.
#[derive(Debug, Clone, PartialEq)]
struct NotionalRule {
    kind: FilterKind,
    min: Fixed,
    min_to_market: bool,
    max: Fixed,
    max_to_market: bool,
    avg_price_mins: u64,
}

/// Merged (min, max) bounds in units; 0 = no bound.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
struct Bounds {
    min: u64,
    max: u64,
}

impl Bounds {
    /// Tightens with another filter's bounds (every filter of a kind must pass).
    fn merge(&mut self, min: u64, max: u64) {
        self.min = self.min.max(min);
        if max > 0 {
            self.max = if self.max == 0 { max } else { self.max.min(max) };
        }
    }

    fn outside(self, v: u64) -> bool {
        v < self.min || (self.max > 0 && v > self.max)
    }
}

/// A symbol's rules flattened into integer units; `None` from [`FastPlan::build`] when they do
/// not fit (the reference path then serves the symbol).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FastPlan {
    qty_scale: u32,
    price_scale: u32,
    /// Steps rounded to, in units (1 when disabled).
    lot_step: u64,
    market_step: u64,
    tick: u64,
    /// How results are written back, (step ÷ 10^k, scale - k) for the largest power of ten 10^k
    /// dividing the step: a count of steps times the first is the mantissa, so amounts come out
    /// at their step's own scale (`0.14977`, not `0.14977000`) without a division.
    qty_out: (u64, u32),
    market_qty_out: (u64, u32),
    price_out: (u64, u32),
    limit_allowed: bool,
    market_allowed: bool,
    limit_maker_allowed: bool,
    price: Bounds,
    lot: Bounds,
    market_lot: Bounds,
    bands: Vec<Band>,
    notionals: Vec<NotionalRule>,
    /// MAX_NUM_ORDERS and EXCHANGE_MAX_NUM_ORDERS (0 = absent or disabled).
    max_open_orders: u64,
    max_account_open_orders: u64,
    max_position: Option<Decimal>,
    has_unknown: bool,
}

/// `v` as a whole number of units of 10^-scale, if exact and within u64.
fn exact_units(v: Decimal, scale: u32) -> Option<u64> {
    let (m, s) = fixed(v)?;
    let units = if s <= scale {
        mul_pow10(m, scale - s)?
    } else {
        let div = pow10_u128(s - scale);
        if !m.is_multiple_of(div) {
            return None;
        }
        m / div
    };
    u64::try_from(units).ok()
}

/// A step in units; a disabled step (zero) is 1 unit, i.e. no constraint beyond precision.
fn step_units(step: Decimal, scale: u32) -> Option<u64> {
    if step.is_zero() { Some(1) } else { exact_units(step, scale).filter(|u| *u > 0) }
}

/// `v` at `scale` when that is exact and fits (so comparisons need no rescaling), else as is.
fn fixed_at(v: Decimal, scale: u32) -> Option<Fixed> {
    let (m, s) = fixed(v)?;
    Some(if s <= scale { mul_pow10(m, scale - s).map_or((m, s), |m| (m, scale)) } else { (m, s) })
}

impl FastPlan {
    pub(crate) fn build(rules: &SymbolRules) -> Option<FastPlan> {
        if !rules.asset_filters.is_empty() {
            return None;
        }
        let (qs, ps) = (rules.base_asset_precision, rules.quote_asset_precision);
        let mut plan = FastPlan {
            qty_scale: qs,
            price_scale: ps,
            lot_step: 1,
            market_step: 1,
            tick: 1,
            qty_out: (1, qs),
            market_qty_out: (1, qs),
            price_out: (1, ps),
            limit_allowed: rules.order_types.contains(&OrderType::Limit),
            market_allowed: rules.order_types.contains(&OrderType::Market),
            limit_maker_allowed: rules.order_types.contains(&OrderType::LimitMaker),
            price: Bounds::default(),
            lot: Bounds::default(),
            market_lot: Bounds::default(),
            bands: Vec::new(),
            notionals: Vec::new(),
            max_open_orders: 0,
            max_account_open_orders: 0,
            max_position: None,
            has_unknown: false,
        };
        // Every step of a kind must be met; the first is the one rounded to, and a later one
        // that it is not a multiple of sends the symbol to the reference path.
        let (mut tick, mut lot_step, mut market_step) = (None, None, None);
        let tighten = |first: &mut Option<u64>, step: u64| -> Option<()> {
            let rounded_to = *first.get_or_insert(step);
            rounded_to.is_multiple_of(step).then_some(())
        };
        let tightest = |current: u64, max: u64| {
            if max == 0 {
                current
            } else if current == 0 {
                max
            } else {
                current.min(max)
            }
        };
        for f in rules.filters.iter().chain(rules.exchange_filters.iter()) {
            match *f {
                Filter::PriceFilter { min_price, max_price, tick_size } => {
                    tighten(&mut tick, step_units(tick_size, ps)?)?;
                    plan.price.merge(exact_units(min_price, ps)?, exact_units(max_price, ps)?);
                }
                Filter::LotSize { min_qty, max_qty, step_size } => {
                    tighten(&mut lot_step, step_units(step_size, qs)?)?;
                    plan.lot.merge(exact_units(min_qty, qs)?, exact_units(max_qty, qs)?);
                }
                Filter::MarketLotSize { min_qty, max_qty, step_size } => {
                    tighten(&mut market_step, step_units(step_size, qs)?)?;
                    plan.market_lot.merge(exact_units(min_qty, qs)?, exact_units(max_qty, qs)?);
                }
                Filter::PercentPrice { multiplier_up, multiplier_down, avg_price_mins } => {
                    let pair = [fixed(multiplier_up)?, fixed(multiplier_down)?];
                    plan.bands.push(Band { kind: FilterKind::PercentPrice, bid: pair, ask: pair, avg_price_mins });
                }
                Filter::PercentPriceBySide {
                    bid_multiplier_up,
                    bid_multiplier_down,
                    ask_multiplier_up,
                    ask_multiplier_down,
                    avg_price_mins,
                } => plan.bands.push(Band {
                    kind: FilterKind::PercentPriceBySide,
                    bid: [fixed(bid_multiplier_up)?, fixed(bid_multiplier_down)?],
                    ask: [fixed(ask_multiplier_up)?, fixed(ask_multiplier_down)?],
                    avg_price_mins,
                }),
                Filter::MinNotional { min_notional, apply_to_market, avg_price_mins } => {
                    plan.notionals.push(NotionalRule {
                        kind: FilterKind::MinNotional,
                        min: fixed_at(min_notional, qs + ps)?,
                        min_to_market: apply_to_market,
                        max: (0, 0),
                        max_to_market: apply_to_market,
                        avg_price_mins,
                    });
                }
                Filter::Notional {
                    min_notional,
                    apply_min_to_market,
                    max_notional,
                    apply_max_to_market,
                    avg_price_mins,
                } => {
                    plan.notionals.push(NotionalRule {
                        kind: FilterKind::Notional,
                        min: fixed_at(min_notional, qs + ps)?,
                        min_to_market: apply_min_to_market,
                        max: fixed_at(max_notional, qs + ps)?,
                        max_to_market: apply_max_to_market,
                        avg_price_mins,
                    });
                }
                Filter::MaxNumOrders { max_num_orders } => {
                    plan.max_open_orders = tightest(plan.max_open_orders, max_num_orders);
                }
                Filter::ExchangeMaxNumOrders { max_num_orders } => {
                    plan.max_account_open_orders = tightest(plan.max_account_open_orders, max_num_orders);
                }
                Filter::MaxPosition { max_position } => {
                    if plan.max_position.is_some() {
                        return None;
                    }
                    plan.max_position = Some(max_position);
                }
                Filter::Unknown { .. } => plan.has_unknown = true,
                // Never applies to the accelerated shapes (no iceberg, stop, trailing, algo type;
                // amendments and order lists are separate checks).
                Filter::IcebergParts { .. }
                | Filter::MaxNumAlgoOrders { .. }
                | Filter::MaxNumIcebergOrders { .. }
                | Filter::TrailingDelta { .. }
                | Filter::MaxNumOrderAmends { .. }
                | Filter::MaxNumOrderLists { .. }
                | Filter::ExchangeMaxNumAlgoOrders { .. }
                | Filter::ExchangeMaxNumIcebergOrders { .. }
                | Filter::ExchangeMaxNumOrderLists { .. } => {}
                // A symbol with these always takes the reference path.
                Filter::MaxAsset { .. } | Filter::Malformed { .. } => return None,
            }
        }
        let (tick, lot_step, market_step) = (tick.unwrap_or(1), lot_step.unwrap_or(1), market_step.unwrap_or(1));
        // MARKET orders round down to both lot steps: the same as rounding to the larger one
        // only when one divides the other (true of every real symbol).
        let nested = lot_step.max(market_step).is_multiple_of(lot_step.min(market_step));
        plan.market_allowed &= nested;
        plan.lot_step = lot_step;
        plan.market_step = market_step;
        plan.tick = tick;
        plan.qty_out = output_form(lot_step, qs);
        plan.market_qty_out = output_form(lot_step.max(market_step), qs);
        plan.price_out = output_form(tick, ps);
        Some(plan)
    }

    /// The accelerated `normalize` (`options` set) or `validate` (`options` none: every value
    /// must already be exact). `None` means: take the reference path.
    pub(crate) fn run(
        &self,
        rules: &SymbolRules,
        order: &OrderRequest,
        ctx: &MarketContext,
        options: Option<NormalizeOptions>,
    ) -> Option<FastOutcome> {
        let shape_ok = match order.order_type() {
            OrderType::Limit => self.limit_allowed && order.time_in_force().is_some_and(|t| t.is_known()),
            OrderType::LimitMaker => self.limit_maker_allowed && order.time_in_force().is_none(),
            OrderType::Market => self.market_allowed && order.time_in_force().is_none(),
            _ => false,
        };
        let is_market = *order.order_type() == OrderType::Market;
        // LIMIT and LIMIT_MAKER need a price; MARKET must not have one.
        if !shape_ok
            || order.price().is_some() == is_market
            || order.quote_order_qty().is_some()
            || order.stop_price().is_some()
            || order.trailing_delta().is_some()
            || order.iceberg_qty().is_some()
            || order.self_trade_prevention_mode().is_some()
            || order.has_rules_of_its_own()
            || rules.status != SymbolStatus::Trading
            || !rules.is_spot_trading_allowed
            || order.symbol() != rules.symbol
            || (self.has_unknown && ctx.is_strict())
        {
            return None;
        }
        let buy = match order.side() {
            Side::Buy => true,
            Side::Sell => false,
            _ => return None,
        };
        let qty = on_wire(order.quantity()?)?;

        // Quantity: down to the lot step (both steps for MARKET), in base-precision units.
        let step = if is_market { self.lot_step.max(self.market_step) } else { self.lot_step };
        let (q_steps, q) = to_units(qty, self.qty_scale, step, options.map(|_| Rounding::Down))?;
        if self.lot.outside(q) || (is_market && self.market_lot.outside(q)) {
            return None;
        }
        // Price: to the tick, toward the passive side unless told, in quote-precision units.
        let (p_steps, p) = match order.price() {
            Some(price) => {
                let mode = options.map(|o| o.price.unwrap_or(if buy { Rounding::Down } else { Rounding::Up }));
                let (steps, units) = to_units(on_wire(price)?, self.price_scale, self.tick, mode)?;
                if self.price.outside(units) {
                    return None;
                }
                (steps, Some(units))
            }
            None => (0, None),
        };

        let mut unchecked = 0u32;
        let mut missing = |kind: FilterKind| -> Option<()> {
            if ctx.is_strict() {
                return None;
            }
            unchecked |= kind.bit();
            Some(())
        };
        let (qs, ps) = (self.qty_scale, self.price_scale);
        if let Some(p) = p {
            for band in &self.bands {
                let [up, down] = if buy { band.bid } else { band.ask };
                if up.0 == 0 && down.0 == 0 {
                    continue;
                }
                let Some(reference) = ctx.price_proxy(band.avg_price_mins) else {
                    missing(band.kind)?;
                    continue;
                };
                let (rm, rs) = fixed(reference)?;
                // Above reference × up, or below reference × down: refused.
                for ((mm, ms), too_far) in [(up, Ordering::Greater), (down, Ordering::Less)] {
                    if mm != 0 && cmp_scaled(u128::from(p), ps, mul_u128(rm, mm)?, rs + ms) == too_far {
                        return None;
                    }
                }
            }
        }
        for rule in &self.notionals {
            let (check_min, check_max) =
                if is_market { (rule.min_to_market, rule.max_to_market) } else { (true, true) };
            if !check_min && !check_max {
                continue;
            }
            let (n, ns) = match p {
                Some(p) => (u128::from(q) * u128::from(p), qs + ps),
                None => match ctx.price_proxy(rule.avg_price_mins) {
                    Some(proxy) => {
                        let (pm, pscale) = fixed(proxy)?;
                        (mul_u128(u128::from(q), pm)?, qs + pscale)
                    }
                    None => {
                        missing(rule.kind)?;
                        continue;
                    }
                },
            };
            if check_min && rule.min.0 != 0 && cmp_scaled(n, ns, rule.min.0, rule.min.1).is_lt() {
                return None;
            }
            if check_max && rule.max.0 != 0 && cmp_scaled(n, ns, rule.max.0, rule.max.1).is_gt() {
                return None;
            }
        }
        for (max, open, kind) in [
            (self.max_open_orders, ctx.open_orders(), FilterKind::MaxNumOrders),
            (self.max_account_open_orders, ctx.account_open_orders(), FilterKind::ExchangeMaxNumOrders),
        ] {
            if max > 0 {
                match open {
                    Some(n) if n.saturating_add(1) > max => return None,
                    Some(_) => {}
                    None => missing(kind)?,
                }
            }
        }
        if let Some(max) = self.max_position.filter(|m| buy && !m.is_zero() && !m.is_sign_negative()) {
            match ctx.base_position() {
                Some(position) => {
                    let after = position.checked_add(Decimal::from_i128_with_scale(i128::from(q), qs))?;
                    if crate::num::cmp(after, max).is_gt() {
                        return None;
                    }
                }
                None => missing(FilterKind::MaxPosition)?,
            }
        }
        Some(FastOutcome {
            quantity: from_steps(q_steps, if is_market { self.market_qty_out } else { self.qty_out })?,
            price: match p {
                Some(_) => Some(from_steps(p_steps, self.price_out)?),
                None => None,
            },
            unchecked,
            unknown: self.has_unknown,
        })
    }
}

/// What the accelerator proved: the (rounded) amounts and the unchecked filters.
pub(crate) struct FastOutcome {
    pub(crate) quantity: Decimal,
    pub(crate) price: Option<Decimal>,
    pub(crate) unchecked: u32,
    pub(crate) unknown: bool,
}

/// `v` as [`Fixed`] when it is positive and inside Binance's 20-integer-digit range (the parts
/// read once, for both the checks and the arithmetic).
#[inline]
fn on_wire(v: Decimal) -> Option<Fixed> {
    // Not `fixed(v).filter(..)`: that measured 12 more instructions per normalize (callgrind).
    if v.is_sign_negative() {
        return None;
    }
    let (m, s) = (v.mantissa().unsigned_abs(), v.scale());
    (m != 0 && mantissa_within_wire_range(m, s)).then_some((m, s))
}

/// `(m, s)` rounded to a multiple of `step` units of 10^-scale: (number of steps, units).
/// `mode` `None` means the value must already be exact (validate): any remainder gives `None`.
fn to_units((m, s): Fixed, scale: u32, step: u64, mode: Option<Rounding>) -> Option<(u64, u64)> {
    // v / (step × 10^-scale) = m × 10^(scale - s) / step, as num / den.
    let (num, den) = if s <= scale {
        (mul_pow10(m, scale - s)?, u128::from(step))
    } else {
        (m, mul_u128(u128::from(step), pow10_u128(s - scale))?)
    };
    // 128-bit division is slow; most values fit in 64 bits.
    let (q, r) = match (u64::try_from(num), u64::try_from(den)) {
        (Ok(n), Ok(d)) => (u128::from(n / d), u128::from(n % d)),
        _ => (num / den, num % den),
    };
    let q = match mode {
        _ if r == 0 => q,
        None => return None,
        Some(Rounding::Down) => q,
        Some(Rounding::Up) => q + 1,
        Some(Rounding::Nearest) => q + u128::from(r.saturating_mul(2) >= den),
    };
    let steps = u64::try_from(q).ok()?;
    let units = steps.checked_mul(step)?;
    (units > 0).then_some((steps, units))
}

/// How multiples of `step` units of 10^-scale are written back: (step ÷ 10^k, scale - k) for
/// the largest power of ten 10^k (k <= scale) dividing the step.
fn output_form(step: u64, scale: u32) -> (u64, u32) {
    let (mut scale, mut step) = (scale, step);
    while scale > 0 && step >= 10 && step.is_multiple_of(10) {
        step /= 10;
        scale -= 1;
    }
    (step, scale)
}

/// A number of steps back to a decimal in the step's output form.
fn from_steps(steps: u64, (per_step, scale): (u64, u32)) -> Option<Decimal> {
    let v = steps.checked_mul(per_step)?;
    // The low and high 32-bit halves of the 64-bit mantissa: truncation is the point.
    #[allow(clippy::cast_possible_truncation)]
    let (lo, mid) = (v as u32, (v >> 32) as u32);
    Some(Decimal::from_parts(lo, mid, 0, false, scale))
}
