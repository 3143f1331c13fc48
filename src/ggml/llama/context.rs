//! A libllama context: one sequence's KV cache, batched decoding and the
//! logits of the tokens asked for.

use std::ptr::NonNull;

use llama_cpp_sys_2 as ll;

use super::{clear_errors, init, take_errors, LlamaError, LlamaModel, LlamaParams};

/// Which tokens of a [`LlamaContext::decode`] call produce logits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogitsFor<'a> {
    /// Only the last token (prefill before sampling).
    Last,
    /// Every token.
    All,
    /// The tokens at these indices of the call's `tokens`, ascending.
    Positions(&'a [usize]),
}

/// A libllama context over a [`LlamaModel`] (which it keeps alive): a KV
/// cache for one sequence, filled by [`decode`](Self::decode) from position 0
/// on, and the logits of the last decode.
pub struct LlamaContext {
    ctx: NonNull<ll::llama_context>,
    /// Reused for every `llama_decode`; holds `n_batch` tokens, all of
    /// sequence 0.
    batch: ll::llama_batch,
    n_batch: usize,
    n_ctx: usize,
    n_vocab: usize,
    /// Logits rows of outputs from all but the last `llama_decode` of the
    /// latest [`decode`](Self::decode) (libllama overwrites its own).
    saved: Vec<f32>,
    /// Rows in `saved`.
    n_saved: usize,
    /// Batch indices of the outputs of the last `llama_decode`, whose logits
    /// are still in libllama's buffer.
    last_rows: Vec<i32>,
    /// Dropped after the context (fields drop after `Drop::drop`).
    model: LlamaModel,
}

// SAFETY: the context and batch are owned by this value and only used
// through `&mut self` or `&self` (the type is not `Sync`); libllama allows a
// context to be driven from any one thread at a time. The model is `Send + Sync`.
unsafe impl Send for LlamaContext {}

impl std::fmt::Debug for LlamaContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlamaContext")
            .field("n_ctx", &self.n_ctx)
            .field("n_batch", &self.n_batch)
            .field("n_past", &self.n_past())
            .finish()
    }
}

impl LlamaContext {
    /// A context over `model` with the sizes, threads and flash-attention
    /// setting of `params` (placement fields are the model's business).
    pub fn new(model: &LlamaModel, params: &LlamaParams) -> Result<LlamaContext, LlamaError> {
        init(params.quiet);
        clear_errors();
        let cp = params.context_params();
        // SAFETY: a live model; plain parameters without pointers.
        let raw = unsafe { ll::llama_init_from_model(model.raw(), cp) };
        let ctx = NonNull::new(raw).ok_or_else(|| LlamaError::Context {
            n_ctx: params.n_ctx,
            reason: take_errors(),
        })?;
        // SAFETY: a live context.
        let (n_batch, n_ctx) = unsafe { (ll::llama_n_batch(raw), ll::llama_n_ctx(raw)) };
        let n_batch = (n_batch as usize).max(1);
        // SAFETY: allocates arrays for n_batch tokens, one sequence id each.
        let batch = unsafe { ll::llama_batch_init(n_batch as i32, 0, 1) };
        // Every token belongs to sequence 0, once and for all.
        for i in 0..n_batch {
            // SAFETY: llama_batch_init allocated n_batch entries of n_seq_id
            // and seq_id, each seq_id[i] with room for one id.
            unsafe {
                *batch.n_seq_id.add(i) = 1;
                **batch.seq_id.add(i) = 0;
            }
        }
        Ok(LlamaContext {
            ctx,
            batch,
            n_batch,
            n_ctx: n_ctx as usize,
            n_vocab: model.n_vocab(),
            saved: Vec::new(),
            n_saved: 0,
            last_rows: Vec::new(),
            model: model.clone(),
        })
    }

    /// The model this context runs.
    pub fn model(&self) -> &LlamaModel {
        &self.model
    }

    /// The context size in tokens (libllama may round up what was asked).
    pub fn n_ctx(&self) -> usize {
        self.n_ctx
    }

    /// The most tokens one `llama_decode` takes; longer inputs are split.
    pub fn n_batch(&self) -> usize {
        self.n_batch
    }

    fn memory(&self) -> ll::llama_memory_t {
        // SAFETY: a live context; the memory lives as long as it.
        unsafe { ll::llama_get_memory(self.ctx.as_ptr()) }
    }

    /// Tokens in the cache (the next position to decode at).
    pub fn n_past(&self) -> usize {
        // SAFETY: a live memory; -1 when sequence 0 is empty.
        let max = unsafe { ll::llama_memory_seq_pos_max(self.memory(), 0) };
        usize::try_from(i64::from(max) + 1).unwrap_or(0)
    }

    fn forget_outputs(&mut self) {
        self.saved.clear();
        self.n_saved = 0;
        self.last_rows.clear();
    }

    /// Empties the cache; the next decode starts at position 0.
    pub fn clear(&mut self) {
        // SAFETY: a live memory; `true` also clears the data buffers.
        unsafe { ll::llama_memory_clear(self.memory(), true) };
        self.forget_outputs();
    }

    /// Keeps the first `n_keep` tokens of the cache and drops the rest (a
    /// no-op when it holds no more). The last decode's logits are forgotten.
    pub fn truncate(&mut self, n_keep: usize) -> Result<(), LlamaError> {
        self.forget_outputs();
        if n_keep >= self.n_past() {
            return Ok(());
        }
        let p0 = i32::try_from(n_keep).map_err(|_| LlamaError::Truncate { n_keep })?;
        // SAFETY: a live memory; [p0, end) of sequence 0.
        if unsafe { ll::llama_memory_seq_rm(self.memory(), 0, p0, -1) } {
            Ok(())
        } else {
            Err(LlamaError::Truncate { n_keep })
        }
    }

    /// Waits until the device work of the last decode is done.
    pub fn synchronize(&mut self) {
        // SAFETY: a live context.
        unsafe { ll::llama_synchronize(self.ctx.as_ptr()) }
    }

    /// Decodes `tokens` at positions `first_pos..`, which must be where the
    /// cache ends ([`n_past`](Self::n_past)); inputs longer than
    /// [`n_batch`](Self::n_batch) go through several `llama_decode` calls.
    /// Afterwards [`logits`](Self::logits)`(i)` is the i-th output `which`
    /// asked for. Device work may still be running: reading logits or
    /// [`synchronize`](Self::synchronize) waits for it.
    pub fn decode(
        &mut self,
        tokens: &[u32],
        first_pos: usize,
        which: LogitsFor<'_>,
    ) -> Result<(), LlamaError> {
        self.forget_outputs();
        let n_past = self.n_past();
        if first_pos != n_past {
            return Err(LlamaError::Position {
                got: first_pos,
                n_past,
            });
        }
        if tokens.is_empty() {
            return Ok(());
        }
        let needed = first_pos + tokens.len();
        if needed > self.n_ctx || i32::try_from(needed).is_err() {
            return Err(LlamaError::ContextFull {
                needed,
                n_ctx: self.n_ctx,
            });
        }
        let mut ids = Vec::with_capacity(tokens.len());
        for &t in tokens {
            match i32::try_from(t) {
                Ok(id) if (t as usize) < self.n_vocab => ids.push(id),
                _ => {
                    return Err(LlamaError::Token {
                        token: t,
                        n_vocab: self.n_vocab,
                    })
                }
            }
        }
        let wanted = output_mask(tokens.len(), which)?;

        let n_chunks = tokens.len().div_ceil(self.n_batch);
        for (c, (ids, wanted)) in ids
            .chunks(self.n_batch)
            .zip(wanted.chunks(self.n_batch))
            .enumerate()
        {
            let start = first_pos + c * self.n_batch;
            if let Err(e) = self.decode_chunk(ids, start, wanted, c + 1 == n_chunks) {
                self.forget_outputs();
                return Err(e);
            }
        }
        Ok(())
    }

    /// One `llama_decode` of at most `n_batch` tokens at `start..`; keeps
    /// the outputs' logits (copied unless this is the last chunk).
    fn decode_chunk(
        &mut self,
        ids: &[i32],
        start: usize,
        wanted: &[bool],
        last: bool,
    ) -> Result<(), LlamaError> {
        let n = ids.len();
        debug_assert!(n <= self.n_batch && n == wanted.len());
        // SAFETY: llama_batch_init allocated n_batch >= n entries of token,
        // pos and logits; nothing else refers to them now.
        let (tok, pos, out) = unsafe {
            (
                std::slice::from_raw_parts_mut(self.batch.token, n),
                std::slice::from_raw_parts_mut(self.batch.pos, n),
                std::slice::from_raw_parts_mut(self.batch.logits, n),
            )
        };
        tok.copy_from_slice(ids);
        for (i, (p, o)) in pos.iter_mut().zip(out.iter_mut()).enumerate() {
            // `decode` checked that every position fits in i32.
            *p = (start + i) as i32;
            *o = i8::from(wanted[i]);
        }
        let mut batch = self.batch;
        batch.n_tokens = n as i32;
        // SAFETY: a live context and a batch whose first n entries are set.
        let status = unsafe { ll::llama_decode(self.ctx.as_ptr(), batch) };
        if status != 0 {
            return Err(LlamaError::Decode { status });
        }
        let rows = wanted
            .iter()
            .enumerate()
            .filter(|(_, &w)| w)
            .map(|(i, _)| i as i32);
        if last {
            self.last_rows = rows.collect();
        } else {
            let mut saved = std::mem::take(&mut self.saved);
            for row in rows {
                let logits = self.row(row).ok_or(LlamaError::Decode { status: -1 })?;
                saved.extend_from_slice(logits);
                self.n_saved += 1;
            }
            self.saved = saved;
        }
        Ok(())
    }

    /// libllama's logits for batch index `row` of the last `llama_decode`.
    fn row(&self, row: i32) -> Option<&[f32]> {
        // SAFETY: a live context; waits for the device and returns null for
        // an index without logits.
        let p = unsafe { ll::llama_get_logits_ith(self.ctx.as_ptr(), row) };
        if p.is_null() {
            return None;
        }
        // SAFETY: libllama's row of n_vocab floats. libllama writes its
        // logits buffer only in llama_decode (which needs `&mut self`) and,
        // once after each, in the first llama_get_logits_ith (waiting for the
        // device copy, reordering rows); no slice into it can be alive then,
        // as the decode ended every earlier borrow. Later calls change nothing.
        Some(unsafe { std::slice::from_raw_parts(p, self.n_vocab) })
    }

    /// Outputs the last [`decode`](Self::decode) produced.
    pub fn n_outputs(&self) -> usize {
        self.n_saved + self.last_rows.len()
    }

    /// The logits (one per vocabulary entry) of the `i`-th output the last
    /// [`decode`](Self::decode) asked for; `None` past the last.
    pub fn logits(&self, i: usize) -> Option<&[f32]> {
        if i < self.n_saved {
            let nv = self.n_vocab;
            return self.saved.get(i * nv..(i + 1) * nv);
        }
        let row = *self.last_rows.get(i - self.n_saved)?;
        self.row(row)
    }
}

/// Which of `len` tokens produce logits.
fn output_mask(len: usize, which: LogitsFor<'_>) -> Result<Vec<bool>, LlamaError> {
    let mut mask = vec![false; len];
    match which {
        LogitsFor::Last => mask[len - 1] = true,
        LogitsFor::All => mask.fill(true),
        LogitsFor::Positions(idx) => {
            let mut prev = None;
            for &i in idx {
                if i >= len || prev.is_some_and(|p| i <= p) {
                    return Err(LlamaError::Outputs { index: i, len });
                }
                mask[i] = true;
                prev = Some(i);
            }
        }
    }
    Ok(mask)
}

impl Drop for LlamaContext {
    fn drop(&mut self) {
        // SAFETY: both are owned and freed once, the batch first (it does
        // not refer to the context); the model outlives this call.
        unsafe {
            ll::llama_batch_free(self.batch);
            ll::llama_free(self.ctx.as_ptr());
        }
    }
}
