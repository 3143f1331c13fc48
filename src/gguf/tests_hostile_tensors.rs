//! Hostile tensor infos: one test per kind of bad shape, type, size or
//! placement, each expected to give its own typed error.

use crate::ggml::GgmlType;

use super::test_bytes::GgufBuilder;
use super::tests_hostile::parse_err;
use super::ParseError;

/// A file with one F32 tensor of `dims` at `offset` and enough data.
fn one_tensor(dims: &[u64], ty: u32, offset: u64) -> Vec<u8> {
    let mut b = GgufBuilder::new();
    b.tensor_raw(b"t", dims, ty, offset);
    let mut bytes = b.build();
    bytes.resize(bytes.len() + 4096, 0);
    bytes
}

#[test]
fn unknown_tensor_types() {
    // 4 and 5 (Q4_2, Q4_3) and 31-33 were removed from ggml; 36-38 too.
    for id in [4u32, 5, 31, 32, 33, 36, 37, 38, 43, 1000, u32::MAX] {
        let e = parse_err(&one_tensor(&[32], id, 0));
        assert_eq!(
            e,
            ParseError::UnknownTensorType {
                tensor: "t".into(),
                id
            }
        );
    }
}

#[test]
fn duplicate_tensor_names() {
    let mut b = GgufBuilder::new();
    b.tensor("w", &[8], GgmlType::F32, &[0; 32]);
    b.tensor("w", &[8], GgmlType::F32, &[0; 32]);
    assert_eq!(
        parse_err(&b.build()),
        ParseError::DuplicateTensor { name: "w".into() }
    );
}

#[test]
fn too_many_or_no_dims() {
    let e = parse_err(&one_tensor(&[1, 1, 1, 1, 1], 0, 0));
    assert_eq!(
        e,
        ParseError::DimCount {
            tensor: "t".into(),
            n_dims: 5
        }
    );
    assert!(matches!(
        parse_err(&one_tensor(&[], 0, 0)),
        ParseError::DimCount { n_dims: 0, .. }
    ));
    // A huge dim count must not be trusted either.
    let mut b = GgufBuilder::new();
    b.tensor_raw(b"t", &[1], 0, 0);
    let mut bytes = b.build();
    let at = 24 + 8 + 1; // header, name length, name
    bytes[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(
        parse_err(&bytes),
        ParseError::DimCount {
            n_dims: u32::MAX,
            ..
        }
    ));
}

#[test]
fn zero_or_negative_dims() {
    let e = parse_err(&one_tensor(&[4, 0], 0, 0));
    assert_eq!(
        e,
        ParseError::BadDim {
            tensor: "t".into(),
            index: 1,
            value: 0
        }
    );
    for negative in [1u64 << 63, u64::MAX] {
        let e = parse_err(&one_tensor(&[negative], 0, 0));
        assert!(matches!(e, ParseError::BadDim { index: 0, value, .. } if value == negative));
    }
}

#[test]
fn element_count_overflow() {
    let e = parse_err(&one_tensor(&[i64::MAX as u64, 2, 1, 1], 0, 0));
    assert_eq!(
        e,
        ParseError::ElementCountOverflow {
            tensor: "t".into(),
            dims: vec![i64::MAX as u64, 2, 1, 1]
        }
    );
    // Each factor fine, the product not.
    let e = parse_err(&one_tensor(&[1 << 20, 1 << 20, 1 << 20, 1 << 20], 0, 0));
    assert!(matches!(e, ParseError::ElementCountOverflow { .. }));
}

#[test]
fn byte_size_overflow() {
    // 2^62 F32 elements fit an i64 count but 2^64 bytes do not fit a u64.
    let e = parse_err(&one_tensor(&[1 << 62], GgmlType::F32.id(), 0));
    assert!(
        matches!(
            e,
            ParseError::ByteSizeOverflow {
                ty: GgmlType::F32,
                ..
            }
        ),
        "{e}"
    );
    let e = parse_err(&one_tensor(&[1 << 60, 4], GgmlType::F64.id(), 0));
    assert!(
        matches!(
            e,
            ParseError::ByteSizeOverflow {
                ty: GgmlType::F64,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn padding_that_wraps_to_zero() {
    // 2^62 - 1 F32s are 2^64 - 4 bytes: that fits, but padded to 32 it wraps
    // to 28, which ggml's size arithmetic would take as the tensor's size.
    let dims = [(1u64 << 62) - 1];
    assert_eq!(GgmlType::F32.row_bytes(dims[0]), Some(u64::MAX - 3));
    let e = parse_err(&one_tensor(&dims, GgmlType::F32.id(), 0));
    assert_eq!(
        e,
        ParseError::ByteSizeOverflow {
            tensor: "t".into(),
            ty: GgmlType::F32,
            dims: dims.to_vec()
        }
    );
}

#[test]
fn row_not_a_multiple_of_the_block_size() {
    let e = parse_err(&one_tensor(&[33, 2], GgmlType::Q8_0.id(), 0));
    assert_eq!(
        e,
        ParseError::RowNotBlockMultiple {
            tensor: "t".into(),
            ty: GgmlType::Q8_0,
            ne0: 33,
            block: 32
        }
    );
    assert!(matches!(
        parse_err(&one_tensor(&[300], GgmlType::Q4_K.id(), 0)),
        ParseError::RowNotBlockMultiple { block: 256, .. }
    ));
}

#[test]
fn misaligned_offset() {
    let e = parse_err(&one_tensor(&[4], GgmlType::F32.id(), 16));
    assert_eq!(
        e,
        ParseError::MisalignedOffset {
            tensor: "t".into(),
            offset: 16,
            alignment: 32
        }
    );
}

#[test]
fn overlapping_tensors() {
    let mut b = GgufBuilder::new();
    b.tensor_raw(b"second", &[16], GgmlType::F32.id(), 32);
    b.tensor_raw(b"first", &[16], GgmlType::F32.id(), 0);
    let mut bytes = b.build();
    bytes.resize(bytes.len() + 256, 0);
    assert_eq!(
        parse_err(&bytes),
        ParseError::OverlappingTensors {
            tensor: "first".into(),
            start: 0,
            end: 64,
            other: "second".into(),
            other_start: 32
        }
    );
    // The same offset twice.
    let mut b = GgufBuilder::new();
    b.tensor_raw(b"a", &[8], GgmlType::F32.id(), 0);
    b.tensor_raw(b"b", &[8], GgmlType::F32.id(), 0);
    let mut bytes = b.build();
    bytes.resize(bytes.len() + 64, 0);
    assert!(matches!(
        parse_err(&bytes),
        ParseError::OverlappingTensors { .. }
    ));
}

#[test]
fn tensor_beyond_the_end_of_the_file() {
    let mut b = GgufBuilder::new();
    b.tensor("w", &[8], GgmlType::F32, &[0; 32]);
    let mut bytes = b.build();
    bytes.truncate(bytes.len() - 1);
    let header_len = bytes.len() as u64 + 1 - 32;
    assert_eq!(
        parse_err(&bytes),
        ParseError::TensorBeyondEnd {
            tensor: "w".into(),
            offset: header_len,
            n_bytes: 32,
            file_len: bytes.len() as u64
        }
    );
    let e = parse_err(&one_tensor(&[8], GgmlType::F32.id(), 1 << 40));
    assert!(matches!(e, ParseError::TensorBeyondEnd { .. }), "{e}");
    // An offset so big that offset + size wraps around u64.
    let e = parse_err(&one_tensor(&[64], GgmlType::F32.id(), u64::MAX - 31));
    assert!(
        matches!(e, ParseError::TensorBeyondEnd { n_bytes: 256, .. }),
        "{e}"
    );
}

#[test]
fn tensor_name_too_long() {
    let name = [b'n'; 64];
    let mut b = GgufBuilder::new();
    b.tensor_raw(&name, &[8], 0, 0);
    assert!(matches!(
        parse_err(&b.build()),
        ParseError::TensorNameTooLong {
            len: 64,
            limit: 63,
            ..
        }
    ));
}
