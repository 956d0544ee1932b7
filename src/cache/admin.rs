//! LiteLLM's cache routes: `GET /cache/ping`, `POST /cache/delete` (`{"keys": [...]}`),
//! `POST /cache/flushall`, in its answer shapes. Unlike LiteLLM's, delete and flush also work
//! on the in-memory cache; flush removes only the cache's own keys from a shared Redis.

use super::CacheBackend;
use crate::config::cache::CacheSettings;
use crate::error::GatewayError;
use serde_json::{json, Value};
use std::sync::Arc;

pub async fn handle(
    backend: Option<&Arc<dyn CacheBackend>>,
    settings: &CacheSettings,
    path: &str,
    body: &[u8],
) -> Result<Value, GatewayError> {
    let Some(backend) = backend.filter(|_| settings.enabled) else {
        return Err(not_initialized(path));
    };
    match path {
        "/cache/ping" => ping(backend.as_ref(), settings).await,
        "/cache/delete" => {
            let keys = delete_keys(body)?;
            backend.delete(&keys).await.map_err(|e| {
                GatewayError::new(
                    500,
                    "internal_server_error",
                    format!("Cache Delete Failed({e})"),
                )
            })?;
            Ok(json!({"status": "success"}))
        }
        _ => {
            backend.flush().await.map_err(|e| {
                GatewayError::new(
                    503,
                    "service_unavailable",
                    format!("Service Unhealthy ({e})"),
                )
            })?;
            Ok(json!({"status": "success"}))
        }
    }
}

async fn ping(backend: &dyn CacheBackend, settings: &CacheSettings) -> Result<Value, GatewayError> {
    let params = cache_params(settings);
    if backend.kind() != "redis" {
        return Ok(json!({
            "status": "healthy",
            "cache_type": settings.configured_type,
            "ping_response": null,
            "set_cache_response": null,
            "litellm_cache_params": params.to_string(),
            "health_check_cache_params": null,
        }));
    }
    if let Err(e) = backend.ping().await {
        let message = json!({
            "message": "Service Unhealthy",
            "litellm_cache_params": params.to_string(),
            "health_check_cache_params": "{}",
        });
        log::warn!("/cache/ping: {e}");
        return Err(
            GatewayError::new(503, "cache_ping_error", message.to_string())
                .with_param("cache_ping"),
        );
    }
    let connection = |k: &str| {
        settings
            .connection
            .get(k)
            .and_then(|v| serde_json::to_value(v).ok())
            .unwrap_or(Value::Null)
    };
    Ok(json!({
        "status": "healthy",
        "cache_type": settings.configured_type,
        "ping_response": true,
        "set_cache_response": "success",
        "litellm_cache_params": params.to_string(),
        "health_check_cache_params": {
            "host": connection("host"),
            "port": connection("port"),
            "redis_kwargs": {},
            "namespace": settings.namespace,
            "redis_version": null,
        },
    }))
}

/// The settings as LiteLLM's `vars(litellm.cache)` shows them (no connection secrets).
fn cache_params(settings: &CacheSettings) -> Value {
    let mut types = Vec::new();
    if settings.calls.chat {
        types.extend(["completion", "acompletion"]);
    }
    if settings.calls.completion {
        types.extend(["text_completion", "atext_completion"]);
    }
    if settings.calls.embedding {
        types.extend(["embedding", "aembedding"]);
    }
    if settings.calls.anthropic {
        types.extend(["anthropic_messages", "aanthropic_messages"]);
    }
    json!({
        "type": settings.configured_type,
        "namespace": settings.namespace,
        "ttl": settings.ttl,
        "supported_call_types": types,
        "mode": if settings.opt_in { "default_off" } else { "default_on" },
        "max_messages": settings.max_messages,
    })
}

fn delete_keys(body: &[u8]) -> Result<Vec<String>, GatewayError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|_| GatewayError::bad_request("the body must be a JSON object with \"keys\""))?;
    match v.get("keys") {
        Some(Value::Array(keys)) => keys
            .iter()
            .map(|k| k.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                GatewayError::bad_request("keys must be a list of strings").with_param("keys")
            }),
        _ => Err(GatewayError::bad_request("keys is a required param").with_param("keys")),
    }
}

fn not_initialized(path: &str) -> GatewayError {
    let message = "Cache not initialized. litellm.cache is None";
    if path == "/cache/ping" {
        let body = json!({
            "message": message,
            "litellm_cache_params": "{}",
            "health_check_cache_params": "{}",
        });
        GatewayError::new(503, "cache_ping_error", body.to_string()).with_param("cache_ping")
    } else {
        GatewayError::new(503, "service_unavailable", message)
    }
}

/// Whether the caller may use the cache routes: the master key (or an open gateway), or a key
/// of a `proxy_admin` user.
pub fn may_manage(
    directory: &crate::auth::directory::Directory,
    caller: &crate::auth::Caller,
) -> bool {
    use crate::auth::Caller;
    match caller {
        Caller::Admin | Caller::Anonymous => true,
        Caller::Key(k) => k
            .key
            .str_field("user_id")
            .and_then(|u| directory.get(crate::store::Table::Users, u))
            .is_some_and(|u| u.str_field("user_role") == Some("proxy_admin")),
    }
}
