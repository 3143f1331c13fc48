//! The model's weights as ggml tensors: every tensor looked up by name and
//! checked against the hyper-parameters, then placed. CPU tensors point into
//! the memory map (a host buffer over each shard, no copy); GPU tensors are
//! uploaded from the map in chunks, with progress.

use crate::ggml::{Backend, Buffer, Context, Device, GgmlType, TensorId};
use crate::gguf::{GgufModel, TensorRef};

use super::placement::{Placement, Where};
use super::{Hparams, ModelError};

/// The tensors of one transformer block.
#[derive(Debug, Clone, Copy)]
pub struct LayerWeights {
    /// RMS norm before attention.
    pub attn_norm: TensorId,
    /// Query projection and bias.
    pub wq: TensorId,
    /// Query bias.
    pub bq: TensorId,
    /// Key projection.
    pub wk: TensorId,
    /// Key bias.
    pub bk: TensorId,
    /// Value projection.
    pub wv: TensorId,
    /// Value bias.
    pub bv: TensorId,
    /// Attention output projection.
    pub wo: TensorId,
    /// Attention output bias.
    pub bo: TensorId,
    /// One sink logit per head.
    pub sinks: TensorId,
    /// RMS norm before the experts.
    pub post_norm: TensorId,
    /// Router weights.
    pub router: TensorId,
    /// Router bias.
    pub router_b: TensorId,
    /// Expert gate projections [n_embd, n_ff, n_expert].
    pub gate_exps: TensorId,
    /// Expert gate biases [n_ff, n_expert].
    pub gate_b: TensorId,
    /// Expert up projections.
    pub up_exps: TensorId,
    /// Expert up biases.
    pub up_b: TensorId,
    /// Expert down projections [n_ff, n_embd, n_expert].
    pub down_exps: TensorId,
    /// Expert down biases [n_embd, n_expert].
    pub down_b: TensorId,
}

/// All weights, placed.
pub struct Weights<'f> {
    ctx: Context,
    /// Token embedding (always on the CPU).
    pub tok_embd: TensorId,
    /// Final RMS norm.
    pub output_norm: TensorId,
    /// Output head.
    pub output: TensorId,
    /// The blocks.
    pub layers: Vec<LayerWeights>,
    /// Where the load's time went.
    pub times: LoadTimes,
    _host: Vec<Buffer<'f>>,
    _gpu: Option<Buffer<'static>>,
}

/// Where the time of [`Weights::load`] went.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LoadTimes {
    /// Allocating (and page-locking) the pinned host buffer.
    pub pin_alloc: std::time::Duration,
    /// Copying host-resident weights into it.
    pub pin_copy: std::time::Duration,
    /// Uploading the GPU's weights.
    pub gpu_upload: std::time::Duration,
    /// Bytes copied into pinned memory.
    pub pinned_bytes: u64,
}

/// Bytes uploaded per chunk to the GPU (progress granularity).
const UPLOAD_CHUNK: usize = 64 << 20;

/// Collects the tensor headers while checking each against its expected shape.
struct Collector<'f, 'c> {
    model: &'f GgufModel,
    ctx: &'c Context,
    placement: &'c Placement,
    found: Vec<(TensorId, TensorRef<'f>, Where)>,
}

impl<'f> Collector<'f, '_> {
    /// The tensor `name` with shape `dims`; `float` tensors (norms, biases,
    /// sinks) must be F32, matrices may be any type ggml computes with.
    fn get(&mut self, name: &str, dims: &[u32], float: bool) -> Result<TensorId, ModelError> {
        let err = |what: String| ModelError::Tensor {
            path: self.model.path().to_owned(),
            name: name.to_owned(),
            what,
        };
        let t = self
            .model
            .tensor(name)
            .ok_or_else(|| err("missing from the file".into()))?;
        let want: Vec<u64> = dims.iter().map(|&d| u64::from(d)).collect();
        if t.info.dims != want {
            return Err(err(format!(
                "shape {:?} does not match the metadata, which implies {:?}",
                t.info.dims, want
            )));
        }
        if float && t.info.ty != GgmlType::F32 {
            return Err(err(format!("type {} (expected F32)", t.info.ty.name())));
        }
        let ne: Vec<i64> = want.iter().map(|&d| d as i64).collect();
        let tensor = self.ctx.new_tensor(t.info.ty, &ne).set_name(name);
        let id = self
            .ctx
            .id_of(tensor)
            .ok_or_else(|| err("ggml context full".into()))?;
        self.found.push((id, t, self.placement.of_tensor(name)));
        Ok(id)
    }
}

impl<'f> Weights<'f> {
    /// Looks up and checks every tensor, then places them: CPU tensors in the
    /// mmap, or copied into `pin`'s pinned host memory (as llama.cpp does
    /// unless `--no-host`: large batches offloaded to the GPU then read them
    /// at full bus speed); GPU tensors uploaded to `gpu`. Pinning falls
    /// back to the mmap when it would take over half the free memory or the
    /// allocation fails. `progress(done, total)` follows the copies in bytes.
    pub fn load(
        model: &'f GgufModel,
        hp: &Hparams,
        placement: &Placement,
        cpu: Device,
        gpu: Option<&Backend>,
        pin: Option<Device>,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<Weights<'f>, ModelError> {
        let n_expected = 3 + 19 * hp.n_layer as usize;
        let ctx = Context::new(n_expected + 1, 0)?;
        let mut c = Collector {
            model,
            ctx: &ctx,
            placement,
            found: Vec::with_capacity(n_expected),
        };
        let (e, v) = (hp.n_embd, hp.n_vocab);
        let (q, kv) = (hp.n_head * hp.head_dim, hp.n_embd_kv());
        let (ff, ne) = (hp.n_ff_exp, hp.n_expert);
        let tok_embd = c.get("token_embd.weight", &[e, v], false)?;
        let mut layers = Vec::with_capacity(hp.n_layer as usize);
        for il in 0..hp.n_layer {
            let mut g =
                |s: &str, dims: &[u32], float: bool| c.get(&format!("blk.{il}.{s}"), dims, float);
            layers.push(LayerWeights {
                attn_norm: g("attn_norm.weight", &[e], true)?,
                wq: g("attn_q.weight", &[e, q], false)?,
                bq: g("attn_q.bias", &[q], true)?,
                wk: g("attn_k.weight", &[e, kv], false)?,
                bk: g("attn_k.bias", &[kv], true)?,
                wv: g("attn_v.weight", &[e, kv], false)?,
                bv: g("attn_v.bias", &[kv], true)?,
                wo: g("attn_output.weight", &[q, e], false)?,
                bo: g("attn_output.bias", &[e], true)?,
                sinks: g("attn_sinks.weight", &[hp.n_head], true)?,
                post_norm: g("post_attention_norm.weight", &[e], true)?,
                router: g("ffn_gate_inp.weight", &[e, ne], false)?,
                router_b: g("ffn_gate_inp.bias", &[ne], true)?,
                gate_exps: g("ffn_gate_exps.weight", &[e, ff, ne], false)?,
                gate_b: g("ffn_gate_exps.bias", &[ff, ne], true)?,
                up_exps: g("ffn_up_exps.weight", &[e, ff, ne], false)?,
                up_b: g("ffn_up_exps.bias", &[ff, ne], true)?,
                down_exps: g("ffn_down_exps.weight", &[ff, e, ne], false)?,
                down_b: g("ffn_down_exps.bias", &[e, ne], true)?,
            });
        }
        let output_norm = c.get("output_norm.weight", &[e], true)?;
        let output = c.get("output.weight", &[e, v], false)?;
        if model.n_tensors() != c.found.len() {
            let extra = model
                .tensors()
                .map(|t| t.info.name.clone())
                .find(|n| !c.found.iter().any(|(_, t, _)| &t.info.name == n))
                .unwrap_or_default();
            return Err(ModelError::Tensor {
                path: model.path().to_owned(),
                name: extra,
                what: format!(
                    "not part of a {}-layer gpt-oss model ({} tensors expected, the file has {})",
                    hp.n_layer,
                    c.found.len(),
                    model.n_tensors()
                ),
            });
        }
        let found = c.found;
        let on_host = |w: &Where| *w == Where::Cpu || gpu.is_none();
        let mut done = 0u64;
        // The token embedding is only ever read by row on the CPU, never
        // offloaded: pinning it would cost memory for nothing.
        let pinnable =
            |t: &TensorRef<'_>, w: &Where| on_host(w) && t.info.name != "token_embd.weight";
        let mut times = LoadTimes::default();
        let t = std::time::Instant::now();
        let pinned = pin.and_then(|dev| {
            let offsets = pinned_layout(&found, &pinnable);
            let size = offsets.last().map_or(0, |&(_, end)| end);
            if size == 0 || size as u64 > crate::model::load::host_available() / 2 {
                return None;
            }
            let buf = Buffer::alloc_host(dev, size)?;
            Some((buf, offsets))
        });
        times.pin_alloc = t.elapsed();
        let is_pinned = pinned.is_some();
        let total: u64 = found
            .iter()
            .filter(|(_, t, w)| *w == Where::Gpu || (is_pinned && pinnable(t, w)))
            .map(|(_, t, _)| t.data.len() as u64)
            .sum();
        progress(0, total);
        let mut host = Vec::new();
        if let Some((mut buf, offsets)) = pinned {
            buf.mark_weights();
            let mine: Vec<_> = found.iter().filter(|(_, t, w)| pinnable(t, w)).collect();
            for ((id, _, _), &(start, _)) in mine.iter().zip(&offsets) {
                buf.place(ctx.get(*id), start)?;
            }
            let sources: Vec<&[u8]> = mine.iter().map(|(_, t, _)| t.data).collect();
            times.pinned_bytes = sources.iter().map(|s| s.len() as u64).sum();
            let t = std::time::Instant::now();
            match buf.host_bytes_mut() {
                Some(mem) => copy_parallel(mem, &offsets, &sources, &mut done, total, progress),
                None => {
                    for ((id, t, _), _) in mine.iter().zip(&offsets) {
                        copy_in(ctx.get(*id), t.data, &mut done, total, progress)?;
                    }
                }
            }
            times.pin_copy = t.elapsed();
            host.push(buf);
        }
        for (si, shard) in model.shards().iter().enumerate() {
            let mine: Vec<_> = found
                .iter()
                .filter(|(_, t, w)| t.shard == si && on_host(w) && !(is_pinned && pinnable(t, w)))
                .collect();
            if mine.is_empty() {
                continue;
            }
            let bytes = shard.bytes();
            let buf = Buffer::from_host_memory(cpu, bytes)?;
            buf.mark_weights();
            for (id, t, _) in mine {
                let offset = t.data.as_ptr() as usize - bytes.as_ptr() as usize;
                buf.place(ctx.get(*id), offset)?;
            }
            host.push(buf);
        }
        let t = std::time::Instant::now();
        let gpu_buf = match gpu {
            Some(backend) if found.iter().any(|(_, _, w)| *w == Where::Gpu) => {
                // Last: this takes every tensor of the context not yet placed,
                // so the host tensors (map and pinned) must be placed before.
                let buf = Buffer::alloc_ctx_tensors(&ctx, backend)?;
                buf.mark_weights();
                for (id, t, _) in found.iter().filter(|(_, _, w)| *w == Where::Gpu) {
                    copy_in(ctx.get(*id), t.data, &mut done, total, progress)?;
                }
                Some(buf)
            }
            _ => None,
        };
        times.gpu_upload = t.elapsed();
        Ok(Weights {
            times,
            ctx,
            tok_embd,
            output_norm,
            output,
            layers,
            _host: host,
            _gpu: gpu_buf,
        })
    }

    /// The context holding the weight tensors (for [`Context::get`]).
    pub fn ctx(&self) -> &Context {
        &self.ctx
    }
}

/// Byte ranges of the host tensors in one pinned buffer, in `found` order,
/// each start aligned for ggml.
fn pinned_layout(
    found: &[(TensorId, TensorRef<'_>, Where)],
    pinnable: &dyn Fn(&TensorRef<'_>, &Where) -> bool,
) -> Vec<(usize, usize)> {
    let mut at = 0usize;
    found
        .iter()
        .filter(|(_, t, w)| pinnable(t, w))
        .map(|(_, t, _)| {
            let start = at.next_multiple_of(PIN_ALIGN);
            at = start + t.data.len();
            (start, at)
        })
        .collect()
}

/// Alignment of tensors in a pinned weight buffer.
const PIN_ALIGN: usize = 256;

/// Copies `sources[i]` to `mem[offsets[i].0..]` on all cores, in groups of
/// [`PIECES_PER_REPORT`] chunks of [`UPLOAD_CHUNK`] bytes (progress after
/// each): one thread copies from the page cache through the map at about
/// 2 GB/s, well below what the memory bus takes.
fn copy_parallel(
    mem: &mut [u8],
    offsets: &[(usize, usize)],
    sources: &[&[u8]],
    done: &mut u64,
    total: u64,
    progress: &mut dyn FnMut(u64, u64),
) {
    use rayon::prelude::*;
    // Disjoint destinations, in layout order (offsets ascend).
    let mut pieces: Vec<(&mut [u8], &[u8])> = Vec::new();
    let mut rest = mem;
    let mut at = 0;
    for (&(start, end), src) in offsets.iter().zip(sources) {
        let (_, tail) = std::mem::take(&mut rest).split_at_mut(start - at);
        let (dst, tail) = tail.split_at_mut(end - start);
        rest = tail;
        at = end;
        // Large tensors are cut so that every core has work.
        pieces.extend(dst.chunks_mut(UPLOAD_CHUNK).zip(src.chunks(UPLOAD_CHUNK)));
    }
    for group in pieces.chunks_mut(PIECES_PER_REPORT) {
        group.par_iter_mut().for_each(|(d, s)| d.copy_from_slice(s));
        *done += group.iter().map(|(_, s)| s.len() as u64).sum::<u64>();
        progress(*done, total);
    }
}

/// Chunks copied between two progress reports by [`copy_parallel`] (512 MiB).
const PIECES_PER_REPORT: usize = 8;

/// Copies `data` into `tensor` in chunks, reporting progress.
fn copy_in(
    tensor: crate::ggml::Tensor<'_>,
    data: &[u8],
    done: &mut u64,
    total: u64,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<(), ModelError> {
    for (i, chunk) in data.chunks(UPLOAD_CHUNK).enumerate() {
        tensor.write_at(i * UPLOAD_CHUNK, chunk)?;
        *done += chunk.len() as u64;
        progress(*done, total);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallel_copy_fills_each_range_and_reports_all_bytes() {
        // Sources of odd sizes, some over a chunk, laid out with gaps.
        let sizes = [3usize, UPLOAD_CHUNK + 5, 0, 1000, 2 * UPLOAD_CHUNK + 1];
        let sources: Vec<Vec<u8>> = sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| (0..n).map(|j| (i * 31 + j * 7) as u8).collect())
            .collect();
        let mut at = 0usize;
        let offsets: Vec<(usize, usize)> = sizes
            .iter()
            .map(|&n| {
                let start = (at + 1).next_multiple_of(PIN_ALIGN);
                at = start + n;
                (start, at)
            })
            .collect();
        let mut mem = vec![0xAAu8; at + 17];
        let refs: Vec<&[u8]> = sources.iter().map(Vec::as_slice).collect();
        let total: u64 = sizes.iter().map(|&n| n as u64).sum();
        let (mut done, mut reports) = (0u64, Vec::new());
        copy_parallel(&mut mem, &offsets, &refs, &mut done, total, &mut |d, t| {
            reports.push((d, t))
        });
        assert_eq!(done, total);
        assert_eq!(reports.last(), Some(&(total, total)));
        assert!(reports.windows(2).all(|w| w[0].0 < w[1].0));
        let mut prev = 0;
        for ((start, end), src) in offsets.iter().zip(&sources) {
            assert!(mem[prev..*start].iter().all(|&b| b == 0xAA), "gap written");
            assert_eq!(&mem[*start..*end], src.as_slice());
            prev = *end;
        }
        assert!(mem[prev..].iter().all(|&b| b == 0xAA));
    }
}
