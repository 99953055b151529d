//! `ClientOrderId`: the idempotency key of an order, validated and stored inline.

use std::fmt;

use super::InlineStr;

/// The longest client order id Binance accepts.
pub const CLIENT_ORDER_ID_MAX_LEN: usize = 36;

/// Why a client order id was refused.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ClientOrderIdError {
    /// Empty, or longer than 36 bytes.
    #[error("client order id must be 1 to 36 characters long, got {len}")]
    Length {
        /// The length that was given.
        len: usize,
    },
    /// A character outside `[a-zA-Z0-9-_]`.
    #[error("illegal character in client order id at byte {at}; legal range is '^[a-zA-Z0-9-_]{{1,36}}$'")]
    IllegalCharacter {
        /// Byte offset of the first offending byte.
        at: usize,
    },
}

/// A client order id (`newClientOrderId` / `origClientOrderId`), checked against Binance's
/// legal range `^[a-zA-Z0-9-_]{1,36}$`.
///
/// It is `Copy` and stored inline (no heap): the engine keys in-flight orders by it, so the
/// same id can never be in flight twice, and an order with an unknown outcome is looked up by it.
///
/// ```
/// use aegis_exchange::ClientOrderId;
/// let id = ClientOrderId::new("my-order_1").unwrap();
/// assert_eq!(id.as_str(), "my-order_1");
/// assert!(ClientOrderId::new("has.dot").is_err());
/// assert!(ClientOrderId::new("").is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientOrderId(InlineStr<CLIENT_ORDER_ID_MAX_LEN>);

impl ClientOrderId {
    /// Checks `s` against `^[a-zA-Z0-9-_]{1,36}$`.
    ///
    /// # Errors
    /// [`ClientOrderIdError`] naming what is wrong.
    pub fn new(s: &str) -> Result<Self, ClientOrderIdError> {
        let raw = s.as_bytes();
        if raw.is_empty() || raw.len() > CLIENT_ORDER_ID_MAX_LEN {
            return Err(ClientOrderIdError::Length { len: raw.len() });
        }
        if let Some(at) = raw.iter().position(|b| !is_legal(*b)) {
            return Err(ClientOrderIdError::IllegalCharacter { at });
        }
        // Legal ASCII of 1 to 36 bytes: always stored.
        InlineStr::new(s).map(Self).ok_or(ClientOrderIdError::Length { len: raw.len() })
    }

    /// The id as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

fn is_legal(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

impl fmt::Debug for ClientOrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ClientOrderId").field(&self.as_str()).finish()
    }
}

impl fmt::Display for ClientOrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ClientOrderId {
    type Err = ClientOrderIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl AsRef<str> for ClientOrderId {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl serde::Serialize for ClientOrderId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for ClientOrderId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = ClientOrderId;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a client order id matching ^[a-zA-Z0-9-_]{1,36}$")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ClientOrderId, E> {
                ClientOrderId::new(v).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

/// A deterministic, seedable source of unique client order ids.
///
/// Ids look like `<prefix><counter base36>-<10 random base62 chars>`: unique within one
/// generator by the counter, and distinct across restarts by the seeded random part. The same
/// seed gives the same sequence, which is what lets a failure scenario be replayed exactly.
///
/// ```
/// use aegis_exchange::ClientOrderIdGenerator;
/// let mut a = ClientOrderIdGenerator::new("ae", 42).unwrap();
/// let mut b = ClientOrderIdGenerator::new("ae", 42).unwrap();
/// let (x, y) = (a.next_id(), a.next_id());
/// assert_ne!(x, y);
/// assert_eq!(x, b.next_id());
/// assert!(x.as_str().starts_with("ae"));
/// ```
#[derive(Debug, Clone)]
pub struct ClientOrderIdGenerator {
    prefix: ClientOrderId,
    counter: u64,
    state: u64,
}

impl Default for ClientOrderIdGenerator {
    /// Ids `aegis…`, seed 1.
    fn default() -> Self {
        let mut bytes = [0u8; CLIENT_ORDER_ID_MAX_LEN];
        for (dst, src) in bytes.iter_mut().zip(b"aegis") {
            *dst = *src;
        }
        Self { prefix: ClientOrderId(InlineStr::from_ascii(bytes, 5)), counter: 0, state: 1 }
    }
}

/// The longest prefix a generator takes, so that every id fits in 36 characters.
pub const CLIENT_ORDER_ID_MAX_PREFIX: usize = 12;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

impl ClientOrderIdGenerator {
    /// A generator whose ids start with `prefix` (1 to 12 legal characters), seeded by `seed`.
    ///
    /// # Errors
    /// The prefix is empty, longer than 12, or has an illegal character.
    pub fn new(prefix: &str, seed: u64) -> Result<Self, ClientOrderIdError> {
        if prefix.len() > CLIENT_ORDER_ID_MAX_PREFIX {
            return Err(ClientOrderIdError::Length { len: prefix.len() });
        }
        let prefix_id = ClientOrderId::new(prefix)?;
        Ok(Self { prefix: prefix_id, counter: 0, state: seed })
    }

    /// The next id. Never repeats within this generator (the counter would need 2^64 calls).
    pub fn next_id(&mut self) -> ClientOrderId {
        let mut bytes = [0u8; CLIENT_ORDER_ID_MAX_LEN];
        let mut len = 0usize;
        let mut push = |b: u8| {
            if let Some(slot) = bytes.get_mut(len) {
                *slot = b;
                len += 1;
            }
        };
        for &b in self.prefix.as_str().as_bytes() {
            push(b);
        }
        // Counter in base 36, most significant digit first (at most 13 digits for a u64).
        let mut digits = [0u8; 13];
        let mut n = self.counter;
        let mut count = 0usize;
        loop {
            if let Some(d) = digits.get_mut(count) {
                *d = BASE62.get((n % 36) as usize).copied().unwrap_or(b'0');
            }
            count += 1;
            n /= 36;
            if n == 0 || count == digits.len() {
                break;
            }
        }
        for i in (0..count).rev() {
            push(digits.get(i).copied().unwrap_or(b'0'));
        }
        push(b'-');
        let mut r = splitmix64(&mut self.state);
        for _ in 0..10 {
            push(BASE62.get((r % 62) as usize).copied().unwrap_or(b'0'));
            r /= 62;
        }
        self.counter = self.counter.wrapping_add(1);
        // 12 + 13 + 1 + 10 = 36: always fits, always legal.
        let len = u8::try_from(len).unwrap_or(CLIENT_ORDER_ID_MAX_LEN as u8);
        ClientOrderId(InlineStr::from_ascii(bytes, len))
    }
}

/// SplitMix64: a tiny, well-distributed PRNG step, enough for ids and jitter (not for keys).
pub(crate) fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn validation_matches_binance_regex() {
        assert!(ClientOrderId::new("a").is_ok());
        assert!(ClientOrderId::new(&"x".repeat(36)).is_ok());
        assert_eq!(ClientOrderId::new(&"x".repeat(37)), Err(ClientOrderIdError::Length { len: 37 }));
        assert_eq!(ClientOrderId::new(""), Err(ClientOrderIdError::Length { len: 0 }));
        assert_eq!(ClientOrderId::new("ab.c"), Err(ClientOrderIdError::IllegalCharacter { at: 2 }));
        assert_eq!(ClientOrderId::new("é"), Err(ClientOrderIdError::IllegalCharacter { at: 0 }));
        assert_eq!(ClientOrderId::new("a b"), Err(ClientOrderIdError::IllegalCharacter { at: 1 }));
    }

    #[test]
    fn generated_ids_are_legal_unique_and_reproducible() {
        let mut g = ClientOrderIdGenerator::new("aegis-12345_", 7).unwrap_or_else(|e| panic!("{e}"));
        let mut seen = HashSet::new();
        for _ in 0..10_000 {
            let id = g.next_id();
            assert!(ClientOrderId::new(id.as_str()).is_ok(), "{id}");
            assert!(seen.insert(id));
        }
        let mut other_seed = ClientOrderIdGenerator::new("aegis-12345_", 8).unwrap_or_else(|e| panic!("{e}"));
        let mut same_seed = ClientOrderIdGenerator::new("aegis-12345_", 7).unwrap_or_else(|e| panic!("{e}"));
        let first = same_seed.next_id();
        assert!(seen.contains(&first));
        assert!(!seen.contains(&other_seed.next_id()));
        assert!(ClientOrderIdGenerator::new("thirteen_char", 0).is_err());
    }

    #[test]
    fn longest_prefix_and_counter_still_fit() {
        let mut g = ClientOrderIdGenerator::new("abcdefghijkl", 1).unwrap_or_else(|e| panic!("{e}"));
        g.counter = u64::MAX;
        let id = g.next_id();
        assert_eq!(id.as_str().len(), 36);
        assert!(ClientOrderId::new(id.as_str()).is_ok());
    }
}
