//! Market data: trades, bookTicker and depth diffs for BTCUSDT and ETHUSDT over one combined
//! connection (reconnecting by itself), a local order book per symbol kept in sync (REST
//! snapshot + diffs, resynchronised after a gap or a reconnect), and every event handed through
//! the lock-free ring buffer to a consumer thread that keeps a live summary.
//!
//! `cargo run --example market_data` runs offline against the paper exchange's random-walk market
//! for 5 s, dropping the connection half way to show the reconnect and the resync; `-- --seconds N`
//! runs longer. On the Spot testnet (public data, keys still read for the venue):
//! `AEGIS_ENV=testnet BINANCE_API_KEY=… BINANCE_API_SECRET=… cargo run --example market_data`.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use aegis_exchange::BookSync;
use aegis_exchange::client::{MarketConfig, MarketItem, MarketStream};
use aegis_exchange::num::Wire;
use aegis_exchange::ring;
use aegis_exchange::stream::MarketEvent;
use aegis_exchange::{Clock, Decimal};
use aegis_paper::{PaperConfig, PaperExchange, PaperKey, WalkConfig, WsFault};
use common::{Error, lock};
use rust_decimal_macros::dec;

const SYMBOLS: [&str; 2] = ["BTCUSDT", "ETHUSDT"];

/// A walking market (a random-walk step, and a trade, every 50 ms) on both symbols.
fn walking_market(clock: &dyn Clock) -> PaperExchange {
    let config = PaperConfig::default()
        .with_walk(WalkConfig { step_ms: 50, ..WalkConfig::default() })
        .with_price("BTCUSDT", dec!(65000))
        .with_price("ETHUSDT", dec!(3200));
    let mut paper = PaperExchange::new(config, clock.now_millis());
    paper.add_api_key("paperKey", PaperKey::hmac("paperSecret"));
    paper
}

/// What the consumer thread keeps.
#[derive(Default)]
struct Summary {
    trades: u64,
    book_tickers: u64,
    diffs: u64,
    last_trade: BTreeMap<String, Decimal>,
    volume: BTreeMap<String, Decimal>,
}

fn consume(mut consumer: ring::Consumer<MarketEvent>, running: Arc<AtomicBool>) -> Summary {
    let mut summary = Summary::default();
    loop {
        let Some(event) = consumer.pop() else {
            if !running.load(Ordering::Acquire) {
                // Drain what is left, then stop.
                if consumer.pop().is_none() {
                    return summary;
                }
                continue;
            }
            std::thread::sleep(Duration::from_micros(200));
            continue;
        };
        match event {
            MarketEvent::Trade(t) => {
                summary.trades += 1;
                summary.last_trade.insert(t.symbol.to_string(), t.price);
                *summary.volume.entry(t.symbol.to_string()).or_default() += t.qty;
            }
            MarketEvent::BookTicker(_) => summary.book_tickers += 1,
            MarketEvent::DepthUpdate(_) => summary.diffs += 1,
            _ => {}
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    common::init_tracing();
    let mut args = std::env::args().skip(1);
    let mut seconds = 5u64;
    while let Some(arg) = args.next() {
        if arg == "--seconds" {
            seconds = args.next().and_then(|s| s.parse().ok()).ok_or("--seconds needs a number")?;
        }
    }
    let venue = common::venue(walking_market)?;
    let streams: Vec<String> = SYMBOLS
        .iter()
        .flat_map(|s| {
            let s = s.to_lowercase();
            [format!("{s}@trade"), format!("{s}@bookTicker"), format!("{s}@depth@100ms")]
        })
        .collect();
    println!("streams: {}", streams.join(", "));
    let mut market =
        MarketStream::connect(venue.ws.clone(), &venue.env, streams, MarketConfig::default(), venue.clock.clone());

    let (mut producer, consumer) = ring::channel::<MarketEvent>(8192);
    let running = Arc::new(AtomicBool::new(true));
    let reader = {
        let running = Arc::clone(&running);
        std::thread::spawn(move || consume(consumer, running))
    };

    let mut books: BTreeMap<String, BookSync> =
        SYMBOLS.iter().map(|s| ((*s).to_owned(), BookSync::new(1000, 10_000))).collect();
    let (mut resyncs, mut ring_full, mut rejected, mut connects) = (0u64, 0u64, 0u64, 0u64);
    let started = tokio::time::Instant::now();
    let end = started + Duration::from_secs(seconds);
    let mut dropped_once = false;
    let mut report = tokio::time::interval(Duration::from_secs(1));
    loop {
        let item = tokio::select! {
            () = tokio::time::sleep_until(end) => break,
            _ = report.tick() => {
                for (symbol, sync) in &books {
                    match sync.book() {
                        Some(b) => println!(
                            "  {symbol}: bid {} / ask {} (update {})",
                            b.best_bid().map_or("-".to_owned(), |l| Wire(l.price).to_string()),
                            b.best_ask().map_or("-".to_owned(), |l| Wire(l.price).to_string()),
                            b.last_update_id()
                        ),
                        None => println!("  {symbol}: waiting for a snapshot"),
                    }
                }
                // Offline, half way: the connection drops; the stream reconnects and the books resync.
                if let Some(paper) = venue.paper.as_ref().filter(|_| !dropped_once && started.elapsed().as_secs() * 2 >= seconds) {
                    dropped_once = true;
                    println!("  -- dropping the connection --");
                    let mut ex = lock(paper);
                    let now = venue.clock.now_millis();
                    for conn in ex.ws_connections() {
                        ex.ws_fault(now, conn, WsFault::Disconnect);
                    }
                }
                continue;
            }
            item = market.next() => item,
        };
        let Some(item) = item else { break };
        match item {
            MarketItem::Connected { reconnects } => {
                connects += 1;
                if reconnects > 0 {
                    // Diffs were missed: every book starts over from a new snapshot.
                    for sync in books.values_mut() {
                        *sync = BookSync::new(1000, 10_000);
                    }
                }
            }
            MarketItem::Disconnected { reason } => println!("  disconnected: {reason}"),
            MarketItem::Rejected(e) => {
                rejected += 1;
                tracing::warn!(error = %e, "frame refused");
            }
            MarketItem::Message(message) => {
                if let MarketEvent::DepthUpdate(diff) = &message.event
                    && let Some(sync) = books.get_mut(diff.symbol.as_str())
                    && (sync.on_diff(diff.clone()).is_err() || sync.needs_snapshot())
                {
                    let snapshot = venue.depth(diff.symbol.as_str(), 1000).await?;
                    if sync.on_snapshot(&snapshot).is_ok() {
                        resyncs += 1;
                    }
                }
                if producer.push(message.event).is_err() {
                    ring_full += 1;
                }
            }
            _ => {}
        }
    }
    running.store(false, Ordering::Release);
    let stats = market.close().await;
    let summary = reader.join().map_err(|_| "the consumer thread panicked")?;
    println!("\nafter {seconds} s:");
    println!(
        "  consumer thread: {} trades, {} bookTickers, {} depth diffs (ring full {} times)",
        summary.trades, summary.book_tickers, summary.diffs, ring_full
    );
    for (symbol, price) in &summary.last_trade {
        println!(
            "  {symbol}: last {} volume {}",
            Wire(*price),
            Wire(summary.volume.get(symbol).copied().unwrap_or_default())
        );
    }
    println!(
        "  connections {connects} (reconnects {}), book snapshots {resyncs}, frames refused {rejected}, decoder accepted {}",
        stats.reconnects,
        stats.decoder.accepted()
    );
    let synced = books.values().filter(|s| s.book().is_some()).count();
    println!("  books in sync: {synced} of {}", books.len());
    // Offline the market is known to move: the example checks itself.
    if venue.is_paper()
        && (summary.trades == 0
            || summary.diffs == 0
            || synced != books.len()
            || (dropped_once && stats.reconnects == 0))
    {
        return Err("the market data run did not go as expected".into());
    }
    Ok(())
}
