//! Safe, owned wrappers over ggml: types, contexts, tensors, backends and
//! devices (from the backend registry), buffers, graphs and the scheduler;
//! and the reference implementations: libllama itself ([`llama`]) and
//! ggml's own GGUF reader ([`gguf_reader`]).
//!
//! This is the only module of kchat that contains `unsafe` code. Every handle
//! here frees what it owns on drop; borrowed lifetimes tie tensors to their
//! context, host-memory buffers to their memory, and schedulers to backends.

pub mod backend;
pub mod buffer;
pub mod context;
pub mod error;
pub mod gguf_reader;
pub mod graph;
pub mod llama;
pub mod mmap;
pub mod nn;
pub mod ops;
pub mod quant;
pub mod sched;
pub mod types;

pub use backend::{Backend, Device, DeviceKind};
pub use buffer::Buffer;
pub use context::{Context, Tensor, TensorId};
pub use error::GgmlError;
pub use graph::{Graph, OwnedGraph};
pub use mmap::MappedFile;
pub use quant::{quantize, quantize_into};
pub use sched::Scheduler;
pub use types::GgmlType;

/// The version of the linked ggml library (e.g. `0.26.0`).
pub fn version() -> String {
    // SAFETY: ggml returns a static NUL-terminated string.
    let p = unsafe { ggml_sys::ggml_version() };
    if p.is_null() {
        return String::from("unknown");
    }
    // SAFETY: non-null static string.
    unsafe { std::ffi::CStr::from_ptr(p) }
        .to_string_lossy()
        .into_owned()
}

/// The git commit of the linked ggml library.
pub fn commit() -> String {
    // SAFETY: as in `version`.
    let p = unsafe { ggml_sys::ggml_commit() };
    if p.is_null() {
        return String::from("unknown");
    }
    // SAFETY: non-null static string.
    unsafe { std::ffi::CStr::from_ptr(p) }
        .to_string_lossy()
        .into_owned()
}

/// ggml's own block size and type size for a type id, for cross-checks.
pub fn type_traits(ty: GgmlType) -> (u64, u64) {
    // SAFETY: pure queries on a known type id.
    unsafe {
        (
            ggml_sys::ggml_blck_size(ty.id()) as u64,
            ggml_sys::ggml_type_size(ty.id()) as u64,
        )
    }
}

#[cfg(test)]
mod tests;
