#![doc = include_str!("../README.md")]
//!
//! # Architecture
//!
//! ```text
//!  intents ──► model ─► rules (filters, rounding) ─► ValidatedOrder ─► orders.submit (ledger reserve)
//!                 ▲                                                    ─► limits ─► rest / ws_api + sign
//!  exchangeInfo ──┘  ExchangeInfo::from_json: every filter, unknown ones kept and listed
//!
//!  answers, executionReports ─► orders (state machine, dedup by trade id) ─► ledger fill / release
//!  market frames ─► stream (decode + sanitize) ─► book / ring / History
//! ```
//!
//! The core is sans-IO: it never reads a clock, never spawns, never touches a socket. Time and
//! seeds are inputs, which is what lets every failure scenario be replayed exactly.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]
#![warn(missing_debug_implementations, unreachable_pub)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing))]

pub mod book;
#[cfg(feature = "client")]
pub mod client;
pub mod clock;
mod decode;
pub mod engine;
mod fast_hash;
pub mod ledger;
pub mod limits;
pub mod model;
pub mod num;
pub mod orders;
pub mod paper;
pub mod rest;
pub mod ring;
pub mod rules;
pub mod sign;
pub mod stream;
#[cfg(feature = "client")]
pub mod transport;
pub mod ws_api;

pub use decode::DecodeError;
pub use model::{
    ClientOrderId, ClientOrderIdError, ClientOrderIdGenerator, ExecutionType, OrderError, OrderRequest,
    OrderResponseType, OrderStatus, OrderType, RateLimitInterval, RateLimitType, SelfTradePreventionMode, Side,
    SymbolStatus, TimeInForce,
};
pub use num::{NumError, Rounding};
pub use rules::{
    ExchangeInfo, Filter, FilterError, FilterKind, MarketContext, NormalizeOptions, RateLimit, SymbolRules,
    ValidatedOrder, Violation,
};
/// The decimal type used for every price, quantity, notional and balance.
pub use rust_decimal::Decimal;
