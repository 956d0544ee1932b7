//! Models added at runtime through LiteLLM's model API (`/model/new`, `/model/update`,
//! `/model/delete`, with `general_settings.store_model_in_db`). They live in the store's
//! `models` table (secrets sealed, `sealed`), reach every node through the directory's
//! background refresh, and are compiled beside the config file's own `model_list` into the same
//! snapshot. A model with `model_info.team_id` is that team's: it is stored under an internal
//! group name (`model_name_{team_id}_{uuid}`, as LiteLLM names it) and only that team's keys
//! reach it, by its public name.

pub mod sealed;

use crate::config::DeploymentConfig;
use crate::store::Entity;
use sealed::SealKey;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// One stored model, ready to compile.
pub struct StoredModel {
    pub config: DeploymentConfig,
    /// The stored record (secrets still sealed), for `/model/info`.
    pub entity: Arc<Entity>,
    pub team_id: Option<String>,
    /// A team model's name as its team calls it (`model_info.team_public_model_name`).
    pub public_name: Option<String>,
}

/// Every stored model, and how team models are named.
#[derive(Default)]
pub struct RuntimeModels {
    pub models: Vec<StoredModel>,
    /// Team id → public name → internal group name.
    team_names: HashMap<String, HashMap<String, String>>,
    /// Internal group name → the team it belongs to.
    team_of_group: HashMap<String, String>,
}

impl RuntimeModels {
    /// The stored models from the directory's `models` table, oldest first. A record that does
    /// not read as a deployment, or whose secrets do not open, is logged and left out; one whose
    /// id the config file already uses is left out too (the file wins, as in LiteLLM).
    pub fn from_entities(
        mut entities: Vec<Arc<Entity>>,
        key: Option<&SealKey>,
        config_ids: &[&str],
    ) -> RuntimeModels {
        entities.sort_by(|a, b| {
            let created = |e: &Entity| e.str_field("created_at").unwrap_or("").to_string();
            created(a).cmp(&created(b)).then_with(|| a.id.cmp(&b.id))
        });
        let mut out = RuntimeModels::default();
        for entity in entities {
            if config_ids.contains(&entity.id.as_str()) {
                log::warn!(
                    "stored model {}: the config file has a deployment with this id; the stored one is ignored",
                    entity.id
                );
                continue;
            }
            match read_entity(&entity, key) {
                Ok(model) => out.push(model),
                Err(e) => log::warn!("stored model {}: {e}; left out", entity.id),
            }
        }
        out
    }

    fn push(&mut self, model: StoredModel) {
        if let (Some(team), Some(public)) = (&model.team_id, &model.public_name) {
            self.team_names
                .entry(team.clone())
                .or_default()
                .insert(public.clone(), model.config.model_name.clone());
            self.team_of_group
                .insert(model.config.model_name.clone(), team.clone());
        }
        self.models.push(model);
    }

    /// The internal group a team's key means by `model`, when the team has a model by that name.
    pub fn team_group(&self, team_id: Option<&str>, model: &str) -> Option<&str> {
        self.team_names
            .get(team_id?)?
            .get(model)
            .map(String::as_str)
    }

    /// The team an internal group name belongs to.
    pub fn group_team(&self, group: &str) -> Option<&str> {
        self.team_of_group.get(group).map(String::as_str)
    }

    /// A team's public model names (what `/v1/models` lists for its keys).
    pub fn team_public_names(&self, team_id: Option<&str>) -> Vec<&str> {
        let Some(names) = team_id.and_then(|t| self.team_names.get(t)) else {
            return Vec::new();
        };
        let mut v: Vec<&str> = names.keys().map(String::as_str).collect();
        v.sort_unstable();
        v
    }

    pub fn get(&self, id: &str) -> Option<&StoredModel> {
        self.models.iter().find(|m| m.config.id == id)
    }
}

/// Whether a model record (secrets in the clear) reads and builds as a usable deployment: the
/// model API checks before it stores one.
pub fn check(entity: &Entity) -> Result<(), String> {
    let model = read_entity(&Arc::new(entity.clone()), None)?;
    if let Some(problem) = model.config.problem {
        return Err(problem);
    }
    crate::compile::deployment(&model.config, Default::default()).map(|_| ())
}

/// A stored record as a deployment: its secrets opened, then read as a `model_list` entry.
fn read_entity(entity: &Arc<Entity>, key: Option<&SealKey>) -> Result<StoredModel, String> {
    let doc = &entity.doc;
    let mut params = doc
        .get("litellm_params")
        .and_then(Value::as_object)
        .cloned()
        .ok_or("no litellm_params")?;
    for value in params.values_mut() {
        if let Value::String(s) = value {
            if sealed::is_sealed(s) {
                let key = key.ok_or("a secret is sealed, and neither LITELLM_SALT_KEY nor a master key is set to open it")?;
                *s = key.open(s)?;
            }
        }
    }
    let mut info = doc
        .get("model_info")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    info.insert("id".into(), Value::String(entity.id.clone()));
    let entry = serde_json::json!({
        "model_name": doc.get("model_name").cloned().unwrap_or(Value::Null),
        "litellm_params": Value::Object(params),
        "model_info": Value::Object(read_model_info(info)),
    });
    let path = format!("models[{}]", entity.id);
    let (config, warnings) = crate::config::read_stored_deployment(&entry, &path)?;
    for w in warnings {
        log::warn!("stored model: {w}");
    }
    let info = doc.get("model_info").and_then(Value::as_object);
    let text = |name: &str| {
        info.and_then(|i| i.get(name))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    Ok(StoredModel {
        config,
        entity: Arc::clone(entity),
        team_id: text("team_id"),
        public_name: text("team_public_model_name"),
    })
}

/// The `model_info` fields the config reader knows; the rest (LiteLLM's bookkeeping, team
/// fields, descriptions) stay in the stored document for `/model/info` only.
fn read_model_info(info: Map<String, Value>) -> Map<String, Value> {
    const READ: &[&str] = &[
        "id",
        "base_model",
        "mode",
        "input_cost_per_token",
        "output_cost_per_token",
        "max_input_tokens",
        "max_output_tokens",
        "max_tokens",
        "health_check_model",
        "access_groups",
    ];
    info.into_iter()
        .filter(|(k, v)| READ.contains(&k.as_str()) && !v.is_null())
        .collect()
}

/// `litellm_params` fields whose values are sealed in the store and never answered back.
pub fn is_secret_param(name: &str) -> bool {
    name == "api_key"
        || name == "client_secret"
        || (crate::secret::is_secret_param(name) && !name.contains("tokens"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entity(id: &str, doc: Value) -> Arc<Entity> {
        Arc::new(Entity {
            id: id.into(),
            doc: doc.as_object().cloned().unwrap_or_default(),
            spend: 0.0,
            budget_reset_at: None,
            updated_ms: 1,
            deleted: false,
        })
    }

    #[test]
    fn stored_models_compile_with_their_secrets_opened() {
        let key = SealKey::derive("salt");
        let sealed = key.seal("sk-provider").unwrap();
        let models = RuntimeModels::from_entities(
            vec![
                entity(
                    "m1",
                    serde_json::json!({"model_name": "db-gpt", "created_at": "2",
                        "litellm_params": {"model": "openai/gpt-4o", "api_key": sealed, "api_base": "http://127.0.0.1:9/v1"},
                        "model_info": {"description": "kept for /model/info", "max_tokens": 5}}),
                ),
                entity(
                    "m2",
                    serde_json::json!({"model_name": "model_name_t1_abc", "created_at": "1",
                        "litellm_params": {"model": "openai/gpt-4o", "api_base": "http://127.0.0.1:9/v1"},
                        "model_info": {"team_id": "t1", "team_public_model_name": "team-gpt"}}),
                ),
                entity("bad", serde_json::json!({"model_name": "x"})),
                entity(
                    "cfg",
                    serde_json::json!({"model_name": "y", "litellm_params": {"model": "openai/x"}}),
                ),
            ],
            Some(&key),
            &["cfg"],
        );
        let ids: Vec<&str> = models.models.iter().map(|m| m.config.id.as_str()).collect();
        assert_eq!(ids, ["m2", "m1"]);
        let m1 = models.get("m1").unwrap();
        assert_eq!(m1.config.api_key.as_ref().unwrap().expose(), "sk-provider");
        assert_eq!(
            models.team_group(Some("t1"), "team-gpt"),
            Some("model_name_t1_abc")
        );
        assert_eq!(models.team_group(Some("t2"), "team-gpt"), None);
        assert_eq!(models.team_group(None, "team-gpt"), None);
        assert_eq!(models.group_team("model_name_t1_abc"), Some("t1"));
        assert_eq!(models.team_public_names(Some("t1")), ["team-gpt"]);
        // Without the key, a sealed secret cannot be opened: that model is left out.
        let other = RuntimeModels::from_entities(
            vec![Arc::clone(&m1.entity)],
            Some(&SealKey::derive("other")),
            &[],
        );
        assert!(other.models.is_empty());
    }

    #[test]
    fn which_params_are_secret() {
        for s in [
            "api_key",
            "aws_secret_access_key",
            "vertex_credentials",
            "aws_session_token",
        ] {
            assert!(is_secret_param(s), "{s}");
        }
        for s in ["model", "api_base", "max_tokens", "rpm", "aws_region_name"] {
            assert!(!is_secret_param(s), "{s}");
        }
    }
}
