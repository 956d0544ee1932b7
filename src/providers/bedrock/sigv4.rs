//! AWS Signature Version 4 for Bedrock and SageMaker requests: the canonical request, the string
//! to sign and the derived key. The crypto (HMAC-SHA256, SHA-256) is ring's; only the
//! canonicalisation lives here.
//!
//! Paths: callers pass the path exactly as it goes on the wire, model ids already encoded with
//! [`encode_path_segment`] (`:` is `%3A`). The canonical URI encodes every segment of that once
//! more (`%3A` → `%253A`): SigV4 wants paths encoded twice for every service but S3, which is
//! what botocore and the AWS SDKs do and what AWS recomputes from the path it receives. Given a
//! raw, unencoded path (as AWS's test suite writes them) the result is the single encoding the
//! suite expects.

use ring::{digest, hmac};
use std::time::{SystemTime, UNIX_EPOCH};

const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// Headers `sign` adds itself; callers' copies of them are ignored.
const OWN_HEADERS: &[&str] = &[
    "host",
    "authorization",
    "x-amz-date",
    "x-amz-content-sha256",
    "x-amz-security-token",
];

#[derive(Clone, PartialEq, Eq)]
pub struct AwsCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
    pub region: String,
}

impl std::fmt::Debug for AwsCredentials {
    // Secrets never reach logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .field("region", &self.region)
            .finish()
    }
}

/// The headers to add to a request so AWS accepts it: `x-amz-date`, `x-amz-content-sha256`,
/// `x-amz-security-token` (temporary credentials only) and `authorization`. `headers` are the
/// other headers that will be sent (all of them are signed); `host` must be exactly the `Host`
/// header the HTTP client sends.
#[allow(clippy::too_many_arguments)]
pub fn sign(
    method: &str,
    host: &str,
    path_and_query: &str,
    headers: &[(String, String)],
    body: &[u8],
    creds: &AwsCredentials,
    service: &str,
    now: SystemTime,
) -> Vec<(String, String)> {
    let date = amz_date(now);
    let body_hash = hex(digest::digest(&digest::SHA256, body).as_ref());
    let mut added = vec![
        ("x-amz-date".to_string(), date.clone()),
        ("x-amz-content-sha256".to_string(), body_hash.clone()),
    ];
    if let Some(token) = &creds.session_token {
        added.push(("x-amz-security-token".to_string(), token.clone()));
    }
    let mut signed: Vec<(String, String)> = headers
        .iter()
        .filter(|(name, _)| !OWN_HEADERS.contains(&name.to_ascii_lowercase().as_str()))
        .cloned()
        .collect();
    signed.push(("host".to_string(), host.to_string()));
    signed.extend(added.iter().cloned());
    let authorization = authorization(
        method,
        path_and_query,
        &signed,
        &body_hash,
        creds,
        service,
        &date,
    );
    added.push(("authorization".to_string(), authorization));
    added
}

/// The `Authorization` header value for a request whose signed headers (including `host` and
/// `x-amz-date`) are `headers`, with `payload_hash` the hex SHA-256 of its body.
pub fn authorization(
    method: &str,
    path_and_query: &str,
    headers: &[(String, String)],
    payload_hash: &str,
    creds: &AwsCredentials,
    service: &str,
    amz_date: &str,
) -> String {
    let (canonical, signed_names) =
        canonical_request(method, path_and_query, headers, payload_hash);
    let day = amz_date.get(..8).unwrap_or(amz_date);
    let scope = format!("{day}/{}/{service}/aws4_request", creds.region);
    let key = signing_key(&creds.secret_access_key, day, &creds.region, service);
    let signature = hmac::sign(
        &key,
        string_to_sign(amz_date, &scope, &canonical).as_bytes(),
    );
    format!(
        "{ALGORITHM} Credential={}/{scope}, SignedHeaders={signed_names}, Signature={}",
        creds.access_key_id,
        hex(signature.as_ref())
    )
}

/// Checks a signed request as AWS would (for test mocks): the credential scope names these
/// credentials and `service`, every signed header is present, the body matches its hash and the
/// signature matches. The clock is not checked. The error says what did not match.
pub fn verify(
    method: &str,
    path_and_query: &str,
    headers: &[(String, String)],
    body: &[u8],
    creds: &AwsCredentials,
    service: &str,
) -> Result<(), String> {
    let find = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let auth = find("authorization").ok_or("no authorization header")?;
    let fields = auth
        .strip_prefix(ALGORITHM)
        .ok_or("authorization is not AWS4-HMAC-SHA256")?;
    let field = |name: &str| {
        fields
            .split(',')
            .filter_map(|part| part.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
    };
    let credential = field("Credential").ok_or("no Credential in authorization")?;
    let signed_names = field("SignedHeaders").ok_or("no SignedHeaders in authorization")?;
    let signature = field("Signature").ok_or("no Signature in authorization")?;

    let scope: Vec<&str> = credential.split('/').collect();
    let [key_id, day, region, scope_service, "aws4_request"] = scope.as_slice() else {
        return Err(format!("malformed credential scope {credential:?}"));
    };
    if *key_id != creds.access_key_id {
        return Err(format!("unknown access key id {key_id:?}"));
    }
    if *region != creds.region || *scope_service != service {
        return Err(format!(
            "scope is {region}/{scope_service}, expected {}/{service}",
            creds.region
        ));
    }
    let amz_date = find("x-amz-date").ok_or("no x-amz-date header")?;
    if !amz_date.starts_with(day) {
        return Err("x-amz-date does not match the credential scope date".into());
    }
    let body_hash = hex(digest::digest(&digest::SHA256, body).as_ref());
    if find("x-amz-content-sha256").is_some_and(|h| h != body_hash && h != "UNSIGNED-PAYLOAD") {
        return Err("x-amz-content-sha256 does not match the body".into());
    }
    let mut signed = Vec::new();
    for name in signed_names.split(';') {
        let present: Vec<&(String, String)> = headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .collect();
        if present.is_empty() {
            return Err(format!("signed header {name:?} is missing"));
        }
        signed.extend(present.into_iter().cloned());
    }
    let (canonical, recomputed_names) =
        canonical_request(method, path_and_query, &signed, &body_hash);
    if recomputed_names != signed_names {
        return Err("SignedHeaders is not sorted lowercase names".into());
    }
    let scope = format!("{day}/{region}/{service}/aws4_request");
    let key = signing_key(&creds.secret_access_key, day, region, service);
    let given = unhex(signature).ok_or("signature is not hex")?;
    hmac::verify(
        &key,
        string_to_sign(amz_date, &scope, &canonical).as_bytes(),
        &given,
    )
    .map_err(|_| format!("signature does not match; canonical request:\n{canonical}"))
}

/// One path segment as SigV4 and AWS's URLs want it: everything but `A-Z a-z 0-9 - _ . ~`
/// percent-encoded with uppercase hex (so a model id's `:` is `%3A`, an ARN's `/` is `%2F`).
pub fn encode_path_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len() + 8);
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `YYYYMMDD'T'HHMMSS'Z'` in UTC, the form of `x-amz-date`.
pub fn amz_date(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (year, month, day) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `(canonical request, signed header names)`.
fn canonical_request(
    method: &str,
    path_and_query: &str,
    headers: &[(String, String)],
    payload_hash: &str,
) -> (String, String) {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let mut by_name: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for (name, value) in headers {
        by_name
            .entry(name.trim().to_ascii_lowercase())
            .or_default()
            .push(value.split_whitespace().collect::<Vec<_>>().join(" "));
    }
    let canonical_headers: String = by_name
        .iter()
        .map(|(name, values)| format!("{name}:{}\n", values.join(",")))
        .collect();
    let signed_names = by_name.keys().cloned().collect::<Vec<_>>().join(";");
    let canonical = format!(
        "{}\n{}\n{}\n{canonical_headers}\n{signed_names}\n{payload_hash}",
        method.to_ascii_uppercase(),
        canonical_uri(path),
        canonical_query(query),
    );
    (canonical, signed_names)
}

fn canonical_uri(path: &str) -> String {
    if path.is_empty() {
        return "/".to_string();
    }
    path.split('/')
        .map(encode_path_segment)
        .collect::<Vec<_>>()
        .join("/")
}

/// Query parameters decoded, re-encoded the SigV4 way and sorted by name, then value.
fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                encode_path_segment(&crate::percent::decode(k, false)),
                encode_path_segment(&crate::percent::decode(v, false)),
            )
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn string_to_sign(amz_date: &str, scope: &str, canonical: &str) -> String {
    let hash = hex(digest::digest(&digest::SHA256, canonical.as_bytes()).as_ref());
    format!("{ALGORITHM}\n{amz_date}\n{scope}\n{hash}")
}

fn signing_key(secret: &str, day: &str, region: &str, service: &str) -> hmac::Key {
    let mut key = format!("AWS4{secret}").into_bytes();
    for part in [day, region, service, "aws4_request"] {
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &key), part.as_bytes());
        key = tag.as_ref().to_vec();
    }
    hmac::Key::new(hmac::HMAC_SHA256, &key)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect()
}

/// Howard Hinnant's days-to-civil: `(year, month, day)` of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests;
