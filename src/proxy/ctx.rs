//! What the gateway knows about one request as it moves through the hooks.

use super::passthrough;
use crate::auth::Caller;
use crate::deployment::Deployment;
use crate::lifecycle::{CallEvent, CallInfo, CallSummary, Observers};
use crate::limits::CallLimits;
use crate::spend::recorder::CallSpend;
use crate::telemetry::traces::CallTrace;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The API format the client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Inbound {
    #[default]
    OpenAi,
    Anthropic,
}

pub struct RequestCtx {
    pub inbound: Inbound,
    pub call_id: String,
    /// The client's `x-request-id`, when it sent a usable one: kept for the access log and
    /// echoed back.
    pub request_id: Option<String>,
    pub started: Instant,
    pub group: Option<Arc<str>>,
    pub deployment: Option<Arc<Deployment>>,
    /// Time spent waiting on the provider, for `x-litellm-overhead-duration-ms`.
    pub upstream_time: Duration,
    /// The status sent to the client, once sent.
    pub status: u16,
    /// A response head has gone to the client: errors from here on are stream events.
    pub head_sent: bool,
    /// Attempts after the first, within a group (`x-litellm-attempted-retries`).
    pub retries: u32,
    /// Groups fallen back to (`x-litellm-attempted-fallbacks`).
    pub fallbacks: u32,
    /// Set for passthrough routes, which Pingora's proxy loop forwards.
    pub passthrough: Option<passthrough::Target>,
    /// How the call went, filled in as it goes; reported to observers when it is done.
    pub outcome: CallSummary,
    /// An LLM call was admitted, so its end is reported (`Done`) from Pingora's `logging`.
    pub admitted: bool,
    /// The caller presented the master key (it may use the test-only request params).
    pub master_caller: bool,
    /// Who is calling, once authenticated.
    pub caller: Caller,
    /// What the call's spend row and budget settlement need.
    pub spend: CallSpend,
    /// The rate limits the call holds, and the headers that report them.
    pub limits: CallLimits,
    /// The timeout and retry count in effect (`x-litellm-timeout`, `x-litellm-max-retries`).
    pub timeout_used: Option<Duration>,
    pub max_retries_used: Option<u64>,
    /// The response cache's part in this call, when it has one.
    pub cache: Option<crate::cache::CallCache>,
    /// Answered from the cache: no provider was called, the call costs nothing.
    pub cache_hit: bool,
    /// The first group the call was routed to: the model the client asked for.
    pub requested_group: Option<Arc<str>>,
    /// The path, as the bounded `route` metric label.
    pub route: &'static str,
    /// The call's trace, when the `otel` callback is on (an LLM route).
    pub trace: Option<Box<CallTrace>>,
    /// Counts this request as open until the context is dropped (however the request ends).
    _open: Option<OpenRequest>,
}

/// One open request in the gateway's count; the drain before exit waits for none.
pub struct OpenRequest(Arc<AtomicUsize>);

impl OpenRequest {
    pub fn new(count: &Arc<AtomicUsize>) -> OpenRequest {
        count.fetch_add(1, Ordering::AcqRel);
        OpenRequest(Arc::clone(count))
    }
}

impl Drop for OpenRequest {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl RequestCtx {
    pub fn new() -> Self {
        RequestCtx {
            inbound: Inbound::OpenAi,
            call_id: call_id(),
            request_id: None,
            started: Instant::now(),
            group: None,
            deployment: None,
            upstream_time: Duration::ZERO,
            status: 0,
            head_sent: false,
            retries: 0,
            fallbacks: 0,
            passthrough: None,
            outcome: CallSummary::default(),
            admitted: false,
            master_caller: false,
            caller: Caller::Anonymous,
            spend: CallSpend::default(),
            limits: CallLimits::default(),
            timeout_used: None,
            max_retries_used: None,
            cache: None,
            cache_hit: false,
            requested_group: None,
            route: "other",
            trace: None,
            _open: None,
        }
    }

    /// A context counted among the gateway's open requests.
    pub fn counted(open: &Arc<AtomicUsize>) -> Self {
        RequestCtx {
            _open: Some(OpenRequest::new(open)),
            ..RequestCtx::new()
        }
    }

    /// Tells the observers about this call.
    pub fn emit(&self, observers: &Observers, event: CallEvent<'_>) {
        observers.emit(&self.call_info(), &event);
    }

    /// The calling key's team, if it has one.
    pub fn caller_team(&self) -> Option<&str> {
        match &self.caller {
            crate::auth::Caller::Key(k) => k.team_id(),
            _ => None,
        }
    }

    /// Who the call is, for observers.
    pub fn call_info(&self) -> CallInfo<'_> {
        CallInfo {
            call_id: &self.call_id,
            started: self.started,
            group: self.group.as_deref(),
            requested_model: self.requested_group.as_deref(),
            key: match &self.caller {
                crate::auth::Caller::Key(k) => Some(k),
                _ => None,
            },
            end_user: self.spend.end_user.as_deref(),
            route: self.route,
        }
    }
}

/// Longest client request id kept; a longer one is replaced by the call id.
const MAX_REQUEST_ID_BYTES: usize = 128;

/// A client's `x-request-id`, if it is short visible ASCII (it goes into logs and a header).
pub fn client_request_id(headers: &http::HeaderMap) -> Option<String> {
    let v = headers.get("x-request-id")?.to_str().ok()?.trim();
    let usable =
        !v.is_empty() && v.len() <= MAX_REQUEST_ID_BYTES && v.bytes().all(|b| b.is_ascii_graphic());
    usable.then(|| v.to_string())
}

impl Default for RequestCtx {
    fn default() -> Self {
        Self::new()
    }
}

/// A random (v4) UUID from the thread's fast RNG: `Uuid::new_v4` asks the OS for entropy on
/// every call, a system call per request.
fn call_id() -> String {
    use rand::Rng;
    let bytes: [u8; 16] = rand::thread_rng().gen();
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .as_hyphenated()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_kept_only_when_short_and_printable() {
        let mut h = http::HeaderMap::new();
        assert_eq!(client_request_id(&h), None);
        h.insert("x-request-id", "abc-123".parse().unwrap()); // ok: test
        assert_eq!(client_request_id(&h).as_deref(), Some("abc-123"));
        h.insert("x-request-id", "a b".parse().unwrap()); // ok: test
        assert_eq!(client_request_id(&h), None);
        h.insert("x-request-id", "x".repeat(129).parse().unwrap()); // ok: test
        assert_eq!(client_request_id(&h), None);
    }
}
