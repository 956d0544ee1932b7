//! The built-in price and context-window table (`data/model_prices.json`, derived from LiteLLM's
//! MIT-licensed table), parsed once on first use.

use serde::Deserialize;
use std::collections::HashMap;
use std::sync::OnceLock;

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ModelPrice {
    pub litellm_provider: Option<String>,
    pub mode: Option<String>,
    pub input_cost_per_token: Option<f64>,
    pub output_cost_per_token: Option<f64>,
    pub cache_read_input_token_cost: Option<f64>,
    pub cache_creation_input_token_cost: Option<f64>,
    pub max_input_tokens: Option<u64>,
    pub max_output_tokens: Option<u64>,
}

static TABLE: OnceLock<HashMap<String, ModelPrice>> = OnceLock::new();

fn table() -> &'static HashMap<String, ModelPrice> {
    TABLE.get_or_init(|| {
        serde_json::from_slice(include_bytes!("../../data/model_prices.json")).unwrap_or_else(|e| {
            log::error!("built-in price table is unreadable: {e}");
            HashMap::new()
        })
    })
}

/// The table's entry for a model: `provider/model` first (as LiteLLM keys many), then the bare
/// model name.
pub fn lookup(provider: &str, model: &str) -> Option<&'static ModelPrice> {
    let t = table();
    t.get(&format!("{provider}/{model}"))
        .or_else(|| t.get(model))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_bare_and_prefixed_models() {
        let p = lookup("openai", "gpt-4o-mini").unwrap();
        assert!(p.input_cost_per_token.unwrap() > 0.0);
        assert!(p.max_input_tokens.unwrap() >= 128_000);
        assert!(lookup("groq", "openai/gpt-oss-120b").is_some());
        assert!(lookup("openai", "surely-not-a-model").is_none());
    }
}
