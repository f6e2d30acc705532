//! Occupation codes (being written).
