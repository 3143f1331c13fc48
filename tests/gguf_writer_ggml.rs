//! ggml's own GGUF reader (`gguf_init_from_file`, through `ggml::gguf_reader`)
//! reads what kchat's writer writes: every scalar type, arrays of every
//! type, tensor infos, offsets and data, and llama.cpp's split layout.
//! (ggml's reader has no nested arrays; their bytes are checked against the
//! specification in the writer's unit tests.)

use std::path::Path;

use kchat::ggml::gguf_reader::GgmlGguf;
use kchat::ggml::GgmlType;
use kchat::gguf::split_writer::{SPLIT_COUNT_KEY, SPLIT_NO_KEY, SPLIT_TENSORS_COUNT_KEY};
use kchat::gguf::{GgufSplitWriter, GgufType, GgufValue, GgufWriter, TensorSpec};

/// ggml's view of the file at `path`, which it must accept.
fn open(path: &Path) -> Reader {
    Reader(GgmlGguf::open(path).unwrap_or_else(|e| panic!("{e}")))
}

/// ggml's reader with the shapes these checks compare against.
struct Reader(GgmlGguf);

impl Reader {
    fn keys(&self) -> Vec<String> {
        self.0.keys()
    }

    /// The value of `key` as ggml reads it.
    fn value(&self, key: &str) -> GgufValue {
        self.0
            .value(key)
            .unwrap_or_else(|| panic!("ggml does not see key {key}"))
    }

    /// (name, ggml type id, offset in the file) of each tensor.
    fn tensors(&self) -> Vec<(String, u32, usize)> {
        self.0
            .tensors()
            .into_iter()
            .map(|t| (t.name, t.ty, t.offset))
            .collect()
    }
}

fn every_type() -> Vec<(String, GgufValue)> {
    use GgufValue as V;
    let arr = |ty, items: Vec<GgufValue>| V::Array(ty, items);
    vec![
        ("t.u8".into(), V::U8(250)),
        ("t.i8".into(), V::I8(-7)),
        ("t.u16".into(), V::U16(65_000)),
        ("t.i16".into(), V::I16(-30_000)),
        ("t.u32".into(), V::U32(4_000_000_000)),
        ("t.i32".into(), V::I32(-2_000_000_000)),
        ("t.f32".into(), V::F32(1.5e-5)),
        ("t.bool".into(), V::Bool(true)),
        ("t.string".into(), V::String("ĠHello <|start|> ünï".into())),
        ("t.u64".into(), V::U64(u64::MAX - 1)),
        ("t.i64".into(), V::I64(i64::MIN + 1)),
        ("t.f64".into(), V::F64(-2.25)),
        (
            "a.u8".into(),
            arr(GgufType::U8, vec![V::U8(1), V::U8(2), V::U8(3)]),
        ),
        (
            "a.i16".into(),
            arr(GgufType::I16, vec![V::I16(-1), V::I16(2)]),
        ),
        (
            "a.i32".into(),
            arr(GgufType::I32, vec![V::I32(1), V::I32(3), V::I32(-5)]),
        ),
        (
            "a.f32".into(),
            arr(GgufType::F32, vec![V::F32(0.5), V::F32(-1.0)]),
        ),
        (
            "a.bool".into(),
            arr(GgufType::Bool, vec![V::Bool(false), V::Bool(true)]),
        ),
        ("a.u64".into(), arr(GgufType::U64, vec![V::U64(1 << 40)])),
        (
            "a.f64".into(),
            arr(GgufType::F64, vec![V::F64(3.0), V::F64(4.5)]),
        ),
        (
            "a.string".into(),
            arr(
                GgufType::String,
                vec![V::String("a b".into()), V::String(String::new())],
            ),
        ),
        ("a.empty".into(), arr(GgufType::U32, vec![])),
        ("general.alignment".into(), V::U32(64)),
    ]
}

#[test]
fn ggml_reads_every_value_type_and_the_tensor_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("all.gguf");
    let meta = every_type();
    let tensors = vec![
        TensorSpec::new("q", GgmlType::Q8_0, &[64, 3]),
        TensorSpec::new("b", GgmlType::BF16, &[5, 2, 3]),
        TensorSpec::new("f", GgmlType::F32, &[7, 1, 1, 2]),
    ];
    let mut w = GgufWriter::create(&path, &meta, tensors.clone()).expect("create");
    let data: Vec<Vec<u8>> = tensors
        .iter()
        .map(|t| {
            (0..t.n_bytes().expect("size"))
                .map(|i| (i * 7 + t.name.len() as u64) as u8)
                .collect()
        })
        .collect();
    for (t, d) in tensors.iter().zip(&data) {
        // In uneven pieces, to exercise streaming.
        let (a, b) = d.split_at(d.len() / 3);
        w.write(a).expect("piece 1");
        w.write(b).expect("piece 2");
        assert!(w.next_tensor().is_none_or(|n| n.name != t.name));
    }
    let size = w.finish().expect("finish");
    let bytes = std::fs::read(&path).expect("read");
    assert_eq!(bytes.len() as u64, size);

    let g = open(&path);
    assert_eq!(
        g.keys(),
        meta.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>()
    );
    for (k, v) in &meta {
        assert_eq!(&g.value(k), v, "key {k}");
    }
    let seen = g.tensors();
    assert_eq!(seen.len(), 3);
    for ((t, d), (name, ty, at)) in tensors.iter().zip(&data).zip(&seen) {
        assert_eq!(&t.name, name);
        assert_eq!(t.ty.id(), *ty);
        assert_eq!(at % 64, 0, "{name} is aligned to general.alignment");
        assert_eq!(&bytes[*at..at + d.len()], d.as_slice(), "{name} data");
    }
}

#[test]
fn ggml_reads_each_shard_of_a_split_model() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("m.gguf");
    let meta = vec![(
        "general.architecture".to_string(),
        GgufValue::String("gpt-oss".into()),
    )];
    let tensors: Vec<TensorSpec> = (0..7)
        .map(|i| TensorSpec::new(format!("t{i}"), GgmlType::F32, &[8 * (i % 3 + 1)]))
        .collect();
    let mut w = GgufSplitWriter::create(&out, 3, meta, tensors.clone()).expect("create");
    let paths = w.paths().to_vec();
    for t in &tensors {
        assert_eq!(
            w.next_tensor().map(|n| n.name.clone()),
            Some(t.name.clone())
        );
        w.write_tensor(&t.name, &vec![1u8; t.n_bytes().expect("size") as usize])
            .expect("write");
    }
    let files = w.finish().expect("finish");
    assert_eq!(
        files.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>(),
        paths
    );
    let names: Vec<String> = paths
        .iter()
        .map(|p| p.file_name().expect("name").to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "m-00001-of-00003.gguf",
            "m-00002-of-00003.gguf",
            "m-00003-of-00003.gguf"
        ]
    );

    let mut all = Vec::new();
    for (k, (p, size)) in files.iter().enumerate() {
        assert_eq!(std::fs::metadata(p).expect("stat").len(), *size);
        let g = open(p);
        let keys = g.keys();
        if k == 0 {
            assert_eq!(keys[0], "general.architecture");
            assert_eq!(keys.len(), 4);
        } else {
            assert_eq!(
                keys.len(),
                3,
                "shard {k} holds only the split keys: {keys:?}"
            );
        }
        assert_eq!(g.value(SPLIT_NO_KEY), GgufValue::U16(k as u16));
        assert_eq!(g.value(SPLIT_COUNT_KEY), GgufValue::U16(3));
        assert_eq!(g.value(SPLIT_TENSORS_COUNT_KEY), GgufValue::I32(7));
        let t = g.tensors();
        assert!(!t.is_empty(), "shard {k} has a tensor");
        all.extend(t.into_iter().map(|(n, _, _)| n));
    }
    assert_eq!(
        all,
        tensors.iter().map(|t| t.name.clone()).collect::<Vec<_>>(),
        "order is kept"
    );
}

#[test]
fn an_unfinished_split_model_leaves_no_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("m.gguf");
    let tensors: Vec<TensorSpec> = (0..4)
        .map(|i| TensorSpec::new(format!("t{i}"), GgmlType::I8, &[4]))
        .collect();
    let mut w = GgufSplitWriter::create(&out, 2, vec![], tensors).expect("create");
    for _ in 0..3 {
        w.write(&[0u8; 4]).expect("write");
    }
    assert_eq!(
        std::fs::read_dir(dir.path()).expect("list").count(),
        2,
        "both shards exist by now"
    );
    let e = w.finish().expect_err("one tensor missing");
    assert!(
        e.to_string().contains("m-00002-of-00002.gguf") && e.to_string().contains("\"t3\""),
        "{e}"
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).expect("list").count(),
        0,
        "partial output removed"
    );

    let w = GgufSplitWriter::create(
        &out,
        5,
        vec![],
        vec![TensorSpec::new("a", GgmlType::I8, &[1])],
    );
    assert!(w
        .expect_err("too many shards")
        .to_string()
        .contains("only 1 tensors"));
}
