//! Budgets several nodes share: with a store other nodes also use (PostgreSQL), a call that
//! one node's memory admits must also get a hold in the store, which sees every node's spend
//! and in-flight calls, before any provider is called. Only capped calls pay that round trip.
//! A store that cannot be reached within a short bound leaves this node's own holds in force
//! (logged) and is not asked again for a few seconds, so an outage never stalls calls.

use super::ledger::{self, Owner};
use crate::error::GatewayError;
use crate::store::{now_ms, BudgetHold, HoldOutcome, Store};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Longest a call waits for its hold.
const HOLD_WAIT: Duration = Duration::from_secs(1);
/// A hold left by a node that died mid-call stops counting after this long.
const HOLD_TTL_MS: i64 = 10 * 60 * 1000;
/// After a failed hold, calls rely on this node's holds alone for this long.
const BACKOFF_MS: i64 = 5_000;

pub struct SharedBudgets {
    store: Arc<dyn Store>,
    /// Unix ms before which the store is not asked (it just failed).
    skip_until_ms: AtomicI64,
}

impl SharedBudgets {
    /// `Some` when the store is shared by several nodes.
    pub fn for_store(store: &Arc<dyn Store>) -> Option<SharedBudgets> {
        store.shares_budgets().then(|| SharedBudgets {
            store: Arc::clone(store),
            skip_until_ms: AtomicI64::new(0),
        })
    }

    /// Holds `amount` for call `request_id` against its capped owners in the store, or refuses
    /// with `budget_exceeded` (status `status`) naming the owner without room.
    pub async fn hold(
        &self,
        request_id: &str,
        owners: &[Owner],
        amount: f64,
        status: u16,
    ) -> Result<(), GatewayError> {
        let capped: Vec<&Owner> = owners.iter().filter(|o| o.max_budget.is_some()).collect();
        let now = now_ms();
        if capped.is_empty() || now < self.skip_until_ms.load(Ordering::Relaxed) {
            return Ok(());
        }
        let hold = BudgetHold {
            request_id: request_id.to_string(),
            amount,
            expires_ms: now + HOLD_TTL_MS,
            owners: capped
                .iter()
                .map(|o| (o.table, o.id.clone(), o.max_budget.unwrap_or(0.0)))
                .collect(),
        };
        let failure = match tokio::time::timeout(HOLD_WAIT, self.store.hold_budgets(&hold)).await {
            Ok(Ok(HoldOutcome::Held)) => return Ok(()),
            Ok(Ok(HoldOutcome::Refused { index, committed })) => {
                if let Some(owner) = capped.get(index).or(capped.first()) {
                    return Err(ledger::exceeded(owner, committed, status));
                }
                return Ok(());
            }
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no answer within {} ms", HOLD_WAIT.as_millis()),
        };
        self.skip_until_ms
            .store(now + BACKOFF_MS, Ordering::Relaxed);
        log::warn!(
            "shared budget holds unavailable ({failure}): budgets are held on this node alone for the next {} s",
            BACKOFF_MS / 1000
        );
        Ok(())
    }
}
