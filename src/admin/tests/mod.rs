//! Admin API tests against the in-memory store, one file per route family.

mod keys;
mod others;
mod roles;
mod spend;
mod teams;
mod users;
