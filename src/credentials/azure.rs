//! Azure OpenAI tokens from Entra ID, for deployments with neither `api_key` (or
//! AZURE_API_KEY) nor a static `azure_ad_token`: client credentials (`tenant_id`, `client_id`,
//! `client_secret`, else AZURE_TENANT_ID / AZURE_CLIENT_ID / AZURE_CLIENT_SECRET) at
//! `{AZURE_AUTHORITY_HOST}/{tenant}/oauth2/v2.0/token`; else a managed identity, through
//! IDENTITY_ENDPOINT + IDENTITY_HEADER (App Service, Functions, Container Apps) or the instance
//! metadata service (169.254.169.254 unless AZURE_POD_IDENTITY_AUTHORITY_HOST moves it). A
//! background service stores the token in `deployment.state.access_token`, which the `azure`
//! provider sends as `Authorization: Bearer`; refreshed before expiry like the Vertex tokens.

use super::{IDLE_CHECK, REFRESH_BEFORE_EXPIRY, RETRY_AFTER_FAILURE};
use crate::credentials::http::{self, Fetch};
use crate::deployment::Deployment;
use crate::providers::Wire;
use crate::state::Gateway;
use async_trait::async_trait;
use dashmap::DashMap;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};

const AUTHORITY_DEFAULT: &str = "https://login.microsoftonline.com";
const IMDS_DEFAULT: &str = "http://169.254.169.254";
const COGNITIVE_SERVICES: &str = "https://cognitiveservices.azure.com";

/// Where a deployment's token comes from.
#[derive(Debug, PartialEq)]
pub enum TokenSource {
    ClientCredentials {
        token_url: String,
        client_id: String,
        client_secret: String,
    },
    /// App Service style: `IDENTITY_ENDPOINT` with the `X-IDENTITY-HEADER` secret.
    IdentityEndpoint {
        url: String,
        secret: String,
    },
    Imds {
        url: String,
    },
}

/// The deployment's token source, from its params (`param`) and the environment (`env`);
/// `None` when it needs no token (an API key or a static `azure_ad_token`).
pub fn source(
    has_api_key: bool,
    param: &dyn Fn(&str) -> Option<String>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<TokenSource> {
    if has_api_key || param("azure_ad_token").is_some() {
        return None;
    }
    let both = |p: &str, e: &str| param(p).or_else(|| env(e));
    let tenant = both("tenant_id", "AZURE_TENANT_ID");
    let client_id = both("client_id", "AZURE_CLIENT_ID");
    let secret = both("client_secret", "AZURE_CLIENT_SECRET");
    if let (Some(tenant), Some(client_id), Some(client_secret)) =
        (tenant, client_id.clone(), secret)
    {
        let authority =
            env("AZURE_AUTHORITY_HOST").unwrap_or_else(|| AUTHORITY_DEFAULT.to_string());
        let token_url = format!(
            "{}/{}/oauth2/v2.0/token",
            authority.trim_end_matches('/'),
            http::form_encode(&tenant)
        );
        return Some(TokenSource::ClientCredentials {
            token_url,
            client_id,
            client_secret,
        });
    }
    // A client id without a secret names a user-assigned identity.
    let user_assigned = client_id
        .map(|id| format!("&client_id={}", http::form_encode(&id)))
        .unwrap_or_default();
    let resource = http::form_encode(COGNITIVE_SERVICES);
    if let (Some(endpoint), Some(secret)) = (env("IDENTITY_ENDPOINT"), env("IDENTITY_HEADER")) {
        let url = format!("{endpoint}?api-version=2019-08-01&resource={resource}{user_assigned}");
        return Some(TokenSource::IdentityEndpoint { url, secret });
    }
    let host = env("AZURE_POD_IDENTITY_AUTHORITY_HOST").unwrap_or_else(|| IMDS_DEFAULT.to_string());
    let url = format!(
        "{}/metadata/identity/oauth2/token?api-version=2018-02-01&resource={resource}{user_assigned}",
        host.trim_end_matches('/')
    );
    Some(TokenSource::Imds { url })
}

/// `(access_token, expires_in seconds)`.
pub async fn fetch(
    resolver: &Arc<crate::upstream::Resolver>,
    source: &TokenSource,
) -> Result<(String, u64), String> {
    let fetch = match source {
        TokenSource::ClientCredentials {
            token_url,
            client_id,
            client_secret,
        } => {
            let scope = format!("{COGNITIVE_SERVICES}/.default");
            let body = http::form(&[
                ("grant_type", "client_credentials"),
                ("client_id", client_id),
                ("client_secret", client_secret),
                ("scope", &scope),
            ]);
            Fetch::form(token_url, body)
        }
        TokenSource::IdentityEndpoint { url, secret } => {
            Fetch::get(url).header("x-identity-header", secret)?
        }
        TokenSource::Imds { url } => Fetch::get(url).header("metadata", "true")?,
    };
    let answer = http::send(resolver, fetch).await?;
    parse_token(answer.status, &answer.body)
}

/// Entra ID and managed-identity answers: `expires_in` is a number or, from IMDS, a string.
pub fn parse_token(status: u16, body: &[u8]) -> Result<(String, u64), String> {
    let v: Value = serde_json::from_slice(body).map_err(|_| {
        let text: String = String::from_utf8_lossy(body).chars().take(200).collect();
        format!("the token endpoint answered {status} with non-JSON: {text}")
    })?;
    let text = |name: &str| v.get(name).and_then(Value::as_str).unwrap_or_default();
    if status != 200 || v.get("error").is_some() {
        return Err(format!(
            "the token endpoint answered {status}: {}: {}",
            text("error"),
            text("error_description")
        ));
    }
    let token = text("access_token");
    if token.is_empty() {
        return Err("the token answer has no access_token".into());
    }
    let expires_in = match v.get("expires_in") {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    }
    .unwrap_or(3600);
    Ok((token.to_string(), expires_in))
}

pub struct AzureTokenRefresher {
    pub gateway: Arc<Gateway>,
    /// When each deployment's token is due to be fetched again.
    refresh_at: DashMap<String, Instant>,
}

impl AzureTokenRefresher {
    pub fn new(gateway: Arc<Gateway>) -> Self {
        AzureTokenRefresher {
            gateway,
            refresh_at: DashMap::new(),
        }
    }

    async fn refresh_due(&self) -> Duration {
        let snapshot = self.gateway.snapshot.load_full();
        let mut next = IDLE_CHECK;
        for (_, d) in snapshot.models.deployments() {
            let Some(source) = source_for(d) else {
                continue;
            };
            let now = Instant::now();
            let cell = &d.state.access_token;
            let due = match self.refresh_at.get(&d.id) {
                Some(at) if cell.get().is_some() => at.saturating_duration_since(now),
                _ => Duration::ZERO,
            };
            if !due.is_zero() {
                next = next.min(due);
                continue;
            }
            match fetch(self.gateway.upstream.resolver(), &source).await {
                Ok((token, expires_in)) => {
                    cell.set(Some(token));
                    let lifetime = Duration::from_secs(expires_in);
                    let wait = lifetime
                        .saturating_sub(REFRESH_BEFORE_EXPIRY.min(lifetime / 2))
                        .max(Duration::from_secs(1));
                    self.refresh_at.insert(d.id.clone(), now + wait);
                    next = next.min(wait);
                }
                Err(e) => {
                    log::warn!("azure deployment {}: Entra ID token: {e}", d.id);
                    next = next.min(RETRY_AFTER_FAILURE);
                }
            }
        }
        next
    }
}

fn source_for(d: &Deployment) -> Option<TokenSource> {
    if d.provider.wire != Wire::Azure || d.mock_response.is_some() {
        return None;
    }
    let param = |name: &str| {
        d.extra_param(name)
            .filter(|v| !v.trim().is_empty())
            .map(str::to_string)
    };
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    source(d.api_key.is_some(), &param, &env)
}

#[async_trait]
impl BackgroundService for AzureTokenRefresher {
    async fn start(&self, shutdown: ShutdownWatch) {
        super::refresh_until_shutdown(shutdown, || self.refresh_due()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn source_with(
        key: bool,
        params: &[(&str, &str)],
        env: &[(&str, &str)],
    ) -> Option<TokenSource> {
        let p: HashMap<_, _> = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let e: HashMap<_, _> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        source(key, &|k| p.get(k).cloned(), &|k| e.get(k).cloned())
    }

    #[test]
    fn sources_in_order() {
        assert_eq!(source_with(true, &[], &[]), None);
        assert_eq!(source_with(false, &[("azure_ad_token", "t")], &[]), None);
        let cc = [
            ("tenant_id", "my-tenant"),
            ("client_id", "cid"),
            ("client_secret", "cs"),
        ];
        assert_eq!(
            source_with(
                false,
                &cc,
                &[("AZURE_AUTHORITY_HOST", "http://127.0.0.1:9/")]
            ),
            Some(TokenSource::ClientCredentials {
                token_url: "http://127.0.0.1:9/my-tenant/oauth2/v2.0/token".into(),
                client_id: "cid".into(),
                client_secret: "cs".into(),
            })
        );
        let env_cc = [
            ("AZURE_TENANT_ID", "t"),
            ("AZURE_CLIENT_ID", "c"),
            ("AZURE_CLIENT_SECRET", "s"),
        ];
        assert!(
            matches!(source_with(false, &[], &env_cc), Some(TokenSource::ClientCredentials { token_url, .. }) if token_url == "https://login.microsoftonline.com/t/oauth2/v2.0/token")
        );
        let app_service = [
            ("IDENTITY_ENDPOINT", "http://127.0.0.1:9/msi/token"),
            ("IDENTITY_HEADER", "h"),
        ];
        assert!(
            matches!(source_with(false, &[], &app_service), Some(TokenSource::IdentityEndpoint { url, secret })
            if url == "http://127.0.0.1:9/msi/token?api-version=2019-08-01&resource=https%3A%2F%2Fcognitiveservices.azure.com" && secret == "h")
        );
        // The link-local default only when nothing overrides it (never reached in tests).
        assert!(
            matches!(source_with(false, &[], &[]), Some(TokenSource::Imds { url }) if url.starts_with("http://169.254.169.254/metadata/identity/oauth2/token?"))
        );
        let user_assigned = source_with(
            false,
            &[],
            &[
                ("AZURE_CLIENT_ID", "uami"),
                ("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:9"),
            ],
        );
        assert!(
            matches!(user_assigned, Some(TokenSource::Imds { url }) if url.starts_with("http://127.0.0.1:9/") && url.ends_with("&client_id=uami"))
        );
    }

    #[test]
    fn token_answers() {
        assert_eq!(
            parse_token(200, br#"{"access_token":"a","expires_in":3599}"#),
            Ok(("a".into(), 3599))
        );
        assert_eq!(
            parse_token(200, br#"{"access_token":"a","expires_in":"86399"}"#),
            Ok(("a".into(), 86399))
        );
        let e = parse_token(
            400,
            br#"{"error":"invalid_client","error_description":"AADSTS7000215"}"#,
        )
        .unwrap_err();
        assert!(
            e.contains("invalid_client") && e.contains("AADSTS7000215"),
            "{e}"
        );
        assert!(parse_token(200, b"{}").is_err());
        assert!(parse_token(502, b"<html>").is_err());
    }
}
