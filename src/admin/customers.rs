//! End users (LiteLLM's customers, also under `/end_user/*`): `/customer/new`, `/customer/info`
//! (`?end_user_id=`), `/customer/update`, `/customer/delete`, `/customer/list`,
//! `/customer/block`, `/customer/unblock`. Limits given inline become a budget row.

use super::body::{self, str_of, Kind};
use super::budgets;
use super::entities::{self, render, rfc3339};
use super::error::{AdminError, AdminResult};
use super::keys::merge_update;
use super::Call;
use crate::store::{Document, Entity, Table};
use serde_json::{json, Map, Value};

const CUSTOMER_FIELDS: &[(&str, Kind)] = &[
    ("user_id", Kind::Str),
    ("alias", Kind::Str),
    ("blocked", Kind::Bool),
    ("budget_id", Kind::Str),
    ("allowed_model_region", Kind::Str),
    ("default_model", Kind::Str),
    ("models", Kind::StrList),
    ("max_budget", Kind::Float),
    ("soft_budget", Kind::Float),
    ("tpm_limit", Kind::Int),
    ("rpm_limit", Kind::Int),
    ("budget_duration", Kind::Str),
];

async fn customer_row(call: &Call<'_>, customer: &Entity) -> AdminResult<Map<String, Value>> {
    let mut row = render(call.ctx, Table::Customers, customer);
    row.remove("budget_reset_at");
    let table = budgets::budget_table(call.ctx, customer.str_field("budget_id")).await?;
    row.insert("litellm_budget_table".into(), table);
    Ok(row)
}

fn check_region(req: &Document) -> AdminResult<()> {
    match str_of(req, "allowed_model_region") {
        Some(r) if r != "eu" && r != "us" => Err(AdminError::validation(
            &["body", "allowed_model_region"],
            "literal_error",
            "Input should be 'eu' or 'us'",
        )),
        _ => Ok(()),
    }
}

pub async fn new(call: &Call<'_>) -> AdminResult<Value> {
    let ctx = call.ctx;
    let mut req = body::parse_object(call.body)?;
    body::check_fields(&mut req, CUSTOMER_FIELDS)?;
    let user_id = body::required_str(&req, "user_id")?;
    if req.get("max_budget").is_some_and(|v| !v.is_null()) && str_of(&req, "budget_id").is_some() {
        return Err(AdminError::validation(
            &["body"],
            "value_error",
            "Value error, Set either 'max_budget' or 'budget_id', not both.",
        ));
    }
    check_region(&req)?;
    budgets::check(&req)?;
    let exists = || {
        AdminError::proxy(
            400,
            format!(
                "Customer already exists, passed user_id={user_id}. Please pass a new user_id."
            ),
            "bad_request",
            Some("user_id"),
        )
    };
    if entities::load(ctx, Table::Customers, &user_id)
        .await?
        .is_some()
    {
        return Err(exists());
    }
    let mut budget_id = str_of(&req, "budget_id").map(str::to_string);
    if let Some(b) = &budget_id {
        if entities::load(ctx, Table::Budgets, b).await?.is_none() {
            return Err(AdminError::detail_error(
                400,
                format!("Budget not found, passed budget_id={b}"),
            ));
        }
    } else if budgets::has_budget_fields(&req) {
        let id = entities::new_id();
        budgets::create_budget(call, &id, &req).await?;
        budget_id = Some(id);
    }
    let mut doc = Document::new();
    doc.insert("user_id".into(), Value::String(user_id.clone()));
    doc.insert(
        "alias".into(),
        req.get("alias").cloned().unwrap_or(Value::Null),
    );
    doc.insert(
        "blocked".into(),
        Value::Bool(body::bool_of(&req, "blocked").unwrap_or(false)),
    );
    doc.insert(
        "allowed_model_region".into(),
        req.get("allowed_model_region")
            .cloned()
            .unwrap_or(Value::Null),
    );
    doc.insert(
        "default_model".into(),
        req.get("default_model").cloned().unwrap_or(Value::Null),
    );
    doc.insert(
        "models".into(),
        req.get("models")
            .cloned()
            .filter(|v| !v.is_null())
            .unwrap_or(json!([])),
    );
    doc.insert(
        "budget_id".into(),
        budget_id.map_or(Value::Null, Value::String),
    );
    doc.insert("object_permission_id".into(), Value::Null);
    doc.insert("created_at".into(), Value::String(rfc3339(ctx.now_ms)));
    let created = entities::create(ctx, Table::Customers, &user_id, doc, None)
        .await?
        .ok_or_else(exists)?;
    Ok(Value::Object(customer_row(call, &created).await?))
}

fn not_found(id: &str, param: &str) -> AdminError {
    AdminError::proxy(
        404,
        format!("End User Id={id} does not exist in db"),
        "not_found",
        Some(param),
    )
}

pub async fn info(call: &Call<'_>) -> AdminResult<Value> {
    let Some(id) = call.query.get("end_user_id").map(str::to_string) else {
        return Err(AdminError::validation(
            &["query", "end_user_id"],
            "missing",
            "Field required",
        ));
    };
    let customer = entities::load(call.ctx, Table::Customers, &id)
        .await?
        .ok_or_else(|| not_found(&id, "end_user_id"))?;
    Ok(Value::Object(customer_row(call, &customer).await?))
}

pub async fn update(call: &Call<'_>) -> AdminResult<Value> {
    let ctx = call.ctx;
    let mut req = body::parse_object(call.body)?;
    body::check_fields(&mut req, CUSTOMER_FIELDS)?;
    let user_id = body::required_str(&req, "user_id")?;
    check_region(&req)?;
    budgets::check(&req)?;
    let customer = entities::load(ctx, Table::Customers, &user_id)
        .await?
        .ok_or_else(|| not_found(&user_id, "user_id"))?;
    let mut doc = customer.doc.clone();
    let mut changes = req.clone();
    for c in budgets::BUDGET_COLUMNS {
        changes.remove(*c);
    }
    changes.remove("spend");
    merge_update(&mut doc, &changes);
    if budgets::has_budget_fields(&req) {
        match customer.str_field("budget_id").map(str::to_string) {
            Some(b) => {
                if let Some(budget) = entities::load(ctx, Table::Budgets, &b).await? {
                    let mut bdoc = budget.doc.clone();
                    let mut limits = Document::new();
                    for c in budgets::BUDGET_COLUMNS {
                        if let Some(v) = req.get(*c) {
                            limits.insert(c.to_string(), v.clone());
                        }
                    }
                    merge_update(&mut bdoc, &limits);
                    let reset = super::keys::next_reset(&budget, &bdoc, ctx.now_ms);
                    entities::save(ctx, Table::Budgets, &budget, bdoc, reset).await?;
                }
            }
            None => {
                let id = entities::new_id();
                budgets::create_budget(call, &id, &req).await?;
                doc.insert("budget_id".into(), Value::String(id));
            }
        }
    }
    let saved = entities::save(
        ctx,
        Table::Customers,
        &customer,
        doc,
        customer.budget_reset_at,
    )
    .await?
    .ok_or_else(|| not_found(&user_id, "user_id"))?;
    Ok(Value::Object(customer_row(call, &saved).await?))
}

pub async fn delete(call: &Call<'_>) -> AdminResult<Value> {
    let req = body::parse_object(call.body)?;
    let ids = body::required_str_list(&req, "user_ids")?;
    let mut missing = Vec::new();
    for id in &ids {
        if entities::load(call.ctx, Table::Customers, id)
            .await?
            .is_none()
        {
            missing.push(id.clone());
        }
    }
    if !missing.is_empty() {
        return Err(AdminError::proxy(
            404,
            format!("End User Id(s)={} do not exist in db", missing.join(", ")),
            "not_found",
            Some("user_ids"),
        ));
    }
    let mut deleted = 0u64;
    for id in &ids {
        if entities::remove(call.ctx, Table::Customers, id).await? {
            deleted += 1;
        }
    }
    Ok(json!({
        "deleted_customers": deleted,
        "message": format!("Successfully deleted customers with ids: {}", super::error::python_repr(&json!(ids))),
    }))
}

pub async fn list(call: &Call<'_>) -> AdminResult<Value> {
    let mut out = Vec::new();
    for c in entities::all(call.ctx, Table::Customers).await? {
        out.push(Value::Object(customer_row(call, &c).await?));
    }
    Ok(Value::Array(out))
}

/// `/customer/block` and `/customer/unblock` take `{"user_ids": [...]}`; end users not yet
/// known are created blocked, as LiteLLM's upsert does.
pub async fn set_blocked(call: &Call<'_>, blocked: bool) -> AdminResult<Value> {
    let ctx = call.ctx;
    let req = body::parse_object(call.body)?;
    let ids = body::required_str_list(&req, "user_ids")?;
    let mut records = Vec::new();
    for id in &ids {
        let saved = match entities::load(ctx, Table::Customers, id).await? {
            Some(c) => {
                let mut doc = c.doc.clone();
                doc.insert("blocked".into(), Value::Bool(blocked));
                entities::save(ctx, Table::Customers, &c, doc, c.budget_reset_at).await?
            }
            None => {
                let mut doc = Document::new();
                doc.insert("user_id".into(), Value::String(id.clone()));
                doc.insert("alias".into(), Value::Null);
                doc.insert("blocked".into(), Value::Bool(blocked));
                doc.insert("models".into(), json!([]));
                doc.insert("budget_id".into(), Value::Null);
                entities::create(ctx, Table::Customers, id, doc, None).await?
            }
        };
        if let Some(c) = saved {
            records.push(Value::Object(customer_row(call, &c).await?));
        }
    }
    Ok(json!({"blocked_users": records}))
}
