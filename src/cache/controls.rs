//! A request's own cache controls, as LiteLLM takes them: the body's `cache` object
//! (`no-cache`, `no-store`, `ttl`, `s-maxage`, `namespace`, `use-cache`) and the
//! `Cache-Control` header (`no-cache`, `no-store`, `s-maxage=N`).

use serde_json::Value;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct CacheControls {
    /// Do not look up (the answer is still stored).
    pub no_cache: bool,
    /// Do not store the answer.
    pub no_store: bool,
    /// Seconds this answer's entry lives.
    pub ttl: Option<f64>,
    /// Accept only entries younger than this many seconds.
    pub max_age: Option<f64>,
    pub namespace: Option<String>,
    /// Opts in when the cache is `mode: default_off`.
    pub use_cache: bool,
}

impl CacheControls {
    pub fn read(body: Option<&Value>, cache_control_header: Option<&str>) -> CacheControls {
        let mut c = CacheControls::default();
        if let Some(Value::Object(o)) = body {
            let flag = |k: &str| o.get(k).and_then(Value::as_bool).unwrap_or(false);
            let secs = |k: &str| {
                o.get(k)
                    .and_then(Value::as_f64)
                    .filter(|s| s.is_finite() && *s >= 0.0)
            };
            c.no_cache = flag("no-cache");
            c.no_store = flag("no-store");
            c.use_cache = flag("use-cache");
            c.ttl = secs("ttl").filter(|s| *s > 0.0);
            c.max_age = secs("s-maxage").or_else(|| secs("s-max-age"));
            c.namespace = o
                .get("namespace")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
                .map(str::to_string);
        }
        for directive in cache_control_header.into_iter().flat_map(|h| h.split(',')) {
            let directive = directive.trim().to_ascii_lowercase();
            match directive.split_once('=') {
                None if directive == "no-cache" => c.no_cache = true,
                None if directive == "no-store" => c.no_store = true,
                Some(("s-maxage", n)) => {
                    if let Ok(n) = n.trim().parse::<f64>() {
                        c.max_age = Some(n.max(0.0));
                    }
                }
                _ => {}
            }
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn body_and_header_controls() {
        let c = CacheControls::read(
            Some(&json!({"no-cache": true, "ttl": 5, "s-maxage": 2, "namespace": "a"})),
            None,
        );
        assert!(c.no_cache && !c.no_store);
        assert_eq!((c.ttl, c.max_age), (Some(5.0), Some(2.0)));
        assert_eq!(c.namespace.as_deref(), Some("a"));
        let c = CacheControls::read(None, Some("No-Store, s-maxage=10"));
        assert!(c.no_store && !c.no_cache);
        assert_eq!(c.max_age, Some(10.0));
        assert_eq!(
            CacheControls::read(Some(&json!("junk")), Some("max-age=3")),
            CacheControls::default()
        );
    }
}
