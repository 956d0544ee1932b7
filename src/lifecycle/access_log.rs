//! One JSON line per request on the `tollgate::access` log target (info level): who called
//! (the key's hash and alias, team, user, end user — never the key), what was asked, where it
//! went, how it ended, the tokens the provider counted and what they cost. Never prompt text,
//! never a secret: the path is logged without its query (Gemini clients put keys there).

use super::{CallSummary, UsageSource};
use crate::auth::keys::KeyCaller;
use crate::router::Deployment;
use serde_json::{json, Value};
use std::sync::Arc;

pub const TARGET: &str = "tollgate::access";

/// Longest path kept in a line: a scanner's kilobyte of path is not worth a log line.
const MAX_PATH_CHARS: usize = 256;

/// What one request's line says; the request path fills it once the request is over.
pub struct AccessLine<'a> {
    /// The client's `x-request-id` when it sent one, else the call id.
    pub request_id: &'a str,
    pub call_id: &'a str,
    pub method: &'a str,
    /// Without the query.
    pub path: &'a str,
    pub key: Option<&'a KeyCaller>,
    pub end_user: Option<&'a str>,
    /// The model the client asked for, and the group that answered.
    pub requested_model: Option<&'a str>,
    pub model_group: Option<&'a str>,
    pub deployment: Option<&'a Arc<Deployment>>,
    pub summary: &'a CallSummary,
    pub cache_hit: bool,
}

pub fn enabled() -> bool {
    log::log_enabled!(target: TARGET, log::Level::Info)
}

pub fn write(line: &AccessLine<'_>) {
    if !enabled() {
        return;
    }
    log::info!(target: TARGET, "{}", to_json(line));
}

pub fn to_json(line: &AccessLine<'_>) -> Value {
    let s = line.summary;
    let key = line.key;
    let field = |name: &str| key.and_then(|k| k.key.str_field(name));
    let d = line.deployment;
    let cost = match (d, &s.usage) {
        _ if line.cache_hit => Some(0.0),
        (Some(d), Some(u)) => Some(d.price.cost(u)),
        _ => None,
    };
    let usage = s.usage.unwrap_or_default();
    let counted = s.usage_source != UsageSource::None;
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    let path: String = line.path.chars().take(MAX_PATH_CHARS).collect();
    json!({
        "timestamp": timestamp(),
        "level": "INFO",
        "logger": TARGET,
        "request_id": line.request_id,
        "call_id": line.call_id,
        "method": line.method,
        "route": path,
        "status": s.status,
        "hashed_api_key": key.map(|k| k.token.as_str()),
        "api_key_alias": field("key_alias"),
        "team_id": field("team_id"),
        "team_alias": field("team_alias"),
        "user_id": field("user_id"),
        "end_user": line.end_user,
        "requested_model": line.requested_model.or(line.model_group),
        "model_group": line.model_group,
        "model_id": d.map(|d| d.id.as_str()),
        "model": d.map(|d| d.model.as_str()),
        "api_provider": d.map(|d| d.provider.name),
        "committed": s.committed,
        "client_gone": s.client_gone,
        "attempts": s.attempts,
        "retries": s.retries,
        "fallbacks": s.fallbacks,
        "cache_hit": line.cache_hit,
        "prompt_tokens": counted.then_some(usage.prompt_tokens),
        "completion_tokens": counted.then_some(usage.completion_tokens),
        "total_tokens": counted.then_some(usage.total_tokens),
        "cached_prompt_tokens": counted.then_some(usage.cached_prompt_tokens),
        "usage_source": s.usage_source.as_str(),
        "response_cost": cost,
        "ttft_ms": s.time_to_first_byte.map(ms),
        "duration_ms": ms(s.duration),
        "provider_latency_ms": ms(s.upstream_time),
        "error_type": s.error.as_ref().map(|e| e.0),
        "error": s.error.as_ref().map(|e| e.1.as_str()),
    })
}

/// UTC, RFC 3339 with milliseconds: what log shippers parse without a pattern.
pub fn timestamp() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The line of a request no key made and no deployment answered.
    fn anonymous_line(request_id: &str, method: &str, path: &str, summary: &CallSummary) -> Value {
        to_json(&AccessLine {
            request_id,
            call_id: "c1",
            method,
            path,
            key: None,
            end_user: None,
            requested_model: None,
            model_group: None,
            deployment: None,
            summary,
            cache_hit: false,
        })
    }

    #[test]
    fn a_refused_request_has_no_usage_and_no_key_fields() {
        let summary = CallSummary {
            status: 401,
            error: Some(("auth_error", "Authentication Error".into())),
            ..CallSummary::default()
        };
        let line = anonymous_line("req-1", "POST", "/v1/chat/completions", &summary);
        assert_eq!(line["request_id"], "req-1");
        assert_eq!(line["status"], 401);
        assert_eq!(line["prompt_tokens"], Value::Null);
        assert_eq!(line["hashed_api_key"], Value::Null);
        assert_eq!(line["error_type"], "auth_error");
        assert_eq!(line["logger"], TARGET);
        let text = line.to_string();
        assert!(serde_json::from_str::<Value>(&text).is_ok());
    }

    #[test]
    fn long_paths_are_cut() {
        let path = "/x".repeat(1000);
        let line = anonymous_line("r", "GET", &path, &CallSummary::default());
        assert_eq!(line["route"].as_str().map(str::len), Some(MAX_PATH_CHARS));
    }
}
