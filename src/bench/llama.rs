//! libllama as a [`BenchEngine`]: one context, synchronized after every call
//! so the harness times finished work.

use std::path::Path;

use anyhow::Result;

use super::BenchEngine;
use crate::engine::EngineOptions;
use crate::ggml::llama::{LlamaContext, LlamaError, LlamaModel, LlamaParams, LogitsFor};

/// libllama running a model with kchat's engine options.
pub struct LlamaEngine {
    ctx: LlamaContext,
}

impl LlamaEngine {
    /// Loads `path` with the placement, context and batch sizes of `opts`
    /// (libllama's log off).
    pub fn load(path: &Path, opts: &EngineOptions) -> Result<LlamaEngine, LlamaError> {
        let params = LlamaParams::from(opts);
        let model = LlamaModel::load(path, &params)?;
        let ctx = LlamaContext::new(&model, &params)?;
        Ok(LlamaEngine { ctx })
    }

    /// The context, for checks beyond timing.
    pub fn context(&self) -> &LlamaContext {
        &self.ctx
    }
}

impl BenchEngine for LlamaEngine {
    fn name(&self) -> String {
        String::from("libllama")
    }

    fn n_vocab(&self) -> usize {
        self.ctx.model().n_vocab()
    }

    fn clear(&mut self) -> Result<()> {
        self.ctx.clear();
        Ok(())
    }

    fn prefill(&mut self, tokens: &[u32]) -> Result<()> {
        let pos = self.ctx.n_past();
        self.ctx.decode(tokens, pos, LogitsFor::Last)?;
        self.ctx.synchronize();
        Ok(())
    }

    fn decode(&mut self, token: u32) -> Result<()> {
        let pos = self.ctx.n_past();
        self.ctx.decode(&[token], pos, LogitsFor::Last)?;
        self.ctx.synchronize();
        Ok(())
    }
}
