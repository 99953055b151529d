//! Quickstart: load the bundled real exchangeInfo, normalize and validate a few orders against
//! BTCUSDT's live filter set; then trade through the async client: connect (time, rules,
//! balances, open orders, the user-data stream), show the balances, place a LIMIT buy at the best
//! ask for more than the ask holds (it partly fills and rests), halve the rest with a keep-priority
//! amend (same order, same place in the queue), cancel what is left, place an OCO exit for what
//! was bought (take-profit or stop, one lock for both) and cancel it, and show that the ledger
//! equals the exchange.
//!
//! `cargo run --example quickstart` runs offline against the built-in paper exchange. On the Spot
//! testnet: `AEGIS_ENV=testnet BINANCE_API_KEY=… BINANCE_API_SECRET=… cargo run --example
//! quickstart` (or `BINANCE_ED25519_KEY_FILE=key.pem` instead of the secret). Logs: `AEGIS_LOG`.

mod common;

use std::time::Duration;

use aegis_exchange::OrderState;
use aegis_exchange::client::{Amended, Client, ClientConfig, ClientEvent};
use aegis_exchange::num::Wire;
use aegis_exchange::{
    ClientOrderId, Decimal, ExchangeInfo, Filter, MarketContext, OrderRequest, Side, SymbolRules, ValidatedOrder,
};
use aegis_exchange::{EngineConfig, Event, Intent, ListLeg, OcoRequest, TimeInForce};
use common::{Error, Venue, lock};
use rust_decimal_macros::dec;

fn describe(v: &ValidatedOrder) -> String {
    let unchecked: Vec<_> = v.unchecked().map(|k| k.as_str()).collect();
    if unchecked.is_empty() {
        v.request().to_string()
    } else {
        format!("{}  (not checked without market data: {})", v.request(), unchecked.join(", "))
    }
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

#[tokio::main]
async fn main() -> Result<(), Error> {
    common::init_tracing();
    let info = ExchangeInfo::from_json(aegis_exchange::BUNDLED_EXCHANGE_INFO)?;
    let server_time = info.server_time().map_or_else(|| "not given".to_owned(), |t| t.to_string());
    println!("exchangeInfo: {} symbols, server time {server_time} (ms), rate limits:", info.symbols().len());
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
    let venue = common::venue(common::paper_exchange)?;
    trade(&venue).await
}

/// The ledger's balances (and the exchange's, on paper); whether they agree.
fn show_balances(client: &Client, venue: &Venue) -> bool {
    let mut equal = true;
    for asset in ["USDT", "BTC"] {
        let ledger = client.ledger();
        let ours = ledger.asset_id(asset).and_then(|id| ledger.balance(id).ok()).unwrap_or_default();
        print!("  {asset:<5} ledger free {:>20} locked {:>14}", Wire(ours.free), Wire(ours.locked));
        if let Some(paper) = &venue.paper {
            let theirs = lock(paper).balance(asset);
            equal &= ours == theirs;
            print!(" | exchange free {:>20} locked {:>14}", Wire(theirs.free), Wire(theirs.locked));
        }
        println!();
    }
    equal
}

async fn trade(venue: &Venue) -> Result<(), Error> {
    let place = if venue.is_paper() { "the paper exchange (in process, offline)" } else { "the Binance Spot testnet" };
    println!("\n--- trading on {place} through the async client ---");
    let config = ClientConfig::new(EngineConfig::new(venue.env.clone(), venue.credentials.clone()));
    let client = Client::connect(config, venue.http.clone(), venue.ws.clone(), venue.clock.clone()).await?;
    let mut events = client.events();
    println!("connected (time synced, rules and balances loaded, user-data stream subscribed); balances:");
    show_balances(&client, venue);

    // A LIMIT buy at the best ask for half again what the ask holds: it takes the ask and rests.
    let book = venue.depth("BTCUSDT", 5).await?;
    let ask = book.asks.first().ok_or("an empty book")?;
    let usdt = client.ledger().asset_id("USDT").and_then(|id| client.ledger().balance(id).ok()).unwrap_or_default();
    let affordable = usdt.free * dec!(0.4) / ask.price;
    let qty = (ask.qty * dec!(1.5)).min(affordable);
    println!(
        "\n> best ask {} x {}: LIMIT BUY {} BTC at {}",
        Wire(ask.price),
        Wire(ask.qty),
        qty.round_dp(8),
        Wire(ask.price)
    );
    let id = ClientOrderId::new(&format!("quickstart-{}", venue.clock.now_millis()))?;
    let order = OrderRequest::limit("BTCUSDT", Side::Buy, qty, ask.price).with_client_order_id(id);
    let context = MarketContext::default().with_reference_price(ask.price);
    client.place(Intent::new(order).with_context(context)).await?;
    let view = wait_for(&client, &id, |s| s != OrderState::PendingNew).await?;
    println!("  now {}: executed {} BTC for {} USDT", view.0, Wire(view.1), Wire(view.2));
    let partly = view.0 == OrderState::PartiallyFilled;
    let mut amended = false;
    if partly {
        // Keep-priority amend: the rest rests at the same place in the queue with half the size.
        let new_qty =
            (view.1 + (qty - view.1) / dec!(2)).round_dp_with_strategy(5, rust_decimal::RoundingStrategy::ToZero);
        println!("\n> amend (keep priority): {} BTC -> {} BTC", qty.round_dp(8), Wire(new_qty));
        match client.amend(&id, new_qty).await? {
            Amended::Done(v) => {
                amended = v.qty == Some(new_qty);
                let locked = client.ledger().balance_of("USDT").map(|b| b.locked).unwrap_or_default();
                println!(
                    "  now {} with quantity {} (amend {}); USDT locked {}",
                    v.state,
                    Wire(new_qty),
                    v.amends,
                    Wire(locked)
                );
            }
            Amended::Refused(e) => println!("  refused: {e}"),
            Amended::Unknown(_) => println!("  no answer: the client queries the order"),
            Amended::Held(_) => println!("  held back by the rate limiter: sent when allowed"),
            _ => println!("  not done"),
        }
    }
    let view = wait_for(&client, &id, |s| s != OrderState::PendingNew).await?;
    if view.0 == OrderState::New || view.0 == OrderState::PartiallyFilled {
        println!("\n> cancel the rest");
        client.cancel(&id).await?;
    }
    let view = wait_for(&client, &id, |s| s.is_terminal()).await?;
    println!("  now {}", view.0);
    // Let the last trades settle before comparing.
    let _ = client.wait_until_done(&id, Duration::from_secs(2)).await?;
    tokio::time::sleep(Duration::from_millis(50)).await;

    // An exit for what was bought: an OCO, take-profit 2 % up or stop 2 % down, one lock for both.
    let mut oco_ok = !partly;
    if partly {
        let (tp, stop) = ((ask.price * dec!(1.02)).round_dp(2), (ask.price * dec!(0.98)).round_dp(2));
        let qty = view.1.round_dp_with_strategy(5, rust_decimal::RoundingStrategy::ToZero);
        println!(
            "\n> OCO SELL {} BTC: take profit at {} or stop at {} (limit {})",
            Wire(qty),
            Wire(tp),
            Wire(stop),
            Wire(stop - dec!(1))
        );
        let oco = OcoRequest::new(
            "BTCUSDT",
            Side::Sell,
            qty,
            ListLeg::limit_maker(tp),
            ListLeg::stop_loss_limit(stop - dec!(1), stop, TimeInForce::Gtc),
        );
        let market = MarketContext::default().with_last_price(ask.price).with_reference_price(ask.price);
        let placed = client.place_oco(oco, &market).await?;
        let states: Vec<String> = placed.legs.iter().map(|l| format!("{} {}", l.id, l.state)).collect();
        let locked = client.ledger().balance_of("BTC").map(|b| b.locked).unwrap_or_default();
        println!("  list {}: {}; BTC locked {} (once for both)", placed.list, states.join(", "), Wire(locked));
        if let Some(leg) = placed.legs.first() {
            println!("\n> cancel the take-profit: the exchange cancels the list");
            client.cancel(&leg.id).await?;
            let mut ended = Vec::new();
            for l in &placed.legs {
                ended.push(wait_for(&client, &l.id, |s| s.is_terminal()).await?.0);
            }
            let shown: Vec<String> = ended.iter().map(ToString::to_string).collect();
            println!("  legs now {}", shown.join(", "));
            oco_ok = locked == qty && ended.iter().all(|s| *s == OrderState::Canceled);
        }
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    println!("\nevents:");
    while let Some(event) = events.try_next() {
        if let ClientEvent::Engine(Event::Order(u)) = event {
            println!(
                "  {} {} traded {} released {}",
                u.client_order_id,
                u.state,
                Wire(u.traded),
                u.released.map_or_else(|| "-".to_owned(), |r| Wire(r).to_string())
            );
        }
    }
    println!("\nthe ledger{}:", if venue.is_paper() { " and the exchange" } else { "" });
    let equal = show_balances(&client, venue);
    let canceled = view.0 == OrderState::Canceled;
    println!(
        "\npartly filled: {partly}, amended: {amended}, rest canceled: {canceled}, OCO placed and canceled: {oco_ok}, ledger equals the exchange: {equal}"
    );
    let report = client.shutdown().await?;
    println!("shut down; orders left open: {}", report.left_open.len());
    // Offline the outcome is known, so the example proves itself.
    if venue.is_paper() && !(partly && amended && canceled && oco_ok && equal) {
        return Err("the paper trade did not go as expected".into());
    }
    Ok(())
}

/// Waits (10 s at most) until the order's state passes `done`: (state, executed, quote spent).
async fn wait_for(
    client: &Client,
    id: &ClientOrderId,
    done: impl Fn(OrderState) -> bool,
) -> Result<(OrderState, Decimal, Decimal), Error> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let view = client.order(id).await?.ok_or("the order is not tracked")?;
        if done(view.state) || tokio::time::Instant::now() >= deadline {
            return Ok((view.state, view.executed_qty, view.cumulative_quote_qty));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
