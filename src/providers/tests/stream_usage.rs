//! Streams and usage. The OpenAI-compatible providers (OpenAI, Azure, legacy completions): a
//! streamed call always asks the provider for its usage chunk, the translator records it, and
//! the client sees it only if it asked. And every provider's own `stream_translator` (not just
//! the decoder behind it) reports the usage.

use crate::canonical::chunks::test_support::{decode, translate, usage_either_way};
use crate::canonical::request::Operation;
use crate::canonical::{RequestBody, Usage};
use crate::config;
use crate::deployment::Deployment;
use crate::providers::azure::Azure;
use crate::providers::openai::OpenAi;
use crate::providers::text_completion::TextCompletion;
use crate::providers::{for_wire, Call, Provider, StreamTranslator};
use bytes::Bytes;
use serde_json::{json, Value};

const OPENAI: &str = include_str!("../../../tests/fixtures/openai/stream_include_usage.sse");
const COMPLETION: &str =
    include_str!("../../../tests/fixtures/openai/completion_stream_include_usage.sse");
const AZURE: &str = include_str!("../../../tests/fixtures/azure/stream_include_usage.sse");

fn deployment(params: &str) -> Deployment {
    let yaml = format!(
        "model_list:\n  - model_name: g\n    litellm_params: {{{params}}}\n    model_info: {{id: d1}}\n"
    );
    let loaded = config::load_str(&yaml).unwrap_or_else(|e| panic!("{e}"));
    crate::compile::deployment(&loaded.config.model_list[0], Default::default()).unwrap()
}

fn openai() -> Deployment {
    deployment("model: openai/gpt-4o, api_key: k")
}

fn azure() -> Deployment {
    deployment("model: azure/my-gpt, api_key: k, api_base: \"https://x.openai.azure.com\"")
}

fn instruct() -> Deployment {
    deployment("model: text-completion-openai/gpt-3.5-turbo-instruct, api_key: k")
}

fn body(op: Operation, mut json: Value) -> RequestBody {
    json["model"] = json!("g");
    RequestBody::parse(Bytes::from(json.to_string()), op).unwrap()
}

/// A streamed request, with `stream_options.include_usage` as given (`None`: not sent).
fn streamed(op: Operation, include_usage: Option<bool>) -> RequestBody {
    let mut json = match op {
        Operation::Chat => json!({"messages": [{"role": "user", "content": "Hi"}]}),
        _ => json!({"prompt": "Say hello"}),
    };
    json["stream"] = json!(true);
    if let Some(asked) = include_usage {
        json["stream_options"] = json!({"include_usage": asked});
    }
    body(op, json)
}

fn call<'a>(op: Operation, body: &'a RequestBody, d: &'a Deployment) -> Call<'a> {
    Call {
        op,
        body,
        deployment: d,
        upstream_model: "upstream-model",
        alias: "my-alias",
        group: "g",
        drop_params: false,
        native: false,
    }
}

/// The upstream body `provider` builds for `body`.
fn sent(provider: &dyn Provider, d: &Deployment, op: Operation, body: &RequestBody) -> Value {
    let request = provider.build_request(&call(op, body, d)).unwrap();
    serde_json::from_slice(&request.body).unwrap()
}

/// A fresh translator of `provider` for a streamed call, the client asking for usage or not.
fn translator<'a>(
    provider: &'a dyn Provider,
    d: &'a Deployment,
    op: Operation,
) -> impl Fn(bool) -> Box<dyn StreamTranslator> + 'a {
    move |asked| {
        let body = streamed(op, Some(asked));
        provider.stream_translator(&call(op, &body, d))
    }
}

#[test]
fn streamed_calls_ask_the_provider_for_usage_whatever_the_client_sent() {
    let (o, a, t) = (openai(), azure(), instruct());
    let cases: [(&dyn Provider, &Deployment, Operation); 4] = [
        (&OpenAi, &o, Operation::Chat),
        (&Azure, &a, Operation::Chat),
        (&TextCompletion, &t, Operation::Chat),
        (&TextCompletion, &t, Operation::Completion),
    ];
    for (provider, d, op) in cases {
        for client in [None, Some(false), Some(true)] {
            let out = sent(provider, d, op, &streamed(op, client));
            assert_eq!(
                out["stream_options"],
                json!({"include_usage": true}),
                "{op:?} {client:?}"
            );
            assert_eq!(out["stream"], true);
        }
    }
    // Unchanged when not streaming, and byte for byte when the client already asked.
    let whole = body(Operation::Chat, json!({"messages": []}));
    assert!(sent(&OpenAi, &o, Operation::Chat, &whole)
        .get("stream_options")
        .is_none());
    let asked = streamed(Operation::Chat, Some(true));
    let request = OpenAi
        .build_request(&call(Operation::Chat, &asked, &o))
        .unwrap();
    assert_eq!(request.body, asked.with_model("upstream-model"));
    let embedding = body(Operation::Embedding, json!({"input": "x", "stream": true}));
    assert!(sent(&OpenAi, &o, Operation::Embedding, &embedding)
        .get("stream_options")
        .is_none());
}

#[test]
fn openai_stream_usage_is_recorded_and_shown_only_if_asked() {
    let d = openai();
    let want = Usage {
        prompt_tokens: 19,
        completion_tokens: 10,
        total_tokens: 29,
        cached_prompt_tokens: 6,
        cache_creation_tokens: 0,
        reasoning_tokens: 2,
    };
    usage_either_way(
        OPENAI.as_bytes(),
        translator(&OpenAi, &d, Operation::Chat),
        want,
    );

    let mut unasked = translator(&OpenAi, &d, Operation::Chat)(false);
    let out = translate(&mut *unasked, &[OPENAI.as_bytes()]);
    let decoded = decode(&out);
    assert_eq!(decoded.content, "Hello! How can I help?");
    assert_eq!(decoded.finish_reasons, vec!["stop"]);
    assert_eq!(decoded.chunks.len(), 4);
    assert!(decoded.chunks.iter().all(|c| c["model"] == "my-alias"));
}

#[test]
fn usage_on_a_content_chunk_is_recorded_and_removed_unless_asked() {
    // Mistral and some OpenAI-compatible servers put usage on the last content chunk.
    let sse = concat!(
        r#"data: {"id":"c1","model":"m","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}"#,
        "\n\n",
        r#"data: {"id":"c1","model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":8,"completion_tokens":1,"total_tokens":9}}"#,
        "\n\ndata: [DONE]\n\n"
    );
    let d = openai();
    for asked in [false, true] {
        let mut t = translator(&OpenAi, &d, Operation::Chat)(asked);
        let out = translate(&mut *t, &[sse.as_bytes()]);
        let u = t.usage().unwrap();
        assert_eq!(
            (u.prompt_tokens, u.completion_tokens, u.total_tokens),
            (8, 1, 9)
        );
        let last: Value = serde_json::from_str(
            out.split("\n\n")
                .nth(1)
                .unwrap()
                .strip_prefix("data: ")
                .unwrap(),
        )
        .unwrap();
        assert_eq!(last["choices"][0]["finish_reason"], "stop");
        assert_eq!(last.get("usage").is_some(), asked, "{out}");
    }
}

#[test]
fn azure_drops_the_prompt_filter_chunk_and_keeps_one_id() {
    let d = azure();
    let want = Usage {
        prompt_tokens: 18,
        completion_tokens: 3,
        total_tokens: 21,
        ..Usage::default()
    };
    usage_either_way(
        AZURE.as_bytes(),
        translator(&Azure, &d, Operation::Chat),
        want,
    );
    for asked in [false, true] {
        let mut t = translator(&Azure, &d, Operation::Chat)(asked);
        let out = translate(&mut *t, &[AZURE.as_bytes()]);
        assert!(!out.contains("prompt_filter_results"), "{out}");
        let chunks: Vec<Value> = out
            .split("\n\n")
            .filter_map(|e| e.strip_prefix("data: "))
            .filter(|e| *e != "[DONE]")
            .map(|e| serde_json::from_str(e).unwrap())
            .collect();
        assert_eq!(chunks.len(), if asked { 4 } else { 3 });
        for chunk in &chunks {
            assert_eq!(chunk["id"], "chatcmpl-B9MKwZ2mXhQ1vJdS0TQ3b0pYk8sCe");
            assert_eq!(chunk["model"], "my-alias");
        }
        let choiceless = chunks.iter().filter(|c| c["choices"] == json!([]));
        assert_eq!(choiceless.count(), usize::from(asked));
    }
}

#[test]
fn legacy_completion_streams_report_usage_as_chat_or_as_completions() {
    let d = instruct();
    let want = Usage {
        prompt_tokens: 5,
        completion_tokens: 7,
        total_tokens: 12,
        ..Usage::default()
    };
    let bytes = COMPLETION.as_bytes();
    usage_either_way(
        bytes,
        translator(&TextCompletion, &d, Operation::Chat),
        want,
    );
    let as_completions = translator(&TextCompletion, &d, Operation::Completion);
    usage_either_way(bytes, as_completions, want);

    let mut unasked = translator(&TextCompletion, &d, Operation::Chat)(false);
    let decoded = decode(&translate(&mut *unasked, &[bytes]));
    assert_eq!(decoded.content, "Hello there");
    assert_eq!(decoded.dones, 1);
}

#[test]
fn every_providers_stream_translator_reports_the_usage() {
    let anthropic = include_bytes!("../../../tests/fixtures/anthropic/stream_text.sse").as_slice();
    let gemini = include_bytes!("../../../tests/fixtures/gemini/stream_text.sse").as_slice();
    let cohere = include_bytes!("../../../tests/fixtures/cohere/stream_text.sse").as_slice();
    let aws = "aws_access_key_id: A, aws_secret_access_key: s, aws_region_name: us-east-1";
    let cases: [(String, &str, &[u8], (u64, u64)); 5] = [
        (
            "model: anthropic/claude-x, api_key: k".into(),
            "claude-x",
            anthropic,
            (25, 15),
        ),
        (
            "model: vertex_ai/claude-sonnet-4-5@20250929, vertex_project: p".into(),
            "claude-sonnet-4-5@20250929",
            anthropic,
            (25, 15),
        ),
        (
            "model: gemini/gemini-2.5-flash, api_key: k".into(),
            "gemini-2.5-flash",
            gemini,
            (9, 52),
        ),
        (
            "model: vertex_ai/gemini-2.5-flash, vertex_project: p".into(),
            "gemini-2.5-flash",
            gemini,
            (9, 52),
        ),
        (
            "model: cohere/command-r, api_key: k".into(),
            "command-r",
            cohere,
            (1061, 59),
        ),
    ];
    for (params, model, bytes, want) in cases {
        let d = deployment(&params);
        let provider = for_wire(d.provider.wire);
        let body = streamed(Operation::Chat, None);
        let c = Call {
            upstream_model: model,
            ..call(Operation::Chat, &body, &d)
        };
        let mut t = provider.stream_translator(&c);
        translate(&mut *t, &[bytes]);
        let got = t.usage().map(|u| (u.prompt_tokens, u.completion_tokens));
        assert_eq!(got, Some(want), "{params}");
    }
    // Bedrock's binary event stream is built in its own tests; its translator is the decoder.
    let d = deployment(&format!(
        "model: bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0, {aws}"
    ));
    let body = streamed(Operation::Chat, None);
    let t = for_wire(d.provider.wire).stream_translator(&call(Operation::Chat, &body, &d));
    assert_eq!(t.usage(), None, "nothing read yet");
}
