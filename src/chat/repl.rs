//! The interactive chat on a terminal: rustyline for input (history file,
//! Tab completion of commands and personas, `\` to continue a line), the
//! reply streamed token by token (reasoning dimmed, or one "thinking…" line
//! when hidden), a dim status line after each reply, and Ctrl-C to stop a
//! reply within one token.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, Result};
use rustyline::completion::Completer;
use rustyline::error::ReadlineError;
use rustyline::history::DefaultHistory;
use rustyline::{Editor, Helper, Highlighter, Hinter, Validator};

use super::agent::{agent_turn, AgentStats};
use super::commands::{self, PersonaArg, SlashCommand};
use super::ui::{KeyPump, RawMode, Style, TermUi};
use super::{Chat, TurnEnd};
use crate::harmony::{
    render_message_tokens, render_text, Author, Conversation, Persona, RenderTarget,
};
use crate::tokenizer::Tokenizer;
use crate::tools::{declarations, Toolbox};

/// Completes slash commands and persona names.
#[derive(Helper, Hinter, Highlighter, Validator)]
struct ChatHelper;

impl Completer for ChatHelper {
    type Candidate = String;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _: &rustyline::Context<'_>,
    ) -> rustyline::Result<(usize, Vec<String>)> {
        Ok(commands::complete(&line[..pos]))
    }
}

/// What the REPL keeps beside the chat.
pub struct Repl<'c, 's, 'm, 'f> {
    /// The conversation and its session.
    pub chat: &'c mut Chat<'s, 'm, 'f>,
    /// The tools and what the user allowed.
    pub tools: &'c mut Toolbox,
    /// The tokenizer (for `/context`).
    pub tokenizer: &'s Tokenizer,
    /// Show the reasoning.
    pub show_reasoning: bool,
    /// Colors.
    pub style: Style,
    /// The history file.
    pub history: Option<PathBuf>,
    /// Messages of replies cut short by Ctrl-C (saved with the transcript).
    pub interrupted: Vec<usize>,
    /// Text typed while the last turn ran: the next prompt starts with it.
    pub typed_ahead: String,
}

/// The default history file: `$XDG_DATA_HOME/kchat/history` or
/// `~/.local/share/kchat/history`.
pub fn default_history() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))?;
    Some(base.join("kchat").join("history"))
}

impl Repl<'_, '_, '_, '_> {
    /// Reads and answers lines until `/exit`, Ctrl-D, or Ctrl-C twice on an
    /// empty line.
    pub fn run(&mut self) -> Result<()> {
        let mut ed: Editor<ChatHelper, DefaultHistory> =
            Editor::new().context("cannot start line editing on this terminal")?;
        ed.set_helper(Some(ChatHelper));
        if let Some(h) = &self.history {
            if let Some(dir) = h.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            let _ = ed.load_history(h);
        }
        let mut armed_exit = false;
        loop {
            let typed = std::mem::take(&mut self.typed_ahead);
            let line = match read_message(&mut ed, &typed) {
                Ok(line) => line,
                Err(ReadlineError::Interrupted) => {
                    if armed_exit {
                        return Ok(());
                    }
                    armed_exit = true;
                    println!("{}", self.style.dim("(Ctrl-C again or Ctrl-D to leave)"));
                    continue;
                }
                Err(ReadlineError::Eof) => return Ok(()),
                Err(e) => return Err(e).context("reading the terminal"),
            };
            armed_exit = false;
            if line.trim().is_empty() {
                continue;
            }
            let _ = ed.add_history_entry(line.as_str());
            if let Some(h) = &self.history {
                let _ = ed.save_history(h);
            }
            if line.starts_with('/') {
                match commands::parse(line.trim()) {
                    Ok(SlashCommand::Exit) => return Ok(()),
                    Ok(cmd) => self.command(cmd)?,
                    Err(msg) => println!("{msg}"),
                }
                continue;
            }
            let stats = self.generate(Some(&line))?;
            self.status(&stats);
        }
    }

    /// Runs one slash command.
    fn command(&mut self, cmd: SlashCommand) -> Result<()> {
        let conv = &mut self.chat.conversation;
        match cmd {
            SlashCommand::Help => {
                for (c, h) in commands::COMMANDS {
                    println!("  {c:<11} {h}");
                }
            }
            SlashCommand::Persona(arg) => match arg {
                PersonaArg::Show => println!("persona: {}", persona_of(conv)),
                PersonaArg::List => {
                    for p in Persona::ALL {
                        println!("  {p}");
                    }
                }
                PersonaArg::None => {
                    conv.instructions = None;
                    println!("persona: none (from the next reply on)");
                }
                PersonaArg::Set(p) => {
                    conv.instructions = Some(p.instructions());
                    println!("persona: {p} (from the next reply on)");
                }
            },
            SlashCommand::Reasoning(r) => {
                conv.system.reasoning_effort = r;
                println!("reasoning: {r}");
            }
            SlashCommand::Think(show) => self.show_reasoning = show,
            SlashCommand::Clear => {
                conv.messages.clear();
                self.tools.reset();
                self.interrupted.clear();
                println!("{}", self.style.dim("new conversation"));
            }
            SlashCommand::Save(file) => {
                let t = Transcript {
                    conversation: conv.clone(),
                    show_reasoning: self.show_reasoning,
                    interrupted: self.interrupted.clone(),
                };
                let text = serde_json::to_string_pretty(&t)?;
                std::fs::write(&file, text).with_context(|| format!("/save {file}"))?;
                println!("saved {} messages to {file}", conv.messages.len());
            }
            SlashCommand::Load(file) => match load(&file) {
                Ok(t) => {
                    *conv = t.conversation;
                    self.tools.reset();
                    self.tools.enabled = !conv.tools.is_empty();
                    self.show_reasoning = t.show_reasoning;
                    self.interrupted = t.interrupted;
                    println!("loaded {} messages from {file}", conv.messages.len());
                }
                Err(e) => println!("/load {file}: {e:#}"),
            },
            SlashCommand::Regen => {
                match conv.messages.iter().rposition(|m| m.author == Author::User) {
                    Some(i) => {
                        conv.messages.truncate(i + 1);
                        self.interrupted.retain(|&m| m <= i);
                        let stats = self.generate(None)?;
                        self.status(&stats);
                    }
                    None => println!("nothing to regenerate"),
                }
            }
            SlashCommand::Undo => {
                match conv.messages.iter().rposition(|m| m.author == Author::User) {
                    Some(i) => {
                        conv.messages.truncate(i);
                        self.interrupted.retain(|&m| m < i);
                        println!("{}", self.style.dim("removed the last exchange"));
                    }
                    None => println!("nothing to undo"),
                }
            }
            SlashCommand::Stats => {
                let st = self.chat.session().stats();
                let rate = |n: u64, t: Duration| n as f64 / t.as_secs_f64().max(1e-9);
                println!(
                    "prefill {} tokens at {:.1} t/s, decode {} tokens at {:.1} t/s, {} graphs built, context {}/{}",
                    st.prefill_tokens,
                    rate(st.prefill_tokens, st.prefill_time),
                    st.decode_tokens,
                    rate(st.decode_tokens, st.decode_time),
                    st.graphs_built,
                    self.chat.session().history().len(),
                    self.chat.session().n_ctx()
                );
            }
            SlashCommand::Context => {
                for m in conv.rendered_messages() {
                    let n = render_message_tokens(m, self.tokenizer).len();
                    let head: String = m.content.chars().take(48).collect();
                    println!("  {n:>6}  {:<9} {head}", format!("{:?}", m.author.role()));
                }
                println!(
                    "  {:>6}  whole prompt (system and developer messages included)",
                    self.chat.prompt_tokens().len()
                );
            }
            SlashCommand::Prompt => println!("{}", render_text(conv, RenderTarget::Completion)),
            SlashCommand::Tools(on) => self.tools_command(on),
            SlashCommand::Exit => {}
        }
        Ok(())
    }

    /// `/tools [on|off]`.
    fn tools_command(&mut self, on: Option<bool>) {
        let conv = &mut self.chat.conversation;
        match on {
            Some(true) => {
                self.tools.enabled = true;
                conv.tools = declarations();
                println!("tools: on (from the next reply on)");
            }
            Some(false) => {
                self.tools.enabled = false;
                conv.tools.clear();
                println!("tools: off (from the next reply on)");
            }
            None => {
                let state = if self.tools.enabled { "on" } else { "off" };
                println!(
                    "tools: {state} · approval {} · workspace {} · bash timeout {} s (max {} s) · {} calls a turn",
                    self.tools.policy,
                    self.tools.workspace().root().display(),
                    self.tools.default_timeout.as_secs_f64(),
                    self.tools.max_timeout.as_secs_f64(),
                    self.tools.max_calls
                );
                for d in declarations() {
                    let first = d.description.lines().next().unwrap_or_default();
                    println!("  {:<6} {first}", d.name);
                }
                for g in self.tools.grants.describe() {
                    println!("  allowed: {g}");
                }
            }
        }
    }

    /// Runs a turn for `user` (None: a reply to the conversation as it is):
    /// the reply streamed, tool calls approved and run, until the answer.
    fn generate(&mut self, user: Option<&str>) -> Result<AgentStats> {
        let raw = RawMode::enable();
        let pump = raw.active.then(|| KeyPump::start(self.chat.cancel_flag()));
        let mut ui = TermUi::new(self.style, self.show_reasoning, pump.as_ref());
        let result = agent_turn(self.chat, self.tools, user, &mut ui);
        if let Ok(s) = &result {
            let conv = &self.chat.conversation;
            if s.end == TurnEnd::Interrupted
                && conv
                    .messages
                    .last()
                    .is_some_and(|m| m.author == Author::Assistant)
            {
                self.interrupted.push(conv.messages.len() - 1);
            }
        }
        self.typed_ahead = pump.map(KeyPump::finish).unwrap_or_default();
        drop(raw);
        println!();
        Ok(result?)
    }

    /// The dim line after a turn.
    fn status(&self, turn: &AgentStats) {
        let Some(s) = turn.total() else { return };
        let rate = |n: usize, t: Duration| n as f64 / t.as_secs_f64().max(1e-9);
        let mut line = format!(
            "{} tokens · prefill {} at {:.0} t/s ({} cached) · decode {:.1} t/s · context {}/{}",
            s.generated,
            s.prefilled,
            rate(s.prefilled, s.prefill_time),
            s.reused,
            rate(s.generated.saturating_sub(1), s.decode_time),
            self.chat.session().history().len(),
            self.chat.session().n_ctx()
        );
        if turn.calls > 0 {
            let c = if turn.calls == 1 { "" } else { "s" };
            line.push_str(&format!(" · {} tool call{c}", turn.calls));
        }
        match s.end {
            TurnEnd::Interrupted => line.push_str(" · interrupted"),
            TurnEnd::ContextFull => line.push_str(" · context full"),
            TurnEnd::Limit => line.push_str(" · -n limit"),
            TurnEnd::Answered | TurnEnd::ToolCall => {}
        }
        if s.dropped_exchanges > 0 {
            line.push_str(&format!(
                " · dropped the {} oldest exchanges",
                s.dropped_exchanges
            ));
        }
        println!("{}", self.style.dim(&line));
    }
}

/// One message, starting with what was `typed` ahead: lines ending in `\`
/// continue on the next.
fn read_message(
    ed: &mut Editor<ChatHelper, DefaultHistory>,
    typed: &str,
) -> rustyline::Result<String> {
    let mut text = ed.readline_with_initial("> ", (typed, ""))?;
    while text.ends_with('\\') {
        text.pop();
        text.push('\n');
        text.push_str(&ed.readline("… ")?);
    }
    Ok(text)
}

/// The persona a conversation's instructions name, or "none".
fn persona_of(conv: &Conversation) -> String {
    conv.instructions
        .as_deref()
        .and_then(|i| Persona::ALL.into_iter().find(|p| p.instructions() == i))
        .map_or_else(|| "none".to_owned(), |p| p.to_string())
}

/// What `/save` writes: the conversation (with its system settings and
/// persona), the display settings, and which replies were interrupted.
#[derive(serde::Serialize, serde::Deserialize)]
struct Transcript {
    conversation: Conversation,
    show_reasoning: bool,
    /// Indices into the conversation's messages of replies cut short by
    /// Ctrl-C.
    #[serde(default)]
    interrupted: Vec<usize>,
}

fn load(file: &str) -> Result<Transcript> {
    let text = std::fs::read_to_string(file)?;
    Ok(serde_json::from_str(&text)?)
}
