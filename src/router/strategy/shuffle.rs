//! `simple-shuffle`: weighted random, by `weight`, else `rpm`, else `tpm`, else equal.

use super::{PickInput, Strategy};
use crate::deployment::Deployment;
use rand::{Rng, RngCore};
use std::sync::Arc;

pub struct WeightedShuffle;

impl Strategy for WeightedShuffle {
    fn pick(
        &self,
        candidates: &[&Arc<Deployment>],
        _: &PickInput,
        rng: &mut dyn RngCore,
    ) -> Option<usize> {
        if candidates.len() == 1 {
            return Some(0);
        }
        let total: f64 = candidates.iter().map(|d| d.weight).sum();
        if total <= 0.0 {
            return Some(rng.gen_range(0..candidates.len()));
        }
        let mut x = rng.gen_range(0.0..total);
        for (i, d) in candidates.iter().enumerate() {
            if x < d.weight {
                return Some(i);
            }
            x -= d.weight;
        }
        Some(candidates.len() - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::router::strategy::test_support::deployments;
    use rand::SeedableRng;
    use std::time::Instant;

    #[test]
    fn shares_follow_weights_over_10000_picks() {
        let ds = deployments(&[
            "model: openai/a, weight: 1",
            "model: openai/b, weight: 3",
            "model: openai/c, weight: 6",
        ]);
        let refs: Vec<_> = ds.iter().collect();
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let input = PickInput {
            stream: false,
            estimated_tokens: 0,
            now: Instant::now(),
        };
        let mut counts = [0u32; 3];
        for _ in 0..10_000 {
            counts[WeightedShuffle.pick(&refs, &input, &mut rng).unwrap()] += 1;
        }
        for (count, want) in counts.iter().zip([0.1, 0.3, 0.6]) {
            let share = *count as f64 / 10_000.0;
            assert!(
                (share - want).abs() < 0.02,
                "share {share} vs weight {want}: {counts:?}"
            );
        }
    }

    #[test]
    fn rpm_is_the_weight_when_no_weight_is_set() {
        let ds = deployments(&["model: openai/a, rpm: 100", "model: openai/b, rpm: 900"]);
        let refs: Vec<_> = ds.iter().collect();
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let input = PickInput {
            stream: false,
            estimated_tokens: 0,
            now: Instant::now(),
        };
        let b = (0..10_000)
            .filter(|_| WeightedShuffle.pick(&refs, &input, &mut rng) == Some(1))
            .count();
        assert!((b as f64 / 10_000.0 - 0.9).abs() < 0.02, "{b}");
    }
}
