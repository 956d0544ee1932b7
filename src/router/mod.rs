//! Model groups and the choice of a deployment for each request.
//!
//! Every `model_list` entry with the same `model_name` joins one group; wildcard names
//! (`openai/*`, `*`) match requested models by pattern. A request picks one deployment of its
//! group: the lowest `order` tier first, then a weighted shuffle within it (LiteLLM's
//! `simple-shuffle`).

mod deployment;

pub use deployment::Deployment;

use crate::config::DeploymentConfig;
use crate::error::GatewayError;
use rand::Rng;
use std::collections::HashMap;
use std::sync::Arc;

pub struct ModelGroup {
    pub name: Arc<str>,
    /// Sorted by `order`, so the first tier is a prefix.
    pub deployments: Vec<Arc<Deployment>>,
}

pub struct ModelTable {
    groups: HashMap<String, Arc<ModelGroup>>,
    /// (pattern, group), most specific (longest) pattern first.
    wildcards: Vec<(String, Arc<ModelGroup>)>,
    /// Aliases in config order, for `/v1/models`.
    aliases: Vec<Arc<str>>,
}

/// The deployment chosen for one request.
pub struct Selection {
    pub group: Arc<ModelGroup>,
    pub deployment: Arc<Deployment>,
    /// The provider's model for this call: the deployment's, with a wildcard filled in.
    pub upstream_model: String,
}

impl ModelTable {
    pub fn build(configs: &[DeploymentConfig]) -> Result<ModelTable, String> {
        let mut by_name: Vec<(String, Vec<Arc<Deployment>>)> = Vec::new();
        for c in configs {
            let d = Arc::new(Deployment::from_config(c)?);
            match by_name.iter_mut().find(|(n, _)| *n == c.model_name) {
                Some((_, ds)) => ds.push(d),
                None => by_name.push((c.model_name.clone(), vec![d])),
            }
        }
        let mut table = ModelTable {
            groups: HashMap::new(),
            wildcards: Vec::new(),
            aliases: Vec::new(),
        };
        for (name, mut deployments) in by_name {
            deployments.sort_by_key(|d| d.order);
            let group = Arc::new(ModelGroup {
                name: Arc::from(name.as_str()),
                deployments,
            });
            if name.contains('*') {
                table.wildcards.push((name, group));
            } else {
                table.aliases.push(Arc::clone(&group.name));
                table.groups.insert(name, group);
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

    pub fn select(&self, requested: &str) -> Result<Selection, GatewayError> {
        if let Some(group) = self.groups.get(requested) {
            let deployment = pick(&group.deployments);
            return Ok(Selection {
                upstream_model: deployment.model.clone(),
                group: Arc::clone(group),
                deployment,
            });
        }
        for (pattern, group) in &self.wildcards {
            if let Some(captured) = match_wildcard(pattern, requested) {
                let deployment = pick(&group.deployments);
                let upstream_model = deployment.model.replacen('*', captured, 1);
                return Ok(Selection {
                    group: Arc::clone(group),
                    deployment,
                    upstream_model,
                });
            }
        }
        Err(GatewayError::unknown_model(requested))
    }
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

/// Weighted random choice within the lowest `order` tier. Weights come from `weight`, else
/// `rpm`, else `tpm`, else are equal, as in LiteLLM's simple-shuffle.
fn pick(deployments: &[Arc<Deployment>]) -> Arc<Deployment> {
    let first_order = deployments[0].order;
    let tier_len = deployments
        .iter()
        .take_while(|d| d.order == first_order)
        .count();
    let tier = &deployments[..tier_len];
    if tier.len() == 1 {
        return Arc::clone(&tier[0]);
    }
    let total: f64 = tier.iter().map(|d| d.weight).sum();
    let mut rng = rand::thread_rng();
    if total <= 0.0 {
        return Arc::clone(&tier[rng.gen_range(0..tier.len())]);
    }
    let mut x = rng.gen_range(0.0..total);
    for d in tier {
        if x < d.weight {
            return Arc::clone(d);
        }
        x -= d.weight;
    }
    Arc::clone(&tier[tier.len() - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_capture_the_rest() {
        assert_eq!(match_wildcard("openai/*", "openai/gpt-4o"), Some("gpt-4o"));
        assert_eq!(match_wildcard("*", "anything"), Some("anything"));
        assert_eq!(match_wildcard("gpt-4*-mini", "gpt-4o-mini"), Some("o"));
        assert_eq!(match_wildcard("openai/*", "groq/x"), None);
        assert_eq!(match_wildcard("openai/*", "openai/"), None);
    }
}
