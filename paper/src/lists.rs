//! Order lists on the paper exchange: OCO placement, the contingency (a leg that trades or
//! triggers expires the other, and takes over the list's one lock); OTO family placement (the
//! working order alone on the book; its pending orders placed once it has fully filled, an OPO's
//! with what it received, locked as it arrived; a working order that ends unfilled takes its
//! pending orders with it); `listStatus` events, and the list endpoints
//! (`POST /api/v3/orderList/{oco,oto,otoco,opo,opoco}`, `DELETE` / `GET /api/v3/orderList`,
//! `GET /api/v3/openOrderList`).

use rust_decimal::Decimal;

use super::reply::Reply;
use super::routes::{invalid_symbol, order_response, rejected, result_fields, validation_context};
use super::wire::{Obj, Params, array};
use super::{PaperExchange, PaperOrder, stop_triggered};
use aegis_exchange::{
    ClientOrderId, ListLeg, ListRequest, OcoRequest, OrderResponseType, OrderStatus, OrderType, OtoKind, OtoRequest,
    PegPriceType, PendingLegs, SelfTradePreventionMode, Side, TimeInForce,
};

/// An order list the exchange keeps.
#[derive(Debug, Clone)]
pub(super) struct PaperList {
    pub(super) id: u64,
    pub(super) client_id: String,
    pub(super) contingency: &'static str,
    pub(super) symbol: String,
    pub(super) legs: Vec<u64>,
    /// `EXECUTING` until every leg has ended, then `ALL_DONE`.
    pub(super) done: bool,
    pub(super) time: i64,
    /// An OTO family list's working order.
    pub(super) working: Option<u64>,
    /// An OPO / OPOCO: the pending orders sell what the working order received.
    pub(super) opo: bool,
    /// What an OPO's working order received so far, locked for its pending orders.
    pub(super) opo_locked: Decimal,
}

impl PaperList {
    fn status(&self) -> (&'static str, &'static str) {
        if self.done { ("ALL_DONE", "ALL_DONE") } else { ("EXEC_STARTED", "EXECUTING") }
    }

    /// The list as a keep-priority amend of one of its legs shows it (`listStatus`, without
    /// the status type and transaction time: rest-api.md "Order Amend Keep Priority").
    pub(super) fn amend_json(&self, ex: &PaperExchange) -> String {
        Obj::new()
            .int("orderListId", i64::try_from(self.id).unwrap_or(i64::MAX))
            .str("contingencyType", self.contingency)
            .str("listOrderStatus", self.status().1)
            .str("listClientOrderId", &self.client_id)
            .str("symbol", &self.symbol)
            .raw("orders", &self.orders_json(ex))
            .finish()
    }

    /// `orders`: each leg's symbol, id and client order id.
    fn orders_json(&self, ex: &PaperExchange) -> String {
        array(self.legs.iter().filter_map(|id| ex.orders.get(id)).map(|o| {
            Obj::new()
                .str("symbol", &o.symbol)
                .int("orderId", i64::try_from(o.id).unwrap_or(i64::MAX))
                .str("clientOrderId", &o.client_id)
                .finish()
        }))
    }

    /// The list as `GET /api/v3/orderList` shows it (and the placement and cancel answers
    /// begin), with `reports` when given.
    fn json(&self, ex: &PaperExchange, status_type: Option<&str>, reports: Option<&[String]>) -> String {
        let (l, big_l) = self.status();
        let mut r = Obj::new()
            .int("orderListId", i64::try_from(self.id).unwrap_or(i64::MAX))
            .str("contingencyType", self.contingency)
            .str("listStatusType", status_type.unwrap_or(l))
            .str("listOrderStatus", big_l)
            .str("listClientOrderId", &self.client_id)
            .int("transactionTime", self.time)
            .str("symbol", &self.symbol)
            .raw("orders", &self.orders_json(ex));
        if let Some(reports) = reports {
            r = r.raw("orderReports", &array(reports.iter().cloned()));
        }
        r.finish()
    }
}

impl PaperExchange {
    /// The `listStatus` event of list `id` now.
    fn list_status_event(&mut self, now: i64, id: u64) {
        let Some(list) = self.lists.get(&id) else { return };
        let (l, big_l) = list.status();
        let orders = list.legs.iter().filter_map(|leg| self.orders.get(leg)).map(|o| {
            Obj::new()
                .str("s", &o.symbol)
                .int("i", i64::try_from(o.id).unwrap_or(i64::MAX))
                .str("c", &o.client_id)
                .finish()
        });
        let event = Obj::new()
            .str("e", "listStatus")
            .int("E", now)
            .str("s", &list.symbol)
            .int("g", i64::try_from(list.id).unwrap_or(i64::MAX))
            .str("c", list.contingency)
            .str("l", l)
            .str("L", big_l)
            .str("r", "NONE")
            .str("C", &list.client_id)
            .int("T", now)
            .raw("O", &array(orders))
            .finish();
        self.push_event(event);
    }

    /// Leg `id` of a list traded or triggered: the other legs expire (their share of the lock
    /// comes back to free) and this leg holds what it needs from now on. An OTO's working order
    /// instead places the pending orders once it has fully filled.
    pub(super) fn list_leg_active(&mut self, now: i64, id: u64) {
        let Some(list_id) = self.orders.get(&id).and_then(|o| o.list) else { return };
        if self.lists.get(&list_id).is_some_and(|l| l.working == Some(id)) {
            if self.orders.get(&id).is_some_and(|o| o.status == OrderStatus::Filled) {
                self.place_pending(now, list_id);
            }
            return;
        }
        let siblings: Vec<u64> = self
            .lists
            .get(&list_id)
            .map(|l| l.legs.iter().copied().filter(|leg| *leg != id).collect())
            .unwrap_or_default();
        for leg in siblings {
            if self.orders.get(&leg).is_some_and(PaperOrder::is_open) {
                self.end_order(now, leg, OrderStatus::Expired, "EXPIRED", None);
            }
        }
        // The leg's own lock, if the list's lock was held by a sibling: a sell locks its base,
        // a limit buy its price times what is left (a market buy pays at the trigger).
        let Some(o) = self.orders.get(&id) else { return };
        if !o.lock.is_zero() {
            return;
        }
        let need = match o.side {
            Side::Buy if o.price.is_zero() => return,
            Side::Buy => o.price.checked_mul(o.remaining()).unwrap_or(Decimal::MAX),
            _ => o.remaining(),
        };
        let asset = o.locked_asset().to_owned();
        let b = self.balances.entry(asset).or_default();
        let take = need.min(b.free);
        b.free -= take;
        b.locked += take;
        if let Some(o) = self.orders.get_mut(&id) {
            o.lock = take;
        }
    }

    /// Order `id` has ended: a list whose legs have all ended is done (`ALL_DONE`). An OTO's
    /// working order that expired (or was rejected) expires the pending orders; an OPO's received funds
    /// never placed go back to free.
    pub(super) fn list_leg_closed(&mut self, now: i64, id: u64) {
        let Some(list_id) = self.orders.get(&id).and_then(|o| o.list) else { return };
        let Some(list) = self.lists.get(&list_id) else { return };
        // (A working order canceled by the user cancels the list: its cancel does the rest.)
        if list.working == Some(id)
            && self.orders.get(&id).is_some_and(|o| !matches!(o.status, OrderStatus::Filled | OrderStatus::Canceled))
        {
            let pending: Vec<u64> = list.legs.iter().copied().filter(|leg| *leg != id).collect();
            for leg in pending {
                if self.orders.get(&leg).is_some_and(PaperOrder::is_live) {
                    self.end_order(now, leg, OrderStatus::Expired, "EXPIRED", None);
                }
            }
        }
        let Some(list) = self.lists.get(&list_id) else { return };
        if list.done || list.legs.iter().any(|leg| self.orders.get(leg).is_some_and(PaperOrder::is_live)) {
            return;
        }
        let (leftover, base) = (
            list.opo_locked,
            list.legs.first().and_then(|leg| self.orders.get(leg)).map(|o| o.base.clone()).unwrap_or_default(),
        );
        if let Some(list) = self.lists.get_mut(&list_id) {
            list.done = true;
            list.time = now;
            list.opo_locked = Decimal::ZERO;
        }
        if !leftover.is_zero() {
            let b = self.balances.entry(base).or_default();
            b.locked -= leftover;
            b.free += leftover;
        }
        self.list_status_event(now, list_id);
    }

    /// An OPO's working BUY `id` received `qty` (less `fee`, when the commission came out of
    /// it): locked for the pending orders, as Binance does (the whole quantity when the free
    /// balance can pay the commission, else the quantity less it).
    pub(super) fn lock_received(&mut self, id: u64, qty: Decimal, fee: Decimal) {
        let Some(list_id) = self.orders.get(&id).and_then(|o| o.list) else { return };
        if !self.lists.get(&list_id).is_some_and(|l| l.opo && l.working == Some(id)) {
            return;
        }
        let Some(base) = self.orders.get(&id).map(|o| o.base.clone()) else { return };
        let b = self.balances.entry(base).or_default();
        let amount = if b.free >= qty { qty } else { qty - fee };
        let amount = amount.min(b.free).max(Decimal::ZERO);
        b.free -= amount;
        b.locked += amount;
        if let Some(l) = self.lists.get_mut(&list_id) {
            l.opo_locked += amount;
        }
    }

    /// List `list_id`'s working order has filled: its pending orders go on the book (an OPO's
    /// with what the working order received, to the step size; the rest of that unlocked),
    /// locking what they need, and run as any order would (a market order executes, a stop
    /// waits for its trigger, a limit that crosses takes).
    fn place_pending(&mut self, now: i64, list_id: u64) {
        let Some(list) = self.lists.get(&list_id) else { return };
        let working = list.working;
        let pending: Vec<u64> = list.legs.iter().copied().filter(|leg| Some(*leg) != working).collect();
        let (opo, opo_locked) = (list.opo, list.opo_locked);
        let Some(first) = pending.first().and_then(|id| self.orders.get(id)) else { return };
        let (symbol, side, base, quote) =
            (first.symbol.clone(), first.side.clone(), first.base.clone(), first.quote.clone());
        let step = self.markets.get(&symbol).map_or(Decimal::ZERO, |m| m.step);
        let qty = if opo {
            aegis_exchange::num::round_to_step(opo_locked, step, aegis_exchange::num::Rounding::Down)
                .unwrap_or(opo_locked)
        } else {
            first.qty
        };
        // Pegged limit orders take their prices from the book now; none to take: they expire.
        for id in &pending {
            let Some(o) = self.orders.get(id) else { continue };
            let Some(peg) = o.peg.clone().filter(|_| !o.kind.is_algo() && o.price.is_zero()) else { continue };
            match self.peg_price(&symbol, &side, &peg, Some(*id)) {
                Some(price) => {
                    if let Some(o) = self.orders.get_mut(id) {
                        o.price = price;
                    }
                }
                None => {
                    for id in pending {
                        self.end_order(now, id, OrderStatus::Expired, "EXPIRED", None);
                    }
                    return;
                }
            }
        }
        // One lock for the pending orders: the quantity for a SELL; for a BUY the most any of
        // them could spend at its limit (or stop) price.
        let lock = match side {
            Side::Buy => pending
                .iter()
                .filter_map(|id| self.orders.get(id))
                .filter_map(|o| if o.price.is_zero() { (!o.stop.is_zero()).then_some(o.stop) } else { Some(o.price) })
                .map(|p| p.checked_mul(qty).unwrap_or(Decimal::MAX))
                .max()
                .unwrap_or_default(),
            _ => qty,
        };
        let locked_asset = if side == Side::Buy { quote.clone() } else { base.clone() };
        if opo {
            // The received funds, locked already: keep what the quantity needs.
            let b = self.balances.entry(base.clone()).or_default();
            let unlock = (opo_locked - lock).max(Decimal::ZERO);
            b.locked -= unlock;
            b.free += unlock;
            if let Some(l) = self.lists.get_mut(&list_id) {
                l.opo_locked = Decimal::ZERO;
            }
        } else {
            let b = self.balances.entry(locked_asset).or_default();
            if b.free < lock || qty.is_zero() {
                for id in pending {
                    self.end_order(now, id, OrderStatus::Expired, "EXPIRED", None);
                }
                return;
            }
            b.free -= lock;
            b.locked += lock;
        }
        if qty.is_zero() {
            for id in pending {
                self.end_order(now, id, OrderStatus::Expired, "EXPIRED", None);
            }
            return;
        }
        // The lock sits on the order that works first (a LIMIT_MAKER or LIMIT, else the first).
        let holder = pending
            .iter()
            .position(|id| {
                self.orders.get(id).is_some_and(|o| matches!(o.kind, OrderType::LimitMaker | OrderType::Limit))
            })
            .unwrap_or(0);
        for (k, id) in pending.iter().enumerate() {
            if let Some(o) = self.orders.get_mut(id) {
                o.qty = qty;
                o.status = OrderStatus::New;
                o.update = now;
                o.working = (!o.kind.is_algo()).then_some(now);
                o.lock = if k == holder { lock } else { Decimal::ZERO };
            }
            self.execution_report(now, *id, "NEW", None, None);
        }
        self.list_status_event(now, list_id);
        // Each runs as it would have on placement.
        let last = self.markets.get(&symbol).and_then(super::Market::last_price);
        for id in pending {
            let Some(o) = self.orders.get(&id).filter(|o| o.is_open()) else { continue };
            let (kind, side, stop, tif) = (o.kind.clone(), o.side.clone(), o.stop, o.tif.clone());
            if kind.is_algo() {
                if last.is_some_and(|l| stop_triggered(&kind, &side, stop, l)) {
                    self.trigger(now, id);
                }
                continue;
            }
            if kind == OrderType::LimitMaker {
                continue;
            }
            let (_, satisfied) = self.take(now, id);
            let status = self.orders.get(&id).map(|o| o.status.clone());
            if status == Some(OrderStatus::Filled) {
                self.close(id);
            } else if self.orders.get(&id).is_some_and(super::PaperOrder::is_open)
                && (kind == OrderType::Market || tif != TimeInForce::Gtc && !satisfied)
            {
                self.end_order(now, id, OrderStatus::Expired, "EXPIRED", None);
            }
        }
    }

    /// The list named by `orderListId` or the list's client order id (`param`).
    fn named_list(&self, params: &Params, param: &str) -> Result<Option<u64>, Reply> {
        let by_id = params.integer("orderListId")?.and_then(|i| u64::try_from(i).ok());
        let by_client = params.get(param).filter(|c| !c.is_empty());
        if by_id.is_none() && by_client.is_none() {
            return Err(Reply::error(
                400,
                -1102,
                &format!("Param '{param}' or 'orderListId' must be sent, but both were empty/null!"),
            ));
        }
        let found = match (by_id, by_client) {
            (Some(id), client) => self.lists.get(&id).filter(|l| client.is_none_or(|c| l.client_id == c)).map(|l| l.id),
            (None, Some(c)) => {
                // The latest list with that client id.
                self.lists.values().filter(|l| l.client_id == c).map(|l| l.id).max()
            }
            (None, None) => None,
        };
        Ok(found)
    }
}

/// A new list's client order id and its legs' (each given, or made up), refused as Binance
/// refuses them: a list client id of an open list, or an order id in use or given twice.
fn list_ids(
    ex: &mut PaperExchange,
    symbol: &str,
    list: Option<&ClientOrderId>,
    legs: &[&ListLeg],
) -> Result<(String, Vec<String>), Reply> {
    let list_client_id = match list {
        Some(id) => id.as_str().to_owned(),
        None => ex.generated_id(),
    };
    if ex.lists.values().any(|l| !l.done && l.symbol == symbol && l.client_id == list_client_id) {
        return Err(rejected("Duplicate order sent."));
    }
    let mut leg_ids = Vec::new();
    for l in legs {
        let id = match l.client_order_id() {
            Some(id) => id.as_str().to_owned(),
            None => ex.generated_id(),
        };
        if ex.open_client_id(symbol, &id) || leg_ids.contains(&id) {
            return Err(rejected("Duplicate order sent."));
        }
        leg_ids.push(id);
    }
    Ok((list_client_id, leg_ids))
}

/// The legs in the order Binance places and lists them (`orders`, `orderReports`, the ids):
/// the first `fixed` as given (an OTO family's working order), then an OCO pair's stop-type leg
/// before its limit leg, whichever is above (rest-api.md's examples of every list kind).
fn in_binance_order(mut legs: Vec<&ListLeg>, fixed: usize) -> Vec<&ListLeg> {
    if let Some(pair) = legs.get_mut(fixed..) {
        pair.sort_by_key(|l| matches!(l.order_type(), OrderType::Limit | OrderType::LimitMaker));
    }
    legs
}

/// Reads one leg of a list's parameters, each named `prefix` + field (`above` / `below` of an
/// OCO; `working`, `pending`, `pendingAbove`, `pendingBelow` of an OTO).
fn leg(params: &Params, prefix: &str) -> Result<ListLeg, Reply> {
    let name = |field: &str| format!("{prefix}{field}");
    let kind = OrderType::from_wire(params.required(&name("Type"))?);
    let price = params.decimal(&name("Price"))?;
    let trailing = match params.get(&name("TrailingDelta")) {
        Some(t) => Some(t.parse::<u64>().map_err(|_| {
            Reply::error(
                400,
                -1100,
                &format!(
                    "Illegal characters found in parameter '{}'; legal range is '^[0-9]{{1,20}}$'.",
                    name("TrailingDelta")
                ),
            )
        })?),
        None => None,
    };
    // A trailing stop may go without a stop price: it follows the market from the trigger.
    let stop = params.decimal(&name("StopPrice"))?.or(trailing.map(|_| Decimal::ZERO));
    let tif = params.get(&name("TimeInForce")).map(TimeInForce::from_wire);
    let missing = |field: &str| {
        Reply::error(
            400,
            -1102,
            &format!("Mandatory parameter '{}' was not sent, was empty/null, or malformed.", name(field)),
        )
    };
    // A pegged leg's price is optional (it comes from the book).
    let peg = params.get(&name("PegPriceType")).map(PegPriceType::from_wire);
    let priced = price.is_some();
    let price = if peg.is_some() { price.or(Some(Decimal::ZERO)) } else { price };
    let mut leg = match kind {
        OrderType::Limit => {
            ListLeg::limit(price.ok_or_else(|| missing("Price"))?, tif.ok_or_else(|| missing("TimeInForce"))?)
        }
        OrderType::Market if prefix != "above" && prefix != "below" => ListLeg::market(),
        OrderType::LimitMaker => ListLeg::limit_maker(price.ok_or_else(|| missing("Price"))?),
        OrderType::StopLoss => ListLeg::stop_loss(stop.ok_or_else(|| missing("StopPrice"))?),
        OrderType::TakeProfit => ListLeg::take_profit(stop.ok_or_else(|| missing("StopPrice"))?),
        OrderType::StopLossLimit => ListLeg::stop_loss_limit(
            price.ok_or_else(|| missing("Price"))?,
            stop.ok_or_else(|| missing("StopPrice"))?,
            tif.ok_or_else(|| missing("TimeInForce"))?,
        ),
        OrderType::TakeProfitLimit => ListLeg::take_profit_limit(
            price.ok_or_else(|| missing("Price"))?,
            stop.ok_or_else(|| missing("StopPrice"))?,
            tif.ok_or_else(|| missing("TimeInForce"))?,
        ),
        _ => return Err(Reply::error(400, -1116, "Invalid orderType.")),
    };
    if let Some(id) = params.get(&name("ClientOrderId")) {
        leg = leg.with_client_order_id(ClientOrderId::new(id).map_err(|_| illegal_id(&name("ClientOrderId")))?);
    }
    if let Some(q) = params.decimal(&name("IcebergQty"))? {
        leg = leg.with_iceberg_qty(q);
    }
    if let Some(t) = trailing {
        leg = leg.with_trailing_delta(t);
    }
    if !priced {
        leg = leg.without_price();
    }
    if let Some(peg) = peg {
        leg = leg.with_peg(peg);
    }
    if let Some(levels) = super::routes::peg_offset(params, &name("PegOffsetType"), &name("PegOffsetValue"))? {
        leg = leg.with_peg_offset(levels);
    }
    for (field, set) in [("StrategyId", 0), ("StrategyType", 1)] {
        if let Some(v) = params.get(&name(field)) {
            let bad = || {
                Reply::error(
                    400,
                    -1100,
                    &format!(
                        "Illegal characters found in parameter '{}'; legal range is '^[0-9]{{1,20}}$'.",
                        name(field)
                    ),
                )
            };
            leg = if set == 0 {
                leg.with_strategy_id(v.parse::<u64>().map_err(|_| bad())?)
            } else {
                leg.with_strategy_type(v.parse::<u32>().map_err(|_| bad())?)
            };
        }
    }
    Ok(leg)
}

/// The price a pegged leg takes now (a limit leg on placement; a stop-limit waits for its
/// trigger: zero), its own price otherwise; `Err`: the book has no level to peg to.
fn leg_price(ex: &PaperExchange, symbol: &str, side: &Side, l: &ListLeg, placed_now: bool) -> Result<Decimal, Reply> {
    match super::Peg::of_leg(l) {
        Some(peg) if placed_now && !l.order_type().is_algo() => ex
            .peg_price(symbol, side, &peg, None)
            .ok_or_else(|| rejected("Order book liquidity is too low for this pegged order.")),
        Some(_) => Ok(Decimal::ZERO),
        None => Ok(l.price().unwrap_or_default()),
    }
}

fn illegal_id(param: &str) -> Reply {
    Reply::error(
        400,
        -1100,
        &format!("Illegal characters found in parameter '{param}'; legal range is '^[a-zA-Z0-9-_]{{1,36}}$'."),
    )
}

/// `POST /api/v3/orderList/oco`.
pub(super) fn place_oco(ex: &mut PaperExchange, now: i64, params: &Params) -> Result<Reply, Reply> {
    let symbol = params.required("symbol")?.to_owned();
    let side = Side::from_wire(params.required("side")?);
    let qty = params.decimal("quantity")?.ok_or_else(|| {
        Reply::error(400, -1102, "Mandatory parameter 'quantity' was not sent, was empty/null, or malformed.")
    })?;
    let mut oco = OcoRequest::new(symbol.clone(), side.clone(), qty, leg(params, "above")?, leg(params, "below")?);
    if let Some(id) = params.get("listClientOrderId") {
        oco = oco.with_list_client_order_id(ClientOrderId::new(id).map_err(|_| illegal_id("listClientOrderId"))?);
    }
    if let Some(r) = params.get("newOrderRespType") {
        oco = oco.with_response_type(OrderResponseType::from_wire(r));
    }
    if let Some(m) = params.get("selfTradePreventionMode") {
        oco = oco.with_self_trade_prevention_mode(SelfTradePreventionMode::from_wire(m));
    }
    let rules = ex.rules(&symbol).ok_or_else(invalid_symbol)?;
    let ctx = validation_context(ex, now, &symbol)?;
    let last = ctx.last_price();
    rules.validate_oco(&oco, &ctx).map_err(|e| Reply::error(400, e.code(), &e.to_string()))?;
    let (base, quote) = (rules.base_asset().to_owned(), rules.quote_asset().to_owned());
    let default_stp = rules.default_self_trade_prevention_mode().cloned().unwrap_or(SelfTradePreventionMode::None);
    // Pegged legs take their prices from the book now (a stop-limit when it triggers).
    let legs = in_binance_order(oco.legs().to_vec(), 0);
    let prices = [
        leg_price(ex, &symbol, &side, legs.first().copied().unwrap_or(oco.above()), true)?,
        leg_price(ex, &symbol, &side, legs.get(1).copied().unwrap_or(oco.below()), true)?,
    ];
    // A stop already reached would trigger at once (a take-profit too).
    for (l, price) in legs.iter().zip(prices) {
        if l.order_type() != &OrderType::LimitMaker
            && let (Some(stop), Some(last)) = (l.stop_price(), last)
            && stop_triggered(l.order_type(), &side, stop, last)
        {
            return Err(rejected("Order would trigger immediately."));
        }
        if l.order_type() == &OrderType::LimitMaker
            && !price.is_zero()
            && !ex.plan(&symbol, &side, Some(price), Some(qty), None).0.is_empty()
        {
            return Err(rejected("Order would immediately match and take."));
        }
    }
    let (list_client_id, leg_ids) = list_ids(ex, &symbol, oco.list_client_order_id(), &legs)?;
    // One lock for the pair: the base quantity for a SELL; for a BUY the most either leg could
    // spend (its limit price, or a market stop's stop price, times the quantity).
    let lock = match side {
        Side::Buy => oco
            .legs()
            .iter()
            .filter_map(|l| l.price().or(l.stop_price()))
            .map(|p| p.checked_mul(qty).unwrap_or(Decimal::MAX))
            .max()
            .unwrap_or_default(),
        _ => qty,
    };
    let locked_asset = if side == Side::Buy { quote.clone() } else { base.clone() };
    let balance = ex.balances.entry(locked_asset).or_default();
    if balance.free < lock {
        return Err(rejected("Account has insufficient balance for requested action."));
    }
    ex.throttle.admit_order(now).map_err(|r| r.0)?;
    balance.free -= lock;
    balance.locked += lock;
    ex.throttle.count_order(now);
    ex.throttle.count_order(now);
    let list_id = ex.next_list_id;
    ex.next_list_id += 1;
    // The lock sits on the leg that works first (the LIMIT_MAKER, else the above leg).
    let holder = legs.iter().position(|l| l.order_type() == &OrderType::LimitMaker).unwrap_or(0);
    let mut ids = Vec::new();
    for (k, (l, client_id)) in legs.iter().zip(leg_ids).enumerate() {
        let id = ex.next_order_id;
        ex.next_order_id += 1;
        let kind = l.order_type().clone();
        ex.insert_order(PaperOrder {
            symbol: symbol.clone(),
            base: base.clone(),
            quote: quote.clone(),
            id,
            client_id,
            side: side.clone(),
            kind: kind.clone(),
            tif: l.time_in_force().cloned().unwrap_or(TimeInForce::Gtc),
            price: prices.get(k).copied().unwrap_or_default(),
            qty,
            quote_qty: Decimal::ZERO,
            stop: l.stop_price().unwrap_or_default(),
            iceberg: l.iceberg_qty().unwrap_or_default(),
            executed: Decimal::ZERO,
            cum_quote: Decimal::ZERO,
            status: OrderStatus::New,
            time: now,
            update: now,
            working: (kind == OrderType::LimitMaker).then_some(now),
            stp: oco.self_trade_prevention_mode().cloned().unwrap_or_else(|| default_stp.clone()),
            lock: if k == holder { lock } else { Decimal::ZERO },
            traded: false,
            amends: 0,
            prevented: Decimal::ZERO,
            prevented_match: None,
            last_prevention: None,
            trailing: l.trailing_delta(),
            extreme: None,
            peg: super::Peg::of_leg(l),
            sor: None,
            list: Some(list_id),
        });
        ids.push(id);
    }
    ex.lists.insert(
        list_id,
        PaperList {
            id: list_id,
            client_id: list_client_id,
            contingency: "OCO",
            symbol: symbol.clone(),
            legs: ids.clone(),
            done: false,
            time: now,
            working: None,
            opo: false,
            opo_locked: Decimal::ZERO,
        },
    );
    for id in &ids {
        ex.execution_report(now, *id, "NEW", None, None);
    }
    ex.list_status_event(now, list_id);
    ex.account_position(now, &[&base, &quote]);
    let resp = oco.response_type().cloned().unwrap_or(OrderResponseType::Full);
    let reports: Vec<String> = if resp == OrderResponseType::Ack {
        Vec::new()
    } else {
        ids.iter().filter_map(|id| ex.orders.get(id)).map(|o| order_response(ex, o, now, &resp, &[])).collect()
    };
    let list = ex.lists.get(&list_id).ok_or_else(|| Reply::error(500, -1000, "An unknown error occurred."))?;
    let body = list.json(ex, Some("EXEC_STARTED"), (resp != OrderResponseType::Ack).then_some(&reports));
    Ok(Reply::ok(body))
}

/// Cancels every open leg of list `list_id` (`cancel_id`: the cancel's own client order id)
/// and returns their cancel reports.
pub(super) fn cancel_legs(ex: &mut PaperExchange, now: i64, list_id: u64, cancel_id: &str) -> Vec<String> {
    let legs: Vec<u64> = ex.lists.get(&list_id).map(|l| l.legs.clone()).unwrap_or_default();
    let mut reports = Vec::new();
    for id in legs {
        if !ex.orders.get(&id).is_some_and(PaperOrder::is_live) {
            continue;
        }
        let orig = ex.orders.get(&id).map(|o| o.client_id.clone()).unwrap_or_default();
        ex.end_order(now, id, OrderStatus::Canceled, "CANCELED", Some((cancel_id, &orig)));
        if let Some(o) = ex.orders.get(&id) {
            let r = Obj::new()
                .str("symbol", &o.symbol)
                .str("origClientOrderId", &o.client_id)
                .int("orderId", i64::try_from(o.id).unwrap_or(i64::MAX))
                .int("orderListId", i64::try_from(list_id).unwrap_or(i64::MAX))
                .str("clientOrderId", cancel_id)
                .int("transactTime", now);
            reports.push(result_fields(r, o).str("selfTradePreventionMode", o.stp.as_str()).finish());
        }
    }
    reports
}

/// Cancels list `list_id` and returns its entry as `DELETE /api/v3/openOrders` lists it.
pub(super) fn cancel_list_entry(ex: &mut PaperExchange, now: i64, list_id: u64, cancel_id: &str) -> Option<String> {
    let reports = cancel_legs(ex, now, list_id, cancel_id);
    let list = ex.lists.get(&list_id)?;
    Some(list.json(ex, Some("ALL_DONE"), Some(&reports)))
}

/// `DELETE /api/v3/orderList`.
pub(super) fn cancel_order_list(ex: &mut PaperExchange, now: i64, params: &Params) -> Result<Reply, Reply> {
    let symbol = params.required("symbol")?;
    if !ex.markets.contains_key(symbol) {
        return Err(invalid_symbol());
    }
    let unknown = || Reply::error(400, -2011, "Order list does not exist.");
    let list_id = ex.named_list(params, "listClientOrderId")?.ok_or_else(unknown)?;
    let list = ex.lists.get(&list_id).ok_or_else(unknown)?;
    if list.done || list.symbol != symbol {
        return Err(unknown());
    }
    let cancel_id = match params.get("newClientOrderId") {
        Some(c) => ClientOrderId::new(c).map_err(|_| illegal_id("newClientOrderId"))?.as_str().to_owned(),
        None => ex.generated_id(),
    };
    let (base, quote) = ex
        .lists
        .get(&list_id)
        .and_then(|l| l.legs.first())
        .and_then(|id| ex.orders.get(id))
        .map(|o| (o.base.clone(), o.quote.clone()))
        .unwrap_or_default();
    let reports = cancel_legs(ex, now, list_id, &cancel_id);
    ex.account_position(now, &[&base, &quote]);
    let list = ex.lists.get(&list_id).ok_or_else(unknown)?;
    Ok(Reply::ok(list.json(ex, Some("ALL_DONE"), Some(&reports))))
}

/// `GET /api/v3/orderList`.
pub(super) fn query_order_list(ex: &PaperExchange, params: &Params) -> Result<Reply, Reply> {
    let unknown = || Reply::error(400, -2011, "Order list does not exist.");
    let list_id = ex.named_list(params, "origClientOrderId")?.ok_or_else(unknown)?;
    let list = ex.lists.get(&list_id).ok_or_else(unknown)?;
    Ok(Reply::ok(list.json(ex, None, None)))
}

/// `GET /api/v3/openOrderList`.
pub(super) fn open_order_lists(ex: &PaperExchange) -> Reply {
    let lists = ex.lists.values().filter(|l| !l.done).map(|l| l.json(ex, None, None));
    Reply::ok(array(lists))
}

/// `POST /api/v3/orderList/{oto,otoco,opo,opoco}`.
pub(super) fn place_oto(ex: &mut PaperExchange, now: i64, params: &Params, kind: OtoKind) -> Result<Reply, Reply> {
    let symbol = params.required("symbol")?.to_owned();
    let missing = |name: &str| {
        Reply::error(400, -1102, &format!("Mandatory parameter '{name}' was not sent, was empty/null, or malformed."))
    };
    let working_side = Side::from_wire(params.required("workingSide")?);
    let working_qty = params.decimal("workingQuantity")?.ok_or_else(|| missing("workingQuantity"))?;
    let working = leg(params, "working")?;
    let pending_side = Side::from_wire(params.required("pendingSide")?);
    let pending_qty = params.decimal("pendingQuantity")?;
    if kind.pays() && pending_qty.is_some() {
        return Err(Reply::error(400, -1225, "Pending orders should not include the 'pendingQuantity' tag."));
    }
    if !kind.pays() && pending_qty.is_none() {
        return Err(missing("pendingQuantity"));
    }
    let pending = match kind {
        OtoKind::Oto | OtoKind::Opo => PendingLegs::One(leg(params, "pending")?),
        OtoKind::Otoco | OtoKind::Opoco => {
            PendingLegs::Pair { above: leg(params, "pendingAbove")?, below: leg(params, "pendingBelow")? }
        }
    };
    let mut oto = OtoRequest::from_parts(
        symbol.clone(),
        working_side.clone(),
        working_qty,
        working,
        pending_side.clone(),
        pending_qty,
        pending,
    );
    if let Some(id) = params.get("listClientOrderId") {
        oto = oto.with_list_client_order_id(ClientOrderId::new(id).map_err(|_| illegal_id("listClientOrderId"))?);
    }
    if let Some(r) = params.get("newOrderRespType") {
        oto = oto.with_response_type(OrderResponseType::from_wire(r));
    }
    if let Some(m) = params.get("selfTradePreventionMode") {
        oto = oto.with_self_trade_prevention_mode(SelfTradePreventionMode::from_wire(m));
    }
    let rules = ex.rules(&symbol).ok_or_else(invalid_symbol)?;
    let ctx = validation_context(ex, now, &symbol)?;
    let request = ListRequest::Oto(Box::new(oto));
    rules.validate_list(&request, &ctx).map_err(|e| Reply::error(400, e.code(), &e.to_string()))?;
    let ListRequest::Oto(oto) = request else { return Err(Reply::error(500, -1000, "An unknown error occurred.")) };
    let (base, quote) = (rules.base_asset().to_owned(), rules.quote_asset().to_owned());
    let default_stp = rules.default_self_trade_prevention_mode().cloned().unwrap_or(SelfTradePreventionMode::None);
    let w = oto.working();
    let working_price = leg_price(ex, &symbol, &working_side, w, true)?;
    // A pending leg that is pegged takes its price when it is placed.
    let legs = in_binance_order(oto.legs(), 1);
    let pending_prices =
        legs.iter().skip(1).map(|l| leg_price(ex, &symbol, &pending_side, l, false)).collect::<Result<Vec<_>, _>>()?;
    if w.order_type() == &OrderType::LimitMaker
        && !ex.plan(&symbol, &working_side, Some(working_price), Some(working_qty), None).0.is_empty()
    {
        return Err(rejected("Order would immediately match and take."));
    }
    let (list_client_id, leg_ids) = list_ids(ex, &symbol, oto.list_client_order_id(), &legs)?;
    // Only the working order locks on placement.
    let lock = if working_side == Side::Buy {
        working_price.checked_mul(working_qty).unwrap_or(Decimal::MAX)
    } else {
        working_qty
    };
    let locked_asset = if working_side == Side::Buy { quote.clone() } else { base.clone() };
    let balance = ex.balances.entry(locked_asset).or_default();
    if balance.free < lock {
        return Err(rejected("Account has insufficient balance for requested action."));
    }
    ex.throttle.admit_order(now).map_err(|r| r.0)?;
    balance.free -= lock;
    balance.locked += lock;
    for _ in 0..kind.order_count() {
        ex.throttle.count_order(now);
    }
    let list_id = ex.next_list_id;
    ex.next_list_id += 1;
    let stp = oto.self_trade_prevention_mode().cloned().unwrap_or(default_stp);
    let mut ids = Vec::new();
    for (k, (l, client_id)) in legs.iter().zip(leg_ids).enumerate() {
        let id = ex.next_order_id;
        ex.next_order_id += 1;
        let kind = l.order_type().clone();
        let (side, qty) = if k == 0 {
            (working_side.clone(), working_qty)
        } else {
            (pending_side.clone(), oto.pending_quantity().unwrap_or_default())
        };
        ex.insert_order(PaperOrder {
            symbol: symbol.clone(),
            base: base.clone(),
            quote: quote.clone(),
            id,
            client_id,
            side,
            kind: kind.clone(),
            tif: l.time_in_force().cloned().unwrap_or(TimeInForce::Gtc),
            price: if k == 0 { working_price } else { pending_prices.get(k - 1).copied().unwrap_or_default() },
            qty,
            quote_qty: Decimal::ZERO,
            stop: l.stop_price().unwrap_or_default(),
            iceberg: l.iceberg_qty().unwrap_or_default(),
            executed: Decimal::ZERO,
            cum_quote: Decimal::ZERO,
            status: if k == 0 { OrderStatus::New } else { OrderStatus::PendingNew },
            time: now,
            update: now,
            working: (k == 0).then_some(now),
            stp: stp.clone(),
            lock: if k == 0 { lock } else { Decimal::ZERO },
            traded: false,
            amends: 0,
            prevented: Decimal::ZERO,
            prevented_match: None,
            last_prevention: None,
            trailing: l.trailing_delta(),
            extreme: None,
            peg: super::Peg::of_leg(l),
            sor: None,
            list: Some(list_id),
        });
        ids.push(id);
    }
    let working_id = ids.first().copied().unwrap_or_default();
    ex.lists.insert(
        list_id,
        PaperList {
            id: list_id,
            client_id: list_client_id,
            contingency: "OTO",
            symbol: symbol.clone(),
            legs: ids.clone(),
            done: false,
            time: now,
            working: Some(working_id),
            opo: kind.pays(),
            opo_locked: Decimal::ZERO,
        },
    );
    for id in &ids {
        ex.execution_report(now, *id, "NEW", None, None);
    }
    ex.list_status_event(now, list_id);
    let resp = oto.response_type().cloned().unwrap_or(OrderResponseType::Full);
    // The answer shows the orders as placed: the pending ones PENDING_NEW even when the working
    // order fills at once (Binance: query them again to see their placement).
    let mut reports: Vec<String> = if resp == OrderResponseType::Ack {
        Vec::new()
    } else {
        ids.iter().skip(1).filter_map(|id| ex.orders.get(id)).map(|o| order_response(ex, o, now, &resp, &[])).collect()
    };
    // A LIMIT working order that crosses takes at once, as any order would.
    let mut fills = Vec::new();
    if w.order_type() == &OrderType::Limit {
        let (f, satisfied) = ex.take(now, working_id);
        fills = f;
        let status = ex.orders.get(&working_id).map(|o| o.status.clone());
        if status == Some(OrderStatus::Filled) {
            ex.close(working_id);
        } else if w.time_in_force().is_some_and(|t| *t != TimeInForce::Gtc) && !satisfied {
            ex.end_order(now, working_id, OrderStatus::Expired, "EXPIRED", None);
        }
    }
    if resp != OrderResponseType::Ack
        && let Some(o) = ex.orders.get(&working_id)
    {
        reports.insert(0, order_response(ex, o, now, &resp, &fills));
    }
    ex.account_position(now, &[&base, &quote]);
    let list = ex.lists.get(&list_id).ok_or_else(|| Reply::error(500, -1000, "An unknown error occurred."))?;
    let body = list.json(ex, Some("EXEC_STARTED"), (resp != OrderResponseType::Ack).then_some(&reports));
    Ok(Reply::ok(body))
}

/// `GET /api/v3/allOrderList`: the lists from `fromId` (or in a time range), oldest first, at
/// most `limit` (500 by default, 1000 at most).
pub(super) fn all_order_lists(ex: &PaperExchange, params: &Params) -> Result<Reply, Reply> {
    let from = params.integer("fromId")?.and_then(|i| u64::try_from(i).ok());
    let start = params.time("startTime")?;
    let end = params.time("endTime")?;
    if from.is_some() && (start.is_some() || end.is_some()) {
        return Err(Reply::error(400, -1106, "Parameter 'startTime' sent when not required."));
    }
    let limit = params.integer("limit")?.unwrap_or(500).clamp(1, 1000);
    let lists = ex
        .lists
        .values()
        .filter(|l| from.is_none_or(|f| l.id >= f))
        .filter(|l| start.is_none_or(|s| l.time >= s) && end.is_none_or(|e| l.time <= e))
        .take(usize::try_from(limit).unwrap_or(500))
        .map(|l| l.json(ex, None, None));
    Ok(Reply::ok(array(lists)))
}
