//! Cost of the latency sketch next to what `percentile_cont` three times has to do (sort the
//! values three times), printed as figures.
//! Run: `cargo bench -p cco-core --bench analytics_throughput`

use std::hint::black_box;
use std::time::Instant;

use cco_core::analytics::LatencySketch;

fn skewed_latencies(n: usize) -> Vec<f64> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let uniform = (state >> 11) as f64 / (1u64 << 53) as f64;
            (uniform * 11.0).exp() // 1 ms to ~60 s, heavy tail
        })
        .collect()
}

fn main() {
    let values = skewed_latencies(10_000_000);
    let started = Instant::now();
    let mut sketch = LatencySketch::new();
    for &value in &values {
        sketch.add(black_box(value));
    }
    let add_seconds = started.elapsed().as_secs_f64();
    println!(
        "LatencySketch::add        {:>7.2} ns/value ({:.0} M values/s)",
        add_seconds * 1e9 / values.len() as f64,
        values.len() as f64 / add_seconds / 1e6
    );

    let started = Instant::now();
    let bytes = sketch.to_bytes();
    let decoded = LatencySketch::from_bytes(&bytes).expect("round trip");
    let mut merged = LatencySketch::new();
    merged.merge(&decoded);
    println!(
        "serialize+decode+merge    {:>7.2} µs ({} bytes)",
        started.elapsed().as_secs_f64() * 1e6,
        bytes.len()
    );

    let started = Instant::now();
    let summary = black_box(merged.summary());
    println!(
        "summary (8 statistics)    {:>7.2} µs  p50 {:.1} p95 {:.1} p99 {:.1} ms",
        started.elapsed().as_secs_f64() * 1e6,
        summary.p50.unwrap_or(0.0),
        summary.p95.unwrap_or(0.0),
        summary.p99.unwrap_or(0.0)
    );

    let million = &values[..1_000_000];
    let started = Instant::now();
    let mut sketch = LatencySketch::new();
    million.iter().for_each(|&v| sketch.add(v));
    black_box(sketch.summary());
    let sketch_seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    for _ in 0..3 {
        let mut copy = million.to_vec();
        copy.sort_by(f64::total_cmp);
        black_box(copy[copy.len() / 2]);
    }
    let sort_seconds = started.elapsed().as_secs_f64();
    println!(
        "1M values: sketch {:.1} ms, three sorts {:.1} ms ({:.0}x)",
        sketch_seconds * 1e3,
        sort_seconds * 1e3,
        sort_seconds / sketch_seconds
    );
}
