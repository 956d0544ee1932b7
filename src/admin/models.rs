//! LiteLLM's model API: `/model/new`, `/model/update`, `/model/delete`, with
//! `store_model_in_db`. A model is stored as LiteLLM's `{model_name, litellm_params,
//! model_info}` with its secrets sealed, written to the store and the directory, and the
//! snapshot rebuilt at once (other nodes rebuild on their next refresh). Errors in LiteLLM's
//! shape for these routes: `auth_error` with the detail as Python prints it.

use super::body::{self, str_of};
use super::entities::{self, rfc3339};
use super::error::{python_str, AdminError, AdminResult};
use super::Call;
use crate::runtime_models::sealed::SealKey;
use crate::runtime_models::{self, is_secret_param};
use crate::store::{Document, Entity, Table};
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// What the model routes need from the gateway.
pub trait ModelHost: Sync {
    /// `store_model_in_db` is on.
    fn store_models(&self) -> bool;
    fn seal_key(&self) -> Option<&SealKey>;
    /// A deployment with this id comes from the config file.
    fn in_config(&self, id: &str) -> bool;
    /// Rebuilds the snapshot after a write.
    fn models_changed(&self) -> Result<(), String>;
}

const NOT_ENABLED: &str = "Set `'STORE_MODEL_IN_DB='True'` in your env to enable this feature.";

/// LiteLLM's answer for an `HTTPException` raised in these handlers.
fn detail(status: u16, message: impl Into<String>) -> AdminError {
    AdminError::auth(status, python_str(&json!({"error": message.into()})))
}

/// LiteLLM's answer for a plain exception in these handlers.
fn failed(message: impl std::fmt::Display) -> AdminError {
    AdminError::auth(400, format!("Authentication Error, {message}"))
}

fn enabled_host<'a>(call: &Call<'a>) -> AdminResult<&'a dyn ModelHost> {
    match call.ctx.models {
        Some(host) if host.store_models() => Ok(host),
        _ => Err(detail(500, NOT_ENABLED)),
    }
}

fn object_field(doc: &Document, name: &str) -> AdminResult<Option<Map<String, Value>>> {
    match doc.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m.clone())),
        Some(_) => Err(AdminError::validation(
            &["body", name],
            "model_attributes_type",
            "Input should be a valid dictionary or object to extract fields from",
        )),
    }
}

/// `POST /model/new`.
pub(crate) async fn new(call: &Call<'_>) -> AdminResult<Value> {
    let host = enabled_host(call)?;
    let ctx = call.ctx;
    let req = body::parse_object(call.body)?;
    let model_name = body::required_str(&req, "model_name")?;
    let params = object_field(&req, "litellm_params")?
        .ok_or_else(|| AdminError::missing(&["body", "litellm_params"]))?;
    if !params.get("model").is_some_and(Value::is_string) {
        return Err(AdminError::missing(&["body", "litellm_params", "model"]));
    }
    let mut info = object_field(&req, "model_info")?.unwrap_or_default();
    let id = match info.get("id").and_then(Value::as_str) {
        Some(id) if !id.is_empty() => id.to_string(),
        _ => entities::new_id(),
    };
    if host.in_config(&id) || entities::load(ctx, Table::Models, &id).await?.is_some() {
        return Err(detail(400, format!("Model with id={id} already exists")));
    }
    let mut stored_name = model_name.clone();
    let team_id = info
        .get("team_id")
        .and_then(Value::as_str)
        .map(str::to_string);
    if let Some(team) = &team_id {
        if entities::load(ctx, Table::Teams, team).await?.is_none() {
            return Err(detail(400, format!("Team id={team} does not exist in db")));
        }
        // A team's model gets an internal group name; the team calls it by its own.
        info.insert("team_public_model_name".into(), json!(model_name));
        stored_name = format!("model_name_{team}_{}", entities::new_id());
    }
    info.insert("id".into(), json!(id));
    info.insert("db_model".into(), json!(true));
    check_deployment(&stored_name, &params, &info)?;
    let now = json!(rfc3339(ctx.now_ms));
    let mut doc = Document::new();
    doc.insert("model_name".into(), json!(stored_name));
    doc.insert("litellm_params".into(), Value::Object(seal(host, params)?));
    doc.insert("model_info".into(), Value::Object(info));
    doc.insert("created_at".into(), now.clone());
    doc.insert("updated_at".into(), now);
    doc.insert("created_by".into(), json!(call.changed_by()));
    doc.insert("updated_by".into(), json!(call.changed_by()));
    let Some(entity) = entities::create(ctx, Table::Models, &id, doc, None).await? else {
        return Err(detail(400, format!("Model with id={id} already exists")));
    };
    if let Some(team) = &team_id {
        allow_team_model(call, team, &model_name, true).await?;
    }
    rebuilt(host);
    Ok(render_row(&entity))
}

/// `POST /model/update`: `litellm_params` and `model_info` merged into the stored ones (a
/// `null` removes a field).
pub(crate) async fn update(call: &Call<'_>) -> AdminResult<Value> {
    let host = enabled_host(call)?;
    let req = body::parse_object(call.body)?;
    let patch_info =
        object_field(&req, "model_info")?.ok_or_else(|| failed("model_info not provided"))?;
    let id = patch_info
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| failed("model_info.id not provided"))?
        .to_string();
    if host.in_config(&id) {
        return Err(detail(
            400,
            "Can't edit model. Model in config. Store model in db via `/model/new`. to edit.",
        ));
    }
    let current = entities::load(call.ctx, Table::Models, &id)
        .await?
        .ok_or_else(|| failed("model not found"))?;
    merge_and_save(call, host, current, &req, patch_info).await
}

/// `PATCH /model/{model_id}/update`: the same merge, for the model the path names, with
/// LiteLLM's errors for this route (a `ProxyException`, not a detail).
pub(crate) async fn patch(call: &Call<'_>) -> AdminResult<Value> {
    let host = match call.ctx.models {
        Some(host) if host.store_models() => host,
        _ => {
            return Err(AdminError::proxy(
                400,
                "Model updates only supported for DB-stored models",
                "validation_error",
                None,
            ))
        }
    };
    let id = call.path_param.clone().unwrap_or_default();
    let req = body::parse_object(call.body)?;
    let patch_info = object_field(&req, "model_info")?.unwrap_or_default();
    let Some(current) = entities::load(call.ctx, Table::Models, &id).await? else {
        if host.in_config(&id) {
            return Err(AdminError::proxy(
                400,
                "Cannot edit config-based model. Store model in DB via /model/new first.",
                "validation_error",
                None,
            ));
        }
        return Err(AdminError::proxy(
            404,
            format!("Model {id} not found on proxy."),
            "not_found_error",
            None,
        ));
    };
    merge_and_save(call, host, current, &req, patch_info).await
}

/// `litellm_params` and `model_info` of the request merged into the stored model (a `null`
/// removes a field; the id and the team stay), checked as a `model_list` entry, saved.
async fn merge_and_save(
    call: &Call<'_>,
    host: &dyn ModelHost,
    current: Arc<Entity>,
    req: &Document,
    patch_info: Map<String, Value>,
) -> AdminResult<Value> {
    let ctx = call.ctx;
    let mut doc = current.doc.clone();
    let mut params = doc
        .get("litellm_params")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    if let Some(patch) = object_field(req, "litellm_params")? {
        for (k, v) in seal(host, patch)? {
            match v {
                Value::Null => params.remove(&k),
                v => params.insert(k, v),
            };
        }
    }
    let mut info = doc
        .get("model_info")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let team_id = info
        .get("team_id")
        .and_then(Value::as_str)
        .map(str::to_string);
    for (k, v) in patch_info {
        // A model's id and team are what it is; they do not change.
        if matches!(k.as_str(), "id" | "team_id" | "db_model") {
            continue;
        }
        match v {
            Value::Null => info.remove(&k),
            v => info.insert(k, v),
        };
    }
    let old_public = info.get("team_public_model_name").cloned();
    if let Some(name) = str_of(req, "model_name") {
        if team_id.is_some() {
            info.insert("team_public_model_name".into(), json!(name));
        } else {
            doc.insert("model_name".into(), json!(name));
        }
    }
    let stored_name = doc
        .get("model_name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let opened = open_params(host, &params)?;
    check_deployment(&stored_name, &opened, &info)?;
    let new_public = info.get("team_public_model_name").cloned();
    doc.insert("litellm_params".into(), Value::Object(params));
    doc.insert("model_info".into(), Value::Object(info));
    doc.insert("updated_at".into(), json!(rfc3339(ctx.now_ms)));
    doc.insert("updated_by".into(), json!(call.changed_by()));
    let saved = entities::save(ctx, Table::Models, &current, doc, None)
        .await?
        .ok_or_else(|| failed("model not found"))?;
    if let (Some(team), true) = (&team_id, old_public != new_public) {
        if let Some(name) = new_public.as_ref().and_then(Value::as_str) {
            allow_team_model(call, team, name, true).await?;
        }
        if let Some(name) = old_public.as_ref().and_then(Value::as_str) {
            allow_team_model(call, team, name, false).await?;
        }
    }
    rebuilt(host);
    Ok(render_row(&saved))
}

/// `POST /model/delete` (`{"id"}`).
pub(crate) async fn delete(call: &Call<'_>) -> AdminResult<Value> {
    let ctx = call.ctx;
    let req = body::parse_object(call.body)?;
    let id = body::required_str(&req, "id")?;
    let not_found = || detail(400, format!("Model with id={id} not found in db"));
    let current = entities::load(ctx, Table::Models, &id)
        .await?
        .ok_or_else(not_found)?;
    let host = enabled_host(call)?;
    if !entities::remove(ctx, Table::Models, &id).await? {
        return Err(not_found());
    }
    let info = current.doc.get("model_info");
    let field = |name: &str| info.and_then(|i| i.get(name)).and_then(Value::as_str);
    if let (Some(team), Some(public)) = (field("team_id"), field("team_public_model_name")) {
        allow_team_model(call, team, public, false).await?;
    }
    rebuilt(host);
    Ok(json!({"message": format!("Model: {id} deleted successfully")}))
}

fn rebuilt(host: &dyn ModelHost) {
    if let Err(e) = host.models_changed() {
        log::error!("model API: the snapshot could not be rebuilt: {e}");
    }
}

/// Reads the entry as a `model_list` entry would be read; a problem is the caller's 400.
fn check_deployment(
    name: &str,
    params: &Map<String, Value>,
    info: &Map<String, Value>,
) -> AdminResult<()> {
    let entry = json!({"model_name": name, "litellm_params": params, "model_info": info});
    let probe = Entity {
        id: String::new(),
        doc: entry.as_object().cloned().unwrap_or_default(),
        spend: 0.0,
        budget_reset_at: None,
        updated_ms: 0,
        deleted: false,
    };
    runtime_models::check(&probe).map_err(|e| detail(400, e))
}

/// The secret params sealed (string values; others as their JSON text).
fn seal(host: &dyn ModelHost, params: Map<String, Value>) -> AdminResult<Map<String, Value>> {
    let mut out = Map::new();
    for (k, v) in params {
        let sealed = if is_secret_param(&k) && !v.is_null() {
            let key = host.seal_key().ok_or_else(|| {
                detail(
                    500,
                    "A master key or LITELLM_SALT_KEY is needed to store model secrets",
                )
            })?;
            let plain = match &v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            json!(key.seal(&plain).map_err(|e| detail(500, e))?)
        } else {
            v
        };
        out.insert(k, sealed);
    }
    Ok(out)
}

fn open_params(
    host: &dyn ModelHost,
    params: &Map<String, Value>,
) -> AdminResult<Map<String, Value>> {
    let mut out = params.clone();
    for v in out.values_mut() {
        if let Value::String(s) = v {
            if crate::runtime_models::sealed::is_sealed(s) {
                let key = host
                    .seal_key()
                    .ok_or_else(|| detail(500, "no key to open the stored secrets"))?;
                *s = key.open(s).map_err(|e| detail(500, e))?;
            }
        }
    }
    Ok(out)
}

/// Adds (or removes) a team model's public name to the team's `models`, when the team lists
/// models (an empty list already allows every model).
async fn allow_team_model(call: &Call<'_>, team: &str, name: &str, add: bool) -> AdminResult<()> {
    let ctx = call.ctx;
    let Some(current) = entities::load(ctx, Table::Teams, team).await? else {
        return Ok(());
    };
    let mut models = body::str_list_of(&current.doc, "models");
    let listed = models.iter().any(|m| m == name);
    if models.is_empty() || listed == add {
        return Ok(());
    }
    if add {
        models.push(name.to_string());
    } else {
        models.retain(|m| m != name);
    }
    let mut doc = current.doc.clone();
    doc.insert("models".into(), json!(models));
    entities::save(ctx, Table::Teams, &current, doc, current.budget_reset_at).await?;
    Ok(())
}

/// A stored model as the model API answers it (LiteLLM's `LiteLLM_ProxyModelTable` row),
/// secrets left out.
pub fn render_row(entity: &Entity) -> Value {
    let doc = &entity.doc;
    let field = |name: &str| doc.get(name).cloned().unwrap_or(Value::Null);
    json!({
        "model_id": entity.id,
        "model_name": field("model_name"),
        "litellm_params": Value::Object(public_params(doc.get("litellm_params"))),
        "model_info": field("model_info"),
        "created_at": field("created_at"),
        "created_by": field("created_by"),
        "updated_at": field("updated_at"),
        "updated_by": field("updated_by"),
    })
}

/// `litellm_params` without any secret, sealed or not.
pub fn public_params(params: Option<&Value>) -> Map<String, Value> {
    params
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter(|(k, _)| !is_secret_param(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default()
}
