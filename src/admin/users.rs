//! Internal users: `/user/new` (creates a key too unless `auto_create_key` is false, and
//! answers it), `/user/info`, `/user/update`, `/user/delete`, `/user/list`.

use super::body::{self, str_of, Kind};
use super::entities::{self, check_budget_duration, check_budget_value, render, reset_at, rfc3339};
use super::error::{AdminError, AdminResult};
use super::key_fields::{self, abbreviate};
use super::keys::{merge_update, next_reset, reset_spend};
use super::roles::{self, USER_ROLES};
use super::team_members::{self, NewMember};
use super::Call;
use crate::store::{Document, Entity, ListFilter, Table};
use serde_json::{json, Map, Value};

const USER_FIELDS: &[(&str, Kind)] = &[
    ("user_id", Kind::Str),
    ("user_email", Kind::Str),
    ("user_alias", Kind::Str),
    ("user_role", Kind::Str),
    ("team_id", Kind::Str),
    ("organization_id", Kind::Str),
    ("key_alias", Kind::Str),
    ("duration", Kind::Str),
    ("models", Kind::List),
    ("max_budget", Kind::Float),
    ("spend", Kind::Float),
    ("budget_duration", Kind::Str),
    ("metadata", Kind::Object),
    ("tpm_limit", Kind::Int),
    ("rpm_limit", Kind::Int),
    ("max_parallel_requests", Kind::Int),
    ("auto_create_key", Kind::Bool),
    ("send_invite_email", Kind::Bool),
    ("teams", Kind::List),
    ("organizations", Kind::StrList),
    ("model_max_budget", Kind::Object),
    ("aliases", Kind::Object),
    ("config", Kind::Object),
    ("permissions", Kind::Object),
    ("allowed_cache_controls", Kind::List),
    ("blocked", Kind::Bool),
];

/// Request fields that live on the key `/user/new` makes, or nowhere, not on the user row.
const NOT_ON_USER: &[&str] = &[
    "key_alias",
    "duration",
    "auto_create_key",
    "send_invite_email",
    "teams",
    "organizations",
    "aliases",
    "config",
    "permissions",
    "spend",
    "password",
    "key",
    "budget_reset_at",
];

fn user_defaults() -> Vec<(&'static str, Value)> {
    vec![
        ("user_alias", Value::Null),
        ("team_id", Value::Null),
        ("sso_user_id", Value::Null),
        ("organization_id", Value::Null),
        ("object_permission_id", Value::Null),
        ("teams", json!([])),
        ("user_role", Value::Null),
        ("max_budget", Value::Null),
        ("user_email", Value::Null),
        ("models", json!([])),
        ("metadata", json!({})),
        ("max_parallel_requests", Value::Null),
        ("tpm_limit", Value::Null),
        ("rpm_limit", Value::Null),
        ("budget_duration", Value::Null),
        ("allowed_cache_controls", json!([])),
        ("policies", json!([])),
        ("model_spend", json!({})),
        ("model_max_budget", json!({})),
        ("created_at", Value::Null),
        ("updated_at", Value::Null),
    ]
}

fn check_role(req: &Document) -> AdminResult<()> {
    match str_of(req, "user_role") {
        Some(r) if !USER_ROLES.contains(&r) => Err(AdminError::validation(
            &["body", "user_role"],
            "literal_error",
            "Input should be 'proxy_admin', 'proxy_admin_viewer', 'internal_user' or 'internal_user_viewer'",
        )),
        _ => Ok(()),
    }
}

pub async fn new(call: &Call<'_>) -> AdminResult<Value> {
    let ctx = call.ctx;
    let mut req = body::parse_object(call.body)?;
    body::check_fields(&mut req, USER_FIELDS)?;
    if req.get("password").is_some_and(|p| !p.is_null()) {
        return Err(AdminError::validation(
            &["body", "password"],
            "value_error",
            "Value error, password cannot be set via /user/new. Users set their own password through an invitation link (POST /invitation/new).",
        ));
    }
    check_role(&req)?;
    check_budget_value(&req, "max_budget")?;
    check_budget_duration(&req, "budget_duration")?;
    let user_id = str_of(&req, "user_id").map_or_else(entities::new_id, str::to_string);
    if entities::load(ctx, Table::Users, &user_id).await?.is_some() {
        return Err(AdminError::detail_error(
            409,
            format!("User with id {user_id} already exists"),
        ));
    }
    if let Some(email) = str_of(&req, "user_email") {
        if let Some(existing) = find_by_email(call, email).await? {
            let shown = existing
                .str_field("user_email")
                .unwrap_or(email)
                .to_string();
            return Err(AdminError::detail_error(
                409,
                format!("User with email {shown} already exists"),
            ));
        }
    }
    let teams = team_ids_of(&req);
    let mut doc = Document::new();
    entities::fill_defaults(&mut doc, &user_defaults());
    for (name, value) in &req {
        if !NOT_ON_USER.contains(&name.as_str()) {
            doc.insert(name.clone(), value.clone());
        }
    }
    let now = Value::String(rfc3339(ctx.now_ms));
    doc.insert("user_id".into(), Value::String(user_id.clone()));
    doc.insert("created_at".into(), now.clone());
    doc.insert("updated_at".into(), now);
    let user_reset = reset_at(&doc, "budget_duration", ctx.now_ms);
    let Some(user) = entities::create(ctx, Table::Users, &user_id, doc, user_reset).await? else {
        return Err(AdminError::detail_error(
            409,
            format!("User with id {user_id} already exists"),
        ));
    };

    let mut key_row = Map::new();
    let mut raw_key = String::new();
    if body::bool_of(&req, "auto_create_key") != Some(false) {
        raw_key = key_fields::new_key();
        key_row = create_user_key(call, &req, &user, &raw_key).await?;
    }
    let mut joined = Vec::new();
    let member_teams: Vec<String> = match str_of(&req, "team_id") {
        Some(t) => vec![t.to_string()],
        None => teams,
    };
    for team_id in &member_teams {
        let member = NewMember {
            user_id: Some(user_id.clone()),
            user_email: str_of(&req, "user_email").map(str::to_string),
            role: "user".into(),
        };
        if team_members::add_members(call, team_id, &[member], "/user/new")
            .await
            .is_ok()
        {
            joined.push(Value::String(team_id.clone()));
        }
    }
    let user = entities::load(ctx, Table::Users, &user_id)
        .await?
        .map_or(user, |u| (*u).clone());
    let user_row = render(ctx, Table::Users, &user);
    let mut out = match key_fields::generate_response(&key_row, &raw_key, None) {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    for name in [
        "max_budget",
        "user_email",
        "user_role",
        "user_alias",
        "model_max_budget",
        "created_at",
        "updated_at",
        "user_id",
        "budget_duration",
        "models",
        "metadata",
        "tpm_limit",
        "rpm_limit",
        "max_parallel_requests",
        "organization_id",
        "spend",
    ] {
        out.insert(
            name.into(),
            user_row.get(name).cloned().unwrap_or(Value::Null),
        );
    }
    out.insert("teams".into(), Value::Array(joined));
    out.insert("token_id".into(), Value::Null);
    out.insert("token".into(), Value::Null);
    out.insert("key".into(), Value::String(raw_key));
    Ok(Value::Object(out))
}

/// The key `/user/new` makes: the user's models, limits and metadata; the user's budget stays
/// on the user.
async fn create_user_key(
    call: &Call<'_>,
    req: &Document,
    user: &Entity,
    raw_key: &str,
) -> AdminResult<Map<String, Value>> {
    let ctx = call.ctx;
    let mut doc = Document::new();
    for (name, value) in key_fields::row_defaults() {
        doc.insert(name.into(), value);
    }
    for name in [
        "key_alias",
        "models",
        "team_id",
        "organization_id",
        "metadata",
        "tpm_limit",
        "rpm_limit",
        "max_parallel_requests",
        "aliases",
        "config",
        "permissions",
        "allowed_cache_controls",
        "model_max_budget",
        "blocked",
    ] {
        if let Some(v) = req.get(name).filter(|v| !v.is_null()) {
            doc.insert(name.into(), v.clone());
        }
    }
    if let Some(alias) = str_of(req, "key_alias") {
        if super::keys::find_by_alias(call, alias).await?.is_some() {
            return Err(AdminError::bad_request(
                format!("Key with alias '{alias}' already exists. Unique key aliases across all keys are required."),
                Some("key_alias"),
            ));
        }
    }
    let expires = match str_of(req, "duration") {
        Some(d) => Some(
            crate::spend::period::next_reset_ms(d, ctx.now_ms).ok_or_else(|| {
                AdminError::detail_error(
                    400,
                    format!("Unsupported duration unit, passed duration: {d}"),
                )
            })?,
        ),
        None => None,
    };
    let now = Value::String(rfc3339(ctx.now_ms));
    doc.insert("user_id".into(), Value::String(user.id.clone()));
    doc.insert("key_name".into(), Value::String(abbreviate(raw_key)));
    doc.insert(
        "expires".into(),
        expires.map_or(Value::Null, |e| Value::String(rfc3339(e))),
    );
    doc.insert("created_at".into(), now.clone());
    doc.insert("updated_at".into(), now);
    doc.insert("created_by".into(), Value::String(call.changed_by()));
    doc.insert("updated_by".into(), Value::String(call.changed_by()));
    let token = crate::auth::hash_key(raw_key);
    let entity = entities::create(ctx, Table::Keys, &token, doc, None)
        .await?
        .ok_or_else(|| {
            AdminError::detail_error(400, "Unique constraint failed on the fields: (`token`)")
        })?;
    Ok(render(ctx, Table::Keys, &entity))
}

/// `teams` as ids: a list of ids or of `{"team_id", ...}` objects.
fn team_ids_of(req: &Document) -> Vec<String> {
    req.get("teams")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|t| {
                    t.as_str()
                        .or_else(|| t.get("team_id").and_then(Value::as_str))
                })
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

async fn find_by_email(call: &Call<'_>, email: &str) -> AdminResult<Option<Entity>> {
    let wanted = email.trim().to_lowercase();
    Ok(entities::all(call.ctx, Table::Users)
        .await?
        .into_iter()
        .find(|u| u.str_field("user_email").map(|e| e.to_lowercase()) == Some(wanted.clone())))
}

pub async fn info(call: &Call<'_>) -> AdminResult<Value> {
    let ctx = call.ctx;
    let asked = call.query.get("user_id").map(str::to_string);
    if let Some(u) = &asked {
        if !call.caller.sees_all() && call.caller.user_id.as_deref() != Some(u.as_str()) {
            return Err(AdminError::auth(
                403,
                format!(
                    "key not allowed to access this user's info. user_id={u}, key's user_id={}",
                    call.caller.user_id.as_deref().unwrap_or("None")
                ),
            ));
        }
    }
    if asked.is_none() && call.caller.sees_all() && call.caller.user_id.is_none() {
        let keys: Vec<Value> = entities::all(ctx, Table::Keys)
            .await?
            .iter()
            .map(|k| Value::Object(render(ctx, Table::Keys, k)))
            .collect();
        let teams: Vec<Value> = entities::all(ctx, Table::Teams)
            .await?
            .iter()
            .map(|t| Value::Object(render(ctx, Table::Teams, t)))
            .collect();
        return Ok(json!({
            "user_id": null,
            "user_info": {"user_role": roles::PROXY_ADMIN},
            "keys": keys,
            "teams": teams,
        }));
    }
    let Some(user_id) = asked.or_else(|| call.caller.user_id.clone()) else {
        return Err(AdminError::http(
            404,
            Value::String("User None not found".into()),
        ));
    };
    let user = entities::load(ctx, Table::Users, &user_id)
        .await?
        .ok_or_else(|| AdminError::http(404, Value::String(format!("User {user_id} not found"))))?;
    let filter = ListFilter {
        user_id: Some(user_id.clone()),
        ..ListFilter::default()
    };
    let keys: Vec<Value> = entities::list(ctx, Table::Keys, &filter)
        .await?
        .0
        .iter()
        .map(|k| Value::Object(render(ctx, Table::Keys, k)))
        .collect();
    let listed = body::str_list_of(&user.doc, "teams");
    let mut teams: Vec<(String, Value)> = entities::all(ctx, Table::Teams)
        .await?
        .iter()
        .filter(|t| roles::member_role(t, &user_id).is_some() || listed.contains(&t.id))
        .map(|t| {
            let alias = t.str_field("team_alias").unwrap_or_default().to_string();
            (alias, Value::Object(render(ctx, Table::Teams, t)))
        })
        .collect();
    teams.sort_by(|a, b| a.0.cmp(&b.0));
    let mut user_info = render(ctx, Table::Users, &user);
    user_info.remove("password");
    Ok(json!({
        "user_id": user_id,
        "user_info": user_info,
        "keys": keys,
        "teams": teams.into_iter().map(|(_, t)| t).collect::<Vec<_>>(),
    }))
}

pub async fn update(call: &Call<'_>) -> AdminResult<Value> {
    let ctx = call.ctx;
    let mut req = body::parse_object(call.body)?;
    body::check_fields(&mut req, USER_FIELDS)?;
    let user = match (str_of(&req, "user_id"), str_of(&req, "user_email")) {
        (None, None) => {
            return Err(AdminError::validation(
                &["body"],
                "value_error",
                "Value error, Either user id or user email must be provided",
            ))
        }
        (Some(id), _) => entities::load(ctx, Table::Users, id)
            .await?
            .map(|u| (*u).clone()),
        (None, Some(email)) => find_by_email(call, email).await?,
    };
    let Some(user) = user else {
        let who = str_of(&req, "user_id")
            .or(str_of(&req, "user_email"))
            .unwrap_or_default();
        return Err(AdminError::detail_error(
            404,
            format!("User not found, passed user_id={who}"),
        ));
    };
    check_role(&req)?;
    check_budget_value(&req, "max_budget")?;
    check_budget_duration(&req, "budget_duration")?;
    let mut doc = user.doc.clone();
    let mut changes = req.clone();
    for name in NOT_ON_USER {
        changes.remove(*name);
    }
    merge_update(&mut doc, &changes);
    doc.insert("updated_at".into(), Value::String(rfc3339(ctx.now_ms)));
    let budget_reset_at = next_reset(&user, &doc, ctx.now_ms);
    let saved = entities::save(ctx, Table::Users, &user, doc, budget_reset_at)
        .await?
        .ok_or_else(|| {
            AdminError::detail_error(404, format!("User not found, passed user_id={}", user.id))
        })?;
    if req.get("spend").and_then(Value::as_f64) == Some(0.0) {
        reset_spend(call, Table::Users, &saved).await?;
    }
    Ok(json!({"user_id": saved.id, "data": render(ctx, Table::Users, &saved)}))
}

pub async fn delete(call: &Call<'_>) -> AdminResult<Value> {
    let ctx = call.ctx;
    let req = body::parse_object(call.body)?;
    let user_ids = body::required_str_list(&req, "user_ids")?;
    for user_id in &user_ids {
        if entities::load(ctx, Table::Users, user_id).await?.is_none() {
            return Err(AdminError::detail_error(
                404,
                format!("User not found, passed user_id={user_id}"),
            ));
        }
    }
    let mut deleted = 0u64;
    for user_id in &user_ids {
        team_members::remove_from_all_teams(call, user_id).await?;
        if entities::remove(ctx, Table::Users, user_id).await? {
            deleted += 1;
        }
    }
    Ok(Value::from(deleted))
}

pub async fn list(call: &Call<'_>) -> AdminResult<Value> {
    let ctx = call.ctx;
    let q = &call.query;
    let page = q.int("page", 1, 1, None)?;
    let page_size = q.int("page_size", 25, 1, Some(100))?;
    let role = q.get("role");
    let ids: Option<Vec<&str>> = q
        .get("user_ids")
        .map(|s| s.split(',').map(str::trim).collect());
    let email = q.get("user_email").map(str::to_lowercase);
    let team = q.get("team");
    let mut users: Vec<Entity> = entities::all(ctx, Table::Users)
        .await?
        .into_iter()
        .filter(|u| role.is_none_or(|r| u.str_field("user_role") == Some(r)))
        .filter(|u| ids.as_ref().is_none_or(|ids| ids.contains(&u.id.as_str())))
        .filter(|u| {
            email.as_deref().is_none_or(|e| {
                u.str_field("user_email")
                    .is_some_and(|have| have.to_lowercase().contains(e))
            })
        })
        .filter(|u| team.is_none_or(|t| body::str_list_of(&u.doc, "teams").iter().any(|x| x == t)))
        .collect();
    // Newest first, as LiteLLM orders by created_at desc.
    users.reverse();
    let total = users.len() as u64;
    let keys = entities::all(ctx, Table::Keys).await?;
    let rows: Vec<Value> = users
        .iter()
        .skip(((page - 1) * page_size) as usize)
        .take(page_size as usize)
        .map(|u| {
            let mut row = render(ctx, Table::Users, u);
            let count = keys
                .iter()
                .filter(|k| k.str_field("user_id") == Some(u.id.as_str()))
                .count();
            row.insert("key_count".into(), Value::from(count));
            Value::Object(row)
        })
        .collect();
    Ok(json!({
        "users": rows,
        "total": total,
        "page": page,
        "page_size": page_size,
        "total_pages": total.div_ceil(page_size as u64),
    }))
}
