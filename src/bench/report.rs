//! The results of `kchat bench`: statistics per engine and test, a markdown
//! table in llama-bench's layout, and the same as JSON.

use std::path::Path;

use super::harness::Workload;
use super::BenchArgs;
use crate::engine::EngineOptions;
use crate::gguf::GgufModel;

/// One engine's speed on one test.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct EngineResult {
    /// Engine name.
    pub engine: String,
    /// Tokens per second of each repetition, in order.
    pub samples_ts: Vec<f64>,
    /// Median tokens per second.
    pub median_ts: f64,
    /// Mean tokens per second.
    pub mean_ts: f64,
    /// Sample standard deviation of tokens per second (0 for one sample).
    pub stddev_ts: f64,
}

impl EngineResult {
    /// Statistics of `samples` (tokens per second).
    pub fn new(engine: &str, samples: Vec<f64>) -> EngineResult {
        let n = samples.len();
        let mut sorted = samples.clone();
        sorted.sort_by(f64::total_cmp);
        let median = match n {
            0 => 0.0,
            _ if n % 2 == 1 => sorted[n / 2],
            _ => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
        };
        let mean = if n == 0 {
            0.0
        } else {
            samples.iter().sum::<f64>() / n as f64
        };
        let stddev = if n < 2 {
            0.0
        } else {
            (samples.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
        };
        EngineResult {
            engine: engine.to_string(),
            samples_ts: samples,
            median_ts: median,
            mean_ts: mean,
            stddev_ts: stddev,
        }
    }
}

/// One test's results.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Row {
    /// llama-bench's name of the test (`pp512`, `tg128 @ d4096`).
    pub test: String,
    /// What was run.
    #[serde(flatten)]
    pub workload: Workload,
    /// Per engine, in the order they ran.
    pub results: Vec<EngineResult>,
    /// Median speed of the first engine over the second's (kchat/libllama
    /// with `--vs-llama`); absent with one engine.
    pub ratio: Option<f64>,
}

impl Row {
    /// The row of workload `w`, from the samples [`super::measure`] returned.
    pub fn new(w: &Workload, names: &[String], samples: Vec<Vec<f64>>) -> Row {
        let results: Vec<EngineResult> = names
            .iter()
            .zip(samples)
            .map(|(n, s)| EngineResult::new(n, s))
            .collect();
        let ratio = match results.as_slice() {
            [a, b] if b.median_ts > 0.0 => Some(a.median_ts / b.median_ts),
            _ => None,
        };
        Row {
            test: w.name(),
            workload: *w,
            results,
            ratio,
        }
    }
}

/// The whole benchmark: the setup and a row per test.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    /// The model file.
    pub model: String,
    /// Bytes of its tensors (when kchat's reader could open it).
    pub model_bytes: Option<u64>,
    /// Its parameter count (when kchat's reader could open it).
    pub model_params: Option<u64>,
    /// Where it runs: `CPU`, or the first GPU's name.
    pub backend: String,
    /// `-ngl` (None: the default, all layers when a GPU is found).
    pub n_gpu_layers: Option<u32>,
    /// `--n-cpu-moe` (`u32::MAX`: all).
    pub n_cpu_moe: u32,
    /// CPU threads.
    pub n_threads: usize,
    /// Context size.
    pub n_ctx: u32,
    /// Logical batch.
    pub n_batch: u32,
    /// Micro-batch.
    pub n_ubatch: u32,
    /// Flash attention.
    pub flash_attn: String,
    /// Timed repetitions per test.
    pub repetitions: usize,
    /// Seed of the random tokens.
    pub seed: u64,
    /// One per test.
    pub rows: Vec<Row>,
}

impl Report {
    /// An empty report of the setup.
    pub fn new(
        path: &Path,
        gguf: Option<&GgufModel>,
        opts: &EngineOptions,
        args: &BenchArgs,
    ) -> Report {
        let gpus = crate::ggml::Device::gpus();
        let backend = match gpus.first() {
            Some(g) if opts.n_gpu_layers != Some(0) => g.name(),
            _ => String::from("CPU"),
        };
        Report {
            model: path.display().to_string(),
            model_bytes: gguf.map(GgufModel::total_tensor_bytes),
            model_params: gguf.map(|g| g.tensors().map(|t| t.info.n_elements()).sum()),
            backend,
            n_gpu_layers: opts.n_gpu_layers,
            n_cpu_moe: opts.n_cpu_moe,
            n_threads: opts.n_threads,
            n_ctx: opts.n_ctx,
            n_batch: opts.n_batch,
            n_ubatch: opts.n_ubatch,
            flash_attn: opts.flash_attn.to_string(),
            repetitions: args.reps.max(1),
            seed: args.seed,
            rows: Vec::new(),
        }
    }

    /// The model column: the file name.
    fn model_name(&self) -> String {
        Path::new(&self.model)
            .file_name()
            .map_or_else(|| self.model.clone(), |n| n.to_string_lossy().into_owned())
    }

    /// The fixed cells of every row.
    fn setup_cells(&self) -> Vec<String> {
        let ngl = match self.n_gpu_layers {
            Some(n) => n.to_string(),
            None if self.backend == "CPU" => String::from("0"),
            None => String::from("all"),
        };
        vec![
            self.model_name(),
            self.model_bytes.map_or_else(|| "?".into(), human_bytes),
            self.model_params.map_or_else(|| "?".into(), human_params),
            self.backend.clone(),
            ngl,
            self.flash_attn.clone(),
        ]
    }

    /// The columns for engines `names`: title, width, right-aligned.
    fn columns(&self, names: &[String]) -> Vec<(String, usize, bool)> {
        let model_width = self.model_name().chars().count().max(24);
        let mut cols: Vec<(String, usize, bool)> = [
            ("model", model_width, false),
            ("size", 10, true),
            ("params", 10, true),
            ("backend", 8, false),
            ("ngl", 3, true),
            ("fa", 4, false),
            ("test", 15, true),
        ]
        .into_iter()
        .map(|(t, w, r)| (t.to_string(), w, r))
        .collect();
        cols.extend(names.iter().map(|n| (format!("{n} t/s"), 20, true)));
        if let [a, b] = names {
            cols.push((format!("{a}/{b}"), 8, true));
        }
        cols
    }

    /// The table's heading and rule, for engines `names`.
    pub fn header(&self, names: &[String]) -> String {
        let cols = self.columns(names);
        let titles: Vec<String> = cols.iter().map(|c| c.0.clone()).collect();
        let rule: Vec<String> = cols
            .iter()
            .map(|&(ref t, w, right)| {
                let w = w.max(t.chars().count());
                if right {
                    "-".repeat(w - 1) + ":"
                } else {
                    "-".repeat(w)
                }
            })
            .collect();
        format!(
            "{}\n{}\n",
            table_line(&cols, &titles),
            table_line(&cols, &rule)
        )
    }

    /// One row of the table.
    pub fn row_line(&self, row: &Row) -> String {
        let names: Vec<String> = row.results.iter().map(|r| r.engine.clone()).collect();
        let mut cells = self.setup_cells();
        cells.push(row.test.clone());
        cells.extend(
            row.results
                .iter()
                .map(|r| format!("{:.2} ± {:.2}", r.median_ts, r.stddev_ts)),
        );
        if let Some(ratio) = row.ratio {
            cells.push(format!("{ratio:.3}"));
        }
        table_line(&self.columns(&names), &cells)
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<String> = self
            .rows
            .first()
            .map(|r| r.results.iter().map(|e| e.engine.clone()).collect())
            .unwrap_or_default();
        f.write_str(&self.header(&names))?;
        for row in &self.rows {
            writeln!(f, "{}", self.row_line(row))?;
        }
        Ok(())
    }
}

/// `| a | b |`, each cell padded to its column's width and alignment.
fn table_line(cols: &[(String, usize, bool)], cells: &[String]) -> String {
    let padded: Vec<String> = cells
        .iter()
        .zip(cols)
        .map(|(c, &(ref title, w, right))| {
            let w = w.max(title.chars().count());
            if right {
                format!("{c:>w$}")
            } else {
                format!("{c:<w$}")
            }
        })
        .collect();
    format!("| {} |", padded.join(" | "))
}

/// `11.27 GiB`, or MiB under one GiB (as llama-bench, which only has GiB).
fn human_bytes(b: u64) -> String {
    const GIB: f64 = (1u64 << 30) as f64;
    const MIB: f64 = (1u64 << 20) as f64;
    let b = b as f64;
    if b >= GIB {
        format!("{:.2} GiB", b / GIB)
    } else {
        format!("{:.2} MiB", b / MIB)
    }
}

/// `20.91 B`, or millions under one billion.
fn human_params(n: u64) -> String {
    let n = n as f64;
    if n >= 1e9 {
        format!("{:.2} B", n / 1e9)
    } else {
        format!("{:.2} M", n / 1e6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics() {
        let r = EngineResult::new("x", vec![10.0, 30.0, 20.0, 40.0]);
        assert_eq!(r.median_ts, 25.0);
        assert_eq!(r.mean_ts, 25.0);
        assert!((r.stddev_ts - 12.909_944).abs() < 1e-5, "{}", r.stddev_ts);
        let one = EngineResult::new("x", vec![5.0]);
        assert_eq!((one.median_ts, one.stddev_ts), (5.0, 0.0));
    }

    #[test]
    fn ratio_is_first_over_second() {
        let names = ["kchat".to_string(), "libllama".to_string()];
        let row = Row::new(
            &Workload::generate(4, 0),
            &names,
            vec![vec![90.0, 110.0, 100.0], vec![200.0]],
        );
        assert_eq!(row.ratio, Some(0.5));
        assert_eq!(row.test, "tg4");
        let alone = Row::new(&Workload::prompt(4, 0), &names[..1], vec![vec![1.0]]);
        assert_eq!(alone.ratio, None);
    }

    #[test]
    fn table_columns_line_up() {
        let names = ["kchat".to_string(), "libllama".to_string()];
        let mut report = Report {
            model: "/m/tiny.gguf".into(),
            model_bytes: Some(28_458_000),
            model_params: None,
            backend: "CPU".into(),
            n_gpu_layers: None,
            n_cpu_moe: 0,
            n_threads: 2,
            n_ctx: 8192,
            n_batch: 2048,
            n_ubatch: 512,
            flash_attn: "auto".into(),
            repetitions: 2,
            seed: 42,
            rows: Vec::new(),
        };
        for (w, s) in [
            (Workload::prompt(512, 0), vec![vec![1234.5], vec![2469.0]]),
            (
                Workload::generate(128, 4096),
                vec![vec![12.0, 14.0], vec![10.0]],
            ),
        ] {
            report.rows.push(Row::new(&w, &names, s));
        }
        let text = report.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        let width = lines[0].chars().count();
        assert!(lines.iter().all(|l| l.chars().count() == width), "{text}");
        assert!(lines[0].contains("kchat/libllama"), "{text}");
        assert!(
            lines[2].contains("1234.50 ± 0.00") && lines[2].contains("0.500"),
            "{text}"
        );
        assert!(
            lines[3].contains("tg128 @ d4096") && lines[3].contains("1.300"),
            "{text}"
        );
        assert!(
            lines[2].contains("27.14 MiB") && lines[2].contains(" ? "),
            "{text}"
        );
    }

    #[test]
    fn sizes_read_like_llama_bench() {
        assert_eq!(human_bytes(12_100_000_000), "11.27 GiB");
        assert_eq!(human_bytes(3 << 20), "3.00 MiB");
        assert_eq!(human_params(20_914_757_184), "20.91 B");
        assert_eq!(human_params(36_000_000), "36.00 M");
    }
}
