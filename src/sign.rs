//! Request signing: the `Signer` trait, HMAC-SHA256 and Ed25519 keys, `Credentials`, and the
//! percent-encoding Binance's REST signatures are computed over.
//!
//! This module owns keys and the bytes they sign. It does not decide *what* is signed (the REST
//! and WebSocket-API builders assemble the payload) nor when (the engine). Secrets never reach
//! `Debug`, `Display`, logs or errors, are zeroized on drop, and nothing here serializes them.
//!
//! Two payload rules exist (SPEC §2), and this module serves both:
//! - **REST**: parameters are percent-encoded first (RFC 3986 unreserved characters kept), the
//!   signature is computed over exactly the bytes on the wire (query string then body, no
//!   separator), and a base64 signature is itself percent-encoded when appended.
//! - **WebSocket API**: parameters sorted by name, raw UTF-8, not percent-encoded; the base64
//!   signature goes into JSON as is.
//!
//! RSA keys are not supported: the Rust `rsa` crate carries an unfixed timing side channel
//! (RUSTSEC-2023-0071, the Marvin attack) and would bring a big-integer stack into the tree, and
//! Binance's RSA example cannot be reproduced (its private key is not published).
//! Binance accepts Ed25519 keys everywhere RSA keys are accepted, and Ed25519 is the only key
//! type its WebSocket API logon takes (`session.logon`).
//!
//! ```
//! use aegis_exchange::sign::{HmacSha256, Signer};
//! let key = HmacSha256::new(b"NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j");
//! let sig = key.sign(b"symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559");
//! assert_eq!(sig.as_str(), "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71");
//! ```

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::Signer as _;
use ed25519_dalek::pkcs8::DecodePrivateKey as _;
use zeroize::Zeroizing;

/// Why a key could not be loaded. Never contains key material.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// The PEM text is not a PKCS#8 Ed25519 private key.
    #[error("not a PKCS#8 Ed25519 private key in PEM form")]
    InvalidPem,
    /// A raw Ed25519 seed must be exactly 32 bytes.
    #[error("an Ed25519 seed is 32 bytes, got {len}")]
    SeedLength {
        /// The length that was given.
        len: usize,
    },
    /// Not a valid Ed25519 public key (the paper exchange's verifying keys).
    #[error("not a valid Ed25519 public key")]
    InvalidPublicKey,
    /// An empty HMAC secret or API key.
    #[error("empty {what}")]
    Empty {
        /// `"secret"` or `"API key"`.
        what: &'static str,
    },
}

/// The kind of key behind a signer, as Binance names API key types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyKind {
    /// HMAC-SHA256: lowercase hex signatures (64 characters). Deprecated by Binance but
    /// accepted on REST and `userDataStream.subscribe.signature`.
    HmacSha256,
    /// Ed25519: base64 signatures (88 characters). Required by `session.logon`.
    Ed25519,
}

/// The longest signature text a signer produces (Ed25519: 88 base64 characters).
pub const SIGNATURE_MAX_LEN: usize = 88;

/// A signature as text (hex or base64), held on the stack: signing allocates nothing.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SignatureText {
    len: u8,
    bytes: [u8; SIGNATURE_MAX_LEN],
}

impl SignatureText {
    fn from_ascii(text: &[u8]) -> Self {
        let mut bytes = [0u8; SIGNATURE_MAX_LEN];
        let len = text.len().min(SIGNATURE_MAX_LEN);
        for (dst, src) in bytes.iter_mut().zip(text) {
            *dst = *src;
        }
        Self { len: u8::try_from(len).unwrap_or(0), bytes }
    }

    /// The signature text as sent in a WebSocket-API request.
    #[must_use]
    pub fn as_str(&self) -> &str {
        let used = self.bytes.get(..usize::from(self.len)).unwrap_or(&[]);
        // Only hex or base64 ASCII is ever stored.
        std::str::from_utf8(used).unwrap_or("")
    }

    /// Appends the signature as a REST parameter value: base64's `+ / =` are percent-encoded,
    /// hex passes unchanged.
    pub fn write_percent_encoded(&self, out: &mut String) {
        percent_encode_into(out, self.as_str());
    }

    /// Whether the text needs percent-encoding on REST (base64 may contain `+ / =`; hex never).
    #[must_use]
    pub fn needs_encoding(&self) -> bool {
        self.as_str().bytes().any(|b| !is_unreserved(b))
    }
}

impl fmt::Debug for SignatureText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A signature is not a secret; it is bound to one payload and one timestamp.
        f.debug_tuple("SignatureText").field(&self.as_str()).finish()
    }
}

impl fmt::Display for SignatureText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A key that signs request payloads. Implementations keep their secret out of `Debug`.
pub trait Signer: Send + Sync + fmt::Debug {
    /// The kind of key.
    fn kind(&self) -> KeyKind;

    /// Signs `payload` (the exact bytes the exchange will check).
    fn sign(&self, payload: &[u8]) -> SignatureText;

    /// Signs the concatenation of `parts` without a separator: a REST payload split between
    /// the query string and the body is signed as query then body (SPEC §2.2).
    fn sign_parts(&self, parts: &[&[u8]]) -> SignatureText {
        self.sign(&parts.concat())
    }

    /// Signs the text of `query`, then appends `separator` and the signature to it as a REST
    /// parameter value (percent-encoded where needed). Override it to write without the
    /// intermediate [`SignatureText`].
    fn sign_onto(&self, query: &mut String, separator: &str) {
        let signature = self.sign(query.as_bytes());
        query.push_str(separator);
        signature.write_percent_encoded(query);
    }
}

/// HMAC-SHA256 (the `hmac` crate over `sha2`), keyed once: each signature clones the pre-keyed
/// state (no re-keying per request) and hex-encodes into a stack buffer.
///
/// The keyed state (the SHA-256 states after key ⊕ ipad and key ⊕ opad) is enough to forge MACs,
/// so it is overwritten on drop.
#[derive(Clone)]
pub struct HmacSha256 {
    keyed: hmac::Hmac<sha2::Sha256>,
}

/// The `hmac` crate does not wipe its state on drop: the keyed state is overwritten with one keyed
/// by zeros here, and `black_box` keeps the compiler from dropping those stores as dead.
impl Drop for HmacSha256 {
    fn drop(&mut self) {
        self.keyed = Self::keyed_state(&[0u8; 64]);
        std::hint::black_box(&self.keyed);
    }
}

impl zeroize::ZeroizeOnDrop for HmacSha256 {}

impl HmacSha256 {
    /// Keys HMAC-SHA256 with `secret` (any length is valid for HMAC).
    #[must_use]
    pub fn new(secret: impl AsRef<[u8]>) -> Self {
        use hmac::digest::Digest;
        use zeroize::Zeroize as _;
        let secret = secret.as_ref();
        // RFC 2104's key: a secret longer than the block is hashed first, then zero-padded to the
        // block. Done here so that keying cannot fail (it never does for HMAC, but the API says it
        // could).
        let mut block = Zeroizing::new([0u8; 64]);
        let mut hashed: [u8; 32] = sha2::Sha256::digest(secret).into();
        let material = if secret.len() > block.len() { &hashed[..] } else { secret };
        if let Some(head) = block.get_mut(..material.len()) {
            head.copy_from_slice(material);
        }
        hashed.zeroize();
        Self { keyed: Self::keyed_state(&block) }
    }

    /// The HMAC state keyed by a block-sized key.
    fn keyed_state(block: &[u8; 64]) -> hmac::Hmac<sha2::Sha256> {
        use hmac::digest::KeyInit;
        use zeroize::Zeroize as _;
        let mut key = hmac::digest::Key::<hmac::Hmac<sha2::Sha256>>::from(*block);
        let keyed = hmac::Hmac::<sha2::Sha256>::new(&key);
        key.as_mut_slice().zeroize();
        keyed
    }

    /// Signs into raw bytes (for callers that need the MAC itself).
    #[must_use]
    pub fn mac(&self, payload: &[u8]) -> [u8; 32] {
        self.mac_parts(&[payload])
    }

    fn mac_parts(&self, parts: &[&[u8]]) -> [u8; 32] {
        use hmac::Mac;
        let mut mac = self.keyed.clone();
        for part in parts {
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }
}

/// Lowercase hex of a MAC, on the stack.
fn hex_lower(mac: &[u8; 32]) -> [u8; 64] {
    let mut out = [0u8; 64];
    // The buffer is exactly twice the input: encoding cannot fail.
    let _ = hex::encode_to_slice(mac, &mut out);
    out
}

impl Signer for HmacSha256 {
    fn kind(&self) -> KeyKind {
        KeyKind::HmacSha256
    }

    fn sign(&self, payload: &[u8]) -> SignatureText {
        SignatureText::from_ascii(&hex_lower(&self.mac(payload)))
    }

    fn sign_parts(&self, parts: &[&[u8]]) -> SignatureText {
        // HMAC is incremental: no concatenation needed.
        SignatureText::from_ascii(&hex_lower(&self.mac_parts(parts)))
    }

    fn sign_onto(&self, query: &mut String, separator: &str) {
        // Lowercase hex: nothing to percent-encode.
        let hex = hex_lower(&self.mac(query.as_bytes()));
        query.push_str(separator);
        query.push_str(std::str::from_utf8(&hex).unwrap_or_default());
    }
}

impl fmt::Debug for HmacSha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HmacSha256(<redacted>)")
    }
}

/// An Ed25519 signing key (the key type Binance recommends, and the only one `session.logon`
/// accepts). The key is zeroized on drop.
#[derive(Clone)]
pub struct Ed25519 {
    key: ed25519_dalek::SigningKey,
}

impl Ed25519 {
    /// Loads an unencrypted PKCS#8 PEM private key (`openssl genpkey -algorithm ed25519`).
    ///
    /// # Errors
    /// [`SignError::InvalidPem`] when the text is not such a key.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, SignError> {
        ed25519_dalek::SigningKey::from_pkcs8_pem(pem).map(|key| Self { key }).map_err(|_| SignError::InvalidPem)
    }

    /// Builds the key from its raw 32-byte seed.
    ///
    /// # Errors
    /// [`SignError::SeedLength`] when `seed` is not 32 bytes.
    pub fn from_seed(seed: &[u8]) -> Result<Self, SignError> {
        let seed: Zeroizing<[u8; 32]> =
            Zeroizing::new(seed.try_into().map_err(|_| SignError::SeedLength { len: seed.len() })?);
        Ok(Self { key: ed25519_dalek::SigningKey::from_bytes(&seed) })
    }

    /// The public key (what is registered with Binance), 32 bytes.
    #[must_use]
    pub fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// The raw 64-byte signature of `payload`.
    #[must_use]
    pub fn signature_bytes(&self, payload: &[u8]) -> [u8; 64] {
        self.key.sign(payload).to_bytes()
    }
}

impl Signer for Ed25519 {
    fn kind(&self) -> KeyKind {
        KeyKind::Ed25519
    }

    fn sign(&self, payload: &[u8]) -> SignatureText {
        let raw = self.signature_bytes(payload);
        let mut text = [0u8; SIGNATURE_MAX_LEN];
        // 64 bytes are exactly 88 base64 characters.
        let len = BASE64.encode_slice(raw, &mut text).unwrap_or(0);
        SignatureText::from_ascii(text.get(..len).unwrap_or(&[]))
    }
}

impl fmt::Debug for Ed25519 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Ed25519(<redacted>)")
    }
}

/// An API key and the signer that goes with it.
///
/// `Debug` shows neither the key nor the secret, there is no `Display`, nothing serializes it,
/// and the key text is zeroized on drop. The API key goes on the wire only through
/// [`expose_api_key`](Self::expose_api_key), named so that every use is visible in review.
///
/// ```
/// use aegis_exchange::sign::{Credentials, HmacSha256};
/// let creds = Credentials::new("my-api-key", HmacSha256::new("my-secret")).unwrap();
/// let shown = format!("{creds:?}");
/// assert!(!shown.contains("my-api-key") && !shown.contains("my-secret"));
/// assert_eq!(creds.expose_api_key(), "my-api-key");
/// ```
#[derive(Clone)]
pub struct Credentials {
    api_key: Arc<Zeroizing<String>>,
    signer: Arc<dyn Signer>,
}

impl Credentials {
    /// Pairs an API key with its signer.
    ///
    /// # Errors
    /// [`SignError::Empty`] for an empty API key.
    pub fn new(api_key: impl Into<String>, signer: impl Signer + 'static) -> Result<Self, SignError> {
        let api_key = Zeroizing::new(api_key.into());
        if api_key.is_empty() {
            return Err(SignError::Empty { what: "API key" });
        }
        Ok(Self { api_key: Arc::new(api_key), signer: Arc::new(signer) })
    }

    /// The API key, for the `X-MBX-APIKEY` header or the WebSocket-API `apiKey` parameter.
    #[must_use]
    pub fn expose_api_key(&self) -> &str {
        self.api_key.as_str()
    }

    /// The signer.
    #[must_use]
    pub fn signer(&self) -> &dyn Signer {
        self.signer.as_ref()
    }

    /// Signs `payload` with this key.
    #[must_use]
    pub fn sign(&self, payload: &[u8]) -> SignatureText {
        self.signer.sign(payload)
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials").field("api_key", &"<redacted>").field("signer", &self.signer).finish()
    }
}

/// Percent-encodes `text` onto `out` as Binance's REST signing expects: RFC 3986 unreserved
/// characters (`A-Z a-z 0-9 - _ . ~`) are kept, every other byte of the UTF-8 text becomes
/// `%XX` with uppercase hex.
///
/// ```
/// let mut out = String::new();
/// aegis_exchange::sign::percent_encode_into(&mut out, "１２ a+b=c/~");
/// assert_eq!(out, "%EF%BC%91%EF%BC%92%20a%2Bb%3Dc%2F~");
/// ```
#[inline]
pub fn percent_encode_into(out: &mut String, text: &str) {
    // Most parameters (names, numbers, enum values, client order ids) need no encoding at all:
    // checked inline, copied in one go. (Word-at-a-time and branch-free checks both measured
    // slower on these short strings.)
    match text.bytes().position(|b| !is_unreserved(b)) {
        None => out.push_str(text),
        Some(first) => percent_encode_from(out, text, first),
    }
}

/// Encodes `text` whose first byte to encode is at `first`.
#[cold]
#[inline(never)]
fn percent_encode_from(out: &mut String, text: &str, first: usize) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let bytes = text.as_bytes();
    out.reserve(text.len() + 16);
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate().skip(first) {
        if is_unreserved(b) {
            continue;
        }
        // Copy the run of unreserved bytes before this one in one go (it ends at an ASCII
        // position or a UTF-8 lead byte, so the slice is on a char boundary).
        out.push_str(text.get(start..i).unwrap_or(""));
        out.push('%');
        out.push(char::from(HEX.get(usize::from(b >> 4)).copied().unwrap_or(b'0')));
        out.push(char::from(HEX.get(usize::from(b & 0x0F)).copied().unwrap_or(b'0')));
        start = i + 1;
    }
    out.push_str(text.get(start..).unwrap_or(""));
}

/// RFC 3986 unreserved: `A-Z a-z 0-9 - _ . ~`, by table.
#[inline]
fn is_unreserved(b: u8) -> bool {
    // Built at compile time: an out-of-bounds index would fail the build, not panic.
    #[allow(clippy::indexing_slicing)]
    const TABLE: [bool; 256] = {
        let mut t = [false; 256];
        let mut i = 0;
        while i < 256 {
            let c = i as u8;
            t[i] = c.is_ascii_alphanumeric() || c == b'-' || c == b'_' || c == b'.' || c == b'~';
            i += 1;
        }
        t
    };
    // A u8 always indexes a 256-entry table.
    #[allow(clippy::indexing_slicing)]
    TABLE[usize::from(b)]
}

/// A REST query string (or form body) built parameter by parameter, percent-encoded as it is
/// written, then signed over exactly its bytes with the signature appended last.
///
/// ```
/// use aegis_exchange::sign::{HmacSha256, SignedQuery};
/// let key = HmacSha256::new("NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j");
/// let mut q = SignedQuery::new();
/// q.push("symbol", "LTCBTC").push("side", "BUY").push("type", "LIMIT").push("timeInForce", "GTC")
///  .push("quantity", "1").push("price", "0.1").push("recvWindow", "5000").push("timestamp", "1499827319559");
/// let wire = q.sign_with(&key);
/// assert!(wire.ends_with("&signature=c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignedQuery {
    text: String,
}

impl SignedQuery {
    /// An empty query.
    #[must_use]
    pub fn new() -> Self {
        // A LIMIT order's parameters plus `&signature=` and an 88-character (or, percent-encoded,
        // up to 96-character) signature fit without a reallocation.
        Self { text: String::with_capacity(320) }
    }

    /// Appends `name=value`, both percent-encoded.
    pub fn push(&mut self, name: &str, value: &str) -> &mut Self {
        if !self.text.is_empty() {
            self.text.push('&');
        }
        percent_encode_into(&mut self.text, name);
        self.text.push('=');
        percent_encode_into(&mut self.text, value);
        self
    }

    /// Appends `name=value` with `value` written through `Display` straight into the buffer
    /// (numbers, decimals, timestamps: no intermediate string). Whatever it writes that is not
    /// unreserved is percent-encoded, so any `Display` is safe here.
    pub fn push_display(&mut self, name: &str, value: impl fmt::Display) -> &mut Self {
        use fmt::Write as _;
        if !self.text.is_empty() {
            self.text.push('&');
        }
        percent_encode_into(&mut self.text, name);
        self.text.push('=');
        let start = self.text.len();
        // Writing into a String cannot fail.
        let _ = write!(self.text, "{value}");
        if self.text.get(start..).is_some_and(|v| v.bytes().any(|b| !is_unreserved(b))) {
            let written = self.text.split_off(start);
            percent_encode_into(&mut self.text, &written);
        }
        self
    }

    /// Appends `name=value` with the decimal in canonical wire form ([`crate::num::Wire`]),
    /// written straight into the buffer: digits, a dot and a sign need no encoding.
    ///
    /// ```
    /// use aegis_exchange::sign::SignedQuery;
    /// use rust_decimal_macros::dec;
    /// let mut q = SignedQuery::new();
    /// q.push_decimal("price", dec!(65432.5100)).push_u64("recvWindow", 5000);
    /// assert_eq!(q.as_str(), "price=65432.51&recvWindow=5000");
    /// ```
    pub fn push_decimal(&mut self, name: &str, value: rust_decimal::Decimal) -> &mut Self {
        self.push_name(name);
        crate::num::write_wire(&mut self.text, value);
        self
    }

    /// Appends `name=value` for an integer (ids, timestamps, windows).
    pub fn push_u64(&mut self, name: &str, value: u64) -> &mut Self {
        self.push_name(name);
        crate::num::write_u64(&mut self.text, value);
        self
    }

    /// [`push`](Self::push) for the crate's own parameter names, literals of unreserved
    /// characters: only the value is checked for encoding (on the order path, half the scans).
    pub(crate) fn push_named(&mut self, name: &'static str, value: &str) -> &mut Self {
        self.push_static_name(name);
        percent_encode_into(&mut self.text, value);
        self
    }

    /// [`push_decimal`](Self::push_decimal) for the crate's own parameter names.
    pub(crate) fn push_decimal_named(&mut self, name: &'static str, value: rust_decimal::Decimal) -> &mut Self {
        self.push_static_name(name);
        crate::num::write_wire(&mut self.text, value);
        self
    }

    /// [`push_u64`](Self::push_u64) for the crate's own parameter names.
    pub(crate) fn push_u64_named(&mut self, name: &'static str, value: u64) -> &mut Self {
        self.push_static_name(name);
        crate::num::write_u64(&mut self.text, value);
        self
    }

    /// A parameter whose value is a known wire name (`BUY`, `LIMIT`, ...: unreserved
    /// characters, debug-checked) or, for a value the crate does not know, any text to encode.
    pub(crate) fn push_wire_named(&mut self, name: &'static str, known: Option<&'static str>, text: &str) -> &mut Self {
        match known {
            Some(wire) => self.push_unreserved_named(name, wire),
            None => self.push_named(name, text),
        }
    }

    /// A parameter whose value is text of the unreserved set, such as a validated client
    /// order id (`[a-zA-Z0-9-_]`, debug-checked): written without a scan.
    pub(crate) fn push_unreserved_named(&mut self, name: &'static str, value: &str) -> &mut Self {
        debug_assert!(value.bytes().all(is_unreserved), "{value}");
        self.push_static_name(name);
        self.text.push_str(value);
        self
    }

    /// `&name=` for a literal name of unreserved characters, written as is.
    fn push_static_name(&mut self, name: &'static str) {
        debug_assert!(name.bytes().all(is_unreserved), "{name}");
        if !self.text.is_empty() {
            self.text.push('&');
        }
        self.text.push_str(name);
        self.text.push('=');
    }

    /// Puts `name=value&` in front of the parameters already pushed (or `name=value` alone). The
    /// REST layer puts `recvWindow` first: an order's first 64 bytes then depend only on its
    /// symbol, side, type and time in force, and the HMAC caches their block (see
    /// [`HmacSha256`]). The existing text moves within the buffer's capacity; nothing allocates.
    pub(crate) fn prepend_u64_named(&mut self, name: &'static str, value: u64) -> &mut Self {
        let mut digits = itoa::Buffer::new();
        self.prepend_unreserved_named(name, digits.format(value))
    }

    /// [`prepend_u64_named`](Self::prepend_u64_named) for a value of unreserved characters.
    pub(crate) fn prepend_unreserved_named(&mut self, name: &'static str, value: &str) -> &mut Self {
        debug_assert!(name.bytes().chain(value.bytes()).all(is_unreserved), "{name}={value}");
        // `name=value&` assembled on the stack, then one insert (one move of the text).
        let mut head = [0u8; 64];
        let sep: &[u8] = if self.text.is_empty() { b"" } else { b"&" };
        let mut len = 0;
        for part in [name.as_bytes(), b"=", value.as_bytes(), sep] {
            let Some(dst) = head.get_mut(len..len + part.len()) else {
                // Longer than the stack buffer (no parameter of ours is): assembled on the heap.
                let sep = if self.text.is_empty() { "" } else { "&" };
                self.text.insert_str(0, &format!("{name}={value}{sep}"));
                return self;
            };
            dst.copy_from_slice(part);
            len += part.len();
        }
        // All parts are ASCII (checked above in debug builds; `name` and `value` are `&str`).
        self.text.insert_str(0, std::str::from_utf8(head.get(..len).unwrap_or(&[])).unwrap_or(""));
        self
    }

    /// `&name=` (or `name=` first).
    fn push_name(&mut self, name: &str) {
        if !self.text.is_empty() {
            self.text.push('&');
        }
        percent_encode_into(&mut self.text, name);
        self.text.push('=');
    }

    /// The payload as a string, without copying it.
    #[must_use]
    pub fn into_string(self) -> String {
        self.text
    }

    /// The payload so far: exactly what will be signed.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Signs the payload and returns the wire text with `&signature=<sig>` appended, the
    /// signature percent-encoded. (For a payload split between query and body, sign with
    /// [`Signer::sign_parts`].)
    #[must_use]
    pub fn sign_with(mut self, signer: &dyn Signer) -> String {
        let separator = if self.text.is_empty() { "signature=" } else { "&signature=" };
        signer.sign_onto(&mut self.text, separator);
        self.text
    }
}

/// The WebSocket-API signature payload: `params` sorted by name, joined as `k=v` with `&`, raw
/// UTF-8, not percent-encoded (SPEC §2.6). `signature` itself is excluded.
///
/// ```
/// let payload = aegis_exchange::sign::ws_api_payload(&[("timestamp", "1"), ("apiKey", "k"), ("symbol", "１２")]);
/// assert_eq!(payload, "apiKey=k&symbol=１２&timestamp=1");
/// ```
#[must_use]
pub fn ws_api_payload(params: &[(&str, &str)]) -> String {
    let mut sorted: Vec<&(&str, &str)> = params.iter().filter(|(k, _)| *k != "signature").collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let mut out = String::with_capacity(params.iter().map(|(k, v)| k.len() + v.len() + 2).sum());
    for (i, (k, v)) in sorted.into_iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_encoding_matches_the_table_on_random_texts() {
        use proptest::prelude::*;
        proptest!(|(bytes in proptest::collection::vec(any::<u8>(), 0..40))| {
            let text = String::from_utf8_lossy(&bytes);
            let mut out = String::new();
            percent_encode_into(&mut out, &text);
            let expected: String = text
                .bytes()
                .map(|b| if is_unreserved(b) { char::from(b).to_string() } else { format!("%{b:02X}") })
                .collect();
            prop_assert_eq!(out, expected);
        });
    }

    /// A prepended parameter comes first, joined by `&` only when something follows, on the
    /// stack path and on the long-value fallback alike.
    #[test]
    fn prepend_puts_the_parameter_first() {
        let mut q = SignedQuery::new();
        q.prepend_u64_named("recvWindow", 5000);
        assert_eq!(q.as_str(), "recvWindow=5000");
        let mut q = SignedQuery::new();
        q.push("symbol", "BTCUSDT").push("side", "BUY");
        q.prepend_u64_named("recvWindow", 5000);
        assert_eq!(q.as_str(), "recvWindow=5000&symbol=BTCUSDT&side=BUY");
        q.prepend_unreserved_named("a", "6000.5");
        assert_eq!(q.as_str(), "a=6000.5&recvWindow=5000&symbol=BTCUSDT&side=BUY");
        // Longer than the 64-byte stack buffer.
        let long = "x".repeat(70);
        let mut q = SignedQuery::new();
        q.prepend_unreserved_named("long", &long);
        assert_eq!(q.as_str(), format!("long={long}"));
        q.push("symbol", "BTCUSDT");
        q.prepend_unreserved_named("long2", &long);
        assert_eq!(q.as_str(), format!("long2={long}&long={long}&symbol=BTCUSDT"));
    }
}
