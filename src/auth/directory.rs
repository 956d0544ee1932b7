//! The in-memory copy of every key, user, team, organization, end user and budget, which auth
//! and the admin API's reads use instead of the store: filled at start, kept fresh in the
//! background (`refresh`), and updated at once by the admin writes this node takes.

use crate::store::{Entity, Table};
use dashmap::DashMap;
use std::sync::Arc;

#[derive(Default)]
pub struct Directory {
    keys: DashMap<String, Arc<Entity>>,
    users: DashMap<String, Arc<Entity>>,
    teams: DashMap<String, Arc<Entity>>,
    organizations: DashMap<String, Arc<Entity>>,
    customers: DashMap<String, Arc<Entity>>,
    budgets: DashMap<String, Arc<Entity>>,
    models: DashMap<String, Arc<Entity>>,
}

impl Directory {
    fn map(&self, table: Table) -> &DashMap<String, Arc<Entity>> {
        match table {
            Table::Keys => &self.keys,
            Table::Users => &self.users,
            Table::Teams => &self.teams,
            Table::Organizations => &self.organizations,
            Table::Customers => &self.customers,
            Table::Budgets => &self.budgets,
            Table::Models => &self.models,
        }
    }

    /// Takes an entity as stored: a tombstone removes it. An older copy than the one held
    /// (a refresh racing an admin write), or the same one again, is ignored. Returns whether
    /// anything changed.
    pub fn apply(&self, table: Table, entity: Entity) -> bool {
        let map = self.map(table);
        match map.get(&entity.id) {
            Some(held) if held.updated_ms > entity.updated_ms => return false,
            Some(held) if **held == entity => return false,
            None if entity.deleted => return false,
            _ => {}
        }
        if entity.deleted {
            map.remove(&entity.id);
        } else {
            map.insert(entity.id.clone(), Arc::new(entity));
        }
        true
    }

    /// Drops an entity at once (the admin write that deleted it).
    pub fn remove(&self, table: Table, id: &str) {
        self.map(table).remove(id);
    }

    pub fn get(&self, table: Table, id: &str) -> Option<Arc<Entity>> {
        self.map(table).get(id).map(|e| Arc::clone(e.value()))
    }

    /// Every live entity of a table (admin reads; not the request path).
    pub fn all(&self, table: Table) -> Vec<Arc<Entity>> {
        self.map(table)
            .iter()
            .map(|e| Arc::clone(e.value()))
            .collect()
    }

    pub fn len(&self, table: Table) -> usize {
        self.map(table).len()
    }
}
