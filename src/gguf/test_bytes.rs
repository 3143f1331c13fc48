//! Test-only builder of GGUF bytes, valid or deliberately broken, so that
//! tests can state exactly which bytes a hostile file holds.

use crate::ggml::GgmlType;

use super::{GgufType, GgufValue};

/// A GGUF string: u64 length and the bytes.
pub fn string_bytes(s: &[u8]) -> Vec<u8> {
    let mut out = (s.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(s);
    out
}

/// The encoding of `v` without its type tag.
pub fn value_bytes(v: &GgufValue) -> Vec<u8> {
    use GgufValue::*;
    match v {
        U8(x) => vec![*x],
        I8(x) => x.to_le_bytes().to_vec(),
        U16(x) => x.to_le_bytes().to_vec(),
        I16(x) => x.to_le_bytes().to_vec(),
        U32(x) => x.to_le_bytes().to_vec(),
        I32(x) => x.to_le_bytes().to_vec(),
        F32(x) => x.to_le_bytes().to_vec(),
        Bool(x) => vec![u8::from(*x)],
        String(s) => string_bytes(s.as_bytes()),
        U64(x) => x.to_le_bytes().to_vec(),
        I64(x) => x.to_le_bytes().to_vec(),
        F64(x) => x.to_le_bytes().to_vec(),
        Array(ty, items) => {
            let mut out = ty.tag().to_le_bytes().to_vec();
            out.extend_from_slice(&(items.len() as u64).to_le_bytes());
            for item in items {
                out.extend(value_bytes(item));
            }
            out
        }
    }
}

/// Builds a GGUF file piece by piece. Counts default to what was added and
/// can be overridden to lie.
pub struct GgufBuilder {
    /// The magic bytes.
    pub magic: [u8; 4],
    /// The version field.
    pub version: u32,
    /// Overrides the tensor count in the header.
    pub n_tensors: Option<u64>,
    /// Overrides the key count in the header.
    pub n_kv: Option<u64>,
    /// Alignment used to pad the header and place tensor data.
    pub alignment: u64,
    kv: Vec<u8>,
    kv_count: u64,
    infos: Vec<u8>,
    info_count: u64,
    data: Vec<u8>,
    reserved: u64,
}

impl GgufBuilder {
    /// An empty version-3 file with the default alignment.
    pub fn new() -> GgufBuilder {
        GgufBuilder {
            magic: *b"GGUF",
            version: 3,
            n_tensors: None,
            n_kv: None,
            alignment: 32,
            kv: Vec::new(),
            kv_count: 0,
            infos: Vec::new(),
            info_count: 0,
            data: Vec::new(),
            reserved: 0,
        }
    }

    /// Adds a metadata pair.
    pub fn kv(&mut self, key: &str, v: GgufValue) -> &mut Self {
        let tag = v.kind().tag();
        self.kv_raw(key.as_bytes(), tag, &value_bytes(&v))
    }

    /// Adds a metadata pair from raw parts.
    pub fn kv_raw(&mut self, key: &[u8], tag: u32, payload: &[u8]) -> &mut Self {
        self.kv.extend(string_bytes(key));
        self.kv.extend_from_slice(&tag.to_le_bytes());
        self.kv.extend_from_slice(payload);
        self.kv_count += 1;
        self
    }

    /// Adds a tensor info from raw parts (no data).
    pub fn tensor_raw(&mut self, name: &[u8], dims: &[u64], ty: u32, offset: u64) -> &mut Self {
        self.infos.extend(string_bytes(name));
        self.infos
            .extend_from_slice(&(dims.len() as u32).to_le_bytes());
        for d in dims {
            self.infos.extend_from_slice(&d.to_le_bytes());
        }
        self.infos.extend_from_slice(&ty.to_le_bytes());
        self.infos.extend_from_slice(&offset.to_le_bytes());
        self.info_count += 1;
        self
    }

    /// Adds a tensor with its data, placed at the next aligned offset.
    pub fn tensor(&mut self, name: &str, dims: &[u64], ty: GgmlType, data: &[u8]) -> &mut Self {
        let offset = self.data.len().next_multiple_of(self.alignment as usize);
        self.data.resize(offset, 0);
        self.data.extend_from_slice(data);
        self.tensor_raw(name.as_bytes(), dims, ty.id(), offset as u64)
    }

    /// Adds a tensor whose data is not kept: its bytes are only reserved, and
    /// the caller extends the file to `header().len() + reserved()` (sparse).
    pub fn reserve(&mut self, name: &str, dims: &[u64], ty: GgmlType) -> &mut Self {
        assert!(self.data.is_empty(), "reserve() and tensor() do not mix");
        let offset = self.reserved.next_multiple_of(self.alignment);
        let n: u64 =
            dims[1..].iter().product::<u64>() * ty.row_bytes(dims[0]).expect("whole blocks");
        self.reserved = offset + n;
        self.tensor_raw(name.as_bytes(), dims, ty.id(), offset)
    }

    /// Bytes of data reserved by `reserve`.
    pub fn reserved(&self) -> u64 {
        self.reserved
    }

    /// Everything before the data section, padded to the alignment.
    pub fn header(&self) -> Vec<u8> {
        let mut out = self.magic.to_vec();
        out.extend_from_slice(&self.version.to_le_bytes());
        out.extend_from_slice(&self.n_tensors.unwrap_or(self.info_count).to_le_bytes());
        out.extend_from_slice(&self.n_kv.unwrap_or(self.kv_count).to_le_bytes());
        out.extend_from_slice(&self.kv);
        out.extend_from_slice(&self.infos);
        out.resize(out.len().next_multiple_of(self.alignment as usize), 0);
        out
    }

    /// The whole file.
    pub fn build(&self) -> Vec<u8> {
        let mut out = self.header();
        out.extend_from_slice(&self.data);
        out
    }
}

/// `n` bytes of a recognizable pattern.
pub fn pattern(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// An array value of type `ty`.
pub fn array(ty: GgufType, items: Vec<GgufValue>) -> GgufValue {
    GgufValue::Array(ty, items)
}
