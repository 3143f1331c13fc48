//! The file tools' executors: `read` (numbered lines of a text file, a
//! window of them at a time), `write` (an atomic replacement of the whole
//! file) and `edit` (an exact-string replacement, computed here and written
//! with `write`'s atomic replacement).
//!
//! They act on paths already resolved by [`Workspace`](super::Workspace);
//! what kchat knows of the files the model has seen is in
//! [`FileLedger`], re-exported here.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::error::{Result, ToolError};
pub use super::ledger::FileLedger;

/// How many lines `read` shows when no limit is given.
pub const DEFAULT_READ_LIMIT: usize = 2000;
/// The largest file the tools read or edit.
pub const MAX_FILE_BYTES: u64 = 64 << 20;
/// How much numbered text one `read` returns at most (whole lines; at least
/// one): past it, the output stops and its note says which lines it shows.
pub const READ_MAX_BYTES: usize = 32 * 1024;
/// Lines longer than this (in characters) are cut in `read`'s output.
pub const MAX_LINE_CHARS: usize = 2000;
/// How much of a file is looked at for a NUL byte.
const BINARY_SNIFF_BYTES: usize = 8 * 1024;
/// The mode of a file `write` creates.
const NEW_FILE_MODE: u32 = 0o644;

/// What `read` returns.
#[derive(Debug, Clone)]
pub struct ReadOutput {
    /// Numbered lines (`     1\tcontent`), then, when they are not the
    /// whole file, a note: `[lines a–b of N; file is M bytes; use offset and
    /// limit for more]`.
    pub text: String,
    /// The whole file, for the ledger.
    pub bytes: Vec<u8>,
}

/// [`read_with_budget`] with at most [`READ_MAX_BYTES`] of text.
pub fn read(path: &Path, offset: Option<usize>, limit: Option<usize>) -> Result<ReadOutput> {
    read_with_budget(path, offset, limit, READ_MAX_BYTES)
}

/// Reads text file `path` and numbers `limit` lines (default
/// [`DEFAULT_READ_LIMIT`]) from 1-based line `offset` (default 1; 0 counts
/// as 1), stopping early before the text passes `max_bytes`. Lines over
/// [`MAX_LINE_CHARS`] are cut with a marker. Directories, special files,
/// binary files (a NUL byte in the first 8 KiB, or not valid UTF-8) and
/// files over [`MAX_FILE_BYTES`] are refused; so is an offset past the end.
pub fn read_with_budget(
    path: &Path,
    offset: Option<usize>,
    limit: Option<usize>,
    max_bytes: usize,
) -> Result<ReadOutput> {
    let bytes = read_bytes(path)?;
    let size = bytes.len() as u64;
    let sniff = &bytes[..bytes.len().min(BINARY_SNIFF_BYTES)];
    if sniff.contains(&0) {
        return Err(ToolError::Binary {
            path: path.to_path_buf(),
            size,
        });
    }
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return Err(ToolError::Binary {
            path: path.to_path_buf(),
            size,
        });
    };
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let total = lines.len();
    let first = offset.unwrap_or(1).max(1);
    let limit = limit.unwrap_or(DEFAULT_READ_LIMIT).max(1);
    if total == 0 {
        if first > 1 {
            return Err(ToolError::OffsetPastEnd {
                path: path.to_path_buf(),
                offset: first,
                lines: 0,
            });
        }
        return Ok(ReadOutput {
            text: "[the file is empty (0 bytes)]\n".to_string(),
            bytes,
        });
    }
    if first > total {
        return Err(ToolError::OffsetPastEnd {
            path: path.to_path_buf(),
            offset: first,
            lines: total,
        });
    }
    let mut out = String::new();
    let mut last = first - 1;
    for (i, line) in lines.iter().enumerate().skip(first - 1).take(limit) {
        let numbered = number_line(i + 1, line);
        if last >= first && out.len() + numbered.len() > max_bytes {
            break;
        }
        out.push_str(&numbered);
        last = i + 1;
    }
    if first > 1 || last < total {
        out.push_str(&format!(
            "[lines {first}–{last} of {total}; file is {size} bytes; use offset and limit for more]\n"
        ));
    }
    Ok(ReadOutput { text: out, bytes })
}

/// `     7\tcontent\n`, the content cut at [`MAX_LINE_CHARS`] characters.
fn number_line(number: usize, line: &str) -> String {
    let content = line.strip_suffix('\n').unwrap_or(line);
    match content.char_indices().nth(MAX_LINE_CHARS) {
        None => format!("{number:>6}\t{content}\n"),
        Some((cut, _)) => {
            let more = content[cut..].chars().count();
            format!(
                "{number:>6}\t{}… [line cut: {more} more characters]\n",
                &content[..cut]
            )
        }
    }
}

/// The whole of regular file `path`, refused when over [`MAX_FILE_BYTES`].
pub(super) fn read_bytes(path: &Path) -> Result<Vec<u8>> {
    let meta = fs::metadata(path).map_err(|e| ToolError::io(path, e))?;
    if meta.is_dir() {
        return Err(ToolError::IsDirectory {
            path: path.to_path_buf(),
        });
    }
    // Checked before opening: opening a FIFO would wait for a writer.
    if !meta.is_file() {
        return Err(ToolError::NotRegularFile {
            path: path.to_path_buf(),
        });
    }
    let too_large = |size| ToolError::TooLarge {
        path: path.to_path_buf(),
        size,
        max: MAX_FILE_BYTES,
    };
    if meta.len() > MAX_FILE_BYTES {
        return Err(too_large(meta.len()));
    }
    let file = File::open(path).map_err(|e| ToolError::io(path, e))?;
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| ToolError::io(path, e))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

/// [`write_atomic_with`] writing `content`.
pub fn write_atomic(path: &Path, content: &[u8], create_parents: bool) -> Result<()> {
    write_atomic_with(path, create_parents, |f| f.write_all(content))
}

/// Replaces file `path` (a resolved path: a symbolic link there would be
/// replaced, not followed) atomically: `fill` writes a temporary file in the
/// same directory, which is synced, given the original's permission mode
/// (a new file gets 0o644), and renamed over `path`; then the directory is
/// synced. Missing parent directories are created when `create_parents`.
/// On any failure the original is untouched and the temporary file removed.
pub fn write_atomic_with(
    path: &Path,
    create_parents: bool,
    fill: impl FnOnce(&mut File) -> io::Result<()>,
) -> Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    match fs::metadata(parent) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => {
            return Err(ToolError::NotADirectory {
                path: parent.to_path_buf(),
            })
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if !create_parents {
                return Err(ToolError::ParentMissing {
                    path: path.to_path_buf(),
                    parent: parent.to_path_buf(),
                });
            }
            fs::create_dir_all(parent).map_err(|e| ToolError::io(parent, e))?;
        }
        Err(e) => return Err(ToolError::io(parent, e)),
    }
    let mode = match fs::metadata(path) {
        Ok(meta) if meta.is_dir() => {
            return Err(ToolError::IsDirectory {
                path: path.to_path_buf(),
            })
        }
        Ok(meta) if !meta.is_file() => {
            return Err(ToolError::NotRegularFile {
                path: path.to_path_buf(),
            })
        }
        Ok(meta) => meta.permissions().mode() & 0o7777,
        Err(e) if e.kind() == io::ErrorKind::NotFound => NEW_FILE_MODE,
        Err(e) => return Err(ToolError::io(path, e)),
    };

    let (mut file, temp) = create_temp(parent)?;
    let written = fill(&mut file)
        .and_then(|()| file.set_permissions(fs::Permissions::from_mode(mode)))
        .and_then(|()| file.sync_all());
    drop(file);
    if let Err(e) = written.and_then(|()| fs::rename(&temp, path)) {
        let _ = fs::remove_file(&temp);
        return Err(ToolError::io(path, e));
    }
    // The rename is done; syncing the directory makes it durable, and where
    // a file system cannot, the write has still happened.
    if let Ok(dir) = File::open(parent) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// A new, empty, private temporary file in `dir`.
fn create_temp(dir: &Path) -> Result<(File, PathBuf)> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut last_err = None;
    for _ in 0..100 {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let temp = dir.join(format!(".kchat-write-{}-{n}.tmp", std::process::id()));
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)
        {
            Ok(file) => return Ok((file, temp)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last_err = Some(e),
            Err(e) => return Err(ToolError::io(dir, e)),
        }
    }
    let e = last_err.unwrap_or_else(|| io::Error::from(io::ErrorKind::AlreadyExists));
    Err(ToolError::io(dir, e))
}

/// Replaces `old` with `new` in `content` (the text of `path`, which is
/// named in errors): `old` must occur exactly once, unless `replace_all`.
/// Returns the new text and how many replacements were made.
pub fn apply_edit(
    path: &Path,
    content: &str,
    old: &str,
    new: &str,
    replace_all: bool,
) -> Result<(String, usize)> {
    let path = path.to_path_buf();
    if old.is_empty() {
        return Err(ToolError::EmptyOldString { path });
    }
    if old == new {
        return Err(ToolError::SameStrings { path });
    }
    let count = content.matches(old).count();
    match count {
        0 => Err(ToolError::OldStringNotFound { path }),
        1 => Ok((content.replacen(old, new, 1), 1)),
        _ if replace_all => Ok((content.replace(old, new), count)),
        _ => Err(ToolError::OldStringNotUnique { path, count }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ten_lines() -> String {
        (1..=10).map(|i| format!("line {i}\n")).collect()
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .expect("list the directory")
            .map(|e| {
                e.expect("a directory entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        v.sort();
        v
    }

    #[test]
    fn read_numbers_the_whole_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let p = dir.path().join("a.txt");
        fs::write(&p, "alpha\n\tbeta\ngamma").expect("write a test file");
        let out = read(&p, None, None).expect("read");
        assert_eq!(out.text, "     1\talpha\n     2\t\tbeta\n     3\tgamma\n");
        assert_eq!(out.bytes, b"alpha\n\tbeta\ngamma");
    }

    #[test]
    fn read_offset_and_limit_with_note() {
        let dir = tempfile::tempdir().expect("temp dir");
        let p = dir.path().join("a.txt");
        let content = ten_lines();
        fs::write(&p, &content).expect("write a test file");
        let out = read(&p, Some(3), Some(2)).expect("read");
        assert_eq!(
            out.text,
            format!(
                "     3\tline 3\n     4\tline 4\n[lines 3–4 of 10; file is {} bytes; use offset and limit for more]\n",
                content.len()
            )
        );
        assert_eq!(out.bytes, content.as_bytes());
        // From an offset to the end is not the whole file either.
        let out = read(&p, Some(9), None).expect("read");
        assert!(out
            .text
            .starts_with("     9\tline 9\n    10\tline 10\n[lines 9–10 of 10;"));
        // Limit only.
        let out = read(&p, None, Some(1)).expect("read");
        assert!(out
            .text
            .ends_with("[lines 1–1 of 10; file is 71 bytes; use offset and limit for more]\n"));
    }

    #[test]
    fn read_stops_at_the_byte_budget() {
        let dir = tempfile::tempdir().expect("temp dir");
        let p = dir.path().join("a.txt");
        fs::write(&p, ten_lines()).expect("write a test file");
        // Each numbered line is 14 or 15 bytes: 3 fit in 45.
        let out = read_with_budget(&p, None, None, 45).expect("read");
        assert!(
            out.text.contains("     3\tline 3\n[lines 1–3 of 10;"),
            "{}",
            out.text
        );
        // At least one line, however small the budget.
        let out = read_with_budget(&p, Some(5), None, 1).expect("read");
        assert!(out.text.starts_with("     5\tline 5\n[lines 5–5 of 10;"));
    }

    #[test]
    fn read_cuts_long_lines() {
        let dir = tempfile::tempdir().expect("temp dir");
        let p = dir.path().join("a.txt");
        fs::write(&p, format!("{}\nshort\n", "é".repeat(MAX_LINE_CHARS + 5)))
            .expect("write a test file");
        let out = read(&p, None, None).expect("read");
        let first = out.text.lines().next().expect("a line");
        assert_eq!(
            first,
            format!(
                "     1\t{}… [line cut: 5 more characters]",
                "é".repeat(MAX_LINE_CHARS)
            )
        );
        assert!(out.text.ends_with("     2\tshort\n"));
    }

    #[test]
    fn read_refuses_binary_directories_and_past_the_end() {
        let dir = tempfile::tempdir().expect("temp dir");
        let p = dir.path().join("nul.bin");
        fs::write(&p, b"abc\0def").expect("write a test file");
        let err = read(&p, None, None).expect_err("must fail");
        assert!(matches!(err, ToolError::Binary { size: 7, .. }), "{err}");
        assert!(err
            .to_string()
            .contains("nul.bin is a binary file (7 bytes)"));
        let p = dir.path().join("latin1.txt");
        fs::write(&p, b"caf\xe9\n").expect("write a test file");
        assert!(matches!(
            read(&p, None, None),
            Err(ToolError::Binary { size: 5, .. })
        ));

        let err = read(dir.path(), None, None).expect_err("must fail");
        assert!(matches!(err, ToolError::IsDirectory { .. }), "{err}");
        let err = read(&dir.path().join("missing"), None, None).expect_err("must fail");
        assert!(matches!(err, ToolError::NotFound { .. }), "{err}");

        let p = dir.path().join("a.txt");
        fs::write(&p, ten_lines()).expect("write a test file");
        let err = read(&p, Some(11), None).expect_err("must fail");
        assert!(matches!(
            err,
            ToolError::OffsetPastEnd {
                offset: 11,
                lines: 10,
                ..
            }
        ));
        assert!(err
            .to_string()
            .ends_with("a.txt has 10 lines; offset 11 is past the end"));

        let p = dir.path().join("empty");
        fs::write(&p, "").expect("write a test file");
        assert_eq!(
            read(&p, None, None).expect("read").text,
            "[the file is empty (0 bytes)]\n"
        );
    }

    #[test]
    fn read_refuses_fifos_without_blocking() {
        let dir = tempfile::tempdir().expect("temp dir");
        let p = dir.path().join("fifo");
        let status = std::process::Command::new("mkfifo")
            .arg(&p)
            .status()
            .expect("run mkfifo");
        assert!(status.success());
        let err = read(&p, None, None).expect_err("must fail");
        assert!(matches!(err, ToolError::NotRegularFile { .. }), "{err}");
    }

    #[test]
    fn write_keeps_the_mode_and_replaces_the_content() {
        let dir = tempfile::tempdir().expect("temp dir");
        let p = dir.path().join("run.sh");
        fs::write(&p, "old").expect("write a test file");
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).expect("chmod");
        write_atomic(&p, b"#!/bin/sh\necho new\n", false).expect("atomic write");
        assert_eq!(
            fs::read_to_string(&p).expect("read the file back"),
            "#!/bin/sh\necho new\n"
        );
        let mode = fs::metadata(&p).expect("metadata").permissions().mode() & 0o7777;
        assert_eq!(mode, 0o755);
        assert_eq!(entries(dir.path()), ["run.sh"]);
        // A new file gets 0o644.
        let q = dir.path().join("new.txt");
        write_atomic(&q, b"x", false).expect("atomic write");
        assert_eq!(
            fs::metadata(&q).expect("metadata").permissions().mode() & 0o7777,
            0o644
        );
    }

    #[test]
    fn write_creates_parents_only_when_asked() {
        let dir = tempfile::tempdir().expect("temp dir");
        let p = dir.path().join("a/b/c.txt");
        let err = write_atomic(&p, b"x", false).expect_err("must fail");
        assert!(matches!(err, ToolError::ParentMissing { .. }), "{err}");
        assert!(err.to_string().contains("a/b does not exist"), "{err}");
        assert!(!dir.path().join("a").exists());
        write_atomic(&p, b"x", true).expect("atomic write");
        assert_eq!(fs::read(&p).expect("read the file back"), b"x");
    }

    #[test]
    fn write_refuses_a_directory() {
        let dir = tempfile::tempdir().expect("temp dir");
        let err = write_atomic(dir.path(), b"x", false).expect_err("must fail");
        assert!(matches!(err, ToolError::IsDirectory { .. }), "{err}");
    }

    #[test]
    fn a_failed_write_leaves_the_original_and_no_temp_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let p = dir.path().join("keep.txt");
        fs::write(&p, "original\n").expect("write a test file");
        let err = write_atomic_with(&p, false, |f| {
            f.write_all(b"half of the new")?;
            Err(io::Error::other("disk full"))
        })
        .expect_err("must fail");
        assert!(matches!(err, ToolError::Io { .. }));
        assert!(err.to_string().contains("keep.txt: disk full"), "{err}");
        assert_eq!(
            fs::read_to_string(&p).expect("read the file back"),
            "original\n"
        );
        assert_eq!(entries(dir.path()), ["keep.txt"]);
    }

    #[test]
    fn edit_replaces_exactly() {
        let p = Path::new("/w/f.rs");
        let text = "let a = 1;\nlet b = 2;\nlet a = 1;\n";
        let (t, n) = apply_edit(p, text, "let b = 2;", "let b = 3;", false).expect("edit");
        assert_eq!((t.as_str(), n), ("let a = 1;\nlet b = 3;\nlet a = 1;\n", 1));

        let err = apply_edit(p, text, "let a = 1;", "x", false).expect_err("must fail");
        assert!(
            matches!(err, ToolError::OldStringNotUnique { count: 2, .. }),
            "{err}"
        );
        let (t, n) = apply_edit(p, text, "let a = 1;", "let a = 0;", true).expect("edit");
        assert_eq!((t.as_str(), n), ("let a = 0;\nlet b = 2;\nlet a = 0;\n", 2));

        let err = apply_edit(p, text, "let c", "x", false).expect_err("must fail");
        assert!(matches!(err, ToolError::OldStringNotFound { .. }));
        let err = apply_edit(p, text, "", "x", false).expect_err("must fail");
        assert!(matches!(err, ToolError::EmptyOldString { .. }));
        let err = apply_edit(p, text, "let b", "let b", false).expect_err("must fail");
        assert!(matches!(err, ToolError::SameStrings { .. }));
        // A unique string with replace_all is one replacement.
        let (_, n) = apply_edit(p, text, "b = 2", "b = 9", true).expect("edit");
        assert_eq!(n, 1);
    }
}
