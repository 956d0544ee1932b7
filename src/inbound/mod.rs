//! Inbound formats other than OpenAI's: each converts a client's request into the canonical
//! (OpenAI) request and the canonical answers back, so any provider can serve any client.
//! Pure functions of JSON and bytes; the routes that use them live in `proxy`.

pub mod anthropic;
