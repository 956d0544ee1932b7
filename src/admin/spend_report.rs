//! `/global/spend/report`: spend between two days from the daily aggregates, in LiteLLM's
//! shapes: `group_by=team` (default) and `customer` give one item per day with a breakdown
//! (`teams` / `customers`, each with `total_spend` and per model-and-key `metadata`);
//! `group_by=api_key` (or an `api_key` filter) gives one item per key with `model_details`.

use super::entities;
use super::error::{AdminError, AdminResult};
use super::key_fields::to_token;
use super::spend::parse_day;
use super::Call;
use crate::store::{DailySpend, Table};
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub async fn report(call: &Call<'_>) -> AdminResult<Value> {
    let q = &call.query;
    let (Some(start), Some(end)) = (
        parse_day(q.get("start_date"), "start_date")?,
        parse_day(q.get("end_date"), "end_date")?,
    ) else {
        return Err(AdminError::detail_error(
            400,
            "Please provide start_date and end_date",
        ));
    };
    let group_by = q.get("group_by").unwrap_or("team");
    if !["team", "customer", "api_key"].contains(&group_by) {
        return Err(AdminError::validation(
            &["query", "group_by"],
            "literal_error",
            "Input should be 'team', 'customer' or 'api_key'",
        ));
    }
    let mut days = call
        .ctx
        .store
        .daily_spend(
            &start.format("%Y-%m-%d").to_string(),
            &end.format("%Y-%m-%d").to_string(),
        )
        .await?;
    let api_key = q.get("api_key").map(to_token);
    let filters: [(Option<&str>, FieldOf); 3] = [
        (q.get("internal_user_id"), |d| d.user_id.clone()),
        (q.get("team_id"), |d| d.team_id.clone()),
        (q.get("customer_id"), |d| d.end_user.clone()),
    ];
    for (want, field) in filters {
        if let Some(w) = want {
            days.retain(|d| field(d) == w);
        }
    }
    if let Some(k) = &api_key {
        days.retain(|d| &d.api_key == k);
        return Ok(by_api_key(&days));
    }
    match group_by {
        "api_key" => Ok(by_api_key(&days)),
        "customer" => Ok(by_day(&days, "customers", "customer", |d| {
            Value::String(d.end_user.clone())
        })),
        _ => {
            let mut aliases: BTreeMap<String, Option<String>> = BTreeMap::new();
            for d in &days {
                if !aliases.contains_key(&d.team_id) {
                    let alias = match d.team_id.as_str() {
                        "" => None,
                        t => entities::load(call.ctx, Table::Teams, t)
                            .await?
                            .and_then(|t| t.str_field("team_alias").map(str::to_string)),
                    };
                    aliases.insert(d.team_id.clone(), alias);
                }
            }
            Ok(by_day(&days, "teams", "team_name", |d| {
                let name = aliases.get(&d.team_id).cloned().flatten();
                Value::String(name.unwrap_or_else(|| "Unassigned Team".to_string()))
            }))
        }
    }
}

/// Reads one column of a daily aggregate (the report's filters).
type FieldOf = fn(&DailySpend) -> String;

/// One team or customer on one day: its name and its spend per (model, key).
type Group = (Value, BTreeMap<(String, String), ModelKeySpend>);

/// Spend per model and key within one group, LiteLLM's `metadata` entries.
#[derive(Default)]
struct ModelKeySpend {
    spend: f64,
    total_tokens: u64,
}

fn by_day(
    days: &[DailySpend],
    list_name: &str,
    name_field: &str,
    group_of: impl Fn(&DailySpend) -> Value,
) -> Value {
    // day → group name → (model, key) → spend
    let mut tree: BTreeMap<String, BTreeMap<String, Group>> = BTreeMap::new();
    for d in days {
        let group = group_of(d);
        let group_key = group.to_string();
        let entry = tree
            .entry(d.date.clone())
            .or_default()
            .entry(group_key)
            .or_insert_with(|| (group, BTreeMap::new()));
        let cell = entry
            .1
            .entry((d.model.clone(), d.api_key.clone()))
            .or_default();
        cell.spend += d.spend;
        cell.total_tokens += d.total_tokens;
    }
    let items = tree
        .into_iter()
        .map(|(day, groups)| {
            let groups: Vec<Value> = groups
                .into_values()
                .map(|(name, cells)| {
                    let total: f64 = cells.values().map(|c| c.spend).sum();
                    let metadata: Vec<Value> = cells
                        .into_iter()
                        .map(|((model, api_key), c)| {
                            json!({"model": model, "api_key": api_key, "spend": c.spend, "total_tokens": c.total_tokens})
                        })
                        .collect();
                    json!({name_field: name, "total_spend": total, "metadata": metadata})
                })
                .collect();
            json!({"group_by_day": format!("{day}T00:00:00+00:00"), list_name: groups})
        })
        .collect();
    Value::Array(items)
}

fn by_api_key(days: &[DailySpend]) -> Value {
    let mut keys: BTreeMap<String, BTreeMap<String, (f64, u64, u64)>> = BTreeMap::new();
    for d in days {
        let cell = keys
            .entry(d.api_key.clone())
            .or_default()
            .entry(d.model.clone())
            .or_default();
        cell.0 += d.spend;
        cell.1 += d.prompt_tokens;
        cell.2 += d.completion_tokens;
    }
    let items = keys
        .into_iter()
        .map(|(api_key, models)| {
            let total_cost: f64 = models.values().map(|m| m.0).sum();
            let input: u64 = models.values().map(|m| m.1).sum();
            let output: u64 = models.values().map(|m| m.2).sum();
            let details: Vec<Value> = models
                .into_iter()
                .map(|(model, (cost, i, o))| {
                    json!({"model": model, "total_cost": cost, "total_input_tokens": i, "total_output_tokens": o})
                })
                .collect();
            json!({
                "api_key": api_key,
                "total_cost": total_cost,
                "total_input_tokens": input,
                "total_output_tokens": output,
                "model_details": details,
            })
        })
        .collect();
    Value::Array(items)
}
