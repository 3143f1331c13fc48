//! gpt-oss hyper-parameters: read from a GGUF file's `gpt-oss.*` keys,
//! checked for consistency, and the derived values the graph uses (RoPE with
//! YaRN, sliding-window layers).

use std::fmt;

use crate::ggml::nn::{RopeParams, ROPE_NEOX};
use crate::gguf::GgufModel;

use super::ModelError;

/// The architecture name kchat runs.
pub const ARCH: &str = "gpt-oss";

/// gpt-oss hyper-parameters, as written to the `gpt-oss.*` keys.
#[derive(Debug, Clone, PartialEq)]
pub struct Hparams {
    /// Vocabulary size (rows of `token_embd` and `output`).
    pub n_vocab: u32,
    /// Training context length.
    pub n_ctx: u32,
    /// Number of transformer blocks.
    pub n_layer: u32,
    /// Hidden width.
    pub n_embd: u32,
    /// Query heads.
    pub n_head: u32,
    /// Key/value heads.
    pub n_head_kv: u32,
    /// Width of one head (keys and values).
    pub head_dim: u32,
    /// Experts per layer.
    pub n_expert: u32,
    /// Experts used per token.
    pub n_expert_used: u32,
    /// Width of one expert's feed-forward layer.
    pub n_ff_exp: u32,
    /// Sliding-window length of the sliding layers.
    pub n_swa: u32,
    /// RMS norm epsilon.
    pub rms_eps: f32,
    /// RoPE base frequency.
    pub rope_base: f32,
    /// YaRN context scaling factor.
    pub rope_factor: f32,
    /// The context length YaRN scales from.
    pub rope_orig_ctx: u32,
    /// YaRN high-frequency boundary.
    pub yarn_beta_fast: f32,
    /// YaRN low-frequency boundary.
    pub yarn_beta_slow: f32,
}

impl fmt::Display for Hparams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "layers {}, width {}, heads {}/{} x {}, experts {} (use {}), expert width {}, vocab {}, context {}, \
             sliding window {}, rope base {} yarn x{} from {}",
            self.n_layer,
            self.n_embd,
            self.n_head,
            self.n_head_kv,
            self.head_dim,
            self.n_expert,
            self.n_expert_used,
            self.n_ff_exp,
            self.n_vocab,
            self.n_ctx,
            self.n_swa,
            self.rope_base,
            self.rope_factor,
            self.rope_orig_ctx
        )
    }
}

impl Hparams {
    /// Reads the hyper-parameters of a gpt-oss GGUF file. Any other
    /// architecture, a missing key, or inconsistent values are errors that
    /// name the file and the key.
    pub fn from_gguf(model: &GgufModel) -> Result<Hparams, ModelError> {
        let arch = model.get_str("general.architecture")?;
        if arch != ARCH {
            return Err(ModelError::Architecture {
                path: model.path().to_owned(),
                arch: arch.to_owned(),
            });
        }
        let u = |k: &str| model.get_u32(&format!("{ARCH}.{k}"));
        let f = |k: &str| model.get_f32(&format!("{ARCH}.{k}"));
        let opt_f = |k: &str, d: f32| -> Result<f32, ModelError> {
            Ok(model.get_opt::<f32>(&format!("{ARCH}.{k}"))?.unwrap_or(d))
        };
        let n_vocab = model.get_str_array("tokenizer.ggml.tokens")?.len() as u32;
        let scaling = model.get_opt::<&str>(&format!("{ARCH}.rope.scaling.type"))?;
        let rope_factor = match scaling {
            None | Some("none") => 1.0,
            Some("yarn") => opt_f("rope.scaling.factor", 1.0)?,
            Some(other) => {
                return Err(ModelError::Invalid {
                    path: model.path().to_owned(),
                    what: format!("rope.scaling.type '{other}' (gpt-oss uses 'yarn')"),
                })
            }
        };
        let head_dim = u("attention.key_length")?;
        let hp = Hparams {
            n_vocab,
            n_ctx: u("context_length")?,
            n_layer: u("block_count")?,
            n_embd: u("embedding_length")?,
            n_head: u("attention.head_count")?,
            n_head_kv: u("attention.head_count_kv")?,
            head_dim,
            n_expert: u("expert_count")?,
            n_expert_used: u("expert_used_count")?,
            n_ff_exp: u("expert_feed_forward_length")?,
            n_swa: u("attention.sliding_window")?,
            rms_eps: f("attention.layer_norm_rms_epsilon")?,
            rope_base: f("rope.freq_base")?,
            rope_factor,
            rope_orig_ctx: model
                .get_opt::<u32>(&format!("{ARCH}.rope.scaling.original_context_length"))?
                .unwrap_or(4096),
            yarn_beta_fast: opt_f("rope.scaling.yarn_beta_fast", 32.0)?,
            yarn_beta_slow: opt_f("rope.scaling.yarn_beta_slow", 1.0)?,
        };
        let value_len = u("attention.value_length")?;
        hp.validate(value_len).map_err(|what| ModelError::Invalid {
            path: model.path().to_owned(),
            what,
        })?;
        Ok(hp)
    }

    /// Checks the values against each other and against what the graph
    /// supports; the message names the offending key.
    fn validate(&self, value_len: u32) -> Result<(), String> {
        let positive = [
            ("block_count", self.n_layer),
            ("embedding_length", self.n_embd),
            ("attention.head_count", self.n_head),
            ("attention.head_count_kv", self.n_head_kv),
            ("attention.key_length", self.head_dim),
            ("expert_count", self.n_expert),
            ("expert_used_count", self.n_expert_used),
            ("expert_feed_forward_length", self.n_ff_exp),
            ("context_length", self.n_ctx),
            ("attention.sliding_window", self.n_swa),
            ("tokenizer.ggml.tokens (vocabulary size)", self.n_vocab),
        ];
        if let Some((k, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return Err(format!("{k} is 0"));
        }
        if self.n_layer > 512 || self.n_embd > 1 << 16 || self.n_expert > 1024 {
            return Err(format!(
                "implausible sizes: {} layers, width {}, {} experts",
                self.n_layer, self.n_embd, self.n_expert
            ));
        }
        if value_len != self.head_dim {
            return Err(format!(
                "attention.value_length {value_len} differs from key_length {}",
                self.head_dim
            ));
        }
        if self.n_head % self.n_head_kv != 0 {
            return Err(format!(
                "attention.head_count {} is not a multiple of head_count_kv {}",
                self.n_head, self.n_head_kv
            ));
        }
        if self.n_expert_used > self.n_expert {
            return Err(format!(
                "expert_used_count {} exceeds expert_count {}",
                self.n_expert_used, self.n_expert
            ));
        }
        if self.head_dim % 2 != 0 {
            return Err(format!("attention.key_length {} is odd", self.head_dim));
        }
        let finite_pos = |v: f32| v.is_finite() && v > 0.0;
        if !finite_pos(self.rms_eps) || !finite_pos(self.rope_base) || !finite_pos(self.rope_factor)
        {
            return Err(
                "rms epsilon, rope.freq_base and rope.scaling.factor must be positive".into(),
            );
        }
        Ok(())
    }

    /// Whether layer `il` attends within the sliding window (even layers).
    pub fn is_swa(&self, il: u32) -> bool {
        il % 2 == 0
    }

    /// Width of the keys (and values) of one token in one layer.
    pub fn n_embd_kv(&self) -> u32 {
        self.n_head_kv * self.head_dim
    }

    /// RoPE parameters as llama.cpp derives them for YaRN: extrapolation mix 1,
    /// and a magnitude factor whose YaRN part cancels (ggml's kernel applies
    /// the correction itself), computed in the same f32 steps.
    pub fn rope(&self) -> RopeParams {
        let yarn = self.rope_factor != 1.0;
        let freq_scale = 1.0 / self.rope_factor;
        let attn_factor = if yarn {
            let factor = 1.0 / freq_scale;
            let mscale = 0.1f32 * factor.ln() + 1.0;
            mscale * (1.0f32 / (1.0f32 + 0.1f32 * factor.ln()))
        } else {
            1.0
        };
        RopeParams {
            n_dims: self.head_dim as i32,
            mode: ROPE_NEOX,
            n_ctx_orig: self.rope_orig_ctx as i32,
            freq_base: self.rope_base,
            freq_scale,
            ext_factor: if yarn { 1.0 } else { 0.0 },
            attn_factor,
            beta_fast: self.yarn_beta_fast,
            beta_slow: self.yarn_beta_slow,
        }
    }
}
