//! Bodies of the gateway's own endpoints (`/v1/models`, health), as LiteLLM shapes them.

pub mod model_info;
pub mod probes;

use crate::router::ModelTable;
use bytes::Bytes;
use serde_json::json;

/// `GET /v1/models`: the model names a caller may use, in config order, each once.
pub fn models_list<'a>(names: impl Iterator<Item = &'a str>) -> Bytes {
    let mut seen = std::collections::HashSet::new();
    let data: Vec<_> = names
        .filter(|n| seen.insert(*n))
        .map(|n| json!({"id": n, "object": "model", "created": 1677610602, "owned_by": "openai"}))
        .collect();
    Bytes::from(json!({"data": data, "object": "list"}).to_string())
}

/// Unix milliseconds as RFC 3339 UTC.
fn rfc3339(unix_ms: u64) -> String {
    chrono::DateTime::from_timestamp_millis(unix_ms.min(i64::MAX as u64) as i64)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// `GET /health`: every deployment as healthy or not, by the background health checks and
/// cooldowns, in LiteLLM's shape. No secrets: provider keys and headers are never listed.
pub fn health(models: &ModelTable, only: Option<&str>) -> Bytes {
    let now = std::time::Instant::now();
    let mut healthy = Vec::new();
    let mut unhealthy = Vec::new();
    for (group, d) in models.deployments() {
        if only.is_some_and(|m| m != &**group) {
            continue;
        }
        let mut entry = json!({
            "model": format!("{}/{}", d.provider.name, d.model),
            "model_name": &**group,
            "model_id": d.id,
            "api_base": d.api_base,
        });
        if let Some((at_ms, took)) = d.state.last_check() {
            entry["last_checked_at"] = json!(rfc3339(at_ms));
            entry["health_check_latency_ms"] = json!(took.as_secs_f64() * 1000.0);
        }
        let cooling = d.state.cooldown_left(now);
        if d.state.is_healthy() && cooling.is_none() {
            healthy.push(entry);
        } else {
            let error = match (d.state.health_error(), cooling) {
                (Some(e), _) => e.to_string(),
                (None, Some(left)) => {
                    format!("cooling down for {:.1} more seconds", left.as_secs_f64())
                }
                (None, None) => "unhealthy".to_string(),
            };
            entry["error"] = json!(error);
            unhealthy.push(entry);
        }
    }
    for l in models.left_out() {
        if only.is_some_and(|m| m != l.model_name) {
            continue;
        }
        unhealthy.push(json!({
            "model": l.model,
            "model_name": l.model_name,
            "model_id": l.id,
            "error": format!("left out of its group by the config: {}", l.reason),
        }));
    }
    Bytes::from(
        json!({
            "healthy_count": healthy.len(),
            "unhealthy_count": unhealthy.len(),
            "healthy_endpoints": healthy,
            "unhealthy_endpoints": unhealthy,
        })
        .to_string(),
    )
}
