//! LiteLLM's Prometheus metric names and, per metric, its label names in LiteLLM's order
//! (`litellm/types/integrations/prometheus.py`, `PrometheusMetricLabels`, with the `org_id` /
//! `org_alias` it appends to some): dashboards and alerts written for LiteLLM match these
//! series unchanged. Counter names carry the `_total` LiteLLM's Python client appends.

/// LiteLLM's `LATENCY_BUCKETS` (seconds; `+Inf` is implied).
pub const LATENCY_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 420.0,
    600.0,
];

pub const PROXY_TOTAL_REQUESTS: &str = "litellm_proxy_total_requests_metric_total";
pub const PROXY_TOTAL_REQUESTS_LABELS: [&str; 16] = [
    "end_user",
    "hashed_api_key",
    "api_key_alias",
    "requested_model",
    "team",
    "team_alias",
    "user",
    "status_code",
    "user_email",
    "route",
    "client_ip",
    "user_agent",
    "model_id",
    "api_provider",
    "org_id",
    "org_alias",
];

pub const PROXY_FAILED_REQUESTS: &str = "litellm_proxy_failed_requests_metric_total";
pub const PROXY_FAILED_REQUESTS_LABELS: [&str; 17] = [
    "end_user",
    "hashed_api_key",
    "api_key_alias",
    "requested_model",
    "team",
    "team_alias",
    "user",
    "user_email",
    "exception_status",
    "exception_class",
    "route",
    "client_ip",
    "user_agent",
    "model_id",
    "api_provider",
    "org_id",
    "org_alias",
];

pub const REQUESTS: &str = "litellm_requests_metric_total";
pub const REQUESTS_LABELS: [&str; 15] = [
    "end_user",
    "hashed_api_key",
    "api_key_alias",
    "model",
    "team",
    "team_alias",
    "user",
    "user_email",
    "client_ip",
    "user_agent",
    "requested_model",
    "model_id",
    "api_provider",
    "org_id",
    "org_alias",
];

pub const SPEND: &str = "litellm_spend_metric_total";
pub const SPEND_LABELS: [&str; 16] = [
    "end_user",
    "hashed_api_key",
    "api_key_alias",
    "model",
    "team",
    "team_alias",
    "user",
    "user_email",
    "client_ip",
    "user_agent",
    "requested_model",
    "model_id",
    "api_provider",
    "service_tier",
    "org_id",
    "org_alias",
];

pub const INPUT_TOKENS: &str = "litellm_input_tokens_metric_total";
pub const OUTPUT_TOKENS: &str = "litellm_output_tokens_metric_total";
pub const TOTAL_TOKENS: &str = "litellm_total_tokens_metric_total";
/// The label set of the three token counters.
pub const TOKENS_LABELS: [&str; 13] = [
    "end_user",
    "hashed_api_key",
    "api_key_alias",
    "model",
    "team",
    "team_alias",
    "user",
    "user_email",
    "requested_model",
    "model_id",
    "api_provider",
    "org_id",
    "org_alias",
];

pub const DEPLOYMENT_TOTAL_REQUESTS: &str = "litellm_deployment_total_requests_total";
pub const DEPLOYMENT_SUCCESS_RESPONSES: &str = "litellm_deployment_success_responses_total";
/// The label set of the deployment request and success counters.
pub const DEPLOYMENT_REQUESTS_LABELS: [&str; 12] = [
    "model_group",
    "requested_model",
    "litellm_model_name",
    "model_id",
    "api_base",
    "api_provider",
    "hashed_api_key",
    "api_key_alias",
    "team",
    "team_alias",
    "client_ip",
    "user_agent",
];

pub const DEPLOYMENT_FAILURE_RESPONSES: &str = "litellm_deployment_failure_responses_total";
pub const DEPLOYMENT_FAILURE_LABELS: [&str; 14] = [
    "model_group",
    "requested_model",
    "litellm_model_name",
    "model_id",
    "api_base",
    "api_provider",
    "exception_status",
    "exception_class",
    "hashed_api_key",
    "api_key_alias",
    "team",
    "team_alias",
    "client_ip",
    "user_agent",
];

pub const DEPLOYMENT_SUCCESSFUL_FALLBACKS: &str = "litellm_deployment_successful_fallbacks_total";
pub const DEPLOYMENT_FAILED_FALLBACKS: &str = "litellm_deployment_failed_fallbacks_total";
pub const FALLBACKS_LABELS: [&str; 9] = [
    "requested_model",
    "fallback_model",
    "hashed_api_key",
    "api_key_alias",
    "team",
    "team_alias",
    "exception_status",
    "exception_class",
    "model_id",
];

pub const REQUEST_TOTAL_LATENCY: &str = "litellm_request_total_latency_metric";
pub const REQUEST_TOTAL_LATENCY_LABELS: [&str; 14] = [
    "model_group",
    "end_user",
    "hashed_api_key",
    "api_key_alias",
    "requested_model",
    "team",
    "team_alias",
    "user",
    "model",
    "model_id",
    "api_provider",
    "service_tier",
    "org_id",
    "org_alias",
];

pub const LLM_API_LATENCY: &str = "litellm_llm_api_latency_metric";
pub const LLM_API_TIME_TO_FIRST_TOKEN: &str = "litellm_llm_api_time_to_first_token_metric";
/// The label set of the provider latency and time-to-first-token histograms.
pub const LLM_API_LATENCY_LABELS: [&str; 14] = [
    "model_group",
    "model",
    "hashed_api_key",
    "api_key_alias",
    "team",
    "team_alias",
    "requested_model",
    "end_user",
    "user",
    "model_id",
    "api_provider",
    "service_tier",
    "org_id",
    "org_alias",
];

pub const OVERHEAD_LATENCY: &str = "litellm_overhead_latency_metric";
pub const OVERHEAD_LATENCY_LABELS: [&str; 7] = [
    "model_group",
    "api_provider",
    "api_base",
    "litellm_model_name",
    "hashed_api_key",
    "api_key_alias",
    "model_id",
];

pub const REMAINING_REQUESTS: &str = "litellm_remaining_requests_metric";
pub const REMAINING_TOKENS: &str = "litellm_remaining_tokens_metric";
/// LiteLLM gives the remaining-requests/tokens gauges the overhead histogram's label set.
pub const REMAINING_LIMITS_LABELS: [&str; 7] = OVERHEAD_LATENCY_LABELS;

pub const DEPLOYMENT_STATE: &str = "litellm_deployment_state";
pub const DEPLOYMENT_STATE_LABELS: [&str; 4] =
    ["litellm_model_name", "model_id", "api_base", "api_provider"];

pub const REMAINING_TEAM_BUDGET: &str = "litellm_remaining_team_budget_metric";
pub const REMAINING_TEAM_BUDGET_LABELS: [&str; 2] = ["team", "team_alias"];

pub const REMAINING_API_KEY_BUDGET: &str = "litellm_remaining_api_key_budget_metric";
pub const REMAINING_API_KEY_BUDGET_LABELS: [&str; 2] = ["hashed_api_key", "api_key_alias"];

/// The `max_budget` gauges carry their remaining-budget twin's labels, as in LiteLLM.
pub const TEAM_MAX_BUDGET: &str = "litellm_team_max_budget_metric";
pub const API_KEY_MAX_BUDGET: &str = "litellm_api_key_max_budget_metric";
pub const REMAINING_USER_BUDGET: &str = "litellm_remaining_user_budget_metric";
pub const USER_MAX_BUDGET: &str = "litellm_user_max_budget_metric";
pub const USER_BUDGET_LABELS: [&str; 1] = ["user"];

/// A deployment the router took out for a cooldown, labelled with the failure's status.
pub const DEPLOYMENT_COOLED_DOWN: &str = "litellm_deployment_cooled_down_total";
pub const DEPLOYMENT_COOLED_DOWN_LABELS: [&str; 5] = [
    "litellm_model_name",
    "model_id",
    "api_base",
    "api_provider",
    "exception_status",
];

/// LiteLLM's `litellm_deployment_state` values.
pub const STATE_HEALTHY: f64 = 0.0;
pub const STATE_PARTIAL_OUTAGE: f64 = 1.0;
pub const STATE_COMPLETE_OUTAGE: f64 = 2.0;
