//! A GGUF model on disk: one file or all shards of a split model, each
//! memory-mapped read-only and parsed, presented as one set of metadata and
//! tensors. Tensor bytes are borrowed from the maps, never copied, and opening
//! reads only the header pages.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::File;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use crate::ggml::MappedFile;

use super::metadata::{typed_getters, Metadata};
use super::split::{
    split_file_name, split_prefix, split_suffix, KEY_SPLIT_COUNT, KEY_SPLIT_NO,
    KEY_SPLIT_TENSORS_COUNT,
};
use super::{GgufError, GgufFile, GgufValue, MetaError, TensorInfo};

/// One mapped and parsed GGUF file.
#[derive(Debug)]
pub struct Shard {
    path: PathBuf,
    map: MappedFile,
    gguf: GgufFile,
}

impl Shard {
    /// Maps and parses the file at `path`.
    pub fn open(path: &Path) -> Result<Shard, GgufError> {
        let io = |action, error| GgufError::Io {
            path: path.to_owned(),
            action,
            error,
        };
        let file = File::open(path).map_err(|e| io("open", e))?;
        let map = MappedFile::map(&file).map_err(|e| io("map", e))?;
        let gguf = GgufFile::parse(map.bytes()).map_err(|error| GgufError::File {
            path: path.to_owned(),
            error,
        })?;
        Ok(Shard {
            path: path.to_owned(),
            map,
            gguf,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's size in bytes.
    pub fn size(&self) -> u64 {
        self.map.len() as u64
    }

    /// The parsed header.
    pub fn gguf(&self) -> &GgufFile {
        &self.gguf
    }

    /// All bytes of the file (mapped, loaded on first touch).
    pub fn bytes(&self) -> &[u8] {
        self.map.bytes()
    }

    fn data(&self, info: &TensorInfo) -> &[u8] {
        self.gguf
            .tensor_data(self.map.bytes(), info)
            .expect("parse checked every tensor range against exactly these mapped bytes")
    }

    /// `(split.no, split.count)`, or `None` if the file has no split keys
    /// and `required` is false.
    fn split_keys(&self, required: bool) -> Result<Option<(u64, u64)>, GgufError> {
        let meta = |error| GgufError::Meta {
            path: self.path.clone(),
            error,
        };
        let m = self.gguf.metadata();
        let count = match m.get_opt::<u16>(KEY_SPLIT_COUNT).map_err(meta)? {
            Some(count) => u64::from(count),
            None if required => {
                return Err(meta(MetaError::Missing {
                    key: KEY_SPLIT_COUNT.to_owned(),
                }))
            }
            None => return Ok(None),
        };
        let no = u64::from(m.get_as::<u16>(KEY_SPLIT_NO).map_err(meta)?);
        if no >= count {
            return Err(GgufError::BadSplitKeys {
                path: self.path.clone(),
                no,
                count,
            });
        }
        Ok(Some((no, count)))
    }
}

/// A tensor of a model: its info, the shard holding it, and its bytes.
#[derive(Debug, Clone, Copy)]
pub struct TensorRef<'m> {
    /// Name, shape, type, offset and size.
    pub info: &'m TensorInfo,
    /// Index of the shard in [`GgufModel::shards`].
    pub shard: usize,
    /// The tensor's bytes, borrowed from the shard's memory map.
    pub data: &'m [u8],
}

/// A GGUF model: one file, or every shard of a split model.
#[derive(Debug)]
pub struct GgufModel {
    /// Never empty; shard 0 holds the model's metadata.
    shards: Vec<Shard>,
    /// Tensor name -> (shard, index in that shard).
    index: HashMap<String, (usize, usize)>,
}

impl GgufModel {
    /// Opens the model at `path`. If the file is a shard of a split model
    /// (any of them), all shards are found next to it by name, mapped and
    /// checked against each other. Only header pages are read.
    pub fn open(path: impl AsRef<Path>) -> Result<GgufModel, GgufError> {
        let path = path.as_ref();
        let given = Shard::open(path)?;
        let shards = match given.split_keys(false)? {
            None | Some((_, 1)) => vec![given],
            Some((no, count)) => open_shards(given, no, count)?,
        };
        let mut index = HashMap::with_capacity(shards.iter().map(|s| s.gguf.tensors().len()).sum());
        for (si, shard) in shards.iter().enumerate() {
            for (ti, info) in shard.gguf.tensors().iter().enumerate() {
                if let Some((first, _)) = index.insert(info.name.clone(), (si, ti)) {
                    return Err(GgufError::DuplicateTensor {
                        path: shard.path.clone(),
                        name: info.name.clone(),
                        first: shards[first].path.clone(),
                    });
                }
            }
        }
        let model = GgufModel { shards, index };
        let expected = if model.shards.len() > 1 {
            Some(model.get_u64(KEY_SPLIT_TENSORS_COUNT)?)
        } else {
            model.get_opt::<u64>(KEY_SPLIT_TENSORS_COUNT)?
        };
        if let Some(expected) = expected {
            let found = model.index.len() as u64;
            if found != expected {
                return Err(GgufError::TensorCount {
                    path: model.path().to_owned(),
                    expected,
                    found,
                    shards: model.shards.len(),
                });
            }
        }
        Ok(model)
    }

    /// The shards in order (one for a single-file model).
    pub fn shards(&self) -> &[Shard] {
        &self.shards
    }

    /// Path of the first shard (the file itself for a single-file model).
    pub fn path(&self) -> &Path {
        &self.shards[0].path
    }

    /// Total size of all shard files in bytes.
    pub fn total_file_bytes(&self) -> u64 {
        self.shards.iter().map(Shard::size).sum()
    }

    /// The model's metadata (that of the first shard), in file order.
    pub fn metadata(&self) -> &Metadata {
        self.shards[0].gguf.metadata()
    }

    /// The value of metadata key `key`.
    pub fn get(&self, key: &str) -> Option<&GgufValue> {
        self.metadata().get(key)
    }

    fn wrap(&self, error: MetaError) -> GgufError {
        GgufError::Meta {
            path: self.path().to_owned(),
            error,
        }
    }

    typed_getters!(GgufError, wrap);

    /// Number of tensors in all shards.
    pub fn n_tensors(&self) -> usize {
        self.index.len()
    }

    /// All tensors, shard by shard, each in file order.
    pub fn tensors(&self) -> impl Iterator<Item = TensorRef<'_>> {
        self.shards.iter().enumerate().flat_map(|(si, shard)| {
            shard.gguf.tensors().iter().map(move |info| TensorRef {
                info,
                shard: si,
                data: shard.data(info),
            })
        })
    }

    /// The tensor `name`.
    pub fn tensor(&self, name: &str) -> Option<TensorRef<'_>> {
        let &(si, ti) = self.index.get(name)?;
        let shard = &self.shards[si];
        let info = &shard.gguf.tensors()[ti];
        Some(TensorRef {
            info,
            shard: si,
            data: shard.data(info),
        })
    }

    /// Sum of all tensors' sizes in bytes.
    pub fn total_tensor_bytes(&self) -> u64 {
        self.shards
            .iter()
            .map(|s| s.gguf.total_tensor_bytes())
            .sum()
    }
}

/// Opens every shard of the split model that `given` (shard `no` of `count`)
/// belongs to, in order.
fn open_shards(given: Shard, no: u64, count: u64) -> Result<Vec<Shard>, GgufError> {
    let prefix = given
        .path
        .file_name()
        .and_then(OsStr::to_str)
        .and_then(|name| split_prefix(name, no, count))
        .ok_or_else(|| GgufError::SplitName {
            path: given.path.clone(),
            no,
            count,
            expected_suffix: split_suffix(no, count),
        })?;
    let dir = given.path.parent().unwrap_or(Path::new(""));
    let mut shards = Vec::with_capacity(count as usize);
    for i in (0..count).filter(|&i| i != no) {
        let path = dir.join(split_file_name(prefix, i, count));
        let shard = match Shard::open(&path) {
            Err(GgufError::Io { error, .. }) if error.kind() == ErrorKind::NotFound => {
                return Err(GgufError::MissingShard { path, no: i, count })
            }
            other => other?,
        };
        match shard.split_keys(true)? {
            Some((n, c)) if n == i && c == count => {}
            found => {
                let (found_no, found_count) = found.unwrap_or((0, 1));
                return Err(GgufError::ShardMismatch {
                    path,
                    expected_no: i,
                    expected_count: count,
                    found_no,
                    found_count,
                });
            }
        }
        shards.push(shard);
    }
    shards.insert(no as usize, given);
    Ok(shards)
}
