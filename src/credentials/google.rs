//! Google Application Default Credentials for Vertex AI: a credentials file
//! (`vertex_credentials`, else GOOGLE_APPLICATION_CREDENTIALS, read at config load) of type
//! `service_account` (a signed JWT, see `vertex_auth`), `authorized_user` (the refresh-token
//! grant at its `token_uri`) or `external_account` (workload identity federation: a subject
//! token from a file or URL exchanged at Google's STS `token_url`, then optionally a service
//! account impersonated); with no file, the GCE metadata server (GCE_METADATA_HOST overrides
//! where it is, as Google's libraries allow). Only the background refresher calls [`fetch`].

use crate::credentials::http::{self, Fetch};
use crate::providers::gemini::vertex_auth::{self, ServiceAccount, CLOUD_PLATFORM_SCOPE};
use crate::upstream::Resolver;
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

const METADATA_DEFAULT_HOST: &str = "metadata.google.internal";
const METADATA_TOKEN_PATH: &str = "/computeMetadata/v1/instance/service-accounts/default/token";
const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

/// A parsed credentials file.
#[derive(Debug)]
pub enum AdcFile {
    ServiceAccount(ServiceAccount),
    AuthorizedUser(AuthorizedUser),
    ExternalAccount(ExternalAccount),
}

#[derive(Deserialize)]
pub struct AuthorizedUser {
    client_id: String,
    client_secret: String,
    refresh_token: String,
    #[serde(default = "default_token_uri")]
    token_uri: String,
    #[serde(default)]
    quota_project_id: Option<String>,
}

impl std::fmt::Debug for AuthorizedUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorizedUser")
            .field("client_id", &self.client_id)
            .field("token_uri", &self.token_uri)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Deserialize)]
pub struct ExternalAccount {
    audience: String,
    subject_token_type: String,
    token_url: String,
    credential_source: CredentialSource,
    #[serde(default)]
    service_account_impersonation_url: Option<String>,
}

#[derive(Debug, Deserialize)]
struct CredentialSource {
    #[serde(default)]
    file: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    headers: HashMap<String, String>,
    #[serde(default)]
    format: Option<SubjectTokenFormat>,
}

#[derive(Debug, Deserialize)]
struct SubjectTokenFormat {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    subject_token_field_name: Option<String>,
}

fn default_token_uri() -> String {
    vertex_auth::DEFAULT_TOKEN_URI.to_string()
}

impl AdcFile {
    pub fn from_json(json: &[u8]) -> Result<AdcFile, String> {
        #[derive(Deserialize)]
        struct Typed {
            #[serde(rename = "type", default)]
            kind: Option<String>,
        }
        let typed: Typed = serde_json::from_slice(json)
            .map_err(|e| format!("not a Google credentials file: {e}"))?;
        let invalid = |kind: &str, e: serde_json::Error| format!("not a valid {kind} file: {e}");
        match typed.kind.as_deref() {
            // Key files always say; an untyped one is taken for a service account as before.
            Some("service_account") | None => {
                ServiceAccount::from_json(json).map(AdcFile::ServiceAccount)
            }
            Some("authorized_user") => serde_json::from_slice(json)
                .map(AdcFile::AuthorizedUser)
                .map_err(|e| invalid("authorized_user", e)),
            Some("external_account") => {
                let account: ExternalAccount =
                    serde_json::from_slice(json).map_err(|e| invalid("external_account", e))?;
                let source = &account.credential_source;
                if source.file.is_none() && source.url.is_none() {
                    return Err(
                        "external_account: only file- and URL-sourced credentials are \
                                supported (credential_source.file or .url)"
                            .into(),
                    );
                }
                Ok(AdcFile::ExternalAccount(account))
            }
            Some(other) => Err(format!("credentials of type {other:?} are not supported")),
        }
    }

    /// The project the file names, for a deployment without `vertex_project`.
    pub fn project_id(&self) -> Option<String> {
        match self {
            AdcFile::ServiceAccount(sa) => sa.project_id.clone(),
            AdcFile::AuthorizedUser(u) => u.quota_project_id.clone(),
            AdcFile::ExternalAccount(_) => None,
        }
    }
}

/// `(access_token, expires_in seconds)` from the file's source, or the metadata server.
pub async fn fetch(
    resolver: &Arc<Resolver>,
    file: Option<&AdcFile>,
    metadata_host: Option<&str>,
) -> Result<(String, u64), String> {
    match file {
        Some(AdcFile::ServiceAccount(sa)) => {
            let assertion = vertex_auth::jwt_assertion(sa, crate::providers::unix_now())?;
            let body = vertex_auth::token_request_body(&assertion);
            token_answer(resolver, Fetch::form(&sa.token_uri, body)).await
        }
        Some(AdcFile::AuthorizedUser(u)) => {
            let body = http::form(&[
                ("grant_type", "refresh_token"),
                ("client_id", &u.client_id),
                ("client_secret", &u.client_secret),
                ("refresh_token", &u.refresh_token),
            ]);
            token_answer(resolver, Fetch::form(&u.token_uri, body)).await
        }
        Some(AdcFile::ExternalAccount(a)) => external_account(resolver, a).await,
        None => {
            let host = metadata_host.unwrap_or(METADATA_DEFAULT_HOST);
            let url = format!("http://{host}{METADATA_TOKEN_PATH}");
            let fetch = Fetch::get(&url).header("metadata-flavor", "Google")?;
            token_answer(resolver, fetch).await
        }
    }
}

async fn token_answer(resolver: &Arc<Resolver>, fetch: Fetch<'_>) -> Result<(String, u64), String> {
    let answer = http::send(resolver, fetch).await?;
    if answer.status != 200 {
        // OAuth errors say why in their JSON; anything else in a short excerpt.
        return match vertex_auth::parse_token_response(&answer.body) {
            Err(e) => Err(format!("token endpoint answered {}: {e}", answer.status)),
            Ok(_) => Err(format!("token endpoint answered {}", answer.status)),
        };
    }
    vertex_auth::parse_token_response(&answer.body)
}

async fn external_account(
    resolver: &Arc<Resolver>,
    a: &ExternalAccount,
) -> Result<(String, u64), String> {
    let subject_token = subject_token(resolver, &a.credential_source).await?;
    let body = http::form(&[
        ("audience", &a.audience),
        ("grant_type", TOKEN_EXCHANGE),
        ("requested_token_type", ACCESS_TOKEN_TYPE),
        ("scope", CLOUD_PLATFORM_SCOPE),
        ("subject_token", &subject_token),
        ("subject_token_type", &a.subject_token_type),
    ]);
    let (federated, expires_in) = token_answer(resolver, Fetch::form(&a.token_url, body)).await?;
    match &a.service_account_impersonation_url {
        None => Ok((federated, expires_in)),
        Some(url) => impersonate(resolver, url, &federated).await,
    }
}

/// The subject token from the file or URL, as text or from a JSON field.
async fn subject_token(
    resolver: &Arc<Resolver>,
    source: &CredentialSource,
) -> Result<String, String> {
    let raw = match (&source.file, &source.url) {
        (Some(file), _) => std::fs::read_to_string(file)
            .map_err(|e| format!("cannot read the subject token file {file}: {e}"))?,
        (None, Some(url)) => {
            let mut fetch = Fetch::get(url);
            for (name, value) in &source.headers {
                let name = ::http::HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                    format!("credential_source header {name:?} is not a header name")
                })?;
                let value = ::http::HeaderValue::from_str(value).map_err(|_| {
                    format!("credential_source header {name} has a value not allowed in a header")
                })?;
                fetch.headers.push((name, value));
            }
            let body = http::send(resolver, fetch)
                .await?
                .ok_body("the subject token URL")?;
            String::from_utf8_lossy(&body).into_owned()
        }
        (None, None) => return Err("external_account has no credential_source".into()),
    };
    let format = source.format.as_ref();
    let token = match format.and_then(|f| f.kind.as_deref()) {
        Some("json") => {
            let field = format
                .and_then(|f| f.subject_token_field_name.as_deref())
                .ok_or("credential_source.format of type json needs subject_token_field_name")?;
            let v: Value = serde_json::from_str(&raw)
                .map_err(|e| format!("the subject token source is not JSON: {e}"))?;
            v.get(field)
                .and_then(Value::as_str)
                .ok_or_else(|| format!("the subject token JSON has no string field {field}"))?
                .to_string()
        }
        _ => raw.trim().to_string(),
    };
    if token.is_empty() {
        return Err("the subject token is empty".into());
    }
    Ok(token)
}

/// IAM Credentials `generateAccessToken` for the impersonated service account.
async fn impersonate(
    resolver: &Arc<Resolver>,
    url: &str,
    federated: &str,
) -> Result<(String, u64), String> {
    let body = serde_json::json!({"scope": [CLOUD_PLATFORM_SCOPE], "lifetime": "3600s"});
    let fetch = Fetch {
        method: "POST",
        url,
        headers: Vec::new(),
        body: body.to_string().into(),
    }
    .header("content-type", "application/json")?
    .header("authorization", &format!("Bearer {federated}"))?;
    let body = http::send(resolver, fetch)
        .await?
        .ok_body("service account impersonation")?;
    let v: Value = serde_json::from_slice(&body)
        .map_err(|e| format!("the impersonation answer is not JSON: {e}"))?;
    let token = v
        .get("accessToken")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or("the impersonation answer has no accessToken")?;
    let expires_in = v
        .get("expireTime")
        .and_then(Value::as_str)
        .and_then(|t| crate::credentials::aws::parse::parse_time(t).ok())
        .and_then(|t| t.duration_since(std::time::SystemTime::now()).ok())
        .map_or(3600, |d| d.as_secs());
    Ok((token.to_string(), expires_in))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_supported_file_type() {
        let user = br#"{"type":"authorized_user","client_id":"c","client_secret":"s","refresh_token":"r","quota_project_id":"qp"}"#;
        let file = AdcFile::from_json(user).unwrap();
        assert!(
            matches!(&file, AdcFile::AuthorizedUser(u) if u.token_uri == vertex_auth::DEFAULT_TOKEN_URI)
        );
        assert_eq!(file.project_id().as_deref(), Some("qp"));
        let external = br#"{"type":"external_account","audience":"//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/x",
            "subject_token_type":"urn:ietf:params:oauth:token-type:jwt","token_url":"https://sts.googleapis.com/v1/token",
            "credential_source":{"file":"/var/run/token","format":{"type":"text"}}}"#;
        assert!(matches!(
            AdcFile::from_json(external).unwrap(),
            AdcFile::ExternalAccount(_)
        ));
        let executable =
            br#"{"type":"external_account","audience":"a","subject_token_type":"t","token_url":"u",
            "credential_source":{"executable":{"command":"x"}}}"#;
        assert!(AdcFile::from_json(executable).is_err());
        assert!(AdcFile::from_json(br#"{"type":"impersonated_service_account"}"#).is_err());
        assert!(AdcFile::from_json(br#"{"type":"authorized_user","client_id":"c"}"#).is_err());
        assert!(AdcFile::from_json(b"[]").is_err());
    }
}
