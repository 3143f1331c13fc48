//! The KV cache of one sequence. Full-attention layers hold `n_ctx` cells,
//! cell `p` holding position `p`. Sliding-window layers hold a ring of the
//! window plus one micro-batch (cell `p mod R`), so a 131k context costs
//! full-size caches only for the odd layers. K and V are F16 by default.
//!
//! The cache tracks which positions it holds; masks and write cells for a
//! micro-batch are computed here on the host.

use crate::ggml::{Backend, Buffer, Context, GgmlType, TensorId};
use crate::model::graph::LayerKv;
use crate::model::placement::{effective_ctx, round_up, swa_cells, Where};
use crate::model::{Hparams, ModelError, Placement};

/// Cells attended over are padded to this many, so a decode graph stays the
/// same for this many steps.
pub const KV_PAD: u32 = 256;

/// f16 bit patterns of the mask values.
const F16_ZERO: u16 = 0x0000;
const F16_NEG_INF: u16 = 0xFC00;

/// A single-sequence KV cache.
pub struct KvCache {
    ctxs: Vec<Context>,
    layers: Vec<(usize, TensorId, TensorId)>,
    _bufs: Vec<Buffer<'static>>,
    n_swa: u32,
    /// Cells of the full layers (the context length).
    n_ctx: u32,
    /// Cells of the ring of the sliding layers.
    ring: u32,
    /// Position held by each ring cell (-1: none).
    ring_pos: Vec<i64>,
    /// Positions `0..n_past` are in the cache.
    n_past: u32,
}

impl KvCache {
    /// Allocates the cache of every layer on its layer's device (`gpu` for
    /// GPU layers, `cpu` otherwise), zeroed.
    pub fn new(
        hp: &Hparams,
        placement: &Placement,
        n_ctx: u32,
        n_ubatch: u32,
        swa_full: bool,
        cpu: &Backend,
        gpu: Option<&Backend>,
    ) -> Result<KvCache, ModelError> {
        let n_ctx = effective_ctx(hp, n_ctx);
        let ring = if swa_full {
            n_ctx
        } else {
            swa_cells(hp, n_ctx, n_ubatch)
        };
        let ty = GgmlType::F16; // the default KV type, as llama.cpp's
        let width = i64::from(hp.n_embd_kv());
        let mut ctxs = Vec::new();
        let mut bufs = Vec::new();
        let mut layers = vec![None; hp.n_layer as usize];
        for (where_, backend) in [(Where::Cpu, Some(cpu)), (Where::Gpu, gpu)] {
            let Some(backend) = backend else { continue };
            let mine: Vec<u32> = (0..hp.n_layer)
                .filter(|&il| placement.layer(il) == where_)
                .collect();
            if mine.is_empty() {
                continue;
            }
            let ctx = Context::new(2 * mine.len(), 0)?;
            for &il in &mine {
                let cells = i64::from(if hp.is_swa(il) { ring } else { n_ctx });
                let k = ctx
                    .new_tensor(ty, &[width, cells])
                    .set_name(&format!("cache_k_l{il}"));
                let v = ctx
                    .new_tensor(ty, &[width, cells])
                    .set_name(&format!("cache_v_l{il}"));
                let (Some(k), Some(v)) = (ctx.id_of(k), ctx.id_of(v)) else {
                    return Err(ModelError::Ggml(crate::ggml::GgmlError::ContextInit(0)));
                };
                layers[il as usize] = Some((ctxs.len(), k, v));
            }
            let buf = Buffer::alloc_ctx_tensors(&ctx, backend)?;
            buf.clear(0);
            bufs.push(buf);
            ctxs.push(ctx);
        }
        let layers = layers.into_iter().flatten().collect::<Vec<_>>();
        if layers.len() != hp.n_layer as usize {
            return Err(ModelError::DoesNotFit(
                "no backend for some layer's KV cache".into(),
            ));
        }
        Ok(KvCache {
            ctxs,
            layers,
            _bufs: bufs,
            n_swa: hp.n_swa,
            n_ctx,
            ring,
            ring_pos: vec![-1; ring as usize],
            n_past: 0,
        })
    }

    /// The caches of every layer, as graph inputs.
    pub fn layers(&self) -> Vec<LayerKv<'_>> {
        self.layers
            .iter()
            .map(|&(c, k, v)| LayerKv {
                k: self.ctxs[c].get(k),
                v: self.ctxs[c].get(v),
            })
            .collect()
    }

    /// Positions held: `0..n_past`.
    pub fn n_past(&self) -> u32 {
        self.n_past
    }

    /// The context length (cells of the full layers).
    pub fn n_ctx(&self) -> u32 {
        self.n_ctx
    }

    /// Cells of the sliding layers' ring.
    pub fn ring(&self) -> u32 {
        self.ring
    }

    /// Bytes of all K and V tensors.
    pub fn bytes(&self) -> u64 {
        self.layers()
            .iter()
            .map(|l| (l.k.nbytes() + l.v.nbytes()) as u64)
            .sum()
    }

    /// Keeps positions `0..n` and returns how many are really kept: `n`, or 0
    /// when the sliding layers' ring no longer holds the window before `n`
    /// (then everything must be recomputed).
    pub fn truncate(&mut self, n: u32) -> u32 {
        let n = n.min(self.n_past);
        let first_needed = n.saturating_sub(self.n_swa - 1);
        let ring_ok =
            (first_needed..n).all(|p| self.ring_pos[(p % self.ring) as usize] == i64::from(p));
        let keep = if ring_ok { n } else { 0 };
        self.n_past = keep;
        self.abandon();
        keep
    }

    /// Cells attended over by a micro-batch of `n_tokens` at the end:
    /// (full layers, sliding layers), padded to [`KV_PAD`].
    pub fn n_kv(&self, n_tokens: u32) -> (u32, u32) {
        let used = self.n_past + n_tokens;
        let full = round_up(used, KV_PAD).min(self.n_ctx);
        let swa = round_up(used, KV_PAD).min(self.ring);
        (full, swa)
    }

    /// Room left for tokens.
    pub fn free(&self) -> u32 {
        self.n_ctx - self.n_past
    }

    /// Everything a micro-batch of `n_tokens` (positions `n_past..`) needs:
    /// write cells and masks for `(n_kv_full, n_kv_swa)` cells. The ring's
    /// positions are updated as if the batch were written; call
    /// [`KvCache::commit`] once it is.
    pub fn prepare(&mut self, n_tokens: u32, n_kv: (u32, u32), f16_mask: bool) -> BatchCells {
        let p0 = i64::from(self.n_past);
        let n = i64::from(n_tokens);
        let cells_full: Vec<i64> = (p0..p0 + n).collect();
        let cells_swa: Vec<i64> = (p0..p0 + n).map(|p| p % i64::from(self.ring)).collect();
        for (&p, &c) in cells_full.iter().zip(&cells_swa) {
            self.ring_pos[c as usize] = p;
        }
        let (full, swa) = (n_kv.0 as usize, n_kv.1 as usize);
        let w = i64::from(self.n_swa);
        let ring_pos = &self.ring_pos[..swa.min(self.ring_pos.len())];
        // Full layers: cell c holds position c, visible up to q. Sliding
        // layers: a cell is visible when its position is within the window.
        let causal = |q: i64, row: &mut [bool]| {
            let seen = usize::try_from(q + 1).unwrap_or(0).min(row.len());
            row[..seen].fill(true);
            row[seen..].fill(false);
        };
        let window = |q: i64, row: &mut [bool]| {
            let lo = (q - w + 1).max(0);
            row.fill(false);
            for (v, &pk) in row.iter_mut().zip(ring_pos) {
                *v = pk >= lo && pk <= q;
            }
        };
        BatchCells {
            cells_full,
            cells_swa,
            mask_full: Mask::build(full, p0..p0 + n, f16_mask, causal),
            mask_swa: Mask::build(swa, p0..p0 + n, f16_mask, window),
        }
    }

    /// Records that `n_tokens` more positions were written.
    pub fn commit(&mut self, n_tokens: u32) {
        self.n_past += n_tokens;
    }

    /// Undoes [`KvCache::prepare`] for a batch that was not computed: ring
    /// cells holding positions from `n_past` on are forgotten.
    pub fn abandon(&mut self) {
        let n = self.n_past;
        for c in self.ring_pos.iter_mut() {
            if *c >= i64::from(n) {
                *c = -1;
            }
        }
    }
}

/// Per-micro-batch cache inputs for the graph's input tensors.
pub struct BatchCells {
    /// Cells written by the full layers.
    pub cells_full: Vec<i64>,
    /// Cells written by the sliding layers.
    pub cells_swa: Vec<i64>,
    /// Full layers' mask.
    pub mask_full: Mask,
    /// Sliding layers' mask.
    pub mask_swa: Mask,
}

/// An attention mask `[cells, tokens]`, 0 where a token sees a cell and -inf
/// elsewhere, in the type of the graph's mask tensor (flash attention takes
/// F16).
#[derive(Debug, Clone, PartialEq)]
pub enum Mask {
    /// F16 bit patterns.
    F16(Vec<u16>),
    /// F32 values.
    F32(Vec<f32>),
}

impl Mask {
    /// The mask of `cells` columns for the query positions `queries`, each
    /// row's visibility computed by `visible(q, row)` and converted with
    /// slice fills (a 2048-token prompt's masks are millions of values).
    fn build(
        cells: usize,
        queries: std::ops::Range<i64>,
        f16: bool,
        visible: impl FnMut(i64, &mut [bool]),
    ) -> Mask {
        if f16 {
            Mask::F16(rows(cells, queries, F16_ZERO, F16_NEG_INF, visible))
        } else {
            Mask::F32(rows(cells, queries, 0.0, f32::NEG_INFINITY, visible))
        }
    }

    /// Writes the mask into the graph's mask tensor.
    pub fn write_to(&self, t: crate::ggml::Tensor<'_>) -> Result<(), crate::ggml::GgmlError> {
        match self {
            Mask::F16(m) => t.write_f16_bits(m),
            Mask::F32(m) => t.write_f32(m),
        }
    }
}

/// `cells` values per query position: `zero` where `visible` marks the
/// cell, `hidden` elsewhere.
fn rows<T: Copy>(
    cells: usize,
    queries: std::ops::Range<i64>,
    zero: T,
    hidden: T,
    mut visible: impl FnMut(i64, &mut [bool]),
) -> Vec<T> {
    let mut vis = vec![false; cells];
    let mut out =
        Vec::with_capacity(cells * usize::try_from(queries.end - queries.start).unwrap_or(0));
    for q in queries {
        visible(q, &mut vis);
        out.extend(vis.iter().map(|&v| if v { zero } else { hidden }));
    }
    out
}

#[cfg(test)]
mod mask_tests {
    use super::*;

    /// The masks, value by value, from the definition.
    fn reference(cells: usize, q: i64, ring_pos: Option<&[i64]>, w: i64) -> Vec<f32> {
        (0..cells)
            .map(|c| {
                let seen = match ring_pos {
                    None => c as i64 <= q,
                    Some(rp) => {
                        let pk = rp.get(c).copied().unwrap_or(-1);
                        pk >= 0 && pk <= q && q - pk < w
                    }
                };
                if seen {
                    0.0
                } else {
                    f32::NEG_INFINITY
                }
            })
            .collect()
    }

    #[test]
    fn masks_match_their_definition() {
        let hp = crate::mkmodel::Preset::Tiny.hparams();
        let opts = crate::engine::EngineOptions {
            n_ctx: 1024,
            n_ubatch: 64,
            ..Default::default()
        };
        let placement = Placement::new(hp.n_layer, &opts, false).0;
        let cpu = crate::ggml::Device::cpu()
            .expect("cpu device")
            .init()
            .expect("cpu backend");
        let mut kv = KvCache::new(&hp, &placement, 1024, 64, false, &cpu, None).expect("cache");
        // Fill past the window and around the ring so cells wrap.
        let mut p = 0i64;
        for n in [5u32, 64, 64, 64, 64, 1, 1, 37] {
            let (full, swa) = kv.n_kv(n);
            for f16 in [false, true] {
                let before = kv.ring_pos.clone();
                let b = kv.prepare(n, (full, swa), f16);
                let ring = kv.ring_pos.clone();
                for (r, q) in (p..p + i64::from(n)).enumerate() {
                    let want_full = reference(full as usize, q, None, 0);
                    let want_swa = reference(swa as usize, q, Some(&ring), i64::from(hp.n_swa));
                    for (m, want, cells) in [
                        (&b.mask_full, want_full, full as usize),
                        (&b.mask_swa, want_swa, swa as usize),
                    ] {
                        let got: Vec<f32> = match m {
                            Mask::F32(v) => v[r * cells..(r + 1) * cells].to_vec(),
                            Mask::F16(v) => v[r * cells..(r + 1) * cells]
                                .iter()
                                .map(|&b| {
                                    if b == F16_ZERO {
                                        0.0
                                    } else {
                                        f32::NEG_INFINITY
                                    }
                                })
                                .collect(),
                        };
                        assert_eq!(got, want, "n {n} query {q}");
                    }
                }
                kv.ring_pos = before;
            }
            kv.prepare(n, (full, swa), false);
            kv.commit(n);
            p += i64::from(n);
        }
    }
}
