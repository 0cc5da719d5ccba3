//! Benchmarks of cco against native PostgreSQL.
fn main() {}
