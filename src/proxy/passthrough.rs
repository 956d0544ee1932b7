//! Passthrough routes: `/anthropic/*`, `/gemini/*`, `/openai/*` forward the rest of the path to
//! the provider with the gateway's credentials for it and the client's body untouched. These go
//! through Pingora's own proxy loop (`upstream_peer` and friends), which streams bodies of any
//! size both ways.

use crate::error::GatewayError;
use crate::providers::registry;
use crate::state::{Gateway, Snapshot};
use crate::upstream::Endpoint;
use http::{HeaderName, HeaderValue};
use pingora::http::RequestHeader;
use pingora::upstreams::peer::HttpPeer;
use std::net::SocketAddr;
use std::time::Duration;

/// Where one passthrough request goes.
pub struct Target {
    addr: SocketAddr,
    endpoint: Endpoint,
    path_and_query: String,
    auth: Vec<(HeaderName, HeaderValue)>,
    /// Connect, and each read and write: a provider that never answers is given up on.
    timeout: Duration,
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Client headers that carry the gateway key; never forwarded.
const CLIENT_KEY_HEADERS: &[&str] = &[
    "authorization",
    "x-api-key",
    "api-key",
    "x-litellm-api-key",
    "x-goog-api-key",
];

/// The provider a passthrough path names, and the rest of the path.
pub fn split_path(path: &str) -> Option<(&'static str, &str)> {
    for provider in ["anthropic", "gemini", "openai"] {
        if let Some(rest) = path
            .strip_prefix('/')
            .and_then(|p| p.strip_prefix(provider))
        {
            if rest.starts_with('/') {
                return Some((provider, rest));
            }
        }
    }
    None
}

pub async fn target(
    gateway: &Gateway,
    snapshot: &Snapshot,
    provider: &str,
    rest: &str,
    query: Option<&str>,
) -> Result<Target, GatewayError> {
    if !snapshot.config.general.provider_passthrough {
        return Err(GatewayError::not_found(format!(
            "Route /{provider}{rest} not found: provider passthrough is switched off (general_settings.provider_passthrough)"
        )));
    }
    if !crate::upstream::path::is_safe_passthrough_path(rest) {
        return Err(GatewayError::bad_request(format!(
            "invalid passthrough path /{provider}{rest}: no '.' or '..' segments, encoded slashes or backslashes"
        )));
    }
    let (endpoint, auth, timeout) = credentials(snapshot, provider)?;
    // A configured base may carry the API version (`.../v1beta`); the client's path has it too.
    let base = strip_version(&endpoint.base_path);
    let mut path_and_query = format!("{base}{rest}");
    // The client's `key=` (Google's clients put the gateway key there) is not the provider's.
    let kept: Vec<&str> = query
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty() && !(provider == "gemini" && pair.starts_with("key=")))
        .collect();
    if !kept.is_empty() {
        path_and_query.push('?');
        path_and_query.push_str(&kept.join("&"));
    }
    let addr = gateway
        .upstream
        .resolver()
        .resolve(&endpoint.host, endpoint.port)
        .await
        .map_err(|e| GatewayError::upstream_unreachable(provider, provider, &e))?;
    Ok(Target {
        addr,
        endpoint,
        path_and_query,
        auth,
        timeout,
    })
}

type Credentials = (Endpoint, Vec<(HeaderName, HeaderValue)>, Duration);

/// The endpoint, auth headers and timeout for a provider: from its first deployment in
/// `model_list` order (the same one on every start), else from its default base URL and API-key
/// environment variable.
fn credentials(snapshot: &Snapshot, provider: &str) -> Result<Credentials, GatewayError> {
    let from_deployment =
        snapshot.models.in_config_order().iter().find(|d| {
            d.provider.name == provider && d.mock_response.is_none() && d.endpoint().is_ok()
        });
    if let Some(d) = from_deployment {
        let timeout = d.timeout.unwrap_or(snapshot.default_timeout);
        let endpoint = d.endpoint()?.clone();
        let auth = d
            .headers
            .iter()
            .filter(|(n, _)| *n != http::header::CONTENT_TYPE)
            .cloned()
            .collect();
        return Ok((endpoint, auth, timeout));
    }
    let spec = registry::lookup(provider)
        .ok_or_else(|| GatewayError::not_found(format!("unknown provider {provider}")))?;
    let base = spec.default_api_base.ok_or_else(|| {
        GatewayError::not_found(format!("no {provider} deployment is configured"))
    })?;
    let endpoint = Endpoint::parse(base).map_err(GatewayError::internal)?;
    let key = spec
        .api_key_env
        .iter()
        .find_map(|v| std::env::var(v).ok())
        .unwrap_or_default();
    let auth = match provider {
        "anthropic" => vec![("x-api-key", key)],
        "gemini" => vec![("x-goog-api-key", key)],
        _ => vec![("authorization", format!("Bearer {}", key))],
    };
    let auth = auth
        .into_iter()
        .filter(|(_, v)| !v.is_empty() && v != "Bearer ")
        .filter_map(|(n, v)| {
            let mut value = HeaderValue::from_str(&v).ok()?;
            value.set_sensitive(true);
            Some((HeaderName::from_static(n), value))
        })
        .collect();
    Ok((endpoint, auth, snapshot.default_timeout))
}

fn strip_version(base_path: &str) -> &str {
    match base_path.rsplit_once('/') {
        Some((head, last))
            if last.starts_with('v') && last[1..].starts_with(|c: char| c.is_ascii_digit()) =>
        {
            head
        }
        _ => base_path,
    }
}

/// The client's answer when proxying failed; `None` when the client itself is gone.
pub fn failure_error(e: &pingora::Error) -> Option<GatewayError> {
    use pingora::{ErrorSource, ErrorType};
    if let ErrorType::HTTPStatus(code) = e.etype() {
        return Some(GatewayError::new(*code, "api_error", e.to_string()));
    }
    match (e.esource(), e.etype()) {
        (ErrorSource::Downstream, _) => None,
        (_, ErrorType::ReadTimedout | ErrorType::WriteTimedout | ErrorType::ConnectTimedout) => {
            Some(GatewayError::new(
                408,
                "timeout",
                format!(
                    "litellm.Timeout: passthrough - the provider did not answer in time ({})",
                    e.etype().as_str()
                ),
            ))
        }
        _ => Some(GatewayError::new(
            502,
            "api_connection_error",
            format!(
                "litellm.APIConnectionError: passthrough - could not reach the provider: {}",
                e.etype().as_str()
            ),
        )),
    }
}

impl Target {
    pub fn peer(&self) -> HttpPeer {
        let mut peer = HttpPeer::new(self.addr, self.endpoint.tls, self.endpoint.host.clone());
        peer.options.connection_timeout = Some(CONNECT_TIMEOUT.min(self.timeout));
        peer.options.read_timeout = Some(self.timeout);
        peer.options.write_timeout = Some(self.timeout);
        peer
    }

    /// Points the request at the provider with the provider's credentials, not the client's.
    pub fn rewrite(&self, req: &mut RequestHeader) -> pingora::Result<()> {
        for h in CLIENT_KEY_HEADERS {
            req.remove_header(*h);
        }
        let uri = self.path_and_query.parse().map_err(|_| {
            pingora::Error::explain(
                pingora::ErrorType::InvalidHTTPHeader,
                "bad passthrough path",
            )
        })?;
        req.set_uri(uri);
        req.insert_header(http::header::HOST, self.endpoint.authority.as_str())?;
        for (name, value) in &self.auth {
            req.insert_header(name.clone(), value.clone())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_provider_prefixes() {
        assert_eq!(
            split_path("/anthropic/v1/models"),
            Some(("anthropic", "/v1/models"))
        );
        assert_eq!(
            split_path("/gemini/v1beta/models/x:generateContent"),
            Some(("gemini", "/v1beta/models/x:generateContent"))
        );
        assert_eq!(
            split_path("/openai/v1/files"),
            Some(("openai", "/v1/files"))
        );
        assert_eq!(split_path("/openaix/v1"), None);
        assert_eq!(split_path("/v1/chat/completions"), None);
    }

    #[test]
    fn strips_a_trailing_version_only() {
        assert_eq!(strip_version("/v1beta"), "");
        assert_eq!(strip_version("/openai/v1"), "/openai");
        assert_eq!(strip_version("/proxy/anthropic"), "/proxy/anthropic");
        assert_eq!(strip_version(""), "");
    }
}
