//! The vocabulary as a `tokenizers::Tokenizer` pipeline, built from the GGUF
//! metadata alone: byte-level BPE model (tokens + merges), the split regex
//! with its look-ahead, byte-level pre-tokenizer and decoder, and the
//! control / user-defined tokens as added tokens with their GGUF ids.
//!
//! kchat's own encoder ([`super::Tokenizer::encode`]) is faster; this
//! pipeline is the independent second implementation it is tested against,
//! and a door to the `tokenizers` API (offsets, batch encoding) for callers
//! who need it.

use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::{Vocab, BPE};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::{AddedToken, PreTokenizerWrapper, SplitDelimiterBehavior};

use super::bpe::split_merge;
use super::error::TokenizerError;
use super::meta::{TokenKind, VocabSpec};

fn pipeline_err(e: impl std::fmt::Display) -> TokenizerError {
    TokenizerError::Pipeline(e.to_string())
}

/// Builds the `tokenizers` pipeline of `spec`. With `parse_special` false,
/// control tokens in the text stay plain text (user-defined tokens are
/// always recognised, as in llama.cpp).
pub fn build(
    spec: &VocabSpec,
    parse_special: bool,
) -> Result<tokenizers::Tokenizer, TokenizerError> {
    // Every id gets its text, so added tokens keep their GGUF ids; ordinary
    // tokens win over added ones of the same text.
    let mut vocab = Vocab::default();
    vocab.reserve(spec.tokens.len());
    for pass_ordinary in [true, false] {
        for (id, (t, k)) in spec.tokens.iter().zip(&spec.kinds).enumerate() {
            if k.is_ordinary() == pass_ordinary {
                vocab.entry(t.clone()).or_insert(id as u32);
            }
        }
    }
    let mut merges = Vec::with_capacity(spec.merges.len());
    for (index, m) in spec.merges.iter().enumerate() {
        let (l, r) = split_merge(m).ok_or_else(|| TokenizerError::BadMerge {
            index,
            merge: m.clone(),
        })?;
        merges.push((l.to_owned(), r.to_owned()));
    }
    let model = BPE::builder()
        .vocab_and_merges(vocab, merges)
        .build()
        .map_err(pipeline_err)?;

    let mut tok = tokenizers::Tokenizer::new(model);
    let split = Split::new(
        SplitPattern::Regex(spec.pre.regex()),
        SplitDelimiterBehavior::Isolated,
        false,
    )
    .map_err(pipeline_err)?;
    let pre: Vec<PreTokenizerWrapper> =
        vec![split.into(), ByteLevel::new(false, false, false).into()];
    tok.with_pre_tokenizer(Some(Sequence::new(pre)));
    tok.with_decoder(Some(ByteLevelDecoder::new(false, false, false)));

    let added = |want: fn(TokenKind) -> bool, special: bool| -> Vec<AddedToken> {
        spec.tokens
            .iter()
            .zip(&spec.kinds)
            .filter(|(t, k)| want(**k) && !t.is_empty())
            .map(|(t, _)| AddedToken::from(t.clone(), special))
            .collect()
    };
    tok.add_special_tokens(added(TokenKind::is_special, true))
        .map_err(pipeline_err)?;
    tok.add_tokens(added(|k| k == TokenKind::UserDefined, false))
        .map_err(pipeline_err)?;
    tok.set_encode_special_tokens(!parse_special);
    Ok(tok)
}
