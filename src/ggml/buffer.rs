//! Backend buffers: device memory for a context's tensors, or host memory we
//! already own (the mmap'd model file), wrapped without a copy.

use std::marker::PhantomData;
use std::ptr::NonNull;

use super::backend::{Backend, Device};
use super::context::{Context, Tensor};
use super::GgmlError;

/// Alignment ggml requires of host memory wrapped as a buffer.
pub const HOST_ALIGNMENT: usize = 32;

/// An owned `ggml_backend_buffer`, freed on drop. `'a` ties a buffer that
/// wraps borrowed host memory to that memory.
pub struct Buffer<'a> {
    ptr: NonNull<ggml_sys::ggml_backend_buffer>,
    _mem: PhantomData<&'a [u8]>,
}

// SAFETY: buffers are plain memory owned by ggml; no thread affinity.
unsafe impl Send for Buffer<'_> {}

impl Buffer<'static> {
    /// Allocates one buffer on `backend` for every tensor of `ctx` that has no
    /// data yet, and places them in it.
    pub fn alloc_ctx_tensors(
        ctx: &Context,
        backend: &Backend,
    ) -> Result<Buffer<'static>, GgmlError> {
        let mut bytes = 0usize;
        let mut t = ctx.first_tensor();
        while let Some(x) = t {
            bytes += x.nbytes();
            t = x.next_in(ctx);
        }
        // SAFETY: context and backend alive; null on failure is handled.
        let raw = unsafe { ggml_sys::ggml_backend_alloc_ctx_tensors(ctx.raw(), backend.raw()) };
        NonNull::new(raw)
            .map(|ptr| Buffer {
                ptr,
                _mem: PhantomData,
            })
            .ok_or_else(|| GgmlError::Alloc {
                device: backend.name(),
                bytes,
            })
    }
}

impl Buffer<'static> {
    /// `bytes` of `device`'s host memory type: pinned memory for a GPU (fast
    /// transfers), or `None` when the device has none.
    pub fn alloc_host(device: Device, bytes: usize) -> Option<Buffer<'static>> {
        // SAFETY: a registry device; null results are handled.
        let raw = unsafe {
            let buft = ggml_sys::ggml_backend_dev_host_buffer_type(device.raw());
            if buft.is_null() {
                return None;
            }
            ggml_sys::ggml_backend_buft_alloc_buffer(buft, bytes)
        };
        NonNull::new(raw).map(|ptr| Buffer {
            ptr,
            _mem: PhantomData,
        })
    }

    /// The buffer's memory as bytes, for host buffers (see
    /// [`Buffer::alloc_host`]); `None` for device memory. Tensors placed in
    /// the buffer read this memory: fill it before computing with them.
    pub fn host_bytes_mut(&mut self) -> Option<&mut [u8]> {
        // SAFETY: valid buffer; a host buffer's memory is its base pointer and
        // size; `&mut self` makes the slice unique while it lives.
        unsafe {
            if !ggml_sys::ggml_backend_buffer_is_host(self.ptr.as_ptr()) {
                return None;
            }
            let base = ggml_sys::ggml_backend_buffer_get_base(self.ptr.as_ptr()).cast::<u8>();
            if base.is_null() {
                return None;
            }
            Some(std::slice::from_raw_parts_mut(base, self.size()))
        }
    }

    /// The buffer's memory as f32 values, for host buffers (see
    /// [`Buffer::alloc_host`]); `None` for device memory.
    pub fn host_f32_mut(&mut self) -> Option<&mut [f32]> {
        // SAFETY: valid buffer; host buffers expose their memory through the
        // base pointer, which is aligned for any type ggml stores; `&mut self`
        // makes the slice unique while it lives.
        unsafe {
            if !ggml_sys::ggml_backend_buffer_is_host(self.ptr.as_ptr()) {
                return None;
            }
            let base = ggml_sys::ggml_backend_buffer_get_base(self.ptr.as_ptr()).cast::<f32>();
            if base.is_null() || base.align_offset(std::mem::align_of::<f32>()) != 0 {
                return None;
            }
            Some(std::slice::from_raw_parts_mut(base, self.size() / 4))
        }
    }
}

impl<'a> Buffer<'a> {
    /// Wraps host memory (e.g. a read-only mmap of the model) as a buffer of
    /// `device`, without copying. Tensors placed in it read straight from the
    /// mapping; ggml never writes weights, so a read-only mapping is fine.
    ///
    /// The memory must start on a [`HOST_ALIGNMENT`]-byte boundary (an mmap
    /// is page-aligned); anything else is an error, never ggml's abort.
    pub fn from_host_memory(device: Device, mem: &'a [u8]) -> Result<Buffer<'a>, GgmlError> {
        if mem.as_ptr().align_offset(HOST_ALIGNMENT) != 0 {
            return Err(GgmlError::Misaligned(HOST_ALIGNMENT));
        }
        // SAFETY: the memory outlives the buffer ('a); ggml only reads weight
        // buffers. The cast to *mut is required by the C signature.
        let raw = unsafe {
            ggml_sys::ggml_backend_dev_buffer_from_host_ptr(
                device.raw(),
                mem.as_ptr() as *mut _,
                mem.len(),
                mem.len(),
            )
        };
        NonNull::new(raw)
            .map(|ptr| Buffer {
                ptr,
                _mem: PhantomData,
            })
            .ok_or_else(|| GgmlError::Alloc {
                device: device.name(),
                bytes: mem.len(),
            })
    }

    /// Places `tensor` at byte `offset` of this host-memory buffer.
    pub fn place(&self, tensor: Tensor<'_>, offset: usize) -> Result<(), GgmlError> {
        let size = self.size();
        if offset
            .checked_add(tensor.nbytes())
            .is_none_or(|end| end > size)
        {
            return Err(GgmlError::DataSize {
                name: tensor.name(),
                expected: tensor.nbytes(),
                got: size.saturating_sub(offset),
            });
        }
        // SAFETY: the range lies inside the buffer (checked above).
        let status = unsafe {
            let base = ggml_sys::ggml_backend_buffer_get_base(self.ptr.as_ptr()).cast::<u8>();
            ggml_sys::ggml_backend_tensor_alloc(
                self.ptr.as_ptr(),
                tensor.raw(),
                base.add(offset).cast(),
            )
        };
        if status == ggml_sys::GGML_STATUS_SUCCESS {
            Ok(())
        } else {
            Err(GgmlError::Compute(status))
        }
    }

    /// Size in bytes.
    pub fn size(&self) -> usize {
        // SAFETY: valid buffer.
        unsafe { ggml_sys::ggml_backend_buffer_get_size(self.ptr.as_ptr()) }
    }

    /// Fills the whole buffer with `value`.
    pub fn clear(&self, value: u8) {
        // SAFETY: valid buffer.
        unsafe { ggml_sys::ggml_backend_buffer_clear(self.ptr.as_ptr(), value) }
    }

    /// Marks the buffer as holding weights, so schedulers prefer to run ops
    /// where the weights are.
    pub fn mark_weights(&self) {
        // SAFETY: valid buffer.
        unsafe {
            ggml_sys::ggml_backend_buffer_set_usage(
                self.ptr.as_ptr(),
                ggml_sys::GGML_BACKEND_BUFFER_USAGE_WEIGHTS,
            )
        }
    }
}

impl Drop for Buffer<'_> {
    fn drop(&mut self) {
        // SAFETY: owned, freed once.
        unsafe { ggml_sys::ggml_backend_buffer_free(self.ptr.as_ptr()) }
    }
}
