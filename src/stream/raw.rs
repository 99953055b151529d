//! The raw layer of the stream decoder: every field is read into a [`Raw`] that cannot fail on a
//! wrong type, so that a poisoned message becomes a typed [`PoisonReason`] instead of an opaque
//! JSON error. Nothing here allocates: decimals and symbols are parsed straight out of the borrowed
//! input.

use std::fmt;
use std::marker::PhantomData;

use rust_decimal::Decimal;
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::{InlineStr, PoisonReason};
use crate::num::{parse_decimal, parse_decimal_bytes, parse_signed_decimal};
use crate::rest::Level;

/// The scalar `visit_*` methods of a visitor that answers every JSON scalar the same way (for a
/// field that must be an array or an object).
macro_rules! scalars_are {
    ($value:expr) => {
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($value)
        }
    };
}

/// One field as it arrived: absent, `null`, a usable value, or unusable for a known reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Raw<T> {
    #[default]
    Missing,
    Null,
    Value(T),
    Bad(PoisonReason),
}

/// What a primitive accepts from each JSON type. Everything it does not accept is a typed fault.
pub(crate) trait Prim: Sized {
    fn from_str(s: &str) -> Result<Self, PoisonReason> {
        let _ = s;
        Err(PoisonReason::StringForNumber)
    }
    fn from_u64(v: u64) -> Result<Self, PoisonReason> {
        let _ = v;
        Err(PoisonReason::NumberForString)
    }
    fn from_i64(v: i64) -> Result<Self, PoisonReason> {
        let _ = v;
        Err(PoisonReason::NumberForString)
    }
    fn from_bool(v: bool) -> Result<Self, PoisonReason> {
        let _ = v;
        Err(PoisonReason::WrongType)
    }
    /// A float literal (`1.5`, `1e3`): never acceptable for money or ids.
    fn from_f64() -> PoisonReason {
        PoisonReason::WrongType
    }
}

/// An unsigned decimal string (prices, quantities, volumes). A leading `-` is classified as
/// [`PoisonReason::Negative`], anything else unparsable as [`PoisonReason::NotANumber`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unsigned(pub(crate) Decimal);

impl Unsigned {
    /// [`Prim::from_str`] on the bytes of a JSON string body: no UTF-8 check for a number (its
    /// digits are ASCII); `None` when the bytes are not UTF-8, which JSON refuses.
    pub(crate) fn from_bytes(bytes: &[u8]) -> Option<Result<Self, PoisonReason>> {
        match parse_decimal_bytes(bytes) {
            Ok(d) => Some(Ok(Unsigned(d))),
            Err(_) => std::str::from_utf8(bytes).ok().map(<Self as Prim>::from_str),
        }
    }
}

impl Prim for Unsigned {
    fn from_str(s: &str) -> Result<Self, PoisonReason> {
        match parse_decimal(s) {
            Ok(d) => Ok(Unsigned(d)),
            Err(_) if s.starts_with('-') && parse_decimal(s.get(1..).unwrap_or("")).is_ok() => {
                Err(PoisonReason::Negative)
            }
            Err(_) => Err(PoisonReason::NotANumber),
        }
    }
    fn from_f64() -> PoisonReason {
        PoisonReason::NumberForString
    }
}

/// A signed decimal string (price changes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Signed(pub(crate) Decimal);

impl Prim for Signed {
    fn from_str(s: &str) -> Result<Self, PoisonReason> {
        parse_signed_decimal(s).map(Signed).map_err(|_| PoisonReason::NotANumber)
    }
    fn from_f64() -> PoisonReason {
        PoisonReason::NumberForString
    }
}

impl Prim for u64 {
    fn from_u64(v: u64) -> Result<Self, PoisonReason> {
        Ok(v)
    }
    fn from_i64(v: i64) -> Result<Self, PoisonReason> {
        u64::try_from(v).map_err(|_| PoisonReason::Negative)
    }
}

impl Prim for i64 {
    fn from_u64(v: u64) -> Result<Self, PoisonReason> {
        i64::try_from(v).map_err(|_| PoisonReason::OutOfRange)
    }
    fn from_i64(v: i64) -> Result<Self, PoisonReason> {
        Ok(v)
    }
}

impl Prim for bool {
    fn from_bool(v: bool) -> Result<Self, PoisonReason> {
        Ok(v)
    }
}

impl<const N: usize> Prim for InlineStr<N> {
    fn from_str(s: &str) -> Result<Self, PoisonReason> {
        InlineStr::new(s).ok_or(PoisonReason::InvalidText)
    }
    fn from_f64() -> PoisonReason {
        PoisonReason::NumberForString
    }
}

impl<'de, T: Prim> Deserialize<'de> for Raw<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(RawVisitor(PhantomData))
    }
}

struct RawVisitor<T>(PhantomData<T>);

pub(crate) fn wrap<T>(r: Result<T, PoisonReason>) -> Raw<T> {
    match r {
        Ok(v) => Raw::Value(v),
        Err(reason) => Raw::Bad(reason),
    }
}

impl<'de, T: Prim> Visitor<'de> for RawVisitor<T> {
    type Value = Raw<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(wrap(T::from_str(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(wrap(T::from_u64(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(wrap(T::from_i64(v)))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Raw::Bad(T::from_f64()))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(wrap(T::from_bool(v)))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Raw::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Raw::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Raw::Bad(PoisonReason::WrongType))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Raw::Bad(PoisonReason::WrongType))
    }
}

/// The most levels one message may carry; a deeper message is refused, bounding memory.
pub(crate) const MAX_LEVELS: usize = 10_000;

/// A side of a book: `[["price","qty"], ...]`, checked level by level (price > 0, qty >= 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Levels(pub(crate) Vec<Level>);

impl<'de> Deserialize<'de> for Raw<Levels> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LevelsVisitor)
    }
}

struct LevelsVisitor;

impl<'de> Visitor<'de> for LevelsVisitor {
    type Value = Raw<Levels>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of [price, quantity] pairs")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Raw::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Raw::Null)
    }
    scalars_are!(Raw::Bad(PoisonReason::WrongType));
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Raw::Bad(PoisonReason::WrongType))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut side = SideBuilder::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(level) = seq.next_element::<RawLevel>()? {
            side.push(level.0);
        }
        Ok(side.finish())
    }
}

/// One side of a book as both decoders collect it: levels in order, the first fault wins, more
/// than [`MAX_LEVELS`] is a fault.
pub(crate) struct SideBuilder {
    levels: Vec<Level>,
    fault: Option<PoisonReason>,
}

impl SideBuilder {
    pub(crate) fn with_capacity(hint: usize) -> Self {
        Self { levels: Vec::with_capacity(hint.min(64)), fault: None }
    }

    pub(crate) fn push(&mut self, level: Result<Level, PoisonReason>) {
        match level {
            Ok(l) if self.fault.is_none() && self.levels.len() < MAX_LEVELS => self.levels.push(l),
            Ok(_) => self.fault = self.fault.or(Some(PoisonReason::TooManyLevels)),
            Err(reason) => self.fault = self.fault.or(Some(reason)),
        }
    }

    pub(crate) fn finish(self) -> Raw<Levels> {
        match self.fault {
            Some(reason) => Raw::Bad(reason),
            None => Raw::Value(Levels(self.levels)),
        }
    }
}

/// One `[price, qty]` pair checked: both present, the price above zero, nothing more in it.
pub(crate) fn level_of(price: Raw<Unsigned>, qty: Raw<Unsigned>, extra: bool) -> Result<Level, PoisonReason> {
    match (price, qty) {
        _ if extra => Err(PoisonReason::WrongType),
        (Raw::Value(Unsigned(p)), _) if p.is_zero() => Err(PoisonReason::ZeroPrice),
        (Raw::Value(Unsigned(price)), Raw::Value(Unsigned(qty))) => Ok(Level { price, qty }),
        (Raw::Value(_), other) | (other, _) => Err(fault_of(other)),
    }
}

/// One `["price", "qty"]` pair.
struct RawLevel(Result<Level, PoisonReason>);

impl<'de> Deserialize<'de> for RawLevel {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(RawLevelVisitor)
    }
}

struct RawLevelVisitor;

impl<'de> Visitor<'de> for RawLevelVisitor {
    type Value = RawLevel;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a [price, quantity] pair")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let price = seq.next_element::<Raw<Unsigned>>()?.unwrap_or(Raw::Missing);
        let qty = seq.next_element::<Raw<Unsigned>>()?.unwrap_or(Raw::Missing);
        let mut extra = false;
        while seq.next_element::<IgnoredAny>()?.is_some() {
            extra = true;
        }
        Ok(RawLevel(level_of(price, qty, extra)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(RawLevel(Err(PoisonReason::WrongType)))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(RawLevel(Err(PoisonReason::Null)))
    }
    scalars_are!(RawLevel(Err(PoisonReason::WrongType)));
}

/// The reason a non-value field cannot be used.
pub(crate) fn fault_of<T>(raw: Raw<T>) -> PoisonReason {
    match raw {
        Raw::Missing => PoisonReason::Missing,
        Raw::Null => PoisonReason::Null,
        Raw::Bad(reason) => reason,
        Raw::Value(_) => PoisonReason::WrongType,
    }
}

/// A nested object (the `k` of a kline), or the typed reason it is not one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Nested<T>(pub(crate) T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Raw<Nested<T>> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NestedVisitor(PhantomData))
    }
}

struct NestedVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for NestedVisitor<T> {
    type Value = Raw<Nested<T>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        T::deserialize(de::value::MapAccessDeserializer::new(map)).map(|t| Raw::Value(Nested(t)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Raw::Bad(PoisonReason::WrongType))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Raw::Null)
    }
    scalars_are!(Raw::Bad(PoisonReason::WrongType));
}
