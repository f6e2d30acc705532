//! The `lingong` binary.
fn main() {}
