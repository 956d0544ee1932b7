//! Calls to providers through Pingora's pooled HTTP client.

mod client;
mod endpoint;
pub mod path;
mod resolver;

pub use client::{UpstreamClient, UpstreamFailure, UpstreamRequest, UpstreamResponse};
pub use endpoint::Endpoint;
pub use resolver::Resolver;
