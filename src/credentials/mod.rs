//! Provider credentials that must be fetched and kept fresh off the request path.

pub mod aws;
pub mod azure;
pub mod google;
pub mod http;
pub mod vertex_tokens;
