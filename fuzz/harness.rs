//! Fuzz harness shared by the cargo-fuzz targets (`fuzz/fuzz_targets/*.rs`) and by the stable
//! test that replays the committed corpus (`tests/fuzz_corpus.rs`), so that CI checks the same
//! invariants without nightly. It uses only the crate's public API.
//!
//! Every function panics (that is the fuzzer's signal) when an invariant breaks; on any input
//! the crate itself must never panic.

#![allow(dead_code)]

use aegis_exchange::num::{Wire, is_multiple_of, parse_decimal};
use aegis_exchange::{
    Decimal, ExchangeInfo, Filter, FilterError, MarketContext, OrderRequest, OrderType, Side, SymbolRules, TimeInForce,
};

/// Reads structured values from fuzzer bytes; past the end it yields zeros.
pub struct Bytes<'a> {
    data: &'a [u8],
}

impl<'a> Bytes<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Self { data }
    }

    pub fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((b, rest)) => {
                self.data = rest;
                *b
            }
            None => 0,
        }
    }

    pub fn bool(&mut self) -> bool {
        self.u8() & 1 == 1
    }

    pub fn u64(&mut self) -> u64 {
        (0..8).fold(0u64, |acc, _| (acc << 8) | u64::from(self.u8()))
    }

    /// A non-negative decimal: zero, small, huge, or near the top of Decimal's range.
    pub fn decimal(&mut self) -> Decimal {
        let selector = self.u8();
        let scale = u32::from(self.u8() % 13);
        match selector % 16 {
            0 => Decimal::ZERO,
            1 => Decimal::MAX,
            2 => Decimal::new(1, scale),
            3 | 4 => Decimal::new(i64::from(self.u8()) + 1, scale),
            _ => {
                let shift = self.u8() % 64;
                let m = i64::try_from(self.u64() >> shift >> 1).unwrap_or(i64::MAX);
                Decimal::new(m, scale)
            }
        }
    }

    /// Fewer than `max` arbitrary bytes, as (lossy) UTF-8 text: a raw frame.
    pub fn text(&mut self, max: u8) -> String {
        let len = self.u8() % max.max(1);
        String::from_utf8_lossy(&(0..len).map(|_| self.u8()).collect::<Vec<u8>>()).into_owned()
    }

    pub fn opt_decimal(&mut self) -> Option<Decimal> {
        if self.bool() { Some(self.decimal()) } else { None }
    }
}

/// A symbol with arbitrary filters (zeros and extremes included) and arbitrary features.
pub fn arbitrary_rules(b: &mut Bytes<'_>) -> SymbolRules {
    let mut rules =
        SymbolRules::new("FUZZUSDT", "FUZZ", "USDT").with_precisions(u32::from(b.u8() % 30), u32::from(b.u8() % 30));
    if b.u8().is_multiple_of(8) {
        rules = rules.with_features(b.bool(), b.bool(), b.bool());
    }
    let count = b.u8() % 12;
    for _ in 0..count {
        let filter = match b.u8() % 14 {
            0 => Filter::PriceFilter { min_price: b.decimal(), max_price: b.decimal(), tick_size: b.decimal() },
            1 => Filter::PercentPrice {
                multiplier_up: b.decimal(),
                multiplier_down: b.decimal(),
                avg_price_mins: u64::from(b.u8() % 3),
            },
            2 => Filter::PercentPriceBySide {
                bid_multiplier_up: b.decimal(),
                bid_multiplier_down: b.decimal(),
                ask_multiplier_up: b.decimal(),
                ask_multiplier_down: b.decimal(),
                avg_price_mins: u64::from(b.u8() % 3),
            },
            3 => Filter::LotSize { min_qty: b.decimal(), max_qty: b.decimal(), step_size: b.decimal() },
            4 => Filter::MinNotional {
                min_notional: b.decimal(),
                apply_to_market: b.bool(),
                avg_price_mins: u64::from(b.u8() % 3),
            },
            5 => Filter::Notional {
                min_notional: b.decimal(),
                apply_min_to_market: b.bool(),
                max_notional: b.decimal(),
                apply_max_to_market: b.bool(),
                avg_price_mins: u64::from(b.u8() % 3),
            },
            6 => Filter::IcebergParts { limit: u64::from(b.u8()) },
            7 => Filter::MarketLotSize { min_qty: b.decimal(), max_qty: b.decimal(), step_size: b.decimal() },
            8 => Filter::MaxNumOrders { max_num_orders: u64::from(b.u8()) },
            9 => Filter::MaxNumAlgoOrders { max_num_algo_orders: u64::from(b.u8()) },
            10 => Filter::MaxPosition { max_position: b.decimal() },
            11 => Filter::TrailingDelta {
                min_trailing_above_delta: b.u64() % 5000,
                max_trailing_above_delta: b.u64() % 5000,
                min_trailing_below_delta: b.u64() % 5000,
                max_trailing_below_delta: b.u64() % 5000,
            },
            12 => Filter::MaxNumIcebergOrders { max_num_iceberg_orders: u64::from(b.u8()) },
            _ => Filter::MaxAsset { asset: "FUZZ".into(), limit: b.decimal() },
        };
        rules = if matches!(filter, Filter::MaxAsset { .. }) {
            rules.with_asset_filter(filter)
        } else {
            rules.with_filter(filter)
        };
    }
    rules
}

/// An arbitrary order on FUZZUSDT: any type, any combination of parameters (malformed ones too).
pub fn arbitrary_order(b: &mut Bytes<'_>) -> OrderRequest {
    let side = if b.bool() { Side::Buy } else { Side::Sell };
    let t = OrderType::ALL.get(usize::from(b.u8() % 7)).cloned().unwrap_or(OrderType::Limit);
    let mut o = OrderRequest::new("FUZZUSDT", side, t);
    if let Some(v) = b.opt_decimal() {
        o = o.with_quantity(v);
    }
    if b.u8().is_multiple_of(4) {
        o = o.with_quote_order_qty(b.decimal());
    }
    if let Some(v) = b.opt_decimal() {
        o = o.with_price(v);
    }
    if b.u8().is_multiple_of(3) {
        o = o.with_stop_price(b.decimal());
    }
    if b.u8().is_multiple_of(4) {
        o = o.with_trailing_delta(b.u64() % 3000);
    }
    if b.u8().is_multiple_of(4) {
        o = o.with_iceberg_qty(b.decimal());
    }
    match b.u8() % 5 {
        0 => o = o.with_time_in_force(TimeInForce::Gtc),
        1 => o = o.with_time_in_force(TimeInForce::Ioc),
        2 => o = o.with_time_in_force(TimeInForce::Fok),
        _ => {}
    }
    o
}

/// An arbitrary market context.
pub fn arbitrary_context(b: &mut Bytes<'_>) -> MarketContext {
    let mut c = MarketContext::default();
    if let Some(p) = b.opt_decimal() {
        c = c.with_reference_price(p);
    }
    if let Some(p) = b.opt_decimal() {
        c = c.with_average_price(p);
    }
    if let Some(p) = b.opt_decimal() {
        c = c.with_last_price(p);
    }
    if b.bool() {
        c = c.with_open_orders(u64::from(b.u8())).with_open_algo_orders(u64::from(b.u8()));
    }
    if b.bool() {
        c = c.with_base_position(b.decimal());
    }
    if b.u8().is_multiple_of(4) {
        c = c.strict();
    }
    c
}

fn steps(rules: &SymbolRules) -> (Decimal, Decimal, Decimal) {
    let mut lot = Decimal::ZERO;
    let mut market_lot = Decimal::ZERO;
    let mut tick = Decimal::ZERO;
    for f in rules.filters() {
        match *f {
            Filter::LotSize { step_size, .. } if lot.is_zero() => lot = step_size,
            Filter::MarketLotSize { step_size, .. } if market_lot.is_zero() => market_lot = step_size,
            Filter::PriceFilter { tick_size, .. } if tick.is_zero() => tick = tick_size,
            _ => {}
        }
    }
    (lot, market_lot, tick)
}

/// The wire string of a multiple of `step` never shows more decimals than the step has.
fn wire_within_step(v: Decimal, step: Decimal) {
    if step > Decimal::ZERO {
        let text = Wire(v).to_string();
        let decimals = text.split_once('.').map_or(0, |(_, f)| f.len());
        assert!(decimals as u32 <= step.normalize().scale(), "{text} has more decimals than step {step}");
    }
}

fn wire_round_trips(v: Decimal) {
    let text = Wire(v).to_string();
    assert!(!text.contains(['e', 'E']), "exponent in {text}");
    assert_eq!(parse_decimal(&text), Ok(v), "wire string {text} does not parse back");
}

/// The invariants of one `normalize` call, whatever its outcome.
pub fn check_normalize(
    rules: &SymbolRules,
    original: &OrderRequest,
    ctx: &MarketContext,
    result: &Result<aegis_exchange::ValidatedOrder, FilterError>,
) {
    match result {
        Err(e) => {
            // A refusal always names Binance's filter or error.
            assert!(!e.filter_type().is_empty(), "unnamed refusal {e:?}");
            assert!(!e.to_string().is_empty());
        }
        Ok(v) => {
            let n = v.request();
            let (lot, market_lot, tick) = steps(rules);
            if let (Some(q), Some(orig)) = (n.quantity(), original.quantity()) {
                assert!(q <= orig, "normalize raised quantity {orig} to {q}");
                assert!(q > Decimal::ZERO);
                assert!(is_multiple_of(q, lot), "{q} not a multiple of step {lot}");
                if *n.order_type() == OrderType::Market {
                    assert!(is_multiple_of(q, market_lot), "{q} not a multiple of market step {market_lot}");
                }
                wire_round_trips(q);
                wire_within_step(q, lot);
            }
            if let (Some(p), Some(orig)) = (n.price(), original.price()) {
                assert!(is_multiple_of(p, tick), "{p} not a multiple of tick {tick}");
                match n.side() {
                    Side::Buy => assert!(p <= orig, "BUY price rounded up from {orig} to {p}"),
                    _ => assert!(p >= orig, "SELL price rounded down from {orig} to {p}"),
                }
                wire_round_trips(p);
                wire_within_step(p, tick);
            }
            if let (Some(q), Some(orig)) = (n.iceberg_qty(), original.iceberg_qty()) {
                assert!(q <= orig);
            }
            // The output is within every bound: validate accepts it as it is ...
            let again = rules.validate(n, ctx);
            assert_eq!(again.as_ref(), Ok(v), "normalized order fails validate: {again:?}");
            // ... and normalize is idempotent.
            let twice = rules.normalize(n.clone(), ctx);
            assert_eq!(twice.as_ref(), Ok(v), "normalize is not idempotent");
        }
    }
}

/// The fixed-point accelerator and the reference path agree exactly: same order, same
/// unchecked filters, same error.
pub fn check_equivalence(rules: &SymbolRules, order: &OrderRequest, ctx: &MarketContext) {
    use aegis_exchange::NormalizeOptions;
    assert_eq!(
        rules.validate(order, ctx),
        rules.validate_reference(order, ctx),
        "validate: accelerator and reference disagree on {order:?}"
    );
    for options in [
        NormalizeOptions::default(),
        NormalizeOptions { price: Some(aegis_exchange::Rounding::Nearest), stop_price: None },
        NormalizeOptions { price: Some(aegis_exchange::Rounding::Up), stop_price: None },
    ] {
        let fast = rules.normalize_with(order.clone(), ctx, options);
        let reference = rules.normalize_reference(order.clone(), ctx, options);
        assert_eq!(fast, reference, "normalize: accelerator and reference disagree on {order:?} {options:?}");
        if let Some(accelerated) = rules.normalize_accelerated(order.clone(), ctx, options) {
            assert_eq!(Ok(accelerated), reference, "the accelerator accepted what the reference refuses");
        }
    }
}

/// Fuzz target `order_validation`: arbitrary filters, order and context; validate and normalize
/// never panic, and their invariants hold.
pub fn order_validation(data: &[u8]) {
    let mut b = Bytes::new(data);
    let rules = arbitrary_rules(&mut b);
    let order = arbitrary_order(&mut b);
    let ctx = arbitrary_context(&mut b);
    if let Ok(v) = rules.validate(&order, &ctx) {
        assert_eq!(v.request(), &order, "validate changed the order");
        // A valid order is already normalized: normalize leaves it alone.
        let n = rules.normalize(order.clone(), &ctx);
        assert_eq!(n.as_ref().map(|v| v.request()), Ok(&order));
    }
    let result = rules.normalize(order.clone(), &ctx);
    check_normalize(&rules, &order, &ctx, &result);
    check_equivalence(&rules, &order, &ctx);
}

/// Fuzz target `exchange_info`: arbitrary bytes into `ExchangeInfo::from_json` never panic, and
/// whatever decodes can be validated against.
pub fn exchange_info(data: &[u8]) {
    let Ok(info) = ExchangeInfo::from_json(data) else { return };
    for rules in info.symbols() {
        assert!(info.symbol(rules.symbol()).is_some());
        let order = OrderRequest::limit(rules.symbol(), Side::Buy, Decimal::new(123_456, 4), Decimal::new(987_654, 2));
        let ctx = MarketContext::default().with_reference_price(Decimal::new(987_654, 2));
        let result = rules.normalize(order.clone(), &ctx);
        check_normalize(rules, &order, &ctx, &result);
        check_equivalence(rules, &order, &ctx);
    }
}

/// Fuzz target `rest_response`: an arbitrary status and body into every REST decoder and the
/// error classifier: no panic, bounded error text, and a 2xx never becomes an `ApiError`.
pub fn rest_response(data: &[u8]) {
    use aegis_exchange::rest::{self, ApiError, ResponseError};
    let (status, body) = match data {
        [a, b, rest @ ..] => (u16::from_be_bytes([*a, *b]) % 600, rest),
        _ => (200, data),
    };
    fn check<T: serde::de::DeserializeOwned>(status: u16, body: &[u8]) {
        match rest::decode::<T>(status, body, Some("3"), 1_000) {
            Err(ResponseError::Api(e)) => {
                assert!(!(200..300).contains(&status), "a 2xx became an ApiError");
                assert!(e.msg.chars().count() <= 256 || e.code.is_some());
                let _ = e.outcome();
            }
            Err(ResponseError::Decode(_)) => assert!((200..300).contains(&status)),
            Ok(_) => assert!((200..300).contains(&status)),
            Err(_) => {}
        }
    }
    check::<rest::OrderResponse>(status, body);
    // The one-pass reader of a placed order's answer reads what serde reads, or refuses it too.
    assert_eq!(
        rest::OrderResponse::from_json(body).ok(),
        serde_json::from_slice::<rest::OrderResponse>(body).ok(),
        "the fast path and serde disagree"
    );
    check::<rest::OrderInfo>(status, body);
    check::<Vec<rest::OrderInfo>>(status, body);
    check::<rest::Account>(status, body);
    check::<rest::DepthSnapshot>(status, body);
    check::<rest::ServerTime>(status, body);
    check::<rest::AvgPrice>(status, body);
    check::<Vec<rest::PublicTrade>>(status, body);
    check::<Vec<rest::RateLimitCount>>(status, body);
    check::<rest::BookTicker>(status, body);
    check::<rest::TickerPrice>(status, body);
    check::<Vec<rest::Kline>>(status, body);
    check::<Vec<rest::AggTrade>>(status, body);
    check::<Vec<rest::MyTrade>>(status, body);
    check::<rest::OrderCommissionRates>(status, body);
    check::<rest::CancelReplace>(status, body);
    check::<Vec<rest::CancelledEntry>>(status, body);
    check::<rest::MyFilters>(status, body);
    check::<rest::OrderList>(status, body);
    check::<Vec<rest::OrderList>>(status, body);
    check::<rest::AmendResponse>(status, body);
    check::<Vec<rest::PreventedMatch>>(status, body);
    check::<Vec<rest::Allocation>>(status, body);
    check::<Vec<rest::OrderAmendment>>(status, body);
    // What the tracker reads from a list's reports and an amend's answer.
    if let Ok(list) = rest::decode::<rest::OrderList>(status, body, None, 0) {
        for r in &list.order_reports {
            let report = r.report();
            assert_eq!(report.order_id, r.order_id);
        }
        let _ = list.is_done();
    }
    if let Ok(amend) = rest::decode::<rest::AmendResponse>(status, body, None, 0) {
        assert_eq!(amend.amended_order.report().qty, Some(amend.amended_order.qty));
    }
    let _ = rest::CancelReplace::from_error_body(body);
    let header = std::str::from_utf8(body.get(..body.len().min(24)).unwrap_or(&[])).ok();
    let e = ApiError::from_parts(status, body, header, i64::MAX - 5);
    let _ = (e.outcome(), e.to_string());
}

/// Fuzz target `ws_api_event`: arbitrary bytes into the WebSocket-API frame decoder: no panic,
/// and what decodes is self-consistent.
pub fn ws_api_event(data: &[u8]) {
    use aegis_exchange::ws_api::{UserDataEvent, WsFrame};
    match WsFrame::decode(data) {
        Ok(WsFrame::Response(r)) => {
            if let Some(e) = r.api_error() {
                let _ = (e.outcome(), e.to_string());
            }
            let _ = r.result_as::<aegis_exchange::rest::OrderResponse>();
        }
        Ok(WsFrame::Event { event: UserDataEvent::ExecutionReport(r), .. }) => {
            // Decoded money is exact decimal text: it formats and parses back.
            for v in [r.quantity, r.price, r.last_qty, r.cumulative_qty, r.commission] {
                assert!(v >= aegis_exchange::Decimal::ZERO, "negative amount decoded: {v}");
            }
        }
        Ok(_) | Err(_) => {}
    }
}

/// Fuzz target `rate_headers`: arbitrary statuses, header names, values and bodies into the rate
/// limiter: no panic, and a banned or held limiter admits nothing before its instant.
pub fn rate_headers(data: &[u8]) {
    use aegis_exchange::limits::{Admit, Cost, RateLimiter};
    let limiter = RateLimiter::with_defaults();
    let mut b = Bytes::new(data);
    let mut now: i64 = 1_763_942_400_000;
    for _ in 0..8 {
        let status = [200u16, 429, 418, 503, 400][usize::from(b.u8() % 5)];
        let mut headers = http::HeaderMap::new();
        for _ in 0..(b.u8() % 4) {
            let names = [
                "x-mbx-used-weight-1m",
                "X-MBX-ORDER-COUNT-10S",
                "x-mbx-order-count-1d",
                "retry-after",
                "X-MBX-USED-WEIGHT-",
                "x-mbx-used-weight-99h",
            ];
            let name = names[usize::from(b.u8()) % names.len()];
            let value: String = (0..(b.u8() % 24)).map(|_| char::from(b.u8() % 95 + 32)).collect();
            if let Ok(v) = http::HeaderValue::from_str(&value) {
                headers.append(name, v);
            }
        }
        let body: Vec<u8> = (0..(b.u8() % 64)).map(|_| b.u8()).collect();
        limiter.observe(status, &headers, &body, now);
        now = now.saturating_add(i64::from(b.u8()) * 997);
        let m = limiter.metrics(now);
        let cost = Cost { weight: u32::from(b.u8()), orders: u32::from(b.u8() % 2), cancel: b.bool() };
        match limiter.admit(cost, now) {
            Admit::Proceed => assert!(m.blocked_until_ms.is_none(), "admitted while blocked: {m:?}"),
            Admit::Wait { until_ms } => assert!(until_ms > now),
            Admit::Refused(_) => {}
        }
    }
}

/// `stream_frame`: arbitrary bytes through the stream decoder never panic; what it accepts
/// satisfies the sanitiser's promises; the counters add up.
pub fn stream_frame(data: &[u8]) {
    use aegis_exchange::stream::{MarketEvent, StreamDecoder};
    let now = 1_723_161_255_400;
    let mut decoder = StreamDecoder::default();
    // The input itself, and the input as `data` of a combined frame (nested decoding).
    let mut wrapped = br#"{"stream":"btcusdt@depth20","data":"#.to_vec();
    wrapped.extend_from_slice(data);
    wrapped.push(b'}');
    for frame in [data, &wrapped[..]] {
        let Ok(message) = decoder.decode(now, frame) else { continue };
        let positive = |d: Decimal| d > Decimal::ZERO;
        match message.event {
            MarketEvent::Trade(t) => assert!(positive(t.price) && !t.qty.is_sign_negative()),
            MarketEvent::AggTrade(t) => assert!(positive(t.price) && t.first_trade_id <= t.last_trade_id),
            MarketEvent::Kline(k) => {
                let c = k.candle;
                assert!(positive(c.low) && c.low <= c.high, "{c:?}");
                assert!((c.low..=c.high).contains(&c.open) && (c.low..=c.high).contains(&c.close), "{c:?}");
                assert!(!c.volume.is_sign_negative() && c.open_time <= c.close_time);
                assert!(c.open_time >= 1_483_228_800_000 && c.close_time <= now + 3_600_000);
            }
            MarketEvent::BookTicker(t) => assert!(positive(t.bid.price) && t.bid.price < t.ask.price),
            MarketEvent::DepthUpdate(d) => {
                assert!(d.first_update_id <= d.final_update_id);
                assert!(d.bids.iter().chain(&d.asks).all(|l| positive(l.price) && !l.qty.is_sign_negative()));
            }
            MarketEvent::PartialDepth(d) => {
                assert!(d.bids.iter().chain(&d.asks).all(|l| positive(l.price) && !l.qty.is_sign_negative()));
            }
            MarketEvent::MiniTicker(t) => assert!(positive(t.low) && t.low <= t.high),
            MarketEvent::Ticker24h(t) => assert!(positive(t.low) && t.low <= t.high),
            MarketEvent::AvgPrice(a) => assert!(positive(a.price)),
            MarketEvent::ReferencePrice(r) => assert!(r.price.is_none_or(positive)),
            _ => {}
        }
    }
    let stats = decoder.stats();
    assert_eq!(stats.accepted() + stats.malformed() + stats.poisoned_total(), 2);
}

/// `book_sequence`: arbitrary diff / snapshot sequences through `BookSync`: never a panic; while
/// synced, levels are sorted, positive, within the depth bound and never crossed (bids are
/// drawn below asks), the update id never goes back, and the buffer stays bounded.
pub fn book_sequence(data: &[u8]) {
    use aegis_exchange::rest::{DepthSnapshot, Level};
    use aegis_exchange::stream::Symbol;
    use aegis_exchange::{BookSync, stream::DepthUpdate};
    let mut b = Bytes::new(data);
    let max_depth = usize::from(b.u8() % 8) + 1;
    let mut sync = BookSync::new(max_depth, 16);
    let level = |b: &mut Bytes<'_>, bid: bool| Level {
        price: Decimal::from(u32::from(b.u8() % 50) + if bid { 1 } else { 51 }),
        qty: Decimal::from(b.u8() % 4),
    };
    let levels = |b: &mut Bytes<'_>, bid: bool| (0..b.u8() % 5).map(|_| level(b, bid)).collect::<Vec<_>>();
    let mut last_id = None;
    for _ in 0..64 {
        if b.data.is_empty() {
            break;
        }
        let op = b.u8();
        let first = u64::from(b.u8());
        let len = u64::from(b.u8() % 4);
        let result = if op.is_multiple_of(5) {
            let snapshot = DepthSnapshot {
                last_update_id: first,
                bids: levels(&mut b, true).into_iter().filter(|l| !l.qty.is_zero()).collect(),
                asks: levels(&mut b, false).into_iter().filter(|l| !l.qty.is_zero()).collect(),
            };
            last_id = None;
            sync.on_snapshot(&snapshot).map(|_| ())
        } else {
            let event = DepthUpdate {
                event_time: 0,
                symbol: Symbol::new("BTCUSDT").unwrap_or_else(|| unreachable!()),
                first_update_id: first,
                final_update_id: first + len,
                bids: levels(&mut b, true),
                asks: levels(&mut b, false),
            };
            sync.on_diff(event).map(|_| ())
        };
        if result.is_err() {
            assert!(sync.needs_snapshot() && sync.book().is_none());
            last_id = None;
        }
        if let Some(book) = sync.book() {
            let bids: Vec<Level> = book.bids().collect();
            let asks: Vec<Level> = book.asks().collect();
            assert!(bids.len() <= max_depth && asks.len() <= max_depth);
            assert!(bids.windows(2).all(|w| w[0].price > w[1].price));
            assert!(asks.windows(2).all(|w| w[0].price < w[1].price));
            assert!(bids.iter().chain(&asks).all(|l| l.qty > Decimal::ZERO));
            assert!(!book.is_crossed());
            if let Some(prev) = last_id {
                assert!(book.last_update_id() >= prev);
            }
            last_id = Some(book.last_update_id());
        }
    }
}

/// `ledger_ops`: arbitrary operation sequences on a three-asset ledger. After every step:
/// balances are never negative, each asset's locked balance equals what its open reservations
/// hold, and each asset's total equals its credits − debits ± fills, exactly.
pub fn ledger_ops(data: &[u8]) {
    use aegis_exchange::{Execution, Ledger, Reservation};
    let mut b = Bytes::new(data);
    let ledger = Ledger::new();
    let ids: Vec<_> = ["X", "Y", "Z"].iter().filter_map(|a| ledger.asset(a).ok()).collect();
    assert_eq!(ids.len(), 3);
    let mut expected_total = [Decimal::ZERO; 3];
    let mut open: Vec<Reservation> = Vec::new();
    let index = |id| ids.iter().position(|x| *x == id).unwrap_or(0);
    for _ in 0..256 {
        if b.data.is_empty() {
            break;
        }
        let op = b.u8();
        let a = usize::from(b.u8() % 3);
        let other = (a + 1 + usize::from(b.u8() % 2)) % 3;
        let amount = b.decimal();
        match op % 5 {
            0 if ledger.credit(ids[a], amount).is_ok() => expected_total[a] += amount,
            1 if ledger.debit(ids[a], amount).is_ok() => expected_total[a] -= amount,
            2 => {
                let r = if op & 0x80 == 0 {
                    ledger.reserve_buy(ids[a], ids[other], amount)
                } else {
                    ledger.reserve_sell(ids[a], ids[other], amount)
                };
                if let Ok(r) = r {
                    open.push(r);
                }
            }
            3 if !open.is_empty() => {
                let r = open[usize::from(b.u8()) % open.len()];
                let (paid, credited, fee) = (amount, b.decimal(), b.decimal());
                let fee_asset = ids[usize::from(b.u8() % 3)];
                let (base_qty, quote_qty) = if r.side() == Side::Buy { (credited, paid) } else { (paid, credited) };
                let exec = Execution { base_qty, quote_qty, commission: fee, commission_asset: fee_asset };
                if ledger.fill(&r, exec).is_ok() {
                    let (pay, credit) = (index(r.locked_asset()), index(r.credited_asset()));
                    expected_total[pay] -= paid;
                    expected_total[credit] += credited;
                    expected_total[index(fee_asset)] -= fee;
                }
            }
            4 if !open.is_empty() => {
                let i = usize::from(b.u8()) % open.len();
                let r = open[i];
                let first = ledger.release(&r);
                assert!(ledger.release(&r).is_err(), "released twice");
                if first.is_ok() {
                    open.swap_remove(i);
                }
            }
            _ => {}
        }
        let mut locked_by_open = [Decimal::ZERO; 3];
        for r in &open {
            locked_by_open[index(r.locked_asset())] += ledger.remaining(r).unwrap_or_default();
        }
        for (k, id) in ids.iter().enumerate() {
            let bal = ledger.balance(*id).unwrap_or_default();
            assert!(!bal.free.is_sign_negative() && !bal.locked.is_sign_negative(), "{bal:?}");
            assert_eq!(bal.locked, locked_by_open[k]);
            assert_eq!(bal.total(), expected_total[k]);
        }
    }
}

/// `order_events`: arbitrary answers, events, polls and cancels for eight client order ids
/// through `Orders`. Never a panic; after every step each asset's locked balance equals what the
/// tracked orders' open reservations hold, no balance is negative, each order's cumulative
/// executed quantity never shrinks, and an ended order never comes back to life.
pub fn order_events(data: &[u8]) {
    use std::sync::Arc;

    use aegis_exchange::ClientOrderId;
    use aegis_exchange::Ledger;
    use aegis_exchange::rest::{ApiError, MyTrade, OrderInfo};
    use aegis_exchange::ws_api::ExecutionReport;
    use aegis_exchange::{Orders, OrdersConfig, Submit, SymbolPolicy};
    use serde_json::json;

    const STATUSES: [&str; 10] = [
        "NEW",
        "PARTIALLY_FILLED",
        "FILLED",
        "CANCELED",
        "REJECTED",
        "EXPIRED",
        "EXPIRED_IN_MATCH",
        "PENDING_NEW",
        "PENDING_CANCEL",
        "SOMETHING_NEW",
    ];
    const EXECUTIONS: [&str; 8] =
        ["NEW", "TRADE", "CANCELED", "REJECTED", "EXPIRED", "TRADE_PREVENTION", "REPLACED", "X"];
    const ASSETS: [Option<&str>; 5] = [None, Some("BTC"), Some("USDT"), Some("BNB"), Some("DOGE")];
    const BODIES: [&[u8]; 7] = [
        br#"{"code":-2010,"msg":"Account has insufficient balance for requested action."}"#,
        br#"{"code":-1007,"msg":"Timeout waiting for response from backend server."}"#,
        br#"{"code":-1006,"msg":"An unexpected response was received from the message bus."}"#,
        br#"{"code":-2013,"msg":"Order does not exist."}"#,
        br#"{"code":-1003,"msg":"Too much request weight used"}"#,
        b"<html>502 Bad Gateway</html>",
        br#"{"symbol":"BTCUSDT","orderId":42,"orderListId":-1,"clientOrderId":"f0","transactTime":1}"#,
    ];
    const STATUS_CODES: [u16; 8] = [200, 400, 408, 418, 429, 500, 502, 503];

    let mut b = Bytes::new(data);
    let ledger = Arc::new(Ledger::new());
    let ids: Vec<_> = ["BTC", "USDT", "BNB"].iter().filter_map(|a| ledger.asset(a).ok()).collect();
    assert_eq!(ids.len(), 3);
    for id in &ids {
        assert!(ledger.credit(*id, Decimal::from(1_000_000)).is_ok());
    }
    let policy = [SymbolPolicy::Any, SymbolPolicy::OneInFlight, SymbolPolicy::OneOpen][usize::from(b.u8() % 3)];
    let mut orders =
        Orders::new(Arc::clone(&ledger), OrdersConfig { symbol_policy: policy, ..OrdersConfig::default() });
    let cids: Vec<ClientOrderId> = (0..8).filter_map(|i| ClientOrderId::new(&format!("f{i}")).ok()).collect();
    let mut executed = [Decimal::ZERO; 8];
    let mut ended = [false; 8];
    let mut now: i64 = 0;
    let small = |b: &mut Bytes<'_>| Decimal::new(i64::from(b.u8()) * 1000 + i64::from(b.u8()), u32::from(b.u8() % 9));
    for _ in 0..128 {
        if b.data.is_empty() {
            break;
        }
        let op = b.u8();
        let k = usize::from(b.u8() % 8);
        let id = cids[k];
        now += i64::from(b.u8()) * 64;
        let order_id = 42 + u64::from(b.u8() % 2);
        match op % 11 {
            0 => {
                let side = if b.bool() { Side::Buy } else { Side::Sell };
                let order = OrderRequest::limit("BTCUSDT", side, small(&mut b), small(&mut b)).with_client_order_id(id);
                let recv_window = i64::from(b.u8()) * 100;
                if orders.submit(Submit::new(&order, ids[0], ids[1])).is_ok() && b.bool() {
                    let _ = orders.on_sent(now, &id, now, recv_window);
                }
            }
            1 => {
                orders.on_place_unanswered(now, &id);
            }
            2 => {
                let status = STATUS_CODES[usize::from(b.u8() % 8)];
                let body = BODIES[usize::from(b.u8() % 7)];
                // As the engine reads a placement's answer.
                match aegis_exchange::rest::decode::<aegis_exchange::rest::OrderResponse>(status, body, None, now) {
                    Ok(r) if r.client_order_id == id.as_str() => {
                        orders.on_report(now, &r.report(), r.trades());
                    }
                    Err(aegis_exchange::rest::ResponseError::Api(e)) => {
                        orders.on_place_error(now, &id, &e);
                    }
                    _ => {
                        orders.on_place_unanswered(now, &id);
                    }
                }
            }
            3 => {
                let cancel = b.u8().is_multiple_of(4);
                let report = json!({"e": "executionReport", "E": now, "s": "BTCUSDT",
                    "c": if cancel { "cancel-id".to_owned() } else { id.as_str().to_owned() },
                    "C": if cancel { id.as_str() } else { "" },
                    "S": if b.bool() { "BUY" } else { "SELL" }, "o": "LIMIT", "f": "GTC", "q": small(&mut b).to_string(),
                    "p": small(&mut b).to_string(), "P": "0", "F": "0", "g": -1,
                    "x": EXECUTIONS[usize::from(b.u8() % 8)], "X": STATUSES[usize::from(b.u8() % 10)], "r": "NONE",
                    "i": order_id, "l": small(&mut b).to_string(), "z": small(&mut b).to_string(),
                    "L": small(&mut b).to_string(), "n": small(&mut b).to_string(),
                    "N": ASSETS[usize::from(b.u8() % 5)], "T": now, "t": i64::from(b.u8() % 10) - 1, "I": 1,
                    "w": true, "m": false, "M": false, "O": now, "Z": small(&mut b).to_string(),
                    "Y": small(&mut b).to_string(), "Q": "0"});
                if let Ok(r) = serde_json::from_value::<ExecutionReport>(report) {
                    orders.on_report(now, &r.report(), r.trade());
                }
            }
            4 => {
                let info = json!({"symbol": "BTCUSDT", "orderId": order_id, "orderListId": -1, "clientOrderId": id.as_str(),
                    "price": "1", "origQty": "1", "executedQty": small(&mut b).to_string(),
                    "cummulativeQuoteQty": if b.bool() { "-1".to_owned() } else { small(&mut b).to_string() },
                    "status": STATUSES[usize::from(b.u8() % 10)], "timeInForce": "GTC", "type": "LIMIT", "side": "BUY"});
                if let Ok(info) = serde_json::from_value::<OrderInfo>(info) {
                    orders.on_report(now, &info.report(), []);
                }
            }
            5 => {
                let error = ApiError::from_parts(
                    STATUS_CODES[usize::from(b.u8() % 8)],
                    BODIES[usize::from(b.u8() % 7)],
                    None,
                    now,
                );
                if b.bool() {
                    orders.on_query_sent(now, &id);
                }
                orders.on_query_error(now, &id, &error);
            }
            6 => {
                while orders.poll_action(now).is_some() {}
                if let Some(at) = orders.next_timeout() {
                    assert!(at > now, "a due action was not handed out");
                }
            }
            7 => {
                let _ = orders.cancel(&id);
            }
            8 => {
                let error = ApiError::from_parts(400, BODIES[usize::from(b.u8() % 7)], None, now);
                orders.on_cancel_error(now, &id, &error);
            }
            9 => {
                let trades: Vec<MyTrade> = (0..b.u8() % 4)
                    .filter_map(|_| {
                        serde_json::from_value(json!({"symbol": "BTCUSDT", "id": b.u8() % 10, "orderId": order_id,
                            "orderListId": -1, "price": "1", "qty": small(&mut b).to_string(),
                            "quoteQty": small(&mut b).to_string(), "commission": small(&mut b).to_string(),
                            "commissionAsset": ASSETS[usize::from(b.u8() % 5)].unwrap_or("BTC"), "time": now,
                            "isBuyer": true, "isMaker": false, "isBestMatch": true}))
                        .ok()
                    })
                    .collect();
                orders.on_trades(now, &id, trades.iter().map(MyTrade::trade));
            }
            _ => {
                orders.on_not_sent(&id);
            }
        }
        // Invariants.
        let mut locked = [Decimal::ZERO; 3];
        for (i, cid) in cids.iter().enumerate() {
            let Some(view) = orders.get(cid) else { continue };
            assert!(view.executed_qty >= executed[i], "{cid}: executed went back");
            executed[i] = view.executed_qty;
            if ended[i] && !view.ledger_mismatch {
                assert!(view.state.is_terminal(), "{cid}: came back to life as {}", view.state);
            }
            ended[i] |= view.state.is_terminal();
            if let Some(r) = view.reservation {
                let slot = ids.iter().position(|a| *a == r.locked_asset()).unwrap_or(0);
                locked[slot] += ledger.remaining(&r).unwrap_or_default();
            }
        }
        for (slot, asset) in ids.iter().enumerate() {
            let bal = ledger.balance(*asset).unwrap_or_default();
            assert!(!bal.free.is_sign_negative() && !bal.locked.is_sign_negative(), "{bal:?}");
            assert_eq!(bal.locked, locked[slot], "locked funds without an open order");
        }
    }
}

/// Fuzz target `list_events`: an order list of every kind (OCO, OTO, OTOCO, OPO, OPOCO; buy or
/// sell) tracked through arbitrary sequences of what the engine feeds `Orders` for its legs:
/// the placement's answer (reports, an ACK, an error, none), `executionReport`s of any status
/// with trades, queries of a leg or of the list (found, "does not exist", other errors), trades
/// fetched, cancels, timers. Never a panic; no balance goes negative; a leg's executed quantity
/// never shrinks; and once every leg has ended with its trades applied, nothing stays locked.
pub fn list_events(data: &[u8]) {
    use std::sync::Arc;

    use aegis_exchange::rest::{ApiError, MyTrade, OrderInfo};
    use aegis_exchange::ws_api::ExecutionReport;
    use aegis_exchange::{ClientOrderId, Ledger, ListLeg, ListRequest, OcoRequest, OtoRequest, TimeInForce};
    use aegis_exchange::{Orders, OrdersConfig, SubmitList};
    use serde_json::json;

    const STATUSES: [&str; 8] =
        ["NEW", "PARTIALLY_FILLED", "FILLED", "CANCELED", "REJECTED", "EXPIRED", "EXPIRED_IN_MATCH", "PENDING_NEW"];
    const EXECUTIONS: [&str; 6] = ["NEW", "TRADE", "CANCELED", "EXPIRED", "TRADE_PREVENTION", "REJECTED"];
    const BODIES: [&[u8]; 5] = [
        br#"{"code":-2011,"msg":"Order list does not exist."}"#,
        br#"{"code":-2013,"msg":"Order does not exist."}"#,
        br#"{"code":-2010,"msg":"Account has insufficient balance for requested action."}"#,
        br#"{"code":-1007,"msg":"Timeout waiting for response from backend server."}"#,
        b"<html>502 Bad Gateway</html>",
    ];
    const STATUS_CODES: [u16; 5] = [400, 408, 429, 502, 503];

    let mut b = Bytes::new(data);
    let ledger = Arc::new(Ledger::new());
    let ids: Vec<_> = ["BTC", "USDT"].iter().filter_map(|a| ledger.asset(a).ok()).collect();
    assert_eq!(ids.len(), 2);
    for id in &ids {
        assert!(ledger.credit(*id, Decimal::from(10_000_000)).is_ok());
    }
    let mut orders = Orders::new(Arc::clone(&ledger), OrdersConfig::default());
    let cid = |s: &str| ClientOrderId::new(s).ok();
    let (Some(list), Some(l0), Some(l1), Some(l2)) = (cid("fl"), cid("fl-0"), cid("fl-1"), cid("fl-2")) else {
        return;
    };
    let small = |b: &mut Bytes<'_>| Decimal::new(i64::from(b.u8() % 50) + 1, 2);
    let qty = small(&mut b);
    let price = Decimal::from(60_000 + i64::from(b.u8()) * 10);
    let side = if b.bool() { Side::Buy } else { Side::Sell };
    let maker = ListLeg::limit_maker(price).with_client_order_id(l0);
    let limit = ListLeg::limit(price, TimeInForce::Gtc).with_client_order_id(l0);
    let stop = |id| {
        ListLeg::stop_loss_limit(price - Decimal::from(500), price - Decimal::from(490), TimeInForce::Gtc)
            .with_client_order_id(id)
    };
    let tp = |id| ListLeg::limit_maker(price + Decimal::from(500)).with_client_order_id(id);
    let request: ListRequest = match b.u8() % 5 {
        0 => OcoRequest::new("BTCUSDT", side, qty, maker, stop(l1)).with_list_client_order_id(list).into(),
        1 => OtoRequest::oto("BTCUSDT", Side::Buy, qty, limit, Side::Sell, qty, tp(l1))
            .with_list_client_order_id(list)
            .into(),
        2 => OtoRequest::otoco("BTCUSDT", Side::Buy, qty, limit, Side::Sell, qty, tp(l1), stop(l2))
            .with_list_client_order_id(list)
            .into(),
        3 => OtoRequest::opo("BTCUSDT", qty, limit, tp(l1)).with_list_client_order_id(list).into(),
        _ => OtoRequest::opoco("BTCUSDT", qty, limit, tp(l1), stop(l2)).with_list_client_order_id(list).into(),
    };
    if orders.submit_list(SubmitList { list: &request, base: ids[0], quote: ids[1] }).is_err() {
        return;
    }
    let legs: Vec<ClientOrderId> = orders.legs(&list).map(<[ClientOrderId]>::to_vec).unwrap_or_default();
    assert!(!legs.is_empty());
    let mut executed = vec![Decimal::ZERO; legs.len()];
    let mut now: i64 = 0;
    if b.bool() {
        let _ = orders.on_list_sent(now, &list, now, 5_000);
    }
    for _ in 0..128 {
        if b.data.is_empty() {
            break;
        }
        let op = b.u8();
        let k = usize::from(b.u8()) % legs.len();
        let leg = legs[k];
        now += i64::from(b.u8()) * 64;
        let order_id = 100 + k as u64;
        match op % 10 {
            0 => {
                let exec = EXECUTIONS[usize::from(b.u8() % 6)];
                let status = STATUSES[usize::from(b.u8() % 8)];
                let trade = exec == "TRADE";
                let last = if trade { small(&mut b) } else { Decimal::ZERO };
                let report = json!({"e": "executionReport", "E": now, "s": "BTCUSDT", "c": leg.as_str(), "C": "",
                    "S": if k == 0 { "BUY" } else { "SELL" }, "o": "LIMIT", "f": "GTC", "q": qty.to_string(),
                    "p": price.to_string(), "P": "0", "F": "0", "g": 1, "x": exec, "X": status, "r": "NONE",
                    "i": order_id, "l": last.to_string(), "z": small(&mut b).to_string(), "L": price.to_string(),
                    "n": "0", "N": null, "T": now, "t": if trade { i64::from(b.u8() % 10) } else { -1 }, "I": 1,
                    "w": true, "m": false, "M": false, "O": now, "Z": "0", "Y": "0", "Q": "0",
                    "A": if b.bool() { small(&mut b).to_string() } else { "0".to_owned() }});
                if let Ok(r) = serde_json::from_value::<ExecutionReport>(report) {
                    let _ = orders.on_report(now, &r.report(), r.trade());
                }
            }
            1 => {
                // The placement's ACK, as the engine applies it: each member exists.
                let new = aegis_exchange::OrderStatus::New;
                let waiting = aegis_exchange::OrderStatus::PendingNew;
                for (i, l) in legs.iter().enumerate() {
                    let report = aegis_exchange::OrderReport {
                        client_order_id: l.as_str(),
                        orig_client_order_id: None,
                        order_id: 100 + i as u64,
                        status: Some(if orders.awaits_trigger(l) { &waiting } else { &new }),
                        executed_qty: None,
                        cumulative_quote_qty: None,
                        reject_reason: None,
                        qty: None,
                        prevented_qty: None,
                        pegged_price: None,
                    };
                    let _ = orders.on_report(now, &report, []);
                }
            }
            2 => {
                for l in &legs {
                    let _ = orders.on_place_unanswered(now, l);
                }
            }
            3 => {
                let error = ApiError::from_parts(
                    STATUS_CODES[usize::from(b.u8() % 5)],
                    BODIES[usize::from(b.u8() % 5)],
                    None,
                    now,
                );
                if b.bool() {
                    orders.on_list_query_sent(now, &list);
                }
                let _ = orders.on_list_query_error(now, &list, &error);
            }
            4 => orders.resolve_list_by_legs(now, &list),
            5 => while orders.poll_action(now).is_some() {},
            6 => {
                let _ = orders.cancel(&leg);
            }
            7 => {
                let trades: Vec<MyTrade> = (0..b.u8() % 3)
                    .filter_map(|_| {
                        serde_json::from_value(json!({"symbol": "BTCUSDT", "id": b.u8() % 10, "orderId": order_id,
                            "orderListId": 1, "price": price.to_string(), "qty": small(&mut b).to_string(),
                            "quoteQty": "0", "commission": "0", "commissionAsset": "BNB", "time": now,
                            "isBuyer": k == 0, "isMaker": true, "isBestMatch": true}))
                        .ok()
                    })
                    .collect();
                let _ = orders.on_trades(now, &leg, trades.iter().map(MyTrade::trade));
            }
            8 => {
                let error = ApiError::from_parts(400, BODIES[usize::from(b.u8() % 5)], None, now);
                let _ = orders.on_place_error(now, &leg, &error);
            }
            _ => {
                let info = json!({"symbol": "BTCUSDT", "orderId": order_id, "orderListId": 1, "clientOrderId": leg.as_str(),
                    "price": price.to_string(), "origQty": qty.to_string(), "executedQty": small(&mut b).to_string(),
                    "cummulativeQuoteQty": "0", "status": STATUSES[usize::from(b.u8() % 8)], "timeInForce": "GTC",
                    "type": "LIMIT", "side": if k == 0 { "BUY" } else { "SELL" }});
                if let Ok(info) = serde_json::from_value::<OrderInfo>(info) {
                    let _ = orders.on_report(now, &info.report(), []);
                }
            }
        }
        // Invariants.
        let mut settled = true;
        for (i, l) in legs.iter().enumerate() {
            let Some(view) = orders.get(l) else { continue };
            assert!(view.executed_qty >= executed[i], "{l}: executed went back");
            executed[i] = view.executed_qty;
            settled &= view.state.is_terminal() && view.traded_qty >= view.executed_qty && !view.ledger_mismatch;
        }
        for asset in &ids {
            let bal = ledger.balance(*asset).unwrap_or_default();
            assert!(!bal.free.is_sign_negative() && !bal.locked.is_sign_negative(), "{bal:?}");
            if settled {
                assert_eq!(bal.locked, Decimal::ZERO, "every leg ended and settled, yet funds stay locked");
            }
        }
    }
}

/// The paper exchange every `paper_*` target starts an input from: two markets (BTCUSDT,
/// ETHBTC) with prices, a funded account with an HMAC key (`k`/`s`) and an Ed25519 key (`e`), a
/// combined stream connection, and a WebSocket-API connection logged on with the Ed25519 key and
/// subscribed to the user data stream.
///
/// Setting an exchange up (decoding the exchangeInfo, building the books, the deposits, the
/// connections and their first pushes) costs more than most inputs' whole run: it is done once
/// per process, and each input starts from a clone ([`PaperExchange`] is `Clone`).
pub struct PaperBase {
    pub paper: aegis_paper::PaperExchange,
    pub streams: aegis_paper::ConnId,
    pub api: aegis_paper::ConnId,
    /// Each asset's free + locked, as deposited.
    pub expected: std::collections::BTreeMap<String, Decimal>,
}

/// The clock of [`paper_base`]'s exchange (ms).
pub const PAPER_START: i64 = 1_760_000_000_000;

/// The seed of the Ed25519 key `e` of [`paper_base`].
const PAPER_ED25519_SEED: [u8; 32] = [7; 32];

pub fn paper_base() -> &'static PaperBase {
    use aegis_exchange::sign::{Credentials, Ed25519};
    use aegis_exchange::ws_api::WsApi;
    use aegis_paper::{PaperConfig, PaperExchange, PaperKey, WalkConfig};

    static BASE: std::sync::OnceLock<PaperBase> = std::sync::OnceLock::new();
    BASE.get_or_init(|| {
        // The two symbols the inputs trade (every market costs each run), allowing OPO
        // (Binance added `opoAllowed` after the bundled capture).
        let Ok(mut info) = serde_json::from_slice::<serde_json::Value>(aegis_exchange::BUNDLED_EXCHANGE_INFO) else {
            panic!("the bundled exchange info")
        };
        if let Some(symbols) = info.get_mut("symbols").and_then(serde_json::Value::as_array_mut) {
            symbols
                .retain(|s| matches!(s.get("symbol").and_then(serde_json::Value::as_str), Some("BTCUSDT" | "ETHBTC")));
            for symbol in symbols.iter_mut() {
                symbol["opoAllowed"] = serde_json::Value::Bool(true);
            }
            assert_eq!(symbols.len(), 2, "BTCUSDT and ETHBTC");
        }
        let Ok(config) = PaperConfig::default().with_exchange_info(info.to_string()) else {
            panic!("the bundled exchange info")
        };
        // A walk step every 30 s and 5 levels a side: an input's jumps of up to 25.5 s move the
        // market about every other op (its `set_price` ops move it at will) without each op
        // rebuilding and publishing a 40-level book (a step every 10 s cost a fifth of the rate).
        let walk = WalkConfig { step_ms: 30_000, levels: 5, ..WalkConfig::default() };
        let config = config
            .with_walk(walk)
            .with_price("BTCUSDT", Decimal::from(65_000))
            .with_price("ETHBTC", Decimal::new(5, 2));
        let mut paper = PaperExchange::new(config, PAPER_START);
        paper.add_api_key("k", PaperKey::hmac("s"));
        let Ok(ed25519) = Ed25519::from_seed(&PAPER_ED25519_SEED) else { panic!("an Ed25519 seed") };
        let Ok(public) = PaperKey::ed25519(&ed25519.public_key()) else { panic!("an Ed25519 public key") };
        paper.add_api_key("e", public);
        let mut expected = std::collections::BTreeMap::new();
        for (asset, amount) in [("USDT", 1_000_000), ("BTC", 10), ("ETH", 100)] {
            paper.deposit(PAPER_START, asset, Decimal::from(amount));
            expected.insert(asset.to_owned(), Decimal::from(amount));
        }
        while paper.poll_user_event().is_some() {}
        let streams = paper.ws_connect(PAPER_START, "/stream?streams=btcusdt@trade/btcusdt@depth/ethbtc@bookTicker");
        let api = paper.ws_connect(PAPER_START, "/ws-api/v3");
        let (Ok(streams), Ok(api)) = (streams, api) else { panic!("the paper exchange refused a connection") };
        let Ok(credentials) = Credentials::new("e", ed25519) else { panic!("credentials") };
        let ws = WsApi::new().with_credentials(credentials);
        let (Ok(logon), Ok(subscribe)) = (ws.session_logon("logon", PAPER_START), ws.user_data_stream_subscribe("sub"))
        else {
            panic!("the logon requests")
        };
        paper.ws_send(PAPER_START, api, &logon.text);
        paper.ws_send(PAPER_START, api, &subscribe.text);
        let answers: Vec<_> = std::iter::from_fn(|| paper.ws_poll(api)).collect();
        assert!(
            answers.iter().filter(|a| matches!(a, aegis_paper::WsOut::Text(t) if t.contains("\"status\":200"))).count()
                == 2,
            "logon and subscribe: {answers:?}"
        );
        // The streams' first push (whole books) is part of the set-up too.
        paper.advance(PAPER_START);
        while paper.ws_poll(streams).is_some() {}
        PaperBase { paper, streams, api, expected }
    })
}

/// Drains the user-data events and checks the account against them: every event decodes, no
/// balance is negative, and each asset's free + locked equals `expected` plus the trades the
/// execution reports told (updated in place).
pub fn paper_account_agrees(
    paper: &mut aegis_paper::PaperExchange,
    expected: &mut std::collections::BTreeMap<String, Decimal>,
) {
    use aegis_exchange::ws_api::UserDataEvent;
    while let Some(event) = paper.poll_user_event() {
        let value: serde_json::Value = serde_json::from_str(&event).unwrap_or_else(|e| panic!("{e}: {event}"));
        let decoded = UserDataEvent::from_value(value).unwrap_or_else(|e| panic!("{e}: {event}"));
        if let UserDataEvent::ExecutionReport(r) = decoded
            && r.execution_type == aegis_exchange::ExecutionType::Trade
        {
            let Some((base, quote)) = paper_rules(&r.symbol) else { panic!("{}", r.symbol) };
            let notional = r.last_price * r.last_qty;
            let (paid, got, paid_amount, got_amount) = if r.side == Side::Buy {
                (quote, base, notional, r.last_qty)
            } else {
                (base, quote, r.last_qty, notional)
            };
            *expected.entry(paid.to_owned()).or_default() -= paid_amount;
            *expected.entry(got.to_owned()).or_default() += got_amount - r.commission;
        }
    }
    for (asset, balance) in paper.balances() {
        assert!(balance.free >= Decimal::ZERO && balance.locked >= Decimal::ZERO, "{asset}: {balance:?}");
        assert_eq!(balance.free + balance.locked, expected.get(&asset).copied().unwrap_or_default(), "{asset}");
    }
}

/// Fuzz target `paper_http`: arbitrary requests (well signed or not, any parameters, malformed
/// encodings; single orders and every kind of order list), WebSocket frames and price moves
/// against the paper exchange. It never panics; every answer and every WebSocket frame is JSON
/// with the weight header; balances never go negative; every user-data event decodes; and each
/// asset's free + locked equals the deposits plus the trades the events reported.
pub fn paper_http(data: &[u8]) {
    use aegis_exchange::sign::{HmacSha256, SignedQuery};

    const ROUTES: [(&str, &str); 21] = [
        ("POST", "/api/v3/order"),
        ("POST", "/api/v3/order"),
        ("POST", "/api/v3/order"),
        ("POST", "/api/v3/order/test"),
        ("DELETE", "/api/v3/order"),
        ("DELETE", "/api/v3/openOrders"),
        ("GET", "/api/v3/order"),
        ("GET", "/api/v3/openOrders"),
        ("GET", "/api/v3/account"),
        ("GET", "/api/v3/myTrades"),
        ("GET", "/api/v3/depth"),
        ("GET", "/api/v3/trades"),
        ("GET", "/api/v3/avgPrice"),
        ("GET", "/api/v3/nope"),
        ("POST", "/api/v3/orderList/oco"),
        ("POST", "/api/v3/orderList/oto"),
        ("POST", "/api/v3/orderList/otoco"),
        ("POST", "/api/v3/orderList/opo"),
        ("POST", "/api/v3/orderList/opoco"),
        ("DELETE", "/api/v3/orderList"),
        ("GET", "/api/v3/orderList"),
    ];
    const NAMES: [&str; 40] = [
        "symbol",
        "side",
        "type",
        "timeInForce",
        "quantity",
        "quoteOrderQty",
        "price",
        "stopPrice",
        "icebergQty",
        "newClientOrderId",
        "origClientOrderId",
        "orderId",
        "limit",
        "newOrderRespType",
        "recvWindow",
        "trailingDelta",
        "computeCommissionRates",
        // Order lists.
        "listClientOrderId",
        "orderListId",
        "aboveType",
        "abovePrice",
        "aboveStopPrice",
        "belowType",
        "belowPrice",
        "belowStopPrice",
        "belowTimeInForce",
        "workingType",
        "workingSide",
        "workingPrice",
        "workingQuantity",
        "workingTimeInForce",
        "pendingType",
        "pendingSide",
        "pendingPrice",
        "pendingStopPrice",
        "pendingQuantity",
        "pendingTimeInForce",
        "pendingAboveType",
        "pendingAbovePrice",
        "pendingBelowStopPrice",
    ];
    const VALUES: [&str; 26] = [
        "BTCUSDT",
        "ETHBTC",
        "NOPE",
        "BUY",
        "SELL",
        "LIMIT",
        "MARKET",
        "LIMIT_MAKER",
        "STOP_LOSS_LIMIT",
        "STOP_LOSS",
        "TAKE_PROFIT_LIMIT",
        "GTC",
        "IOC",
        "FOK",
        "FULL",
        "ACK",
        "a1",
        "a2",
        "1",
        "0.01",
        "65000",
        "64000.5",
        "-1",
        "true",
        "TAKE_PROFIT",
        "0.00003",
    ];
    let base = paper_base();
    let mut b = Bytes::new(data);
    let mut now = PAPER_START;
    let mut paper = base.paper.clone();
    let (streams, api) = (base.streams, base.api);
    let mut expected = base.expected.clone();
    let signer = HmacSha256::new("s");
    for _ in 0..PAPER_OPS {
        if b.data.is_empty() {
            break;
        }
        let op = b.u8();
        now += i64::from(b.u8()) * 100;
        if op.is_multiple_of(8) {
            let symbol = if b.bool() { "BTCUSDT" } else { "ETHBTC" };
            paper.set_price(now, symbol, b.decimal());
        } else if op % 8 == 1 {
            // A WebSocket frame: a method with arbitrary params, or raw text, on either connection.
            const METHODS: [&str; 11] = [
                "order.place",
                "orderList.place.oto",
                "orderList.place.opoco",
                "orderList.cancel",
                "order.status",
                "session.logon",
                "userDataStream.subscribe.signature",
                "userDataStream.unsubscribe",
                "SUBSCRIBE",
                "LIST_SUBSCRIPTIONS",
                "time",
            ];
            let method = METHODS[usize::from(b.u8()) % METHODS.len()];
            let mut params = serde_json::Map::new();
            for _ in 0..b.u8() % 6 {
                let name = NAMES[usize::from(b.u8()) % NAMES.len()];
                params.insert(
                    name.to_owned(),
                    serde_json::Value::String(VALUES[usize::from(b.u8()) % VALUES.len()].to_owned()),
                );
            }
            let text = if b.bool() {
                serde_json::json!({"id": b.u8(), "method": method, "params": params}).to_string()
            } else {
                b.text(24)
            };
            paper.ws_send(now, if b.bool() { api } else { streams }, &text);
        } else {
            let (method, path) = ROUTES[usize::from(b.u8()) % ROUTES.len()];
            let mut q = SignedQuery::new();
            for _ in 0..b.u8() % 9 {
                let name = NAMES[usize::from(b.u8()) % NAMES.len()];
                match b.u8() % 4 {
                    0 => q.push_display(name, b.decimal()),
                    1 => q.push(name, &String::from_utf8_lossy(&[b.u8(), b.u8(), b.u8()])),
                    _ => q.push(name, VALUES[usize::from(b.u8()) % VALUES.len()]),
                };
            }
            q.push_display("timestamp", now - i64::from(b.u8()) * 50);
            let wire = match b.u8() % 4 {
                0 => q.into_string(),
                // Raw bytes: stray `%`, `&`, `=` and all.
                1 => (0..b.u8() % 32).map(|_| char::from(33 + b.u8() % 94)).collect(),
                _ => q.sign_with(&signer),
            };
            let in_body = b.u8().is_multiple_of(4);
            let uri = if in_body { format!("https://paper{path}") } else { format!("https://paper{path}?{wire}") };
            let body = if in_body { wire.into_bytes() } else { Vec::new() };
            let Ok(request) = http::Request::builder()
                .method(method)
                .uri(uri)
                .header("X-MBX-APIKEY", "k")
                .body(bytes::Bytes::from(body))
            else {
                continue;
            };
            let response = paper.handle_http(now, request);
            assert!(serde_json::from_slice::<serde::de::IgnoredAny>(response.body()).is_ok(), "not JSON");
            assert!(response.headers().contains_key("X-MBX-USED-WEIGHT-1M"));
        }
        for conn in [streams, api] {
            while let Some(frame) = paper.ws_poll(conn) {
                if let aegis_paper::WsOut::Text(text) = frame {
                    assert!(serde_json::from_str::<serde::de::IgnoredAny>(&text).is_ok(), "not JSON: {text}");
                }
            }
        }
        paper_account_agrees(&mut paper, &mut expected);
    }
}

/// Fuzz target `paper_ws_api`: WebSocket-API requests to the paper exchange, with every method
/// it serves, parameters of every JSON type (strings, numbers, booleans, nulls, arrays,
/// objects), requests signed with HMAC (good or bad signatures), sent on the Ed25519 session or
/// unauthenticated, and raw text. Invariants: every request gets exactly one answer, in order,
/// with its own `id`, a `status`, `result` when 200 and otherwise an `error` with a negative
/// integer `code` and a `msg`, and `rateLimits` (the weight's last); user-data events arrive as
/// `{"subscriptionId", "event"}` on the subscribed connection only; the account agrees with its
/// events (see [`paper_account_agrees`]).
pub fn paper_ws_api(data: &[u8]) {
    use aegis_exchange::sign::{HmacSha256, Signer};
    use serde_json::{Map, Value, json};
    use std::collections::VecDeque;

    const METHODS: [&str; 52] = [
        "order.place",
        "order.place",
        "order.place",
        "order.test",
        "order.cancel",
        "order.status",
        "order.amend.keepPriority",
        "order.cancelReplace",
        "order.amendments",
        "openOrders.status",
        "openOrders.cancelAll",
        "allOrders",
        "sor.order.place",
        "sor.order.test",
        "orderList.place",
        "orderList.place.oco",
        "orderList.place.oto",
        "orderList.place.otoco",
        "orderList.place.opo",
        "orderList.place.opoco",
        "orderList.cancel",
        "orderList.status",
        "openOrderLists.status",
        "allOrderLists",
        "account.status",
        "account.commission",
        "account.rateLimits.orders",
        "myTrades",
        "myPreventedMatches",
        "myAllocations",
        "myFilters",
        "session.logon",
        "session.status",
        "session.logout",
        "session.subscriptions",
        "userDataStream.subscribe",
        "userDataStream.subscribe.signature",
        "userDataStream.unsubscribe",
        "ping",
        "time",
        "exchangeInfo",
        "depth",
        "trades.recent",
        "trades.historical",
        "trades.aggregate",
        "klines",
        "uiKlines",
        "avgPrice",
        "ticker.24hr",
        "ticker",
        "ticker.price",
        "ticker.book",
    ];
    const NAMES: [&str; 40] = [
        "symbol",
        "symbols",
        "side",
        "type",
        "timeInForce",
        "quantity",
        "quoteOrderQty",
        "price",
        "stopPrice",
        "trailingDelta",
        "icebergQty",
        "newClientOrderId",
        "origClientOrderId",
        "orderId",
        "cancelOrderId",
        "cancelReplaceMode",
        "newQty",
        "cancelRestrictions",
        "orderRateLimitExceededMode",
        "selfTradePreventionMode",
        "newOrderRespType",
        "limit",
        "fromId",
        "startTime",
        "endTime",
        "interval",
        "windowSize",
        "type",
        "recvWindow",
        "listClientOrderId",
        "orderListId",
        "aboveType",
        "abovePrice",
        "belowType",
        "belowPrice",
        "belowStopPrice",
        "workingType",
        "workingPrice",
        "pendingType",
        "pendingQuantity",
    ];
    const STRINGS: [&str; 30] = [
        "BTCUSDT",
        "ETHBTC",
        "NOPE",
        "BUY",
        "SELL",
        "LIMIT",
        "MARKET",
        "LIMIT_MAKER",
        "STOP_LOSS_LIMIT",
        "TAKE_PROFIT",
        "GTC",
        "IOC",
        "FOK",
        "FULL",
        "RESULT",
        "ACK",
        "STOP_ON_FAILURE",
        "ALLOW_FAILURE",
        "ONLY_NEW",
        "EXPIRE_TAKER",
        "EXPIRE_MAKER",
        "1m",
        "1d",
        "a1",
        "0.001",
        "65000",
        "64999.99",
        "0.05",
        "-1",
        "1e3",
    ];

    /// What the next answer on a connection must carry as its `id`.
    enum Expect {
        Id(Value),
        /// Raw text: whatever the exchange could read of it.
        Any,
    }

    let base = paper_base();
    let mut b = Bytes::new(data);
    let mut now = PAPER_START;
    let mut paper = base.paper.clone();
    let mut expected = base.expected.clone();
    let session = base.api;
    let Ok(plain) = paper.ws_connect(now, "/ws-api/v3") else { panic!("a second WebSocket-API connection") };
    let hmac = HmacSha256::new("s");
    let mut pending: [(aegis_paper::ConnId, VecDeque<Expect>); 2] =
        [(session, VecDeque::new()), (plain, VecDeque::new())];
    // Which connections hold a user-data subscription (the session's is set up by the base).
    let mut next_id: u64 = 0;
    for _ in 0..PAPER_OPS {
        if b.data.is_empty() {
            break;
        }
        let op = b.u8();
        now += i64::from(b.u8() % 32) * 50;
        let slot = usize::from(b.bool());
        let conn = pending[slot].0;
        if op.is_multiple_of(16) {
            let symbol = if b.bool() { "BTCUSDT" } else { "ETHBTC" };
            paper.set_price(now, symbol, b.decimal());
        } else if op % 16 == 1 {
            let text = b.text(32);
            pending[slot].1.push_back(Expect::Any);
            paper.ws_send(now, conn, &text);
        } else {
            let method = METHODS[usize::from(b.u8()) % METHODS.len()];
            let mut params = Map::new();
            for _ in 0..b.u8() % 9 {
                let name = NAMES[usize::from(b.u8()) % NAMES.len()];
                let value = match b.u8() % 10 {
                    0 => json!(i64::from(b.u8()) - 8),
                    1 => json!(b.decimal().to_string()),
                    2 => Value::Bool(b.bool()),
                    3 => Value::Null,
                    4 => json!([STRINGS[usize::from(b.u8()) % STRINGS.len()], STRINGS[usize::from(b.u8()) % 3]]),
                    5 => json!({"x": b.u8()}),
                    6 => json!(String::from_utf8_lossy(&[b.u8(), b.u8()])),
                    _ => json!(STRINGS[usize::from(b.u8()) % STRINGS.len()]),
                };
                params.insert(name.to_owned(), value);
            }
            if !b.u8().is_multiple_of(8) {
                params.insert("timestamp".to_owned(), json!(now - i64::from(b.u8()) * 100));
            }
            if b.u8().is_multiple_of(4) {
                // Signed by its own HMAC key: the payload is the sorted parameters (a string's
                // text, any other value's JSON).
                params.insert("apiKey".to_owned(), json!("k"));
                let payload: Vec<String> = params
                    .iter()
                    .map(|(k, v)| match v {
                        Value::String(s) => format!("{k}={s}"),
                        other => format!("{k}={other}"),
                    })
                    .collect();
                let mut signature = hmac.sign(payload.join("&").as_bytes()).as_str().to_owned();
                if b.u8().is_multiple_of(8) {
                    signature.push('0');
                }
                params.insert("signature".to_owned(), json!(signature));
            }
            next_id += 1;
            let id = if b.bool() { json!(next_id) } else { json!(format!("r{next_id}")) };
            let mut request = json!({"id": id.clone(), "method": method});
            if !params.is_empty() || b.bool() {
                request["params"] = Value::Object(params);
            }
            pending[slot].1.push_back(Expect::Id(id));
            paper.ws_send(now, conn, &request.to_string());
        }
        for (conn, expect) in &mut pending {
            let mut closed = false;
            while let Some(frame) = paper.ws_poll(*conn) {
                let text = match frame {
                    aegis_paper::WsOut::Text(text) => text,
                    aegis_paper::WsOut::Close { .. } => {
                        assert!(!closed, "two Close frames");
                        closed = true;
                        continue;
                    }
                };
                assert!(!closed, "a frame after Close: {text}");
                let Ok(Value::Object(frame)) = serde_json::from_str::<Value>(&text) else {
                    panic!("not an object: {text}")
                };
                if frame.contains_key("subscriptionId") {
                    assert!(frame.get("event").and_then(|e| e.get("e")).is_some_and(Value::is_string), "{text}");
                    continue;
                }
                let Some(next) = expect.pop_front() else { panic!("an answer nobody asked for: {text}") };
                let id = frame.get("id").unwrap_or_else(|| panic!("no id: {text}"));
                if let Expect::Id(want) = next {
                    assert_eq!(id, &want, "answers out of order: {text}");
                }
                let Some(status) = frame.get("status").and_then(Value::as_u64) else { panic!("no status: {text}") };
                if status == 200 {
                    assert!(frame.contains_key("result") && !frame.contains_key("error"), "{text}");
                } else {
                    let error = frame.get("error").unwrap_or_else(|| panic!("{status} without an error: {text}"));
                    assert!(error.get("code").and_then(Value::as_i64).is_some_and(|c| c < 0), "{text}");
                    assert!(error.get("msg").is_some_and(Value::is_string), "{text}");
                }
                let limits = frame.get("rateLimits").and_then(Value::as_array);
                assert!(limits.is_some_and(|l| l.iter().all(|l| l.get("count").is_some_and(Value::is_u64))), "{text}");
                // The weight's limit last, after the `ORDERS` windows of an order.
                let last = limits.and_then(|l| l.last()).and_then(|l| l.get("rateLimitType"));
                assert!(last.is_some_and(|t| t == "REQUEST_WEIGHT"), "{text}");
            }
            if closed {
                expect.clear();
            } else {
                assert!(expect.is_empty(), "{} requests without an answer", expect.len());
            }
        }
        paper_account_agrees(&mut paper, &mut expected);
    }
}

/// Fuzz target `paper_stream_control`: market-stream connections to the paper exchange (raw and
/// combined URLs, with `timeUnit`, malformed paths) and the control frames they accept
/// (`SUBSCRIBE`, `UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, `GET_PROPERTY`, with ids and
/// parameters of any type, and raw text), at any rate, with the market moving. Invariants: every
/// request gets one answer, in order: `{"result", "id"}` echoing its id (an unsigned integer, a
/// string, or null when it had none), or an error
/// `{"code": 0..=3, "msg", "id"}`; `LIST_SUBSCRIPTIONS` answers the set the successful
/// `SUBSCRIBE` / `UNSUBSCRIBE` answers built (at most 1024 streams), `GET_PROPERTY` the last
/// `SET_PROPERTY`; a data frame is wrapped as `{"stream", "data"}` exactly when the connection
/// is combined, and comes only from a subscribed stream; the sixth message in a second closes the
/// connection (1008), and nothing follows a Close.
pub fn paper_stream_control(data: &[u8]) {
    use serde_json::{Value, json};
    use std::collections::{BTreeSet, VecDeque};

    const STREAMS: [&str; 24] = [
        "btcusdt@trade",
        "btcusdt@aggTrade",
        "btcusdt@depth",
        "btcusdt@depth@100ms",
        "btcusdt@depth5",
        "btcusdt@depth10@100ms",
        "btcusdt@bookTicker",
        "btcusdt@kline_1m",
        "btcusdt@kline_1h@+08:00",
        "btcusdt@miniTicker",
        "btcusdt@ticker",
        "btcusdt@ticker_1h",
        "btcusdt@avgPrice",
        "btcusdt@referencePrice",
        "ethbtc@trade",
        "ethbtc@depth20",
        "ethbtc@bookTicker",
        "ethbtc@kline_1s",
        "!miniTicker@arr",
        "!ticker_4h@arr",
        "nope@trade",
        "BTCUSDT@trade",
        "btcusdt@",
        "",
    ];
    const METHODS: [&str; 6] =
        ["SUBSCRIBE", "UNSUBSCRIBE", "LIST_SUBSCRIPTIONS", "SET_PROPERTY", "GET_PROPERTY", "NOPE"];

    /// A connection as the requests' answers describe it.
    struct Model {
        conn: aegis_paper::ConnId,
        combined: bool,
        /// The subscriptions, once known (a URL the model does not parse leaves them unknown
        /// until the first `LIST_SUBSCRIPTIONS`).
        subs: Option<BTreeSet<String>>,
        /// The requests waiting for their answer: the id it must echo (`None`: a request the
        /// exchange must refuse, or raw text), and what it changes when it succeeds.
        pending: VecDeque<(Option<Value>, Change)>,
        second: i64,
        sent: u32,
        closed: bool,
    }
    enum Change {
        Subscribe(Vec<String>),
        Unsubscribe(Vec<String>),
        List,
        Set(Value),
        Get,
        Nothing,
    }

    let base = paper_base();
    let mut b = Bytes::new(data);
    let mut now = PAPER_START;
    let mut paper = base.paper.clone();
    let mut conns: Vec<Model> = Vec::new();
    let mut next_id: u64 = 0;
    for _ in 0..PAPER_OPS {
        if b.data.is_empty() {
            break;
        }
        let op = b.u8();
        now += i64::from(b.u8() % 16) * 100;
        match op % 8 {
            0 if conns.len() < 4 => {
                let picks: Vec<&str> = (0..b.u8() % 4).map(|_| STREAMS[usize::from(b.u8()) % STREAMS.len()]).collect();
                let unit =
                    ["", "?timeUnit=MICROSECOND", "?timeUnit=millisecond", "?timeUnit=x"][usize::from(b.u8() % 4)];
                let (path, combined, subs) = match b.u8() % 4 {
                    0 => (format!("/ws{unit}"), false, Some(BTreeSet::new())),
                    1 if !picks.is_empty() && picks.iter().all(|s| !s.is_empty()) => (
                        format!("/ws/{}{unit}", picks.join("/")),
                        false,
                        Some(picks.iter().map(|s| s.to_string()).collect()),
                    ),
                    2 => {
                        let sep = if unit.is_empty() { String::new() } else { format!("&{}", &unit[1..]) };
                        let subs = picks.iter().filter(|s| !s.is_empty()).map(|s| s.to_string()).collect();
                        (format!("/stream?streams={}{sep}", picks.join("/")), true, Some(subs))
                    }
                    _ => {
                        let raw: String = (0..b.u8() % 24).map(|_| char::from(32 + b.u8() % 95)).collect();
                        let combined = raw.starts_with("/stream");
                        (raw, combined, None)
                    }
                };
                if let Ok(conn) = paper.ws_connect(now, &path) {
                    let combined = combined && path.starts_with("/stream");
                    conns.push(Model {
                        conn,
                        combined,
                        subs,
                        pending: VecDeque::new(),
                        second: -1,
                        sent: 0,
                        closed: false,
                    });
                }
            }
            1 => {
                let symbol = if b.bool() { "BTCUSDT" } else { "ETHBTC" };
                paper.set_price(now, symbol, b.decimal());
            }
            2 => paper.advance(now),
            _ => {
                let pick = usize::from(b.u8()) % conns.len().max(1);
                let Some(model) = conns.get_mut(pick) else { continue };
                let text = if op % 8 == 3 {
                    let raw = b.text(24);
                    if serde_json::from_str::<Value>(&raw).is_ok_and(|v| v.is_object()) {
                        continue; // a request after all: the model would not know its id
                    }
                    model.pending.push_back((None, Change::Nothing));
                    raw
                } else {
                    let method = METHODS[usize::from(b.u8()) % METHODS.len()];
                    let mut params: Vec<Value> = Vec::new();
                    for _ in 0..b.u8() % 4 {
                        params.push(match b.u8() % 8 {
                            0 => Value::Bool(b.bool()),
                            1 => json!(b.u8()),
                            2 => Value::Null,
                            3 => json!("combined"),
                            _ => json!(STREAMS[usize::from(b.u8()) % STREAMS.len()]),
                        });
                    }
                    next_id += 1;
                    // Spot takes an unsigned integer, a string or no id (echoed as null).
                    let (id, echo) = match b.u8() % 8 {
                        0 => (json!(format!("s{next_id}")), Some(json!(format!("s{next_id}")))),
                        1 => (json!(-1), None),
                        2 => (json!(1.5), None),
                        3 => (Value::Null, Some(Value::Null)),
                        _ => (json!(next_id), Some(json!(next_id))),
                    };
                    let strings: Vec<String> = params.iter().filter_map(Value::as_str).map(str::to_owned).collect();
                    let change = match method {
                        "SUBSCRIBE" => Change::Subscribe(strings),
                        "UNSUBSCRIBE" => Change::Unsubscribe(strings),
                        "LIST_SUBSCRIPTIONS" => Change::List,
                        "SET_PROPERTY" => Change::Set(params.get(1).cloned().unwrap_or(Value::Null)),
                        "GET_PROPERTY" => Change::Get,
                        _ => Change::Nothing,
                    };
                    let mut request = json!({"method": method});
                    if !id.is_null() || b.bool() {
                        request["id"] = id;
                    }
                    if !params.is_empty() || b.bool() {
                        request["params"] = Value::Array(params);
                    }
                    model.pending.push_back((echo, change));
                    request.to_string()
                };
                let second = now.div_euclid(1000);
                (model.second, model.sent) =
                    if model.second == second { (second, model.sent + 1) } else { (second, 1) };
                paper.ws_send(now, model.conn, &text);
                if model.sent > 5 && !model.closed {
                    // Binance's limit: the sixth message in a second closes the connection.
                    let last = std::iter::from_fn(|| paper.ws_poll(model.conn)).last();
                    assert!(matches!(last, Some(aegis_paper::WsOut::Close { code: 1008, .. })), "{last:?}");
                    assert!(!paper.ws_is_open(model.conn));
                    model.closed = true;
                    model.pending.clear();
                }
            }
        }
        for model in &mut conns {
            while let Some(frame) = paper.ws_poll(model.conn) {
                assert!(!model.closed, "a frame after Close: {frame:?}");
                let text = match frame {
                    aegis_paper::WsOut::Text(text) => text,
                    aegis_paper::WsOut::Close { .. } => {
                        model.closed = true;
                        model.pending.clear();
                        continue;
                    }
                };
                let value: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
                let answer = value.as_object().filter(|o| o.contains_key("id") && !o.contains_key("stream"));
                let Some(answer) = answer else {
                    // Market data.
                    match value.get("stream").and_then(Value::as_str) {
                        Some(stream) => {
                            assert!(model.combined, "a wrapped frame on a raw connection: {text}");
                            assert!(value.get("data").is_some(), "{text}");
                            if let Some(subs) = &model.subs {
                                assert!(subs.contains(stream), "data of {stream}, not subscribed: {subs:?}");
                            }
                        }
                        None => assert!(!model.combined, "an unwrapped frame on a combined connection: {text}"),
                    }
                    continue;
                };
                let Some((id, change)) = model.pending.pop_front() else {
                    panic!("an answer nobody asked for: {text}")
                };
                if let Some(code) = answer.get("code") {
                    assert!(code.as_u64().is_some_and(|c| c <= 3), "{text}");
                    assert!(answer.get("msg").is_some_and(Value::is_string), "{text}");
                    continue;
                }
                let Some(id) = id else { panic!("accepted a request with an id Binance refuses: {text}") };
                assert_eq!(answer.get("id"), Some(&id), "{text}");
                let result = answer.get("result").unwrap_or_else(|| panic!("no result: {text}"));
                match change {
                    Change::Subscribe(streams) => {
                        if let Some(subs) = &mut model.subs {
                            subs.extend(streams);
                        }
                    }
                    Change::Unsubscribe(streams) => {
                        if let Some(subs) = &mut model.subs {
                            for s in &streams {
                                subs.remove(s);
                            }
                        }
                    }
                    Change::List => {
                        let Some(list) = result.as_array() else { panic!("{text}") };
                        let listed: BTreeSet<String> =
                            list.iter().map(|s| s.as_str().unwrap_or_else(|| panic!("{text}")).to_owned()).collect();
                        assert_eq!(listed.len(), list.len(), "duplicates: {text}");
                        assert!(listed.len() <= 1024, "{} streams", listed.len());
                        if let Some(subs) = &model.subs {
                            assert_eq!(&listed, subs, "LIST_SUBSCRIPTIONS");
                        }
                        model.subs = Some(listed);
                    }
                    Change::Set(value) => {
                        let Value::Bool(on) = value else { panic!("SET_PROPERTY accepted {value}: {text}") };
                        model.combined = on;
                    }
                    Change::Get => assert_eq!(result, &Value::Bool(model.combined), "GET_PROPERTY: {text}"),
                    Change::Nothing => panic!("accepted: {text}"),
                }
            }
            if !model.closed {
                assert!(model.pending.is_empty(), "{} requests without an answer", model.pending.len());
            }
        }
    }
}

/// The most operations an input of a `paper_*` target runs (longer inputs explore no more than
/// their first ops, and keep the rate up).
const PAPER_OPS: usize = 16;

fn paper_rules(symbol: &str) -> Option<(&'static str, &'static str)> {
    match symbol {
        "BTCUSDT" => Some(("BTC", "USDT")),
        "ETHBTC" => Some(("ETH", "BTC")),
        _ => None,
    }
}
