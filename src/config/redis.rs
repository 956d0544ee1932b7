//! Where the shared Redis is, as LiteLLM reads it: `router_settings.redis_host` / `redis_port` /
//! `redis_password` / `redis_url`, the cache's `cache_params` (`host`, `port`, `password`,
//! `url`, `ssl`, `redis_startup_nodes` for a cluster, `sentinel_nodes` + `service_name`), else
//! the `REDIS_*` environment variables. Several nodes share limits, cooldowns and the cache
//! through it.

use super::yaml::{Diagnostics, EnvSource, Node};
use crate::credentials::http::form_encode as encode;
use crate::secret::Secret;

#[derive(Debug, Clone, PartialEq)]
pub struct RedisSettings {
    /// `redis://` or `rediss://` (TLS), with credentials if any.
    pub url: Option<Secret>,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub ssl: bool,
    /// Redis Cluster: the startup nodes, `host:port`.
    pub cluster_nodes: Vec<String>,
    /// Sentinel: where the sentinels are (`host:port`) and the service they watch.
    pub sentinel_nodes: Vec<String>,
    pub service_name: Option<String>,
    pub sentinel_password: Option<Secret>,
    /// Tollgate's own (`router_settings.redis_timeout_ms`): the longest a call waits on Redis.
    pub timeout_ms: u64,
    /// Tollgate's own (`router_settings.redis_failure_mode: fail_closed`): refuse limited calls
    /// while Redis is unreachable, instead of limiting on each node alone.
    pub fail_closed: bool,
}

impl Default for RedisSettings {
    fn default() -> Self {
        RedisSettings {
            url: None,
            host: None,
            port: None,
            username: None,
            password: None,
            ssl: false,
            cluster_nodes: Vec::new(),
            sentinel_nodes: Vec::new(),
            service_name: None,
            sentinel_password: None,
            timeout_ms: 100,
            fail_closed: false,
        }
    }
}

/// How a Redis is reached.
#[derive(Debug, Clone, PartialEq)]
pub enum RedisTarget {
    /// One server (or a managed endpoint), by URL.
    Single(String),
    /// Redis Cluster startup nodes, as URLs.
    Cluster(Vec<String>),
    /// Sentinels (as URLs), the service they watch, and how to log in to its master.
    Sentinel {
        sentinels: Vec<String>,
        service_name: String,
        username: Option<String>,
        password: Option<String>,
        tls: bool,
    },
}

impl RedisSettings {
    /// Takes a `router_settings` key about Redis; `false` for other keys.
    pub fn read_router_key(
        &mut self,
        key: &str,
        v: Node,
        env: &EnvSource,
        diag: &mut Diagnostics,
    ) -> bool {
        match key {
            "redis_host" => self.host = v.string(env, diag),
            "redis_port" => self.port = port(v, env, diag),
            "redis_password" => self.password = v.string(env, diag).map(Secret::new),
            "redis_username" => self.username = v.string(env, diag),
            "redis_url" => self.url = v.string(env, diag).map(Secret::new),
            "redis_timeout_ms" => {
                if let Some(ms) = v.count(env, diag) {
                    self.timeout_ms = ms.clamp(1, 10_000);
                }
            }
            "redis_failure_mode" => match v.string(env, diag).as_deref() {
                Some("fail_open") | None => self.fail_closed = false,
                Some("fail_closed") => self.fail_closed = true,
                Some(other) => diag.error(
                    v.path(),
                    format!("must be fail_open or fail_closed, found {other:?}"),
                ),
            },
            _ => return false,
        }
        true
    }

    /// Takes a `cache_params` key about the connection (only where the router settings named
    /// no Redis); `false` for other keys.
    pub fn read_cache_param(
        &mut self,
        key: &str,
        v: Node,
        env: &EnvSource,
        diag: &mut Diagnostics,
    ) -> bool {
        match key {
            "host" => self.host = self.host.take().or(v.string(env, diag)),
            "port" => self.port = self.port.or(port(v, env, diag)),
            "password" => {
                self.password = self
                    .password
                    .take()
                    .or(v.string(env, diag).map(Secret::new))
            }
            "username" => self.username = self.username.take().or(v.string(env, diag)),
            "url" | "redis_url" => {
                self.url = self.url.take().or(v.string(env, diag).map(Secret::new))
            }
            "ssl" => self.ssl = v.boolean(env, diag).unwrap_or(false),
            "redis_startup_nodes" | "startup_nodes" => self.cluster_nodes = nodes(v, env, diag),
            "sentinel_nodes" => self.sentinel_nodes = nodes(v, env, diag),
            "service_name" => self.service_name = v.string(env, diag),
            "sentinel_password" => self.sentinel_password = v.string(env, diag).map(Secret::new),
            _ => return false,
        }
        true
    }

    /// Fills what the file left unset from LiteLLM's `REDIS_*` variables.
    pub fn fill_from_env(&mut self, env: &EnvSource) {
        let named = self.url.is_some()
            || self.host.is_some()
            || !self.cluster_nodes.is_empty()
            || !self.sentinel_nodes.is_empty();
        if !named {
            self.url = env.get("REDIS_URL").map(Secret::new);
            self.host = env.get("REDIS_HOST");
            if let Some(nodes) = env.get("REDIS_CLUSTER_NODES") {
                self.cluster_nodes = json_nodes(&nodes);
            }
            if let Some(nodes) = env.get("REDIS_SENTINEL_NODES") {
                self.sentinel_nodes = json_nodes(&nodes);
            }
        }
        if self.port.is_none() {
            self.port = env.get("REDIS_PORT").and_then(|p| p.parse().ok());
        }
        if self.password.is_none() {
            self.password = env.get("REDIS_PASSWORD").map(Secret::new);
        }
        if self.username.is_none() {
            self.username = env.get("REDIS_USERNAME");
        }
        if !self.ssl {
            self.ssl = env
                .get("REDIS_SSL")
                .is_some_and(|s| s.eq_ignore_ascii_case("true"));
        }
        if self.service_name.is_none() {
            self.service_name = env.get("REDIS_SERVICE_NAME");
        }
        if self.sentinel_password.is_none() {
            self.sentinel_password = env.get("REDIS_SENTINEL_PASSWORD").map(Secret::new);
        }
    }

    /// Where to connect, or `None` when no Redis is configured.
    pub fn target(&self) -> Option<RedisTarget> {
        let scheme = if self.ssl { "rediss" } else { "redis" };
        let auth = match (&self.username, &self.password) {
            (Some(u), Some(p)) => format!("{}:{}@", encode(u), encode(p.expose())),
            (None, Some(p)) => format!(":{}@", encode(p.expose())),
            (Some(u), None) => format!("{}@", encode(u)),
            (None, None) => String::new(),
        };
        let node_url = |node: &str| format!("{scheme}://{auth}{node}");
        if !self.cluster_nodes.is_empty() {
            return Some(RedisTarget::Cluster(
                self.cluster_nodes.iter().map(|n| node_url(n)).collect(),
            ));
        }
        if !self.sentinel_nodes.is_empty() {
            let sentinel_auth = self
                .sentinel_password
                .as_ref()
                .map(|p| format!(":{}@", encode(p.expose())))
                .unwrap_or_default();
            return Some(RedisTarget::Sentinel {
                sentinels: self
                    .sentinel_nodes
                    .iter()
                    .map(|n| format!("redis://{sentinel_auth}{n}"))
                    .collect(),
                service_name: self
                    .service_name
                    .clone()
                    .unwrap_or_else(|| "mymaster".into()),
                username: self.username.clone(),
                password: self.password.as_ref().map(|p| p.expose().to_string()),
                tls: self.ssl,
            });
        }
        if let Some(url) = &self.url {
            return Some(RedisTarget::Single(url.expose().to_string()));
        }
        let host = self.host.as_ref()?;
        let port = self.port.unwrap_or(6379);
        Some(RedisTarget::Single(node_url(&format!("{host}:{port}"))))
    }
}

fn port(v: Node, env: &EnvSource, diag: &mut Diagnostics) -> Option<u16> {
    let n = v.count(env, diag)?;
    match u16::try_from(n) {
        Ok(p) if p > 0 => Some(p),
        _ => {
            diag.error(v.path(), format!("not a port number: {n}"));
            None
        }
    }
}

/// Nodes as LiteLLM takes them: `[{"host": h, "port": p}]`, `[[h, p]]` or `["h:p"]`.
fn nodes(v: Node, env: &EnvSource, diag: &mut Diagnostics) -> Vec<String> {
    match v.value {
        serde_yaml::Value::String(_) => v
            .string(env, diag)
            .map(|s| json_nodes(&s))
            .unwrap_or_default(),
        other => match serde_json::to_value(other) {
            Ok(json) => nodes_of_json(&json),
            Err(_) => {
                diag.error(v.path(), "expected a list of nodes");
                Vec::new()
            }
        },
    }
}

fn json_nodes(text: &str) -> Vec<String> {
    serde_json::from_str(text)
        .map(|j| nodes_of_json(&j))
        .unwrap_or_default()
}

fn nodes_of_json(json: &serde_json::Value) -> Vec<String> {
    let Some(items) = json.as_array() else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|n| match n {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Array(pair) => {
                let host = pair.first()?.as_str()?;
                Some(format!("{host}:{}", pair.get(1).map(port_text)?))
            }
            serde_json::Value::Object(m) => {
                let host = m.get("host")?.as_str()?;
                Some(format!("{host}:{}", m.get("port").map(port_text)?))
            }
            _ => None,
        })
        .collect()
}

fn port_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_from_host_port_password_and_from_nodes() {
        let mut s = RedisSettings {
            host: Some("10.0.0.5".into()),
            port: Some(6380),
            password: Some(Secret::new("p@ss")),
            ssl: true,
            ..Default::default()
        };
        assert_eq!(
            s.target(),
            Some(RedisTarget::Single("rediss://:p%40ss@10.0.0.5:6380".into()))
        );
        s.cluster_nodes = json_nodes(r#"[{"host": "a", "port": 7000}, ["b", "7001"]]"#);
        assert_eq!(
            s.target(),
            Some(RedisTarget::Cluster(vec![
                "rediss://:p%40ss@a:7000".into(),
                "rediss://:p%40ss@b:7001".into()
            ]))
        );
        assert_eq!(RedisSettings::default().target(), None);
    }
}
