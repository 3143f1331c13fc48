//! Models kchat must refuse with a clear one-line error, never a panic or a
//! ggml abort: another architecture, metadata that contradicts the tensors,
//! missing or extra tensors, wrong tensor types, inconsistent heads.
//! Each case is the tiny model rewritten with one thing changed.

mod common;

use std::path::{Path, PathBuf};

use kchat::ggml::GgmlType;
use kchat::gguf::{GgufModel, GgufValue, GgufWriter, TensorSpec};

/// Rewrites the tiny model to `name` with `meta` and `tensors` edited.
fn variant(
    dir: &Path,
    name: &str,
    edit_meta: impl Fn(&mut Vec<(String, GgufValue)>),
    edit_tensors: impl Fn(&mut Vec<(TensorSpec, Vec<u8>)>),
) -> PathBuf {
    let src = GgufModel::open(common::tiny_model()).expect("open tiny");
    let mut meta: Vec<(String, GgufValue)> = src
        .metadata()
        .iter()
        .map(|(k, v)| (k.to_owned(), v.clone()))
        .collect();
    edit_meta(&mut meta);
    let mut tensors: Vec<(TensorSpec, Vec<u8>)> = src
        .tensors()
        .map(|t| {
            (
                TensorSpec::new(t.info.name.clone(), t.info.ty, &t.info.dims),
                t.data.to_vec(),
            )
        })
        .collect();
    edit_tensors(&mut tensors);
    let path = dir.join(name);
    let specs = tensors.iter().map(|(s, _)| s.clone()).collect();
    let mut w = GgufWriter::create(&path, &meta, specs).expect("create");
    for (s, data) in &tensors {
        w.write_tensor(&s.name, data).expect("write tensor");
    }
    w.finish().expect("finish");
    path
}

fn set(meta: &mut [(String, GgufValue)], key: &str, v: GgufValue) {
    let slot = meta.iter_mut().find(|(k, _)| k == key).expect(key);
    slot.1 = v;
}

fn refused(path: &Path) -> String {
    let p = path.to_str().expect("utf-8");
    let e = common::fails(&["run", "-m", p, "--raw", "-p", "hi", "-n", "1", "-t", "1"]);
    assert_eq!(e.trim_end().lines().count(), 1, "one line: {e}");
    assert!(e.contains(p), "names the file: {e}");
    e
}

#[test]
fn inconsistent_models_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let none = |_: &mut Vec<(TensorSpec, Vec<u8>)>| {};
    let keep = |_: &mut Vec<(String, GgufValue)>| {};

    let p = variant(
        d,
        "arch.gguf",
        |m| set(m, "general.architecture", GgufValue::String("llama".into())),
        none,
    );
    // The tokenizer comes first; either way the architecture is named.
    let e = refused(&p);
    assert!(e.contains("llama"), "{e}");

    let p = variant(
        d,
        "width.gguf",
        |m| set(m, "gpt-oss.embedding_length", GgufValue::U32(128)),
        none,
    );
    let e = refused(&p);
    assert!(
        e.contains("token_embd.weight") && e.contains("does not match the metadata"),
        "{e}"
    );

    let p = variant(
        d,
        "heads.gguf",
        |m| set(m, "gpt-oss.attention.head_count_kv", GgufValue::U32(3)),
        none,
    );
    let e = refused(&p);
    assert!(e.contains("head_count_kv"), "{e}");

    let p = variant(
        d,
        "experts.gguf",
        |m| set(m, "gpt-oss.expert_used_count", GgufValue::U32(9)),
        none,
    );
    let e = refused(&p);
    assert!(e.contains("expert_used_count"), "{e}");

    let p = variant(d, "missing.gguf", keep, |t| {
        t.retain(|(s, _)| s.name != "blk.2.attn_sinks.weight")
    });
    let e = refused(&p);
    assert!(
        e.contains("blk.2.attn_sinks.weight") && e.contains("missing"),
        "{e}"
    );

    let p = variant(d, "extra.gguf", keep, |t| {
        t.push((
            TensorSpec::new("blk.9.surprise.weight", GgmlType::F32, &[8]),
            vec![0u8; 32],
        ))
    });
    let e = refused(&p);
    assert!(e.contains("blk.9.surprise.weight"), "{e}");

    let p = variant(d, "type.gguf", keep, |t| {
        let (s, data) = t
            .iter_mut()
            .find(|(s, _)| s.name == "blk.0.attn_norm.weight")
            .expect("norm");
        s.ty = GgmlType::F16;
        data.truncate(data.len() / 2);
    });
    let e = refused(&p);
    assert!(
        e.contains("blk.0.attn_norm.weight") && e.contains("F32"),
        "{e}"
    );
}
