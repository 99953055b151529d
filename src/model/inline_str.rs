//! `InlineStr`: short text stored inline, for the ids and names that travel with every message.

use std::fmt;

/// A short string stored inline (no heap): symbols, intervals, stream names.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InlineStr<const N: usize> {
    len: u8,
    bytes: [u8; N],
}

impl<const N: usize> InlineStr<N> {
    /// `s` if it is 1 to `N` bytes long (and `N` < 256), without control characters.
    #[must_use]
    pub fn new(s: &str) -> Option<Self> {
        let raw = s.as_bytes();
        if raw.is_empty() || raw.len() > N || raw.iter().any(u8::is_ascii_control) {
            return None;
        }
        let len = u8::try_from(raw.len()).ok()?;
        let mut bytes = [0u8; N];
        bytes.get_mut(..raw.len())?.copy_from_slice(raw);
        Some(Self { len, bytes })
    }

    /// The first `len` bytes of `bytes`, which the caller has checked are whole UTF-8 (the crate's
    /// own generators, which write ASCII).
    pub(crate) fn from_ascii(bytes: [u8; N], len: u8) -> Self {
        Self { len: len.min(u8::try_from(N).unwrap_or(u8::MAX)), bytes }
    }

    /// The text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        // Only a whole `&str` was ever stored, so the prefix is valid UTF-8.
        std::str::from_utf8(self.bytes.get(..usize::from(self.len)).unwrap_or(&[])).unwrap_or("")
    }
}

impl<const N: usize> fmt::Debug for InlineStr<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl<const N: usize> fmt::Display for InlineStr<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<const N: usize> PartialEq<&str> for InlineStr<N> {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}
