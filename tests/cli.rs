//! End-to-end tests of `kchat mkmodel`, `inspect`, `tokenize`, `detokenize` and
//! `--version`, running the real binary on real files it writes.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

mod common;
use common::kchat;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A directory with `tiny.gguf` and `split-0000{1,2}-of-00002.gguf`, made once.
fn models() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let tiny = dir.path().join("tiny.gguf");
        let out = kchat(&[
            "mkmodel",
            "--preset",
            "tiny",
            "--seed",
            "7",
            "-o",
            tiny.to_str().expect("utf8"),
        ]);
        assert!(
            out.status.success(),
            "mkmodel tiny failed: {}",
            text(&out.stderr)
        );
        let split = dir.path().join("split.gguf");
        let out = kchat(&[
            "mkmodel",
            "--preset",
            "tiny",
            "--split",
            "2",
            "-o",
            split.to_str().expect("utf8"),
        ]);
        assert!(
            out.status.success(),
            "mkmodel split failed: {}",
            text(&out.stderr)
        );
        dir
    })
    .path()
}

fn shard(i: u32) -> PathBuf {
    models().join(format!("split-{i:05}-of-00002.gguf"))
}

#[test]
fn inspect_describes_tiny_as_text() {
    let file = models().join("tiny.gguf");
    let out = kchat(&["inspect", file.to_str().expect("utf8")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    for needle in [
        "architecture  gpt-oss",
        "gpt-oss.block_count",
        "model gpt2, pre gpt-4o, 201088 tokens",
        "bos   199998 <|startoftext|>",
        "token_embd.weight",
        "blk.0.ffn_gate_exps.weight",
        "blk.0.attn_sinks.weight",
        "BF16",
        "Q8_0",
        "bits per weight",
    ] {
        assert!(s.contains(needle), "missing {needle:?} in:\n{s}");
    }
}

#[test]
fn inspect_json_is_consistent() {
    let file = models().join("tiny.gguf");
    let out = kchat(&["inspect", "--json", file.to_str().expect("utf8")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    assert_eq!(v["metadata"]["general.architecture"], "gpt-oss");
    assert_eq!(v["metadata"]["tokenizer.ggml.tokens"]["len"], 201_088);
    let tensors = v["tensors"].as_array().expect("tensor list");
    let sum: u64 = tensors
        .iter()
        .map(|t| t["bytes"].as_u64().expect("bytes"))
        .sum();
    assert_eq!(sum, v["tensor_bytes"].as_u64().expect("total"));
    let by_type: u64 = v["totals_by_type"]
        .as_array()
        .expect("totals")
        .iter()
        .map(|t| t["bytes"].as_u64().expect("b"))
        .sum();
    assert_eq!(by_type, sum);
    let experts = tensors
        .iter()
        .find(|t| t["name"] == "blk.0.ffn_up_exps.weight")
        .expect("experts");
    assert_eq!(experts["type"], "Q8_0");
    let q = tensors
        .iter()
        .find(|t| t["name"] == "blk.0.attn_q.weight")
        .expect("attn_q");
    assert_eq!(q["type"], "BF16");
}

#[test]
fn inspect_presents_a_split_model_as_one() {
    let out = kchat(&["inspect", "--json", shard(1).to_str().expect("utf8")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    assert_eq!(v["shards"].as_array().expect("shards").len(), 2);
    let shards: Vec<u64> = v["tensors"]
        .as_array()
        .expect("t")
        .iter()
        .map(|t| t["shard"].as_u64().expect("s"))
        .collect();
    assert!(
        shards.contains(&1) && shards.contains(&2),
        "tensors on both shards"
    );
    // Same model as the single file: same tensor names.
    let single = kchat(&[
        "inspect",
        "--json",
        models().join("tiny.gguf").to_str().expect("utf8"),
    ]);
    let s: serde_json::Value = serde_json::from_slice(&single.stdout).expect("valid JSON");
    let names = |v: &serde_json::Value| -> Vec<String> {
        let mut n: Vec<String> = v["tensors"]
            .as_array()
            .expect("t")
            .iter()
            .map(|t| t["name"].to_string())
            .collect();
        n.sort();
        n
    };
    assert_eq!(names(&v), names(&s));
}

fn assert_clean_error(out: &Output, must_name: &str) {
    let err = text(&out.stderr);
    assert!(!out.status.success(), "expected failure");
    assert!(
        !err.contains("panicked"),
        "panic instead of an error: {err}"
    );
    assert!(
        err.contains(must_name),
        "error should name {must_name:?}: {err}"
    );
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "one-line error expected: {err}"
    );
}

#[test]
fn missing_shard_is_an_error_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = dir.path().join("m-00001-of-00002.gguf");
    std::fs::copy(shard(1), &first).expect("copy shard 1");
    let out = kchat(&["inspect", first.to_str().expect("utf8")]);
    assert_clean_error(&out, "m-00002-of-00002.gguf");
}

#[test]
fn missing_and_truncated_files_are_clean_errors() {
    let out = kchat(&["inspect", "/nonexistent/model.gguf"]);
    assert_clean_error(&out, "/nonexistent/model.gguf");

    let dir = tempfile::tempdir().expect("tempdir");
    let cut = dir.path().join("cut.gguf");
    let bytes = std::fs::read(models().join("tiny.gguf")).expect("read tiny");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).expect("write cut");
    let out = kchat(&["inspect", cut.to_str().expect("utf8")]);
    assert_clean_error(&out, "cut.gguf");
}

#[test]
fn version_reports_ggml_and_devices() {
    let out = kchat(&["--version"]);
    assert!(out.status.success());
    let s = text(&out.stdout);
    assert!(
        s.contains("ggml:") && s.contains("llama-cpp-sys-2 0.1.161"),
        "{s}"
    );
    assert!(s.contains("devices:") && s.contains("CPU"), "{s}");
}

#[test]
fn tokenize_matches_tiktoken_and_detokenize_round_trips() {
    let file = models().join("tiny.gguf");
    let file = file.to_str().expect("utf8");
    let input = "Hello <|start|> wörld 😀 1234567 \t\n  fn main() {}";
    let bpe = tiktoken_rs::o200k_harmony().expect("tiktoken");

    let out = kchat(&["tokenize", "-m", file, "--ids", input]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let want: Vec<String> = bpe
        .encode_ordinary(input)
        .iter()
        .map(u32::to_string)
        .collect();
    assert_eq!(text(&out.stdout).trim(), format!("[{}]", want.join(", ")));

    let out = kchat(&["tokenize", "-m", file, "--special", "--json", input]);
    let pieces: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let ids: Vec<u32> = pieces
        .as_array()
        .expect("list")
        .iter()
        .map(|p| p["id"].as_u64().expect("id") as u32)
        .collect();
    assert_eq!(ids, bpe.encode_with_special_tokens(input));
    assert!(
        ids.contains(&200_006),
        "<|start|> parsed as special with --special"
    );

    let list: Vec<String> = ids.iter().map(u32::to_string).collect();
    let out = kchat(&["detokenize", "-m", file, &list.join(",")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), input);

    let out = kchat(&["detokenize", "-m", file, "12", "banana"]);
    assert_clean_error(&out, "banana");
}
