//! Owned ggml contexts and the tensor handles that live in them.
//!
//! kchat uses metadata-only contexts (`no_alloc`): a context holds tensor and
//! graph descriptions, while the data lives in backend buffers or the mmap.

use std::ffi::{c_char, CStr};
use std::marker::PhantomData;
use std::ptr::NonNull;

use super::{GgmlError, GgmlType};

/// An owned `ggml_context`, freed on drop.
pub struct Context {
    ptr: NonNull<ggml_sys::ggml_context>,
}

impl Context {
    /// A metadata-only context with room for `n_tensors` tensor headers and,
    /// if `graph_size > 0`, one graph of that many nodes.
    pub fn new(n_tensors: usize, graph_size: usize) -> Result<Context, GgmlError> {
        // SAFETY: pure size queries.
        let mut mem = n_tensors * unsafe { ggml_sys::ggml_tensor_overhead() };
        if graph_size > 0 {
            mem += unsafe { ggml_sys::ggml_graph_overhead_custom(graph_size, false) };
        }
        let params = ggml_sys::ggml_init_params {
            mem_size: mem,
            mem_buffer: std::ptr::null_mut(),
            no_alloc: true,
        };
        // SAFETY: ggml_init copies the params; a null result is handled.
        let raw = unsafe { ggml_sys::ggml_init(params) };
        NonNull::new(raw)
            .map(|ptr| Context { ptr })
            .ok_or(GgmlError::ContextInit(mem))
    }

    pub(crate) fn raw(&self) -> *mut ggml_sys::ggml_context {
        self.ptr.as_ptr()
    }

    /// A new tensor of type `ty` and shape `ne` (innermost first, 1 to 4 dims).
    pub fn new_tensor(&self, ty: GgmlType, ne: &[i64]) -> Tensor<'_> {
        // Dimensions past the fourth are ignored; an empty shape is a scalar.
        let given = ne.len().min(4);
        let mut dims = [1i64; 4];
        dims[..given].copy_from_slice(&ne[..given]);
        let n = given.max(1);
        // SAFETY: the context is alive and has room (ggml aborts otherwise,
        // which callers prevent by sizing the context for their tensors).
        let t = unsafe { ggml_sys::ggml_new_tensor(self.raw(), ty.id(), n as i32, dims.as_ptr()) };
        Tensor::from_raw(t)
    }

    /// A handle to `t` that can be stored without borrowing this context, or
    /// `None` if `t` is not a tensor of this context (found by walking the
    /// context's tensor list).
    pub fn id_of(&self, t: Tensor<'_>) -> Option<TensorId> {
        let mut cur = self.first_tensor();
        while let Some(x) = cur {
            if x.ptr == t.ptr {
                return Some(TensorId {
                    ctx: self.ptr,
                    tensor: t.ptr,
                });
            }
            cur = x.next_in(self);
        }
        None
    }

    /// The tensor behind `id`. Panics if `id` came from another context (a
    /// programming error: ids are only ever used with their own context).
    pub fn get(&self, id: TensorId) -> Tensor<'_> {
        assert!(id.ctx == self.ptr, "tensor id used with another context");
        Tensor {
            ptr: id.tensor,
            _ctx: PhantomData,
        }
    }

    /// The first tensor of the context, for iteration with [`Tensor::next_in`].
    pub fn first_tensor(&self) -> Option<Tensor<'_>> {
        // SAFETY: the context is alive.
        NonNull::new(unsafe { ggml_sys::ggml_get_first_tensor(self.raw()) })
            .map(|p| Tensor::from_raw(p.as_ptr()))
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        // SAFETY: we own the context and free it once.
        unsafe { ggml_sys::ggml_free(self.ptr.as_ptr()) }
    }
}

/// A stored handle to a tensor of a [`Context`], turned back into a
/// [`Tensor`] with [`Context::get`] on that same context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TensorId {
    ctx: NonNull<ggml_sys::ggml_context>,
    tensor: NonNull<ggml_sys::ggml_tensor>,
}

// SAFETY: an id is only dereferenced through `Context::get`, which requires
// the owning context; the pointers themselves carry no thread affinity.
unsafe impl Send for TensorId {}

/// A tensor living in a [`Context`]; a cheap copyable handle.
#[derive(Clone, Copy)]
pub struct Tensor<'ctx> {
    ptr: NonNull<ggml_sys::ggml_tensor>,
    _ctx: PhantomData<&'ctx Context>,
}

impl<'ctx> Tensor<'ctx> {
    pub(crate) fn from_raw(raw: *mut ggml_sys::ggml_tensor) -> Tensor<'ctx> {
        // ggml aborts instead of returning null for tensors; a null here is a
        // broken invariant of the C library.
        let ptr = NonNull::new(raw).expect("ggml returned a null tensor");
        Tensor {
            ptr,
            _ctx: PhantomData,
        }
    }

    pub(crate) fn raw(self) -> *mut ggml_sys::ggml_tensor {
        self.ptr.as_ptr()
    }

    fn header(&self) -> &ggml_sys::ggml_tensor {
        // SAFETY: the tensor lives as long as its context ('ctx).
        unsafe { self.ptr.as_ref() }
    }

    /// Shape, innermost first (always 4 entries).
    pub fn ne(&self) -> [i64; 4] {
        self.header().ne
    }

    /// Strides in bytes.
    pub fn nb(&self) -> [usize; 4] {
        self.header().nb
    }

    /// Element type.
    pub fn ty(&self) -> Option<GgmlType> {
        GgmlType::from_id(self.header().type_)
    }

    /// Size of the tensor data in bytes.
    pub fn nbytes(&self) -> usize {
        // SAFETY: valid tensor.
        unsafe { ggml_sys::ggml_nbytes(self.raw()) }
    }

    /// Number of elements.
    pub fn nelements(&self) -> i64 {
        self.ne().iter().product()
    }

    /// Sets the tensor's name (truncated by ggml to 63 bytes).
    pub fn set_name(self, name: &str) -> Self {
        let mut buf: Vec<u8> = name.bytes().filter(|&b| b != 0).take(63).collect();
        buf.push(0);
        // SAFETY: NUL-terminated buffer; ggml copies it.
        unsafe { ggml_sys::ggml_set_name(self.raw(), buf.as_ptr().cast::<c_char>()) };
        self
    }

    /// The tensor's name.
    pub fn name(&self) -> String {
        // SAFETY: ggml keeps the name NUL-terminated within its 64 bytes.
        unsafe { CStr::from_ptr(self.header().name.as_ptr()) }
            .to_string_lossy()
            .into_owned()
    }

    /// Whether the tensor has data placed (in a buffer).
    pub fn is_allocated(&self) -> bool {
        !self.header().data.is_null()
    }

    /// Marks the tensor as a graph input.
    pub fn set_input(self) -> Self {
        // SAFETY: valid tensor.
        unsafe { ggml_sys::ggml_set_input(self.raw()) };
        self
    }

    /// Marks the tensor as a graph output (kept, not reused by the allocator).
    pub fn set_output(self) -> Self {
        // SAFETY: valid tensor.
        unsafe { ggml_sys::ggml_set_output(self.raw()) };
        self
    }

    /// The next tensor in the same context.
    pub fn next_in(self, ctx: &'ctx Context) -> Option<Tensor<'ctx>> {
        // SAFETY: both alive.
        NonNull::new(unsafe { ggml_sys::ggml_get_next_tensor(ctx.raw(), self.raw()) })
            .map(|p| Tensor::from_raw(p.as_ptr()))
    }

    /// Copies `data` into the tensor's backend storage at byte `offset`.
    pub fn write_at(&self, offset: usize, data: &[u8]) -> Result<(), GgmlError> {
        if !self.is_allocated()
            || offset
                .checked_add(data.len())
                .is_none_or(|e| e > self.nbytes())
        {
            return Err(GgmlError::DataSize {
                name: self.name(),
                expected: self.nbytes().saturating_sub(offset),
                got: data.len(),
            });
        }
        // SAFETY: the range lies inside the allocated tensor (checked).
        unsafe {
            ggml_sys::ggml_backend_tensor_set(self.raw(), data.as_ptr().cast(), offset, data.len())
        };
        Ok(())
    }

    /// Writes i32 values (the tensor must be I32 of that many elements).
    pub fn write_i32(&self, data: &[i32]) -> Result<(), GgmlError> {
        self.write_scalars(data)
    }

    /// Writes i64 values (the tensor must be I64 of that many elements).
    pub fn write_i64(&self, data: &[i64]) -> Result<(), GgmlError> {
        self.write_scalars(data)
    }

    /// Reads `out.len()` f32 values starting at element `first` of an F32
    /// tensor, without an intermediate buffer.
    pub fn read_f32_into(&self, first: usize, out: &mut [f32]) -> Result<(), GgmlError> {
        let (off, len) = (first * 4, out.len() * 4);
        if self.ty() != Some(GgmlType::F32)
            || !self.is_allocated()
            || off.checked_add(len).is_none_or(|e| e > self.nbytes())
        {
            return Err(GgmlError::DataSize {
                name: self.name(),
                expected: self.nbytes().saturating_sub(off),
                got: len,
            });
        }
        // SAFETY: the range lies inside the allocated F32 tensor, and `out`
        // has exactly `len` bytes of f32 storage.
        unsafe { ggml_sys::ggml_backend_tensor_get(self.raw(), out.as_mut_ptr().cast(), off, len) };
        Ok(())
    }

    /// Copies `data` into the tensor's backend storage.
    pub fn write(&self, data: &[u8]) -> Result<(), GgmlError> {
        self.write_scalars(data)
    }

    /// Writes f16 values given as their bit patterns (an F16 tensor).
    pub fn write_f16_bits(&self, data: &[u16]) -> Result<(), GgmlError> {
        self.write_scalars(data)
    }

    /// Writes f32 values (the tensor must be F32).
    pub fn write_f32(&self, data: &[f32]) -> Result<(), GgmlError> {
        self.write_scalars(data)
    }

    /// Writes a slice of plain numbers as the tensor's whole data, straight
    /// from the slice (ggml's tensors are little-endian like the host).
    fn write_scalars<T: Scalar>(&self, data: &[T]) -> Result<(), GgmlError> {
        let len = std::mem::size_of_val(data);
        self.check_size(len)?;
        // SAFETY: `T` is a plain number type without padding, so the slice
        // is `len` initialised bytes; the tensor holds exactly `len` bytes
        // and is allocated (checked).
        unsafe { ggml_sys::ggml_backend_tensor_set(self.raw(), data.as_ptr().cast(), 0, len) };
        Ok(())
    }

    /// Copies the tensor's data out of its backend storage.
    pub fn read(&self) -> Result<Vec<u8>, GgmlError> {
        let mut out = vec![0u8; self.nbytes()];
        self.check_size(out.len())?;
        // SAFETY: the buffer has nbytes and the tensor is allocated.
        unsafe {
            ggml_sys::ggml_backend_tensor_get(self.raw(), out.as_mut_ptr().cast(), 0, out.len())
        };
        Ok(out)
    }

    /// Reads an F32 tensor.
    pub fn read_f32(&self) -> Result<Vec<f32>, GgmlError> {
        let bytes = self.read()?;
        Ok(bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }

    fn check_size(&self, got: usize) -> Result<(), GgmlError> {
        if got != self.nbytes() || !self.is_allocated() {
            return Err(GgmlError::DataSize {
                name: self.name(),
                expected: if self.is_allocated() {
                    self.nbytes()
                } else {
                    0
                },
                got,
            });
        }
        Ok(())
    }
}

/// Number types whose slices are plain bytes (no padding, any bit pattern
/// valid), writable into tensors without a copy.
trait Scalar: Copy {}
impl Scalar for u8 {}
impl Scalar for u16 {}
impl Scalar for i32 {}
impl Scalar for i64 {}
impl Scalar for f32 {}
