//! A tool call as the model makes it: `to=functions.NAME` with a JSON object
//! of arguments, parsed into a typed [`ToolCall`]; and the declarations of the
//! four tools that the developer message gives the model.
//!
//! Malformed calls (an unknown name, JSON that does not parse, a missing or
//! mistyped field, an unknown field) become a [`CallError`] whose message goes
//! back to the model as the call's result, so it can correct itself.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;
use thiserror::Error;

use crate::harmony::ToolDescription;

/// The tools kchat offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ToolName {
    /// Runs a shell command.
    Bash,
    /// Reads a text file.
    Read,
    /// Creates or replaces a file.
    Write,
    /// Replaces an exact string in a file.
    Edit,
}

impl ToolName {
    /// Every tool, in the order they are declared.
    pub const ALL: [ToolName; 4] = [
        ToolName::Bash,
        ToolName::Read,
        ToolName::Write,
        ToolName::Edit,
    ];

    /// The name the model calls (`functions.NAME`).
    pub const fn as_str(self) -> &'static str {
        match self {
            ToolName::Bash => "bash",
            ToolName::Read => "read",
            ToolName::Write => "write",
            ToolName::Edit => "edit",
        }
    }
}

impl fmt::Display for ToolName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ToolName {
    type Err = CallError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ToolName::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| CallError::UnknownTool { name: s.to_owned() })
    }
}

/// A call the model made, with its arguments checked and typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolCall {
    /// `bash {command, timeout_ms?}`.
    Bash {
        /// The command line, run with `bash -c`.
        command: String,
        /// The model's timeout, if it gave one (capped by the user's maximum).
        timeout: Option<Duration>,
    },
    /// `read {path, offset?, limit?}`.
    Read {
        /// The path as the model wrote it.
        path: String,
        /// The first line, from 1.
        offset: Option<usize>,
        /// How many lines.
        limit: Option<usize>,
    },
    /// `write {path, content}`.
    Write {
        /// The path as the model wrote it.
        path: String,
        /// The whole new content.
        content: String,
    },
    /// `edit {path, old_string, new_string, replace_all?}`.
    Edit {
        /// The path as the model wrote it.
        path: String,
        /// The exact text to replace.
        old_string: String,
        /// Its replacement.
        new_string: String,
        /// Replace every occurrence instead of exactly one.
        replace_all: bool,
    },
}

/// Why a call could not even be understood; the message goes to the model.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CallError {
    /// The model called a function that does not exist.
    #[error("unknown tool `{name}`; the tools are bash, read, write and edit")]
    UnknownTool {
        /// The name it used.
        name: String,
    },
    /// The call was not addressed to `functions.NAME`.
    #[error(
        "a tool call must be addressed to functions.NAME (bash, read, write or edit), not `{to}`"
    )]
    NotAFunction {
        /// The recipient it used.
        to: String,
    },
    /// The arguments are not the JSON object the tool takes.
    #[error("bad arguments for {tool}: {detail}; expected {expected}")]
    BadArguments {
        /// The tool.
        tool: ToolName,
        /// What serde_json said.
        detail: String,
        /// The shape of the arguments, for the model to fix its call.
        expected: &'static str,
    },
    /// The tools are switched off in this chat.
    #[error("tools are switched off in this chat; answer without them")]
    ToolsOff,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BashArgs {
    command: String,
    timeout_ms: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReadArgs {
    path: String,
    offset: Option<usize>,
    limit: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WriteArgs {
    path: String,
    content: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EditArgs {
    path: String,
    old_string: String,
    new_string: String,
    #[serde(default)]
    replace_all: bool,
}

impl ToolCall {
    /// Parses a call of function `name` with `arguments` (the message text
    /// after `<|constrain|>json<|message|>`).
    pub fn parse(name: &str, arguments: &str) -> Result<ToolCall, CallError> {
        let tool: ToolName = name.parse()?;
        // An empty argument text is taken as `{}` so the error names the
        // missing field rather than "EOF while parsing".
        let text = if arguments.trim().is_empty() {
            "{}"
        } else {
            arguments
        };
        Ok(match tool {
            ToolName::Bash => {
                let a: BashArgs =
                    args(tool, text, r#"{"command": string, "timeout_ms"?: number}"#)?;
                ToolCall::Bash {
                    command: a.command,
                    timeout: a.timeout_ms.map(Duration::from_millis),
                }
            }
            ToolName::Read => {
                let a: ReadArgs = args(
                    tool,
                    text,
                    r#"{"path": string, "offset"?: number, "limit"?: number}"#,
                )?;
                ToolCall::Read {
                    path: a.path,
                    offset: a.offset,
                    limit: a.limit,
                }
            }
            ToolName::Write => {
                let a: WriteArgs = args(tool, text, r#"{"path": string, "content": string}"#)?;
                ToolCall::Write {
                    path: a.path,
                    content: a.content,
                }
            }
            ToolName::Edit => {
                let a: EditArgs = args(
                    tool,
                    text,
                    r#"{"path": string, "old_string": string, "new_string": string, "replace_all"?: boolean}"#,
                )?;
                ToolCall::Edit {
                    path: a.path,
                    old_string: a.old_string,
                    new_string: a.new_string,
                    replace_all: a.replace_all,
                }
            }
        })
    }

    /// Which tool is called.
    pub fn name(&self) -> ToolName {
        match self {
            ToolCall::Bash { .. } => ToolName::Bash,
            ToolCall::Read { .. } => ToolName::Read,
            ToolCall::Write { .. } => ToolName::Write,
            ToolCall::Edit { .. } => ToolName::Edit,
        }
    }

    /// The path the call acts on (None for bash).
    pub fn path(&self) -> Option<&str> {
        match self {
            ToolCall::Bash { .. } => None,
            ToolCall::Read { path, .. }
            | ToolCall::Write { path, .. }
            | ToolCall::Edit { path, .. } => Some(path),
        }
    }
}

fn args<T: DeserializeOwned>(
    tool: ToolName,
    text: &str,
    expected: &'static str,
) -> Result<T, CallError> {
    serde_json::from_str(text).map_err(|e| CallError::BadArguments {
        tool,
        detail: e.to_string(),
        expected,
    })
}

/// The declarations of the four tools, as the developer message gives them
/// to the model (`namespace functions { … }`).
pub fn declarations() -> Vec<ToolDescription> {
    vec![
        ToolDescription::new(
            "bash",
            "Runs a bash command in the working directory and returns its output (stdout and stderr together) and exit code.\n\
             Each call starts a new shell with stdin closed, so interactive programs cannot be used.\n\
             The user approves each call. Long output is cut in the middle.",
            json!({
                "type": "object",
                "properties": {
                    "command": {"type": "string", "description": "The command line, run with bash -c."},
                    "timeout_ms": {"type": "number", "description": "Milliseconds before the command and its children are killed (default 10000)."}
                },
                "required": ["command"]
            }),
        ),
        ToolDescription::new(
            "read",
            "Reads a text file and returns its lines, numbered from 1.\n\
             Use offset and limit to read parts of a long file.",
            json!({
                "type": "object",
                "properties": {
                    "path": {"type": "string", "description": "The file, relative to the working directory or absolute."},
                    "offset": {"type": "number", "description": "The first line to read, from 1."},
                    "limit": {"type": "number", "description": "How many lines to read.", "default": crate::tools::files::DEFAULT_READ_LIMIT}
                },
                "required": ["path"]
            }),
        ),
        ToolDescription::new(
            "write",
            "Creates a file or replaces its whole content. Prefer edit to change part of an existing file.\n\
             The user approves each write after seeing the diff.",
            json!({
                "type": "object",
                "properties": {
                    "path": {"type": "string", "description": "The file, relative to the working directory or absolute."},
                    "content": {"type": "string", "description": "The whole new content of the file."}
                },
                "required": ["path", "content"]
            }),
        ),
        ToolDescription::new(
            "edit",
            "Replaces an exact string in a file. Read the file first; if it changed since, read it again.\n\
             old_string must occur exactly once unless replace_all is true: include enough surrounding lines to make it unique.",
            json!({
                "type": "object",
                "properties": {
                    "path": {"type": "string", "description": "The file, relative to the working directory or absolute."},
                    "old_string": {"type": "string", "description": "The exact text to replace, whitespace included."},
                    "new_string": {"type": "string", "description": "The text to put in its place."},
                    "replace_all": {"type": "boolean", "description": "Replace every occurrence.", "default": false}
                },
                "required": ["path", "old_string", "new_string"]
            }),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_tool() {
        assert_eq!(
            ToolCall::parse("bash", r#"{"command":"ls -la","timeout_ms":2500}"#).expect("parses"),
            ToolCall::Bash {
                command: "ls -la".into(),
                timeout: Some(Duration::from_millis(2500))
            }
        );
        assert_eq!(
            ToolCall::parse("read", r#"{"path":"src/a.rs","offset":10}"#).expect("parses"),
            ToolCall::Read {
                path: "src/a.rs".into(),
                offset: Some(10),
                limit: None
            }
        );
        let edit = ToolCall::parse("edit", r#"{"path":"a","old_string":"x","new_string":"y"}"#)
            .expect("parses");
        assert_eq!(edit.name(), ToolName::Edit);
        assert_eq!(edit.path(), Some("a"));
        assert!(matches!(
            edit,
            ToolCall::Edit {
                replace_all: false,
                ..
            }
        ));
    }

    #[test]
    fn malformed_calls_explain_themselves() {
        let e = ToolCall::parse("python", "{}").expect_err("refused");
        assert_eq!(
            e.to_string(),
            "unknown tool `python`; the tools are bash, read, write and edit"
        );
        let e = ToolCall::parse("bash", r#"{"command": "ls""#).expect_err("refused");
        assert!(
            e.to_string()
                .starts_with("bad arguments for bash: EOF while parsing"),
            "{e}"
        );
        let e = ToolCall::parse("bash", "").expect_err("refused");
        assert!(e.to_string().contains("missing field `command`"), "{e}");
        assert!(
            e.to_string().contains(r#"expected {"command": string"#),
            "{e}"
        );
        let e = ToolCall::parse("write", r#"{"path":"a","text":"b"}"#).expect_err("refused");
        assert!(e.to_string().contains("unknown field `text`"), "{e}");
        let e = ToolCall::parse("read", r#"{"path":"a","offset":-1}"#).expect_err("refused");
        assert!(e.to_string().contains("invalid value"), "{e}");
        let e = ToolCall::parse("read", r#"["a"]"#).expect_err("refused");
        assert!(e.to_string().contains("bad arguments for read"), "{e}");
    }

    #[test]
    fn declarations_name_every_tool() {
        let names: Vec<String> = declarations().into_iter().map(|d| d.name).collect();
        assert_eq!(names, ["bash", "read", "write", "edit"]);
        let ts = crate::harmony::tools_section(&declarations());
        assert!(
            ts.contains(
                "type bash = (_: {\n// The command line, run with bash -c.\ncommand: string,"
            ),
            "{ts}"
        );
        assert!(
            ts.contains("replace_all?: boolean, // default: false"),
            "{ts}"
        );
    }
}
