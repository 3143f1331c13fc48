//! Errors of the GGUF reader. `ParseError` and `MetaError` come from code
//! that sees only bytes or values; `GgufError` adds the file they belong to,
//! so that every message the user sees is one line naming the file.

use std::io;
use std::path::PathBuf;

use crate::ggml::GgmlType;

use super::GgufType;

/// Why a byte slice is not a valid GGUF file. Offsets are absolute byte
/// positions in the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The file does not start with `GGUF`.
    #[error("not a GGUF file: it starts with {} instead of \"GGUF\"", show_magic(.found))]
    BadMagic {
        /// The first (up to) four bytes of the file.
        found: Vec<u8>,
    },
    /// A GGUF version other than 2 or 3.
    #[error("{}", version_message(*.version))]
    UnsupportedVersion {
        /// The version field as read (little-endian).
        version: u32,
    },
    /// The file ends before something it declares.
    #[error("the file ends at byte {file_len}, but {what} at byte {offset} needs {needed} bytes (truncated file?)")]
    Truncated {
        /// What was being read.
        what: String,
        /// Where it starts.
        offset: u64,
        /// Bytes it needs from there.
        needed: u64,
        /// Length of the file.
        file_len: u64,
    },
    /// A count (keys, tensors, array elements) above the reader's limit.
    #[error("{what} claims {count} entries, more than the limit of {limit}")]
    CountTooLarge {
        /// What is being counted.
        what: String,
        /// The count in the file.
        count: u64,
        /// The largest accepted count.
        limit: u64,
    },
    /// A string longer than the reader's limit.
    #[error("{what} claims a length of {len} bytes, more than the limit of {limit}")]
    StringTooLong {
        /// Which string.
        what: String,
        /// The length in the file.
        len: u64,
        /// The largest accepted length.
        limit: u64,
    },
    /// Arrays of arrays nested deeper than the reader's limit.
    #[error("the value of key '{key}' nests arrays more than {limit} levels deep")]
    NestingTooDeep {
        /// The key whose value is too deep.
        key: String,
        /// The deepest accepted nesting.
        limit: u32,
    },
    /// A metadata value type tag that GGUF does not define.
    #[error("{what} has unknown value type {tag} (GGUF defines 0 to 12)")]
    UnknownValueType {
        /// Which value.
        what: String,
        /// The tag in the file.
        tag: u32,
    },
    /// A bool stored as something other than 0 or 1.
    #[error("{what} is a bool stored as {value}; only 0 and 1 are valid")]
    InvalidBool {
        /// Which value.
        what: String,
        /// The byte in the file.
        value: u8,
    },
    /// A key or string that is not UTF-8.
    #[error("{what} at byte {offset} is not valid UTF-8")]
    InvalidUtf8 {
        /// Which string.
        what: String,
        /// Where the string's bytes start.
        offset: u64,
    },
    /// The same metadata key twice.
    #[error("metadata key '{key}' appears more than once")]
    DuplicateKey {
        /// The key.
        key: String,
    },
    /// The same tensor name twice.
    #[error("tensor '{name}' appears more than once")]
    DuplicateTensor {
        /// The tensor name.
        name: String,
    },
    /// A tensor name longer than ggml accepts.
    #[error("tensor name '{name}' is {len} bytes long; ggml allows at most {limit}")]
    TensorNameTooLong {
        /// The name.
        name: String,
        /// Its length in bytes.
        len: usize,
        /// The longest accepted name.
        limit: usize,
    },
    /// A tensor with no dimensions or more than four.
    #[error("tensor '{tensor}' has {n_dims} dimensions; ggml tensors have 1 to 4")]
    DimCount {
        /// The tensor name.
        tensor: String,
        /// The dimension count in the file.
        n_dims: u32,
    },
    /// A dimension that is zero or does not fit ggml's signed 64-bit sizes.
    #[error(
        "tensor '{tensor}': dimension {index} is {value}; dimensions must be between 1 and 2^63-1"
    )]
    BadDim {
        /// The tensor name.
        tensor: String,
        /// Which dimension (0 = innermost).
        index: usize,
        /// Its value in the file.
        value: u64,
    },
    /// A ggml type id that this build does not know (or that ggml removed).
    #[error("tensor '{tensor}' has unknown ggml type {id}")]
    UnknownTensorType {
        /// The tensor name.
        tensor: String,
        /// The type id in the file.
        id: u32,
    },
    /// The product of the dimensions does not fit in a signed 64-bit count.
    #[error("tensor '{tensor}': dimensions {dims:?} multiply to more than 2^63-1 elements")]
    ElementCountOverflow {
        /// The tensor name.
        tensor: String,
        /// Its dimensions.
        dims: Vec<u64>,
    },
    /// The tensor's byte size, or that size padded to the alignment, does
    /// not fit in 64 bits.
    #[error("tensor '{tensor}': {ty} dimensions {dims:?} give a byte size that overflows 64 bits")]
    ByteSizeOverflow {
        /// The tensor name.
        tensor: String,
        /// Its type.
        ty: GgmlType,
        /// Its dimensions.
        dims: Vec<u64>,
    },
    /// A row length that is not a whole number of quantization blocks.
    #[error(
        "tensor '{tensor}': row length {ne0} is not a multiple of the {ty} block size {block}"
    )]
    RowNotBlockMultiple {
        /// The tensor name.
        tensor: String,
        /// Its type.
        ty: GgmlType,
        /// The innermost dimension.
        ne0: u64,
        /// The type's block size.
        block: u64,
    },
    /// `general.alignment` stored with a type other than u32.
    #[error("metadata key 'general.alignment' has type {found}; it must be u32")]
    AlignmentType {
        /// The type in the file.
        found: GgufType,
    },
    /// `general.alignment` zero or not a power of two.
    #[error("metadata key 'general.alignment' is {value}; it must be a power of two")]
    BadAlignment {
        /// The value in the file.
        value: u32,
    },
    /// A tensor offset that is not a multiple of the alignment.
    #[error("tensor '{tensor}': offset {offset} is not a multiple of the alignment {alignment}")]
    MisalignedOffset {
        /// The tensor name.
        tensor: String,
        /// Its offset relative to the data section.
        offset: u64,
        /// The file's alignment.
        alignment: u64,
    },
    /// Two tensors whose bytes overlap.
    #[error("tensor '{tensor}' (bytes {start}..{end} of the data section) overlaps tensor '{other}', which starts at {other_start}")]
    OverlappingTensors {
        /// The tensor that comes first in the data section.
        tensor: String,
        /// Its start, relative to the data section.
        start: u64,
        /// Its end, relative to the data section.
        end: u64,
        /// The tensor it runs into.
        other: String,
        /// That tensor's start.
        other_start: u64,
    },
    /// A tensor whose bytes end after the end of the file.
    #[error("tensor '{tensor}': offset {offset} + {n_bytes} bytes is beyond the end of the file ({file_len} bytes)")]
    TensorBeyondEnd {
        /// The tensor name.
        tensor: String,
        /// Its absolute offset in the file (saturated if it overflows).
        offset: u64,
        /// Its size in bytes.
        n_bytes: u64,
        /// Length of the file.
        file_len: u64,
    },
}

fn show_magic(found: &[u8]) -> String {
    if found.is_empty() {
        return "nothing (the file is empty)".to_owned();
    }
    let hex: Vec<String> = found.iter().map(|b| format!("{b:02x}")).collect();
    format!("bytes {}", hex.join(" "))
}

fn version_message(version: u32) -> String {
    match version {
        1 => {
            "GGUF version 1 is obsolete and not supported (kchat reads versions 2 and 3)".to_owned()
        }
        v if matches!(v.swap_bytes(), 2 | 3) => {
            format!(
                "this is a big-endian GGUF file (version {}); kchat reads little-endian files only",
                v.swap_bytes()
            )
        }
        v => format!("unsupported GGUF version {v} (kchat reads versions 2 and 3)"),
    }
}

/// A metadata key that is missing or holds the wrong kind of value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetaError {
    /// The key is not in the file.
    #[error("metadata key '{key}' is missing")]
    Missing {
        /// The key.
        key: String,
    },
    /// The key holds a different type.
    #[error("metadata key '{key}' has type {found}; expected {expected}")]
    WrongType {
        /// The key.
        key: String,
        /// What the caller asked for.
        expected: &'static str,
        /// What the file holds (e.g. `array of i32`).
        found: String,
    },
    /// The key holds an integer that does not fit the requested type.
    #[error("metadata key '{key}' is {value}, which does not fit in {expected}")]
    OutOfRange {
        /// The key.
        key: String,
        /// What the caller asked for.
        expected: &'static str,
        /// The value in the file.
        value: String,
    },
}

/// An error opening a GGUF model, naming the file it is about.
#[derive(Debug, thiserror::Error)]
pub enum GgufError {
    /// The file could not be opened, measured or mapped.
    #[error("{}: cannot {action}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed (`open`, `map`, …).
        action: &'static str,
        /// The OS error.
        error: io::Error,
    },
    /// The file is not valid GGUF.
    #[error("{}: {error}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        error: ParseError,
    },
    /// A metadata key is missing or has the wrong type.
    #[error("{}: {error}", path.display())]
    Meta {
        /// The file the metadata comes from.
        path: PathBuf,
        /// The problem.
        error: MetaError,
    },
    /// The split keys make no sense (`split.count` 0, `split.no` too big).
    #[error("{}: split.no is {no} and split.count is {count}; split.no must be below split.count", path.display())]
    BadSplitKeys {
        /// The shard.
        path: PathBuf,
        /// `split.no` (0-based).
        no: u64,
        /// `split.count`.
        count: u64,
    },
    /// A shard's file name does not follow `PREFIX-%05d-of-%05d.gguf`.
    #[error("{}: the file says it is shard {} of {count}, but its name does not end in '{expected_suffix}', so the other shards cannot be found", path.display(), no + 1)]
    SplitName {
        /// The shard.
        path: PathBuf,
        /// `split.no` (0-based).
        no: u64,
        /// `split.count`.
        count: u64,
        /// The ending its name should have.
        expected_suffix: String,
    },
    /// A shard that should exist next to the others does not.
    #[error("{}: shard {} of {count} is missing", path.display(), no + 1)]
    MissingShard {
        /// Where the shard was looked for.
        path: PathBuf,
        /// Its index (0-based).
        no: u64,
        /// `split.count`.
        count: u64,
    },
    /// A shard whose split keys disagree with its name or with shard 1.
    #[error("{}: expected shard {} of {expected_count}, but the file says it is shard {} of {found_count}", path.display(), expected_no + 1, found_no + 1)]
    ShardMismatch {
        /// The shard.
        path: PathBuf,
        /// The index (0-based) its name implies.
        expected_no: u64,
        /// The count shard 1 gives.
        expected_count: u64,
        /// Its `split.no`.
        found_no: u64,
        /// Its `split.count`.
        found_count: u64,
    },
    /// The same tensor in two shards.
    #[error("{}: tensor '{name}' is also in {}", path.display(), first.display())]
    DuplicateTensor {
        /// The shard holding the second copy.
        path: PathBuf,
        /// The tensor.
        name: String,
        /// The shard holding the first copy.
        first: PathBuf,
    },
    /// The shards hold a different number of tensors than shard 1 says.
    #[error("{}: split.tensors.count is {expected}, but the {shards} shards hold {found} tensors", path.display())]
    TensorCount {
        /// Shard 1.
        path: PathBuf,
        /// `split.tensors.count`.
        expected: u64,
        /// Tensors found in all shards.
        found: u64,
        /// Number of shards.
        shards: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_error_is_one_line_naming_the_file() {
        let e = GgufError::File {
            path: PathBuf::from("model.gguf"),
            error: ParseError::TensorBeyondEnd {
                tensor: "blk.0.attn_q.weight".into(),
                offset: 4096,
                n_bytes: 1234,
                file_len: 5000,
            },
        };
        assert_eq!(
            e.to_string(),
            "model.gguf: tensor 'blk.0.attn_q.weight': offset 4096 + 1234 bytes is beyond the end of the file (5000 bytes)"
        );
    }

    #[test]
    fn version_messages() {
        let m = |v| ParseError::UnsupportedVersion { version: v }.to_string();
        assert!(m(1).contains("obsolete"));
        assert!(m(0x0300_0000).contains("big-endian"));
        assert!(m(4).contains("unsupported GGUF version 4"));
        assert!(m(0).contains("unsupported GGUF version 0"));
    }
}
