//! Helpers shared by the end-to-end tests: run the real `kchat` binary.

#![allow(dead_code)]

use std::process::{Command, Output};

/// Runs `kchat ARGS` and collects its output.
pub fn kchat(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kchat"))
        .args(args)
        .output()
        .expect("run kchat")
}

/// Runs `kchat ARGS`, which must fail cleanly (an error, not a panic), and
/// returns its standard error.
pub fn fails(args: &[&str]) -> String {
    let out = kchat(args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "kchat {args:?} should fail");
    assert!(!err.contains("panicked"), "a refusal is not a panic: {err}");
    err
}

/// The tiny preset, written once per test binary by the real `kchat mkmodel`.
pub fn tiny_model() -> &'static std::path::Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("tiny.gguf");
        let out = kchat(&[
            "mkmodel",
            "--preset",
            "tiny",
            "-o",
            path.to_str().expect("utf-8"),
        ]);
        assert!(
            out.status.success(),
            "mkmodel tiny failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        dir
    });
    Box::leak(dir.path().join("tiny.gguf").into_boxed_path())
}

/// The harmony text of the model calling function `name` with JSON `args`,
/// as a reply after `<|start|>assistant` (for scripted replies).
pub fn harmony_call(name: &str, args: &str) -> String {
    format!("<|channel|>commentary to=functions.{name} <|constrain|>json<|message|>{args}<|call|>")
}

/// The harmony text of the model's final answer `text`, ending the turn.
pub fn harmony_answer(text: &str) -> String {
    format!("<|channel|>final<|message|>{text}<|return|>")
}
