//! The vocabulary of Binance Spot trading: sides, order types, statuses, client order ids and
//! the new-order request.
//!
//! This module owns the shapes and their wire names; it does not know any symbol's rules (that
//! is `rules`) nor how a request is signed or sent. Unknown enum values from the exchange decode
//! to an `Unknown(String)` variant, so a value Binance adds tomorrow never breaks decoding.

mod client_order_id;
mod enums;
mod inline_str;
mod order;
mod order_list;

pub(crate) use client_order_id::splitmix64;
pub use client_order_id::{
    CLIENT_ORDER_ID_MAX_LEN, CLIENT_ORDER_ID_MAX_PREFIX, ClientOrderId, ClientOrderIdError, ClientOrderIdGenerator,
};
pub(crate) use enums::Coded;
pub use enums::{
    ExecutionType, OrderResponseType, OrderStatus, OrderType, PegPriceType, RateLimitInterval, RateLimitType,
    SelfTradePreventionMode, Side, SymbolStatus, TimeInForce,
};
pub use inline_str::InlineStr;
pub use order::{MAX_PEG_OFFSET_LEVELS, MIN_STRATEGY_TYPE, OrderError, OrderRequest};
pub(crate) use order::{mantissa_within_wire_range, within_wire_range};
pub use order_list::{ListLeg, ListRequest, OcoRequest, OtoKind, OtoRequest, PendingLegs};
