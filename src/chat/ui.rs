//! The terminal side of a turn: the reply streamed as it comes (reasoning
//! dimmed, or one "thinking…" line), tool calls highlighted, the approval
//! prompt (a command, a colored diff, an outside path named in red), the
//! tool's full output paged when long, and Ctrl-C.
//!
//! While a turn runs the terminal is in raw mode and one thread reads the
//! keys ([`KeyPump`]): Ctrl-C sets the chat's cancel flag at once (the reply
//! stops within a token, a running command is killed), and every key is
//! also passed on, so the approval prompt and the pager read from the same
//! stream without racing the reader.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::time::Duration;

use crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use crossterm::terminal;

use super::agent::{AgentUi, MessageKind};
use super::turn::TurnEvent;
use crate::tools::approval::{ApprovalRequest, Approver, Decision, Preview};
use crate::tools::{ToolCall, ToolOutcome};

/// Terminal styling, off for `--color never`, `NO_COLOR` or a pipe.
#[derive(Clone, Copy)]
pub struct Style {
    /// Whether escape codes are written.
    pub color: bool,
}

impl Style {
    fn paint(self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_owned()
        }
    }

    /// `s` dimmed.
    pub fn dim(self, s: &str) -> String {
        self.paint("2", s)
    }

    /// `s` in bold cyan: a tool call.
    pub fn call(self, s: &str) -> String {
        self.paint("1;36", s)
    }

    /// `s` in red: a warning.
    pub fn red(self, s: &str) -> String {
        self.paint("1;31", s)
    }

    /// One line of a unified diff, colored by its first character.
    pub fn diff_line(self, line: &str) -> String {
        if line.starts_with("+++") || line.starts_with("---") {
            self.paint("1", line)
        } else if line.starts_with('+') {
            self.paint("32", line)
        } else if line.starts_with('-') {
            self.paint("31", line)
        } else if line.starts_with("@@") {
            self.paint("36", line)
        } else {
            line.to_owned()
        }
    }
}

/// Raw mode while a turn runs, so Ctrl-C arrives as a key, not a signal.
pub struct RawMode {
    /// Whether the terminal accepted raw mode.
    pub active: bool,
}

impl RawMode {
    /// Enters raw mode if the terminal allows it.
    pub fn enable() -> RawMode {
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

/// The thread that reads keys while a turn runs.
pub struct KeyPump {
    keys: Receiver<KeyEvent>,
    done: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl KeyPump {
    /// Starts reading keys: Ctrl-C sets `cancel`; every key press is passed on.
    pub fn start(cancel: Arc<AtomicBool>) -> KeyPump {
        let (tx, keys) = mpsc::channel();
        let done = Arc::new(AtomicBool::new(false));
        let stop = done.clone();
        let thread = std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if !event::poll(Duration::from_millis(20)).unwrap_or(false) {
                    continue;
                }
                let Ok(Event::Key(key)) = event::read() else {
                    continue;
                };
                if key.kind == KeyEventKind::Release {
                    continue;
                }
                if is_ctrl_c(&key) {
                    cancel.store(true, Ordering::Relaxed);
                }
                if tx.send(key).is_err() {
                    return;
                }
            }
        });
        KeyPump {
            keys,
            done,
            thread: Some(thread),
        }
    }

    /// Stops reading and returns the text typed ahead while the turn ran
    /// (printable keys up to the first Enter, Backspace applied), for the
    /// next prompt to start with.
    pub fn finish(mut self) -> String {
        self.stop();
        let mut typed = String::new();
        while let Ok(key) = self.keys.try_recv() {
            let plain = !key
                .modifiers
                .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT);
            match key.code {
                KeyCode::Enter => break,
                KeyCode::Backspace => {
                    typed.pop();
                }
                KeyCode::Char(c) if plain => typed.push(c),
                _ => {}
            }
        }
        typed
    }

    fn stop(&mut self) {
        self.done.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// Drops keys typed before now (typed ahead while the reply streamed).
    fn drain(&self) {
        while self.keys.try_recv().is_ok() {}
    }

    /// The next key press (None if the reader stopped).
    fn next(&self) -> Option<KeyEvent> {
        self.keys.recv().ok()
    }
}

impl Drop for KeyPump {
    fn drop(&mut self) {
        self.stop();
    }
}

fn is_ctrl_c(key: &KeyEvent) -> bool {
    key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL)
}

/// The terminal front end of one turn.
pub struct TermUi<'k> {
    out: std::io::Stdout,
    style: Style,
    show_reasoning: bool,
    /// `\r\n` in raw mode.
    nl: &'static str,
    keys: Option<&'k KeyPump>,
    kind: MessageKind,
    thinking_shown: bool,
    /// Lines of output shown before the pager stops.
    page: usize,
}

impl<'k> TermUi<'k> {
    /// A front end writing to stdout, reading keys from `keys` (None: no raw
    /// mode, so approvals are denied rather than read from a cooked line).
    pub fn new(style: Style, show_reasoning: bool, keys: Option<&'k KeyPump>) -> TermUi<'k> {
        let rows = terminal::size().map_or(24, |(_, r)| r as usize);
        TermUi {
            out: std::io::stdout(),
            style,
            show_reasoning,
            nl: if keys.is_some() { "\r\n" } else { "\n" },
            keys,
            kind: MessageKind::default(),
            thinking_shown: false,
            page: rows.saturating_sub(2).max(5),
        }
    }

    fn write(&mut self, s: &str) {
        let s = s.replace('\n', self.nl);
        let _ = self.out.write_all(s.as_bytes());
        let _ = self.out.flush();
    }

    fn line(&mut self, s: &str) {
        self.write(s);
        self.write("\n");
    }

    /// Shows `text`, a page at a time when it is longer than the terminal:
    /// Space shows a page more, Enter a line, q the rest is skipped; other
    /// keys are ignored (a `y` meant for the approval prompt must not skip
    /// unseen lines of a diff). Returns false when Ctrl-C stopped it.
    fn paged(&mut self, text: &str) -> bool {
        let lines: Vec<&str> = text.lines().collect();
        let mut shown = 0;
        let mut budget = self.page;
        while shown < lines.len() {
            if budget == 0 {
                let left = lines.len() - shown;
                self.write(&self.style.dim(&format!(
                    "-- {left} more lines: Space a page, Enter a line, q skips --"
                )));
                let key = loop {
                    let Some(key) = self.keys.and_then(KeyPump::next) else {
                        break None;
                    };
                    if is_ctrl_c(&key)
                        || matches!(
                            key.code,
                            KeyCode::Char(' ' | 'q') | KeyCode::Enter | KeyCode::Esc
                        )
                    {
                        break Some(key);
                    }
                };
                self.write("\r\x1b[2K");
                match key {
                    Some(k) if k.code == KeyCode::Char(' ') && !is_ctrl_c(&k) => budget = self.page,
                    Some(k) if k.code == KeyCode::Enter => budget = 1,
                    other => {
                        self.line(&self.style.dim(&format!("({left} lines not shown)")));
                        return !other.is_some_and(|k| is_ctrl_c(&k));
                    }
                }
            }
            self.line(lines[shown]);
            shown += 1;
            budget -= 1;
        }
        true
    }

    /// Reads the reason for a denial (Enter ends it; Ctrl-C aborts).
    fn read_reason(&mut self) -> Option<Option<String>> {
        self.write("reason for the model (Enter to skip): ");
        let mut reason = String::new();
        loop {
            let key = self.keys.and_then(KeyPump::next)?;
            if is_ctrl_c(&key) {
                self.write("\n");
                return None;
            }
            match key.code {
                KeyCode::Enter => break,
                KeyCode::Backspace if reason.pop().is_some() => self.write("\x08 \x08"),
                KeyCode::Char(c) => {
                    reason.push(c);
                    self.write(&c.to_string());
                }
                _ => {}
            }
        }
        self.write("\n");
        let reason = reason.trim().to_owned();
        Some((!reason.is_empty()).then_some(reason))
    }

    /// Shows what `request` will do; false when Ctrl-C stopped the diff.
    fn show_request(&mut self, request: &ApprovalRequest) -> bool {
        if let Some(p) = &request.outside {
            let msg = format!("outside the workspace: {}", p.display());
            self.line(&self.style.red(&msg));
        }
        match &request.preview {
            Preview::Command { command, cwd } => {
                let head = format!("bash in {}", cwd.display());
                self.line(&self.style.dim(&head));
                self.line(&format!("$ {command}"));
            }
            Preview::Read { path } => self.line(&format!("read {}", path.display())),
            Preview::Change {
                path,
                diff,
                new_file_lines,
                creates_dirs,
            } => {
                let what = match (&request.call, new_file_lines) {
                    (ToolCall::Edit { .. }, _) => format!("edit {}", path.display()),
                    (_, Some(n)) => {
                        let s = if *n == 1 { "" } else { "s" };
                        format!("write {} (new file, {n} line{s})", path.display())
                    }
                    (_, None) => format!("write {} (replaces the whole file)", path.display()),
                };
                self.line(&what);
                if *creates_dirs {
                    self.line(&self.style.red("creates missing parent directories"));
                }
                let colored: Vec<String> = diff.lines().map(|l| self.style.diff_line(l)).collect();
                return self.paged(&colored.join("\n"));
            }
        }
        true
    }
}

impl AgentUi for TermUi<'_> {
    fn stream(&mut self, event: TurnEvent) {
        let text = match event {
            TurnEvent::Start(h) => {
                self.kind = MessageKind::of(&h);
                return;
            }
            TurnEvent::Text(s) => s,
        };
        match self.kind {
            // Shown whole by call_started once it is complete.
            MessageKind::Call => {}
            MessageKind::Reasoning if self.show_reasoning => self.write(&self.style.dim(&text)),
            MessageKind::Reasoning => {
                if !self.thinking_shown {
                    self.thinking_shown = true;
                    self.line(&self.style.dim("thinking…"));
                }
            }
            MessageKind::Commentary | MessageKind::Answer => self.write(&text),
        }
    }

    fn call_started(&mut self, name: &str, arguments: &str) {
        self.write("\n");
        let args = match serde_json::from_str::<serde_json::Value>(arguments) {
            Ok(serde_json::Value::Object(m)) => {
                let short: Vec<String> = m
                    .iter()
                    .map(|(k, v)| {
                        let v = match v {
                            serde_json::Value::String(s) => s.clone(),
                            v => v.to_string(),
                        };
                        let first = v.lines().next().unwrap_or_default();
                        let more = if v.lines().count() > 1 { " …" } else { "" };
                        format!("{k}={}{more}", truncate_chars(first, 80))
                    })
                    .collect();
                short.join(" ")
            }
            _ => truncate_chars(arguments, 120),
        };
        self.line(&format!(
            "{} {}",
            self.style.call(&format!("● {name}")),
            args
        ));
        self.thinking_shown = false;
    }

    fn call_finished(&mut self, _call: Option<&ToolCall>, outcome: &ToolOutcome) {
        match outcome {
            ToolOutcome::Ran {
                for_user, failed, ..
            } => {
                // Ctrl-C here has set the cancel flag: the turn stops after this.
                self.paged(for_user);
                if *failed {
                    self.line(&self.style.red("(the tool failed; the model is told)"));
                }
            }
            ToolOutcome::Refused(why) => {
                let msg = format!("refused: {why}");
                self.line(&self.style.red(&msg));
            }
            ToolOutcome::Denied(_) => self.line(&self.style.dim("denied")),
            ToolOutcome::Aborted => self.line(&self.style.dim("denied; turn stopped")),
        }
    }

    fn notice(&mut self, text: &str) {
        self.line(&self.style.red(text));
    }
}

impl Approver for TermUi<'_> {
    fn approve(&mut self, request: &ApprovalRequest) -> Decision {
        let Some(keys) = self.keys else {
            self.line("cannot ask for approval without a terminal in raw mode; denied");
            return Decision::Deny {
                reason: Some("kchat could not ask the user".to_owned()),
            };
        };
        keys.drain();
        if !self.show_request(request) {
            return Decision::Abort;
        }
        let choices = request.choices();
        let menu: Vec<String> = choices
            .iter()
            .map(|c| format!("[{}] {}", c.key, c.label))
            .collect();
        self.write(&format!(
            "Allow? {}  (Ctrl-C stops the turn) ",
            menu.join("  ")
        ));
        loop {
            let Some(key) = keys.next() else {
                return Decision::Abort;
            };
            if is_ctrl_c(&key) {
                self.write("\n");
                return Decision::Abort;
            }
            let KeyCode::Char(c) = key.code else {
                continue;
            };
            let Some(choice) = choices.iter().find(|ch| ch.key == c.to_ascii_lowercase()) else {
                continue;
            };
            self.line(&c.to_string());
            return match &choice.decision {
                Decision::Deny { .. } => match self.read_reason() {
                    Some(reason) => Decision::Deny { reason },
                    None => Decision::Abort,
                },
                d => d.clone(),
            };
        }
    }
}

/// At most `n` characters of `s`, with `…` when cut.
fn truncate_chars(s: &str, n: usize) -> String {
    match s.char_indices().nth(n) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}
