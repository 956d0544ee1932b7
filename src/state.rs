//! The gateway's runtime state: a config snapshot compiled once and swapped in whole through
//! `ArcSwap` (requests hold the snapshot they started with), and the long-lived clients.

use crate::auth::MasterKey;
use crate::config::GatewayConfig;
use crate::router::{ModelTable, RoutingPolicy, StateRegistry};
use crate::upstream::UpstreamClient;
use arc_swap::ArcSwap;
use std::sync::Arc;
use std::time::Duration;

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
        let models = ModelTable::build(
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
        Ok(Snapshot {
            models,
            policy,
            master_key: config.general.master_key.as_deref().map(MasterKey::new),
            max_request_bytes: (config.general.max_request_size_mb * 1024.0 * 1024.0) as usize,
            default_timeout: Duration::from_secs_f64(timeout),
            default_stream_timeout: config.router.stream_timeout.map(Duration::from_secs_f64),
            config,
        })
    }
}

pub struct Gateway {
    pub snapshot: ArcSwap<Snapshot>,
    pub upstream: UpstreamClient,
    /// Router state per deployment id, shared by every snapshot.
    pub states: StateRegistry,
}

impl Gateway {
    pub fn new(config: GatewayConfig) -> Result<Arc<Gateway>, String> {
        let states = StateRegistry::default();
        let snapshot = Snapshot::compile(config, &states)?;
        Ok(Arc::new(Gateway {
            snapshot: ArcSwap::from_pointee(snapshot),
            upstream: UpstreamClient::default(),
            states,
        }))
    }
}
