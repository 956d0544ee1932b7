//! The gateway's Prometheus registry (its own, not the process-wide default one, so tests and
//! embedders get a clean set): LiteLLM's metrics under LiteLLM's names and labels, and
//! Tollgate's own under `tollgate_`. Recording is atomic adds on series looked up by label
//! values; nothing here blocks a call.

use super::names as n;
use prometheus::core::Collector;
use prometheus::{
    CounterVec, Encoder, Gauge, GaugeVec, HistogramOpts, HistogramVec, IntCounter, IntCounterVec,
    IntGauge, Opts, Registry, TextEncoder,
};
use std::sync::atomic::{AtomicBool, Ordering};

pub struct Metrics {
    registry: Registry,
    /// `prometheus` is among the config's callbacks (follows reloads).
    enabled: AtomicBool,
    /// `enable_end_user_cost_tracking_prometheus_only`: else `end_user` stays empty.
    end_user_labels: AtomicBool,
    pub proxy_total_requests: CounterVec,
    pub proxy_failed_requests: CounterVec,
    pub requests: CounterVec,
    pub spend: CounterVec,
    pub input_tokens: CounterVec,
    pub output_tokens: CounterVec,
    pub total_tokens: CounterVec,
    pub deployment_total_requests: CounterVec,
    pub deployment_success_responses: CounterVec,
    pub deployment_failure_responses: CounterVec,
    pub successful_fallbacks: CounterVec,
    pub failed_fallbacks: CounterVec,
    pub request_total_latency: HistogramVec,
    pub llm_api_latency: HistogramVec,
    pub llm_api_time_to_first_token: HistogramVec,
    pub overhead_latency: HistogramVec,
    pub deployment_state: GaugeVec,
    pub remaining_team_budget: GaugeVec,
    pub remaining_api_key_budget: GaugeVec,
    pub remaining_user_budget: GaugeVec,
    pub team_max_budget: GaugeVec,
    pub api_key_max_budget: GaugeVec,
    pub user_max_budget: GaugeVec,
    pub deployment_cooled_down: CounterVec,
    pub remaining_requests: GaugeVec,
    pub remaining_tokens: GaugeVec,
    /// `result`: `ok` or `refused`.
    pub config_reloads: IntCounterVec,
    pub spend_queue_depth: IntGauge,
    pub spend_rows_dropped: IntCounter,
    pub store_flush_failures: IntCounter,
    pub spend_flush_lag: Gauge,
    pub spend_pending_rows: IntGauge,
    /// Requests being served on every route (the drain before exit waits for none).
    pub requests_open: IntGauge,
    pub redis_fallbacks: IntCounter,
    /// Spans the `otel` exporter dropped, exported, exports that failed, and whether the
    /// collector takes them (see `telemetry::otlp`).
    pub otel_spans_dropped: IntCounter,
    pub otel_spans_exported: IntCounter,
    pub otel_export_failures: IntCounter,
    pub otel_collector_up: IntGauge,
    pub streams_in_flight: IntGauge,
    pub calls_in_flight: IntGauge,
    /// Held by `/metrics` while it reads values kept elsewhere (never by a call).
    pub scrape_lock: std::sync::Mutex<()>,
}

/// Builds and registers one metric; a name or label set the crate refuses is a bug in the
/// tables above, found by the unit tests, so it panics at start-up, never on a call.
fn register<C: Collector + Clone + 'static>(
    registry: &Registry,
    c: Result<C, prometheus::Error>,
) -> C {
    // ok: metric definitions are constants, checked by the unit tests.
    let c = c.expect("metric definitions are constants"); // ok: see above

    registry
        .register(Box::new(c.clone()))
        .expect("each metric name is registered once"); // ok: names are unique constants
    c
}

impl Metrics {
    pub fn new() -> Metrics {
        let r = Registry::new();
        let counter = |name: &str, help: &str, labels: &[&str]| {
            register(&r, CounterVec::new(Opts::new(name, help), labels))
        };
        let histogram = |name: &str, help: &str, labels: &[&str]| {
            let opts = HistogramOpts::new(name, help).buckets(n::LATENCY_BUCKETS.to_vec());
            register(&r, HistogramVec::new(opts, labels))
        };
        let gauge = |name: &str, help: &str, labels: &[&str]| {
            register(&r, GaugeVec::new(Opts::new(name, help), labels))
        };
        let int_counter = |name: &str, help: &str| register(&r, IntCounter::new(name, help));
        let int_gauge = |name: &str, help: &str| register(&r, IntGauge::new(name, help));
        let metrics = Metrics {
            enabled: AtomicBool::new(false),
            end_user_labels: AtomicBool::new(false),
            proxy_total_requests: counter(
                n::PROXY_TOTAL_REQUESTS,
                "Total number of requests made to the proxy server",
                &n::PROXY_TOTAL_REQUESTS_LABELS,
            ),
            proxy_failed_requests: counter(
                n::PROXY_FAILED_REQUESTS,
                "Total number of failed responses from proxy",
                &n::PROXY_FAILED_REQUESTS_LABELS,
            ),
            requests: counter(
                n::REQUESTS,
                "Total number of LLM calls to litellm",
                &n::REQUESTS_LABELS,
            ),
            spend: counter(n::SPEND, "Total spend on LLM requests", &n::SPEND_LABELS),
            input_tokens: counter(
                n::INPUT_TOKENS,
                "Total number of input tokens from LLM requests",
                &n::TOKENS_LABELS,
            ),
            output_tokens: counter(
                n::OUTPUT_TOKENS,
                "Total number of output tokens from LLM requests",
                &n::TOKENS_LABELS,
            ),
            total_tokens: counter(
                n::TOTAL_TOKENS,
                "Total number of input + output tokens from LLM requests",
                &n::TOKENS_LABELS,
            ),
            deployment_total_requests: counter(
                n::DEPLOYMENT_TOTAL_REQUESTS,
                "LLM Deployment Analytics - Total number of LLM API calls via litellm",
                &n::DEPLOYMENT_REQUESTS_LABELS,
            ),
            deployment_success_responses: counter(
                n::DEPLOYMENT_SUCCESS_RESPONSES,
                "LLM Deployment Analytics - Total number of successful LLM API calls via litellm",
                &n::DEPLOYMENT_REQUESTS_LABELS,
            ),
            deployment_failure_responses: counter(
                n::DEPLOYMENT_FAILURE_RESPONSES,
                "LLM Deployment Analytics - Total number of failed LLM API calls",
                &n::DEPLOYMENT_FAILURE_LABELS,
            ),
            successful_fallbacks: counter(
                n::DEPLOYMENT_SUCCESSFUL_FALLBACKS,
                "LLM Deployment Analytics - Number of successful fallback requests",
                &n::FALLBACKS_LABELS,
            ),
            failed_fallbacks: counter(
                n::DEPLOYMENT_FAILED_FALLBACKS,
                "LLM Deployment Analytics - Number of failed fallback requests",
                &n::FALLBACKS_LABELS,
            ),
            request_total_latency: histogram(
                n::REQUEST_TOTAL_LATENCY,
                "Total latency (seconds) for a request to LiteLLM",
                &n::REQUEST_TOTAL_LATENCY_LABELS,
            ),
            llm_api_latency: histogram(
                n::LLM_API_LATENCY,
                "Total latency (seconds) for a models LLM API call",
                &n::LLM_API_LATENCY_LABELS,
            ),
            llm_api_time_to_first_token: histogram(
                n::LLM_API_TIME_TO_FIRST_TOKEN,
                "Time to first token for a models LLM API call",
                &n::LLM_API_LATENCY_LABELS,
            ),
            overhead_latency: histogram(
                n::OVERHEAD_LATENCY,
                "Latency overhead (seconds) added by LiteLLM processing",
                &n::OVERHEAD_LATENCY_LABELS,
            ),
            deployment_state: gauge(
                n::DEPLOYMENT_STATE,
                "LLM Deployment Analytics - The state of the deployment: 0 = healthy, 1 = partial outage, 2 = complete outage",
                &n::DEPLOYMENT_STATE_LABELS,
            ),
            remaining_team_budget: gauge(
                n::REMAINING_TEAM_BUDGET,
                "Remaining budget for team",
                &n::REMAINING_TEAM_BUDGET_LABELS,
            ),
            remaining_api_key_budget: gauge(
                n::REMAINING_API_KEY_BUDGET,
                "Remaining budget for api key",
                &n::REMAINING_API_KEY_BUDGET_LABELS,
            ),
            remaining_user_budget: gauge(
                n::REMAINING_USER_BUDGET,
                "Remaining budget for user",
                &n::USER_BUDGET_LABELS,
            ),
            team_max_budget: gauge(
                n::TEAM_MAX_BUDGET,
                "Maximum budget set for team",
                &n::REMAINING_TEAM_BUDGET_LABELS,
            ),
            api_key_max_budget: gauge(
                n::API_KEY_MAX_BUDGET,
                "Maximum budget set for api key",
                &n::REMAINING_API_KEY_BUDGET_LABELS,
            ),
            user_max_budget: gauge(
                n::USER_MAX_BUDGET,
                "Maximum budget set for user",
                &n::USER_BUDGET_LABELS,
            ),
            deployment_cooled_down: counter(
                n::DEPLOYMENT_COOLED_DOWN,
                "LLM Deployment Analytics - Number of times a deployment has been cooled down by LiteLLM load balancing logic. exception_status is the status of the exception that caused the deployment to be cooled down",
                &n::DEPLOYMENT_COOLED_DOWN_LABELS,
            ),
            remaining_requests: gauge(
                n::REMAINING_REQUESTS,
                "LLM Deployment Analytics - remaining requests for model, returned from LLM API Provider",
                &n::REMAINING_LIMITS_LABELS,
            ),
            remaining_tokens: gauge(
                n::REMAINING_TOKENS,
                "LLM Deployment Analytics - remaining tokens for model, returned from LLM API Provider",
                &n::REMAINING_LIMITS_LABELS,
            ),
            config_reloads: register(
                &r,
                IntCounterVec::new(
                    Opts::new(
                        "tollgate_config_reloads_total",
                        "Config reloads, by result (ok, refused)",
                    ),
                    &["result"],
                ),
            ),
            spend_queue_depth: int_gauge(
                "tollgate_spend_queue_depth",
                "Spend rows waiting to be written to the store",
            ),
            spend_rows_dropped: int_counter(
                "tollgate_spend_rows_dropped_total",
                "Spend rows dropped because the spend queue was full",
            ),
            store_flush_failures: int_counter(
                "tollgate_store_flush_failures_total",
                "Spend flushes the store refused (rows kept for retry)",
            ),
            spend_flush_lag: register(
                &r,
                Gauge::new(
                    "tollgate_spend_flush_lag_seconds",
                    "How long the oldest spend rows taken from the queue have waited for the store (0 when none wait)",
                ),
            ),
            spend_pending_rows: int_gauge(
                "tollgate_spend_pending_rows",
                "Spend rows taken from the queue and not yet written to the store",
            ),
            requests_open: int_gauge(
                "tollgate_requests_open",
                "Requests being served, on every route",
            ),
otel_spans_dropped: int_counter(
                "tollgate_otel_spans_dropped_total",
                "Spans not exported: the queue was full, an export failed, the collector was down (backing off) or the exporter had stopped",
            ),
            otel_spans_exported: int_counter(
                "tollgate_otel_spans_exported_total",
                "Spans the OTLP exporter sent to the collector",
            ),
            otel_export_failures: int_counter(
                "tollgate_otel_export_failures_total",
                "OTLP trace exports that failed or timed out (their spans are lost)",
            ),
            otel_collector_up: int_gauge(
                "tollgate_otel_collector_up",
                "1 while the OTLP collector takes exports (or is untried), 0 while the exporter backs off after a failure",
            ),
                        redis_fallbacks: int_counter(
                "tollgate_redis_fallbacks_total",
                "Calls that found the shared Redis unavailable and fell back to local state",
            ),
            streams_in_flight: int_gauge(
                "tollgate_streams_in_flight",
                "Streamed answers being delivered",
            ),
            calls_in_flight: int_gauge(
                "tollgate_calls_in_flight",
                "Admitted LLM calls not yet finished",
            ),
            scrape_lock: std::sync::Mutex::new(()),
            registry: r,
        };
        // Both results are exported from the start, so a rate over them is defined.
        for result in ["ok", "refused"] {
            metrics.config_reloads.with_label_values(&[result]);
        }
        metrics
    }

    pub fn configure(&self, settings: &crate::config::MetricsSettings) {
        self.enabled.store(settings.enabled, Ordering::Relaxed);
        self.end_user_labels
            .store(settings.end_user_labels, Ordering::Relaxed);
    }

    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    pub fn end_user_labels(&self) -> bool {
        self.end_user_labels.load(Ordering::Relaxed)
    }

    /// Everything registered, in Prometheus' text format (`text/plain; version=0.0.4`).
    pub fn encode(&self) -> String {
        let mut out = Vec::with_capacity(16 * 1024);
        // Writing to a Vec cannot fail; a metric the encoder refuses is left out.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }

    /// A counter kept elsewhere as an atomic total, brought up to `total` at scrape time.
    pub fn catch_up(counter: &IntCounter, total: u64) {
        let seen = counter.get();
        if total > seen {
            counter.inc_by(total - seen);
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Counts a stream in flight for as long as it lives.
pub struct StreamInFlight<'a>(&'a IntGauge);

impl<'a> StreamInFlight<'a> {
    pub fn start(gauge: &'a IntGauge) -> Self {
        gauge.inc();
        StreamInFlight(gauge)
    }
}

impl Drop for StreamInFlight<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_end_in_total_once_and_histograms_use_litellm_buckets() {
        let m = Metrics::new();
        m.proxy_total_requests.with_label_values(&[""; 16]).inc();
        m.request_total_latency
            .with_label_values(&[""; 14])
            .observe(0.2);
        m.config_reloads.with_label_values(&["ok"]).inc();
        let text = m.encode();
        assert!(text.contains("# TYPE litellm_proxy_total_requests_metric_total counter"));
        assert!(!text.contains("_total_total"));
        assert!(text.contains("litellm_request_total_latency_metric_bucket{"));
        assert!(text.contains("le=\"420\""));
        assert!(text.contains("le=\"600\""));
        assert!(text.contains("le=\"+Inf\""));
        assert!(text.contains("tollgate_config_reloads_total{result=\"ok\"} 1"));
    }

    #[test]
    fn registries_are_separate() {
        let (a, b) = (Metrics::new(), Metrics::new());
        a.redis_fallbacks.inc();
        Metrics::catch_up(&b.redis_fallbacks, 3);
        Metrics::catch_up(&b.redis_fallbacks, 2);
        assert_eq!(a.redis_fallbacks.get(), 1);
        assert_eq!(b.redis_fallbacks.get(), 3);
    }
}
