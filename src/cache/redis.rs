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

/// TEMPORARY, until `crate::shared_state::SharedRedis` hands out the gateway's one Redis
/// connection: a backend connected from `cache_params` (`url`, or `host` / `port` /
/// `password` / `username` / `ssl`, or the `REDIS_*` variables), lazily, on the first call
/// from the serving runtime. Replace its one use in `ResponseCache::from_settings`.
pub fn redis_backend_from_params(
    settings: &crate::config::cache::CacheSettings,
) -> Result<LazyRedis, String> {
    let url = redis_url(settings)?;
    let client = redis::Client::open(url.as_str()).map_err(|e| format!("{e}"))?;
    Ok(LazyRedis {
        client,
        timeout: crate::duration::from_secs(settings.redis_timeout_secs),
        cache: tokio::sync::OnceCell::new(),
        next_attempt_ms: AtomicI64::new(0),
    })
}

fn redis_url(settings: &crate::config::cache::CacheSettings) -> Result<String, String> {
    let param = |k: &str| -> Option<String> {
        match settings.connection.get(k)? {
            serde_yaml::Value::String(s) if !s.is_empty() => Some(s.clone()),
            serde_yaml::Value::Number(n) => Some(n.to_string()),
            serde_yaml::Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    };
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    if let Some(url) = param("url")
        .or_else(|| param("redis_url"))
        .or_else(|| env("REDIS_URL"))
    {
        return Ok(url);
    }
    let host = param("host")
        .or_else(|| env("REDIS_HOST"))
        .ok_or("cache_params has no host or url (and REDIS_HOST is not set)")?;
    let port = param("port")
        .or_else(|| env("REDIS_PORT"))
        .unwrap_or_else(|| "6379".into());
    let password = param("password").or_else(|| env("REDIS_PASSWORD"));
    let username = param("username").or_else(|| env("REDIS_USERNAME"));
    let tls = param("ssl").is_some_and(|s| s == "true" || s == "True");
    let scheme = if tls { "rediss" } else { "redis" };
    let auth = match (username, password) {
        (Some(u), Some(p)) => format!("{}:{}@", enc(&u), enc(&p)),
        (None, Some(p)) => format!(":{}@", enc(&p)),
        _ => String::new(),
    };
    Ok(format!("{scheme}://{auth}{host}:{port}"))
}

/// Percent-encodes what cannot appear as-is in a URL's user info.
fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A Redis backend that connects on first use (a connection made at start would belong to the
/// start-up runtime, not the one serving requests); a failed connect is a miss and is retried
/// on a later call.
pub struct LazyRedis {
    client: redis::Client,
    timeout: Duration,
    cache: tokio::sync::OnceCell<RedisCache<redis::aio::ConnectionManager>>,
    /// After a failed connect, calls are misses without waiting until then.
    next_attempt_ms: AtomicI64,
}

impl LazyRedis {
    async fn connected(&self) -> Option<&RedisCache<redis::aio::ConnectionManager>> {
        if let Some(c) = self.cache.get() {
            return Some(c);
        }
        if crate::store::now_ms() < self.next_attempt_ms.load(Ordering::Relaxed) {
            return None;
        }
        let connect = async {
            let manager = tokio::time::timeout(
                self.timeout.max(Duration::from_secs(1)),
                self.client.get_connection_manager(),
            )
            .await
            .map_err(|_| "connect timed out".to_string())?
            .map_err(|e| e.to_string())?;
            Ok::<_, String>(RedisCache::new(manager, self.timeout))
        };
        match self.cache.get_or_try_init(|| connect).await {
            Ok(c) => Some(c),
            Err(e) => {
                let retry_at = crate::store::now_ms() + 5_000;
                if self.next_attempt_ms.swap(retry_at, Ordering::Relaxed) < retry_at - 5_000 {
                    log::warn!("response cache: cannot connect to Redis, served as misses (retried in 5 s): {e}");
                }
                None
            }
        }
    }
}

#[async_trait]
impl CacheBackend for LazyRedis {
    fn kind(&self) -> &'static str {
        "redis"
    }
    async fn get(&self, key: &str) -> Option<CachedAnswer> {
        self.connected().await?.get(key).await
    }
    async fn get_many(&self, keys: &[String]) -> Vec<Option<CachedAnswer>> {
        match self.connected().await {
            Some(c) => c.get_many(keys).await,
            None => vec![None; keys.len()],
        }
    }
    async fn put(&self, key: &str, answer: CachedAnswer, ttl: Option<Duration>) {
        if let Some(c) = self.connected().await {
            c.put(key, answer, ttl).await;
        }
    }
    async fn delete(&self, keys: &[String]) -> Result<u64, String> {
        let c = self.connected().await.ok_or("Redis unreachable")?;
        c.delete(keys).await
    }
    async fn flush(&self) -> Result<(), String> {
        let c = self.connected().await.ok_or("Redis unreachable")?;
        c.flush().await
    }
    async fn ping(&self) -> Result<(), String> {
        let c = self.connected().await.ok_or("Redis unreachable")?;
        c.ping().await
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
