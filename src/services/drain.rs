//! Marks the gateway as draining the moment a graceful shutdown (SIGTERM) or the upgrade
//! hand-over (SIGQUIT) begins, so the health probes answer 503 while calls in flight finish.

use crate::state::Gateway;
use async_trait::async_trait;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use std::sync::atomic::Ordering;
use std::sync::Arc;

pub struct DrainWatch {
    pub gateway: Arc<Gateway>,
}

#[async_trait]
impl BackgroundService for DrainWatch {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        // `changed` also ends when the sender is gone: shutting down either way.
        let _ = shutdown.changed().await;
        self.gateway.draining.store(true, Ordering::Release);
        log::info!("draining: probes answer 503 while calls in flight finish");
    }
}
