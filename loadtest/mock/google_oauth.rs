//! OAuth 2.0 token endpoints (`POST .../token`): Google's JWT bearer grant
//! for service accounts (RFC 7523; the RSA signature is not verified, the
//! grant, the JWT's shape and its claims are), the refresh-token grant
//! (`authorized_user`), the token exchange of Google's STS (RFC 8693,
//! `external_account`) and Entra ID's client credentials. Each issues an
//! access token, which Vertex AI routes then require.

use std::sync::atomic::Ordering;

use serde_json::{json, Value};

use crate::encoding;
use crate::reply::{self, Ctx, Resp};

pub const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
pub const REFRESH_TOKEN: &str = "refresh_token";
pub const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
pub const CLIENT_CREDENTIALS: &str = "client_credentials";
pub const TOKEN_PREFIX: &str = "mock-access-token-";
/// Google refuses assertions valid for longer than an hour.
const MAX_LIFETIME_S: i64 = 3600;

/// An OAuth error answer: `{"error", "error_description"}`.
fn oauth_error(status: u16, error: &str, description: &str) -> Resp {
    reply::json(
        status,
        &json!({"error": error, "error_description": description}),
    )
}

/// The claims of a JWT bearer assertion, checked: an RS256 JWT whose
/// claims have `iss`, `scope`, an `aud` naming a token endpoint, and
/// `iat < exp <= iat + 1h`.
pub fn check_assertion(jwt: &str) -> Result<Value, String> {
    let parts: Vec<&str> = jwt.split('.').collect();
    let [header, claims, signature] = parts[..] else {
        return Err(format!(
            "a JWT has 3 dot-separated parts, this has {}",
            parts.len()
        ));
    };
    let decode = |part: &str, what: &str| -> Result<Value, String> {
        let bytes = encoding::base64url_decode(part).map_err(|e| format!("JWT {what}: {e}"))?;
        serde_json::from_slice(&bytes).map_err(|e| format!("JWT {what}: {e}"))
    };
    let header = decode(header, "header")?;
    if header.get("alg").and_then(Value::as_str) != Some("RS256") {
        return Err(format!("JWT header alg must be RS256: {header}"));
    }
    if encoding::base64url_decode(signature).map_or(true, |s| s.is_empty()) {
        return Err("JWT signature is missing or not base64url".into());
    }
    let claims = decode(claims, "claims")?;
    let text = |name: &str| {
        claims
            .get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| format!("JWT claim {name:?} must be a non-empty string"))
    };
    text("iss")?;
    text("scope")?;
    let aud = text("aud")?;
    if !aud.trim_end_matches('/').ends_with("/token") {
        return Err(format!("JWT claim aud {aud:?} is not a token endpoint"));
    }
    let time = |name: &str| {
        claims
            .get(name)
            .and_then(Value::as_i64)
            .ok_or_else(|| format!("JWT claim {name:?} must be an integer"))
    };
    let (iat, exp) = (time("iat")?, time("exp")?);
    if exp <= iat {
        return Err(format!("JWT exp {exp} is not after iat {iat}"));
    }
    if exp - iat > MAX_LIFETIME_S {
        return Err(format!("JWT lifetime {}s exceeds 1 hour", exp - iat));
    }
    Ok(claims)
}

/// `POST .../token`: a form body with the JWT bearer grant.
pub async fn token(ctx: &Ctx<'_>) -> Resp {
    if let Some(status) = ctx
        .header("x-mock-status")
        .and_then(|s| s.trim().parse::<u16>().ok())
    {
        if (400..=599).contains(&status) {
            return oauth_error(status, "mock_error", &format!("mock error {status}"));
        }
    }
    if let Some(ms) = ctx
        .header("x-mock-delay-ms")
        .and_then(|s| s.trim().parse::<u64>().ok())
    {
        tokio::time::sleep(std::time::Duration::from_millis(ms.min(60_000))).await;
    }
    let text = std::str::from_utf8(ctx.body).unwrap_or_default();
    let form = encoding::form_pairs(text);
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let missing = |names: &[&str]| {
        names
            .iter()
            .find(|n| field(n).is_none_or(|v| v.is_empty()))
            .map(|n| {
                let msg = format!("Missing required parameter: {n}");
                oauth_error(400, "invalid_request", &msg)
            })
    };
    let required: &[&str] = match field("grant_type") {
        Some(JWT_BEARER) => &[],
        Some(REFRESH_TOKEN) => &["client_id", "client_secret", "refresh_token"],
        Some(TOKEN_EXCHANGE) => &["audience", "subject_token", "subject_token_type"],
        Some(CLIENT_CREDENTIALS) => &["client_id", "client_secret", "scope"],
        Some(other) => {
            let msg = format!("Invalid grant_type: {other}");
            return oauth_error(400, "unsupported_grant_type", &msg);
        }
        None => {
            return oauth_error(
                400,
                "invalid_request",
                "Missing required parameter: grant_type",
            )
        }
    };
    if field("grant_type") != Some(JWT_BEARER) {
        if let Some(resp) = missing(required) {
            return resp;
        }
        let token = crate::cloud_creds::issue_access_token(ctx);
        let lifetime = crate::cloud_creds::lifetime_s(ctx);
        return reply::json(
            200,
            &json!({"access_token": token, "expires_in": lifetime, "token_type": "Bearer",
                "issued_token_type": "urn:ietf:params:oauth:token-type:access_token"}),
        );
    }
    let Some(assertion) = field("assertion") else {
        return oauth_error(
            400,
            "invalid_request",
            "Missing required parameter: assertion",
        );
    };
    if let Err(msg) = check_assertion(assertion) {
        return oauth_error(400, "invalid_grant", &msg);
    }
    let n = ctx.state.tokens_issued.fetch_add(1, Ordering::Relaxed) + 1;
    reply::json(
        200,
        &json!({"access_token": format!("{TOKEN_PREFIX}{n}"), "expires_in": 3599, "token_type": "Bearer"}),
    )
}

/// Checks `authorization: Bearer mock-access-token-<n>` names a token this
/// mock issued.
pub fn check_bearer(ctx: &Ctx<'_>) -> Result<(), String> {
    let issued = ctx.state.tokens_issued.load(Ordering::Relaxed);
    bearer_ok(ctx.header("authorization"), issued)
}

fn bearer_ok(authorization: Option<&str>, issued: u64) -> Result<(), String> {
    let unauthenticated = "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.";
    let token = authorization
        .and_then(|a| {
            a.strip_prefix("Bearer ")
                .or_else(|| a.strip_prefix("bearer "))
        })
        .ok_or(unauthenticated)?;
    let n = token
        .trim()
        .strip_prefix(TOKEN_PREFIX)
        .and_then(|n| n.parse::<u64>().ok())
        .ok_or_else(|| format!("{unauthenticated} (not a mock access token)"))?;
    if n == 0 || n > issued {
        return Err(format!("{unauthenticated} (token {n} was never issued)"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;

    fn jwt(header: Value, claims: Value) -> String {
        let enc = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
        format!(
            "{}.{}.{}",
            enc(&header),
            enc(&claims),
            URL_SAFE_NO_PAD.encode(b"sig")
        )
    }

    fn claims() -> Value {
        json!({"iss": "sa@p.iam.gserviceaccount.com", "aud": "https://oauth2.googleapis.com/token",
            "scope": "https://www.googleapis.com/auth/cloud-platform", "iat": 1000, "exp": 4600})
    }

    #[test]
    fn accepts_a_service_account_assertion() {
        let rs256 = json!({"alg": "RS256", "typ": "JWT"});
        let checked = check_assertion(&jwt(rs256.clone(), claims())).unwrap();
        assert_eq!(checked["iss"], "sa@p.iam.gserviceaccount.com");
        let mut local = claims();
        local["aud"] = json!("http://127.0.0.1:9/token");
        assert!(check_assertion(&jwt(rs256, local)).is_ok());
    }

    #[test]
    fn rejects_bad_assertions() {
        let rs256 = json!({"alg": "RS256"});
        let with = |k: &str, v: Value| {
            let mut c = claims();
            c[k] = v;
            jwt(rs256.clone(), c)
        };
        for bad in [
            jwt(json!({"alg": "HS256"}), claims()),
            with("iss", json!("")),
            with("scope", Value::Null),
            with("aud", json!("https://example.com/other")),
            with("exp", json!(1000)),
            with("exp", json!(9000)),
            with("iat", json!("now")),
            "a.b".to_string(),
            "!!.??.##".to_string(),
        ] {
            assert!(check_assertion(&bad).is_err(), "{bad}");
        }
        let no_sig = jwt(rs256, claims());
        let no_sig = &no_sig[..no_sig.rfind('.').unwrap() + 1];
        assert!(check_assertion(no_sig).is_err());
    }

    #[test]
    fn bearer_must_be_issued() {
        assert!(bearer_ok(Some("Bearer mock-access-token-2"), 2).is_ok());
        assert!(bearer_ok(Some("Bearer mock-access-token-3"), 2).is_err());
        assert!(bearer_ok(Some("Bearer mock-access-token-0"), 2).is_err());
        assert!(bearer_ok(Some("Bearer real-token"), 2).is_err());
        assert!(bearer_ok(Some("mock-access-token-1"), 2).is_err());
        assert!(bearer_ok(None, 2).is_err());
    }
}
