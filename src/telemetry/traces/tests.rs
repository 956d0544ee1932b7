use super::*;
use crate::canonical::Usage;
use crate::config;
use opentelemetry::Value;
use std::time::Duration;

const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn deployment() -> Arc<Deployment> {
    let yaml = "model_list:\n  - model_name: g\n    litellm_params: {model: openai/up-model, api_base: 'http://127.0.0.1:9/v1', api_key: sk-secret}\n    model_info: {id: d1}\n";
    let loaded = config::load_str(yaml).unwrap_or_else(|e| panic!("{e}")); // ok: test
    Arc::new(crate::compile::deployment(&loaded.config.model_list[0], Default::default()).unwrap())
    // ok: test
}

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.insert(*k, v.parse().unwrap()); // ok: test
    }
    h
}

fn span_duration(span: &SpanData) -> Duration {
    span.end_time
        .duration_since(span.start_time)
        .unwrap_or_default()
}

fn attr<'a>(span: &'a SpanData, key: &str) -> Option<&'a Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value)
}

#[test]
fn otel_traceparent_parses_and_formats() {
    let p = parse_traceparent(PARENT).unwrap(); // ok: test
    assert!(p.sampled);
    assert_eq!(p.trace_id[0], 0x4b);
    assert_eq!(p.span_id[7], 0xb7);
    assert_eq!(format_traceparent(&p.trace_id, &p.span_id, true), PARENT);
    let later = format!("01{}-what-ever", &PARENT[2..]);
    assert!(parse_traceparent(&later).is_some());
}

#[test]
fn otel_bad_traceparents_are_ignored_never_panic() {
    let bad = [
        "",
        "00",
        "garbage",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
        "0x-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
        "00-é4bf92f3577b34da6a3ce929d0e0e47-00f067aa0ba902b7-01",
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
    ];
    for b in bad {
        assert_eq!(parse_traceparent(b), None, "{b:?}");
    }
    // Every prefix and every byte replaced: never a panic.
    for i in 0..PARENT.len() {
        let _ = parse_traceparent(&PARENT[..i]);
        for c in ['-', 'z', '\u{e9}', ' '] {
            let mut s: String = PARENT[..i].to_string();
            s.push(c);
            s.push_str(&PARENT[i + 1..]);
            let _ = parse_traceparent(&s);
        }
    }
    // A bad traceparent starts a new trace; a tracestate alone is not kept.
    let h = headers(&[("traceparent", "junk"), ("tracestate", "a=b")]);
    let t = CallTrace::start(&h, Instant::now(), Operation::Chat);
    assert!(t.parent.is_none() && t.tracestate.is_none() && t.sampled);
}

/// A chat call's end on group `g` (or an embedding with no deployment).
fn chat_end<'a>(d: Option<&'a Arc<Deployment>>, summary: &'a CallSummary) -> CallEnd<'a> {
    CallEnd {
        call_id: "call-1",
        route: "/v1/chat/completions",
        group: d.map(|_| "g"),
        deployment: d,
        summary,
        key: None,
        cache_hit: false,
    }
}

fn summary(status: u16, committed: bool) -> CallSummary {
    CallSummary {
        status,
        committed,
        attempts: 2,
        retries: 1,
        usage: Some(Usage {
            prompt_tokens: 11,
            completion_tokens: 7,
            total_tokens: 18,
            ..Usage::default()
        }),
        usage_source: crate::lifecycle::UsageSource::Provider,
        duration: Duration::from_millis(40),
        ..CallSummary::default()
    }
}

#[test]
fn otel_spans_continue_the_client_trace_with_one_child_per_attempt() {
    let d = deployment();
    let group: Arc<str> = Arc::from("g");
    let h = headers(&[("traceparent", PARENT), ("tracestate", "vendor=x")]);
    let mut t = CallTrace::start(&h, Instant::now(), Operation::Chat);
    t.set_requested_model("g");
    t.attempt_started(&d, "up-model", &group, 0, 0);
    let first = t.upstream_headers();
    t.attempt_ended(500, Some(FailureClass::InternalServer));
    t.attempt_started(&d, "up-model", &group, 1, 0);
    let second = t.upstream_headers();
    t.attempt_ended(200, None);
    let summary = summary(200, true);
    let end = chat_end(Some(&d), &summary);
    let spans = t.finish(&end);
    assert_eq!(spans.len(), 3);
    let (root, a1, a2) = (&spans[0], &spans[1], &spans[2]);
    assert_eq!(root.span_kind, SpanKind::Server);
    assert_eq!(
        root.span_context.trace_id().to_string(),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    assert_eq!(root.parent_span_id.to_string(), "00f067aa0ba902b7");
    assert!(root.parent_span_is_remote);
    for a in [a1, a2] {
        assert_eq!(a.span_kind, SpanKind::Client);
        assert_eq!(a.parent_span_id, root.span_context.span_id());
        assert_eq!(a.span_context.trace_id(), root.span_context.trace_id());
        assert_eq!(a.name, "chat up-model");
        assert!(a.start_time >= root.start_time && a.end_time <= root.end_time);
    }
    let tp = |hs: &[(HeaderName, HeaderValue)]| hs[0].1.to_str().unwrap().to_string(); // ok: test
    assert_eq!(
        tp(&first),
        format!(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-{}-01",
            a1.span_context.span_id()
        )
    );
    assert_eq!(
        tp(&second),
        format!(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-{}-01",
            a2.span_context.span_id()
        )
    );
    assert_eq!(first[1].1, "vendor=x");
    assert!(matches!(a1.status, Status::Error { .. }));
    assert_eq!(a2.status, Status::Unset);
    assert_eq!(attr(a1, "tollgate.retry_index"), Some(&Value::I64(0)));
    assert_eq!(attr(a2, "tollgate.retry_index"), Some(&Value::I64(1)));
    assert_eq!(
        attr(a1, "http.response.status_code"),
        Some(&Value::I64(500))
    );
    assert_eq!(attr(a1, "litellm.model_id"), Some(&Value::from("d1")));
    assert_eq!(attr(root, "gen_ai.system"), Some(&Value::from("openai")));
    assert_eq!(
        attr(root, "gen_ai.operation.name"),
        Some(&Value::from("chat"))
    );
    assert_eq!(attr(root, "gen_ai.request.model"), Some(&Value::from("g")));
    assert_eq!(
        attr(root, "gen_ai.response.model"),
        Some(&Value::from("up-model"))
    );
    assert_eq!(
        attr(root, "gen_ai.usage.input_tokens"),
        Some(&Value::I64(11))
    );
    assert_eq!(
        attr(root, "gen_ai.usage.output_tokens"),
        Some(&Value::I64(7))
    );
    assert_eq!(attr(root, "tollgate.retries"), Some(&Value::I64(1)));
    assert_eq!(root.status, Status::Unset);
    // No secret anywhere.
    for s in &spans {
        for kv in &s.attributes {
            assert!(!kv.value.as_str().contains("sk-secret"), "{kv:?}");
        }
    }
}

#[test]
fn otel_a_new_trace_when_the_client_sent_none_and_errors_are_marked() {
    let t = CallTrace::start(&HeaderMap::new(), Instant::now(), Operation::Embedding);
    assert!(t.parent.is_none() && t.sampled);
    assert!(t.upstream_headers().is_empty(), "no attempt yet");
    let mut s = summary(429, false);
    s.error = Some((
        "rate_limit_error",
        "litellm.RateLimitError: secret prompt".into(),
    ));
    let end = CallEnd {
        call_id: "c",
        route: "/v1/embeddings",
        group: None,
        deployment: None,
        summary: &s,
        key: None,
        cache_hit: false,
    };
    let spans = t.finish(&end);
    assert_eq!(spans.len(), 1);
    let root = &spans[0];
    assert_eq!(root.parent_span_id, SpanId::INVALID);
    assert!(!root.parent_span_is_remote);
    assert!(
        matches!(&root.status, Status::Error { description } if !description.contains("secret"))
    );
    assert_eq!(
        attr(root, "error.type"),
        Some(&Value::from("rate_limit_error"))
    );
    assert_eq!(
        attr(root, "gen_ai.operation.name"),
        Some(&Value::from("embeddings"))
    );
    assert!(span_duration(root) >= Duration::from_millis(40));
}

#[test]
fn otel_an_unsampled_client_trace_is_propagated_not_exported() {
    let d = deployment();
    let h = headers(&[(
        "traceparent",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
    )]);
    let mut t = CallTrace::start(&h, Instant::now(), Operation::Chat);
    t.attempt_started(&d, "up-model", &Arc::from("g"), 0, 0);
    let hs = t.upstream_headers();
    assert!(hs[0].1.to_str().unwrap().ends_with("-00")); // ok: test
    let s = summary(200, true);
    let end = chat_end(Some(&d), &s);
    assert!(t.finish(&end).is_empty());
}

#[test]
fn otel_an_attempt_the_client_left_is_closed_as_an_error() {
    let d = deployment();
    let mut t = CallTrace::start(&HeaderMap::new(), Instant::now(), Operation::Chat);
    t.attempt_started(&d, "up-model", &Arc::from("g"), 0, 2);
    let mut s = summary(499, false);
    s.client_gone = true;
    let end = chat_end(Some(&d), &s);
    let spans = t.finish(&end);
    assert_eq!(spans.len(), 2);
    assert!(matches!(spans[1].status, Status::Error { .. }));
    assert_eq!(
        attr(&spans[1], "tollgate.fallback"),
        Some(&Value::Bool(true))
    );
    assert!(matches!(spans[0].status, Status::Error { .. }));
}
