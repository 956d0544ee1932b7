//! Key writes: `/key/generate`, `/key/update`, `/key/delete`, `/key/regenerate` (also
//! `/key/{key}/regenerate`), `/key/block`, `/key/unblock`. The raw key is answered once, in
//! `key`; the store keeps only its SHA-256 (`token`, the entity id).

use super::body::{self, str_of};
use super::entities::{self, check_budget_duration, check_budget_value, render, reset_at, rfc3339};
use super::error::{AdminError, AdminResult};
use super::key_fields::{
    self, abbreviate, generate_response, to_token, KEY_REQUEST_FIELDS, NOT_STORED,
};
use super::roles::Caller;
use super::Call;
use crate::store::{Document, Entity, ListFilter, Table};
use serde_json::{json, Value};
use std::sync::Arc;

const MINIMUM_CUSTOM_KEY_LENGTH: usize = 16;

pub async fn generate(call: &Call<'_>) -> AdminResult<Value> {
    let ctx = call.ctx;
    let mut req = body::parse_object(call.body)?;
    body::check_fields(&mut req, KEY_REQUEST_FIELDS)?;
    check_budget_value(&req, "max_budget")?;
    check_budget_value(&req, "soft_budget")?;
    let admin = call.caller.is_admin();
    if !admin && str_of(&req, "user_id").is_none() {
        // LiteLLM binds a non-admin's key to the caller's user.
        if let Some(u) = &call.caller.user_id {
            req.insert("user_id".into(), Value::String(u.clone()));
        }
    }
    if let Some(team_id) = str_of(&req, "team_id").map(str::to_string) {
        let team = entities::load(ctx, Table::Teams, &team_id).await?;
        match team {
            None if !admin => {
                return Err(AdminError::http(
                    400,
                    Value::String(format!(
                        "Team not found for team_id={team_id}. Non-admin users cannot create keys for non-existent teams."
                    )),
                ))
            }
            None => {}
            Some(team) => {
                if let Some(user_id) = str_of(&req, "user_id") {
                    if !admin && super::roles::member_role(&team, user_id).is_none() {
                        return Err(AdminError::http(
                            400,
                            Value::String(format!("User={user_id} not assigned to team={team_id}")),
                        ));
                    }
                }
                if !admin && !call.caller.is_team_admin(&team) {
                    return Err(Caller::not_team_admin_error("/key/generate", &team_id));
                }
            }
        }
    } else if !admin {
        return Err(Caller::not_team_admin_error("/key/generate", "None"));
    }
    check_budget_duration(&req, "budget_duration")?;
    let expires = expires_from(&req, ctx.now_ms)?;
    let raw_key = match str_of(&req, "key") {
        Some(custom) => {
            check_custom_key(custom)?;
            custom.to_string()
        }
        None => key_fields::new_key(),
    };
    if let Some(alias) = str_of(&req, "key_alias") {
        check_alias(call, alias, None).await?;
    }
    check_references(call, &req).await?;

    let mut doc = Document::new();
    for (name, value) in key_fields::row_defaults() {
        doc.insert(name.into(), value);
    }
    for (name, value) in req.iter() {
        if !NOT_STORED.contains(&name.as_str()) {
            doc.insert(name.clone(), value.clone());
        }
    }
    let now = Value::String(rfc3339(ctx.now_ms));
    doc.insert("key_name".into(), Value::String(abbreviate(&raw_key)));
    doc.insert(
        "expires".into(),
        expires.map_or(Value::Null, |e| Value::String(rfc3339(e))),
    );
    doc.insert("created_at".into(), now.clone());
    doc.insert("updated_at".into(), now);
    doc.insert("created_by".into(), Value::String(call.changed_by()));
    doc.insert("updated_by".into(), Value::String(call.changed_by()));
    let token = crate::auth::hash_key(&raw_key);
    let budget_reset_at = reset_at(&doc, "budget_duration", ctx.now_ms);
    let Some(entity) = entities::create(ctx, Table::Keys, &token, doc, budget_reset_at).await?
    else {
        return Err(AdminError::detail_error(
            400,
            "Unique constraint failed on the fields: (`token`)",
        ));
    };
    let mut row = render(ctx, Table::Keys, &entity);
    row.insert(
        "soft_budget".into(),
        req.get("soft_budget").cloned().unwrap_or(Value::Null),
    );
    Ok(generate_response(&row, &raw_key, Some(&token)))
}

pub async fn update(call: &Call<'_>) -> AdminResult<Value> {
    let ctx = call.ctx;
    let mut req = body::parse_object(call.body)?;
    body::check_fields(&mut req, KEY_REQUEST_FIELDS)?;
    let given_key = str_of(&req, "key").map(str::to_string);
    let alias = str_of(&req, "key_alias").map(str::to_string);
    if given_key.is_none() && alias.is_none() {
        return Err(AdminError::validation(
            &["body"],
            "value_error",
            "Value error, either key or key_alias must be provided",
        ));
    }
    check_budget_value(&req, "max_budget")?;
    check_budget_value(&req, "soft_budget")?;
    let existing = match &given_key {
        Some(k) => entities::load(ctx, Table::Keys, &to_token(k))
            .await?
            .ok_or_else(|| AdminError::not_found("Key not found.", Some("key")))?,
        None => {
            let alias = alias.as_deref().unwrap_or_default();
            find_by_alias(call, alias).await?.ok_or_else(|| {
                AdminError::not_found(
                    format!("Key not found. No key with key_alias='{alias}'."),
                    Some("key"),
                )
            })?
        }
    };
    authorize_key_change(call, &existing, "/key/update").await?;
    if let Some(new_team) = str_of(&req, "team_id") {
        if !call.caller.is_admin() {
            let team = entities::load(ctx, Table::Teams, new_team).await?.ok_or_else(|| {
                AdminError::http(
                    400,
                    Value::String(format!(
                        "Team not found for team_id={new_team}. Non-admin users cannot set keys to non-existent teams."
                    )),
                )
            })?;
            if !call.caller.is_team_admin(&team) {
                return Err(Caller::not_team_admin_error("/key/update", new_team));
            }
        }
    }
    check_budget_duration(&req, "budget_duration")?;
    if let Some(alias) = str_of(&req, "key_alias") {
        if existing.str_field("key_alias") != Some(alias) {
            check_alias(call, alias, Some(&existing.id)).await?;
        }
    }
    check_references(call, &req).await?;
    let mut doc = existing.doc.clone();
    merge_update(&mut doc, &req);
    if req.contains_key("duration") {
        let expires = expires_from(&req, ctx.now_ms)?;
        doc.insert(
            "expires".into(),
            expires.map_or(Value::Null, |e| Value::String(rfc3339(e))),
        );
    }
    doc.insert("updated_at".into(), Value::String(rfc3339(ctx.now_ms)));
    doc.insert("updated_by".into(), Value::String(call.changed_by()));
    let budget_reset_at = next_reset(&existing, &doc, ctx.now_ms);
    let saved = entities::save(ctx, Table::Keys, &existing, doc, budget_reset_at)
        .await?
        .ok_or_else(|| AdminError::not_found("Key not found.", Some("key")))?;
    if req.get("spend").and_then(Value::as_f64) == Some(0.0) {
        reset_spend(call, Table::Keys, &saved).await?;
    }
    let mut row = render(ctx, Table::Keys, &saved);
    let key_field = given_key.unwrap_or_else(|| saved.id.clone());
    row.insert("key".into(), Value::String(key_field));
    Ok(Value::Object(row))
}

pub async fn delete(call: &Call<'_>) -> AdminResult<Value> {
    let ctx = call.ctx;
    let mut req = body::parse_object(call.body)?;
    body::check_fields(
        &mut req,
        &[
            ("keys", body::Kind::StrList),
            ("key_aliases", body::Kind::StrList),
        ],
    )?;
    let keys = body::str_list_of(&req, "keys");
    let aliases = body::str_list_of(&req, "key_aliases");
    if keys.is_empty() && aliases.is_empty() {
        return Err(AdminError::validation(
            &["body"],
            "value_error",
            "Value error, At least one of 'keys' or 'key_aliases' must be provided.",
        ));
    }
    let mut found: Vec<Arc<Entity>> = Vec::new();
    let named = if !keys.is_empty() {
        for k in &keys {
            if let Some(e) = entities::load(ctx, Table::Keys, &to_token(k)).await? {
                found.push(e);
            }
        }
        keys
    } else {
        for alias in &aliases {
            if let Some(e) = find_by_alias(call, alias).await? {
                found.push(e);
            }
        }
        aliases
    };
    if found.is_empty() {
        return Err(AdminError::detail_error(404, "No keys found"));
    }
    for key in &found {
        if !may_manage_key(call, key).await? {
            return Err(AdminError::detail_error(
                403,
                "You are not authorized to delete this key",
            ));
        }
    }
    for key in &found {
        entities::remove(ctx, Table::Keys, &key.id).await?;
    }
    Ok(json!({"deleted_keys": named}))
}

pub async fn regenerate(call: &Call<'_>) -> AdminResult<Value> {
    let ctx = call.ctx;
    let mut req = body::parse_object(call.body)?;
    body::check_fields(&mut req, KEY_REQUEST_FIELDS)?;
    let Some(key) = str_of(&req, "key")
        .map(str::to_string)
        .or_else(|| call.path_param.clone())
    else {
        return Err(AdminError::detail_error(400, "No key passed in."));
    };
    let existing = entities::load(ctx, Table::Keys, &to_token(&key))
        .await?
        .ok_or_else(|| AdminError::detail_error(404, format!("Key {key} not found.")))?;
    if !may_manage_key(call, &existing).await? {
        return Err(AdminError::detail_error(
            403,
            "You are not authorized to regenerate this key",
        ));
    }
    check_budget_value(&req, "max_budget")?;
    check_budget_duration(&req, "budget_duration")?;
    let new_raw = match str_of(&req, "new_key") {
        Some(custom) => {
            check_custom_key(custom)?;
            custom.to_string()
        }
        None => key_fields::new_key(),
    };
    let mut doc = existing.doc.clone();
    req.remove("key");
    merge_update(&mut doc, &req);
    if req.contains_key("duration") {
        let expires = expires_from(&req, ctx.now_ms)?;
        doc.insert(
            "expires".into(),
            expires.map_or(Value::Null, |e| Value::String(rfc3339(e))),
        );
    }
    doc.insert("key_name".into(), Value::String(abbreviate(&new_raw)));
    doc.insert("updated_at".into(), Value::String(rfc3339(ctx.now_ms)));
    doc.insert("updated_by".into(), Value::String(call.changed_by()));
    let rotations = doc
        .get("rotation_count")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    doc.insert("rotation_count".into(), Value::from(rotations + 1));
    doc.insert(
        "last_rotation_at".into(),
        Value::String(rfc3339(ctx.now_ms)),
    );
    let spent = entities::live_spend(ctx, Table::Keys, &existing);
    let new_token = crate::auth::hash_key(&new_raw);
    let budget_reset_at = next_reset(&existing, &doc, ctx.now_ms);
    let Some(mut created) =
        entities::create(ctx, Table::Keys, &new_token, doc, budget_reset_at).await?
    else {
        return Err(AdminError::detail_error(
            400,
            "Unique constraint failed on the fields: (`token`)",
        ));
    };
    // The key's spend stays with it across the rotation.
    created.spend = spent;
    ctx.accounts.set_spend(Table::Keys, &new_token, spent);
    entities::remove(ctx, Table::Keys, &existing.id).await?;
    let row = render(ctx, Table::Keys, &created);
    Ok(generate_response(&row, &new_raw, None))
}

pub async fn set_blocked(call: &Call<'_>, blocked: bool) -> AdminResult<Value> {
    let ctx = call.ctx;
    let route = if blocked {
        "/key/block"
    } else {
        "/key/unblock"
    };
    let req = body::parse_object(call.body)?;
    let key = body::required_str(&req, "key")?;
    if !valid_key_format(&key) {
        return Err(AdminError::bad_request("Invalid key format.", Some("key")));
    }
    let token = to_token(&key);
    let existing = entities::load(ctx, Table::Keys, &token).await?;
    let Some(existing) = existing else {
        if call.caller.is_admin() {
            return Err(AdminError::not_found("Key not found.", Some("key")));
        }
        return Err(AdminError::detail_error(
            404,
            format!("Key not found: {token}"),
        ));
    };
    if !may_manage_key(call, &existing).await? {
        return Err(AdminError::detail_error(
            403,
            format!(
                "Only proxy admins, team admins, or org admins can call {route}. user_role={}, user_id={}",
                call.caller.role_name().unwrap_or("None"),
                call.caller.user_id.as_deref().unwrap_or("None")
            ),
        ));
    }
    let mut doc = existing.doc.clone();
    doc.insert("blocked".into(), Value::Bool(blocked));
    doc.insert("updated_at".into(), Value::String(rfc3339(ctx.now_ms)));
    let saved = entities::save(ctx, Table::Keys, &existing, doc, existing.budget_reset_at)
        .await?
        .ok_or_else(|| AdminError::not_found("Key not found.", Some("key")))?;
    Ok(Value::Object(render(ctx, Table::Keys, &saved)))
}

/// Proxy admins manage every key; a team admin, the keys of that team.
pub async fn may_manage_key(call: &Call<'_>, key: &Entity) -> AdminResult<bool> {
    if call.caller.is_admin() {
        return Ok(true);
    }
    let Some(team_id) = key.str_field("team_id") else {
        return Ok(false);
    };
    Ok(entities::load(call.ctx, Table::Teams, team_id)
        .await?
        .is_some_and(|team| call.caller.is_team_admin(&team)))
}

async fn authorize_key_change(call: &Call<'_>, key: &Entity, route: &str) -> AdminResult<()> {
    if may_manage_key(call, key).await? {
        return Ok(());
    }
    Err(Caller::not_team_admin_error(
        route,
        key.str_field("team_id").unwrap_or("None"),
    ))
}

pub async fn find_by_alias(call: &Call<'_>, alias: &str) -> AdminResult<Option<Arc<Entity>>> {
    let filter = ListFilter {
        key_alias: Some(alias.to_string()),
        limit: Some(1),
        ..ListFilter::default()
    };
    let (found, _) = entities::list(call.ctx, Table::Keys, &filter).await?;
    Ok(found.into_iter().next().map(Arc::new))
}

/// LiteLLM's alias rules: no control characters or `..` segment, and unique across keys.
async fn check_alias(call: &Call<'_>, alias: &str, except_token: Option<&str>) -> AdminResult<()> {
    if alias.chars().any(char::is_control) || alias.split('/').any(|seg| seg == "..") {
        return Err(AdminError::bad_request(
            "Invalid key_alias: must not contain control characters (such as tab or newline) or a \"..\" path segment",
            Some("key_alias"),
        ));
    }
    let filter = ListFilter {
        key_alias: Some(alias.to_string()),
        ..ListFilter::default()
    };
    let (same, _) = entities::list(call.ctx, Table::Keys, &filter).await?;
    if same.iter().any(|k| Some(k.id.as_str()) != except_token) {
        return Err(AdminError::bad_request(
            format!("Key with alias '{alias}' already exists. Unique key aliases across all keys are required."),
            Some("key_alias"),
        ));
    }
    Ok(())
}

fn check_custom_key(key: &str) -> AdminResult<()> {
    if !key.starts_with("sk-") {
        let masked = if key.chars().count() > 8 {
            let chars: Vec<char> = key.chars().collect();
            let head: String = chars[..4].iter().collect();
            let tail: String = chars[chars.len() - 4..].iter().collect();
            format!("{head}****{tail}")
        } else {
            "****".to_string()
        };
        return Err(AdminError::detail_error(
            400,
            format!(
                "Invalid key format. LiteLLM Virtual Key must start with 'sk-'. Received: {masked}"
            ),
        ));
    }
    if key.chars().count() < MINIMUM_CUSTOM_KEY_LENGTH {
        return Err(AdminError::detail_error(
            400,
            format!(
                "Invalid key format. LiteLLM Virtual Key must be at least {MINIMUM_CUSTOM_KEY_LENGTH} characters long."
            ),
        ));
    }
    Ok(())
}

/// The organization and budget a key names must exist.
async fn check_references(call: &Call<'_>, req: &Document) -> AdminResult<()> {
    if let Some(org) = str_of(req, "organization_id") {
        if entities::load(call.ctx, Table::Organizations, org)
            .await?
            .is_none()
        {
            return Err(AdminError::http(
                400,
                Value::String(format!("Organization not found for organization_id={org}")),
            ));
        }
    }
    if let Some(budget) = str_of(req, "budget_id") {
        if entities::load(call.ctx, Table::Budgets, budget)
            .await?
            .is_none()
        {
            return Err(AdminError::detail_error(
                400,
                format!("Budget not found, passed budget_id={budget}"),
            ));
        }
    }
    Ok(())
}

/// `expires` from `duration` (`30d`, `1h`, ...); `None` when no duration (never expires).
fn expires_from(req: &Document, now_ms: i64) -> AdminResult<Option<i64>> {
    match str_of(req, "duration") {
        None => Ok(None),
        Some("-1") => Ok(None),
        Some(d) => crate::spend::period::parse_ms(d)
            .and_then(|ms| now_ms.checked_add(ms))
            .map(Some)
            .ok_or_else(|| {
                AdminError::detail_error(
                    400,
                    format!("Unsupported duration unit, passed duration: {d}"),
                )
            }),
    }
}

/// Copies an update's fields onto a stored document: fields sent as `null` are left alone
/// (LiteLLM drops unset and null update values), request-only fields are not stored.
pub fn merge_update(doc: &mut Document, req: &Document) {
    for (name, value) in req {
        if value.is_null() || NOT_STORED.contains(&name.as_str()) {
            continue;
        }
        doc.insert(name.clone(), value.clone());
    }
}

/// The reset time after an update: a new period restarts it, an unchanged one keeps it.
pub fn next_reset(existing: &Entity, doc: &Document, now_ms: i64) -> Option<i64> {
    let old = existing.str_field("budget_duration");
    let new = doc.get("budget_duration").and_then(Value::as_str);
    if old == new && existing.budget_reset_at.is_some() {
        existing.budget_reset_at
    } else {
        reset_at(doc, "budget_duration", now_ms)
    }
}

/// `spend: 0` on an update resets the entity's spend in the store and the accounts.
pub async fn reset_spend(call: &Call<'_>, table: Table, entity: &Entity) -> AdminResult<()> {
    call.ctx
        .store
        .reset_spend(
            table,
            &entity.id,
            entity.budget_reset_at,
            entity.budget_reset_at,
        )
        .await?;
    call.ctx.accounts.set_spend(table, &entity.id, 0.0);
    Ok(())
}

/// LiteLLM's `is_valid_api_key`: `sk-` and URL-safe characters, or a 64-hex hash.
fn valid_key_format(key: &str) -> bool {
    if !(3..=100).contains(&key.len()) {
        return false;
    }
    if let Some(rest) = key.strip_prefix("sk-") {
        return !rest.is_empty()
            && rest
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    }
    key.len() == 64 && key.chars().all(|c| c.is_ascii_hexdigit())
}
