//! Records build facts for `kchat --version`: the kchat version, the pinned
//! ggml carrier crate, enabled cargo features, the target and the CPU
//! features compiled in (ggml's CPU kernels only use AVX2/AVX-512 when the
//! Rust target has them).

use std::env;
use std::fs;
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=Cargo.lock");

    let features: Vec<String> = env::vars()
        .filter_map(|(k, _)| {
            k.strip_prefix("CARGO_FEATURE_")
                .map(|f| f.to_lowercase().replace('_', "-"))
        })
        .filter(|f| f != "default")
        .collect();
    let cpu: Vec<String> = env::var("CARGO_CFG_TARGET_FEATURE")
        .unwrap_or_default()
        .split(',')
        .filter(|f| {
            matches!(
                *f,
                "sse4.2"
                    | "avx"
                    | "avx2"
                    | "fma"
                    | "f16c"
                    | "bmi2"
                    | "avx512f"
                    | "avx512bw"
                    | "avx512vl"
                    | "avx512vnni"
                    | "avx512bf16"
                    | "avxvnni"
                    | "neon"
                    | "dotprod"
            )
        })
        .map(String::from)
        .collect();
    let carrier = carrier_version(Path::new("Cargo.lock")).unwrap_or_else(|| "unknown".into());

    let list = |v: &[String]| {
        if v.is_empty() {
            "none".to_string()
        } else {
            v.join(",")
        }
    };
    println!("cargo:rustc-env=KCHAT_BUILD_FEATURES={}", list(&features));
    println!("cargo:rustc-env=KCHAT_BUILD_CPU_FEATURES={}", list(&cpu));
    println!(
        "cargo:rustc-env=KCHAT_BUILD_TARGET={}",
        env::var("TARGET").unwrap_or_default()
    );
    println!(
        "cargo:rustc-env=KCHAT_BUILD_PROFILE={}",
        env::var("PROFILE").unwrap_or_default()
    );
    println!("cargo:rustc-env=KCHAT_BUILD_CARRIER=llama-cpp-sys-2 {carrier}");
}

/// The locked version of the ggml carrier crate.
fn carrier_version(lock: &Path) -> Option<String> {
    let text = fs::read_to_string(lock).ok()?;
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.trim() == "name = \"llama-cpp-sys-2\"" {
            let v = lines
                .next()?
                .trim()
                .strip_prefix("version = \"")?
                .strip_suffix('"')?;
            return Some(v.to_string());
        }
    }
    None
}
