//! A safe, owned wrapper over libllama (llama.cpp's library, compiled by the
//! pinned `llama-cpp-sys-2` carrier crate): the reference implementation that
//! kchat's own engine is checked against and benchmarked beside.
//!
//! [`LlamaModel`] loads a GGUF file (single or the first shard of a split
//! model) with llama.cpp's placement flags ([`LlamaParams`]: `-ngl`,
//! `--n-cpu-moe`, ...); [`LlamaContext`] holds a KV cache and decodes tokens.
//! kchat's own inference never goes through here.
//!
//! libllama logs through one process-wide callback. This module installs its
//! own on first use: it prints libllama's (and ggml's) log to stderr unless
//! [`LlamaParams::quiet`] is set, and always keeps the last error lines, which
//! the [`LlamaError`]s of a failed load or context name as the reason.

mod context;
mod model;
#[cfg(test)]
mod tests;

use std::ffi::{c_char, c_void, CStr};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, Once};

use llama_cpp_sys_2 as ll;

use crate::engine::options::{EngineOptions, FlashAttn};

pub use context::{LlamaContext, LogitsFor};
pub use model::LlamaModel;

/// What can go wrong when running a model through libllama.
#[derive(Debug, thiserror::Error)]
pub enum LlamaError {
    /// The model path cannot be handed to C (not UTF-8, or holds a NUL).
    #[error("libllama cannot open {}: the path must be UTF-8 without NUL bytes", path.display())]
    Path {
        /// The path given.
        path: PathBuf,
    },
    /// The model file does not exist or is not a file.
    #[error("cannot load model {}: no such file", path.display())]
    NotFound {
        /// The path given.
        path: PathBuf,
    },
    /// libllama refused to load the model.
    #[error("libllama could not load model {}: {reason}", path.display())]
    Load {
        /// The model file (first shard).
        path: PathBuf,
        /// libllama's last error lines, or a pointer to its log.
        reason: String,
    },
    /// libllama could not create a context (out of memory for the KV cache?).
    #[error("libllama could not create a context of {n_ctx} tokens: {reason}")]
    Context {
        /// The context size asked for (0: the model's trained context).
        n_ctx: u32,
        /// libllama's last error lines, or a pointer to its log.
        reason: String,
    },
    /// A token id outside the vocabulary.
    #[error("token id {token} is outside the vocabulary of {n_vocab} tokens")]
    Token {
        /// The id given.
        token: u32,
        /// The vocabulary size.
        n_vocab: usize,
    },
    /// Decoding must continue where the cache ends.
    #[error(
        "cannot decode at position {got}: the cache holds {n_past} tokens (truncate it first)"
    )]
    Position {
        /// The first position asked for.
        got: usize,
        /// Tokens in the cache.
        n_past: usize,
    },
    /// The tokens do not fit in the context.
    #[error("{needed} tokens do not fit in a context of {n_ctx}")]
    ContextFull {
        /// Cache length after the decode.
        needed: usize,
        /// The context size.
        n_ctx: usize,
    },
    /// Logits were asked for tokens that are not in the batch, or not in
    /// ascending order.
    #[error("logits asked for batch index {index} of a {len}-token batch (indices must ascend)")]
    Outputs {
        /// The offending index.
        index: usize,
        /// The batch length.
        len: usize,
    },
    /// `llama_decode` failed.
    #[error("libllama's llama_decode returned status {status} ({})", decode_status(*status))]
    Decode {
        /// The status code.
        status: i32,
    },
    /// Removing the tail of the cache failed.
    #[error("libllama could not drop the cache from position {n_keep} on")]
    Truncate {
        /// The length asked for.
        n_keep: usize,
    },
    /// Text could not be tokenized.
    #[error("libllama could not tokenize the text (status {0})")]
    Tokenize(i32),
}

/// What llama.h says a `llama_decode` status means.
fn decode_status(status: i32) -> &'static str {
    match status {
        1 => "no KV-cache slot for the batch: context full",
        2 => "aborted",
        -1 => "invalid input batch",
        _ => "fatal error",
    }
}

/// How libllama places and runs a model: llama.cpp's own flags.
#[derive(Debug, Clone, PartialEq)]
pub struct LlamaParams {
    /// Layers on the GPU, counted from the last (999: all; 0: CPU only).
    pub n_gpu_layers: i32,
    /// The expert tensors of the first N layers stay in host memory
    /// (`u32::MAX`: all, llama.cpp's `--cpu-moe`).
    pub n_cpu_moe: u32,
    /// Context length in tokens (0: what the model was trained for).
    pub n_ctx: u32,
    /// Logical batch: the most tokens handed to one `llama_decode`.
    pub n_batch: u32,
    /// Micro-batch: tokens per graph evaluation (at most `n_batch`).
    pub n_ubatch: u32,
    /// CPU threads, for generation and for batches alike.
    pub n_threads: i32,
    /// Flash attention.
    pub flash_attn: FlashAttn,
    /// Sliding-window layers keep the whole context (llama.cpp's `--swa-full`).
    pub swa_full: bool,
    /// Large batches of host-memory weights may run on the GPU.
    pub op_offload: bool,
    /// Host-memory weights stay mapped, not pinned (llama.cpp's `--no-host`).
    pub no_host: bool,
    /// Keep libllama's log off stderr (its errors still reach [`LlamaError`]).
    pub quiet: bool,
}

impl From<&EngineOptions> for LlamaParams {
    /// The same placement and sizes as kchat's engine would use; unset
    /// `n_gpu_layers` means all layers when ggml finds a GPU, else none.
    /// Quiet: kchat's commands print their own reports.
    fn from(o: &EngineOptions) -> LlamaParams {
        let n_gpu_layers = match o.n_gpu_layers {
            Some(n) => i32::try_from(n).unwrap_or(i32::MAX),
            None if crate::ggml::Device::gpus().is_empty() => 0,
            None => 999,
        };
        LlamaParams {
            n_gpu_layers,
            n_cpu_moe: o.n_cpu_moe,
            n_ctx: o.n_ctx,
            n_batch: o.n_batch.max(1),
            n_ubatch: o.n_ubatch.clamp(1, o.n_batch.max(1)),
            n_threads: i32::try_from(o.n_threads.max(1)).unwrap_or(i32::MAX),
            flash_attn: o.flash_attn,
            swa_full: o.swa_full,
            op_offload: o.op_offload,
            no_host: o.no_host,
            quiet: true,
        }
    }
}

impl Default for LlamaParams {
    fn default() -> LlamaParams {
        LlamaParams::from(&EngineOptions::default())
    }
}

impl LlamaParams {
    /// libllama's context parameters for these settings.
    fn context_params(&self) -> ll::llama_context_params {
        // SAFETY: returns a plain struct by value.
        let mut cp = unsafe { ll::llama_context_default_params() };
        let n_batch = self.n_batch.max(1);
        cp.n_ctx = self.n_ctx;
        cp.n_batch = n_batch;
        cp.n_ubatch = self.n_ubatch.clamp(1, n_batch);
        cp.n_seq_max = 1;
        cp.n_threads = self.n_threads.max(1);
        cp.n_threads_batch = self.n_threads.max(1);
        cp.swa_full = self.swa_full;
        cp.op_offload = self.op_offload;
        cp.flash_attn_type = match self.flash_attn {
            FlashAttn::Auto => ll::LLAMA_FLASH_ATTN_TYPE_AUTO,
            FlashAttn::On => ll::LLAMA_FLASH_ATTN_TYPE_ENABLED,
            FlashAttn::Off => ll::LLAMA_FLASH_ATTN_TYPE_DISABLED,
        };
        cp
    }
}

/// Whether the log callback copies libllama's log to stderr.
static VERBOSE: AtomicBool = AtomicBool::new(false);
/// The last error lines libllama logged (bounded).
static ERRORS: Mutex<String> = Mutex::new(String::new());
/// Whether the message being continued (`GGML_LOG_LEVEL_CONT`) is an error.
static IN_ERROR: AtomicBool = AtomicBool::new(false);
/// Keep at most this many bytes of error text.
const ERRORS_CAP: usize = 4096;

/// libllama's and ggml's log sink: stderr when verbose, and the error buffer.
/// Never panics (it is called from C, on any thread).
unsafe extern "C" fn log_callback(level: ll::ggml_log_level, text: *const c_char, _: *mut c_void) {
    if text.is_null() {
        return;
    }
    // SAFETY: libllama passes a NUL-terminated message, valid for this call.
    let bytes = unsafe { CStr::from_ptr(text) }.to_bytes();
    if VERBOSE.load(Ordering::Relaxed) {
        let _ = std::io::stderr().write_all(bytes);
    }
    let error = match level {
        ll::GGML_LOG_LEVEL_ERROR => true,
        ll::GGML_LOG_LEVEL_CONT => IN_ERROR.load(Ordering::Relaxed),
        _ => false,
    };
    IN_ERROR.store(error, Ordering::Relaxed);
    if error {
        let mut buf = match ERRORS.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        buf.push_str(&String::from_utf8_lossy(bytes));
        if buf.len() > ERRORS_CAP {
            let mut cut = buf.len() - ERRORS_CAP;
            while !buf.is_char_boundary(cut) {
                cut += 1;
            }
            buf.drain(..cut);
        }
    }
}

/// Initialises libllama's backends once per process, routes its log through
/// [`log_callback`] and sets whether that log reaches stderr.
fn init(quiet: bool) {
    static INIT: Once = Once::new();
    VERBOSE.store(!quiet, Ordering::Relaxed);
    // SAFETY: global initialisation, once; the callback is a plain function
    // that lives for the whole program.
    INIT.call_once(|| unsafe {
        ll::llama_log_set(Some(log_callback), std::ptr::null_mut());
        ll::llama_backend_init();
    });
}

/// Forgets the error lines logged so far.
fn clear_errors() {
    match ERRORS.lock() {
        Ok(mut g) => g.clear(),
        Err(poisoned) => poisoned.into_inner().clear(),
    }
}

/// The error lines logged since [`clear_errors`], as one line, or a pointer
/// to the log when there were none.
fn take_errors() -> String {
    let text = match ERRORS.lock() {
        Ok(mut g) => std::mem::take(&mut *g),
        Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
    };
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if lines.is_empty() {
        String::from("no reason given (run with the log on to see libllama's)")
    } else {
        lines.join("; ")
    }
}

/// llama.cpp common's expert-tensor pattern (`LLM_FFN_EXPS_REGEX`).
const FFN_EXPS_REGEX: &str = r"\.ffn_(up|down|gate|gate_up)_(ch|)exps";

/// The tensor-name patterns that `--n-cpu-moe N` keeps in host memory,
/// exactly as llama.cpp's common library builds them: `--cpu-moe`
/// (`u32::MAX`) is the bare expert pattern, `N` is one pattern per layer
/// `blk\.{i}` for `i < N`; 0 is none. Above llama.cpp's own limit on
/// overrides every layer is meant, so the bare pattern is used.
pub fn cpu_moe_patterns(n_cpu_moe: u32) -> Vec<String> {
    // SAFETY: a constant query.
    let max = unsafe { ll::llama_max_tensor_buft_overrides() };
    match n_cpu_moe {
        0 => Vec::new(),
        n if n == u32::MAX || n as usize >= max => vec![FFN_EXPS_REGEX.to_string()],
        n => (0..n)
            .map(|i| format!(r"blk\.{i}{FFN_EXPS_REGEX}"))
            .collect(),
    }
}
