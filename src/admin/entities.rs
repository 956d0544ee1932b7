//! Reading and writing entities for the admin handlers: every successful store write is
//! applied to the in-memory directory at once; reads prefer the directory and fall back to
//! the store (an entity another node wrote since the last refresh). Rendering adds the columns
//! the store keeps beside the document (`spend` live from the accounts, `budget_reset_at`).

use super::error::{AdminError, AdminResult};
use super::AdminContext;
use crate::store::{Document, Entity, ListFilter, Table};
use serde_json::{Map, Value};
use std::sync::Arc;

/// The document field that names an entity (keys are named by their hash, `token`).
pub fn id_field(table: Table) -> &'static str {
    match table {
        Table::Keys => "token",
        Table::Users | Table::Customers => "user_id",
        Table::Teams => "team_id",
        Table::Organizations => "organization_id",
        Table::Budgets => "budget_id",
        Table::Models => "model_id",
    }
}

pub async fn load(
    ctx: &AdminContext<'_>,
    table: Table,
    id: &str,
) -> AdminResult<Option<Arc<Entity>>> {
    if let Some(e) = ctx.directory.get(table, id) {
        return Ok(Some(e));
    }
    Ok(ctx
        .store
        .get(table, id)
        .await?
        .filter(|e| !e.deleted)
        .map(Arc::new))
}

/// Creates an entity; `Ok(None)` when a live one with that id exists.
pub async fn create(
    ctx: &AdminContext<'_>,
    table: Table,
    id: &str,
    doc: Document,
    budget_reset_at: Option<i64>,
) -> AdminResult<Option<Entity>> {
    let entity = Entity {
        id: id.to_string(),
        doc,
        spend: 0.0,
        budget_reset_at,
        updated_ms: ctx.now_ms,
        deleted: false,
    };
    if !ctx.store.insert(table, &entity).await? {
        return Ok(None);
    }
    ctx.accounts.set_spend(table, id, 0.0);
    ctx.directory.apply(table, entity.clone());
    Ok(Some(entity))
}

/// Replaces an existing entity's document; `Ok(None)` when it is gone.
pub async fn save(
    ctx: &AdminContext<'_>,
    table: Table,
    current: &Entity,
    doc: Document,
    budget_reset_at: Option<i64>,
) -> AdminResult<Option<Entity>> {
    if !ctx
        .store
        .update(table, &current.id, &doc, budget_reset_at)
        .await?
    {
        return Ok(None);
    }
    let entity = Entity {
        id: current.id.clone(),
        doc,
        spend: current.spend,
        budget_reset_at,
        updated_ms: ctx.now_ms.max(current.updated_ms),
        deleted: false,
    };
    ctx.directory.apply(table, entity.clone());
    Ok(Some(entity))
}

/// Deletes an entity; `Ok(false)` when there was none.
pub async fn remove(ctx: &AdminContext<'_>, table: Table, id: &str) -> AdminResult<bool> {
    let deleted = ctx.store.delete(table, id).await?;
    ctx.directory.remove(table, id);
    ctx.accounts.forget(table, id);
    Ok(deleted)
}

/// Every live entity matching `filter`, and the total before the page.
pub async fn list(
    ctx: &AdminContext<'_>,
    table: Table,
    filter: &ListFilter,
) -> AdminResult<(Vec<Entity>, u64)> {
    Ok(ctx.store.list(table, filter).await?)
}

/// All live entities of a table (for scans such as alias uniqueness).
pub async fn all(ctx: &AdminContext<'_>, table: Table) -> AdminResult<Vec<Entity>> {
    Ok(list(ctx, table, &ListFilter::default()).await?.0)
}

pub fn live_spend(ctx: &AdminContext<'_>, table: Table, entity: &Entity) -> f64 {
    ctx.accounts
        .spend(table, &entity.id)
        .unwrap_or(entity.spend)
}

/// The row as LiteLLM answers it: the document, its id field, `spend` and `budget_reset_at`.
pub fn render(ctx: &AdminContext<'_>, table: Table, entity: &Entity) -> Map<String, Value> {
    let mut row = entity.doc.clone();
    row.insert(id_field(table).into(), Value::String(entity.id.clone()));
    row.insert("spend".into(), Value::from(live_spend(ctx, table, entity)));
    row.insert(
        "budget_reset_at".into(),
        entity
            .budget_reset_at
            .map(rfc3339)
            .map_or(Value::Null, Value::String),
    );
    row
}

/// Unix milliseconds as RFC 3339 UTC with microseconds, as pydantic writes datetimes.
pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
        .unwrap_or_default()
}

/// RFC 3339 text to unix milliseconds.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// `budget_duration` checked as LiteLLM's `validate_budget_duration` does.
pub fn check_budget_duration(doc: &Document, field: &str) -> AdminResult<Option<String>> {
    match doc.get(field).and_then(Value::as_str) {
        None => Ok(None),
        Some(d) if crate::spend::period::parse_ms(d).is_some() => Ok(Some(d.to_string())),
        Some(d) => Err(AdminError::detail_error(
            400,
            format!(
                "Invalid budget_duration '{d}'. Use a format like '1h', '24h', '7d', or '30d'."
            ),
        )),
    }
}

/// When a budget with the document's `budget_duration` (already checked) resets.
pub fn reset_at(doc: &Document, field: &str, now_ms: i64) -> Option<i64> {
    doc.get(field)
        .and_then(Value::as_str)
        .and_then(|d| crate::spend::period::next_reset_ms(d, now_ms))
}

/// `max_budget`-like fields must be finite and not negative.
pub fn check_budget_value(doc: &Document, field: &str) -> AdminResult<()> {
    if let Some(v) = doc.get(field).and_then(Value::as_f64) {
        if !v.is_finite() || v < 0.0 {
            return Err(AdminError::detail_error(
                400,
                format!(
                    "{field} must be a non-negative finite number. Received: {}",
                    super::error::python_float(v)
                ),
            ));
        }
    }
    Ok(())
}

/// Copies into `doc` every field of `defaults` it lacks.
pub fn fill_defaults(doc: &mut Document, defaults: &[(&str, Value)]) {
    for (name, value) in defaults {
        doc.entry(name.to_string()).or_insert_with(|| value.clone());
    }
}

/// A fresh random id (teams, organizations and budgets without one given), as LiteLLM's uuid4.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
