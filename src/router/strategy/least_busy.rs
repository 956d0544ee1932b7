//! `least-busy`: the deployment with the fewest calls in flight.

use super::{random_min_by, PickInput, Strategy};
use crate::deployment::Deployment;
use rand::RngCore;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

pub struct LeastBusy;

impl Strategy for LeastBusy {
    fn pick(
        &self,
        candidates: &[&Arc<Deployment>],
        _: &PickInput,
        rng: &mut dyn RngCore,
    ) -> Option<usize> {
        random_min_by(
            candidates.len(),
            |i| candidates[i].state.in_flight.load(Relaxed),
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
    fn picks_the_idlest() {
        let ds = deployments(&["model: openai/a", "model: openai/b", "model: openai/c"]);
        let _busy = [
            ds[0].state.start_call(),
            ds[0].state.start_call(),
            ds[2].state.start_call(),
        ];
        let refs: Vec<_> = ds.iter().collect();
        let input = PickInput {
            stream: false,
            estimated_tokens: 0,
            now: Instant::now(),
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        for _ in 0..100 {
            assert_eq!(LeastBusy.pick(&refs, &input, &mut rng), Some(1));
        }
    }
}
