//! The harmony chat format of gpt-oss: typed conversations, the renderer
//! (conversation → tokens) and the streaming parser (tokens → events).
