//! `kchat inspect`: describe a GGUF model (architecture, hyper-parameters,
//! tokenizer, tensors) for people or, with `--json`, for scripts.
