//! The inference engine: options, KV cache, the session (prefill, decode,
//! prefix reuse) and sampling. It never prints.

pub mod options;
pub mod sampler;

pub use options::{EngineOptions, FlashAttn, ModelArgs};
pub use sampler::{Sampler, SamplerConfig};
