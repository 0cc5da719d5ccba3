//! A one-pass latency summary: count, min, max and mean exactly, and quantiles from a
//! logarithmic bucket sketch with a guaranteed relative error.
//!
//! Each positive value `x` falls into bucket `k = ceil(log_γ x)` with `γ = (1 + α) / (1 − α)`;
//! a bucket is reported as `2γ^k / (γ + 1)`, which is within a factor `1 ± α` of every value in
//! it. So a quantile is within **α = 1 %** of the exact value at the same rank (the value
//! `percentile_disc` returns), for values from `MIN_TRACKED_MS` up; smaller values, including 0,
//! are counted in a bucket of their own and reported as 0. Reported quantiles are clamped to the
//! exact min and max. Adding a value is O(1), partial sketches merge by adding buckets (so
//! PostgreSQL can aggregate in parallel), and memory is bounded by the value range: 1 µs to
//! ~11 days of milliseconds is under 2,000 buckets. The buckets are kept in an array over a span
//! of at most `DENSE_BUCKETS` indexes; a value far outside that span (1e308 among latencies of a
//! few milliseconds) goes to a sorted map of its own, so every finite value keeps the 1 % bound.
//!
//! Negative, NaN and infinite values are ignored (execution times cannot be negative; the column
//! forbids it, but the aggregate can be called on any expression). Finite values can still add up
//! past the largest double: the sum, and so the mean, is then `Infinity`, in a parallel plan as in
//! a serial one (a state holding such a sum serializes and reads back like any other).

use std::collections::BTreeMap;

use super::codec::{put_f64, put_signed, put_varint, DecodeError, Reader};

/// Relative accuracy of every reported quantile.
pub const RELATIVE_ACCURACY: f64 = 0.01;
/// Values below this many milliseconds are counted as 0.
pub const MIN_TRACKED_MS: f64 = 1e-3;
/// Widest span of bucket indexes kept in the array (36 orders of magnitude); buckets beyond it
/// are kept in `outliers`.
const DENSE_BUCKETS: usize = 4096;
/// Bucket indexes of the smallest tracked value and of the largest double: no finite value
/// falls outside them, so no valid state holds more buckets than this range.
const LOWEST_INDEX: i32 = -346;
const HIGHEST_INDEX: i32 = 35_490;
const FORMAT_VERSION: u8 = 1;

fn gamma() -> f64 {
    (1.0 + RELATIVE_ACCURACY) / (1.0 - RELATIVE_ACCURACY)
}

/// Whole milliseconds below this (about a minute) have their bucket index tabulated.
const TABULATED_BELOW: u32 = 1 << 16;
const TABULATED_BELOW_I64: i64 = TABULATED_BELOW as i64;

/// The bucket index of every whole millisecond below `TABULATED_BELOW`, worked out once per
/// process (256 KiB, about a millisecond): a table lookup instead of a logarithm per value is
/// what makes adding a value cheaper than PostgreSQL's own `avg`.
fn whole_millisecond_indexes() -> &'static [i32] {
    static INDEXES: std::sync::OnceLock<Box<[i32]>> = std::sync::OnceLock::new();
    INDEXES.get_or_init(|| {
        (0..TABULATED_BELOW)
            .map(|ms| LatencySketch::logarithmic_index(f64::from(ms.max(1))))
            .collect()
    })
}

/// The five-number-and-then-some summary the SQL aggregate returns.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatencySummary {
    pub count: u64,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub mean: Option<f64>,
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
}

/// The sketch; see the module documentation.
#[derive(Debug, Clone)]
pub struct LatencySketch {
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
    zeros: u64,
    /// Bucket index of `buckets[0]`.
    offset: i32,
    buckets: Vec<u64>,
    /// Buckets whose index is too far from the array's span to widen it (at most one per index
    /// between `LOWEST_INDEX` and `HIGHEST_INDEX`).
    outliers: BTreeMap<i32, u64>,
}

/// Sketches are equal when they hold the same statistics and buckets, however the buckets are
/// laid out (which depends on the order values came in).
impl PartialEq for LatencySketch {
    fn eq(&self, other: &Self) -> bool {
        let exact = |s: &Self| {
            (
                s.count,
                s.sum.to_bits(),
                s.min.to_bits(),
                s.max.to_bits(),
                s.zeros,
            )
        };
        exact(self) == exact(other) && self.occupied() == other.occupied()
    }
}

impl Default for LatencySketch {
    fn default() -> Self {
        LatencySketch::new()
    }
}

impl LatencySketch {
    pub fn new() -> LatencySketch {
        LatencySketch {
            count: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            zeros: 0,
            offset: 0,
            buckets: Vec::new(),
            outliers: BTreeMap::new(),
        }
    }

    fn index_of(value: f64) -> i32 {
        // Execution times are whole milliseconds: most are looked up rather than logged.
        let whole = value as u32;
        if f64::from(whole) == value && (1..TABULATED_BELOW).contains(&whole) {
            return whole_millisecond_indexes()[whole as usize];
        }
        Self::logarithmic_index(value)
    }

    fn logarithmic_index(value: f64) -> i32 {
        (value.ln() / gamma().ln()).ceil() as i32
    }

    fn value_of(index: i32) -> f64 {
        let g = gamma();
        2.0 * g.powi(index) / (g + 1.0)
    }

    /// Adds one value (milliseconds).
    pub fn add(&mut self, value: f64) {
        if !value.is_finite() || value < 0.0 {
            return;
        }
        self.record_exactly(value);
        if value < MIN_TRACKED_MS {
            self.zeros += 1;
        } else {
            self.add_to_bucket(Self::index_of(value), 1);
        }
    }

    /// Adds one whole number of milliseconds, as execution times are stored: the same as
    /// `add(ms as f64)`, without the checks a fractional value needs.
    pub fn add_whole_milliseconds(&mut self, ms: i64) {
        if ms < 0 {
            return;
        }
        let value = ms as f64;
        self.record_exactly(value);
        match ms {
            0 => self.zeros += 1,
            1..TABULATED_BELOW_I64 => {
                self.add_to_bucket(whole_millisecond_indexes()[ms as usize], 1)
            }
            _ => self.add_to_bucket(Self::logarithmic_index(value), 1),
        }
    }

    /// What the summary reports exactly rather than from buckets: count, sum, min and max.
    #[inline(always)]
    fn record_exactly(&mut self, value: f64) {
        self.count += 1;
        self.sum += value;
        self.min = self.min.min(value);
        self.max = self.max.max(value);
    }

    fn add_to_bucket(&mut self, index: i32, count: u64) {
        if self.buckets.is_empty() {
            self.offset = index;
            self.buckets.push(0);
        }
        let end = self.offset + self.buckets.len() as i32;
        let span_with_index = (end.max(index + 1) - self.offset.min(index)) as usize;
        if span_with_index > DENSE_BUCKETS {
            *self.outliers.entry(index).or_insert(0) += count;
            return;
        }
        if index < self.offset {
            let grow = (self.offset - index) as usize;
            self.buckets.splice(0..0, std::iter::repeat_n(0, grow));
            self.offset = index;
        }
        let slot = (index - self.offset) as usize;
        if slot >= self.buckets.len() {
            self.buckets.resize(slot + 1, 0);
        }
        self.buckets[slot] += count;
    }

    /// Every non-empty bucket as (index, count), in index order.
    fn occupied(&self) -> Vec<(i32, u64)> {
        let dense = self
            .buckets
            .iter()
            .enumerate()
            .filter(|&(_, &count)| count > 0)
            .map(|(slot, &count)| (self.offset + slot as i32, count));
        let mut all: Vec<(i32, u64)> = dense
            .chain(self.outliers.iter().map(|(&index, &count)| (index, count)))
            .collect();
        if !self.outliers.is_empty() {
            all.sort_unstable_by_key(|&(index, _)| index);
        }
        all
    }

    /// Adds everything another sketch holds: the result is the sketch of both inputs together.
    pub fn merge(&mut self, other: &LatencySketch) {
        if other.count == 0 {
            return;
        }
        self.count += other.count;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        self.zeros += other.zeros;
        for (index, count) in other.occupied() {
            self.add_to_bucket(index, count);
        }
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn min(&self) -> Option<f64> {
        (self.count > 0).then_some(self.min)
    }

    pub fn max(&self) -> Option<f64> {
        (self.count > 0).then_some(self.max)
    }

    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum / self.count as f64)
    }

    /// The value at rank `ceil(q · count)` (1-based), within the relative accuracy.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.count == 0 || !(0.0..=1.0).contains(&q) {
            return None;
        }
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        if rank <= self.zeros {
            // values below MIN_TRACKED_MS report as 0, kept within the exact range
            return Some(0.0f64.clamp(self.min, self.max));
        }
        let mut seen = self.zeros;
        for (index, count) in self.occupied() {
            seen += count;
            if seen >= rank {
                return Some(Self::value_of(index).clamp(self.min, self.max));
            }
        }
        Some(self.max)
    }

    pub fn summary(&self) -> LatencySummary {
        LatencySummary {
            count: self.count,
            min: self.min(),
            max: self.max(),
            mean: self.mean(),
            p50: self.quantile(0.50),
            p90: self.quantile(0.90),
            p95: self.quantile(0.95),
            p99: self.quantile(0.99),
        }
    }

    /// Compact bytes: version, exact statistics, then the non-empty buckets as (gap, count).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32 + 3 * self.buckets.len());
        out.push(FORMAT_VERSION);
        put_varint(&mut out, self.count);
        if self.count == 0 {
            return out;
        }
        put_f64(&mut out, self.sum);
        put_f64(&mut out, self.min);
        put_f64(&mut out, self.max);
        put_varint(&mut out, self.zeros);
        let occupied = self.occupied();
        put_varint(&mut out, occupied.len() as u64);
        let mut previous = occupied.first().map_or(0, |&(index, _)| index);
        put_signed(&mut out, i64::from(previous));
        for (index, count) in occupied {
            put_varint(&mut out, (index - previous) as u64);
            put_varint(&mut out, count);
            previous = index;
        }
        out
    }

    /// Reads bytes written by `to_bytes`, rejecting anything inconsistent.
    pub fn from_bytes(bytes: &[u8]) -> Result<LatencySketch, DecodeError> {
        let mut reader = Reader::new(bytes);
        if reader.byte()? != FORMAT_VERSION {
            return Err(DecodeError("unknown version"));
        }
        let count = reader.varint()?;
        let mut sketch = LatencySketch::new();
        if count == 0 {
            reader.finish()?;
            return Ok(sketch);
        }
        sketch.count = count;
        sketch.sum = reader.f64()?;
        sketch.min = reader.f64()?;
        sketch.max = reader.f64()?;
        sketch.zeros = reader.varint()?;
        let occupied = reader.varint()?;
        if occupied > (HIGHEST_INDEX - LOWEST_INDEX + 1) as u64 {
            return Err(DecodeError("too many buckets"));
        }
        let mut index =
            i32::try_from(reader.signed()?).map_err(|_| DecodeError("bucket out of range"))?;
        let mut total = sketch.zeros;
        for _ in 0..occupied {
            let gap =
                i32::try_from(reader.varint()?).map_err(|_| DecodeError("bucket out of range"))?;
            index = index
                .checked_add(gap)
                .ok_or(DecodeError("bucket out of range"))?;
            let bucket_count = reader.varint()?;
            if bucket_count == 0 {
                return Err(DecodeError("empty bucket"));
            }
            total = total
                .checked_add(bucket_count)
                .ok_or(DecodeError("count overflows"))?;
            // No finite value has a bucket outside this range; refusing others also keeps crafted
            // bytes from making us allocate without bound.
            if !(LOWEST_INDEX..=HIGHEST_INDEX).contains(&index) {
                return Err(DecodeError("bucket out of range"));
            }
            sketch.add_to_bucket(index, bucket_count);
        }
        reader.finish()?;
        // The sum of finite values may have overflowed to +Infinity; it is never NaN or negative.
        let consistent = total == count
            && sketch.sum >= 0.0
            && sketch.min.is_finite()
            && sketch.max.is_finite()
            && 0.0 <= sketch.min
            && sketch.min <= sketch.max;
        if !consistent {
            return Err(DecodeError("inconsistent statistics"));
        }
        Ok(sketch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_milliseconds_add_as_their_values_do() {
        let values: Vec<i64> = [-5, 0, 1, 2, 65_535, 65_536, 600_000, 1 << 40]
            .into_iter()
            .chain((0..5_000).map(|i| i * 37 % 90_001))
            .collect();
        let (mut whole, mut general) = (LatencySketch::new(), LatencySketch::new());
        for &ms in &values {
            whole.add_whole_milliseconds(ms);
            general.add(ms as f64);
        }
        assert_eq!(whole, general);
    }

    #[test]
    fn tabulated_indexes_are_the_logarithmic_ones() {
        for ms in [1u32, 2, 3, 99, 100, 101, 1_000, 4_095, 65_535] {
            assert_eq!(
                LatencySketch::index_of(f64::from(ms)),
                LatencySketch::logarithmic_index(f64::from(ms)),
                "{ms}"
            );
        }
        for value in [0.5, 1.5, 65_536.0, 1e9, 12.000_000_1] {
            assert_eq!(
                LatencySketch::index_of(value),
                LatencySketch::logarithmic_index(value),
                "{value}"
            );
        }
        let table = whole_millisecond_indexes();
        assert!((1..TABULATED_BELOW as usize)
            .all(|ms| table[ms] == LatencySketch::logarithmic_index(ms as f64)));
    }

    /// The exact value at rank ceil(q·n), as percentile_disc gives it.
    fn exact(sorted: &[f64], q: f64) -> f64 {
        let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
        sorted[rank - 1]
    }

    fn within_bound(estimate: f64, truth: f64) -> bool {
        if truth < MIN_TRACKED_MS {
            return estimate <= MIN_TRACKED_MS;
        }
        (estimate - truth).abs() <= RELATIVE_ACCURACY * truth * 1.000_001
    }

    fn check(values: &[f64]) {
        let mut sketch = LatencySketch::new();
        values.iter().for_each(|&v| sketch.add(v));
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        for q in [0.0, 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0] {
            let estimate = sketch.quantile(q).unwrap();
            assert!(
                within_bound(estimate, exact(&sorted, q)),
                "q {q}: {estimate} vs {}",
                exact(&sorted, q)
            );
        }
        assert_eq!(sketch.min(), Some(sorted[0]));
        assert_eq!(sketch.max(), sorted.last().copied());
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        let reported = sketch.mean().unwrap();
        assert!(
            reported == mean || (reported - mean).abs() <= 1e-9 * mean.abs().max(1.0),
            "{reported} vs {mean}"
        );
    }

    /// A deterministic pseudo-random stream in [0, 1).
    fn uniform(seed: u64, n: usize) -> Vec<f64> {
        let mut state = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 11) as f64 / (1u64 << 53) as f64
            })
            .collect()
    }

    #[test]
    fn quantiles_stay_within_one_percent_on_many_shapes() {
        check(
            &uniform(1, 10_000)
                .iter()
                .map(|u| u * 5_000.0)
                .collect::<Vec<_>>(),
        );
        check(
            &uniform(2, 20_000)
                .iter()
                .map(|u| (u * 12.0).exp())
                .collect::<Vec<_>>(),
        ); // heavy tail
        check(&vec![42.0; 1000]);
        let mut bimodal: Vec<f64> = uniform(3, 5_000).iter().map(|u| 3.0 + u).collect();
        bimodal.extend(uniform(4, 500).iter().map(|u| 30_000.0 + u * 1000.0));
        check(&bimodal);
        let mut with_zeros = vec![0.0; 300];
        with_zeros.extend(uniform(5, 700).iter().map(|u| u * 100.0));
        check(&with_zeros);
        check(&[7.0]);
        check(&[0.0, 1e9]);
    }

    #[test]
    fn merging_parts_equals_one_pass() {
        let values: Vec<f64> = uniform(9, 10_000)
            .iter()
            .map(|u| (u * 10.0).exp())
            .collect();
        let mut whole = LatencySketch::new();
        values.iter().for_each(|&v| whole.add(v));
        for parts in [2usize, 3, 7] {
            let mut merged = LatencySketch::new();
            for chunk in values.chunks(values.len() / parts + 1) {
                let mut part = LatencySketch::new();
                chunk.iter().for_each(|&v| part.add(v));
                merged.merge(&part);
            }
            assert_eq!(merged.occupied(), whole.occupied());
            assert_eq!(
                (merged.count, merged.zeros, merged.min, merged.max),
                (whole.count, whole.zeros, whole.min, whole.max)
            );
            assert_eq!(merged.summary().p99, whole.summary().p99);
        }
    }

    #[test]
    fn bytes_round_trip_and_garbage_is_rejected() {
        let mut sketch = LatencySketch::new();
        for value in [0.0, 0.5, 3.0, 3.0, 1200.0, 98_000.0] {
            sketch.add(value);
        }
        let bytes = sketch.to_bytes();
        assert_eq!(LatencySketch::from_bytes(&bytes).unwrap(), sketch);
        assert_eq!(
            LatencySketch::from_bytes(&LatencySketch::new().to_bytes())
                .unwrap()
                .count(),
            0
        );
        for bad in [
            &[][..],
            &[9, 0],
            &bytes[..bytes.len() - 1],
            &[1, 5, 0, 0, 0],
        ] {
            assert!(LatencySketch::from_bytes(bad).is_err());
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(LatencySketch::from_bytes(&longer).is_err());
    }

    #[test]
    fn the_extremes_of_double_keep_every_quantile_within_bounds() {
        check(&[1.0, 2.0, 3.0, 1e308]);
        check(&[1e-3, 5.0, f64::MAX, f64::MAX, 7.5e200, 0.0]);
        assert_eq!(
            LatencySketch::logarithmic_index(MIN_TRACKED_MS),
            LOWEST_INDEX + 1
        );
        assert!(LatencySketch::logarithmic_index(f64::MAX) <= HIGHEST_INDEX);
    }

    #[test]
    fn a_sum_past_the_largest_double_round_trips() {
        let mut sketch = LatencySketch::new();
        sketch.add(1e308);
        sketch.add(1e308);
        assert_eq!(sketch.mean(), Some(f64::INFINITY));
        let read = LatencySketch::from_bytes(&sketch.to_bytes()).unwrap();
        assert_eq!(read.summary(), sketch.summary());
        let (mut left, mut right) = (LatencySketch::new(), LatencySketch::new());
        left.add(1e308);
        right.add(1e308);
        let mut merged = LatencySketch::from_bytes(&left.to_bytes()).unwrap();
        merged.merge(&LatencySketch::from_bytes(&right.to_bytes()).unwrap());
        assert_eq!(merged.summary(), sketch.summary());
    }

    #[test]
    fn ignores_what_is_not_a_duration() {
        let mut sketch = LatencySketch::new();
        for value in [-1.0, f64::NAN, f64::INFINITY] {
            sketch.add(value);
        }
        assert_eq!(sketch.count(), 0);
        assert_eq!(sketch.summary().p50, None);
    }
}
