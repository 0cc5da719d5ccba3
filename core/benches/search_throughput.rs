//! Throughput of the search core, printed as figures (run with --release).
fn main() {}
