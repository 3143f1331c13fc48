//! `kchat bench -m MODEL`: prompt-processing and generation speed, measured
//! like llama.cpp's `llama-bench`, for kchat's engine, for libllama, or for
//! both side by side in one process (`--vs-llama`).
//!
//! The harness ([`harness`]) only knows the [`BenchEngine`] trait; each
//! engine adapts itself to it ([`llama::LlamaEngine`] for libllama).

pub mod chat;
pub mod harness;
pub mod kchat;
pub mod llama;
pub mod parity;
pub mod report;

use std::io::Write as _;

use anyhow::{Context as _, Result};

use crate::engine::{EngineOptions, ModelArgs, Session};
use crate::gguf::GgufModel;
use crate::model::Model;

pub use harness::{measure, Workload};
pub use report::{EngineResult, Report, Row};

/// An engine the benchmark can drive: one sequence, appended to token by
/// token or in batches, with a cache that can be emptied.
///
/// Every call returns only once its work is done (device work included), so
/// wall-clock time around it is honest.
pub trait BenchEngine {
    /// The engine's name in reports (`kchat`, `libllama`).
    fn name(&self) -> String;
    /// Tokens in the model's vocabulary (random ids are drawn below it).
    fn n_vocab(&self) -> usize;
    /// Empties the cache.
    fn clear(&mut self) -> Result<()>;
    /// Appends `tokens` to the cache, computing logits for the last only.
    fn prefill(&mut self, tokens: &[u32]) -> Result<()>;
    /// Appends one token and computes its logits.
    fn decode(&mut self, token: u32) -> Result<()>;
}

/// Which engine `kchat bench` measures without `--vs-llama`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum EngineKind {
    /// kchat's own engine.
    #[default]
    Kchat,
    /// libllama (llama.cpp), the reference.
    Llama,
}

/// Arguments of `kchat bench -m MODEL`.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Benchmark")]
pub struct BenchArgs {
    /// Prompt lengths to time (pp tests; 0: none). Comma-separated list.
    #[arg(
        short = 'p',
        long = "n-prompt",
        value_name = "N",
        value_delimiter = ',',
        default_value = "512"
    )]
    pub n_prompt: Vec<usize>,
    /// Tokens to generate one by one (tg tests; 0: none). Comma-separated list.
    #[arg(
        short = 'n',
        long = "n-gen",
        value_name = "N",
        value_delimiter = ',',
        default_value = "128"
    )]
    pub n_gen: Vec<usize>,
    /// Tokens already in the cache (prefilled, untimed) before each test.
    /// Comma-separated list.
    #[arg(
        short = 'd',
        long = "n-depth",
        value_name = "N",
        value_delimiter = ',',
        default_value = "0"
    )]
    pub n_depth: Vec<usize>,
    /// Timed repetitions per test (after one untimed warm-up).
    #[arg(
        short = 'r',
        long = "repetitions",
        value_name = "N",
        default_value_t = 3
    )]
    pub reps: usize,
    /// Measure kchat and libllama, alternating repetitions, and print the
    /// ratio kchat/libllama.
    #[arg(long, conflicts_with = "engine")]
    pub vs_llama: bool,
    /// The engine to measure alone.
    #[arg(long, value_enum, value_name = "ENGINE", default_value_t = EngineKind::Kchat)]
    pub engine: EngineKind,
    /// Seed of the random token ids.
    #[arg(long, value_name = "S", default_value_t = 42)]
    pub seed: u64,
    /// Print JSON for scripts instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Model, placement, context and batch flags (as llama.cpp's).
    #[command(flatten)]
    pub model: ModelArgs,
}

impl BenchArgs {
    /// The tests to run, in order: for each depth, the prompt tests, then
    /// the generation tests.
    pub fn workloads(&self) -> Vec<Workload> {
        let mut out = Vec::new();
        for &depth in &self.n_depth {
            for &p in self.n_prompt.iter().filter(|&&p| p > 0) {
                out.push(Workload::prompt(p, depth));
            }
            for &n in self.n_gen.iter().filter(|&&n| n > 0) {
                out.push(Workload::generate(n, depth));
            }
        }
        out
    }

    /// The engine options, with the context grown to hold the longest test
    /// (0, the model's trained context, stays 0).
    pub fn options(&self) -> EngineOptions {
        let mut o = self.model.options();
        let needed = self
            .workloads()
            .iter()
            .map(Workload::n_ctx)
            .max()
            .unwrap_or(1);
        if o.n_ctx != 0 {
            o.n_ctx = o.n_ctx.max(u32::try_from(needed).unwrap_or(u32::MAX));
        }
        o
    }
}

/// Runs `kchat bench -m MODEL`: loads the engines, runs every workload and
/// prints a table (row by row, as llama-bench does) or, with `--json`, the
/// whole report at the end.
pub fn run(args: &BenchArgs) -> Result<()> {
    let workloads = args.workloads();
    if workloads.is_empty() {
        anyhow::bail!("nothing to measure: -p and -n are both 0");
    }
    let opts = args.options();
    // Size and parameter count for the table; kchat's reader is optional
    // here (libllama may accept what it refuses, or the reverse).
    let use_kchat = args.vs_llama || args.engine == EngineKind::Kchat;
    let use_llama = args.vs_llama || args.engine == EngineKind::Llama;
    let gguf = if use_kchat {
        Some(GgufModel::open(&args.model.model)?)
    } else {
        GgufModel::open(&args.model.model).ok()
    };
    let model = match (&gguf, use_kchat) {
        (Some(g), true) => Some(Model::load(g, &opts, &mut crate::run::upload_progress())?),
        _ => None,
    };
    let mut ours = match &model {
        Some(m) => Some(kchat::KchatEngine::new(Session::new(m)?)),
        None => None,
    };
    let mut theirs = if use_llama {
        Some(llama::LlamaEngine::load(&args.model.model, &opts)?)
    } else {
        None
    };
    let mut engines: Vec<&mut dyn BenchEngine> = Vec::new();
    if let Some(e) = ours.as_mut() {
        engines.push(e);
    }
    if let Some(e) = theirs.as_mut() {
        engines.push(e);
    }
    let mut report = Report::new(&args.model.model, gguf.as_ref(), &opts, args);
    let names: Vec<String> = engines.iter().map(|e| e.name()).collect();
    let mut out = std::io::stdout().lock();
    if !args.json {
        write!(out, "{}", report.header(&names)).context("cannot write to stdout")?;
    }
    for w in &workloads {
        let samples = measure(&mut engines, w, args.reps.max(1), args.seed)
            .with_context(|| format!("{} failed", w.name()))?;
        let row = Row::new(w, &names, samples);
        if !args.json {
            writeln!(out, "{}", report.row_line(&row)).context("cannot write to stdout")?;
            out.flush().context("cannot write to stdout")?;
        }
        report.rows.push(row);
    }
    if args.json {
        let text = serde_json::to_string_pretty(&report).context("cannot encode JSON")?;
        writeln!(out, "{text}").context("cannot write to stdout")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> BenchArgs {
        #[derive(clap::Parser)]
        struct T {
            #[command(flatten)]
            b: BenchArgs,
        }
        let argv = crate::engine::options::llama_style_args(args.iter().map(Into::into));
        <T as clap::Parser>::parse_from(argv).b
    }

    #[test]
    fn workloads_in_llama_bench_order() {
        let a = parse(&["t", "-m", "x", "-p", "16,0,64", "-n", "4", "-d", "0,100"]);
        let names: Vec<String> = a.workloads().iter().map(Workload::name).collect();
        assert_eq!(
            names,
            [
                "pp16",
                "pp64",
                "tg4",
                "pp16 @ d100",
                "pp64 @ d100",
                "tg4 @ d100"
            ]
        );
        let none = parse(&["t", "-m", "x", "-p", "0", "-n", "0"]);
        assert!(none.workloads().is_empty());
    }

    #[test]
    fn context_grows_to_the_longest_test() {
        let a = parse(&[
            "t", "-m", "x", "-p", "512", "-n", "128", "-d", "16384", "-c", "4096",
        ]);
        assert_eq!(a.options().n_ctx, 16384 + 512);
        let a = parse(&[
            "t", "-m", "x", "-c", "0", "-ngl", "7", "-fa", "off", "-ub", "64",
        ]);
        let o = a.options();
        assert_eq!((o.n_ctx, o.n_gpu_layers, o.n_ubatch), (0, Some(7), 64));
        assert_eq!(
            (a.reps, a.engine, a.vs_llama),
            (3, EngineKind::Kchat, false)
        );
    }
}
