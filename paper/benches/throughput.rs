//! Throughput of the paper exchange on loopback (issue 22, point 7): signed LIMIT orders per
//! second through REST and through the WebSocket API from 8 concurrent clients, market messages
//! per second out to 16 subscribers, and the process's memory over a longer mixed run.
//!
//! ```sh
//! cargo bench -p aegis-paper --bench throughput                       # 10 s a phase
//! AEGIS_THROUGHPUT_SECONDS=30 AEGIS_THROUGHPUT_SOAK_SECONDS=600 cargo bench -p aegis-paper --bench throughput
//! ```
//!
//! Everything runs in this one process on a 2-worker tokio runtime: the server (hyper and
//! tokio-tungstenite in front of one `PaperExchange`) and its clients (the library's
//! `HyperTransport` and `Rest` signing each order with HMAC-SHA256; tokio-tungstenite clients
//! signing each `order.place`), so the numbers are what one 2-core machine does with both ends.
//! The orders are LIMIT IOC buys one tick under the best bid: signed, checked, matched (nothing
//! crosses) and expired, so the book stays as it is and nothing accumulates. The exchangeInfo's
//! rate limits are lifted (a load test measures the exchange, not its limiter). The market is
//! driven by a task moving BTCUSDT's price as fast as it can; each subscriber takes trade,
//! bookTicker, aggTrade and 100 ms depth of BTCUSDT on one combined connection. It fails when a
//! client sees an error answer.
//!
//! The clients sign with the largest `recvWindow` (60 s): the exchange and its clients read the
//! same wall clock, so only a step of that clock (a VM's time sync) can put a request outside its
//! window, and a throughput run is not the place to fail on one. Each phase prints how far the
//! wall clock moved against the monotonic one when that was more than 250 ms.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use aegis_exchange::rest::{Environment, Rest};
use aegis_exchange::sign::{Credentials, HmacSha256};
use aegis_exchange::transport::{HttpTransport, HyperTransport};
use aegis_exchange::ws_api::{WsApi, WsAuth};
use aegis_exchange::{BUNDLED_EXCHANGE_INFO, ClientOrderId, Clock, ExchangeInfo, MarketContext, OrderRequest};
use aegis_exchange::{RecvWindow, Side, SystemClock, TimeInForce};
use aegis_paper::server::{PaperServer, ServerConfig};
use aegis_paper::{PaperConfig, PaperExchange, PaperKey, WalkConfig};
use futures_util::{SinkExt, StreamExt};
use rust_decimal::Decimal;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

const CLIENTS: usize = 8;
const SUBSCRIBERS: usize = 16;
/// WebSocket-API requests in flight per connection (clients pipeline on the WebSocket API).
const WINDOW: usize = 32;
const KEY: &str = "loadKey";
const SECRET: &str = "loadSecret";

fn seconds(name: &str, default: u64) -> Duration {
    Duration::from_secs(std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default))
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// The bundled exchangeInfo with its rate limits lifted.
fn exchange_info() -> String {
    let mut info: serde_json::Value = serde_json::from_slice(BUNDLED_EXCHANGE_INFO).expect("the bundled exchangeInfo");
    info["rateLimits"] = serde_json::json!([
        {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 1_000_000_000},
        {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 1_000_000_000},
        {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 1_000_000_000},
        {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 1_000_000_000}
    ]);
    info.to_string()
}

async fn start() -> PaperServer {
    let now = SystemClock.now_millis();
    let config = PaperConfig::default()
        .with_exchange_info(exchange_info())
        .expect("exchangeInfo")
        .with_walk(WalkConfig { step_ms: 0, ..WalkConfig::default() })
        .with_price("BTCUSDT", Decimal::from(65_000));
    let mut exchange = PaperExchange::new(config, now);
    exchange.add_api_key(KEY, PaperKey::hmac(SECRET));
    exchange.deposit(now, "USDT", Decimal::from(1_000_000_000));
    PaperServer::start_with(exchange, ServerConfig::default(), Arc::new(SystemClock)).await.expect("the server")
}

/// The largest window Binance accepts (see the module docs).
fn window() -> RecvWindow {
    RecvWindow::new(RecvWindow::MAX_MILLIS.into()).expect("RecvWindow::MAX_MILLIS is a valid window")
}

/// How far the wall clock moved against the monotonic clock since `since` (a step or a slew).
fn wall_clock_drift(since: (i64, Instant)) -> i64 {
    let wall = SystemClock.now_millis().saturating_sub(since.0);
    let monotonic = i64::try_from(since.1.elapsed().as_millis()).unwrap_or(i64::MAX);
    wall.saturating_sub(monotonic)
}

/// Prints the wall clock's drift over a phase when it exceeds 250 ms.
fn report_drift(phase: &str, drift: i64) {
    if drift.abs() > 250 {
        println!("  (the wall clock moved {drift:+} ms against the monotonic clock during the {phase} phase)");
    }
}

fn credentials() -> Credentials {
    Credentials::new(KEY, HmacSha256::new(SECRET)).expect("credentials")
}

/// A LIMIT IOC buy one tick under the best bid (it expires at once), validated.
fn order(info: &ExchangeInfo, bid: Decimal, id: &str) -> aegis_exchange::ValidatedOrder {
    let request = OrderRequest::limit("BTCUSDT", Side::Buy, Decimal::new(1, 3), bid - Decimal::new(1, 2))
        .with_time_in_force(TimeInForce::Ioc)
        .with_client_order_id(ClientOrderId::new(id).expect("an id"));
    let rules = info.symbol("BTCUSDT").expect("BTCUSDT");
    rules.validate(&request, &MarketContext::default()).expect("a valid order")
}

fn best_bid(server: &PaperServer) -> Decimal {
    let exchange = server.exchange();
    let price = exchange.lock().map(|e| e.price("BTCUSDT")).ok().flatten();
    price.unwrap_or(Decimal::from(65_000)) - Decimal::ONE
}

#[derive(Default)]
struct Counts {
    ok: AtomicU64,
    failed: AtomicU64,
}

/// `CLIENTS` REST clients, each on its own keep-alive connection, for `span`.
async fn rest_orders(server: &PaperServer, span: Duration, counts: Arc<Counts>, stop: Arc<AtomicBool>) {
    let env = Environment::Custom { rest: server.http_url(), ws_api: String::new(), streams: String::new() };
    let bid = best_bid(server);
    let deadline = Instant::now() + span;
    let mut tasks = Vec::new();
    for client in 0..CLIENTS {
        let (env, counts, stop) = (env.clone(), Arc::clone(&counts), Arc::clone(&stop));
        tasks.push(tokio::spawn(async move {
            let info = ExchangeInfo::from_json(BUNDLED_EXCHANGE_INFO).expect("exchangeInfo");
            let rest = Rest::new(env).with_credentials(credentials()).with_recv_window(window());
            let transport = HyperTransport::new().expect("hyper");
            let mut n = 0u64;
            while Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
                n += 1;
                let valid = order(&info, bid, &format!("r{client}x{n}"));
                let request = rest.new_order(&valid, SystemClock.now_millis()).expect("a request").request;
                match transport.send(request, Duration::from_secs(10)).await {
                    Ok(r) if r.status().is_success() => counts.ok.fetch_add(1, Ordering::Relaxed),
                    Ok(r) => {
                        eprintln!("REST {}: {}", r.status(), String::from_utf8_lossy(r.body()));
                        counts.failed.fetch_add(1, Ordering::Relaxed)
                    }
                    Err(e) => {
                        eprintln!("REST transport: {e}");
                        counts.failed.fetch_add(1, Ordering::Relaxed)
                    }
                };
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}

/// `CLIENTS` WebSocket-API connections, each with `WINDOW` signed `order.place` in flight.
async fn ws_orders(server: &PaperServer, span: Duration, counts: Arc<Counts>, stop: Arc<AtomicBool>) {
    let url = format!("{}/ws-api/v3", server.ws_url());
    let bid = best_bid(server);
    let deadline = Instant::now() + span;
    let mut tasks = Vec::new();
    for client in 0..CLIENTS {
        let (url, counts, stop) = (url.clone(), Arc::clone(&counts), Arc::clone(&stop));
        tasks.push(tokio::spawn(async move {
            let info = ExchangeInfo::from_json(BUNDLED_EXCHANGE_INFO).expect("exchangeInfo");
            let api = WsApi::new().with_credentials(credentials()).with_recv_window(window());
            let (socket, _) = tokio_tungstenite::connect_async(url).await.expect("connect");
            let (mut sink, mut source) = socket.split();
            let mut n = 0u64;
            let mut in_flight = 0usize;
            loop {
                let open = Instant::now() < deadline && !stop.load(Ordering::Relaxed);
                while open && in_flight < WINDOW {
                    n += 1;
                    let id = format!("w{client}x{n}");
                    let valid = order(&info, bid, &id);
                    let frame =
                        api.order_place(&id, &valid, WsAuth::Signed, SystemClock.now_millis()).expect("a frame");
                    if sink.feed(Message::text(frame.text)).await.is_err() {
                        return;
                    }
                    in_flight += 1;
                }
                if sink.flush().await.is_err() || in_flight == 0 {
                    return;
                }
                let Some(Ok(Message::Text(text))) = source.next().await else { return };
                // Answers carry `"status":200`; user-data events are not subscribed here.
                if text.contains("\"status\":200") {
                    counts.ok.fetch_add(1, Ordering::Relaxed);
                } else {
                    eprintln!("WS-API: {text}");
                    counts.failed.fetch_add(1, Ordering::Relaxed);
                }
                in_flight -= 1;
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}

/// `SUBSCRIBERS` market-stream connections counting what they receive while a driver moves the
/// price, for `span`.
async fn market(server: &PaperServer, span: Duration, received: Arc<AtomicU64>, stop: Arc<AtomicBool>) {
    let url = format!(
        "{}/stream?streams=btcusdt@trade/btcusdt@bookTicker/btcusdt@aggTrade/btcusdt@depth@100ms",
        server.ws_url()
    );
    let deadline = Instant::now() + span;
    let mut tasks = Vec::new();
    for _ in 0..SUBSCRIBERS {
        let (url, received, stop) = (url.clone(), Arc::clone(&received), Arc::clone(&stop));
        tasks.push(tokio::spawn(async move {
            let (mut socket, _) = tokio_tungstenite::connect_async(url).await.expect("connect");
            while Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
                match tokio::time::timeout(Duration::from_millis(200), socket.next()).await {
                    Ok(Some(Ok(Message::Text(_)))) => {
                        received.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(Some(Ok(_))) | Err(_) => {}
                    Ok(None | Some(Err(_))) => return,
                }
            }
        }));
    }
    // The driver: the price moves a tick up or down, as fast as the exchange takes it.
    let exchange = server.exchange();
    let driver = tokio::spawn(async move {
        let mut up = true;
        let base = Decimal::from(65_000);
        while Instant::now() < deadline {
            for _ in 0..64 {
                let price = if up { base + Decimal::new(1, 2) } else { base };
                up = !up;
                if let Ok(mut e) = exchange.lock() {
                    e.set_price(SystemClock.now_millis(), "BTCUSDT", price);
                }
            }
            tokio::task::yield_now().await;
        }
    });
    for t in tasks {
        let _ = t.await;
    }
    let _ = driver.await;
}

fn rate(n: u64, span: Duration) -> f64 {
    n as f64 / span.as_secs_f64()
}

fn main() {
    let span = seconds("AEGIS_THROUGHPUT_SECONDS", 10);
    let soak = seconds("AEGIS_THROUGHPUT_SOAK_SECONDS", 0);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let failed = runtime.block_on(async {
        let server = start().await;
        let never = Arc::new(AtomicBool::new(false));
        let rest = Arc::new(Counts::default());
        // Each phase's start on both clocks: its span from the monotonic one, the wall clock's
        // drift from both.
        let clocks = || (SystemClock.now_millis(), Instant::now());
        let started = clocks();
        rest_orders(&server, span, Arc::clone(&rest), Arc::clone(&never)).await;
        let (rest_span, rest_drift) = (started.1.elapsed(), wall_clock_drift(started));
        let ws = Arc::new(Counts::default());
        let started = clocks();
        ws_orders(&server, span, Arc::clone(&ws), Arc::clone(&never)).await;
        let (ws_span, ws_drift) = (started.1.elapsed(), wall_clock_drift(started));
        let received = Arc::new(AtomicU64::new(0));
        let started = Instant::now();
        market(&server, span, Arc::clone(&received), Arc::clone(&never)).await;
        let market_span = started.elapsed();
        println!("paper exchange throughput, {CLIENTS} clients / {SUBSCRIBERS} subscribers, {span:?} a phase, 2 worker threads");
        println!(
            "  REST signed LIMIT orders:        {:>10.0} /s  ({} ok, {} failed)",
            rate(rest.ok.load(Ordering::Relaxed), rest_span),
            rest.ok.load(Ordering::Relaxed),
            rest.failed.load(Ordering::Relaxed)
        );
        println!(
            "  WebSocket-API signed orders:     {:>10.0} /s  ({} ok, {} failed; {WINDOW} in flight a connection)",
            rate(ws.ok.load(Ordering::Relaxed), ws_span),
            ws.ok.load(Ordering::Relaxed),
            ws.failed.load(Ordering::Relaxed)
        );
        println!(
            "  market messages to subscribers:  {:>10.0} /s  ({} received)",
            rate(received.load(Ordering::Relaxed), market_span),
            received.load(Ordering::Relaxed)
        );
        report_drift("REST", rest_drift);
        report_drift("WebSocket-API", ws_drift);
        let mut failed = rest.failed.load(Ordering::Relaxed) + ws.failed.load(Ordering::Relaxed);
        if rest.ok.load(Ordering::Relaxed) == 0 || ws.ok.load(Ordering::Relaxed) == 0 || received.load(Ordering::Relaxed) == 0 {
            eprintln!("a phase did nothing");
            failed += 1;
        }
        if !soak.is_zero() {
            // All three at once for `soak`, RSS sampled every 10 s; the first minute warms up.
            let (stop, rest, ws, received) =
                (Arc::new(AtomicBool::new(false)), Arc::new(Counts::default()), Arc::new(Counts::default()), Arc::new(AtomicU64::new(0)));
            let sampler = tokio::spawn(async move {
                let mut samples = Vec::new();
                let started = Instant::now();
                while started.elapsed() < soak {
                    tokio::time::sleep(Duration::from_secs(10)).await;
                    samples.push((started.elapsed().as_secs(), rss_kib()));
                }
                samples
            });
            let (a, b, c) = tokio::join!(
                rest_orders(&server, soak, Arc::clone(&rest), Arc::clone(&stop)),
                ws_orders(&server, soak, Arc::clone(&ws), Arc::clone(&stop)),
                market(&server, soak, Arc::clone(&received), Arc::clone(&stop)),
            );
            let _ = (a, b, c);
            let samples = sampler.await.unwrap_or_default();
            let warm: Vec<u64> = samples.iter().filter(|(t, _)| *t >= 60).map(|(_, r)| *r).collect();
            let (first, last, peak) =
                (warm.first().copied().unwrap_or(0), warm.last().copied().unwrap_or(0), warm.iter().copied().max().unwrap_or(0));
            println!(
                "  mixed soak {soak:?}: {} REST + {} WS-API orders, {} market messages; RSS after warm-up {first} KiB, at the end {last} KiB, peak {peak} KiB",
                rest.ok.load(Ordering::Relaxed),
                ws.ok.load(Ordering::Relaxed),
                received.load(Ordering::Relaxed)
            );
            println!("  RSS samples (s, KiB): {samples:?}");
            failed += rest.failed.load(Ordering::Relaxed) + ws.failed.load(Ordering::Relaxed);
        }
        server.shutdown().await;
        failed
    });
    if failed > 0 {
        eprintln!("{failed} failures");
        std::process::exit(1);
    }
}
