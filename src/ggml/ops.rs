//! Graph operations on [`Tensor`]s: thin, typed calls of ggml's op
//! constructors. The model's graph builder is written with these.

use super::context::{Context, Tensor};

impl Context {
    /// `a · bᵀ` in ggml's convention: `[k, m] × [k, n] → [m, n]`.
    pub fn mul_mat<'c>(&'c self, a: Tensor<'c>, b: Tensor<'c>) -> Tensor<'c> {
        // SAFETY: both tensors belong to this context.
        Tensor::from_raw(unsafe { ggml_sys::ggml_mul_mat(self.raw(), a.raw(), b.raw()) })
    }

    /// Element-wise `a + b` (b broadcast over a).
    pub fn add<'c>(&'c self, a: Tensor<'c>, b: Tensor<'c>) -> Tensor<'c> {
        // SAFETY: both tensors belong to this context.
        Tensor::from_raw(unsafe { ggml_sys::ggml_add(self.raw(), a.raw(), b.raw()) })
    }

    /// Element-wise `a * b` (b broadcast over a).
    pub fn mul<'c>(&'c self, a: Tensor<'c>, b: Tensor<'c>) -> Tensor<'c> {
        // SAFETY: both tensors belong to this context.
        Tensor::from_raw(unsafe { ggml_sys::ggml_mul(self.raw(), a.raw(), b.raw()) })
    }

    /// RMS normalisation over the first dimension.
    pub fn rms_norm<'c>(&'c self, a: Tensor<'c>, eps: f32) -> Tensor<'c> {
        // SAFETY: the tensor belongs to this context.
        Tensor::from_raw(unsafe { ggml_sys::ggml_rms_norm(self.raw(), a.raw(), eps) })
    }
}
