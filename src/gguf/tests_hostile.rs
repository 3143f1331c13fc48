//! Hostile files: one test per kind of damage, each built byte by byte and
//! each expected to give its own typed error (never a panic, hang or huge
//! allocation).

use std::time::{Duration, Instant};

use super::test_bytes::{array, string_bytes, value_bytes, GgufBuilder};
use super::tests_valid::valid_file;
use super::{GgufFile, GgufType, GgufValue, ParseError, MAX_COUNT, MAX_DEPTH, MAX_STRING};

pub(crate) fn parse_err(bytes: &[u8]) -> ParseError {
    match GgufFile::parse(bytes) {
        Ok(_) => panic!("hostile file was accepted"),
        Err(e) => e,
    }
}

fn u32_payload(tag: GgufType, n: u64) -> Vec<u8> {
    let mut p = tag.tag().to_le_bytes().to_vec();
    p.extend_from_slice(&n.to_le_bytes());
    p
}

#[test]
fn bad_magic() {
    let mut b = GgufBuilder::new();
    b.magic = *b"GGML";
    let e = parse_err(&b.build());
    assert_eq!(
        e,
        ParseError::BadMagic {
            found: b"GGML".to_vec()
        }
    );
    assert_eq!(
        e.to_string(),
        "not a GGUF file: it starts with bytes 47 47 4d 4c instead of \"GGUF\""
    );
    assert!(matches!(parse_err(b""), ParseError::BadMagic { .. }));
    assert!(matches!(parse_err(b"PK"), ParseError::BadMagic { .. }));
}

#[test]
fn bad_versions() {
    for version in [0u32, 1, 4, 0x0300_0000, u32::MAX] {
        let mut b = GgufBuilder::new();
        b.version = version;
        assert_eq!(
            parse_err(&b.build()),
            ParseError::UnsupportedVersion { version }
        );
    }
}

#[test]
fn key_count_beyond_the_file() {
    let mut b = GgufBuilder::new();
    b.kv("a", GgufValue::U8(1));
    b.n_kv = Some(1000);
    let e = parse_err(&b.build());
    assert!(
        matches!(e, ParseError::Truncated { ref what, .. } if what.contains("metadata key count")),
        "{e}"
    );
}

#[test]
fn tensor_count_beyond_the_file() {
    let mut b = GgufBuilder::new();
    b.n_tensors = Some(100);
    let e = parse_err(&b.build());
    assert!(
        matches!(e, ParseError::Truncated { ref what, .. } if what.contains("tensor count")),
        "{e}"
    );
}

#[test]
fn absurd_counts() {
    let mut b = GgufBuilder::new();
    b.n_kv = Some(1 << 40);
    assert_eq!(
        parse_err(&b.build()),
        ParseError::CountTooLarge {
            what: "the metadata key count".into(),
            count: 1 << 40,
            limit: MAX_COUNT
        }
    );
    let mut b = GgufBuilder::new();
    b.n_tensors = Some(u64::MAX);
    assert!(matches!(
        parse_err(&b.build()),
        ParseError::CountTooLarge {
            count: u64::MAX,
            ..
        }
    ));
    let mut b = GgufBuilder::new();
    b.kv_raw(
        b"arr",
        GgufType::Array.tag(),
        &u32_payload(GgufType::U8, MAX_COUNT + 1),
    );
    assert!(
        matches!(parse_err(&b.build()), ParseError::CountTooLarge { count, .. } if count == MAX_COUNT + 1)
    );
}

#[test]
fn string_length_beyond_the_file() {
    let mut b = GgufBuilder::new();
    let mut payload = 1000u64.to_le_bytes().to_vec();
    payload.extend_from_slice(b"short");
    b.kv_raw(b"s", GgufType::String.tag(), &payload);
    let e = parse_err(&b.build());
    assert!(
        matches!(e, ParseError::Truncated { needed: 1000, .. }),
        "{e}"
    );
    assert!(
        e.to_string().contains("the value of metadata key 's'"),
        "{e}"
    );
}

#[test]
fn key_length_beyond_the_file() {
    let mut b = GgufBuilder::new().build();
    b[16..24].copy_from_slice(&1u64.to_le_bytes()); // one key
    b.truncate(24);
    b.extend_from_slice(&500u64.to_le_bytes());
    b.extend_from_slice(&[b'k'; 20]);
    let e = parse_err(&b);
    assert!(
        matches!(e, ParseError::Truncated { needed: 500, .. }),
        "{e}"
    );
}

#[test]
fn absurd_string_length() {
    let mut b = GgufBuilder::new();
    b.kv_raw(
        b"s",
        GgufType::String.tag(),
        &(MAX_STRING + 1).to_le_bytes(),
    );
    let e = parse_err(&b.build());
    assert_eq!(
        e,
        ParseError::StringTooLong {
            what: "the value of metadata key 's'".into(),
            len: MAX_STRING + 1,
            limit: MAX_STRING
        }
    );
    let mut b = GgufBuilder::new();
    b.kv_raw(&[], GgufType::U8.tag(), &[1]);
    let mut bytes = b.build();
    bytes[24..32].copy_from_slice(&u64::MAX.to_le_bytes()); // key length
    assert!(matches!(
        parse_err(&bytes),
        ParseError::StringTooLong { len: u64::MAX, .. }
    ));
}

#[test]
fn array_length_beyond_the_file_fails_fast_without_allocating() {
    // 2^30 u64s claimed in a ~100-byte file: would be 8 GiB (32 GiB as
    // GgufValues) if preallocated from the claim.
    for ety in [GgufType::U64, GgufType::String, GgufType::Array] {
        let mut b = GgufBuilder::new();
        b.kv_raw(b"arr", GgufType::Array.tag(), &u32_payload(ety, MAX_COUNT));
        let bytes = b.build();
        assert!(bytes.len() < 100);
        let start = Instant::now();
        let e = parse_err(&bytes);
        assert!(start.elapsed() < Duration::from_millis(100));
        assert!(
            matches!(e, ParseError::Truncated { ref what, .. } if what == "the array 'arr' (1073741824 entries)"),
            "{e}"
        );
    }
    // Also inside a nested array.
    let mut b = GgufBuilder::new();
    let mut payload = u32_payload(GgufType::Array, 1);
    payload.extend(u32_payload(GgufType::F64, MAX_COUNT));
    b.kv_raw(b"nest", GgufType::Array.tag(), &payload);
    assert!(matches!(
        parse_err(&b.build()),
        ParseError::Truncated { .. }
    ));
}

#[test]
fn nesting_too_deep() {
    let mut v = array(GgufType::U8, vec![]);
    for _ in 0..MAX_DEPTH {
        v = array(GgufType::Array, vec![v]);
    }
    let mut b = GgufBuilder::new();
    b.kv("deep", v);
    assert_eq!(
        parse_err(&b.build()),
        ParseError::NestingTooDeep {
            key: "deep".into(),
            limit: MAX_DEPTH
        }
    );
    // A claim of a million levels stops at the cap, whatever the file says.
    let mut payload = Vec::new();
    for _ in 0..1_000_000 {
        payload.extend(u32_payload(GgufType::Array, 1));
    }
    let mut b = GgufBuilder::new();
    b.kv_raw(b"abyss", GgufType::Array.tag(), &payload);
    assert!(matches!(
        parse_err(&b.build()),
        ParseError::NestingTooDeep { .. }
    ));
}

#[test]
fn unknown_value_types() {
    let mut b = GgufBuilder::new();
    b.kv_raw(b"k", 13, &[0; 8]);
    let e = parse_err(&b.build());
    assert_eq!(
        e,
        ParseError::UnknownValueType {
            what: "the value of metadata key 'k'".into(),
            tag: 13
        }
    );
    let mut b = GgufBuilder::new();
    b.kv_raw(
        b"k",
        GgufType::Array.tag(),
        &[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0],
    );
    assert!(matches!(
        parse_err(&b.build()),
        ParseError::UnknownValueType { tag: u32::MAX, .. }
    ));
}

#[test]
fn invalid_bool() {
    let mut b = GgufBuilder::new();
    b.kv_raw(b"flag", GgufType::Bool.tag(), &[2]);
    assert!(matches!(
        parse_err(&b.build()),
        ParseError::InvalidBool { value: 2, .. }
    ));
}

#[test]
fn duplicate_keys() {
    let mut b = GgufBuilder::new();
    b.kv("general.name", GgufValue::String("a".into()));
    b.kv("general.name", GgufValue::U32(1));
    assert_eq!(
        parse_err(&b.build()),
        ParseError::DuplicateKey {
            key: "general.name".into()
        }
    );
}

#[test]
fn bad_alignment_values() {
    for value in [0u32, 3, 48, u32::MAX] {
        let mut b = GgufBuilder::new();
        b.kv("general.alignment", GgufValue::U32(value));
        assert_eq!(parse_err(&b.build()), ParseError::BadAlignment { value });
    }
}

#[test]
fn alignment_with_the_wrong_type() {
    for v in [
        GgufValue::U64(32),
        GgufValue::I32(32),
        GgufValue::String("32".into()),
    ] {
        let found = v.kind();
        let mut b = GgufBuilder::new();
        b.kv("general.alignment", v);
        assert_eq!(parse_err(&b.build()), ParseError::AlignmentType { found });
    }
}

#[test]
fn every_truncation_of_a_valid_file_is_an_error() {
    let bytes = valid_file(3, Some(64));
    assert!(GgufFile::parse(&bytes).is_ok());
    for len in 0..bytes.len() {
        let e = GgufFile::parse(&bytes[..len]);
        assert!(e.is_err(), "prefix of {len} bytes was accepted");
    }
    let e = parse_err(&bytes[..100]);
    assert!(
        matches!(e, ParseError::Truncated { file_len: 100, .. }),
        "{e}"
    );
}

#[test]
fn invalid_utf8() {
    let mut b = GgufBuilder::new();
    b.kv_raw(b"bad\xffkey", GgufType::U8.tag(), &[1]);
    let e = parse_err(&b.build());
    assert_eq!(
        e,
        ParseError::InvalidUtf8 {
            what: "the name of metadata key #0".into(),
            offset: 32
        }
    );

    let mut b = GgufBuilder::new();
    b.kv_raw(b"s", GgufType::String.tag(), &string_bytes(b"\xc3\x28"));
    assert!(matches!(
        parse_err(&b.build()),
        ParseError::InvalidUtf8 { .. }
    ));

    let mut b = GgufBuilder::new();
    let mut payload = u32_payload(GgufType::String, 2);
    payload.extend(string_bytes(b"ok"));
    payload.extend(string_bytes(b"\xed\xa0\x80")); // a UTF-16 surrogate
    b.kv_raw(b"tokens", GgufType::Array.tag(), &payload);
    let e = parse_err(&b.build());
    assert!(
        matches!(e, ParseError::InvalidUtf8 { ref what, .. } if what.contains("'tokens'")),
        "{e}"
    );

    let mut b = GgufBuilder::new();
    b.tensor_raw(b"w\x80", &[8], 0, 0);
    assert!(matches!(
        parse_err(&b.build()),
        ParseError::InvalidUtf8 { .. }
    ));
}

#[test]
fn values_of_every_type_truncated_mid_value() {
    // Each scalar type cut one byte short.
    for v in [
        GgufValue::U16(1),
        GgufValue::U32(1),
        GgufValue::U64(1),
        GgufValue::F64(1.0),
    ] {
        let mut b = GgufBuilder::new();
        let payload = value_bytes(&v);
        b.kv_raw(b"k", v.kind().tag(), &payload[..payload.len() - 1]);
        let mut bytes = b.header();
        bytes.truncate(24 + 8 + 1 + 4 + payload.len() - 1);
        assert!(matches!(parse_err(&bytes), ParseError::Truncated { .. }));
    }
}
