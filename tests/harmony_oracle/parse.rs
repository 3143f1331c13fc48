//! Parsing parity: kchat's streaming parser and openai-harmony's parser on
//! harmony-rendered completions and whole conversations, token by token,
//! comparing messages and per-token content deltas; plus model-style outputs
//! with the recipient after the channel.

use kchat::harmony::{
    Author, Channel, Message, ParseEvent, Recipient, Role, StopReason, StreamParser,
};
use openai_harmony::chat as oh;
use openai_harmony::StreamableParser;

use crate::corpus::cases;
use crate::setup::{from_harmony, harmony, tiktoken, to_harmony, to_harmony_message};

/// Feeds `tokens` to both parsers, one at a time, checking that each token
/// yields the same content delta; returns both parsers' messages.
fn parse_both(tokens: &[u32], role: Option<Role>, label: &str) -> (Vec<Message>, Vec<Message>) {
    let mut ours = match role {
        Some(role) => StreamParser::for_completion(tiktoken(), role),
        None => StreamParser::new(tiktoken()),
    };
    let theirs_role = role.map(|_| oh::Role::Assistant);
    let mut theirs = StreamableParser::new(harmony().clone(), theirs_role).expect("parser");
    for (i, &t) in tokens.iter().enumerate() {
        let events = ours.push(t);
        theirs.process(t).expect("harmony parses");
        let our_delta: String = events
            .iter()
            .filter_map(|e| match e {
                ParseEvent::ContentDelta(d) => Some(d.as_str()),
                ParseEvent::Warning(w) => panic!("{label}: warning {w} at token {i}"),
                _ => None,
            })
            .collect();
        let their_delta = theirs
            .last_content_delta()
            .expect("delta")
            .unwrap_or_default();
        assert_eq!(our_delta, their_delta, "{label}: delta at token {i}");
    }
    assert!(
        ours.finish().is_empty(),
        "{label}: stream ends between messages"
    );
    theirs.process_eos().expect("harmony eos");
    let theirs: Vec<Message> = theirs.into_messages().iter().map(from_harmony).collect();
    (ours.into_messages(), theirs)
}

#[test]
fn completions_parse_like_harmony() {
    let mut compared = 0;
    for case in cases() {
        let conv = &case.conversation;
        // The model's side of the conversation: each run of assistant
        // messages, as harmony renders it for training (last final ends
        // with <|return|>), without the `<|start|>assistant` of the prompt.
        let mut runs: Vec<Vec<Message>> = Vec::new();
        for m in &conv.messages {
            match (m.author == Author::Assistant, runs.last_mut()) {
                (true, Some(run)) if !run.is_empty() => run.push(m.clone()),
                (true, _) => runs.push(vec![m.clone()]),
                (false, _) => runs.push(Vec::new()),
            }
        }
        for run in runs.into_iter().filter(|r| !r.is_empty()) {
            let msgs: Vec<oh::Message> = run.iter().map(to_harmony_message).collect();
            let tokens = harmony()
                .render_conversation_for_training(&msgs, None)
                .expect("renders");
            let prompt_tail = [
                200_006,
                tiktoken_rs::o200k_harmony_singleton().encode_ordinary("assistant")[0],
            ];
            let completion = tokens
                .strip_prefix(&prompt_tail[..])
                .expect("starts <|start|>assistant");
            let (ours, theirs) = parse_both(completion, Some(Role::Assistant), &case.label);
            assert_eq!(ours, theirs, "{}", case.label);
            assert_eq!(ours, run, "{}", case.label);
            compared += 1;
        }
    }
    assert!(compared >= 50, "{compared} completions compared");
}

#[test]
fn whole_conversations_parse_like_harmony() {
    for case in cases() {
        let conv = &case.conversation;
        let tokens = harmony()
            .render_conversation(&to_harmony(conv, &conv.messages), None)
            .expect("renders");
        let (ours, theirs) = parse_both(&tokens, None, &case.label);
        assert_eq!(ours, theirs, "{}", case.label);
        assert_eq!(
            &ours[ours.len() - conv.messages.len()..],
            &conv.messages[..],
            "{}",
            case.label
        );
    }
}

/// Model-style outputs written as text, with the special tokens the model
/// would sample; both recipient positions, a bare content type, a preamble.
#[test]
fn model_outputs_parse_like_harmony() {
    let bpe = tiktoken_rs::o200k_harmony_singleton();
    let outputs = [
        "<|channel|>analysis<|message|>Need to call bash.<|end|><|start|>assistant<|channel|>commentary to=functions.bash <|constrain|>json<|message|>{\"command\":\"ls -la\"}<|call|>",
        " to=functions.bash<|channel|>commentary <|constrain|>json<|message|>{\"command\":\"pwd\"}<|call|>",
        "<|channel|>commentary to=functions.read_file<|constrain|>json<|message|>{\"path\":\"a\"}<|call|>",
        "<|channel|>commentary to=functions.bash json<|message|>{}<|call|>",
        "<|channel|>commentary<|message|>Let me check.<|end|><|start|>assistant to=functions.bash<|channel|>commentary <|constrain|>json<|message|>{}<|call|>",
        "<|channel|>analysis<|message|>Think… 🙂 日本<|end|><|start|>assistant<|channel|>final<|message|>Done: **ok**\n- a\n- b<|return|>",
        "<|message|>no channel at all<|end|>",
    ];
    for text in outputs {
        let tokens = bpe.encode_with_special_tokens(text);
        let (ours, theirs) = parse_both(&tokens, Some(Role::Assistant), text);
        assert_eq!(ours, theirs, "{text}");
    }
    // The notes' form: recipient after the channel.
    let tokens = bpe.encode_with_special_tokens(outputs[0]);
    let mut parser = StreamParser::for_completion(tiktoken(), Role::Assistant);
    let stops: Vec<StopReason> = tokens
        .iter()
        .flat_map(|&t| parser.push(t))
        .filter_map(|e| match e {
            ParseEvent::MessageEnd { stop, .. } => Some(stop),
            _ => None,
        })
        .collect();
    assert_eq!(stops, [StopReason::End, StopReason::Call]);
    let call = &parser.messages()[1];
    assert_eq!(call.recipient, Some(Recipient::function("bash")));
    assert_eq!(call.channel, Some(Channel::Commentary));
    assert!(call.is_tool_call());
}
