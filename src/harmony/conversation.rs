//! A whole conversation: the system settings (identity, dates, reasoning
//! effort), the developer's instructions and function tools, and the
//! messages; plus the rule for which messages are sent back to the model.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::date::{CalendarDate, YearMonth};
use super::error::HarmonyError;
use super::message::{Author, Channel, Message};
use super::persona::Persona;

/// How long the model thinks before answering (`Reasoning: low|medium|high`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasoningEffort {
    /// `low`.
    Low,
    /// `medium` (the default).
    #[default]
    Medium,
    /// `high`.
    High,
}

impl ReasoningEffort {
    /// The word written after `Reasoning: `.
    pub const fn as_str(self) -> &'static str {
        match self {
            ReasoningEffort::Low => "low",
            ReasoningEffort::Medium => "medium",
            ReasoningEffort::High => "high",
        }
    }
}

impl fmt::Display for ReasoningEffort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ReasoningEffort {
    type Err = HarmonyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "low" => Ok(ReasoningEffort::Low),
            "medium" => Ok(ReasoningEffort::Medium),
            "high" => Ok(ReasoningEffort::High),
            _ => Err(HarmonyError::UnknownReasoningEffort {
                given: s.to_string(),
            }),
        }
    }
}

/// The model identity line gpt-oss was trained with.
pub const DEFAULT_MODEL_IDENTITY: &str =
    "You are ChatGPT, a large language model trained by OpenAI.";

/// What the system preamble says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemSettings {
    /// The first line (empty: left out).
    pub model_identity: String,
    /// `Knowledge cutoff: YYYY-MM`.
    pub knowledge_cutoff: Option<YearMonth>,
    /// `Current date: YYYY-MM-DD`: when the conversation takes place.
    pub conversation_start_date: Option<CalendarDate>,
    /// `Reasoning: …`.
    pub reasoning_effort: ReasoningEffort,
}

impl Default for SystemSettings {
    fn default() -> Self {
        SystemSettings {
            model_identity: DEFAULT_MODEL_IDENTITY.to_string(),
            knowledge_cutoff: Some(YearMonth::GPT_OSS_CUTOFF),
            conversation_start_date: None,
            reasoning_effort: ReasoningEffort::Medium,
        }
    }
}

/// A function the model may call, declared in the developer message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolDescription {
    /// The name, called as `functions.NAME`.
    pub name: String,
    /// What it does (one `//` comment line per line).
    pub description: String,
    /// The JSON schema of its argument object; `null` for a function without arguments.
    pub parameters: serde_json::Value,
}

impl ToolDescription {
    /// A tool description.
    pub fn new(
        name: impl Into<String>,
        description: impl Into<String>,
        parameters: serde_json::Value,
    ) -> ToolDescription {
        ToolDescription {
            name: name.into(),
            description: description.into(),
            parameters,
        }
    }
}

/// A conversation as the model sees it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    /// The system preamble.
    pub system: SystemSettings,
    /// The user's system prompt or persona text, rendered under `# Instructions`
    /// in the developer message.
    pub instructions: Option<String>,
    /// The function tools, rendered under `# Tools` / `## functions`.
    pub tools: Vec<ToolDescription>,
    /// The messages after the system and developer messages.
    pub messages: Vec<Message>,
}

impl Conversation {
    /// An empty conversation with default system settings.
    pub fn new() -> Conversation {
        Conversation::default()
    }

    /// The conversation with these system settings.
    pub fn with_system(mut self, system: SystemSettings) -> Conversation {
        self.system = system;
        self
    }

    /// The conversation with these developer instructions.
    pub fn with_instructions(mut self, instructions: impl Into<String>) -> Conversation {
        self.instructions = Some(instructions.into());
        self
    }

    /// The conversation with `Persona: <alignment>` as its instructions.
    pub fn with_persona(self, persona: Persona) -> Conversation {
        self.with_instructions(persona.instructions())
    }

    /// The conversation with these function tools.
    pub fn with_tools(mut self, tools: Vec<ToolDescription>) -> Conversation {
        self.tools = tools;
        self
    }

    /// The conversation with one more message.
    pub fn with_message(mut self, message: Message) -> Conversation {
        self.messages.push(message);
        self
    }

    /// Appends a message.
    pub fn push(&mut self, message: Message) {
        self.messages.push(message);
    }

    /// The messages that are rendered, in order: an assistant `analysis`
    /// message is dropped when a `final` assistant message follows it (its
    /// turn has been answered); analysis of a turn still in progress (e.g.
    /// before a tool call whose result the model has not answered yet) stays.
    ///
    /// This is the rule of the gpt-oss chat template and of harmony's format
    /// guide. openai-harmony 0.0.8's `auto_drop_analysis` drops only analysis
    /// before the *first* final message (its PR #96 fixes that); both agree on
    /// conversations where only the last turn is still open.
    pub fn rendered_messages(&self) -> impl Iterator<Item = &Message> {
        let last_final = self
            .messages
            .iter()
            .rposition(|m| m.author == Author::Assistant && m.channel == Some(Channel::Final));
        self.messages.iter().enumerate().filter_map(move |(i, m)| {
            let dropped = m.author == Author::Assistant
                && m.channel == Some(Channel::Analysis)
                && last_final.is_some_and(|last| i < last);
            (!dropped).then_some(m)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn effort_parses() {
        assert_eq!("High".parse::<ReasoningEffort>(), Ok(ReasoningEffort::High));
        assert!("max".parse::<ReasoningEffort>().is_err());
        assert_eq!(ReasoningEffort::default(), ReasoningEffort::Medium);
    }

    #[test]
    fn drops_answered_analysis_only() {
        let conv = Conversation::new()
            .with_message(Message::user("q1"))
            .with_message(Message::analysis("a1"))
            .with_message(Message::final_answer("f1"))
            .with_message(Message::user("q2"))
            .with_message(Message::analysis("a2"))
            .with_message(Message::tool_call("bash", "{}"))
            .with_message(Message::tool_result("bash", "out"))
            .with_message(Message::analysis("a3"));
        let kept: Vec<&str> = conv
            .rendered_messages()
            .map(|m| m.content.as_str())
            .collect();
        assert_eq!(kept, ["q1", "f1", "q2", "a2", "{}", "out", "a3"]);

        let conv = conv.with_message(Message::final_answer("f2"));
        let kept: Vec<&str> = conv
            .rendered_messages()
            .map(|m| m.content.as_str())
            .collect();
        assert_eq!(kept, ["q1", "f1", "q2", "{}", "out", "f2"]);
    }
}
