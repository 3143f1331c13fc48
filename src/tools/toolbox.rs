//! One tool call from the model's request to the result it reads back:
//! parse, resolve the path, refuse what is never allowed (`.git` internals,
//! stale edits), build the preview the user approves, ask unless the policy or
//! an earlier "always" covers it, run, and turn every outcome (failures
//! included) into text for the model and text for the user.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use super::approval::{preapproved, ApprovalRequest, Approver, Decision, Grants, Policy, Preview};
use super::bash::{self, BashExit};
use super::call::{CallError, ToolCall};
use super::diff;
use super::error::ToolError;
use super::files::{self, FileLedger};
use super::truncate;
use super::workspace::{ResolvedPath, Workspace};

/// The default bash timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The default number of tool calls a turn may make.
pub const DEFAULT_MAX_CALLS: usize = 32;

/// How a call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolOutcome {
    /// It ran; `failed` when the tool reported a failure (a non-zero exit, a
    /// timeout, an I/O error).
    Ran {
        /// What the model reads (long output cut in the middle).
        for_model: String,
        /// What the user sees (the whole output).
        for_user: String,
        /// Whether it failed.
        failed: bool,
    },
    /// It was refused before reaching the user: a malformed call, a path
    /// into `.git`, a stale or ambiguous edit, the tools switched off.
    Refused(String),
    /// The user said no.
    Denied(Option<String>),
    /// The user pressed Ctrl-C at the prompt: denied, and the turn stops.
    Aborted,
}

impl ToolOutcome {
    /// The text of the tool's answer message.
    pub fn for_model(&self) -> String {
        match self {
            ToolOutcome::Ran { for_model, .. } => for_model.clone(),
            ToolOutcome::Refused(why) => format!("error: {why}"),
            ToolOutcome::Denied(None) => "the user denied this call".to_owned(),
            ToolOutcome::Denied(Some(r)) => format!("the user denied this call: {r}"),
            ToolOutcome::Aborted => "the user denied this call and stopped the turn".to_owned(),
        }
    }
}

/// The tools of one chat: the workspace, what was read, what was granted.
pub struct Toolbox {
    workspace: Workspace,
    ledger: FileLedger,
    /// The "always" answers given in this chat.
    pub grants: Grants,
    /// `--approval`.
    pub policy: Policy,
    /// Whether the tools are declared and callable (`/tools on|off`).
    pub enabled: bool,
    /// The bash timeout when the model gives none.
    pub default_timeout: Duration,
    /// The longest bash timeout (`--tool-timeout`).
    pub max_timeout: Duration,
    /// The calls a turn may make (`--max-tool-calls`).
    pub max_calls: usize,
    cancel: Arc<AtomicBool>,
}

impl Toolbox {
    /// Tools acting in `workspace`, stopped by `cancel` (the chat's Ctrl-C flag).
    pub fn new(workspace: Workspace, policy: Policy, cancel: Arc<AtomicBool>) -> Toolbox {
        Toolbox {
            workspace,
            ledger: FileLedger::default(),
            grants: Grants::default(),
            policy,
            enabled: true,
            default_timeout: DEFAULT_TIMEOUT,
            max_timeout: DEFAULT_TIMEOUT,
            max_calls: DEFAULT_MAX_CALLS,
            cancel,
        }
    }

    /// Stops running commands on `cancel` (the chat's Ctrl-C flag).
    pub fn set_cancel(&mut self, cancel: Arc<AtomicBool>) {
        self.cancel = cancel;
    }

    /// Forgets what was read and what was allowed: a new conversation.
    pub fn reset(&mut self) {
        self.ledger = FileLedger::default();
        self.grants.clear();
    }

    /// The workspace.
    pub fn workspace(&self) -> &Workspace {
        &self.workspace
    }

    /// Handles the model's call of function `name` with `arguments`:
    /// the parsed call (when it parsed) and the outcome.
    pub fn handle(
        &mut self,
        name: &str,
        arguments: &str,
        approver: &mut dyn Approver,
    ) -> (Option<ToolCall>, ToolOutcome) {
        if !self.enabled {
            return (None, ToolOutcome::Refused(CallError::ToolsOff.to_string()));
        }
        let call = match ToolCall::parse(name, arguments) {
            Ok(c) => c,
            Err(e) => return (None, ToolOutcome::Refused(e.to_string())),
        };
        let outcome = self.run_call(&call, approver);
        (Some(call), outcome)
    }

    fn run_call(&mut self, call: &ToolCall, approver: &mut dyn Approver) -> ToolOutcome {
        let (request, plan) = match self.prepare(call) {
            Ok(p) => p,
            Err(e) => return ToolOutcome::Refused(e.to_string()),
        };
        if !preapproved(self.policy, &self.grants, &request) {
            match approver.approve(&request) {
                Decision::Once => {}
                Decision::Always(scope) => {
                    if request.outside.is_none() {
                        self.grants.add(scope);
                    }
                }
                Decision::Deny { reason } => return ToolOutcome::Denied(reason),
                Decision::Abort => return ToolOutcome::Aborted,
            }
        }
        match self.execute(plan) {
            Ok(outcome) => outcome,
            Err(e) => ToolOutcome::Ran {
                for_model: format!("error: {e}"),
                for_user: e.to_string(),
                failed: true,
            },
        }
    }

    /// The approval request for `call` and what the execution needs.
    fn prepare(&self, call: &ToolCall) -> Result<(ApprovalRequest, Plan), ToolError> {
        let (preview, plan, outside) = match call {
            ToolCall::Bash { command, timeout } => (
                Preview::Command {
                    command: command.clone(),
                    cwd: self.workspace.root().to_owned(),
                },
                Plan::Bash {
                    command: command.clone(),
                    timeout: *timeout,
                },
                None,
            ),
            ToolCall::Read {
                path,
                offset,
                limit,
            } => {
                let r = self.workspace.resolve(path)?;
                let outside = (!r.inside).then(|| r.path.clone());
                let preview = Preview::Read {
                    path: r.path.clone(),
                };
                let plan = Plan::Read {
                    path: r,
                    offset: *offset,
                    limit: *limit,
                };
                (preview, plan, outside)
            }
            ToolCall::Write { path, content } => {
                let r = self.writable(path)?;
                if r.path.is_dir() {
                    return Err(ToolError::IsDirectory { path: r.path });
                }
                let old = match std::fs::read(&r.path) {
                    Ok(b) => Some(b),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                    Err(source) => {
                        return Err(ToolError::Io {
                            path: r.path,
                            source,
                        })
                    }
                };
                let creates_dirs = r.path.parent().is_some_and(|p| !p.is_dir());
                let name = self.display(&r.path);
                let (diff, new_file_lines) = match &old {
                    Some(b) => (
                        diff::unified(&String::from_utf8_lossy(b), content, &name, 3),
                        None,
                    ),
                    None => (
                        diff::unified("", content, &name, 3),
                        Some(content.lines().count()),
                    ),
                };
                let outside = (!r.inside).then(|| r.path.clone());
                let preview = Preview::Change {
                    path: r.path.clone(),
                    diff,
                    new_file_lines,
                    creates_dirs,
                };
                let plan = Plan::Write {
                    path: r,
                    content: content.clone(),
                };
                (preview, plan, outside)
            }
            ToolCall::Edit {
                path,
                old_string,
                new_string,
                replace_all,
            } => {
                let r = self.writable(path)?;
                let bytes = self.ledger.check_fresh(&r.path)?;
                let size = bytes.len() as u64;
                let text = String::from_utf8(bytes).map_err(|_| ToolError::Binary {
                    path: r.path.clone(),
                    size,
                })?;
                let (new, count) =
                    files::apply_edit(&r.path, &text, old_string, new_string, *replace_all)?;
                let name = self.display(&r.path);
                let preview = Preview::Change {
                    path: r.path.clone(),
                    diff: diff::unified(&text, &new, &name, 3),
                    new_file_lines: None,
                    creates_dirs: false,
                };
                let outside = (!r.inside).then(|| r.path.clone());
                (
                    preview,
                    Plan::Edit {
                        path: r,
                        new,
                        count,
                    },
                    outside,
                )
            }
        };
        let request = ApprovalRequest {
            call: call.clone(),
            preview,
            outside,
        };
        Ok((request, plan))
    }

    /// A path that write and edit may change: never `.git` internals.
    fn writable(&self, path: &str) -> Result<ResolvedPath, ToolError> {
        let r = self.workspace.resolve(path)?;
        if r.git_internal {
            return Err(ToolError::GitInternal { path: r.path });
        }
        Ok(r)
    }

    fn execute(&mut self, plan: Plan) -> Result<ToolOutcome, ToolError> {
        Ok(match plan {
            Plan::Bash { command, timeout } => {
                let limit = timeout
                    .unwrap_or(self.default_timeout)
                    .min(self.max_timeout.max(self.default_timeout));
                let run = bash::run(&command, self.workspace.root(), limit, &self.cancel)?;
                let status = run.status_line();
                let failed = !matches!(run.exit, BashExit::Code(0));
                let mut for_model = truncate::for_model(&run.output);
                if !for_model.is_empty() && !for_model.ends_with('\n') {
                    for_model.push('\n');
                }
                for_model.push_str(&format!("[{status}]"));
                // (The output already says where bytes were dropped.)
                let for_user = run.output;
                ToolOutcome::Ran {
                    for_model,
                    for_user: format!("{for_user}{}[{status}]", nl_if_needed(&for_user)),
                    failed,
                }
            }
            Plan::Read {
                path: r,
                offset,
                limit,
            } => {
                let out = files::read(&r.path, offset, limit)?;
                self.ledger.record(&r.path, &out.bytes);
                let lines = plural(out.text.lines().count(), "line");
                ToolOutcome::Ran {
                    for_user: format!("read {} ({lines} shown)", self.display(&r.path)),
                    for_model: out.text,
                    failed: false,
                }
            }
            Plan::Write { path: r, content } => {
                let existed = r.path.exists();
                files::write_atomic(&r.path, content.as_bytes(), true)?;
                self.ledger.record(&r.path, content.as_bytes());
                let what = if existed { "wrote" } else { "created" };
                let msg = format!(
                    "{what} {} ({}, {} bytes)",
                    self.display(&r.path),
                    plural(content.lines().count(), "line"),
                    content.len()
                );
                ToolOutcome::Ran {
                    for_model: msg.clone(),
                    for_user: msg,
                    failed: false,
                }
            }
            Plan::Edit { path, new, count } => {
                // The file may have changed while the user looked at the diff.
                self.ledger.check_fresh(&path.path)?;
                files::write_atomic(&path.path, new.as_bytes(), false)?;
                self.ledger.record(&path.path, new.as_bytes());
                let msg = format!(
                    "replaced {} in {}",
                    plural(count, "occurrence"),
                    self.display(&path.path)
                );
                ToolOutcome::Ran {
                    for_model: msg.clone(),
                    for_user: msg,
                    failed: false,
                }
            }
        })
    }

    /// A path as the model and the user see it: relative inside the
    /// workspace, absolute outside.
    pub fn display(&self, path: &Path) -> String {
        path.strip_prefix(self.workspace.root())
            .ok()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(path)
            .display()
            .to_string()
    }
}

/// What an approved call needs to run.
enum Plan {
    Bash {
        command: String,
        timeout: Option<Duration>,
    },
    Read {
        path: ResolvedPath,
        offset: Option<usize>,
        limit: Option<usize>,
    },
    Write {
        path: ResolvedPath,
        content: String,
    },
    Edit {
        path: ResolvedPath,
        new: String,
        count: usize,
    },
}

/// `1 line`, `2 lines`.
fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

fn nl_if_needed(s: &str) -> &'static str {
    if s.is_empty() || s.ends_with('\n') {
        ""
    } else {
        "\n"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::approval::Scope;
    use crate::tools::ToolName;

    /// Answers from a list and remembers what it was asked.
    struct Answers(Vec<Decision>, Vec<ApprovalRequest>);

    impl Approver for Answers {
        fn approve(&mut self, request: &ApprovalRequest) -> Decision {
            self.1.push(request.clone());
            self.0.remove(0)
        }
    }

    fn toolbox(dir: &Path, policy: Policy) -> Toolbox {
        let ws = Workspace::new(dir).expect("workspace");
        Toolbox::new(ws, policy, Arc::new(AtomicBool::new(false)))
    }

    #[test]
    fn new_directories_ask_even_when_writes_are_always_allowed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut tb = toolbox(dir.path(), Policy::Ask);
        tb.grants.add(Scope::Tool(ToolName::Write));
        let mut user = Answers(vec![Decision::Deny { reason: None }], Vec::new());
        let (_, out) = tb.handle("write", r#"{"path":"a.txt","content":"1\n"}"#, &mut user);
        assert!(
            matches!(out, ToolOutcome::Ran { failed: false, .. }),
            "{out:?}"
        );
        assert!(
            user.1.is_empty(),
            "a granted write in an existing directory asks"
        );
        let (_, out) = tb.handle(
            "write",
            r#"{"path":"new/b.txt","content":"2\n"}"#,
            &mut user,
        );
        assert_eq!(out, ToolOutcome::Denied(None));
        assert!(matches!(
            user.1[0].preview,
            Preview::Change {
                creates_dirs: true,
                ..
            }
        ));
        assert!(!dir.path().join("new").exists());
    }

    #[test]
    fn always_outside_grants_nothing_and_paths_show_relative() {
        let root = tempfile::tempdir().expect("tempdir");
        let ws = root.path().join("ws");
        std::fs::create_dir(&ws).expect("ws");
        std::fs::write(root.path().join("out.txt"), "x\n").expect("write");
        std::fs::write(ws.join("in.txt"), "y\n").expect("write");
        let mut tb = toolbox(&ws, Policy::Auto);
        let mut user = Answers(
            vec![
                Decision::Always(Scope::Tool(ToolName::Read)),
                Decision::Once,
            ],
            Vec::new(),
        );
        for _ in 0..2 {
            let (_, out) = tb.handle("read", r#"{"path":"../out.txt"}"#, &mut user);
            assert_eq!(out.for_model(), "     1\tx\n");
        }
        assert_eq!(user.1.len(), 2, "an outside path asks every time");
        assert!(tb.grants.is_empty());
        let (_, out) = tb.handle("read", r#"{"path":"in.txt"}"#, &mut user);
        match out {
            ToolOutcome::Ran { for_user, .. } => assert_eq!(for_user, "read in.txt (1 line shown)"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bash_timeouts_are_capped_by_the_users_maximum() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut tb = toolbox(dir.path(), Policy::Auto);
        tb.max_timeout = Duration::from_millis(300);
        tb.default_timeout = Duration::from_millis(300);
        let mut user = Answers(Vec::new(), Vec::new());
        let t = std::time::Instant::now();
        let (_, out) = tb.handle(
            "bash",
            r#"{"command":"sleep 30","timeout_ms":60000}"#,
            &mut user,
        );
        assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
        match out {
            ToolOutcome::Ran {
                for_model, failed, ..
            } => {
                assert!(failed);
                assert!(for_model.contains("timed out"), "{for_model}");
            }
            other => panic!("{other:?}"),
        }
    }
}
