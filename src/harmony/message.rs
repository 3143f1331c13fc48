//! One harmony message and the typed parts of its header: who wrote it
//! ([`Author`], [`Role`]), where it goes ([`Recipient`]), on which [`Channel`],
//! and in which [`ContentType`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::error::HarmonyError;

/// The role of a message's author.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The system preamble (model identity, dates, reasoning effort, channels).
    System,
    /// The developer message (instructions and tool declarations).
    Developer,
    /// The person chatting.
    User,
    /// The model.
    Assistant,
    /// A tool's answer to a call.
    Tool,
}

impl Role {
    /// The role's name as written in a header.
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::Developer => "developer",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = HarmonyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "system" => Ok(Role::System),
            "developer" => Ok(Role::Developer),
            "user" => Ok(Role::User),
            "assistant" => Ok(Role::Assistant),
            "tool" => Ok(Role::Tool),
            _ => Err(HarmonyError::UnknownRole {
                given: s.to_string(),
            }),
        }
    }
}

/// The channel of an assistant message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// Chain of thought; not shown to the user, dropped once the turn has a final answer.
    Analysis,
    /// Tool calls and preambles to them.
    Commentary,
    /// The answer shown to the user.
    Final,
}

impl Channel {
    /// Every channel, in the order the system preamble lists them.
    pub const ALL: [Channel; 3] = [Channel::Analysis, Channel::Commentary, Channel::Final];

    /// The channel's name as written after `<|channel|>`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Channel::Analysis => "analysis",
            Channel::Commentary => "commentary",
            Channel::Final => "final",
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Channel {
    type Err = HarmonyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "analysis" => Ok(Channel::Analysis),
            "commentary" => Ok(Channel::Commentary),
            "final" => Ok(Channel::Final),
            _ => Err(HarmonyError::UnknownChannel {
                given: s.to_string(),
            }),
        }
    }
}

/// An address in a header: the recipient after `to=`, or the name a tool
/// answers under (`functions.bash`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Recipient {
    /// `assistant`: where a tool's answer goes.
    Assistant,
    /// `functions.NAME`: a function tool declared in the developer message.
    Function(String),
    /// Any other address (e.g. `browser.search`, `python`).
    Other(String),
}

impl Recipient {
    /// `functions.NAME`.
    pub fn function(name: impl Into<String>) -> Recipient {
        Recipient::Function(name.into())
    }

    /// The function's name if this is `functions.NAME`.
    pub fn function_name(&self) -> Option<&str> {
        match self {
            Recipient::Function(name) => Some(name),
            _ => None,
        }
    }
}

impl fmt::Display for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Recipient::Assistant => f.write_str("assistant"),
            Recipient::Function(name) => write!(f, "functions.{name}"),
            Recipient::Other(address) => f.write_str(address),
        }
    }
}

impl FromStr for Recipient {
    type Err = HarmonyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() || s.chars().any(char::is_whitespace) {
            return Err(HarmonyError::InvalidRecipient {
                given: s.to_string(),
            });
        }
        Ok(match s {
            "assistant" => Recipient::Assistant,
            _ => match s.strip_prefix("functions.") {
                Some(name) if !name.is_empty() => Recipient::Function(name.to_string()),
                _ => Recipient::Other(s.to_string()),
            },
        })
    }
}

impl From<Recipient> for String {
    fn from(r: Recipient) -> String {
        r.to_string()
    }
}

impl TryFrom<String> for Recipient {
    type Error = HarmonyError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

/// The content type at the end of a header.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContentType {
    /// `<|constrain|>FORMAT`, e.g. `<|constrain|>json` for a tool call's arguments.
    Constrained(String),
    /// A bare content type word (e.g. `json` without `<|constrain|>`).
    Plain(String),
}

impl ContentType {
    /// `<|constrain|>json`, the content type of a function call.
    pub fn json() -> ContentType {
        ContentType::Constrained("json".to_string())
    }

    /// The format name without the `<|constrain|>` marker.
    pub fn format(&self) -> &str {
        match self {
            ContentType::Constrained(f) | ContentType::Plain(f) => f,
        }
    }
}

impl fmt::Display for ContentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ContentType::Constrained(format) => write!(f, "<|constrain|>{format}"),
            ContentType::Plain(format) => f.write_str(format),
        }
    }
}

/// Who wrote a message.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Author {
    /// The system preamble.
    System,
    /// The developer (instructions, tools).
    Developer,
    /// The person chatting.
    User,
    /// The model.
    Assistant,
    /// A tool, named by its address (`functions.bash`); the header shows the
    /// address in place of a role.
    Tool(Recipient),
}

impl Author {
    /// The author's role.
    pub fn role(&self) -> Role {
        match self {
            Author::System => Role::System,
            Author::Developer => Role::Developer,
            Author::User => Role::User,
            Author::Assistant => Role::Assistant,
            Author::Tool(_) => Role::Tool,
        }
    }

    /// The author of a message in `role`; a tool with no address is named `tool`.
    pub fn from_role(role: Role) -> Author {
        match role {
            Role::System => Author::System,
            Role::Developer => Author::Developer,
            Role::User => Author::User,
            Role::Assistant => Author::Assistant,
            Role::Tool => Author::Tool(Recipient::Other("tool".to_string())),
        }
    }
}

impl fmt::Display for Author {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Author::Tool(address) => address.fmt(f),
            other => f.write_str(other.role().as_str()),
        }
    }
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Who wrote it.
    pub author: Author,
    /// Where it goes (`to=…`); `None` means everyone.
    pub recipient: Option<Recipient>,
    /// The channel (assistant and tool messages).
    pub channel: Option<Channel>,
    /// The content type (`<|constrain|>json` for function calls).
    pub content_type: Option<ContentType>,
    /// The text.
    pub content: String,
}

impl Message {
    /// A message with no recipient, channel or content type.
    pub fn new(author: Author, content: impl Into<String>) -> Message {
        Message {
            author,
            recipient: None,
            channel: None,
            content_type: None,
            content: content.into(),
        }
    }

    /// A user message.
    pub fn user(content: impl Into<String>) -> Message {
        Message::new(Author::User, content)
    }

    /// An assistant message on `channel`.
    pub fn assistant(channel: Channel, content: impl Into<String>) -> Message {
        Message::new(Author::Assistant, content).with_channel(channel)
    }

    /// The assistant's chain of thought.
    pub fn analysis(content: impl Into<String>) -> Message {
        Message::assistant(Channel::Analysis, content)
    }

    /// The assistant's answer to the user.
    pub fn final_answer(content: impl Into<String>) -> Message {
        Message::assistant(Channel::Final, content)
    }

    /// A call of function `name` with JSON `arguments`
    /// (`assistant to=functions.NAME<|channel|>commentary <|constrain|>json`).
    pub fn tool_call(name: impl Into<String>, arguments: impl Into<String>) -> Message {
        Message::assistant(Channel::Commentary, arguments)
            .with_recipient(Recipient::function(name))
            .with_content_type(ContentType::json())
    }

    /// Function `name`'s answer to a call
    /// (`functions.NAME to=assistant<|channel|>commentary`).
    pub fn tool_result(name: impl Into<String>, output: impl Into<String>) -> Message {
        Message::new(Author::Tool(Recipient::function(name)), output)
            .with_recipient(Recipient::Assistant)
            .with_channel(Channel::Commentary)
    }

    /// The message with its channel set.
    pub fn with_channel(mut self, channel: Channel) -> Message {
        self.channel = Some(channel);
        self
    }

    /// The message with its recipient set.
    pub fn with_recipient(mut self, recipient: Recipient) -> Message {
        self.recipient = Some(recipient);
        self
    }

    /// The message with its content type set.
    pub fn with_content_type(mut self, content_type: ContentType) -> Message {
        self.content_type = Some(content_type);
        self
    }

    /// Whether this is the assistant calling a tool (rendered ending `<|call|>`).
    pub fn is_tool_call(&self) -> bool {
        self.author == Author::Assistant && self.recipient.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipients_parse_and_print() {
        for (text, want) in [
            ("assistant", Recipient::Assistant),
            ("functions.bash", Recipient::function("bash")),
            ("browser.search", Recipient::Other("browser.search".into())),
            ("functions.", Recipient::Other("functions.".into())),
        ] {
            let got: Recipient = text.parse().expect("valid recipient");
            assert_eq!(got, want);
            assert_eq!(got.to_string(), text);
        }
        assert!("".parse::<Recipient>().is_err());
        assert!("functions.a b".parse::<Recipient>().is_err());
        assert_eq!(Recipient::function("x").function_name(), Some("x"));
    }

    #[test]
    fn names_parse_back() {
        for role in [
            Role::System,
            Role::Developer,
            Role::User,
            Role::Assistant,
            Role::Tool,
        ] {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        for ch in Channel::ALL {
            assert_eq!(ch.as_str().parse::<Channel>(), Ok(ch));
        }
        let err = "thoughts".parse::<Channel>().expect_err("unknown");
        assert!(err.to_string().contains("thoughts"));
    }

    #[test]
    fn constructors_build_the_documented_headers() {
        let call = Message::tool_call("bash", r#"{"command":"ls"}"#);
        assert!(call.is_tool_call());
        assert_eq!(
            call.content_type.as_ref().map(|c| c.to_string()).as_deref(),
            Some("<|constrain|>json")
        );
        let result = Message::tool_result("bash", "a.txt");
        assert_eq!(result.author.to_string(), "functions.bash");
        assert_eq!(result.author.role(), Role::Tool);
        assert!(!result.is_tool_call());
        let json = serde_json::to_string(&result).expect("serializable");
        let back: Message = serde_json::from_str(&json).expect("round trip");
        assert_eq!(back, result);
    }
}
