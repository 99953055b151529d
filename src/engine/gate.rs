//! Admission and dispatch: the one exit every request of the engine leaves by.
//!
//! Requests wait here as purposes, not as built requests: an order, a cancel or a query is built
//! and signed only when the [`RateLimiter`](crate::limits::RateLimiter) has charged its cost, so
//! its `timestamp` is the moment it leaves. Three classes are served in this order, each first in
//! first out: cancels (which may use the limiter's cancel reserve), other requests (queries,
//! reconciliation, time, start-up, the user-data subscription; an identical one queued or in
//! flight absorbs a new one), and orders. While the limiter holds a class (a full window, a 429's
//! `Retry-After`, a 418 ban), nothing of that class is tried again before the hold's end.

use std::collections::VecDeque;

use crate::limits::{Admit, Cost, Refusal};
use crate::model::ClientOrderId;
use crate::orders::{OrderAction, OrderState};
use crate::rest::{OrderRef, RequestCost};
use crate::rules::{ValidatedList, ValidatedOrder};

use super::{Engine, Event, HoldReason, NotSentReason, Output, Purpose, RequestId};

/// An order (or order list) waiting for its turn: validated and reserved, not built. Its id is
/// the order's client order id, or the list's `listClientOrderId`.
#[derive(Debug)]
struct Waiting {
    id: ClientOrderId,
    valid: Pending,
}

/// What waits in the orders' queue.
#[derive(Debug)]
pub(super) enum Pending {
    Order(ValidatedOrder),
    /// An order routed through its symbol's SOR group (`POST /api/v3/sor/order`).
    Sor(ValidatedOrder),
    List(Box<ValidatedList>),
    Replace(Box<ReplaceJob>),
}

/// A cancel-replace waiting for its turn: the new order, the order it cancels, the options.
#[derive(Debug)]
pub(super) struct ReplaceJob {
    pub(super) valid: ValidatedOrder,
    pub(super) cancel: ClientOrderId,
    pub(super) options: crate::rest::CancelReplaceOptions,
}

impl Pending {
    fn symbol(&self) -> &str {
        match self {
            Pending::Order(v) | Pending::Sor(v) => v.request().symbol(),
            Pending::List(v) => v.request().symbol(),
            Pending::Replace(job) => job.valid.request().symbol(),
        }
    }
}

/// Any other request waiting for its turn.
#[derive(Debug)]
struct Queued {
    purpose: Purpose,
    /// Not before this instant (a start-up retry's back-off).
    not_before: i64,
}

/// A request handed out, waiting for its answer.
#[derive(Debug)]
pub(super) struct InFlight {
    pub(super) purpose: Purpose,
    /// When it was handed out (local ms).
    pub(super) sent_at: i64,
    /// The engine's activity count when it was handed out (see `Engine::activity`).
    pub(super) activity: u64,
    /// When it counts as unanswered.
    deadline: i64,
    /// Handed out on the WebSocket API connection (its answer is lost with the connection).
    ws: bool,
}

/// The requests in flight by id, in id order. Ids are handed out in increasing order, so a new
/// one goes at the back and a look-up is a binary search; answers mostly come oldest first, from
/// the front. (A `BTreeMap` did the same with several times the code on an order's path: issue
/// 20, point 10.)
#[derive(Debug, Default)]
struct InFlightTable(VecDeque<(RequestId, InFlight)>);

impl InFlightTable {
    fn position(&self, id: RequestId) -> Result<usize, usize> {
        self.0.binary_search_by_key(&id, |(k, _)| *k)
    }

    fn get(&self, id: RequestId) -> Option<&InFlight> {
        self.position(id).ok().and_then(|i| self.0.get(i)).map(|(_, f)| f)
    }

    /// Records `id` (replacing what it recorded, should it be there already).
    fn insert(&mut self, id: RequestId, flight: InFlight) {
        match self.position(id) {
            Ok(i) => {
                if let Some(slot) = self.0.get_mut(i) {
                    slot.1 = flight;
                }
            }
            Err(i) if i == self.0.len() => self.0.push_back((id, flight)),
            Err(i) => self.0.insert(i, (id, flight)),
        }
    }

    fn remove(&mut self, id: RequestId) -> Option<InFlight> {
        let i = self.position(id).ok()?;
        self.0.remove(i).map(|(_, f)| f)
    }

    fn iter(&self) -> impl Iterator<Item = (RequestId, &InFlight)> {
        self.0.iter().map(|(id, f)| (*id, f))
    }

    fn values(&self) -> impl Iterator<Item = &InFlight> {
        self.0.iter().map(|(_, f)| f)
    }
}

/// The queues and the requests in flight.
#[derive(Debug, Default)]
pub(super) struct Gate {
    orders: VecDeque<Waiting>,
    requests: VecDeque<Queued>,
    in_flight: InFlightTable,
    last_id: RequestId,
    /// Each class is not tried before these instants (the limiter's last answer).
    cancels_until: i64,
    others_until: i64,
    orders_until: i64,
    /// The end of the last hold reported as [`Event::Held`].
    reported_hold: i64,
}

/// What one attempt at the gate did.
enum Step {
    /// Handed out (or dropped: it must not leave any more).
    Done,
    /// The limiter holds it until then.
    Hold(i64),
}

/// The limiter's verdict.
enum Admission {
    Go,
    Hold(i64),
    TooHeavy,
}

impl Gate {
    /// What the request handed out as `id` is for, while it waits for its answer.
    pub(super) fn purpose_of(&self, id: RequestId) -> Option<&Purpose> {
        self.in_flight.get(id).map(|f| &f.purpose)
    }

    /// Whether a request for `purpose` is out, its answer not in yet.
    pub(super) fn is_in_flight(&self, purpose: &Purpose) -> bool {
        self.in_flight.values().any(|f| &f.purpose == purpose)
    }

    /// Requests and orders waiting.
    pub(super) fn waiting(&self) -> usize {
        self.orders.len() + self.requests.len()
    }

    pub(super) fn orders_waiting(&self) -> usize {
        self.orders.len()
    }

    /// Removes a queued order; whether it was queued.
    pub(super) fn remove_order(&mut self, id: &ClientOrderId) -> bool {
        let before = self.orders.len();
        self.orders.retain(|w| w.id != *id);
        self.orders.len() != before
    }

    /// Removes the queued orders of `symbol`.
    pub(super) fn remove_orders_of(&mut self, symbol: &str) -> Vec<ClientOrderId> {
        let mut removed = Vec::new();
        self.orders.retain(|w| {
            let keep = w.valid.symbol() != symbol;
            if !keep {
                removed.push(w.id);
            }
            keep
        });
        removed
    }

    /// Removes every queued order.
    pub(super) fn take_orders(&mut self) -> Vec<ClientOrderId> {
        self.orders.drain(..).map(|w| w.id).collect()
    }

    /// Removes a queued request.
    pub(super) fn remove(&mut self, purpose: &Purpose) {
        self.requests.retain(|q| q.purpose != *purpose);
    }

    /// Whether a request for `purpose` is queued or in flight.
    pub(super) fn contains(&self, purpose: &Purpose) -> bool {
        self.pending(|p| p == purpose)
    }

    /// Whether a queued or in-flight request matches.
    pub(super) fn pending(&self, matches: impl Fn(&Purpose) -> bool) -> bool {
        self.requests.iter().any(|q| matches(&q.purpose)) || self.in_flight.values().any(|f| matches(&f.purpose))
    }

    /// Whether `id` is one this gate handed out (answered or not).
    pub(super) fn was_handed_out(&self, id: RequestId) -> bool {
        id > 0 && id <= self.last_id
    }

    /// The id of the last request handed out.
    pub(super) fn last_handed_out(&self) -> RequestId {
        self.last_id
    }

    /// Takes every request in flight on the WebSocket API connection out of flight.
    pub(super) fn take_ws_in_flight(&mut self) -> Vec<(RequestId, InFlight)> {
        let ids: Vec<RequestId> = self.in_flight.iter().filter(|(_, f)| f.ws).map(|(id, _)| id).collect();
        ids.into_iter().filter_map(|id| self.in_flight.remove(id).map(|f| (id, f))).collect()
    }

    /// Takes the request `id` out of flight.
    pub(super) fn answered(&mut self, id: RequestId) -> Option<InFlight> {
        self.in_flight.remove(id)
    }

    /// Requests in flight past their deadline.
    pub(super) fn expired(&self, now: i64) -> Vec<RequestId> {
        self.in_flight.iter().filter(|(_, f)| f.deadline <= now).map(|(id, _)| id).collect()
    }

    /// When something here needs time to pass: a deadline, a held class with requests, a
    /// retry's back-off.
    pub(super) fn next_timeout(&self, now: i64) -> i64 {
        let mut next = self.in_flight.values().map(|f| f.deadline).min().unwrap_or(i64::MAX);
        if !self.orders.is_empty() {
            next = next.min(self.orders_until.max(now));
        }
        for q in &self.requests {
            let class_until = if q.purpose.is_cancel() { self.cancels_until } else { self.others_until };
            next = next.min(q.not_before.max(class_until).max(now));
        }
        next
    }
}

impl Engine {
    /// Queues a request for the gate (see [`enqueue_at`](Self::enqueue_at)).
    pub(super) fn enqueue(&mut self, now: i64, purpose: Purpose) {
        self.enqueue_at(now, purpose);
    }

    /// Queues a request that may not leave before `not_before`, unless an identical one is
    /// queued. The tracker's queries, time syncs and the subscription are not doubled while one
    /// is in flight either; cancels and reconciliation reads are (one in flight was sent before
    /// what asks for a new one, and cannot speak for it).
    pub(super) fn enqueue_at(&mut self, not_before: i64, purpose: Purpose) {
        let absorbed = if purpose.absorbed_by_in_flight() {
            self.gate.contains(&purpose)
        } else {
            self.gate.requests.iter().any(|q| q.purpose == purpose)
        };
        if !absorbed {
            self.gate.requests.push_back(Queued { purpose, not_before });
        }
    }

    /// An order submitted: out at once if nothing waits ahead of it and the limiter admits it,
    /// else queued behind the others.
    pub(super) fn offer_order(&mut self, now: i64, id: ClientOrderId, valid: Pending) {
        if self.gate.orders.is_empty() && self.gate.orders_until <= now {
            match self.try_place(now, id, &valid) {
                Step::Done => return,
                Step::Hold(until) => self.gate.orders_until = until,
            }
        }
        self.gate.orders.push_back(Waiting { id, valid });
    }

    /// Lets out what may leave now: first what the tracker and supervision ask for is queued,
    /// then cancels, other requests and orders pass the limiter in that order.
    pub(super) fn pump(&mut self, now: i64) {
        self.connection_actions(now);
        if self.time.needs_resync(now) {
            self.enqueue(now, Purpose::Time);
        }
        if self.account_check_pending && !self.gate.pending(|p| matches!(p, Purpose::OpenOrders(_) | Purpose::Query(_)))
        {
            self.account_check_pending = false;
            self.enqueue(now, Purpose::Account);
        }
        // A `TRANSFER` order's prevented funds are held: what happened is asked for.
        for id in self.orders.hold_queries(now) {
            self.enqueue(now, Purpose::PreventedMatches(id));
        }
        while let Some(action) = self.orders.poll_action(now) {
            let purpose = match action {
                OrderAction::Query { client_order_id, .. } => Purpose::Query(client_order_id),
                OrderAction::FetchTrades { client_order_id, allocations: true, .. } => {
                    Purpose::Allocations(client_order_id)
                }
                OrderAction::FetchTrades { client_order_id, .. } => Purpose::Trades(client_order_id),
                OrderAction::QueryList { list, .. } => Purpose::QueryList(list),
            };
            self.enqueue(now, purpose);
        }
        self.drain_requests(now, true);
        self.drain_requests(now, false);
        while self.gate.orders_until <= now {
            let Some(w) = self.gate.orders.pop_front() else { break };
            if let Step::Hold(until) = self.try_place(now, w.id, &w.valid) {
                self.gate.orders_until = until;
                self.gate.orders.push_front(w);
            }
        }
    }

    fn drain_requests(&mut self, now: i64, cancels: bool) {
        let until = if cancels { self.gate.cancels_until } else { self.gate.others_until };
        if until > now {
            return;
        }
        let mut i = 0;
        while let Some(q) = self.gate.requests.get(i) {
            if q.purpose.is_cancel() != cancels || q.not_before > now {
                i += 1;
                continue;
            }
            let purpose = q.purpose.clone();
            match self.try_request(now, &purpose) {
                Step::Done => {
                    self.gate.requests.remove(i);
                }
                Step::Hold(until) => {
                    if cancels {
                        self.gate.cancels_until = until;
                    } else {
                        self.gate.others_until = until;
                    }
                    return;
                }
            }
        }
    }

    /// The limiter's verdict on a request of `cost`; a hold is reported once.
    fn admit(&mut self, now: i64, cost: RequestCost, cancel: bool) -> Admission {
        let verdict = self.limiter.admit(Cost { weight: cost.weight, orders: cost.orders, cancel }, now);
        match verdict {
            Admit::Proceed => Admission::Go,
            Admit::Wait { until_ms } | Admit::Refused(Refusal::Banned { until_ms }) => {
                if let Some(block) = self.limiter.blocked(now)
                    && block.until_ms > self.gate.reported_hold
                {
                    self.gate.reported_hold = block.until_ms;
                    let reason = if block.banned { HoldReason::Banned } else { HoldReason::Throttled };
                    let waiting = self.gate.waiting().max(1);
                    self.emit(Event::Held { reason, until_ms: block.until_ms, waiting });
                }
                Admission::Hold(until_ms.max(now.saturating_add(1)))
            }
            Admit::Refused(Refusal::TooHeavy) => Admission::TooHeavy,
        }
    }

    /// An order's (or list's) turn: it leaves only if the tracker still holds it `PendingNew`,
    /// unsent, with its funds reserved, and the limiter admits it; it is built and signed now.
    fn try_place(&mut self, now: i64, id: ClientOrderId, valid: &Pending) -> Step {
        let (valid, sor) = match valid {
            Pending::Order(v) => (v, false),
            Pending::Sor(v) => (v, true),
            Pending::List(list) => return self.try_place_list(now, id, list),
            Pending::Replace(job) => return self.try_replace(now, id, job),
        };
        if !self.orders.awaits_send(&id) {
            return Step::Done;
        }
        match self.admit(now, RequestCost::NEW_ORDER, false) {
            Admission::Go => {}
            Admission::Hold(until) => return Step::Hold(until),
            Admission::TooHeavy => {
                self.not_sent_order(id, NotSentReason::TooHeavy);
                return Step::Done;
            }
        }
        let timestamp = self.time.server_now(now);
        if self.orders_over_ws() {
            let auth = if self.ws_session { crate::ws_api::WsAuth::Session } else { crate::ws_api::WsAuth::Signed };
            let ws_id = self.next_ws_id();
            let built = if sor {
                self.ws_api.sor_order_place(&ws_id, valid, auth, timestamp)
            } else {
                self.ws_api.order_place(&ws_id, valid, auth, timestamp)
            };
            match built {
                Ok(frame) => {
                    if self.orders.on_sent(now, &id, timestamp, self.recv_window_ms) {
                        self.hand_out_ws(now, Purpose::Place(id), frame.text);
                    }
                }
                Err(e) => self.not_sent_order(id, NotSentReason::WsBuild(e)),
            }
            return Step::Done;
        }
        let built = if sor { self.rest.sor_order(valid, timestamp) } else { self.rest.new_order(valid, timestamp) };
        match built {
            Ok(built) => {
                debug_assert_eq!(built.cost, RequestCost::NEW_ORDER);
                if self.orders.on_sent(now, &id, timestamp, self.recv_window_ms) {
                    self.hand_out(now, Purpose::Place(id), built.request);
                }
            }
            Err(e) => self.not_sent_order(id, NotSentReason::Build(e)),
        }
        Step::Done
    }

    /// A cancel-replace's turn, as its new order's: it leaves only if the tracker still holds the
    /// new order `PendingNew`, unsent, reserved; the old order is named by its exchange id when
    /// known.
    fn try_replace(&mut self, now: i64, id: ClientOrderId, job: &ReplaceJob) -> Step {
        if !self.orders.awaits_send(&id) {
            return Step::Done;
        }
        match self.admit(now, RequestCost::CANCEL_REPLACE, false) {
            Admission::Go => {}
            Admission::Hold(until) => return Step::Hold(until),
            Admission::TooHeavy => {
                self.emit(Event::NotSent { purpose: Purpose::Replace(id), reason: NotSentReason::TooHeavy });
                self.not_sent_ids(&id);
                return Step::Done;
            }
        }
        let cancel = match self.orders.get(&job.cancel).and_then(|v| v.order_id) {
            Some(order_id) => crate::rest::OrderRef::OrderId(order_id),
            None => crate::rest::OrderRef::ClientOrderId(job.cancel),
        };
        let timestamp = self.time.server_now(now);
        match self.rest.cancel_replace_with(&job.valid, cancel, &job.options, timestamp) {
            Ok(built) => {
                if self.orders.on_sent(now, &id, timestamp, self.recv_window_ms) {
                    self.hand_out(now, Purpose::Replace(id), built.request);
                }
            }
            Err(e) => {
                self.emit(Event::NotSent { purpose: Purpose::Replace(id), reason: NotSentReason::Build(e) });
                self.not_sent_ids(&id);
            }
        }
        Step::Done
    }

    /// A list's turn, as an order's (it counts two or three orders).
    fn try_place_list(&mut self, now: i64, list: ClientOrderId, valid: &ValidatedList) -> Step {
        if !self.orders.list_awaits_send(&list) {
            return Step::Done;
        }
        let cost =
            if valid.request().order_count() > 2 { RequestCost::NEW_ORDER_LIST_3 } else { RequestCost::NEW_ORDER_LIST };
        match self.admit(now, cost, false) {
            Admission::Go => {}
            Admission::Hold(until) => return Step::Hold(until),
            Admission::TooHeavy => {
                self.emit(Event::NotSent { purpose: Purpose::PlaceList(list), reason: NotSentReason::TooHeavy });
                self.not_sent_ids(&list);
                return Step::Done;
            }
        }
        let timestamp = self.time.server_now(now);
        match self.rest.order_list(valid, timestamp) {
            Ok(built) => {
                if self.orders.on_list_sent(now, &list, timestamp, self.recv_window_ms) {
                    self.hand_out(now, Purpose::PlaceList(list), built.request);
                }
            }
            Err(e) => {
                self.emit(Event::NotSent { purpose: Purpose::PlaceList(list), reason: NotSentReason::Build(e) });
                self.not_sent_ids(&list);
            }
        }
        Step::Done
    }

    fn not_sent_order(&mut self, id: ClientOrderId, reason: NotSentReason) {
        self.emit(Event::NotSent { purpose: Purpose::Place(id), reason });
        self.not_sent_ids(&id);
    }

    /// The order `id` names (a list's legs, or the order) was never sent: `NotPlaced`, funds
    /// released.
    pub(super) fn not_sent_ids(&mut self, id: &ClientOrderId) {
        for leg in self.orders.legs_or_self(id) {
            let applied = self.orders.on_not_sent(&leg);
            self.emit_applied(applied);
        }
        // A cancel-replace that never left: the old order was never asked to cancel.
        if let Some(old) = self.replacing.remove(id) {
            let applied = self.orders.on_cancel_not_sent(&old);
            self.emit_applied(applied);
        }
    }

    /// Another request's turn: dropped if it no longer applies, else charged, built, signed
    /// and handed out.
    fn try_request(&mut self, now: i64, purpose: &Purpose) -> Step {
        let cost = match purpose {
            Purpose::Time => RequestCost::TIME,
            Purpose::ExchangeInfo => RequestCost::EXCHANGE_INFO,
            Purpose::Snapshot | Purpose::Account => RequestCost::ACCOUNT,
            Purpose::Adopt => RequestCost::OPEN_ORDERS_ALL,
            Purpose::OpenOrders(_) => RequestCost::OPEN_ORDERS_SYMBOL,
            Purpose::Cancel(_) | Purpose::CancelAll(_) => RequestCost::CANCEL,
            Purpose::Amend(_) => RequestCost::AMEND,
            Purpose::Query(_) => RequestCost::QUERY_ORDER,
            Purpose::QueryList(_) => RequestCost::QUERY_ORDER_LIST,
            Purpose::TestOrder(test) => {
                let compute = self.tests.get(test).is_some_and(|(_, c)| *c);
                RequestCost::flat(if compute { 20 } else { 1 })
            }
            Purpose::Trades(_) => RequestCost::MY_TRADES_BY_ORDER,
            Purpose::Allocations(_) => RequestCost::MY_ALLOCATIONS,
            Purpose::PreventedMatches(_) => RequestCost::PREVENTED_MATCHES_BY_ORDER,
            Purpose::Subscribe => RequestCost::WS_USER_DATA_SUBSCRIBE,
            // Orders and lists wait in their own queue.
            Purpose::Place(_) | Purpose::PlaceList(_) | Purpose::Replace(_) => return Step::Done,
        };
        // What no longer applies is dropped before the limiter charges it.
        let still_applies = match purpose {
            Purpose::Subscribe => self.user_conn.is_live(),
            Purpose::Cancel(id) => self.orders.get(id).is_some_and(|v| v.state == OrderState::PendingCancel),
            Purpose::Amend(id) => self.orders.get(id).is_some_and(|v| {
                v.amending.is_some() && matches!(v.state, OrderState::New | OrderState::PartiallyFilled)
            }),
            Purpose::Query(id) => self.orders.get(id).is_some(),
            Purpose::QueryList(list) => self.orders.legs(list).is_some(),
            Purpose::TestOrder(test) => self.tests.contains_key(test),
            Purpose::Trades(id) | Purpose::Allocations(id) | Purpose::PreventedMatches(id) => {
                self.orders.get(id).is_some_and(|v| v.order_id.is_some())
            }
            _ => true,
        };
        if !still_applies {
            return Step::Done;
        }
        match self.admit(now, cost, purpose.is_cancel()) {
            Admission::Go => {}
            Admission::Hold(until) => return Step::Hold(until),
            Admission::TooHeavy => {
                self.not_sent(now, purpose, NotSentReason::TooHeavy);
                return Step::Done;
            }
        }
        let timestamp = self.time.server_now(now);
        if self.orders_over_ws() && purpose.is_order_request() {
            self.hand_out_ws_request(now, purpose, cost, timestamp);
            return Step::Done;
        }
        let symbol_of = |id: &ClientOrderId| self.orders.get(id).map(|v| (v.symbol.as_str(), v.order_id));
        let built = match purpose {
            Purpose::Time => self.rest.time(),
            Purpose::ExchangeInfo => self.rest.exchange_info(&[]),
            Purpose::Snapshot | Purpose::Account => self.rest.account(false, timestamp),
            Purpose::Adopt => self.rest.open_orders(None, timestamp),
            Purpose::OpenOrders(symbol) => self.rest.open_orders(Some(symbol), timestamp),
            Purpose::CancelAll(symbol) => self.rest.cancel_all_open_orders(symbol, timestamp),
            Purpose::QueryList(list) => {
                self.rest.query_order_list(crate::rest::ListRef::ListClientOrderId(*list), timestamp)
            }
            Purpose::TestOrder(test) => {
                let Some((valid, compute)) = self.tests.remove(test) else { return Step::Done };
                self.rest.test_order(&valid, compute, timestamp)
            }
            Purpose::Amend(id) => {
                let Some((symbol, Some(new_qty))) = self.orders.get(id).map(|v| (v.symbol.as_str(), v.amending)) else {
                    return Step::Done;
                };
                self.rest.amend_keep_priority(symbol, OrderRef::ClientOrderId(*id), new_qty, Some(id), timestamp)
            }
            Purpose::Cancel(id)
            | Purpose::Query(id)
            | Purpose::Trades(id)
            | Purpose::Allocations(id)
            | Purpose::PreventedMatches(id) => {
                let Some((symbol, order_id)) = symbol_of(id) else { return Step::Done };
                match (purpose, order_id) {
                    (Purpose::Cancel(_), _) => self.rest.cancel_order(symbol, OrderRef::ClientOrderId(*id), timestamp),
                    (Purpose::Trades(_), Some(order_id)) => {
                        self.rest.my_trades(symbol, Some(order_id), None, timestamp)
                    }
                    (Purpose::PreventedMatches(_), Some(order_id)) => self.rest.my_prevented_matches(
                        symbol,
                        crate::rest::PreventedMatches::ByOrder { order_id, from_prevented_match_id: None, limit: None },
                        timestamp,
                    ),
                    (Purpose::Allocations(_), Some(order_id)) => {
                        let query = crate::rest::HistoryQuery { order_id: Some(order_id), ..Default::default() };
                        self.rest.my_allocations(symbol, &query, timestamp)
                    }
                    _ => self.rest.query_order(symbol, OrderRef::ClientOrderId(*id), timestamp),
                }
            }
            Purpose::Subscribe => {
                let frame_id = format!("uds-{}", self.gate.last_id.saturating_add(1));
                // Orders over the connection with an Ed25519 key: log on once, then subscribe
                // on the session (no signature per request from then on).
                let logon = self.config.order_channel == super::OrderChannel::WsApi
                    && self.config.credentials.signer().kind() == crate::sign::KeyKind::Ed25519;
                if logon {
                    let logon_id = format!("logon-{}", self.gate.last_id.saturating_add(1));
                    match self.ws_api.session_logon(&logon_id, timestamp) {
                        Ok(frame) => self.outputs.push_back(Output::Ws { text: frame.text }),
                        Err(e) => {
                            self.not_sent(now, purpose, NotSentReason::WsBuild(e));
                            return Step::Done;
                        }
                    }
                }
                let built = if logon {
                    self.ws_api.user_data_stream_subscribe(&frame_id)
                } else {
                    self.ws_api.user_data_stream_subscribe_signature(&frame_id, timestamp)
                };
                match built {
                    Ok(frame) => {
                        self.gate.last_id = self.gate.last_id.saturating_add(1);
                        self.subscribe_id = Some(frame_id);
                        self.user_stream = super::UserStream::Subscribing;
                        self.outputs.push_back(Output::Ws { text: frame.text });
                    }
                    Err(e) => self.not_sent(now, purpose, NotSentReason::WsBuild(e)),
                }
                return Step::Done;
            }
            Purpose::Place(_) | Purpose::PlaceList(_) | Purpose::Replace(_) => return Step::Done,
        };
        match built {
            Ok(built) => {
                debug_assert_eq!(built.cost, cost, "{purpose:?}");
                self.hand_out(now, purpose.clone(), built.request);
            }
            Err(e) => self.not_sent(now, purpose, NotSentReason::Build(e)),
        }
        Step::Done
    }

    /// A cancel, query, amend or cancel-all over the WebSocket API connection the orders use (the
    /// session signs nothing; without a logon each frame is signed), built now; its answer is
    /// applied as the REST answer would be, and a lost connection makes it unanswered (a cancel's
    /// order queried, never a blind resend).
    fn hand_out_ws_request(
        &mut self,
        now: i64,
        purpose: &Purpose,
        cost: RequestCost,
        timestamp: crate::clock::ServerMs,
    ) {
        let auth = if self.ws_session { crate::ws_api::WsAuth::Session } else { crate::ws_api::WsAuth::Signed };
        let frame_id = self.next_ws_id();
        let view = |id: &ClientOrderId| self.orders.get(id);
        let built = match purpose {
            Purpose::Cancel(id) => view(id)
                .map(|v| self.ws_api.order_cancel(&frame_id, &v.symbol, OrderRef::ClientOrderId(*id), auth, timestamp)),
            Purpose::Query(id) => view(id)
                .map(|v| self.ws_api.order_status(&frame_id, &v.symbol, OrderRef::ClientOrderId(*id), auth, timestamp)),
            Purpose::Amend(id) => view(id).and_then(|v| {
                let new_qty = v.amending?;
                Some(self.ws_api.order_amend_keep_priority(
                    &frame_id,
                    &v.symbol,
                    OrderRef::ClientOrderId(*id),
                    new_qty,
                    Some(id),
                    auth,
                    timestamp,
                ))
            }),
            Purpose::CancelAll(symbol) => Some(self.ws_api.open_orders_cancel_all(&frame_id, symbol, auth, timestamp)),
            _ => None,
        };
        match built {
            // The order is gone from the tracker (or has nothing to amend): nothing to ask.
            None => {}
            Some(Ok(frame)) => {
                debug_assert_eq!(frame.cost, cost, "{purpose:?}");
                self.hand_out_ws(now, purpose.clone(), frame.text);
            }
            Some(Err(e)) => self.not_sent(now, purpose, NotSentReason::WsBuild(e)),
        }
    }

    /// A request that will not leave: reported; a cancel's order goes back to its state before
    /// and is queried.
    fn not_sent(&mut self, now: i64, purpose: &Purpose, reason: NotSentReason) {
        self.emit(Event::NotSent { purpose: purpose.clone(), reason });
        let applied = match purpose {
            Purpose::Cancel(id) => self.orders.on_cancel_unanswered(now, id),
            Purpose::Amend(id) => self.orders.on_amend_not_sent(id),
            Purpose::TestOrder(test) => {
                self.tests.remove(test);
                return;
            }
            _ => return,
        };
        self.emit_applied(applied);
    }

    /// Hands a built request out; its reply timer starts now.
    fn hand_out(&mut self, now: i64, purpose: Purpose, request: http::Request<bytes::Bytes>) {
        let id = self.in_flight(now, purpose, false);
        self.outputs.push_back(Output::Http { id, request });
    }

    /// Hands a WebSocket API frame out (built for request id [`next_ws_id`](Self::next_ws_id));
    /// its reply timer starts now.
    fn hand_out_ws(&mut self, now: i64, purpose: Purpose, text: String) {
        self.in_flight(now, purpose, true);
        self.outputs.push_back(Output::Ws { text });
    }

    /// The frame id of the next request handed out (`r<id>`), for a WebSocket API frame.
    fn next_ws_id(&self) -> String {
        format!("r{}", self.gate.last_id.saturating_add(1))
    }

    /// Whether new orders go over the WebSocket API connection now: asked for, and its
    /// subscription stands on a live connection.
    fn orders_over_ws(&self) -> bool {
        self.config.order_channel == super::OrderChannel::WsApi
            && self.user_stream == super::UserStream::Subscribed
            && self.user_conn.is_live()
    }

    /// Records a request handed out now as in flight; its id.
    fn in_flight(&mut self, now: i64, purpose: Purpose, ws: bool) -> RequestId {
        if let Purpose::Query(id) = &purpose {
            self.orders.on_query_sent(now, id);
        }
        if let Purpose::QueryList(list) = &purpose {
            self.orders.on_list_query_sent(now, list);
        }
        self.gate.last_id = self.gate.last_id.saturating_add(1);
        let id = self.gate.last_id;
        let deadline = now.saturating_add(self.config.request_timeout_ms);
        let activity = self.activity;
        if purpose.moves_balances() {
            // From here the exchange's balances may move: a snapshot sent before is stale.
            self.activity = self.activity.wrapping_add(1);
        }
        self.gate.in_flight.insert(id, InFlight { purpose, sent_at: now, activity, deadline, ws });
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flight(deadline: i64) -> InFlight {
        InFlight { purpose: Purpose::Time, sent_at: 0, activity: 0, deadline, ws: deadline % 2 == 0 }
    }

    /// The table answers as the ordered map it replaced: by id whatever the order of insertion,
    /// iterated in id order, a second insert of an id replacing the first, a removed id gone.
    #[test]
    fn in_flight_table_is_an_ordered_map() {
        let mut table = InFlightTable::default();
        let mut model = std::collections::BTreeMap::new();
        // Mostly increasing (the gate's order), some out of order and repeated.
        for (i, id) in [1u64, 2, 3, 7, 5, 9, 4, 9, 11, 2, 12].into_iter().enumerate() {
            let deadline = i64::try_from(i).unwrap_or(0) * 10;
            table.insert(id, flight(deadline));
            model.insert(id, deadline);
        }
        for id in [3u64, 1, 12, 6, 9] {
            assert_eq!(table.remove(id).map(|f| f.deadline), model.remove(&id), "remove {id}");
        }
        for id in 0..14u64 {
            assert_eq!(table.get(id).map(|f| f.deadline), model.get(&id).copied(), "get {id}");
        }
        let listed: Vec<(u64, i64)> = table.iter().map(|(id, f)| (id, f.deadline)).collect();
        let expected: Vec<(u64, i64)> = model.iter().map(|(id, d)| (*id, *d)).collect();
        assert_eq!(listed, expected);
        assert_eq!(table.values().count(), model.len());
    }
}
