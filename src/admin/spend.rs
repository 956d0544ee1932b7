//! Spend reads: `/spend/logs` (rows in `LiteLLM_SpendLogs` shape, or a per-day summary when a
//! date range is given), `/spend/keys`, `/spend/users`, `/global/spend`, `/global/spend/logs`,
//! and `/global/spend/reset` (master key only: every entity's spend to 0, rows kept).

use super::entities::{self, render};
use super::error::{AdminError, AdminResult};
use super::key_fields::to_token;
use super::Call;
use crate::store::{SpendQuery, Table};
use chrono::{Duration, NaiveDate};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// At most this many rows per `/spend/logs` answer (LiteLLM caps it too; `/spend/logs/v2`
/// pages).
const SPEND_LOGS_CAP: u64 = 10_000;

/// A `YYYY-MM-DD` query parameter.
pub fn parse_day(value: Option<&str>, name: &str) -> AdminResult<Option<NaiveDate>> {
    match value {
        None => Ok(None),
        Some(v) => NaiveDate::parse_from_str(v.trim(), "%Y-%m-%d")
            .map(Some)
            .map_err(|_| {
                AdminError::detail_error(
                    400,
                    format!("Invalid {name}: '{v}'. Use the format YYYY-MM-DD."),
                )
            }),
    }
}

pub fn today(now_ms: i64) -> NaiveDate {
    chrono::DateTime::from_timestamp_millis(now_ms)
        .map(|t| t.date_naive())
        .unwrap_or_default()
}

pub async fn logs(call: &Call<'_>) -> AdminResult<Value> {
    let q = &call.query;
    let start = parse_day(q.get("start_date"), "start_date")?;
    let end = parse_day(q.get("end_date"), "end_date")?;
    let summarize = q.bool("summarize", true)?;
    let mut query = SpendQuery {
        api_key: q.get("api_key").map(to_token),
        user_id: q.get("user_id").map(str::to_string),
        request_id: q.get("request_id").map(str::to_string),
        limit: Some(SPEND_LOGS_CAP),
        ..SpendQuery::default()
    };
    if let (Some(s), Some(e)) = (start, end) {
        query.start_date = Some(s.format("%Y-%m-%d").to_string());
        query.end_date = Some(e.format("%Y-%m-%d").to_string());
        if summarize {
            query.limit = None;
            let rows = call.ctx.store.spend_logs(&query).await?;
            return Ok(daily_summary(&rows, e));
        }
    }
    let rows = call.ctx.store.spend_logs(&query).await?;
    Ok(serde_json::to_value(rows).unwrap_or_else(|_| json!([])))
}

/// One day of `/spend/logs`'s summary.
#[derive(Default)]
struct DaySummary {
    spend: f64,
    by_key: Map<String, Value>,
    users: Map<String, Value>,
    models: Map<String, Value>,
}

/// LiteLLM's per-day summary: each day's spend, by key (top level), by user and by model,
/// padded with empty days up to `end`.
fn daily_summary(rows: &[crate::store::SpendRow], end: NaiveDate) -> Value {
    let mut days: BTreeMap<String, DaySummary> = BTreeMap::new();
    fn add(map: &mut Map<String, Value>, name: &str, spend: f64) {
        let v = map.get(name).and_then(Value::as_f64).unwrap_or(0.0) + spend;
        map.insert(name.to_string(), Value::from(v));
    }
    for row in rows {
        let day = row.start_time.get(..10).unwrap_or_default().to_string();
        let entry = days.entry(day).or_default();
        entry.spend += row.spend;
        add(&mut entry.by_key, &row.api_key, row.spend);
        add(&mut entry.users, &row.user, row.spend);
        add(&mut entry.models, &row.model, row.spend);
    }
    let mut out = Vec::new();
    let mut last: Option<NaiveDate> = None;
    for (day, summary) in days {
        let mut item = summary.by_key;
        item.insert("startTime".into(), Value::String(day.clone()));
        item.insert("spend".into(), Value::from(summary.spend));
        item.insert("users".into(), Value::Object(summary.users));
        item.insert("models".into(), Value::Object(summary.models));
        out.push(Value::Object(item));
        last = NaiveDate::parse_from_str(&day, "%Y-%m-%d").ok().or(last);
    }
    if let Some(mut day) = last {
        while day < end {
            day += Duration::days(1);
            out.push(json!({"startTime": day.format("%Y-%m-%d").to_string(), "spend": 0, "users": {}, "models": {}}));
        }
    }
    Value::Array(out)
}

pub async fn keys(call: &Call<'_>) -> AdminResult<Value> {
    let ctx = call.ctx;
    let keys = entities::all(ctx, Table::Keys).await?;
    Ok(Value::Array(
        keys.iter()
            .map(|k| Value::Object(render(ctx, Table::Keys, k)))
            .collect(),
    ))
}

pub async fn users(call: &Call<'_>) -> AdminResult<Value> {
    let ctx = call.ctx;
    let users = match call.query.get("user_id") {
        Some(u) => entities::load(ctx, Table::Users, u)
            .await?
            .map(|u| (*u).clone())
            .into_iter()
            .collect(),
        None => entities::all(ctx, Table::Users).await?,
    };
    Ok(Value::Array(
        users
            .iter()
            .map(|u| {
                let mut row = render(ctx, Table::Users, u);
                row.remove("password");
                Value::Object(row)
            })
            .collect(),
    ))
}

/// The last 30 days of daily spend (LiteLLM's `MonthlyGlobalSpend` view).
async fn last_30_days(call: &Call<'_>) -> AdminResult<Vec<crate::store::DailySpend>> {
    let end = today(call.ctx.now_ms);
    let start = end - Duration::days(30);
    Ok(call
        .ctx
        .store
        .daily_spend(
            &start.format("%Y-%m-%d").to_string(),
            &end.format("%Y-%m-%d").to_string(),
        )
        .await?)
}

pub async fn global(call: &Call<'_>) -> AdminResult<Value> {
    let total: f64 = last_30_days(call).await?.iter().map(|d| d.spend).sum();
    Ok(json!({"spend": total, "max_budget": 0.0}))
}

pub async fn global_logs(call: &Call<'_>) -> AdminResult<Value> {
    let api_key = call.query.get("api_key").map(to_token);
    let mut by_day: BTreeMap<String, f64> = BTreeMap::new();
    for d in last_30_days(call).await? {
        if api_key.as_deref().is_some_and(|k| d.api_key != k) {
            continue;
        }
        *by_day.entry(d.date.clone()).or_default() += d.spend;
    }
    Ok(Value::Array(
        by_day
            .into_iter()
            .map(|(date, spend)| {
                let mut row = json!({"date": format!("{date}T00:00:00+00:00"), "spend": spend});
                if let (Some(k), Some(obj)) = (&api_key, row.as_object_mut()) {
                    obj.insert("api_key".into(), Value::String(k.clone()));
                }
                row
            })
            .collect(),
    ))
}

pub async fn reset(call: &Call<'_>) -> AdminResult<Value> {
    call.ctx.store.reset_all_spend().await?;
    call.ctx.accounts.reset_all();
    // Entities no account tracks yet would otherwise still show their stored spend.
    for table in Table::ALL {
        for entity in call.ctx.directory.all(table) {
            call.ctx.accounts.set_spend(table, &entity.id, 0.0);
        }
    }
    Ok(json!({
        "message": "Spend for all API Keys and Teams reset successfully",
        "status": "success",
    }))
}
