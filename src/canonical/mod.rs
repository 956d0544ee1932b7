//! The canonical request and response: OpenAI's wire format, the lingua franca every inbound
//! format converts to and every provider converts from. Requests are kept as their raw bytes
//! plus the spans of their top-level fields, so what passes through unchanged is never
//! re-serialized.

pub mod chunks;
pub mod error_text;
pub mod gateway_params;
pub mod json_scan;
pub mod params;
pub mod request;
pub mod sse;
pub mod usage;

pub use request::RequestBody;
pub use usage::Usage;
