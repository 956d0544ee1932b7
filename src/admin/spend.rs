//! `/spend/logs`: the spend rows, in LiteLLM's `LiteLLM_SpendLogs` shape.

use super::{store_error, AdminContext, AdminResult, Query};
use crate::auth::hash_key;
use crate::error::GatewayError;
use crate::store::{DailySpend, SpendQuery, Table};
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub async fn logs(ctx: &AdminContext<'_>, q: &Query<'_>) -> AdminResult {
    let api_key = q.get("api_key").map(|k| {
        if k.starts_with("sk-") {
            hash_key(&k)
        } else {
            k
        }
    });
    let query = SpendQuery {
        api_key,
        user_id: q.get("user_id"),
        team_id: q.get("team_id"),
        request_id: q.get("request_id"),
        start_date: q.get("start_date"),
        end_date: q.get("end_date"),
        limit: None,
    };
    let rows = ctx.store.spend_logs(&query).await.map_err(store_error)?;
    serde_json::to_value(rows).map_err(|e| GatewayError::internal(e.to_string()))
}

/// `/global/spend/report?start_date=&end_date=&group_by=team|customer|api_key`, in LiteLLM's
/// shapes: per day and team (or customer), each with its per-model, per-key breakdown; or per
/// key with its per-model totals.
pub async fn report(ctx: &AdminContext<'_>, q: &Query<'_>) -> AdminResult {
    let day = |name: &str| {
        q.get(name)
            .filter(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_ok())
            .ok_or_else(|| {
                GatewayError::bad_request(format!("{name} is required, as YYYY-MM-DD"))
                    .with_param(name)
            })
    };
    let (start, end) = (day("start_date")?, day("end_date")?);
    let group_by = q.get("group_by").unwrap_or_else(|| "team".to_string());
    let rows = ctx
        .store
        .daily_spend(&start, &end)
        .await
        .map_err(store_error)?;
    match group_by.as_str() {
        "team" | "customer" => Ok(by_day(ctx, &rows, group_by == "team")),
        "api_key" => Ok(by_key(&rows)),
        other => Err(GatewayError::bad_request(format!(
            "group_by must be team, customer or api_key, not {other:?}"
        ))
        .with_param("group_by")),
    }
}

fn by_day(ctx: &AdminContext<'_>, rows: &[DailySpend], teams: bool) -> Value {
    let mut days: BTreeMap<&str, BTreeMap<String, Vec<&DailySpend>>> = BTreeMap::new();
    for r in rows {
        let owner = if teams {
            ctx.directory
                .get(Table::Teams, &r.team_id)
                .and_then(|t| t.str_field("team_alias").map(str::to_string))
                .unwrap_or_else(|| {
                    if r.team_id.is_empty() {
                        "Unassigned Team".to_string()
                    } else {
                        r.team_id.clone()
                    }
                })
        } else {
            r.end_user.clone()
        };
        days.entry(&r.date)
            .or_default()
            .entry(owner)
            .or_default()
            .push(r);
    }
    let (list_name, owner_name) = if teams {
        ("teams", "team_name")
    } else {
        ("customers", "customer")
    };
    let out: Vec<Value> = days
        .into_iter()
        .map(|(day, owners)| {
            let entries: Vec<Value> = owners
                .into_iter()
                .map(|(owner, rows)| {
                    let metadata: Vec<Value> = rows
                        .iter()
                        .map(|r| json!({"model": r.model, "api_key": r.api_key, "spend": r.spend, "total_tokens": r.total_tokens}))
                        .collect();
                    let total: f64 = rows.iter().map(|r| r.spend).sum();
                    json!({owner_name: owner, "total_spend": total, "metadata": metadata})
                })
                .collect();
            json!({"group_by_day": format!("{day}T00:00:00+00:00"), list_name: entries})
        })
        .collect();
    Value::Array(out)
}

fn by_key(rows: &[DailySpend]) -> Value {
    let mut keys: BTreeMap<&str, BTreeMap<&str, (f64, u64, u64)>> = BTreeMap::new();
    for r in rows {
        let m = keys
            .entry(&r.api_key)
            .or_default()
            .entry(&r.model)
            .or_default();
        m.0 += r.spend;
        m.1 += r.prompt_tokens;
        m.2 += r.completion_tokens;
    }
    let mut out: Vec<Value> = keys
        .into_iter()
        .map(|(key, models)| {
            let (cost, input, output) = models.values().fold((0.0, 0, 0), |a, m| (a.0 + m.0, a.1 + m.1, a.2 + m.2));
            let details: Vec<Value> = models
                .iter()
                .map(|(model, m)| json!({"model": model, "total_cost": m.0, "total_input_tokens": m.1, "total_output_tokens": m.2}))
                .collect();
            json!({"api_key": key, "total_cost": cost, "total_input_tokens": input, "total_output_tokens": output, "model_details": details})
        })
        .collect();
    out.sort_by(|a, b| {
        b["total_cost"]
            .as_f64()
            .partial_cmp(&a["total_cost"].as_f64())
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    Value::Array(out)
}
