//! The chat: a conversation bound to a session, turn by turn ([`Chat`]).
//! Each turn re-renders the harmony conversation and evaluates only the
//! tokens past the longest prefix already in the KV cache.
//!
//! The interactive front end (rustyline, slash commands, colors) builds on
//! this; the turn logic stays free of terminal concerns so it can be tested
//! on its own against the real engine.

pub mod agent;
pub mod cli;
pub mod commands;
pub mod repl;
mod turn;
pub mod ui;

pub use agent::{agent_turn, AgentStats, AgentUi, MessageKind};
pub use cli::ChatArgs;
pub use turn::{Chat, Scripted, TokenSource, TurnEnd, TurnEvent, TurnStats};
