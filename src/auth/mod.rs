//! Who is calling. Today: the master key (or an open gateway when none is set); virtual keys
//! join here, read from an in-memory cache, never from the database per request.

use crate::error::GatewayError;
use http::HeaderMap;
use sha2::{Digest, Sha256};

pub mod directory;
pub mod keys;

/// Headers a key may arrive in, as LiteLLM accepts them: OpenAI SDKs send `Authorization`,
/// Anthropic SDKs `x-api-key`, Azure-style clients `api-key`.
const KEY_HEADERS: &[&str] = &["x-litellm-api-key", "x-api-key", "api-key"];

/// A key kept only as its SHA-256 digest, compared in constant time.
pub struct MasterKey([u8; 32]);

impl MasterKey {
    pub fn new(key: &str) -> Self {
        MasterKey(digest(key))
    }

    pub fn matches(&self, presented: &str) -> bool {
        // Comparing fixed-size digests with no early exit leaks neither content nor length.
        let other = digest(presented);
        self.0
            .iter()
            .zip(other.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

/// A key as the store keeps it: SHA-256, lowercase hex (LiteLLM's `token`, so hashes line up
/// with a LiteLLM database).
pub fn hash_key(key: &str) -> String {
    use std::fmt::Write;
    digest(key)
        .iter()
        .fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

#[derive(Debug, Clone)]
pub enum Caller {
    /// Holds the master key.
    Admin,
    /// No master key is configured: the gateway is open, as LiteLLM is without one.
    Anonymous,
    /// Holds a live virtual key.
    Key(keys::KeyCaller),
}

impl PartialEq for Caller {
    fn eq(&self, other: &Caller) -> bool {
        match (self, other) {
            (Caller::Admin, Caller::Admin) | (Caller::Anonymous, Caller::Anonymous) => true,
            (Caller::Key(a), Caller::Key(b)) => a.token == b.token,
            _ => false,
        }
    }
}

/// Where a request may carry its key besides the usual headers.
#[derive(Debug, Clone, Copy, Default)]
pub struct KeyPlaces<'a> {
    /// Google's clients on Gemini routes: `x-goog-api-key`, or `?key=` in the query.
    pub google: Option<Option<&'a str>>,
}

/// The key a request presents, if any.
pub fn presented_key<'a>(headers: &'a HeaderMap, places: KeyPlaces<'a>) -> Option<&'a str> {
    if let Some(v) = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let v = v.trim();
        let key = v
            .strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))
            .unwrap_or(v)
            .trim();
        if !key.is_empty() {
            return Some(key);
        }
    }
    let usual = KEY_HEADERS
        .iter()
        .filter_map(|h| headers.get(*h).and_then(|v| v.to_str().ok()))
        .map(str::trim)
        .find(|k| !k.is_empty());
    let Some(query) = places.google else {
        return usual;
    };
    usual
        .or_else(|| {
            let v = headers.get("x-goog-api-key")?.to_str().ok()?.trim();
            (!v.is_empty()).then_some(v)
        })
        .or_else(|| {
            query?
                .split('&')
                .find_map(|pair| pair.strip_prefix("key="))
                .filter(|k| !k.is_empty())
        })
}

/// Who presents these headers: the master key, a live virtual key (looked up in the in-memory
/// directory, never the store), or no one the gateway knows (401).
pub fn authenticate(
    master: Option<&MasterKey>,
    directory: &directory::Directory,
    headers: &HeaderMap,
    places: KeyPlaces<'_>,
    now_ms: i64,
) -> Result<Caller, GatewayError> {
    let Some(master) = master else {
        return Ok(Caller::Anonymous);
    };
    match presented_key(headers, places) {
        None => Err(GatewayError::auth(
            "Authentication Error, No api key passed in. Pass it as `Authorization: Bearer <key>` or `x-api-key`.",
        )),
        Some(k) if master.matches(k) => Ok(Caller::Admin),
        Some(k) => keys::check_key(directory, hash_key(k), now_ms).map(Caller::Key),
    }
}

#[cfg(test)]
mod tests {
    use super::directory::Directory;
    use super::*;

    fn auth(m: Option<&MasterKey>, h: &HeaderMap) -> Result<Caller, GatewayError> {
        authenticate(m, &Directory::default(), h, KeyPlaces::default(), 0)
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn accepts_bearer_and_x_api_key() {
        let m = MasterKey::new("sk-1234");
        assert_eq!(
            auth(Some(&m), &headers(&[("authorization", "Bearer sk-1234")])),
            Ok(Caller::Admin)
        );
        assert_eq!(
            auth(Some(&m), &headers(&[("x-api-key", "sk-1234")])),
            Ok(Caller::Admin)
        );
    }

    #[test]
    fn missing_and_wrong_keys_are_401() {
        let m = MasterKey::new("sk-1234");
        assert_eq!(auth(Some(&m), &headers(&[])).unwrap_err().status, 401);
        assert_eq!(
            auth(Some(&m), &headers(&[("authorization", "Bearer sk-12345")]))
                .unwrap_err()
                .status,
            401
        );
        assert_eq!(
            auth(Some(&m), &headers(&[("authorization", "Bearer ")]))
                .unwrap_err()
                .status,
            401
        );
    }

    #[test]
    fn no_master_key_means_open() {
        assert_eq!(auth(None, &headers(&[])), Ok(Caller::Anonymous));
    }
}
