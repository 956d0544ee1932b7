//! Bodies of the gateway's own endpoints (`/v1/models`, health), as LiteLLM shapes them.

use crate::router::ModelTable;
use bytes::Bytes;
use serde_json::json;

/// `GET /v1/models`: the aliases a caller may use, in config order.
pub fn models_list(models: &ModelTable) -> Bytes {
    let data: Vec<_> = models
        .aliases()
        .iter()
        .map(
            |a| json!({"id": &**a, "object": "model", "created": 1677610602, "owned_by": "openai"}),
        )
        .collect();
    Bytes::from(json!({"data": data, "object": "list"}).to_string())
}

pub fn liveliness() -> Bytes {
    Bytes::from_static(b"\"I'm alive!\"")
}

pub fn readiness() -> Bytes {
    Bytes::from(
        json!({
            "status": "healthy",
            "db": "Not connected",
            "cache": null,
            "litellm_version": env!("CARGO_PKG_VERSION"),
            "success_callbacks": [],
        })
        .to_string(),
    )
}
