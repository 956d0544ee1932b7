//! Anthropic's Messages API (`anthropic/`): pure translation between OpenAI's chat format and
//! Anthropic's, requests, responses, streams and errors, and the `Provider` using them.

pub mod error;
mod messages;
pub mod native_tap;
mod provider;
pub mod request;
pub mod response;
pub mod stream;

pub use native_tap::{native_answer_usage, NativeTap};
pub use provider::{messages_path, unsupported_operation, Anthropic};

/// The `anthropic-version` header every call carries.
pub const API_VERSION: &str = "2023-06-01";

/// The provider's counts in a native (untranslated) Messages answer.
pub fn native_usage(body: &[u8]) -> Option<crate::canonical::Usage> {
    let span = crate::canonical::json_scan::find_top_level_value(body, "usage")?;
    let usage: serde_json::Value = serde_json::from_slice(&body[span]).ok()?;
    crate::canonical::Usage::from_openai(&response::openai_usage(&usage))
}
