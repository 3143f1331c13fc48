//! `kchat mkmodel`: synthetic gpt-oss models with seeded random weights, in the
//! layout of the user's real file, for tests and benchmarks.

pub mod vocab;
