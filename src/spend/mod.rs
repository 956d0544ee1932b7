//! Prices, cost, spend accounting and budgets.

pub mod accounts;
pub mod cost;
pub mod ledger;
pub mod period;
pub mod prices;
pub mod recorder;
pub mod shared;
pub mod time;
