#![doc = include_str!("../README.md")]
//!
//! # Driving the engine yourself
//!
//! The engine is a state machine: feed it inputs (`submit`, `cancel`, `handle_http_response`,
//! `handle_ws_frame`, `handle_timeout`), then drain [`Engine::poll_output`] until it
//! yields [`Output::Timeout`], and call `handle_timeout` at that instant if nothing else
//! came first. A spurious timeout is a no-op. Here the network is the paper exchange (the
//! `aegis-paper` crate), in process:
//!
//! ```
//! use aegis_exchange::{Engine, EngineConfig, Event, HttpResult, Intent, Output};
//! use aegis_exchange::OrderState;
//! use aegis_paper::{Delivery, PaperConfig, PaperExchange, PaperKey, WsOut};
//! use aegis_exchange::rest::Environment;
//! use aegis_exchange::sign::{Credentials, HmacSha256};
//! use aegis_exchange::{ExchangeInfo, OrderRequest, Side, BUNDLED_EXCHANGE_INFO};
//! use rust_decimal_macros::dec;
//!
//! let mut now = 1_760_000_000_000;
//! let mut exchange = PaperExchange::new(PaperConfig::default().with_price("BTCUSDT", dec!(65000)), now);
//! exchange.add_api_key("key", PaperKey::hmac("secret"));
//! exchange.deposit(now, "USDT", dec!(10000));
//! let user_data = exchange.ws_connect(now, "/ws-api/v3").unwrap();
//!
//! let creds = Credentials::new("key", HmacSha256::new("secret")).unwrap();
//! let info = ExchangeInfo::from_json(BUNDLED_EXCHANGE_INFO).unwrap();
//! let mut engine = Engine::new(EngineConfig::new(Environment::Testnet, creds), info);
//! engine.start(now); // time, rules, balances, open orders
//! engine.handle_ws_open(now); // the user-data subscription goes out through the gate
//!
//! let mut order = None;
//! for _ in 0..100 {
//!     // 1. Drain the outputs: requests to send, frames, events, then the next timeout.
//!     let wake_at = loop {
//!         match engine.poll_output() {
//!             Output::Http { id, request } => {
//!                 let result = match exchange.deliver(now, request) {
//!                     Delivery::Answer { response, .. } => HttpResult::Response(response),
//!                     _ => HttpResult::Unanswered,
//!                 };
//!                 engine.handle_http_response(now, id, result);
//!             }
//!             Output::Ws { text } => exchange.ws_send(now, user_data, &text),
//!             // Open (or replace, or close) the user-data connection: opened above already.
//!             Output::WsConnect | Output::WsClose(_) => {}
//!             Output::Event(Event::Order(update)) => println!("{} is {}", update.client_order_id, update.state),
//!             Output::Event(_) => {}
//!             Output::Timeout(at) => break at,
//!         }
//!     };
//!     // 2. Inputs: user-data frames, the strategy's intents, time.
//!     while let Some(WsOut::Text(frame)) = exchange.ws_poll(user_data) {
//!         engine.handle_ws_frame(now, frame.as_bytes());
//!     }
//!     if order.is_none() && !engine.is_starting() {
//!         let buy = OrderRequest::limit("BTCUSDT", Side::Buy, dec!(0.01), dec!(64000));
//!         order = Some(engine.submit(now, Intent::new(buy)).unwrap());
//!         continue;
//!     }
//!     now = wake_at.min(now + 100);
//!     exchange.advance(now);
//!     engine.handle_timeout(now);
//! }
//! let order = order.unwrap();
//! assert_eq!(engine.order_state(&order), Some(OrderState::New));
//! assert_eq!(engine.ledger().balance_of("USDT").unwrap().locked, dec!(640));
//! assert_eq!(engine.ledger().balance_of("USDT").unwrap(), exchange.balance("USDT"));
//! ```
//!
//! # What each module owns
//!
//! The core's modules are private; their public items are re-exported at the crate root (the
//! table names the module in `src/` and its main types). The wire, I/O and a few low-level
//! helpers are namespaces.
//!
//! | module | owns | may touch |
//! | --- | --- | --- |
//! | `model`, [`num`] | order types ([`OrderRequest`], [`ClientOrderId`], the enums); strict decimals | nothing else |
//! | `rules` | [`ExchangeInfo`], every filter, `normalize` / `validate` ([`SymbolRules`], [`ValidatedOrder`]) | `model`, `num` |
//! | [`sign`], `clock` | keys and signatures ([`Credentials`]); the server-time offset ([`TimeSync`], [`LocalMs`] / [`ServerMs`]) | nothing else |
//! | [`rest`], [`ws_api`] | the wire: request builders (with their costs), response and event types, their conversions to the tracker's [`OrderReport`] / [`OrderTrade`] | `sign`, `rules`, `orders`' input types |
//! | [`limits`] | the rate-limit counts, holds and bans ([`RateLimiter`], [`RetryPolicy`]) | nothing else: only the engine's gate admits, only answers observe |
//! | `ledger` | free / locked balances, reservations, the journal ([`Ledger`]) | nothing else; written by `orders` and the engine's reconciliation only, read through [`LedgerView`] |
//! | `orders` | every order's state, its reservation, the `-2013` rule ([`Orders`]) | `ledger` |
//! | `conn` | the user-data connection's timers: idle, renewal, back-off, make-before-break ([`Connection`]) | nothing else |
//! | `engine` | [`Engine`]: the one exit (`gate.rs`), answers (`answers.rs`), start-up (`startup.rs`), reconciliation and kill switch (`supervision.rs`) | everything above, no I/O |
//! | [`stream`], `book`, [`ring`] | market data decoding and sanitising, local books ([`OrderBook`], [`BookSync`]), bounded buffers | `model`, `num` |
//! | `transport`, `client` | I/O: HTTP and WebSocket backends, the async driver (features `client`, `hyper`, `reqwest`, `tungstenite`) | the engine through its inputs and outputs only |
//! | `aegis-paper` (its own crate, `paper/`) | the simulated exchange and the `aegis-paper` command | this crate's public API only (a client of it, like a test); a dev-dependency, never compiled for a library user |
//!
//! The core is sans-IO: it never reads a clock, never spawns, never touches a socket. Time and
//! seeds are inputs, which is what lets every failure scenario be replayed exactly.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]
#![warn(missing_debug_implementations, unreachable_pub)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing))]

// The core, private, its public items re-exported flat below.
mod book;
mod clock;
mod conn;
mod decode;
mod engine;
mod fast_hash;
mod ledger;
mod model;
mod orders;
mod rules;
mod scan;

// The namespaces: the wire (`rest`, `ws_api`, `stream`), I/O (`transport`, `client`) and the
// low-level helpers whose names only read well inside their module (`num`, `sign`, `limits`,
// `ring`). The simulated exchange is the `aegis-paper` crate.
#[cfg(feature = "client")]
pub mod client;
pub mod limits;
pub mod num;
pub mod rest;
pub mod ring;
pub mod sign;
pub mod stream;
#[cfg(feature = "client")]
pub mod transport;
pub mod ws_api;

pub use book::{BookApplied, BookError, BookSync, OrderBook};
pub use clock::{
    Clock, LocalMs, ManualClock, RecvWindow, RecvWindowError, ServerMs, SystemClock, TimeSample, TimeSync,
    TimeSyncConfig, TimeUnit,
};
pub use conn::{Backoff, CloseReason, ConnAction, ConnStats, Connection, ConnectionConfig};
pub use decode::DecodeError;
pub use engine::{
    AmendError, Engine, EngineConfig, Event, FrameCounts, FrameIgnored, HoldReason, HttpResult, Intent, KillReason,
    NotSentReason, OrderChannel, Output, Purpose, RequestId, SorRefusal, SubmitError, TestOutcome, UserStreamStatus,
};
pub use ledger::{
    AssetId, Balance, Difference, Execution, JournalEntry, JournalHook, JournalOp, Ledger, LedgerConfig, LedgerError,
    LedgerView, Reservation,
};
pub use limits::{LimiterConfig, RateLimiter, RetryPolicy};
pub use model::{
    CLIENT_ORDER_ID_MAX_LEN, CLIENT_ORDER_ID_MAX_PREFIX, ClientOrderId, ClientOrderIdError, ClientOrderIdGenerator,
    ExecutionType, InlineStr, ListLeg, ListRequest, MAX_PEG_OFFSET_LEVELS, MIN_STRATEGY_TYPE, OcoRequest, OrderError,
    OrderRequest, OrderResponseType, OrderStatus, OrderType, OtoKind, OtoRequest, PegPriceType, PendingLegs,
    RateLimitInterval, RateLimitType, SelfTradePreventionMode, Side, SymbolStatus, TimeInForce,
};
pub use num::{NumError, Rounding};
pub use orders::{
    OpenOrder, OrderAction, OrderApplied, OrderReport, OrderState, OrderTrade, OrderUpdate, OrderView, Orders,
    OrdersConfig, OrdersError, Prevention, Submit, SubmitList, SymbolPolicy, fill_key, lock_amount, oco_lock_amount,
};
pub use rules::{
    BUNDLED_EXCHANGE_INFO, ExchangeInfo, Filter, FilterError, FilterKind, MalformedSymbol, MarketContext,
    NormalizeOptions, RateLimit, SYMBOL_FIELDS, Sor, SymbolRules, UNNAMED_FILTER, ValidatedList, ValidatedOco,
    ValidatedOrder, Violation,
};
/// The decimal type used for every price, quantity, notional and balance.
pub use rust_decimal::Decimal;
pub use sign::{Credentials, Ed25519, HmacSha256, KeyKind, SignError, Signer};
