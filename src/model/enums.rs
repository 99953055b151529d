//! Binance's enumerations with their wire names.
//!
//! Every enum decodes an unknown wire value to `Unknown(String)` instead of failing: Binance adds
//! values (order statuses, STP modes, symbol statuses) and a new one must not take a trading
//! program down. Encoding an `Unknown` writes the original text back.

/// A wire enum stored as one byte: a known value by its position in `KNOWN`.
pub(crate) trait Coded: Sized + 'static {
    /// Every known value, in order.
    const KNOWN: &'static [Self];
    /// An empty `Unknown`, for a code whose value went missing (never, by construction).
    const UNKNOWN: &'static Self;
    /// The value's position in [`KNOWN`](Self::KNOWN); `None` for `Unknown`.
    fn known_index(&self) -> Option<u8>;
}

/// Declares a wire enum: known variants with their Binance names, plus `Unknown(String)`.
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $wire:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value this version of the crate does not know, kept as sent.
            Unknown(String),
        }

        impl $name {
            /// Every known variant, in Binance's documentation order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire name (`"BUY"`, `"EXPIRED_IN_MATCH"`, ...).
            #[must_use]
            pub fn as_str(&self) -> &str {
                match self {
                    $( $name::$variant => $wire, )+
                    $name::Unknown(s) => s,
                }
            }

            /// Decodes a wire name; an unknown name becomes `Unknown`, never an error.
            #[must_use]
            pub fn from_wire(s: &str) -> Self {
                match s {
                    $( $wire => $name::$variant, )+
                    other => $name::Unknown(other.to_owned()),
                }
            }

            /// The wire name of a known value (`None` for `Unknown`).
            #[allow(dead_code)]
            pub(crate) fn known_wire(&self) -> Option<&'static str> {
                match self {
                    $( $name::$variant => Some($wire), )+
                    $name::Unknown(_) => None,
                }
            }

            /// Whether this is a value the crate knows.
            #[must_use]
            pub fn is_known(&self) -> bool {
                !matches!(self, $name::Unknown(_))
            }
        }

        // Every known value's code is its position, below the two codes `OrderRequest`
        // reserves (absent, unknown).
        const _: () = assert!($name::ALL.len() < u8::MAX as usize - 1);

        impl Coded for $name {
            const KNOWN: &'static [Self] = Self::ALL;
            const UNKNOWN: &'static Self = &$name::Unknown(String::new());

            fn known_index(&self) -> Option<u8> {
                // The variants' positions in `ALL`, counted by the compiler.
                #[allow(dead_code)]
                #[repr(u8)]
                enum Index { $( $variant, )+ }
                match self {
                    $( $name::$variant => Some(Index::$variant as u8), )+
                    $name::Unknown(_) => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl serde::de::Visitor<'_> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str(concat!("a ", stringify!($name), " name"))
                    }
                    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<$name, E> {
                        Ok($name::from_wire(v))
                    }
                }
                d.deserialize_str(V)
            }
        }
    };
}

wire_enum! {
    /// Order side.
    pub enum Side {
        /// `BUY`
        Buy => "BUY",
        /// `SELL`
        Sell => "SELL",
    }
}

wire_enum! {
    /// Order type (all seven Binance Spot types).
    pub enum OrderType {
        /// `LIMIT`: needs timeInForce, quantity, price.
        Limit => "LIMIT",
        /// `MARKET`: needs quantity or quoteOrderQty.
        Market => "MARKET",
        /// `STOP_LOSS`: a MARKET order once stopPrice / trailingDelta triggers.
        StopLoss => "STOP_LOSS",
        /// `STOP_LOSS_LIMIT`: a LIMIT order once triggered.
        StopLossLimit => "STOP_LOSS_LIMIT",
        /// `TAKE_PROFIT`: a MARKET order once triggered.
        TakeProfit => "TAKE_PROFIT",
        /// `TAKE_PROFIT_LIMIT`: a LIMIT order once triggered.
        TakeProfitLimit => "TAKE_PROFIT_LIMIT",
        /// `LIMIT_MAKER`: post-only; rejected if it would take.
        LimitMaker => "LIMIT_MAKER",
    }
}

impl OrderType {
    /// STOP_LOSS, STOP_LOSS_LIMIT, TAKE_PROFIT and TAKE_PROFIT_LIMIT: the "algo" orders counted
    /// by MAX_NUM_ALGO_ORDERS.
    #[must_use]
    pub fn is_algo(&self) -> bool {
        matches!(
            self,
            OrderType::StopLoss | OrderType::StopLossLimit | OrderType::TakeProfit | OrderType::TakeProfitLimit
        )
    }

    /// MARKET, STOP_LOSS and TAKE_PROFIT: orders that execute at the market price (no limit
    /// price), for which the notional filters use a price proxy.
    #[must_use]
    pub fn is_market_like(&self) -> bool {
        matches!(self, OrderType::Market | OrderType::StopLoss | OrderType::TakeProfit)
    }
}

wire_enum! {
    /// Time in force.
    pub enum TimeInForce {
        /// Good till canceled.
        Gtc => "GTC",
        /// Immediate or cancel.
        Ioc => "IOC",
        /// Fill or kill.
        Fok => "FOK",
    }
}

wire_enum! {
    /// Order status (all nine of `enums.md`).
    pub enum OrderStatus {
        /// Accepted by the engine.
        New => "NEW",
        /// The pending leg of an order list.
        PendingNew => "PENDING_NEW",
        /// Part of the quantity has filled.
        PartiallyFilled => "PARTIALLY_FILLED",
        /// Completely filled.
        Filled => "FILLED",
        /// Canceled by the user.
        Canceled => "CANCELED",
        /// Currently unused by Binance.
        PendingCancel => "PENDING_CANCEL",
        /// Rejected by the engine.
        Rejected => "REJECTED",
        /// Expired (IOC / FOK / market without liquidity / exchange cancel).
        Expired => "EXPIRED",
        /// Expired by self-trade prevention.
        ExpiredInMatch => "EXPIRED_IN_MATCH",
    }
}

impl OrderStatus {
    /// FILLED, CANCELED, REJECTED, EXPIRED and EXPIRED_IN_MATCH: no further change can happen.
    #[must_use]
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            OrderStatus::Filled
                | OrderStatus::Canceled
                | OrderStatus::Rejected
                | OrderStatus::Expired
                | OrderStatus::ExpiredInMatch
        )
    }
}

wire_enum! {
    /// Self-trade prevention mode.
    pub enum SelfTradePreventionMode {
        /// No STP.
        None => "NONE",
        /// Expire the maker.
        ExpireMaker => "EXPIRE_MAKER",
        /// Expire the taker.
        ExpireTaker => "EXPIRE_TAKER",
        /// Expire both.
        ExpireBoth => "EXPIRE_BOTH",
        /// Decrement both quantities.
        Decrement => "DECREMENT",
        /// Transfer (both sides must use it).
        Transfer => "TRANSFER",
    }
}

wire_enum! {
    /// What a pegged order's price follows (`pegPriceType`): Binance's pegged-orders FAQ.
    pub enum PegPriceType {
        /// The best price on the order's own side of the book (best bid for a buy).
        PrimaryPeg => "PRIMARY_PEG",
        /// The best price on the other side of the book (best ask for a buy).
        MarketPeg => "MARKET_PEG",
    }
}

wire_enum! {
    /// The shape of the order response (`newOrderRespType`).
    pub enum OrderResponseType {
        /// Ids and time only.
        Ack => "ACK",
        /// The order's state.
        Result => "RESULT",
        /// The order's state and its fills.
        Full => "FULL",
    }
}

wire_enum! {
    /// Execution type (`x` in an executionReport).
    pub enum ExecutionType {
        /// The order was accepted.
        New => "NEW",
        /// The order was canceled.
        Canceled => "CANCELED",
        /// The order was amended.
        Replaced => "REPLACED",
        /// The order was rejected.
        Rejected => "REJECTED",
        /// A fill.
        Trade => "TRADE",
        /// The order expired.
        Expired => "EXPIRED",
        /// Self-trade prevention acted.
        TradePrevention => "TRADE_PREVENTION",
    }
}

wire_enum! {
    /// A symbol's trading status.
    pub enum SymbolStatus {
        /// Normal trading.
        Trading => "TRADING",
        /// End of day.
        EndOfDay => "END_OF_DAY",
        /// Halted.
        Halt => "HALT",
        /// Break: no trading.
        Break => "BREAK",
        /// Only cancels are accepted (since 2026-07).
        CancelOnly => "CANCEL_ONLY",
        /// Legacy: before trading.
        PreTrading => "PRE_TRADING",
        /// Legacy: after trading.
        PostTrading => "POST_TRADING",
        /// Legacy: auction.
        AuctionMatch => "AUCTION_MATCH",
    }
}

wire_enum! {
    /// A rate limiter's kind.
    pub enum RateLimitType {
        /// Weight per IP.
        RequestWeight => "REQUEST_WEIGHT",
        /// Unfilled order count per account.
        Orders => "ORDERS",
        /// Raw request count per IP.
        RawRequests => "RAW_REQUESTS",
        /// WebSocket connection attempts.
        Connections => "CONNECTIONS",
    }
}

wire_enum! {
    /// A rate limiter's interval unit.
    pub enum RateLimitInterval {
        /// `S` in headers.
        Second => "SECOND",
        /// `M` in headers.
        Minute => "MINUTE",
        /// `H` in headers.
        Hour => "HOUR",
        /// `D` in headers.
        Day => "DAY",
    }
}

impl RateLimitInterval {
    /// The interval's length in milliseconds, `None` for an unknown unit.
    #[must_use]
    pub fn millis(&self) -> Option<u64> {
        match self {
            RateLimitInterval::Second => Some(1_000),
            RateLimitInterval::Minute => Some(60_000),
            RateLimitInterval::Hour => Some(3_600_000),
            RateLimitInterval::Day => Some(86_400_000),
            RateLimitInterval::Unknown(_) => None,
        }
    }

    /// The letter used in `X-MBX-USED-WEIGHT-1M`-style headers.
    #[must_use]
    pub fn header_letter(&self) -> Option<char> {
        match self {
            RateLimitInterval::Second => Some('S'),
            RateLimitInterval::Minute => Some('M'),
            RateLimitInterval::Hour => Some('H'),
            RateLimitInterval::Day => Some('D'),
            RateLimitInterval::Unknown(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values_round_trip_and_unknown_ones_are_kept() {
        for s in OrderStatus::ALL {
            assert_eq!(&OrderStatus::from_wire(s.as_str()), s);
        }
        assert_eq!(OrderStatus::ALL.len(), 9);
        assert_eq!(OrderType::ALL.len(), 7);
        let v: OrderStatus = serde_json::from_str("\"PENDING_MARS\"").unwrap_or(OrderStatus::New);
        assert_eq!(v, OrderStatus::Unknown("PENDING_MARS".into()));
        assert_eq!(serde_json::to_string(&v).ok().as_deref(), Some("\"PENDING_MARS\""));
        assert_eq!(serde_json::from_str::<OrderStatus>("\"EXPIRED_IN_MATCH\"").ok(), Some(OrderStatus::ExpiredInMatch));
        assert!(serde_json::from_str::<Side>("1").is_err());
    }
}
