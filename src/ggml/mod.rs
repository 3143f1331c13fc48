//! Safe, owned wrappers over ggml: types, contexts, tensors, backends and
//! devices (from the backend registry), buffers, graphs and the scheduler.
//!
//! This is the only module of kchat that contains `unsafe` code.

pub mod mmap;
pub mod types;

pub use mmap::MappedFile;
pub use types::GgmlType;
