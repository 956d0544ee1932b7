//! OpenAI `/embeddings` on Google's two embedding APIs:
//!
//! - AI Studio `models/{m}:batchEmbedContents`: `{requests: [{model, content: {parts:
//!   [{text}]}, outputDimensionality}]}` in, `{embeddings: [{values}]}` out;
//! - Vertex `publishers/google/models/{m}:predict`: `{instances: [{content}], parameters:
//!   {outputDimensionality}}` in, `{predictions: [{embeddings: {values, statistics:
//!   {token_count}}}]}` out.
//!
//! Answers come back as OpenAI's `{object: "list", data: [{object: "embedding", index,
//! embedding}], model, usage}`; with `encoding_format: "base64"` each vector is the base64 of
//! its little-endian f32s, as OpenAI encodes it.

use base64::Engine;
use serde_json::{json, Map, Value};

use crate::error::GatewayError;

/// An OpenAI embeddings request, read once for either Google API.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbeddingRequest {
    pub texts: Vec<String>,
    /// `dimensions`: Google's `outputDimensionality`.
    pub dimensions: Option<u64>,
    /// LiteLLM's `task_type` (`RETRIEVAL_QUERY`, `SEMANTIC_SIMILARITY`, ...).
    pub task_type: Option<String>,
    /// `encoding_format: "base64"`.
    pub base64: bool,
}

impl EmbeddingRequest {
    pub fn from_openai(openai: &Value) -> Result<Self, GatewayError> {
        let texts = match openai.get("input") {
            Some(Value::String(text)) => vec![text.clone()],
            Some(Value::Array(items)) if !items.is_empty() => items
                .iter()
                .map(|i| i.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| {
                    invalid(
                        "input",
                        "input must be a string or a list of strings (Google's embedding APIs take no token arrays)",
                    )
                })?,
            _ => return Err(invalid("input", "input must be a string or a non-empty list of strings")),
        };
        let dimensions =
            match openai.get("dimensions") {
                None | Some(Value::Null) => None,
                Some(v) => Some(v.as_u64().filter(|d| *d > 0).ok_or_else(|| {
                    invalid("dimensions", "dimensions must be a positive integer")
                })?),
            };
        let base64 = match openai.get("encoding_format").and_then(Value::as_str) {
            None | Some("float") => false,
            Some("base64") => true,
            Some(_) => {
                return Err(invalid(
                    "encoding_format",
                    "encoding_format must be \"float\" or \"base64\"",
                ))
            }
        };
        let task_type = openai
            .get("task_type")
            .and_then(Value::as_str)
            .map(str::to_string);
        Ok(EmbeddingRequest {
            texts,
            dimensions,
            task_type,
            base64,
        })
    }

    /// The `batchEmbedContents` body for `model` (the bare name, or `models/...`).
    pub fn batch_embed_body(&self, model: &str) -> Value {
        let model = if model.starts_with("models/") {
            model.to_string()
        } else {
            format!("models/{model}")
        };
        let requests: Vec<Value> = self
            .texts
            .iter()
            .map(|text| {
                let mut request = Map::new();
                request.insert("model".into(), json!(model));
                request.insert("content".into(), json!({"parts": [{"text": text}]}));
                if let Some(d) = self.dimensions {
                    request.insert("outputDimensionality".into(), json!(d));
                }
                if let Some(task) = &self.task_type {
                    request.insert("taskType".into(), json!(task));
                }
                Value::Object(request)
            })
            .collect();
        json!({ "requests": requests })
    }

    /// The Vertex `:predict` body.
    pub fn predict_body(&self) -> Value {
        let instances: Vec<Value> = self
            .texts
            .iter()
            .map(|text| match &self.task_type {
                Some(task) => json!({"content": text, "task_type": task}),
                None => json!({ "content": text }),
            })
            .collect();
        let mut body = json!({ "instances": instances });
        if let Some(d) = self.dimensions {
            body["parameters"] = json!({ "outputDimensionality": d });
        }
        body
    }
}

/// OpenAI's answer for a `batchEmbedContents` response. Google reports no token counts
/// here; LiteLLM counts them with a tokenizer, the gateway estimates them from the text.
pub fn from_batch_embed_response(gemini: &Value, request: &EmbeddingRequest, alias: &str) -> Value {
    let vectors: Vec<&Value> = items(gemini, "embeddings")
        .iter()
        .map(|e| e.get("values").unwrap_or(&Value::Null))
        .collect();
    let prompt_tokens = request
        .texts
        .iter()
        .map(|t| estimate_tokens(t))
        .fold(0, u64::saturating_add);
    openai_list(&vectors, request, alias, prompt_tokens)
}

/// OpenAI's answer for a Vertex `:predict` response, counting the tokens Vertex reports.
pub fn from_predict_response(vertex: &Value, request: &EmbeddingRequest, alias: &str) -> Value {
    let predictions = items(vertex, "predictions");
    let vectors: Vec<&Value> = predictions
        .iter()
        .map(|p| p.pointer("/embeddings/values").unwrap_or(&Value::Null))
        .collect();
    let prompt_tokens = predictions
        .iter()
        .filter_map(|p| p.pointer("/embeddings/statistics/token_count"))
        .filter_map(|c| c.as_u64().or_else(|| c.as_f64().map(|f| f as u64)))
        // Saturating: the counts are the upstream's numbers, any size.
        .fold(0, u64::saturating_add);
    openai_list(&vectors, request, alias, prompt_tokens)
}

fn openai_list(vectors: &[&Value], request: &EmbeddingRequest, alias: &str, tokens: u64) -> Value {
    let data: Vec<Value> = vectors
        .iter()
        .enumerate()
        .map(|(index, values)| {
            let floats: Vec<f64> = values
                .as_array()
                .map(|v| v.iter().filter_map(Value::as_f64).collect())
                .unwrap_or_default();
            let embedding = if request.base64 {
                json!(base64_f32(&floats))
            } else {
                json!(floats)
            };
            json!({"object": "embedding", "index": index, "embedding": embedding})
        })
        .collect();
    json!({
        "object": "list",
        "data": data,
        "model": alias,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    })
}

/// OpenAI's base64 encoding of a vector: its values as little-endian f32s.
fn base64_f32(values: &[f64]) -> String {
    let bytes: Vec<u8> = values
        .iter()
        .flat_map(|v| (*v as f32).to_le_bytes())
        .collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// About four bytes a token, as tokenizers average on English text (the gateway's mock
/// provider estimates the same way).
fn estimate_tokens(text: &str) -> u64 {
    (text.len() as u64).div_ceil(4).max(1)
}

fn items<'a>(v: &'a Value, field: &str) -> &'a [Value] {
    v.get(field)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

fn invalid(param: &str, message: &str) -> GatewayError {
    GatewayError::bad_request(message).with_param(param)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BATCH: &str = include_str!("../../../tests/fixtures/gemini/batch_embed_contents.json");
    const PREDICT: &str =
        include_str!("../../../tests/fixtures/gemini/vertex_predict_embeddings.json");

    fn request(v: Value) -> EmbeddingRequest {
        EmbeddingRequest::from_openai(&v).unwrap()
    }

    #[test]
    fn reads_a_string_or_a_list_with_dimensions() {
        let one = request(json!({"model": "e", "input": "hello"}));
        assert_eq!(one.texts, vec!["hello"]);
        assert_eq!((one.dimensions, one.base64), (None, false));
        let many = request(json!({"input": ["a", "b"], "dimensions": 256,
                                  "encoding_format": "base64", "task_type": "RETRIEVAL_QUERY"}));
        assert_eq!(many.texts, vec!["a", "b"]);
        assert_eq!(many.dimensions, Some(256));
        assert!(many.base64);
        assert_eq!(many.task_type.as_deref(), Some("RETRIEVAL_QUERY"));
    }

    #[test]
    fn refuses_token_arrays_and_bad_fields() {
        for (body, param) in [
            (json!({"input": [[1, 2, 3]]}), "input"),
            (json!({"input": [1, 2]}), "input"),
            (json!({"input": []}), "input"),
            (json!({}), "input"),
            (json!({"input": "x", "dimensions": 0}), "dimensions"),
            (json!({"input": "x", "dimensions": "big"}), "dimensions"),
            (
                json!({"input": "x", "encoding_format": "int8"}),
                "encoding_format",
            ),
        ] {
            let e = EmbeddingRequest::from_openai(&body).unwrap_err();
            assert_eq!((e.status, e.param.as_deref()), (400, Some(param)), "{body}");
        }
    }

    #[test]
    fn builds_the_batch_embed_contents_body() {
        let r = request(json!({"input": ["What is life?", "What is AI?"], "dimensions": 768}));
        assert_eq!(
            r.batch_embed_body("text-embedding-004"),
            json!({"requests": [
                {"model": "models/text-embedding-004", "content": {"parts": [{"text": "What is life?"}]}, "outputDimensionality": 768},
                {"model": "models/text-embedding-004", "content": {"parts": [{"text": "What is AI?"}]}, "outputDimensionality": 768}
            ]})
        );
        let bare = request(json!({"input": "x", "task_type": "CLUSTERING"}));
        assert_eq!(
            bare.batch_embed_body("models/gemini-embedding-001")["requests"][0],
            json!({"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "x"}]}, "taskType": "CLUSTERING"})
        );
    }

    #[test]
    fn builds_the_vertex_predict_body() {
        let r = request(json!({"input": ["a", "b"], "dimensions": 256}));
        assert_eq!(
            r.predict_body(),
            json!({"instances": [{"content": "a"}, {"content": "b"}], "parameters": {"outputDimensionality": 256}})
        );
        let plain = request(json!({"input": "a", "task_type": "RETRIEVAL_DOCUMENT"}));
        assert_eq!(
            plain.predict_body(),
            json!({"instances": [{"content": "a", "task_type": "RETRIEVAL_DOCUMENT"}]})
        );
    }

    #[test]
    fn batch_response_becomes_an_openai_list() {
        let r = request(json!({"input": ["What is life?", "What is AI?"]}));
        let out = from_batch_embed_response(&serde_json::from_str(BATCH).unwrap(), &r, "emb");
        assert_eq!(out["object"], "list");
        assert_eq!(out["model"], "emb");
        assert_eq!(out["data"][1]["object"], "embedding");
        assert_eq!(out["data"][1]["index"], 1);
        assert_eq!(out["data"][0]["embedding"][0], 0.013168523);
        assert_eq!(out["data"][1]["embedding"].as_array().unwrap().len(), 5);
        assert_eq!(out["usage"], json!({"prompt_tokens": 7, "total_tokens": 7}));
    }

    #[test]
    fn predict_response_counts_vertex_tokens() {
        let r = request(json!({"input": ["a", "b"]}));
        let out = from_predict_response(&serde_json::from_str(PREDICT).unwrap(), &r, "emb");
        assert_eq!(out["data"][0]["embedding"][0], 0.0058424906);
        assert_eq!(out["data"][1]["index"], 1);
        assert_eq!(
            out["usage"],
            json!({"prompt_tokens": 13, "total_tokens": 13})
        );
    }

    #[test]
    fn huge_vertex_token_counts_saturate() {
        // From the whole_responses fuzz target: a count of 7e59 (read as u64::MAX) plus 7
        // overflowed the sum.
        let raw = include_str!(
            "../../../tests/fixtures/fuzz/whole_responses_vertex_token_count_overflow.json"
        );
        let r = request(json!({"input": ["a", "b"]}));
        let out = from_predict_response(&serde_json::from_str(raw).unwrap(), &r, "emb");
        assert_eq!(out["usage"]["prompt_tokens"], u64::MAX);
    }

    #[test]
    fn base64_encoding_is_little_endian_f32() {
        let r = request(json!({"input": "x", "encoding_format": "base64"}));
        let out =
            from_batch_embed_response(&json!({"embeddings": [{"values": [1.0, -2.5]}]}), &r, "e");
        let encoded = out["data"][0]["embedding"].as_str().unwrap();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap();
        let mut expected = 1.0f32.to_le_bytes().to_vec();
        expected.extend_from_slice(&(-2.5f32).to_le_bytes());
        assert_eq!(bytes, expected);
    }

    #[test]
    fn odd_responses_do_not_panic() {
        let r = request(json!({"input": "x"}));
        for body in [
            json!(null),
            json!([]),
            json!({"embeddings": "no"}),
            json!({"embeddings": [{"values": "x"}]}),
        ] {
            let out = from_batch_embed_response(&body, &r, "e");
            assert_eq!(out["object"], "list");
            let out = from_predict_response(&body, &r, "e");
            assert_eq!(out["object"], "list");
        }
        let out = from_predict_response(&json!({"predictions": [{"embeddings": {}}]}), &r, "e");
        assert_eq!(out["data"][0]["embedding"], json!([]));
    }
}
