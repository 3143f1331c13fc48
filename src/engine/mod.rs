//! The inference engine: options, KV cache, the session (prefill, decode,
//! prefix reuse) and sampling. It never prints.

pub mod options;

pub use options::{EngineOptions, FlashAttn, ModelArgs};
