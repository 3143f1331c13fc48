//! The harmony special tokens with their o200k_harmony ids, and the two small
//! traits through which harmony talks to a tokenizer (text → ids for
//! rendering, id → bytes for parsing) without depending on one.

use std::fmt;

/// A harmony formatting token, with its fixed id in the o200k_harmony vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpecialToken {
    /// `<|startoftext|>` (199998).
    StartOfText,
    /// `<|endoftext|>` (199999).
    EndOfText,
    /// `<|return|>` (200002): the model ends its final answer; the turn is over.
    Return,
    /// `<|constrain|>` (200003): precedes a constrained content type such as `json`.
    Constrain,
    /// `<|channel|>` (200005): precedes the channel name in a header.
    Channel,
    /// `<|start|>` (200006): begins a message header.
    Start,
    /// `<|end|>` (200007): ends a message; more messages may follow.
    End,
    /// `<|message|>` (200008): ends the header, the content follows.
    Message,
    /// `<|call|>` (200012): the model ends a tool call.
    Call,
}

impl SpecialToken {
    /// Every special token, in id order.
    pub const ALL: [SpecialToken; 9] = [
        SpecialToken::StartOfText,
        SpecialToken::EndOfText,
        SpecialToken::Return,
        SpecialToken::Constrain,
        SpecialToken::Channel,
        SpecialToken::Start,
        SpecialToken::End,
        SpecialToken::Message,
        SpecialToken::Call,
    ];

    /// The token's id in o200k_harmony.
    pub const fn id(self) -> u32 {
        match self {
            SpecialToken::StartOfText => 199_998,
            SpecialToken::EndOfText => 199_999,
            SpecialToken::Return => 200_002,
            SpecialToken::Constrain => 200_003,
            SpecialToken::Channel => 200_005,
            SpecialToken::Start => 200_006,
            SpecialToken::End => 200_007,
            SpecialToken::Message => 200_008,
            SpecialToken::Call => 200_012,
        }
    }

    /// The token with this id, if it is one of the harmony special tokens.
    pub const fn from_id(id: u32) -> Option<SpecialToken> {
        match id {
            199_998 => Some(SpecialToken::StartOfText),
            199_999 => Some(SpecialToken::EndOfText),
            200_002 => Some(SpecialToken::Return),
            200_003 => Some(SpecialToken::Constrain),
            200_005 => Some(SpecialToken::Channel),
            200_006 => Some(SpecialToken::Start),
            200_007 => Some(SpecialToken::End),
            200_008 => Some(SpecialToken::Message),
            200_012 => Some(SpecialToken::Call),
            _ => None,
        }
    }

    /// The token's text, e.g. `<|start|>`.
    pub const fn as_str(self) -> &'static str {
        match self {
            SpecialToken::StartOfText => "<|startoftext|>",
            SpecialToken::EndOfText => "<|endoftext|>",
            SpecialToken::Return => "<|return|>",
            SpecialToken::Constrain => "<|constrain|>",
            SpecialToken::Channel => "<|channel|>",
            SpecialToken::Start => "<|start|>",
            SpecialToken::End => "<|end|>",
            SpecialToken::Message => "<|message|>",
            SpecialToken::Call => "<|call|>",
        }
    }

    /// Whether the token ends a message (`<|end|>`, `<|return|>`, `<|call|>`).
    pub const fn ends_message(self) -> bool {
        matches!(
            self,
            SpecialToken::End | SpecialToken::Return | SpecialToken::Call
        )
    }
}

impl fmt::Display for SpecialToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The first id of the range o200k_harmony keeps for special and reserved
/// tokens (`<|startoftext|>`); ids from here to the vocabulary's end are never
/// ordinary text.
pub const FIRST_SPECIAL_ID: u32 = 199_998;

/// Encodes text as ordinary tokens: special-token text such as `<|start|>`
/// typed by a user must come out as plain-text ids, never as the special id.
pub trait TextEncoder {
    /// The ids of `text`, with no special-token parsing.
    fn encode_ordinary(&self, text: &str) -> Vec<u32>;
}

impl<T: TextEncoder + ?Sized> TextEncoder for &T {
    fn encode_ordinary(&self, text: &str) -> Vec<u32> {
        (**self).encode_ordinary(text)
    }
}

/// Gives the bytes of an ordinary token, for the streaming parser.
pub trait TokenBytes {
    /// The bytes of token `id`, or `None` when `id` is not an ordinary token
    /// (a special or reserved token, or out of the vocabulary).
    fn token_bytes(&self, id: u32) -> Option<Vec<u8>>;
}

impl<T: TokenBytes + ?Sized> TokenBytes for &T {
    fn token_bytes(&self, id: u32) -> Option<Vec<u8>> {
        (**self).token_bytes(id)
    }
}

/// Adapter making tiktoken-rs's `o200k_harmony()` usable as both traits
/// (special and reserved ids have no ordinary bytes).
#[derive(Clone, Copy)]
pub struct Tiktoken<'a>(pub &'a tiktoken_rs::CoreBPE);

impl fmt::Debug for Tiktoken<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Tiktoken(..)")
    }
}

impl TextEncoder for Tiktoken<'_> {
    fn encode_ordinary(&self, text: &str) -> Vec<u32> {
        self.0.encode_ordinary(text)
    }
}

impl TokenBytes for Tiktoken<'_> {
    fn token_bytes(&self, id: u32) -> Option<Vec<u8>> {
        if id >= FIRST_SPECIAL_ID {
            return None;
        }
        self.0.decode_bytes(&[id]).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_match_tiktoken() {
        let bpe = tiktoken_rs::o200k_harmony_singleton();
        for t in SpecialToken::ALL {
            assert_eq!(SpecialToken::from_id(t.id()), Some(t));
            assert_eq!(bpe.encode_with_special_tokens(t.as_str()), vec![t.id()]);
        }
        assert_eq!(SpecialToken::from_id(200_013), None);
    }

    #[test]
    fn typed_special_text_stays_ordinary() {
        let enc = Tiktoken(tiktoken_rs::o200k_harmony_singleton());
        let ids = enc.encode_ordinary("<|start|>");
        assert!(ids.len() > 1);
        assert!(ids.iter().all(|&id| id < FIRST_SPECIAL_ID));
        assert_eq!(enc.token_bytes(SpecialToken::Start.id()), None);
        let bytes: Vec<u8> = ids
            .iter()
            .flat_map(|&id| enc.token_bytes(id).unwrap_or_default())
            .collect();
        assert_eq!(bytes, b"<|start|>");
    }
}
