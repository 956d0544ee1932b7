//! `latency-based-routing`: the deployment with the lowest recent latency (time to first token
//! for streams). Deployments within `lowest_latency_buffer` of the best share the traffic at
//! random, and one without a sample yet is tried first so every deployment gets measured.

use super::{random_min_by, PickInput, Strategy};
use crate::deployment::Deployment;
use rand::{Rng, RngCore};
use std::sync::Arc;

pub struct LowestLatency {
    /// E.g. 0.5: deployments up to 50 % slower than the fastest are also candidates.
    pub buffer: f64,
}

impl Strategy for LowestLatency {
    fn pick(
        &self,
        candidates: &[&Arc<Deployment>],
        input: &PickInput,
        rng: &mut dyn RngCore,
    ) -> Option<usize> {
        let latency = |i: usize| candidates[i].state.latency_us(input.stream);
        if let Some(unmeasured) = random_min_by(candidates.len(), |i| latency(i).is_some(), rng) {
            if latency(unmeasured).is_none() {
                return Some(unmeasured);
            }
        }
        let best = (0..candidates.len()).filter_map(latency).min()?;
        let limit = best as f64 * (1.0 + self.buffer.max(0.0));
        let within: Vec<usize> = (0..candidates.len())
            .filter(|&i| latency(i).is_some_and(|l| l as f64 <= limit))
            .collect();
        within.get(rng.gen_range(0..within.len().max(1))).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::router::strategy::test_support::deployments;
    use rand::SeedableRng;
    use std::time::{Duration, Instant};

    #[test]
    fn unmeasured_first_then_fastest() {
        let ds = deployments(&["model: openai/slow", "model: openai/fast"]);
        let refs: Vec<_> = ds.iter().collect();
        let input = PickInput {
            stream: false,
            estimated_tokens: 0,
            now: Instant::now(),
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let s = LowestLatency { buffer: 0.0 };
        ds[0]
            .state
            .record_latency(Duration::from_millis(200), false);
        assert_eq!(
            s.pick(&refs, &input, &mut rng),
            Some(1),
            "the unmeasured one is tried"
        );
        ds[1].state.record_latency(Duration::from_millis(20), false);
        for _ in 0..100 {
            assert_eq!(s.pick(&refs, &input, &mut rng), Some(1));
        }
    }

    #[test]
    fn buffer_shares_between_close_deployments() {
        let ds = deployments(&["model: openai/a", "model: openai/b"]);
        ds[0]
            .state
            .record_latency(Duration::from_millis(100), false);
        ds[1]
            .state
            .record_latency(Duration::from_millis(120), false);
        let refs: Vec<_> = ds.iter().collect();
        let input = PickInput {
            stream: false,
            estimated_tokens: 0,
            now: Instant::now(),
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(9);
        let s = LowestLatency { buffer: 0.5 };
        let a = (0..1000)
            .filter(|_| s.pick(&refs, &input, &mut rng) == Some(0))
            .count();
        assert!((400..600).contains(&a), "{a}");
    }
}
