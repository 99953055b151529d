//! The fast path of the stream decoder for the hottest frames, a `trade`, a `bookTicker` and a
//! `depthUpdate`, raw or in a combined-stream wrapper, written exactly as Binance writes them
//! (keys in its order, no whitespace, no escapes). It scans the bytes once and hands the fields
//! to the same primitives and the same sanitising `check` as the serde path, so what it accepts
//! decodes identically; anything else (another key order, a space, an escape, a number where a
//! string belongs) returns `None` and takes the general path. A unit test compares both paths on
//! the fuzz corpus, on recorded frames and on mutations.

use super::events::{RawBookTicker, RawDepthUpdate, RawTrade};
use super::raw::{Prim, Raw, SideBuilder, Unsigned, level_of, wrap as raw};
use crate::num::scan_short;
use crate::scan::Cursor;

use super::{Checker, EventKind, MarketEvent, Message, Poison, StreamError, StreamName, Symbol, poison};

impl Cursor<'_> {
    /// A run of digits as a JSON number would write it (no sign, no leading zero unless alone,
    /// no fraction or exponent: those leave it to the general path).
    fn number(&mut self) -> Option<u64> {
        let start = self.at;
        let mut value: u64 = 0;
        while let Some(b) = self.bytes.get(self.at).filter(|b| b.is_ascii_digit()) {
            value = value.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
            self.at += 1;
        }
        let len = self.at - start;
        let leading_zero = len > 1 && self.bytes.get(start) == Some(&b'0');
        let fraction = matches!(self.bytes.get(self.at), Some(b'.' | b'e' | b'E'));
        (len > 0 && !leading_zero && !fraction).then_some(value)
    }

    /// A decimal string body, parsed in place: in the same pass as the scan for its closing
    /// quote when it is a plain short decimal, else scanned and then parsed.
    #[inline(always)]
    fn unsigned(&mut self) -> Option<Raw<Unsigned>> {
        if let Some((value, len)) = self.bytes.get(self.at..).and_then(scan_short) {
            let end = self.at + len;
            if self.bytes.get(end) == Some(&b'"') {
                self.at = end + 1;
                return Some(Raw::Value(Unsigned(value)));
            }
        }
        Unsigned::from_bytes(self.string_bytes()?).map(raw)
    }

    /// One side of a book, `[["price","qty"],...]`, each level checked as the general path
    /// checks it.
    fn side(&mut self) -> Option<Raw<super::raw::Levels>> {
        self.lit(b"[")?;
        let mut side = SideBuilder::with_capacity(16);
        if self.lit(b"]").is_some() {
            return Some(side.finish());
        }
        loop {
            self.lit(b"[\"")?;
            let price = self.unsigned()?;
            self.lit(b",\"")?;
            let qty = self.unsigned()?;
            self.lit(b"]")?;
            side.push(level_of(price, qty, false));
            match self.byte()? {
                b',' => {}
                b']' => return Some(side.finish()),
                _ => return None,
            }
        }
    }
}

type Event = Result<MarketEvent, Poison>;

/// The fields of a trade after `{"e":"trade",`.
#[inline]
fn trade(c: &mut Cursor<'_>, ck: &Checker) -> Option<Event> {
    c.lit(br#""E":"#)?;
    let event_time = c.number()?;
    c.lit(br#","s":""#)?;
    let s = c.string()?;
    c.lit(br#","t":"#)?;
    let t = c.number()?;
    c.lit(br#","p":""#)?;
    let p = c.unsigned()?;
    c.lit(br#","q":""#)?;
    let q = c.unsigned()?;
    c.lit(br#","T":"#)?;
    let trade_time = c.number()?;
    c.lit(br#","m":"#)?;
    let m = c.boolean()?;
    c.lit(br#","M":"#)?;
    c.boolean()?;
    c.lit(b"}")?;
    let raw = RawTrade {
        event_time: raw(<i64 as Prim>::from_u64(event_time)),
        s: raw(<Symbol as Prim>::from_str(s)),
        t: raw(<u64 as Prim>::from_u64(t)),
        p,
        q,
        trade_time: raw(<i64 as Prim>::from_u64(trade_time)),
        m: raw(<bool as Prim>::from_bool(m)),
    };
    Some(raw.check(ck).map(MarketEvent::Trade).map_err(poison(EventKind::Trade)))
}

/// The fields of a bookTicker after `{"u":`.
#[inline]
fn book_ticker(c: &mut Cursor<'_>) -> Option<Event> {
    let u = c.number()?;
    c.lit(br#","s":""#)?;
    let s = c.string()?;
    c.lit(br#","b":""#)?;
    let b = c.unsigned()?;
    c.lit(br#","B":""#)?;
    let bid_qty = c.unsigned()?;
    c.lit(br#","a":""#)?;
    let a = c.unsigned()?;
    c.lit(br#","A":""#)?;
    let ask_qty = c.unsigned()?;
    c.lit(b"}")?;
    let raw = RawBookTicker {
        e: Raw::Missing,
        u: raw(<u64 as Prim>::from_u64(u)),
        s: raw(<Symbol as Prim>::from_str(s)),
        b,
        bid_qty,
        a,
        ask_qty,
    };
    Some(raw.check().map(MarketEvent::BookTicker).map_err(poison(EventKind::BookTicker)))
}

/// The fields of a depth diff after `{"e":"depthUpdate",`.
#[inline]
fn depth_update(c: &mut Cursor<'_>, ck: &Checker) -> Option<Event> {
    c.lit(br#""E":"#)?;
    let event_time = c.number()?;
    c.lit(br#","s":""#)?;
    let s = c.string()?;
    c.lit(br#","U":"#)?;
    let first = c.number()?;
    c.lit(br#","u":"#)?;
    let u = c.number()?;
    c.lit(br#","b":"#)?;
    let b = c.side()?;
    c.lit(br#","a":"#)?;
    let a = c.side()?;
    c.lit(b"}")?;
    let raw = RawDepthUpdate {
        event_time: raw(<i64 as Prim>::from_u64(event_time)),
        s: raw(<Symbol as Prim>::from_str(s)),
        first: raw(<u64 as Prim>::from_u64(first)),
        u: raw(<u64 as Prim>::from_u64(u)),
        b,
        a,
    };
    Some(raw.check(ck).map(MarketEvent::DepthUpdate).map_err(poison(EventKind::DepthUpdate)))
}

#[inline]
fn event(c: &mut Cursor<'_>, ck: &Checker) -> Option<Event> {
    if c.lit(br#"{"e":"trade","#).is_some() {
        trade(c, ck)
    } else if c.lit(br#"{"u":"#).is_some() {
        book_ticker(c)
    } else if c.lit(br#"{"e":"depthUpdate","#).is_some() {
        depth_update(c, ck)
    } else {
        None
    }
}

/// The fast path: `Some` with the result for a trade, bookTicker or depthUpdate in Binance's
/// exact form (raw, or combined as `{"stream":..,"data":..}`), `None` for anything else.
pub(crate) fn decode(frame: &[u8], ck: &Checker) -> Option<Result<Message, StreamError>> {
    let mut c = Cursor::new(frame);
    let stream = if c.lit(br#"{"stream":""#).is_some() {
        let name = <StreamName as Prim>::from_str(c.string()?).ok()?;
        c.lit(br#","data":"#)?;
        Some(name)
    } else {
        None
    };
    let event = event(&mut c, ck)?;
    if stream.is_some() {
        c.lit(b"}")?;
    }
    c.end()?;
    Some(event.map(|event| Message { stream, event }).map_err(StreamError::Poisoned))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::{SanitizeConfig, decode_general};

    /// Both paths give the same answer on `frame` whenever the fast one answers. Returns
    /// whether it did.
    fn same(frame: &[u8]) -> bool {
        let config = SanitizeConfig::default();
        let now = 1_723_161_255_400;
        let ck = config.checker(now);
        let Some(fast) = decode(frame, &ck) else { return false };
        let general = decode_general(&config, now, frame);
        assert_eq!(format!("{fast:?}"), format!("{general:?}"), "{}", String::from_utf8_lossy(frame));
        true
    }

    const TRADE: &str = r#"{"e":"trade","E":1723161255343,"s":"BTCUSDT","t":3735683259,"p":"61837.63000000","q":"0.02000000","T":1723161255342,"m":true,"M":true}"#;
    const BOOK_TICKER: &str = r#"{"u":50093239212,"s":"BTCUSDT","b":"61837.63000000","B":"3.78826000","a":"61837.64000000","A":"1.54698000"}"#;
    const DEPTH: &str = r#"{"e":"depthUpdate","E":1723161255308,"s":"ETHUSDT","U":35346513499,"u":35346513505,"b":[["2683.80000000","3.02920000"],["2679.00000000","28.21530000"]],"a":[["2733.70000000","0.00000000"]]}"#;

    fn combined(stream: &str, data: &str) -> String {
        format!(r#"{{"stream":"{stream}","data":{data}}}"#)
    }

    #[test]
    fn the_fast_path_takes_binances_own_form() {
        assert!(same(TRADE.as_bytes()));
        assert!(same(BOOK_TICKER.as_bytes()));
        assert!(same(DEPTH.as_bytes()));
        assert!(same(combined("btcusdt@trade", TRADE).as_bytes()));
        assert!(same(combined("btcusdt@bookTicker", BOOK_TICKER).as_bytes()));
        assert!(same(combined("ethusdt@depth@100ms", DEPTH).as_bytes()));
        let empty_sides = DEPTH.replace(r#"[["2683.80000000","3.02920000"],["2679.00000000","28.21530000"]]"#, "[]");
        assert!(same(empty_sides.as_bytes()));
        let level = r#"["1.5","2"]"#;
        let too_deep =
            DEPTH.replace(r#"[["2733.70000000","0.00000000"]]"#, &format!("[{}]", vec![level; 10_001].join(",")));
        assert!(same(too_deep.as_bytes()));
        let refused = decode(too_deep.as_bytes(), &SanitizeConfig::default().checker(1_723_161_255_400));
        assert!(
            matches!(
                refused,
                Some(Err(StreamError::Poisoned(Poison {
                    reason: crate::stream::PoisonReason::TooManyLevels,
                    field: "a",
                    ..
                })))
            ),
            "{refused:?}"
        );
        let config = SanitizeConfig::default();
        let decoded = decode(combined("ethusdt@depth@100ms", DEPTH).as_bytes(), &config.checker(1_723_161_255_400));
        match decoded {
            Some(Ok(Message { stream: Some(stream), event: MarketEvent::DepthUpdate(d) })) => {
                assert_eq!(stream.as_str(), "ethusdt@depth@100ms");
                assert_eq!((d.bids.len(), d.asks.len()), (2, 1));
                assert_eq!(d.bids.first().map(|l| l.price.to_string()), Some("2683.8".into()));
            }
            other => panic!("{other:?}"),
        }
        // Poisoned values go through it too, with the same typed reasons.
        for bad in [
            TRADE.replace("61837.63000000", "NaN"),
            TRADE.replace("61837.63000000", "-1"),
            TRADE.replace("61837.63000000", "0"),
            TRADE.replace("1723161255343", "1000"),
            BOOK_TICKER.replace("61837.64000000", "61837.62000000"),
            BOOK_TICKER.replace("3.78826000", "-3"),
            DEPTH.replace("2679.00000000", "0.000"),
            DEPTH.replace("28.21530000", "-28"),
            DEPTH.replace("2733.70000000", "x"),
            DEPTH.replace("35346513505", "35346513498"),
            combined("ethusdt@depth", &DEPTH.replace("3.02920000", "1e3")),
        ] {
            assert!(same(bad.as_bytes()), "{bad}");
        }
        // Anything else is left to the general path.
        for other in [
            TRADE.replace(',', ", "),
            TRADE.replace("\"p\":\"61837.63000000\"", "\"p\":61837.63"),
            TRADE.replace("BTCUSDT", "BTC\\u0055SDT"),
            BOOK_TICKER.replace("50093239212", "050093239212"),
            BOOK_TICKER.replace("50093239212", "5.0e10"),
            format!("{TRADE} "),
            DEPTH.replace(r#"","#, r#"", "#),
            DEPTH.replace(r#"["2733.70000000","0.00000000"]"#, r#"["2733.70000000","0.00000000",1]"#),
            DEPTH.replace(r#""2733.70000000""#, "2733.7"),
            combined(&"x".repeat(80), TRADE),
            combined("btcusdt@trade", TRADE).replace(r#""data":"#, r#""data": "#),
            format!(r#"{{"data":{TRADE},"stream":"btcusdt@trade"}}"#),
        ] {
            assert!(!same(other.as_bytes()), "{other}");
        }
    }

    /// Every mutation of the two frames (each byte replaced by each of a few telling bytes,
    /// each prefix) and every frame of the fuzz corpus: wherever the fast path answers, it
    /// answers as the general path does.
    #[test]
    fn both_paths_agree_on_mutations_and_the_fuzz_corpus() {
        let mut answered = 0;
        for base in [TRADE.into(), BOOK_TICKER.into(), DEPTH.into(), combined("ethusdt@depth@100ms", DEPTH)] {
            let bytes = base.as_bytes();
            for i in 0..bytes.len() {
                for b in [b'0', b'9', b'-', b'"', b'.', b'x', b' ', b'\\', b'}', 0xC3] {
                    let mut m = bytes.to_vec();
                    m[i] = b;
                    answered += usize::from(same(&m));
                }
                answered += usize::from(same(&bytes[..i]));
            }
        }
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/stream_frame");
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            if let Ok(frame) = std::fs::read(entry.path()) {
                answered += usize::from(same(&frame));
            }
        }
        // Real frames: the recorded depth diffs of hftbacktest's ETHUSDT session and
        // cryptofeed's mixed capture, each a combined-stream message under `"msg":`.
        let recorded = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/recorded");
        let mut real = 0;
        for file in ["hftbacktest_ethusdt_2024-08-08_slice.jsonl", "stream_frames_2021-10-12_cryptofeed.jsonl"] {
            let text = std::fs::read_to_string(recorded.join(file)).unwrap_or_default();
            for line in text.lines() {
                if let Some(msg) = line.find(r#""msg":"#).and_then(|at| line.get(at + 6..line.len() - 1)) {
                    real += usize::from(same(msg.as_bytes()));
                }
            }
        }
        assert!(real > 250, "{real} recorded frames took the fast path");
        assert!(answered > 1_000, "{answered} frames took the fast path");
    }
}
