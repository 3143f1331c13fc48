//! The timing loop, as llama-bench runs it: an untimed warm-up per engine,
//! then repetitions that empty the cache, prefill the depth untimed and time
//! either one prompt (pp) or tokens generated one at a time (tg). With
//! several engines the repetitions alternate between them, on the same
//! seeded random tokens.

use std::time::Instant;

use anyhow::{Context as _, Result};

use super::BenchEngine;
use crate::rng::SplitMix64;

/// Token ids from here on are special (`<|startoftext|>` is 199998 in
/// o200k_harmony); random prompts stay below.
pub const FIRST_SPECIAL: usize = 199_998;

/// One test: a prompt of `n_prompt` tokens or `n_gen` generated tokens, after
/// `depth` tokens already in the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Workload {
    /// Prompt tokens, prefilled at once (pp); 0 for a tg test.
    pub n_prompt: usize,
    /// Tokens decoded one at a time (tg); 0 for a pp test.
    pub n_gen: usize,
    /// Tokens prefilled, untimed, before the timed part.
    pub depth: usize,
}

impl Workload {
    /// Prompt processing of `n` tokens after `depth`.
    pub fn prompt(n: usize, depth: usize) -> Workload {
        Workload {
            n_prompt: n,
            n_gen: 0,
            depth,
        }
    }

    /// Generation of `n` tokens after `depth`.
    pub fn generate(n: usize, depth: usize) -> Workload {
        Workload {
            n_prompt: 0,
            n_gen: n,
            depth,
        }
    }

    /// llama-bench's name: `pp512`, `tg128`, `pp512 @ d4096`.
    pub fn name(&self) -> String {
        let base = if self.n_prompt > 0 {
            format!("pp{}", self.n_prompt)
        } else {
            format!("tg{}", self.n_gen)
        };
        if self.depth > 0 {
            format!("{base} @ d{}", self.depth)
        } else {
            base
        }
    }

    /// Tokens timed per repetition.
    pub fn n_tokens(&self) -> usize {
        self.n_prompt + self.n_gen
    }

    /// Cache length the test needs.
    pub fn n_ctx(&self) -> usize {
        self.depth + self.n_tokens()
    }
}

/// `n` random token ids below `vocab`.
fn random_tokens(rng: &mut SplitMix64, n: usize, vocab: usize) -> Vec<u32> {
    let vocab = vocab.max(1) as u64;
    (0..n).map(|_| (rng.next_u64() % vocab) as u32).collect()
}

/// The tokens of one repetition: depth, then the timed ones.
struct RepTokens {
    depth: Vec<u32>,
    timed: Vec<u32>,
}

impl RepTokens {
    fn new(w: &Workload, seed: u64, rep: usize, vocab: usize) -> RepTokens {
        let mut rng = SplitMix64::new(seed ^ (rep as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        RepTokens {
            depth: random_tokens(&mut rng, w.depth, vocab),
            timed: random_tokens(&mut rng, w.n_tokens(), vocab),
        }
    }
}

/// Runs the timed part of `w` on `e` (cache already at depth); seconds.
fn timed(e: &mut dyn BenchEngine, w: &Workload, tokens: &[u32]) -> Result<f64> {
    let start = Instant::now();
    if w.n_prompt > 0 {
        e.prefill(tokens)?;
    } else {
        for &t in tokens {
            e.decode(t)?;
        }
    }
    Ok(start.elapsed().as_secs_f64())
}

/// The untimed warm-up, as llama-bench's: the whole prompt for a pp test,
/// one token for a tg test, into an empty cache.
fn warm_up(e: &mut dyn BenchEngine, w: &Workload, vocab: usize, seed: u64) -> Result<()> {
    let mut rng = SplitMix64::new(!seed);
    e.clear()?;
    if w.n_prompt > 0 {
        e.prefill(&random_tokens(&mut rng, w.n_prompt, vocab))?;
    } else {
        e.decode(random_tokens(&mut rng, 1, vocab)[0])?;
    }
    Ok(())
}

/// Measures `w` on every engine: a warm-up each, then `reps` repetitions
/// alternating engine by engine (e0, e1, e0, e1, ...). Returns, per engine,
/// the tokens per second of each repetition.
pub fn measure(
    engines: &mut [&mut dyn BenchEngine],
    w: &Workload,
    reps: usize,
    seed: u64,
) -> Result<Vec<Vec<f64>>> {
    let vocab = engines
        .iter()
        .map(|e| e.n_vocab())
        .min()
        .unwrap_or(0)
        .min(FIRST_SPECIAL);
    if vocab == 0 {
        anyhow::bail!("the model has an empty vocabulary");
    }
    for e in engines.iter_mut() {
        warm_up(&mut **e, w, vocab, seed).with_context(|| format!("{}: warm-up", e.name()))?;
    }
    let mut samples = vec![Vec::with_capacity(reps); engines.len()];
    for rep in 0..reps {
        let tokens = RepTokens::new(w, seed, rep, vocab);
        for (e, out) in engines.iter_mut().zip(samples.iter_mut()) {
            let name = e.name();
            e.clear().with_context(|| format!("{name}: clear"))?;
            if !tokens.depth.is_empty() {
                e.prefill(&tokens.depth)
                    .with_context(|| format!("{name}: prefilling depth {}", w.depth))?;
            }
            let secs = timed(&mut **e, w, &tokens.timed).with_context(|| name.clone())?;
            out.push(w.n_tokens() as f64 / secs.max(1e-9));
        }
    }
    Ok(samples)
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use super::*;

    /// An engine that records what it is asked to do.
    struct Fake {
        name: &'static str,
        log: Rc<RefCell<Vec<String>>>,
        seen: Vec<u32>,
    }

    impl BenchEngine for Fake {
        fn name(&self) -> String {
            self.name.to_string()
        }
        fn n_vocab(&self) -> usize {
            201_088
        }
        fn clear(&mut self) -> Result<()> {
            self.log.borrow_mut().push(format!("{} clear", self.name));
            Ok(())
        }
        fn prefill(&mut self, tokens: &[u32]) -> Result<()> {
            self.seen.extend_from_slice(tokens);
            let msg = format!("{} prefill {}", self.name, tokens.len());
            self.log.borrow_mut().push(msg);
            Ok(())
        }
        fn decode(&mut self, token: u32) -> Result<()> {
            self.seen.push(token);
            self.log.borrow_mut().push(format!("{} decode", self.name));
            Ok(())
        }
    }

    #[test]
    fn names_as_llama_bench() {
        assert_eq!(Workload::prompt(512, 0).name(), "pp512");
        assert_eq!(Workload::generate(128, 0).name(), "tg128");
        assert_eq!(Workload::prompt(512, 4096).name(), "pp512 @ d4096");
        assert_eq!(Workload::generate(32, 16).n_ctx(), 48);
    }

    #[test]
    fn engines_alternate_on_the_same_tokens() {
        let log = Rc::new(RefCell::new(Vec::new()));
        let mut a = Fake {
            name: "a",
            log: log.clone(),
            seen: Vec::new(),
        };
        let mut b = Fake {
            name: "b",
            log: log.clone(),
            seen: Vec::new(),
        };
        let w = Workload::generate(2, 3);
        let s = measure(&mut [&mut a, &mut b], &w, 2, 1).expect("measure");
        assert_eq!(s.len(), 2);
        assert!(s.iter().all(|e| e.len() == 2 && e.iter().all(|t| *t > 0.0)));
        let want = [
            "a clear",
            "a decode",
            "b clear",
            "b decode", // warm-up
            "a clear",
            "a prefill 3",
            "a decode",
            "a decode", // rep 0
            "b clear",
            "b prefill 3",
            "b decode",
            "b decode",
            "a clear",
            "a prefill 3",
            "a decode",
            "a decode", // rep 1
            "b clear",
            "b prefill 3",
            "b decode",
            "b decode",
        ];
        assert_eq!(*log.borrow(), want);
        assert_eq!(a.seen, b.seen);
        assert!(a.seen.iter().all(|&t| (t as usize) < FIRST_SPECIAL));
        // Repetitions draw different tokens.
        assert_ne!(a.seen[1..6], a.seen[6..11]);
    }

    #[test]
    fn prompt_tests_prefill_once() {
        let log = Rc::new(RefCell::new(Vec::new()));
        let mut a = Fake {
            name: "a",
            log: log.clone(),
            seen: Vec::new(),
        };
        measure(&mut [&mut a], &Workload::prompt(16, 0), 1, 7).expect("measure");
        assert_eq!(
            *log.borrow(),
            ["a clear", "a prefill 16", "a clear", "a prefill 16"]
        );
    }
}
