//! Retry, fallback and cooldown settings. LiteLLM accepts them in `router_settings` and in
//! `litellm_settings`; both are read with this one reader, and `router_settings` wins.

use super::settings::non_negative;
use super::yaml::{for_each_entry, Diagnostics, EnvSource, Node, PathBuf};
use std::collections::HashMap;

#[derive(Debug, Clone, Default)]
pub struct Reliability {
    pub num_retries: Option<u64>,
    /// `retry_policy`: retries per error class (`RateLimitErrorRetries`, ...).
    pub retry_policy: HashMap<String, u64>,
    pub allowed_fails: Option<u64>,
    /// `allowed_fails_policy`: failures per minute before cooldown, per error class.
    pub allowed_fails_policy: HashMap<String, u64>,
    pub cooldown_time: Option<f64>,
    pub disable_cooldowns: Option<bool>,
    pub fallbacks: Option<Vec<(String, Vec<String>)>>,
    pub context_window_fallbacks: Option<Vec<(String, Vec<String>)>>,
    pub content_policy_fallbacks: Option<Vec<(String, Vec<String>)>>,
    pub default_fallbacks: Option<Vec<String>>,
    /// Minimum seconds to wait before retrying the same deployment.
    pub retry_after: Option<f64>,
    /// How many fallback groups one call may try (LiteLLM's default: 5).
    pub max_fallbacks: Option<u64>,
}

pub const RETRY_POLICY_KEYS: &[&str] = &[
    "BadRequestErrorRetries",
    "AuthenticationErrorRetries",
    "TimeoutErrorRetries",
    "RateLimitErrorRetries",
    "ContentPolicyViolationErrorRetries",
    "InternalServerErrorRetries",
];

pub const ALLOWED_FAILS_POLICY_KEYS: &[&str] = &[
    "BadRequestErrorAllowedFails",
    "AuthenticationErrorAllowedFails",
    "TimeoutErrorAllowedFails",
    "RateLimitErrorAllowedFails",
    "ContentPolicyViolationErrorAllowedFails",
    "InternalServerErrorAllowedFails",
];

impl Reliability {
    /// Reads `key` if it is a reliability setting; `false` if the key is not one.
    pub fn read_key(
        &mut self,
        key: &str,
        v: Node,
        env: &EnvSource,
        diag: &mut Diagnostics,
    ) -> bool {
        match key {
            "num_retries" => self.num_retries = v.count(env, diag),
            "retry_policy" => self.retry_policy = read_counts(v, RETRY_POLICY_KEYS, env, diag),
            "allowed_fails" => self.allowed_fails = v.count(env, diag),
            "allowed_fails_policy" => {
                self.allowed_fails_policy = read_counts(v, ALLOWED_FAILS_POLICY_KEYS, env, diag)
            }
            "cooldown_time" => self.cooldown_time = v.number(env, diag),
            "disable_cooldowns" => self.disable_cooldowns = v.boolean(env, diag),
            "fallbacks" => self.fallbacks = Some(read_fallbacks(v, env, diag)),
            "context_window_fallbacks" => {
                self.context_window_fallbacks = Some(read_fallbacks(v, env, diag))
            }
            "content_policy_fallbacks" => {
                self.content_policy_fallbacks = Some(read_fallbacks(v, env, diag))
            }
            "default_fallbacks" => self.default_fallbacks = Some(v.strings(env, diag)),
            "retry_after" => self.retry_after = non_negative(v, env, diag),
            "max_fallbacks" => self.max_fallbacks = v.count(env, diag),
            _ => return false,
        }
        true
    }

    /// `self` with unset fields taken from `other`.
    pub fn or(self, other: Reliability) -> Reliability {
        Reliability {
            num_retries: self.num_retries.or(other.num_retries),
            retry_policy: if self.retry_policy.is_empty() {
                other.retry_policy
            } else {
                self.retry_policy
            },
            allowed_fails: self.allowed_fails.or(other.allowed_fails),
            allowed_fails_policy: if self.allowed_fails_policy.is_empty() {
                other.allowed_fails_policy
            } else {
                self.allowed_fails_policy
            },
            cooldown_time: self.cooldown_time.or(other.cooldown_time),
            disable_cooldowns: self.disable_cooldowns.or(other.disable_cooldowns),
            fallbacks: self.fallbacks.or(other.fallbacks),
            context_window_fallbacks: self
                .context_window_fallbacks
                .or(other.context_window_fallbacks),
            content_policy_fallbacks: self
                .content_policy_fallbacks
                .or(other.content_policy_fallbacks),
            default_fallbacks: self.default_fallbacks.or(other.default_fallbacks),
            retry_after: self.retry_after.or(other.retry_after),
            max_fallbacks: self.max_fallbacks.or(other.max_fallbacks),
        }
    }
}

fn read_counts(
    v: Node,
    known: &[&str],
    env: &EnvSource,
    diag: &mut Diagnostics,
) -> HashMap<String, u64> {
    let mut out = HashMap::new();
    if let Some(m) = v.mapping(diag) {
        for_each_entry(m, v.path(), diag, |k, n, diag| {
            if !known.contains(&k) {
                diag.error(n.path(), format!("unknown error class; one of {known:?}"));
            } else if let Some(c) = n.count(env, diag) {
                out.insert(k.to_string(), c);
            }
        });
    }
    out
}

/// `[{"gpt-4o": ["claude-sonnet", "gpt-4o-mini"]}, ...]` (a single mapping is accepted too).
fn read_fallbacks(v: Node, env: &EnvSource, diag: &mut Diagnostics) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    let mut read_map = |m: &serde_yaml::Mapping, path: &str, diag: &mut Diagnostics| {
        for_each_entry(m, path, diag, |group, targets, diag| {
            out.push((group.to_string(), targets.strings(env, diag)));
        });
    };
    match v.value {
        serde_yaml::Value::Sequence(items) => {
            for (i, item) in items.iter().enumerate() {
                let p = PathBuf::index(v.path(), i);
                if let Some(m) = Node::new(item, &p).mapping(diag) {
                    read_map(m, p.as_str(), diag);
                }
            }
        }
        serde_yaml::Value::Mapping(m) => read_map(m, v.path(), diag),
        serde_yaml::Value::Null => {}
        _ => diag.error(v.path(), "expected a list of {group: [fallback groups]}"),
    }
    out
}
