//! The user-data connection's policy lives in the sans-IO engine: replayed here with plain
//! integers for time against the paper exchange, the harness only performing what the engine asks
//! (`Output::WsConnect`, `Output::WsClose`). A silent connection is replaced at once, an old one
//! and one whose server announced `serverShutdown` are renewed make-before-break, a refused
//! connect backs off; across every swap the order path keeps the ledger equal to the exchange.

use aegis_exchange::Balance;
use aegis_exchange::OrderState;
use aegis_exchange::rest::Environment;
use aegis_exchange::sign::{Credentials, HmacSha256};
use aegis_exchange::{BUNDLED_EXCHANGE_INFO, ClientOrderId, ExchangeInfo, OrderRequest, Side};
use aegis_exchange::{Backoff, CloseReason, ConnectionConfig};
use aegis_exchange::{Engine, EngineConfig, Event, HttpResult, Intent, Output};
use aegis_paper::{Delivery, PaperConfig, PaperExchange, PaperKey, WalkConfig, WsFault, WsOut};
use rust_decimal_macros::dec;
use std::time::Duration;

const NOW: i64 = 1_760_000_000_000;

struct Harness {
    engine: Engine,
    paper: PaperExchange,
    now: i64,
    /// The live connection, and the one being replaced.
    live: Option<u64>,
    retiring: Option<u64>,
    /// Connects the paper exchange refuses (it is "down").
    refuse_connects: bool,
    connects: usize,
    closes: Vec<CloseReason>,
    events: Vec<Event>,
}

impl Harness {
    fn new(connection: ConnectionConfig) -> Self {
        let config = PaperConfig::default()
            .with_walk(WalkConfig { step_ms: 0, ..WalkConfig::default() })
            .with_price("BTCUSDT", dec!(65000));
        let mut paper = PaperExchange::new(config, NOW);
        paper.add_api_key("connKey", PaperKey::hmac("connSecret"));
        paper.deposit(NOW, "USDT", dec!(10000));
        let creds = Credentials::new("connKey", HmacSha256::new("connSecret")).unwrap();
        let mut config = EngineConfig::new(Environment::Testnet, creds);
        config.connection = connection;
        config.max_user_stream_gap_ms = 600_000;
        let engine = Engine::new(config, ExchangeInfo::from_json(BUNDLED_EXCHANGE_INFO).unwrap());
        let mut h = Harness {
            engine,
            paper,
            now: NOW,
            live: None,
            retiring: None,
            refuse_connects: false,
            connects: 0,
            closes: Vec::new(),
            events: Vec::new(),
        };
        h.engine.start(NOW);
        h.pump();
        h
    }

    fn pump(&mut self) {
        for _ in 0..1000 {
            let mut moved = false;
            loop {
                match self.engine.poll_output() {
                    Output::Http { id, request } => {
                        moved = true;
                        let result = match self.paper.deliver(self.now, request) {
                            Delivery::Answer { response, .. } => HttpResult::Response(response),
                            Delivery::Dropped | Delivery::Lost => HttpResult::Unanswered,
                        };
                        self.engine.handle_http_response(self.now, id, result);
                    }
                    Output::Ws { text } => {
                        moved = true;
                        if let Some(conn) = self.live {
                            self.paper.ws_send(self.now, conn, &text);
                        }
                    }
                    Output::WsConnect => {
                        moved = true;
                        self.connects += 1;
                        let opened = if self.refuse_connects {
                            None
                        } else {
                            self.paper.ws_connect(self.now, "/ws-api/v3").ok()
                        };
                        match opened {
                            Some(conn) => {
                                self.retiring = self.live.replace(conn).or(self.retiring);
                                self.engine.handle_ws_open(self.now);
                            }
                            None => self.engine.handle_ws_connect_failed(self.now),
                        }
                    }
                    Output::WsClose(reason) => {
                        moved = true;
                        self.closes.push(reason);
                        let closing = match reason {
                            CloseReason::Replaced => self.retiring.take(),
                            CloseReason::Idle => self.live.take(),
                        };
                        if let Some(conn) = closing {
                            self.paper.ws_fault(self.now, conn, WsFault::Disconnect);
                        }
                    }
                    Output::Event(e) => self.events.push(e),
                    Output::Timeout(_) => break,
                }
            }
            for conn in [self.live, self.retiring].into_iter().flatten() {
                while let Some(frame) = self.paper.ws_poll(conn) {
                    moved = true;
                    match frame {
                        WsOut::Text(text) => self.engine.handle_ws_frame(self.now, text.as_bytes()),
                        WsOut::Close { .. } if Some(conn) == self.live => {
                            self.live = None;
                            self.engine.handle_ws_closed(self.now);
                            break;
                        }
                        WsOut::Close { .. } => break,
                    }
                }
            }
            if !moved {
                return;
            }
        }
        panic!("never settled");
    }

    fn wait(&mut self, ms: i64) {
        for _ in 0..ms / 500 {
            self.now += 500;
            self.paper.advance(self.now);
            self.engine.handle_timeout(self.now);
            self.pump();
        }
    }

    fn assert_ledger_equals_exchange(&self) {
        let ours = self.engine.ledger().balance_of("USDT").unwrap_or(Balance { free: dec!(0), locked: dec!(0) });
        assert_eq!(ours, self.paper.balance("USDT"));
    }
}

fn config(idle: Option<i64>, age: Option<i64>) -> ConnectionConfig {
    ConnectionConfig {
        backoff: Backoff { initial: Duration::from_millis(500), max: Duration::from_secs(8), seed: 3 },
        idle_timeout_ms: idle,
        max_age_ms: age,
    }
}

#[test]
fn the_engine_asks_for_its_connection_and_replaces_a_silent_one_at_once() {
    let mut h = Harness::new(config(Some(60_000), None));
    assert_eq!(h.connects, 1, "start-up asked for the user-data connection");
    assert!(h.engine.is_subscribed());
    // The in-process exchange sends no pings: after a minute of silence the connection is dead.
    h.wait(59_000);
    assert!(h.closes.is_empty());
    h.wait(2_000);
    assert_eq!(h.closes, [CloseReason::Idle]);
    assert_eq!(h.connects, 2, "replaced at once, no back-off");
    assert!(h.engine.is_subscribed(), "subscribed on the new connection");
    assert_eq!(h.engine.connection_stats().idle, 1);
    assert_eq!(h.engine.kill_switch(), None);
}

#[test]
fn renewal_by_age_and_on_server_shutdown_is_make_before_break_and_loses_nothing() {
    let mut h = Harness::new(config(None, Some(600_000)));
    let order = OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.01), dec!(64000))
        .with_client_order_id(ClientOrderId::new("renewed").unwrap());
    let id = h.engine.submit(h.now, Intent::new(order)).unwrap();
    h.pump();
    assert_eq!(h.engine.order_state(&id), Some(OrderState::New));
    let first = h.live;
    h.wait(600_000);
    // A second connection opened while the first was live; then the first was closed.
    assert_eq!(h.connects, 2);
    assert_eq!(h.closes, [CloseReason::Replaced]);
    assert_ne!(h.live, first);
    assert!(h.engine.is_subscribed());
    // The server announces its shutdown: renewed the same way.
    h.paper.ws_fault(h.now, h.live.unwrap(), WsFault::ServerShutdown);
    h.pump();
    assert_eq!(h.connects, 3);
    assert_eq!(h.closes, [CloseReason::Replaced, CloseReason::Replaced]);
    assert!(h.events.iter().any(|e| matches!(e, Event::ServerShutdown { .. })));
    // The order fills after both swaps: the event arrives on the new connection.
    h.now += 1000;
    h.paper.set_price(h.now, "BTCUSDT", dec!(63990));
    h.pump();
    assert_eq!(h.engine.order_state(&id), Some(OrderState::Filled));
    h.assert_ledger_equals_exchange();
    assert_eq!(h.engine.connection_stats().renewed, 2);
}

#[test]
fn refused_connects_back_off_and_the_stream_comes_back() {
    let mut h = Harness::new(config(None, None));
    h.refuse_connects = true;
    let conn = h.live.unwrap();
    h.paper.ws_fault(h.now, conn, WsFault::Disconnect);
    h.pump();
    assert!(!h.engine.is_subscribed());
    let before = h.connects;
    h.wait(20_000);
    let attempts = h.connects - before;
    // Back-off 0.5, 1, 2, 4, 8 s (jittered to half at least): a handful in 20 s, not hundreds.
    assert!((3..=8).contains(&attempts), "{attempts} attempts in 20 s");
    h.refuse_connects = false;
    h.wait(10_000);
    assert!(h.engine.is_subscribed());
    assert_eq!(h.engine.connection_stats().failed, u64::try_from(attempts).unwrap());
    h.assert_ledger_equals_exchange();
}
