//! One bounded HTTP exchange with a token or metadata endpoint, any method. The provider client
//! (`crate::upstream::UpstreamClient`) only POSTs; metadata services need GET and PUT. These calls
//! are rare (one per credential refresh), so each takes a fresh connection through Pingora's
//! connector and is not pooled.

use crate::upstream::{Endpoint, Resolver};
use bytes::{Bytes, BytesMut};
use http::{HeaderName, HeaderValue};
use pingora::connectors::http::Connector;
use pingora::http::RequestHeader;
use pingora::upstreams::peer::HttpPeer;
use std::sync::Arc;
use std::time::Duration;

/// Token and metadata answers are small; anything larger is refused.
const MAX_ANSWER: usize = 64 * 1024;
/// Per exchange; metadata services answer in milliseconds when they exist at all.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// What a credential endpoint answered.
pub struct Answer {
    pub status: u16,
    pub body: Bytes,
}

impl Answer {
    /// The body as text, cut short for an error message.
    pub fn excerpt(&self) -> String {
        String::from_utf8_lossy(&self.body)
            .chars()
            .take(300)
            .collect()
    }

    /// The body of a 200 answer, else an error naming `what` and the status.
    pub fn ok_body(self, what: &str) -> Result<Bytes, String> {
        if self.status == 200 {
            Ok(self.body)
        } else {
            Err(format!(
                "{what} answered {}: {}",
                self.status,
                self.excerpt()
            ))
        }
    }
}

/// A request to send: `url` is absolute (`http://host:port/path?query`).
pub struct Fetch<'a> {
    pub method: &'static str,
    pub url: &'a str,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Bytes,
}

impl<'a> Fetch<'a> {
    pub fn get(url: &'a str) -> Self {
        Fetch {
            method: "GET",
            url,
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }

    /// A form POST (`application/x-www-form-urlencoded`).
    pub fn form(url: &'a str, body: String) -> Self {
        Fetch {
            method: "POST",
            url,
            headers: vec![(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-www-form-urlencoded"),
            )],
            body: Bytes::from(body),
        }
    }

    /// Adds a header; a value that cannot be sent is an error naming the header.
    pub fn header(mut self, name: &'static str, value: &str) -> Result<Self, String> {
        let value = HeaderValue::from_str(value)
            .map_err(|_| format!("the {name} value holds characters not allowed in a header"))?;
        self.headers.push((HeaderName::from_static(name), value));
        Ok(self)
    }
}

/// Sends `fetch` and reads the whole answer, bounded in size and time.
pub async fn send(resolver: &Arc<Resolver>, fetch: Fetch<'_>) -> Result<Answer, String> {
    let url = fetch.url;
    tokio::time::timeout(FETCH_TIMEOUT, exchange(resolver, fetch))
        .await
        .map_err(|_| format!("{url}: no answer within {}s", FETCH_TIMEOUT.as_secs()))?
        .map_err(|e| format!("{url}: {e}"))
}

async fn exchange(resolver: &Arc<Resolver>, fetch: Fetch<'_>) -> Result<Answer, String> {
    let endpoint = Endpoint::parse(fetch.url)?;
    let path_and_query = path_and_query(fetch.url);
    let addr = resolver.resolve(&endpoint.host, endpoint.port).await?;
    let mut peer = HttpPeer::new(addr, endpoint.tls, endpoint.host.clone());
    peer.options.connection_timeout = Some(FETCH_TIMEOUT);
    peer.options.read_timeout = Some(FETCH_TIMEOUT);
    peer.options.write_timeout = Some(FETCH_TIMEOUT);
    let connector = Connector::new(None);
    let (mut session, _) = connector
        .get_http_session(&peer)
        .await
        .map_err(|e| e.to_string())?;
    let mut head = RequestHeader::build_no_case(fetch.method, path_and_query.as_bytes(), Some(4))
        .map_err(|e| e.to_string())?;
    let insert = |head: &mut RequestHeader, name: HeaderName, value: HeaderValue| {
        head.insert_header(name, value).map_err(|e| e.to_string())
    };
    let host = HeaderValue::from_str(&endpoint.authority).map_err(|e| e.to_string())?;
    insert(&mut head, http::header::HOST, host)?;
    insert(
        &mut head,
        http::header::CONTENT_LENGTH,
        fetch.body.len().into(),
    )?;
    for (name, value) in fetch.headers {
        insert(&mut head, name, value)?;
    }
    session
        .write_request_header(Box::new(head))
        .await
        .map_err(|e| e.to_string())?;
    session
        .write_request_body(fetch.body, true)
        .await
        .map_err(|e| e.to_string())?;
    session
        .finish_request_body()
        .await
        .map_err(|e| e.to_string())?;
    session
        .read_response_header()
        .await
        .map_err(|e| e.to_string())?;
    let status = session
        .response_header()
        .map(|h| h.status.as_u16())
        .ok_or("no response head")?;
    let mut body = BytesMut::new();
    while let Some(chunk) = session
        .read_response_body()
        .await
        .map_err(|e| e.to_string())?
    {
        if body.len().saturating_add(chunk.len()) > MAX_ANSWER {
            return Err(format!("the answer is larger than {MAX_ANSWER} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Answer {
        status,
        body: body.freeze(),
    })
}

/// The path and query of `url` exactly as written (a trailing `/` matters to IMDS).
fn path_and_query(url: &str) -> &str {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    match after_scheme.find(['/', '?']) {
        Some(i) if after_scheme[i..].starts_with('/') => &after_scheme[i..],
        _ => "/",
    }
}

/// Percent-encoding for form and query values: everything but RFC 3986's unreserved characters.
pub fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `k1=v1&k2=v2`, values form-encoded.
pub fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", form_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_targets_keep_the_path_as_written() {
        assert_eq!(
            path_and_query("http://127.0.0.1:9/latest/meta-data/iam/security-credentials/"),
            "/latest/meta-data/iam/security-credentials/"
        );
        assert_eq!(path_and_query("https://sts.amazonaws.com"), "/");
        assert_eq!(path_and_query("http://h:1/a?b=c"), "/a?b=c");
        assert_eq!(path_and_query("http://h:1?b=c"), "/");
        assert_eq!(form(&[("a", "x y"), ("b", "c/d")]), "a=x%20y&b=c%2Fd");
    }
}
