//! A fast hasher for keys this crate makes or trusts (reservation ids, trade ids, client order
//! ids): a multiply-rotate mix in the style of rustc\'s FxHash instead of SipHash. Not for keys an
//! attacker picks at will.

use std::hash::{BuildHasherDefault, Hasher};

/// `HashMap` / `HashSet` hasher state.
pub(crate) type FastHash = BuildHasherDefault<FastHasher>;

const K: u64 = 0x9E37_79B9_7F4A_7C15;

#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct FastHasher(u64);

impl FastHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(K);
    }
}

impl Hasher for FastHasher {
    #[inline]
    fn finish(&self) -> u64 {
        // Spread the high bits (hashbrown uses the top 7 for its tags).
        self.0 ^ (self.0 >> 32)
    }

    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            if let Some(dst) = word.get_mut(..rest.len()) {
                dst.copy_from_slice(rest);
            }
            self.add(u64::from_le_bytes(word));
        }
    }

    #[inline]
    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::FastHash;

    #[test]
    fn distinct_keys_stay_distinct() {
        let mut set: HashSet<u64, FastHash> = HashSet::default();
        for i in 0..10_000u64 {
            assert!(set.insert(i << 48 | i));
        }
        assert_eq!(set.len(), 10_000);
        let mut names: HashSet<String, FastHash> = HashSet::default();
        for i in 0..1000 {
            assert!(names.insert(format!("order-{i}")));
        }
        assert!(names.contains("order-999") && !names.contains("order-1000"));
    }
}
