//! Rate limits: requests and tokens per minute and calls in flight, for keys, users, teams,
//! organizations, end users, a key's or team's use of one model, deployments, and the whole
//! gateway. A call takes every limit it counts against at once, before any provider is called,
//! and gives back what it did not use when it ends. With a shared Redis the counting is done
//! there, in one atomic script per call, so a limit holds across every node; without one (or
//! while it is unreachable) each node counts alone.

pub mod headers;
pub mod plan;
mod redis_script;
pub mod window;

use crate::error::GatewayError;
use crate::shared_state::SharedRedis;
use std::sync::Arc;
use window::LocalCounters;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Requests in the last minute (`rpm_limit`).
    Requests,
    /// Tokens in the last minute (`tpm_limit`).
    Tokens,
    /// Calls in flight (`max_parallel_requests`).
    Parallel,
}

impl Kind {
    fn letter(self) -> &'static str {
        match self {
            Kind::Requests => "r",
            Kind::Tokens => "t",
            Kind::Parallel => "p",
        }
    }

    /// The word in LiteLLM's and OpenAI's header names.
    pub fn header_word(self) -> &'static str {
        match self {
            Kind::Requests => "requests",
            Kind::Tokens => "tokens",
            Kind::Parallel => "max_parallel_requests",
        }
    }
}

/// One limit a call counts against.
#[derive(Debug, Clone, PartialEq)]
pub struct Limit {
    /// LiteLLM's descriptor: `api_key`, `user`, `team`, `organization`, `end_user`,
    /// `model_per_key`, `model_per_team`, `deployment`, `global`.
    pub descriptor: &'static str,
    /// Whose: the hashed key, the user id, `{hashed key}:{model}`, ...
    pub value: String,
    pub kind: Kind,
    pub max: u64,
    /// The counter's name, here and on Redis, built once: a call's checks allocate no more.
    key: String,
}

impl Limit {
    pub fn new(descriptor: &'static str, value: String, kind: Kind, max: u64) -> Limit {
        // One hash tag for every counter: a call's script touches several, and on a Redis
        // Cluster a script's keys must share a slot.
        let key = format!("{{tollgate}}:rl:{descriptor}:{value}:{}", kind.letter());
        Limit {
            descriptor,
            value,
            kind,
            max,
            key,
        }
    }

    fn key(&self) -> &str {
        &self.key
    }
}

/// What a limit had counted when a call checked it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Usage {
    pub used: u64,
    /// The oldest second (unix) still counted in the window: the window frees up from then.
    pub oldest: Option<u64>,
}

/// A call's hold on its limits.
#[derive(Debug, Default)]
pub struct Taken {
    /// Each limit, what it had counted before this call, and what this call added.
    pub entries: Vec<(Limit, Usage, u64)>,
    /// Unix second the call was counted in.
    pub at: u64,
    request_id: String,
    on_redis: bool,
}

/// Why a call may not go ahead.
#[derive(Debug)]
pub enum Denied {
    Over {
        limit: Limit,
        usage: Usage,
        now: u64,
    },
    /// `fail_closed`, and Redis cannot be asked.
    Unverifiable,
}

impl Denied {
    /// Seconds until the refused limit has room: when its oldest counted second leaves the
    /// window (calls in flight: soon; try again in a second).
    pub fn retry_after(&self) -> u64 {
        match self {
            Denied::Over {
                usage, now, limit, ..
            } if limit.kind != Kind::Parallel => usage
                .oldest
                .map(|o| (o + window::WINDOW_SECS).saturating_sub(*now).max(1))
                .unwrap_or(1),
            _ => 1,
        }
    }

    /// The client's error, in OpenAI's shape; LiteLLM's message.
    pub fn error(&self) -> GatewayError {
        match self {
            Denied::Over { limit, usage, .. } => GatewayError::new(
                429,
                "rate_limit_error",
                format!(
                    "Rate limit exceeded for {}: {}. Limit type: {}. Current limit: {}, Remaining: {}. Limit resets in: {} s",
                    limit.descriptor,
                    display_value(limit),
                    limit.kind.header_word(),
                    limit.max,
                    limit.max.saturating_sub(usage.used),
                    self.retry_after()
                ),
            ),
            Denied::Unverifiable => GatewayError::new(
                503,
                "service_unavailable_error",
                "Rate limits cannot be checked: the shared Redis is unreachable and redis_failure_mode is fail_closed",
            ),
        }
    }
}

/// Hashed keys are long; the message names a key by its hash's first characters.
fn display_value(limit: &Limit) -> String {
    match limit.descriptor {
        "api_key" | "model_per_key" => {
            let (hash, rest) = limit.value.split_once(':').unwrap_or((&limit.value, ""));
            let short: String = hash.chars().take(12).collect();
            if rest.is_empty() {
                format!("{short}...")
            } else {
                format!("{short}...:{rest}")
            }
        }
        _ => limit.value.clone(),
    }
}

pub struct Limiter {
    local: LocalCounters,
    redis: Option<Arc<SharedRedis>>,
}

impl Limiter {
    pub fn new(redis: Option<Arc<SharedRedis>>) -> Limiter {
        Limiter {
            local: LocalCounters::default(),
            redis,
        }
    }

    /// Takes every limit at once (one request, `tokens` estimated tokens, one call in flight),
    /// or none. `hold_ms` bounds how long a call in flight counts if its node dies.
    pub async fn take(
        &self,
        request_id: &str,
        limits: Vec<Limit>,
        tokens: u64,
        hold_ms: u64,
    ) -> Result<Taken, Denied> {
        if limits.is_empty() {
            return Ok(Taken::default());
        }
        let amounts: Vec<u64> = limits.iter().map(|l| amount(l, tokens)).collect();
        if let Some(redis) = &self.redis {
            match redis_script::take(redis, request_id, &limits, &amounts, hold_ms).await {
                Ok(outcome) => return outcome,
                Err(_) if redis.fail_closed => return Err(Denied::Unverifiable),
                Err(_) => {}
            }
        }
        self.take_locally(request_id, limits, amounts)
    }

    fn take_locally(
        &self,
        request_id: &str,
        limits: Vec<Limit>,
        amounts: Vec<u64>,
    ) -> Result<Taken, Denied> {
        let now = unix_now();
        let mut entries: Vec<(Limit, Usage, u64)> = Vec::with_capacity(limits.len());
        for (limit, amount) in limits.into_iter().zip(amounts) {
            match self.local.try_take(&limit, amount, now) {
                Ok(usage) => entries.push((limit, usage, amount)),
                Err(usage) => {
                    for (taken, _, amount) in &entries {
                        self.local.adjust(taken, -signed(*amount), now);
                    }
                    return Err(Denied::Over { limit, usage, now });
                }
            }
        }
        Ok(Taken {
            entries,
            at: now,
            request_id: request_id.to_string(),
            on_redis: false,
        })
    }

    /// Gives back everything a call took (it was refused after all, by its budget say).
    pub fn release(&self, taken: Taken) {
        let corrections: Vec<(Limit, i64)> = taken
            .entries
            .into_iter()
            .map(|(limit, _, amount)| (limit, -signed(amount)))
            .filter(|(_, delta)| *delta != 0)
            .collect();
        self.correct(corrections, taken.on_redis, taken.request_id, taken.at);
    }

    /// Ends a call's hold: its calls-in-flight slot back, its token estimate replaced by what it
    /// used (`None`: unknown, the estimate stands). Never waits: Redis is told in the
    /// background.
    pub fn finish(&self, taken: Taken, used_tokens: Option<u64>) {
        let mut corrections: Vec<(Limit, i64)> = Vec::new();
        for (limit, _, amount) in taken.entries {
            let delta = match limit.kind {
                Kind::Requests => continue,
                Kind::Tokens => match used_tokens {
                    Some(used) => signed(used).saturating_sub(signed(amount)),
                    None => continue,
                },
                Kind::Parallel => -1,
            };
            if delta != 0 {
                corrections.push((limit, delta));
            }
        }
        self.correct(corrections, taken.on_redis, taken.request_id, taken.at);
    }

    fn correct(&self, corrections: Vec<(Limit, i64)>, on_redis: bool, request_id: String, at: u64) {
        if corrections.is_empty() {
            return;
        }
        if !on_redis {
            for (limit, delta) in &corrections {
                self.local.adjust(limit, *delta, at);
            }
            return;
        }
        if let Some(redis) = &self.redis {
            let redis = Arc::clone(redis);
            tokio::spawn(async move {
                redis_script::settle(&redis, &request_id, at, &corrections).await;
            });
        }
    }
}

/// A call's limits as the request path carries them.
#[derive(Debug, Default)]
pub struct CallLimits {
    /// The caller's limits (key, user, team, ...), taken at admission.
    pub taken: Option<Taken>,
    /// The current attempt's deployment `rpm` / `tpm`.
    pub deployment: Option<Taken>,
    /// What the answer's head reports about them.
    pub headers: headers::Headers,
}

/// What one call adds to a limit of this kind. A token estimate counts for at most the whole
/// limit (a `max_tokens` of 2^63 must not fill the window for a minute, nor overflow it).
fn amount(limit: &Limit, tokens: u64) -> u64 {
    match limit.kind {
        Kind::Requests | Kind::Parallel => 1,
        Kind::Tokens => tokens.min(limit.max),
    }
}

/// A count as a signed delta, saturating.
fn signed(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub fn unix_now() -> u64 {
    (crate::store::now_ms().max(0) / 1000) as u64
}
