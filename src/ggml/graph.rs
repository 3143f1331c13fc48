//! Compute graphs: the forward graph of some output tensors.

use std::marker::PhantomData;
use std::ptr::NonNull;

use super::context::{Context, Tensor};

/// A `ggml_cgraph` allocated in a [`Context`] (freed with it).
pub struct Graph<'ctx> {
    ptr: NonNull<ggml_sys::ggml_cgraph>,
    _ctx: PhantomData<&'ctx Context>,
}

impl Context {
    /// A new empty graph with room for `size` nodes. The context must have been
    /// created with a matching `graph_size`.
    pub fn new_graph(&self, size: usize) -> Graph<'_> {
        // SAFETY: the context is alive and sized for the graph.
        let raw = unsafe { ggml_sys::ggml_new_graph_custom(self.raw(), size, false) };
        let ptr = NonNull::new(raw).expect("ggml returned a null graph");
        Graph {
            ptr,
            _ctx: PhantomData,
        }
    }
}

impl<'ctx> Graph<'ctx> {
    pub(crate) fn raw(&self) -> *mut ggml_sys::ggml_cgraph {
        self.ptr.as_ptr()
    }

    /// Adds `t` and everything it depends on.
    pub fn build_forward(&mut self, t: Tensor<'ctx>) {
        // SAFETY: graph and tensor share the context.
        unsafe { ggml_sys::ggml_build_forward_expand(self.raw(), t.raw()) }
    }

    /// Number of compute nodes.
    pub fn n_nodes(&self) -> usize {
        // SAFETY: valid graph.
        usize::try_from(unsafe { ggml_sys::ggml_graph_n_nodes(self.raw()) }).unwrap_or(0)
    }
}
