//! The response cache (`litellm_settings.cache`): exact matches on a hash of the normalized
//! request, in process (`moka`) or shared through Redis. The request path asks `call::plan`
//! what the cache does for a call, answers a hit from it, and hands a miss's answer back to it
//! once the call ended cleanly. A backend failure is a miss, never an error for the client.

pub mod admin;
pub mod call;
pub mod controls;
pub mod embeddings;
pub mod entry;
pub mod key;
pub mod local;
pub mod redis;

pub use call::CallCache;
pub use entry::CachedAnswer;

use crate::config::cache::{CacheBackendKind, CacheSettings};
use crate::shared_state::{SharedConn, SharedRedis};
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;

/// Where entries live. Lookups that fail (a backend down, slow, or holding a value it cannot
/// read) are `None`: a miss.
#[async_trait]
pub trait CacheBackend: Send + Sync {
    /// `local` or `redis`, as `/cache/ping` names it.
    fn kind(&self) -> &'static str;
    async fn get(&self, key: &str) -> Option<CachedAnswer>;
    /// Several keys at once (one round trip where the backend can).
    async fn get_many(&self, keys: &[String]) -> Vec<Option<CachedAnswer>> {
        let mut out = Vec::with_capacity(keys.len());
        for k in keys {
            out.push(self.get(k).await);
        }
        out
    }
    /// Stores an entry for `ttl` (`None`: until evicted).
    async fn put(&self, key: &str, answer: CachedAnswer, ttl: Option<Duration>);
    /// How many of `keys` were there.
    async fn delete(&self, keys: &[String]) -> Result<u64, String>;
    /// Removes every entry of this cache.
    async fn flush(&self) -> Result<(), String>;
    async fn ping(&self) -> Result<(), String>;
}

/// The backend the settings ask for, or `None` when caching is off. Redis is the gateway's
/// shared one; without one configured, the in-memory cache serves instead (logged).
pub fn backend_from_settings(
    settings: &CacheSettings,
    shared: Option<&Arc<SharedRedis>>,
) -> Option<Arc<dyn CacheBackend>> {
    if !settings.enabled {
        return None;
    }
    let local = || -> Arc<dyn CacheBackend> {
        Arc::new(local::LocalCache::new(
            settings.max_entries,
            settings.max_size_bytes,
        ))
    };
    match (settings.backend, shared) {
        (CacheBackendKind::Local, _) => Some(local()),
        (CacheBackendKind::Redis, Some(shared)) => Some(Arc::new(redis::RedisCache::new(
            SharedConn(Arc::clone(shared)),
            crate::duration::from_secs(settings.redis_timeout_secs),
        ))),
        (CacheBackendKind::Redis, None) => {
            log::warn!("response cache: type redis, but no Redis is configured (cache_params host / url, router_settings.redis_*, REDIS_*); the in-memory cache is used");
            Some(local())
        }
    }
}
