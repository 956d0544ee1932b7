//! Bodies of the gateway's own endpoints (`/v1/models`, health), as LiteLLM shapes them.

pub mod probes;

use crate::router::ModelTable;
use bytes::Bytes;
use serde_json::json;

/// `GET /v1/models`: the aliases a caller may use, in config order.
/// The models this caller may use (`allowed` filters for virtual keys).
pub fn models_list(models: &ModelTable, allowed: impl Fn(&str) -> bool) -> Bytes {
    let data: Vec<_> = models
        .aliases()
        .iter()
        .filter(|a| allowed(a))
        .map(
            |a| json!({"id": &**a, "object": "model", "created": 1677610602, "owned_by": "openai"}),
        )
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
pub fn health(models: &ModelTable) -> Bytes {
    let now = std::time::Instant::now();
    let mut healthy = Vec::new();
    let mut unhealthy = Vec::new();
    for (group, d) in models.deployments() {
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
