//! What Bedrock and SageMaker share as AWS services: the SigV4 shape check
//! every request must pass, and AWS's error answers (`{"message"}` with an
//! `x-amzn-errortype` header) and request ids.
//!
//! The signature itself is not verified (the mock has no secret), but every
//! request is recorded with its headers and `body_sha256` (SigV4's payload
//! hash), which is all a test needs to recompute it with a known secret.

use serde_json::json;

use crate::reply::{self, Ctx, Resp};

/// The AWS error type (`x-amzn-errortype`) of a status.
pub fn error_type(status: u16, sagemaker: bool) -> &'static str {
    match (status, sagemaker) {
        (403, _) => "AccessDeniedException",
        (404, _) => "ResourceNotFoundException",
        (429, _) => "ThrottlingException",
        (408, false) => "ModelTimeoutException",
        (424, false) => "ModelErrorException",
        (424, true) => "ModelError",
        (503, false) => "ServiceUnavailableException",
        (503, true) => "ServiceUnavailable",
        (s, false) if s >= 500 => "InternalServerException",
        (s, true) if s >= 500 => "InternalFailure",
        (_, false) => "ValidationException",
        (_, true) => "ValidationError",
    }
}

pub fn aws_error(ctx: &Ctx<'_>, status: u16, message: &str, sagemaker: bool) -> Resp {
    let service = if sagemaker { "sagemaker" } else { "bedrock" };
    let mut resp = reply::json(status, &json!({"message": message}));
    let kind = error_type(status, sagemaker);
    reply::set(
        &mut resp,
        "x-amzn-errortype",
        &format!("{kind}:http://internal.amazon.com/coral/com.amazon.{service}/"),
    );
    reply::set(&mut resp, "x-amzn-requestid", &request_id(ctx.n));
    resp
}

/// A Bedrock error: `{"message"}` with `x-amzn-errortype`.
pub fn error(ctx: &Ctx<'_>, status: u16, message: &str) -> Resp {
    aws_error(ctx, status, message, false)
}

pub fn sagemaker_error(ctx: &Ctx<'_>, status: u16, message: &str) -> Resp {
    aws_error(ctx, status, message, true)
}

pub fn request_id(n: u64) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

/// Checks the request is SigV4-signed in shape for `service`: an
/// `authorization` of `AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/
/// SERVICE/aws4_request, SignedHeaders=a;b, Signature=<64 hex>` whose
/// sorted signed headers include `host` and `x-amz-date` and are all
/// present, and an `x-amz-date` of that date.
pub fn check_sigv4(
    authorization: Option<&str>,
    amz_date: Option<&str>,
    present: &dyn Fn(&str) -> bool,
    service: &str,
) -> Result<(), String> {
    let auth = authorization.ok_or("no authorization header")?;
    let fields = auth
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .ok_or("authorization is not AWS4-HMAC-SHA256")?;
    let mut credential = None;
    let mut signed = None;
    let mut signature = None;
    for field in fields.split(',') {
        match field.trim().split_once('=') {
            Some(("Credential", v)) => credential = Some(v),
            Some(("SignedHeaders", v)) => signed = Some(v),
            Some(("Signature", v)) => signature = Some(v),
            _ => return Err(format!("unexpected authorization field {field:?}")),
        }
    }
    let scope: Vec<&str> = credential.ok_or("no Credential")?.split('/').collect();
    let [akid, date, region, svc, "aws4_request"] = scope[..] else {
        return Err(format!(
            "Credential scope {scope:?} is not AKID/DATE/REGION/SERVICE/aws4_request"
        ));
    };
    if akid.is_empty() || region.is_empty() {
        return Err("empty access key id or region".into());
    }
    if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("Credential date {date:?} is not YYYYMMDD"));
    }
    if svc != service {
        return Err(format!("Credential service {svc:?} is not {service:?}"));
    }
    let signed: Vec<&str> = signed.ok_or("no SignedHeaders")?.split(';').collect();
    let mut sorted = signed.clone();
    sorted.sort_unstable();
    sorted.dedup();
    if signed != sorted
        || signed
            .iter()
            .any(|h| h.is_empty() || h.to_lowercase() != *h)
    {
        return Err("SignedHeaders are not sorted, unique, lowercase names".into());
    }
    for needed in ["host", "x-amz-date"] {
        if !signed.contains(&needed) {
            return Err(format!("SignedHeaders lack {needed}"));
        }
    }
    if let Some(missing) = signed.iter().find(|h| !present(h)) {
        return Err(format!("signed header {missing} is not in the request"));
    }
    let signature = signature.ok_or("no Signature")?;
    if signature.len() != 64
        || !signature
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err("Signature is not 64 lowercase hex digits".into());
    }
    let amz_date = amz_date.ok_or("no x-amz-date header")?;
    let ok = amz_date.len() == 16
        && amz_date.starts_with(date)
        && amz_date.as_bytes()[8] == b'T'
        && amz_date.ends_with('Z');
    if !ok {
        return Err(format!("x-amz-date {amz_date:?} is not {date}THHMMSSZ"));
    }
    Ok(())
}

pub fn sigv4(ctx: &Ctx<'_>, service: &str) -> Result<(), Resp> {
    let present = |name: &str| ctx.parts.headers.contains_key(name);
    check_sigv4(
        ctx.header("authorization"),
        ctx.header("x-amz-date"),
        &present,
        service,
    )
    .map_err(|reason| {
        let mut resp = aws_error(ctx, 403, "missing SigV4", service == "sagemaker");
        reply::set(
            &mut resp,
            "x-amzn-errortype",
            "MissingAuthenticationTokenException",
        );
        reply::set(&mut resp, "x-mock-reason", &reason);
        resp
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const AUTH: &str = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240102/us-east-1/bedrock/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7";

    #[test]
    fn sigv4_shape() {
        let all = |_: &str| true;
        assert!(check_sigv4(Some(AUTH), Some("20240102T030405Z"), &all, "bedrock").is_ok());
        assert!(check_sigv4(Some(AUTH), Some("20240102T030405Z"), &all, "sagemaker").is_err());
        assert!(check_sigv4(Some(AUTH), Some("20240103T030405Z"), &all, "bedrock").is_err());
        assert!(check_sigv4(Some(AUTH), None, &all, "bedrock").is_err());
        assert!(check_sigv4(None, Some("20240102T030405Z"), &all, "bedrock").is_err());
        let no_ct = |h: &str| h != "content-type";
        assert!(check_sigv4(Some(AUTH), Some("20240102T030405Z"), &no_ct, "bedrock").is_err());
        for bad in [
            AUTH.replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA1"),
            AUTH.replace("content-type;host", "host;content-type"),
            AUTH.replace(";x-amz-date", ""),
            AUTH.replace("5d672d79", "5D672D79"),
            AUTH.replace("5d672d79", "5d67"),
            AUTH.replace("/aws4_request", ""),
            AUTH.replace("20240102", "2024-01-02"),
        ] {
            assert!(
                check_sigv4(Some(&bad), Some("20240102T030405Z"), &all, "bedrock").is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn error_types() {
        assert_eq!(error_type(429, false), "ThrottlingException");
        assert_eq!(error_type(400, false), "ValidationException");
        assert_eq!(error_type(503, false), "ServiceUnavailableException");
        assert_eq!(error_type(424, true), "ModelError");
    }
}
