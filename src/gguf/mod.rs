//! GGUF files: metadata values, the validating zero-copy reader (single and
//! split models), and the streaming writer.
//!
//! [`GgufFile::parse`] checks a file's bytes; [`GgufModel::open`] maps one
//! file or all shards of a split model and presents them as one model.

mod cursor;
pub mod error;
pub mod metadata;
pub mod model;
pub mod reader;
pub mod split;
pub mod split_writer;
pub mod tensor;
pub mod value;
pub mod writer;

#[cfg(test)]
pub(crate) mod test_bytes;
#[cfg(test)]
mod tests_hostile;
#[cfg(test)]
mod tests_hostile_tensors;
#[cfg(test)]
mod tests_model;
#[cfg(test)]
mod tests_valid;

pub use cursor::{MAX_COUNT, MAX_DEPTH, MAX_STRING, MAX_TENSOR_NAME};
pub use error::{GgufError, MetaError, ParseError};
pub use metadata::{FromGguf, Metadata, Mismatch};
pub use model::{GgufModel, Shard, TensorRef};
pub use reader::{GgufFile, DEFAULT_ALIGNMENT, GGUF_MAGIC, KEY_ALIGNMENT};
pub use split_writer::GgufSplitWriter;
pub use tensor::TensorInfo;
pub use value::{GgufType, GgufValue};
pub use writer::{GgufWriteError, GgufWriter, TensorSpec};
