//! Supervision: reconciliation with the exchange (the one owner of ledger corrections besides
//! the order tracker), the kill switch and the loss limit.

use rust_decimal::Decimal;

use crate::ledger::{Balance, Difference};
use crate::model::ClientOrderId;
use crate::orders::OrderState;
use crate::rest::{Account, OrderInfo};

use super::answers::Answer;

use super::{Engine, Event, KillReason, NotSentReason, Purpose, RequestId};
use crate::clock::LocalMs;

impl Engine {
    /// Checks the tracker and the ledger against the exchange now: the open orders of every
    /// symbol with a tracked order (an order the exchange no longer lists is queried), then the
    /// account's balances (a difference at rest is reported as [`Event::BalanceMismatch`]).
    /// Every request goes through the gate; one already queued or in flight is not doubled.
    pub fn reconcile(&mut self, now: impl Into<LocalMs>) {
        let now = now.into().millis();
        self.observe_now(now);
        self.next_reconcile = Some(now.saturating_add(self.config.reconcile_every_ms));
        let mut symbols: Vec<String> = self.orders.open().map(|(_, v)| v.symbol.clone()).collect();
        symbols.sort();
        symbols.dedup();
        for symbol in symbols {
            self.enqueue(now, Purpose::OpenOrders(symbol));
        }
        // The balances are compared once the orders are checked (see `pump`).
        self.account_check_pending = true;
        self.pump(now);
    }

    /// Trips the kill switch: nothing new is sent, queued orders are dropped (their funds
    /// released), every symbol with an open or unknown order gets a cancel-all, and it stays
    /// tripped until [`reset_kill_switch`](Self::reset_kill_switch). The cancels pass the gate
    /// like any request: during a ban they wait for its end ([`Event::Held`]).
    pub fn kill(&mut self, now: impl Into<LocalMs>, reason: KillReason) {
        let now = now.into().millis();
        self.observe_now(now);
        self.trip(now, reason);
        self.pump(now);
    }

    pub(super) fn trip(&mut self, now: i64, reason: KillReason) {
        if self.killed.is_some() {
            return;
        }
        self.killed = Some(reason.clone());
        self.emit(Event::KillSwitch(reason));
        for id in self.gate.take_orders() {
            // A list's id names its legs.
            if self.orders.legs(&id).is_some() {
                self.emit(Event::NotSent { purpose: Purpose::PlaceList(id), reason: NotSentReason::KillSwitch });
                self.not_sent_ids(&id);
                continue;
            }
            let purpose = if self.replacing.contains_key(&id) { Purpose::Replace(id) } else { Purpose::Place(id) };
            self.emit(Event::NotSent { purpose, reason: NotSentReason::KillSwitch });
            self.not_sent_ids(&id);
        }
        let mut symbols: Vec<String> = self.orders.open().map(|(_, v)| v.symbol.clone()).collect();
        symbols.sort();
        symbols.dedup();
        for symbol in symbols {
            self.enqueue(now, Purpose::CancelAll(symbol));
        }
    }

    /// Whether the kill switch is tripped, and why.
    #[must_use]
    pub fn kill_switch(&self) -> Option<&KillReason> {
        self.killed.as_ref()
    }

    /// Re-arms the kill switch.
    pub fn reset_kill_switch(&mut self) {
        self.killed = None;
    }

    /// Books a change of `asset`'s free balance that happened outside trading (a deposit when
    /// positive, a withdrawal when negative), as an operator would after reconciliation reported
    /// it. The ledger's only manual entry.
    ///
    /// # Errors
    /// The ledger's refusal (a withdrawal larger than the free balance); nothing changed.
    pub fn adjust(&mut self, asset: &str, amount: Decimal) -> Result<Balance, crate::ledger::LedgerError> {
        let id = self.ledger.asset(asset)?;
        self.activity = self.activity.wrapping_add(1);
        if amount.is_sign_negative() { self.ledger.debit(id, -amount) } else { self.ledger.credit(id, amount) }
    }

    /// Sets where the loss limit counts from: the loss-limit asset's total now.
    pub fn reset_loss_baseline(&mut self) {
        self.loss_baseline = None;
        if let Some((asset, _)) = &self.config.loss_limit
            && let Some(b) = self.ledger.asset_id(asset).and_then(|id| self.ledger.balance(id).ok())
        {
            self.loss_baseline = Some(b.free + b.locked);
        }
    }

    /// The timers of supervision: the user stream's gap, the periodic reconciliation.
    pub(super) fn supervise(&mut self, now: i64) {
        if let Some(since) = self.stream_down_since
            && now.saturating_sub(since) >= self.config.max_user_stream_gap_ms
        {
            self.trip(now, KillReason::UserStreamGap { since_ms: since });
        }
        if self.next_reconcile.is_some_and(|at| now >= at) {
            self.reconcile(now);
        }
    }

    /// Trips the kill switch when the loss limit is reached.
    pub(super) fn check_loss(&mut self) {
        let Some((asset, limit)) = self.config.loss_limit.clone() else { return };
        let Some(balance) = self.ledger.asset_id(&asset).and_then(|id| self.ledger.balance(id).ok()) else { return };
        let total = balance.free + balance.locked;
        let baseline = *self.loss_baseline.get_or_insert(total);
        let loss = baseline - total;
        if loss > limit {
            self.trip(self.now, KillReason::LossLimit { asset, loss });
        }
    }

    /// Start-up: the account's balances become the ledger's (it starts empty).
    pub(super) fn load_balances(&mut self, account: &Account) {
        for b in &account.balances {
            let total = b.free.saturating_add(b.locked);
            if total.is_zero() {
                continue;
            }
            if let Err(error) = self.ledger.asset(&b.asset).and_then(|asset| self.ledger.credit(asset, total)) {
                self.emit(Event::LedgerRefused { asset: b.asset.clone(), error });
            }
        }
    }

    /// Reconciliation: one symbol's open orders as the exchange lists them.
    pub(super) fn on_open_orders(&mut self, now: i64, symbol: &str, answer: &Answer) {
        let Some(list) = answer.ok::<Vec<OrderInfo>>() else { return };
        for info in &list {
            let applied = self.orders.on_report(now, &info.report(), []);
            self.emit_applied(applied);
        }
        // Tracked as open here, no longer open there: ask what became of it. (A sent order may
        // not have reached the exchange's list yet; its own answer or query settles it.)
        let gone: Vec<ClientOrderId> = self
            .orders
            .open()
            .filter(|(id, v)| {
                v.symbol == symbol
                    && v.state != OrderState::PendingNew
                    && !list.iter().any(|o| o.client_order_id == id.as_str())
            })
            .map(|(id, _)| *id)
            .collect();
        for id in gone {
            self.orders.request_query(now, &id);
        }
    }

    /// Reconciliation: the account's balances against the ledger. Verdicts only at rest, and
    /// only on a difference seen twice in a row.
    pub(super) fn on_account(&mut self, now: i64, answer: &Answer, request: RequestId, activity: u64) {
        if self.is_starting() {
            return;
        }
        let Some(account) = answer.ok::<Account>() else { return };
        let theirs: Vec<(String, Balance)> =
            account.balances.iter().map(|b| (b.asset.clone(), Balance { free: b.free, locked: b.locked })).collect();
        let diffs = self.ledger.reconcile(&theirs);
        if !self.at_rest() || activity != self.activity {
            // Orders in flight or unsettled, or something moved balances while the snapshot was
            // on its way: a difference may be timing.
            self.last_diffs.clear();
            return;
        }
        // Request ids grow: this snapshot was asked for after the last one was answered.
        let second_look = request > self.last_diffs_seen_by;
        let persistent: Vec<Difference> =
            diffs.iter().filter(|d| second_look && self.last_diffs.contains(d)).cloned().collect();
        self.last_diffs.clone_from(&diffs);
        self.last_diffs_seen_by = self.gate.last_handed_out();
        let beyond = self.config.mismatch_tolerance.and_then(|tolerance| {
            persistent.iter().find(|d| {
                let gap = (d.ledger.free + d.ledger.locked) - (d.exchange.free + d.exchange.locked);
                gap.abs() > tolerance
            })
        });
        if let Some(d) = beyond {
            let asset = d.asset.clone();
            self.trip(now, KillReason::LedgerMismatch { asset });
        } else {
            // Within the tolerance, with the same amount locked: a deposit, a withdrawal, a fee
            // the stream did not show. The ledger takes the exchange's free balance.
            for d in persistent.iter().filter(|d| d.ledger.locked == d.exchange.locked) {
                let gap = d.exchange.free - d.ledger.free;
                let corrected = self.ledger.asset(&d.asset).and_then(|asset| {
                    if gap > Decimal::ZERO { self.ledger.credit(asset, gap) } else { self.ledger.debit(asset, -gap) }
                });
                match corrected {
                    Ok(_) => self.activity = self.activity.wrapping_add(1),
                    Err(error) => self.emit(Event::LedgerRefused { asset: d.asset.clone(), error }),
                }
            }
        }
        if !diffs.is_empty() {
            self.emit(Event::BalanceMismatch(diffs));
        }
    }

    /// Nothing that could still move the balances is pending: no order request queued or in
    /// flight, no order in an unsettled state, the user stream up.
    fn at_rest(&self) -> bool {
        !self.is_starting()
            && self.gate.orders_waiting() == 0
            && self.stream_down_since.is_none()
            && !self.gate.pending(|p| {
                p.moves_balances()
                    || matches!(
                        p,
                        Purpose::OpenOrders(_)
                            | Purpose::Query(_)
                            | Purpose::QueryList(_)
                            | Purpose::Trades(_)
                            | Purpose::Allocations(_)
                            | Purpose::PreventedMatches(_)
                    )
            })
            && !self.orders.open().any(|(_, v)| {
                v.amending.is_some()
                    || v.executed_qty > v.traded_qty
                    || matches!(v.state, OrderState::Unknown | OrderState::PendingNew | OrderState::PendingCancel)
            })
            && self.orders.settling().next().is_none()
            // A TRANSFER order's prevented funds held: whether they moved is being asked.
            && !self.orders.has_holds()
    }
}
