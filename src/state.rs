//! The gateway's runtime state: a config snapshot compiled once and swapped in whole through
//! `ArcSwap` (requests hold the snapshot they started with), and the long-lived clients.

use crate::auth::directory::Directory;
use crate::auth::MasterKey;
use crate::config::GatewayConfig;
use crate::lifecycle::Observers;
use crate::limits::Limiter;
use crate::router::{ModelTable, RoutingPolicy, StateRegistry};
use crate::runtime_models::sealed::SealKey;
use crate::runtime_models::RuntimeModels;
use crate::shared_state::SharedRedis;
use crate::spend::accounts::Accounts;
use crate::spend::recorder::{Accountant, SpendQueue};
use crate::spend::shared::SharedBudgets;
use crate::store::{SpendRow, Store};
use crate::telemetry::metrics::Metrics;
use crate::telemetry::observer::MetricsObserver;
use crate::telemetry::otlp::{ExportCounters, SpanSink};
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
    /// Models added through the model API, compiled into `models` beside the config's own.
    pub stored: Arc<RuntimeModels>,
    pub config: GatewayConfig,
}

impl Snapshot {
    /// Compiles a loaded config and the stored models; router state for deployment ids seen
    /// before is reused.
    pub fn compile(
        config: GatewayConfig,
        stored: Arc<RuntimeModels>,
        states: &StateRegistry,
    ) -> Result<Snapshot, String> {
        let timeout = config
            .litellm
            .request_timeout
            .or(config.router.timeout)
            .unwrap_or(DEFAULT_TIMEOUT_SECS);
        let mut entries = config.model_list.clone();
        entries.extend(stored.models.iter().map(|m| m.config.clone()));
        let models =
            crate::compile::model_table(&entries, config.router.model_group_alias.clone(), states)?;
        let policy = RoutingPolicy::new(&config.router, &config.litellm.reliability);
        for target in policy.fallback_targets() {
            if models.resolve(target).is_err() {
                return Err(format!("fallbacks name unknown model group {target:?}"));
            }
        }
        let mut access_groups: HashMap<String, Vec<String>> = HashMap::new();
        for entry in &entries {
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
            stored,
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

    /// The group a caller means by `model`: a team's own model by its public name first; a team
    /// model's internal name only for its team (and the admin), as if it did not exist for others.
    pub fn resolve_for(
        &self,
        team_id: Option<&str>,
        admin: bool,
        model: &str,
    ) -> Result<crate::router::Resolved, crate::error::GatewayError> {
        if let Some(internal) = self.stored.team_group(team_id, model) {
            return self.models.resolve(internal);
        }
        match self.stored.group_team(model) {
            Some(owner) if !admin && Some(owner) != team_id => {
                Err(crate::error::GatewayError::unknown_model(model))
            }
            _ => self.models.resolve(model),
        }
    }

    /// Whether a caller of `team_id` may see `group` in model lists.
    pub fn group_visible_to(&self, team_id: Option<&str>, group: &str) -> bool {
        self.stored
            .group_team(group)
            .is_none_or(|owner| Some(owner) == team_id)
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
    /// Seals and opens the secrets of stored models (`LITELLM_SALT_KEY`, else the master key).
    pub seal_key: Option<SealKey>,
    /// Held while a snapshot is rebuilt (a config reload, a stored model changed), so two
    /// rebuilds never race and lose one's change. Never taken on the request path.
    pub rebuild: Mutex<()>,
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
        let seal_key = seal_key(&config);
        let stored = stored_models(&config, &directory, seal_key.as_ref());
        let snapshot = Snapshot::compile(config, stored, &states)?;
        let metrics = Arc::new(Metrics::new());
        metrics.configure(&snapshot.config.litellm.metrics);
        let trace_settings = &snapshot.config.litellm.traces;
        let traces = trace_settings.enabled.then(|| {
            Arc::new(SpanSink::new(
                trace_settings.clone(),
                ExportCounters {
                    dropped: metrics.otel_spans_dropped.clone(),
                    exported: metrics.otel_spans_exported.clone(),
                    failed_exports: metrics.otel_export_failures.clone(),
                    collector_up: metrics.otel_collector_up.clone(),
                },
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
            seal_key,
            rebuild: Mutex::new(()),
            traces,
        }))
    }

    /// Rebuilds the snapshot from the running config and the stored models as the directory
    /// holds them now (after a model API write here, or a refresh of another node's).
    pub fn recompile_models(&self) -> Result<(), String> {
        let _rebuilding = self.rebuild.lock().unwrap_or_else(|p| p.into_inner());
        let running = self.snapshot.load();
        let config = running.config.clone();
        let stored = stored_models(&config, &self.directory, self.seal_key.as_ref());
        let snapshot = Snapshot::compile(config, stored, &self.states)?;
        self.snapshot.store(Arc::new(snapshot));
        Ok(())
    }

    /// Compiles a newly loaded config file with the stored models and swaps it in.
    pub fn install_config(&self, config: GatewayConfig) -> Result<Arc<Snapshot>, String> {
        let _rebuilding = self.rebuild.lock().unwrap_or_else(|p| p.into_inner());
        let stored = stored_models(&config, &self.directory, self.seal_key.as_ref());
        let snapshot = Arc::new(Snapshot::compile(config, stored, &self.states)?);
        self.snapshot.store(Arc::clone(&snapshot));
        Ok(snapshot)
    }
}

/// `LITELLM_SALT_KEY`, else the master key, as LiteLLM picks the key for stored secrets.
fn seal_key(config: &GatewayConfig) -> Option<SealKey> {
    let salt = std::env::var("LITELLM_SALT_KEY")
        .ok()
        .filter(|s| !s.is_empty());
    salt.as_deref()
        .or(config.general.master_key.as_ref().map(|k| k.expose()))
        .map(SealKey::derive)
}

/// The stored models the directory holds, when the config lets models live in the store.
fn stored_models(
    config: &GatewayConfig,
    directory: &Directory,
    key: Option<&SealKey>,
) -> Arc<RuntimeModels> {
    if !config.general.store_model_in_db {
        return Arc::default();
    }
    let config_ids: Vec<&str> = config.model_list.iter().map(|d| d.id.as_str()).collect();
    Arc::new(RuntimeModels::from_entities(
        directory.all(crate::store::Table::Models),
        key,
        &config_ids,
    ))
}

impl crate::admin::models::ModelHost for Gateway {
    fn store_models(&self) -> bool {
        self.snapshot.load().config.general.store_model_in_db
    }

    fn seal_key(&self) -> Option<&SealKey> {
        self.seal_key.as_ref()
    }

    fn in_config(&self, id: &str) -> bool {
        self.snapshot
            .load()
            .config
            .model_list
            .iter()
            .any(|d| d.id == id)
    }

    fn models_changed(&self) -> Result<(), String> {
        self.recompile_models()
    }
}
