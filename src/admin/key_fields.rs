//! The fields of LiteLLM's key requests and rows: their kinds (`GenerateKeyRequest`,
//! `UpdateKeyRequest`), a stored row's defaults (`LiteLLM_VerificationToken`), the keys of a
//! `GenerateKeyResponse`, and making a new key.

use super::body::Kind;
use base64::Engine;
use rand::RngCore;
use serde_json::{json, Map, Value};

/// `GenerateKeyRequest` / `UpdateKeyRequest` fields with a kind worth checking.
pub const KEY_REQUEST_FIELDS: &[(&str, Kind)] = &[
    ("key", Kind::Str),
    ("key_alias", Kind::Str),
    ("duration", Kind::Str),
    ("models", Kind::List),
    ("spend", Kind::Float),
    ("max_budget", Kind::Float),
    ("soft_budget", Kind::Float),
    ("user_id", Kind::Str),
    ("team_id", Kind::Str),
    ("organization_id", Kind::Str),
    ("project_id", Kind::Str),
    ("agent_id", Kind::Str),
    ("budget_id", Kind::Str),
    ("max_parallel_requests", Kind::Int),
    ("metadata", Kind::Object),
    ("tpm_limit", Kind::Int),
    ("rpm_limit", Kind::Int),
    ("tpd_limit", Kind::Int),
    ("budget_duration", Kind::Str),
    ("allowed_cache_controls", Kind::List),
    ("config", Kind::Object),
    ("permissions", Kind::Object),
    ("model_max_budget", Kind::Object),
    ("model_rpm_limit", Kind::Object),
    ("model_tpm_limit", Kind::Object),
    ("guardrails", Kind::StrList),
    ("policies", Kind::StrList),
    ("prompts", Kind::StrList),
    ("blocked", Kind::Bool),
    ("aliases", Kind::Object),
    ("tags", Kind::StrList),
    ("allowed_routes", Kind::List),
    ("enforced_params", Kind::StrList),
    ("send_invite_email", Kind::Bool),
    ("key_type", Kind::Str),
    ("auto_rotate", Kind::Bool),
    ("rotation_interval", Kind::Str),
    ("access_group_ids", Kind::StrList),
    ("new_key", Kind::Str),
    ("grace_period", Kind::Str),
];

/// Request fields that are not stored as such on the key row.
pub const NOT_STORED: &[&str] = &[
    "key",
    "spend",
    "duration",
    "send_invite_email",
    "new_key",
    "new_master_key",
    "grace_period",
    "token",
    "token_id",
    "budget_reset_at",
];

/// A stored key row's fields and their defaults (`LiteLLM_VerificationToken`), less `token`,
/// `spend` and `budget_reset_at`, which the store keeps as columns.
pub fn row_defaults() -> Vec<(&'static str, Value)> {
    vec![
        ("key_name", Value::Null),
        ("key_alias", Value::Null),
        ("total_spend", json!(0.0)),
        ("max_budget", Value::Null),
        ("soft_budget", Value::Null),
        ("expires", Value::Null),
        ("models", json!([])),
        ("aliases", json!({})),
        ("config", json!({})),
        ("user_id", Value::Null),
        ("team_id", Value::Null),
        ("agent_id", Value::Null),
        ("project_id", Value::Null),
        ("max_parallel_requests", Value::Null),
        ("metadata", json!({})),
        ("tpm_limit", Value::Null),
        ("rpm_limit", Value::Null),
        ("tpd_limit", Value::Null),
        ("budget_duration", Value::Null),
        ("allowed_cache_controls", json!([])),
        ("allowed_routes", json!([])),
        ("key_type", json!("default")),
        ("permissions", json!({})),
        ("model_spend", json!({})),
        ("model_max_budget", json!({})),
        ("budget_fallbacks", json!({})),
        ("soft_budget_cooldown", json!(false)),
        ("blocked", Value::Null),
        ("litellm_budget_table", Value::Null),
        ("budget_id", Value::Null),
        ("organization_id", Value::Null),
        ("created_at", Value::Null),
        ("created_by", Value::Null),
        ("updated_at", Value::Null),
        ("updated_by", Value::Null),
        ("last_active", Value::Null),
        ("object_permission_id", Value::Null),
        ("access_group_ids", json!([])),
        ("rotation_count", json!(0)),
        ("auto_rotate", json!(false)),
        ("rotation_interval", Value::Null),
        ("router_settings", json!({})),
        ("budget_limits", Value::Null),
    ]
}

/// Keys every `GenerateKeyResponse` carries, with their defaults when the row lacks them.
pub fn response_defaults() -> Vec<(&'static str, Value)> {
    vec![
        ("key_alias", Value::Null),
        ("duration", Value::Null),
        ("models", json!([])),
        ("spend", json!(0.0)),
        ("max_budget", Value::Null),
        ("user_id", Value::Null),
        ("team_id", Value::Null),
        ("agent_id", Value::Null),
        ("max_parallel_requests", Value::Null),
        ("metadata", json!({})),
        ("tpm_limit", Value::Null),
        ("rpm_limit", Value::Null),
        ("budget_duration", Value::Null),
        ("allowed_cache_controls", json!([])),
        ("config", json!({})),
        ("permissions", json!({})),
        ("model_max_budget", json!({})),
        ("model_rpm_limit", Value::Null),
        ("model_tpm_limit", Value::Null),
        ("guardrails", Value::Null),
        ("policies", Value::Null),
        ("prompts", Value::Null),
        ("blocked", Value::Null),
        ("aliases", json!({})),
        ("object_permission", Value::Null),
        ("key", Value::Null),
        ("tpd_limit", Value::Null),
        ("budget_id", Value::Null),
        ("tags", Value::Null),
        ("enforced_params", Value::Null),
        ("allowed_routes", json!([])),
        ("soft_budget", Value::Null),
        ("key_name", Value::Null),
        ("key_type", Value::Null),
        ("expires", Value::Null),
        ("token_id", Value::Null),
        ("organization_id", Value::Null),
        ("project_id", Value::Null),
        ("litellm_budget_table", Value::Null),
        ("token", Value::Null),
        ("created_by", Value::Null),
        ("updated_by", Value::Null),
        ("created_at", Value::Null),
        ("updated_at", Value::Null),
    ]
}

/// A `GenerateKeyResponse` from a stored row (rendered) plus the raw key.
pub fn generate_response(row: &Map<String, Value>, raw_key: &str, token: Option<&str>) -> Value {
    let mut out = Map::new();
    for (name, default) in response_defaults() {
        out.insert(name.into(), row.get(name).cloned().unwrap_or(default));
    }
    // Fields LiteLLM accepts beyond its model come back as given.
    for (name, value) in row {
        out.entry(name.clone()).or_insert_with(|| value.clone());
    }
    out.insert("key".into(), Value::String(raw_key.to_string()));
    out.insert(
        "token_id".into(),
        row.get("token").cloned().unwrap_or(Value::Null),
    );
    out.insert(
        "token".into(),
        token.map_or(Value::Null, |t| Value::String(t.to_string())),
    );
    Value::Object(out)
}

/// LiteLLM's abbreviated key (`key_name`): `sk-...` and the last four characters.
pub fn abbreviate(key: &str) -> String {
    if key.chars().count() < 16 {
        return "sk-...".into();
    }
    let tail: String = key
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("sk-...{tail}")
}

/// A new key: `sk-` and 32 random bytes, base64url (256 bits).
pub fn new_key() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!(
        "sk-{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// A key given as raw (`sk-...`) or as its hash, to the hash (LiteLLM's `hash_token_if_needed`).
pub fn to_token(key: &str) -> String {
    if key.starts_with("sk-") {
        crate::auth::hash_key(key)
    } else {
        key.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_keys_are_long_and_distinct() {
        let a = new_key();
        assert!(a.starts_with("sk-") && a.len() == 46, "{a}");
        assert_ne!(a, new_key());
        assert_eq!(abbreviate(&a), format!("sk-...{}", &a[a.len() - 4..]));
        assert_eq!(abbreviate("sk-short"), "sk-...");
    }
}
