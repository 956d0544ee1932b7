//! SageMaker runtime `InvokeEndpoint` (`POST .../endpoints/{name}/invocations`,
//! SigV4 service `sagemaker`): a TGI container's `{"inputs", "parameters"}`
//! → `[{"generated_text"}]`, or OpenAI's messages API → a chat completion.

use serde_json::{json, Value};

use crate::aws::{request_id, sagemaker_error, sigv4};
use crate::markers;
use crate::openai;
use crate::reply::{self, Ctx, Resp};

/// SageMaker `InvokeEndpoint` of a TGI container: `{"inputs", "parameters"}`
/// → `[{"generated_text"}]`; or, for a container speaking OpenAI's messages
/// API, `{"messages", ..}` → a chat completion.
pub async fn handle(ctx: &Ctx<'_>, endpoint: &str) -> Resp {
    if let Err(resp) = sigv4(ctx, "sagemaker") {
        return resp;
    }
    let Some(body) = ctx.object() else {
        return sagemaker_error(
            ctx,
            400,
            "Received client error (400) from primary: the body is not a JSON object",
        );
    };
    let text = match body.get("inputs").and_then(Value::as_str) {
        Some(inputs) => Some(inputs.to_string()),
        None => markers::last_user_text(body.get("messages"), "content", &["tool"]),
    };
    let b =
        match reply::behaviour(ctx, body, Some(endpoint), text.as_deref(), sagemaker_error).await {
            Ok(b) => b,
            Err(resp) => return resp,
        };
    if body.contains_key("messages") {
        let mut resp = reply::ok_json(&b, &openai::chat_completion(ctx.n, body, &b));
        reply::set(&mut resp, "x-amzn-requestid", &request_id(ctx.n));
        return resp;
    }
    let max = ctx
        .json
        .and_then(|v| v.pointer("/parameters/max_new_tokens"))
        .and_then(Value::as_u64);
    let (reply, _) = reply::reply_within(&b, max);
    let mut resp = reply::ok_json(&b, &json!([{"generated_text": reply}]));
    reply::set(&mut resp, "x-amzn-invoked-production-variant", "AllTraffic");
    reply::set(&mut resp, "x-amzn-requestid", &request_id(ctx.n));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logic::Behaviour;

    #[test]
    fn messages_api_answers_a_chat_completion() {
        let body = json!({"model": "tgi", "messages": [{"role": "user", "content": "hi"}]});
        let v = openai::chat_completion(3, body.as_object().unwrap(), &Behaviour::default());
        assert_eq!(v["object"], "chat.completion");
        assert_eq!(v["model"], "tgi");
        assert_eq!(
            v["choices"][0]["message"]["content"],
            crate::logic::DEFAULT_REPLY
        );
    }
}
