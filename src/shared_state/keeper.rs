//! Keeps the shared Redis connected (at start, and again whenever a call found the connection
//! broken: a Redis restarted, a network blip), and shares deployment cooldowns through it,
//! twice a second: each node publishes the cooldowns it started (a key per deployment that
//! expires when the cooldown ends) and takes on the ones others started. Runs as a background
//! service, off the request path.

use super::SharedRedis;
use crate::state::Gateway;
use async_trait::async_trait;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use std::sync::Arc;
use std::time::Duration;

const CHECK_EVERY: Duration = Duration::from_millis(500);

pub struct RedisKeeper {
    pub redis: Arc<SharedRedis>,
    pub gateway: Arc<Gateway>,
}

impl SharedRedis {
    /// Connects if not connected; `true` when a connection is in place afterwards.
    pub async fn ensure_connected(&self) -> bool {
        if self.is_connected() {
            return true;
        }
        match self.connect().await {
            Ok(conn) => {
                self.conn.store(Some(Arc::new(conn)));
                log::info!("redis connected");
                true
            }
            Err(e) => {
                log::debug!("redis connect failed: {e}");
                false
            }
        }
    }
}

#[async_trait]
impl BackgroundService for RedisKeeper {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let mut tick = tokio::time::interval(CHECK_EVERY);
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    if self.redis.ensure_connected().await {
                        self.share_cooldowns().await;
                    }
                }
                _ = shutdown.changed() => break,
            }
        }
    }
}

impl RedisKeeper {
    /// One pipeline: publish every local cooldown (`SET .. PX left`, which re-publishing a
    /// cooldown learnt from another node leaves as it was), then read every deployment's.
    async fn share_cooldowns(&self) {
        let snapshot = self.gateway.snapshot.load_full();
        let now = std::time::Instant::now();
        let deployments: Vec<_> = snapshot.models.in_config_order().to_vec();
        if deployments.is_empty() {
            return;
        }
        let mut pipe = redis::pipe();
        for d in &deployments {
            if let Some(left) = d.state.cooldown_left(now) {
                let ms = left.as_millis().max(1) as u64;
                pipe.cmd("SET")
                    .arg(cooldown_key(&d.id))
                    .arg(1)
                    .arg("PX")
                    .arg(ms)
                    .ignore();
            }
        }
        for d in &deployments {
            pipe.cmd("PTTL").arg(cooldown_key(&d.id));
        }
        let left: Vec<i64> = match self
            .redis
            .run(|mut conn| async move { pipe.query_async(&mut conn).await })
            .await
        {
            Ok(left) => left,
            Err(_) => return,
        };
        for (d, ms) in deployments.iter().zip(left) {
            if ms <= 0 {
                continue;
            }
            let shared = Duration::from_millis(ms as u64);
            let local = d.state.cooldown_left(now).unwrap_or_default();
            // Another node's cooldown, or a longer one: take it (a few ms of drift is noise).
            if shared > local + Duration::from_millis(50) {
                d.state.cool_down(shared, now);
                log::info!("deployment {} cooling down for {ms} ms (shared)", d.id);
            }
        }
    }
}

fn cooldown_key(deployment_id: &str) -> String {
    format!("{{tollgate}}:cooldown:{deployment_id}")
}
