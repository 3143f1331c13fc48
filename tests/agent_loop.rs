//! The agent loop on the real engine and the tiny model, with the model's
//! side scripted at the token-stream boundary only: the reply tokens are the
//! exact harmony tokens a model emits (a tool call, a denied call, bad JSON,
//! chained calls, a final answer), forced in place of the sampled ones while
//! the engine evaluates every one of them. The approvals come from a script
//! too; the tools are real (a temporary workspace, real files, real bash).
//!
//! After each turn the conversation must hold exactly the expected messages,
//! kchat's rendering of it must equal openai-harmony's token for token, and
//! the KV cache must hold that rendering (so the loop fed the engine what the
//! conversation says).

mod common;
#[allow(dead_code)]
#[path = "harmony_oracle/setup.rs"]
mod setup;

use std::collections::VecDeque;
use std::path::Path;

use kchat::chat::{agent_turn, AgentUi, Chat, TokenSource, TurnEnd, TurnEvent};
use kchat::engine::{EngineOptions, SamplerConfig, Session};
use kchat::gguf::GgufModel;
use kchat::harmony::{render_tokens, Channel, Conversation, Message, RenderTarget};
use kchat::model::Model;
use kchat::tokenizer::Tokenizer;
use kchat::tools::approval::{ApprovalRequest, Approver, Decision, Preview, Scope};
use kchat::tools::{declarations, Policy, ToolCall, ToolName, ToolOutcome, Toolbox, Workspace};
use openai_harmony::chat as oh;

use common::{harmony_answer as answer, harmony_call as call};

/// The model's side: the tokens of each reply, in order.
struct Script(VecDeque<u32>);

impl TokenSource for Script {
    fn next_token(&mut self, _logits: &[f32]) -> u32 {
        // A script that runs dry ends the reply, and the message checks fail.
        self.0.pop_front().unwrap_or(200_002)
    }
}

/// The user's side: scripted answers, and what was shown.
#[derive(Default)]
struct User {
    answers: VecDeque<Decision>,
    asked: Vec<ApprovalRequest>,
    outcomes: Vec<(Option<ToolName>, ToolOutcome)>,
    notices: Vec<String>,
    streamed: String,
}

impl Approver for User {
    fn approve(&mut self, request: &ApprovalRequest) -> Decision {
        self.asked.push(request.clone());
        self.answers
            .pop_front()
            .expect("an approval was asked that the test did not expect")
    }
}

impl AgentUi for User {
    fn stream(&mut self, event: TurnEvent) {
        if let TurnEvent::Text(s) = event {
            self.streamed.push_str(&s);
        }
    }
    fn call_started(&mut self, _: &str, _: &str) {}
    fn call_finished(&mut self, call: Option<&ToolCall>, outcome: &ToolOutcome) {
        self.outcomes
            .push((call.map(ToolCall::name), outcome.clone()));
    }
    fn notice(&mut self, text: &str) {
        self.notices.push(text.to_owned());
    }
}

fn analysis(text: &str) -> String {
    format!("<|channel|>analysis<|message|>{text}<|end|><|start|>assistant")
}

/// A chat with tools over the tiny model in a fresh workspace; `f` gets the
/// chat, the toolbox, the tokenizer and the workspace directory.
fn with_agent(
    policy: Policy,
    f: impl FnOnce(&mut Chat<'_, '_, '_>, &mut Toolbox, &Tokenizer, &Path),
) {
    let dir = tempfile::tempdir().expect("temp dir");
    let ws = dir.path().join("ws");
    std::fs::create_dir(&ws).expect("workspace");
    let gguf = GgufModel::open(common::tiny_model()).expect("open");
    let tok = Tokenizer::from_gguf(|k| gguf.get(k)).expect("tokenizer");
    let opts = EngineOptions {
        n_ctx: 4096,
        n_threads: 2,
        ..EngineOptions::default()
    };
    let model = Model::load(&gguf, &opts, &mut |_, _| {}).expect("load");
    let mut session = Session::new(&model).expect("session");
    let conv = Conversation::new().with_tools(declarations());
    let mut chat = Chat::new(&mut session, &tok, SamplerConfig::greedy(), conv);
    let mut tools = Toolbox::new(
        Workspace::new(&ws).expect("workspace"),
        policy,
        chat.cancel_flag(),
    );
    f(&mut chat, &mut tools, &tok, &ws);
}

/// Runs a turn whose replies are `script` (harmony text with special tokens).
fn turn(
    chat: &mut Chat<'_, '_, '_>,
    tools: &mut Toolbox,
    tok: &Tokenizer,
    user: &mut User,
    message: &str,
    script: &[String],
) -> kchat::chat::AgentStats {
    chat.set_token_source(Box::new(Script(tok.encode(&script.concat(), true).into())));
    agent_turn(chat, tools, Some(message), user).expect("turn")
}

/// The conversation holds `expected`; its rendering equals openai-harmony's;
/// the KV cache holds the history rendering up to the last token.
fn check(chat: &Chat<'_, '_, '_>, expected: &[Message]) {
    let conv = &chat.conversation;
    assert_eq!(conv.messages, expected);
    let enc = setup::tiktoken();
    let kept = setup::to_harmony(conv, conv.rendered_messages());
    let theirs = setup::harmony()
        .render_conversation_for_completion(&kept, oh::Role::Assistant, None)
        .expect("harmony renders");
    assert_eq!(render_tokens(conv, RenderTarget::Completion, &enc), theirs);
    // The KV cache holds the prompt of the last reply (the conversation
    // before the answer, rendered: tool results, this turn's reasoning) and
    // the answer's tokens up to the last one, which is sampled, not evaluated.
    let before = Conversation {
        messages: conv.messages[..conv.messages.len() - 1].to_vec(),
        ..conv.clone()
    };
    let prompt = render_tokens(&before, RenderTarget::Completion, &enc);
    let history = chat.session().history();
    assert!(
        history.starts_with(&prompt),
        "the KV cache is not the last reply's prompt:\ncache: {:?}\nprompt: {:?}",
        enc.0.decode(history),
        enc.0.decode(&prompt),
    );
    let last = conv.messages.last().expect("an answer");
    let reply = enc.0.decode(&history[prompt.len()..]).expect("utf-8");
    assert_eq!(
        reply,
        format!("<|channel|>final<|message|>{}", last.content)
    );
}

#[test]
fn calls_denials_bad_json_and_chained_calls_reach_the_model_as_results() {
    with_agent(Policy::Ask, |chat, tools, tok, ws| {
        std::fs::write(ws.join("notes.txt"), "hello\n").expect("write");
        let mut user = User::default();
        let mut expected = Vec::new();

        // 1. One call, approved once, then the answer.
        user.answers.push_back(Decision::Once);
        let st = turn(
            chat,
            tools,
            tok,
            &mut user,
            "What is in notes.txt?",
            &[
                analysis("Read the file."),
                call("read", r#"{"path":"notes.txt"}"#),
                answer("It says hello."),
            ],
        );
        assert_eq!((st.calls, st.end), (1, TurnEnd::Answered));
        assert_eq!(st.replies.len(), 2);
        expected.extend([
            Message::user("What is in notes.txt?"),
            Message::analysis("Read the file."),
            Message::tool_call("read", r#"{"path":"notes.txt"}"#),
            Message::tool_result("read", "     1\thello\n"),
            Message::final_answer("It says hello."),
        ]);
        check(chat, &expected);
        assert!(
            matches!(&user.asked[0].preview, Preview::Read { path } if path.ends_with("notes.txt"))
        );

        // 2. A write the user denies with a reason: nothing is written.
        user.answers.push_back(Decision::Deny {
            reason: Some("not in this folder".into()),
        });
        let st = turn(
            chat,
            tools,
            tok,
            &mut user,
            "Save a copy.",
            &[
                call("write", r#"{"path":"copy.txt","content":"hello\n"}"#),
                answer("I did not save it."),
            ],
        );
        assert_eq!((st.calls, st.end), (1, TurnEnd::Answered));
        assert!(!ws.join("copy.txt").exists());
        match &user.asked[1].preview {
            Preview::Change {
                diff,
                new_file_lines,
                ..
            } => {
                assert_eq!(*new_file_lines, Some(1));
                assert!(diff.contains("+hello"), "{diff}");
            }
            other => panic!("a write shows a diff, not {other:?}"),
        }
        expected.extend([
            Message::user("Save a copy."),
            Message::tool_call("write", r#"{"path":"copy.txt","content":"hello\n"}"#),
            Message::tool_result("write", "the user denied this call: not in this folder"),
            Message::final_answer("I did not save it."),
        ]);
        check(chat, &expected);

        // 3. Bad JSON: the user is not asked; the model reads the parse error.
        let asked = user.asked.len();
        let st = turn(
            chat,
            tools,
            tok,
            &mut user,
            "List the files.",
            &[call("bash", r#"{"command": "ls""#), answer("Sorry.")],
        );
        assert_eq!(st.calls, 1);
        assert_eq!(user.asked.len(), asked);
        let result = &chat.conversation.messages[chat.conversation.messages.len() - 2];
        assert!(
            result
                .content
                .starts_with("error: bad arguments for bash: EOF while parsing"),
            "{}",
            result.content
        );
        expected.extend([
            Message::user("List the files."),
            Message::tool_call("bash", r#"{"command": "ls""#),
            result.clone(),
            Message::final_answer("Sorry."),
        ]);
        check(chat, &expected);

        // 4. Three chained calls (read, edit granted "always", bash), then the answer.
        user.answers.extend([
            Decision::Once,
            Decision::Always(Scope::Tool(ToolName::Edit)),
            Decision::Once,
        ]);
        let edit = r#"{"path":"notes.txt","old_string":"hello","new_string":"hello world"}"#;
        let st = turn(
            chat,
            tools,
            tok,
            &mut user,
            "Make it say hello world, then show it.",
            &[
                analysis("Read, edit, cat."),
                call("read", r#"{"path":"notes.txt"}"#),
                call("edit", edit),
                call("bash", r#"{"command":"cat notes.txt"}"#),
                answer("Done: it says hello world."),
            ],
        );
        assert_eq!((st.calls, st.end), (3, TurnEnd::Answered));
        assert_eq!(
            std::fs::read_to_string(ws.join("notes.txt")).expect("read"),
            "hello world\n"
        );
        expected.extend([
            Message::user("Make it say hello world, then show it."),
            Message::analysis("Read, edit, cat."),
            Message::tool_call("read", r#"{"path":"notes.txt"}"#),
            Message::tool_result("read", "     1\thello\n"),
            Message::tool_call("edit", edit),
            Message::tool_result("edit", "replaced 1 occurrence in notes.txt"),
            Message::tool_call("bash", r#"{"command":"cat notes.txt"}"#),
            Message::tool_result("bash", "hello world\n[exit code 0]"),
            Message::final_answer("Done: it says hello world."),
        ]);
        check(chat, &expected);
        assert!(user.answers.is_empty());
        // The reasoning of answered turns is not sent back; the final answers are.
        let rendered: Vec<&Message> = chat.conversation.rendered_messages().collect();
        assert!(!rendered
            .iter()
            .any(|m| m.channel == Some(Channel::Analysis)));

        // The grant holds: a second edit runs without asking, once read again.
        user.answers.push_back(Decision::Once); // for the read
        let edit2 = r#"{"path":"notes.txt","old_string":"world","new_string":"there"}"#;
        let st = turn(
            chat,
            tools,
            tok,
            &mut user,
            "Say there instead.",
            &[
                call("edit", edit2),
                call("read", r#"{"path":"notes.txt"}"#),
                call("edit", edit2),
                answer("Ok."),
            ],
        );
        assert_eq!(st.calls, 3);
        let results: Vec<&str> = chat
            .conversation
            .messages
            .iter()
            .rev()
            .filter(|m| m.author.role() == kchat::harmony::Role::Tool)
            .take(3)
            .map(|m| m.content.as_str())
            .collect();
        // The file changed (written by the edit) after the read that the
        // ledger knows — the edit itself recorded it, so the first edit runs.
        assert_eq!(
            results[2], "replaced 1 occurrence in notes.txt",
            "{results:?}"
        );
        assert!(
            results[0].starts_with("error: old_string was not found"),
            "{results:?}"
        );
        assert_eq!(
            std::fs::read_to_string(ws.join("notes.txt")).expect("read"),
            "hello there\n"
        );
    });
}

#[test]
fn a_stale_file_must_be_read_again_and_git_internals_are_refused() {
    with_agent(Policy::Auto, |chat, tools, tok, ws| {
        std::fs::write(ws.join("a.txt"), "one\n").expect("write");
        std::fs::create_dir(ws.join(".git")).expect("git dir");
        let mut user = User::default();
        let edit = r#"{"path":"a.txt","old_string":"one","new_string":"two"}"#;
        // The file changes on disk between the read and the edit (the first
        // tool call's bash does it).
        turn(
            chat,
            tools,
            tok,
            &mut user,
            "Edit it.",
            &[
                call("edit", edit),
                call("read", r#"{"path":"a.txt"}"#),
                call("bash", r#"{"command":"echo one more >> a.txt"}"#),
                call("edit", edit),
                call("write", r#"{"path":".git/config","content":"x"}"#),
                answer("Ok."),
            ],
        );
        let results: Vec<String> = user.outcomes.iter().map(|(_, o)| o.for_model()).collect();
        assert!(
            results[0].contains("a.txt has not been read in this chat"),
            "{results:?}"
        );
        assert!(
            results[3].contains("changed on disk since it was last read"),
            "{results:?}"
        );
        assert!(
            results[4].contains("inside a .git directory"),
            "{results:?}"
        );
        assert_eq!(
            std::fs::read_to_string(ws.join("a.txt")).expect("read"),
            "one\none more\n"
        );
        assert!(!ws.join(".git/config").exists());
        // Under auto nothing inside the workspace asked.
        assert!(user.asked.is_empty());
    });
}

#[test]
fn outside_paths_ask_even_under_auto_and_ctrl_c_stops_the_turn() {
    with_agent(Policy::Auto, |chat, tools, tok, ws| {
        let outside = ws.parent().expect("parent").join("secret.txt");
        std::fs::write(&outside, "s3cret\n").expect("write");
        let mut user = User::default();
        user.answers.push_back(Decision::Abort);
        let st = turn(
            chat,
            tools,
            tok,
            &mut user,
            "Read ../secret.txt",
            &[
                call("read", r#"{"path":"../secret.txt"}"#),
                answer("never reached"),
            ],
        );
        assert_eq!((st.calls, st.end), (1, TurnEnd::Interrupted));
        assert_eq!(user.asked.len(), 1);
        assert_eq!(
            user.asked[0].outside.as_deref(),
            Some(outside.canonicalize().expect("canonical").as_path())
        );
        assert_eq!(
            user.asked[0]
                .choices()
                .iter()
                .map(|c| c.key)
                .collect::<String>(),
            "yn"
        );
        let last = chat.conversation.messages.last().expect("result");
        assert_eq!(
            last.content,
            "the user denied this call and stopped the turn"
        );
        assert!(!user.streamed.contains("never reached"));
    });
}

#[test]
fn the_call_limit_tells_the_model_then_stops_the_turn() {
    with_agent(Policy::Auto, |chat, tools, tok, _| {
        tools.max_calls = 2;
        let mut user = User::default();
        let ls = call("bash", r#"{"command":"true"}"#);
        let st = turn(
            chat,
            tools,
            tok,
            &mut user,
            "Loop.",
            &[ls.clone(), ls.clone(), ls.clone(), ls.clone(), answer("x")],
        );
        assert_eq!((st.calls, st.end), (4, TurnEnd::Limit));
        let results: Vec<String> = user.outcomes.iter().map(|(_, o)| o.for_model()).collect();
        assert_eq!(results.len(), 3, "{results:?}");
        assert_eq!(results[0], "[exit code 0]");
        assert!(results[2].contains("the limit of 2 tool calls for this turn is reached"));
        assert!(!user.notices.is_empty());
        let last = chat.conversation.messages.last().expect("result");
        assert!(last.content.starts_with("error: the limit of 2 tool calls"));
    });
}

#[test]
fn tools_off_are_not_declared_and_calls_are_refused() {
    with_agent(Policy::Auto, |chat, tools, tok, _| {
        tools.enabled = false;
        chat.conversation.tools.clear();
        let prompt = chat.prompt_tokens();
        let text = tok.decode(&prompt).expect("decode");
        assert!(!text.contains("namespace functions"), "{text}");
        let mut user = User::default();
        turn(
            chat,
            tools,
            tok,
            &mut user,
            "Hi",
            &[call("bash", r#"{"command":"true"}"#), answer("ok")],
        );
        assert_eq!(
            user.outcomes[0].1.for_model(),
            "error: tools are switched off in this chat; answer without them"
        );
    });
}
