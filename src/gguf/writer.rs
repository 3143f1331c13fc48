//! A streaming GGUF v3 writer for one file.
//!
//! Everything about the file is known up front: the metadata and every
//! tensor's name, type and shape. [`GgufWriter::create`] validates them,
//! computes each tensor's offset, and writes the header (magic, version,
//! counts, metadata, tensor infos) followed by padding to the alignment. The
//! caller then streams the tensor data in declaration order, in pieces of any
//! size, through a `BufWriter`; each tensor is padded to `general.alignment`.
//! [`GgufWriter::finish`] checks that every byte was given.
//!
//! A writer dropped before `finish` (an error on the way, a panic) removes its
//! file, so no half-written model is left behind; it only ever removes a
//! regular file, never a device such as `/dev/full`.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use super::value::GgufValue;

mod layout;

pub use layout::{layout, pad, Layout, TensorSpec};
use layout::{write_payload, write_string};

/// The GGUF format version this writer produces.
pub const GGUF_VERSION: u32 = 3;
/// The alignment used when the metadata has no `general.alignment`.
pub const DEFAULT_ALIGNMENT: u32 = 32;
/// The metadata key that sets the data alignment (a `u32` power of two).
pub const ALIGNMENT_KEY: &str = "general.alignment";
/// The longest tensor name ggml accepts (`GGML_MAX_NAME - 1` bytes).
pub const MAX_TENSOR_NAME: usize = 63;
/// The most dimensions a ggml tensor has.
pub const MAX_DIMS: usize = 4;
/// How deeply arrays may nest inside arrays.
pub const MAX_NESTING: usize = 8;

const BUFFER_BYTES: usize = 1 << 20;

/// Errors while writing a GGUF file; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum GgufWriteError {
    /// The operating system refused a create, write or flush.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: io::Error,
    },
    /// The output path is an existing directory.
    #[error("cannot write {}: it is a directory", path.display())]
    IsDirectory {
        /// The path.
        path: PathBuf,
    },
    /// The metadata or tensor list cannot be written as GGUF.
    #[error("cannot write {}: {reason}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// More data was given than the tensors declared.
    #[error("cannot write {}: {reason}", path.display())]
    TooMuchData {
        /// The file.
        path: PathBuf,
        /// Which tensor, how many bytes.
        reason: String,
    },
    /// `write_tensor` named a tensor that is not the next one.
    #[error("cannot write {}: tensor {given:?} given where {expected} is next", path.display())]
    OutOfOrder {
        /// The file.
        path: PathBuf,
        /// The tensor the caller tried to write.
        given: String,
        /// The tensor that was due (or "nothing").
        expected: String,
    },
    /// `finish` was called before all tensor data was written.
    #[error("cannot finish {}: {written} of {total} tensors written, {name:?} is incomplete", path.display())]
    Incomplete {
        /// The file.
        path: PathBuf,
        /// Tensors fully written.
        written: usize,
        /// Tensors declared.
        total: usize,
        /// The first tensor not fully written.
        name: String,
    },
}

/// A GGUF file being written. See the module documentation.
pub struct GgufWriter {
    path: PathBuf,
    out: Option<BufWriter<File>>,
    tensors: Vec<TensorSpec>,
    layout: Layout,
    /// Index of the tensor being written.
    current: usize,
    /// Bytes of the current tensor written so far.
    filled: u64,
    finished: bool,
}

impl std::fmt::Debug for GgufWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GgufWriter")
            .field("path", &self.path)
            .field("tensors", &self.tensors.len())
            .field("current", &self.current)
            .field("filled", &self.filled)
            .finish()
    }
}

impl GgufWriter {
    /// Validates the metadata and tensors, creates (or truncates) `path`, and
    /// writes the header. Metadata is written in the order given.
    pub fn create(
        path: &Path,
        metadata: &[(String, GgufValue)],
        tensors: Vec<TensorSpec>,
    ) -> Result<GgufWriter, GgufWriteError> {
        let layout = layout(path, metadata, &tensors)?;
        check_output_path(path)?;
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .map_err(|source| GgufWriteError::Io {
                path: path.to_path_buf(),
                source,
            })?;
        let mut w = GgufWriter {
            path: path.to_path_buf(),
            out: Some(BufWriter::with_capacity(BUFFER_BYTES, file)),
            tensors,
            layout,
            current: 0,
            filled: 0,
            finished: false,
        };
        w.write_header(metadata)?;
        Ok(w)
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's layout (offsets, sizes, total size).
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The declared tensors, in order.
    pub fn tensors(&self) -> &[TensorSpec] {
        &self.tensors
    }

    /// The tensor whose data is due next, or `None` when all are written.
    pub fn next_tensor(&self) -> Option<&TensorSpec> {
        self.tensors.get(self.current)
    }

    /// Appends `data` to the tensor being written; a tensor may be given in
    /// any number of pieces. When a tensor is complete, the padding is written
    /// and the next tensor begins. Data that would run past the current
    /// tensor's declared size is refused (nothing of it is written).
    pub fn write(&mut self, data: &[u8]) -> Result<(), GgufWriteError> {
        if data.is_empty() {
            return Ok(());
        }
        let Some(t) = self.tensors.get(self.current) else {
            return Err(GgufWriteError::TooMuchData {
                path: self.path.clone(),
                reason: format!("{} bytes given after the last tensor", data.len()),
            });
        };
        let size = self.layout.sizes[self.current];
        let left = size - self.filled;
        if data.len() as u64 > left {
            return Err(GgufWriteError::TooMuchData {
                path: self.path.clone(),
                reason: format!(
                    "tensor {:?}: {} bytes given, {left} of {size} left",
                    t.name,
                    data.len()
                ),
            });
        }
        self.put(data)?;
        self.filled += data.len() as u64;
        if self.filled == size {
            let padding = pad(size, self.layout.alignment) - size;
            self.put(&vec![0u8; padding as usize])?;
            self.current += 1;
            self.filled = 0;
        }
        Ok(())
    }

    /// Writes the whole data of tensor `name`, which must be the next one and
    /// must not have been started with [`GgufWriter::write`].
    pub fn write_tensor(&mut self, name: &str, data: &[u8]) -> Result<(), GgufWriteError> {
        let due = self.tensors.get(self.current).filter(|_| self.filled == 0);
        match due {
            Some(t) if t.name == name => {}
            _ => {
                return Err(GgufWriteError::OutOfOrder {
                    path: self.path.clone(),
                    given: name.to_string(),
                    expected: due
                        .map_or_else(|| "nothing".to_string(), |t| format!("{:?}", t.name)),
                })
            }
        }
        let size = self.layout.sizes[self.current];
        if data.len() as u64 != size {
            return Err(GgufWriteError::Invalid {
                path: self.path.clone(),
                reason: format!(
                    "tensor {name:?}: {} bytes given, {size} declared",
                    data.len()
                ),
            });
        }
        self.write(data)
    }

    /// Checks that every tensor was written, flushes and closes the file, and
    /// returns its size in bytes.
    pub fn finish(mut self) -> Result<u64, GgufWriteError> {
        if let Some(t) = self.tensors.get(self.current) {
            return Err(GgufWriteError::Incomplete {
                path: self.path.clone(),
                written: self.current,
                total: self.tensors.len(),
                name: t.name.clone(),
            });
        }
        let out = self
            .out
            .take()
            .expect("the output is only taken here, once");
        let file = out.into_inner().map_err(|e| GgufWriteError::Io {
            path: self.path.clone(),
            source: e.into_error(),
        })?;
        drop(file);
        self.finished = true;
        Ok(self.layout.file_size)
    }

    /// Stops writing and removes the file (if it is a regular file); returns
    /// whether a file was removed.
    pub fn abort(mut self) -> bool {
        self.finished = true;
        drop(self.out.take());
        remove_partial(&self.path)
    }

    fn put(&mut self, bytes: &[u8]) -> Result<(), GgufWriteError> {
        let out = self.out.as_mut().expect("the output exists until finish");
        out.write_all(bytes).map_err(|source| GgufWriteError::Io {
            path: self.path.clone(),
            source,
        })
    }

    fn write_header(&mut self, metadata: &[(String, GgufValue)]) -> Result<(), GgufWriteError> {
        let path = self.path.clone();
        let io_err = |source| GgufWriteError::Io {
            path: path.clone(),
            source,
        };
        let out = self.out.as_mut().expect("the output exists until finish");
        let mut n = 0u64;
        let mut counted = Counted {
            inner: out,
            n: &mut n,
        };
        let w = &mut counted;
        (|| -> io::Result<()> {
            w.write_all(b"GGUF")?;
            w.write_all(&GGUF_VERSION.to_le_bytes())?;
            w.write_all(&(self.tensors.len() as u64).to_le_bytes())?;
            w.write_all(&(metadata.len() as u64).to_le_bytes())?;
            for (key, value) in metadata {
                write_string(w, key)?;
                w.write_all(&value.kind().tag().to_le_bytes())?;
                write_payload(w, value)?;
            }
            for (t, offset) in self.tensors.iter().zip(&self.layout.offsets) {
                write_string(w, &t.name)?;
                w.write_all(&(t.dims.len() as u32).to_le_bytes())?;
                for d in &t.dims {
                    w.write_all(&d.to_le_bytes())?;
                }
                w.write_all(&t.ty.id().to_le_bytes())?;
                w.write_all(&offset.to_le_bytes())?;
            }
            Ok(())
        })()
        .map_err(io_err)?;
        let padding = self
            .layout
            .data_start
            .checked_sub(n)
            .expect("the layout counts every header byte");
        let out = self.out.as_mut().expect("the output exists until finish");
        out.write_all(&vec![0u8; padding as usize])
            .map_err(io_err)?;
        Ok(())
    }
}

impl Drop for GgufWriter {
    fn drop(&mut self) {
        if !self.finished {
            drop(self.out.take());
            remove_partial(&self.path);
        }
    }
}

/// Removes `path` if it is a regular file (never a directory or a device).
/// Returns whether a file was removed.
pub(crate) fn remove_partial(path: &Path) -> bool {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_file() => std::fs::remove_file(path).is_ok(),
        _ => false,
    }
}

/// Refuses an output path that is an existing directory.
pub(crate) fn check_output_path(path: &Path) -> Result<(), GgufWriteError> {
    if path.is_dir() {
        return Err(GgufWriteError::IsDirectory {
            path: path.to_path_buf(),
        });
    }
    Ok(())
}

/// A writer that counts the bytes passing through.
struct Counted<'a, W: Write> {
    inner: &'a mut W,
    n: &'a mut u64,
}

impl<W: Write> Write for Counted<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let k = self.inner.write(buf)?;
        *self.n += k as u64;
        Ok(k)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests;
