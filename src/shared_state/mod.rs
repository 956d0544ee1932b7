//! The Redis several gateway nodes share (rate limits, cooldowns, the response cache), held as
//! one multiplexed connection that every request clones. Calls on it are bounded by a short
//! timeout; a failure drops the connection, counts a fallback, logs (at most once a second),
//! and the background keeper reconnects, so callers only ever see "Redis is unavailable now"
//! and fall back to what the node knows alone.

pub mod keeper;

use crate::config::redis::{RedisSettings, RedisTarget};
use arc_swap::ArcSwapOption;
use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, Value};
use std::future::Future;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// One connection to the shared Redis, of whichever kind the settings name.
#[derive(Clone)]
pub enum RedisConn {
    Single(MultiplexedConnection),
    Cluster(ClusterConnection),
}

impl ConnectionLike for RedisConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            RedisConn::Single(c) => c.req_packed_command(cmd),
            RedisConn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            RedisConn::Single(c) => c.req_packed_commands(pipeline, offset, count),
            RedisConn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            RedisConn::Single(c) => c.get_db(),
            RedisConn::Cluster(c) => c.get_db(),
        }
    }
}

/// The shared connection as a plain `ConnectionLike`, for code that brings its own bounds (the
/// response cache): each command goes over the connection of the moment; a broken one is
/// handed back to the keeper to replace.
#[derive(Clone)]
pub struct SharedConn(pub Arc<SharedRedis>);

impl ConnectionLike for SharedConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            let conn = self.0.current()?;
            let mut c = (*conn).clone();
            let out = c.req_packed_command(cmd).await;
            self.0.check(&conn, &out);
            out
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            let conn = self.0.current()?;
            let mut c = (*conn).clone();
            let out = c.req_packed_commands(pipeline, offset, count).await;
            self.0.check(&conn, &out);
            out
        })
    }

    fn get_db(&self) -> i64 {
        0
    }
}

/// Why a Redis call gave nothing.
#[derive(Debug, Clone, PartialEq)]
pub enum RedisDown {
    /// Not connected (yet, or since the last failure).
    NotConnected,
    TimedOut,
    Failed(String),
}

pub struct SharedRedis {
    target: RedisTarget,
    conn: ArcSwapOption<RedisConn>,
    timeout: Duration,
    pub fail_closed: bool,
    /// Calls that found Redis unavailable and fell back (a metric once metrics land).
    pub fallbacks: AtomicU64,
    last_log_ms: AtomicI64,
}

impl SharedRedis {
    /// `None` when no Redis is configured. Connects later, in the keeper: a Redis that is down
    /// at start must not stop the gateway.
    pub fn configured(settings: &RedisSettings) -> Option<Arc<SharedRedis>> {
        let target = settings.target()?;
        Some(Arc::new(SharedRedis {
            target,
            conn: ArcSwapOption::empty(),
            timeout: Duration::from_millis(settings.timeout_ms),
            fail_closed: settings.fail_closed,
            fallbacks: AtomicU64::new(0),
            last_log_ms: AtomicI64::new(0),
        }))
    }

    pub fn is_connected(&self) -> bool {
        self.conn.load().is_some()
    }

    /// Runs `call` on the connection within the timeout. A failure marks the connection broken
    /// (the keeper replaces it) and counts a fallback.
    pub async fn run<T, F, Fut>(&self, call: F) -> Result<T, RedisDown>
    where
        F: FnOnce(RedisConn) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let Some(conn) = self.conn.load_full() else {
            self.fell_back(&RedisDown::NotConnected);
            return Err(RedisDown::NotConnected);
        };
        let outcome = match tokio::time::timeout(self.timeout, call((*conn).clone())).await {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(e)) if !is_connection_error(&e) => {
                // The server answered with an error (a script bug, a wrong type): the
                // connection is fine.
                RedisDown::Failed(e.to_string())
            }
            Ok(Err(e)) => {
                self.drop_connection(&conn);
                RedisDown::Failed(e.to_string())
            }
            Err(_) => {
                self.drop_connection(&conn);
                RedisDown::TimedOut
            }
        };
        self.fell_back(&outcome);
        Err(outcome)
    }

    fn current(&self) -> redis::RedisResult<Arc<RedisConn>> {
        self.conn
            .load_full()
            .ok_or_else(|| redis::RedisError::from((redis::ErrorKind::Io, "redis not connected")))
    }

    fn check<T>(&self, conn: &Arc<RedisConn>, out: &redis::RedisResult<T>) {
        if let Err(e) = out {
            if is_connection_error(e) {
                self.drop_connection(conn);
            }
        }
    }

    fn drop_connection(&self, broken: &Arc<RedisConn>) {
        self.conn
            .compare_and_swap(&Some(Arc::clone(broken)), None::<Arc<RedisConn>>);
    }

    fn fell_back(&self, why: &RedisDown) {
        self.fallbacks.fetch_add(1, Ordering::Relaxed);
        let now = crate::store::now_ms();
        let last = self.last_log_ms.load(Ordering::Relaxed);
        if now - last >= 1000
            && self
                .last_log_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let mode = if self.fail_closed {
                "limited calls are refused"
            } else {
                "each node limits alone"
            };
            log::warn!("redis unavailable ({why:?}): {mode} until it is back");
        }
    }

    /// Opens a new connection (the keeper's job).
    async fn connect(&self) -> redis::RedisResult<RedisConn> {
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(self.timeout.max(Duration::from_millis(500))));
        match &self.target {
            RedisTarget::Single(url) => {
                let client = redis::Client::open(url.as_str())?;
                Ok(RedisConn::Single(
                    client
                        .get_multiplexed_async_connection_with_config(&config)
                        .await?,
                ))
            }
            RedisTarget::Cluster(nodes) => {
                let client = redis::cluster::ClusterClient::builder(nodes.clone())
                    .connection_timeout(CONNECT_TIMEOUT)
                    .response_timeout(self.timeout.max(Duration::from_millis(500)))
                    .build()?;
                Ok(RedisConn::Cluster(client.get_async_connection().await?))
            }
            RedisTarget::Sentinel {
                sentinels,
                service_name,
                username,
                password,
                tls,
            } => {
                let mut info = redis::RedisConnectionInfo::default();
                if let Some(u) = username {
                    info = info.set_username(u);
                }
                if let Some(p) = password {
                    info = info.set_password(p);
                }
                let mut node = redis::sentinel::SentinelNodeConnectionInfo::default()
                    .set_redis_connection_info(info);
                if *tls {
                    node = node.set_tls_mode(redis::TlsMode::Secure);
                }
                let mut client = redis::sentinel::SentinelClient::build(
                    sentinels.clone(),
                    service_name.clone(),
                    Some(node),
                    redis::sentinel::SentinelServerType::Master,
                )?;
                Ok(RedisConn::Single(
                    client.get_async_connection_with_config(&config).await?,
                ))
            }
        }
    }
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// Errors that say the connection itself is gone (as opposed to an error reply).
fn is_connection_error(e: &redis::RedisError) -> bool {
    e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal() || e.is_timeout()
}
