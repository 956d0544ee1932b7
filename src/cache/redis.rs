//! The shared backend: entries in Redis under the same key clients see in
//! `x-litellm-cache-key`, over any async connection handed in. Every call is bounded by a
//! timeout; a failure is a miss (never an error for the client), logged at most every 10 s.

use super::entry::CachedAnswer;
use super::CacheBackend;
use async_trait::async_trait;
use redis::aio::ConnectionLike;
use std::future::Future;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// Admin operations (delete, flush) may take longer than a lookup.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(10);
const LOG_EVERY_MS: i64 = 10_000;

pub struct RedisCache<C> {
    conn: C,
    timeout: Duration,
    last_logged_ms: AtomicI64,
}

impl<C> RedisCache<C>
where
    C: ConnectionLike + Clone + Send + Sync + 'static,
{
    pub fn new(conn: C, timeout: Duration) -> Self {
        RedisCache {
            conn,
            timeout,
            last_logged_ms: AtomicI64::new(0),
        }
    }

    /// Runs one Redis call within `limit`; on a failure, logs (rate-limited) and gives `None`.
    async fn bounded<T>(
        &self,
        what: &str,
        limit: Duration,
        call: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, String> {
        let error = match tokio::time::timeout(limit, call).await {
            Ok(Ok(v)) => return Ok(v),
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no answer within {} ms", limit.as_millis()),
        };
        let now = crate::store::now_ms();
        let last = self.last_logged_ms.load(Ordering::Relaxed);
        if now - last >= LOG_EVERY_MS
            && self
                .last_logged_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            log::warn!("response cache: Redis {what} failed, served as a miss: {error}");
        }
        Err(error)
    }
}

#[async_trait]
impl<C> CacheBackend for RedisCache<C>
where
    C: ConnectionLike + Clone + Send + Sync + 'static,
{
    fn kind(&self) -> &'static str {
        "redis"
    }

    async fn get(&self, key: &str) -> Option<CachedAnswer> {
        let mut conn = self.conn.clone();
        let cmd = redis::cmd("GET").arg(key).to_owned();
        let raw: Option<Vec<u8>> = self
            .bounded("GET", self.timeout, cmd.query_async(&mut conn))
            .await
            .ok()?;
        CachedAnswer::decode(&raw?)
    }

    async fn get_many(&self, keys: &[String]) -> Vec<Option<CachedAnswer>> {
        if keys.is_empty() {
            return Vec::new();
        }
        let mut conn = self.conn.clone();
        let cmd = redis::cmd("MGET").arg(keys).to_owned();
        let raw: Vec<Option<Vec<u8>>> = self
            .bounded("MGET", self.timeout, cmd.query_async(&mut conn))
            .await
            .unwrap_or_default();
        let mut out: Vec<Option<CachedAnswer>> = raw
            .into_iter()
            .map(|r| r.and_then(|b| CachedAnswer::decode(&b)))
            .collect();
        out.resize(keys.len(), None);
        out
    }

    async fn put(&self, key: &str, answer: CachedAnswer, ttl: Option<Duration>) {
        let mut conn = self.conn.clone();
        let mut cmd = redis::cmd("SET");
        cmd.arg(key).arg(answer.encode());
        if let Some(ttl) = ttl {
            cmd.arg("PX").arg(ttl.as_millis().max(1) as u64);
        }
        let _: Result<(), _> = self
            .bounded("SET", self.timeout, cmd.query_async(&mut conn))
            .await;
    }

    async fn delete(&self, keys: &[String]) -> Result<u64, String> {
        if keys.is_empty() {
            return Ok(0);
        }
        let mut conn = self.conn.clone();
        let cmd = redis::cmd("DEL").arg(keys).to_owned();
        self.bounded("DEL", ADMIN_TIMEOUT, cmd.query_async(&mut conn))
            .await
    }

    /// Only this cache's keys: the same Redis may hold rate limits and other shared state, so
    /// this scans for entry keys instead of `FLUSHALL`.
    async fn flush(&self) -> Result<(), String> {
        let mut conn = self.conn.clone();
        let mut cursor: u64 = 0;
        let deadline = tokio::time::Instant::now() + ADMIN_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let cmd = redis::cmd("SCAN")
                .arg(cursor)
                .arg("COUNT")
                .arg(1000)
                .to_owned();
            let (next, keys): (u64, Vec<String>) = self
                .bounded("SCAN", left, cmd.query_async(&mut conn))
                .await?;
            let ours: Vec<String> = keys
                .into_iter()
                .filter(|k| super::key::looks_like_key(k))
                .collect();
            if !ours.is_empty() {
                let del = redis::cmd("DEL").arg(&ours).to_owned();
                let _: u64 = self
                    .bounded("DEL", left, del.query_async(&mut conn))
                    .await?;
            }
            if next == 0 {
                return Ok(());
            }
            cursor = next;
        }
    }

    async fn ping(&self) -> Result<(), String> {
        let mut conn = self.conn.clone();
        let cmd = redis::cmd("PING");
        let _: String = self
            .bounded("PING", self.timeout, cmd.query_async(&mut conn))
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::entry::AnswerKind;
    use bytes::Bytes;

    /// A throwaway `redis-server` on a free loopback port; `None` when it is not installed.
    struct Server {
        child: std::process::Child,
        port: u16,
        dir: std::path::PathBuf,
    }

    impl Server {
        fn start() -> Option<Server> {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .ok()?
                .local_addr()
                .ok()?
                .port();
            let dir = std::env::temp_dir().join(format!("tollgate-redis-unit-{port}"));
            std::fs::create_dir_all(&dir).ok()?;
            let child = std::process::Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .arg("--dir")
                .arg(&dir)
                .stdout(std::process::Stdio::null())
                .spawn()
                .ok()?;
            Some(Server { child, port, dir })
        }

        async fn connection(&self) -> redis::aio::MultiplexedConnection {
            let client = redis::Client::open(format!("redis://127.0.0.1:{}", self.port)).unwrap();
            for _ in 0..100 {
                if let Ok(c) = client.get_multiplexed_async_connection().await {
                    return c;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            panic!("redis-server did not come up");
        }
    }

    impl Drop for Server {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    fn answer(text: &'static [u8]) -> CachedAnswer {
        CachedAnswer::new(AnswerKind::Whole, Bytes::from_static(text))
    }

    #[tokio::test]
    async fn entries_round_trip_expire_and_flush_only_the_cache() {
        let Some(server) = Server::start() else {
            eprintln!("redis-server not installed; skipped");
            return;
        };
        let mut conn = server.connection().await;
        let cache = RedisCache::new(conn.clone(), Duration::from_millis(500));
        let (k1, k2) = ("a".repeat(64), format!("ns:{}", "b".repeat(64)));
        cache.put(&k1, answer(b"one"), None).await;
        cache
            .put(&k2, answer(b"two"), Some(Duration::from_millis(100)))
            .await;
        assert_eq!(&cache.get(&k1).await.unwrap().body[..], b"one");
        let both = cache.get_many(&[k1.clone(), k2.clone(), "x".into()]).await;
        assert!(both[0].is_some() && both[1].is_some() && both[2].is_none());
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(cache.get(&k2).await.is_none(), "the entry outlived its TTL");

        let _: () = redis::cmd("SET")
            .arg("limits:key")
            .arg("7")
            .query_async(&mut conn)
            .await
            .unwrap();
        cache.flush().await.unwrap();
        assert!(cache.get(&k1).await.is_none());
        let other: Option<String> = redis::cmd("GET")
            .arg("limits:key")
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(
            other.as_deref(),
            Some("7"),
            "flush removed a key that is not the cache's"
        );
        cache.put(&k1, answer(b"one"), None).await;
        assert_eq!(cache.delete(std::slice::from_ref(&k1)).await, Ok(1));
    }

    #[tokio::test]
    async fn a_server_gone_is_a_miss_within_the_timeout() {
        let Some(server) = Server::start() else {
            return;
        };
        let conn = server.connection().await;
        drop(server);
        let cache = RedisCache::new(conn, Duration::from_millis(200));
        let started = std::time::Instant::now();
        assert!(cache.get(&"c".repeat(64)).await.is_none());
        cache.put("k", answer(b"x"), None).await;
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(cache.ping().await.is_err());
    }
}
