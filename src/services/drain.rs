//! The drain before exit. When a graceful shutdown (SIGTERM) or the upgrade hand-over
//! (SIGQUIT, the new process has the sockets) begins, Pingora stops accepting and, after its
//! grace period, cancels whatever is still running. Calls in flight (long streams) must not be
//! cut, nor their spend lost: so the grace period is the longest drain, and this service ends
//! the process as soon as no request is open and the spend flusher has written its last rows,
//! usually well before. Meanwhile the probes answer 503.
//!
//! Because Pingora closes its listeners the moment shutdown begins, a load balancer would never
//! see those 503s: SIGUSR2 first (the unit's ExecStop, `systemd/stop`) turns the probes to 503
//! while the gateway still serves everything else, so the balancer takes the node out before
//! SIGTERM follows.

use crate::state::Gateway;
use async_trait::async_trait;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

const POLL: Duration = Duration::from_millis(50);

pub struct DrainWatch {
    pub gateway: Arc<Gateway>,
}

#[async_trait]
impl BackgroundService for DrainWatch {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        // `changed` also ends when the sender is gone: shutting down either way.
        let _ = shutdown.changed().await;
        let g = &self.gateway;
        g.draining.store(true, Ordering::Release);
        log::info!("draining: waiting for calls in flight to finish");
        loop {
            let open = g.open_requests.load(Ordering::Acquire);
            let flushed = g.store.is_none() || g.spend_flushed.load(Ordering::Acquire);
            let traced = g.traces.as_ref().is_none_or(|t| t.flushed());
            if open == 0 && flushed && traced {
                break;
            }
            tokio::time::sleep(POLL).await;
        }
        log::info!(
            "drained: every call finished, its spend is written and its spans sent; exiting"
        );
        std::process::exit(0);
    }
}

/// SIGUSR2: announce the coming shutdown through the probes, keep serving.
pub struct DrainNotice {
    pub gateway: Arc<Gateway>,
}

#[async_trait]
impl BackgroundService for DrainNotice {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        use tokio::signal::unix::{signal, SignalKind};
        let mut notices = match signal(SignalKind::user_defined2()) {
            Ok(s) => s,
            Err(e) => {
                log::error!("drain notice on SIGUSR2 is unavailable: {e}");
                return;
            }
        };
        tokio::select! {
            _ = notices.recv() => {
                self.gateway.draining.store(true, Ordering::Release);
                log::info!("drain notice (SIGUSR2): probes answer 503; still serving until SIGTERM");
            }
            _ = shutdown.changed() => {}
        }
    }
}
