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
#[derive(Clone)]
pub(super) struct Keyed {
    inner: [u32; 8],
    outer: [u32; 8],
}

impl Keyed {
    /// Keys HMAC-SHA256. A key longer than a block is hashed first (RFC 2104 §2).
    pub(super) fn new(key: &[u8]) -> Self {
        let mut padded = zeroize::Zeroizing::new([0u8; BLOCK]);
        if key.len() > BLOCK {
            let mut digest = [0u8; 32];
            let mut h = Stream::new(IV, 0);
            h.update(key);
            h.finish_into(&mut digest);
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
        Self { inner, outer }
    }

    /// The MAC of the concatenation of `parts`.
    pub(super) fn mac_parts(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut h = Stream::new(self.inner, BLOCK as u64);
        for part in parts {
            h.update(part);
        }
        self.finish(h)
    }

    /// The MAC of one payload: its whole blocks go to the block function without a copy.
    pub(super) fn mac(&self, payload: &[u8]) -> [u8; 32] {
        let mut h = Stream::new(self.inner, BLOCK as u64);
        h.update(payload);
        self.finish(h)
    }

    fn finish(&self, inner: Stream) -> [u8; 32] {
        let mut inner_digest = [0u8; 32];
        inner.finish_into(&mut inner_digest);
        // The outer hash is one block: the 32-byte inner digest, 0x80, zeros, and the bit
        // length of ipad block + digest (96 bytes = 768 bits).
        let mut block = [0u8; BLOCK];
        copy_prefix(&mut block, &inner_digest);
        block[32] = 0x80;
        block[BLOCK - 8..].copy_from_slice(&((BLOCK as u64 + 32) * 8).to_be_bytes());
        let mut state = self.outer;
        compress256(&mut state, std::slice::from_ref(&block));
        let mut out = [0u8; 32];
        write_state(&state, &mut out);
        out
    }
}

impl Drop for Keyed {
    fn drop(&mut self) {
        self.inner.zeroize();
        self.outer.zeroize();
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

    /// Pads (0x80, zeros, the 64-bit big-endian bit length) and writes the digest.
    fn finish_into(mut self, out: &mut [u8; 32]) {
        let bits = self.len.wrapping_mul(8).to_be_bytes();
        // `filled` is below a block here: `update` compresses every full one.
        let mut last = [[0u8; BLOCK]; 2];
        let flat = last.as_flattened_mut();
        copy_prefix(flat, self.buf.get(..self.filled).unwrap_or(&[]));
        if let Some(b) = flat.get_mut(self.filled) {
            *b = 0x80;
        }
        let blocks = if self.filled < BLOCK - 8 { 1 } else { 2 };
        if let Some(dst) = flat.get_mut(blocks * BLOCK - 8..blocks * BLOCK) {
            dst.copy_from_slice(&bits);
        }
        compress256(&mut self.state, last.get(..blocks).unwrap_or(&[]));
        write_state(&self.state, out);
    }
}

/// Copies `src` to the start of `dst` (callers pass a `src` no longer than `dst`).
fn copy_prefix(dst: &mut [u8], src: &[u8]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d = *s;
    }
}

fn xor_into(dst: &mut [u8; BLOCK], key: &[u8; BLOCK], pad: u8) {
    for (d, k) in dst.iter_mut().zip(key) {
        *d = k ^ pad;
    }
}

fn write_state(state: &[u32; 8], out: &mut [u8; 32]) {
    for (chunk, word) in out.chunks_exact_mut(4).zip(state) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use sha2::Digest as _;

    use super::*;

    fn sha256(data: &[u8]) -> [u8; 32] {
        let mut h = Stream::new(IV, 0);
        h.update(data);
        let mut out = [0u8; 32];
        h.finish_into(&mut out);
        out
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
                let mut out = [0u8; 32];
                h.finish_into(&mut out);
                assert_eq!(out, want, "split at {a} / {b}");
            }
        }
    }
}
