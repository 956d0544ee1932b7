use super::*;
use std::collections::HashMap;

fn resolve_with(
    params: &[(&str, &str)],
    env: &[(&str, &str)],
    files: &[(&str, &str)],
) -> Result<Chain, String> {
    let map = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let (params, env, files) = (map(params), map(env), map(files));
    let lookup = Lookup {
        param: &|k| params.get(k).cloned(),
        env: &|k| env.get(k).cloned(),
        read_file: &|k| files.get(k).cloned(),
    };
    resolve(&lookup, "eu-west-1")
}

fn keys_of(chain: &Chain) -> (&str, KeysFrom) {
    match &chain.base {
        Base::Keys { keys, from } => (keys.access_key_id.as_str(), *from),
        other => panic!("not keys: {other:?}"),
    }
}

const HOME: (&str, &str) = ("HOME", "/home/u");
const CREDS: &str = "[default]\naws_access_key_id=AKIAFILE\naws_secret_access_key=s\n[dev]\naws_access_key_id=AKIADEV\naws_secret_access_key=s\n";

#[test]
fn precedence_params_then_environment_then_profile() {
    let params = [
        ("aws_access_key_id", "AKIAPARAM"),
        ("aws_secret_access_key", "s"),
    ];
    let env = [
        HOME,
        ("AWS_ACCESS_KEY_ID", "AKIAENV"),
        ("AWS_SECRET_ACCESS_KEY", "s"),
    ];
    let files = [("/home/u/.aws/credentials", CREDS)];
    let c = resolve_with(&params, &env, &files).unwrap();
    assert_eq!(keys_of(&c), ("AKIAPARAM", KeysFrom::Params));
    assert!(c.is_static());
    let c = resolve_with(&[], &env, &files).unwrap();
    assert_eq!(keys_of(&c), ("AKIAENV", KeysFrom::Environment));
    let c = resolve_with(&[], &[HOME], &files).unwrap();
    assert_eq!(keys_of(&c), ("AKIAFILE", KeysFrom::Profile));
    assert!(!c.is_static(), "profile keys go through the refresher");
    let c = resolve_with(&[("aws_profile_name", "dev")], &[HOME], &files).unwrap();
    assert_eq!(keys_of(&c).0, "AKIADEV");
    let c = resolve_with(&[], &[HOME, ("AWS_PROFILE", "dev")], &files).unwrap();
    assert_eq!(keys_of(&c).0, "AKIADEV");
    let moved = [("AWS_SHARED_CREDENTIALS_FILE", "/etc/creds")];
    let c = resolve_with(&[], &moved, &[("/etc/creds", CREDS)]).unwrap();
    assert_eq!(keys_of(&c).0, "AKIAFILE");
    let e = resolve_with(&[("aws_profile_name", "prod")], &[HOME], &files).unwrap_err();
    assert!(e.contains("prod"), "{e}");
    assert!(resolve_with(&[("aws_access_key_id", "A")], &[], &[]).is_err());
}

#[test]
fn then_web_identity_then_container_then_imds() {
    let web = [
        ("AWS_WEB_IDENTITY_TOKEN_FILE", "/var/token"),
        ("AWS_ROLE_ARN", "arn:aws:iam::1:role/r"),
        ("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:9/sts"),
    ];
    let c = resolve_with(&[], &web, &[]).unwrap();
    assert_eq!(
        c.base,
        Base::WebIdentity {
            token_file: "/var/token".into(),
            role_arn: "arn:aws:iam::1:role/r".into(),
            session_name: "tollgate".into(),
            sts_url: "http://127.0.0.1:9/sts".into(),
        }
    );
    let ecs = [(
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "/v2/credentials/x",
    )];
    let c = resolve_with(&[], &ecs, &[]).unwrap();
    assert!(
        matches!(&c.base, Base::Container { url, .. } if url == "http://169.254.170.2/v2/credentials/x")
    );
    let full = [
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:9/c"),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "tok"),
    ];
    let c = resolve_with(&[], &full, &[]).unwrap();
    assert!(
        matches!(&c.base, Base::Container { url, authorization: Some(a), .. } if url == "http://127.0.0.1:9/c" && a == "tok")
    );
    let c = resolve_with(
        &[],
        &[("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:9/")],
        &[],
    )
    .unwrap();
    assert_eq!(
        c.base,
        Base::Imds {
            endpoint: "http://127.0.0.1:9".into()
        }
    );
    // The link-local default only when nothing overrides it (never reached in tests).
    let c = resolve_with(&[], &[], &[]).unwrap();
    assert_eq!(
        c.base,
        Base::Imds {
            endpoint: "http://169.254.169.254".into()
        }
    );
    assert!(resolve_with(&[], &[("AWS_EC2_METADATA_DISABLED", "true")], &[]).is_err());
}

#[test]
fn a_role_is_assumed_over_any_base() {
    let params = [
        ("aws_access_key_id", "AKIAPARAM"),
        ("aws_secret_access_key", "s"),
        ("aws_role_name", "arn:aws:iam::1:role/r"),
        ("aws_session_name", "sess"),
    ];
    let c = resolve_with(&params, &[], &[]).unwrap();
    assert!(!c.is_static());
    assert_eq!(
        c.assume,
        Some(AssumeRole {
            role_arn: "arn:aws:iam::1:role/r".into(),
            session_name: "sess".into(),
            sts_url: "https://sts.eu-west-1.amazonaws.com".into(),
        })
    );
    assert!(c
        .cache_key("eu-west-1")
        .contains("assume:arn:aws:iam::1:role/r:sess"));
}
