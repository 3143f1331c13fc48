//! The metadata of a synthetic gpt-oss file: the keys llama.cpp's converter
//! (`convert_hf_to_gguf.py`, GptOssModel) writes for gpt-oss, in its order:
//! `general.*`, the `gpt-oss.*` hyper-parameters, and `tokenizer.*` with the
//! real o200k_harmony vocabulary and a compact harmony chat template.

use crate::gguf::GgufValue;
use crate::tokenizer::meta::metadata_from_vocab;

use super::preset::{Hparams, Preset};
use super::vocab::Vocab;

/// The architecture name of gpt-oss in GGUF.
pub const ARCH: &str = "gpt-oss";
/// `general.file_type` for "mostly Q8_0" (llama.cpp's `LLAMA_FTYPE_MOSTLY_Q8_0`).
pub const FILE_TYPE_MOSTLY_Q8_0: u32 = 7;
/// `general.quantization_version` of the current ggml quantization formats.
pub const QUANTIZATION_VERSION: u32 = 2;
/// The data alignment mkmodel writes.
pub const ALIGNMENT: u32 = 32;

/// kchat's harmony chat template (Jinja), stored as `tokenizer.chat_template`.
pub fn chat_template() -> &'static str {
    include_str!("chat_template.jinja").trim_end()
}

/// All metadata keys of a synthetic model of preset `preset` with these
/// hyper-parameters and vocabulary.
pub fn metadata(preset: Preset, hp: &Hparams, vocab: &Vocab) -> Vec<(String, GgufValue)> {
    let mut m: Vec<(String, GgufValue)> = Vec::with_capacity(40);
    let mut put = |k: &str, v: GgufValue| m.push((k.to_string(), v));
    let s = |v: &str| GgufValue::String(v.to_string());
    let a = |k: &str| format!("{ARCH}.{k}");

    put("general.architecture", s(ARCH));
    put("general.type", s("model"));
    put(
        "general.name",
        s(&format!("kchat synthetic gpt-oss {preset}")),
    );
    put("general.basename", s("kchat-synthetic-gpt-oss"));
    put("general.size_label", s(preset.name()));
    put(
        "general.description",
        s("Seeded random weights in the layout of gpt-oss-20b Q8_0, made by kchat mkmodel"),
    );
    put("general.alignment", GgufValue::U32(ALIGNMENT));

    put(&a("block_count"), GgufValue::U32(hp.n_layer));
    put(&a("context_length"), GgufValue::U32(hp.n_ctx));
    put(&a("embedding_length"), GgufValue::U32(hp.n_embd));
    put(&a("feed_forward_length"), GgufValue::U32(hp.n_ff_exp));
    put(&a("attention.head_count"), GgufValue::U32(hp.n_head));
    put(&a("attention.head_count_kv"), GgufValue::U32(hp.n_head_kv));
    put(&a("rope.freq_base"), GgufValue::F32(hp.rope_base));
    put(
        &a("attention.layer_norm_rms_epsilon"),
        GgufValue::F32(hp.rms_eps),
    );
    put(&a("expert_count"), GgufValue::U32(hp.n_expert));
    put(&a("expert_used_count"), GgufValue::U32(hp.n_expert_used));
    put(&a("attention.key_length"), GgufValue::U32(hp.head_dim));
    put(&a("attention.value_length"), GgufValue::U32(hp.head_dim));
    put("general.file_type", GgufValue::U32(FILE_TYPE_MOSTLY_Q8_0));
    put(&a("rope.scaling.type"), s("yarn"));
    put(&a("rope.scaling.factor"), GgufValue::F32(hp.rope_factor));
    put(
        &a("rope.scaling.original_context_length"),
        GgufValue::U32(hp.rope_orig_ctx),
    );
    put(
        &a("rope.scaling.yarn_beta_fast"),
        GgufValue::F32(hp.yarn_beta_fast),
    );
    put(
        &a("rope.scaling.yarn_beta_slow"),
        GgufValue::F32(hp.yarn_beta_slow),
    );
    put(&a("attention.sliding_window"), GgufValue::U32(hp.n_swa));
    put(
        &a("expert_feed_forward_length"),
        GgufValue::U32(hp.n_ff_exp),
    );
    put(
        "general.quantization_version",
        GgufValue::U32(QUANTIZATION_VERSION),
    );

    // The vocabulary keys, exactly as the tokenizer reads them back.
    for (key, value) in metadata_from_vocab(vocab) {
        put(key, value);
    }
    put("tokenizer.ggml.add_bos_token", GgufValue::Bool(false));
    put("tokenizer.chat_template", s(chat_template()));
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mkmodel::vocab::TokenType;

    fn small_vocab() -> Vocab {
        Vocab {
            tokens: vec!["a".into(), "b".into(), "ab".into()],
            token_types: vec![TokenType::Normal, TokenType::Normal, TokenType::Control],
            merges: vec!["a b".into()],
            bos_id: 0,
            eos_id: 1,
            pad_id: 2,
        }
    }

    #[test]
    fn keys_are_unique_and_typed_as_llama_cpp_reads_them() {
        let hp = Preset::Small.hparams();
        let m = metadata(Preset::Small, &hp, &small_vocab());
        let mut keys: Vec<&str> = m.iter().map(|(k, _)| k.as_str()).collect();
        let get = |k: &str| {
            m.iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
                .expect(k)
        };
        assert_eq!(
            get("general.architecture"),
            GgufValue::String("gpt-oss".into())
        );
        assert_eq!(get("gpt-oss.block_count"), GgufValue::U32(4));
        assert_eq!(
            get("gpt-oss.expert_feed_forward_length"),
            GgufValue::U32(2880)
        );
        assert_eq!(get("gpt-oss.attention.sliding_window"), GgufValue::U32(128));
        assert_eq!(
            get("gpt-oss.rope.scaling.type"),
            GgufValue::String("yarn".into())
        );
        assert_eq!(get("general.file_type"), GgufValue::U32(7));
        assert_eq!(get("tokenizer.ggml.add_bos_token"), GgufValue::Bool(false));
        assert_eq!(
            get("tokenizer.ggml.token_type")
                .as_array()
                .map(|a| a[2].clone()),
            Some(GgufValue::I32(3))
        );
        keys.sort();
        let n = keys.len();
        keys.dedup();
        assert_eq!(keys.len(), n, "no key twice");
    }

    #[test]
    fn the_chat_template_is_harmony() {
        let t = chat_template();
        // llama.cpp recognises the gpt-oss format by these two tokens.
        assert!(t.contains("<|start|>") && t.contains("<|channel|>"));
        assert!(t.ends_with("{% endif %}"));
    }
}
