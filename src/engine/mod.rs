//! The inference engine: options, KV cache, the session (prefill, decode,
//! prefix reuse) and sampling. It never prints.

pub mod kv_cache;
pub mod options;
pub mod session;

pub use options::{EngineOptions, FlashAttn, ModelArgs};
pub use session::{Logits, Outputs, Session, SessionError, Stats};
