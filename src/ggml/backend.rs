//! Devices from ggml's backend registry, and owned backends made from them.
//!
//! Devices are discovered at run time (CPU always; CUDA when the ggml build
//! has it), never through a compile-time GPU API.

use std::ffi::{c_char, CStr};
use std::fmt;
use std::ptr::NonNull;

use super::GgmlError;

/// The kind of a backend device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceKind {
    /// The host CPU.
    Cpu,
    /// A discrete GPU.
    Gpu,
    /// An integrated GPU sharing host memory.
    IntegratedGpu,
    /// An accelerator used alongside the CPU (e.g. BLAS, AMX).
    Accelerator,
    /// Anything else ggml may report.
    Other,
}

/// A device of the ggml backend registry (static, never freed).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Device {
    ptr: NonNull<ggml_sys::ggml_backend_device>,
}

// SAFETY: registry devices are immutable global singletons in ggml.
unsafe impl Send for Device {}
// SAFETY: as above.
unsafe impl Sync for Device {}

fn c_str(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: ggml returns NUL-terminated static strings.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

impl Device {
    /// Every device the registry knows, in registry order.
    pub fn all() -> Vec<Device> {
        // SAFETY: registry queries with in-range indices.
        let n = unsafe { ggml_sys::ggml_backend_dev_count() };
        (0..n)
            .filter_map(|i| NonNull::new(unsafe { ggml_sys::ggml_backend_dev_get(i) }))
            .map(|ptr| Device { ptr })
            .collect()
    }

    /// The device behind a raw registry pointer (None for null).
    pub(crate) fn from_raw(ptr: ggml_sys::ggml_backend_dev_t) -> Option<Device> {
        NonNull::new(ptr).map(|ptr| Device { ptr })
    }

    /// The CPU device.
    pub fn cpu() -> Option<Device> {
        Device::all()
            .into_iter()
            .find(|d| d.kind() == DeviceKind::Cpu)
    }

    /// GPU devices (discrete and integrated), in registry order.
    pub fn gpus() -> Vec<Device> {
        Device::all()
            .into_iter()
            .filter(|d| matches!(d.kind(), DeviceKind::Gpu | DeviceKind::IntegratedGpu))
            .collect()
    }

    /// Short name, e.g. `CPU` or `CUDA0`.
    pub fn name(&self) -> String {
        // SAFETY: valid device.
        c_str(unsafe { ggml_sys::ggml_backend_dev_name(self.ptr.as_ptr()) })
    }

    /// Human description, e.g. the CPU model or `NVIDIA H100 80GB HBM3`.
    pub fn description(&self) -> String {
        // SAFETY: valid device.
        c_str(unsafe { ggml_sys::ggml_backend_dev_description(self.ptr.as_ptr()) })
    }

    /// What kind of device this is.
    pub fn kind(&self) -> DeviceKind {
        // SAFETY: valid device.
        match unsafe { ggml_sys::ggml_backend_dev_type(self.ptr.as_ptr()) } {
            ggml_sys::GGML_BACKEND_DEVICE_TYPE_CPU => DeviceKind::Cpu,
            ggml_sys::GGML_BACKEND_DEVICE_TYPE_GPU => DeviceKind::Gpu,
            ggml_sys::GGML_BACKEND_DEVICE_TYPE_IGPU => DeviceKind::IntegratedGpu,
            ggml_sys::GGML_BACKEND_DEVICE_TYPE_ACCEL => DeviceKind::Accelerator,
            _ => DeviceKind::Other,
        }
    }

    /// (free, total) memory in bytes, as the device reports it.
    pub fn memory(&self) -> (usize, usize) {
        let (mut free, mut total) = (0usize, 0usize);
        // SAFETY: valid device and out-pointers.
        unsafe { ggml_sys::ggml_backend_dev_memory(self.ptr.as_ptr(), &mut free, &mut total) };
        (free, total)
    }

    /// Whether this device can compute the op that produces `t`.
    pub fn supports_op(&self, t: super::Tensor<'_>) -> bool {
        // SAFETY: valid device and tensor.
        unsafe { ggml_sys::ggml_backend_dev_supports_op(self.ptr.as_ptr(), t.raw()) }
    }

    /// Starts a backend (a compute stream) on this device.
    pub fn init(&self) -> Result<Backend, GgmlError> {
        // SAFETY: valid device; null params mean defaults.
        let raw = unsafe { ggml_sys::ggml_backend_dev_init(self.ptr.as_ptr(), std::ptr::null()) };
        NonNull::new(raw)
            .map(|ptr| Backend { ptr, device: *self })
            .ok_or_else(|| GgmlError::BackendInit(self.name()))
    }

    pub(crate) fn raw(&self) -> *mut ggml_sys::ggml_backend_device {
        self.ptr.as_ptr()
    }
}

impl fmt::Debug for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({:?}, {})",
            self.name(),
            self.kind(),
            self.description()
        )
    }
}

/// An owned backend, freed on drop.
pub struct Backend {
    ptr: NonNull<ggml_sys::ggml_backend>,
    device: Device,
}

// SAFETY: a backend is used from one thread at a time (&mut for compute via
// the scheduler); moving it between threads is allowed by ggml.
unsafe impl Send for Backend {}

impl Backend {
    /// The device this backend runs on.
    pub fn device(&self) -> Device {
        self.device
    }

    /// The backend's name.
    pub fn name(&self) -> String {
        // SAFETY: valid backend.
        c_str(unsafe { ggml_sys::ggml_backend_name(self.ptr.as_ptr()) })
    }

    /// Sets the thread count if this is the CPU backend; ignored otherwise.
    pub fn set_threads(&self, n: usize) {
        if self.device.kind() == DeviceKind::Cpu {
            // SAFETY: this is a CPU backend.
            unsafe { ggml_sys::ggml_backend_cpu_set_n_threads(self.ptr.as_ptr(), n.max(1) as i32) };
        }
    }

    pub(crate) fn raw(&self) -> *mut ggml_sys::ggml_backend {
        self.ptr.as_ptr()
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        // SAFETY: owned, freed once.
        unsafe { ggml_sys::ggml_backend_free(self.ptr.as_ptr()) }
    }
}
