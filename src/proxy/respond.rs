//! Writing answers to the client: heads with LiteLLM's `x-litellm-*` headers, and the
//! provider's own headers passed on (`x-ratelimit-*` as they are, all as `llm_provider-*`).

use super::ctx::{Inbound, RequestCtx};
use crate::error::GatewayError;
use bytes::Bytes;
use http::header;
use pingora::http::ResponseHeader;
use pingora::proxy::Session;
use pingora::Result;

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// A response head with the gateway's headers; `upstream` adds the provider's. A header whose
/// value cannot be sent (a wildcard alias with a control character, say) is left out: one bad
/// value never costs the client its answer.
pub fn head(
    status: u16,
    content_type: &'static str,
    ctx: &RequestCtx,
    upstream: Option<&ResponseHeader>,
) -> Result<ResponseHeader> {
    let mut h = ResponseHeader::build_no_case(status, Some(16))?;
    h.insert_header(header::CONTENT_TYPE, content_type)?;
    put(&mut h, "x-litellm-call-id", ctx.call_id.as_str());
    put(
        &mut h,
        "x-request-id",
        ctx.request_id.as_deref().unwrap_or(&ctx.call_id),
    );
    put(&mut h, "x-litellm-version", VERSION);
    if let Some(group) = &ctx.group {
        put(&mut h, "x-litellm-model-group", &**group);
    }
    if let Some(d) = &ctx.deployment {
        put(&mut h, "x-litellm-model-id", d.id.as_str());
        if !d.api_base.is_empty() {
            put(&mut h, "x-litellm-model-api-base", d.api_base.as_str());
        }
        put(
            &mut h,
            "x-litellm-attempted-retries",
            ctx.retries.to_string(),
        );
        put(
            &mut h,
            "x-litellm-attempted-fallbacks",
            ctx.fallbacks.to_string(),
        );
    }
    if let Some(t) = ctx.timeout_used {
        // Python's float repr, as LiteLLM writes it: `1.0`, `0.001`, `600.0`.
        put(
            &mut h,
            "x-litellm-timeout",
            format!("{:?}", t.as_secs_f64()),
        );
    }
    if let Some(n) = ctx.max_retries_used {
        put(&mut h, "x-litellm-max-retries", n.to_string());
    }
    if let Some(c) = &ctx.cache {
        put(&mut h, "x-litellm-cache-key", c.key.as_str());
    }
    let total = ctx.started.elapsed();
    let overhead = total.saturating_sub(ctx.upstream_time);
    put(
        &mut h,
        "x-litellm-response-duration-ms",
        format_ms(total.as_secs_f64()),
    );
    put(
        &mut h,
        "x-litellm-overhead-duration-ms",
        format_ms(overhead.as_secs_f64()),
    );
    spend_headers(&mut h, ctx);
    for (name, value) in &ctx.limits.headers {
        if let Ok(v) = http::HeaderValue::from_str(value) {
            let _ = h.insert_header(name.clone(), v);
        }
    }
    if let Some(up) = upstream {
        // The gateway's own limits, when the call has some, replace the provider's
        // `x-ratelimit-*` (still there as `llm_provider-x-ratelimit-*`).
        copy_provider_headers(&mut h, up, ctx.limits.headers.is_empty());
    }
    Ok(h)
}

/// LiteLLM's cost header (when usage is known before the head, i.e. whole answers) and, on
/// keyed calls, the key's limits and spend; unset limits read `None`, as LiteLLM writes them.
fn spend_headers(h: &mut ResponseHeader, ctx: &RequestCtx) {
    let cost = match (&ctx.deployment, &ctx.outcome.usage) {
        _ if ctx.cache_hit => {
            put(h, "x-litellm-response-cost", "0.0");
            0.0
        }
        (Some(d), Some(u)) => {
            let cost = d.price.cost(u);
            put(h, "x-litellm-response-cost", format!("{cost:?}"));
            cost
        }
        _ => 0.0,
    };
    let Some(key) = &ctx.spend.key else {
        return;
    };
    let field = |name: &str| match key.key.doc.get(name) {
        Some(v) if !v.is_null() => v.to_string(),
        _ => "None".to_string(),
    };
    put(h, "x-litellm-key-tpm-limit", field("tpm_limit"));
    put(h, "x-litellm-key-rpm-limit", field("rpm_limit"));
    put(h, "x-litellm-key-max-budget", field("max_budget"));
    put(
        h,
        "x-litellm-key-spend",
        format!("{:?}", ctx.spend.key_spend_before + cost),
    );
}

/// Inserts a header, or leaves it out if the value cannot be sent.
fn put(h: &mut ResponseHeader, name: &'static str, value: impl TryInto<http::HeaderValue>) {
    if let Ok(v) = value.try_into() {
        // Names here are static and valid; only the value can be refused.
        let _ = h.insert_header(name, v);
    }
}

fn format_ms(secs: f64) -> String {
    format!("{:.3}", secs * 1000.0)
}

fn copy_provider_headers(h: &mut ResponseHeader, up: &ResponseHeader, provider_limits: bool) {
    for (name, value) in up.headers.iter() {
        let n = name.as_str();
        if provider_limits && n.starts_with("x-ratelimit-") {
            let _ = h.append_header(name.clone(), value.clone());
        }
        let mut prefixed = String::with_capacity(13 + n.len());
        prefixed.push_str("llm_provider-");
        prefixed.push_str(n);
        // Skipped, not fatal, if the provider's header cannot be repeated.
        let _ = h.append_header(prefixed, value.clone());
    }
}

/// A complete JSON answer.
pub async fn json(
    session: &mut Session,
    ctx: &mut RequestCtx,
    status: u16,
    body: Bytes,
    upstream: Option<&ResponseHeader>,
) -> Result<()> {
    whole(session, ctx, status, "application/json", body, upstream).await
}

/// A complete answer of any type.
pub async fn whole(
    session: &mut Session,
    ctx: &mut RequestCtx,
    status: u16,
    content_type: &'static str,
    body: Bytes,
    upstream: Option<&ResponseHeader>,
) -> Result<()> {
    let mut h = head(status, content_type, ctx, upstream)?;
    h.insert_header(header::CONTENT_LENGTH, body.len())?;
    ctx.status = status;
    ctx.head_sent = true;
    session.write_response_header(Box::new(h), false).await?;
    session.write_response_body(Some(body), true).await
}

/// An error in the client's format: OpenAI's (or Anthropic's) error JSON, or a final SSE error
/// event if a stream already started.
pub async fn error(
    session: &mut Session,
    ctx: &mut RequestCtx,
    err: &GatewayError,
    upstream: Option<&ResponseHeader>,
) -> Result<()> {
    let anthropic = ctx.inbound == Inbound::Anthropic;
    if ctx.outcome.error.is_none() {
        ctx.outcome.error = Some((err.kind, err.message.clone()));
    }
    if ctx.head_sent {
        let event = if anthropic {
            let body = crate::inbound::anthropic::error_to_anthropic(err);
            Bytes::from(format!("event: error\ndata: {body}\n\n"))
        } else {
            let mut e = err.to_sse_event().to_vec();
            e.extend_from_slice(b"data: [DONE]\n\n");
            Bytes::from(e)
        };
        return session.write_response_body(Some(event), true).await;
    }
    let body = if anthropic {
        Bytes::from(crate::inbound::anthropic::error_to_anthropic(err).to_string())
    } else {
        err.to_json()
    };
    json(session, ctx, err.status, body, upstream).await
}

/// The head of an SSE stream; its body follows chunk by chunk.
pub async fn stream_head(
    session: &mut Session,
    ctx: &mut RequestCtx,
    upstream: Option<&ResponseHeader>,
) -> Result<()> {
    let mut h = head(200, "text/event-stream", ctx, upstream)?;
    h.insert_header(header::CACHE_CONTROL, "no-cache")?;
    if !session.as_downstream().is_http2() {
        h.insert_header(header::TRANSFER_ENCODING, "chunked")?;
    }
    ctx.status = 200;
    ctx.head_sent = true;
    session.write_response_header(Box::new(h), false).await
}

/// A write to the client failed: it went away while being answered, and nobody is left to tell.
pub fn client_gone(e: Box<pingora::Error>) -> GatewayError {
    GatewayError::new(499, "client_closed", format!("client went away: {e}"))
}
