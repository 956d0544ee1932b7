//! Prices and cost. Spend accounting, budgets and the flusher join here.

pub mod prices;
