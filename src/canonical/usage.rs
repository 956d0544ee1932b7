//! Token counts as the provider reported them. Every translator ends up with OpenAI's `usage`
//! object (whole answers carry it, streams end with it), so that shape is the one read here;
//! spend, limits and metrics are computed from it, never from estimates when it is known.

use serde_json::Value;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
    /// `prompt_tokens_details.cached_tokens` (cache reads), part of `prompt_tokens`.
    pub cached_prompt_tokens: u64,
    /// `cache_creation_input_tokens` (Anthropic cache writes), part of `prompt_tokens`.
    pub cache_creation_tokens: u64,
    /// `completion_tokens_details.reasoning_tokens`, part of `completion_tokens`.
    pub reasoning_tokens: u64,
}

impl Usage {
    /// OpenAI's `usage` object; `None` when it is not one (absent, null, not an object).
    /// Counts a provider sends as floats, negatives or absurd numbers are clamped, never
    /// trusted to wrap anything.
    pub fn from_openai(usage: &Value) -> Option<Usage> {
        let obj = usage.as_object()?;
        let count = |v: Option<&Value>| v.map_or(0, count_of);
        let prompt = count(obj.get("prompt_tokens"));
        let completion = count(obj.get("completion_tokens"));
        let total = match obj.get("total_tokens") {
            Some(v) => count_of(v),
            None => prompt.saturating_add(completion),
        };
        Some(Usage {
            prompt_tokens: prompt,
            completion_tokens: completion,
            total_tokens: total,
            cached_prompt_tokens: count(
                obj.get("prompt_tokens_details")
                    .and_then(|d| d.get("cached_tokens")),
            ),
            cache_creation_tokens: count(obj.get("cache_creation_input_tokens")),
            reasoning_tokens: count(
                obj.get("completion_tokens_details")
                    .and_then(|d| d.get("reasoning_tokens")),
            ),
        })
    }

    /// The `usage` of a whole OpenAI-shaped answer (chat, completion or embedding).
    pub fn from_openai_body(body: &[u8]) -> Option<Usage> {
        let span = super::json_scan::find_top_level_value(body, "usage")?;
        let value: Value = serde_json::from_slice(&body[span]).ok()?;
        Usage::from_openai(&value)
    }

    /// Two answers' counts together (parts of one fanned-out call), saturating.
    pub fn add(self, other: Usage) -> Usage {
        Usage {
            prompt_tokens: self.prompt_tokens.saturating_add(other.prompt_tokens),
            completion_tokens: self
                .completion_tokens
                .saturating_add(other.completion_tokens),
            total_tokens: self.total_tokens.saturating_add(other.total_tokens),
            cached_prompt_tokens: self
                .cached_prompt_tokens
                .saturating_add(other.cached_prompt_tokens),
            cache_creation_tokens: self
                .cache_creation_tokens
                .saturating_add(other.cache_creation_tokens),
            reasoning_tokens: self.reasoning_tokens.saturating_add(other.reasoning_tokens),
        }
    }
}

/// A token count from JSON: integers as they are, floats truncated, anything else (negative,
/// NaN, a string) as 0.
fn count_of(v: &Value) -> u64 {
    if let Some(n) = v.as_u64() {
        return n;
    }
    match v.as_f64() {
        Some(f) if f.is_finite() && f > 0.0 => {
            if f >= u64::MAX as f64 {
                u64::MAX
            } else {
                f as u64
            }
        }
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_openai_usage_with_details() {
        let u = Usage::from_openai(&json!({
            "prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15,
            "prompt_tokens_details": {"cached_tokens": 4},
            "completion_tokens_details": {"reasoning_tokens": 2},
            "cache_creation_input_tokens": 3
        }))
        .unwrap();
        assert_eq!(
            u,
            Usage {
                prompt_tokens: 10,
                completion_tokens: 5,
                total_tokens: 15,
                cached_prompt_tokens: 4,
                cache_creation_tokens: 3,
                reasoning_tokens: 2
            }
        );
    }

    #[test]
    fn hostile_counts_are_clamped_and_sums_saturate() {
        let u = Usage::from_openai(&json!({
            "prompt_tokens": -3, "completion_tokens": 1e300, "total_tokens": "x"
        }))
        .unwrap();
        assert_eq!(
            (u.prompt_tokens, u.completion_tokens, u.total_tokens),
            (0, u64::MAX, 0)
        );
        let big = Usage {
            prompt_tokens: u64::MAX,
            ..Usage::default()
        };
        assert_eq!(big.add(big).prompt_tokens, u64::MAX);
        assert!(Usage::from_openai(&Value::Null).is_none());
    }

    #[test]
    fn finds_usage_in_a_whole_body() {
        let body = br#"{"id":"x","choices":[{"message":{"content":"\"usage\":1"}}],"usage":{"prompt_tokens":7,"completion_tokens":2}}"#;
        let u = Usage::from_openai_body(body).unwrap();
        assert_eq!(
            (u.prompt_tokens, u.completion_tokens, u.total_tokens),
            (7, 2, 9)
        );
        assert!(Usage::from_openai_body(br#"{"id":"x"}"#).is_none());
    }
}
