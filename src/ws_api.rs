//! The sans-IO WebSocket API: request envelopes (`session.logon`, `order.place`,
//! `order.cancel`, `order.status`, `openOrders.cancelAll`, `userDataStream.subscribe`,
//! `userDataStream.subscribe.signature`, `ping`), the response envelope, and the user-data
//! events that arrive in their `{subscriptionId, event}` wrapper.
//!
//! Signing here follows the WebSocket-API rule (SPEC §2.6), not REST's: every parameter but
//! `signature`, `apiKey` included, sorted by name, raw UTF-8, not percent-encoded. This module
//! writes and reads text frames; it does not own a socket.

mod fast;

use crate::orders::{OrderReport, OrderTrade};
use std::fmt::Write as _;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::clock::{RecvWindow, ServerMs};
use crate::decode::DecodeError;
use crate::model::{ExecutionType, OrderStatus, OrderType, SelfTradePreventionMode, Side, TimeInForce};
use crate::num::{Wire, serde_str};
use crate::rest::{ApiError, OrderRef, RateLimitCount, RequestCost, ResponseError};
use crate::rules::ValidatedOrder;
use crate::sign::{Credentials, KeyKind, ws_api_payload};

/// How a signed WebSocket-API request authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WsAuth {
    /// Carries `apiKey` and `signature` itself.
    Signed,
    /// The connection is logged on (`session.logon`): only `timestamp` is sent.
    Session,
}

/// Why a WebSocket-API request could not be built.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WsBuildError {
    /// A signed method needs credentials.
    #[error("this method needs credentials")]
    NoCredentials,
    /// `session.logon` accepts Ed25519 keys only.
    #[error("session.logon needs an Ed25519 key")]
    NotEd25519,
    /// The request id is not Binance's legal form (at most 36 of `[a-zA-Z0-9-_]`).
    #[error("invalid request id")]
    InvalidId,
}

/// A request frame ready to send, with its cost. Its `Debug` shows the frame with the API key
/// redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct WsRequest {
    /// The request id (echoed in the response).
    pub id: String,
    /// The method.
    pub method: &'static str,
    /// The JSON text frame.
    pub text: String,
    /// Its rate-limit cost.
    pub cost: RequestCost,
}

impl std::fmt::Debug for WsRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsRequest")
            .field("id", &self.id)
            .field("method", &self.method)
            .field("text", &redacted(&self.text))
            .field("cost", &self.cost)
            .finish()
    }
}

/// `text` with the value of every `"apiKey"` member replaced by `<redacted>`, for `Debug`.
pub(crate) fn redacted(text: &str) -> String {
    const KEY: &str = "\"apiKey\":\"";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(KEY) {
        let Some((head, tail)) = rest.split_at_checked(at.saturating_add(KEY.len())) else { break };
        out.push_str(head);
        out.push_str("<redacted>");
        // The value ends at the next unescaped quote (API keys have no escapes).
        rest = tail.find('"').and_then(|end| tail.get(end..)).unwrap_or("");
    }
    out.push_str(rest);
    out
}

/// A parameter value: written as a JSON string or as a bare JSON number; signed as its text.
enum Param {
    Str(String),
    Num(String),
}

impl Param {
    fn text(&self) -> &str {
        match self {
            Param::Str(s) | Param::Num(s) => s,
        }
    }
}

/// Builds WebSocket-API request frames for one API key.
///
/// ```
/// use aegis_exchange::sign::{Credentials, HmacSha256};
/// use aegis_exchange::ws_api::WsApi;
/// let creds = Credentials::new("key", HmacSha256::new("secret")).unwrap();
/// let req = WsApi::new().with_credentials(creds).user_data_stream_subscribe_signature("1", 1747385641636).unwrap();
/// assert!(req.text.starts_with(
///     r#"{"id":"1","method":"userDataStream.subscribe.signature","params":{"timestamp":1747385641636,"apiKey":"key","signature":""#
/// ));
/// ```
#[derive(Debug, Clone, Default)]
pub struct WsApi {
    credentials: Option<Credentials>,
    recv_window: Option<RecvWindow>,
}

impl WsApi {
    /// A builder without credentials (public methods only).
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Signs with `credentials`.
    #[must_use]
    pub fn with_credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// Sends `recvWindow` with signed requests (omitted by default: the server uses 5000 ms).
    #[must_use]
    pub fn with_recv_window(mut self, recv_window: RecvWindow) -> Self {
        self.recv_window = Some(recv_window);
        self
    }

    fn frame(
        &self,
        id: &str,
        method: &'static str,
        mut params: Vec<(&'static str, Param)>,
        auth: Option<(WsAuth, i64)>,
        cost: RequestCost,
    ) -> Result<WsRequest, WsBuildError> {
        // Binance's id rule is the client order id's: `^[a-zA-Z0-9-_]{1,36}$`.
        if crate::model::ClientOrderId::new(id).is_err() {
            return Err(WsBuildError::InvalidId);
        }
        if let Some((mode, timestamp)) = auth {
            if let Some(w) = self.recv_window {
                params.push(("recvWindow", Param::Num(w.to_string())));
            }
            params.push(("timestamp", Param::Num(timestamp.to_string())));
            if mode == WsAuth::Signed {
                let creds = self.credentials.as_ref().ok_or(WsBuildError::NoCredentials)?;
                params.push(("apiKey", Param::Str(creds.expose_api_key().to_owned())));
                let pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.text())).collect();
                let signature = creds.sign(ws_api_payload(&pairs).as_bytes());
                params.push(("signature", Param::Str(signature.as_str().to_owned())));
            }
        }
        let mut text =
            String::with_capacity(128 + params.iter().map(|(k, v)| k.len() + v.text().len() + 6).sum::<usize>());
        text.push_str("{\"id\":");
        push_json_str(&mut text, id);
        text.push_str(",\"method\":");
        push_json_str(&mut text, method);
        if !params.is_empty() {
            text.push_str(",\"params\":{");
            for (i, (k, v)) in params.iter().enumerate() {
                if i > 0 {
                    text.push(',');
                }
                push_json_str(&mut text, k);
                text.push(':');
                match v {
                    Param::Str(s) => push_json_str(&mut text, s),
                    Param::Num(n) => text.push_str(n),
                }
            }
            text.push('}');
        }
        text.push('}');
        Ok(WsRequest { id: id.to_owned(), method, text, cost })
    }

    /// `ping` (weight 1).
    ///
    /// # Errors
    /// [`WsBuildError::InvalidId`] for an illegal id.
    pub fn ping(&self, id: &str) -> Result<WsRequest, WsBuildError> {
        self.frame(id, "ping", Vec::new(), None, cost(1, 1, 0))
    }

    /// `session.logon` with an Ed25519 key (weight 2): afterwards signed methods may use
    /// [`WsAuth::Session`].
    ///
    /// # Errors
    /// [`WsBuildError::NotEd25519`] for another key type; [`WsBuildError::NoCredentials`].
    pub fn session_logon(&self, id: &str, timestamp: impl Into<ServerMs>) -> Result<WsRequest, WsBuildError> {
        let timestamp_ms = timestamp.into().millis();
        let creds = self.credentials.as_ref().ok_or(WsBuildError::NoCredentials)?;
        if creds.signer().kind() != KeyKind::Ed25519 {
            return Err(WsBuildError::NotEd25519);
        }
        self.frame(id, "session.logon", Vec::new(), Some((WsAuth::Signed, timestamp_ms)), cost(2, 2, 0))
    }

    /// `userDataStream.subscribe` on a logged-on session (weight 2).
    ///
    /// # Errors
    /// [`WsBuildError::InvalidId`] for an illegal id.
    pub fn user_data_stream_subscribe(&self, id: &str) -> Result<WsRequest, WsBuildError> {
        self.frame(id, "userDataStream.subscribe", Vec::new(), None, cost(2, 2, 0))
    }

    /// `userDataStream.subscribe.signature`: subscribes without logon, with any key type
    /// (weight 2).
    ///
    /// # Errors
    /// [`WsBuildError::NoCredentials`]; [`WsBuildError::InvalidId`].
    pub fn user_data_stream_subscribe_signature(
        &self,
        id: &str,
        timestamp: impl Into<ServerMs>,
    ) -> Result<WsRequest, WsBuildError> {
        let timestamp_ms = timestamp.into().millis();
        self.frame(
            id,
            "userDataStream.subscribe.signature",
            Vec::new(),
            Some((WsAuth::Signed, timestamp_ms)),
            cost(2, 2, 0),
        )
    }

    /// `order.place` for a validated order (weight 1 on failure, 0 on success; 1 order).
    ///
    /// # Errors
    /// [`WsBuildError::NoCredentials`] when signing; [`WsBuildError::InvalidId`].
    pub fn order_place(
        &self,
        id: &str,
        order: &ValidatedOrder,
        auth: WsAuth,
        timestamp: impl Into<ServerMs>,
    ) -> Result<WsRequest, WsBuildError> {
        let timestamp_ms = timestamp.into().millis();
        if auth == WsAuth::Session {
            // A logged-on session signs nothing: the frame is written in one pass (the same
            // text the general path writes; `order_place_session_frame_equals_the_general_path`).
            return self.order_place_session(id, order, timestamp_ms);
        }
        self.order_place_general(id, order, auth, timestamp_ms)
    }

    /// [`order_place`](Self::order_place) through the general frame builder.
    fn order_place_general(
        &self,
        id: &str,
        order: &ValidatedOrder,
        auth: WsAuth,
        timestamp_ms: i64,
    ) -> Result<WsRequest, WsBuildError> {
        self.frame(id, "order.place", order_params(order), Some((auth, timestamp_ms)), cost(1, 0, 1))
    }

    /// `order.test` (weight 1, 20 with `computeCommissionRates`): validated by the exchange,
    /// not placed; with the commission rates the order would pay when asked.
    ///
    /// # Errors
    /// As [`order_place`](Self::order_place).
    pub fn order_test(
        &self,
        id: &str,
        order: &ValidatedOrder,
        compute_commission_rates: bool,
        auth: WsAuth,
        timestamp: impl Into<ServerMs>,
    ) -> Result<WsRequest, WsBuildError> {
        self.order_test_as(id, "order.test", order, compute_commission_rates, auth, timestamp.into())
    }

    /// An order test as `method` (`order.test`, `sor.order.test`).
    fn order_test_as(
        &self,
        id: &str,
        method: &'static str,
        order: &ValidatedOrder,
        compute_commission_rates: bool,
        auth: WsAuth,
        timestamp: ServerMs,
    ) -> Result<WsRequest, WsBuildError> {
        let mut p = order_params(order);
        let weight = if compute_commission_rates {
            p.push(("computeCommissionRates", Param::Num("true".to_owned())));
            20
        } else {
            1
        };
        self.frame(id, method, p, Some((auth, timestamp.millis())), cost(weight, weight, 0))
    }

    /// `sor.order.place` (weight 1, 0 on success; one order): a validated `LIMIT` or `MARKET`
    /// order routed through the symbol's SOR group. Its answer's `result` is an array of the
    /// one order.
    ///
    /// # Errors
    /// As [`order_place`](Self::order_place).
    pub fn sor_order_place(
        &self,
        id: &str,
        order: &ValidatedOrder,
        auth: WsAuth,
        timestamp: impl Into<ServerMs>,
    ) -> Result<WsRequest, WsBuildError> {
        self.frame(id, "sor.order.place", order_params(order), Some((auth, timestamp.into().millis())), cost(1, 0, 1))
    }

    /// `sor.order.test` (weight 1, 20 with `computeCommissionRates`; no order).
    ///
    /// # Errors
    /// As [`order_place`](Self::order_place).
    pub fn sor_order_test(
        &self,
        id: &str,
        order: &ValidatedOrder,
        compute_commission_rates: bool,
        auth: WsAuth,
        timestamp: impl Into<ServerMs>,
    ) -> Result<WsRequest, WsBuildError> {
        self.order_test_as(id, "sor.order.test", order, compute_commission_rates, auth, timestamp.into())
    }

    /// `order.cancelReplace` (weight 1, one order): cancels `cancel` and places `order`, with
    /// every option Binance documents.
    ///
    /// # Errors
    /// As [`order_place`](Self::order_place).
    pub fn order_cancel_replace(
        &self,
        id: &str,
        order: &ValidatedOrder,
        cancel: OrderRef,
        options: &crate::rest::CancelReplaceOptions,
        auth: WsAuth,
        timestamp: impl Into<ServerMs>,
    ) -> Result<WsRequest, WsBuildError> {
        let mut p = order_params(order);
        p.push(("cancelReplaceMode", Param::Str(options.mode.as_str().to_owned())));
        match cancel {
            OrderRef::OrderId(o) => p.push(("cancelOrderId", Param::Num(o.to_string()))),
            OrderRef::ClientOrderId(c) => p.push(("cancelOrigClientOrderId", Param::Str(c.as_str().to_owned()))),
        }
        if let Some(c) = &options.cancel_new_client_order_id {
            p.push(("cancelNewClientOrderId", Param::Str(c.as_str().to_owned())));
        }
        if let Some(r) = options.cancel_restrictions {
            p.push(("cancelRestrictions", Param::Str(r.as_str().to_owned())));
        }
        if let Some(m) = options.rate_limit_exceeded {
            p.push(("orderRateLimitExceededMode", Param::Str(m.as_str().to_owned())));
        }
        self.frame(id, "order.cancelReplace", p, Some((auth, timestamp.into().millis())), cost(1, 0, 1))
    }

    /// `openOrders.status` (weight 6 for one symbol, 80 for all).
    ///
    /// # Errors
    /// As [`order_place`](Self::order_place).
    pub fn open_orders_status(
        &self,
        id: &str,
        symbol: Option<&str>,
        auth: WsAuth,
        timestamp: impl Into<ServerMs>,
    ) -> Result<WsRequest, WsBuildError> {
        let (p, c) = match symbol {
            Some(s) => (vec![("symbol", Param::Str(s.to_owned()))], RequestCost::OPEN_ORDERS_SYMBOL),
            None => (Vec::new(), RequestCost::OPEN_ORDERS_ALL),
        };
        self.frame(id, "openOrders.status", p, Some((auth, timestamp.into().millis())), c)
    }

    /// `allOrders` (weight 20): the account's orders on `symbol`, filtered by `query` (its
    /// `order_id` is the first order, `from_id` is not used).
    ///
    /// # Errors
    /// As [`order_place`](Self::order_place).
    pub fn all_orders(
        &self,
        id: &str,
        symbol: &str,
        query: &crate::rest::HistoryQuery,
        auth: WsAuth,
        timestamp: impl Into<ServerMs>,
    ) -> Result<WsRequest, WsBuildError> {
        let mut p = vec![("symbol", Param::Str(symbol.to_owned()))];
        history_params(&mut p, &crate::rest::HistoryQuery { from_id: None, ..*query }, "fromId");
        self.frame(id, "allOrders", p, Some((auth, timestamp.into().millis())), cost(20, 20, 0))
    }

    /// `allOrderLists` (weight 20): the account's order lists, filtered by `query` (`from_id`:
    /// the first list id).
    ///
    /// # Errors
    /// As [`order_place`](Self::order_place).
    pub fn all_order_lists(
        &self,
        id: &str,
        query: &crate::rest::HistoryQuery,
        auth: WsAuth,
        timestamp: impl Into<ServerMs>,
    ) -> Result<WsRequest, WsBuildError> {
        let mut p = Vec::new();
        history_params(&mut p, &crate::rest::HistoryQuery { order_id: None, ..*query }, "fromId");
        self.frame(id, "allOrderLists", p, Some((auth, timestamp.into().millis())), RequestCost::ALL_ORDER_LISTS)
    }

    /// `myTrades` (weight 20; 5 with `order_id`): the account's trades on `symbol`, filtered by
    /// `query` (`from_id`: the first trade id).
    ///
    /// # Errors
    /// As [`order_place`](Self::order_place).
    pub fn my_trades(
        &self,
        id: &str,
        symbol: &str,
        query: &crate::rest::HistoryQuery,
        auth: WsAuth,
        timestamp: impl Into<ServerMs>,
    ) -> Result<WsRequest, WsBuildError> {
        let mut p = vec![("symbol", Param::Str(symbol.to_owned()))];
        history_params(&mut p, query, "fromId");
        let c = if query.order_id.is_some() { RequestCost::MY_TRADES_BY_ORDER } else { RequestCost::MY_TRADES };
        self.frame(id, "myTrades", p, Some((auth, timestamp.into().millis())), c)
    }

    /// `myPreventedMatches` (weight 2 by id, 20 by order).
    ///
    /// # Errors
    /// As [`order_place`](Self::order_place).
    pub fn my_prevented_matches(
        &self,
        id: &str,
        symbol: &str,
        by: crate::rest::PreventedMatches,
        auth: WsAuth,
        timestamp: impl Into<ServerMs>,
    ) -> Result<WsRequest, WsBuildError> {
        let mut p = vec![("symbol", Param::Str(symbol.to_owned()))];
        let c = match by {
            crate::rest::PreventedMatches::ById(m) => {
                p.push(("preventedMatchId", Param::Num(m.to_string())));
                RequestCost::PREVENTED_MATCH
            }
            crate::rest::PreventedMatches::ByOrder { order_id, from_prevented_match_id, limit } => {
                p.push(("orderId", Param::Num(order_id.to_string())));
                if let Some(f) = from_prevented_match_id {
                    p.push(("fromPreventedMatchId", Param::Num(f.to_string())));
                }
                if let Some(l) = limit {
                    p.push(("limit", Param::Num(l.to_string())));
                }
                RequestCost::PREVENTED_MATCHES_BY_ORDER
            }
        };
        self.frame(id, "myPreventedMatches", p, Some((auth, timestamp.into().millis())), c)
    }

    /// `myAllocations` (weight 20): the allocations of SOR orders on `symbol`, filtered by
    /// `query` (`from_id`: the first allocation id).
    ///
    /// # Errors
    /// As [`order_place`](Self::order_place).
    pub fn my_allocations(
        &self,
        id: &str,
        symbol: &str,
        query: &crate::rest::HistoryQuery,
        auth: WsAuth,
        timestamp: impl Into<ServerMs>,
    ) -> Result<WsRequest, WsBuildError> {
        let mut p = vec![("symbol", Param::Str(symbol.to_owned()))];
        history_params(&mut p, query, "fromAllocationId");
        self.frame(id, "myAllocations", p, Some((auth, timestamp.into().millis())), RequestCost::MY_ALLOCATIONS)
    }

    /// `account.status` (weight 20): balances and permissions.
    ///
    /// # Errors
    /// As [`order_place`](Self::order_place).
    pub fn account_status(
        &self,
        id: &str,
        omit_zero_balances: bool,
        auth: WsAuth,
        timestamp: impl Into<ServerMs>,
    ) -> Result<WsRequest, WsBuildError> {
        let p = if omit_zero_balances { vec![("omitZeroBalances", Param::Num("true".to_owned()))] } else { Vec::new() };
        self.frame(id, "account.status", p, Some((auth, timestamp.into().millis())), RequestCost::ACCOUNT)
    }

    /// `account.commission` (weight 20): the account's commission rates on `symbol`.
    ///
    /// # Errors
    /// As [`order_place`](Self::order_place).
    pub fn account_commission(
        &self,
        id: &str,
        symbol: &str,
        auth: WsAuth,
        timestamp: impl Into<ServerMs>,
    ) -> Result<WsRequest, WsBuildError> {
        let p = vec![("symbol", Param::Str(symbol.to_owned()))];
        self.frame(id, "account.commission", p, Some((auth, timestamp.into().millis())), cost(20, 20, 0))
    }

    /// `account.rateLimits.orders` (weight 40): the unfilled order counts.
    ///
    /// # Errors
    /// As [`order_place`](Self::order_place).
    pub fn account_rate_limits_orders(
        &self,
        id: &str,
        auth: WsAuth,
        timestamp: impl Into<ServerMs>,
    ) -> Result<WsRequest, WsBuildError> {
        self.frame(
            id,
            "account.rateLimits.orders",
            Vec::new(),
            Some((auth, timestamp.into().millis())),
            cost(40, 40, 0),
        )
    }

    /// `order.amendments` (weight 4): the keep-priority amends of order `order_id`, from
    /// `from_execution_id` on, at most `limit`.
    ///
    /// # Errors
    /// As [`order_place`](Self::order_place).
    #[allow(
        clippy::too_many_arguments,
        reason = "the method's own parameters, as Binance lists them, plus the frame's"
    )]
    pub fn order_amendments(
        &self,
        id: &str,
        symbol: &str,
        order_id: u64,
        from_execution_id: Option<u64>,
        limit: Option<u32>,
        auth: WsAuth,
        timestamp: impl Into<ServerMs>,
    ) -> Result<WsRequest, WsBuildError> {
        let mut p = vec![("symbol", Param::Str(symbol.to_owned())), ("orderId", Param::Num(order_id.to_string()))];
        if let Some(f) = from_execution_id {
            p.push(("fromExecutionId", Param::Num(f.to_string())));
        }
        if let Some(l) = limit {
            p.push(("limit", Param::Num(l.to_string())));
        }
        self.frame(id, "order.amendments", p, Some((auth, timestamp.into().millis())), cost(4, 4, 0))
    }

    /// `myFilters` (weight 40): the filters that apply to the account on `symbol`.
    ///
    /// # Errors
    /// As [`order_place`](Self::order_place).
    pub fn my_filters(
        &self,
        id: &str,
        symbol: &str,
        auth: WsAuth,
        timestamp: impl Into<ServerMs>,
    ) -> Result<WsRequest, WsBuildError> {
        let p = vec![("symbol", Param::Str(symbol.to_owned()))];
        self.frame(id, "myFilters", p, Some((auth, timestamp.into().millis())), cost(40, 40, 0))
    }

    /// `session.status` (weight 2): whether the connection is logged on, and as which key.
    ///
    /// # Errors
    /// [`WsBuildError::InvalidId`].
    pub fn session_status(&self, id: &str) -> Result<WsRequest, WsBuildError> {
        self.frame(id, "session.status", Vec::new(), None, cost(2, 2, 0))
    }

    /// `session.logout` (weight 2): the connection is no longer logged on.
    ///
    /// # Errors
    /// [`WsBuildError::InvalidId`].
    pub fn session_logout(&self, id: &str) -> Result<WsRequest, WsBuildError> {
        self.frame(id, "session.logout", Vec::new(), None, cost(2, 2, 0))
    }

    /// `session.subscriptions` (weight 2): the user-data subscriptions of the connection.
    ///
    /// # Errors
    /// [`WsBuildError::InvalidId`].
    pub fn session_subscriptions(&self, id: &str) -> Result<WsRequest, WsBuildError> {
        self.frame(id, "session.subscriptions", Vec::new(), None, cost(2, 2, 0))
    }

    /// `userDataStream.unsubscribe` (weight 2): one subscription (`subscription_id`), or all.
    ///
    /// # Errors
    /// [`WsBuildError::InvalidId`].
    pub fn user_data_stream_unsubscribe(
        &self,
        id: &str,
        subscription_id: Option<u64>,
    ) -> Result<WsRequest, WsBuildError> {
        let p = subscription_id.map(|s| vec![("subscriptionId", Param::Num(s.to_string()))]).unwrap_or_default();
        self.frame(id, "userDataStream.unsubscribe", p, None, cost(2, 2, 0))
    }
}

/// The parameters of a validated order, in the order Binance documents them.
fn order_params(order: &ValidatedOrder) -> Vec<(&'static str, Param)> {
    let o = order.request();
    let mut p: Vec<(&'static str, Param)> = vec![
        ("symbol", Param::Str(o.symbol().to_owned())),
        ("side", Param::Str(o.side().as_str().to_owned())),
        ("type", Param::Str(o.order_type().as_str().to_owned())),
    ];
    if let Some(t) = o.time_in_force() {
        p.push(("timeInForce", Param::Str(t.as_str().to_owned())));
    }
    for (name, value) in [
        ("quantity", o.quantity()),
        ("quoteOrderQty", o.quote_order_qty()),
        ("price", o.price()),
        ("stopPrice", o.stop_price()),
        ("icebergQty", o.iceberg_qty()),
    ] {
        if let Some(v) = value {
            p.push((name, Param::Str(Wire(v).to_string())));
        }
    }
    if let Some(d) = o.trailing_delta() {
        p.push(("trailingDelta", Param::Num(d.to_string())));
    }
    if let Some(c) = o.client_order_id() {
        p.push(("newClientOrderId", Param::Str(c.as_str().to_owned())));
    }
    if let Some(r) = o.response_type() {
        p.push(("newOrderRespType", Param::Str(r.as_str().to_owned())));
    }
    if let Some(m) = o.self_trade_prevention_mode() {
        p.push(("selfTradePreventionMode", Param::Str(m.as_str().to_owned())));
    }
    if let Some(id) = o.strategy_id() {
        p.push(("strategyId", Param::Num(id.to_string())));
    }
    if let Some(kind) = o.strategy_type() {
        p.push(("strategyType", Param::Num(kind.to_string())));
    }
    if let Some(peg) = o.peg_price_type() {
        p.push(("pegPriceType", Param::Str(peg.as_str().to_owned())));
    }
    if let Some(levels) = o.peg_offset_levels() {
        p.push(("pegOffsetValue", Param::Num(levels.to_string())));
        p.push(("pegOffsetType", Param::Str("PRICE_LEVEL".to_owned())));
    }
    p
}

/// A history query's filters (`from_name`: what its `from_id` is called).
fn history_params(p: &mut Vec<(&'static str, Param)>, query: &crate::rest::HistoryQuery, from_name: &'static str) {
    for (name, value) in [("startTime", query.start_time), ("endTime", query.end_time)] {
        if let Some(v) = value {
            p.push((name, Param::Num(v.to_string())));
        }
    }
    if let Some(v) = query.from_id {
        p.push((from_name, Param::Num(v.to_string())));
    }
    if let Some(v) = query.limit {
        p.push(("limit", Param::Num(v.to_string())));
    }
    if let Some(v) = query.order_id {
        p.push(("orderId", Param::Num(v.to_string())));
    }
}

impl WsApi {
    /// `order.place` on a logged-on session, written straight into the frame's text.
    fn order_place_session(
        &self,
        id: &str,
        order: &ValidatedOrder,
        timestamp_ms: i64,
    ) -> Result<WsRequest, WsBuildError> {
        if crate::model::ClientOrderId::new(id).is_err() {
            return Err(WsBuildError::InvalidId);
        }
        let o = order.request();
        let mut text = String::with_capacity(256);
        text.push_str("{\"id\":");
        push_json_str(&mut text, id);
        text.push_str(",\"method\":\"order.place\",\"params\":{\"symbol\":");
        push_json_str(&mut text, o.symbol());
        text.push_str(",\"side\":");
        push_json_str(&mut text, o.side().as_str());
        text.push_str(",\"type\":");
        push_json_str(&mut text, o.order_type().as_str());
        if let Some(t) = o.time_in_force() {
            text.push_str(",\"timeInForce\":");
            push_json_str(&mut text, t.as_str());
        }
        for (name, value) in [
            ("quantity", o.quantity()),
            ("quoteOrderQty", o.quote_order_qty()),
            ("price", o.price()),
            ("stopPrice", o.stop_price()),
            ("icebergQty", o.iceberg_qty()),
        ] {
            if let Some(v) = value {
                text.push_str(",\"");
                text.push_str(name);
                text.push_str("\":\"");
                crate::num::write_wire(&mut text, v);
                text.push('"');
            }
        }
        if let Some(d) = o.trailing_delta() {
            text.push_str(",\"trailingDelta\":");
            text.push_str(&d.to_string());
        }
        if let Some(c) = o.client_order_id() {
            text.push_str(",\"newClientOrderId\":");
            push_json_str(&mut text, c.as_str());
        }
        if let Some(r) = o.response_type() {
            text.push_str(",\"newOrderRespType\":");
            push_json_str(&mut text, r.as_str());
        }
        if let Some(m) = o.self_trade_prevention_mode() {
            text.push_str(",\"selfTradePreventionMode\":");
            push_json_str(&mut text, m.as_str());
        }
        for (name, value) in [
            ("strategyId", o.strategy_id()),
            ("strategyType", o.strategy_type().map(u64::from)),
            ("pegOffsetValue", o.peg_offset_levels().map(u64::from)),
        ] {
            if let Some(v) = value {
                text.push_str(",\"");
                text.push_str(name);
                text.push_str("\":");
                text.push_str(&v.to_string());
            }
        }
        if let Some(peg) = o.peg_price_type() {
            text.push_str(",\"pegPriceType\":");
            push_json_str(&mut text, peg.as_str());
        }
        if o.peg_offset_levels().is_some() {
            text.push_str(",\"pegOffsetType\":\"PRICE_LEVEL\"");
        }
        if let Some(w) = self.recv_window {
            text.push_str(",\"recvWindow\":");
            text.push_str(&w.to_string());
        }
        text.push_str(",\"timestamp\":");
        text.push_str(itoa_i64(timestamp_ms).as_str());
        text.push_str("}}");
        Ok(WsRequest { id: id.to_owned(), method: "order.place", text, cost: cost(1, 0, 1) })
    }

    /// `order.cancel` (weight 1 on failure, 0 on success).
    ///
    /// # Errors
    /// As [`order_place`](Self::order_place).
    pub fn order_cancel(
        &self,
        id: &str,
        symbol: &str,
        order: OrderRef,
        auth: WsAuth,
        timestamp: impl Into<ServerMs>,
    ) -> Result<WsRequest, WsBuildError> {
        let timestamp_ms = timestamp.into().millis();
        self.frame(id, "order.cancel", order_ref_params(symbol, order), Some((auth, timestamp_ms)), cost(1, 0, 0))
    }

    /// `order.status` (weight 4): the query that resolves an order whose outcome is unknown.
    ///
    /// # Errors
    /// As [`order_place`](Self::order_place).
    pub fn order_status(
        &self,
        id: &str,
        symbol: &str,
        order: OrderRef,
        auth: WsAuth,
        timestamp: impl Into<ServerMs>,
    ) -> Result<WsRequest, WsBuildError> {
        let timestamp_ms = timestamp.into().millis();
        self.frame(id, "order.status", order_ref_params(symbol, order), Some((auth, timestamp_ms)), cost(4, 4, 0))
    }

    /// `order.amend.keepPriority` (weight 4, no unfilled order count): reduces the order's
    /// quantity to `new_qty` keeping its place in the queue; `new_client_order_id` is the
    /// order's client order id afterwards (Binance makes a random one up without it).
    ///
    /// # Errors
    /// As [`order_place`](Self::order_place).
    #[allow(
        clippy::too_many_arguments,
        reason = "the method's own parameters, as Binance lists them, plus the frame's"
    )]
    pub fn order_amend_keep_priority(
        &self,
        id: &str,
        symbol: &str,
        order: OrderRef,
        new_qty: rust_decimal::Decimal,
        new_client_order_id: Option<&crate::model::ClientOrderId>,
        auth: WsAuth,
        timestamp: impl Into<ServerMs>,
    ) -> Result<WsRequest, WsBuildError> {
        let timestamp_ms = timestamp.into().millis();
        let mut p = order_ref_params(symbol, order);
        if let Some(c) = new_client_order_id {
            p.push(("newClientOrderId", Param::Str(c.as_str().to_owned())));
        }
        p.push(("newQty", Param::Str(Wire(new_qty).to_string())));
        self.frame(id, "order.amend.keepPriority", p, Some((auth, timestamp_ms)), cost(4, 4, 0))
    }

    /// `openOrders.cancelAll` on `symbol` (weight 1 on failure, 0 on success).
    ///
    /// # Errors
    /// As [`order_place`](Self::order_place).
    pub fn open_orders_cancel_all(
        &self,
        id: &str,
        symbol: &str,
        auth: WsAuth,
        timestamp: impl Into<ServerMs>,
    ) -> Result<WsRequest, WsBuildError> {
        let timestamp_ms = timestamp.into().millis();
        let p = vec![("symbol", Param::Str(symbol.to_owned()))];
        self.frame(id, "openOrders.cancelAll", p, Some((auth, timestamp_ms)), cost(1, 0, 0))
    }

    /// `orderList.place.oco` / `.oto` / `.otoco` / `.opo` / `.opoco` for a validated order list,
    /// with the same parameters as the REST endpoint (weight 1 on failure, 0 on success; 2 or 3
    /// orders).
    ///
    /// ```
    /// use aegis_exchange::{BUNDLED_EXCHANGE_INFO, ExchangeInfo, ListLeg, MarketContext, OtoRequest, Side, TimeInForce};
    /// use aegis_exchange::sign::{Credentials, HmacSha256};
    /// use aegis_exchange::ws_api::{WsApi, WsAuth};
    /// use rust_decimal_macros::dec;
    /// let info = ExchangeInfo::from_json(BUNDLED_EXCHANGE_INFO).unwrap();
    /// let oto = OtoRequest::oto("BTCUSDT", Side::Buy, dec!(0.01), ListLeg::limit(dec!(60000), TimeInForce::Gtc),
    ///     Side::Sell, dec!(0.01), ListLeg::limit_maker(dec!(66000)));
    /// let valid = info.symbol("BTCUSDT").unwrap().validate_list(&oto.into(), &MarketContext::default()).unwrap();
    /// let api = WsApi::new().with_credentials(Credentials::new("key", HmacSha256::new("secret")).unwrap());
    /// let frame = api.order_list_place("l1", &valid, WsAuth::Signed, 1_760_000_000_000_i64).unwrap();
    /// assert!(frame.text.starts_with(r#"{"id":"l1","method":"orderList.place.oto","params":{"symbol":"BTCUSDT","workingType":"LIMIT""#));
    /// ```
    ///
    /// # Errors
    /// As [`order_place`](Self::order_place).
    pub fn order_list_place(
        &self,
        id: &str,
        list: &crate::rules::ValidatedList,
        auth: WsAuth,
        timestamp: impl Into<ServerMs>,
    ) -> Result<WsRequest, WsBuildError> {
        let timestamp_ms = timestamp.into().millis();
        let request = list.request();
        let p = request.params().into_iter().map(|(k, v)| (k, Param::Str(v))).collect();
        let orders = request.order_count();
        self.frame(id, request.ws_method(), p, Some((auth, timestamp_ms)), cost(1, 0, orders))
    }

    /// `orderList.cancel`: cancels a whole order list (weight 1 on failure, 0 on success).
    ///
    /// # Errors
    /// As [`order_place`](Self::order_place).
    pub fn order_list_cancel(
        &self,
        id: &str,
        symbol: &str,
        list: crate::rest::ListRef,
        auth: WsAuth,
        timestamp: impl Into<ServerMs>,
    ) -> Result<WsRequest, WsBuildError> {
        let timestamp_ms = timestamp.into().millis();
        let mut p = vec![("symbol", Param::Str(symbol.to_owned()))];
        match list {
            crate::rest::ListRef::OrderListId(l) => p.push(("orderListId", Param::Num(l.to_string()))),
            crate::rest::ListRef::ListClientOrderId(c) => {
                p.push(("listClientOrderId", Param::Str(c.as_str().to_owned())));
            }
        }
        self.frame(id, "orderList.cancel", p, Some((auth, timestamp_ms)), cost(1, 0, 0))
    }

    /// `orderList.status` (weight 4): one order list, by id or client order id (the query that
    /// resolves a list whose placement outcome is unknown).
    ///
    /// # Errors
    /// As [`order_place`](Self::order_place).
    pub fn order_list_status(
        &self,
        id: &str,
        list: crate::rest::ListRef,
        auth: WsAuth,
        timestamp: impl Into<ServerMs>,
    ) -> Result<WsRequest, WsBuildError> {
        let timestamp_ms = timestamp.into().millis();
        let p = match list {
            crate::rest::ListRef::OrderListId(l) => vec![("orderListId", Param::Num(l.to_string()))],
            crate::rest::ListRef::ListClientOrderId(c) => {
                vec![("origClientOrderId", Param::Str(c.as_str().to_owned()))]
            }
        };
        self.frame(id, "orderList.status", p, Some((auth, timestamp_ms)), cost(4, 4, 0))
    }

    /// `openOrderLists.status` (weight 6): the account's open order lists.
    ///
    /// # Errors
    /// As [`order_place`](Self::order_place).
    pub fn open_order_lists_status(
        &self,
        id: &str,
        auth: WsAuth,
        timestamp: impl Into<ServerMs>,
    ) -> Result<WsRequest, WsBuildError> {
        let timestamp_ms = timestamp.into().millis();
        self.frame(id, "openOrderLists.status", Vec::new(), Some((auth, timestamp_ms)), cost(6, 6, 0))
    }
}

const fn cost(weight: u32, weight_on_success: u32, orders: u32) -> RequestCost {
    RequestCost { weight, weight_on_success, orders }
}

fn order_ref_params(symbol: &str, order: OrderRef) -> Vec<(&'static str, Param)> {
    let mut p = vec![("symbol", Param::Str(symbol.to_owned()))];
    match order {
        OrderRef::OrderId(id) => p.push(("orderId", Param::Num(id.to_string()))),
        OrderRef::ClientOrderId(id) => p.push(("origClientOrderId", Param::Str(id.as_str().to_owned()))),
    }
    p
}

/// Appends `s` as a JSON string literal.
fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The error object of a response envelope.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct WsError {
    /// Binance's code.
    pub code: i64,
    /// Binance's message.
    #[serde(default)]
    pub msg: String,
    /// Extra data (`retryAfter` for 418 / 429).
    #[serde(default)]
    pub data: Option<Value>,
}

/// A response envelope: `{id, status, result | error, rateLimits}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct WsResponse {
    /// The request id it answers (`None` for unsolicited messages such as a revoked session).
    #[serde(default, deserialize_with = "id_text")]
    pub id: Option<String>,
    /// HTTP-like status (5xx: unknown outcome).
    pub status: u16,
    /// The result on success.
    #[serde(default)]
    pub result: Option<Value>,
    /// The error on failure.
    #[serde(default)]
    pub error: Option<WsError>,
    /// Current rate-limit counts, when the connection returns them.
    #[serde(default, rename = "rateLimits")]
    pub rate_limits: Vec<RateLimitCount>,
}

fn id_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

impl WsResponse {
    /// The error as an [`ApiError`] (with `retryAfter` from its data), if it is one.
    #[must_use]
    pub fn api_error(&self) -> Option<ApiError> {
        if (200..300).contains(&self.status) && self.error.is_none() {
            return None;
        }
        let (code, msg, retry) = match &self.error {
            Some(e) => {
                (Some(e.code), e.msg.clone(), e.data.as_ref().and_then(|d| d.get("retryAfter")).and_then(Value::as_i64))
            }
            None => (None, String::from("error status without an error object"), None),
        };
        Some(ApiError { status: self.status, code, msg, retry_after_ms: retry })
    }

    /// The result decoded as `T`.
    ///
    /// # Errors
    /// [`ResponseError::Api`] for an error response, [`ResponseError::Decode`] for a result
    /// that is missing or not a `T`.
    pub fn result_as<T: serde::de::DeserializeOwned>(&self) -> Result<T, ResponseError> {
        if let Some(e) = self.api_error() {
            return Err(ResponseError::Api(e));
        }
        let value = self.result.clone().unwrap_or(Value::Null);
        serde_json::from_value(value).map_err(|e| ResponseError::Decode(e.into()))
    }
}

fn opt_decimal<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
    serde_str::decimal(d).map(Some)
}

/// `executionReport`: every field of SPEC §9.3 (conditional ones as `Option`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ExecutionReport {
    /// `E` event time (ms).
    #[serde(rename = "E")]
    pub event_time: i64,
    /// `s` symbol.
    #[serde(rename = "s")]
    pub symbol: String,
    /// `c` client order id (for a cancel: the cancel's id).
    #[serde(rename = "c")]
    pub client_order_id: String,
    /// `S` side.
    #[serde(rename = "S")]
    pub side: Side,
    /// `o` order type.
    #[serde(rename = "o")]
    pub order_type: OrderType,
    /// `f` time in force.
    #[serde(rename = "f")]
    pub time_in_force: TimeInForce,
    /// `q` order quantity.
    #[serde(rename = "q", deserialize_with = "serde_str::decimal")]
    pub quantity: Decimal,
    /// `p` order price.
    #[serde(rename = "p", deserialize_with = "serde_str::decimal")]
    pub price: Decimal,
    /// `P` stop price.
    #[serde(rename = "P", deserialize_with = "serde_str::decimal")]
    pub stop_price: Decimal,
    /// `F` iceberg quantity.
    #[serde(rename = "F", deserialize_with = "serde_str::decimal")]
    pub iceberg_qty: Decimal,
    /// `g` order list id (-1 if none).
    #[serde(rename = "g")]
    pub order_list_id: i64,
    /// `C` original client order id (the cancelled order's), empty otherwise.
    #[serde(rename = "C", default)]
    pub orig_client_order_id: String,
    /// `x` execution type.
    #[serde(rename = "x")]
    pub execution_type: ExecutionType,
    /// `X` order status.
    #[serde(rename = "X")]
    pub status: OrderStatus,
    /// `r` reject reason (`NONE` when none).
    #[serde(rename = "r")]
    pub reject_reason: String,
    /// `i` order id.
    #[serde(rename = "i")]
    pub order_id: u64,
    /// `l` last executed quantity.
    #[serde(rename = "l", deserialize_with = "serde_str::decimal")]
    pub last_qty: Decimal,
    /// `z` cumulative filled quantity.
    #[serde(rename = "z", deserialize_with = "serde_str::decimal")]
    pub cumulative_qty: Decimal,
    /// `L` last executed price.
    #[serde(rename = "L", deserialize_with = "serde_str::decimal")]
    pub last_price: Decimal,
    /// `n` commission of this execution.
    #[serde(rename = "n", deserialize_with = "serde_str::decimal")]
    pub commission: Decimal,
    /// `N` commission asset (`None` when there was no fill).
    #[serde(rename = "N", default)]
    pub commission_asset: Option<String>,
    /// `T` transaction time (ms).
    #[serde(rename = "T")]
    pub transaction_time: i64,
    /// `t` trade id (-1 when not a trade).
    #[serde(rename = "t")]
    pub trade_id: i64,
    /// `v` prevented match id (STP only).
    #[serde(rename = "v", default)]
    pub prevented_match_id: Option<i64>,
    /// `I` execution id.
    #[serde(rename = "I")]
    pub execution_id: i64,
    /// `w` whether the order is on the book.
    #[serde(rename = "w")]
    pub is_working: bool,
    /// `m` whether this trade was the maker side.
    #[serde(rename = "m")]
    pub is_maker: bool,
    /// `O` order creation time (ms).
    #[serde(rename = "O")]
    pub order_creation_time: i64,
    /// `Z` cumulative quote quantity.
    #[serde(rename = "Z", deserialize_with = "serde_str::decimal")]
    pub cumulative_quote_qty: Decimal,
    /// `Y` last quote quantity (`L × l`).
    #[serde(rename = "Y", deserialize_with = "serde_str::decimal")]
    pub last_quote_qty: Decimal,
    /// `Q` quote order quantity.
    #[serde(rename = "Q", deserialize_with = "serde_str::decimal")]
    pub quote_order_qty: Decimal,
    /// `W` working time (only when on the book).
    #[serde(rename = "W", default)]
    pub working_time: Option<i64>,
    /// `V` self-trade prevention mode.
    #[serde(rename = "V", default)]
    pub self_trade_prevention_mode: Option<SelfTradePreventionMode>,
    /// `eR` expiry reason (since 2026-03).
    #[serde(rename = "eR", default)]
    pub expiry_reason: Option<String>,
    /// `d` trailing delta.
    #[serde(rename = "d", default)]
    pub trailing_delta: Option<i64>,
    /// `D` trailing time.
    #[serde(rename = "D", default)]
    pub trailing_time: Option<i64>,
    /// `j` strategy id.
    #[serde(rename = "j", default)]
    pub strategy_id: Option<i64>,
    /// `J` strategy type.
    #[serde(rename = "J", default)]
    pub strategy_type: Option<i64>,
    /// `A` prevented quantity (STP).
    #[serde(rename = "A", default, deserialize_with = "opt_decimal")]
    pub prevented_qty: Option<Decimal>,
    /// `B` last prevented quantity (STP).
    #[serde(rename = "B", default, deserialize_with = "opt_decimal")]
    pub last_prevented_qty: Option<Decimal>,
    /// `u` trade group id (STP).
    #[serde(rename = "u", default)]
    pub trade_group_id: Option<i64>,
    /// `U` counter order id (STP).
    #[serde(rename = "U", default)]
    pub counter_order_id: Option<i64>,
    /// `Cs` counter symbol (STP).
    #[serde(rename = "Cs", default)]
    pub counter_symbol: Option<String>,
    /// `pl` prevented execution quantity.
    #[serde(rename = "pl", default, deserialize_with = "opt_decimal")]
    pub prevented_execution_qty: Option<Decimal>,
    /// `pL` prevented execution price.
    #[serde(rename = "pL", default, deserialize_with = "opt_decimal")]
    pub prevented_execution_price: Option<Decimal>,
    /// `pY` prevented execution quote quantity.
    #[serde(rename = "pY", default, deserialize_with = "opt_decimal")]
    pub prevented_execution_quote_qty: Option<Decimal>,
    /// `b` match type (allocations).
    #[serde(rename = "b", default)]
    pub match_type: Option<String>,
    /// `a` allocation id.
    #[serde(rename = "a", default)]
    pub allocation_id: Option<i64>,
    /// `k` working floor.
    #[serde(rename = "k", default)]
    pub working_floor: Option<String>,
    /// `uS` used SOR.
    #[serde(rename = "uS", default)]
    pub used_sor: Option<bool>,
    /// `gP` peg price type.
    #[serde(rename = "gP", default)]
    pub peg_price_type: Option<String>,
    /// `gOT` peg offset type.
    #[serde(rename = "gOT", default)]
    pub peg_offset_type: Option<String>,
    /// `gOV` peg offset value.
    #[serde(rename = "gOV", default)]
    pub peg_offset_value: Option<i64>,
    /// `gp` pegged price.
    #[serde(rename = "gp", default, deserialize_with = "opt_decimal")]
    pub pegged_price: Option<Decimal>,
}

impl ExecutionReport {
    /// The event as a report of its order (`NONE` as the reject reason means none).
    #[must_use]
    pub fn report(&self) -> OrderReport<'_> {
        OrderReport {
            client_order_id: &self.client_order_id,
            orig_client_order_id: Some(self.orig_client_order_id.as_str()).filter(|s| !s.is_empty()),
            order_id: self.order_id,
            status: Some(&self.status),
            executed_qty: Some(self.cumulative_qty),
            cumulative_quote_qty: Some(self.cumulative_quote_qty),
            reject_reason: Some(self.reject_reason.as_str()).filter(|r| *r != "NONE" && !r.is_empty()),
            qty: Some(self.quantity).filter(|q| !q.is_zero()),
            prevented_qty: self.prevented_qty,
            pegged_price: self.pegged_price.filter(|p| !p.is_zero()),
        }
    }

    /// The trade it reports, for an execution of type `TRADE`.
    #[must_use]
    pub fn trade(&self) -> Option<OrderTrade<'_>> {
        (self.execution_type == ExecutionType::Trade).then_some(())?;
        Some(OrderTrade {
            id: crate::orders::fill_key(self.trade_id, self.allocation_id)?,
            order_id: None,
            base_qty: self.last_qty,
            quote_qty: self.last_quote_qty,
            commission: self.commission,
            commission_asset: self.commission_asset.as_deref(),
        })
    }
}

/// One balance of `outboundAccountPosition` (absolute, not a delta).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PositionBalance {
    /// `a` asset.
    #[serde(rename = "a")]
    pub asset: String,
    /// `f` free.
    #[serde(rename = "f", deserialize_with = "serde_str::decimal")]
    pub free: Decimal,
    /// `l` locked.
    #[serde(rename = "l", deserialize_with = "serde_str::decimal")]
    pub locked: Decimal,
}

/// One order of a `listStatus` event.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ListOrder {
    /// `s` symbol.
    #[serde(rename = "s")]
    pub symbol: String,
    /// `i` order id.
    #[serde(rename = "i")]
    pub order_id: u64,
    /// `c` client order id.
    #[serde(rename = "c")]
    pub client_order_id: String,
}

/// A user-data event.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserDataEvent {
    /// `executionReport`.
    ExecutionReport(Box<ExecutionReport>),
    /// `outboundAccountPosition`: absolute balances of the assets that may have changed.
    OutboundAccountPosition {
        /// `E` event time.
        event_time: i64,
        /// `u` time of the last account update.
        last_update: i64,
        /// `B` balances.
        balances: Vec<PositionBalance>,
    },
    /// `balanceUpdate`: a deposit, withdrawal or transfer (`delta` may be negative).
    BalanceUpdate {
        /// `E` event time.
        event_time: i64,
        /// `a` asset.
        asset: String,
        /// `d` delta.
        delta: Decimal,
        /// `T` clear time.
        clear_time: i64,
    },
    /// `externalLockUpdate`: balance locked (or unlocked, negative) by an external system.
    ExternalLockUpdate {
        /// `E` event time.
        event_time: i64,
        /// `a` asset.
        asset: String,
        /// `d` delta.
        delta: Decimal,
        /// `T` transaction time.
        transaction_time: i64,
    },
    /// `listStatus` for order lists.
    ListStatus {
        /// `E` event time.
        event_time: i64,
        /// `s` symbol.
        symbol: String,
        /// `g` order list id.
        order_list_id: i64,
        /// `c` contingency type (`OCO`, `OTO`, ...).
        contingency_type: String,
        /// `l` list status type.
        list_status_type: String,
        /// `L` list order status.
        list_order_status: String,
        /// `r` the list's reject reason (`NONE` when none).
        reject_reason: String,
        /// `C` the list's client order id.
        list_client_order_id: String,
        /// `T` transaction time.
        transaction_time: i64,
        /// `O` the orders.
        orders: Vec<ListOrder>,
    },
    /// `eventStreamTerminated`: the subscription ended.
    EventStreamTerminated {
        /// `E` event time.
        event_time: i64,
    },
    /// `serverShutdown`: reconnect as soon as possible.
    ServerShutdown {
        /// `E` event time.
        event_time: i64,
    },
    /// An event type this crate does not know, kept by name.
    Unknown {
        /// `e` as sent.
        event_type: String,
    },
}

#[derive(Deserialize)]
struct BalanceDelta {
    #[serde(rename = "E")]
    event_time: i64,
    #[serde(rename = "a")]
    asset: String,
    #[serde(rename = "d", deserialize_with = "serde_str::signed_decimal")]
    delta: Decimal,
    #[serde(rename = "T")]
    time: i64,
}

#[derive(Deserialize)]
struct Position {
    #[serde(rename = "E")]
    event_time: i64,
    #[serde(rename = "u")]
    last_update: i64,
    #[serde(rename = "B")]
    balances: Vec<PositionBalance>,
}

#[derive(Deserialize)]
struct ListStatusRaw {
    #[serde(rename = "E")]
    event_time: i64,
    #[serde(rename = "s")]
    symbol: String,
    #[serde(rename = "g")]
    order_list_id: i64,
    #[serde(rename = "c", default)]
    contingency_type: String,
    #[serde(rename = "l")]
    list_status_type: String,
    #[serde(rename = "L")]
    list_order_status: String,
    #[serde(rename = "r", default)]
    reject_reason: String,
    #[serde(rename = "C", default)]
    list_client_order_id: String,
    #[serde(rename = "T", default)]
    transaction_time: i64,
    #[serde(rename = "O", default)]
    orders: Vec<ListOrder>,
}

#[derive(Deserialize)]
struct Timed {
    #[serde(rename = "E")]
    event_time: i64,
}

impl UserDataEvent {
    /// Decodes an event object (the `event` of the wrapper, or a bare legacy event).
    ///
    /// # Errors
    /// [`DecodeError`] when a known event type has malformed fields (an unknown type is fine).
    pub fn from_value(event: Value) -> Result<Self, DecodeError> {
        let event_type = event.get("e").and_then(Value::as_str).unwrap_or_default().to_owned();
        let de = |e: serde_json::Error| DecodeError::from(e);
        Ok(match event_type.as_str() {
            "executionReport" => UserDataEvent::ExecutionReport(Box::new(serde_json::from_value(event).map_err(de)?)),
            "outboundAccountPosition" => {
                let p: Position = serde_json::from_value(event).map_err(de)?;
                UserDataEvent::OutboundAccountPosition {
                    event_time: p.event_time,
                    last_update: p.last_update,
                    balances: p.balances,
                }
            }
            "balanceUpdate" => {
                let b: BalanceDelta = serde_json::from_value(event).map_err(de)?;
                UserDataEvent::BalanceUpdate {
                    event_time: b.event_time,
                    asset: b.asset,
                    delta: b.delta,
                    clear_time: b.time,
                }
            }
            "externalLockUpdate" => {
                let b: BalanceDelta = serde_json::from_value(event).map_err(de)?;
                UserDataEvent::ExternalLockUpdate {
                    event_time: b.event_time,
                    asset: b.asset,
                    delta: b.delta,
                    transaction_time: b.time,
                }
            }
            "listStatus" => {
                let l: ListStatusRaw = serde_json::from_value(event).map_err(de)?;
                UserDataEvent::ListStatus {
                    event_time: l.event_time,
                    symbol: l.symbol,
                    order_list_id: l.order_list_id,
                    contingency_type: l.contingency_type,
                    list_status_type: l.list_status_type,
                    list_order_status: l.list_order_status,
                    reject_reason: l.reject_reason,
                    list_client_order_id: l.list_client_order_id,
                    transaction_time: l.transaction_time,
                    orders: l.orders,
                }
            }
            "eventStreamTerminated" => UserDataEvent::EventStreamTerminated {
                event_time: serde_json::from_value::<Timed>(event).map_err(de)?.event_time,
            },
            "serverShutdown" => UserDataEvent::ServerShutdown {
                event_time: serde_json::from_value::<Timed>(event).map_err(de)?.event_time,
            },
            _ => UserDataEvent::Unknown { event_type },
        })
    }
}

/// One text frame from the WebSocket API.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub enum WsFrame {
    /// A response to a request (or an unsolicited status message).
    Response(WsResponse),
    /// A user-data event, with the subscription it belongs to (`None` for connection-level
    /// events such as `serverShutdown`).
    Event {
        /// `subscriptionId`.
        subscription_id: Option<u64>,
        /// The event.
        event: UserDataEvent,
    },
}

impl WsFrame {
    /// Decodes a text frame.
    ///
    /// # Errors
    /// [`DecodeError`] for text that is neither a response nor an event.
    ///
    /// ```
    /// use aegis_exchange::ws_api::{UserDataEvent, WsFrame};
    /// let f = WsFrame::decode(br#"{"subscriptionId":0,"event":{"e":"eventStreamTerminated","E":1728973001334}}"#).unwrap();
    /// assert_eq!(f, WsFrame::Event { subscription_id: Some(0), event: UserDataEvent::EventStreamTerminated { event_time: 1728973001334 } });
    /// ```
    pub fn decode(text: &[u8]) -> Result<Self, DecodeError> {
        // The frame that matters most, an executionReport as Binance writes it, in one pass.
        if let Some(frame) = fast::execution_report(text) {
            return Ok(frame);
        }
        Self::decode_general(text)
    }

    /// Any frame, through a `Value`.
    fn decode_general(text: &[u8]) -> Result<Self, DecodeError> {
        let mut value: Value = serde_json::from_slice(text)?;
        let obj = value.as_object_mut().ok_or(DecodeError::Shape { path: "$".into(), expected: "an object" })?;
        if let Some(event) = obj.remove("event") {
            let subscription_id = obj.get("subscriptionId").and_then(Value::as_u64);
            return Ok(WsFrame::Event { subscription_id, event: UserDataEvent::from_value(event)? });
        }
        if obj.contains_key("status") {
            return Ok(WsFrame::Response(serde_json::from_value(value)?));
        }
        Err(DecodeError::Shape { path: "$".into(), expected: "a response envelope or an event wrapper" })
    }
}

/// `v` in decimal, without going through `fmt`.
fn itoa_i64(v: i64) -> String {
    let mut digits = [0u8; 20];
    let mut n = v.unsigned_abs();
    let mut at = digits.len();
    loop {
        at -= 1;
        if let Some(d) = digits.get_mut(at) {
            *d = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || at == 0 {
            break;
        }
    }
    let mut out = String::with_capacity(21);
    if v < 0 {
        out.push('-');
    }
    out.extend(digits.get(at..).unwrap_or_default().iter().map(|b| char::from(*b)));
    out
}

#[cfg(test)]
mod session_frame_tests {
    use super::*;
    use crate::model::{ClientOrderId, OrderRequest, Side};
    use crate::rules::{ExchangeInfo, MarketContext};
    use rust_decimal_macros::dec;

    #[test]
    fn order_place_session_frame_equals_the_general_path() {
        let info = ExchangeInfo::from_json(crate::rules::BUNDLED_EXCHANGE_INFO).unwrap_or_default();
        let Some(rules) = info.symbol("BTCUSDT") else { panic!("BTCUSDT") };
        let orders = [
            OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.001), dec!(61837.63)),
            OrderRequest::limit("BTCUSDT", Side::Sell, dec!(0.5), dec!(70000))
                .with_client_order_id(ClientOrderId::new("abc-1_X").unwrap_or_else(|e| panic!("{e}")))
                .with_response_type(crate::model::OrderResponseType::Full),
            OrderRequest::market("BTCUSDT", Side::Buy, dec!(0.01)),
        ];
        for api in [
            WsApi::new(),
            WsApi::new().with_recv_window(crate::clock::RecvWindow::from_millis(7000).unwrap_or_default()),
        ] {
            for order in &orders {
                let valid = rules.validate(order, &MarketContext::default().with_reference_price(dec!(65000)));
                let Ok(valid) = valid else { panic!("{order}") };
                for ts in [1_760_000_000_000_i64, 0, i64::MAX] {
                    let fast = api.order_place_session("r42", &valid, ts).unwrap_or_else(|e| panic!("{e}"));
                    let general =
                        api.order_place_general("r42", &valid, WsAuth::Session, ts).unwrap_or_else(|e| panic!("{e}"));
                    assert_eq!(fast.text, general.text);
                    assert_eq!((fast.cost, fast.method), (general.cost, general.method));
                }
            }
        }
        assert_eq!(itoa_i64(-45), "-45");
        assert_eq!(itoa_i64(i64::MIN), i64::MIN.to_string());
    }
}
