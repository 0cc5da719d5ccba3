//! One-pass analytics state machines: latency summaries, active time and usage blocks.
