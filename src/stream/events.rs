//! The typed market events and their conversion from the raw layer, where sanitisation happens.

use rust_decimal::Decimal;
use serde::Deserialize;

use super::raw::{Levels, Nested, Raw, Signed, Unsigned, fault_of};
use super::{InlineStr, PoisonReason, Symbol};
use crate::rest::Level;

/// A field failed a check: the reason and the field's wire name (`"p"`, `"k.c"`).
pub(crate) type Fault = (PoisonReason, &'static str);

/// The checks that need configuration: the time bounds, in the stream's unit.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Checker {
    pub(crate) min_time: i64,
    pub(crate) max_time: i64,
}

fn value<T>(raw: Raw<T>, field: &'static str) -> Result<T, Fault> {
    match raw {
        Raw::Value(v) => Ok(v),
        other => Err((fault_of(other), field)),
    }
}

/// A price: present and strictly positive.
fn price(raw: Raw<Unsigned>, field: &'static str) -> Result<Decimal, Fault> {
    let Unsigned(p) = value(raw, field)?;
    if p.is_zero() { Err((PoisonReason::ZeroPrice, field)) } else { Ok(p) }
}

/// A quantity or volume: present and not negative (zero allowed).
fn amount(raw: Raw<Unsigned>, field: &'static str) -> Result<Decimal, Fault> {
    value(raw, field).map(|Unsigned(q)| q)
}

fn signed(raw: Raw<Signed>, field: &'static str) -> Result<Decimal, Fault> {
    value(raw, field).map(|Signed(d)| d)
}

fn levels(raw: Raw<Levels>, field: &'static str) -> Result<Vec<Level>, Fault> {
    value(raw, field).map(|Levels(l)| l)
}

impl Checker {
    fn time(&self, raw: Raw<i64>, field: &'static str) -> Result<i64, Fault> {
        let t = value(raw, field)?;
        if t < self.min_time {
            Err((PoisonReason::TimestampTooOld, field))
        } else if t > self.max_time {
            Err((PoisonReason::TimestampInFuture, field))
        } else {
            Ok(t)
        }
    }
}

/// Checks `low <= high` and that `open` and `close` lie in `[low, high]`.
fn range_check(open: Decimal, high: Decimal, low: Decimal, close: Decimal, prefix: Prefix) -> Result<(), Fault> {
    if high < low {
        return Err((PoisonReason::HighBelowLow, prefix.high));
    }
    if open < low || open > high {
        return Err((PoisonReason::OpenOutsideRange, prefix.open));
    }
    if close < low || close > high {
        return Err((PoisonReason::CloseOutsideRange, prefix.close));
    }
    Ok(())
}

#[derive(Clone, Copy)]
struct Prefix {
    open: &'static str,
    high: &'static str,
    close: &'static str,
}

/// `<symbol>@trade`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trade {
    /// `E` event time.
    pub event_time: i64,
    /// `s` symbol.
    pub symbol: Symbol,
    /// `t` trade id.
    pub trade_id: u64,
    /// `p` price (> 0).
    pub price: Decimal,
    /// `q` quantity.
    pub qty: Decimal,
    /// `T` trade time.
    pub trade_time: i64,
    /// `m`: the buyer is the maker (so the aggressor sold).
    pub buyer_is_maker: bool,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct RawTrade {
    #[serde(rename = "E")]
    pub(crate) event_time: Raw<i64>,
    pub(crate) s: Raw<Symbol>,
    pub(crate) t: Raw<u64>,
    pub(crate) p: Raw<Unsigned>,
    pub(crate) q: Raw<Unsigned>,
    #[serde(rename = "T")]
    pub(crate) trade_time: Raw<i64>,
    pub(crate) m: Raw<bool>,
}

impl RawTrade {
    pub(crate) fn check(self, ck: &Checker) -> Result<Trade, Fault> {
        Ok(Trade {
            event_time: ck.time(self.event_time, "E")?,
            symbol: value(self.s, "s")?,
            trade_id: value(self.t, "t")?,
            price: price(self.p, "p")?,
            qty: amount(self.q, "q")?,
            trade_time: ck.time(self.trade_time, "T")?,
            buyer_is_maker: value(self.m, "m")?,
        })
    }
}

/// `<symbol>@aggTrade`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggTrade {
    /// `E` event time.
    pub event_time: i64,
    /// `s` symbol.
    pub symbol: Symbol,
    /// `a` aggregate trade id.
    pub agg_id: u64,
    /// `p` price (> 0).
    pub price: Decimal,
    /// `q` quantity.
    pub qty: Decimal,
    /// `f` first trade id.
    pub first_trade_id: u64,
    /// `l` last trade id.
    pub last_trade_id: u64,
    /// `T` trade time.
    pub trade_time: i64,
    /// `m`: the buyer is the maker.
    pub buyer_is_maker: bool,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct RawAggTrade {
    #[serde(rename = "E")]
    event_time: Raw<i64>,
    s: Raw<Symbol>,
    a: Raw<u64>,
    p: Raw<Unsigned>,
    q: Raw<Unsigned>,
    f: Raw<u64>,
    l: Raw<u64>,
    #[serde(rename = "T")]
    trade_time: Raw<i64>,
    m: Raw<bool>,
}

impl RawAggTrade {
    pub(crate) fn check(self, ck: &Checker) -> Result<AggTrade, Fault> {
        let first_trade_id = value(self.f, "f")?;
        let last_trade_id = value(self.l, "l")?;
        if last_trade_id < first_trade_id {
            return Err((PoisonReason::BadSequence, "l"));
        }
        Ok(AggTrade {
            event_time: ck.time(self.event_time, "E")?,
            symbol: value(self.s, "s")?,
            agg_id: value(self.a, "a")?,
            price: price(self.p, "p")?,
            qty: amount(self.q, "q")?,
            first_trade_id,
            last_trade_id,
            trade_time: ck.time(self.trade_time, "T")?,
            buyer_is_maker: value(self.m, "m")?,
        })
    }
}

/// A kline interval (`1s` to `1M`), as in stream names and the `i` field.
pub type Interval = InlineStr<8>;

/// One candle (the `k` object of a kline event), checked: prices > 0, `low <= open, close <=
/// high`, volumes not negative, times in range and `open_time <= close_time`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candle {
    /// `t` open time.
    pub open_time: i64,
    /// `T` close time.
    pub close_time: i64,
    /// `i` interval.
    pub interval: Interval,
    /// `f` first trade id (-1 when the candle has no trade).
    pub first_trade_id: i64,
    /// `L` last trade id (-1 when the candle has no trade).
    pub last_trade_id: i64,
    /// `o` open.
    pub open: Decimal,
    /// `h` high.
    pub high: Decimal,
    /// `l` low.
    pub low: Decimal,
    /// `c` close.
    pub close: Decimal,
    /// `v` base asset volume.
    pub volume: Decimal,
    /// `n` number of trades.
    pub trades: u64,
    /// `x`: the candle is closed (final).
    pub closed: bool,
    /// `q` quote asset volume.
    pub quote_volume: Decimal,
    /// `V` taker buy base volume.
    pub taker_buy_base_volume: Decimal,
    /// `Q` taker buy quote volume.
    pub taker_buy_quote_volume: Decimal,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct RawCandle {
    t: Raw<i64>,
    #[serde(rename = "T")]
    close_time: Raw<i64>,
    i: Raw<Interval>,
    f: Raw<i64>,
    #[serde(rename = "L")]
    last_trade: Raw<i64>,
    o: Raw<Unsigned>,
    h: Raw<Unsigned>,
    l: Raw<Unsigned>,
    c: Raw<Unsigned>,
    v: Raw<Unsigned>,
    n: Raw<u64>,
    x: Raw<bool>,
    q: Raw<Unsigned>,
    #[serde(rename = "V")]
    taker_base: Raw<Unsigned>,
    #[serde(rename = "Q")]
    taker_quote: Raw<Unsigned>,
}

const KLINE: Prefix = Prefix { open: "k.o", high: "k.h", close: "k.c" };

/// The longest kline (`1M`, 31 days), less a millisecond: a close time further from the open
/// time is refused.
const LONGEST_KLINE_MS: i64 = 31 * 86_400_000 - 1;

impl RawCandle {
    pub(crate) fn check(self, ck: &Checker) -> Result<Candle, Fault> {
        let candle = Candle {
            open_time: ck.time(self.t, "k.t")?,
            // An open candle closes in the future (up to a month ahead for `1M`): bounded by its
            // open time below, not by the clock.
            close_time: value(self.close_time, "k.T")?,
            interval: value(self.i, "k.i")?,
            first_trade_id: value(self.f, "k.f")?,
            last_trade_id: value(self.last_trade, "k.L")?,
            open: price(self.o, "k.o")?,
            high: price(self.h, "k.h")?,
            low: price(self.l, "k.l")?,
            close: price(self.c, "k.c")?,
            volume: amount(self.v, "k.v")?,
            trades: value(self.n, "k.n")?,
            closed: value(self.x, "k.x")?,
            quote_volume: amount(self.q, "k.q")?,
            taker_buy_base_volume: amount(self.taker_base, "k.V")?,
            taker_buy_quote_volume: amount(self.taker_quote, "k.Q")?,
        };
        if candle.close_time < candle.open_time {
            return Err((PoisonReason::BadSequence, "k.T"));
        }
        if candle.close_time - candle.open_time > LONGEST_KLINE_MS {
            return Err((PoisonReason::TimestampInFuture, "k.T"));
        }
        range_check(candle.open, candle.high, candle.low, candle.close, KLINE)?;
        Ok(candle)
    }
}

/// `<symbol>@kline_<interval>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kline {
    /// `E` event time.
    pub event_time: i64,
    /// `s` symbol.
    pub symbol: Symbol,
    /// `k` the candle.
    pub candle: Candle,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct RawKline {
    #[serde(rename = "E")]
    event_time: Raw<i64>,
    s: Raw<Symbol>,
    k: Raw<Nested<RawCandle>>,
}

impl RawKline {
    pub(crate) fn check(self, ck: &Checker) -> Result<Kline, Fault> {
        let event_time = ck.time(self.event_time, "E")?;
        let symbol = value(self.s, "s")?;
        let Nested(raw) = value(self.k, "k")?;
        Ok(Kline { event_time, symbol, candle: raw.check(ck)? })
    }
}

/// `<symbol>@bookTicker`: the best bid and ask (no `e` / `E` fields on Spot).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookTicker {
    /// `u` order book update id.
    pub update_id: u64,
    /// `s` symbol.
    pub symbol: Symbol,
    /// `b` / `B` best bid price (> 0) and quantity.
    pub bid: Level,
    /// `a` / `A` best ask price (> 0, above the bid) and quantity.
    pub ask: Level,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct RawBookTicker {
    /// Absent on Spot; `bookTicker` elsewhere. Any other value means this is not a bookTicker.
    pub(crate) e: Raw<InlineStr<16>>,
    pub(crate) u: Raw<u64>,
    pub(crate) s: Raw<Symbol>,
    pub(crate) b: Raw<Unsigned>,
    #[serde(rename = "B")]
    pub(crate) bid_qty: Raw<Unsigned>,
    pub(crate) a: Raw<Unsigned>,
    #[serde(rename = "A")]
    pub(crate) ask_qty: Raw<Unsigned>,
}

impl RawBookTicker {
    pub(crate) fn is_book_ticker(&self) -> bool {
        match &self.e {
            Raw::Missing => true,
            Raw::Value(e) => e.as_str() == "bookTicker",
            _ => false,
        }
    }

    pub(crate) fn check(self) -> Result<BookTicker, Fault> {
        let ticker = BookTicker {
            update_id: value(self.u, "u")?,
            symbol: value(self.s, "s")?,
            bid: Level { price: price(self.b, "b")?, qty: amount(self.bid_qty, "B")? },
            ask: Level { price: price(self.a, "a")?, qty: amount(self.ask_qty, "A")? },
        };
        if ticker.bid.price >= ticker.ask.price {
            return Err((PoisonReason::Crossed, "a"));
        }
        Ok(ticker)
    }
}

/// `<symbol>@depth` / `@depth@100ms`: a diff of the book (quantities absolute, 0 removes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepthUpdate {
    /// `E` event time (ms).
    pub event_time: i64,
    /// `s` symbol.
    pub symbol: Symbol,
    /// `U` first update id in the event.
    pub first_update_id: u64,
    /// `u` final update id in the event (`>= U`).
    pub final_update_id: u64,
    /// `b` bid levels to set (price > 0; quantity absolute, 0 removes).
    pub bids: Vec<Level>,
    /// `a` ask levels to set.
    pub asks: Vec<Level>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct RawDepthUpdate {
    #[serde(rename = "E")]
    pub(crate) event_time: Raw<i64>,
    pub(crate) s: Raw<Symbol>,
    #[serde(rename = "U")]
    pub(crate) first: Raw<u64>,
    pub(crate) u: Raw<u64>,
    pub(crate) b: Raw<Levels>,
    pub(crate) a: Raw<Levels>,
}

impl RawDepthUpdate {
    pub(crate) fn check(self, ck: &Checker) -> Result<DepthUpdate, Fault> {
        let update = DepthUpdate {
            event_time: ck.time(self.event_time, "E")?,
            symbol: value(self.s, "s")?,
            first_update_id: value(self.first, "U")?,
            final_update_id: value(self.u, "u")?,
            bids: levels(self.b, "b")?,
            asks: levels(self.a, "a")?,
        };
        if update.final_update_id < update.first_update_id {
            return Err((PoisonReason::BadSequence, "u"));
        }
        Ok(update)
    }
}

/// `<symbol>@depth<5|10|20>[@100ms]`: the top of the book. It carries no symbol; on a combined
/// stream the decoder takes it from the stream name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartialDepth {
    /// The symbol, from the combined stream's name (`None` on a raw stream).
    pub symbol: Option<Symbol>,
    /// `lastUpdateId`.
    pub last_update_id: u64,
    /// `bids`, best first.
    pub bids: Vec<Level>,
    /// `asks`, best first.
    pub asks: Vec<Level>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct RawPartialDepth {
    #[serde(rename = "lastUpdateId")]
    pub(crate) last_update_id: Raw<u64>,
    bids: Raw<Levels>,
    asks: Raw<Levels>,
}

impl RawPartialDepth {
    pub(crate) fn check(self) -> Result<PartialDepth, Fault> {
        Ok(PartialDepth {
            symbol: None,
            last_update_id: value(self.last_update_id, "lastUpdateId")?,
            bids: levels(self.bids, "bids")?,
            asks: levels(self.asks, "asks")?,
        })
    }
}

/// `<symbol>@ticker`: 24 h rolling statistics (`24hrTicker`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticker24h {
    /// `E` event time.
    pub event_time: i64,
    /// `s` symbol.
    pub symbol: Symbol,
    /// `p` price change (signed).
    pub price_change: Decimal,
    /// `P` price change percent (signed).
    pub price_change_percent: Decimal,
    /// `w` weighted average price.
    pub weighted_avg_price: Decimal,
    /// `x` the last price before the window.
    pub prev_close: Decimal,
    /// `c` last price.
    pub last_price: Decimal,
    /// `Q` last quantity.
    pub last_qty: Decimal,
    /// `b` / `B` best bid (0 when the side is empty).
    pub bid: Level,
    /// `a` / `A` best ask (0 when the side is empty).
    pub ask: Level,
    /// `o` open.
    pub open: Decimal,
    /// `h` high.
    pub high: Decimal,
    /// `l` low.
    pub low: Decimal,
    /// `v` base volume.
    pub volume: Decimal,
    /// `q` quote volume.
    pub quote_volume: Decimal,
    /// `O` statistics open time.
    pub open_time: i64,
    /// `C` statistics close time.
    pub close_time: i64,
    /// `F` first trade id (-1 when none).
    pub first_trade_id: i64,
    /// `L` last trade id (-1 when none).
    pub last_trade_id: i64,
    /// `n` number of trades.
    pub trades: u64,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct RawTicker24h {
    #[serde(rename = "E")]
    event_time: Raw<i64>,
    s: Raw<Symbol>,
    p: Raw<Signed>,
    #[serde(rename = "P")]
    percent: Raw<Signed>,
    w: Raw<Unsigned>,
    x: Raw<Unsigned>,
    c: Raw<Unsigned>,
    #[serde(rename = "Q")]
    last_qty: Raw<Unsigned>,
    b: Raw<Unsigned>,
    #[serde(rename = "B")]
    bid_qty: Raw<Unsigned>,
    a: Raw<Unsigned>,
    #[serde(rename = "A")]
    ask_qty: Raw<Unsigned>,
    o: Raw<Unsigned>,
    h: Raw<Unsigned>,
    l: Raw<Unsigned>,
    v: Raw<Unsigned>,
    q: Raw<Unsigned>,
    #[serde(rename = "O")]
    open_time: Raw<i64>,
    #[serde(rename = "C")]
    close_time: Raw<i64>,
    #[serde(rename = "F")]
    first: Raw<i64>,
    #[serde(rename = "L")]
    last: Raw<i64>,
    n: Raw<u64>,
}

const TICKER: Prefix = Prefix { open: "o", high: "h", close: "c" };

impl RawTicker24h {
    pub(crate) fn check(self, ck: &Checker) -> Result<Ticker24h, Fault> {
        let t = Ticker24h {
            event_time: ck.time(self.event_time, "E")?,
            symbol: value(self.s, "s")?,
            price_change: signed(self.p, "p")?,
            price_change_percent: signed(self.percent, "P")?,
            weighted_avg_price: amount(self.w, "w")?,
            prev_close: amount(self.x, "x")?,
            last_price: price(self.c, "c")?,
            last_qty: amount(self.last_qty, "Q")?,
            bid: Level { price: amount(self.b, "b")?, qty: amount(self.bid_qty, "B")? },
            ask: Level { price: amount(self.a, "a")?, qty: amount(self.ask_qty, "A")? },
            open: price(self.o, "o")?,
            high: price(self.h, "h")?,
            low: price(self.l, "l")?,
            volume: amount(self.v, "v")?,
            quote_volume: amount(self.q, "q")?,
            open_time: ck.time(self.open_time, "O")?,
            close_time: ck.time(self.close_time, "C")?,
            first_trade_id: value(self.first, "F")?,
            last_trade_id: value(self.last, "L")?,
            trades: value(self.n, "n")?,
        };
        range_check(t.open, t.high, t.low, t.last_price, TICKER)?;
        Ok(t)
    }
}

/// `<symbol>@miniTicker` (`24hrMiniTicker`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MiniTicker {
    /// `E` event time.
    pub event_time: i64,
    /// `s` symbol.
    pub symbol: Symbol,
    /// `c` close (last) price.
    pub close: Decimal,
    /// `o` open.
    pub open: Decimal,
    /// `h` high.
    pub high: Decimal,
    /// `l` low.
    pub low: Decimal,
    /// `v` base volume.
    pub volume: Decimal,
    /// `q` quote volume.
    pub quote_volume: Decimal,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct RawMiniTicker {
    #[serde(rename = "E")]
    event_time: Raw<i64>,
    s: Raw<Symbol>,
    c: Raw<Unsigned>,
    o: Raw<Unsigned>,
    h: Raw<Unsigned>,
    l: Raw<Unsigned>,
    v: Raw<Unsigned>,
    q: Raw<Unsigned>,
}

impl RawMiniTicker {
    pub(crate) fn check(self, ck: &Checker) -> Result<MiniTicker, Fault> {
        let t = MiniTicker {
            event_time: ck.time(self.event_time, "E")?,
            symbol: value(self.s, "s")?,
            close: price(self.c, "c")?,
            open: price(self.o, "o")?,
            high: price(self.h, "h")?,
            low: price(self.l, "l")?,
            volume: amount(self.v, "v")?,
            quote_volume: amount(self.q, "q")?,
        };
        range_check(t.open, t.high, t.low, t.close, TICKER)?;
        Ok(t)
    }
}

/// `<symbol>@avgPrice`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvgPrice {
    /// `E` event time.
    pub event_time: i64,
    /// `s` symbol.
    pub symbol: Symbol,
    /// `i` averaging interval (`5m`).
    pub interval: Interval,
    /// `w` average price (> 0).
    pub price: Decimal,
    /// `T` last trade time.
    pub last_trade_time: i64,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct RawAvgPrice {
    #[serde(rename = "E")]
    event_time: Raw<i64>,
    s: Raw<Symbol>,
    i: Raw<Interval>,
    w: Raw<Unsigned>,
    #[serde(rename = "T")]
    last_trade_time: Raw<i64>,
}

impl RawAvgPrice {
    pub(crate) fn check(self, ck: &Checker) -> Result<AvgPrice, Fault> {
        Ok(AvgPrice {
            event_time: ck.time(self.event_time, "E")?,
            symbol: value(self.s, "s")?,
            interval: value(self.i, "i")?,
            price: price(self.w, "w")?,
            last_trade_time: ck.time(self.last_trade_time, "T")?,
        })
    }
}

/// `<symbol>@referencePrice`. `r` is `null` when no reference price is available, which is
/// data, not poison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferencePrice {
    /// `s` symbol.
    pub symbol: Symbol,
    /// `r` the reference price (> 0), if any.
    pub price: Option<Decimal>,
    /// `t` time.
    pub time: i64,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct RawReferencePrice {
    s: Raw<Symbol>,
    r: Raw<Unsigned>,
    t: Raw<i64>,
}

impl RawReferencePrice {
    pub(crate) fn check(self, ck: &Checker) -> Result<ReferencePrice, Fault> {
        let price = match self.r {
            Raw::Null => None,
            other => Some(price(other, "r")?),
        };
        Ok(ReferencePrice { symbol: value(self.s, "s")?, price, time: ck.time(self.t, "t")? })
    }
}

/// `serverShutdown`: reconnect as soon as possible.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct RawShutdown {
    #[serde(rename = "E")]
    event_time: Raw<i64>,
}

impl RawShutdown {
    pub(crate) fn check(self, ck: &Checker) -> Result<i64, Fault> {
        ck.time(self.event_time, "E")
    }
}
