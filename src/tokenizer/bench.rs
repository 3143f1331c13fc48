//! `kchat bench tokenizer`: encoding speed of kchat's tokenizer beside
//! tiktoken-rs (and the `tokenizers` pipeline) on the same inputs, in the
//! same run: a generated corpus and a long chat prompt of a fixed token count.

use std::fmt;
use std::time::Instant;

use super::{corpus, Tokenizer};

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Repetitions per measurement; the median is reported.
    pub reps: usize,
    /// Size of the generated corpus in bytes.
    pub corpus_bytes: usize,
    /// Token count of the long prompt (by tiktoken's count).
    pub prompt_tokens: usize,
    /// Seed of the generated text.
    pub seed: u64,
    /// Also time the `tokenizers` pipeline (slow; off for quick runs).
    pub with_hf: bool,
    /// Also time the pre-tokenizer alone (pieces, no BPE).
    pub with_split: bool,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions {
            reps: 5,
            corpus_bytes: 1 << 20,
            prompt_tokens: 131_072,
            seed: 42,
            with_hf: true,
            with_split: false,
        }
    }
}

/// One timed encoder on one input.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BenchRow {
    /// Input name: `corpus` or `prompt`.
    pub input: String,
    /// Encoder name.
    pub encoder: String,
    /// Input size in bytes.
    pub bytes: usize,
    /// Tokens produced.
    pub tokens: usize,
    /// Median seconds per encode.
    pub median_s: f64,
    /// Megabytes (10^6 bytes) per second.
    pub mb_per_s: f64,
    /// Tokens per second.
    pub tokens_per_s: f64,
    /// Whether the ids equal tiktoken-rs's (`None` for the pre-tokenizer
    /// alone, whose "tokens" are pieces).
    pub same_ids_as_tiktoken: Option<bool>,
}

/// The whole measurement.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BenchReport {
    /// Worker threads available to the parallel encoder.
    pub threads: usize,
    /// Repetitions per row.
    pub reps: usize,
    /// All rows.
    pub rows: Vec<BenchRow>,
    /// kchat (parallel) speed over tiktoken-rs on the corpus.
    pub corpus_speedup: f64,
    /// kchat (parallel) speed over tiktoken-rs on the prompt.
    pub prompt_speedup: f64,
    /// kchat on one thread over tiktoken-rs on the corpus.
    pub corpus_speedup_one_thread: f64,
}

/// Errors of the benchmark.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The o200k_harmony vocabulary could not be built.
    #[error("cannot build the o200k_harmony vocabulary: {0}")]
    Vocab(#[from] crate::mkmodel::vocab::VocabError),
    /// The tokenizer could not be built from the vocabulary's metadata.
    #[error(transparent)]
    Tokenizer(#[from] super::TokenizerError),
    /// tiktoken-rs could not load its tables.
    #[error("cannot load tiktoken-rs o200k_harmony: {0}")]
    Tiktoken(String),
    /// A one-thread pool could not be made.
    #[error("cannot start a one-thread pool: {0}")]
    Pool(String),
    /// The `tokenizers` pipeline failed.
    #[error("tokenizers pipeline: {0}")]
    Pipeline(String),
}

fn median_time<T>(reps: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut times = Vec::with_capacity(reps);
    let mut last = None;
    for _ in 0..reps.max(1) {
        let t = Instant::now();
        let out = f();
        times.push(t.elapsed().as_secs_f64());
        last = Some(out);
    }
    times.sort_by(f64::total_cmp);
    let out = last.expect("at least one repetition ran");
    (times[times.len() / 2], out)
}

fn row(
    input: &str,
    encoder: &str,
    text: &str,
    secs: f64,
    ids: &[u32],
    reference: &[u32],
) -> BenchRow {
    BenchRow {
        input: input.into(),
        encoder: encoder.into(),
        bytes: text.len(),
        tokens: ids.len(),
        median_s: secs,
        mb_per_s: text.len() as f64 / secs / 1e6,
        tokens_per_s: ids.len() as f64 / secs,
        same_ids_as_tiktoken: Some(ids == reference),
    }
}

/// Text of exactly the first `n` tiktoken tokens of a generated prompt
/// (cut back to a character boundary).
fn prompt_of(tok: &Tokenizer, bpe: &tiktoken_rs::CoreBPE, seed: u64, n: usize) -> String {
    let text = corpus::prompt_text(seed, n * 6);
    let ids = bpe.encode_ordinary(&text);
    let cut: usize = ids
        .iter()
        .take(n)
        .map(|&id| tok.token_bytes(id).map_or(0, <[u8]>::len))
        .sum();
    let mut cut = cut.min(text.len());
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text[..cut].to_owned()
}

/// gpt-oss's tokenizer without a model file: the o200k_harmony vocabulary
/// in GGUF form (what `kchat mkmodel` writes), read back through
/// [`Tokenizer::from_gguf`] like any model's metadata.
pub fn harmony_tokenizer() -> Result<Tokenizer, BenchError> {
    let vocab = crate::mkmodel::vocab::harmony_vocab()?;
    let meta = super::meta::metadata_from_vocab(&vocab);
    let get = |key: &str| meta.iter().find(|(k, _)| *k == key).map(|(_, v)| v);
    Ok(Tokenizer::from_gguf(get)?)
}

/// Runs the benchmark with `tok` (an o200k vocabulary, e.g. gpt-oss's).
pub fn run(tok: &Tokenizer, opts: &BenchOptions) -> Result<BenchReport, BenchError> {
    let bpe = tiktoken_rs::o200k_harmony().map_err(|e| BenchError::Tiktoken(e.to_string()))?;
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .map_err(|e| BenchError::Pool(e.to_string()))?;
    let inputs = [
        ("corpus", corpus::generate(opts.seed, opts.corpus_bytes)),
        (
            "prompt",
            prompt_of(tok, &bpe, opts.seed, opts.prompt_tokens),
        ),
    ];
    // The pipeline with control tokens left as text, like encode_ordinary.
    let hf = if opts.with_hf {
        Some(super::hf::build(tok.spec(), false).map_err(|e| BenchError::Pipeline(e.to_string()))?)
    } else {
        None
    };

    let mut rows = Vec::new();
    for (name, text) in &inputs {
        let (t_tik, reference) = median_time(opts.reps, || bpe.encode_ordinary(text));
        rows.push(row(
            name,
            "tiktoken-rs",
            text,
            t_tik,
            &reference,
            &reference,
        ));
        let (t, ids) = median_time(opts.reps, || tok.encode(text, false));
        rows.push(row(name, "kchat", text, t, &ids, &reference));
        let (t, ids) = median_time(opts.reps, || one.install(|| tok.encode(text, false)));
        rows.push(row(name, "kchat (1 thread)", text, t, &ids, &reference));
        if opts.with_split {
            let (t, n) = median_time(opts.reps, || tok.pre_tokenize(text).len());
            rows.push(BenchRow {
                tokens: n,
                tokens_per_s: n as f64 / t,
                same_ids_as_tiktoken: None,
                ..row(name, "pre-tokenizer only", text, t, &[], &[])
            });
        }
        if let Some(hf) = &hf {
            let mut err = None;
            let (t, ids) = median_time(opts.reps, || match hf.encode_fast(text.as_str(), false) {
                Ok(enc) => enc.get_ids().to_vec(),
                Err(e) => {
                    err = Some(e.to_string());
                    Vec::new()
                }
            });
            if let Some(e) = err {
                return Err(BenchError::Pipeline(e));
            }
            rows.push(row(name, "tokenizers pipeline", text, t, &ids, &reference));
        }
    }
    let speed = |input: &str, enc: &str| {
        rows.iter()
            .find(|r| r.input == input && r.encoder == enc)
            .map_or(0.0, |r| r.mb_per_s)
    };
    let ratio = |input: &str, enc: &str| speed(input, enc) / speed(input, "tiktoken-rs");
    Ok(BenchReport {
        threads: rayon::current_num_threads(),
        reps: opts.reps,
        corpus_speedup: ratio("corpus", "kchat"),
        prompt_speedup: ratio("prompt", "kchat"),
        corpus_speedup_one_thread: ratio("corpus", "kchat (1 thread)"),
        rows,
    })
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "tokenizer encode, median of {} runs, {} threads",
            self.reps, self.threads
        )?;
        writeln!(
            f,
            "{:<7} {:<20} {:>9} {:>8} {:>10} {:>8} {:>12} {:>5}",
            "input", "encoder", "bytes", "tokens", "ms", "MB/s", "tokens/s", "ids"
        )?;
        for r in &self.rows {
            writeln!(
                f,
                "{:<7} {:<20} {:>9} {:>8} {:>10.2} {:>8.2} {:>12.0} {:>5}",
                r.input,
                r.encoder,
                r.bytes,
                r.tokens,
                r.median_s * 1e3,
                r.mb_per_s,
                r.tokens_per_s,
                match r.same_ids_as_tiktoken {
                    Some(true) => "same",
                    Some(false) => "DIFF",
                    None => "-",
                }
            )?;
        }
        write!(
            f,
            "kchat vs tiktoken-rs: corpus {:.2}x ({:.2}x on one thread), prompt {:.2}x",
            self.corpus_speedup, self.corpus_speedup_one_thread, self.prompt_speedup
        )
    }
}
