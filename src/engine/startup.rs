//! Start-up: against an account it knows nothing of, the engine loads the current rules and the
//! balances (in either order), then adopts the exchange's open orders with their reservations.
//! Orders are refused and reconciliation gives no verdicts until then.

use crate::limits::RetryDecision;
use crate::rest::{Account, OrderInfo};
use crate::rules::ExchangeInfo;

use super::answers::Answer;
use super::{Engine, Event, Purpose};
use crate::clock::LocalMs;

/// Where start-up is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Startup {
    /// Not started ([`Engine::start`] was not called: the caller loads the ledger) or done.
    Ready,
    /// The rules and the balances are being loaded.
    Loading {
        /// The exchangeInfo fetch has ended (answered or failed: the rules given at construction
        /// stay in use).
        rules: bool,
        /// The account's balances are in the ledger.
        balances: bool,
        /// Failed attempts so far (for the retry policy's back-off).
        attempt: u32,
    },
    /// Rules and balances are in; the open orders are being adopted.
    Adopting {
        /// Failed attempts so far.
        attempt: u32,
    },
}

impl Engine {
    /// Starts the engine against an account it knows nothing of: syncs the time, fetches the
    /// current exchangeInfo (replacing the one given to [`new`](Self::new), which stays in use if
    /// the fetch fails), loads the account's balances into the (empty) ledger, then starts
    /// tracking the exchange's open orders with their reservations. Open the user-data
    /// connection alongside ([`handle_ws_open`](Self::handle_ws_open)). A read that fails is
    /// asked again after the retry policy's back-off.
    pub fn start(&mut self, now: impl Into<LocalMs>) {
        let now = now.into().millis();
        self.observe_now(now);
        self.startup = Startup::Loading { rules: false, balances: false, attempt: 0 };
        // The user-data connection is asked for (Output::WsConnect) alongside.
        self.user_conn.open();
        self.enqueue(now, Purpose::Time);
        self.enqueue(now, Purpose::ExchangeInfo);
        self.enqueue(now, Purpose::Snapshot);
        self.pump(now);
    }

    /// Whether [`start`](Self::start) is still loading the rules, the account or the open
    /// orders (orders are refused meanwhile).
    #[must_use]
    pub fn is_starting(&self) -> bool {
        self.startup != Startup::Ready
    }

    pub(super) fn on_exchange_info(&mut self, now: i64, answer: &Answer) {
        if let Answer::Ok(body) = answer
            && let Ok(info) = ExchangeInfo::from_json(body)
            && !info.symbols().is_empty()
        {
            // The limiter keeps what it has counted (and any hold) under the new limits.
            self.limiter.set_limits(info.rate_limits());
            self.info = info;
            self.asset_ids.clear();
        }
        if let Startup::Loading { balances, attempt, .. } = self.startup {
            self.startup = Startup::Loading { rules: true, balances, attempt };
            self.adopt_when_loaded(now);
        }
    }

    pub(super) fn on_snapshot(&mut self, now: i64, answer: &Answer) {
        let Startup::Loading { rules, attempt, .. } = self.startup else { return };
        match answer.ok::<Account>() {
            Some(account) => {
                self.load_balances(&account);
                self.reset_loss_baseline();
                self.startup = Startup::Loading { rules, balances: true, attempt: 0 };
                self.adopt_when_loaded(now);
            }
            // Nothing can be traded before the balances are known: asked again.
            None => {
                self.startup = Startup::Loading { rules, balances: false, attempt: attempt.saturating_add(1) };
                self.retry_startup(now, answer, attempt.saturating_add(1), Purpose::Snapshot);
            }
        }
    }

    fn adopt_when_loaded(&mut self, now: i64) {
        if let Startup::Loading { rules: true, balances: true, .. } = self.startup {
            self.startup = Startup::Adopting { attempt: 0 };
            self.enqueue(now, Purpose::Adopt);
        }
    }

    pub(super) fn on_adopt(&mut self, now: i64, answer: &Answer) {
        let Startup::Adopting { attempt } = self.startup else { return };
        let Some(list) = answer.ok::<Vec<OrderInfo>>() else {
            self.startup = Startup::Adopting { attempt: attempt.saturating_add(1) };
            self.retry_startup(now, answer, attempt.saturating_add(1), Purpose::Adopt);
            return;
        };
        // A list's open orders are adopted together (one lock for an OCO's legs, none yet for
        // an OTO's pending orders), under a key made of its orderListId.
        let mut lists: std::collections::BTreeMap<(String, i64), Vec<&OrderInfo>> = std::collections::BTreeMap::new();
        for info in list.iter().filter(|i| i.order_list_id >= 0) {
            lists.entry((info.symbol.clone(), info.order_list_id)).or_default().push(info);
        }
        for ((symbol, list_id), legs) in &lists {
            let Some(rules) = self.info.symbol(symbol) else { continue };
            let ids = (self.ledger.asset(rules.base_asset()), self.ledger.asset(rules.quote_asset()));
            let key = crate::model::ClientOrderId::new(&format!("list-{list_id}"));
            let result = match (ids, key) {
                ((Ok(base), Ok(quote)), Ok(key)) => {
                    let open: Vec<crate::orders::OpenOrder<'_>> = legs.iter().map(|i| i.open_order()).collect();
                    self.orders.adopt_list(key, &open, base, quote)
                }
                ((Err(e), _) | (_, Err(e)), _) => Err(e.into()),
                (_, Err(_)) => Err(crate::OrdersError::MissingClientOrderId),
            };
            if let Err(error) = result {
                for leg in legs {
                    self.emit(Event::AdoptFailed {
                        client_order_id: leg.client_order_id.clone(),
                        error: error.clone(),
                    });
                }
            }
        }
        for info in list.iter().filter(|i| i.order_list_id < 0) {
            let Some(rules) = self.info.symbol(&info.symbol) else { continue };
            let (base, quote) = match (self.ledger.asset(rules.base_asset()), self.ledger.asset(rules.quote_asset())) {
                (Ok(base), Ok(quote)) => (base, quote),
                (Err(e), _) | (_, Err(e)) => {
                    let client_order_id = info.client_order_id.clone();
                    self.emit(Event::AdoptFailed { client_order_id, error: e.into() });
                    continue;
                }
            };
            if let Err(error) = self.orders.adopt(&info.open_order(), base, quote) {
                let client_order_id = info.client_order_id.clone();
                self.emit(Event::AdoptFailed { client_order_id, error });
            }
        }
        self.next_reconcile = Some(now.saturating_add(self.config.reconcile_every_ms));
        self.startup = Startup::Ready;
    }

    /// A start-up read failed: asked again after the retry policy's back-off (beyond its
    /// budget, or after a definitive error such as a stale timestamp, once its longest delay
    /// has passed).
    fn retry_startup(&mut self, now: i64, answer: &Answer, attempt: u32, purpose: Purpose) {
        // Refused credentials (a wrong key or secret, an IP not allowed) do not heal by
        // themselves: the caller is told at once (it may stop; the engine keeps asking).
        if let Answer::Err(error) = answer
            && error.outcome() == crate::rest::Outcome::Auth
        {
            self.emit(Event::RequestFailed { purpose: purpose.clone(), error: error.clone() });
        }
        let failure = answer.failure().unwrap_or(crate::limits::Failure::Transport);
        let at = match self.config.retry.decide(true, failure, attempt, now) {
            RetryDecision::RetryAt(at) => at,
            RetryDecision::GiveUp => now.saturating_add(self.config.retry.max_delay_ms()),
        };
        self.enqueue_at(at, purpose);
    }
}
