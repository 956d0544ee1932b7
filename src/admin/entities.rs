//! `/user/*`, `/team/*`, `/organization/*`, `/customer/*`: the owners keys count toward.

use super::keys::{budget_reset, check_fields};
use super::{store_error, with_spend, AdminContext, AdminResult};
use crate::error::GatewayError;
use crate::spend::time;
use crate::store::{Entity, Table};
use serde_json::{json, Map, Value};

/// The id field of each kind, as LiteLLM names it in requests and answers.
fn id_field(table: Table) -> &'static str {
    match table {
        Table::Users | Table::Customers => "user_id",
        Table::Teams => "team_id",
        Table::Organizations => "organization_id",
        Table::Budgets => "budget_id",
        Table::Keys => "token",
    }
}

pub async fn new_user(ctx: &AdminContext<'_>, mut body: Map<String, Value>) -> AdminResult {
    let auto_key = body
        .remove("auto_create_key")
        .and_then(|v| v.as_bool())
        .unwrap_or(true);
    if let Some(role) = body.get("user_role").and_then(Value::as_str) {
        const ROLES: &[&str] = &[
            "proxy_admin",
            "proxy_admin_viewer",
            "internal_user",
            "internal_user_viewer",
            "team",
            "customer",
        ];
        if !ROLES.contains(&role) {
            return Err(GatewayError::bad_request(format!(
                "Invalid user_role={role:?}; one of {ROLES:?}"
            ))
            .with_param("user_role"));
        }
    }
    // Key fields in the request go to the user's first key, as LiteLLM does.
    let key_fields: Map<String, Value> = [
        "models",
        "duration",
        "key_alias",
        "team_id",
        "metadata",
        "max_parallel_requests",
        "tpm_limit",
        "rpm_limit",
    ]
    .iter()
    .filter_map(|f| body.get(*f).map(|v| (f.to_string(), v.clone())))
    .collect();
    let mut user = create(ctx, Table::Users, body).await?;
    if auto_key {
        let mut fields = key_fields;
        fields.insert(
            "user_id".into(),
            user.get("user_id").cloned().unwrap_or(Value::Null),
        );
        let key = super::keys::generate(ctx, fields).await?;
        for f in ["key", "key_name", "token", "expires"] {
            if let Some(v) = key.get(f) {
                user.insert(f.into(), v.clone());
            }
        }
    }
    Ok(Value::Object(user))
}

pub async fn new_entity(
    ctx: &AdminContext<'_>,
    table: Table,
    body: Map<String, Value>,
) -> AdminResult {
    if table == Table::Teams {
        if let Some(org) = body.get("organization_id").and_then(Value::as_str) {
            if ctx.directory.get(Table::Organizations, org).is_none() {
                return Err(GatewayError::bad_request(format!(
                    "Organization not found, passed organization_id={org}"
                )));
            }
        }
    }
    create(ctx, table, body).await.map(Value::Object)
}

async fn create(
    ctx: &AdminContext<'_>,
    table: Table,
    mut doc: Map<String, Value>,
) -> Result<Map<String, Value>, GatewayError> {
    check_fields(&doc)?;
    let field = id_field(table);
    let id = match doc.get(field) {
        Some(Value::String(id)) if !id.is_empty() => id.clone(),
        None | Some(Value::Null) if table != Table::Customers => uuid::Uuid::new_v4().to_string(),
        _ => {
            return Err(GatewayError::bad_request(format!("{field} is required")).with_param(field))
        }
    };
    doc.insert(field.into(), Value::from(id.clone()));
    for f in ["spend", "budget_reset_at"] {
        doc.remove(f);
    }
    if table == Table::Teams {
        doc.entry("members_with_roles").or_insert_with(|| json!([]));
        doc.entry("models").or_insert_with(|| json!([]));
    }
    doc.entry("metadata").or_insert_with(|| json!({}));
    let now = time::rfc3339(ctx.now_ms);
    doc.insert("created_at".into(), Value::from(now.clone()));
    doc.insert("updated_at".into(), Value::from(now));
    let reset = budget_reset(ctx, &doc)?;
    let entity = Entity {
        id: id.clone(),
        doc,
        spend: 0.0,
        budget_reset_at: reset,
        updated_ms: ctx.now_ms,
        deleted: false,
    };
    if !ctx
        .store
        .insert(table, &entity)
        .await
        .map_err(store_error)?
    {
        return Err(
            GatewayError::bad_request(format!("{field}={id} already exists")).with_param(field),
        );
    }
    let answer = with_spend(ctx, table, &entity);
    ctx.directory.apply(table, entity);
    Ok(answer)
}

pub fn info(ctx: &AdminContext<'_>, table: Table, id: Option<String>) -> AdminResult {
    let field = id_field(table);
    let id = id.ok_or_else(|| {
        GatewayError::bad_request(format!("{field} is required")).with_param(field)
    })?;
    let e = ctx
        .directory
        .get(table, &id)
        .ok_or_else(|| GatewayError::not_found(format!("{field}={id} not found")))?;
    let doc = Value::Object(with_spend(ctx, table, &e));
    Ok(match table {
        Table::Users => {
            let keys: Vec<Value> = ctx
                .directory
                .all(Table::Keys)
                .iter()
                .filter(|k| k.str_field("user_id") == Some(id.as_str()))
                .map(|k| Value::Object(with_spend(ctx, Table::Keys, k)))
                .collect();
            json!({"user_id": id, "user_info": doc, "keys": keys, "teams": []})
        }
        Table::Teams => {
            let keys: Vec<Value> = ctx
                .directory
                .all(Table::Keys)
                .iter()
                .filter(|k| k.str_field("team_id") == Some(id.as_str()))
                .map(|k| Value::Object(with_spend(ctx, Table::Keys, k)))
                .collect();
            json!({"team_id": id, "team_info": doc, "keys": keys, "team_memberships": []})
        }
        _ => doc,
    })
}

/// `/team/member_add`: `member` is one `{role, user_id, user_email}` or a list; users that do
/// not exist yet are created, as LiteLLM does.
pub async fn member_add(ctx: &AdminContext<'_>, body: Map<String, Value>) -> AdminResult {
    let team_id = body
        .get("team_id")
        .and_then(Value::as_str)
        .ok_or_else(|| GatewayError::bad_request("team_id is required").with_param("team_id"))?;
    let team = ctx.directory.get(Table::Teams, team_id).ok_or_else(|| {
        GatewayError::bad_request(format!("Team not found, passed team_id={team_id}"))
    })?;
    let members: Vec<Value> = match body.get("member") {
        Some(Value::Array(list)) => list.clone(),
        Some(m @ Value::Object(_)) => vec![m.clone()],
        _ => {
            return Err(GatewayError::bad_request(
                "member is required: {\"role\": \"user\", \"user_id\": ...}",
            )
            .with_param("member"))
        }
    };
    let mut doc = team.doc.clone();
    let mut roster: Vec<Value> = doc
        .get("members_with_roles")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for m in members {
        let role = m.get("role").and_then(Value::as_str).unwrap_or("user");
        if role != "user" && role != "admin" {
            return Err(GatewayError::bad_request(format!(
                "Invalid member role {role:?}: user or admin"
            ))
            .with_param("member"));
        }
        let user_id = match m.get("user_id").and_then(Value::as_str) {
            Some(u) => u.to_string(),
            None => match m.get("user_email").and_then(Value::as_str) {
                Some(email) => email.to_string(),
                None => {
                    return Err(
                        GatewayError::bad_request("member needs user_id or user_email")
                            .with_param("member"),
                    )
                }
            },
        };
        if ctx.directory.get(Table::Users, &user_id).is_none() {
            let mut user = Map::new();
            user.insert("user_id".into(), Value::from(user_id.clone()));
            user.insert(
                "user_email".into(),
                m.get("user_email").cloned().unwrap_or(Value::Null),
            );
            create(ctx, Table::Users, user).await?;
        }
        roster.retain(|r| r.get("user_id").and_then(Value::as_str) != Some(user_id.as_str()));
        roster.push(json!({"role": role, "user_id": user_id, "user_email": m.get("user_email").cloned().unwrap_or(Value::Null)}));
    }
    doc.insert("members_with_roles".into(), Value::Array(roster));
    doc.insert("updated_at".into(), Value::from(time::rfc3339(ctx.now_ms)));
    if !ctx
        .store
        .update(Table::Teams, team_id, &doc, team.budget_reset_at)
        .await
        .map_err(store_error)?
    {
        return Err(GatewayError::not_found(format!(
            "team_id={team_id} not found"
        )));
    }
    let updated = Entity {
        doc,
        updated_ms: ctx.now_ms.max(team.updated_ms + 1),
        ..(*team).clone()
    };
    let answer = with_spend(ctx, Table::Teams, &updated);
    ctx.directory.apply(Table::Teams, updated);
    Ok(json!({"team_id": team_id, "updated_team": answer, "updated_users": []}))
}
