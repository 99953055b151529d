//! Market stream decoding and sanitisation (SPEC §8).
//!
//! [`StreamDecoder::decode`] turns one WebSocket text frame, raw (`/ws/<name>`) or combined
//! (`{"stream":..,"data":..}`), into a typed [`Message`]: trade, aggTrade, kline, bookTicker,
//! depthUpdate, partial depth, 24hrTicker, miniTicker, avgPrice, referencePrice, serverShutdown
//! and the responses to subscription requests. An event type it does not know decodes to
//! [`MarketEvent::Unknown`], never to an error.
//!
//! Every event is **sanitised** on the way: a `null`, missing or unparsable (`"NaN"`) number, a
//! negative or zero price, a negative volume, `high < low`, an open or close outside
//! `[low, high]`, a timestamp before 2017 or too far in the future, a string where a number
//! belongs (or a JSON number where Binance sends a decimal string) is refused with a typed
//! [`Poison`] naming the field, and counted per [`PoisonReason`] in [`StreamStats`]. Bytes that
//! are not JSON at all are [`StreamError::Malformed`]. Nothing panics, whatever the input.
//!
//! Money is [`Decimal`](rust_decimal::Decimal), parsed straight from the borrowed frame; symbols
//! and stream names are stored inline, so decoding a trade, an aggTrade, a kline or a bookTicker
//! does not allocate. Depth levels go into a `Vec`.
//!
//! ```
//! use aegis_exchange::stream::{MarketEvent, PoisonReason, StreamDecoder, StreamError};
//!
//! let mut decoder = StreamDecoder::default();
//! let now = 1_672_515_782_136; // ms, an input like every time in the crate
//! let frame = br#"{"e":"trade","E":1672515782136,"s":"BNBBTC","t":12345,"p":"0.001","q":"100","T":1672515782136,"m":true,"M":true}"#;
//! let MarketEvent::Trade(trade) = decoder.decode(now, frame).unwrap().event else { panic!() };
//! assert_eq!(trade.price.to_string(), "0.001");
//!
//! // The seed's poisoned candle: refused, with the reason and the field, and counted.
//! let poisoned = br#"{"e":"kline","E":1672515782136,"s":"BNBBTC","k":{"c":null,"v":0}}"#;
//! let Err(StreamError::Poisoned(p)) = decoder.decode(now, poisoned) else { panic!() };
//! assert_eq!((p.reason, p.field), (PoisonReason::Missing, "k.t"));
//! assert_eq!(decoder.stats().poisoned(PoisonReason::Missing), 1);
//! ```

mod control;
mod events;
mod fast;
mod raw;

use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

pub use control::{
    ControlRequest, DepthLevels, MAX_STREAMS_PER_CONNECTION, StreamUrlError, UpdateSpeed, combined_url, names,
};
pub use events::{
    AggTrade, AvgPrice, BookTicker, Candle, DepthUpdate, Interval, Kline, MiniTicker, PartialDepth, ReferencePrice,
    Ticker24h, Trade,
};

pub use crate::model::InlineStr;

use crate::clock::TimeUnit;
use crate::decode::DecodeError;
use events::{
    Checker, Fault, RawAggTrade, RawAvgPrice, RawBookTicker, RawCandle, RawDepthUpdate, RawKline, RawMiniTicker,
    RawPartialDepth, RawReferencePrice, RawShutdown, RawTicker24h, RawTrade,
};
use raw::Raw;

/// A symbol as it appears in stream events (`BTCUSDT`), up to 32 bytes, inline.
pub type Symbol = InlineStr<32>;

/// A stream name as it appears in combined frames (`btcusdt@depth20@100ms`), up to 64 bytes.
pub type StreamName = InlineStr<64>;

/// Why an event was refused. Counted per reason in [`StreamStats`].
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PoisonReason {
    /// A required field is absent.
    Missing,
    /// A required field is `null`.
    Null,
    /// A decimal string that is not a number (`"NaN"`, `"1e5"`, `"abc"`, too many digits).
    NotANumber,
    /// A negative price, quantity, volume or id.
    Negative,
    /// A price of zero.
    ZeroPrice,
    /// `high < low`.
    HighBelowLow,
    /// The open lies outside `[low, high]`.
    OpenOutsideRange,
    /// The close (or last price) lies outside `[low, high]`.
    CloseOutsideRange,
    /// A timestamp before 2017-01-01 (Binance did not exist).
    TimestampTooOld,
    /// A timestamp further in the future than [`SanitizeConfig::max_future_ms`].
    TimestampInFuture,
    /// A string where a number belongs (`"t":"12345"`).
    StringForNumber,
    /// A JSON number where Binance sends a decimal string: it may have passed through a float.
    NumberForString,
    /// Another JSON type (an object, an array, a bool) where a scalar belongs.
    WrongType,
    /// An integer outside the range of its field.
    OutOfRange,
    /// A text field that is empty, too long or holds control characters.
    InvalidText,
    /// A best bid at or above the best ask.
    Crossed,
    /// Ids or times out of order within one event (`u < U`, `l < f`, close time before open).
    BadSequence,
    /// More depth levels than one message may carry.
    TooManyLevels,
}

impl PoisonReason {
    /// Every reason, in counter order.
    pub const ALL: [PoisonReason; 18] = [
        PoisonReason::Missing,
        PoisonReason::Null,
        PoisonReason::NotANumber,
        PoisonReason::Negative,
        PoisonReason::ZeroPrice,
        PoisonReason::HighBelowLow,
        PoisonReason::OpenOutsideRange,
        PoisonReason::CloseOutsideRange,
        PoisonReason::TimestampTooOld,
        PoisonReason::TimestampInFuture,
        PoisonReason::StringForNumber,
        PoisonReason::NumberForString,
        PoisonReason::WrongType,
        PoisonReason::OutOfRange,
        PoisonReason::InvalidText,
        PoisonReason::Crossed,
        PoisonReason::BadSequence,
        PoisonReason::TooManyLevels,
    ];

    fn index(self) -> usize {
        self as usize
    }

    /// A stable name for logs and metrics (`"zero_price"`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            PoisonReason::Missing => "missing",
            PoisonReason::Null => "null",
            PoisonReason::NotANumber => "not_a_number",
            PoisonReason::Negative => "negative",
            PoisonReason::ZeroPrice => "zero_price",
            PoisonReason::HighBelowLow => "high_below_low",
            PoisonReason::OpenOutsideRange => "open_outside_range",
            PoisonReason::CloseOutsideRange => "close_outside_range",
            PoisonReason::TimestampTooOld => "timestamp_too_old",
            PoisonReason::TimestampInFuture => "timestamp_in_future",
            PoisonReason::StringForNumber => "string_for_number",
            PoisonReason::NumberForString => "number_for_string",
            PoisonReason::WrongType => "wrong_type",
            PoisonReason::OutOfRange => "out_of_range",
            PoisonReason::InvalidText => "invalid_text",
            PoisonReason::Crossed => "crossed",
            PoisonReason::BadSequence => "bad_sequence",
            PoisonReason::TooManyLevels => "too_many_levels",
        }
    }
}

impl fmt::Display for PoisonReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kind of event a frame carried.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// `trade`.
    Trade,
    /// `aggTrade`.
    AggTrade,
    /// `kline`.
    Kline,
    /// bookTicker (no `e` field).
    BookTicker,
    /// `depthUpdate`.
    DepthUpdate,
    /// Partial depth (`lastUpdateId`, `bids`, `asks`).
    PartialDepth,
    /// `24hrTicker`.
    Ticker24h,
    /// `24hrMiniTicker`.
    MiniTicker,
    /// `avgPrice`.
    AvgPrice,
    /// `referencePrice`.
    ReferencePrice,
    /// `serverShutdown`.
    ServerShutdown,
    /// A combined-stream wrapper (`{"stream":..,"data":..}`).
    Wrapper,
    /// An event the decoder does not know.
    Unknown,
}

/// A refused event: what it was, why, and which field (`"p"`, `"k.c"`, `"b"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("poisoned {kind:?} event: `{field}` is {reason}")]
pub struct Poison {
    /// The event's kind.
    pub kind: EventKind,
    /// Why it was refused.
    pub reason: PoisonReason,
    /// The field's wire name, dotted for nested fields.
    pub field: &'static str,
}

/// Why a frame produced no event.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    /// Not JSON, or not a JSON object.
    #[error("malformed frame: {0}")]
    Malformed(#[from] DecodeError),
    /// A well-formed event that failed sanitisation.
    #[error(transparent)]
    Poisoned(#[from] Poison),
}

/// The id of a control request, echoed in its response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestId {
    /// A signed 64-bit integer id.
    Int(i64),
    /// A string id (at most 36 characters).
    Str(String),
    /// `null` or absent.
    Null,
}

/// A response to a `SUBSCRIBE` / `UNSUBSCRIBE` / `LIST_SUBSCRIPTIONS` / `SET_PROPERTY` /
/// `GET_PROPERTY` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlResponse {
    /// `{"result":..,"id":..}`: `null` for (un)subscribe and `SET_PROPERTY`, a list of streams
    /// for `LIST_SUBSCRIPTIONS`, a value for `GET_PROPERTY`.
    Result {
        /// The request's id.
        id: RequestId,
        /// The result as JSON.
        result: Value,
    },
    /// `{"code":..,"msg":..,"id":..}`.
    Error {
        /// The request's id, when the server could read it.
        id: RequestId,
        /// The error code (0 unknown property, 1 invalid value type, 2 invalid request, 3 invalid JSON).
        code: i64,
        /// The message.
        msg: String,
    },
}

/// A decoded, sanitised market event.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarketEvent {
    /// `<symbol>@trade`.
    Trade(Trade),
    /// `<symbol>@aggTrade`.
    AggTrade(AggTrade),
    /// `<symbol>@kline_<interval>`. Boxed, like the two tickers: at most a few per second per
    /// stream, and unboxed its 232 bytes would be moved with every trade, bookTicker and depth
    /// diff (measured: bookTicker decode at 0.52-0.60× its serde baseline of the same run
    /// boxed, 0.59-0.67× unboxed).
    Kline(Box<Kline>),
    /// `<symbol>@bookTicker`.
    BookTicker(BookTicker),
    /// `<symbol>@depth[@100ms]`.
    DepthUpdate(DepthUpdate),
    /// `<symbol>@depth<5|10|20>[@100ms]`.
    PartialDepth(PartialDepth),
    /// `<symbol>@ticker`.
    Ticker24h(Box<Ticker24h>),
    /// `<symbol>@miniTicker`.
    MiniTicker(Box<MiniTicker>),
    /// `<symbol>@avgPrice`.
    AvgPrice(AvgPrice),
    /// `<symbol>@referencePrice`.
    ReferencePrice(ReferencePrice),
    /// `serverShutdown`: reconnect as soon as possible. The event time.
    ServerShutdown {
        /// `E` event time.
        event_time: i64,
    },
    /// A response to a control request.
    Control(ControlResponse),
    /// An event type this crate does not know (its `e`, or `""` when there is none). Its payload
    /// is skipped, not an error.
    Unknown {
        /// The `e` field.
        event_type: String,
    },
}

/// One decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The stream name of a combined frame; `None` on a raw stream.
    pub stream: Option<StreamName>,
    /// The event.
    pub event: MarketEvent,
}

/// What the sanitiser accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SanitizeConfig {
    /// The unit of the stream's time fields (`timeUnit=MICROSECOND` in the URL makes them µs).
    pub time_unit: TimeUnit,
    /// The earliest acceptable time, ms since the epoch. Default 2017-01-01T00:00:00Z.
    pub min_time_ms: i64,
    /// How far after `now` a time may lie, ms. Default one hour.
    pub max_future_ms: i64,
}

impl Default for SanitizeConfig {
    fn default() -> Self {
        Self { time_unit: TimeUnit::Millisecond, min_time_ms: 1_483_228_800_000, max_future_ms: 3_600_000 }
    }
}

impl SanitizeConfig {
    fn checker(&self, now_ms: i64) -> Checker {
        let max_ms = now_ms.saturating_add(self.max_future_ms);
        Checker { min_time: self.time_unit.timestamp(self.min_time_ms), max_time: self.time_unit.timestamp(max_ms) }
    }
}

/// Counters of what the decoder saw: accepted events, malformed frames, and poisoned events per
/// reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamStats {
    accepted: u64,
    malformed: u64,
    poisoned: [u64; PoisonReason::ALL.len()],
}

impl StreamStats {
    /// Frames decoded into an event.
    #[must_use]
    pub fn accepted(&self) -> u64 {
        self.accepted
    }

    /// Frames that were not JSON objects.
    #[must_use]
    pub fn malformed(&self) -> u64 {
        self.malformed
    }

    /// Events refused for `reason`.
    #[must_use]
    pub fn poisoned(&self, reason: PoisonReason) -> u64 {
        self.poisoned.get(reason.index()).copied().unwrap_or(0)
    }

    /// Events refused for any reason.
    #[must_use]
    pub fn poisoned_total(&self) -> u64 {
        self.poisoned.iter().sum()
    }

    /// Every reason with a non-zero count.
    pub fn by_reason(&self) -> impl Iterator<Item = (PoisonReason, u64)> + '_ {
        PoisonReason::ALL.iter().map(|r| (*r, self.poisoned(*r))).filter(|(_, n)| *n > 0)
    }
}

/// A decoder with its sanitiser configuration and counters. Keep one per connection.
#[derive(Debug, Clone, Default)]
pub struct StreamDecoder {
    config: SanitizeConfig,
    stats: StreamStats,
}

impl StreamDecoder {
    /// A decoder with `config`.
    #[must_use]
    pub fn new(config: SanitizeConfig) -> Self {
        Self { config, stats: StreamStats::default() }
    }

    /// Decodes and sanitises one text frame received at `now_ms` (local ms since the epoch).
    ///
    /// # Errors
    /// [`StreamError::Malformed`] for bytes that are not a JSON object, [`StreamError::Poisoned`]
    /// for an event that fails sanitisation. Both are counted.
    pub fn decode(&mut self, now_ms: i64, frame: &[u8]) -> Result<Message, StreamError> {
        let result = decode(&self.config, now_ms, frame);
        self.count(&result);
        result
    }

    /// Decodes and sanitises one bare candle object (the `k` of a kline event, with the same field
    /// names), for candle sources other than the kline stream.
    ///
    /// # Errors
    /// As [`StreamDecoder::decode`].
    pub fn decode_candle(&mut self, now_ms: i64, bytes: &[u8]) -> Result<Candle, StreamError> {
        let result = decode_candle(&self.config, now_ms, bytes);
        self.count(&result);
        result
    }

    fn count<T>(&mut self, result: &Result<T, StreamError>) {
        match result {
            Ok(_) => self.stats.accepted += 1,
            Err(StreamError::Malformed(_)) => self.stats.malformed += 1,
            Err(StreamError::Poisoned(p)) => {
                if let Some(n) = self.stats.poisoned.get_mut(p.reason.index()) {
                    *n += 1;
                }
            }
        }
    }

    /// The counters so far.
    #[must_use]
    pub fn stats(&self) -> &StreamStats {
        &self.stats
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &SanitizeConfig {
        &self.config
    }
}

/// Decodes and sanitises one frame without counting (see [`StreamDecoder::decode`]).
///
/// # Errors
/// As [`StreamDecoder::decode`].
pub fn decode(config: &SanitizeConfig, now_ms: i64, frame: &[u8]) -> Result<Message, StreamError> {
    let ck = config.checker(now_ms);
    // A raw trade or bookTicker exactly as Binance writes it: one scan, the same checks.
    if let Some(result) = fast::decode(frame, &ck) {
        return result;
    }
    decode_with(&ck, frame)
}

/// The general path alone (the fast path's oracle in tests).
#[cfg(test)]
pub(crate) fn decode_general(config: &SanitizeConfig, now_ms: i64, frame: &[u8]) -> Result<Message, StreamError> {
    decode_with(&config.checker(now_ms), frame)
}

fn decode_with(ck: &Checker, frame: &[u8]) -> Result<Message, StreamError> {
    let mut de = serde_json::Deserializer::from_slice(frame);
    let mut decoded = Top { ck, nested: false }.deserialize(&mut de).map_err(DecodeError::from)?;
    de.end().map_err(DecodeError::from)?;
    if decoded.reparse {
        // The slow path: keys in an order Binance does not send. Buffer and classify by keys.
        let value: Value = serde_json::from_slice(frame).map_err(DecodeError::from)?;
        decoded = classify(&value, ck, false).map_err(DecodeError::from)?;
    }
    let event = decoded.event?;
    Ok(Message { stream: decoded.stream, event })
}

/// Decodes and sanitises one bare candle object.
///
/// # Errors
/// As [`StreamDecoder::decode`].
pub fn decode_candle(config: &SanitizeConfig, now_ms: i64, bytes: &[u8]) -> Result<Candle, StreamError> {
    let ck = config.checker(now_ms);
    let raw: Raw<raw::Nested<RawCandle>> = serde_json::from_slice(bytes).map_err(DecodeError::from)?;
    let candle = match raw {
        Raw::Value(raw::Nested(c)) => c.check(&ck),
        other => Err((raw::fault_of(other), "k")),
    };
    candle.map_err(|(reason, field)| StreamError::Poisoned(Poison { kind: EventKind::Kline, reason, field }))
}

/// What one JSON value decoded to on the fast path.
struct Decoded {
    stream: Option<StreamName>,
    event: Result<MarketEvent, Poison>,
    /// The first key did not decide the kind: decode the frame again through a `Value`.
    reparse: bool,
}

impl Decoded {
    fn event(event: Result<MarketEvent, Poison>) -> Self {
        Self { stream: None, event, reparse: false }
    }

    fn reparse() -> Self {
        Self { stream: None, event: Ok(MarketEvent::Unknown { event_type: String::new() }), reparse: true }
    }
}

/// The first key of an object, which decides the event's kind on the fast path.
enum Key {
    Stream,
    Data,
    EventType,
    UpdateId,
    LastUpdateId,
    Other,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
                Ok(match v {
                    "stream" => Key::Stream,
                    "data" => Key::Data,
                    "e" => Key::EventType,
                    "u" => Key::UpdateId,
                    "lastUpdateId" => Key::LastUpdateId,
                    _ => Key::Other,
                })
            }
        }
        d.deserialize_identifier(KeyVisitor)
    }
}

/// The `e` field's value.
enum Tag {
    Known(EventKind),
    Unknown(String),
    Bad(PoisonReason),
}

impl<'de> Deserialize<'de> for Tag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct TagVisitor;
        impl<'de> Visitor<'de> for TagVisitor {
            type Value = Tag;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an event type")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Tag, E> {
                Ok(tag_of(v))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Tag, E> {
                Ok(Tag::Bad(PoisonReason::Null))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Tag, E> {
                Ok(Tag::Bad(PoisonReason::WrongType))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Tag, E> {
                Ok(Tag::Bad(PoisonReason::WrongType))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Tag, E> {
                Ok(Tag::Bad(PoisonReason::WrongType))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Tag, E> {
                Ok(Tag::Bad(PoisonReason::WrongType))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Tag, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Tag::Bad(PoisonReason::WrongType))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Tag, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Tag::Bad(PoisonReason::WrongType))
            }
        }
        d.deserialize_any(TagVisitor)
    }
}

fn tag_of(v: &str) -> Tag {
    Tag::Known(match v {
        "trade" => EventKind::Trade,
        "aggTrade" => EventKind::AggTrade,
        "kline" => EventKind::Kline,
        "depthUpdate" => EventKind::DepthUpdate,
        "bookTicker" => EventKind::BookTicker,
        "24hrTicker" => EventKind::Ticker24h,
        "24hrMiniTicker" => EventKind::MiniTicker,
        "avgPrice" => EventKind::AvgPrice,
        "referencePrice" => EventKind::ReferencePrice,
        "serverShutdown" => EventKind::ServerShutdown,
        other => return Tag::Unknown(other.to_owned()),
    })
}

fn poison(kind: EventKind) -> impl Fn(Fault) -> Poison {
    move |(reason, field)| Poison { kind, reason, field }
}

/// Decodes the rest of an event of `kind` from `d` (the fields after `e`, or a whole object) and
/// sanitises it.
fn event_of<'de, D: Deserializer<'de>>(
    kind: EventKind,
    d: D,
    ck: &Checker,
) -> Result<Result<MarketEvent, Poison>, D::Error> {
    let checked = match kind {
        EventKind::Trade => RawTrade::deserialize(d)?.check(ck).map(MarketEvent::Trade),
        EventKind::AggTrade => RawAggTrade::deserialize(d)?.check(ck).map(MarketEvent::AggTrade),
        EventKind::Kline => RawKline::deserialize(d)?.check(ck).map(|k| MarketEvent::Kline(Box::new(k))),
        EventKind::BookTicker => RawBookTicker::deserialize(d)?.check().map(MarketEvent::BookTicker),
        EventKind::DepthUpdate => RawDepthUpdate::deserialize(d)?.check(ck).map(MarketEvent::DepthUpdate),
        EventKind::PartialDepth => RawPartialDepth::deserialize(d)?.check().map(MarketEvent::PartialDepth),
        EventKind::Ticker24h => RawTicker24h::deserialize(d)?.check(ck).map(|t| MarketEvent::Ticker24h(Box::new(t))),
        EventKind::MiniTicker => RawMiniTicker::deserialize(d)?.check(ck).map(|t| MarketEvent::MiniTicker(Box::new(t))),
        EventKind::AvgPrice => RawAvgPrice::deserialize(d)?.check(ck).map(MarketEvent::AvgPrice),
        EventKind::ReferencePrice => RawReferencePrice::deserialize(d)?.check(ck).map(MarketEvent::ReferencePrice),
        EventKind::ServerShutdown => {
            RawShutdown::deserialize(d)?.check(ck).map(|event_time| MarketEvent::ServerShutdown { event_time })
        }
        EventKind::Wrapper | EventKind::Unknown => {
            IgnoredAny::deserialize(d)?;
            Ok(MarketEvent::Unknown { event_type: String::new() })
        }
    };
    Ok(checked.map_err(poison(kind)))
}

/// The top-level visitor: reads the first key and dispatches without buffering when it is one of
/// Binance's leading keys (`e`, `u`, `lastUpdateId`, `stream`, `data`); otherwise it buffers the
/// object into a `Value` and classifies it (the slow path, for control responses and reordered
/// payloads).
#[derive(Clone, Copy)]
struct Top<'c> {
    ck: &'c Checker,
    nested: bool,
}

impl<'de> DeserializeSeed<'de> for Top<'_> {
    type Value = Decoded;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Decoded, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Top<'_> {
    type Value = Decoded;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Decoded, E> {
        self.scalar()
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Decoded, E> {
        self.scalar()
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Decoded, E> {
        self.scalar()
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Decoded, E> {
        self.scalar()
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Decoded, E> {
        self.scalar()
    }
    fn visit_unit<E: de::Error>(self) -> Result<Decoded, E> {
        self.scalar()
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Decoded, A::Error> {
        // Array streams (`!miniTicker@arr`) are not decoded element by element.
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Decoded::event(Ok(MarketEvent::Unknown { event_type: String::new() })))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Decoded, A::Error> {
        let Some(first) = map.next_key::<Key>()? else {
            return Ok(Decoded::event(Ok(MarketEvent::Unknown { event_type: String::new() })));
        };
        match first {
            Key::EventType => match map.next_value::<Tag>()? {
                Tag::Known(kind) => {
                    event_of(kind, de::value::MapAccessDeserializer::new(map), self.ck).map(Decoded::event)
                }
                Tag::Unknown(event_type) => {
                    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                    Ok(Decoded::event(Ok(MarketEvent::Unknown { event_type })))
                }
                Tag::Bad(reason) => {
                    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                    Ok(Decoded::event(Err(Poison { kind: EventKind::Unknown, reason, field: "e" })))
                }
            },
            Key::UpdateId => {
                // Spot's bookTicker leads with `u`; anything else with an `e` that leads with `u`
                // (a reordered depthUpdate) is decoded again on the slow path.
                let u: Raw<u64> = map.next_value()?;
                let mut raw = RawBookTicker::deserialize(de::value::MapAccessDeserializer::new(map))?;
                if !raw.is_book_ticker() {
                    return Ok(Decoded::reparse());
                }
                raw.u = u;
                Ok(Decoded::event(raw.check().map(MarketEvent::BookTicker).map_err(poison(EventKind::BookTicker))))
            }
            Key::LastUpdateId => {
                let id: Raw<u64> = map.next_value()?;
                let mut raw = RawPartialDepth::deserialize(de::value::MapAccessDeserializer::new(map))?;
                raw.last_update_id = id;
                Ok(Decoded::event(raw.check().map(MarketEvent::PartialDepth).map_err(poison(EventKind::PartialDepth))))
            }
            Key::Stream | Key::Data if !self.nested => self.wrapper(first, map),
            Key::Stream | Key::Data | Key::Other => {
                map.next_value::<IgnoredAny>()?;
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Decoded::reparse())
            }
        }
    }
}

impl Top<'_> {
    /// A scalar: malformed at the top level, a poisoned wrapper inside one (the slow path says so).
    fn scalar<E: de::Error>(self) -> Result<Decoded, E> {
        if self.nested { Ok(Decoded::reparse()) } else { Err(E::custom("expected a JSON object")) }
    }

    /// `{"stream":..,"data":..}` in either order; other keys are skipped.
    fn wrapper<'de, A: MapAccess<'de>>(self, first: Key, mut map: A) -> Result<Decoded, A::Error> {
        let mut stream: Raw<StreamName> = Raw::Missing;
        let mut data: Option<Result<MarketEvent, Poison>> = None;
        let mut key = Some(first);
        while let Some(k) = key {
            match k {
                Key::Stream => stream = map.next_value()?,
                Key::Data if data.is_none() => {
                    let inner = map.next_value_seed(Top { ck: self.ck, nested: true })?;
                    if inner.reparse {
                        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                        return Ok(Decoded::reparse());
                    }
                    data = Some(inner.event);
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            key = map.next_key::<Key>()?;
        }
        let wrapper_fault = |reason, field| Decoded::event(Err(Poison { kind: EventKind::Wrapper, reason, field }));
        let stream = match stream {
            Raw::Value(name) => name,
            other => return Ok(wrapper_fault(raw::fault_of(other), "stream")),
        };
        let Some(mut event) = data else {
            return Ok(wrapper_fault(PoisonReason::Missing, "data"));
        };
        if let Ok(MarketEvent::PartialDepth(depth)) = &mut event {
            depth.symbol = depth.symbol.or_else(|| symbol_of_stream(stream.as_str()));
        }
        Ok(Decoded { stream: Some(stream), event, reparse: false })
    }
}

/// The slow path: a whole object, classified by its keys.
fn classify(value: &Value, ck: &Checker, nested: bool) -> Result<Decoded, serde_json::Error> {
    let get = |k: &str| value.get(k);
    if !value.is_object() {
        // An array stream (`!miniTicker@arr`) or a scalar inside a wrapper.
        return Ok(Decoded::event(if value.is_array() {
            Ok(MarketEvent::Unknown { event_type: String::new() })
        } else {
            Err(Poison { kind: EventKind::Wrapper, reason: PoisonReason::WrongType, field: "data" })
        }));
    }
    if !nested && (get("stream").is_some() || get("data").is_some()) {
        let wrapper_fault = |reason, field| Decoded::event(Err(Poison { kind: EventKind::Wrapper, reason, field }));
        let stream = match get("stream") {
            None => return Ok(wrapper_fault(PoisonReason::Missing, "stream")),
            Some(Value::Null) => return Ok(wrapper_fault(PoisonReason::Null, "stream")),
            Some(Value::String(s)) => match StreamName::new(s) {
                Some(name) => name,
                None => return Ok(wrapper_fault(PoisonReason::InvalidText, "stream")),
            },
            Some(_) => return Ok(wrapper_fault(PoisonReason::WrongType, "stream")),
        };
        let Some(data) = get("data") else {
            return Ok(wrapper_fault(PoisonReason::Missing, "data"));
        };
        let mut inner = classify(data, ck, true)?;
        if let Ok(MarketEvent::PartialDepth(depth)) = &mut inner.event {
            depth.symbol = depth.symbol.or_else(|| symbol_of_stream(stream.as_str()));
        }
        return Ok(Decoded { stream: Some(stream), event: inner.event, reparse: false });
    }
    if let Some(tag) = get("e") {
        let kind = match tag.as_str().map(tag_of) {
            Some(Tag::Known(kind)) => kind,
            Some(Tag::Unknown(event_type)) => return Ok(Decoded::event(Ok(MarketEvent::Unknown { event_type }))),
            _ => {
                let reason = if tag.is_null() { PoisonReason::Null } else { PoisonReason::WrongType };
                return Ok(Decoded::event(Err(Poison { kind: EventKind::Unknown, reason, field: "e" })));
            }
        };
        return event_of(kind, value, ck).map(Decoded::event);
    }
    if get("u").is_some() && get("b").is_some() {
        return event_of(EventKind::BookTicker, value, ck).map(Decoded::event);
    }
    if get("lastUpdateId").is_some() {
        return event_of(EventKind::PartialDepth, value, ck).map(Decoded::event);
    }
    if get("result").is_some() || get("code").is_some() {
        return Ok(Decoded::event(Ok(MarketEvent::Control(control_of(value)))));
    }
    Ok(Decoded::event(Ok(MarketEvent::Unknown { event_type: String::new() })))
}

fn control_of(value: &Value) -> ControlResponse {
    let id = match value.get("id") {
        Some(Value::Number(n)) => n.as_i64().map_or(RequestId::Null, RequestId::Int),
        Some(Value::String(s)) => RequestId::Str(s.clone()),
        _ => RequestId::Null,
    };
    match value.get("code") {
        Some(code) => ControlResponse::Error {
            id,
            code: code.as_i64().unwrap_or(i64::MIN),
            msg: value.get("msg").and_then(Value::as_str).unwrap_or_default().to_owned(),
        },
        None => ControlResponse::Result { id, result: value.get("result").cloned().unwrap_or(Value::Null) },
    }
}

/// The symbol a market stream is about, upper-cased: `btcusdt@depth20@100ms` → `BTCUSDT`;
/// `None` for all-market streams (`!ticker@arr`) and names too long to be a symbol.
///
/// ```
/// use aegis_exchange::stream::symbol_of_stream;
/// assert_eq!(symbol_of_stream("btcusdt@depth20@100ms").map(|s| s.as_str().to_owned()), Some("BTCUSDT".into()));
/// assert!(symbol_of_stream("!ticker@arr").is_none());
/// ```
pub fn symbol_of_stream(stream: &str) -> Option<Symbol> {
    let lower = stream.split('@').next().filter(|s| s.bytes().all(|b| b.is_ascii_alphanumeric()))?;
    let mut buf = [0u8; 32];
    let bytes = lower.as_bytes();
    let dst = buf.get_mut(..bytes.len())?;
    dst.copy_from_slice(bytes);
    dst.make_ascii_uppercase();
    Symbol::new(std::str::from_utf8(dst).ok()?)
}
