//! Where each tensor lives, with llama.cpp's flag meanings: `-ngl N` counts
//! the output layer as the last layer, so it puts the output layer and the
//! last N - 1 repeating layers on the first GPU (`-ngl 1`: the output layer
//! alone; all layers from `-ngl n_layer+1` on); `--n-cpu-moe N` keeps the
//! expert tensors of the first N layers in host memory. The token embedding
//! always stays on the CPU.
//!
//! [`MemoryPlan`] adds up what each device needs before anything is
//! allocated, and turns a plan that does not fit into a message with flags
//! that would.

use std::fmt;

use crate::engine::EngineOptions;

use super::Hparams;

/// The device a tensor lives on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Where {
    /// Host memory (for weights: the mmap itself).
    Cpu,
    /// The first GPU.
    Gpu,
}

/// The placement of a model's layers, decided from the options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    /// Repeating layers of the model.
    pub n_layer: u32,
    /// Repeating layers on the GPU (the last ones), at most `n_layer`.
    pub gpu_layers: u32,
    /// Whether the output norm and head are on the GPU.
    pub output_on_gpu: bool,
    /// The first layers whose experts stay in host memory, at most `n_layer`.
    pub cpu_moe_layers: u32,
}

impl Placement {
    /// The placement `opts` asks for. Without a GPU everything is on the CPU;
    /// an explicit `-ngl` above 0 then yields a one-line notice.
    pub fn new(n_layer: u32, opts: &EngineOptions, has_gpu: bool) -> (Placement, Option<String>) {
        let cpu_moe_layers = opts.n_cpu_moe.min(n_layer);
        if !has_gpu {
            let notice = match opts.n_gpu_layers {
                Some(n) if n > 0 => Some(format!(
                    "no GPU found: ignoring -ngl {n}, running on the CPU"
                )),
                _ => None,
            };
            let p = Placement {
                n_layer,
                gpu_layers: 0,
                output_on_gpu: false,
                cpu_moe_layers,
            };
            return (p, notice);
        }
        // llama.cpp: layers from i_gpu_start = n_layer + 1 - ngl on, the
        // output layer being layer n_layer.
        let ngl = opts.n_gpu_layers.unwrap_or(u32::MAX);
        let p = Placement {
            n_layer,
            gpu_layers: ngl.saturating_sub(1).min(n_layer),
            output_on_gpu: ngl >= 1,
            cpu_moe_layers,
        };
        (p, None)
    }

    /// The device of layer `il`'s attention and norms (and its KV cache).
    pub fn layer(&self, il: u32) -> Where {
        if il + self.gpu_layers >= self.n_layer && self.gpu_layers > 0 {
            Where::Gpu
        } else {
            Where::Cpu
        }
    }

    /// The device of layer `il`'s expert tensors (weights and biases).
    pub fn experts(&self, il: u32) -> Where {
        if il < self.cpu_moe_layers {
            Where::Cpu
        } else {
            self.layer(il)
        }
    }

    /// The device of the output norm and head.
    pub fn output(&self) -> Where {
        if self.output_on_gpu {
            Where::Gpu
        } else {
            Where::Cpu
        }
    }

    /// The device of the tensor called `name`.
    pub fn of_tensor(&self, name: &str) -> Where {
        let Some(rest) = name.strip_prefix("blk.") else {
            return match name {
                "output.weight" | "output_norm.weight" => self.output(),
                _ => Where::Cpu,
            };
        };
        let (il, suffix) = rest.split_once('.').unwrap_or((rest, ""));
        let Ok(il) = il.parse::<u32>() else {
            return Where::Cpu;
        };
        if suffix.contains("_exps") {
            self.experts(il)
        } else {
            self.layer(il)
        }
    }

    /// Whether anything is on the GPU.
    pub fn uses_gpu(&self) -> bool {
        self.gpu_layers > 0 || self.output_on_gpu
    }
}

impl fmt::Display for Placement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.uses_gpu() {
            return f.write_str("all layers on the CPU");
        }
        write!(f, "{}/{} layers on the GPU", self.gpu_layers, self.n_layer)?;
        if self.output_on_gpu {
            f.write_str(" + output")?;
        }
        let gpu_first = self.n_layer - self.gpu_layers;
        let cpu_experts = self.cpu_moe_layers.saturating_sub(gpu_first);
        if cpu_experts > 0 {
            write!(f, ", experts of {cpu_experts} of them in host memory")?;
        }
        Ok(())
    }
}

/// Bytes a device needs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeviceBytes {
    /// Weights (0 for CPU weights used from the mmap).
    pub weights: u64,
    /// KV cache.
    pub kv: u64,
    /// Compute buffers (an estimate until the graph is reserved).
    pub compute: u64,
}

impl DeviceBytes {
    /// The sum.
    pub fn total(&self) -> u64 {
        self.weights + self.kv + self.compute
    }
}

/// What each device needs for a placement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryPlan {
    /// Host memory beyond the mapped weights.
    pub host: DeviceBytes,
    /// Mapped weight bytes used by the CPU (page cache, not counted above).
    pub host_mapped: u64,
    /// The GPU.
    pub gpu: DeviceBytes,
}

/// The cells of a sliding-window layer's KV ring: the window plus one
/// micro-batch, rounded up to 256, never more than the context.
pub fn swa_cells(hp: &Hparams, n_ctx: u32, n_ubatch: u32) -> u32 {
    round_up(hp.n_swa + n_ubatch, 256).min(n_ctx)
}

/// The context actually used: `n_ctx` (0: the trained context), rounded up to
/// 256 cells and at most what the model was trained for.
pub fn effective_ctx(hp: &Hparams, n_ctx: u32) -> u32 {
    let want = if n_ctx == 0 { hp.n_ctx } else { n_ctx };
    round_up(want, 256).min(hp.n_ctx).max(1)
}

/// `v` rounded up to a multiple of `m`.
pub fn round_up(v: u32, m: u32) -> u32 {
    v.div_ceil(m) * m
}

impl MemoryPlan {
    /// Adds up weights, KV cache and an estimate of the compute buffers.
    /// `tensor_bytes` yields (name, bytes) of every weight.
    pub fn new<'a>(
        hp: &Hparams,
        placement: &Placement,
        opts: &EngineOptions,
        tensor_bytes: impl Iterator<Item = (&'a str, u64)>,
    ) -> MemoryPlan {
        let mut plan = MemoryPlan {
            host: DeviceBytes::default(),
            host_mapped: 0,
            gpu: DeviceBytes::default(),
        };
        for (name, bytes) in tensor_bytes {
            match placement.of_tensor(name) {
                Where::Cpu => plan.host_mapped += bytes,
                Where::Gpu => plan.gpu.weights += bytes,
            }
        }
        let n_ctx = effective_ctx(hp, opts.n_ctx);
        let cell_bytes = 2 * u64::from(hp.n_embd_kv()) * 2; // K and V, f16
        for il in 0..hp.n_layer {
            let cells = if hp.is_swa(il) && !opts.swa_full {
                swa_cells(hp, n_ctx, opts.n_ubatch)
            } else {
                n_ctx
            };
            let kv = u64::from(cells) * cell_bytes;
            match placement.layer(il) {
                Where::Cpu => plan.host.kv += kv,
                Where::Gpu => plan.gpu.kv += kv,
            }
        }
        let ub = u64::from(opts.n_ubatch);
        let per_token = 4
            * (8 * u64::from(hp.n_embd)
                + 4 * u64::from(hp.n_expert_used * hp.n_ff_exp)
                + 4 * u64::from(hp.n_head * hp.head_dim)
                + 2 * u64::from(hp.n_expert));
        let scores = if opts.flash_attn == crate::engine::FlashAttn::Off {
            4 * u64::from(hp.n_head) * u64::from(n_ctx) * ub
        } else {
            0
        };
        let layers_compute = ub * per_token + scores;
        let logits = 4 * u64::from(hp.n_vocab) * ub;
        if placement.uses_gpu() {
            plan.gpu.compute = layers_compute + if placement.output_on_gpu { logits } else { 0 };
        }
        plan.host.compute = layers_compute + logits;
        plan
    }

    /// `Err(message)` when the GPU needs more than `gpu_free` bytes or the
    /// host more than `host_free`. The message gives the numbers; the caller
    /// adds suggestions.
    pub fn check(&self, gpu_free: u64, host_free: u64) -> Result<(), String> {
        if self.gpu.total() > gpu_free {
            return Err(format!(
                "the GPU needs {} (weights {}, KV cache {}, compute {}) but has {} free",
                gib(self.gpu.total()),
                gib(self.gpu.weights),
                gib(self.gpu.kv),
                gib(self.gpu.compute),
                gib(gpu_free)
            ));
        }
        if self.host.total() > host_free {
            return Err(format!(
                "host memory needs {} (KV cache {}, compute {}) besides the mapped weights, but {} is available",
                gib(self.host.total()),
                gib(self.host.kv),
                gib(self.host.compute),
                gib(host_free)
            ));
        }
        Ok(())
    }
}

/// Bytes as GiB with two decimals.
pub fn gib(b: u64) -> String {
    format!("{:.2} GiB", b as f64 / (1u64 << 30) as f64)
}

/// Flag values that would fit, for a placement that does not: the largest
/// `-ngl`, the smallest `--n-cpu-moe` with every layer on the GPU, and the
/// largest `-c` (halving) with the asked placement. `fits` tells whether
/// options fit.
pub fn suggestions(
    hp: &Hparams,
    opts: &EngineOptions,
    fits: impl Fn(&EngineOptions) -> bool,
) -> Vec<String> {
    let mut out = Vec::new();
    let with = |f: &dyn Fn(&mut EngineOptions)| {
        let mut o = opts.clone();
        f(&mut o);
        o
    };
    if let Some(ngl) = (0..=hp.n_layer + 1)
        .rev()
        .find(|&n| fits(&with(&|o| o.n_gpu_layers = Some(n))))
    {
        if ngl > 0 {
            out.push(format!("-ngl {ngl}"));
        }
    }
    if let Some(n) = (1..=hp.n_layer).find(|&n| {
        fits(&with(&|o| {
            o.n_gpu_layers = Some(999);
            o.n_cpu_moe = n;
        }))
    }) {
        out.push(if n == hp.n_layer {
            "-ngl 999 --cpu-moe".to_owned()
        } else {
            format!("-ngl 999 --n-cpu-moe {n}")
        });
    }
    let mut c = effective_ctx(hp, opts.n_ctx) / 2;
    while c >= 1024 {
        if fits(&with(&|o| o.n_ctx = c)) {
            out.push(format!("-c {c}"));
            break;
        }
        c /= 2;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mkmodel::Preset;

    fn opts(ngl: Option<u32>, cpu_moe: u32) -> EngineOptions {
        EngineOptions {
            n_gpu_layers: ngl,
            n_cpu_moe: cpu_moe,
            ..EngineOptions::default()
        }
    }

    #[test]
    fn ngl_counts_the_output_layer_first_as_llama_cpp_does() {
        // llama.cpp: i_gpu_start = n_layer + 1 - ngl, the output is layer 24.
        let (p, _) = Placement::new(24, &opts(Some(12), 0), true);
        assert_eq!(p.layer(12), Where::Cpu);
        assert_eq!(p.layer(13), Where::Gpu);
        assert_eq!(p.output(), Where::Gpu);
        let (p, _) = Placement::new(24, &opts(Some(1), 0), true);
        assert_eq!((p.gpu_layers, p.output()), (0, Where::Gpu));
        assert_eq!(p.layer(23), Where::Cpu);
        let (p, _) = Placement::new(24, &opts(Some(24), 0), true);
        assert_eq!(
            (p.layer(0), p.layer(1), p.output()),
            (Where::Cpu, Where::Gpu, Where::Gpu)
        );
        let (p, _) = Placement::new(24, &opts(Some(25), 0), true);
        assert_eq!((p.layer(0), p.output()), (Where::Gpu, Where::Gpu));
        let (p, _) = Placement::new(24, &opts(Some(0), 0), true);
        assert!(!p.uses_gpu());
        assert_eq!(p.of_tensor("blk.23.attn_q.weight"), Where::Cpu);
        let (p, _) = Placement::new(24, &opts(None, 0), true);
        assert_eq!((p.gpu_layers, p.output_on_gpu), (24, true));
        assert_eq!(p.of_tensor("token_embd.weight"), Where::Cpu);
    }

    #[test]
    fn cpu_moe_keeps_experts_of_the_first_layers_on_the_host() {
        let (p, _) = Placement::new(24, &opts(Some(999), 12), true);
        assert_eq!(p.of_tensor("blk.11.ffn_up_exps.weight"), Where::Cpu);
        assert_eq!(p.of_tensor("blk.11.ffn_up_exps.bias"), Where::Cpu);
        assert_eq!(p.of_tensor("blk.11.ffn_gate_inp.weight"), Where::Gpu);
        assert_eq!(p.of_tensor("blk.12.ffn_down_exps.weight"), Where::Gpu);
        assert_eq!(
            p.to_string(),
            "24/24 layers on the GPU + output, experts of 12 of them in host memory"
        );
        let (p, _) = Placement::new(24, &opts(Some(999), u32::MAX), true);
        assert_eq!(p.experts(23), Where::Cpu);
        assert_eq!(p.layer(23), Where::Gpu);
    }

    #[test]
    fn no_gpu_ignores_ngl_with_a_notice_only_when_asked() {
        let (p, notice) = Placement::new(24, &opts(Some(999), 0), false);
        assert!(!p.uses_gpu());
        assert!(notice.expect("notice").contains("-ngl 999"));
        assert!(Placement::new(24, &opts(None, 0), false).1.is_none());
        assert!(Placement::new(24, &opts(Some(0), 0), false).1.is_none());
    }

    #[test]
    fn memory_plan_and_suggestions_for_the_20b_on_a_small_gpu() {
        let hp = Preset::B20.hparams();
        let plan_tensors: Vec<(String, u64)> = crate::mkmodel::preset::tensor_plan(&hp)
            .into_iter()
            .map(|t| {
                let n = t.spec.n_bytes().unwrap_or(0);
                (t.spec.name, n)
            })
            .collect();
        let plan = |o: &EngineOptions| {
            let (p, _) = Placement::new(hp.n_layer, o, true);
            MemoryPlan::new(
                &hp,
                &p,
                o,
                plan_tensors.iter().map(|(n, b)| (n.as_str(), *b)),
            )
        };
        let o = opts(Some(999), 0);
        let full = plan(&o);
        assert!(full.gpu.weights > 20 << 30, "{full:?}");
        assert_eq!(
            full.host_mapped,
            201_088 * 2880 / 32 * 34,
            "only token_embd mapped"
        );
        // A 12 GiB laptop GPU: all layers cannot fit.
        let gpu_free = 12u64 << 30;
        let err = full
            .check(gpu_free, 64 << 30)
            .expect_err("20b does not fit 12 GiB");
        assert!(err.contains("the GPU needs"), "{err}");
        let fits = |o: &EngineOptions| plan(o).check(gpu_free, 64 << 30).is_ok();
        let s = suggestions(&hp, &o, fits);
        assert!(
            s.iter()
                .any(|x| x.starts_with("-ngl ") && !x.contains("999")),
            "{s:?}"
        );
        let moe = s
            .iter()
            .find(|x| x.contains("--n-cpu-moe"))
            .expect("n-cpu-moe suggestion");
        let n: u32 = moe
            .rsplit(' ')
            .next()
            .and_then(|v| v.parse().ok())
            .expect("number");
        assert!(
            fits(&opts(Some(999), n)) && !fits(&opts(Some(999), n - 1)),
            "{moe}"
        );
        // The KV cache: 12 full layers x 8192 cells + 12 rings of 768 cells.
        assert_eq!(full.gpu.kv, (12 * 8192 + 12 * 768) * 2 * 512 * 2);
    }
}
