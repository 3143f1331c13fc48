//! `kchat inspect`: describe a GGUF model (architecture, hyper-parameters,
//! tokenizer, tensors, totals by type) for people or, with `--json`, for
//! scripts. Only the headers are read: tensor pages are never touched, so a
//! 22 GiB split model is described in well under a second.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use serde_json::{json, Value};

use crate::ggml::GgmlType;
use crate::gguf::{GgufModel, GgufValue};

/// Arguments of `kchat inspect`.
#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// The model file (for a split model, any shard; normally -00001-of-N).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Print JSON for scripts instead of text.
    #[arg(long)]
    pub json: bool,
    /// Leave out the per-tensor table (text output).
    #[arg(long)]
    pub no_tensors: bool,
}

/// Runs `kchat inspect`, printing to stdout.
pub fn run(args: &InspectArgs) -> Result<()> {
    let model = GgufModel::open(&args.file)?;
    let out = if args.json {
        serde_json::to_string_pretty(&to_json(&model)).context("cannot encode JSON")? + "\n"
    } else {
        to_text(&model, !args.no_tensors)
    };
    print!("{out}");
    Ok(())
}

/// Arrays longer than this are summarised rather than printed.
const SHOW_ARRAY: usize = 8;

fn value_text(v: &GgufValue) -> String {
    match v {
        GgufValue::String(s) if s.chars().count() > 80 => {
            let head: String = s.chars().take(60).collect();
            format!("{head:?}… ({} bytes)", s.len())
        }
        GgufValue::String(s) => format!("{s:?}"),
        GgufValue::Array(ty, items) if items.len() > SHOW_ARRAY => {
            let head: Vec<String> = items.iter().take(3).map(value_text).collect();
            format!("[{}, …] ({} × {ty})", head.join(", "), items.len())
        }
        GgufValue::Array(_, items) => format!(
            "[{}]",
            items.iter().map(value_text).collect::<Vec<_>>().join(", ")
        ),
        GgufValue::F32(x) => format!("{x}"),
        GgufValue::F64(x) => format!("{x}"),
        GgufValue::Bool(b) => format!("{b}"),
        other => other
            .as_u64()
            .map(|u| u.to_string())
            .unwrap_or_else(|| format!("{other:?}")),
    }
}

fn value_json(v: &GgufValue) -> Value {
    match v {
        GgufValue::String(s) => json!(s),
        GgufValue::Bool(b) => json!(b),
        GgufValue::F32(x) => json!(x),
        GgufValue::F64(x) => json!(x),
        GgufValue::Array(ty, items) if items.len() > SHOW_ARRAY => {
            json!({ "type": "array", "element_type": ty.name(), "len": items.len() })
        }
        GgufValue::Array(_, items) => Value::Array(items.iter().map(value_json).collect()),
        other => match (other.as_u64(), other.as_f64()) {
            (Some(u), _) => json!(u),
            (None, Some(f)) => json!(f),
            _ => Value::Null,
        },
    }
}

/// Per-type totals: (tensor count, elements, bytes).
fn totals(model: &GgufModel) -> BTreeMap<GgmlType, (usize, u64, u64)> {
    let mut by_type: BTreeMap<GgmlType, (usize, u64, u64)> = BTreeMap::new();
    for t in model.tensors() {
        let e = by_type.entry(t.info.ty).or_default();
        e.0 += 1;
        e.1 += t.info.n_elements();
        e.2 += t.info.n_bytes;
    }
    by_type
}

fn gib(bytes: u64) -> String {
    if bytes >= 1 << 30 {
        format!("{:.2} GiB", bytes as f64 / (1u64 << 30) as f64)
    } else {
        format!("{:.2} MiB", bytes as f64 / (1u64 << 20) as f64)
    }
}

fn shape(dims: &[u64]) -> String {
    dims.iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(" × ")
}

fn to_text(model: &GgufModel, tensors: bool) -> String {
    let meta = model.metadata();
    let first = &model.shards()[0];
    let mut s = String::new();
    let _ = writeln!(s, "file          {}", model.path().display());
    if model.shards().len() > 1 {
        for (i, sh) in model.shards().iter().enumerate() {
            let _ = writeln!(
                s,
                "  shard {:<5}  {}  {}",
                i + 1,
                sh.path().display(),
                gib(sh.size())
            );
        }
    }
    let _ = writeln!(
        s,
        "format        GGUF v{}, alignment {}, {} shard(s), {} on disk",
        first.gguf().version(),
        first.gguf().alignment(),
        model.shards().len(),
        gib(model.total_file_bytes())
    );
    let arch = meta
        .get("general.architecture")
        .and_then(GgufValue::as_str)
        .unwrap_or("unknown");
    let _ = writeln!(s, "architecture  {arch}");
    for key in [
        "general.name",
        "general.type",
        "general.file_type",
        "general.quantization_version",
    ] {
        if let Some(v) = meta.get(key) {
            let _ = writeln!(s, "  {:<34} {}", key, value_text(v));
        }
    }

    let prefix = format!("{arch}.");
    let _ = writeln!(s, "\nhyper-parameters");
    for (k, v) in meta.iter().filter(|(k, _)| k.starts_with(&prefix)) {
        let _ = writeln!(s, "  {:<44} {}", k, value_text(v));
    }

    let _ = writeln!(s, "\ntokenizer");
    let count = |key: &str| {
        meta.get(key)
            .and_then(GgufValue::as_array)
            .map_or(0, <[GgufValue]>::len)
    };
    let tokens = meta
        .get("tokenizer.ggml.tokens")
        .and_then(GgufValue::as_array);
    let token_text = |id: Option<u64>| -> String {
        match (id, tokens) {
            (Some(id), Some(t)) => {
                let text = usize::try_from(id)
                    .ok()
                    .and_then(|i| t.get(i))
                    .and_then(GgufValue::as_str)
                    .unwrap_or("?");
                format!("{id} {text}")
            }
            (Some(id), None) => id.to_string(),
            _ => "-".into(),
        }
    };
    let model_name = meta
        .get("tokenizer.ggml.model")
        .and_then(GgufValue::as_str)
        .unwrap_or("-");
    let pre = meta
        .get("tokenizer.ggml.pre")
        .and_then(GgufValue::as_str)
        .unwrap_or("-");
    let _ = writeln!(
        s,
        "  model {model_name}, pre {pre}, {} tokens, {} merges",
        count("tokenizer.ggml.tokens"),
        count("tokenizer.ggml.merges")
    );
    for (label, key) in [
        ("bos", "bos_token_id"),
        ("eos", "eos_token_id"),
        ("pad", "padding_token_id"),
    ] {
        let id = meta
            .get(&format!("tokenizer.ggml.{key}"))
            .and_then(GgufValue::as_u64);
        let _ = writeln!(s, "  {label:<5} {}", token_text(id));
    }
    if let Some(t) = meta
        .get("tokenizer.chat_template")
        .and_then(GgufValue::as_str)
    {
        let _ = writeln!(s, "  chat template: {} bytes", t.len());
    }

    let others: Vec<_> = meta
        .iter()
        .filter(|(k, _)| {
            !k.starts_with(&prefix)
                && !k.starts_with("tokenizer.")
                && !matches!(
                    *k,
                    "general.architecture"
                        | "general.name"
                        | "general.type"
                        | "general.file_type"
                        | "general.quantization_version"
                )
        })
        .collect();
    if !others.is_empty() {
        let _ = writeln!(s, "\nother metadata");
        for (k, v) in others {
            let _ = writeln!(s, "  {:<44} {}", k, value_text(v));
        }
    }

    if tensors {
        let _ = writeln!(s, "\ntensors");
        let _ = writeln!(
            s,
            "  {:<36} {:<6} {:<26} {:>12} {:>6}",
            "name", "type", "shape", "bytes", "shard"
        );
        for t in model.tensors() {
            let _ = writeln!(
                s,
                "  {:<36} {:<6} {:<26} {:>12} {:>6}",
                t.info.name,
                t.info.ty.name(),
                shape(&t.info.dims),
                t.info.n_bytes,
                t.shard + 1
            );
        }
    }

    let by_type = totals(model);
    let (n, elems, bytes) = by_type
        .values()
        .fold((0, 0, 0), |a, v| (a.0 + v.0, a.1 + v.1, a.2 + v.2));
    let _ = writeln!(s, "\ntotals by type");
    for (ty, (count, e, b)) in &by_type {
        let _ = writeln!(
            s,
            "  {:<6} {:>5} tensors {:>16} elements {:>12}  {:5.1}%",
            ty.name(),
            count,
            e,
            gib(*b),
            100.0 * *b as f64 / bytes.max(1) as f64
        );
    }
    let bpw = if elems > 0 {
        bytes as f64 * 8.0 / elems as f64
    } else {
        0.0
    };
    let _ = writeln!(
        s,
        "  all    {n:>5} tensors {elems:>16} elements {:>12}  {bpw:.2} bits per weight",
        gib(bytes)
    );
    s
}

fn to_json(model: &GgufModel) -> Value {
    let meta: serde_json::Map<String, Value> = model
        .metadata()
        .iter()
        .map(|(k, v)| (k.to_string(), value_json(v)))
        .collect();
    let tensors: Vec<Value> = model
        .tensors()
        .map(|t| {
            json!({
                "name": t.info.name,
                "type": t.info.ty.name(),
                "shape": t.info.dims,
                "bytes": t.info.n_bytes,
                "offset": t.info.offset,
                "shard": t.shard + 1,
            })
        })
        .collect();
    let by_type: Vec<Value> = totals(model)
        .iter()
        .map(
            |(ty, (n, e, b))| json!({ "type": ty.name(), "tensors": n, "elements": e, "bytes": b }),
        )
        .collect();
    let shards: Vec<Value> = model
        .shards()
        .iter()
        .map(|s| json!({ "path": s.path().display().to_string(), "bytes": s.size() }))
        .collect();
    json!({
        "file": model.path().display().to_string(),
        "version": model.shards()[0].gguf().version(),
        "alignment": model.shards()[0].gguf().alignment(),
        "shards": shards,
        "metadata": meta,
        "tensors": tensors,
        "totals_by_type": by_type,
        "tensor_bytes": model.total_tensor_bytes(),
    })
}
