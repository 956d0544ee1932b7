//! One deployment as the request path uses it: its provider, endpoint and pre-built headers.

use crate::config::DeploymentConfig;
use crate::error::GatewayError;
use crate::providers::{self, ProviderSpec};
use crate::upstream::Endpoint;
use http::{HeaderName, HeaderValue};
use std::collections::HashMap;
use std::time::Duration;

pub struct Deployment {
    pub id: String,
    pub provider: &'static ProviderSpec,
    /// The provider's model name (may hold a `*` filled in per request).
    pub model: String,
    endpoint: Result<Endpoint, String>,
    /// `api_base` as shown to operators and in `x-litellm-model-api-base`.
    pub api_base: String,
    pub api_key: Option<String>,
    pub api_version: Option<String>,
    pub organization: Option<String>,
    pub timeout: Option<Duration>,
    pub stream_timeout: Option<Duration>,
    pub weight: f64,
    pub order: u64,
    pub mock_response: Option<String>,
    /// Auth, version and configured extra headers, sent on every call.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    extra_params: HashMap<String, String>,
}

impl Deployment {
    pub fn from_config(c: &DeploymentConfig) -> Result<Deployment, String> {
        let endpoint = match &c.api_base {
            Some(base) => Endpoint::parse(base),
            None => Err(format!(
                "no api_base configured for provider {:?}",
                c.provider.name
            )),
        };
        let mut d = Deployment {
            id: c.id.clone(),
            provider: c.provider,
            model: c.model.clone(),
            api_base: endpoint.as_ref().map(Endpoint::display).unwrap_or_default(),
            endpoint,
            api_key: c.api_key.clone(),
            api_version: c.api_version.clone(),
            organization: c.organization.clone(),
            timeout: c.timeout.map(Duration::from_secs_f64),
            stream_timeout: c.stream_timeout.map(Duration::from_secs_f64),
            // simple-shuffle weights: `weight`, else `rpm`, else `tpm`, else equal.
            weight: c
                .weight
                .or(c.rpm.map(|r| r as f64))
                .or(c.tpm.map(|t| t as f64))
                .unwrap_or(1.0),
            order: c.order.unwrap_or(u64::MAX),
            mock_response: c.mock_response.clone(),
            headers: Vec::new(),
            extra_params: c.extra_params.clone(),
        };
        let mut headers = providers::for_wire(c.provider.wire)
            .static_headers(&d)
            .map_err(|e| format!("deployment {}: {e}", c.model_name))?;
        for (name, value) in &c.extra_headers {
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                format!("deployment {}: invalid header name {name:?}", c.model_name)
            })?;
            let value = HeaderValue::from_str(value).map_err(|_| {
                format!(
                    "deployment {}: invalid value for header {name}",
                    c.model_name
                )
            })?;
            headers.push((name, value));
        }
        d.headers = headers;
        Ok(d)
    }

    pub fn endpoint(&self) -> Result<&Endpoint, GatewayError> {
        self.endpoint.as_ref().map_err(|e| {
            GatewayError::internal(format!("deployment {} is misconfigured: {e}", self.id))
        })
    }

    pub fn extra_param(&self, name: &str) -> Option<&str> {
        self.extra_params.get(name).map(String::as_str)
    }
}
