//! Throughput of the analytics core, printed as figures (run with --release).
fn main() {}
