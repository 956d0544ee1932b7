//! What the gateway keeps about each deployment across config snapshots (it is owned by the
//! `Gateway`, by deployment id): its refreshed access token, and what the router learns while
//! serving: in-flight calls, recent latency,
//! this minute's usage, failures and cooldown, health. Lock-free atomics only, so every request
//! can read and update it. It lives outside the config snapshot and is carried over on reload
//! for deployments whose id did not change.

use arc_swap::ArcSwapOption;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct DeploymentState {
    epoch: Instant,
    pub in_flight: AtomicU64,
    /// Exponentially weighted mean latency in microseconds (0 = no sample yet).
    latency_us: AtomicU64,
    /// The same for the time to first token of streams.
    ttft_us: AtomicU64,
    /// The minute (since `epoch`) the usage counters belong to.
    usage_minute: AtomicU64,
    requests_this_minute: AtomicU64,
    tokens_this_minute: AtomicU64,
    fail_minute: AtomicU64,
    fails_this_minute: AtomicU64,
    /// Milliseconds since `epoch` until which the deployment is cooling down.
    cooldown_until_ms: AtomicU64,
    healthy: AtomicBool,
    health_error: ArcSwapOption<String>,
    /// Unix ms of the last background health check's end (0: none yet), and its duration.
    checked_at_ms: AtomicU64,
    check_latency_us: AtomicU64,
    /// A refreshed access token (Vertex AI, Azure Entra ID), written by a background refresher.
    pub access_token: TokenCell,
    /// AWS keys from the credential chain, written by its background refresher.
    pub aws_keys: RefreshedCell<AwsKeys>,
}

/// An access token: written by a background refresher, read lock-free by every request.
pub type TokenCell = RefreshedCell<String>;

/// A credential a background refresher keeps fresh and every request reads lock-free.
pub struct RefreshedCell<T>(ArcSwapOption<T>);

impl<T> Default for RefreshedCell<T> {
    fn default() -> Self {
        RefreshedCell(ArcSwapOption::empty())
    }
}

impl<T> RefreshedCell<T> {
    pub fn get(&self) -> Option<Arc<T>> {
        self.0.load_full()
    }

    pub fn set(&self, value: Option<T>) {
        self.0.store(value.map(Arc::new));
    }

    pub fn set_shared(&self, value: Arc<T>) {
        self.0.store(Some(value));
    }
}

/// AWS keys fetched by the credential chain's refresher (a profile file, an instance or
/// container role, web identity, an assumed role).
#[derive(Clone, PartialEq, Eq)]
pub struct AwsKeys {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl std::fmt::Debug for AwsKeys {
    // Secrets never reach logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsKeys")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// Weight of a new latency sample in the moving average.
const EWMA_ALPHA: f64 = 0.3;

impl Default for DeploymentState {
    fn default() -> Self {
        DeploymentState {
            epoch: Instant::now(),
            in_flight: AtomicU64::new(0),
            latency_us: AtomicU64::new(0),
            ttft_us: AtomicU64::new(0),
            usage_minute: AtomicU64::new(0),
            requests_this_minute: AtomicU64::new(0),
            tokens_this_minute: AtomicU64::new(0),
            fail_minute: AtomicU64::new(0),
            fails_this_minute: AtomicU64::new(0),
            cooldown_until_ms: AtomicU64::new(0),
            healthy: AtomicBool::new(true),
            health_error: ArcSwapOption::empty(),
            checked_at_ms: AtomicU64::new(0),
            check_latency_us: AtomicU64::new(0),
            access_token: TokenCell::default(),
            aws_keys: RefreshedCell::default(),
        }
    }
}

impl DeploymentState {
    fn now_ms(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.epoch).as_millis() as u64
    }

    fn minute(&self, now: Instant) -> u64 {
        self.now_ms(now) / 60_000
    }

    /// Marks a call started; the guard marks it finished when dropped.
    pub fn start_call(&self) -> InFlight<'_> {
        self.in_flight.fetch_add(1, Relaxed);
        InFlight(self)
    }

    pub fn record_latency(&self, d: Duration, first_token: bool) {
        let cell = if first_token {
            &self.ttft_us
        } else {
            &self.latency_us
        };
        let sample = d.as_micros().max(1) as f64;
        let old = cell.load(Relaxed);
        let new = if old == 0 {
            sample
        } else {
            old as f64 * (1.0 - EWMA_ALPHA) + sample * EWMA_ALPHA
        };
        cell.store(new as u64, Relaxed);
    }

    /// Recent latency in microseconds, preferring time to first token for streams; `None`
    /// before any sample.
    pub fn latency_us(&self, stream: bool) -> Option<u64> {
        let ttft = self.ttft_us.load(Relaxed);
        let whole = self.latency_us.load(Relaxed);
        let v = if stream && ttft > 0 {
            ttft
        } else if whole > 0 {
            whole
        } else {
            ttft
        };
        (v > 0).then_some(v)
    }

    fn roll_usage(&self, now: Instant) {
        let m = self.minute(now);
        if self.usage_minute.swap(m, Relaxed) != m {
            self.requests_this_minute.store(0, Relaxed);
            self.tokens_this_minute.store(0, Relaxed);
        }
    }

    pub fn record_request(&self, now: Instant) {
        self.roll_usage(now);
        self.requests_this_minute.fetch_add(1, Relaxed);
    }

    pub fn record_tokens(&self, tokens: u64, now: Instant) {
        self.roll_usage(now);
        // Saturating: an estimate from a `max_tokens` near u64::MAX must not wrap to "empty".
        let _ = self
            .tokens_this_minute
            .fetch_update(Relaxed, Relaxed, |t| Some(t.saturating_add(tokens)));
    }

    /// (requests, tokens) used this minute.
    pub fn usage(&self, now: Instant) -> (u64, u64) {
        if self.usage_minute.load(Relaxed) != self.minute(now) {
            return (0, 0);
        }
        (
            self.requests_this_minute.load(Relaxed),
            self.tokens_this_minute.load(Relaxed),
        )
    }

    /// Counts a failure; returns how many this minute, including it.
    pub fn record_failure(&self, now: Instant) -> u64 {
        let m = self.minute(now);
        if self.fail_minute.swap(m, Relaxed) != m {
            self.fails_this_minute.store(0, Relaxed);
        }
        self.fails_this_minute
            .fetch_add(1, Relaxed)
            .saturating_add(1)
    }

    /// Cools the deployment down for `d` from `now`. A deployment cooled down again gets the
    /// new deadline, even when it is later than the current one (LiteLLM issue #40130 kept the
    /// old, shorter one).
    pub fn cool_down(&self, d: Duration, now: Instant) {
        let until = self.now_ms(now) + d.as_millis() as u64;
        self.cooldown_until_ms.fetch_max(until, Relaxed);
        self.fails_this_minute.store(0, Relaxed);
    }

    /// Time left in cooldown, if cooling down.
    pub fn cooldown_left(&self, now: Instant) -> Option<Duration> {
        let until = self.cooldown_until_ms.load(Relaxed);
        let now_ms = self.now_ms(now);
        (until > now_ms).then(|| Duration::from_millis(until - now_ms))
    }

    pub fn set_healthy(&self, healthy: bool) {
        self.healthy.store(healthy, Relaxed);
    }

    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Relaxed)
    }

    pub fn set_health_error(&self, e: Option<String>) {
        self.health_error.store(e.map(Arc::new));
    }

    /// A background health check ended at `at_unix_ms` after `took`.
    pub fn record_check(&self, at_unix_ms: u64, took: Duration) {
        self.check_latency_us
            .store(took.as_micros().min(u64::MAX as u128) as u64, Relaxed);
        self.checked_at_ms.store(at_unix_ms, Relaxed);
    }

    /// When the last background health check ended (unix ms) and how long it took.
    pub fn last_check(&self) -> Option<(u64, Duration)> {
        let at = self.checked_at_ms.load(Relaxed);
        (at > 0).then(|| {
            (
                at,
                Duration::from_micros(self.check_latency_us.load(Relaxed)),
            )
        })
    }

    /// Why the last health check failed.
    pub fn health_error(&self) -> Option<Arc<String>> {
        self.health_error.load_full()
    }
}

pub struct InFlight<'a>(&'a DeploymentState);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cooldown_expires_and_is_extended_by_a_new_one() {
        let s = DeploymentState::default();
        let t0 = s.epoch + Duration::from_secs(1);
        s.cool_down(Duration::from_secs(5), t0);
        assert!(s.cooldown_left(t0 + Duration::from_secs(4)).is_some());
        assert!(s.cooldown_left(t0 + Duration::from_secs(6)).is_none());
        // Cooled down again at t0+3 for 5 s: the deadline moves to t0+8.
        s.cool_down(Duration::from_secs(5), t0 + Duration::from_secs(3));
        assert!(s.cooldown_left(t0 + Duration::from_secs(7)).is_some());
        assert!(s.cooldown_left(t0 + Duration::from_millis(8001)).is_none());
    }

    #[test]
    fn failures_count_per_minute() {
        let s = DeploymentState::default();
        let t0 = s.epoch;
        assert_eq!(s.record_failure(t0), 1);
        assert_eq!(s.record_failure(t0 + Duration::from_secs(10)), 2);
        assert_eq!(s.record_failure(t0 + Duration::from_secs(61)), 1);
    }

    #[test]
    fn in_flight_guard_counts_down_on_drop() {
        let s = DeploymentState::default();
        {
            let _a = s.start_call();
            let _b = s.start_call();
            assert_eq!(s.in_flight.load(Relaxed), 2);
        }
        assert_eq!(s.in_flight.load(Relaxed), 0);
    }

    #[test]
    fn latency_prefers_ttft_for_streams() {
        let s = DeploymentState::default();
        assert_eq!(s.latency_us(false), None);
        s.record_latency(Duration::from_millis(100), false);
        s.record_latency(Duration::from_millis(10), true);
        assert_eq!(s.latency_us(false), Some(100_000));
        assert_eq!(s.latency_us(true), Some(10_000));
    }
}
