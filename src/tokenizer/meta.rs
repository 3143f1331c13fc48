//! Reading a vocabulary out of GGUF `tokenizer.ggml.*` metadata (and, for
//! tests and `mkmodel`, writing one in the same form).
//!
//! The metadata is taken through a lookup function so that any holder of
//! [`GgufValue`]s (the GGUF reader, a map in a test) can feed it.

use crate::gguf::{GgufType, GgufValue};
use crate::mkmodel::vocab::{TokenType, Vocab};

use super::error::TokenizerError;
use super::pretok::PreTokenizer;

/// `tokenizer.ggml.model`: the tokenizer family (`gpt2` = byte-level BPE).
pub const KEY_MODEL: &str = "tokenizer.ggml.model";
/// `tokenizer.ggml.pre`: the pre-tokenizer (split pattern) name.
pub const KEY_PRE: &str = "tokenizer.ggml.pre";
/// `tokenizer.ggml.tokens`: token text by id.
pub const KEY_TOKENS: &str = "tokenizer.ggml.tokens";
/// `tokenizer.ggml.token_type`: token type by id (see [`TokenKind`]).
pub const KEY_TOKEN_TYPE: &str = "tokenizer.ggml.token_type";
/// `tokenizer.ggml.merges`: BPE merges in rank order, `"left right"`.
pub const KEY_MERGES: &str = "tokenizer.ggml.merges";
/// `tokenizer.ggml.bos_token_id`.
pub const KEY_BOS: &str = "tokenizer.ggml.bos_token_id";
/// `tokenizer.ggml.eos_token_id`.
pub const KEY_EOS: &str = "tokenizer.ggml.eos_token_id";
/// `tokenizer.ggml.padding_token_id`.
pub const KEY_PAD: &str = "tokenizer.ggml.padding_token_id";
/// `tokenizer.ggml.unknown_token_id`.
pub const KEY_UNK: &str = "tokenizer.ggml.unknown_token_id";

/// A token's type, as GGUF stores it (`llama_token_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    /// 0: no type given; treated as an ordinary token.
    Undefined,
    /// 1: an ordinary BPE token.
    Normal,
    /// 2: the unknown token.
    Unknown,
    /// 3: a control token (`<|start|>`, reserved ids); parsed from text only on request.
    Control,
    /// 4: a user-defined added token; always parsed from text.
    UserDefined,
    /// 5: an unused slot.
    Unused,
    /// 6: a byte-fallback token (`<0x0A>`).
    Byte,
}

impl TokenKind {
    /// The kind stored as `value`, or `None` outside 0..=6.
    pub fn from_gguf(value: i64) -> Option<TokenKind> {
        Some(match value {
            0 => TokenKind::Undefined,
            1 => TokenKind::Normal,
            2 => TokenKind::Unknown,
            3 => TokenKind::Control,
            4 => TokenKind::UserDefined,
            5 => TokenKind::Unused,
            6 => TokenKind::Byte,
            _ => return None,
        })
    }

    /// The value GGUF stores for this kind.
    pub fn to_gguf(self) -> i32 {
        self as i32
    }

    /// Whether the token's text is in GPT-2's byte-level alphabet and is
    /// produced by BPE (as opposed to being an added token written as is).
    pub fn is_ordinary(self) -> bool {
        matches!(self, TokenKind::Normal | TokenKind::Undefined)
    }

    /// Whether the token is found in text only when special tokens are parsed.
    pub fn is_special(self) -> bool {
        matches!(self, TokenKind::Control | TokenKind::Unknown)
    }
}

/// A vocabulary as read from GGUF metadata, checked for shape but not yet
/// compiled into lookup tables.
#[derive(Debug, Clone)]
pub struct VocabSpec {
    /// The pre-tokenizer named by `tokenizer.ggml.pre`.
    pub pre: PreTokenizer,
    /// Token text by id (ordinary tokens in the byte-level alphabet).
    pub tokens: Vec<String>,
    /// Token kind by id.
    pub kinds: Vec<TokenKind>,
    /// Merges in rank order, each `"left right"`.
    pub merges: Vec<String>,
    /// Beginning-of-sequence token.
    pub bos: Option<u32>,
    /// End-of-sequence token.
    pub eos: Option<u32>,
    /// Padding token.
    pub pad: Option<u32>,
    /// Unknown token.
    pub unk: Option<u32>,
}

fn found(v: &GgufValue) -> String {
    match v {
        GgufValue::Array(t, items) => format!("an array of {} {t}", items.len()),
        other => format!("a {}", other.kind()),
    }
}

fn string_array(key: &'static str, v: &GgufValue) -> Result<Vec<String>, TokenizerError> {
    let wrong = || TokenizerError::WrongType {
        key,
        expected: "an array of strings",
        found: found(v),
    };
    let items = v.as_array().ok_or_else(wrong)?;
    items
        .iter()
        .map(|s| s.as_str().map(str::to_owned).ok_or_else(wrong))
        .collect()
}

fn integer(v: &GgufValue) -> Option<i64> {
    use GgufValue::*;
    match *v {
        U8(x) => Some(x.into()),
        I8(x) => Some(x.into()),
        U16(x) => Some(x.into()),
        I16(x) => Some(x.into()),
        U32(x) => Some(x.into()),
        I32(x) => Some(x.into()),
        U64(x) => i64::try_from(x).ok(),
        I64(x) => Some(x),
        _ => None,
    }
}

impl VocabSpec {
    /// Reads and checks the `tokenizer.ggml.*` keys through `get`.
    ///
    /// Needs `model` = `gpt2`, a known `pre`, `tokens` and `merges`;
    /// `token_type` is optional (all ordinary when absent), as are the
    /// special-id keys. Never guesses: an unknown `pre` is an error.
    pub fn from_gguf<'a>(
        get: impl Fn(&str) -> Option<&'a GgufValue>,
    ) -> Result<VocabSpec, TokenizerError> {
        let text_key = |key: &'static str| -> Result<&'a str, TokenizerError> {
            let v = get(key).ok_or(TokenizerError::MissingKey(key))?;
            v.as_str().ok_or_else(|| TokenizerError::WrongType {
                key,
                expected: "a string",
                found: found(v),
            })
        };
        let model = text_key(KEY_MODEL)?;
        if model != "gpt2" {
            return Err(TokenizerError::UnsupportedModel(model.to_owned()));
        }
        let pre = PreTokenizer::from_gguf_name(text_key(KEY_PRE)?)?;

        let tokens = string_array(
            KEY_TOKENS,
            get(KEY_TOKENS).ok_or(TokenizerError::MissingKey(KEY_TOKENS))?,
        )?;
        if tokens.is_empty() {
            return Err(TokenizerError::EmptyVocab);
        }
        let kinds = match get(KEY_TOKEN_TYPE) {
            None => vec![TokenKind::Normal; tokens.len()],
            Some(v) => {
                let wrong = || TokenizerError::WrongType {
                    key: KEY_TOKEN_TYPE,
                    expected: "an array of integers",
                    found: found(v),
                };
                let items = v.as_array().ok_or_else(wrong)?;
                if items.len() != tokens.len() {
                    return Err(TokenizerError::TypeCount {
                        types: items.len(),
                        tokens: tokens.len(),
                    });
                }
                items
                    .iter()
                    .enumerate()
                    .map(|(index, item)| {
                        let value = integer(item).ok_or_else(wrong)?;
                        TokenKind::from_gguf(value)
                            .ok_or(TokenizerError::BadTokenType { index, value })
                    })
                    .collect::<Result<Vec<_>, _>>()?
            }
        };
        let merges = string_array(
            KEY_MERGES,
            get(KEY_MERGES).ok_or(TokenizerError::MissingKey(KEY_MERGES))?,
        )?;

        let id_key = |key: &'static str| -> Result<Option<u32>, TokenizerError> {
            let Some(v) = get(key) else { return Ok(None) };
            let id = v.as_u64().ok_or_else(|| TokenizerError::WrongType {
                key,
                expected: "an unsigned integer",
                found: found(v),
            })?;
            match u32::try_from(id) {
                Ok(small) if (small as usize) < tokens.len() => Ok(Some(small)),
                _ => Err(TokenizerError::IdOutOfRange {
                    key,
                    id,
                    n_vocab: tokens.len(),
                }),
            }
        };
        Ok(VocabSpec {
            pre,
            bos: id_key(KEY_BOS)?,
            eos: id_key(KEY_EOS)?,
            pad: id_key(KEY_PAD)?,
            unk: id_key(KEY_UNK)?,
            tokens,
            kinds,
            merges,
        })
    }
}

/// The `tokenizer.ggml.*` metadata of `vocab` exactly as a GGUF file stores it
/// (what `kchat mkmodel` writes): model `gpt2`, pre `gpt-4o`, tokens, i32
/// token types, merges and the u32 bos/eos/padding ids.
pub fn metadata_from_vocab(vocab: &Vocab) -> Vec<(&'static str, GgufValue)> {
    let strings = |items: &[String]| {
        GgufValue::Array(
            GgufType::String,
            items.iter().cloned().map(GgufValue::String).collect(),
        )
    };
    let types = vocab
        .token_types
        .iter()
        .map(|t| {
            GgufValue::I32(match t {
                TokenType::Normal => TokenKind::Normal.to_gguf(),
                TokenType::Control => TokenKind::Control.to_gguf(),
            })
        })
        .collect();
    vec![
        (KEY_MODEL, GgufValue::String("gpt2".into())),
        (KEY_PRE, GgufValue::String("gpt-4o".into())),
        (KEY_TOKENS, strings(&vocab.tokens)),
        (KEY_TOKEN_TYPE, GgufValue::Array(GgufType::I32, types)),
        (KEY_MERGES, strings(&vocab.merges)),
        (KEY_BOS, GgufValue::U32(vocab.bos_id)),
        (KEY_EOS, GgufValue::U32(vocab.eos_id)),
        (KEY_PAD, GgufValue::U32(vocab.pad_id)),
    ]
}
