//! AWS credentials that must be fetched (a profile file, web identity, the ECS container
//! endpoint, EC2 instance metadata, an assumed role): a background service walks the chain for
//! each Bedrock/SageMaker deployment that needs it and stores the keys in the deployment's
//! `state.aws_keys`, which the signer reads lock-free. Temporary keys are fetched again before
//! they expire (five minutes before, or halfway through a shorter lifetime); a failed refresh
//! keeps the old keys and retries soon. Deployments with the same chain share one fetch.
//!
//! Hand-written on the project's SigV4 and Pingora's connector rather than the `aws-config`
//! crate, whose dependency tree (the AWS SDK runtime, hyper 0.14/1 and rustls stacks) would
//! dwarf the few endpoints used here.

pub mod chain;
pub mod parse;

use crate::credentials::{IDLE_CHECK, RETRY_AFTER_FAILURE};
use crate::deployment::state::AwsKeys;
use crate::deployment::Deployment;
use crate::providers::bedrock::credentials as bedrock_credentials;
use crate::providers::Wire;
use crate::state::Gateway;
use async_trait::async_trait;
use dashmap::DashMap;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

const MAX_MARGIN: Duration = Duration::from_secs(300);
/// Long-lived keys from a profile file are read again this often (the file may be rotated).
const REREAD_STATIC: Duration = Duration::from_secs(300);

pub struct AwsCredentialRefresher {
    pub gateway: Arc<Gateway>,
    /// Fetched keys by [`chain::Chain::cache_key`].
    fetched: DashMap<String, Fetched>,
    /// Chains whose last fetch failed, until when not to try again: deployments sharing an
    /// unreachable source (IMDS off EC2 takes the whole fetch timeout) wait once per pass, not
    /// once each.
    failed_until: DashMap<String, Instant>,
}

struct Fetched {
    keys: Arc<AwsKeys>,
    refresh_at: Instant,
}

impl AwsCredentialRefresher {
    pub fn new(gateway: Arc<Gateway>) -> Self {
        AwsCredentialRefresher {
            gateway,
            fetched: DashMap::new(),
            failed_until: DashMap::new(),
        }
    }

    /// Refreshes what is due; returns how long until the next refresh is due.
    async fn refresh_due(&self) -> Duration {
        let snapshot = self.gateway.snapshot.load_full();
        let mut next = IDLE_CHECK;
        for (_, d) in snapshot.models.deployments() {
            if !signs_with_aws_keys(d) {
                continue;
            }
            let region = bedrock_credentials::region(d, &d.model, host_of(d).as_deref());
            let chain = match resolve_for(d, &region) {
                Ok(c) if c.is_static() => continue,
                Ok(c) => c,
                Err(e) => {
                    log::warn!("deployment {}: AWS credentials: {e}", d.id);
                    next = next.min(IDLE_CHECK);
                    continue;
                }
            };
            let key = chain.cache_key(&region);
            let now = Instant::now();
            if let Some(f) = self.fetched.get(&key).filter(|f| f.refresh_at > now) {
                if !d
                    .state
                    .aws_keys
                    .get()
                    .is_some_and(|k| Arc::ptr_eq(&k, &f.keys))
                {
                    d.state.aws_keys.set_shared(Arc::clone(&f.keys));
                }
                next = next.min(f.refresh_at - now);
                continue;
            }
            if let Some(until) = self.failed_until.get(&key).map(|u| *u).filter(|u| *u > now) {
                next = next.min(until - now);
                continue;
            }
            match chain::fetch(self.gateway.upstream.resolver(), &chain, &region).await {
                Ok(issued) => {
                    let wait = refresh_delay(issued.expires, SystemTime::now());
                    let keys = Arc::new(issued.keys);
                    d.state.aws_keys.set_shared(Arc::clone(&keys));
                    let refresh_at = Instant::now() + wait;
                    self.failed_until.remove(&key);
                    self.fetched.insert(key, Fetched { keys, refresh_at });
                    log::info!(
                        "deployment {}: AWS credentials fetched, next refresh in {}s",
                        d.id,
                        wait.as_secs()
                    );
                    next = next.min(wait);
                }
                Err(e) => {
                    log::warn!("deployment {}: fetching AWS credentials failed: {e}", d.id);
                    self.failed_until
                        .insert(key, Instant::now() + RETRY_AFTER_FAILURE);
                    next = next.min(RETRY_AFTER_FAILURE);
                }
            }
        }
        next
    }
}

#[async_trait]
impl BackgroundService for AwsCredentialRefresher {
    async fn start(&self, shutdown: ShutdownWatch) {
        crate::credentials::refresh_until_shutdown(shutdown, || self.refresh_due()).await
    }
}

/// A Bedrock or SageMaker deployment that is SigV4-signed (not mocked, not on an API key).
fn signs_with_aws_keys(d: &Deployment) -> bool {
    matches!(
        d.provider.wire,
        Wire::Bedrock | Wire::Sagemaker | Wire::SagemakerChat
    ) && d.mock_response.is_none()
        && !bedrock_credentials::uses_api_key(d)
}

fn host_of(d: &Deployment) -> Option<String> {
    d.endpoint().ok().map(|e| e.authority.clone())
}

/// The deployment's chain, from its params and the environment as they are now.
fn resolve_for(d: &Deployment, region: &str) -> Result<chain::Chain, String> {
    let param = |name: &str| {
        d.extra_param(name)
            .filter(|v| !v.trim().is_empty())
            .map(str::to_string)
    };
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let read_file = |path: &str| std::fs::read_to_string(path).ok();
    let lookup = chain::Lookup {
        param: &param,
        env: &env,
        read_file: &read_file,
    };
    chain::resolve(&lookup, region)
}

/// How long until keys expiring at `expires` should be fetched again.
pub fn refresh_delay(expires: Option<SystemTime>, now: SystemTime) -> Duration {
    let Some(expires) = expires else {
        return REREAD_STATIC;
    };
    let lifetime = expires.duration_since(now).unwrap_or(Duration::ZERO);
    let margin = MAX_MARGIN.min(lifetime / 2);
    lifetime.saturating_sub(margin).max(Duration::from_secs(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refreshes_before_expiry() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let at = |s| Some(now + Duration::from_secs(s));
        assert_eq!(refresh_delay(at(3600), now), Duration::from_secs(3300));
        assert_eq!(refresh_delay(at(20), now), Duration::from_secs(10));
        assert_eq!(refresh_delay(at(0), now), Duration::from_secs(1));
        assert_eq!(
            refresh_delay(Some(now - Duration::from_secs(5)), now),
            Duration::from_secs(1)
        );
        assert_eq!(refresh_delay(None, now), REREAD_STATIC);
    }
}
