//! The paper exchange: a deterministic Binance Spot simulator that answers like Binance.
//!
//! Sans-IO like the rest of the core: [`PaperExchange::handle_http`] takes the time and an
//! `http::Request<Bytes>` and gives back the `http::Response<Bytes>` Binance would
//! ([`PaperExchange::deliver`] does the same through the configured faults); WebSocket
//! connections are ids ([`PaperExchange::ws_connect`], [`ws_send`](PaperExchange::ws_send),
//! [`ws_poll`](PaperExchange::ws_poll)) carrying market streams or the WebSocket API with the
//! user data stream; user-data events also come out of [`PaperExchange::poll_user_event`].
//! Nothing reads a clock or a socket, and every random choice comes from the configured seed,
//! so a test replays exactly.
//!
//! What it does as Binance does (SPEC references in brackets):
//! - API key, signature (HMAC-SHA256 hex, Ed25519 base64; over the query string then the body,
//!   exactly as sent, i.e. percent-encoded), `timestamp` and `recvWindow` [§2]: -2014, -2015,
//!   -1022, -1021, -1102.
//! - Every filter of the symbol, through the crate's own [`SymbolRules::validate`]
//!   (`{"code":-1013,"msg":"Filter failure: LOT_SIZE"}`), and the matching engine's refusals:
//!   -2010 insufficient balance, duplicate open client order id, LIMIT_MAKER that would take,
//!   a stop that would trigger immediately [§6, §7].
//! - Matching against a synthetic book around a seeded random walk (or prices set by the
//!   test), partial fills across levels, IOC / FOK, MARKET orders that run out of liquidity end
//!   `EXPIRED`, resting orders fill as makers when the market crosses them, stop orders trigger
//!   on the last price.
//! - Balances with free and locked, commissions at the configured maker / taker rates taken from
//!   the received asset [§6.8].
//! - Rate limits from exchangeInfo: `X-MBX-USED-WEIGHT-1M` on every response,
//!   `X-MBX-ORDER-COUNT-*` on orders, 429 with `Retry-After`, 418 bans that escalate [§5].
//! - `executionReport` and `outboundAccountPosition` / `balanceUpdate` events with the field
//!   names of §9.3, in the `{"subscriptionId","event"}` wrapper on WebSocket-API connections
//!   subscribed to the user data stream.
//! - Market streams published from the simulated market: trades, depth diffs a local book can
//!   follow (`U` / `u` chained on the REST snapshot's `lastUpdateId`), partial depth,
//!   bookTicker.
//! - Faults on demand ([`Fault`], [`FaultConfig`], [`WsFault`]): lost requests, lost answers,
//!   5xx and -1007 after executing, latency, duplicated or reordered events, clock skew, bans,
//!   disconnects, poisoned market messages, `serverShutdown`.
//!
//! ```
//! use aegis_paper::{PaperConfig, PaperExchange, PaperKey};
//! use aegis_exchange::rest::{Environment, Rest};
//! use aegis_exchange::sign::{Credentials, HmacSha256};
//! use aegis_exchange::{ExchangeInfo, MarketContext, OrderRequest, Side, BUNDLED_EXCHANGE_INFO};
//! use rust_decimal_macros::dec;
//!
//! let now = 1_760_000_000_000;
//! let mut paper = PaperExchange::new(PaperConfig::default().with_price("BTCUSDT", dec!(65000)), now);
//! paper.add_api_key("paper-key", PaperKey::hmac(b"paper-secret"));
//! paper.deposit(now, "USDT", dec!(1000));
//!
//! let creds = Credentials::new("paper-key", HmacSha256::new(b"paper-secret")).unwrap();
//! let rest = Rest::new(Environment::Testnet).with_credentials(creds);
//! let info = ExchangeInfo::from_json(BUNDLED_EXCHANGE_INFO).unwrap();
//! let order = OrderRequest::market("BTCUSDT", Side::Buy, dec!(0.001));
//! let valid = info.symbol("BTCUSDT").unwrap().validate(&order, &MarketContext::default()).unwrap();
//! let response = paper.handle_http(now, rest.new_order(&valid, now).unwrap().request);
//! assert_eq!(response.status(), 200);
//! assert!(paper.balance("BTC").free > dec!(0));
//! ```

mod faults;
mod group;
mod klines;
mod latency;
mod lists;
mod market;
mod replay;
mod reply;
mod routes;
#[cfg(feature = "server")]
pub mod server;

/// Locks an exchange shared by the adapters; a lock poisoned by a panic elsewhere is still
/// usable (every exchange method leaves it consistent before it could panic).
#[cfg(feature = "server")]
fn lock(exchange: &std::sync::Mutex<PaperExchange>) -> std::sync::MutexGuard<'_, PaperExchange> {
    exchange.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
mod throttle;
#[cfg(feature = "server")]
mod transport;
mod wire;
mod ws;

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use rust_decimal::{Decimal, RoundingStrategy};

use aegis_exchange::Balance;
use aegis_exchange::DecodeError;
use aegis_exchange::num::{Rounding, round_to_step};
use aegis_exchange::sign::{HmacSha256, SignError};
use aegis_exchange::{BUNDLED_EXCHANGE_INFO, ExchangeInfo, SymbolRules};
use aegis_exchange::{
    ClientOrderIdGenerator, OrderStatus, OrderType, PegPriceType, SelfTradePreventionMode, Side, TimeInForce,
};

pub use faults::{Delivery, Fault, FaultConfig};
pub use group::SiblingError;
pub use latency::{LatencyError, LatencyProfile};
pub use market::WalkConfig;
use market::{Market, Rng};
pub use replay::{Replay, ReplayError};
use reply::Reply;
use throttle::Throttle;
#[cfg(feature = "server")]
pub use transport::PaperTransport;
use wire::Obj;
pub use ws::{ConnId, WsConnectError, WsFault, WsOut};

/// How an API key of the paper account signs.
pub enum PaperKey {
    /// HMAC-SHA256 with this secret (kept keyed; the secret is zeroized on drop).
    Hmac(HmacSha256),
    /// Ed25519 with this public key.
    Ed25519(ed25519_dalek::VerifyingKey),
}

impl PaperKey {
    /// An HMAC key with `secret`.
    pub fn hmac(secret: impl AsRef<[u8]>) -> Self {
        PaperKey::Hmac(HmacSha256::new(secret))
    }

    /// An Ed25519 key from its 32-byte public key
    /// ([`Ed25519::public_key`](aegis_exchange::sign::Ed25519::public_key)).
    ///
    /// # Errors
    /// [`SignError`] when the bytes are not a valid public key.
    pub fn ed25519(public_key: &[u8; 32]) -> Result<Self, SignError> {
        ed25519_dalek::VerifyingKey::from_bytes(public_key)
            .map(PaperKey::Ed25519)
            .map_err(|_| SignError::InvalidPublicKey)
    }
}

impl Clone for PaperKey {
    fn clone(&self) -> Self {
        match self {
            PaperKey::Hmac(key) => PaperKey::Hmac(key.clone()),
            PaperKey::Ed25519(key) => PaperKey::Ed25519(*key),
        }
    }
}

impl fmt::Debug for PaperKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PaperKey::Hmac(_) => "PaperKey::Hmac(..)",
            PaperKey::Ed25519(_) => "PaperKey::Ed25519(..)",
        })
    }
}

/// Settings of a [`PaperExchange`].
#[derive(Debug, Clone)]
pub struct PaperConfig {
    /// The symbols, their filters and the rate limits (default: the bundled exchangeInfo; set
    /// with [`PaperConfig::with_exchange_info`]).
    exchange_info: Arc<ExchangeInfo>,
    /// The same, prepared for `GET /api/v3/exchangeInfo` (written once, assembled per answer).
    prepared_info: Arc<wire::PreparedInfo>,
    /// The seed of every random choice (price walk, book, generated ids).
    pub seed: u64,
    /// Commission rate of maker fills (0.001 = 0.1 %).
    pub maker_commission: Decimal,
    /// Commission rate of taker fills.
    pub taker_commission: Decimal,
    /// Pay commissions in this asset (`"BNB"`) when the account holds enough of it and its
    /// price in the trade's quote asset is known (a paper market `<ASSET><QUOTE>`, or the
    /// trade's own base or quote); otherwise, as on Binance, the commission comes out of the
    /// received asset (SPEC §6.8). `None` (the default): always the received asset.
    pub commission_asset: Option<String>,
    /// What a commission paid in `commission_asset` is multiplied by (Binance's `discount`
    /// applied as SPEC §6.8 states it; 0.75 = 25 % off).
    pub commission_asset_discount: Decimal,
    /// How prices move and how deep the synthetic book is.
    pub walk: WalkConfig,
    /// The starting mid price of the symbols that have a market (others have an empty book).
    pub prices: Vec<(String, Decimal)>,
    /// A 429 ignored this many times in a row brings a 418 ban.
    pub ban_after_ignored_429s: u32,
    /// Orders kept for queries (the oldest ended ones are forgotten first).
    pub max_orders_kept: usize,
    /// User-data events kept until polled (the oldest are dropped first).
    pub max_events: usize,
    /// Random faults (none by default).
    pub faults: FaultConfig,
    /// The account's trade group (`tradeGroupId`), with a second account in it (see
    /// [`PaperExchange::sibling_place`]); `None` (the default): no group (`-1`).
    pub trade_group: Option<i64>,
}

impl Default for PaperConfig {
    fn default() -> Self {
        Self {
            exchange_info: Arc::clone(bundled_exchange_info()),
            prepared_info: Arc::clone(bundled_prepared_info()),
            seed: 1,
            maker_commission: Decimal::new(1, 3),
            taker_commission: Decimal::new(1, 3),
            commission_asset: None,
            commission_asset_discount: Decimal::new(75, 2),
            walk: WalkConfig::default(),
            prices: Vec::new(),
            ban_after_ignored_429s: 3,
            max_orders_kept: 100_000,
            max_events: 10_000,
            faults: FaultConfig::default(),
            trade_group: None,
        }
    }
}

/// The bundled exchangeInfo, prepared for answers once per process.
fn bundled_prepared_info() -> &'static Arc<wire::PreparedInfo> {
    static BUNDLED: std::sync::OnceLock<Arc<wire::PreparedInfo>> = std::sync::OnceLock::new();
    BUNDLED.get_or_init(|| Arc::new(wire::PreparedInfo::new(BUNDLED_EXCHANGE_INFO)))
}

/// The bundled exchangeInfo, decoded once per process.
fn bundled_exchange_info() -> &'static Arc<ExchangeInfo> {
    static BUNDLED: std::sync::OnceLock<Arc<ExchangeInfo>> = std::sync::OnceLock::new();
    BUNDLED.get_or_init(|| Arc::new(ExchangeInfo::from_json(BUNDLED_EXCHANGE_INFO).unwrap_or_default()))
}

impl PaperConfig {
    /// Gives `symbol` a market starting at `price`.
    #[must_use]
    pub fn with_price(mut self, symbol: &str, price: Decimal) -> Self {
        self.prices.push((symbol.to_owned(), price));
        self
    }

    /// Trades the symbols of this exchangeInfo response (a recorded one, or one of your own).
    ///
    /// # Errors
    /// [`DecodeError`] when it is not an exchangeInfo response.
    pub fn with_exchange_info(mut self, json: impl Into<Bytes>) -> Result<Self, DecodeError> {
        let json = json.into();
        self.exchange_info = Arc::new(ExchangeInfo::from_json(&json)?);
        self.prepared_info = Arc::new(wire::PreparedInfo::new(&json));
        Ok(self)
    }

    /// Another price walk and book depth.
    #[must_use]
    pub fn with_walk(mut self, walk: WalkConfig) -> Self {
        self.walk = walk;
        self
    }

    /// Commissions paid in `asset` (`"BNB"`), multiplied by `discount`, when the account can
    /// (see [`commission_asset`](Self::commission_asset)).
    #[must_use]
    pub fn with_commission_asset(mut self, asset: &str, discount: Decimal) -> Self {
        self.commission_asset = Some(asset.to_owned());
        self.commission_asset_discount = discount;
        self
    }

    /// Random faults.
    #[must_use]
    pub fn with_faults(mut self, faults: FaultConfig) -> Self {
        self.faults = faults;
        self
    }

    /// Puts the account in trade group `id` (`tradeGroupId`, STP FAQ) with a second account,
    /// driven through [`PaperExchange::sibling_place`]: orders of the two meet with self-trade
    /// prevention, and `TRANSFER` moves balances between them.
    #[must_use]
    pub fn with_trade_group(mut self, id: i64) -> Self {
        self.trade_group = Some(id);
        self
    }

    /// Another seed.
    #[must_use]
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
}

/// An order as the paper exchange keeps it.
#[derive(Debug, Clone)]
struct PaperOrder {
    symbol: String,
    base: String,
    quote: String,
    id: u64,
    client_id: String,
    side: Side,
    kind: OrderType,
    tif: TimeInForce,
    price: Decimal,
    qty: Decimal,
    quote_qty: Decimal,
    stop: Decimal,
    iceberg: Decimal,
    executed: Decimal,
    cum_quote: Decimal,
    status: OrderStatus,
    time: i64,
    update: i64,
    /// When it went on the book (`None`: a stop not triggered yet).
    working: Option<i64>,
    stp: SelfTradePreventionMode,
    /// What it still holds locked (quote for a buy, base for a sell).
    lock: Decimal,
    traded: bool,
    /// Keep-priority amends so far (`MAX_NUM_ORDER_AMENDS`).
    amends: u64,
    /// The order list it belongs to.
    list: Option<u64>,
    /// What self-trade prevention took from it (no longer trades).
    prevented: Decimal,
    /// The last prevented match that took some of it.
    prevented_match: Option<u64>,
    /// The last prevention, for its `TRADE_PREVENTION` report: (quantity, counter order id,
    /// price).
    last_prevention: Option<(Decimal, u64, Decimal)>,
    /// A trailing stop's `trailingDelta` (BIPS).
    trailing: Option<u64>,
    /// A trailing stop that tracks the market: the lowest (buy) or highest (sell) last price
    /// since it started, and when it started.
    extreme: Option<(Decimal, i64)>,
    /// A pegged order's instructions; its `price` is the pegged price once determined (zero
    /// before: a pegged stop-limit not triggered yet).
    peg: Option<Peg>,
    /// Placed through SOR (`usedSor`); `Some(true)` once allocations filled it
    /// (`workingFloor: SOR`).
    sor: Option<bool>,
}

/// A pegged order's instructions (Binance's pegged-orders FAQ).
#[derive(Debug, Clone)]
struct Peg {
    kind: PegPriceType,
    /// Price levels deeper than the best (`pegOffsetValue`), if given.
    offset: Option<u8>,
    /// The order's own `price` parameter (zero when absent), shown as its `price`.
    price: Decimal,
}

impl Peg {
    /// A list leg's peg, if it is pegged.
    fn of_leg(l: &aegis_exchange::ListLeg) -> Option<Self> {
        Some(Self {
            kind: l.peg_price_type()?.clone(),
            offset: l.peg_offset_levels(),
            price: l.price().unwrap_or_default(),
        })
    }
}

impl PaperOrder {
    fn is_open(&self) -> bool {
        matches!(self.status, OrderStatus::New | OrderStatus::PartiallyFilled)
    }

    /// On the book, or a list's pending order waiting for its working order to fill.
    fn is_live(&self) -> bool {
        self.is_open() || self.status == OrderStatus::PendingNew
    }

    fn remaining(&self) -> Decimal {
        (self.qty - self.executed - self.prevented).max(Decimal::ZERO)
    }

    fn locked_asset(&self) -> &str {
        if self.side == Side::Buy { &self.quote } else { &self.base }
    }

    fn is_stop(&self) -> bool {
        self.kind.is_algo()
    }

    /// The `price` its answers and reports show: a pegged order's own parameter (zero when it
    /// sent none), else the limit price.
    fn shown_price(&self) -> Decimal {
        self.peg.as_ref().map_or(self.price, |p| p.price)
    }

    /// A pegged order's fields (`pegPriceType`, `pegOffsetType`, `pegOffsetValue`,
    /// `peggedPrice` once determined), under the names `names` gives, after `r`.
    fn peg_fields(&self, r: Obj, names: [&'static str; 4]) -> Obj {
        let Some(p) = &self.peg else { return r };
        let [kind, offset_type, offset_value, pegged] = names;
        let mut r = r.str(kind, p.kind.as_str());
        if let Some(levels) = p.offset {
            r = r.str(offset_type, "PRICE_LEVEL").int(offset_value, i64::from(levels));
        }
        if self.price.is_zero() { r } else { r.dec(pegged, self.price) }
    }
}

/// One of our fills, as `GET /api/v3/myTrades` lists it.
#[derive(Debug, Clone)]
struct MyTrade {
    symbol: String,
    id: u64,
    order_id: u64,
    price: Decimal,
    qty: Decimal,
    quote_qty: Decimal,
    commission: Decimal,
    commission_asset: String,
    time: i64,
    is_buyer: bool,
    is_maker: bool,
}

/// A match self-trade prevention stopped, as `myPreventedMatches` lists it.
#[derive(Debug, Clone)]
struct PreventedMatch {
    symbol: String,
    id: u64,
    taker: u64,
    maker: u64,
    mode: SelfTradePreventionMode,
    price: Decimal,
    /// The taker's quantity it took (`EXPIRE_TAKER`, `EXPIRE_BOTH`, `DECREMENT`).
    taker_qty: Option<Decimal>,
    /// The maker's (`EXPIRE_MAKER`, `EXPIRE_BOTH`, `DECREMENT`).
    maker_qty: Option<Decimal>,
    time: i64,
}

/// One keep-priority amend, as `order.amendments` lists it.
#[derive(Debug, Clone)]
struct Amendment {
    symbol: String,
    order_id: u64,
    execution_id: i64,
    orig_client_id: String,
    new_client_id: String,
    orig_qty: Decimal,
    new_qty: Decimal,
    time: i64,
}

/// What a taker does after meeting one of the account's own orders.
enum AfterOwn {
    /// It goes on matching.
    Continue,
    /// It is done (`satisfied`: its quantity was reached).
    Done { satisfied: bool },
}

/// A fill of one order, for the FULL response.
#[derive(Debug, Clone)]
struct FillRecord {
    price: Decimal,
    qty: Decimal,
    commission: Decimal,
    commission_asset: String,
    trade_id: u64,
    /// A fill by SOR allocation: its id (the trade id is then -1).
    alloc_id: Option<u64>,
}

/// Requests the exchange saw that ignored its rate-limit answers (see
/// [`PaperExchange::throttle_violations`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ThrottleViolations {
    /// Requests that arrived during a 418 ban (each lengthens a real ban).
    pub in_ban: u64,
    /// Requests that arrived before a 429's `Retry-After` had passed.
    pub before_retry_after: u64,
}

/// The simulated exchange. See the [module docs](self).
///
/// A clone is an independent copy of the whole simulation (markets, account, orders, open
/// WebSocket connections with the same [`ConnId`]s, random streams): a fork for a what-if run,
/// or a fresh start that skips the set-up (the `paper_http` fuzz target clones one prepared
/// exchange per input).
///
/// ```
/// use aegis_paper::{PaperConfig, PaperExchange};
/// use aegis_exchange::Decimal;
///
/// let mut base = PaperExchange::new(PaperConfig::default().with_price("BTCUSDT", Decimal::from(65_000)), 0);
/// base.deposit(0, "USDT", Decimal::from(1_000));
/// let mut fork = base.clone();
/// fork.deposit(0, "USDT", Decimal::from(500));
/// assert_eq!(base.balance("USDT").free, Decimal::from(1_000));
/// assert_eq!(fork.balance("USDT").free, Decimal::from(1_500));
/// ```
#[derive(Clone)]
pub struct PaperExchange {
    config: PaperConfig,
    keys: HashMap<String, PaperKey>,
    markets: HashMap<String, Market>,
    balances: BTreeMap<String, Balance>,
    orders: BTreeMap<u64, PaperOrder>,
    open: BTreeSet<u64>,
    /// (symbol, client order id) → the latest order with it.
    by_client: HashMap<(String, String), u64>,
    ended: VecDeque<u64>,
    next_order_id: u64,
    my_trades: VecDeque<MyTrade>,
    /// Keep-priority amends (the last `MY_TRADES_KEPT`), and the last amend's execution id
    /// (they only grow, so `fromExecutionId` pages through them).
    amendments: VecDeque<Amendment>,
    last_amend_execution: i64,
    /// Self-trade prevention's records (the last `MY_TRADES_KEPT`), and the next id.
    prevented: VecDeque<PreventedMatch>,
    next_prevented_match: u64,
    events: VecDeque<String>,
    dropped_events: u64,
    throttle: Throttle,
    rng: Rng,
    /// Faults draw from their own stream, so turning one on does not change the market.
    fault_rng: Rng,
    pending_faults: VecDeque<Fault>,
    /// The ids given to orders and cancels sent without one.
    ids: ClientOrderIdGenerator,
    ws: ws::WsState,
    last_now: i64,
    /// Order lists by id.
    lists: BTreeMap<u64, lists::PaperList>,
    next_list_id: u64,
    /// SOR allocations (the last `MY_TRADES_KEPT`; `id` is the allocation's), and the next id.
    allocations: VecDeque<MyTrade>,
    next_allocation: u64,
    /// The other account of the trade group, if the account is in one.
    sibling: Option<group::Sibling>,
}

impl fmt::Debug for PaperExchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PaperExchange")
            .field("symbols", &self.config.exchange_info.symbols().len())
            .field("keys", &self.keys.len())
            .field("orders", &self.orders.len())
            .field("open", &self.open.len())
            .finish_non_exhaustive()
    }
}

/// The most trades kept for `myTrades`.
const MY_TRADES_KEPT: usize = 10_000;

/// Appends `item` to a history kept to its last [`MY_TRADES_KEPT`] entries.
fn keep_last<T>(history: &mut VecDeque<T>, item: T) {
    if history.len() >= MY_TRADES_KEPT {
        history.pop_front();
    }
    history.push_back(item);
}

fn round8(d: Decimal) -> Decimal {
    if d.scale() <= 8 { d } else { d.round_dp_with_strategy(8, RoundingStrategy::MidpointAwayFromZero) }
}

impl PaperExchange {
    /// A paper exchange whose clock starts at `now` (milliseconds since the epoch).
    #[must_use]
    pub fn new(config: PaperConfig, now: i64) -> Self {
        let mut rng = Rng::new(config.seed);
        let mut markets = HashMap::new();
        for rules in config.exchange_info.symbols() {
            markets.insert(rules.symbol().to_owned(), Market::new(rules, rng.next_u64()));
        }
        for (symbol, price) in &config.prices {
            if let Some(m) = markets.get_mut(symbol) {
                m.set_mid(now, *price, &config.walk);
            }
        }
        let throttle = Throttle::new(config.exchange_info.rate_limits(), config.ban_after_ignored_429s);
        Self {
            keys: HashMap::new(),
            markets,
            balances: BTreeMap::new(),
            orders: BTreeMap::new(),
            open: BTreeSet::new(),
            by_client: HashMap::new(),
            ended: VecDeque::new(),
            next_order_id: 1,
            my_trades: VecDeque::new(),
            prevented: VecDeque::new(),
            next_prevented_match: 0,
            amendments: VecDeque::new(),
            last_amend_execution: 0,
            events: VecDeque::new(),
            dropped_events: 0,
            throttle,
            rng,
            fault_rng: Rng::new(config.seed ^ 0xFA17_FA17_FA17_FA17),
            pending_faults: VecDeque::new(),
            ids: ClientOrderIdGenerator::new("web", config.seed).unwrap_or_default(),
            ws: ws::WsState::default(),
            last_now: now,
            lists: BTreeMap::new(),
            next_list_id: 1,
            allocations: VecDeque::new(),
            next_allocation: 0,
            sibling: config.trade_group.map(group::Sibling::new),
            config,
        }
    }

    /// Registers an API key of the (one) paper account.
    pub fn add_api_key(&mut self, api_key: &str, key: PaperKey) {
        self.keys.insert(api_key.to_owned(), key);
    }

    /// Credits `amount` of `asset` (a deposit): emits `balanceUpdate` and
    /// `outboundAccountPosition`.
    pub fn deposit(&mut self, now: i64, asset: &str, amount: Decimal) {
        let now = self.server_time(now);
        let b = self.balances.entry(asset.to_owned()).or_default();
        b.free = b.free.saturating_add(amount);
        let event =
            Obj::new().str("e", "balanceUpdate").int("E", now).str("a", asset).dec("d", amount).int("T", now).finish();
        self.push_event(event);
        self.account_position(now, &[asset]);
    }

    /// The account's balance of `asset`.
    #[must_use]
    pub fn balance(&self, asset: &str) -> Balance {
        self.balances.get(asset).copied().unwrap_or_default()
    }

    /// Every balance of the account.
    #[must_use]
    pub fn balances(&self) -> Vec<(String, Balance)> {
        self.balances.iter().map(|(a, b)| (a.clone(), *b)).collect()
    }

    /// The next user-data event (`executionReport`, `outboundAccountPosition`,
    /// `balanceUpdate`) as the JSON of its `event` object.
    pub fn poll_user_event(&mut self) -> Option<String> {
        self.events.pop_front()
    }

    /// Events dropped because nobody polled them (beyond `max_events`).
    #[must_use]
    pub fn dropped_events(&self) -> u64 {
        self.dropped_events
    }

    /// The symbol's current mid price, if it has a market.
    #[must_use]
    pub fn price(&self, symbol: &str) -> Option<Decimal> {
        self.markets.get(symbol).and_then(|m| m.mid)
    }

    /// Moves `symbol`'s market to `price` now: resting orders it crosses fill, stops it passes
    /// trigger.
    pub fn set_price(&mut self, now: i64, symbol: &str, price: Decimal) {
        let now = self.server_time(now);
        self.tick(now);
        let walk = self.config.walk;
        if let Some(m) = self.markets.get_mut(symbol) {
            m.set_mid(now, price, &walk);
            m.record_trade(now, m.mid.unwrap_or(price), m.step, false);
        }
        self.match_resting(now, symbol);
        self.publish(now);
    }

    /// Replays a recorded depth snapshot (`GET /api/v3/depth`) into `symbol`'s book: from now
    /// on that market moves only with [`replay_diff`](Self::replay_diff) and
    /// [`replay_trade`](Self::replay_trade) (or [`set_price`](Self::set_price), which returns it
    /// to the random walk). Returns whether the symbol exists.
    pub fn replay_snapshot(&mut self, now: i64, symbol: &str, snapshot: &aegis_exchange::rest::DepthSnapshot) -> bool {
        let now = self.server_time(now);
        let level = |l: &aegis_exchange::rest::Level| market::Level { price: l.price, qty: l.qty };
        let bids: Vec<market::Level> = snapshot.bids.iter().map(level).collect();
        let asks: Vec<market::Level> = snapshot.asks.iter().map(level).collect();
        let Some(m) = self.markets.get_mut(symbol) else { return false };
        m.install(now, &bids, &asks, snapshot.last_update_id);
        self.match_resting(now, symbol);
        self.publish(now);
        true
    }

    /// Replays a recorded depth diff into its symbol's book (after
    /// [`replay_snapshot`](Self::replay_snapshot)); resting orders the book now crosses fill.
    /// Returns whether it applied (a stale diff does not).
    pub fn replay_diff(&mut self, now: i64, diff: &aegis_exchange::stream::DepthUpdate) -> bool {
        let now = self.server_time(now);
        let symbol = diff.symbol.as_str().to_owned();
        let level = |l: &aegis_exchange::rest::Level| market::Level { price: l.price, qty: l.qty };
        let bids: Vec<market::Level> = diff.bids.iter().map(level).collect();
        let asks: Vec<market::Level> = diff.asks.iter().map(level).collect();
        let Some(m) = self.markets.get_mut(&symbol) else { return false };
        if !m.apply_levels(now, &bids, &asks, diff.final_update_id) {
            return false;
        }
        self.match_resting(now, &symbol);
        self.publish(now);
        true
    }

    /// Replays a recorded public trade: it sets the last price (stops trigger on it).
    pub fn replay_trade(&mut self, now: i64, trade: &aegis_exchange::stream::Trade) {
        let now = self.server_time(now);
        let symbol = trade.symbol.as_str().to_owned();
        let Some(m) = self.markets.get_mut(&symbol) else { return };
        m.record_trade(now, trade.price, trade.qty, trade.buyer_is_maker);
        self.match_resting(now, &symbol);
        self.publish(now);
    }

    /// Lets time pass to `now`: every market walks, then resting orders and stops are matched.
    pub fn advance(&mut self, now: i64) {
        let now = self.server_time(now);
        self.tick(now);
        self.publish(now);
    }

    fn tick(&mut self, now: i64) {
        let now = now.max(self.last_now);
        self.last_now = now;
        let walk = self.config.walk;
        let mut moved = Vec::new();
        for (symbol, m) in &mut self.markets {
            if m.advance(now, &walk) {
                moved.push(symbol.clone());
            }
        }
        moved.sort();
        for symbol in moved {
            self.match_resting(now, &symbol);
        }
        self.ws_expire(now);
    }

    /// Bans the IP for `ms` from `now` (a fault to test 418 handling).
    pub fn ban(&mut self, now: i64, ms: i64) {
        self.throttle.ban_for(self.server_time(now), ms);
    }

    /// The requests that arrived while the IP was banned, or before the `Retry-After` of a 429
    /// (request weight) had passed: what a well-behaved client never sends, counted since the
    /// exchange was created. The request that finds a ban it could not know of counts too.
    #[must_use]
    pub fn throttle_violations(&self) -> ThrottleViolations {
        self.throttle.violations()
    }

    /// Until when the IP is banned, if it is.
    #[must_use]
    pub fn banned_until(&self, now: i64) -> Option<i64> {
        self.throttle.banned_until(self.server_time(now))
    }

    /// Changes the random faults from now on (e.g. heals the network: `FaultConfig::default()`).
    pub fn set_faults(&mut self, faults: FaultConfig) {
        self.config.faults = faults;
    }

    /// How many orders the exchange has accepted with this client order id on `symbol` (the
    /// ones it still keeps): a client that never double-submits sees at most 1.
    #[must_use]
    pub fn orders_with_client_id(&self, symbol: &str, client_order_id: &str) -> usize {
        self.orders.values().filter(|o| o.symbol == symbol && o.client_id == client_order_id).count()
    }

    /// The status of the latest order with this client order id on `symbol`, if any.
    #[must_use]
    pub fn order_status(&self, symbol: &str, client_order_id: &str) -> Option<OrderStatus> {
        let id = self.by_client.get(&(symbol.to_owned(), client_order_id.to_owned()))?;
        self.orders.get(id).map(|o| o.status.clone())
    }

    /// The quantity of the latest order with this client order id on `symbol` (reduced by
    /// keep-priority amends), if any.
    #[must_use]
    pub fn order_qty(&self, symbol: &str, client_order_id: &str) -> Option<Decimal> {
        let id = self.by_client.get(&(symbol.to_owned(), client_order_id.to_owned()))?;
        self.orders.get(id).map(|o| o.qty)
    }

    /// Makes the next request suffer `fault` (faults queue up, one per request).
    pub fn inject(&mut self, fault: Fault) {
        self.pending_faults.push_back(fault);
    }

    /// Sends one request through the faults: the next injected one, else the configured rates.
    /// Without faults this is [`handle_http`](Self::handle_http) with a latency.
    pub fn deliver(&mut self, now: i64, request: http::Request<Bytes>) -> Delivery {
        let f = self.config.faults;
        let (low, high) = (f.latency_ms.0, f.latency_ms.1.max(f.latency_ms.0));
        let mut latency_ms = low + self.fault_rng.below(high - low + 1);
        let mut roll = |rate: u16| rate > 0 && self.fault_rng.below(1000) < u64::from(rate);
        let random = if roll(f.drop_request_per_mille) {
            Some(Fault::DropRequest)
        } else if roll(f.drop_response_per_mille) {
            Some(Fault::DropResponse)
        } else if roll(f.server_error_per_mille) {
            Some(Fault::ServerErrorAfterExecute(502))
        } else if roll(f.timeout_per_mille) {
            Some(Fault::TimeoutAfterExecute)
        } else {
            None
        };
        let fault = self.pending_faults.pop_front().or(random);
        if let Some(Fault::Latency(ms)) = fault {
            latency_ms = ms;
        }
        match fault {
            Some(Fault::DropRequest) => Delivery::Dropped,
            Some(Fault::DropResponse) => {
                let _ = self.handle_http(now, request);
                Delivery::Lost
            }
            Some(Fault::ServerErrorAfterExecute(status)) => {
                let _ = self.handle_http(now, request);
                let body = Bytes::from_static(b"<html><body><h1>502 Bad Gateway</h1></body></html>");
                let mut response = http::Response::new(body);
                *response.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::BAD_GATEWAY);
                Delivery::Answer { response, latency_ms }
            }
            Some(Fault::TimeoutAfterExecute) => {
                let _ = self.handle_http(now, request);
                let reply = Reply::error(
                    408,
                    -1007,
                    "Timeout waiting for response from backend server. Send status unknown; execution status unknown.",
                );
                Delivery::Answer { response: self.respond(now, reply, Vec::new()), latency_ms }
            }
            _ => Delivery::Answer { response: self.handle_http(now, request), latency_ms },
        }
    }

    /// The exchange's clock at the caller's `now` (with the configured skew).
    #[must_use]
    pub fn server_time(&self, now: i64) -> i64 {
        now.saturating_add(self.config.faults.clock_skew_ms)
    }

    /// Answers one REST request as Binance would.
    pub fn handle_http(&mut self, now: i64, request: http::Request<Bytes>) -> http::Response<Bytes> {
        let now = self.server_time(now);
        self.tick(now);
        let (reply, headers) = routes::handle(self, now, &request);
        self.publish(now);
        self.respond(now, reply, headers)
    }

    fn respond(&mut self, now: i64, reply: Reply, mut headers: Vec<(String, String)>) -> http::Response<Bytes> {
        if headers.is_empty() {
            headers = self.throttle.headers(now, false);
        }
        let mut builder =
            http::Response::builder().status(reply.status).header("Content-Type", "application/json;charset=UTF-8");
        for (name, value) in headers {
            builder = builder.header(name, value);
        }
        if let Some(seconds) = reply.retry_after {
            builder = builder.header("Retry-After", seconds.to_string());
        }
        builder.body(Bytes::from(reply.body)).unwrap_or_else(|_| {
            let mut r = http::Response::new(Bytes::from_static(
                b"{\"code\":-1000,\"msg\":\"An unknown error occurred while processing the request.\"}",
            ));
            *r.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
            r
        })
    }

    fn rules(&self, symbol: &str) -> Option<&SymbolRules> {
        self.config.exchange_info.symbol(symbol)
    }

    fn push_event(&mut self, event: String) {
        let f = self.config.faults;
        let mut roll = |rate: u16| rate > 0 && self.fault_rng.below(1000) < u64::from(rate);
        let (twice, swap) = (roll(f.duplicate_events_per_mille), roll(f.reorder_events_per_mille));
        for _ in 0..if twice { 2 } else { 1 } {
            if self.events.len() >= self.config.max_events.max(1) {
                self.events.pop_front();
                self.dropped_events += 1;
            }
            if swap && !self.events.is_empty() {
                self.events.insert(self.events.len() - 1, event.clone());
            } else {
                self.events.push_back(event.clone());
            }
            self.fan_out(&event);
        }
    }

    fn account_position(&mut self, now: i64, assets: &[&str]) {
        let mut list = Vec::new();
        let mut seen: Vec<&str> = Vec::new();
        for a in assets {
            if seen.contains(a) {
                continue;
            }
            seen.push(a);
            let b = self.balance(a);
            list.push(Obj::new().str("a", a).dec("f", b.free).dec("l", b.locked).finish());
        }
        let event = Obj::new()
            .str("e", "outboundAccountPosition")
            .int("E", now)
            .int("u", now)
            .raw("B", &wire::array(list))
            .finish();
        self.push_event(event);
    }

    /// An id for an order or cancel sent without one (Binance makes up its own too).
    fn generated_id(&mut self) -> String {
        self.ids.next_id().as_str().to_owned()
    }

    fn open_client_id(&self, symbol: &str, client_id: &str) -> bool {
        self.by_client
            .get(&(symbol.to_owned(), client_id.to_owned()))
            .and_then(|id| self.orders.get(id))
            .is_some_and(PaperOrder::is_live)
    }

    fn find_order(&self, symbol: &str, order_id: Option<u64>, client_id: Option<&str>) -> Option<u64> {
        let id = match (order_id, client_id) {
            (Some(id), _) => id,
            (None, Some(c)) => *self.by_client.get(&(symbol.to_owned(), c.to_owned()))?,
            (None, None) => return None,
        };
        self.orders.get(&id).filter(|o| o.symbol == symbol).map(|o| o.id)
    }

    /// Keeps a new order; forgets the oldest ended ones beyond `max_orders_kept`.
    fn insert_order(&mut self, order: PaperOrder) {
        self.by_client.insert((order.symbol.clone(), order.client_id.clone()), order.id);
        self.open.insert(order.id);
        self.orders.insert(order.id, order);
        while self.orders.len() > self.config.max_orders_kept.max(1) {
            let Some(old) = self.ended.pop_front() else { break };
            if let Some(o) = self.orders.remove(&old) {
                let key = (o.symbol, o.client_id);
                if self.by_client.get(&key) == Some(&old) {
                    self.by_client.remove(&key);
                }
            }
        }
    }

    /// An order that has ended (just filled, or canceled / expired) leaves the open set, and
    /// whatever its lock still holds (the rest of a canceled order, a `quoteOrderQty` buy's
    /// change) goes back to free.
    fn close(&mut self, id: u64) {
        let Some(o) = self.orders.get_mut(&id) else { return };
        let (asset, lock) = (o.locked_asset().to_owned(), o.lock);
        o.lock = Decimal::ZERO;
        if !lock.is_zero() {
            let b = self.balances.entry(asset).or_default();
            b.locked -= lock;
            b.free += lock;
        }
        if self.open.remove(&id) {
            self.ended.push_back(id);
            let now = self.last_now;
            self.list_leg_closed(now, id);
        }
    }

    /// Ends an order: status, the rest of its lock released, the executionReport.
    fn end_order(&mut self, now: i64, id: u64, status: OrderStatus, exec: &str, client_id: Option<(&str, &str)>) {
        let Some(o) = self.orders.get_mut(&id) else { return };
        o.status = status;
        o.update = now;
        self.close(id);
        self.execution_report(now, id, exec, None, client_id);
    }

    /// The executionReport of order `id` now (`fill`: the trade of this report).
    fn execution_report(
        &mut self,
        now: i64,
        id: u64,
        exec: &str,
        fill: Option<(&FillRecord, bool)>,
        cancel_ids: Option<(&str, &str)>,
    ) {
        let Some(o) = self.orders.get(&id) else { return };
        let (c, orig) = cancel_ids.unwrap_or((o.client_id.as_str(), ""));
        let mut e = Obj::new()
            .str("e", "executionReport")
            .int("E", now)
            .str("s", &o.symbol)
            .str("c", c)
            .str("S", o.side.as_str())
            .str("o", o.kind.as_str())
            .str("f", o.tif.as_str())
            .dec("q", o.qty)
            .dec("p", o.shown_price())
            .dec("P", o.stop)
            .dec("F", o.iceberg)
            .int("g", o.list.and_then(|l| i64::try_from(l).ok()).unwrap_or(-1))
            .str("C", orig)
            .str("x", exec)
            .str("X", o.status.as_str())
            .str("r", "NONE")
            .int("i", i64::try_from(o.id).unwrap_or(i64::MAX));
        e = match fill {
            Some((f, maker)) => e
                .dec("l", f.qty)
                .dec("z", o.executed)
                .dec("L", f.price)
                .dec("n", f.commission)
                .str("N", &f.commission_asset)
                .int("T", now)
                .int("t", if f.alloc_id.is_some() { -1 } else { i64::try_from(f.trade_id).unwrap_or(i64::MAX) })
                .int("I", i64::try_from(self.rng.next_u64() >> 16).unwrap_or(0))
                .bool("w", o.is_open() && o.working.is_some())
                .bool("m", maker)
                .bool("M", true),
            None => e
                .dec("l", Decimal::ZERO)
                .dec("z", o.executed)
                .dec("L", Decimal::ZERO)
                .str("n", "0")
                .null("N")
                .int("T", now)
                .int("t", -1),
        };
        if fill.is_none() {
            if let Some(v) = o.prevented_match.filter(|_| exec == "TRADE_PREVENTION") {
                e = e.int("v", i64::try_from(v).unwrap_or(i64::MAX));
            }
            e = e
                .int("I", i64::try_from(self.rng.next_u64() >> 16).unwrap_or(0))
                .bool("w", o.is_open() && o.working.is_some())
                .bool("m", false)
                .bool("M", false);
        }
        e = e.int("O", o.time).dec("Z", o.cum_quote);
        e = match fill {
            Some((f, _)) => e.dec("Y", f.price.checked_mul(f.qty).unwrap_or(Decimal::MAX)),
            None => e.dec("Y", Decimal::ZERO),
        };
        e = e.dec("Q", o.quote_qty);
        if let Some(d) = o.trailing {
            e = e.int("d", i64::try_from(d).unwrap_or(i64::MAX));
            if let Some((_, since)) = o.extreme {
                e = e.int("D", since);
            }
        }
        if let Some(w) = o.working {
            e = e.int("W", w);
        }
        if let Some((Some(alloc), _)) = fill.map(|(f, m)| (f.alloc_id, m)) {
            e = e.str("b", "ONE_PARTY_TRADE_REPORT").int("a", i64::try_from(alloc).unwrap_or(i64::MAX));
        }
        if o.sor.is_some() {
            e = e.str("k", if o.sor == Some(true) { "SOR" } else { "EXCHANGE" }).bool("uS", true);
        }
        e = o.peg_fields(e.str("V", o.stp.as_str()), ["gP", "gOT", "gOV", "gp"]);
        if exec == "TRADE_PREVENTION"
            && let Some((last, counter, price)) = o.last_prevention
        {
            e = e
                .dec("A", o.prevented)
                .dec("B", last)
                .int("u", self.trade_group())
                .int("U", i64::try_from(counter).unwrap_or(i64::MAX))
                .str("Cs", &o.symbol)
                .dec("pl", last)
                .dec("pL", price)
                .dec("pY", price.checked_mul(last).unwrap_or_default());
        }
        let event = e.finish();
        self.push_event(event);
    }

    /// Applies one fill of order `id` at `price` for `qty`: moves the money, records the trade,
    /// reports it. `None` if the order is gone.
    /// `completes`: this fill satisfies the order (a `quoteOrderQty` order has no quantity to
    /// reach).
    /// `venue`: a fill by SOR allocation from that symbol's book (no trade of the account's:
    /// an allocation, listed by `myAllocations`; the trade is public on `venue`).
    #[allow(clippy::too_many_arguments)]
    fn fill(
        &mut self,
        now: i64,
        id: u64,
        price: Decimal,
        qty: Decimal,
        maker: bool,
        completes: bool,
        venue: Option<&str>,
    ) -> Option<FillRecord> {
        let rate = if maker { self.config.maker_commission } else { self.config.taker_commission };
        let o = self.orders.get_mut(&id)?;
        let notional = price.checked_mul(qty)?;
        // What this fill takes out of the order's lock.
        let from_lock = match o.side {
            Side::Buy if o.price.is_zero() => notional,
            Side::Buy => o.price.checked_mul(qty)?,
            _ => qty,
        }
        .min(o.lock);
        o.lock -= from_lock;
        o.executed = o.executed.saturating_add(qty);
        o.cum_quote = o.cum_quote.saturating_add(notional);
        o.update = now;
        let first_trade = !o.traded;
        o.traded = true;
        let (side, symbol, base, quote, order_id) =
            (o.side.clone(), o.symbol.clone(), o.base.clone(), o.quote.clone(), o.id);
        // The commission: in the configured asset when it can be paid that way, else out of
        // what the fill brings in (SPEC §6.8).
        let standard_in_quote =
            if side == Side::Buy { qty.checked_mul(rate)?.checked_mul(price)? } else { notional.checked_mul(rate)? };
        let elsewhere = self.commission_in_asset(&base, &quote, price, standard_in_quote);
        let (commission, commission_asset) = match &elsewhere {
            Some((asset, amount)) => (*amount, asset.clone()),
            None if side == Side::Buy => (round8(qty * rate), base.clone()),
            None => (round8(notional * rate), quote.clone()),
        };
        let from_received = if elsewhere.is_some() { Decimal::ZERO } else { commission };
        if side == Side::Buy {
            let q = self.balances.entry(quote.clone()).or_default();
            q.locked -= from_lock;
            q.free = q.free.saturating_add(from_lock - notional);
            let b = self.balances.entry(base.clone()).or_default();
            b.free = b.free.saturating_add(qty - from_received);
        } else {
            self.balances.entry(base.clone()).or_default().locked -= from_lock;
            let q = self.balances.entry(quote.clone()).or_default();
            q.free = q.free.saturating_add(notional - from_received);
        }
        if let Some((asset, amount)) = elsewhere {
            self.balances.entry(asset).or_default().free -= amount;
        }
        if side == Side::Buy {
            self.lock_received(id, qty, from_received);
        }
        let market = venue.unwrap_or(&symbol);
        let trade_id =
            self.markets.get_mut(market).map_or(0, |m| m.record_trade(now, price, qty, (side == Side::Buy) == maker));
        if first_trade {
            self.throttle.order_traded(now);
        }
        if venue.is_some() {
            let alloc_id = self.next_allocation;
            self.next_allocation += 1;
            keep_last(
                &mut self.allocations,
                MyTrade {
                    symbol,
                    id: alloc_id,
                    order_id,
                    price,
                    qty,
                    quote_qty: notional,
                    commission,
                    commission_asset: commission_asset.clone(),
                    time: now,
                    is_buyer: side == Side::Buy,
                    is_maker: false,
                },
            );
            let record = FillRecord { price, qty, commission, commission_asset, trade_id: 0, alloc_id: Some(alloc_id) };
            return Some(self.after_fill(now, id, completes, maker, record));
        }
        keep_last(
            &mut self.my_trades,
            MyTrade {
                symbol,
                id: trade_id,
                order_id,
                price,
                qty,
                quote_qty: notional,
                commission,
                commission_asset: commission_asset.clone(),
                time: now,
                is_buyer: side == Side::Buy,
                is_maker: maker,
            },
        );
        let record = FillRecord { price, qty, commission, commission_asset, trade_id, alloc_id: None };
        Some(self.after_fill(now, id, completes, maker, record))
    }

    /// What follows each fill of order `id`: its status, its report, its list.
    fn after_fill(&mut self, now: i64, id: u64, completes: bool, maker: bool, record: FillRecord) -> FillRecord {
        if let Some(o) = self.orders.get_mut(&id) {
            let done = completes || (!o.qty.is_zero() && o.executed >= o.qty);
            o.status = if done { OrderStatus::Filled } else { OrderStatus::PartiallyFilled };
            if record.alloc_id.is_some() {
                o.sor = Some(true);
            }
        }
        self.execution_report(now, id, "TRADE", Some((&record, maker)), None);
        // A list's leg that trades: the other legs expire.
        self.list_leg_active(now, id);
        record
    }

    /// The symbols of `symbol`'s SOR group (itself included), if it is in one.
    fn sor_group(&self, symbol: &str) -> Option<Vec<String>> {
        let groups = self.config.exchange_info.sors();
        groups.iter().find(|g| g.symbols.iter().any(|s| s == symbol)).map(|g| g.symbols.clone())
    }

    /// SOR's plan for a taker on `symbol`: the best levels across its group's books (its own
    /// included; the best price first, ties in the group's order), within `limit`, up to `qty`:
    /// (price, venue, quantity) and whether `qty` was reached.
    fn sor_plan(
        &self,
        symbol: &str,
        side: &Side,
        limit: Option<Decimal>,
        qty: Decimal,
    ) -> (Vec<(Decimal, String, Decimal)>, bool) {
        let group = self.sor_group(symbol).unwrap_or_else(|| vec![symbol.to_owned()]);
        let mut levels: Vec<(Decimal, String, Decimal)> = Vec::new();
        for venue in &group {
            if let Some(m) = self.markets.get(venue) {
                let book = if *side == Side::Buy { &m.asks } else { &m.bids };
                levels.extend(book.iter().map(|l| (l.price, venue.clone(), l.qty)));
            }
        }
        levels.sort_by(|a, b| if *side == Side::Buy { a.0.cmp(&b.0) } else { b.0.cmp(&a.0) });
        let mut left = qty;
        let mut steps = Vec::new();
        for (price, venue, available) in levels {
            let crosses = match limit {
                None => true,
                Some(p) if *side == Side::Buy => price <= p,
                Some(p) => price >= p,
            };
            if left.is_zero() || !crosses {
                break;
            }
            let take = available.min(left);
            left -= take;
            steps.push((price, venue, take));
        }
        (steps, left.is_zero())
    }

    /// SOR's taker phase for order `id`: [`sor_plan`](Self::sor_plan)'s levels taken, each as
    /// an allocation paid and received in the order's own assets. Returns the fills and whether
    /// its quantity was reached.
    fn route(&mut self, now: i64, id: u64) -> (Vec<FillRecord>, bool) {
        let Some(o) = self.orders.get(&id).filter(|o| o.is_open()) else { return (Vec::new(), false) };
        let (symbol, side) = (o.symbol.clone(), o.side.clone());
        let limit = (!o.price.is_zero()).then_some(o.price);
        let (steps, satisfied) = self.sor_plan(&symbol, &side, limit, o.remaining());
        let mut fills = Vec::new();
        let last = steps.len();
        for (i, (price, venue, qty)) in steps.into_iter().enumerate() {
            self.consume(&venue, &side, &[(price, qty)]);
            let completes = satisfied && i + 1 == last;
            if let Some(f) = self.fill(now, id, price, qty, false, completes, Some(&venue)) {
                fills.push(f);
            }
        }
        (fills, satisfied)
    }

    /// The commission `standard_in_quote` (valued in `quote`) paid in the configured commission
    /// asset instead: (asset, amount), if one is configured, priced and affordable.
    fn commission_in_asset(
        &self,
        base: &str,
        quote: &str,
        price: Decimal,
        standard_in_quote: Decimal,
    ) -> Option<(String, Decimal)> {
        let asset = self.config.commission_asset.as_deref()?;
        let asset_price = if asset == quote {
            Decimal::ONE
        } else if asset == base {
            price
        } else {
            self.markets.get(&format!("{asset}{quote}")).and_then(Market::last_price)?
        };
        let converted = standard_in_quote.checked_div(asset_price)?;
        let amount = round8(converted.checked_mul(self.config.commission_asset_discount)?);
        (self.balance(asset).free >= amount).then(|| (asset.to_owned(), amount))
    }

    /// The levels a taker order of `side` would take: up to `limit` (a price), for `qty` base or
    /// `quote` quote. Returns the (price, qty) steps and whether the order would be satisfied.
    fn plan(
        &self,
        symbol: &str,
        side: &Side,
        limit: Option<Decimal>,
        qty: Option<Decimal>,
        quote: Option<Decimal>,
    ) -> (Vec<(Decimal, Decimal)>, bool) {
        let Some(m) = self.markets.get(symbol) else { return (Vec::new(), false) };
        let levels = if *side == Side::Buy { &m.asks } else { &m.bids };
        let mut steps = Vec::new();
        let mut left_qty = qty.unwrap_or(Decimal::MAX);
        let mut left_quote = quote.unwrap_or(Decimal::MAX);
        let mut satisfied = false;
        for l in levels {
            let crosses = match limit {
                None => true,
                Some(p) if *side == Side::Buy => l.price <= p,
                Some(p) => l.price >= p,
            };
            if !crosses {
                break;
            }
            let mut take = l.qty.min(left_qty);
            let mut spent = false;
            if quote.is_some() {
                let affordable = left_quote.checked_div(l.price).unwrap_or_default();
                let affordable = round_to_step(affordable, m.step, Rounding::Down).unwrap_or_default();
                if affordable < take {
                    take = affordable;
                    spent = true;
                }
            }
            if take > Decimal::ZERO {
                steps.push((l.price, take));
                left_qty -= take;
                left_quote = left_quote.saturating_sub(l.price.checked_mul(take).unwrap_or(Decimal::MAX));
            }
            if left_qty.is_zero() || spent {
                satisfied = true;
                break;
            }
        }
        (steps, satisfied)
    }

    /// Takes the planned levels out of the book.
    fn consume(&mut self, symbol: &str, side: &Side, steps: &[(Decimal, Decimal)]) {
        let Some(m) = self.markets.get_mut(symbol) else { return };
        let levels = if *side == Side::Buy { &mut m.asks } else { &mut m.bids };
        for (price, qty) in steps {
            if let Some(l) = levels.iter_mut().find(|l| l.price == *price) {
                l.qty -= *qty;
            }
        }
        levels.retain(|l| l.qty > Decimal::ZERO);
        m.update_id = m.update_id.saturating_add(1);
    }

    /// The price a pegged order on `symbol` takes from the book now: the best price (`levels`
    /// deeper) on its own side (`PRIMARY_PEG`) or on the other side (`MARKET_PEG`), the
    /// account's resting orders (other than `except`) included. `None`: the book has no such
    /// level.
    fn peg_price(&self, symbol: &str, side: &Side, peg: &Peg, except: Option<u64>) -> Option<Decimal> {
        let m = self.markets.get(symbol)?;
        let bids = match peg.kind {
            PegPriceType::PrimaryPeg => *side == Side::Buy,
            PegPriceType::MarketPeg => *side == Side::Sell,
            _ => return None,
        };
        let (levels, book_side) = if bids { (&m.bids, Side::Buy) } else { (&m.asks, Side::Sell) };
        let mut prices: Vec<Decimal> = levels.iter().map(|l| l.price).collect();
        prices.extend(
            self.open
                .iter()
                .filter_map(|id| self.orders.get(id))
                .filter(|o| {
                    o.symbol == symbol
                        && o.side == book_side
                        && o.is_open()
                        && o.working.is_some()
                        && !o.price.is_zero()
                        && Some(o.id) != except
                })
                .map(|o| o.price),
        );
        prices.sort_unstable();
        prices.dedup();
        if bids {
            prices.reverse();
        }
        prices.get(usize::from(peg.offset.unwrap_or(0))).copied()
    }

    /// Runs order `id` as a taker against the book now; returns its fills and whether its
    /// quantity was reached. The account's own resting orders are in the book at their prices
    /// (behind the market's liquidity at the same price): meeting one is a self-trade, which the
    /// taker's self-trade prevention mode decides ([`meet_own`](Self::meet_own)).
    fn take(&mut self, now: i64, id: u64) -> (Vec<FillRecord>, bool) {
        let mut fills = Vec::new();
        loop {
            let Some(o) = self.orders.get(&id).filter(|o| o.is_open()) else { return (fills, false) };
            let limit = (!o.price.is_zero()).then_some(o.price);
            let by_quote = o.qty.is_zero() && !o.quote_qty.is_zero();
            let (qty, quote) =
                if by_quote { (None, Some(o.quote_qty - o.cum_quote)) } else { (Some(o.remaining()), None) };
            let (symbol, side) = (o.symbol.clone(), o.side.clone());
            let own = self.group_maker(id);
            let bound = own.as_ref().map_or(limit, |(_, price)| Some(*price));
            let (steps, satisfied) = self.plan(&symbol, &side, bound, qty, quote);
            self.consume(&symbol, &side, &steps);
            let last = steps.len();
            for (i, (price, q)) in steps.into_iter().enumerate() {
                if let Some(f) = self.fill(now, id, price, q, false, satisfied && i + 1 == last, None) {
                    fills.push(f);
                }
            }
            if satisfied {
                return (fills, true);
            }
            let Some((maker, price)) = own else { return (fills, false) };
            let after = match maker {
                group::Maker::Own(maker) => self.meet_own(now, id, maker, price, &mut fills),
                group::Maker::Sibling(maker) => self.meet_sibling(now, id, maker, price, &mut fills),
            };
            match after {
                AfterOwn::Continue => {}
                AfterOwn::Done { satisfied } => return (fills, satisfied),
            }
        }
    }

    /// The best resting order of the account or of its trade group's other account that taker
    /// `id` would meet (the better price, then the older).
    fn group_maker(&self, id: u64) -> Option<(group::Maker, Decimal)> {
        let own = self.own_maker(id);
        let sibling = self.sibling_maker(id);
        let buy = self.orders.get(&id).is_some_and(|t| t.side == Side::Buy);
        match (own, sibling) {
            (Some((o, p)), Some((s, sp, st))) => {
                let own_time = self.orders.get(&o).map_or(i64::MAX, |m| m.time);
                let sibling_first = if buy { sp < p } else { sp > p } || (sp == p && st < own_time);
                Some(if sibling_first { (group::Maker::Sibling(s), sp) } else { (group::Maker::Own(o), p) })
            }
            (Some((o, p)), None) => Some((group::Maker::Own(o), p)),
            (None, Some((s, sp, _))) => Some((group::Maker::Sibling(s), sp)),
            (None, None) => None,
        }
    }

    /// What of taker `taker` could trade at `price`: its quantity, or what its quote buys
    /// (`true`: it is by quote).
    fn taker_left(&self, taker: u64, price: Decimal) -> (bool, Decimal) {
        let Some(t) = self.orders.get(&taker) else { return (false, Decimal::ZERO) };
        let by_quote = t.qty.is_zero() && !t.quote_qty.is_zero();
        let step = self.markets.get(&t.symbol).map_or(Decimal::ZERO, |mk| mk.step);
        let left = if by_quote {
            let affordable = (t.quote_qty - t.cum_quote).checked_div(price).unwrap_or_default();
            round_to_step(affordable, step, Rounding::Down).unwrap_or_default()
        } else {
            t.remaining()
        };
        (by_quote, left)
    }

    /// The account's best resting order a taker `id` would meet: opposite side, on the book,
    /// at a price its limit reaches (the best price first, then the oldest).
    fn own_maker(&self, id: u64) -> Option<(u64, Decimal)> {
        let t = self.orders.get(&id)?;
        let limit = (!t.price.is_zero()).then_some(t.price);
        self.open
            .iter()
            .filter_map(|m| self.orders.get(m))
            .filter(|m| {
                m.id != id
                    && m.symbol == t.symbol
                    && m.side != t.side
                    && m.is_open()
                    && m.working.is_some()
                    && !m.price.is_zero()
                    && m.remaining() > Decimal::ZERO
                    && match (limit, &t.side) {
                        (None, _) => true,
                        (Some(l), Side::Buy) => m.price <= l,
                        (Some(l), _) => m.price >= l,
                    }
            })
            .min_by(|a, b| {
                let by_price = if t.side == Side::Buy { a.price.cmp(&b.price) } else { b.price.cmp(&a.price) };
                by_price.then(a.time.cmp(&b.time)).then(a.id.cmp(&b.id))
            })
            .map(|m| (m.id, m.price))
    }

    /// Taker `taker` meets the account's own resting order `maker` at `price`. The taker's
    /// self-trade prevention mode decides (`TRANSFER` only when both say it, else
    /// `DECREMENT`; between orders of one account `TRANSFER` is `DECREMENT`): `NONE` trades,
    /// `EXPIRE_TAKER` / `EXPIRE_MAKER` / `EXPIRE_BOTH` expire the remaining quantity of that
    /// side (`EXPIRED_IN_MATCH`), `DECREMENT` takes the smaller remaining quantity from both and
    /// expires the order(s) left with nothing. Each prevention is recorded for
    /// `myPreventedMatches` and reported (`TRADE_PREVENTION`).
    fn meet_own(&mut self, now: i64, taker: u64, maker: u64, price: Decimal, fills: &mut Vec<FillRecord>) -> AfterOwn {
        let (Some(t), Some(m)) = (self.orders.get(&taker), self.orders.get(&maker)) else {
            return AfterOwn::Done { satisfied: false };
        };
        let mode = group::mode(&t.stp, &m.stp);
        let maker_left = m.remaining();
        let symbol = t.symbol.clone();
        let (by_quote, taker_left) = self.taker_left(taker, price);
        if taker_left.is_zero() {
            return AfterOwn::Done { satisfied: by_quote };
        }
        let both = taker_left.min(maker_left);
        let Some((taker_qty, maker_qty)) = group::prevented(&mode, taker_left, maker_left) else {
            // A trade between two orders of the account.
            let done = both == taker_left;
            if let Some(f) = self.fill(now, taker, price, both, false, done && by_quote, None) {
                fills.push(f);
            }
            self.fill(now, maker, price, both, true, false, None);
            if self.orders.get(&maker).is_some_and(|o| o.status == OrderStatus::Filled) {
                self.close(maker);
            }
            return if done { AfterOwn::Done { satisfied: true } } else { AfterOwn::Continue };
        };
        let match_id = self.record_prevention(now, symbol, taker, maker, mode, price, taker_qty, maker_qty);
        if let Some(q) = maker_qty {
            self.prevent(now, maker, taker, match_id, price, q, q == maker_left);
        }
        if let Some(q) = taker_qty {
            self.prevent(now, taker, maker, match_id, price, q, q == taker_left);
        }
        match self.orders.get(&taker) {
            Some(o) if o.is_open() => AfterOwn::Continue,
            _ => AfterOwn::Done { satisfied: false },
        }
    }

    /// Self-trade prevention takes `qty` of order `id` (the other order: `counter`): it no
    /// longer trades, its lock for it goes back to free; `ends`: nothing is left, the order
    /// ends `EXPIRED_IN_MATCH`. Reported as `TRADE_PREVENTION`.
    #[allow(clippy::too_many_arguments, reason = "one prevention's facts, as the report carries them")]
    fn prevent(&mut self, now: i64, id: u64, counter: u64, match_id: u64, price: Decimal, qty: Decimal, ends: bool) {
        let Some(o) = self.orders.get_mut(&id) else { return };
        o.prevented = o.prevented.saturating_add(qty);
        o.prevented_match = Some(match_id);
        o.last_prevention = Some((qty, counter, price));
        o.update = now;
        if ends {
            // A list's leg (not an OTO's working order) that prevention expires ends its list:
            // the other legs expire, as when one trades.
            self.list_leg_active(now, id);
            self.end_order(now, id, OrderStatus::ExpiredInMatch, "TRADE_PREVENTION", None);
            return;
        }
        // What the prevented quantity held: its limit price's worth for a buy, itself for a sell
        // (a list's leg keeps its lock: it is the list's, and the other legs may still trade it).
        let release = match o.side {
            _ if o.list.is_some() => Decimal::ZERO,
            Side::Buy => o.price.checked_mul(qty).unwrap_or_default(),
            _ => qty,
        }
        .min(o.lock);
        o.lock -= release;
        let asset = o.locked_asset().to_owned();
        let b = self.balances.entry(asset).or_default();
        b.locked -= release;
        b.free += release;
        self.execution_report(now, id, "TRADE_PREVENTION", None, None);
    }

    /// Fills resting orders the market now crosses (as makers, at their price) and triggers
    /// stops the last price has passed.
    fn match_resting(&mut self, now: i64, symbol: &str) {
        let ids: Vec<u64> =
            self.open.iter().copied().filter(|id| self.orders.get(id).is_some_and(|o| o.symbol == symbol)).collect();
        let last = self.markets.get(symbol).and_then(Market::last_price);
        let mut touched: Vec<String> = Vec::new();
        for id in ids {
            // A list's leg expired by its sibling earlier in this pass.
            let Some(o) = self.orders.get(&id).filter(|o| o.is_open()) else { continue };
            if o.working.is_none() {
                let Some(last) = last else { continue };
                let assets = [o.base.clone(), o.quote.clone()];
                if !self.stop_due(now, id, last) {
                    continue;
                }
                touched.extend(assets);
                self.trigger(now, id);
                continue;
            }
            let (side, price, remaining) = (o.side.clone(), o.price, o.remaining());
            if price.is_zero() || remaining.is_zero() {
                continue;
            }
            let (steps, _) = self.plan(symbol, &side, Some(price), Some(remaining), None);
            let qty: Decimal = steps.iter().map(|s| s.1).sum();
            if qty.is_zero() {
                continue;
            }
            touched.extend([o.base.clone(), o.quote.clone()]);
            self.consume(symbol, &side, &steps);
            self.fill(now, id, price, qty, true, false, None);
            if self.orders.get(&id).is_some_and(|o| o.status == OrderStatus::Filled) {
                self.close(id);
            }
        }
        if !touched.is_empty() {
            let assets: Vec<&str> = touched.iter().map(String::as_str).collect();
            self.account_position(now, &assets);
        }
    }

    /// Whether stop order `id` triggers at the last price `last`. A plain stop: its stop price
    /// reached. A trailing stop (Binance's trailing stop FAQ) starts tracking once its stop
    /// price is reached (without one: at the first price it sees), then follows the lowest
    /// (buy) or highest (sell) last price and triggers on a move of `trailingDelta` BIPS back
    /// from it.
    fn stop_due(&mut self, now: i64, id: u64, last: Decimal) -> bool {
        let Some(o) = self.orders.get_mut(&id) else { return false };
        let Some(delta) = o.trailing else { return stop_triggered(&o.kind, &o.side, o.stop, last) };
        let Some((extreme, since)) = o.extreme else {
            if o.stop.is_zero() || stop_triggered(&o.kind, &o.side, o.stop, last) {
                o.extreme = Some((last, now));
            }
            return false;
        };
        // A delta beyond any price's range never triggers (no symbol's filter lets one through).
        let bips = Decimal::from(delta) / Decimal::from(10_000);
        if o.side == Side::Buy {
            let low = extreme.min(last);
            o.extreme = Some((low, since));
            low.checked_mul(Decimal::ONE + bips).is_some_and(|at| last >= at)
        } else {
            let high = extreme.max(last);
            o.extreme = Some((high, since));
            high.checked_mul(Decimal::ONE - bips).is_some_and(|at| last <= at)
        }
    }

    /// A stop whose price was reached: it goes to work as a LIMIT or MARKET order.
    fn trigger(&mut self, now: i64, id: u64) {
        // A list's leg that triggers: the other legs expire and this one takes the lock.
        self.list_leg_active(now, id);
        let Some(o) = self.orders.get(&id) else { return };
        // A pegged stop-limit takes its price from the book now (and locks by it).
        if let Some(peg) = o.peg.clone().filter(|_| o.price.is_zero()) {
            let (symbol, side) = (o.symbol.clone(), o.side.clone());
            let Some(price) = self.peg_price(&symbol, &side, &peg, Some(id)) else {
                self.end_order(now, id, OrderStatus::Expired, "EXPIRED", None);
                return;
            };
            if !self.relock_pegged(id, price) {
                self.end_order(now, id, OrderStatus::Expired, "EXPIRED", None);
                return;
            }
        }
        let Some(o) = self.orders.get_mut(&id) else { return };
        o.working = Some(now);
        let market = o.price.is_zero();
        if market && o.side == Side::Buy {
            // A triggered stop-market buy pays what the book asks; lock it now.
            let (symbol, qty) = (o.symbol.clone(), o.remaining());
            let (steps, _) = self.plan(&symbol, &Side::Buy, None, Some(qty), None);
            let cost = notional_of(&steps);
            let quote = self.orders.get(&id).map(|o| o.quote.clone()).unwrap_or_default();
            let b = self.balances.entry(quote).or_default();
            if b.free < cost {
                self.end_order(now, id, OrderStatus::Expired, "EXPIRED", None);
                return;
            }
            b.free -= cost;
            b.locked += cost;
            if let Some(o) = self.orders.get_mut(&id) {
                o.lock = cost;
            }
        }
        let (_, satisfied) = self.take(now, id);
        let Some(o) = self.orders.get(&id) else { return };
        if o.status == OrderStatus::Filled {
            self.close(id);
        } else if o.is_open() && (market || (o.tif != TimeInForce::Gtc && !satisfied)) {
            self.end_order(now, id, OrderStatus::Expired, "EXPIRED", None);
        }
    }
}

impl PaperExchange {
    /// Pegged order `id` takes `price`: a buy's lock becomes `price` times what it has left
    /// (false, nothing changed: the free balance cannot pay the difference).
    fn relock_pegged(&mut self, id: u64, price: Decimal) -> bool {
        let Some(o) = self.orders.get(&id) else { return false };
        let (asset, held) = (o.locked_asset().to_owned(), o.lock);
        let needed = if o.side == Side::Buy { price.checked_mul(o.remaining()) } else { Some(held) };
        let Some(needed) = needed else { return false };
        let b = self.balances.entry(asset).or_default();
        if needed > held && b.free < needed - held {
            return false;
        }
        b.free = b.free + held - needed;
        b.locked = b.locked - held + needed;
        if let Some(o) = self.orders.get_mut(&id) {
            o.price = price;
            o.lock = needed;
        }
        true
    }
}

/// What the steps of a plan cost in quote (saturating: a cost beyond Decimal's range is more
/// than any balance).
fn notional_of(steps: &[(Decimal, Decimal)]) -> Decimal {
    steps.iter().fold(Decimal::ZERO, |sum, (p, q)| sum.saturating_add(p.checked_mul(*q).unwrap_or(Decimal::MAX)))
}

/// Whether a stop order's trigger is reached at `last` (SPEC §6.1 trigger sides).
fn stop_triggered(kind: &OrderType, side: &Side, stop: Decimal, last: Decimal) -> bool {
    let rises = matches!(
        (kind, side),
        (OrderType::StopLoss | OrderType::StopLossLimit, Side::Buy)
            | (OrderType::TakeProfit | OrderType::TakeProfitLimit, Side::Sell)
    );
    if rises { last >= stop } else { last <= stop }
}
