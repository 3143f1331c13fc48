//! The GGUF parser: header, metadata and tensor infos of one file, checked
//! against the bytes of the whole file so that everything it returns can be
//! trusted (tensor bytes in bounds, aligned, non-overlapping).

use std::collections::HashMap;
use std::ops::Range;

use super::cursor::{Cursor, Item, MAX_COUNT, MAX_DEPTH};
use super::metadata::{typed_getters, Metadata};
use super::tensor::{read_tensor_info, TensorInfo};
use super::{GgufType, GgufValue, MetaError, ParseError};

/// The four bytes every GGUF file starts with.
pub const GGUF_MAGIC: [u8; 4] = *b"GGUF";

/// The metadata key holding the data alignment.
pub const KEY_ALIGNMENT: &str = "general.alignment";

/// Alignment of the data section and of tensor offsets when the file does
/// not set `general.alignment`.
pub const DEFAULT_ALIGNMENT: u64 = 32;

/// Smallest possible encoding of one metadata pair (empty key, type, u8).
const MIN_KV_BYTES: u64 = 8 + 4 + 1;
/// Smallest possible encoding of one tensor info (empty name, 1 dim).
const MIN_TENSOR_INFO_BYTES: u64 = 8 + 4 + 8 + 4 + 8;

/// The parsed header of a GGUF file: version, metadata, tensor infos and
/// where the data section starts. It holds no tensor bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct GgufFile {
    version: u32,
    metadata: Metadata,
    tensors: Vec<TensorInfo>,
    tensor_index: HashMap<String, usize>,
    alignment: u64,
    data_offset: u64,
    file_len: u64,
}

impl GgufFile {
    /// Parses and validates `bytes`, the whole file (normally a memory map:
    /// only the header pages are read).
    pub fn parse(bytes: &[u8]) -> Result<GgufFile, ParseError> {
        let mut c = Cursor::new(bytes);
        // A file too short for the magic is truncated if what it has is a
        // prefix of the magic, and not GGUF at all otherwise (or if empty).
        let head = &bytes[..bytes.len().min(4)];
        if head.is_empty() || !GGUF_MAGIC.starts_with(head) {
            return Err(ParseError::BadMagic {
                found: head.to_vec(),
            });
        }
        let magic = c.take(4, Item::Header)?;
        if magic != GGUF_MAGIC {
            return Err(ParseError::BadMagic {
                found: magic.to_vec(),
            });
        }
        let version = c.u32(Item::Header)?;
        if !matches!(version, 2 | 3) {
            return Err(ParseError::UnsupportedVersion { version });
        }
        let n_tensors = c.u64(Item::Header)?;
        let n_kv = c.u64(Item::Header)?;
        check_count(&c, "the tensor count", n_tensors, MIN_TENSOR_INFO_BYTES)?;
        check_count(&c, "the metadata key count", n_kv, MIN_KV_BYTES)?;

        let metadata = read_metadata(&mut c, n_kv)?;
        let alignment = alignment(&metadata)?;

        let mut tensors = Vec::with_capacity(n_tensors as usize);
        let mut tensor_index = HashMap::with_capacity(n_tensors as usize);
        for i in 0..n_tensors {
            let info = read_tensor_info(&mut c, i, alignment)?;
            if tensor_index
                .insert(info.name.clone(), tensors.len())
                .is_some()
            {
                return Err(ParseError::DuplicateTensor { name: info.name });
            }
            tensors.push(info);
        }

        // The position is at most the file length, so this cannot overflow
        // for any real slice; saturate rather than trust it.
        let data_offset = c.pos().div_ceil(alignment).saturating_mul(alignment);
        check_placement(&tensors, data_offset, c.len())?;
        Ok(GgufFile {
            version,
            metadata,
            tensors,
            tensor_index,
            alignment,
            data_offset,
            file_len: c.len(),
        })
    }

    /// The GGUF version (2 or 3).
    pub fn version(&self) -> u32 {
        self.version
    }

    /// All metadata, in file order.
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// The value of metadata key `key`.
    pub fn get(&self, key: &str) -> Option<&GgufValue> {
        self.metadata.get(key)
    }

    /// Tensor infos in file order.
    pub fn tensors(&self) -> &[TensorInfo] {
        &self.tensors
    }

    /// The info of tensor `name`.
    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.tensor_index.get(name).map(|&i| &self.tensors[i])
    }

    /// The alignment of the data section and of tensor offsets.
    pub fn alignment(&self) -> u64 {
        self.alignment
    }

    /// Absolute offset of the data section (aligned).
    pub fn data_offset(&self) -> u64 {
        self.data_offset
    }

    /// Length of the parsed file in bytes.
    pub fn file_len(&self) -> u64 {
        self.file_len
    }

    /// Sum of all tensors' sizes in bytes.
    pub fn total_tensor_bytes(&self) -> u64 {
        self.tensors.iter().map(|t| t.n_bytes).sum()
    }

    /// Absolute byte range of `info` in the file, or `None` if it does not
    /// lie inside the file (never for this file's own tensor infos).
    pub fn tensor_range(&self, info: &TensorInfo) -> Option<Range<usize>> {
        let start = self.data_offset.checked_add(info.offset)?;
        let end = start.checked_add(info.n_bytes)?;
        if end > self.file_len {
            return None;
        }
        // Both are at most file_len, the length of a slice.
        Some(start as usize..end as usize)
    }

    /// The bytes of `info` within `bytes`, the slice this file was parsed
    /// from; `None` if the range is not inside `bytes` (another slice or
    /// another file's tensor info was passed).
    pub fn tensor_data<'b>(&self, bytes: &'b [u8], info: &TensorInfo) -> Option<&'b [u8]> {
        bytes.get(self.tensor_range(info)?)
    }

    fn same(&self, e: MetaError) -> MetaError {
        e
    }

    typed_getters!(MetaError, same);
}

/// Rejects counts above the limit, or that the rest of the file could not
/// hold even at `min_bytes` per entry; after this, preallocating `count`
/// entries is bounded by the file size.
fn check_count(c: &Cursor<'_>, what: &str, count: u64, min_bytes: u64) -> Result<(), ParseError> {
    if count > MAX_COUNT {
        return Err(ParseError::CountTooLarge {
            what: what.to_owned(),
            count,
            limit: MAX_COUNT,
        });
    }
    // count <= 2^30 and min_bytes is small: no overflow.
    if count * min_bytes > c.remaining() {
        return Err(ParseError::Truncated {
            what: format!("{what} ({count} entries)"),
            offset: c.pos(),
            needed: count * min_bytes,
            file_len: c.len(),
        });
    }
    Ok(())
}

fn read_metadata(c: &mut Cursor<'_>, n_kv: u64) -> Result<Metadata, ParseError> {
    let mut metadata = Metadata::with_capacity(n_kv as usize);
    for i in 0..n_kv {
        let key = c.string(Item::KeyName(i))?;
        if metadata.contains(key) {
            return Err(ParseError::DuplicateKey {
                key: key.to_owned(),
            });
        }
        let tag = c.u32(Item::Value(key))?;
        let ty = GgufType::from_tag(tag).ok_or_else(|| ParseError::UnknownValueType {
            what: Item::Value(key).to_string(),
            tag,
        })?;
        let value = read_value(c, ty, key, 0)?;
        metadata.push(key.to_owned(), value);
    }
    Ok(metadata)
}

/// Reads one value of type `ty` for `key`; `depth` is the number of arrays
/// around it.
fn read_value(
    c: &mut Cursor<'_>,
    ty: GgufType,
    key: &str,
    depth: u32,
) -> Result<GgufValue, ParseError> {
    let item = Item::Value(key);
    Ok(match ty {
        GgufType::U8 => GgufValue::U8(c.u8(item)?),
        GgufType::I8 => GgufValue::I8(c.u8(item)? as i8),
        GgufType::U16 => GgufValue::U16(c.u16(item)?),
        GgufType::I16 => GgufValue::I16(c.u16(item)? as i16),
        GgufType::U32 => GgufValue::U32(c.u32(item)?),
        GgufType::I32 => GgufValue::I32(c.u32(item)? as i32),
        GgufType::F32 => GgufValue::F32(f32::from_bits(c.u32(item)?)),
        GgufType::U64 => GgufValue::U64(c.u64(item)?),
        GgufType::I64 => GgufValue::I64(c.u64(item)? as i64),
        GgufType::F64 => GgufValue::F64(f64::from_bits(c.u64(item)?)),
        GgufType::Bool => match c.u8(item)? {
            0 => GgufValue::Bool(false),
            1 => GgufValue::Bool(true),
            value => {
                return Err(ParseError::InvalidBool {
                    what: item.to_string(),
                    value,
                })
            }
        },
        GgufType::String => GgufValue::String(c.string(item)?.to_owned()),
        GgufType::Array => read_array(c, key, depth)?,
    })
}

fn read_array(c: &mut Cursor<'_>, key: &str, depth: u32) -> Result<GgufValue, ParseError> {
    if depth >= MAX_DEPTH {
        return Err(ParseError::NestingTooDeep {
            key: key.to_owned(),
            limit: MAX_DEPTH,
        });
    }
    let tag = c.u32(Item::ElementType(key))?;
    let ety = GgufType::from_tag(tag).ok_or_else(|| ParseError::UnknownValueType {
        what: Item::ElementType(key).to_string(),
        tag,
    })?;
    let n = c.u64(Item::ArrayLength(key))?;
    // Strings take at least their 8-byte length, arrays their type and count.
    let min_bytes = ety
        .scalar_size()
        .unwrap_or(if ety == GgufType::String { 8 } else { 12 });
    check_count(c, &Item::ArrayLength(key).to_string(), n, min_bytes)?;
    let mut items = Vec::with_capacity(n as usize);
    for _ in 0..n {
        items.push(read_value(c, ety, key, depth + 1)?);
    }
    Ok(GgufValue::Array(ety, items))
}

fn alignment(metadata: &Metadata) -> Result<u64, ParseError> {
    match metadata.get(KEY_ALIGNMENT) {
        None => Ok(DEFAULT_ALIGNMENT),
        Some(&GgufValue::U32(value)) if value.is_power_of_two() => Ok(value.into()),
        Some(&GgufValue::U32(value)) => Err(ParseError::BadAlignment { value }),
        Some(v) => Err(ParseError::AlignmentType { found: v.kind() }),
    }
}

/// Checks that every tensor lies inside the file and that none overlap.
fn check_placement(
    tensors: &[TensorInfo],
    data_offset: u64,
    file_len: u64,
) -> Result<(), ParseError> {
    for t in tensors {
        let start = data_offset.checked_add(t.offset);
        let end = start.and_then(|s| s.checked_add(t.n_bytes));
        if end.is_none_or(|e| e > file_len) {
            return Err(ParseError::TensorBeyondEnd {
                tensor: t.name.clone(),
                offset: data_offset.saturating_add(t.offset),
                n_bytes: t.n_bytes,
                file_len,
            });
        }
    }
    let mut by_offset: Vec<&TensorInfo> = tensors.iter().collect();
    by_offset.sort_by_key(|t| t.offset);
    for pair in by_offset.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        // Both end inside the file, so this cannot overflow.
        let a_end = a.offset + a.n_bytes;
        if a_end > b.offset {
            return Err(ParseError::OverlappingTensors {
                tensor: a.name.clone(),
                start: a.offset,
                end: a_end,
                other: b.name.clone(),
                other_start: b.offset,
            });
        }
    }
    Ok(())
}
