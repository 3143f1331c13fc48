//! The backend scheduler: splits a graph across backends (GPU first, CPU
//! last), allocates its intermediate tensors and runs it.

use std::marker::PhantomData;
use std::ptr::NonNull;

use super::backend::{Backend, Device, DeviceKind};
use super::context::Tensor;
use super::graph::Graph;
use super::GgmlError;

/// An owned `ggml_backend_sched`, borrowing its backends.
pub struct Scheduler<'b> {
    ptr: NonNull<ggml_sys::ggml_backend_sched>,
    _backends: PhantomData<&'b Backend>,
}

impl<'b> Scheduler<'b> {
    /// A scheduler over `backends` in priority order (the CPU backend must be
    /// last), for graphs of up to `graph_size` nodes. `op_offload` lets ggml
    /// run ops with host weights on the first (GPU) backend for large batches.
    pub fn new(
        backends: &[&'b Backend],
        graph_size: usize,
        op_offload: bool,
    ) -> Result<Scheduler<'b>, GgmlError> {
        Scheduler::with_pinned_host(backends, None, graph_size, op_offload)
    }

    /// As [`Scheduler::new`], but the CPU backend's compute buffers come from
    /// `gpu`'s host buffer type (pinned memory), so the copies between the
    /// CPU's intermediate results and the GPU are fast and asynchronous, as
    /// llama.cpp does.
    pub fn with_pinned_host(
        backends: &[&'b Backend],
        gpu: Option<Device>,
        graph_size: usize,
        op_offload: bool,
    ) -> Result<Scheduler<'b>, GgmlError> {
        let mut raw: Vec<ggml_sys::ggml_backend_t> = backends.iter().map(|b| b.raw()).collect();
        // SAFETY: plain queries on live backends and a registry device.
        let mut bufts: Vec<ggml_sys::ggml_backend_buffer_type_t> = backends
            .iter()
            .map(|b| unsafe {
                let pinned = match gpu {
                    Some(d) if b.device().kind() == DeviceKind::Cpu => {
                        ggml_sys::ggml_backend_dev_host_buffer_type(d.raw())
                    }
                    _ => std::ptr::null_mut(),
                };
                if pinned.is_null() {
                    ggml_sys::ggml_backend_get_default_buffer_type(b.raw())
                } else {
                    pinned
                }
            })
            .collect();
        // SAFETY: `raw` holds live backends and `bufts` one buffer type each;
        // ggml copies the arrays.
        let ptr = unsafe {
            ggml_sys::ggml_backend_sched_new(
                raw.as_mut_ptr(),
                bufts.as_mut_ptr(),
                raw.len() as i32,
                graph_size,
                false,
                op_offload,
            )
        };
        NonNull::new(ptr)
            .map(|ptr| Scheduler {
                ptr,
                _backends: PhantomData,
            })
            .ok_or(GgmlError::SchedAlloc)
    }

    /// Sizes the compute buffers for the worst case of `graph`, so later graphs
    /// of the same shape or smaller need no new allocation.
    ///
    /// Like [`Scheduler::reserve_size`] and [`Scheduler::alloc_graph`], this
    /// splits `graph` by device, which points the nodes that read another
    /// device's tensors at copies living until the next split: give each of
    /// these calls a graph no other call has split (a dangling copy reads as
    /// garbage shapes; ggml-cuda then aborts).
    pub fn reserve(&mut self, graph: &Graph<'_>) -> Result<(), GgmlError> {
        // SAFETY: valid scheduler and graph.
        if unsafe { ggml_sys::ggml_backend_sched_reserve(self.ptr.as_ptr(), graph.raw()) } {
            Ok(())
        } else {
            Err(GgmlError::SchedAlloc)
        }
    }

    /// The compute-buffer bytes each backend (in scheduler order) would need
    /// for `graph`, without allocating anything.
    pub fn reserve_size(&mut self, graph: &Graph<'_>, n_backends: usize) -> Vec<usize> {
        let mut sizes = vec![0usize; n_backends];
        // SAFETY: `sizes` has one slot per backend of this scheduler.
        unsafe {
            ggml_sys::ggml_backend_sched_reserve_size(
                self.ptr.as_ptr(),
                graph.raw(),
                sizes.as_mut_ptr(),
            )
        };
        sizes
    }

    /// The device the last split assigned `tensor` to (None: unassigned).
    pub fn tensor_device(&self, tensor: Tensor<'_>) -> Option<super::Device> {
        // SAFETY: all alive; the result is a backend owned by the caller's
        // scheduler list, or null.
        let b = unsafe {
            ggml_sys::ggml_backend_sched_get_tensor_backend(self.ptr.as_ptr(), tensor.raw())
        };
        if b.is_null() {
            return None;
        }
        // SAFETY: b is a live backend of this scheduler.
        let dev = unsafe { ggml_sys::ggml_backend_get_device(b) };
        super::Device::from_raw(dev)
    }

    /// Pins `tensor` to `backend` (before allocation).
    pub fn set_tensor_backend(&mut self, tensor: Tensor<'_>, backend: &'b Backend) {
        // SAFETY: all alive.
        unsafe {
            ggml_sys::ggml_backend_sched_set_tensor_backend(
                self.ptr.as_ptr(),
                tensor.raw(),
                backend.raw(),
            )
        }
    }

    /// Assigns backends and allocates the graph's tensors, after which inputs
    /// can be written.
    pub fn alloc_graph(&mut self, graph: &mut Graph<'_>) -> Result<(), GgmlError> {
        // SAFETY: valid scheduler and graph.
        if unsafe { ggml_sys::ggml_backend_sched_alloc_graph(self.ptr.as_ptr(), graph.raw()) } {
            Ok(())
        } else {
            Err(GgmlError::SchedAlloc)
        }
    }

    /// Runs an allocated graph to completion.
    pub fn compute(&mut self, graph: &mut Graph<'_>) -> Result<(), GgmlError> {
        // SAFETY: valid scheduler and allocated graph.
        let status =
            unsafe { ggml_sys::ggml_backend_sched_graph_compute(self.ptr.as_ptr(), graph.raw()) };
        if status == ggml_sys::GGML_STATUS_SUCCESS {
            Ok(())
        } else {
            Err(GgmlError::Compute(status))
        }
    }

    /// Releases the current graph's assignment so the next graph can be
    /// allocated.
    pub fn reset(&mut self) {
        // SAFETY: valid scheduler.
        unsafe { ggml_sys::ggml_backend_sched_reset(self.ptr.as_ptr()) }
    }

    /// Number of splits (backend switches) of the last allocated graph.
    pub fn n_splits(&self) -> usize {
        // SAFETY: valid scheduler.
        usize::try_from(unsafe { ggml_sys::ggml_backend_sched_get_n_splits(self.ptr.as_ptr()) })
            .unwrap_or(0)
    }
}

impl Drop for Scheduler<'_> {
    fn drop(&mut self) {
        // SAFETY: owned, freed once.
        unsafe { ggml_sys::ggml_backend_sched_free(self.ptr.as_ptr()) }
    }
}
