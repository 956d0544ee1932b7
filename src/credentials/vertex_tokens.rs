//! Vertex AI access tokens: a background service signs a JWT with each deployment's service
//! account, exchanges it at the key's `token_uri`, and stores the token where the `vertex_ai`
//! provider reads it. Tokens are refreshed five minutes before they expire; requests never wait
//! for an exchange.

use crate::providers::gemini::vertex_auth::{self, ServiceAccount};
use crate::providers::{unix_now, Wire};
use crate::state::Gateway;
use crate::upstream::{Endpoint, UpstreamClient, UpstreamRequest};
use async_trait::async_trait;
use dashmap::DashMap;
use http::{HeaderName, HeaderValue};
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use std::sync::Arc;
use std::time::{Duration, Instant};

const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(300);
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(5);
const IDLE_CHECK: Duration = Duration::from_secs(60);
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(15);

pub struct VertexTokenRefresher {
    pub gateway: Arc<Gateway>,
    /// When each deployment's token expires.
    expiries: DashMap<String, Instant>,
}

impl VertexTokenRefresher {
    pub fn new(gateway: Arc<Gateway>) -> Self {
        VertexTokenRefresher {
            gateway,
            expiries: DashMap::new(),
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
            let Some(credentials) = d.extra_param("vertex_credentials") else {
                continue;
            };
            let cell = &d.state.access_token;
            let now = Instant::now();
            let due = match self.expiries.get(&d.id) {
                Some(exp) if cell.get().is_some() => exp
                    .saturating_duration_since(now)
                    .saturating_sub(REFRESH_BEFORE_EXPIRY),
                _ => Duration::ZERO,
            };
            if !due.is_zero() {
                next = next.min(due);
                continue;
            }
            match exchange(&self.gateway.upstream, credentials).await {
                Ok((token, expires_in)) => {
                    cell.set(Some(token));
                    let lifetime = Duration::from_secs(expires_in.max(60));
                    self.expiries.insert(d.id.clone(), now + lifetime);
                    next = next.min(
                        lifetime
                            .saturating_sub(REFRESH_BEFORE_EXPIRY)
                            .max(Duration::from_secs(30)),
                    );
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
    async fn start(&self, mut shutdown: ShutdownWatch) {
        loop {
            let wait = self.refresh_due().await;
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => return,
            }
        }
    }
}

/// One JWT-bearer exchange: `(access_token, expires_in seconds)`.
async fn exchange(upstream: &UpstreamClient, credentials: &str) -> Result<(String, u64), String> {
    let sa = ServiceAccount::from_json(credentials.as_bytes())?;
    let assertion = vertex_auth::jwt_assertion(&sa, unix_now())?;
    let endpoint = Endpoint::parse(&sa.token_uri)?;
    let headers = [(
        HeaderName::from_static("content-type"),
        HeaderValue::from_static("application/x-www-form-urlencoded"),
    )];
    let path = endpoint.path_for("", None);
    let send = upstream.send(
        UpstreamRequest {
            endpoint: &endpoint,
            path_and_query: if path.is_empty() { "/" } else { &path },
            headers: &headers,
            body: vertex_auth::token_request_body(&assertion).into(),
        },
        Some(EXCHANGE_TIMEOUT),
    );
    let mut response = tokio::time::timeout(EXCHANGE_TIMEOUT, send)
        .await
        .map_err(|_| "token exchange timed out".to_string())?
        .map_err(|e| format!("token exchange failed: {e:?}"))?;
    let status = response.status();
    let body = response
        .read_to_end(64 * 1024)
        .await
        .map_err(|e| format!("{e:?}"))?;
    if status != 200 {
        return Err(format!(
            "token endpoint answered {status}: {}",
            String::from_utf8_lossy(&body)
        ));
    }
    upstream.release(response).await;
    vertex_auth::parse_token_response(&body)
}
