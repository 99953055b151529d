//! HMAC-SHA256 (RFC 2104) on sha2's block function.
//!
//! The keyed state is two SHA-256 midstates, key ⊕ ipad and key ⊕ opad, 64 bytes in all. A MAC
//! copies them, runs the payload's whole blocks straight from the caller's slice through
//! [`sha2::block_api::compress256`] (SHA-NI where the CPU has it), pads the tail on the stack,
//! and finishes with one outer block. The generic `hmac` crate reaches the same four block calls
//! for a 150-byte order query, but copies its two 100-byte cores per request and moves every
//! byte through digest's block buffer; doing without both is a third of the MAC's time
//! (BENCHMARKS.md, session 8). `tests/signing.rs` checks this against RFC 4231 and against the
//! `hmac` crate over arbitrary keys, payloads and splits.

// Under `--cfg aegis_loom` the prefix cache's atomics are loom's, and its model test explores
// every interleaving of a writer and readers (`.ci/run`, step "loom models").
#[cfg(aegis_loom)]
use loom::sync::atomic::{AtomicU64, Ordering, fence};
#[cfg(not(aegis_loom))]
use std::sync::atomic::{AtomicU64, Ordering, fence};

use sha2::block_api::compress256;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// SHA-256's block size; HMAC pads keys to it.
const BLOCK: usize = 64;

/// The SHA-256 initial hash value (FIPS 180-4 §5.3.3). A test hashes through it and compares
/// with `sha2::Sha256`.
const IV: [u32; 8] =
    [0x6a09_e667, 0xbb67_ae85, 0x3c6e_f372, 0xa54f_f53a, 0x510e_527f, 0x9b05_688c, 0x1f83_d9ab, 0x5be0_cd19];

/// The two keyed midstates. They are as good as the key for forging MACs, so they are wiped on
/// drop; a MAC's working copies are overwritten in place by the first block they absorb.
///
/// Beside them, a small cache of inner states one payload block further on: order queries of
/// one symbol, side and type share their first 64 bytes (`recvWindow=5000&symbol=BTCUSDT&side=
/// BUY&type=LIMIT&timeInForce=GTC&…`), so a repeated prefix costs a 64-byte comparison instead
/// of a block compression. The cache is wiped on drop like the midstates.
pub(super) struct Keyed {
    inner: [u32; 8],
    outer: [u32; 8],
    // Boxed: 416 bytes of slots would make every key (and every enum holding one) large.
    prefixes: Box<PrefixCache>,
}

impl Clone for Keyed {
    fn clone(&self) -> Self {
        // The clone starts with an empty cache; it fills on its first MACs.
        Self { inner: self.inner, outer: self.outer, prefixes: Box::default() }
    }
}

impl Keyed {
    /// Keys HMAC-SHA256. A key longer than a block is hashed first (RFC 2104 §2).
    pub(super) fn new(key: &[u8]) -> Self {
        let mut padded = zeroize::Zeroizing::new([0u8; BLOCK]);
        if key.len() > BLOCK {
            let mut h = Stream::new(IV, 0);
            h.update(key);
            let mut digest = h.finish();
            copy_prefix(&mut padded[..], &digest);
            digest.zeroize();
        } else {
            copy_prefix(&mut padded[..], key);
        }
        let mut block = zeroize::Zeroizing::new([0u8; BLOCK]);
        let mut inner = IV;
        let mut outer = IV;
        xor_into(&mut block, &padded, 0x36);
        compress256(&mut inner, std::slice::from_ref(&*block));
        xor_into(&mut block, &padded, 0x5c);
        compress256(&mut outer, std::slice::from_ref(&*block));
        Self { inner, outer, prefixes: Box::default() }
    }

    /// The MAC of the concatenation of `parts`.
    pub(super) fn mac_parts(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut h = Stream::new(self.inner, BLOCK as u64);
        for part in parts {
            h.update(part);
        }
        self.finish(h)
    }

    /// The MAC of one payload: the first block through the prefix cache, the other whole blocks
    /// straight from the payload in one call, the tail padded on the stack.
    pub(super) fn mac(&self, payload: &[u8]) -> [u8; 32] {
        let (blocks, tail) = payload.as_chunks::<BLOCK>();
        let (mut state, rest) = match blocks.split_first() {
            None => (self.inner, blocks),
            Some((first, rest)) => {
                let key = words(first);
                let state = match self.prefixes.get(&key) {
                    Some(state) => state,
                    None => {
                        let mut state = self.inner;
                        compress256(&mut state, std::slice::from_ref(first));
                        self.prefixes.put(&key, &state);
                        state
                    }
                };
                (state, rest)
            }
        };
        if !rest.is_empty() {
            compress256(&mut state, rest);
        }
        self.outer_mac(&pad_and_finish(state, tail, (BLOCK + payload.len()) as u64))
    }

    fn finish(&self, inner: Stream) -> [u8; 32] {
        self.outer_mac(&inner.finish())
    }

    /// The outer hash: one block holding the 32-byte inner digest, 0x80, zeros, and the bit
    /// length of the opad block plus the digest (96 bytes = 768 bits).
    fn outer_mac(&self, inner_digest: &[u8; 32]) -> [u8; 32] {
        let mut block = [0u8; BLOCK];
        block[..32].copy_from_slice(inner_digest);
        block[32] = 0x80;
        block[BLOCK - 8..].copy_from_slice(&((BLOCK as u64 + 32) * 8).to_be_bytes());
        let mut state = self.outer;
        compress256(&mut state, std::slice::from_ref(&block));
        write_state(&state)
    }
}

/// Pads the last partial block (`tail`, shorter than a block): 0x80, zeros, and the message's
/// 64-bit big-endian bit length, in one block or, when the length does not fit, two. Returns
/// the digest.
fn pad_and_finish(mut state: [u32; 8], tail: &[u8], total_len: u64) -> [u8; 32] {
    let mut last = [[0u8; BLOCK]; 2];
    let flat = last.as_flattened_mut();
    let used = tail.len().min(BLOCK - 1);
    if let Some(dst) = flat.get_mut(..used) {
        dst.copy_from_slice(tail.get(..used).unwrap_or(&[]));
    }
    if let Some(b) = flat.get_mut(used) {
        *b = 0x80;
    }
    let blocks = if used < BLOCK - 8 { 1 } else { 2 };
    if let Some(dst) = flat.get_mut(blocks * BLOCK - 8..blocks * BLOCK) {
        dst.copy_from_slice(&total_len.wrapping_mul(8).to_be_bytes());
    }
    compress256(&mut state, last.get(..blocks).unwrap_or(&[]));
    write_state(&state)
}

impl Drop for Keyed {
    fn drop(&mut self) {
        self.inner.zeroize();
        self.outer.zeroize();
        self.prefixes.wipe();
    }
}

/// How many first blocks the cache remembers (a strategy's symbols × sides, roughly).
const SLOTS: usize = 4;

/// A block as eight little-endian words, the cache's key.
fn words(block: &[u8; BLOCK]) -> [u64; 8] {
    let (chunks, _) = block.as_chunks::<8>();
    let mut out = [0u64; 8];
    for (w, c) in out.iter_mut().zip(chunks) {
        *w = u64::from_le_bytes(*c);
    }
    out
}

/// First block → inner state after it, in a few seqlock slots: a hit is plain loads (no locked
/// instruction on x86), a miss tries once to claim the slot and gives up if another thread
/// holds it. Shared by every thread signing with the key, without `unsafe`: the slot's words
/// are atomics, read `Relaxed` between two reads of the sequence number.
#[derive(Default)]
struct PrefixCache {
    slots: [Slot; SLOTS],
}

/// One entry. `seq` is 0 while empty, odd while being written, even and non-zero when valid.
#[derive(Default)]
struct Slot {
    seq: AtomicU64,
    block: [AtomicU64; 8],
    /// The state's eight words, two to an atomic.
    state: [AtomicU64; 4],
}

impl PrefixCache {
    /// The slot a block goes to: the top two bits of a multiplicative hash pick one of four.
    fn index(key: &[u64; 8]) -> usize {
        let folded = key.iter().fold(0u64, |acc, w| acc.rotate_left(5) ^ w);
        (folded.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 62) as usize
    }

    fn slot(&self, key: &[u64; 8]) -> Option<&Slot> {
        self.slots.get(Self::index(key))
    }

    /// The inner state after `key`'s block, when cached and not being rewritten.
    fn get(&self, key: &[u64; 8]) -> Option<[u32; 8]> {
        let slot = self.slot(key)?;
        let before = slot.seq.load(Ordering::Acquire);
        if before == 0 || before & 1 == 1 {
            return None;
        }
        let mut same = true;
        for (cached, want) in slot.block.iter().zip(key) {
            same &= cached.load(Ordering::Relaxed) == *want;
        }
        let mut state = [0u32; 8];
        let (pairs, _) = state.as_chunks_mut::<2>();
        for (out, cached) in pairs.iter_mut().zip(&slot.state) {
            let both = cached.load(Ordering::Relaxed);
            *out = [both as u32, (both >> 32) as u32];
        }
        // The seqlock read: the data loads above happen before the sequence is read again; an
        // unchanged, even sequence means no writer touched the slot in between.
        fence(Ordering::Acquire);
        (same && slot.seq.load(Ordering::Relaxed) == before).then_some(state)
    }

    /// Remembers `state` for `key`'s block, unless another thread is writing the slot.
    fn put(&self, key: &[u64; 8], state: &[u32; 8]) {
        let Some(slot) = self.slot(key) else { return };
        let seq = slot.seq.load(Ordering::Relaxed);
        if seq & 1 == 1
            || slot.seq.compare_exchange(seq, seq.wrapping_add(1), Ordering::Acquire, Ordering::Relaxed).is_err()
        {
            return;
        }
        // Readers that see the odd sequence or a changed one discard what they read.
        fence(Ordering::Release);
        for (cached, w) in slot.block.iter().zip(key) {
            cached.store(*w, Ordering::Relaxed);
        }
        let (pairs, _) = state.as_chunks::<2>();
        for (cached, [lo, hi]) in slot.state.iter().zip(pairs) {
            cached.store(u64::from(*lo) | (u64::from(*hi) << 32), Ordering::Relaxed);
        }
        // Even again and never 0 (2^63 writes away from wrapping).
        slot.seq.store(seq.wrapping_add(2).max(2), Ordering::Release);
    }

    /// Empties every slot and overwrites its words (drop: the states are key material). Atomic
    /// stores, which the optimiser does not remove as dead the way it may remove plain stores
    /// before a deallocation (the same reason `zeroize` writes volatile), and `black_box` keeps
    /// the memory observed after them.
    fn wipe(&self) {
        for slot in &self.slots {
            slot.seq.store(0, Ordering::Relaxed);
            for w in &slot.block {
                w.store(0, Ordering::Relaxed);
            }
            for w in &slot.state {
                w.store(0, Ordering::Relaxed);
            }
        }
        std::hint::black_box(&self.slots);
    }
}

impl ZeroizeOnDrop for Keyed {}

/// A running SHA-256: the state, a partial block, and the bytes absorbed so far.
struct Stream {
    state: [u32; 8],
    buf: [u8; BLOCK],
    filled: usize,
    len: u64,
}

impl Stream {
    fn new(state: [u32; 8], already: u64) -> Self {
        Self { state, buf: [0u8; BLOCK], filled: 0, len: already }
    }

    fn update(&mut self, mut data: &[u8]) {
        self.len = self.len.wrapping_add(data.len() as u64);
        if self.filled > 0 {
            let take = (BLOCK - self.filled).min(data.len());
            let (head, rest) = data.split_at(take);
            if let Some(dst) = self.buf.get_mut(self.filled..self.filled + take) {
                dst.copy_from_slice(head);
            }
            self.filled += take;
            data = rest;
            if self.filled < BLOCK {
                return;
            }
            compress256(&mut self.state, std::slice::from_ref(&self.buf));
            self.filled = 0;
        }
        let (blocks, tail) = data.as_chunks::<BLOCK>();
        if !blocks.is_empty() {
            compress256(&mut self.state, blocks);
        }
        copy_prefix(&mut self.buf, tail);
        self.filled = tail.len();
    }

    /// The digest of everything absorbed.
    fn finish(self) -> [u8; 32] {
        // `filled` is below a block here: `update` compresses every full one.
        pad_and_finish(self.state, self.buf.get(..self.filled).unwrap_or(&[]), self.len)
    }
}

/// Copies `src` to the start of `dst` (callers pass a `src` no longer than `dst`).
fn copy_prefix(dst: &mut [u8], src: &[u8]) {
    let n = src.len().min(dst.len());
    if let (Some(d), Some(s)) = (dst.get_mut(..n), src.get(..n)) {
        d.copy_from_slice(s);
    }
}

fn xor_into(dst: &mut [u8; BLOCK], key: &[u8; BLOCK], pad: u8) {
    for (d, k) in dst.iter_mut().zip(key) {
        *d = k ^ pad;
    }
}

fn write_state(state: &[u32; 8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (chunk, word) in out.chunks_exact_mut(4).zip(state) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    out
}

/// Lowercase hex of a MAC, four bytes at a time in a `u64` (no table, no per-byte branch): each
/// byte is spread into a 16-bit lane, split into its two nibbles, and each nibble n becomes
/// `'0' + n`, plus `'a' - '0' - 10` where n > 9.
pub(super) fn hex_lower(mac: &[u8; 32]) -> [u8; 64] {
    const NIBBLES: u64 = 0x000F_000F_000F_000F;
    const ONES: u64 = 0x0101_0101_0101_0101;
    let mut out = [0u8; 64];
    let (chunks, _) = mac.as_chunks::<4>();
    let (outs, _) = out.as_chunks_mut::<8>();
    for (dst, chunk) in outs.iter_mut().zip(chunks) {
        let mut x = u64::from(u32::from_be_bytes(*chunk));
        x = (x | (x << 16)) & 0x0000_FFFF_0000_FFFF;
        x = (x | (x << 8)) & 0x00FF_00FF_00FF_00FF;
        // Per lane: high nibble in the high byte, low nibble in the low byte.
        let n = (((x >> 4) & NIBBLES) << 8) | (x & NIBBLES);
        // n + 6 carries into bit 4 exactly when n > 9.
        // 0xFF in the lanes of letters (no multiply), then the offset to 'a'.
        let letters = ((n + 6 * ONES) >> 4) & ONES;
        let offset = (letters << 8).wrapping_sub(letters) & (0x27 * ONES);
        *dst = (n + 0x30 * ONES + offset).to_be_bytes();
    }
    out
}

#[cfg(test)]
mod tests {
    use sha2::Digest as _;

    use super::*;

    fn sha256(data: &[u8]) -> [u8; 32] {
        let mut h = Stream::new(IV, 0);
        h.update(data);
        h.finish()
    }

    /// The padding and the initial value, compared with sha2 at every length around the one-
    /// and two-block padding boundaries (55 / 56 / 63 / 64 bytes and their multiples).
    #[test]
    fn plain_sha256_matches_sha2_at_every_padding_boundary() {
        let data: Vec<u8> = (0..300u32).map(|i| (i * 7 + 3) as u8).collect();
        for len in 0..data.len() {
            let msg = &data[..len];
            let want: [u8; 32] = sha2::Sha256::digest(msg).into();
            assert_eq!(sha256(msg), want, "length {len}");
        }
    }

    /// Streaming in uneven pieces gives the one-shot digest.
    #[test]
    fn split_updates_match_one_shot() {
        let data: Vec<u8> = (0..200u32).map(|i| (i * 31) as u8).collect();
        let want = sha256(&data);
        for first in [0, 1, 55, 63, 64, 65, 127, 128, 199] {
            for second in [0, 1, 9, 64, 70] {
                let a = first.min(data.len());
                let b = (a + second).min(data.len());
                let mut h = Stream::new(IV, 0);
                h.update(&data[..a]);
                h.update(&data[a..b]);
                h.update(&data[b..]);
                assert_eq!(h.finish(), want, "split at {a} / {b}");
            }
        }
    }

    fn order(prefix: &str, tail: &str) -> Vec<u8> {
        format!("recvWindow=5000&symbol={prefix}&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.1&{tail}").into_bytes()
    }

    /// A hit returns the state the block compression would have: every MAC through the cache
    /// equals the one through the uncached streaming path, and the cache is really used.
    #[test]
    fn prefix_cache_hits_give_the_uncached_mac() {
        let k = Keyed::new(b"secret");
        let first = order("BTCUSDT", "price=1&timestamp=1");
        let (blocks, _) = first.as_chunks::<BLOCK>();
        let key = words(&blocks[0]);
        assert_eq!(k.prefixes.get(&key), None, "empty at first");
        for tail in ["price=1&timestamp=1", "price=2&timestamp=2", "price=65432.51&newClientOrderId=x&timestamp=3"] {
            let payload = order("BTCUSDT", tail);
            assert_eq!(k.mac(&payload), k.mac_parts(&[&payload]), "{tail}");
        }
        let mut want = k.inner;
        compress256(&mut want, &blocks[..1]);
        assert_eq!(k.prefixes.get(&key), Some(want), "the block's state is cached");
        // A clone starts empty and still signs the same.
        let c = k.clone();
        assert_eq!(c.prefixes.get(&key), None);
        assert_eq!(c.mac(&first), k.mac(&first));
        // Short payloads (no whole block) bypass the cache.
        assert_eq!(k.mac(b"symbol=X"), k.mac_parts(&[b"symbol=X"]));
    }

    /// More first blocks than slots: slots are overwritten, and a MAC is never computed from a
    /// state cached for another block.
    #[test]
    fn evictions_and_collisions_never_mix_states() {
        let k = Keyed::new(b"another secret");
        let symbols = ["BTCUSDT", "ETHUSDT", "BNBBTC", "LTCBTC", "SOLUSDC", "XRPUSDT", "DOGEUSDT", "ADAEUR", "TRXBTC"];
        for round in 0..3 {
            for s in symbols {
                let payload = order(s, &format!("timestamp={round}"));
                assert_eq!(k.mac(&payload), k.mac_parts(&[&payload]), "{s} round {round}");
            }
        }
        // Wiping empties every slot.
        k.prefixes.wipe();
        assert!(k.prefixes.slots.iter().all(|s| s.seq.load(Ordering::Relaxed) == 0));
    }

    /// Threads sharing one key, its slots contended by more prefixes than slots: every MAC still
    /// equals the uncached one (a torn read would be caught here or discarded by the seqlock).
    #[test]
    fn concurrent_signers_agree_with_the_uncached_mac() {
        let k = std::sync::Arc::new(Keyed::new(b"shared"));
        let symbols = ["BTCUSDT", "ETHUSDT", "BNBBTC", "LTCBTC", "SOLUSDC", "XRPUSDT"];
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let k = std::sync::Arc::clone(&k);
                std::thread::spawn(move || {
                    let mut bad = 0;
                    for i in 0..3000usize {
                        let s = symbols[(i * 7 + t) % symbols.len()];
                        let payload = order(s, &format!("timestamp={i}"));
                        bad += usize::from(k.mac(&payload) != k.mac_parts(&[&payload]));
                    }
                    bad
                })
            })
            .collect();
        let bad: usize = handles.into_iter().map(|h| h.join().unwrap_or(usize::MAX)).sum();
        assert_eq!(bad, 0);
    }

    /// The branch-free hex equals the `hex` crate's on every byte value in every position.
    #[test]
    fn hex_lower_matches_the_hex_crate() {
        for start in 0..=255u8 {
            let mut mac = [0u8; 32];
            for (i, b) in mac.iter_mut().enumerate() {
                *b = start.wrapping_add((i as u8).wrapping_mul(37));
            }
            assert_eq!(std::str::from_utf8(&hex_lower(&mac)), Ok(hex::encode(mac).as_str()), "{mac:?}");
        }
    }

    /// A loom model of the seqlock: a writer replaces a slot's entry while a reader looks up the
    /// old block. In every interleaving (up to two preemptions) the lookup returns nothing or the
    /// state stored for exactly that block, never a torn or foreign one. Mutation-checked: without
    /// the second sequence read, the reader's acquire fence or the writer's release fence, loom
    /// finds a torn read.
    /// `RUSTFLAGS="--cfg aegis_loom" cargo test --release --lib loom_model_`.
    #[cfg(aegis_loom)]
    #[test]
    fn loom_model_prefix_cache_reader_racing_writer() {
        // Two blocks that share a slot, and two distinct states.
        let old = [1u64, 2, 3, 4, 5, 6, 7, 8];
        let mut new = old;
        while PrefixCache::index(&new) != PrefixCache::index(&old) || new == old {
            new[0] = new[0].wrapping_add(1);
        }
        let old_state = [11u32, 12, 13, 14, 15, 16, 17, 18];
        let new_state = [21u32, 22, 23, 24, 25, 26, 27, 28];
        // Bounded preemptions (each relaxed load may also read either store, so an unbounded
        // search explodes); two preemptions cover a reader interrupted once by the writer's
        // claim and once by its release.
        let mut model = loom::model::Builder::new();
        model.preemption_bound = Some(2);
        model.check(move || {
            let cache = loom::sync::Arc::new(PrefixCache::default());
            cache.put(&old, &old_state);
            let writer = {
                let cache = loom::sync::Arc::clone(&cache);
                loom::thread::spawn(move || cache.put(&new, &new_state))
            };
            let seen = cache.get(&old);
            assert!(seen.is_none() || seen == Some(old_state), "{seen:?}");
            writer.join().unwrap_or_else(|_| panic!("writer"));
            // Once the writer is done, the new block is found and the old one is gone.
            assert_eq!(cache.get(&new), Some(new_state));
            assert_eq!(cache.get(&old), None);
        });
    }
}
