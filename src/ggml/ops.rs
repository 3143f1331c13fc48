//! Graph operations on [`Tensor`]s: thin, typed calls of ggml's op
//! constructors for arithmetic, shapes and views. The neural-network ops of
//! the model (attention, RoPE, experts) are in `nn.rs`.
//!
//! ggml checks shapes with assertions that abort the process; the graph
//! builder above only combines tensors whose shapes it derived from validated
//! hyper-parameters, so these wrappers pass through.

use super::context::{Context, Tensor};
use super::GgmlType;

/// Calls a ggml constructor with this context and returns the new tensor.
macro_rules! op {
    ($self:ident, $f:ident($($arg:expr),*)) => {
        // SAFETY: every tensor argument belongs to this context or to a
        // context that outlives it ('c), and ggml copies scalar arguments.
        Tensor::from_raw(unsafe { ggml_sys::$f($self.raw() $(, $arg)*) })
    };
}

impl Context {
    /// `a · bᵀ` in ggml's convention: `[k, m] × [k, n] → [m, n]`.
    pub fn mul_mat<'c>(&'c self, a: Tensor<'c>, b: Tensor<'c>) -> Tensor<'c> {
        op!(self, ggml_mul_mat(a.raw(), b.raw()))
    }

    /// Element-wise `a + b` (b broadcast over a).
    pub fn add<'c>(&'c self, a: Tensor<'c>, b: Tensor<'c>) -> Tensor<'c> {
        op!(self, ggml_add(a.raw(), b.raw()))
    }

    /// Element-wise `a * b` (b broadcast over a).
    pub fn mul<'c>(&'c self, a: Tensor<'c>, b: Tensor<'c>) -> Tensor<'c> {
        op!(self, ggml_mul(a.raw(), b.raw()))
    }

    /// `a * s`.
    pub fn scale<'c>(&'c self, a: Tensor<'c>, s: f32) -> Tensor<'c> {
        op!(self, ggml_scale(a.raw(), s))
    }

    /// RMS normalisation over the first dimension.
    pub fn rms_norm<'c>(&'c self, a: Tensor<'c>, eps: f32) -> Tensor<'c> {
        op!(self, ggml_rms_norm(a.raw(), eps))
    }

    /// Softmax over the first dimension.
    pub fn soft_max<'c>(&'c self, a: Tensor<'c>) -> Tensor<'c> {
        op!(self, ggml_soft_max(a.raw()))
    }

    /// Rows of `a` (a matrix of rows along dimension 1) picked by the I32
    /// indices in `rows`.
    pub fn get_rows<'c>(&'c self, a: Tensor<'c>, rows: Tensor<'c>) -> Tensor<'c> {
        op!(self, ggml_get_rows(a.raw(), rows.raw()))
    }

    /// Writes the rows of `src` into `dst` at the I64 indices `rows`; returns
    /// a view of `dst` that orders the write in the graph.
    pub fn set_rows<'c>(
        &'c self,
        dst: Tensor<'c>,
        src: Tensor<'c>,
        rows: Tensor<'c>,
    ) -> Tensor<'c> {
        op!(self, ggml_set_rows(dst.raw(), src.raw(), rows.raw()))
    }

    /// `a` converted to type `ty`.
    pub fn cast<'c>(&'c self, a: Tensor<'c>, ty: GgmlType) -> Tensor<'c> {
        op!(self, ggml_cast(a.raw(), ty.id()))
    }

    /// A contiguous copy of `a`.
    pub fn cont<'c>(&'c self, a: Tensor<'c>) -> Tensor<'c> {
        op!(self, ggml_cont(a.raw()))
    }

    /// `a` with its first two dimensions swapped (a view).
    pub fn transpose<'c>(&'c self, a: Tensor<'c>) -> Tensor<'c> {
        op!(self, ggml_transpose(a.raw()))
    }

    /// `a` with its dimensions moved: dimension i goes to position `axes[i]`.
    pub fn permute<'c>(&'c self, a: Tensor<'c>, axes: [i32; 4]) -> Tensor<'c> {
        op!(
            self,
            ggml_permute(a.raw(), axes[0], axes[1], axes[2], axes[3])
        )
    }

    /// A contiguous `a` seen with shape `ne` (2 to 4 dims, same element count).
    pub fn reshape<'c>(&'c self, a: Tensor<'c>, ne: &[i64]) -> Tensor<'c> {
        match *ne {
            [n0] => op!(self, ggml_reshape_1d(a.raw(), n0)),
            [n0, n1] => op!(self, ggml_reshape_2d(a.raw(), n0, n1)),
            [n0, n1, n2] => op!(self, ggml_reshape_3d(a.raw(), n0, n1, n2)),
            [n0, n1, n2, n3, ..] => op!(self, ggml_reshape_4d(a.raw(), n0, n1, n2, n3)),
            [] => a,
        }
    }

    /// A strided view into `a`: shape `ne` (1 to 4 dims), byte strides `nb`
    /// of dimensions 1.. (one fewer than `ne`), starting `offset` bytes in.
    pub fn view<'c>(
        &'c self,
        a: Tensor<'c>,
        ne: &[i64],
        nb: &[usize],
        offset: usize,
    ) -> Tensor<'c> {
        match (ne, nb) {
            ([n0], _) => op!(self, ggml_view_1d(a.raw(), *n0, offset)),
            ([n0, n1], [b1, ..]) => op!(self, ggml_view_2d(a.raw(), *n0, *n1, *b1, offset)),
            ([n0, n1, n2], [b1, b2, ..]) => {
                op!(self, ggml_view_3d(a.raw(), *n0, *n1, *n2, *b1, *b2, offset))
            }
            ([n0, n1, n2, n3, ..], [b1, b2, b3, ..]) => {
                op!(
                    self,
                    ggml_view_4d(a.raw(), *n0, *n1, *n2, *n3, *b1, *b2, *b3, offset)
                )
            }
            _ => a,
        }
    }
}
