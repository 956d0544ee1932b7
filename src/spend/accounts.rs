//! What each key, user, team, organization, end user and shared budget has spent, in memory:
//! the store's total (every node's flushed spend, refreshed in the background) plus this node's
//! calls settled but not yet flushed, and what this node's in-flight calls have reserved.
//! Budgets are checked against these, so a call never waits on the store for them.

use crate::store::Table;
use dashmap::DashMap;

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Account {
    /// The store's total as last read or written by this node, USD.
    pub stored: f64,
    /// This node's settled calls whose rows are not yet in the store, USD.
    pub unflushed: f64,
    /// Worst-case cost of this node's calls in flight, USD.
    pub reserved: f64,
}

impl Account {
    /// Settled spend, flushed or not.
    pub fn spent(&self) -> f64 {
        self.stored + self.unflushed
    }
}

#[derive(Debug, Default)]
pub struct Accounts {
    map: DashMap<(Table, String), Account>,
}

impl Accounts {
    /// Current settled spend, if this node tracks the entity.
    pub fn spend(&self, table: Table, id: &str) -> Option<f64> {
        self.map.get(&(table, id.to_string())).map(|a| a.spent())
    }

    pub fn get(&self, table: Table, id: &str) -> Account {
        self.map
            .get(&(table, id.to_string()))
            .map(|a| *a)
            .unwrap_or_default()
    }

    /// Sets settled spend outright (a budget reset, `/global/spend/reset`, a regenerated key):
    /// what was unflushed is forgotten, as the store forgets it; reservations stay.
    pub fn set_spend(&self, table: Table, id: &str, spent: f64) {
        let mut account = self.map.entry((table, id.to_string())).or_default();
        account.stored = spent;
        account.unflushed = 0.0;
    }

    /// Takes the store's total (at start-up, and as the background refresh reads it, with
    /// other nodes' spend in it); this node's unflushed calls still count on top.
    pub fn set_stored(&self, table: Table, id: &str, stored: f64) {
        self.map.entry((table, id.to_string())).or_default().stored = stored;
    }

    /// A flushed row's spend has reached the store: it moves from unflushed to stored.
    pub fn flushed(&self, table: Table, id: &str, amount: f64) {
        if let Some(mut account) = self.map.get_mut(&(table, id.to_string())) {
            let moved = amount.min(account.unflushed).max(0.0);
            account.unflushed -= moved;
            account.stored += moved;
        }
    }

    /// Drops every entity's settled spend to 0.
    pub fn reset_all(&self) {
        for mut a in self.map.iter_mut() {
            a.stored = 0.0;
            a.unflushed = 0.0;
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
        let committed = account.spent() + account.reserved;
        if let Some(max) = max_budget {
            if account.spent() >= max || committed + amount > max {
                return Err(committed);
            }
        }
        account.reserved += amount;
        Ok(())
    }

    /// Ends a reservation: `reserved` back, `cost` into unflushed spend.
    pub fn settle(&self, table: Table, id: &str, reserved: f64, cost: f64) {
        let mut account = self.map.entry((table, id.to_string())).or_default();
        account.reserved = (account.reserved - reserved).max(0.0);
        account.unflushed += cost;
    }

    pub fn forget(&self, table: Table, id: &str) {
        self.map.remove(&(table, id.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flushed_spend_moves_to_stored_and_a_refresh_keeps_unflushed_on_top() {
        let accounts = Accounts::default();
        accounts.set_stored(Table::Keys, "k", 1.0);
        accounts.settle(Table::Keys, "k", 0.0, 0.25);
        accounts.settle(Table::Keys, "k", 0.0, 0.5);
        assert_eq!(accounts.spend(Table::Keys, "k"), Some(1.75));
        accounts.flushed(Table::Keys, "k", 0.25);
        let a = accounts.get(Table::Keys, "k");
        assert_eq!((a.stored, a.unflushed), (1.25, 0.5));
        // Another node's 2.0 is in the store's total now, beside our flushed 0.25.
        accounts.set_stored(Table::Keys, "k", 3.25);
        assert_eq!(accounts.spend(Table::Keys, "k"), Some(3.75));
        // A row flushed twice (a retried batch) never moves more than was unflushed.
        accounts.flushed(Table::Keys, "k", 0.5);
        accounts.flushed(Table::Keys, "k", 0.5);
        assert_eq!(accounts.spend(Table::Keys, "k"), Some(3.75));
    }
}
