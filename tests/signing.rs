//! Signing known answers and rules (SPEC §2): Binance's published HMAC vectors, RFC 8032
//! TEST 1, and the derived cases the SPEC withholds on purpose, each derived independently
//! (Python's `hmac` and `cryptography` packages, cross-checked with the published values): a
//! non-ASCII symbol percent-encoded before signing, a payload split between query and body,
//! WebSocket-API payloads sorted in raw UTF-8, and base64 signatures percent-encoded on REST.

use aegis_exchange::sign::{
    Credentials, Ed25519, HmacSha256, KeyKind, SignError, SignedQuery, Signer, percent_encode_into, ws_api_payload,
};
use proptest::prelude::*;
use serde_json::Value;

const SECRET: &str = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
const API_KEY: &str = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";
const RFC8032_SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
const RFC8032_PEM: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n-----END PRIVATE KEY-----\n";

fn vectors() -> Value {
    serde_json::from_str(include_str!("fixtures/signature_test_vectors.json")).unwrap_or(Value::Null)
}

fn rfc_key() -> Ed25519 {
    let seed = hex::decode(RFC8032_SEED).unwrap_or_default();
    Ed25519::from_seed(&seed).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn binance_hmac_vectors() {
    let v = vectors();
    let cases = v.get("hmac_sha256").and_then(Value::as_array).cloned().unwrap_or_default();
    assert_eq!(cases.len(), 2);
    for case in cases {
        let field = |k: &str| case.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
        let key = HmacSha256::new(field("secret_key"));
        let sig = key.sign(field("payload").as_bytes());
        assert_eq!(sig.as_str(), field("signature_hex"));
        assert_eq!(key.kind(), KeyKind::HmacSha256);
    }
}

#[test]
fn rfc8032_test1() {
    let v = vectors();
    let t = v.get("ed25519_rfc8032_test1").cloned().unwrap_or(Value::Null);
    let field = |k: &str| t.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
    let key = rfc_key();
    assert_eq!(hex::encode(key.public_key()), field("public_key_hex"));
    assert_eq!(hex::encode(key.signature_bytes(field("message").as_bytes())), field("signature_hex"));
    // The PKCS#8 PEM of the same seed loads to the same key.
    let from_pem = Ed25519::from_pkcs8_pem(RFC8032_PEM).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(from_pem.public_key(), key.public_key());
    assert_eq!(
        Ed25519::from_pkcs8_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n").err(),
        Some(SignError::InvalidPem)
    );
    assert_eq!(Ed25519::from_seed(&[0u8; 31]).err(), Some(SignError::SeedLength { len: 31 }));
}

#[test]
fn non_ascii_symbol_is_percent_encoded_before_signing() {
    let mut q = SignedQuery::new();
    q.push("symbol", "１２３４５６")
        .push("side", "BUY")
        .push("type", "LIMIT")
        .push("timeInForce", "GTC")
        .push("quantity", "1")
        .push("price", "0.1")
        .push("recvWindow", "5000")
        .push("timestamp", "1499827319559");
    // The encoded payload exactly as SPEC §2.4 prints it.
    assert_eq!(
        q.as_str(),
        "symbol=%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
    );
    let wire = q.sign_with(&HmacSha256::new(SECRET));
    assert!(wire.ends_with("&signature=e1353ec6b14d888f1164ae9af8228a3dbd508bc82eb867db8ab6046442f33ef3"), "{wire}");
}

#[test]
fn query_and_body_are_signed_as_one_payload_without_separator() {
    let key = HmacSha256::new(SECRET);
    let query = b"symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC";
    let body = b"quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559";
    let expected = "0fd168b8ddb4876a0358a8d14d0c9f3da0e9b20c5d52b2a00fcf7d1c602f9a77";
    assert_eq!(key.sign_parts(&[query, body]).as_str(), expected);
    assert_eq!(key.sign(&[&query[..], &body[..]].concat()).as_str(), expected);
    // The default (concatenating) implementation agrees for Ed25519.
    let ed = rfc_key();
    assert_eq!(ed.sign_parts(&[query, body]), ed.sign(&[&query[..], &body[..]].concat()));
}

#[test]
fn websocket_api_payloads_are_sorted_raw_utf8() {
    let ascii = [
        ("symbol", "BTCUSDT"),
        ("side", "SELL"),
        ("type", "LIMIT"),
        ("timeInForce", "GTC"),
        ("quantity", "0.01000000"),
        ("price", "52000.00"),
        ("recvWindow", "100"),
        ("timestamp", "1645423376532"),
        ("apiKey", API_KEY),
    ];
    let payload = ws_api_payload(&ascii);
    assert_eq!(
        payload,
        format!(
            "apiKey={API_KEY}&price=52000.00&quantity=0.01000000&recvWindow=100&side=SELL&symbol=BTCUSDT&timeInForce=GTC&timestamp=1645423376532&type=LIMIT"
        )
    );
    // Binance's published WebSocket-API HMAC vectors (SPEC §2.6).
    assert_eq!(
        HmacSha256::new(SECRET).sign(payload.as_bytes()).as_str(),
        "aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24"
    );
    let non_ascii = [
        ("symbol", "１２３４５６"),
        ("side", "BUY"),
        ("type", "LIMIT"),
        ("timeInForce", "GTC"),
        ("quantity", "1.00000000"),
        ("price", "0.10000000"),
        ("recvWindow", "5000"),
        ("timestamp", "1645423376532"),
        ("apiKey", API_KEY),
        ("signature", "never part of the payload"),
    ];
    let payload = ws_api_payload(&non_ascii);
    assert!(payload.contains("symbol=１２３４５６&"), "raw UTF-8, not percent-encoded: {payload}");
    assert_eq!(
        HmacSha256::new(SECRET).sign(payload.as_bytes()).as_str(),
        "b33892ae8e687c939f4468c6268ddd4c40ac1af18ad19a064864c47bae0752cd"
    );
    // Ed25519 over the official ASCII Ed25519 payload with the RFC 8032 seed (derived).
    let ed_payload = "apiKey=4yNzx3yWC5bS6YTwEkSRaC0nRmSQIIStAUOh1b6kqaBrTLIhjCpI5lJH8q8R8WNO&price=52000.00&quantity=0.01000000&recvWindow=100&side=SELL&symbol=BTCUSDT&timeInForce=GTC&timestamp=1645423376532&type=LIMIT";
    assert_eq!(
        rfc_key().sign(ed_payload.as_bytes()).as_str(),
        "Ws+5m/CMnpkko0uBFxGTZ2+fjqqBXsUjRiaz173fPhXTkhoDBYNZ6wcYNeWItdrGn1pvG7vkwx2fhmJdAZ3KDQ=="
    );
}

#[test]
fn asymmetric_signatures_are_percent_encoded_on_rest() {
    let mut q = SignedQuery::new();
    for (k, v) in [
        ("symbol", "BTCUSDT"),
        ("side", "SELL"),
        ("type", "LIMIT"),
        ("timeInForce", "GTC"),
        ("quantity", "1"),
        ("price", "0.2"),
        ("timestamp", "1668481559918"),
        ("recvWindow", "5000"),
    ] {
        q.push(k, v);
    }
    let key = rfc_key();
    let raw = key.sign(q.as_str().as_bytes());
    assert_eq!(
        raw.as_str(),
        "XtZirsmmi0noRzUfkqktvkVfxpkq/WtbLg2UOL3QGYdUBZVlqOBEMuEVw8zioY93N54NcKj9UuAXQEa9zgTDBg=="
    );
    assert_eq!(raw.as_str().len(), 88);
    let wire = q.sign_with(&key);
    assert!(
        wire.ends_with(
            "&signature=XtZirsmmi0noRzUfkqktvkVfxpkq%2FWtbLg2UOL3QGYdUBZVlqOBEMuEVw8zioY93N54NcKj9UuAXQEa9zgTDBg%3D%3D"
        ),
        "{wire}"
    );
}

#[test]
fn secrets_never_reach_debug() {
    let secret = "super-secret-value-123";
    let api_key = "api-key-value-456";
    let hmac = HmacSha256::new(secret);
    let ed = rfc_key();
    let creds = Credentials::new(api_key, hmac.clone()).unwrap_or_else(|e| panic!("{e}"));
    let ed_creds = Credentials::new(api_key, ed.clone()).unwrap_or_else(|e| panic!("{e}"));
    let shown = [
        format!("{hmac:?}"),
        format!("{hmac:#?}"),
        format!("{ed:?}"),
        format!("{creds:?}"),
        format!("{creds:#?}"),
        format!("{ed_creds:?}"),
        format!("{:?}", creds.signer()),
    ];
    for text in &shown {
        assert!(!text.contains(secret) && !text.contains(api_key), "{text}");
        assert!(!text.contains("9d61b19d") && !text.to_lowercase().contains(&RFC8032_SEED[..16]), "{text}");
        assert!(text.contains("redacted"), "{text}");
    }
    assert_eq!(creds.expose_api_key(), api_key);
    assert_eq!(creds.sign(b"x"), hmac.sign(b"x"));
    assert_eq!(Credentials::new("", hmac).err(), Some(SignError::Empty { what: "API key" }));
}

#[test]
fn key_material_is_wiped_on_drop() {
    // Compile-time proof: the keyed HMAC midstates and the Ed25519 key wipe themselves on drop.
    fn zeroized_on_drop<T: zeroize::ZeroizeOnDrop>() {}
    zeroized_on_drop::<HmacSha256>();
    zeroized_on_drop::<ed25519_dalek::SigningKey>();
}

/// RFC 4231 §4, the HMAC-SHA-256 results of test cases 1–4, 6 and 7 (case 5 is a truncated
/// output): short keys, a key of 25 bytes, and keys longer than a block, which are hashed first.
#[test]
fn rfc4231_hmac_sha256_vectors() {
    let long_key = [0xaa_u8; 131];
    let cases: [(&[u8], &[u8], &str); 6] = [
        (&[0x0b; 20], b"Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
        (b"Jefe", b"what do ya want for nothing?", "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
        (&[0xaa; 20], &[0xdd; 50], "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
        (
            &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25],
            &[0xcd; 50],
            "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
        ),
        (
            &long_key,
            b"Test Using Larger Than Block-Size Key - Hash Key First",
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
        ),
        (
            &long_key,
            b"This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.",
            "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
        ),
    ];
    for (i, (key, data, want)) in cases.iter().enumerate() {
        let k = HmacSha256::new(key);
        assert_eq!(hex::encode(k.mac(data)), *want, "case {i}: mac");
        assert_eq!(k.sign(data).as_str(), *want, "case {i}: sign");
        // The same bytes split in two give the same MAC.
        let (a, b) = data.split_at(data.len() / 3);
        assert_eq!(k.sign_parts(&[a, b]).as_str(), *want, "case {i}: parts");
    }
}

fn generic_hmac(key: &[u8], data: &[u8]) -> String {
    use hmac::{KeyInit, Mac};
    let mut m = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key).unwrap_or_else(|e| panic!("{e}"));
    m.update(data);
    hex::encode(m.finalize().into_bytes())
}

fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b.get(i) {
            Some(b'%') => {
                let hex = std::str::from_utf8(b.get(i + 1..i + 3).unwrap_or(b"")).unwrap_or("");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(0));
                i += 3;
            }
            Some(c) => {
                out.push(*c);
                i += 1;
            }
            None => break,
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    /// Our HMAC-SHA256 (the `hmac` crate keyed by our RFC 2104 key derivation) equals the `hmac`
    /// crate keyed directly for any key (empty, block-sized, longer
    /// than a block), any payload length around the padding boundaries, and any split into parts.
    #[test]
    fn hmac_matches_the_generic_hmac_crate(
        key in proptest::collection::vec(any::<u8>(), 0..150),
        data in proptest::collection::vec(any::<u8>(), 0..400),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..4),
    ) {
        let want = generic_hmac(&key, &data);
        let k = HmacSha256::new(&key);
        prop_assert_eq!(hex::encode(k.mac(&data)), want.clone());
        let mut points: Vec<usize> = cuts.iter().map(|c| c.index(data.len() + 1)).collect();
        points.sort_unstable();
        let mut parts = Vec::new();
        let mut from = 0;
        for p in points {
            parts.push(&data[from..p]);
            from = p;
        }
        parts.push(&data[from..]);
        let joined = k.sign_parts(&parts);
        prop_assert_eq!(joined.as_str(), want);
    }

    /// For values with `& = % +`, spaces and non-ASCII, the signature on the wire is the HMAC of
    /// exactly the bytes before it, and those bytes decode back to the parameters.
    #[test]
    fn the_signature_matches_the_wire_bytes(params in proptest::collection::vec(("[a-zA-Z]{1,8}", "[a-z0-9&=%+ ./~_-]{0,12}|\\PC{0,6}"), 1..6)) {
        let key = HmacSha256::new(SECRET);
        let mut q = SignedQuery::new();
        for (k, v) in &params {
            q.push(k, v);
        }
        let wire = q.sign_with(&key);
        let (payload, signature) = wire.rsplit_once("&signature=").ok_or_else(|| TestCaseError::fail("no signature"))?;
        // Recomputed independently from the bytes on the wire.
        let mut mac = <hmac::Hmac<sha2::Sha256> as hmac::KeyInit>::new_from_slice(SECRET.as_bytes()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        hmac::Mac::update(&mut mac, payload.as_bytes());
        prop_assert_eq!(signature, hex::encode(hmac::Mac::finalize(mac).into_bytes()));
        // Only unreserved characters, '%XX', '&' and '=' appear on the wire.
        prop_assert!(payload.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.~%&=".contains(&b)));
        // And the pairs decode back to what was pushed.
        let decoded: Vec<(Vec<u8>, Vec<u8>)> = payload
            .split('&')
            .map(|pair| { let (k, v) = pair.split_once('=').unwrap_or((pair, "")); (percent_decode(k), percent_decode(v)) })
            .collect();
        let expected: Vec<(Vec<u8>, Vec<u8>)> = params.iter().map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec())).collect();
        prop_assert_eq!(decoded, expected);
    }

    #[test]
    fn every_byte_value_is_classified_like_rfc3986(b in any::<u8>(), prefix in "[a-zA-Z0-9._~-]{0,9}") {
        // Through the public encoder: a byte is copied iff it is unreserved.
        let text = format!("{prefix}{}", char::from(b));
        let mut out = String::new();
        percent_encode_into(&mut out, &text);
        let unreserved = b.is_ascii_alphanumeric() || b"-._~".contains(&b);
        prop_assert_eq!(out == text, unreserved, "{:?} -> {}", text, out);
    }

    #[test]
    fn percent_encoding_keeps_exactly_the_unreserved_set(text in "\\PC{0,40}") {
        let mut out = String::new();
        percent_encode_into(&mut out, &text);
        prop_assert_eq!(percent_decode(&out), text.as_bytes().to_vec());
        prop_assert!(out.chars().all(|c| c.is_ascii_alphanumeric() || "-_.~%".contains(c)), "{}", out);
    }
}
