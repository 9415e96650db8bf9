//! The seeded random streams behind a scenario's choices.

/// SplitMix64: tiny, and stable across crate versions, so a seed means the
/// same outcomes on every build.
#[derive(Clone, Debug)]
pub struct SimRng(u64);

impl SimRng {
    pub fn new(seed: u64) -> SimRng {
        SimRng(seed)
    }

    /// A stream of its own for one call: FNV-1a of the number, mixed with
    /// the seed and the attempt count.
    pub fn for_call(seed: u64, number: &str, attempt: u64) -> SimRng {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in number.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        let mut r = SimRng(seed ^ h.rotate_left(17) ^ attempt.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        r.next_u64();
        r
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}
