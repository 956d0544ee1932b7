//! The in-process backend: a `moka` cache bounded by entries and by bytes, each entry with its
//! own TTL (the configured one, or the request's `ttl`).

use super::entry::CachedAnswer;
use super::CacheBackend;
use async_trait::async_trait;
use moka::future::Cache;
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Stored {
    answer: CachedAnswer,
    ttl: Option<Duration>,
}

struct PerEntryTtl;

impl moka::Expiry<String, Arc<Stored>> for PerEntryTtl {
    fn expire_after_create(
        &self,
        _key: &String,
        value: &Arc<Stored>,
        _created_at: Instant,
    ) -> Option<Duration> {
        value.ttl
    }
}

pub struct LocalCache {
    entries: Cache<String, Arc<Stored>>,
}

impl LocalCache {
    /// At most `max_entries` entries and `max_bytes` bytes. moka has one capacity, so each
    /// entry weighs at least `max_bytes / max_entries`: both bounds hold, and a cache of small
    /// entries is bounded by their count.
    pub fn new(max_entries: u64, max_bytes: u64) -> LocalCache {
        let max_entries = max_entries.max(1);
        let max_bytes = max_bytes.max(max_entries);
        let slot = max_bytes / max_entries;
        let entries = Cache::builder()
            .max_capacity(max_bytes)
            .weigher(move |key: &String, v: &Arc<Stored>| {
                let bytes = (key.len() + v.answer.body.len() + 64) as u64;
                u32::try_from(bytes.max(slot)).unwrap_or(u32::MAX)
            })
            .expire_after(PerEntryTtl)
            .build();
        LocalCache { entries }
    }

    #[cfg(test)]
    async fn settle(&self) -> (u64, u64) {
        self.entries.run_pending_tasks().await;
        (self.entries.entry_count(), self.entries.weighted_size())
    }
}

#[async_trait]
impl CacheBackend for LocalCache {
    fn kind(&self) -> &'static str {
        "local"
    }

    async fn get(&self, key: &str) -> Option<CachedAnswer> {
        self.entries.get(key).await.map(|s| s.answer.clone())
    }

    async fn put(&self, key: &str, answer: CachedAnswer, ttl: Option<Duration>) {
        let stored = Arc::new(Stored { answer, ttl });
        self.entries.insert(key.to_string(), stored).await;
    }

    async fn delete(&self, keys: &[String]) -> Result<u64, String> {
        let mut n = 0;
        for k in keys {
            if self.entries.remove(k).await.is_some() {
                n += 1;
            }
        }
        Ok(n)
    }

    async fn flush(&self) -> Result<(), String> {
        self.entries.invalidate_all();
        self.entries.run_pending_tasks().await;
        Ok(())
    }

    async fn ping(&self) -> Result<(), String> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::entry::AnswerKind;
    use bytes::Bytes;

    fn answer(bytes: usize) -> CachedAnswer {
        CachedAnswer::new(AnswerKind::Whole, Bytes::from(vec![b'x'; bytes]))
    }

    #[tokio::test]
    async fn bounded_by_entries() {
        let c = LocalCache::new(10, 1 << 30);
        for i in 0..100 {
            c.put(&format!("k{i}"), answer(10), None).await;
        }
        let (count, _) = c.settle().await;
        assert!(count <= 10, "{count} entries");
    }

    #[tokio::test]
    async fn bounded_by_bytes() {
        let c = LocalCache::new(1000, 100_000);
        for i in 0..100 {
            c.put(&format!("k{i}"), answer(10_000), None).await;
        }
        let (count, weight) = c.settle().await;
        assert!(weight <= 100_000, "{weight} bytes");
        assert!(count <= 10, "{count} entries");
    }

    #[tokio::test]
    async fn entries_expire_after_their_own_ttl() {
        let c = LocalCache::new(10, 1 << 20);
        c.put("short", answer(1), Some(Duration::from_millis(50)))
            .await;
        c.put("long", answer(1), Some(Duration::from_secs(60)))
            .await;
        assert!(c.get("short").await.is_some());
        tokio::time::sleep(Duration::from_millis(120)).await;
        assert!(c.get("short").await.is_none());
        assert!(c.get("long").await.is_some());
        assert_eq!(c.delete(&["long".into(), "none".into()]).await, Ok(1));
        assert!(c.get("long").await.is_none());
    }
}
