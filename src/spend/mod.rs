//! Prices, cost, spend accounting and budgets.

pub mod accounts;
pub mod period;
pub mod prices;
