//! Tests of the libllama wrapper on the `tiny` synthetic model.

use super::*;
use crate::mkmodel::{make_model, MkmodelArgs, Preset};

fn params() -> LlamaParams {
    LlamaParams {
        n_gpu_layers: 0,
        n_cpu_moe: 0,
        n_ctx: 256,
        n_batch: 64,
        n_ubatch: 64,
        n_threads: 2,
        flash_attn: FlashAttn::Auto,
        swa_full: false,
        op_offload: true,
        no_host: false,
        quiet: true,
    }
}

/// Writes the tiny preset (seed 7) into `dir`.
fn tiny(dir: &std::path::Path) -> PathBuf {
    let out = dir.join("tiny.gguf");
    let args = MkmodelArgs {
        preset: Preset::Tiny,
        output: out.clone(),
        split: 1,
        seed: 7,
        threads: None,
    };
    make_model(&args, &mut std::io::sink()).expect("mkmodel tiny");
    out
}

const PROMPT: [u32; 8] = [200_006, 1428, 200_008, 13225, 11, 2375, 0, 200_007];

fn assert_close(a: &[f32], b: &[f32], tol: f32, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    let scale = a.iter().fold(1f32, |m, x| m.max(x.abs()));
    let worst = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0f32, f32::max);
    assert!(
        worst <= tol * scale,
        "{what}: differ by {worst} (scale {scale})"
    );
}

#[test]
fn cpu_moe_patterns_match_llama_common() {
    assert!(cpu_moe_patterns(0).is_empty());
    assert_eq!(
        cpu_moe_patterns(u32::MAX),
        [r"\.ffn_(up|down|gate|gate_up)_(ch|)exps"]
    );
    assert_eq!(
        cpu_moe_patterns(2),
        [
            r"blk\.0\.ffn_(up|down|gate|gate_up)_(ch|)exps",
            r"blk\.1\.ffn_(up|down|gate|gate_up)_(ch|)exps",
        ]
    );
    assert_eq!(cpu_moe_patterns(100_000).len(), 1);
}

#[test]
fn params_from_engine_options() {
    let o = EngineOptions {
        n_gpu_layers: Some(5),
        n_cpu_moe: 3,
        n_ctx: 1024,
        n_batch: 128,
        n_ubatch: 512,
        n_threads: 3,
        flash_attn: FlashAttn::On,
        swa_full: true,
        op_offload: false,
        no_host: false,
        graph_reuse: true,
    };
    let p = LlamaParams::from(&o);
    assert!(p.swa_full && !p.op_offload);
    assert_eq!(
        (p.n_gpu_layers, p.n_cpu_moe, p.n_ctx, p.n_batch, p.n_ubatch),
        (5, 3, 1024, 128, 128)
    );
    assert_eq!(
        (p.n_threads, p.flash_attn, p.quiet),
        (3, FlashAttn::On, true)
    );
    let none = LlamaParams::from(&EngineOptions::default());
    let want = if crate::ggml::Device::gpus().is_empty() {
        0
    } else {
        999
    };
    assert_eq!(none.n_gpu_layers, want);
}

#[test]
fn missing_file_is_named() {
    let err = LlamaModel::load("/nonexistent/kchat/x.gguf", &params()).expect_err("no file");
    assert!(
        err.to_string().contains("/nonexistent/kchat/x.gguf"),
        "{err}"
    );
}

#[test]
fn garbage_file_is_refused_with_libllama_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.gguf");
    std::fs::write(&bad, b"not a gguf file at all").expect("write");
    let err = LlamaModel::load(&bad, &params()).expect_err("refused");
    let msg = err.to_string();
    assert!(msg.contains("bad.gguf"), "{msg}");
    assert!(matches!(err, LlamaError::Load { .. }), "{msg}");
    // libllama's own reason, caught from its (silenced) log.
    assert!(msg.contains("magic"), "{msg}");
}

/// One model for every decode check (writing it is the slow part).
#[test]
fn tiny_decode_clear_truncate_and_outputs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = tiny(dir.path());
    let model = LlamaModel::load(&path, &params()).expect("load tiny");
    assert_eq!(model.n_vocab(), 201_088);
    assert_eq!(model.n_layer(), 4);
    assert_eq!(model.path(), path);
    let nv = model.n_vocab();

    let mut ctx = LlamaContext::new(&model, &params()).expect("context");
    assert!(ctx.n_ctx() >= 256);
    drop(model); // the context keeps the model alive

    // A few tokens: finite logits of vocabulary length for the last one.
    ctx.decode(&PROMPT, 0, LogitsFor::Last).expect("decode");
    ctx.synchronize();
    assert_eq!(ctx.n_past(), PROMPT.len());
    assert_eq!(ctx.n_outputs(), 1);
    let first = ctx.logits(0).expect("logits").to_vec();
    assert_eq!(first.len(), nv);
    assert!(first.iter().all(|x| x.is_finite()));
    assert!(ctx.logits(1).is_none());

    // Decoding must continue where the cache ends.
    let err = ctx.decode(&[1], 3, LogitsFor::Last).expect_err("position");
    assert!(
        matches!(err, LlamaError::Position { got: 3, n_past: 8 }),
        "{err}"
    );
    let err = ctx
        .decode(&[nv as u32], PROMPT.len(), LogitsFor::Last)
        .expect_err("token");
    assert!(matches!(err, LlamaError::Token { .. }), "{err}");
    let err = ctx
        .decode(&[1, 2], PROMPT.len(), LogitsFor::Positions(&[1, 0]))
        .expect_err("order");
    assert!(matches!(err, LlamaError::Outputs { .. }), "{err}");
    assert_eq!(ctx.n_past(), PROMPT.len());

    // The same prompt after clear() gives the same logits.
    ctx.clear();
    assert_eq!(ctx.n_past(), 0);
    assert!(ctx.logits(0).is_none());
    ctx.decode(&PROMPT, 0, LogitsFor::Last)
        .expect("decode again");
    assert_eq!(ctx.logits(0).expect("logits"), first.as_slice());

    // Truncate and decode something else: as if decoded fresh.
    let tail = [40u32, 41, 42];
    ctx.decode(&[7, 8, 9, 10], 8, LogitsFor::Last)
        .expect("detour");
    ctx.truncate(8).expect("truncate");
    assert_eq!(ctx.n_past(), 8);
    ctx.decode(&tail, 8, LogitsFor::All)
        .expect("after truncate");
    let after: Vec<Vec<f32>> = (0..3)
        .map(|i| ctx.logits(i).expect("logits").to_vec())
        .collect();
    ctx.clear();
    ctx.decode(&PROMPT, 0, LogitsFor::Last)
        .expect("fresh prompt");
    ctx.decode(&tail, 8, LogitsFor::All).expect("fresh tail");
    for (i, want) in after.iter().enumerate() {
        assert_close(ctx.logits(i).expect("logits"), want, 1e-5, "truncate");
    }
    let err = ctx
        .decode(&[1; 300], 11, LogitsFor::Last)
        .expect_err("full");
    assert!(matches!(err, LlamaError::ContextFull { .. }), "{err}");

    // Every token's logits, and a chosen few, in one batch...
    ctx.clear();
    ctx.decode(&PROMPT, 0, LogitsFor::All).expect("all");
    assert_eq!(ctx.n_outputs(), PROMPT.len());
    let all: Vec<Vec<f32>> = (0..PROMPT.len())
        .map(|i| ctx.logits(i).expect("logits").to_vec())
        .collect();
    assert_close(&all[7], &first, 1e-4, "last of all");
    ctx.clear();
    ctx.decode(&PROMPT, 0, LogitsFor::Positions(&[2, 5]))
        .expect("positions");
    assert_eq!(ctx.n_outputs(), 2);
    assert_close(ctx.logits(0).expect("2"), &all[2], 1e-4, "position 2");
    assert_close(ctx.logits(1).expect("5"), &all[5], 1e-4, "position 5");

    // Experts kept in host memory (`--n-cpu-moe 2`, `--cpu-moe`): libllama
    // takes the patterns, and the CPU computes the same.
    for n_cpu_moe in [2, u32::MAX] {
        let p = LlamaParams {
            n_cpu_moe,
            ..params()
        };
        let m = LlamaModel::load(&path, &p).expect("load with overrides");
        let mut c = LlamaContext::new(&m, &p).expect("context");
        c.decode(&PROMPT, 0, LogitsFor::Last).expect("decode");
        assert_close(c.logits(0).expect("logits"), &first, 1e-5, "n_cpu_moe");
    }

    // ... and split over several llama_decode calls of 3 tokens.
    let small = LlamaParams {
        n_batch: 3,
        n_ubatch: 3,
        ..params()
    };
    let mut split = LlamaContext::new(ctx.model(), &small).expect("small batches");
    assert_eq!(split.n_batch(), 3);
    split.decode(&PROMPT, 0, LogitsFor::All).expect("split all");
    assert_eq!(split.n_outputs(), PROMPT.len());
    for (i, want) in all.iter().enumerate() {
        assert_close(split.logits(i).expect("logits"), want, 1e-3, "split");
    }
    split.clear();
    split
        .decode(&PROMPT, 0, LogitsFor::Positions(&[1, 7]))
        .expect("split positions");
    assert_close(split.logits(0).expect("1"), &all[1], 1e-3, "split 1");
    assert_close(split.logits(1).expect("7"), &all[7], 1e-3, "split 7");
}
