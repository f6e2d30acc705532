//! Region codes (being written).
