//! Budgets that cannot be overrun: before a call, reserve its worst-case cost against every
//! budget it counts toward (key, user, team, organization, end user); refuse it when one does
//! not fit; when it ends, replace the reservation with the real cost. One node's accounts are
//! in memory (`Accounts`), each reservation atomic per account.

use super::accounts::Accounts;
use crate::auth::directory::Directory;
use crate::error::GatewayError;
use crate::store::{Entity, Table};
use serde_json::Value;
use std::sync::Arc;

/// One budget a call counts toward.
#[derive(Debug, Clone, PartialEq)]
pub struct Owner {
    pub table: Table,
    pub id: String,
    /// `None`: the call is counted but no budget caps it.
    pub max_budget: Option<f64>,
    /// How the refusal names it: `Key=...`, `User=...`, `Team=...`.
    pub label: String,
    /// `soft_budget`: crossing it only warns.
    pub soft_budget: Option<f64>,
}

/// The entity's budget: its own `max_budget`, else that of its shared `budget_id`.
pub fn max_budget(directory: &Directory, entity: &Entity) -> Option<f64> {
    budget_field(directory, entity, "max_budget")
}

/// A budget amount (`max_budget`, `soft_budget`): the entity's own, else its `budget_id`'s.
fn budget_field(directory: &Directory, entity: &Entity, field: &str) -> Option<f64> {
    let own = entity.doc.get(field).and_then(Value::as_f64);
    own.or_else(|| {
        let id = entity.str_field("budget_id")?;
        let budget = directory.get(Table::Budgets, id)?;
        budget.doc.get(field).and_then(Value::as_f64)
    })
    .filter(|b| b.is_finite())
}

/// Everything a call by this key (for this end user) counts toward; for master-key calls, only
/// the end user.
pub fn owners(
    directory: &Directory,
    key: Option<&Arc<Entity>>,
    end_user: Option<&str>,
) -> Vec<Owner> {
    let mut out = Vec::with_capacity(5);
    let Some(key) = key else {
        if let Some(id) = end_user.filter(|i| !i.is_empty()) {
            let entity = directory.get(Table::Customers, id);
            out.push(owner(
                directory,
                Table::Customers,
                id,
                entity.as_deref(),
                format!("Customer={id}"),
            ));
        }
        return out;
    };
    let key_label = match (key.str_field("key_alias"), key.str_field("key_name")) {
        (Some(alias), Some(name)) => format!("Key={alias} ({name})"),
        (Some(alias), None) => format!("Key={alias}"),
        (None, Some(name)) => format!("Key={name}"),
        (None, None) => "Key=key".to_string(),
    };
    out.push(owner(directory, Table::Keys, &key.id, Some(key), key_label));
    let team = key
        .str_field("team_id")
        .and_then(|t| directory.get(Table::Teams, t));
    let org_id = key
        .str_field("organization_id")
        .or_else(|| team.as_ref().and_then(|t| t.str_field("organization_id")));
    let related = [
        (Table::Users, key.str_field("user_id"), "User"),
        (Table::Teams, key.str_field("team_id"), "Team"),
        (Table::Organizations, org_id, "Organization"),
        (Table::Customers, end_user, "Customer"),
    ];
    for (table, id, label) in related {
        let Some(id) = id.filter(|i| !i.is_empty()) else {
            continue;
        };
        let entity = directory.get(table, id);
        out.push(owner(
            directory,
            table,
            id,
            entity.as_deref(),
            format!("{label}={id}"),
        ));
    }
    out
}

fn owner(
    directory: &Directory,
    table: Table,
    id: &str,
    entity: Option<&Entity>,
    label: String,
) -> Owner {
    Owner {
        table,
        id: id.to_string(),
        max_budget: entity.and_then(|e| max_budget(directory, e)),
        label,
        soft_budget: entity.and_then(|e| budget_field(directory, e, "soft_budget")),
    }
}

/// A call's hold on its budgets. Dropped without `settle` (the call was refused or cancelled
/// before it cost anything), it gives the reservation back.
#[derive(Debug)]
pub struct Reservation {
    accounts: Arc<Accounts>,
    owners: Vec<Owner>,
    amount: f64,
    settled: bool,
}

impl Reservation {
    pub fn owners(&self) -> &[Owner] {
        &self.owners
    }

    /// Replaces the reservation with the call's real cost. A soft budget this call crossed is
    /// logged (a warning only, as in LiteLLM).
    pub fn settle(mut self, cost: f64) {
        for o in &self.owners {
            self.accounts.settle(o.table, &o.id, self.amount, cost);
            if let Some(soft) = o.soft_budget {
                let after = self.accounts.get(o.table, &o.id).spent();
                if after >= soft && after - cost < soft {
                    log::warn!(
                        "soft budget crossed: {} has spent {after}, soft_budget {soft}",
                        o.label
                    );
                }
            }
        }
        self.settled = true;
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if !self.settled {
            for o in &self.owners {
                self.accounts.settle(o.table, &o.id, self.amount, 0.0);
            }
        }
    }
}

/// LiteLLM's refusal for an owner without room: what it has spent (and holds), its budget.
pub fn exceeded(owner: &Owner, current: f64, status: u16) -> GatewayError {
    let max = owner.max_budget.unwrap_or(0.0);
    GatewayError::new(
        status,
        "budget_exceeded",
        format!(
            "Budget has been exceeded! {} Current cost: {current}, Max budget: {max}",
            owner.label
        ),
    )
}

/// Reserves `amount` against every owner, or refuses with LiteLLM's `budget_exceeded` error
/// (status `status`) naming the first budget that does not fit. Each account's check-and-add
/// is atomic; a refusal gives back what was already reserved.
pub fn reserve(
    accounts: &Arc<Accounts>,
    owners: Vec<Owner>,
    amount: f64,
    status: u16,
) -> Result<Reservation, GatewayError> {
    let amount = if amount.is_finite() && amount > 0.0 {
        amount
    } else {
        0.0
    };
    for (i, o) in owners.iter().enumerate() {
        if let Err(current) = accounts.try_reserve(o.table, &o.id, amount, o.max_budget) {
            for done in &owners[..i] {
                accounts.settle(done.table, &done.id, amount, 0.0);
            }
            return Err(exceeded(o, current, status));
        }
    }
    Ok(Reservation {
        accounts: Arc::clone(accounts),
        owners,
        amount,
        settled: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(id: &str, max: Option<f64>) -> Owner {
        Owner {
            table: Table::Keys,
            id: id.into(),
            max_budget: max,
            label: format!("Key={id}"),
            soft_budget: None,
        }
    }

    #[test]
    fn reservations_never_overrun_and_settle_to_real_cost() {
        let accounts = Arc::new(Accounts::default());
        let mut held = Vec::new();
        for _ in 0..10 {
            held.push(reserve(&accounts, vec![owner("k", Some(1.0))], 0.1, 422).unwrap());
        }
        // 10 × 0.1 fills the budget (floating point may refuse the 10th; never an 11th).
        let err = reserve(&accounts, vec![owner("k", Some(1.0))], 0.1, 422).unwrap_err();
        assert_eq!((err.status, err.kind), (422, "budget_exceeded"));
        assert!(err.message.contains("Key=k"), "{}", err.message);
        for r in held.drain(..) {
            r.settle(0.05);
        }
        let a = accounts.get(Table::Keys, "k");
        assert!(
            (a.spent() - 0.5).abs() < 1e-9 && a.reserved.abs() < 1e-9,
            "{a:?}"
        );
        // Dropped reservations give their hold back.
        drop(reserve(&accounts, vec![owner("k", Some(1.0))], 0.4, 422).unwrap());
        assert!(accounts.get(Table::Keys, "k").reserved.abs() < 1e-9);
    }

    #[test]
    fn a_refusal_releases_earlier_owners() {
        let accounts = Arc::new(Accounts::default());
        accounts.set_spend(Table::Keys, "team-full", 5.0);
        let owners = vec![owner("free", None), owner("team-full", Some(5.0))];
        assert!(reserve(&accounts, owners, 0.0, 429).is_err());
        assert_eq!(accounts.get(Table::Keys, "free").reserved, 0.0);
    }
}
