//! Byte-level BPE over a GGUF vocabulary: the merge table and the merge loop.
//!
//! A piece's bytes start as the 256 byte tokens; then, repeatedly, the
//! adjacent pair with the lowest merge rank (leftmost on ties) is replaced by
//! the token it makes, until no adjacent pair has a merge. This is the rule of
//! the `tokenizers` BPE model and of llama.cpp; with o200k's merges (ranked
//! like tiktoken's tokens) it gives tiktoken's ids.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::mkmodel::vocab::byte_to_unicode;

use super::error::TokenizerError;
use super::meta::TokenKind;

/// A hasher for the packed `(left, right)` id pairs of the merge table.
#[derive(Default, Clone, Copy)]
pub struct PairHasher(u64);

impl Hasher for PairHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, x: u64) {
        let h = (self.0 ^ x ^ (x >> 29)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 = h ^ (h >> 32);
    }
}

/// A fast non-cryptographic hash of a byte string (the Fx hash, 8 bytes a
/// step) for the encoder's tables; not for hostile keys.
pub fn hash_bytes(bytes: &[u8]) -> u64 {
    const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
    let mut h: u64 = bytes.len() as u64;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
    }
    h
}

/// A `Hasher` over [`hash_bytes`], for maps keyed by strings or byte slices.
#[derive(Default, Clone, Copy)]
pub struct BytesHasher(u64);

impl Hasher for BytesHasher {
    fn finish(&self) -> u64 {
        let h = self.0;
        h ^ (h >> 32)
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0 = self.0.rotate_left(7) ^ hash_bytes(bytes);
    }
}

/// What a pair merges into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MergeTo {
    /// Priority: the merge's index in `tokenizer.ggml.merges`.
    pub rank: u32,
    /// The token the pair becomes.
    pub id: u32,
}

const NO_MERGE: MergeTo = MergeTo {
    rank: u32::MAX,
    id: u32::MAX,
};

/// Pieces longer than this (in bytes) use the heap-based merge loop.
const LARGE_PIECE: usize = 96;

/// The merge table of a byte-level BPE vocabulary.
#[derive(Debug, Clone)]
pub struct Bpe {
    byte_ids: [u32; 256],
    merges: HashMap<u64, MergeTo, BuildHasherDefault<PairHasher>>,
    /// Multi-byte tokens that BPE makes from their own bytes, so that a
    /// piece equal to one needs a lookup instead of the merge loop. Up to 7
    /// bytes the key is the bytes themselves ([`pack`]); longer tokens are
    /// keyed by [`hash_bytes`] and confirmed against the token's bytes.
    short: HashMap<u64, u32, BuildHasherDefault<PairHasher>>,
    whole: HashMap<u64, u32, BuildHasherDefault<PairHasher>>,
}

/// Longest piece that [`pack`] keys exactly.
const PACK_MAX: usize = 7;

/// Up to 7 bytes and their count in one integer.
#[inline]
fn pack(bytes: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w[..bytes.len()].copy_from_slice(bytes);
    w[7] = bytes.len() as u8;
    u64::from_le_bytes(w)
}

/// Reusable buffers for the merge loop.
#[derive(Debug, Default)]
pub struct Scratch {
    syms: Vec<u32>,
    pairs: Vec<MergeTo>,
    next: Vec<usize>,
    prev: Vec<usize>,
    heap: std::collections::BinaryHeap<std::cmp::Reverse<(u32, usize, u32)>>,
}

fn key(a: u32, b: u32) -> u64 {
    (u64::from(a) << 32) | u64::from(b)
}

/// Splits a GGUF merge `"left right"` at its first space after the first
/// byte (so a left side may itself start with a space), as llama.cpp does.
pub fn split_merge(merge: &str) -> Option<(&str, &str)> {
    let at = merge.as_bytes().iter().skip(1).position(|&c| c == b' ')? + 1;
    let (l, r) = (&merge[..at], &merge[at + 1..]);
    (!l.is_empty() && !r.is_empty()).then_some((l, r))
}

/// A map keyed by token text, hashed with [`BytesHasher`].
pub type TextMap<'v> = HashMap<&'v str, u32, BuildHasherDefault<BytesHasher>>;

/// Token text to id, ordinary tokens first; the first of equal texts wins.
pub fn text_to_id<'v>(tokens: &'v [String], kinds: &[TokenKind]) -> TextMap<'v> {
    let mut map = TextMap::with_capacity_and_hasher(tokens.len(), Default::default());
    for pass_ordinary in [true, false] {
        for (id, (t, k)) in tokens.iter().zip(kinds).enumerate() {
            if k.is_ordinary() == pass_ordinary {
                map.entry(t.as_str()).or_insert(id as u32);
            }
        }
    }
    map
}

impl Bpe {
    /// Builds the table from token texts and merges; `by_text` is
    /// [`text_to_id`] of the same vocabulary.
    pub fn new(by_text: &TextMap<'_>, merges: &[String]) -> Result<Bpe, TokenizerError> {
        let alphabet = byte_to_unicode();
        let mut byte_ids = [0u32; 256];
        let mut buf = [0u8; 4];
        for (b, slot) in byte_ids.iter_mut().enumerate() {
            let c: &str = alphabet[b].encode_utf8(&mut buf);
            *slot = *by_text.get(c).ok_or(TokenizerError::MissingByte(b as u8))?;
        }

        let mut table: HashMap<u64, MergeTo, BuildHasherDefault<PairHasher>> =
            HashMap::with_capacity_and_hasher(merges.len(), Default::default());
        let mut joined = String::new();
        for (index, merge) in merges.iter().enumerate() {
            let (l, r) = split_merge(merge).ok_or_else(|| TokenizerError::BadMerge {
                index,
                merge: merge.clone(),
            })?;
            joined.clear();
            joined.push_str(l);
            joined.push_str(r);
            let find = |t: &str| {
                by_text
                    .get(t)
                    .copied()
                    .ok_or_else(|| TokenizerError::MergeOutOfVocab {
                        index,
                        merge: merge.clone(),
                        token: t.to_owned(),
                    })
            };
            let (a, b, id) = (find(l)?, find(r)?, find(&joined)?);
            // A repeated pair keeps its first (lowest) rank, as in llama.cpp.
            table.entry(key(a, b)).or_insert(MergeTo {
                rank: index as u32,
                id,
            });
        }
        Ok(Bpe {
            byte_ids,
            merges: table,
            short: HashMap::default(),
            whole: HashMap::default(),
        })
    }

    /// Fills the whole-token table: every ordinary multi-byte token whose
    /// bytes BPE merges back into exactly that token (checked here, so the
    /// shortcut never changes an encoding). `token_bytes(id)` gives the
    /// bytes of ordinary token `id`, `None` for the others.
    pub fn index_whole_tokens<'v>(
        &mut self,
        n_vocab: usize,
        token_bytes: impl Fn(u32) -> Option<&'v [u8]> + Sync,
    ) {
        use rayon::prelude::*;
        let this = &*self;
        let found: Vec<(bool, u64, u32)> = (0..n_vocab as u32)
            .into_par_iter()
            .map_init(
                || (Scratch::default(), Vec::new()),
                |(s, out), id| {
                    let bytes = token_bytes(id).filter(|b| b.len() > 1)?;
                    out.clear();
                    this.merge_any(bytes, out, s);
                    (out.as_slice() == [id]).then(|| {
                        let short = bytes.len() <= PACK_MAX;
                        let key = if short {
                            pack(bytes)
                        } else {
                            hash_bytes(bytes)
                        };
                        (short, key, id)
                    })
                },
            )
            .flatten()
            .collect();
        let (mut short, mut whole) = (HashMap::default(), HashMap::default());
        for (is_short, key, id) in found {
            let map = if is_short { &mut short } else { &mut whole };
            map.entry(key).or_insert(id);
        }
        self.short = short;
        self.whole = whole;
    }

    /// The token a piece is, if it is a whole token (see
    /// [`Bpe::index_whole_tokens`]); `token_bytes` confirms the match.
    #[inline]
    pub fn whole_token<'v>(
        &self,
        piece: &[u8],
        token_bytes: impl Fn(u32) -> Option<&'v [u8]>,
    ) -> Option<u32> {
        if piece.len() <= PACK_MAX {
            return self.short.get(&pack(piece)).copied();
        }
        let id = *self.whole.get(&hash_bytes(piece))?;
        (token_bytes(id) == Some(piece)).then_some(id)
    }

    /// The token of byte `b`.
    pub fn byte_id(&self, b: u8) -> u32 {
        self.byte_ids[usize::from(b)]
    }

    /// What the adjacent pair `(a, b)` merges into, if anything.
    #[inline]
    pub fn merge_of(&self, a: u32, b: u32) -> Option<MergeTo> {
        self.merges.get(&key(a, b)).copied()
    }

    #[inline]
    fn lookup(&self, a: u32, b: u32) -> MergeTo {
        self.merge_of(a, b).unwrap_or(NO_MERGE)
    }

    /// Appends the ids of one pre-tokenized piece to `out`.
    pub fn encode_piece(&self, piece: &[u8], out: &mut Vec<u32>, s: &mut Scratch) {
        self.merge_any(piece, out, s);
    }

    fn merge_any(&self, piece: &[u8], out: &mut Vec<u32>, s: &mut Scratch) {
        match piece.len() {
            0 => {}
            1 => out.push(self.byte_id(piece[0])),
            n if n > LARGE_PIECE => self.merge_large(piece, out, s),
            _ => self.merge_small(piece, out, s),
        }
    }

    /// The merge loop by rescanning: fast for the short pieces of most text.
    fn merge_small(&self, piece: &[u8], out: &mut Vec<u32>, s: &mut Scratch) {
        let syms = &mut s.syms;
        let pairs = &mut s.pairs;
        syms.clear();
        syms.extend(piece.iter().map(|&b| self.byte_id(b)));
        pairs.clear();
        pairs.extend(syms.windows(2).map(|w| self.lookup(w[0], w[1])));
        loop {
            let mut best = u32::MAX;
            let mut at = 0;
            for (i, p) in pairs.iter().enumerate() {
                if p.rank < best {
                    best = p.rank;
                    at = i;
                }
            }
            if best == u32::MAX {
                break;
            }
            syms[at] = pairs[at].id;
            syms.remove(at + 1);
            pairs.remove(at);
            if at < pairs.len() {
                pairs[at] = self.lookup(syms[at], syms[at + 1]);
            }
            if at > 0 {
                pairs[at - 1] = self.lookup(syms[at - 1], syms[at]);
            }
        }
        out.extend_from_slice(syms);
    }

    /// The merge loop with a heap and a linked list: O(n log n) for long
    /// pieces (runs of spaces, long words of random text).
    fn merge_large(&self, piece: &[u8], out: &mut Vec<u32>, s: &mut Scratch) {
        const NONE: usize = usize::MAX;
        let n = piece.len();
        let Scratch {
            syms,
            next,
            prev,
            heap,
            ..
        } = s;
        syms.clear();
        syms.extend(piece.iter().map(|&b| self.byte_id(b)));
        next.clear();
        next.extend((1..=n).map(|i| if i < n { i } else { NONE }));
        prev.clear();
        prev.extend((0..n).map(|i| if i > 0 { i - 1 } else { NONE }));
        let mut alive = vec![true; n];
        heap.clear();
        for i in 0..n - 1 {
            if let Some(m) = self.merge_of(syms[i], syms[i + 1]) {
                heap.push(std::cmp::Reverse((m.rank, i, m.id)));
            }
        }
        while let Some(std::cmp::Reverse((rank, pos, id))) = heap.pop() {
            let right = next[pos];
            if !alive[pos] || right == NONE {
                continue;
            }
            // Skip entries made stale by an earlier merge at either side.
            if self.merge_of(syms[pos], syms[right]) != Some(MergeTo { rank, id }) {
                continue;
            }
            syms[pos] = id;
            alive[right] = false;
            next[pos] = next[right];
            if next[pos] != NONE {
                prev[next[pos]] = pos;
            }
            if prev[pos] != NONE {
                let p = prev[pos];
                if let Some(m) = self.merge_of(syms[p], syms[pos]) {
                    heap.push(std::cmp::Reverse((m.rank, p, m.id)));
                }
            }
            if next[pos] != NONE {
                if let Some(m) = self.merge_of(syms[pos], syms[next[pos]]) {
                    heap.push(std::cmp::Reverse((m.rank, pos, m.id)));
                }
            }
        }
        let mut i = 0;
        while i != NONE {
            out.push(syms[i]);
            i = next[i];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A toy byte-level vocabulary: the 256 byte tokens, then merges.
    fn toy(merges: &[&str]) -> (Vec<String>, Vec<String>) {
        let alphabet = byte_to_unicode();
        let mut tokens: Vec<String> = alphabet.iter().map(|c| c.to_string()).collect();
        let mut ms = Vec::new();
        for m in merges {
            let (l, r) = split_merge(m).expect("toy merge");
            tokens.push(format!("{l}{r}"));
            ms.push((*m).to_owned());
        }
        (tokens, ms)
    }

    fn encode(bpe: &Bpe, piece: &[u8], large: bool) -> Vec<u32> {
        let mut out = Vec::new();
        let mut s = Scratch::default();
        if large && piece.len() > 1 {
            bpe.merge_large(piece, &mut out, &mut s);
        } else {
            bpe.encode_piece(piece, &mut out, &mut s);
        }
        out
    }

    #[test]
    fn merges_follow_rank_then_leftmost() {
        let (tokens, merges) = toy(&["a a", "b c", "aa aa", "a b"]);
        let kinds = vec![TokenKind::Normal; tokens.len()];
        let bpe = Bpe::new(&text_to_id(&tokens, &kinds), &merges).expect("toy builds");
        let id = |t: &str| tokens.iter().position(|x| x == t).expect("token") as u32;
        // "aaaaa": a a -> aa at 0, then at 2; aa aa -> aaaa; trailing a.
        for large in [false, true] {
            assert_eq!(encode(&bpe, b"aaaaa", large), [id("aaaa"), id("a")]);
            // "abc": "b c" (rank 1) beats "a b" (rank 3).
            assert_eq!(encode(&bpe, b"abc", large), [id("a"), id("bc")]);
            assert_eq!(encode(&bpe, b"ab", large), [id("ab")]);
        }
    }

    #[test]
    fn small_and_large_loops_agree() {
        let (tokens, merges) = toy(&["a b", "b a", "ab a", "a ba", "ab ab", "b b", "aba b"]);
        let kinds = vec![TokenKind::Normal; tokens.len()];
        let bpe = Bpe::new(&text_to_id(&tokens, &kinds), &merges).expect("toy builds");
        let mut x: u64 = 0x1234_5678;
        for len in 2..300 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let piece: Vec<u8> = (0..len)
                .map(|i| if (x >> (i % 61)) & 1 == 1 { b'a' } else { b'b' })
                .collect();
            assert_eq!(encode(&bpe, &piece, false), encode(&bpe, &piece, true));
        }
    }

    #[test]
    fn broken_tables_are_errors() {
        let (tokens, _) = toy(&[]);
        let kinds = vec![TokenKind::Normal; tokens.len()];
        let by_text = text_to_id(&tokens, &kinds);
        let err = Bpe::new(&by_text, &["a b".into()]).expect_err("ab is not a token");
        assert!(err.to_string().contains("merges[0]"), "{err}");
        let err = Bpe::new(&by_text, &["ab".into()]).expect_err("no space");
        assert!(err.to_string().contains("not two tokens"), "{err}");
        let short: Vec<String> = tokens[1..].to_vec();
        let err = Bpe::new(&text_to_id(&short, &kinds[1..]), &[]).expect_err("byte 0 missing");
        assert!(err.to_string().contains("0x00"), "{err}");
    }
}
