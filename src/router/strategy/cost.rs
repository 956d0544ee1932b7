//! `cost-based-routing`: the cheapest deployment by its per-token prices (from `model_info` /
//! `litellm_params`, else the built-in price table); unknown prices sort last.

use super::{random_min_by, PickInput, Strategy};
use crate::deployment::Deployment;
use rand::RngCore;
use std::sync::Arc;

pub struct CheapestFirst;

impl Strategy for CheapestFirst {
    fn pick(
        &self,
        candidates: &[&Arc<Deployment>],
        _: &PickInput,
        rng: &mut dyn RngCore,
    ) -> Option<usize> {
        random_min_by(
            candidates.len(),
            |i| candidates[i].cost_per_token.unwrap_or(f64::INFINITY),
            rng,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::router::strategy::test_support::deployments;
    use rand::SeedableRng;
    use std::time::Instant;

    #[test]
    fn picks_the_cheapest() {
        let ds = deployments(&[
            "model: openai/gpt-4o",
            "model: openai/gpt-4o-mini",
            "model: openai/custom, input_cost_per_token: 0.00000001, output_cost_per_token: 0.00000002",
            "model: openai/unknown-model-xyz",
        ]);
        let refs: Vec<_> = ds.iter().collect();
        let input = PickInput {
            stream: false,
            estimated_tokens: 0,
            now: Instant::now(),
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(4);
        assert_eq!(CheapestFirst.pick(&refs, &input, &mut rng), Some(2));
        assert_eq!(CheapestFirst.pick(&refs[..2], &input, &mut rng), Some(1));
    }
}
