//! The errors of the tool executors (workspace paths, `bash`, `read`,
//! `write`, `edit`).
//!
//! Each message goes back to the model as the call's result, so it is one
//! line, names the path it is about and, where there is one, says what to do
//! instead.

use std::io;
use std::path::{Path, PathBuf};

use thiserror::Error;

/// Why a tool could not do what the model asked.
#[derive(Debug, Error)]
pub enum ToolError {
    /// An I/O error on `path` that none of the other variants describes.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory the operation was on.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// The path does not exist.
    #[error("{}: no such file or directory", path.display())]
    NotFound {
        /// The missing path.
        path: PathBuf,
    },
    /// A file was expected but the path is a directory.
    #[error("{} is a directory, not a file", path.display())]
    IsDirectory {
        /// The directory.
        path: PathBuf,
    },
    /// A directory was expected but the path is something else.
    #[error("{} is not a directory", path.display())]
    NotADirectory {
        /// The path that is not a directory.
        path: PathBuf,
    },
    /// The path is a device, a socket or a pipe.
    #[error("{} is not a regular file (a device, socket or pipe); only regular files can be read or edited", path.display())]
    NotRegularFile {
        /// The special file.
        path: PathBuf,
    },
    /// The file holds a NUL byte or is not valid UTF-8.
    #[error("{} is a binary file ({size} bytes); read shows text files only", path.display())]
    Binary {
        /// The binary file.
        path: PathBuf,
        /// Its size in bytes.
        size: u64,
    },
    /// The file is over the size the tools handle.
    #[error("{} is too large ({size} bytes; the limit is {max} bytes)", path.display())]
    TooLarge {
        /// The large file.
        path: PathBuf,
        /// Its size in bytes.
        size: u64,
        /// The limit in bytes.
        max: u64,
    },
    /// `read` was given an offset after the file's last line.
    #[error("{} has {lines} lines; offset {offset} is past the end", path.display())]
    OffsetPastEnd {
        /// The file read.
        path: PathBuf,
        /// The 1-based line the model asked for.
        offset: usize,
        /// How many lines the file has.
        lines: usize,
    },
    /// The file was never read (or written) in this chat.
    #[error("{} has not been read in this chat; read it first", path.display())]
    NotRead {
        /// The file.
        path: PathBuf,
    },
    /// The file is not what it was when last read or written.
    #[error("{} changed on disk since it was last read; read it again before editing", path.display())]
    Changed {
        /// The file.
        path: PathBuf,
    },
    /// `edit`'s old string does not occur in the file.
    #[error("old_string was not found in {}; it must match the file exactly, including whitespace and indentation", path.display())]
    OldStringNotFound {
        /// The file.
        path: PathBuf,
    },
    /// `edit`'s old string occurs more than once and `replace_all` is off.
    #[error("old_string occurs {count} times in {}; give more context to make it unique, or set replace_all", path.display())]
    OldStringNotUnique {
        /// The file.
        path: PathBuf,
        /// How many times it occurs.
        count: usize,
    },
    /// `edit`'s old string is empty.
    #[error("edit of {}: old_string is empty; give the exact text to replace", path.display())]
    EmptyOldString {
        /// The file.
        path: PathBuf,
    },
    /// `edit`'s old and new strings are the same.
    #[error("edit of {}: old_string and new_string are the same; there is nothing to change", path.display())]
    SameStrings {
        /// The file.
        path: PathBuf,
    },
    /// A write's parent directory is missing and creating it was not asked for.
    #[error("cannot write {}: directory {} does not exist", path.display(), parent.display())]
    ParentMissing {
        /// The file to write.
        path: PathBuf,
        /// Its missing parent directory.
        parent: PathBuf,
    },
    /// The path given is empty or holds a NUL byte.
    #[error("invalid path {path:?}: {reason}")]
    InvalidPath {
        /// The path as given.
        path: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Resolving the path met too many symbolic links (a loop).
    #[error("{}: too many levels of symbolic links", path.display())]
    SymlinkLoop {
        /// The path being resolved.
        path: PathBuf,
    },
    /// write or edit aimed inside a `.git` directory.
    #[error("{} is inside a .git directory; write and edit never change git's internals (use git commands through bash)", path.display())]
    GitInternal {
        /// The resolved path.
        path: PathBuf,
    },
    /// `bash` could not be started.
    #[error("could not start bash in {}: {source}", cwd.display())]
    Spawn {
        /// The directory it was to run in.
        cwd: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
}

impl ToolError {
    /// An I/O error on `path`, as the most specific variant: [`NotFound`],
    /// [`IsDirectory`], [`NotADirectory`] or else [`Io`].
    ///
    /// [`NotFound`]: ToolError::NotFound
    /// [`IsDirectory`]: ToolError::IsDirectory
    /// [`NotADirectory`]: ToolError::NotADirectory
    /// [`Io`]: ToolError::Io
    pub fn io(path: &Path, source: io::Error) -> ToolError {
        let path = path.to_path_buf();
        match source.kind() {
            io::ErrorKind::NotFound => ToolError::NotFound { path },
            io::ErrorKind::IsADirectory => ToolError::IsDirectory { path },
            io::ErrorKind::NotADirectory => ToolError::NotADirectory { path },
            _ => ToolError::Io { path, source },
        }
    }
}

/// A result whose error is a [`ToolError`].
pub type Result<T> = std::result::Result<T, ToolError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_one_line_and_name_the_path() {
        let path = PathBuf::from("/w/src/main.rs");
        let errors = [
            ToolError::Binary {
                path: path.clone(),
                size: 1234,
            },
            ToolError::OldStringNotUnique {
                path: path.clone(),
                count: 3,
            },
            ToolError::Changed { path: path.clone() },
            ToolError::NotRead { path: path.clone() },
            ToolError::EmptyOldString { path: path.clone() },
            ToolError::io(&path, io::Error::from(io::ErrorKind::PermissionDenied)),
        ];
        for e in &errors {
            let text = e.to_string();
            assert!(text.contains("/w/src/main.rs"), "{text}");
            assert!(!text.contains('\n'), "{text}");
        }
        assert_eq!(
            errors[0].to_string(),
            "/w/src/main.rs is a binary file (1234 bytes); read shows text files only"
        );
        assert_eq!(
            errors[1].to_string(),
            "old_string occurs 3 times in /w/src/main.rs; give more context to make it unique, or set replace_all"
        );
    }

    #[test]
    fn io_maps_kinds() {
        let p = Path::new("/x");
        assert!(matches!(
            ToolError::io(p, io::Error::from(io::ErrorKind::NotFound)),
            ToolError::NotFound { .. }
        ));
        assert!(matches!(
            ToolError::io(p, io::Error::from(io::ErrorKind::IsADirectory)),
            ToolError::IsDirectory { .. }
        ));
        assert!(matches!(
            ToolError::io(p, io::Error::from(io::ErrorKind::PermissionDenied)),
            ToolError::Io { .. }
        ));
    }
}
