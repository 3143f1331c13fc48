//! `kchat bench parity`: kchat's logits and greedy continuation under a
//! placement, against libllama under the same placement and against kchat
//! on the CPU alone, on the same file and tokens. One table row per run;
//! `scripts/gpu-check.sh` runs it over the placements on a GPU machine.

use anyhow::{Context as _, Result};
use serde::Serialize;

use crate::engine::{EngineOptions, ModelArgs, Outputs, Session};
use crate::ggml::llama::{LlamaContext, LlamaModel, LlamaParams, LogitsFor};
use crate::gguf::GgufModel;
use crate::model::Model;

/// Arguments of `kchat bench parity`.
#[derive(Debug, clap::Args)]
pub struct ParityArgs {
    /// Prompt length in tokens (seeded ids).
    #[arg(long, value_name = "N", default_value_t = 600)]
    prompt_tokens: usize,
    /// Greedy continuation length compared token for token.
    #[arg(long, value_name = "N", default_value_t = 64)]
    greedy: usize,
    /// Print the row as JSON.
    #[arg(long)]
    json: bool,
    /// Print the table header before the row.
    #[arg(long)]
    header: bool,
    #[command(flatten)]
    model: ModelArgs,
}

/// What one engine produced.
struct Run {
    rows: Vec<Vec<f32>>,
    greedy: Vec<u32>,
}

/// One row of the comparison.
#[derive(Debug, Serialize)]
pub struct ParityRow {
    /// The placement flags.
    pub placement: String,
    /// Max relative error of kchat against libllama (worst row).
    pub max_rel_vs_llama: f64,
    /// Normalised mean squared error against libllama (worst row).
    pub nmse_vs_llama: f64,
    /// Max relative error against kchat on the CPU.
    pub max_rel_vs_cpu: f64,
    /// The same for libllama: libllama under the placement against
    /// libllama on the CPU (what rounding alone does on this model).
    pub llama_max_rel_vs_llama_cpu: f64,
    /// Greedy tokens equal to libllama's before the first difference.
    pub greedy_same_as_llama: usize,
    /// Greedy tokens equal to kchat-on-CPU's before the first difference.
    pub greedy_same_as_cpu: usize,
    /// Greedy tokens compared.
    pub greedy: usize,
}

fn prompt(n: usize) -> Vec<u32> {
    (0..n as u32)
        .map(|i| (i.wrapping_mul(7919) + 13) % 199_000)
        .collect()
}

fn positions(n: usize) -> Vec<usize> {
    let mut p: Vec<usize> = [0, 1, 2, 50, 127, 128, 129, 300, 4097]
        .into_iter()
        .filter(|&i| i < n)
        .collect();
    if n > 0 && p.last() != Some(&(n - 1)) {
        p.push(n - 1);
    }
    p
}

/// The index of the largest value (the last of equal ones; 0 when empty).
pub fn argmax(v: &[f32]) -> u32 {
    v.iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(i, _)| i as u32)
        .unwrap_or(0)
}

/// What both engines are asked: the file, the placement, the prompt, the
/// positions whose logits are compared and the greedy length.
struct Probe<'a> {
    path: &'a std::path::Path,
    opts: &'a EngineOptions,
    tokens: &'a [u32],
    at: &'a [usize],
    greedy: usize,
}

impl Probe<'_> {
    /// Greedy tokens after the prompt: `step(token)` feeds one token and
    /// returns the arg-max of its logits.
    fn continue_greedy(
        &self,
        rows: &[Vec<f32>],
        mut step: impl FnMut(u32) -> Result<u32>,
    ) -> Result<Vec<u32>> {
        let mut next = rows.last().map(|r| argmax(r)).unwrap_or(0);
        let mut out = Vec::with_capacity(self.greedy);
        for _ in 0..self.greedy {
            out.push(next);
            next = step(next)?;
        }
        Ok(out)
    }

    fn kchat(&self, opts: &EngineOptions) -> Result<Run> {
        let gguf = GgufModel::open(self.path)?;
        let model = Model::load(&gguf, opts, &mut |_, _| {})?;
        let mut s = Session::new(&model)?;
        let l = s.eval(self.tokens, Outputs::Positions(self.at))?;
        let rows: Vec<Vec<f32>> = (0..l.rows()).map(|i| l.row(i).to_vec()).collect();
        let greedy = self.continue_greedy(&rows, |t| Ok(argmax(s.decode(t)?)))?;
        Ok(Run { rows, greedy })
    }

    fn llama(&self) -> Result<Run> {
        let params = LlamaParams::from(self.opts);
        let model = LlamaModel::load(self.path, &params)?;
        let mut ctx = LlamaContext::new(&model, &params)?;
        ctx.decode(self.tokens, 0, LogitsFor::Positions(self.at))?;
        let rows: Vec<Vec<f32>> = (0..self.at.len())
            .map(|i| ctx.logits(i).map(<[f32]>::to_vec).unwrap_or_default())
            .collect();
        let greedy = self.continue_greedy(&rows, |t| {
            ctx.decode(&[t], ctx.n_past(), LogitsFor::Last)?;
            Ok(ctx.logits(0).map(argmax).unwrap_or(0))
        })?;
        Ok(Run { rows, greedy })
    }
}

/// Maximum relative error of `a` against the reference `b`:
/// max |a - b| / max |b| (infinite when the lengths differ).
pub fn max_rel(a: &[f32], b: &[f32]) -> f64 {
    let scale = b.iter().fold(0f32, |m, x| m.max(x.abs())) as f64;
    let diff = a
        .iter()
        .zip(b)
        .fold(0f64, |m, (x, y)| m.max((*x as f64 - *y as f64).abs()));
    if a.len() != b.len() {
        return f64::INFINITY;
    }
    diff / scale.max(f64::MIN_POSITIVE)
}

/// Normalised mean squared error of `a` against `b`: Σ(a - b)² / Σb²
/// (ggml's backend tests measure with it).
pub fn nmse(a: &[f32], b: &[f32]) -> f64 {
    let num: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| (*x as f64 - *y as f64).powi(2))
        .sum();
    let den: f64 = b.iter().map(|y| (*y as f64).powi(2)).sum();
    num / den.max(f64::MIN_POSITIVE)
}

fn worst(a: &Run, b: &Run, f: fn(&[f32], &[f32]) -> f64) -> f64 {
    a.rows
        .iter()
        .zip(&b.rows)
        .map(|(x, y)| f(x, y))
        .fold(0.0, f64::max)
}

fn same_prefix(a: &[u32], b: &[u32]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// Describes the placement flags of `opts`.
fn describe(opts: &EngineOptions) -> String {
    let mut s = match opts.n_gpu_layers {
        Some(n) => format!("-ngl {n}"),
        None => "-ngl (all)".into(),
    };
    match opts.n_cpu_moe {
        0 => {}
        u32::MAX => s.push_str(" --cpu-moe"),
        n => s.push_str(&format!(" --n-cpu-moe {n}")),
    }
    s.push_str(&format!(" -fa {}", opts.flash_attn));
    if opts.n_ubatch != EngineOptions::default().n_ubatch {
        s.push_str(&format!(" -ub {}", opts.n_ubatch));
    }
    if !opts.op_offload {
        s.push_str(" --no-op-offload");
    }
    if !opts.graph_reuse {
        s.push_str(" --no-graph-reuse");
    }
    s
}

/// Runs `kchat bench parity`.
pub fn run(args: &ParityArgs) -> Result<()> {
    let opts = args.model.options();
    let path = &args.model.model;
    let tokens = prompt(args.prompt_tokens.max(1));
    let at = positions(tokens.len());
    let probe = Probe {
        path,
        opts: &opts,
        tokens: &tokens,
        at: &at,
        greedy: args.greedy,
    };
    let ours = probe.kchat(&opts).context("kchat")?;
    let cpu_opts = EngineOptions {
        n_gpu_layers: Some(0),
        n_cpu_moe: 0,
        op_offload: false,
        ..opts.clone()
    };
    let cpu = probe.kchat(&cpu_opts).context("kchat on the CPU")?;
    let theirs = probe.llama().context("libllama")?;
    let theirs_cpu = Probe {
        opts: &cpu_opts,
        ..probe
    }
    .llama()
    .context("libllama on the CPU")?;
    let row = ParityRow {
        placement: describe(&opts),
        max_rel_vs_llama: worst(&ours, &theirs, max_rel),
        nmse_vs_llama: worst(&ours, &theirs, nmse),
        max_rel_vs_cpu: worst(&ours, &cpu, max_rel),
        llama_max_rel_vs_llama_cpu: worst(&theirs, &theirs_cpu, max_rel),
        greedy_same_as_llama: same_prefix(&ours.greedy, &theirs.greedy),
        greedy_same_as_cpu: same_prefix(&ours.greedy, &cpu.greedy),
        greedy: args.greedy,
    };
    if args.json {
        println!("{}", serde_json::to_string(&row)?);
        return Ok(());
    }
    if args.header {
        println!("| placement | max rel vs libllama | NMSE vs libllama | max rel vs kchat CPU | libllama: max rel vs libllama CPU | greedy = libllama | greedy = kchat CPU |");
        println!("|---|---:|---:|---:|---:|---:|---:|");
    }
    println!(
        "| {} | {:.2e} | {:.2e} | {:.2e} | {:.2e} | {}/{} | {}/{} |",
        row.placement,
        row.max_rel_vs_llama,
        row.nmse_vs_llama,
        row.max_rel_vs_cpu,
        row.llama_max_rel_vs_llama_cpu,
        row.greedy_same_as_llama,
        row.greedy,
        row.greedy_same_as_cpu,
        row.greedy
    );
    Ok(())
}
