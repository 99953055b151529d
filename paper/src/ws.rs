//! The paper exchange's WebSocket side, sans-IO: connections are ids, client frames go in with
//! [`PaperExchange::ws_send`], server frames come out of [`PaperExchange::ws_poll`].
//!
//! - Market streams (`/ws`, `/ws/<stream>`, `/stream?streams=a/b`): `SUBSCRIBE`,
//!   `UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, `SET_PROPERTY` / `GET_PROPERTY` (`combined`);
//!   `<symbol>@trade`, `@aggTrade`, `@bookTicker`, `@kline_<interval>[@+08:00]`, `@depth` /
//!   `@depth@100ms` diffs and `@depth5|10|20[@100ms]`, every 1000 ms `@miniTicker`, `@ticker`,
//!   `@ticker_<1h|4h|1d>`, `@avgPrice`, `@referencePrice` and the all-market
//!   `!miniTicker@arr` / `!ticker_<1h|4h|1d>@arr`, raw or in the combined
//!   `{"stream","data"}` wrapper, published from the simulated market as it moves.
//! - The WebSocket API (`/ws-api/v3`): the REST endpoints under their WS-API method names, with
//!   WS-API signing (sorted parameters, raw UTF-8), `session.logon` (Ed25519), `session.status`,
//!   `session.logout`, `userDataStream.subscribe` / `.subscribe.signature` / `.unsubscribe`,
//!   responses in the `{id,status,result|error,rateLimits}` envelope and user-data events in
//!   their `{"subscriptionId","event"}` wrapper.

use std::collections::{BTreeSet, HashMap, VecDeque};

use rust_decimal::Decimal;
use serde_json::Value;

use super::market::Level;
use super::reply::Reply;
use super::routes::{self, Endpoint};
use super::wire::{Obj, Params, array, json_string, levels_json};
use super::{PaperExchange, PaperKey};

/// A WebSocket connection to the paper exchange.
pub type ConnId = u64;

/// A frame from the paper exchange to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsOut {
    /// A text frame.
    Text(String),
    /// The server closes the connection (nothing follows).
    Close {
        /// The close code.
        code: u16,
        /// The reason.
        reason: String,
    },
}

/// Why a WebSocket connection was refused.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WsConnectError {
    /// No such endpoint.
    #[error("no WebSocket endpoint at {0}")]
    NotFound(String),
    /// The IP is banned (418).
    #[error("the IP is banned")]
    Banned,
}

/// A WebSocket fault ([`PaperExchange::ws_fault`]).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WsFault {
    /// The server drops the connection (close code 1006-style: abnormal).
    Disconnect,
    /// A poisoned market message on the connection: a trade with a `"NaN"` price and a candle
    /// with `{"c": null, "v": 0}`.
    Poison,
    /// A `serverShutdown` event: the client should reconnect.
    ServerShutdown,
}

/// At most this many frames wait per connection; a client that falls further behind is
/// disconnected, as Binance does with slow consumers.
const OUTBOX: usize = 10_000;
/// Binance's limit of streams per connection.
const MAX_STREAMS: usize = 1024;
/// Messages a stream connection may send in a second (Binance's limit; beyond it, disconnected).
const MAX_MESSAGES_PER_SECOND: u32 = 5;
/// A connection's longest life: Binance disconnects every connection at 24 hours.
const MAX_CONNECTION_MS: i64 = 24 * 3_600_000;

#[derive(Debug, Clone)]
enum Kind {
    /// `micros`: `timeUnit=MICROSECOND` in the URL (times in microseconds).
    Streams { combined: bool, subs: BTreeSet<String>, micros: bool },
    /// `micros`: `timeUnit=MICROSECOND` in the URL (results and events in microseconds);
    /// `rate_limits`: not `returnRateLimits=false` in the URL (answers carry `rateLimits`).
    Api {
        micros: bool,
        rate_limits: bool,
        session: Option<String>,
        logged_on_at: Option<i64>,
        user_sub: Option<u64>,
        next_sub: u64,
    },
}

#[derive(Debug, Clone)]
pub(super) struct Conn {
    kind: Kind,
    outbox: VecDeque<WsOut>,
    open: bool,
    connected_at: i64,
    /// Messages received in the current second (stream connections take at most 5).
    received: (i64, u32),
}

impl Conn {
    fn push(&mut self, frame: WsOut) {
        if !self.open {
            return;
        }
        if self.outbox.len() >= OUTBOX {
            self.outbox.clear();
            self.outbox.push_back(WsOut::Close { code: 1008, reason: "client too slow".to_owned() });
            self.open = false;
            return;
        }
        self.outbox.push_back(frame);
    }

    fn close(&mut self, code: u16, reason: &str) {
        self.push(WsOut::Close { code, reason: reason.to_owned() });
        self.open = false;
    }
}

/// What was last published of one symbol's market: the book as the real-time streams last saw
/// it (`bookTicker`), the last trade, and the book as each depth cadence last pushed it.
#[derive(Debug, Clone, Default)]
pub(super) struct Published {
    bids: Vec<Level>,
    asks: Vec<Level>,
    update_id: u64,
    trade_id: u64,
    /// `@depth@100ms` / `@depth<N>@100ms`, and `@depth` / `@depth<N>` (every 1000 ms).
    fast: DepthBase,
    slow: DepthBase,
}

/// The book a depth cadence last pushed, and when.
#[derive(Debug, Clone, Default)]
struct DepthBase {
    bids: Vec<Level>,
    asks: Vec<Level>,
    update_id: u64,
    at: i64,
}

/// The WebSocket state of the exchange.
#[derive(Debug, Clone, Default)]
pub(super) struct WsState {
    pub(super) conns: HashMap<ConnId, Conn>,
    next: ConnId,
    published: HashMap<String, Published>,
    /// When the 1000 ms streams (tickers, average and reference prices) were last pushed.
    stats_at: i64,
    /// Each symbol's last trade id at that push (the `!..@arr` streams carry only the symbols
    /// that changed).
    stats_seen: HashMap<String, u64>,
    /// Every stream an open connection subscribes to, kept between publishes (`None`: to be
    /// rebuilt). It may hold the streams of a connection closed since, which only costs frames
    /// that no connection takes.
    wanted: Option<std::sync::Arc<BTreeSet<String>>>,
}

/// The cadence of the ticker, average-price and reference-price streams.
const STATS_MS: i64 = 1000;

/// A stream event with its time fields in microseconds (`timeUnit=MICROSECOND`): `E`, a trade's
/// `T`, a kline's `t` and `T` (its last microsecond), a ticker's `O` and `C` (ids stay as they
/// are).
fn in_microseconds(data: &str) -> String {
    let kind = [
        "trade",
        "aggTrade",
        "kline",
        "24hrTicker",
        "24hrMiniTicker",
        "1hTicker",
        "4hTicker",
        "1dTicker",
        "avgPrice",
        "referencePrice",
    ]
    .into_iter()
    .find(|e| data.contains(&format!(r#""e":"{e}""#)));
    // Each time field and what its milliseconds gain: a kline's close time is its last
    // microsecond.
    let keys: &[(&str, &str)] = match kind {
        Some("trade" | "aggTrade" | "avgPrice") => &[("E", "000"), ("T", "000")],
        Some("referencePrice") => &[("t", "000")],
        Some("kline") => &[("E", "000"), ("t", "000"), ("T", "999")],
        Some(_) => &[("E", "000"), ("O", "000"), ("C", "000")],
        None => &[("E", "000")],
    };
    super::wire::times_in_microseconds(data, keys)
}

/// Whether `stream` is pushed every 1000 ms by [`PaperExchange::publish_stats`].
fn is_stats_stream(stream: &str) -> bool {
    if let Some(kind) = stream.strip_prefix('!').and_then(|s| s.strip_suffix("@arr")) {
        return matches!(kind, "miniTicker" | "ticker_1h" | "ticker_4h" | "ticker_1d");
    }
    stream.split_once('@').is_some_and(|(_, kind)| {
        super::klines::TICKER_STREAMS.contains(&kind) || kind == "avgPrice" || kind == "referencePrice"
    })
}

/// `btcusdt@trade` → `BTCUSDT` (the stream decoder's own reading; empty when it is no symbol).
fn stream_symbol(stream: &str) -> String {
    aegis_exchange::stream::symbol_of_stream(stream).map(|s| s.as_str().to_owned()).unwrap_or_default()
}

impl PaperExchange {
    /// Opens a WebSocket connection at `path` (`/ws`, `/ws/<stream>`,
    /// `/stream?streams=<a>/<b>`, `/ws-api/v3`).
    ///
    /// # Errors
    /// [`WsConnectError`] for an unknown path or a banned IP.
    pub fn ws_connect(&mut self, now: i64, path: &str) -> Result<ConnId, WsConnectError> {
        let now = self.server_time(now);
        self.tick(now);
        if self.throttle.banned_until(now).is_some() {
            return Err(WsConnectError::Banned);
        }
        let (route, query) = path.split_once('?').unwrap_or((path, ""));
        let arg = |name: &str| query.split('&').find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='));
        let micros = arg("timeUnit").is_some_and(|u| u.eq_ignore_ascii_case("MICROSECOND"));
        let kind = match route {
            "/ws-api/v3" => Kind::Api {
                micros,
                rate_limits: arg("returnRateLimits").is_none_or(|r| !r.eq_ignore_ascii_case("false")),
                session: None,
                logged_on_at: None,
                user_sub: None,
                next_sub: 0,
            },
            "/ws" => Kind::Streams { combined: false, subs: BTreeSet::new(), micros },
            "/stream" => {
                let streams = arg("streams").unwrap_or("");
                let subs = streams.split('/').filter(|s| !s.is_empty()).take(MAX_STREAMS).map(str::to_owned).collect();
                Kind::Streams { combined: true, subs, micros }
            }
            other => match other.strip_prefix("/ws/") {
                Some(stream) if !stream.is_empty() => {
                    Kind::Streams { combined: false, subs: stream.split('/').map(str::to_owned).collect(), micros }
                }
                _ => return Err(WsConnectError::NotFound(path.to_owned())),
            },
        };
        if let Kind::Streams { subs, .. } = &kind {
            for s in subs {
                self.baseline(&stream_symbol(s));
            }
        }
        self.ws.next += 1;
        self.ws.wanted = None;
        let id = self.ws.next;
        self.ws
            .conns
            .insert(id, Conn { kind, outbox: VecDeque::new(), open: true, connected_at: now, received: (0, 0) });
        Ok(id)
    }

    /// The next frame for the client of `conn`, if any.
    pub fn ws_poll(&mut self, conn: ConnId) -> Option<WsOut> {
        let c = self.ws.conns.get_mut(&conn)?;
        let frame = c.outbox.pop_front();
        if frame.is_none() && !c.open {
            self.ws.conns.remove(&conn);
            self.ws.wanted = None;
        }
        frame
    }

    /// Whether `conn` is still open.
    #[must_use]
    pub fn ws_is_open(&self, conn: ConnId) -> bool {
        self.ws.conns.get(&conn).is_some_and(|c| c.open)
    }

    /// The client closes `conn`.
    pub fn ws_close(&mut self, conn: ConnId) {
        self.ws.conns.remove(&conn);
        self.ws.wanted = None;
    }

    /// The open connections (to inject a fault on each, say).
    #[must_use]
    pub fn ws_connections(&self) -> Vec<ConnId> {
        self.ws.conns.iter().filter(|(_, c)| c.open).map(|(id, _)| *id).collect()
    }

    /// Lets the market move to `now` and takes every frame waiting on `conn` (what a server
    /// adapter sends on each tick).
    pub fn ws_drain(&mut self, now: i64, conn: ConnId) -> Vec<WsOut> {
        self.advance(now);
        std::iter::from_fn(|| self.ws_poll(conn)).collect()
    }

    /// Injects a fault on `conn`.
    pub fn ws_fault(&mut self, now: i64, conn: ConnId, fault: WsFault) {
        let now = self.server_time(now);
        let Some(c) = self.ws.conns.get_mut(&conn) else { return };
        match fault {
            WsFault::Disconnect => c.close(1006, "connection lost"),
            WsFault::ServerShutdown => {
                let event = Obj::new().str("e", "serverShutdown").int("E", now).finish();
                // web-socket-streams.md "Server Shutdown": a combined connection names the
                // stream `!serverShutdown`.
                let frame = match &c.kind {
                    Kind::Api { .. } => Obj::new().raw("event", &event).finish(),
                    Kind::Streams { combined: true, .. } => {
                        Obj::new().str("stream", "!serverShutdown").raw("data", &event).finish()
                    }
                    Kind::Streams { .. } => event,
                };
                c.push(WsOut::Text(frame));
            }
            WsFault::Poison => {
                let (stream, combined) = match &c.kind {
                    Kind::Streams { combined, subs, .. } => {
                        (subs.iter().next().cloned().unwrap_or_else(|| "btcusdt@trade".to_owned()), *combined)
                    }
                    Kind::Api { .. } => ("btcusdt@trade".to_owned(), false),
                };
                let symbol = stream_symbol(&stream);
                let trade = Obj::new()
                    .str("e", "trade")
                    .int("E", now)
                    .str("s", &symbol)
                    .int("t", 1)
                    .str("p", "NaN")
                    .str("q", "1.00000000")
                    .int("T", now)
                    .bool("m", false)
                    .bool("M", true)
                    .finish();
                let candle = format!(
                    r#"{{"e":"kline","E":{now},"s":"{symbol}","k":{{"t":{now},"T":{now},"s":"{symbol}","i":"1m","f":1,"L":1,"o":"1.0","c":null,"h":"1.0","l":"1.0","v":0,"n":1,"x":false,"q":"0","V":"0","Q":"0","B":"0"}}}}"#
                );
                for data in [trade, candle] {
                    let frame =
                        if combined { Obj::new().str("stream", &stream).raw("data", &data).finish() } else { data };
                    c.push(WsOut::Text(frame));
                }
            }
        }
    }

    /// A text frame from the client of `conn`.
    pub fn ws_send(&mut self, now: i64, conn: ConnId, text: &str) {
        let now = self.server_time(now);
        self.tick(now);
        let is_api = match self.ws.conns.get_mut(&conn) {
            Some(c) if c.open => {
                let api = matches!(c.kind, Kind::Api { .. });
                // A stream connection takes 5 messages a second; the sixth closes it.
                let second = now.div_euclid(1000);
                c.received =
                    if c.received.0 == second { (second, c.received.1.saturating_add(1)) } else { (second, 1) };
                if !api && c.received.1 > MAX_MESSAGES_PER_SECOND {
                    c.close(1008, "Too many messages");
                    return;
                }
                api
            }
            _ => return,
        };
        if is_api {
            // The answer goes out before the events the request caused (as Binance sends them).
            let before = self.ws.conns.get(&conn).map_or(0, |c| c.outbox.len());
            let frame = self.ws_api(now, conn, text);
            if let Some(c) = self.ws.conns.get_mut(&conn)
                && c.open
            {
                let at = before.min(c.outbox.len());
                c.outbox.insert(at, WsOut::Text(frame));
            }
        } else {
            self.stream_control(conn, text);
        }
        self.publish(now);
    }

    fn stream_control(&mut self, conn: ConnId, text: &str) {
        let parsed: Option<Value> = serde_json::from_str(text).ok();
        let id = parsed.as_ref().and_then(|v| v.get("id")).cloned().unwrap_or(Value::Null);
        let id_text = id.to_string();
        let error = |code: i64, msg: &str| Obj::new().int("code", code).str("msg", msg).raw("id", &id_text).finish();
        let Some(request) = parsed.as_ref().and_then(Value::as_object) else {
            let frame = error(3, "Invalid JSON: expected value at line 1 column 1");
            if let Some(c) = self.ws.conns.get_mut(&conn) {
                c.push(WsOut::Text(frame));
            }
            return;
        };
        let raw_params: &[Value] = request.get("params").and_then(Value::as_array).map_or(&[], Vec::as_slice);
        let params: Vec<String> = raw_params.iter().filter_map(Value::as_str).map(str::to_owned).collect();
        let method = request.get("method").and_then(Value::as_str);
        // Binance's refusals of a malformed request (web-socket-streams.md, "Error Messages").
        // Spot takes an unsigned integer, a string (Binance's own SDKs send UUIDs) or no id at
        // all (echoed as null); other types are refused (the Options streams refuse strings
        // too: binance-connector-python #471).
        let id_ok = match request.get("id") {
            None | Some(Value::Null | Value::String(_)) => true,
            Some(Value::Number(n)) => n.is_u64(),
            Some(_) => false,
        };
        let malformed = if !id_ok {
            Some("Invalid request: request ID must be an unsigned integer".to_owned())
        } else if method.is_none() {
            Some("Invalid request: missing field `method`".to_owned())
        } else if request.get("params").is_some_and(|p| !p.is_array() && !p.is_null()) {
            Some("Invalid request: invalid type: expected a sequence of parameters".to_owned())
        } else if matches!(method, Some("SUBSCRIBE" | "UNSUBSCRIBE")) && params.len() != raw_params.len() {
            Some("Invalid request: invalid type: expected a stream name (a string)".to_owned())
        } else {
            None
        };
        let method = method.unwrap_or("");
        let mut new_symbols = Vec::new();
        let frame = match self.ws.conns.get_mut(&conn).map(|c| &mut c.kind) {
            Some(Kind::Streams { .. }) if malformed.is_some() => {
                let id = if malformed.as_deref().is_some_and(|m| m.contains("request ID")) { "null" } else { &id_text };
                Obj::new().int("code", 2).str("msg", malformed.as_deref().unwrap_or_default()).raw("id", id).finish()
            }
            Some(Kind::Streams { subs, combined, .. }) => match method {
                // The one property: whether frames come wrapped as `{"stream", "data"}`.
                "SET_PROPERTY" | "GET_PROPERTY" => match (raw_params.first(), raw_params.get(1), method) {
                    (Some(Value::String(p)), _, _) if p != "combined" => {
                        Obj::new().int("code", 0).str("msg", "Unknown property").raw("id", &id_text).finish()
                    }
                    (Some(Value::String(_)), None, "GET_PROPERTY") => {
                        Obj::new().bool("result", *combined).raw("id", &id_text).finish()
                    }
                    (Some(Value::String(_)), Some(Value::Bool(on)), "SET_PROPERTY") if raw_params.len() == 2 => {
                        *combined = *on;
                        Obj::new().null("result").raw("id", &id_text).finish()
                    }
                    (Some(Value::String(_)), None, "SET_PROPERTY") => Obj::new()
                        .int("code", 1)
                        .str("msg", "Invalid value type: expected Boolean")
                        .raw("id", &id_text)
                        .finish(),
                    (Some(Value::String(_)), Some(_), "SET_PROPERTY") if raw_params.len() == 2 => Obj::new()
                        .int("code", 1)
                        .str("msg", "Invalid value type: expected Boolean")
                        .raw("id", &id_text)
                        .finish(),
                    (Some(Value::String(_)), _, _) => error(2, "Invalid request: too many parameters"),
                    _ => error(2, "Invalid request: property name must be a string"),
                },
                "SUBSCRIBE" if subs.len() + params.len() > MAX_STREAMS => error(2, "Invalid request: too many streams"),
                "SUBSCRIBE" => {
                    for p in params {
                        new_symbols.push(stream_symbol(&p));
                        subs.insert(p);
                    }
                    Obj::new().null("result").raw("id", &id_text).finish()
                }
                "UNSUBSCRIBE" => {
                    for p in &params {
                        subs.remove(p);
                    }
                    Obj::new().null("result").raw("id", &id_text).finish()
                }
                "LIST_SUBSCRIPTIONS" => {
                    let list = array(subs.iter().map(|s| json_string(s)));
                    Obj::new().raw("result", &list).raw("id", &id_text).finish()
                }
                other => error(
                    2,
                    &format!(
                        "Invalid request: unknown variant {other}, expected one of `SUBSCRIBE`, `UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, `GET_PROPERTY`"
                    ),
                ),
            },
            _ => return,
        };
        if matches!(method, "SUBSCRIBE" | "UNSUBSCRIBE") {
            self.ws.wanted = None;
        }
        for symbol in new_symbols {
            self.baseline(&symbol);
        }
        if let Some(c) = self.ws.conns.get_mut(&conn) {
            c.push(WsOut::Text(frame));
        }
    }

    /// Starts publishing `symbol` from its current state.
    fn baseline(&mut self, symbol: &str) {
        if self.ws.published.contains_key(symbol) {
            return;
        }
        if let Some(m) = self.markets.get(symbol) {
            let base = DepthBase { bids: m.bids.clone(), asks: m.asks.clone(), update_id: m.update_id, at: i64::MIN };
            let p = Published {
                bids: m.bids.clone(),
                asks: m.asks.clone(),
                update_id: m.update_id,
                trade_id: m.trades.back().map_or(0, |t| t.id),
                fast: base.clone(),
                slow: base,
            };
            self.ws.published.insert(symbol.to_owned(), p);
        }
    }

    /// The streams the open stream connections are subscribed to, of those `keep` keeps.
    fn subscribed(&self, keep: impl Fn(&str) -> bool) -> BTreeSet<String> {
        self.ws
            .conns
            .values()
            .filter_map(|c| match &c.kind {
                Kind::Streams { subs, .. } if c.open => Some(subs.iter().filter(|s| keep(s)).cloned()),
                _ => None,
            })
            .flatten()
            .collect()
    }

    /// Sends every subscribed stream what changed in the market since it was last published.
    pub(super) fn publish(&mut self, now: i64) {
        self.publish_stats(now);
        if self.ws.published.is_empty() {
            return;
        }
        // Only the streams someone listens to are built.
        let wanted = match &self.ws.wanted {
            Some(w) => std::sync::Arc::clone(w),
            None => {
                let w = std::sync::Arc::new(self.subscribed(|_| true));
                self.ws.wanted = Some(std::sync::Arc::clone(&w));
                w
            }
        };
        let symbols: Vec<String> = self.ws.published.keys().cloned().collect();
        for symbol in symbols {
            let (Some(m), Some(last)) = (self.markets.get(&symbol), self.ws.published.get(&symbol)) else { continue };
            // Nothing new: no trade, the book as both depth cadences last pushed it.
            let traded = m.trades.back().is_some_and(|t| t.id > last.trade_id);
            if !traded && m.update_id == last.fast.update_id && m.update_id == last.slow.update_id {
                continue;
            }
            // This symbol's subscribed stream kinds (`trade`, `depth5@100ms`...).
            let prefix = format!("{}@", symbol.to_ascii_lowercase());
            let mine: Vec<&str> = wanted
                .range::<str, _>((std::ops::Bound::Included(prefix.as_str()), std::ops::Bound::Unbounded))
                .map_while(|s| s.strip_prefix(prefix.as_str()))
                .collect();
            let wants = |kind: &str| mine.contains(&kind);
            let mut frames: Vec<(String, String)> = Vec::new();
            let (trades, aggs) = (wants("trade"), wants("aggTrade"));
            // The trades since the last publish (ids ascend).
            let new_trades = m.trades.partition_point(|t| t.id <= last.trade_id);
            for t in m.trades.range(new_trades..).filter(|_| trades || aggs) {
                // Each frame built only for a stream someone takes.
                if trades {
                    let trade = Obj::new()
                        .str("e", "trade")
                        .int("E", now)
                        .str("s", &symbol)
                        .int("t", i64::try_from(t.id).unwrap_or(i64::MAX))
                        .dec("p", t.price)
                        .dec("q", t.qty)
                        .int("T", t.time)
                        .bool("m", t.buyer_is_maker)
                        .bool("M", true)
                        .finish();
                    frames.push((format!("{prefix}trade"), trade));
                }
                if aggs {
                    let head = Obj::new().str("e", "aggTrade").int("E", now).str("s", &symbol);
                    frames.push((format!("{prefix}aggTrade"), super::market::agg_trade_fields(head, t).finish()));
                }
            }
            // Klines: after new trades, the kline of the latest (and the one it closed, final).
            if let Some(latest) = m.trades.back().filter(|t| t.id > last.trade_id) {
                let before = new_trades.checked_sub(1).and_then(|i| m.trades.get(i)).map(|t| t.time);
                for kind in &mine {
                    let Some(name) = kind.strip_prefix("kline_") else { continue };
                    for data in super::klines::kline_events(m, &symbol, name, now, before, latest.time) {
                        frames.push((format!("{prefix}{kind}"), data));
                    }
                }
            }
            // Depth at its cadence: what changed since the cadence's last push, at most every
            // 100 ms (`@100ms`) or 1000 ms (the plain names).
            let update_id = i64::try_from(m.update_id).unwrap_or(i64::MAX);
            let mut bases = [last.fast.clone(), last.slow.clone()];
            // (period, diff stream, partial depth streams) of each cadence.
            type Cadence = (i64, &'static str, [(usize, &'static str); 3]);
            const CADENCES: [Cadence; 2] = [
                (100, "depth@100ms", [(5, "depth5@100ms"), (10, "depth10@100ms"), (20, "depth20@100ms")]),
                (1000, "depth", [(5, "depth5"), (10, "depth10"), (20, "depth20")]),
            ];
            for (base, (period, diff_stream, partials)) in bases.iter_mut().zip(CADENCES) {
                if m.update_id == base.update_id || now.saturating_sub(base.at) < period {
                    continue;
                }
                if wants(diff_stream) {
                    let diff = Obj::new()
                        .str("e", "depthUpdate")
                        .int("E", now)
                        .str("s", &symbol)
                        .int("U", i64::try_from(base.update_id.saturating_add(1)).unwrap_or(i64::MAX))
                        .int("u", update_id)
                        .raw("b", &levels_json(changes(&base.bids, &m.bids)))
                        .raw("a", &levels_json(changes(&base.asks, &m.asks)))
                        .finish();
                    frames.push((format!("{prefix}{diff_stream}"), diff));
                }
                for (n, stream) in partials {
                    if wants(stream) {
                        let partial = Obj::new()
                            .int("lastUpdateId", update_id)
                            .raw("bids", &levels_json(m.bids.iter().take(n).copied()))
                            .raw("asks", &levels_json(m.asks.iter().take(n).copied()))
                            .finish();
                        frames.push((format!("{prefix}{stream}"), partial));
                    }
                }
                *base = DepthBase { bids: m.bids.clone(), asks: m.asks.clone(), update_id: m.update_id, at: now };
            }
            let [fast, slow] = bases;
            if m.update_id != last.update_id
                && wants("bookTicker")
                && (m.bids.first() != last.bids.first() || m.asks.first() != last.asks.first())
            {
                let (bid, ask) = (m.bids.first().copied(), m.asks.first().copied());
                let ticker = Obj::new()
                    .int("u", update_id)
                    .str("s", &symbol)
                    .dec("b", bid.map(|l| l.price).unwrap_or_default())
                    .dec("B", bid.map(|l| l.qty).unwrap_or_default())
                    .dec("a", ask.map(|l| l.price).unwrap_or_default())
                    .dec("A", ask.map(|l| l.qty).unwrap_or_default())
                    .finish();
                frames.push((format!("{prefix}bookTicker"), ticker));
            }
            let next = Published {
                bids: m.bids.clone(),
                asks: m.asks.clone(),
                update_id: m.update_id,
                trade_id: m.trades.back().map_or(last.trade_id, |t| t.id),
                fast,
                slow,
            };
            self.ws.published.insert(symbol.clone(), next);
            self.fan_out_frames(&frames);
        }
    }

    /// Hands each `(stream, data)` to the connections subscribed to it, raw or combined, in
    /// microseconds where asked.
    fn fan_out_frames(&mut self, frames: &[(String, String)]) {
        if frames.is_empty() {
            return;
        }
        for c in self.ws.conns.values_mut() {
            let Kind::Streams { combined, subs, micros } = &c.kind else { continue };
            let (combined, micros) = (*combined, *micros);
            let wanted: Vec<&(String, String)> = frames.iter().filter(|(s, _)| subs.contains(s)).collect();
            for (stream, data) in wanted {
                let data = if micros { in_microseconds(data) } else { data.clone() };
                let frame = if combined { Obj::new().str("stream", stream).raw("data", &data).finish() } else { data };
                c.push(WsOut::Text(frame));
            }
        }
    }

    /// Every 1000 ms: `<symbol>@miniTicker`, `@ticker`, `@ticker_<1h|4h|1d>`, `@avgPrice`,
    /// `@referencePrice`, and the all-market `!miniTicker@arr` and `!ticker_<1h|4h|1d>@arr`
    /// (the symbols whose trades changed since the last push; none: no frame).
    fn publish_stats(&mut self, now: i64) {
        if now.saturating_sub(self.ws.stats_at) < STATS_MS {
            return;
        }
        let wanted = self.subscribed(is_stats_stream);
        if wanted.is_empty() {
            return;
        }
        self.ws.stats_at = now;
        let mut names: Vec<&String> = self.markets.keys().collect();
        names.sort();
        let mut frames: Vec<(String, String)> = Vec::new();
        let mut changed: Vec<(&String, u64)> = Vec::new();
        for symbol in names {
            let Some(m) = self.markets.get(symbol) else { continue };
            let lower = symbol.to_ascii_lowercase();
            for kind in super::klines::TICKER_STREAMS {
                let name = format!("{lower}@{kind}");
                if wanted.contains(&name)
                    && let Some(data) = super::klines::stream_ticker(symbol, m, now, kind)
                {
                    frames.push((name, data));
                }
            }
            if wanted.contains(&format!("{lower}@avgPrice")) {
                let data = Obj::new()
                    .str("e", "avgPrice")
                    .int("E", now)
                    .str("s", symbol)
                    .str("i", "5m")
                    .dec("w", m.average_price(now, 5).unwrap_or_default())
                    .int("T", m.trades.back().map_or(now, |t| t.time))
                    .finish();
                frames.push((format!("{lower}@avgPrice"), data));
            }
            if wanted.contains(&format!("{lower}@referencePrice")) {
                let r = Obj::new().str("e", "referencePrice").str("s", symbol);
                let r = match m.reference_price(now, 10, 1000) {
                    Some(p) => r.dec("r", p),
                    None => r.null("r"),
                };
                frames.push((format!("{lower}@referencePrice"), r.int("t", now).finish()));
            }
            let last_trade = m.trades.back().map_or(0, |t| t.id);
            if m.last_price().is_some() && self.ws.stats_seen.get(symbol.as_str()) != Some(&last_trade) {
                changed.push((symbol, last_trade));
            }
        }
        for kind in ["miniTicker", "ticker_1h", "ticker_4h", "ticker_1d"] {
            let name = format!("!{kind}@arr");
            if !wanted.contains(&name) || changed.is_empty() {
                continue;
            }
            let items = changed.iter().filter_map(|(symbol, _)| {
                self.markets.get(symbol.as_str()).and_then(|m| super::klines::stream_ticker(symbol, m, now, kind))
            });
            frames.push((name, array(items)));
        }
        let seen: Vec<(String, u64)> = changed.into_iter().map(|(s, id)| (s.clone(), id)).collect();
        self.ws.stats_seen.extend(seen);
        self.fan_out_frames(&frames);
    }

    /// Closes every connection that has lived 24 hours (as Binance does).
    pub(super) fn ws_expire(&mut self, now: i64) {
        for c in self.ws.conns.values_mut() {
            if c.open && now.saturating_sub(c.connected_at) >= MAX_CONNECTION_MS {
                c.close(1000, "24 hours passed");
            }
        }
    }

    /// Hands a user-data event to every connection subscribed to the user data stream.
    pub(super) fn fan_out(&mut self, event: &str) {
        for c in self.ws.conns.values_mut() {
            if let Kind::Api { user_sub: Some(id), micros, .. } = c.kind {
                let converted;
                let event = if micros {
                    converted = super::wire::times_in_microseconds(event, super::wire::EVENT_TIMES);
                    converted.as_str()
                } else {
                    event
                };
                let frame =
                    Obj::new().int("subscriptionId", i64::try_from(id).unwrap_or(0)).raw("event", event).finish();
                c.push(WsOut::Text(frame));
            }
        }
    }

    /// One WebSocket-API request: its response envelope.
    fn ws_api(&mut self, now: i64, conn: ConnId, text: &str) -> String {
        let parsed: Option<Value> = serde_json::from_str(text).ok();
        let request = parsed.as_ref().and_then(Value::as_object);
        let id = request.and_then(|r| r.get("id")).cloned().unwrap_or(Value::Null).to_string();
        let Some(request) = request else {
            return self.envelope(now, &id, Reply::error(400, -1135, "Invalid JSON request"), true, false);
        };
        let method = request.get("method").and_then(Value::as_str).unwrap_or("");
        let empty = serde_json::Map::new();
        let raw_params = request.get("params").and_then(Value::as_object).unwrap_or(&empty);
        let mut reply = match Params::from_ws(raw_params) {
            Ok(params) => self.ws_method(now, conn, method, &params),
            Err(reply) => reply,
        };
        // `sor.order.place` answers with an array of its one order.
        if method == "sor.order.place" && reply.is_ok() {
            reply.body = format!("[{}]", reply.body);
        }
        let (micros, rate_limits) = match self.ws.conns.get(&conn).map(|c| &c.kind) {
            Some(Kind::Api { micros, rate_limits, .. }) => (*micros, *rate_limits),
            _ => (false, true),
        };
        // A request's own `returnRateLimits` wins over the connection's.
        let rate_limits = raw_params.get("returnRateLimits").and_then(Value::as_bool).unwrap_or(rate_limits);
        if micros && reply.is_ok() {
            reply.body = match method {
                "klines" | "uiKlines" => super::wire::klines_in_microseconds(&reply.body),
                _ => super::wire::times_in_microseconds(&reply.body, super::wire::RESULT_TIMES),
            };
        }
        let failed = !reply.is_ok();
        let orders = Self::ws_endpoint(method).is_some_and(routes::places_orders);
        let envelope = self.envelope(now, &id, reply, rate_limits, orders);
        if micros && failed {
            // An error's `data` (a 429's `serverTime` and `retryAfter`).
            return super::wire::times_in_microseconds(&envelope, &[("serverTime", "000"), ("retryAfter", "000")]);
        }
        envelope
    }

    /// A WebSocket-API answer: `rateLimits` (when asked) lists the limits the request counted
    /// against, as web-socket-api.md shows them: the `ORDERS` ones first when it placed orders,
    /// then `REQUEST_WEIGHT`.
    fn envelope(&mut self, now: i64, id: &str, reply: Reply, rate_limits: bool, orders: bool) -> String {
        let mut counts = self.throttle.counts(now);
        counts.retain(|(kind, ..)| orders || *kind == aegis_exchange::RateLimitType::RequestWeight);
        counts.sort_by_key(|(kind, ..)| *kind == aegis_exchange::RateLimitType::RequestWeight);
        let limits = counts.into_iter().map(|(kind, interval, num, limit, count)| {
            Obj::new()
                .str("rateLimitType", kind.as_str())
                .str("interval", interval.as_str())
                .int("intervalNum", i64::try_from(num).unwrap_or(i64::MAX))
                .int("limit", i64::try_from(limit).unwrap_or(i64::MAX))
                .int("count", i64::try_from(count).unwrap_or(i64::MAX))
                .finish()
        });
        let limits = array(limits);
        let out = Obj::new().raw("id", id).int("status", i64::from(reply.status));
        let limits = |out: Obj| if rate_limits { out.raw("rateLimits", &limits) } else { out };
        if reply.is_ok() {
            return limits(out.raw("result", &reply.body)).finish();
        }
        let mut error = reply.body.clone();
        if let Some(seconds) = reply.retry_after {
            // The WS API gives the retry time as an instant in `data` (SPEC §5.3).
            let retry = now.saturating_add(i64::try_from(seconds).unwrap_or(0).saturating_mul(1000));
            let data = Obj::new().int("serverTime", now).int("retryAfter", retry).finish();
            if error.ends_with('}') {
                error.pop();
                error.push_str(",\"data\":");
                error.push_str(&data);
                error.push('}');
            }
        }
        limits(out.raw("error", &error)).finish()
    }

    fn ws_method(&mut self, now: i64, conn: ConnId, method: &str, params: &Params) -> Reply {
        let endpoint = Self::ws_endpoint(method);
        // Session methods and the user data stream cost 2.
        let (weight, free_on_success) = endpoint.map_or((2, false), |e| e.weight(params));
        if let Err(refused) = self.throttle.admit(now, weight) {
            return refused.0;
        }
        let reply = match endpoint {
            Some(e) => match self.ws_authenticate(now, conn, params, e.signed()) {
                Ok(()) => routes::dispatch(self, now, e, params),
                Err(reply) => reply,
            },
            None => self.session_method(now, conn, method, params),
        };
        let expired_by_amend =
            endpoint == Some(Endpoint::Amend) && reply.is_ok() && reply.body.contains("\"status\":\"EXPIRED\"");
        self.throttle.charge(now, if reply.is_ok() && (free_on_success || expired_by_amend) { 0 } else { weight });
        reply
    }

    /// The endpoint a WebSocket-API method is (`None`: a session or user-data method).
    fn ws_endpoint(method: &str) -> Option<Endpoint> {
        match method {
            "ping" => Some(Endpoint::Ping),
            "time" => Some(Endpoint::Time),
            "exchangeInfo" => Some(Endpoint::ExchangeInfo),
            "depth" => Some(Endpoint::Depth),
            "trades.recent" => Some(Endpoint::Trades),
            "avgPrice" => Some(Endpoint::AvgPrice),
            "ticker.price" => Some(Endpoint::TickerPrice),
            "ticker.book" => Some(Endpoint::BookTicker),
            "klines" | "uiKlines" => Some(Endpoint::Klines),
            "ticker.24hr" => Some(Endpoint::Ticker24h),
            "trades.aggregate" => Some(Endpoint::AggTrades),
            "ticker" => Some(Endpoint::WindowTicker(false)),
            "ticker.tradingDay" => Some(Endpoint::WindowTicker(true)),
            "order.place" => Some(Endpoint::Order),
            "order.test" => Some(Endpoint::OrderTest),
            "sor.order.place" => Some(Endpoint::SorOrder),
            "sor.order.test" => Some(Endpoint::SorOrderTest),
            "order.cancel" => Some(Endpoint::Cancel),
            "order.status" => Some(Endpoint::Query),
            "order.amend.keepPriority" => Some(Endpoint::Amend),
            "order.cancelReplace" => Some(Endpoint::CancelReplace),
            "myPreventedMatches" => Some(Endpoint::PreventedMatches),
            "myAllocations" => Some(Endpoint::Allocations),
            "allOrderLists" => Some(Endpoint::AllLists),
            "orderList.place.oco" => Some(Endpoint::Oco),
            "orderList.place.oto" => Some(Endpoint::Oto(aegis_exchange::OtoKind::Oto)),
            "orderList.place.otoco" => Some(Endpoint::Oto(aegis_exchange::OtoKind::Otoco)),
            "orderList.place.opo" => Some(Endpoint::Oto(aegis_exchange::OtoKind::Opo)),
            "orderList.place.opoco" => Some(Endpoint::Oto(aegis_exchange::OtoKind::Opoco)),
            "orderList.cancel" => Some(Endpoint::CancelList),
            "orderList.status" => Some(Endpoint::QueryList),
            "openOrderLists.status" => Some(Endpoint::OpenLists),
            "openOrders.status" => Some(Endpoint::OpenOrders),
            "openOrders.cancelAll" => Some(Endpoint::CancelAll),
            "account.status" => Some(Endpoint::Account),
            "myTrades" => Some(Endpoint::MyTrades),
            "account.rateLimits.orders" => Some(Endpoint::RateLimitOrder),
            "allOrders" => Some(Endpoint::AllOrders),
            "account.commission" => Some(Endpoint::Commission),
            "myFilters" => Some(Endpoint::MyFilters),
            "order.amendments" => Some(Endpoint::Amendments),
            "trades.historical" => Some(Endpoint::HistoricalTrades),
            "blockTrades.historical" => Some(Endpoint::BlockTrades),
            "referencePrice" => Some(Endpoint::ReferencePrice),
            "referencePrice.calculation" => Some(Endpoint::ReferencePriceCalculation),
            "executionRules" => Some(Endpoint::ExecutionRules),
            "orderList.place" => Some(Endpoint::OldOco),
            _ => None,
        }
    }

    /// A signed WS-API request: its own `apiKey` and `signature`, or the session's logon.
    fn ws_authenticate(&self, now: i64, conn: ConnId, params: &Params, signed: bool) -> Result<(), Reply> {
        if !signed {
            return Ok(());
        }
        match params.get("apiKey") {
            Some(key) => routes::check_signature(routes::api_key(self, key)?, params)?,
            None => {
                let session = match self.ws.conns.get(&conn).map(|c| &c.kind) {
                    Some(Kind::Api { session: Some(key), .. }) => key,
                    _ => {
                        return Err(Reply::error(
                            400,
                            -1102,
                            "Mandatory parameter 'apiKey' was not sent, was empty/null, or malformed.",
                        ));
                    }
                };
                routes::api_key(self, session)?;
            }
        }
        routes::check_timestamp(now, params)
    }

    fn session_method(&mut self, now: i64, conn: ConnId, method: &str, params: &Params) -> Reply {
        match method {
            "session.logon" => {
                let key = match params.required("apiKey") {
                    Ok(k) => k.to_owned(),
                    Err(reply) => return reply,
                };
                let checked = routes::api_key(self, &key).and_then(|signer| match signer {
                    PaperKey::Ed25519(_) => routes::check_signature(signer, params),
                    PaperKey::Hmac(_) => {
                        Err(Reply::error(401, -2015, "Invalid API-key, IP, or permissions for action."))
                    }
                });
                if let Err(reply) = checked.and_then(|()| routes::check_timestamp(now, params)) {
                    return reply;
                }
                if let Some(Kind::Api { session, logged_on_at, .. }) = self.ws.conns.get_mut(&conn).map(|c| &mut c.kind)
                {
                    *session = Some(key);
                    *logged_on_at = Some(now);
                }
                self.session_status(now, conn)
            }
            "session.status" => self.session_status(now, conn),
            "session.subscriptions" => {
                let subscribed = match self.ws.conns.get(&conn).map(|c| &c.kind) {
                    Some(Kind::Api { user_sub: Some(id), .. }) => Some(*id),
                    _ => None,
                };
                let items = subscribed
                    .map(|id| Obj::new().int("subscriptionId", i64::try_from(id).unwrap_or(0)).finish())
                    .into_iter();
                Reply::ok(super::wire::array(items))
            }
            "session.logout" => {
                if let Some(Kind::Api { session, logged_on_at, user_sub, .. }) =
                    self.ws.conns.get_mut(&conn).map(|c| &mut c.kind)
                {
                    *session = None;
                    *logged_on_at = None;
                    *user_sub = None;
                }
                self.session_status(now, conn)
            }
            "userDataStream.subscribe" => {
                let logged_on_ed25519 = match self.ws.conns.get(&conn).map(|c| &c.kind) {
                    Some(Kind::Api { session: Some(key), .. }) => {
                        matches!(self.keys.get(key), Some(PaperKey::Ed25519(_)))
                    }
                    _ => false,
                };
                if !logged_on_ed25519 {
                    return Reply::error(401, -2015, "Invalid API-key, IP, or permissions for action.");
                }
                self.subscribe_user(conn)
            }
            "userDataStream.subscribe.signature" => {
                let key = params.get("apiKey").unwrap_or("");
                let checked = routes::api_key(self, key)
                    .and_then(|signer| routes::check_signature(signer, params))
                    .and_then(|()| routes::check_timestamp(now, params));
                match checked {
                    Ok(()) => self.subscribe_user(conn),
                    Err(reply) => reply,
                }
            }
            "userDataStream.unsubscribe" => {
                let Some(c) = self.ws.conns.get_mut(&conn) else {
                    return Reply::error(400, -2036, "User Data Stream subscription not active.");
                };
                match &mut c.kind {
                    Kind::Api { user_sub, micros, .. } if user_sub.is_some() => {
                        // Binance ends the subscription with `eventStreamTerminated`.
                        let ended = user_sub.take().unwrap_or(0);
                        let at = if *micros { now.saturating_mul(1000) } else { now };
                        let event = Obj::new().str("e", "eventStreamTerminated").int("E", at).finish();
                        let frame = Obj::new()
                            .int("subscriptionId", i64::try_from(ended).unwrap_or(0))
                            .raw("event", &event)
                            .finish();
                        c.push(WsOut::Text(frame));
                        Reply::ok("{}".to_owned())
                    }
                    _ => Reply::error(400, -2036, "User Data Stream subscription not active."),
                }
            }
            _ => Reply::error(400, -1020, "This operation is not supported."),
        }
    }

    fn subscribe_user(&mut self, conn: ConnId) -> Reply {
        match self.ws.conns.get_mut(&conn).map(|c| &mut c.kind) {
            Some(Kind::Api { user_sub: Some(_), .. }) => {
                Reply::error(400, -2035, "User Data Stream subscription already active.")
            }
            Some(Kind::Api { user_sub, next_sub, .. }) => {
                let id = *next_sub;
                *next_sub += 1;
                *user_sub = Some(id);
                Reply::ok(Obj::new().int("subscriptionId", i64::try_from(id).unwrap_or(0)).finish())
            }
            _ => Reply::error(400, -1020, "This operation is not supported."),
        }
    }

    fn session_status(&self, now: i64, conn: ConnId) -> Reply {
        let Some(c) = self.ws.conns.get(&conn) else {
            return Reply::error(400, -1020, "This operation is not supported.");
        };
        let Kind::Api { session, logged_on_at, user_sub, .. } = &c.kind else {
            return Reply::error(400, -1020, "This operation is not supported.");
        };
        let mut r = match session {
            Some(key) => Obj::new().str("apiKey", key),
            None => Obj::new().null("apiKey"),
        };
        r = match logged_on_at {
            Some(t) => r.int("authorizedSince", *t),
            None => r.null("authorizedSince"),
        };
        let body = r
            .int("connectedSince", c.connected_at)
            .bool("returnRateLimits", !matches!(c.kind, Kind::Api { rate_limits: false, .. }))
            .int("serverTime", now)
            .bool("userDataStream", user_sub.is_some())
            .finish();
        Reply::ok(body)
    }
}

/// The levels of `new` that differ from `old`, and those gone from it with a zero quantity.
fn changes(old: &[Level], new: &[Level]) -> Vec<Level> {
    let mut out: Vec<Level> = new.iter().filter(|l| !old.contains(l)).copied().collect();
    for l in old {
        if !new.iter().any(|n| n.price == l.price) {
            out.push(Level { price: l.price, qty: Decimal::ZERO });
        }
    }
    out
}
