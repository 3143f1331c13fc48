//! Oracle setup: openai-harmony loaded offline (vocabulary from tiktoken-rs's
//! `assets/o200k_base.tiktoken` through `TIKTOKEN_ENCODINGS_BASE`), and
//! conversions between its types and kchat's.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use kchat::harmony::{
    Author, Channel, ContentType, Conversation, Message, Recipient, Role, Tiktoken,
};
use openai_harmony::chat as oh;
use openai_harmony::{load_harmony_encoding, HarmonyEncoding, HarmonyEncodingName};

/// kchat's encoder and vocabulary: tiktoken-rs's o200k_harmony.
pub fn tiktoken() -> Tiktoken<'static> {
    Tiktoken(tiktoken_rs::o200k_harmony_singleton())
}

/// openai-harmony's gpt-oss encoding, loaded once, offline.
pub fn harmony() -> &'static HarmonyEncoding {
    static ENCODING: OnceLock<HarmonyEncoding> = OnceLock::new();
    ENCODING.get_or_init(|| {
        let dir = vocab_dir();
        // Set once, before openai-harmony reads it; it then checks the file's SHA-256.
        std::env::set_var("TIKTOKEN_ENCODINGS_BASE", &dir);
        load_harmony_encoding(HarmonyEncodingName::HarmonyGptOss)
            .expect("openai-harmony loads o200k_base.tiktoken offline")
    })
}

/// A directory holding `o200k_base.tiktoken`: tiktoken-rs's own asset in the
/// cargo registry, or else the same file rebuilt from tiktoken-rs's ranks.
fn vocab_dir() -> PathBuf {
    if let Some(dir) = registry_assets() {
        return dir;
    }
    let dir = std::env::temp_dir().join("kchat-o200k-harmony");
    let path = dir.join("o200k_base.tiktoken");
    if path.is_file() {
        return dir; // openai-harmony checks its SHA-256 anyway
    }
    std::fs::create_dir_all(&dir).expect("temp dir");
    let bpe = tiktoken_rs::o200k_harmony_singleton();
    let mut file = String::new();
    for rank in 0..199_998u32 {
        let bytes = bpe
            .decode_bytes(&[rank])
            .expect("every rank below 199998 is ordinary");
        file.push_str(&base64(&bytes));
        file.push_str(&format!(" {rank}\n"));
    }
    // Written aside then renamed, so a concurrent test process never reads half a file.
    let part = dir.join(format!("o200k_base.tiktoken.{}", std::process::id()));
    std::fs::write(&part, file).expect("write vocab");
    std::fs::rename(&part, &path).expect("rename vocab");
    dir
}

fn registry_assets() -> Option<PathBuf> {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))?;
    let src = cargo_home.join("registry").join("src");
    for index in std::fs::read_dir(src).ok()?.flatten() {
        let dir = index.path().join("tiktoken-rs-0.12.1").join("assets");
        if dir.join("o200k_base.tiktoken").is_file() {
            return Some(dir);
        }
    }
    None
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | (u32::from(b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn base64_matches_the_asset_format() {
    assert_eq!(base64(b"!"), "IQ==");
    assert_eq!(base64(b"ab"), "YWI=");
    assert_eq!(base64(b"abc"), "YWJj");
}

/// The harmony form of a kchat message.
pub fn to_harmony_message(m: &Message) -> oh::Message {
    let author = match &m.author {
        Author::Tool(address) => oh::Author::new(oh::Role::Tool, address.to_string()),
        a => oh::Author::from(harmony_role(a.role())),
    };
    let mut out = oh::Message::from_author_and_content(author, m.content.clone());
    if let Some(r) = &m.recipient {
        out = out.with_recipient(r.to_string());
    }
    if let Some(c) = m.channel {
        out = out.with_channel(c.as_str());
    }
    if let Some(ct) = &m.content_type {
        out = out.with_content_type(ct.to_string());
    }
    out
}

fn harmony_role(role: Role) -> oh::Role {
    match role {
        Role::System => oh::Role::System,
        Role::Developer => oh::Role::Developer,
        Role::User => oh::Role::User,
        Role::Assistant => oh::Role::Assistant,
        Role::Tool => oh::Role::Tool,
    }
}

/// The harmony form of a kchat conversation, with `messages` in place of its
/// messages (e.g. only the rendered ones).
pub fn to_harmony<'a>(
    conv: &Conversation,
    messages: impl IntoIterator<Item = &'a Message>,
) -> Vec<oh::Message> {
    let effort = match conv.system.reasoning_effort {
        kchat::harmony::ReasoningEffort::Low => oh::ReasoningEffort::Low,
        kchat::harmony::ReasoningEffort::Medium => oh::ReasoningEffort::Medium,
        kchat::harmony::ReasoningEffort::High => oh::ReasoningEffort::High,
    };
    let mut system = oh::SystemContent::new()
        .with_model_identity(conv.system.model_identity.clone())
        .with_reasoning_effort(effort);
    system.knowledge_cutoff = conv.system.knowledge_cutoff.map(|c| c.to_string());
    if let Some(date) = conv.system.conversation_start_date {
        system = system.with_conversation_start_date(date.to_string());
    }
    let mut out = vec![oh::Message::from_role_and_content(oh::Role::System, system)];
    if conv.instructions.is_some() || !conv.tools.is_empty() {
        let mut dev = oh::DeveloperContent::new();
        if let Some(i) = &conv.instructions {
            dev = dev.with_instructions(i.clone());
        }
        if !conv.tools.is_empty() {
            let tools = conv
                .tools
                .iter()
                .map(|t| {
                    let params = (!t.parameters.is_null()).then(|| t.parameters.clone());
                    oh::ToolDescription::new(t.name.clone(), t.description.clone(), params)
                })
                .collect();
            dev = dev.with_function_tools(tools);
        }
        out.push(oh::Message::from_role_and_content(oh::Role::Developer, dev));
    }
    out.extend(messages.into_iter().map(to_harmony_message));
    out
}

/// The kchat form of a message harmony parsed.
pub fn from_harmony(m: &oh::Message) -> Message {
    let text: String = m
        .content
        .iter()
        .map(|c| match c {
            oh::Content::Text(t) => t.text.clone(),
            other => panic!("parsed messages hold text only, got {other:?}"),
        })
        .collect();
    let author = match (&m.author.role, &m.author.name) {
        (oh::Role::Tool, Some(name)) => Author::Tool(name.parse().expect("tool address")),
        (oh::Role::Tool, None) => Author::from_role(Role::Tool),
        (role, _) => Author::from_role(role.as_str().parse().expect("role")),
    };
    Message {
        author,
        recipient: m
            .recipient
            .as_deref()
            .map(|r| r.parse::<Recipient>().expect("recipient")),
        channel: m
            .channel
            .as_deref()
            .map(|c| c.parse::<Channel>().expect("channel")),
        content_type: m
            .content_type
            .as_deref()
            .map(|ct| match ct.strip_prefix("<|constrain|>") {
                Some(format) => ContentType::Constrained(format.to_string()),
                None => ContentType::Plain(ct.to_string()),
            }),
        content: text,
    }
}
