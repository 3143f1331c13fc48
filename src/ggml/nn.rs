//! The neural-network ops gpt-oss needs: rotary embeddings with YaRN,
//! attention (fused flash attention or softmax) with per-head sinks, and the
//! mixture-of-experts ops (top-k routing, indexed matrix products and biases,
//! the clamped SwiGLU).

use super::context::{Context, Tensor};

/// ggml's NeoX rope mode: rotate the two halves of each head (gpt-oss).
pub const ROPE_NEOX: i32 = ggml_sys::GGML_ROPE_TYPE_NEOX as i32;

/// RoPE parameters, as ggml's `rope_ext` takes them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RopeParams {
    /// Rotated dimensions per head.
    pub n_dims: i32,
    /// ggml's rope mode (2: NeoX, rotate halves).
    pub mode: i32,
    /// The context length YaRN scales from.
    pub n_ctx_orig: i32,
    /// Base frequency.
    pub freq_base: f32,
    /// 1 / the context scaling factor.
    pub freq_scale: f32,
    /// YaRN extrapolation mix (1 with YaRN, 0 without).
    pub ext_factor: f32,
    /// Magnitude scale.
    pub attn_factor: f32,
    /// YaRN high-frequency boundary.
    pub beta_fast: f32,
    /// YaRN low-frequency boundary.
    pub beta_slow: f32,
}

impl Context {
    /// Rotary position embedding of `a` ([head_dim, heads, tokens]) at the I32
    /// positions `pos` ([tokens]).
    pub fn rope_ext<'c>(&'c self, a: Tensor<'c>, pos: Tensor<'c>, p: &RopeParams) -> Tensor<'c> {
        // SAFETY: tensors share or outlive this context; no frequency factors.
        Tensor::from_raw(unsafe {
            ggml_sys::ggml_rope_ext(
                self.raw(),
                a.raw(),
                pos.raw(),
                std::ptr::null_mut(),
                p.n_dims,
                p.mode,
                p.n_ctx_orig,
                p.freq_base,
                p.freq_scale,
                p.ext_factor,
                p.attn_factor,
                p.beta_fast,
                p.beta_slow,
            )
        })
    }

    /// Fused attention: `q` [d, tokens, heads], `k`/`v` [d, kv, kv_heads]
    /// (F16), `mask` [kv, tokens] (F16, 0 or -inf), per-head `sinks` [heads]
    /// joining the softmax denominator. F32 accumulation. The result is
    /// [d, heads, tokens].
    pub fn flash_attn_sinks<'c>(
        &'c self,
        q: Tensor<'c>,
        k: Tensor<'c>,
        v: Tensor<'c>,
        mask: Tensor<'c>,
        sinks: Tensor<'c>,
        scale: f32,
    ) -> Tensor<'c> {
        // SAFETY: tensors share or outlive this context; the setters modify
        // the op's parameters of the tensor just created.
        unsafe {
            let t = ggml_sys::ggml_flash_attn_ext(
                self.raw(),
                q.raw(),
                k.raw(),
                v.raw(),
                mask.raw(),
                scale,
                0.0,
                0.0,
            );
            ggml_sys::ggml_flash_attn_ext_add_sinks(t, sinks.raw());
            ggml_sys::ggml_prec_set_acc(t, ggml_sys::GGML_PREC_F32);
            Tensor::from_raw(t)
        }
    }

    /// `softmax(a * scale + mask)` over rows of `a` [kv, tokens, heads], with
    /// per-head `sinks` [heads] joining each denominator.
    pub fn soft_max_sinks<'c>(
        &'c self,
        a: Tensor<'c>,
        mask: Tensor<'c>,
        sinks: Tensor<'c>,
        scale: f32,
    ) -> Tensor<'c> {
        // SAFETY: as above.
        unsafe {
            let t = ggml_sys::ggml_soft_max_ext(self.raw(), a.raw(), mask.raw(), scale, 0.0);
            ggml_sys::ggml_soft_max_add_sinks(t, sinks.raw());
            Tensor::from_raw(t)
        }
    }

    /// A matrix product accumulated in F32 (for attention scores).
    pub fn mul_mat_f32<'c>(&'c self, a: Tensor<'c>, b: Tensor<'c>) -> Tensor<'c> {
        let t = self.mul_mat(a, b);
        // SAFETY: sets the precision of the op just created.
        unsafe { ggml_sys::ggml_prec_set_acc(t.raw(), ggml_sys::GGML_PREC_F32) };
        t
    }

    /// The indices of the `k` largest values of each row, largest first (I32).
    pub fn argsort_top_k<'c>(&'c self, a: Tensor<'c>, k: i32) -> Tensor<'c> {
        // SAFETY: tensor shares this context.
        Tensor::from_raw(unsafe { ggml_sys::ggml_argsort_top_k(self.raw(), a.raw(), k) })
    }

    /// Expert matrix products: `experts` [k, m, n_expert], `b` [k, used or 1,
    /// tokens], `ids` [used, tokens] (I32) → [m, used, tokens].
    pub fn mul_mat_id<'c>(
        &'c self,
        experts: Tensor<'c>,
        b: Tensor<'c>,
        ids: Tensor<'c>,
    ) -> Tensor<'c> {
        // SAFETY: tensors share or outlive this context.
        Tensor::from_raw(unsafe {
            ggml_sys::ggml_mul_mat_id(self.raw(), experts.raw(), b.raw(), ids.raw())
        })
    }

    /// Adds the bias row `bias[:, ids[i, t]]` to `a[:, i, t]`.
    pub fn add_id<'c>(&'c self, a: Tensor<'c>, bias: Tensor<'c>, ids: Tensor<'c>) -> Tensor<'c> {
        // SAFETY: tensors share or outlive this context.
        Tensor::from_raw(unsafe {
            ggml_sys::ggml_add_id(self.raw(), a.raw(), bias.raw(), ids.raw())
        })
    }

    /// gpt-oss's clamped SwiGLU: `g = min(gate, limit)`, `u = clamp(up,
    /// -limit, limit)`, `g · sigmoid(alpha · g) · (u + 1)`.
    pub fn swiglu_oai<'c>(
        &'c self,
        gate: Tensor<'c>,
        up: Tensor<'c>,
        alpha: f32,
        limit: f32,
    ) -> Tensor<'c> {
        // SAFETY: tensors share this context.
        Tensor::from_raw(unsafe {
            ggml_sys::ggml_swiglu_oai(self.raw(), gate.raw(), up.raw(), alpha, limit)
        })
    }
}
