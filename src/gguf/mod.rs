//! GGUF files: metadata values, the validating zero-copy reader (single and
//! split models), and the streaming writer.

pub mod value;

pub use value::{GgufType, GgufValue};
