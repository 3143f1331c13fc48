//! Build facts for `kchat --version`, recorded by `build.rs`.
