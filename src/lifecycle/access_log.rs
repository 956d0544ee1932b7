//! One JSON line per finished call on the `tollgate::access` log target (info level): what was
//! asked, where it went, how it ended, and the tokens it used as the provider counted them.

use super::{CallEvent, CallInfo, CallObserver};
use serde_json::json;

pub struct AccessLog;

pub const TARGET: &str = "tollgate::access";

impl CallObserver for AccessLog {
    fn on_event(&self, call: &CallInfo<'_>, event: &CallEvent<'_>) {
        let CallEvent::Done {
            deployment,
            summary: s,
        } = event
        else {
            return;
        };
        if !log::log_enabled!(target: TARGET, log::Level::Info) {
            return;
        }
        let usage = s.usage.unwrap_or_default();
        let line = json!({
            "call_id": call.call_id,
            "status": s.status,
            "model_group": call.group,
            "model_id": deployment.map(|d| d.id.as_str()),
            "api_provider": deployment.map(|d| d.provider.name),
            "committed": s.committed,
            "client_gone": s.client_gone,
            "attempts": s.attempts,
            "retries": s.retries,
            "fallbacks": s.fallbacks,
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "total_tokens": usage.total_tokens,
            "cached_prompt_tokens": usage.cached_prompt_tokens,
            "usage_source": s.usage_source.as_str(),
            "ttft_ms": s.time_to_first_byte.map(|d| d.as_secs_f64() * 1000.0),
            "duration_ms": s.duration.as_secs_f64() * 1000.0,
            "error_type": s.error.as_ref().map(|e| e.0),
            "error": s.error.as_ref().map(|e| e.1.as_str()),
        });
        log::info!(target: TARGET, "{line}");
    }
}
