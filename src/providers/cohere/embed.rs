//! OpenAI embeddings through Cohere's `POST /v2/embed`.
//!
//! Cohere v2 wants `input_type` and `embedding_types`; the gateway asks for `float` vectors
//! for `search_document` input (LiteLLM's default) and does the base64 encoding OpenAI clients
//! ask for itself, as OpenAI does: the vector's little-endian f32 bytes. A client's own
//! `input_type` is passed on; `dimensions` is Cohere's `output_dimension`.

use crate::error::GatewayError;
use base64::Engine;
use serde_json::{json, Map, Value};

/// LiteLLM's default when the client gives none.
pub const DEFAULT_INPUT_TYPE: &str = "search_document";

pub fn to_cohere_embed_request(
    openai: &Value,
    upstream_model: &str,
) -> Result<Value, GatewayError> {
    let texts = match openai.get("input") {
        Some(Value::String(text)) => vec![json!(text)],
        Some(Value::Array(items)) if !items.is_empty() && items.iter().all(Value::is_string) => {
            items.clone()
        }
        _ => {
            // Token arrays are OpenAI-only; LiteLLM rejects them for Cohere too.
            return Err(GatewayError::bad_request(
                "input must be a string or a non-empty list of strings for Cohere embeddings",
            )
            .with_param("input"));
        }
    };
    match openai.get("encoding_format").and_then(Value::as_str) {
        None | Some("float" | "base64") => {}
        Some(other) => {
            return Err(GatewayError::bad_request(format!(
                "encoding_format {other:?} is not supported; use \"float\" or \"base64\""
            ))
            .with_param("encoding_format"))
        }
    }
    let input_type = openai
        .get("input_type")
        .and_then(Value::as_str)
        .unwrap_or(DEFAULT_INPUT_TYPE);
    let mut body = Map::new();
    body.insert("model".into(), json!(upstream_model));
    body.insert("texts".into(), Value::Array(texts));
    body.insert("input_type".into(), json!(input_type));
    body.insert("embedding_types".into(), json!(["float"]));
    if let Some(dimensions) = openai.get("dimensions").filter(|d| !d.is_null()) {
        body.insert("output_dimension".into(), dimensions.clone());
    }
    Ok(Value::Object(body))
}

/// OpenAI's embeddings list for Cohere's answer, vectors as floats or base64 strings.
pub fn to_openai_embeddings(
    cohere: &Value,
    alias: &str,
    base64: bool,
) -> Result<Value, GatewayError> {
    // `embeddings_by_type` answers hold `{float: [...]}`; older `embeddings_floats` a bare list.
    let vectors = cohere
        .pointer("/embeddings/float")
        .or_else(|| cohere.get("embeddings").filter(|e| e.is_array()))
        .and_then(Value::as_array)
        .ok_or_else(|| {
            GatewayError::new(
                502,
                "api_error",
                "invalid embed response from Cohere: no float embeddings",
            )
        })?;
    let mut data = Vec::with_capacity(vectors.len());
    for (index, vector) in vectors.iter().enumerate() {
        let numbers: Vec<f64> = vector
            .as_array()
            .map(|v| v.iter().filter_map(Value::as_f64).collect())
            .unwrap_or_default();
        let embedding = if base64 {
            json!(encode_f32_le(&numbers))
        } else {
            json!(numbers)
        };
        data.push(json!({"object": "embedding", "index": index, "embedding": embedding}));
    }
    let tokens = cohere
        .pointer("/meta/billed_units/input_tokens")
        .and_then(|n| n.as_u64().or_else(|| n.as_f64().map(|f| f.max(0.0) as u64)))
        .unwrap_or(0);
    Ok(json!({
        "object": "list",
        "data": data,
        "model": alias,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }))
}

fn encode_f32_le(numbers: &[f64]) -> String {
    let mut bytes = Vec::with_capacity(numbers.len() * 4);
    for n in numbers {
        bytes.extend_from_slice(&(*n as f32).to_le_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLOAT: &str = include_str!("../../../tests/fixtures/cohere/embed_float.json");

    #[test]
    fn request_has_texts_input_type_and_float_type() {
        let body = to_cohere_embed_request(
            &json!({"model": "alias", "input": ["hello", "goodbye"], "dimensions": 256}),
            "embed-v4.0",
        )
        .unwrap();
        assert_eq!(
            body,
            json!({"model": "embed-v4.0", "texts": ["hello", "goodbye"],
                   "input_type": "search_document", "embedding_types": ["float"],
                   "output_dimension": 256})
        );
        let one = to_cohere_embed_request(
            &json!({"input": "hi", "input_type": "search_query", "encoding_format": "base64"}),
            "m",
        )
        .unwrap();
        assert_eq!(one["texts"], json!(["hi"]));
        assert_eq!(one["input_type"], "search_query");
        assert_eq!(one["embedding_types"], json!(["float"]));
    }

    #[test]
    fn token_arrays_and_odd_formats_are_400() {
        for body in [
            json!({"input": [1, 2, 3]}),
            json!({"input": [[1, 2]]}),
            json!({"input": []}),
            json!({}),
            json!(null),
        ] {
            let e = to_cohere_embed_request(&body, "m").unwrap_err();
            assert_eq!(
                (e.status, e.param.as_deref()),
                (400, Some("input")),
                "{body}"
            );
        }
        let e = to_cohere_embed_request(&json!({"input": "x", "encoding_format": "int8"}), "m")
            .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("encoding_format"));
    }

    #[test]
    fn float_answer_becomes_openai_list() {
        let cohere: Value = serde_json::from_str(FLOAT).unwrap();
        let out = to_openai_embeddings(&cohere, "my-embed", false).unwrap();
        assert_eq!(out["object"], "list");
        assert_eq!(out["model"], "my-embed");
        assert_eq!(out["data"].as_array().unwrap().len(), 2);
        assert_eq!(out["data"][1]["object"], "embedding");
        assert_eq!(out["data"][1]["index"], 1);
        assert_eq!(out["data"][1]["embedding"], json!([-0.25, 0.125, 0.0, 1.0]));
        assert_eq!(out["usage"], json!({"prompt_tokens": 2, "total_tokens": 2}));
    }

    #[test]
    fn base64_is_little_endian_f32_as_openai_sends_it() {
        let cohere: Value = serde_json::from_str(FLOAT).unwrap();
        let out = to_openai_embeddings(&cohere, "m", true).unwrap();
        let encoded = out["data"][1]["embedding"].as_str().unwrap();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap();
        let floats: Vec<f32> = bytes
            .chunks(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        assert_eq!(floats, vec![-0.25, 0.125, 0.0, 1.0]);
    }

    #[test]
    fn answers_without_float_vectors_are_502() {
        for body in [
            json!({}),
            json!({"embeddings": {"int8": [[1]]}}),
            json!(null),
        ] {
            assert_eq!(
                to_openai_embeddings(&body, "m", false).unwrap_err().status,
                502
            );
        }
        let bare = json!({"embeddings": [[0.5]], "meta": {"billed_units": {"input_tokens": 1.0}}});
        let out = to_openai_embeddings(&bare, "m", false).unwrap();
        assert_eq!(out["data"][0]["embedding"], json!([0.5]));
        assert_eq!(out["usage"]["prompt_tokens"], 1);
    }
}
