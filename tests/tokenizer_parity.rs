//! Parity of kchat's tokenizer, built from GGUF-form o200k_harmony metadata,
//! with tiktoken-rs's `o200k_harmony()`: ids on a generated corpus of more
//! than 1 MB, special-token handling, exact decode round trips, the
//! `tokenizers` pipeline built from the same metadata, parallel chunking,
//! and streaming decode.

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Instant;

use kchat::gguf::GgufValue;
use kchat::mkmodel::vocab::harmony_vocab;
use kchat::tokenizer::meta::metadata_from_vocab;
use kchat::tokenizer::{corpus, hf, Tokenizer};
use tiktoken_rs::CoreBPE;

const CORPUS_BYTES: usize = 1 << 20;

fn tok() -> &'static Tokenizer {
    static TOK: OnceLock<Tokenizer> = OnceLock::new();
    TOK.get_or_init(|| {
        let t = Instant::now();
        let vocab = harmony_vocab().expect("o200k_harmony vocabulary builds");
        let map: HashMap<String, GgufValue> = metadata_from_vocab(&vocab)
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        let tok = Tokenizer::from_gguf(|k| map.get(k)).expect("tokenizer builds from metadata");
        eprintln!("vocabulary + tokenizer built in {:.2?}", t.elapsed());
        tok
    })
}

fn tiktoken() -> &'static CoreBPE {
    static BPE: OnceLock<CoreBPE> = OnceLock::new();
    BPE.get_or_init(|| tiktoken_rs::o200k_harmony().expect("tiktoken-rs loads o200k_harmony"))
}

fn corpus_text() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| corpus::generate(20_250_805, CORPUS_BYTES))
}

/// The longest prefix of `text` of at most `n` bytes.
fn prefix(text: &str, n: usize) -> &str {
    let mut n = n.min(text.len());
    while !text.is_char_boundary(n) {
        n -= 1;
    }
    &text[..n]
}

/// Panics at the first differing id, showing the text around it.
fn assert_same_ids(what: &str, ours: &[u32], theirs: &[u32]) {
    if ours == theirs {
        return;
    }
    let tok = tok();
    let i = ours
        .iter()
        .zip(theirs)
        .position(|(a, b)| a != b)
        .unwrap_or(ours.len().min(theirs.len()));
    let show = |ids: &[u32]| -> Vec<String> {
        ids.iter()
            .map(|&id| {
                let b = tok.token_bytes(id).unwrap_or_default();
                format!("{id}:{:?}", String::from_utf8_lossy(b))
            })
            .collect()
    };
    let from = i.saturating_sub(3);
    panic!(
        "{what}: ids differ at token {i} (ours {} tokens, tiktoken {})\n  ours:     {:?}\n  tiktoken: {:?}",
        ours.len(),
        theirs.len(),
        show(&ours[from..(i + 4).min(ours.len())]),
        show(&theirs[from..(i + 4).min(theirs.len())]),
    );
}

#[test]
fn corpus_ids_equal_tiktoken_and_decode_round_trips() {
    let text = corpus_text();
    assert!(text.len() >= CORPUS_BYTES);
    let tok = tok();
    let t = Instant::now();
    let theirs = tiktoken().encode_ordinary(text);
    let t_tik = t.elapsed();
    let t = Instant::now();
    let ours = tok.encode(text, false);
    let t_ours = t.elapsed();
    eprintln!(
        "{} bytes -> {} tokens: kchat {t_ours:.2?}, tiktoken-rs {t_tik:.2?}",
        text.len(),
        ours.len()
    );
    assert_same_ids("1 MB corpus, ordinary", &ours, &theirs);
    assert_eq!(
        tok.decode(&ours).expect("decodes"),
        text,
        "decode round trip"
    );
    assert_eq!(tiktoken().decode(&ours).expect("tiktoken decodes"), text);
}

#[test]
fn special_tokens_are_parsed_only_when_asked() {
    let tok = tok();
    let bpe = tiktoken();
    assert_eq!(tok.vocab_size(), 201_088);
    assert_eq!(tok.bos(), Some(199_998));
    assert_eq!(tok.eos(), Some(200_002));
    assert_eq!(tok.pad(), Some(199_999));
    for (text, id) in [
        ("<|start|>", 200_006),
        ("<|end|>", 200_007),
        ("<|message|>", 200_008),
        ("<|channel|>", 200_005),
        ("<|call|>", 200_012),
        ("<|return|>", 200_002),
        ("<|constrain|>", 200_003),
        ("<|reserved_201087|>", 201_087),
    ] {
        assert_eq!(tok.id_of_special(text), Some(id), "{text}");
        assert_eq!(tok.token_bytes(id), Some(text.as_bytes()));
    }
    assert_eq!(tok.id_of_special("hello"), None);

    let user = "Please print <|start|>assistant<|message|> literally <|end|>";
    let plain = tok.encode(user, false);
    assert!(
        plain.iter().all(|&id| id < 199_998),
        "specials leaked: {plain:?}"
    );
    assert_same_ids(
        "user text, specials off",
        &plain,
        &bpe.encode_ordinary(user),
    );
    let parsed = tok.encode(user, true);
    assert!(parsed.contains(&200_006) && parsed.contains(&200_007));
    assert_same_ids(
        "user text, specials on",
        &parsed,
        &bpe.encode_with_special_tokens(user),
    );

    // The whole corpus (it holds harmony markup) with specials parsed.
    let text = corpus_text();
    let ours = tok.encode(text, true);
    assert_same_ids(
        "1 MB corpus, specials on",
        &ours,
        &bpe.encode_with_special_tokens(text),
    );
    assert_eq!(tok.decode(&ours).expect("decodes"), text);
}

#[test]
fn tokenizers_pipeline_from_the_same_metadata_equals_tiktoken() {
    let tok = tok();
    let text = prefix(corpus_text(), 256 * 1024);
    let plain = hf::build(tok.spec(), false).expect("pipeline builds");
    let t = Instant::now();
    let ids = plain.encode_fast(text, false).expect("encodes");
    eprintln!(
        "tokenizers pipeline: {} bytes in {:.2?}",
        text.len(),
        t.elapsed()
    );
    assert_same_ids(
        "tokenizers pipeline, ordinary",
        ids.get_ids(),
        &tiktoken().encode_ordinary(text),
    );
    let special = tok.hf().expect("pipeline builds");
    let ids = special.encode_fast(text, false).expect("encodes");
    assert_same_ids(
        "tokenizers pipeline, specials on",
        ids.get_ids(),
        &tiktoken().encode_with_special_tokens(text),
    );
}

#[test]
fn parallel_chunks_do_not_change_ids() {
    let tok = tok();
    let text = prefix(corpus_text(), 200_000);
    let whole = tok.encode_ordinary_chunked(text, usize::MAX / 2);
    for chunk in [1, 7, 100, 4096] {
        assert_same_ids(
            &format!("chunks of {chunk} bytes"),
            &tok.encode_ordinary_chunked(text, chunk),
            &whole,
        );
    }
    assert_same_ids(
        "sequential vs tiktoken",
        &whole,
        &tiktoken().encode_ordinary(text),
    );
}

#[test]
fn stream_decoding_never_prints_half_a_character() {
    let tok = tok();
    let text = "héllo 👨\u{200d}👩\u{200d}👧\u{200d}👦 你好世界 नमस्ते 🏳\u{fe0f}\u{200d}🌈 مرحبا 𝟙𝟚 \u{e0067}";
    let ids = tok.encode(text, false);
    let mut s = tok.stream_decoder();
    let mut out = String::new();
    let mut held_back = 0;
    for &id in &ids {
        let piece = s.push(id).expect("known id");
        assert!(!piece.contains('\u{fffd}'), "garbage mid-stream: {piece:?}");
        if piece.is_empty() {
            held_back += 1;
        }
        out.push_str(&piece);
    }
    out.push_str(&s.flush());
    assert_eq!(out, text);
    assert!(
        held_back > 0,
        "the sample should split some character across tokens"
    );
}

#[test]
fn random_strings_over_a_tricky_alphabet_equal_tiktoken() {
    // Characters from every class the split pattern tells apart: upper,
    // lower, title-case, modifier and other letters, both kinds of marks,
    // digits and other numbers, contraction letters and apostrophes, many
    // kinds of whitespace, punctuation, '/', emoji pieces.
    let alphabet: Vec<char> = "aZǅʰ中\u{301}\u{903}1٣½'’ſsStlLdDrRevmM \t\n\r\u{a0}\u{3000}\u{b}\u{85}/.!<|>😀\u{200d}\u{fe0f}"
        .chars()
        .collect();
    let tok = tok();
    let bpe = tiktoken();
    let mut rng = corpus::Rng::new(99);
    for _ in 0..20_000 {
        let len = rng.range(1, 24) as usize;
        let s: String = (0..len).map(|_| rng.pick(&alphabet)).collect();
        let theirs = bpe.encode_ordinary(&s);
        assert_same_ids(&format!("{s:?}"), &tok.encode(&s, false), &theirs);
        assert_same_ids(
            &format!("{s:?} cut at every safe point"),
            &tok.encode_ordinary_chunked(&s, 1),
            &theirs,
        );
        assert_eq!(tok.pre_tokenize(&s).concat(), s);
    }
}

#[test]
fn bench_runs_and_reports_the_same_ids_as_tiktoken() {
    use kchat::tokenizer::bench::{self, BenchOptions};
    let tok = bench::harmony_tokenizer().expect("harmony tokenizer builds");
    assert_eq!(tok.vocab_size(), 201_088);
    let opts = BenchOptions {
        reps: 1,
        corpus_bytes: 40_000,
        prompt_tokens: 3_000,
        seed: 1,
        with_hf: true,
        with_split: true,
    };
    let report = bench::run(&tok, &opts).expect("bench runs");
    assert_eq!(report.rows.len(), 10);
    for r in &report.rows {
        assert_ne!(r.same_ids_as_tiktoken, Some(false), "{r:?}");
        assert!(r.tokens > 0 && r.median_s > 0.0, "{r:?}");
    }
    let prompt = report
        .rows
        .iter()
        .find(|r| r.input == "prompt" && r.encoder == "tiktoken-rs")
        .expect("prompt row");
    assert!(
        (2_990..=3_000).contains(&prompt.tokens),
        "prompt has {} tokens",
        prompt.tokens
    );
    let shown = report.to_string();
    assert!(shown.contains("kchat vs tiktoken-rs"), "{shown}");
    eprintln!("{shown}");
}
