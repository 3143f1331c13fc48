//! GGUF files: metadata values, the validating zero-copy reader (single and
//! split models), and the streaming writer.

pub mod split_writer;
pub mod value;
pub mod writer;

pub use split_writer::GgufSplitWriter;
pub use value::{GgufType, GgufValue};
pub use writer::{GgufWriteError, GgufWriter, TensorSpec};
