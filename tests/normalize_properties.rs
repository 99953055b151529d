//! Property tests: over arbitrary decimals and filters (zeros included), `normalize`'s output is
//! a multiple of step and tick, within bounds or a named error, never above the input quantity,
//! idempotent, and its wire string parses back to the same value; the `num` primitives hold
//! their laws.

mod common;

use std::str::FromStr;

use aegis_exchange::num::{Rounding, Wire, is_multiple_of, parse_decimal, round_to_step};
use aegis_exchange::{Decimal, Filter, MarketContext, OrderRequest, Side, SymbolRules};
use common::harness;
use proptest::prelude::*;

/// Non-negative decimals with 0 to 12 decimals; a quarter of them zero.
fn decimal() -> impl Strategy<Value = Decimal> {
    prop_oneof![
        1 => Just(Decimal::ZERO),
        3 => (1i64..=1_000_000_000_000, 0u32..=12).prop_map(|(m, s)| Decimal::new(m, s)),
    ]
}

/// Steps and ticks as exchangeInfo has them: powers of ten, zero, and a few odd ones.
fn step() -> impl Strategy<Value = Decimal> {
    prop_oneof![
        2 => Just(Decimal::ZERO),
        6 => (0u32..=8).prop_map(|s| Decimal::new(1, s)),
        1 => Just(Decimal::TEN),
        1 => (1i64..=500, 0u32..=6).prop_map(|(m, s)| Decimal::new(m, s)),
    ]
}

fn rules() -> impl Strategy<Value = SymbolRules> {
    (
        (decimal(), decimal(), step()),
        (decimal(), decimal(), step()),
        (decimal(), decimal(), step()),
        (decimal(), decimal(), any::<bool>()),
        (0u32..=10, 0u32..=10),
    )
        .prop_map(
            |((pmin, pmax, tick), (qmin, qmax, step), (mmin, mmax, mstep), (nmin, nmax, to_market), (bp, qp))| {
                SymbolRules::new("PROPUSDT", "PROP", "USDT")
                    .with_precisions(bp, qp)
                    .with_filter(Filter::PriceFilter { min_price: pmin, max_price: pmax, tick_size: tick })
                    .with_filter(Filter::LotSize { min_qty: qmin, max_qty: qmax, step_size: step })
                    .with_filter(Filter::MarketLotSize { min_qty: mmin, max_qty: mmax, step_size: mstep })
                    .with_filter(Filter::Notional {
                        min_notional: nmin,
                        apply_min_to_market: to_market,
                        max_notional: nmax,
                        apply_max_to_market: to_market,
                        avg_price_mins: 5,
                    })
            },
        )
}

fn order() -> impl Strategy<Value = OrderRequest> {
    let positive = (1i64..=1_000_000_000_000, 0u32..=14).prop_map(|(m, s)| Decimal::new(m, s));
    (any::<bool>(), 0u8..3, positive.clone(), positive).prop_map(|(buy, kind, qty, price)| {
        let side = if buy { Side::Buy } else { Side::Sell };
        match kind {
            0 => OrderRequest::limit("PROPUSDT", side, qty, price),
            1 => OrderRequest::market("PROPUSDT", side, qty),
            _ => OrderRequest::limit_maker("PROPUSDT", side, qty, price),
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn normalize_is_safe_for_any_filters(rules in rules(), order in order(), reference in decimal()) {
        let ctx = MarketContext::default().with_reference_price(reference);
        let result = rules.normalize(order.clone(), &ctx);
        // Multiples, bounds (validate accepts), never above the input, idempotent, wire round trip.
        harness::check_normalize(&rules, &order, &ctx, &result);
        harness::check_equivalence(&rules, &order, &ctx);
        if let Ok(v) = &result {
            harness::check_equivalence(&rules, v.request(), &ctx);
        }
    }

    #[test]
    fn rounding_laws(value in decimal(), step in step()) {
        let down = round_to_step(value, step, Rounding::Down).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let up = round_to_step(value, step, Rounding::Up).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let near = round_to_step(value, step, Rounding::Nearest).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(down <= value && value <= up);
        prop_assert!(is_multiple_of(down, step) && is_multiple_of(up, step) && is_multiple_of(near, step));
        if step.is_zero() || is_multiple_of(value, step) {
            prop_assert_eq!(down, value);
            prop_assert_eq!(up, value);
        } else {
            prop_assert_eq!(up - down, step);
            prop_assert!(near == down || near == up);
            prop_assert!((near - value).abs() * Decimal::TWO <= step);
        }
        // Idempotent.
        prop_assert_eq!(round_to_step(down, step, Rounding::Down), Ok(down));
    }

    #[test]
    fn fast_cmp_agrees_with_ord(am in any::<i128>(), asc in 0u32..=28, bm in any::<i128>(), bsc in 0u32..=28, same in any::<bool>()) {
        let max = 79_228_162_514_264_337_593_543_950_335i128; // 2^96 - 1
        let a = Decimal::from_i128_with_scale(am % max, asc);
        let b = if same { Decimal::from_i128_with_scale((am % max) / 7, asc) } else { Decimal::from_i128_with_scale(bm % max, bsc) };
        prop_assert_eq!(aegis_exchange::num::cmp(a, b), a.cmp(&b));
        prop_assert_eq!(aegis_exchange::num::cmp(b, a), b.cmp(&a));
        prop_assert_eq!(aegis_exchange::num::cmp(a, a), std::cmp::Ordering::Equal);
    }

    #[test]
    fn step_rounding_agrees_with_the_remainder_form(m in any::<i64>(), sc in 0u32..=20, k in 0u32..=10, mode in 0u8..3) {
        let v = Decimal::new(m, sc);
        let step = Decimal::new(1, k);
        let mode = [Rounding::Down, Rounding::Up, Rounding::Nearest][usize::from(mode)];
        let fast = aegis_exchange::num::Step::new(step).round(v, mode);
        prop_assert_eq!(fast, round_to_step(v, step, mode));
        prop_assert_eq!(aegis_exchange::num::Step::new(step).is_multiple(v), is_multiple_of(v, step));
    }

    #[test]
    fn wire_strings_parse_back(m in any::<i64>(), s in 0u32..=20) {
        let v = Decimal::new(m, s).abs();
        let text = Wire(v).to_string();
        prop_assert!(!text.contains('e') && !text.contains('E') && !text.starts_with('-'));
        prop_assert!(!text.contains('.') || !text.ends_with('0'), "trailing zero in {}", text);
        prop_assert_eq!(parse_decimal(&text), Ok(v));
    }

    #[test]
    fn parse_agrees_with_rust_decimal_on_legal_strings(int in "[0-9]{1,12}", frac in proptest::option::of("[0-9]{1,12}")) {
        let text = match &frac { Some(f) => format!("{int}.{f}"), None => int.clone() };
        let ours = parse_decimal(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let theirs = Decimal::from_str(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(ours, theirs);
    }

    #[test]
    fn parse_never_panics_and_refuses_non_wire_text(text in "\\PC{0,45}") {
        if let Ok(v) = parse_decimal(&text) {
            // Whatever it accepts is in Binance's legal range.
            prop_assert!(text.bytes().all(|b| b.is_ascii_digit() || b == b'.'));
            prop_assert!(v >= Decimal::ZERO);
        }
    }

    #[test]
    fn order_validation_harness_never_panics(data in proptest::collection::vec(any::<u8>(), 0..256)) {
        harness::order_validation(&data);
    }
}
