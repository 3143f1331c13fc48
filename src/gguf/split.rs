//! Split models the llama.cpp way: shard files named
//! `PREFIX-00001-of-00005.gguf` …, each holding `split.no` (0-based, u16),
//! `split.count` (u16) and, in the first, `split.tensors.count` (i32).

/// Metadata key: this shard's index, 0-based.
pub const KEY_SPLIT_NO: &str = "split.no";
/// Metadata key: the number of shards.
pub const KEY_SPLIT_COUNT: &str = "split.count";
/// Metadata key: the number of tensors in all shards together.
pub const KEY_SPLIT_TENSORS_COUNT: &str = "split.tensors.count";

/// The ending of shard `no` (0-based) of `count`: `-00002-of-00005.gguf`.
pub fn split_suffix(no: u64, count: u64) -> String {
    format!("-{:05}-of-{:05}.gguf", no + 1, count)
}

/// The file name of shard `no` (0-based) of `count` for `prefix`.
pub fn split_file_name(prefix: &str, no: u64, count: u64) -> String {
    format!("{prefix}{}", split_suffix(no, count))
}

/// The prefix of `file_name` if it is the name of shard `no` of `count`.
pub fn split_prefix(file_name: &str, no: u64, count: u64) -> Option<&str> {
    file_name.strip_suffix(&split_suffix(no, count))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let name = "persona_kappa_20b_Q8_0.gguf-00001-of-00005.gguf";
        assert_eq!(
            split_prefix(name, 0, 5),
            Some("persona_kappa_20b_Q8_0.gguf")
        );
        assert_eq!(split_prefix(name, 1, 5), None);
        assert_eq!(split_prefix(name, 0, 4), None);
        assert_eq!(
            split_file_name("persona_kappa_20b_Q8_0.gguf", 4, 5),
            "persona_kappa_20b_Q8_0.gguf-00005-of-00005.gguf"
        );
        assert_eq!(split_suffix(99_999, 100_000), "-100000-of-100000.gguf");
    }
}
