//! The interactive chat in a real pseudo-terminal (rexpect), on the tiny
//! model: banner, a streamed reply with its status line, `/persona` then
//! `/prompt`, Tab completion, Ctrl-C mid-reply, `/save` and `/load` across
//! processes, the history file, Ctrl-D.

mod common;

use std::process::Command;
use std::time::Duration;

use rexpect::session::{spawn_command, PtySession};

fn start(history: &std::path::Path, extra: &[&str]) -> PtySession {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kchat"));
    cmd.args(["-m", common::tiny_model().to_str().expect("utf-8")])
        .args(["-t", "2", "--temp", "0", "--color", "never", "--history"])
        .arg(history)
        .args(extra);
    spawn_command(cmd, Some(120_000)).expect("spawn kchat in a pty")
}

#[test]
fn a_session_in_a_terminal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let history = dir.path().join("history");
    let saved = dir.path().join("chat.json");
    let saved = saved.to_str().expect("utf-8");

    let mut p = start(&history, &["-n", "6", "-c", "4096"]);
    p.exp_string("context 4096").expect("banner");
    p.exp_string("persona none").expect("banner persona");
    p.send_line("Hello there").expect("send");
    // (rexpect reads bytes as Latin-1: match ASCII only.)
    p.exp_regex(r"6 tokens \S+ prefill \d+ at")
        .expect("status line after the reply");

    p.send_line("/persona lawful_evil").expect("send");
    p.exp_string("persona: lawful_evil")
        .expect("persona switched");
    p.send_line("/prompt").expect("send");
    p.exp_string("Persona: lawful_evil")
        .expect("developer message");

    // Tab completes the command name.
    p.send("/perso").expect("send");
    p.send("\t").expect("tab");
    p.send_line(" list").expect("send");
    p.exp_string("chaotic_evil")
        .expect("the list after completion");

    // A pasted multi-line text is one message.
    p.send("\x1b[200~first line\nsecond line\x1b[201~")
        .expect("paste");
    p.send_line("").expect("enter");
    p.exp_regex(r"6 tokens \S+ prefill")
        .expect("one reply to the paste");
    p.send_line("/prompt").expect("send");
    p.exp_regex(r"<\|message\|>first line\r?\n?second line<\|end\|>")
        .expect("both lines in one user message");

    p.send_line("/persna").expect("send");
    p.exp_string("did you mean /persona").expect("suggestion");

    p.send_line(&format!("/save {saved}")).expect("send");
    let (_, said) = p.exp_regex(r"saved \d+ messages").expect("saved");
    let n: String = said.chars().filter(char::is_ascii_digit).collect();
    p.send_control('d').expect("ctrl-d");
    p.exp_eof().expect("exits on ctrl-d");

    // A new process: load the transcript, and Ctrl-C stops a long reply.
    let mut p = start(&history, &["-c", "4096"]);
    p.exp_string("persona none").expect("banner");
    p.send_line(&format!("/load {saved}")).expect("send");
    p.exp_string(&format!("loaded {n} messages"))
        .expect("loaded");
    p.send_line("/persona").expect("send");
    p.exp_string("persona: lawful_evil")
        .expect("the saved persona came back");
    p.send_line("Tell me a long story").expect("send");
    std::thread::sleep(Duration::from_millis(1500));
    p.send_control('c').expect("ctrl-c");
    p.exp_string("interrupted").expect("the reply stops");
    p.send_line("/context").expect("send");
    p.exp_string("whole prompt").expect("back at the prompt");
    p.send_line("/exit").expect("send");
    p.exp_eof().expect("exits on /exit");

    let h = std::fs::read_to_string(&history).expect("history file");
    assert!(
        h.contains("Hello there") && h.contains("Tell me a long story"),
        "{h}"
    );
}
