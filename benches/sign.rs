//! Build + sign a LIMIT order's REST query with HMAC-SHA256 and with Ed25519, against the raw
//! HMAC of the same payload with the `hmac` crate pre-keyed (the floor: our `HmacSha256` is that
//! crate, cloned per call), through our signer, and with re-keying per call (what a naive client
//! does). Target: build + sign ≤ 400 ns median.

use std::hint::black_box;

use aegis_exchange::sign::{Ed25519, HmacSha256, SignedQuery, Signer};
use criterion::{Criterion, criterion_group, criterion_main};
use hmac::{KeyInit, Mac};

const SECRET: &[u8] = b"NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";

/// The order query as the REST layer writes it: `recvWindow` first, `timestamp` last.
fn limit_query() -> SignedQuery {
    let mut q = SignedQuery::new();
    q.push("recvWindow", "5000")
        .push("symbol", "BTCUSDT")
        .push("side", "BUY")
        .push("type", "LIMIT")
        .push("timeInForce", "GTC")
        .push("quantity", "0.14977")
        .push("price", "65432.51")
        .push("newClientOrderId", "ae0-4fZk2Qm9xLb")
        .push("timestamp", "1763942400123");
    q
}

fn bench_sign(c: &mut Criterion) {
    let hmac_key = HmacSha256::new(SECRET);
    let seed = [0x9d_u8; 32];
    let ed_key = match Ed25519::from_seed(&seed) {
        Ok(k) => k,
        Err(e) => panic!("{e}"),
    };
    let payload = limit_query().as_str().to_owned();
    let mut g = c.benchmark_group("sign");
    // The generic `hmac` crate, keyed once and cloned per call: the floor the issue names.
    let generic = match <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(SECRET) {
        Ok(m) => m,
        Err(e) => panic!("{e}"),
    };
    g.bench_function("baseline_raw_hmac_prekeyed_150b", |b| {
        b.iter(|| {
            let mut mac = generic.clone();
            mac.update(black_box(payload.as_bytes()));
            black_box(mac.finalize().into_bytes())
        })
    });
    // Ours: the two midstates copied, blocks straight from the payload.
    g.bench_function("raw_mac_ours_150b", |b| b.iter(|| black_box(hmac_key.mac(black_box(payload.as_bytes())))));
    g.bench_function("baseline_raw_hmac_rekeyed_per_call", |b| {
        b.iter(|| {
            let mut mac = match <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(SECRET) {
                Ok(m) => m,
                Err(e) => panic!("{e}"),
            };
            mac.update(black_box(payload.as_bytes()));
            black_box(mac.finalize().into_bytes())
        })
    });
    g.bench_function("build_only_limit_query", |b| b.iter(|| black_box(limit_query())));
    g.bench_function("build_and_sign_limit_hmac", |b| b.iter(|| black_box(limit_query().sign_with(&hmac_key))));
    g.bench_function("build_and_sign_limit_ed25519", |b| b.iter(|| black_box(limit_query().sign_with(&ed_key))));
    g.bench_function("sign_only_ed25519", |b| b.iter(|| black_box(ed_key.sign(black_box(payload.as_bytes())))));
    g.finish();
    eprintln!("payload bytes: {}", payload.len());
}

criterion_group!(benches, bench_sign);
criterion_main!(benches);
