//! The ledger of files the model has read or written in this chat: for each,
//! a fingerprint of its bytes then, so that `edit` can refuse a file the
//! model never saw, or one that changed on disk since (by the user, a
//! formatter, a `bash` command), instead of editing what it does not know.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use super::error::{Result, ToolError};
use super::files::read_bytes;

/// What kchat knows of the files the model has read or written in this
/// chat, keyed by resolved path (see [`Workspace::resolve`]).
///
/// [`Workspace::resolve`]: super::Workspace::resolve
#[derive(Debug, Default, Clone)]
pub struct FileLedger {
    seen: HashMap<PathBuf, Fingerprint>,
}

/// The length and the 64-bit FNV-1a hash of a file's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fingerprint {
    len: u64,
    hash: u64,
}

impl Fingerprint {
    fn of(bytes: &[u8]) -> Fingerprint {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for &b in bytes {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        Fingerprint {
            len: bytes.len() as u64,
            hash,
        }
    }
}

impl FileLedger {
    /// Notes that `path` holds `bytes` (after a read of it, or a write).
    pub fn record(&mut self, path: &Path, bytes: &[u8]) {
        self.seen.insert(path.to_path_buf(), Fingerprint::of(bytes));
    }

    /// Whether `path` was read or written in this chat.
    pub fn contains(&self, path: &Path) -> bool {
        self.seen.contains_key(path)
    }

    /// The current bytes of `path` if it was recorded and is unchanged
    /// since; [`NotRead`], [`Changed`] or [`NotFound`] (and the errors of
    /// reading it) otherwise.
    ///
    /// [`NotRead`]: ToolError::NotRead
    /// [`Changed`]: ToolError::Changed
    /// [`NotFound`]: ToolError::NotFound
    pub fn check_fresh(&self, path: &Path) -> Result<Vec<u8>> {
        let Some(known) = self.seen.get(path) else {
            return Err(ToolError::NotRead {
                path: path.to_path_buf(),
            });
        };
        let changed = || ToolError::Changed {
            path: path.to_path_buf(),
        };
        let meta = fs::metadata(path).map_err(|e| ToolError::io(path, e))?;
        if meta.is_file() && meta.len() != known.len {
            return Err(changed());
        }
        let bytes = read_bytes(path)?;
        if Fingerprint::of(&bytes) != *known {
            return Err(changed());
        }
        Ok(bytes)
    }

    /// Forgets `path` (e.g. after it was deleted).
    pub fn forget(&mut self, path: &Path) {
        self.seen.remove(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::files::{read, write_atomic};

    #[test]
    fn not_read_then_fresh_then_changed_then_gone() {
        let dir = tempfile::tempdir().expect("temp dir");
        let p = dir.path().join("f.txt");
        fs::write(&p, "one\n").expect("write a test file");
        let mut ledger = FileLedger::default();
        let err = ledger.check_fresh(&p).expect_err("must fail");
        assert!(matches!(err, ToolError::NotRead { .. }), "{err}");
        assert!(err
            .to_string()
            .contains("f.txt has not been read in this chat"));

        let out = read(&p, None, None).expect("read");
        ledger.record(&p, &out.bytes);
        assert!(ledger.contains(&p));
        assert_eq!(ledger.check_fresh(&p).expect("fresh"), b"one\n");

        // Same length, other bytes: the hash tells.
        fs::write(&p, "two\n").expect("write a test file");
        let err = ledger.check_fresh(&p).expect_err("must fail");
        assert!(matches!(err, ToolError::Changed { .. }), "{err}");
        // Another length.
        fs::write(&p, "three\n").expect("write a test file");
        assert!(matches!(
            ledger.check_fresh(&p),
            Err(ToolError::Changed { .. })
        ));

        // A write records what it wrote.
        write_atomic(&p, b"four\n", false).expect("atomic write");
        ledger.record(&p, b"four\n");
        assert_eq!(ledger.check_fresh(&p).expect("fresh"), b"four\n");

        fs::remove_file(&p).expect("remove the file");
        let err = ledger.check_fresh(&p).expect_err("must fail");
        assert!(matches!(err, ToolError::NotFound { .. }), "{err}");

        ledger.forget(&p);
        assert!(!ledger.contains(&p));
        assert!(matches!(
            ledger.check_fresh(&p),
            Err(ToolError::NotRead { .. })
        ));
    }

    #[test]
    fn fingerprints_differ() {
        assert_ne!(Fingerprint::of(b"ab"), Fingerprint::of(b"ba"));
        assert_eq!(Fingerprint::of(b""), Fingerprint::of(b""));
        // The FNV-1a test vector.
        assert_eq!(Fingerprint::of(b"a").hash, 0xaf63_dc4c_8601_ec8c);
    }
}
