//! The chat's turn logic on the real engine and the tiny model: each turn
//! evaluates only the tokens past the longest prefix already in the KV cache
//! (counted by the session itself), edits recompute from the first changed
//! token, and a full context drops whole old exchanges instead of failing.

mod common;

use kchat::chat::{Chat, TurnEnd};
use kchat::engine::{EngineOptions, SamplerConfig, Session};
use kchat::gguf::GgufModel;
use kchat::harmony::{Conversation, Persona, Role};
use kchat::model::Model;
use kchat::tokenizer::Tokenizer;

fn opts(n_ctx: u32) -> EngineOptions {
    EngineOptions {
        n_ctx,
        n_threads: 2,
        ..EngineOptions::default()
    }
}

/// Tokens the engine evaluated so far (batches and single steps).
fn evaluated(s: &Session<'_, '_>) -> u64 {
    let st = s.stats();
    st.prefill_tokens + st.decode_tokens
}

fn common_prefix(a: &[u32], b: &[u32]) -> usize {
    a.iter()
        .zip(b)
        .take_while(|(x, y)| x == y)
        .count()
        .min(b.len() - 1)
}

/// Runs `f` on a greedy chat over the tiny model with context `n_ctx`.
fn with_chat(n_ctx: u32, conversation: Conversation, f: impl FnOnce(&mut Chat<'_, '_, '_>)) {
    let gguf = GgufModel::open(common::tiny_model()).expect("open");
    let tok = Tokenizer::from_gguf(|k| gguf.get(k)).expect("tokenizer");
    let model = Model::load(&gguf, &opts(n_ctx), &mut |_, _| {}).expect("load");
    let mut session = Session::new(&model).expect("session");
    let mut chat = Chat::new(&mut session, &tok, SamplerConfig::greedy(), conversation);
    f(&mut chat);
}

#[test]
fn each_turn_prefills_only_what_the_cache_lacks() {
    with_chat(4096, Conversation::new(), |chat| {
        chat.max_tokens = Some(8);
        let mut previous_prompt = 0;
        for (k, msg) in ["Hello there", "And a second message", "A third one"]
            .into_iter()
            .enumerate()
        {
            let history = chat.session().history().to_vec();
            let before = evaluated(chat.session());
            chat.conversation.push(kchat::harmony::Message::user(msg));
            let prompt = chat.prompt_tokens();
            chat.conversation.messages.pop();
            let mut text = String::new();
            let stats = chat
                .turn(msg, &mut |ev| {
                    if let kchat::chat::TurnEvent::Text(s) = ev {
                        text.push_str(&s);
                    }
                })
                .expect("turn");
            let expected_reuse = if history.is_empty() {
                0
            } else {
                common_prefix(&history, &prompt)
            };
            assert_eq!(stats.reused, expected_reuse, "turn {k}");
            assert_eq!(stats.prefilled, prompt.len() - expected_reuse, "turn {k}");
            assert_eq!(stats.generated, 8, "turn {k}");
            assert_eq!(stats.end, TurnEnd::Limit);
            // The engine saw the new prompt tokens and the reply, nothing more.
            let sent = evaluated(chat.session()) - before;
            assert_eq!(sent, (stats.prefilled + stats.generated) as u64, "turn {k}");
            if k > 0 {
                // The earlier turns' prompt stays cached.
                assert!(stats.reused >= previous_prompt - 1, "turn {k}: {stats:?}");
                assert!(stats.prefilled < prompt.len() / 2, "turn {k}: {stats:?}");
            }
            previous_prompt = prompt.len();
            assert!(chat
                .conversation
                .messages
                .iter()
                .any(|m| m.author.role() == Role::User));
        }
    });
}

#[test]
fn a_persona_switch_recomputes_from_the_first_changed_token() {
    with_chat(
        4096,
        Conversation::new().with_persona(Persona::LawfulGood),
        |chat| {
            chat.max_tokens = Some(4);
            chat.turn("Hi", &mut |_| {}).expect("turn 1");
            let history = chat.session().history().to_vec();
            chat.conversation.instructions = Some(Persona::LawfulEvil.instructions());
            chat.conversation
                .push(kchat::harmony::Message::user("Who are you?"));
            let prompt = chat.prompt_tokens();
            chat.conversation.messages.pop();
            let changed = common_prefix(&history, &prompt);
            let stats = chat.turn("Who are you?", &mut |_| {}).expect("turn 2");
            assert_eq!(stats.reused, changed);
            assert!(changed > 0, "the system message stays cached");
            assert_eq!(stats.prefilled, prompt.len() - changed);
        },
    );
}

#[test]
fn a_full_context_drops_whole_old_exchanges() {
    with_chat(512, Conversation::new(), |chat| {
        chat.max_tokens = Some(16);
        let long = "word ".repeat(40);
        let mut dropped = 0;
        for k in 0..12 {
            let stats = chat
                .turn(&format!("{k} {long}"), &mut |_| {})
                .expect("turn");
            dropped += stats.dropped_exchanges;
            assert!(chat.session().history().len() <= 512);
            let first_user = chat
                .conversation
                .messages
                .iter()
                .position(|m| m.author.role() == Role::User);
            assert_eq!(first_user, Some(0), "an exchange is dropped whole");
        }
        assert!(dropped > 0, "12 turns of ~60 tokens overflow 512");
        let last = chat
            .conversation
            .messages
            .iter()
            .rev()
            .find(|m| m.author.role() == Role::User);
        assert!(last.is_some_and(|m| m.content.starts_with("11 ")));
    });
}
