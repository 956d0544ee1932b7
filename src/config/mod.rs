//! Tollgate's configuration, in LiteLLM's `config.yaml` format.
//!
//! `load` reads a file into a validated [`GatewayConfig`] or the full list of problems, each
//! with its YAML path. The request path never sees this type: `crate::snapshot` compiles it into
//! the runtime tables that are swapped in whole.

pub mod cache;
mod model_list;
pub mod redis;
pub mod reliability;
mod settings;
pub mod traces;
pub mod yaml;

pub use crate::secret::Secret;
pub use model_list::{DeploymentConfig, ModelInfo};
pub use settings::{GeneralSettings, LitellmSettings, MetricsSettings, RouterSettings};

use serde_yaml::Value;
use std::collections::HashMap;
use std::path::Path;
use yaml::{for_each_entry, Diagnostics, EnvSource, Node, PathBuf};

#[derive(Debug, Default, Clone)]
pub struct GatewayConfig {
    pub model_list: Vec<DeploymentConfig>,
    pub general: GeneralSettings,
    pub litellm: LitellmSettings,
    pub router: RouterSettings,
}

/// A config that failed to load: every error found, not just the first.
#[derive(Debug)]
pub struct ConfigErrors(pub Vec<String>);

impl std::fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// A loaded config and the warnings met on the way (unknown keys, unset env vars, ...).
pub struct Loaded {
    pub config: GatewayConfig,
    pub warnings: Vec<String>,
}

pub fn load_file(path: &Path) -> Result<Loaded, ConfigErrors> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigErrors(vec![format!("{}: cannot read: {e}", path.display())]))?;
    load_str(&text)
}

pub fn load_str(text: &str) -> Result<Loaded, ConfigErrors> {
    // Configs edited on Windows arrive with CRLF; YAML handles it, but strip stray CRs anyway so
    // they never end up inside values.
    let text = text.replace("\r\n", "\n");
    let root: Value = serde_yaml::from_str(&text)
        .map_err(|e| ConfigErrors(vec![format!("config is not valid YAML: {e}")]))?;
    let mut diag = Diagnostics::default();
    let config = read_root(&root, &mut diag);
    if diag.errors.is_empty() {
        Ok(Loaded {
            config,
            warnings: diag.warnings,
        })
    } else {
        // The warnings too: a refused file's owner should see everything at once.
        let mut all = diag.errors;
        all.extend(diag.warnings.into_iter().map(|w| format!("warning: {w}")));
        Err(ConfigErrors(all))
    }
}

/// One deployment given as JSON through the model API (`/model/new`: `model_name`,
/// `litellm_params`, `model_info`), read with the same checks as a `model_list` entry and named
/// by `path` in its messages. `Err` when it is not a deployment at all; a deployment with a
/// problem of its own comes back with `problem` set, as from a config file.
pub fn read_stored_deployment(
    entry: &serde_json::Value,
    path: &str,
) -> Result<(DeploymentConfig, Vec<String>), String> {
    let value: Value = serde_yaml::to_value(entry).map_err(|e| format!("{path}: {e}"))?;
    let p = PathBuf::root(path);
    let mut diag = Diagnostics::default();
    let env = EnvSource::default();
    let read = model_list::read_deployment(Node::new(&value, &p), &env, &HashMap::new(), &mut diag);
    match read {
        Some(d) if diag.errors.is_empty() => Ok((d, diag.warnings)),
        _ => Err(diag.errors.join("; ")),
    }
}

fn read_root(root: &Value, diag: &mut Diagnostics) -> GatewayConfig {
    let mut config = GatewayConfig::default();
    let root_path = PathBuf::root("");
    let map = match Node::new(root, &root_path).value {
        Value::Mapping(m) => m,
        Value::Null => return config,
        _ => {
            diag.error("(root)", "the config must be a mapping of sections");
            return config;
        }
    };

    // `environment_variables` first: `os.environ/` references anywhere may point into it.
    let env = read_environment_variables(map, diag);
    let mut credentials = HashMap::new();
    if let Some(v) = map.get("credential_list") {
        let p = PathBuf::root("credential_list");
        credentials = model_list::read_credentials(Node::new(v, &p), &env, diag);
    }

    for_each_entry(map, "", diag, |key, node, diag| match key {
        "model_list" => {
            config.model_list = model_list::read_model_list(node, &env, &credentials, diag)
        }
        "general_settings" => config.general = settings::read_general(node, &env, diag),
        "litellm_settings" => config.litellm = settings::read_litellm(node, &env, diag),
        "router_settings" => config.router = settings::read_router(node, &env, diag),
        "environment_variables" | "credential_list" => {}
        "include"
        | "guardrails"
        | "mcp_servers"
        | "vector_store_registry"
        | "files_settings"
        | "finetune_settings"
        | "assistant_settings"
        | "prompts"
        | "search_tools" => diag.warn(node.path(), "not supported by Tollgate yet; ignored"),
        _ => diag.warn(node.path(), "unknown section; ignored"),
    });
    // The cache's connection keys name the shared Redis too, where the router settings did not.
    for (key, value) in &config.litellm.cache.connection {
        let path = PathBuf::key("litellm_settings.cache_params", key);
        config
            .router
            .redis
            .read_cache_param(key, Node::new(value, &path), &env, diag);
    }
    config.router.redis.fill_from_env(&env);
    // LiteLLM reads this one from the environment too (`STORE_MODEL_IN_DB=True`).
    if let Some(v) = env.get("STORE_MODEL_IN_DB") {
        config.general.store_model_in_db = v.trim().eq_ignore_ascii_case("true");
    }
    config
}

fn read_environment_variables(map: &serde_yaml::Mapping, diag: &mut Diagnostics) -> EnvSource {
    let mut overlay = HashMap::new();
    if let Some(v) = map.get("environment_variables") {
        let p = PathBuf::root("environment_variables");
        let node = Node::new(v, &p);
        if let Some(m) = node.mapping(diag) {
            let plain = EnvSource::default();
            for_each_entry(m, node.path(), diag, |name, value, diag| {
                if let Some(s) = value.string(&plain, diag) {
                    overlay.insert(name.to_string(), s);
                }
            });
        }
    }
    EnvSource::new(overlay)
}

#[cfg(test)]
mod tests;
