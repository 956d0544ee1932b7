//! Anthropic's Messages API (`anthropic/`): pure translation between OpenAI's chat format and
//! Anthropic's, requests, responses, streams and errors. Wiring into the request path follows.

pub mod error;
mod messages;
pub mod request;
pub mod response;
pub mod stream;

/// The `anthropic-version` header every call carries.
pub const API_VERSION: &str = "2023-06-01";
