//! The endpoints a VM, container or CI runner gets cloud credentials from:
//! AWS (EC2 instance metadata with IMDSv2 session tokens, the ECS container
//! endpoint, STS `AssumeRole` and `AssumeRoleWithWebIdentity` as XML), the
//! GCE metadata server's token, and Azure's managed-identity token (IMDS).
//! OAuth token grants (refresh token, token exchange, client credentials)
//! live with the JWT bearer grant in `google_oauth`.
//!
//! Issued AWS keys are numbered so a test can re-derive the signature:
//! `ASIAMOCK<n, 12 digits>` with secret `mock-secret-<n>` and session token
//! `mock-session-token-<n>`. Access tokens share Google's counter
//! (`mock-access-token-<n>`). Lifetimes are `PUT /__mock/credential_lifetime/<s>`
//! (default one hour), so tests can watch a refresh.

use std::sync::atomic::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

use http::Method;
use serde_json::json;

use crate::encoding;
use crate::reply::{self, Ctx, Resp};

pub const INSTANCE_ROLE: &str = "mock-instance-role";
const IMDS_TOKEN_PREFIX: &str = "mock-imds-token-";

/// The response when `ctx` is one of these endpoints.
pub fn route(ctx: &Ctx<'_>) -> Option<Resp> {
    let (method, path) = (&ctx.parts.method, ctx.parts.uri.path());
    let roles = "/latest/meta-data/iam/security-credentials/";
    Some(match (method, path) {
        (&Method::PUT, "/latest/api/token") => imds_token(ctx),
        (&Method::GET, p) if p == roles => {
            imds_authorized(ctx).unwrap_or_else(|| text(200, &format!("{INSTANCE_ROLE}\n")))
        }
        (&Method::GET, p) if p.strip_prefix(roles) == Some(INSTANCE_ROLE) => {
            imds_authorized(ctx).unwrap_or_else(|| aws_keys_json(ctx))
        }
        (&Method::GET, p) if p.starts_with(roles) => text(404, "Not Found"),
        (&Method::GET, p) if p.starts_with("/v2/credentials/") => aws_keys_json(ctx),
        (&Method::POST, p) if p.trim_end_matches('/').ends_with("/sts") => sts(ctx),
        (&Method::GET, "/computeMetadata/v1/instance/service-accounts/default/token") => {
            gce_token(ctx)
        }
        (&Method::GET, "/metadata/identity/oauth2/token") => azure_imds_token(ctx),
        (&Method::POST, p) if p.ends_with(":generateAccessToken") => impersonate(ctx),
        _ => return None,
    })
}

fn text(status: u16, body: &str) -> Resp {
    reply::plain(status, "text/plain", bytes::Bytes::from(body.to_string()))
}

pub fn lifetime_s(ctx: &Ctx<'_>) -> u64 {
    ctx.state.credential_lifetime_s.load(Ordering::Relaxed)
}

/// `PUT /latest/api/token` with the TTL header: an IMDSv2 session token.
fn imds_token(ctx: &Ctx<'_>) -> Resp {
    let ttl = ctx
        .header("x-aws-ec2-metadata-token-ttl-seconds")
        .and_then(|v| v.trim().parse::<u64>().ok());
    if !ttl.is_some_and(|t| (1..=21600).contains(&t)) {
        return text(400, "Bad Request: x-aws-ec2-metadata-token-ttl-seconds");
    }
    let n = ctx.state.imds_tokens.fetch_add(1, Ordering::Relaxed) + 1;
    text(200, &format!("{IMDS_TOKEN_PREFIX}{n}"))
}

/// IMDSv2 only: a metadata GET without a session token this mock issued is 401.
fn imds_authorized(ctx: &Ctx<'_>) -> Option<Resp> {
    let issued = ctx.state.imds_tokens.load(Ordering::Relaxed);
    let ok = ctx
        .header("x-aws-ec2-metadata-token")
        .and_then(|t| t.strip_prefix(IMDS_TOKEN_PREFIX))
        .and_then(|n| n.parse::<u64>().ok())
        .is_some_and(|n| n >= 1 && n <= issued);
    (!ok).then(|| text(401, "Unauthorized"))
}

struct AwsKeys {
    access_key_id: String,
    secret: String,
    token: String,
    expiration: String,
}

fn issue_aws_keys(ctx: &Ctx<'_>) -> AwsKeys {
    let n = ctx.state.aws_keys_issued.fetch_add(1, Ordering::Relaxed) + 1;
    AwsKeys {
        access_key_id: format!("ASIAMOCK{n:012}"),
        secret: format!("mock-secret-{n}"),
        token: format!("mock-session-token-{n}"),
        expiration: iso_time(unix_now() + lifetime_s(ctx)),
    }
}

/// The JSON of IMDS role credentials and of the ECS container endpoint.
fn aws_keys_json(ctx: &Ctx<'_>) -> Resp {
    let k = issue_aws_keys(ctx);
    reply::json(
        200,
        &json!({"Code": "Success", "Type": "AWS-HMAC", "AccessKeyId": k.access_key_id,
            "SecretAccessKey": k.secret, "Token": k.token, "Expiration": k.expiration,
            "LastUpdated": iso_time(unix_now())}),
    )
}

fn sts_error(status: u16, code: &str, message: &str) -> Resp {
    let body = format!(
        "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error>\
         <Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>\
         <RequestId>mock</RequestId></ErrorResponse>"
    );
    reply::plain(status, "text/xml", bytes::Bytes::from(body))
}

/// STS: `AssumeRole` (SigV4-signed for `sts`) and `AssumeRoleWithWebIdentity`
/// (unsigned, with a token), form-encoded.
fn sts(ctx: &Ctx<'_>) -> Resp {
    let form = encoding::form_pairs(std::str::from_utf8(ctx.body).unwrap_or_default());
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let action = field("Action").unwrap_or_default();
    if field("Version") != Some("2011-06-15") {
        return sts_error(400, "InvalidAction", "Version must be 2011-06-15");
    }
    let (Some(_role), Some(_session)) = (field("RoleArn"), field("RoleSessionName")) else {
        return sts_error(
            400,
            "ValidationError",
            "RoleArn and RoleSessionName are required",
        );
    };
    match action {
        "AssumeRole" => {
            let present = |name: &str| ctx.parts.headers.contains_key(name);
            let checked = crate::aws::check_sigv4(
                ctx.header("authorization"),
                ctx.header("x-amz-date"),
                &present,
                "sts",
            );
            if let Err(reason) = checked {
                return sts_error(403, "InvalidClientTokenId", &reason);
            }
        }
        "AssumeRoleWithWebIdentity" => {
            if field("WebIdentityToken").is_none() {
                return sts_error(400, "ValidationError", "WebIdentityToken is required");
            }
            if ctx.header("authorization").is_some() {
                return sts_error(
                    400,
                    "InvalidAction",
                    "AssumeRoleWithWebIdentity is not signed",
                );
            }
        }
        other => return sts_error(400, "InvalidAction", &format!("unknown Action {other:?}")),
    }
    let k = issue_aws_keys(ctx);
    let body = format!(
        "<{action}Response xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><{action}Result>\
         <AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/mock/s</Arn>\
         <AssumedRoleId>AROAMOCK:s</AssumedRoleId></AssumedRoleUser><Credentials>\
         <AccessKeyId>{}</AccessKeyId><SecretAccessKey>{}</SecretAccessKey>\
         <SessionToken>{}</SessionToken><Expiration>{}</Expiration></Credentials>\
         </{action}Result><ResponseMetadata><RequestId>mock</RequestId></ResponseMetadata>\
         </{action}Response>",
        k.access_key_id, k.secret, k.token, k.expiration
    );
    reply::plain(200, "text/xml", bytes::Bytes::from(body))
}

/// An access token Vertex routes (and the Azure chat route's tests) accept.
pub fn issue_access_token(ctx: &Ctx<'_>) -> String {
    let n = ctx.state.tokens_issued.fetch_add(1, Ordering::Relaxed) + 1;
    format!("{}{n}", crate::google_oauth::TOKEN_PREFIX)
}

/// The GCE metadata server's token for the default service account.
fn gce_token(ctx: &Ctx<'_>) -> Resp {
    if ctx.header("metadata-flavor") != Some("Google") {
        return text(403, "Missing Metadata-Flavor:Google header.");
    }
    let token = issue_access_token(ctx);
    reply::json(
        200,
        &json!({"access_token": token, "expires_in": lifetime_s(ctx), "token_type": "Bearer"}),
    )
}

/// IAM Credentials `generateAccessToken`: a service account's token for a
/// caller holding a token this mock issued (the federated one).
fn impersonate(ctx: &Ctx<'_>) -> Resp {
    if let Err(msg) = crate::google_oauth::check_bearer(ctx) {
        return reply::json(
            401,
            &json!({"error": {"code": 401, "message": msg, "status": "UNAUTHENTICATED"}}),
        );
    }
    let scoped = ctx
        .object()
        .and_then(|o| o.get("scope"))
        .and_then(|s| s.as_array())
        .is_some_and(|s| !s.is_empty());
    if !scoped {
        let e = json!({"error": {"code": 400, "message": "scope is required", "status": "INVALID_ARGUMENT"}});
        return reply::json(400, &e);
    }
    let token = issue_access_token(ctx);
    let expire = iso_time(unix_now() + lifetime_s(ctx));
    reply::json(200, &json!({"accessToken": token, "expireTime": expire}))
}

/// Azure's instance metadata managed-identity token (`Metadata: true`,
/// `resource`, `api-version`); `expires_in` is a string, as Azure sends it.
fn azure_imds_token(ctx: &Ctx<'_>) -> Resp {
    if ctx.header("metadata") != Some("true") {
        let e = json!({"error": "invalid_request", "error_description": "Required metadata header not specified"});
        return reply::json(400, &e);
    }
    let Some(resource) = ctx.query("resource").filter(|r| !r.is_empty()) else {
        let e = json!({"error": "invalid_request", "error_description": "Required query variable 'resource' is missing"});
        return reply::json(400, &e);
    };
    if ctx.query("api-version").is_none() {
        let e = json!({"error": "invalid_request", "error_description": "api-version is missing"});
        return reply::json(400, &e);
    }
    let token = issue_access_token(ctx);
    let lifetime = lifetime_s(ctx);
    reply::json(
        200,
        &json!({"access_token": token, "expires_in": lifetime.to_string(),
            "expires_on": (unix_now() + lifetime).to_string(), "resource": resource,
            "token_type": "Bearer"}),
    )
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `2026-12-01T23:00:00Z`.
pub fn iso_time(unix: u64) -> String {
    let days = (unix / 86_400) as i64;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let rem = unix % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_times() {
        assert_eq!(iso_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso_time(1_709_210_096), "2024-02-29T12:34:56Z");
    }
}
