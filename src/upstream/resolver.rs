//! Host name resolution kept off the request path.
//!
//! Pingora's `HttpPeer::new` resolves names with a blocking call and panics on failure, so peers
//! are built from addresses resolved here: IP literals directly, names through tokio's resolver
//! (on its blocking pool), cached, and refreshed in the background once stale.

use dashmap::DashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

const FRESH_FOR: Duration = Duration::from_secs(30);

#[derive(Default)]
pub struct Resolver {
    cache: DashMap<(String, u16), Cached>,
}

#[derive(Clone)]
struct Cached {
    addr: SocketAddr,
    at: Instant,
    refreshing: bool,
}

impl Resolver {
    pub async fn resolve(self: &Arc<Self>, host: &str, port: u16) -> Result<SocketAddr, String> {
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(SocketAddr::new(ip, port));
        }
        let key = (host.to_string(), port);
        if let Some(mut hit) = self.cache.get_mut(&key) {
            if hit.at.elapsed() > FRESH_FOR && !hit.refreshing {
                // Serve the stale address now; refresh for the next request.
                hit.refreshing = true;
                let this = Arc::clone(self);
                let key = key.clone();
                tokio::spawn(async move {
                    let _ = this.lookup_and_store(key).await;
                });
            }
            return Ok(hit.addr);
        }
        self.lookup_and_store(key).await
    }

    async fn lookup_and_store(&self, key: (String, u16)) -> Result<SocketAddr, String> {
        let looked_up = tokio::net::lookup_host((key.0.as_str(), key.1)).await;
        match looked_up.map(|mut addrs| addrs.next()) {
            Ok(Some(addr)) => {
                self.cache.insert(
                    key,
                    Cached {
                        addr,
                        at: Instant::now(),
                        refreshing: false,
                    },
                );
                Ok(addr)
            }
            Ok(None) => {
                self.clear_refreshing(&key);
                Err(format!("{} has no address", key.0))
            }
            Err(e) => {
                self.clear_refreshing(&key);
                Err(format!("cannot resolve {}: {e}", key.0))
            }
        }
    }

    fn clear_refreshing(&self, key: &(String, u16)) {
        if let Some(mut c) = self.cache.get_mut(key) {
            c.refreshing = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn ip_literals_need_no_lookup() {
        let r = Arc::new(Resolver::default());
        let a = r.resolve("127.0.0.1", 8080).await.unwrap();
        assert_eq!(a, "127.0.0.1:8080".parse().unwrap());
        let a = r.resolve("::1", 80).await.unwrap();
        assert_eq!(a, "[::1]:80".parse().unwrap());
    }

    #[tokio::test]
    async fn localhost_resolves_and_is_cached() {
        let r = Arc::new(Resolver::default());
        let a = r.resolve("localhost", 9).await.unwrap();
        assert_eq!(a.port(), 9);
        assert_eq!(r.cache.len(), 1);
    }

    #[tokio::test]
    async fn unknown_host_is_an_error_not_a_panic() {
        let r = Arc::new(Resolver::default());
        assert!(r.resolve("no-such-host.invalid", 80).await.is_err());
    }
}
