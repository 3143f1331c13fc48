//! The interactive chat on a terminal: rustyline for input (history file,
//! Tab completion of commands and personas, `\` to continue a line), the
//! reply streamed token by token (reasoning dimmed, or one "thinking…" line
//! when hidden), a dim status line after each reply, and Ctrl-C to stop a
//! reply within one token.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use crossterm::event::{self, Event, KeyCode, KeyEvent, KeyModifiers};
use crossterm::terminal;
use rustyline::completion::Completer;
use rustyline::error::ReadlineError;
use rustyline::history::DefaultHistory;
use rustyline::{Editor, Helper, Highlighter, Hinter, Validator};

use super::commands::{self, PersonaArg, SlashCommand};
use super::{Chat, TurnEnd, TurnEvent, TurnStats};
use crate::harmony::{
    render_message_tokens, render_text, Author, Channel, Conversation, Persona, RenderTarget,
};
use crate::tokenizer::Tokenizer;

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

/// Terminal styling, off for `--color never`, `NO_COLOR` or a pipe.
#[derive(Clone, Copy)]
pub struct Style {
    /// Whether escape codes are written.
    pub color: bool,
}

impl Style {
    /// `s` dimmed.
    pub fn dim(self, s: &str) -> String {
        if self.color {
            format!("\x1b[2m{s}\x1b[0m")
        } else {
            s.to_owned()
        }
    }
}

/// What the REPL keeps beside the chat.
pub struct Repl<'c, 's, 'm, 'f> {
    /// The conversation and its session.
    pub chat: &'c mut Chat<'s, 'm, 'f>,
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
            let line = match read_message(&mut ed) {
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
            SlashCommand::Tools(_) => println!("tools are not available yet"),
            SlashCommand::Exit => {}
        }
        Ok(())
    }

    /// Streams the reply to `user` (None: to the conversation as it is).
    fn generate(&mut self, user: Option<&str>) -> Result<TurnStats> {
        let raw = RawMode::enable();
        let cancel = self.chat.cancel_flag();
        let done = Arc::new(AtomicBool::new(false));
        let watcher = raw.active.then(|| ctrl_c_watcher(cancel, done.clone()));
        let (style, show) = (self.style, self.show_reasoning);
        let nl = if raw.active { "\r\n" } else { "\n" };
        let mut out = std::io::stdout().lock();
        let mut channel = None;
        let mut thinking_shown = false;
        let mut on = |ev: TurnEvent| {
            let text = match ev {
                TurnEvent::Start(c) => {
                    channel = c;
                    return;
                }
                TurnEvent::Text(s) => s,
            };
            let piece = text.replace('\n', nl);
            let _ = if channel == Some(Channel::Analysis) {
                if show {
                    write!(out, "{}", style.dim(&piece))
                } else if !thinking_shown {
                    thinking_shown = true;
                    write!(out, "{}{nl}", style.dim("thinking…"))
                } else {
                    Ok(())
                }
            } else {
                write!(out, "{piece}")
            };
            let _ = out.flush();
        };
        let result = match user {
            Some(u) => self.chat.turn(u, &mut on),
            None => self.chat.reply(&mut on),
        };
        if let Ok(s) = &result {
            let conv = &self.chat.conversation;
            let last = conv.messages.len();
            if s.end == TurnEnd::Interrupted
                && conv
                    .messages
                    .last()
                    .is_some_and(|m| m.author == Author::Assistant)
            {
                self.interrupted.push(last - 1);
            }
        }
        done.store(true, Ordering::Relaxed);
        if let Some(w) = watcher {
            let _ = w.join();
        }
        drop(raw);
        println!();
        Ok(result?)
    }

    /// The dim line after a reply.
    fn status(&self, s: &TurnStats) {
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

/// One message: lines ending in `\` continue on the next.
fn read_message(ed: &mut Editor<ChatHelper, DefaultHistory>) -> rustyline::Result<String> {
    let mut text = ed.readline("> ")?;
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

/// Raw mode while a reply streams, so Ctrl-C arrives as a key, not a signal.
struct RawMode {
    active: bool,
}

impl RawMode {
    fn enable() -> RawMode {
        RawMode {
            active: terminal::enable_raw_mode().is_ok(),
        }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if self.active {
            let _ = terminal::disable_raw_mode();
        }
    }
}

/// Sets `cancel` when Ctrl-C is pressed, until `done`.
fn ctrl_c_watcher(cancel: Arc<AtomicBool>, done: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        while !done.load(Ordering::Relaxed) {
            if !event::poll(Duration::from_millis(20)).unwrap_or(false) {
                continue;
            }
            if let Ok(Event::Key(KeyEvent {
                code: KeyCode::Char('c'),
                modifiers,
                ..
            })) = event::read()
            {
                if modifiers.contains(KeyModifiers::CONTROL) {
                    cancel.store(true, Ordering::Relaxed);
                }
            }
        }
    })
}
