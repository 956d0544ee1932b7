//! `usage-based-routing(-v2)`: the deployment with the most TPM headroom this minute, skipping
//! any that this request would push past its `tpm` or `rpm`.

use super::{random_min_by, PickInput, Strategy};
use crate::deployment::Deployment;
use rand::RngCore;
use std::sync::Arc;

pub struct MostHeadroom;

impl Strategy for MostHeadroom {
    fn pick(
        &self,
        candidates: &[&Arc<Deployment>],
        input: &PickInput,
        rng: &mut dyn RngCore,
    ) -> Option<usize> {
        let fits: Vec<usize> = (0..candidates.len())
            .filter(|&i| {
                let d = candidates[i];
                let (requests, tokens) = d.state.usage(input.now);
                d.rpm.is_none_or(|limit| requests < limit)
                    && d.tpm
                        .is_none_or(|limit| tokens + input.estimated_tokens <= limit)
            })
            .collect();
        // Used share of the limit (or raw tokens without one): lower is more headroom.
        let load = |i: usize| {
            let d = candidates[fits[i]];
            let (_, tokens) = d.state.usage(input.now);
            match d.tpm {
                Some(limit) if limit > 0 => tokens as f64 / limit as f64,
                _ => tokens as f64,
            }
        };
        random_min_by(fits.len(), load, rng).map(|i| fits[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::router::strategy::test_support::deployments;
    use rand::SeedableRng;
    use std::time::Instant;

    #[test]
    fn prefers_headroom_and_skips_full_deployments() {
        let ds = deployments(&[
            "model: openai/a, tpm: 1000, rpm: 2",
            "model: openai/b, tpm: 1000",
        ]);
        let now = Instant::now();
        ds[1].state.record_tokens(600, now);
        let refs: Vec<_> = ds.iter().collect();
        let input = PickInput {
            stream: false,
            estimated_tokens: 100,
            now,
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(2);
        assert_eq!(MostHeadroom.pick(&refs, &input, &mut rng), Some(0));
        ds[0].state.record_request(now);
        ds[0].state.record_request(now);
        assert_eq!(
            MostHeadroom.pick(&refs, &input, &mut rng),
            Some(1),
            "a is at its rpm"
        );
        ds[1].state.record_tokens(350, now);
        assert_eq!(
            MostHeadroom.pick(&refs, &input, &mut rng),
            None,
            "b would pass its tpm"
        );
    }
}
