//! Organizations: `/organization/new` (its limits become a budget row, `budget_id`),
//! `/organization/info` (GET `?organization_id=` or POST `{"organizations": [...]}`),
//! `/organization/update` (PATCH), `/organization/delete` (DELETE), `/organization/list`,
//! `/organization/member_add`. Members live in the organization's `members`.

use super::body::{self, str_of, Kind};
use super::budgets;
use super::entities::{self, render, rfc3339};
use super::error::{AdminError, AdminResult};
use super::keys::merge_update;
use super::roles;
use super::Call;
use crate::store::{Document, Entity, Table};
use serde_json::{json, Map, Value};

const ORG_FIELDS: &[(&str, Kind)] = &[
    ("organization_id", Kind::Str),
    ("organization_alias", Kind::Str),
    ("models", Kind::List),
    ("budget_id", Kind::Str),
    ("metadata", Kind::Object),
    ("max_budget", Kind::Float),
    ("soft_budget", Kind::Float),
    ("tpm_limit", Kind::Int),
    ("rpm_limit", Kind::Int),
    ("max_parallel_requests", Kind::Int),
    ("budget_duration", Kind::Str),
    ("model_max_budget", Kind::Object),
];

/// Organization roles `/organization/member_add` accepts.
const ORG_ROLES: &[&str] = &[
    roles::PROXY_ADMIN,
    roles::PROXY_ADMIN_VIEWER,
    "org_admin",
    roles::INTERNAL_USER,
    roles::INTERNAL_USER_VIEWER,
];

async fn org_row(call: &Call<'_>, org: &Entity) -> AdminResult<Map<String, Value>> {
    let mut row = render(call.ctx, Table::Organizations, org);
    row.remove("budget_reset_at");
    row.insert(
        "litellm_budget_table".into(),
        budgets::budget_table(call.ctx, org.str_field("budget_id")).await?,
    );
    row.entry("members".to_string()).or_insert(json!([]));
    row.entry("teams".to_string()).or_insert(json!([]));
    Ok(row)
}

fn not_found(id: &str) -> AdminError {
    AdminError::detail_error(
        404,
        format!("Organization not found for organization_id={id}"),
    )
}

pub async fn new(call: &Call<'_>) -> AdminResult<Value> {
    let ctx = call.ctx;
    let mut req = body::parse_object(call.body)?;
    body::check_fields(&mut req, ORG_FIELDS)?;
    let alias = body::required_str(&req, "organization_alias")?;
    budgets::check(&req)?;
    let org_id = str_of(&req, "organization_id").map_or_else(entities::new_id, str::to_string);
    if entities::load(ctx, Table::Organizations, &org_id)
        .await?
        .is_some()
    {
        return Err(AdminError::detail_error(
            400,
            format!("Organization id = {org_id} already exists. Please use a different organization id."),
        ));
    }
    let budget_id = match str_of(&req, "budget_id") {
        Some(b) => {
            if entities::load(ctx, Table::Budgets, b).await?.is_none() {
                return Err(AdminError::detail_error(
                    400,
                    format!("Budget not found, passed budget_id={b}"),
                ));
            }
            b.to_string()
        }
        None => {
            let id = entities::new_id();
            budgets::create_budget(call, &id, &req).await?;
            id
        }
    };
    let now = Value::String(rfc3339(ctx.now_ms));
    let mut doc = Document::new();
    doc.insert("organization_id".into(), Value::String(org_id.clone()));
    doc.insert("organization_alias".into(), Value::String(alias));
    doc.insert("budget_id".into(), Value::String(budget_id));
    doc.insert(
        "metadata".into(),
        req.get("metadata")
            .cloned()
            .filter(|v| !v.is_null())
            .unwrap_or(json!({})),
    );
    doc.insert(
        "models".into(),
        req.get("models")
            .cloned()
            .filter(|v| !v.is_null())
            .unwrap_or(json!([])),
    );
    doc.insert("model_spend".into(), json!({}));
    doc.insert("object_permission_id".into(), Value::Null);
    doc.insert("members".into(), json!([]));
    doc.insert("created_at".into(), now.clone());
    doc.insert("updated_at".into(), now);
    doc.insert("created_by".into(), Value::String(call.changed_by()));
    doc.insert("updated_by".into(), Value::String(call.changed_by()));
    let created = entities::create(ctx, Table::Organizations, &org_id, doc, None)
        .await?
        .ok_or_else(|| {
            AdminError::detail_error(400, format!("Organization id = {org_id} already exists."))
        })?;
    Ok(Value::Object(org_row(call, &created).await?))
}

pub async fn info(call: &Call<'_>) -> AdminResult<Value> {
    let ctx = call.ctx;
    if call.method == "GET" {
        let Some(id) = call.query.get("organization_id").map(str::to_string) else {
            return Err(AdminError::validation(
                &["query", "organization_id"],
                "missing",
                "Field required",
            ));
        };
        let org = entities::load(ctx, Table::Organizations, &id)
            .await?
            .ok_or_else(|| AdminError::detail_error(404, "Organization not found"))?;
        let mut row = org_row(call, &org).await?;
        let teams: Vec<Value> = entities::all(ctx, Table::Teams)
            .await?
            .iter()
            .filter(|t| t.str_field("organization_id") == Some(id.as_str()))
            .map(|t| Value::Object(super::teams::team_row(ctx, t)))
            .collect();
        row.insert("teams".into(), Value::Array(teams));
        return Ok(Value::Object(row));
    }
    let req = body::parse_object(call.body)?;
    let ids = body::required_str_list(&req, "organizations")?;
    if ids.is_empty() {
        return Err(AdminError::detail_error(
            400,
            "Specify list of organization id's to query. Passed in=[]",
        ));
    }
    let mut out = Vec::new();
    for id in &ids {
        if let Some(org) = entities::load(ctx, Table::Organizations, id).await? {
            out.push(Value::Object(org_row(call, &org).await?));
        }
    }
    Ok(Value::Array(out))
}

pub async fn update(call: &Call<'_>) -> AdminResult<Value> {
    let ctx = call.ctx;
    let mut req = body::parse_object(call.body)?;
    body::check_fields(&mut req, ORG_FIELDS)?;
    let Some(org_id) = str_of(&req, "organization_id").map(str::to_string) else {
        return Err(AdminError::detail_error(400, "organization_id is required"));
    };
    budgets::check(&req)?;
    let org = entities::load(ctx, Table::Organizations, &org_id)
        .await?
        .ok_or_else(|| not_found(&org_id))?;
    let mut changes = req.clone();
    for c in budgets::BUDGET_COLUMNS {
        changes.remove(*c);
    }
    changes.remove("budget_id");
    changes.remove("members");
    let mut doc = org.doc.clone();
    merge_update(&mut doc, &changes);
    doc.insert("updated_at".into(), Value::String(rfc3339(ctx.now_ms)));
    doc.insert("updated_by".into(), Value::String(call.changed_by()));
    if budgets::has_budget_fields(&req) {
        if let Some(budget) = match org.str_field("budget_id") {
            Some(b) => entities::load(ctx, Table::Budgets, b).await?,
            None => None,
        } {
            let mut limits = Document::new();
            for c in budgets::BUDGET_COLUMNS {
                if let Some(v) = req.get(*c) {
                    limits.insert(c.to_string(), v.clone());
                }
            }
            let mut bdoc = budget.doc.clone();
            merge_update(&mut bdoc, &limits);
            let reset = super::keys::next_reset(&budget, &bdoc, ctx.now_ms);
            entities::save(ctx, Table::Budgets, &budget, bdoc, reset).await?;
        }
    }
    let saved = entities::save(ctx, Table::Organizations, &org, doc, org.budget_reset_at)
        .await?
        .ok_or_else(|| not_found(&org_id))?;
    Ok(Value::Object(org_row(call, &saved).await?))
}

pub async fn delete(call: &Call<'_>) -> AdminResult<Value> {
    let req = body::parse_object(call.body)?;
    let ids = body::required_str_list(&req, "organization_ids")?;
    let mut rows = Vec::new();
    for id in &ids {
        let org = entities::load(call.ctx, Table::Organizations, id)
            .await?
            .ok_or_else(|| AdminError::detail_error(404, format!("Organization={id} not found")))?;
        rows.push(Value::Object(org_row(call, &org).await?));
    }
    for id in &ids {
        entities::remove(call.ctx, Table::Organizations, id).await?;
    }
    Ok(Value::Array(rows))
}

pub async fn list(call: &Call<'_>) -> AdminResult<Value> {
    let mut out = Vec::new();
    for org in entities::all(call.ctx, Table::Organizations).await? {
        out.push(Value::Object(org_row(call, &org).await?));
    }
    Ok(Value::Array(out))
}

pub async fn member_add(call: &Call<'_>) -> AdminResult<Value> {
    let ctx = call.ctx;
    let req = body::parse_object(call.body)?;
    let org_id = body::required_str(&req, "organization_id")?;
    let members: Vec<Value> = match req.get("member") {
        None | Some(Value::Null) => return Err(AdminError::missing(&["body", "member"])),
        Some(Value::Array(items)) => items.clone(),
        Some(one) => vec![one.clone()],
    };
    let org = entities::load(ctx, Table::Organizations, &org_id)
        .await?
        .ok_or_else(|| not_found(&org_id))?;
    let mut roster: Vec<Value> = org
        .doc
        .get("members")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut updated_users = Vec::new();
    let mut memberships = Vec::new();
    for m in &members {
        let user_id = m.get("user_id").and_then(Value::as_str).map(str::to_string);
        let email = m
            .get("user_email")
            .and_then(Value::as_str)
            .map(str::to_string);
        if user_id.is_none() && email.is_none() {
            return Err(AdminError::validation(
                &["body", "member"],
                "value_error",
                "Value error, Either user id or user email must be provided",
            ));
        }
        let role = m
            .get("role")
            .and_then(Value::as_str)
            .unwrap_or(roles::INTERNAL_USER)
            .to_string();
        if !ORG_ROLES.contains(&role.as_str()) {
            return Err(AdminError::validation(
                &["body", "member", "role"],
                "literal_error",
                "Input should be a valid organization role",
            ));
        }
        let user = ensure_user(call, user_id.as_deref(), email.as_deref(), &org_id).await?;
        let membership = json!({
            "user_id": user.id, "organization_id": org_id, "user_role": role, "spend": 0.0,
            "budget_id": null, "created_at": rfc3339(ctx.now_ms), "updated_at": rfc3339(ctx.now_ms),
        });
        roster.retain(|e| e.get("user_id").and_then(Value::as_str) != Some(user.id.as_str()));
        roster.push(membership.clone());
        memberships.push(membership);
        updated_users.push(Value::Object(render(ctx, Table::Users, &user)));
    }
    let mut doc = org.doc.clone();
    doc.insert("members".into(), Value::Array(roster));
    entities::save(ctx, Table::Organizations, &org, doc, org.budget_reset_at).await?;
    Ok(json!({
        "organization_id": org_id,
        "updated_users": updated_users,
        "updated_organization_memberships": memberships,
    }))
}

/// The member's user (created when missing), with the organization set on it.
async fn ensure_user(
    call: &Call<'_>,
    user_id: Option<&str>,
    email: Option<&str>,
    org_id: &str,
) -> AdminResult<Entity> {
    let ctx = call.ctx;
    let found = match (user_id, email) {
        (Some(id), _) => entities::load(ctx, Table::Users, id)
            .await?
            .map(|u| (*u).clone()),
        (None, Some(e)) => {
            let wanted = e.to_lowercase();
            entities::all(ctx, Table::Users)
                .await?
                .into_iter()
                .find(|u| u.str_field("user_email").map(str::to_lowercase) == Some(wanted.clone()))
        }
        (None, None) => None,
    };
    match found {
        Some(user) => {
            let mut doc = user.doc.clone();
            doc.insert("organization_id".into(), Value::String(org_id.to_string()));
            Ok(
                entities::save(ctx, Table::Users, &user, doc, user.budget_reset_at)
                    .await?
                    .unwrap_or(user),
            )
        }
        None => {
            let id = user_id.map_or_else(entities::new_id, str::to_string);
            let mut doc = Document::new();
            doc.insert("user_id".into(), Value::String(id.clone()));
            doc.insert(
                "user_email".into(),
                email.map_or(Value::Null, |e| Value::String(e.to_string())),
            );
            doc.insert(
                "user_role".into(),
                Value::String(roles::INTERNAL_USER.into()),
            );
            doc.insert("organization_id".into(), Value::String(org_id.to_string()));
            doc.insert("teams".into(), json!([]));
            doc.insert("models".into(), json!([]));
            doc.insert("created_at".into(), Value::String(rfc3339(ctx.now_ms)));
            entities::create(ctx, Table::Users, &id, doc, None)
                .await?
                .ok_or_else(|| {
                    AdminError::detail_error(409, format!("User with id {id} already exists"))
                })
        }
    }
}
