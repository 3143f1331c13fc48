//! Tensor infos: reading one from the header and checking its shape, type
//! and size before anything trusts them.

use crate::ggml::GgmlType;

use super::cursor::{Cursor, Item, MAX_TENSOR_NAME};
use super::ParseError;

/// Where a tensor's bytes are and what they hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    /// The tensor name (`blk.0.attn_q.weight`).
    pub name: String,
    /// Dimensions, innermost first (ggml's `ne`), 1 to 4 of them, each >= 1.
    pub dims: Vec<u64>,
    /// Element type.
    pub ty: GgmlType,
    /// Offset of the first byte, relative to the start of the data section.
    pub offset: u64,
    /// Size in bytes.
    pub n_bytes: u64,
}

impl TensorInfo {
    /// Number of elements (the product of the dimensions; fits in an i64).
    pub fn n_elements(&self) -> u64 {
        self.dims.iter().product()
    }

    /// Number of dimensions (1 to 4).
    pub fn n_dims(&self) -> usize {
        self.dims.len()
    }

    /// The four ggml dimensions, padded with 1.
    pub fn ne(&self) -> [u64; 4] {
        let mut ne = [1u64; 4];
        ne[..self.dims.len()].copy_from_slice(&self.dims);
        ne
    }
}

/// Reads the tensor info with index `index` at the cursor and validates
/// everything that does not depend on the other tensors or the file size.
/// `alignment` is the file's (already validated) power-of-two alignment.
pub(crate) fn read_tensor_info(
    c: &mut Cursor<'_>,
    index: u64,
    alignment: u64,
) -> Result<TensorInfo, ParseError> {
    let name = c.string(Item::TensorName(index))?;
    if name.len() > MAX_TENSOR_NAME {
        return Err(ParseError::TensorNameTooLong {
            name: name.to_owned(),
            len: name.len(),
            limit: MAX_TENSOR_NAME,
        });
    }
    let item = Item::TensorInfo(name);
    let n_dims = c.u32(item)?;
    if !(1..=4).contains(&n_dims) {
        return Err(ParseError::DimCount {
            tensor: name.to_owned(),
            n_dims,
        });
    }
    let mut dims = Vec::with_capacity(n_dims as usize);
    for index in 0..n_dims as usize {
        let value = c.u64(item)?;
        if value == 0 || value > i64::MAX as u64 {
            return Err(ParseError::BadDim {
                tensor: name.to_owned(),
                index,
                value,
            });
        }
        dims.push(value);
    }
    let id = c.u32(item)?;
    let ty = GgmlType::from_id(id).ok_or_else(|| ParseError::UnknownTensorType {
        tensor: name.to_owned(),
        id,
    })?;
    let offset = c.u64(item)?;
    let n_bytes = tensor_bytes(name, &dims, ty, alignment)?;
    if offset % alignment != 0 {
        return Err(ParseError::MisalignedOffset {
            tensor: name.to_owned(),
            offset,
            alignment,
        });
    }
    Ok(TensorInfo {
        name: name.to_owned(),
        dims,
        ty,
        offset,
        n_bytes,
    })
}

/// The byte size of a tensor of `ty` with `dims`, after checking that the
/// element count fits in an i64, rows are whole blocks, and the size padded
/// to `alignment` fits in a u64.
fn tensor_bytes(name: &str, dims: &[u64], ty: GgmlType, alignment: u64) -> Result<u64, ParseError> {
    let mut n_elements: u64 = 1;
    for &d in dims {
        n_elements = match n_elements.checked_mul(d) {
            Some(n) if n <= i64::MAX as u64 => n,
            _ => {
                return Err(ParseError::ElementCountOverflow {
                    tensor: name.to_owned(),
                    dims: dims.to_vec(),
                })
            }
        };
    }
    let ne0 = dims[0];
    if ne0 % ty.block_size() != 0 {
        return Err(ParseError::RowNotBlockMultiple {
            tensor: name.to_owned(),
            ty,
            ne0,
            block: ty.block_size(),
        });
    }
    let overflow = || ParseError::ByteSizeOverflow {
        tensor: name.to_owned(),
        ty,
        dims: dims.to_vec(),
    };
    let mut n_bytes = ty.row_bytes(ne0).ok_or_else(overflow)?;
    for &d in &dims[1..] {
        n_bytes = n_bytes.checked_mul(d).ok_or_else(overflow)?;
    }
    // ggml pads every tensor to the alignment; that must not wrap either.
    n_bytes.checked_add(alignment - 1).ok_or_else(overflow)?;
    Ok(n_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(dims: &[u64], ty: GgmlType) -> Result<u64, ParseError> {
        tensor_bytes("t", dims, ty, 32)
    }

    #[test]
    fn sizes() {
        assert_eq!(info(&[64, 3], GgmlType::Q8_0), Ok(2 * 34 * 3));
        assert_eq!(info(&[5, 2, 3, 4], GgmlType::BF16), Ok(2 * 5 * 2 * 3 * 4));
        assert_eq!(info(&[32], GgmlType::MXFP4), Ok(17));
        let t = TensorInfo {
            name: "t".into(),
            dims: vec![4, 3],
            ty: GgmlType::F32,
            offset: 0,
            n_bytes: 48,
        };
        assert_eq!(t.n_elements(), 12);
        assert_eq!(t.ne(), [4, 3, 1, 1]);
        assert_eq!(t.n_dims(), 2);
    }
}
