//! A session: one sequence being evaluated on a loaded model. It owns the KV
//! cache and the backend scheduler, splits work into micro-batches, keeps the
//! decode graph between steps (no rebuild or re-plan while its shape holds),
//! reuses cached prefixes, and can be cancelled between micro-batches.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::ggml::{Buffer, GgmlError, OwnedGraph, Scheduler};
use crate::model::graph::{build_graph, graph_size, GraphInputs, GraphSpec};
use crate::model::placement::{gib, Where};
use crate::model::{Model, ModelError};

use super::kv_cache::KvCache;
use super::FlashAttn;

/// What can go wrong while evaluating tokens.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// Loading or placing failed.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// ggml failed.
    #[error(transparent)]
    Ggml(#[from] GgmlError),
    /// The tokens do not fit in the context.
    #[error("the context is full: {need} more tokens do not fit ({used} of {n_ctx} used); use a larger -c")]
    ContextFull {
        /// Tokens asked for.
        need: usize,
        /// Tokens already in the cache.
        used: u32,
        /// The context length.
        n_ctx: u32,
    },
    /// A token id outside the vocabulary.
    #[error("token id {id} is outside the vocabulary of {n_vocab}")]
    BadToken {
        /// The id.
        id: u32,
        /// Vocabulary size.
        n_vocab: u32,
    },
    /// Cancelled between micro-batches; the cache holds the tokens before.
    #[error("cancelled after {processed} tokens")]
    Cancelled {
        /// Tokens of the request that were evaluated (and are cached).
        processed: usize,
    },
    /// `-fa on` where a device cannot run flash attention.
    #[error("flash attention is not supported on {0}; use -fa auto or -fa off")]
    FlashAttn(String),
    /// Nothing to evaluate.
    #[error("no tokens to evaluate")]
    Empty,
}

/// Which rows of logits an evaluation returns.
#[derive(Debug, Clone, Copy)]
pub enum Outputs<'a> {
    /// The last token's.
    Last,
    /// Every token's.
    All,
    /// These token indices (into the evaluated slice), ascending.
    Positions(&'a [usize]),
}

/// Rows of logits, `n_vocab` each.
#[derive(Debug, Clone, Default)]
pub struct Logits {
    /// Vocabulary size.
    pub n_vocab: usize,
    /// The rows, concatenated.
    pub data: Vec<f32>,
}

impl Logits {
    /// Row `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.n_vocab..(i + 1) * self.n_vocab]
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.data.len().checked_div(self.n_vocab).unwrap_or(0)
    }
}

/// Time spent, by kind of work.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stats {
    /// Tokens evaluated in batches of more than one.
    pub prefill_tokens: u64,
    /// Time of those.
    pub prefill_time: Duration,
    /// Tokens evaluated one at a time.
    pub decode_tokens: u64,
    /// Time of those.
    pub decode_time: Duration,
    /// Graphs built (a steady decode reuses its graph).
    pub graphs_built: u64,
    /// Host time building graphs and planning their memory.
    pub build_time: Duration,
    /// Host time computing masks and cells and writing the inputs.
    pub input_time: Duration,
    /// Time in the scheduler's compute (device work and its launches).
    pub compute_time: Duration,
}

struct Built {
    spec: GraphSpec,
    graph: OwnedGraph,
    inputs: GraphInputs,
}

/// One sequence on a model.
pub struct Session<'m, 'f> {
    model: &'m Model<'f>,
    sched: Scheduler<'m>,
    kv: KvCache,
    history: Vec<u32>,
    flash_attn: bool,
    built: Option<Built>,
    cancel: Option<Arc<AtomicBool>>,
    stats: Stats,
    compute_bytes: Vec<usize>,
    last: Logits,
    pinned: Option<Buffer<'static>>,
}

impl<'m, 'f> Session<'m, 'f> {
    /// A session with an empty cache of the model's context size.
    pub fn new(model: &'m Model<'f>) -> Result<Session<'m, 'f>, SessionError> {
        let hp = &model.hp;
        let opts = &model.opts;
        let kv = KvCache::new(
            hp,
            &model.placement,
            opts.n_ctx,
            opts.n_ubatch,
            opts.swa_full,
            &model.cpu,
            model.gpu.as_ref(),
        )?;
        let backends = model.backends();
        let gpu_dev = model.gpu.as_ref().map(|g| g.device());
        let sched = Scheduler::with_pinned_host(
            &backends,
            gpu_dev,
            graph_size(hp.n_layer),
            opts.op_offload,
        )?;
        // Logits come back through pinned memory when a GPU computes them.
        let pinned = gpu_dev.and_then(|d| Buffer::alloc_host(d, hp.n_vocab as usize * 4));
        let mut s = Session {
            model,
            sched,
            kv,
            history: Vec::new(),
            flash_attn: opts.flash_attn != FlashAttn::Off,
            built: None,
            cancel: None,
            stats: Stats::default(),
            compute_bytes: Vec::new(),
            last: Logits::default(),
            pinned,
        };
        if opts.flash_attn != FlashAttn::Off {
            s.flash_attn = s.check_flash_attn()?;
        }
        s.reserve()?;
        Ok(s)
    }

    /// Whether flash attention runs where each layer's cache lives, decided
    /// as llama.cpp decides `-fa auto`: split a single-token graph and look
    /// where the scheduler put each layer's attention. A layer whose device
    /// lacks the op (or whose attention the scheduler moves elsewhere) turns
    /// it off everywhere; under `-fa on` that is an error naming the device.
    fn check_flash_attn(&mut self) -> Result<bool, SessionError> {
        let spec = self.spec(1, 1, true);
        let (g, inputs) = self.build(&spec)?;
        self.sched
            .reserve_size(&g.graph(), self.model.backends().len());
        let mut ok = true;
        for (il, node) in inputs.attn_nodes.iter().enumerate() {
            let dev = match (self.model.placement.layer(il as u32), &self.model.gpu) {
                (Where::Gpu, Some(gpu)) => gpu.device(),
                _ => self.model.cpu.device(),
            };
            let t = g.ctx().get(*node);
            let placed = self.sched.tensor_device(t);
            if !dev.supports_op(t) || placed.is_some_and(|p| p != dev) {
                if self.model.opts.flash_attn == FlashAttn::On {
                    return Err(SessionError::FlashAttn(dev.name()));
                }
                ok = false;
                break;
            }
        }
        self.sched.reset();
        Ok(ok)
    }

    /// Sizes the compute buffers for a full micro-batch at a full context,
    /// after checking they fit.
    fn reserve(&mut self) -> Result<(), SessionError> {
        let ub = self.model.opts.n_ubatch.min(self.kv.n_ctx());
        let mut spec = self.spec(ub, 1, self.flash_attn);
        spec.n_kv_full = self.kv.n_ctx();
        spec.n_kv_swa = self.kv.ring();
        let (g, _) = self.build(&spec)?;
        let backends = self.model.backends();
        let sizes = self.sched.reserve_size(&g.graph(), backends.len());
        for (b, &need) in backends.iter().zip(&sizes) {
            let free = if b.device().kind() == crate::ggml::DeviceKind::Cpu {
                crate::model::load::host_available()
            } else {
                b.device().memory().0 as u64
            };
            if need as u64 > free {
                return Err(ModelError::DoesNotFit(format!(
                    "{}: the compute buffers need {} on {} but {} is free; try a smaller -ub or -c",
                    self.model.gguf.path().display(),
                    gib(need as u64),
                    b.name(),
                    gib(free)
                ))
                .into());
            }
        }
        // A fresh graph: measuring split `g`, and a split rewrites the
        // sources of nodes that read another device's tensors to copies that
        // live only until the next split.
        let (g, _) = self.build(&spec)?;
        self.sched.reserve(&g.graph())?;
        self.compute_bytes = sizes;
        Ok(())
    }

    /// The graph of one micro-batch of shape `spec`, over this session's
    /// weights and cache, its RMS norms pinned ([`Session::pin_norms`]).
    fn build(&mut self, spec: &GraphSpec) -> Result<(OwnedGraph, GraphInputs), SessionError> {
        let size = graph_size(self.model.hp.n_layer);
        let graph = OwnedGraph::new(size, size)?;
        let inputs = build_graph(
            &graph,
            &self.model.weights,
            &self.kv.layers(),
            &self.model.hp,
            spec,
        )?;
        self.pin_norms(&graph, &inputs, spec.n_tokens);
        Ok((graph, inputs))
    }

    /// Pins each layer's RMS norms to the layer's device, as llama.cpp does
    /// for batches under 32 tokens and for full offload: left to the
    /// scheduler, the norm at a CPU/GPU boundary runs on either side, and
    /// the two kernels round differently (greedy text then parts from
    /// libllama's under partial offload).
    fn pin_norms(&mut self, g: &OwnedGraph, inputs: &GraphInputs, n_tokens: u32) {
        let (Some(gpu), p) = (self.model.gpu.as_ref(), &self.model.placement) else {
            return;
        };
        let full_offload = p.output_on_gpu && p.gpu_layers >= self.model.hp.n_layer;
        if n_tokens >= 32 && !full_offload {
            return;
        }
        for &(il, id) in &inputs.norms {
            let backend = match p.layer(il) {
                Where::Gpu => gpu,
                Where::Cpu => &self.model.cpu,
            };
            self.sched.set_tensor_backend(g.ctx().get(id), backend);
        }
    }

    fn spec(&self, n_tokens: u32, n_outputs: u32, flash_attn: bool) -> GraphSpec {
        let (n_kv_full, n_kv_swa) = self.kv.n_kv(n_tokens);
        GraphSpec {
            n_tokens,
            n_outputs,
            n_kv_full,
            n_kv_swa,
            flash_attn,
        }
    }

    /// Stops evaluations between micro-batches when `flag` is set.
    pub fn set_cancel(&mut self, flag: Arc<AtomicBool>) {
        self.cancel = Some(flag);
    }

    /// The model.
    pub fn model(&self) -> &'m Model<'f> {
        self.model
    }

    /// Tokens in the cache, in order.
    pub fn history(&self) -> &[u32] {
        &self.history
    }

    /// The context length.
    pub fn n_ctx(&self) -> u32 {
        self.kv.n_ctx()
    }

    /// Whether attention runs as fused flash attention.
    pub fn flash_attn(&self) -> bool {
        self.flash_attn
    }

    /// Time and token counts so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Compute-buffer bytes reserved per backend (GPU first, CPU last).
    pub fn compute_bytes(&self) -> &[usize] {
        &self.compute_bytes
    }

    /// Bytes of the KV cache.
    pub fn kv_bytes(&self) -> u64 {
        self.kv.bytes()
    }

    /// Forgets every cached token.
    pub fn clear(&mut self) {
        self.kv.truncate(0);
        self.history.clear();
    }

    /// Keeps the first `n` cached tokens; returns how many are kept (fewer,
    /// down to 0, when the sliding-window cache cannot go back that far).
    pub fn truncate(&mut self, n: usize) -> usize {
        let kept = self.kv.truncate(n.min(u32::MAX as usize) as u32) as usize;
        self.history.truncate(kept);
        kept
    }

    /// Keeps the longest cached prefix of `tokens` (leaving at least the last
    /// token to evaluate) and returns its length: the caller evaluates
    /// `tokens[kept..]`.
    pub fn reuse_prefix(&mut self, tokens: &[u32]) -> usize {
        let common = self
            .history
            .iter()
            .zip(tokens)
            .take_while(|(a, b)| a == b)
            .count()
            .min(tokens.len().saturating_sub(1));
        self.truncate(common)
    }

    /// Evaluates `tokens` after the cached ones and returns the logits of the
    /// last (valid until the next evaluation).
    pub fn prefill(&mut self, tokens: &[u32]) -> Result<&[f32], SessionError> {
        let mut buf = std::mem::take(&mut self.last);
        let r = self.eval_into(tokens, Outputs::Last, &mut buf);
        self.last = buf;
        r?;
        Ok(&self.last.data)
    }

    /// Evaluates one token and returns its logits (valid until the next
    /// evaluation).
    pub fn decode(&mut self, token: u32) -> Result<&[f32], SessionError> {
        self.prefill(&[token])
    }

    /// Evaluates `tokens` after the cached ones, in micro-batches, returning
    /// the rows of logits asked for. On cancellation or error, the cache
    /// keeps the micro-batches that completed.
    pub fn eval(&mut self, tokens: &[u32], outputs: Outputs<'_>) -> Result<Logits, SessionError> {
        let mut logits = Logits::default();
        self.eval_into(tokens, outputs, &mut logits)?;
        Ok(logits)
    }

    /// [`Session::eval`] into a reused buffer.
    pub fn eval_into(
        &mut self,
        tokens: &[u32],
        outputs: Outputs<'_>,
        logits: &mut Logits,
    ) -> Result<(), SessionError> {
        if tokens.is_empty() {
            return Err(SessionError::Empty);
        }
        if tokens.len() > self.kv.free() as usize {
            return Err(SessionError::ContextFull {
                need: tokens.len(),
                used: self.kv.n_past(),
                n_ctx: self.kv.n_ctx(),
            });
        }
        let n_vocab = self.model.hp.n_vocab;
        if let Some(&id) = tokens.iter().find(|&&t| t >= n_vocab) {
            return Err(SessionError::BadToken { id, n_vocab });
        }
        let wanted: Vec<usize> = match outputs {
            Outputs::Last => vec![tokens.len() - 1],
            Outputs::All => (0..tokens.len()).collect(),
            Outputs::Positions(p) => p.iter().copied().filter(|&i| i < tokens.len()).collect(),
        };
        logits.n_vocab = n_vocab as usize;
        logits.data.clear();
        let ub = self.model.opts.n_ubatch.max(1) as usize;
        let started = Instant::now();
        let mut start = 0;
        while start < tokens.len() {
            if self
                .cancel
                .as_ref()
                .is_some_and(|c| c.load(Ordering::Relaxed))
            {
                return Err(SessionError::Cancelled { processed: start });
            }
            let end = (start + ub).min(tokens.len());
            let rows: Vec<i32> = wanted
                .iter()
                .filter(|&&i| i >= start && i < end)
                .map(|&i| (i - start) as i32)
                .collect();
            self.micro_batch(&tokens[start..end], &rows, logits)?;
            start = end;
        }
        let took = started.elapsed();
        if tokens.len() == 1 {
            self.stats.decode_tokens += 1;
            self.stats.decode_time += took;
        } else {
            self.stats.prefill_tokens += tokens.len() as u64;
            self.stats.prefill_time += took;
        }
        Ok(())
    }

    /// One graph evaluation. `rows` are the batch rows whose logits are
    /// appended to `out` (none: the last row is computed and dropped).
    fn micro_batch(
        &mut self,
        batch: &[u32],
        rows: &[i32],
        out: &mut Logits,
    ) -> Result<(), SessionError> {
        let n = batch.len() as u32;
        let computed: Vec<i32> = if rows.is_empty() {
            vec![n as i32 - 1]
        } else {
            rows.to_vec()
        };
        let spec = self.spec(n, computed.len() as u32, self.flash_attn);
        let reuse = self.model.opts.graph_reuse;
        let t_build = Instant::now();
        if self.built.as_ref().is_none_or(|b| b.spec != spec || !reuse) {
            self.built = None;
            self.sched.reset();
            let (graph, inputs) = self.build(&spec)?;
            self.sched.alloc_graph(&mut graph.graph())?;
            self.stats.graphs_built += 1;
            self.built = Some(Built {
                spec,
                graph,
                inputs,
            });
        }
        let Some(built) = self.built.as_ref() else {
            return Err(SessionError::Empty);
        };
        let t_inputs = Instant::now();
        self.stats.build_time += t_inputs - t_build;
        let cells = self
            .kv
            .prepare(n, (spec.n_kv_full, spec.n_kv_swa), spec.flash_attn);
        let stats = &mut self.stats;
        let result = (|| -> Result<(), GgmlError> {
            let ctx = built.graph.ctx();
            let i = &built.inputs;
            let ids: Vec<i32> = batch.iter().map(|&t| t as i32).collect();
            ctx.get(i.tokens).write_i32(&ids)?;
            let p0 = self.kv.n_past() as i32;
            let pos: Vec<i32> = (0..n as i32).map(|k| p0 + k).collect();
            ctx.get(i.pos).write_i32(&pos)?;
            if let Some(o) = i.out_ids {
                ctx.get(o).write_i32(&computed)?;
            }
            cells.mask_full.write_to(ctx.get(i.mask_full))?;
            cells.mask_swa.write_to(ctx.get(i.mask_swa))?;
            ctx.get(i.cells_full).write_i64(&cells.cells_full)?;
            ctx.get(i.cells_swa).write_i64(&cells.cells_swa)?;
            let t_compute = Instant::now();
            stats.input_time += t_compute - t_inputs;
            self.sched.compute(&mut built.graph.graph())?;
            stats.compute_time += t_compute.elapsed();
            Ok(())
        })();
        if let Err(e) = result {
            self.kv.abandon();
            return Err(e.into());
        }
        self.kv.commit(n);
        self.history.extend_from_slice(batch);
        if !rows.is_empty() {
            let t = built.graph.ctx().get(built.inputs.logits);
            let n = rows.len() * out.n_vocab;
            let pinned = self
                .pinned
                .as_mut()
                .and_then(|b| b.host_f32_mut())
                .filter(|p| p.len() >= n);
            match pinned {
                Some(p) => {
                    t.read_f32_into(0, &mut p[..n])?;
                    out.data.extend_from_slice(&p[..n]);
                }
                None => {
                    let at = out.data.len();
                    out.data.resize(at + n, 0.0);
                    t.read_f32_into(0, &mut out.data[at..])?;
                }
            }
        }
        Ok(())
    }
}
