//! The presets of `kchat mkmodel`: gpt-oss hyper-parameters at four sizes,
//! and the tensor list (names, types, shapes, initial distributions) in the
//! layout of the user's real Q8_0 file.

use std::fmt;

use crate::ggml::GgmlType;
use crate::gguf::TensorSpec;
pub use crate::model::Hparams;

/// A synthetic model size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Preset {
    /// The real vocabulary and layer layout at a tiny width (tests).
    Tiny,
    /// The real width with 4 layers (CPU benchmarks).
    Small,
    /// The real depth (24 layers), experts (32, 4 used) and head grouping
    /// (8 query heads per KV head) at width 1024, ~1.8 GiB: GPU placement
    /// checks, where `-ngl 12` and `--n-cpu-moe 12` mean what they mean for
    /// the real model.
    Mid,
    /// The real size: 24 layers, ~21 GiB (GPU benchmarks).
    #[value(name = "20b")]
    B20,
}

impl Preset {
    /// The name used on the command line and in `general.name`.
    pub fn name(self) -> &'static str {
        match self {
            Preset::Tiny => "tiny",
            Preset::Small => "small",
            Preset::Mid => "mid",
            Preset::B20 => "20b",
        }
    }

    /// The preset's hyper-parameters.
    pub fn hparams(self) -> Hparams {
        let real = Hparams {
            n_vocab: 201_088,
            n_ctx: 131_072,
            n_layer: 24,
            n_embd: 2880,
            n_head: 64,
            n_head_kv: 8,
            head_dim: 64,
            n_expert: 32,
            n_expert_used: 4,
            n_ff_exp: 2880,
            n_swa: 128,
            rms_eps: 1e-5,
            rope_base: 150_000.0,
            rope_factor: 32.0,
            rope_orig_ctx: 4096,
            yarn_beta_fast: 32.0,
            yarn_beta_slow: 1.0,
        };
        match self {
            Preset::B20 => real,
            Preset::Small => Hparams { n_layer: 4, ..real },
            Preset::Mid => Hparams {
                n_embd: 1024,
                n_head: 16,
                n_head_kv: 2,
                n_ff_exp: 512,
                ..real
            },
            Preset::Tiny => Hparams {
                n_layer: 4,
                n_embd: 64,
                n_head: 8,
                n_head_kv: 2,
                n_expert: 4,
                n_expert_used: 2,
                n_ff_exp: 128,
                ..real
            },
        }
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How a tensor's values are drawn: `mean + std * z`, z roughly N(0, 1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Init {
    /// The centre.
    pub mean: f32,
    /// The spread.
    pub std: f32,
}

impl Init {
    /// Weights of a matrix product with rows of `fan_in`: N(0, 1/sqrt(fan_in)),
    /// which keeps unit-scale inputs at unit scale.
    pub fn matmul(fan_in: u32) -> Init {
        Init {
            mean: 0.0,
            std: 1.0 / (fan_in as f32).sqrt(),
        }
    }
    /// Norm weights: near 1.
    pub const NORM: Init = Init {
        mean: 1.0,
        std: 0.05,
    };
    /// Biases: small.
    pub const BIAS: Init = Init {
        mean: 0.0,
        std: 0.02,
    };
    /// Attention sinks: near 0.
    pub const SINK: Init = Init {
        mean: 0.0,
        std: 0.1,
    };
}

/// A tensor of the model with the distribution of its values.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedTensor {
    /// Name, type and shape.
    pub spec: TensorSpec,
    /// How the values are drawn.
    pub init: Init,
}

/// Every tensor of a gpt-oss model with these hyper-parameters, in file order.
pub fn tensor_plan(hp: &Hparams) -> Vec<PlannedTensor> {
    let (e, v) = (u64::from(hp.n_embd), u64::from(hp.n_vocab));
    let q = u64::from(hp.n_head * hp.head_dim);
    let kv = u64::from(hp.n_head_kv * hp.head_dim);
    let (ff, ne) = (u64::from(hp.n_ff_exp), u64::from(hp.n_expert));
    let mut out = Vec::with_capacity(3 + 19 * hp.n_layer as usize);
    let mut add = |name: String, ty: GgmlType, dims: &[u64], init: Init| {
        out.push(PlannedTensor {
            spec: TensorSpec::new(name, ty, dims),
            init,
        });
    };
    use GgmlType::{BF16, F32, Q8_0};
    // The embedding rows feed an RMS norm: unit scale keeps the residual
    // stream comparable to the attention and expert outputs.
    add(
        "token_embd.weight".into(),
        Q8_0,
        &[e, v],
        Init {
            mean: 0.0,
            std: 1.0,
        },
    );
    for il in 0..hp.n_layer {
        let b = |s: &str| format!("blk.{il}.{s}");
        add(b("attn_norm.weight"), F32, &[e], Init::NORM);
        add(b("attn_q.weight"), BF16, &[e, q], Init::matmul(hp.n_embd));
        add(b("attn_q.bias"), F32, &[q], Init::BIAS);
        add(b("attn_k.weight"), BF16, &[e, kv], Init::matmul(hp.n_embd));
        add(b("attn_k.bias"), F32, &[kv], Init::BIAS);
        add(b("attn_v.weight"), BF16, &[e, kv], Init::matmul(hp.n_embd));
        add(b("attn_v.bias"), F32, &[kv], Init::BIAS);
        add(
            b("attn_output.weight"),
            BF16,
            &[q, e],
            Init::matmul(hp.n_head * hp.head_dim),
        );
        add(b("attn_output.bias"), F32, &[e], Init::BIAS);
        add(
            b("attn_sinks.weight"),
            F32,
            &[u64::from(hp.n_head)],
            Init::SINK,
        );
        add(b("post_attention_norm.weight"), F32, &[e], Init::NORM);
        add(
            b("ffn_gate_inp.weight"),
            F32,
            &[e, ne],
            Init::matmul(hp.n_embd),
        );
        add(b("ffn_gate_inp.bias"), F32, &[ne], Init::BIAS);
        add(
            b("ffn_gate_exps.weight"),
            Q8_0,
            &[e, ff, ne],
            Init::matmul(hp.n_embd),
        );
        add(b("ffn_gate_exps.bias"), F32, &[ff, ne], Init::BIAS);
        add(
            b("ffn_up_exps.weight"),
            Q8_0,
            &[e, ff, ne],
            Init::matmul(hp.n_embd),
        );
        add(b("ffn_up_exps.bias"), F32, &[ff, ne], Init::BIAS);
        add(
            b("ffn_down_exps.weight"),
            Q8_0,
            &[ff, e, ne],
            Init::matmul(hp.n_ff_exp),
        );
        add(b("ffn_down_exps.bias"), F32, &[e, ne], Init::BIAS);
    }
    add("output_norm.weight".into(), F32, &[e], Init::NORM);
    add(
        "output.weight".into(),
        Q8_0,
        &[e, v],
        Init::matmul(hp.n_embd),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(p: Preset) -> u64 {
        tensor_plan(&p.hparams())
            .iter()
            .map(|t| t.spec.n_bytes().expect("valid shape"))
            .sum()
    }

    #[test]
    fn presets_have_the_documented_sizes() {
        let tiny = bytes(Preset::Tiny);
        assert!(tiny < 40_000_000, "tiny is {tiny} bytes");
        let small = bytes(Preset::Small);
        assert!(
            (4_500_000_000..5_000_000_000).contains(&small),
            "small is {small} bytes"
        );
        let mid = bytes(Preset::Mid) as f64 / (1u64 << 30) as f64;
        assert!((1.6..2.0).contains(&mid), "mid is {mid:.2} GiB");
        let big = bytes(Preset::B20) as f64 / (1u64 << 30) as f64;
        assert!((20.8..21.6).contains(&big), "20b is {big:.2} GiB");
    }

    #[test]
    fn plan_matches_the_gpt_oss_layout() {
        let hp = Preset::Small.hparams();
        let plan = tensor_plan(&hp);
        assert_eq!(plan.len(), 3 + 19 * 4);
        let find = |n: &str| {
            plan.iter()
                .find(|t| t.spec.name == n)
                .map(|t| &t.spec)
                .expect(n)
        };
        assert_eq!(
            find("blk.3.ffn_gate_exps.weight").dims,
            vec![2880, 2880, 32]
        );
        assert_eq!(find("blk.3.ffn_down_exps.bias").dims, vec![2880, 32]);
        assert_eq!(find("blk.0.attn_q.weight").dims, vec![2880, 4096]);
        assert_eq!(find("blk.0.attn_q.weight").ty, GgmlType::BF16);
        assert_eq!(find("blk.0.attn_k.weight").dims, vec![2880, 512]);
        assert_eq!(find("blk.0.attn_output.weight").dims, vec![4096, 2880]);
        assert_eq!(find("blk.0.attn_sinks.weight").dims, vec![64]);
        assert_eq!(find("output.weight").dims, vec![2880, 201_088]);
        assert_eq!(find("output.weight").ty, GgmlType::Q8_0);
        for t in &plan {
            assert!(
                t.spec.n_bytes().is_some(),
                "{} has whole blocks",
                t.spec.name
            );
        }
        let tiny = Preset::Tiny.hparams();
        assert_eq!(tiny.head_dim, 64);
        assert_eq!(tiny.n_embd % 32, 0);
        assert!(tiny.n_layer >= 2, "both sliding and full layers");
    }
}
