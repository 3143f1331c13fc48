//! The agent loop: the model's reply ends in a tool call (`<|call|>`), kchat
//! shows the call, has it approved and run by the [`Toolbox`], adds the
//! result as a `functions.NAME to=assistant` message, and lets the model go
//! on, until it gives a final answer, the user stops it, or the turn's call
//! limit is spent.
//!
//! Every failure is the call's result, never an error of the turn: a bad
//! call, a denied one, a failing tool all go back to the model as text and
//! the conversation goes on.

use super::turn::{Chat, TurnEnd, TurnEvent, TurnStats};
use crate::engine::SessionError;
use crate::harmony::{Author, Channel, Header, Message, Recipient};
use crate::tools::call::CallError;
use crate::tools::{Approver, ToolCall, ToolOutcome, Toolbox};

/// What the front end of the loop does: show the stream, show calls and
/// results, and answer approval requests.
pub trait AgentUi: Approver {
    /// Text of the reply as it streams.
    fn stream(&mut self, event: TurnEvent);
    /// The model called a tool (before any approval).
    fn call_started(&mut self, name: &str, arguments: &str);
    /// The call's outcome (its parsed form when it parsed).
    fn call_finished(&mut self, call: Option<&ToolCall>, outcome: &ToolOutcome);
    /// A line for the user (e.g. the call limit was reached).
    fn notice(&mut self, text: &str);
}

/// What the text of a streamed message is, from its header: how every front
/// end decides where it goes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MessageKind {
    /// A tool call's arguments (shown whole by `call_started` instead).
    Call,
    /// Reasoning (`analysis`).
    Reasoning,
    /// A preamble to tool calls (`commentary` to no one).
    Commentary,
    /// The answer (`final`, or no channel).
    #[default]
    Answer,
}

impl MessageKind {
    /// The kind of the message that `header` starts.
    pub fn of(header: &Header) -> MessageKind {
        match (&header.recipient, header.channel) {
            (Some(_), _) => MessageKind::Call,
            (None, Some(Channel::Analysis)) => MessageKind::Reasoning,
            (None, Some(Channel::Commentary)) => MessageKind::Commentary,
            (None, _) => MessageKind::Answer,
        }
    }
}

/// How a turn with tools ended.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentStats {
    /// Each reply of the turn (one per tool call, plus the last).
    pub replies: Vec<TurnStats>,
    /// Tool calls the model made.
    pub calls: usize,
    /// How the turn ended: as its last reply did, except that a turn stopped
    /// at a tool call (Ctrl-C at the prompt, or the call limit) ends
    /// `Interrupted` or `Limit`.
    pub end: TurnEnd,
}

impl AgentStats {
    /// The first reply's statistics merged with the rest: tokens summed,
    /// the first token of the first reply, the last reply's end.
    pub fn total(&self) -> Option<TurnStats> {
        let mut it = self.replies.iter();
        let mut t = it.next()?.clone();
        for r in it {
            t.prefilled += r.prefilled;
            t.generated += r.generated;
            t.prefill_time += r.prefill_time;
            t.decode_time += r.decode_time;
            t.dropped_exchanges += r.dropped_exchanges;
        }
        t.end = self.end;
        Some(t)
    }
}

/// Runs one turn: `user` (None: reply to the conversation as it is), then
/// replies and tool calls until the model answers.
pub fn agent_turn(
    chat: &mut Chat<'_, '_, '_>,
    tools: &mut Toolbox,
    user: Option<&str>,
    ui: &mut dyn AgentUi,
) -> Result<AgentStats, SessionError> {
    if let Some(u) = user {
        chat.conversation.push(Message::user(u));
    }
    let mut stats = AgentStats {
        replies: Vec::new(),
        calls: 0,
        end: TurnEnd::Answered,
    };
    loop {
        let reply = chat.reply(&mut |ev| ui.stream(ev))?;
        stats.end = reply.end;
        stats.replies.push(reply);
        if stats.end != TurnEnd::ToolCall {
            return Ok(stats);
        }
        let Some(call) = chat
            .conversation
            .messages
            .last()
            .filter(|m| m.is_tool_call())
        else {
            return Ok(stats);
        };
        let recipient = call.recipient.clone().unwrap_or(Recipient::Assistant);
        let arguments = call.content.clone();
        stats.calls += 1;
        let name = recipient.function_name().unwrap_or_default().to_owned();
        ui.call_started(&recipient.to_string(), &arguments);
        let (parsed, outcome) = if stats.calls > tools.max_calls {
            let over = stats.calls - tools.max_calls;
            let msg = format!(
                "the limit of {} tool calls for this turn is reached; answer the user now without calling tools",
                tools.max_calls
            );
            ui.notice(&format!(
                "the model reached the limit of {} tool calls for this turn (--max-tool-calls)",
                tools.max_calls
            ));
            let refused = ToolOutcome::Refused(msg);
            if over > 1 {
                // It was told and called again: stop the turn.
                push_result(chat, &recipient, &refused.for_model());
                stats.end = TurnEnd::Limit;
                return Ok(stats);
            }
            (None, refused)
        } else if matches!(recipient, Recipient::Function(_)) {
            tools.handle(&name, &arguments, ui)
        } else {
            let e = CallError::NotAFunction {
                to: recipient.to_string(),
            };
            (None, ToolOutcome::Refused(e.to_string()))
        };
        ui.call_finished(parsed.as_ref(), &outcome);
        push_result(chat, &recipient, &outcome.for_model());
        let cancelled = chat
            .cancel_flag()
            .load(std::sync::atomic::Ordering::Relaxed);
        if outcome == ToolOutcome::Aborted || cancelled {
            stats.end = TurnEnd::Interrupted;
            return Ok(stats);
        }
    }
}

/// Adds the tool's answer to the conversation.
fn push_result(chat: &mut Chat<'_, '_, '_>, from: &Recipient, text: &str) {
    chat.conversation.push(
        Message::new(Author::Tool(from.clone()), text)
            .with_recipient(Recipient::Assistant)
            .with_channel(Channel::Commentary),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_sort_text_into_kinds() {
        let header = |channel, to: Option<Recipient>| Header {
            channel,
            recipient: to,
            ..Header::new(Author::Assistant)
        };
        let kind = |c, to| MessageKind::of(&header(c, to));
        let bash = Some(Recipient::function("bash"));
        assert_eq!(kind(Some(Channel::Commentary), bash), MessageKind::Call);
        assert_eq!(kind(Some(Channel::Analysis), None), MessageKind::Reasoning);
        assert_eq!(
            kind(Some(Channel::Commentary), None),
            MessageKind::Commentary
        );
        assert_eq!(kind(Some(Channel::Final), None), MessageKind::Answer);
        assert_eq!(kind(None, None), MessageKind::Answer);
    }
}
