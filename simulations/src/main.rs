//! The `lingong-sim` binary.
fn main() {}
