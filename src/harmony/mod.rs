//! The harmony chat format of gpt-oss: typed conversations, the renderer
//! (conversation → tokens or prompt text) and the streaming parser
//! (tokens → events and messages).
//!
//! Independent of the tokenizer module: rendering needs a [`TextEncoder`],
//! parsing a [`TokenBytes`]; [`Tiktoken`] adapts tiktoken-rs to both.

mod conversation;
mod date;
mod error;
mod header;
mod message;
mod parser;
mod persona;
mod render;
mod tokens;
mod typescript;

#[cfg(test)]
mod parser_tests;

pub use conversation::{
    Conversation, ReasoningEffort, SystemSettings, ToolDescription, DEFAULT_MODEL_IDENTITY,
};
pub use date::{CalendarDate, YearMonth};
pub use error::HarmonyError;
pub use header::Header;
pub use message::{Author, Channel, ContentType, Message, Recipient, Role};
pub use parser::{
    parse_completion, ParseEvent, ParseWarning, StopReason, StreamParser, MAX_HEADER_BYTES,
};
pub use persona::Persona;
pub use render::{
    pieces_to_text, pieces_to_tokens, render_message_tokens, render_pieces, render_text,
    render_tokens, Piece, RenderTarget,
};
pub use tokens::{SpecialToken, TextEncoder, Tiktoken, TokenBytes, FIRST_SPECIAL_ID};
pub use typescript::{schema_to_typescript, tools_section};
