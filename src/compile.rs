//! Compiling a loaded config into what the request path runs on: each `model_list` entry into
//! a `Deployment` (a leaf type the providers and the router share), then the router's model
//! table. This is the one place that knows config, providers and router together, so none of
//! those three depends on another in a cycle.

use crate::config::DeploymentConfig;
use crate::deployment::{Deployment, DeploymentState};
use crate::providers;
use crate::router::{LeftOut, ModelTable, StateRegistry};
use crate::spend::prices;
use crate::upstream::Endpoint;
use http::{HeaderName, HeaderValue};
use std::collections::HashMap;
use std::sync::Arc;

/// The router's table for `configs`; router state for deployment ids seen before is reused. An
/// entry with a problem of its own (found by the loader, or here) is left out of its group and
/// logged, never fatal for the rest.
pub fn model_table(
    configs: &[DeploymentConfig],
    group_aliases: HashMap<String, String>,
    states: &StateRegistry,
) -> Result<ModelTable, String> {
    let mut deployments = Vec::with_capacity(configs.len());
    let mut left_out = Vec::new();
    for c in configs {
        let built = match &c.problem {
            Some(problem) => Err(problem.clone()),
            None => {
                let state = states.entry(c.id.clone()).or_default().clone();
                deployment(c, state)
            }
        };
        match built {
            Ok(d) => deployments.push((c.model_name.clone(), Arc::new(d))),
            Err(reason) => {
                if c.problem.is_none() {
                    log::warn!("config: {reason}; this deployment is left out");
                }
                left_out.push(LeftOut {
                    model_name: c.model_name.clone(),
                    model: format!("{}/{}", c.provider.name, c.model),
                    id: c.id.clone(),
                    reason,
                });
            }
        }
    }
    ModelTable::build(deployments, left_out, group_aliases)
}

/// A deployment's runtime form from its config entry: endpoint parsed, prices looked up, the
/// provider's static headers (auth, versions) built once.
pub fn deployment(c: &DeploymentConfig, state: Arc<DeploymentState>) -> Result<Deployment, String> {
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
        price: crate::spend::cost::Price::resolve(
            c.provider.name,
            price_model,
            c.model_info.input_cost_per_token,
            c.model_info.output_cost_per_token,
            c.model_info.max_output_tokens,
        ),
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
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("deployment {}: invalid header name {name:?}", c.model_name))?;
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
