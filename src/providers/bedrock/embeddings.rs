//! OpenAI embeddings requests on Bedrock's InvokeModel (`/model/{id}/invoke`), for the two
//! families LiteLLM serves there:
//!
//! - Titan text (`amazon.titan-embed-text-v1`, `-v2:0`): one input per call,
//!   `{"inputText", "dimensions"?, "normalize"?}` → `{"embedding", "inputTextTokenCount"}`.
//!   Several inputs take several calls: [`titan_request`] builds one, [`titan_response`]
//!   combines the answers in input order.
//! - Cohere (`cohere.embed-*`): `{"texts", "input_type"}` → `{"embeddings"}` (a list, or an
//!   object by type when `embedding_types` was asked for). `input_type` defaults to
//!   `search_document`, as LiteLLM sends it. Cohere's answer carries no token count.
//!
//! Answers come back in OpenAI's shape, as floats or, with `encoding_format: "base64"`, as
//! OpenAI encodes them: little-endian f32 bytes in base64.

use crate::canonical::params::unsupported_params_error;
use crate::error::GatewayError;
use base64::Engine;
use serde_json::{json, Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmbeddingModel {
    /// Titan text embeddings; `v2` takes `dimensions`.
    Titan {
        v2: bool,
    },
    Cohere,
}

impl EmbeddingModel {
    /// The family of a Bedrock model id (inference-profile prefixes like `us.` allowed).
    pub fn for_model(id: &str) -> Option<EmbeddingModel> {
        if id.contains("amazon.titan-embed-text") {
            Some(EmbeddingModel::Titan {
                v2: !id.contains("titan-embed-text-v1"),
            })
        } else if id.contains("cohere.embed") {
            Some(EmbeddingModel::Cohere)
        } else {
            None
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodingFormat {
    Float,
    Base64,
}

impl EncodingFormat {
    pub fn of_request(openai: &Value) -> Result<EncodingFormat, GatewayError> {
        match openai.get("encoding_format") {
            None | Some(Value::Null) => Ok(EncodingFormat::Float),
            Some(v) if v == "float" => Ok(EncodingFormat::Float),
            Some(v) if v == "base64" => Ok(EncodingFormat::Base64),
            Some(_) => Err(GatewayError::bad_request(
                "encoding_format must be \"float\" or \"base64\"",
            )
            .with_param("encoding_format")),
        }
    }
}

/// The request's `input` as texts: a string or a list of strings (token arrays are OpenAI-only).
pub fn inputs(openai: &Value) -> Result<Vec<String>, GatewayError> {
    let bad = || {
        GatewayError::bad_request("bedrock embeddings take input as a string or a list of strings")
            .with_param("input")
    };
    match openai.get("input") {
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(|i| i.as_str().map(str::to_string).ok_or_else(bad))
            .collect(),
        _ => Err(bad()),
    }
}

/// The Titan request body for one input.
pub fn titan_request(
    input: &str,
    openai: &Value,
    v2: bool,
    drop_params: bool,
) -> Result<Value, GatewayError> {
    let mut body = Map::new();
    body.insert("inputText".into(), json!(input));
    if let Some(dimensions) = openai.get("dimensions").filter(|d| !d.is_null()) {
        if v2 {
            body.insert("dimensions".into(), dimensions.clone());
        } else if !drop_params {
            return Err(unsupported("dimensions", "amazon.titan-embed-text-v1"));
        }
    }
    if let Some(normalize) = openai.get("normalize").filter(|_| v2) {
        body.insert("normalize".into(), normalize.clone());
    }
    Ok(Value::Object(body))
}

/// Titan's answers, one per input in input order, as one OpenAI embeddings response.
pub fn titan_response(answers: &[Value], alias: &str, format: EncodingFormat) -> Value {
    let mut tokens = 0;
    let vectors: Vec<&Value> = answers
        .iter()
        .map(|a| {
            tokens += a
                .get("inputTextTokenCount")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            a.get("embedding").unwrap_or(&Value::Null)
        })
        .collect();
    openai_response(&vectors, alias, format, tokens)
}

/// The Cohere request body for all inputs at once.
pub fn cohere_request(openai: &Value, drop_params: bool) -> Result<Value, GatewayError> {
    if openai.get("dimensions").is_some_and(|d| !d.is_null()) && !drop_params {
        return Err(unsupported("dimensions", "cohere.embed"));
    }
    let mut body = Map::new();
    body.insert("texts".into(), json!(inputs(openai)?));
    let input_type = openai
        .get("input_type")
        .and_then(Value::as_str)
        .unwrap_or("search_document");
    body.insert("input_type".into(), json!(input_type));
    for native in ["truncate", "embedding_types"] {
        if let Some(v) = openai.get(native).filter(|v| !v.is_null()) {
            body.insert(native.into(), v.clone());
        }
    }
    Ok(Value::Object(body))
}

/// Cohere's answer as an OpenAI embeddings response (float vectors when it sent several types).
pub fn cohere_response(answer: &Value, alias: &str, format: EncodingFormat) -> Value {
    let embeddings = match answer.get("embeddings") {
        Some(Value::Object(by_type)) => by_type.get("float"),
        other => other,
    };
    let vectors: Vec<&Value> = embeddings
        .and_then(Value::as_array)
        .map(|list| list.iter().collect())
        .unwrap_or_default();
    openai_response(&vectors, alias, format, 0)
}

fn openai_response(vectors: &[&Value], alias: &str, format: EncodingFormat, tokens: u64) -> Value {
    let data: Vec<Value> = vectors
        .iter()
        .enumerate()
        .map(|(index, vector)| {
            let embedding = match format {
                EncodingFormat::Float => (*vector).clone(),
                EncodingFormat::Base64 => json!(base64_floats(vector)),
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

/// OpenAI's base64 embedding: the vector as little-endian f32s, base64 (standard alphabet).
fn base64_floats(vector: &Value) -> String {
    let mut bytes = Vec::new();
    for x in vector.as_array().into_iter().flatten() {
        let f = x.as_f64().unwrap_or(0.0) as f32;
        bytes.extend_from_slice(&f.to_le_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn unsupported(param: &str, model: &str) -> GatewayError {
    unsupported_params_error("bedrock", model, &[param])
}

#[cfg(test)]
mod tests {
    use super::*;

    const TITAN: &str = include_str!("../../../tests/fixtures/bedrock/titan_embedding.json");
    const COHERE: &str = include_str!("../../../tests/fixtures/bedrock/cohere_embedding.json");

    fn parse(s: &str) -> Value {
        serde_json::from_str(s).unwrap()
    }

    #[test]
    fn recognises_model_families() {
        use EmbeddingModel::*;
        assert_eq!(
            EmbeddingModel::for_model("amazon.titan-embed-text-v1"),
            Some(Titan { v2: false })
        );
        assert_eq!(
            EmbeddingModel::for_model("amazon.titan-embed-text-v2:0"),
            Some(Titan { v2: true })
        );
        assert_eq!(
            EmbeddingModel::for_model("cohere.embed-english-v3"),
            Some(Cohere)
        );
        assert_eq!(EmbeddingModel::for_model("amazon.nova-lite-v1:0"), None);
    }

    #[test]
    fn titan_requests_take_one_input_and_v2_dimensions() {
        let req = json!({"input": ["a", "b"], "dimensions": 256, "user": "u"});
        assert_eq!(
            titan_request("a", &req, true, false).unwrap(),
            json!({"inputText": "a", "dimensions": 256})
        );
        let err = titan_request("a", &req, false, false).unwrap_err();
        assert_eq!(err.param.as_deref(), Some("dimensions"));
        assert_eq!(
            titan_request("a", &req, false, true).unwrap(),
            json!({"inputText": "a"})
        );
        assert_eq!(inputs(&req).unwrap(), vec!["a", "b"]);
    }

    #[test]
    fn titan_answers_combine_in_order_with_summed_tokens() {
        let one = parse(TITAN);
        let mut two = one.clone();
        two["embedding"] = json!([0.5, -0.25]);
        two["inputTextTokenCount"] = json!(3);
        let out = titan_response(&[one.clone(), two], "embed", EncodingFormat::Float);
        assert_eq!(out["object"], "list");
        assert_eq!(out["model"], "embed");
        assert_eq!(out["data"][0]["index"], 0);
        assert_eq!(out["data"][0]["object"], "embedding");
        assert_eq!(out["data"][0]["embedding"], one["embedding"]);
        assert_eq!(out["data"][1]["embedding"], json!([0.5, -0.25]));
        assert_eq!(out["usage"], json!({"prompt_tokens": 8, "total_tokens": 8}));
    }

    #[test]
    fn base64_is_little_endian_f32() {
        let answer = json!({"embedding": [1.0, -2.0], "inputTextTokenCount": 1});
        let out = titan_response(&[answer], "e", EncodingFormat::Base64);
        // 1.0f32 = 00 00 80 3f, -2.0f32 = 00 00 00 c0.
        assert_eq!(out["data"][0]["embedding"], "AACAPwAAAMA=");
    }

    #[test]
    fn cohere_request_defaults_input_type() {
        assert_eq!(
            cohere_request(&json!({"input": "hi"}), false).unwrap(),
            json!({"texts": ["hi"], "input_type": "search_document"})
        );
        assert_eq!(
            cohere_request(
                &json!({"input": ["a"], "input_type": "search_query"}),
                false
            )
            .unwrap()["input_type"],
            "search_query"
        );
        assert!(cohere_request(&json!({"input": [1, 2]}), false).is_err());
        assert!(cohere_request(&json!({"input": []}), false).is_err());
    }

    #[test]
    fn cohere_answers_in_either_shape() {
        let out = cohere_response(&parse(COHERE), "c", EncodingFormat::Float);
        assert_eq!(out["data"].as_array().unwrap().len(), 2);
        assert_eq!(out["data"][1]["index"], 1);
        assert_eq!(out["usage"]["prompt_tokens"], 0);
        let by_type = json!({"embeddings": {"float": [[0.1]], "int8": [[3]]}});
        let out = cohere_response(&by_type, "c", EncodingFormat::Float);
        assert_eq!(out["data"][0]["embedding"], json!([0.1]));
    }

    #[test]
    fn encoding_format_is_checked_and_odd_answers_do_not_panic() {
        assert!(EncodingFormat::of_request(&json!({"encoding_format": "int8"})).is_err());
        assert_eq!(
            EncodingFormat::of_request(&json!({})).unwrap(),
            EncodingFormat::Float
        );
        for odd in [json!(null), json!({"embedding": "x"}), json!([1])] {
            titan_response(std::slice::from_ref(&odd), "e", EncodingFormat::Base64);
            cohere_response(&odd, "e", EncodingFormat::Base64);
        }
    }
}
