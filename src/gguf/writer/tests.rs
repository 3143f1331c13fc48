//! Writer tests: exact bytes against the GGUF v3 layout, written out by hand
//! from the specification, plus every refusal. (ggml's own reader checks the
//! writer too, in `tests/gguf_writer_ggml.rs`.)

use super::*;
use crate::ggml::GgmlType;
use crate::gguf::GgufType;

fn kv(key: &str, v: GgufValue) -> (String, GgufValue) {
    (key.to_string(), v)
}

/// Little-endian assembler for expected files.
#[derive(Default)]
struct Bytes(Vec<u8>);

impl Bytes {
    fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend(v.to_le_bytes());
        self
    }
    fn u64(&mut self, v: u64) -> &mut Self {
        self.0.extend(v.to_le_bytes());
        self
    }
    fn raw(&mut self, b: &[u8]) -> &mut Self {
        self.0.extend(b);
        self
    }
    fn str(&mut self, s: &str) -> &mut Self {
        self.u64(s.len() as u64).raw(s.as_bytes())
    }
    fn pad_to(&mut self, a: usize) -> &mut Self {
        while self.0.len() % a != 0 {
            self.0.push(0);
        }
        self
    }
}

#[test]
fn file_matches_the_spec_byte_for_byte() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t.gguf");
    let meta = vec![
        kv("a.u8", GgufValue::U8(7)),
        kv("a.i16", GgufValue::I16(-2)),
        kv("a.f64", GgufValue::F64(0.5)),
        kv("a.bool", GgufValue::Bool(true)),
        kv("a.s", GgufValue::String("hé".to_string())),
        kv(
            "a.nested",
            GgufValue::Array(
                GgufType::Array,
                vec![
                    GgufValue::Array(GgufType::I32, vec![GgufValue::I32(1), GgufValue::I32(-1)]),
                    GgufValue::Array(GgufType::String, vec![GgufValue::String("x".to_string())]),
                ],
            ),
        ),
    ];
    let tensors = vec![
        TensorSpec::new("w", GgmlType::F32, &[3]),
        TensorSpec::new("v", GgmlType::F16, &[2, 2]),
    ];
    let mut w = GgufWriter::create(&path, &meta, tensors).expect("create");
    let w_data: Vec<u8> = [1.0f32, 2.0, 3.0]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    w.write_tensor("w", &w_data).expect("w");
    // The second tensor in two pieces.
    w.write(&[1, 2, 3]).expect("v part 1");
    w.write(&[4, 5, 6, 7, 8]).expect("v part 2");
    let size = w.finish().expect("finish");

    let mut e = Bytes::default();
    e.raw(b"GGUF").u32(3).u64(2).u64(6);
    e.str("a.u8").u32(0).raw(&[7]);
    e.str("a.i16").u32(3).raw(&(-2i16).to_le_bytes());
    e.str("a.f64").u32(12).raw(&0.5f64.to_le_bytes());
    e.str("a.bool").u32(7).raw(&[1]);
    e.str("a.s").u32(8).str("hé");
    e.str("a.nested").u32(9).u32(9).u64(2);
    e.u32(5)
        .u64(2)
        .raw(&1i32.to_le_bytes())
        .raw(&(-1i32).to_le_bytes());
    e.u32(8).u64(1).str("x");
    e.str("w").u32(1).u64(3).u32(0).u64(0);
    e.str("v").u32(2).u64(2).u64(2).u32(1).u64(32);
    e.pad_to(32);
    e.raw(&w_data).pad_to(32);
    e.raw(&[1, 2, 3, 4, 5, 6, 7, 8]).pad_to(32);

    let got = std::fs::read(&path).expect("read back");
    assert_eq!(got, e.0);
    assert_eq!(size, e.0.len() as u64);
}

#[test]
fn alignment_from_metadata_is_used() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("a.gguf");
    let meta = vec![kv(ALIGNMENT_KEY, GgufValue::U32(64))];
    let tensors = vec![
        TensorSpec::new("a", GgmlType::I8, &[3]),
        TensorSpec::new("b", GgmlType::I8, &[1]),
    ];
    let mut w = GgufWriter::create(&path, &meta, tensors).expect("create");
    assert_eq!(w.layout().offsets, vec![0, 64]);
    assert_eq!(w.layout().data_start % 64, 0);
    w.write_tensor("a", &[1, 2, 3]).expect("a");
    w.write_tensor("b", &[9]).expect("b");
    let size = w.finish().expect("finish");
    let bytes = std::fs::read(&path).expect("read");
    assert_eq!(bytes.len() as u64, size);
    let start = usize::try_from(size).expect("small") - 128;
    assert_eq!(&bytes[start..start + 4], &[1, 2, 3, 0]);
    assert_eq!(bytes[start + 64], 9);
}

#[test]
fn q8_0_tensor_sizes_use_blocks() {
    let t = TensorSpec::new("q", GgmlType::Q8_0, &[64, 3, 2]);
    assert_eq!(t.n_bytes(), Some(2 * 34 * 6));
    assert_eq!(t.n_rows(), 6);
    assert_eq!(t.n_elements(), Some(384));
}

fn refused(meta: Vec<(String, GgufValue)>, tensors: Vec<TensorSpec>) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.gguf");
    let e = GgufWriter::create(&path, &meta, tensors).expect_err("must be refused");
    assert!(!path.exists(), "a refused file must not be created");
    let msg = e.to_string();
    assert!(msg.contains("bad.gguf"), "error names the file: {msg}");
    msg
}

#[test]
fn invalid_metadata_and_tensors_are_refused() {
    let f32t = |n: &str| TensorSpec::new(n, GgmlType::F32, &[4]);
    let m = refused(
        vec![kv("k", GgufValue::U8(1)), kv("k", GgufValue::U8(2))],
        vec![],
    );
    assert!(m.contains("twice"), "{m}");
    let m = refused(vec![kv("", GgufValue::U8(1))], vec![]);
    assert!(m.contains("empty"), "{m}");
    let m = refused(vec![kv(ALIGNMENT_KEY, GgufValue::U32(24))], vec![]);
    assert!(m.contains("power of two"), "{m}");
    let m = refused(vec![kv(ALIGNMENT_KEY, GgufValue::U64(32))], vec![]);
    assert!(m.contains("u32"), "{m}");
    let m = refused(
        vec![kv(
            "arr",
            GgufValue::Array(GgufType::U8, vec![GgufValue::I8(1)]),
        )],
        vec![],
    );
    assert!(m.contains("array of u8 holds a i8"), "{m}");
    let mut deep = GgufValue::Array(GgufType::U8, vec![]);
    for _ in 0..MAX_NESTING {
        deep = GgufValue::Array(GgufType::Array, vec![deep]);
    }
    let m = refused(vec![kv("deep", deep)], vec![]);
    assert!(m.contains("nest"), "{m}");
    let m = refused(vec![], vec![f32t("a"), f32t("a")]);
    assert!(m.contains("twice"), "{m}");
    let m = refused(vec![], vec![f32t(&"n".repeat(64))]);
    assert!(m.contains("longer"), "{m}");
    let m = refused(vec![], vec![f32t("")]);
    assert!(m.contains("empty name"), "{m}");
    let m = refused(
        vec![],
        vec![TensorSpec::new("x", GgmlType::F32, &[1, 1, 1, 1, 1])],
    );
    assert!(m.contains("5 dimensions"), "{m}");
    let m = refused(vec![], vec![TensorSpec::new("x", GgmlType::F32, &[])]);
    assert!(m.contains("0 dimensions"), "{m}");
    let m = refused(vec![], vec![TensorSpec::new("x", GgmlType::F32, &[4, 0])]);
    assert!(m.contains("zero"), "{m}");
    let m = refused(vec![], vec![TensorSpec::new("x", GgmlType::Q8_0, &[48])]);
    assert!(m.contains("block size 32"), "{m}");
    let m = refused(
        vec![],
        vec![TensorSpec::new("x", GgmlType::F32, &[u64::MAX / 2, 4])],
    );
    assert!(m.contains("too large"), "{m}");
    let m = refused(
        vec![],
        vec![TensorSpec::new("x", GgmlType::F32, &[1 << 62, 1])],
    );
    assert!(m.contains("too large"), "{m}");
}

#[test]
fn wrong_data_is_refused_and_the_file_removed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("d.gguf");
    let tensors = vec![
        TensorSpec::new("a", GgmlType::F32, &[2]),
        TensorSpec::new("b", GgmlType::F32, &[1]),
    ];
    let mut w = GgufWriter::create(&path, &[], tensors).expect("create");
    let e = w.write_tensor("b", &[0; 4]).expect_err("out of order");
    assert!(
        e.to_string().contains("\"b\" given where \"a\" is next"),
        "{e}"
    );
    let e = w.write_tensor("a", &[0; 7]).expect_err("short");
    assert!(e.to_string().contains("7 bytes given, 8 declared"), "{e}");
    let e = w.write(&[0; 9]).expect_err("too long");
    assert!(e.to_string().contains("9 bytes given, 8 of 8 left"), "{e}");
    w.write(&[0; 4]).expect("half of a");
    let e = w.write_tensor("a", &[0; 8]).expect_err("a already started");
    assert!(matches!(e, GgufWriteError::OutOfOrder { .. }), "{e}");
    w.write(&[0; 4]).expect("rest of a");
    assert_eq!(w.next_tensor().map(|t| t.name.as_str()), Some("b"));
    assert!(path.exists());
    let e = w.finish().expect_err("b is missing");
    let msg = e.to_string();
    assert!(
        msg.contains("1 of 2 tensors written") && msg.contains("\"b\""),
        "{msg}"
    );
    assert!(!path.exists(), "an unfinished file is removed");

    let mut w = GgufWriter::create(&path, &[], vec![TensorSpec::new("a", GgmlType::I8, &[1])])
        .expect("create");
    w.write(&[1]).expect("a");
    let e = w.write(&[2]).expect_err("nothing left");
    assert!(e.to_string().contains("after the last tensor"), "{e}");
    assert!(w.abort());
    assert!(!path.exists());
}

#[test]
fn a_directory_is_not_an_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let e = GgufWriter::create(dir.path(), &[], vec![]).expect_err("directory");
    assert!(matches!(e, GgufWriteError::IsDirectory { .. }));
    assert!(e.to_string().contains("is a directory"), "{e}");
    assert!(dir.path().is_dir());
}

#[test]
fn a_full_device_reports_no_space_and_is_left_alone() {
    let full = Path::new("/dev/full");
    if !full.exists() {
        return;
    }
    let tensors = vec![TensorSpec::new("a", GgmlType::I8, &[1 << 21])];
    let e = match GgufWriter::create(full, &[], tensors) {
        Ok(mut w) => w.write(&vec![0u8; 1 << 21]).expect_err("disk full"),
        Err(e) => e,
    };
    let msg = e.to_string();
    assert!(
        msg.contains("/dev/full") && msg.to_lowercase().contains("space"),
        "{msg}"
    );
    assert!(full.exists(), "a device is never removed");
}
