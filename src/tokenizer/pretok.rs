//! Pre-tokenization: splitting text into the pieces that BPE encodes one by one.
//!
//! The split pattern of a GGUF vocabulary is named by `tokenizer.ggml.pre`.
//! The reference pattern (tiktoken's, used as is by the `tokenizers`
//! pipeline) ends in `\s+(?!\S)|\s+`, a look-ahead that DFA engines lack.
//! [`Splitter`] runs the pattern without that tail as a multi-pattern
//! leftmost-first DFA (the same priorities as a backtracking engine) and
//! applies the look-ahead by hand: a run of whitespace that is followed by a
//! non-space character gives up its last character to the next piece.

use std::sync::Mutex;

use regex_automata::meta::{self, Regex};
use regex_automata::util::syntax;
use regex_automata::{Anchored, Input, MatchKind};

use super::error::TokenizerError;

/// The split patterns this build knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PreTokenizer {
    /// tiktoken's `o200k_base` pattern (GPT-4o, gpt-oss): llama.cpp's
    /// `LLAMA_VOCAB_PRE_TYPE_GPT4O`.
    O200k,
}

/// `tokenizer.ggml.pre` values that llama.cpp maps to the o200k pattern.
pub const O200K_NAMES: [&str; 5] = ["gpt-4o", "llama4", "kanana2", "talkie", "minimax-m2"];

/// The o200k pattern's alternatives before the whitespace tail, in priority order.
const O200K_HEAD: [&str; 5] = [
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    r"\p{N}{1,3}",
    r" ?[^\s\p{L}\p{N}]+[\r\n/]*",
    r"\s*[\r\n]+",
];

/// The tail every supported pattern ends with; [`Splitter`] emulates it.
const WHITESPACE_TAIL: &str = r"\s+(?!\S)|\s+";

impl PreTokenizer {
    /// The pre-tokenizer named `name` in `tokenizer.ggml.pre`; unknown names
    /// are an error, never a guess.
    pub fn from_gguf_name(name: &str) -> Result<PreTokenizer, TokenizerError> {
        if O200K_NAMES.contains(&name) {
            Ok(PreTokenizer::O200k)
        } else {
            Err(TokenizerError::UnknownPre {
                found: name.to_owned(),
                known: O200K_NAMES.join(", "),
            })
        }
    }

    /// The name kchat writes for this pre-tokenizer.
    pub fn gguf_name(self) -> &'static str {
        match self {
            PreTokenizer::O200k => "gpt-4o",
        }
    }

    fn head(self) -> &'static [&'static str] {
        match self {
            PreTokenizer::O200k => &O200K_HEAD,
        }
    }

    /// The full split regex with its look-ahead, in the syntax of
    /// `fancy-regex` (what tiktoken and the `tokenizers` pipeline run).
    pub fn regex(self) -> String {
        let mut s = self.head().join("|");
        s.push('|');
        s.push_str(WHITESPACE_TAIL);
        s
    }
}

/// The compiled split pattern.
#[derive(Debug)]
pub struct Splitter {
    re: Regex,
    /// Pattern index of the trailing `\s+` alternative.
    tail: usize,
    /// Search caches (the lazy DFA's states) kept warm between calls.
    caches: Mutex<Vec<meta::Cache>>,
}

impl Splitter {
    /// Compiles the pattern of `pre`.
    pub fn new(pre: PreTokenizer) -> Result<Splitter, TokenizerError> {
        let mut pats: Vec<&str> = pre.head().to_vec();
        pats.push(r"\s+");
        let re = Regex::builder()
            .configure(meta::Config::new().match_kind(MatchKind::LeftmostFirst))
            .syntax(syntax::Config::new().unicode(true).utf8(true))
            .build_many(&pats)
            .map_err(|e| TokenizerError::Pattern(e.to_string()))?;
        Ok(Splitter {
            re,
            tail: pats.len() - 1,
            caches: Mutex::new(Vec::new()),
        })
    }

    /// Runs `f` with a search cache from the pool (a new one if all are in
    /// use) and returns the cache to the pool afterwards.
    pub fn with_cache<R>(&self, f: impl FnOnce(&mut meta::Cache) -> R) -> R {
        let pooled = self.caches.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut cache = pooled.unwrap_or_else(|| self.re.create_cache());
        let out = f(&mut cache);
        self.caches
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(cache);
        out
    }

    /// The end of the piece that starts at `pos`, a character boundary
    /// (`text.len()` when `pos` is at or past the end).
    #[inline]
    pub fn piece_end(&self, cache: &mut meta::Cache, text: &str, pos: usize) -> usize {
        if pos >= text.len() {
            return text.len();
        }
        if let Some(end) = ascii_piece_end(text.as_bytes(), pos) {
            return end;
        }
        self.piece_end_dfa(cache, text, pos)
    }

    /// [`Splitter::piece_end`] by the DFA alone.
    pub fn piece_end_dfa(&self, cache: &mut meta::Cache, text: &str, pos: usize) -> usize {
        if pos >= text.len() {
            return text.len();
        }
        let input = Input::new(text).range(pos..).anchored(Anchored::Yes);
        match self.re.search_with(cache, &input) {
            Some(m) if m.end() > pos => {
                let end = m.end();
                if m.pattern().as_usize() != self.tail || end == text.len() {
                    return end;
                }
                // `\s+(?!\S)`: the run is followed by a non-space; if it has
                // more than one character, its last one goes to the next piece.
                let last = prev_char_start(text, end);
                if last > pos {
                    last
                } else {
                    end
                }
            }
            // Every character matches some alternative; should that ever fail,
            // take one character rather than loop or panic.
            _ => next_char_end(text, pos),
        }
    }

    /// Calls `f` with each piece of `text`, in order.
    pub fn for_each_piece<'t>(&self, text: &'t str, mut f: impl FnMut(&'t str)) {
        self.with_cache(|cache| {
            let mut pos = 0;
            while pos < text.len() {
                let end = self.piece_end(cache, text, pos);
                f(&text[pos..end]);
                pos = end;
            }
        })
    }

    /// All pieces of `text`.
    pub fn pieces<'t>(&self, text: &'t str) -> Vec<&'t str> {
        let mut out = Vec::new();
        self.for_each_piece(text, |p| out.push(p));
        out
    }
}

const UPPER: u8 = 1;
const LOWER: u8 = 2;
const DIGIT: u8 = 4;
const SPACE: u8 = 8;
const NEWLINE: u8 = 16;
/// `[^\s\p{L}\p{N}]`.
const OTHER: u8 = 32;
/// `[^\r\n\p{L}\p{N}]`: may prefix a word.
const PREFIX: u8 = 64;

/// Character classes of the o200k pattern for each ASCII byte.
const ASCII_CLASS: [u8; 128] = {
    let mut t = [0u8; 128];
    let mut i = 0;
    while i < 128 {
        let c = i as u8;
        t[i] = if c.is_ascii_uppercase() {
            UPPER
        } else if c.is_ascii_lowercase() {
            LOWER
        } else if c.is_ascii_digit() {
            DIGIT
        } else if c == b'\r' || c == b'\n' {
            SPACE | NEWLINE
        } else if matches!(c, 0x09..=0x0d | 0x20) {
            SPACE | PREFIX
        } else {
            OTHER | PREFIX
        };
        i += 1;
    }
    t
};

/// The o200k piece starting at `pos`, worked out by hand while every
/// character that decides it is ASCII (most text). `None` when a non-ASCII
/// character could change the outcome; the DFA then decides.
///
/// Per alternative of the pattern, in priority order, for ASCII (where the
/// upper- and lower-case classes are disjoint):
/// 1-2. an optional prefix (`[^\r\n\p{L}\p{N}]`) before a letter, upper-case
///      run, lower-case run, optional contraction;
/// 3. one to three digits;
/// 4. an optional space, a run of `[^\s\p{L}\p{N}]`, then `[\r\n/]*`;
/// 5. whitespace with a line break: up to its last `\r`/`\n`;
/// 6-7. other whitespace: all of it at the end of the text, else all but its
///      last character, but at least one.
fn ascii_piece_end(b: &[u8], pos: usize) -> Option<usize> {
    // Some(Some(class)) for ASCII, Some(None) at the end, None for non-ASCII.
    let class = |i: usize| -> Option<Option<u8>> {
        match b.get(i) {
            None => Some(None),
            Some(&c) if c < 0x80 => Some(Some(ASCII_CLASS[usize::from(c)])),
            Some(_) => None,
        }
    };
    let is = |k: Option<u8>, mask: u8| k.is_some_and(|k| k & mask != 0);
    let run = |mut i: usize, mask: u8| -> Option<usize> {
        while is(class(i)?, mask) {
            i += 1;
        }
        Some(i)
    };
    let c = class(pos)??;

    // 1-2: letters, maybe after a prefix character.
    let start = if c & (UPPER | LOWER) != 0 {
        Some(pos)
    } else if c & PREFIX != 0 && is(class(pos + 1)?, UPPER | LOWER) {
        Some(pos + 1)
    } else {
        None
    };
    if let Some(s) = start {
        let mut end = run(run(s, UPPER)?, LOWER)?;
        if b.get(end) == Some(&b'\'') {
            let lower = |i: usize| b.get(i).map(|x| x.to_ascii_lowercase());
            match lower(end + 1) {
                // 'ſ' folds to 's': let the DFA judge any non-ASCII here.
                Some(x) if x >= 0x80 => return None,
                Some(b's' | b't' | b'm' | b'd') => end += 2,
                Some(b'r' | b'v') if lower(end + 2) == Some(b'e') => end += 3,
                Some(b'l') if lower(end + 2) == Some(b'l') => end += 3,
                _ => {}
            }
        }
        return Some(end);
    }
    // 3: digits.
    if c & DIGIT != 0 {
        let mut i = pos + 1;
        while i < pos + 3 && is(class(i)?, DIGIT) {
            i += 1;
        }
        return Some(i);
    }
    // 4: punctuation and symbols, maybe after a space.
    let punct_from = if c & OTHER != 0 {
        Some(pos)
    } else if b[pos] == b' ' && is(class(pos + 1)?, OTHER) {
        Some(pos + 1)
    } else {
        None
    };
    if let Some(s) = punct_from {
        let mut i = run(s, OTHER)?;
        while matches!(b.get(i), Some(b'\r' | b'\n' | b'/')) {
            i += 1;
        }
        return Some(i);
    }
    // 5-7: whitespace.
    let end = run(pos, SPACE)?;
    if let Some(last_nl) = b[pos..end].iter().rposition(|&x| x == b'\r' || x == b'\n') {
        return Some(pos + last_nl + 1);
    }
    if end == b.len() || end - pos == 1 {
        Some(end)
    } else {
        Some(end - 1)
    }
}

fn prev_char_start(text: &str, end: usize) -> usize {
    let mut i = end.saturating_sub(1);
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn next_char_end(text: &str, pos: usize) -> usize {
    let mut i = pos + 1;
    while i < text.len() && !text.is_char_boundary(i) {
        i += 1;
    }
    i.min(text.len())
}

/// Whether byte offset `p` of `text` is a boundary every supported pattern
/// keeps: splitting there and pre-tokenizing both halves on their own gives
/// the same pieces as the whole. Two cases qualify, both with ASCII on each
/// side so that the check is a byte test:
/// - an ASCII letter, then a space: the letter's piece (a letter run with an
///   optional contraction) cannot take in a space;
/// - a newline, then a printable ASCII character other than `/`: a piece
///   holding a newline ends at the last newline or `/` after it.
pub fn is_safe_split(text: &[u8], p: usize) -> bool {
    if p == 0 || p >= text.len() {
        return false;
    }
    let (a, b) = (text[p - 1], text[p]);
    (a.is_ascii_alphabetic() && b == b' ') || (a == b'\n' && b.is_ascii_graphic() && b != b'/')
}

/// Cuts `text` into chunks of about `target` bytes at safe split points
/// (see [`is_safe_split`]). A chunk grows past `target` until a safe point
/// comes; text without one stays whole.
pub fn safe_chunks(text: &str, target: usize) -> Vec<&str> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(text.len() / target.max(1) + 1);
    let mut start = 0;
    while start < text.len() {
        let mut p = start + target.max(1);
        while p < bytes.len() && !is_safe_split(bytes, p) {
            p += 1;
        }
        let end = p.min(bytes.len());
        out.push(&text[start..end]);
        start = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text: &str) -> Vec<&str> {
        Splitter::new(PreTokenizer::O200k)
            .expect("pattern compiles")
            .pieces(text)
    }

    /// The `tokenizers` crate's Split pre-tokenizer (fancy-regex, with the
    /// look-ahead) on the full pattern.
    fn reference(text: &str) -> Vec<String> {
        use tokenizers::pre_tokenizers::split::Split;
        use tokenizers::{
            OffsetReferential, OffsetType, PreTokenizedString, PreTokenizer as _,
            SplitDelimiterBehavior,
        };
        let split = Split::new(
            tokenizers::pre_tokenizers::split::SplitPattern::Regex(PreTokenizer::O200k.regex()),
            SplitDelimiterBehavior::Isolated,
            false,
        )
        .expect("compiles");
        let mut pts = PreTokenizedString::from(text);
        split.pre_tokenize(&mut pts).expect("splits");
        pts.get_splits(OffsetReferential::Original, OffsetType::Byte)
            .into_iter()
            .map(|(s, _, _)| s.to_owned())
            .collect()
    }

    #[test]
    fn unknown_pre_is_rejected_with_the_known_names() {
        let err = PreTokenizer::from_gguf_name("llama-bpe").expect_err("unknown");
        let msg = err.to_string();
        assert!(msg.contains("llama-bpe") && msg.contains("gpt-4o"), "{msg}");
        assert_eq!(
            PreTokenizer::from_gguf_name("gpt-4o").ok(),
            Some(PreTokenizer::O200k)
        );
    }

    #[test]
    fn whitespace_lookahead_is_emulated() {
        assert_eq!(split("a   b"), ["a", "  ", " b"]);
        assert_eq!(split("a \tb"), ["a", " ", "\tb"]);
        assert_eq!(split("a b"), ["a", " b"]);
        assert_eq!(split("end   "), ["end", "   "]);
        assert_eq!(split("x\n\n  y"), ["x", "\n\n", " ", " y"]);
        assert_eq!(split("x  \n y"), ["x", "  \n", " y"]);
        assert_eq!(split("  1"), [" ", " ", "1"]);
    }

    #[test]
    fn tricky_cases_match_the_backtracking_engine() {
        let cases = [
            "Hello world, I'M here; we'Re done. ÉCOLE école",
            "\u{301}A\u{301}bc",
            "x\u{300}\u{301}Y\u{300}z",
            "don'ſ ÅNGSTRÖM'S 12345678 ٣٤٥ ½²",
            "<|start|>user<|message|>hi<|end|>",
            "a/\n//\nb \r\n\t c\u{a0}\u{a0}d\u{3000}e",
            "   \n   ",
            "👨‍👩‍👧‍👦 🏳️‍🌈 1️⃣",
            "path/to/file.rs:12:5",
            "'s's 'S",
        ];
        for c in cases {
            assert_eq!(split(c), reference(c), "on {c:?}");
        }
    }

    #[test]
    fn ascii_shortcut_agrees_with_the_dfa() {
        let sp = Splitter::new(PreTokenizer::O200k).expect("pattern compiles");
        let alphabet: Vec<char> =
            "aZ09'sStTlLrReEvVmMdD \t\n\r\u{b}\u{c}/.!-<|>\u{0}\u{7f}é\u{a0}ſ٣中\u{301}€"
                .chars()
                .collect();
        let mut rng = super::super::corpus::Rng::new(5);
        let mut cache = sp.re.create_cache();
        for _ in 0..30_000 {
            let len = rng.range(1, 12) as usize;
            let s: String = (0..len).map(|_| rng.pick(&alphabet)).collect();
            let mut pos = 0;
            while pos < s.len() {
                let fast = sp.piece_end(&mut cache, &s, pos);
                let dfa = sp.piece_end_dfa(&mut cache, &s, pos);
                assert_eq!(fast, dfa, "at {pos} of {s:?}");
                pos = dfa;
            }
        }
        for c in [
            "don'ſ",
            "A'S",
            "a'RE",
            "a'r",
            "x'll'",
            "  '",
            "1234",
            "a\u{0}\n/\nb",
        ] {
            assert_eq!(split(c), reference(c), "on {c:?}");
        }
    }

    #[test]
    fn safe_chunks_cover_the_text_and_cut_at_safe_points() {
        let text = "one two three\nfour five\n/six seven";
        let chunks = safe_chunks(text, 3);
        assert_eq!(chunks.concat(), text);
        assert!(chunks.len() > 3);
        let mut at = 0;
        for c in &chunks[..chunks.len() - 1] {
            at += c.len();
            assert!(is_safe_split(text.as_bytes(), at));
        }
    }
}
