//! Tests of `GgufModel` on real files in a temporary directory: single
//! files, split models found from any shard, and every way shards can fail
//! to fit together.

use std::path::{Path, PathBuf};

use crate::ggml::GgmlType;

use super::split::{split_file_name, KEY_SPLIT_COUNT, KEY_SPLIT_NO, KEY_SPLIT_TENSORS_COUNT};
use super::test_bytes::{pattern, GgufBuilder};
use super::tests_valid::valid_file;
use super::{GgufError, GgufModel, GgufValue, MetaError, ParseError};

const PREFIX: &str = "kappa.gguf";

/// A shard's builder with the split keys set.
fn shard(no: u16, count: u16, tensors_count: Option<i32>) -> GgufBuilder {
    let mut b = GgufBuilder::new();
    if no == 0 {
        b.kv("general.architecture", GgufValue::String("gpt-oss".into()));
    }
    b.kv(KEY_SPLIT_NO, GgufValue::U16(no));
    b.kv(KEY_SPLIT_COUNT, GgufValue::U16(count));
    if let Some(n) = tensors_count {
        b.kv(KEY_SPLIT_TENSORS_COUNT, GgufValue::I32(n));
    }
    b
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write test file");
    path
}

/// Writes a 3-shard model with two tensors per shard; returns the paths.
fn three_shards(dir: &Path) -> Vec<PathBuf> {
    (0..3u16)
        .map(|no| {
            let mut b = shard(no, 3, (no == 0).then_some(6));
            for t in 0..2 {
                let name = format!("blk.{no}.t{t}.weight");
                b.tensor(
                    &name,
                    &[32, 2],
                    GgmlType::Q8_0,
                    &pattern(68, (no * 2 + t) as u8),
                );
            }
            write(dir, &split_file_name(PREFIX, no.into(), 3), &b.build())
        })
        .collect()
}

fn open_err(path: &Path) -> GgufError {
    match GgufModel::open(path) {
        Ok(_) => panic!("{} was accepted", path.display()),
        Err(e) => e,
    }
}

#[test]
fn single_file_is_mapped_without_copies() {
    let dir = tempfile::tempdir().expect("temp dir");
    let bytes = valid_file(3, None);
    let path = write(dir.path(), "one.gguf", &bytes);
    let m = GgufModel::open(&path).expect("open");
    assert_eq!(m.shards().len(), 1);
    assert_eq!(m.path(), path);
    assert_eq!(m.shards()[0].size(), bytes.len() as u64);
    assert_eq!(m.total_file_bytes(), bytes.len() as u64);
    assert_eq!(m.get_str("general.architecture").expect("arch"), "gpt-oss");
    assert_eq!(m.n_tensors(), 3);
    let t = m.tensor("blk.0.attn_q.weight").expect("tensor");
    assert_eq!(t.info.ty, GgmlType::BF16);
    assert_eq!(t.shard, 0);
    assert_eq!(t.data, &pattern(30, 2)[..]);
    // Zero-copy: the slice points into the shard's map.
    let map = m.shards()[0].bytes().as_ptr_range();
    assert!(map.contains(&t.data.as_ptr()));
    assert_eq!(m.tensors().count(), 3);
    assert_eq!(m.total_tensor_bytes(), 408 + 30 + 16);
    assert!(m.tensor("absent").is_none());
}

#[test]
fn split_model_opens_from_any_shard() {
    let dir = tempfile::tempdir().expect("temp dir");
    let paths = three_shards(dir.path());
    for given in &paths {
        let m = GgufModel::open(given).expect("open split");
        let shard_paths: Vec<&Path> = m.shards().iter().map(|s| s.path()).collect();
        assert_eq!(
            shard_paths,
            paths.iter().map(PathBuf::as_path).collect::<Vec<_>>()
        );
        assert_eq!(m.path(), paths[0]);
        // Metadata comes from shard 1.
        assert_eq!(m.get_str("general.architecture").expect("arch"), "gpt-oss");
        assert_eq!(m.get_u16(KEY_SPLIT_NO).expect("no"), 0);
        assert_eq!(m.n_tensors(), 6);
        let names: Vec<&str> = m.tensors().map(|t| t.info.name.as_str()).collect();
        assert_eq!(names[0], "blk.0.t0.weight");
        assert_eq!(names[5], "blk.2.t1.weight");
        let t = m.tensor("blk.2.t0.weight").expect("tensor in shard 3");
        assert_eq!(t.shard, 2);
        assert_eq!(t.data, &pattern(68, 4)[..]);
        assert_eq!(m.total_tensor_bytes(), 6 * 68);
    }
}

#[test]
fn missing_shard_is_named() {
    let dir = tempfile::tempdir().expect("temp dir");
    let paths = three_shards(dir.path());
    std::fs::remove_file(&paths[1]).expect("remove shard 2");
    let e = open_err(&paths[0]);
    assert!(
        matches!(e, GgufError::MissingShard { ref path, no: 1, count: 3 } if *path == paths[1]),
        "{e}"
    );
    assert_eq!(
        e.to_string(),
        format!("{}: shard 2 of 3 is missing", paths[1].display())
    );
}

#[test]
fn shard_with_wrong_split_no_or_count() {
    let dir = tempfile::tempdir().expect("temp dir");
    let paths = three_shards(dir.path());
    write(
        dir.path(),
        &split_file_name(PREFIX, 2, 3),
        &shard(1, 3, None).build(),
    );
    let e = open_err(&paths[0]);
    assert!(
        matches!(e, GgufError::ShardMismatch { ref path, expected_no: 2, found_no: 1, .. } if *path == paths[2]),
        "{e}"
    );
    assert!(e
        .to_string()
        .contains("expected shard 3 of 3, but the file says it is shard 2 of 3"));

    write(
        dir.path(),
        &split_file_name(PREFIX, 2, 3),
        &shard(2, 4, None).build(),
    );
    let e = open_err(&paths[0]);
    assert!(
        matches!(e, GgufError::ShardMismatch { found_count: 4, .. }),
        "{e}"
    );
}

#[test]
fn shard_without_split_keys() {
    let dir = tempfile::tempdir().expect("temp dir");
    let paths = three_shards(dir.path());
    write(
        dir.path(),
        &split_file_name(PREFIX, 1, 3),
        &GgufBuilder::new().build(),
    );
    let e = open_err(&paths[0]);
    assert!(
        matches!(e, GgufError::Meta { ref path, error: MetaError::Missing { ref key } } if *path == paths[1] && key == KEY_SPLIT_COUNT),
        "{e}"
    );
}

#[test]
fn tensor_in_two_shards() {
    let dir = tempfile::tempdir().expect("temp dir");
    let paths = three_shards(dir.path());
    let mut b = shard(1, 3, None);
    b.tensor("blk.0.t1.weight", &[32], GgmlType::Q8_0, &[0; 34]);
    b.tensor("blk.1.t1.weight", &[32], GgmlType::Q8_0, &[0; 34]);
    write(dir.path(), &split_file_name(PREFIX, 1, 3), &b.build());
    let e = open_err(&paths[2]);
    assert!(
        matches!(e, GgufError::DuplicateTensor { ref path, ref name, ref first } if *path == paths[1] && name == "blk.0.t1.weight" && *first == paths[0]),
        "{e}"
    );
}

#[test]
fn total_tensor_count_differs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let paths = three_shards(dir.path());
    let mut b = shard(0, 3, Some(7));
    b.tensor("blk.0.t0.weight", &[32, 2], GgmlType::Q8_0, &pattern(68, 0));
    b.tensor("blk.0.t1.weight", &[32, 2], GgmlType::Q8_0, &pattern(68, 1));
    write(dir.path(), &split_file_name(PREFIX, 0, 3), &b.build());
    let e = open_err(&paths[1]);
    assert!(
        matches!(e, GgufError::TensorCount { ref path, expected: 7, found: 6, shards: 3 } if *path == paths[0]),
        "{e}"
    );
    // A split model must say how many tensors it has.
    write(
        dir.path(),
        &split_file_name(PREFIX, 0, 3),
        &shard(0, 3, None).build(),
    );
    let e = open_err(&paths[0]);
    assert!(
        matches!(
            e,
            GgufError::Meta {
                error: MetaError::Missing { .. },
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn shard_name_not_in_split_form() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = write(dir.path(), "renamed.gguf", &shard(0, 2, Some(0)).build());
    let e = open_err(&path);
    assert!(matches!(e, GgufError::SplitName { .. }), "{e}");
    assert!(e
        .to_string()
        .ends_with("does not end in '-00001-of-00002.gguf', so the other shards cannot be found"));
}

#[test]
fn bad_split_keys() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = write(
        dir.path(),
        "m-00001-of-00002.gguf",
        &shard(2, 2, None).build(),
    );
    assert!(matches!(
        open_err(&path),
        GgufError::BadSplitKeys {
            no: 2,
            count: 2,
            ..
        }
    ));
    let path = write(dir.path(), "z.gguf", &shard(0, 0, None).build());
    assert!(matches!(
        open_err(&path),
        GgufError::BadSplitKeys { count: 0, .. }
    ));
    let mut b = GgufBuilder::new();
    b.kv(KEY_SPLIT_COUNT, GgufValue::U32(70_000));
    let path = write(dir.path(), "big.gguf", &b.build());
    assert!(matches!(
        open_err(&path),
        GgufError::Meta {
            error: MetaError::OutOfRange { .. },
            ..
        }
    ));
}

#[test]
fn broken_shard_error_names_that_shard() {
    let dir = tempfile::tempdir().expect("temp dir");
    let paths = three_shards(dir.path());
    let mut bytes = std::fs::read(&paths[2]).expect("read");
    bytes.truncate(bytes.len() - 1);
    std::fs::write(&paths[2], &bytes).expect("write");
    let e = open_err(&paths[0]);
    assert!(
        matches!(e, GgufError::File { ref path, error: ParseError::TensorBeyondEnd { .. } } if *path == paths[2]),
        "{e}"
    );
    assert!(e.to_string().starts_with(&format!(
        "{}: tensor 'blk.2.t1.weight': offset ",
        paths[2].display()
    )));
}

#[test]
fn missing_file_and_not_gguf() {
    let dir = tempfile::tempdir().expect("temp dir");
    let e = open_err(&dir.path().join("nope.gguf"));
    assert!(matches!(e, GgufError::Io { action: "open", .. }), "{e}");
    let path = write(dir.path(), "text.gguf", b"hello world");
    let e = open_err(&path);
    assert!(
        matches!(
            e,
            GgufError::File {
                error: ParseError::BadMagic { .. },
                ..
            }
        ),
        "{e}"
    );
    let path = write(dir.path(), "empty.gguf", b"");
    assert!(matches!(open_err(&path), GgufError::File { .. }));
}

#[test]
fn single_file_with_split_count_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut b = shard(0, 1, Some(1));
    b.tensor("w", &[8], GgmlType::F32, &[0; 32]);
    let path = write(dir.path(), "any-name.gguf", &b.build());
    let m = GgufModel::open(&path).expect("open");
    assert_eq!(m.n_tensors(), 1);
}

/// Opening a gpt-oss-20b-sized split model (5 shards, ~21 GiB of sparse
/// tensor data, a 201,088-token vocabulary and 446k merges) parses only the
/// headers. Run with
/// `cargo test --release --lib gguf::tests_model::open_big_split_model -- --ignored --nocapture`.
#[test]
#[ignore = "writes ~21 GiB of sparse files; a timing check"]
fn open_big_split_model() {
    use super::GgufType;
    use std::time::Instant;

    let dir = tempfile::tempdir().expect("temp dir");
    let (n_embd, n_vocab, n_layer, n_exp) = (2880u64, 201_088u64, 24u64, 32u64);
    let count = 5u16;
    let mut shards: Vec<GgufBuilder> = (0..count).map(|no| shard(no, count, None)).collect();

    let mut head = shard(0, count, Some(0));
    let tokens: Vec<GgufValue> = (0..n_vocab)
        .map(|i| GgufValue::String(format!("tok{i}")))
        .collect();
    let merges: Vec<GgufValue> = (0..446_000)
        .map(|i| GgufValue::String(format!("Ġm{i} x{i}")))
        .collect();
    let types: Vec<GgufValue> = (0..n_vocab)
        .map(|i| GgufValue::I32((i % 3) as i32))
        .collect();
    head.kv("tokenizer.ggml.model", GgufValue::String("gpt2".into()));
    head.kv(
        "tokenizer.ggml.tokens",
        GgufValue::Array(GgufType::String, tokens),
    );
    head.kv(
        "tokenizer.ggml.token_type",
        GgufValue::Array(GgufType::I32, types),
    );
    head.kv(
        "tokenizer.ggml.merges",
        GgufValue::Array(GgufType::String, merges),
    );
    shards[0] = head;

    let mut n_tensors: i32 = 0;
    let mut add = |s: &mut GgufBuilder, name: String, dims: &[u64], ty| {
        s.reserve(&name, dims, ty);
        n_tensors += 1;
    };
    add(
        &mut shards[0],
        "token_embd.weight".into(),
        &[n_embd, n_vocab],
        GgmlType::Q8_0,
    );
    for il in 0..n_layer {
        let s = &mut shards[(1 + il * 4 / n_layer) as usize];
        for (t, dims, ty) in [
            ("attn_norm.weight", vec![n_embd], GgmlType::F32),
            ("attn_q.weight", vec![n_embd, 4096], GgmlType::BF16),
            ("attn_q.bias", vec![4096], GgmlType::F32),
            ("attn_k.weight", vec![n_embd, 512], GgmlType::BF16),
            ("attn_k.bias", vec![512], GgmlType::F32),
            ("attn_v.weight", vec![n_embd, 512], GgmlType::BF16),
            ("attn_v.bias", vec![512], GgmlType::F32),
            ("attn_output.weight", vec![4096, n_embd], GgmlType::BF16),
            ("attn_output.bias", vec![n_embd], GgmlType::F32),
            ("attn_sinks.weight", vec![64], GgmlType::F32),
            ("post_attention_norm.weight", vec![n_embd], GgmlType::F32),
            ("ffn_gate_inp.weight", vec![n_embd, n_exp], GgmlType::F32),
            ("ffn_gate_inp.bias", vec![n_exp], GgmlType::F32),
            (
                "ffn_gate_exps.weight",
                vec![n_embd, n_embd, n_exp],
                GgmlType::Q8_0,
            ),
            ("ffn_gate_exps.bias", vec![n_embd, n_exp], GgmlType::F32),
            (
                "ffn_up_exps.weight",
                vec![n_embd, n_embd, n_exp],
                GgmlType::Q8_0,
            ),
            ("ffn_up_exps.bias", vec![n_embd, n_exp], GgmlType::F32),
            (
                "ffn_down_exps.weight",
                vec![n_embd, n_embd, n_exp],
                GgmlType::Q8_0,
            ),
            ("ffn_down_exps.bias", vec![n_embd, n_exp], GgmlType::F32),
        ] {
            add(s, format!("blk.{il}.{t}"), &dims, ty);
        }
    }
    add(
        &mut shards[4],
        "output_norm.weight".into(),
        &[n_embd],
        GgmlType::F32,
    );
    add(
        &mut shards[4],
        "output.weight".into(),
        &[n_embd, n_vocab],
        GgmlType::Q8_0,
    );
    // Now that the count is known, rebuild shard 1's split.tensors.count.
    let mut paths = Vec::new();
    for (no, b) in shards.iter_mut().enumerate() {
        let mut header = b.header();
        if no == 0 {
            // split.tensors.count is the third key; patch its i32 in place.
            let key = KEY_SPLIT_TENSORS_COUNT.as_bytes();
            let at = header
                .windows(key.len())
                .position(|w| w == key)
                .expect("key present")
                + key.len()
                + 4;
            header[at..at + 4].copy_from_slice(&n_tensors.to_le_bytes());
        }
        let path = dir
            .path()
            .join(split_file_name(PREFIX, no as u64, count.into()));
        std::fs::write(&path, &header).expect("write header");
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .expect("reopen");
        f.set_len(header.len() as u64 + b.reserved())
            .expect("extend sparse");
        paths.push(path);
    }

    let start = Instant::now();
    let m = GgufModel::open(&paths[0]).expect("open big model");
    let open = start.elapsed();
    let vocab = m
        .get_str_array("tokenizer.ggml.tokens")
        .expect("tokens")
        .len();
    let all = start.elapsed();
    let gib = m.total_tensor_bytes() as f64 / (1u64 << 30) as f64;
    println!(
        "open: {open:?} ({} shards, {} tensors, {gib:.2} GiB of tensors, header of shard 1 {} bytes); with the token list: {all:?}",
        m.shards().len(),
        m.n_tensors(),
        m.shards()[0].gguf().data_offset()
    );
    assert_eq!(vocab, n_vocab as usize);
    assert_eq!(m.n_tensors(), 459);
    assert!(gib > 20.0);
    if !cfg!(debug_assertions) {
        assert!(open.as_millis() < 1000, "opening took {open:?}");
    }
}
