//! kchat: a GGUF-native local runner and chat for the gpt-oss model family.
//!
//! The layers, bottom to top (each arrow goes one way):
//! `gguf` (mmap'd, validated files) → `ggml` (safe wrappers: all FFI code lives there)
//! → `mkmodel` (synthetic models) and, later, `model`/`engine` (inference),
//! `tokenizer` and `harmony` (text in and out), `chat` and `tools`; `bench`
//! times an engine (kchat's, libllama's through `ggml::llama`) from the top.

#![deny(missing_docs)]
// Only the ggml layer may contain FFI code; the compiler enforces it.
#![deny(unsafe_code)]

pub mod bench;
pub mod chat;
pub mod engine;
#[allow(unsafe_code)]
pub mod ggml;
pub mod gguf;
pub mod harmony;
pub mod inspect;
pub mod mkmodel;
pub mod model;
pub mod progress;
pub mod rng;
pub mod run;
pub mod tokenizer;
pub mod tools;
pub mod version;
