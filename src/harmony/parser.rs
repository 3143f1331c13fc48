//! The streaming parser: fed the model's tokens one at a time, it emits
//! message starts, UTF-8-safe content deltas, message ends with their stop
//! reason, and warnings for malformed output (which comes out as plain text,
//! never lost, never a panic). It also collects the parsed [`Message`]s.

use thiserror::Error;

use super::header::{complete_prefix_len, parse_header, Header, HeaderBuf, HeaderEnd};
use super::message::{Author, Message, Role};
use super::tokens::{SpecialToken, TokenBytes};

/// Header text beyond this many bytes means the model never wrote
/// `<|message|>`: the rest is treated as content.
pub const MAX_HEADER_BYTES: usize = 256;

/// Why a message ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StopReason {
    /// `<|return|>`: the final answer is complete; the turn is over.
    Return,
    /// `<|call|>`: a tool call is complete; run it, then continue the turn.
    Call,
    /// `<|end|>`: the message is complete; the model goes on with another one.
    End,
    /// No end token: the stream stopped, or a new `<|start|>` came first.
    Unterminated,
}

impl StopReason {
    /// Whether the model's turn is over (`<|return|>` or `<|call|>`).
    pub fn ends_turn(self) -> bool {
        matches!(self, StopReason::Return | StopReason::Call)
    }
}

/// Something malformed in the model's output, and what the parser did about it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseWarning {
    /// The header named a channel other than analysis, commentary or final;
    /// the message is kept without a channel.
    #[error("the model used an unknown channel `{0}`; its text is shown as plain text")]
    UnknownChannel(String),
    /// The header had no role and none was given; the assistant is assumed.
    #[error("a message header had no role; assuming the assistant")]
    MissingRole,
    /// Words in the header that fit nowhere; they are dropped from the header.
    #[error("ignored unexpected text in a message header: `{0}`")]
    UnexpectedHeaderText(String),
    /// The header ended (stop token, `<|start|>`, too long, end of stream)
    /// without `<|message|>`; what followed the header's known parts is content.
    #[error("a message header had no <|message|> token; its text is kept as content")]
    MissingMessageToken,
    /// Text came where `<|start|>` was expected; it becomes an assistant message.
    #[error("the model wrote text outside a message; it is kept as plain text")]
    TextOutsideMessage,
    /// A `<|start|>` came inside a message; the message is closed there.
    #[error("a message had no end token before the next <|start|>")]
    MissingEndToken,
    /// A special token where it has no meaning; it is skipped.
    #[error("skipped the special token {0} where it has no meaning")]
    UnexpectedSpecialToken(u32),
    /// A token id that is neither special nor ordinary (reserved or out of range); skipped.
    #[error("skipped token id {0}, which is not in the vocabulary")]
    UnknownToken(u32),
    /// The stream ended inside a message; the message is kept as it is.
    #[error("the output stopped in the middle of a message")]
    CutOff,
}

/// What the parser saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseEvent {
    /// A message begins; its header is known.
    MessageStart(Header),
    /// More text of the current message (whole UTF-8 characters only).
    ContentDelta(String),
    /// The current message is complete.
    MessageEnd {
        /// The whole message.
        message: Message,
        /// How it ended.
        stop: StopReason,
    },
    /// Malformed output, handled as described.
    Warning(ParseWarning),
}

#[derive(Debug)]
enum State {
    ExpectStart,
    Header(HeaderBuf),
    Content {
        header: Header,
        text: String,
        pending: Vec<u8>,
    },
}

/// The streaming harmony parser over a vocabulary `T`.
#[derive(Debug)]
pub struct StreamParser<T> {
    vocab: T,
    /// The role given by the prompt for the first header (`<|start|>assistant`).
    given_role: Option<Role>,
    state: State,
    messages: Vec<Message>,
}

impl<T: TokenBytes> StreamParser<T> {
    /// A parser for a whole token stream, starting before a `<|start|>`.
    pub fn new(vocab: T) -> StreamParser<T> {
        StreamParser {
            vocab,
            given_role: None,
            state: State::ExpectStart,
            messages: Vec::new(),
        }
    }

    /// A parser for the model's output after a prompt that ended
    /// `<|start|>ROLE` (see [`RenderTarget::Completion`](super::RenderTarget)):
    /// the first tokens continue that header.
    pub fn for_completion(vocab: T, role: Role) -> StreamParser<T> {
        StreamParser {
            vocab,
            given_role: Some(role),
            state: State::Header(HeaderBuf::default()),
            messages: Vec::new(),
        }
    }

    /// The messages completed so far.
    pub fn messages(&self) -> &[Message] {
        &self.messages
    }

    /// The completed messages.
    pub fn into_messages(self) -> Vec<Message> {
        self.messages
    }

    /// The header of the message being read, once its content has begun.
    pub fn current_header(&self) -> Option<&Header> {
        match &self.state {
            State::Content { header, .. } => Some(header),
            _ => None,
        }
    }

    /// Feeds one token.
    pub fn push(&mut self, token: u32) -> Vec<ParseEvent> {
        let mut events = Vec::new();
        let special = SpecialToken::from_id(token);
        let state = std::mem::replace(&mut self.state, State::ExpectStart);
        self.state = match (state, special) {
            (State::ExpectStart, Some(SpecialToken::Start)) => State::Header(HeaderBuf::default()),
            (State::ExpectStart, Some(_)) => {
                events.push(warn(ParseWarning::UnexpectedSpecialToken(token)));
                State::ExpectStart
            }
            (State::ExpectStart, None) => match self.vocab.token_bytes(token) {
                None => {
                    events.push(warn(ParseWarning::UnknownToken(token)));
                    State::ExpectStart
                }
                Some(bytes) => {
                    events.push(warn(ParseWarning::TextOutsideMessage));
                    let role = self.given_role.take().unwrap_or(Role::Assistant);
                    let header = Header::new(Author::from_role(role));
                    events.push(ParseEvent::MessageStart(header.clone()));
                    let mut state = State::Content {
                        header,
                        text: String::new(),
                        pending: Vec::new(),
                    };
                    push_content(&mut state, &bytes, &mut events);
                    state
                }
            },
            (State::Header(mut buf), Some(SpecialToken::Message)) => {
                let mut warnings = Vec::new();
                let role = self.given_role.take();
                let (header, _) = parse_header(&mut buf, role, HeaderEnd::Complete, &mut warnings);
                events.extend(warnings.into_iter().map(warn));
                events.push(ParseEvent::MessageStart(header.clone()));
                State::Content {
                    header,
                    text: String::new(),
                    pending: Vec::new(),
                }
            }
            (
                State::Header(mut buf),
                Some(t @ (SpecialToken::Channel | SpecialToken::Constrain)),
            ) => {
                buf.push_mark(t);
                State::Header(buf)
            }
            (State::Header(buf), Some(t)) if t.ends_message() => {
                let state = self.salvage_header(buf, &mut events);
                self.end_message(state, stop_reason(t), &mut events);
                State::ExpectStart
            }
            (State::Header(buf), Some(SpecialToken::Start)) => {
                if buf.is_empty() {
                    self.given_role = None;
                } else {
                    let state = self.salvage_header(buf, &mut events);
                    self.end_message(state, StopReason::Unterminated, &mut events);
                }
                State::Header(HeaderBuf::default())
            }
            (State::Header(buf), Some(_)) => {
                events.push(warn(ParseWarning::UnexpectedSpecialToken(token)));
                State::Header(buf)
            }
            (State::Header(mut buf), None) => match self.vocab.token_bytes(token) {
                None => {
                    events.push(warn(ParseWarning::UnknownToken(token)));
                    State::Header(buf)
                }
                Some(bytes) => {
                    buf.push_bytes(&bytes);
                    if buf.len() > MAX_HEADER_BYTES {
                        self.salvage_header(buf, &mut events)
                    } else {
                        State::Header(buf)
                    }
                }
            },
            (state @ State::Content { .. }, Some(t)) if t.ends_message() => {
                self.end_message(state, stop_reason(t), &mut events);
                State::ExpectStart
            }
            (state @ State::Content { .. }, Some(SpecialToken::Start)) => {
                events.push(warn(ParseWarning::MissingEndToken));
                self.end_message(state, StopReason::Unterminated, &mut events);
                State::Header(HeaderBuf::default())
            }
            (state @ State::Content { .. }, Some(_)) => {
                events.push(warn(ParseWarning::UnexpectedSpecialToken(token)));
                state
            }
            (mut state @ State::Content { .. }, None) => {
                match self.vocab.token_bytes(token) {
                    None => events.push(warn(ParseWarning::UnknownToken(token))),
                    Some(bytes) => push_content(&mut state, &bytes, &mut events),
                }
                state
            }
        };
        events
    }

    /// Ends the stream: a message still open is closed as
    /// [`StopReason::Unterminated`], with a [`ParseWarning::CutOff`].
    pub fn finish(&mut self) -> Vec<ParseEvent> {
        let mut events = Vec::new();
        let state = std::mem::replace(&mut self.state, State::ExpectStart);
        match state {
            State::ExpectStart => {}
            State::Header(buf) if buf.is_empty() => {}
            State::Header(buf) => {
                events.push(warn(ParseWarning::CutOff));
                let state = self.salvage_header(buf, &mut events);
                self.end_message(state, StopReason::Unterminated, &mut events);
            }
            state @ State::Content { .. } => {
                events.push(warn(ParseWarning::CutOff));
                self.end_message(state, StopReason::Unterminated, &mut events);
            }
        }
        self.given_role = None;
        events
    }

    /// A header that will get no `<|message|>`: warn, start the message with
    /// what the header says, and make the rest content.
    fn salvage_header(&mut self, mut buf: HeaderBuf, events: &mut Vec<ParseEvent>) -> State {
        events.push(warn(ParseWarning::MissingMessageToken));
        let mut warnings = Vec::new();
        let role = self.given_role.take();
        let (header, content) = parse_header(&mut buf, role, HeaderEnd::Salvage, &mut warnings);
        events.extend(warnings.into_iter().map(warn));
        events.push(ParseEvent::MessageStart(header.clone()));
        let mut state = State::Content {
            header,
            text: String::new(),
            pending: Vec::new(),
        };
        push_content(&mut state, content.as_bytes(), events);
        push_content(&mut state, &buf.take_pending(), events);
        state
    }

    /// Closes the message in `state` (a `Content` state), flushing any
    /// incomplete UTF-8 as U+FFFD.
    fn end_message(&mut self, state: State, stop: StopReason, events: &mut Vec<ParseEvent>) {
        let State::Content {
            header,
            mut text,
            pending,
        } = state
        else {
            return;
        };
        if !pending.is_empty() {
            let rest = String::from_utf8_lossy(&pending).into_owned();
            text.push_str(&rest);
            events.push(ParseEvent::ContentDelta(rest));
        }
        let message = Message {
            author: header.author,
            recipient: header.recipient,
            channel: header.channel,
            content_type: header.content_type,
            content: text,
        };
        self.messages.push(message.clone());
        events.push(ParseEvent::MessageEnd { message, stop });
    }
}

fn warn(w: ParseWarning) -> ParseEvent {
    ParseEvent::Warning(w)
}

fn stop_reason(token: SpecialToken) -> StopReason {
    match token {
        SpecialToken::Return => StopReason::Return,
        SpecialToken::Call => StopReason::Call,
        _ => StopReason::End,
    }
}

/// Adds `bytes` to the content in `state`, emitting the whole characters as a
/// delta (invalid bytes become U+FFFD) and keeping an incomplete tail.
fn push_content(state: &mut State, bytes: &[u8], events: &mut Vec<ParseEvent>) {
    let State::Content { text, pending, .. } = state else {
        return;
    };
    if bytes.is_empty() {
        return;
    }
    pending.extend_from_slice(bytes);
    let complete = complete_prefix_len(pending);
    if complete == 0 {
        return;
    }
    let done: Vec<u8> = pending.drain(..complete).collect();
    let delta = String::from_utf8_lossy(&done).into_owned();
    text.push_str(&delta);
    events.push(ParseEvent::ContentDelta(delta));
}

/// Parses a whole completion (the tokens after a prompt ending
/// `<|start|>ROLE`), returning the messages and the warnings.
pub fn parse_completion<T: TokenBytes>(
    vocab: T,
    role: Role,
    tokens: impl IntoIterator<Item = u32>,
) -> (Vec<Message>, Vec<ParseWarning>) {
    let mut parser = StreamParser::for_completion(vocab, role);
    let mut warnings = Vec::new();
    let mut collect = |events: Vec<ParseEvent>| {
        warnings.extend(events.into_iter().filter_map(|e| match e {
            ParseEvent::Warning(w) => Some(w),
            _ => None,
        }))
    };
    for token in tokens {
        collect(parser.push(token));
    }
    collect(parser.finish());
    (parser.into_messages(), warnings)
}
