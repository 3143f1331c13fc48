//! End-to-end test of `kchat bench -m MODEL`: the real binary writes the
//! tiny model, then benchmarks libllama on it with llama.cpp-style flags.

use std::path::Path;

mod common;
use common::{fails, kchat};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn tiny(dir: &Path) -> String {
    let path = dir.join("tiny.gguf");
    let path = path.to_str().expect("utf-8").to_string();
    let out = kchat(&["mkmodel", "--preset", "tiny", "-o", &path]);
    assert!(out.status.success(), "mkmodel: {}", text(&out.stderr));
    path
}

#[test]
fn bench_llama_json_and_table() {
    let dir = tempfile::tempdir().expect("tempdir");
    let model = tiny(dir.path());
    // One thread: the test machine may be busy, and spinning ggml threads
    // then wait on each other.
    let common = [
        "bench", "-m", &model, "--engine", "llama", "-p", "16", "-n", "4", "-r", "2", "-t", "1",
        "-ngl", "0", "-fa", "on", "-ub", "8",
    ];
    let out = kchat(&[&common[..], &["--json"]].concat());
    assert!(out.status.success(), "bench --json: {}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", text(&out.stdout)));
    assert_eq!(report["flash_attn"], "on");
    assert_eq!(report["n_ubatch"], 8);
    assert_eq!(report["repetitions"], 2);
    let rows = report["rows"].as_array().expect("rows");
    let tests: Vec<&str> = rows.iter().filter_map(|r| r["test"].as_str()).collect();
    assert_eq!(tests, ["pp16", "tg4"]);
    for row in rows {
        let results = row["results"].as_array().expect("results");
        assert_eq!(results.len(), 1);
        assert_eq!(results[0]["engine"], "libllama");
        let samples = results[0]["samples_ts"].as_array().expect("samples");
        assert_eq!(samples.len(), 2);
        for v in samples.iter().chain([&results[0]["median_ts"]]) {
            let ts = v.as_f64().expect("a number");
            assert!(ts.is_finite() && ts > 0.0, "t/s {ts} in {row}");
        }
    }

    // The table: a heading, a rule and a row per test, columns lined up.
    let out = kchat(&common);
    assert!(out.status.success(), "bench: {}", text(&out.stderr));
    let table = text(&out.stdout);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 4, "{table}");
    assert!(lines[0].contains("libllama t/s"), "{table}");
    assert!(
        lines[2].contains("pp16") && lines[3].contains("tg4"),
        "{table}"
    );
}

#[test]
fn bench_refusals_are_clear() {
    let err = fails(&["bench", "-m", "/nonexistent/m.gguf", "--engine", "llama"]);
    assert!(err.contains("/nonexistent/m.gguf"), "{err}");
    let err = fails(&["bench", "-m", "/nonexistent/m.gguf", "--vs-llama"]);
    assert!(err.contains("/nonexistent/m.gguf"), "{err}");
    let err = fails(&[
        "bench", "-m", "x.gguf", "--engine", "llama", "-p", "0", "-n", "0",
    ]);
    assert!(err.contains("nothing to measure"), "{err}");
    // The tokenizer benchmark is still a subcommand of its own.
    let out = kchat(&["bench", "tokenizer", "--help"]);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("tiktoken"));
}

#[test]
fn bench_vs_llama_measures_both_engines_alternating() {
    let model = common::tiny_model().to_str().expect("utf-8");
    let out = kchat(&[
        "bench",
        "-m",
        model,
        "--vs-llama",
        "-p",
        "16",
        "-n",
        "4",
        "-r",
        "2",
        "-t",
        "1",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "bench --vs-llama: {}",
        text(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", text(&out.stdout)));
    for row in report["rows"].as_array().expect("rows") {
        let engines: Vec<&str> = row["results"]
            .as_array()
            .expect("results")
            .iter()
            .filter_map(|r| r["engine"].as_str())
            .collect();
        assert_eq!(engines, ["kchat", "libllama"], "{row}");
        for r in row["results"].as_array().expect("results") {
            let ts = r["median_ts"].as_f64().expect("t/s");
            assert!(ts.is_finite() && ts > 0.0, "{row}");
        }
    }
}

#[test]
fn bench_chat_reuses_each_earlier_turn() {
    let dir = tempfile::tempdir().expect("tempdir");
    let model = tiny(dir.path());
    let out = kchat(&[
        "bench", "chat", "-m", &model, "--turns", "3", "--reply", "4", "-t", "1", "--json",
    ]);
    assert!(out.status.success(), "bench chat: {}", text(&out.stderr));
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", text(&out.stdout)));
    let rows = rows.as_array().expect("rows");
    assert_eq!(rows.len(), 3);
    let n = |r: &serde_json::Value, k: &str| r[k].as_u64().expect(k);
    assert_eq!(n(&rows[0], "reused"), 0);
    for w in rows.windows(2) {
        // The earlier prompt stays cached (all of it, or all but the token
        // where the rendered reply parts from the sampled one).
        assert!(n(&w[1], "reused") + 1 >= n(&w[0], "prompt_tokens"), "{w:?}");
        assert_eq!(
            n(&w[1], "reused") + n(&w[1], "prefilled"),
            n(&w[1], "prompt_tokens")
        );
        assert!(
            n(&w[1], "prefilled") < n(&w[1], "prompt_tokens") / 2,
            "{w:?}"
        );
    }
}
