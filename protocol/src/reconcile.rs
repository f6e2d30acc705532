//! Range-based reconciliation (being written).
