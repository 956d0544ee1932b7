//! One node's limit counters: a sliding window of one-second buckets per limited scope (a
//! minute of requests or tokens), and a gauge of calls in flight. A window never admits twice
//! its limit across a minute boundary, as fixed buckets would: it always sums the last 60 s.

use super::{Kind, Limit, Usage};
use dashmap::DashMap;

/// Seconds in a window (LiteLLM's RPM / TPM are per minute).
pub const WINDOW_SECS: u64 = 60;

#[derive(Debug, Clone)]
struct Window {
    /// `(second, amount)` ring, indexed by second % WINDOW_SECS.
    buckets: [(u64, u64); WINDOW_SECS as usize],
}

impl Default for Window {
    fn default() -> Self {
        Window {
            buckets: [(0, 0); WINDOW_SECS as usize],
        }
    }
}

impl Window {
    /// What the last minute holds, and the oldest second still in it.
    fn used(&self, now: u64) -> (u64, Option<u64>) {
        let since = now.saturating_sub(WINDOW_SECS - 1);
        let mut used = 0u64;
        let mut oldest: Option<u64> = None;
        for &(sec, amount) in &self.buckets {
            if sec >= since && sec <= now && amount > 0 {
                used = used.saturating_add(amount);
                oldest = Some(oldest.map_or(sec, |o| o.min(sec)));
            }
        }
        (used, oldest)
    }

    fn add(&mut self, now: u64, amount: i64) {
        let slot = &mut self.buckets[(now % WINDOW_SECS) as usize];
        if slot.0 != now {
            *slot = (now, 0);
        }
        slot.1 = if amount >= 0 {
            slot.1.saturating_add(amount.unsigned_abs())
        } else {
            slot.1.saturating_sub(amount.unsigned_abs())
        };
    }
}

#[derive(Debug, Default)]
pub struct LocalCounters {
    windows: DashMap<String, Window>,
    in_flight: DashMap<String, u64>,
}

impl LocalCounters {
    /// Checks one limit and, if it has room, counts `amount` in it, as one step. Requests and
    /// calls in flight fit while used + amount ≤ max; tokens while the minute's use is under
    /// the limit (a call's size is known only after it).
    pub fn try_take(&self, limit: &Limit, amount: u64, now: u64) -> Result<Usage, Usage> {
        match limit.kind {
            Kind::Parallel => {
                let mut n = match self.in_flight.get_mut(limit.key()) {
                    Some(n) => n,
                    None => self.in_flight.entry(limit.key().to_owned()).or_default(),
                };
                let usage = Usage {
                    used: *n,
                    oldest: None,
                };
                if *n + amount > limit.max {
                    return Err(usage);
                }
                *n += amount;
                Ok(usage)
            }
            Kind::Requests | Kind::Tokens => {
                let mut w = match self.windows.get_mut(limit.key()) {
                    Some(w) => w,
                    None => self.windows.entry(limit.key().to_owned()).or_default(),
                };
                let (used, oldest) = w.used(now);
                let usage = Usage { used, oldest };
                let over = match limit.kind {
                    Kind::Requests => used + amount > limit.max,
                    _ => used >= limit.max,
                };
                if over {
                    return Err(usage);
                }
                w.add(now, super::signed(amount));
                Ok(usage)
            }
        }
    }

    /// Undoes or corrects what `try_take` counted: `delta` tokens in the bucket of `at`, or one
    /// call out of flight.
    pub fn adjust(&self, limit: &Limit, delta: i64, at: u64) {
        match limit.kind {
            Kind::Parallel => {
                if let Some(mut n) = self.in_flight.get_mut(limit.key()) {
                    *n = n.saturating_sub(delta.unsigned_abs());
                }
            }
            Kind::Requests | Kind::Tokens => {
                if let Some(mut w) = self.windows.get_mut(limit.key()) {
                    w.add(at, delta);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(kind: Kind, max: u64) -> Limit {
        Limit::new("api_key", "k".into(), kind, max)
    }

    #[test]
    fn a_minute_of_requests_slides_and_never_doubles_at_a_boundary() {
        let c = LocalCounters::default();
        let rpm = limit(Kind::Requests, 10);
        for i in 0..10 {
            assert!(c.try_take(&rpm, 1, 1000 + i % 2).is_ok());
        }
        let refused = c.try_take(&rpm, 1, 1001).unwrap_err();
        assert_eq!((refused.used, refused.oldest), (10, Some(1000)));
        // A fixed minute would reset at 1020; a sliding one still holds all ten.
        assert!(c.try_take(&rpm, 1, 1020).is_err());
        assert!(c.try_take(&rpm, 1, 1059).is_err());
        // At 1060 the requests of 1000 leave the window: five of them.
        for _ in 0..5 {
            assert!(c.try_take(&rpm, 1, 1060).is_ok());
        }
        assert!(c.try_take(&rpm, 1, 1060).is_err());
    }

    #[test]
    fn tokens_refuse_once_spent_and_settle_to_real_use() {
        let c = LocalCounters::default();
        let tpm = limit(Kind::Tokens, 100);
        assert!(c.try_take(&tpm, 80, 5).is_ok());
        c.adjust(&tpm, -50, 5); // the call used 30
        assert!(c.try_take(&tpm, 80, 6).is_ok()); // 30 used: room, whatever the size
        assert!(c.try_take(&tpm, 1, 6).is_err()); // 110 used
    }

    #[test]
    fn calls_in_flight_count_up_and_down() {
        let c = LocalCounters::default();
        let parallel = limit(Kind::Parallel, 2);
        assert!(c.try_take(&parallel, 1, 0).is_ok());
        assert!(c.try_take(&parallel, 1, 0).is_ok());
        assert!(c.try_take(&parallel, 1, 0).is_err());
        c.adjust(&parallel, -1, 0);
        assert!(c.try_take(&parallel, 1, 0).is_ok());
    }
}
