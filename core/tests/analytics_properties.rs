//! Properties of the aggregate states on random input: merging partial states in any split and
//! order equals one pass, encodings round-trip, and decoding arbitrary bytes never panics.

use cco_core::analytics::{ActiveTime, LatencySketch, DEFAULT_IDLE_CUTOFF_MICROS};
use proptest::prelude::*;

fn sketch_of(values: &[f64]) -> LatencySketch {
    let mut sketch = LatencySketch::new();
    values.iter().for_each(|&v| sketch.add(v));
    sketch
}

/// The number of cases: PROPTEST_CASES when set (the long run), else a CI-sized default.
fn cases_or(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(default)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases_or(256)))]

    #[test]
    fn merged_sketches_equal_one_pass(values in prop::collection::vec(0.0f64..1e7, 1..400), cut in 0usize..400, swap in any::<bool>()) {
        let cut = cut % values.len();
        let (left, right) = values.split_at(cut);
        let (first, second) = if swap { (right, left) } else { (left, right) };
        let mut merged = sketch_of(first);
        merged.merge(&sketch_of(second));
        let whole = sketch_of(&values);
        prop_assert_eq!(merged.summary().p50, whole.summary().p50);
        prop_assert_eq!(merged.summary().p99, whole.summary().p99);
        prop_assert_eq!(merged.count(), whole.count());
        prop_assert_eq!(LatencySketch::from_bytes(&merged.to_bytes()).unwrap().summary(), merged.summary());
    }

    #[test]
    fn merged_active_times_equal_one_pass(stamps in prop::collection::vec(-1_000_000_000_000i64..1_000_000_000_000, 0..300), cut in 0usize..300) {
        let cut = cut.min(stamps.len());
        let mut left = ActiveTime::new();
        stamps[..cut].iter().for_each(|&s| left.add(s));
        let mut right = ActiveTime::new();
        stamps[cut..].iter().for_each(|&s| right.add(s));
        left.merge(&right);
        let mut whole = ActiveTime::new();
        stamps.iter().for_each(|&s| whole.add(s));
        prop_assert_eq!(left.active_micros(DEFAULT_IDLE_CUTOFF_MICROS), whole.active_micros(DEFAULT_IDLE_CUTOFF_MICROS));
        let decoded = ActiveTime::from_bytes(&whole.to_bytes()).unwrap();
        prop_assert_eq!(decoded.active_micros(DEFAULT_IDLE_CUTOFF_MICROS), whole.active_micros(DEFAULT_IDLE_CUTOFF_MICROS));
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = LatencySketch::from_bytes(&bytes);
        let _ = ActiveTime::from_bytes(&bytes);
    }
}
