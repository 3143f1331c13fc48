//! The small seeded random generator kchat uses for synthetic weights and
//! generated test text: deterministic across platforms and thread counts.

/// SplitMix64: a small, fast generator with good statistical quality, used
/// to derive stream seeds, as the streams themselves, and for test data.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator starting at `state`.
    pub fn new(state: u64) -> SplitMix64 {
        SplitMix64(state)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value of mean 0 and variance 1, roughly normal: the sum of four
    /// 16-bit uniforms (Irwin–Hall), bounded by ±2√3.
    pub fn next_std(&mut self) -> f32 {
        let r = self.next_u64();
        let sum: u32 = (0..4).map(|i| ((r >> (16 * i)) & 0xFFFF) as u32).sum();
        // Each uniform is (k + 0.5) / 65536 in (0, 1); four of them sum to
        // mean 2, variance 1/3.
        let s = (sum as f32 + 2.0) / 65_536.0 - 2.0;
        s * 3f32.sqrt()
    }
}
