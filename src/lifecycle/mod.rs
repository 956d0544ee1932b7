//! One LLM call's lifecycle, as events: admitted → attempt started → attempt ended (failure
//! class, latency) → first byte → usage known → done (status, committed or not). The request
//! path emits them; what needs to know about calls (access logs now; keys and budgets, limits,
//! metrics next) subscribes with a `CallObserver` instead of reaching into the request path.
//! Observers run inline on the request's task, so they only record: no I/O, no waiting.

pub mod access_log;

use crate::auth::keys::KeyCaller;
use crate::canonical::Usage;
use crate::router::{Deployment, FailureClass};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Who the call is, as far as it is known when an event fires.
pub struct CallInfo<'a> {
    pub call_id: &'a str,
    pub started: Instant,
    /// The model group being tried.
    pub group: Option<&'a str>,
    /// The group the client asked for (before fallbacks).
    pub requested_model: Option<&'a str>,
    /// The virtual key calling, once authenticated.
    pub key: Option<&'a KeyCaller>,
    /// The request's `user` (LiteLLM's end user).
    pub end_user: Option<&'a str>,
    /// The path called, as a bounded label (`/v1/chat/completions`, ..., `other`).
    pub route: &'static str,
}

/// Where a call's token counts came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UsageSource {
    /// Reported by the provider (or computed locally for a mock answer).
    Provider,
    /// The gateway's estimate: the provider gave none (a stream cut short, an old server).
    Estimate,
    #[default]
    None,
}

impl UsageSource {
    pub fn as_str(self) -> &'static str {
        match self {
            UsageSource::Provider => "provider",
            UsageSource::Estimate => "estimate",
            UsageSource::None => "none",
        }
    }
}

/// Everything known when a call is over, for observers of `Done`.
#[derive(Debug, Clone, Default)]
pub struct CallSummary {
    pub status: u16,
    /// Some of the answer reached the client (it was neither refused nor failed before).
    pub committed: bool,
    /// Attempts made on deployments, across groups.
    pub attempts: u32,
    pub retries: u32,
    pub fallbacks: u32,
    pub usage: Option<Usage>,
    pub usage_source: UsageSource,
    /// From the send of the attempt that answered to its first byte.
    pub time_to_first_byte: Option<Duration>,
    pub duration: Duration,
    /// Of `duration`, the time spent waiting on providers.
    pub upstream_time: Duration,
    /// The answering provider's `x-ratelimit-remaining-*` headers.
    pub provider_remaining: ProviderRemaining,
    /// What made the call fall back the first time: status, class, provider.
    pub fallback_cause: Option<(u16, FailureClass, Option<&'static str>)>,
    /// The error the client was told, if any (`type`, message).
    pub error: Option<(&'static str, String)>,
    /// The client left before the answer was complete.
    pub client_gone: bool,
}

/// What the provider says is left of its rate limits (`x-ratelimit-remaining-requests`,
/// `x-ratelimit-remaining-tokens`), as LiteLLM's remaining-requests/tokens gauges report it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProviderRemaining {
    pub requests: Option<f64>,
    pub tokens: Option<f64>,
}

impl ProviderRemaining {
    pub fn from_headers(headers: &http::HeaderMap) -> ProviderRemaining {
        let number = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|n| n.is_finite())
        };
        ProviderRemaining {
            requests: number("x-ratelimit-remaining-requests"),
            tokens: number("x-ratelimit-remaining-tokens"),
        }
    }
}

pub enum CallEvent<'a> {
    Admitted,
    AttemptStarted {
        deployment: &'a Arc<Deployment>,
    },
    AttemptEnded {
        deployment: &'a Arc<Deployment>,
        /// `None`: the attempt answered.
        failure: Option<FailureClass>,
        /// The provider's (or the gateway's) status for the attempt; 200 when it answered.
        status: u16,
        latency: Duration,
    },
    FirstByte {
        deployment: &'a Arc<Deployment>,
        time_to_first_byte: Duration,
    },
    UsageKnown {
        usage: Usage,
        source: UsageSource,
    },
    /// A fallback group was tried, and answered or failed; `cause` is what made the call
    /// fall back in the first place (status, class, provider), as LiteLLM labels the event.
    FallbackTried {
        to_group: &'a str,
        /// The last deployment tried in that group.
        deployment: Option<&'a Arc<Deployment>>,
        succeeded: bool,
        cause: (u16, FailureClass, Option<&'static str>),
    },
    Done {
        deployment: Option<&'a Arc<Deployment>>,
        summary: &'a CallSummary,
    },
}

pub trait CallObserver: Send + Sync {
    fn on_event(&self, call: &CallInfo<'_>, event: &CallEvent<'_>);
}

/// The observers every call reports to, fixed at start-up.
#[derive(Default)]
pub struct Observers(Vec<Box<dyn CallObserver>>);

impl Observers {
    pub fn new(observers: Vec<Box<dyn CallObserver>>) -> Self {
        Observers(observers)
    }

    pub fn emit(&self, call: &CallInfo<'_>, event: &CallEvent<'_>) {
        for o in &self.0 {
            o.on_event(call, event);
        }
    }
}
