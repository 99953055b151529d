//! Strict decimal parsing, canonical wire formatting and step rounding.
//!
//! This module owns the conversion between Binance's decimal strings and [`Decimal`]. It never
//! touches `f64`: a price or a quantity goes from the wire to the ledger as an exact decimal.
//! It does not know about symbols or filters (that is `rules`); it only knows numbers.
//!
//! - [`parse_decimal`] accepts exactly Binance's legal range `^([0-9]{1,20})(\.[0-9]{1,20})?$`:
//!   no sign, no exponent, no spaces, at most 20 integer and 20 fractional digits. A string that
//!   is legal but cannot be held exactly by a [`Decimal`] is an error, never a silent rounding.
//! - [`parse_signed_decimal`] is the same with an optional leading `-`, for the few fields that are
//!   deltas (`balanceUpdate.d`).
//! - [`Wire`] formats a decimal canonically: no exponent, trailing zeros trimmed, `-0` as `0`.
//! - [`round_to_step`] rounds to a multiple of a step `Down`, `Up` or to the `Nearest`; a step
//!   of zero means the rule is disabled and the value is returned unchanged.
//!
//! ```
//! use aegis_exchange::num::{parse_decimal, round_to_step, Rounding, Wire};
//! use rust_decimal_macros::dec;
//!
//! let qty = parse_decimal("0.14977266648836587").unwrap();
//! let rounded = round_to_step(qty, dec!(0.00001000), Rounding::Down).unwrap();
//! assert_eq!(Wire(rounded).to_string(), "0.14977");
//! assert!(parse_decimal("1e5").is_err());
//! assert!(parse_decimal("-1").is_err());
//! ```

use std::fmt;

use rust_decimal::Decimal;

/// The largest number of integer or fractional digits Binance accepts in a decimal parameter.
pub const MAX_WIRE_DIGITS: usize = 20;

/// Why a decimal string or value was refused.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NumError {
    /// The text is empty.
    #[error("empty decimal")]
    Empty,
    /// The text has a character outside `[0-9.]` (a sign, an exponent, a space, ...), or a
    /// misplaced or repeated dot. `at` is the byte offset of the first offending byte.
    #[error("invalid character in decimal at byte {at}")]
    InvalidCharacter {
        /// Byte offset of the first offending byte.
        at: usize,
    },
    /// The integer part is missing (`.5`) or the fractional part is missing (`5.`).
    #[error("decimal needs digits on both sides of the dot")]
    MissingDigits,
    /// More than 20 integer or 20 fractional digits.
    #[error("decimal has more than 20 integer or 20 fractional digits")]
    TooManyDigits,
    /// Legal on the wire, but not representable exactly as a [`Decimal`] (more than 28
    /// significant digits). Refused rather than rounded.
    #[error("decimal cannot be represented exactly")]
    Unrepresentable,
    /// An arithmetic result left the range of [`Decimal`].
    #[error("decimal arithmetic overflowed")]
    Overflow,
    /// A JSON value that should have been a decimal string was another JSON type (a number,
    /// `null`, a bool). Binance sends money as strings; a JSON number is refused because it may
    /// have passed through a float.
    #[error("expected a decimal string, found another JSON type")]
    NotAString,
}

/// Parses an unsigned decimal in Binance's legal range `^([0-9]{1,20})(\.[0-9]{1,20})?$`.
///
/// Trailing fractional zeros carry no value and are dropped (`"0.00100000"` parses to
/// `0.001`, scale 3), so a parsed step's scale is its number of significant decimals. Nothing
/// is ever rounded: a value that needs more than 28 significant digits is
/// [`NumError::Unrepresentable`].
///
/// # Errors
/// Every way the text can leave the legal range has its own [`NumError`].
///
/// # Examples
/// ```
/// use aegis_exchange::num::{parse_decimal, NumError};
/// assert_eq!(parse_decimal("0.00100000").unwrap().to_string(), "0.001");
/// assert_eq!(parse_decimal("1E5"), Err(NumError::InvalidCharacter { at: 1 }));
/// assert_eq!(parse_decimal("+1"), Err(NumError::InvalidCharacter { at: 0 }));
/// assert_eq!(parse_decimal(".5"), Err(NumError::MissingDigits));
/// ```
pub fn parse_decimal(text: &str) -> Result<Decimal, NumError> {
    parse_unsigned(text.as_bytes(), 0)
}

/// [`parse_decimal`] on bytes (a JSON string body read in place).
pub(crate) fn parse_decimal_bytes(bytes: &[u8]) -> Result<Decimal, NumError> {
    parse_unsigned(bytes, 0)
}

/// Like [`parse_decimal`], with an optional leading `-` (for deltas such as `balanceUpdate.d`).
///
/// # Errors
/// As [`parse_decimal`].
///
/// # Examples
/// ```
/// use aegis_exchange::num::parse_signed_decimal;
/// assert_eq!(parse_signed_decimal("-100.50000000").unwrap().to_string(), "-100.5");
/// assert!(parse_signed_decimal("--1").is_err());
/// ```
pub fn parse_signed_decimal(text: &str) -> Result<Decimal, NumError> {
    match text.as_bytes().split_first() {
        Some((b'-', rest)) => parse_unsigned(rest, 1).map(|d| -d),
        _ => parse_unsigned(text.as_bytes(), 0),
    }
}

#[inline]
fn parse_unsigned(bytes: &[u8], offset: usize) -> Result<Decimal, NumError> {
    parse_short(bytes).map_or_else(|| parse_checked(bytes, offset), Ok)
}

/// The common case in one pass: at most 19 digits (every price and quantity Binance sends with
/// 8 decimals), well formed. `None` for anything else (longer, malformed, empty), which
/// [`parse_checked`] then decides with its exact error.
#[inline]
fn parse_short(bytes: &[u8]) -> Option<Decimal> {
    scan_short(bytes).and_then(|(d, len)| (len == bytes.len()).then_some(d))
}

/// Reads a decimal of at most 19 digits from the start of `bytes`, stopping at the first byte
/// that cannot continue it; returns the value and the bytes it took. The caller checks what
/// stops it (a closing quote in a JSON string). Trailing fractional zeros are dropped, as
/// [`parse_checked`] drops them. `None` when it is empty, longer, or misses a digit around the
/// dot.
#[inline(always)]
pub(crate) fn scan_short(bytes: &[u8]) -> Option<(Decimal, usize)> {
    let mut int: u64 = 0;
    let mut at = 0usize;
    while let Some(d) = bytes.get(at).map(|b| b.wrapping_sub(b'0')).filter(|d| *d < 10) {
        // At most 19 digits are taken, so this cannot overflow.
        if at == 19 {
            return None;
        }
        int = int * 10 + u64::from(d);
        at += 1;
    }
    if at == 0 {
        return None;
    }
    if bytes.get(at) != Some(&b'.') {
        return Some((decimal(int, 0), at));
    }
    let frac = bytes.get(at + 1..)?;
    // Binance's own form: exactly 8 decimals, read as one word.
    if let Some(word) = frac.get(..8).and_then(|w| <[u8; 8]>::try_from(w).ok()).map(u64::from_le_bytes)
        && is_eight_digits(word)
        && !frac.get(8).is_some_and(u8::is_ascii_digit)
        && at + 8 <= 19
    {
        // Trailing '0' characters are the high bytes equal to 0x30.
        let zeros = (word ^ ASCII_ZEROS).leading_zeros() / 8;
        let len = at + 9;
        if zeros == 8 {
            return Some((decimal(int, 0), len));
        }
        // The significant digits moved to the end of the word behind '0's: the same digits read
        // as a number.
        let shifted = (word << (8 * zeros)) | ASCII_ZEROS.checked_shr(64 - 8 * zeros).unwrap_or(0);
        let scale = 8 - zeros;
        // `scale` is 1 to 8 here.
        let mantissa = int * POW10.get(scale as usize).copied().unwrap_or(1) + eight_digits(shifted);
        return Some((decimal(mantissa, scale), len));
    }
    // Any other number of decimals, a digit at a time.
    let mut mantissa = int;
    let mut significant = int;
    let mut significant_scale = 0u32;
    let mut scale = 0u32;
    let mut len = at + 1;
    while let Some(d) = bytes.get(len).map(|b| b.wrapping_sub(b'0')).filter(|d| *d < 10) {
        if at + scale as usize == 19 {
            return None;
        }
        mantissa = mantissa * 10 + u64::from(d);
        scale += 1;
        len += 1;
        if d != 0 {
            significant = mantissa;
            significant_scale = scale;
        }
    }
    (scale > 0).then(|| (decimal(significant, significant_scale), len))
}

const ASCII_ZEROS: u64 = 0x3030_3030_3030_3030;

const POW10: [u64; 9] = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000];

/// Whether each of the eight bytes of `word` is an ASCII digit.
#[inline]
fn is_eight_digits(word: u64) -> bool {
    ((word & 0xF0F0_F0F0_F0F0_F0F0) | ((word.wrapping_add(0x0606_0606_0606_0606) & 0xF0F0_F0F0_F0F0_F0F0) >> 4))
        == 0x3333_3333_3333_3333
}

/// The value of eight ASCII digits read little-endian (the first character most significant).
#[inline]
fn eight_digits(word: u64) -> u64 {
    let v = word.wrapping_sub(ASCII_ZEROS);
    let v = (v.wrapping_mul(10) + (v >> 8)) & 0x00FF_00FF_00FF_00FF;
    let v = (v.wrapping_mul(100) + (v >> 16)) & 0x0000_FFFF_0000_FFFF;
    (v.wrapping_mul(10_000) + (v >> 32)) & 0xFFFF_FFFF
}

/// A non-negative decimal from a mantissa below 2^64 and a scale of at most 28.
#[inline]
fn decimal(mantissa: u64, scale: u32) -> Decimal {
    #[allow(clippy::cast_possible_truncation)] // the two 32-bit halves of a u64, on purpose
    Decimal::from_parts(mantissa as u32, (mantissa >> 32) as u32, 0, false, scale)
}

#[cold]
#[inline(never)]
fn parse_checked(bytes: &[u8], offset: usize) -> Result<Decimal, NumError> {
    if bytes.is_empty() {
        return Err(NumError::Empty);
    }
    let mut int_digits = 0usize;
    let mut frac_digits = 0usize;
    let mut seen_dot = false;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'0'..=b'9' if seen_dot => frac_digits += 1,
            b'0'..=b'9' => int_digits += 1,
            b'.' if !seen_dot => seen_dot = true,
            _ => return Err(NumError::InvalidCharacter { at: i + offset }),
        }
    }
    if int_digits == 0 || (seen_dot && frac_digits == 0) {
        return Err(NumError::MissingDigits);
    }
    if int_digits > MAX_WIRE_DIGITS || frac_digits > MAX_WIRE_DIGITS {
        return Err(NumError::TooManyDigits);
    }
    // Trailing fractional zeros carry no value; dropping them keeps 20+20 digit strings such as
    // "1.00000000000000000000" representable.
    let mut significant = bytes;
    let mut scale = frac_digits;
    while scale > 0 {
        match significant.split_last() {
            Some((b'0', rest)) => {
                significant = rest;
                scale -= 1;
            }
            _ => break,
        }
    }
    if scale == 0
        && let Some((b'.', rest)) = significant.split_last()
    {
        significant = rest;
    }
    // Up to 19 digits fit a u64 without a check (the common case: prices and quantities with 8
    // decimals); otherwise at most 40 digits remain and 10^40 overflows u128, so accumulate with
    // checks.
    if significant.len() <= 19 {
        let mut mantissa: u64 = 0;
        for &b in significant {
            if b != b'.' {
                mantissa = mantissa * 10 + u64::from(b - b'0');
            }
        }
        // The scale is at most 20 (checked above), within Decimal's 28.
        let scale = u32::try_from(scale).map_err(|_| NumError::Unrepresentable)?;
        #[allow(clippy::cast_possible_truncation)] // the two 32-bit halves of a u64, on purpose
        let (lo, mid) = (mantissa as u32, (mantissa >> 32) as u32);
        return Ok(Decimal::from_parts(lo, mid, 0, false, scale));
    }
    let mut mantissa: u128 = 0;
    for &b in significant {
        if b == b'.' {
            continue;
        }
        mantissa = mantissa
            .checked_mul(10)
            .and_then(|m| m.checked_add(u128::from(b - b'0')))
            .ok_or(NumError::Unrepresentable)?;
    }
    let mantissa = i128::try_from(mantissa).map_err(|_| NumError::Unrepresentable)?;
    let scale = u32::try_from(scale).map_err(|_| NumError::Unrepresentable)?;
    Decimal::try_from_i128_with_scale(mantissa, scale).map_err(|_| NumError::Unrepresentable)
}

/// A decimal displayed in canonical wire form: no exponent, no trailing zeros, `0` for zero.
///
/// A value that is a multiple of a step never shows more decimals than the step has
/// significant decimals, so a validated quantity or price formats within the symbol's precision.
///
/// ```
/// use aegis_exchange::num::Wire;
/// use rust_decimal_macros::dec;
/// assert_eq!(Wire(dec!(0.14977000)).to_string(), "0.14977");
/// assert_eq!(Wire(dec!(65000.00)).to_string(), "65000");
/// assert_eq!(Wire(dec!(-0.0)).to_string(), "0");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wire(pub Decimal);

impl fmt::Display for Wire {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.normalize();
        if n.is_zero() {
            // Covers negative zero, which `normalize` may keep the sign of.
            return f.write_str("0");
        }
        // Decimal's Display never uses an exponent.
        fmt::Display::fmt(&n, f)
    }
}

/// Appends `value` in canonical wire form, exactly as [`Wire`] displays it, without the
/// formatting machinery (the order path writes two or three decimals per order).
///
/// ```
/// use aegis_exchange::num::{write_wire, Wire};
/// use rust_decimal_macros::dec;
/// let mut out = String::new();
/// write_wire(&mut out, dec!(0.14977000));
/// out.push(' ');
/// write_wire(&mut out, dec!(65000.00));
/// assert_eq!(out, "0.14977 65000");
/// ```
pub fn write_wire(out: &mut String, value: Decimal) {
    // Negative values and mantissas past 64 bits are rare on the wire: the general form.
    let Ok(mantissa) = u64::try_from(value.mantissa()) else {
        use fmt::Write as _;
        // Writing into a String cannot fail.
        let _ = write!(out, "{}", Wire(value));
        return;
    };
    if mantissa == 0 {
        out.push('0');
        return;
    }
    let mut buffer = itoa::Buffer::new();
    let all = buffer.format(mantissa);
    // Trailing zeros of the fraction dropped (`65000.10000000` -> `65000.1`).
    let scale = value.scale() as usize;
    let zeros = all.bytes().rev().take(scale).take_while(|&b| b == b'0').count();
    let (digits, scale) = (all.get(..all.len() - zeros).unwrap_or("0"), scale - zeros);
    match digits.len().checked_sub(scale).filter(|n| *n > 0).and_then(|n| digits.split_at_checked(n)) {
        _ if scale == 0 => out.push_str(digits),
        // `int.frac`
        Some((int, frac)) => {
            out.push_str(int);
            out.push('.');
            out.push_str(frac);
        }
        // Below one: `0.`, the leading zeros of the fraction, the digits.
        None => {
            out.push_str("0.");
            for _ in digits.len()..scale {
                out.push('0');
            }
            out.push_str(digits);
        }
    }
}

/// Appends `value` in decimal.
pub(crate) fn write_u64(out: &mut String, value: u64) {
    out.push_str(itoa::Buffer::new().format(value));
}

/// The number of significant decimal places of a step (`0.00100000` has 3, `10` has 0).
///
/// ```
/// use aegis_exchange::num::step_decimals;
/// use rust_decimal_macros::dec;
/// assert_eq!(step_decimals(dec!(0.00100000)), 3);
/// assert_eq!(step_decimals(dec!(10.00000000)), 0);
/// ```
#[must_use]
pub fn step_decimals(step: Decimal) -> u32 {
    step.normalize().scale()
}

/// The direction of a rounding to a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Rounding {
    /// Toward negative infinity (floor). The default: it never enlarges a positive quantity.
    #[default]
    Down,
    /// Toward positive infinity (ceiling).
    Up,
    /// To the nearest multiple; an exact half goes up (away from zero for positive values).
    Nearest,
}

/// Rounds `value` to a multiple of `step` in the given direction.
///
/// A step of zero (or below) means "rule disabled": the value comes back unchanged, never a
/// division by zero. A value that is already a multiple comes back unchanged (with its scale).
///
/// # Errors
/// [`NumError::Overflow`] when rounding up would leave the range of [`Decimal`].
///
/// # Examples
/// ```
/// use aegis_exchange::num::{round_to_step, Rounding};
/// use rust_decimal_macros::dec;
/// assert_eq!(round_to_step(dec!(65432.517), dec!(0.01), Rounding::Down), Ok(dec!(65432.51)));
/// assert_eq!(round_to_step(dec!(65432.517), dec!(0.01), Rounding::Up), Ok(dec!(65432.52)));
/// assert_eq!(round_to_step(dec!(65432.515), dec!(0.01), Rounding::Nearest), Ok(dec!(65432.52)));
/// assert_eq!(round_to_step(dec!(123.456), dec!(10), Rounding::Down), Ok(dec!(120)));
/// assert_eq!(round_to_step(dec!(1.23), dec!(0), Rounding::Up), Ok(dec!(1.23)));
/// ```
pub fn round_to_step(value: Decimal, step: Decimal, mode: Rounding) -> Result<Decimal, NumError> {
    if !is_positive(step) {
        return Ok(value);
    }
    let rem = value.checked_rem(step).ok_or(NumError::Overflow)?;
    if rem.is_zero() {
        return Ok(value);
    }
    // `%` keeps the sign of the dividend: bring the remainder into [0, step).
    let (floor, rem) = if rem.is_sign_negative() {
        let rem = rem + step;
        (value.checked_sub(rem).ok_or(NumError::Overflow)?, rem)
    } else {
        (value - rem, rem)
    };
    let up = || floor.checked_add(step).ok_or(NumError::Overflow);
    match mode {
        Rounding::Down => Ok(floor),
        Rounding::Up => up(),
        Rounding::Nearest => {
            let twice = rem.checked_mul(Decimal::TWO).ok_or(NumError::Overflow)?;
            if twice >= step { up() } else { Ok(floor) }
        }
    }
}

/// Whether `value` is an exact multiple of `step`; a step of zero (disabled) accepts anything.
///
/// ```
/// use aegis_exchange::num::is_multiple_of;
/// use rust_decimal_macros::dec;
/// assert!(is_multiple_of(dec!(0.14977), dec!(0.00001)));
/// assert!(!is_multiple_of(dec!(0.149775), dec!(0.00001)));
/// assert!(is_multiple_of(dec!(0.149775), dec!(0)));
/// ```
#[must_use]
pub fn is_multiple_of(value: Decimal, step: Decimal) -> bool {
    if !is_positive(step) {
        return true;
    }
    value.checked_rem(step).is_some_and(|r| r.is_zero())
}

/// A step (`tickSize`, `stepSize`) prepared once for fast, exact checks and rounding.
///
/// Every real step on Binance is a power of ten (`0.01`, `0.00001000`, `1.00`); for those,
/// checking a multiple and rounding are integer operations on the decimal's mantissa, and the
/// result carries exactly the step's scale (so `0.1497726664883658732281358652` rounds to
/// `0.14977`, not `0.1497700000000000000000000000`). Other steps (`10`, `0.5`) use the exact
/// remainder. A step of zero (or below) is disabled: everything is a multiple, nothing moves.
///
/// ```
/// use aegis_exchange::num::{Rounding, Step};
/// use rust_decimal_macros::dec;
/// let step = Step::new(dec!(0.00001000));
/// assert!(step.is_multiple(dec!(0.14977)));
/// let r = step.round(dec!(0.1497726664883658732281358652), Rounding::Down).unwrap();
/// assert_eq!((r, r.scale()), (dec!(0.14977), 5));
/// assert!(Step::new(dec!(0)).is_disabled());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Step {
    value: Decimal,
    /// `Some(k)` when the step is exactly 10^-k.
    pow10: Option<u32>,
}

impl Step {
    /// The disabled step.
    pub const DISABLED: Step = Step { value: Decimal::ZERO, pow10: None };

    /// Prepares `value`; zero or negative means disabled.
    #[must_use]
    pub fn new(value: Decimal) -> Self {
        if !is_positive(value) {
            return Self::DISABLED;
        }
        let n = value.normalize();
        let pow10 = if n.mantissa() == 1 { Some(n.scale()) } else { None };
        Self { value: n, pow10 }
    }

    /// The step as a decimal (zero when disabled).
    #[must_use]
    pub fn value(&self) -> Decimal {
        self.value
    }

    /// Whether the rule is disabled (a step of zero).
    #[must_use]
    pub fn is_disabled(&self) -> bool {
        self.value.is_zero()
    }

    /// Whether `v` is an exact multiple of the step (always true when disabled).
    #[must_use]
    pub fn is_multiple(&self, v: Decimal) -> bool {
        match self.pow10 {
            Some(k) => {
                let s = v.scale();
                s <= k || v.mantissa().unsigned_abs().is_multiple_of(pow10_u128(s - k))
            }
            None => is_multiple_of(v, self.value),
        }
    }

    /// Rounds `v` to a multiple of the step (see [`round_to_step`]); a value already a multiple
    /// is returned unchanged.
    ///
    /// # Errors
    /// [`NumError::Overflow`] when rounding up would leave the range of [`Decimal`].
    pub fn round(&self, v: Decimal, mode: Rounding) -> Result<Decimal, NumError> {
        let Some(k) = self.pow10 else {
            return round_to_step(v, self.value, mode);
        };
        let s = v.scale();
        if s <= k {
            return Ok(v);
        }
        let div = i128::try_from(pow10_u128(s - k)).map_err(|_| NumError::Overflow)?;
        let m = v.mantissa();
        // 128-bit division is slow; most mantissas and divisors fit in 64 bits.
        let (q, r) = match (u64::try_from(m), u64::try_from(div)) {
            (Ok(m64), Ok(d64)) => (i128::from(m64 / d64), i128::from(m64 % d64)),
            _ => (m.div_euclid(div), m.rem_euclid(div)),
        };
        let q = match mode {
            _ if r == 0 => q,
            Rounding::Down => q,
            Rounding::Up => q + 1,
            Rounding::Nearest => {
                if r.saturating_mul(2) >= div {
                    q + 1
                } else {
                    q
                }
            }
        };
        Decimal::try_from_i128_with_scale(q, k).map_err(|_| NumError::Overflow)
    }
}

/// Whether `d` is strictly positive, by its sign bit and mantissa alone: `d > Decimal::ZERO`
/// goes through a general comparison, which shows in the validation hot path.
#[must_use]
#[inline]
pub fn is_positive(d: Decimal) -> bool {
    !d.is_sign_negative() && !d.is_zero()
}

/// Exact ordering of two decimals, compared through their mantissas.
///
/// Same result as `Ord::cmp`, several times cheaper when the scales differ (the common case in
/// filter checks: a price of scale 2 against a maximum of scale 0): the smaller-scale mantissa
/// is raised by 10^(scale difference) in 128-bit arithmetic, and an overflow there means that
/// side is larger in magnitude than any mantissa (all are below 2^96).
///
/// ```
/// use aegis_exchange::num::cmp;
/// use rust_decimal_macros::dec;
/// use std::cmp::Ordering;
/// assert_eq!(cmp(dec!(65432.51), dec!(1000000)), Ordering::Less);
/// assert_eq!(cmp(dec!(1.50), dec!(1.5)), Ordering::Equal);
/// assert_eq!(cmp(dec!(-2), dec!(1)), Ordering::Less);
/// ```
#[must_use]
#[inline]
pub fn cmp(a: Decimal, b: Decimal) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let (a_neg, b_neg) = (a.is_sign_negative() && !a.is_zero(), b.is_sign_negative() && !b.is_zero());
    match (a_neg, b_neg) {
        (false, true) => return Ordering::Greater,
        (true, false) => return Ordering::Less,
        _ => {}
    }
    let magnitude = cmp_scaled(a.mantissa().unsigned_abs(), a.scale(), b.mantissa().unsigned_abs(), b.scale());
    if a_neg { magnitude.reverse() } else { magnitude }
}

/// Exact ordering of the product `a × b` against `c`, for non-negative operands, without
/// building the product (no 96-bit rounding, no allocation): `None` when an operand is negative
/// or the 128-bit product overflows, in which case the caller falls back to `Decimal` arithmetic.
///
/// ```
/// use aegis_exchange::num::cmp_product;
/// use rust_decimal_macros::dec;
/// use std::cmp::Ordering;
/// assert_eq!(cmp_product(dec!(0.14977), dec!(65432.51), dec!(5)), Some(Ordering::Greater));
/// assert_eq!(cmp_product(dec!(0.5), dec!(10), dec!(5.000)), Some(Ordering::Equal));
/// ```
#[must_use]
#[inline]
pub fn cmp_product(a: Decimal, b: Decimal, c: Decimal) -> Option<std::cmp::Ordering> {
    if a.is_sign_negative() || b.is_sign_negative() || c.is_sign_negative() {
        return None;
    }
    let p = mul_u128(a.mantissa().unsigned_abs(), b.mantissa().unsigned_abs())?;
    Some(cmp_scaled(p, a.scale() + b.scale(), c.mantissa().unsigned_abs(), c.scale()))
}

/// Orders `am × 10^-sa` against `bm × 10^-sb` exactly (unsigned mantissas of any size): the
/// smaller-scale side is raised by the scale difference, and an overflow there means that side
/// is the larger.
#[inline]
pub(crate) fn cmp_scaled(am: u128, sa: u32, bm: u128, sb: u32) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    if sa == sb {
        am.cmp(&bm)
    } else if sa < sb {
        match mul_pow10(am, sb - sa) {
            Some(scaled) => scaled.cmp(&bm),
            None => Ordering::Greater,
        }
    } else {
        match mul_pow10(bm, sa - sb) {
            Some(scaled) => am.cmp(&scaled),
            None => Ordering::Less,
        }
    }
}

/// `a × b`, with the common case (both below 2^64, so no overflow is possible) kept off the
/// slow checked 128-bit multiply.
#[inline]
pub(crate) fn mul_u128(a: u128, b: u128) -> Option<u128> {
    match (u64::try_from(a), u64::try_from(b)) {
        (Ok(a), Ok(b)) => Some(u128::from(a) * u128::from(b)),
        _ => a.checked_mul(b),
    }
}

/// `m × 10^n`, `None` on overflow.
#[inline]
pub(crate) fn mul_pow10(m: u128, n: u32) -> Option<u128> {
    if n > 38 {
        return if m == 0 { Some(0) } else { None };
    }
    mul_u128(m, pow10_u128(n))
}

/// 10^n for n <= 38; saturates past that.
pub(crate) fn pow10_u128(n: u32) -> u128 {
    // Evaluated at compile time: an out-of-bounds index would fail the build, not panic.
    #[allow(clippy::indexing_slicing)]
    const POW10: [u128; 39] = {
        let mut t = [1u128; 39];
        let mut i = 1;
        while i < 39 {
            t[i] = t[i - 1] * 10;
            i += 1;
        }
        t
    };
    POW10.get(n as usize).copied().unwrap_or(u128::MAX)
}

/// Serde helpers for money fields: a decimal string only, parsed strictly.
///
/// Use with `#[serde(deserialize_with = "aegis_exchange::num::serde_str::decimal")]`.
/// A JSON number, `null` or any other type is refused with [`NumError::NotAString`]'s text.
pub mod serde_str {
    use std::fmt;

    use rust_decimal::Decimal;
    use serde::de::{self, Deserializer, Visitor};

    use super::{NumError, parse_decimal, parse_signed_decimal};

    struct StrictVisitor {
        signed: bool,
    }

    impl Visitor<'_> for StrictVisitor {
        type Value = Decimal;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a decimal string such as \"0.00100000\"")
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Decimal, E> {
            let parsed = if self.signed { parse_signed_decimal(v) } else { parse_decimal(v) };
            parsed.map_err(E::custom)
        }

        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Decimal, E> {
            Err(E::custom(NumError::NotAString))
        }

        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Decimal, E> {
            Err(E::custom(NumError::NotAString))
        }

        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Decimal, E> {
            Err(E::custom(NumError::NotAString))
        }
    }

    /// Deserializes an unsigned decimal string strictly (see [`parse_decimal`]).
    ///
    /// # Errors
    /// A non-string JSON value, or a string outside Binance's legal range.
    pub fn decimal<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
        d.deserialize_str(StrictVisitor { signed: false })
    }

    /// Deserializes a signed decimal string strictly (see [`parse_signed_decimal`]).
    ///
    /// # Errors
    /// A non-string JSON value, or a string outside the legal range.
    pub fn signed_decimal<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
        d.deserialize_str(StrictVisitor { signed: true })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn parses_legal_forms() {
        assert_eq!(parse_decimal("0"), Ok(dec!(0)));
        assert_eq!(parse_decimal("000012.50"), Ok(dec!(12.5)));
        assert_eq!(parse_decimal("92233720368.54775807"), Ok(dec!(92233720368.54775807)));
        // 20 + 20 digits with trailing zeros fits once the zeros are dropped.
        assert_eq!(parse_decimal("12345678901234567890.10000000000000000000"), Ok(dec!(12345678901234567890.1)));
        assert_eq!(parse_decimal("0.00000000000000000001"), Ok(dec!(0.00000000000000000001)));
        assert_eq!(parse_decimal("1.").err(), Some(NumError::MissingDigits));
    }

    #[test]
    fn drops_trailing_zeros() {
        assert_eq!(parse_decimal("1.50").map(|d| d.scale()), Ok(1));
        assert_eq!(parse_decimal("1.00000000").map(|d| d.to_string()), Ok("1".into()));
        assert_eq!(parse_decimal("10.00000000").map(|d| d.to_string()), Ok("10".into()));
        assert_eq!(parse_decimal("0.00000000").map(|d| d.to_string()), Ok("0".into()));
    }

    #[test]
    fn refuses_every_illegal_form() {
        assert_eq!(parse_decimal(""), Err(NumError::Empty));
        assert_eq!(parse_decimal("-1"), Err(NumError::InvalidCharacter { at: 0 }));
        assert_eq!(parse_decimal("1e3"), Err(NumError::InvalidCharacter { at: 1 }));
        assert_eq!(parse_decimal("1.2.3"), Err(NumError::InvalidCharacter { at: 3 }));
        assert_eq!(parse_decimal(" 1"), Err(NumError::InvalidCharacter { at: 0 }));
        assert_eq!(parse_decimal("NaN"), Err(NumError::InvalidCharacter { at: 0 }));
        assert_eq!(parse_decimal("."), Err(NumError::MissingDigits));
        assert_eq!(parse_decimal("123456789012345678901"), Err(NumError::TooManyDigits));
        assert_eq!(parse_decimal("1.123456789012345678901"), Err(NumError::TooManyDigits));
        assert_eq!(parse_decimal("12345678901234567890.12345678901234567891"), Err(NumError::Unrepresentable));
        assert_eq!(parse_signed_decimal("-"), Err(NumError::Empty));
        assert_eq!(parse_signed_decimal("--1"), Err(NumError::InvalidCharacter { at: 1 }));
        assert_eq!(parse_signed_decimal("1-"), Err(NumError::InvalidCharacter { at: 1 }));
    }

    /// The one-pass parser answers only where it is exact: the same value with the same scale
    /// as the checked parser, on strings built from the characters that matter.
    #[test]
    fn the_short_path_agrees_with_the_checked_one() {
        use proptest::prelude::*;
        let answered = std::cell::Cell::new(0usize);
        proptest!(ProptestConfig::with_cases(10_000), |(text in "[0-9]{0,21}(\\.[0-9]{0,21})?|[0-9]{1,12}\\.[0-9]{0,3}0{0,8}[1-9]?0{0,8}|[0-9]{0,12}\\.[0-9]{8}[0-9.x]?|[0-9.x-]{0,22}")| {
            let checked = parse_checked(text.as_bytes(), 0);
            if let Some(short) = parse_short(text.as_bytes()) {
                answered.set(answered.get() + 1);
                prop_assert_eq!(Ok(short), checked, "{}", text);
                prop_assert_eq!(Ok(short.scale()), checked.map(|d| d.scale()), "{}", text);
            }
        });
        assert!(answered.get() > 2_500, "{}", answered.get());
        for text in [
            "0",
            "0.0",
            "10.00000000",
            "61837.63000000",
            "61837.00000001",
            "0.00012345",
            "12345678901.12345678",
            "9999999999999999999",
            "999999999.9999999999",
        ] {
            assert_eq!(
                parse_short(text.as_bytes()).map(|d| d.to_string()),
                parse_checked(text.as_bytes(), 0).ok().map(|d| d.to_string())
            );
        }
        // Past 19 digits the checked parser decides.
        assert_eq!(parse_short(b"99999999999999999999"), None);
        assert_eq!(parse_short(b"123456789012.12345678"), None);
        assert_eq!(parse_short(b"1.123456789"), parse_checked(b"1.123456789", 0).ok());
    }

    /// The direct writer agrees with `Wire`'s Display on every sign, scale and size.
    #[test]
    fn write_wire_agrees_with_the_display() {
        use proptest::prelude::*;
        proptest!(ProptestConfig::with_cases(5_000), |(mantissa in any::<i64>(), wide in any::<i128>(), scale in 0u32..=28, pick in 0u8..3)| {
            let m = match pick {
                0 => i128::from(mantissa),
                1 => i128::from(mantissa.unsigned_abs() % 1_000_000) * 10i128.pow(scale.min(8)),
                _ => wide % 10i128.pow(28),
            };
            let value = Decimal::from_i128_with_scale(m, scale);
            let mut out = String::new();
            write_wire(&mut out, value);
            prop_assert_eq!(out, Wire(value).to_string());
        });
        for value in [
            dec!(0),
            dec!(0.000),
            dec!(-0.0),
            dec!(10),
            dec!(0.00000001),
            dec!(61837.63000000),
            dec!(18446744073709551615),
        ] {
            let mut out = String::new();
            write_wire(&mut out, value);
            assert_eq!(out, Wire(value).to_string());
        }
    }

    #[test]
    fn rounding_negative_values_uses_floor_and_ceiling() {
        assert_eq!(round_to_step(dec!(-1.25), dec!(0.1), Rounding::Down), Ok(dec!(-1.3)));
        assert_eq!(round_to_step(dec!(-1.25), dec!(0.1), Rounding::Up), Ok(dec!(-1.2)));
        assert_eq!(round_to_step(dec!(-1.26), dec!(0.1), Rounding::Nearest), Ok(dec!(-1.3)));
    }

    #[test]
    fn rounding_up_at_the_top_of_the_range_is_an_error_not_a_panic() {
        // MAX ends in 5: its floor to a step of 10 is fine, its ceiling does not exist.
        assert_eq!(round_to_step(Decimal::MAX, dec!(10), Rounding::Up), Err(NumError::Overflow));
        assert_eq!(round_to_step(Decimal::MAX, dec!(10), Rounding::Nearest), Err(NumError::Overflow));
        assert!(round_to_step(Decimal::MAX, dec!(0.3), Rounding::Down).is_ok());
    }

    #[test]
    fn serde_refuses_json_numbers() {
        #[derive(serde::Deserialize, Debug)]
        struct T {
            #[serde(deserialize_with = "serde_str::decimal")]
            p: Decimal,
        }
        assert_eq!(serde_json::from_str::<T>(r#"{"p":"1.5"}"#).map(|t| t.p).ok(), Some(dec!(1.5)));
        let err = serde_json::from_str::<T>(r#"{"p":1.5}"#).err().map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("expected a decimal string")));
        assert!(serde_json::from_str::<T>(r#"{"p":null}"#).is_err());
        assert!(serde_json::from_str::<T>(r#"{"p":"1e3"}"#).is_err());
    }
}
