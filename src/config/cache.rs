//! `litellm_settings.cache` and `litellm_settings.cache_params`: the response cache, as LiteLLM
//! reads them. Exact matching only: the semantic types are warned about and served as exact;
//! types Tollgate has no backend for (s3, disk, ...) are warned about and served in memory.
//! Nothing here refuses a config: a LiteLLM file that starts there starts here.

use super::yaml::{for_each_entry, Diagnostics, EnvSource, Node};
use std::collections::BTreeMap;

/// LiteLLM's in-memory defaults (`InMemoryCache`): 200 entries, 1 MB an entry, 600 s.
pub const DEFAULT_LOCAL_TTL_SECS: f64 = 600.0;
pub const DEFAULT_MAX_ENTRIES: u64 = 200;
pub const DEFAULT_MAX_ENTRY_KB: u64 = 1024;
/// Tollgate's own bound on the whole in-memory cache.
pub const DEFAULT_MAX_SIZE_MB: f64 = 64.0;
/// LiteLLM's `max_messages`: longer conversations are neither looked up nor stored.
pub const DEFAULT_MAX_MESSAGES: u64 = 4;

/// Where cached answers live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CacheBackendKind {
    #[default]
    Local,
    Redis,
}

/// Which calls are cached (`supported_call_types`, in LiteLLM's call-type names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CachedCalls {
    pub chat: bool,
    pub completion: bool,
    pub embedding: bool,
    /// Anthropic's Messages API (`/v1/messages`).
    pub anthropic: bool,
}

impl Default for CachedCalls {
    fn default() -> Self {
        CachedCalls {
            chat: true,
            completion: true,
            embedding: true,
            anthropic: true,
        }
    }
}

#[derive(Debug, Clone)]
pub struct CacheSettings {
    /// `litellm_settings.cache: true`.
    pub enabled: bool,
    pub backend: CacheBackendKind,
    /// The `type` as configured (`redis-semantic`, `s3`, ...), for `/cache/ping`.
    pub configured_type: String,
    /// Seconds an entry lives; `None`: until evicted (Redis without a TTL, as in LiteLLM).
    pub ttl: Option<f64>,
    pub namespace: Option<String>,
    pub calls: CachedCalls,
    /// `mode: default_off`: only requests that ask (`cache: {"use-cache": true}`) use it.
    pub opt_in: bool,
    pub max_messages: Option<u64>,
    pub max_entries: u64,
    pub max_entry_bytes: u64,
    pub max_size_bytes: u64,
    /// Connection keys (`host`, `port`, `password`, `url`, `ssl`, cluster and sentinel keys),
    /// kept as written (with `os.environ/` resolved) for whoever opens the Redis connection.
    pub connection: BTreeMap<String, serde_yaml::Value>,
    /// Seconds a Redis call may take before it counts as a miss.
    pub redis_timeout_secs: f64,
    ttl_set: bool,
    params_seen: bool,
}

impl Default for CacheSettings {
    fn default() -> Self {
        CacheSettings {
            enabled: false,
            backend: CacheBackendKind::Local,
            configured_type: "local".to_string(),
            ttl: Some(DEFAULT_LOCAL_TTL_SECS),
            namespace: None,
            calls: CachedCalls::default(),
            opt_in: false,
            max_messages: Some(DEFAULT_MAX_MESSAGES),
            max_entries: DEFAULT_MAX_ENTRIES,
            max_entry_bytes: DEFAULT_MAX_ENTRY_KB * 1024,
            max_size_bytes: (DEFAULT_MAX_SIZE_MB * 1024.0 * 1024.0) as u64,
            connection: BTreeMap::new(),
            redis_timeout_secs: 0.5,
            ttl_set: false,
            params_seen: false,
        }
    }
}

const CONNECTION_KEYS: &[&str] = &[
    "host",
    "port",
    "password",
    "username",
    "url",
    "redis_url",
    "ssl",
    "db",
    "redis_startup_nodes",
    "service_name",
    "sentinel_nodes",
    "sentinel_password",
];

/// Keys LiteLLM takes that change nothing here (other backends' settings, tuning).
const QUIET_KEYS: &[&str] = &[
    "similarity_threshold",
    "redis_semantic_cache_embedding_model",
    "redis_semantic_cache_index_name",
    "qdrant_semantic_cache_embedding_model",
    "qdrant_collection_name",
    "qdrant_api_base",
    "qdrant_api_key",
    "qdrant_quantization_config",
    "qdrant_semantic_cache_vector_size",
    "semantic_cache_scope",
    "semantic_cache_embedding_max_input_tokens",
    "semantic_cache_embedding_timeout",
    "redis_flush_size",
    "s3_bucket_name",
    "s3_region_name",
    "s3_api_version",
    "s3_use_ssl",
    "s3_verify",
    "s3_endpoint_url",
    "s3_aws_access_key_id",
    "s3_aws_secret_access_key",
    "s3_aws_session_token",
    "s3_config",
    "s3_path",
    "gcs_bucket_name",
    "gcs_path_service_account",
    "gcs_path",
    "azure_account_url",
    "azure_blob_container",
    "disk_cache_dir",
    "gcp_service_account",
    "gcp_ssl_ca_certs",
];

impl CacheSettings {
    /// Reads `key` of `litellm_settings` if it is one of the cache's; `false` otherwise.
    pub fn read_key(
        &mut self,
        key: &str,
        v: Node,
        env: &EnvSource,
        diag: &mut Diagnostics,
    ) -> bool {
        match key {
            "cache" => self.enabled = v.boolean(env, diag).unwrap_or(false),
            "cache_params" => self.read_params(v, env, diag),
            _ => return false,
        }
        true
    }

    fn read_params(&mut self, node: Node, env: &EnvSource, diag: &mut Diagnostics) {
        let Some(map) = node.mapping(diag) else {
            return;
        };
        self.params_seen = !map.is_empty();
        for_each_entry(map, node.path(), diag, |key, v, diag| match key {
            "type" => {
                if let Some(t) = v.string(env, diag) {
                    self.set_type(&t, v.path(), diag);
                }
            }
            "ttl" | "default_in_memory_ttl" | "default_in_redis_ttl" => {
                if let Some(secs) = v.number(env, diag).filter(|s| *s > 0.0) {
                    self.ttl = Some(secs);
                    self.ttl_set = true;
                }
            }
            "namespace" => self.namespace = v.string(env, diag).filter(|n| !n.is_empty()),
            "supported_call_types" => self.calls = read_call_types(v, env, diag),
            "mode" => match v.string(env, diag).as_deref() {
                Some("default_off") => self.opt_in = true,
                Some("default_on") | None => self.opt_in = false,
                Some(other) => diag.warn(
                    v.path(),
                    format!("unknown cache mode {other:?}; default_on is used"),
                ),
            },
            "max_messages" => self.max_messages = v.count(env, diag),
            "max_size_in_memory" | "max_size" => {
                if let Some(n) = v.count(env, diag) {
                    self.max_entries = n.max(1);
                }
            }
            "max_size_per_item" => {
                if let Some(kb) = v.count(env, diag) {
                    self.max_entry_bytes = kb.max(1) * 1024;
                }
            }
            // Tollgate's own: the in-memory cache's total size.
            "max_size_mb" => {
                if let Some(mb) = v.number(env, diag).filter(|m| *m > 0.0) {
                    self.max_size_bytes = (mb * 1024.0 * 1024.0) as u64;
                }
            }
            // Tollgate's own: the longest wait on Redis before a lookup counts as a miss.
            "redis_timeout" => {
                if let Some(secs) = v.number(env, diag).filter(|s| *s > 0.0) {
                    self.redis_timeout_secs = secs;
                }
            }
            k if CONNECTION_KEYS.contains(&k) => {
                let value = match v.value {
                    serde_yaml::Value::String(_) => v
                        .string(env, diag)
                        .map_or(serde_yaml::Value::Null, serde_yaml::Value::String),
                    other => other.clone(),
                };
                self.connection.insert(k.to_string(), value);
            }
            k if QUIET_KEYS.contains(&k) => {}
            _ => diag.warn(v.path(), "not supported by Tollgate; ignored"),
        });
    }

    fn set_type(&mut self, name: &str, path: &str, diag: &mut Diagnostics) {
        self.configured_type = name.to_string();
        self.backend = match name {
            "local" => CacheBackendKind::Local,
            "redis" => CacheBackendKind::Redis,
            "redis-semantic" | "valkey-semantic" => {
                diag.warn(
                    path,
                    format!("semantic caching ({name}) is not supported by Tollgate; exact matching is used, in Redis"),
                );
                CacheBackendKind::Redis
            }
            "qdrant-semantic" => {
                diag.warn(
                    path,
                    format!("semantic caching ({name}) is not supported by Tollgate; exact matching is used, in memory"),
                );
                CacheBackendKind::Local
            }
            other => {
                diag.warn(
                    path,
                    format!("cache type {other:?} is not supported by Tollgate; the in-memory cache is used"),
                );
                CacheBackendKind::Local
            }
        };
    }

    /// After the whole section is read: LiteLLM's proxy caches in Redis (from `REDIS_HOST` /
    /// `REDIS_PORT` / `REDIS_PASSWORD`) when `cache: true` comes without `cache_params`; and
    /// Redis keeps entries without a TTL unless one is set.
    pub fn settle(&mut self, section: &str, env: &EnvSource, diag: &mut Diagnostics) {
        if !self.enabled {
            return;
        }
        if !self.params_seen {
            if env.first_of(&["REDIS_HOST", "REDIS_URL"]).is_some() {
                self.backend = CacheBackendKind::Redis;
                self.configured_type = "redis".to_string();
            } else {
                diag.warn(
                    &format!("{section}.cache"),
                    "no cache_params and no REDIS_HOST: the in-memory cache is used",
                );
            }
        }
        if self.backend == CacheBackendKind::Redis && !self.ttl_set {
            self.ttl = None;
        }
    }
}

fn read_call_types(v: Node, env: &EnvSource, diag: &mut Diagnostics) -> CachedCalls {
    let mut calls = CachedCalls {
        chat: false,
        completion: false,
        embedding: false,
        anthropic: false,
    };
    for name in v.strings(env, diag) {
        match name.as_str() {
            "completion" | "acompletion" => calls.chat = true,
            "text_completion" | "atext_completion" => calls.completion = true,
            "embedding" | "aembedding" => calls.embedding = true,
            "anthropic_messages" | "aanthropic_messages" => calls.anthropic = true,
            // LiteLLM's other call types: routes Tollgate does not cache (yet).
            _ => {}
        }
    }
    calls
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load_str;

    fn settings(yaml: &str) -> (CacheSettings, Vec<String>) {
        let loaded = load_str(yaml).unwrap();
        (loaded.config.litellm.cache, loaded.warnings)
    }

    #[test]
    fn local_defaults_are_litellms() {
        let (s, w) = settings("litellm_settings:\n  cache: true\n  cache_params: {type: local}\n");
        assert!(s.enabled && w.is_empty(), "{w:?}");
        assert_eq!(s.backend, CacheBackendKind::Local);
        assert_eq!(s.ttl, Some(600.0));
        assert_eq!(s.max_entries, 200);
        assert_eq!(s.calls, CachedCalls::default());
    }

    #[test]
    fn params_are_read() {
        let (s, w) = settings(
            "litellm_settings:\n  cache: true\n  cache_params:\n    type: redis\n    host: 127.0.0.1\n    port: 6379\n    password: pw\n    ttl: 30\n    namespace: ns\n    supported_call_types: [acompletion]\n    max_size_in_memory: 5\n",
        );
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(s.backend, CacheBackendKind::Redis);
        assert_eq!(s.ttl, Some(30.0));
        assert_eq!(s.namespace.as_deref(), Some("ns"));
        assert!(s.calls.chat && !s.calls.embedding && !s.calls.completion && !s.calls.anthropic);
        assert_eq!(s.max_entries, 5);
        assert_eq!(
            s.connection.get("host"),
            Some(&serde_yaml::Value::String("127.0.0.1".into()))
        );
    }

    #[test]
    fn semantic_and_unknown_types_warn_and_still_load() {
        let (s, w) = settings("litellm_settings:\n  cache: true\n  cache_params: {type: redis-semantic, similarity_threshold: 0.8}\n");
        assert_eq!(s.backend, CacheBackendKind::Redis);
        assert!(w
            .iter()
            .any(|w| w.starts_with("litellm_settings.cache_params.type:")
                && w.contains("semantic caching")));
        let (s, w) = settings(
            "litellm_settings:\n  cache: true\n  cache_params: {type: s3, s3_bucket_name: b}\n",
        );
        assert_eq!(s.backend, CacheBackendKind::Local);
        assert_eq!(w.len(), 1, "{w:?}");
    }

    #[test]
    fn redis_keeps_entries_without_a_ttl_unless_set() {
        let (s, _) = settings("litellm_settings:\n  cache: true\n  cache_params: {type: redis}\n");
        assert_eq!(s.ttl, None);
    }
}
