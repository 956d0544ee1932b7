//! AWS's published SigV4 test-suite vectors (awslabs/aws-c-auth,
//! `tests/aws-signing-test-suite/v4/*/header-signed-request.txt`): the signatures below are
//! AWS's, not computed here. All use `AKIDEXAMPLE`, region `us-east-1`, service `service`,
//! 2015-08-30T12:36:00Z.

use super::*;
use std::time::Duration;

const SUITE_TIME: u64 = 1_440_938_160; // 2015-08-30T12:36:00Z
const EMPTY_HASH: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

fn suite_creds(token: Option<&str>) -> AwsCredentials {
    AwsCredentials {
        access_key_id: "AKIDEXAMPLE".into(),
        secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
        session_token: token.map(str::to_string),
        region: "us-east-1".into(),
    }
}

fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn base_headers() -> Vec<(String, String)> {
    h(&[
        ("Host", "example.amazonaws.com"),
        ("X-Amz-Date", "20150830T123600Z"),
    ])
}

fn suite_signature(method: &str, path: &str, headers: &[(String, String)]) -> String {
    let auth = authorization(
        method,
        path,
        headers,
        EMPTY_HASH,
        &suite_creds(None),
        "service",
        "20150830T123600Z",
    );
    auth.rsplit("Signature=").next().unwrap().to_string()
}

fn suite_time() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(SUITE_TIME)
}

#[test]
fn get_vanilla() {
    let auth = authorization(
        "GET",
        "/",
        &base_headers(),
        EMPTY_HASH,
        &suite_creds(None),
        "service",
        "20150830T123600Z",
    );
    assert_eq!(
        auth,
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
         SignedHeaders=host;x-amz-date, \
         Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
    );
}

#[test]
fn post_vanilla() {
    assert_eq!(
        suite_signature("POST", "/", &base_headers()),
        "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"
    );
}

#[test]
fn get_vanilla_query_order_key_case_sorts_the_query() {
    assert_eq!(
        suite_signature("GET", "/?Param2=value2&Param1=value1", &base_headers()),
        "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"
    );
}

#[test]
fn get_header_value_trim_collapses_whitespace() {
    let mut headers = base_headers();
    headers.extend(h(&[
        ("My-Header1", " value1"),
        ("My-Header2", " \"a   b   c\""),
    ]));
    assert_eq!(
        suite_signature("GET", "/", &headers),
        "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"
    );
}

#[test]
fn get_utf8_encodes_a_raw_path_once() {
    assert_eq!(
        suite_signature("GET", "/ሴ", &base_headers()),
        "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"
    );
}

#[test]
fn get_vanilla_with_session_token() {
    let token = "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267";
    let mut headers = base_headers();
    headers.extend(h(&[("X-Amz-Security-Token", token)]));
    let auth = authorization(
        "GET",
        "/",
        &headers,
        EMPTY_HASH,
        &suite_creds(Some(token)),
        "service",
        "20150830T123600Z",
    );
    assert!(auth.contains("SignedHeaders=host;x-amz-date;x-amz-security-token,"));
    assert!(auth.ends_with("07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8"));
}

/// The whole `sign` path against `post-x-www-form-urlencoded`, which signs the body hash header
/// and a content type, as Bedrock requests do.
#[test]
fn sign_matches_post_x_www_form_urlencoded() {
    let headers = h(&[
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("Content-Length", "13"),
    ]);
    let added = sign(
        "POST",
        "example.amazonaws.com",
        "/",
        &headers,
        b"Param1=value1",
        &suite_creds(None),
        "service",
        suite_time(),
    );
    let get = |name: &str| {
        added
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get("x-amz-date"), Some("20150830T123600Z"));
    assert_eq!(
        get("x-amz-content-sha256"),
        Some("9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e")
    );
    assert_eq!(get("x-amz-security-token"), None);
    assert_eq!(
        get("authorization"),
        Some(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=content-length;content-type;host;x-amz-content-sha256;x-amz-date, \
             Signature=d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b"
        )
    );
}

#[test]
fn bedrock_model_ids_are_encoded_on_the_wire_and_twice_in_the_canonical_uri() {
    let id = encode_path_segment("anthropic.claude-3-5-sonnet-20240620-v1:0");
    assert_eq!(id, "anthropic.claude-3-5-sonnet-20240620-v1%3A0");
    let path = format!("/model/{id}/converse");
    let (canonical, _) = canonical_request("POST", &path, &base_headers(), EMPTY_HASH);
    assert_eq!(
        canonical.lines().nth(1),
        Some("/model/anthropic.claude-3-5-sonnet-20240620-v1%253A0/converse")
    );
    assert_eq!(
        encode_path_segment("arn:aws:bedrock:us-east-1:1:inference-profile/x y"),
        "arn%3Aaws%3Abedrock%3Aus-east-1%3A1%3Ainference-profile%2Fx%20y"
    );
}

fn request_headers(creds: &AwsCredentials, body: &[u8], path: &str) -> Vec<(String, String)> {
    let mut headers = h(&[("content-type", "application/json")]);
    let added = sign(
        "POST",
        "bedrock-runtime.us-east-1.amazonaws.com",
        path,
        &headers,
        body,
        creds,
        "bedrock",
        SystemTime::now(),
    );
    headers.push((
        "host".into(),
        "bedrock-runtime.us-east-1.amazonaws.com".into(),
    ));
    headers.extend(added);
    headers
}

#[test]
fn verify_accepts_what_sign_produced_and_rejects_changes() {
    let creds = suite_creds(Some("session"));
    let path = "/model/amazon.nova-lite-v1%3A0/converse";
    let body = br#"{"messages":[]}"#;
    let headers = request_headers(&creds, body, path);
    assert_eq!(
        verify("POST", path, &headers, body, &creds, "bedrock"),
        Ok(())
    );

    let err = verify("POST", path, &headers, b"{}", &creds, "bedrock").unwrap_err();
    assert!(err.contains("does not match the body"), "{err}");
    let err = verify(
        "POST",
        "/model/other/converse",
        &headers,
        body,
        &creds,
        "bedrock",
    );
    assert!(err.unwrap_err().contains("signature does not match"));
    let err = verify("POST", path, &headers, body, &creds, "sagemaker");
    assert!(err.unwrap_err().contains("scope"));
    let mut wrong_secret = creds.clone();
    wrong_secret.secret_access_key = "other".into();
    assert!(verify("POST", path, &headers, body, &wrong_secret, "bedrock").is_err());
    let tampered: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| match k.as_str() {
            "content-type" => (k.clone(), "text/plain".to_string()),
            _ => (k.clone(), v.clone()),
        })
        .collect();
    assert!(verify("POST", path, &tampered, body, &creds, "bedrock").is_err());
}

#[test]
fn verify_reports_missing_pieces_without_panicking() {
    let creds = suite_creds(None);
    for auth in [
        "",
        "AWS4-HMAC-SHA256",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/x, SignedHeaders=host, Signature=00",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=zz",
        "Bearer x",
    ] {
        let mut headers = base_headers();
        headers.push(("authorization".into(), auth.into()));
        assert!(verify("GET", "/", &headers, b"", &creds, "service").is_err(), "{auth}");
    }
    assert!(verify("GET", "/", &base_headers(), b"", &creds, "service").is_err());
}

#[test]
fn amz_date_formats_utc() {
    assert_eq!(amz_date(suite_time()), "20150830T123600Z");
    assert_eq!(amz_date(UNIX_EPOCH), "19700101T000000Z");
    // 2024-02-29T23:59:59Z: a leap day.
    let leap = UNIX_EPOCH + Duration::from_secs(1_709_251_199);
    assert_eq!(amz_date(leap), "20240229T235959Z");
}

#[test]
fn caller_copies_of_signing_headers_are_ignored() {
    let headers = h(&[("Authorization", "Bearer old"), ("Host", "elsewhere")]);
    let added = sign(
        "POST",
        "example.amazonaws.com",
        "/",
        &headers,
        b"",
        &suite_creds(None),
        "service",
        suite_time(),
    );
    let auth = &added.last().unwrap().1;
    assert!(auth.contains("SignedHeaders=host;x-amz-content-sha256;x-amz-date,"));
}
