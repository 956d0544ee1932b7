//! What each key, user, team, organization, end user and shared budget has spent, in memory:
//! the store's total when loaded plus every call settled since, and what in-flight calls have
//! reserved. Budgets are checked against these, so a call never waits on the store.

use crate::store::Table;
use dashmap::DashMap;

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Account {
    /// Settled spend (flushed or not), USD.
    pub spent: f64,
    /// Worst-case cost of calls in flight, USD.
    pub reserved: f64,
}

#[derive(Debug, Default)]
pub struct Accounts {
    map: DashMap<(Table, String), Account>,
}

impl Accounts {
    /// Current settled spend, if this node tracks the entity.
    pub fn spend(&self, table: Table, id: &str) -> Option<f64> {
        self.map.get(&(table, id.to_string())).map(|a| a.spent)
    }

    pub fn get(&self, table: Table, id: &str) -> Account {
        self.map
            .get(&(table, id.to_string()))
            .map(|a| *a)
            .unwrap_or_default()
    }

    /// Sets settled spend (loading from the store, a budget reset, `/global/spend/reset`);
    /// reservations stay.
    pub fn set_spend(&self, table: Table, id: &str, spent: f64) {
        self.map.entry((table, id.to_string())).or_default().spent = spent;
    }

    /// Drops every entity's settled spend to 0.
    pub fn reset_all(&self) {
        for mut a in self.map.iter_mut() {
            a.spent = 0.0;
        }
    }

    /// Adds `amount` to the account's reservations if settled + reserved + amount stays within
    /// `max_budget` (and, for a budget already spent, refuses even a free call). `Err` holds
    /// what the account has spent and reserved.
    pub fn try_reserve(
        &self,
        table: Table,
        id: &str,
        amount: f64,
        max_budget: Option<f64>,
    ) -> Result<(), f64> {
        // The entry holds the account's shard lock: check and add are one step.
        let mut account = self.map.entry((table, id.to_string())).or_default();
        let committed = account.spent + account.reserved;
        if let Some(max) = max_budget {
            if account.spent >= max || committed + amount > max {
                return Err(committed);
            }
        }
        account.reserved += amount;
        Ok(())
    }

    /// Ends a reservation: `reserved` back, `cost` into spend.
    pub fn settle(&self, table: Table, id: &str, reserved: f64, cost: f64) {
        let mut account = self.map.entry((table, id.to_string())).or_default();
        account.reserved = (account.reserved - reserved).max(0.0);
        account.spent += cost;
    }

    pub fn forget(&self, table: Table, id: &str) {
        self.map.remove(&(table, id.to_string()));
    }
}
