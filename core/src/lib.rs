//! The pure-Rust core of cco. Nothing here knows about PostgreSQL: every module is plain data in,
//! plain data out, so it is tested with `cargo test -p cco-core` in seconds and can be fuzzed and
//! benchmarked on its own. The `cco` extension crate maps these functions to SQL.

pub mod analytics;
pub mod claims;
pub mod interrupts;
pub mod search;
pub mod search_index;
pub mod threads;
pub mod transcript;
pub mod tsquery;
pub mod tsvector;
