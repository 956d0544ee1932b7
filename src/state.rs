//! The gateway's runtime state: a config snapshot compiled once and swapped in whole through
//! `ArcSwap` (requests hold the snapshot they started with), and the long-lived clients.

use crate::auth::MasterKey;
use crate::config::GatewayConfig;
use crate::router::ModelTable;
use crate::upstream::UpstreamClient;
use arc_swap::ArcSwap;
use std::sync::Arc;
use std::time::Duration;

/// LiteLLM's default request timeout (seconds) when neither the deployment nor the settings
/// give one.
const DEFAULT_TIMEOUT_SECS: f64 = 6000.0;

pub struct Snapshot {
    pub models: ModelTable,
    pub master_key: Option<MasterKey>,
    pub max_request_bytes: usize,
    /// The call deadline for deployments without a `timeout`.
    pub default_timeout: Duration,
    pub config: GatewayConfig,
}

impl Snapshot {
    pub fn compile(config: GatewayConfig) -> Result<Snapshot, String> {
        let timeout = config
            .litellm
            .request_timeout
            .or(config.router.timeout)
            .unwrap_or(DEFAULT_TIMEOUT_SECS);
        Ok(Snapshot {
            models: ModelTable::build(&config.model_list)?,
            master_key: config.general.master_key.as_deref().map(MasterKey::new),
            max_request_bytes: (config.general.max_request_size_mb * 1024.0 * 1024.0) as usize,
            default_timeout: Duration::from_secs_f64(timeout),
            config,
        })
    }
}

pub struct Gateway {
    pub snapshot: ArcSwap<Snapshot>,
    pub upstream: UpstreamClient,
}

impl Gateway {
    pub fn new(snapshot: Snapshot) -> Arc<Gateway> {
        Arc::new(Gateway {
            snapshot: ArcSwap::from_pointee(snapshot),
            upstream: UpstreamClient::default(),
        })
    }
}
