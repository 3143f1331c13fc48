//! The `kchat` command line: argument parsing and dispatch only; the work
//! lives in the library modules.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use anyhow::Result;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use kchat::{ggml, mkmodel, tokenizer, version};

/// kchat: chat with gpt-oss models from GGUF files, offline.
///
/// `kchat -m FILE [flags]` starts the chat (for now: one message piped in,
/// the answer out); the subcommands below do the rest.
#[derive(Parser)]
#[command(
    name = "kchat",
    version,
    about,
    disable_help_subcommand = true,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    arg_required_else_help = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,

    #[command(flatten)]
    chat: ChatCli,
}

/// The chat's flags at the top level, present when `-m` is (written by
/// hand: clap's derive leaves an optional flattened group with nested groups
/// unset).
struct ChatCli(Option<Box<kchat::chat::ChatArgs>>);

impl FromArgMatches for ChatCli {
    fn from_arg_matches(m: &clap::ArgMatches) -> Result<Self, clap::Error> {
        Self::from_arg_matches_mut(&mut m.clone())
    }

    fn from_arg_matches_mut(m: &mut clap::ArgMatches) -> Result<Self, clap::Error> {
        if m.subcommand_name().is_some() || !m.contains_id("model") {
            return Ok(ChatCli(None));
        }
        Ok(ChatCli(Some(Box::new(
            kchat::chat::ChatArgs::from_arg_matches_mut(m)?,
        ))))
    }

    fn update_from_arg_matches(&mut self, m: &clap::ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(m)?;
        Ok(())
    }
}

impl clap::Args for ChatCli {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        <kchat::chat::ChatArgs as clap::Args>::augment_args(cmd)
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

#[derive(Subcommand)]
enum Command {
    /// One-shot completion: wrap the prompt as a chat message, stream the answer.
    Run(kchat::run::RunArgs),
    /// Write a synthetic gpt-oss model (seeded random weights) as GGUF.
    Mkmodel(mkmodel::MkmodelArgs),
    /// Describe a GGUF model: hyper-parameters, tokenizer, tensors.
    Inspect(kchat::inspect::InspectArgs),
    /// Text to token ids (and pieces), with the model's vocabulary.
    Tokenize(tokenizer::cli::TokenizeArgs),
    /// Token ids back to text.
    Detokenize(tokenizer::cli::DetokenizeArgs),
    /// Speed of a model (`kchat bench -m MODEL`, llama-bench style) or of
    /// the tokenizer (`kchat bench tokenizer`).
    Bench(BenchCli),
    /// List the compute devices ggml found (CPU, CUDA GPUs, ...).
    Devices,
}

/// `kchat bench`: the model benchmark (`-m FILE ...`), or a named one.
///
/// Written by hand: clap's derive cannot make an optional flattened group
/// that itself flattens another (`BenchArgs` holds `ModelArgs`).
enum BenchCli {
    /// `kchat bench -m MODEL ...`.
    Model(Box<kchat::bench::BenchArgs>),
    /// `kchat bench tokenizer ...`.
    Named(BenchCommand),
}

impl FromArgMatches for BenchCli {
    fn from_arg_matches(m: &clap::ArgMatches) -> Result<Self, clap::Error> {
        Self::from_arg_matches_mut(&mut m.clone())
    }

    fn from_arg_matches_mut(m: &mut clap::ArgMatches) -> Result<Self, clap::Error> {
        if m.subcommand_name().is_some() {
            Ok(BenchCli::Named(BenchCommand::from_arg_matches_mut(m)?))
        } else {
            Ok(BenchCli::Model(Box::new(
                kchat::bench::BenchArgs::from_arg_matches_mut(m)?,
            )))
        }
    }

    fn update_from_arg_matches(&mut self, m: &clap::ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(m)?;
        Ok(())
    }
}

impl clap::Args for BenchCli {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        let cmd = <kchat::bench::BenchArgs as clap::Args>::augment_args(cmd);
        BenchCommand::augment_subcommands(cmd)
            .args_conflicts_with_subcommands(true)
            .subcommand_negates_reqs(true)
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Tokenizer speed beside tiktoken-rs: a 1 MB corpus and a 131,072-token prompt.
    Tokenizer(tokenizer::cli::TokenizerBenchArgs),
    /// kchat's logits and greedy text under a placement, against libllama and
    /// against kchat on the CPU (the GPU correctness check).
    Parity(kchat::bench::parity::ParityArgs),
    /// A scripted conversation: per turn, prompt tokens reused from the KV
    /// cache, tokens evaluated, time to the first token.
    Chat(kchat::bench::chat::ChatBenchArgs),
}

fn main() -> ExitCode {
    let matches = Cli::command()
        .long_version(version::long_version())
        .get_matches_from(kchat::engine::options::llama_style_args(std::env::args_os()));
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kchat: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Some(Command::Run(args)) => kchat::run::run(&args),
        Some(Command::Mkmodel(args)) => mkmodel::run(&args),
        Some(Command::Inspect(args)) => kchat::inspect::run(&args),
        Some(Command::Tokenize(args)) => tokenizer::cli::run_tokenize(&args),
        Some(Command::Detokenize(args)) => tokenizer::cli::run_detokenize(&args),
        Some(Command::Bench(BenchCli::Named(BenchCommand::Tokenizer(args)))) => {
            tokenizer::cli::run_bench(&args)
        }
        Some(Command::Bench(BenchCli::Model(args))) => kchat::bench::run(&args),
        Some(Command::Bench(BenchCli::Named(BenchCommand::Parity(args)))) => {
            kchat::bench::parity::run(&args)
        }
        Some(Command::Bench(BenchCli::Named(BenchCommand::Chat(args)))) => {
            kchat::bench::chat::run(&args)
        }
        Some(Command::Devices) => {
            for d in ggml::Device::all() {
                let (free, total) = d.memory();
                println!(
                    "{:<8} {:<14} {:>8.1} / {:>8.1} GiB free  {}",
                    d.name(),
                    format!("{:?}", d.kind()),
                    free as f64 / (1u64 << 30) as f64,
                    total as f64 / (1u64 << 30) as f64,
                    d.description()
                );
            }
            Ok(())
        }
        None => match cli.chat.0 {
            Some(args) => kchat::chat::cli::run(&args),
            None => {
                Cli::command().print_help()?;
                Ok(())
            }
        },
    }
}
