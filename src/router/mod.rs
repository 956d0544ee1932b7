//! Model groups and the choice of a deployment for each attempt.
//!
//! Every `model_list` entry with the same `model_name` joins one group; wildcard names
//! (`openai/*`, `*`) match requested models by pattern; `model_group_alias` adds names. Within a
//! group, the lowest `order` tier with an available deployment (healthy, not cooling down, not
//! already failed in this request, big enough) is used, and the routing strategy picks in it.

pub mod failure;
pub mod policy;
pub mod strategy;

pub use crate::deployment::{Deployment, DeploymentState};
pub use failure::FailureClass;
pub use policy::RoutingPolicy;

use crate::error::GatewayError;
use dashmap::DashMap;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use strategy::PickInput;

/// Router state per deployment id, kept across config reloads.
pub type StateRegistry = DashMap<String, Arc<DeploymentState>>;

pub struct ModelGroup {
    pub name: Arc<str>,
    /// Sorted by `order`, so each tier is a run.
    pub deployments: Vec<Arc<Deployment>>,
    /// Entries of this group that cannot serve, and why (from the config warnings).
    pub left_out: Vec<LeftOut>,
}

/// A `model_list` entry left out of its group: it stays visible (in `/health`, in the error
/// a call to an otherwise empty group gets) instead of stopping the gateway.
#[derive(Debug, Clone)]
pub struct LeftOut {
    pub model_name: String,
    pub model: String,
    pub id: String,
    pub reason: String,
}

pub struct ModelTable {
    groups: HashMap<String, Arc<ModelGroup>>,
    /// (pattern, group), most specific (longest) pattern first.
    wildcards: Vec<(String, Arc<ModelGroup>)>,
    /// `model_group_alias`: alias → group name.
    group_aliases: HashMap<String, String>,
    /// Aliases in config order, for `/v1/models`.
    aliases: Vec<Arc<str>>,
    /// Every deployment in config order, for choices that must not change between restarts.
    in_order: Vec<Arc<Deployment>>,
}

/// A requested model resolved to its group.
pub struct Resolved {
    pub group: Arc<ModelGroup>,
    /// The name the answer reports as its group (the requested name for wildcards).
    pub group_name: Arc<str>,
    /// What `*` matched, for wildcard groups.
    pub wildcard: Option<String>,
}

/// Why no deployment could be chosen.
pub struct NoDeployment {
    /// Soonest end of a cooldown, when deployments are cooling down.
    pub retry_in: Option<Duration>,
}

impl ModelTable {
    /// Groups compiled deployments (`(model_name, deployment)` in config order) by name; the
    /// left-out entries join their groups' lists (a group may have only those).
    pub fn build(
        deployments: Vec<(String, Arc<Deployment>)>,
        left_out: Vec<LeftOut>,
        group_aliases: HashMap<String, String>,
    ) -> Result<ModelTable, String> {
        type Members = (Vec<Arc<Deployment>>, Vec<LeftOut>);
        let mut by_name: Vec<(String, Members)> = Vec::new();
        let mut in_order = Vec::with_capacity(deployments.len());
        fn members<'a>(by_name: &'a mut Vec<(String, Members)>, name: &str) -> &'a mut Members {
            let i = match by_name.iter().position(|(n, _)| n == name) {
                Some(i) => i,
                None => {
                    by_name.push((name.to_string(), (Vec::new(), Vec::new())));
                    by_name.len() - 1
                }
            };
            &mut by_name[i].1
        }
        for (model_name, d) in deployments {
            in_order.push(Arc::clone(&d));
            members(&mut by_name, &model_name).0.push(d);
        }
        for l in left_out {
            let name = l.model_name.clone();
            members(&mut by_name, &name).1.push(l);
        }
        let mut table = ModelTable {
            groups: HashMap::new(),
            wildcards: Vec::new(),
            group_aliases,
            aliases: Vec::new(),
            in_order,
        };
        for (name, (mut deployments, left_out)) in by_name {
            deployments.sort_by_key(|d| d.order);
            let group = Arc::new(ModelGroup {
                name: Arc::from(name.as_str()),
                deployments,
                left_out,
            });
            if name.contains('*') {
                table.wildcards.push((name, group));
            } else {
                table.aliases.push(Arc::clone(&group.name));
                table.groups.insert(name, group);
            }
        }
        for (alias, target) in &table.group_aliases {
            if !table.groups.contains_key(target) {
                return Err(format!(
                    "model_group_alias {alias:?} points to unknown model group {target:?}"
                ));
            }
        }
        table
            .wildcards
            .sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
        Ok(table)
    }

    pub fn aliases(&self) -> &[Arc<str>] {
        &self.aliases
    }

    pub fn has_group(&self, name: &str) -> bool {
        self.groups.contains_key(name) || self.group_aliases.contains_key(name)
    }

    /// Every left-out entry, for `/health`.
    pub fn left_out(&self) -> impl Iterator<Item = &LeftOut> {
        self.groups
            .values()
            .chain(self.wildcards.iter().map(|(_, g)| g))
            .flat_map(|g| g.left_out.iter())
    }

    /// Every deployment, for health checks and `/health`.
    pub fn deployments(&self) -> impl Iterator<Item = (&Arc<str>, &Arc<Deployment>)> {
        self.groups
            .values()
            .chain(self.wildcards.iter().map(|(_, g)| g))
            .flat_map(|g| g.deployments.iter().map(move |d| (&g.name, d)))
    }

    /// Every deployment in the order of `model_list`.
    pub fn in_config_order(&self) -> &[Arc<Deployment>] {
        &self.in_order
    }

    pub fn resolve(&self, requested: &str) -> Result<Resolved, GatewayError> {
        let name = self
            .group_aliases
            .get(requested)
            .map(String::as_str)
            .unwrap_or(requested);
        if let Some(group) = self.groups.get(name) {
            return Ok(Resolved {
                group_name: Arc::clone(&group.name),
                group: Arc::clone(group),
                wildcard: None,
            });
        }
        for (pattern, group) in &self.wildcards {
            if let Some(captured) = match_wildcard(pattern, requested) {
                return Ok(Resolved {
                    group: Arc::clone(group),
                    group_name: Arc::from(requested),
                    wildcard: Some(captured.to_string()),
                });
            }
        }
        Err(GatewayError::unknown_model(requested))
    }
}

/// Picks the deployment for one attempt: lowest available `order` tier, then the strategy.
/// Deployments in `tried` are avoided while any other is available.
pub fn choose(
    group: &ModelGroup,
    policy: &RoutingPolicy,
    tried: &[Arc<Deployment>],
    input: &PickInput,
) -> Result<Arc<Deployment>, NoDeployment> {
    choose_among(group, policy, tried, &[], input)
}

/// `choose`, never picking a deployment in `full` (at its `rpm` / `tpm` for now).
pub fn choose_among(
    group: &ModelGroup,
    policy: &RoutingPolicy,
    tried: &[Arc<Deployment>],
    full: &[Arc<Deployment>],
    input: &PickInput,
) -> Result<Arc<Deployment>, NoDeployment> {
    let mut soonest: Option<Duration> = None;
    for avoid_tried in [true, false] {
        let mut tier_start = 0;
        while tier_start < group.deployments.len() {
            let order = group.deployments[tier_start].order;
            let tier_len = group.deployments[tier_start..]
                .iter()
                .take_while(|d| d.order == order)
                .count();
            let tier = &group.deployments[tier_start..tier_start + tier_len];
            tier_start += tier_len;
            let available: Vec<&Arc<Deployment>> = tier
                .iter()
                .filter(|d| {
                    if full.iter().any(|f| Arc::ptr_eq(f, d)) {
                        return false;
                    }
                    if avoid_tried && tried.iter().any(|t| Arc::ptr_eq(t, d)) {
                        return false;
                    }
                    if let Some(left) = d.state.cooldown_left(input.now) {
                        soonest = Some(soonest.map_or(left, |s| s.min(left)));
                        return false;
                    }
                    d.state.is_healthy()
                        && (!policy.pre_call_checks || d.fits(input.estimated_tokens))
                })
                .collect();
            if available.is_empty() {
                continue;
            }
            let mut rng = rand::thread_rng();
            if let Some(i) = policy.strategy.pick(&available, input, &mut rng) {
                return Ok(Arc::clone(available[i]));
            }
        }
    }
    Err(NoDeployment { retry_in: soonest })
}

/// LiteLLM's answer when a whole group is cooling down or unavailable.
pub fn no_deployment_error(
    requested: &str,
    policy: &RoutingPolicy,
    none: &NoDeployment,
) -> GatewayError {
    let wait = none
        .retry_in
        .unwrap_or(policy.cooldown)
        .as_secs_f64()
        .ceil()
        .max(1.0);
    GatewayError::new(
        429,
        "rate_limit_error",
        format!(
            "No deployments available for selected model, Try again in {wait} seconds. Passed model={requested}. pre-call-checks={}",
            policy.pre_call_checks
        ),
    )
}

/// What `*` matched, if `name` fits `pattern` (one `*`, e.g. `openai/*`, `*`, `gpt-4*`).
fn match_wildcard<'a>(pattern: &str, name: &'a str) -> Option<&'a str> {
    let (prefix, suffix) = pattern.split_once('*')?;
    if name.len() < prefix.len() + suffix.len() {
        return None;
    }
    let captured = name.strip_prefix(prefix)?.strip_suffix(suffix)?;
    (!captured.is_empty()).then_some(captured)
}

pub fn now() -> Instant {
    Instant::now()
}

#[cfg(test)]
mod tests;
