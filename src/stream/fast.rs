//! The fast path of the stream decoder for the two hottest frames, a raw `trade` and a raw
//! `bookTicker`, written exactly as Binance writes them (keys in its order, no whitespace, no
//! escapes). It scans the bytes once and hands the fields to the same primitives and the same
//! sanitising `check` as the serde path, so what it accepts decodes identically; anything else
//! (another key order, a space, an escape, a number where a string belongs) returns `None` and
//! takes the general path. A unit test compares both paths on the fuzz corpus and on mutations.

use super::events::{RawBookTicker, RawTrade};
use super::raw::{Prim, Raw, Unsigned, wrap as raw};
use super::{Checker, EventKind, MarketEvent, Message, StreamError, Symbol, poison};

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn lit(&mut self, text: &[u8]) -> Option<()> {
        let end = self.at.checked_add(text.len())?;
        (self.bytes.get(self.at..end)? == text).then(|| self.at = end)
    }

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

    /// The body of a string up to its closing quote (consumed); `None` on an escape or a
    /// control character.
    fn string(&mut self) -> Option<&'a str> {
        let start = self.at;
        loop {
            match *self.bytes.get(self.at)? {
                b'"' => break,
                b'\\' => return None,
                b if b < 0x20 => return None,
                _ => self.at += 1,
            }
        }
        let text = std::str::from_utf8(self.bytes.get(start..self.at)?).ok()?;
        self.at += 1;
        Some(text)
    }

    fn boolean(&mut self) -> Option<bool> {
        if self.lit(b"true").is_some() { Some(true) } else { self.lit(b"false").map(|()| false) }
    }

    fn end(&self) -> Option<()> {
        (self.at == self.bytes.len()).then_some(())
    }
}

/// The event as the general path would give it: poisoned with its kind, or a raw-stream message.
fn message(kind: EventKind, event: Result<MarketEvent, super::events::Fault>) -> Result<Message, StreamError> {
    event.map(|event| Message { stream: None, event }).map_err(|fault| StreamError::Poisoned(poison(kind)(fault)))
}

fn trade(bytes: &[u8], ck: &Checker) -> Option<Result<Message, StreamError>> {
    let mut c = Cursor { bytes, at: 0 };
    c.lit(br#"{"e":"trade","E":"#)?;
    let event_time = c.number()?;
    c.lit(br#","s":""#)?;
    let s = c.string()?;
    c.lit(br#","t":"#)?;
    let t = c.number()?;
    c.lit(br#","p":""#)?;
    let p = c.string()?;
    c.lit(br#","q":""#)?;
    let q = c.string()?;
    c.lit(br#","T":"#)?;
    let trade_time = c.number()?;
    c.lit(br#","m":"#)?;
    let m = c.boolean()?;
    c.lit(br#","M":"#)?;
    c.boolean()?;
    c.lit(b"}")?;
    c.end()?;
    let raw = RawTrade {
        event_time: raw(<i64 as Prim>::from_u64(event_time)),
        s: raw(<Symbol as Prim>::from_str(s)),
        t: raw(<u64 as Prim>::from_u64(t)),
        p: raw(<Unsigned as Prim>::from_str(p)),
        q: raw(<Unsigned as Prim>::from_str(q)),
        trade_time: raw(<i64 as Prim>::from_u64(trade_time)),
        m: raw(<bool as Prim>::from_bool(m)),
    };
    Some(message(EventKind::Trade, raw.check(ck).map(MarketEvent::Trade)))
}

fn book_ticker(bytes: &[u8]) -> Option<Result<Message, StreamError>> {
    let mut c = Cursor { bytes, at: 0 };
    c.lit(br#"{"u":"#)?;
    let u = c.number()?;
    c.lit(br#","s":""#)?;
    let s = c.string()?;
    c.lit(br#","b":""#)?;
    let b = c.string()?;
    c.lit(br#","B":""#)?;
    let bid_qty = c.string()?;
    c.lit(br#","a":""#)?;
    let a = c.string()?;
    c.lit(br#","A":""#)?;
    let ask_qty = c.string()?;
    c.lit(b"}")?;
    c.end()?;
    let raw = RawBookTicker {
        e: Raw::Missing,
        u: raw(<u64 as Prim>::from_u64(u)),
        s: raw(<Symbol as Prim>::from_str(s)),
        b: raw(<Unsigned as Prim>::from_str(b)),
        bid_qty: raw(<Unsigned as Prim>::from_str(bid_qty)),
        a: raw(<Unsigned as Prim>::from_str(a)),
        ask_qty: raw(<Unsigned as Prim>::from_str(ask_qty)),
    };
    Some(message(EventKind::BookTicker, raw.check().map(MarketEvent::BookTicker)))
}

/// The fast path: `Some` with the result for a raw trade or bookTicker in Binance's exact form,
/// `None` for anything else.
pub(crate) fn decode(frame: &[u8], ck: &Checker) -> Option<Result<Message, StreamError>> {
    if frame.starts_with(br#"{"e":"trade","#) {
        trade(frame, ck)
    } else if frame.starts_with(br#"{"u":"#) {
        book_ticker(frame)
    } else {
        None
    }
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

    #[test]
    fn the_fast_path_takes_binances_own_form() {
        assert!(same(TRADE.as_bytes()));
        assert!(same(BOOK_TICKER.as_bytes()));
        // Poisoned values go through it too, with the same typed reasons.
        for bad in [
            TRADE.replace("61837.63000000", "NaN"),
            TRADE.replace("61837.63000000", "-1"),
            TRADE.replace("61837.63000000", "0"),
            TRADE.replace("1723161255343", "1000"),
            BOOK_TICKER.replace("61837.64000000", "61837.62000000"),
            BOOK_TICKER.replace("3.78826000", "-3"),
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
        for base in [TRADE, BOOK_TICKER] {
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
        assert!(answered > 300, "{answered} frames took the fast path");
    }
}
