//! Virtual keys on the request path: look the key's hash up in the in-memory directory, refuse
//! it as LiteLLM does (unknown, expired, blocked, its team blocked), and check the model it asks
//! for against what the key (and its team) may use.

use super::directory::Directory;
use crate::error::GatewayError;
use crate::store::{Entity, Table};
use serde_json::Value;
use std::sync::Arc;

/// A caller holding a virtual key.
#[derive(Debug, Clone)]
pub struct KeyCaller {
    /// SHA-256 hex of the key (LiteLLM's `token`).
    pub token: String,
    pub key: Arc<Entity>,
}

impl KeyCaller {
    pub fn user_id(&self) -> Option<&str> {
        self.key.str_field("user_id")
    }
    pub fn team_id(&self) -> Option<&str> {
        self.key.str_field("team_id")
    }
    pub fn organization_id(&self) -> Option<&str> {
        self.key.str_field("organization_id")
    }
}

/// The key's entry, if it may call at all now.
pub fn check_key(
    directory: &Directory,
    token: String,
    now_ms: i64,
) -> Result<KeyCaller, GatewayError> {
    let Some(key) = directory.get(Table::Keys, &token) else {
        return Err(GatewayError::auth(format!(
            "Authentication Error, Invalid proxy server token passed. key={token}, not found in db. Create key via `/key/generate` call."
        )));
    };
    if key.doc.get("blocked").and_then(Value::as_bool) == Some(true) {
        return Err(GatewayError::auth(
            "Authentication Error, Key is blocked. Update via `/key/unblock` if you're an admin.",
        ));
    }
    if let Some(expires) = key.str_field("expires") {
        match expiry_ms(expires) {
            Some(at) if at < now_ms => {
                return Err(GatewayError::new(
                    401,
                    "expired_key",
                    format!(
                        "Authentication Error - Expired Key. Key Expiry time {expires} and current time {}",
                        crate::spend::time::rfc3339(now_ms)
                    ),
                ))
            }
            Some(_) => {}
            // An unreadable expiry is no expiry LiteLLM could enforce either; refusing is safer.
            None => {
                return Err(GatewayError::auth(
                    "Authentication Error - the key's expiry time is unreadable",
                ))
            }
        }
    }
    if let Some(team_id) = key.str_field("team_id") {
        if let Some(team) = directory.get(Table::Teams, team_id) {
            if team.doc.get("blocked").and_then(Value::as_bool) == Some(true) {
                return Err(GatewayError::auth(format!(
                    "Authentication Error, Team={team_id} is blocked. Update via `/team/unblock` if you're an admin."
                )));
            }
        }
    }
    Ok(KeyCaller { token, key })
}

fn expiry_ms(text: &str) -> Option<i64> {
    crate::spend::time::parse_rfc3339_ms(text)
}

/// Whether the key may call `model` (a model group or alias name). An empty `models` list
/// allows every model, as in LiteLLM; `all-team-models` defers to the team's list;
/// `all-proxy-models` allows all. `groups_of` gives a model's access groups.
pub fn may_use_model<'a>(
    directory: &Directory,
    caller: &KeyCaller,
    model: &str,
    groups_of: impl Fn(&str) -> &'a [String],
) -> Result<(), GatewayError> {
    let key_models = string_list(caller.key.doc.get("models"));
    let team = caller
        .team_id()
        .and_then(|t| directory.get(Table::Teams, t));
    let team_models = team
        .as_ref()
        .map(|t| string_list(t.doc.get("models")))
        .unwrap_or_default();
    let allows = |models: &[&str]| {
        models.is_empty()
            || models.iter().any(|m| {
                *m == model
                    || *m == "all-proxy-models"
                    || *m == "*"
                    || groups_of(model).iter().any(|g| g == m)
                    || wildcard_match(m, model)
            })
    };
    let key_ok = if key_models.contains(&"all-team-models") {
        allows(&team_models)
    } else {
        allows(&key_models)
    };
    let team_ok = team.is_none() || allows(&team_models);
    if key_ok && team_ok {
        return Ok(());
    }
    let (who, models) = if key_ok {
        ("team", team_models)
    } else {
        ("key", key_models)
    };
    Err(GatewayError::auth(format!(
        "Authentication Error, {who} not allowed to access model. This {who} can only access models={models:?}. Tried to access {model}"
    ))
    .with_param("model"))
}

/// `openai/*` in a key's models allows `openai/gpt-4o`.
fn wildcard_match(pattern: &str, model: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) if !prefix.is_empty() => model.starts_with(prefix),
        _ => false,
    }
}

fn string_list(v: Option<&Value>) -> Vec<&str> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entity(id: &str, doc: Value) -> Entity {
        Entity {
            id: id.into(),
            doc: doc.as_object().cloned().unwrap_or_default(),
            spend: 0.0,
            budget_reset_at: None,
            updated_ms: 1,
            deleted: false,
        }
    }

    fn no_groups(_: &str) -> &'static [String] {
        &[]
    }

    #[test]
    fn refuses_unknown_blocked_and_expired_keys() {
        let d = Directory::default();
        d.apply(Table::Keys, entity("live", json!({})));
        d.apply(Table::Keys, entity("blocked", json!({"blocked": true})));
        d.apply(
            Table::Keys,
            entity("old", json!({"expires": "2020-01-01T00:00:00Z"})),
        );
        d.apply(
            Table::Keys,
            entity("later", json!({"expires": "2999-01-01T00:00:00+00:00"})),
        );
        let now = crate::store::now_ms();
        assert!(check_key(&d, "live".into(), now).is_ok());
        assert!(check_key(&d, "later".into(), now).is_ok());
        for bad in ["nope", "blocked", "old"] {
            assert_eq!(
                check_key(&d, bad.into(), now).unwrap_err().status,
                401,
                "{bad}"
            );
        }
        assert_eq!(
            check_key(&d, "old".into(), now).unwrap_err().kind,
            "expired_key"
        );
    }

    #[test]
    fn models_lists_and_team_models() {
        let d = Directory::default();
        d.apply(Table::Teams, entity("t", json!({"models": ["a", "b"]})));
        d.apply(Table::Keys, entity("k1", json!({"models": ["a"]})));
        d.apply(
            Table::Keys,
            entity("k2", json!({"models": ["all-team-models"], "team_id": "t"})),
        );
        d.apply(Table::Keys, entity("k3", json!({})));
        d.apply(Table::Keys, entity("k4", json!({"models": ["openai/*"]})));
        let now = crate::store::now_ms();
        let k = |id: &str| check_key(&d, id.into(), now).unwrap();
        assert!(may_use_model(&d, &k("k1"), "a", no_groups).is_ok());
        let err = may_use_model(&d, &k("k1"), "b", no_groups).unwrap_err();
        assert_eq!(err.status, 401);
        assert!(err.message.contains("key not allowed to access model"));
        assert!(may_use_model(&d, &k("k2"), "b", no_groups).is_ok());
        assert!(may_use_model(&d, &k("k2"), "c", no_groups).is_err());
        assert!(may_use_model(&d, &k("k3"), "anything", no_groups).is_ok());
        assert!(may_use_model(&d, &k("k4"), "openai/gpt-4o", no_groups).is_ok());
        let groups = vec!["beta".to_string()];
        d.apply(Table::Keys, entity("k5", json!({"models": ["beta"]})));
        assert!(may_use_model(&d, &k("k5"), "m", |_| &groups[..]).is_ok());
    }
}
