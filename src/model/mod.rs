//! A gpt-oss model ready to run: hyper-parameters read and checked, weights
//! placed on devices (straight from the mmap on the CPU, uploaded to a GPU)
//! following `-ngl` and `--n-cpu-moe`, and the graph of one micro-batch.

pub mod graph;
pub mod hparams;
pub mod load;
pub mod placement;
pub mod weights;

use std::path::PathBuf;

pub use graph::{build_graph, GraphInputs, GraphSpec};
pub use hparams::Hparams;
pub use load::Model;
pub use placement::{MemoryPlan, Placement};
pub use weights::{LayerWeights, Weights};

use crate::ggml::GgmlError;
use crate::gguf::GgufError;

/// What can go wrong loading or running a model, written for the user.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The GGUF file could not be read.
    #[error(transparent)]
    Gguf(#[from] GgufError),
    /// The file holds another architecture.
    #[error("{}: architecture '{arch}' is not supported (kchat runs gpt-oss)", path.display())]
    Architecture {
        /// The file.
        path: PathBuf,
        /// Its `general.architecture`.
        arch: String,
    },
    /// Metadata values that contradict each other or the graph.
    #[error("{}: invalid gpt-oss metadata: {what}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
    /// A tensor is missing or has the wrong shape or type for the metadata.
    #[error("{}: tensor '{name}': {what}", path.display())]
    Tensor {
        /// The file.
        path: PathBuf,
        /// The tensor.
        name: String,
        /// What is wrong.
        what: String,
    },
    /// The placement does not fit in a device's memory.
    #[error("{0}")]
    DoesNotFit(String),
    /// ggml failed.
    #[error(transparent)]
    Ggml(#[from] GgmlError),
}
