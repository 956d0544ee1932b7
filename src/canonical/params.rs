//! OpenAI request parameters read the same way for every provider: the body and its
//! `messages`, the parameters a provider cannot honour (refused in LiteLLM's words, or dropped
//! with `drop_params`) and function tools.

use crate::error::GatewayError;
use serde_json::{json, Map, Value};

/// The chat request's fields; any other body is a 400.
pub fn request_object(body: &Value) -> Result<&Map<String, Value>, GatewayError> {
    body.as_object()
        .ok_or_else(|| GatewayError::bad_request("the request body must be a JSON object"))
}

/// The chat request's `messages` list, which every provider needs.
pub fn messages(req: &Map<String, Value>) -> Result<&Vec<Value>, GatewayError> {
    req.get("messages")
        .and_then(Value::as_array)
        .ok_or_else(|| GatewayError::bad_request("messages is required").with_param("messages"))
}

/// A request's parameters against what one provider and model can honour.
pub struct UnsupportedParams<'a> {
    /// The provider as LiteLLM's messages name it (`anthropic`, `cohere_chat`, `vertex_ai`, ...).
    pub provider: &'a str,
    pub model: &'a str,
    /// `drop_params`: leave unsupported parameters out instead of refusing the request.
    pub drop_params: bool,
}

impl UnsupportedParams<'_> {
    /// The `names` the request sets to something other than what `is_harmless` accepts (values
    /// that ask for nothing the provider would not do anyway), in `names` order. With
    /// `drop_params` they are returned for the caller to leave out; without, any is an error.
    pub fn check<'n>(
        &self,
        req: &Map<String, Value>,
        names: impl IntoIterator<Item = &'n str>,
        is_harmless: impl Fn(&str, &Value) -> bool,
    ) -> Result<Vec<&'n str>, GatewayError> {
        let used: Vec<&str> = names
            .into_iter()
            .filter(|name| req.get(*name).is_some_and(|v| !is_harmless(name, v)))
            .collect();
        if used.is_empty() || self.drop_params {
            return Ok(used);
        }
        Err(unsupported_params_error(self.provider, self.model, &used))
    }
}

/// LiteLLM's `UnsupportedParamsError`, word for word (clients match on it), naming the first
/// parameter as `param`.
pub fn unsupported_params_error(provider: &str, model: &str, used: &[&str]) -> GatewayError {
    let list = used
        .iter()
        .map(|n| format!("'{n}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let error = GatewayError::bad_request(format!(
        "litellm.UnsupportedParamsError: {provider} does not support parameters: [{list}], for model={model}. \
         To drop these, set `litellm.drop_params=True` or for proxy:\n\n`litellm_settings:\n drop_params: true`\n"
    ));
    match used.first() {
        Some(first) => error.with_param(*first),
        None => error,
    }
}

/// An OpenAI `{"type": "function", "function": {...}}` tool, checked, in the parts every
/// provider's own tool format is built from.
#[derive(Debug, PartialEq)]
pub struct FunctionTool<'a> {
    pub name: &'a str,
    pub description: Option<&'a str>,
    /// `parameters`, or an empty object schema where the client gave none: the providers that
    /// take this shape all require a schema.
    pub parameters: Value,
}

impl<'a> FunctionTool<'a> {
    /// Refuses (as a 400 on `tools`) anything but a function tool with a name.
    pub fn read(tool: &'a Value) -> Result<Self, GatewayError> {
        let function = tool
            .get("function")
            .filter(|_| tool.get("type").and_then(Value::as_str) == Some("function"))
            .ok_or_else(|| {
                GatewayError::bad_request("only tools of type \"function\" are supported")
                    .with_param("tools")
            })?;
        let name = function
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                GatewayError::bad_request("tools[].function.name is required").with_param("tools")
            })?;
        let parameters = function
            .get("parameters")
            .filter(|p| !p.is_null())
            .cloned()
            .unwrap_or_else(|| json!({"type": "object", "properties": {}}));
        Ok(FunctionTool {
            name,
            description: function.get("description").and_then(Value::as_str),
            parameters,
        })
    }

    /// `name` and, when given, `description`: the start of every provider's tool object.
    pub fn named(&self) -> Map<String, Value> {
        let mut out = Map::new();
        out.insert("name".into(), json!(self.name));
        if let Some(description) = self.description {
            out.insert("description".into(), json!(description));
        }
        out
    }
}

/// A string field of a JSON object, or "" when absent or not a string.
pub fn str_field<'a>(v: &'a Value, field: &str) -> &'a str {
    v.get(field).and_then(Value::as_str).unwrap_or_default()
}

/// Appends a turn, merging it into the previous one when the role repeats: Anthropic, Gemini
/// and Bedrock all require user and assistant turns to alternate. Empty turns are skipped.
pub fn push_turn(
    turns: &mut Vec<(&'static str, Vec<Value>)>,
    role: &'static str,
    blocks: Vec<Value>,
) {
    if blocks.is_empty() {
        return;
    }
    match turns.last_mut() {
        Some((last, existing)) if *last == role => existing.extend(blocks),
        _ => turns.push((role, blocks)),
    }
}

/// A tool call's `function.arguments` as a JSON object: the JSON string parsed (an empty string
/// or none is `{}`, for tools without parameters). `None` when they are not an object, which
/// callers refuse with a 400: sending `{}` instead would tell the model its call ran with no
/// arguments.
pub fn tool_call_arguments(function: &Value) -> Option<Value> {
    let args = match function.get("arguments") {
        None | Some(Value::Null) => json!({}),
        Some(Value::String(s)) if s.trim().is_empty() => json!({}),
        Some(Value::String(s)) => serde_json::from_str::<Value>(s).ok()?,
        Some(other) => other.clone(),
    };
    args.is_object().then_some(args)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    const NAMES: [&str; 3] = ["logit_bias", "n", "seed"];

    fn n_of_one_is_harmless(name: &str, v: &Value) -> bool {
        v.is_null() || (name == "n" && v.as_u64() == Some(1))
    }

    #[test]
    fn the_body_must_be_an_object_with_messages() {
        let e = request_object(&json!([1])).unwrap_err();
        assert_eq!(
            (e.status, e.message.as_str()),
            (400, "the request body must be a JSON object")
        );
        let body = json!({"messages": "hi"});
        let e = messages(request_object(&body).unwrap()).unwrap_err();
        assert_eq!(e.message, "messages is required");
        assert_eq!(e.param.as_deref(), Some("messages"));
        let body = json!({"messages": [{"role": "user", "content": "hi"}]});
        assert_eq!(messages(request_object(&body).unwrap()).unwrap().len(), 1);
    }

    #[test]
    fn used_parameters_are_refused_in_litellm_words_naming_the_first() {
        let req = request(json!({"seed": 1, "n": 2, "logit_bias": {}, "model": "x"}));
        let params = UnsupportedParams {
            provider: "anthropic",
            model: "claude-x",
            drop_params: false,
        };
        let e = params.check(&req, NAMES, n_of_one_is_harmless).unwrap_err();
        assert_eq!(e.status, 400);
        assert_eq!(e.param.as_deref(), Some("logit_bias"));
        assert_eq!(
            e.message,
            "litellm.UnsupportedParamsError: anthropic does not support parameters: ['logit_bias', 'n', 'seed'], for model=claude-x. \
             To drop these, set `litellm.drop_params=True` or for proxy:\n\n`litellm_settings:\n drop_params: true`\n"
        );
    }

    #[test]
    fn harmless_values_pass_and_drop_params_returns_what_to_leave_out() {
        let harmless = request(json!({"n": 1, "seed": null}));
        let strict = UnsupportedParams {
            provider: "p",
            model: "m",
            drop_params: false,
        };
        assert_eq!(
            strict.check(&harmless, NAMES, n_of_one_is_harmless),
            Ok(vec![])
        );
        let used = request(json!({"n": 3, "seed": 7}));
        let dropping = UnsupportedParams {
            drop_params: true,
            ..strict
        };
        assert_eq!(
            dropping.check(&used, NAMES, n_of_one_is_harmless),
            Ok(vec!["n", "seed"])
        );
    }

    #[test]
    fn an_empty_list_is_still_an_error_without_a_param() {
        let e = unsupported_params_error("bedrock", "m", &[]);
        assert!(e.param.is_none());
        assert!(e.message.contains("parameters: [], for model=m."));
    }

    #[test]
    fn function_tools_are_read_with_a_default_schema() {
        let tool = json!({"type": "function", "function": {"name": "f", "description": "d"}});
        let read = FunctionTool::read(&tool).unwrap();
        assert_eq!(read.parameters, json!({"type": "object", "properties": {}}));
        assert_eq!(
            Value::Object(read.named()),
            json!({"name": "f", "description": "d"})
        );
        let bare = json!({"type": "function", "function": {"name": "g", "parameters": {"type": "object"}}});
        let read = FunctionTool::read(&bare).unwrap();
        assert_eq!(Value::Object(read.named()), json!({"name": "g"}));
        assert_eq!(read.parameters, json!({"type": "object"}));
    }

    #[test]
    fn other_tools_and_nameless_functions_are_refused() {
        for (tool, message) in [
            (
                json!({"type": "web_search"}),
                "only tools of type \"function\" are supported",
            ),
            (
                json!({"function": {"name": "f"}}),
                "only tools of type \"function\" are supported",
            ),
            (
                json!({"type": "function", "function": {"name": 5}}),
                "tools[].function.name is required",
            ),
            (json!(null), "only tools of type \"function\" are supported"),
        ] {
            let e = FunctionTool::read(&tool).unwrap_err();
            assert_eq!(
                (e.message.as_str(), e.param.as_deref()),
                (message, Some("tools"))
            );
        }
    }
}
