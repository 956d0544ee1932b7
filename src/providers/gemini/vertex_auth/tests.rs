//! Service-account flow tests, signed with a throwaway key generated for these tests only.

use super::*;
use ring::signature::{UnparsedPublicKey, RSA_PKCS1_2048_8192_SHA256};

const KEY_FILE: &str =
    include_str!("../../../../tests/fixtures/gemini/test_only_service_account.json");
const KEY_PEM: &str = include_str!("../../../../tests/fixtures/gemini/test_only_rsa_key.pem");
const TOKEN: &str = include_str!("../../../../tests/fixtures/gemini/token_response.json");
const TOKEN_ERROR: &str = include_str!("../../../../tests/fixtures/gemini/token_error.json");

fn account() -> ServiceAccount {
    ServiceAccount::from_json(KEY_FILE.as_bytes()).unwrap()
}

fn decode_json(segment: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segment).unwrap()).unwrap()
}

#[test]
fn parses_the_key_file() {
    let sa = account();
    assert_eq!(
        sa.client_email,
        "tollgate-test@tollgate-test-project.iam.gserviceaccount.com"
    );
    assert_eq!(sa.token_uri, "https://oauth2.googleapis.com/token");
    assert_eq!(sa.project_id.as_deref(), Some("tollgate-test-project"));
    assert!(sa.private_key.starts_with("-----BEGIN PRIVATE KEY-----"));
    // The key never shows in debug output.
    assert!(!format!("{sa:?}").contains("PRIVATE KEY"));
}

#[test]
fn token_uri_defaults_and_bad_files_are_errors() {
    let sa = ServiceAccount::from_json(br#"{"client_email": "a@b", "private_key": "k"}"#).unwrap();
    assert_eq!(sa.token_uri, DEFAULT_TOKEN_URI);
    assert_eq!(sa.project_id, None);
    for bad in [
        &b"{}"[..],
        b"[]",
        b"not json",
        br#"{"client_email": "", "private_key": "k"}"#,
    ] {
        assert!(ServiceAccount::from_json(bad).is_err());
    }
}

#[test]
fn assertion_is_an_rs256_jwt_with_googles_claims() {
    let sa = account();
    let jwt = jwt_assertion(&sa, 1_700_000_000).unwrap();
    let segments: Vec<&str> = jwt.split('.').collect();
    assert_eq!(segments.len(), 3);
    assert!(!jwt.contains('=') && !jwt.contains('+') && !jwt.contains('/'));
    assert_eq!(
        decode_json(segments[0]),
        json!({"alg": "RS256", "typ": "JWT"})
    );
    assert_eq!(
        decode_json(segments[1]),
        json!({
            "iss": "tollgate-test@tollgate-test-project.iam.gserviceaccount.com",
            "scope": "https://www.googleapis.com/auth/cloud-platform",
            "aud": "https://oauth2.googleapis.com/token",
            "iat": 1_700_000_000u64,
            "exp": 1_700_003_600u64,
        })
    );
}

#[test]
fn signature_verifies_with_the_public_key_and_not_when_tampered() {
    let jwt = jwt_assertion(&account(), 1_700_000_000).unwrap();
    let (signing_input, signature) = jwt.rsplit_once('.').unwrap();
    let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
    assert_eq!(signature.len(), 256);
    let der = pkcs8_from_pem(KEY_PEM).unwrap();
    let key_pair = RsaKeyPair::from_pkcs8(&der).unwrap();
    let public = UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, key_pair.public().as_ref());
    assert!(public.verify(signing_input.as_bytes(), &signature).is_ok());
    let tampered = signing_input.replacen("eyJ", "eyK", 1);
    assert!(public.verify(tampered.as_bytes(), &signature).is_err());
}

#[test]
fn unusable_keys_are_errors_not_panics() {
    let mut sa = account();
    for key in [
        "",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----\n",
        "-----BEGIN PRIVATE KEY-----\nnot base64!\n-----END PRIVATE KEY-----\n",
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        "-----BEGIN PRIVATE KEY-----\nAAAA",
    ] {
        sa.private_key = key.to_string();
        assert!(jwt_assertion(&sa, 0).is_err(), "{key:?}");
    }
    let err = pkcs8_from_pem("-----BEGIN RSA PRIVATE KEY-----\n").unwrap_err();
    assert!(err.contains("PKCS#1"));
}

#[test]
fn token_request_is_the_jwt_bearer_form() {
    assert_eq!(
        token_request_body("aaa.bbb.c-c_c"),
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=aaa.bbb.c-c_c"
    );
    assert_eq!(form_encode("a+b/c=d é"), "a%2Bb%2Fc%3Dd%20%C3%A9");
}

#[test]
fn token_response_gives_token_and_lifetime() {
    let (token, expires_in) = parse_token_response(TOKEN.as_bytes()).unwrap();
    assert!(token.starts_with("ya29."));
    assert_eq!(expires_in, 3599);
    assert_eq!(
        parse_token_response(br#"{"access_token": "t"}"#).unwrap(),
        ("t".to_string(), 3600)
    );
}

#[test]
fn token_errors_are_described() {
    assert_eq!(
        parse_token_response(TOKEN_ERROR.as_bytes()).unwrap_err(),
        "token request refused: invalid_grant: Invalid JWT Signature."
    );
    for body in [
        &b"<html>"[..],
        b"{}",
        br#"{"access_token": ""}"#,
        b"",
        b"\xff",
    ] {
        assert!(parse_token_response(body).is_err());
    }
}

#[test]
fn token_cells_are_kept_per_deployment_state_across_snapshots() {
    let states: dashmap::DashMap<String, std::sync::Arc<crate::deployment::DeploymentState>> =
        Default::default();
    let cell_owner = states.entry("vertex-a".into()).or_default().clone();
    cell_owner.access_token.set(Some("token-1".into()));
    // A reload looks the same id up again and finds the same token.
    let again = states.entry("vertex-a".into()).or_default().clone();
    assert_eq!(
        again.access_token.get().as_deref().map(String::as_str),
        Some("token-1")
    );
    assert!(states
        .entry("vertex-b".into())
        .or_default()
        .access_token
        .get()
        .is_none());
}
