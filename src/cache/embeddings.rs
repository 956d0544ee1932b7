//! Embeddings are cached one input at a time: a request for `[a, b]` where `a` is cached asks
//! the provider for `[b]` only, and the answer is put back together in the client's order.

use super::entry::{AnswerKind, CachedAnswer};
use super::key::CallKind;
use serde_json::{json, Map, Value};

/// Entries to store: key and answer.
pub type Entries = Vec<(String, CachedAnswer)>;

/// The inputs of an embeddings request and their keys.
#[derive(Debug)]
pub struct EmbeddingPlan {
    pub items: Vec<Value>,
    pub keys: Vec<String>,
    /// What the cache already holds, by input position.
    pub cached: Vec<Option<Value>>,
}

/// An `input` as items: a string or a token array is one; a list of strings or of token
/// arrays is one each.
pub fn items_of(input: &Value) -> Vec<Value> {
    match input {
        Value::Array(list) if list.iter().all(|v| v.is_string() || v.is_array()) => list.clone(),
        other => vec![other.clone()],
    }
}

impl EmbeddingPlan {
    pub fn new(body: &Map<String, Value>, namespace: Option<&str>) -> Option<EmbeddingPlan> {
        let items = items_of(body.get("input")?);
        if items.is_empty() {
            return None;
        }
        let keys = items
            .iter()
            .map(|item| super::key::cache_key(CallKind::Embedding, body, Some(item), namespace))
            .collect();
        let cached = vec![None; items.len()];
        Some(EmbeddingPlan {
            items,
            keys,
            cached,
        })
    }

    /// Takes in what the backend found (`found[i]` for input `i`).
    pub fn found(&mut self, found: Vec<Option<CachedAnswer>>, max_age: Option<f64>) {
        let now = crate::store::now_ms();
        for (slot, hit) in self.cached.iter_mut().zip(found) {
            *slot = hit
                .filter(|a| a.kind == AnswerKind::Embedding && a.younger_than(max_age, now))
                .and_then(|a| serde_json::from_slice(&a.body).ok());
        }
    }

    pub fn all_cached(&self) -> bool {
        self.cached.iter().all(Option::is_some)
    }

    pub fn any_cached(&self) -> bool {
        self.cached.iter().any(Option::is_some)
    }

    /// The positions the provider is asked for.
    pub fn missing(&self) -> Vec<usize> {
        (0..self.items.len())
            .filter(|i| self.cached[*i].is_none())
            .collect()
    }

    /// The `input` to send: the missing items only.
    pub fn missing_input(&self) -> Value {
        Value::Array(
            self.missing()
                .into_iter()
                .map(|i| self.items[i].clone())
                .collect(),
        )
    }

    /// The entries to store from the provider's answer for the missing items, and the whole
    /// answer for the client (the cached items merged in, in order) when some were cached.
    pub fn take_answer(&self, body: &[u8]) -> Option<(Entries, Option<Value>)> {
        let mut answer: Value = serde_json::from_slice(body).ok()?;
        let missing = self.missing();
        let data = answer.get("data")?.as_array()?;
        if data.len() != missing.len() {
            return None;
        }
        let prompt_tokens = answer
            .pointer("/usage/prompt_tokens")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let share = |j: usize| {
            let n = data.len() as u64;
            prompt_tokens / n + u64::from((j as u64) < prompt_tokens % n)
        };
        let mut entries = Vec::with_capacity(data.len());
        let mut fresh: Vec<Value> = Vec::with_capacity(data.len());
        for (j, item) in data.iter().enumerate() {
            let stored = json!({"embedding": item.get("embedding")?, "prompt_tokens": share(j)});
            let bytes = serde_json::to_vec(&stored).ok()?;
            entries.push((
                self.keys[missing[j]].clone(),
                CachedAnswer::new(AnswerKind::Embedding, bytes.into()),
            ));
            fresh.push(stored);
        }
        if !self.any_cached() {
            return Some((entries, None));
        }
        let mut fresh = fresh.into_iter();
        let full: Vec<Value> = self
            .cached
            .iter()
            .map(|c| c.clone().or_else(|| fresh.next()).unwrap_or(Value::Null))
            .collect();
        let model = answer.get("model").cloned().unwrap_or(Value::Null);
        let merged = list_answer(&full, model);
        if let Some(obj) = answer.as_object_mut() {
            obj.insert("data".into(), merged["data"].clone());
            obj.insert("usage".into(), merged["usage"].clone());
        }
        Some((entries, Some(answer)))
    }

    /// The whole answer from the cache alone.
    pub fn cached_answer(&self, alias: &str) -> Option<Value> {
        let items: Option<Vec<Value>> = self.cached.iter().cloned().collect();
        Some(list_answer(&items?, Value::String(alias.to_string())))
    }
}

/// OpenAI's embeddings list from stored items, with their tokens summed as usage.
fn list_answer(items: &[Value], model: Value) -> Value {
    let tokens: u64 = items
        .iter()
        .filter_map(|i| i.get("prompt_tokens").and_then(Value::as_u64))
        .sum();
    let data: Vec<Value> = items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            json!({"object": "embedding", "index": i, "embedding": item.get("embedding").cloned().unwrap_or(Value::Null)})
        })
        .collect();
    json!({
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partly_cached_request_asks_only_for_the_rest() {
        let body = json!({"model": "e", "input": ["a", "b", "c"]});
        let mut plan = EmbeddingPlan::new(body.as_object().unwrap(), None).unwrap();
        let a = CachedAnswer::new(
            AnswerKind::Embedding,
            br#"{"embedding":[1.0],"prompt_tokens":2}"#.to_vec().into(),
        );
        plan.found(vec![Some(a), None, None], None);
        assert_eq!(plan.missing_input(), json!(["b", "c"]));
        let provider = json!({"object": "list", "model": "up", "data": [
            {"object": "embedding", "index": 0, "embedding": [2.0]},
            {"object": "embedding", "index": 1, "embedding": [3.0]}],
            "usage": {"prompt_tokens": 5, "total_tokens": 5}});
        let (entries, merged) = plan
            .take_answer(&serde_json::to_vec(&provider).unwrap())
            .unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].0, plan.keys[1]);
        let merged = merged.unwrap();
        let embeddings: Vec<&Value> = merged["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| &d["embedding"])
            .collect();
        assert_eq!(embeddings, [&json!([1.0]), &json!([2.0]), &json!([3.0])]);
        assert_eq!(merged["data"][2]["index"], 2);
        assert_eq!(merged["usage"]["prompt_tokens"], 7);
    }

    #[test]
    fn inputs_split_into_items() {
        assert_eq!(items_of(&json!("a")).len(), 1);
        assert_eq!(items_of(&json!(["a", "b"])).len(), 2);
        assert_eq!(items_of(&json!([1, 2, 3])).len(), 1);
        assert_eq!(items_of(&json!([[1, 2], [3]])).len(), 2);
    }
}
