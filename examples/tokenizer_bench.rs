//! Tokenizer speed beside tiktoken-rs, until `kchat bench tokenizer` is wired:
//! `cargo run --release --example tokenizer_bench [REPS] [--no-hf] [--split] [--json]`.
//! Builds the o200k_harmony vocabulary in GGUF form (what `kchat mkmodel`
//! writes), reads it back through the GGUF metadata path, and runs
//! `kchat::tokenizer::bench::run`.

use std::collections::HashMap;
use std::time::Instant;

use anyhow::Context;
use kchat::gguf::GgufValue;
use kchat::mkmodel::vocab::harmony_vocab;
use kchat::tokenizer::bench::{self, BenchOptions};
use kchat::tokenizer::meta::metadata_from_vocab;
use kchat::tokenizer::Tokenizer;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut opts = BenchOptions::default();
    if let Some(n) = args.iter().find_map(|a| a.parse::<usize>().ok()) {
        opts.reps = n;
    }
    opts.with_hf = !args.iter().any(|a| a == "--no-hf");
    opts.with_split = args.iter().any(|a| a == "--split");

    let t = Instant::now();
    let vocab = harmony_vocab().context("building the o200k_harmony vocabulary")?;
    let map: HashMap<&str, GgufValue> = metadata_from_vocab(&vocab).into_iter().collect();
    let t_vocab = t.elapsed();
    let t = Instant::now();
    let tok = Tokenizer::from_gguf(|k| map.get(k)).context("building the tokenizer")?;
    eprintln!(
        "vocabulary in GGUF form {t_vocab:.2?}, tokenizer from metadata {:.2?}",
        t.elapsed()
    );
    // (`bench::harmony_tokenizer()` does the same in one call.)

    let report = bench::run(&tok, &opts)?;
    if args.iter().any(|a| a == "--json") {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{report}");
    }
    Ok(())
}
