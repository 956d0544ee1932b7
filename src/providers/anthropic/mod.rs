//! Anthropic's Messages API (`anthropic/`): pure translation between OpenAI's chat format and
//! Anthropic's, requests, responses, streams and errors, and the `Provider` using them.

pub mod error;
mod messages;
pub mod native_tap;
mod provider;
pub mod request;
pub mod response;
pub mod stream;

pub use native_tap::{native_usage, NativeTap};
pub use provider::{messages_path, unsupported_operation, Anthropic};

/// The `anthropic-version` header every call carries.
pub const API_VERSION: &str = "2023-06-01";
