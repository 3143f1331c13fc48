//! kchat's own engine as a benchmark subject.

use anyhow::Result;

use crate::engine::Session;

use super::BenchEngine;

/// A [`Session`] measured by the harness.
pub struct KchatEngine<'m, 'f> {
    session: Session<'m, 'f>,
}

impl<'m, 'f> KchatEngine<'m, 'f> {
    /// Wraps a session (its model already loaded and placed).
    pub fn new(session: Session<'m, 'f>) -> KchatEngine<'m, 'f> {
        KchatEngine { session }
    }
}

impl BenchEngine for KchatEngine<'_, '_> {
    fn name(&self) -> String {
        "kchat".into()
    }

    fn n_vocab(&self) -> usize {
        self.session.model().hp.n_vocab as usize
    }

    fn clear(&mut self) -> Result<()> {
        self.session.clear();
        Ok(())
    }

    fn prefill(&mut self, tokens: &[u32]) -> Result<()> {
        self.session.prefill(tokens)?;
        Ok(())
    }

    fn decode(&mut self, token: u32) -> Result<()> {
        self.session.decode(token)?;
        Ok(())
    }
}
