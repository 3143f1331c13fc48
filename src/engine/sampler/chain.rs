//! Steps 2–6 of the sampling chain on penalised logits: top-k, top-p,
//! min-p, temperature and the draw. The kept set is always a prefix of
//! (logit descending, id ascending), held either explicitly (`Scratch::cand`,
//! sorted) or as its last token ([`Cut`]).

use super::kernels::{self, Cut, Scratch};
use super::select::{self, Target};
use super::SamplerConfig;
use crate::rng::SplitMix64;

/// Largest top-k selected explicitly; above it a histogram finds the cut.
const SELECT_MAX: usize = 1024;
/// Candidates first selected for a top-p nucleus, and the growth factor
/// up to `SELECT_MAX`; beyond it a histogram finds the cut.
const NUCLEUS_FIRST: usize = 64;
/// See [`NUCLEUS_FIRST`].
const NUCLEUS_GROWTH: usize = 16;
/// Weight of the 64th token (relative to the best) above which a top-p
/// nucleus is taken to be large: straight to the histogram.
const FLAT: f64 = 0.05;

/// The length of the shortest prefix of `cand` (sorted, maximum `mx`)
/// whose weight `exp(logit - mx)` reaches `target`; else their total weight.
fn nucleus_len(cand: &[(f32, u32)], mx: f32, target: f64) -> Result<usize, f64> {
    let mut acc = 0f64;
    for (j, &(x, _)) in cand.iter().enumerate() {
        acc += f64::from(kernels::exp_neg(x - mx));
        if acc >= target {
            return Ok(j + 1);
        }
    }
    Err(acc)
}

/// Top-p inside the prefix `cut` (weights at temperature 1): `None` when
/// the nucleus is left explicit in `s.cand`, else its last token. The top
/// 64 tokens are selected, then 1024 while those can still reach the
/// nucleus; a flat distribution (the 64th token within a factor 20 of the
/// best) or a larger nucleus goes to the histogram, which then also gives
/// the total weight, saving a pass.
fn nucleus(v: &[f32], mx: f32, cut: Cut, p: f64, s: &mut Scratch) -> Option<Cut> {
    let mut m = NUCLEUS_FIRST;
    let mut target = None;
    loop {
        select::select_top(v, m, s);
        let got = s.cand.len();
        s.cand.retain(|&(x, id)| cut.contains(x, id));
        // Fewer than asked, or cut short: the whole kept set is here.
        let whole = got < m || s.cand.len() < got;
        let last = s
            .cand
            .last()
            .map_or(0.0, |&(x, _)| f64::from(kernels::exp_neg(x - mx)));
        let t = match target {
            Some(t) => t,
            None if !whole && last > FLAT => {
                return Some(select::hist_cut(v, mx, cut, Target::Fraction(p), s));
            }
            None => p * kernels::block_sums(v, &s.bmax, cut, mx, 1.0, &mut s.bsum),
        };
        target = Some(t);
        match nucleus_len(&s.cand, mx, t) {
            Ok(len) => {
                s.cand.truncate(len);
                return None;
            }
            Err(_) if whole => return None,
            Err(mass) => {
                // Later tokens weigh at most the last one here: skip a
                // selection that cannot reach the target.
                let next = m * NUCLEUS_GROWTH;
                if next > SELECT_MAX || mass + (next - m) as f64 * last < t {
                    return Some(select::hist_cut(v, mx, cut, Target::Mass(t), s));
                }
                m = next;
            }
        }
    }
}

/// Steps 2–6 of the chain on penalised logits `v`: the token drawn.
pub(super) fn pick(v: &[f32], cfg: &SamplerConfig, rng: &mut SplitMix64, s: &mut Scratch) -> u32 {
    let mx = kernels::block_maxima(v, &mut s.bmax);
    let greedy = cfg.temperature.is_nan() || cfg.temperature <= 0.0 || cfg.top_k == 1;
    if greedy || !mx.is_finite() {
        return kernels::argmax(v, &s.bmax, mx);
    }
    let mut cut = Cut::ALL;
    let mut explicit = false;
    if cfg.top_k > 1 && cfg.top_k < v.len() {
        if cfg.top_k <= SELECT_MAX {
            select::select_top(v, cfg.top_k, s);
            explicit = true;
        } else {
            cut = select::hist_cut(v, mx, cut, Target::Count(cfg.top_k), s);
        }
    }
    if cfg.top_p < 1.0 {
        let p = f64::from(cfg.top_p);
        if explicit {
            let z: f64 = s
                .cand
                .iter()
                .map(|&(x, _)| f64::from(kernels::exp_neg(x - mx)))
                .sum();
            if let Ok(len) = nucleus_len(&s.cand, mx, p * z) {
                s.cand.truncate(len);
            }
        } else {
            match nucleus(v, mx, cut, p, s) {
                Some(c) => cut = c,
                None => explicit = true,
            }
        }
    }
    if cfg.min_p > 0.0 {
        // p_i >= min_p * p_max  <=>  logit_i >= max + ln(min_p); the
        // maximum always stays.
        let t = (mx + cfg.min_p.ln()).min(mx);
        if explicit {
            s.cand.retain(|&(x, _)| x >= t);
        } else {
            cut = cut.min(Cut { v: t, id: u32::MAX });
        }
    }
    let scale = 1.0 / cfg.temperature;
    let drawn = if explicit {
        kernels::draw_list(&s.cand, mx, scale, kernels::unit(rng))
    } else {
        kernels::draw_rejection(v, &s.bmax, cut, mx, scale, rng, &mut s.prefix).or_else(|| {
            let total = kernels::block_sums(v, &s.bmax, cut, mx, scale, &mut s.bsum);
            kernels::draw_blocks(v, &s.bsum, total, cut, mx, scale, kernels::unit(rng))
        })
    };
    // The maximum always weighs 1, so a draw exists; argmax is a guard.
    drawn.unwrap_or_else(|| kernels::argmax(v, &s.bmax, mx))
}
