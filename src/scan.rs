//! A cursor over JSON bytes written exactly as Binance writes them (no whitespace, no escapes):
//! the shared primitives of the decoders' fast paths (`stream::fast`, `ws_api::fast`,
//! `rest::fast`). Every method consumes on success and returns `None` on anything unusual, which
//! sends the frame to the general (serde) path.

use rust_decimal::Decimal;

use crate::num::{parse_decimal_bytes, scan_short};

pub(crate) struct Cursor<'a> {
    pub(crate) bytes: &'a [u8],
    pub(crate) at: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, at: 0 }
    }

    /// The exact bytes `text`, consumed.
    #[inline]
    pub(crate) fn lit(&mut self, text: &[u8]) -> Option<()> {
        let end = self.at.checked_add(text.len())?;
        (self.bytes.get(self.at..end)? == text).then(|| self.at = end)
    }

    /// The next byte, consumed.
    #[inline]
    pub(crate) fn byte(&mut self) -> Option<u8> {
        let b = *self.bytes.get(self.at)?;
        self.at += 1;
        Some(b)
    }

    /// The next byte, not consumed.
    #[inline]
    pub(crate) fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    /// The bytes of a string body (after its opening quote) up to its closing quote (consumed);
    /// `None` on an escape or a control character.
    #[inline]
    pub(crate) fn string_bytes(&mut self) -> Option<&'a [u8]> {
        let start = self.at;
        loop {
            match *self.bytes.get(self.at)? {
                b'"' => break,
                b'\\' => return None,
                b if b < 0x20 => return None,
                _ => self.at += 1,
            }
        }
        let body = self.bytes.get(start..self.at)?;
        self.at += 1;
        Some(body)
    }

    /// A string body as text; `None` if it is not UTF-8 (which the general path refuses too).
    #[inline]
    pub(crate) fn string(&mut self) -> Option<&'a str> {
        std::str::from_utf8(self.string_bytes()?).ok()
    }

    /// `true` or `false`.
    pub(crate) fn boolean(&mut self) -> Option<bool> {
        if self.lit(b"true").is_some() { Some(true) } else { self.lit(b"false").map(|()| false) }
    }

    /// Whether the whole input was read.
    pub(crate) fn end(&self) -> Option<()> {
        (self.at == self.bytes.len()).then_some(())
    }

    /// A JSON string value (with its quotes) as text.
    #[inline]
    pub(crate) fn quoted(&mut self) -> Option<&'a str> {
        self.lit(b"\"")?;
        self.string()
    }

    /// A JSON integer as serde reads an `i64`: an optional minus, digits without a leading zero,
    /// no fraction or exponent, in range (more than 19 digits: left to the general path).
    #[inline(never)]
    pub(crate) fn integer(&mut self) -> Option<i64> {
        let negative = self.peek() == Some(b'-');
        if negative {
            self.at += 1;
        }
        let start = self.at;
        let mut value: u64 = 0;
        while let Some(d) = self.bytes.get(self.at).map(|b| b.wrapping_sub(b'0')).filter(|d| *d < 10) {
            // 19 digits never overflow a u64.
            if self.at - start == 19 {
                return None;
            }
            value = value * 10 + u64::from(d);
            self.at += 1;
        }
        let len = self.at - start;
        let leading_zero = len > 1 && self.bytes.get(start) == Some(&b'0');
        let fraction = matches!(self.peek(), Some(b'.' | b'e' | b'E'));
        // `-0` is not an i64 to serde_json: left to the general path too.
        if len == 0 || leading_zero || fraction || (negative && value == 0) {
            return None;
        }
        if negative { i64::try_from(-i128::from(value)).ok() } else { i64::try_from(value).ok() }
    }

    pub(crate) fn json_u64(&mut self) -> Option<u64> {
        (self.peek() != Some(b'-')).then_some(())?;
        u64::try_from(self.integer()?).ok()
    }

    /// `null`, consumed: whether it was there.
    pub(crate) fn null(&mut self) -> bool {
        self.lit(b"null").is_some()
    }

    /// A decimal string, parsed strictly as the serde path parses it: a plain short decimal in
    /// the same pass as the scan for its closing quote, anything else by the full parser.
    #[inline(never)]
    pub(crate) fn decimal(&mut self) -> Option<Decimal> {
        self.lit(b"\"")?;
        if let Some((value, len)) = self.bytes.get(self.at..).and_then(scan_short)
            && self.bytes.get(self.at + len) == Some(&b'"')
        {
            self.at += len + 1;
            return Some(value);
        }
        parse_decimal_bytes(self.string_bytes()?).ok()
    }

    /// A value of a key this crate does not read: a scalar is skipped; a nested value goes to
    /// the general path.
    pub(crate) fn skip(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.quoted().map(|_| ()),
            b't' | b'f' => self.boolean().map(|_| ()),
            b'n' => self.null().then_some(()),
            b'-' | b'0'..=b'9' => self.skip_number(),
            _ => None,
        }
    }

    /// A number as JSON writes it (`-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`), skipped.
    pub(crate) fn skip_number(&mut self) -> Option<()> {
        let digits = |c: &mut Self| {
            let start = c.at;
            while c.peek().is_some_and(|b| b.is_ascii_digit()) {
                c.at += 1;
            }
            c.at - start
        };
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        let first = self.peek()?;
        let int = digits(self);
        if int == 0 || (first == b'0' && int > 1) {
            return None;
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            (digits(self) > 0).then_some(())?;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.at += 1;
            }
            (digits(self) > 0).then_some(())?;
        }
        Some(())
    }
}

/// Optional fields: absent, `null` (the same for serde's `default` + `Option`), or a value.
pub(crate) fn optional<'a, T>(
    c: &mut Cursor<'a>,
    read: impl FnOnce(&mut Cursor<'a>) -> Option<T>,
) -> Option<Option<T>> {
    if c.null() { Some(None) } else { read(c).map(Some) }
}

/// Every one-byte deletion, change and doubling of `bytes`: what the fast paths' tests feed
/// them, to show they refuse or read exactly as the general path does.
#[cfg(test)]
pub(crate) fn mutations(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        let mut deleted = bytes.to_vec();
        deleted.remove(i);
        let mut changed = bytes.to_vec();
        changed[i] = match b {
            b'0'..=b'8' => b + 1,
            b'"' => b'\\',
            b',' => b' ',
            b'-' => b'+',
            _ => b'0',
        };
        let mut doubled = bytes.to_vec();
        doubled.insert(i, *b);
        out.extend([deleted, changed, doubled]);
    }
    out
}
