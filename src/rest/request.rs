//! Request builders: one method per Spot endpoint, each producing an `http::Request<Bytes>` and
//! its rate-limit cost, signed when the endpoint requires it.

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::{Method, Request};

use crate::clock::{RecvWindow, ServerMs, TimeUnit};
use crate::model::ClientOrderId;
use crate::num::Wire;
use crate::rules::{ValidatedList, ValidatedOco, ValidatedOrder};
use crate::sign::{Credentials, SignedQuery};

/// Where requests go.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Environment {
    /// Binance Spot production.
    Production,
    /// The Spot testnet (virtual funds, reset about monthly).
    Testnet,
    /// Demo mode.
    Demo,
    /// Any other base URLs (a loopback paper exchange, a proxy).
    Custom {
        /// REST base, e.g. `http://127.0.0.1:8080` (no trailing slash).
        rest: String,
        /// WebSocket API URL.
        ws_api: String,
        /// Market streams base.
        streams: String,
    },
}

impl Environment {
    /// The REST base URL (paths are appended, starting with `/api/v3/`).
    #[must_use]
    pub fn rest_base(&self) -> &str {
        match self {
            Environment::Production => "https://api.binance.com",
            Environment::Testnet => "https://testnet.binance.vision",
            Environment::Demo => "https://demo-api.binance.com",
            Environment::Custom { rest, .. } => rest,
        }
    }

    /// The WebSocket API URL.
    #[must_use]
    pub fn ws_api_url(&self) -> &str {
        match self {
            Environment::Production => "wss://ws-api.binance.com:443/ws-api/v3",
            Environment::Testnet => "wss://ws-api.testnet.binance.vision/ws-api/v3",
            Environment::Demo => "wss://demo-ws-api.binance.com/ws-api/v3",
            Environment::Custom { ws_api, .. } => ws_api,
        }
    }

    /// The market streams base (append `/ws/<stream>` or `/stream?streams=`).
    #[must_use]
    pub fn streams_base(&self) -> &str {
        match self {
            Environment::Production => "wss://stream.binance.com:9443",
            Environment::Testnet => "wss://stream.testnet.binance.vision",
            Environment::Demo => "wss://demo-stream.binance.com:9443",
            Environment::Custom { streams, .. } => streams,
        }
    }
}

/// What a request costs against the rate limits (SPEC §5.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RequestCost {
    /// REQUEST_WEIGHT charged when the request fails (and when it succeeds, unless
    /// `weight_on_success` says otherwise).
    pub weight: u32,
    /// REQUEST_WEIGHT charged when it succeeds: 0 for order placement and cancels since
    /// 2026-04-02.
    pub weight_on_success: u32,
    /// Unfilled order count (ORDERS) it adds.
    pub orders: u32,
}

impl RequestCost {
    pub(crate) const fn flat(weight: u32) -> Self {
        Self { weight, weight_on_success: weight, orders: 0 }
    }

    /// `GET /api/v3/time`.
    pub const TIME: Self = Self::flat(1);
    /// `POST /api/v3/orderList/*` for a two-order list (OCO): weight 1, 0 on success; 2 orders.
    pub const NEW_ORDER_LIST: Self = Self { weight: 1, weight_on_success: 0, orders: 2 };
    /// `POST /api/v3/orderList/otoco` / `opoco`: a three-order list (weight 1, 0 on success).
    pub const NEW_ORDER_LIST_3: Self = Self { weight: 1, weight_on_success: 0, orders: 3 };
    /// `POST /api/v3/order/cancelReplace`: weight 1, 0 on success; 1 order (even when the new
    /// order is not attempted).
    pub const CANCEL_REPLACE: Self = Self { weight: 1, weight_on_success: 0, orders: 1 };
    /// `GET /api/v3/myPreventedMatches` by `preventedMatchId` (or for an invalid symbol).
    pub const PREVENTED_MATCH: Self = Self::flat(2);
    /// `GET /api/v3/myPreventedMatches` by `orderId`.
    pub const PREVENTED_MATCHES_BY_ORDER: Self = Self::flat(20);
    /// `GET /api/v3/myAllocations`.
    pub const MY_ALLOCATIONS: Self = Self::flat(20);
    /// `GET /api/v3/allOrderList`.
    pub const ALL_ORDER_LISTS: Self = Self::flat(20);
    /// `GET /api/v3/orderList` (one list).
    pub const QUERY_ORDER_LIST: Self = Self::flat(4);
    /// `GET /api/v3/openOrderList`.
    pub const OPEN_ORDER_LISTS: Self = Self::flat(6);
    /// `PUT /api/v3/order/amend/keepPriority`: weight 4 (0 only when the amend makes the order
    /// expire: charged ahead as 4), no unfilled order count.
    pub const AMEND: Self = Self::flat(4);
    /// `GET /api/v3/exchangeInfo` (any symbols or permissions).
    pub const EXCHANGE_INFO: Self = Self::flat(20);
    /// `POST /api/v3/order`: weight 1 on failure, 0 on success; one order.
    pub const NEW_ORDER: Self = Self { weight: 1, weight_on_success: 0, orders: 1 };
    /// `DELETE /api/v3/order` and `DELETE /api/v3/openOrders`: weight 1 on failure, 0 on success.
    pub const CANCEL: Self = Self { weight: 1, weight_on_success: 0, orders: 0 };
    /// `GET /api/v3/order`.
    pub const QUERY_ORDER: Self = Self::flat(4);
    /// `GET /api/v3/openOrders` for one symbol.
    pub const OPEN_ORDERS_SYMBOL: Self = Self::flat(6);
    /// `GET /api/v3/openOrders` for every symbol.
    pub const OPEN_ORDERS_ALL: Self = Self::flat(80);
    /// `GET /api/v3/account`.
    pub const ACCOUNT: Self = Self::flat(20);
    /// `GET /api/v3/myTrades` with an `orderId`.
    pub const MY_TRADES_BY_ORDER: Self = Self::flat(5);
    /// `GET /api/v3/myTrades` without an `orderId`.
    pub const MY_TRADES: Self = Self::flat(20);
    /// The WebSocket API's `userDataStream.subscribe.signature`.
    pub const WS_USER_DATA_SUBSCRIBE: Self = Self::flat(2);
}

/// A request ready for a transport, with its cost.
#[derive(Debug, Clone)]
pub struct RestRequest {
    /// The HTTP request (parameters in the query string; signature last when signed).
    pub request: Request<Bytes>,
    /// Its rate-limit cost.
    pub cost: RequestCost,
    /// Whether it carries a signature (and so a timestamp and an API key).
    pub signed: bool,
}

/// How to name an existing order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderRef {
    /// By the exchange's order id (fastest lookup).
    OrderId(u64),
    /// By the client order id it was placed with (`origClientOrderId`).
    ClientOrderId(ClientOrderId),
}

/// How to name an existing order list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListRef {
    /// By the exchange's order list id.
    OrderListId(i64),
    /// By the list's client order id (`listClientOrderId`).
    ListClientOrderId(ClientOrderId),
}

/// `cancelReplaceMode`: whether the new order is placed when the cancel fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CancelReplaceMode {
    /// `STOP_ON_FAILURE`: a failed cancel leaves the new order `NOT_ATTEMPTED`.
    #[default]
    StopOnFailure,
    /// `ALLOW_FAILURE`: the new order is placed even when the cancel fails.
    AllowFailure,
}

impl CancelReplaceMode {
    /// Binance's name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::StopOnFailure => "STOP_ON_FAILURE",
            Self::AllowFailure => "ALLOW_FAILURE",
        }
    }
}

/// `cancelRestrictions`: the cancel succeeds only in this state of the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CancelRestrictions {
    /// `ONLY_NEW`: only an order not filled at all.
    OnlyNew,
    /// `ONLY_PARTIALLY_FILLED`: only a partly filled order.
    OnlyPartiallyFilled,
}

impl CancelRestrictions {
    /// Binance's name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OnlyNew => "ONLY_NEW",
            Self::OnlyPartiallyFilled => "ONLY_PARTIALLY_FILLED",
        }
    }
}

/// `orderRateLimitExceededMode`: what happens when the unfilled order count is exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderRateLimitExceededMode {
    /// `DO_NOTHING` (Binance's default): neither the cancel nor the new order is attempted.
    DoNothing,
    /// `CANCEL_ONLY`: the cancel is attempted anyway; the new order fails.
    CancelOnly,
}

impl OrderRateLimitExceededMode {
    /// Binance's name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DoNothing => "DO_NOTHING",
            Self::CancelOnly => "CANCEL_ONLY",
        }
    }
}

/// The options of a cancel-replace (`POST /api/v3/order/cancelReplace`, `order.cancelReplace`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CancelReplaceOptions {
    /// `cancelReplaceMode`.
    pub mode: CancelReplaceMode,
    /// `cancelRestrictions`, if any.
    pub cancel_restrictions: Option<CancelRestrictions>,
    /// `orderRateLimitExceededMode`, if set.
    pub rate_limit_exceeded: Option<OrderRateLimitExceededMode>,
    /// `cancelNewClientOrderId`: the cancel's own id (Binance makes one up without it).
    pub cancel_new_client_order_id: Option<ClientOrderId>,
}

impl CancelReplaceOptions {
    /// The options with `mode` and nothing else.
    #[must_use]
    pub fn new(mode: CancelReplaceMode) -> Self {
        Self { mode, ..Self::default() }
    }

    /// With `cancelRestrictions`.
    #[must_use]
    pub fn with_cancel_restrictions(mut self, restrictions: CancelRestrictions) -> Self {
        self.cancel_restrictions = Some(restrictions);
        self
    }

    /// With `orderRateLimitExceededMode`.
    #[must_use]
    pub fn with_rate_limit_exceeded(mut self, mode: OrderRateLimitExceededMode) -> Self {
        self.rate_limit_exceeded = Some(mode);
        self
    }
}

/// Which prevented matches to list (`GET /api/v3/myPreventedMatches`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreventedMatches {
    /// One, by its `preventedMatchId` (weight 2).
    ById(u64),
    /// An order's (weight 20), from a prevented match id, at most `limit` (Binance: 500 by
    /// default, 1000 at most).
    ByOrder {
        /// The order.
        order_id: u64,
        /// From this prevented match id.
        from_prevented_match_id: Option<u64>,
        /// At most this many.
        limit: Option<u32>,
    },
}

/// The filters of a history query (`myAllocations`, `allOrderList`): an id to start from, a
/// time range (24 h at most), a limit, an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HistoryQuery {
    /// From this id (`fromAllocationId`, `fromId`).
    pub from_id: Option<u64>,
    /// From this time (ms).
    pub start_time: Option<i64>,
    /// Until this time (ms).
    pub end_time: Option<i64>,
    /// At most this many (Binance: 500 by default, 1000 at most).
    pub limit: Option<u32>,
    /// One order's (`myAllocations`).
    pub order_id: Option<u64>,
}

impl HistoryQuery {
    fn push(&self, q: &mut SignedQuery, from_name: &str) {
        if let Some(v) = self.start_time {
            q.push_display("startTime", v);
        }
        if let Some(v) = self.end_time {
            q.push_display("endTime", v);
        }
        if let Some(v) = self.from_id {
            q.push_display(from_name, v);
        }
        if let Some(v) = self.limit {
            q.push_display("limit", v);
        }
        if let Some(v) = self.order_id {
            q.push_display("orderId", v);
        }
    }
}

/// Why a request could not be built.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// A signed endpoint needs credentials.
    #[error("this endpoint needs credentials")]
    NoCredentials,
    /// The URL could not be formed (a bad custom base URL).
    #[error("invalid request URL: {0}")]
    Url(String),
    /// A parameter is out of its documented range.
    #[error("parameter {name}: {reason}")]
    Parameter {
        /// The parameter.
        name: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
}

/// Builds Spot REST requests for one environment and (optionally) one API key.
///
/// Sans-IO: it never sends anything and never reads a clock; signed builders take the
/// timestamp (server time, from [`TimeSync::server_now`](crate::clock::TimeSync::server_now)).
///
/// ```
/// use aegis_exchange::rest::{Environment, Rest};
/// let rest = Rest::new(Environment::Production);
/// let req = rest.depth("BTCUSDT", Some(1000)).unwrap();
/// assert_eq!(req.request.uri(), "https://api.binance.com/api/v3/depth?symbol=BTCUSDT&limit=1000");
/// assert_eq!(req.cost.weight, 50);
/// ```
#[derive(Debug, Clone)]
pub struct Rest {
    env: Environment,
    credentials: Option<Credentials>,
    /// The API key as a header value, made once (`None`: not a valid header value).
    api_key_header: Option<HeaderValue>,
    recv_window: RecvWindow,
    time_unit: TimeUnit,
    /// `<base>/api/v3/order`, parsed once: an order's URI is cloned, not parsed (`None` for a
    /// malformed custom base URL, which then fails when an order is built).
    order_uri: Option<http::Uri>,
}

/// `/api/v3/order`.
const ORDER_PATH: &str = "/api/v3/order";
/// The content type of a form body.
const FORM: HeaderValue = HeaderValue::from_static("application/x-www-form-urlencoded");

/// `X-MBX-APIKEY`.
const API_KEY_HEADER: HeaderName = HeaderName::from_static("x-mbx-apikey");
/// `X-MBX-TIME-UNIT`.
const TIME_UNIT_HEADER: HeaderName = HeaderName::from_static("x-mbx-time-unit");

impl Rest {
    /// Public endpoints only (add credentials for signed ones).
    #[must_use]
    pub fn new(env: Environment) -> Self {
        let order_uri = http::Uri::try_from(format!("{}{ORDER_PATH}", env.rest_base())).ok();
        Self {
            env,
            credentials: None,
            api_key_header: None,
            recv_window: RecvWindow::default(),
            time_unit: TimeUnit::default(),
            order_uri,
        }
    }

    /// Signs with `credentials`.
    #[must_use]
    pub fn with_credentials(mut self, credentials: Credentials) -> Self {
        self.api_key_header = HeaderValue::from_str(credentials.expose_api_key()).ok().map(|mut v| {
            v.set_sensitive(true);
            v
        });
        self.credentials = Some(credentials);
        self
    }

    /// Sets `recvWindow` for signed requests (default 5000 ms).
    #[must_use]
    pub fn with_recv_window(mut self, recv_window: RecvWindow) -> Self {
        self.recv_window = recv_window;
        self
    }

    /// Asks for microsecond timestamps (`X-MBX-TIME-UNIT: MICROSECOND`).
    #[must_use]
    pub fn with_time_unit(mut self, unit: TimeUnit) -> Self {
        self.time_unit = unit;
        self
    }

    /// The environment.
    #[must_use]
    pub fn environment(&self) -> &Environment {
        &self.env
    }

    fn build(
        &self,
        method: Method,
        path: &str,
        query: SignedQuery,
        cost: RequestCost,
    ) -> Result<RestRequest, BuildError> {
        self.finish(method, path, query.into_string(), cost, false)
    }

    fn build_signed(
        &self,
        method: Method,
        path: &str,
        query: SignedQuery,
        timestamp_ms: i64,
        cost: RequestCost,
    ) -> Result<RestRequest, BuildError> {
        let wire = self.sign(query, timestamp_ms)?;
        self.finish(method, path, wire, cost, true)
    }

    /// Puts `recvWindow` first and `timestamp` last, signs, and returns the wire text.
    ///
    /// `recvWindow` goes first so that an order's first 64 bytes (`recvWindow=5000&symbol=
    /// BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&…`) repeat from one order of a symbol and side
    /// to the next, and the HMAC skips their block (its prefix cache). Binance reads parameters
    /// in any order.
    fn sign(&self, mut query: SignedQuery, timestamp_ms: i64) -> Result<String, BuildError> {
        let creds = self.credentials.as_ref().ok_or(BuildError::NoCredentials)?;
        // Whole milliseconds (the usual case) without the formatting machinery.
        if self.recv_window.as_micros().is_multiple_of(1000) {
            query.prepend_u64_named("recvWindow", self.recv_window.as_millis());
        } else {
            // Digits and a dot: nothing to encode.
            query.prepend_unreserved_named("recvWindow", &self.recv_window.to_string());
        }
        let timestamp = self.time_unit.timestamp(timestamp_ms);
        match u64::try_from(timestamp) {
            Ok(t) => query.push_u64_named("timestamp", t),
            // Before 1970: no clock gives this; written as is, Binance refuses it.
            Err(_) => query.push_display("timestamp", timestamp),
        };
        Ok(query.sign_with(creds.signer()))
    }

    /// A signed `POST` with its parameters in a form body (SPEC §2.2): the URI stays short (the
    /// order's is parsed once, in [`Rest::new`]) and the payload moves into the body without a
    /// copy.
    fn build_signed_form(
        &self,
        path: &str,
        query: SignedQuery,
        timestamp_ms: i64,
        cost: RequestCost,
    ) -> Result<RestRequest, BuildError> {
        let wire = self.sign(query, timestamp_ms)?;
        let uri = match &self.order_uri {
            Some(uri) if path == ORDER_PATH => uri.clone(),
            _ => http::Uri::try_from(format!("{}{path}", self.env.rest_base()))
                .map_err(|e| BuildError::Url(e.to_string()))?,
        };
        let mut request = Request::new(Bytes::from(wire));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = uri;
        self.add_headers(&mut request, true)?;
        request.headers_mut().insert(http::header::CONTENT_TYPE, FORM);
        Ok(RestRequest { request, cost, signed: true })
    }

    /// The API key (on a signed request, when there are credentials) and the time unit.
    fn add_headers(&self, request: &mut Request<Bytes>, signed: bool) -> Result<(), BuildError> {
        if signed && self.credentials.is_some() {
            let key = self
                .api_key_header
                .clone()
                .ok_or_else(|| BuildError::Url("the API key is not a valid header value".to_owned()))?;
            request.headers_mut().insert(API_KEY_HEADER, key);
        }
        if self.time_unit == TimeUnit::Microsecond {
            request.headers_mut().insert(TIME_UNIT_HEADER, HeaderValue::from_static("MICROSECOND"));
        }
        Ok(())
    }

    fn finish(
        &self,
        method: Method,
        path: &str,
        query: String,
        cost: RequestCost,
        signed: bool,
    ) -> Result<RestRequest, BuildError> {
        let mut uri = String::with_capacity(self.env.rest_base().len() + path.len() + query.len() + 1);
        uri.push_str(self.env.rest_base());
        uri.push_str(path);
        if !query.is_empty() {
            uri.push('?');
            uri.push_str(&query);
        }
        // Built in place rather than through `http::request::Builder`, which moves its parts at
        // every step (measurable on the order path).
        let uri = http::Uri::try_from(uri).map_err(|e| BuildError::Url(e.to_string()))?;
        let mut request = Request::new(Bytes::new());
        *request.method_mut() = method;
        *request.uri_mut() = uri;
        self.add_headers(&mut request, signed)?;
        Ok(RestRequest { request, cost, signed })
    }

    // ----- market data (public) -----

    /// `GET /api/v3/ping` (weight 1).
    ///
    /// # Errors
    /// [`BuildError::Url`] for a malformed custom base URL.
    pub fn ping(&self) -> Result<RestRequest, BuildError> {
        self.build(Method::GET, "/api/v3/ping", SignedQuery::new(), RequestCost::flat(1))
    }

    /// `GET /api/v3/time` (weight 1).
    ///
    /// # Errors
    /// As [`ping`](Self::ping).
    pub fn time(&self) -> Result<RestRequest, BuildError> {
        self.build(Method::GET, "/api/v3/time", SignedQuery::new(), RequestCost::TIME)
    }

    /// `GET /api/v3/exchangeInfo` (weight 20): every symbol, one (`symbols` of length 1), or a
    /// list (sent as a JSON array).
    ///
    /// # Errors
    /// As [`ping`](Self::ping).
    pub fn exchange_info(&self, symbols: &[&str]) -> Result<RestRequest, BuildError> {
        let mut q = SignedQuery::new();
        match symbols {
            [] => {}
            [one] => {
                q.push("symbol", one);
            }
            many => {
                let json = serde_json::to_string(many).map_err(|e| BuildError::Url(e.to_string()))?;
                q.push("symbols", &json);
            }
        }
        self.build(Method::GET, "/api/v3/exchangeInfo", q, RequestCost::EXCHANGE_INFO)
    }

    /// `GET /api/v3/exchangeInfo?permissions=[...]` (weight 20): the symbols tradable under any
    /// of `permissions` (`SPOT`, `MARGIN`, ...), sent as a JSON array.
    ///
    /// # Errors
    /// As [`ping`](Self::ping).
    pub fn exchange_info_by_permissions(&self, permissions: &[&str]) -> Result<RestRequest, BuildError> {
        let mut q = SignedQuery::new();
        let json = serde_json::to_string(permissions).map_err(|e| BuildError::Url(e.to_string()))?;
        q.push("permissions", &json);
        self.build(Method::GET, "/api/v3/exchangeInfo", q, RequestCost::EXCHANGE_INFO)
    }

    /// `GET /api/v3/depth` (weight by limit: 5 up to 100, 25 up to 500, 50 up to 1000, 250 up
    /// to 5000; default limit 100).
    ///
    /// # Errors
    /// [`BuildError::Parameter`] for a limit of 0 or above 5000.
    pub fn depth(&self, symbol: &str, limit: Option<u32>) -> Result<RestRequest, BuildError> {
        let weight = match limit.unwrap_or(100) {
            0 | 5001.. => return Err(BuildError::Parameter { name: "limit", reason: "must be 1 to 5000" }),
            1..=100 => 5,
            101..=500 => 25,
            501..=1000 => 50,
            _ => 250,
        };
        let mut q = SignedQuery::new();
        q.push("symbol", symbol);
        if let Some(limit) = limit {
            q.push_display("limit", limit);
        }
        self.build(Method::GET, "/api/v3/depth", q, RequestCost::flat(weight))
    }

    /// `GET /api/v3/trades` (weight 25).
    ///
    /// # Errors
    /// As [`ping`](Self::ping).
    pub fn trades(&self, symbol: &str, limit: Option<u32>) -> Result<RestRequest, BuildError> {
        let mut q = SignedQuery::new();
        q.push("symbol", symbol);
        if let Some(limit) = limit {
            q.push_display("limit", limit);
        }
        self.build(Method::GET, "/api/v3/trades", q, RequestCost::flat(25))
    }

    /// `GET /api/v3/aggTrades` (weight 4).
    ///
    /// # Errors
    /// As [`ping`](Self::ping).
    pub fn agg_trades(
        &self,
        symbol: &str,
        from_id: Option<u64>,
        limit: Option<u32>,
    ) -> Result<RestRequest, BuildError> {
        let mut q = SignedQuery::new();
        q.push("symbol", symbol);
        if let Some(id) = from_id {
            q.push_display("fromId", id);
        }
        if let Some(limit) = limit {
            q.push_display("limit", limit);
        }
        self.build(Method::GET, "/api/v3/aggTrades", q, RequestCost::flat(4))
    }

    /// `GET /api/v3/klines` (weight 2). `interval` as Binance writes it (`1m`, `1h`, `1d`, ...).
    ///
    /// # Errors
    /// As [`ping`](Self::ping).
    pub fn klines(
        &self,
        symbol: &str,
        interval: &str,
        start_time: Option<i64>,
        end_time: Option<i64>,
        limit: Option<u32>,
    ) -> Result<RestRequest, BuildError> {
        let mut q = SignedQuery::new();
        q.push("symbol", symbol).push("interval", interval);
        if let Some(t) = start_time {
            q.push_display("startTime", t);
        }
        if let Some(t) = end_time {
            q.push_display("endTime", t);
        }
        if let Some(limit) = limit {
            q.push_display("limit", limit);
        }
        self.build(Method::GET, "/api/v3/klines", q, RequestCost::flat(2))
    }

    /// `GET /api/v3/avgPrice` (weight 2).
    ///
    /// # Errors
    /// As [`ping`](Self::ping).
    pub fn avg_price(&self, symbol: &str) -> Result<RestRequest, BuildError> {
        let mut q = SignedQuery::new();
        q.push("symbol", symbol);
        self.build(Method::GET, "/api/v3/avgPrice", q, RequestCost::flat(2))
    }

    /// `GET /api/v3/ticker/bookTicker` (weight 2 for a symbol, 4 for all).
    ///
    /// # Errors
    /// As [`ping`](Self::ping).
    pub fn book_ticker(&self, symbol: Option<&str>) -> Result<RestRequest, BuildError> {
        self.ticker("/api/v3/ticker/bookTicker", symbol)
    }

    /// `GET /api/v3/ticker/price` (weight 2 for a symbol, 4 for all).
    ///
    /// # Errors
    /// As [`ping`](Self::ping).
    pub fn ticker_price(&self, symbol: Option<&str>) -> Result<RestRequest, BuildError> {
        self.ticker("/api/v3/ticker/price", symbol)
    }

    fn ticker(&self, path: &str, symbol: Option<&str>) -> Result<RestRequest, BuildError> {
        let mut q = SignedQuery::new();
        let weight = match symbol {
            Some(s) => {
                q.push("symbol", s);
                2
            }
            None => 4,
        };
        self.build(Method::GET, path, q, RequestCost::flat(weight))
    }

    /// `GET /api/v3/referencePrice` (weight 2, as `executionRules` per symbol; the docs give
    /// no number for it).
    ///
    /// # Errors
    /// As [`ping`](Self::ping).
    pub fn reference_price(&self, symbol: &str) -> Result<RestRequest, BuildError> {
        let mut q = SignedQuery::new();
        q.push("symbol", symbol);
        self.build(Method::GET, "/api/v3/referencePrice", q, RequestCost::flat(2))
    }

    // ----- trading (signed) -----

    /// `POST /api/v3/order` (weight 1 on failure, 0 on success; 1 order): a validated order.
    /// Its signed parameters travel in an `application/x-www-form-urlencoded` body.
    ///
    /// # Errors
    /// [`BuildError::NoCredentials`] without credentials.
    pub fn new_order(&self, order: &ValidatedOrder, timestamp: impl Into<ServerMs>) -> Result<RestRequest, BuildError> {
        let timestamp_ms = timestamp.into().millis();
        let q = order_query(order);
        self.build_signed_form(ORDER_PATH, q, timestamp_ms, RequestCost::NEW_ORDER)
    }

    /// `POST /api/v3/order/test` (weight 1, or 20 with `computeCommissionRates`; no order).
    ///
    /// # Errors
    /// As [`new_order`](Self::new_order).
    pub fn test_order(
        &self,
        order: &ValidatedOrder,
        compute_commission_rates: bool,
        timestamp: impl Into<ServerMs>,
    ) -> Result<RestRequest, BuildError> {
        self.order_test_at("/api/v3/order/test", order, compute_commission_rates, timestamp.into())
    }

    /// An order test at `path` (`/api/v3/order/test`, `/api/v3/sor/order/test`).
    fn order_test_at(
        &self,
        path: &str,
        order: &ValidatedOrder,
        compute_commission_rates: bool,
        timestamp: ServerMs,
    ) -> Result<RestRequest, BuildError> {
        let mut q = order_query(order);
        let weight = if compute_commission_rates {
            q.push("computeCommissionRates", "true");
            20
        } else {
            1
        };
        self.build_signed_form(path, q, timestamp.millis(), RequestCost::flat(weight))
    }

    /// `POST /api/v3/sor/order` (weight 1 on failure, 0 on success; 1 order): a validated
    /// `LIMIT` or `MARKET` order routed through the symbol's SOR group (Binance's SOR FAQ:
    /// fills by allocation from the group's books, `workingFloor`, `usedSor`).
    ///
    /// # Errors
    /// As [`new_order`](Self::new_order).
    pub fn sor_order(&self, order: &ValidatedOrder, timestamp: impl Into<ServerMs>) -> Result<RestRequest, BuildError> {
        let timestamp_ms = timestamp.into().millis();
        self.build_signed_form("/api/v3/sor/order", order_query(order), timestamp_ms, RequestCost::NEW_ORDER)
    }

    /// `POST /api/v3/sor/order/test` (weight 1, or 20 with `computeCommissionRates`; no order).
    ///
    /// # Errors
    /// As [`new_order`](Self::new_order).
    pub fn sor_order_test(
        &self,
        order: &ValidatedOrder,
        compute_commission_rates: bool,
        timestamp: impl Into<ServerMs>,
    ) -> Result<RestRequest, BuildError> {
        self.order_test_at("/api/v3/sor/order/test", order, compute_commission_rates, timestamp.into())
    }

    /// `DELETE /api/v3/order` (weight 1 on failure, 0 on success).
    ///
    /// # Errors
    /// As [`new_order`](Self::new_order).
    pub fn cancel_order(
        &self,
        symbol: &str,
        order: OrderRef,
        timestamp: impl Into<ServerMs>,
    ) -> Result<RestRequest, BuildError> {
        let timestamp_ms = timestamp.into().millis();
        let mut q = SignedQuery::new();
        q.push("symbol", symbol);
        push_order_ref(&mut q, order);
        self.build_signed(Method::DELETE, "/api/v3/order", q, timestamp_ms, RequestCost::CANCEL)
    }

    /// `DELETE /api/v3/openOrders`: cancels every open order on `symbol` (weight 1 on
    /// failure, 0 on success).
    ///
    /// # Errors
    /// As [`new_order`](Self::new_order).
    pub fn cancel_all_open_orders(
        &self,
        symbol: &str,
        timestamp: impl Into<ServerMs>,
    ) -> Result<RestRequest, BuildError> {
        let timestamp_ms = timestamp.into().millis();
        let mut q = SignedQuery::new();
        q.push("symbol", symbol);
        self.build_signed(Method::DELETE, "/api/v3/openOrders", q, timestamp_ms, RequestCost::CANCEL)
    }

    /// `POST /api/v3/order/cancelReplace` with `STOP_ON_FAILURE` (or `ALLOW_FAILURE`): cancels
    /// `cancel` and places `order` (weight 1 on failure, 0 on success; 1 order even when the
    /// new order is not attempted). See [`cancel_replace_with`](Self::cancel_replace_with) for
    /// every option.
    ///
    /// # Errors
    /// As [`new_order`](Self::new_order).
    pub fn cancel_replace(
        &self,
        order: &ValidatedOrder,
        cancel: OrderRef,
        allow_failure: bool,
        timestamp: impl Into<ServerMs>,
    ) -> Result<RestRequest, BuildError> {
        let mode = if allow_failure { CancelReplaceMode::AllowFailure } else { CancelReplaceMode::StopOnFailure };
        self.cancel_replace_with(order, cancel, &CancelReplaceOptions::new(mode), timestamp)
    }

    /// `POST /api/v3/order/cancelReplace` with every option: the mode, `cancelRestrictions`,
    /// `orderRateLimitExceededMode` and the cancel's own client order id.
    ///
    /// ```
    /// use aegis_exchange::{BUNDLED_EXCHANGE_INFO, ExchangeInfo, MarketContext, OrderRequest, Side};
    /// use aegis_exchange::rest::{CancelReplaceMode, CancelReplaceOptions, CancelRestrictions, Environment, OrderRef, Rest};
    /// use aegis_exchange::sign::{Credentials, HmacSha256};
    /// use rust_decimal_macros::dec;
    /// let info = ExchangeInfo::from_json(BUNDLED_EXCHANGE_INFO).unwrap();
    /// let order = OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.01), dec!(64000));
    /// let valid = info.symbol("BTCUSDT").unwrap().validate(&order, &MarketContext::default()).unwrap();
    /// let rest = Rest::new(Environment::Testnet).with_credentials(Credentials::new("key", HmacSha256::new("secret")).unwrap());
    /// let options = CancelReplaceOptions::new(CancelReplaceMode::AllowFailure).with_cancel_restrictions(CancelRestrictions::OnlyNew);
    /// let built = rest.cancel_replace_with(&valid, OrderRef::OrderId(42), &options, 1_760_000_000_000_i64).unwrap();
    /// let query = built.request.uri().query().unwrap();
    /// assert!(query.contains("&cancelReplaceMode=ALLOW_FAILURE&cancelOrderId=42&cancelRestrictions=ONLY_NEW&"), "{query}");
    /// ```
    ///
    /// # Errors
    /// As [`new_order`](Self::new_order).
    pub fn cancel_replace_with(
        &self,
        order: &ValidatedOrder,
        cancel: OrderRef,
        options: &CancelReplaceOptions,
        timestamp: impl Into<ServerMs>,
    ) -> Result<RestRequest, BuildError> {
        let timestamp_ms = timestamp.into().millis();
        let mut q = order_query(order);
        q.push("cancelReplaceMode", options.mode.as_str());
        match cancel {
            OrderRef::OrderId(id) => {
                q.push_display("cancelOrderId", id);
            }
            OrderRef::ClientOrderId(id) => {
                q.push("cancelOrigClientOrderId", id.as_str());
            }
        }
        if let Some(id) = &options.cancel_new_client_order_id {
            q.push("cancelNewClientOrderId", id.as_str());
        }
        if let Some(r) = options.cancel_restrictions {
            q.push("cancelRestrictions", r.as_str());
        }
        if let Some(m) = options.rate_limit_exceeded {
            q.push("orderRateLimitExceededMode", m.as_str());
        }
        self.build_signed(Method::POST, "/api/v3/order/cancelReplace", q, timestamp_ms, RequestCost::CANCEL_REPLACE)
    }

    /// `PUT /api/v3/order/amend/keepPriority`: reduces an order's quantity to `new_qty`
    /// keeping its queue priority (weight 4, no unfilled order count). `new_client_order_id`:
    /// the order's client order id afterwards; without one Binance gives the order a random new
    /// one (pass the current id to keep it, as the engine does).
    ///
    /// ```
    /// use aegis_exchange::ClientOrderId;
    /// use aegis_exchange::rest::{Environment, OrderRef, Rest};
    /// use aegis_exchange::sign::{Credentials, HmacSha256};
    /// use rust_decimal_macros::dec;
    /// let rest = Rest::new(Environment::Testnet).with_credentials(Credentials::new("key", HmacSha256::new("secret")).unwrap());
    /// let id = ClientOrderId::new("my-order-1").unwrap();
    /// let built = rest.amend_keep_priority("BTCUSDT", OrderRef::ClientOrderId(id), dec!(0.5), Some(&id), 1_760_000_000_000_i64).unwrap();
    /// assert_eq!(built.request.method(), "PUT");
    /// let sent = format!("{}{}", built.request.uri().query().unwrap_or(""), std::str::from_utf8(built.request.body()).unwrap());
    /// assert!(sent.contains("symbol=BTCUSDT&origClientOrderId=my-order-1&newClientOrderId=my-order-1&newQty=0.5&"));
    /// ```
    ///
    /// # Errors
    /// As [`new_order`](Self::new_order).
    pub fn amend_keep_priority(
        &self,
        symbol: &str,
        order: OrderRef,
        new_qty: rust_decimal::Decimal,
        new_client_order_id: Option<&ClientOrderId>,
        timestamp: impl Into<ServerMs>,
    ) -> Result<RestRequest, BuildError> {
        let timestamp_ms = timestamp.into().millis();
        let mut q = SignedQuery::new();
        q.push("symbol", symbol);
        push_order_ref(&mut q, order);
        if let Some(id) = new_client_order_id {
            q.push_unreserved_named("newClientOrderId", id.as_str());
        }
        q.push_display("newQty", Wire(new_qty));
        self.build_signed(Method::PUT, "/api/v3/order/amend/keepPriority", q, timestamp_ms, RequestCost::AMEND)
    }

    /// `POST /api/v3/orderList/oco`: a validated OCO (weight 1, 0 on success; 2 orders).
    ///
    /// ```
    /// use aegis_exchange::{BUNDLED_EXCHANGE_INFO, ExchangeInfo, ListLeg, MarketContext, OcoRequest, Side, TimeInForce};
    /// use aegis_exchange::rest::{Environment, Rest};
    /// use aegis_exchange::sign::{Credentials, HmacSha256};
    /// use rust_decimal_macros::dec;
    /// let info = ExchangeInfo::from_json(BUNDLED_EXCHANGE_INFO).unwrap();
    /// let oco = OcoRequest::new("BTCUSDT", Side::Sell, dec!(0.01), ListLeg::limit_maker(dec!(70000)),
    ///     ListLeg::stop_loss_limit(dec!(59990), dec!(60000), TimeInForce::Gtc));
    /// let valid = info.symbol("BTCUSDT").unwrap().validate_oco(&oco, &MarketContext::default()).unwrap();
    /// let rest = Rest::new(Environment::Testnet).with_credentials(Credentials::new("key", HmacSha256::new("secret")).unwrap());
    /// let built = rest.order_list_oco(&valid, 1_760_000_000_000_i64).unwrap();
    /// let body = std::str::from_utf8(built.request.body()).unwrap();
    /// assert!(body.contains("symbol=BTCUSDT&side=SELL&quantity=0.01&aboveType=LIMIT_MAKER&abovePrice=70000&belowType=STOP_LOSS_LIMIT&belowPrice=59990&belowStopPrice=60000&belowTimeInForce=GTC"));
    /// assert_eq!(built.cost.orders, 2);
    /// ```
    ///
    /// # Errors
    /// As [`new_order`](Self::new_order).
    pub fn order_list_oco(
        &self,
        oco: &ValidatedOco,
        timestamp: impl Into<ServerMs>,
    ) -> Result<RestRequest, BuildError> {
        self.list_request(&crate::model::ListRequest::from(oco.request().clone()), timestamp.into().millis())
    }

    fn list_request(&self, list: &crate::model::ListRequest, timestamp_ms: i64) -> Result<RestRequest, BuildError> {
        let mut q = SignedQuery::new();
        for (name, value) in list.params() {
            q.push(name, &value);
        }
        let cost = if list.order_count() > 2 { RequestCost::NEW_ORDER_LIST_3 } else { RequestCost::NEW_ORDER_LIST };
        self.build_signed_form(list.path(), q, timestamp_ms, cost)
    }

    /// `POST /api/v3/orderList/{oto,otoco,opo,opoco}` or `/oco`: any validated order list
    /// (weight 1, 0 on success; 2 or 3 orders).
    ///
    /// ```
    /// use aegis_exchange::{BUNDLED_EXCHANGE_INFO, ExchangeInfo, ListLeg, MarketContext, OtoRequest, Side, TimeInForce};
    /// use aegis_exchange::rest::{Environment, Rest};
    /// use aegis_exchange::sign::{Credentials, HmacSha256};
    /// use rust_decimal_macros::dec;
    /// let info = ExchangeInfo::from_json(BUNDLED_EXCHANGE_INFO).unwrap();
    /// let otoco = OtoRequest::otoco("BTCUSDT", Side::Buy, dec!(0.01), ListLeg::limit(dec!(60000), TimeInForce::Gtc),
    ///     Side::Sell, dec!(0.01), ListLeg::limit_maker(dec!(66000)), ListLeg::stop_loss(dec!(57000)));
    /// let valid = info.symbol("BTCUSDT").unwrap().validate_list(&otoco.into(), &MarketContext::default()).unwrap();
    /// let rest = Rest::new(Environment::Testnet).with_credentials(Credentials::new("key", HmacSha256::new("secret")).unwrap());
    /// let built = rest.order_list(&valid, 1_760_000_000_000_i64).unwrap();
    /// assert_eq!(built.request.uri().path(), "/api/v3/orderList/otoco");
    /// let body = std::str::from_utf8(built.request.body()).unwrap();
    /// assert!(body.contains("symbol=BTCUSDT&workingType=LIMIT&workingSide=BUY&workingPrice=60000&workingQuantity=0.01&workingTimeInForce=GTC&pendingSide=SELL&pendingQuantity=0.01&pendingAboveType=LIMIT_MAKER&pendingAbovePrice=66000&pendingBelowType=STOP_LOSS&pendingBelowStopPrice=57000"), "{body}");
    /// assert_eq!(built.cost.orders, 3);
    /// ```
    ///
    /// # Errors
    /// As [`new_order`](Self::new_order).
    pub fn order_list(&self, list: &ValidatedList, timestamp: impl Into<ServerMs>) -> Result<RestRequest, BuildError> {
        self.list_request(list.request(), timestamp.into().millis())
    }

    /// `DELETE /api/v3/orderList`: cancels a whole order list (weight 1, 0 on success).
    ///
    /// # Errors
    /// As [`new_order`](Self::new_order).
    pub fn cancel_order_list(
        &self,
        symbol: &str,
        list: ListRef,
        timestamp: impl Into<ServerMs>,
    ) -> Result<RestRequest, BuildError> {
        let timestamp_ms = timestamp.into().millis();
        let mut q = SignedQuery::new();
        q.push("symbol", symbol);
        match list {
            ListRef::OrderListId(id) => q.push_display("orderListId", id),
            ListRef::ListClientOrderId(id) => q.push("listClientOrderId", id.as_str()),
        };
        self.build_signed(Method::DELETE, "/api/v3/orderList", q, timestamp_ms, RequestCost::CANCEL)
    }

    /// `GET /api/v3/orderList` (weight 4): one order list, by id or by its client order id (the
    /// query that resolves a list whose placement outcome is unknown).
    ///
    /// # Errors
    /// As [`new_order`](Self::new_order).
    pub fn query_order_list(&self, list: ListRef, timestamp: impl Into<ServerMs>) -> Result<RestRequest, BuildError> {
        let timestamp_ms = timestamp.into().millis();
        let mut q = SignedQuery::new();
        match list {
            ListRef::OrderListId(id) => q.push_display("orderListId", id),
            ListRef::ListClientOrderId(id) => q.push("origClientOrderId", id.as_str()),
        };
        self.build_signed(Method::GET, "/api/v3/orderList", q, timestamp_ms, RequestCost::QUERY_ORDER_LIST)
    }

    /// `GET /api/v3/openOrderList` (weight 6): the open order lists.
    ///
    /// # Errors
    /// As [`new_order`](Self::new_order).
    pub fn open_order_lists(&self, timestamp: impl Into<ServerMs>) -> Result<RestRequest, BuildError> {
        let timestamp_ms = timestamp.into().millis();
        self.build_signed(
            Method::GET,
            "/api/v3/openOrderList",
            SignedQuery::new(),
            timestamp_ms,
            RequestCost::OPEN_ORDER_LISTS,
        )
    }

    // ----- account (signed) -----

    /// `GET /api/v3/order` (weight 4): by order id or by client order id: the query that
    /// resolves an order whose send outcome is unknown.
    ///
    /// # Errors
    /// As [`new_order`](Self::new_order).
    pub fn query_order(
        &self,
        symbol: &str,
        order: OrderRef,
        timestamp: impl Into<ServerMs>,
    ) -> Result<RestRequest, BuildError> {
        let timestamp_ms = timestamp.into().millis();
        let mut q = SignedQuery::new();
        q.push("symbol", symbol);
        push_order_ref(&mut q, order);
        self.build_signed(Method::GET, "/api/v3/order", q, timestamp_ms, RequestCost::QUERY_ORDER)
    }

    /// `GET /api/v3/openOrders` (weight 6 for a symbol, 80 for all).
    ///
    /// # Errors
    /// As [`new_order`](Self::new_order).
    pub fn open_orders(&self, symbol: Option<&str>, timestamp: impl Into<ServerMs>) -> Result<RestRequest, BuildError> {
        let timestamp_ms = timestamp.into().millis();
        let mut q = SignedQuery::new();
        let cost = match symbol {
            Some(s) => {
                q.push("symbol", s);
                RequestCost::OPEN_ORDERS_SYMBOL
            }
            None => RequestCost::OPEN_ORDERS_ALL,
        };
        self.build_signed(Method::GET, "/api/v3/openOrders", q, timestamp_ms, cost)
    }

    /// `GET /api/v3/allOrders` (weight 20).
    ///
    /// # Errors
    /// As [`new_order`](Self::new_order).
    pub fn all_orders(
        &self,
        symbol: &str,
        from_order_id: Option<u64>,
        limit: Option<u32>,
        timestamp: impl Into<ServerMs>,
    ) -> Result<RestRequest, BuildError> {
        let timestamp_ms = timestamp.into().millis();
        let mut q = SignedQuery::new();
        q.push("symbol", symbol);
        if let Some(id) = from_order_id {
            q.push_display("orderId", id);
        }
        if let Some(limit) = limit {
            q.push_display("limit", limit);
        }
        self.build_signed(Method::GET, "/api/v3/allOrders", q, timestamp_ms, RequestCost::flat(20))
    }

    /// `GET /api/v3/account` (weight 20), optionally without zero balances.
    ///
    /// # Errors
    /// As [`new_order`](Self::new_order).
    pub fn account(&self, omit_zero_balances: bool, timestamp: impl Into<ServerMs>) -> Result<RestRequest, BuildError> {
        let timestamp_ms = timestamp.into().millis();
        let mut q = SignedQuery::new();
        if omit_zero_balances {
            q.push("omitZeroBalances", "true");
        }
        self.build_signed(Method::GET, "/api/v3/account", q, timestamp_ms, RequestCost::ACCOUNT)
    }

    /// `GET /api/v3/myTrades` (weight 20; 5 with an order id).
    ///
    /// # Errors
    /// As [`new_order`](Self::new_order).
    pub fn my_trades(
        &self,
        symbol: &str,
        order_id: Option<u64>,
        limit: Option<u32>,
        timestamp: impl Into<ServerMs>,
    ) -> Result<RestRequest, BuildError> {
        let timestamp_ms = timestamp.into().millis();
        let mut q = SignedQuery::new();
        q.push("symbol", symbol);
        let cost = match order_id {
            Some(id) => {
                q.push_display("orderId", id);
                RequestCost::MY_TRADES_BY_ORDER
            }
            None => RequestCost::MY_TRADES,
        };
        if let Some(limit) = limit {
            q.push_display("limit", limit);
        }
        self.build_signed(Method::GET, "/api/v3/myTrades", q, timestamp_ms, cost)
    }

    /// `GET /api/v3/myPreventedMatches`: the matches self-trade prevention stopped, by
    /// prevented match id (weight 2) or by order (weight 20; from a prevented match id, at most
    /// `limit`).
    ///
    /// ```
    /// use aegis_exchange::rest::{Environment, PreventedMatches, Rest};
    /// use aegis_exchange::sign::{Credentials, HmacSha256};
    /// let rest = Rest::new(Environment::Testnet).with_credentials(Credentials::new("key", HmacSha256::new("secret")).unwrap());
    /// let by_order = PreventedMatches::ByOrder { order_id: 5, from_prevented_match_id: Some(1), limit: Some(10) };
    /// let built = rest.my_prevented_matches("BTCUSDT", by_order, 1_760_000_000_000_i64).unwrap();
    /// assert!(built.request.uri().query().unwrap().contains("symbol=BTCUSDT&orderId=5&fromPreventedMatchId=1&limit=10&"));
    /// assert_eq!(built.cost.weight, 20);
    /// ```
    ///
    /// # Errors
    /// As [`new_order`](Self::new_order).
    pub fn my_prevented_matches(
        &self,
        symbol: &str,
        by: PreventedMatches,
        timestamp: impl Into<ServerMs>,
    ) -> Result<RestRequest, BuildError> {
        let timestamp_ms = timestamp.into().millis();
        let mut q = SignedQuery::new();
        q.push("symbol", symbol);
        let cost = match by {
            PreventedMatches::ById(id) => {
                q.push_display("preventedMatchId", id);
                RequestCost::PREVENTED_MATCH
            }
            PreventedMatches::ByOrder { order_id, from_prevented_match_id, limit } => {
                q.push_display("orderId", order_id);
                if let Some(from) = from_prevented_match_id {
                    q.push_display("fromPreventedMatchId", from);
                }
                if let Some(limit) = limit {
                    q.push_display("limit", limit);
                }
                RequestCost::PREVENTED_MATCHES_BY_ORDER
            }
        };
        self.build_signed(Method::GET, "/api/v3/myPreventedMatches", q, timestamp_ms, cost)
    }

    /// `GET /api/v3/myAllocations` (weight 20): a SOR order's allocations, filtered as
    /// `query` says.
    ///
    /// # Errors
    /// As [`new_order`](Self::new_order).
    pub fn my_allocations(
        &self,
        symbol: &str,
        query: &HistoryQuery,
        timestamp: impl Into<ServerMs>,
    ) -> Result<RestRequest, BuildError> {
        let timestamp_ms = timestamp.into().millis();
        let mut q = SignedQuery::new();
        q.push("symbol", symbol);
        query.push(&mut q, "fromAllocationId");
        self.build_signed(Method::GET, "/api/v3/myAllocations", q, timestamp_ms, RequestCost::MY_ALLOCATIONS)
    }

    /// `GET /api/v3/allOrderList` (weight 20): the account's order lists, filtered as `query`
    /// says (`fromId`, a time range, `limit`; no order id).
    ///
    /// # Errors
    /// As [`new_order`](Self::new_order).
    pub fn all_order_lists(
        &self,
        query: &HistoryQuery,
        timestamp: impl Into<ServerMs>,
    ) -> Result<RestRequest, BuildError> {
        let timestamp_ms = timestamp.into().millis();
        let mut q = SignedQuery::new();
        let query = HistoryQuery { order_id: None, ..*query };
        query.push(&mut q, "fromId");
        self.build_signed(Method::GET, "/api/v3/allOrderList", q, timestamp_ms, RequestCost::ALL_ORDER_LISTS)
    }

    /// `GET /api/v3/rateLimit/order`: the unfilled order counts (weight 40).
    ///
    /// # Errors
    /// As [`new_order`](Self::new_order).
    pub fn order_rate_limits(&self, timestamp: impl Into<ServerMs>) -> Result<RestRequest, BuildError> {
        let timestamp_ms = timestamp.into().millis();
        self.build_signed(
            Method::GET,
            "/api/v3/rateLimit/order",
            SignedQuery::new(),
            timestamp_ms,
            RequestCost::flat(40),
        )
    }

    /// `GET /api/v3/account/commission` (weight 20).
    ///
    /// # Errors
    /// As [`new_order`](Self::new_order).
    pub fn account_commission(&self, symbol: &str, timestamp: impl Into<ServerMs>) -> Result<RestRequest, BuildError> {
        let timestamp_ms = timestamp.into().millis();
        let mut q = SignedQuery::new();
        q.push("symbol", symbol);
        self.build_signed(Method::GET, "/api/v3/account/commission", q, timestamp_ms, RequestCost::flat(20))
    }

    /// `GET /api/v3/order/amendments` (weight 4): the keep-priority amends of order
    /// `order_id`, from `from_execution_id` on, at most `limit` (Binance: 500, up to 1000).
    ///
    /// # Errors
    /// As [`new_order`](Self::new_order).
    pub fn order_amendments(
        &self,
        symbol: &str,
        order_id: u64,
        from_execution_id: Option<u64>,
        limit: Option<u32>,
        timestamp: impl Into<ServerMs>,
    ) -> Result<RestRequest, BuildError> {
        let timestamp_ms = timestamp.into().millis();
        let mut q = SignedQuery::new();
        q.push("symbol", symbol);
        q.push_display("orderId", order_id);
        if let Some(f) = from_execution_id {
            q.push_display("fromExecutionId", f);
        }
        if let Some(l) = limit {
            q.push_display("limit", l);
        }
        self.build_signed(Method::GET, "/api/v3/order/amendments", q, timestamp_ms, RequestCost::flat(4))
    }

    /// `GET /api/v3/myFilters`: the filters that apply to the account on `symbol`, MAX_ASSET
    /// included (weight 40).
    ///
    /// # Errors
    /// As [`new_order`](Self::new_order).
    pub fn my_filters(&self, symbol: &str, timestamp: impl Into<ServerMs>) -> Result<RestRequest, BuildError> {
        let timestamp_ms = timestamp.into().millis();
        let mut q = SignedQuery::new();
        q.push("symbol", symbol);
        self.build_signed(Method::GET, "/api/v3/myFilters", q, timestamp_ms, RequestCost::flat(40))
    }
}

fn push_order_ref(q: &mut SignedQuery, order: OrderRef) {
    match order {
        OrderRef::OrderId(id) => {
            q.push_display("orderId", id);
        }
        OrderRef::ClientOrderId(id) => {
            q.push("origClientOrderId", id.as_str());
        }
    }
}

/// The parameters of a validated order, in the order Binance documents them.
fn order_query(order: &ValidatedOrder) -> SignedQuery {
    let o = order.request();
    let mut q = SignedQuery::new();
    q.push_named("symbol", o.symbol())
        .push_wire_named("side", o.side().known_wire(), o.side().as_str())
        .push_wire_named("type", o.order_type().known_wire(), o.order_type().as_str());
    if let Some(tif) = o.time_in_force() {
        q.push_wire_named("timeInForce", tif.known_wire(), tif.as_str());
    }
    for (name, value) in [("quantity", o.quantity()), ("quoteOrderQty", o.quote_order_qty()), ("price", o.price())] {
        if let Some(v) = value {
            q.push_decimal_named(name, v);
        }
    }
    if let Some(id) = o.client_order_id() {
        q.push_unreserved_named("newClientOrderId", id.as_str());
    }
    if let Some(v) = o.stop_price() {
        q.push_decimal_named("stopPrice", v);
    }
    if let Some(d) = o.trailing_delta() {
        q.push_display("trailingDelta", d);
    }
    if let Some(v) = o.iceberg_qty() {
        q.push_decimal_named("icebergQty", v);
    }
    if let Some(r) = o.response_type() {
        q.push_named("newOrderRespType", r.as_str());
    }
    if let Some(m) = o.self_trade_prevention_mode() {
        q.push_named("selfTradePreventionMode", m.as_str());
    }
    if let Some(id) = o.strategy_id() {
        q.push_display("strategyId", id);
    }
    if let Some(kind) = o.strategy_type() {
        q.push_display("strategyType", kind);
    }
    if let Some(peg) = o.peg_price_type() {
        q.push_wire_named("pegPriceType", peg.known_wire(), peg.as_str());
    }
    if let Some(levels) = o.peg_offset_levels() {
        q.push_display("pegOffsetValue", levels);
        q.push_named("pegOffsetType", "PRICE_LEVEL");
    }
    q
}
