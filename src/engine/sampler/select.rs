//! Partial selection for top-k and top-p without sorting the vocabulary:
//! the first `m` tokens through the per-block maxima, and, for kept sets
//! too large for that, a histogram of the logits that finds the one bucket
//! where a count or weight target is reached, sorting only that bucket.

use super::kernels::{cmp_desc, exp_neg, max_of, Cut, Scratch, BLOCK, LANES};
use std::cmp::Ordering;

/// Histogram buckets: 0 is "above the window", `NB - 1` "below it".
const NB: usize = 4096;
/// Buckets per logit inside the window.
const BSCALE: f32 = 128.0;
/// Logits covered by one histogram window.
const WINDOW: f32 = (NB - 2) as f32 / BSCALE;
/// Windows tried by a count target before its last bucket is sorted whole.
const ROUNDS: usize = 4;

/// What a histogram cut must reach: a token count (top-k) or a weight
/// (top-p, weights `exp(logit - max)`).
#[derive(Debug, Clone, Copy)]
pub(super) enum Target {
    /// The first `k` tokens.
    Count(usize),
    /// The shortest prefix of at least this weight.
    Mass(f64),
    /// The shortest prefix of at least this fraction of the members' weight.
    Fraction(f64),
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
    // Adding 2^23 rounds y to an integer held in the low mantissa bits: a
    // monotone conversion that vectorises (unlike the saturating `as`).
    (y + 8_388_608.0).to_bits().wrapping_sub(0x4B00_0000)
}

/// For each member of `cut` (logit above `-inf`) among the `LANES` logits
/// from id `base`: its bucket and weight (at least `MIN_POSITIVE`, so that
/// `w > 0` tells members; 1 without `W`). Branch-free, so it vectorises.
#[inline(always)]
fn lanes<const W: bool>(
    c: &[f32; LANES],
    base: usize,
    mx: f32,
    lo_d: f32,
    cut: Cut,
) -> ([u32; LANES], [f32; LANES]) {
    let mut ks = [0u32; LANES];
    let mut ws = [0f32; LANES];
    let base = base as u32;
    #[allow(clippy::needless_range_loop)] // a fixed trip count vectorises
    for j in 0..LANES {
        let x = c[j];
        let id = base.wrapping_add(j as u32);
        let member = ((x > cut.v) | ((x == cut.v) & (id <= cut.id))) & (x > f32::NEG_INFINITY);
        ks[j] = bucket(x, mx, lo_d);
        let e = if W {
            max_of(exp_neg(x - mx), f32::MIN_POSITIVE)
        } else {
            1.0
        };
        ws[j] = if member { e } else { 0.0 };
    }
    (ks, ws)
}

/// Calls `f` with the lanes of each `LANES` logits of `block` (first id
/// `base`); a short last chunk is padded with NaN, which is never a member.
#[inline(always)]
fn for_lanes<const W: bool>(
    block: &[f32],
    base: usize,
    mx: f32,
    lo_d: f32,
    cut: Cut,
    mut f: impl FnMut(&[u32; LANES], &[f32; LANES]),
) {
    let mut chunks = block.chunks_exact(LANES);
    let mut at = base;
    for c in &mut chunks {
        if let Ok(c) = <&[f32; LANES]>::try_from(c) {
            let (ks, ws) = lanes::<W>(c, at, mx, lo_d, cut);
            f(&ks, &ws);
        }
        at += LANES;
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut xs = [f32::NAN; LANES];
        xs[..rest.len()].copy_from_slice(rest);
        let (ks, ws) = lanes::<W>(&xs, at, mx, lo_d, cut);
        f(&ks, &ws);
    }
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
        // Fixed-size views: with the index masked, the scatter has no checks.
        let (Ok(cnt), Ok(mass)) = (
            <&mut [u32; NB]>::try_from(s.cnt.as_mut_slice()),
            <&mut [f32; NB]>::try_from(s.mass.as_mut_slice()),
        ) else {
            return cut;
        };
        for (b, (block, &bm)) in v.chunks(BLOCK).zip(&s.bmax).enumerate() {
            // Blocks entirely below the window only matter to the last round.
            if bm < cut.v || (!last && bucket(bm, mx, lo_d) as usize == NB - 1) {
                continue;
            }
            match target {
                Target::Count(_) => {
                    for_lanes::<false>(block, b * BLOCK, mx, lo_d, cut, |ks, ws| {
                        for (&k, &w) in ks.iter().zip(ws) {
                            cnt[k as usize & (NB - 1)] += u32::from(w > 0.0);
                        }
                    })
                }
                Target::Mass(_) | Target::Fraction(_) => {
                    for_lanes::<true>(block, b * BLOCK, mx, lo_d, cut, |ks, ws| {
                        for (&k, &w) in ks.iter().zip(ws) {
                            mass[k as usize & (NB - 1)] += w;
                        }
                    })
                }
            }
        }
        let target = match target {
            Target::Fraction(p) => {
                Target::Mass(p * mass.iter().map(|&m| f64::from(m)).sum::<f64>())
            }
            t => t,
        };
        let reached = |c: usize, m: f64| match target {
            Target::Count(k) => c >= k,
            Target::Mass(t) | Target::Fraction(t) => m >= t,
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
        // Bucket k is an interval of logits (bucket() is monotone); this one
        // holds it with a margin of a bucket plus rounding, so chunks are
        // screened with two compares.
        let slack = (mx.abs() + lo_d) * 8.0 * f32::EPSILON;
        let hi = if k == 0 {
            f32::INFINITY
        } else {
            mx - lo_d - (k as f32 - 2.0) / BSCALE + slack
        };
        let lo = if k == NB - 1 {
            f32::NEG_INFINITY
        } else {
            mx - lo_d - (k as f32 + 1.0) / BSCALE - slack
        };
        s.cand.clear();
        for (b, (block, &bm)) in v.chunks(BLOCK).zip(&s.bmax).enumerate() {
            if bm < cut.v || bm < lo {
                continue;
            }
            for (ci, c) in block.chunks(LANES).enumerate() {
                let mut hit = false;
                for &x in c {
                    hit |= (x >= lo) & (x <= hi);
                }
                if !hit {
                    continue;
                }
                let at = b * BLOCK + ci * LANES;
                for (j, &x) in c.iter().enumerate() {
                    let id = (at + j) as u32;
                    if bucket(x, mx, lo_d) as usize == k
                        && cut.contains(x, id)
                        && x > f32::NEG_INFINITY
                    {
                        s.cand.push((x, id));
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
    use crate::engine::sampler::kernels::{block_maxima, block_sums};
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
        assert_eq!(
            c,
            Cut {
                v: want[499].0,
                id: want[499].1
            }
        );
    }

    #[test]
    fn hist_cut_with_large_logits() {
        // Far from zero, rounding of the bucket bounds must not lose tokens.
        for offset in [1.0e4f32, -3.0e4] {
            let v: Vec<f32> = tied_logits(20_000, 4).iter().map(|x| x + offset).collect();
            let want = sorted_ref(&v);
            let (mut s, mx) = scratch_for(&v);
            for k in [10, 3_000, 15_000] {
                let c = hist_cut(&v, mx, Cut::ALL, Target::Count(k), &mut s);
                assert_eq!(
                    c,
                    Cut {
                        v: want[k - 1].0,
                        id: want[k - 1].1
                    },
                    "{offset} k={k}"
                );
            }
        }
    }

    #[test]
    fn hist_cut_count_beyond_the_first_window() {
        // Logits spread over 200 below the maximum: the cut needs later windows.
        let v: Vec<f32> = (0..10_000)
            .map(|i| -((i * 7919) % 10_000) as f32 * 0.02)
            .collect();
        let want = sorted_ref(&v);
        let (mut s, mx) = scratch_for(&v);
        for k in [100, 2_000, 5_000, 9_000] {
            let c = hist_cut(&v, mx, Cut::ALL, Target::Count(k), &mut s);
            assert_eq!(
                c,
                Cut {
                    v: want[k - 1].0,
                    id: want[k - 1].1
                },
                "k={k}"
            );
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
            let mass: f64 = want[..=pos]
                .iter()
                .map(|&(x, _)| f64::from((x - mx).exp()))
                .sum();
            let last = f64::from((want[pos].0 - mx).exp());
            let tol = 1e-5 * z;
            assert!(mass >= target - tol, "p={p}: {mass} < {target}");
            assert!(mass - last < target + tol, "p={p}: not the shortest");
        }
    }
}
