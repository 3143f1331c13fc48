//! `kchat run` through the real binary on the tiny model: streaming, JSON
//! reports, seeds, and clean refusals.

mod common;

use common::{fails, kchat, tiny_model};

fn run_json(extra: &[&str]) -> serde_json::Value {
    let m = tiny_model().to_str().expect("utf-8");
    let mut args = vec!["run", "-m", m, "-t", "2", "--json"];
    args.extend_from_slice(extra);
    let out = kchat(&args);
    assert!(
        out.status.success(),
        "kchat {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON report")
}

fn ids(v: &serde_json::Value) -> Vec<u64> {
    v["ids"]
        .as_array()
        .expect("ids")
        .iter()
        .filter_map(|x| x.as_u64())
        .collect()
}

#[test]
fn raw_mode_streams_text() {
    let m = tiny_model().to_str().expect("utf-8");
    let out = kchat(&[
        "run",
        "-m",
        m,
        "-t",
        "2",
        "--raw",
        "-p",
        "Once upon a time",
        "-n",
        "12",
        "--seed",
        "3",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.trim().chars().count() >= 12, "streamed text: {text:?}");
}

#[test]
fn json_reports_ids_timings_and_the_stop_reason() {
    let v = run_json(&["-p", "Hello", "-n", "8", "--seed", "1"]);
    assert_eq!(ids(&v).len(), 8);
    assert_eq!(v["stop"], "limit");
    assert!(
        v["prompt_tokens"].as_u64().expect("prompt tokens") > 20,
        "harmony wrapper"
    );
    assert!(v["decode_tokens_per_s"].as_f64().expect("t/s") > 0.0);
    assert_eq!(v["placement"], "all layers on the CPU");
    let raw = run_json(&["-p", "Hello", "-n", "1", "--raw"]);
    assert_eq!(raw["prompt_tokens"], 1);
}

#[test]
fn same_seed_same_tokens_and_greedy_is_deterministic() {
    let a = run_json(&["-p", "Hi", "-n", "10", "--seed", "42"]);
    let b = run_json(&["-p", "Hi", "-n", "10", "--seed", "42"]);
    let c = run_json(&["-p", "Hi", "-n", "10", "--seed", "43"]);
    assert_eq!(ids(&a), ids(&b));
    assert_ne!(ids(&a), ids(&c));
    let g1 = run_json(&["-p", "Hi", "-n", "6", "--temp", "0", "--seed", "1"]);
    let g2 = run_json(&["-p", "Hi", "-n", "6", "--temp", "0", "--seed", "2"]);
    assert_eq!(ids(&g1), ids(&g2));
}

#[test]
fn bad_input_gets_a_one_line_error() {
    let m = tiny_model().to_str().expect("utf-8");
    let e = fails(&["run", "-m", "/nonexistent/model.gguf", "-p", "x"]);
    assert!(e.contains("/nonexistent/model.gguf"), "{e}");
    let e = fails(&["run", "-m", m, "-p", "x", "--persona", "sneaky"]);
    assert!(e.contains("--persona"), "{e}");
    let e = fails(&["run", "-m", m, "-p", "x", "--reasoning", "max"]);
    assert!(e.contains("--reasoning"), "{e}");
    let e = fails(&["run", "-m", m, "--raw", "-p", ""]);
    assert!(e.contains("empty"), "{e}");
    let long = "word ".repeat(400);
    let e = fails(&["run", "-m", m, "--raw", "-p", &long, "-c", "256"]);
    assert!(
        e.contains("context is full") && e.lines().count() == 1,
        "{e}"
    );
}
