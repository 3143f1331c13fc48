//! Read-only memory maps of model files, the one `unsafe` step of the GGUF
//! reader, kept here with the rest of kchat's `unsafe` code.

use std::fs::File;
use std::io;
use std::ops::Deref;

/// A whole file mapped read-only into memory. Pages are loaded lazily by the
/// kernel, so mapping a 22 GiB model costs nothing until its bytes are read.
#[derive(Debug)]
pub struct MappedFile {
    map: Option<memmap2::Mmap>,
}

impl MappedFile {
    /// Maps all of `file` read-only. An empty file gives an empty slice
    /// (mapping zero bytes is not allowed by the OS).
    pub fn map(file: &File) -> io::Result<MappedFile> {
        if file.metadata()?.len() == 0 {
            return Ok(MappedFile { map: None });
        }
        // SAFETY: the map is read-only and lives as long as this value, which
        // only lends `&[u8]` borrowed from itself. What no Rust code can rule
        // out is another process truncating or rewriting the file while it is
        // mapped; like llama.cpp and every mmap-based loader, kchat documents
        // that model files must not be modified while in use.
        let map = unsafe { memmap2::Mmap::map(file)? };
        Ok(MappedFile { map: Some(map) })
    }

    /// The mapped bytes.
    pub fn bytes(&self) -> &[u8] {
        self.map.as_deref().unwrap_or(&[])
    }
}

impl Deref for MappedFile {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn maps_file_bytes_and_empty_files() {
        let mut f = tempfile::tempfile().expect("temp file");
        let m = MappedFile::map(&f).expect("map empty");
        assert!(m.bytes().is_empty());
        f.write_all(b"GGUF\x03\0\0\0").expect("write");
        let m = MappedFile::map(&f).expect("map");
        assert_eq!(&m[..4], b"GGUF");
        assert_eq!(m.len(), 8);
    }
}
