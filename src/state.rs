//! The gateway's runtime state: a config snapshot compiled once and swapped in whole through
//! `ArcSwap` (requests hold the snapshot they started with), and the long-lived clients.

use crate::auth::directory::Directory;
use crate::auth::MasterKey;
use crate::config::GatewayConfig;
use crate::lifecycle::Observers;
use crate::limits::Limiter;
use crate::router::{ModelTable, RoutingPolicy, StateRegistry};
use crate::shared_state::SharedRedis;
use crate::spend::accounts::Accounts;
use crate::spend::recorder::{Accountant, SpendQueue};
use crate::spend::shared::SharedBudgets;
use crate::store::{SpendRow, Store};
use crate::telemetry::metrics::Metrics;
use crate::telemetry::observer::MetricsObserver;
use crate::telemetry::otlp::SpanSink;
use crate::upstream::UpstreamClient;
use arc_swap::ArcSwap;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// LiteLLM's default request timeout (seconds) when neither the deployment nor the settings
/// give one.
const DEFAULT_TIMEOUT_SECS: f64 = 6000.0;

pub struct Snapshot {
    pub models: ModelTable,
    pub policy: RoutingPolicy,
    pub master_key: Option<MasterKey>,
    pub max_request_bytes: usize,
    /// The call deadline for deployments without a `timeout`.
    pub default_timeout: Duration,
    /// `router_settings.stream_timeout`, for deployments without their own.
    pub default_stream_timeout: Option<Duration>,
    /// The whole of one call, over all its attempts, retries and fallbacks.
    pub call_timeout: Duration,
    /// Longest a non-stream provider answer may be (`max_response_size_mb`).
    pub max_response_bytes: usize,
    /// To receive a whole request body.
    pub body_timeout: Duration,
    /// Longest one write to a client may block.
    pub client_write_timeout: Duration,
    /// Each model group's access groups (`model_info.access_groups` of its entries).
    pub access_groups: HashMap<String, Vec<String>>,
    /// `/metrics` is served (the `prometheus` callback is configured).
    pub metrics_enabled: bool,
    /// `/metrics` asks for a key (`require_auth_for_metrics_endpoint`, LiteLLM's default).
    pub metrics_require_auth: bool,
    pub config: GatewayConfig,
}

impl Snapshot {
    /// Compiles a loaded config; router state for deployment ids seen before is reused.
    pub fn compile(config: GatewayConfig, states: &StateRegistry) -> Result<Snapshot, String> {
        let timeout = config
            .litellm
            .request_timeout
            .or(config.router.timeout)
            .unwrap_or(DEFAULT_TIMEOUT_SECS);
        let models = crate::compile::model_table(
            &config.model_list,
            config.router.model_group_alias.clone(),
            states,
        )?;
        let policy = RoutingPolicy::new(&config.router, &config.litellm.reliability);
        for target in policy.fallback_targets() {
            if models.resolve(target).is_err() {
                return Err(format!("fallbacks name unknown model group {target:?}"));
            }
        }
        let mut access_groups: HashMap<String, Vec<String>> = HashMap::new();
        for entry in &config.model_list {
            let groups = access_groups.entry(entry.model_name.clone()).or_default();
            for g in &entry.model_info.access_groups {
                if !groups.contains(g) {
                    groups.push(g.clone());
                }
            }
        }
        let metrics = &config.litellm.metrics;
        Ok(Snapshot {
            metrics_enabled: metrics.enabled,
            metrics_require_auth: metrics
                .require_auth
                .or(config.general.require_auth_for_metrics)
                .unwrap_or(true),
            models,
            policy,
            access_groups,
            master_key: config
                .general
                .master_key
                .as_ref()
                .map(|k| MasterKey::new(k.expose())),
            max_request_bytes: megabytes(config.general.max_request_size_mb),
            max_response_bytes: config
                .general
                .max_response_size_mb
                .map_or(DEFAULT_MAX_RESPONSE_BODY, megabytes),
            call_timeout: crate::duration::from_secs(
                config.router.timeout.unwrap_or(timeout).max(timeout),
            ),
            body_timeout: crate::duration::from_secs(config.general.request_body_timeout),
            client_write_timeout: crate::duration::from_secs(config.general.client_write_timeout),
            default_timeout: crate::duration::from_secs(timeout),
            default_stream_timeout: config.router.stream_timeout.map(crate::duration::from_secs),
            config,
        })
    }
}

impl Snapshot {
    /// The access groups a key's `models` may name to allow `model`.
    pub fn access_groups_of(&self, model: &str) -> &[String] {
        self.access_groups.get(model).map_or(&[], Vec::as_slice)
    }
}

/// Megabytes as bytes, saturating (`as` from a float clamps; NaN is 0).
fn megabytes(mb: f64) -> usize {
    (mb * 1024.0 * 1024.0) as usize
}

/// Bound on a non-stream answer read into memory when `max_response_size_mb` is not set.
const DEFAULT_MAX_RESPONSE_BODY: usize = 256 * 1024 * 1024;

pub struct Gateway {
    pub snapshot: ArcSwap<Snapshot>,
    pub upstream: UpstreamClient,
    /// Router state per deployment id, shared by every snapshot.
    pub states: StateRegistry,
    /// What subscribes to every call's lifecycle.
    pub observers: Observers,
    /// The Prometheus registry `/metrics` serves (recording is off unless configured).
    pub metrics: Arc<Metrics>,
    /// Keys, users, teams, ... as auth and budgets read them.
    pub directory: Arc<Directory>,
    pub accountant: Accountant,
    /// `None` only in tests that build a gateway without one.
    pub store: Option<Arc<dyn Store>>,
    /// Rate limits, counted on the shared Redis when there is one.
    pub limiter: Limiter,
    /// The Redis several nodes share, when configured.
    pub redis: Option<Arc<SharedRedis>>,
    /// Shutdown (or the upgrade hand-over) has begun: probes answer 503.
    pub draining: AtomicBool,
    /// Requests being served (every route), for the drain before exit.
    pub open_requests: Arc<AtomicUsize>,
    /// The spend flusher wrote its last rows at shutdown (or there is no store).
    pub spend_flushed: Arc<AtomicBool>,
    /// Admitted calls whose spend row is not queued yet (the flusher waits for them at exit).
    pub in_flight: Arc<AtomicUsize>,
    /// The flusher's end of the spend queue, taken when it starts.
    pub spend_rows: Mutex<Option<mpsc::Receiver<SpendRow>>>,
    /// The response cache's backend, when `litellm_settings.cache` is on at start.
    pub cache: Option<Arc<dyn crate::cache::CacheBackend>>,
    /// Where finished calls' spans go, when the `otel` callback is on at start.
    pub traces: Option<Arc<SpanSink>>,
}

impl Gateway {
    pub fn new(config: GatewayConfig) -> Result<Arc<Gateway>, String> {
        Self::with_upstream(config, UpstreamClient::default())
    }

    pub fn with_upstream(
        config: GatewayConfig,
        upstream: UpstreamClient,
    ) -> Result<Arc<Gateway>, String> {
        Self::with_store(config, upstream, None, Arc::default(), Arc::default())
    }

    /// A gateway over a store whose contents are already loaded into `directory` and
    /// `accounts`.
    pub fn with_store(
        config: GatewayConfig,
        upstream: UpstreamClient,
        store: Option<Arc<dyn Store>>,
        directory: Arc<Directory>,
        accounts: Arc<Accounts>,
    ) -> Result<Arc<Gateway>, String> {
        let states = StateRegistry::default();
        let (queue, rows) = SpendQueue::new(config.general.store.spend_queue_max_rows);
        let redis = SharedRedis::configured(&config.router.redis);
        let cache = crate::cache::backend_from_settings(&config.litellm.cache, redis.as_ref());
        let snapshot = Snapshot::compile(config, &states)?;
        let metrics = Arc::new(Metrics::new());
        metrics.configure(&snapshot.config.litellm.metrics);
        let trace_settings = &snapshot.config.litellm.traces;
        let traces = trace_settings.enabled.then(|| {
            Arc::new(SpanSink::new(
                trace_settings.clone(),
                metrics.otel_spans_dropped.clone(),
                metrics.otel_spans_exported.clone(),
                metrics.otel_export_failures.clone(),
            ))
        });
        Ok(Arc::new(Gateway {
            snapshot: ArcSwap::from_pointee(snapshot),
            upstream,
            states,
            observers: Observers::new(vec![Box::new(MetricsObserver(Arc::clone(&metrics)))]),
            metrics,
            directory,
            accountant: Accountant {
                accounts,
                queue,
                shared: store.as_ref().and_then(SharedBudgets::for_store),
            },
            store,
            limiter: Limiter::new(redis.clone()),
            draining: AtomicBool::new(false),
            open_requests: Arc::default(),
            spend_flushed: Arc::default(),
            redis,
            in_flight: Arc::default(),
            spend_rows: Mutex::new(Some(rows)),
            cache,
            traces,
        }))
    }
}
