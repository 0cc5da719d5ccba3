//! One-pass analytics state machines: latency summaries, active time, conversation summaries and
//! usage blocks, and the price rule usage is costed by (with the reader of the price data it is
//! seeded from). The extension wraps the first three as
//! parallel-safe aggregates (state, combine, serialize) and the last as a set-returning function.

pub mod active_time;
pub mod codec;
pub mod conversation_summary;
pub mod latency;
pub mod price_data;
pub mod pricing;
pub mod usage_blocks;

pub use active_time::{ActiveTime, DEFAULT_IDLE_CUTOFF_MICROS};
pub use conversation_summary::{IntegerStats, MessageFacts, MessageSummary, ToolCallSummary};
pub use latency::{LatencySketch, LatencySummary};
pub use price_data::{anthropic_prices, ModelPrice, TierRates};
pub use pricing::{
    is_standard_service_tier, LongContext, Price, PriceCache, PriceList, PriceSource, Rates,
    ResponseUsage, Speed, SYNTHETIC_MODEL,
};
pub use usage_blocks::{compute_blocks, UsageBlock, UsageEntry, BLOCK_MICROS};
