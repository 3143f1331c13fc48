//! The sampler's passes over the vocabulary, written so that no step sorts
//! all of it: per-block maxima, a vectorisable `exp`, partial selection of
//! the top `m` tokens, and a value histogram that finds a top-k/top-p cut
//! when the kept set is too large to select explicitly.
//!
//! Every filter keeps a prefix of one total order: logit descending, then
//! token id ascending. NaN logits are outside every prefix (they never
//! compare true), `-inf` logits have zero weight.

use std::cmp::Ordering;

/// Tokens per block: the unit of the block maxima and block weight sums.
pub(super) const BLOCK: usize = 64;
/// Lanes of the inner loops (one AVX-512 register, two AVX2 ones).
const LANES: usize = 16;
/// Histogram buckets: 0 is "above the window", `NB - 1` "below it".
const NB: usize = 4096;
/// Buckets per logit inside the window.
const BSCALE: f32 = 128.0;
/// Logits covered by one histogram window.
const WINDOW: f32 = (NB - 2) as f32 / BSCALE;
/// Windows tried by a count target before its last bucket is sorted whole.
const ROUNDS: usize = 4;

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

/// What a histogram cut must reach: a token count (top-k) or a weight
/// (top-p, weights `exp(logit - max)`).
#[derive(Debug, Clone, Copy)]
pub(super) enum Target {
    /// The first `k` tokens.
    Count(usize),
    /// The shortest prefix of at least this weight.
    Mass(f64),
}

/// Buffers kept between calls so that sampling does not allocate.
#[derive(Debug, Clone, Default)]
pub(super) struct Scratch {
    /// Per-block maxima of the current logits.
    pub bmax: Vec<f32>,
    /// Per-block weight sums.
    pub bsum: Vec<f32>,
    /// A copy of `bmax` for selection.
    bsel: Vec<f32>,
    /// Explicit candidates (logit, id).
    pub cand: Vec<(f32, u32)>,
    /// Histogram counts.
    cnt: Vec<u32>,
    /// Histogram weights.
    mass: Vec<f32>,
}

/// The sampler's order on candidates: logit descending, then id ascending.
/// Callers never pass NaN; `-0.0 == 0.0`, as in [`Cut::contains`].
pub(super) fn cmp_desc(a: &(f32, u32), b: &(f32, u32)) -> Ordering {
    b.0.partial_cmp(&a.0)
        .unwrap_or(Ordering::Equal)
        .then(a.1.cmp(&b.1))
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
    let t = x * LOG2E + MAGIC;
    let n = t - MAGIC;
    let r = x - n * 0.693_359_4 - n * -2.121_944_4e-4;
    let p = ((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2)
        * r
        + 1.666_666_5e-1)
        * r
        + 5.000_000_1e-1;
    let e = p * (r * r) + r + 1.0;
    // t's low mantissa bits hold n in [-126, 0]; 2^n is built from them.
    let n = (t.to_bits() as i32).wrapping_sub(MAGIC.to_bits() as i32);
    let scale = f32::from_bits((n.wrapping_add(127) as u32) << 23);
    if valid {
        e * scale
    } else {
        0.0
    }
}

/// The largest non-NaN value of `block` (`-inf` if none).
#[inline(always)]
fn block_max(block: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; LANES];
    let mut chunks = block.chunks_exact(LANES);
    for c in &mut chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a = if x > *a { x } else { *a };
        }
    }
    let mut m = f32::NEG_INFINITY;
    for &x in chunks.remainder().iter().chain(acc.iter()) {
        m = if x > m { x } else { m };
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
    let mut s: f32 = acc.iter().sum();
    for &x in chunks.remainder() {
        s += if x > cut.v { exp_neg((x - mx) * scale) } else { 0.0 };
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

/// Fills `cand` with the first `m` tokens of the order (fewer when fewer
/// have a logit above `-inf`), sorted. Only blocks whose maximum reaches the
/// m-th largest block maximum can hold them, so at most about `m` blocks
/// are read after the selection over the block maxima.
pub(super) fn select_top(v: &[f32], m: usize, s: &mut Scratch) {
    let m = m.max(1);
    let cand = &mut s.cand;
    cand.clear();
    // At least m tokens reach the m-th largest block maximum.
    let t = if m < s.bmax.len() {
        s.bsel.clear();
        s.bsel.extend_from_slice(&s.bmax);
        let (_, t, _) = s
            .bsel
            .select_nth_unstable_by(m - 1, |a, b| b.partial_cmp(a).unwrap_or(Ordering::Equal));
        *t
    } else {
        f32::NEG_INFINITY
    };
    for (b, (block, &bm)) in v.chunks(BLOCK).zip(&s.bmax).enumerate() {
        if bm >= t && bm > f32::NEG_INFINITY {
            for (j, &x) in block.iter().enumerate() {
                if x >= t && x > f32::NEG_INFINITY {
                    cand.push((x, (b * BLOCK + j) as u32));
                }
            }
        }
    }
    if cand.len() > m {
        cand.select_nth_unstable_by(m - 1, cmp_desc);
        cand.truncate(m);
    }
    cand.sort_unstable_by(cmp_desc);
}

/// The histogram bucket of logit `x`: monotone (non-increasing) in `x`, so
/// each bucket is a contiguous run of the order.
#[inline(always)]
fn bucket(x: f32, mx: f32, lo_d: f32) -> u32 {
    const LAST: f32 = (NB - 1) as f32;
    let y = (mx - x - lo_d) * BSCALE + 1.0;
    let y = if y >= 0.0 { y } else { 0.0 };
    let y = if y <= LAST { y } else { LAST };
    y as u32
}

/// For each member of `cut` (logit above `-inf`) among the `LANES` logits
/// from id `base`: its bucket and weight (at least `MIN_POSITIVE`, so that
/// `w > 0` tells members). A short last chunk is padded with NaN.
#[inline(always)]
fn lanes(c: &[f32], base: usize, mx: f32, lo_d: f32, cut: Cut) -> ([u32; LANES], [f32; LANES]) {
    let mut xs = [f32::NAN; LANES];
    for (d, &x) in xs.iter_mut().zip(c) {
        *d = x;
    }
    let mut ks = [0u32; LANES];
    let mut ws = [0f32; LANES];
    for (j, ((k, w), &x)) in ks.iter_mut().zip(&mut ws).zip(&xs).enumerate() {
        let member = cut.contains(x, (base + j) as u32) && x > f32::NEG_INFINITY;
        *k = bucket(x, mx, lo_d);
        *w = if member {
            exp_neg(x - mx).max(f32::MIN_POSITIVE)
        } else {
            0.0
        };
    }
    (ks, ws)
}

/// The prefix of `cut` that reaches `target`: a top-k or top-p cut for a
/// kept set too large to select explicitly. One pass builds a histogram of
/// the members by logit (1/128 logit per bucket, 32 logits below `mx`), a
/// second gathers and sorts the one bucket where the target is reached.
/// Returns `cut` itself when its members do not reach the target.
pub(super) fn hist_cut(v: &[f32], mx: f32, cut: Cut, target: Target, s: &mut Scratch) -> Cut {
    let mut lo_d = 0f32;
    for round in 0..ROUNDS {
        let last = round + 1 == ROUNDS;
        s.cnt.clear();
        s.cnt.resize(NB, 0);
        s.mass.clear();
        s.mass.resize(NB, 0.0);
        for (b, (block, &bm)) in v.chunks(BLOCK).zip(&s.bmax).enumerate() {
            // Blocks entirely below the window only matter to the last round.
            if bm < cut.v || (!last && bucket(bm, mx, lo_d) as usize == NB - 1) {
                continue;
            }
            for (ci, c) in block.chunks(LANES).enumerate() {
                let (ks, ws) = lanes(c, b * BLOCK + ci * LANES, mx, lo_d, cut);
                for (&k, &w) in ks.iter().zip(&ws).take(c.len()) {
                    // Members weigh at least MIN_POSITIVE, so w > 0 counts them.
                    match target {
                        Target::Count(_) => s.cnt[k as usize] += u32::from(w > 0.0),
                        Target::Mass(_) => s.mass[k as usize] += w,
                    }
                }
            }
        }
        let reached = |c: usize, m: f64| match target {
            Target::Count(k) => c >= k,
            Target::Mass(t) => m >= t,
        };
        let (mut c, mut m) = (0usize, 0f64);
        let mut found = None;
        for k in 0..NB {
            let (dc, dm) = (s.cnt[k] as usize, f64::from(s.mass[k]));
            if k == NB - 1 && !last {
                break;
            }
            if reached(c + dc, m + dm) {
                found = Some(k);
                break;
            }
            c += dc;
            m += dm;
        }
        let Some(k) = found else {
            // The weight beyond 32 logits below the maximum is negligible;
            // a count moves the window down.
            if matches!(target, Target::Count(_)) && !last {
                lo_d += WINDOW;
                continue;
            }
            return cut;
        };
        s.cand.clear();
        for (b, (block, &bm)) in v.chunks(BLOCK).zip(&s.bmax).enumerate() {
            if bm < cut.v || (bucket(bm, mx, lo_d) as usize) > k {
                continue;
            }
            for (ci, ch) in block.chunks(LANES).enumerate() {
                let base = b * BLOCK + ci * LANES;
                let (ks, ws) = lanes(ch, base, mx, lo_d, cut);
                let hit = ks.iter().zip(&ws).any(|(&kk, &w)| kk as usize == k && w > 0.0);
                if hit {
                    for (j, &x) in ch.iter().enumerate() {
                        if ks[j] as usize == k && ws[j] > 0.0 {
                            s.cand.push((x, (base + j) as u32));
                        }
                    }
                }
            }
        }
        s.cand.sort_unstable_by(cmp_desc);
        for &(x, id) in &s.cand {
            c += 1;
            m += f64::from(exp_neg(x - mx).max(f32::MIN_POSITIVE));
            if reached(c, m) {
                return Cut { v: x, id };
            }
        }
        return s.cand.last().map_or(cut, |&(v, id)| Cut { v, id });
    }
    cut
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    fn scratch_for(v: &[f32]) -> (Scratch, f32) {
        let mut s = Scratch::default();
        let mx = block_maxima(v, &mut s.bmax);
        (s, mx)
    }

    /// Logits with many exact ties (quantised) and some -inf and NaN.
    fn tied_logits(n: usize, seed: u64) -> Vec<f32> {
        let mut rng = SplitMix64::new(seed);
        (0..n)
            .map(|i| match i % 97 {
                5 => f32::NAN,
                11 => f32::NEG_INFINITY,
                _ => (rng.next_std() * 8.0).round() / 4.0,
            })
            .collect()
    }

    fn sorted_ref(v: &[f32]) -> Vec<(f32, u32)> {
        let mut all: Vec<(f32, u32)> = v
            .iter()
            .enumerate()
            .filter(|(_, x)| **x > f32::NEG_INFINITY)
            .map(|(i, &x)| (x, i as u32))
            .collect();
        all.sort_by(cmp_desc);
        all
    }

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
    fn select_top_matches_sort_with_ties() {
        let v = tied_logits(20_000, 1);
        let want = sorted_ref(&v);
        let (mut s, _) = scratch_for(&v);
        for m in [1, 2, 40, 64, 333, 1024, 30_000] {
            select_top(&v, m, &mut s);
            assert_eq!(s.cand, want[..m.min(want.len())], "m={m}");
        }
    }

    #[test]
    fn hist_cut_count_is_the_kth_token() {
        let v = tied_logits(50_000, 2);
        let want = sorted_ref(&v);
        let (mut s, mx) = scratch_for(&v);
        for k in [1, 7, 1500, 12_345, 40_000] {
            let c = hist_cut(&v, mx, Cut::ALL, Target::Count(k), &mut s);
            let (x, id) = want[k - 1];
            assert_eq!(c, Cut { v: x, id }, "k={k}");
        }
        // More than there are finite logits: everything.
        let c = hist_cut(&v, mx, Cut::ALL, Target::Count(60_000), &mut s);
        assert_eq!(c, Cut::ALL);
        // Inside an existing cut.
        let (x, id) = want[999];
        let inner = Cut { v: x, id };
        let c = hist_cut(&v, mx, inner, Target::Count(500), &mut s);
        assert_eq!(c, Cut { v: want[499].0, id: want[499].1 });
    }

    #[test]
    fn hist_cut_count_beyond_the_first_window() {
        // Logits spread over 200 below the maximum: the cut needs later windows.
        let v: Vec<f32> = (0..10_000).map(|i| -((i * 7919) % 10_000) as f32 * 0.02).collect();
        let want = sorted_ref(&v);
        let (mut s, mx) = scratch_for(&v);
        for k in [100, 2_000, 5_000, 9_000] {
            let c = hist_cut(&v, mx, Cut::ALL, Target::Count(k), &mut s);
            assert_eq!(c, Cut { v: want[k - 1].0, id: want[k - 1].1 }, "k={k}");
        }
    }

    #[test]
    fn hist_cut_mass_is_the_shortest_prefix() {
        let mut rng = SplitMix64::new(3);
        let v: Vec<f32> = (0..100_000).map(|_| rng.next_std() * 1.5).collect();
        let want = sorted_ref(&v);
        let (mut s, mx) = scratch_for(&v);
        let z = block_sums(&v, &s.bmax, Cut::ALL, mx, 1.0, &mut s.bsum);
        for p in [0.01, 0.3, 0.9, 0.99] {
            let target = p * z;
            let c = hist_cut(&v, mx, Cut::ALL, Target::Mass(target), &mut s);
            let pos = want
                .iter()
                .position(|&(x, id)| x == c.v && id == c.id)
                .expect("the cut is a token");
            let mass: f64 = want[..=pos].iter().map(|&(x, _)| f64::from((x - mx).exp())).sum();
            let last = f64::from((want[pos].0 - mx).exp());
            let tol = 1e-5 * z;
            assert!(mass >= target - tol, "p={p}: {mass} < {target}");
            assert!(mass - last < target + tol, "p={p}: not the shortest");
        }
    }

    #[test]
    fn block_draw_respects_the_cut_and_ties() {
        // All equal logits: the cut at id 100 keeps exactly ids 0..=100.
        let v = vec![1.0f32; 1000];
        let (mut s, mx) = scratch_for(&v);
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
