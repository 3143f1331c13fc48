//! The tokenizer, built from a GGUF file's `tokenizer.ggml.*` metadata alone.
