//! War games: the combat-readiness audit, run for real. Twenty-one scenarios in five dimensions
//! (the seed's fifteen, then six it lacked), each driving the crate's own code (against the
//! paper exchange where it needs an exchange) and reporting PASS / FAIL with its evidence.
//!
//! `cargo run --example war_games` prints the report; `-- --report war_games.md` also writes it
//! as Markdown. The exit status is non-zero when any scenario fails. Everything runs offline.

mod common;

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aegis_exchange::BUNDLED_EXCHANGE_INFO;
use aegis_exchange::BookSync;
use aegis_exchange::Ledger;
use aegis_exchange::client::{Client, ClientConfig, ClientError, MarketConfig, MarketItem, MarketStream, OnShutdown};
use aegis_exchange::limits::{Admit, Cost, RateLimiter};
use aegis_exchange::ring::History;
use aegis_exchange::sign::{Credentials, Ed25519, HmacSha256, Signer};
use aegis_exchange::stream::{SanitizeConfig, StreamDecoder};
use aegis_exchange::transport::{
    BoxFuture, HttpTransport, ReqwestTransport, TransportError, TungsteniteTransport, WsTransport,
};
use aegis_exchange::{
    ClientOrderId, Decimal, ExchangeInfo, Filter, MarketContext, OrderRequest, OrderStatus, Side, SymbolRules,
};
use aegis_exchange::{Clock, SystemClock};
use aegis_exchange::{EngineConfig, Intent, KillReason, SubmitError};
use aegis_exchange::{OrderState, OrderView};
use aegis_paper::server::PaperServer;
use aegis_paper::{Fault, PaperConfig, PaperExchange, PaperKey, PaperTransport, WalkConfig, WsFault};
use bytes::Bytes;
use common::{Error, lock};
use rust_decimal_macros::dec;

// ------------------------------------------------------------------------------------------------
// Harness

type Verdict = Result<String, String>;
type Run = fn() -> Pin<Box<dyn Future<Output = Verdict> + Send>>;

/// Fails the scenario with its evidence when `cond` does not hold.
macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(format!($($fmt)+));
        }
    };
}

/// `?` for any error, as a failed scenario.
trait Or<T> {
    fn or_fail(self, what: &str) -> Result<T, String>;
}
impl<T, E: std::fmt::Debug> Or<T> for Result<T, E> {
    fn or_fail(self, what: &str) -> Result<T, String> {
        self.map_err(|e| format!("{what}: {e:?}"))
    }
}
impl<T> Or<T> for Option<T> {
    fn or_fail(self, what: &str) -> Result<T, String> {
        self.ok_or_else(|| format!("{what}: missing"))
    }
}

fn now() -> i64 {
    SystemClock.now_millis()
}

/// One request as it left the client.
#[derive(Debug, Clone)]
struct Sent {
    at: i64,
    method: String,
    path: String,
    /// Query string then body: the signed payload.
    payload: String,
}

/// An HTTP transport that records every request and can answer the next matching ones itself.
#[derive(Clone)]
struct Recorder {
    inner: Arc<dyn HttpTransport>,
    log: Arc<Mutex<Vec<Sent>>>,
    scripted: Arc<Mutex<VecDeque<Canned>>>,
}

/// A path and the answer its next request gets.
type Canned = (String, http::Response<Bytes>);

impl Recorder {
    fn new(inner: Arc<dyn HttpTransport>) -> Self {
        Self { inner, log: Arc::default(), scripted: Arc::default() }
    }
    fn sent(&self) -> Vec<Sent> {
        self.log.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }
    /// The next request to `path` gets `response` instead of reaching the exchange.
    fn script(&self, path: &str, response: http::Response<Bytes>) {
        self.scripted.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push_back((path.to_owned(), response));
    }
}

impl HttpTransport for Recorder {
    fn send(
        &self,
        request: http::Request<Bytes>,
        timeout: Duration,
    ) -> BoxFuture<'static, Result<http::Response<Bytes>, TransportError>> {
        let path = request.uri().path().to_owned();
        let payload = format!("{}{}", request.uri().query().unwrap_or(""), String::from_utf8_lossy(request.body()));
        let sent = Sent { at: now(), method: request.method().to_string(), path: path.clone(), payload };
        self.log.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(sent);
        let canned = {
            let mut scripted = self.scripted.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let at = scripted.iter().position(|(p, _)| *p == path);
            at.and_then(|i| scripted.remove(i)).map(|(_, r)| r)
        };
        match canned {
            Some(response) => Box::pin(async move { Ok(response) }),
            None => self.inner.send(request, timeout),
        }
    }
}

fn binance_error(status: u16, code: i64, msg: &str, retry_after: Option<u64>) -> http::Response<Bytes> {
    let mut b = http::Response::builder().status(status);
    if let Some(s) = retry_after {
        b = b.header("Retry-After", s.to_string());
    }
    b.body(Bytes::from(format!(r#"{{"code":{code},"msg":"{msg}"}}"#))).unwrap_or_default()
}

/// A paper exchange: BTCUSDT at 65,000 on a still market, 100,000 USDT and 1 BTC.
fn exchange(tune: impl FnOnce(PaperConfig) -> PaperConfig) -> PaperExchange {
    let config = tune(
        PaperConfig::default()
            .with_walk(WalkConfig { step_ms: 0, ..WalkConfig::default() })
            .with_price("BTCUSDT", dec!(65000)),
    );
    let now = now();
    let mut paper = PaperExchange::new(config, now);
    paper.add_api_key("warKey", PaperKey::hmac("warSecret"));
    paper.deposit(now, "USDT", dec!(100000));
    paper.deposit(now, "BTC", dec!(1));
    paper
}

fn credentials() -> Credentials {
    // The key and secret are the paper exchange's own: never a real account's.
    Credentials::new("warKey", HmacSha256::new("warSecret")).unwrap_or_else(|_| unreachable!("a valid key"))
}

struct Session {
    client: Client,
    paper: Arc<Mutex<PaperExchange>>,
    recorder: Recorder,
}

async fn session_on(paper: Arc<Mutex<PaperExchange>>, tune: impl FnOnce(&mut ClientConfig)) -> Result<Session, String> {
    let transport = PaperTransport::shared(Arc::clone(&paper), Arc::new(SystemClock));
    let recorder = Recorder::new(Arc::new(transport.clone()));
    let mut config = ClientConfig::new(EngineConfig::new(PaperTransport::environment(), credentials()));
    config.reconnect.initial = Duration::from_millis(20);
    config.start_timeout = Duration::from_secs(5);
    tune(&mut config);
    let client = Client::connect(config, Arc::new(recorder.clone()), Arc::new(transport), Arc::new(SystemClock))
        .await
        .or_fail("connect")?;
    Ok(Session { client, paper, recorder })
}

async fn session(tune: impl FnOnce(&mut ClientConfig)) -> Result<Session, String> {
    session_on(Arc::new(Mutex::new(exchange(|c| c))), tune).await
}

/// Polls until the order's state passes `done` (5 s at most).
async fn wait_order(
    client: &Client,
    id: &ClientOrderId,
    done: impl Fn(OrderState) -> bool,
) -> Result<OrderView, String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let view = client.order(id).await.or_fail("order")?.or_fail("tracked order")?;
        if done(view.state) || tokio::time::Instant::now() >= deadline {
            return Ok(view);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Waits until no order is open or settling (5 s at most), then compares the ledger with the
/// exchange asset by asset.
async fn ledger_matches(s: &Session) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let open = s.client.open_orders().await.or_fail("open orders")?;
        let diff = {
            let ex = lock(&s.paper);
            ex.balances().into_iter().find_map(|(asset, theirs)| {
                let ledger = s.client.ledger();
                let ours = ledger.asset_id(&asset).and_then(|id| ledger.balance(id).ok()).unwrap_or_default();
                (ours != theirs).then(|| format!("{asset}: ledger {ours:?} vs exchange {theirs:?}"))
            })
        };
        match diff {
            None if open.is_empty() => return Ok(()),
            _ if tokio::time::Instant::now() >= deadline => {
                return Err(diff.unwrap_or_else(|| format!("{} orders still open", open.len())));
            }
            _ => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

fn id(text: &str) -> ClientOrderId {
    ClientOrderId::new(text).unwrap_or_else(|_| unreachable!("ids here follow Binance's pattern"))
}

fn btcusdt(info: &ExchangeInfo) -> Result<&SymbolRules, String> {
    info.symbol("BTCUSDT").or_fail("BTCUSDT in the bundled exchangeInfo")
}

fn set_price(paper: &Mutex<PaperExchange>, price: Decimal) {
    lock(paper).set_price(now(), "BTCUSDT", price);
}

// ------------------------------------------------------------------------------------------------
// Forensic accounting

/// A short round trip (sell, then buy back lower) books exactly its fills' PnL.
async fn short_position_pnl() -> Verdict {
    let paper = Arc::new(Mutex::new(exchange(|mut c| {
        c.maker_commission = Decimal::ZERO;
        c.taker_commission = Decimal::ZERO;
        c
    })));
    let s = session_on(Arc::clone(&paper), |_| {}).await?;
    let ledger = s.client.ledger();
    let (usdt, btc) = (ledger.asset_id("USDT").or_fail("USDT")?, ledger.asset_id("BTC").or_fail("BTC")?);
    let total = |a| ledger.balance(a).map(|b| b.free + b.locked).unwrap_or_default();
    let (usdt0, btc0) = (total(usdt), total(btc));
    let sell = id("war-short-open");
    let order = OrderRequest::market("BTCUSDT", Side::Sell, dec!(0.01)).with_client_order_id(sell);
    s.client.place(Intent::new(order)).await.or_fail("sell")?;
    let opened = wait_order(&s.client, &sell, |st| st == OrderState::Filled).await?;
    set_price(&paper, dec!(64000));
    let cover = id("war-short-cover");
    let order = OrderRequest::market("BTCUSDT", Side::Buy, dec!(0.01)).with_client_order_id(cover);
    s.client.place(Intent::new(order).with_price_bound(dec!(66000))).await.or_fail("buy back")?;
    let closed = wait_order(&s.client, &cover, |st| st == OrderState::Filled).await?;
    ledger_matches(&s).await?;
    let pnl = opened.cumulative_quote_qty - closed.cumulative_quote_qty;
    let (usdt_delta, btc_delta) = (total(usdt) - usdt0, total(btc) - btc0);
    let evidence = format!(
        "sold 0.01 for {} USDT, bought back for {} USDT: PnL {pnl} USDT; ledger moved {usdt_delta} USDT, {btc_delta} BTC",
        opened.cumulative_quote_qty, closed.cumulative_quote_qty
    );
    ensure!(opened.state == OrderState::Filled && closed.state == OrderState::Filled, "{evidence}");
    ensure!(usdt_delta == pnl && btc_delta.is_zero() && pnl > Decimal::ZERO, "{evidence}");
    s.client.shutdown().await.or_fail("shutdown")?;
    Ok(evidence)
}

/// `10000 * 0.98 / 65432.5` in Decimal, normalized to a quantity Binance accepts.
async fn float_precision() -> Verdict {
    let info = ExchangeInfo::from_json(BUNDLED_EXCHANGE_INFO).or_fail("exchangeInfo")?;
    let rules = btcusdt(&info)?;
    let raw = dec!(10000) * dec!(0.98) / dec!(65432.5);
    let ctx = MarketContext::default().with_reference_price(dec!(65432.5)).with_open_orders(0);
    let valid =
        rules.normalize(OrderRequest::limit("BTCUSDT", Side::Buy, raw, dec!(65432.5)), &ctx).or_fail("normalize")?;
    let qty = valid.request().quantity().or_fail("quantity")?;
    let wire = valid.request().to_string();
    let step = rules.filters().iter().find_map(|f| match f {
        Filter::LotSize { step_size, .. } => Some(*step_size),
        _ => None,
    });
    let step = step.or_fail("LOT_SIZE")?;
    let evidence = format!("raw {raw} -> quantity {qty} (step {step}); on the wire: {wire}");
    ensure!(qty <= raw && raw - qty < step && (qty % step).is_zero(), "{evidence}");
    ensure!(rules.validate(valid.request(), &ctx).is_ok(), "revalidation failed: {evidence}");
    Ok(evidence)
}

/// 10,000 seeded orders: rounding never enlarges a quantity, moves a price toward the passive
/// side only, lands on the tick and the step, and is idempotent.
async fn rounding_consistency() -> Verdict {
    let info = ExchangeInfo::from_json(BUNDLED_EXCHANGE_INFO).or_fail("exchangeInfo")?;
    let rules = btcusdt(&info)?;
    let (mut tick, mut step) = (Decimal::ZERO, Decimal::ZERO);
    for f in rules.filters() {
        match f {
            Filter::PriceFilter { tick_size, .. } => tick = *tick_size,
            Filter::LotSize { step_size, .. } => step = *step_size,
            _ => {}
        }
    }
    let ctx = MarketContext::default().with_reference_price(dec!(65000)).with_open_orders(0);
    let mut state = 0x5eed_u64;
    let mut next = move || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let (mut accepted, mut refused) = (0, 0);
    for _ in 0..10_000 {
        let qty = Decimal::new(i64::try_from(next() % 50_000_000).unwrap_or(1) + 1, 8); // up to 0.5 BTC, 8 dp
        let price = Decimal::new(6_000_000_000 + i64::try_from(next() % 1_000_000_000).unwrap_or(0), 5); // 60k-70k, 5 dp
        let side = if next() % 2 == 0 { Side::Buy } else { Side::Sell };
        let Ok(valid) = rules.normalize(OrderRequest::limit("BTCUSDT", side.clone(), qty, price), &ctx) else {
            refused += 1;
            continue;
        };
        accepted += 1;
        let (q, p) = (valid.request().quantity().or_fail("qty")?, valid.request().price().or_fail("price")?);
        let passive = if side == Side::Buy { p <= price && price - p < tick } else { p >= price && p - price < tick };
        ensure!(q <= qty && qty - q < step, "quantity {qty} became {q}");
        ensure!(passive, "{side:?} price {price} became {p}");
        ensure!((q % step).is_zero() && (p % tick).is_zero(), "{q} @ {p} off the step/tick");
        let again = rules.normalize(valid.request().clone(), &ctx).or_fail("renormalize")?;
        ensure!(again.request() == valid.request(), "not idempotent: {} vs {}", valid.request(), again.request());
    }
    Ok(format!("{accepted} normalized consistently (tick {tick}, step {step}), {refused} refused by filters"))
}

/// A LIMIT buy larger than the best ask: the executed quantity, the events and the ledger agree.
async fn partial_fill_tracking() -> Verdict {
    let s = session(|_| {}).await?;
    let depth =
        aegis_exchange::rest::Rest::new(PaperTransport::environment()).depth("BTCUSDT", Some(5)).or_fail("depth")?;
    let response = s.recorder.send(depth.request, Duration::from_secs(2)).await.or_fail("depth")?;
    let book: aegis_exchange::rest::DepthSnapshot =
        aegis_exchange::rest::decode(200, response.body(), None, now()).or_fail("depth")?;
    let ask = book.asks.first().or_fail("best ask")?.price;
    let order_id = id("war-partial");
    let order = OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.9), ask).with_client_order_id(order_id);
    s.client.place(Intent::new(order)).await.or_fail("place")?;
    let partly = wait_order(&s.client, &order_id, |st| st != OrderState::PendingNew).await?;
    s.client.cancel(&order_id).await.or_fail("cancel")?;
    let done = wait_order(&s.client, &order_id, |st| st == OrderState::Canceled).await?;
    ledger_matches(&s).await?;
    let evidence = format!(
        "0.9 BTC at {ask}: {:?} with {} executed, then {:?} with {} executed; ledger equals the exchange",
        partly.state, partly.executed_qty, done.state, done.executed_qty
    );
    ensure!(partly.state == OrderState::PartiallyFilled && partly.executed_qty > Decimal::ZERO, "{evidence}");
    ensure!(done.executed_qty == partly.executed_qty && done.executed_qty < dec!(0.9), "{evidence}");
    s.client.shutdown().await.or_fail("shutdown")?;
    Ok(evidence)
}

/// A keep-priority amend racing a fill: the market crosses a resting buy while its amend is on
/// the wire, at several delays. Whatever the interleaving, each order is one exchange order, the
/// client's quantity equals the exchange's once the events are in, and the ledger equals the
/// exchange.
async fn amend_racing_a_fill() -> Verdict {
    let s = session(|_| {}).await?;
    let mut outcomes = Vec::new();
    // A negative delay: the exchange fills before the amend leaves (the client has not seen the
    // fill yet); the amend then asks for less than what executed, and the order ends.
    for (round, delay_ms) in [-1_i64, 0, 2].into_iter().enumerate() {
        set_price(&s.paper, dec!(65000));
        let name = format!("war-amend-race-{round}");
        let order_id = id(&name);
        let order = OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.5), dec!(64990)).with_client_order_id(order_id);
        s.client.place(Intent::new(order)).await.or_fail("place")?;
        if delay_ms < 0 {
            set_price(&s.paper, dec!(64989.99));
        }
        let paper = Arc::clone(&s.paper);
        let fill = tokio::spawn(async move {
            if let Ok(ms) = u64::try_from(delay_ms) {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                set_price(&paper, dec!(64989.99));
            }
        });
        let amended = s.client.amend(&order_id, dec!(0.2)).await.or_fail("amend")?;
        fill.await.or_fail("the fill")?;
        // The fill's events in: the client's view and the exchange's agree.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        let (view, theirs) = loop {
            let view = wait_order(&s.client, &order_id, |st| st != OrderState::PendingNew).await?;
            let theirs = {
                let ex = lock(&s.paper);
                (ex.order_qty("BTCUSDT", &name), ex.order_status("BTCUSDT", &name))
            };
            let agrees = view.qty == theirs.0
                && theirs.1.as_ref().is_some_and(|st| OrderState::from_status(st) == Some(view.state));
            if agrees && view.executed_qty > Decimal::ZERO || tokio::time::Instant::now() >= deadline {
                break (view, theirs);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        let told = match &amended {
            aegis_exchange::client::Amended::Done(v) => format!("amended ({:?})", v.state),
            other => format!("{other:?}"),
        };
        let evidence = format!(
            "fill after {delay_ms} ms: {told}, then {:?} with {} executed, quantity {:?} (exchange {:?} {:?})",
            view.state, view.executed_qty, view.qty, theirs.0, theirs.1
        );
        ensure!(matches!(amended, aegis_exchange::client::Amended::Done(_)), "{evidence}");
        ensure!(view.qty == theirs.0 && view.executed_qty > Decimal::ZERO, "{evidence}");
        ensure!(lock(&s.paper).orders_with_client_id("BTCUSDT", &name) == 1, "{evidence}");
        if !view.state.is_terminal() {
            s.client.cancel(&order_id).await.or_fail("cancel")?;
        }
        outcomes.push(format!("{:?}/{}", view.state, view.executed_qty));
    }
    ledger_matches(&s).await?;
    s.client.shutdown().await.or_fail("shutdown")?;
    Ok(format!(
        "3 races (amend 0.5 -> 0.2 while the price crosses: the fill just before, with, 2 ms after): each amended once, \
         quantities equal the exchange's, outcomes {}; ledger equals the exchange",
        outcomes.join(", ")
    ))
}

// ------------------------------------------------------------------------------------------------
// Chaos engineering

/// Poisoned frames are refused and counted; the stream goes on.
async fn websocket_poisoning() -> Verdict {
    let mut decoder = StreamDecoder::new(SanitizeConfig::default());
    let t = now();
    let trade = |p: &str, q: &str| {
        format!(r#"{{"e":"trade","E":{t},"s":"BTCUSDT","t":1,"p":{p},"q":{q},"T":{t},"m":false,"M":true}}"#)
    };
    let poisoned: Vec<(&str, Vec<u8>)> = vec![
        ("NaN price", trade("\"NaN\"", "\"1\"").into_bytes()),
        ("Infinity", trade("\"Infinity\"", "\"1\"").into_bytes()),
        ("negative quantity", trade("\"65000\"", "\"-1\"").into_bytes()),
        ("exponent", trade("\"6.5e4\"", "\"1\"").into_bytes()),
        ("JSON number for money", trade("65000.1", "\"1\"").into_bytes()),
        ("null price", trade("null", "\"1\"").into_bytes()),
        ("zero price", trade("\"0\"", "\"1\"").into_bytes()),
        ("40-digit price", trade("\"1234567890123456789012345678901234567890\"", "\"1\"").into_bytes()),
        ("truncated JSON", br#"{"e":"trade","E":1,"s":"BTC"#.to_vec()),
        ("not UTF-8", vec![0xff, 0xfe, 0x7b, 0x22]),
        ("deep nesting", "[".repeat(100_000).into_bytes()),
        ("1 MiB of spaces", vec![b' '; 1 << 20]),
    ];
    let mut refused = 0;
    for (what, frame) in &poisoned {
        ensure!(decoder.decode(t, frame).is_err(), "accepted poison: {what}");
        refused += 1;
    }
    ensure!(
        decoder.decode(t, trade("\"65000.10\"", "\"0.5\"").as_bytes()).is_ok(),
        "a good frame after poison refused"
    );
    // The same through a live connection of the paper exchange.
    let paper = Arc::new(Mutex::new(exchange(|c| c)));
    let ws = Arc::new(PaperTransport::shared(Arc::clone(&paper), Arc::new(SystemClock)));
    let mut market = MarketStream::connect(
        ws,
        &PaperTransport::environment(),
        vec!["btcusdt@trade".to_owned()],
        MarketConfig::default(),
        Arc::new(SystemClock),
    );
    let (mut live_refused, mut after) = (0, 0);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while after == 0 {
        match tokio::time::timeout_at(deadline, market.next()).await {
            Ok(Some(MarketItem::Connected { .. })) => {
                let mut ex = lock(&paper);
                let conns = ex.ws_connections();
                for conn in conns {
                    ex.ws_fault(now(), conn, WsFault::Poison);
                }
            }
            Ok(Some(MarketItem::Rejected(_))) => {
                live_refused += 1;
                set_price(&paper, dec!(65001));
            }
            Ok(Some(MarketItem::Message(_))) if live_refused > 0 => after += 1,
            Ok(Some(_)) => {}
            other => return Err(format!("the stream stalled: {other:?} ({live_refused} refused)")),
        }
    }
    let stats = decoder.stats();
    market.close().await;
    Ok(format!(
        "{refused} poisoned frames refused ({} malformed, {} poisoned counted), the next good frame accepted; live: {live_refused} refused, the stream went on",
        stats.malformed(),
        stats.poisoned_total()
    ))
}

/// 503 after execution, 429 (-1003 with Retry-After), 418: no crash, no endless retry, no
/// duplicate, requests held while Binance asks.
async fn api_errors() -> Verdict {
    let s = session(|_| {}).await?;
    // 503 after the exchange executed: the order is queried, never re-sent.
    lock(&s.paper).inject(Fault::ServerErrorAfterExecute(503));
    let first = id("war-503");
    let order = OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.01), dec!(60000)).with_client_order_id(first);
    s.client.place(Intent::new(order)).await.or_fail("place")?;
    let v = wait_order(&s.client, &first, |st| st == OrderState::New).await?;
    let copies = lock(&s.paper).orders_with_client_id("BTCUSDT", "war-503");
    ensure!(v.state == OrderState::New && copies == 1, "503: state {:?}, {copies} orders on the exchange", v.state);
    // 429 -1003 with Retry-After: 2: the order is refused as not processed; nothing goes out
    // for 2 s.
    s.recorder.script(
        "/api/v3/order",
        binance_error(429, -1003, "Too many requests; current limit of IP is 6000 requests per minute.", Some(2)),
    );
    let limited = id("war-429");
    let order = OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.01), dec!(60000)).with_client_order_id(limited);
    let at_429 = now();
    s.client.place(Intent::new(order)).await.or_fail("place")?;
    let v = wait_order(&s.client, &limited, |st| st.is_terminal()).await?;
    let after = id("war-after-429");
    let order = OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.01), dec!(60000)).with_client_order_id(after);
    s.client.place(Intent::new(order)).await.or_fail("place after 429")?;
    let resumed = wait_order(&s.client, &after, |st| st == OrderState::New).await?;
    let sent = s.recorder.sent();
    let held: Vec<&Sent> = sent.iter().filter(|r| r.at > at_429 + 50 && r.at < at_429 + 1900).collect();
    let posts = sent.iter().filter(|r| r.method == "POST" && r.path == "/api/v3/order").count();
    ensure!(v.state.is_terminal() && resumed.state == OrderState::New, "429: {:?} then {:?}", v.state, resumed.state);
    ensure!(held.is_empty(), "429: {} requests went out during Retry-After: {held:?}", held.len());
    ensure!(posts == 3, "429: {posts} order POSTs (want 3: one each, no retry)");
    // 418: the kill switch trips; the client does not hammer.
    lock(&s.paper).ban(now(), 60_000);
    let banned = id("war-418");
    let order = OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.01), dec!(60000)).with_client_order_id(banned);
    s.client.place(Intent::new(order)).await.or_fail("place")?;
    wait_order(&s.client, &banned, |st| st.is_terminal()).await?;
    let before = s.recorder.sent().len();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stats = s.client.stats().await.or_fail("stats")?;
    let extra = s.recorder.sent().len() - before;
    ensure!(matches!(stats.kill_switch, Some(KillReason::Banned { .. })), "418: kill switch {:?}", stats.kill_switch);
    ensure!(extra == 0, "418: {extra} requests after the ban");
    s.client.shutdown().await.or_fail("shutdown")?;
    Ok(format!(
        "503 -> queried, 1 order; 429 -> no request for the 2 s asked, {posts} POSTs in all; 418 -> kill switch {:?}, 0 requests after",
        stats.kill_switch.map(|_| "Banned")
    ))
}

/// A lost answer and a reused id: exactly one order reaches the exchange.
async fn double_order_prevention() -> Verdict {
    let s = session(|_| {}).await?;
    lock(&s.paper).inject(Fault::DropResponse);
    let once = id("war-once");
    let order = OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.01), dec!(60000)).with_client_order_id(once);
    s.client.place(Intent::new(order.clone())).await.or_fail("place")?;
    let again = s.client.place(Intent::new(order)).await;
    let v = wait_order(&s.client, &once, |st| st == OrderState::New).await?;
    let copies = lock(&s.paper).orders_with_client_id("BTCUSDT", "war-once");
    let posts = s.recorder.sent().iter().filter(|r| r.method == "POST" && r.path == "/api/v3/order").count();
    let evidence = format!(
        "answer lost -> {:?} via a query; the same id again: {again:?}; {copies} on the exchange, {posts} POST",
        v.state
    );
    ensure!(v.state == OrderState::New && copies == 1 && posts == 1 && again.is_err(), "{evidence}");
    s.client.shutdown().await.or_fail("shutdown")?;
    Ok(evidence)
}

// ------------------------------------------------------------------------------------------------
// Concurrency race

/// 5 threads × 100 debits of 1 from 1000: exactly 500 left.
async fn state_mutation_atomicity() -> Verdict {
    let ledger = Arc::new(Ledger::new());
    let usdt = ledger.asset("USDT").or_fail("asset")?;
    ledger.credit(usdt, dec!(1000)).or_fail("credit")?;
    let failures = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..5)
            .map(|_| {
                let ledger = Arc::clone(&ledger);
                scope.spawn(move || (0..100).filter(|_| ledger.debit(usdt, Decimal::ONE).is_err()).count())
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or(usize::MAX)).sum::<usize>()
    });
    let left = ledger.balance(usdt).or_fail("balance")?;
    ensure!(failures == 0 && left.free == dec!(500) && left.locked.is_zero(), "{failures} failures, left {left:?}");
    Ok(format!("5 threads x 100 debits of 1 from 1000: {} left, 0 lost updates", left.free))
}

// ------------------------------------------------------------------------------------------------
// Memory and resources

/// A history of 5000 keeps the newest 5000 of 20,000.
async fn bounded_history() -> Verdict {
    let mut history = History::<u64>::with_capacity(5000);
    let mut evicted = 0;
    for i in 0..20_000u64 {
        if history.push(i).is_some() {
            evicted += 1;
        }
    }
    let (len, oldest) = (history.len(), history.oldest().copied());
    ensure!(
        len == 5000 && oldest == Some(15_000) && evicted == 15_000,
        "len {len}, oldest {oldest:?}, evicted {evicted}"
    );
    Ok(format!("20,000 pushed: {len} kept, oldest #{}, {evicted} evicted", oldest.unwrap_or_default()))
}

fn open_fds() -> Option<usize> {
    std::fs::read_dir("/proc/self/fd").ok().map(Iterator::count)
}

/// 20 client sessions over real sockets: descriptors come back.
async fn resources_released() -> Verdict {
    let Some(start) = open_fds() else { return Ok("no /proc/self/fd here: skipped".to_owned()) };
    let mut peak = start;
    for round in 0..20 {
        let server = PaperServer::start(exchange(|c| c)).await.or_fail("server")?;
        let env = aegis_exchange::rest::Environment::Custom {
            rest: server.http_url(),
            ws_api: format!("{}/ws-api/v3", server.ws_url()),
            streams: server.ws_url(),
        };
        let config = ClientConfig::new(EngineConfig::new(env, credentials()));
        let http: Arc<dyn HttpTransport> = Arc::new(ReqwestTransport::new().or_fail("reqwest")?);
        let ws: Arc<dyn WsTransport> = Arc::new(TungsteniteTransport::new().or_fail("tungstenite")?);
        let client = Client::connect(config, http, ws, Arc::new(SystemClock)).await.or_fail("connect")?;
        let order_id = id(&format!("war-res-{round}"));
        let order = OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.01), dec!(60000)).with_client_order_id(order_id);
        client.place(Intent::new(order)).await.or_fail("place")?;
        wait_order(&client, &order_id, |st| st == OrderState::New).await?;
        peak = peak.max(open_fds().unwrap_or(0));
        client.shutdown().await.or_fail("shutdown")?;
        server.shutdown().await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let end = open_fds().unwrap_or(usize::MAX);
    ensure!(end <= start + 2, "descriptors {start} -> {end} (peak {peak})");
    Ok(format!("20 sessions over loopback sockets: descriptors {start} before, {end} after (peak {peak})"))
}

/// A silent exchange: start-up gives up at its timeout instead of hanging; a live one starts fast.
async fn startup_without_hang() -> Verdict {
    struct Silent;
    impl HttpTransport for Silent {
        fn send(
            &self,
            _: http::Request<Bytes>,
            timeout: Duration,
        ) -> BoxFuture<'static, Result<http::Response<Bytes>, TransportError>> {
            Box::pin(async move {
                tokio::time::sleep(timeout).await;
                Err(TransportError::Unanswered("silence".to_owned()))
            })
        }
    }
    let paper = PaperTransport::new(exchange(|c| c), Arc::new(SystemClock));
    let mut config = ClientConfig::new(EngineConfig::new(PaperTransport::environment(), credentials()));
    config.start_timeout = Duration::from_secs(1);
    let started = tokio::time::Instant::now();
    let result = tokio::time::timeout(
        Duration::from_secs(5),
        Client::connect(config, Arc::new(Silent), Arc::new(paper), Arc::new(SystemClock)),
    )
    .await;
    let gave_up = started.elapsed();
    let timed_out = matches!(result, Ok(Err(ClientError::StartTimeout(..))));
    ensure!(timed_out, "start-up against silence: {:?} after {gave_up:?}", result.map(|r| r.map(|_| ())));
    let started = tokio::time::Instant::now();
    let s = session(|_| {}).await?;
    let took = started.elapsed();
    s.client.shutdown().await.or_fail("shutdown")?;
    ensure!(took < Duration::from_secs(3), "a live start took {took:?}");
    Ok(format!(
        "silent exchange: StartTimeout after {} ms (limit 1000); live start in {} ms",
        gave_up.as_millis(),
        took.as_millis()
    ))
}

// ------------------------------------------------------------------------------------------------
// API compliance

/// Weight headers raise the local count; the limiter holds requests near the limit; an
/// unreadable header is counted and ignored.
async fn rate_limit_headers() -> Verdict {
    let limiter = RateLimiter::with_defaults();
    let t = 1_700_000_000_000 + 10_000;
    let mut headers = http::HeaderMap::new();
    headers.insert("x-mbx-used-weight-1m", http::HeaderValue::from_static("5950"));
    headers.insert("X-MBX-ORDER-COUNT-10S", http::HeaderValue::from_static("zzz"));
    limiter.observe(200, &headers, b"{}", t);
    let heavy = limiter.admit(Cost { weight: 100, orders: 0, cancel: false }, t + 1);
    let metrics = limiter.metrics(t + 1);
    let used = metrics.windows.iter().map(|w| w.used).max().unwrap_or(0);
    ensure!(matches!(heavy, Admit::Wait { .. }), "5950 of 6000 used, a weight-100 request: {heavy:?}");
    ensure!(metrics.ignored_headers == 1, "ignored headers {}", metrics.ignored_headers);
    let next_minute = limiter.admit(Cost { weight: 100, orders: 0, cancel: false }, t + 60_000);
    ensure!(next_minute == Admit::Proceed, "next window: {next_minute:?}");
    // The paper exchange's own headers through the client: the count follows the exchange.
    let s = session(|_| {}).await?;
    let response = PaperTransport::shared(Arc::clone(&s.paper), Arc::new(SystemClock))
        .send(
            aegis_exchange::rest::Rest::new(PaperTransport::environment()).ping().or_fail("ping")?.request,
            Duration::from_secs(2),
        )
        .await
        .or_fail("ping")?;
    let header = response.headers().get("x-mbx-used-weight-1m").and_then(|v| v.to_str().ok()).map(str::to_owned);
    s.client.shutdown().await.or_fail("shutdown")?;
    ensure!(header.is_some(), "no X-MBX-USED-WEIGHT-1M from the exchange");
    Ok(format!(
        "header 5950 read (max window use {used}), a weight-100 request waits; the next minute proceeds; 1 unreadable header ignored; the exchange reports X-MBX-USED-WEIGHT-1M: {}",
        header.unwrap_or_default()
    ))
}

/// Every signed request of a session carries timestamp and recvWindow, signature last.
async fn recv_window_everywhere() -> Verdict {
    let s = session(|_| {}).await?;
    let order_id = id("war-recv");
    let order = OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.01), dec!(60000)).with_client_order_id(order_id);
    s.client.place(Intent::new(order)).await.or_fail("place")?;
    wait_order(&s.client, &order_id, |st| st == OrderState::New).await?;
    s.client.cancel(&order_id).await.or_fail("cancel")?;
    wait_order(&s.client, &order_id, |st| st == OrderState::Canceled).await?;
    s.client.reconcile().await.or_fail("reconcile")?;
    tokio::time::sleep(Duration::from_millis(100)).await;
    s.client.shutdown().await.or_fail("shutdown")?;
    let sent = s.recorder.sent();
    let signed: Vec<&Sent> = sent.iter().filter(|r| r.payload.contains("signature=")).collect();
    for r in &signed {
        let names: Vec<&str> = r.payload.split('&').filter_map(|kv| kv.split('=').next()).collect();
        ensure!(
            names.contains(&"recvWindow") && names.contains(&"timestamp"),
            "{} {} lacks recvWindow/timestamp",
            r.method,
            r.path
        );
        ensure!(names.last() == Some(&"signature"), "{} {}: signature not last", r.method, r.path);
    }
    let mut paths: Vec<String> = signed.iter().map(|r| format!("{} {}", r.method, r.path)).collect();
    paths.sort();
    paths.dedup();
    ensure!(signed.len() >= 5, "only {} signed requests seen", signed.len());
    Ok(format!(
        "{} signed requests of {} sent, all with timestamp and recvWindow, signature last: {}",
        signed.len(),
        sent.len(),
        paths.join(", ")
    ))
}

/// Dust and a negative quantity are refused with Binance's names, and never sent.
async fn order_validation() -> Verdict {
    let s = session(|_| {}).await?;
    let before = s.recorder.sent().len();
    let dust = s.client.place(Intent::new(OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.00001), dec!(65000)))).await;
    let negative = s.client.place(Intent::new(OrderRequest::limit("BTCUSDT", Side::Buy, dec!(-1), dec!(65000)))).await;
    let sent = s.recorder.sent().len() - before;
    s.client.shutdown().await.or_fail("shutdown")?;
    let name = |r: &Result<aegis_exchange::client::Placed, ClientError>| match r {
        Err(ClientError::Submit(SubmitError::Filter(f))) => Some((f.filter_type().to_owned(), f.code())),
        _ => None,
    };
    let (d, n) = (name(&dust), name(&negative));
    ensure!(d.as_ref().is_some_and(|(f, c)| f == "NOTIONAL" && *c == -1013), "dust: {dust:?}");
    ensure!(n.as_ref().is_some_and(|(_, c)| *c == -1100), "negative: {negative:?}");
    ensure!(sent == 0, "{sent} requests sent for refused orders");
    Ok(format!("0.00001 BTC @ 65000 -> {d:?}; -1 BTC -> {n:?}; 0 requests sent"))
}

/// Binance's documented HMAC example and RFC 8032's first Ed25519 vector.
async fn signature_vectors() -> Verdict {
    // From Binance's REST documentation (SIGNED endpoint examples).
    let hmac = HmacSha256::new("NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j");
    let payload = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559";
    let got = hmac.sign(payload.as_bytes()).to_string();
    let want = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71";
    ensure!(got == want, "HMAC: {got} != {want}");
    // RFC 8032 §7.1 TEST 1 (empty message).
    let seed = hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60").or_fail("hex")?;
    let ed = Ed25519::from_seed(&seed).or_fail("seed")?;
    let sig = ed.sign(b"").to_string();
    let want_ed = hex::decode(
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    )
    .or_fail("hex")?;
    let got_ed = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &sig).or_fail("base64")?;
    ensure!(got_ed == want_ed, "Ed25519: {sig}");
    Ok(format!("HMAC-SHA256 {got} (Binance's example); Ed25519 RFC 8032 TEST 1 matches ({sig})"))
}

// ------------------------------------------------------------------------------------------------
// Beyond the seed

/// The answer comes after the client's timeout: the order is queried, exactly one exists.
async fn timeout_unknown_no_duplicate() -> Verdict {
    let s = session(|c| {
        c.engine.request_timeout_ms = 300;
        // The user-data stream stays down a while, so only a query can settle the order.
        c.reconnect.initial = Duration::from_secs(4);
    })
    .await?;
    {
        let mut ex = lock(&s.paper);
        for conn in ex.ws_connections() {
            ex.ws_fault(now(), conn, WsFault::Disconnect);
        }
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while s.client.stats().await.or_fail("stats")?.connected && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    lock(&s.paper).inject(Fault::Latency(1500));
    let slow = id("war-timeout");
    let order = OrderRequest::market("BTCUSDT", Side::Buy, dec!(0.01)).with_client_order_id(slow);
    s.client.place(Intent::new(order).with_price_bound(dec!(70000))).await.or_fail("place")?;
    let mut states = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while tokio::time::Instant::now() < deadline {
        let st = s.client.order(&slow).await.or_fail("order")?.or_fail("tracked")?.state;
        if states.last() != Some(&st) {
            states.push(st);
        }
        if st == OrderState::Filled {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    ledger_matches(&s).await?;
    let copies = lock(&s.paper).orders_with_client_id("BTCUSDT", "war-timeout");
    let posts = s.recorder.sent().iter().filter(|r| r.method == "POST" && r.path == "/api/v3/order").count();
    let queries = s.recorder.sent().iter().filter(|r| r.method == "GET" && r.path == "/api/v3/order").count();
    s.client.shutdown().await.or_fail("shutdown")?;
    let evidence = format!(
        "states {states:?}; {posts} POST, {queries} queries, {copies} order on the exchange; ledger equals the exchange"
    );
    ensure!(states.contains(&OrderState::Unknown) && states.last() == Some(&OrderState::Filled), "{evidence}");
    ensure!(copies == 1 && posts == 1 && queries >= 1, "{evidence}");
    Ok(evidence)
}

/// An order list (an OTOCO: buy, then take profit or stop out) whose answer is lost after the
/// exchange placed it: never sent again; resolved by one query of the list by its
/// `listClientOrderId` (the working order `New`, the pending pair waiting for it), not order by
/// order; the working order then fills, the pair goes on the book and locks once; the ledger
/// equals the exchange.
async fn list_answer_lost() -> Verdict {
    let s = session(|c| {
        c.engine.request_timeout_ms = 300;
        // The user-data stream stays down a while, so only queries can settle the list.
        c.reconnect.initial = Duration::from_secs(2);
    })
    .await?;
    set_price(&s.paper, dec!(65000));
    {
        let mut ex = lock(&s.paper);
        for conn in ex.ws_connections() {
            ex.ws_fault(now(), conn, WsFault::Disconnect);
        }
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while s.client.stats().await.or_fail("stats")?.connected && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let entry = aegis_exchange::OtoRequest::otoco(
        "BTCUSDT",
        Side::Buy,
        dec!(0.002),
        aegis_exchange::ListLeg::limit(dec!(64990), aegis_exchange::TimeInForce::Gtc)
            .with_client_order_id(id("war-list-w")),
        Side::Sell,
        dec!(0.002),
        aegis_exchange::ListLeg::limit_maker(dec!(70000)).with_client_order_id(id("war-list-tp")),
        aegis_exchange::ListLeg::stop_loss(dec!(60000)).with_client_order_id(id("war-list-sl")),
    )
    .with_list_client_order_id(id("war-list"));
    lock(&s.paper).inject(Fault::DropResponse);
    let context = MarketContext::default().with_last_price(dec!(65000));
    let placed = s.client.place_list(entry, &context).await.or_fail("place_list")?;
    let first: Vec<OrderState> = placed.legs.iter().map(|l| l.state).collect();
    let working = wait_order(&s.client, &id("war-list-w"), |st| st == OrderState::New).await?;
    let mut pending = Vec::new();
    for leg in ["war-list-tp", "war-list-sl"] {
        pending.push(wait_order(&s.client, &id(leg), |st| st == OrderState::AwaitingTrigger).await?.state);
    }
    let queries = s.recorder.sent().iter().filter(|r| r.method == "GET" && r.path == "/api/v3/orderList").count();
    let leg_queries = s.recorder.sent().iter().filter(|r| r.method == "GET" && r.path == "/api/v3/order").count();
    // The market falls through the entry (the book near the price is thin: in steps).
    let mut price = dec!(64989.99);
    let filled = loop {
        set_price(&s.paper, price);
        let view = wait_order(&s.client, &id("war-list-w"), |st| st == OrderState::Filled).await?;
        if view.state == OrderState::Filled || price < dec!(64500) {
            break view;
        }
        price -= dec!(10);
    };
    let mut placed_pair = Vec::new();
    for leg in ["war-list-tp", "war-list-sl"] {
        placed_pair.push(wait_order(&s.client, &id(leg), |st| st == OrderState::New).await?.state);
    }
    let locked_btc = s.client.ledger().balance_of("BTC").map(|b| b.locked).unwrap_or_default();
    let exchange_locked = lock(&s.paper).balance("BTC").locked;
    let posts = s.recorder.sent().iter().filter(|r| r.method == "POST" && r.path == "/api/v3/orderList/otoco").count();
    let copies: Vec<usize> = ["war-list-w", "war-list-tp", "war-list-sl"]
        .iter()
        .map(|leg| lock(&s.paper).orders_with_client_id("BTCUSDT", leg))
        .collect();
    s.client.cancel(&id("war-list-tp")).await.or_fail("cancel")?;
    let canceled = wait_order(&s.client, &id("war-list-sl"), |st| st == OrderState::Canceled).await?;
    ledger_matches(&s).await?;
    s.client.shutdown().await.or_fail("shutdown")?;
    let evidence = format!(
        "answer lost: {first:?}; resolved by {queries} list queries ({leg_queries} order queries) to working {:?}, pending {pending:?}; working {:?}, \
         then the pair {placed_pair:?} locking {locked_btc} BTC once (exchange {exchange_locked}); {posts} POST, copies on the exchange {copies:?}; \
         one leg canceled: the other {:?}; ledger equals the exchange",
        working.state, filled.state, canceled.state
    );
    ensure!(first.iter().all(|st| *st == OrderState::Unknown), "{evidence}");
    ensure!(
        working.state == OrderState::New && pending.iter().all(|st| *st == OrderState::AwaitingTrigger),
        "{evidence}"
    );
    ensure!(filled.state == OrderState::Filled && placed_pair.iter().all(|st| *st == OrderState::New), "{evidence}");
    ensure!(
        locked_btc == dec!(0.002)
            && exchange_locked == locked_btc
            && posts == 1
            && queries >= 1
            && leg_queries == 0
            && copies == [1, 1, 1],
        "{evidence}"
    );
    ensure!(canceled.state == OrderState::Canceled, "{evidence}");
    Ok(evidence)
}

/// A 418: nothing is sent until the ban ends; after it, trading resumes.
async fn ban_halts_until_it_ends() -> Verdict {
    let s = session(|_| {}).await?;
    let ban_ms = 1500;
    lock(&s.paper).ban(now(), ban_ms);
    let banned_at = now();
    let first = id("war-ban");
    let order = OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.01), dec!(60000)).with_client_order_id(first);
    s.client.place(Intent::new(order.clone())).await.or_fail("place")?;
    wait_order(&s.client, &first, |st| st.is_terminal()).await?;
    let stats = s.client.stats().await.or_fail("stats")?;
    let until = match &stats.kill_switch {
        Some(KillReason::Banned { until_ms }) => *until_ms,
        other => return Err(format!("kill switch {other:?}")),
    };
    let refused = s.client.place(Intent::new(OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.01), dec!(60000)))).await;
    let sent_at_418 = s.recorder.sent().len();
    tokio::time::sleep(Duration::from_millis(u64::try_from((until - now()).max(0)).unwrap_or(0) + 100)).await;
    let during = s.recorder.sent().iter().skip(sent_at_418).filter(|r| r.at < until).count();
    s.client.reset_kill_switch().await.or_fail("reset")?;
    let after = id("war-after-ban");
    let order = OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.01), dec!(60000)).with_client_order_id(after);
    s.client.place(Intent::new(order)).await.or_fail("place after the ban")?;
    let v = wait_order(&s.client, &after, |st| st == OrderState::New).await?;
    s.client.shutdown().await.or_fail("shutdown")?;
    let evidence = format!(
        "banned for {ban_ms} ms at {banned_at}: kill switch until {until}, new orders refused ({}), {during} requests before the end; afterwards {:?}",
        refused.is_err(),
        v.state
    );
    ensure!(
        refused.is_err() && during == 0 && v.state == OrderState::New && until >= banned_at + ban_ms - 50,
        "{evidence}"
    );
    Ok(evidence)
}

/// The market connection drops: it comes back with the same streams and the book resyncs.
async fn ws_drop_book_resync() -> Verdict {
    let paper = Arc::new(Mutex::new(exchange(|c| c.with_walk(WalkConfig { step_ms: 20, ..WalkConfig::default() }))));
    let transport = PaperTransport::shared(Arc::clone(&paper), Arc::new(SystemClock));
    let mut config = MarketConfig::default();
    config.reconnect.initial = Duration::from_millis(20);
    let mut market = MarketStream::connect(
        Arc::new(transport.clone()),
        &PaperTransport::environment(),
        vec!["btcusdt@depth@100ms".to_owned()],
        config,
        Arc::new(SystemClock),
    );
    let rest = aegis_exchange::rest::Rest::new(PaperTransport::environment());
    let mut sync = BookSync::new(1000, 10_000);
    let (mut snapshots, mut applied_after, mut connections, mut dropped) = (0, 0, 0, false);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while applied_after < 5 {
        let item =
            tokio::time::timeout_at(deadline, market.next()).await.or_fail("stream stalled")?.or_fail("stream")?;
        match item {
            MarketItem::Connected { .. } => {
                connections += 1;
                sync = BookSync::new(1000, 10_000);
            }
            MarketItem::Message(m) => {
                let aegis_exchange::stream::MarketEvent::DepthUpdate(diff) = m.event else { continue };
                let applied = sync.on_diff(diff).map(|a| a.is_some()).unwrap_or(false);
                if sync.needs_snapshot() {
                    let response = transport
                        .send(rest.depth("BTCUSDT", Some(1000)).or_fail("depth")?.request, Duration::from_secs(2))
                        .await
                        .or_fail("depth")?;
                    let snapshot =
                        aegis_exchange::rest::decode(200, response.body(), None, now()).or_fail("snapshot")?;
                    if sync.on_snapshot(&snapshot).is_ok() {
                        snapshots += 1;
                    }
                } else if applied && connections == 1 && snapshots >= 1 && !dropped {
                    dropped = true;
                    let mut ex = lock(&paper);
                    for conn in ex.ws_connections() {
                        ex.ws_fault(now(), conn, WsFault::Disconnect);
                    }
                } else if applied && connections == 2 && sync.book().is_some() {
                    applied_after += 1;
                }
            }
            _ => {}
        }
    }
    let stats = market.stats();
    let top = sync.book().map(|b| (b.best_bid(), b.best_ask()));
    market.close().await;
    ensure!(stats.reconnects == 1 && snapshots >= 2, "reconnects {}, snapshots {snapshots}", stats.reconnects);
    Ok(format!(
        "dropped after sync; reconnected ({} reconnect), book resynced from a new snapshot ({snapshots} in all), {applied_after} diffs applied after; top {top:?}",
        stats.reconnects
    ))
}

/// The kill switch cancels everything open and nothing new goes out.
async fn kill_switch() -> Verdict {
    let s = session(|_| {}).await?;
    let ids: Vec<ClientOrderId> = (0..3).map(|i| id(&format!("war-kill-{i}"))).collect();
    for (i, order_id) in ids.iter().enumerate() {
        let price = dec!(60000) + Decimal::from(i);
        let order = OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.01), price).with_client_order_id(*order_id);
        s.client.place(Intent::new(order)).await.or_fail("place")?;
        wait_order(&s.client, order_id, |st| st == OrderState::New).await?;
    }
    s.client.kill("war games drill").await.or_fail("kill")?;
    let killed_at = s.recorder.sent().len();
    for order_id in &ids {
        wait_order(&s.client, order_id, |st| st == OrderState::Canceled).await?;
    }
    let refused = s.client.place(Intent::new(OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.01), dec!(60000)))).await;
    let statuses: Vec<Option<OrderStatus>> = {
        let ex = lock(&s.paper);
        ids.iter().map(|i| ex.order_status("BTCUSDT", i.as_str())).collect()
    };
    let new_posts = s.recorder.sent().iter().skip(killed_at).filter(|r| r.method == "POST").count();
    ledger_matches(&s).await?;
    s.client.shutdown().await.or_fail("shutdown")?;
    let evidence = format!(
        "3 resting orders -> exchange says {statuses:?}; a new order: {}; {new_posts} POSTs after the kill",
        if refused.is_err() { "refused" } else { "ACCEPTED" }
    );
    ensure!(statuses.iter().all(|s| *s == Some(OrderStatus::Canceled)), "{evidence}");
    ensure!(matches!(refused, Err(ClientError::Submit(SubmitError::Killed(_)))) && new_posts == 0, "{evidence}");
    Ok(evidence)
}

/// A restart: the new client adopts what the old one left open, with its reservations.
async fn reconciliation_after_restart() -> Verdict {
    let paper = Arc::new(Mutex::new(exchange(|c| c)));
    set_price(&paper, dec!(65000));
    let first = session_on(Arc::clone(&paper), |c| c.on_shutdown = OnShutdown::KeepOrders).await?;
    for (i, price) in [dec!(60000), dec!(61000)].into_iter().enumerate() {
        let order_id = id(&format!("war-restart-{i}"));
        let order = OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.01), price).with_client_order_id(order_id);
        first.client.place(Intent::new(order)).await.or_fail("place")?;
        wait_order(&first.client, &order_id, |st| st == OrderState::New).await?;
    }
    // Lists left open too: an OCO exit (one lock for both legs) and an OTOCO entry (the working
    // buy locks, its pending pair nothing yet).
    let context = MarketContext::default().with_last_price(dec!(65000));
    let exit = aegis_exchange::OcoRequest::new(
        "BTCUSDT",
        Side::Sell,
        dec!(0.02),
        aegis_exchange::ListLeg::limit_maker(dec!(70000)),
        aegis_exchange::ListLeg::stop_loss_limit(dec!(59990), dec!(60000), aegis_exchange::TimeInForce::Gtc),
    );
    first.client.place_list(exit, &context).await.or_fail("place the OCO")?;
    let entry = aegis_exchange::OtoRequest::otoco(
        "BTCUSDT",
        Side::Buy,
        dec!(0.01),
        aegis_exchange::ListLeg::limit(dec!(62000), aegis_exchange::TimeInForce::Gtc),
        Side::Sell,
        dec!(0.01),
        aegis_exchange::ListLeg::limit_maker(dec!(70000)),
        aegis_exchange::ListLeg::stop_loss(dec!(58000)),
    );
    first.client.place_list(entry, &context).await.or_fail("place the OTOCO")?;
    let report = first.client.shutdown().await.or_fail("shutdown")?;
    let second = session_on(Arc::clone(&paper), |_| {}).await?;
    let adopted = second.client.open_orders().await.or_fail("open orders")?;
    let locked = |asset: &str| {
        second
            .client
            .ledger()
            .asset_id(asset)
            .and_then(|a| second.client.ledger().balance(a).ok())
            .unwrap_or_default()
            .locked
    };
    let (usdt, btc) = (locked("USDT"), locked("BTC"));
    let (exchange_usdt, exchange_btc) = {
        let ex = lock(&paper);
        (ex.balance("USDT").locked, ex.balance("BTC").locked)
    };
    let waiting = adopted.iter().filter(|(_, v)| v.state == OrderState::AwaitingTrigger).count();
    second.client.cancel_all("BTCUSDT").await.or_fail("cancel all")?;
    ledger_matches(&second).await?;
    second.client.shutdown().await.or_fail("shutdown")?;
    let evidence = format!(
        "left open {}; adopted {} ({waiting} awaiting their trigger); locked USDT ledger {usdt} vs exchange {exchange_usdt}, \
         BTC ledger {btc} vs exchange {exchange_btc}; canceled after, ledger equals the exchange",
        report.left_open.len(),
        adopted.len(),
    );
    ensure!(report.left_open.len() == 7 && adopted.len() == 7 && waiting == 2, "{evidence}");
    ensure!(usdt == exchange_usdt && usdt == dec!(1830) && btc == exchange_btc && btc == dec!(0.02), "{evidence}");
    Ok(evidence)
}

// ------------------------------------------------------------------------------------------------
// The audit

const SCENARIOS: &[(&str, &str, Run)] = &[
    ("Forensic accounting", "Short-position PnL", || Box::pin(short_position_pnl())),
    ("Forensic accounting", "Float precision (10000 * 0.98 / 65432.5)", || Box::pin(float_precision())),
    ("Forensic accounting", "Rounding consistency", || Box::pin(rounding_consistency())),
    ("Forensic accounting", "Partial fill tracking", || Box::pin(partial_fill_tracking())),
    ("Forensic accounting", "Amend racing a fill", || Box::pin(amend_racing_a_fill())),
    ("Chaos engineering", "WebSocket data poisoning", || Box::pin(websocket_poisoning())),
    ("Chaos engineering", "API errors 418 / 429 / 503 / -1003", || Box::pin(api_errors())),
    ("Chaos engineering", "Double-order prevention", || Box::pin(double_order_prevention())),
    ("Chaos engineering", "Timeout with unknown outcome: no duplicate", || Box::pin(timeout_unknown_no_duplicate())),
    ("Chaos engineering", "Order list whose answer is lost", || Box::pin(list_answer_lost())),
    ("Chaos engineering", "418: halt until the ban ends", || Box::pin(ban_halts_until_it_ends())),
    ("Chaos engineering", "WebSocket drop: reconnect and book resync", || Box::pin(ws_drop_book_resync())),
    ("Concurrency race", "State-mutation atomicity (5 x 100 from 1000)", || Box::pin(state_mutation_atomicity())),
    ("Concurrency race", "Kill switch: cancels out, no new orders", || Box::pin(kill_switch())),
    ("Memory and resources", "Bounded history (5000)", || Box::pin(bounded_history())),
    ("Memory and resources", "Resources released", || Box::pin(resources_released())),
    ("Memory and resources", "Start-up without hang", || Box::pin(startup_without_hang())),
    ("Memory and resources", "Reconciliation after restart", || Box::pin(reconciliation_after_restart())),
    ("API compliance", "Rate-limit header parsing and throttling", || Box::pin(rate_limit_headers())),
    ("API compliance", "recvWindow on every signed request", || Box::pin(recv_window_everywhere())),
    ("API compliance", "Order validation (minimum notional, negative quantity)", || Box::pin(order_validation())),
    ("API compliance", "Signature correctness (Binance's vector)", || Box::pin(signature_vectors())),
];

struct Row {
    dimension: &'static str,
    name: &'static str,
    pass: bool,
    evidence: String,
    ms: u128,
}

fn render(rows: &[Row]) -> String {
    let mut out = String::from("# aegis-exchange: combat-readiness audit (war games)\n\n");
    let passed = rows.iter().filter(|r| r.pass).count();
    out.push_str("## Summary\n\n| Dimension | Scenarios | Passed | Failed |\n| --- | ---: | ---: | ---: |\n");
    let mut dimensions: Vec<&str> = rows.iter().map(|r| r.dimension).collect();
    dimensions.dedup();
    for d in &dimensions {
        let of: Vec<&Row> = rows.iter().filter(|r| r.dimension == *d).collect();
        let ok = of.iter().filter(|r| r.pass).count();
        out.push_str(&format!("| {d} | {} | {ok} | {} |\n", of.len(), of.len() - ok));
    }
    out.push_str(&format!("| **Total** | **{}** | **{passed}** | **{}** |\n", rows.len(), rows.len() - passed));
    for d in &dimensions {
        out.push_str(&format!("\n## {d}\n\n"));
        for r in rows.iter().filter(|r| r.dimension == *d) {
            let verdict = if r.pass { "PASS" } else { "FAIL" };
            out.push_str(&format!("- **{verdict}** {} ({} ms)  \n  {}\n", r.name, r.ms, r.evidence.replace('\n', " ")));
        }
    }
    let score = if rows.is_empty() { 0 } else { passed * 100 / rows.len() };
    out.push_str(&format!(
        "\n## Overall score\n\n**{passed} / {} scenarios passed ({score}%)**: {}\n",
        rows.len(),
        if passed == rows.len() { "combat ready" } else { "NOT combat ready" }
    ));
    out
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Error> {
    common::init_tracing();
    let mut report_path = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--report" => report_path = Some(args.next().ok_or("--report needs a path")?),
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let mut rows = Vec::new();
    for (dimension, name, run) in SCENARIOS {
        let started = tokio::time::Instant::now();
        // Each scenario in its own task: a panic is a failure with its message, not the end.
        let verdict = match tokio::time::timeout(Duration::from_secs(60), tokio::spawn(run())).await {
            Ok(Ok(v)) => v,
            Ok(Err(e)) => Err(format!("panicked: {e}")),
            Err(_) => Err("did not finish within 60 s".to_owned()),
        };
        let ms = started.elapsed().as_millis();
        let (pass, evidence) = match verdict {
            Ok(e) => (true, e),
            Err(e) => (false, e),
        };
        println!("[{}] {dimension} / {name} ({ms} ms)\n       {evidence}", if pass { "PASS" } else { "FAIL" });
        rows.push(Row { dimension, name, pass, evidence, ms });
    }
    let report = render(&rows);
    println!("\n{report}");
    if let Some(path) = report_path {
        std::fs::write(&path, &report).map_err(|e| format!("{path}: {e}"))?;
        println!("report written to {path}");
    }
    if rows.iter().any(|r| !r.pass) {
        return Err("some scenarios failed".into());
    }
    Ok(())
}
