//! ggml's own GGUF reader (`gguf.h`), behind a safe owned handle: a second
//! opinion, independent of kchat's `gguf` module, on the files kchat writes.
//! Tests use it; kchat's own loading never does.

use std::ffi::{c_char, CStr, CString};
use std::path::{Path, PathBuf};
use std::ptr::NonNull;

use llama_cpp_sys_2 as ll;

use crate::gguf::{GgufType, GgufValue};

/// Why ggml's reader could not open a file.
#[derive(Debug, thiserror::Error)]
#[error("ggml's GGUF reader refused {}", path.display())]
pub struct GgufReadError {
    /// The file.
    pub path: PathBuf,
}

/// A tensor as ggml's reader sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GgmlGgufTensor {
    /// Its name.
    pub name: String,
    /// ggml's type id.
    pub ty: u32,
    /// Offset of its first byte from the start of the file.
    pub offset: usize,
}

/// A GGUF file's header opened by ggml (metadata and tensor infos only; no
/// tensor data is read). Freed on drop.
pub struct GgmlGguf {
    ptr: NonNull<ll::gguf_context>,
}

fn text(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: ggml returns NUL-terminated strings owned by the context.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

impl GgmlGguf {
    /// Opens `path` with ggml's reader.
    pub fn open(path: &Path) -> Result<GgmlGguf, GgufReadError> {
        let refused = || GgufReadError {
            path: path.to_owned(),
        };
        let c = path
            .to_str()
            .and_then(|s| CString::new(s).ok())
            .ok_or_else(refused)?;
        let params = ll::gguf_init_params {
            no_alloc: true,
            ctx: std::ptr::null_mut(),
        };
        // SAFETY: a NUL-terminated path; no ggml context is asked for.
        let ptr = unsafe { ll::gguf_init_from_file(c.as_ptr(), params) };
        NonNull::new(ptr)
            .map(|ptr| GgmlGguf { ptr })
            .ok_or_else(refused)
    }

    fn raw(&self) -> *const ll::gguf_context {
        self.ptr.as_ptr()
    }

    /// The metadata keys, in file order.
    pub fn keys(&self) -> Vec<String> {
        // SAFETY: a live context; indices below gguf_get_n_kv.
        let n = unsafe { ll::gguf_get_n_kv(self.raw()) };
        (0..n)
            .map(|i| text(unsafe { ll::gguf_get_key(self.raw(), i) }))
            .collect()
    }

    /// The value of `key` as ggml reads it (`None` when ggml does not see
    /// the key, or its type is unknown to kchat).
    pub fn value(&self, key: &str) -> Option<GgufValue> {
        let c = CString::new(key).ok()?;
        // SAFETY: a live context and a NUL-terminated key.
        let id = unsafe { ll::gguf_find_key(self.raw(), c.as_ptr()) };
        if id < 0 {
            return None;
        }
        // SAFETY: a key id ggml returned.
        let ty = GgufType::from_tag(unsafe { ll::gguf_get_kv_type(self.raw(), id) })?;
        match ty {
            GgufType::Array => self.array(id),
            GgufType::String => {
                // SAFETY: the key holds a string.
                Some(GgufValue::String(text(unsafe {
                    ll::gguf_get_val_str(self.raw(), id)
                })))
            }
            ty => {
                let size = ty.scalar_size()? as usize;
                // SAFETY: the key holds one scalar of `size` bytes.
                let bytes = unsafe {
                    let p = ll::gguf_get_val_data(self.raw(), id).cast::<u8>();
                    std::slice::from_raw_parts(p, size)
                };
                scalar(ty, bytes)
            }
        }
    }

    /// The array at key id `id`.
    fn array(&self, id: i64) -> Option<GgufValue> {
        // SAFETY: the key holds an array.
        let (ety, n) = unsafe {
            (
                ll::gguf_get_arr_type(self.raw(), id),
                ll::gguf_get_arr_n(self.raw(), id),
            )
        };
        let ety = GgufType::from_tag(ety)?;
        let items = if n == 0 {
            Vec::new()
        } else if ety == GgufType::String {
            (0..n)
                // SAFETY: a string array; indices below its length.
                .map(|i| {
                    GgufValue::String(text(unsafe { ll::gguf_get_arr_str(self.raw(), id, i) }))
                })
                .collect()
        } else {
            let size = ety.scalar_size()? as usize;
            // SAFETY: an array of n scalars of `size` bytes.
            let bytes = unsafe {
                let p = ll::gguf_get_arr_data(self.raw(), id).cast::<u8>();
                std::slice::from_raw_parts(p, n * size)
            };
            bytes
                .chunks(size)
                .map(|b| scalar(ety, b))
                .collect::<Option<Vec<_>>>()?
        };
        Some(GgufValue::Array(ety, items))
    }

    /// The tensors, in file order.
    pub fn tensors(&self) -> Vec<GgmlGgufTensor> {
        // SAFETY: a live context; indices below gguf_get_n_tensors.
        unsafe {
            let base = ll::gguf_get_data_offset(self.raw());
            (0..ll::gguf_get_n_tensors(self.raw()))
                .map(|i| GgmlGgufTensor {
                    name: text(ll::gguf_get_tensor_name(self.raw(), i)),
                    ty: ll::gguf_get_tensor_type(self.raw(), i),
                    offset: base + ll::gguf_get_tensor_offset(self.raw(), i),
                })
                .collect()
        }
    }
}

impl Drop for GgmlGguf {
    fn drop(&mut self) {
        // SAFETY: from gguf_init_from_file, freed once.
        unsafe { ll::gguf_free(self.ptr.as_ptr()) }
    }
}

/// A little-endian scalar of type `ty` from exactly its bytes.
fn scalar(ty: GgufType, b: &[u8]) -> Option<GgufValue> {
    fn arr<const N: usize>(b: &[u8]) -> Option<[u8; N]> {
        b.get(..N)?.try_into().ok()
    }
    Some(match ty {
        GgufType::U8 => GgufValue::U8(*b.first()?),
        GgufType::I8 => GgufValue::I8(i8::from_le_bytes(arr(b)?)),
        GgufType::U16 => GgufValue::U16(u16::from_le_bytes(arr(b)?)),
        GgufType::I16 => GgufValue::I16(i16::from_le_bytes(arr(b)?)),
        GgufType::U32 => GgufValue::U32(u32::from_le_bytes(arr(b)?)),
        GgufType::I32 => GgufValue::I32(i32::from_le_bytes(arr(b)?)),
        GgufType::F32 => GgufValue::F32(f32::from_le_bytes(arr(b)?)),
        GgufType::Bool => GgufValue::Bool(*b.first()? != 0),
        GgufType::U64 => GgufValue::U64(u64::from_le_bytes(arr(b)?)),
        GgufType::I64 => GgufValue::I64(i64::from_le_bytes(arr(b)?)),
        GgufType::F64 => GgufValue::F64(f64::from_le_bytes(arr(b)?)),
        GgufType::String | GgufType::Array => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_name_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let bad = dir.path().join("bad.gguf");
        std::fs::write(&bad, b"GGUF but not really").expect("write");
        let err = GgmlGguf::open(&bad).err().expect("refused");
        assert!(err.to_string().contains("bad.gguf"), "{err}");
        assert!(GgmlGguf::open(&dir.path().join("none.gguf")).is_err());
    }

    #[test]
    fn scalars_decode_little_endian() {
        assert_eq!(
            scalar(GgufType::I16, &[0xfe, 0xff]),
            Some(GgufValue::I16(-2))
        );
        assert_eq!(scalar(GgufType::U32, &[1, 0]), None);
        assert_eq!(scalar(GgufType::String, &[]), None);
    }
}
