//! A burst of user-data frames does not hold an order's answer back. The client's resting sell is
//! filled 4,500 times in one go on the loopback paper exchange (9,000 frames: an
//! `executionReport` and an `outboundAccountPosition` each), and while the client works through
//! them an order is placed: `Client::place` returns with the exchange's answer while most of the
//! burst is still to be handled (the answer is read by the caller's task; the client's task applies
//! one frame per lock and yields after each). Then the burst is handled to the last frame and the
//! ledger equals the exchange.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aegis_exchange::client::{Client, ClientConfig};
use aegis_exchange::rest::{DepthSnapshot, Environment, Level};
use aegis_exchange::stream::{DepthUpdate, Symbol};
use aegis_exchange::transport::{HyperTransport, TungsteniteTransport};
use aegis_exchange::{
    Clock, Credentials, EngineConfig, HmacSha256, Intent, OrderRequest, OrderState, Side, SystemClock,
};
use aegis_paper::server::PaperServer;
use aegis_paper::{PaperConfig, PaperExchange, PaperKey, WalkConfig};
use rust_decimal_macros::dec;

/// Fills in the burst: two frames each, 9,000 frames, under the paper exchange's 10,000-frame
/// outbox per connection (beyond it, Binance and the paper exchange drop a slow consumer).
const FILLS: u64 = 4_500;

fn lock(exchange: &Mutex<PaperExchange>) -> std::sync::MutexGuard<'_, PaperExchange> {
    exchange.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn paper(now: i64) -> PaperExchange {
    let mut config = PaperConfig::default()
        .with_walk(WalkConfig { step_ms: 0, ..WalkConfig::default() })
        .with_price("BTCUSDT", dec!(65000))
        .with_price("ETHUSDT", dec!(3000));
    config.max_events = 1_000_000;
    let mut paper = PaperExchange::new(config, now);
    paper.add_api_key("loadKey", PaperKey::hmac("loadSecret"));
    paper.deposit(now, "USDT", dec!(100000));
    paper.deposit(now, "ETH", dec!(10));
    let level = |price, qty| Level { price, qty };
    let snapshot = DepthSnapshot {
        last_update_id: 1,
        bids: vec![level(dec!(2999), dec!(10))],
        asks: vec![level(dec!(3200), dec!(10))],
    };
    assert!(paper.replay_snapshot(now, "ETHUSDT", &snapshot));
    paper
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn place_is_answered_while_a_burst_of_user_data_is_still_being_handled() {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let server = PaperServer::start_with_clock(paper(clock.now_millis()), Arc::clone(&clock)).await.unwrap();
    let exchange = server.exchange();
    let env = Environment::Custom {
        rest: server.http_url(),
        ws_api: format!("{}/ws-api/v3", server.ws_url()),
        streams: server.ws_url(),
    };
    let creds = Credentials::new("loadKey", HmacSha256::new("loadSecret")).unwrap();
    let mut config = ClientConfig::new(EngineConfig::new(env, creds));
    config.event_capacity = 1 << 18;
    let client = Client::connect(
        config,
        Arc::new(HyperTransport::new().unwrap()),
        Arc::new(TungsteniteTransport::new().unwrap()),
        Arc::clone(&clock),
    )
    .await
    .unwrap();

    // A resting sell of 0.45 ETH at 3100, to be filled 0.0001 at a time.
    let sell =
        client.place(Intent::new(OrderRequest::limit("ETHUSDT", Side::Sell, dec!(0.45), dec!(3100)))).await.unwrap();
    assert_eq!(sell.state, OrderState::New);
    let before = client.stats().await.unwrap().frames;

    // The burst: every fill queued on the exchange at once.
    {
        let mut ex = lock(&exchange);
        let now = clock.now_millis();
        let symbol = Symbol::new("ETHUSDT").unwrap();
        for i in 0..FILLS {
            // Each fill moves the book's id on by one: leave room for it.
            let id = 10 + i * 2;
            let diff = DepthUpdate {
                event_time: now,
                symbol,
                first_update_id: id,
                final_update_id: id,
                bids: vec![Level { price: dec!(3100), qty: dec!(0.0001) }],
                asks: vec![],
            };
            assert!(ex.replay_diff(now, &diff), "fill {i}");
        }
    }
    let burst = FILLS * 2;

    // Wait until the client is into the burst.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while client.stats().await.unwrap().frames < before + 500 {
        assert!(tokio::time::Instant::now() < deadline, "the burst never arrived");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }

    // An order now: answered while the burst is still being handled.
    let buy =
        client.place(Intent::new(OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.01), dec!(60000)))).await.unwrap();
    let handled = client.stats().await.unwrap().frames - before;
    assert_eq!(buy.state, OrderState::New);
    assert!(buy.order_id.is_some());
    assert!(
        handled < burst / 2,
        "place returned only after {handled} of the burst's {burst} frames were handled: the answer waited for them"
    );

    // The burst is then handled to its last frame, and the books agree.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while client.stats().await.unwrap().frames < before + burst {
        assert!(tokio::time::Instant::now() < deadline, "the burst was not handled within 60 s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let view = client.order(&sell.id).await.unwrap().unwrap();
    assert_eq!(view.executed_qty, dec!(0.0001) * rust_decimal::Decimal::from(FILLS));
    assert_eq!(view.state, OrderState::Filled);
    client.cancel(&buy.id).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !client.open_orders().await.unwrap().is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    for (asset, theirs) in lock(&exchange).balances() {
        let ledger = client.ledger();
        let ours = ledger.asset_id(&asset).and_then(|id| ledger.balance(id).ok()).unwrap_or_default();
        assert_eq!(ours, theirs, "{asset}");
    }
    client.shutdown().await.unwrap();
    server.shutdown().await;
}
