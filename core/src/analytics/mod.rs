//! One-pass analytics state machines: latency summaries, active time and usage blocks, and the
//! price rule usage is costed by. The extension wraps the first two as parallel-safe aggregates
//! (state, combine, serialize) and the third as a set-returning function.

pub mod active_time;
pub mod codec;
pub mod latency;
pub mod pricing;
pub mod usage_blocks;

pub use active_time::{ActiveTime, DEFAULT_IDLE_CUTOFF_MICROS};
pub use latency::{LatencySketch, LatencySummary};
pub use pricing::{Price, PriceCache, PriceList, TokenCounts};
pub use usage_blocks::{compute_blocks, UsageBlock, UsageEntry, BLOCK_MICROS};
