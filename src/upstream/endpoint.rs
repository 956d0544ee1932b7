//! A provider's base URL, parsed once at config load.

use http::uri::{Scheme, Uri};

/// `https://api.groq.com/openai/v1` as the request path needs it: where to connect and which
/// path to put in front of `/chat/completions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    /// The `Host` header: the host, with the port when it is not the scheme's default.
    pub authority: String,
    /// The base path without a trailing slash (`/openai/v1`, or empty).
    pub base_path: String,
    /// Query parameters that came with the base URL (kept, e.g. Azure's `api-version`).
    pub base_query: Option<String>,
}

impl Endpoint {
    pub fn parse(url: &str) -> Result<Endpoint, String> {
        let uri: Uri = url
            .trim()
            .parse()
            .map_err(|e| format!("invalid URL {url:?}: {e}"))?;
        let tls = match uri.scheme() {
            Some(s) if *s == Scheme::HTTPS => true,
            Some(s) if *s == Scheme::HTTP => false,
            _ => {
                return Err(format!(
                    "invalid URL {url:?}: it must start with http:// or https://"
                ))
            }
        };
        let host = uri
            .host()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| format!("invalid URL {url:?}: no host"))?;
        // `[::1]` arrives bracketed; the resolver and SNI want it bare.
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let default_port = if tls { 443 } else { 80 };
        let port = uri.port_u16().unwrap_or(default_port);
        let authority = match uri.port_u16() {
            Some(p) if p != default_port => uri
                .authority()
                .map(|a| {
                    a.as_str()
                        .rsplit('@')
                        .next()
                        .unwrap_or(a.as_str())
                        .to_string()
                })
                .unwrap_or_else(|| format!("{host}:{p}")),
            _ if host.contains(':') => format!("[{host}]"),
            _ => host.clone(),
        };
        let base_path = uri.path().trim_end_matches('/').to_string();
        Ok(Endpoint {
            tls,
            host,
            port,
            authority,
            base_path,
            base_query: uri.query().map(str::to_string),
        })
    }

    /// The request target for `suffix` (e.g. `/chat/completions`) under the base path, with the
    /// base URL's query and `extra_query` appended.
    pub fn path_for(&self, suffix: &str, extra_query: Option<&str>) -> String {
        let mut p = String::with_capacity(self.base_path.len() + suffix.len() + 32);
        p.push_str(&self.base_path);
        p.push_str(suffix);
        let mut sep = '?';
        for q in [self.base_query.as_deref(), extra_query]
            .into_iter()
            .flatten()
        {
            p.push(sep);
            p.push_str(q);
            sep = '&';
        }
        p
    }

    /// The URL as shown to operators (`x-litellm-model-api-base`, `/health`).
    pub fn display(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}{}", self.authority, self.base_path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_https_with_base_path() {
        let e = Endpoint::parse("https://api.groq.com/openai/v1/").unwrap();
        assert!(e.tls);
        assert_eq!((e.host.as_str(), e.port), ("api.groq.com", 443));
        assert_eq!(e.authority, "api.groq.com");
        assert_eq!(
            e.path_for("/chat/completions", None),
            "/openai/v1/chat/completions"
        );
    }

    #[test]
    fn keeps_non_default_port_in_authority() {
        let e = Endpoint::parse("http://127.0.0.1:8000/v1").unwrap();
        assert_eq!((e.port, e.authority.as_str()), (8000, "127.0.0.1:8000"));
        assert_eq!(e.display(), "http://127.0.0.1:8000/v1");
    }

    #[test]
    fn appends_queries() {
        let e = Endpoint::parse("https://x.openai.azure.com?foo=1").unwrap();
        assert_eq!(
            e.path_for(
                "/openai/deployments/d/chat/completions",
                Some("api-version=2024-10-21")
            ),
            "/openai/deployments/d/chat/completions?foo=1&api-version=2024-10-21"
        );
    }

    #[test]
    fn rejects_non_http() {
        assert!(Endpoint::parse("ftp://x").is_err());
        assert!(Endpoint::parse("not a url").is_err());
        assert!(Endpoint::parse("localhost:8000").is_err());
    }
}
