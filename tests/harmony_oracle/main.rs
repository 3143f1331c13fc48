//! Oracle tests of the harmony module against the crate `openai-harmony`
//! (vocabulary from tiktoken-rs's `assets/o200k_base.tiktoken`, offline):
//! rendered ids and text, parsed messages and streamed deltas.

mod corpus;
mod parse;
mod render;
mod setup;
