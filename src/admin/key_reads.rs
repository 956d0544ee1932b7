//! Key reads: `/key/info` (`{"key", "info"}`, spend live from the accounts), `/key/list`
//! (`{"keys", "total_count", "current_page", "total_pages"}`), `/key/health`.

use super::entities::{self, parse_rfc3339, render};
use super::error::{AdminError, AdminResult};
use super::key_fields::to_token;
use super::roles::Caller;
use super::Call;
use crate::store::{Entity, ListFilter, Table};
use serde_json::{json, Map, Value};
use std::sync::Arc;

pub async fn info(call: &Call<'_>) -> AdminResult<Value> {
    let ctx = call.ctx;
    let key = match call.query.get("key") {
        Some(k) => k.to_string(),
        None => call.caller.token.clone().unwrap_or_default(),
    };
    let token = to_token(&key);
    let live = entities::load(ctx, Table::Keys, &token).await?;
    let (entity, deleted) = match live {
        Some(e) => (e, false),
        None => match ctx.store.get(Table::Keys, &token).await? {
            Some(e) if e.deleted => (Arc::new(e), true),
            _ => {
                return Err(AdminError::not_found(
                    "Key not found in database",
                    Some("key"),
                ))
            }
        },
    };
    if !may_read_key(call, &entity).await? {
        return Err(AdminError::http(
            403,
            Value::String(format!(
                "You are not allowed to access this key's info. Your role={}",
                call.caller.role_name().unwrap_or("None")
            )),
        ));
    }
    let mut row = render(ctx, Table::Keys, &entity);
    row.remove("token");
    let status = if deleted {
        "deleted"
    } else {
        key_status(&row, ctx.now_ms)
    };
    row.insert("status".into(), Value::String(status.into()));
    Ok(json!({"key": key, "info": row}))
}

/// LiteLLM's `_can_user_query_key_info`: admins and viewers, the key itself, keys of the same
/// user, and members of the key's team.
async fn may_read_key(call: &Call<'_>, key: &Entity) -> AdminResult<bool> {
    let caller = call.caller;
    if caller.sees_all() || caller.token.as_deref() == Some(key.id.as_str()) {
        return Ok(true);
    }
    if caller.user_id.is_some() && key.str_field("user_id") == caller.user_id.as_deref() {
        return Ok(true);
    }
    let Some(team_id) = key.str_field("team_id") else {
        return Ok(false);
    };
    Ok(entities::load(call.ctx, Table::Teams, team_id)
        .await?
        .is_some_and(|team| caller.is_team_member(&team)))
}

/// `revoked` when blocked, `expired` past `expires`, else `active`.
pub fn key_status(row: &Map<String, Value>, now_ms: i64) -> &'static str {
    if row.get("blocked").and_then(Value::as_bool) == Some(true) {
        return "revoked";
    }
    match row
        .get("expires")
        .and_then(Value::as_str)
        .and_then(parse_rfc3339)
    {
        Some(expires) if expires < now_ms => "expired",
        _ => "active",
    }
}

pub async fn list(call: &Call<'_>) -> AdminResult<Value> {
    let ctx = call.ctx;
    let q = &call.query;
    let page = q.int("page", 1, 1, None)?;
    let size = q.int("size", 10, 1, Some(100))?;
    let full = q.bool("return_full_object", false)?;
    let team_id = q.get("team_id").map(str::to_string);
    if !call.caller.sees_all() {
        let team = match &team_id {
            Some(t) => entities::load(ctx, Table::Teams, t).await?,
            None => None,
        };
        if !team.is_some_and(|t| call.caller.is_team_admin(&t)) {
            return Err(Caller::not_team_admin_error(
                "/key/list",
                team_id.as_deref().unwrap_or("None"),
            ));
        }
    }
    let (rows, total) = if let Some(hash) = q.get("key_hash") {
        let found: Vec<Entity> = entities::load(ctx, Table::Keys, &to_token(hash))
            .await?
            .filter(|k| team_id.is_none() || k.str_field("team_id") == team_id.as_deref())
            .map(|k| (*k).clone())
            .into_iter()
            .collect();
        let total = found.len() as u64;
        (found, total)
    } else {
        let filter = ListFilter {
            user_id: q.get("user_id").map(str::to_string),
            team_id,
            organization_id: q.get("organization_id").map(str::to_string),
            key_alias: q.get("key_alias").map(str::to_string),
            offset: ((page - 1) * size) as u64,
            limit: Some(size as u64),
        };
        entities::list(ctx, Table::Keys, &filter).await?
    };
    let keys: Vec<Value> = rows
        .iter()
        .map(|k| {
            if full {
                Value::Object(render(ctx, Table::Keys, k))
            } else {
                Value::String(k.id.clone())
            }
        })
        .collect();
    let size = size as u64;
    Ok(json!({
        "keys": keys,
        "total_count": total,
        "current_page": page,
        "total_pages": total.div_ceil(size),
    }))
}

/// `/key/health`: no per-key logging callbacks here, so a key is healthy.
pub async fn health(_call: &Call<'_>) -> AdminResult<Value> {
    Ok(json!({"key": "healthy", "logging_callbacks": null}))
}
