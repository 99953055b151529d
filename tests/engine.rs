//! The engine against the paper exchange, in process: the order path end to end, user-data
//! events, every ambiguous send outcome resolved by a query (never a second POST), a request
//! that never left, and the kill switch.

use aegis_exchange::Balance;
use aegis_exchange::OrderState;
use aegis_exchange::rest::Environment;
use aegis_exchange::sign::{Credentials, HmacSha256};
use aegis_exchange::{BUNDLED_EXCHANGE_INFO, ClientOrderId, ExchangeInfo, OrderRequest, Side};
use aegis_exchange::{Engine, EngineConfig, Event, HttpResult, Intent, KillReason, Output, SubmitError};
use aegis_paper::{Delivery, Fault, PaperConfig, PaperExchange, PaperKey, WalkConfig, WsOut};
use bytes::Bytes;
use rust_decimal_macros::dec;

const NOW: i64 = 1_760_000_000_000;

/// How the harness mangles one answer (the paper exchange's own faults cover the rest).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mangle {
    None,
    /// Replace the answer with a -1006 (HTTP 500), after the exchange executed.
    UnexpectedResponse,
    /// Replace a 200's body with bytes that are not JSON.
    BadJson,
    /// The request never left: the transport reports it unsent.
    NotWritten,
}

#[path = "common/info.rs"]
mod info;

struct World {
    engine: Engine,
    paper: PaperExchange,
    conn: u64,
    now: i64,
    events: Vec<Event>,
    /// Every request the engine sent: (method, path).
    sent: Vec<(String, String)>,
    mangle: Mangle,
    /// Every answer is read with [`HttpResult::read_order`] before the engine gets it, as
    /// `Client::place` reads a placed order's answer.
    read_orders: bool,
    /// How many answers [`HttpResult::read_order`] read as a placed order's.
    orders_read: usize,
}

/// BTCUSDT at 65000 on a still market; the account holds 100000 USDT and 1 BTC.
fn exchange() -> PaperExchange {
    exchange_with(BUNDLED_EXCHANGE_INFO)
}

/// [`exchange`] with these exchange information.
fn exchange_with(info: &[u8]) -> PaperExchange {
    let config = PaperConfig::default()
        .with_walk(WalkConfig { step_ms: 0, ..WalkConfig::default() })
        .with_exchange_info(info.to_vec())
        .unwrap()
        .with_price("BTCUSDT", dec!(65000));
    let mut paper = PaperExchange::new(config, NOW);
    paper.add_api_key("engineKey", PaperKey::hmac("engineSecret"));
    paper.deposit(NOW, "USDT", dec!(100000));
    paper.deposit(NOW, "BTC", dec!(1));
    paper
}

fn world() -> World {
    world_with(BUNDLED_EXCHANGE_INFO)
}

/// [`world`] on these exchange information (the engine's and the exchange's).
fn world_with(info: &[u8]) -> World {
    world_on(exchange_with(info), info)
}

/// The engine on `paper` (whose exchange information is `info`).
fn world_on(mut paper: PaperExchange, info: &[u8]) -> World {
    let creds = Credentials::new("engineKey", HmacSha256::new("engineSecret")).unwrap();
    let info = ExchangeInfo::from_json(info).unwrap();
    let engine = Engine::new(EngineConfig::new(Environment::Testnet, creds), info);
    // The user data stream: the engine subscribes on a WebSocket-API connection.
    let conn = paper.ws_connect(NOW, "/ws-api/v3").unwrap();
    let mut w = World::new(engine, paper, conn);
    // Start-up loads the exchange's balances into the ledger.
    w.engine.start(NOW);
    w.engine.handle_ws_open(NOW);
    w.pump();
    w
}

impl World {
    /// The engine and the exchange at [`NOW`], the user-data connection `conn` open, nothing
    /// sent yet.
    fn new(engine: Engine, paper: PaperExchange, conn: u64) -> Self {
        let (events, sent) = (Vec::new(), Vec::new());
        World { engine, paper, conn, now: NOW, events, sent, mangle: Mangle::None, read_orders: false, orders_read: 0 }
    }

    /// Drains the engine, carries its requests to the exchange and the answers and events back,
    /// until nothing moves.
    fn pump(&mut self) {
        for _ in 0..1000 {
            let mut moved = false;
            loop {
                match self.engine.poll_output() {
                    Output::Http { id, request } => {
                        moved = true;
                        self.sent.push((request.method().to_string(), request.uri().path().to_owned()));
                        let mangle = std::mem::replace(&mut self.mangle, Mangle::None);
                        let result = if mangle == Mangle::NotWritten {
                            HttpResult::NotSent
                        } else {
                            match self.paper.deliver(self.now, request) {
                                Delivery::Answer { response, .. } => HttpResult::Response(mangled(response, mangle)),
                                Delivery::Dropped | Delivery::Lost => HttpResult::Unanswered,
                            }
                        };
                        let result = if self.read_orders { result.read_order() } else { result };
                        self.orders_read += usize::from(result.order().is_some());
                        self.engine.handle_http_response(self.now, id, result);
                    }
                    Output::Ws { text } => {
                        moved = true;
                        let frame: serde_json::Value = serde_json::from_str(&text).unwrap();
                        self.sent.push(("WS".to_owned(), frame["method"].as_str().unwrap_or_default().to_owned()));
                        self.paper.ws_send(self.now, self.conn, &text);
                    }
                    Output::Event(e) => self.events.push(e),
                    // The harness opens and closes the user-data connection itself.
                    Output::WsConnect | Output::WsClose(_) => {}
                    Output::Timeout(_) => break,
                }
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

    fn posts(&self) -> usize {
        self.sent.iter().filter(|(m, p)| m == "POST" && p == "/api/v3/order").count()
    }
}

fn mangled(response: http::Response<Bytes>, mangle: Mangle) -> http::Response<Bytes> {
    match mangle {
        Mangle::UnexpectedResponse => {
            let body = r#"{"code":-1006,"msg":"An unexpected response was received from the message bus. Execution status unknown."}"#;
            http::Response::builder().status(500).body(Bytes::from_static(body.as_bytes())).unwrap()
        }
        Mangle::BadJson if response.status() == 200 => http::Response::builder()
            .status(200)
            .body(Bytes::from_static(b"{\"symbol\":\"BTCUSDT\",\"orderId\":"))
            .unwrap(),
        _ => response,
    }
}

fn cid(s: &str) -> ClientOrderId {
    ClientOrderId::new(s).unwrap()
}

#[test]
fn an_order_goes_out_fills_from_the_user_stream_and_the_ledger_matches_the_exchange() {
    let mut w = world();
    assert!(w.events.iter().any(|e| matches!(e, Event::TimeSynced { .. })), "a time sync first");
    let order = OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.01), dec!(64000)).with_client_order_id(cid("e1"));
    let id = w.engine.submit(w.now, Intent::new(order)).unwrap();
    w.pump();
    assert_eq!(w.engine.order_state(&id), Some(OrderState::New));
    assert_eq!(w.ledger("USDT").locked, dec!(640));
    assert_eq!(w.ledger("USDT"), w.paper.balance("USDT"));
    // The market comes down through 64000: the exchange fills it, the event reaches the engine.
    w.now += 1000;
    w.paper.set_price(w.now, "BTCUSDT", dec!(63990));
    w.pump();
    assert_eq!(w.engine.order_state(&id), Some(OrderState::Filled));
    for asset in ["USDT", "BTC"] {
        assert_eq!(w.ledger(asset), w.paper.balance(asset), "{asset}");
    }
    // An intent without a client order id gets one; a market buy needs a price bound.
    let market = OrderRequest::market("BTCUSDT", Side::Buy, dec!(0.01));
    assert!(matches!(w.engine.submit(w.now, Intent::new(market.clone())), Err(SubmitError::Orders(_))));
    let id = w.engine.submit(w.now, Intent::new(market).with_price_bound(dec!(66000))).unwrap();
    w.pump();
    assert_eq!(w.engine.order_state(&id), Some(OrderState::Filled));
    for asset in ["USDT", "BTC"] {
        assert_eq!(w.ledger(asset), w.paper.balance(asset), "{asset}");
    }
    // A filter failure is refused before anything is reserved or sent.
    let tiny = OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.00001), dec!(100));
    let posts = w.posts();
    assert!(matches!(w.engine.submit(w.now, Intent::new(tiny)), Err(SubmitError::Filter(_))));
    assert_eq!(w.posts(), posts);
}

/// An answer read before the engine's step ([`HttpResult::read_order`], as `Client::place` reads
/// a placed order's) is applied exactly as the raw answer is: the same events, states, ledger
/// and requests, whatever the answer (resting, filled, refused, unreadable, someone else's).
#[test]
fn an_answer_read_ahead_is_applied_as_the_raw_answer_is() {
    let run = |read_orders: bool| {
        let mut w = world();
        w.read_orders = read_orders;
        let mut states = Vec::new();
        let mut place = |w: &mut World, id: &str, qty, price, mangle| {
            let order = if id == "ra-refused" {
                OrderRequest::limit_maker("BTCUSDT", Side::Buy, qty, price)
            } else {
                OrderRequest::limit("BTCUSDT", Side::Buy, qty, price)
            };
            let order = order.with_client_order_id(cid(id));
            let id = w.engine.submit(w.now, Intent::new(order)).unwrap();
            w.mangle = mangle;
            w.pump();
            states.push(w.engine.order_state(&id));
            id
        };
        let resting = place(&mut w, "ra-rest", dec!(0.01), dec!(64000), Mangle::None);
        place(&mut w, "ra-fill", dec!(0.01), dec!(66000), Mangle::None);
        // A LIMIT_MAKER that would take: refused by the exchange (-2010).
        place(&mut w, "ra-refused", dec!(0.01), dec!(66000), Mangle::None);
        place(&mut w, "ra-bad-json", dec!(0.01), dec!(63000), Mangle::BadJson);
        place(&mut w, "ra-unexpected", dec!(0.01), dec!(62000), Mangle::UnexpectedResponse);
        w.engine.cancel(w.now, &resting).unwrap();
        w.pump();
        for _ in 0..5 {
            w.wait(2000);
        }
        // The market comes down: what rests fills.
        w.paper.set_price(w.now, "BTCUSDT", dec!(61000));
        w.pump();
        let ledger = (w.ledger("USDT"), w.ledger("BTC"));
        assert_eq!(ledger, (w.paper.balance("USDT"), w.paper.balance("BTC")), "read ahead: {read_orders}");
        (format!("{:?}", w.events), states, ledger, w.sent.clone(), w.orders_read)
    };
    let (raw, read) = (run(false), run(true));
    assert_eq!(raw.1, read.1, "the states after each answer");
    assert_eq!(raw.2, read.2, "the ledger");
    assert_eq!(raw.3, read.3, "the requests");
    assert_eq!(raw.0, read.0, "the events");
    // The answers did go through the read path: the resting and the filled order's at least.
    assert_eq!(raw.4, 0);
    assert!(read.4 >= 2, "{} answers read as orders", read.4);
    // The scenario is not vacuous: resting, filled and refused answers came (the last two
    // orders' answers were unreadable or a -1006; the user-data stream told they rest).
    let new = Some(OrderState::New);
    assert_eq!(raw.1, vec![new, Some(OrderState::Filled), Some(OrderState::Rejected), new, new]);
}

#[test]
fn every_ambiguous_outcome_is_resolved_by_a_query_never_a_second_post() {
    // (cause, how to produce it, what the exchange did)
    let causes: [(&str, Option<Fault>, Mangle); 6] = [
        ("timeout", Some(Fault::DropResponse), Mangle::None),
        ("5xx", Some(Fault::ServerErrorAfterExecute(503)), Mangle::None),
        ("-1006", None, Mangle::UnexpectedResponse),
        ("-1007", Some(Fault::TimeoutAfterExecute), Mangle::None),
        ("reset after write", Some(Fault::DropResponse), Mangle::None),
        ("bad JSON after 200", None, Mangle::BadJson),
    ];
    for (cause, fault, mangle) in causes {
        let mut w = world();
        let order = OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.01), dec!(64000)).with_client_order_id(cid("amb"));
        let id = w.engine.submit(w.now, Intent::new(order)).unwrap();
        if let Some(f) = fault {
            w.paper.inject(f);
        }
        w.mangle = mangle;
        w.pump();
        // The user stream may already have told the engine; if not, it is Unknown and a query
        // goes out.
        let state = w.engine.order_state(&id);
        assert!(matches!(state, Some(OrderState::New | OrderState::Unknown)), "{cause}: {state:?}");
        for _ in 0..5 {
            w.wait(2000);
        }
        assert_eq!(w.posts(), 1, "{cause}: the order was posted once");
        assert_eq!(w.engine.order_state(&id), Some(OrderState::New), "{cause}: resolved to the exchange's truth");
        assert_eq!(w.ledger("USDT"), w.paper.balance("USDT"), "{cause}");
    }
    // Without the user stream, the query is what resolves it.
    let mut w = world();
    w.paper.ws_close(w.conn);
    let order = OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.01), dec!(64000)).with_client_order_id(cid("q1"));
    let id = w.engine.submit(w.now, Intent::new(order)).unwrap();
    w.paper.inject(Fault::DropResponse);
    w.pump();
    assert_eq!(w.engine.order_state(&id), Some(OrderState::Unknown));
    for _ in 0..5 {
        w.wait(2000);
    }
    let after_post: Vec<&(String, String)> = w.sent.iter().skip_while(|(m, _)| m != "POST").skip(1).collect();
    assert!(after_post.iter().any(|(m, p)| m == "GET" && p == "/api/v3/order"), "{after_post:?}");
    assert!(after_post.iter().all(|(m, _)| m != "POST"));
    assert_eq!(w.engine.order_state(&id), Some(OrderState::New));
}

#[test]
fn a_request_that_never_left_releases_its_funds() {
    let mut w = world();
    let order = OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.01), dec!(64000)).with_client_order_id(cid("ns"));
    let id = w.engine.submit(w.now, Intent::new(order)).unwrap();
    w.mangle = Mangle::NotWritten;
    w.pump();
    assert_eq!(w.engine.order_state(&id), Some(OrderState::NotPlaced));
    assert_eq!(w.ledger("USDT"), Balance { free: dec!(100000), locked: dec!(0) });
    assert_eq!(w.paper.balance("USDT"), Balance { free: dec!(100000), locked: dec!(0) });
}

#[test]
fn the_kill_switch_cancels_everything_and_latches() {
    let mut w = world();
    for i in 0..3 {
        let order = OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.01), dec!(60000))
            .with_client_order_id(cid(&format!("k{i}")));
        w.engine.submit(w.now, Intent::new(order)).unwrap();
    }
    w.pump();
    assert_eq!(w.paper.balance("USDT").locked, dec!(1800));
    w.engine.kill(w.now, KillReason::Manual("test".to_owned()));
    w.pump();
    assert!(w.sent.iter().any(|(m, p)| m == "DELETE" && p == "/api/v3/openOrders"));
    assert_eq!(w.paper.balance("USDT"), Balance { free: dec!(100000), locked: dec!(0) });
    assert_eq!(w.ledger("USDT"), w.paper.balance("USDT"));
    let order = OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.01), dec!(60000));
    assert!(matches!(w.engine.submit(w.now, Intent::new(order.clone())), Err(SubmitError::Killed(_))));
    w.engine.reset_kill_switch();
    assert!(w.engine.submit(w.now, Intent::new(order)).is_ok());
    // A ban trips it on its own.
    let mut w = world();
    w.paper.ban(w.now, 120_000);
    let order = OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.01), dec!(60000));
    w.engine.submit(w.now, Intent::new(order)).unwrap();
    w.pump();
    assert!(matches!(w.engine.kill_switch(), Some(KillReason::Banned { .. })));
}

#[test]
fn start_up_loads_the_balances_and_adopts_the_open_orders() {
    let mut paper = exchange();
    // Orders left open by an earlier run.
    let creds = Credentials::new("engineKey", HmacSha256::new("engineSecret")).unwrap();
    let rest = aegis_exchange::rest::Rest::new(Environment::Testnet).with_credentials(creds.clone());
    let info = ExchangeInfo::from_json(BUNDLED_EXCHANGE_INFO).unwrap();
    let rules = info.symbol("BTCUSDT").unwrap();
    for (id, side, qty, price) in
        [("old-buy", Side::Buy, dec!(0.01), dec!(64000)), ("old-sell", Side::Sell, dec!(0.1), dec!(70000))]
    {
        let order = OrderRequest::limit("BTCUSDT", side, qty, price).with_client_order_id(cid(id));
        let valid = rules.validate(&order, &aegis_exchange::MarketContext::default()).unwrap();
        assert_eq!(paper.handle_http(NOW, rest.new_order(&valid, NOW).unwrap().request).status(), 200);
    }
    let engine = Engine::new(EngineConfig::new(Environment::Testnet, creds), info);
    let conn = paper.ws_connect(NOW, "/ws-api/v3").unwrap();
    let mut w = World::new(engine, paper, conn);
    w.engine.start(w.now);
    // Until the balances and open orders are in, an order would be counted twice.
    let early = OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.01), dec!(60000));
    assert!(matches!(w.engine.submit(w.now, Intent::new(early)), Err(SubmitError::Starting)));
    assert!(w.engine.is_starting());
    w.engine.handle_ws_open(w.now);
    w.pump();
    assert!(!w.engine.is_starting());
    for asset in ["USDT", "BTC"] {
        assert_eq!(w.ledger(asset), w.paper.balance(asset), "{asset}");
    }
    assert_eq!(w.ledger("USDT").locked, dec!(640));
    assert_eq!(w.engine.order_state(&cid("old-buy")), Some(OrderState::New));
    assert_eq!(w.engine.order_state(&cid("old-sell")), Some(OrderState::New));
    // The adopted buy fills; the adopted sell is canceled.
    w.now += 1000;
    w.paper.set_price(w.now, "BTCUSDT", dec!(63990));
    w.pump();
    assert_eq!(w.engine.order_state(&cid("old-buy")), Some(OrderState::Filled));
    w.engine.cancel(w.now, &cid("old-sell")).unwrap();
    w.pump();
    assert_eq!(w.engine.order_state(&cid("old-sell")), Some(OrderState::Canceled));
    for asset in ["USDT", "BTC"] {
        assert_eq!(w.ledger(asset), w.paper.balance(asset), "{asset}");
    }
    assert_eq!(w.ledger("BTC").locked, dec!(0));
}

#[test]
fn the_kill_switch_trips_on_a_mismatch_a_stream_gap_and_the_loss_limit() {
    // A ledger mismatch at rest beyond the tolerance.
    let mut w = world();
    let mut config = EngineConfig::new(
        Environment::Testnet,
        Credentials::new("engineKey", HmacSha256::new("engineSecret")).unwrap(),
    );
    config.mismatch_tolerance = Some(dec!(1));
    config.max_user_stream_gap_ms = 30_000;
    config.loss_limit = Some(("USDT".to_owned(), dec!(500)));
    w.engine = Engine::new(config, ExchangeInfo::from_json(BUNDLED_EXCHANGE_INFO).unwrap());
    // A restarted program opens its own user-data connection.
    w.conn = w.paper.ws_connect(w.now, "/ws-api/v3").unwrap();
    w.engine.start(w.now);
    w.engine.handle_ws_open(w.now);
    w.pump();
    assert_eq!(w.engine.kill_switch(), None);
    assert!(w.engine.is_subscribed());
    w.paper.deposit(w.now, "USDT", dec!(0.5));
    // Seen by two reconciliations in a row (once could be a trade between two snapshots).
    for _ in 0..2 {
        w.engine.reconcile(w.now);
        w.pump();
    }
    assert_eq!(w.engine.kill_switch(), None, "within the tolerance (an event reports it)");
    assert!(w.events.iter().any(|e| matches!(e, Event::BalanceMismatch(_))));
    assert_eq!(w.ledger("USDT"), w.paper.balance("USDT"), "and the ledger takes the exchange's free balance");
    w.paper.deposit(w.now, "USDT", dec!(5));
    // The deposit's balanceUpdate brings a balance check forward: seen once.
    let checks = w.sent.iter().filter(|(_, p)| p == "/api/v3/account").count();
    w.pump();
    assert_eq!(w.sent.iter().filter(|(_, p)| p == "/api/v3/account").count(), checks + 1);
    assert_eq!(w.engine.kill_switch(), None, "seen once");
    w.engine.reconcile(w.now);
    w.pump();
    assert_eq!(w.engine.kill_switch(), Some(&KillReason::LedgerMismatch { asset: "USDT".to_owned() }));
    assert_eq!(w.ledger("USDT").free + dec!(5), w.paper.balance("USDT").free, "beyond it: not corrected");
    // The difference was a deposit: the operator books it (the ledger's one manual entry).
    w.engine.adjust("USDT", dec!(5)).unwrap();
    assert_eq!(w.ledger("USDT"), w.paper.balance("USDT"));
    // The user stream down longer than allowed.
    w.engine.reset_kill_switch();
    w.engine.handle_ws_closed(w.now);
    w.wait(20_000);
    assert_eq!(w.engine.kill_switch(), None);
    w.wait(10_000);
    assert!(matches!(w.engine.kill_switch(), Some(KillReason::UserStreamGap { .. })));
    // Spending more than the loss limit allows.
    w.engine.reset_kill_switch();
    w.engine.handle_ws_open(w.now);
    w.pump();
    let order = OrderRequest::market("BTCUSDT", Side::Buy, dec!(0.01)).with_client_order_id(cid("spend"));
    w.engine.submit(w.now, Intent::new(order).with_price_bound(dec!(66000))).unwrap();
    w.pump();
    assert!(matches!(w.engine.kill_switch(), Some(KillReason::LossLimit { asset, .. }) if asset == "USDT"));
}

#[test]
fn start_up_fetches_the_exchange_info() {
    let mut w = world();
    // An engine that starts with no symbols learns them from the exchange.
    let creds = Credentials::new("engineKey", HmacSha256::new("engineSecret")).unwrap();
    w.engine = Engine::new(EngineConfig::new(Environment::Testnet, creds), ExchangeInfo::default());
    let order = OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.01), dec!(64000));
    assert!(matches!(w.engine.submit(w.now, Intent::new(order.clone())), Err(SubmitError::UnknownSymbol(_))));
    w.engine.start(w.now);
    w.engine.handle_ws_open(w.now);
    w.pump();
    assert!(w.sent.iter().any(|(m, p)| m == "GET" && p == "/api/v3/exchangeInfo"));
    let id = w.engine.submit(w.now, Intent::new(order)).unwrap();
    w.pump();
    assert_eq!(w.engine.order_state(&id), Some(OrderState::New));
}

#[test]
fn start_up_adopts_open_orders_only_with_the_rules() {
    // An engine with no rules yet; an order left open by an earlier run; the exchangeInfo answer
    // comes last (it is the largest): adoption must wait for it, not skip the order.
    let mut paper = exchange();
    let creds = Credentials::new("engineKey", HmacSha256::new("engineSecret")).unwrap();
    let rest = aegis_exchange::rest::Rest::new(Environment::Testnet).with_credentials(creds.clone());
    let info = ExchangeInfo::from_json(BUNDLED_EXCHANGE_INFO).unwrap();
    let order = OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.01), dec!(64000)).with_client_order_id(cid("old-buy"));
    let valid = info.symbol("BTCUSDT").unwrap().validate(&order, &aegis_exchange::MarketContext::default()).unwrap();
    assert_eq!(paper.handle_http(NOW, rest.new_order(&valid, NOW).unwrap().request).status(), 200);
    let mut engine = Engine::new(EngineConfig::new(Environment::Testnet, creds), ExchangeInfo::default());
    engine.start(NOW);
    let mut held = None;
    loop {
        match engine.poll_output() {
            Output::Http { id, request } if request.uri().path() == "/api/v3/exchangeInfo" => {
                held = Some((id, request))
            }
            Output::Http { id, request } => {
                let response = paper.handle_http(NOW, request);
                engine.handle_http_response(NOW, id, HttpResult::Response(response));
            }
            Output::Timeout(_) => break,
            _ => {}
        }
    }
    // Balances in, rules not: still starting, and nothing adopted yet.
    assert!(engine.is_starting());
    assert_eq!(engine.order_state(&cid("old-buy")), None);
    let (id, request) = held.expect("an exchangeInfo request");
    engine.handle_http_response(NOW, id, HttpResult::Response(paper.handle_http(NOW, request)));
    while let Output::Http { id, request } = engine.poll_output() {
        let response = paper.handle_http(NOW, request);
        engine.handle_http_response(NOW, id, HttpResult::Response(response));
    }
    assert!(!engine.is_starting());
    assert_eq!(engine.order_state(&cid("old-buy")), Some(OrderState::New));
    assert_eq!(engine.ledger().balance(engine.ledger().asset_id("USDT").unwrap()).unwrap().locked, dec!(640));
}

/// A world whose orders go over the WebSocket API connection (`OrderChannel::WsApi`), with an
/// Ed25519 key (a logged-on session) or an HMAC one (each order signed).
fn ws_world(ed25519: bool) -> World {
    ws_world_with(ed25519, BUNDLED_EXCHANGE_INFO)
}

/// [`ws_world`] on these exchange information.
fn ws_world_with(ed25519: bool, info: &[u8]) -> World {
    use aegis_exchange::sign::Ed25519;
    let mut paper = exchange_with(info);
    let creds = if ed25519 {
        let seed = hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60").unwrap();
        let signer = Ed25519::from_seed(&seed).unwrap();
        paper.add_api_key("edKey", PaperKey::ed25519(&signer.public_key()).unwrap());
        Credentials::new("edKey", signer).unwrap()
    } else {
        Credentials::new("engineKey", HmacSha256::new("engineSecret")).unwrap()
    };
    let info = ExchangeInfo::from_json(info).unwrap();
    let mut config = EngineConfig::new(Environment::Testnet, creds);
    config.order_channel = aegis_exchange::OrderChannel::WsApi;
    let engine = Engine::new(config, info);
    let conn = paper.ws_connect(NOW, "/ws-api/v3").unwrap();
    let mut w = World::new(engine, paper, conn);
    w.engine.start(NOW);
    w.engine.handle_ws_open(NOW);
    w.pump();
    w
}

/// Orders over the WebSocket API: with an Ed25519 key the connection logs on once and each
/// `order.place` goes without a signature of its own (with HMAC each is signed); no REST POST;
/// the answer and events are applied as a REST answer's would be and the ledger equals the
/// exchange. An order whose answer is lost with the connection is `Unknown`, queried over REST,
/// and never sent again.
#[test]
fn orders_go_over_the_websocket_api_session() {
    for ed25519 in [true, false] {
        let mut w = ws_world(ed25519);
        let order =
            OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.01), dec!(64000)).with_client_order_id(cid("ws-1"));
        w.engine.submit(w.now, Intent::new(order)).unwrap();
        let text = match w.engine.poll_output() {
            Output::Ws { text } => text,
            other => panic!("the order should leave on the WebSocket API: {other:?}"),
        };
        assert!(text.contains(r#""method":"order.place""#), "{text}");
        assert_eq!(text.contains("signature"), !ed25519, "ed25519 {ed25519}: {text}");
        w.paper.ws_send(w.now, w.conn, &text);
        w.pump();
        assert_eq!(w.engine.order_state(&cid("ws-1")), Some(OrderState::New), "ed25519 {ed25519}");
        assert_eq!(w.posts(), 0, "no REST POST");
        assert_eq!(w.ledger("USDT"), w.paper.balance("USDT"));
        // The answer lost with the connection: Unknown, queried over REST, never resent.
        let order =
            OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.01), dec!(63000)).with_client_order_id(cid("ws-2"));
        w.engine.submit(w.now, Intent::new(order)).unwrap();
        let Output::Ws { text } = w.engine.poll_output() else { panic!("the order should leave on the WebSocket API") };
        w.paper.ws_send(w.now, w.conn, &text);
        while w.paper.ws_poll(w.conn).is_some() {}
        w.engine.handle_ws_closed(w.now);
        assert_eq!(w.engine.order_state(&cid("ws-2")), Some(OrderState::Unknown), "ed25519 {ed25519}");
        for _ in 0..20 {
            w.wait(1_000);
        }
        assert_eq!(w.engine.order_state(&cid("ws-2")), Some(OrderState::New), "ed25519 {ed25519}: resolved");
        assert!(w.sent.iter().any(|(m, p)| m == "GET" && p == "/api/v3/order"), "queried over REST");
        assert_eq!(w.paper.orders_with_client_id("BTCUSDT", "ws-2"), 1, "never sent again");
        assert_eq!(w.posts(), 0);
        assert_eq!(w.ledger("USDT"), w.paper.balance("USDT"));
    }
}

/// Over the WebSocket API channel the requests about orders go with the orders: an amend, a
/// cancel, a cancel-all and the query of an order whose answer never came are frames on the
/// connection (a session's carry no signature), no REST request; their answers are applied as
/// REST answers are and the ledger equals the exchange. A cancel whose answer is lost with the
/// connection is neither resent nor assumed: the order is queried (over REST, the connection
/// being down) and found canceled.
#[test]
fn cancels_amends_queries_and_cancel_all_go_over_the_websocket_api() {
    for ed25519 in [true, false] {
        let mut w = ws_world(ed25519);
        let ws = |w: &World, method: &str| w.sent.iter().filter(|(m, p)| m == "WS" && p == method).count();
        let rest_about_orders = |w: &World| {
            w.sent
                .iter()
                .filter(|(m, p)| m != "WS" && (p.starts_with("/api/v3/order") || p == "/api/v3/openOrders"))
                .count()
        };
        let place = |w: &mut World, id: &str, qty, price| {
            let order = OrderRequest::limit("BTCUSDT", Side::Buy, qty, price).with_client_order_id(cid(id));
            w.engine.submit(w.now, Intent::new(order)).unwrap();
            w.pump();
            assert_eq!(w.engine.order_state(&cid(id)), Some(OrderState::New), "ed25519 {ed25519}");
        };
        // Start-up's read of the open orders goes over REST, before the session stands.
        let at_start = rest_about_orders(&w);
        place(&mut w, "a", dec!(0.02), dec!(64000));
        // Amend keep-priority: half the quantity, half the reservation back.
        w.engine.amend(w.now, &cid("a"), dec!(0.01)).unwrap();
        w.pump();
        assert_eq!(ws(&w, "order.amend.keepPriority"), 1, "ed25519 {ed25519}: {:?}", w.sent);
        assert_eq!(w.engine.orders().get(&cid("a")).unwrap().qty, Some(dec!(0.01)));
        assert_eq!(w.ledger("USDT"), w.paper.balance("USDT"), "ed25519 {ed25519}");
        // Cancel.
        w.engine.cancel(w.now, &cid("a")).unwrap();
        w.pump();
        assert_eq!(ws(&w, "order.cancel"), 1, "ed25519 {ed25519}");
        assert_eq!(w.engine.order_state(&cid("a")), Some(OrderState::Canceled));
        assert_eq!(w.ledger("USDT"), w.paper.balance("USDT"), "ed25519 {ed25519}");
        // Cancel-all.
        place(&mut w, "b", dec!(0.01), dec!(63000));
        place(&mut w, "c", dec!(0.01), dec!(62000));
        w.engine.cancel_all(w.now, "BTCUSDT");
        w.pump();
        assert_eq!(ws(&w, "openOrders.cancelAll"), 1, "ed25519 {ed25519}");
        for id in ["b", "c"] {
            assert_eq!(w.engine.order_state(&cid(id)), Some(OrderState::Canceled), "ed25519 {ed25519}: {id}");
        }
        assert_eq!(w.ledger("USDT"), w.paper.balance("USDT"), "ed25519 {ed25519}");
        // An order whose frame never reached the exchange: after the reply timeout it is
        // queried over the connection, and declared not placed once its deadline passed.
        let order = OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.01), dec!(61000)).with_client_order_id(cid("d"));
        w.engine.submit(w.now, Intent::new(order)).unwrap();
        let Output::Ws { text } = w.engine.poll_output() else { panic!("the order should leave on the connection") };
        assert!(text.contains("order.place"), "{text}");
        for _ in 0..40 {
            w.wait(1_000);
        }
        assert!(ws(&w, "order.status") >= 1, "ed25519 {ed25519}: queried over the connection: {:?}", w.sent);
        assert_eq!(w.engine.order_state(&cid("d")), Some(OrderState::NotPlaced), "ed25519 {ed25519}");
        assert_eq!(w.paper.orders_with_client_id("BTCUSDT", "d"), 0);
        assert_eq!(rest_about_orders(&w), at_start, "ed25519 {ed25519}: no REST request about orders: {:?}", w.sent);
        assert_eq!(w.ledger("USDT"), w.paper.balance("USDT"), "ed25519 {ed25519}");
        // A cancel whose answer is lost with the connection: queried over REST, found canceled,
        // never sent twice.
        place(&mut w, "e", dec!(0.01), dec!(60000));
        w.engine.cancel(w.now, &cid("e")).unwrap();
        let Output::Ws { text } = w.engine.poll_output() else { panic!("the cancel should leave on the connection") };
        assert!(text.contains("order.cancel"), "{text}");
        w.paper.ws_send(w.now, w.conn, &text);
        while w.paper.ws_poll(w.conn).is_some() {}
        w.engine.handle_ws_closed(w.now);
        for _ in 0..10 {
            w.wait(1_000);
        }
        assert_eq!(w.engine.order_state(&cid("e")), Some(OrderState::Canceled), "ed25519 {ed25519}");
        assert!(w.sent.iter().any(|(m, p)| m == "GET" && p == "/api/v3/order"), "queried over REST: {:?}", w.sent);
        assert!(!w.sent.iter().any(|(m, p)| m == "DELETE" && p == "/api/v3/order"), "never canceled twice");
        assert_eq!(w.ledger("USDT"), w.paper.balance("USDT"), "ed25519 {ed25519}");
    }
}

/// A wide book on BTCUSDT (bids 64,000, asks 66,000): the engine's own orders inside the spread
/// meet each other (and a trade group's) before the market.
fn wide_book(w: &mut World) {
    use aegis_exchange::rest::{DepthSnapshot, Level};
    let level = |p, q| Level { price: p, qty: q };
    let book = DepthSnapshot {
        last_update_id: 1,
        bids: vec![level(dec!(64000), dec!(5))],
        asks: vec![level(dec!(66000), dec!(5))],
    };
    assert!(w.paper.replay_snapshot(w.now, "BTCUSDT", &book));
}

/// A LIMIT order on BTCUSDT with self-trade prevention mode `stp`, submitted and carried.
fn place_stp(
    w: &mut World,
    id: &str,
    side: Side,
    qty: rust_decimal::Decimal,
    price: rust_decimal::Decimal,
    stp: aegis_exchange::SelfTradePreventionMode,
) {
    let order = OrderRequest::limit("BTCUSDT", side, qty, price)
        .with_client_order_id(cid(id))
        .with_self_trade_prevention_mode(stp);
    w.engine.submit(w.now, Intent::new(order)).unwrap();
    w.pump();
}

/// Self-trade prevention between the engine's own orders: what it takes from an order can no
/// longer trade and its reservation is released (a `DECREMENT` taking part of a resting buy:
/// exactly that part; an order expired `EXPIRED_IN_MATCH`: the rest), whether the engine
/// learns it from the answer or from the `TRADE_PREVENTION` event; the ledger equals the
/// exchange after each step.
#[test]
fn self_trade_prevention_releases_what_can_no_longer_trade() {
    use aegis_exchange::SelfTradePreventionMode as Stp;
    let mut w = world();
    wide_book(&mut w);
    let place = place_stp;
    let matches = |w: &World| {
        for asset in ["USDT", "BTC"] {
            assert_eq!(w.ledger(asset), w.paper.balance(asset), "{asset}");
        }
    };
    place(&mut w, "stp-m", Side::Buy, dec!(0.06), dec!(65100), Stp::Decrement);
    assert_eq!(w.engine.order_state(&cid("stp-m")), Some(OrderState::New));
    matches(&w);
    // DECREMENT: the sell (0.02) expires whole; the buy keeps 0.04 to trade.
    place(&mut w, "stp-t", Side::Sell, dec!(0.02), dec!(65100), Stp::Decrement);
    assert_eq!(w.engine.order_state(&cid("stp-t")), Some(OrderState::ExpiredInMatch));
    let maker = w.engine.orders().get(&cid("stp-m")).unwrap().clone();
    assert_eq!((maker.state, maker.prevented_qty), (OrderState::New, dec!(0.02)));
    assert_eq!(w.ledger("USDT").locked, dec!(0.04) * dec!(65100));
    matches(&w);
    // EXPIRE_MAKER: the rest of the buy expires; the sell rests.
    place(&mut w, "stp-t2", Side::Sell, dec!(0.01), dec!(65000), Stp::ExpireMaker);
    assert_eq!(w.engine.order_state(&cid("stp-m")), Some(OrderState::ExpiredInMatch));
    assert_eq!(w.engine.order_state(&cid("stp-t2")), Some(OrderState::New));
    assert_eq!(w.ledger("USDT").locked, dec!(0));
    matches(&w);
}

/// STP `TRANSFER` between two accounts of a trade group (Binance's STP FAQ, scenario H): when
/// both orders say `TRANSFER`, the prevented quantity and its notional move between the
/// accounts. No user-data field says whether a transfer happened (the other account's mode is
/// not shown), so the tracker holds a `TRANSFER` order's prevented funds and the engine asks
/// `myPreventedMatches` for the mode that acted, the other order and the price, and books
/// what moved. Attacked here: the engine as taker and as maker, the other order not
/// saying `TRANSFER` (a `DECREMENT`: nothing moves), a transfer between the account's own
/// orders (nothing moves), and a transfer while other orders are in flight. The ledger equals
/// the exchange after each step; the two accounts together keep every unit.
#[test]
fn stp_transfer_between_accounts_of_a_trade_group_is_booked_as_the_exchange_books_it() {
    use aegis_exchange::SelfTradePreventionMode as Stp;
    let info = info::with_stp_transfer();
    let config = PaperConfig::default()
        .with_walk(WalkConfig { step_ms: 0, ..WalkConfig::default() })
        .with_exchange_info(info.clone())
        .unwrap()
        .with_price("BTCUSDT", dec!(65000))
        .with_trade_group(7);
    let mut paper = PaperExchange::new(config, NOW);
    paper.add_api_key("engineKey", PaperKey::hmac("engineSecret"));
    paper.deposit(NOW, "USDT", dec!(100000));
    paper.deposit(NOW, "BTC", dec!(1));
    paper.sibling_deposit("USDT", dec!(100000)).unwrap();
    paper.sibling_deposit("BTC", dec!(1)).unwrap();
    let mut w = world_on(paper, &info);
    wide_book(&mut w);
    let place = place_stp;
    let matches = |w: &World, step: &str| {
        for asset in ["USDT", "BTC"] {
            assert_eq!(w.ledger(asset), w.paper.balance(asset), "{step}: {asset}");
            let both = w.paper.balance(asset).free
                + w.paper.balance(asset).locked
                + w.paper.sibling_balance(asset).free
                + w.paper.sibling_balance(asset).locked;
            let start = if asset == "USDT" { dec!(200000) } else { dec!(2) };
            assert_eq!(both, start, "{step}: the group keeps every unit of {asset}");
        }
    };
    let transferred = |w: &mut World| -> Vec<(String, rust_decimal::Decimal)> {
        let out = w
            .events
            .iter()
            .filter_map(|e| match e {
                Event::Transferred { asset, amount } => Some((asset.clone(), *amount)),
                _ => None,
            })
            .collect();
        w.events.clear();
        out
    };
    let usdt = w.paper.balance("USDT");
    let btc = w.paper.balance("BTC");
    let _ = transferred(&mut w);

    // The engine takes: the other account's TRANSFER buy rests, the engine's TRANSFER sell
    // meets it. 0.02 BTC goes out, 0.02 × 65100 USDT comes in.
    let sibling_buy =
        w.paper.sibling_place(w.now, "BTCUSDT", Side::Buy, dec!(0.06), dec!(65100), Stp::Transfer).unwrap().unwrap();
    place(&mut w, "tr-t", Side::Sell, dec!(0.02), dec!(65100), Stp::Transfer);
    assert_eq!(w.engine.order_state(&cid("tr-t")), Some(OrderState::ExpiredInMatch));
    assert_eq!(w.paper.sibling_order_left(sibling_buy), Some(dec!(0.04)));
    assert_eq!(w.paper.balance("BTC").free, btc.free - dec!(0.02));
    assert_eq!(w.paper.balance("USDT").free, usdt.free + dec!(1302));
    matches(&w, "engine takes");
    let mut moved = transferred(&mut w);
    moved.sort();
    assert_eq!(moved, vec![("BTC".to_owned(), dec!(-0.02)), ("USDT".to_owned(), dec!(1302))]);

    // The engine makes: its TRANSFER buy rests, the other account's TRANSFER sell meets it at
    // the buy's price: 0.03 BTC comes in, 0.03 × 65050 USDT goes out, the buy rests with less.
    place(&mut w, "tr-m", Side::Buy, dec!(0.05), dec!(65050), Stp::Transfer);
    matches(&w, "maker rests");
    let _ = transferred(&mut w);
    let rests = w.paper.sibling_place(w.now, "BTCUSDT", Side::Sell, dec!(0.03), dec!(65000), Stp::Transfer).unwrap();
    assert_eq!(rests, None, "the sell was taken whole by prevention");
    w.pump();
    let maker = w.engine.orders().get(&cid("tr-m")).unwrap().clone();
    assert_eq!((maker.state, maker.prevented_qty), (OrderState::New, dec!(0.03)));
    matches(&w, "engine makes");
    let mut moved = transferred(&mut w);
    moved.sort();
    assert_eq!(moved, vec![("BTC".to_owned(), dec!(0.03)), ("USDT".to_owned(), dec!(-1951.5))]);
    assert_eq!(w.ledger("USDT").locked, dec!(0.02) * dec!(65050));

    // The other order says DECREMENT: a plain DECREMENT, nothing moves; the engine's check
    // finds nothing to book.
    let plain = w.paper.sibling_place(w.now, "BTCUSDT", Side::Sell, dec!(0.01), dec!(65050), Stp::Decrement).unwrap();
    assert_eq!(plain, None);
    w.pump();
    let maker = w.engine.orders().get(&cid("tr-m")).unwrap().clone();
    assert_eq!(maker.prevented_qty, dec!(0.04));
    matches(&w, "decrement");
    assert_eq!(transferred(&mut w), vec![]);

    // Between the account's own orders TRANSFER is DECREMENT: nothing moves, nothing booked
    // (the other account's buy, a better price for the sell, is taken off the book first).
    assert!(w.paper.sibling_cancel(sibling_buy));
    place(&mut w, "tr-own", Side::Sell, dec!(0.01), dec!(65050), Stp::Transfer);
    assert_eq!(w.engine.order_state(&cid("tr-own")), Some(OrderState::ExpiredInMatch));
    assert_eq!(w.engine.order_state(&cid("tr-m")), Some(OrderState::ExpiredInMatch));
    matches(&w, "own orders");
    assert_eq!(transferred(&mut w), vec![]);

    // A transfer while another order is still in flight: the account is asked once the
    // engine is at rest, not before; then booked.
    let sibling_sell =
        w.paper.sibling_place(w.now, "BTCUSDT", Side::Sell, dec!(0.05), dec!(65200), Stp::Transfer).unwrap().unwrap();
    let taker = OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.01), dec!(65200))
        .with_client_order_id(cid("tr-busy"))
        .with_self_trade_prevention_mode(Stp::Transfer);
    w.engine.submit(w.now, Intent::new(taker)).unwrap();
    let other =
        OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.01), dec!(60000)).with_client_order_id(cid("tr-busy2"));
    w.engine.submit(w.now, Intent::new(other)).unwrap();
    w.pump();
    assert_eq!(w.paper.sibling_order_left(sibling_sell), Some(dec!(0.04)));
    matches(&w, "busy");
    let mut moved = transferred(&mut w);
    moved.sort();
    assert_eq!(moved, vec![("BTC".to_owned(), dec!(0.01)), ("USDT".to_owned(), dec!(-652))]);
    let asked = |w: &World| w.sent.iter().filter(|(m, p)| m == "GET" && p == "/api/v3/myPreventedMatches").count();
    let before = asked(&w);
    assert!(before >= 5, "each prevented TRANSFER order asked for its matches: {:?}", w.sent);
    assert!(!w.engine.orders().has_holds(), "every hold accounted for");
    w.wait(10_000);
    assert_eq!(asked(&w), before, "settled: not asked again");
}

fn exit_oco(list: &str) -> aegis_exchange::OcoRequest {
    use aegis_exchange::{ListLeg, TimeInForce};
    aegis_exchange::OcoRequest::new(
        "BTCUSDT",
        Side::Sell,
        dec!(0.2),
        ListLeg::limit_maker(dec!(70000)).with_client_order_id(cid(&format!("{list}-tp"))),
        ListLeg::stop_loss_limit(dec!(59990), dec!(60000), TimeInForce::Gtc)
            .with_client_order_id(cid(&format!("{list}-sl"))),
    )
    .with_list_client_order_id(cid(list))
}

/// An order list whose answer is lost is asked for as a whole (`GET /api/v3/orderList` by its
/// `listClientOrderId`, one request for every leg), never sent again: found executing, its legs
/// are `New`; never arrived, it is not placed once its request's deadline has passed (the
/// funds come back); found ended, each leg is asked for. The ledger equals the exchange.
#[test]
fn an_order_list_whose_outcome_is_unknown_is_queried_as_a_list() {
    let ctx = aegis_exchange::MarketContext::default().with_last_price(dec!(65000)).with_reference_price(dec!(65000));
    let leg_queries = |w: &World| w.sent.iter().filter(|(m, p)| m == "GET" && p == "/api/v3/order").count();
    let list_queries = |w: &World| w.sent.iter().filter(|(m, p)| m == "GET" && p == "/api/v3/orderList").count();
    let posts = |w: &World| w.sent.iter().filter(|(m, p)| m == "POST" && p.starts_with("/api/v3/orderList")).count();

    // The user-data stream is away (its events would tell the outcome otherwise).
    let away = |w: &mut World| {
        w.engine.handle_ws_closed(w.now);
        w.paper.ws_close(w.conn);
    };
    // Placed, its answer lost.
    let mut w = world();
    away(&mut w);
    w.paper.inject(Fault::DropResponse);
    w.engine.submit_oco(w.now, exit_oco("lq-a"), &ctx).unwrap();
    w.pump();
    for leg in ["lq-a-tp", "lq-a-sl"] {
        assert_eq!(w.engine.order_state(&cid(leg)), Some(OrderState::Unknown));
    }
    for _ in 0..20 {
        w.wait(1_000);
    }
    for leg in ["lq-a-tp", "lq-a-sl"] {
        assert_eq!(w.engine.order_state(&cid(leg)), Some(OrderState::New), "{leg}");
        assert_eq!(w.paper.orders_with_client_id("BTCUSDT", leg), 1, "never sent again");
    }
    assert_eq!((list_queries(&w), leg_queries(&w), posts(&w)), (1, 0, 1), "{:?}", w.sent);
    assert_eq!(w.ledger("BTC"), w.paper.balance("BTC"));

    // Never arrived: asked for until its deadline has passed, then not placed.
    let mut w = world();
    away(&mut w);
    w.paper.inject(Fault::DropRequest);
    w.engine.submit_oco(w.now, exit_oco("lq-b"), &ctx).unwrap();
    w.pump();
    assert_eq!(w.ledger("BTC").locked, dec!(0.2));
    for _ in 0..40 {
        w.wait(1_000);
    }
    for leg in ["lq-b-tp", "lq-b-sl"] {
        assert_eq!(w.engine.order_state(&cid(leg)), Some(OrderState::NotPlaced), "{leg}");
    }
    assert!(list_queries(&w) >= 1 && leg_queries(&w) == 0, "{:?}", w.sent);
    assert_eq!(w.ledger("BTC"), w.paper.balance("BTC"), "the funds came back");
    assert_eq!(w.ledger("BTC").locked, dec!(0));

    // Placed, answer lost, and ended before the query (the take-profit filled while the
    // user-data stream was away, the stop expired): found ended, each leg is asked for.
    let mut w = world();
    away(&mut w);
    w.paper.inject(Fault::DropResponse);
    w.engine.submit_oco(w.now, exit_oco("lq-c"), &ctx).unwrap();
    w.pump();
    w.paper.set_price(w.now, "BTCUSDT", dec!(70100));
    for _ in 0..20 {
        w.wait(1_000);
    }
    assert_eq!(w.paper.order_status("BTCUSDT", "lq-c-tp"), Some(aegis_exchange::OrderStatus::Filled));
    assert_eq!(w.engine.order_state(&cid("lq-c-tp")), Some(OrderState::Filled));
    assert_eq!(w.engine.order_state(&cid("lq-c-sl")), Some(OrderState::Expired));
    assert!(list_queries(&w) >= 1 && leg_queries(&w) >= 2, "{:?}", w.sent);
    assert_eq!(w.ledger("BTC"), w.paper.balance("BTC"));
}

/// An order test leaves through the gate as `POST /api/v3/order/test` (weight 20 with the
/// commission rates), its answer arrives as `Event::OrderTested`, and nothing is reserved or
/// tracked; an order the rules refuse is not sent.
#[test]
fn an_order_test_goes_through_the_gate_and_reserves_nothing() {
    use aegis_exchange::TestOutcome;
    let mut w = world();
    let locked = w.ledger("USDT").locked;
    let used = |w: &World| w.engine.limiter().metrics(w.now).windows.iter().map(|u| u.used).max().unwrap_or(0);
    let before = used(&w);
    let order = OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.01), dec!(60000));
    let test = w.engine.test_order(w.now, Intent::new(order), true).unwrap();
    w.pump();
    assert_eq!(w.sent.iter().filter(|(m, p)| m == "POST" && p == "/api/v3/order/test").count(), 1);
    assert!(used(&w) >= before + 20, "charged its weight");
    let outcome = w
        .events
        .iter()
        .find_map(|e| match e {
            Event::OrderTested { test: t, outcome } if *t == test => Some(outcome.clone()),
            _ => None,
        })
        .unwrap();
    assert!(matches!(outcome, TestOutcome::Accepted(Some(_))), "{outcome:?}");
    assert_eq!(w.ledger("USDT").locked, locked);
    assert_eq!(w.engine.orders().open().count(), 0);
    let dust = OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.0000001), dec!(60000));
    assert!(w.engine.test_order(w.now, Intent::new(dust), false).is_err());
}

/// Pegged orders: the price is the exchange's (from its book when the order arrives), so a buy
/// is reserved by the caller's price bound and its lock follows the pegged price once the
/// answer tells it, down or up; a sell locks its quantity. The ledger equals the exchange after
/// every step, whichever channel carries the orders (REST, the WebSocket API signed or on a
/// logged-on session). Without a bound a pegged buy is refused (nothing to reserve by); on a
/// symbol without `pegInstructionsAllowed` nothing is sent.
#[test]
fn pegged_orders_lock_what_the_exchange_locks() {
    let info = info::with_pegs();
    for channel in ["rest", "ws-ed25519", "ws-hmac"] {
        let w = match channel {
            "rest" => world_with(&info),
            "ws-ed25519" => ws_world_with(true, &info),
            _ => ws_world_with(false, &info),
        };
        pegged_orders_in(w, channel);
    }
}

fn pegged_orders_in(mut w: World, channel: &str) {
    use aegis_exchange::rest::{DepthSnapshot, Level};
    use aegis_exchange::{FilterError, OrdersError, PegPriceType};
    // Not allowed on the symbol: refused before anything leaves.
    let mut plain = world();
    let sent = plain.sent.len();
    let pegged = OrderRequest::pegged("BTCUSDT", Side::Buy, dec!(0.1), PegPriceType::PrimaryPeg);
    let refused = plain.engine.submit(plain.now, Intent::new(pegged.clone()).with_price_bound(dec!(70000)));
    assert!(matches!(refused, Err(SubmitError::Filter(FilterError::PegNotAllowed))), "{refused:?}");
    plain.pump();
    assert_eq!(plain.sent.len(), sent);

    let level = |p, q| Level { price: p, qty: q };
    let book = DepthSnapshot {
        last_update_id: 1,
        bids: vec![level(dec!(64000), dec!(5)), level(dec!(63900), dec!(5))],
        asks: vec![level(dec!(66000), dec!(5)), level(dec!(66100), dec!(5))],
    };
    assert!(w.paper.replay_snapshot(w.now, "BTCUSDT", &book));
    let matches = |w: &World| {
        for asset in ["USDT", "BTC"] {
            assert_eq!(w.ledger(asset), w.paper.balance(asset), "{channel}: {asset}");
        }
    };
    // No bound: nothing to reserve a buy by.
    let refused = w.engine.submit(w.now, Intent::new(pegged.clone()));
    assert!(matches!(refused, Err(SubmitError::Orders(OrdersError::NeedsPriceBound))), "{refused:?}");
    // Reserved at 70000, pegged at the best bid (64000): the difference comes back.
    let high = w
        .engine
        .submit(w.now, Intent::new(pegged.clone().with_client_order_id(cid("peg-high"))).with_price_bound(dec!(70000)))
        .unwrap();
    w.pump();
    assert_eq!(w.engine.order_state(&high), Some(OrderState::New));
    assert_eq!(w.ledger("USDT").locked, dec!(6400));
    matches(&w);
    // Reserved at 60000, pegged one level deeper than the best bid (63900): more is locked.
    let low = w
        .engine
        .submit(
            w.now,
            Intent::new(pegged.clone().with_peg_offset(1).with_client_order_id(cid("peg-low")))
                .with_price_bound(dec!(60000)),
        )
        .unwrap();
    w.pump();
    assert_eq!(w.engine.order_state(&low), Some(OrderState::New));
    assert_eq!(w.ledger("USDT").locked, dec!(6400) + dec!(6390));
    matches(&w);
    // A sell pegged to the other side (the best bid, 64000) takes it at once.
    let sell = OrderRequest::pegged("BTCUSDT", Side::Sell, dec!(0.05), PegPriceType::MarketPeg)
        .with_time_in_force(aegis_exchange::TimeInForce::Ioc)
        .with_client_order_id(cid("peg-sell"));
    let sell = w.engine.submit(w.now, Intent::new(sell)).unwrap();
    w.pump();
    assert_eq!(w.engine.order_state(&sell), Some(OrderState::Filled));
    matches(&w);
    // Canceled: everything comes back.
    for id in [high, low] {
        w.engine.cancel(w.now, &id).unwrap();
        w.pump();
        assert_eq!(w.engine.order_state(&id), Some(OrderState::Canceled));
    }
    assert_eq!(w.ledger("USDT").locked, dec!(0));
    matches(&w);
    // A pegged stop-limit buy's lock would change at its trigger with no event to say so: refused
    // (with or without a price of its own). A pegged stop-limit sell locks its quantity: taken, and
    // when it triggers it rests at the best ask of that moment, the ledger still equal.
    let stop = |id: &str, side: Side, stop: rust_decimal::Decimal| {
        OrderRequest::new("BTCUSDT", side, aegis_exchange::OrderType::StopLossLimit)
            .with_quantity(dec!(0.01))
            .with_stop_price(stop)
            .with_time_in_force(aegis_exchange::TimeInForce::Gtc)
            .with_peg(PegPriceType::PrimaryPeg)
            .with_client_order_id(cid(id))
    };
    for order in
        [stop("peg-stop-x", Side::Buy, dec!(67000)), stop("peg-stop-y", Side::Buy, dec!(67000)).with_price(dec!(68000))]
    {
        let refused = w.engine.submit(w.now, Intent::new(order).with_price_bound(dec!(70000)));
        assert!(matches!(refused, Err(SubmitError::Orders(OrdersError::PeggedStopBuy))), "{refused:?}");
    }
    let id = w.engine.submit(w.now, Intent::new(stop("peg-stop", Side::Sell, dec!(63000)))).unwrap();
    w.pump();
    assert_eq!(w.engine.order_state(&id), Some(OrderState::New));
    matches(&w);
    w.now += 1_000;
    w.paper.set_price(w.now, "BTCUSDT", dec!(62900));
    w.pump();
    assert_eq!(w.paper.order_status("BTCUSDT", "peg-stop"), Some(aegis_exchange::OrderStatus::New));
    matches(&w);
    // Over the WebSocket API, no order went by REST.
    let rest_posts = w.posts();
    assert_eq!(rest_posts == 0, channel != "rest", "{channel}: {:?}", w.sent);
}

/// Smart order routing through the engine (`Engine::submit_sor`), over REST and both WebSocket
/// API modes (`sor.order.place`, whose answer is an array): the fills come by allocation
/// (`tradeId` -1, each its own `allocId`), and each moves money once, so the ledger equals the
/// exchange; an order SOR does not take, or a symbol in no SOR group, is refused before
/// anything is sent.
#[test]
fn sor_orders_fill_by_allocations_and_the_ledger_follows() {
    use aegis_exchange::SorRefusal;
    use aegis_exchange::rest::{DepthSnapshot, Level};
    let info = info::with_sor();
    for channel in ["rest", "ws-ed25519", "ws-hmac"] {
        let mut w = match channel {
            "rest" => world_with(&info),
            "ws-ed25519" => ws_world_with(true, &info),
            _ => ws_world_with(false, &info),
        };
        let level = |p, q| Level { price: p, qty: q };
        for (symbol, ask) in [("BTCUSDT", dec!(66000)), ("BTCUSDC", dec!(64000)), ("BTCUSDP", dec!(65000))] {
            let book = DepthSnapshot {
                last_update_id: 1,
                bids: vec![level(dec!(60000), dec!(1))],
                asks: vec![level(ask, dec!(0.05))],
            };
            assert!(w.paper.replay_snapshot(w.now, symbol, &book));
        }
        let matches = |w: &World| {
            for asset in ["USDT", "BTC"] {
                assert_eq!(w.ledger(asset), w.paper.balance(asset), "{channel}: {asset}");
            }
        };
        // 0.12 at 66,500: 0.05 at 64,000 (BTCUSDC), 0.05 at 65,000 (BTCUSDP), 0.02 at 66,000.
        let buy = OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.12), dec!(66500)).with_client_order_id(cid("sor-b"));
        let id = w.engine.submit_sor(w.now, Intent::new(buy)).unwrap();
        w.pump();
        assert_eq!(w.engine.order_state(&id), Some(OrderState::Filled), "{channel}");
        let view = w.engine.orders().get(&id).unwrap().clone();
        assert_eq!((view.traded_qty, view.reservation), (dec!(0.12), None), "{channel}: every allocation settled");
        let spent = dec!(0.05) * dec!(64000) + dec!(0.05) * dec!(65000) + dec!(0.02) * dec!(66000);
        assert_eq!(view.cumulative_quote_qty, spent, "{channel}");
        matches(&w);
        // A GTC rest stays on BTCUSDT's own book.
        let rest = OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.1), dec!(61000)).with_client_order_id(cid("sor-r"));
        let id = w.engine.submit_sor(w.now, Intent::new(rest)).unwrap();
        w.pump();
        assert_eq!(w.engine.order_state(&id), Some(OrderState::New), "{channel}");
        matches(&w);
        // Refused before anything leaves.
        let sent = w.sent.len();
        let maker = OrderRequest::limit_maker("BTCUSDT", Side::Buy, dec!(0.1), dec!(60000));
        let refused = w.engine.submit_sor(w.now, Intent::new(maker));
        assert!(
            matches!(
                refused,
                Err(SubmitError::NotRoutable(SorRefusal::OrderType(aegis_exchange::OrderType::LimitMaker)))
            ),
            "{refused:?}"
        );
        let other = OrderRequest::limit("ETHUSDT", Side::Buy, dec!(0.1), dec!(2000));
        assert!(matches!(
            w.engine.submit_sor(w.now, Intent::new(other)),
            Err(SubmitError::NotRoutable(SorRefusal::NoSorGroup))
        ));
        w.pump();
        assert_eq!(w.sent.len(), sent, "{channel}");
        let over = |p: &str| w.sent.iter().filter(|(m, q)| m == "WS" && q == p).count();
        assert_eq!(over("sor.order.place") == 2, channel != "rest", "{channel}: {:?}", w.sent);
        let rest_sor = w.sent.iter().filter(|(m, p)| m == "POST" && p == "/api/v3/sor/order").count();
        assert_eq!(rest_sor == 2, channel == "rest", "{channel}");
    }

    // The answer lost and the user-data stream away: the order is queried (found filled) and
    // its fills, all allocations, are fetched from `myAllocations` (`myTrades` has none).
    let mut w = world_with(&info);
    let level = |p, q| Level { price: p, qty: q };
    for (symbol, ask) in [("BTCUSDT", dec!(66000)), ("BTCUSDC", dec!(64000))] {
        let book = DepthSnapshot {
            last_update_id: 1,
            bids: vec![level(dec!(60000), dec!(1))],
            asks: vec![level(ask, dec!(1))],
        };
        assert!(w.paper.replay_snapshot(w.now, symbol, &book));
    }
    w.engine.handle_ws_closed(w.now);
    w.paper.ws_close(w.conn);
    w.paper.inject(Fault::DropResponse);
    let buy = OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.05), dec!(65000)).with_client_order_id(cid("sor-lost"));
    let id = w.engine.submit_sor(w.now, Intent::new(buy)).unwrap();
    w.pump();
    assert_eq!(w.engine.order_state(&id), Some(OrderState::Unknown));
    for _ in 0..30 {
        w.now += 1_000;
        w.engine.handle_timeout(w.now);
        w.pump();
    }
    let view = w.engine.orders().get(&id).unwrap().clone();
    assert_eq!((view.state, view.traded_qty, view.reservation), (OrderState::Filled, dec!(0.05), None));
    assert!(w.sent.iter().any(|(m, p)| m == "GET" && p == "/api/v3/myAllocations"), "{:?}", w.sent);
    for asset in ["USDT", "BTC"] {
        assert_eq!(w.ledger(asset), w.paper.balance(asset), "{asset}");
    }
}

/// Pegged legs in lists through the engine: an OCO SELL with a pegged take-profit and a pegged
/// stop-limit locks its quantity, as the exchange does, and the ledger equals the exchange when
/// the stop triggers and pegs; a list with a pegged buy leg is refused before anything is sent
/// (its lock would follow a price the list's one reservation cannot).
#[test]
fn pegged_list_legs_sell_side_and_refused_buys() {
    use aegis_exchange::rest::{DepthSnapshot, Level};
    use aegis_exchange::{ListLeg, OcoRequest, OrdersError, OtoRequest, PegPriceType, TimeInForce};
    let mut w = world_with(&info::with_pegs());
    let level = |p, q| Level { price: p, qty: q };
    let book = DepthSnapshot {
        last_update_id: 1,
        bids: vec![level(dec!(64000), dec!(5))],
        asks: vec![level(dec!(66000), dec!(5)), level(dec!(66100), dec!(5))],
    };
    assert!(w.paper.replay_snapshot(w.now, "BTCUSDT", &book));
    let ctx = aegis_exchange::MarketContext::default().with_last_price(dec!(65000)).with_reference_price(dec!(65000));
    let oco = OcoRequest::new(
        "BTCUSDT",
        Side::Sell,
        dec!(0.02),
        ListLeg::pegged_maker().with_peg_offset(1).with_client_order_id(cid("plo-tp")),
        ListLeg::stop_loss_limit(dec!(1), dec!(63000), TimeInForce::Gtc)
            .with_peg(PegPriceType::PrimaryPeg)
            .without_price()
            .with_client_order_id(cid("plo-sl")),
    )
    .with_list_client_order_id(cid("plo"));
    w.engine.submit_oco(w.now, oco, &ctx).unwrap();
    w.pump();
    assert_eq!(w.engine.order_state(&cid("plo-tp")), Some(OrderState::New));
    assert_eq!(w.paper.order_qty("BTCUSDT", "plo-tp"), Some(dec!(0.02)));
    assert_eq!(w.ledger("BTC").locked, dec!(0.02));
    assert_eq!(w.ledger("BTC"), w.paper.balance("BTC"));
    w.now += 1_000;
    w.paper.set_price(w.now, "BTCUSDT", dec!(62900));
    w.pump();
    assert_eq!(w.engine.order_state(&cid("plo-tp")), Some(OrderState::Expired));
    for asset in ["BTC", "USDT"] {
        assert_eq!(w.ledger(asset), w.paper.balance(asset), "{asset}");
    }
    // A pegged buy leg: refused, nothing sent.
    let sent = w.sent.len();
    let oto = OtoRequest::oto(
        "BTCUSDT",
        Side::Buy,
        dec!(0.01),
        ListLeg::pegged_maker(),
        Side::Sell,
        dec!(0.01),
        ListLeg::limit_maker(dec!(70000)),
    );
    let refused = w.engine.submit_list(w.now, oto, &ctx);
    assert!(matches!(refused, Err(SubmitError::Orders(OrdersError::PeggedListBuy))), "{refused:?}");
    w.pump();
    assert_eq!(w.sent.len(), sent);
}

/// Canceling one leg of an OCO: the exchange cancels the list and answers with the list's
/// cancel (web-socket-api.md "Cancel order", as the paper exchange does); the engine reads both
/// legs' reports from that answer, asks nothing more, and the ledger equals the exchange.
#[test]
fn canceling_one_leg_reads_the_canceled_list_from_the_answer() {
    use aegis_exchange::{ListLeg, OcoRequest, TimeInForce};
    let mut w = world();
    let ctx = aegis_exchange::MarketContext::default().with_last_price(dec!(65000)).with_reference_price(dec!(65000));
    let oco = OcoRequest::new(
        "BTCUSDT",
        Side::Sell,
        dec!(0.02),
        ListLeg::limit_maker(dec!(70000)).with_client_order_id(cid("leg-tp")),
        ListLeg::stop_loss_limit(dec!(59990), dec!(60000), TimeInForce::Gtc).with_client_order_id(cid("leg-sl")),
    )
    .with_list_client_order_id(cid("legs"));
    w.engine.submit_oco(w.now, oco, &ctx).unwrap();
    w.pump();
    assert_eq!(w.engine.order_state(&cid("leg-sl")), Some(OrderState::New));
    assert_eq!(w.ledger("BTC").locked, dec!(0.02));
    let before = w.sent.len();
    w.now += 100;
    w.engine.cancel(w.now, &cid("leg-sl")).unwrap();
    w.pump();
    let after: Vec<_> = w.sent.iter().skip(before).collect();
    assert_eq!(after.first().map(|(m, p)| (m.as_str(), p.as_str())), Some(("DELETE", "/api/v3/order")), "{after:?}");
    assert!(!after.iter().any(|(m, p)| m == "GET" && p == "/api/v3/order"), "the answer was read: {after:?}");
    for leg in ["leg-sl", "leg-tp"] {
        assert_eq!(w.engine.order_state(&cid(leg)), Some(OrderState::Canceled), "{leg}");
    }
    for asset in ["BTC", "USDT"] {
        assert_eq!(w.ledger(asset), w.paper.balance(asset), "{asset}");
    }
    assert_eq!(w.ledger("BTC").locked, dec!(0));
}
