//! What can go wrong while building a tokenizer from GGUF metadata or while
//! decoding ids. Encoding text never fails.

/// Errors of the tokenizer module; each message names the GGUF key or id at fault.
#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    /// A required metadata key is absent.
    #[error("GGUF metadata has no `{0}`; the file carries no usable tokenizer")]
    MissingKey(&'static str),
    /// A metadata key has the wrong value type.
    #[error("GGUF metadata `{key}` should be {expected}, found {found}")]
    WrongType {
        /// The key.
        key: &'static str,
        /// What was expected, e.g. "an array of strings".
        expected: &'static str,
        /// What the file holds.
        found: String,
    },
    /// `tokenizer.ggml.model` is not a byte-level BPE (`gpt2`) vocabulary.
    #[error("tokenizer.ggml.model is `{0}`; only `gpt2` (byte-level BPE) is supported")]
    UnsupportedModel(String),
    /// `tokenizer.ggml.pre` names a pre-tokenizer this build does not know.
    #[error("tokenizer.ggml.pre is `{found}`, an unknown pre-tokenizer; known: {known}")]
    UnknownPre {
        /// The value in the file.
        found: String,
        /// The accepted values, comma separated.
        known: String,
    },
    /// The vocabulary has no tokens.
    #[error("tokenizer.ggml.tokens is empty")]
    EmptyVocab,
    /// `tokenizer.ggml.token_type` and `tokenizer.ggml.tokens` differ in length.
    #[error(
        "tokenizer.ggml.token_type has {types} entries but tokenizer.ggml.tokens has {tokens}"
    )]
    TypeCount {
        /// Number of token types.
        types: usize,
        /// Number of tokens.
        tokens: usize,
    },
    /// A token type outside 0..=6.
    #[error("tokenizer.ggml.token_type[{index}] is {value}, not a known token type (0..=6)")]
    BadTokenType {
        /// Token id.
        index: usize,
        /// The stored value.
        value: i64,
    },
    /// A merge that is not two space-separated tokens.
    #[error("tokenizer.ggml.merges[{index}] is `{merge}`, not two tokens separated by a space")]
    BadMerge {
        /// Merge index (its rank).
        index: usize,
        /// The stored text.
        merge: String,
    },
    /// A merge names a token, or makes one, that is not in the vocabulary.
    #[error("tokenizer.ggml.merges[{index}] `{merge}` uses or makes `{token}`, which is not a token of the vocabulary")]
    MergeOutOfVocab {
        /// Merge index (its rank).
        index: usize,
        /// The stored text.
        merge: String,
        /// The token that is missing.
        token: String,
    },
    /// Byte-level BPE needs one ordinary token for every byte value.
    #[error(
        "the vocabulary has no ordinary token for byte 0x{0:02X}; byte-level BPE needs all 256"
    )]
    MissingByte(u8),
    /// A `tokenizer.ggml.*_token_id` key points past the vocabulary.
    #[error("GGUF metadata `{key}` is {id}, but the vocabulary has only {n_vocab} tokens")]
    IdOutOfRange {
        /// The key.
        key: &'static str,
        /// The stored id.
        id: u64,
        /// Vocabulary size.
        n_vocab: usize,
    },
    /// Decoding was asked for an id that is not in the vocabulary.
    #[error("token id {id} is not in the vocabulary ({n_vocab} tokens)")]
    UnknownId {
        /// The id.
        id: u32,
        /// Vocabulary size.
        n_vocab: usize,
    },
    /// The pre-tokenizer pattern did not compile (a bug, reported rather than panicking).
    #[error("cannot compile the pre-tokenizer pattern: {0}")]
    Pattern(String),
    /// The `tokenizers` pipeline could not be assembled from the metadata.
    #[error("cannot build the tokenizers pipeline from the GGUF vocabulary: {0}")]
    Pipeline(String),
}
