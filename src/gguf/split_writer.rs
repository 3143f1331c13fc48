//! Multi-file ("split") GGUF output in llama.cpp's layout.
//!
//! A model of N shards is written as `PREFIX-00001-of-0000N.gguf` …
//! `PREFIX-0000N-of-0000N.gguf`. Shard 1 holds all the metadata plus the
//! split keys `split.no` (u16, counted from 0), `split.count` (u16) and
//! `split.tensors.count` (i32); shards 2..N hold only the split keys and their
//! own tensors. Tensors keep their declaration order: shard 1 gets the first
//! run of tensors, shard 2 the next, and so on, with the cut points chosen so
//! that shard sizes are balanced and every shard holds at least one tensor.
//! With N = 1 the output is a single plain file with no split keys.

use std::ops::Range;
use std::path::{Path, PathBuf};

use super::value::GgufValue;
use super::writer::{
    check_output_path, layout, remove_partial, GgufWriteError, GgufWriter, Layout, TensorSpec,
};

/// `split.no`: the shard's index, counted from 0 (u16).
pub const SPLIT_NO_KEY: &str = "split.no";
/// `split.count`: how many shards the model has (u16).
pub const SPLIT_COUNT_KEY: &str = "split.count";
/// `split.tensors.count`: how many tensors all shards hold together (i32).
pub const SPLIT_TENSORS_COUNT_KEY: &str = "split.tensors.count";

/// The file names of an `n`-shard model written to `output`.
///
/// With `n == 1` this is `output` itself. Otherwise the prefix is `output`
/// without a trailing `-00001-of-0000N.gguf` (if it has one) or else without a
/// trailing `.gguf`, and the names are `PREFIX-%05d-of-%05d.gguf`. An output
/// name that already carries a shard count other than `n` is an error.
pub fn shard_paths(output: &Path, n: u16) -> Result<Vec<PathBuf>, GgufWriteError> {
    let invalid = |reason: String| GgufWriteError::Invalid {
        path: output.to_path_buf(),
        reason,
    };
    if n == 0 {
        return Err(invalid("the shard count must be at least 1".to_string()));
    }
    if n == 1 {
        return Ok(vec![output.to_path_buf()]);
    }
    let name = output
        .file_name()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    if name.is_empty() {
        return Err(invalid("the output needs a file name".to_string()));
    }
    let prefix = match split_suffix(name) {
        Some((prefix, _, count)) if count == n => prefix,
        Some((_, _, count)) => {
            return Err(invalid(format!(
                "the name says {count} shards, but {n} were asked for"
            )));
        }
        None => name.strip_suffix(".gguf").unwrap_or(name),
    };
    if prefix.is_empty() {
        return Err(invalid(
            "the output name has nothing before the shard suffix".to_string(),
        ));
    }
    Ok((1..=n)
        .map(|k| output.with_file_name(format!("{prefix}-{k:05}-of-{n:05}.gguf")))
        .collect())
}

/// Splits `NAME-00002-of-00005.gguf` into (`NAME`, 2, 5).
pub fn split_suffix(name: &str) -> Option<(&str, u16, u16)> {
    let stem = name.strip_suffix(".gguf")?;
    let (rest, count) = stem.rsplit_once("-of-")?;
    let (prefix, no) = rest.rsplit_once('-')?;
    let digits = |s: &str| s.len() == 5 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(no) || !digits(count) {
        return None;
    }
    Some((prefix, no.parse().ok()?, count.parse().ok()?))
}

/// Cuts tensors of the given byte sizes into `n` contiguous, non-empty runs of
/// balanced total size. Needs `1 <= n <= sizes.len()`.
pub fn assign_shards(sizes: &[u64], n: usize) -> Vec<Range<usize>> {
    let total: u128 = sizes.iter().map(|&s| u128::from(s)).sum();
    let mut ranges = Vec::with_capacity(n);
    let mut start = 0;
    let mut before: u128 = 0; // bytes in shards already cut
    for k in 0..n {
        if k + 1 == n {
            ranges.push(start..sizes.len());
            break;
        }
        let target = total * (k as u128 + 1) / n as u128;
        let last_end = sizes.len() - (n - k - 1);
        let mut end = start + 1;
        let mut cum = before + u128::from(sizes[start]);
        while end < last_end
            && (cum + u128::from(sizes[end])).abs_diff(target) <= cum.abs_diff(target)
        {
            cum += u128::from(sizes[end]);
            end += 1;
        }
        ranges.push(start..end);
        start = end;
        before = cum;
    }
    ranges
}

/// A model being written as one or more GGUF files; data is streamed in
/// tensor order across the shards. Dropping it before [`finish`] (or calling
/// [`abort`]) removes every file it created.
///
/// [`finish`]: GgufSplitWriter::finish
/// [`abort`]: GgufSplitWriter::abort
#[derive(Debug)]
pub struct GgufSplitWriter {
    paths: Vec<PathBuf>,
    ranges: Vec<Range<usize>>,
    layouts: Vec<Layout>,
    tensors: Vec<TensorSpec>,
    metadata: Vec<(String, GgufValue)>,
    shard: usize,
    current: Option<GgufWriter>,
    done: Vec<PathBuf>,
    finished: bool,
}

impl GgufSplitWriter {
    /// Plans an `n_split`-shard model at `output` (see [`shard_paths`]),
    /// validates the metadata and tensors of every shard, refuses output paths
    /// that are directories, and creates the first shard. Later shards are
    /// created when the data reaches them.
    pub fn create(
        output: &Path,
        n_split: u16,
        metadata: Vec<(String, GgufValue)>,
        tensors: Vec<TensorSpec>,
    ) -> Result<GgufSplitWriter, GgufWriteError> {
        let paths = shard_paths(output, n_split)?;
        let n = usize::from(n_split);
        if n > tensors.len().max(1) {
            return Err(GgufWriteError::Invalid {
                path: output.to_path_buf(),
                reason: format!(
                    "{n} shards asked for, but the model has only {} tensors",
                    tensors.len()
                ),
            });
        }
        if i32::try_from(tensors.len()).is_err() {
            return Err(GgufWriteError::Invalid {
                path: output.to_path_buf(),
                reason: format!(
                    "{} tensors are more than a split model can count",
                    tensors.len()
                ),
            });
        }
        for p in &paths {
            check_output_path(p)?;
        }
        let ranges = if tensors.is_empty() {
            vec![Range::default()]
        } else {
            let sizes: Vec<u64> = tensors.iter().map(|t| t.n_bytes().unwrap_or(0)).collect();
            assign_shards(&sizes, n)
        };
        let mut w = GgufSplitWriter {
            paths,
            ranges,
            layouts: Vec::with_capacity(n),
            tensors,
            metadata,
            shard: 0,
            current: None,
            done: Vec::new(),
            finished: false,
        };
        for k in 0..n {
            let meta = w.shard_metadata(k);
            let layout = layout(&w.paths[k], &meta, &w.tensors[w.ranges[k].clone()])?;
            w.layouts.push(layout);
        }
        w.open_shard(0)?;
        Ok(w)
    }

    /// The files, in shard order.
    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
    }

    /// Which tensors (indices into the declaration order) each shard holds.
    pub fn ranges(&self) -> &[Range<usize>] {
        &self.ranges
    }

    /// The exact size each file will have.
    pub fn planned_sizes(&self) -> Vec<u64> {
        self.layouts.iter().map(|l| l.file_size).collect()
    }

    /// The tensor whose data is due next, or `None` when all are written.
    pub fn next_tensor(&self) -> Option<&TensorSpec> {
        self.current.as_ref().and_then(GgufWriter::next_tensor)
    }

    /// Appends `data` to the tensor being written (see [`GgufWriter::write`]),
    /// moving on to the next shard when one is complete.
    pub fn write(&mut self, data: &[u8]) -> Result<(), GgufWriteError> {
        let w = self.current.as_mut().expect("a shard is open until finish");
        w.write(data)?;
        if w.next_tensor().is_none() && self.shard + 1 < self.paths.len() {
            self.close_shard()?;
            self.open_shard(self.shard + 1)?;
        }
        Ok(())
    }

    /// Writes the whole data of tensor `name`, which must be the next one.
    pub fn write_tensor(&mut self, name: &str, data: &[u8]) -> Result<(), GgufWriteError> {
        let w = self.current.as_mut().expect("a shard is open until finish");
        w.write_tensor(name, data)?;
        if w.next_tensor().is_none() && self.shard + 1 < self.paths.len() {
            self.close_shard()?;
            self.open_shard(self.shard + 1)?;
        }
        Ok(())
    }

    /// Checks that all data was written, closes the last shard, and returns
    /// each file with its size.
    pub fn finish(mut self) -> Result<Vec<(PathBuf, u64)>, GgufWriteError> {
        self.close_shard()?;
        self.finished = true;
        Ok(self
            .paths
            .iter()
            .cloned()
            .zip(self.layouts.iter().map(|l| l.file_size))
            .collect())
    }

    /// Stops writing and removes every file created so far; returns the
    /// files removed.
    pub fn abort(mut self) -> Vec<PathBuf> {
        self.remove_all()
    }

    fn remove_all(&mut self) -> Vec<PathBuf> {
        let mut removed = Vec::new();
        if let Some(w) = self.current.take() {
            let p = w.path().to_path_buf();
            if w.abort() {
                removed.push(p);
            }
        }
        for p in std::mem::take(&mut self.done) {
            if remove_partial(&p) {
                removed.push(p);
            }
        }
        removed
    }

    fn shard_metadata(&self, k: usize) -> Vec<(String, GgufValue)> {
        let n = self.paths.len();
        if n == 1 {
            return self.metadata.clone();
        }
        let split = [
            (SPLIT_NO_KEY.to_string(), GgufValue::U16(k as u16)),
            (SPLIT_COUNT_KEY.to_string(), GgufValue::U16(n as u16)),
            (
                SPLIT_TENSORS_COUNT_KEY.to_string(),
                GgufValue::I32(self.tensors.len() as i32),
            ),
        ];
        if k == 0 {
            self.metadata.iter().cloned().chain(split).collect()
        } else {
            split.to_vec()
        }
    }

    fn open_shard(&mut self, k: usize) -> Result<(), GgufWriteError> {
        let meta = self.shard_metadata(k);
        let tensors = self.tensors[self.ranges[k].clone()].to_vec();
        self.current = Some(GgufWriter::create(&self.paths[k], &meta, tensors)?);
        self.shard = k;
        if k == 0 {
            // Only shard 1 carries the metadata; free it (the vocabulary is large).
            self.metadata = Vec::new();
        }
        Ok(())
    }

    fn close_shard(&mut self) -> Result<(), GgufWriteError> {
        if let Some(w) = self.current.take() {
            let path = w.path().to_path_buf();
            w.finish()?;
            self.done.push(path);
        }
        Ok(())
    }
}

impl Drop for GgufSplitWriter {
    fn drop(&mut self) {
        if !self.finished {
            self.remove_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_names_follow_llama_cpp() {
        let p = |s: &str| PathBuf::from(s);
        assert_eq!(
            shard_paths(&p("/m/x.gguf"), 1).expect("ok"),
            vec![p("/m/x.gguf")]
        );
        assert_eq!(
            shard_paths(&p("/m/x.gguf"), 2).expect("ok"),
            vec![p("/m/x-00001-of-00002.gguf"), p("/m/x-00002-of-00002.gguf")]
        );
        assert_eq!(
            shard_paths(&p("m/model"), 2).expect("ok")[1],
            p("m/model-00002-of-00002.gguf")
        );
        assert_eq!(
            shard_paths(&p("y-00001-of-00003.gguf"), 3).expect("ok")[2],
            p("y-00003-of-00003.gguf")
        );
        assert!(shard_paths(&p("y-00001-of-00003.gguf"), 2).is_err());
        assert!(shard_paths(&p("x.gguf"), 0).is_err());
        assert!(shard_paths(&p("-00001-of-00002.gguf"), 2).is_err());
        assert_eq!(split_suffix("a-b-00002-of-00005.gguf"), Some(("a-b", 2, 5)));
        assert_eq!(split_suffix("a-2-of-5.gguf"), None);
    }

    #[test]
    fn shards_are_contiguous_balanced_and_non_empty() {
        let cover = |r: &[Range<usize>], len: usize| {
            assert_eq!(r.first().map(|r| r.start), Some(0));
            assert_eq!(r.last().map(|r| r.end), Some(len));
            for w in r.windows(2) {
                assert_eq!(w[0].end, w[1].start);
            }
            assert!(r.iter().all(|r| !r.is_empty()), "{r:?}");
        };
        let sizes = [10u64; 10];
        let r = assign_shards(&sizes, 2);
        assert_eq!(r, vec![0..5, 5..10]);
        let r = assign_shards(&sizes, 3);
        cover(&r, 10);
        assert!(r.iter().all(|r| (3..=4).contains(&r.len())), "{r:?}");
        // One huge tensor first: it takes a shard alone, the rest share.
        let sizes = [1000u64, 1, 1, 1];
        let r = assign_shards(&sizes, 3);
        cover(&r, 4);
        assert_eq!(r[0], 0..1);
        // As many shards as tensors.
        let r = assign_shards(&[5, 1, 9], 3);
        assert_eq!(r, vec![0..1, 1..2, 2..3]);
        // Small tensors at the end still fill the last shards.
        let r = assign_shards(&[1, 1, 1, 1, 1000], 3);
        cover(&r, 5);
        // A gpt-oss-like list: per-layer blocks of equal size.
        let mut sizes = vec![600u64];
        for _ in 0..24 {
            sizes.extend([1, 50, 1, 300, 1, 300, 1, 300]);
        }
        sizes.push(600);
        let r = assign_shards(&sizes, 5);
        cover(&r, sizes.len());
        let totals: Vec<u64> = r.iter().map(|r| sizes[r.clone()].iter().sum()).collect();
        let (lo, hi) = (
            totals.iter().min().copied().unwrap_or(0),
            totals.iter().max().copied().unwrap_or(0),
        );
        assert!(hi - lo <= 1300, "{totals:?}");
    }
}
