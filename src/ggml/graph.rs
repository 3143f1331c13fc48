//! Compute graphs: the forward graph of some output tensors.

use std::marker::PhantomData;
use std::ptr::NonNull;

use super::context::{Context, Tensor};
use super::GgmlError;

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

/// A graph together with the context that holds its tensors, so a built graph
/// can be kept and computed again (the steady decode step).
pub struct OwnedGraph {
    ctx: Context,
    graph: NonNull<ggml_sys::ggml_cgraph>,
}

// SAFETY: the graph and its context are plain memory owned together.
unsafe impl Send for OwnedGraph {}

impl OwnedGraph {
    /// A context with room for `n_tensors` tensor headers and an empty graph
    /// of up to `size` nodes.
    pub fn new(n_tensors: usize, size: usize) -> Result<OwnedGraph, GgmlError> {
        let ctx = Context::new(n_tensors, size)?;
        // SAFETY: the context was sized for one graph of `size` nodes.
        let raw = unsafe { ggml_sys::ggml_new_graph_custom(ctx.raw(), size, false) };
        let graph = NonNull::new(raw).ok_or(GgmlError::ContextInit(size))?;
        Ok(OwnedGraph { ctx, graph })
    }

    /// The context to create the graph's tensors in.
    pub fn ctx(&self) -> &Context {
        &self.ctx
    }

    /// The graph.
    pub fn graph(&self) -> Graph<'_> {
        Graph {
            ptr: self.graph,
            _ctx: PhantomData,
        }
    }
}
