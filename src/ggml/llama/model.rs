//! A model loaded by libllama: placement (`-ngl`, `--n-cpu-moe` through
//! tensor buffer-type overrides), and the queries the oracle tests and the
//! benchmark need (sizes, metadata, vocabulary, tokenizer).

use std::ffi::{c_char, CStr, CString};
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::sync::Arc;

use llama_cpp_sys_2 as ll;

use super::{clear_errors, cpu_moe_patterns, init, take_errors, LlamaError, LlamaParams};

/// The owned libllama model, freed when the last handle and context are gone.
struct Raw(NonNull<ll::llama_model>);

// SAFETY: a loaded llama_model is not mutated by libllama after loading;
// llama.cpp shares one model among contexts on several threads (its server
// does), and every query used here only reads it.
unsafe impl Send for Raw {}
// SAFETY: as above.
unsafe impl Sync for Raw {}

impl Drop for Raw {
    fn drop(&mut self) {
        // SAFETY: the pointer came from llama_model_load_from_file and this is
        // the only owner; it is freed once.
        unsafe { ll::llama_model_free(self.0.as_ptr()) }
    }
}

/// A model loaded by libllama. Cloning is cheap and shares the model; the
/// weights are freed when the last clone and the last [`super::LlamaContext`]
/// made from it are dropped.
#[derive(Clone)]
pub struct LlamaModel {
    raw: Arc<Raw>,
    path: PathBuf,
}

impl std::fmt::Debug for LlamaModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlamaModel")
            .field("path", &self.path)
            .field("desc", &self.desc())
            .finish()
    }
}

/// `--n-cpu-moe`'s tensor buffer-type overrides in libllama's form: a list
/// ending in a null entry, whose patterns live as long as this value.
struct BuftOverrides {
    /// The NUL-terminated patterns the list points into.
    _patterns: Vec<CString>,
    /// The list, null-terminated.
    list: Vec<ll::llama_model_tensor_buft_override>,
}

impl BuftOverrides {
    fn new(n_cpu_moe: u32) -> BuftOverrides {
        let patterns: Vec<CString> = cpu_moe_patterns(n_cpu_moe)
            .into_iter()
            .filter_map(|p| CString::new(p).ok())
            .collect();
        // SAFETY: returns ggml's static CPU buffer type.
        let cpu = unsafe { ll::ggml_backend_cpu_buffer_type() };
        let mut list: Vec<ll::llama_model_tensor_buft_override> = patterns
            .iter()
            .map(|p| ll::llama_model_tensor_buft_override {
                pattern: p.as_ptr(),
                buft: cpu,
            })
            .collect();
        list.push(ll::llama_model_tensor_buft_override {
            pattern: std::ptr::null(),
            buft: std::ptr::null_mut(),
        });
        BuftOverrides {
            _patterns: patterns,
            list,
        }
    }

    /// The list for `llama_model_params`, or null when there are no patterns.
    fn as_ptr(&self) -> *const ll::llama_model_tensor_buft_override {
        if self.list.len() > 1 {
            self.list.as_ptr()
        } else {
            std::ptr::null()
        }
    }
}

/// Copies a C string that libllama writes into a buffer (snprintf-style:
/// the return value is the full length, negative on failure).
fn read_string(mut fill: impl FnMut(*mut c_char, usize) -> i32) -> Option<String> {
    let mut buf = vec![0u8; 256];
    loop {
        let n = fill(buf.as_mut_ptr().cast::<c_char>(), buf.len());
        let n = usize::try_from(n).ok()?;
        if n < buf.len() {
            let s = CStr::from_bytes_until_nul(&buf).ok()?;
            return Some(s.to_string_lossy().into_owned());
        }
        buf = vec![0u8; n + 1];
    }
}

impl LlamaModel {
    /// Loads the GGUF model at `path` (a single file, or the first shard of a
    /// split model: libllama finds the others), memory-mapped, placed as
    /// `params` says. Only the placement fields and `quiet` are used here; the
    /// rest are for [`super::LlamaContext::new`].
    pub fn load(path: impl AsRef<Path>, params: &LlamaParams) -> Result<LlamaModel, LlamaError> {
        let path = path.as_ref();
        init(params.quiet);
        if !path.is_file() {
            return Err(LlamaError::NotFound {
                path: path.to_owned(),
            });
        }
        let c_path = path
            .to_str()
            .and_then(|s| CString::new(s).ok())
            .ok_or_else(|| LlamaError::Path {
                path: path.to_owned(),
            })?;
        // Must outlive the load call: libllama reads the patterns while it
        // places tensors, and keeps no pointer to them afterwards.
        let overrides = BuftOverrides::new(params.n_cpu_moe);
        // SAFETY: returns a plain struct by value.
        let mut mp = unsafe { ll::llama_model_default_params() };
        mp.n_gpu_layers = params.n_gpu_layers;
        mp.load_mode = ll::LLAMA_LOAD_MODE_MMAP;
        mp.no_host = params.no_host;
        mp.tensor_buft_overrides = overrides.as_ptr();
        clear_errors();
        // SAFETY: a valid NUL-terminated path and parameters whose pointers
        // (the override list) are alive for the whole call.
        let ptr = unsafe { ll::llama_model_load_from_file(c_path.as_ptr(), mp) };
        drop(overrides);
        match NonNull::new(ptr) {
            Some(p) => Ok(LlamaModel {
                raw: Arc::new(Raw(p)),
                path: path.to_owned(),
            }),
            None => Err(LlamaError::Load {
                path: path.to_owned(),
                reason: take_errors(),
            }),
        }
    }

    /// The raw model, for the context (which keeps a clone of `self`).
    pub(super) fn raw(&self) -> *mut ll::llama_model {
        self.raw.0.as_ptr()
    }

    fn vocab(&self) -> *const ll::llama_vocab {
        // SAFETY: live model; the vocab lives as long as the model.
        unsafe { ll::llama_model_get_vocab(self.raw()) }
    }

    /// The file it was loaded from (the first shard of a split model).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Tokens in the vocabulary.
    pub fn n_vocab(&self) -> usize {
        // SAFETY: live vocab.
        let n = unsafe { ll::llama_vocab_n_tokens(self.vocab()) };
        usize::try_from(n).unwrap_or(0)
    }

    /// Repeating layers (blocks).
    pub fn n_layer(&self) -> usize {
        // SAFETY: live model.
        usize::try_from(unsafe { ll::llama_model_n_layer(self.raw()) }).unwrap_or(0)
    }

    /// Embedding width.
    pub fn n_embd(&self) -> usize {
        // SAFETY: live model.
        usize::try_from(unsafe { ll::llama_model_n_embd(self.raw()) }).unwrap_or(0)
    }

    /// Attention heads (of the first layer).
    pub fn n_head(&self) -> usize {
        // SAFETY: live model.
        usize::try_from(unsafe { ll::llama_model_n_head(self.raw()) }).unwrap_or(0)
    }

    /// The context length the model was trained for.
    pub fn n_ctx_train(&self) -> usize {
        // SAFETY: live model.
        usize::try_from(unsafe { ll::llama_model_n_ctx_train(self.raw()) }).unwrap_or(0)
    }

    /// The sliding-window length of its windowed layers (0: none).
    pub fn n_swa(&self) -> usize {
        // SAFETY: live model.
        usize::try_from(unsafe { ll::llama_model_n_swa(self.raw()) }).unwrap_or(0)
    }

    /// Total bytes of its tensors.
    pub fn size(&self) -> u64 {
        // SAFETY: live model.
        unsafe { ll::llama_model_size(self.raw()) }
    }

    /// Total parameters (elements of its tensors).
    pub fn n_params(&self) -> u64 {
        // SAFETY: live model.
        unsafe { ll::llama_model_n_params(self.raw()) }
    }

    /// libllama's one-line description, e.g. `gpt-oss 20B MXFP4 MoE`.
    pub fn desc(&self) -> String {
        // SAFETY: live model; the buffer is writable for the length passed.
        read_string(|buf, len| unsafe { ll::llama_model_desc(self.raw(), buf, len) })
            .unwrap_or_default()
    }

    /// A metadata value as text (`None` when the key is absent; arrays are
    /// not available this way).
    pub fn meta(&self, key: &str) -> Option<String> {
        let k = CString::new(key).ok()?;
        // SAFETY: live model, NUL-terminated key, writable buffer.
        read_string(|buf, len| unsafe {
            ll::llama_model_meta_val_str(self.raw(), k.as_ptr(), buf, len)
        })
    }

    /// The default chat template, if the file has one.
    pub fn chat_template(&self) -> Option<String> {
        // SAFETY: live model; null name = the default template.
        let p = unsafe { ll::llama_model_chat_template(self.raw(), std::ptr::null()) };
        if p.is_null() {
            return None;
        }
        // SAFETY: a NUL-terminated string owned by the model.
        Some(unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
    }

    /// The beginning-of-sequence token, if there is one.
    pub fn bos(&self) -> Option<u32> {
        // SAFETY: live vocab.
        u32::try_from(unsafe { ll::llama_vocab_bos(self.vocab()) }).ok()
    }

    /// The end-of-sequence token, if there is one.
    pub fn eos(&self) -> Option<u32> {
        // SAFETY: live vocab.
        u32::try_from(unsafe { ll::llama_vocab_eos(self.vocab()) }).ok()
    }

    /// libllama's tokenization of `text`, special tokens (`<|start|>`, ...)
    /// parsed as such, nothing added.
    pub fn tokenize(&self, text: &str) -> Result<Vec<u32>, LlamaError> {
        let len = i32::try_from(text.len()).map_err(|_| LlamaError::Tokenize(i32::MIN))?;
        let mut toks = vec![0i32; text.len() + 8];
        // A second try, with the size libllama asked for, always fits.
        for _ in 0..2 {
            let cap = i32::try_from(toks.len()).map_err(|_| LlamaError::Tokenize(i32::MIN))?;
            // SAFETY: live vocab; `text` and `toks` are valid for the lengths
            // passed.
            let n = unsafe {
                ll::llama_tokenize(
                    self.vocab(),
                    text.as_ptr().cast::<c_char>(),
                    len,
                    toks.as_mut_ptr(),
                    cap,
                    false,
                    true,
                )
            };
            if n == i32::MIN {
                return Err(LlamaError::Tokenize(n));
            }
            if n < 0 {
                toks = vec![0i32; n.unsigned_abs() as usize];
                continue;
            }
            toks.truncate(n as usize);
            return toks
                .into_iter()
                .map(|t| u32::try_from(t).map_err(|_| LlamaError::Tokenize(t)))
                .collect();
        }
        Err(LlamaError::Tokenize(-1))
    }
}
