//! The `Gemini` and `VertexAi` providers end to end, without the network: the requests they
//! build from a parsed client body, and what they make of recorded answers.

use super::vertex::{default_api_base, ANTHROPIC_VERSION};
use super::*;
use crate::canonical::RequestBody;
use crate::config;
use bytes::BytesMut;
use serde_json::json;

const TEXT: &str = include_str!("../../../tests/fixtures/gemini/generate_text.json");
const BATCH: &str = include_str!("../../../tests/fixtures/gemini/batch_embed_contents.json");
const PREDICT: &str = include_str!("../../../tests/fixtures/gemini/vertex_predict_embeddings.json");
const INVALID: &str = include_str!("../../../tests/fixtures/gemini/error_invalid_argument.json");
const STREAM: &str = include_str!("../../../tests/fixtures/gemini/stream_text.sse");
const CLAUDE: &str = include_str!("../../../tests/fixtures/anthropic/message_text.json");
const CLAUDE_STREAM: &str = include_str!("../../../tests/fixtures/anthropic/stream_text.sse");
const OVERLOADED: &str = include_str!("../../../tests/fixtures/anthropic/error_overloaded.json");

/// One deployment from a YAML `litellm_params` body, as config loading builds it; `id` keeps
/// each test's token cell its own.
fn deployment(params: &str, id: &str) -> Deployment {
    let yaml = format!(
        "model_list:\n  - model_name: g\n    litellm_params: {{{params}}}\n    model_info: {{id: {id}}}\n"
    );
    let loaded = config::load_str(&yaml).unwrap_or_else(|e| panic!("{e}"));
    crate::compile::deployment(&loaded.config.model_list[0], Default::default()).unwrap()
}

fn body(json: Value, op: Operation) -> RequestBody {
    RequestBody::parse(Bytes::from(json.to_string()), op).unwrap()
}

fn chat(stream: bool) -> RequestBody {
    body(
        json!({"model": "g", "stream": stream, "messages": [{"role": "user", "content": "Hi"}]}),
        Operation::Chat,
    )
}

fn call<'a>(op: Operation, body: &'a RequestBody, d: &'a Deployment, model: &'a str) -> Call<'a> {
    Call {
        op,
        body,
        deployment: d,
        upstream_model: model,
        alias: "my-alias",
        group: "g",
        drop_params: false,
        native: false,
    }
}

fn json_of(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

fn gemini() -> Deployment {
    deployment(
        "model: gemini/gemini-2.0-flash, api_key: k-123, api_base: \"https://generativelanguage.googleapis.com/v1beta\"",
        "gemini-test",
    )
}

#[test]
fn gemini_sends_the_key_in_x_goog_api_key() {
    let headers = Gemini.static_headers(&gemini()).unwrap();
    assert!(headers
        .iter()
        .any(|(n, v)| n == "x-goog-api-key" && v == "k-123"));
    assert!(headers
        .iter()
        .any(|(n, v)| n == "content-type" && v == "application/json"));
    assert!(!headers.iter().any(|(n, _)| n == "authorization"));
}

#[test]
fn gemini_chat_goes_to_generate_content_or_its_sse_stream() {
    let d = gemini();
    let plain = chat(false);
    let built = Gemini
        .build_request(&call(Operation::Chat, &plain, &d, "gemini-2.0-flash"))
        .unwrap();
    assert_eq!(
        built.path_and_query,
        "/v1beta/models/gemini-2.0-flash:generateContent"
    );
    assert_eq!(
        json_of(&built.body),
        json!({"contents": [{"role": "user", "parts": [{"text": "Hi"}]}]})
    );
    let streamed = chat(true);
    let built = Gemini
        .build_request(&call(Operation::Chat, &streamed, &d, "gemini-2.0-flash"))
        .unwrap();
    assert_eq!(
        built.path_and_query,
        "/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse"
    );
    let tuned = Gemini
        .build_request(&call(Operation::Chat, &plain, &d, "tunedModels/my-model"))
        .unwrap();
    assert_eq!(
        tuned.path_and_query,
        "/v1beta/tunedModels/my-model:generateContent"
    );
}

#[test]
fn gemini_refuses_unsupported_params_unless_dropping() {
    let d = gemini();
    let b = body(
        json!({"model": "g", "messages": [{"role": "user", "content": "Hi"}], "logit_bias": {"1": 1}}),
        Operation::Chat,
    );
    let e = Gemini
        .build_request(&call(Operation::Chat, &b, &d, "gemini-2.0-flash"))
        .err()
        .unwrap();
    assert!(e
        .message
        .contains("gemini does not support parameters: ['logit_bias']"));
    let mut dropping = call(Operation::Chat, &b, &d, "gemini-2.0-flash");
    dropping.drop_params = true;
    assert!(Gemini.build_request(&dropping).is_ok());
}

#[test]
fn gemini_embeddings_use_batch_embed_contents() {
    let d = gemini();
    let b = body(
        json!({"model": "g", "input": ["a", "b"], "dimensions": 8}),
        Operation::Embedding,
    );
    let c = call(Operation::Embedding, &b, &d, "text-embedding-004");
    let built = Gemini.build_request(&c).unwrap();
    assert_eq!(
        built.path_and_query,
        "/v1beta/models/text-embedding-004:batchEmbedContents"
    );
    assert_eq!(
        json_of(&built.body)["requests"][1]["outputDimensionality"],
        8
    );
    let out = json_of(&Gemini.translate_response(&c, Bytes::from(BATCH)).unwrap());
    assert_eq!(out["model"], "my-alias");
    assert_eq!(out["data"].as_array().unwrap().len(), 2);
}

#[test]
fn completions_are_refused() {
    let d = gemini();
    let b = body(json!({"model": "g", "prompt": "x"}), Operation::Completion);
    let e = Gemini
        .build_request(&call(Operation::Completion, &b, &d, "m"))
        .err()
        .unwrap();
    assert_eq!(e.status, 400);
}

#[test]
fn gemini_answers_and_streams_come_back_in_openai_shape() {
    let d = gemini();
    let b = chat(false);
    let c = call(Operation::Chat, &b, &d, "gemini-2.5-flash");
    let out = json_of(&Gemini.translate_response(&c, Bytes::from(TEXT)).unwrap());
    assert_eq!(out["model"], "my-alias");
    assert_eq!(out["choices"][0]["finish_reason"], "stop");
    let e = Gemini
        .translate_response(&c, Bytes::from_static(b"<html>"))
        .unwrap_err();
    assert_eq!(e.status, 502);

    let mut translator = Gemini.stream_translator(&c);
    let mut out = BytesMut::new();
    translator.feed(STREAM.as_bytes(), &mut out);
    translator.finish(&mut out);
    let text = String::from_utf8(out.to_vec()).unwrap();
    assert!(text.contains("\"model\":\"my-alias\""));
    assert!(text.ends_with("data: [DONE]\n\n"));
}

#[test]
fn gemini_errors_read_as_litellm_words_them() {
    let d = gemini();
    let b = chat(false);
    let e = Gemini.translate_error(&call(Operation::Chat, &b, &d, "m"), 400, INVALID.as_bytes());
    assert_eq!(e.status, 400);
    assert_eq!(e.kind, "invalid_request_error");
    assert_eq!(
        e.message,
        "litellm.BadRequestError: BadRequestError: GeminiException - API key not valid. Please pass a valid API key.. \
         Received Model Group=g\nAvailable Model Group Fallbacks=None"
    );
}

fn vertex(id: &str, extra: &str) -> Deployment {
    let base = default_api_base("europe-west4");
    deployment(
        &format!("model: vertex_ai/gemini-2.0-flash, api_base: \"{base}\"{extra}"),
        id,
    )
}

#[test]
fn vertex_default_bases_are_regional_or_global() {
    assert_eq!(
        default_api_base("us-central1"),
        "https://us-central1-aiplatform.googleapis.com"
    );
    assert_eq!(
        default_api_base("global"),
        "https://aiplatform.googleapis.com"
    );
}

#[test]
fn vertex_waits_for_credentials() {
    let d = vertex("vertex-no-token", ", vertex_project: p");
    let b = chat(false);
    let e = VertexAi
        .build_request(&call(Operation::Chat, &b, &d, "gemini-2.0-flash"))
        .err()
        .unwrap();
    assert_eq!(e.status, 503);
    assert!(e.message.starts_with("vertex_ai credentials not ready"));
}

#[test]
fn vertex_gemini_goes_to_the_project_and_location_with_a_bearer_token() {
    let d = vertex(
        "vertex-gemini",
        ", vertex_project: my-proj, vertex_location: europe-west4",
    );
    d.state.access_token.set(Some("ya29.token".into()));
    let b = chat(false);
    let built = VertexAi
        .build_request(&call(Operation::Chat, &b, &d, "gemini-2.0-flash"))
        .unwrap();
    assert_eq!(
        built.path_and_query,
        "/v1/projects/my-proj/locations/europe-west4/publishers/google/models/gemini-2.0-flash:generateContent"
    );
    assert!(built
        .headers
        .iter()
        .any(|(n, v)| n == "authorization" && v == "Bearer ya29.token"));
    assert_eq!(json_of(&built.body)["contents"][0]["role"], "user");
    let s = chat(true);
    let built = VertexAi
        .build_request(&call(Operation::Chat, &s, &d, "gemini-2.0-flash"))
        .unwrap();
    assert!(built
        .path_and_query
        .ends_with(":streamGenerateContent?alt=sse"));
}

#[test]
fn vertex_location_defaults_and_project_comes_from_inline_credentials() {
    // Config loading reads the key file and takes `vertex_project` from it.
    let d = vertex(
        "vertex-inline-creds",
        ", vertex_credentials: tests/fixtures/gemini/test_only_service_account.json",
    );
    d.state.access_token.set(Some("t".into()));
    let b = chat(false);
    let built = VertexAi
        .build_request(&call(Operation::Chat, &b, &d, "gemini-2.0-flash"))
        .unwrap();
    assert!(built
        .path_and_query
        .starts_with("/v1/projects/tollgate-test-project/locations/us-central1/"));

    let lost = vertex("vertex-no-project", "");
    lost.state.access_token.set(Some("t".into()));
    let e = VertexAi
        .build_request(&call(Operation::Chat, &b, &lost, "gemini-2.0-flash"))
        .err()
        .unwrap();
    assert_eq!(e.status, 500);
    assert!(e.message.contains("vertex_project"));
}

#[test]
fn vertex_claude_uses_raw_predict_with_the_anthropic_body() {
    let d = vertex(
        "vertex-claude",
        ", vertex_project: p, vertex_location: us-east5",
    );
    d.state.access_token.set(Some("t".into()));
    let model = "claude-sonnet-4-5@20250929";
    let b = chat(false);
    let built = VertexAi
        .build_request(&call(Operation::Chat, &b, &d, model))
        .unwrap();
    assert_eq!(
        built.path_and_query,
        "/v1/projects/p/locations/us-east5/publishers/anthropic/models/claude-sonnet-4-5@20250929:rawPredict"
    );
    let sent = json_of(&built.body);
    assert_eq!(sent["anthropic_version"], ANTHROPIC_VERSION);
    assert!(sent.get("model").is_none());
    assert_eq!(sent["max_tokens"], 4096);
    assert_eq!(sent["messages"][0]["content"][0]["text"], "Hi");

    let s = chat(true);
    let built = VertexAi
        .build_request(&call(Operation::Chat, &s, &d, model))
        .unwrap();
    assert!(built.path_and_query.ends_with(":streamRawPredict"));
    assert_eq!(json_of(&built.body)["stream"], true);

    let c = call(Operation::Chat, &b, &d, model);
    let out = json_of(
        &VertexAi
            .translate_response(&c, Bytes::from(CLAUDE))
            .unwrap(),
    );
    assert_eq!(
        out["choices"][0]["message"]["content"],
        "Hi! My name is Claude."
    );
    let mut translator = VertexAi.stream_translator(&c);
    let mut out = BytesMut::new();
    translator.feed(CLAUDE_STREAM.as_bytes(), &mut out);
    translator.finish(&mut out);
    let text = String::from_utf8(out.to_vec()).unwrap();
    assert!(text.contains("\"content\":\"Hello\""));
    assert_eq!(text.matches("[DONE]").count(), 1);

    let e = VertexAi.translate_error(&c, 529, OVERLOADED.as_bytes());
    assert_eq!(e.status, 500);
    assert!(e.message.starts_with(
        "litellm.InternalServerError: InternalServerError: VertexAIException - Overloaded."
    ));
}

#[test]
fn vertex_embeddings_use_predict() {
    let d = vertex("vertex-embed", ", vertex_project: p");
    d.state.access_token.set(Some("t".into()));
    let b = body(
        json!({"model": "g", "input": "hello", "dimensions": 256}),
        Operation::Embedding,
    );
    let c = call(Operation::Embedding, &b, &d, "text-embedding-005");
    let built = VertexAi.build_request(&c).unwrap();
    assert_eq!(
        built.path_and_query,
        "/v1/projects/p/locations/us-central1/publishers/google/models/text-embedding-005:predict"
    );
    assert_eq!(
        json_of(&built.body),
        json!({"instances": [{"content": "hello"}], "parameters": {"outputDimensionality": 256}})
    );
    let out = json_of(
        &VertexAi
            .translate_response(&c, Bytes::from(PREDICT))
            .unwrap(),
    );
    assert_eq!(out["usage"]["prompt_tokens"], 13);
}

#[test]
fn vertex_google_errors_name_vertex() {
    let d = vertex("vertex-errors", ", vertex_project: p");
    let b = chat(false);
    let body = br#"{"error":{"code":403,"message":"Permission denied on resource project p.","status":"PERMISSION_DENIED"}}"#;
    let e = VertexAi.translate_error(
        &call(Operation::Chat, &b, &d, "gemini-2.0-flash"),
        403,
        body,
    );
    assert_eq!((e.status, e.kind), (403, "permission_denied_error"));
    assert!(e.message.starts_with(
        "litellm.PermissionDeniedError: PermissionDeniedError: VertexAIException - Permission denied on resource project p."
    ));
}
