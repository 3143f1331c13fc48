//! Tests on a small synthetic gpt2-style vocabulary, fed through the same
//! GGUF metadata path as a real file. The o200k parity tests against
//! tiktoken-rs live in `tests/tokenizer_parity.rs`.

use std::collections::HashMap;

use super::corpus::Rng;
use super::*;
use crate::gguf::GgufType;

/// A byte-level vocabulary: 256 byte tokens, one token per merge, then
/// `<|bos|>`, `<|eos|>` (control), `<tool>` (user-defined), an unused slot.
struct Synth {
    map: HashMap<String, GgufValue>,
}

const MERGES: &[&str] = &[
    "h e",
    "l l",
    "he ll",
    "hell o",
    "Ġ w",
    "Ġw o",
    "o r",
    "Ġwo r",
    "Ġwor l",
    "Ġworl d",
    "Ã ©",
    "Ġ Ġ",
    "ĠĠ ĠĠ",
    "1 2",
    "12 3",
];

impl Synth {
    fn new() -> Synth {
        let alphabet = crate::mkmodel::vocab::byte_to_unicode();
        let mut tokens: Vec<String> = alphabet.iter().map(|c| c.to_string()).collect();
        for m in MERGES {
            let (l, r) = bpe::split_merge(m).expect("merge");
            tokens.push(format!("{l}{r}"));
        }
        let mut types = vec![1i32; tokens.len()];
        for (t, k) in [
            ("<|bos|>", 3),
            ("<|eos|>", 3),
            ("<tool>", 4),
            ("[UNUSED]", 5),
        ] {
            tokens.push(t.into());
            types.push(k);
        }
        let n = tokens.len() as u32;
        let mut map = HashMap::new();
        map.insert(meta::KEY_MODEL.into(), GgufValue::String("gpt2".into()));
        map.insert(meta::KEY_PRE.into(), GgufValue::String("gpt-4o".into()));
        let strings = |v: Vec<String>| {
            GgufValue::Array(
                GgufType::String,
                v.into_iter().map(GgufValue::String).collect(),
            )
        };
        map.insert(meta::KEY_TOKENS.into(), strings(tokens));
        map.insert(
            meta::KEY_TOKEN_TYPE.into(),
            GgufValue::Array(
                GgufType::I32,
                types.into_iter().map(GgufValue::I32).collect(),
            ),
        );
        map.insert(
            meta::KEY_MERGES.into(),
            strings(MERGES.iter().map(|m| (*m).to_owned()).collect()),
        );
        map.insert(meta::KEY_BOS.into(), GgufValue::U32(n - 4));
        map.insert(meta::KEY_EOS.into(), GgufValue::U32(n - 3));
        Synth { map }
    }

    fn build(&self) -> Result<Tokenizer, TokenizerError> {
        Tokenizer::from_gguf(|k| self.map.get(k))
    }

    fn tok(&self) -> Tokenizer {
        self.build().expect("synthetic vocabulary builds")
    }
}

fn id(tok: &Tokenizer, text: &str) -> u32 {
    (0..tok.vocab_size() as u32)
        .find(|&i| tok.token_text(i) == Some(text))
        .expect("token exists")
}

#[test]
fn encodes_with_merges_in_rank_order() {
    let tok = Synth::new().tok();
    assert_eq!(tok.vocab_size(), 256 + MERGES.len() + 4);
    let ids = tok.encode("hello world", false);
    assert_eq!(ids, [id(&tok, "hello"), id(&tok, "Ġworld")]);
    // "é" is two bytes, merged by "Ã ©"; "12345" splits into 3-digit pieces.
    assert_eq!(tok.encode("é", false), [id(&tok, "Ã©")]);
    assert_eq!(
        tok.encode("12345", false),
        [id(&tok, "123"), id(&tok, "4"), id(&tok, "5")]
    );
    // Four spaces before a word: three as a run (a merge of ĠĠ and Ġ), one
    // joins the word.
    let ids = tok.encode("    x", false);
    assert_eq!(
        ids,
        [id(&tok, "ĠĠ"), id(&tok, "Ġ"), id(&tok, "Ġ"), id(&tok, "x")]
    );
}

#[test]
fn specials_are_parsed_only_when_asked_and_user_tokens_always() {
    let tok = Synth::new().tok();
    let bos = tok.bos().expect("bos");
    assert_eq!(tok.id_of_special("<|bos|>"), Some(bos));
    assert_eq!(tok.eos(), tok.id_of_special("<|eos|>"));
    let tool = tok.id_of_special("<tool>").expect("user-defined token");
    assert_eq!(tok.kind(tool), Some(TokenKind::UserDefined));

    let text = "<|bos|>hello<tool> world<|eos|>";
    let with = tok.encode(text, true);
    assert_eq!(with[0], bos);
    assert!(with.contains(&tool));
    assert_eq!(with.last().copied(), tok.eos());
    let without = tok.encode(text, false);
    assert!(
        !without.contains(&bos),
        "control token parsed without asking"
    );
    assert!(
        without.contains(&tool),
        "user-defined tokens are always parsed"
    );
    assert_eq!(tok.decode(&with).expect("decodes"), text);
    assert_eq!(tok.decode(&without).expect("decodes"), text);
    assert_eq!(tok.token_bytes(bos), Some(&b"<|bos|>"[..]));
}

#[test]
fn any_text_round_trips_and_matches_the_tokenizers_pipeline() {
    let synth = Synth::new();
    let tok = synth.tok();
    let spec = tok.spec().clone();
    let hf_plain = hf::build(&spec, false).expect("pipeline builds");
    let hf_special = tok.hf().expect("pipeline builds");
    let text = corpus::generate(3, 60_000);
    let ids = tok.encode(&text, false);
    assert_eq!(tok.decode(&ids).expect("decodes"), text);
    let hf_ids = hf_plain
        .encode_fast(text.as_str(), false)
        .expect("hf encodes");
    assert_eq!(ids, hf_ids.get_ids());
    let sample = "<|bos|>hello<tool> <|eos|>world";
    let hf_ids = hf_special.encode_fast(sample, false).expect("hf encodes");
    assert_eq!(tok.encode(sample, true), hf_ids.get_ids());
    assert_eq!(tok.encode_ordinary_chunked(&text, 64), ids);
}

#[test]
fn stream_decoder_holds_back_split_characters() {
    let tok = Synth::new().tok();
    let b = |x: u8| tok.bpe.byte_id(x);
    let mut s = tok.stream_decoder();
    let mut got = Vec::new();
    for x in "é👍a".bytes() {
        got.push(s.push(b(x)).expect("known id"));
    }
    assert_eq!(got, ["", "é", "", "", "", "👍", "a"]);
    // A byte that can never start a character comes out at once as U+FFFD.
    assert_eq!(s.push(b(0xff)).expect("known id"), "\u{fffd}");
    // A broken sequence: E2 82 then 'a'.
    assert_eq!(s.push(b(0xe2)).expect("id"), "");
    assert_eq!(s.push(b(0x82)).expect("id"), "");
    assert_eq!(s.push(b(b'a')).expect("id"), "\u{fffd}a");
    // Unfinished at the end: flush gives U+FFFD.
    assert_eq!(s.push(b(0xf0)).expect("id"), "");
    assert!(s.has_pending());
    assert_eq!(s.flush(), "\u{fffd}");
    assert!(s.push(u32::MAX).is_err());
}

#[test]
fn stream_output_equals_lossy_decode_of_random_ids() {
    let tok = Synth::new().tok();
    let mut rng = Rng::new(11);
    for _ in 0..300 {
        let n = rng.range(1, 30) as usize;
        let ids: Vec<u32> = (0..n).map(|_| rng.below(tok.vocab_size()) as u32).collect();
        let mut s = tok.stream_decoder();
        let mut out = String::new();
        for &i in &ids {
            out.push_str(&s.push(i).expect("known id"));
        }
        out.push_str(&s.flush());
        assert_eq!(out, tok.decode(&ids).expect("decodes"), "ids {ids:?}");
    }
}

#[test]
fn bad_metadata_is_a_clear_error() {
    let cases: Vec<(&str, GgufValue, &str)> = vec![
        (
            meta::KEY_MODEL,
            GgufValue::String("llama".into()),
            "only `gpt2`",
        ),
        (
            meta::KEY_PRE,
            GgufValue::String("qwen2".into()),
            "unknown pre-tokenizer",
        ),
        (
            meta::KEY_PRE,
            GgufValue::U32(1),
            "`tokenizer.ggml.pre` should be a string",
        ),
        (
            meta::KEY_TOKENS,
            GgufValue::Array(GgufType::I32, vec![GgufValue::I32(1)]),
            "should be an array of strings",
        ),
        (
            meta::KEY_TOKEN_TYPE,
            GgufValue::Array(GgufType::I32, vec![GgufValue::I32(1)]),
            "token_type has 1 entries",
        ),
        (
            meta::KEY_MERGES,
            GgufValue::Array(GgufType::String, vec![GgufValue::String("hx".into())]),
            "merges[0]",
        ),
        (
            meta::KEY_MERGES,
            GgufValue::Array(GgufType::String, vec![GgufValue::String("q z".into())]),
            "not a token of the vocabulary",
        ),
        (
            meta::KEY_BOS,
            GgufValue::U32(1_000_000),
            "bos_token_id` is 1000000",
        ),
    ];
    for (key, value, want) in cases {
        let mut synth = Synth::new();
        synth.map.insert(key.into(), value);
        let err = synth.build().expect_err("bad metadata");
        assert!(err.to_string().contains(want), "{key}: got `{err}`");
    }
    let mut synth = Synth::new();
    synth.map.remove(meta::KEY_MERGES);
    let err = synth.build().expect_err("no merges");
    assert!(
        err.to_string().contains("has no `tokenizer.ggml.merges`"),
        "{err}"
    );
    // token_type is optional: all tokens are then ordinary.
    let mut synth = Synth::new();
    synth.map.remove(meta::KEY_TOKEN_TYPE);
    let tok = synth.tok();
    assert_eq!(tok.id_of_special("<|bos|>"), None);
    assert!(Synth::new().tok().decode(&[u32::MAX]).is_err());
}

#[test]
fn tokenize_gives_pieces_for_display() {
    let tok = Synth::new().tok();
    let pieces = tok.tokenize("hello é<|bos|>", true);
    let texts: Vec<&str> = pieces.iter().map(|p| p.text.as_str()).collect();
    assert_eq!(texts, ["hello", " ", "é", "<|bos|>"]);
    assert_eq!(pieces[3].kind, TokenKind::Control);
    let json = serde_json::to_string(&pieces[0]).expect("serializes");
    assert!(
        json.contains("\"text\":\"hello\"") && json.contains("\"kind\":\"normal\""),
        "{json}"
    );
}
