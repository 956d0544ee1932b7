//! What both backends derive the same way from an entity or a spend row: the owner columns
//! copied out of a document, the entities a row's spend is added to, the day it counts on.

use super::{Document, SpendRow, Table};

/// The owner columns `list` filters on, copied from the document's fields of the same names.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OwnerColumns {
    pub user_id: Option<String>,
    pub team_id: Option<String>,
    pub organization_id: Option<String>,
    pub key_alias: Option<String>,
}

impl OwnerColumns {
    pub fn from_doc(doc: &Document) -> OwnerColumns {
        let field = |name: &str| doc.get(name).and_then(|v| v.as_str()).map(str::to_owned);
        OwnerColumns {
            user_id: field("user_id"),
            team_id: field("team_id"),
            organization_id: field("organization_id"),
            key_alias: field("key_alias"),
        }
    }
}

/// The entities a spend row counts against: only non-empty ids, each budget once (a key and
/// its team may share a budget).
pub fn spend_targets(row: &SpendRow) -> Vec<(Table, &str)> {
    let mut targets: Vec<(Table, &str)> = [
        (Table::Keys, row.api_key.as_str()),
        (Table::Users, row.user.as_str()),
        (Table::Teams, row.team_id.as_str()),
        (Table::Organizations, row.organization_id.as_str()),
        (Table::Customers, row.end_user.as_str()),
    ]
    .into_iter()
    .filter(|(_, id)| !id.is_empty())
    .collect();
    for budget_id in &row.budget_ids {
        let budget_id = budget_id.as_str();
        let seen = targets
            .iter()
            .any(|(t, id)| *t == Table::Budgets && *id == budget_id);
        if !budget_id.is_empty() && !seen {
            targets.push((Table::Budgets, budget_id));
        }
    }
    targets
}

/// The `YYYY-MM-DD` day a row counts on: the first 10 characters of its start time.
pub fn spend_day(start_time: &str) -> &str {
    start_time.get(..10).unwrap_or(start_time)
}

/// Spend as stored: a non-finite amount (NaN from a broken price) would poison every total
/// it is added to, so it counts as 0.
pub fn finite_spend(spend: f64) -> f64 {
    if spend.is_finite() {
        spend
    } else {
        0.0
    }
}

/// Token counts as SQL integers (both backends store signed 64-bit).
pub fn to_sql_int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub fn from_sql_int(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// A page bound as SQL integers: (limit, offset); `-1`-free so both dialects take it.
pub fn page(offset: u64, limit: Option<u64>) -> (i64, i64) {
    (
        limit.map(to_sql_int).unwrap_or(i64::MAX),
        to_sql_int(offset),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_skip_empty_ids_and_repeat_budgets() {
        let row = SpendRow {
            api_key: "k".into(),
            team_id: "t".into(),
            budget_ids: vec!["b".into(), "".into(), "b".into(), "c".into()],
            ..SpendRow::default()
        };
        assert_eq!(
            spend_targets(&row),
            vec![
                (Table::Keys, "k"),
                (Table::Teams, "t"),
                (Table::Budgets, "b"),
                (Table::Budgets, "c")
            ]
        );
    }

    #[test]
    fn day_is_the_date_prefix() {
        assert_eq!(spend_day("2026-12-01T10:00:00Z"), "2026-12-01");
        assert_eq!(spend_day("2026"), "2026");
        assert_eq!(finite_spend(f64::NAN), 0.0);
    }
}
