//! The router's rules for one config snapshot: strategy, retries, cooldowns, fallbacks.

use super::failure::FailureClass;
use super::strategy::{self, Strategy};
use crate::config::reliability::Reliability;
use crate::config::RouterSettings;
use crate::deployment::DeploymentState;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// LiteLLM's defaults.
const DEFAULT_NUM_RETRIES: u64 = 2;
const DEFAULT_ALLOWED_FAILS: u64 = 3;
const DEFAULT_COOLDOWN_SECS: f64 = 5.0;
/// A provider's `retry-after` up to this long is waited out before retrying the same deployment.
/// LiteLLM's default `max_fallbacks`.
pub const DEFAULT_MAX_FALLBACKS: u64 = 5;
pub const MAX_RETRY_AFTER_WAIT: Duration = Duration::from_secs(3);

pub struct RoutingPolicy {
    pub strategy: Box<dyn Strategy>,
    pub num_retries: u64,
    retry_policy: HashMap<String, u64>,
    allowed_fails: u64,
    allowed_fails_policy: HashMap<String, u64>,
    pub cooldown: Duration,
    pub cooldowns_enabled: bool,
    fallbacks: HashMap<String, Vec<String>>,
    context_window_fallbacks: HashMap<String, Vec<String>>,
    content_policy_fallbacks: HashMap<String, Vec<String>>,
    default_fallbacks: Vec<String>,
    pub pre_call_checks: bool,
    pub retry_after_min: Duration,
    /// Fallback groups one call may try after its own.
    pub max_fallbacks: usize,
}

impl RoutingPolicy {
    pub fn new(router: &RouterSettings, litellm: &Reliability) -> RoutingPolicy {
        let r = router.reliability.clone().or(litellm.clone());
        let to_map =
            |v: Option<Vec<(String, Vec<String>)>>| v.unwrap_or_default().into_iter().collect();
        RoutingPolicy {
            strategy: strategy::by_name(
                router.routing_strategy.as_deref(),
                router.lowest_latency_buffer,
            ),
            num_retries: r.num_retries.unwrap_or(DEFAULT_NUM_RETRIES),
            retry_policy: r.retry_policy,
            allowed_fails: r.allowed_fails.unwrap_or(DEFAULT_ALLOWED_FAILS),
            allowed_fails_policy: r.allowed_fails_policy,
            cooldown: crate::duration::from_secs(
                r.cooldown_time.unwrap_or(DEFAULT_COOLDOWN_SECS).max(0.0),
            ),
            cooldowns_enabled: !r.disable_cooldowns.unwrap_or(false),
            fallbacks: to_map(r.fallbacks),
            context_window_fallbacks: to_map(r.context_window_fallbacks),
            content_policy_fallbacks: to_map(r.content_policy_fallbacks),
            default_fallbacks: r.default_fallbacks.unwrap_or_default(),
            pre_call_checks: router.enable_pre_call_checks,
            retry_after_min: crate::duration::from_secs(r.retry_after.unwrap_or(0.0)),
            max_fallbacks: r.max_fallbacks.unwrap_or(DEFAULT_MAX_FALLBACKS) as usize,
        }
    }

    /// How many retries a failure of this class allows in its group.
    pub fn retries_for(&self, class: FailureClass) -> u64 {
        match self.retry_policy.get(class.retry_policy_key()) {
            Some(n) => *n,
            None if class.retried_by_default() => self.num_retries,
            None => 0,
        }
    }

    /// Records a failure of a deployment and cools it down when the rules say so (then true).
    /// A group's only deployment is never cooled down (that would take the whole group out),
    /// as in LiteLLM.
    pub fn record_failure(
        &self,
        state: &DeploymentState,
        class: FailureClass,
        group_size: usize,
        now: Instant,
    ) -> bool {
        if !self.cooldowns_enabled || !class.counts_against_deployment() || group_size <= 1 {
            return false;
        }
        let fails = state.record_failure(now);
        let allowed = self
            .allowed_fails_policy
            .get(class.allowed_fails_key())
            .copied()
            .unwrap_or(self.allowed_fails);
        let policy_set = self
            .allowed_fails_policy
            .contains_key(class.allowed_fails_key());
        let cools = (class.cools_down_at_once() && !policy_set) || fails > allowed;
        if cools {
            state.cool_down(self.cooldown, now);
        }
        cools
    }

    /// The groups to fall back to after `group` failed with `class`, in order.
    pub fn fallbacks_for(&self, group: &str, class: FailureClass) -> &[String] {
        let specific = match class {
            FailureClass::ContextWindowExceeded => self.context_window_fallbacks.get(group),
            FailureClass::ContentPolicyViolation => self.content_policy_fallbacks.get(group),
            FailureClass::BadRequest => return &[],
            _ => None,
        };
        specific
            .or_else(|| self.fallbacks.get(group))
            .or_else(|| self.fallbacks.get("*"))
            .map(Vec::as_slice)
            .unwrap_or(&self.default_fallbacks)
    }

    /// Every group named as a fallback target, for checking them at load.
    pub fn fallback_targets(&self) -> impl Iterator<Item = &String> {
        self.fallbacks
            .values()
            .chain(self.context_window_fallbacks.values())
            .chain(self.content_policy_fallbacks.values())
            .flatten()
            .chain(self.default_fallbacks.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config;

    fn policy(yaml: &str) -> RoutingPolicy {
        let c = config::load_str(yaml)
            .unwrap_or_else(|e| panic!("{e}"))
            .config;
        RoutingPolicy::new(&c.router, &c.litellm.reliability)
    }

    #[test]
    fn retry_policy_overrides_num_retries_per_class() {
        let p = policy("router_settings:\n  num_retries: 4\n  retry_policy: {RateLimitErrorRetries: 1, BadRequestErrorRetries: 2}\n");
        assert_eq!(p.retries_for(FailureClass::RateLimit), 1);
        assert_eq!(p.retries_for(FailureClass::InternalServer), 4);
        assert_eq!(p.retries_for(FailureClass::BadRequest), 2);
        assert_eq!(p.retries_for(FailureClass::ContentPolicyViolation), 0);
        let d = policy("");
        assert_eq!(d.retries_for(FailureClass::Timeout), DEFAULT_NUM_RETRIES);
    }

    #[test]
    fn allowed_fails_then_cooldown_and_429_at_once() {
        let p = policy("router_settings:\n  allowed_fails: 2\n  cooldown_time: 30\n");
        let s = DeploymentState::default();
        let now = Instant::now();
        p.record_failure(&s, FailureClass::InternalServer, 2, now);
        p.record_failure(&s, FailureClass::InternalServer, 2, now);
        assert!(s.cooldown_left(now).is_none(), "two failures are allowed");
        p.record_failure(&s, FailureClass::InternalServer, 2, now);
        assert!(s.cooldown_left(now).unwrap() > Duration::from_secs(29));
        let s2 = DeploymentState::default();
        p.record_failure(&s2, FailureClass::RateLimit, 2, now);
        assert!(s2.cooldown_left(now).is_some(), "a 429 cools down at once");
        let s3 = DeploymentState::default();
        p.record_failure(&s3, FailureClass::BadRequest, 2, now);
        p.record_failure(&s3, FailureClass::RateLimit, 1, now);
        assert!(
            s3.cooldown_left(now).is_none(),
            "bad requests and single deployments never cool down"
        );
    }

    #[test]
    fn disable_cooldowns_and_allowed_fails_policy() {
        let p = policy("router_settings:\n  disable_cooldowns: true\n");
        let s = DeploymentState::default();
        p.record_failure(&s, FailureClass::RateLimit, 3, Instant::now());
        assert!(s.cooldown_left(Instant::now()).is_none());
        let p =
            policy("router_settings:\n  allowed_fails_policy: {RateLimitErrorAllowedFails: 1}\n");
        let s = DeploymentState::default();
        let now = Instant::now();
        p.record_failure(&s, FailureClass::RateLimit, 3, now);
        assert!(s.cooldown_left(now).is_none(), "the policy allows one 429");
        p.record_failure(&s, FailureClass::RateLimit, 3, now);
        assert!(s.cooldown_left(now).is_some());
    }

    #[test]
    fn fallbacks_by_class_with_generic_and_default() {
        let p = policy(
            "router_settings:\n  fallbacks: [{a: [b, c]}]\n  context_window_fallbacks: [{a: [big]}]\nlitellm_settings:\n  default_fallbacks: [d]\n",
        );
        assert_eq!(
            p.fallbacks_for("a", FailureClass::InternalServer),
            ["b", "c"]
        );
        assert_eq!(
            p.fallbacks_for("a", FailureClass::ContextWindowExceeded),
            ["big"]
        );
        assert_eq!(
            p.fallbacks_for("a", FailureClass::ContentPolicyViolation),
            ["b", "c"]
        );
        assert_eq!(p.fallbacks_for("x", FailureClass::RateLimit), ["d"]);
        assert!(p.fallbacks_for("a", FailureClass::BadRequest).is_empty());
    }
}
