//! Tests of the streaming parser: well-formed streams, UTF-8 safety, and
//! every kind of malformed output (real o200k_harmony token ids throughout).

use super::*;

fn vocab() -> Tiktoken<'static> {
    Tiktoken(tiktoken_rs::o200k_harmony_singleton())
}

/// A token stream from pieces: `Err(special)` or `Ok(text)`.
fn stream(parts: &[Result<&str, SpecialToken>]) -> Vec<u32> {
    let v = vocab();
    parts
        .iter()
        .flat_map(|p| match p {
            Ok(text) => v.encode_ordinary(text),
            Err(t) => vec![t.id()],
        })
        .collect()
}

/// Runs a parser over `tokens` (then `finish`), returning all events.
fn run(mut parser: StreamParser<Tiktoken<'static>>, tokens: &[u32]) -> Vec<ParseEvent> {
    let mut events: Vec<ParseEvent> = tokens.iter().flat_map(|&t| parser.push(t)).collect();
    events.extend(parser.finish());
    events
}

fn completion(tokens: &[u32]) -> Vec<ParseEvent> {
    run(
        StreamParser::for_completion(vocab(), Role::Assistant),
        tokens,
    )
}

fn warnings(events: &[ParseEvent]) -> Vec<ParseWarning> {
    events
        .iter()
        .filter_map(|e| match e {
            ParseEvent::Warning(w) => Some(w.clone()),
            _ => None,
        })
        .collect()
}

fn ends(events: &[ParseEvent]) -> Vec<(Message, StopReason)> {
    events
        .iter()
        .filter_map(|e| match e {
            ParseEvent::MessageEnd { message, stop } => Some((message.clone(), *stop)),
            _ => None,
        })
        .collect()
}

/// Checks the event grammar: start, deltas, end; deltas add up to the content.
fn check_well_nested(events: &[ParseEvent]) {
    let mut open: Option<String> = None;
    for e in events {
        match e {
            ParseEvent::MessageStart(_) => {
                assert!(open.is_none(), "start inside a message: {events:?}");
                open = Some(String::new());
            }
            ParseEvent::ContentDelta(d) => {
                assert!(!d.is_empty());
                open.as_mut().expect("delta outside a message").push_str(d);
            }
            ParseEvent::MessageEnd { message, .. } => {
                let text = open.take().expect("end without start");
                assert_eq!(text, message.content);
            }
            ParseEvent::Warning(_) => {}
        }
    }
    assert!(open.is_none(), "message left open after finish");
}

use SpecialToken::{Call, Channel as Ch, Constrain, End, EndOfText, Message as Msg, Return, Start};

#[test]
fn final_answer_after_completion_prompt() {
    let events = completion(&stream(&[
        Err(Ch),
        Ok("final"),
        Err(Msg),
        Ok("Hello, world!"),
        Err(Return),
    ]));
    check_well_nested(&events);
    assert!(warnings(&events).is_empty());
    assert_eq!(
        events.first(),
        Some(&ParseEvent::MessageStart(Header {
            author: Author::Assistant,
            recipient: None,
            channel: Some(Channel::Final),
            content_type: None,
        }))
    );
    assert_eq!(
        ends(&events),
        [(Message::final_answer("Hello, world!"), StopReason::Return)]
    );
    assert!(StopReason::Return.ends_turn() && StopReason::Call.ends_turn());
    assert!(!StopReason::End.ends_turn());
}

#[test]
fn analysis_then_tool_call_both_recipient_positions() {
    let call = Message::tool_call("bash", r#"{"command":"ls"}"#);
    for parts in [
        vec![
            Ok(" to=functions.bash"),
            Err(Ch),
            Ok("commentary "),
            Err(Constrain),
            Ok("json"),
        ],
        vec![
            Err(Ch),
            Ok("commentary to=functions.bash "),
            Err(Constrain),
            Ok("json"),
        ],
    ] {
        let mut all = vec![
            Err(Ch),
            Ok("analysis"),
            Err(Msg),
            Ok("Need ls."),
            Err(End),
            Err(Start),
            Ok("assistant"),
        ];
        all.extend(parts);
        all.extend([Err(Msg), Ok(r#"{"command":"ls"}"#), Err(Call)]);
        let events = completion(&stream(&all));
        check_well_nested(&events);
        assert!(warnings(&events).is_empty(), "{events:?}");
        assert_eq!(
            ends(&events),
            [
                (Message::analysis("Need ls."), StopReason::End),
                (call.clone(), StopReason::Call)
            ]
        );
    }
}

#[test]
fn whole_stream_with_tool_result() {
    let tokens = stream(&[
        Err(Start),
        Ok("functions.bash"),
        Ok(" to=assistant"),
        Err(Ch),
        Ok("commentary"),
        Err(Msg),
        Ok("a.txt\nb.txt"),
        Err(End),
    ]);
    let events = run(StreamParser::new(vocab()), &tokens);
    check_well_nested(&events);
    assert!(warnings(&events).is_empty());
    assert_eq!(
        ends(&events),
        [(
            Message::tool_result("bash", "a.txt\nb.txt"),
            StopReason::End
        )]
    );
}

#[test]
fn deltas_never_split_a_character() {
    let text = "日本語 🙂 👨‍👩‍👧‍👦 é ñ ข้าว 🇫🇷";
    let v = vocab();
    let ids = v.encode_ordinary(text);
    let split_somewhere = ids
        .iter()
        .any(|&id| std::str::from_utf8(&v.token_bytes(id).unwrap_or_default()).is_err());
    assert!(
        split_somewhere,
        "the test text must have a character split across tokens"
    );
    let mut tokens = stream(&[Err(Ch), Ok("final"), Err(Msg)]);
    tokens.extend(&ids);
    tokens.push(Return.id());
    let events = completion(&tokens);
    check_well_nested(&events);
    for e in &events {
        if let ParseEvent::ContentDelta(d) = e {
            assert!(!d.contains('\u{FFFD}'), "delta {d:?}");
        }
    }
    assert_eq!(ends(&events)[0].0.content, text);
}

#[test]
fn invalid_bytes_become_replacement_characters() {
    let v = vocab();
    let lone = |byte: u8| {
        (0..10_000u32)
            .find(|&id| v.token_bytes(id).as_deref() == Some(&[byte][..]))
            .expect("o200k has single-byte tokens")
    };
    let mut tokens = stream(&[Err(Ch), Ok("final"), Err(Msg), Ok("a")]);
    tokens.extend([lone(0xff), lone(b'b'), lone(0xe2), lone(0x82)]);
    tokens.push(End.id());
    let events = completion(&tokens);
    check_well_nested(&events);
    assert_eq!(ends(&events)[0].0.content, "a\u{FFFD}b\u{FFFD}");
}

#[test]
fn unknown_channel_is_plain_text_with_warning() {
    let events = completion(&stream(&[
        Err(Ch),
        Ok("thoughts"),
        Err(Msg),
        Ok("hmm"),
        Err(End),
    ]));
    check_well_nested(&events);
    assert_eq!(
        warnings(&events),
        [ParseWarning::UnknownChannel("thoughts".into())]
    );
    assert_eq!(
        ends(&events),
        [(Message::new(Author::Assistant, "hmm"), StopReason::End)]
    );
}

#[test]
fn missing_message_token_keeps_the_text() {
    let events = completion(&stream(&[
        Err(Ch),
        Ok("final Hello there,\nfriend."),
        Err(Return),
    ]));
    check_well_nested(&events);
    assert_eq!(warnings(&events), [ParseWarning::MissingMessageToken]);
    assert_eq!(
        ends(&events),
        [(
            Message::final_answer("Hello there,\nfriend."),
            StopReason::Return
        )]
    );
}

#[test]
fn overlong_header_turns_into_streamed_content() {
    let long = "word ".repeat(100);
    let mut parser = StreamParser::for_completion(vocab(), Role::Assistant);
    let mut events = Vec::new();
    for t in stream(&[Err(Ch), Ok("final "), Ok(&long)]) {
        events.extend(parser.push(t));
    }
    // Content is flowing before any end token arrives.
    assert!(events
        .iter()
        .any(|e| matches!(e, ParseEvent::ContentDelta(_))));
    events.extend(parser.push(End.id()));
    events.extend(parser.finish());
    check_well_nested(&events);
    assert_eq!(warnings(&events), [ParseWarning::MissingMessageToken]);
    assert_eq!(
        ends(&events),
        [(Message::final_answer(long.clone()), StopReason::End)]
    );
}

#[test]
fn text_after_the_stop_is_kept() {
    let events = completion(&stream(&[
        Err(Ch),
        Ok("final"),
        Err(Msg),
        Ok("Done."),
        Err(Return),
        Ok("and more"),
    ]));
    check_well_nested(&events);
    assert_eq!(
        warnings(&events),
        [ParseWarning::TextOutsideMessage, ParseWarning::CutOff]
    );
    let ends = ends(&events);
    assert_eq!(
        ends[1],
        (
            Message::new(Author::Assistant, "and more"),
            StopReason::Unterminated
        )
    );
}

#[test]
fn stream_cut_mid_message_and_mid_header() {
    let events = completion(&stream(&[Err(Ch), Ok("final"), Err(Msg), Ok("Hel")]));
    check_well_nested(&events);
    assert_eq!(warnings(&events), [ParseWarning::CutOff]);
    assert_eq!(
        ends(&events),
        [(Message::final_answer("Hel"), StopReason::Unterminated)]
    );

    let events = completion(&stream(&[Err(Ch), Ok("analysis")]));
    check_well_nested(&events);
    assert_eq!(
        warnings(&events),
        [ParseWarning::CutOff, ParseWarning::MissingMessageToken]
    );
    assert_eq!(
        ends(&events),
        [(Message::analysis(""), StopReason::Unterminated)]
    );

    // Nothing generated at all: nothing to report.
    assert!(completion(&[]).is_empty());
}

#[test]
fn start_inside_content_closes_the_message() {
    let events = completion(&stream(&[
        Err(Ch),
        Ok("analysis"),
        Err(Msg),
        Ok("think"),
        Err(Start),
        Ok("assistant"),
        Err(Ch),
        Ok("final"),
        Err(Msg),
        Ok("ok"),
        Err(Return),
    ]));
    check_well_nested(&events);
    assert_eq!(warnings(&events), [ParseWarning::MissingEndToken]);
    assert_eq!(
        ends(&events),
        [
            (Message::analysis("think"), StopReason::Unterminated),
            (Message::final_answer("ok"), StopReason::Return)
        ]
    );
}

#[test]
fn stray_and_unknown_tokens_are_skipped() {
    let mut tokens = vec![End.id(), Start.id()];
    tokens.extend(stream(&[
        Ok("assistant"),
        Err(EndOfText),
        Err(Ch),
        Ok("final"),
        Err(Msg),
        Ok("a"),
    ]));
    tokens.extend([Ch.id(), 200_013, 999_999]);
    tokens.extend(stream(&[Ok("b"), Err(End)]));
    let events = run(StreamParser::new(vocab()), &tokens);
    check_well_nested(&events);
    assert_eq!(
        warnings(&events),
        [
            ParseWarning::UnexpectedSpecialToken(End.id()),
            ParseWarning::UnexpectedSpecialToken(EndOfText.id()),
            ParseWarning::UnexpectedSpecialToken(Ch.id()),
            ParseWarning::UnknownToken(200_013),
            ParseWarning::UnknownToken(999_999),
        ]
    );
    assert_eq!(
        ends(&events),
        [(Message::final_answer("ab"), StopReason::End)]
    );
}

#[test]
fn header_without_role() {
    let events = run(
        StreamParser::new(vocab()),
        &stream(&[Err(Start), Err(Msg), Ok("x"), Err(End)]),
    );
    check_well_nested(&events);
    assert_eq!(warnings(&events), [ParseWarning::MissingRole]);
    assert_eq!(
        ends(&events),
        [(Message::new(Author::Assistant, "x"), StopReason::End)]
    );
}

#[test]
fn parse_completion_collects_messages_and_warnings() {
    let (messages, warns) = parse_completion(
        vocab(),
        Role::Assistant,
        stream(&[Err(Ch), Ok("final"), Err(Msg), Ok("hi"), Err(Return)]),
    );
    assert_eq!(messages, [Message::final_answer("hi")]);
    assert!(warns.is_empty());
    let display = ParseWarning::UnknownChannel("x".into()).to_string();
    assert!(display.contains("unknown channel `x`"));
}

/// Random token soup from a small alphabet (specials, header words, split
/// UTF-8, reserved and out-of-range ids): never a panic, and the events stay
/// well nested with deltas adding up to each message.
#[test]
fn random_streams_never_panic() {
    let v = vocab();
    let mut alphabet: Vec<u32> = SpecialToken::ALL.iter().map(|t| t.id()).collect();
    for w in [
        "assistant",
        " to=functions.x",
        "final",
        "analysis",
        "commentary",
        " json",
        "\n",
        " hi",
        "🙂",
    ] {
        alphabet.extend(v.encode_ordinary(w));
    }
    alphabet.extend([200_013, 300_000]);
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    for round in 0..400 {
        let len = 1 + round % 60;
        let tokens: Vec<u32> = (0..len)
            .map(|_| {
                seed = seed
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                alphabet[(seed >> 33) as usize % alphabet.len()]
            })
            .collect();
        for parser in [
            StreamParser::new(v),
            StreamParser::for_completion(v, Role::Assistant),
        ] {
            check_well_nested(&run(parser, &tokens));
        }
    }
}
