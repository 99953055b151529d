//! The paper exchange's REST endpoints: routing, weights, authentication, and each endpoint's
//! answer in Binance's shape.

use bytes::Bytes;
use http::{Method, Request};
use rust_decimal::Decimal;

use super::market::Market;
use super::reply::Reply;
use super::wire::{Obj, Params, array};
use super::{FillRecord, PaperExchange, PaperKey, PaperOrder, Peg, stop_triggered};
use aegis_exchange::MarketContext;
use aegis_exchange::OrderRequest;
use aegis_exchange::{
    ClientOrderId, OrderResponseType, OrderStatus, OrderType, PegPriceType, SelfTradePreventionMode, Side, TimeInForce,
};

/// The endpoints the paper exchange serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Endpoint {
    Ping,
    Time,
    ExchangeInfo,
    Depth,
    Trades,
    AvgPrice,
    TickerPrice,
    BookTicker,
    Klines,
    Ticker24h,
    AggTrades,
    /// `ticker` (rolling window) and `ticker/tradingDay` (`true`).
    WindowTicker(bool),
    Order,
    OrderTest,
    SorOrder,
    SorOrderTest,
    Cancel,
    CancelAll,
    Query,
    OpenOrders,
    Account,
    MyTrades,
    RateLimitOrder,
    Amend,
    CancelReplace,
    PreventedMatches,
    Allocations,
    AllLists,
    Oco,
    Oto(aegis_exchange::OtoKind),
    CancelList,
    QueryList,
    OpenLists,
    AllOrders,
    Commission,
    MyFilters,
    Amendments,
    /// `historicalTrades` / `trades.historical`.
    HistoricalTrades,
    /// `historicalBlockTrades` / `blockTrades.historical` (the paper exchange has none).
    BlockTrades,
    ReferencePrice,
    ReferencePriceCalculation,
    ExecutionRules,
    /// The deprecated OCO (`POST /api/v3/order/oco`, `orderList.place`).
    OldOco,
}

impl Endpoint {
    fn route(method: &Method, path: &str) -> Option<Self> {
        use Endpoint as E;
        Some(match (method.as_str(), path) {
            ("GET", "/api/v3/ping") => E::Ping,
            ("GET", "/api/v3/time") => E::Time,
            ("GET", "/api/v3/exchangeInfo") => E::ExchangeInfo,
            ("GET", "/api/v3/depth") => E::Depth,
            ("GET", "/api/v3/trades") => E::Trades,
            ("GET", "/api/v3/avgPrice") => E::AvgPrice,
            ("GET", "/api/v3/ticker/price") => E::TickerPrice,
            ("GET", "/api/v3/ticker/bookTicker") => E::BookTicker,
            ("GET", "/api/v3/klines" | "/api/v3/uiKlines") => E::Klines,
            ("GET", "/api/v3/ticker/24hr") => E::Ticker24h,
            ("GET", "/api/v3/aggTrades") => E::AggTrades,
            ("GET", "/api/v3/ticker") => E::WindowTicker(false),
            ("GET", "/api/v3/ticker/tradingDay") => E::WindowTicker(true),
            ("POST", "/api/v3/order") => E::Order,
            ("POST", "/api/v3/order/test") => E::OrderTest,
            ("POST", "/api/v3/sor/order") => E::SorOrder,
            ("POST", "/api/v3/sor/order/test") => E::SorOrderTest,
            ("DELETE", "/api/v3/order") => E::Cancel,
            ("DELETE", "/api/v3/openOrders") => E::CancelAll,
            ("GET", "/api/v3/order") => E::Query,
            ("GET", "/api/v3/openOrders") => E::OpenOrders,
            ("GET", "/api/v3/account") => E::Account,
            ("GET", "/api/v3/myTrades") => E::MyTrades,
            ("GET", "/api/v3/rateLimit/order") => E::RateLimitOrder,
            ("PUT", "/api/v3/order/amend/keepPriority") => E::Amend,
            ("POST", "/api/v3/order/cancelReplace") => E::CancelReplace,
            ("GET", "/api/v3/myPreventedMatches") => E::PreventedMatches,
            ("GET", "/api/v3/myAllocations") => E::Allocations,
            ("GET", "/api/v3/allOrderList") => E::AllLists,
            ("POST", "/api/v3/orderList/oco") => E::Oco,
            ("POST", "/api/v3/orderList/oto") => E::Oto(aegis_exchange::OtoKind::Oto),
            ("POST", "/api/v3/orderList/otoco") => E::Oto(aegis_exchange::OtoKind::Otoco),
            ("POST", "/api/v3/orderList/opo") => E::Oto(aegis_exchange::OtoKind::Opo),
            ("POST", "/api/v3/orderList/opoco") => E::Oto(aegis_exchange::OtoKind::Opoco),
            ("DELETE", "/api/v3/orderList") => E::CancelList,
            ("GET", "/api/v3/orderList") => E::QueryList,
            ("GET", "/api/v3/openOrderList") => E::OpenLists,
            ("GET", "/api/v3/allOrders") => E::AllOrders,
            ("GET", "/api/v3/account/commission") => E::Commission,
            ("GET", "/api/v3/myFilters") => E::MyFilters,
            ("GET", "/api/v3/order/amendments") => E::Amendments,
            ("GET", "/api/v3/historicalTrades") => E::HistoricalTrades,
            ("GET", "/api/v3/historicalBlockTrades") => E::BlockTrades,
            ("GET", "/api/v3/referencePrice") => E::ReferencePrice,
            ("GET", "/api/v3/referencePrice/calculation") => E::ReferencePriceCalculation,
            ("GET", "/api/v3/executionRules") => E::ExecutionRules,
            ("POST", "/api/v3/order/oco") => E::OldOco,
            _ => return None,
        })
    }

    pub(super) fn signed(self) -> bool {
        use Endpoint as E;
        matches!(
            self,
            E::Order
                | E::OrderTest
                | E::SorOrder
                | E::SorOrderTest
                | E::Cancel
                | E::CancelAll
                | E::Query
                | E::OpenOrders
                | E::Account
                | E::MyTrades
                | E::RateLimitOrder
                | E::Amend
                | E::CancelReplace
                | E::PreventedMatches
                | E::Allocations
                | E::AllLists
                | E::Oco
                | E::OldOco
                | E::Oto(_)
                | E::CancelList
                | E::QueryList
                | E::OpenLists
                | E::AllOrders
                | E::Commission
                | E::MyFilters
                | E::Amendments
        )
    }

    /// A successful answer's body with its times in microseconds (`X-MBX-TIME-UNIT` /
    /// `timeUnit=MICROSECOND`).
    pub(super) fn in_microseconds(self, body: &str) -> String {
        match self {
            Endpoint::Klines => super::wire::klines_in_microseconds(body),
            _ => super::wire::times_in_microseconds(body, super::wire::RESULT_TIMES),
        }
    }

    /// The weight (SPEC §5.4), and whether a success costs nothing.
    pub(super) fn weight(self, params: &Params) -> (u64, bool) {
        use Endpoint as E;
        let has = |name: &str| params.get(name).is_some();
        match self {
            E::Ping | E::Time => (1, false),
            E::ExchangeInfo | E::Account => (20, false),
            E::Depth => {
                let limit = params.get("limit").and_then(|l| l.parse::<u32>().ok()).unwrap_or(100);
                (
                    match limit {
                        0..=100 => 5,
                        101..=500 => 25,
                        501..=1000 => 50,
                        _ => 250,
                    },
                    false,
                )
            }
            E::Trades | E::HistoricalTrades | E::BlockTrades => (25, false),
            E::ReferencePrice | E::ReferencePriceCalculation => (2, false),
            E::ExecutionRules => (
                match params.get("symbols").and_then(|l| list_param(l, false)) {
                    _ if has("symbol") => 2,
                    Some(list) => u64::try_from(list.len()).unwrap_or(u64::MAX).saturating_mul(2).min(40),
                    None => 40,
                },
                false,
            ),
            E::AvgPrice | E::Klines => (2, false),
            E::AggTrades => (4, false),
            E::WindowTicker(_) => (super::klines::window_ticker_weight(params), false),
            E::Ticker24h => (super::klines::ticker_24hr_weight(params), false),
            E::TickerPrice | E::BookTicker => (if has("symbol") { 2 } else { 4 }, false),
            E::Order | E::SorOrder | E::Cancel | E::CancelAll => (1, true),
            E::OrderTest | E::SorOrderTest => {
                (if params.get("computeCommissionRates") == Some("true") { 20 } else { 1 }, false)
            }
            E::Query => (4, false),
            E::OpenOrders => (if has("symbol") { 6 } else { 80 }, false),
            E::MyTrades => (if has("orderId") { 5 } else { 20 }, false),
            E::RateLimitOrder => (40, false),
            // Free only when the amend makes the order expire (CHANGELOG 2026-04-02): `handle`
            // reads that from the answer.
            E::Amend => (4, false),
            E::Oco | E::OldOco | E::Oto(_) | E::CancelList | E::CancelReplace => (1, true),
            E::QueryList => (4, false),
            E::PreventedMatches => (if has("orderId") { 20 } else { 2 }, false),
            E::Allocations | E::AllLists => (20, false),
            E::OpenLists => (6, false),
            E::AllOrders | E::Commission => (20, false),
            E::MyFilters => (40, false),
            E::Amendments => (4, false),
        }
    }
}

/// Answers one request, with the rate-limit headers.
pub(super) fn handle(ex: &mut PaperExchange, now: i64, request: &Request<Bytes>) -> (Reply, Vec<(String, String)>) {
    let Some(endpoint) = Endpoint::route(request.method(), request.uri().path()) else {
        let reply = Reply::error(404, -1020, "This operation is not supported.");
        return (reply, ex.throttle.headers(now, false));
    };
    let micros = match request.headers().get("X-MBX-TIME-UNIT").map(|v| v.to_str().map(str::to_ascii_uppercase)) {
        None => false,
        Some(Ok(unit)) if unit == "MILLISECOND" => false,
        Some(Ok(unit)) if unit == "MICROSECOND" => true,
        Some(_) => return (Reply::error(400, -1194, "Invalid time unit."), ex.throttle.headers(now, false)),
    };
    let (mut reply, headers) = handle_endpoint(ex, now, request, endpoint);
    if micros && reply.is_ok() {
        reply.body = endpoint.in_microseconds(&reply.body);
    }
    (reply, headers)
}

fn handle_endpoint(
    ex: &mut PaperExchange,
    now: i64,
    request: &Request<Bytes>,
    endpoint: Endpoint,
) -> (Reply, Vec<(String, String)>) {
    let params = match Params::parse(request.uri().query().unwrap_or(""), request.body()) {
        Ok(p) => p,
        Err(reply) => {
            ex.throttle.charge(now, 1);
            return (reply, ex.throttle.headers(now, false));
        }
    };
    let (weight, free_on_success) = endpoint.weight(&params);
    if let Err(refused) = ex.throttle.admit(now, weight) {
        return (refused.0, ex.throttle.headers(now, false));
    }
    let reply = match authenticate(ex, now, request, endpoint, &params) {
        Ok(()) => dispatch(ex, now, endpoint, &params),
        Err(reply) => reply,
    };
    let expired_by_amend =
        endpoint == Endpoint::Amend && reply.is_ok() && reply.body.contains("\"status\":\"EXPIRED\"");
    let charged = if reply.is_ok() && (free_on_success || expired_by_amend) { 0 } else { weight };
    ex.throttle.charge(now, charged);
    (reply, ex.throttle.headers(now, places_orders(endpoint)))
}

/// Whether `endpoint` places orders: its answers show the `ORDERS` limits, whether the order
/// was placed or not (`X-MBX-ORDER-COUNT-*` over REST, in the WebSocket API's `rateLimits`, as
/// web-socket-api.md shows them on failed cancel-replaces too).
pub(super) fn places_orders(endpoint: Endpoint) -> bool {
    matches!(endpoint, Endpoint::Order | Endpoint::Oco | Endpoint::OldOco | Endpoint::Oto(_) | Endpoint::CancelReplace)
}

fn authenticate(
    ex: &PaperExchange,
    now: i64,
    request: &Request<Bytes>,
    endpoint: Endpoint,
    params: &Params,
) -> Result<(), Reply> {
    if !endpoint.signed() {
        return Ok(());
    }
    let key = request.headers().get("X-MBX-APIKEY").and_then(|v| v.to_str().ok()).unwrap_or("");
    let signer = api_key(ex, key)?;
    check_signature(signer, params)?;
    check_timestamp(now, params)
}

/// The key behind an `X-MBX-APIKEY` / `apiKey` (-2014 malformed, -2015 unknown).
pub(super) fn api_key<'a>(ex: &'a PaperExchange, key: &str) -> Result<&'a PaperKey, Reply> {
    let well_formed =
        !key.is_empty() && key.len() <= 128 && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !well_formed {
        return Err(Reply::error(401, -2014, "API-key format invalid."));
    }
    ex.keys.get(key).ok_or_else(|| Reply::error(401, -2015, "Invalid API-key, IP, or permissions for action."))
}

/// The request's signature over its payload (-1102 missing, -1022 wrong).
pub(super) fn check_signature(signer: &PaperKey, params: &Params) -> Result<(), Reply> {
    let Some(signature) = params.signature.as_deref() else {
        return Err(Reply::error(
            400,
            -1102,
            "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.",
        ));
    };
    if verify(signer, &params.payload, signature)? {
        Ok(())
    } else {
        Err(Reply::error(400, -1022, "Signature for this request is not valid."))
    }
}

/// `timestamp` and `recvWindow` as SPEC §2.7 describes (-1021, -1131, -1194).
pub(super) fn check_timestamp(now: i64, params: &Params) -> Result<(), Reply> {
    let timestamp = params.required("timestamp")?;
    let timestamp: i64 = timestamp.parse().map_err(|_| {
        Reply::error(400, -1100, "Illegal characters found in parameter 'timestamp'; legal range is '^[0-9]{1,20}$'.")
    })?;
    // Milliseconds or microseconds, whatever the answers' unit (rest-api.md, "General API
    // Information").
    let timestamp_ms = super::wire::to_millis(timestamp);
    let recv_window = match params.decimal("recvWindow")? {
        None => Decimal::from(5000),
        Some(w) if w <= Decimal::from(60_000) && w.scale() <= 3 => w,
        Some(_) => return Err(Reply::error(400, -1131, "recvWindow must be less than 60000")),
    };
    if timestamp_ms >= now.saturating_add(1000) {
        return Err(Reply::error(400, -1021, "Timestamp for this request was 1000ms ahead of the server's time."));
    }
    if Decimal::from(now.saturating_sub(timestamp_ms)) > recv_window {
        return Err(Reply::error(400, -1021, "Timestamp for this request is outside of the recvWindow."));
    }
    Ok(())
}

/// Checks `signature` (as decoded from the request) over `payload`.
fn verify(key: &PaperKey, payload: &[u8], signature: &str) -> Result<bool, Reply> {
    match key {
        PaperKey::Hmac(hmac) => {
            // Hex, either case (SPEC §2.4); anything else is -1100 as on Binance.
            let bytes = hex::decode(signature).ok().filter(|b| b.len() == 32).ok_or_else(|| {
                Reply::error(
                    400,
                    -1100,
                    "Illegal characters found in parameter 'signature'; legal range is '^[A-Fa-f0-9]{64}$'.",
                )
            })?;
            let expected = hmac.mac(payload);
            // Not constant-time: a simulator has no secret worth a timing attack.
            Ok(bytes.as_slice() == expected.as_slice())
        }
        PaperKey::Ed25519(public) => {
            use base64::Engine as _;
            let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(signature) else { return Ok(false) };
            let Ok(bytes) = <[u8; 64]>::try_from(raw.as_slice()) else { return Ok(false) };
            let sig = ed25519_dalek::Signature::from_bytes(&bytes);
            Ok(public.verify_strict(payload, &sig).is_ok())
        }
    }
}

pub(super) fn dispatch(ex: &mut PaperExchange, now: i64, endpoint: Endpoint, params: &Params) -> Reply {
    let result = match endpoint {
        Endpoint::Ping => Ok(Reply::ok("{}".to_owned())),
        Endpoint::Time => Ok(Reply::ok(Obj::new().int("serverTime", now).finish())),
        Endpoint::ExchangeInfo => exchange_info(ex, now, params),
        Endpoint::Depth => depth(ex, params),
        Endpoint::Trades => trades(ex, params, false),
        Endpoint::HistoricalTrades => trades(ex, params, true),
        Endpoint::BlockTrades => block_trades(ex, params),
        Endpoint::ReferencePrice => reference_price(ex, now, params),
        Endpoint::ReferencePriceCalculation => reference_price_calculation(ex, params),
        Endpoint::ExecutionRules => execution_rules(ex, params),
        Endpoint::OldOco => old_oco_params(params).and_then(|p| super::lists::place_oco(ex, now, &p)),
        Endpoint::AvgPrice => avg_price(ex, now, params),
        Endpoint::TickerPrice => ticker(ex, params, false),
        Endpoint::BookTicker => ticker(ex, params, true),
        Endpoint::Klines => super::klines::klines(ex, params),
        Endpoint::AggTrades => agg_trades(ex, params),
        Endpoint::WindowTicker(day) => super::klines::window_ticker(ex, now, params, day),
        Endpoint::Ticker24h => super::klines::ticker_24hr(ex, now, params),
        Endpoint::Order => place(ex, now, params, false, false),
        Endpoint::OrderTest => place(ex, now, params, true, false),
        Endpoint::SorOrder => place(ex, now, params, false, true),
        Endpoint::SorOrderTest => place(ex, now, params, true, true),
        Endpoint::Cancel => cancel(ex, now, params),
        Endpoint::CancelAll => cancel_all(ex, now, params),
        Endpoint::Query => query(ex, params),
        Endpoint::OpenOrders => open_orders(ex, params),
        Endpoint::Account => Ok(account(ex, now, params)),
        Endpoint::MyTrades => my_trades(ex, params),
        Endpoint::RateLimitOrder => Ok(rate_limit_order(ex, now)),
        Endpoint::Amend => amend(ex, now, params),
        Endpoint::CancelReplace => cancel_replace(ex, now, params),
        Endpoint::PreventedMatches => prevented_matches(ex, params),
        Endpoint::AllOrders => all_orders(ex, params),
        Endpoint::Amendments => amendments(ex, params),
        Endpoint::Commission => commission(ex, params),
        Endpoint::MyFilters => my_filters(ex, params),
        Endpoint::Allocations => allocations(ex, params),
        Endpoint::AllLists => super::lists::all_order_lists(ex, params),
        Endpoint::Oco => super::lists::place_oco(ex, now, params),
        Endpoint::Oto(kind) => super::lists::place_oto(ex, now, params, kind),
        Endpoint::CancelList => super::lists::cancel_order_list(ex, now, params),
        Endpoint::QueryList => super::lists::query_order_list(ex, params),
        Endpoint::OpenLists => Ok(super::lists::open_order_lists(ex)),
    };
    result.unwrap_or_else(|reply| reply)
}

/// A list parameter (`symbols`, `permissions`): a JSON array of strings, or (`single_ok`) one
/// bare value; `None` when malformed.
fn list_param(text: &str, single_ok: bool) -> Option<Vec<String>> {
    if text.starts_with('[') {
        let items: Vec<String> = serde_json::from_str(text).ok()?;
        return (!items.is_empty()).then_some(items);
    }
    (single_ok && !text.is_empty()).then(|| vec![text.to_owned()])
}

/// `GET /api/v3/exchangeInfo` with its parameters: `symbol` or `symbols` (each must exist:
/// -1121), `permissions` (one or a list; by default the symbols with `SPOT`, `MARGIN` or
/// `LEVERAGED`), `symbolStatus` (`TRADING`, `HALT`, `BREAK`), `showPermissionSets`; a live
/// `serverTime`.
fn exchange_info(ex: &PaperExchange, now: i64, params: &Params) -> Result<Reply, Reply> {
    let internal = || Reply::error(500, -1000, "An unknown error occurred while processing the request.");
    let combination = || Reply::error(400, -1128, "Combination of optional parameters invalid.");
    let info = &ex.config.prepared_info;
    if !info.valid {
        return Err(internal());
    }
    let (symbol, symbols) = (params.get("symbol"), params.get("symbols"));
    let (permissions, status) = (params.get("permissions"), params.get("symbolStatus"));
    if (symbol.is_some() && symbols.is_some())
        || ((symbol.is_some() || symbols.is_some()) && (permissions.is_some() || status.is_some()))
    {
        return Err(combination());
    }
    let wanted: Option<Vec<String>> = match (symbol, symbols) {
        (Some(s), _) => Some(vec![s.to_owned()]),
        (_, Some(list)) => Some(list_param(list, false).ok_or_else(|| {
            Reply::error(
                400,
                -1100,
                "Illegal characters found in parameter 'symbols'; legal range is '^\\[(\"[A-Z0-9-_.]{1,20}\"(,\"[A-Z0-9-_.]{1,20}\"){0,}){0,1}\\]$'.",
            )
        })?),
        _ => None,
    };
    let permitted: Vec<String> = match permissions {
        Some(p) => list_param(p, true)
            .ok_or_else(|| Reply::error(400, -1100, "Illegal characters found in parameter 'permissions'."))?,
        None => ["SPOT", "MARGIN", "LEVERAGED"].iter().map(|s| (*s).to_owned()).collect(),
    };
    if let Some(s) = status
        && !matches!(s, "TRADING" | "HALT" | "BREAK")
    {
        return Err(Reply::error(400, -1122, "Invalid symbolStatus."));
    }
    let show_sets = params.get("showPermissionSets") != Some("false");
    if let Some(names) = &wanted
        && names.iter().any(|n| !info.symbols.iter().any(|s| s.name == *n))
    {
        return Err(invalid_symbol());
    }
    let chosen = info.symbols.iter().filter(|s| match &wanted {
        Some(names) => names.contains(&s.name),
        None => {
            permitted.iter().any(|p| s.permissions.contains(p))
                && status.is_none_or(|st| s.status.as_deref() == Some(st))
        }
    });
    Ok(Reply::ok(info.answer(now, chosen, show_sets)))
}

/// `GET /api/v3/myFilters`: the filters the account trades `symbol` under: the exchange's and
/// the symbol's, as exchangeInfo lists them; no asset filters (a paper account has no
/// `MAX_ASSET` limit).
fn my_filters(ex: &PaperExchange, params: &Params) -> Result<Reply, Reply> {
    let (name, _) = market(ex, params)?;
    let info = &ex.config.prepared_info;
    let symbol = info.symbols.iter().find(|s| s.name == name).ok_or_else(invalid_symbol)?;
    Ok(Reply::ok(
        Obj::new()
            .raw("exchangeFilters", &info.exchange_filters)
            .raw("symbolFilters", &symbol.filters)
            .raw("assetFilters", "[]")
            .finish(),
    ))
}

pub(super) fn invalid_symbol() -> Reply {
    Reply::error(400, -1121, "Invalid symbol.")
}

fn market<'a>(ex: &'a PaperExchange, params: &Params) -> Result<(&'a str, &'a Market), Reply> {
    let symbol = params.required("symbol")?;
    ex.markets.get_key_value(symbol).map(|(s, m)| (s.as_str(), m)).ok_or_else(invalid_symbol)
}

pub(super) fn limit(params: &Params, default: i64, max: i64) -> Result<usize, Reply> {
    let n = params.integer("limit")?.unwrap_or(default).clamp(1, max);
    Ok(usize::try_from(n).unwrap_or(1))
}

fn depth(ex: &PaperExchange, params: &Params) -> Result<Reply, Reply> {
    let (_, m) = market(ex, params)?;
    let n = limit(params, 100, 5000)?;
    let side = |levels: &[super::market::Level]| super::wire::levels_json(levels.iter().take(n).copied());
    let body = Obj::new()
        .int("lastUpdateId", i64::try_from(m.update_id).unwrap_or(i64::MAX))
        .raw("bids", &side(&m.bids))
        .raw("asks", &side(&m.asks))
        .finish();
    Ok(Reply::ok(body))
}

/// `GET /api/v3/trades` and (`historical`) `GET /api/v3/historicalTrades`: the most recent
/// trades, or (historical only) those from `fromId` on; at most `limit` (500, up to 1000).
fn trades(ex: &PaperExchange, params: &Params, historical: bool) -> Result<Reply, Reply> {
    let (_, m) = market(ex, params)?;
    let n = limit(params, 500, 1000)?;
    let from = if historical { params.integer("fromId")? } else { None };
    let chosen: Vec<&super::market::PublicTrade> =
        m.trades.iter().filter(|t| from.is_none_or(|f| i64::try_from(t.id).is_ok_and(|id| id >= f))).collect();
    let skip = if from.is_some() { 0 } else { chosen.len().saturating_sub(n) };
    let items = chosen.into_iter().skip(skip).take(n).map(|t| {
        Obj::new()
            .int("id", i64::try_from(t.id).unwrap_or(i64::MAX))
            .dec("price", t.price)
            .dec("qty", t.qty)
            .dec("quoteQty", t.price.checked_mul(t.qty).unwrap_or(Decimal::MAX))
            .int("time", t.time)
            .bool("isBuyerMaker", t.buyer_is_maker)
            .bool("isBestMatch", true)
            .finish()
    });
    Ok(Reply::ok(array(items)))
}

/// `GET /api/v3/historicalBlockTrades`: block trades are negotiated off the book (Binance's
/// block-trade desk); the paper exchange has none, so a valid request answers an empty list.
fn block_trades(ex: &PaperExchange, params: &Params) -> Result<Reply, Reply> {
    market(ex, params)?;
    params.required("fromId")?;
    params.integer("fromId")?;
    limit(params, 500, 1000)?;
    Ok(Reply::ok("[]".to_owned()))
}

/// The paper exchange's reference price: the arithmetic mean of the last price at the end of
/// each of the last 10 one-second buckets (`ARITHMETIC_MEAN`, 10 buckets of 1000 ms).
const REFERENCE_BUCKETS: i64 = 10;
const REFERENCE_BUCKET_MS: i64 = 1000;

/// `GET /api/v3/referencePrice`: `-2043` for a symbol without a market.
fn reference_price(ex: &PaperExchange, now: i64, params: &Params) -> Result<Reply, Reply> {
    let (symbol, m) = market(ex, params)?;
    if m.last_price().is_none() {
        return Err(no_reference_price());
    }
    let price = m.reference_price(now, REFERENCE_BUCKETS, REFERENCE_BUCKET_MS);
    let out = Obj::new().str("symbol", symbol);
    let out = match price {
        Some(p) => out.dec("referencePrice", p),
        None => out.null("referencePrice"),
    };
    Ok(Reply::ok(out.int("timestamp", now).finish()))
}

fn no_reference_price() -> Reply {
    Reply::error(400, -2043, "This symbol doesn't have a reference price.")
}

/// `GET /api/v3/referencePrice/calculation`: how [`reference_price`] is computed.
fn reference_price_calculation(ex: &PaperExchange, params: &Params) -> Result<Reply, Reply> {
    let (symbol, m) = market(ex, params)?;
    if let Some(status) = params.get("symbolStatus") {
        let actual = ex.config.exchange_info.symbol(symbol).map(|r| r.status().as_str().to_owned()).unwrap_or_default();
        if !matches!(status, "TRADING" | "HALT" | "BREAK") {
            return Err(Reply::error(400, -1122, "Invalid symbolStatus."));
        }
        if actual != status {
            return Err(Reply::error(400, -1220, "The symbol's status does not match the requested symbolStatus."));
        }
    }
    if m.last_price().is_none() {
        return Err(no_reference_price());
    }
    Ok(Reply::ok(
        Obj::new()
            .str("symbol", symbol)
            .str("calculationType", "ARITHMETIC_MEAN")
            .int("bucketCount", REFERENCE_BUCKETS)
            .int("bucketWidthMs", REFERENCE_BUCKET_MS)
            .finish(),
    ))
}

/// `GET /api/v3/executionRules`: `symbol`, `symbols` or `symbolStatus` (no combination:
/// -1128). The paper exchange applies no `PRICE_RANGE` rule, so each symbol lists none.
fn execution_rules(ex: &PaperExchange, params: &Params) -> Result<Reply, Reply> {
    let (symbol, symbols, status) = (params.get("symbol"), params.get("symbols"), params.get("symbolStatus"));
    if [symbol.is_some(), symbols.is_some(), status.is_some()].iter().filter(|b| **b).count() > 1 {
        return Err(Reply::error(400, -1128, "Combination of optional parameters invalid."));
    }
    let info = &ex.config.exchange_info;
    let names: Vec<String> = match (symbol, symbols) {
        (Some(s), _) => vec![s.to_owned()],
        (_, Some(list)) => list_param(list, false)
            .ok_or_else(|| Reply::error(400, -1100, "Illegal characters found in parameter 'symbols'."))?,
        _ => {
            if let Some(s) = status
                && !matches!(s, "TRADING" | "HALT" | "BREAK")
            {
                return Err(Reply::error(400, -1122, "Invalid symbolStatus."));
            }
            info.symbols()
                .iter()
                .filter(|r| status.is_none_or(|st| r.status().as_str() == st))
                .map(|r| r.symbol().to_owned())
                .collect()
        }
    };
    if names.iter().any(|n| info.symbol(n).is_none()) {
        return Err(invalid_symbol());
    }
    let items = names.iter().map(|n| Obj::new().str("symbol", n).raw("rules", "[]").finish());
    Ok(Reply::ok(Obj::new().raw("symbolRules", &array(items)).finish()))
}

/// The deprecated OCO's parameters (`price`, `stopPrice`, `stopLimitPrice`, `limit*`, `stop*`)
/// as the new OCO's (`above*`, `below*`): a sell's limit leg is above the market and its stop
/// below; a buy's the other way round.
fn old_oco_params(params: &Params) -> Result<Params, Reply> {
    let side = params.required("side")?;
    let buy = match side {
        "BUY" => true,
        "SELL" => false,
        _ => return Err(Reply::error(400, -1100, "Illegal characters found in parameter 'side'.")),
    };
    let (limit_leg, stop_leg) = if buy { ("below", "above") } else { ("above", "below") };
    let stop_type = if params.get("stopLimitPrice").is_some() { "STOP_LOSS_LIMIT" } else { "STOP_LOSS" };
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut copy = |from: &str, to: String| {
        if let Some(v) = params.get(from) {
            pairs.push((to, v.to_owned()));
        }
    };
    for same in ["symbol", "side", "quantity", "listClientOrderId", "newOrderRespType", "selfTradePreventionMode"] {
        copy(same, same.to_owned());
    }
    copy("price", format!("{limit_leg}Price"));
    copy("limitClientOrderId", format!("{limit_leg}ClientOrderId"));
    copy("limitIcebergQty", format!("{limit_leg}IcebergQty"));
    copy("limitStrategyId", format!("{limit_leg}StrategyId"));
    copy("limitStrategyType", format!("{limit_leg}StrategyType"));
    copy("stopPrice", format!("{stop_leg}StopPrice"));
    copy("stopLimitPrice", format!("{stop_leg}Price"));
    copy("stopLimitTimeInForce", format!("{stop_leg}TimeInForce"));
    copy("stopClientOrderId", format!("{stop_leg}ClientOrderId"));
    copy("stopIcebergQty", format!("{stop_leg}IcebergQty"));
    copy("stopStrategyId", format!("{stop_leg}StrategyId"));
    copy("stopStrategyType", format!("{stop_leg}StrategyType"));
    copy("trailingDelta", format!("{stop_leg}TrailingDelta"));
    params.required("price")?;
    params.required("stopPrice")?;
    pairs.push((format!("{limit_leg}Type"), "LIMIT_MAKER".to_owned()));
    pairs.push((format!("{stop_leg}Type"), stop_type.to_owned()));
    Ok(Params::from_pairs(pairs))
}

/// `GET /api/v3/aggTrades`: the symbol's trades (each its own aggregate: the paper exchange's
/// fills are one price each) from `fromId`, or within `startTime` / `endTime` (at most an hour
/// apart), else the most recent; at most `limit` (500, up to 1000).
fn agg_trades(ex: &PaperExchange, params: &Params) -> Result<Reply, Reply> {
    let (_, m) = market(ex, params)?;
    let n = limit(params, 500, 1000)?;
    let from = params.integer("fromId")?;
    let (start, end) = (params.time("startTime")?, params.time("endTime")?);
    if let (Some(s), Some(e)) = (start, end)
        && e.saturating_sub(s) > 3_600_000
    {
        return Err(Reply::error(400, -1127, "More than 1 hours between startTime and endTime."));
    }
    let chosen: Vec<&super::market::PublicTrade> = m
        .trades
        .iter()
        .filter(|t| {
            from.is_none_or(|f| i64::try_from(t.id).is_ok_and(|id| id >= f))
                && start.is_none_or(|s| t.time >= s)
                && end.is_none_or(|e| t.time <= e)
        })
        .collect();
    let skip = if from.is_some() || start.is_some() { 0 } else { chosen.len().saturating_sub(n) };
    let items = chosen.into_iter().skip(skip).take(n).map(|t| super::market::agg_trade_fields(Obj::new(), t).finish());
    Ok(Reply::ok(array(items)))
}

fn avg_price(ex: &PaperExchange, now: i64, params: &Params) -> Result<Reply, Reply> {
    let (_, m) = market(ex, params)?;
    let price = m.average_price(now, 5).unwrap_or_default();
    Ok(Reply::ok(Obj::new().int("mins", 5).dec("price", price).int("closeTime", now).finish()))
}

fn ticker(ex: &PaperExchange, params: &Params, book: bool) -> Result<Reply, Reply> {
    let one = |symbol: &str, m: &Market| {
        if book {
            let (bid, ask) = (m.bids.first().copied(), m.asks.first().copied());
            Obj::new()
                .str("symbol", symbol)
                .dec("bidPrice", bid.map(|l| l.price).unwrap_or_default())
                .dec("bidQty", bid.map(|l| l.qty).unwrap_or_default())
                .dec("askPrice", ask.map(|l| l.price).unwrap_or_default())
                .dec("askQty", ask.map(|l| l.qty).unwrap_or_default())
                .finish()
        } else {
            Obj::new().str("symbol", symbol).dec("price", m.last_price().unwrap_or_default()).finish()
        }
    };
    if params.get("symbol").is_some() {
        if params.get("symbols").is_some() {
            return Err(Reply::error(400, -1128, "Combination of optional parameters invalid."));
        }
        let (symbol, m) = market(ex, params)?;
        return Ok(Reply::ok(one(symbol, m)));
    }
    if let Some(list) = params.get("symbols") {
        let names = list_param(list, false)
            .ok_or_else(|| Reply::error(400, -1100, "Illegal characters found in parameter 'symbols'."))?;
        let mut out = Vec::new();
        for name in &names {
            let (symbol, m) = ex.markets.get_key_value(name.as_str()).ok_or_else(invalid_symbol)?;
            out.push(one(symbol, m));
        }
        return Ok(Reply::ok(array(out)));
    }
    let mut all: Vec<(&String, &Market)> = ex.markets.iter().collect();
    all.sort_by(|a, b| a.0.cmp(b.0));
    Ok(Reply::ok(array(all.into_iter().map(|(s, m)| one(s, m)))))
}

/// Reads the order parameters of `POST /api/v3/order` into an `OrderRequest`.
fn order_request(params: &Params) -> Result<OrderRequest, Reply> {
    let symbol = params.required("symbol")?;
    let side = Side::from_wire(params.required("side")?);
    let kind = OrderType::from_wire(params.required("type")?);
    let mut order = OrderRequest::new(symbol, side, kind);
    if let Some(tif) = params.get("timeInForce") {
        order = order.with_time_in_force(TimeInForce::from_wire(tif));
    }
    if let Some(q) = params.decimal("quantity")? {
        order = order.with_quantity(q);
    }
    if let Some(q) = params.decimal("quoteOrderQty")? {
        order = order.with_quote_order_qty(q);
    }
    if let Some(p) = params.decimal("price")? {
        order = order.with_price(p);
    }
    if let Some(p) = params.decimal("stopPrice")? {
        order = order.with_stop_price(p);
    }
    if let Some(q) = params.decimal("icebergQty")? {
        order = order.with_iceberg_qty(q);
    }
    if let Some(d) = params.integer("trailingDelta")? {
        order = order.with_trailing_delta(u64::try_from(d).unwrap_or(0));
    }
    if let Some(id) = params.get("newClientOrderId") {
        let id = ClientOrderId::new(id).map_err(|_| {
            Reply::error(
                400,
                -1100,
                "Illegal characters found in parameter 'newClientOrderId'; legal range is '^[a-zA-Z0-9-_]{1,36}$'.",
            )
        })?;
        order = order.with_client_order_id(id);
    }
    if let Some(r) = params.get("newOrderRespType") {
        let kind = OrderResponseType::from_wire(r);
        if !kind.is_known() {
            return Err(Reply::error(
                400,
                -1100,
                "Illegal characters found in parameter 'newOrderRespType'; legal range is 'ACK, RESULT, FULL'.",
            ));
        }
        order = order.with_response_type(kind);
    }
    if let Some(m) = params.get("selfTradePreventionMode") {
        order = order.with_self_trade_prevention_mode(SelfTradePreventionMode::from_wire(m));
    }
    if let Some(id) = params.get("strategyId") {
        let id = id.parse::<u64>().map_err(|_| Reply::error(400, -1100, &illegal_integer("strategyId")))?;
        order = order.with_strategy_id(id);
    }
    if let Some(kind) = params.get("strategyType") {
        let kind = kind.parse::<u32>().map_err(|_| Reply::error(400, -1100, &illegal_integer("strategyType")))?;
        order = order.with_strategy_type(kind);
    }
    if let Some(peg) = params.get("pegPriceType") {
        order = order.with_peg(PegPriceType::from_wire(peg));
    }
    if let Some(levels) = peg_offset(params, "pegOffsetType", "pegOffsetValue")? {
        order = order.with_peg_offset(levels);
    }
    Ok(order)
}

/// A peg offset (`<prefix>PegOffsetType=PRICE_LEVEL` and `<prefix>PegOffsetValue`, named
/// `type_name` and `value_name`): both or neither (-1128), `PRICE_LEVEL` only (-1211), a level
/// a byte holds (-1130).
pub(super) fn peg_offset(params: &Params, type_name: &str, value_name: &str) -> Result<Option<u8>, Reply> {
    match (params.get(type_name), params.get(value_name)) {
        (None, None) => Ok(None),
        (Some("PRICE_LEVEL"), Some(levels)) => levels
            .parse::<u8>()
            .map(Some)
            .map_err(|_| Reply::error(400, -1130, &format!("Data sent for parameter '{value_name}' is not valid."))),
        (Some("PRICE_LEVEL"), None) | (None, Some(_)) => Err(Reply::error(
            400,
            -1128,
            &format!(
                "Combination of optional parameters invalid. Recommendation: '{type_name}' and '{value_name}' must both be sent."
            ),
        )),
        (Some(_), _) => Err(Reply::error(400, -1211, "Invalid pegOffsetType.")),
    }
}

/// Binance's -1100 message for a parameter that must be a (64-bit) integer.
fn illegal_integer(name: &str) -> String {
    format!("Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,20}}$'.")
}

pub(super) fn rejected(msg: &str) -> Reply {
    Reply::error(400, -2010, msg)
}

/// What the exchange checks a new order on `symbol` against: its open orders (all, algo,
/// iceberg), the average and the last price.
pub(super) fn validation_context(ex: &PaperExchange, now: i64, symbol: &str) -> Result<MarketContext, Reply> {
    let m = ex.markets.get(symbol).ok_or_else(invalid_symbol)?;
    let open_on_symbol: Vec<&PaperOrder> =
        ex.open.iter().filter_map(|id| ex.orders.get(id)).filter(|o| o.symbol == symbol).collect();
    let mut ctx = MarketContext::default()
        .with_open_orders(open_on_symbol.len() as u64)
        .with_open_algo_orders(open_on_symbol.iter().filter(|o| o.is_stop()).count() as u64)
        .with_open_iceberg_orders(open_on_symbol.iter().filter(|o| !o.iceberg.is_zero()).count() as u64)
        .with_open_order_lists(
            ex.lists.values().filter(|l| !l.done && l.symbol == symbol).count() as u64,
            ex.lists.values().filter(|l| !l.done).count() as u64,
        );
    if let Some(avg) = m.average_price(now, 5) {
        ctx = ctx.with_average_price(avg);
    }
    if let Some(last) = m.last_price() {
        ctx = ctx.with_last_price(last);
    }
    Ok(ctx)
}

/// `POST /api/v3/order` (`/test`), and through SOR (`/api/v3/sor/order`, `/test`) when `sor`.
fn place(ex: &mut PaperExchange, now: i64, params: &Params, test: bool, sor: bool) -> Result<Reply, Reply> {
    let order = order_request(params)?;
    let symbol = order.symbol().to_owned();
    let rules = ex.rules(&symbol).ok_or_else(invalid_symbol)?;
    if sor {
        // Binance's SOR takes LIMIT and MARKET by quantity, not pegged, on a SOR group's symbol.
        if ex.sor_group(&symbol).is_none() {
            return Err(rejected("SOR is not enabled for this symbol."));
        }
        if !matches!(order.order_type(), OrderType::Limit | OrderType::Market) {
            return Err(rejected("Unsupported order type for SOR."));
        }
        if order.quote_order_qty().is_some() {
            return Err(Reply::error(400, -1106, "Parameter 'quoteOrderQty' sent when not required."));
        }
        if order.peg_price_type().is_some() {
            return Err(Reply::error(400, -1106, "Parameter 'pegPriceType' sent when not required."));
        }
    }
    let ctx = validation_context(ex, now, &symbol)?;
    rules.validate(&order, &ctx).map_err(|e| Reply::error(400, e.code(), &e.to_string()))?;
    let peg = order.peg_price_type().map(|kind| Peg {
        kind: kind.clone(),
        offset: order.peg_offset_levels(),
        price: order.price().unwrap_or_default(),
    });
    // A pegged order takes its price from the book as it arrives (a pegged stop-limit when it
    // triggers) and must pass the filters at that price too.
    let mut pegged = None;
    if let Some(peg) = &peg {
        let price = ex
            .peg_price(&symbol, order.side(), peg, None)
            .ok_or_else(|| rejected("Order book liquidity is too low for this pegged order."))?;
        let at = order.clone().with_price(price);
        rules.validate(&at, &ctx).map_err(|e| Reply::error(400, e.code(), &e.to_string()))?;
        pegged = Some(price);
    }
    let (base, quote) = (rules.base_asset().to_owned(), rules.quote_asset().to_owned());
    let default_stp = rules.default_self_trade_prevention_mode().cloned().unwrap_or(SelfTradePreventionMode::None);
    if test {
        if params.get("computeCommissionRates") == Some("true") {
            let zero = Obj::new().dec("maker", Decimal::ZERO).dec("taker", Decimal::ZERO).finish();
            let mut body = Obj::new().raw(
                "standardCommissionForOrder",
                &Obj::new().dec("maker", ex.config.maker_commission).dec("taker", ex.config.taker_commission).finish(),
            );
            // SOR's test answer has no special commission (rest-api.md "Test new order using SOR").
            if !sor {
                body = body.raw("specialCommissionForOrder", &zero);
            }
            let body = body
                .raw("taxCommissionForOrder", &zero)
                .raw(
                    "discount",
                    &Obj::new()
                        .bool("enabledForAccount", false)
                        .bool("enabledForSymbol", false)
                        .str("discountAsset", "BNB")
                        .dec("discount", Decimal::ZERO)
                        .finish(),
                )
                .finish();
            return Ok(Reply::ok(body));
        }
        return Ok(Reply::ok("{}".to_owned()));
    }
    ex.throttle.admit_order(now).map_err(|r| r.0)?;
    let client_id = match order.client_order_id() {
        Some(id) => id.as_str().to_owned(),
        None => ex.generated_id(),
    };
    if ex.open_client_id(&symbol, &client_id) {
        return Err(rejected("Duplicate order sent."));
    }
    let kind = order.order_type().clone();
    let side = order.side().clone();
    let last = ex.markets.get(&symbol).and_then(Market::last_price);
    let stop = order.stop_price().unwrap_or_default();
    // A trailing stop whose stop price is reached starts tracking at once instead.
    if kind.is_algo() && order.trailing_delta().is_none() && last.is_some_and(|l| stop_triggered(&kind, &side, stop, l))
    {
        return Err(rejected("Order would trigger immediately."));
    }
    // A pegged stop-limit takes its price when it triggers; until then it locks by its own
    // price if it has one (as any stop-limit), else by the book's price now.
    let (price, lock_price) = match pegged {
        Some(p) if kind.is_algo() => (Decimal::ZERO, order.price().unwrap_or(p)),
        Some(p) => (p, p),
        None => (order.price().unwrap_or_default(), order.price().unwrap_or_default()),
    };
    let qty = order.quantity().unwrap_or_default();
    let quote_qty = order.quote_order_qty().unwrap_or_default();
    if kind == OrderType::LimitMaker && !ex.plan(&symbol, &side, Some(price), Some(qty), None).0.is_empty() {
        return Err(rejected("Order would immediately match and take."));
    }
    // What the order locks (SPEC §6.8 / Binance: quote for a buy, base for a sell).
    let lock = match (&kind, &side) {
        // A SOR market buy pays what the group's books ask.
        (OrderType::Market, Side::Buy) if sor => ex
            .sor_plan(&symbol, &side, None, qty)
            .0
            .iter()
            .fold(Decimal::ZERO, |sum, (p, _, q)| sum.saturating_add(p.checked_mul(*q).unwrap_or(Decimal::MAX))),
        (OrderType::Market, Side::Buy) if quote_qty.is_zero() => {
            super::notional_of(&ex.plan(&symbol, &side, None, Some(qty), None).0)
        }
        (OrderType::Market, Side::Buy) => quote_qty,
        (OrderType::Market, _) if qty.is_zero() => {
            ex.plan(&symbol, &side, None, None, Some(quote_qty)).0.iter().map(|(_, q)| *q).sum()
        }
        (OrderType::StopLoss | OrderType::TakeProfit, Side::Buy) => Decimal::ZERO,
        // No balance can hold a notional beyond Decimal's range: that is a lack of funds too.
        (_, Side::Buy) => lock_price.checked_mul(qty).unwrap_or(Decimal::MAX),
        _ => qty,
    };
    let locked_asset = if side == Side::Buy { quote.clone() } else { base.clone() };
    let balance = ex.balances.entry(locked_asset).or_default();
    if balance.free < lock {
        return Err(rejected("Account has insufficient balance for requested action."));
    }
    balance.free -= lock;
    balance.locked += lock;
    ex.throttle.count_order(now);
    let id = ex.next_order_id;
    ex.next_order_id += 1;
    let tif = order.time_in_force().cloned().unwrap_or(TimeInForce::Gtc);
    ex.insert_order(PaperOrder {
        symbol: symbol.clone(),
        base: base.clone(),
        quote: quote.clone(),
        id,
        client_id,
        side,
        kind: kind.clone(),
        tif: tif.clone(),
        price,
        qty,
        quote_qty,
        stop,
        iceberg: order.iceberg_qty().unwrap_or_default(),
        executed: Decimal::ZERO,
        cum_quote: Decimal::ZERO,
        status: OrderStatus::New,
        time: now,
        update: now,
        working: (!kind.is_algo()).then_some(now),
        stp: order.self_trade_prevention_mode().cloned().unwrap_or(default_stp),
        lock,
        traded: false,
        amends: 0,
        list: None,
        prevented: Decimal::ZERO,
        prevented_match: None,
        last_prevention: None,
        trailing: order.trailing_delta(),
        extreme: None,
        peg,
        sor: sor.then_some(false),
    });
    ex.execution_report(now, id, "NEW", None, None);
    let mut fills = Vec::new();
    if !kind.is_algo() && kind != OrderType::LimitMaker {
        let limit = (kind == OrderType::Limit).then_some(price);
        let reachable = if sor {
            ex.sor_plan(&symbol, order.side(), limit, qty).1
        } else {
            ex.plan(&symbol, order.side(), Some(price), Some(qty), None).1
        };
        let fok_short = tif == TimeInForce::Fok && !reachable;
        let satisfied = if fok_short {
            false
        } else {
            // SOR's taker phase first (allocations from the group's books), then the symbol's
            // own book (the account's own resting orders).
            let (routed, done) = if sor { ex.route(now, id) } else { (Vec::new(), false) };
            fills = routed;
            if done {
                true
            } else {
                let (f, satisfied) = ex.take(now, id);
                fills.extend(f);
                satisfied
            }
        };
        let status = ex.orders.get(&id).map(|o| o.status.clone());
        if status == Some(OrderStatus::Filled) && satisfied {
            ex.close(id);
        } else if (kind == OrderType::Market || tif != TimeInForce::Gtc)
            && ex.orders.get(&id).is_some_and(PaperOrder::is_open)
        {
            ex.end_order(now, id, OrderStatus::Expired, "EXPIRED", None);
        }
    }
    if let Some(o) = ex.orders.get_mut(&id)
        && o.kind == OrderType::Market
        && o.qty.is_zero()
    {
        // A quoteOrderQty order's quantity is what it bought or sold.
        o.qty = o.executed;
    }
    ex.account_position(now, &[&base, &quote]);
    let o = ex
        .orders
        .get(&id)
        .ok_or_else(|| Reply::error(500, -1000, "An unknown error occurred while processing the request."))?;
    let resp = order.response_type().cloned().unwrap_or(match kind {
        OrderType::Market | OrderType::Limit => OrderResponseType::Full,
        _ => OrderResponseType::Ack,
    });
    Ok(Reply::ok(order_response(ex, o, now, &resp, &fills)))
}

/// `GET /api/v3/myAllocations`: the symbol's SOR allocations, oldest first, filtered by
/// `orderId`, `fromAllocationId`, `startTime` / `endTime` (at most 24 hours apart), at most
/// `limit` (500, up to 1000).
fn allocations(ex: &PaperExchange, params: &Params) -> Result<Reply, Reply> {
    let (symbol, _) = market(ex, params)?;
    let order_id = params.integer("orderId")?;
    let from = params.integer("fromAllocationId")?;
    let (start, end) = (params.time("startTime")?, params.time("endTime")?);
    if let (Some(s), Some(e)) = (start, end)
        && e.saturating_sub(s) > 86_400_000
    {
        return Err(Reply::error(400, -1127, "More than 24 hours between startTime and endTime."));
    }
    let n = limit(params, 500, 1000)?;
    let items = ex
        .allocations
        .iter()
        .filter(|a| {
            a.symbol == symbol
                && order_id.is_none_or(|o| i64::try_from(a.order_id).is_ok_and(|id| id == o))
                && from.is_none_or(|f| i64::try_from(a.id).is_ok_and(|id| id >= f))
                && start.is_none_or(|s| a.time >= s)
                && end.is_none_or(|e| a.time <= e)
        })
        .take(n)
        .map(|a| {
            let r = Obj::new()
                .str("symbol", &a.symbol)
                .int("allocationId", i64::try_from(a.id).unwrap_or(i64::MAX))
                .str("allocationType", "SOR");
            trade_row(r, a).bool("isAllocator", false).finish()
        });
    Ok(Reply::ok(array(items)))
}

pub(super) fn order_response(
    ex: &PaperExchange,
    o: &PaperOrder,
    now: i64,
    resp: &OrderResponseType,
    fills: &[FillRecord],
) -> String {
    let mut r = Obj::new()
        .str("symbol", &o.symbol)
        .int("orderId", i64::try_from(o.id).unwrap_or(i64::MAX))
        .int("orderListId", o.list.and_then(|l| i64::try_from(l).ok()).unwrap_or(-1))
        .str("clientOrderId", &o.client_id)
        .int("transactTime", now);
    if *resp == OrderResponseType::Ack {
        return r.finish();
    }
    r = result_fields(r, o);
    // -1: not working yet (a list's pending order, a stop not triggered: the order lists'
    // examples in rest-api.md).
    r = r.int("workingTime", o.working.unwrap_or(-1));
    let stp = |r: Obj| {
        let mut r = r.str("selfTradePreventionMode", o.stp.as_str());
        // The STP FAQ's answers: an order of a trade group's account that prevention took from
        // shows the group.
        if o.prevented_match.is_some() && ex.trade_group() >= 0 {
            r = r.int("tradeGroupId", ex.trade_group());
        }
        prevention_fields(r, o)
    };
    // An SOR order's answer has its fills and `workingFloor` before the STP mode (rest-api.md
    // "New order using SOR").
    if o.sor.is_none() {
        r = stp(r);
    }
    if *resp == OrderResponseType::Full {
        let items = fills.iter().map(|f| {
            let fill = match f.alloc_id {
                Some(_) => Obj::new().str("matchType", "ONE_PARTY_TRADE_REPORT"),
                None => Obj::new(),
            };
            let fill = fill
                .dec("price", f.price)
                .dec("qty", f.qty)
                .dec("commission", f.commission)
                .str("commissionAsset", &f.commission_asset);
            match f.alloc_id {
                Some(a) => fill.int("tradeId", -1).int("allocId", i64::try_from(a).unwrap_or(i64::MAX)).finish(),
                None => fill.int("tradeId", i64::try_from(f.trade_id).unwrap_or(i64::MAX)).finish(),
            }
        });
        r = r.raw("fills", &array(items));
        // What self-trade prevention took as this order met the account's (or its trade
        // group's) resting orders, as the STP FAQ's answers show it.
        let matches: Vec<String> = ex
            .prevented
            .iter()
            .filter(|p| p.taker == o.id && p.symbol == o.symbol)
            .map(|p| {
                let mut m = Obj::new()
                    .int("preventedMatchId", i64::try_from(p.id).unwrap_or(i64::MAX))
                    .str("makerSymbol", &p.symbol)
                    .int("makerOrderId", i64::try_from(p.maker).unwrap_or(i64::MAX))
                    .dec("price", p.price);
                if let Some(q) = p.taker_qty {
                    m = m.dec("takerPreventedQuantity", q);
                }
                if let Some(q) = p.maker_qty {
                    m = m.dec("makerPreventedQuantity", q);
                }
                m.finish()
            })
            .collect();
        if !matches.is_empty() {
            r = r.raw("preventedMatches", &array(matches));
        }
    }
    match o.sor {
        Some(routed) => stp(r.str("workingFloor", if routed { "SOR" } else { "EXCHANGE" })).bool("usedSor", true),
        None => r,
    }
    .finish()
}

/// The fields a RESULT / FULL answer and a cancel answer share, from `price` to `side` (and
/// `stopPrice` for a stop), in Binance's order.
pub(super) fn result_fields(r: Obj, o: &PaperOrder) -> Obj {
    let r = o.peg_fields(r.dec("price", o.shown_price()), PEG_FIELDS);
    let r = r
        .dec("origQty", o.qty)
        .dec("executedQty", o.executed)
        .dec("origQuoteOrderQty", o.quote_qty)
        .dec("cummulativeQuoteQty", o.cum_quote)
        .str("status", o.status.as_str())
        .str("timeInForce", o.tif.as_str())
        .str("type", o.kind.as_str())
        .str("side", o.side.as_str());
    if o.is_stop() { r.dec("stopPrice", o.stop) } else { r }
}

/// The names of a pegged order's fields in answers.
const PEG_FIELDS: [&str; 4] = ["pegPriceType", "pegOffsetType", "pegOffsetValue", "peggedPrice"];

/// An order as `GET /api/v3/order` shows it (`openOrders` swaps two fields, as its examples in
/// rest-api.md do).
fn order_info(o: &PaperOrder) -> String {
    order_fields(o, false)
}

fn order_fields(o: &PaperOrder, open_orders_order: bool) -> String {
    let mut r = Obj::new()
        .str("symbol", &o.symbol)
        .int("orderId", i64::try_from(o.id).unwrap_or(i64::MAX))
        .int("orderListId", o.list.and_then(|l| i64::try_from(l).ok()).unwrap_or(-1))
        .str("clientOrderId", &o.client_id)
        .dec("price", o.shown_price());
    r = o
        .peg_fields(r, PEG_FIELDS)
        .dec("origQty", o.qty)
        .dec("executedQty", o.executed)
        .dec("cummulativeQuoteQty", o.cum_quote)
        .str("status", o.status.as_str())
        .str("timeInForce", o.tif.as_str())
        .str("type", o.kind.as_str())
        .str("side", o.side.as_str())
        .dec("stopPrice", o.stop)
        .dec("icebergQty", o.iceberg)
        .int("time", o.time)
        .int("updateTime", o.update)
        .bool("isWorking", o.working.is_some());
    if let Some(d) = o.trailing {
        r = r.int("trailingDelta", i64::try_from(d).unwrap_or(i64::MAX));
        if let Some((_, since)) = o.extreme {
            r = r.int("trailingTime", since);
        }
    }
    r = if open_orders_order {
        r.dec("origQuoteOrderQty", o.quote_qty).int("workingTime", o.working.unwrap_or(-1))
    } else {
        r.int("workingTime", o.working.unwrap_or(-1)).dec("origQuoteOrderQty", o.quote_qty)
    };
    sor_fields(prevention_fields(r.str("selfTradePreventionMode", o.stp.as_str()), o), o).finish()
}

/// `workingFloor` and `usedSor`, for an order placed through SOR.
fn sor_fields(r: Obj, o: &PaperOrder) -> Obj {
    match o.sor {
        Some(routed) => r.str("workingFloor", if routed { "SOR" } else { "EXCHANGE" }).bool("usedSor", true),
        None => r,
    }
}

/// `preventedMatchId` and `preventedQuantity`, for an order self-trade prevention took from.
fn prevention_fields(r: Obj, o: &PaperOrder) -> Obj {
    match o.prevented_match {
        Some(id) => {
            r.int("preventedMatchId", i64::try_from(id).unwrap_or(i64::MAX)).dec("preventedQuantity", o.prevented)
        }
        None => r,
    }
}

/// The order named by `orderId` or `origClientOrderId` (-1102 when neither is given).
fn named_order(ex: &PaperExchange, params: &Params) -> Result<(String, Option<u64>), Reply> {
    let symbol = params.required("symbol")?;
    if !ex.markets.contains_key(symbol) {
        return Err(invalid_symbol());
    }
    let order_id = params.integer("orderId")?.map(|i| u64::try_from(i).unwrap_or(0));
    let client = params.get("origClientOrderId").filter(|c| !c.is_empty());
    if order_id.is_none() && client.is_none() {
        return Err(Reply::error(
            400,
            -1102,
            "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!",
        ));
    }
    let found = ex.find_order(symbol, order_id, client);
    if let (Some(id), Some(c)) = (found, client)
        && order_id.is_some()
        && ex.orders.get(&id).is_some_and(|o| o.client_id != c)
    {
        return Err(Reply::error(400, -2039, "Client order ID is not correct for this order ID."));
    }
    Ok((symbol.to_owned(), found))
}

fn query(ex: &PaperExchange, params: &Params) -> Result<Reply, Reply> {
    let (_, id) = named_order(ex, params)?;
    let o = id.and_then(|id| ex.orders.get(&id)).ok_or_else(|| Reply::error(400, -2013, "Order does not exist."))?;
    Ok(Reply::ok(order_info(o)))
}

fn cancel_one(ex: &mut PaperExchange, now: i64, id: u64, cancel_id: Option<&str>) -> Option<String> {
    let cancel_id = match cancel_id {
        Some(c) => c.to_owned(),
        None => ex.generated_id(),
    };
    let orig = ex.orders.get(&id)?.client_id.clone();
    ex.end_order(now, id, OrderStatus::Canceled, "CANCELED", Some((&cancel_id, &orig)));
    let o = ex.orders.get(&id)?;
    let r = Obj::new()
        .str("symbol", &o.symbol)
        .str("origClientOrderId", &o.client_id)
        .int("orderId", i64::try_from(o.id).unwrap_or(i64::MAX))
        .int("orderListId", o.list.and_then(|l| i64::try_from(l).ok()).unwrap_or(-1))
        .str("clientOrderId", &cancel_id)
        .int("transactTime", now);
    Some(prevention_fields(result_fields(r, o).str("selfTradePreventionMode", o.stp.as_str()), o).finish())
}

fn cancel(ex: &mut PaperExchange, now: i64, params: &Params) -> Result<Reply, Reply> {
    let (_, id) = named_order(ex, params)?;
    let unknown = || rejected_cancel("Unknown order sent.");
    let id = id.filter(|id| ex.orders.get(id).is_some_and(PaperOrder::is_live)).ok_or_else(unknown)?;
    if let Some(cid) = params.get("newClientOrderId")
        && ClientOrderId::new(cid).is_err()
    {
        return Err(Reply::error(
            400,
            -1100,
            "Illegal characters found in parameter 'newClientOrderId'; legal range is '^[a-zA-Z0-9-_]{1,36}$'.",
        ));
    }
    let (base, quote) = ex.orders.get(&id).map(|o| (o.base.clone(), o.quote.clone())).unwrap_or_default();
    // Canceling one order of a list cancels the whole list, and the answer is the list's
    // (web-socket-api.md "Cancel order": "When an order list is canceled").
    let body = match ex.orders.get(&id).and_then(|o| o.list) {
        Some(list) => {
            let cancel_id = match params.get("newClientOrderId") {
                Some(c) => c.to_owned(),
                None => ex.generated_id(),
            };
            super::lists::cancel_list_entry(ex, now, list, &cancel_id).ok_or_else(unknown)?
        }
        None => cancel_one(ex, now, id, params.get("newClientOrderId")).ok_or_else(unknown)?,
    };
    ex.account_position(now, &[&base, &quote]);
    Ok(Reply::ok(body))
}

fn rejected_amend(msg: &str) -> Reply {
    Reply::error(400, -2038, msg)
}

/// `PUT /api/v3/order/amend/keepPriority`: reduces an open order's quantity in place (same id,
/// same place in the queue). The lock shrinks with it; a quantity at or below what has executed
/// leaves nothing to fill and the order expires. Unfilled order count 0.
fn amend(ex: &mut PaperExchange, now: i64, params: &Params) -> Result<Reply, Reply> {
    let (symbol, id) = named_order(ex, params)?;
    let new_qty = params.decimal("newQty")?.ok_or_else(|| {
        Reply::error(400, -1102, "Mandatory parameter 'newQty' was not sent, was empty/null, or malformed.")
    })?;
    let new_client = match params.get("newClientOrderId") {
        Some(c) => Some(ClientOrderId::new(c).map_err(|_| {
            Reply::error(
                400,
                -1100,
                "Illegal characters found in parameter 'newClientOrderId'; legal range is '^[a-zA-Z0-9-_]{1,36}$'.",
            )
        })?),
        None => None,
    };
    let rules = ex.rules(&symbol).ok_or_else(invalid_symbol)?;
    if !rules.amend_allowed() {
        return Err(rejected_amend("Order amend is not supported for this symbol."));
    }
    let mut max_amends = None;
    for f in rules.filters() {
        match f {
            aegis_exchange::Filter::LotSize { min_qty, max_qty, step_size } => {
                let off_step =
                    !step_size.is_zero() && !(new_qty - *min_qty).checked_rem(*step_size).is_some_and(|r| r.is_zero());
                if new_qty <= Decimal::ZERO
                    || new_qty < *min_qty
                    || (!max_qty.is_zero() && new_qty > *max_qty)
                    || off_step
                {
                    return Err(Reply::error(400, -1013, "Filter failure: LOT_SIZE"));
                }
            }
            aegis_exchange::Filter::MaxNumOrderAmends { max_num_order_amends } => {
                max_amends = Some(*max_num_order_amends)
            }
            _ => {}
        }
    }
    let id = id
        .filter(|id| ex.orders.get(id).is_some_and(PaperOrder::is_open))
        .ok_or_else(|| rejected_amend("Unknown order sent."))?;
    let Some(o) = ex.orders.get(&id) else { return Err(rejected_amend("Unknown order sent.")) };
    if new_qty > o.qty || o.qty.is_zero() {
        return Err(rejected_amend("Order amend (quantity increase) is not supported."));
    }
    if new_qty == o.qty {
        return Err(rejected_amend("The requested action would change no state; rejecting"));
    }
    if max_amends.is_some_and(|max| o.amends >= max) {
        return Err(rejected_amend("Filter failure: MAX_NUM_ORDER_AMENDS"));
    }
    let orig_client = o.client_id.clone();
    let (base, quote) = (o.base.clone(), o.quote.clone());
    let client = match new_client {
        Some(c) => c.as_str().to_owned(),
        None => ex.generated_id(),
    };
    if client != orig_client && ex.open_client_id(&symbol, &client) {
        return Err(rejected_amend("Duplicate order sent."));
    }
    let Some(o) = ex.orders.get_mut(&id) else { return Err(rejected_amend("Unknown order sent.")) };
    let orig_qty = o.qty;
    o.qty = new_qty;
    o.amends += 1;
    o.update = now;
    o.client_id.clone_from(&client);
    // What is left to trade: neither executed nor taken by self-trade prevention.
    let expires = new_qty <= o.executed.saturating_add(o.prevented);
    if !expires {
        // The lock follows the quantity left: the limit price times it for a buy, it for a sell.
        let left = new_qty - o.executed - o.prevented;
        let keep = match o.side {
            Side::Buy if !o.price.is_zero() => o.price.checked_mul(left).unwrap_or(o.lock),
            Side::Buy => o.lock,
            _ => left,
        }
        .min(o.lock);
        let freed = o.lock - keep;
        o.lock = keep;
        let asset = o.locked_asset().to_owned();
        let b = ex.balances.entry(asset).or_default();
        b.locked -= freed;
        b.free += freed;
    }
    if client != orig_client {
        ex.by_client.remove(&(symbol.clone(), orig_client.clone()));
        ex.by_client.insert((symbol.clone(), client.clone()), id);
    }
    if expires {
        if let Some(o) = ex.orders.get_mut(&id) {
            o.status = OrderStatus::Expired;
        }
        ex.close(id);
    }
    ex.execution_report(now, id, "REPLACED", None, Some((&client, &orig_client)));
    ex.account_position(now, &[&base, &quote]);
    ex.last_amend_execution =
        ex.last_amend_execution.saturating_add(1 + i64::try_from(ex.rng.next_u64() % 256).unwrap_or(0));
    let execution_id = ex.last_amend_execution;
    super::keep_last(
        &mut ex.amendments,
        super::Amendment {
            symbol: symbol.clone(),
            order_id: id,
            execution_id,
            orig_client_id: orig_client.clone(),
            new_client_id: client.clone(),
            orig_qty,
            new_qty,
            time: now,
        },
    );
    let o = ex.orders.get(&id).ok_or_else(|| rejected_amend("Unknown order sent."))?;
    let mut amended = Obj::new()
        .str("symbol", &o.symbol)
        .int("orderId", i64::try_from(o.id).unwrap_or(i64::MAX))
        .int("orderListId", o.list.and_then(|l| i64::try_from(l).ok()).unwrap_or(-1))
        .str("origClientOrderId", &orig_client)
        .str("clientOrderId", &o.client_id)
        .dec("price", o.price)
        .dec("qty", o.qty)
        .dec("executedQty", o.executed)
        .dec("preventedQty", o.prevented)
        .dec("quoteOrderQty", o.quote_qty)
        .dec("cumulativeQuoteQty", o.cum_quote)
        .str("status", o.status.as_str())
        .str("timeInForce", o.tif.as_str())
        .str("type", o.kind.as_str())
        .str("side", o.side.as_str());
    if let Some(w) = o.working {
        amended = amended.int("workingTime", w);
    }
    let amended = amended.str("selfTradePreventionMode", o.stp.as_str()).finish();
    let mut body = Obj::new().int("transactTime", now).int("executionId", execution_id).raw("amendedOrder", &amended);
    // A leg of a list: the list too.
    if let Some(list) = o.list.and_then(|l| ex.lists.get(&l)) {
        body = body.raw("listStatus", &list.amend_json(ex));
    }
    Ok(Reply::ok(body.finish()))
}

fn rejected_cancel(msg: &str) -> Reply {
    Reply::error(400, -2011, msg)
}

fn cancel_all(ex: &mut PaperExchange, now: i64, params: &Params) -> Result<Reply, Reply> {
    let (symbol, _) = market(ex, params)?;
    let symbol = symbol.to_owned();
    let ids: Vec<u64> =
        ex.open.iter().copied().filter(|id| ex.orders.get(id).is_some_and(|o| o.symbol == symbol)).collect();
    if ids.is_empty() {
        return Err(rejected_cancel("Unknown order sent."));
    }
    let mut bodies = Vec::new();
    let mut assets = Vec::new();
    for id in ids {
        let Some(o) = ex.orders.get(&id) else { continue };
        assets.extend([o.base.clone(), o.quote.clone()]);
        match o.list {
            // A list is one entry, in the list's shape, with its orders' cancel reports.
            Some(list) if o.is_live() => {
                let cancel_id = ex.generated_id();
                bodies.extend(super::lists::cancel_list_entry(ex, now, list, &cancel_id));
            }
            Some(_) => {}
            None => bodies.extend(cancel_one(ex, now, id, None)),
        }
    }
    let assets: Vec<&str> = assets.iter().map(String::as_str).collect();
    ex.account_position(now, &assets);
    Ok(Reply::ok(array(bodies)))
}

fn open_orders(ex: &PaperExchange, params: &Params) -> Result<Reply, Reply> {
    let symbol = params.get("symbol");
    if let Some(s) = symbol
        && !ex.markets.contains_key(s)
    {
        return Err(invalid_symbol());
    }
    let items = ex
        .open
        .iter()
        .filter_map(|id| ex.orders.get(id))
        .filter(|o| symbol.is_none_or(|s| o.symbol == s))
        .map(|o| order_fields(o, true));
    Ok(Reply::ok(array(items)))
}

/// `GET /api/v3/allOrders`: the account's orders on a symbol (open, and ended ones the exchange
/// still keeps), from `orderId` on, within `startTime` / `endTime`, at most `limit` (500, up
/// to 1000), oldest first.
fn all_orders(ex: &PaperExchange, params: &Params) -> Result<Reply, Reply> {
    let (symbol, _) = market(ex, params)?;
    let from = params.integer("orderId")?.map(|i| u64::try_from(i).unwrap_or(0));
    let start = params.time("startTime")?;
    let end = params.time("endTime")?;
    let n = limit(params, 500, 1000)?;
    let mut mine: Vec<&PaperOrder> = ex
        .orders
        .values()
        .filter(|o| {
            o.symbol == symbol
                && from.is_none_or(|f| o.id >= f)
                && start.is_none_or(|s| o.time >= s)
                && end.is_none_or(|e| o.time <= e)
        })
        .collect();
    mine.sort_by_key(|o| o.id);
    // From an order id: the first `limit`; otherwise the most recent.
    let skip = if from.is_some() { 0 } else { mine.len().saturating_sub(n) };
    // A live capture of allOrders (tests/fixtures/recorded) has GET order's member order.
    let items = mine.into_iter().skip(skip).take(n).map(|o| order_fields(o, false));
    Ok(Reply::ok(array(items)))
}

/// `GET /api/v3/order/amendments`: an order's keep-priority amends (`orderId` required), from
/// `fromExecutionId` on, at most `limit` (500, up to 1000), oldest first.
fn amendments(ex: &PaperExchange, params: &Params) -> Result<Reply, Reply> {
    let (symbol, _) = market(ex, params)?;
    let order_id = params.integer("orderId")?.map(|i| u64::try_from(i).unwrap_or(u64::MAX)).ok_or_else(|| {
        Reply::error(400, -1102, "Mandatory parameter 'orderId' was not sent, was empty/null, or malformed.")
    })?;
    let from = params.integer("fromExecutionId")?;
    let n = limit(params, 500, 1000)?;
    let items = ex
        .amendments
        .iter()
        .filter(|a| a.symbol == symbol && a.order_id == order_id && from.is_none_or(|f| a.execution_id >= f))
        .take(n)
        .map(|a| {
            Obj::new()
                .str("symbol", &a.symbol)
                .int("orderId", i64::try_from(a.order_id).unwrap_or(i64::MAX))
                .int("executionId", a.execution_id)
                .str("origClientOrderId", &a.orig_client_id)
                .str("newClientOrderId", &a.new_client_id)
                .dec("origQty", a.orig_qty)
                .dec("newQty", a.new_qty)
                .int("time", a.time)
                .finish()
        });
    Ok(Reply::ok(array(items)))
}

/// `GET /api/v3/account/commission`: the paper exchange's rates (no special or tax rate; the
/// discount when a commission asset is configured).
fn commission(ex: &PaperExchange, params: &Params) -> Result<Reply, Reply> {
    let (symbol, _) = market(ex, params)?;
    let rates = |maker: Decimal, taker: Decimal| {
        Obj::new()
            .dec("maker", maker)
            .dec("taker", taker)
            .dec("buyer", Decimal::ZERO)
            .dec("seller", Decimal::ZERO)
            .finish()
    };
    let zero = rates(Decimal::ZERO, Decimal::ZERO);
    let asset = ex.config.commission_asset.as_deref();
    let discount = Obj::new()
        .bool("enabledForAccount", asset.is_some())
        .bool("enabledForSymbol", asset.is_some())
        .str("discountAsset", asset.unwrap_or("BNB"))
        .dec("discount", if asset.is_some() { ex.config.commission_asset_discount } else { Decimal::ZERO })
        .finish();
    let body = Obj::new()
        .str("symbol", symbol)
        .raw("standardCommission", &rates(ex.config.maker_commission, ex.config.taker_commission))
        .raw("specialCommission", &zero)
        .raw("taxCommission", &zero)
        .raw("discount", &discount)
        .finish();
    Ok(Reply::ok(body))
}

fn account(ex: &PaperExchange, now: i64, params: &Params) -> Reply {
    let omit_zero = params.get("omitZeroBalances") == Some("true");
    let bps = |rate: Decimal| (rate * Decimal::from(10_000)).trunc().try_into().unwrap_or(0_i64);
    let balances = ex
        .balances
        .iter()
        .filter(|(_, b)| !(omit_zero && b.free.is_zero() && b.locked.is_zero()))
        .map(|(a, b)| Obj::new().str("asset", a).dec("free", b.free).dec("locked", b.locked).finish());
    let rates = Obj::new()
        .dec("maker", ex.config.maker_commission)
        .dec("taker", ex.config.taker_commission)
        .dec("buyer", Decimal::ZERO)
        .dec("seller", Decimal::ZERO)
        .finish();
    let body = Obj::new()
        .int("makerCommission", bps(ex.config.maker_commission))
        .int("takerCommission", bps(ex.config.taker_commission))
        .int("buyerCommission", 0)
        .int("sellerCommission", 0)
        .raw("commissionRates", &rates)
        .bool("canTrade", true)
        .bool("canWithdraw", true)
        .bool("canDeposit", true)
        .bool("brokered", false)
        .bool("requireSelfTradePrevention", false)
        .bool("preventSor", false)
        .int("updateTime", now)
        .str("accountType", "SPOT")
        .raw("balances", &array(balances))
        .raw("permissions", "[\"SPOT\"]")
        .int("uid", 1);
    // The STP FAQ: an account of a trade group shows it (the documented example answer of an
    // account outside one has no such field).
    let body = if ex.trade_group() >= 0 { body.int("tradeGroupId", ex.trade_group()) } else { body }.finish();
    Reply::ok(body)
}

fn my_trades(ex: &PaperExchange, params: &Params) -> Result<Reply, Reply> {
    let (symbol, _) = market(ex, params)?;
    let order_id = params.integer("orderId")?.map(|i| u64::try_from(i).unwrap_or(0));
    let n = limit(params, 500, 1000)?;
    let mine: Vec<&super::MyTrade> =
        ex.my_trades.iter().filter(|t| t.symbol == symbol && order_id.is_none_or(|id| t.order_id == id)).collect();
    let skip = mine.len().saturating_sub(n);
    let items = mine.into_iter().skip(skip).map(|t| {
        let r = Obj::new().str("symbol", &t.symbol).int("id", i64::try_from(t.id).unwrap_or(i64::MAX));
        trade_row(r, t).bool("isBestMatch", true).finish()
    });
    Ok(Reply::ok(array(items)))
}

/// The fields a `myTrades` row and a `myAllocations` row share, from `orderId` to `isMaker`.
fn trade_row(r: Obj, t: &super::MyTrade) -> Obj {
    r.int("orderId", i64::try_from(t.order_id).unwrap_or(i64::MAX))
        .int("orderListId", -1)
        .dec("price", t.price)
        .dec("qty", t.qty)
        .dec("quoteQty", t.quote_qty)
        .dec("commission", t.commission)
        .str("commissionAsset", &t.commission_asset)
        .int("time", t.time)
        .bool("isBuyer", t.is_buyer)
        .bool("isMaker", t.is_maker)
}

/// `GET /api/v3/myPreventedMatches`: by `preventedMatchId`, or an order's (`orderId`) from
/// `fromPreventedMatchId` on, at most `limit` (500, up to 1000).
fn prevented_matches(ex: &PaperExchange, params: &Params) -> Result<Reply, Reply> {
    let (symbol, _) = market(ex, params)?;
    let match_id = params.integer("preventedMatchId")?.map(|i| u64::try_from(i).unwrap_or(u64::MAX));
    let order_id = params.integer("orderId")?.map(|i| u64::try_from(i).unwrap_or(u64::MAX));
    let from = params.integer("fromPreventedMatchId")?.map(|i| u64::try_from(i).unwrap_or(u64::MAX));
    if match_id.is_none() && order_id.is_none() {
        return Err(Reply::error(
            400,
            -1102,
            "Mandatory parameter 'preventedMatchId' was not sent, was empty/null, or malformed.",
        ));
    }
    let n = limit(params, 500, 1000)?;
    let items = ex
        .prevented
        .iter()
        .filter(|p| {
            p.symbol == symbol
                && match_id.is_none_or(|id| p.id == id)
                && order_id.is_none_or(|id| p.taker == id || p.maker == id)
                && from.is_none_or(|f| p.id >= f)
        })
        .take(n)
        .map(|p| {
            let mut r = Obj::new()
                .str("symbol", &p.symbol)
                .int("preventedMatchId", i64::try_from(p.id).unwrap_or(i64::MAX))
                .int("takerOrderId", i64::try_from(p.taker).unwrap_or(i64::MAX))
                .str("makerSymbol", &p.symbol)
                .int("makerOrderId", i64::try_from(p.maker).unwrap_or(i64::MAX))
                .int("tradeGroupId", ex.trade_group())
                .str("selfTradePreventionMode", p.mode.as_str())
                .dec("price", p.price);
            if let Some(q) = p.taker_qty {
                r = r.dec("takerPreventedQuantity", q);
            }
            if let Some(q) = p.maker_qty {
                r = r.dec("makerPreventedQuantity", q);
            }
            r.int("transactTime", p.time).finish()
        });
    Ok(Reply::ok(array(items)))
}

fn rate_limit_order(ex: &mut PaperExchange, now: i64) -> Reply {
    let items = ex.throttle.order_counts(now).into_iter().map(|(interval, num, limit, count)| {
        Obj::new()
            .str("rateLimitType", "ORDERS")
            .str("interval", interval.as_str())
            .int("intervalNum", i64::try_from(num).unwrap_or(i64::MAX))
            .int("limit", i64::try_from(limit).unwrap_or(i64::MAX))
            .int("count", i64::try_from(count).unwrap_or(i64::MAX))
            .finish()
    });
    Reply::ok(array(items))
}

/// `POST /api/v3/order/cancelReplace`: the new order's filters and the order count are checked
/// first (a plain error then, nothing done); then the cancel (`cancelRestrictions` honoured),
/// then, unless it failed under `STOP_ON_FAILURE`, the new order. Answers in Binance's shapes:
/// 200 both done; `-2022` (400) nothing done; `-2021` (409) one of the two done; a rate-limited
/// new order under `CANCEL_ONLY` answers 429 with the cancel done.
fn cancel_replace(ex: &mut PaperExchange, now: i64, params: &Params) -> Result<Reply, Reply> {
    let allow_failure = match params.required("cancelReplaceMode")? {
        "STOP_ON_FAILURE" => false,
        "ALLOW_FAILURE" => true,
        _ => return Err(Reply::error(400, -1116, "Invalid cancelReplaceMode.")),
    };
    let restriction = match params.get("cancelRestrictions") {
        None => None,
        Some("ONLY_NEW") => Some(OrderStatus::New),
        Some("ONLY_PARTIALLY_FILLED") => Some(OrderStatus::PartiallyFilled),
        Some(_) => return Err(Reply::error(400, -1145, "Invalid cancelRestrictions")),
    };
    let cancel_only = match params.get("orderRateLimitExceededMode") {
        None | Some("DO_NOTHING") => false,
        Some("CANCEL_ONLY") => true,
        Some(_) => return Err(Reply::error(400, -1116, "Invalid orderRateLimitExceededMode.")),
    };
    // The new order's filters, before anything happens.
    let order = order_request(params)?;
    let symbol = order.symbol().to_owned();
    let rules = ex.rules(&symbol).ok_or_else(invalid_symbol)?;
    if !rules.cancel_replace_allowed() {
        return Err(rejected("Order cancel-replace is not supported for this symbol."));
    }
    let ctx = validation_context(ex, now, &symbol)?;
    rules.validate(&order, &ctx).map_err(|e| Reply::error(400, e.code(), &e.to_string()))?;
    let (base, quote) = (rules.base_asset().to_owned(), rules.quote_asset().to_owned());
    let limited = ex.throttle.admit_order(now).err().map(|r| r.0);
    if let Some(limited) = &limited
        && !cancel_only
    {
        return Err(limited.clone());
    }
    // The cancel.
    let order_id = params.integer("cancelOrderId")?.map(|i| u64::try_from(i).unwrap_or(0));
    let client = params.get("cancelOrigClientOrderId").filter(|c| !c.is_empty());
    if order_id.is_none() && client.is_none() {
        return Err(Reply::error(
            400,
            -1102,
            "Param 'cancelOrigClientOrderId' or 'cancelOrderId' must be sent, but both were empty/null!",
        ));
    }
    let found = ex
        .find_order(&symbol, order_id, client)
        .filter(|id| client.is_none() || ex.orders.get(id).is_some_and(|o| Some(o.client_id.as_str()) == client));
    let live = found.filter(|id| ex.orders.get(id).is_some_and(PaperOrder::is_live));
    let cancel: Result<String, Reply> = match live {
        None => Err(rejected_cancel("Unknown order sent.")),
        Some(id) if restriction.as_ref().is_some_and(|want| ex.orders.get(&id).is_some_and(|o| o.status != *want)) => {
            Err(rejected_cancel("Order was not canceled due to cancel restrictions."))
        }
        Some(id) => {
            let list = ex.orders.get(&id).and_then(|o| o.list);
            let body = cancel_one(ex, now, id, params.get("cancelNewClientOrderId"))
                .ok_or_else(|| rejected_cancel("Unknown order sent."));
            if let Some(list) = list {
                let cancel_id = ex.generated_id();
                super::lists::cancel_legs(ex, now, list, &cancel_id);
            }
            body
        }
    };
    let result = |r: &Result<String, Reply>| if r.is_ok() { "SUCCESS" } else { "FAILURE" };
    let body_of = |r: &Result<String, Reply>| match r {
        Ok(body) => body.clone(),
        Err(reply) => reply.body.clone(),
    };
    let answer = |status: u16, code: Option<(i32, &str)>, data: String| {
        let mut reply = match code {
            Some((code, msg)) => {
                let body = Obj::new().int("code", i64::from(code)).str("msg", msg).raw("data", &data).finish();
                Reply::error(status, code, msg).with_body(body)
            }
            None => Reply::ok(data),
        };
        reply.status = status;
        reply
    };
    if cancel.is_err() && !allow_failure {
        // Not attempted, but counted (Binance: the unfilled order count goes up by one).
        ex.throttle.count_order(now);
        let data = Obj::new()
            .str("cancelResult", "FAILURE")
            .str("newOrderResult", "NOT_ATTEMPTED")
            .raw("cancelResponse", &body_of(&cancel))
            .null("newOrderResponse")
            .finish();
        return Ok(answer(400, Some((-2022, "Order cancel-replace failed.")), data));
    }
    // The new order (refused by the rate limit under CANCEL_ONLY).
    let placed: Result<String, Reply> = match limited {
        Some(limited) => Err(limited),
        None => place(ex, now, params, false, false).map(|r| r.body),
    };
    ex.account_position(now, &[&base, &quote]);
    let data = Obj::new()
        .str("cancelResult", result(&cancel))
        .str("newOrderResult", result(&placed))
        .raw("cancelResponse", &body_of(&cancel))
        .raw("newOrderResponse", &body_of(&placed))
        .finish();
    Ok(match (&cancel, &placed) {
        (Ok(_), Ok(_)) => answer(200, None, data),
        (Err(_), Err(_)) => answer(400, Some((-2022, "Order cancel-replace failed.")), data),
        (Ok(_), Err(e)) if e.status == 429 => {
            answer(429, Some((-2021, "Order cancel-replace partially failed.")), data)
                .with_retry_after(e.retry_after.unwrap_or(1))
        }
        _ => answer(409, Some((-2021, "Order cancel-replace partially failed.")), data),
    })
}
