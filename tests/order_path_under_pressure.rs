//! The order path's promises attacked the way production attacks them: a burst of orders over the
//! ORDERS window that waits longer than every timeout, an order signed long after it was
//! submitted whose answer is lost, a 418 ban and a 429 arriving while requests are in flight, a
//! caller reconciling every 150 ms. Through the public API, against the paper exchange, which
//! counts every request that ignored a ban or a `Retry-After`.
//!
//! Promises checked: nothing is sent inside a ban or before a `Retry-After`; every request is
//! charged by the limiter; no order is sent after its funds were released; the exchange never
//! locks more than the ledger; the ledger equals the exchange at quiescence.

use std::collections::VecDeque;

use aegis_exchange::Balance;
use aegis_exchange::OrderState;
use aegis_exchange::rest::Environment;
use aegis_exchange::sign::{Credentials, HmacSha256};
use aegis_exchange::{BUNDLED_EXCHANGE_INFO, ClientOrderId, ExchangeInfo, OrderRequest, Side};
use aegis_exchange::{
    Engine, EngineConfig, Event, FrameIgnored, HoldReason, HttpResult, Intent, KillReason, Output, Purpose, RequestId,
    UserStreamStatus,
};
use aegis_paper::{Delivery, PaperConfig, PaperExchange, PaperKey, ThrottleViolations, WalkConfig, WsFault, WsOut};
use bytes::Bytes;
use rust_decimal_macros::dec;

/// A 10-second window starts here, and every minute after (Binance aligns windows to the epoch).
const NOW: i64 = 1_760_000_000_000;

/// One request the engine handed out.
#[derive(Debug, Clone)]
struct Sent {
    at: i64,
    method: String,
    path: String,
    /// Query string and form body.
    params: String,
}

impl Sent {
    fn param(&self, name: &str) -> Option<&str> {
        self.params.split('&').find_map(|kv| kv.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
    }
}

/// What the network does to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    /// Delivered, answered.
    Deliver,
    /// Never delivered yet (kept in `held`), no answer.
    Hold,
    /// Not delivered: answered 429 with `Retry-After: <s>` (the exchange did nothing).
    Throttle(u32),
}

struct Net {
    engine: Engine,
    paper: PaperExchange,
    conn: u64,
    now: i64,
    events: Vec<Event>,
    log: Vec<Sent>,
    ws_frames: usize,
    /// Decides each request's fate.
    fate: Box<dyn FnMut(&Sent) -> Fate>,
    held: Vec<(RequestId, http::Request<Bytes>)>,
    /// Answers of one drain, delivered after it (requests are in flight together).
    wire: VecDeque<(RequestId, HttpResult)>,
    /// The next subscription is refused (answered -2015 instead of reaching the exchange).
    refuse_subscribe: bool,
}

fn engine_config(tweak: impl FnOnce(&mut EngineConfig)) -> EngineConfig {
    let creds = Credentials::new("pressureKey", HmacSha256::new("pressureSecret")).unwrap();
    let mut config = EngineConfig::new(Environment::Testnet, creds);
    tweak(&mut config);
    config
}

/// BTCUSDT at 65000 on a still market; 100000 USDT and 1 BTC; started and subscribed.
fn net(config: EngineConfig) -> Net {
    let paper_config = PaperConfig::default()
        .with_walk(WalkConfig { step_ms: 0, ..WalkConfig::default() })
        .with_price("BTCUSDT", dec!(65000));
    let mut paper = PaperExchange::new(paper_config, NOW);
    paper.add_api_key("pressureKey", PaperKey::hmac("pressureSecret"));
    paper.deposit(NOW, "USDT", dec!(100000));
    paper.deposit(NOW, "BTC", dec!(1));
    let info = ExchangeInfo::from_json(BUNDLED_EXCHANGE_INFO).unwrap();
    let engine = Engine::new(config, info);
    let conn = paper.ws_connect(NOW, "/ws-api/v3").unwrap();
    let mut n = Net {
        engine,
        paper,
        conn,
        now: NOW,
        events: Vec::new(),
        log: Vec::new(),
        ws_frames: 0,
        fate: Box::new(|_| Fate::Deliver),
        held: Vec::new(),
        wire: VecDeque::new(),
        refuse_subscribe: false,
    };
    n.engine.start(NOW);
    n.engine.handle_ws_open(NOW);
    n.pump();
    assert!(!n.engine.is_starting(), "start-up finished");
    // A clean start reports no difference: not while loading, not at the first reconciliation.
    n.wait(60_000);
    let mismatches: Vec<&Event> = n.events.iter().filter(|e| matches!(e, Event::BalanceMismatch(_))).collect();
    assert!(mismatches.is_empty(), "{mismatches:?}");
    n
}

impl Net {
    fn pump(&mut self) {
        for _ in 0..10_000 {
            let mut moved = false;
            loop {
                match self.engine.poll_output() {
                    Output::Http { id, request } => {
                        moved = true;
                        let query = request.uri().query().unwrap_or("").to_owned();
                        let body = String::from_utf8_lossy(request.body()).into_owned();
                        let sent = Sent {
                            at: self.now,
                            method: request.method().to_string(),
                            path: request.uri().path().to_owned(),
                            params: if body.is_empty() { query } else { format!("{query}&{body}") },
                        };
                        let fate = (self.fate)(&sent);
                        self.log.push(sent);
                        match fate {
                            Fate::Deliver => {
                                let result = match self.paper.deliver(self.now, request) {
                                    Delivery::Answer { response, .. } => HttpResult::Response(response),
                                    Delivery::Dropped | Delivery::Lost => HttpResult::Unanswered,
                                };
                                self.wire.push_back((id, result));
                            }
                            Fate::Hold => self.held.push((id, request)),
                            Fate::Throttle(seconds) => {
                                let body = r#"{"code":-1003,"msg":"Too much request weight used; current limit is 6000 request weight per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API."}"#;
                                let response = http::Response::builder()
                                    .status(429)
                                    .header("Retry-After", seconds.to_string())
                                    .body(Bytes::from_static(body.as_bytes()))
                                    .unwrap();
                                self.wire.push_back((id, HttpResult::Response(response)));
                            }
                        }
                    }
                    Output::Ws { text } => {
                        moved = true;
                        self.ws_frames += 1;
                        if std::mem::take(&mut self.refuse_subscribe) {
                            let frame: serde_json::Value = serde_json::from_str(&text).unwrap();
                            let refusal = serde_json::json!({"id": frame["id"], "status": 401,
                                "error": {"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."}});
                            self.engine.handle_ws_frame(self.now, refusal.to_string().as_bytes());
                        } else {
                            self.paper.ws_send(self.now, self.conn, &text);
                        }
                    }
                    Output::Event(e) => self.events.push(e),
                    // The harness opens and closes the user-data connection itself.
                    Output::WsConnect | Output::WsClose(_) => {}
                    Output::Timeout(_) => break,
                }
            }
            // Everything handed out in that drain was in flight at once; now the answers.
            while let Some((id, result)) = self.wire.pop_front() {
                moved = true;
                self.engine.handle_http_response(self.now, id, result);
            }
            while let Some(frame) = self.paper.ws_poll(self.conn) {
                if let WsOut::Text(text) = frame {
                    moved = true;
                    self.engine.handle_ws_frame(self.now, text.as_bytes());
                }
            }
            if !moved {
                return;
            }
        }
        panic!("the engine and the exchange never settled");
    }

    fn wait(&mut self, ms: i64) {
        self.now += ms;
        self.paper.advance(self.now);
        self.engine.handle_timeout(self.now);
        self.pump();
    }

    fn ledger(&self, asset: &str) -> Balance {
        let id = self.engine.ledger().asset_id(asset).unwrap();
        self.engine.ledger().balance(id).unwrap()
    }

    fn posts_of(&self, id: &str) -> usize {
        self.log
            .iter()
            .filter(|s| s.method == "POST" && s.path == "/api/v3/order" && s.param("newClientOrderId") == Some(id))
            .count()
    }

    fn posts(&self) -> usize {
        self.log.iter().filter(|s| s.method == "POST" && s.path == "/api/v3/order").count()
    }

    fn assert_ledger_equals_exchange(&self) {
        for asset in ["USDT", "BTC"] {
            assert_eq!(self.ledger(asset), self.paper.balance(asset), "{asset}: ledger vs exchange");
        }
    }

    /// No order ever went Unknown or NotPlaced.
    fn assert_no_order_in(&self, states: &[OrderState]) {
        for e in &self.events {
            if let Event::Order(u) = e {
                assert!(!states.contains(&u.state), "{}: went {:?}", u.client_order_id, u.state);
            }
        }
    }
}

fn cid(s: &str) -> ClientOrderId {
    ClientOrderId::new(s).unwrap()
}

fn resting_buy(id: &str) -> Intent {
    Intent::new(OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.001), dec!(60000)).with_client_order_id(cid(id)))
}

#[test]
fn two_hundred_resting_buys_at_once_wait_their_turn_and_never_over_commit() {
    let mut n = net(engine_config(|_| {}));
    let t0 = n.now;
    let ids: Vec<String> = (0..200).map(|i| format!("burst-{i}")).collect();
    for id in &ids {
        n.engine.submit(n.now, resting_buy(id)).unwrap();
    }
    n.pump();
    // The ORDERS window (100 per 10 s) is filled to 90 %: the rest wait, reserved, unsent.
    assert_eq!(n.posts(), 90);
    assert_eq!(n.ledger("USDT").locked, dec!(12000), "all 200 reserved");
    assert_eq!(n.engine.order_state(&cid("burst-199")), Some(OrderState::PendingNew));
    // Longer than the request timeout (12 s) and the reply timeout (15 s) for the last ones.
    for _ in 0..40 {
        n.wait(1000);
        let (ours, theirs) = (n.ledger("USDT"), n.paper.balance("USDT"));
        assert!(theirs.locked <= ours.locked, "the exchange locks {} but the ledger {}", theirs.locked, ours.locked);
    }
    for id in &ids {
        assert_eq!(n.paper.orders_with_client_id("BTCUSDT", id), 1, "{id} on the exchange once");
        assert_eq!(n.posts_of(id), 1, "{id} sent once");
        assert_eq!(n.engine.order_state(&cid(id)), Some(OrderState::New), "{id}");
    }
    n.assert_no_order_in(&[OrderState::Unknown, OrderState::NotPlaced, OrderState::Rejected]);
    n.assert_ledger_equals_exchange();
    assert_eq!(n.paper.balance("USDT").locked, dec!(12000));
    assert_eq!(n.paper.throttle_violations(), ThrottleViolations::default());
    // Three windows: 90, 90, 20.
    let windows: Vec<usize> = (0..3)
        .map(|w| {
            let (from, to) = (t0 + w * 10_000, t0 + (w + 1) * 10_000);
            n.log.iter().filter(|s| s.path == "/api/v3/order" && s.at >= from && s.at < to).count()
        })
        .collect();
    assert_eq!(windows, [90, 90, 20]);
}

#[test]
fn an_order_is_signed_when_it_leaves_and_its_deadline_is_that_requests() {
    // Requests time out fast, so the held order is queried (and -2013 answered) long before its
    // request can no longer be accepted.
    let mut n = net(engine_config(|c| c.request_timeout_ms = 500));
    let t0 = n.now;
    for i in 0..90 {
        n.engine.submit(n.now, resting_buy(&format!("fill-{i}"))).unwrap();
    }
    n.pump();
    n.wait(1000);
    // Submitted at +1 s; the window is full, so it waits for the next one (+10 s).
    n.engine.submit(n.now, resting_buy("late")).unwrap();
    n.fate = Box::new(|s| if s.param("newClientOrderId") == Some("late") { Fate::Hold } else { Fate::Deliver });
    n.pump();
    assert_eq!(n.posts_of("late"), 0);
    while n.posts_of("late") == 0 {
        n.wait(100);
    }
    let sent = n.log.iter().find(|s| s.param("newClientOrderId") == Some("late")).unwrap().clone();
    assert!(sent.at >= t0 + 10_000, "sent when the window rolled, at {}", sent.at - t0);
    let timestamp: i64 = sent.param("timestamp").unwrap().parse().unwrap();
    assert_eq!(
        timestamp,
        n.engine.server_now(sent.at).millis(),
        "signed with the time it left, not the time it was submitted"
    );
    // Its request is held on the way: the engine times it out, queries, hears -2013 ...
    for _ in 0..25 {
        n.wait(100);
    }
    assert!(n.log.iter().any(|s| s.method == "GET" && s.param("origClientOrderId") == Some("late")));
    assert_eq!(n.engine.order_state(&cid("late")), Some(OrderState::Unknown), "-2013 proves nothing yet");
    // ... and the request arrives 3 s after it was signed: the exchange accepts it.
    let (_, request) = n.held.pop().unwrap();
    assert!(matches!(n.paper.deliver(n.now, request), Delivery::Answer { .. }));
    assert_eq!(n.paper.orders_with_client_id("BTCUSDT", "late"), 1);
    n.fate = Box::new(|_| Fate::Deliver);
    for _ in 0..20 {
        n.wait(1000);
    }
    assert_eq!(n.engine.order_state(&cid("late")), Some(OrderState::New));
    n.assert_no_order_in(&[OrderState::NotPlaced, OrderState::Rejected]);
    n.assert_ledger_equals_exchange();
}

#[test]
fn nothing_leaves_during_a_ban_not_even_the_kill_switchs_cancels() {
    let mut n = net(engine_config(|_| {}));
    for i in 0..3 {
        n.engine.submit(n.now, resting_buy(&format!("rest-{i}"))).unwrap();
    }
    n.pump();
    assert_eq!(n.paper.balance("USDT").locked, dec!(180));
    // The exchange bans the IP; the next request (an order) finds out.
    n.paper.ban(n.now, 120_000);
    let ban_ends = n.paper.banned_until(n.now).unwrap();
    n.engine.submit(n.now, resting_buy("finds-the-ban")).unwrap();
    n.pump();
    let learned = n.now;
    assert!(matches!(n.engine.kill_switch(), Some(KillReason::Banned { .. })));
    assert!(
        n.events
            .iter()
            .any(|e| matches!(e, Event::Held { reason: HoldReason::Banned, until_ms, .. } if *until_ms >= ban_ends)),
        "the held cancels are reported: {:?}",
        n.events
    );
    let sent_before = n.log.len();
    // Everything a user and the engine's own timers do during the ban.
    n.engine.cancel(n.now, &cid("rest-0")).unwrap();
    n.engine.cancel_all(n.now, "BTCUSDT");
    n.engine.sync_time(n.now);
    for _ in 0..780 {
        n.engine.reconcile(n.now);
        n.wait(150);
    }
    assert!(n.now < ban_ends, "still banned");
    assert_eq!(n.log.len(), sent_before, "requests left during the ban: {:?}", &n.log[sent_before..]);
    // The ban ends: the cancels go first, everything settles.
    while n.now < ban_ends + 5_000 {
        n.wait(1000);
    }
    assert!(n.log.iter().all(|s| s.at <= learned || s.at >= ban_ends), "a request inside the ban");
    assert_eq!(n.paper.throttle_violations(), ThrottleViolations { in_ban: 1, before_retry_after: 0 });
    let first_after = n.log.iter().find(|s| s.at >= ban_ends).unwrap();
    assert_eq!((first_after.method.as_str(), first_after.path.as_str()), ("DELETE", "/api/v3/openOrders"));
    for i in 0..3 {
        assert_eq!(n.engine.order_state(&cid(&format!("rest-{i}"))), Some(OrderState::Canceled));
    }
    n.assert_ledger_equals_exchange();
    assert_eq!(n.ledger("USDT").locked, dec!(0));
}

#[test]
fn after_a_429_mid_flight_nothing_leaves_before_its_retry_after() {
    let mut n = net(engine_config(|_| {}));
    // Five orders in flight together; the second is answered 429 (Retry-After 7 s) unexecuted.
    let mut count = 0;
    n.fate = Box::new(move |s| {
        if s.path == "/api/v3/order" {
            count += 1;
            if count == 2 {
                return Fate::Throttle(7);
            }
        }
        Fate::Deliver
    });
    for i in 0..5 {
        n.engine.submit(n.now, resting_buy(&format!("mid-{i}"))).unwrap();
    }
    let throttled_at = n.now;
    n.pump();
    // More intents and requests arrive during the hold.
    n.engine.submit(n.now, resting_buy("during-hold")).unwrap();
    n.engine.reconcile(n.now);
    n.engine.cancel(n.now, &cid("mid-0")).unwrap();
    n.pump();
    assert!(n.events.iter().any(|e| matches!(e, Event::Held { reason: HoldReason::Throttled, .. })));
    for _ in 0..100 {
        n.wait(100);
    }
    let inside: Vec<&Sent> = n.log.iter().filter(|s| s.at > throttled_at && s.at < throttled_at + 7_000).collect();
    assert!(inside.is_empty(), "sent before Retry-After: {inside:?}");
    assert!(n.log.iter().any(|s| s.at >= throttled_at + 7_000), "the queue moves after it");
    for _ in 0..20 {
        n.wait(1000);
    }
    // The throttled order was not executed: rejected, released; the others rest or are canceled.
    assert_eq!(n.engine.order_state(&cid("mid-1")), Some(OrderState::Rejected));
    assert_eq!(n.engine.order_state(&cid("mid-0")), Some(OrderState::Canceled));
    assert_eq!(n.engine.order_state(&cid("during-hold")), Some(OrderState::New));
    n.assert_ledger_equals_exchange();
    assert_eq!(n.paper.throttle_violations(), ThrottleViolations::default());
}

#[test]
fn reconciling_every_150_ms_is_metered_and_never_throttled() {
    let mut n = net(engine_config(|_| {}));
    for i in 0..5 {
        n.engine.submit(n.now, resting_buy(&format!("r-{i}"))).unwrap();
    }
    n.pump();
    // Three minutes of a caller reconciling every 150 ms (26 weight each: 10,400 a minute asked
    // for, 6,000 allowed).
    for _ in 0..1200 {
        n.engine.reconcile(n.now);
        n.wait(150);
    }
    let throttled = n.log.len();
    assert!(throttled > 100, "reconciliation went on ({throttled} requests)");
    let metrics = n.engine.limiter().metrics(n.now);
    assert_eq!((metrics.throttled_429, metrics.bans_418), (0, 0), "{metrics:?}");
    assert_eq!(n.paper.throttle_violations(), ThrottleViolations::default());
    // Every request (HTTP and the user-data subscription frame) was charged before it left.
    assert_eq!(metrics.proceeded, u64::try_from(n.log.len() + n.ws_frames).unwrap());
    // No minute carried more than 90 % of the weight limit, as Binance's headers would count it.
    let weight = |s: &Sent| match (s.method.as_str(), s.path.as_str()) {
        ("GET", "/api/v3/account") | ("GET", "/api/v3/exchangeInfo") => 20,
        ("GET", "/api/v3/openOrders") if s.param("symbol").is_some() => 6,
        ("GET", "/api/v3/openOrders") => 80,
        ("GET", "/api/v3/order") => 4,
        _ => 1,
    };
    let mut per_minute = std::collections::BTreeMap::<i64, u64>::new();
    for s in &n.log {
        *per_minute.entry(s.at.div_euclid(60_000)).or_default() += weight(s);
    }
    assert!(per_minute.values().all(|w| *w <= 5_400), "{per_minute:?}");
    n.assert_ledger_equals_exchange();
}

#[test]
fn a_queued_order_is_canceled_without_a_request_and_never_leaves() {
    let mut n = net(engine_config(|_| {}));
    for i in 0..90 {
        n.engine.submit(n.now, resting_buy(&format!("f-{i}"))).unwrap();
    }
    n.engine.submit(n.now, resting_buy("queued")).unwrap();
    n.pump();
    let locked = n.ledger("USDT").locked;
    assert_eq!(n.engine.order_state(&cid("queued")), Some(OrderState::PendingNew));
    let before = n.log.len();
    n.engine.cancel(n.now, &cid("queued")).unwrap();
    n.pump();
    assert_eq!(n.log.len(), before, "no request for a local cancel");
    assert_eq!(n.engine.order_state(&cid("queued")), Some(OrderState::NotPlaced));
    assert_eq!(n.ledger("USDT").locked, locked - dec!(60));
    for _ in 0..30 {
        n.wait(1000);
    }
    assert_eq!(n.posts_of("queued"), 0);
    assert_eq!(n.paper.orders_with_client_id("BTCUSDT", "queued"), 0);
    n.assert_ledger_equals_exchange();
    // The kill switch drops the queue the same way.
    for i in 0..100 {
        let _ = n.engine.submit(n.now, resting_buy(&format!("k-{i}")));
    }
    n.engine.kill(n.now, KillReason::Manual("test".into()));
    for _ in 0..30 {
        n.wait(1000);
    }
    let dropped = n
        .events
        .iter()
        .filter(|e| matches!(e, Event::NotSent { purpose: Purpose::Place(id), .. } if id.as_str().starts_with("k-")))
        .count();
    assert_eq!(dropped + (0..100).filter(|i| n.posts_of(&format!("k-{i}")) == 1).count(), 100);
    assert!(dropped > 0, "some were queued when the switch tripped");
    assert_eq!(n.ledger("USDT").locked, dec!(0));
    n.assert_ledger_equals_exchange();
}

#[test]
fn every_user_data_frame_kind_is_reported_or_counted() {
    let mut n = net(engine_config(|_| {}));
    assert!(n.engine.is_subscribed(), "the paper exchange accepted the subscription");
    assert!(n.events.iter().any(|e| matches!(e, Event::UserStream(UserStreamStatus::Subscribed { .. }))));
    let before = n.engine.frame_counts();
    n.events.clear();
    // Garbage, an event type nobody knows, an answer to nobody.
    n.engine.handle_ws_frame(n.now, b"\x00not json");
    n.engine.handle_ws_frame(n.now, br#"{"subscriptionId":0,"event":{"e":"somethingNew","E":1}}"#);
    n.engine.handle_ws_frame(n.now, br#"{"id":"nobody","status":200,"result":{}}"#);
    n.pump();
    let counts = n.engine.frame_counts();
    assert_eq!(counts.received, before.received + 3);
    assert_eq!(
        (counts.undecodable, counts.unknown_events, counts.unsolicited),
        (before.undecodable + 1, before.unknown_events + 1, before.unsolicited + 1)
    );
    let ignored: Vec<&Event> = n.events.iter().filter(|e| matches!(e, Event::FrameIgnored(_))).collect();
    assert_eq!(ignored.len(), 3, "{ignored:?}");
    // The subscription ends (another part of the program unsubscribed it on this connection): the
    // stream is down, and it is asked again, through the gate, after a back-off; once back, a
    // reconciliation catches what was missed.
    let frames = n.ws_frames;
    n.paper.ws_send(n.now, n.conn, r#"{"id":"elsewhere","method":"userDataStream.unsubscribe"}"#);
    n.pump();
    assert!(!n.engine.is_subscribed());
    assert!(n.events.iter().any(|e| matches!(e, Event::UserStream(UserStreamStatus::Terminated { .. }))));
    assert_eq!(n.ws_frames, frames, "not asked again at once");
    let reconciles = n.log.iter().filter(|s| s.path == "/api/v3/account").count();
    for _ in 0..5 {
        n.wait(1000);
    }
    assert_eq!(n.ws_frames, frames + 1, "asked again after the back-off");
    assert!(n.engine.is_subscribed(), "{:?}", &n.events[n.events.len().saturating_sub(5)..]);
    assert!(n.log.iter().filter(|s| s.path == "/api/v3/account").count() > reconciles, "reconciled after the gap");
    // A refused subscription (a reconnect whose key was revoked): reported with the exchange's
    // error, the stream down, asked again after the back-off.
    n.refuse_subscribe = true;
    n.paper.ws_fault(n.now, n.conn, WsFault::Disconnect);
    n.engine.handle_ws_closed(n.now);
    n.conn = n.paper.ws_connect(n.now, "/ws-api/v3").unwrap();
    n.engine.handle_ws_open(n.now);
    n.pump();
    assert!(!n.engine.is_subscribed());
    assert!(
        n.events
            .iter()
            .any(|e| matches!(e, Event::UserStream(UserStreamStatus::Refused(error)) if error.code == Some(-2015)))
    );
    assert_eq!(n.engine.frame_counts().refused, 1);
    assert!(n.events.iter().any(|e| matches!(e, Event::FrameIgnored(FrameIgnored::Unsolicited { status: 200 }))));
    for _ in 0..10 {
        n.wait(1000);
    }
    assert!(n.engine.is_subscribed(), "subscribed again");
    n.assert_ledger_equals_exchange();
}

/// Amends under pressure: one answered 429 changes nothing (the funds stay), the next waits out
/// the `Retry-After` and then reduces the order exactly once; during a ban the kill switch refuses
/// amends before anything is sent; the ledger equals the exchange throughout.
#[test]
fn amends_wait_out_a_429_and_are_refused_during_a_ban() {
    let mut n = net(engine_config(|_| {}));
    let id = cid("am-1");
    n.engine
        .submit(
            n.now,
            Intent::new(OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.01), dec!(60000)).with_client_order_id(id)),
        )
        .unwrap();
    n.pump();
    assert_eq!(n.engine.order_state(&id), Some(OrderState::New));
    assert_eq!(n.ledger("USDT").locked, dec!(600));
    let mut first = true;
    n.fate = Box::new(move |s| {
        if s.path == "/api/v3/order/amend/keepPriority" && std::mem::take(&mut first) {
            return Fate::Throttle(5);
        }
        Fate::Deliver
    });
    n.engine.amend(n.now, &id, dec!(0.006)).unwrap();
    let throttled_at = n.now;
    n.pump();
    // Refused by the 429: nothing changed, reported, the amend slot free again.
    let view = n.engine.orders().get(&id).unwrap().clone();
    assert_eq!((view.qty, view.amending, view.amends), (Some(dec!(0.01)), None, 0));
    assert!(n.events.iter().any(|e| matches!(e, Event::RequestFailed { purpose: Purpose::Amend(x), .. } if *x == id)));
    assert_eq!(n.ledger("USDT").locked, dec!(600));
    // Asked again at once: it waits for the Retry-After.
    n.engine.amend(n.now, &id, dec!(0.006)).unwrap();
    for _ in 0..70 {
        n.wait(100);
    }
    let amends: Vec<&Sent> = n.log.iter().filter(|s| s.path == "/api/v3/order/amend/keepPriority").collect();
    assert_eq!(amends.len(), 2, "{amends:?}");
    let second = amends.get(1).unwrap();
    assert!(second.at >= throttled_at + 5_000, "sent inside the Retry-After: {second:?}");
    assert_eq!((second.method.as_str(), second.param("newClientOrderId")), ("PUT", Some("am-1")), "keeps the id");
    assert_eq!(n.engine.orders().get(&id).unwrap().qty, Some(dec!(0.006)));
    assert_eq!(n.ledger("USDT").locked, dec!(360));
    n.assert_ledger_equals_exchange();
    assert_eq!(n.paper.throttle_violations(), ThrottleViolations::default());
    // A ban: the kill switch trips, amends are refused before anything leaves.
    n.paper.ban(n.now, 120_000);
    n.engine.submit(n.now, resting_buy("finds-the-ban")).unwrap();
    n.pump();
    let sent = n.log.len();
    assert!(matches!(n.engine.amend(n.now, &id, dec!(0.005)), Err(aegis_exchange::AmendError::Killed(_))));
    n.wait(1000);
    assert_eq!(n.log.len(), sent, "nothing left during the ban");
}
