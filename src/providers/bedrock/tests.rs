//! The providers end to end, without network: requests signed so that AWS's own check (our
//! `sigv4::verify`) accepts them, answers and errors translated.

use super::eventstream::{encode_message, HeaderValue as EventHeader};
use super::sigv4::{verify, AwsCredentials};
use super::*;
use crate::canonical::RequestBody;
use crate::config::{DeploymentConfig, ModelInfo};
use crate::deployment::DeploymentState;
use crate::providers::registry;
use bytes::BytesMut;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;

pub(super) const CLAUDE: &str = "anthropic.claude-3-5-sonnet-20240620-v1:0";

pub(super) fn deployment(
    provider: &str,
    model: &str,
    api_base: Option<&str>,
    params: &[(&str, &str)],
) -> Deployment {
    from_config(&config(provider, model, api_base, params))
}

fn from_config(config: &DeploymentConfig) -> Deployment {
    crate::compile::deployment(config, Arc::new(DeploymentState::default())).unwrap()
}

fn config(
    provider: &str,
    model: &str,
    api_base: Option<&str>,
    params: &[(&str, &str)],
) -> DeploymentConfig {
    DeploymentConfig {
        model_name: "group".into(),
        provider: registry::lookup(provider).unwrap(),
        model: model.into(),
        api_base: api_base.map(str::to_string),
        api_key: None,
        api_version: None,
        timeout: None,
        stream_timeout: None,
        max_retries: None,
        rpm: None,
        tpm: None,
        weight: None,
        order: None,
        mock_response: None,
        drop_params: None,
        organization: None,
        extra_headers: vec![("x-team".into(), "blue".into())],
        extra_params: params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<HashMap<_, _>>(),
        model_info: ModelInfo::default(),
        id: "dep-1".into(),
        problem: None,
    }
}

pub(super) const KEYS: &[(&str, &str)] = &[
    ("aws_access_key_id", "AKIDTEST"),
    ("aws_secret_access_key", "secret/key"),
    ("aws_session_token", "session-token"),
    ("aws_region_name", "us-west-2"),
];

pub(super) fn creds(region: &str) -> AwsCredentials {
    AwsCredentials {
        access_key_id: "AKIDTEST".into(),
        secret_access_key: "secret/key".into(),
        session_token: Some("session-token".into()),
        region: region.into(),
    }
}

pub(super) fn body(op: Operation, json: serde_json::Value) -> RequestBody {
    RequestBody::parse(Bytes::from(json.to_string()), op).unwrap()
}

pub(super) fn call<'a>(
    op: Operation,
    body: &'a RequestBody,
    d: &'a Deployment,
    model: &'a str,
) -> Call<'a> {
    Call {
        op,
        body,
        deployment: d,
        upstream_model: model,
        alias: "my-model",
        group: "my-group",
        drop_params: false,
        native: false,
    }
}

/// The request as it goes on the wire, `Host` included, checked as AWS would.
pub(super) fn assert_signed(
    req: &ProviderRequest,
    host: &str,
    creds: &AwsCredentials,
    service: &str,
) {
    let mut headers: Vec<(String, String)> = req
        .headers
        .iter()
        .map(|(n, v)| (n.as_str().to_string(), v.to_str().unwrap().to_string()))
        .collect();
    headers.push(("host".into(), host.into()));
    let checked = verify(
        "POST",
        &req.path_and_query,
        &headers,
        &req.body,
        creds,
        service,
    );
    assert_eq!(checked, Ok(()));
}

fn header<'a>(req: &'a ProviderRequest, name: &str) -> Option<&'a str> {
    req.headers
        .iter()
        .find(|(n, _)| n.as_str() == name)
        .and_then(|(_, v)| v.to_str().ok())
}

fn chat(stream: bool) -> RequestBody {
    body(
        Operation::Chat,
        json!({"model": "my-model", "stream": stream, "max_tokens": 10,
               "messages": [{"role": "user", "content": "Hi"}]}),
    )
}

#[test]
fn converse_request_is_signed_for_the_default_regional_host() {
    let d = deployment("bedrock", CLAUDE, None, KEYS);
    let b = chat(false);
    let req = Bedrock
        .build_request(&call(Operation::Chat, &b, &d, CLAUDE))
        .unwrap();
    assert_eq!(
        req.path_and_query,
        "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse"
    );
    let sent: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(sent["inferenceConfig"], json!({"maxTokens": 10}));
    assert!(sent.get("model").is_none());
    assert_eq!(header(&req, "content-type"), Some("application/json"));
    assert_eq!(header(&req, "x-team"), Some("blue"));
    assert_eq!(header(&req, "x-amz-security-token"), Some("session-token"));
    let auth = header(&req, "authorization").unwrap();
    assert!(auth.contains("/us-west-2/bedrock/aws4_request"), "{auth}");
    assert!(auth
        .contains("content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token;x-team"));
    assert_signed(
        &req,
        "bedrock-runtime.us-west-2.amazonaws.com",
        &creds("us-west-2"),
        "bedrock",
    );
}

#[test]
fn streams_go_to_converse_stream_under_a_configured_api_base() {
    let params: Vec<(&str, &str)> = KEYS
        .iter()
        .copied()
        .filter(|(k, _)| *k != "aws_region_name")
        .collect();
    let d = deployment(
        "bedrock",
        CLAUDE,
        Some("http://127.0.0.1:9123/bedrock-proxy"),
        &params,
    );
    let b = chat(true);
    let req = Bedrock
        .build_request(&call(
            Operation::Chat,
            &b,
            &d,
            &format!("converse/{CLAUDE}"),
        ))
        .unwrap();
    assert_eq!(
        req.path_and_query,
        "/bedrock-proxy/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse-stream"
    );
    // No region anywhere for this host: the environment's or us-east-1.
    let region = credentials::region(&d, CLAUDE, Some("127.0.0.1:9123"));
    assert_signed(&req, "127.0.0.1:9123", &creds(&region), "bedrock");
}

#[test]
fn the_region_follows_an_aws_api_base() {
    let params: Vec<(&str, &str)> = KEYS
        .iter()
        .copied()
        .filter(|(k, _)| *k != "aws_region_name")
        .collect();
    let d = deployment(
        "bedrock",
        CLAUDE,
        Some("https://bedrock-runtime.eu-west-1.amazonaws.com"),
        &params,
    );
    let b = chat(false);
    let req = Bedrock
        .build_request(&call(Operation::Chat, &b, &d, CLAUDE))
        .unwrap();
    assert_signed(
        &req,
        "bedrock-runtime.eu-west-1.amazonaws.com",
        &creds("eu-west-1"),
        "bedrock",
    );
}

#[test]
fn bedrock_api_keys_replace_the_signature() {
    let mut c = config("bedrock", CLAUDE, None, &[("aws_region_name", "us-east-2")]);
    c.api_key = Some("bedrock-api-key-abc".into());
    let d = from_config(&c);
    let b = chat(false);
    let req = Bedrock
        .build_request(&call(Operation::Chat, &b, &d, CLAUDE))
        .unwrap();
    assert_eq!(
        header(&req, "authorization"),
        Some("Bearer bedrock-api-key-abc")
    );
    assert_eq!(header(&req, "x-amz-date"), None);
    // SageMaker has no API keys: it signs.
    let mut c = config("sagemaker", "ep", None, KEYS);
    c.api_key = Some("ignored".into());
    let d = from_config(&c);
    let req = Sagemaker
        .build_request(&call(Operation::Chat, &b, &d, "ep"))
        .unwrap();
    assert!(header(&req, "authorization")
        .unwrap()
        .starts_with("AWS4-HMAC-SHA256 "));
}

#[test]
fn half_configured_keys_are_an_error() {
    let d = deployment("bedrock", CLAUDE, None, &[("aws_access_key_id", "AKID")]);
    let b = chat(false);
    let err = Bedrock
        .build_request(&call(Operation::Chat, &b, &d, CLAUDE))
        .err()
        .unwrap();
    assert!(err.message.contains("only one of"), "{}", err.message);
}

#[test]
fn embeddings_invoke_titan_one_input_and_cohere_many() {
    let titan = "amazon.titan-embed-text-v2:0";
    let d = deployment("bedrock", titan, None, KEYS);
    let one = body(
        Operation::Embedding,
        json!({"model": "e", "input": "hello", "dimensions": 256}),
    );
    let req = Bedrock
        .build_request(&call(Operation::Embedding, &one, &d, titan))
        .unwrap();
    assert_eq!(
        req.path_and_query,
        "/model/amazon.titan-embed-text-v2%3A0/invoke"
    );
    assert_eq!(header(&req, "accept"), Some("application/json"));
    let sent: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(sent, json!({"inputText": "hello", "dimensions": 256}));
    assert_signed(
        &req,
        "bedrock-runtime.us-west-2.amazonaws.com",
        &creds("us-west-2"),
        "bedrock",
    );

    let two = body(
        Operation::Embedding,
        json!({"model": "e", "input": ["a", "b"]}),
    );
    // Titan takes one input per call: two inputs are split into two whole requests, and the
    // two answers combine into one list in input order.
    let c = call(Operation::Embedding, &two, &d, titan);
    let parts = Bedrock.split(&c).unwrap().expect("split into parts");
    let texts: Vec<_> = parts
        .iter()
        .map(|p| {
            let req = Bedrock
                .build_request(&call(Operation::Embedding, p, &d, titan))
                .unwrap();
            serde_json::from_slice::<serde_json::Value>(&req.body).unwrap()["inputText"].clone()
        })
        .collect();
    assert_eq!(texts, [json!("a"), json!("b")]);
    let answer =
        |v: f64| Bytes::from(json!({"embedding": [v, v], "inputTextTokenCount": 2}).to_string());
    let combined: serde_json::Value =
        serde_json::from_slice(&Bedrock.combine(&c, vec![answer(0.1), answer(0.2)]).unwrap())
            .unwrap();
    assert_eq!(combined["data"][1]["index"], 1);
    assert_eq!(combined["data"][1]["embedding"], json!([0.2, 0.2]));
    assert_eq!(combined["usage"]["prompt_tokens"], 4);
    assert!(Bedrock
        .split(&call(Operation::Embedding, &one, &d, titan))
        .unwrap()
        .is_none());

    let cohere = "cohere.embed-english-v3";
    let d = deployment("bedrock", cohere, None, KEYS);
    let req = Bedrock
        .build_request(&call(Operation::Embedding, &two, &d, cohere))
        .unwrap();
    let sent: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(
        sent,
        json!({"texts": ["a", "b"], "input_type": "search_document"})
    );
}

#[test]
fn answers_translate_by_operation() {
    let d = deployment("bedrock", CLAUDE, None, KEYS);
    let b = chat(false);
    let text = include_bytes!("../../../tests/fixtures/bedrock/converse_text.json");
    let out = Bedrock
        .translate_response(
            &call(Operation::Chat, &b, &d, CLAUDE),
            Bytes::from_static(text),
        )
        .unwrap();
    let out: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(out["model"], "my-model");
    assert_eq!(out["object"], "chat.completion");

    let titan = "amazon.titan-embed-text-v1";
    let e = body(
        Operation::Embedding,
        json!({"model": "e", "input": "x", "encoding_format": "base64"}),
    );
    let answer = include_bytes!("../../../tests/fixtures/bedrock/titan_embedding.json");
    let out = Bedrock
        .translate_response(
            &call(Operation::Embedding, &e, &d, titan),
            Bytes::from_static(answer),
        )
        .unwrap();
    let out: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert!(out["data"][0]["embedding"].is_string());
    assert_eq!(out["usage"]["prompt_tokens"], 5);

    let err = Bedrock
        .translate_response(
            &call(Operation::Chat, &b, &d, CLAUDE),
            Bytes::from_static(b"<html>"),
        )
        .err()
        .unwrap();
    assert_eq!(err.status, 502);
}

#[test]
fn errors_read_like_litellm() {
    let d = deployment("bedrock", CLAUDE, None, KEYS);
    let b = chat(false);
    let throttled = include_bytes!("../../../tests/fixtures/bedrock/error_throttling.json");
    let err = Bedrock.translate_error(&call(Operation::Chat, &b, &d, CLAUDE), 429, throttled);
    assert_eq!(err.status, 429);
    assert_eq!(err.kind, "rate_limit_error");
    assert_eq!(
        err.message,
        "litellm.RateLimitError: RateLimitError: BedrockException - Too many requests, please wait before trying again.. Received Model Group=my-group\nAvailable Model Group Fallbacks=None"
    );
}

#[test]
fn the_chat_stream_translator_reads_the_event_stream() {
    let d = deployment("bedrock", CLAUDE, None, KEYS);
    let b = chat(true);
    let mut translator = Bedrock.stream_translator(&call(Operation::Chat, &b, &d, CLAUDE));
    let frame = encode_message(
        &[
            (":message-type", EventHeader::String("event".into())),
            (
                ":event-type",
                EventHeader::String("contentBlockDelta".into()),
            ),
        ],
        br#"{"contentBlockIndex":0,"delta":{"text":"Hi"}}"#,
    );
    let mut out = BytesMut::new();
    translator.feed(&frame, &mut out);
    translator.finish(&mut out);
    let text = String::from_utf8(out.to_vec()).unwrap();
    assert!(text.contains(r#""content":"Hi""#), "{text}");
    assert!(text.ends_with("data: [DONE]\n\n"));
}

#[test]
fn completions_are_refused() {
    let d = deployment("bedrock", CLAUDE, None, KEYS);
    let b = body(Operation::Completion, json!({"model": "m", "prompt": "x"}));
    let err = Bedrock
        .build_request(&call(Operation::Completion, &b, &d, CLAUDE))
        .err()
        .unwrap();
    assert_eq!(err.status, 400);
}

#[test]
fn an_assumed_role_signs_with_the_refreshed_keys_only() {
    let params = [
        ("aws_access_key_id", "AKIDBASE"),
        ("aws_secret_access_key", "base-secret"),
        ("aws_role_name", "arn:aws:iam::1:role/r"),
    ];
    let d = deployment("bedrock", CLAUDE, None, &params);
    let e = credentials::credentials(&d, "us-east-1".into()).unwrap_err();
    assert!(e.to_string().contains("no AWS credentials yet"), "{e}");
    d.state
        .aws_keys
        .set(Some(crate::deployment::state::AwsKeys {
            access_key_id: "ASIAROLE".into(),
            secret_access_key: "role-secret".into(),
            session_token: Some("role-token".into()),
        }));
    let c = credentials::credentials(&d, "us-east-1".into()).unwrap();
    assert_eq!(c.access_key_id, "ASIAROLE");
    assert_eq!(c.session_token.as_deref(), Some("role-token"));
    // Without a role, the deployment's own keys win over anything refreshed.
    let own = deployment("bedrock", CLAUDE, None, &params[..2]);
    own.state
        .aws_keys
        .set(d.state.aws_keys.get().map(|k| (*k).clone()));
    assert_eq!(
        credentials::credentials(&own, "us-east-1".into())
            .unwrap()
            .access_key_id,
        "AKIDBASE"
    );
}
