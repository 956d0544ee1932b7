//! Teams: `/team/new` (answers the row with `members_with_roles`), `/team/info`
//! (`{"team_id", "team_info", "keys", "team_memberships"}`), `/team/update`, `/team/delete`
//! (the team's keys go with it), `/team/list`, `/team/block`, `/team/unblock`.

use super::body::{self, str_of, Kind};
use super::entities::{self, check_budget_duration, check_budget_value, render, reset_at, rfc3339};
use super::error::{AdminError, AdminResult};
use super::keys::{merge_update, next_reset, reset_spend};
use super::roles::Caller;
use super::team_members::{self, NewMember};
use super::{AdminContext, Call};
use crate::store::{Document, Entity, ListFilter, Table};
use serde_json::{json, Map, Value};

/// The id LiteLLM keeps for its UI's own sessions.
const UI_TEAM_ID: &str = "litellm-dashboard";

const TEAM_FIELDS: &[(&str, Kind)] = &[
    ("team_id", Kind::Str),
    ("team_alias", Kind::Str),
    ("organization_id", Kind::Str),
    ("admins", Kind::List),
    ("members", Kind::List),
    ("members_with_roles", Kind::List),
    ("metadata", Kind::Object),
    ("tpm_limit", Kind::Int),
    ("rpm_limit", Kind::Int),
    ("max_budget", Kind::Float),
    ("soft_budget", Kind::Float),
    ("team_member_budget", Kind::Float),
    ("budget_duration", Kind::Str),
    ("team_member_budget_duration", Kind::Str),
    ("models", Kind::List),
    ("blocked", Kind::Bool),
    ("model_aliases", Kind::Object),
    ("tags", Kind::List),
    ("guardrails", Kind::StrList),
    ("budget_id", Kind::Str),
];

fn team_defaults() -> Vec<(&'static str, Value)> {
    vec![
        ("team_alias", Value::Null),
        ("organization_id", Value::Null),
        ("admins", json!([])),
        ("members", json!([])),
        ("members_with_roles", json!([])),
        ("team_member_permissions", Value::Null),
        ("metadata", json!({})),
        ("tpm_limit", Value::Null),
        ("rpm_limit", Value::Null),
        ("max_budget", Value::Null),
        ("soft_budget", Value::Null),
        ("budget_duration", Value::Null),
        ("models", json!([])),
        ("blocked", json!(false)),
        ("max_parallel_requests", Value::Null),
        ("model_id", Value::Null),
        ("model_spend", json!({})),
        ("model_max_budget", json!({})),
        ("litellm_model_table", Value::Null),
        ("object_permission_id", Value::Null),
        ("created_at", Value::Null),
        ("updated_at", Value::Null),
    ]
}

/// A team as LiteLLM answers it (`LiteLLM_TeamTable`).
pub fn team_row(ctx: &AdminContext<'_>, team: &Entity) -> Map<String, Value> {
    let mut row = render(ctx, Table::Teams, team);
    for (name, value) in team_defaults() {
        row.entry(name.to_string()).or_insert(value);
    }
    row
}

fn check_budgets(req: &Document) -> AdminResult<()> {
    check_budget_value(req, "max_budget")?;
    check_budget_value(req, "team_member_budget")?;
    check_budget_value(req, "soft_budget")?;
    check_budget_duration(req, "budget_duration")?;
    check_budget_duration(req, "team_member_budget_duration")?;
    if let (Some(soft), Some(max)) = (
        body::f64_of(req, "soft_budget"),
        body::f64_of(req, "max_budget"),
    ) {
        if soft >= max {
            return Err(AdminError::detail_error(
                400,
                format!(
                    "soft_budget ({}) must be strictly lower than max_budget ({})",
                    super::error::python_float(soft),
                    super::error::python_float(max)
                ),
            ));
        }
    }
    Ok(())
}

pub async fn new(call: &Call<'_>) -> AdminResult<Value> {
    let ctx = call.ctx;
    let mut req = body::parse_object(call.body)?;
    body::check_fields(&mut req, TEAM_FIELDS)?;
    check_budgets(&req)?;
    let members: Vec<NewMember> = match req.get("members_with_roles") {
        Some(Value::Array(items)) => items
            .iter()
            .map(|m| team_members::parse_member(m, &["body", "members_with_roles"]))
            .collect::<AdminResult<_>>()?,
        _ => Vec::new(),
    };
    let team_id = match str_of(&req, "team_id").map(str::trim).filter(|t| !t.is_empty()) {
        Some(UI_TEAM_ID) => {
            return Err(AdminError::detail_error(400, format!(
                "team_id '{UI_TEAM_ID}' is reserved for LiteLLM UI dashboard sessions and cannot be used for a real team. Please use a different team id."
            )))
        }
        Some(t) => {
            if entities::load(ctx, Table::Teams, t).await?.is_some() {
                return Err(team_exists(t));
            }
            t.to_string()
        }
        None => entities::new_id(),
    };
    if let Some(org) = str_of(&req, "organization_id") {
        if entities::load(ctx, Table::Organizations, org)
            .await?
            .is_none()
        {
            return Err(AdminError::http(
                400,
                Value::String(format!("Organization not found for organization_id={org}")),
            ));
        }
    }
    let mut doc = Document::new();
    entities::fill_defaults(&mut doc, &team_defaults());
    for (name, value) in &req {
        if name != "members_with_roles" && name != "spend" {
            doc.insert(name.clone(), value.clone());
        }
    }
    let now = Value::String(rfc3339(ctx.now_ms));
    doc.insert("team_id".into(), Value::String(team_id.clone()));
    doc.insert("members_with_roles".into(), json!([]));
    doc.insert("created_at".into(), now.clone());
    doc.insert("updated_at".into(), now);
    doc.insert("created_by".into(), Value::String(call.changed_by()));
    doc.insert("updated_by".into(), Value::String(call.changed_by()));
    let budget_reset_at = reset_at(&doc, "budget_duration", ctx.now_ms);
    let Some(created) = entities::create(ctx, Table::Teams, &team_id, doc, budget_reset_at).await?
    else {
        return Err(team_exists(&team_id));
    };
    let team = if members.is_empty() {
        created
    } else {
        team_members::add_members(call, &team_id, &members, "/team/new")
            .await?
            .0
    };
    Ok(Value::Object(team_row(ctx, &team)))
}

fn team_exists(team_id: &str) -> AdminError {
    AdminError::detail_error(
        400,
        format!("Team id = {team_id} already exists. Please use a different team id."),
    )
}

pub async fn info(call: &Call<'_>) -> AdminResult<Value> {
    let ctx = call.ctx;
    let Some(team_id) = call.query.get("team_id").map(str::to_string) else {
        return Err(AdminError::http(
            422,
            json!({"message": "Malformed request. No team id passed in."}),
        ));
    };
    let team = entities::load(ctx, Table::Teams, &team_id)
        .await?
        .ok_or_else(|| {
            AdminError::http(
                404,
                json!({"message": format!("Team not found, passed team id: {team_id}.")}),
            )
        })?;
    check_membership(call.caller, &team)?;
    let filter = ListFilter {
        team_id: Some(team_id.clone()),
        ..ListFilter::default()
    };
    let keys: Vec<Value> = entities::list(ctx, Table::Keys, &filter)
        .await?
        .0
        .iter()
        .map(|k| Value::Object(render(ctx, Table::Keys, k)))
        .collect();
    let mut info = team_row(ctx, &team);
    let members = info
        .get("members_with_roles")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut memberships = Vec::new();
    let mut shown_members = Vec::new();
    for mut m in members {
        let user_id = m.get("user_id").and_then(Value::as_str).map(str::to_string);
        let alias = match &user_id {
            Some(u) => entities::load(ctx, Table::Users, u)
                .await?
                .and_then(|u| u.str_field("user_alias").map(str::to_string)),
            None => None,
        };
        if let Some(obj) = m.as_object_mut() {
            obj.insert(
                "user_alias".into(),
                alias.map_or(Value::Null, Value::String),
            );
        }
        if let Some(u) = user_id {
            memberships.push(json!({
                "user_id": u, "team_id": team_id, "budget_id": null, "spend": 0.0,
                "total_spend": 0.0, "litellm_budget_table": null, "budget_source": "none",
            }));
        }
        shown_members.push(m);
    }
    info.insert("members_with_roles".into(), Value::Array(shown_members));
    Ok(
        json!({"team_id": team_id, "team_info": info, "keys": keys, "team_memberships": memberships}),
    )
}

/// LiteLLM's `validate_membership`: admins and viewers, the team's own keys, its members.
fn check_membership(caller: &Caller, team: &Entity) -> AdminResult<()> {
    if caller.sees_all()
        || caller.team_id.as_deref() == Some(team.id.as_str())
        || caller.is_team_member(team)
    {
        return Ok(());
    }
    let message = match (&caller.user_id, &caller.team_id) {
        (None, Some(own)) => format!("Team key for team={own} not authorized to access this team={}", team.id),
        (None, None) => format!(
            "API key not authorized to access this team={}. No user_id or team_id associated with this key.",
            team.id
        ),
        (Some(user), _) => format!("User={user} not authorized to access this team={}", team.id),
    };
    Err(AdminError::detail_error(403, message))
}

pub async fn update(call: &Call<'_>) -> AdminResult<Value> {
    let ctx = call.ctx;
    let mut req = body::parse_object(call.body)?;
    body::check_fields(&mut req, TEAM_FIELDS)?;
    let Some(team_id) = str_of(&req, "team_id").map(str::to_string) else {
        return Err(AdminError::detail_error(400, "No team id passed in"));
    };
    check_budgets(&req)?;
    let team = entities::load(ctx, Table::Teams, &team_id)
        .await?
        .ok_or_else(|| {
            AdminError::detail_error(404, format!("Team not found, passed team_id={team_id}"))
        })?;
    if let Some(org) = str_of(&req, "organization_id") {
        if entities::load(ctx, Table::Organizations, org)
            .await?
            .is_none()
        {
            return Err(AdminError::http(
                400,
                Value::String(format!("Organization not found for organization_id={org}")),
            ));
        }
    }
    let mut doc = team.doc.clone();
    let mut changes = req.clone();
    changes.remove("members_with_roles");
    changes.remove("spend");
    merge_update(&mut doc, &changes);
    doc.insert("updated_at".into(), Value::String(rfc3339(ctx.now_ms)));
    doc.insert("updated_by".into(), Value::String(call.changed_by()));
    let budget_reset_at = next_reset(&team, &doc, ctx.now_ms);
    let saved = entities::save(ctx, Table::Teams, &team, doc, budget_reset_at)
        .await?
        .ok_or_else(|| {
            AdminError::detail_error(404, format!("Team not found, passed team_id={team_id}"))
        })?;
    if req.get("spend").and_then(Value::as_f64) == Some(0.0) {
        reset_spend(call, Table::Teams, &saved).await?;
    }
    Ok(json!({"team_id": team_id, "data": team_row(ctx, &saved)}))
}

pub async fn delete(call: &Call<'_>) -> AdminResult<Value> {
    let ctx = call.ctx;
    let req = body::parse_object(call.body)?;
    let team_ids = body::required_str_list(&req, "team_ids")?;
    for team_id in &team_ids {
        if entities::load(ctx, Table::Teams, team_id).await?.is_none() {
            return Err(AdminError::detail_error(
                404,
                format!("Team not found, passed team_id={team_id}"),
            ));
        }
    }
    for team_id in &team_ids {
        let filter = ListFilter {
            team_id: Some(team_id.clone()),
            ..ListFilter::default()
        };
        for key in entities::list(ctx, Table::Keys, &filter).await?.0 {
            entities::remove(ctx, Table::Keys, &key.id).await?;
        }
        for user in entities::all(ctx, Table::Users).await? {
            let teams = body::str_list_of(&user.doc, "teams");
            if teams.iter().any(|t| t == team_id) {
                let mut doc = user.doc.clone();
                doc.insert(
                    "teams".into(),
                    json!(teams.iter().filter(|t| *t != team_id).collect::<Vec<_>>()),
                );
                entities::save(ctx, Table::Users, &user, doc, user.budget_reset_at).await?;
            }
        }
        entities::remove(ctx, Table::Teams, team_id).await?;
    }
    Ok(json!({"deleted_teams": team_ids}))
}

pub async fn list(call: &Call<'_>) -> AdminResult<Value> {
    let ctx = call.ctx;
    let mut user_id = call.query.get("user_id").map(str::to_string);
    if !call.caller.sees_all() {
        // Other callers see only the teams they are in.
        user_id = Some(call.caller.user_id.clone().unwrap_or_default());
    }
    let org = call.query.get("organization_id");
    let mut teams = entities::all(ctx, Table::Teams).await?;
    teams.retain(|t| org.is_none_or(|o| t.str_field("organization_id") == Some(o)));
    if let Some(u) = &user_id {
        teams.retain(|t| super::roles::member_role(t, u).is_some());
    }
    let keys = entities::all(ctx, Table::Keys).await?;
    let rows = teams
        .iter()
        .map(|t| {
            let mut row = team_row(ctx, t);
            let memberships: Vec<Value> = row
                .get("members_with_roles")
                .and_then(Value::as_array)
                .map(|ms| {
                    ms.iter()
                        .filter_map(|m| m.get("user_id").and_then(Value::as_str))
                        .map(|u| json!({"user_id": u, "team_id": t.id, "budget_id": null, "spend": 0.0, "total_spend": 0.0, "litellm_budget_table": null}))
                        .collect()
                })
                .unwrap_or_default();
            let team_keys: Vec<Value> = keys
                .iter()
                .filter(|k| k.str_field("team_id") == Some(t.id.as_str()))
                .map(|k| Value::Object(render(ctx, Table::Keys, k)))
                .collect();
            row.insert("team_memberships".into(), Value::Array(memberships));
            row.insert("keys".into(), Value::Array(team_keys));
            Value::Object(row)
        })
        .collect();
    Ok(Value::Array(rows))
}

pub async fn set_blocked(call: &Call<'_>, blocked: bool) -> AdminResult<Value> {
    let ctx = call.ctx;
    let req = body::parse_object(call.body)?;
    let team_id = body::required_str(&req, "team_id")?;
    let not_found =
        || AdminError::detail_error(404, format!("Team not found, passed team_id={team_id}"));
    let team = entities::load(ctx, Table::Teams, &team_id)
        .await?
        .ok_or_else(not_found)?;
    let mut doc = team.doc.clone();
    doc.insert("blocked".into(), Value::Bool(blocked));
    doc.insert("updated_at".into(), Value::String(rfc3339(ctx.now_ms)));
    let saved = entities::save(ctx, Table::Teams, &team, doc, team.budget_reset_at)
        .await?
        .ok_or_else(not_found)?;
    Ok(Value::Object(team_row(ctx, &saved)))
}
