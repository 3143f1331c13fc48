//! `kchat -m FILE [flags]`: the chat's command line (llama-cli's flags plus
//! kchat's own). On a terminal it starts the REPL ([`super::repl`]); with
//! standard input not a terminal, the whole input is one user message, the
//! final answer goes to standard output (reasoning to standard error with
//! `--show-reasoning`), and kchat exits.

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;

use anyhow::{bail, Context as _, Result};

use super::agent::{agent_turn, AgentUi, MessageKind};
use super::ui::Style;
use super::{Chat, TurnEnd, TurnEvent};
use crate::engine::{ModelArgs, SamplerArgs, Session};
use crate::gguf::GgufModel;
use crate::harmony::{Conversation, Persona, ReasoningEffort, SystemSettings};
use crate::model::Model;
use crate::tokenizer::Tokenizer;
use crate::tools::{
    declarations, ApprovalRequest, Approver, Decision, Policy, ToolArgs, ToolCall, ToolOutcome,
};

/// When to color the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColorWhen {
    /// On a terminal, unless `NO_COLOR` is set.
    #[default]
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// The chat's flags.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Chat")]
pub struct ChatArgs {
    /// The first message; as in llama-cli's chat mode it is taken as the
    /// system prompt (e.g. `-p "Persona: lawful_evil"`).
    #[arg(short = 'p', long = "prompt", value_name = "TEXT")]
    pub prompt: Option<String>,
    /// System prompt, placed under `# Instructions` in the developer message.
    #[arg(long = "system-prompt", visible_alias = "sys", value_name = "TEXT")]
    pub system_prompt: Option<String>,
    /// Tokens a reply may use at most (-1: until it ends or the context is full).
    #[arg(short = 'n', long = "n-predict", value_name = "N", default_value_t = -1, allow_negative_numbers = true)]
    pub n_predict: i64,
    /// The persona: `Persona: NAME` in the developer message.
    #[arg(long, value_name = "NAME")]
    pub persona: Option<String>,
    /// Reasoning effort: low, medium or high.
    #[arg(long, value_name = "LEVEL", default_value = "medium")]
    pub reasoning: String,
    /// Show the model's reasoning (dimmed; to stderr when piped).
    #[arg(long, overrides_with = "hide_reasoning")]
    pub show_reasoning: bool,
    /// Hide the model's reasoning (the default).
    #[arg(long)]
    pub hide_reasoning: bool,
    /// A chat template file, accepted for llama-cli compatibility; kchat's
    /// harmony renderer stays authoritative.
    #[arg(long = "chat-template-file", value_name = "FILE")]
    pub chat_template_file: Option<PathBuf>,
    /// Colors: auto (a terminal without `NO_COLOR`), always or never.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ColorWhen::Auto)]
    pub color: ColorWhen,
    /// The input history file (default: ~/.local/share/kchat/history).
    #[arg(long, value_name = "FILE")]
    pub history: Option<PathBuf>,
    /// Model, placement, context and batch flags.
    #[command(flatten)]
    pub model: ModelArgs,
    /// Sampling flags.
    #[command(flatten)]
    pub sampling: SamplerArgs,
    /// Tool flags.
    #[command(flatten)]
    pub tools: ToolArgs,
    /// Replies written in advance: the harmony text (special tokens
    /// included) of what the model says, consumed token by token before
    /// sampling takes over. For tests and demos of tool calls on synthetic
    /// models, whose random weights never call a tool.
    #[arg(long, value_name = "FILE", hide = true)]
    pub script_replies: Option<PathBuf>,
}

impl ChatArgs {
    /// The conversation these flags start: system settings with the
    /// reasoning level, the persona and system prompt as instructions, and
    /// the tools unless `--no-tools`.
    pub fn conversation(&self) -> Result<Conversation> {
        let extra = self.system_prompt.iter().chain(&self.prompt).cloned();
        let mut conv = start_conversation(&self.reasoning, self.persona.as_deref(), extra)?;
        if !self.tools.no_tools {
            conv.tools = declarations();
        }
        Ok(conv)
    }
}

/// A conversation with today's date, the reasoning level `reasoning`
/// (`--reasoning`), and as developer instructions the persona `persona`
/// (`--persona`) followed by `extra` (system prompts), one per line.
pub fn start_conversation(
    reasoning: &str,
    persona: Option<&str>,
    extra: impl IntoIterator<Item = String>,
) -> Result<Conversation> {
    let reasoning: ReasoningEffort = reasoning
        .parse()
        .map_err(|e| anyhow::anyhow!("--reasoning: {e}"))?;
    let mut conv = Conversation::new().with_system(SystemSettings {
        reasoning_effort: reasoning,
        conversation_start_date: Some(crate::harmony::CalendarDate::today_utc()),
        ..SystemSettings::default()
    });
    let mut instructions = Vec::new();
    if let Some(p) = persona {
        let persona: Persona = p.parse().map_err(|e| anyhow::anyhow!("--persona: {e}"))?;
        instructions.push(persona.instructions());
    }
    instructions.extend(extra);
    if !instructions.is_empty() {
        conv = conv.with_instructions(instructions.join("\n"));
    }
    Ok(conv)
}

/// Runs the chat: the REPL on a terminal, else the non-interactive mode.
pub fn run(args: &ChatArgs) -> Result<()> {
    let conversation = args.conversation()?;
    let interactive = std::io::stdin().is_terminal();
    let message = if interactive {
        None
    } else {
        let mut message = String::new();
        std::io::stdin()
            .read_to_string(&mut message)
            .context("reading the message from standard input")?;
        let message = message.trim_end().to_owned();
        if message.is_empty() {
            bail!("standard input is empty: nothing to send");
        }
        Some(message)
    };
    let script = read_flag_file("--script-replies", args.script_replies.as_deref())?;
    let template = read_flag_file("--chat-template-file", args.chat_template_file.as_deref())?;
    let mut tools = args
        .tools
        .toolbox(Default::default())
        .map_err(|e| anyhow::anyhow!("--workspace: {e}"))?;
    let opts = args.model.options();
    let gguf = GgufModel::open(&args.model.model)?;
    let model_template = gguf.get("tokenizer.chat_template").and_then(|v| v.as_str());
    if template.is_some_and(|t| Some(t.trim()) != model_template.map(str::trim)) {
        eprintln!("kchat: --chat-template-file differs from the model's template; kchat renders harmony itself, so the file is not used");
    }
    let tok = Tokenizer::from_gguf(|k| gguf.get(k))
        .with_context(|| format!("{}: tokenizer", gguf.path().display()))?;
    let model = Model::load(&gguf, &opts, &mut crate::run::upload_progress())?;
    if let Some(n) = &model.notice {
        eprintln!("kchat: {n}");
    }
    let mut session = Session::new(&model)?;
    let mut chat = Chat::new(&mut session, &tok, args.sampling.config(), conversation);
    chat.max_tokens = usize::try_from(args.n_predict).ok();
    tools.set_cancel(chat.cancel_flag());
    if let Some(text) = script {
        let then = crate::engine::Sampler::new(args.sampling.config());
        chat.set_token_source(Box::new(super::Scripted::new(
            tok.encode(&text, true),
            then,
        )));
    }
    let show_reasoning = args.show_reasoning && !args.hide_reasoning;
    let Some(message) = message else {
        let color = match args.color {
            ColorWhen::Always => true,
            ColorWhen::Never => false,
            ColorWhen::Auto => {
                std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
            }
        };
        let style = Style { color };
        let name = args
            .model
            .model
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        println!(
            "kchat {} · {name} · context {} · {} · persona {} · reasoning {}",
            env!("CARGO_PKG_VERSION"),
            chat.session().n_ctx(),
            model.placement,
            args.persona.as_deref().unwrap_or("none"),
            chat.conversation.system.reasoning_effort
        );
        let tools_line = if tools.enabled {
            format!(
                "tools: bash read write edit · approval {} · workspace {}",
                tools.policy,
                tools.workspace().root().display()
            )
        } else {
            "tools: off".to_owned()
        };
        println!("{}", style.dim(&tools_line));
        if tools.enabled && tools.policy == Policy::Auto {
            println!(
                "{}",
                style.red("--approval auto: tool calls inside the workspace run without asking (paths outside still ask)")
            );
        }
        println!(
            "{}",
            style.dim(
                "/help lists the commands · Tab completes · Ctrl-C stops a reply · Ctrl-D leaves"
            )
        );
        let mut repl = super::repl::Repl {
            chat: &mut chat,
            tools: &mut tools,
            tokenizer: &tok,
            show_reasoning,
            style,
            history: args.history.clone().or_else(super::repl::default_history),
            interrupted: Vec::new(),
            typed_ahead: String::new(),
        };
        return repl.run();
    };
    let mut ui = PipedUi {
        out: std::io::stdout().lock(),
        show_reasoning,
        kind: MessageKind::default(),
        failed: None,
        policy: tools.policy,
    };
    let stats = agent_turn(&mut chat, &mut tools, Some(&message), &mut ui)?;
    if let Some(e) = ui.failed {
        return Err(e).context("writing the answer to standard output");
    }
    writeln!(ui.out).context("writing the answer to standard output")?;
    match stats.end {
        TurnEnd::Answered | TurnEnd::Limit | TurnEnd::ToolCall => Ok(()),
        TurnEnd::ContextFull => {
            eprintln!(
                "kchat: the context (-c {}) is full; the answer is cut off",
                opts.n_ctx
            );
            Ok(())
        }
        TurnEnd::Interrupted => bail!("interrupted"),
    }
}

/// The text of the file a flag names, if it names one; the error names
/// the flag and the file.
fn read_flag_file(flag: &str, path: Option<&std::path::Path>) -> Result<Option<String>> {
    path.map(|f| std::fs::read_to_string(f).with_context(|| format!("{flag} {}", f.display())))
        .transpose()
}

/// The non-interactive front end: the final answer to stdout, reasoning
/// (with `--show-reasoning`) and tool activity to stderr; nobody can answer
/// an approval prompt, so calls the policy does not allow are denied.
struct PipedUi {
    out: std::io::StdoutLock<'static>,
    show_reasoning: bool,
    kind: MessageKind,
    failed: Option<std::io::Error>,
    policy: Policy,
}

impl AgentUi for PipedUi {
    fn stream(&mut self, event: TurnEvent) {
        match event {
            TurnEvent::Start(h) => self.kind = MessageKind::of(&h),
            TurnEvent::Text(_) if self.kind == MessageKind::Call => {}
            TurnEvent::Text(s)
                if matches!(self.kind, MessageKind::Reasoning | MessageKind::Commentary) =>
            {
                if self.show_reasoning {
                    eprint!("{s}");
                }
            }
            TurnEvent::Text(s) => {
                if let Err(e) = self
                    .out
                    .write_all(s.as_bytes())
                    .and_then(|()| self.out.flush())
                {
                    self.failed.get_or_insert(e);
                }
            }
        }
    }

    fn call_started(&mut self, name: &str, arguments: &str) {
        eprintln!("kchat: tool call {name} {arguments}");
    }

    fn call_finished(&mut self, _: Option<&ToolCall>, outcome: &ToolOutcome) {
        match outcome {
            ToolOutcome::Ran { for_user, .. } => eprintln!("{for_user}"),
            other => eprintln!("kchat: {}", other.for_model()),
        }
    }

    fn notice(&mut self, text: &str) {
        eprintln!("kchat: {text}");
    }
}

impl Approver for PipedUi {
    fn approve(&mut self, _: &ApprovalRequest) -> Decision {
        eprintln!(
            "kchat: denied: no one can approve tool calls when standard input is not a terminal (--approval {}; read-only or auto allow calls inside the workspace)",
            self.policy
        );
        Decision::Deny {
            reason: Some(
                "kchat runs non-interactively and the user's policy does not allow this call"
                    .to_owned(),
            ),
        }
    }
}
