//! `MarketContext`: what some filters need beyond the order itself.

use rust_decimal::Decimal;

use crate::num::Rounding;

/// Market and account facts some filters need: the reference / average / last price
/// (PERCENT_PRICE, PERCENT_PRICE_BY_SIDE, MIN_NOTIONAL and NOTIONAL on MARKET orders), open
/// order counts (MAX_NUM_* and EXCHANGE_MAX_NUM_*), and the base position (MAX_POSITION).
///
/// A filter whose fact is missing is not silently passed: it is listed in
/// [`ValidatedOrder::unchecked`](crate::ValidatedOrder::unchecked), or refused with
/// [`FilterError::MissingContext`](crate::FilterError::MissingContext) in
/// [`strict`](Self::strict) mode.
///
/// ```
/// use aegis_exchange::MarketContext;
/// use rust_decimal_macros::dec;
/// let ctx = MarketContext::default()
///     .with_reference_price(dec!(65430))
///     .with_open_orders(3)
///     .strict();
/// assert_eq!(ctx.reference_price(), Some(dec!(65430)));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MarketContext {
    reference_price: Option<Decimal>,
    average_price: Option<Decimal>,
    last_price: Option<Decimal>,
    open_orders: Option<u64>,
    open_algo_orders: Option<u64>,
    open_iceberg_orders: Option<u64>,
    account_open_orders: Option<u64>,
    account_open_algo_orders: Option<u64>,
    account_open_iceberg_orders: Option<u64>,
    open_order_lists: Option<u64>,
    account_open_order_lists: Option<u64>,
    base_position: Option<Decimal>,
    strict: bool,
}

impl MarketContext {
    /// The symbol's reference price (`GET /api/v3/referencePrice`, the `@referencePrice`
    /// stream). When set, the price filters use it whatever their `avgPriceMins`, as Binance
    /// does since 2026-05-08.
    #[must_use]
    pub fn with_reference_price(mut self, price: Decimal) -> Self {
        self.reference_price = Some(price);
        self
    }

    /// The average price over the filter's `avgPriceMins` (`GET /api/v3/avgPrice`).
    #[must_use]
    pub fn with_average_price(mut self, price: Decimal) -> Self {
        self.average_price = Some(price);
        self
    }

    /// The last traded price (used by filters whose `avgPriceMins` is 0).
    #[must_use]
    pub fn with_last_price(mut self, price: Decimal) -> Self {
        self.last_price = Some(price);
        self
    }

    /// Open orders on the symbol (MAX_NUM_ORDERS), not counting the one being checked.
    #[must_use]
    pub fn with_open_orders(mut self, n: u64) -> Self {
        self.open_orders = Some(n);
        self
    }

    /// Open STOP_LOSS / TAKE_PROFIT (limit or not) orders on the symbol (MAX_NUM_ALGO_ORDERS).
    #[must_use]
    pub fn with_open_algo_orders(mut self, n: u64) -> Self {
        self.open_algo_orders = Some(n);
        self
    }

    /// Open order lists on the symbol and on the account (MAX_NUM_ORDER_LISTS,
    /// EXCHANGE_MAX_NUM_ORDER_LISTS), checked when a list is validated.
    #[must_use]
    pub fn with_open_order_lists(mut self, symbol: u64, account: u64) -> Self {
        self.open_order_lists = Some(symbol);
        self.account_open_order_lists = Some(account);
        self
    }

    /// Open order lists on the symbol, if given (MAX_NUM_ORDER_LISTS).
    #[must_use]
    pub fn open_order_lists(&self) -> Option<u64> {
        self.open_order_lists
    }

    /// Open order lists on the account, if given (EXCHANGE_MAX_NUM_ORDER_LISTS).
    #[must_use]
    pub fn account_open_order_lists(&self) -> Option<u64> {
        self.account_open_order_lists
    }

    /// Open iceberg orders on the symbol (MAX_NUM_ICEBERG_ORDERS).
    #[must_use]
    pub fn with_open_iceberg_orders(mut self, n: u64) -> Self {
        self.open_iceberg_orders = Some(n);
        self
    }

    /// Open orders, algo orders and iceberg orders on the whole account (EXCHANGE_MAX_NUM_*).
    #[must_use]
    pub fn with_account_open_orders(mut self, orders: u64, algo: u64, iceberg: u64) -> Self {
        self.account_open_orders = Some(orders);
        self.account_open_algo_orders = Some(algo);
        self.account_open_iceberg_orders = Some(iceberg);
        self
    }

    /// The base position as MAX_POSITION counts it: free + locked base balance plus the
    /// quantity of open BUY orders.
    #[must_use]
    pub fn with_base_position(mut self, position: Decimal) -> Self {
        self.base_position = Some(position);
        self
    }

    /// Refuse, rather than report as unchecked, any filter whose context is missing, and any
    /// symbol carrying a filter type this crate does not know.
    #[must_use]
    pub fn strict(mut self) -> Self {
        self.strict = true;
        self
    }

    /// The same context with one more open order on the symbol and the account (and one more
    /// algo / iceberg order when `algo` / `iceberg`): what the second leg of a list is checked
    /// against.
    pub(crate) fn with_one_more(&self, algo: bool, iceberg: bool) -> Self {
        let plus = |n: Option<u64>, yes: bool| n.map(|n| if yes { n.saturating_add(1) } else { n });
        Self {
            open_orders: plus(self.open_orders, true),
            open_algo_orders: plus(self.open_algo_orders, algo),
            open_iceberg_orders: plus(self.open_iceberg_orders, iceberg),
            account_open_orders: plus(self.account_open_orders, true),
            account_open_algo_orders: plus(self.account_open_algo_orders, algo),
            account_open_iceberg_orders: plus(self.account_open_iceberg_orders, iceberg),
            ..self.clone()
        }
    }

    /// The reference price, if given.
    #[must_use]
    pub fn reference_price(&self) -> Option<Decimal> {
        self.reference_price
    }
    /// The average price, if given.
    #[must_use]
    pub fn average_price(&self) -> Option<Decimal> {
        self.average_price
    }
    /// The last price, if given.
    #[must_use]
    pub fn last_price(&self) -> Option<Decimal> {
        self.last_price
    }
    /// Whether strict mode is on.
    #[must_use]
    pub fn is_strict(&self) -> bool {
        self.strict
    }

    /// The price a filter with this `avgPriceMins` compares against: the reference price if
    /// known, else the average price (`avgPriceMins > 0`) or the last price (`avgPriceMins == 0`).
    #[must_use]
    pub fn price_proxy(&self, avg_price_mins: u64) -> Option<Decimal> {
        self.reference_price.or(if avg_price_mins > 0 { self.average_price } else { self.last_price })
    }

    pub(crate) fn open_orders(&self) -> Option<u64> {
        self.open_orders
    }
    pub(crate) fn open_algo_orders(&self) -> Option<u64> {
        self.open_algo_orders
    }
    pub(crate) fn open_iceberg_orders(&self) -> Option<u64> {
        self.open_iceberg_orders
    }
    pub(crate) fn account_open_orders(&self) -> Option<u64> {
        self.account_open_orders
    }
    pub(crate) fn account_open_algo_orders(&self) -> Option<u64> {
        self.account_open_algo_orders
    }
    pub(crate) fn account_open_iceberg_orders(&self) -> Option<u64> {
        self.account_open_iceberg_orders
    }
    pub(crate) fn base_position(&self) -> Option<Decimal> {
        self.base_position
    }
}

/// How [`SymbolRules::normalize_with`](crate::SymbolRules::normalize_with) rounds prices.
///
/// Quantities always round down (rounding never enlarges an order). Prices round toward the
/// passive side by default: a BUY down, a SELL up, so a normalized limit order never crosses
/// further than asked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NormalizeOptions {
    /// Rounding for `price`; `None` means the passive side.
    pub price: Option<Rounding>,
    /// Rounding for `stopPrice`; `None` means the same side rule as `price`.
    pub stop_price: Option<Rounding>,
}
