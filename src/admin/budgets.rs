//! Shared budgets (`LiteLLM_BudgetTable`): `/budget/new`, `/budget/info` (POST
//! `{"budgets": [...]}`), `/budget/update`, `/budget/delete` (`{"id"}`), `/budget/list`.
//! Organizations and end users with limits of their own get a budget row too, as in LiteLLM.

use super::body::{self, str_of, Kind};
use super::entities::{self, check_budget_duration, check_budget_value, render, reset_at, rfc3339};
use super::error::{AdminError, AdminResult};
use super::keys::{merge_update, next_reset};
use super::{AdminContext, Call};
use crate::store::{Document, Entity, Table};
use serde_json::{json, Value};

pub const BUDGET_FIELDS: &[(&str, Kind)] = &[
    ("budget_id", Kind::Str),
    ("max_budget", Kind::Float),
    ("soft_budget", Kind::Float),
    ("max_parallel_requests", Kind::Int),
    ("tpm_limit", Kind::Int),
    ("rpm_limit", Kind::Int),
    ("tpd_limit", Kind::Int),
    ("budget_duration", Kind::Str),
    ("model_max_budget", Kind::Object),
    ("allowed_models", Kind::StrList),
];

/// The budget fields of a request (what a budget row holds).
pub const BUDGET_COLUMNS: &[&str] = &[
    "max_budget",
    "soft_budget",
    "max_parallel_requests",
    "tpm_limit",
    "rpm_limit",
    "tpd_limit",
    "model_max_budget",
    "budget_duration",
];

pub fn check(req: &Document) -> AdminResult<()> {
    check_budget_value(req, "max_budget")?;
    check_budget_value(req, "soft_budget")?;
    check_budget_duration(req, "budget_duration")?;
    Ok(())
}

/// Whether a request sets any budget field.
pub fn has_budget_fields(req: &Document) -> bool {
    BUDGET_COLUMNS
        .iter()
        .any(|c| req.get(*c).is_some_and(|v| !v.is_null()))
}

/// Creates a budget row from a request's budget fields; `Ok(None)` when the id is taken.
pub async fn create_budget(
    call: &Call<'_>,
    budget_id: &str,
    req: &Document,
) -> AdminResult<Option<Entity>> {
    let ctx = call.ctx;
    let mut doc = Document::new();
    for c in BUDGET_COLUMNS {
        doc.insert(c.to_string(), req.get(*c).cloned().unwrap_or(Value::Null));
    }
    for (name, value) in req {
        if name == "allowed_models"
            || name == "temp_budget_increase"
            || name == "temp_budget_expiry"
        {
            doc.insert(name.clone(), value.clone());
        }
    }
    let now = Value::String(rfc3339(ctx.now_ms));
    doc.insert("budget_id".into(), Value::String(budget_id.to_string()));
    doc.insert("created_at".into(), now.clone());
    doc.insert("updated_at".into(), now);
    doc.insert("created_by".into(), Value::String(call.changed_by()));
    doc.insert("updated_by".into(), Value::String(call.changed_by()));
    let budget_reset_at = reset_at(&doc, "budget_duration", ctx.now_ms);
    entities::create(ctx, Table::Budgets, budget_id, doc, budget_reset_at).await
}

/// The budget row an entity names, rendered (`litellm_budget_table`), or null.
pub async fn budget_table(ctx: &AdminContext<'_>, budget_id: Option<&str>) -> AdminResult<Value> {
    let Some(id) = budget_id else {
        return Ok(Value::Null);
    };
    Ok(entities::load(ctx, Table::Budgets, id)
        .await?
        .map_or(Value::Null, |b| {
            Value::Object(render(ctx, Table::Budgets, &b))
        }))
}

pub async fn new(call: &Call<'_>) -> AdminResult<Value> {
    let mut req = body::parse_object(call.body)?;
    body::check_fields(&mut req, BUDGET_FIELDS)?;
    check(&req)?;
    let budget_id = str_of(&req, "budget_id").map_or_else(entities::new_id, str::to_string);
    let exists =
        || AdminError::detail_error(400, format!("Budget with id '{budget_id}' already exists."));
    if entities::load(call.ctx, Table::Budgets, &budget_id)
        .await?
        .is_some()
    {
        return Err(exists());
    }
    let created = create_budget(call, &budget_id, &req)
        .await?
        .ok_or_else(exists)?;
    Ok(Value::Object(render(call.ctx, Table::Budgets, &created)))
}

pub async fn info(call: &Call<'_>) -> AdminResult<Value> {
    let req = body::parse_object(call.body)?;
    let ids = body::required_str_list(&req, "budgets")?;
    if ids.is_empty() {
        return Err(AdminError::detail_error(
            400,
            "Specify list of budget id's to query. Passed in=[]",
        ));
    }
    let mut out = Vec::new();
    for id in &ids {
        if let Some(b) = entities::load(call.ctx, Table::Budgets, id).await? {
            out.push(Value::Object(render(call.ctx, Table::Budgets, &b)));
        }
    }
    Ok(Value::Array(out))
}

pub async fn update(call: &Call<'_>) -> AdminResult<Value> {
    let ctx = call.ctx;
    let mut req = body::parse_object(call.body)?;
    body::check_fields(&mut req, BUDGET_FIELDS)?;
    let Some(budget_id) = str_of(&req, "budget_id").map(str::to_string) else {
        return Err(AdminError::detail_error(400, "budget_id is required"));
    };
    check(&req)?;
    let not_found = || {
        AdminError::detail_error(
            400,
            format!("Budget not found, passed budget_id={budget_id}"),
        )
    };
    let budget = entities::load(ctx, Table::Budgets, &budget_id)
        .await?
        .ok_or_else(not_found)?;
    let mut doc = budget.doc.clone();
    merge_update(&mut doc, &req);
    doc.insert("updated_at".into(), Value::String(rfc3339(ctx.now_ms)));
    doc.insert("updated_by".into(), Value::String(call.changed_by()));
    let budget_reset_at = next_reset(&budget, &doc, ctx.now_ms);
    let saved = entities::save(ctx, Table::Budgets, &budget, doc, budget_reset_at)
        .await?
        .ok_or_else(not_found)?;
    Ok(Value::Object(render(ctx, Table::Budgets, &saved)))
}

pub async fn delete(call: &Call<'_>) -> AdminResult<Value> {
    let req = body::parse_object(call.body)?;
    let id = body::required_str(&req, "id")?;
    let budget = entities::load(call.ctx, Table::Budgets, &id)
        .await?
        .ok_or_else(|| {
            AdminError::detail_error(400, format!("Budget not found, passed budget_id={id}"))
        })?;
    let row = render(call.ctx, Table::Budgets, &budget);
    entities::remove(call.ctx, Table::Budgets, &id).await?;
    Ok(Value::Object(row))
}

pub async fn list(call: &Call<'_>) -> AdminResult<Value> {
    let rows = entities::all(call.ctx, Table::Budgets).await?;
    Ok(json!(rows
        .iter()
        .map(|b| Value::Object(render(call.ctx, Table::Budgets, b)))
        .collect::<Vec<_>>()))
}
