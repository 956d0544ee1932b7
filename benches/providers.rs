//! Request and response translation per provider on a typical ~2 KB chat request: what the
//! gateway spends turning the canonical request into each provider's and its answer back.

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use std::sync::Arc;
use tollgate::canonical::request::Operation;
use tollgate::canonical::RequestBody;
use tollgate::config;
use tollgate::providers::{self, Call};
use tollgate::router::Deployment;

fn chat_body() -> Bytes {
    let filler =
        "Summarise the quarterly report in three bullet points, keeping numbers exact. ".repeat(20);
    Bytes::from(
        serde_json::json!({
            "model": "alias",
            "messages": [
                {"role": "system", "content": "You are a concise assistant."},
                {"role": "user", "content": filler},
                {"role": "assistant", "content": "Sure. Which quarter?"},
                {"role": "user", "content": "Q3, and keep it short."},
            ],
            "temperature": 0.2,
            "max_tokens": 256,
            "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather for a city",
                "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}}}],
        })
        .to_string(),
    )
}

fn deployment(params: &str) -> Arc<Deployment> {
    let yaml = format!("model_list:\n  - model_name: alias\n    litellm_params: {{{params}}}\n");
    let loaded = config::load_str(&yaml).expect("bench config loads");
    Arc::new(
        tollgate::compile::deployment(&loaded.config.model_list[0], Default::default())
            .expect("deployment builds"),
    )
}

fn benches(c: &mut Criterion) {
    let body = RequestBody::parse(chat_body(), Operation::Chat).expect("body parses");
    let cases: [(&str, &str, &str, &[u8]); 5] = [
        (
            "openai",
            "model: openai/gpt-4o-mini, api_base: 'http://127.0.0.1:9/v1', api_key: k",
            "gpt-4o-mini",
            br#"{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"message":{"role":"assistant","content":"Hello there."},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":3,"total_tokens":13}}"#,
        ),
        (
            "anthropic",
            "model: anthropic/claude-sonnet-4, api_base: 'http://127.0.0.1:9', api_key: k",
            "claude-sonnet-4",
            include_bytes!("../tests/fixtures/anthropic/message_text.json"),
        ),
        (
            "gemini",
            "model: gemini/gemini-2.0-flash, api_base: 'http://127.0.0.1:9/v1beta', api_key: k",
            "gemini-2.0-flash",
            include_bytes!("../tests/fixtures/gemini/generate_text.json"),
        ),
        (
            "bedrock",
            "model: bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0, aws_access_key_id: AKIDEXAMPLE, aws_secret_access_key: secret, aws_region_name: us-east-1",
            "anthropic.claude-3-5-sonnet-20240620-v1:0",
            include_bytes!("../tests/fixtures/bedrock/converse_text.json"),
        ),
        (
            "cohere",
            "model: cohere/command-r-plus, api_base: 'http://127.0.0.1:9', api_key: k",
            "command-r-plus",
            include_bytes!("../tests/fixtures/cohere/chat_text.json"),
        ),
    ];
    let mut g = c.benchmark_group("translate_2kb");
    for (name, params, model, answer) in cases {
        let d = deployment(params);
        let provider = providers::for_wire(d.provider.wire);
        let call = Call {
            op: Operation::Chat,
            body: &body,
            deployment: &d,
            upstream_model: model,
            alias: "alias",
            group: "alias",
            drop_params: true,
            native: false,
        };
        provider.build_request(&call).expect("request builds");
        provider
            .translate_response(&call, Bytes::from_static(answer))
            .expect("answer translates");
        g.bench_function(format!("{name}/request"), |b| {
            b.iter(|| provider.build_request(black_box(&call)))
        });
        g.bench_function(format!("{name}/response"), |b| {
            b.iter(|| provider.translate_response(&call, Bytes::from_static(black_box(answer))))
        });
    }
    g.finish();
}

criterion_group!(providers_bench, benches);
criterion_main!(providers_bench);
