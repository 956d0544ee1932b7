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

#[derive(Default)]
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

    pub fn forget(&self, table: Table, id: &str) {
        self.map.remove(&(table, id.to_string()));
    }
}
