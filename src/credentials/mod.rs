//! Provider credentials that must be fetched and kept fresh off the request path.

pub mod vertex_tokens;
