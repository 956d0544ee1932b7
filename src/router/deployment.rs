//! One deployment as the request path uses it: its provider, endpoint and pre-built headers.

use crate::config::DeploymentConfig;
use crate::error::GatewayError;
use crate::providers::{self, ProviderSpec};
use crate::router::DeploymentState;
use crate::spend::prices;
use crate::upstream::Endpoint;
use http::{HeaderName, HeaderValue};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

pub struct Deployment {
    pub id: String,
    pub provider: &'static ProviderSpec,
    /// The provider's model name (may hold a `*` filled in per request).
    pub model: String,
    endpoint: Result<Endpoint, String>,
    /// `api_base` as shown to operators and in `x-litellm-model-api-base`.
    pub api_base: String,
    pub api_key: Option<crate::config::Secret>,
    pub api_version: Option<String>,
    pub organization: Option<String>,
    pub timeout: Option<Duration>,
    pub stream_timeout: Option<Duration>,
    pub weight: f64,
    pub order: u64,
    pub rpm: Option<u64>,
    pub tpm: Option<u64>,
    /// Input + output price of one token, for cost-based routing.
    pub cost_per_token: Option<f64>,
    /// The context window, for pre-call checks.
    pub max_input_tokens: Option<u64>,
    /// Health checks call this model with a one-token completion, when set.
    pub health_check_model: Option<String>,
    /// What the router has learned about this deployment (kept across reloads).
    pub state: Arc<DeploymentState>,
    pub mock_response: Option<String>,
    /// `drop_params` set on this deployment.
    pub drop_params: Option<bool>,
    /// Auth, version and configured extra headers, sent on every call.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    extra_params: HashMap<String, String>,
}

impl Deployment {
    pub fn from_config(
        c: &DeploymentConfig,
        state: Arc<DeploymentState>,
    ) -> Result<Deployment, String> {
        let price_model = c.model_info.base_model.as_deref().unwrap_or(&c.model);
        let listed = prices::lookup(c.provider.name, price_model);
        let input_cost = c
            .model_info
            .input_cost_per_token
            .or(listed.and_then(|p| p.input_cost_per_token));
        let output_cost = c
            .model_info
            .output_cost_per_token
            .or(listed.and_then(|p| p.output_cost_per_token));
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
            timeout: c.timeout.map(crate::duration::from_secs),
            stream_timeout: c.stream_timeout.map(crate::duration::from_secs),
            // simple-shuffle weights: `weight`, else `rpm`, else `tpm`, else equal.
            weight: c
                .weight
                .or(c.rpm.map(|r| r as f64))
                .or(c.tpm.map(|t| t as f64))
                .unwrap_or(1.0),
            order: c.order.unwrap_or(u64::MAX),
            rpm: c.rpm,
            tpm: c.tpm,
            cost_per_token: match (input_cost, output_cost) {
                (None, None) => None,
                (i, o) => Some(i.unwrap_or(0.0) + o.unwrap_or(0.0)),
            },
            max_input_tokens: c
                .model_info
                .max_input_tokens
                .or(listed.and_then(|p| p.max_input_tokens)),
            health_check_model: c.model_info.health_check_model.clone(),
            state,
            mock_response: c.mock_response.clone(),
            drop_params: c.drop_params,
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

    /// Whether a prompt of `tokens` fits the context window (unknown windows fit anything).
    pub fn fits(&self, tokens: u64) -> bool {
        self.max_input_tokens.is_none_or(|max| tokens <= max)
    }

    pub fn extra_param(&self, name: &str) -> Option<&str> {
        self.extra_params.get(name).map(String::as_str)
    }
}
