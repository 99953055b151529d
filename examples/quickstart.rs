//! Quickstart (offline): load the bundled real exchangeInfo, then normalize and validate a few
//! orders against BTCUSDT's live filter set, printing what happens to each.
//!
//! Run it with `cargo run --example quickstart`. It needs no keys and no network. Once the
//! engine and the paper exchange land, this example will trade against the paper exchange (and
//! against the Spot testnet with `AEGIS_ENV=testnet` and keys).

use aegis_exchange::num::Wire;
use aegis_exchange::{ExchangeInfo, Filter, MarketContext, OrderRequest, Side, SymbolRules, ValidatedOrder};
use rust_decimal_macros::dec;

fn describe(v: &ValidatedOrder) -> String {
    let unchecked: Vec<_> = v.unchecked().map(|k| k.as_str()).collect();
    if unchecked.is_empty() { v.request().to_string() } else { format!("{}  unchecked={unchecked:?}", v.request()) }
}

fn try_order(rules: &SymbolRules, ctx: &MarketContext, label: &str, order: OrderRequest) -> bool {
    println!("\n> {label}");
    println!("  in : {order}");
    match rules.normalize(order, ctx) {
        Ok(valid) => {
            println!("  ok : {}", describe(&valid));
            true
        }
        Err(e) => {
            println!("  refused: {e}  [filter_type={} code={}]", e.filter_type(), e.code());
            false
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let info = ExchangeInfo::from_json(aegis_exchange::rules::BUNDLED_EXCHANGE_INFO)?;
    println!("exchangeInfo: {} symbols, server time {:?}, rate limits:", info.symbols().len(), info.server_time());
    for rl in info.rate_limits() {
        println!("  {} {} per {} {}", rl.rate_limit_type, rl.limit, rl.interval_num, rl.interval);
    }

    let rules = info.symbol("BTCUSDT").ok_or("BTCUSDT missing from the bundled exchangeInfo")?;
    println!("\nBTCUSDT ({}), filters in Binance's order:", rules.status());
    for f in rules.filters() {
        let detail = match f {
            Filter::PriceFilter { min_price, max_price, tick_size } => {
                format!("price {}..{} tick {}", Wire(*min_price), Wire(*max_price), Wire(*tick_size))
            }
            Filter::LotSize { min_qty, max_qty, step_size } => {
                format!("qty {}..{} step {}", Wire(*min_qty), Wire(*max_qty), Wire(*step_size))
            }
            Filter::Notional { min_notional, max_notional, .. } => {
                format!("notional {}..{}", Wire(*min_notional), Wire(*max_notional))
            }
            _ => String::new(),
        };
        println!("  {:<24} {detail}", f.filter_type());
    }

    let ctx = MarketContext::default().with_reference_price(dec!(65430)).with_open_orders(0);
    let seed_qty = dec!(10000) * dec!(0.98) / dec!(65432.5);
    let no_context = MarketContext::default();
    let cases = [
        (
            "the float trap: 98% of 10,000 USDT at 65,432.5 (quantity rounds down to the step)",
            OrderRequest::limit("BTCUSDT", Side::Buy, seed_qty, dec!(65432.517)),
            &ctx,
        ),
        (
            "a SELL: its price rounds up to the tick (the passive side)",
            OrderRequest::limit("BTCUSDT", Side::Sell, dec!(0.0123456), dec!(65432.517)),
            &ctx,
        ),
        (
            "dust: 0.00001 BTC at 65,000 is 0.65 USDT, under the 5 USDT minimum notional",
            OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.00001), dec!(65000)),
            &ctx,
        ),
        (
            "a negative quantity is refused before any filter",
            OrderRequest::market("BTCUSDT", Side::Sell, dec!(-1)),
            &ctx,
        ),
        (
            "a BUY 6x above the reference price breaks PERCENT_PRICE_BY_SIDE",
            OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.001), dec!(400000)),
            &ctx,
        ),
        (
            "a MARKET order without market context: NOTIONAL is reported unchecked, not passed",
            OrderRequest::market("BTCUSDT", Side::Buy, dec!(0.01)),
            &no_context,
        ),
    ];
    let outcomes: Vec<bool> = cases.into_iter().map(|(label, order, c)| try_order(rules, c, label, order)).collect();

    let accepted = outcomes.iter().filter(|ok| **ok).count();
    println!("\n{accepted} accepted, {} refused with Binance's own filter names.", outcomes.len() - accepted);
    // The expected outcome, so the example also proves itself: 3 accepted, 3 refused.
    if outcomes != [true, true, false, false, false, true] {
        return Err("unexpected outcome".into());
    }
    Ok(())
}
