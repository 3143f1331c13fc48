//! Choosing the next token from a step's logits, with llama.cpp's sampler
//! semantics and its default chain order:
//!
//! 1. repetition penalty over the last `repeat_last_n` accepted tokens
//!    (each distinct token once: a positive logit is divided by the
//!    penalty, a negative one multiplied),
//! 2. top-k, 3. top-p (nucleus), 4. min-p — all three on the penalised
//!    logits at temperature 1, as in llama.cpp,
//! 5. temperature (logits divided by it),
//! 6. one draw from the softmax of what is left.
//!
//! Temperature `<= 0` (or NaN), like `top_k == 1`, is greedy: the argmax of
//! the penalised logits. NaN logits count as `-inf`. When no logit is finite
//! (all `-inf`/NaN), or one is `+inf`, the result is the greedy argmax: the
//! lowest id holding the largest logit (0 when every logit is NaN). An empty
//! slice gives token 0. Ties are always broken towards the lowest id.
//!
//! Speed: the vocabulary (201,088 for gpt-oss) is never sorted, and the
//! default configuration evaluates no `exp` per vocabulary entry. One
//! vectorised pass takes per-block maxima (greedy ends there). A large kept
//! set is drawn from exactly by rejection against the block maxima (one
//! `exp` per block of 64 and a few proposals); top-k and small top-p nuclei
//! are selected partially through the block maxima; a large nucleus is cut
//! with a histogram of the logits (`chain` runs the steps, `kernels` and
//! `select` hold the passes). Buffers live in the [`Sampler`], so sampling
//! does not allocate after the first call.

mod chain;
mod kernels;
mod select;

use std::collections::VecDeque;
use std::fmt;

use self::kernels::Scratch;
use crate::rng::SplitMix64;

/// Sampling parameters, with llama.cpp's meanings.
#[derive(Debug, Clone, PartialEq)]
pub struct SamplerConfig {
    /// Softmax temperature; `<= 0` means greedy.
    pub temperature: f32,
    /// Keep the `top_k` most likely tokens (0: off).
    pub top_k: usize,
    /// Keep the fewest most likely tokens whose probability reaches `top_p`
    /// (1.0: off).
    pub top_p: f32,
    /// Drop tokens less likely than `min_p` times the most likely (0: off).
    pub min_p: f32,
    /// Repetition penalty (1.0: off; values `<= 0` or NaN also count as off).
    pub repeat_penalty: f32,
    /// How many of the last accepted tokens the penalty looks at (0: none).
    pub repeat_last_n: usize,
    /// Seed of the random draws.
    pub seed: u64,
}

impl Default for SamplerConfig {
    /// The gpt-oss model card's settings: temperature 1, top-p 1, no top-k,
    /// min-p or repetition penalty; llama.cpp's `repeat_last_n` of 64.
    fn default() -> Self {
        SamplerConfig {
            temperature: 1.0,
            top_k: 0,
            top_p: 1.0,
            min_p: 0.0,
            repeat_penalty: 1.0,
            repeat_last_n: 64,
            seed: 0,
        }
    }
}

impl SamplerConfig {
    /// Greedy decoding: always the most likely token (temperature 0).
    pub fn greedy() -> Self {
        SamplerConfig {
            temperature: 0.0,
            ..SamplerConfig::default()
        }
    }

    fn penalises(&self) -> bool {
        self.repeat_last_n > 0 && self.repeat_penalty > 0.0 && self.repeat_penalty != 1.0
    }
}

/// A seeded sampler: the configuration, the recent tokens for the
/// repetition penalty, the random generator and reusable buffers.
#[derive(Clone)]
pub struct Sampler {
    cfg: SamplerConfig,
    rng: SplitMix64,
    history: VecDeque<u32>,
    penalized: Vec<f32>,
    distinct: Vec<u32>,
    scratch: Scratch,
}

impl fmt::Debug for Sampler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sampler")
            .field("cfg", &self.cfg)
            .field("history", &self.history)
            .finish_non_exhaustive()
    }
}

impl Sampler {
    /// A sampler seeded with `cfg.seed` and no history.
    pub fn new(cfg: SamplerConfig) -> Sampler {
        Sampler {
            rng: SplitMix64::new(cfg.seed),
            history: VecDeque::with_capacity(cfg.repeat_last_n.min(4096)),
            cfg,
            penalized: Vec::new(),
            distinct: Vec::new(),
            scratch: Scratch::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &SamplerConfig {
        &self.cfg
    }

    /// Records a token for the repetition penalty (generated tokens and,
    /// as llama-cli does, prompt tokens); the last `repeat_last_n` are kept.
    pub fn accept(&mut self, token: u32) {
        if self.cfg.repeat_last_n == 0 {
            return;
        }
        while self.history.len() >= self.cfg.repeat_last_n {
            self.history.pop_front();
        }
        self.history.push_back(token);
    }

    /// Forgets the history and re-seeds, so that the same seed and inputs
    /// give the same tokens again.
    pub fn reset(&mut self) {
        self.history.clear();
        self.rng = SplitMix64::new(self.cfg.seed);
    }

    /// Chooses a token from one step's logits (one per vocabulary entry),
    /// applying the chain described in the module documentation. Unless
    /// greedy, it advances the seeded generator (by an amount fixed by the
    /// seed and inputs). Does not [`accept`](Sampler::accept) the token.
    pub fn sample(&mut self, logits: &[f32]) -> u32 {
        let Sampler {
            cfg,
            rng,
            history,
            penalized,
            distinct,
            scratch,
        } = self;
        if logits.is_empty() {
            return 0;
        }
        let v: &[f32] = if cfg.penalises() && !history.is_empty() {
            penalized.clear();
            penalized.extend_from_slice(logits);
            distinct.clear();
            distinct.extend(history.iter().copied());
            distinct.sort_unstable();
            distinct.dedup();
            let p = cfg.repeat_penalty;
            for &t in distinct.iter() {
                if let Some(x) = penalized.get_mut(t as usize) {
                    *x = if *x > 0.0 { *x / p } else { *x * p };
                }
            }
            penalized
        } else {
            logits
        };
        chain::pick(v, cfg, rng, scratch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The gpt-oss vocabulary size.
    const N_VOCAB: usize = 201_088;

    fn cfg(f: impl FnOnce(&mut SamplerConfig)) -> SamplerConfig {
        let mut c = SamplerConfig::default();
        f(&mut c);
        c
    }

    fn normal_logits(n: usize, seed: u64, scale: f32) -> Vec<f32> {
        let mut rng = SplitMix64::new(seed);
        (0..n).map(|_| rng.next_std() * scale).collect()
    }

    /// Token ids by (logit descending, id ascending).
    fn ranked(v: &[f32]) -> Vec<u32> {
        let mut ids: Vec<u32> = (0..v.len() as u32).collect();
        ids.sort_by(|&a, &b| kernels::cmp_desc(&(v[a as usize], a), &(v[b as usize], b)));
        ids
    }

    fn softmax(v: &[f32], temp: f32) -> Vec<f64> {
        let mx = v.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
        let w: Vec<f64> = v
            .iter()
            .map(|&x| f64::from((x - mx) / temp).exp())
            .collect();
        let z: f64 = w.iter().sum();
        w.iter().map(|x| x / z).collect()
    }

    fn frequencies(s: &mut Sampler, v: &[f32], draws: usize) -> Vec<f64> {
        let mut n = vec![0usize; v.len()];
        for _ in 0..draws {
            n[s.sample(v) as usize] += 1;
        }
        n.iter().map(|&c| c as f64 / draws as f64).collect()
    }

    #[test]
    fn greedy_picks_the_argmax_and_the_lowest_id_on_ties() {
        let mut s = Sampler::new(SamplerConfig::greedy());
        assert_eq!(s.sample(&[0.1, 3.0, -2.0, 2.9]), 1);
        assert_eq!(s.sample(&[1.0, 5.0, 5.0, 5.0]), 1);
        let mut v = normal_logits(N_VOCAB, 1, 3.0);
        v[150_001] = 40.0;
        v[190_000] = 40.0;
        assert_eq!(s.sample(&v), 150_001);
        for t in [-1.0, f32::NAN] {
            let mut s = Sampler::new(cfg(|c| c.temperature = t));
            assert_eq!(s.sample(&v), 150_001, "temperature {t}");
        }
    }

    #[test]
    fn top_k_1_is_greedy_at_any_temperature() {
        let v = normal_logits(N_VOCAB, 2, 1.0);
        let want = ranked(&v)[0];
        for (seed, t) in [(1, 0.1), (2, 1.0), (3, 5.0), (4, 100.0)] {
            let mut s = Sampler::new(cfg(|c| {
                c.top_k = 1;
                c.temperature = t;
                c.seed = seed;
            }));
            for _ in 0..20 {
                assert_eq!(s.sample(&v), want);
            }
        }
    }

    #[test]
    fn top_k_keeps_only_the_k_most_likely() {
        let v = normal_logits(N_VOCAB, 3, 1.0);
        let top: Vec<u32> = ranked(&v)[..40].to_vec();
        let mut s = Sampler::new(cfg(|c| {
            c.top_k = 40;
            c.temperature = 3.0;
        }));
        let mut seen = std::collections::HashSet::new();
        for _ in 0..600 {
            let t = s.sample(&v);
            assert!(top.contains(&t), "token {t} outside the top 40");
            seen.insert(t);
        }
        assert_eq!(seen.len(), 40, "at temperature 3 all 40 appear");
    }

    #[test]
    fn top_p_keeps_the_smallest_set_reaching_p() {
        let v: Vec<f32> = [0.5f32, 0.2, 0.15, 0.1, 0.05]
            .iter()
            .map(|p| p.ln())
            .collect();
        for (p, keep) in [(0.8, 3), (0.65, 2), (0.3, 1), (0.97, 5)] {
            let mut s = Sampler::new(cfg(|c| c.top_p = p));
            let f = frequencies(&mut s, &v, 20_000);
            for (i, &fi) in f.iter().enumerate() {
                assert_eq!(fi > 0.0, i < keep, "top_p {p}: token {i} freq {fi}");
            }
        }
    }

    #[test]
    fn top_p_on_a_flat_vocabulary_uses_the_exact_nucleus() {
        // A flat distribution: the nucleus is tens of thousands of tokens,
        // beyond the explicit selection, so the histogram cut is used.
        let v = normal_logits(70_000, 4, 1.0);
        let order = ranked(&v);
        let probs = softmax(&v, 1.0);
        for p in [0.001f32, 0.5, 0.9] {
            let mut acc = 0.0;
            let len = order
                .iter()
                .position(|&t| {
                    acc += probs[t as usize];
                    acc >= f64::from(p)
                })
                .expect("reaches p")
                + 1;
            let mut rank = vec![usize::MAX; v.len()];
            for (r, &t) in order.iter().enumerate() {
                rank[t as usize] = r;
            }
            let mut s = Sampler::new(cfg(|c| c.top_p = p));
            let mut deepest = 0;
            for _ in 0..150 {
                let r = rank[s.sample(&v) as usize];
                // One token of slack for rounding of the cumulative sum.
                assert!(r <= len, "p {p}: rank {r} beyond nucleus of {len}");
                deepest = deepest.max(r);
            }
            assert!(deepest * 10 >= len * 6, "p {p}: deepest {deepest} of {len}");
        }
    }

    #[test]
    fn top_p_nucleus_of_some_hundred_tokens() {
        // 500 strong tokens spaced 0.05 apart over a weak rest: a nucleus
        // of about 80, found by the second (1024) selection.
        // 70,000 tokens: more blocks than the 1024 selection needs.
        let n = 70_000;
        let mut v = normal_logits(n, 11, 1.0);
        for x in v.iter_mut() {
            *x -= 5.0;
        }
        for i in 0..500 {
            v[(i * 397) % n] = 10.0 - 0.05 * i as f32;
        }
        let (order, probs) = (ranked(&v), softmax(&v, 1.0));
        let mut acc = 0.0;
        let len = 1 + order
            .iter()
            .position(|&t| {
                acc += probs[t as usize];
                acc >= 0.97
            })
            .expect("reaches p");
        assert!((65..500).contains(&len), "nucleus {len}");
        let mut rank = vec![0; n];
        for (r, &t) in order.iter().enumerate() {
            rank[t as usize] = r;
        }
        let mut s = Sampler::new(cfg(|c| c.top_p = 0.97));
        let mut deepest = 0;
        for _ in 0..500 {
            let r = rank[s.sample(&v) as usize];
            assert!(r < len, "rank {r} beyond the nucleus of {len}");
            deepest = deepest.max(r);
        }
        assert!(deepest >= 64, "deepest rank {deepest}");
    }

    #[test]
    fn min_p_drops_tokens_below_min_p_times_the_best() {
        let v: Vec<f32> = [0.5f32, 0.3, 0.1, 0.06, 0.04]
            .iter()
            .map(|p| p.ln())
            .collect();
        let mut s = Sampler::new(cfg(|c| c.min_p = 0.1));
        let f = frequencies(&mut s, &v, 20_000);
        assert!(f[3] > 0.0 && f[4] == 0.0, "{f:?}");
        // On the full vocabulary (the threshold path).
        let v = normal_logits(70_000, 5, 1.0);
        let mx = v.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
        for (min_p, temp) in [(0.05, 1.0), (0.3, 2.0)] {
            let mut s = Sampler::new(cfg(|c| {
                c.min_p = min_p;
                c.temperature = temp;
            }));
            for _ in 0..300 {
                let t = s.sample(&v) as usize;
                assert!((v[t] - mx).exp() >= min_p * 0.9999, "token {t} below min_p");
            }
        }
    }

    #[test]
    fn repetition_penalty_follows_llama_cpp() {
        let greedy = |penalty: f32| {
            Sampler::new(SamplerConfig {
                repeat_penalty: penalty,
                ..SamplerConfig::greedy()
            })
        };
        // Positive logit divided: 2.0 / 1.5 = 1.33 < 1.5.
        let mut s = greedy(1.5);
        s.accept(0);
        assert_eq!(s.sample(&[2.0, 1.5, -1.0]), 1);
        // Negative logit multiplied: -1.0 * 1.5 = -1.5 < -1.2.
        assert_eq!(s.sample(&[-1.0, -1.2, -3.0]), 1);
        // A token repeated counts once: 2.0 / 1.5 = 1.33 still beats 1.0.
        s.accept(0);
        assert_eq!(s.sample(&[2.0, 1.0]), 0);
        // A penalty below 1 favours repeats.
        let mut s = greedy(0.5);
        s.accept(1);
        assert_eq!(s.sample(&[2.0, 1.5]), 1);
        // Only the last repeat_last_n tokens count.
        let mut s = greedy(1.5);
        s.accept(0);
        for t in 0..64 {
            s.accept(100 + t);
        }
        assert_eq!(s.sample(&[2.0, 1.5]), 0);
        // Off at 1.0; out-of-range ids are ignored.
        let mut s = greedy(1.0);
        s.accept(0);
        s.accept(u32::MAX);
        assert_eq!(s.sample(&[2.0, 1.5]), 0);
    }

    #[test]
    fn empirical_frequencies_match_the_softmax() {
        let small = [1.0f32, 0.0, -1.0, 2.0, 0.5];
        // Large enough for the block path: three strong tokens, a flat rest.
        let mut large = vec![-1.0f32; 1000];
        large[17] = 4.0;
        large[500] = 3.0;
        large[999] = 2.0;
        for (v, temp) in [(&small[..], 1.0), (&small[..], 0.5), (&large[..], 1.0)] {
            let mut s = Sampler::new(cfg(|c| {
                c.temperature = temp;
                c.seed = 42;
            }));
            let f = frequencies(&mut s, v, if v.len() > 5 { 50_000 } else { 100_000 });
            for (i, (&fi, &pi)) in f.iter().zip(&softmax(v, temp)).enumerate() {
                assert!(
                    (fi - pi).abs() < 0.006,
                    "token {i}: {fi} vs {pi} (T {temp})"
                );
            }
        }
        // min-p 0.2 keeps logits >= 4 + ln 0.2 = 2.39: tokens 17 and 500,
        // renormalised (drawn by rejection over the block maxima).
        let mut s = Sampler::new(cfg(|c| c.min_p = 0.2));
        let f = frequencies(&mut s, &large, 50_000);
        let p17 = 1.0 / (1.0 + (-1.0f64).exp());
        assert!((f[17] - p17).abs() < 0.008 && (f[500] - (1.0 - p17)).abs() < 0.008);
        assert_eq!(f[17] + f[500], 1.0);
    }

    #[test]
    fn same_seed_same_tokens_different_seed_different() {
        let v = normal_logits(70_000, 6, 1.0);
        let run = |seed: u64, c: &SamplerConfig| {
            let mut s = Sampler::new(SamplerConfig { seed, ..c.clone() });
            let a: Vec<u32> = (0..20).map(|_| s.sample(&v)).collect();
            s.reset();
            let b: Vec<u32> = (0..20).map(|_| s.sample(&v)).collect();
            assert_eq!(a, b, "reset re-seeds");
            a
        };
        for c in [
            SamplerConfig::default(),
            cfg(|c| c.top_k = 40),
            cfg(|c| c.top_p = 0.9),
            cfg(|c| c.min_p = 0.05),
        ] {
            assert_eq!(run(7, &c), run(7, &c));
            assert_ne!(run(7, &c), run(8, &c));
        }
    }

    #[test]
    fn nan_and_infinite_logits_do_not_panic() {
        let nan = f32::NAN;
        let ninf = f32::NEG_INFINITY;
        for c in [
            SamplerConfig::greedy(),
            SamplerConfig::default(),
            cfg(|c| c.top_k = 2),
            cfg(|c| c.top_p = 0.5),
            cfg(|c| c.min_p = 0.1),
        ] {
            let mut s = Sampler::new(c.clone());
            for _ in 0..200 {
                let t = s.sample(&[nan, 1.0, nan, ninf, 0.5]);
                assert!(t == 1 || t == 4, "{c:?}: {t}");
            }
            assert_eq!(s.sample(&[nan, nan, nan]), 0, "all NaN");
            assert_eq!(s.sample(&[ninf, ninf]), 0, "all -inf");
            assert_eq!(s.sample(&[nan, ninf, ninf]), 1, "lowest non-NaN");
            assert_eq!(s.sample(&[0.0, f32::INFINITY, 1.0]), 1, "+inf wins");
            assert_eq!(s.sample(&[]), 0, "empty");
        }
        let mut v = normal_logits(N_VOCAB, 8, 1.0);
        for x in v.iter_mut().step_by(3) {
            *x = nan;
        }
        let mut s = Sampler::new(cfg(|c| c.top_p = 0.9));
        for _ in 0..50 {
            assert!(!v[s.sample(&v) as usize].is_nan());
        }
    }

    #[test]
    fn low_temperature_concentrates_high_temperature_spreads() {
        let v = [1.0f32, 0.0, 0.0, 0.0];
        let f_low = frequencies(&mut Sampler::new(cfg(|c| c.temperature = 0.1)), &v, 20_000);
        let f_one = frequencies(&mut Sampler::new(SamplerConfig::default()), &v, 20_000);
        let f_high = frequencies(&mut Sampler::new(cfg(|c| c.temperature = 10.0)), &v, 20_000);
        assert!(f_low[0] > 0.999, "{f_low:?}");
        assert!((f_one[0] - 0.475).abs() < 0.02, "{f_one:?}");
        assert!(f_high[0] < 0.3, "{f_high:?}");
    }

    /// ns per `sample` on 201,088 logits; run with
    /// `cargo test --release --lib engine::sampler -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn bench_ns_per_token() {
        let flat = normal_logits(N_VOCAB, 9, 1.0);
        // Model-like: a few strong tokens over a wide spread.
        let mut peaked = normal_logits(N_VOCAB, 10, 3.0);
        for (i, x) in peaked.iter_mut().enumerate().step_by(20_011) {
            *x = 22.0 - (i / 20_011) as f32;
        }
        let configs = [
            ("greedy", SamplerConfig::greedy()),
            ("default (T=1, top_p=1)", SamplerConfig::default()),
            ("top_k=40", cfg(|c| c.top_k = 40)),
            ("top_p=0.9", cfg(|c| c.top_p = 0.9)),
            ("min_p=0.05", cfg(|c| c.min_p = 0.05)),
            (
                "top_k=40 top_p=0.9 min_p=0.05",
                cfg(|c| {
                    c.top_k = 40;
                    c.top_p = 0.9;
                    c.min_p = 0.05;
                }),
            ),
            ("penalty 1.1 + default", cfg(|c| c.repeat_penalty = 1.1)),
        ];
        for (name, v) in [("flat N(0,1)", &flat), ("peaked", &peaked)] {
            for (label, c) in &configs {
                let mut s = Sampler::new(c.clone());
                for t in 0..64 {
                    s.accept(t * 1000);
                }
                // The best of 7 rounds of 50: robust to a busy machine.
                let mut sink = 0u64;
                let mut best = u128::MAX;
                for _ in 0..7 {
                    let t0 = std::time::Instant::now();
                    for _ in 0..50 {
                        sink += u64::from(s.sample(v));
                    }
                    best = best.min(t0.elapsed().as_nanos() / 50);
                }
                println!("{name:12} {label:32} {best:>9} ns/token  (sink {sink})");
            }
        }
    }
}
