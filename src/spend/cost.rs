//! A call's cost from its token counts and its deployment's prices: the config's
//! `input_cost_per_token` / `output_cost_per_token` first, then the built-in table.

use crate::canonical::Usage;

/// USD per token, as the deployment is priced.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Price {
    pub input: f64,
    pub output: f64,
    /// Cache reads (`cached_tokens`); the input price when the table has none.
    pub cache_read: Option<f64>,
    /// Anthropic cache writes; the input price when the table has none.
    pub cache_creation: Option<f64>,
    /// The model's longest answer, for the worst case a budget reserves.
    pub max_output_tokens: Option<u64>,
}

impl Price {
    /// The deployment's price: configured costs win over the built-in table.
    pub fn resolve(
        provider: &str,
        model: &str,
        input: Option<f64>,
        output: Option<f64>,
        max_output_tokens: Option<u64>,
    ) -> Price {
        let listed = super::prices::lookup(provider, model);
        let configured = input.is_some() || output.is_some();
        Price {
            input: input
                .or(listed.and_then(|p| p.input_cost_per_token))
                .unwrap_or(0.0),
            output: output
                .or(listed.and_then(|p| p.output_cost_per_token))
                .unwrap_or(0.0),
            // Configured prices are the whole price: a table's cache discount is for a
            // different rate card.
            cache_read: listed
                .filter(|_| !configured)
                .and_then(|p| p.cache_read_input_token_cost),
            cache_creation: listed
                .filter(|_| !configured)
                .and_then(|p| p.cache_creation_input_token_cost),
            max_output_tokens: max_output_tokens.or(listed.and_then(|p| p.max_output_tokens)),
        }
    }

    /// USD for these counts. Cached and cache-creation tokens are part of `prompt_tokens`.
    pub fn cost(&self, usage: &Usage) -> f64 {
        let cached = usage.cached_prompt_tokens.min(usage.prompt_tokens);
        let creation = usage
            .cache_creation_tokens
            .min(usage.prompt_tokens - cached);
        let plain = usage.prompt_tokens - cached - creation;
        let cost = plain as f64 * self.input
            + cached as f64 * self.cache_read.unwrap_or(self.input)
            + creation as f64 * self.cache_creation.unwrap_or(self.input)
            + usage.completion_tokens as f64 * self.output;
        if cost.is_finite() && cost > 0.0 {
            cost
        } else {
            0.0
        }
    }

    /// The most a call may cost: its prompt estimate plus its longest possible answer.
    pub fn worst_case(&self, prompt_tokens: u64, max_output_tokens: u64) -> f64 {
        let cost = prompt_tokens as f64 * self.input + max_output_tokens as f64 * self.output;
        if cost.is_finite() && cost > 0.0 {
            cost
        } else {
            0.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(prompt: u64, completion: u64) -> Usage {
        Usage {
            prompt_tokens: prompt,
            completion_tokens: completion,
            total_tokens: prompt.saturating_add(completion),
            ..Usage::default()
        }
    }

    #[test]
    fn configured_prices_win() {
        let p = Price::resolve("openai", "gpt-4o-mini", Some(1e-6), Some(2e-6), None);
        assert!((p.cost(&usage(10, 20)) - 5e-5).abs() < 1e-12);
        assert_eq!(p.cache_read, None);
    }

    #[test]
    fn table_prices_and_cache_reads() {
        let p = Price::resolve("openai", "gpt-4o-mini", None, None, None);
        assert!(p.input > 0.0 && p.output > 0.0);
        let full = p.cost(&usage(1000, 0));
        let cached = p.cost(&Usage {
            cached_prompt_tokens: 1000,
            ..usage(1000, 0)
        });
        assert!(cached < full, "cache reads are cheaper: {cached} vs {full}");
        assert!(p.max_output_tokens.unwrap_or(0) > 0);
    }

    #[test]
    fn unknown_models_cost_nothing_and_bad_counts_do_not_panic() {
        let p = Price::resolve("openai", "surely-not-a-model", None, None, None);
        assert_eq!(p.cost(&usage(10, 10)), 0.0);
        let p = Price::resolve("x", "y", Some(1.0), Some(1.0), None);
        let odd = Usage {
            cached_prompt_tokens: u64::MAX,
            cache_creation_tokens: u64::MAX,
            ..usage(5, u64::MAX)
        };
        assert!(p.cost(&odd).is_finite());
        assert!(p.worst_case(u64::MAX, u64::MAX).is_finite());
    }
}
