//! A deployment's AWS region and credentials, and the signed request built with them.
//!
//! Region, first found: `aws_region_name` (litellm_params); the region in a model ARN; the
//! region in an `api_base` that is a regional AWS endpoint; the environment (`AWS_REGION_NAME`,
//! `AWS_REGION`, `AWS_DEFAULT_REGION`); else `us-east-1`. Credentials: `aws_access_key_id`,
//! `aws_secret_access_key` and optionally `aws_session_token` from litellm_params, else
//! `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and optionally `AWS_SESSION_TOKEN`, else the
//! keys the background refresher fetched from the rest of the chain into
//! `deployment.state.aws_keys` (a profile, web identity, the container endpoint, instance
//! metadata; see `crate::credentials::aws`). With `aws_role_name`, only the refreshed keys of
//! the assumed role are used.
//!
//! Bedrock API keys: a deployment's `api_key`, or else (when its litellm_params hold no AWS
//! keys) `AWS_BEARER_TOKEN_BEDROCK`, is sent as `Authorization: Bearer` instead of a signature,
//! as LiteLLM does. SageMaker has no API keys.
//!
//! The environment is read once, into a process-wide snapshot, the first time an AWS deployment
//! is loaded (`static_headers` runs at config load and calls [`load_env`]); requests only read
//! the snapshot. Rotating credentials in the environment therefore needs a restart; per
//! deployment keys in the config follow config reloads.

use super::sigv4::{self, AwsCredentials};
use crate::deployment::Deployment;
use crate::error::GatewayError;
use crate::providers::{content_type_json, ProviderRequest};
use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use std::sync::OnceLock;
use std::time::SystemTime;

pub const DEFAULT_REGION: &str = "us-east-1";

/// An AWS API: its SigV4 service name and the first labels of its regional host.
pub struct AwsService {
    pub signing_name: &'static str,
    pub host_prefix: &'static str,
    /// Takes API keys as `Authorization: Bearer` (Bedrock does, SageMaker does not).
    pub takes_api_keys: bool,
}

pub const BEDROCK_RUNTIME: AwsService = AwsService {
    signing_name: "bedrock",
    host_prefix: "bedrock-runtime",
    takes_api_keys: true,
};

pub const SAGEMAKER_RUNTIME: AwsService = AwsService {
    signing_name: "sagemaker",
    host_prefix: "runtime.sagemaker",
    takes_api_keys: false,
};

impl AwsService {
    /// `https://bedrock-runtime.{region}.amazonaws.com`: the `api_base` to connect to when a
    /// deployment configures none.
    pub fn default_api_base(&self, region: &str) -> String {
        format!("https://{}", self.default_host(region))
    }

    fn default_host(&self, region: &str) -> String {
        format!("{}.{region}.amazonaws.com", self.host_prefix)
    }
}

#[derive(Default)]
struct AwsEnv {
    region: Option<String>,
    access_key_id: Option<String>,
    secret_access_key: Option<String>,
    session_token: Option<String>,
    bedrock_api_key: Option<String>,
}

static AWS_ENV: OnceLock<AwsEnv> = OnceLock::new();

/// Reads the AWS environment variables if they have not been read yet.
pub fn load_env() {
    env();
}

fn env() -> &'static AwsEnv {
    AWS_ENV.get_or_init(|| {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        AwsEnv {
            region: var("AWS_REGION_NAME")
                .or_else(|| var("AWS_REGION"))
                .or_else(|| var("AWS_DEFAULT_REGION")),
            access_key_id: var("AWS_ACCESS_KEY_ID"),
            secret_access_key: var("AWS_SECRET_ACCESS_KEY"),
            session_token: var("AWS_SESSION_TOKEN"),
            bedrock_api_key: var("AWS_BEARER_TOKEN_BEDROCK"),
        }
    })
}

/// The region to sign for (see the module comment for the order).
pub fn region(d: &Deployment, model: &str, host: Option<&str>) -> String {
    let param = |name: &str| d.extra_param(name).filter(|v| !v.trim().is_empty());
    param("aws_region_name")
        .map(str::to_string)
        .or_else(|| region_from_arn(model))
        .or_else(|| host.and_then(region_from_host))
        .or_else(|| env().region.clone())
        .unwrap_or_else(|| DEFAULT_REGION.to_string())
}

/// `arn:aws:bedrock:us-west-2:123456789012:inference-profile/...` names its region.
fn region_from_arn(model: &str) -> Option<String> {
    let mut parts = model.strip_prefix("arn:")?.split(':');
    let region = parts.nth(2)?;
    (!region.is_empty()).then(|| region.to_string())
}

/// `bedrock-runtime.eu-west-1.amazonaws.com`, `bedrock-runtime-fips.us-east-1.amazonaws.com`,
/// `runtime.sagemaker.us-east-1.amazonaws.com`: the label before `amazonaws.com`.
fn region_from_host(host: &str) -> Option<String> {
    let host = host.split(':').next().unwrap_or(host);
    let rest = host
        .strip_suffix(".amazonaws.com")
        .or_else(|| host.strip_suffix(".amazonaws.com.cn"))?;
    let region = rest.rsplit('.').next()?;
    let looks_like_region = region.split('-').count() >= 3
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    looks_like_region.then(|| region.to_string())
}

pub fn credentials(d: &Deployment, region: String) -> Result<AwsCredentials, GatewayError> {
    let param = |name: &str| {
        d.extra_param(name)
            .filter(|v| !v.trim().is_empty())
            .map(str::to_string)
    };
    let refreshed = || {
        d.state.aws_keys.get().map(|k| {
            (
                k.access_key_id.clone(),
                k.secret_access_key.clone(),
                k.session_token.clone(),
            )
        })
    };
    let not_yet = || {
        GatewayError::internal(format!(
            "deployment {} has no AWS credentials yet: no aws_access_key_id and \
             aws_secret_access_key in its litellm_params or the environment, and none fetched \
             from a profile, web identity, the container endpoint or instance metadata (see \
             the gateway's log)",
            d.id
        ))
    };
    let (key, secret, token) = if param("aws_role_name").is_some() {
        refreshed().ok_or_else(not_yet)?
    } else {
        match (param("aws_access_key_id"), param("aws_secret_access_key")) {
            (Some(k), Some(s)) => (k, s, param("aws_session_token")),
            (None, None) => {
                let env = env();
                match (&env.access_key_id, &env.secret_access_key) {
                    (Some(k), Some(s)) => (k.clone(), s.clone(), env.session_token.clone()),
                    _ => refreshed().ok_or_else(not_yet)?,
                }
            }
            _ => {
                return Err(GatewayError::internal(format!(
                    "deployment {} sets only one of aws_access_key_id and aws_secret_access_key",
                    d.id
                )))
            }
        }
    };
    Ok(AwsCredentials {
        access_key_id: key,
        secret_access_key: secret,
        session_token: token,
        region,
    })
}

/// Whether the deployment sends a Bedrock API key instead of a signature.
pub fn uses_api_key(d: &Deployment) -> bool {
    d.provider.wire == crate::providers::Wire::Bedrock && api_key(d, &BEDROCK_RUNTIME).is_some()
}

/// A POST of `body` to `suffix` (already encoded, e.g. `/model/{id}/converse`) under the
/// deployment's endpoint, signed now. Signed for exactly the `Host` the HTTP client sends: the
/// configured endpoint's authority, else the service's regional host.
pub fn signed_request(
    d: &Deployment,
    service: &AwsService,
    model: &str,
    suffix: &str,
    body: Vec<u8>,
    accept: Option<&'static str>,
) -> Result<ProviderRequest, GatewayError> {
    let (host, path_and_query) = match d.endpoint() {
        Ok(e) => (e.authority.clone(), e.path_for(suffix, None)),
        Err(_) => (
            service.default_host(&region(d, model, None)),
            suffix.to_string(),
        ),
    };
    // The signature covers these; copies of the signing headers from extra_headers would
    // contradict it.
    let mut headers: Vec<(HeaderName, HeaderValue)> = d
        .headers
        .iter()
        .filter(|(name, _)| {
            let name = name.as_str();
            !(name == "host" || name == "authorization" || name.starts_with("x-amz-"))
        })
        .cloned()
        .collect();
    if !headers.iter().any(|(n, _)| n == http::header::CONTENT_TYPE) {
        headers.push(content_type_json());
    }
    if let Some(accept) = accept {
        if !headers.iter().any(|(n, _)| n == http::header::ACCEPT) {
            headers.push((http::header::ACCEPT, HeaderValue::from_static(accept)));
        }
    }
    if let Some(key) = api_key(d, service) {
        let value = HeaderValue::from_str(&format!("Bearer {}", key)).map_err(|_| {
            GatewayError::internal(format!(
                "deployment {}: the Bedrock API key holds characters not allowed in a header",
                d.id
            ))
        })?;
        headers.push((http::header::AUTHORIZATION, value));
        return Ok(ProviderRequest {
            path_and_query,
            headers,
            body: Bytes::from(body),
        });
    }
    let creds = credentials(d, region(d, model, Some(&host)))?;
    let to_sign: Vec<(String, String)> = headers
        .iter()
        .filter_map(|(n, v)| Some((n.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect();
    let added = sigv4::sign(
        "POST",
        &host,
        &path_and_query,
        &to_sign,
        &body,
        &creds,
        service.signing_name,
        SystemTime::now(),
    );
    for (name, value) in added {
        let value = HeaderValue::from_str(&value).map_err(|_| {
            GatewayError::internal(format!(
                "deployment {}: the AWS credentials hold characters not allowed in {name}",
                d.id
            ))
        })?;
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| GatewayError::internal(format!("invalid header name {name}")))?;
        headers.push((name, value));
    }
    Ok(ProviderRequest {
        path_and_query,
        headers,
        body: Bytes::from(body),
    })
}

/// The Bedrock API key to send instead of a signature, if any (see the module comment).
fn api_key<'a>(d: &'a Deployment, service: &AwsService) -> Option<&'a str> {
    if !service.takes_api_keys {
        return None;
    }
    let own_aws_keys = d.extra_param("aws_access_key_id").is_some();
    d.api_key
        .as_ref()
        .map(crate::secret::Secret::expose)
        .or_else(|| {
            (!own_aws_keys)
                .then(|| env().bedrock_api_key.as_deref())
                .flatten()
        })
        .filter(|k| !k.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_come_from_arns_and_aws_hosts() {
        assert_eq!(
            region_from_arn("arn:aws:bedrock:eu-central-1:123:inference-profile/x").as_deref(),
            Some("eu-central-1")
        );
        assert_eq!(region_from_arn("anthropic.claude-v2:1"), None);
        assert_eq!(region_from_arn("arn:aws:bedrock::123:x"), None);
        for (host, want) in [
            ("bedrock-runtime.eu-west-1.amazonaws.com", Some("eu-west-1")),
            (
                "bedrock-runtime-fips.us-gov-west-1.amazonaws.com",
                Some("us-gov-west-1"),
            ),
            (
                "runtime.sagemaker.ap-south-1.amazonaws.com:443",
                Some("ap-south-1"),
            ),
            (
                "bedrock-runtime.cn-north-1.amazonaws.com.cn",
                Some("cn-north-1"),
            ),
            (
                "vpce-0abc.bedrock-runtime.us-east-1.vpce.amazonaws.com",
                None,
            ),
            ("127.0.0.1:9000", None),
            ("amazonaws.com", None),
        ] {
            assert_eq!(region_from_host(host).as_deref(), want, "{host}");
        }
    }

    #[test]
    fn default_api_bases() {
        assert_eq!(
            BEDROCK_RUNTIME.default_api_base("us-west-2"),
            "https://bedrock-runtime.us-west-2.amazonaws.com"
        );
        assert_eq!(
            SAGEMAKER_RUNTIME.default_api_base("eu-west-1"),
            "https://runtime.sagemaker.eu-west-1.amazonaws.com"
        );
    }
}
