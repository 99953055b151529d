//! Quickstart (offline): load the bundled real exchangeInfo, normalize and validate a few orders
//! against BTCUSDT's live filter set; then trade against the built-in paper exchange through the
//! engine: start up (time, rules, balances, open orders), place a LIMIT buy that the market
//! partly fills, cancel the rest, and show that the ledger equals the exchange's balances.
//!
//! Run it with `cargo run --example quickstart`. It needs no keys and no network. (Trading on the
//! Spot testnet with `AEGIS_ENV=testnet` and keys comes with the async client and its transports.)

use aegis_exchange::engine::{Engine, EngineConfig, Event, HttpResult, Intent, Output};
use aegis_exchange::num::Wire;
use aegis_exchange::orders::OrderState;
use aegis_exchange::paper::{Delivery, PaperConfig, PaperExchange, PaperKey, WalkConfig, WsOut};
use aegis_exchange::rest::Environment;
use aegis_exchange::sign::{Credentials, HmacSha256};
use aegis_exchange::{
    ClientOrderId, ExchangeInfo, Filter, MarketContext, OrderRequest, Side, SymbolRules, ValidatedOrder,
};
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
    trade_on_paper(info)
}

/// Carries the engine's requests to the paper exchange and its answers and user-data frames
/// back until nothing moves (what the async client does over real sockets).
fn drive(engine: &mut Engine, paper: &mut PaperExchange, conn: u64, now: i64) {
    loop {
        let mut moved = false;
        loop {
            match engine.poll_output() {
                Output::Http { id, request } => {
                    moved = true;
                    let result = match paper.deliver(now, request) {
                        Delivery::Answer { response, .. } => HttpResult::Response(response),
                        _ => HttpResult::Unanswered,
                    };
                    engine.handle_http_response(now, id, result);
                }
                Output::Ws { text } => {
                    moved = true;
                    paper.ws_send(now, conn, &text);
                }
                Output::Event(Event::Order(u)) => {
                    println!(
                        "  event: {} is {:?} (traded {}, released {:?})",
                        u.client_order_id, u.state, u.traded, u.released
                    )
                }
                Output::Event(_) => {}
                Output::Timeout(_) => break,
            }
        }
        while let Some(WsOut::Text(frame)) = paper.ws_poll(conn) {
            moved = true;
            engine.handle_ws_frame(now, frame.as_bytes());
        }
        if !moved {
            return;
        }
    }
}

fn show_balances(engine: &Engine, paper: &PaperExchange) -> Result<bool, Box<dyn std::error::Error>> {
    let mut equal = true;
    for asset in ["USDT", "BTC"] {
        let id = engine.ledger().asset_id(asset).ok_or("asset missing from the ledger")?;
        let ours = engine.ledger().balance(id)?;
        let theirs = paper.balance(asset);
        equal &= ours == theirs;
        println!(
            "  {asset:<5} ledger free {:>22} locked {:>14} | exchange free {:>22} locked {:>14}",
            Wire(ours.free),
            Wire(ours.locked),
            Wire(theirs.free),
            Wire(theirs.locked)
        );
    }
    Ok(equal)
}

fn trade_on_paper(info: ExchangeInfo) -> Result<(), Box<dyn std::error::Error>> {
    let now = 1_760_000_000_000;
    println!(
        "
--- trading against the paper exchange (in process, deterministic) ---"
    );
    let config = PaperConfig::default()
        .with_walk(WalkConfig { step_ms: 0, ..WalkConfig::default() })
        .with_price("BTCUSDT", dec!(65000));
    let mut paper = PaperExchange::new(config, now);
    paper.add_api_key("quickstartKey", PaperKey::hmac("quickstartSecret"));
    paper.deposit(now, "USDT", dec!(50000));
    paper.deposit(now, "BTC", dec!(0.1));
    let creds = Credentials::new("quickstartKey", HmacSha256::new("quickstartSecret"))?;
    let mut engine = Engine::new(EngineConfig::new(Environment::Testnet, creds), info);
    let conn = paper.ws_connect(now, "/ws-api/v3")?;
    engine.start(now);
    engine.handle_ws_open(now);
    drive(&mut engine, &mut paper, conn, now);
    println!("started: server time offset {} ms; balances:", engine.server_now(now) - now);
    show_balances(&engine, &paper)?;

    let id = ClientOrderId::new("quickstart-1")?;
    let order = OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.5), dec!(64990)).with_client_order_id(id);
    println!(
        "
> LIMIT BUY 0.5 BTC at 64,990 (below the market: it rests)"
    );
    engine.submit(now, Intent::new(order))?;
    drive(&mut engine, &mut paper, conn, now);
    println!(
        "
> the market dips to 64,989.99: the asks at 64,990 fill part of it"
    );
    paper.set_price(now + 1000, "BTCUSDT", dec!(64989.99));
    drive(&mut engine, &mut paper, conn, now + 1000);
    let partly = engine.order_state(&id) == Some(OrderState::PartiallyFilled);
    println!(
        "
> cancel the rest"
    );
    engine.cancel(now + 2000, &id)?;
    drive(&mut engine, &mut paper, conn, now + 2000);
    let canceled = engine.order_state(&id) == Some(OrderState::Canceled);
    println!(
        "
the ledger and the exchange:"
    );
    let equal = show_balances(&engine, &paper)?;
    println!(
        "
partly filled: {partly}, rest canceled: {canceled}, ledger equals the exchange: {equal}"
    );
    if !(partly && canceled && equal) {
        return Err("the paper trade did not go as expected".into());
    }
    Ok(())
}
