//! Vertex AI credentials: the pure half of Google's service-account OAuth flow
//! ("Using OAuth 2.0 for Server to Server Applications"), and the cell the request path reads
//! the current access token from.
//!
//! The flow: sign a JWT (RS256) asserting the service account with the `cloud-platform`
//! scope, POST it form-encoded to the account's `token_uri` with the `jwt-bearer` grant, and
//! use the `access_token` that comes back as `Authorization: Bearer` until `expires_in` runs
//! out. The POST itself, and refreshing before expiry, belong to a background service (not
//! here): the request path never waits on Google's token endpoint, it reads `TokenCell`.

use crate::credentials::http::form_encode;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use serde::Deserialize;
use serde_json::{json, Value};

/// The scope Vertex AI calls need.
pub const CLOUD_PLATFORM_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

/// Where tokens come from when a key file names no `token_uri`.
pub const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

/// How long a signed assertion is valid; Google accepts at most one hour.
const ASSERTION_LIFETIME_SECS: u64 = 3600;

/// The fields of a service-account key file (`"type": "service_account"`) the flow uses.
#[derive(Clone, Deserialize)]
pub struct ServiceAccount {
    pub client_email: String,
    /// PEM, PKCS#8 (`-----BEGIN PRIVATE KEY-----`), as Google issues it.
    pub private_key: String,
    #[serde(default = "default_token_uri")]
    pub token_uri: String,
    #[serde(default)]
    pub project_id: Option<String>,
}

fn default_token_uri() -> String {
    DEFAULT_TOKEN_URI.to_string()
}

impl std::fmt::Debug for ServiceAccount {
    // Never print the private key (logs, panics in tests).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccount")
            .field("client_email", &self.client_email)
            .field("token_uri", &self.token_uri)
            .field("project_id", &self.project_id)
            .finish_non_exhaustive()
    }
}

impl ServiceAccount {
    /// Parses a key file's JSON.
    pub fn from_json(json: &[u8]) -> Result<ServiceAccount, String> {
        let sa: ServiceAccount = serde_json::from_slice(json)
            .map_err(|e| format!("not a service account key file: {e}"))?;
        if sa.client_email.is_empty() || sa.token_uri.is_empty() {
            return Err("the service account key file has no client_email or token_uri".into());
        }
        Ok(sa)
    }
}

/// The DER bytes of a PEM private key. Only PKCS#8 is accepted: it is what Google issues and
/// what ring reads.
pub fn pkcs8_from_pem(pem: &str) -> Result<Vec<u8>, String> {
    const BEGIN: &str = "-----BEGIN PRIVATE KEY-----";
    const END: &str = "-----END PRIVATE KEY-----";
    let start = pem.find(BEGIN).ok_or_else(|| {
        if pem.contains("BEGIN RSA PRIVATE KEY") {
            "the private key is PKCS#1 (BEGIN RSA PRIVATE KEY); a PKCS#8 key is needed".to_string()
        } else {
            "the private key is not a PEM PKCS#8 key (BEGIN PRIVATE KEY)".to_string()
        }
    })? + BEGIN.len();
    let end = pem[start..]
        .find(END)
        .ok_or("the private key PEM has no END line")?
        + start;
    let body: String = pem[start..end]
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    STANDARD
        .decode(body)
        .map_err(|e| format!("the private key PEM is not valid base64: {e}"))
}

/// The signed JWT to exchange for an access token, issued at `now_unix`.
pub fn jwt_assertion(sa: &ServiceAccount, now_unix: u64) -> Result<String, String> {
    let der = pkcs8_from_pem(&sa.private_key)?;
    let key = RsaKeyPair::from_pkcs8(&der)
        .map_err(|e| format!("the private key is not a usable RSA key: {e}"))?;
    let header = json!({"alg": "RS256", "typ": "JWT"});
    let claims = json!({
        "iss": sa.client_email,
        "scope": CLOUD_PLATFORM_SCOPE,
        "aud": sa.token_uri,
        "iat": now_unix,
        "exp": now_unix + ASSERTION_LIFETIME_SECS,
    });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut signature = vec![0u8; key.public().modulus_len()];
    key.sign(
        &RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        signing_input.as_bytes(),
        &mut signature,
    )
    .map_err(|_| "signing the assertion failed".to_string())?;
    Ok(format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature)
    ))
}

/// The form body of the token request (`application/x-www-form-urlencoded`).
pub fn token_request_body(assertion: &str) -> String {
    format!(
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={}",
        form_encode(assertion)
    )
}

/// `(access_token, expires_in)` from the token endpoint's answer, or its error in words.
pub fn parse_token_response(body: &[u8]) -> Result<(String, u64), String> {
    let v: Value = serde_json::from_slice(body).map_err(|_| {
        let text = String::from_utf8_lossy(body);
        format!(
            "the token endpoint answered with non-JSON: {}",
            text.chars().take(200).collect::<String>()
        )
    })?;
    if let Some(error) = v.get("error").and_then(Value::as_str) {
        let description = v
            .get("error_description")
            .and_then(Value::as_str)
            .unwrap_or_default();
        return Err(format!("token request refused: {error}: {description}"));
    }
    let token = v
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or("the token endpoint's answer has no access_token")?;
    // Google sends 3599; a missing value means the usual hour.
    let expires_in = v.get("expires_in").and_then(Value::as_u64).unwrap_or(3600);
    Ok((token.to_string(), expires_in))
}

pub use crate::deployment::state::TokenCell;

#[cfg(test)]
mod tests;
