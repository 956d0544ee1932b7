//! Whole answers: every provider's translated answer carries the provider's own token counts
//! (not zeros, not estimates), as `Provider::answer_usage` reads them back; where a provider
//! reports none, `answer_usage` says so (`None`) rather than passing an estimate off as real.

use crate::canonical::request::Operation;
use crate::canonical::{RequestBody, Usage};
use crate::config;
use crate::deployment::Deployment;
use crate::providers::{for_wire, Call, Wire};
use bytes::Bytes;
use serde_json::json;

macro_rules! fixture {
    ($path:literal) => {
        include_bytes!(concat!("../../../tests/fixtures/", $path)).as_slice()
    };
}

fn deployment(params: &str) -> Deployment {
    let yaml = format!(
        "model_list:\n  - model_name: g\n    litellm_params: {{{params}}}\n    model_info: {{id: d1}}\n"
    );
    let loaded = config::load_str(&yaml).unwrap_or_else(|e| panic!("{e}"));
    crate::compile::deployment(&loaded.config.model_list[0], Default::default()).unwrap()
}

const AWS: &str =
    "aws_access_key_id: AKIDTEST, aws_secret_access_key: s, aws_region_name: us-east-1";

fn request(op: Operation) -> RequestBody {
    let json = match op {
        Operation::Chat => json!({"model": "g", "messages": [{"role": "user", "content": "Hi"}]}),
        Operation::Completion => json!({"model": "g", "prompt": "Say this is a test"}),
        Operation::Embedding => json!({"model": "g", "input": ["hello world", "goodbye world"]}),
    };
    RequestBody::parse(Bytes::from(json.to_string()), op).unwrap()
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

/// The usage `answer_usage` reads from `answer` as the deployment's provider translates it.
fn usage_of(params: &str, model: &str, op: Operation, answer: &[u8]) -> Option<Usage> {
    let d = deployment(params);
    let body = request(op);
    let c = call(op, &body, &d, model);
    let provider = for_wire(d.provider.wire);
    let translated = provider
        .translate_response(&c, Bytes::copy_from_slice(answer))
        .unwrap();
    let read = provider.answer_usage(&c, &translated);
    // What the lead's default reading of the body gives agrees wherever the usage is real.
    if read.is_some() {
        assert_eq!(read, Usage::from_openai_body(&translated));
    }
    read
}

fn counts(prompt: u64, completion: u64, total: u64) -> Usage {
    Usage {
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: total,
        ..Usage::default()
    }
}

#[test]
fn openai_and_azure_answers_keep_their_usage_with_details() {
    let want = Usage {
        cached_prompt_tokens: 1024,
        ..counts(1117, 46, 1163)
    };
    let chat = fixture!("openai/chat_completion.json");
    let openai = "model: openai/gpt-4o, api_key: k";
    assert_eq!(
        usage_of(openai, "gpt-4o", Operation::Chat, chat),
        Some(want)
    );
    let azure = "model: azure/my-gpt, api_key: k, api_base: \"https://x.openai.azure.com\"";
    assert_eq!(usage_of(azure, "my-gpt", Operation::Chat, chat), Some(want));
    let embedding = fixture!("openai/embedding.json");
    let got = usage_of(
        openai,
        "text-embedding-3-small",
        Operation::Embedding,
        embedding,
    );
    assert_eq!(got, Some(counts(8, 0, 8)));
}

#[test]
fn legacy_completion_answers_keep_their_usage_as_chat_or_completion() {
    let params = "model: text-completion-openai/gpt-3.5-turbo-instruct, api_key: k";
    let answer = fixture!("openai/text_completion.json");
    for op in [Operation::Chat, Operation::Completion] {
        let got = usage_of(params, "gpt-3.5-turbo-instruct", op, answer);
        assert_eq!(got, Some(counts(5, 7, 12)), "{op:?}");
    }
}

#[test]
fn anthropic_answers_count_cache_reads_and_writes() {
    let want = Usage {
        cached_prompt_tokens: 2051,
        cache_creation_tokens: 2051,
        ..counts(2095 + 2051 + 2051, 503, 6700)
    };
    let params = "model: anthropic/claude-sonnet-4-5, api_key: k";
    let answer = fixture!("anthropic/message_text.json");
    let got = usage_of(params, "claude-sonnet-4-5", Operation::Chat, answer);
    assert_eq!(got, Some(want));
    let tool = fixture!("anthropic/message_tool_use.json");
    let got = usage_of(params, "claude-sonnet-4-5", Operation::Chat, tool);
    assert_eq!(
        got.map(|u| (u.prompt_tokens, u.completion_tokens)),
        Some((384, 95))
    );
}

#[test]
fn native_anthropic_answers_are_read_in_anthropics_format() {
    let d = deployment("model: anthropic/claude-sonnet-4-5, api_key: k");
    let body = request(Operation::Chat);
    let c = Call {
        native: true,
        ..call(Operation::Chat, &body, &d, "claude-sonnet-4-5")
    };
    let provider = for_wire(Wire::Anthropic);
    let answer = Bytes::from_static(fixture!("anthropic/message_text.json"));
    let translated = provider.translate_response(&c, answer.clone()).unwrap();
    assert_eq!(translated, answer);
    let got = provider.answer_usage(&c, &translated).unwrap();
    assert_eq!((got.prompt_tokens, got.completion_tokens), (6197, 503));
}

#[test]
fn gemini_and_vertex_gemini_answers_count_thinking_as_completion() {
    let want = Usage {
        reasoning_tokens: 1019,
        ..counts(8, 19 + 1019, 1046)
    };
    let answer = fixture!("gemini/generate_text.json");
    let gemini = "model: gemini/gemini-2.5-flash, api_key: k";
    assert_eq!(
        usage_of(gemini, "gemini-2.5-flash", Operation::Chat, answer),
        Some(want)
    );
    let vertex = "model: vertex_ai/gemini-2.5-flash, vertex_project: p";
    assert_eq!(
        usage_of(vertex, "gemini-2.5-flash", Operation::Chat, answer),
        Some(want)
    );
}

#[test]
fn vertex_claude_answers_are_anthropics() {
    let params = "model: vertex_ai/claude-sonnet-4-5@20250929, vertex_project: p";
    let answer = fixture!("anthropic/message_text.json");
    let got = usage_of(
        params,
        "claude-sonnet-4-5@20250929",
        Operation::Chat,
        answer,
    );
    assert_eq!(got.map(|u| u.total_tokens), Some(6700));
    assert_eq!(got.map(|u| u.cache_creation_tokens), Some(2051));
}

#[test]
fn google_embeddings_count_what_google_reports_and_nothing_else() {
    // Vertex `:predict` reports each input's `token_count`: 6 + 7.
    let vertex = "model: vertex_ai/text-embedding-005, vertex_project: p";
    let answer = fixture!("gemini/vertex_predict_embeddings.json");
    let got = usage_of(vertex, "text-embedding-005", Operation::Embedding, answer);
    assert_eq!(got, Some(counts(13, 0, 13)));
    // AI Studio's `batchEmbedContents` reports none: the body's count is an estimate.
    let gemini = "model: gemini/text-embedding-004, api_key: k";
    let answer = fixture!("gemini/batch_embed_contents.json");
    let got = usage_of(gemini, "text-embedding-004", Operation::Embedding, answer);
    assert_eq!(got, None);
}

#[test]
fn bedrock_converse_answers_count_cache_reads_as_prompt_tokens() {
    let params = format!("model: bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0, {AWS}");
    let answer = fixture!("bedrock/converse_text.json");
    let model = "anthropic.claude-3-5-sonnet-20240620-v1:0";
    let got = usage_of(&params, model, Operation::Chat, answer).unwrap();
    assert_eq!(
        (got.prompt_tokens, got.completion_tokens, got.total_tokens),
        (12 + 1024, 16, 1052)
    );
    assert_eq!(got.cached_prompt_tokens, 1024);
}

#[test]
fn bedrock_embeddings_titan_counts_and_combines_cohere_reports_none() {
    let titan_model = "amazon.titan-embed-text-v2:0";
    let titan = format!("model: bedrock/{titan_model}, {AWS}");
    let answer = fixture!("bedrock/titan_embedding.json");
    let d = deployment(&titan);
    let one = RequestBody::parse(
        Bytes::from(json!({"model": "g", "input": "hello"}).to_string()),
        Operation::Embedding,
    )
    .unwrap();
    let c = call(Operation::Embedding, &one, &d, titan_model);
    let provider = for_wire(Wire::Bedrock);
    let translated = provider
        .translate_response(&c, Bytes::from_static(answer))
        .unwrap();
    assert_eq!(
        provider.answer_usage(&c, &translated),
        Some(counts(5, 0, 5))
    );
    // Several inputs: one call each, combined, the counts summed.
    let two = request(Operation::Embedding);
    let c = call(Operation::Embedding, &two, &d, titan_model);
    let parts = vec![Bytes::from_static(answer), Bytes::from_static(answer)];
    let combined = provider.combine(&c, parts).unwrap();
    assert_eq!(
        provider.answer_usage(&c, &combined),
        Some(counts(10, 0, 10))
    );

    let cohere = format!("model: bedrock/cohere.embed-english-v3, {AWS}");
    let answer = fixture!("bedrock/cohere_embedding.json");
    let got = usage_of(
        &cohere,
        "cohere.embed-english-v3",
        Operation::Embedding,
        answer,
    );
    assert_eq!(got, None);
}

#[test]
fn sagemaker_answers_count_what_the_container_reports() {
    let tgi = format!("model: sagemaker/my-endpoint, {AWS}");
    let answer = fixture!("bedrock/tgi_response.json");
    // TGI lists no prefill unless asked: 0 prompt tokens, 8 generated.
    let got = usage_of(&tgi, "my-endpoint", Operation::Chat, answer);
    assert_eq!(got, Some(counts(0, 8, 8)));
    let chat = format!("model: sagemaker_chat/my-endpoint, {AWS}");
    let answer = fixture!("openai/chat_completion.json");
    let got = usage_of(&chat, "my-endpoint", Operation::Chat, answer);
    assert_eq!(got.map(|u| u.total_tokens), Some(1163));
}

#[test]
fn cohere_chat_counts_tokens_and_embed_counts_billed_units() {
    let chat = "model: cohere/command-r-plus, api_key: k";
    let answer = fixture!("cohere/chat_text.json");
    let got = usage_of(chat, "command-r-plus", Operation::Chat, answer);
    assert_eq!(got, Some(counts(203, 19, 222)));
    let embed = "model: cohere/embed-english-v3.0, api_key: k";
    let answer = fixture!("cohere/embed_float.json");
    let got = usage_of(embed, "embed-english-v3.0", Operation::Embedding, answer);
    assert_eq!(got, Some(counts(2, 0, 2)));
}

#[test]
fn answers_without_usage_give_none_not_zeros() {
    let openai = "model: openai/gpt-4o, api_key: k";
    let answer = br#"{"id":"x","object":"chat.completion","choices":[]}"#;
    assert_eq!(usage_of(openai, "gpt-4o", Operation::Chat, answer), None);
}
