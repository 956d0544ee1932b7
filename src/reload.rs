//! Hot config reload: SIGHUP re-reads the config file off the request path, validates it whole,
//! and swaps the new snapshot in atomically. Requests in flight finish on the snapshot they
//! started with; router state (latency, cooldowns, in-flight counts) carries over for
//! deployments whose id did not change. An invalid file is logged with its YAML paths and the
//! running config keeps serving.

use crate::config;
use crate::state::Gateway;
use async_trait::async_trait;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

pub struct ConfigReloader {
    pub gateway: Arc<Gateway>,
    pub path: PathBuf,
    pub reloads: AtomicU64,
    pub failures: AtomicU64,
}

impl ConfigReloader {
    pub fn new(gateway: Arc<Gateway>, path: PathBuf) -> Self {
        ConfigReloader {
            gateway,
            path,
            reloads: AtomicU64::new(0),
            failures: AtomicU64::new(0),
        }
    }

    fn count(&self, result: &str) {
        self.gateway
            .metrics
            .config_reloads
            .with_label_values(&[result])
            .inc();
    }

    /// Loads, validates and swaps in the config file; the old snapshot stays on any error.
    pub fn reload(&self) -> Result<usize, String> {
        let loaded = config::load_file(&self.path).map_err(|e| e.to_string())?;
        for w in &loaded.warnings {
            log::warn!("config: {w}");
        }
        // The cache's backend is made at start; its other settings apply from this snapshot on.
        if loaded.config.litellm.cache.enabled && self.gateway.cache.is_none() {
            log::warn!("config: litellm_settings.cache was turned on by a reload; the response cache starts at the next restart");
        }
        let running = self.gateway.snapshot.load_full();
        // Connections to the store and to Redis are opened once, at start.
        let url = |c: &config::GatewayConfig| {
            c.general
                .database_url
                .as_ref()
                .map(|u| u.expose().to_string())
        };
        if loaded.config.router.redis != running.config.router.redis
            || url(&loaded.config) != url(&running.config)
        {
            log::warn!(
                "config reload: the Redis or database settings changed; they take effect at the next restart"
            );
        }
        let snapshot = self.gateway.install_config(loaded.config)?;
        let aliases = snapshot.models.aliases().len();
        self.gateway
            .metrics
            .configure(&snapshot.config.litellm.metrics);
        Ok(aliases)
    }
}

#[async_trait]
impl BackgroundService for ConfigReloader {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let mut hangups =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
                Ok(s) => s,
                Err(e) => {
                    log::error!("config reload on SIGHUP is unavailable: {e}");
                    return;
                }
            };
        loop {
            tokio::select! {
                _ = hangups.recv() => {}
                _ = shutdown.changed() => return,
            }
            // A config file is small: reading and compiling it takes a moment on this task and
            // never touches a request.
            match self.reload() {
                Ok(aliases) => {
                    self.reloads.fetch_add(1, Relaxed);
                    self.count("ok");
                    log::info!(
                        "config reloaded from {} ({aliases} model aliases)",
                        self.path.display()
                    );
                }
                Err(e) => {
                    self.failures.fetch_add(1, Relaxed);
                    self.count("refused");
                    log::error!("config reload rejected, still serving the previous config:\n{e}");
                }
            }
        }
    }
}
