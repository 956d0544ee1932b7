//! One LLM call as an OpenTelemetry trace: a root span (`SpanKind::Server`, `litellm_request`)
//! for the call and a child span (`SpanKind::Client`, `chat <model>`) for each attempt on a
//! deployment, retries and fallbacks included. A client's W3C `traceparent` (and `tracestate`)
//! is continued; each attempt's upstream request names its own span in a `traceparent`.
//!
//! The request path only keeps ids and start times in the call's context (`CallTrace`); the
//! finished spans are built once, when the call is done, and handed to the exporter's queue
//! (`telemetry::otlp`), which never makes a call wait. Attributes follow the GenAI semantic
//! conventions, plus LiteLLM's names for the key and model group. Never a key, never prompt
//! or answer text: a key is only its hash.

use crate::auth::keys::KeyCaller;
use crate::canonical::request::Operation;
use crate::lifecycle::CallSummary;
use crate::router::{Deployment, FailureClass};
use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
use std::borrow::Cow;
use std::str::FromStr;
use std::sync::{Arc, OnceLock};
use std::time::{Instant, SystemTime};

/// Longest `tracestate` kept (W3C: at most 32 members; 512 bytes is the usual cap).
const MAX_TRACESTATE_BYTES: usize = 512;

/// A `traceparent` header's ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceParent {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    pub sampled: bool,
}

/// `version-traceid-spanid-flags` (W3C Trace Context). Anything malformed is `None` (the call
/// then starts a trace of its own): wrong lengths, non-hex or upper-case hex, all-zero ids,
/// version `ff`; a later version may carry more fields after the flags, version 00 may not.
pub fn parse_traceparent(value: &str) -> Option<TraceParent> {
    let v = value.trim();
    let b = v.as_bytes();
    if b.len() < 55 || b[2] != b'-' || b[35] != b'-' || b[52] != b'-' {
        return None;
    }
    let version = hex_byte(&b[0..2])?;
    if version == 0xff || (version == 0 && b.len() != 55) || (b.len() > 55 && b[55] != b'-') {
        return None;
    }
    let mut trace_id = [0u8; 16];
    for (i, out) in trace_id.iter_mut().enumerate() {
        *out = hex_byte(&b[3 + 2 * i..5 + 2 * i])?;
    }
    let mut span_id = [0u8; 8];
    for (i, out) in span_id.iter_mut().enumerate() {
        *out = hex_byte(&b[36 + 2 * i..38 + 2 * i])?;
    }
    let flags = hex_byte(&b[53..55])?;
    if trace_id == [0; 16] || span_id == [0; 8] {
        return None;
    }
    Some(TraceParent {
        trace_id,
        span_id,
        sampled: flags & 1 == 1,
    })
}

/// Two lower-case hex digits.
fn hex_byte(pair: &[u8]) -> Option<u8> {
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    match pair {
        [h, l] => Some(digit(*h)? << 4 | digit(*l)?),
        _ => None,
    }
}

pub fn format_traceparent(trace_id: &[u8; 16], span_id: &[u8; 8], sampled: bool) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(55);
    s.push_str("00-");
    for b in trace_id {
        let _ = write!(s, "{b:02x}");
    }
    s.push('-');
    for b in span_id {
        let _ = write!(s, "{b:02x}");
    }
    s.push_str(if sampled { "-01" } else { "-00" });
    s
}

/// A client's `tracestate`, kept when it is short visible ASCII that the SDK accepts.
fn client_tracestate(headers: &HeaderMap) -> Option<String> {
    let v = headers.get("tracestate")?.to_str().ok()?.trim();
    let usable = !v.is_empty()
        && v.len() <= MAX_TRACESTATE_BYTES
        && v.bytes().all(|b| b == b' ' || b.is_ascii_graphic());
    (usable && TraceState::from_str(v).is_ok()).then(|| v.to_string())
}

/// Random non-zero ids from the thread's fast RNG (no system call per id).
fn random_ids<const N: usize>() -> [u8; N] {
    use rand::RngCore;
    let mut rng = rand::thread_rng();
    loop {
        let mut id = [0u8; N];
        rng.fill_bytes(&mut id);
        if id.iter().any(|&b| b != 0) {
            return id;
        }
    }
}

/// One attempt on a deployment, as its span will say.
struct AttemptSpan {
    span_id: [u8; 8],
    start: SystemTime,
    end: Option<SystemTime>,
    deployment: Arc<Deployment>,
    upstream_model: String,
    group: Arc<str>,
    /// 0 for a group's first attempt.
    retry: u32,
    /// Fallback groups moved to before this attempt (0: the group asked for).
    fallback: u32,
    status: u16,
    failure: Option<FailureClass>,
}

/// What a call keeps for its trace while it runs (in `RequestCtx`, only when traces are on).
pub struct CallTrace {
    trace_id: [u8; 16],
    root_span_id: [u8; 8],
    /// The client's span, when it sent a usable `traceparent`.
    parent: Option<[u8; 8]>,
    tracestate: Option<String>,
    sampled: bool,
    start: SystemTime,
    op: Operation,
    /// The `model` the client sent.
    requested_model: Option<String>,
    attempts: Vec<AttemptSpan>,
}

/// What only the end of the call knows, for the root span.
pub struct CallEnd<'a> {
    pub call_id: &'a str,
    pub route: &'static str,
    /// The group that answered (or was tried last).
    pub group: Option<&'a str>,
    pub deployment: Option<&'a Arc<Deployment>>,
    pub summary: &'a CallSummary,
    pub key: Option<&'a KeyCaller>,
    pub cache_hit: bool,
}

impl CallTrace {
    /// A call's trace, continuing the client's when its `traceparent` is usable; `started` is
    /// when the request arrived.
    pub fn start(headers: &HeaderMap, started: Instant, op: Operation) -> CallTrace {
        let parent = headers
            .get("traceparent")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_traceparent);
        let now = SystemTime::now();
        CallTrace {
            trace_id: parent.map_or_else(random_ids, |p| p.trace_id),
            root_span_id: random_ids(),
            parent: parent.map(|p| p.span_id),
            tracestate: parent.and_then(|_| client_tracestate(headers)),
            // A client that says it does not record this trace is followed (parent-based).
            sampled: parent.is_none_or(|p| p.sampled),
            start: now.checked_sub(started.elapsed()).unwrap_or(now),
            op,
            requested_model: None,
            attempts: Vec::new(),
        }
    }

    pub fn set_requested_model(&mut self, model: &str) {
        self.requested_model = Some(model.to_string());
    }

    pub fn trace_id(&self) -> [u8; 16] {
        self.trace_id
    }

    /// An attempt begins: its span starts now.
    pub fn attempt_started(
        &mut self,
        deployment: &Arc<Deployment>,
        upstream_model: &str,
        group: &Arc<str>,
        retry: u32,
        fallback: u32,
    ) {
        self.attempts.push(AttemptSpan {
            span_id: random_ids(),
            start: SystemTime::now(),
            end: None,
            deployment: Arc::clone(deployment),
            upstream_model: upstream_model.to_string(),
            group: Arc::clone(group),
            retry,
            fallback,
            status: 0,
            failure: None,
        });
    }

    /// The attempt under way ended, answered (`failure` `None`) or failed.
    pub fn attempt_ended(&mut self, status: u16, failure: Option<FailureClass>) {
        if let Some(a) = self.attempts.last_mut().filter(|a| a.end.is_none()) {
            a.end = Some(SystemTime::now());
            a.status = status;
            a.failure = failure;
        }
    }

    /// The headers that carry the trace to the provider, naming the attempt under way.
    pub fn upstream_headers(&self) -> Vec<(HeaderName, HeaderValue)> {
        let Some(attempt) = self.attempts.last() else {
            return Vec::new();
        };
        let parent = format_traceparent(&self.trace_id, &attempt.span_id, self.sampled);
        let mut headers = Vec::with_capacity(2);
        if let Ok(v) = HeaderValue::try_from(parent) {
            headers.push((HeaderName::from_static("traceparent"), v));
        }
        if let Some(v) = self
            .tracestate
            .as_deref()
            .and_then(|s| HeaderValue::from_str(s).ok())
        {
            headers.push((HeaderName::from_static("tracestate"), v));
        }
        headers
    }

    /// How many spans `finish` would give.
    pub fn span_count(&self) -> usize {
        if self.sampled {
            1 + self.attempts.len()
        } else {
            0
        }
    }

    /// The finished spans, root first; none when the client's trace is not sampled.
    pub fn finish(self, end: &CallEnd<'_>) -> Vec<SpanData> {
        if !self.sampled {
            return Vec::new();
        }
        let now = SystemTime::now();
        let root_end = self
            .start
            .checked_add(end.summary.duration)
            .unwrap_or(now)
            .max(
                self.attempts
                    .iter()
                    .filter_map(|a| a.end)
                    .max()
                    .unwrap_or(self.start),
            );
        let trace_state = self
            .tracestate
            .as_deref()
            .and_then(|s| TraceState::from_str(s).ok())
            .unwrap_or_default();
        let context = |span: &[u8; 8]| {
            SpanContext::new(
                TraceId::from_bytes(self.trace_id),
                SpanId::from_bytes(*span),
                TraceFlags::SAMPLED,
                false,
                trace_state.clone(),
            )
        };
        let op = operation_name(self.op);
        let mut spans = Vec::with_capacity(1 + self.attempts.len());
        spans.push(span(
            context(&self.root_span_id),
            self.parent.map_or(SpanId::INVALID, SpanId::from_bytes),
            self.parent.is_some(),
            SpanKind::Server,
            Cow::Borrowed("litellm_request"),
            (self.start, root_end),
            root_attributes(&self, end, op),
            root_status(end.summary),
        ));
        for a in &self.attempts {
            let (attributes, status) = attempt_attributes(a, op);
            spans.push(span(
                context(&a.span_id),
                SpanId::from_bytes(self.root_span_id),
                false,
                SpanKind::Client,
                Cow::Owned(format!("{op} {}", a.upstream_model)),
                (a.start, a.end.unwrap_or(root_end)),
                attributes,
                status,
            ));
        }
        spans
    }
}

#[allow(clippy::too_many_arguments)]
fn span(
    span_context: SpanContext,
    parent_span_id: SpanId,
    parent_span_is_remote: bool,
    span_kind: SpanKind,
    name: Cow<'static, str>,
    (start_time, end_time): (SystemTime, SystemTime),
    attributes: Vec<KeyValue>,
    status: Status,
) -> SpanData {
    SpanData {
        span_context,
        parent_span_id,
        parent_span_is_remote,
        span_kind,
        name,
        start_time,
        end_time,
        attributes,
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status,
        instrumentation_scope: scope().clone(),
    }
}

fn scope() -> &'static InstrumentationScope {
    static SCOPE: OnceLock<InstrumentationScope> = OnceLock::new();
    SCOPE.get_or_init(|| {
        InstrumentationScope::builder("tollgate")
            .with_version(env!("CARGO_PKG_VERSION"))
            .build()
    })
}

/// `gen_ai.operation.name`.
pub fn operation_name(op: Operation) -> &'static str {
    match op {
        Operation::Chat => "chat",
        Operation::Completion => "text_completion",
        Operation::Embedding => "embeddings",
    }
}

/// `gen_ai.system`: the semantic conventions' names where they have one, else the provider's.
pub fn gen_ai_system(provider: &'static str) -> &'static str {
    match provider {
        "azure" | "azure_ai" => "azure.ai.openai",
        "bedrock" | "sagemaker" | "sagemaker_chat" => "aws.bedrock",
        "vertex_ai" => "gcp.vertex_ai",
        "gemini" => "gcp.gemini",
        "mistral" => "mistral_ai",
        "cohere" | "cohere_chat" => "cohere",
        "xai" => "xai",
        other => other,
    }
}

fn root_attributes(t: &CallTrace, end: &CallEnd<'_>, op: &'static str) -> Vec<KeyValue> {
    let s = end.summary;
    let mut a = vec![
        KeyValue::new("gen_ai.operation.name", op),
        KeyValue::new("http.request.method", "POST"),
        KeyValue::new("http.route", end.route),
        KeyValue::new("http.response.status_code", i64::from(s.status)),
        KeyValue::new("tollgate.call_id", end.call_id.to_string()),
        KeyValue::new("tollgate.attempts", i64::from(s.attempts)),
        KeyValue::new("tollgate.retries", i64::from(s.retries)),
        KeyValue::new("tollgate.fallbacks", i64::from(s.fallbacks)),
        KeyValue::new("tollgate.cache_hit", end.cache_hit),
    ];
    if let Some(model) = &t.requested_model {
        a.push(KeyValue::new("gen_ai.request.model", model.clone()));
    }
    if let Some(group) = end.group {
        a.push(KeyValue::new("litellm.model_group", group.to_string()));
    }
    if let Some(d) = end.deployment {
        let model = t
            .attempts
            .iter()
            .rev()
            .find(|a| Arc::ptr_eq(&a.deployment, d))
            .map_or(d.model.as_str(), |a| a.upstream_model.as_str());
        a.extend([
            KeyValue::new("gen_ai.system", gen_ai_system(d.provider.name)),
            KeyValue::new("gen_ai.response.model", model.to_string()),
            KeyValue::new("litellm.model_id", d.id.clone()),
            KeyValue::new("litellm.api_provider", d.provider.name),
        ]);
        if let Some(usage) = &s.usage {
            let cost = if end.cache_hit {
                0.0
            } else {
                d.price.cost(usage)
            };
            a.push(KeyValue::new("litellm.response_cost", cost.max(0.0)));
        }
    }
    if let Some(usage) = &s.usage {
        a.extend([
            KeyValue::new(
                "gen_ai.usage.input_tokens",
                saturating_i64(usage.prompt_tokens),
            ),
            KeyValue::new(
                "gen_ai.usage.output_tokens",
                saturating_i64(usage.completion_tokens),
            ),
            KeyValue::new("tollgate.usage_source", s.usage_source.as_str()),
        ]);
    }
    if let Some(k) = end.key {
        a.push(KeyValue::new("metadata.user_api_key_hash", k.token.clone()));
        for (field, name) in [
            ("key_alias", "metadata.user_api_key_alias"),
            ("team_id", "metadata.user_api_key_team_id"),
            ("team_alias", "metadata.user_api_key_team_alias"),
            ("user_id", "metadata.user_api_key_user_id"),
            ("organization_id", "metadata.user_api_key_org_id"),
        ] {
            if let Some(v) = k.key.str_field(field) {
                a.push(KeyValue::new(name, v.to_string()));
            }
        }
    }
    if let Some((kind, _message)) = &s.error {
        // The type only: a provider's error message may quote the prompt.
        a.push(KeyValue::new("error.type", *kind));
    }
    a
}

fn root_status(s: &CallSummary) -> Status {
    let ok = s.committed && (200..300).contains(&s.status) && !s.client_gone;
    match (&s.error, ok) {
        (Some((kind, _)), _) => Status::error(format!("{} {kind}", s.status)),
        (None, false) if s.client_gone => Status::error("client disconnected"),
        (None, false) => Status::error(format!("HTTP {}", s.status)),
        (None, true) => Status::Unset,
    }
}

fn attempt_attributes(a: &AttemptSpan, op: &'static str) -> (Vec<KeyValue>, Status) {
    let d = &a.deployment;
    let mut attrs = vec![
        KeyValue::new("gen_ai.operation.name", op),
        KeyValue::new("gen_ai.system", gen_ai_system(d.provider.name)),
        KeyValue::new("gen_ai.request.model", a.upstream_model.clone()),
        KeyValue::new("litellm.model_id", d.id.clone()),
        KeyValue::new("litellm.api_provider", d.provider.name),
        KeyValue::new("litellm.api_base", d.api_base.clone()),
        KeyValue::new("litellm.model_group", a.group.to_string()),
        KeyValue::new("tollgate.retry_index", i64::from(a.retry)),
        KeyValue::new("tollgate.fallback", a.fallback > 0),
        KeyValue::new("tollgate.fallback_index", i64::from(a.fallback)),
    ];
    if a.status != 0 {
        attrs.push(KeyValue::new(
            "http.response.status_code",
            i64::from(a.status),
        ));
    }
    let status = match (a.end, a.failure) {
        (None, _) => Status::error("not finished (the client left)"),
        (Some(_), Some(class)) => {
            let name = super::labels::exception_class_name(a.status, Some(class));
            attrs.push(KeyValue::new("error.type", name));
            Status::error(format!("{} {name}", a.status))
        }
        (Some(_), None) => Status::Unset,
    };
    (attrs, status)
}

fn saturating_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests;
