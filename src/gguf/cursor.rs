//! A bounds-checked little-endian reader over the bytes of a GGUF file, with
//! the limits that keep hostile files from causing huge allocations.

use std::fmt;

use super::ParseError;

/// Most entries the reader accepts in one count: metadata keys, tensors, or
/// elements of one array (2^30; the real vocabulary has 201,088).
pub const MAX_COUNT: u64 = 1 << 30;

/// Longest string the reader accepts, in bytes (1 GiB).
pub const MAX_STRING: u64 = 1 << 30;

/// Deepest nesting of arrays inside arrays (a plain array is depth 1).
pub const MAX_DEPTH: u32 = 8;

/// Longest tensor name, in bytes (ggml's `GGML_MAX_NAME` is 64 with the NUL).
pub const MAX_TENSOR_NAME: usize = 63;

/// What is being read, for error messages; formatted only when an error
/// happens, so reading costs no allocation.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Item<'k> {
    /// The fixed header.
    Header,
    /// The name of the metadata key with this index.
    KeyName(u64),
    /// The value of this key.
    Value(&'k str),
    /// The element type of this key's array.
    ElementType(&'k str),
    /// The length of this key's array.
    ArrayLength(&'k str),
    /// The name of the tensor with this index.
    TensorName(u64),
    /// The rest of this tensor's info.
    TensorInfo(&'k str),
}

impl fmt::Display for Item<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Item::Header => f.write_str("the header"),
            Item::KeyName(i) => write!(f, "the name of metadata key #{i}"),
            Item::Value(key) => write!(f, "the value of metadata key '{key}'"),
            Item::ElementType(key) => write!(f, "the element type of the array '{key}'"),
            Item::ArrayLength(key) => write!(f, "the array '{key}'"),
            Item::TensorName(i) => write!(f, "the name of tensor #{i}"),
            Item::TensorInfo(name) => write!(f, "the info of tensor '{name}'"),
        }
    }
}

/// A position in a byte slice; every read checks the bounds first.
pub(crate) struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Cursor<'a> {
        Cursor { bytes, pos: 0 }
    }

    /// The current absolute position.
    pub fn pos(&self) -> u64 {
        self.pos as u64
    }

    /// Bytes left after the position.
    pub fn remaining(&self) -> u64 {
        (self.bytes.len() - self.pos) as u64
    }

    /// Length of the whole slice.
    pub fn len(&self) -> u64 {
        self.bytes.len() as u64
    }

    /// The error for `item` needing `needed` bytes at the current position.
    pub fn truncated(&self, item: Item<'_>, needed: u64) -> ParseError {
        ParseError::Truncated {
            what: item.to_string(),
            offset: self.pos(),
            needed,
            file_len: self.len(),
        }
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: u64, item: Item<'_>) -> Result<&'a [u8], ParseError> {
        if n > self.remaining() {
            return Err(self.truncated(item, n));
        }
        // n <= remaining, which fits in usize.
        let n = n as usize;
        let out = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    fn array<const N: usize>(&mut self, item: Item<'_>) -> Result<[u8; N], ParseError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N as u64, item)?);
        Ok(out)
    }

    /// A `u8`.
    pub fn u8(&mut self, item: Item<'_>) -> Result<u8, ParseError> {
        Ok(self.array::<1>(item)?[0])
    }

    /// A little-endian `u16`.
    pub fn u16(&mut self, item: Item<'_>) -> Result<u16, ParseError> {
        self.array(item).map(u16::from_le_bytes)
    }

    /// A little-endian `u32`.
    pub fn u32(&mut self, item: Item<'_>) -> Result<u32, ParseError> {
        self.array(item).map(u32::from_le_bytes)
    }

    /// A little-endian `u64`.
    pub fn u64(&mut self, item: Item<'_>) -> Result<u64, ParseError> {
        self.array(item).map(u64::from_le_bytes)
    }

    /// A GGUF string: a `u64` length, then that many bytes of UTF-8.
    pub fn string(&mut self, item: Item<'_>) -> Result<&'a str, ParseError> {
        let len = self.u64(item)?;
        if len > MAX_STRING {
            return Err(ParseError::StringTooLong {
                what: item.to_string(),
                len,
                limit: MAX_STRING,
            });
        }
        let start = self.pos();
        let bytes = self.take(len, item)?;
        std::str::from_utf8(bytes).map_err(|_| ParseError::InvalidUtf8 {
            what: item.to_string(),
            offset: start,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_little_endian_and_stops_at_the_end() {
        let bytes = [1u8, 2, 0, 3, 0, 0, 0, 9];
        let mut c = Cursor::new(&bytes);
        assert_eq!(c.u8(Item::Header), Ok(1));
        assert_eq!(c.u16(Item::Header), Ok(2));
        assert_eq!(c.u32(Item::Header), Ok(3));
        assert_eq!(c.remaining(), 1);
        let err = c.u64(Item::Header).expect_err("only one byte left");
        assert_eq!(
            err,
            ParseError::Truncated {
                what: "the header".into(),
                offset: 7,
                needed: 8,
                file_len: 8
            }
        );
        assert_eq!(c.u8(Item::Header), Ok(9));
    }

    #[test]
    fn string_limits_and_utf8() {
        let mut b = (MAX_STRING + 1).to_le_bytes().to_vec();
        b.extend_from_slice(b"xx");
        let err = Cursor::new(&b)
            .string(Item::KeyName(0))
            .expect_err("too long");
        assert!(matches!(err, ParseError::StringTooLong { len, .. } if len == MAX_STRING + 1));

        let mut b = 2u64.to_le_bytes().to_vec();
        b.extend_from_slice(&[0xff, 0xfe]);
        let err = Cursor::new(&b)
            .string(Item::KeyName(0))
            .expect_err("not utf-8");
        assert!(matches!(err, ParseError::InvalidUtf8 { offset: 8, .. }));
    }
}
