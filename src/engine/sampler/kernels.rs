//! The sampler's passes over the vocabulary: per-block maxima (one
//! vectorised pass, the basis of everything else), a vectorisable `exp`,
//! and the draws: from an explicit list, by rejection against the block
//! maxima, or exactly through per-block weight sums.
//!
//! Every filter keeps a prefix of one total order: logit descending, then
//! token id ascending ([`Cut`] names its last token). NaN logits are outside
//! every prefix (they never compare true), `-inf` logits weigh 0.

use std::cmp::Ordering;

use crate::rng::SplitMix64;

/// Tokens per block: the unit of the block maxima and block weight sums.
pub(super) const BLOCK: usize = 64;
/// Lanes of the inner loops (one AVX-512 register, two AVX2 ones).
pub(super) const LANES: usize = 16;
/// The last token of a prefix of the (logit descending, id ascending) order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Cut {
    /// Its logit.
    pub v: f32,
    /// Its id.
    pub id: u32,
}

impl Cut {
    /// The whole vocabulary.
    pub const ALL: Cut = Cut {
        v: f32::NEG_INFINITY,
        id: u32::MAX,
    };

    /// Whether the token (`v`, `id`) is in the prefix.
    #[inline(always)]
    pub fn contains(self, v: f32, id: u32) -> bool {
        v > self.v || (v == self.v && id <= self.id)
    }

    /// The shorter of two prefixes: their intersection.
    pub fn min(self, o: Cut) -> Cut {
        if o.contains(self.v, self.id) {
            self
        } else {
            o
        }
    }
}

/// Buffers kept between calls so that sampling does not allocate.
#[derive(Debug, Clone, Default)]
pub(super) struct Scratch {
    /// Per-block maxima of the current logits.
    pub bmax: Vec<f32>,
    /// Per-block weight sums.
    pub bsum: Vec<f32>,
    /// Running sums of the blocks' bounds for rejection draws.
    pub prefix: Vec<f64>,
    /// A copy of `bmax` for selection.
    pub bsel: Vec<f32>,
    /// Explicit candidates (logit, id).
    pub cand: Vec<(f32, u32)>,
    /// Histogram counts.
    pub cnt: Vec<u32>,
    /// Histogram weights.
    pub mass: Vec<f32>,
}

/// The sampler's order on candidates: logit descending, then id ascending.
/// Callers never pass NaN; `-0.0 == 0.0`, as in [`Cut::contains`].
pub(super) fn cmp_desc(a: &(f32, u32), b: &(f32, u32)) -> Ordering {
    b.0.partial_cmp(&a.0)
        .unwrap_or(Ordering::Equal)
        .then(a.1.cmp(&b.1))
}

/// `a * b + c`, fused where the target has FMA (the repository builds with
/// `target-cpu=native` or x86-64-v3), so that the polynomial is short.
#[inline(always)]
fn madd(a: f32, b: f32, c: f32) -> f32 {
    #[cfg(target_feature = "fma")]
    {
        a.mul_add(b, c)
    }
    #[cfg(not(target_feature = "fma"))]
    {
        a * b + c
    }
}

/// `e^x` for `x <= 0`, within about 2 ulp (Cephes' `expf` polynomial);
/// 0 below -87 and for NaN. Branch-free, so loops over it vectorise.
#[inline(always)]
pub(super) fn exp_neg(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const MAGIC: f32 = 12_582_912.0; // 1.5 * 2^23: adding it rounds to an integer
    let valid = x >= -87.0;
    let x = if valid { x } else { -87.0 };
    let x = if x <= 0.0 { x } else { 0.0 };
    let t = madd(x, LOG2E, MAGIC);
    let n = t - MAGIC;
    let r = madd(n, 2.121_944_4e-4, madd(n, -0.693_359_4, x));
    let p = madd(1.987_569_1e-4, r, 1.398_199_9e-3);
    let p = madd(p, r, 8.333_452e-3);
    let p = madd(p, r, 4.166_579_6e-2);
    let p = madd(p, r, 1.666_666_5e-1);
    let p = madd(p, r, 0.5);
    let e = madd(p, r * r, r + 1.0);
    // t's low mantissa bits hold n in [-126, 0]; 2^n is built from them.
    let n = (t.to_bits() as i32).wrapping_sub(MAGIC.to_bits() as i32);
    let scale = f32::from_bits((n.wrapping_add(127) as u32) << 23);
    if valid {
        e * scale
    } else {
        0.0
    }
}

/// `if a > b { a } else { b }`: the maximum, ignoring a NaN `a`.
#[inline(always)]
pub(super) fn max_of(a: f32, b: f32) -> f32 {
    if a > b {
        a
    } else {
        b
    }
}

/// The lanes' maximum, by halving (shuffles, not a scalar chain).
#[inline(always)]
fn hmax(mut a: [f32; LANES]) -> f32 {
    let mut w = LANES;
    while w > 1 {
        w /= 2;
        for j in 0..w {
            a[j] = max_of(a[j + w], a[j]);
        }
    }
    a[0]
}

/// The lanes' sum, by halving (a fixed order, so results are reproducible).
#[inline(always)]
fn hsum(mut a: [f32; LANES]) -> f32 {
    let mut w = LANES;
    while w > 1 {
        w /= 2;
        for j in 0..w {
            a[j] += a[j + w];
        }
    }
    a[0]
}

/// The largest non-NaN value of `block` (`-inf` if none).
#[inline(always)]
fn block_max(block: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; LANES];
    let mut chunks = block.chunks_exact(LANES);
    for c in &mut chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a = max_of(x, *a);
        }
    }
    let mut m = hmax(acc);
    for &x in chunks.remainder() {
        m = max_of(x, m);
    }
    m
}

/// Fills `out` with the maxima of `v`'s blocks; returns the overall maximum
/// (`-inf` when every logit is `-inf` or NaN).
pub(super) fn block_maxima(v: &[f32], out: &mut Vec<f32>) -> f32 {
    out.clear();
    let mut mx = f32::NEG_INFINITY;
    for block in v.chunks(BLOCK) {
        let m = block_max(block);
        out.push(m);
        mx = if m > mx { m } else { mx };
    }
    mx
}

/// The lowest id whose logit equals `mx` (the maximum from
/// [`block_maxima`]); 0 when there is none (every logit NaN).
pub(super) fn argmax(v: &[f32], bmax: &[f32], mx: f32) -> u32 {
    for (b, (block, &bm)) in v.chunks(BLOCK).zip(bmax).enumerate() {
        if bm == mx {
            if let Some(j) = block.iter().position(|&x| x == mx) {
                return (b * BLOCK + j) as u32;
            }
        }
    }
    0
}

/// The weight of the members of `cut` in one block, weights being
/// `exp((logit - mx) * scale)`; `base` is the block's first id.
#[inline(always)]
fn block_sum(block: &[f32], base: usize, cut: Cut, mx: f32, scale: f32) -> f32 {
    let mut acc = [0f32; LANES];
    let mut ties = false;
    let mut chunks = block.chunks_exact(LANES);
    for c in &mut chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            let w = exp_neg((x - mx) * scale);
            *a += if x > cut.v { w } else { 0.0 };
            ties |= x == cut.v;
        }
    }
    let mut s = hsum(acc);
    for &x in chunks.remainder() {
        s += if x > cut.v {
            exp_neg((x - mx) * scale)
        } else {
            0.0
        };
        ties |= x == cut.v;
    }
    // Tokens tied with the cut are members up to its id; at -inf they weigh 0.
    if ties && cut.v > f32::NEG_INFINITY {
        for (j, &x) in block.iter().enumerate() {
            if x == cut.v && (base + j) as u32 <= cut.id {
                s += exp_neg((x - mx) * scale);
            }
        }
    }
    s
}

/// Fills `out` with the members' weight per block and returns the total.
pub(super) fn block_sums(
    v: &[f32],
    bmax: &[f32],
    cut: Cut,
    mx: f32,
    scale: f32,
    out: &mut Vec<f32>,
) -> f64 {
    out.clear();
    let mut total = 0f64;
    for (b, (block, &bm)) in v.chunks(BLOCK).zip(bmax).enumerate() {
        let s = if bm >= cut.v {
            block_sum(block, b * BLOCK, cut, mx, scale)
        } else {
            0.0
        };
        out.push(s);
        total += f64::from(s);
    }
    total
}

/// Draws a member of `cut` with probability proportional to its weight,
/// given the block sums and total from [`block_sums`] and `u` in [0, 1).
/// `None` only when the total weight is 0.
pub(super) fn draw_blocks(
    v: &[f32],
    bsum: &[f32],
    total: f64,
    cut: Cut,
    mx: f32,
    scale: f32,
    u: f64,
) -> Option<u32> {
    let target = u * total;
    let mut acc = 0f64;
    let mut last_block = None;
    for (b, &s) in bsum.iter().enumerate() {
        if s <= 0.0 {
            continue;
        }
        last_block = Some(b);
        if acc + f64::from(s) > target {
            return draw_in_block(v, b, cut, mx, scale, target - acc);
        }
        acc += f64::from(s);
    }
    // Rounding left the target past the end: the last token of weight.
    last_block.and_then(|b| draw_in_block(v, b, cut, mx, scale, f64::INFINITY))
}

/// The member of block `b` where the running weight first exceeds `rest`
/// (the last member of weight when it never does).
fn draw_in_block(v: &[f32], b: usize, cut: Cut, mx: f32, scale: f32, rest: f64) -> Option<u32> {
    let mut acc = 0f64;
    let mut last = None;
    let block = v.chunks(BLOCK).nth(b)?;
    for (j, &x) in block.iter().enumerate() {
        let id = (b * BLOCK + j) as u32;
        if !cut.contains(x, id) {
            continue;
        }
        let w = exp_neg((x - mx) * scale);
        if w > 0.0 {
            last = Some(id);
            acc += f64::from(w);
            if acc > rest {
                break;
            }
        }
    }
    last
}

/// Proposals a rejection draw makes before it falls back to an exact pass.
/// When every block's maximum is kept, a proposal is accepted with
/// probability at least 1/64 on average; ties at a cut can lower that.
const MAX_PROPOSALS: usize = 4096;

/// A uniform draw in [0, 1) with 53 random bits.
pub(super) fn unit(rng: &mut SplitMix64) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Draws a member of `cut` with probability proportional to
/// `exp((logit - mx) * scale)`, exactly, without a pass over the logits:
/// a block is proposed in proportion to its size times the weight of its
/// maximum (an upper bound of each of its tokens), a token uniformly in it,
/// and the token is accepted with probability weight / bound. `prefix` is
/// scratch. `None` only after `MAX_PROPOSALS` rejections (or no weight).
pub(super) fn draw_rejection(
    v: &[f32],
    bmax: &[f32],
    cut: Cut,
    mx: f32,
    scale: f32,
    rng: &mut SplitMix64,
    prefix: &mut Vec<f64>,
) -> Option<u32> {
    prefix.clear();
    let mut acc = 0f64;
    for (block, &bm) in v.chunks(BLOCK).zip(bmax) {
        if bm >= cut.v {
            acc += f64::from(exp_neg((bm - mx) * scale)) * block.len() as f64;
        }
        prefix.push(acc);
    }
    if acc <= 0.0 {
        return None;
    }
    for _ in 0..MAX_PROPOSALS {
        let r = unit(rng) * acc;
        let b = prefix.partition_point(|&p| p <= r);
        let (Some(block), Some(&bm)) = (v.chunks(BLOCK).nth(b), bmax.get(b)) else {
            continue;
        };
        let j = ((u128::from(rng.next_u64()) * block.len() as u128) >> 64) as usize;
        let (x, id) = (block.get(j).copied()?, (b * BLOCK + j) as u32);
        let accept = unit(rng) * f64::from(exp_neg((bm - mx) * scale));
        if cut.contains(x, id) && accept < f64::from(exp_neg((x - mx) * scale)) {
            return Some(id);
        }
    }
    None
}

/// Draws from explicit candidates (maximum logit `mx`) with weights
/// `exp((logit - mx) * scale)`; `None` only when they all weigh 0.
pub(super) fn draw_list(cand: &[(f32, u32)], mx: f32, scale: f32, u: f64) -> Option<u32> {
    let total: f64 = cand
        .iter()
        .map(|&(x, _)| f64::from(exp_neg((x - mx) * scale)))
        .sum();
    let target = u * total;
    let mut acc = 0f64;
    let mut last = None;
    for &(x, id) in cand {
        let w = exp_neg((x - mx) * scale);
        if w > 0.0 {
            last = Some(id);
            acc += f64::from(w);
            if acc > target {
                break;
            }
        }
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_neg_matches_std() {
        let mut x = 0f32;
        while x > -90.0 {
            let (a, b) = (exp_neg(x), x.exp());
            if x >= -87.0 {
                assert!((a - b).abs() <= 4e-7 * b, "x={x}: {a} vs {b}");
            } else {
                assert_eq!(a, 0.0);
            }
            x -= 0.001_7;
        }
        assert_eq!(exp_neg(f32::NAN), 0.0);
        assert_eq!(exp_neg(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp_neg(0.0), 1.0);
    }

    #[test]
    fn block_draw_respects_the_cut_and_ties() {
        // All equal logits: the cut at id 100 keeps exactly ids 0..=100.
        let v = vec![1.0f32; 1000];
        let mut s = Scratch::default();
        let mx = block_maxima(&v, &mut s.bmax);
        let cut = Cut { v: 1.0, id: 100 };
        let bmax = s.bmax.clone();
        let total = block_sums(&v, &bmax, cut, mx, 1.0, &mut s.bsum);
        assert!((total - 101.0).abs() < 1e-3);
        let mut seen = [false; 101];
        for i in 0..2000 {
            let u = (i as f64 + 0.5) / 2000.0;
            let t = draw_blocks(&v, &s.bsum, total, cut, mx, 1.0, u).expect("weight");
            assert!(t <= 100, "token {t} outside the cut");
            seen[t as usize] = true;
        }
        assert!(seen.iter().all(|&x| x));
    }
}
