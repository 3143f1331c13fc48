//! How a model is run: placement (`-ngl`, `--n-cpu-moe`), context and batch
//! sizes, threads and flash attention, with llama.cpp's flag meanings. The
//! clap flags live in [`ModelArgs`], shared by `run`, `bench` and the chat.

use std::fmt;

/// Whether attention uses ggml's fused flash-attention op.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum FlashAttn {
    /// Use it where every attention op's backend supports it.
    #[default]
    Auto,
    /// Always use it (an error where a backend cannot).
    On,
    /// Never: soft_max and two matrix products.
    Off,
}

impl fmt::Display for FlashAttn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FlashAttn::Auto => "auto",
            FlashAttn::On => "on",
            FlashAttn::Off => "off",
        })
    }
}

/// Everything that decides how a model is placed and run.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineOptions {
    /// Repeating layers on the first GPU, counted from the last; above the
    /// layer count the output layer goes too. `None`: everything on the GPU
    /// when there is one (llama.cpp's 999), CPU otherwise, silently.
    pub n_gpu_layers: Option<u32>,
    /// The expert tensors of the first N layers stay in host memory
    /// (`u32::MAX` for all: `--cpu-moe`).
    pub n_cpu_moe: u32,
    /// Context length in tokens (0: what the model was trained for).
    pub n_ctx: u32,
    /// Logical batch: tokens handed to one `prefill` step.
    pub n_batch: u32,
    /// Micro-batch: tokens per graph evaluation.
    pub n_ubatch: u32,
    /// CPU threads.
    pub n_threads: usize,
    /// Flash attention.
    pub flash_attn: FlashAttn,
    /// Sliding-window layers cache the whole context instead of a ring
    /// (more memory; any prefix can then be reused).
    pub swa_full: bool,
    /// Let the GPU run matrix products of host-memory weights for large
    /// batches (llama.cpp's default; `--no-op-offload` turns it off).
    pub op_offload: bool,
    /// Keep host-memory weights memory-mapped instead of copying them into
    /// the GPU's pinned host memory (llama.cpp's `--no-host`). Pinned
    /// weights reach the GPU faster when large batches are offloaded; mapped
    /// ones cost no anonymous memory and no copy at load.
    pub no_host: bool,
    /// Keep a built graph and compute it again while its shape holds (the
    /// steady decode step); off rebuilds every micro-batch (a diagnostic).
    pub graph_reuse: bool,
}

/// The default CPU thread count: the available cores, at most 16.
pub fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(4)
        .clamp(1, 16)
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            n_gpu_layers: None,
            n_cpu_moe: 0,
            n_ctx: 8192,
            n_batch: 2048,
            n_ubatch: 512,
            n_threads: default_threads(),
            flash_attn: FlashAttn::Auto,
            swa_full: false,
            op_offload: true,
            no_host: false,
            graph_reuse: true,
        }
    }
}

/// The model and placement flags of llama-cli, shared by every command that
/// runs a model. llama.cpp's single-dash long flags (`-ngl`, `-fa`, `-ub`)
/// are rewritten to their `--` form by [`llama_style_args`] before parsing.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Model and placement (llama.cpp's flags)")]
pub struct ModelArgs {
    /// Model file (the first shard of a split model).
    #[arg(short = 'm', long = "model", value_name = "FILE")]
    pub model: std::path::PathBuf,
    /// Layers on the GPU, counted from the last, the output layer first
    /// (999: all; 0: weights stay in host memory). Default: all when a GPU
    /// is found.
    #[arg(long = "n-gpu-layers", visible_alias = "ngl", value_name = "N")]
    pub n_gpu_layers: Option<u32>,
    /// Keep the expert tensors of the first N layers in host memory.
    #[arg(long = "n-cpu-moe", value_name = "N", default_value_t = 0)]
    pub n_cpu_moe: u32,
    /// Keep every layer's expert tensors in host memory.
    #[arg(long = "cpu-moe")]
    pub cpu_moe: bool,
    /// Context size in tokens (0: the model's trained context).
    #[arg(
        short = 'c',
        long = "ctx-size",
        value_name = "N",
        default_value_t = 8192
    )]
    pub ctx_size: u32,
    /// Logical batch size for prompt processing.
    #[arg(
        short = 'b',
        long = "batch-size",
        value_name = "N",
        default_value_t = 2048
    )]
    pub batch_size: u32,
    /// Micro-batch size (tokens per graph evaluation).
    #[arg(
        long = "ubatch-size",
        visible_alias = "ub",
        value_name = "N",
        default_value_t = 512
    )]
    pub ubatch_size: u32,
    /// CPU threads (default: available cores, at most 16).
    #[arg(short = 't', long = "threads", value_name = "N")]
    pub threads: Option<usize>,
    /// Flash attention.
    #[arg(long = "flash-attn", visible_alias = "fa", value_name = "WHEN", default_value_t = FlashAttn::Auto)]
    pub flash_attn: FlashAttn,
    /// Sliding-window layers cache the whole context, not just the window
    /// (more memory; lets any earlier prefix be reused).
    #[arg(long = "swa-full")]
    pub swa_full: bool,
    /// Never copy host-memory weights to the GPU for large batches (with
    /// `-ngl 0`: the GPU is not used at all).
    #[arg(long = "no-op-offload")]
    pub no_op_offload: bool,
    /// Keep host-memory weights memory-mapped rather than in the GPU's
    /// pinned host memory (less memory, slower offloaded prompts).
    #[arg(long = "no-host")]
    pub no_host: bool,
    /// Rebuild and re-plan the graph for every micro-batch (diagnostic).
    #[arg(long = "no-graph-reuse", hide = true)]
    pub no_graph_reuse: bool,
}

impl ModelArgs {
    /// The engine options these flags ask for.
    pub fn options(&self) -> EngineOptions {
        EngineOptions {
            n_gpu_layers: self.n_gpu_layers,
            n_cpu_moe: if self.cpu_moe {
                u32::MAX
            } else {
                self.n_cpu_moe
            },
            n_ctx: self.ctx_size,
            n_batch: self.batch_size.max(1),
            n_ubatch: self.ubatch_size.max(1).min(self.batch_size.max(1)),
            n_threads: self.threads.unwrap_or_else(default_threads).max(1),
            flash_attn: self.flash_attn,
            swa_full: self.swa_full,
            op_offload: !self.no_op_offload,
            no_host: self.no_host,
            graph_reuse: !self.no_graph_reuse,
        }
    }
}

/// Sampling flags, with llama-cli's names; defaults follow the gpt-oss model
/// card (temperature 1.0, top-p 1.0).
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Sampling")]
pub struct SamplerArgs {
    /// Temperature (0: greedy).
    #[arg(long = "temp", value_name = "T", default_value_t = 1.0)]
    pub temp: f32,
    /// Keep the K most likely tokens (0: off).
    #[arg(long = "top-k", value_name = "K", default_value_t = 0)]
    pub top_k: usize,
    /// Keep the smallest set of tokens with probability mass P (1.0: off).
    #[arg(long = "top-p", value_name = "P", default_value_t = 1.0)]
    pub top_p: f32,
    /// Drop tokens less likely than P times the most likely (0: off).
    #[arg(long = "min-p", value_name = "P", default_value_t = 0.0)]
    pub min_p: f32,
    /// Penalise tokens seen in the last `--repeat-last-n` (1.0: off).
    #[arg(long = "repeat-penalty", value_name = "X", default_value_t = 1.0)]
    pub repeat_penalty: f32,
    /// How many recent tokens the repetition penalty looks at.
    #[arg(long = "repeat-last-n", value_name = "N", default_value_t = 64)]
    pub repeat_last_n: usize,
    /// Random seed (the same seed gives the same text); default: from the clock.
    #[arg(short = 's', long = "seed", value_name = "N")]
    pub seed: Option<u64>,
}

impl SamplerArgs {
    /// The sampler configuration these flags ask for.
    pub fn config(&self) -> super::SamplerConfig {
        let seed = self.seed.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0x5eed)
        });
        super::SamplerConfig {
            temperature: self.temp,
            top_k: self.top_k,
            top_p: self.top_p,
            min_p: self.min_p,
            repeat_penalty: self.repeat_penalty,
            repeat_last_n: self.repeat_last_n,
            seed,
        }
    }
}

/// llama.cpp's single-dash long flags and the `--` spelling clap knows.
const SINGLE_DASH: &[(&str, &str)] = &[
    ("-ngl", "--ngl"),
    ("-fa", "--fa"),
    ("-ub", "--ub"),
    ("-sys", "--sys"),
    ("-ncmoe", "--n-cpu-moe"),
];

/// Rewrites llama.cpp's single-dash long flags (`-ngl 999`, `-fa on`,
/// `-ub=512`) to `--` form so clap can parse them; everything else passes
/// through untouched, including anything after `--`.
pub fn llama_style_args(
    args: impl IntoIterator<Item = std::ffi::OsString>,
) -> Vec<std::ffi::OsString> {
    let mut out = Vec::new();
    let mut rest = false;
    for a in args {
        if rest {
            out.push(a);
            continue;
        }
        let rewritten = a.to_str().and_then(|s| {
            if s == "--" {
                return None;
            }
            SINGLE_DASH.iter().find_map(|(short, long)| {
                if s == *short {
                    Some(std::ffi::OsString::from(*long))
                } else {
                    s.strip_prefix(short)
                        .and_then(|v| v.strip_prefix('='))
                        .map(|v| std::ffi::OsString::from(format!("{long}={v}")))
                }
            })
        });
        if a == "--" {
            rest = true;
        }
        out.push(rewritten.unwrap_or(a));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<std::ffi::OsString> {
        v.iter().map(Into::into).collect()
    }

    #[test]
    fn rewrites_llama_single_dash_flags_only() {
        let got = llama_style_args(os(&[
            "kchat", "-m", "x", "-ngl", "999", "-fa=on", "-n", "5", "--", "-ngl",
        ]));
        assert_eq!(
            got,
            os(&["kchat", "-m", "x", "--ngl", "999", "--fa=on", "-n", "5", "--", "-ngl"])
        );
    }

    #[test]
    fn cpu_moe_and_batch_clamps() {
        #[derive(clap::Parser)]
        struct T {
            #[command(flatten)]
            m: ModelArgs,
        }
        let t = <T as clap::Parser>::parse_from(llama_style_args(os(&[
            "t",
            "-m",
            "f",
            "--cpu-moe",
            "-b",
            "64",
            "-ub",
            "512",
            "-ngl",
            "3",
        ])));
        let o = t.m.options();
        assert_eq!(o.n_cpu_moe, u32::MAX);
        assert_eq!((o.n_batch, o.n_ubatch), (64, 64));
        assert_eq!(o.n_gpu_layers, Some(3));
        assert_eq!(o.n_ctx, 8192);
    }
}
