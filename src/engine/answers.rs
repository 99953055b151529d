//! Answers: each HTTP answer is decoded once into an [`Answer`] that feeds the limiter, the
//! clock (`-1021`), the kill switch (418) and then the one owner of what the request was for.

use bytes::Bytes;
use serde::de::DeserializeOwned;

use crate::clock::TimeSample;
use crate::limits::Failure;
use crate::orders::OrderApplied;
use crate::rest::{AmendResponse, ApiError, CancelledEntry, MyTrade, OrderInfo, OrderList, OrderResponse, ServerTime};
use crate::ws_api::{UserDataEvent, WsFrame, WsResponse};

use super::gate::InFlight;
use super::{Engine, Event, FrameIgnored, HttpResult, KillReason, Purpose, RequestId, UserStream, UserStreamStatus};
use crate::clock::LocalMs;

/// One answer, decoded once.
#[derive(Debug)]
pub(super) enum Answer {
    /// A 2xx body.
    Ok(Bytes),
    /// An error answer.
    Err(ApiError),
    /// A cancel-replace's `-2021` / `-2022` error with its `data`: what happened to each half.
    Replace(ApiError, Box<crate::rest::CancelReplace>),
    /// The request never left.
    NotSent,
    /// It may have arrived; no answer came.
    Unanswered,
}

impl Answer {
    /// The 2xx body as `T`: `None` for no answer or an error, `Some(Err)` for a body that does
    /// not read as `T`.
    pub(super) fn body<T: DeserializeOwned>(&self) -> Option<Result<T, serde_json::Error>> {
        match self {
            Self::Ok(body) => Some(serde_json::from_slice(body)),
            _ => None,
        }
    }

    /// The 2xx body as `T`, if it reads as one.
    pub(super) fn ok<T: DeserializeOwned>(&self) -> Option<T> {
        self.body().and_then(Result::ok)
    }

    /// The 2xx body as a placed order's answer ([`OrderResponse::from_json`]: Binance's own
    /// form read in one pass).
    fn order_response(&self) -> Option<OrderResponse> {
        match self {
            // `sor.order.place` answers with an array of its one order.
            Self::Ok(body) if body.first() == Some(&b'[') => {
                serde_json::from_slice::<Vec<OrderResponse>>(body).ok()?.into_iter().next()
            }
            Self::Ok(body) => OrderResponse::from_json(body).ok(),
            _ => None,
        }
    }

    /// What failed, for the retry policy (`None` for a success).
    pub(super) fn failure(&self) -> Option<Failure> {
        match self {
            Self::Ok(_) => None,
            Self::Err(e) if e.status >= 500 => Some(Failure::ServerError),
            Self::Err(_) | Self::Replace(..) => Some(Failure::Definitive),
            Self::NotSent | Self::Unanswered => Some(Failure::Transport),
        }
    }
}

impl Engine {
    /// The answer to request `id`. An answer whose request was already given up on (timed out)
    /// still feeds the limiter and the kill switch (its rate-limit headers, a 429, a 418 are
    /// facts about the IP), and nothing else; an id never handed out is ignored.
    pub fn handle_http_response(&mut self, now: impl Into<LocalMs>, id: RequestId, result: HttpResult) {
        let now = now.into().millis();
        self.observe_now(now);
        if !self.gate.was_handed_out(id) {
            return;
        }
        let flight = self.gate.answered(id);
        let (answer, order) = self.decode_once(now, result);
        if let Some(flight) = flight {
            self.apply_answer(now, id, flight, &answer, order);
        }
        self.pump(now);
    }

    /// The limiter reads the headers, the clock a `-1021`, the kill switch a 418; the body is
    /// parsed once into an [`ApiError`] when it is one. A placed order's answer already read
    /// ([`HttpResult::Order`]) comes back beside it, for the order's owner.
    fn decode_once(&mut self, now: i64, result: HttpResult) -> (Answer, Option<Box<OrderResponse>>) {
        let (response, order) = match result {
            HttpResult::NotSent => return (Answer::NotSent, None),
            HttpResult::Unanswered => return (Answer::Unanswered, None),
            HttpResult::Response(response) => (response, None),
            HttpResult::Order(response, order) => (response, Some(order)),
        };
        let status = response.status().as_u16();
        self.limiter.observe(status, response.headers(), response.body(), now);
        if response.status().is_success() {
            self.config.retry.on_success();
            return (Answer::Ok(response.into_body()), order);
        }
        let retry_after = response.headers().get(http::header::RETRY_AFTER).and_then(|v| v.to_str().ok());
        let error = ApiError::from_parts(status, response.body(), retry_after, now);
        if status == 418 {
            let until_ms = self.limiter.blocked(now).map_or(now, |b| b.until_ms);
            self.trip(now, KillReason::Banned { until_ms });
        }
        if error.code == Some(-1021) {
            self.time.mark_stale();
        }
        if matches!(error.code, Some(-2021 | -2022))
            && let Ok(data) = crate::rest::CancelReplace::from_error_body(response.body())
        {
            return (Answer::Replace(error, Box::new(data)), None);
        }
        (Answer::Err(error), None)
    }

    /// A list's answer, leg by leg: its reports (or, for an ACK, its members as `NEW`); an error
    /// or no answer applies to every leg (a list is placed whole or not at all).
    fn apply_list_answer(&mut self, now: i64, list: &crate::model::ClientOrderId, answer: &Answer) {
        let legs = self.orders.legs_or_self(list);
        let mut applied = Vec::new();
        match answer {
            Answer::Ok(_) => match answer.ok::<OrderList>() {
                Some(l) if l.list_client_order_id == list.as_str() => {
                    if l.order_reports.is_empty() {
                        // An ACK: each order exists (an OTO's pending ones wait for their trigger).
                        let (new, waiting) = (crate::model::OrderStatus::New, crate::model::OrderStatus::PendingNew);
                        for m in &l.orders {
                            let waits = crate::model::ClientOrderId::new(&m.client_order_id)
                                .is_ok_and(|id| self.orders.awaits_trigger(&id));
                            let report = crate::orders::OrderReport {
                                client_order_id: &m.client_order_id,
                                orig_client_order_id: None,
                                order_id: m.order_id,
                                status: Some(if waits { &waiting } else { &new }),
                                executed_qty: None,
                                cumulative_quote_qty: None,
                                reject_reason: None,
                                qty: None,
                                prevented_qty: None,
                                pegged_price: None,
                            };
                            applied.push(self.orders.on_report(now, &report, []));
                        }
                    } else {
                        for r in &l.order_reports {
                            applied.push(self.orders.on_report(now, &r.report(), r.trades()));
                        }
                    }
                }
                // An unreadable (or someone else's) success body: the list probably exists.
                _ => applied.extend(legs.iter().map(|leg| self.orders.on_place_unanswered(now, leg))),
            },
            Answer::Err(e) | Answer::Replace(e, _) => {
                applied.extend(legs.iter().map(|leg| self.orders.on_place_error(now, leg, e)))
            }
            Answer::NotSent => applied.extend(legs.iter().map(|leg| self.orders.on_not_sent(leg))),
            Answer::Unanswered => applied.extend(legs.iter().map(|leg| self.orders.on_place_unanswered(now, leg))),
        }
        for a in applied {
            self.emit_applied(a);
        }
    }

    /// A cancel-replace's answer, half by half: the old order's cancel and the new order.
    fn apply_replace_answer(&mut self, now: i64, new: crate::model::ClientOrderId, answer: &Answer) {
        let old = self.replacing.remove(&new);
        // Each half's error, read from the `data` of a -2021 / -2022.
        let half_error = |status: u16, value: Option<&serde_json::Value>| {
            let body = value.and_then(|v| serde_json::to_vec(v).ok()).unwrap_or_default();
            ApiError::from_parts(status, &body, None, now)
        };
        let mut applied = Vec::new();
        match answer {
            Answer::Ok(_) => match answer.ok::<crate::rest::CancelReplace>() {
                Some(both) => {
                    if let Some(cancelled) = both.cancelled() {
                        applied.push(self.orders.on_report(now, &cancelled.report(), []));
                    } else if let Some(old) = old {
                        applied.push(self.orders.on_cancel_unanswered(now, &old));
                    }
                    match both.new_order() {
                        Some(r) if r.client_order_id == new.as_str() => {
                            applied.push(self.orders.on_report(now, &r.report(), r.trades()));
                        }
                        _ => applied.push(self.orders.on_place_unanswered(now, &new)),
                    }
                }
                // An unreadable success body: both probably happened; each is asked for.
                None => {
                    if let Some(old) = old {
                        applied.push(self.orders.on_cancel_unanswered(now, &old));
                    }
                    applied.push(self.orders.on_place_unanswered(now, &new));
                }
            },
            Answer::Replace(error, data) => {
                self.emit(Event::RequestFailed { purpose: Purpose::Replace(new), error: error.clone() });
                match (data.cancel_result.as_str(), data.cancelled(), old) {
                    ("SUCCESS", Some(cancelled), _) => {
                        applied.push(self.orders.on_report(now, &cancelled.report(), []));
                    }
                    (_, _, Some(old)) => {
                        let e = half_error(400, data.cancel_response.as_ref());
                        applied.push(self.orders.on_cancel_error(now, &old, &e));
                    }
                    _ => {}
                }
                match data.new_order_result.as_str() {
                    "SUCCESS" => match data.new_order() {
                        Some(r) if r.client_order_id == new.as_str() => {
                            applied.push(self.orders.on_report(now, &r.report(), r.trades()));
                        }
                        _ => applied.push(self.orders.on_place_unanswered(now, &new)),
                    },
                    "NOT_ATTEMPTED" => applied.push(self.orders.on_not_sent(&new)),
                    _ => {
                        let e = half_error(error.status, data.new_order_response.as_ref());
                        applied.push(self.orders.on_place_error(now, &new, &e));
                    }
                }
            }
            Answer::Err(e) => {
                self.emit(Event::RequestFailed { purpose: Purpose::Replace(new), error: e.clone() });
                if let Some(old) = old {
                    // Refused before anything happened, or no knowing what did.
                    applied.push(if e.outcome() == crate::rest::Outcome::Unknown {
                        self.orders.on_cancel_unanswered(now, &old)
                    } else {
                        self.orders.on_cancel_not_sent(&old)
                    });
                }
                applied.push(self.orders.on_place_error(now, &new, e));
            }
            Answer::NotSent => {
                if let Some(old) = old {
                    applied.push(self.orders.on_cancel_not_sent(&old));
                }
                applied.push(self.orders.on_not_sent(&new));
            }
            Answer::Unanswered => {
                if let Some(old) = old {
                    applied.push(self.orders.on_cancel_unanswered(now, &old));
                }
                applied.push(self.orders.on_place_unanswered(now, &new));
            }
        }
        for a in applied {
            self.emit_applied(a);
        }
    }

    /// Applies `answer` to what its request was for; `order` is a placed order's answer already
    /// read from it (by [`HttpResult::read_order`]).
    pub(super) fn apply_answer(
        &mut self,
        now: i64,
        request: RequestId,
        flight: InFlight,
        answer: &Answer,
        order: Option<Box<OrderResponse>>,
    ) {
        match flight.purpose {
            Purpose::Time => {
                if let Some(t) = answer.ok::<ServerTime>() {
                    let sample = TimeSample { sent_at: flight.sent_at, server_time: t.server_time, received_at: now };
                    if self.time.add_sample(sample)
                        && let Some(offset_ms) = self.time.offset()
                    {
                        self.emit(Event::TimeSynced { offset_ms });
                    }
                }
            }
            Purpose::Place(id) => {
                let applied = match answer {
                    Answer::Ok(_) => match order.map(|o| *o).or_else(|| answer.order_response()) {
                        Some(r) if r.client_order_id == id.as_str() => {
                            self.orders.on_report(now, &r.report(), r.trades())
                        }
                        // An unreadable (or someone else's) success body: the order probably exists.
                        _ => self.orders.on_place_unanswered(now, &id),
                    },
                    Answer::Err(e) | Answer::Replace(e, _) => self.orders.on_place_error(now, &id, e),
                    Answer::NotSent => self.orders.on_not_sent(&id),
                    Answer::Unanswered => self.orders.on_place_unanswered(now, &id),
                };
                self.emit_applied(applied);
            }
            Purpose::PlaceList(list) => self.apply_list_answer(now, &list, answer),
            Purpose::TestOrder(test) => {
                let outcome = match answer {
                    Answer::Ok(_) => match answer.ok::<crate::rest::OrderCommissionRates>() {
                        Some(rates) => super::TestOutcome::Accepted(Some(Box::new(rates))),
                        None if answer.ok::<crate::rest::TestOrderAccepted>().is_some() => {
                            super::TestOutcome::Accepted(None)
                        }
                        None => super::TestOutcome::NoAnswer,
                    },
                    Answer::Err(e) | Answer::Replace(e, _) => super::TestOutcome::Refused(e.clone()),
                    Answer::NotSent | Answer::Unanswered => super::TestOutcome::NoAnswer,
                };
                self.emit(Event::OrderTested { test, outcome });
            }
            Purpose::QueryList(list) => match answer {
                Answer::Ok(_) => match answer.ok::<OrderList>() {
                    // Executing: its orders exist, as a placement's ACK says (their events and
                    // the reconciliation tell the rest).
                    Some(l) if l.list_client_order_id == list.as_str() && l.list_order_status == "EXECUTING" => {
                        self.apply_list_answer(now, &list, answer);
                    }
                    // Ended (or rejected): how each leg ended is asked for leg by leg.
                    Some(l) if l.list_client_order_id == list.as_str() => self.orders.resolve_list_by_legs(now, &list),
                    // Unreadable, or another list: the timer asks again.
                    _ => {}
                },
                Answer::Err(e) => {
                    for applied in self.orders.on_list_query_error(now, &list, e) {
                        self.emit_applied(applied);
                    }
                }
                // No answer: the timer asks again.
                _ => {}
            },
            Purpose::Replace(new) => self.apply_replace_answer(now, new, answer),
            Purpose::Query(id) => {
                // No answer, or an unreadable one: the tracker asks again on its own timer.
                let applied = match answer {
                    Answer::Err(e) => self.orders.on_query_error(now, &id, e),
                    _ => match answer.ok::<OrderInfo>() {
                        Some(info) => self.orders.on_report(now, &info.report(), []),
                        None => OrderApplied::Duplicate,
                    },
                };
                self.emit_applied(applied);
            }
            Purpose::Trades(id) => {
                if let Some(trades) = answer.ok::<Vec<MyTrade>>() {
                    let applied = self.orders.on_trades(now, &id, trades.iter().map(MyTrade::trade));
                    self.emit_applied(applied);
                }
            }
            Purpose::PreventedMatches(id) => match answer.ok::<Vec<crate::rest::PreventedMatch>>() {
                Some(matches) => {
                    let records: Vec<crate::orders::Prevention<'_>> =
                        matches.iter().map(crate::rest::PreventedMatch::prevention).collect();
                    let booked = self.orders.on_prevented_matches(now, &id, &records);
                    self.activity = self.activity.wrapping_add(u64::from(!booked.is_empty()));
                    for moved in booked {
                        match moved {
                            Ok((asset, amount)) => self.emit(Event::Transferred { asset, amount }),
                            Err(error) => {
                                let asset = self.orders.get(&id).map(|v| v.symbol.clone()).unwrap_or_default();
                                self.emit(Event::LedgerRefused { asset, error });
                            }
                        }
                    }
                }
                // Asked again after a back-off.
                None => {
                    if let Some(error) = self.orders.on_prevented_matches_failed(now, &id) {
                        let asset = self.orders.get(&id).map(|v| v.symbol.clone()).unwrap_or_default();
                        self.emit(Event::LedgerRefused { asset, error });
                    }
                }
            },
            Purpose::Allocations(id) => {
                if let Some(allocations) = answer.ok::<Vec<crate::rest::Allocation>>() {
                    let applied = self.orders.on_trades(now, &id, allocations.iter().filter_map(|a| a.trade()));
                    self.emit_applied(applied);
                }
            }
            Purpose::Cancel(id) => {
                let applied = match answer {
                    Answer::Err(e) => {
                        let applied = self.orders.on_cancel_error(now, &id, e);
                        self.emit(Event::RequestFailed { purpose: Purpose::Cancel(id), error: e.clone() });
                        applied
                    }
                    // Whether it was canceled is not known: back to the state before, and a query.
                    _ => match answer.ok::<CancelledEntry>() {
                        Some(CancelledEntry::Order(info)) => self.orders.on_report(now, &info.report(), []),
                        // A leg of a list: the whole list was canceled, and the answer is the
                        // list's (web-socket-api.md "Cancel order").
                        Some(CancelledEntry::OrderList { order_reports, .. }) => {
                            let mine = order_reports
                                .iter()
                                .position(|r| r.orig_client_order_id.as_deref() == Some(id.as_str()));
                            let mut applied = None;
                            for (i, info) in order_reports.iter().enumerate() {
                                let a = self.orders.on_report(now, &info.report(), []);
                                if Some(i) == mine {
                                    applied = Some(a);
                                } else {
                                    self.emit_applied(a);
                                }
                            }
                            match applied {
                                Some(a) => a,
                                None => self.orders.on_cancel_unanswered(now, &id),
                            }
                        }
                        None => self.orders.on_cancel_unanswered(now, &id),
                    },
                };
                self.emit_applied(applied);
            }
            Purpose::Amend(id) => {
                let applied = match answer {
                    Answer::Err(e) | Answer::Replace(e, _) => {
                        let applied = self.orders.on_amend_error(now, &id, e);
                        self.emit(Event::RequestFailed { purpose: Purpose::Amend(id), error: e.clone() });
                        applied
                    }
                    Answer::NotSent => self.orders.on_amend_not_sent(&id),
                    Answer::Unanswered => self.orders.on_amend_unanswered(now, &id),
                    Answer::Ok(_) => match answer.ok::<AmendResponse>() {
                        Some(r) if r.amended_order.client_order_id == id.as_str() => {
                            self.orders.on_amend_answer(now, &id, &r.amended_order.report())
                        }
                        // An unreadable success body: the order's quantity is asked for.
                        _ => self.orders.on_amend_unanswered(now, &id),
                    },
                };
                self.emit_applied(applied);
            }
            Purpose::CancelAll(symbol) => match answer {
                // -2011 "Unknown order sent.": nothing was open.
                Answer::Err(e) if e.code != Some(-2011) => {
                    self.emit(Event::RequestFailed { purpose: Purpose::CancelAll(symbol), error: e.clone() });
                }
                _ => {
                    for entry in answer.ok::<Vec<CancelledEntry>>().unwrap_or_default() {
                        let reports = match entry {
                            CancelledEntry::Order(info) => vec![*info],
                            // A list: its orders' cancel reports.
                            CancelledEntry::OrderList { order_reports, .. } => order_reports,
                        };
                        for info in reports {
                            let applied = self.orders.on_report(now, &info.report(), []);
                            self.emit_applied(applied);
                        }
                    }
                }
            },
            Purpose::OpenOrders(symbol) => self.on_open_orders(now, &symbol, answer),
            Purpose::Account => self.on_account(now, answer, request, flight.activity),
            Purpose::ExchangeInfo => self.on_exchange_info(now, answer),
            Purpose::Snapshot => self.on_snapshot(now, answer),
            Purpose::Adopt => self.on_adopt(now, answer),
            // Sent as a WebSocket frame, never in flight here.
            Purpose::Subscribe => {}
        }
    }

    /// A text frame from the user-data connection (WebSocket API, events in their wrapper).
    /// Every kind of frame has an owner: order events go to the tracker, the subscription's
    /// answer and `eventStreamTerminated` change the stream's state (a refused or ended
    /// subscription is asked again through the gate after a back-off, and counts as the stream
    /// being down), balance events bring a reconciliation forward, and a frame that does not
    /// decode, an event type this crate does not know and an answer nobody asked for are reported
    /// and counted ([`Engine::frame_counts`]).
    pub fn handle_ws_frame(&mut self, now: impl Into<LocalMs>, text: &[u8]) {
        self.handle_ws_decoded(now, WsFrame::decode(text), text.len());
    }

    /// [`handle_ws_frame`](Self::handle_ws_frame) with the frame already decoded by
    /// [`WsFrame::decode`] (`len`: the frame's length in bytes). A driver that shares the
    /// engine behind a lock decodes outside it, so the lock is held only while the frame is
    /// applied.
    ///
    /// ```
    /// # use aegis_exchange::{Engine, EngineConfig, ExchangeInfo, Credentials, HmacSha256};
    /// # use aegis_exchange::rest::Environment;
    /// use aegis_exchange::ws_api::WsFrame;
    /// # let creds = Credentials::new("key", HmacSha256::new("secret")).unwrap();
    /// # let mut engine = Engine::new(EngineConfig::new(Environment::Testnet, creds), ExchangeInfo::default());
    /// let text = br#"{"subscriptionId":0,"event":{"e":"eventStreamTerminated","E":1728973001334}}"#;
    /// let decoded = WsFrame::decode(text); // no lock needed
    /// engine.handle_ws_decoded(1_728_973_001_400_i64, decoded, text.len());
    /// assert_eq!(engine.frame_counts().terminated, 1);
    /// ```
    pub fn handle_ws_decoded(
        &mut self,
        now: impl Into<LocalMs>,
        decoded: Result<WsFrame, crate::DecodeError>,
        len: usize,
    ) {
        let now = now.into().millis();
        self.observe_now(now);
        self.user_conn.handle_frame(now);
        self.frames.received = self.frames.received.saturating_add(1);
        match decoded {
            Ok(WsFrame::Event { event, .. }) => self.on_user_event(now, event),
            Ok(WsFrame::Response(response)) => self.on_ws_response(now, &response),
            Err(_) => {
                self.frames.undecodable = self.frames.undecodable.saturating_add(1);
                self.emit(Event::FrameIgnored(FrameIgnored::Undecodable { len }));
            }
        }
        self.pump(now);
    }

    fn on_user_event(&mut self, now: i64, event: UserDataEvent) {
        match event {
            UserDataEvent::ExecutionReport(report) => {
                let applied = self.orders.on_report(now, &report.report(), report.trade());
                self.emit_applied(applied);
            }
            UserDataEvent::ServerShutdown { event_time } => {
                // Renewed make-before-break: a new connection is asked for now.
                self.user_conn.handle_server_shutdown();
                self.emit(Event::ServerShutdown { event_time });
            }
            UserDataEvent::EventStreamTerminated { event_time } => {
                self.frames.terminated = self.frames.terminated.saturating_add(1);
                self.user_stream = UserStream::Down;
                self.stream_down(now);
                self.emit(Event::UserStream(UserStreamStatus::Terminated { event_time }));
                self.resubscribe(now);
            }
            // Balances move outside the order path (deposits, withdrawals, external locks): the
            // reconciliation owner compares and corrects them.
            UserDataEvent::BalanceUpdate { .. } | UserDataEvent::ExternalLockUpdate { .. } => {
                self.frames.balance_events = self.frames.balance_events.saturating_add(1);
                self.account_check_pending = true;
            }
            // The tracker's own reports carry what these say about its orders.
            UserDataEvent::OutboundAccountPosition { .. } => {
                self.frames.balance_events = self.frames.balance_events.saturating_add(1);
            }
            UserDataEvent::ListStatus { .. } => self.frames.list_events = self.frames.list_events.saturating_add(1),
            other => {
                self.frames.unknown_events = self.frames.unknown_events.saturating_add(1);
                let name = match &other {
                    UserDataEvent::Unknown { event_type, .. } => event_type.clone(),
                    _ => String::from("?"),
                };
                self.emit(Event::FrameIgnored(FrameIgnored::UnknownEvent { event_type: name }));
            }
        }
    }

    fn on_ws_response(&mut self, now: i64, response: &WsResponse) {
        // The WebSocket API shares the IP's limits: its counts raise the limiter's.
        self.limiter.observe_counts(&response.rate_limits, now);
        // The answer to a request the gate handed out on this connection (an order).
        if let Some(request) = response.id.as_deref().and_then(|i| i.strip_prefix('r')).and_then(|n| n.parse().ok())
            && let Some(flight) = self.gate.answered(request)
        {
            let answer = match response.api_error() {
                None => match response.result.as_ref().map(serde_json::to_vec) {
                    Some(Ok(body)) => Answer::Ok(Bytes::from(body)),
                    _ => Answer::Unanswered,
                },
                Some(error) => {
                    if error.status == 418 {
                        let until_ms = error.retry_after_ms.unwrap_or(now);
                        self.trip(now, KillReason::Banned { until_ms });
                    }
                    if error.code == Some(-1021) {
                        self.time.mark_stale();
                    }
                    Answer::Err(error)
                }
            };
            self.apply_answer(now, request, flight, &answer, None);
            return;
        }
        // The session's logon: orders go without their own signature once it stands.
        if response.id.as_deref().is_some_and(|i| i.starts_with("logon-")) {
            self.ws_session = response.api_error().is_none();
            if let Some(error) = response.api_error() {
                self.emit(Event::UserStream(UserStreamStatus::Refused(error)));
            }
            return;
        }
        let ours = response.id.is_some() && response.id == self.subscribe_id;
        if !ours {
            self.frames.unsolicited = self.frames.unsolicited.saturating_add(1);
            self.emit(Event::FrameIgnored(FrameIgnored::Unsolicited { status: response.status }));
            return;
        }
        self.subscribe_id = None;
        match response.api_error() {
            None => {
                let subscription_id =
                    response.result.as_ref().and_then(|r| r.get("subscriptionId")).and_then(serde_json::Value::as_u64);
                self.user_stream = UserStream::Subscribed;
                self.emit(Event::UserStream(UserStreamStatus::Subscribed { subscription_id }));
                // Back after a refusal or a termination: events may have been missed.
                if self.stream_down_since.take().is_some() && !self.is_starting() {
                    self.reconcile(now);
                }
            }
            Some(error) => {
                self.frames.refused = self.frames.refused.saturating_add(1);
                self.user_stream = UserStream::Down;
                self.stream_down(now);
                if error.status == 418 {
                    let until_ms = error.retry_after_ms.unwrap_or(now);
                    self.trip(now, KillReason::Banned { until_ms });
                }
                self.emit(Event::UserStream(UserStreamStatus::Refused(error)));
                self.resubscribe(now);
            }
        }
    }

    /// The subscription is asked again, through the gate, after a back-off that doubles per
    /// failure in a row (1 s up to 60 s).
    fn resubscribe(&mut self, now: i64) {
        if !self.user_conn.is_live() {
            return;
        }
        let shift = self.frames.refused.saturating_add(self.frames.terminated).min(6);
        let backoff = 1_000_i64.saturating_mul(1 << shift).min(60_000);
        self.enqueue_at(now.saturating_add(backoff), Purpose::Subscribe);
    }
}
