//! Approval as an explicit round trip: before a call runs, kchat builds an
//! [`ApprovalRequest`] (the call, what it will do, whether it leaves the
//! workspace) and an [`Approver`] answers with a [`Decision`]. The
//! [`Policy`] (`--approval`) and the [`Grants`] the user gave in this chat
//! decide which calls skip the question; a path outside the workspace never
//! does.

use std::collections::BTreeSet;
use std::fmt;
use std::path::PathBuf;

use super::call::{ToolCall, ToolName};

/// Which calls run without asking (`--approval`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Policy {
    /// Every call asks (the default).
    #[default]
    Ask,
    /// `read` inside the workspace runs without asking; the rest asks.
    ReadOnly,
    /// Every call inside the workspace runs without asking.
    Auto,
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Policy::Ask => "ask",
            Policy::ReadOnly => "read-only",
            Policy::Auto => "auto",
        })
    }
}

/// What the user sees of a call before it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Preview {
    /// bash: the command and where it runs.
    Command {
        /// The command line.
        command: String,
        /// The working directory.
        cwd: PathBuf,
    },
    /// read: the file.
    Read {
        /// The resolved path.
        path: PathBuf,
    },
    /// write or edit: the file and a unified diff against what is on disk.
    Change {
        /// The resolved path.
        path: PathBuf,
        /// The unified diff (uncolored).
        diff: String,
        /// For a file that does not exist yet: its number of lines.
        new_file_lines: Option<usize>,
        /// Parent directories the write would create.
        creates_dirs: bool,
    },
}

/// A call waiting for the user's decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalRequest {
    /// The call.
    pub call: ToolCall,
    /// What it will do.
    pub preview: Preview,
    /// The resolved path when it lies outside the workspace: the user must
    /// approve this path by name, under every policy, every time.
    pub outside: Option<PathBuf>,
}

/// A standing permission given with an "always" answer, for the rest of the
/// chat (never written anywhere).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// Every call of this tool (inside the workspace).
    Tool(ToolName),
    /// This exact bash command.
    Command(String),
    /// Simple bash commands (no `;`, `|`, `&`, redirections, substitutions)
    /// whose first word is this.
    FirstWord(String),
}

/// The user's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Run it this once (`y`).
    Once,
    /// Run it and allow the like from now on (`a`, or for bash also `w`).
    Always(Scope),
    /// Do not run it (`n`); the reason goes back to the model.
    Deny {
        /// Why, if the user said.
        reason: Option<String>,
    },
    /// Do not run it and stop the turn (Ctrl-C).
    Abort,
}

/// One answer the prompt offers: its key, its label and what it means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// The key to press.
    pub key: char,
    /// What the prompt says.
    pub label: String,
    /// The decision it makes (a `Deny` here has no reason yet).
    pub decision: Decision,
}

impl ApprovalRequest {
    /// The answers that apply: an outside path offers only yes and no
    /// (it is asked every time); bash offers "always this command"
    /// and, for a simple command, "always commands starting with its first
    /// word"; the other tools offer "always this tool".
    pub fn choices(&self) -> Vec<Choice> {
        let choice = |key, label: &str, decision| Choice {
            key,
            label: label.to_owned(),
            decision,
        };
        let mut out = vec![choice('y', "yes", Decision::Once)];
        if self.outside.is_none() {
            match &self.call {
                ToolCall::Bash { command, .. } => {
                    out.push(choice(
                        'a',
                        "always this command",
                        Decision::Always(Scope::Command(command.clone())),
                    ));
                    if let Some(w) = first_word(command) {
                        out.push(choice(
                            'w',
                            &format!("always `{w} …`"),
                            Decision::Always(Scope::FirstWord(w)),
                        ));
                    }
                }
                call => out.push(choice(
                    'a',
                    &format!("always {}", call.name()),
                    Decision::Always(Scope::Tool(call.name())),
                )),
            }
        }
        out.push(choice('n', "no", Decision::Deny { reason: None }));
        out
    }
}

/// The first word of a simple command: one without shell syntax that could
/// chain another command behind an allowed first word. None otherwise.
pub fn first_word(command: &str) -> Option<String> {
    const SYNTAX: &[char] = &[
        ';', '|', '&', '<', '>', '`', '$', '(', ')', '{', '}', '\n', '\r', '\\', '\'', '"', '*',
        '?', '[', '~', '#', '!',
    ];
    if command.contains(SYNTAX) {
        return None;
    }
    let word = command.split_whitespace().next()?;
    // An assignment prefix (`X=1 cmd`) would make the "first word" misleading.
    (!word.contains('=')).then(|| word.to_owned())
}

/// The permissions given in this chat.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    scopes: BTreeSet<Scope>,
}

impl Grants {
    /// Remembers an "always" answer.
    pub fn add(&mut self, scope: Scope) {
        self.scopes.insert(scope);
    }

    /// Whether `call` (inside the workspace) is covered by an earlier
    /// "always" answer.
    pub fn allows(&self, call: &ToolCall) -> bool {
        if self.scopes.contains(&Scope::Tool(call.name())) {
            return true;
        }
        match call {
            ToolCall::Bash { command, .. } => {
                self.scopes.contains(&Scope::Command(command.clone()))
                    || first_word(command)
                        .is_some_and(|w| self.scopes.contains(&Scope::FirstWord(w)))
            }
            _ => false,
        }
    }

    /// Forgets every permission.
    pub fn clear(&mut self) {
        self.scopes.clear();
    }

    /// The permissions, one line each, for `/tools`.
    pub fn describe(&self) -> Vec<String> {
        self.scopes
            .iter()
            .map(|s| match s {
                Scope::Tool(t) => format!("every {t} call inside the workspace"),
                Scope::Command(c) => format!("bash `{c}`"),
                Scope::FirstWord(w) => format!("bash `{w} …` (simple commands)"),
            })
            .collect()
    }

    /// Whether any permission was given.
    pub fn is_empty(&self) -> bool {
        self.scopes.is_empty()
    }
}

/// Whether `request` may run without asking under `policy` and `grants`.
pub fn preapproved(policy: Policy, grants: &Grants, request: &ApprovalRequest) -> bool {
    if request.outside.is_some() {
        return false;
    }
    if let Preview::Change {
        creates_dirs: true, ..
    } = request.preview
    {
        // Directories are created only on the user's explicit word, or auto.
        return policy == Policy::Auto;
    }
    match policy {
        Policy::Auto => true,
        Policy::ReadOnly if request.call.name() == ToolName::Read => true,
        _ => grants.allows(&request.call),
    }
}

/// Whoever answers approval requests: the terminal prompt, or a script in
/// tests.
pub trait Approver {
    /// The decision on `request`.
    fn approve(&mut self, request: &ApprovalRequest) -> Decision;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bash(c: &str) -> ToolCall {
        ToolCall::Bash {
            command: c.into(),
            timeout: None,
        }
    }

    fn request(call: ToolCall, outside: bool) -> ApprovalRequest {
        ApprovalRequest {
            preview: Preview::Read {
                path: "/w/a".into(),
            },
            call,
            outside: outside.then(|| PathBuf::from("/etc/passwd")),
        }
    }

    #[test]
    fn first_word_only_for_simple_commands() {
        assert_eq!(first_word("git status --short"), Some("git".into()));
        assert_eq!(first_word("  ls"), Some("ls".into()));
        for c in [
            "git status; rm -rf ~",
            "git log | sh",
            "git $(rm x)",
            "git `x`",
            "git a && b",
            "git > f",
            "X=1 git",
            "ls\nrm a",
            "",
        ] {
            assert_eq!(first_word(c), None, "{c:?}");
        }
    }

    #[test]
    fn grants_cover_what_was_granted() {
        let mut g = Grants::default();
        assert!(!g.allows(&bash("ls")));
        g.add(Scope::Command("ls -la".into()));
        assert!(g.allows(&bash("ls -la")));
        assert!(!g.allows(&bash("ls")));
        g.add(Scope::FirstWord("git".into()));
        assert!(g.allows(&bash("git diff")));
        assert!(!g.allows(&bash("git diff; rm -rf /")));
        assert!(!g.allows(&bash("gitx")));
        let read = ToolCall::Read {
            path: "a".into(),
            offset: None,
            limit: None,
        };
        assert!(!g.allows(&read));
        g.add(Scope::Tool(ToolName::Read));
        assert!(g.allows(&read));
        g.clear();
        assert!(g.is_empty() && !g.allows(&read));
    }

    #[test]
    fn policies_and_the_outside_rule() {
        let read = ToolCall::Read {
            path: "a".into(),
            offset: None,
            limit: None,
        };
        let g = Grants::default();
        assert!(!preapproved(Policy::Ask, &g, &request(read.clone(), false)));
        assert!(preapproved(
            Policy::ReadOnly,
            &g,
            &request(read.clone(), false)
        ));
        assert!(!preapproved(
            Policy::ReadOnly,
            &g,
            &request(bash("ls"), false)
        ));
        assert!(preapproved(Policy::Auto, &g, &request(bash("ls"), false)));
        // Outside the workspace: asked even under auto, and even when granted.
        let mut all = Grants::default();
        all.add(Scope::Tool(ToolName::Read));
        assert!(!preapproved(
            Policy::Auto,
            &all,
            &request(read.clone(), true)
        ));
        assert!(!preapproved(Policy::ReadOnly, &all, &request(read, true)));
    }

    #[test]
    fn choices_fit_the_call() {
        let keys = |r: &ApprovalRequest| r.choices().iter().map(|c| c.key).collect::<String>();
        assert_eq!(keys(&request(bash("cargo test"), false)), "yawn");
        assert_eq!(keys(&request(bash("cargo test | tail"), false)), "yan");
        let write = ToolCall::Write {
            path: "a".into(),
            content: String::new(),
        };
        assert_eq!(keys(&request(write.clone(), false)), "yan");
        assert_eq!(keys(&request(write, true)), "yn");
        let r = request(bash("cargo test"), false);
        assert_eq!(
            r.choices()[2].decision,
            Decision::Always(Scope::FirstWord("cargo".into()))
        );
        assert_eq!(r.choices()[2].label, "always `cargo …`");
    }
}
