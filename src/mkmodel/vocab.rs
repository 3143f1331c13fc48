//! The o200k_harmony vocabulary of gpt-oss in GGUF form: byte-level BPE token
//! strings, merges and token types, built from `tiktoken-rs`'s bundled o200k
//! ranks and its special-token table (no network, no tokenizer.json).
//!
//! GGUF's `gpt2` tokenizer stores each token as text in GPT-2's byte-to-unicode
//! alphabet, and the merges as `"left right"` pairs in rank order. tiktoken only
//! has ranks, so each merge is recovered the way BPE would have made it: the
//! token's bytes are merged with all ranks below the token's own, which leaves
//! exactly two parts.

use std::collections::HashMap;

use rayon::prelude::*;

/// GGUF `tokenizer.ggml.token_type` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenType {
    /// An ordinary BPE token.
    Normal = 1,
    /// A special token (`<|start|>`, reserved ids, …), never produced by BPE.
    Control = 3,
}

/// A whole vocabulary, ready to be written as `tokenizer.ggml.*` keys.
#[derive(Debug, Clone)]
pub struct Vocab {
    /// Token text by id, in the byte-level alphabet (specials as written).
    pub tokens: Vec<String>,
    /// Token type by id.
    pub token_types: Vec<TokenType>,
    /// Merges in rank order, each `"left right"`.
    pub merges: Vec<String>,
    /// `<|startoftext|>`.
    pub bos_id: u32,
    /// `<|return|>`: the model's end of a final answer.
    pub eos_id: u32,
    /// `<|endoftext|>`.
    pub pad_id: u32,
}

/// Errors while building the vocabulary from tiktoken's tables.
#[derive(Debug, thiserror::Error)]
pub enum VocabError {
    /// tiktoken-rs could not load its bundled ranks.
    #[error("cannot load the bundled o200k ranks: {0}")]
    Load(String),
    /// The ranks and special tokens do not cover 0..n without gaps.
    #[error("o200k_harmony has no token with id {0}")]
    Gap(u32),
}

/// GPT-2's reversible map from bytes to printable unicode characters.
pub fn byte_to_unicode() -> [char; 256] {
    let mut table = ['\0'; 256];
    let mut extra = 0u32;
    for b in 0..=255u8 {
        let printable = matches!(b, 33..=126 | 161..=172 | 174..=255);
        let code = if printable {
            u32::from(b)
        } else {
            extra += 1;
            255 + extra
        };
        table[usize::from(b)] = char::from_u32(code).unwrap_or('\u{fffd}');
    }
    table
}

fn encode_bytes(table: &[char; 256], bytes: &[u8]) -> String {
    bytes.iter().map(|&b| table[usize::from(b)]).collect()
}

/// Splits `token` into the two parts BPE merged last, using only ranks below
/// `rank`. Returns `None` when the bytes do not reduce to exactly two parts.
fn last_merge<'a>(
    token: &'a [u8],
    rank: u32,
    ranks: &HashMap<Vec<u8>, u32>,
) -> Option<(&'a [u8], &'a [u8])> {
    // Part boundaries as start offsets; parts[i]..parts[i+1].
    let mut bounds: Vec<usize> = (0..=token.len()).collect();
    while bounds.len() > 3 {
        let mut best: Option<(u32, usize)> = None;
        for i in 0..bounds.len() - 2 {
            if let Some(&r) = ranks.get(&token[bounds[i]..bounds[i + 2]]) {
                if r < rank && best.is_none_or(|(b, _)| r < b) {
                    best = Some((r, i));
                }
            }
        }
        let (_, i) = best?;
        bounds.remove(i + 1);
    }
    (bounds.len() == 3).then(|| (&token[..bounds[1]], &token[bounds[1]..]))
}

/// Builds the 201,088-token o200k_harmony vocabulary.
pub fn harmony_vocab() -> Result<Vocab, VocabError> {
    let ranks: HashMap<Vec<u8>, u32> = bpe_ranks()?;
    let specials = special_tokens();
    let n = ranks.len() + specials.len();

    let table = byte_to_unicode();
    let mut by_id: Vec<Option<(String, TokenType)>> = vec![None; n];
    let mut ordered: Vec<(&[u8], u32)> = ranks.iter().map(|(k, &v)| (k.as_slice(), v)).collect();
    ordered.sort_by_key(|&(_, r)| r);
    for &(bytes, r) in &ordered {
        let slot = by_id.get_mut(r as usize).ok_or(VocabError::Gap(r))?;
        *slot = Some((encode_bytes(&table, bytes), TokenType::Normal));
    }
    for (text, id) in &specials {
        let slot = by_id.get_mut(*id as usize).ok_or(VocabError::Gap(*id))?;
        *slot = Some((text.clone(), TokenType::Control));
    }
    let mut tokens = Vec::with_capacity(n);
    let mut token_types = Vec::with_capacity(n);
    for (id, entry) in by_id.into_iter().enumerate() {
        let (text, ty) = entry.ok_or(VocabError::Gap(id as u32))?;
        tokens.push(text);
        token_types.push(ty);
    }

    let merges: Vec<String> = ordered
        .par_iter()
        .filter(|(bytes, _)| bytes.len() > 1)
        .filter_map(|&(bytes, r)| {
            last_merge(bytes, r, &ranks)
                .map(|(a, b)| format!("{} {}", encode_bytes(&table, a), encode_bytes(&table, b)))
        })
        .collect();

    Ok(Vocab {
        tokens,
        token_types,
        merges,
        bos_id: 199_998,
        eos_id: 200_002,
        pad_id: 199_999,
    })
}

/// Number of ordinary (BPE) tokens in o200k: ids `0..FIRST_SPECIAL`.
pub const FIRST_SPECIAL: u32 = 199_998;

/// The o200k byte-sequence ranks, read from tiktoken-rs's bundled table.
pub fn bpe_ranks() -> Result<HashMap<Vec<u8>, u32>, VocabError> {
    let bpe = tiktoken_rs::o200k_harmony().map_err(|e| VocabError::Load(e.to_string()))?;
    let mut ranks = HashMap::with_capacity(FIRST_SPECIAL as usize);
    for rank in 0..FIRST_SPECIAL {
        let bytes = bpe
            .decode_bytes(&[rank])
            .map_err(|_| VocabError::Gap(rank))?;
        ranks.insert(bytes, rank);
    }
    Ok(ranks)
}

/// The harmony special tokens with their ids (199998..=201087, less none).
pub fn special_tokens() -> Vec<(String, u32)> {
    let named: [(&str, u32); 9] = [
        ("<|startoftext|>", 199_998),
        ("<|endoftext|>", 199_999),
        ("<|return|>", 200_002),
        ("<|constrain|>", 200_003),
        ("<|channel|>", 200_005),
        ("<|start|>", 200_006),
        ("<|end|>", 200_007),
        ("<|message|>", 200_008),
        ("<|call|>", 200_012),
    ];
    let mut out: Vec<(String, u32)> = Vec::with_capacity(1090);
    for id in 199_998..=201_087u32 {
        let text = named
            .iter()
            .find(|(_, i)| *i == id)
            .map(|(t, _)| (*t).to_string())
            .unwrap_or_else(|| format!("<|reserved_{id}|>"));
        out.push((text, id));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_alphabet_is_a_bijection() {
        let t = byte_to_unicode();
        let mut seen: Vec<char> = t.to_vec();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 256);
        assert_eq!(t[usize::from(b' ')], 'Ġ');
        assert_eq!(t[usize::from(b'\n')], 'Ċ');
        assert_eq!(t[usize::from(b'a')], 'a');
    }

    #[test]
    fn harmony_vocab_has_every_id_and_the_specials() {
        let v = harmony_vocab().expect("vocab builds");
        assert_eq!(v.tokens.len(), 201_088);
        assert_eq!(v.token_types.len(), 201_088);
        assert_eq!(v.tokens[200_006], "<|start|>");
        assert_eq!(v.tokens[200_012], "<|call|>");
        assert_eq!(v.tokens[200_013], "<|reserved_200013|>");
        assert_eq!(v.token_types[200_006], TokenType::Control);
        assert_eq!(v.token_types[1000], TokenType::Normal);
        // Every multi-byte ordinary token comes from exactly one merge.
        let multi = v.tokens[..FIRST_SPECIAL as usize]
            .iter()
            .filter(|t| t.chars().count() > 1)
            .count();
        assert_eq!(
            v.merges.len(),
            multi,
            "every multi-byte token must have a merge"
        );
        // Merging the two parts of a merge gives a token of the vocabulary.
        let set: std::collections::HashSet<&str> = v.tokens.iter().map(String::as_str).collect();
        for m in v.merges.iter().take(5000) {
            let (a, b) = m.split_once(' ').expect("merge has two parts");
            assert!(
                set.contains(format!("{a}{b}").as_str()),
                "merge {m:?} makes no token"
            );
        }
    }
}
