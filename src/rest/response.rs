//! Response decoding: typed structs for the Spot REST answers, money as strict `Decimal`,
//! tolerant of unknown fields and new enum values.

use rust_decimal::{Decimal, RoundingStrategy};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

use super::error::ApiError;
use crate::decode::DecodeError;
use crate::model::{OrderStatus, OrderType, PegPriceType, SelfTradePreventionMode, Side, TimeInForce};
use crate::num::serde_str;
use crate::orders::{OpenOrder, OrderReport, OrderTrade};

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
    /// Trade id (`-1` for a fill by allocation: SOR).
    pub trade_id: i64,
    /// `ONE_PARTY_TRADE_REPORT` for a fill by allocation (SOR), else absent.
    #[serde(default)]
    pub match_type: Option<String>,
    /// The allocation that made the fill (SOR), else absent.
    #[serde(default)]
    pub alloc_id: Option<i64>,
}

impl Fill {
    /// The fill as a trade of its order: its quote amount is `price × qty`, truncated to 8
    /// decimals as Binance truncates `cummulativeQuoteQty`; a fill by allocation (SOR: `tradeId`
    /// -1) counts by its allocation id ([`fill_key`](crate::fill_key)). `None` for an
    /// impossible id or an overflowing amount.
    #[must_use]
    pub fn trade(&self) -> Option<OrderTrade<'_>> {
        let quote = self.price.checked_mul(self.qty)?.round_dp_with_strategy(8, RoundingStrategy::ToZero);
        Some(OrderTrade {
            id: crate::orders::fill_key(self.trade_id, self.alloc_id)?,
            order_id: None,
            base_qty: self.qty,
            quote_qty: quote,
            commission: self.commission,
            commission_asset: Some(self.commission_asset.as_str()),
        })
    }
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
    /// Client order id (a cancel's own id in a list's cancel report).
    pub client_order_id: String,
    /// The order's client order id when this reports a cancel (a list's cancel report).
    #[serde(default)]
    pub orig_client_order_id: Option<String>,
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
    /// The prevented match that expired (part of) it, when self-trade prevention did.
    #[serde(default)]
    pub prevented_match_id: Option<i64>,
    /// The quantity self-trade prevention took from it, when it did.
    #[serde(default, deserialize_with = "opt_decimal")]
    pub prevented_quantity: Option<Decimal>,
    /// `pegPriceType`, for a pegged order.
    #[serde(default)]
    pub peg_price_type: Option<PegPriceType>,
    /// `pegOffsetType` (`PRICE_LEVEL`), for a pegged order with an offset.
    #[serde(default)]
    pub peg_offset_type: Option<String>,
    /// `pegOffsetValue` (price levels), for a pegged order with an offset.
    #[serde(default)]
    pub peg_offset_value: Option<i64>,
    /// `peggedPrice`: the price a pegged order took from the book, once determined.
    #[serde(default, deserialize_with = "opt_decimal")]
    pub pegged_price: Option<Decimal>,
    /// `strategyId`, when the order has one.
    #[serde(default)]
    pub strategy_id: Option<i64>,
    /// `strategyType`, when the order has one.
    #[serde(default)]
    pub strategy_type: Option<i64>,
}

impl OrderResponse {
    /// Reads a 2xx body of `POST /api/v3/order` (any `newOrderRespType`): Binance's own compact
    /// form in one pass without serde, anything else (whitespace, escapes, keys in any order,
    /// nested unknown fields) through serde; both read the same fields the same way.
    ///
    /// ```
    /// use aegis_exchange::rest::OrderResponse;
    /// let body = br#"{"symbol":"BTCUSDT","orderId":28,"orderListId":-1,"clientOrderId":"6gCrw2kRUAF9CvJDGP16IP","transactTime":1507725176595}"#;
    /// let ack = OrderResponse::from_json(body).unwrap();
    /// assert_eq!((ack.order_id, ack.status), (28, None));
    /// ```
    ///
    /// # Errors
    /// The body is not a placed order's answer.
    pub fn from_json(body: &[u8]) -> Result<Self, serde_json::Error> {
        match super::fast::order_response(body) {
            Some(r) => Ok(r),
            None => serde_json::from_slice(body),
        }
    }

    /// The answer as a report of the order (an ACK says only that the order exists: `NEW`).
    #[must_use]
    pub fn report(&self) -> OrderReport<'_> {
        OrderReport {
            client_order_id: &self.client_order_id,
            orig_client_order_id: self.orig_client_order_id.as_deref().filter(|s| !s.is_empty()),
            order_id: self.order_id,
            status: Some(self.status.as_ref().unwrap_or(&OrderStatus::New)),
            executed_qty: self.executed_qty,
            cumulative_quote_qty: self.cumulative_quote_qty,
            reject_reason: None,
            qty: self.orig_qty.filter(|q| !q.is_zero()),
            prevented_qty: self.prevented_quantity,
            pegged_price: self.pegged_price.filter(|p| !p.is_zero()),
        }
    }

    /// The trades of a FULL answer.
    pub fn trades(&self) -> impl Iterator<Item = OrderTrade<'_>> {
        self.fills.iter().filter_map(Fill::trade)
    }
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
    /// The prevented match that expired (part of) it, when self-trade prevention did.
    #[serde(default)]
    pub prevented_match_id: Option<i64>,
    /// The quantity self-trade prevention took from it, when it did.
    #[serde(default, deserialize_with = "opt_decimal")]
    pub prevented_quantity: Option<Decimal>,
    /// `pegPriceType`, for a pegged order.
    #[serde(default)]
    pub peg_price_type: Option<PegPriceType>,
    /// `pegOffsetType` (`PRICE_LEVEL`), for a pegged order with an offset.
    #[serde(default)]
    pub peg_offset_type: Option<String>,
    /// `pegOffsetValue` (price levels), for a pegged order with an offset.
    #[serde(default)]
    pub peg_offset_value: Option<i64>,
    /// `peggedPrice`: the price a pegged order took from the book, once determined.
    #[serde(default, deserialize_with = "opt_decimal")]
    pub pegged_price: Option<Decimal>,
    /// `strategyId`, when the order has one.
    #[serde(default)]
    pub strategy_id: Option<i64>,
    /// `strategyType`, when the order has one.
    #[serde(default)]
    pub strategy_type: Option<i64>,
}

impl OrderInfo {
    /// The order as a report (a query's or a cancel's answer; a negative
    /// `cummulativeQuoteQty`, "not available" on some historical orders, is left out).
    #[must_use]
    pub fn report(&self) -> OrderReport<'_> {
        OrderReport {
            client_order_id: &self.client_order_id,
            orig_client_order_id: self.orig_client_order_id.as_deref().filter(|s| !s.is_empty()),
            order_id: self.order_id,
            status: Some(&self.status),
            executed_qty: Some(self.executed_qty),
            cumulative_quote_qty: Some(self.cumulative_quote_qty).filter(|q| !q.is_sign_negative()),
            reject_reason: None,
            qty: Some(self.orig_qty).filter(|q| !q.is_zero()),
            prevented_qty: self.prevented_quantity,
            pegged_price: self.pegged_price.filter(|p| !p.is_zero()),
        }
    }

    /// The order as one open on the exchange, to be adopted.
    #[must_use]
    pub fn open_order(&self) -> OpenOrder<'_> {
        OpenOrder {
            client_order_id: &self.client_order_id,
            symbol: &self.symbol,
            side: &self.side,
            order_id: self.order_id,
            status: &self.status,
            // A pegged order rests (and locks) at the price it took from the book.
            price: self.pegged_price.filter(|p| !p.is_zero()).unwrap_or(self.price),
            orig_qty: self.orig_qty,
            executed_qty: self.executed_qty,
            cumulative_quote_qty: self.cumulative_quote_qty,
            stop_price: self.stop_price.unwrap_or_default(),
            prevented_qty: self.prevented_quantity.unwrap_or_default(),
        }
    }
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

/// One kline of `GET /api/v3/klines` (a 12-element JSON array).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kline {
    /// Open time (ms).
    pub open_time: i64,
    /// Open.
    pub open: Decimal,
    /// High.
    pub high: Decimal,
    /// Low.
    pub low: Decimal,
    /// Close.
    pub close: Decimal,
    /// Base volume.
    pub volume: Decimal,
    /// Close time (ms).
    pub close_time: i64,
    /// Quote volume.
    pub quote_volume: Decimal,
    /// Number of trades.
    pub trades: u64,
    /// Taker buy base volume.
    pub taker_buy_base_volume: Decimal,
    /// Taker buy quote volume.
    pub taker_buy_quote_volume: Decimal,
}

impl<'de> Deserialize<'de> for Kline {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw(
            i64,
            #[serde(deserialize_with = "serde_str::decimal")] Decimal,
            #[serde(deserialize_with = "serde_str::decimal")] Decimal,
            #[serde(deserialize_with = "serde_str::decimal")] Decimal,
            #[serde(deserialize_with = "serde_str::decimal")] Decimal,
            #[serde(deserialize_with = "serde_str::decimal")] Decimal,
            i64,
            #[serde(deserialize_with = "serde_str::decimal")] Decimal,
            u64,
            #[serde(deserialize_with = "serde_str::decimal")] Decimal,
            #[serde(deserialize_with = "serde_str::decimal")] Decimal,
            serde::de::IgnoredAny,
        );
        let r = Raw::deserialize(d)?;
        Ok(Kline {
            open_time: r.0,
            open: r.1,
            high: r.2,
            low: r.3,
            close: r.4,
            volume: r.5,
            close_time: r.6,
            quote_volume: r.7,
            trades: r.8,
            taker_buy_base_volume: r.9,
            taker_buy_quote_volume: r.10,
        })
    }
}

/// One aggregate trade of `GET /api/v3/aggTrades`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AggTrade {
    /// `a` aggregate trade id.
    #[serde(rename = "a")]
    pub id: u64,
    /// `p` price.
    #[serde(rename = "p", deserialize_with = "serde_str::decimal")]
    pub price: Decimal,
    /// `q` quantity.
    #[serde(rename = "q", deserialize_with = "serde_str::decimal")]
    pub qty: Decimal,
    /// `f` first trade id.
    #[serde(rename = "f")]
    pub first_trade_id: u64,
    /// `l` last trade id.
    #[serde(rename = "l")]
    pub last_trade_id: u64,
    /// `T` time (ms).
    #[serde(rename = "T")]
    pub time: i64,
    /// `m` whether the buyer was the maker.
    #[serde(rename = "m")]
    pub is_buyer_maker: bool,
}

/// One match self-trade prevention stopped (`GET /api/v3/myPreventedMatches`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreventedMatch {
    /// Symbol.
    pub symbol: String,
    /// The prevented match's id.
    pub prevented_match_id: u64,
    /// The taker order.
    pub taker_order_id: u64,
    /// The maker order's symbol.
    pub maker_symbol: String,
    /// The maker order.
    pub maker_order_id: u64,
    /// The trade group.
    pub trade_group_id: i64,
    /// The STP mode that acted.
    pub self_trade_prevention_mode: SelfTradePreventionMode,
    /// The price.
    #[serde(deserialize_with = "serde_str::decimal")]
    pub price: Decimal,
    /// The taker's quantity the prevention took (`EXPIRE_TAKER`, `EXPIRE_BOTH`, `DECREMENT`,
    /// `TRANSFER`; absent otherwise).
    #[serde(default, deserialize_with = "opt_decimal")]
    pub taker_prevented_quantity: Option<Decimal>,
    /// The maker's quantity the prevention took (`EXPIRE_MAKER`, `EXPIRE_BOTH`, `DECREMENT`,
    /// `TRANSFER`; absent otherwise).
    #[serde(default, deserialize_with = "opt_decimal")]
    pub maker_prevented_quantity: Option<Decimal>,
    /// When (ms).
    pub transact_time: i64,
}

impl PreventedMatch {
    /// The record as the order tracker takes it.
    #[must_use]
    pub fn prevention(&self) -> crate::orders::Prevention<'_> {
        crate::orders::Prevention {
            id: self.prevented_match_id,
            symbol: &self.symbol,
            taker_order_id: self.taker_order_id,
            maker_symbol: &self.maker_symbol,
            maker_order_id: self.maker_order_id,
            trade_group_id: self.trade_group_id,
            transfer: self.self_trade_prevention_mode == SelfTradePreventionMode::Transfer,
            price: self.price,
            taker_qty: self.taker_prevented_quantity,
            maker_qty: self.maker_prevented_quantity,
        }
    }
}

/// One allocation of a SOR order (`GET /api/v3/myAllocations`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Allocation {
    /// Symbol.
    pub symbol: String,
    /// The allocation's id.
    pub allocation_id: u64,
    /// `SOR`.
    pub allocation_type: String,
    /// The order.
    pub order_id: u64,
    /// Order list id (-1 for none).
    #[serde(default = "minus_one")]
    pub order_list_id: i64,
    /// Price.
    #[serde(deserialize_with = "serde_str::decimal")]
    pub price: Decimal,
    /// Quantity.
    #[serde(deserialize_with = "serde_str::decimal")]
    pub qty: Decimal,
    /// Quote quantity.
    #[serde(deserialize_with = "serde_str::decimal")]
    pub quote_qty: Decimal,
    /// Commission.
    #[serde(deserialize_with = "serde_str::decimal")]
    pub commission: Decimal,
    /// Commission asset.
    pub commission_asset: String,
    /// Time (ms).
    pub time: i64,
    /// Whether the account bought.
    pub is_buyer: bool,
    /// Whether the account was the maker.
    pub is_maker: bool,
    /// Whether the account was the allocator.
    pub is_allocator: bool,
}

/// One trade of `GET /api/v3/myTrades`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MyTrade {
    /// Symbol.
    pub symbol: String,
    /// Trade id.
    pub id: u64,
    /// Order id.
    pub order_id: u64,
    /// Order list id (-1 for none).
    #[serde(default = "minus_one")]
    pub order_list_id: i64,
    /// Price.
    #[serde(deserialize_with = "serde_str::decimal")]
    pub price: Decimal,
    /// Quantity.
    #[serde(deserialize_with = "serde_str::decimal")]
    pub qty: Decimal,
    /// Quote quantity.
    #[serde(deserialize_with = "serde_str::decimal")]
    pub quote_qty: Decimal,
    /// Commission.
    #[serde(deserialize_with = "serde_str::decimal")]
    pub commission: Decimal,
    /// Commission asset.
    pub commission_asset: String,
    /// Time (ms).
    pub time: i64,
    /// Whether the account bought.
    pub is_buyer: bool,
    /// Whether the account was the maker.
    pub is_maker: bool,
}

impl MyTrade {
    /// The row as a trade of its order.
    #[must_use]
    pub fn trade(&self) -> OrderTrade<'_> {
        OrderTrade {
            id: self.id,
            order_id: Some(self.order_id),
            base_qty: self.qty,
            quote_qty: self.quote_qty,
            commission: self.commission,
            commission_asset: Some(self.commission_asset.as_str()),
        }
    }
}

impl Allocation {
    /// The allocation as a fill of its order (counted by its allocation id:
    /// [`fill_key`](crate::fill_key)); `None` for an id out of range.
    #[must_use]
    pub fn trade(&self) -> Option<OrderTrade<'_>> {
        Some(OrderTrade {
            id: crate::fill_key(-1, i64::try_from(self.allocation_id).ok())?,
            order_id: Some(self.order_id),
            base_qty: self.qty,
            quote_qty: self.quote_qty,
            commission: self.commission,
            commission_asset: Some(self.commission_asset.as_str()),
        })
    }
}

/// A set of commission rates (`buyer` / `seller` only where the endpoint gives them).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Rates {
    /// Maker rate.
    #[serde(deserialize_with = "serde_str::decimal")]
    pub maker: Decimal,
    /// Taker rate.
    #[serde(deserialize_with = "serde_str::decimal")]
    pub taker: Decimal,
    /// Buyer rate.
    #[serde(default, deserialize_with = "opt_decimal")]
    pub buyer: Option<Decimal>,
    /// Seller rate.
    #[serde(default, deserialize_with = "opt_decimal")]
    pub seller: Option<Decimal>,
}

/// The BNB discount on commissions.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Discount {
    /// Enabled for the account.
    pub enabled_for_account: bool,
    /// Enabled for the symbol.
    pub enabled_for_symbol: bool,
    /// The discount asset (BNB).
    pub discount_asset: String,
    /// The discount factor.
    #[serde(deserialize_with = "serde_str::decimal")]
    pub discount: Decimal,
}

/// `POST /api/v3/order/test` with `computeCommissionRates=true`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderCommissionRates {
    /// Standard commission for this order.
    pub standard_commission_for_order: Rates,
    /// Special commission.
    pub special_commission_for_order: Option<Rates>,
    /// Tax commission.
    pub tax_commission_for_order: Rates,
    /// Discount.
    pub discount: Discount,
}

/// `GET /api/v3/account/commission`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountCommission {
    /// Symbol.
    pub symbol: String,
    /// Standard commission.
    pub standard_commission: Rates,
    /// Special commission.
    pub special_commission: Option<Rates>,
    /// Tax commission.
    pub tax_commission: Rates,
    /// Discount.
    pub discount: Discount,
}

/// `POST /api/v3/order/cancelReplace` on success, or the `data` of its `-2021` / `-2022` error.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CancelReplace {
    /// `SUCCESS` or `FAILURE`.
    pub cancel_result: String,
    /// `SUCCESS`, `FAILURE` or `NOT_ATTEMPTED`.
    pub new_order_result: String,
    /// The cancelled order, or an error object when the cancel failed.
    pub cancel_response: Option<serde_json::Value>,
    /// The new order, or an error object, or null when not attempted.
    pub new_order_response: Option<serde_json::Value>,
}

impl CancelReplace {
    /// Reads the `data` of a `-2021` / `-2022` error body.
    ///
    /// # Errors
    /// [`DecodeError`] when the body has no such data.
    pub fn from_error_body(body: &[u8]) -> Result<Self, DecodeError> {
        #[derive(Deserialize)]
        struct Wrapper {
            data: CancelReplace,
        }
        Ok(serde_json::from_slice::<Wrapper>(body)?.data)
    }

    /// The cancelled order, when the cancel succeeded.
    #[must_use]
    pub fn cancelled(&self) -> Option<OrderInfo> {
        self.cancel_response.clone().and_then(|v| serde_json::from_value(v).ok())
    }

    /// The new order, when it was placed.
    #[must_use]
    pub fn new_order(&self) -> Option<OrderResponse> {
        self.new_order_response.clone().and_then(|v| serde_json::from_value(v).ok())
    }
}

/// One order of an order list, as the list names it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListMember {
    /// Symbol.
    pub symbol: String,
    /// Order id.
    pub order_id: u64,
    /// Client order id.
    pub client_order_id: String,
}

/// An order list (OCO, OTO, ...): the answer to its placement (with `orderReports`), its
/// cancel (the reports of the canceled orders) or a query (`GET /api/v3/orderList`, without
/// reports).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderList {
    /// Order list id.
    pub order_list_id: i64,
    /// `OCO`, `OTO`, `OTOCO`, `OPO`, `OPOCO`.
    pub contingency_type: String,
    /// `RESPONSE`, `EXEC_STARTED`, `UPDATED`, `ALL_DONE`.
    pub list_status_type: String,
    /// `EXECUTING`, `ALL_DONE`, `REJECT`.
    pub list_order_status: String,
    /// The list's client order id.
    pub list_client_order_id: String,
    /// Transaction time (ms).
    pub transaction_time: i64,
    /// Symbol.
    pub symbol: String,
    /// The orders of the list.
    pub orders: Vec<ListMember>,
    /// Each order's report (placement in the `newOrderRespType` shape; cancel), when given.
    #[serde(default)]
    pub order_reports: Vec<OrderResponse>,
}

impl OrderList {
    /// Whether the list has ended (`ALL_DONE`) or was refused (`REJECT`).
    #[must_use]
    pub fn is_done(&self) -> bool {
        matches!(self.list_order_status.as_str(), "ALL_DONE" | "REJECT")
    }
}

/// One entry of `DELETE /api/v3/openOrders`: a cancelled order, or an order list's report.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CancelledEntry {
    /// A single cancelled order.
    Order(Box<OrderInfo>),
    /// An order list (OCO, ...) with its orders' reports.
    OrderList {
        /// Order list id.
        order_list_id: i64,
        /// `OCO`, `OTO`, ...
        contingency_type: String,
        /// The cancelled orders of the list.
        order_reports: Vec<OrderInfo>,
    },
}

impl<'de> Deserialize<'de> for CancelledEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let v = serde_json::Value::deserialize(d)?;
        if v.get("contingencyType").is_some() {
            #[derive(Deserialize)]
            #[serde(rename_all = "camelCase")]
            struct List {
                order_list_id: i64,
                contingency_type: String,
                #[serde(default)]
                order_reports: Vec<OrderInfo>,
            }
            let l: List = serde_json::from_value(v).map_err(D::Error::custom)?;
            return Ok(CancelledEntry::OrderList {
                order_list_id: l.order_list_id,
                contingency_type: l.contingency_type,
                order_reports: l.order_reports,
            });
        }
        serde_json::from_value(v).map(|o| CancelledEntry::Order(Box::new(o))).map_err(D::Error::custom)
    }
}

/// One keep-priority amend of an order (`GET /api/v3/order/amendments`, `order.amendments`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderAmendment {
    /// Symbol.
    pub symbol: String,
    /// The order.
    pub order_id: u64,
    /// The amend's execution id.
    pub execution_id: u64,
    /// The order's client order id before the amend.
    pub orig_client_order_id: String,
    /// Its client order id after.
    pub new_client_order_id: String,
    /// The quantity before.
    #[serde(deserialize_with = "serde_str::decimal")]
    pub orig_qty: Decimal,
    /// The quantity after.
    #[serde(deserialize_with = "serde_str::decimal")]
    pub new_qty: Decimal,
    /// When (ms).
    pub time: i64,
}

/// `GET /api/v3/myFilters`: the filters that apply to the account (MAX_ASSET among them).
#[derive(Debug, Clone, PartialEq)]
pub struct MyFilters {
    /// Exchange filters.
    pub exchange_filters: Vec<crate::rules::Filter>,
    /// Symbol filters.
    pub symbol_filters: Vec<crate::rules::Filter>,
    /// Asset filters.
    pub asset_filters: Vec<crate::rules::Filter>,
}

impl<'de> Deserialize<'de> for MyFilters {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Raw {
            #[serde(default)]
            exchange_filters: Vec<serde_json::Value>,
            #[serde(default)]
            symbol_filters: Vec<serde_json::Value>,
            #[serde(default)]
            asset_filters: Vec<serde_json::Value>,
        }
        let r = Raw::deserialize(d)?;
        let conv = |v: Vec<serde_json::Value>| v.iter().map(|f| crate::rules::Filter::from_json_value(f).0).collect();
        Ok(MyFilters {
            exchange_filters: conv(r.exchange_filters),
            symbol_filters: conv(r.symbol_filters),
            asset_filters: conv(r.asset_filters),
        })
    }
}

/// `POST /api/v3/order/test` without commission rates: an empty object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct TestOrderAccepted {}

/// `GET /api/v3/referencePrice`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReferencePrice {
    /// Symbol.
    pub symbol: String,
    /// The reference price; `None` when the symbol has none right now.
    #[serde(default, deserialize_with = "opt_decimal_or_null")]
    pub reference_price: Option<Decimal>,
    /// When it was computed (ms).
    #[serde(default)]
    pub timestamp: Option<i64>,
}

fn opt_decimal_or_null<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
    match Option::<String>::deserialize(d)? {
        Some(s) => crate::num::parse_decimal(&s).map(Some).map_err(serde::de::Error::custom),
        None => Ok(None),
    }
}

/// The amended order in a keep-priority amend response (note the `cumulativeQuoteQty`
/// spelling, unlike the order endpoints' `cummulativeQuoteQty`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AmendedOrder {
    /// Symbol.
    pub symbol: String,
    /// Order id.
    pub order_id: u64,
    /// Client order id.
    pub client_order_id: String,
    /// The new quantity.
    #[serde(deserialize_with = "serde_str::decimal")]
    pub qty: Decimal,
    /// Executed quantity.
    #[serde(deserialize_with = "serde_str::decimal")]
    pub executed_qty: Decimal,
    /// Cumulative quote quantity.
    #[serde(deserialize_with = "serde_str::decimal")]
    pub cumulative_quote_qty: Decimal,
    /// Status.
    pub status: OrderStatus,
}

impl AmendedOrder {
    /// The amended order as a report: its new quantity (the tracker releases the difference).
    #[must_use]
    pub fn report(&self) -> OrderReport<'_> {
        OrderReport {
            client_order_id: &self.client_order_id,
            orig_client_order_id: None,
            order_id: self.order_id,
            status: Some(&self.status),
            executed_qty: Some(self.executed_qty),
            cumulative_quote_qty: Some(self.cumulative_quote_qty).filter(|q| !q.is_sign_negative()),
            reject_reason: None,
            qty: Some(self.qty),
            prevented_qty: None,
            pegged_price: None,
        }
    }
}

/// `PUT /api/v3/order/amend/keepPriority`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AmendResponse {
    /// Transaction time (ms).
    pub transact_time: i64,
    /// Execution id.
    pub execution_id: i64,
    /// The amended order.
    pub amended_order: AmendedOrder,
}
