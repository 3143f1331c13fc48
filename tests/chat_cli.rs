//! `kchat -m FILE` with standard input not a terminal: the whole input is one
//! user message, the answer goes to standard output, and kchat exits; bad
//! input gets a one-line error. The real binary on the tiny model.

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn chat(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kchat"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn kchat");
    let written = child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes());
    // kchat may refuse its flags and exit before it reads standard input.
    if let Err(e) = written {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "write stdin: {e}");
    }
    child.wait_with_output().expect("wait")
}

fn model() -> &'static str {
    common::tiny_model().to_str().expect("utf-8 path")
}

#[test]
fn piped_message_gets_an_answer_and_kchat_exits() {
    let args = ["-m", model(), "-n", "12", "--temp", "0", "-t", "2"];
    let a = chat(&args, "Hello there\n");
    let err = String::from_utf8_lossy(&a.stderr);
    assert!(a.status.success(), "{err}");
    let out = String::from_utf8_lossy(&a.stdout);
    assert!(out.ends_with('\n'), "the answer ends its line: {out:?}");
    assert!(!out.contains('\u{1b}'), "no escape codes in piped output");
    // Greedy: the same message gives the same answer.
    let b = chat(&args, "Hello there\n");
    assert_eq!(a.stdout, b.stdout);
    // llama-cli's chat-mode -p (a system prompt) changes the prompt, and
    // so the state the answer starts from; the run still succeeds.
    let c = chat(
        &[
            "-m",
            model(),
            "-n",
            "4",
            "-p",
            "Persona: lawful_evil",
            "-t",
            "2",
        ],
        "Hi",
    );
    assert!(c.status.success(), "{}", String::from_utf8_lossy(&c.stderr));
    // --chat-template-file is accepted; kchat says once when it differs.
    let dir = tempfile::tempdir().expect("tempdir");
    let t = dir.path().join("t.jinja");
    std::fs::write(&t, "{{ messages }}").expect("write template");
    let t = t.to_str().expect("utf-8");
    let d = chat(
        &[
            "-m",
            model(),
            "-n",
            "2",
            "--chat-template-file",
            t,
            "-t",
            "2",
        ],
        "Hi",
    );
    let err = String::from_utf8_lossy(&d.stderr);
    assert!(d.status.success(), "{err}");
    assert_eq!(
        err.matches("differs from the model's template").count(),
        1,
        "{err}"
    );
}

#[test]
fn bad_chat_input_gets_one_clear_line() {
    let cases: [(&[&str], &str, &str); 4] = [
        (&["-m", model()], "", "standard input is empty"),
        (
            &["-m", model(), "--persona", "chaotic_weird"],
            "Hi",
            "--persona",
        ),
        (&["-m", model(), "--reasoning", "max"], "Hi", "--reasoning"),
        (
            &[
                "-m",
                model(),
                "--chat-template-file",
                "/nonexistent/t.jinja",
            ],
            "Hi",
            "--chat-template-file",
        ),
    ];
    for (args, input, want) in cases {
        let o = chat(args, input);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{args:?} should fail");
        assert!(!err.contains("panicked"), "{err}");
        let last = err.lines().last().unwrap_or_default();
        assert!(
            last.starts_with("kchat: ") && last.contains(want),
            "{args:?}: {err}"
        );
    }
    let o = chat(&["-m", "/nonexistent/model.gguf"], "Hi");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("/nonexistent/model.gguf"),
        "{err}"
    );
}

/// The scripted reply of a model that writes `out.txt`, then answers.
fn write_then_answer(dir: &std::path::Path) -> std::path::PathBuf {
    let script = dir.join("replies.txt");
    let call = common::harmony_call(
        "write",
        r#"{"path":"out.txt","content":"made by the model\n"}"#,
    );
    std::fs::write(&script, call + &common::harmony_answer("Wrote it.")).expect("script");
    script
}

#[test]
fn piped_tool_calls_follow_the_policy() {
    let dir = tempfile::tempdir().expect("tempdir");
    let script = write_then_answer(dir.path());
    let ws = dir.path().to_str().expect("utf-8");
    let base = [
        "-m",
        model(),
        "-t",
        "2",
        "--workspace",
        ws,
        "--script-replies",
        script.to_str().expect("utf-8"),
    ];

    // Nobody can approve: the call is denied, the file not written, the
    // answer still printed.
    let a = chat(&base, "Write a file\n");
    let err = String::from_utf8_lossy(&a.stderr);
    assert!(a.status.success(), "{err}");
    assert!(err.contains("kchat: tool call functions.write"), "{err}");
    assert!(err.contains("no one can approve tool calls"), "{err}");
    assert_eq!(String::from_utf8_lossy(&a.stdout), "Wrote it.\n");
    assert!(!dir.path().join("out.txt").exists());

    // --approval auto: it runs.
    let mut args = base.to_vec();
    args.extend(["--approval", "auto"]);
    let a = chat(&args, "Write a file\n");
    let err = String::from_utf8_lossy(&a.stderr);
    assert!(a.status.success(), "{err}");
    assert!(err.contains("created out.txt (1 line, 18 bytes)"), "{err}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out.txt")).expect("written"),
        "made by the model\n"
    );

    // A workspace that is not a directory is a one-line error.
    let mut args = base.to_vec();
    args[5] = "/nonexistent/dir";
    let a = chat(&args, "Hi\n");
    assert!(!a.status.success());
    let err = String::from_utf8_lossy(&a.stderr);
    assert!(err.contains("--workspace"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}
