//! `kchat tokenize`, `kchat detokenize` and `kchat bench tokenizer`: the
//! command-line faces of the tokenizer, like llama.cpp's tokenize tool.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};

use super::bench::{self, BenchOptions};
use super::Tokenizer;
use crate::gguf::GgufModel;

/// Arguments of `kchat tokenize`.
#[derive(Debug, clap::Args)]
pub struct TokenizeArgs {
    /// The model whose vocabulary to use (GGUF; any shard of a split model).
    #[arg(short = 'm', long = "model", value_name = "FILE")]
    pub model: PathBuf,
    /// Parse special tokens such as `<|start|>` (off: they stay plain text).
    #[arg(long)]
    pub special: bool,
    /// Print JSON (`[{"id":…,"text":…,"bytes":[…],"kind":…}]`).
    #[arg(long, conflicts_with = "ids")]
    pub json: bool,
    /// Print only the ids, as one list.
    #[arg(long)]
    pub ids: bool,
    /// The text, or `-` to read standard input.
    #[arg(value_name = "TEXT")]
    pub text: String,
}

/// Arguments of `kchat detokenize`.
#[derive(Debug, clap::Args)]
pub struct DetokenizeArgs {
    /// The model whose vocabulary to use.
    #[arg(short = 'm', long = "model", value_name = "FILE")]
    pub model: PathBuf,
    /// Token ids, separated by spaces or commas (`[1, 2]` works too), or `-`
    /// to read them from standard input.
    #[arg(value_name = "IDS", required = true, num_args = 1..)]
    pub ids: Vec<String>,
}

/// Arguments of `kchat bench tokenizer`.
#[derive(Debug, clap::Args)]
pub struct TokenizerBenchArgs {
    /// Take the vocabulary from this model; default: the o200k_harmony
    /// vocabulary kchat builds itself (what mkmodel writes).
    #[arg(short = 'm', long = "model", value_name = "FILE")]
    pub model: Option<PathBuf>,
    /// Repetitions per measurement (the median is reported).
    #[arg(long, default_value_t = 7)]
    pub reps: usize,
    /// Also time the `tokenizers` crate pipeline built from the same vocabulary.
    #[arg(long)]
    pub with_hf: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

fn load(model: &Path) -> Result<Tokenizer> {
    let gguf = GgufModel::open(model)?;
    Tokenizer::from_gguf(|k| gguf.get(k))
        .with_context(|| format!("{}: cannot build the tokenizer", model.display()))
}

fn read_arg(text: &str) -> Result<String> {
    if text != "-" {
        return Ok(text.to_string());
    }
    let mut s = String::new();
    std::io::stdin()
        .read_to_string(&mut s)
        .context("cannot read standard input as UTF-8 text")?;
    Ok(s)
}

/// Runs `kchat tokenize`.
pub fn run_tokenize(args: &TokenizeArgs) -> Result<()> {
    let tok = load(&args.model)?;
    let text = read_arg(&args.text)?;
    let pieces = tok.tokenize(&text, args.special);
    if args.json {
        println!("{}", serde_json::to_string(&pieces)?);
    } else if args.ids {
        let ids: Vec<String> = pieces.iter().map(|p| p.id.to_string()).collect();
        println!("[{}]", ids.join(", "));
    } else {
        for p in &pieces {
            println!("{:>6} -> {:?}", p.id, p.text);
        }
    }
    Ok(())
}

/// Parses ids separated by whitespace, commas or brackets.
fn parse_ids(words: &[String]) -> Result<Vec<u32>> {
    let mut joined = words.join(" ");
    if joined.trim() == "-" {
        joined = read_arg("-")?;
    }
    joined
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | '[' | ']'))
        .filter(|w| !w.is_empty())
        .map(|w| {
            w.parse::<u32>()
                .with_context(|| format!("IDS: {w:?} is not a token id"))
        })
        .collect()
}

/// Runs `kchat detokenize`.
pub fn run_detokenize(args: &DetokenizeArgs) -> Result<()> {
    let ids = parse_ids(&args.ids)?;
    let tok = load(&args.model)?;
    if let Some(bad) = ids.iter().find(|&&id| id as usize >= tok.vocab_size()) {
        bail!(
            "IDS: {bad} is not in the vocabulary ({} tokens)",
            tok.vocab_size()
        );
    }
    print!("{}", tok.decode(&ids)?);
    Ok(())
}

/// Runs `kchat bench tokenizer`.
pub fn run_bench(args: &TokenizerBenchArgs) -> Result<()> {
    let tok = match &args.model {
        Some(m) => load(m)?,
        None => bench::harmony_tokenizer()?,
    };
    let opts = BenchOptions {
        reps: args.reps.max(1),
        with_hf: args.with_hf,
        ..BenchOptions::default()
    };
    let report = bench::run(&tok, &opts)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{report}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_from_lists_and_brackets() {
        let words = vec!["[1,".to_string(), "2, 3]".to_string(), "4".to_string()];
        assert_eq!(parse_ids(&words).expect("parses"), vec![1, 2, 3, 4]);
        let bad = vec!["1".to_string(), "x".to_string()];
        let err = parse_ids(&bad).expect_err("x is no id").to_string();
        assert!(err.contains("\"x\""), "{err}");
    }
}
