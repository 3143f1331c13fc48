//! A seeded generator of varied text for tokenizer parity tests and benchmarks:
//! code in several languages, prose with mixed case and contractions, CJK,
//! Arabic, Hindi, emoji with ZWJ sequences, runs of whitespace, numbers of
//! every length, harmony markup, and random Unicode from every plane.

use crate::rng::SplitMix64;

/// A seeded generator for test text: kchat's SplitMix64 with helpers for
/// picking characters and lengths.
#[derive(Debug, Clone)]
pub struct Rng(SplitMix64);

impl Rng {
    /// A generator with `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(SplitMix64::new(seed))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: u32, hi: u32) -> u32 {
        lo + (self.next_u64() % u64::from(hi - lo + 1)) as u32
    }

    /// True with probability `num / den`.
    pub fn chance(&mut self, num: usize, den: usize) -> bool {
        self.below(den) < num
    }

    /// One element of `items` (not empty).
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

const WORDS: &[&str] = &[
    "the",
    "model",
    "token",
    "server",
    "Hello",
    "WORLD",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "lazy",
    "dog",
    "iPhone",
    "McDonald",
    "JavaScript",
    "naïve",
    "café",
    "résumé",
    "Straße",
    "ÉCOLE",
    "über",
    "a",
    "I",
    "OK",
    "eBay",
    "GPU",
    "kernel",
    "ggml",
    "llama",
    "unbelievable",
    "antidisestablishmentarianism",
    "x",
    "yes",
    "No",
    "maybe",
    "ALLCAPS",
    "camelCase",
    "snake_case",
    "kebab-case",
    "ǅemal",
    "ΑΒΓ",
    "αβγ",
    "Москва",
    "привет",
];
const CONTRACTIONS: &[&str] = &[
    "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'VE", "'M", "'LL", "'D",
    "'Re", "'rE", "'Ll", "'lL", "'vE", "'ſ", "’s", "’ll", "''s", "'x",
];
const PUNCT: &[&str] = &[
    ".", ",", "!", "?", ";", ":", "...", " - ", " — ", "(", ")", "\"", "'", "«", "»", "¿", "¡",
    "…", "/", "//", "#", "@", "&", "*", "%", "$", "€", "£", "¥", "+", "=", "<", ">", "[", "]",
];
const CODE: &[&str] = &[
    "fn {id}(x: &[u8]) -> Result<Vec<u32>, Error> {\n    let mut out = Vec::with_capacity({n});\n    for (i, b) in x.iter().enumerate() {\n        out.push(u32::from(*b) << {n});\n    }\n    Ok(out)\n}\n",
    "def {id}(self, items: list[str], n={n}) -> dict:\n    \"\"\"Docstring with 'quotes' and {n} items.\"\"\"\n    return {k: v for k, v in zip(items, range(n)) if k != ''}\n",
    "#include <stdio.h>\nint {id}(int argc, char **argv) {\n\tfor (int i = 0; i < {n}; ++i) {\n\t\tprintf(\"%d\\n\", argv[i][0]);\n\t}\n\treturn 0;\n}\n",
    "const {id} = async (req, res) => {\n  const { data } = await fetch(`/api/v1/${req.id}?n={n}`);\n  return res.json({ ok: true, count: data?.length ?? 0 });\n};\n",
    "func {id}(ctx context.Context, n int) (err error) {\n\tif n > {n} {\n\t\treturn fmt.Errorf(\"too many: %d\", n)\n\t}\n\treturn nil\n}\n",
    "SELECT u.id, COUNT(*) AS n FROM users u JOIN orders o ON o.user_id = u.id WHERE o.total > {n} GROUP BY u.id HAVING n >= 2; -- {id}\n",
    "#!/usr/bin/env bash\nset -euo pipefail\nfor f in ./src/*.rs; do grep -n '{id}' \"$f\" | head -{n} || true; done\n",
    "<div class=\"{id}\" data-n=\"{n}\">\n  <p>Hello&nbsp;world &amp; friends</p>\n  <!-- comment -->\n</div>\n",
    "{\"{id}\": [{n}, -1.5e-3, true, null, \"\\u00e9\\n\"], \"nested\": {\"k\": \"v\"}}\n",
    "    /// Doc comment for {id}.\n    pub struct {id}<'a, T: Clone + 'a> { inner: &'a [T; {n}] }\n",
];
const CJK: &[&str] = &[
    "我们今天讨论人工智能的发展。",
    "東京は日本の首都です。ひらがなとカタカナ、漢字を混ぜて書きます。",
    "대한민국의 수도는 서울입니다. 한국어 문장을 씁니다.",
    "这个模型可以处理中文、日本語和한국어。",
    "ｆｕｌｌｗｉｄｔｈ　ＡＢＣ　１２３",
];
const ARABIC: &[&str] = &[
    "مرحبا بالعالم، هذا نص عربي.",
    "اَلْعَرَبِيَّةُ لُغَةٌ جَمِيلَةٌ",
    "الرقم ١٢٣٤٥ والرقم 67890",
];
const HINDI: &[&str] = &[
    "नमस्ते दुनिया, यह हिंदी में एक वाक्य है।",
    "क्षत्रिय श्रृंगार ज्ञान द्वारा",
    "संख्या १२३४५६ है",
];
const EMOJI: &[&str] = &[
    "👨\u{200d}👩\u{200d}👧\u{200d}👦",
    "👩🏽\u{200d}💻",
    "🏳\u{fe0f}\u{200d}🌈",
    "🧑🏿\u{200d}🤝\u{200d}🧑🏻",
    "1\u{fe0f}\u{20e3}",
    "🇯🇵🇫🇷🇺🇸",
    "❤\u{fe0f}",
    "😀😃😄",
    "🏴\u{e0067}\u{e0062}\u{e0073}\u{e0063}\u{e0074}\u{e007f}",
    "👍🏼",
];
const HARMONY: &[&str] = &[
    "<|start|>user<|message|>What is 2+2?<|end|><|start|>assistant<|channel|>final<|message|>4<|return|>",
    "<|start|>assistant to=functions.bash<|channel|>commentary <|constrain|>json<|message|>{\"command\":\"ls\"}<|call|>",
    "<|startoftext|>text<|endoftext|> <|reserved_200013|> <|reserved_201087|> <|start|",
    "<|<|start|>|> <|END|> <| start |>",
];
const SPACES: &[&str] = &[
    " ", "  ", "\t", "\n", "\r\n", "\r", "\u{a0}", "\u{3000}", "\u{2003}", "\u{2028}", "\u{b}",
    "\u{c}", "\u{85}",
];

fn fill(rng: &mut Rng, template: &str) -> String {
    let mut s = template.to_owned();
    while let Some(at) = s.find("{id}") {
        let id = format!("{}_{}", rng.pick(WORDS), rng.below(1000));
        s.replace_range(at..at + 4, &id);
    }
    while let Some(at) = s.find("{n}") {
        let n = rng.below(100_000).to_string();
        s.replace_range(at..at + 3, &n);
    }
    s
}

fn prose(rng: &mut Rng, out: &mut String) {
    for _ in 0..rng.range(5, 40) {
        if rng.chance(1, 2) {
            out.push(' ');
        }
        let w = rng.pick(WORDS);
        match rng.below(6) {
            0 => out.push_str(&w.to_uppercase()),
            1 => out.push_str(&w.to_lowercase()),
            _ => out.push_str(w),
        }
        if rng.chance(1, 5) {
            out.push_str(rng.pick(CONTRACTIONS));
        }
        if rng.chance(1, 6) {
            out.push_str(rng.pick(PUNCT));
        }
    }
}

fn whitespace(rng: &mut Rng, out: &mut String) {
    let len = match rng.below(4) {
        0 => rng.range(1, 4),
        1 => rng.range(5, 40),
        2 => rng.range(40, 300),
        _ => rng.range(1, 12),
    };
    let kind = rng.below(3);
    for _ in 0..len {
        match kind {
            0 => out.push(' '),
            1 => out.push_str(rng.pick(&[" ", "\t", "\n"])),
            _ => out.push_str(rng.pick(SPACES)),
        }
    }
    if rng.chance(2, 3) {
        out.push_str(rng.pick(WORDS));
    }
}

fn numbers(rng: &mut Rng, out: &mut String) {
    let len = rng.range(1, 64) as usize;
    let sep = rng.pick(&["", " ", ",", ".", "_", "-", "/", ":"]);
    for i in 0..len {
        if !sep.is_empty() && i > 0 && rng.chance(1, 4) {
            out.push_str(sep);
        }
        out.push(char::from(b'0' + rng.below(10) as u8));
    }
    if rng.chance(1, 4) {
        out.push_str(rng.pick(&["٣٤", "१२३", "１２３", "½", "²³", "Ⅻ", "①②", "𝟙𝟚"]));
    }
    out.push(' ');
}

/// A random Unicode scalar value: any plane, weighted toward assigned blocks,
/// with combining marks now and then.
fn random_char(rng: &mut Rng) -> char {
    let code = match rng.below(10) {
        0 => rng.range(0, 0x7f),
        1 => rng.range(0x80, 0x7ff),
        2 => rng.range(0x300, 0x36f),
        3 | 4 => rng.range(0x800, 0xffff),
        5 => rng.range(0x1_0000, 0x1_ffff),
        6 => rng.range(0x2_0000, 0x3_ffff),
        7 => rng.range(0xe_0000, 0xe_01ef),
        8 => rng.range(0x4_0000, 0x10_ffff),
        _ => rng.range(0x1f300, 0x1faff),
    };
    char::from_u32(code).unwrap_or('\u{fffd}')
}

fn random_unicode(rng: &mut Rng, out: &mut String) {
    for _ in 0..rng.range(1, 60) {
        out.push(random_char(rng));
        if rng.chance(1, 5) {
            out.push(char::from_u32(rng.range(0x300, 0x36f)).unwrap_or('\u{301}'));
        }
    }
}

/// At least `min_bytes` of varied text, the same for the same `seed`.
pub fn generate(seed: u64, min_bytes: usize) -> String {
    let mut rng = Rng::new(seed);
    let mut out = String::with_capacity(min_bytes + 4096);
    while out.len() < min_bytes {
        match rng.below(14) {
            0..=2 => prose(&mut rng, &mut out),
            3 | 4 => {
                let t = rng.pick(CODE);
                out.push_str(&fill(&mut rng, t));
            }
            5 => out.push_str(rng.pick(CJK)),
            6 => out.push_str(rng.pick(ARABIC)),
            7 => out.push_str(rng.pick(HINDI)),
            8 => {
                for _ in 0..rng.range(1, 4) {
                    out.push_str(rng.pick(EMOJI));
                }
            }
            9 => whitespace(&mut rng, &mut out),
            10 => numbers(&mut rng, &mut out),
            11 => random_unicode(&mut rng, &mut out),
            12 => out.push_str(rng.pick(HARMONY)),
            _ => out.push_str(rng.pick(PUNCT)),
        }
        if rng.chance(1, 3) {
            out.push_str(rng.pick(SPACES));
        }
    }
    out
}

/// Chat-like text (prose, code, numbers) of about `min_bytes`, for the
/// long-prompt benchmark.
pub fn prompt_text(seed: u64, min_bytes: usize) -> String {
    let mut rng = Rng::new(seed);
    let mut out = String::with_capacity(min_bytes + 4096);
    while out.len() < min_bytes {
        match rng.below(6) {
            0..=2 => prose(&mut rng, &mut out),
            3 | 4 => {
                let t = rng.pick(CODE);
                out.push_str(&fill(&mut rng, t));
            }
            _ => numbers(&mut rng, &mut out),
        }
        out.push_str(rng.pick(&[" ", "\n", "\n\n"]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corpus_is_deterministic_and_varied() {
        let a = generate(7, 200_000);
        assert_eq!(a, generate(7, 200_000));
        assert_ne!(a, generate(8, 200_000));
        assert!(a.len() >= 200_000);
        for needle in [
            "👨\u{200d}👩",
            "नमस्ते",
            "مرحبا",
            "我们",
            "fn ",
            "'ll",
            "<|start|>",
            "\t\t",
        ] {
            assert!(a.contains(needle), "corpus lacks {needle:?}");
        }
        assert!(
            a.chars().any(|c| u32::from(c) > 0x3_0000),
            "no high-plane text"
        );
        assert!(
            a.chars().any(|c| ('\u{300}'..='\u{36f}').contains(&c)),
            "no combining marks"
        );
    }
}
