//! Round-trip tests: GGUF files written by hand byte by byte, parsed back,
//! every value and tensor checked.

use crate::ggml::GgmlType;

use super::test_bytes::{array, pattern, GgufBuilder};
use super::{GgufFile, GgufType, GgufValue, MetaError, ParseError};

/// Every value type, nested arrays, empty arrays and strings.
pub(crate) fn all_values() -> Vec<(&'static str, GgufValue)> {
    use GgufValue as V;
    vec![
        ("general.architecture", V::String("gpt-oss".into())),
        ("t.u8", V::U8(250)),
        ("t.i8", V::I8(-100)),
        ("t.u16", V::U16(65_000)),
        ("t.i16", V::I16(-30_000)),
        ("t.u32", V::U32(4_000_000_000)),
        ("t.i32", V::I32(-2_000_000_000)),
        ("t.f32", V::F32(1.5e-5)),
        ("t.bool.true", V::Bool(true)),
        ("t.bool.false", V::Bool(false)),
        ("t.string.empty", V::String(String::new())),
        ("t.string.utf8", V::String("Ġhello — 世界 <|start|>".into())),
        ("t.u64", V::U64(u64::MAX)),
        ("t.i64", V::I64(i64::MIN)),
        ("t.f64", V::F64(-2.5e300)),
        ("t.array.empty", array(GgufType::U32, vec![])),
        (
            "t.array.i32",
            array(GgufType::I32, vec![V::I32(1), V::I32(-2), V::I32(3)]),
        ),
        (
            "t.array.f32",
            array(GgufType::F32, vec![V::F32(0.25), V::F32(-1.0)]),
        ),
        (
            "t.array.bool",
            array(GgufType::Bool, vec![V::Bool(true), V::Bool(false)]),
        ),
        (
            "t.array.string",
            array(
                GgufType::String,
                vec![
                    V::String("a".into()),
                    V::String(String::new()),
                    V::String("Ġb c".into()),
                ],
            ),
        ),
        (
            "t.array.nested",
            array(
                GgufType::Array,
                vec![
                    array(GgufType::U8, vec![V::U8(1), V::U8(2)]),
                    array(GgufType::String, vec![V::String("x".into())]),
                    array(
                        GgufType::Array,
                        vec![array(GgufType::I64, vec![V::I64(-7)])],
                    ),
                    array(GgufType::F64, vec![]),
                ],
            ),
        ),
        ("t.array.u16", array(GgufType::U16, vec![V::U16(7)])),
        ("t.array.i8", array(GgufType::I8, vec![V::I8(-1)])),
        ("t.array.i16", array(GgufType::I16, vec![V::I16(-300)])),
        ("t.array.u64", array(GgufType::U64, vec![V::U64(1 << 40)])),
        ("t.array.f64", array(GgufType::F64, vec![V::F64(0.125)])),
    ]
}

/// Tensor name, dims, type, data.
pub(crate) fn tensors() -> Vec<(&'static str, Vec<u64>, GgmlType, Vec<u8>)> {
    vec![
        (
            "blk.0.ffn_up_exps.weight",
            vec![64, 2, 3],
            GgmlType::Q8_0,
            pattern(2 * 34 * 2 * 3, 1),
        ),
        (
            "blk.0.attn_q.weight",
            vec![3, 5],
            GgmlType::BF16,
            pattern(3 * 5 * 2, 2),
        ),
        (
            "blk.0.attn_sinks.weight",
            vec![4],
            GgmlType::F32,
            pattern(16, 3),
        ),
    ]
}

/// A valid small file: all values, three tensors, given version and alignment.
pub(crate) fn valid_file(version: u32, alignment: Option<u32>) -> Vec<u8> {
    let mut b = GgufBuilder::new();
    b.version = version;
    if let Some(a) = alignment {
        b.alignment = a.into();
        b.kv("general.alignment", GgufValue::U32(a));
    }
    for (k, v) in all_values() {
        b.kv(k, v);
    }
    for (name, dims, ty, data) in tensors() {
        b.tensor(name, &dims, ty, &data);
    }
    b.build()
}

fn check_round_trip(bytes: &[u8], version: u32, alignment: u64) {
    let f = GgufFile::parse(bytes).expect("valid file parses");
    assert_eq!(f.version(), version);
    assert_eq!(f.alignment(), alignment);
    assert_eq!(f.file_len(), bytes.len() as u64);
    assert_eq!(f.data_offset() % alignment, 0);

    let mut expected = all_values();
    if alignment != 32 {
        expected.insert(0, ("general.alignment", GgufValue::U32(alignment as u32)));
    }
    let got: Vec<(&str, &GgufValue)> = f.metadata().iter().collect();
    assert_eq!(got.len(), expected.len());
    for ((k, v), (ek, ev)) in got.iter().zip(&expected) {
        assert_eq!(k, ek, "keys in file order");
        assert_eq!(*v, ev, "value of {k}");
        assert_eq!(f.get(k), Some(ev));
    }

    let ts = tensors();
    assert_eq!(f.tensors().len(), ts.len());
    for (info, (name, dims, ty, data)) in f.tensors().iter().zip(&ts) {
        assert_eq!(info.name, *name);
        assert_eq!(&info.dims, dims);
        assert_eq!(info.ty, *ty);
        assert_eq!(info.n_bytes, data.len() as u64);
        assert_eq!(info.n_elements(), dims.iter().product::<u64>());
        assert_eq!(info.offset % alignment, 0);
        assert_eq!(f.tensor(name), Some(info));
        assert_eq!(
            f.tensor_data(bytes, info),
            Some(&data[..]),
            "bytes of {name}"
        );
    }
    let total: u64 = ts.iter().map(|t| t.3.len() as u64).sum();
    assert_eq!(f.total_tensor_bytes(), total);
    assert!(f.tensor("nope").is_none());
}

#[test]
fn v3_round_trip_every_value_and_tensor() {
    check_round_trip(&valid_file(3, None), 3, 32);
}

#[test]
fn v2_round_trip() {
    check_round_trip(&valid_file(2, None), 2, 32);
}

#[test]
fn custom_alignment_round_trip() {
    check_round_trip(&valid_file(3, Some(64)), 3, 64);
    check_round_trip(&valid_file(3, Some(1)), 3, 1);
}

#[test]
fn typed_getters_on_a_file() {
    let f = GgufFile::parse(&valid_file(3, None)).expect("valid");
    assert_eq!(f.get_str("general.architecture"), Ok("gpt-oss"));
    assert_eq!(f.get_u32("t.u8"), Ok(250));
    assert_eq!(f.get_u64("t.u32"), Ok(4_000_000_000));
    assert_eq!(f.get_i32("t.i16"), Ok(-30_000));
    assert_eq!(f.get_i64("t.i64"), Ok(i64::MIN));
    assert_eq!(f.get_f32("t.f32"), Ok(1.5e-5));
    assert_eq!(f.get_bool("t.bool.true"), Ok(true));
    assert_eq!(f.get_str_array("t.array.string"), Ok(vec!["a", "", "Ġb c"]));
    assert_eq!(f.get_i32_array("t.array.i32"), Ok(vec![1, -2, 3]));
    assert_eq!(f.get_f32_array("t.array.f32"), Ok(vec![0.25, -1.0]));
    assert_eq!(f.get_opt::<u32>("t.absent"), Ok(None));
    assert_eq!(
        f.get_u32("t.u64"),
        Err(MetaError::OutOfRange {
            key: "t.u64".into(),
            expected: "u32",
            value: u64::MAX.to_string()
        })
    );
    assert_eq!(
        f.get_u16("t.i8").map_err(|e| e.to_string()),
        Err("metadata key 't.i8' is -100, which does not fit in u16".to_owned())
    );
    assert_eq!(
        f.get_str("t.u8").map_err(|e| e.to_string()),
        Err("metadata key 't.u8' has type u8; expected string".to_owned())
    );
    assert_eq!(
        f.get_str_array("t.array.nested").map_err(|e| e.to_string()),
        Err(
            "metadata key 't.array.nested' has type array of array; expected array of string"
                .to_owned()
        )
    );
    assert!(matches!(
        f.get_u32("missing"),
        Err(MetaError::Missing { .. })
    ));
}

#[test]
fn file_without_tensors_or_keys() {
    let b = GgufBuilder::new().build();
    let f = GgufFile::parse(&b).expect("empty model is valid");
    assert!(f.metadata().is_empty());
    assert!(f.tensors().is_empty());
    assert_eq!(f.data_offset(), 32);
    // No padding after the header is fine when there is no data.
    let f = GgufFile::parse(&b[..24]).expect("unpadded empty model is valid");
    assert_eq!(f.data_offset(), 32);
}

#[test]
fn eight_levels_of_nesting_are_accepted() {
    let mut v = array(GgufType::U8, vec![GgufValue::U8(9)]);
    for _ in 1..super::MAX_DEPTH {
        v = array(GgufType::Array, vec![v]);
    }
    let mut b = GgufBuilder::new();
    b.kv("deep", v.clone());
    let f = GgufFile::parse(&b.build()).expect("depth 8 is allowed");
    assert_eq!(f.get("deep"), Some(&v));
}

#[test]
fn tensors_may_be_stored_out_of_order_with_gaps() {
    let mut b = GgufBuilder::new();
    b.tensor_raw(b"b", &[8], GgmlType::F32.id(), 64);
    b.tensor_raw(b"a", &[8], GgmlType::F32.id(), 0);
    let mut bytes = b.build();
    bytes.resize(bytes.len() + 96, 0);
    let f = GgufFile::parse(&bytes).expect("valid");
    assert_eq!(f.tensor("b").map(|t| t.offset), Some(64));
}

/// Writes the seed corpus for the `gguf_parse` fuzz target (run by hand:
/// `cargo test --lib gguf::tests_valid::write_fuzz_seeds -- --ignored`).
#[test]
#[ignore = "writes files into tests/fuzz/corpus"]
fn write_fuzz_seeds() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz/corpus/gguf_parse");
    std::fs::create_dir_all(&dir).expect("create corpus dir");
    let seeds = [
        ("valid_v3.gguf", valid_file(3, None)),
        ("valid_v2.gguf", valid_file(2, None)),
        ("valid_align1.gguf", valid_file(3, Some(1))),
        ("empty_model.gguf", GgufBuilder::new().build()),
    ];
    for (name, bytes) in seeds {
        GgufFile::parse(&bytes).expect("seed is valid");
        std::fs::write(dir.join(name), bytes).expect("write seed");
    }
}

#[test]
fn parse_error_is_reported_for_a_valid_prefix_plus_garbage_only_when_it_matters() {
    // Extra bytes after the last tensor are allowed (llama.cpp allows them too).
    let mut bytes = valid_file(3, None);
    bytes.extend_from_slice(&[0xAA; 100]);
    assert!(GgufFile::parse(&bytes).is_ok());
    // But a wrong magic is not.
    bytes[0] = b'X';
    assert!(matches!(
        GgufFile::parse(&bytes),
        Err(ParseError::BadMagic { .. })
    ));
}

/// Found by the fuzzer (in its own harness, which compared values with `==`):
/// NaN floats are valid metadata; their exact bits must survive, and `get`
/// must find them although NaN != NaN.
#[test]
fn nan_values_keep_their_bits() {
    let nan32 = f32::from_bits(0xffff_ffff);
    let nan64 = f64::from_bits(0x7ff8_0000_0000_0001);
    let mut b = GgufBuilder::new();
    b.kv("nan.f32", GgufValue::F32(nan32));
    b.kv(
        "nan.arr",
        array(
            GgufType::F32,
            vec![GgufValue::F32(nan32), GgufValue::F32(-0.0)],
        ),
    );
    b.kv("nan.f64", GgufValue::F64(nan64));
    let f = GgufFile::parse(&b.build()).expect("NaN is a valid value");
    assert_eq!(f.get_f32("nan.f32").map(f32::to_bits), Ok(0xffff_ffff));
    let arr = f.get_f32_array("nan.arr").expect("array");
    assert_eq!(
        arr.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
        vec![0xffff_ffff, 0x8000_0000]
    );
    assert!(
        matches!(f.get("nan.f64"), Some(GgufValue::F64(x)) if x.to_bits() == 0x7ff8_0000_0000_0001)
    );
    for (key, value) in f.metadata().iter() {
        assert!(f.get(key).is_some_and(|v| std::ptr::eq(v, value)));
    }
}
