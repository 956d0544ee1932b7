//! Active health checks (`general_settings.background_health_checks`): a background service
//! probes every deployment's base URL each `health_check_interval` with pingora-load-balancing's
//! HTTP health check; a deployment that fails leaves the rotation until a probe succeeds again.

use crate::canonical::request::Operation;
use crate::canonical::RequestBody;
use crate::deployment::Deployment;
use crate::providers::{self, Call};
use crate::state::Gateway;
use crate::upstream::{Resolver, UpstreamRequest};
use async_trait::async_trait;
use bytes::Bytes;
use pingora::lb::health_check::{HealthCheck, HttpHealthCheck};
use pingora::lb::Backend;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use std::sync::Arc;
use std::time::Duration;

/// How long one probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

pub struct HealthChecker {
    pub gateway: Arc<Gateway>,
}

#[async_trait]
impl BackgroundService for HealthChecker {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        loop {
            let snapshot = self.gateway.snapshot.load_full();
            let general = &snapshot.config.general;
            let interval = crate::duration::from_secs(general.health_check_interval);
            if general.background_health_checks {
                let probes = snapshot.models.deployments().map(|(group, d)| {
                    let d = Arc::clone(d);
                    let group = Arc::clone(group);
                    let gateway = Arc::clone(&self.gateway);
                    async move {
                        let started = std::time::Instant::now();
                        let outcome = match &d.health_check_model {
                            Some(model) => probe_with_completion(&gateway, &d, &group, model).await,
                            None => probe(&d, gateway.upstream.resolver()).await,
                        };
                        let now_ms = crate::store::now_ms().max(1) as u64;
                        d.state.record_check(now_ms, started.elapsed());
                        let state = if outcome.is_ok() {
                            crate::telemetry::names::STATE_HEALTHY
                        } else {
                            crate::telemetry::names::STATE_COMPLETE_OUTAGE
                        };
                        crate::telemetry::observer::set_deployment_state(
                            &gateway.metrics,
                            &d,
                            state,
                        );
                        record(&d, outcome);
                    }
                });
                futures_join_all(probes).await;
            }
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = shutdown.changed() => return,
            }
        }
    }
}

/// Runs the probes concurrently without pulling in a futures crate.
async fn futures_join_all<F: std::future::Future<Output = ()> + Send + 'static>(
    probes: impl Iterator<Item = F>,
) {
    let handles: Vec<_> = probes.map(tokio::spawn).collect();
    for h in handles {
        let _ = h.await;
    }
}

fn record(d: &Deployment, outcome: Result<(), String>) {
    let was = d.state.is_healthy();
    match outcome {
        Ok(()) => {
            d.state.set_healthy(true);
            d.state.set_health_error(None);
            if !was {
                log::info!("deployment {} ({}) is healthy again", d.id, d.api_base);
            }
        }
        Err(e) => {
            d.state.set_healthy(false);
            if was {
                log::warn!(
                    "deployment {} ({}) failed its health check: {e}",
                    d.id,
                    d.api_base
                );
            }
            d.state.set_health_error(Some(e));
        }
    }
}

/// A real minimal completion (`max_tokens: 1`) through the deployment's own provider.
async fn probe_with_completion(
    gateway: &Gateway,
    d: &Deployment,
    group: &str,
    model: &str,
) -> Result<(), String> {
    let body = serde_json::json!({
        "model": model,
        "messages": [{"role": "user", "content": "ping"}],
        "max_tokens": 1,
    });
    let body = RequestBody::parse(Bytes::from(body.to_string()), Operation::Chat)
        .map_err(|e| e.message)?;
    let upstream_model = model.split_once('/').map_or(model, |(_, m)| m);
    let call = Call {
        op: Operation::Chat,
        body: &body,
        deployment: d,
        upstream_model: if d.model.contains('*') {
            upstream_model
        } else {
            &d.model
        },
        alias: model,
        group,
        drop_params: true,
        native: false,
    };
    let provider = providers::for_wire(d.provider.wire);
    let built = provider.build_request(&call).map_err(|e| e.message)?;
    let endpoint = d.endpoint().map_err(|e| e.message)?;
    let send = gateway.upstream.send(
        UpstreamRequest {
            endpoint,
            path_and_query: &built.path_and_query,
            headers: &built.headers,
            body: built.body,
        },
        Some(PROBE_TIMEOUT),
    );
    let mut response = match tokio::time::timeout(PROBE_TIMEOUT, send).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return Err(format!("{e:?}")),
        Err(_) => return Err("health check timed out".into()),
    };
    let status = response.status();
    let body = response.read_to_end(64 * 1024).await.unwrap_or_default();
    if status >= 400 {
        return Err(provider.translate_error(&call, status, &body).message);
    }
    gateway.upstream.release(response).await;
    Ok(())
}

/// One probe: GET `{api_base}/models`. Any answer below 500 means the provider is up (a 401
/// still proves it is reachable); connect errors, timeouts and 5xx mean it is not.
pub async fn probe(d: &Deployment, resolver: &Arc<Resolver>) -> Result<(), String> {
    if d.mock_response.is_some() {
        return Ok(());
    }
    let endpoint = d.endpoint().map_err(|e| e.message)?;
    let addr = resolver.resolve(&endpoint.host, endpoint.port).await?;
    let mut check = HttpHealthCheck::new(&endpoint.authority, endpoint.tls);
    check.peer_template.sni = endpoint.host.clone();
    check.peer_template.options.connection_timeout = Some(PROBE_TIMEOUT);
    check.peer_template.options.total_connection_timeout = Some(PROBE_TIMEOUT);
    check.peer_template.options.read_timeout = Some(PROBE_TIMEOUT);
    check.req.set_uri(
        endpoint
            .path_for("/models", None)
            .parse()
            .map_err(|e| format!("bad probe path: {e}"))?,
    );
    for (name, value) in &d.headers {
        let _ = check.req.insert_header(name.clone(), value.clone());
    }
    check.validator = Some(Box::new(|resp| {
        if resp.status.as_u16() < 500 {
            Ok(())
        } else {
            pingora::Error::e_explain(
                pingora::ErrorType::HTTPStatus(resp.status.as_u16()),
                "server error",
            )
        }
    }));
    let backend = Backend::new(&addr.to_string()).map_err(|e| e.to_string())?;
    match tokio::time::timeout(PROBE_TIMEOUT * 2, check.check(&backend)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("health check timed out".into()),
    }
}
