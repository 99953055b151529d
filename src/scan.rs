//! A cursor over JSON bytes written exactly as Binance writes them (no whitespace, no escapes):
//! the shared primitives of the decoders' fast paths (`stream::fast`, `ws_api::fast`). Every
//! method consumes on success and returns `None` on anything unusual, which sends the frame to
//! the general (serde) path.

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
}
