//! The tokenizer, built from a GGUF file's `tokenizer.ggml.*` metadata alone.
//!
//! [`Tokenizer::from_gguf`] reads the vocabulary (byte-level BPE tokens,
//! merges, token types, special ids) through a key lookup, and compiles it
//! into kchat's encoder: the pre-tokenizer ([`pretok`]: a hand-written
//! scanner for ASCII, a multi-pattern DFA for the rest), the merge table
//! ([`bpe`], with a lookup for pieces that are whole tokens, checked at load
//! to give what the merges give), a matcher for added tokens, and a byte
//! table for decoding. Inputs over 256 KiB are encoded in parallel, cut only
//! where the split pattern always cuts. The same metadata also builds a
//! `tokenizers::Tokenizer` ([`hf`]), the independent implementation the
//! encoder is tested against (it is 10-20x slower).
//!
//! For gpt-oss the ids equal `tiktoken-rs`'s `o200k_harmony()` (see the
//! parity tests in `tests/tokenizer_parity.rs`).

pub mod bench;
pub mod bpe;
pub mod cli;
pub mod corpus;
pub mod error;
pub mod hf;
pub mod meta;
pub mod pretok;
pub mod stream;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use rayon::prelude::*;

use crate::gguf::GgufValue;
use crate::mkmodel::vocab::byte_to_unicode;

use bpe::{Bpe, BytesHasher, Scratch};
pub use error::TokenizerError;
pub use meta::{TokenKind, VocabSpec};
pub use pretok::PreTokenizer;
use pretok::Splitter;
pub use stream::StreamDecoder;

/// Ordinary text longer than this is encoded in parallel chunks.
const PARALLEL_MIN_BYTES: usize = 256 * 1024;

/// A compiled vocabulary: encode text to ids and decode ids to text.
#[derive(Debug)]
pub struct Tokenizer {
    spec: VocabSpec,
    splitter: Splitter,
    bpe: Bpe,
    /// Raw bytes of every token, concatenated; token `i` is `bytes[offsets[i]..offsets[i+1]]`.
    bytes: Vec<u8>,
    offsets: Vec<u32>,
    /// Added tokens found in text when special tokens are parsed (control,
    /// unknown and user-defined), with their ids.
    added_all: Option<(AhoCorasick, Vec<u32>)>,
    /// Added tokens found in text always (user-defined only).
    added_user: Option<(AhoCorasick, Vec<u32>)>,
    special_ids: HashMap<String, u32>,
    hf: OnceLock<Result<tokenizers::Tokenizer, TokenizerError>>,
}

/// One token of an encoding, for display (`kchat tokenize`) or JSON.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TokenPiece {
    /// The id.
    pub id: u32,
    /// The token's text; bytes that are not valid UTF-8 on their own (part
    /// of a character split across tokens) appear as U+FFFD.
    pub text: String,
    /// The token's raw bytes.
    pub bytes: Vec<u8>,
    /// The token's kind.
    pub kind: TokenKind,
}

fn matcher(
    spec: &VocabSpec,
    want: impl Fn(TokenKind) -> bool,
) -> Result<Option<(AhoCorasick, Vec<u32>)>, TokenizerError> {
    let (texts, ids): (Vec<&str>, Vec<u32>) = spec
        .tokens
        .iter()
        .zip(&spec.kinds)
        .enumerate()
        .filter(|(_, (t, k))| want(**k) && !t.is_empty())
        .map(|(id, (t, _))| (t.as_str(), id as u32))
        .unzip();
    if texts.is_empty() {
        return Ok(None);
    }
    let ac = AhoCorasickBuilder::new()
        .match_kind(MatchKind::LeftmostLongest)
        .build(&texts)
        .map_err(|e| TokenizerError::Pipeline(format!("added-token matcher: {e}")))?;
    Ok(Some((ac, ids)))
}

impl Tokenizer {
    /// Builds the tokenizer from GGUF metadata read through `get` (e.g. the
    /// GGUF reader's key lookup).
    pub fn from_gguf<'a>(
        get: impl Fn(&str) -> Option<&'a GgufValue>,
    ) -> Result<Tokenizer, TokenizerError> {
        Tokenizer::from_spec(VocabSpec::from_gguf(get)?)
    }

    /// Builds the tokenizer from an already read vocabulary.
    pub fn from_spec(spec: VocabSpec) -> Result<Tokenizer, TokenizerError> {
        let splitter = Splitter::new(spec.pre)?;
        let by_text = bpe::text_to_id(&spec.tokens, &spec.kinds);
        let mut bpe = Bpe::new(&by_text, &spec.merges)?;
        drop(by_text);

        // The byte alphabet's characters are all below U+0144.
        let mut inverse = [None::<u8>; 0x144];
        for (b, c) in byte_to_unicode().iter().enumerate() {
            if let Some(slot) = inverse.get_mut(*c as usize) {
                *slot = Some(b as u8);
            }
        }
        let mut bytes = Vec::with_capacity(spec.tokens.iter().map(String::len).sum());
        let mut offsets = Vec::with_capacity(spec.tokens.len() + 1);
        offsets.push(0u32);
        let mut buf = [0u8; 4];
        for (t, k) in spec.tokens.iter().zip(&spec.kinds) {
            if k.is_ordinary() {
                // Characters outside the byte alphabet are kept as UTF-8, as
                // llama.cpp does; BPE never produces such tokens.
                for c in t.chars() {
                    match inverse.get(c as usize).copied().flatten() {
                        Some(b) => bytes.push(b),
                        None => bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes()),
                    }
                }
            } else {
                bytes.extend_from_slice(t.as_bytes());
            }
            let end = u32::try_from(bytes.len())
                .map_err(|_| TokenizerError::Pipeline("vocabulary text exceeds 4 GiB".into()))?;
            offsets.push(end);
        }

        bpe.index_whole_tokens(spec.tokens.len(), |id| {
            let i = id as usize;
            if !spec.kinds.get(i)?.is_ordinary() {
                return None;
            }
            bytes.get(*offsets.get(i)? as usize..*offsets.get(i + 1)? as usize)
        });

        let added_all = matcher(&spec, |k| k.is_special() || k == TokenKind::UserDefined)?;
        let added_user = matcher(&spec, |k| k == TokenKind::UserDefined)?;
        let special_ids = spec
            .tokens
            .iter()
            .zip(&spec.kinds)
            .enumerate()
            .filter(|(_, (_, k))| !k.is_ordinary())
            .map(|(id, (t, _))| (t.clone(), id as u32))
            .rev() // the first of equal texts wins
            .collect();
        Ok(Tokenizer {
            spec,
            splitter,
            bpe,
            bytes,
            offsets,
            added_all,
            added_user,
            special_ids,
            hf: OnceLock::new(),
        })
    }

    /// Number of tokens in the vocabulary.
    pub fn vocab_size(&self) -> usize {
        self.spec.tokens.len()
    }

    /// The pre-tokenizer in use.
    pub fn pre_tokenizer(&self) -> PreTokenizer {
        self.spec.pre
    }

    /// Beginning-of-sequence token (`tokenizer.ggml.bos_token_id`).
    pub fn bos(&self) -> Option<u32> {
        self.spec.bos
    }

    /// End-of-sequence token (`tokenizer.ggml.eos_token_id`).
    pub fn eos(&self) -> Option<u32> {
        self.spec.eos
    }

    /// Padding token (`tokenizer.ggml.padding_token_id`).
    pub fn pad(&self) -> Option<u32> {
        self.spec.pad
    }

    /// The id of the added (control or user-defined) token written `text`,
    /// e.g. `<|start|>`.
    pub fn id_of_special(&self, text: &str) -> Option<u32> {
        self.special_ids.get(text).copied()
    }

    /// The kind of token `id`.
    pub fn kind(&self, id: u32) -> Option<TokenKind> {
        self.spec.kinds.get(id as usize).copied()
    }

    /// The token's text as stored in GGUF (byte-level alphabet for ordinary tokens).
    pub fn token_text(&self, id: u32) -> Option<&str> {
        self.spec.tokens.get(id as usize).map(String::as_str)
    }

    /// The raw bytes of token `id`; a special token gives its text.
    pub fn token_bytes(&self, id: u32) -> Option<&[u8]> {
        let i = id as usize;
        let (a, b) = (*self.offsets.get(i)?, *self.offsets.get(i + 1)?);
        self.bytes.get(a as usize..b as usize)
    }

    /// Encodes `text`. With `parse_special`, control tokens written in the
    /// text (`<|start|>`) become their ids; without, they are plain text.
    /// User-defined added tokens are always recognised.
    pub fn encode(&self, text: &str, parse_special: bool) -> Vec<u32> {
        let mut out = Vec::with_capacity(text.len() / 3 + 1);
        let added = if parse_special {
            &self.added_all
        } else {
            &self.added_user
        };
        let mut st = Scratch::default();
        match added {
            None => self.encode_ordinary_into(text, &mut out, &mut st),
            Some((ac, ids)) => {
                let mut last = 0;
                for m in ac.find_iter(text) {
                    self.encode_ordinary_into(&text[last..m.start()], &mut out, &mut st);
                    out.push(ids[m.pattern().as_usize()]);
                    last = m.end();
                }
                self.encode_ordinary_into(&text[last..], &mut out, &mut st);
            }
        }
        out
    }

    /// Encodes `text` with no added tokens at all: pre-tokenize, then BPE.
    pub fn encode_ordinary(&self, text: &str) -> Vec<u32> {
        let mut out = Vec::with_capacity(text.len() / 3 + 1);
        self.encode_ordinary_into(text, &mut out, &mut Scratch::default());
        out
    }

    fn encode_ordinary_into(&self, text: &str, out: &mut Vec<u32>, st: &mut Scratch) {
        if text.len() >= PARALLEL_MIN_BYTES && rayon::current_num_threads() > 1 {
            let target = (text.len() / (4 * rayon::current_num_threads())).max(8 * 1024);
            self.encode_chunks_into(text, target, out);
        } else {
            self.encode_sequential(text, out, st);
        }
    }

    /// [`Tokenizer::encode_ordinary`] with the text cut into chunks of about
    /// `chunk_bytes` at boundaries the split pattern always keeps, encoded in
    /// parallel. The ids are the same for any chunk size; `encode` picks one
    /// by itself for large inputs.
    pub fn encode_ordinary_chunked(&self, text: &str, chunk_bytes: usize) -> Vec<u32> {
        let mut out = Vec::with_capacity(text.len() / 3 + 1);
        self.encode_chunks_into(text, chunk_bytes, &mut out);
        out
    }

    fn encode_chunks_into(&self, text: &str, chunk_bytes: usize, out: &mut Vec<u32>) {
        let parts: Vec<Vec<u32>> = pretok::safe_chunks(text, chunk_bytes)
            .par_iter()
            .map_init(Scratch::default, |st, chunk| {
                let mut ids = Vec::with_capacity(chunk.len() / 3 + 1);
                self.encode_sequential(chunk, &mut ids, st);
                ids
            })
            .collect();
        for p in parts {
            out.extend_from_slice(&p);
        }
    }

    /// Pre-tokenizes and encodes on this thread, remembering the ids of
    /// pieces already seen in this text.
    fn encode_sequential(&self, text: &str, out: &mut Vec<u32>, scratch: &mut Scratch) {
        self.splitter
            .with_cache(|cache| self.encode_pieces(text, out, scratch, cache));
    }

    fn encode_pieces(
        &self,
        text: &str,
        out: &mut Vec<u32>,
        scratch: &mut Scratch,
        cache: &mut regex_automata::meta::Cache,
    ) {
        let mut seen: HashMap<&str, (usize, usize), BuildHasherDefault<BytesHasher>> =
            HashMap::default();
        let mut pos = 0;
        while pos < text.len() {
            let end = self.splitter.piece_end(cache, text, pos);
            let piece = &text[pos..end];
            pos = end;
            if piece.len() == 1 {
                out.push(self.bpe.byte_id(piece.as_bytes()[0]));
                continue;
            }
            if let Some(id) = self
                .bpe
                .whole_token(piece.as_bytes(), |id| self.token_bytes(id))
            {
                out.push(id);
                continue;
            }
            if let Some(&(at, n)) = seen.get(piece) {
                out.extend_from_within(at..at + n);
                continue;
            }
            let at = out.len();
            self.bpe.encode_piece(piece.as_bytes(), out, scratch);
            seen.insert(piece, (at, out.len() - at));
        }
    }

    /// The pieces of `text` as the split pattern cuts them (before BPE).
    pub fn pre_tokenize<'t>(&self, text: &'t str) -> Vec<&'t str> {
        self.splitter.pieces(text)
    }

    /// Encodes `text` and returns each token with its text, for display.
    pub fn tokenize(&self, text: &str, parse_special: bool) -> Vec<TokenPiece> {
        self.encode(text, parse_special)
            .into_iter()
            .map(|id| {
                let bytes = self.token_bytes(id).unwrap_or_default().to_vec();
                TokenPiece {
                    id,
                    text: String::from_utf8_lossy(&bytes).into_owned(),
                    bytes,
                    kind: self.kind(id).unwrap_or(TokenKind::Undefined),
                }
            })
            .collect()
    }

    /// The concatenated raw bytes of `ids`.
    pub fn decode_bytes(&self, ids: &[u32]) -> Result<Vec<u8>, TokenizerError> {
        let mut out = Vec::with_capacity(ids.len() * 4);
        for &id in ids {
            out.extend_from_slice(self.token_bytes(id).ok_or(TokenizerError::UnknownId {
                id,
                n_vocab: self.vocab_size(),
            })?);
        }
        Ok(out)
    }

    /// Decodes `ids` to text; special tokens give their text, and bytes that
    /// do not form valid UTF-8 become U+FFFD.
    pub fn decode(&self, ids: &[u32]) -> Result<String, TokenizerError> {
        let bytes = self.decode_bytes(ids)?;
        Ok(match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })
    }

    /// An incremental decoder for ids arriving one by one.
    pub fn stream_decoder(&self) -> StreamDecoder<'_> {
        StreamDecoder::new(self)
    }

    /// The vocabulary as a `tokenizers::Tokenizer` pipeline (built on first
    /// use, with special tokens parsed). See [`hf::build`] for the other mode.
    pub fn hf(&self) -> Result<&tokenizers::Tokenizer, &TokenizerError> {
        self.hf.get_or_init(|| hf::build(&self.spec, true)).as_ref()
    }

    /// The vocabulary this tokenizer was built from.
    pub fn spec(&self) -> &VocabSpec {
        &self.spec
    }
}

impl crate::harmony::TextEncoder for Tokenizer {
    fn encode_ordinary(&self, text: &str) -> Vec<u32> {
        Tokenizer::encode_ordinary(self, text)
    }
}

impl crate::harmony::TokenBytes for Tokenizer {
    fn token_bytes(&self, id: u32) -> Option<Vec<u8>> {
        match self.kind(id) {
            Some(TokenKind::Normal | TokenKind::Undefined | TokenKind::Byte) => {
                Tokenizer::token_bytes(self, id).map(<[u8]>::to_vec)
            }
            _ => None,
        }
    }
}
