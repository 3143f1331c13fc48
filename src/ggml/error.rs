//! Errors from the ggml layer, written for the user.

/// What can go wrong when talking to ggml.
#[derive(Debug, thiserror::Error)]
pub enum GgmlError {
    /// `ggml_init` returned null (out of memory for the context metadata).
    #[error("ggml could not create a context of {0} bytes")]
    ContextInit(usize),
    /// A backend device failed to initialise.
    #[error("ggml device {0} could not be initialised")]
    BackendInit(String),
    /// Host memory offered to ggml is not aligned as ggml requires.
    #[error("host memory is not aligned to {0} bytes")]
    Misaligned(usize),
    /// A backend buffer could not be allocated.
    #[error("cannot allocate {bytes} bytes on {device}: out of device memory?")]
    Alloc {
        /// Device or buffer type name.
        device: String,
        /// Requested size.
        bytes: usize,
    },
    /// A quantization request was malformed or unsupported.
    #[error("cannot quantize to {ty}: {reason}")]
    Quantize {
        /// Target type name.
        ty: String,
        /// What is wrong.
        reason: String,
    },
    /// Tensor data of the wrong size was offered.
    #[error("tensor '{name}' holds {expected} bytes, got {got}")]
    DataSize {
        /// Tensor name.
        name: String,
        /// Its size.
        expected: usize,
        /// The offered size.
        got: usize,
    },
    /// The scheduler could not place or allocate a graph.
    #[error("the ggml scheduler could not allocate the compute graph")]
    SchedAlloc,
    /// A graph computation failed.
    #[error("ggml graph computation failed with status {0}")]
    Compute(i32),
}
