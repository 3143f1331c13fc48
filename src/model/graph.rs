//! The gpt-oss forward graph of one micro-batch, op by op as in the model
//! card: RMS norm, QKV with biases, NeoX RoPE with YaRN, attention with sinks
//! (sliding window on even layers), output projection, router with bias,
//! top-k then softmax, experts with `mul_mat_id` + `add_id` and the clamped
//! SwiGLU, weighted sum, residuals, output norm and head.
//!
//! The caller owns the KV cache: the graph writes this micro-batch's keys and
//! values into it (`set_rows` at given cells) and attends over the first
//! `n_kv` cells of each layer's cache, masked by an input tensor.

use crate::ggml::{Context, GgmlType, OwnedGraph, Tensor, TensorId};

use super::{Hparams, ModelError, Weights};

/// The SwiGLU of gpt-oss: `alpha` and `limit`.
const SWIGLU_ALPHA: f32 = 1.702;
const SWIGLU_LIMIT: f32 = 7.0;

/// The shape of one micro-batch's graph. Two micro-batches with equal specs
/// have identical graphs, so a built graph can be computed again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GraphSpec {
    /// Tokens in the micro-batch.
    pub n_tokens: u32,
    /// Rows of logits computed (the last `n_outputs`… any rows picked by
    /// `out_ids`); equal to `n_tokens` means all, without a gather.
    pub n_outputs: u32,
    /// Cells of the full-attention layers' caches attended over.
    pub n_kv_full: u32,
    /// Cells of the sliding-window layers' caches attended over.
    pub n_kv_swa: u32,
    /// Fused flash attention, else softmax.
    pub flash_attn: bool,
}

impl GraphSpec {
    /// Cells attended over in layer `il`.
    pub fn n_kv(&self, hp: &Hparams, il: u32) -> u32 {
        if hp.is_swa(il) {
            self.n_kv_swa
        } else {
            self.n_kv_full
        }
    }
}

/// One layer's cache: keys and values, `[n_embd_kv, cells]` each (F16).
#[derive(Clone, Copy)]
pub struct LayerKv<'a> {
    /// Keys.
    pub k: Tensor<'a>,
    /// Values.
    pub v: Tensor<'a>,
}

/// The graph's input and output tensors, to fill and read per micro-batch.
#[derive(Debug, Clone)]
pub struct GraphInputs {
    /// Token ids, I32 `[n_tokens]`.
    pub tokens: TensorId,
    /// Positions, I32 `[n_tokens]`.
    pub pos: TensorId,
    /// Rows to compute logits for, I32 `[n_outputs]` (absent when all).
    pub out_ids: Option<TensorId>,
    /// Mask of the full layers, `[n_kv_full, n_tokens]`: 0 or -inf.
    pub mask_full: TensorId,
    /// Mask of the sliding layers, `[n_kv_swa, n_tokens]`.
    pub mask_swa: TensorId,
    /// Cells the full layers write, I64 `[n_tokens]`.
    pub cells_full: TensorId,
    /// Cells the sliding layers write, I64 `[n_tokens]`.
    pub cells_swa: TensorId,
    /// Logits, F32 `[n_vocab, n_outputs]`.
    pub logits: TensorId,
    /// The flash-attention node of each layer (to check device support).
    pub attn_nodes: Vec<TensorId>,
    /// Each layer's two RMS norms, as (layer, node): the scheduler may put
    /// these weightless ops on either side of a device boundary, and where
    /// it does changes the numbers, so the session pins them like
    /// llama.cpp does.
    pub norms: Vec<(u32, TensorId)>,
}

/// Type of the attention masks: flash attention takes F16.
pub fn mask_type(flash_attn: bool) -> GgmlType {
    if flash_attn {
        GgmlType::F16
    } else {
        GgmlType::F32
    }
}

/// Nodes and tensors a graph of `n_layer` layers needs room for.
pub fn graph_size(n_layer: u32) -> usize {
    128 * n_layer as usize + 256
}

/// Builds the graph of one micro-batch into `g`.
pub fn build_graph(
    g: &OwnedGraph,
    w: &Weights<'_>,
    kv: &[LayerKv<'_>],
    hp: &Hparams,
    spec: &GraphSpec,
) -> Result<GraphInputs, ModelError> {
    let ctx = g.ctx();
    let wc = w.ctx();
    let mut graph = g.graph();
    let n_tok = i64::from(spec.n_tokens);
    let hd = i64::from(hp.head_dim);
    let (n_head, n_head_kv) = (i64::from(hp.n_head), i64::from(hp.n_head_kv));
    let n_embd = i64::from(hp.n_embd);
    let eps = hp.rms_eps;
    let rope = hp.rope();
    let scale = 1.0 / (hp.head_dim as f32).sqrt();
    let id = |t: Tensor<'_>| {
        ctx.id_of(t)
            .ok_or(ModelError::Ggml(crate::ggml::GgmlError::ContextInit(0)))
    };

    let input =
        |ty: GgmlType, ne: &[i64], name: &str| ctx.new_tensor(ty, ne).set_name(name).set_input();
    let tokens = input(GgmlType::I32, &[n_tok], "inp_tokens");
    let pos = input(GgmlType::I32, &[n_tok], "inp_pos");
    let mty = mask_type(spec.flash_attn);
    let mask_full = input(mty, &[i64::from(spec.n_kv_full), n_tok], "kq_mask");
    let mask_swa = input(mty, &[i64::from(spec.n_kv_swa), n_tok], "kq_mask_swa");
    let cells_full = input(GgmlType::I64, &[n_tok], "kv_cells");
    let cells_swa = input(GgmlType::I64, &[n_tok], "kv_cells_swa");
    let out_ids = (spec.n_outputs < spec.n_tokens)
        .then(|| input(GgmlType::I32, &[i64::from(spec.n_outputs)], "inp_out_ids"));

    let mut x = ctx.get_rows(wc.get(w.tok_embd), tokens);
    let mut attn_nodes = Vec::with_capacity(hp.n_layer as usize);
    let mut norms = Vec::with_capacity(2 * hp.n_layer as usize);
    for (il, lw) in (0..hp.n_layer).zip(&w.layers) {
        let l = |t: TensorId| wc.get(t);
        let swa = hp.is_swa(il);
        let (mask, cells) = if swa {
            (mask_swa, cells_swa)
        } else {
            (mask_full, cells_full)
        };
        let n_kv = i64::from(spec.n_kv(hp, il));
        let cache = kv[il as usize];
        let mut residual = x;

        // Attention.
        let norm = ctx.rms_norm(x, eps);
        norms.push((il, id(norm)?));
        let cur = ctx.mul(norm, l(lw.attn_norm));
        let proj = |wt: TensorId, b: TensorId, heads: i64| {
            let t = ctx.add(ctx.mul_mat(l(wt), cur), l(b));
            ctx.reshape(t, &[hd, heads, n_tok])
        };
        let q = ctx.rope_ext(proj(lw.wq, lw.bq, n_head), pos, &rope);
        let k = ctx.rope_ext(proj(lw.wk, lw.bk, n_head_kv), pos, &rope);
        let v = proj(lw.wv, lw.bv, n_head_kv);
        // Q, K and V first, then the cache writes, then attention, in
        // llama.cpp's order. On Hopper, ggml-cuda launches kernels with
        // programmatic dependent launch; in a replayed CUDA graph, with Q's
        // projection and RoPE between the cache writes and a single-token
        // flash attention, attention went wrong (NMSE 0.8 against libllama).
        // GGML_CUDA_PDL=0 fixed it too, so it is a launch-ordering race
        // inside ggml-cuda; this order keeps kchat out of it (BENCHMARKS.md).
        for t in [q, k, v] {
            graph.build_forward(t);
        }
        let kv_w = hd * n_head_kv;
        graph.build_forward(ctx.set_rows(cache.k, ctx.reshape(k, &[kv_w, n_tok]), cells));
        graph.build_forward(ctx.set_rows(cache.v, ctx.reshape(v, &[kv_w, n_tok]), cells));
        let cache_view = |t| {
            let t: Tensor<'_> = t;
            let el = t.nb()[0];
            ctx.view(t, &[hd, n_head_kv, n_kv], &[el * hd as usize, t.nb()[1]], 0)
        };
        let q = ctx.permute(q, [0, 2, 1, 3]);
        let kc = ctx.permute(cache_view(cache.k), [0, 2, 1, 3]);
        let vc = ctx.permute(cache_view(cache.v), [0, 2, 1, 3]);
        let sinks = l(lw.sinks);
        let attn = if spec.flash_attn {
            let o = ctx.flash_attn_sinks(q, kc, vc, mask, sinks, scale);
            attn_nodes.push(id(o)?);
            ctx.reshape(o, &[hd * n_head, n_tok])
        } else {
            let kq = ctx.mul_mat_f32(kc, q);
            let kq = ctx.soft_max_sinks(kq, mask, sinks, scale);
            attn_nodes.push(id(kq)?);
            let vt = ctx.cont(ctx.transpose(vc));
            let kqv = ctx.mul_mat(vt, kq);
            ctx.reshape(
                ctx.cont(ctx.permute(kqv, [0, 2, 1, 3])),
                &[hd * n_head, n_tok],
            )
        };
        let mut cur = ctx.add(ctx.mul_mat(l(lw.wo), attn), l(lw.bo));
        let mut rows = n_tok;
        if il + 1 == hp.n_layer {
            if let Some(ids) = out_ids {
                // Only the requested rows go on from here.
                cur = ctx.get_rows(cur, ids);
                residual = ctx.get_rows(residual, ids);
                rows = i64::from(spec.n_outputs);
            }
        }
        let ffn_inp = ctx.add(cur, residual);

        // Mixture of experts.
        let norm = ctx.rms_norm(ffn_inp, eps);
        norms.push((il, id(norm)?));
        let cur = ctx.mul(norm, l(lw.post_norm));
        let moe = experts(ctx, &mut graph, w, lw, hp, cur, rows, n_embd);
        x = ctx.add(moe, ffn_inp);
    }
    if hp.n_layer == 0 {
        if let Some(ids) = out_ids {
            x = ctx.get_rows(x, ids);
        }
    }
    let x = ctx.mul(ctx.rms_norm(x, eps), wc.get(w.output_norm));
    let logits = ctx
        .mul_mat(wc.get(w.output), x)
        .set_name("result_output")
        .set_output();
    graph.build_forward(logits);
    Ok(GraphInputs {
        tokens: id(tokens)?,
        pos: id(pos)?,
        out_ids: out_ids.map(id).transpose()?,
        mask_full: id(mask_full)?,
        mask_swa: id(mask_swa)?,
        cells_full: id(cells_full)?,
        cells_swa: id(cells_swa)?,
        logits: id(logits)?,
        attn_nodes,
        norms,
    })
}

/// The expert block: route, run the top experts, and sum their outputs
/// weighted by the softmax of the selected router logits.
#[allow(clippy::too_many_arguments)]
fn experts<'c>(
    ctx: &'c Context,
    graph: &mut crate::ggml::Graph<'c>,
    w: &'c Weights<'_>,
    lw: &super::LayerWeights,
    hp: &Hparams,
    cur: Tensor<'c>,
    rows: i64,
    n_embd: i64,
) -> Tensor<'c> {
    let l = |t: TensorId| w.ctx().get(t);
    let (n_expert, n_used) = (i64::from(hp.n_expert), i64::from(hp.n_expert_used));
    let logits = ctx.add(ctx.mul_mat(l(lw.router), cur), l(lw.router_b));
    let selected = ctx.argsort_top_k(logits, hp.n_expert_used as i32);
    let weights = ctx.get_rows(ctx.reshape(logits, &[1, n_expert, rows]), selected);
    let weights = ctx.soft_max(ctx.reshape(weights, &[n_used, rows]));
    let weights = ctx.reshape(weights, &[1, n_used, rows]);
    graph.build_forward(weights);

    let x = ctx.reshape(cur, &[n_embd, 1, rows]);
    let up = ctx.add_id(
        ctx.mul_mat_id(l(lw.up_exps), x, selected),
        l(lw.up_b),
        selected,
    );
    let gate = ctx.add_id(
        ctx.mul_mat_id(l(lw.gate_exps), x, selected),
        l(lw.gate_b),
        selected,
    );
    let act = ctx.swiglu_oai(gate, up, SWIGLU_ALPHA, SWIGLU_LIMIT);
    let down = ctx.add_id(
        ctx.mul_mat_id(l(lw.down_exps), act, selected),
        l(lw.down_b),
        selected,
    );
    let down = ctx.mul(down, weights);
    graph.build_forward(down);
    let nb = down.nb();
    let views: Vec<Tensor<'c>> = (0..n_used as usize)
        .map(|i| ctx.view(down, &[n_embd, rows], &[nb[2]], i * nb[1]))
        .collect();
    for v in &views {
        graph.build_forward(*v);
    }
    views[1..].iter().fold(views[0], |acc, v| ctx.add(acc, *v))
}
