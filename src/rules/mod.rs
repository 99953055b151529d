//! Symbol rules: `ExchangeInfo`, every Binance filter, and the `validate` / `normalize` that
//! stand between an intent and a signed order.
//!
//! This module owns what exchangeInfo says about each symbol and how an order is checked
//! against it. It does not fetch exchangeInfo (that is the REST layer and the engine) and it
//! does not know balances beyond what the caller puts in a [`MarketContext`].
//!
//! Filters are applied with Binance's exact rules (SPEC §3): `price % tickSize == 0` and
//! `quantity % stepSize == 0` in exact decimal arithmetic, and a value of 0 disables every
//! min, max and step. A refusal names the filter as Binance does (`Filter failure: LOT_SIZE`).

mod context;
mod exchange_info;
mod fast;
mod filter;
mod validate;

pub use context::{MarketContext, NormalizeOptions};
pub use exchange_info::{ExchangeInfo, MalformedSymbol, RateLimit, SYMBOL_FIELDS, Sor, SymbolRules};
pub use filter::{Filter, FilterKind, UNNAMED_FILTER};
pub use validate::{FilterError, ValidatedList, ValidatedOco, ValidatedOrder, Violation};

/// A real exchangeInfo response bundled with the crate: 25 Binance Spot symbols (BTCUSDT,
/// ETHUSDT, ETHBTC, ... and some in BREAK) captured from production on 2025-08-07, with the
/// current filter set. Recorded by thrasher-corp/gocryptotrader (MIT); re-serialised compactly.
///
/// The paper exchange and the examples start from it; a program trading for real loads the
/// live one with `GET /api/v3/exchangeInfo`.
pub const BUNDLED_EXCHANGE_INFO: &[u8] = include_bytes!("bundled_exchange_info.json");
