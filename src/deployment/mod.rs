//! One deployment as the request path uses it: its provider, endpoint, credentials and pre-built
//! headers, compiled from its config entry by the snapshot (`crate::compile`). A leaf: it knows
//! nothing of the config format, the providers' translations or the router's choices.

pub mod state;

pub use state::DeploymentState;

use crate::error::GatewayError;
use crate::registry::ProviderSpec;
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
    pub(crate) endpoint: Result<Endpoint, String>,
    /// `api_base` as shown to operators and in `x-litellm-model-api-base`.
    pub api_base: String,
    pub api_key: Option<crate::secret::Secret>,
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
    /// What a token costs here, for spend and budgets.
    pub price: crate::spend::cost::Price,
    /// Health checks call this model with a one-token completion, when set.
    pub health_check_model: Option<String>,
    /// What the router has learned about this deployment (kept across reloads).
    pub state: Arc<DeploymentState>,
    pub mock_response: Option<String>,
    /// `drop_params` set on this deployment.
    pub drop_params: Option<bool>,
    /// Auth, version and configured extra headers, sent on every call.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub(crate) extra_params: HashMap<String, String>,
}

impl Deployment {
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
