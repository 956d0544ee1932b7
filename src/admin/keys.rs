//! `/key/*`: issue, read, change, block and delete virtual keys. A key is shown once, in the
//! `/key/generate` answer; the store keeps only its SHA-256 (`token`).

use super::{store_error, with_spend, AdminCaller, AdminContext, AdminResult, Query, Role};
use crate::auth::hash_key;
use crate::error::GatewayError;
use crate::spend::{period, time};
use crate::store::{Entity, ListFilter, Table};
use serde_json::{json, Map, Value};

/// Fields the gateway computes; a request cannot set them.
const COMPUTED: &[&str] = &[
    "token",
    "spend",
    "budget_reset_at",
    "created_at",
    "updated_at",
    "key",
];

pub async fn generate(ctx: &AdminContext<'_>, mut body: Map<String, Value>) -> AdminResult {
    let key = match body.remove("key") {
        Some(Value::String(k)) if k.starts_with("sk-") && k.len() >= 8 => k,
        Some(Value::String(_)) => {
            return Err(GatewayError::bad_request("key must start with 'sk-'").with_param("key"))
        }
        Some(Value::Null) | None => new_key(),
        Some(_) => return Err(GatewayError::bad_request("key must be a string").with_param("key")),
    };
    check_fields(&body)?;
    if let Some(alias) = body.get("key_alias").and_then(Value::as_str) {
        let taken = ctx
            .directory
            .all(Table::Keys)
            .iter()
            .any(|k| k.str_field("key_alias") == Some(alias));
        if taken {
            return Err(GatewayError::bad_request(format!(
                "Key with alias '{alias}' already exists."
            )));
        }
    }
    if let Some(team) = body.get("team_id").and_then(Value::as_str) {
        if ctx.directory.get(Table::Teams, team).is_none() {
            return Err(GatewayError::bad_request(format!(
                "Team not found, passed team_id={team}"
            ))
            .with_param("team_id"));
        }
    }
    let token = hash_key(&key);
    let now = time::rfc3339(ctx.now_ms);
    let mut doc = body;
    for f in COMPUTED {
        doc.remove(*f);
    }
    let expires = match doc.remove("duration") {
        Some(Value::String(d)) => match period::parse_ms(&d) {
            Some(ms) => Value::from(time::rfc3339(ctx.now_ms + ms)),
            None => return Err(bad_duration("duration", &d)),
        },
        _ => Value::Null,
    };
    doc.insert("expires".into(), expires);
    doc.insert("key_name".into(), Value::from(display_name(&key)));
    doc.insert("token".into(), Value::from(token.clone()));
    doc.entry("models").or_insert_with(|| json!([]));
    doc.entry("metadata").or_insert_with(|| json!({}));
    doc.entry("blocked").or_insert(Value::Null);
    doc.insert("created_at".into(), Value::from(now.clone()));
    doc.insert("updated_at".into(), Value::from(now));
    if let AdminCaller::Key { entity, .. } = ctx.caller {
        doc.insert(
            "created_by".into(),
            entity.doc.get("user_id").cloned().unwrap_or(Value::Null),
        );
    }
    let reset = budget_reset(ctx, &doc)?;
    let entity = Entity {
        id: token.clone(),
        doc,
        spend: 0.0,
        budget_reset_at: reset,
        updated_ms: ctx.now_ms,
        deleted: false,
    };
    if !ctx
        .store
        .insert(Table::Keys, &entity)
        .await
        .map_err(store_error)?
    {
        return Err(GatewayError::bad_request("Key already exists"));
    }
    let mut answer = with_spend(ctx, Table::Keys, &entity);
    ctx.directory.apply(Table::Keys, entity);
    answer.insert("key".into(), Value::from(key));
    answer.insert("token_id".into(), Value::from(token));
    Ok(Value::Object(answer))
}

pub fn info(ctx: &AdminContext<'_>, q: &Query<'_>, role: Role) -> AdminResult {
    let token = match (q.get("key"), ctx.caller) {
        (Some(k), _) => token_of(&k),
        (None, AdminCaller::Key { token, .. }) => token.clone(),
        (None, AdminCaller::Master) => {
            return Err(GatewayError::bad_request("key is required").with_param("key"))
        }
    };
    if role == Role::Member
        && !matches!(ctx.caller, AdminCaller::Key { token: own, .. } if *own == token)
    {
        return Err(GatewayError::new(
            403,
            "auth_error",
            "You can only view your own key's info",
        ));
    }
    let Some(e) = ctx.directory.get(Table::Keys, &token) else {
        return Err(GatewayError::not_found(format!("Key not found: {token}")));
    };
    let mut info = with_spend(ctx, Table::Keys, &e);
    info.remove("token");
    Ok(json!({"key": token, "info": info}))
}

pub async fn update(ctx: &AdminContext<'_>, mut body: Map<String, Value>) -> AdminResult {
    let token = required_key(&mut body)?;
    check_fields(&body)?;
    let e = live(ctx, &token)?;
    let mut doc = e.doc.clone();
    for (k, v) in body {
        if !COMPUTED.contains(&k.as_str()) {
            doc.insert(k, v);
        }
    }
    doc.insert("updated_at".into(), Value::from(time::rfc3339(ctx.now_ms)));
    let reset = if doc.get("budget_duration") != e.doc.get("budget_duration") {
        budget_reset(ctx, &doc)?
    } else {
        e.budget_reset_at
    };
    save(ctx, &e, doc, reset).await
}

pub async fn set_blocked(
    ctx: &AdminContext<'_>,
    mut body: Map<String, Value>,
    blocked: bool,
) -> AdminResult {
    let token = required_key(&mut body)?;
    let e = live(ctx, &token)?;
    let mut doc = e.doc.clone();
    doc.insert("blocked".into(), Value::from(blocked));
    save(ctx, &e, doc, e.budget_reset_at).await
}

pub async fn delete(ctx: &AdminContext<'_>, body: Map<String, Value>) -> AdminResult {
    let mut tokens: Vec<String> = strings(body.get("keys"))
        .iter()
        .map(|k| token_of(k))
        .collect();
    for alias in strings(body.get("key_aliases")) {
        tokens.extend(
            ctx.directory
                .all(Table::Keys)
                .iter()
                .filter(|k| k.str_field("key_alias") == Some(alias.as_str()))
                .map(|k| k.id.clone()),
        );
    }
    if tokens.is_empty() {
        return Err(GatewayError::bad_request("keys or key_aliases is required").with_param("keys"));
    }
    let mut deleted = Vec::new();
    for t in tokens {
        if ctx
            .store
            .delete(Table::Keys, &t)
            .await
            .map_err(store_error)?
        {
            ctx.directory.remove(Table::Keys, &t);
            deleted.push(Value::from(t));
        }
    }
    if deleted.is_empty() {
        return Err(GatewayError::not_found("No keys found to delete"));
    }
    Ok(json!({"deleted_keys": deleted}))
}

pub fn list(ctx: &AdminContext<'_>, q: &Query<'_>) -> AdminResult {
    let page: u64 = q
        .get("page")
        .and_then(|p| p.parse().ok())
        .filter(|p| *p >= 1)
        .unwrap_or(1);
    let size: u64 = q
        .get("size")
        .and_then(|p| p.parse().ok())
        .filter(|s| (1..=100).contains(s))
        .unwrap_or(10);
    let filter = ListFilter {
        user_id: q.get("user_id"),
        team_id: q.get("team_id"),
        key_alias: q.get("key_alias"),
        ..ListFilter::default()
    };
    let mut keys: Vec<_> = ctx
        .directory
        .all(Table::Keys)
        .into_iter()
        .filter(|k| {
            let eq = |f: &Option<String>, name: &str| {
                f.as_deref().is_none_or(|v| k.str_field(name) == Some(v))
            };
            eq(&filter.user_id, "user_id")
                && eq(&filter.team_id, "team_id")
                && eq(&filter.key_alias, "key_alias")
        })
        .collect();
    keys.sort_by(|a, b| {
        a.str_field("created_at")
            .cmp(&b.str_field("created_at"))
            .then(a.id.cmp(&b.id))
    });
    let total = keys.len() as u64;
    let shown: Vec<Value> = keys
        .iter()
        .skip(((page - 1) * size) as usize)
        .take(size as usize)
        .map(|k| Value::from(k.id.clone()))
        .collect();
    Ok(
        json!({"keys": shown, "total_count": total, "current_page": page, "total_pages": total.div_ceil(size)}),
    )
}

async fn save(
    ctx: &AdminContext<'_>,
    e: &Entity,
    doc: Map<String, Value>,
    reset: Option<i64>,
) -> AdminResult {
    if !ctx
        .store
        .update(Table::Keys, &e.id, &doc, reset)
        .await
        .map_err(store_error)?
    {
        return Err(GatewayError::not_found(format!("Key not found: {}", e.id)));
    }
    let updated = Entity {
        doc,
        budget_reset_at: reset,
        updated_ms: ctx.now_ms.max(e.updated_ms + 1),
        ..e.clone()
    };
    let answer = with_spend(ctx, Table::Keys, &updated);
    ctx.directory.apply(Table::Keys, updated);
    Ok(Value::Object(answer))
}

fn live(ctx: &AdminContext<'_>, token: &str) -> Result<std::sync::Arc<Entity>, GatewayError> {
    ctx.directory
        .get(Table::Keys, token)
        .ok_or_else(|| GatewayError::not_found(format!("Key not found: {token}")))
}

fn required_key(body: &mut Map<String, Value>) -> Result<String, GatewayError> {
    match body.remove("key") {
        Some(Value::String(k)) if !k.is_empty() => Ok(token_of(&k)),
        _ => Err(GatewayError::bad_request("key is required").with_param("key")),
    }
}

/// A raw `sk-` key or its hash, as LiteLLM accepts either.
fn token_of(key: &str) -> String {
    if key.starts_with("sk-") {
        hash_key(key)
    } else {
        key.to_string()
    }
}

/// `sk-` + 32 random bytes, URL-safe base64 (256 bits).
fn new_key() -> String {
    use base64::Engine;
    let bytes: [u8; 32] = rand::random();
    format!(
        "sk-{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// LiteLLM's display form: `sk-...` and the last four characters.
fn display_name(key: &str) -> String {
    let tail: String = key
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("sk-...{tail}")
}

pub(super) fn budget_reset(
    ctx: &AdminContext<'_>,
    doc: &Map<String, Value>,
) -> Result<Option<i64>, GatewayError> {
    match doc.get("budget_duration") {
        Some(Value::String(d)) => period::next_reset_ms(d, ctx.now_ms)
            .map(Some)
            .ok_or_else(|| bad_duration("budget_duration", d)),
        Some(Value::Null) | None => Ok(None),
        Some(_) => Err(
            GatewayError::bad_request("budget_duration must be a string like 30d")
                .with_param("budget_duration"),
        ),
    }
}

fn bad_duration(field: &str, d: &str) -> GatewayError {
    GatewayError::bad_request(format!(
        "Invalid {field}={d:?}: use a number and a unit: s, m, h, d, mo (e.g. 30d)"
    ))
    .with_param(field)
}

/// Type checks for the fields budgets and auth read, so a bad value is a 400, not a silent no-op.
pub(super) fn check_fields(body: &Map<String, Value>) -> Result<(), GatewayError> {
    for f in [
        "max_budget",
        "soft_budget",
        "rpm_limit",
        "tpm_limit",
        "max_parallel_requests",
    ] {
        if let Some(v) = body.get(f) {
            if !v.is_null() && !v.as_f64().is_some_and(|n| n.is_finite() && n >= 0.0) {
                return Err(GatewayError::bad_request(format!(
                    "{f} must be a non-negative number"
                ))
                .with_param(f));
            }
        }
    }
    for f in ["models", "tags"] {
        if let Some(v) = body.get(f) {
            if !v.is_null() && !v.as_array().is_some_and(|a| a.iter().all(Value::is_string)) {
                return Err(
                    GatewayError::bad_request(format!("{f} must be a list of strings"))
                        .with_param(f),
                );
            }
        }
    }
    Ok(())
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}
