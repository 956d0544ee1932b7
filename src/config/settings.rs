//! The settings sections: `general_settings`, `litellm_settings`, `router_settings`.
//!
//! LiteLLM has hundreds of settings. The ones Tollgate acts on are read and checked; the others
//! are kept out with a warning, so a real LiteLLM file loads and its owner sees what is ignored.

use super::redis::RedisSettings;
use super::reliability::Reliability;
use super::yaml::{for_each_entry, Diagnostics, EnvSource, Node};
use crate::secret::Secret;
use std::collections::HashMap;

#[derive(Debug, Clone)]
pub struct GeneralSettings {
    pub master_key: Option<Secret>,
    pub database_url: Option<Secret>,
    /// Request bodies above this are refused with 413.
    pub max_request_size_mb: f64,
    /// Provider answers above this are refused with 502 instead of being passed on.
    pub max_response_size_mb: Option<f64>,
    pub background_health_checks: bool,
    /// Seconds between active health checks.
    pub health_check_interval: f64,
    /// Tollgate's own: seconds a write to a client may block before the call is abandoned (a
    /// client that stops reading must not pin an upstream connection).
    pub client_write_timeout: f64,
    /// Tollgate's own: seconds to receive a whole request body.
    pub request_body_timeout: f64,
    /// Tollgate's own: whether `/anthropic/*`, `/gemini/*`, `/openai/*` forward with the
    /// gateway's provider credentials.
    pub provider_passthrough: bool,
    /// LiteLLM's switch for the request-body test params (`mock_testing_fallbacks`, ...) from
    /// callers other than the master key.
    pub allow_mock_testing_params: bool,
    pub store: StoreSettings,
    /// `max_parallel_requests` / `global_max_parallel_requests`: calls in flight through the
    /// whole gateway (the smaller when both are set).
    pub max_parallel_requests: Option<u64>,
    /// `require_auth_for_metrics_endpoint` given here (older LiteLLM docs put it here; the
    /// `litellm_settings` one wins when both are set).
    pub require_auth_for_metrics: Option<bool>,
    /// `store_model_in_db` (or `STORE_MODEL_IN_DB=True`): the model API may add models, kept
    /// in the store and served beside `model_list`.
    pub store_model_in_db: bool,
}

/// Where keys and spend live, and how spend reaches the store.
#[derive(Debug, Clone)]
pub struct StoreSettings {
    /// Tollgate's own: the embedded store's file (`TOLLGATE_DB_PATH` overrides).
    pub database_path: Option<String>,
    pub pool_limit: usize,
    /// Keep totals, write no spend-log rows.
    pub disable_spend_logs: bool,
    pub store_prompts_in_spend_logs: bool,
    /// Serve keys already known when the store cannot be reached at start.
    pub allow_requests_on_db_unavailable: bool,
    /// Tollgate's own: spend rows held in memory while the store is down; beyond, rows are
    /// dropped with a log line.
    pub spend_queue_max_rows: usize,
}

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings {
            database_path: None,
            // LiteLLM's default pool size.
            pool_limit: 10,
            disable_spend_logs: false,
            store_prompts_in_spend_logs: false,
            allow_requests_on_db_unavailable: false,
            spend_queue_max_rows: 1_000_000,
        }
    }
}

impl Default for GeneralSettings {
    fn default() -> Self {
        GeneralSettings {
            master_key: None,
            database_url: None,
            // LiteLLM sets no limit; an edge gateway needs one. Large enough for long contexts
            // with inline images.
            max_request_size_mb: 100.0,
            max_response_size_mb: None,
            background_health_checks: false,
            // LiteLLM's default.
            health_check_interval: 300.0,
            client_write_timeout: 60.0,
            request_body_timeout: 60.0,
            provider_passthrough: true,
            allow_mock_testing_params: false,
            store: StoreSettings::default(),
            max_parallel_requests: None,
            require_auth_for_metrics: None,
            store_model_in_db: false,
        }
    }
}

#[derive(Debug, Clone)]
pub struct LitellmSettings {
    pub drop_params: bool,
    /// Seconds; the default deadline of a call when a deployment sets none.
    pub request_timeout: Option<f64>,
    pub reliability: Reliability,
    /// The status of a `budget_exceeded` refusal (LiteLLM's current default, 422).
    pub budget_exceeded_status_code: u16,
    /// `cache` and `cache_params`: the response cache.
    pub cache: super::cache::CacheSettings,
    pub metrics: MetricsSettings,
    /// `otel` among the callbacks: OpenTelemetry traces over OTLP.
    pub traces: super::traces::TraceSettings,
    /// `json_logs`: every log line a JSON object (also `JSON_LOGS=1`); read once at start.
    pub json_logs: bool,
}

/// The Prometheus exporter, as LiteLLM's `prometheus` callback configures it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetricsSettings {
    /// `"prometheus"` in `callbacks`, `success_callback` or `failure_callback`.
    pub enabled: bool,
    /// `require_auth_for_metrics_endpoint`; unset is LiteLLM's default, true.
    pub require_auth: Option<bool>,
    /// `enable_end_user_cost_tracking_prometheus_only`: the `end_user` label is filled.
    pub end_user_labels: bool,
}

impl Default for LitellmSettings {
    fn default() -> Self {
        LitellmSettings {
            drop_params: false,
            request_timeout: None,
            reliability: Reliability::default(),
            budget_exceeded_status_code: 422,
            cache: Default::default(),
            metrics: MetricsSettings::default(),
            traces: Default::default(),
            json_logs: false,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct RouterSettings {
    pub routing_strategy: Option<String>,
    /// `routing_strategy_args.lowest_latency_buffer`
    pub lowest_latency_buffer: f64,
    pub timeout: Option<f64>,
    pub stream_timeout: Option<f64>,
    pub enable_pre_call_checks: bool,
    /// `model_group_alias`: extra names for groups (`{"gpt-4": "gpt-4o"}`).
    pub model_group_alias: HashMap<String, String>,
    pub reliability: Reliability,
    /// The Redis several nodes share (limits, cooldowns, cache).
    pub redis: RedisSettings,
}

/// Settings LiteLLM has that Tollgate accepts and (for now) does not act on: no warning each.
const QUIET_GENERAL: &[&str] = &[
    "alerting",
    "alerting_threshold",
    "proxy_batch_write_at",
    "database_connection_timeout",
    "disable_master_key_return",
];

pub fn read_general(node: Node, env: &EnvSource, diag: &mut Diagnostics) -> GeneralSettings {
    let mut s = GeneralSettings::default();
    let Some(map) = node.mapping(diag) else {
        return s;
    };
    for_each_entry(map, node.path(), diag, |key, v, diag| match key {
        "master_key" => s.master_key = v.string(env, diag).map(Secret::new),
        "database_url" => s.database_url = v.string(env, diag).map(Secret::new),
        "max_request_size_mb" => {
            if let Some(mb) = v.number(env, diag) {
                if mb > 0.0 {
                    s.max_request_size_mb = mb;
                } else {
                    diag.error(v.path(), "must be greater than 0");
                }
            }
        }
        "max_response_size_mb" => s.max_response_size_mb = positive(v, env, diag),
        "client_write_timeout" => {
            if let Some(secs) = positive(v, env, diag) {
                s.client_write_timeout = secs;
            }
        }
        "request_body_timeout" => {
            if let Some(secs) = positive(v, env, diag) {
                s.request_body_timeout = secs;
            }
        }
        "provider_passthrough" => s.provider_passthrough = v.boolean(env, diag).unwrap_or(true),
        "dangerously_allow_mock_testing_request_params" => {
            s.allow_mock_testing_params = v.boolean(env, diag).unwrap_or(false)
        }
        "background_health_checks" => {
            s.background_health_checks = v.boolean(env, diag).unwrap_or(false)
        }
        "health_check_interval" => {
            if let Some(secs) = positive(v, env, diag) {
                s.health_check_interval = secs;
            }
        }
        "database_path" => s.store.database_path = v.string(env, diag),
        "database_connection_pool_limit" => {
            if let Some(n) = v.count(env, diag) {
                s.store.pool_limit = (n as usize).clamp(1, 1000);
            }
        }
        "disable_spend_logs" => s.store.disable_spend_logs = v.boolean(env, diag).unwrap_or(false),
        "store_prompts_in_spend_logs" => {
            s.store.store_prompts_in_spend_logs = v.boolean(env, diag).unwrap_or(false)
        }
        "allow_requests_on_db_unavailable" => {
            s.store.allow_requests_on_db_unavailable = v.boolean(env, diag).unwrap_or(false)
        }
        "spend_queue_max_rows" => {
            if let Some(n) = v.count(env, diag) {
                s.store.spend_queue_max_rows = n.max(1) as usize;
            }
        }
        "max_parallel_requests" | "global_max_parallel_requests" => {
            if let Some(n) = v.count(env, diag) {
                s.max_parallel_requests = Some(s.max_parallel_requests.map_or(n, |m| m.min(n)));
            }
        }
        "require_auth_for_metrics_endpoint" => s.require_auth_for_metrics = v.boolean(env, diag),
        "store_model_in_db" => s.store_model_in_db = v.boolean(env, diag).unwrap_or(false),
        k if QUIET_GENERAL.contains(&k) => {}
        _ => diag.warn(v.path(), "not supported by Tollgate; ignored"),
    });
    if s.master_key
        .as_ref()
        .map(Secret::expose)
        .is_some_and(|k| !k.starts_with("sk-"))
    {
        diag.warn(
            &format!("{}.master_key", node.path()),
            "LiteLLM requires master keys to start with \"sk-\"",
        );
    }
    s
}

pub fn read_litellm(node: Node, env: &EnvSource, diag: &mut Diagnostics) -> LitellmSettings {
    let mut s = LitellmSettings::default();
    let Some(map) = node.mapping(diag) else {
        return s;
    };
    for_each_entry(map, node.path(), diag, |key, v, diag| match key {
        "drop_params" => s.drop_params = v.boolean(env, diag).unwrap_or(false),
        "request_timeout" => s.request_timeout = positive(v, env, diag),
        "budget_exceeded_status_code" => match v.count(env, diag) {
            Some(code @ 400..=599) => s.budget_exceeded_status_code = code as u16,
            Some(code) => diag.error(
                v.path(),
                format!("must be an HTTP error status, found {code}"),
            ),
            None => {}
        },
        k if s.reliability.read_key(k, v, env, diag) => {}
        k if s.cache.read_key(k, v, env, diag) => {}
        // Callbacks name integrations (langfuse, ...) Tollgate may not have; a LiteLLM config
        // carrying them must still load. `prometheus` is the exporter on `/metrics`, `otel`
        // the OpenTelemetry traces.
        "callbacks" | "success_callback" | "failure_callback" | "service_callback" => {
            for name in v.strings(env, diag) {
                if name == "prometheus" && key != "service_callback" {
                    s.metrics.enabled = true;
                } else if name == "otel" && key != "service_callback" {
                    s.traces.enabled = true;
                } else {
                    diag.warn(
                        v.path(),
                        format!("callback {name:?} is not supported; ignored"),
                    );
                }
            }
        }
        "require_auth_for_metrics_endpoint" => s.metrics.require_auth = v.boolean(env, diag),
        "enable_end_user_cost_tracking_prometheus_only" => {
            s.metrics.end_user_labels = v.boolean(env, diag).unwrap_or(false)
        }
        "json_logs" => s.json_logs = v.boolean(env, diag).unwrap_or(false),
        "set_verbose" | "telemetry" => {}
        _ => diag.warn(v.path(), "not supported by Tollgate; ignored"),
    });
    s.cache.settle(node.path(), env, diag);
    s.traces.read_env(env, diag, node.path());
    s
}

pub fn read_router(node: Node, env: &EnvSource, diag: &mut Diagnostics) -> RouterSettings {
    let mut s = RouterSettings::default();
    let Some(map) = node.mapping(diag) else {
        return s;
    };
    for_each_entry(map, node.path(), diag, |key, v, diag| match key {
        "routing_strategy" => {
            s.routing_strategy = v.string(env, diag);
            if let Some(name) = s.routing_strategy.as_deref() {
                if !ROUTING_STRATEGIES.contains(&name) {
                    diag.error(
                        v.path(),
                        format!("unknown routing strategy {name:?}; one of {ROUTING_STRATEGIES:?}"),
                    );
                }
            }
        }
        "timeout" => s.timeout = positive(v, env, diag),
        "stream_timeout" => s.stream_timeout = positive(v, env, diag),
        "enable_pre_call_checks" => {
            s.enable_pre_call_checks = v.boolean(env, diag).unwrap_or(false)
        }
        "routing_strategy_args" => {
            if let Some(m) = v.mapping(diag) {
                for_each_entry(m, v.path(), diag, |k, arg, diag| match k {
                    "lowest_latency_buffer" => {
                        s.lowest_latency_buffer = arg.number(env, diag).unwrap_or(0.0)
                    }
                    _ => diag.warn(arg.path(), "not supported by Tollgate; ignored"),
                });
            }
        }
        "model_group_alias" => s.model_group_alias = read_group_aliases(v, env, diag),
        k if s.reliability.read_key(k, v, env, diag) => {}
        k if s.redis.read_router_key(k, v, env, diag) => {}
        "cache_responses" => {}
        _ => diag.warn(v.path(), "not supported by Tollgate yet; ignored"),
    });
    s
}

/// `{"alias": "group"}` or `{"alias": {"model": "group", "hidden": true}}`.
fn read_group_aliases(v: Node, env: &EnvSource, diag: &mut Diagnostics) -> HashMap<String, String> {
    let mut out = HashMap::new();
    if let Some(m) = v.mapping(diag) {
        for_each_entry(m, v.path(), diag, |alias, target, diag| {
            let group = match target.value {
                serde_yaml::Value::Mapping(tm) => {
                    tm.get("model").and_then(|g| g.as_str()).map(str::to_string)
                }
                _ => target.string(env, diag),
            };
            match group {
                Some(g) => {
                    out.insert(alias.to_string(), g);
                }
                None => diag.error(target.path(), "expected a model group name"),
            }
        });
    }
    out
}

pub const ROUTING_STRATEGIES: &[&str] = &[
    "simple-shuffle",
    "least-busy",
    "latency-based-routing",
    "usage-based-routing",
    "usage-based-routing-v2",
    "cost-based-routing",
];

/// A number of seconds, zero allowed (LiteLLM's default for `retry_after` is 0).
pub fn non_negative(v: Node, env: &EnvSource, diag: &mut Diagnostics) -> Option<f64> {
    let n = v.number(env, diag)?;
    if n.is_nan() || n < 0.0 {
        diag.error(v.path(), format!("must be 0 or more, found {n}"));
        return None;
    }
    Some(n)
}

/// A strictly positive number of seconds.
pub fn positive(v: Node, env: &EnvSource, diag: &mut Diagnostics) -> Option<f64> {
    let n = v.number(env, diag)?;
    if n <= 0.0 {
        diag.error(v.path(), format!("must be greater than 0, found {n}"));
        return None;
    }
    Some(n)
}
