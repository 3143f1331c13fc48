//! The chat's slash commands: parsing a line into a [`SlashCommand`],
//! completing command and persona names, and suggesting the nearest command
//! for a mistyped one.

use crate::harmony::{Persona, ReasoningEffort};

/// The commands, with their one-line help, in the order `/help` lists them.
pub const COMMANDS: [(&str, &str); 14] = [
    ("/help", "list the commands"),
    (
        "/persona",
        "[NAME|none|list] switch persona (no argument: show it)",
    ),
    ("/reasoning", "low|medium|high: set the reasoning level"),
    ("/think", "show|hide: show or hide the reasoning"),
    ("/clear", "start a new conversation"),
    ("/save", "FILE: save the transcript and settings as JSON"),
    ("/load", "FILE: load a saved transcript"),
    ("/regen", "regenerate the last answer"),
    ("/undo", "remove the last exchange"),
    ("/stats", "speed and cache figures of the session"),
    ("/context", "tokens used per message"),
    ("/prompt", "show the exact rendered prompt text"),
    (
        "/tools",
        "[on|off] let the model call tools (no argument: show them and what is allowed)",
    ),
    ("/exit", "leave"),
];

/// What a `/persona` argument asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PersonaArg {
    /// Show the current persona.
    Show,
    /// List the personas.
    List,
    /// No persona.
    None,
    /// Switch to this one.
    Set(Persona),
}

/// A parsed slash command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlashCommand {
    /// `/help`.
    Help,
    /// `/persona …`.
    Persona(PersonaArg),
    /// `/reasoning LEVEL`.
    Reasoning(ReasoningEffort),
    /// `/think show|hide`: true shows.
    Think(bool),
    /// `/clear`.
    Clear,
    /// `/save FILE`.
    Save(String),
    /// `/load FILE`.
    Load(String),
    /// `/regen`.
    Regen,
    /// `/undo`.
    Undo,
    /// `/stats`.
    Stats,
    /// `/context`.
    Context,
    /// `/prompt`.
    Prompt,
    /// `/tools [on|off]`: Some(true) turns them on, None shows them.
    Tools(Option<bool>),
    /// `/exit`.
    Exit,
}

/// Parses a line starting with `/`; the error is a message for the user.
pub fn parse(line: &str) -> Result<SlashCommand, String> {
    let mut words = line.split_whitespace();
    let name = words.next().unwrap_or_default();
    let rest: Vec<&str> = words.collect();
    let arg = rest.join(" ");
    let one_of = |choices: [&str; 2]| -> Result<bool, String> {
        match arg.as_str() {
            a if a == choices[0] => Ok(true),
            a if a == choices[1] => Ok(false),
            _ => Err(format!("{name}: expected {} or {}", choices[0], choices[1])),
        }
    };
    let file = || -> Result<String, String> {
        if arg.is_empty() {
            Err(format!("{name}: which file?"))
        } else {
            Ok(arg.clone())
        }
    };
    Ok(match name {
        "/help" => SlashCommand::Help,
        "/persona" => SlashCommand::Persona(match arg.as_str() {
            "" => PersonaArg::Show,
            "list" => PersonaArg::List,
            "none" => PersonaArg::None,
            p => PersonaArg::Set(p.parse().map_err(|e| format!("/persona: {e}"))?),
        }),
        "/reasoning" => {
            SlashCommand::Reasoning(arg.parse().map_err(|e| format!("/reasoning: {e}"))?)
        }
        "/think" => SlashCommand::Think(one_of(["show", "hide"])?),
        "/clear" => SlashCommand::Clear,
        "/save" => SlashCommand::Save(file()?),
        "/load" => SlashCommand::Load(file()?),
        "/regen" => SlashCommand::Regen,
        "/undo" => SlashCommand::Undo,
        "/stats" => SlashCommand::Stats,
        "/context" => SlashCommand::Context,
        "/prompt" => SlashCommand::Prompt,
        "/tools" if arg.is_empty() => SlashCommand::Tools(None),
        "/tools" => SlashCommand::Tools(Some(one_of(["on", "off"])?)),
        "/exit" | "/quit" => SlashCommand::Exit,
        other => {
            return Err(match suggest(other) {
                Some(s) => format!("unknown command {other}; did you mean {s}? (/help lists them)"),
                None => format!("unknown command {other} (/help lists them)"),
            })
        }
    })
}

/// The command nearest to `typed` by edit distance, if it is close.
pub fn suggest(typed: &str) -> Option<&'static str> {
    COMMANDS
        .iter()
        .map(|(c, _)| (edit_distance(typed, c), *c))
        .filter(|&(d, c)| d <= 2 || c.starts_with(typed))
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

/// Completions of `line` at its end: command names, then persona names
/// after `/persona `. Returns where the completed word starts and the
/// candidates.
pub fn complete(line: &str) -> (usize, Vec<String>) {
    if let Some(arg) = line.strip_prefix("/persona ") {
        let start = line.len() - arg.len();
        let names = Persona::ALL
            .iter()
            .map(|p| p.to_string())
            .chain(["none".to_string(), "list".to_string()])
            .filter(|n| n.starts_with(arg))
            .collect();
        return (start, names);
    }
    if line.starts_with('/') && !line.contains(' ') {
        let names = COMMANDS
            .iter()
            .map(|(c, _)| c.to_string())
            .filter(|c| c.starts_with(line))
            .collect();
        return (0, names);
    }
    (line.len(), Vec::new())
}

/// Levenshtein distance (the command names are short).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_with_their_arguments() {
        assert_eq!(parse("/help"), Ok(SlashCommand::Help));
        assert_eq!(
            parse("/persona lawful_evil"),
            Ok(SlashCommand::Persona(PersonaArg::Set(Persona::LawfulEvil)))
        );
        assert_eq!(
            parse("/persona"),
            Ok(SlashCommand::Persona(PersonaArg::Show))
        );
        assert_eq!(
            parse("/persona none"),
            Ok(SlashCommand::Persona(PersonaArg::None))
        );
        assert_eq!(
            parse("/reasoning high"),
            Ok(SlashCommand::Reasoning(ReasoningEffort::High))
        );
        assert_eq!(parse("/think hide"), Ok(SlashCommand::Think(false)));
        assert_eq!(
            parse("/save my chat.json"),
            Ok(SlashCommand::Save("my chat.json".into()))
        );
        assert_eq!(parse("/tools off"), Ok(SlashCommand::Tools(Some(false))));
        assert_eq!(parse("/tools"), Ok(SlashCommand::Tools(None)));
        assert_eq!(parse("/quit"), Ok(SlashCommand::Exit));
    }

    #[test]
    fn bad_commands_say_what_is_wrong() {
        let e = parse("/persna lawful_evil").expect_err("typo");
        assert!(e.contains("did you mean /persona"), "{e}");
        assert!(parse("/think maybe")
            .expect_err("bad")
            .contains("show or hide"));
        assert!(parse("/persona lawful_weird")
            .expect_err("bad")
            .starts_with("/persona:"));
        assert!(parse("/save").expect_err("no file").contains("which file"));
        assert_eq!(suggest("/xyzzy"), None);
        assert_eq!(suggest("/reasonng"), Some("/reasoning"));
        assert!(suggest("/re").is_some_and(|c| c.starts_with("/re")));
    }

    #[test]
    fn completion_offers_commands_and_personas() {
        assert_eq!(complete("/pe"), (0, vec!["/persona".to_string()]));
        let (start, names) = complete("/persona lawful_");
        assert_eq!(start, "/persona ".len());
        assert_eq!(names, ["lawful_good", "lawful_neutral", "lawful_evil"]);
        assert!(complete("hello").1.is_empty());
    }
}
