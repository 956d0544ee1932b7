//! Background services that keep the request path's state fresh: health checks (config reload
//! and credential refresh live in `reload` and `credentials`). They sit outside the router and
//! the providers, and reach both through the `Gateway`.

pub mod drain;
pub mod health;
pub mod store_sync;
