//! Each provider's non-stream answer and error translators on any body: no panic; a translated
//! answer is JSON; an error keeps an HTTP status.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use std::sync::{Arc, OnceLock};
use tollgate::canonical::request::Operation;
use tollgate::canonical::RequestBody;
use tollgate::providers::{for_wire, Call};
use tollgate::router::{Deployment, DeploymentState};

const SERVICE_ACCOUNT: &str =
    include_str!("../../tests/fixtures/gemini/test_only_service_account.json");

/// One deployment per translator, and the operation it is called for.
fn deployments() -> &'static [(Deployment, Operation)] {
    static DEPLOYMENTS: OnceLock<Vec<(Deployment, Operation)>> = OnceLock::new();
    DEPLOYMENTS.get_or_init(|| {
        let aws = "aws_access_key_id: AKID\n      aws_secret_access_key: s\n      aws_region_name: us-east-1";
        let credentials = serde_json::to_string(SERVICE_ACCOUNT).unwrap();
        let list: Vec<(&str, String, Operation)> = vec![
            ("openai/gpt-4o", "api_key: k".into(), Operation::Chat),
            ("azure/gpt-4o", "api_key: k\n      api_base: https://x.openai.azure.com\n      api_version: 2024-10-21".into(), Operation::Chat),
            ("text-completion-openai/gpt-3.5-turbo-instruct", "api_key: k".into(), Operation::Chat),
            ("anthropic/claude-sonnet-4-5", "api_key: k".into(), Operation::Chat),
            ("gemini/gemini-2.0-flash", "api_key: k".into(), Operation::Chat),
            ("gemini/text-embedding-004", "api_key: k".into(), Operation::Embedding),
            ("vertex_ai/gemini-2.0-flash", format!("vertex_credentials: {credentials}"), Operation::Chat),
            ("vertex_ai/claude-sonnet-4-5@20250929", format!("vertex_credentials: {credentials}"), Operation::Chat),
            ("vertex_ai/text-embedding-004", format!("vertex_credentials: {credentials}"), Operation::Embedding),
            ("bedrock/anthropic.claude-3-haiku-20240307-v1:0", aws.into(), Operation::Chat),
            ("bedrock/amazon.titan-embed-text-v2:0", aws.into(), Operation::Embedding),
            ("bedrock/cohere.embed-english-v3", aws.into(), Operation::Embedding),
            ("sagemaker/tgi-endpoint", aws.into(), Operation::Chat),
            ("sagemaker_chat/chat-endpoint", aws.into(), Operation::Chat),
            ("cohere/command-r", "api_key: k".into(), Operation::Chat),
            ("cohere/embed-english-v3.0", "api_key: k".into(), Operation::Embedding),
        ];
        let mut yaml = String::from("model_list:\n");
        for (model, params, _) in &list {
            yaml.push_str(&format!(
                "  - model_name: g\n    litellm_params:\n      model: {model}\n      {params}\n"
            ));
        }
        let loaded = tollgate::config::load_str(&yaml).unwrap_or_else(|e| panic!("{}", e.0.join("\n")));
        loaded
            .config
            .model_list
            .iter()
            .zip(&list)
            .map(|(c, (_, _, op))| {
                let d = tollgate::compile::deployment(c, Arc::new(DeploymentState::default()))
                    .unwrap_or_else(|e| panic!("{}: {e}", c.model));
                (d, *op)
            })
            .collect()
    })
}

fn body(op: Operation) -> RequestBody {
    let json: &[u8] = match op {
        Operation::Chat => {
            br#"{"model":"g","messages":[{"role":"user","content":"hi"}],"max_tokens":5}"#
        }
        Operation::Completion => br#"{"model":"g","prompt":"hi"}"#,
        Operation::Embedding => br#"{"model":"g","input":["a","b"]}"#,
    };
    RequestBody::parse(Bytes::from_static(json), op).unwrap()
}

fuzz_target!(|data: &[u8]| {
    let [selector, status, answer @ ..] = data else {
        return;
    };
    let all = deployments();
    let (deployment, op) = &all[usize::from(*selector) % all.len()];
    let body = body(*op);
    let call = Call {
        op: *op,
        body: &body,
        deployment,
        upstream_model: &deployment.model,
        alias: "alias",
        group: "g",
        drop_params: false,
        native: false,
    };
    let provider = for_wire(deployment.provider.wire);
    if let Ok(out) = provider.translate_response(&call, Bytes::copy_from_slice(answer)) {
        // OpenAI's format passes answers through untouched when they are not JSON.
        if serde_json::from_slice::<Value>(answer).is_ok() {
            serde_json::from_slice::<Value>(&out).unwrap_or_else(|e| {
                panic!(
                    "{}: not JSON ({e}): {:?}",
                    deployment.model,
                    String::from_utf8_lossy(&out)
                )
            });
        }
    }
    let status = 400 + u16::from(*status) % 200;
    let error = provider.translate_error(&call, status, answer);
    assert!(
        (100..=599).contains(&error.status),
        "status {}",
        error.status
    );
    let _ = error.to_sse_event();
});
