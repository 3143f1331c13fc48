//! Parsing a message header (the tokens between `<|start|>` and
//! `<|message|>`): author, recipient before or after the channel, channel,
//! content type. Also salvages a header that never reached `<|message|>`
//! (best-effort header, the rest as content).

use super::message::{Author, Channel, ContentType, Recipient, Role};
use super::parser::ParseWarning;
use super::tokens::SpecialToken;

/// A parsed message header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Who writes the message.
    pub author: Author,
    /// Where it goes (`to=…`).
    pub recipient: Option<Recipient>,
    /// The channel; `None` when missing or unknown (then a warning says so).
    pub channel: Option<Channel>,
    /// The content type (`<|constrain|>json`, or a bare word).
    pub content_type: Option<ContentType>,
}

impl Header {
    /// A header with only an author.
    pub fn new(author: Author) -> Header {
        Header {
            author,
            recipient: None,
            channel: None,
            content_type: None,
        }
    }
}

/// The pieces of a header as they arrived.
#[derive(Debug, Clone, Default)]
pub(crate) struct HeaderBuf {
    /// The header text with `<|channel|>` / `<|constrain|>` written out.
    raw: String,
    /// Bytes of ordinary tokens not yet forming whole UTF-8 characters.
    pending: Vec<u8>,
    /// Where the special tokens sit in `raw`.
    marks: Vec<(usize, SpecialToken)>,
}

impl HeaderBuf {
    pub(crate) fn is_empty(&self) -> bool {
        self.raw.is_empty() && self.pending.is_empty()
    }

    /// Bytes of header text so far.
    pub(crate) fn len(&self) -> usize {
        self.raw.len() + self.pending.len()
    }

    pub(crate) fn push_bytes(&mut self, bytes: &[u8]) {
        self.pending.extend_from_slice(bytes);
        let complete = complete_prefix_len(&self.pending);
        let done: Vec<u8> = self.pending.drain(..complete).collect();
        self.raw.push_str(&String::from_utf8_lossy(&done));
    }

    pub(crate) fn push_mark(&mut self, token: SpecialToken) {
        self.flush_pending();
        self.marks.push((self.raw.len(), token));
        self.raw.push_str(token.as_str());
    }

    /// Takes the incomplete UTF-8 tail (for content that continues the header).
    pub(crate) fn take_pending(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.pending)
    }

    fn flush_pending(&mut self) {
        if !self.pending.is_empty() {
            let bytes = std::mem::take(&mut self.pending);
            self.raw.push_str(&String::from_utf8_lossy(&bytes));
        }
    }

    fn lex(&self) -> Vec<(usize, Lexeme)> {
        let mut out = Vec::new();
        let mut start = 0;
        let mut chunks: Vec<(usize, usize)> = Vec::new();
        for &(at, token) in &self.marks {
            chunks.push((start, at));
            out.push((at, Lexeme::Mark(token)));
            start = at + token.as_str().len();
        }
        chunks.push((start, self.raw.len()));
        for (from, to) in chunks {
            let text = &self.raw[from..to];
            let mut offset = 0;
            for word in text.split_whitespace() {
                let at = offset + text[offset..].find(word).unwrap_or(0);
                out.push((from + at, Lexeme::Word(word.to_string())));
                offset = at + word.len();
            }
        }
        out.sort_by_key(|(at, _)| *at);
        out
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Lexeme {
    Word(String),
    Mark(SpecialToken),
}

/// How a header ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HeaderEnd {
    /// By `<|message|>`: everything in it is header.
    Complete,
    /// Without `<|message|>`: the first thing that is not header is content.
    Salvage,
}

/// Parses `buf`; `role` is the role already given by the prompt
/// (`<|start|>assistant`), if any. Returns the header and, for
/// [`HeaderEnd::Salvage`], the text that is content.
pub(crate) fn parse_header(
    buf: &mut HeaderBuf,
    role: Option<Role>,
    end: HeaderEnd,
    warnings: &mut Vec<ParseWarning>,
) -> (Header, String) {
    // A salvaged header keeps an incomplete character for the content that follows.
    if end == HeaderEnd::Complete {
        buf.flush_pending();
    }
    let lexemes = buf.lex();
    let mut i = 0;
    let word_at = |i: usize| match lexemes.get(i) {
        Some((_, Lexeme::Word(w))) => Some(w.as_str()),
        _ => None,
    };

    let author = match role {
        Some(role) => {
            if word_at(0) == Some(role.as_str()) {
                i = 1;
            }
            Author::from_role(role)
        }
        None => match word_at(0) {
            Some(w) => match w.parse::<Role>() {
                Ok(role) => {
                    i = 1;
                    Author::from_role(role)
                }
                Err(_) if end == HeaderEnd::Complete && !w.starts_with("to=") => {
                    i = 1;
                    Author::Tool(
                        w.parse()
                            .unwrap_or_else(|_| Recipient::Other(w.to_string())),
                    )
                }
                Err(_) => {
                    warnings.push(ParseWarning::MissingRole);
                    Author::Assistant
                }
            },
            None => {
                warnings.push(ParseWarning::MissingRole);
                Author::Assistant
            }
        },
    };

    let mut header = Header::new(author);
    let mut bare: Vec<&str> = Vec::new();
    let mut extra: Vec<String> = Vec::new();
    while i < lexemes.len() {
        match &lexemes[i].1 {
            Lexeme::Mark(SpecialToken::Channel) if header.channel.is_none() => {
                match word_at(i + 1) {
                    Some(name) => {
                        i += 1;
                        match name.parse::<Channel>() {
                            Ok(channel) => header.channel = Some(channel),
                            Err(_) => warnings.push(ParseWarning::UnknownChannel(name.to_string())),
                        }
                    }
                    None => warnings.push(ParseWarning::UnknownChannel(String::new())),
                }
            }
            Lexeme::Mark(SpecialToken::Constrain) if header.content_type.is_none() => {
                let format = word_at(i + 1).unwrap_or_default();
                if !format.is_empty() {
                    i += 1;
                }
                header.content_type = Some(ContentType::Constrained(format.to_string()));
            }
            Lexeme::Word(w) if w.starts_with("to=") && header.recipient.is_none() => {
                match w["to=".len()..].parse::<Recipient>() {
                    Ok(r) => header.recipient = Some(r),
                    Err(_) => extra.push(w.clone()),
                }
            }
            _ if end == HeaderEnd::Salvage => break,
            Lexeme::Word(w) => bare.push(w),
            Lexeme::Mark(token) => extra.push(token.as_str().to_string()),
        }
        i += 1;
    }

    // Bare words, as openai-harmony reads them: a lone word is the recipient;
    // otherwise the last is the content type and the one before the recipient.
    if let Some(last) = bare.pop() {
        if bare.is_empty() && header.recipient.is_none() && header.content_type.is_none() {
            header.recipient = last.parse().ok();
        } else if header.content_type.is_none() {
            header.content_type = Some(ContentType::Plain(last.to_string()));
            if let Some(before) = bare.pop() {
                match before.strip_prefix("to=").unwrap_or(before).parse() {
                    Ok(r) if header.recipient.is_none() => header.recipient = Some(r),
                    _ => bare.push(before),
                }
            }
        } else {
            bare.push(last);
        }
    }
    extra.extend(bare.iter().map(|w| w.to_string()));
    if !extra.is_empty() {
        warnings.push(ParseWarning::UnexpectedHeaderText(extra.join(" ")));
    }

    let content = match (end, lexemes.get(i)) {
        (HeaderEnd::Salvage, Some((at, _))) => buf.raw[*at..].to_string(),
        _ => String::new(),
    };
    (header, content)
}

/// The length of the longest prefix of `bytes` that does not end inside an
/// incomplete UTF-8 sequence (invalid bytes count as complete).
pub(crate) fn complete_prefix_len(bytes: &[u8]) -> usize {
    match std::str::from_utf8(bytes) {
        Ok(_) => bytes.len(),
        Err(e) => match e.error_len() {
            Some(_) => {
                let after = e.valid_up_to() + e.error_len().unwrap_or(1);
                after + complete_prefix_len(&bytes[after..])
            }
            None => e.valid_up_to(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buf(parts: &[Result<&str, SpecialToken>]) -> HeaderBuf {
        let mut b = HeaderBuf::default();
        for p in parts {
            match p {
                Ok(text) => b.push_bytes(text.as_bytes()),
                Err(t) => b.push_mark(*t),
            }
        }
        b
    }

    fn parse(
        parts: &[Result<&str, SpecialToken>],
        role: Option<Role>,
    ) -> (Header, Vec<ParseWarning>) {
        let mut w = Vec::new();
        let (h, content) = parse_header(&mut buf(parts), role, HeaderEnd::Complete, &mut w);
        assert_eq!(content, "");
        (h, w)
    }

    const CH: SpecialToken = SpecialToken::Channel;
    const CO: SpecialToken = SpecialToken::Constrain;

    #[test]
    fn recipient_before_or_after_channel() {
        let want = Header {
            author: Author::Assistant,
            recipient: Some(Recipient::function("bash")),
            channel: Some(Channel::Commentary),
            content_type: Some(ContentType::json()),
        };
        let (a, wa) = parse(
            &[
                Ok("assistant to=functions.bash"),
                Err(CH),
                Ok("commentary "),
                Err(CO),
                Ok("json"),
            ],
            None,
        );
        let (b, wb) = parse(
            &[
                Ok("assistant"),
                Err(CH),
                Ok("commentary to=functions.bash "),
                Err(CO),
                Ok("json"),
            ],
            None,
        );
        let (c, wc) = parse(
            &[
                Err(CH),
                Ok("commentary to=functions.bash"),
                Err(CO),
                Ok("json"),
            ],
            Some(Role::Assistant),
        );
        assert_eq!((a, b, c.clone()), (want.clone(), want.clone(), want));
        assert!(wa.is_empty() && wb.is_empty() && wc.is_empty());
    }

    #[test]
    fn tool_author_and_bare_words() {
        let (h, w) = parse(
            &[Ok("functions.bash to=assistant"), Err(CH), Ok("commentary")],
            None,
        );
        assert_eq!(h.author, Author::Tool(Recipient::function("bash")));
        assert_eq!(h.recipient, Some(Recipient::Assistant));
        assert!(w.is_empty());
        let (h, _) = parse(
            &[Ok(" to=functions.x"), Err(CH), Ok("commentary json")],
            Some(Role::Assistant),
        );
        assert_eq!(h.content_type, Some(ContentType::Plain("json".into())));
        assert_eq!(h.recipient, Some(Recipient::function("x")));
        let (h, w) = parse(&[Ok("assistant a b c")], None);
        assert_eq!(h.content_type, Some(ContentType::Plain("c".into())));
        assert_eq!(h.recipient, Some(Recipient::Other("b".into())));
        assert_eq!(w, [ParseWarning::UnexpectedHeaderText("a".into())]);
    }

    #[test]
    fn unknown_channel_warns() {
        let (h, w) = parse(&[Ok("assistant"), Err(CH), Ok("thoughts")], None);
        assert_eq!(h.channel, None);
        assert_eq!(w, [ParseWarning::UnknownChannel("thoughts".into())]);
    }

    #[test]
    fn salvage_keeps_the_text() {
        let mut w = Vec::new();
        let mut b = buf(&[Ok("assistant"), Err(CH), Ok("final Hello,\n  world")]);
        let (h, content) = parse_header(&mut b, None, HeaderEnd::Salvage, &mut w);
        assert_eq!(h.channel, Some(Channel::Final));
        assert_eq!(content, "Hello,\n  world");
        assert!(w.is_empty());
        let mut b = buf(&[Ok("Hello there")]);
        let (h, content) = parse_header(&mut b, None, HeaderEnd::Salvage, &mut w);
        assert_eq!(h.author, Author::Assistant);
        assert_eq!(content, "Hello there");
        assert_eq!(w, [ParseWarning::MissingRole]);
    }

    #[test]
    fn incomplete_utf8() {
        assert_eq!(complete_prefix_len("é".as_bytes()), 2);
        assert_eq!(complete_prefix_len(&"é".as_bytes()[..1]), 0);
        assert_eq!(complete_prefix_len(&[b'a', 0xff, b'b', 0xe2, 0x82]), 3);
    }
}
