//! Routing strategies (`router_settings.routing_strategy`): each picks one deployment among the
//! available ones of a tier. Randomness comes in from the caller so tests can seed it.

mod cost;
mod latency;
mod least_busy;
mod shuffle;
mod usage;

use super::Deployment;
use rand::RngCore;
use std::sync::Arc;
use std::time::Instant;

pub use cost::CheapestFirst;
pub use latency::LowestLatency;
pub use least_busy::LeastBusy;
pub use shuffle::WeightedShuffle;
pub use usage::MostHeadroom;

/// What a strategy may weigh about the request.
pub struct PickInput {
    pub stream: bool,
    /// Estimated prompt + completion tokens, for TPM headroom.
    pub estimated_tokens: u64,
    pub now: Instant,
}

pub trait Strategy: Send + Sync {
    /// The index of the chosen deployment in `candidates` (non-empty), or `None` when none may
    /// take this request (e.g. all over their TPM/RPM).
    fn pick(
        &self,
        candidates: &[&Arc<Deployment>],
        input: &PickInput,
        rng: &mut dyn RngCore,
    ) -> Option<usize>;
}

/// The strategy for a `routing_strategy` name (validated at config load).
pub fn by_name(name: Option<&str>, lowest_latency_buffer: f64) -> Box<dyn Strategy> {
    match name.unwrap_or("simple-shuffle") {
        "least-busy" => Box::new(LeastBusy),
        "latency-based-routing" => Box::new(LowestLatency {
            buffer: lowest_latency_buffer,
        }),
        "usage-based-routing" | "usage-based-routing-v2" => Box::new(MostHeadroom),
        "cost-based-routing" => Box::new(CheapestFirst),
        _ => Box::new(WeightedShuffle),
    }
}

/// A uniformly random index among those whose `key` is minimal.
fn random_min_by<K: PartialOrd + Copy>(
    n: usize,
    key: impl Fn(usize) -> K,
    rng: &mut dyn RngCore,
) -> Option<usize> {
    let mut best: Option<K> = None;
    let mut ties = 0u32;
    let mut chosen = None;
    for i in 0..n {
        let k = key(i);
        match best {
            Some(b) if k > b => continue,
            Some(b) if k == b => {
                // Reservoir sampling keeps each tie equally likely without a buffer.
                ties += 1;
                if rng.next_u32() % ties == 0 {
                    chosen = Some(i);
                }
            }
            _ => {
                best = Some(k);
                ties = 1;
                chosen = Some(i);
            }
        }
    }
    chosen
}

#[cfg(test)]
pub(crate) mod test_support {
    use crate::config;
    use crate::deployment::Deployment;
    use std::sync::Arc;

    /// Deployments from YAML `litellm_params` snippets, one per entry.
    pub fn deployments(params: &[&str]) -> Vec<Arc<Deployment>> {
        let mut yaml = String::from("model_list:\n");
        for p in params {
            yaml.push_str(&format!("  - model_name: g\n    litellm_params: {{api_base: \"http://127.0.0.1:9/v1\", {p}}}\n"));
        }
        let loaded = config::load_str(&yaml).unwrap_or_else(|e| panic!("{e}"));
        loaded
            .config
            .model_list
            .iter()
            .map(|c| Arc::new(crate::compile::deployment(c, Default::default()).unwrap()))
            .collect()
    }
}
