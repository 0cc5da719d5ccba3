//! Deterministic randomness for the corpus: the same seed always gives the same corpus, on any
//! machine, so every figure can be reproduced.

/// splitmix64: small, fast, and good enough for generating test data.
#[derive(Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng {
            state: seed ^ 0x9e37_79b9_7f4a_7c15,
        }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [0, n); n must be positive.
    pub fn below(&mut self, n: usize) -> usize {
        (self.unit() * n as f64) as usize % n.max(1)
    }

    pub fn chance(&mut self, probability: f64) -> bool {
        self.unit() < probability
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// Log-normal with the given median and spread (sigma of the underlying normal).
    pub fn log_normal(&mut self, median: f64, sigma: f64) -> f64 {
        let (u1, u2) = (self.unit().max(1e-12), self.unit());
        let normal = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
        median * (sigma * normal).exp()
    }
}

/// Zipf-distributed ranks in [0, n): rank r has weight 1 / (r + 1)^s. Sampled by binary search
/// over the cumulative weights, built once.
pub struct Zipf {
    cumulative: Vec<f64>,
}

impl Zipf {
    pub fn new(n: usize, exponent: f64) -> Zipf {
        let mut total = 0.0;
        let cumulative = (0..n.max(1))
            .map(|rank| {
                total += 1.0 / ((rank + 1) as f64).powf(exponent);
                total
            })
            .collect();
        Zipf { cumulative }
    }

    pub fn sample(&self, rng: &mut Rng) -> usize {
        let total = *self.cumulative.last().unwrap_or(&1.0);
        let target = rng.unit() * total;
        self.cumulative
            .partition_point(|&c| c < target)
            .min(self.cumulative.len() - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        assert!((0..100).all(|_| a.next_u64() == b.next_u64()));
        assert_ne!(Rng::new(7).next_u64(), Rng::new(8).next_u64());
    }

    #[test]
    fn zipf_favours_low_ranks_with_a_long_tail() {
        let zipf = Zipf::new(10_000, 1.05);
        let mut rng = Rng::new(1);
        let samples: Vec<usize> = (0..50_000).map(|_| zipf.sample(&mut rng)).collect();
        let top = samples.iter().filter(|&&r| r < 10).count();
        let tail = samples.iter().filter(|&&r| r >= 1000).count();
        let distinct = samples
            .iter()
            .collect::<std::collections::HashSet<_>>()
            .len();
        assert!(
            top > 5_000 && tail > 5_000 && distinct > 3_000,
            "{top} {tail} {distinct}"
        );
    }

    #[test]
    fn log_normal_has_the_requested_median() {
        let mut rng = Rng::new(3);
        let mut values: Vec<f64> = (0..20_001).map(|_| rng.log_normal(300.0, 1.0)).collect();
        values.sort_by(f64::total_cmp);
        assert!((values[10_000] - 300.0).abs() < 20.0, "{}", values[10_000]);
    }
}
