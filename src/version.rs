//! Build facts for `kchat --version`, recorded by `build.rs`, plus the
//! version of the ggml library actually linked (which, with dynamic
//! linking, is only known at run time).

use crate::ggml;

/// kchat's own version.
pub const KCHAT: &str = env!("CARGO_PKG_VERSION");
/// Enabled cargo features (`cuda`, `dynamic-link`) or `none`.
pub const FEATURES: &str = env!("KCHAT_BUILD_FEATURES");
/// CPU features the build targets (e.g. `avx2,fma,f16c`).
pub const CPU_FEATURES: &str = env!("KCHAT_BUILD_CPU_FEATURES");
/// Target triple.
pub const TARGET: &str = env!("KCHAT_BUILD_TARGET");
/// Cargo profile (`release` or `debug`).
pub const PROFILE: &str = env!("KCHAT_BUILD_PROFILE");
/// The pinned crate that compiles ggml.
pub const CARRIER: &str = env!("KCHAT_BUILD_CARRIER");

/// The long `--version` text: one fact per line.
pub fn long_version() -> String {
    let devices: Vec<String> = ggml::Device::all().iter().map(|d| d.name()).collect();
    format!(
        "{KCHAT}\nggml:          {} (commit {}, from {CARRIER})\nfeatures:      {FEATURES}\ncpu features:  {CPU_FEATURES}\ntarget:        {TARGET} ({PROFILE})\ndevices:       {}",
        ggml::version(),
        ggml::commit(),
        if devices.is_empty() { "none".to_string() } else { devices.join(", ") },
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn long_version_names_ggml_and_cpu() {
        let v = super::long_version();
        assert!(v.starts_with(super::KCHAT));
        assert!(v.contains("ggml:          0."), "{v}");
        assert!(v.contains("CPU"), "{v}");
    }
}
