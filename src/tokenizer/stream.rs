//! Incremental, UTF-8-safe decoding of ids as the model produces them.
//!
//! A character may be split across tokens (emoji, CJK, any byte-level
//! vocabulary). [`StreamDecoder`] holds back the bytes of an unfinished
//! character until the token that completes it arrives, so a terminal never
//! shows half a character. Bytes that can never become valid UTF-8 come out
//! as U+FFFD at once, so a broken sequence cannot stall the output. The
//! concatenated output, [`StreamDecoder::flush`] included, equals
//! [`super::Tokenizer::decode`] of all the ids.

use super::error::TokenizerError;
use super::Tokenizer;

/// Decodes ids one at a time into newly complete text.
#[derive(Debug)]
pub struct StreamDecoder<'t> {
    tok: &'t Tokenizer,
    pending: Vec<u8>,
}

impl<'t> StreamDecoder<'t> {
    /// A decoder with nothing pending.
    pub fn new(tok: &'t Tokenizer) -> StreamDecoder<'t> {
        StreamDecoder {
            tok,
            pending: Vec::new(),
        }
    }

    /// Adds token `id`; returns the text it completes (possibly empty).
    pub fn push(&mut self, id: u32) -> Result<String, TokenizerError> {
        let bytes = self.tok.token_bytes(id).ok_or(TokenizerError::UnknownId {
            id,
            n_vocab: self.tok.vocab_size(),
        })?;
        self.pending.extend_from_slice(bytes);
        Ok(self.take_complete())
    }

    /// Whether bytes of an unfinished character are held back.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Ends the stream: returns what is held back, an unfinished character
    /// as U+FFFD.
    pub fn flush(&mut self) -> String {
        let out = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        out
    }

    fn take_complete(&mut self) -> String {
        let mut out = String::new();
        let mut start = 0;
        loop {
            match std::str::from_utf8(&self.pending[start..]) {
                Ok(s) => {
                    out.push_str(s);
                    start = self.pending.len();
                    break;
                }
                Err(e) => {
                    let valid = start + e.valid_up_to();
                    // The prefix is valid UTF-8 by the error's own account.
                    out.push_str(&String::from_utf8_lossy(&self.pending[start..valid]));
                    match e.error_len() {
                        // An unfinished character at the end: wait for more.
                        None => {
                            start = valid;
                            break;
                        }
                        // Bytes that no continuation can repair.
                        Some(n) => {
                            out.push(char::REPLACEMENT_CHARACTER);
                            start = valid + n;
                        }
                    }
                }
            }
        }
        self.pending.drain(..start);
        out
    }
}
