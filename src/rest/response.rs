//! Response decoding: typed structs for the Spot REST answers, money as strict `Decimal`,
//! tolerant of unknown fields and new enum values.

use rust_decimal::Decimal;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

use super::error::ApiError;
use crate::decode::DecodeError;
use crate::model::{OrderStatus, OrderType, SelfTradePreventionMode, Side, TimeInForce};
use crate::num::serde_str;

/// Why a response could not be turned into its type.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResponseError {
    /// Binance answered with an error.
    #[error("{0}")]
    Api(ApiError),
    /// A success status with a body that could not be read. For an order this means the
    /// outcome is unknown: query it, do not resend.
    #[error("unreadable success body: {0}")]
    Decode(DecodeError),
}

/// Decodes a REST answer: a 2xx body into `T`, anything else into an [`ApiError`].
///
/// `retry_after` is the `Retry-After` header's value, `now_ms` the local arrival time.
///
/// # Errors
/// [`ResponseError::Api`] for an error status, [`ResponseError::Decode`] for an unreadable
/// success body.
pub fn decode<T: DeserializeOwned>(
    status: u16,
    body: &[u8],
    retry_after: Option<&str>,
    now_ms: i64,
) -> Result<T, ResponseError> {
    if !(200..300).contains(&status) {
        return Err(ResponseError::Api(ApiError::from_parts(status, body, retry_after, now_ms)));
    }
    serde_json::from_slice(body).map_err(|e| ResponseError::Decode(e.into()))
}

fn opt_decimal<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
    serde_str::decimal(d).map(Some)
}

fn opt_signed_decimal<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
    serde_str::signed_decimal(d).map(Some)
}

/// `GET /api/v3/time`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerTime {
    /// Server time (ms).
    pub server_time: i64,
}

/// One fill of an order (`fills` in a FULL response).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Fill {
    /// Fill price.
    #[serde(deserialize_with = "serde_str::decimal")]
    pub price: Decimal,
    /// Fill quantity.
    #[serde(deserialize_with = "serde_str::decimal")]
    pub qty: Decimal,
    /// Commission charged.
    #[serde(deserialize_with = "serde_str::decimal")]
    pub commission: Decimal,
    /// Asset the commission was charged in.
    pub commission_asset: String,
    /// Trade id.
    pub trade_id: i64,
}

/// `POST /api/v3/order` in any response type: ACK has only the ids and time; RESULT adds the
/// order's state; FULL adds `fills`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderResponse {
    /// Symbol.
    pub symbol: String,
    /// Exchange order id.
    pub order_id: u64,
    /// Order list id (-1 for a single order).
    #[serde(default = "minus_one")]
    pub order_list_id: i64,
    /// Client order id.
    pub client_order_id: String,
    /// Transaction time (ms).
    pub transact_time: i64,
    /// Limit price (RESULT / FULL).
    #[serde(default, deserialize_with = "opt_decimal")]
    pub price: Option<Decimal>,
    /// Original quantity (RESULT / FULL).
    #[serde(default, deserialize_with = "opt_decimal")]
    pub orig_qty: Option<Decimal>,
    /// Executed quantity (RESULT / FULL).
    #[serde(default, deserialize_with = "opt_decimal")]
    pub executed_qty: Option<Decimal>,
    /// Original quote quantity (RESULT / FULL).
    #[serde(default, deserialize_with = "opt_decimal")]
    pub orig_quote_order_qty: Option<Decimal>,
    /// Cumulative quote quantity (Binance's spelling: `cummulativeQuoteQty`).
    #[serde(default, rename = "cummulativeQuoteQty", deserialize_with = "opt_signed_decimal")]
    pub cumulative_quote_qty: Option<Decimal>,
    /// Status (RESULT / FULL).
    #[serde(default)]
    pub status: Option<OrderStatus>,
    /// Time in force (RESULT / FULL).
    #[serde(default)]
    pub time_in_force: Option<TimeInForce>,
    /// Order type (RESULT / FULL).
    #[serde(default, rename = "type")]
    pub order_type: Option<OrderType>,
    /// Side (RESULT / FULL).
    #[serde(default)]
    pub side: Option<Side>,
    /// When the order started working (ms).
    #[serde(default)]
    pub working_time: Option<i64>,
    /// Self-trade prevention mode.
    #[serde(default)]
    pub self_trade_prevention_mode: Option<SelfTradePreventionMode>,
    /// Why the order expired, when it did (since 2026-03).
    #[serde(default)]
    pub expiry_reason: Option<String>,
    /// Fills (FULL).
    #[serde(default)]
    pub fills: Vec<Fill>,
}

fn minus_one() -> i64 {
    -1
}

/// An order as `GET /api/v3/order`, `GET /api/v3/openOrders` and `DELETE /api/v3/order`
/// describe it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderInfo {
    /// Symbol.
    pub symbol: String,
    /// Exchange order id.
    pub order_id: u64,
    /// Order list id (-1 for a single order).
    #[serde(default = "minus_one")]
    pub order_list_id: i64,
    /// Client order id (for a cancel: the cancel's own id).
    pub client_order_id: String,
    /// The cancelled order's client order id (cancel responses only).
    #[serde(default)]
    pub orig_client_order_id: Option<String>,
    /// Limit price.
    #[serde(deserialize_with = "serde_str::decimal")]
    pub price: Decimal,
    /// Original quantity.
    #[serde(deserialize_with = "serde_str::decimal")]
    pub orig_qty: Decimal,
    /// Executed quantity.
    #[serde(deserialize_with = "serde_str::decimal")]
    pub executed_qty: Decimal,
    /// Cumulative quote quantity; negative for some historical orders ("not available").
    #[serde(rename = "cummulativeQuoteQty", deserialize_with = "serde_str::signed_decimal")]
    pub cumulative_quote_qty: Decimal,
    /// Status.
    pub status: OrderStatus,
    /// Time in force.
    pub time_in_force: TimeInForce,
    /// Order type.
    #[serde(rename = "type")]
    pub order_type: OrderType,
    /// Side.
    pub side: Side,
    /// Stop price (zero when none).
    #[serde(default, deserialize_with = "opt_decimal")]
    pub stop_price: Option<Decimal>,
    /// Iceberg quantity (zero when none).
    #[serde(default, deserialize_with = "opt_decimal")]
    pub iceberg_qty: Option<Decimal>,
    /// Creation time (ms).
    #[serde(default)]
    pub time: Option<i64>,
    /// Last update (ms).
    #[serde(default)]
    pub update_time: Option<i64>,
    /// Cancel time (ms, cancel responses).
    #[serde(default)]
    pub transact_time: Option<i64>,
    /// Whether it is on the book.
    #[serde(default)]
    pub is_working: Option<bool>,
    /// Original quote quantity.
    #[serde(default, deserialize_with = "opt_decimal")]
    pub orig_quote_order_qty: Option<Decimal>,
    /// Self-trade prevention mode.
    #[serde(default)]
    pub self_trade_prevention_mode: Option<SelfTradePreventionMode>,
}

/// One balance of `GET /api/v3/account`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AssetBalance {
    /// Asset.
    pub asset: String,
    /// Free amount.
    #[serde(deserialize_with = "serde_str::decimal")]
    pub free: Decimal,
    /// Locked amount.
    #[serde(deserialize_with = "serde_str::decimal")]
    pub locked: Decimal,
}

/// `commissionRates` of `GET /api/v3/account`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CommissionRates {
    /// Maker rate.
    #[serde(deserialize_with = "serde_str::decimal")]
    pub maker: Decimal,
    /// Taker rate.
    #[serde(deserialize_with = "serde_str::decimal")]
    pub taker: Decimal,
    /// Buyer rate.
    #[serde(deserialize_with = "serde_str::decimal")]
    pub buyer: Decimal,
    /// Seller rate.
    #[serde(deserialize_with = "serde_str::decimal")]
    pub seller: Decimal,
}

/// `GET /api/v3/account`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    /// Commission rates.
    pub commission_rates: Option<CommissionRates>,
    /// Whether the account may trade.
    pub can_trade: bool,
    /// Whether it may withdraw.
    #[serde(default)]
    pub can_withdraw: bool,
    /// Whether it may deposit.
    #[serde(default)]
    pub can_deposit: bool,
    /// Last update (ms).
    #[serde(default)]
    pub update_time: i64,
    /// `SPOT`.
    #[serde(default)]
    pub account_type: String,
    /// Balances.
    pub balances: Vec<AssetBalance>,
    /// Permissions.
    #[serde(default)]
    pub permissions: Vec<String>,
    /// Account id.
    #[serde(default)]
    pub uid: Option<u64>,
}

/// A price level: `[price, quantity]` as two decimal strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Level {
    /// Price.
    pub price: Decimal,
    /// Quantity (absolute; 0 removes the level in a diff).
    pub qty: Decimal,
}

impl<'de> Deserialize<'de> for Level {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Pair(
            #[serde(deserialize_with = "serde_str::decimal")] Decimal,
            #[serde(deserialize_with = "serde_str::decimal")] Decimal,
        );
        let Pair(price, qty) = Pair::deserialize(d)?;
        Ok(Level { price, qty })
    }
}

/// `GET /api/v3/depth`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DepthSnapshot {
    /// The book's update id.
    pub last_update_id: u64,
    /// Bids, best first.
    pub bids: Vec<Level>,
    /// Asks, best first.
    pub asks: Vec<Level>,
}

/// `GET /api/v3/avgPrice`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AvgPrice {
    /// Averaging window (minutes).
    pub mins: u64,
    /// The average price.
    #[serde(deserialize_with = "serde_str::decimal")]
    pub price: Decimal,
    /// Last trade time of the window (ms).
    #[serde(default)]
    pub close_time: Option<i64>,
}

/// `GET /api/v3/ticker/price` for one symbol.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TickerPrice {
    /// Symbol.
    pub symbol: String,
    /// Last price.
    #[serde(deserialize_with = "serde_str::decimal")]
    pub price: Decimal,
}

/// `GET /api/v3/ticker/bookTicker` for one symbol.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BookTicker {
    /// Symbol.
    pub symbol: String,
    /// Best bid.
    #[serde(deserialize_with = "serde_str::decimal")]
    pub bid_price: Decimal,
    /// Its quantity.
    #[serde(deserialize_with = "serde_str::decimal")]
    pub bid_qty: Decimal,
    /// Best ask.
    #[serde(deserialize_with = "serde_str::decimal")]
    pub ask_price: Decimal,
    /// Its quantity.
    #[serde(deserialize_with = "serde_str::decimal")]
    pub ask_qty: Decimal,
}

/// One trade of `GET /api/v3/trades`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicTrade {
    /// Trade id.
    pub id: u64,
    /// Price.
    #[serde(deserialize_with = "serde_str::decimal")]
    pub price: Decimal,
    /// Quantity.
    #[serde(deserialize_with = "serde_str::decimal")]
    pub qty: Decimal,
    /// Quote quantity.
    #[serde(deserialize_with = "serde_str::decimal")]
    pub quote_qty: Decimal,
    /// Time (ms).
    pub time: i64,
    /// Whether the buyer was the maker.
    pub is_buyer_maker: bool,
}

/// One entry of `GET /api/v3/rateLimit/order`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RateLimitCount {
    /// `ORDERS`.
    pub rate_limit_type: crate::model::RateLimitType,
    /// Interval unit.
    pub interval: crate::model::RateLimitInterval,
    /// Interval count.
    pub interval_num: u64,
    /// Limit.
    pub limit: u64,
    /// Current count.
    pub count: u64,
}
