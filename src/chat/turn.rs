//! One chat turn over a [`Session`]: render the whole conversation with
//! harmony, keep the longest prefix already in the KV cache, prefill only the
//! rest, then sample the reply token by token through the streaming parser.
//!
//! Re-rendering every turn keeps the conversation authoritative (a persona
//! switch, an undo or a regenerated answer are edits of the message list),
//! while the prefix reuse keeps the cost of a turn to the tokens that changed:
//! the first changed token and everything after it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::engine::{Sampler, SamplerConfig, Session, SessionError};
use crate::harmony::{
    render_tokens, Author, Conversation, Header, Message, ParseEvent, RenderTarget, Role,
    SpecialToken, StreamParser,
};
use crate::tokenizer::Tokenizer;

/// What picks each token of a reply from the model's logits: the
/// [`Sampler`], or in tests a script of the exact tokens a model would emit
/// (the engine still evaluates every token, so the KV cache and the
/// conversation evolve as with a real reply).
pub trait TokenSource {
    /// The next token, given the logits of the last one.
    fn next_token(&mut self, logits: &[f32]) -> u32;
}

impl TokenSource for Sampler {
    fn next_token(&mut self, logits: &[f32]) -> u32 {
        let id = self.sample(logits);
        self.accept(id);
        id
    }
}

/// Tokens written in advance, then the sampler's: replies scripted in
/// harmony (kchat's hidden `--script-replies FILE`, for the terminal tests of
/// tool calls and for demos on models with random weights). The engine still
/// evaluates every token.
pub struct Scripted {
    script: std::collections::VecDeque<u32>,
    then: Sampler,
}

impl Scripted {
    /// `script`'s tokens first, then `then`'s.
    pub fn new(script: Vec<u32>, then: Sampler) -> Scripted {
        Scripted {
            script: script.into(),
            then,
        }
    }
}

impl TokenSource for Scripted {
    fn next_token(&mut self, logits: &[f32]) -> u32 {
        match self.script.pop_front() {
            Some(id) => id,
            None => self.then.next_token(logits),
        }
    }
}

/// What the reply stream shows, as it happens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TurnEvent {
    /// A message of the reply begins; its header says on which channel
    /// and whether it is a tool call (a recipient).
    Start(Header),
    /// More text of the current message.
    Text(String),
}

/// How a turn ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TurnEnd {
    /// The model ended its answer (`<|return|>`).
    Answered,
    /// The model called a tool (`<|call|>`).
    ToolCall,
    /// The token limit was reached.
    Limit,
    /// The context is full.
    ContextFull,
    /// The user interrupted; the partial reply is kept.
    Interrupted,
}

/// What one turn cost.
#[derive(Debug, Clone, PartialEq)]
pub struct TurnStats {
    /// Prompt tokens found in the KV cache and kept.
    pub reused: usize,
    /// Prompt tokens evaluated.
    pub prefilled: usize,
    /// Tokens sampled.
    pub generated: usize,
    /// Whole exchanges dropped from the front to make room.
    pub dropped_exchanges: usize,
    /// From the start of the turn to the first sampled token.
    pub first_token: Duration,
    /// Evaluating the prompt tokens.
    pub prefill_time: Duration,
    /// Evaluating the generated tokens.
    pub decode_time: Duration,
    /// How the turn ended.
    pub end: TurnEnd,
}

/// A conversation bound to a session: the message list, the sampler and the
/// turn loop.
pub struct Chat<'s, 'm, 'f> {
    session: &'s mut Session<'m, 'f>,
    tokenizer: &'s Tokenizer,
    source: Box<dyn TokenSource>,
    /// The conversation; edit it between turns (persona, undo, clear).
    pub conversation: Conversation,
    /// Tokens a reply may use at most (None: until the context is full).
    pub max_tokens: Option<usize>,
    /// Room kept free for the reply when old exchanges must be dropped.
    pub reply_room: usize,
    cancel: Arc<AtomicBool>,
}

impl<'s, 'm, 'f> Chat<'s, 'm, 'f> {
    /// A chat over `session` with an empty conversation of these settings.
    pub fn new(
        session: &'s mut Session<'m, 'f>,
        tokenizer: &'s Tokenizer,
        sampling: SamplerConfig,
        conversation: Conversation,
    ) -> Chat<'s, 'm, 'f> {
        let cancel = Arc::new(AtomicBool::new(false));
        session.set_cancel(cancel.clone());
        let reply_room = (session.n_ctx() as usize / 4).clamp(16, 2048);
        Chat {
            session,
            tokenizer,
            source: Box::new(Sampler::new(sampling)),
            conversation,
            max_tokens: None,
            reply_room,
            cancel,
        }
    }

    /// Replaces the sampler with another source of tokens (a script in
    /// tests).
    pub fn set_token_source(&mut self, source: Box<dyn TokenSource>) {
        self.source = source;
    }

    /// The flag that interrupts a turn (set it from a Ctrl-C handler): the
    /// prompt stops between micro-batches, the reply within one token.
    pub fn cancel_flag(&self) -> Arc<AtomicBool> {
        self.cancel.clone()
    }

    /// Empties the KV cache: the next turn evaluates its whole prompt (for
    /// comparisons; turns never need it).
    pub fn clear_cache(&mut self) {
        self.session.clear();
    }

    /// The session (for statistics and the context size).
    pub fn session(&self) -> &Session<'m, 'f> {
        self.session
    }

    /// The tokens the conversation renders to, ready for the reply.
    pub fn prompt_tokens(&self) -> Vec<u32> {
        render_tokens(&self.conversation, RenderTarget::Completion, self.tokenizer)
    }

    /// Drops whole exchanges (a user message and what answered it) from
    /// the front until the prompt leaves `reply_room` tokens free; never the
    /// system and developer messages nor the last user message. Returns the
    /// exchanges dropped and the prompt.
    fn fit_context(&mut self) -> (usize, Vec<u32>) {
        let n_ctx = self.session.n_ctx() as usize;
        let mut dropped = 0;
        loop {
            let tokens = self.prompt_tokens();
            if tokens.len() + self.reply_room <= n_ctx {
                return (dropped, tokens);
            }
            let users: Vec<usize> = (0..self.conversation.messages.len())
                .filter(|&i| self.conversation.messages[i].author == Author::User)
                .collect();
            match users.get(1) {
                Some(&next) => {
                    self.conversation.messages.drain(..next);
                    dropped += 1;
                }
                None => return (dropped, tokens),
            }
        }
    }

    /// Adds `user` to the conversation and generates the reply, reporting
    /// its text through `on`. The reply's messages join the conversation,
    /// an interrupted one marked as such in the transcript by its end.
    pub fn turn(
        &mut self,
        user: &str,
        on: &mut dyn FnMut(TurnEvent),
    ) -> Result<TurnStats, SessionError> {
        self.conversation.push(Message::user(user));
        self.reply(on)
    }

    /// Generates the assistant's reply to the conversation as it stands
    /// (after a new user message, or again after `/regen` removed one).
    pub fn reply(&mut self, on: &mut dyn FnMut(TurnEvent)) -> Result<TurnStats, SessionError> {
        let started = Instant::now();
        self.cancel.store(false, Ordering::Relaxed);
        let (dropped_exchanges, tokens) = self.fit_context();
        let reused = self.session.reuse_prefix(&tokens);
        let mut stats = TurnStats {
            reused,
            prefilled: tokens.len() - reused,
            generated: 0,
            dropped_exchanges,
            first_token: Duration::ZERO,
            prefill_time: Duration::ZERO,
            decode_time: Duration::ZERO,
            end: TurnEnd::Answered,
        };
        let mut parser = StreamParser::for_completion(self.tokenizer, Role::Assistant);
        let t = Instant::now();
        let prefill = self.session.prefill(&tokens[reused..]);
        stats.prefill_time = t.elapsed();
        let mut logits = match prefill {
            Ok(l) => l,
            Err(SessionError::Cancelled { .. }) => {
                stats.end = TurnEnd::Interrupted;
                return Ok(stats);
            }
            Err(e) => return Err(e),
        };
        let limit = self.max_tokens.unwrap_or(usize::MAX);
        stats.end = loop {
            if stats.generated >= limit {
                break TurnEnd::Limit;
            }
            if self.cancel.load(Ordering::Relaxed) {
                break TurnEnd::Interrupted;
            }
            let id = self.source.next_token(logits);
            if stats.generated == 0 {
                stats.first_token = started.elapsed();
            }
            stats.generated += 1;
            for ev in parser.push(id) {
                match ev {
                    ParseEvent::MessageStart(h) => on(TurnEvent::Start(h)),
                    ParseEvent::ContentDelta(s) => on(TurnEvent::Text(s)),
                    ParseEvent::MessageEnd { .. } | ParseEvent::Warning(_) => {}
                }
            }
            if id == SpecialToken::Return.id() {
                break TurnEnd::Answered;
            }
            if id == SpecialToken::Call.id() {
                break TurnEnd::ToolCall;
            }
            if self.session.history().len() >= self.session.n_ctx() as usize {
                break TurnEnd::ContextFull;
            }
            let t = Instant::now();
            let step = self.session.decode(id);
            stats.decode_time += t.elapsed();
            logits = match step {
                Ok(l) => l,
                Err(SessionError::Cancelled { .. }) => break TurnEnd::Interrupted,
                Err(e) => return Err(e),
            };
        };
        parser.finish();
        for m in parser.into_messages() {
            self.conversation.push(m);
        }
        Ok(stats)
    }
}
