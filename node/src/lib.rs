//! lingong-node placeholder (being written).
