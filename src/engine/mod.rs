//! The inference engine: options, KV cache, the session (prefill, decode,
//! prefix reuse) and sampling. It never prints.

pub mod kv_cache;
pub mod options;
pub mod sampler;
pub mod session;

pub use options::{EngineOptions, FlashAttn, ModelArgs, SamplerArgs};
pub use sampler::{Sampler, SamplerConfig};
pub use session::{Logits, Outputs, Session, SessionError, Stats};
