//! Throughput of the transcript core, printed as figures (run with --release).
fn main() {}
