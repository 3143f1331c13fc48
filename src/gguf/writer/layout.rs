//! What a GGUF file will look like before a byte is written: tensor specs
//! and their checks, metadata checks, the exact size of every part, each
//! tensor's offset, and the encoding of metadata values.

use std::collections::HashSet;
use std::io::{self, Write};
use std::path::Path;

use super::{
    GgufWriteError, ALIGNMENT_KEY, DEFAULT_ALIGNMENT, MAX_DIMS, MAX_NESTING, MAX_TENSOR_NAME,
};
use crate::ggml::GgmlType;
use crate::gguf::value::GgufValue;

/// One tensor to be written: its name, type and shape (`dims[0]` is the
/// row length, ggml's `ne[0]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorSpec {
    /// The tensor's name, e.g. `blk.0.attn_q.weight`.
    pub name: String,
    /// The element type.
    pub ty: GgmlType,
    /// The shape, innermost dimension first, 1 to 4 entries.
    pub dims: Vec<u64>,
}

impl TensorSpec {
    /// A tensor named `name` of type `ty` and shape `dims`.
    pub fn new(name: impl Into<String>, ty: GgmlType, dims: &[u64]) -> TensorSpec {
        TensorSpec {
            name: name.into(),
            ty,
            dims: dims.to_vec(),
        }
    }

    /// Number of elements, or `None` on overflow.
    pub fn n_elements(&self) -> Option<u64> {
        self.dims
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d))
    }

    /// Number of rows (all dimensions but the first).
    pub fn n_rows(&self) -> u64 {
        self.dims.iter().skip(1).product()
    }

    /// Size of the data in bytes, or `None` if the row length is not a whole
    /// number of blocks or the size overflows.
    pub fn n_bytes(&self) -> Option<u64> {
        let row = self.ty.row_bytes(*self.dims.first()?)?;
        self.dims
            .iter()
            .skip(1)
            .try_fold(row, |acc, &d| acc.checked_mul(d))
    }

    pub(super) fn check(&self) -> Result<u64, String> {
        let who = format!("tensor {:?}", self.name);
        if self.name.is_empty() {
            return Err("a tensor has an empty name".to_string());
        }
        if self.name.len() > MAX_TENSOR_NAME {
            return Err(format!(
                "{who}: name is longer than {MAX_TENSOR_NAME} bytes"
            ));
        }
        if self.dims.is_empty() || self.dims.len() > MAX_DIMS {
            return Err(format!(
                "{who}: {} dimensions, 1 to {MAX_DIMS} allowed",
                self.dims.len()
            ));
        }
        if self.dims.contains(&0) {
            return Err(format!("{who}: a dimension is zero in {:?}", self.dims));
        }
        if self.dims.iter().any(|&d| d > i64::MAX as u64)
            || self.n_elements().is_none_or(|n| n > i64::MAX as u64)
        {
            return Err(format!("{who}: shape {:?} is too large", self.dims));
        }
        if self.dims[0] % self.ty.block_size() != 0 {
            return Err(format!(
                "{who}: row length {} is not a multiple of the {} block size {}",
                self.dims[0],
                self.ty,
                self.ty.block_size()
            ));
        }
        self.n_bytes()
            .filter(|&n| n.checked_add(u64::from(u32::MAX)).is_some())
            .ok_or_else(|| format!("{who}: shape {:?} is too large", self.dims))
    }
}

/// The exact size of a GGUF file with this metadata and these tensors, and
/// each tensor's offset in the data section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// Bytes before the data section (header, metadata, tensor infos, padding).
    pub data_start: u64,
    /// Offset of each tensor's data from `data_start`.
    pub offsets: Vec<u64>,
    /// Size of each tensor's data, without padding.
    pub sizes: Vec<u64>,
    /// Total file size.
    pub file_size: u64,
    /// The data alignment.
    pub alignment: u32,
}

/// Checks metadata and tensors and computes the file layout. `path` only
/// names the file in errors.
pub fn layout(
    path: &Path,
    metadata: &[(String, GgufValue)],
    tensors: &[TensorSpec],
) -> Result<Layout, GgufWriteError> {
    let invalid = |reason: String| GgufWriteError::Invalid {
        path: path.to_path_buf(),
        reason,
    };
    let mut keys = HashSet::new();
    let mut header = 4 + 4 + 8 + 8u64;
    let mut alignment = DEFAULT_ALIGNMENT;
    for (key, value) in metadata {
        if key.is_empty() {
            return Err(invalid("a metadata key is empty".to_string()));
        }
        if !keys.insert(key.as_str()) {
            return Err(invalid(format!("metadata key {key:?} appears twice")));
        }
        check_value(value, 0).map_err(|r| invalid(format!("metadata key {key:?}: {r}")))?;
        if key == ALIGNMENT_KEY {
            alignment = match value {
                GgufValue::U32(a) if a.is_power_of_two() => *a,
                GgufValue::U32(a) => {
                    return Err(invalid(format!(
                        "{ALIGNMENT_KEY} {a} is not a power of two"
                    )))
                }
                other => {
                    return Err(invalid(format!(
                        "{ALIGNMENT_KEY} must be a u32, not {}",
                        other.kind()
                    )))
                }
            };
        }
        header += string_len(key) + 4 + payload_len(value);
    }
    let mut names = HashSet::new();
    let mut offsets = Vec::with_capacity(tensors.len());
    let mut sizes = Vec::with_capacity(tensors.len());
    let mut data = 0u64;
    for t in tensors {
        let size = t.check().map_err(invalid)?;
        if !names.insert(t.name.as_str()) {
            return Err(invalid(format!("tensor {:?} appears twice", t.name)));
        }
        header += string_len(&t.name) + 4 + 8 * t.dims.len() as u64 + 4 + 8;
        offsets.push(data);
        sizes.push(size);
        data = data
            .checked_add(pad(size, alignment))
            .ok_or_else(|| invalid("the tensor data is too large".to_string()))?;
    }
    let data_start = pad(header, alignment);
    let file_size = data_start
        .checked_add(data)
        .ok_or_else(|| invalid("the tensor data is too large".to_string()))?;
    Ok(Layout {
        data_start,
        offsets,
        sizes,
        file_size,
        alignment,
    })
}

/// `n` rounded up to a multiple of `alignment` (a power of two).
pub fn pad(n: u64, alignment: u32) -> u64 {
    let a = u64::from(alignment);
    n.div_ceil(a) * a
}

pub(super) fn string_len(s: &str) -> u64 {
    8 + s.len() as u64
}

pub(super) fn payload_len(v: &GgufValue) -> u64 {
    match v {
        GgufValue::String(s) => string_len(s),
        GgufValue::Array(_, items) => 4 + 8 + items.iter().map(payload_len).sum::<u64>(),
        other => other.kind().scalar_size().unwrap_or(0),
    }
}

pub(super) fn check_value(v: &GgufValue, depth: usize) -> Result<(), String> {
    if let GgufValue::Array(ty, items) = v {
        if depth >= MAX_NESTING {
            return Err(format!("arrays nest deeper than {MAX_NESTING} levels"));
        }
        if let Some(bad) = items.iter().find(|i| i.kind() != *ty) {
            return Err(format!("an array of {ty} holds a {}", bad.kind()));
        }
        for item in items {
            check_value(item, depth + 1)?;
        }
    }
    Ok(())
}

pub(super) fn write_string<W: Write>(w: &mut W, s: &str) -> io::Result<()> {
    w.write_all(&(s.len() as u64).to_le_bytes())?;
    w.write_all(s.as_bytes())
}

/// Writes a value without its type tag (array elements carry none).
pub(super) fn write_payload<W: Write>(w: &mut W, v: &GgufValue) -> io::Result<()> {
    use GgufValue::*;
    match v {
        U8(x) => w.write_all(&x.to_le_bytes()),
        I8(x) => w.write_all(&x.to_le_bytes()),
        U16(x) => w.write_all(&x.to_le_bytes()),
        I16(x) => w.write_all(&x.to_le_bytes()),
        U32(x) => w.write_all(&x.to_le_bytes()),
        I32(x) => w.write_all(&x.to_le_bytes()),
        F32(x) => w.write_all(&x.to_le_bytes()),
        Bool(x) => w.write_all(&[u8::from(*x)]),
        String(s) => write_string(w, s),
        U64(x) => w.write_all(&x.to_le_bytes()),
        I64(x) => w.write_all(&x.to_le_bytes()),
        F64(x) => w.write_all(&x.to_le_bytes()),
        Array(ty, items) => {
            w.write_all(&ty.tag().to_le_bytes())?;
            w.write_all(&(items.len() as u64).to_le_bytes())?;
            items.iter().try_for_each(|i| write_payload(w, i))
        }
    }
}
