//! The approval prompt in a real pseudo-terminal (rexpect), on the tiny
//! model: the model's side comes from `--script-replies` (its random weights
//! never call a tool), everything else is the real binary, the real
//! terminal, real bash and real files. Approve once, deny with a reason that
//! reaches the model, "always this command", Ctrl-C killing a running
//! command, and `/tools`.

mod common;

use std::process::Command;

use rexpect::session::spawn_command;

use common::{harmony_answer as answer, harmony_call as call};

// (rexpect's writer flushes at a newline only: single keys need flush().)

#[test]
fn approve_deny_with_a_reason_and_always_allow() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ws = dir.path().join("ws");
    std::fs::create_dir(&ws).expect("workspace");
    let script = dir.path().join("replies.txt");
    let echo = call("bash", r#"{"command":"echo hi from bash"}"#);
    std::fs::write(
        &script,
        [
            echo.clone(),
            answer("ok one"),
            call("write", r#"{"path":"out.txt","content":"x\n"}"#),
            answer("ok two"),
            echo.clone(),
            answer("ok three"),
            echo,
            answer("ok four"),
            call("bash", r#"{"command":"sleep 60","timeout_ms":90000}"#),
            answer("never shown"),
        ]
        .concat(),
    )
    .expect("script");

    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kchat"));
    cmd.args(["-m", common::tiny_model().to_str().expect("utf-8")])
        .args(["-t", "2", "-c", "4096", "--color", "never", "--history"])
        .arg(dir.path().join("history"))
        .args(["--tool-timeout", "120", "--workspace"])
        .arg(&ws)
        .arg("--script-replies")
        .arg(&script);
    let mut p = spawn_command(cmd, Some(120_000)).expect("spawn kchat in a pty");
    // (rexpect reads bytes as Latin-1: match ASCII only.)
    p.exp_string("approval ask")
        .expect("banner names the policy");

    // 1. Approve once: the command is shown with its directory, then runs.
    p.send_line("Say hi with bash").expect("send");
    p.exp_string("functions.bash command=echo hi from bash")
        .expect("the call, highlighted");
    p.exp_string("$ echo hi from bash").expect("the command");
    p.exp_string("Allow? [y] yes  [a] always this command")
        .expect("the prompt");
    p.send("y").expect("y");
    p.flush().expect("flush");
    p.exp_string("[exit code 0]").expect("the command ran");
    p.exp_string("ok one").expect("the answer after the result");
    p.exp_string("1 tool call")
        .expect("status line counts the call");

    // 2. Deny a write with a reason: no file, and the model reads the reason.
    p.send_line("Write a file").expect("send");
    p.exp_string("(new file, 1 line)")
        .expect("the write preview");
    p.exp_string("+x").expect("the diff");
    p.exp_string("Allow?").expect("the prompt");
    p.send("n").expect("n");
    p.flush().expect("flush");
    p.exp_string("reason for the model").expect("asks why");
    p.send("not now\r").expect("reason");
    p.flush().expect("flush");
    p.exp_string("denied").expect("denied");
    p.exp_string("ok two").expect("the answer after the denial");
    p.exp_string("1 tool call").expect("status line");
    assert!(!ws.join("out.txt").exists(), "a denied write wrote");
    p.send_line("/prompt").expect("send");
    p.exp_string("the user denied this call: not now")
        .expect("the reason went back to the model");

    // 3. Always this command: asked once more, then never for it.
    p.send_line("Again").expect("send");
    p.exp_string("Allow?").expect("the prompt");
    p.send("a").expect("a");
    p.flush().expect("flush");
    p.exp_string("ok three").expect("ran");
    // Keys typed while a turn runs go to its key reader: wait for its end.
    p.exp_string("1 tool call").expect("status line");
    p.send_line("And again").expect("send");
    let between = p.exp_string("ok four").expect("ran without asking");
    assert!(
        !between.contains("Allow?"),
        "asked again after 'always': {between}"
    );
    assert!(between.contains("hi from bash"), "{between}");
    p.exp_string("1 tool call").expect("status line");

    // 4. Ctrl-C while an approved command runs kills it and stops the turn.
    p.send_line("Sleep").expect("send");
    p.exp_string("Allow?").expect("the prompt");
    p.send("y").expect("y");
    p.flush().expect("flush");
    std::thread::sleep(std::time::Duration::from_millis(800));
    let t = std::time::Instant::now();
    p.send_control('c').expect("ctrl-c");
    p.exp_string("interrupted by the user; the process group was killed")
        .expect("the command was killed");
    p.exp_string("interrupted").expect("status line");
    assert!(t.elapsed().as_secs() < 20, "took {:?}", t.elapsed());

    p.send_line("/tools").expect("send");
    p.exp_string("allowed: bash `echo hi from bash`")
        .expect("/tools lists the grant");
    p.send_line("/tools off").expect("send");
    p.exp_string("tools: off").expect("switched off");
    p.send_line("/prompt").expect("send");
    let prompt = p.exp_string("<|start|>assistant").expect("the prompt");
    assert!(!prompt.contains("namespace functions"), "{prompt}");
    p.send_control('d').expect("ctrl-d");
    p.exp_eof().expect("exits on ctrl-d");
}
