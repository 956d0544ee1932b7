//! The AWS credential chain, in LiteLLM's (boto's) order: the deployment's keys, the `AWS_*`
//! variables, the shared files (`aws_profile_name` / `AWS_PROFILE`), web identity
//! (`AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN`), the ECS container endpoint, the EC2
//! instance metadata service (IMDSv2); then `aws_role_name` assumes a role with those keys.
//! [`resolve`] picks the source from the deployment's params and the environment; [`fetch`]
//! asks it for keys. Only the background refresher calls `fetch`.

use super::parse::{self, Issued};
use crate::credentials::http::{self, Fetch};
use crate::deployment::state::AwsKeys;
use crate::providers::bedrock::sigv4::{self, AwsCredentials};
use crate::upstream::{Endpoint, Resolver};
use std::sync::Arc;
use std::time::SystemTime;

const IMDS_DEFAULT: &str = "http://169.254.169.254";
const ECS_DEFAULT_HOST: &str = "http://169.254.170.2";
const DEFAULT_SESSION_NAME: &str = "tollgate";
/// What IMDSv2 session tokens are asked for (six hours, the SDKs' value).
const IMDS_TOKEN_TTL_SECS: &str = "21600";
const STS_VERSION: &str = "2011-06-15";

/// Where settings are looked up: a deployment's `litellm_params`, the environment, files.
pub struct Lookup<'a> {
    pub param: &'a dyn Fn(&str) -> Option<String>,
    pub env: &'a dyn Fn(&str) -> Option<String>,
    pub read_file: &'a dyn Fn(&str) -> Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Base {
    /// Keys given outright: in litellm_params, the environment or a profile.
    Keys {
        keys: AwsKeys,
        from: KeysFrom,
    },
    WebIdentity {
        token_file: String,
        role_arn: String,
        session_name: String,
        sts_url: String,
    },
    Container {
        url: String,
        authorization: Option<String>,
        authorization_file: Option<String>,
    },
    Imds {
        endpoint: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeysFrom {
    Params,
    Environment,
    Profile,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AssumeRole {
    pub role_arn: String,
    pub session_name: String,
    pub sts_url: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Chain {
    pub base: Base,
    pub assume: Option<AssumeRole>,
}

impl Chain {
    /// Keys the request path reads itself (litellm_params or the environment, no role).
    pub fn is_static(&self) -> bool {
        self.assume.is_none()
            && matches!(
                self.base,
                Base::Keys {
                    from: KeysFrom::Params | KeysFrom::Environment,
                    ..
                }
            )
    }

    /// Names what would be fetched, so deployments with the same chain share one fetch. Holds
    /// no secret.
    pub fn cache_key(&self, region: &str) -> String {
        let base = match &self.base {
            Base::Keys { keys, from } => format!("keys:{from:?}:{}", keys.access_key_id),
            Base::WebIdentity {
                token_file,
                role_arn,
                session_name,
                sts_url,
            } => format!("web:{token_file}:{role_arn}:{session_name}:{sts_url}"),
            Base::Container { url, .. } => format!("container:{url}"),
            Base::Imds { endpoint } => format!("imds:{endpoint}"),
        };
        match &self.assume {
            Some(a) => format!(
                "{base}|assume:{}:{}:{}:{region}",
                a.role_arn, a.session_name, a.sts_url
            ),
            None => base,
        }
    }
}

/// Picks the chain's source (see the module comment for the order).
pub fn resolve(l: &Lookup<'_>, region: &str) -> Result<Chain, String> {
    let sts_url = (l.env)("AWS_ENDPOINT_URL_STS")
        .or_else(|| (l.env)("AWS_ENDPOINT_URL"))
        .unwrap_or_else(|| format!("https://sts.{region}.amazonaws.com"));
    let assume = (l.param)("aws_role_name").map(|role_arn| AssumeRole {
        role_arn,
        session_name: (l.param)("aws_session_name")
            .unwrap_or_else(|| DEFAULT_SESSION_NAME.to_string()),
        sts_url: sts_url.clone(),
    });
    let base = base(l, sts_url)?;
    Ok(Chain { base, assume })
}

fn base(l: &Lookup<'_>, sts_url: String) -> Result<Base, String> {
    let pair = |get: &dyn Fn(&str) -> Option<String>, key: &str, secret: &str, token: &str| match (
        get(key),
        get(secret),
    ) {
        (Some(k), Some(s)) => Ok(Some(AwsKeys {
            access_key_id: k,
            secret_access_key: s,
            session_token: get(token),
        })),
        (None, None) => Ok(None),
        _ => Err(format!("only one of {key} and {secret} is set")),
    };
    let params = pair(
        l.param,
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_session_token",
    )?;
    if let Some(keys) = params {
        let from = KeysFrom::Params;
        return Ok(Base::Keys { keys, from });
    }
    let env = pair(
        l.env,
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
    )?;
    if let Some(keys) = env {
        let from = KeysFrom::Environment;
        return Ok(Base::Keys { keys, from });
    }
    if let Some(keys) = profile(l)? {
        let from = KeysFrom::Profile;
        return Ok(Base::Keys { keys, from });
    }
    if let (Some(token_file), Some(role_arn)) = (
        (l.env)("AWS_WEB_IDENTITY_TOKEN_FILE"),
        (l.env)("AWS_ROLE_ARN"),
    ) {
        let session_name =
            (l.env)("AWS_ROLE_SESSION_NAME").unwrap_or_else(|| DEFAULT_SESSION_NAME.to_string());
        return Ok(Base::WebIdentity {
            token_file,
            role_arn,
            session_name,
            sts_url,
        });
    }
    let container = (l.env)("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
        .map(|relative| format!("{ECS_DEFAULT_HOST}{relative}"))
        .or_else(|| (l.env)("AWS_CONTAINER_CREDENTIALS_FULL_URI"));
    if let Some(url) = container {
        return Ok(Base::Container {
            url,
            authorization: (l.env)("AWS_CONTAINER_AUTHORIZATION_TOKEN"),
            authorization_file: (l.env)("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"),
        });
    }
    let disabled =
        (l.env)("AWS_EC2_METADATA_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if disabled {
        return Err(
            "no AWS credentials: no keys in litellm_params or the environment, no \
                    profile, no web identity or container endpoint, and \
                    AWS_EC2_METADATA_DISABLED is set"
                .into(),
        );
    }
    let endpoint =
        (l.env)("AWS_EC2_METADATA_SERVICE_ENDPOINT").unwrap_or_else(|| IMDS_DEFAULT.to_string());
    Ok(Base::Imds {
        endpoint: endpoint.trim_end_matches('/').to_string(),
    })
}

/// Keys of the named (or default) profile in the shared credentials file, else the config
/// file. A profile named explicitly must exist.
fn profile(l: &Lookup<'_>) -> Result<Option<AwsKeys>, String> {
    let named = (l.param)("aws_profile_name").or_else(|| (l.env)("AWS_PROFILE"));
    let name = named.clone().unwrap_or_else(|| "default".to_string());
    let home = (l.env)("HOME").unwrap_or_default();
    let credentials_file = (l.env)("AWS_SHARED_CREDENTIALS_FILE")
        .unwrap_or_else(|| format!("{home}/.aws/credentials"));
    let config_file = (l.env)("AWS_CONFIG_FILE").unwrap_or_else(|| format!("{home}/.aws/config"));
    for (file, is_config) in [(&credentials_file, false), (&config_file, true)] {
        if let Some(text) = (l.read_file)(file) {
            let keys =
                parse::profile_keys(&text, &name, is_config).map_err(|e| format!("{file}: {e}"))?;
            if keys.is_some() {
                return Ok(keys);
            }
        }
    }
    match named {
        Some(name) => Err(format!(
            "AWS profile {name} not found in {credentials_file} or {config_file}"
        )),
        None => Ok(None),
    }
}

/// Asks the chain's source for keys, then assumes the role if one is named.
pub async fn fetch(
    resolver: &Arc<Resolver>,
    chain: &Chain,
    region: &str,
) -> Result<Issued, String> {
    let base = match &chain.base {
        Base::Keys { keys, .. } => Issued {
            keys: keys.clone(),
            expires: None,
        },
        Base::WebIdentity {
            token_file,
            role_arn,
            session_name,
            sts_url,
        } => web_identity(resolver, token_file, role_arn, session_name, sts_url).await?,
        Base::Container {
            url,
            authorization,
            authorization_file,
        } => container(resolver, url, authorization, authorization_file).await?,
        Base::Imds { endpoint } => imds(resolver, endpoint).await?,
    };
    match &chain.assume {
        Some(role) => assume_role(resolver, &base.keys, role, region).await,
        None => Ok(base),
    }
}

async fn web_identity(
    resolver: &Arc<Resolver>,
    token_file: &str,
    role_arn: &str,
    session_name: &str,
    sts_url: &str,
) -> Result<Issued, String> {
    let token = std::fs::read_to_string(token_file)
        .map_err(|e| format!("cannot read AWS_WEB_IDENTITY_TOKEN_FILE {token_file}: {e}"))?;
    let body = http::form(&[
        ("Action", "AssumeRoleWithWebIdentity"),
        ("RoleArn", role_arn),
        ("RoleSessionName", session_name),
        ("Version", STS_VERSION),
        ("WebIdentityToken", token.trim()),
    ]);
    let answer = http::send(resolver, Fetch::form(sts_url, body)).await?;
    parse::sts_credentials(answer.status, &answer.body)
}

async fn container(
    resolver: &Arc<Resolver>,
    url: &str,
    authorization: &Option<String>,
    authorization_file: &Option<String>,
) -> Result<Issued, String> {
    let from_file = match authorization_file {
        Some(file) => Some(
            std::fs::read_to_string(file)
                .map_err(|e| {
                    format!("cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE {file}: {e}")
                })?
                .trim()
                .to_string(),
        ),
        None => None,
    };
    let mut fetch = Fetch::get(url);
    if let Some(token) = from_file.as_ref().or(authorization.as_ref()) {
        fetch = fetch.header("authorization", token)?;
    }
    let body = http::send(resolver, fetch)
        .await?
        .ok_body("the container credentials endpoint")?;
    parse::metadata_credentials(&body)
}

/// IMDSv2: a session token (PUT), the instance's role name, then its credentials.
async fn imds(resolver: &Arc<Resolver>, endpoint: &str) -> Result<Issued, String> {
    let token_url = format!("{endpoint}/latest/api/token");
    let put = Fetch {
        method: "PUT",
        ..Fetch::get(&token_url)
    }
    .header("x-aws-ec2-metadata-token-ttl-seconds", IMDS_TOKEN_TTL_SECS)?;
    let token = http::send(resolver, put).await?.ok_body("IMDS (token)")?;
    let token = String::from_utf8_lossy(&token).trim().to_string();
    let roles_url = format!("{endpoint}/latest/meta-data/iam/security-credentials/");
    let get = |url| Fetch::get(url).header("x-aws-ec2-metadata-token", &token);
    let roles = http::send(resolver, get(&roles_url)?)
        .await?
        .ok_body("IMDS (role name)")?;
    let roles = String::from_utf8_lossy(&roles);
    let role = roles
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .ok_or("IMDS: the instance has no IAM role")?;
    if !crate::upstream::path::is_plain_name(role) {
        return Err(format!(
            "IMDS named a role that is not a plain name: {role:?}"
        ));
    }
    let creds_url = format!("{roles_url}{role}");
    let body = http::send(resolver, get(&creds_url)?)
        .await?
        .ok_body("IMDS (role credentials)")?;
    parse::metadata_credentials(&body)
}

/// STS `AssumeRole`, signed with `keys`.
async fn assume_role(
    resolver: &Arc<Resolver>,
    keys: &AwsKeys,
    role: &AssumeRole,
    region: &str,
) -> Result<Issued, String> {
    let body = http::form(&[
        ("Action", "AssumeRole"),
        ("RoleArn", &role.role_arn),
        ("RoleSessionName", &role.session_name),
        ("Version", STS_VERSION),
    ]);
    let endpoint = Endpoint::parse(&role.sts_url)?;
    let path = endpoint.path_for("", None);
    let path = if path.is_empty() {
        "/".to_string()
    } else {
        path
    };
    let content_type = "application/x-www-form-urlencoded; charset=utf-8";
    let creds = AwsCredentials {
        access_key_id: keys.access_key_id.clone(),
        secret_access_key: keys.secret_access_key.clone(),
        session_token: keys.session_token.clone(),
        region: region.to_string(),
    };
    let signed = sigv4::sign(
        "POST",
        &endpoint.authority,
        &path,
        &[("content-type".to_string(), content_type.to_string())],
        body.as_bytes(),
        &creds,
        "sts",
        SystemTime::now(),
    );
    let mut fetch = Fetch::form(&role.sts_url, body);
    fetch.headers.clear();
    fetch = fetch.header("content-type", content_type)?;
    for (name, value) in &signed {
        let name = ::http::HeaderName::from_bytes(name.as_bytes()).map_err(|e| e.to_string())?;
        let value = ::http::HeaderValue::from_str(value)
            .map_err(|_| "the AWS keys hold characters not allowed in a header".to_string())?;
        fetch.headers.push((name, value));
    }
    let answer = http::send(resolver, fetch).await?;
    parse::sts_credentials(answer.status, &answer.body)
        .map_err(|e| format!("AssumeRole {}: {e}", role.role_arn))
}

#[cfg(test)]
mod tests;
