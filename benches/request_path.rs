//! The per-request work of the hot path, without the network: parse a typical 2 KB chat body,
//! choose a deployment, rewrite `model`, and pass a 20-chunk stream through; and what the
//! Prometheus observer adds to one call when metrics are on.

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use tollgate::canonical::json_scan;
use tollgate::canonical::request::Operation;
use tollgate::canonical::RequestBody;
use tollgate::config;
use tollgate::providers::openai::PassthroughStream;
use tollgate::providers::StreamTranslator;
use tollgate::router::strategy::PickInput;
use tollgate::router::{self, RoutingPolicy, StateRegistry};

fn chat_body() -> Bytes {
    let filler =
        "Summarise the quarterly report in three bullet points, keeping numbers exact. ".repeat(22);
    Bytes::from(
        serde_json::json!({
            "model": "gpt-4o-mini",
            "messages": [
                {"role": "system", "content": "You are a concise assistant."},
                {"role": "user", "content": filler},
            ],
            "temperature": 0.2,
            "max_tokens": 256,
            "stream": false,
        })
        .to_string(),
    )
}

fn stream_bytes() -> Vec<u8> {
    let mut s = Vec::new();
    for i in 0..20 {
        s.extend_from_slice(
            format!("data: {{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"word{i} \"}},\"finish_reason\":null}}]}}\n\n").as_bytes(),
        );
    }
    s.extend_from_slice(b"data: [DONE]\n\n");
    s
}

fn benches(c: &mut Criterion) {
    let body = chat_body();
    let yaml = "model_list:\n  - model_name: gpt-4o-mini\n    litellm_params:\n      model: openai/gpt-4o-mini\n      api_base: http://127.0.0.1:9/v1\n      api_key: k\n  - model_name: gpt-4o-mini\n    litellm_params:\n      model: openai/gpt-4o-mini\n      api_base: http://127.0.0.1:10/v1\n      api_key: k\n";
    let loaded = config::load_str(yaml).expect("bench config loads");
    let states = StateRegistry::default();
    let table =
        tollgate::compile::model_table(&loaded.config.model_list, Default::default(), &states)
            .expect("table builds");
    let policy = RoutingPolicy::new(&loaded.config.router, &loaded.config.litellm.reliability);

    let mut g = c.benchmark_group("request");
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function("parse_2kb_chat", |b| {
        b.iter(|| RequestBody::parse(black_box(body.clone()), Operation::Chat).unwrap())
    });
    let parsed = RequestBody::parse(body.clone(), Operation::Chat).unwrap();
    g.bench_function("select_deployment", |b| {
        b.iter(|| {
            let resolved = table.resolve(black_box("gpt-4o-mini")).unwrap();
            let input = PickInput {
                stream: false,
                estimated_tokens: 600,
                now: std::time::Instant::now(),
            };
            router::choose(&resolved.group, &policy, &[], &input)
                .ok()
                .unwrap()
        })
    });
    g.bench_function("rewrite_model_2kb", |b| {
        b.iter(|| parsed.with_model(black_box("gpt-4o-mini-2024-07-18")))
    });
    g.finish();

    let stream = stream_bytes();
    let mut g = c.benchmark_group("stream");
    g.throughput(Throughput::Elements(21));
    g.bench_function("passthrough_20_chunks", |b| {
        b.iter(|| {
            let mut t = PassthroughStream::new("gpt-4o-mini", true);
            let mut out = BytesMut::with_capacity(stream.len() + 64);
            for piece in stream.chunks(512) {
                t.feed(piece, &mut out);
            }
            t.finish(&mut out);
            out
        })
    });
    let response = br#"{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"message":{"role":"assistant","content":"Hello there."},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":3,"total_tokens":13}}"#;
    g.bench_function("response_model_rewrite", |b| {
        b.iter(|| json_scan::replace_model(black_box(response), b"\"gpt-4o-mini\""))
    });
    g.finish();

    metrics_benches(c, &table);
}

/// One successful call as the metrics observer sees it: an attempt ended, then done.
fn metrics_benches(c: &mut Criterion, table: &router::ModelTable) {
    use std::sync::Arc;
    use tollgate::lifecycle::{CallEvent, CallInfo, CallObserver, CallSummary};
    use tollgate::telemetry::{metrics::Metrics, observer::MetricsObserver};
    let metrics = Arc::new(Metrics::new());
    metrics.configure(&config::MetricsSettings {
        enabled: true,
        ..Default::default()
    });
    let observer = MetricsObserver(metrics);
    let resolved = table.resolve("gpt-4o-mini").unwrap();
    let deployment = &resolved.group.deployments[0];
    let summary = CallSummary {
        status: 200,
        committed: true,
        usage: Some(tollgate::canonical::Usage {
            prompt_tokens: 10,
            completion_tokens: 3,
            total_tokens: 13,
            ..Default::default()
        }),
        ..Default::default()
    };
    let info = CallInfo {
        call_id: "bench",
        started: std::time::Instant::now(),
        group: Some("gpt-4o-mini"),
        requested_model: Some("gpt-4o-mini"),
        key: None,
        end_user: None,
        route: "/v1/chat/completions",
    };
    let mut g = c.benchmark_group("metrics");
    g.bench_function("observe_one_call", |b| {
        b.iter(|| {
            observer.on_event(
                &info,
                &CallEvent::AttemptEnded {
                    deployment,
                    failure: None,
                    status: 200,
                    latency: std::time::Duration::from_millis(20),
                },
            );
            observer.on_event(
                &info,
                &CallEvent::Done {
                    deployment: Some(deployment),
                    summary: black_box(&summary),
                },
            );
        })
    });
    g.finish();
}

criterion_group!(request_path, benches);
criterion_main!(request_path);
