//! `kchat bench chat -m MODEL`: a scripted multi-turn conversation through
//! the chat's turn loop, reporting per turn how many prompt tokens were
//! found in the KV cache, how many were evaluated, and the time to the first
//! token. With prefix reuse the time to the first token stays flat as the
//! conversation grows; without it, it would grow with the whole history.

use anyhow::{Context as _, Result};
use serde::Serialize;

use crate::chat::Chat;
use crate::engine::{ModelArgs, SamplerConfig, Session};
use crate::gguf::GgufModel;
use crate::harmony::Conversation;
use crate::model::Model;
use crate::tokenizer::Tokenizer;

/// Arguments of `kchat bench chat`.
#[derive(Debug, Clone, clap::Args)]
pub struct ChatBenchArgs {
    /// Turns of the conversation.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub turns: usize,
    /// Tokens of each reply (greedy).
    #[arg(long, value_name = "N", default_value_t = 32)]
    pub reply: usize,
    /// Empty the KV cache before every turn (what a runner without prefix
    /// reuse pays), for comparison.
    #[arg(long)]
    pub no_reuse: bool,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Model, placement, context and batch flags.
    #[command(flatten)]
    pub model: ModelArgs,
}

/// One turn's figures.
#[derive(Debug, Serialize)]
pub struct TurnRow {
    /// Turn number, from 1.
    pub turn: usize,
    /// Tokens of the rendered prompt.
    pub prompt_tokens: usize,
    /// Of those, found in the KV cache.
    pub reused: usize,
    /// Of those, evaluated.
    pub prefilled: usize,
    /// From the start of the turn to its first token, in ms.
    pub first_token_ms: f64,
    /// Decode speed of the reply, tokens/s.
    pub decode_tokens_per_s: f64,
}

/// The user messages: varied, of similar length.
fn message(k: usize) -> String {
    const TOPICS: [&str; 5] = [
        "the tides and the moon",
        "how a bicycle stays upright",
        "why the sky is blue",
        "what a hash table is",
        "the rules of chess castling",
    ];
    format!(
        "Question {k}: in a few sentences, tell me about {}, and relate it to what we said before.",
        TOPICS[k % TOPICS.len()]
    )
}

/// Runs `kchat bench chat`.
pub fn run(args: &ChatBenchArgs) -> Result<()> {
    let opts = args.model.options();
    let gguf = GgufModel::open(&args.model.model)?;
    let tok = Tokenizer::from_gguf(|k| gguf.get(k))
        .with_context(|| format!("{}: tokenizer", gguf.path().display()))?;
    let model = Model::load(&gguf, &opts, &mut crate::run::upload_progress())?;
    let mut session = Session::new(&model)?;
    let mut chat = Chat::new(
        &mut session,
        &tok,
        SamplerConfig::greedy(),
        Conversation::new(),
    );
    chat.max_tokens = Some(args.reply.max(1));
    let mut rows = Vec::with_capacity(args.turns);
    if !args.json {
        println!("| turn | prompt tokens | reused | prefilled | first token ms | decode t/s |");
        println!("|---:|---:|---:|---:|---:|---:|");
    }
    for k in 1..=args.turns {
        if args.no_reuse {
            chat.clear_cache();
        }
        let s = chat.turn(&message(k), &mut |_| {})?;
        let row = TurnRow {
            turn: k,
            prompt_tokens: s.reused + s.prefilled,
            reused: s.reused,
            prefilled: s.prefilled,
            first_token_ms: s.first_token.as_secs_f64() * 1e3,
            decode_tokens_per_s: s.generated.saturating_sub(1) as f64
                / s.decode_time.as_secs_f64().max(1e-9),
        };
        if !args.json {
            println!(
                "| {} | {} | {} | {} | {:.1} | {:.1} |",
                row.turn,
                row.prompt_tokens,
                row.reused,
                row.prefilled,
                row.first_token_ms,
                row.decode_tokens_per_s
            );
        }
        rows.push(row);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    }
    Ok(())
}
