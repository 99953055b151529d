//! `Client::place` to its acknowledgement under a 10,000 events/s user-data stream, beside this
//! crate's bare REST call (multi-thread and current-thread runtimes), a raw socket, binance-rs and
//! the old official connector, all placing the same LIMIT order against one loopback
//! `PaperServer`, interleaved round by round (issue 20, point 10), in a fresh seeded order each
//! round (`AEGIS_LOAD_SEED`), so that no row is always timed right after the same neighbour: with
//! a fixed rotation (`AEGIS_LOAD_ORDER=rotate`, sessions 11-24) a row runs after its twin on the
//! other runtime, the same code on the same thread, and reads faster for it (BENCHMARKS.md,
//! session 25).
//!
//! ```text
//! cargo bench --manifest-path benches/peers/Cargo.toml
//! AEGIS_LOAD_ROUNDS=3000 AEGIS_LOAD_WARMUP=300 AEGIS_LOAD_EVENTS=10000 \
//!     cargo bench --manifest-path benches/peers/Cargo.toml
//! ```
//!
//! The load: the client has a resting ETHUSDT sell that a feeder on the server's runtime fills a
//! little at a time through the paper exchange's depth replay, 5,000 fills a second: an
//! `executionReport` and an `outboundAccountPosition` each, 10,000 user-data events a second the
//! client decodes, applies to its ledger and publishes while the orders are measured (the
//! measured orders' own events come on top). The measured order is
//! `LIMIT BUY 0.001 BTCUSDT @ 60000 GTC` (it rests; the book is cleared every 15 rounds outside
//! the timed part).
//!
//! Contenders, each timed from the call to the decoded acknowledgement:
//! - `raw_socket`: a request signed once and written on a kept-alive blocking socket, the answer
//!   read to its end and not parsed: the floor of the server and loopback.
//! - `aegis_rest_ct` / `aegis_rest_mt`: `Rest::new_order` (built and signed inside the timing),
//!   `ReqwestTransport::send`, `OrderResponse` decoded; on a current-thread runtime and on a
//!   2-worker multi-thread runtime, called from the thread in `block_on` (`#[tokio::main]`'s
//!   body).
//! - `aegis_client_mt`: `Client::place` until it returns the exchange's answer applied (`New`),
//!   from the thread in `block_on` of the client's multi-thread runtime, the load running.
//! - `aegis_rest_mt_task` / `aegis_client_mt_task`: the same two from a task spawned on that
//!   runtime (a strategy's own task, on a worker thread).
//! - `binance_rs`: `Account::limit_buy` (binance 0.21, blocking reqwest 0.11).
//! - `connector_ureq`: `BinanceHttpClient::send(new_order(..))` (binance_spot_connector_rust 1.3,
//!   ureq), the body read as a string.
//!
//! `AEGIS_LOAD_ONLY=5,7` runs only those rows of the table (0-based), e.g. the bare hyper call
//! and `Client::place` from `block_on` without the peers' work between them.
//!
//! `allocs` is the mean number of heap allocations a call made on the calling thread (a
//! counting global allocator over the system one): all of the call for a row timed from
//! `block_on` or a blocking client, only the hand-off for a row timed from a task.
//!
//! It fails (non-zero) when any contender had an error; the goals are printed, not asserted.

// A latency bench reads the wall clock (the crate's own rule is for its core, which never does).
#![allow(clippy::disallowed_methods)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aegis_exchange::OrderState;
use aegis_exchange::client::{Client, ClientConfig, Events};
use aegis_exchange::rest::{DepthSnapshot, Environment, Level, OrderResponse, Rest};
use aegis_exchange::sign::{Credentials, HmacSha256};
use aegis_exchange::stream::DepthUpdate;
use aegis_exchange::stream::Symbol;
use aegis_exchange::transport::{HttpTransport, HyperTransport, ReqwestTransport, TungsteniteTransport};
use aegis_exchange::{Clock, SystemClock};
use aegis_exchange::{EngineConfig, Intent};
use aegis_exchange::{ExchangeInfo, MarketContext, OrderRequest, Side};
use aegis_paper::server::PaperServer;
use aegis_paper::{PaperConfig, PaperExchange, PaperKey, WalkConfig};
use rust_decimal::Decimal;

const KEY: &str = "benchApiKey0000000000000000000000000000000000000000000000000000";
const SECRET: &str = "benchSecret000000000000000000000000000000000000000000000000000";
const TIMEOUT: Duration = Duration::from_secs(5);
/// Every contender signs with Binance's largest `recvWindow`: the exchange and the contenders
/// read the same wall clock, so only a step of that clock (a VM's time sync) puts a request
/// outside its window, and that is not what this bench measures (CI's throughput run failed on
/// one). The same parameter for all: the requests stay alike.
const RECV_WINDOW_MS: u64 = aegis_exchange::RecvWindow::MAX_MILLIS;

/// The counting allocator `tests/allocations.rs` uses.
#[path = "../../../tests/common/counting_alloc.rs"]
mod counting_alloc;

type Fail = Box<dyn std::error::Error>;

fn dec(s: &str) -> Decimal {
    s.parse().unwrap_or_default()
}

/// The number of rows of the table.
const CONTENDERS: usize = 11;

/// How the contenders are ordered within a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RoundOrder {
    /// A fresh permutation each round (seeded by `AEGIS_LOAD_SEED`): on average every row runs
    /// after every other row as often, so none is timed with the caches its twin just warmed.
    Shuffle,
    /// The order of sessions 11-24: row `k` first in round `k`, the rest in index order. It keeps
    /// each row behind the same neighbour (row 5, the bare hyper call from `block_on`, right
    /// after row 4, the same call on the current-thread runtime, the same code on the same thread).
    Rotate,
}

impl RoundOrder {
    fn from_env() -> Self {
        match std::env::var("AEGIS_LOAD_ORDER").as_deref() {
            Ok("rotate") => Self::Rotate,
            _ => Self::Shuffle,
        }
    }
}

/// SplitMix64: a seeded, dependency-free generator for the round order.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// The order of the contenders in round `round`.
fn order_round(order: &mut [usize], kind: RoundOrder, round: u64, rng: &mut SplitMix64) {
    let n = order.len();
    match kind {
        RoundOrder::Rotate => {
            let first = usize::try_from(round % n as u64).unwrap_or(0);
            for (k, slot) in order.iter_mut().enumerate() {
                *slot = (k + first) % n;
            }
        }
        RoundOrder::Shuffle => {
            // Fisher-Yates.
            for i in (1..n).rev() {
                let j = usize::try_from(rng.next() % (i as u64 + 1)).unwrap_or(0);
                order.swap(i, j);
            }
        }
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The bundled exchangeInfo with rate limits no bench run reaches (the peers do not pace
/// themselves), its symbol filters as Binance has them.
fn exchange_info() -> Result<Vec<u8>, Fail> {
    let mut info: serde_json::Value = serde_json::from_slice(aegis_exchange::BUNDLED_EXCHANGE_INFO)?;
    if let Some(limits) = info.get_mut("rateLimits").and_then(serde_json::Value::as_array_mut) {
        for limit in limits {
            limit["limit"] = serde_json::Value::from(1_000_000_000_u64);
        }
    }
    Ok(serde_json::to_vec(&info)?)
}

fn paper(now: i64) -> Result<PaperExchange, Fail> {
    let config = PaperConfig::default()
        .with_exchange_info(exchange_info()?)?
        .with_walk(WalkConfig { step_ms: 0, ..WalkConfig::default() })
        .with_price("BTCUSDT", dec("65000"))
        .with_price("ETHUSDT", dec("3000"));
    let mut config = config;
    config.max_events = 1_000_000;
    let mut paper = PaperExchange::new(config, now);
    paper.add_api_key(KEY, PaperKey::hmac(SECRET));
    paper.deposit(now, "USDT", dec("100000000"));
    paper.deposit(now, "ETH", dec("1000"));
    paper.deposit(now, "BTC", dec("10"));
    // ETHUSDT replays a book: bids at 2999, asks at 3200; the client's sell rests at 3100.
    let level = |p: &str, q: &str| Level { price: dec(p), qty: dec(q) };
    let snapshot =
        DepthSnapshot { last_update_id: 1, bids: vec![level("2999", "10")], asks: vec![level("3200", "10")] };
    paper.replay_snapshot(now, "ETHUSDT", &snapshot);
    Ok(paper)
}

/// Fills the client's resting ETHUSDT sell `per_ms` times a millisecond: each diff puts a bid
/// of 0.0001 ETH at 3100 that crosses it (a trade: `executionReport` + `outboundAccountPosition`).
async fn feed(
    exchange: Arc<std::sync::Mutex<PaperExchange>>,
    per_ms: u64,
    stop: Arc<AtomicBool>,
    fills: Arc<AtomicU64>,
) {
    let clock = SystemClock;
    let mut update_id = 2_u64;
    let Some(symbol) = Symbol::new("ETHUSDT") else { return };
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    while !stop.load(Ordering::Relaxed) {
        tick.tick().await;
        let now = clock.now_millis();
        let mut ex = exchange.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for _ in 0..per_ms {
            let diff = DepthUpdate {
                event_time: now,
                symbol,
                first_update_id: update_id,
                final_update_id: update_id,
                bids: vec![Level { price: dec("3100"), qty: dec("0.0001") }],
                asks: vec![],
            };
            // Each fill moves the book's id on by one: skip past it.
            update_id += 10;
            if ex.replay_diff(now, &diff) {
                fills.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

struct Samples {
    name: &'static str,
    nanos: Vec<u64>,
    /// The CPU time of the thread that made the call (for a row timed from a task, only the
    /// hand-off to it), nanoseconds.
    cpu: Vec<u64>,
    /// Heap allocations made on the calling thread, summed over the measured calls.
    allocs: u64,
    errors: u64,
}

impl Samples {
    fn new(name: &'static str) -> Self {
        Self { name, nanos: Vec::new(), cpu: Vec::new(), allocs: 0, errors: 0 }
    }

    fn record(&mut self, took: Result<Duration, Fail>, cpu: u64, allocs: u64) {
        match took {
            Ok(d) => {
                self.nanos.push(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
                self.cpu.push(cpu);
                self.allocs += allocs;
            }
            Err(e) => {
                if self.errors < 3 {
                    eprintln!("{}: {e}", self.name);
                }
                self.errors += 1;
            }
        }
    }

    fn percentile(sorted: &[u64], p: f64) -> f64 {
        if sorted.is_empty() {
            return f64::NAN;
        }
        // Nearest rank; a latency report, not a money path.
        let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
        sorted.get(rank.saturating_sub(1).min(sorted.len() - 1)).copied().unwrap_or(0) as f64 / 1000.0
    }

    /// The median CPU time of the calling thread, microseconds.
    fn cpu_median(&self) -> f64 {
        let mut sorted = self.cpu.clone();
        sorted.sort_unstable();
        Self::percentile(&sorted, 50.0)
    }

    fn row(&self) -> (f64, f64) {
        let mut sorted = self.nanos.clone();
        sorted.sort_unstable();
        let (p50, p90, p99, p999) = (
            Self::percentile(&sorted, 50.0),
            Self::percentile(&sorted, 90.0),
            Self::percentile(&sorted, 99.0),
            Self::percentile(&sorted, 99.9),
        );
        let max = sorted.last().copied().unwrap_or(0) as f64 / 1000.0;
        let allocs = self.allocs as f64 / sorted.len().max(1) as f64;
        println!(
            "| {:<20} | {:>6} | {:>8.1} | {:>8.1} | {:>8.1} | {:>8.1} | {:>8.1} | {:>6.1} | {:>6} |",
            self.name,
            sorted.len(),
            p50,
            p90,
            p99,
            p999,
            max,
            allocs,
            self.errors
        );
        (p50, p99)
    }
}

/// One request, signed once, as bytes on the wire.
fn raw_request(rest: &Rest, info: &ExchangeInfo, host: &str) -> Result<Vec<u8>, Fail> {
    let order = limit_order(info)?;
    let now = SystemClock.now_millis();
    let built = rest.new_order(&order, now)?;
    let request = built.request;
    let target = request.uri().path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_default();
    let mut out = format!("{} {} HTTP/1.1\r\nHost: {host}\r\n", request.method(), target).into_bytes();
    for (name, value) in request.headers() {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", request.body().len()).as_bytes());
    out.extend_from_slice(request.body());
    Ok(out)
}

/// Writes `request`, reads one whole response (head, then `Content-Length` bytes).
fn raw_exchange(stream: &mut TcpStream, request: &[u8], buf: &mut Vec<u8>) -> Result<(), Fail> {
    stream.write_all(request)?;
    buf.clear();
    let mut chunk = [0_u8; 16 * 1024];
    loop {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err("connection closed".into());
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut response = httparse::Response::new(&mut headers);
        if let httparse::Status::Complete(head) = response.parse(buf)? {
            let length = response
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                .and_then(|h| std::str::from_utf8(h.value).ok())
                .and_then(|v| v.parse::<usize>().ok())
                .ok_or("no content-length")?;
            if buf.len() >= head + length {
                if response.code != Some(200) {
                    return Err(format!("status {:?}: {}", response.code, String::from_utf8_lossy(buf)).into());
                }
                return Ok(());
            }
        }
    }
}

fn limit_order(info: &ExchangeInfo) -> Result<aegis_exchange::ValidatedOrder, Fail> {
    let rules = info.symbol("BTCUSDT").ok_or("no BTCUSDT")?;
    let order = OrderRequest::limit("BTCUSDT", Side::Buy, dec("0.001"), dec("60000"));
    Ok(rules.validate(&order, &MarketContext::default().with_reference_price(dec("65000")))?)
}

async fn rest_place(rest: &Rest, info: &ExchangeInfo, http: &dyn HttpTransport) -> Result<Duration, Fail> {
    let start = Instant::now();
    let order = limit_order(info)?;
    let built = rest.new_order(&order, SystemClock.now_millis())?;
    let response = http.send(built.request, TIMEOUT).await?;
    let status = response.status().as_u16();
    let _ack: OrderResponse = aegis_exchange::rest::decode(status, response.body(), None, 0)?;
    Ok(start.elapsed())
}

/// What the in-runtime measuring task is asked to time.
#[derive(Clone, Copy)]
enum Job {
    RestReqwest,
    RestHyper,
    Client,
}

/// A task on the multi-thread runtime that times what it is asked, as a strategy's own task
/// would run it (a worker thread, not the thread blocked in `block_on`).
async fn serve(
    mut jobs: tokio::sync::mpsc::Receiver<(Job, tokio::sync::oneshot::Sender<Result<Duration, String>>)>,
    rest: Rest,
    info: ExchangeInfo,
    client: Arc<Client>,
) {
    // Made on this runtime, as the task's own.
    let (reqwest, hyper) = match (ReqwestTransport::new(), HyperTransport::new()) {
        (Ok(r), Ok(h)) => (r, h),
        _ => return,
    };
    let mut events = client.events();
    while let Some((job, reply)) = jobs.recv().await {
        let took = match job {
            Job::RestReqwest => rest_place(&rest, &info, &reqwest).await,
            Job::RestHyper => rest_place(&rest, &info, &hyper).await,
            Job::Client => client_place(&client, &mut events).await,
        };
        let _ = reply.send(took.map_err(|e| e.to_string()));
    }
}

async fn client_place(client: &Client, events: &mut Events) -> Result<Duration, Fail> {
    // The reader keeps up with the load, as a strategy's would (outside the timing).
    while events.try_next().is_some() {}
    let start = Instant::now();
    let intent = Intent::new(OrderRequest::limit("BTCUSDT", Side::Buy, dec("0.001"), dec("60000")));
    let placed = client.place(intent).await?;
    let took = start.elapsed();
    if placed.state != OrderState::New {
        return Err(format!("order {:?}", placed.state).into());
    }
    Ok(took)
}

fn main() -> Result<(), Fail> {
    let rounds = env_u64("AEGIS_LOAD_ROUNDS", 3_000);
    let warmup = env_u64("AEGIS_LOAD_WARMUP", 300);
    let events_per_s = env_u64("AEGIS_LOAD_EVENTS", 10_000);
    let order_kind = RoundOrder::from_env();
    let mut order: Vec<usize> = (0..CONTENDERS).collect();
    let mut rng = SplitMix64(env_u64("AEGIS_LOAD_SEED", 20));
    println!("order of the contenders in a round: {order_kind:?} (AEGIS_LOAD_ORDER=shuffle|rotate)");
    // A subset of the contenders by row number (0-based, comma-separated), e.g. `5,7`: the others
    // are not run, so their work does not touch the shared thread's caches between rounds.
    let only: Option<Vec<usize>> =
        std::env::var("AEGIS_LOAD_ONLY").ok().map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect());
    // Two events a fill.
    let fills_per_ms = events_per_s / 2 / 1000;

    let server_rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let mt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let ct = tokio::runtime::Builder::new_current_thread().enable_all().build()?;

    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let server = server_rt.block_on(PaperServer::start_with_clock(paper(clock.now_millis())?, Arc::clone(&clock)))?;
    let exchange = server.exchange();
    let env = Environment::Custom {
        rest: server.http_url(),
        ws_api: format!("{}/ws-api/v3", server.ws_url()),
        streams: server.ws_url(),
    };
    let info = ExchangeInfo::from_json(&exchange_info()?)?;
    let recv_window = aegis_exchange::RecvWindow::from_millis(u32::try_from(RECV_WINDOW_MS)?)?;
    let rest = Rest::new(env.clone())
        .with_credentials(Credentials::new(KEY, HmacSha256::new(SECRET))?)
        .with_recv_window(recv_window);

    // The client, its flood order resting, the feeder filling it.
    let client = mt.block_on(async {
        let mut engine = EngineConfig::new(env.clone(), Credentials::new(KEY, HmacSha256::new(SECRET))?);
        engine.recv_window = recv_window;
        let config = ClientConfig::new(engine);
        let client = Client::connect(
            config,
            Arc::new(HyperTransport::new()?),
            Arc::new(TungsteniteTransport::new()?),
            Arc::clone(&clock),
        )
        .await?;
        Ok::<_, Fail>(Arc::new(client))
    })?;
    let mut events = client.events();
    mt.block_on(async {
        let sell = Intent::new(OrderRequest::limit("ETHUSDT", Side::Sell, dec("900"), dec("3100")));
        let id = client.place(sell).await?.id;
        let view = client.wait_until_done(&id, Duration::from_millis(500)).await?;
        match view {
            Some(v) if v.state == OrderState::New => Ok(()),
            other => Err(Fail::from(format!("the flood order is not resting: {other:?}"))),
        }
    })?;
    let stop = Arc::new(AtomicBool::new(false));
    let fills = Arc::new(AtomicU64::new(0));
    if fills_per_ms > 0 {
        server_rt.spawn(feed(Arc::clone(&exchange), fills_per_ms, Arc::clone(&stop), Arc::clone(&fills)));
    }

    let reqwest_mt = mt.block_on(async { ReqwestTransport::new() })?;
    let reqwest_ct = ct.block_on(async { ReqwestTransport::new() })?;
    let hyper_mt = mt.block_on(async { HyperTransport::new() })?;
    let hyper_ct = ct.block_on(async { HyperTransport::new() })?;
    let host = server.http_addr().to_string();
    let mut raw = TcpStream::connect(server.http_addr())?;
    raw.set_nodelay(true)?;
    let mut raw_bytes = raw_request(&rest, &info, &host)?;
    let mut raw_buf = Vec::with_capacity(4096);
    let brs: binance::account::Account = binance::api::Binance::new_with_config(
        Some(KEY.to_owned()),
        Some(SECRET.to_owned()),
        &binance::config::Config::default().set_rest_api_endpoint(server.http_url()).set_recv_window(RECV_WINDOW_MS),
    );
    let connector = binance_spot_connector_rust::ureq::BinanceHttpClient::with_url(&server.http_url())
        .credentials(binance_spot_connector_rust::http::Credentials::from_hmac(KEY, SECRET));

    let mut samples: [Samples; CONTENDERS] = [
        Samples::new("raw_socket"),
        Samples::new("reqwest_rest_ct"),
        Samples::new("reqwest_rest_mt"),
        Samples::new("reqwest_rest_mt_task"),
        Samples::new("hyper_rest_ct"),
        Samples::new("hyper_rest_mt"),
        Samples::new("hyper_rest_mt_task"),
        Samples::new("client_mt"),
        Samples::new("client_mt_task"),
        Samples::new("binance_rs"),
        Samples::new("connector_ureq"),
    ];
    let (jobs, inbox) = tokio::sync::mpsc::channel(1);
    let serving = mt.spawn(serve(inbox, rest.clone(), info.clone(), Arc::clone(&client)));
    let ask = |job: Job| -> Result<Duration, Fail> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        jobs.blocking_send((job, reply)).map_err(|_| "the measuring task stopped")?;
        Ok(answer.blocking_recv().map_err(|_| "the measuring task stopped")??)
    };
    let frames_before = mt.block_on(client.stats())?.frames;
    let fills_before = fills.load(Ordering::Relaxed);
    let started = Instant::now();
    let cancel_all = |exchange: &std::sync::Mutex<PaperExchange>| -> Result<(), Fail> {
        let now = SystemClock.now_millis();
        let request = rest.cancel_all_open_orders("BTCUSDT", now)?.request;
        let _ = exchange.lock().unwrap_or_else(std::sync::PoisonError::into_inner).handle_http(now, request);
        Ok(())
    };
    for round in 0..(warmup + rounds) {
        if round % 15 == 0 {
            cancel_all(&exchange)?;
            // The pre-signed request stays within its recvWindow.
            raw_bytes = raw_request(&rest, &info, &host)?;
        }
        let measured = round >= warmup;
        order_round(&mut order, order_kind, round, &mut rng);
        for &which in &order {
            if !only.as_ref().is_none_or(|o| o.contains(&which)) {
                continue;
            }
            let cpu_before = thread_cpu_nanos();
            let allocs_before = allocations();
            let took: Result<Duration, Fail> = match which {
                0 => {
                    let start = Instant::now();
                    raw_exchange(&mut raw, &raw_bytes, &mut raw_buf).map(|()| start.elapsed())
                }
                1 => ct.block_on(rest_place(&rest, &info, &reqwest_ct)),
                2 => mt.block_on(rest_place(&rest, &info, &reqwest_mt)),
                3 => ask(Job::RestReqwest),
                4 => ct.block_on(rest_place(&rest, &info, &hyper_ct)),
                5 => mt.block_on(rest_place(&rest, &info, &hyper_mt)),
                6 => ask(Job::RestHyper),
                7 => mt.block_on(client_place(&client, &mut events)),
                8 => ask(Job::Client),
                9 => {
                    let start = Instant::now();
                    brs.limit_buy("BTCUSDT", 0.001, 60000.0).map(|_| start.elapsed()).map_err(|e| e.to_string().into())
                }
                _ => {
                    let start = Instant::now();
                    let order = binance_spot_connector_rust::trade::new_order(
                        "BTCUSDT",
                        binance_spot_connector_rust::trade::order::Side::Buy,
                        "LIMIT",
                    )
                    .time_in_force(binance_spot_connector_rust::trade::order::TimeInForce::Gtc)
                    .quantity(dec("0.001"))
                    .price(dec("60000"))
                    .recv_window(RECV_WINDOW_MS);
                    connector
                        .send(order)
                        .map_err(|e| format!("{e:?}").into())
                        .and_then(|r| r.into_body_str().map_err(|e| format!("{e:?}").into()))
                        .map(|_| start.elapsed())
                }
            };
            if measured {
                let cpu = thread_cpu_nanos().saturating_sub(cpu_before);
                let allocs = allocations().saturating_sub(allocs_before);
                if let Some(s) = samples.get_mut(which) {
                    s.record(took, cpu, allocs);
                }
            } else if let Err(e) = took {
                eprintln!("warm-up {which}: {e}");
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let stats = mt.block_on(client.stats())?;
    let fills_done = fills.load(Ordering::Relaxed) - fills_before;
    stop.store(true, Ordering::Relaxed);
    cancel_all(&exchange)?;

    println!(
        "user-data load: {:.0} fills/s on the server, {:.0} frames/s received by the client ({} frames in {:.1} s)",
        fills_done as f64 / elapsed,
        (stats.frames - frames_before) as f64 / elapsed,
        stats.frames - frames_before,
        elapsed
    );
    println!("place -> acknowledgement, microseconds ({rounds} rounds interleaved, {warmup} warm-up)");
    println!(
        "| contender            |      n |      p50 |      p90 |      p99 |    p99.9 |      max | allocs | errors |"
    );
    println!(
        "|----------------------|-------:|---------:|---------:|---------:|---------:|---------:|-------:|-------:|"
    );
    let rows: Vec<(f64, f64)> = samples.iter().map(Samples::row).collect();
    for (label, ct, mt) in
        [("reqwest, block_on", 1, 2), ("reqwest, task", 1, 3), ("hyper, block_on", 4, 5), ("hyper, task", 4, 6)]
    {
        if let (Some(ct), Some(mt)) = (rows.get(ct), rows.get(mt)) {
            println!("{label}: rest_mt / rest_ct median {:.2}x (goal <= 1.2)", mt.0 / ct.0);
        }
    }
    for (label, rest, client) in [("block_on", 5, 7), ("task", 6, 8)] {
        if let (Some(rest), Some(client)) = (rows.get(rest), rows.get(client)) {
            println!(
                "{label}: client - hyper rest median {:+.1} us (goal <= 10); p99 {:.2}x (goal <= 1.5)",
                client.0 - rest.0,
                client.1 / rest.1
            );
        }
    }
    // From `block_on` the whole call runs on the measuring thread: its CPU time says how much
    // of the difference is work on the caller's thread rather than waiting.
    if let (Some(rest), Some(client)) = (samples.get(5), samples.get(7))
        && !rest.cpu.is_empty()
        && !client.cpu.is_empty()
    {
        let (rest, client) = (rest.cpu_median(), client.cpu_median());
        println!(
            "block_on: the calling thread's CPU time, median: client {client:.1} us, hyper rest {rest:.1} us ({:+.1} us)",
            client - rest
        );
    }
    drop(jobs);
    mt.block_on(async {
        let _ = serving.await;
        if let Ok(client) = Arc::try_unwrap(client) {
            let _ = client.shutdown().await;
        }
    });
    server_rt.block_on(server.shutdown());
    // A contender that failed is a broken harness, not a number.
    let broken: Vec<&str> = samples
        .iter()
        .enumerate()
        .filter(|(i, s)| s.errors > 0 || (s.nanos.is_empty() && only.as_ref().is_none_or(|o| o.contains(i))))
        .map(|(_, s)| s.name)
        .collect();
    if !broken.is_empty() {
        return Err(format!("contenders with errors: {broken:?}").into());
    }
    Ok(())
}

/// The CPU time the calling thread has used, nanoseconds (0 if the clock cannot be read).
#[cfg(unix)]
fn thread_cpu_nanos() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `clock_gettime` writes one `timespec` through the pointer, which points to a live,
    // properly aligned local; the clock id is a constant Linux supports.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &raw mut ts) };
    if rc != 0 {
        return 0;
    }
    u64::try_from(ts.tv_sec)
        .unwrap_or(0)
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::try_from(ts.tv_nsec).unwrap_or(0))
}

/// Not measured off Unix.
#[cfg(not(unix))]
fn thread_cpu_nanos() -> u64 {
    0
}

/// The calling thread's heap allocations so far (reallocations included).
fn allocations() -> u64 {
    let (allocs, reallocs) = counting_alloc::counts();
    allocs.wrapping_add(reallocs)
}

#[global_allocator]
static GLOBAL: counting_alloc::Counting = counting_alloc::Counting;
