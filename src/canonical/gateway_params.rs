//! Parameters a LiteLLM client sends to the gateway itself, not to the model. They are read and
//! stripped in one place, when the body is parsed: no provider ever sees them, and everything
//! after the parse reads them from here.

use crate::error::GatewayError;
use serde::de::DeserializeOwned;
use serde_json::Value;

#[derive(Debug, Clone, Default)]
pub struct GatewayParams {
    /// `fallbacks`: model groups to try when this one fails (names, or `{"model": name}`).
    pub fallbacks: Option<Vec<String>>,
    pub context_window_fallbacks: Option<Vec<String>>,
    pub content_policy_fallbacks: Option<Vec<String>>,
    pub num_retries: Option<u64>,
    pub drop_params: Option<bool>,
    pub mock_response: Option<Value>,
    /// Seconds for this call (LiteLLM's per-request `timeout`).
    pub timeout: Option<f64>,
    pub metadata: Option<Value>,
    pub tags: Option<Vec<String>>,
    /// `cache` / `caching` controls (`no-cache`, `no-store`, `ttl`, ...).
    pub cache: Option<Value>,
    pub mock_testing_fallbacks: Option<bool>,
    pub mock_testing_rate_limit_error: Option<bool>,
    pub mock_timeout: Option<bool>,
    /// Client-side credentials (`api_key`, `api_base`): stripped, never used to reach a
    /// provider on the gateway's behalf.
    pub client_credentials: bool,
}

/// Every key that is the gateway's, not the model's. `metadata` is the model's in Anthropic's
/// format (`metadata.user_id`), so that format keeps it.
const KEYS: &[&str] = &[
    "fallbacks",
    "context_window_fallbacks",
    "content_policy_fallbacks",
    "num_retries",
    "max_retries",
    "drop_params",
    "additional_drop_params",
    "mock_response",
    "mock_testing_fallbacks",
    "mock_testing_rate_limit_error",
    "mock_testing_context_window_error",
    "mock_testing_content_policy_error",
    "mock_timeout",
    "timeout",
    "stream_timeout",
    "metadata",
    "litellm_metadata",
    "tags",
    "cache",
    "caching",
    "user_config",
    "api_key",
    "api_base",
    "api_version",
    "base_url",
    "proxy_server_request",
    "guardrails",
    "litellm_trace_id",
    "litellm_session_id",
    "litellm_call_id",
    "no-log",
    "input_cost_per_token",
    "output_cost_per_token",
];

/// Whether `key` is the gateway's in a body of this format.
pub fn is_gateway_param(key: &str, anthropic: bool) -> bool {
    !(anthropic && key == "metadata") && KEYS.contains(&key)
}

impl GatewayParams {
    /// Reads one gateway key's raw JSON value; a mistyped value is a 400 naming it.
    pub fn read(&mut self, key: &str, raw: &[u8]) -> Result<(), GatewayError> {
        if raw == b"null" {
            return Ok(());
        }
        match key {
            "fallbacks" => self.fallbacks = Some(group_names(key, raw)?),
            "context_window_fallbacks" => {
                self.context_window_fallbacks = Some(group_names(key, raw)?)
            }
            "content_policy_fallbacks" => {
                self.content_policy_fallbacks = Some(group_names(key, raw)?)
            }
            "num_retries" => self.num_retries = Some(typed(key, raw, "a non-negative integer")?),
            "drop_params" => self.drop_params = Some(typed(key, raw, "a boolean")?),
            "mock_response" => self.mock_response = Some(typed(key, raw, "a JSON value")?),
            "timeout" => {
                let secs: f64 = typed(key, raw, "a number of seconds")?;
                if !(secs.is_finite() && secs > 0.0) {
                    return Err(mistyped(key, "a positive number of seconds"));
                }
                self.timeout = Some(secs);
            }
            "metadata" | "litellm_metadata" => self.metadata = Some(typed(key, raw, "an object")?),
            "tags" => self.tags = Some(typed(key, raw, "a list of strings")?),
            "cache" | "caching" => self.cache = Some(typed(key, raw, "a JSON value")?),
            "mock_testing_fallbacks" => {
                self.mock_testing_fallbacks = Some(typed(key, raw, "a boolean")?)
            }
            "mock_testing_rate_limit_error" => {
                self.mock_testing_rate_limit_error = Some(typed(key, raw, "a boolean")?)
            }
            "mock_timeout" => self.mock_timeout = Some(typed(key, raw, "a boolean")?),
            "api_key" | "api_base" | "base_url" => self.client_credentials = true,
            // Known, stripped, not acted on.
            _ => {}
        }
        Ok(())
    }
}

fn typed<T: DeserializeOwned>(key: &str, raw: &[u8], what: &str) -> Result<T, GatewayError> {
    serde_json::from_slice(raw).map_err(|_| mistyped(key, what))
}

fn mistyped(key: &str, what: &str) -> GatewayError {
    GatewayError::bad_request(format!("{key} must be {what}")).with_param(key)
}

/// A fallback list: group names, or objects naming one in `model` (LiteLLM takes both).
fn group_names(key: &str, raw: &[u8]) -> Result<Vec<String>, GatewayError> {
    let items: Vec<Value> = typed(key, raw, "a list of model names")?;
    items
        .into_iter()
        .map(|item| match item {
            Value::String(s) => Ok(s),
            Value::Object(mut o) => match o.remove("model") {
                Some(Value::String(s)) => Ok(s),
                _ => Err(mistyped(key, "a list of model names")),
            },
            _ => Err(mistyped(key, "a list of model names")),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_checks_types() {
        let mut p = GatewayParams::default();
        p.read("fallbacks", br#"["a",{"model":"b"}]"#).unwrap();
        p.read("num_retries", b"3").unwrap();
        p.read("api_key", br#""sk-x""#).unwrap();
        assert_eq!(
            p.fallbacks.as_deref(),
            Some(&["a".to_string(), "b".to_string()][..])
        );
        assert_eq!(p.num_retries, Some(3));
        assert!(p.client_credentials);
        let e = p.read("num_retries", b"-1").unwrap_err();
        assert_eq!(e.param.as_deref(), Some("num_retries"));
        assert!(p.read("timeout", b"0").is_err());
        assert!(p.read("fallbacks", b"[1]").is_err());
    }

    #[test]
    fn metadata_belongs_to_anthropic_bodies() {
        assert!(is_gateway_param("metadata", false));
        assert!(!is_gateway_param("metadata", true));
        assert!(is_gateway_param("fallbacks", true));
        assert!(!is_gateway_param("temperature", false));
    }
}
