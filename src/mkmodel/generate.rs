//! Streams a model's tensor data into a [`GgufSplitWriter`]: the tensors are
//! cut into chunks of whole rows, batches of chunks are generated and
//! quantized in parallel on a rayon pool, and a writer thread writes them in
//! order while the next batch is computed. Memory stays bounded by a few
//! batches, whatever the model size.

use std::path::PathBuf;
use std::sync::mpsc;

use rayon::prelude::*;

use crate::ggml::GgmlError;
use crate::gguf::{GgufSplitWriter, GgufWriteError};

use super::preset::PlannedTensor;
use super::weights::make_chunk;
use crate::progress::Progress;

/// About this many values (f32) are generated per chunk (4 MiB).
const CHUNK_VALUES: u64 = 1 << 20;

/// One unit of parallel work: rows of one tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Job {
    /// Index of the tensor in the plan.
    pub tensor: usize,
    /// First row.
    pub first_row: u64,
    /// Number of rows.
    pub n_rows: u64,
}

/// Cuts every tensor into chunks of whole rows, in file order.
pub fn jobs(plan: &[PlannedTensor]) -> Vec<Job> {
    let mut out = Vec::new();
    for (i, t) in plan.iter().enumerate() {
        let row_len = t.spec.dims.first().copied().unwrap_or(1).max(1);
        let per_chunk = (CHUNK_VALUES / row_len).max(1);
        let rows = t.spec.n_rows();
        let mut first = 0;
        while first < rows {
            let n = per_chunk.min(rows - first);
            out.push(Job {
                tensor: i,
                first_row: first,
                n_rows: n,
            });
            first += n;
        }
    }
    out
}

/// Why streaming the data stopped.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// The writer refused the data or the disk did.
    #[error(transparent)]
    Write(#[from] GgufWriteError),
    /// ggml could not convert a chunk.
    #[error("cannot convert tensor {name}: {source}")]
    Quantize {
        /// The tensor.
        name: String,
        /// ggml's complaint.
        #[source]
        source: GgmlError,
    },
}

/// Generates, converts and writes all tensor data of `plan` with `seed`,
/// using `pool` for the work; reports progress. On error nothing is removed
/// here: the caller owns the writer and decides.
pub fn stream(
    writer: &mut GgufSplitWriter,
    plan: &[PlannedTensor],
    seed: u64,
    pool: &rayon::ThreadPool,
    progress: &mut Progress,
) -> Result<(), StreamError> {
    let jobs = jobs(plan);
    let batch = pool.current_num_threads().max(1) * 2;
    let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(batch);
    let (w, p) = (&mut *writer, &mut *progress);
    std::thread::scope(|s| {
        let consumer = s.spawn(move || -> Result<(), GgufWriteError> {
            for chunk in rx {
                w.write(&chunk)?;
                p.add(chunk.len() as u64);
            }
            Ok(())
        });
        let produced = pool.install(|| -> Result<(), StreamError> {
            for group in jobs.chunks(batch) {
                let results: Vec<Result<Vec<u8>, StreamError>> = group
                    .par_iter()
                    .map(|j| {
                        let t = &plan[j.tensor];
                        let row_len = t.spec.dims.first().copied().unwrap_or(1);
                        make_chunk(
                            seed,
                            j.tensor,
                            t.spec.ty,
                            row_len,
                            j.first_row,
                            j.n_rows,
                            t.init,
                        )
                        .map_err(|source| StreamError::Quantize {
                            name: t.spec.name.clone(),
                            source,
                        })
                    })
                    .collect();
                for r in results {
                    if tx.send(r?).is_err() {
                        // The writer stopped; its error is the one to report.
                        return Ok(());
                    }
                }
            }
            Ok(())
        });
        drop(tx);
        let written = consumer
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        written?;
        produced
    })?;
    progress.finish();
    Ok(())
}

/// The files removed after a failure, as text for an error message.
pub fn removed_note(removed: &[PathBuf]) -> String {
    match removed {
        [] => String::new(),
        [one] => format!("; removed the partial output {}", one.display()),
        many => format!(
            "; removed the partial output ({})",
            many.iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mkmodel::preset::{tensor_plan, Preset};

    #[test]
    fn jobs_cover_every_row_once_in_order() {
        let plan = tensor_plan(&Preset::Small.hparams());
        let jobs = jobs(&plan);
        for (i, t) in plan.iter().enumerate() {
            let mine: Vec<&Job> = jobs.iter().filter(|j| j.tensor == i).collect();
            let mut next = 0;
            for j in &mine {
                assert_eq!(j.first_row, next);
                assert!(j.n_rows * t.spec.dims[0] <= CHUNK_VALUES.max(t.spec.dims[0]));
                next += j.n_rows;
            }
            assert_eq!(next, t.spec.n_rows(), "{}", t.spec.name);
        }
        assert!(jobs.windows(2).all(|w| w[0].tensor <= w[1].tensor));
    }
}
