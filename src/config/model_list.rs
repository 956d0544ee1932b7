//! `model_list` and `credential_list`: the deployments behind each model alias.

use super::settings::positive;
use super::yaml::{for_each_entry, Diagnostics, EnvSource, Node, PathBuf};
use crate::providers::registry::{self, ProviderSpec};
use crate::secret::Secret;
use serde_yaml::Value;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// One `model_list` entry, checked and with secrets resolved.
#[derive(Clone)]
pub struct DeploymentConfig {
    /// The alias clients send as `model` (may be a wildcard such as `openai/*` or `*`).
    pub model_name: String,
    pub provider: &'static ProviderSpec,
    /// The provider's model name, after the prefix (may contain `*` for wildcards).
    pub model: String,
    pub api_base: Option<String>,
    pub api_key: Option<Secret>,
    pub api_version: Option<String>,
    pub timeout: Option<f64>,
    pub stream_timeout: Option<f64>,
    pub max_retries: Option<u64>,
    pub rpm: Option<u64>,
    pub tpm: Option<u64>,
    pub weight: Option<f64>,
    pub order: Option<u64>,
    pub mock_response: Option<String>,
    pub drop_params: Option<bool>,
    pub organization: Option<String>,
    pub extra_headers: Vec<(String, String)>,
    /// Provider-specific params Tollgate passes on (`vertex_project`, `aws_region_name`, ...).
    pub extra_params: HashMap<String, String>,
    pub model_info: ModelInfo,
    /// `model_info.id`, or a stable hash of the entry as LiteLLM derives it.
    pub id: String,
    /// Why this deployment cannot serve (an unknown provider, an unusable `api_base`, ...),
    /// with its YAML path. Such a deployment is left out of its group, which still exists: a
    /// call that finds no usable deployment is told this, as a 400.
    pub problem: Option<String>,
}

impl std::fmt::Debug for DeploymentConfig {
    // Credentials in `extra_params` (AWS keys, Vertex service accounts) print redacted too.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let extra: std::collections::BTreeMap<&str, &str> = self
            .extra_params
            .iter()
            .map(|(k, v)| {
                let shown = if crate::secret::is_secret_param(k) {
                    "[redacted]"
                } else {
                    v.as_str()
                };
                (k.as_str(), shown)
            })
            .collect();
        f.debug_struct("DeploymentConfig")
            .field("model_name", &self.model_name)
            .field("provider", &self.provider.name)
            .field("model", &self.model)
            .field("api_base", &self.api_base)
            .field("api_key", &self.api_key)
            .field("extra_params", &extra)
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Default)]
pub struct ModelInfo {
    pub id: Option<String>,
    pub base_model: Option<String>,
    pub mode: Option<String>,
    pub input_cost_per_token: Option<f64>,
    pub output_cost_per_token: Option<f64>,
    pub max_input_tokens: Option<u64>,
    pub max_output_tokens: Option<u64>,
    /// Health checks make a real one-token completion with this model (LiteLLM's setting for
    /// wildcard deployments) instead of probing the base URL.
    pub health_check_model: Option<String>,
    /// Names a key's `models` may list to allow this model (LiteLLM's access groups).
    pub access_groups: Vec<String>,
}

/// Named credentials (`credential_list`) that deployments use through `litellm_credential_name`.
pub type Credentials = HashMap<String, HashMap<String, String>>;

pub fn read_credentials(node: Node, env: &EnvSource, diag: &mut Diagnostics) -> Credentials {
    let mut out = Credentials::new();
    let Some(items) = node.sequence(diag) else {
        return out;
    };
    for (i, item) in items.iter().enumerate() {
        let p = PathBuf::index(node.path(), i);
        let Some(map) = Node::new(item, &p).mapping(diag) else {
            continue;
        };
        let mut name = None;
        let mut values = HashMap::new();
        for_each_entry(map, p.as_str(), diag, |key, v, diag| match key {
            "credential_name" => name = v.string(env, diag),
            "credential_values" => {
                if let Some(m) = v.mapping(diag) {
                    for_each_entry(m, v.path(), diag, |k, val, diag| {
                        if let Some(s) = val.string(env, diag) {
                            values.insert(k.to_string(), s);
                        }
                    });
                }
            }
            "credential_info" => {}
            _ => diag.warn(v.path(), "unknown key; ignored"),
        });
        match name {
            Some(n) => {
                out.insert(n, values);
            }
            None => diag.error(p.as_str(), "credential_name is required"),
        }
    }
    out
}

pub fn read_model_list(
    node: Node,
    env: &EnvSource,
    credentials: &Credentials,
    diag: &mut Diagnostics,
) -> Vec<DeploymentConfig> {
    let Some(items) = node.sequence(diag) else {
        return Vec::new();
    };
    let mut out = Vec::with_capacity(items.len());
    let mut seen_ids: HashMap<String, String> = HashMap::new();
    for (i, item) in items.iter().enumerate() {
        let p = PathBuf::index(node.path(), i);
        if let Some(mut d) = read_deployment(Node::new(item, &p), env, credentials, diag) {
            if let Some(first) = seen_ids.get(&d.id) {
                let problem = format!(
                    "{}: deployment id {:?} is already used by {first}",
                    p.as_str(),
                    d.id
                );
                diag.warn(
                    p.as_str(),
                    format!("{problem}; this deployment is left out"),
                );
                d.problem.get_or_insert(problem);
            } else {
                seen_ids.insert(d.id.clone(), p.as_str().to_string());
            }
            out.push(d);
        }
    }
    out
}

pub(super) fn read_deployment(
    node: Node,
    env: &EnvSource,
    credentials: &Credentials,
    diag: &mut Diagnostics,
) -> Option<DeploymentConfig> {
    let map = node.mapping(diag)?;
    let mut model_name = None;
    let mut params = None;
    let mut info = ModelInfo::default();
    let mut top_rpm = None;
    let mut top_tpm = None;
    for_each_entry(map, node.path(), diag, |key, v, diag| match key {
        "model_name" => model_name = v.string(env, diag),
        "litellm_params" => params = Some(v.path().to_string()),
        "model_info" => info = read_model_info(v, env, diag),
        "rpm" => top_rpm = v.count(env, diag),
        "tpm" => top_tpm = v.count(env, diag),
        _ => diag.warn(v.path(), "unknown key; ignored"),
    });
    let Some(model_name) = model_name.filter(|s| !s.is_empty()) else {
        diag.error(node.path(), "model_name is required");
        return None;
    };
    let (Some(params_path), Some(params_value)) = (params, map.get("litellm_params")) else {
        diag.error(node.path(), "litellm_params is required");
        return None;
    };
    let params_path = PathBuf::root(&params_path);
    let has_model = params_value
        .get("model")
        .is_some_and(|m| m.as_str().is_some_and(|m| !m.is_empty()) || !m.is_string());
    if !has_model {
        diag.error(
            params_path.as_str(),
            "model is required (e.g. \"openai/gpt-4o\")",
        );
        return None;
    }
    // Past this point a problem is this deployment's alone: a warning, and the deployment is
    // left out, as LiteLLM starts and fails only the calls that reach it.
    let mut local = Diagnostics::default();
    let Some(mut d) = read_params(
        Node::new(params_value, &params_path),
        env,
        credentials,
        &mut local,
    ) else {
        // Not even a deployment (litellm_params not a mapping, no model): structural.
        diag.errors.append(&mut local.errors);
        return None;
    };
    diag.warnings.append(&mut local.warnings);
    if !local.errors.is_empty() {
        for e in &local.errors {
            diag.warnings
                .push(format!("{e}; this deployment is left out"));
        }
        d.problem = Some(local.errors.join("; "));
    }
    d.model_name = model_name;
    d.rpm = d.rpm.or(top_rpm);
    d.tpm = d.tpm.or(top_tpm);
    d.id = match &info.id {
        Some(id) => id.clone(),
        None => hash_id(&d.model_name, params_value),
    };
    // Costs may be given in litellm_params or model_info; model_info wins.
    info.input_cost_per_token = info
        .input_cost_per_token
        .or(d.model_info.input_cost_per_token);
    info.output_cost_per_token = info
        .output_cost_per_token
        .or(d.model_info.output_cost_per_token);
    d.model_info = info;
    Some(d)
}

fn read_params(
    node: Node,
    env: &EnvSource,
    credentials: &Credentials,
    diag: &mut Diagnostics,
) -> Option<DeploymentConfig> {
    let map = node.mapping(diag)?;
    // The credential's values are defaults the entry's own params override.
    let mut strings: HashMap<String, String> = HashMap::new();
    if let Some(v) = map.get("litellm_credential_name") {
        let p = PathBuf::key(node.path(), "litellm_credential_name");
        let cred_node = Node::new(v, &p);
        if let Some(name) = cred_node.string(env, diag) {
            match credentials.get(&name) {
                Some(values) => strings.extend(values.clone()),
                None => diag.error(
                    p.as_str(),
                    format!("no credential named {name:?} in credential_list"),
                ),
            }
        }
    }
    let mut model = None;
    let mut model_path = String::new();
    let mut d = DeploymentConfig::blank();
    for_each_entry(map, node.path(), diag, |key, v, diag| match key {
        "model" => {
            model = v.string(env, diag);
            model_path = v.path().to_string();
        }
        "timeout" => d.timeout = positive(v, env, diag),
        "stream_timeout" => d.stream_timeout = positive(v, env, diag),
        "max_retries" => d.max_retries = v.count(env, diag),
        "rpm" => d.rpm = v.count(env, diag),
        "tpm" => d.tpm = v.count(env, diag),
        "weight" => d.weight = v.number(env, diag),
        "order" => d.order = v.count(env, diag),
        "drop_params" => d.drop_params = v.boolean(env, diag),
        "input_cost_per_token" => d.model_info.input_cost_per_token = v.number(env, diag),
        "output_cost_per_token" => d.model_info.output_cost_per_token = v.number(env, diag),
        "extra_headers" | "headers" => {
            if let Some(m) = v.mapping(diag) {
                for_each_entry(m, v.path(), diag, |name, val, diag| {
                    if let Some(s) = val.string(env, diag) {
                        d.extra_headers.push((name.to_string(), s));
                    }
                });
            }
        }
        "litellm_credential_name" => {}
        _ => {
            if let Some(s) = v.string(env, diag) {
                strings.insert(key.to_string(), s);
            }
        }
    });
    let Some(model) = model.filter(|m| !m.is_empty()) else {
        diag.error(node.path(), "model is required (e.g. \"openai/gpt-4o\")");
        return None;
    };
    let custom = strings.remove("custom_llm_provider");
    let (provider, provider_model) = match registry::split_model(&model, custom.as_deref()) {
        Ok(split) => split,
        Err(e) => {
            diag.error(&model_path, e);
            (registry::openai(), model.as_str())
        }
    };
    d.provider = provider;
    d.model = provider_model.to_string();
    d.api_base = strings
        .remove("api_base")
        .or_else(|| strings.remove("base_url"));
    d.api_key = strings.remove("api_key").map(Secret::new);
    d.api_version = strings.remove("api_version");
    d.organization = strings.remove("organization");
    d.mock_response = strings.remove("mock_response");
    match provider.wire {
        registry::Wire::VertexAi => vertex_defaults(&mut d, &mut strings, env, node.path(), diag),
        registry::Wire::Bedrock | registry::Wire::Sagemaker | registry::Wire::SagemakerChat => {
            aws_defaults(&mut d, &mut strings, env)
        }
        _ => {}
    }
    d.api_key = d
        .api_key
        .or_else(|| env.first_of(provider.api_key_env).map(Secret::new));
    d.api_base = d
        .api_base
        .or_else(|| env.first_of(provider.api_base_env))
        .or_else(|| default_api_base(provider, env));
    if let (Some(base), Some(suffix)) = (&d.api_base, provider.base_suffix) {
        if !base.trim_end_matches('/').ends_with(suffix) {
            d.api_base = Some(format!("{}{suffix}", base.trim_end_matches('/')));
        }
    }
    let needs_base = d.mock_response.is_none();
    if d.api_base.is_none() && needs_base {
        diag.error(
            &format!("{}.api_base", node.path()),
            format!("api_base is required for provider {:?}", provider.name),
        );
    }
    if let Some(w) = d.weight {
        if w < 0.0 {
            diag.error(&format!("{}.weight", node.path()), "must be >= 0");
        }
    }
    if let Some(base) = &d.api_base {
        if let Err(e) = crate::upstream::Endpoint::parse(base) {
            diag.error(&format!("{}.api_base", node.path()), e);
        }
    }
    for (key, _) in strings
        .iter()
        .filter(|(k, _)| !KNOWN_PROVIDER_PARAMS.contains(&k.as_str()))
    {
        diag.warn(
            &format!("{}.{key}", node.path()),
            "not used by Tollgate; ignored",
        );
    }
    d.extra_params = strings;
    Some(d)
}

/// Vertex AI: the regional base URL from `vertex_location`, and the credentials file read
/// once here (from `vertex_credentials`, a file path or inline JSON, else the file named by
/// GOOGLE_APPLICATION_CREDENTIALS; any ADC type), with `vertex_project` taken from it when unset.
fn vertex_defaults(
    d: &mut DeploymentConfig,
    strings: &mut HashMap<String, String>,
    env: &EnvSource,
    path: &str,
    diag: &mut Diagnostics,
) {
    use crate::credentials::google::AdcFile;
    use crate::providers::gemini::vertex;
    if d.api_base.is_none() {
        let location = strings
            .get("vertex_location")
            .map(String::as_str)
            .unwrap_or(vertex::DEFAULT_LOCATION);
        d.api_base = Some(vertex::default_api_base(location));
    }
    let given = strings.get("vertex_credentials").cloned();
    let source = given.or_else(|| env.get("GOOGLE_APPLICATION_CREDENTIALS"));
    // Without a file, tokens come from the GCE metadata server (crate::credentials::google).
    let Some(source) = source else {
        return;
    };
    let json = if source.trim_start().starts_with('{') {
        source
    } else {
        match std::fs::read_to_string(&source) {
            Ok(text) => text,
            Err(e) => {
                diag.error(
                    &format!("{path}.vertex_credentials"),
                    format!("cannot read {source}: {e}"),
                );
                return;
            }
        }
    };
    match AdcFile::from_json(json.as_bytes()) {
        Ok(file) => {
            if !strings.contains_key("vertex_project") {
                if let Some(project) = file.project_id() {
                    strings.insert("vertex_project".into(), project);
                }
            }
            strings.insert("vertex_credentials".into(), json);
        }
        Err(e) => diag.error(&format!("{path}.vertex_credentials"), e),
    }
}

/// AWS: `aws_bedrock_runtime_endpoint` (or AWS_BEDROCK_RUNTIME_ENDPOINT) as the endpoint when
/// set (VPC endpoints, regional proxies), else the regional host
/// (`bedrock-runtime.{region}.amazonaws.com`) when no `api_base` is given; the region made
/// explicit so the signature is for that region whatever host is connected to.
fn aws_defaults(d: &mut DeploymentConfig, strings: &mut HashMap<String, String>, env: &EnvSource) {
    use crate::providers::bedrock::credentials::{
        BEDROCK_RUNTIME, DEFAULT_REGION, SAGEMAKER_RUNTIME,
    };
    let endpoint = strings.remove("aws_bedrock_runtime_endpoint").or_else(|| {
        (d.provider.wire == registry::Wire::Bedrock)
            .then(|| env.get("AWS_BEDROCK_RUNTIME_ENDPOINT"))
            .flatten()
    });
    if d.api_base.is_none() {
        d.api_base = endpoint.filter(|e| !e.trim().is_empty());
    }
    if d.api_base.is_some() {
        return;
    }
    let arn_region = d
        .model
        .strip_prefix("arn:")
        .and_then(|rest| rest.split(':').nth(2))
        .filter(|r| !r.is_empty())
        .map(str::to_string);
    let region = strings
        .get("aws_region_name")
        .or_else(|| strings.get("region_name"))
        .cloned()
        .or(arn_region)
        .or_else(|| env.first_of(&["AWS_REGION_NAME", "AWS_REGION", "AWS_DEFAULT_REGION"]))
        .unwrap_or_else(|| DEFAULT_REGION.to_string());
    let service = if d.provider.wire == registry::Wire::Bedrock {
        BEDROCK_RUNTIME
    } else {
        SAGEMAKER_RUNTIME
    };
    d.api_base = Some(service.default_api_base(&region));
    strings.entry("aws_region_name".into()).or_insert(region);
}

/// The provider's default base URL, with `{ENV_VAR}` placeholders filled in (Cloudflare's has
/// the account id in it); `None` when a placeholder's variable is unset.
fn default_api_base(provider: &ProviderSpec, env: &EnvSource) -> Option<String> {
    let template = provider.default_api_base?;
    let Some(open) = template.find('{') else {
        return Some(template.to_string());
    };
    let close = open + template[open..].find('}')?;
    let value = env.get(&template[open + 1..close])?;
    Some(format!(
        "{}{value}{}",
        &template[..open],
        &template[close + 1..]
    ))
}

/// Provider-specific `litellm_params` kept for the providers that read them.
const KNOWN_PROVIDER_PARAMS: &[&str] = &[
    "vertex_project",
    "vertex_location",
    "vertex_credentials",
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "aws_region_name",
    "aws_profile_name",
    "aws_role_name",
    "aws_session_name",
    "azure_ad_token",
    "tenant_id",
    "client_id",
    "client_secret",
    "region_name",
    "max_tokens",
    "temperature",
    "seed",
];

fn read_model_info(node: Node, env: &EnvSource, diag: &mut Diagnostics) -> ModelInfo {
    let mut info = ModelInfo::default();
    let Some(map) = node.mapping(diag) else {
        return info;
    };
    for_each_entry(map, node.path(), diag, |key, v, diag| match key {
        "id" => info.id = v.string(env, diag),
        "base_model" => info.base_model = v.string(env, diag),
        "mode" => info.mode = v.string(env, diag),
        "input_cost_per_token" => info.input_cost_per_token = v.number(env, diag),
        "output_cost_per_token" => info.output_cost_per_token = v.number(env, diag),
        "max_input_tokens" => info.max_input_tokens = v.count(env, diag),
        "max_output_tokens" | "max_tokens" => info.max_output_tokens = v.count(env, diag),
        "health_check_model" => info.health_check_model = v.string(env, diag),
        "access_groups" => info.access_groups = v.strings(env, diag),
        // model_info is free-form in LiteLLM (descriptions, capability flags, ...).
        _ => {}
    });
    info
}

/// A deployment id that stays the same across restarts and reloads while its entry does, derived
/// from the alias and the unresolved params (so rotating a secret keeps the id).
fn hash_id(model_name: &str, params: &Value) -> String {
    let mut h = Sha256::new();
    h.update(model_name.as_bytes());
    h.update(serde_json::to_vec(params).unwrap_or_default());
    let digest = h.finalize();
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

impl DeploymentConfig {
    fn blank() -> Self {
        DeploymentConfig {
            model_name: String::new(),
            provider: registry::openai(),
            model: String::new(),
            api_base: None,
            api_key: None,
            api_version: None,
            timeout: None,
            stream_timeout: None,
            max_retries: None,
            rpm: None,
            tpm: None,
            weight: None,
            order: None,
            mock_response: None,
            drop_params: None,
            organization: None,
            extra_headers: Vec::new(),
            extra_params: HashMap::new(),
            model_info: ModelInfo::default(),
            id: String::new(),
            problem: None,
        }
    }
}
