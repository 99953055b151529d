//! The sans-IO REST layer: one builder per Spot endpoint producing `http::Request<Bytes>` with
//! its rate-limit cost, typed response decoding, and `ApiError` with what each error means for
//! the request (rejected, rate limited, banned, unknown, auth, timestamp).
//!
//! This module builds and reads messages; it never sends one and never reads a clock. Signed
//! requests put every parameter in the query string (a new or test order: in an
//! `application/x-www-form-urlencoded` body), percent-encoded, with `recvWindow`, `timestamp` and
//! the signature last: the signed payload is exactly the bytes on the wire.

mod error;
pub(crate) mod fast;
mod request;
mod response;

pub use error::{ApiError, Outcome, Rejection};
pub(crate) use error::{banned_until, retry_after_at};
pub use request::{
    BuildError, CancelReplaceMode, CancelReplaceOptions, CancelRestrictions, Environment, HistoryQuery, ListRef,
    OrderRateLimitExceededMode, OrderRef, PreventedMatches, RequestCost, Rest, RestRequest,
};
pub use response::{
    Account, AccountCommission, AggTrade, Allocation, AmendResponse, AmendedOrder, AssetBalance, AvgPrice, BookTicker,
    CancelReplace, CancelledEntry, CommissionRates, DepthSnapshot, Discount, Fill, Kline, Level, ListMember, MyFilters,
    MyTrade, OrderAmendment, OrderCommissionRates, OrderInfo, OrderList, OrderResponse, PreventedMatch, PublicTrade,
    RateLimitCount, Rates, ReferencePrice, ResponseError, ServerTime, TestOrderAccepted, TickerPrice, decode,
};
