//! `kchat run`: one-shot completion. The prompt is wrapped as a harmony user
//! message (or fed raw with `--raw`), generated tokens stream to stdout, and
//! `--json` reports ids, timings and the stop reason instead.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context as _, Result};
use serde::Serialize;

use crate::engine::{ModelArgs, Sampler, SamplerArgs, Session};
use crate::gguf::GgufModel;
use crate::harmony::{
    Channel, Message, ParseEvent, RenderTarget, Role, SpecialToken, StreamParser,
};
use crate::model::Model;
use crate::tokenizer::Tokenizer;

/// Arguments of `kchat run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The prompt (`-` reads standard input).
    #[arg(short = 'p', long = "prompt", value_name = "TEXT")]
    prompt: String,
    /// Tokens to generate at most (-1: until the turn ends or the context is full).
    #[arg(short = 'n', long = "n-predict", value_name = "N", default_value_t = -1, allow_negative_numbers = true)]
    n_predict: i64,
    /// Feed the prompt as raw text (special tokens like `<|start|>` parsed),
    /// without the harmony chat wrapper.
    #[arg(long)]
    raw: bool,
    /// Print a JSON report (ids, text, timings, stop reason) instead of streaming.
    #[arg(long)]
    json: bool,
    /// The persona (`Persona: NAME` in the developer message).
    #[arg(long, value_name = "NAME")]
    persona: Option<String>,
    /// System prompt, placed under `# Instructions` in the developer message.
    #[arg(long = "system-prompt", visible_alias = "sys", value_name = "TEXT")]
    system_prompt: Option<String>,
    /// Reasoning effort written in the system message.
    #[arg(long, value_name = "LEVEL", default_value = "medium")]
    reasoning: String,
    /// Also stream the analysis channel (to stderr).
    #[arg(long)]
    show_reasoning: bool,
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    sampling: SamplerArgs,
}

/// Why generation stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopCause {
    /// The model ended its turn with `<|return|>`.
    Return,
    /// The model called a tool (`<|call|>`).
    Call,
    /// An end-of-text token (raw mode).
    EndOfText,
    /// `-n` tokens were generated.
    Limit,
    /// The context is full.
    ContextFull,
}

#[derive(Serialize)]
struct Report {
    model: PathBuf,
    prompt_tokens: usize,
    ids: Vec<u32>,
    text: String,
    stop: StopCause,
    prefill_ms: f64,
    decode_ms: f64,
    prefill_tokens_per_s: f64,
    decode_tokens_per_s: f64,
    load_ms: f64,
    /// Of the load: allocating pinned host memory, copying weights into it
    /// (and how many bytes), uploading the GPU's weights.
    load_pin_alloc_ms: f64,
    load_pin_copy_ms: f64,
    load_pinned_bytes: u64,
    load_gpu_upload_ms: f64,
    /// From the start of `kchat run` to the first sampled token.
    first_token_ms: f64,
    /// Time spent in the sampler, all tokens together.
    sample_ms: f64,
    /// Graphs built; a steady decode reuses its graph, so this stays small.
    graphs_built: u64,
    /// Host time building graphs and planning their memory.
    build_ms: f64,
    /// Host time computing and writing masks, cells and token ids.
    inputs_ms: f64,
    /// Time in the scheduler's compute calls (launches and device work).
    compute_ms: f64,
    placement: String,
    flash_attn: bool,
}

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn read_prompt(p: &str) -> Result<String> {
    if p == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
            .context("reading the prompt from stdin")?;
        Ok(s)
    } else {
        Ok(p.to_owned())
    }
}

/// The prompt tokens for `args`.
fn prompt_tokens(args: &RunArgs, tok: &Tokenizer, text: &str) -> Result<Vec<u32>> {
    if args.raw {
        return Ok(tok.encode(text, true));
    }
    let mut conv = crate::chat::cli::start_conversation(
        &args.reasoning,
        args.persona.as_deref(),
        args.system_prompt.iter().cloned(),
    )?;
    conv.push(Message::user(text));
    Ok(crate::harmony::render_tokens(
        &conv,
        RenderTarget::Completion,
        tok,
    ))
}

/// A progress report for uploading weights to the GPU: on a terminal, or
/// every few seconds for uploads over 1 GiB.
pub fn upload_progress() -> impl FnMut(u64, u64) {
    let mut progress: Option<crate::progress::Progress> = None;
    let mut seen = 0u64;
    move |done, total| {
        if total == 0 {
            return;
        }
        let p =
            progress.get_or_insert_with(|| crate::progress::Progress::new(total, total > 1 << 30));
        p.add(done.saturating_sub(seen));
        seen = done;
        if done >= total {
            p.finish();
        }
    }
}

/// Runs `kchat run`.
pub fn run(args: &RunArgs) -> Result<()> {
    let started = Instant::now();
    let opts = args.model.options();
    let gguf = GgufModel::open(&args.model.model)?;
    let tok = Tokenizer::from_gguf(|k| gguf.get(k))
        .with_context(|| format!("{}: tokenizer", gguf.path().display()))?;
    let text = read_prompt(&args.prompt)?;
    let prompt = prompt_tokens(args, &tok, &text)?;
    if prompt.is_empty() {
        bail!("-p: the prompt is empty");
    }
    let model = Model::load(&gguf, &opts, &mut upload_progress())?;
    if let Some(n) = &model.notice {
        eprintln!("kchat: {n}");
    }
    let mut session = Session::new(&model)?;
    let load_ms = started.elapsed().as_secs_f64() * 1e3;
    let mut sampler = Sampler::new(args.sampling.config());
    let limit = if args.n_predict < 0 {
        u64::MAX
    } else {
        args.n_predict as u64
    };

    let mut logits = session.prefill(&prompt)?;
    let mut ids = Vec::new();
    let mut parser = (!args.raw).then(|| StreamParser::for_completion(&tok, Role::Assistant));
    let mut decoder = tok.stream_decoder();
    let mut out = std::io::stdout().lock();
    let mut text_out = String::new();
    let mut channel_final = false;
    let mut first_token_ms = 0.0;
    let mut sample_time = std::time::Duration::ZERO;
    let stop = loop {
        if ids.len() as u64 >= limit {
            break StopCause::Limit;
        }
        let t = Instant::now();
        let id = sampler.sample(logits);
        sampler.accept(id);
        sample_time += t.elapsed();
        if ids.is_empty() {
            first_token_ms = started.elapsed().as_secs_f64() * 1e3;
        }
        ids.push(id);
        if let Some(parser) = parser.as_mut() {
            for ev in parser.push(id) {
                match ev {
                    ParseEvent::MessageStart(h) => {
                        channel_final = h.channel != Some(Channel::Analysis);
                    }
                    ParseEvent::ContentDelta(s) => {
                        text_out.push_str(&s);
                        if !args.json {
                            if channel_final {
                                out.write_all(s.as_bytes())?;
                                out.flush()?;
                            } else if args.show_reasoning {
                                eprint!("{s}");
                            }
                        }
                    }
                    ParseEvent::MessageEnd { .. } | ParseEvent::Warning(_) => {}
                }
            }
            if id == SpecialToken::Return.id() {
                break StopCause::Return;
            }
            if id == SpecialToken::Call.id() {
                break StopCause::Call;
            }
        } else {
            if Some(id) == tok.eos() || id == SpecialToken::EndOfText.id() {
                break StopCause::EndOfText;
            }
            let s = decoder.push(id)?;
            text_out.push_str(&s);
            if !args.json {
                out.write_all(s.as_bytes())?;
                out.flush()?;
            }
        }
        if session.history().len() as u32 >= session.n_ctx() {
            break StopCause::ContextFull;
        }
        logits = session.decode(id)?;
    };
    let stats = session.stats();
    if args.json {
        let per_s = |n: u64, t: std::time::Duration| {
            if t.is_zero() {
                0.0
            } else {
                n as f64 / t.as_secs_f64()
            }
        };
        let report = Report {
            model: args.model.model.clone(),
            prompt_tokens: prompt.len(),
            ids,
            text: text_out,
            stop,
            prefill_ms: stats.prefill_time.as_secs_f64() * 1e3,
            decode_ms: stats.decode_time.as_secs_f64() * 1e3,
            prefill_tokens_per_s: per_s(stats.prefill_tokens.max(1), stats.prefill_time),
            decode_tokens_per_s: per_s(stats.decode_tokens, stats.decode_time),
            load_ms,
            load_pin_alloc_ms: ms(model.weights.times.pin_alloc),
            load_pin_copy_ms: ms(model.weights.times.pin_copy),
            load_pinned_bytes: model.weights.times.pinned_bytes,
            load_gpu_upload_ms: ms(model.weights.times.gpu_upload),
            first_token_ms,
            sample_ms: sample_time.as_secs_f64() * 1e3,
            graphs_built: stats.graphs_built,
            build_ms: stats.build_time.as_secs_f64() * 1e3,
            inputs_ms: stats.input_time.as_secs_f64() * 1e3,
            compute_ms: stats.compute_time.as_secs_f64() * 1e3,
            placement: model.placement.to_string(),
            flash_attn: session.flash_attn(),
        };
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        writeln!(out)?;
    }
    Ok(())
}
