//! `kchat mkmodel`: synthetic gpt-oss models with seeded random weights, in the
//! layout of the user's real file, for tests and benchmarks.
//!
//! The same preset and seed always give the same bytes, whatever the thread
//! count. The data is streamed: even `20b` needs well under 2 GiB of memory.

pub mod generate;
pub mod metadata;
pub mod preset;
pub mod vocab;
pub mod weights;

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use crate::gguf::split_writer::shard_paths;
use crate::gguf::{GgufSplitWriter, GgufWriteError};

pub use preset::{Hparams, Preset};

/// Arguments of `kchat mkmodel`.
#[derive(Debug, Clone, clap::Args)]
pub struct MkmodelArgs {
    /// Model size: `tiny` (tests, ~36 MB), `small` (real width, 4 layers,
    /// ~4.8 GB), `mid` (24 layers at width 1024, ~2.0 GB), `20b` (the real
    /// size, ~22.8 GB).
    #[arg(long, value_enum)]
    pub preset: Preset,

    /// Output file. With `--split N` (N > 1) the files are
    /// PREFIX-00001-of-0000N.gguf … PREFIX-0000N-of-0000N.gguf, where PREFIX is
    /// FILE without a trailing `-00001-of-0000N.gguf` if it has one, else
    /// without a trailing `.gguf`.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: PathBuf,

    /// Number of files to split the model into (llama.cpp's split format).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub split: u16,

    /// Seed of the random weights.
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,

    /// Worker threads for generating and quantizing [default: all cores].
    #[arg(long, value_name = "T")]
    pub threads: Option<usize>,
}

/// Errors of `kchat mkmodel`.
#[derive(Debug, thiserror::Error)]
pub enum MkmodelError {
    /// A bad `--split`.
    #[error("--split {split}: {reason}")]
    Split {
        /// The value given.
        split: u16,
        /// Why it cannot be used.
        reason: String,
    },
    /// A bad `--threads`.
    #[error("--threads {0}: at least 1 thread is needed")]
    Threads(usize),
    /// The worker pool could not start.
    #[error("cannot start {threads} worker threads: {reason}")]
    Pool {
        /// Threads asked for.
        threads: usize,
        /// What rayon said.
        reason: String,
    },
    /// The vocabulary could not be built.
    #[error(transparent)]
    Vocab(#[from] vocab::VocabError),
    /// The output could not be created.
    #[error(transparent)]
    Write(#[from] GgufWriteError),
    /// Writing failed part way; `note` says what was cleaned up.
    #[error("{source}{note}")]
    Stream {
        /// What failed.
        #[source]
        source: generate::StreamError,
        /// The files removed, as text.
        note: String,
    },
}

/// One file written: its path and size in bytes.
pub type Written = Vec<(PathBuf, u64)>;

/// Runs `kchat mkmodel`: prints the plan, writes the model, prints a summary.
pub fn run(args: &MkmodelArgs) -> anyhow::Result<()> {
    make_model(args, &mut std::io::stdout())?;
    Ok(())
}

/// Writes the model described by `args`, reporting to `out` (plan and
/// summary) and stderr (progress). Returns the files written.
pub fn make_model(args: &MkmodelArgs, out: &mut dyn Write) -> Result<Written, MkmodelError> {
    let start = Instant::now();
    let hp = args.preset.hparams();
    let plan = preset::tensor_plan(&hp);
    if usize::from(args.split) > plan.len() || args.split == 0 {
        return Err(MkmodelError::Split {
            split: args.split,
            reason: format!(
                "must be between 1 and the number of tensors, {}",
                plan.len()
            ),
        });
    }
    // Refuse bad output paths before the slow part.
    for p in shard_paths(&args.output, args.split)? {
        crate::gguf::writer::check_output_path(&p)?;
    }
    let threads = match args.threads {
        Some(0) => return Err(MkmodelError::Threads(0)),
        Some(t) => t,
        None => std::thread::available_parallelism().map_or(1, usize::from),
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("mkmodel-{i}"))
        .build()
        .map_err(|e| MkmodelError::Pool {
            threads,
            reason: e.to_string(),
        })?;

    let data: u64 = plan.iter().map(|t| t.spec.n_bytes().unwrap_or(0)).sum();
    // Reporting is best effort: a closed stdout must not stop the write.
    let _ = writeln!(
        out,
        "kchat mkmodel: preset {} (seed {}, {threads} threads)",
        args.preset, args.seed
    );
    let _ = writeln!(out, "  {hp}");
    let _ = writeln!(
        out,
        "  {} tensors, {:.2} GB of tensor data ({:.2} GiB)",
        plan.len(),
        data as f64 / 1e9,
        gib(data)
    );

    let vocab = pool.install(vocab::harmony_vocab)?;
    let meta = metadata::metadata(args.preset, &hp, &vocab);
    drop(vocab);
    let specs = plan.iter().map(|t| t.spec.clone()).collect();
    let mut writer = GgufSplitWriter::create(&args.output, args.split, meta, specs)?;
    let sizes = writer.planned_sizes();
    let total: u64 = sizes.iter().sum();
    for (p, s) in writer.paths().iter().zip(&sizes) {
        let _ = writeln!(out, "  {}  {:.2} GB", p.display(), *s as f64 / 1e9);
    }
    let _ = out.flush();

    let mut progress = crate::progress::Progress::new(data, args.preset != Preset::Tiny);
    if let Err(source) = generate::stream(&mut writer, &plan, args.seed, &pool, &mut progress) {
        let removed = writer.abort();
        return Err(MkmodelError::Stream {
            source,
            note: generate::removed_note(&removed),
        });
    }
    let files = writer.finish()?;
    let secs = start.elapsed().as_secs_f64();
    let _ = writeln!(
        out,
        "wrote {} file{}, {:.2} GB ({:.2} GiB) in {secs:.1} s ({:.0} MB/s)",
        files.len(),
        if files.len() == 1 { "" } else { "s" },
        total as f64 / 1e9,
        gib(total),
        total as f64 / 1e6 / secs.max(1e-3)
    );
    Ok(files)
}

fn gib(n: u64) -> f64 {
    n as f64 / f64::from(1u32 << 30)
}
