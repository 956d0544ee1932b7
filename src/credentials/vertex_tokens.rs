//! Vertex AI access tokens: a background service gets a token for each deployment from its
//! Application Default Credentials (`crate::credentials::google`: a service account, an
//! authorized user, an external account, else the GCE metadata server) and stores it where the
//! `vertex_ai` provider reads it. Tokens are refreshed five minutes before they expire (halfway
//! through a shorter lifetime); requests never wait for an exchange.

use super::{IDLE_CHECK, REFRESH_BEFORE_EXPIRY, RETRY_AFTER_FAILURE};
use crate::credentials::google::{self, AdcFile};
use crate::providers::Wire;
use crate::state::Gateway;
use async_trait::async_trait;
use dashmap::DashMap;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct VertexTokenRefresher {
    pub gateway: Arc<Gateway>,
    /// When each deployment's token is due to be fetched again.
    refresh_at: DashMap<String, Instant>,
}

impl VertexTokenRefresher {
    pub fn new(gateway: Arc<Gateway>) -> Self {
        VertexTokenRefresher {
            gateway,
            refresh_at: DashMap::new(),
        }
    }

    /// Refreshes what is due; returns how long until the next refresh is due.
    async fn refresh_due(&self) -> Duration {
        let snapshot = self.gateway.snapshot.load_full();
        let mut next = IDLE_CHECK;
        for (_, d) in snapshot.models.deployments() {
            if d.provider.wire != Wire::VertexAi || d.mock_response.is_some() {
                continue;
            }
            let file = match d
                .extra_param("vertex_credentials")
                .map(|c| AdcFile::from_json(c.as_bytes()))
            {
                Some(Ok(file)) => Some(file),
                Some(Err(e)) => {
                    log::warn!("vertex_ai deployment {}: {e}", d.id);
                    continue;
                }
                None => None,
            };
            let cell = &d.state.access_token;
            let now = Instant::now();
            let due = match self.refresh_at.get(&d.id) {
                Some(at) if cell.get().is_some() => at.saturating_duration_since(now),
                _ => Duration::ZERO,
            };
            if !due.is_zero() {
                next = next.min(due);
                continue;
            }
            let metadata_host = std::env::var("GCE_METADATA_HOST")
                .ok()
                .filter(|h| !h.is_empty());
            let resolver = self.gateway.upstream.resolver();
            match google::fetch(resolver, file.as_ref(), metadata_host.as_deref()).await {
                Ok((token, expires_in)) => {
                    cell.set(Some(token));
                    let wait = refresh_wait(Duration::from_secs(expires_in));
                    self.refresh_at.insert(d.id.clone(), now + wait);
                    next = next.min(wait);
                }
                Err(e) => {
                    log::warn!("vertex_ai deployment {}: token refresh failed: {e}", d.id);
                    next = next.min(RETRY_AFTER_FAILURE);
                }
            }
        }
        next
    }
}

#[async_trait]
impl BackgroundService for VertexTokenRefresher {
    async fn start(&self, shutdown: ShutdownWatch) {
        super::refresh_until_shutdown(shutdown, || self.refresh_due()).await
    }
}

/// How long after fetching a token of `lifetime` to fetch the next: five minutes before it
/// expires, or halfway through a shorter lifetime.
fn refresh_wait(lifetime: Duration) -> Duration {
    let margin = REFRESH_BEFORE_EXPIRY.min(lifetime / 2);
    lifetime.saturating_sub(margin).max(Duration::from_secs(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_waits() {
        assert_eq!(
            refresh_wait(Duration::from_secs(3599)),
            Duration::from_secs(3299)
        );
        assert_eq!(refresh_wait(Duration::from_secs(6)), Duration::from_secs(3));
        assert_eq!(refresh_wait(Duration::from_secs(1)), Duration::from_secs(1));
    }
}
